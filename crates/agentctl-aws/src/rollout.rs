//! Waits for the deployment that this command started — identified by the id
//! ECS returned when it was created — and reports its real outcome. Polling
//! backs off; stopped tasks of the deployment are diagnosed as they appear.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use agentctl_core::model::EcsServiceView;
use agentctl_core::protection::{held_message, UNPROTECT_HINT};
use agentctl_core::rollout::{
    self, ContainerStop, DeploymentSnapshot, Diagnosis, DiagnosisContext, ServiceEvent, ServiceSnapshot, StoppedTask,
    Verdict,
};
use aws_sdk_ecs::types::DesiredStatus;
use serde::Serialize;

use crate::error::{sdk, Error};
use crate::progress::{Event, Progress};
use crate::protection::HeldScope;
use crate::wait::Backoff;

#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    pub timeout: Duration,
    /// Stop after this many tasks failed the same way.
    pub fail_fast_after: usize,
    /// Pauses between polls.
    pub poll: Backoff,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(900), fail_fast_after: 3, poll: Backoff::ECS }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    RolledBack { to: Option<String>, reason: String },
    Failed { reason: String },
    Superseded { by: Option<String> },
    TimedOut { waited_secs: u64 },
}

#[derive(Debug, Clone, Serialize)]
pub struct WatchReport {
    pub deployment: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub diagnoses: Vec<Diagnosis>,
    /// Last log lines of a task whose agent exited.
    pub last_log_lines: Vec<String>,
    /// Why old tasks still ran when the wait ended (scale-in protection).
    pub held: Option<String>,
    pub seconds: f64,
}

pub struct Target<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    pub deployment: &'a str,
    pub log_group: &'a str,
    /// Its tasks run the guard sidecar, which logs their running pipelines.
    pub guarded: bool,
}

impl<'a> Target<'a> {
    pub fn of(service: &'a EcsServiceView, deployment: &'a str) -> Self {
        Target {
            cluster: &service.cluster,
            service: &service.service,
            deployment,
            log_group: &service.log_group,
            guarded: service.guarded,
        }
    }

    /// Which tasks of an earlier deployment stay because they are protected.
    fn old_tasks(&self) -> HeldScope<'a> {
        HeldScope {
            cluster: self.cluster,
            service: self.service,
            not_started_by: Some(self.deployment),
            guard_log_group: self.guarded.then_some(self.log_group),
        }
    }
}

pub(crate) fn task_id(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_owned()
}

pub async fn describe(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Option<ServiceSnapshot>, Error> {
    let sent = ecs.describe_services().cluster(cluster).services(service).send().await;
    let out = match sent.map_err(sdk(format!("reading ECS service {service}"))) {
        Ok(out) => out,
        Err(e) if e.is(crate::Meaning::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(s) = out.services().iter().find(|s| s.status() != Some("INACTIVE")) else { return Ok(None) };
    let deployments = s
        .deployments()
        .iter()
        .map(|d| DeploymentSnapshot {
            id: d.id().unwrap_or_default().to_owned(),
            status: d.status().unwrap_or_default().to_owned(),
            rollout_state: d.rollout_state().map(|r| r.as_str().to_owned()),
            rollout_state_reason: d.rollout_state_reason().map(str::to_owned),
            task_definition: d.task_definition().unwrap_or_default().to_owned(),
            desired: d.desired_count(),
            pending: d.pending_count(),
            running: d.running_count(),
            failed_tasks: d.failed_tasks(),
        })
        .collect();
    let events = s
        .events()
        .iter()
        .map(|e| ServiceEvent {
            id: e.id().unwrap_or_default().to_owned(),
            at: e.created_at().map_or(0, |t| t.secs()),
            message: e.message().unwrap_or_default().to_owned(),
        })
        .collect();
    Ok(Some(ServiceSnapshot {
        status: s.status().unwrap_or_default().to_owned(),
        desired: s.desired_count(),
        pending: s.pending_count(),
        running: s.running_count(),
        task_definition: s.task_definition().unwrap_or_default().to_owned(),
        deployments,
        events,
    }))
}

/// Stopped tasks started by this deployment (ECS keeps them about an hour).
pub async fn stopped_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    started_by: Option<&str>,
    service: Option<&str>,
) -> Result<Vec<StoppedTask>, Error> {
    let mut req = ecs.list_tasks().cluster(cluster).desired_status(DesiredStatus::Stopped);
    if let Some(by) = started_by {
        req = req.started_by(by);
    } else if let Some(s) = service {
        req = req.service_name(s);
    }
    let arns = req.send().await.map_err(sdk("listing stopped tasks"))?.task_arns().to_vec();
    if arns.is_empty() {
        return Ok(vec![]);
    }
    let out = ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns.into_iter().take(100).collect()))
        .send()
        .await
        .map_err(sdk("reading stopped tasks"))?;
    Ok(out
        .tasks()
        .iter()
        .map(|t| StoppedTask {
            task_id: task_id(t.task_arn().unwrap_or_default()),
            stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
            stopped_reason: t.stopped_reason().map(str::to_owned),
            containers: t
                .containers()
                .iter()
                .map(|c| ContainerStop {
                    name: c.name().unwrap_or_default().to_owned(),
                    exit_code: c.exit_code(),
                    reason: c.reason().map(str::to_owned),
                })
                .collect(),
        })
        .collect())
}

/// The last lines the agent wrote in a task (stream prefix `agent/agent/<task>`).
pub async fn last_log_lines(logs: &aws_sdk_cloudwatchlogs::Client, group: &str, task: &str, n: i32) -> Vec<String> {
    let out = logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(format!("agent/agent/{task}"))
        .limit(n)
        .start_from_head(false)
        .send()
        .await;
    out.map(|o| o.events().iter().filter_map(|e| e.message().map(str::to_owned)).collect()).unwrap_or_default()
}

