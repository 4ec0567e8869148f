//! `usage`: the service's hourly series in one GetMetricData round trip
//! (more pages only when CloudWatch's answer limit forces them), beside
//! DescribeServices.

use std::collections::BTreeMap;

use agentctl_core::model::EcsServiceView;
use agentctl_core::usage::{Hourly, Metric};
use aws_sdk_cloudwatch::types::{Dimension, Metric as CwMetric, MetricDataQuery, MetricStat, ScanBy};
use aws_smithy_types::DateTime;

use crate::error::{sdk, Error};
use crate::Clients;

/// What was read: the series per hour from `start`, and the service's count.
#[derive(Debug, Clone)]
pub struct Read {
    /// The first hour (seconds since the epoch, on the hour).
    pub start: i64,
    pub hours: usize,
    pub series: BTreeMap<Metric, Hourly>,
    pub desired_count: u32,
}

/// The last `days` full hours of `metrics`, hourly, and the service.
pub async fn read(aws: &Clients, s: &EcsServiceView, days: u32, metrics: &[Metric], now: i64) -> Result<Read, Error> {
    let end = now - now.rem_euclid(3600);
    let hours = days as usize * 24;
    let start = end - 3600 * hours as i64;
    let dimensions = [("ClusterName", &s.cluster), ("ServiceName", &s.service)]
        .map(|(name, value)| Dimension::builder().name(name).value(value.as_str()).build());
    let queries: Vec<MetricDataQuery> = metrics
        .iter()
        .map(|m| {
            let (namespace, name, stat) = m.query();
            let metric = CwMetric::builder()
                .namespace(namespace)
                .metric_name(name)
                .set_dimensions(Some(dimensions.to_vec()))
                .build();
            MetricDataQuery::builder()
                .id(m.id())
                .metric_stat(MetricStat::builder().metric(metric).period(3600).stat(stat).build())
                .return_data(true)
                .build()
        })
        .collect();
    let pages = aws
        .cloudwatch
        .get_metric_data()
        .set_metric_data_queries(Some(queries))
        .start_time(DateTime::from_secs(start))
        .end_time(DateTime::from_secs(end))
        .scan_by(ScanBy::TimestampAscending)
        .into_paginator()
        .send()
        .try_collect();
    let (pages, service) = tokio::join!(pages, crate::rollout::describe(&aws.ecs, &s.cluster, &s.service));
    let pages = pages.map_err(sdk(format!("reading the metrics of {}", s.service)))?;
    let service = service?.ok_or_else(|| {
        Error::NotDeployed(format!("ECS service {} in cluster {} does not exist", s.service, s.cluster))
    })?;
    let mut series: BTreeMap<Metric, Hourly> = metrics.iter().map(|m| (*m, vec![None; hours])).collect();
    for result in pages.iter().flat_map(|p| p.metric_data_results()) {
        let Some(metric) = metrics.iter().find(|m| Some(m.id().as_str()) == result.id()) else { continue };
        let values = series.get_mut(metric).expect("every metric has a series");
        for (at, value) in result.timestamps().iter().zip(result.values()) {
            let hour = (at.secs() - start).div_euclid(3600);
            if let Some(slot) = usize::try_from(hour).ok().and_then(|h| values.get_mut(h)) {
                *slot = Some(*value);
            }
        }
    }
    Ok(Read { start, hours, series, desired_count: service.desired.max(0) as u32 })
}
