//! Day-2 operations on a deployed service: status, tasks, scale, redeploy,
//! rollback, logs. Each starts from the deployment's deterministic names.

use std::time::Duration;

use agentctl_core::model::{EcsServiceView, ServiceRole};
use agentctl_core::names::Names;
use agentctl_core::rollout::{ServiceSnapshot, StoppedTask};
use aws_sdk_ecs::types::{DesiredStatus, TaskDefinition};
use serde::Serialize;

use agentctl_core::protection::{held_message, Protection, UNPROTECT_HINT};

use crate::error::{sdk, Error, Meaning};
use crate::progress::{Event, Progress};
use crate::protection::{self, HeldScope};
use crate::rollout::{self, task_id};
use crate::wait::Backoff;
use crate::Clients;

/// The account of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:...`).
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

fn not_deployed(s: &EcsServiceView) -> Error {
    Error::NotDeployed(format!("ECS service {} in cluster {} does not exist", s.service, s.cluster))
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskInfo {
    pub id: String,
    pub last_status: String,
    pub desired_status: String,
    pub availability_zone: Option<String>,
    pub private_ip: Option<String>,
    pub started_at: Option<i64>,
    pub stopped_at: Option<i64>,
    pub health: Option<String>,
    pub task_definition: String,
    pub started_by: Option<String>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<agentctl_core::rollout::ContainerStop>,
    /// Running tasks: their scale-in protection (`None` when it cannot be read).
    pub protection: Option<Protection>,
    /// Running tasks: the pipelines the guard last logged.
    pub pipelines: Option<u32>,
}

/// Running tasks, or (with `stopped`) those stopped recently (ECS keeps them about an hour).
pub async fn tasks(aws: &Clients, s: &EcsServiceView, stopped: bool) -> Result<Vec<TaskInfo>, Error> {
    let status = if stopped { DesiredStatus::Stopped } else { DesiredStatus::Running };
    let listed = aws.ecs.list_tasks().cluster(&s.cluster).service_name(&s.service).desired_status(status).send().await;
    let arns = match listed.map_err(sdk(format!("listing tasks of {}", s.service))) {
        Ok(out) => out.task_arns().to_vec(),
        // No cluster or service yet: no tasks (status says what is missing).
        Err(e) if e.is(Meaning::NotFound) => vec![],
        Err(e) => return Err(e),
    };
    if arns.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<String> = arns.iter().map(|a| task_id(a)).collect();
    let describe = aws.ecs.describe_tasks().cluster(&s.cluster).set_tasks(Some(arns.clone())).send();
    // Protection and pipelines matter while tasks run; read beside the tasks.
    let protection = async {
        if stopped {
            return None;
        }
        protection::read(&aws.ecs, &s.cluster, &arns)
            .await
            .inspect_err(|e| tracing::debug!("cannot read task protection: {e}"))
            .ok()
    };
    let pipelines = async {
        match (stopped, s.guarded) {
            (false, true) => protection::pipelines(&aws.logs, &s.log_group, &ids).await,
            _ => Default::default(),
        }
    };
    let (out, protection, mut pipelines) = tokio::join!(describe, protection, pipelines);
    let out = out.map_err(sdk("reading tasks"))?;
    let mut tasks: Vec<TaskInfo> = out
        .tasks()
        .iter()
        .map(|t| TaskInfo {
            id: task_id(t.task_arn().unwrap_or_default()),
            last_status: t.last_status().unwrap_or_default().to_owned(),
            desired_status: t.desired_status().unwrap_or_default().to_owned(),
            availability_zone: t.availability_zone().map(str::to_owned),
            private_ip: t
                .attachments()
                .iter()
                .flat_map(|a| a.details())
                .find(|d| d.name() == Some("privateIPv4Address"))
                .and_then(|d| d.value().map(str::to_owned)),
            started_at: t.started_at().map(|d| d.secs()),
            stopped_at: t.stopped_at().map(|d| d.secs()),
            health: t.health_status().map(|h| h.as_str().to_owned()),
            task_definition: t.task_definition_arn().unwrap_or_default().to_owned(),
            started_by: t.started_by().map(str::to_owned),
            stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
            stopped_reason: t.stopped_reason().map(str::to_owned),
            containers: t
                .containers()
                .iter()
                .map(|c| agentctl_core::rollout::ContainerStop {
                    name: c.name().unwrap_or_default().to_owned(),
                    exit_code: c.exit_code(),
                    reason: c.reason().map(str::to_owned),
                })
                .collect(),
            protection: protection.as_ref().and_then(|p| p.get(&task_id(t.task_arn().unwrap_or_default())).copied()),
            pipelines: pipelines.remove(&task_id(t.task_arn().unwrap_or_default())),
        })
        .collect();
    tasks.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(a.id.cmp(&b.id)));
    Ok(tasks)
}