pub async fn watch(
    ecs: &aws_sdk_ecs::Client,
    logs: &aws_sdk_cloudwatchlogs::Client,
    target: &Target<'_>,
    ctx: &DiagnosisContext,
    opts: WatchOptions,
    progress: &dyn Progress,
) -> Result<WatchReport, Error> {
    let start = Instant::now();
    let mut pauses = opts.poll.within(opts.timeout);
    let mut seen_events: Option<BTreeSet<String>> = None;
    let mut last_counts = None;
    let mut failed_seen = 0;
    let mut diagnoses: Vec<Diagnosis> = Vec::new();
    let mut held: Option<String> = None;
    let report =
        |outcome: Outcome, diagnoses: Vec<Diagnosis>, last_log_lines: Vec<String>, held: &Option<String>| WatchReport {
            deployment: target.deployment.to_owned(),
            outcome,
            diagnoses,
            last_log_lines,
            held: held.clone(),
            seconds: start.elapsed().as_secs_f64(),
        };
    loop {
        let Some(snap) = describe(ecs, target.cluster, target.service).await? else {
            return Ok(report(Outcome::Superseded { by: None }, diagnoses, vec![], &held));
        };
        // Events older than our start are history; show only new ones.
        match &mut seen_events {
            None => seen_events = Some(snap.events.iter().map(|e| e.id.clone()).collect()),
            Some(seen) => {
                for e in snap.events.iter().rev().filter(|e| !seen.contains(&e.id)) {
                    progress.event(&Event::ServiceEvent { message: e.message.clone() });
                }
                seen.extend(snap.events.iter().map(|e| e.id.clone()));
            }
        }
        if let Some(d) = snap.deployment(target.deployment) {
            let counts = (d.desired, d.pending, d.running, d.failed_tasks);
            if last_counts != Some(counts) {
                last_counts = Some(counts);
                let others = snap
                    .deployments
                    .iter()
                    .filter(|o| o.id != d.id)
                    .map(|o| format!("{} {}: {} running", o.status.to_lowercase(), o.id, o.running))
                    .collect();
                progress.event(&Event::Rollout {
                    deployment: d.id.clone(),
                    desired: d.desired,
                    pending: d.pending,
                    running: d.running,
                    failed: d.failed_tasks,
                    others,
                });
            }
            // Every new task runs and old ones remain: ECS waits for them, and
            // protection is the one reason worth telling.
            let old_running = snap.deployments.iter().any(|o| o.id != d.id && o.running > 0);
            if d.running >= d.desired && old_running {
                let now = chrono::Utc::now().timestamp();
                match crate::protection::held_tasks(ecs, logs, &target.old_tasks(), now).await {
                    Ok(tasks) => {
                        let message = held_message(&tasks, true, now);
                        if let Some(text) = message.as_ref().filter(|m| held.as_ref() != Some(*m)) {
                            progress.event(&Event::Message { text: format!("{text}; {UNPROTECT_HINT}") });
                        }
                        held = message;
                    }
                    // Without the permission (or where ECS has no such API) the
                    // rollout is still watched; it just is not explained.
                    Err(e) => tracing::debug!("cannot read task protection: {e}"),
                }
            } else {
                held = None;
            }
            if d.failed_tasks > failed_seen {
                failed_seen = d.failed_tasks;
                let stopped = stopped_tasks(ecs, target.cluster, Some(target.deployment), None).await?;
                diagnoses = rollout::diagnose(&stopped, ctx);
                if let Some(d) = rollout::fail_fast(&diagnoses, opts.fail_fast_after) {
                    let reason = format!("{} tasks failed the same way; stopped waiting: {}", d.count, d.likely_cause);
                    let lines = logs_for(logs, target, &diagnoses).await;
                    return Ok(report(Outcome::Failed { reason }, diagnoses, lines, &held));
                }
            }
        }
        let outcome = match rollout::assess(target.deployment, &snap) {
            Verdict::InProgress => None,
            Verdict::Completed => Some(Outcome::Completed),
            Verdict::RolledBack { to, reason } => Some(Outcome::RolledBack { to, reason }),
            Verdict::Failed { reason } => Some(Outcome::Failed { reason }),
            Verdict::Superseded { by } => Some(Outcome::Superseded { by }),
        };
        if let Some(outcome) = outcome {
            if !matches!(outcome, Outcome::Completed | Outcome::Superseded { .. }) && diagnoses.is_empty() {
                let stopped = stopped_tasks(ecs, target.cluster, Some(target.deployment), None).await?;
                diagnoses = rollout::diagnose(&stopped, ctx);
            }
            let lines =
                if matches!(outcome, Outcome::Completed) { vec![] } else { logs_for(logs, target, &diagnoses).await };
            return Ok(report(outcome, diagnoses, lines, &held));
        }
        if !pauses.pause().await {
            let lines = logs_for(logs, target, &diagnoses).await;
            let waited_secs = pauses.elapsed().as_secs();
            return Ok(report(Outcome::TimedOut { waited_secs }, diagnoses, lines, &held));
        }
    }
}

async fn logs_for(logs: &aws_sdk_cloudwatchlogs::Client, target: &Target<'_>, diagnoses: &[Diagnosis]) -> Vec<String> {
    let exited = diagnoses.iter().find(|d| d.kind == rollout::FailureKind::EssentialExited);
    match exited.and_then(|d| d.task_ids.first()) {
        Some(task) => last_log_lines(logs, target.log_group, task, 20).await,
        None => vec![],
    }
}
