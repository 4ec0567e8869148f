//! Task scale-in protection: reading it (GetTaskProtection), the running
//! pipelines the guard sidecar logs per task, and turning it off.

use std::collections::BTreeMap;

use agentctl_core::model::guard_log_stream;
use agentctl_core::protection::{pipelines_from_guard_log, HeldTask, Protection};
use aws_sdk_ecs::types::DesiredStatus;
use futures::future::join_all;

use crate::error::{sdk, Error};
use crate::rollout::task_id;

/// GetTaskProtection takes up to 100 tasks, UpdateTaskProtection up to 10.
const READ_BATCH: usize = 100;
const UPDATE_BATCH: usize = 10;
/// The guard's last lines read per task: enough to pass its other messages.
const GUARD_LINES: i32 = 20;

/// Each task's protection, by task id.
pub async fn read(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    task_arns: &[String],
) -> Result<BTreeMap<String, Protection>, Error> {
    let batches = task_arns
        .chunks(READ_BATCH)
        .map(|batch| ecs.get_task_protection().cluster(cluster).set_tasks(Some(batch.to_vec())).send());
    let mut out = BTreeMap::new();
    for answer in join_all(batches).await {
        let answer = answer.map_err(sdk("reading task scale-in protection"))?;
        for t in answer.protected_tasks() {
            let protection =
                Protection { protected: t.protection_enabled(), expires_at: t.expiration_date().map(|d| d.secs()) };
            out.insert(task_id(t.task_arn().unwrap_or_default()), protection);
        }
    }
    Ok(out)
}

/// The running pipelines the guard last logged in each task; absent where it
/// has logged none (or its stream cannot be read).
pub async fn pipelines(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    task_ids: &[String],
) -> BTreeMap<String, u32> {
    let reads = task_ids.iter().map(|id| async move {
        let out = logs
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(guard_log_stream(id))
            .limit(GUARD_LINES)
            .start_from_head(false)
            .send()
            .await
            .ok()?;
        let lines: Vec<&str> = out.events().iter().filter_map(|e| e.message()).collect();
        Some((id.clone(), pipelines_from_guard_log(&lines)?))
    });
    join_all(reads).await.into_iter().flatten().collect()
}

/// What turning protection off did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Released {
    pub tasks: Vec<String>,
    /// (task id, ECS's reason) where ECS refused.
    pub failures: Vec<(String, String)>,
}

/// Turns protection off for these tasks.
pub async fn release(ecs: &aws_sdk_ecs::Client, cluster: &str, task_arns: &[String]) -> Result<Released, Error> {
    let mut released = Released::default();
    for batch in task_arns.chunks(UPDATE_BATCH) {
        let out = ecs
            .update_task_protection()
            .cluster(cluster)
            .set_tasks(Some(batch.to_vec()))
            .protection_enabled(false)
            .send()
            .await
            .map_err(sdk("turning task scale-in protection off"))?;
        released.tasks.extend(out.protected_tasks().iter().map(|t| task_id(t.task_arn().unwrap_or_default())));
        released.failures.extend(out.failures().iter().map(|f| {
            let reason = [f.reason(), f.detail()].into_iter().flatten().collect::<Vec<_>>().join(": ");
            (task_id(f.arn().unwrap_or_default()), reason)
        }));
    }
    Ok(released)
}

