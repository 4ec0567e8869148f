//! Rollout outcomes from recorded ECS response sequences (moto cannot run
//! tasks or fail deployments). Shapes follow what ECS returns.

use std::sync::Mutex;
use std::time::Duration;

use agentctl_aws::progress::{Event, Progress};
use agentctl_aws::rollout::{watch, Outcome, Target, WatchOptions};
use agentctl_core::rollout::{DiagnosisContext, FailureKind};
use aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput;
use aws_sdk_cloudwatchlogs::types::OutputLogEvent;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::types::{Container, Deployment, DeploymentRolloutState, Service, ServiceEvent, Task, TaskStopCode};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::DateTime;

const OURS: &str = "ecs-svc/1111111111111111111";
const OLD: &str = "ecs-svc/0000000000000000000";
const TD_NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/x-agent:2";
const TD_OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/x-agent:1";

fn dep(id: &str, status: &str, state: DeploymentRolloutState, td: &str, running: i32, failed: i32) -> Deployment {
    Deployment::builder()
        .id(id)
        .status(status)
        .rollout_state(state.clone())
        .rollout_state_reason(format!("ECS deployment {id} {}.", state.as_str().to_lowercase()))
        .task_definition(td)
        .desired_count(2)
        .pending_count(2 - running)
        .running_count(running)
        .failed_tasks(failed)
        .build()
}

fn service(deployments: Vec<Deployment>, events: &[(&str, i64, &str)]) -> DescribeServicesOutput {
    let mut s = Service::builder()
        .service_name("x-agent")
        .status("ACTIVE")
        .desired_count(2)
        .running_count(2)
        .task_definition(TD_NEW);
    for d in deployments {
        s = s.deployments(d);
    }
    for (id, at, msg) in events.iter().rev() {
        s = s.events(ServiceEvent::builder().id(*id).created_at(DateTime::from_secs(*at)).message(*msg).build());
    }
    DescribeServicesOutput::builder().services(s.build()).build()
}

fn stopped_task(id: &str, reason: &str, exit: Option<i32>) -> Task {
    let mut c = Container::builder().name("agent");
    if let Some(code) = exit {
        c = c.exit_code(code);
    }
    Task::builder()
        .task_arn(format!("arn:aws:ecs:us-east-1:123456789012:task/x/{id}"))
        .stop_code(TaskStopCode::TaskFailedToStart)
        .stopped_reason(reason)
        .containers(c.build())
        .build()
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl Progress for Recorder {
    fn event(&self, e: &Event) {
        self.0.lock().unwrap().push(e.clone());
    }
}

impl Recorder {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(Event::line).collect()
    }
}

fn ctx() -> DiagnosisContext {
    DiagnosisContext {
        image: "public.ecr.aws/matillion/etl-agent:current".into(),
        execution_role: "x-execution-role".into(),
        secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-agent-credentials".into(),
        memory_mib: 4096,
    }
}

fn opts(timeout_ms: u64) -> WatchOptions {
    WatchOptions {
        timeout: Duration::from_millis(timeout_ms),
        fail_fast_after: 3,
        poll: agentctl_aws::wait::Backoff {
            first: Duration::from_millis(5),
            max: Duration::from_millis(10),
            growth: (3, 2),
        },
    }
}

fn target() -> Target<'static> {
    Target { cluster: "x", service: "x-agent", deployment: OURS, log_group: "/ecs/x-agent", guarded: true }
}

fn no_tasks() -> (Rule, Rule) {
    (
        mock!(aws_sdk_ecs::Client::list_tasks).then_output(|| ListTasksOutput::builder().build()),
        mock!(aws_sdk_ecs::Client::describe_tasks).then_output(|| DescribeTasksOutput::builder().build()),
    )
}

fn no_logs() -> aws_sdk_cloudwatchlogs::Client {
    let r = mock!(aws_sdk_cloudwatchlogs::Client::get_log_events).then_output(|| GetLogEventsOutput::builder().build());
    mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&r])
}

