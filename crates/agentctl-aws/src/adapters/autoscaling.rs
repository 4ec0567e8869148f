//! Application Auto Scaling: the service's scalable target, its target-tracking
//! policies and scheduled actions. They cannot be tagged: they are ours because
//! they act on our service's resource id.

use std::collections::BTreeMap;

use agentctl_core::model::{
    addr, Address, Kind, Resource, ScalableTargetSpec, ScalingPolicySpec, ScheduledActionSpec, Spec,
};
use agentctl_core::names::Names;
use agentctl_core::plan::{Known, LiveResource};
use aws_sdk_applicationautoscaling::types::{
    CustomizedMetricSpecification, MetricDimension, MetricStatistic, MetricType, PolicyType,
    PredefinedMetricSpecification, ScalableDimension, ScalableTargetAction, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};

use super::{outputs, Adapter, DeleteOptions, Outputs, ReadContext};
use crate::error::{sdk, Error};
use crate::{Aws, Clients};

const NS: ServiceNamespace = ServiceNamespace::Ecs;
const DIM: ScalableDimension = ScalableDimension::EcsServiceDesiredCount;

fn live(id: &str, spec: Spec) -> LiveResource {
    LiveResource {
        id: id.to_owned(),
        outputs: outputs(&[("name", id)]),
        tags: BTreeMap::new(),
        spec,
        unreported: vec![],
    }
}

/// The user-visible key of a policy or action named `DEPLOYMENT-key`.
fn key_of<'a>(deployment: &str, name: &'a str) -> &'a str {
    name.strip_prefix(deployment).and_then(|n| n.strip_prefix('-')).unwrap_or(name)
}

/// The service's scaling, every kind of it (for `status`, which knows no account).
pub(crate) async fn read(aws: &Clients, names: &Names) -> Result<BTreeMap<Address, LiveResource>, Error> {
    let (target, policies, actions) =
        tokio::try_join!(read_target(aws, names), read_policies(aws, names), read_actions(aws, names))?;
    Ok(target.into_iter().chain(policies).chain(actions).collect())
}

impl Adapter for ScalableTargetSpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        read_target(aws, names).await
    }

    /// Register overwrites: create and update are the same call.
    async fn create(&self, aws: &Aws, r: &Resource, _: &Known) -> Result<Outputs, Error> {
        let (c, s) = (&aws.autoscaling, self);
        c.register_scalable_target()
            .service_namespace(NS)
            .resource_id(&s.resource_id)
            .scalable_dimension(DIM)
            .min_capacity(s.min as i32)
            .max_capacity(s.max as i32)
            .send()
            .await
            .map_err(sdk(format!("registering the scalable target of {}", s.resource_id)))?;
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

    async fn delete(aws: &Aws, _: &str, live: &LiveResource, have: &Self, _: DeleteOptions) -> Result<(), Error> {
        aws.autoscaling
            .deregister_scalable_target()
            .service_namespace(NS)
            .resource_id(&have.resource_id)
            .scalable_dimension(DIM)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk(format!("deleting {}", live.id)))
    }
}

impl Adapter for ScalingPolicySpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        read_policies(aws, names).await
    }

    /// Put overwrites: create and update are the same call.
    async fn create(&self, aws: &Aws, r: &Resource, _: &Known) -> Result<Outputs, Error> {
        let (c, s) = (&aws.autoscaling, self);
        let mut cfg = TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(s.target)
            .scale_in_cooldown(s.scale_in_cooldown as i32)
            .scale_out_cooldown(s.scale_out_cooldown as i32);
        cfg = match s.metric.rsplit_once('/') {
            // The agent's own metric, averaged over its tasks.
            Some((namespace, metric)) if !s.metric.starts_with("ECSService") => {
                let (cluster, service) = split_resource_id(&s.resource_id);
                cfg.customized_metric_specification(
                    CustomizedMetricSpecification::builder()
                        .namespace(namespace)
                        .metric_name(metric)
                        .dimensions(
                            MetricDimension::builder().name("ClusterName").value(cluster).build().expect("dimension"),
                        )
                        .dimensions(
                            MetricDimension::builder().name("ServiceName").value(service).build().expect("dimension"),
                        )
                        .statistic(MetricStatistic::Average)
                        .build(),
                )
            }
            _ => cfg.predefined_metric_specification(
                PredefinedMetricSpecification::builder()
                    .predefined_metric_type(MetricType::from(s.metric.as_str()))
                    .build()
                    .expect("metric type"),
            ),
        };
        c.put_scaling_policy()
            .policy_name(&r.name)
            .service_namespace(NS)
            .resource_id(&s.resource_id)
            .scalable_dimension(DIM)
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(cfg.build().expect("target tracking"))
            .send()
            .await
            .map_err(sdk(format!("writing scaling policy {}", r.name)))?;
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

    async fn delete(aws: &Aws, _: &str, live: &LiveResource, have: &Self, _: DeleteOptions) -> Result<(), Error> {
        aws.autoscaling
            .delete_scaling_policy()
            .policy_name(&live.id)
            .service_namespace(NS)
            .resource_id(&have.resource_id)
            .scalable_dimension(DIM)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk(format!("deleting {}", live.id)))
    }
}