/// The service's running tasks that are protected, with their pipelines;
/// `old_only`: only those an earlier deployment than `deployment` started.
pub async fn held_tasks(
    ecs: &aws_sdk_ecs::Client,
    logs: &aws_sdk_cloudwatchlogs::Client,
    scope: &HeldScope<'_>,
    now: i64,
) -> Result<Vec<HeldTask>, Error> {
    let listed = ecs
        .list_tasks()
        .cluster(scope.cluster)
        .service_name(scope.service)
        .desired_status(DesiredStatus::Running)
        .send()
        .await
        .map_err(sdk(format!("listing tasks of {}", scope.service)))?;
    let mut arns = listed.task_arns().to_vec();
    if let Some(deployment) = scope.not_started_by {
        if arns.is_empty() {
            return Ok(vec![]);
        }
        // Which deployment started a task is in DescribeTasks only.
        let described = ecs
            .describe_tasks()
            .cluster(scope.cluster)
            .set_tasks(Some(arns))
            .send()
            .await
            .map_err(sdk("reading tasks"))?;
        arns = described
            .tasks()
            .iter()
            .filter(|t| t.started_by() != Some(deployment))
            .filter_map(|t| t.task_arn().map(str::to_owned))
            .collect();
    }
    if arns.is_empty() {
        return Ok(vec![]);
    }
    let protection = read(ecs, scope.cluster, &arns).await?;
    let held: Vec<(String, Option<i64>)> = protection
        .into_iter()
        // An expired protection no longer holds the task, even if ECS still says so.
        .filter(|(_, p)| p.protected && p.expires_at.is_none_or(|at| at > now))
        .map(|(id, p)| (id, p.expires_at))
        .collect();
    let ids: Vec<String> = held.iter().map(|(id, _)| id.clone()).collect();
    let mut counts = match scope.guard_log_group {
        Some(group) if !ids.is_empty() => pipelines(logs, group, &ids).await,
        _ => BTreeMap::new(),
    };
    Ok(held.into_iter().map(|(id, expires_at)| HeldTask { pipelines: counts.remove(&id), id, expires_at }).collect())
}