#[tokio::test]
async fn completed_after_progress_with_new_events_shown() {
    use DeploymentRolloutState::*;
    let describe = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .output(|| {
            service(
                vec![dep(OURS, "PRIMARY", InProgress, TD_NEW, 0, 0), dep(OLD, "ACTIVE", Completed, TD_OLD, 2, 0)],
                &[("e0", 100, "old history")],
            )
        })
        .output(|| {
            service(
                vec![dep(OURS, "PRIMARY", InProgress, TD_NEW, 1, 0), dep(OLD, "ACTIVE", Completed, TD_OLD, 2, 0)],
                &[("e0", 100, "old history"), ("e1", 200, "(service x-agent) has started 2 tasks")],
            )
        })
        .output(|| {
            service(
                vec![dep(OURS, "PRIMARY", Completed, TD_NEW, 2, 0)],
                &[
                    ("e0", 100, "old history"),
                    ("e1", 200, "(service x-agent) has started 2 tasks"),
                    ("e2", 300, "(service x-agent) has reached a steady state."),
                ],
            )
        })
        .build();
    let (lt, dt) = no_tasks();
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &lt, &dt]);
    let rec = Recorder::default();
    let r = watch(&ecs, &no_logs(), &target(), &ctx(), opts(5_000), &rec).await.unwrap();
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(describe.num_calls(), 3);
    let lines = rec.lines();
    assert!(lines.iter().any(|l| l.contains("0/2 running")) && lines.iter().any(|l| l.contains("1/2 running")));
    assert!(lines.iter().any(|l| l.contains("has reached a steady state")));
    assert!(
        !lines.iter().any(|l| l.contains("old history")),
        "events from before the deployment are not news: {lines:?}"
    );
}

#[tokio::test]
async fn a_circuit_breaker_rollback_is_reported_as_rollback_with_the_cause() {
    use DeploymentRolloutState::*;
    let pull = "CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref public.ecr.aws/matillion/etl-agent:current: dial tcp 52.1.2.3:443: i/o timeout";
    let describe = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .output(|| service(vec![dep(OURS, "PRIMARY", InProgress, TD_NEW, 0, 0), dep(OLD, "ACTIVE", Completed, TD_OLD, 2, 0)], &[]))
        .output(|| service(vec![dep(OURS, "PRIMARY", InProgress, TD_NEW, 0, 1), dep(OLD, "ACTIVE", Completed, TD_OLD, 2, 0)], &[]))
        .output(|| {
            service(
                vec![dep("ecs-svc/2222", "PRIMARY", InProgress, TD_OLD, 2, 0), dep(OURS, "ACTIVE", Failed, TD_NEW, 0, 2)],
                &[("e5", 500, "(service x-agent) (deployment ecs-svc/1111111111111111111) deployment failed: tasks failed to start.")],
            )
        })
        .build();
    let list =
        mock!(aws_sdk_ecs::Client::list_tasks).match_requests(|r| r.started_by() == Some(OURS)).then_output(|| {
            ListTasksOutput::builder()
                .task_arns("arn:aws:ecs:us-east-1:123456789012:task/x/t1")
                .task_arns("arn:aws:ecs:us-east-1:123456789012:task/x/t2")
                .build()
        });
    let tasks = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(move || {
        DescribeTasksOutput::builder()
            .tasks(stopped_task("t1", pull, None))
            .tasks(stopped_task("t2", pull, None))
            .build()
    });
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &list, &tasks]);
    let r = watch(&ecs, &no_logs(), &target(), &ctx(), opts(5_000), &Recorder::default()).await.unwrap();
    match &r.outcome {
        Outcome::RolledBack { to, reason } => {
            assert_eq!(to.as_deref(), Some(TD_OLD));
            assert!(reason.contains("failed"), "{reason}");
        }
        other => panic!("a rollback must not be reported as {other:?}"),
    }
    assert_eq!(r.diagnoses.len(), 1);
    assert_eq!(r.diagnoses[0].kind, FailureKind::ImagePull);
    assert_eq!(r.diagnoses[0].count, 2);
    assert!(r.diagnoses[0].fix.contains("NAT gateway"));
}