impl TaskInfo {
    pub fn as_stopped(&self) -> StoppedTask {
        StoppedTask {
            task_id: self.id.clone(),
            stop_code: self.stop_code.clone(),
            stopped_reason: self.stopped_reason.clone(),
            containers: self.containers.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub service: ServiceSnapshot,
    pub running_tasks: Vec<TaskInfo>,
    pub autoscaling: Option<Scaling>,
    pub alarms: Vec<AlarmState>,
}

#[derive(Debug, Serialize)]
pub struct Scaling {
    pub min: u32,
    pub max: u32,
    /// (policy, metric, target)
    pub policies: Vec<(String, String, f64)>,
    pub schedules: Vec<ScheduleInfo>,
}

#[derive(Debug, Serialize)]
pub struct ScheduleInfo {
    pub name: String,
    /// When it next runs (seconds since the epoch), where that can be known.
    pub next_run: Option<i64>,
    pub schedule: String,
    pub timezone: Option<String>,
    pub min: Option<u32>,
    pub max: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct AlarmState {
    pub name: String,
    pub state: String,
}

/// The service's status; autoscaling and alarms are the agent's (`names`),
/// shown with the agent only.
pub async fn status(aws: &Clients, names: &Names, s: &EcsServiceView) -> Result<Status, Error> {
    let agent = s.role == ServiceRole::Agent;
    let (snap, running, scaling, alarms) = tokio::try_join!(
        rollout::describe(&aws.ecs, &s.cluster, &s.service),
        tasks(aws, s, false),
        async {
            if agent {
                crate::adapters::autoscaling::read(aws, names).await
            } else {
                Ok(Default::default())
            }
        },
        async {
            if agent {
                crate::adapters::cloudwatch::alarm_states(aws, &names.deployment).await
            } else {
                Ok(Default::default())
            }
        },
    )?;
    let service = snap.ok_or_else(|| not_deployed(s))?;
    let autoscaling = scaling.values().find_map(|l| match &l.spec {
        agentctl_core::model::Spec::ScalableTarget(t) => Some((t.min, t.max)),
        _ => None,
    });
    let autoscaling = autoscaling.map(|(min, max)| Scaling {
        min,
        max,
        policies: scaling
            .values()
            .filter_map(|l| match &l.spec {
                agentctl_core::model::Spec::ScalingPolicy(p) => Some((l.id.clone(), p.metric.clone(), p.target)),
                _ => None,
            })
            .collect(),
        schedules: scaling
            .values()
            .filter_map(|l| match &l.spec {
                agentctl_core::model::Spec::ScheduledAction(a) => Some(ScheduleInfo {
                    name: l.id.clone(),
                    next_run: agentctl_core::schedule::next_run(&a.schedule, a.timezone.as_deref(), chrono::Utc::now())
                        .map(|t| t.timestamp()),
                    schedule: a.schedule.clone(),
                    timezone: a.timezone.clone(),
                    min: a.min,
                    max: a.max,
                }),
                _ => None,
            })
            .collect(),
    });
    let alarms = alarms.into_iter().map(|(name, state)| AlarmState { name, state }).collect();
    Ok(Status { service, running_tasks: running, autoscaling, alarms })
}

/// The PRIMARY deployment in an UpdateService answer: the one this call started.
fn started_deployment(out: Option<&aws_sdk_ecs::types::Service>) -> Result<String, Error> {
    out.and_then(|s| s.deployments().iter().find(|d| d.status() == Some("PRIMARY")))
        .and_then(|d| d.id())
        .map(str::to_owned)
        .ok_or_else(|| Error::aws("updating the ECS service", "ECS did not report the deployment it started"))
}

/// What `scale` started.
#[derive(Debug, Serialize)]
pub struct Scaled {
    pub deployment: String,
    /// Autoscaling bounds found around a count outside them, when the check ran
    /// beside the change (the config has no autoscaling, so none was expected).
    pub outside_bounds: Option<(u32, u32)>,
}

/// Sets the task count. With `autoscaling_expected` (the config has it), the
/// bounds are checked first and a count outside them is refused; without, they
/// are read beside the change (one round trip, not two) and reported.
pub async fn scale(aws: &Clients, s: &EcsServiceView, count: u32, autoscaling_expected: bool) -> Result<Scaled, Error> {
    let resource_id = format!("service/{}/{}", s.cluster, s.service);
    let outside = |bounds: Option<(u32, u32)>| bounds.filter(|(min, max)| count < *min || count > *max);
    let update = || async {
        let out = aws
            .ecs
            .update_service()
            .cluster(&s.cluster)
            .service(&s.service)
            .desired_count(count as i32)
            .send()
            .await
            .map_err(sdk(format!("scaling ECS service {} to {count}", s.service)))?;
        started_deployment(out.service())
    };
    if autoscaling_expected {
        // Autoscaling would undo a count outside its bounds at its next evaluation.
        if let Some((min, max)) = outside(crate::adapters::autoscaling::bounds(aws, &resource_id).await?) {
            return Err(Error::Unsupported(format!(
                "autoscaling keeps {} between {min} and {max} tasks; {count} is outside, and autoscaling would change it back. Change `autoscaling` min/max in the config (or add a schedule) and apply",
                s.service
            )));
        }
        return Ok(Scaled { deployment: update().await?, outside_bounds: None });
    }
    let (bounds, deployment) = tokio::join!(crate::adapters::autoscaling::bounds(aws, &resource_id), update());
    // The count is set either way: a bounds read that failed only loses the warning.
    Ok(Scaled { deployment: deployment?, outside_bounds: outside(bounds.ok().flatten()) })
}

/// Polls until the service runs `count` tasks (or `timeout`), telling
/// `progress` the counts and, while it scales in, which tasks stay protected.
pub async fn wait_running(
    aws: &Clients,
    s: &EcsServiceView,
    count: u32,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<bool, Error> {
    let mut pauses = Backoff::ECS.within(timeout);
    let mut last = None;
    let mut held = None;
    let scope = HeldScope {
        cluster: &s.cluster,
        service: &s.service,
        not_started_by: None,
        guard_log_group: s.guarded.then_some(s.log_group.as_str()),
    };
    loop {
        let snap = rollout::describe(&aws.ecs, &s.cluster, &s.service).await?.ok_or_else(|| not_deployed(s))?;
        if last != Some((snap.running, snap.pending)) {
            last = Some((snap.running, snap.pending));
            let text = format!("{}/{count} running, {} pending", snap.running, snap.pending);
            progress.event(&Event::Message { text });
        }
        if snap.running == count as i32 && snap.pending == 0 {
            return Ok(true);
        }
        if snap.running <= count as i32 {
            held = None;
        } else {
            let now = chrono::Utc::now().timestamp();
            match protection::held_tasks(&aws.ecs, &aws.logs, &scope, now).await {
                Ok(tasks) => {
                    let message = held_message(&tasks, false, now);
                    if let Some(text) = message.as_ref().filter(|m| held.as_ref() != Some(*m)) {
                        progress.event(&Event::Message { text: format!("{text}; {UNPROTECT_HINT}") });
                    }
                    held = message;
                }
                Err(e) => tracing::debug!("cannot read task protection: {e}"),
            }
        }
        if !pauses.pause().await {
            return Ok(false);
        }
    }
}

/// A task definition with its tags (`include=[TAGS]`: no ListTagsForResource).
async fn describe_task_definition(
    aws: &Clients,
    arn_or_family: &str,
) -> Result<(TaskDefinition, Vec<aws_sdk_ecs::types::Tag>), Error> {
    let out = aws
        .ecs
        .describe_task_definition()
        .task_definition(arn_or_family)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(sdk(format!("reading task definition {arn_or_family}")))?;
    let td = out.task_definition().cloned().ok_or_else(|| Error::aws("reading the task definition", "empty answer"))?;
    Ok((td, out.tags().to_vec()))
}

async fn service_snapshot(aws: &Clients, s: &EcsServiceView) -> Result<ServiceSnapshot, Error> {
    rollout::describe(&aws.ecs, &s.cluster, &s.service).await?.ok_or_else(|| not_deployed(s))
}

/// A new revision equal to `td` but for the image of `container`.
async fn register_with_image(
    aws: &Clients,
    td: &TaskDefinition,
    container: &str,
    image: &str,
    tags: Vec<aws_sdk_ecs::types::Tag>,
) -> Result<String, Error> {
    let containers = td
        .container_definitions()
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if c.name() == Some(container) {
                c.image = Some(image.to_owned());
            }
            c
        })
        .collect();
    let out = aws
        .ecs
        .register_task_definition()
        .family(td.family().unwrap_or_default())
        .set_task_role_arn(td.task_role_arn().map(str::to_owned))
        .set_execution_role_arn(td.execution_role_arn().map(str::to_owned))
        .set_network_mode(td.network_mode().cloned())
        .set_container_definitions(Some(containers))
        .set_volumes(Some(td.volumes().to_vec()))
        .set_requires_compatibilities(Some(td.requires_compatibilities().to_vec()))
        .set_cpu(td.cpu().map(str::to_owned))
        .set_memory(td.memory().map(str::to_owned))
        .set_runtime_platform(td.runtime_platform().cloned())
        .set_ephemeral_storage(td.ephemeral_storage().cloned())
        .set_tags(if tags.is_empty() { None } else { Some(tags) })
        .send()
        .await
        .map_err(sdk("registering a task definition revision with the new image"))?;
    Ok(out.task_definition().and_then(|t| t.task_definition_arn()).unwrap_or_default().to_owned())
}

#[derive(Debug, Serialize)]
pub struct Started {
    pub deployment: String,
    pub task_definition: String,
    pub previous_task_definition: String,
}

async fn update_task_definition(aws: &Clients, s: &EcsServiceView, arn: &str, force: bool) -> Result<String, Error> {
    let out = aws
        .ecs
        .update_service()
        .cluster(&s.cluster)
        .service(&s.service)
        .task_definition(arn)
        .force_new_deployment(force)
        .send()
        .await
        .map_err(sdk(format!("updating ECS service {}", s.service)))?;
    started_deployment(out.service())
}

pub async fn redeploy(aws: &Clients, s: &EcsServiceView, image: Option<&str>) -> Result<Started, Error> {
    let Some(image) = image else {
        // The same revision again: new tasks, nothing to read or register.
        let out = aws
            .ecs
            .update_service()
            .cluster(&s.cluster)
            .service(&s.service)
            .force_new_deployment(true)
            .send()
            .await
            .map_err(sdk(format!("updating ECS service {}", s.service)))
            .map_err(|e| match e {
                e if e.is(Meaning::NotFound) => not_deployed(s),
                e => e,
            })?;
        let current = out.service().and_then(|svc| svc.task_definition()).unwrap_or_default().to_owned();
        let deployment = started_deployment(out.service())?;
        return Ok(Started { deployment, task_definition: current.clone(), previous_task_definition: current });
    };
    // The service and the family's latest revision at once: the service runs the
    // latest unless someone rolled back, and only then is another read needed.
    let (snap, latest) = tokio::join!(service_snapshot(aws, s), describe_task_definition(aws, &s.family));
    let previous = snap?.task_definition;
    let (td, tags) = match latest {
        Ok((td, tags)) if td.task_definition_arn() == Some(previous.as_str()) => (td, tags),
        _ => describe_task_definition(aws, &previous).await?,
    };
    let target = register_with_image(aws, &td, &s.container, image, tags).await?;
    let deployment = update_task_definition(aws, s, &target, true).await?;
    Ok(Started { deployment, task_definition: target, previous_task_definition: previous })
}

pub async fn rollback(aws: &Clients, s: &EcsServiceView, to: Option<u32>) -> Result<Started, Error> {
    let previous = service_snapshot(aws, s).await?.task_definition;
    // `family:N` at the end of the ARN: no read needed for the current revision.
    let current: i32 = previous.rsplit(':').next().and_then(|r| r.parse().ok()).unwrap_or(0);
    let target = match to {
        Some(r) => r as i32,
        None => current - 1,
    };
    if target < 1 || target == current {
        return Err(Error::Unsupported(format!(
            "no revision to roll back to: the service runs {}:{current}{}",
            s.family,
            if to.is_some() { "" } else { ", the first revision" }
        )));
    }
    let arn = format!("{}:{target}", s.family);
    // Must exist and still be ACTIVE: ECS refuses inactive revisions.
    let found = aws
        .ecs
        .describe_task_definition()
        .task_definition(&arn)
        .send()
        .await
        .map_err(sdk(format!("reading task definition {arn}")))?;
    let found =
        found.task_definition().ok_or_else(|| Error::Unsupported(format!("task definition {arn} does not exist")))?;
    if found.status() != Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Active) {
        return Err(Error::Unsupported(format!(
            "task definition {arn} is {}: ECS cannot run it again",
            found.status().map_or("not active", |s| s.as_str())
        )));
    }
    let target_arn = found.task_definition_arn().unwrap_or_default().to_owned();
    let deployment = update_task_definition(aws, s, &target_arn, false).await?;
    Ok(Started { deployment, task_definition: target_arn, previous_task_definition: previous })
}