/// Whose tasks `held_tasks` looks at.
pub struct HeldScope<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    /// Only tasks another deployment started (a rollout's old tasks).
    pub not_started_by: Option<&'a str>,
    /// The log group of the guard's lines, where it runs.
    pub guard_log_group: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatchlogs::operation::get_log_events::{GetLogEventsError, GetLogEventsOutput};
    use aws_sdk_cloudwatchlogs::types::OutputLogEvent;
    use aws_sdk_ecs::operation::get_task_protection::GetTaskProtectionOutput;
    use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
    use aws_sdk_ecs::operation::update_task_protection::UpdateTaskProtectionOutput;
    use aws_sdk_ecs::types::{Failure, ProtectedTask};
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::DateTime;

    use super::*;

    const NOW: i64 = 1_796_040_000; // 2026-11-30 12:00 UTC

    fn arn(id: &str) -> String {
        format!("arn:aws:ecs:us-east-1:123456789012:task/x/{id}")
    }

    fn guard_log(id: &'static str, lines: &'static [&'static str]) -> Rule {
        mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
            .match_requests(move |r| {
                r.log_group_name() == Some("/ecs/x-agent") && r.log_stream_name() == Some(guard_log_stream(id).as_str())
            })
            .then_output(move || {
                let mut out = GetLogEventsOutput::builder();
                for line in lines {
                    out = out.events(OutputLogEvent::builder().message(*line).build());
                }
                out.build()
            })
    }

    /// What CloudWatch Logs answers for a stream the guard never wrote
    /// (a task without the guard, or one that has not logged yet).
    fn no_stream(id: &'static str) -> Rule {
        mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
            .match_requests(move |r| r.log_stream_name() == Some(guard_log_stream(id).as_str()))
            .then_error(|| {
                GetLogEventsError::ResourceNotFoundException(
                    aws_sdk_cloudwatchlogs::types::error::ResourceNotFoundException::builder()
                        .message("The specified log stream does not exist.")
                        .build(),
                )
            })
    }

    #[tokio::test]
    async fn release_turns_protection_off_ten_tasks_at_a_time_and_keeps_ecs_refusals() {
        let ids: Vec<String> = (0..12).map(|i| format!("task{i:02}")).collect();
        let (first, rest) = (ids[..10].to_vec(), ids[10..].to_vec());
        let off = |t: &str| ProtectedTask::builder().task_arn(arn(t)).protection_enabled(false).build();
        let batch = |expected: Vec<String>| {
            mock!(aws_sdk_ecs::Client::update_task_protection).match_requests(move |r| {
                r.cluster() == Some("x") && r.protection_enabled() == Some(false) && r.tasks() == expected.as_slice()
            })
        };
        let answered_1 = first.clone();
        let batch_1 = batch(first).then_output(move || {
            let mut out = UpdateTaskProtectionOutput::builder();
            for t in &answered_1[..9] {
                out = out.protected_tasks(off(t));
            }
            out.failures(
                Failure::builder()
                    .arn(arn("task09"))
                    .reason("TASK_NOT_VALID")
                    .detail("The task is not in RUNNING state")
                    .build(),
            )
            .build()
        });
        let batch_2 = batch(rest).then_output(move || {
            UpdateTaskProtectionOutput::builder()
                .protected_tasks(off("task10"))
                .failures(Failure::builder().arn(arn("task11")).reason("MISSING").build())
                .build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&batch_1, &batch_2]);

        let released = release(&ecs, "x", &ids).await.unwrap();
        assert_eq!((batch_1.num_calls(), batch_2.num_calls()), (1, 1), "12 tasks: a call of 10 and one of 2");
        let expected: Vec<String> =
            ids.iter().filter(|t| !["task09", "task11"].contains(&t.as_str())).cloned().collect();
        assert_eq!(released.tasks, expected, "by task id, not ARN");
        assert_eq!(
            released.failures,
            [
                ("task09".to_owned(), "TASK_NOT_VALID: The task is not in RUNNING state".to_owned()),
                ("task11".to_owned(), "MISSING".to_owned())
            ]
        );
    }

    #[tokio::test]
    async fn held_tasks_are_the_protected_ones_whose_protection_has_not_expired() {
        // Scale-in (no deployment to leave out): no DescribeTasks; the mock
        // client fails the test on any call it has no rule for.
        let list = mock!(aws_sdk_ecs::Client::list_tasks)
            .match_requests(|r| {
                r.service_name() == Some("x-agent") && r.desired_status() == Some(&DesiredStatus::Running)
            })
            .then_output(|| {
                let mut out = ListTasksOutput::builder();
                for id in ["a-busy", "b-expired", "c-idle", "d-open-ended"] {
                    out = out.task_arns(arn(id));
                }
                out.build()
            });
        let protection = mock!(aws_sdk_ecs::Client::get_task_protection).then_output(|| {
            let task = |id: &str, on: bool, until: Option<i64>| {
                ProtectedTask::builder()
                    .task_arn(arn(id))
                    .protection_enabled(on)
                    .set_expiration_date(until.map(DateTime::from_secs))
                    .build()
            };
            GetTaskProtectionOutput::builder()
                .protected_tasks(task("a-busy", true, Some(NOW + 3600)))
                // ECS may still say "enabled" for a moment after the expiry.
                .protected_tasks(task("b-expired", true, Some(NOW - 1)))
                .protected_tasks(task("c-idle", false, None))
                .protected_tasks(task("d-open-ended", true, None))
                .build()
        });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&list, &protection]);
        // Only the held tasks' guard streams are read.
        let busy = guard_log("a-busy", &["4 pipelines running: task protected for 60 minutes"]);
        let open = no_stream("d-open-ended");
        let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&busy, &open]);
        let scope =
            HeldScope { cluster: "x", service: "x-agent", not_started_by: None, guard_log_group: Some("/ecs/x-agent") };

        let held = held_tasks(&ecs, &logs, &scope, NOW).await.unwrap();
        assert_eq!(
            held,
            [
                HeldTask { id: "a-busy".into(), expires_at: Some(NOW + 3600), pipelines: Some(4) },
                HeldTask { id: "d-open-ended".into(), expires_at: None, pipelines: None },
            ]
        );
        assert_eq!((busy.num_calls(), open.num_calls()), (1, 1));

        // Without the guard there is no log to read.
        let unguarded = HeldScope { guard_log_group: None, ..scope };
        let no_logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, Vec::<&Rule>::new());
        let held = held_tasks(&ecs, &no_logs, &unguarded, NOW).await.unwrap();
        assert_eq!(
            held.iter().map(|t| (t.id.as_str(), t.pipelines)).collect::<Vec<_>>(),
            [("a-busy", None), ("d-open-ended", None)]
        );
    }

    #[tokio::test]
    async fn pipelines_leave_out_tasks_whose_guard_stream_is_missing_or_silent() {
        let counting = guard_log("t-counting", &["0 pipelines running", "2 pipelines running"]);
        let missing = no_stream("t-missing");
        let silent = guard_log(
            "t-silent",
            &["cannot read running pipelines from http://localhost:8080/actuator/prometheus: protection left as it is"],
        );
        let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&counting, &missing, &silent]);
        let ids: Vec<String> = ["t-counting", "t-missing", "t-silent"].map(String::from).to_vec();

        let counts = pipelines(&logs, "/ecs/x-agent", &ids).await;
        assert_eq!(counts, BTreeMap::from([("t-counting".to_owned(), 2)]));
        assert_eq!([counting.num_calls(), missing.num_calls(), silent.num_calls()], [1, 1, 1]);
    }
}