#[tokio::test]
async fn a_deployment_failed_without_rollback_is_a_failure() {
    use DeploymentRolloutState::*;
    let describe = mock!(aws_sdk_ecs::Client::describe_services)
        .then_output(|| service(vec![dep(OURS, "PRIMARY", Failed, TD_NEW, 0, 4)], &[]));
    let (lt, dt) = no_tasks();
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &lt, &dt]);
    let r = watch(&ecs, &no_logs(), &target(), &ctx(), opts(5_000), &Recorder::default()).await.unwrap();
    assert!(matches!(r.outcome, Outcome::Failed { .. }), "{:?}", r.outcome);
}

#[tokio::test]
async fn someone_elses_deployment_supersedes_ours() {
    use DeploymentRolloutState::*;
    let describe = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .output(|| service(vec![dep(OURS, "PRIMARY", InProgress, TD_NEW, 1, 0)], &[]))
        .output(|| {
            service(
                vec![
                    dep("ecs-svc/3333", "PRIMARY", InProgress, TD_NEW, 0, 0),
                    dep(OURS, "ACTIVE", InProgress, TD_NEW, 1, 0),
                ],
                &[],
            )
        })
        .build();
    let (lt, dt) = no_tasks();
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &lt, &dt]);
    let r = watch(&ecs, &no_logs(), &target(), &ctx(), opts(5_000), &Recorder::default()).await.unwrap();
    assert_eq!(r.outcome, Outcome::Superseded { by: Some("ecs-svc/3333".into()) });
}

#[tokio::test]
async fn a_rollout_that_never_finishes_times_out() {
    use DeploymentRolloutState::*;
    let describe = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .output(|| {
            service(
                vec![dep(OURS, "PRIMARY", InProgress, TD_NEW, 1, 0), dep(OLD, "ACTIVE", Completed, TD_OLD, 2, 0)],
                &[],
            )
        })
        .repeatedly()
        .build();
    let (lt, dt) = no_tasks();
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &lt, &dt]);
    let r = watch(&ecs, &no_logs(), &target(), &ctx(), opts(60), &Recorder::default()).await.unwrap();
    assert!(matches!(r.outcome, Outcome::TimedOut { .. }), "{:?}", r.outcome);
    assert!(describe.num_calls() >= 2, "polled more than once");
}

#[tokio::test]
async fn identical_failures_stop_the_wait_early_with_the_agents_last_words() {
    use DeploymentRolloutState::*;
    let describe = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .output(|| service(vec![dep(OURS, "PRIMARY", InProgress, TD_NEW, 0, 1)], &[]))
        .output(|| service(vec![dep(OURS, "PRIMARY", InProgress, TD_NEW, 0, 3)], &[]))
        .output(|| service(vec![dep(OURS, "PRIMARY", InProgress, TD_NEW, 0, 9)], &[]))
        .repeatedly()
        .build();
    let list = mock!(aws_sdk_ecs::Client::list_tasks)
        .sequence()
        .output(|| ListTasksOutput::builder().task_arns("arn:aws:ecs:us-east-1:123456789012:task/x/t1").build())
        .output(|| ListTasksOutput::builder().task_arns("a/t1").task_arns("a/t2").task_arns("a/t3").build())
        .repeatedly()
        .build();
    let tasks = mock!(aws_sdk_ecs::Client::describe_tasks)
        .sequence()
        .output(|| {
            DescribeTasksOutput::builder()
                .tasks(stopped_task("t1", "Essential container in task exited", Some(1)))
                .build()
        })
        .output(|| {
            DescribeTasksOutput::builder()
                .tasks(stopped_task("t1", "Essential container in task exited", Some(1)))
                .tasks(stopped_task("t2", "Essential container in task exited", Some(1)))
                .tasks(stopped_task("t3", "Essential container in task exited", Some(1)))
                .build()
        })
        .repeatedly()
        .build();
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &list, &tasks]);
    let log = mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
        .match_requests(|r| r.log_stream_name() == Some("agent/agent/t1") && r.log_group_name() == Some("/ecs/x-agent"))
        .then_output(|| {
            GetLogEventsOutput::builder()
                .events(OutputLogEvent::builder().message("ERROR invalid client credentials for agent").build())
                .build()
        });
    let logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, [&log]);
    let r = watch(&ecs, &logs, &target(), &ctx(), opts(5_000), &Recorder::default()).await.unwrap();
    match &r.outcome {
        Outcome::Failed { reason } => assert!(reason.contains("3 tasks failed the same way"), "{reason}"),
        other => panic!("expected fail-fast, got {other:?}"),
    }
    assert_eq!(describe.num_calls(), 2, "stopped at the third identical failure, not later");
    assert_eq!(r.diagnoses[0].kind, FailureKind::EssentialExited);
    assert_eq!(r.last_log_lines, vec!["ERROR invalid client credentials for agent".to_owned()]);
}

