//! CloudWatch: the service's alarms (tagged) and its dashboard (untaggable; it
//! carries our name).

use std::collections::BTreeMap;

use agentctl_core::model::{addr, Address, AlarmSpec, DashboardSpec, Kind, Resource, Spec};
use agentctl_core::plan::LiveResource;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StandardUnit, Statistic, Tag};

use super::{outputs, tag_delta, Outputs};
use crate::error::{sdk, Error, Meaning};
use crate::Aws;

/// The alarm keys agentctl may create (`DEPLOYMENT-key`).
pub(crate) const ALARM_KEYS: [&str; 5] =
    ["cpu-high", "memory-high", "tasks-below-desired", "agent-saturated", "agent-not-running"];

pub(crate) async fn read(
    aws: &Aws,
    deployment: &str,
    dashboard_name: &str,
) -> Result<BTreeMap<Address, LiveResource>, Error> {
    let c = &aws.cloudwatch;
    let names: Vec<String> = ALARM_KEYS.iter().map(|k| format!("{deployment}-{k}")).collect();
    let (alarms, dashboard) = tokio::join!(
        c.describe_alarms().set_alarm_names(Some(names)).send(),
        c.get_dashboard().dashboard_name(dashboard_name).send(),
    );
    let alarms = alarms.map_err(sdk("reading alarms"))?;
    let mut out = BTreeMap::new();
    let tagged = futures::future::try_join_all(alarms.metric_alarms().iter().map(|a| {
        let c = c.clone();
        async move {
            let arn = a.alarm_arn().unwrap_or_default();
            let tags = c
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(sdk(format!("reading tags of alarm {arn}")))?;
            let tags: BTreeMap<String, String> = tags
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()))
                .collect();
            Ok::<_, Error>((a.clone(), tags))
        }
    }))
    .await?;
    for (a, tags) in tagged {
        let name = a.alarm_name().unwrap_or_default();
        let Some(key) = ALARM_KEYS.iter().find(|k| name == format!("{deployment}-{k}")) else { continue };
        let mut actions: Vec<String> = a.alarm_actions().to_vec();
        actions.sort();
        let spec = AlarmSpec {
            description: a.alarm_description().unwrap_or_default().to_owned(),
            namespace: a.namespace().unwrap_or_default().to_owned(),
            metric_name: a.metric_name().unwrap_or_default().to_owned(),
            dimensions: a
                .dimensions()
                .iter()
                .map(|d| (d.name().unwrap_or_default().to_owned(), d.value().unwrap_or_default().to_owned()))
                .collect(),
            statistic: a.statistic().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            comparison: a.comparison_operator().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            threshold: a.threshold().unwrap_or(0.0),
            period: a.period().unwrap_or(0) as u32,
            evaluation_periods: a.evaluation_periods().unwrap_or(0) as u32,
            treat_missing_data: a.treat_missing_data().unwrap_or("missing").to_owned(),
            actions,
        };
        let arn = a.alarm_arn().unwrap_or_default();
        out.insert(
            Address::new(Kind::Alarm, key),
            LiveResource {
                id: name.to_owned(),
                outputs: outputs(&[("arn", arn), ("name", name)]),
                tags,
                spec: Spec::Alarm(spec),
                unreported: vec![],
            },
        );
    }
    match dashboard.map_err(sdk(format!("reading dashboard {dashboard_name}"))) {
        Ok(d) => {
            let body = d.dashboard_body().and_then(|b| serde_json::from_str(b).ok()).unwrap_or(serde_json::Value::Null);
            out.insert(
                addr::DASHBOARD,
                LiveResource {
                    id: dashboard_name.to_owned(),
                    outputs: outputs(&[("name", dashboard_name)]),
                    tags: BTreeMap::new(),
                    spec: Spec::Dashboard(DashboardSpec { body }),
                    unreported: vec![],
                },
            );
        }
        Err(e) if e.is(Meaning::NotFound) => {}
        Err(e) => return Err(e),
    }
    Ok(out)
}

pub(crate) async fn put(aws: &Aws, r: &Resource, live: Option<&LiveResource>) -> Result<Outputs, Error> {
    let c = &aws.cloudwatch;
    match &r.spec {
        Spec::Alarm(s) => {
            let mut req = c
                .put_metric_alarm()
                .alarm_name(&r.name)
                .alarm_description(&s.description)
                .namespace(&s.namespace)
                .metric_name(&s.metric_name)
                .statistic(Statistic::from(s.statistic.as_str()))
                .comparison_operator(ComparisonOperator::from(s.comparison.as_str()))
                .threshold(s.threshold)
                .period(s.period as i32)
                .evaluation_periods(s.evaluation_periods as i32)
                .treat_missing_data(&s.treat_missing_data)
                .set_alarm_actions(Some(s.actions.clone()))
                .set_ok_actions(Some(s.actions.clone()));
            if s.metric_name.ends_with("Utilization") {
                req = req.unit(StandardUnit::Percent);
            }
            for (k, v) in &s.dimensions {
                req = req.dimensions(Dimension::builder().name(k).value(v).build());
            }
            // Tags given here apply only when the alarm is new.
            if live.is_none() {
                req = req.set_tags(Some(r.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()));
            }
            req.send().await.map_err(sdk(format!("writing alarm {}", r.name)))?;
            if let Some(l) = live {
                let arn = l.outputs.get("arn").cloned().unwrap_or_default();
                let (set, unset) = tag_delta(&l.tags, &r.tags);
                if !set.is_empty() {
                    let t = set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
                    c.tag_resource()
                        .resource_arn(&arn)
                        .set_tags(Some(t))
                        .send()
                        .await
                        .map_err(sdk(format!("tagging alarm {}", r.name)))?;
                }
                if !unset.is_empty() {
                    c.untag_resource()
                        .resource_arn(&arn)
                        .set_tag_keys(Some(unset))
                        .send()
                        .await
                        .map_err(sdk(format!("untagging alarm {}", r.name)))?;
                }
            }
        }
        Spec::Dashboard(s) => {
            c.put_dashboard()
                .dashboard_name(&r.name)
                .dashboard_body(s.body.to_string())
                .send()
                .await
                .map_err(sdk(format!("writing dashboard {}", r.name)))?;
        }
        other => unreachable!("not a CloudWatch spec: {other:?}"),
    }
    Ok(outputs(&[("name", &r.name)]))
}

pub(crate) async fn delete(aws: &Aws, l: &LiveResource) -> Result<(), Error> {
    let c = &aws.cloudwatch;
    match &l.spec {
        Spec::Alarm(_) => c
            .delete_alarms()
            .alarm_names(&l.id)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk(format!("deleting alarm {}", l.id))),
        Spec::Dashboard(_) => c
            .delete_dashboards()
            .dashboard_names(&l.id)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk(format!("deleting dashboard {}", l.id))),
        other => unreachable!("not a CloudWatch spec: {other:?}"),
    }
}

/// `(alarm name, state)` of the deployment's alarms, for `status`.
pub async fn alarm_states(aws: &Aws, deployment: &str) -> Result<Vec<(String, String)>, Error> {
    let names: Vec<String> = ALARM_KEYS.iter().map(|k| format!("{deployment}-{k}")).collect();
    let out =
        aws.cloudwatch.describe_alarms().set_alarm_names(Some(names)).send().await.map_err(sdk("reading alarms"))?;
    Ok(out
        .metric_alarms()
        .iter()
        .map(|a| {
            (
                a.alarm_name().unwrap_or_default().to_owned(),
                a.state_value().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            )
        })
        .collect())
}