impl Adapter for ScheduledActionSpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        read_actions(aws, names).await
    }

    /// Put overwrites: create and update are the same call.
    async fn create(&self, aws: &Aws, r: &Resource, _: &Known) -> Result<Outputs, Error> {
        let (c, s) = (&aws.autoscaling, self);
        c.put_scheduled_action()
            .service_namespace(NS)
            .scheduled_action_name(&r.name)
            .resource_id(&s.resource_id)
            .scalable_dimension(DIM)
            .schedule(&s.schedule)
            .set_timezone(s.timezone.clone())
            .scalable_target_action(
                ScalableTargetAction::builder()
                    .set_min_capacity(s.min.map(|n| n as i32))
                    .set_max_capacity(s.max.map(|n| n as i32))
                    .build(),
            )
            .send()
            .await
            .map_err(sdk(format!("writing scheduled action {}", r.name)))?;
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

    /// One already removed with its target counts as deleted (the caller takes
    /// "not found" as success).
    async fn delete(aws: &Aws, _: &str, live: &LiveResource, have: &Self, _: DeleteOptions) -> Result<(), Error> {
        aws.autoscaling
            .delete_scheduled_action()
            .scheduled_action_name(&live.id)
            .service_namespace(NS)
            .resource_id(&have.resource_id)
            .scalable_dimension(DIM)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk(format!("deleting {}", live.id)))
    }
}

fn split_resource_id(id: &str) -> (&str, &str) {
    let mut parts = id.splitn(3, '/').skip(1);
    (parts.next().unwrap_or_default(), parts.next().unwrap_or_default())
}

/// (min, max) when autoscaling is on for the service.
pub async fn bounds(aws: &Clients, resource_id: &str) -> Result<Option<(u32, u32)>, Error> {
    let out = aws
        .autoscaling
        .describe_scalable_targets()
        .service_namespace(NS)
        .resource_ids(resource_id)
        .send()
        .await
        .map_err(sdk("reading the scalable target"))?;
    Ok(out
        .scalable_targets()
        .iter()
        .find(|t| t.resource_id() == resource_id)
        .map(|t| (t.min_capacity() as u32, t.max_capacity() as u32)))
}

async fn read_target(aws: &Clients, names: &Names) -> Result<Vec<(Address, LiveResource)>, Error> {
    let resource_id = names.scaling_resource_id();
    let targets = aws
        .autoscaling
        .describe_scalable_targets()
        .service_namespace(NS)
        .resource_ids(&resource_id)
        .send()
        .await
        .map_err(sdk("reading the scalable target"))?;
    let found = targets.scalable_targets().iter().find(|t| t.resource_id() == resource_id);
    Ok(found
        .map(|t| {
            let spec = ScalableTargetSpec {
                resource_id: resource_id.clone(),
                min: t.min_capacity() as u32,
                max: t.max_capacity() as u32,
            };
            (addr::SCALABLE_TARGET, live(&resource_id, Spec::ScalableTarget(spec)))
        })
        .into_iter()
        .collect())
}

async fn read_policies(aws: &Clients, names: &Names) -> Result<Vec<(Address, LiveResource)>, Error> {
    let resource_id = names.scaling_resource_id();
    let policies: Vec<_> = aws
        .autoscaling
        .describe_scaling_policies()
        .service_namespace(NS)
        .resource_id(&resource_id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk("reading scaling policies"))?;
    let mut out = Vec::new();
    for p in &policies {
        let Some(cfg) = p.target_tracking_scaling_policy_configuration() else { continue };
        let metric = match (cfg.predefined_metric_specification(), cfg.customized_metric_specification()) {
            (Some(m), _) => m.predefined_metric_type().as_str().to_owned(),
            (None, Some(m)) => {
                format!("{}/{}", m.namespace().unwrap_or_default(), m.metric_name().unwrap_or_default())
            }
            _ => String::new(),
        };
        let spec = ScalingPolicySpec {
            resource_id: resource_id.clone(),
            metric,
            target: cfg.target_value(),
            scale_in_cooldown: cfg.scale_in_cooldown().unwrap_or(0) as u32,
            scale_out_cooldown: cfg.scale_out_cooldown().unwrap_or(0) as u32,
        };
        out.push((
            Address::named(Kind::ScalingPolicy, key_of(&names.deployment, p.policy_name())),
            live(p.policy_name(), Spec::ScalingPolicy(spec)),
        ));
    }
    Ok(out)
}

async fn read_actions(aws: &Clients, names: &Names) -> Result<Vec<(Address, LiveResource)>, Error> {
    let resource_id = names.scaling_resource_id();
    let actions: Vec<_> = aws
        .autoscaling
        .describe_scheduled_actions()
        .service_namespace(NS)
        .resource_id(&resource_id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk("reading scheduled actions"))?;
    Ok(actions
        .iter()
        .map(|a| {
            let target = a.scalable_target_action();
            let spec = ScheduledActionSpec {
                resource_id: resource_id.clone(),
                schedule: a.schedule().to_owned(),
                // No time zone means UTC.
                timezone: a.timezone().map(str::to_owned).filter(|t| t != "UTC"),
                min: target.and_then(|t| t.min_capacity()).map(|n| n as u32),
                max: target.and_then(|t| t.max_capacity()).map(|n| n as u32),
            };
            (
                Address::named(Kind::ScheduledAction, key_of(&names.deployment, a.scheduled_action_name())),
                live(a.scheduled_action_name(), Spec::ScheduledAction(spec)),
            )
        })
        .collect())
}