#[tokio::test]
async fn each_diagnosed_reason_reaches_the_report() {
    use DeploymentRolloutState::*;
    let reasons = [
        ("ResourceInitializationError: unable to pull secrets or registry auth: unable to retrieve secret from asm: AccessDeniedException: User is not authorized to perform: secretsmanager:GetSecretValue", None, FailureKind::SecretAccess),
        ("OutOfMemoryError: Container killed due to memory usage", Some(137), FailureKind::OutOfMemory),
        ("Capacity is unavailable at this time. Please try again later or in a different availability zone", None, FailureKind::Capacity),
    ];
    for (reason, exit, kind) in reasons {
        let describe = mock!(aws_sdk_ecs::Client::describe_services)
            .sequence()
            .output(|| service(vec![dep(OURS, "PRIMARY", InProgress, TD_NEW, 0, 1)], &[]))
            .output(|| service(vec![dep(OURS, "PRIMARY", Failed, TD_NEW, 0, 1)], &[]))
            .build();
        let list =
            mock!(aws_sdk_ecs::Client::list_tasks).then_output(|| ListTasksOutput::builder().task_arns("a/t9").build());
        let tasks = mock!(aws_sdk_ecs::Client::describe_tasks)
            .then_output(move || DescribeTasksOutput::builder().tasks(stopped_task("t9", reason, exit)).build());
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &list, &tasks]);
        let r = watch(&ecs, &no_logs(), &target(), &ctx(), opts(5_000), &Recorder::default()).await.unwrap();
        assert!(matches!(r.outcome, Outcome::Failed { .. }), "{reason}: {:?}", r.outcome);
        assert_eq!(r.diagnoses[0].kind, kind, "{reason}");
        if kind == FailureKind::SecretAccess {
            assert!(
                r.diagnoses[0].fix.contains("x-execution-role")
                    && r.diagnoses[0].fix.contains("secret:x-agent-credentials")
            );
        }
    }
}

// Scale-in protection: old tasks that stay while they run pipelines.

const OLD_TASK_1: &str = "0ld1aaaa1111bbbb2222cccc3333dddd";
const OLD_TASK_2: &str = "0ld2eeee4444ffff5555aaaa6666bbbb";
const NEW_TASK: &str = "new1cccc7777dddd8888eeee9999ffff";

fn task_arn(id: &str) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task/x/{id}")
}

fn running_task(id: &str, started_by: &str) -> Task {
    Task::builder()
        .task_arn(task_arn(id))
        .last_status("RUNNING")
        .desired_status("RUNNING")
        .started_by(started_by)
        .task_definition_arn(if started_by == OLD { TD_OLD } else { TD_NEW })
        .build()
}

/// What ECS answers while our deployment runs all its tasks and the old one
/// still runs 2 (it stays IN_PROGRESS until they stop).
fn both_running() -> DescribeServicesOutput {
    use DeploymentRolloutState::*;
    service(vec![dep(OURS, "PRIMARY", InProgress, TD_NEW, 2, 0), dep(OLD, "ACTIVE", Completed, TD_OLD, 2, 0)], &[])
}

fn new_starting() -> DescribeServicesOutput {
    use DeploymentRolloutState::*;
    service(vec![dep(OURS, "PRIMARY", InProgress, TD_NEW, 0, 0), dep(OLD, "ACTIVE", Completed, TD_OLD, 2, 0)], &[])
}

fn drained() -> DescribeServicesOutput {
    use DeploymentRolloutState::*;
    service(vec![dep(OURS, "PRIMARY", Completed, TD_NEW, 2, 0)], &[])
}

/// What `watch` reads of the old tasks, as recorded answers.
struct OldTasks {
    /// ListTasks and DescribeTasks.
    rules: Vec<Rule>,
    /// GetTaskProtection.
    protection: Rule,
    /// A logs client answering GetLogEvents for the old tasks' guard streams only.
    guard_logs: aws_sdk_cloudwatchlogs::Client,
    guard_rules: Vec<Rule>,
}

