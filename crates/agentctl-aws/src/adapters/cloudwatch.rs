//! CloudWatch: the service's alarms (tagged) and its dashboard (untaggable; it
//! carries our name).

use std::collections::BTreeMap;

use agentctl_core::model::{addr, Address, AlarmSpec, DashboardSpec, Kind, Resource, Spec};
use agentctl_core::names::Names;
use agentctl_core::plan::{Known, LiveResource};
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StandardUnit, Statistic, Tag};

use super::{outputs, tag_delta, Adapter, DeleteOptions, Outputs, ReadContext};
use crate::error::{sdk, Error, Meaning};
use crate::{Aws, Clients};

/// The alarm keys agentctl may create (`DEPLOYMENT-key`).
pub(crate) const ALARM_KEYS: [&str; 5] =
    ["cpu-high", "memory-high", "tasks-below-desired", "agent-saturated", "agent-not-running"];

impl Adapter for AlarmSpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        read_alarms(aws, names).await
    }

    async fn create(&self, aws: &Aws, r: &Resource, _: &Known) -> Result<Outputs, Error> {
        put_alarm(aws, r, self, None).await
    }

    async fn update(
        &self,
        aws: &Aws,
        r: &Resource,
        _: &Self,
        live: &LiveResource,
        _: &Known,
    ) -> Result<Outputs, Error> {
        put_alarm(aws, r, self, Some(live)).await
    }

    async fn delete(aws: &Aws, _: &str, live: &LiveResource, _: &Self, _: DeleteOptions) -> Result<(), Error> {
        aws.cloudwatch
            .delete_alarms()
            .alarm_names(&live.id)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk(format!("deleting alarm {}", live.id)))
    }
}

/// PutMetricAlarm overwrites: create and update are the same call, tags aside.
async fn put_alarm(aws: &Aws, r: &Resource, s: &AlarmSpec, live: Option<&LiveResource>) -> Result<Outputs, Error> {
    let c = &aws.cloudwatch;
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
    Ok(outputs(&[("name", &r.name)]))
}

impl Adapter for DashboardSpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        read_dashboard(aws, names).await
    }

    /// PutDashboard overwrites: create and update are the same call.
    async fn create(&self, aws: &Aws, r: &Resource, _: &Known) -> Result<Outputs, Error> {
        let (c, s) = (&aws.cloudwatch, self);
        c.put_dashboard()
            .dashboard_name(&r.name)
            .dashboard_body(s.body.to_string())
            .send()
            .await
            .map_err(sdk(format!("writing dashboard {}", r.name)))?;
        Ok(outputs(&[("name", &r.name)]))
    }

    async fn update(
        &self,
        aws: &Aws,
        r: &Resource,
        _: &Self,
        _: &LiveResource,
        known: &Known,
    ) -> Result<Outputs, Error> {
        self.create(aws, r, known).await
    }

    async fn delete(aws: &Aws, _: &str, live: &LiveResource, _: &Self, _: DeleteOptions) -> Result<(), Error> {
        aws.cloudwatch
            .delete_dashboards()
            .dashboard_names(&live.id)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk(format!("deleting dashboard {}", live.id)))
    }
}

async fn read_alarms(aws: &Aws, names: &Names) -> Result<Vec<(Address, LiveResource)>, Error> {
    let c = &aws.cloudwatch;
    let alarm_names: Vec<String> = ALARM_KEYS.iter().map(|k| names.keyed(k)).collect();
    let alarms = c.describe_alarms().set_alarm_names(Some(alarm_names)).send().await.map_err(sdk("reading alarms"))?;
    let mut out = Vec::new();
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
        let Some(key) = ALARM_KEYS.iter().find(|k| name == names.keyed(k)) else { continue };
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
        out.push((
            Address::new(Kind::Alarm, key),
            LiveResource {
                id: name.to_owned(),
                outputs: outputs(&[("arn", arn), ("name", name)]),
                tags,
                spec: Spec::Alarm(spec),
                unreported: vec![],
            },
        ));
    }
    Ok(out)
}

async fn read_dashboard(aws: &Aws, names: &Names) -> Result<Vec<(Address, LiveResource)>, Error> {
    let dashboard_name = &names.dashboard;
    let dashboard = aws.cloudwatch.get_dashboard().dashboard_name(dashboard_name).send().await;
    match dashboard.map_err(sdk(format!("reading dashboard {dashboard_name}"))) {
        Ok(d) => {
            let body = d.dashboard_body().and_then(|b| serde_json::from_str(b).ok()).unwrap_or(serde_json::Value::Null);
            Ok(vec![(
                addr::DASHBOARD,
                LiveResource {
                    id: dashboard_name.to_owned(),
                    outputs: outputs(&[("name", dashboard_name)]),
                    tags: BTreeMap::new(),
                    spec: Spec::Dashboard(DashboardSpec { body }),
                    unreported: vec![],
                },
            )])
        }
        Err(e) if e.is(Meaning::NotFound) => Ok(vec![]),
        Err(e) => Err(e),
    }
}

/// `(alarm name, state)` of the deployment's alarms, for `status`.
pub async fn alarm_states(aws: &Clients, deployment: &str) -> Result<Vec<(String, String)>, Error> {
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