/// ListTasks (the service's running tasks: two old ones and one of ours),
/// DescribeTasks (who started each), GetTaskProtection (asked about the old
/// ones only) and the guard's log streams of the old tasks (3 and 2 pipelines).
fn old_tasks(protection: Rule) -> OldTasks {
    let list = mock!(aws_sdk_ecs::Client::list_tasks)
        .match_requests(|r| {
            r.service_name() == Some("x-agent")
                && r.desired_status() == Some(&aws_sdk_ecs::types::DesiredStatus::Running)
                && r.started_by().is_none()
        })
        .then_output(|| {
            ListTasksOutput::builder()
                .task_arns(task_arn(OLD_TASK_1))
                .task_arns(task_arn(NEW_TASK))
                .task_arns(task_arn(OLD_TASK_2))
                .build()
        });
    let describe = mock!(aws_sdk_ecs::Client::describe_tasks)
        .match_requests(|r| r.tasks() == [task_arn(OLD_TASK_1), task_arn(NEW_TASK), task_arn(OLD_TASK_2)])
        .then_output(|| {
            DescribeTasksOutput::builder()
                .tasks(running_task(OLD_TASK_1, OLD))
                .tasks(running_task(NEW_TASK, OURS))
                .tasks(running_task(OLD_TASK_2, OLD))
                .build()
        });
    let log = |task: &'static str, lines: &'static [&'static str]| {
        mock!(aws_sdk_cloudwatchlogs::Client::get_log_events)
            .match_requests(move |r| {
                r.log_group_name() == Some("/ecs/x-agent")
                    && r.log_stream_name() == Some(format!("guard/guard/{task}").as_str())
                    && r.start_from_head() == Some(false)
            })
            .then_output(move || {
                let mut out = GetLogEventsOutput::builder();
                for line in lines {
                    out = out.events(OutputLogEvent::builder().message(*line).build());
                }
                out.build()
            })
    };
    let guard_rules = vec![
        log(OLD_TASK_1, &["0 pipelines running", "3 pipelines running: task protected for 60 minutes"]),
        log(OLD_TASK_2, &["2 pipelines running: task protected for 60 minutes", "2 pipelines running"]),
    ];
    let guard_logs = mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &guard_rules);
    OldTasks { rules: vec![list, describe], protection, guard_logs, guard_rules }
}

/// GetTaskProtection for exactly the two old tasks: both protected, until
/// `until_1` and `until_2`.
fn protected_until(until_1: i64, until_2: i64) -> Rule {
    use aws_sdk_ecs::operation::get_task_protection::GetTaskProtectionOutput;
    use aws_sdk_ecs::types::ProtectedTask;
    mock!(aws_sdk_ecs::Client::get_task_protection)
        .match_requests(|r| r.cluster() == Some("x") && r.tasks() == [task_arn(OLD_TASK_1), task_arn(OLD_TASK_2)])
        .then_output(move || {
            let task = |id: &str, at: i64| {
                ProtectedTask::builder()
                    .task_arn(task_arn(id))
                    .protection_enabled(true)
                    .expiration_date(DateTime::from_secs(at))
                    .build()
            };
            GetTaskProtectionOutput::builder()
                .protected_tasks(task(OLD_TASK_1, until_1))
                .protected_tasks(task(OLD_TASK_2, until_2))
                .build()
        })
}

/// The held line for old tasks protected until `at`, as `watch` says it at
/// some moment between `before` and `after` (either side of a midnight).
fn held_lines(at: i64, before: i64, after: i64) -> [String; 2] {
    let line = |now| {
        format!(
            "2 old tasks still run 5 pipelines; ECS stops them when they finish (protected until {})",
            agentctl_core::protection::until(at, now)
        )
    };
    [line(before), line(after)]
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn old_tasks_kept_by_protection_are_explained_once_until_they_drain() {
    let describe = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .output(new_starting)
        .output(both_running)
        .output(both_running)
        .output(both_running)
        .output(drained)
        .build();
    let start = now();
    let (until_1, until_2) = (start + 40 * 60, start + 55 * 60);
    let old = old_tasks(protected_until(until_1, until_2));
    let mut rules = vec![describe.clone(), old.protection.clone()];
    rules.extend(old.rules.iter().cloned());
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &rules);
    let rec = Recorder::default();
    let r = watch(&ecs, &old.guard_logs, &target(), &ctx(), opts(5_000), &rec).await.unwrap();
    let expected = held_lines(until_2, start, now());

    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(describe.num_calls(), 5);
    let lines = rec.lines();
    let held: Vec<&String> = lines.iter().filter(|l| l.contains("old task")).collect();
    assert_eq!(held.len(), 1, "said once, not at every poll: {lines:?}");
    let with_hint = expected.map(|l| format!("{l}; `agentctl unprotect` lets them go now"));
    assert!(with_hint.contains(held[0]), "{:?} is not one of {with_hint:?}", held[0]);
    // The held line follows the counts that show every new task running.
    let at_2_of_2 = lines.iter().position(|l| l.contains(&format!("deployment {OURS}: 2/2 running"))).unwrap();
    let at_held = lines.iter().position(|l| l.contains("old task")).unwrap();
    assert!(at_2_of_2 < at_held, "{lines:?}");
    // Asked while they stayed (three polls), never before all new tasks ran.
    assert_eq!(old.protection.num_calls(), 3);
    assert_eq!(old.guard_rules.iter().map(Rule::num_calls).collect::<Vec<_>>(), [3, 3]);
    // Drained: nothing holds the rollout any more.
    assert_eq!(r.held, None);
}

#[tokio::test]
async fn a_rollout_held_past_its_timeout_reports_what_holds_it() {
    let describe = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .output(new_starting)
        .output(both_running)
        .repeatedly()
        .build();
    let start = now();
    let until = start + 30 * 60;
    let old = old_tasks(protected_until(until - 300, until));
    let mut rules = vec![describe.clone(), old.protection.clone()];
    rules.extend(old.rules.iter().cloned());
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &rules);
    let rec = Recorder::default();
    let r = watch(&ecs, &old.guard_logs, &target(), &ctx(), opts(80), &rec).await.unwrap();
    let expected = held_lines(until, start, now());

    assert!(matches!(r.outcome, Outcome::TimedOut { .. }), "{:?}", r.outcome);
    assert!(old.protection.num_calls() >= 2, "polled while held: {}", old.protection.num_calls());
    let held = r.held.expect("the timeout says what held the old tasks");
    assert!(expected.contains(&held), "{held:?} is not one of {expected:?}");
    let lines = rec.lines();
    assert_eq!(lines.iter().filter(|l| l.contains("old task")).count(), 1, "{lines:?}");
}

#[tokio::test]
async fn unreadable_protection_still_watches_the_rollout_to_its_end() {
    use aws_sdk_ecs::operation::get_task_protection::GetTaskProtectionError;
    let describe = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .output(new_starting)
        .output(both_running)
        .output(both_running)
        .output(drained)
        .build();
    let denied = mock!(aws_sdk_ecs::Client::get_task_protection).then_error(|| {
        GetTaskProtectionError::AccessDeniedException(
            aws_sdk_ecs::types::error::AccessDeniedException::builder()
                .message("User: arn:aws:iam::123456789012:user/ops is not authorized to perform: ecs:GetTaskProtection")
                .build(),
        )
    });
    let old = old_tasks(denied);
    let mut rules = vec![describe.clone(), old.protection.clone()];
    rules.extend(old.rules.iter().cloned());
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &rules);
    let rec = Recorder::default();
    let r = watch(&ecs, &old.guard_logs, &target(), &ctx(), opts(5_000), &rec).await.unwrap();

    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(describe.num_calls(), 4);
    assert_eq!(old.protection.num_calls(), 2, "asked at each poll that old tasks stayed");
    let lines = rec.lines();
    assert!(!lines.iter().any(|l| l.contains("old task") || l.contains("protect")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("2/2 running")), "{lines:?}");
    assert_eq!(r.held, None);
    assert_eq!(old.guard_rules.iter().map(Rule::num_calls).sum::<usize>(), 0, "no protection read, no guard log read");
}
