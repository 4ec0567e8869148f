//! Rollouts that tell the truth: given what ECS reports about a service and the
//! tasks that stopped, decide whether *our* deployment completed, failed, was
//! rolled back, was superseded, or is still going — and why tasks stop.
//!
//! Pure: the AWS side maps DescribeServices/DescribeTasks into these snapshots.

use std::collections::BTreeMap;

use serde::Serialize;

/// One deployment of a service, as DescribeServices reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentSnapshot {
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    /// IN_PROGRESS, COMPLETED or FAILED (absent for some controllers).
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
    pub task_definition: String,
    pub desired: i32,
    pub pending: i32,
    pub running: i32,
    pub failed_tasks: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceEvent {
    pub id: String,
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSnapshot {
    pub status: String,
    pub desired: i32,
    pub pending: i32,
    pub running: i32,
    pub task_definition: String,
    pub deployments: Vec<DeploymentSnapshot>,
    /// Newest first, as ECS returns them.
    pub events: Vec<ServiceEvent>,
}

impl ServiceSnapshot {
    pub fn deployment(&self, id: &str) -> Option<&DeploymentSnapshot> {
        self.deployments.iter().find(|d| d.id == id)
    }
    pub fn primary(&self) -> Option<&DeploymentSnapshot> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerStop {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// A stopped task of the deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoppedTask {
    pub task_id: String,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerStop>,
}

/// Why tasks stop, grouped, with what probably causes it and how to fix it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    pub kind: FailureKind,
    /// The stopped reason shared by these tasks.
    pub reason: String,
    pub count: usize,
    pub task_ids: Vec<String>,
    pub likely_cause: String,
    pub fix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    ImagePull,
    SecretAccess,
    OutOfMemory,
    Capacity,
    EssentialExited,
    Other,
}

/// What the diagnosis needs to name names.
#[derive(Debug, Clone, Default)]
pub struct DiagnosisContext {
    pub image: String,
    pub execution_role: String,
    pub secret_arn: String,
    pub memory_mib: u32,
}

fn contains_any(text: &str, needles: &[&str]) -> bool {
    let lower = text.to_ascii_lowercase();
    needles.iter().any(|n| lower.contains(&n.to_ascii_lowercase()))
}

pub fn classify(t: &StoppedTask, ctx: &DiagnosisContext) -> (FailureKind, String, String) {
    let reason = t.stopped_reason.clone().unwrap_or_default();
    let container_reasons: Vec<String> = t.containers.iter().filter_map(|c| c.reason.clone()).collect();
    let all = format!("{reason} {} {}", container_reasons.join(" "), t.stop_code.clone().unwrap_or_default());
    if contains_any(
        &all,
        &["secretsmanager", "unable to pull secrets", "AccessDeniedException", "not authorized to perform"],
    ) {
        return (
            FailureKind::SecretAccess,
            format!("the execution role cannot read the agent's secret: {reason}"),
            format!(
                "give the execution role {} secretsmanager:GetSecretValue on {} (agentctl apply restores its policy), and check a KMS key policy if the secret uses one",
                ctx.execution_role, ctx.secret_arn
            ),
        );
    }
    if contains_any(
        &all,
        &[
            "CannotPullContainer",
            "pull image",
            "image manifest",
            "failed to resolve ref",
            "i/o timeout",
            "registry auth",
            "dial tcp",
        ],
    ) {
        return (
            FailureKind::ImagePull,
            format!("the task cannot pull {} — usually no network route to the registry", ctx.image),
            "give the subnets a route out: public subnets need an internet gateway route and assign_public_ip = true; private subnets need a NAT gateway (public.ecr.aws is not reachable through VPC endpoints); for a private ECR image, VPC endpoints for ecr.api, ecr.dkr and an S3 gateway endpoint work too. `agentctl doctor` checks this".into(),
        );
    }
    if contains_any(&all, &["OutOfMemory", "out of memory", "OOM"])
        || t.containers.iter().any(|c| c.exit_code == Some(137) && c.reason.is_none())
    {
        return (
            FailureKind::OutOfMemory,
            format!("the agent ran out of its {} MiB of memory", ctx.memory_mib),
            "raise agent_memory (or runner_size) to the next Fargate size and apply".into(),
        );
    }
    if contains_any(
        &all,
        &[
            "capacity is unavailable",
            "Capacity is unavailable",
            "SpotInterruption",
            "RESOURCE:",
            "insufficient capacity",
        ],
    ) {
        return (
            FailureKind::Capacity,
            "Fargate has no capacity for this task size in these Availability Zones right now".into(),
            "retry later, use subnets in more Availability Zones, or prefer FARGATE over FARGATE_SPOT".into(),
        );
    }
    if contains_any(&all, &["Essential container in task exited", "EssentialContainerExited"]) {
        let codes: Vec<String> = t
            .containers
            .iter()
            .filter_map(|c| c.exit_code.map(|code| format!("{} exited with {code}", c.name)))
            .collect();
        return (
            FailureKind::EssentialExited,
            format!("the agent process stopped ({})", if codes.is_empty() { "no exit code".into() } else { codes.join(", ") }),
            "read the task's last log lines below (agentctl logs --task ID): wrong account_id/agent_id/matillion_region or revoked credentials are the usual causes".into(),
        );
    }
    (FailureKind::Other, reason.clone(), "see the stopped reason; `agentctl tasks` lists recent stops".into())
}

/// Groups stopped tasks by what went wrong, most frequent first.
pub fn diagnose(tasks: &[StoppedTask], ctx: &DiagnosisContext) -> Vec<Diagnosis> {
    let mut groups: BTreeMap<(FailureKind, String), Diagnosis> = BTreeMap::new();
    // Tasks ECS or a user stopped on purpose (scale-in, replaced by a deployment)
    // are not failures.
    let deliberate = |t: &&StoppedTask| {
        matches!(t.stop_code.as_deref(), Some("ServiceSchedulerInitiated" | "UserInitiated"))
            && t.containers.iter().all(|c| matches!(c.exit_code, None | Some(0) | Some(143)))
    };
    for t in tasks.iter().filter(|t| !deliberate(t)) {
        let (kind, likely_cause, fix) = classify(t, ctx);
        let reason = t.stopped_reason.clone().unwrap_or_else(|| "(no reason given)".into());
        let d = groups.entry((kind, reason.clone())).or_insert_with(|| Diagnosis {
            kind,
            reason,
            count: 0,
            task_ids: vec![],
            likely_cause,
            fix,
        });
        d.count += 1;
        d.task_ids.push(t.task_id.clone());
    }
    let mut out: Vec<Diagnosis> = groups.into_values().collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)));
    out
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Verdict {
    /// Still rolling out.
    InProgress,
    Completed,
    /// The circuit breaker failed the deployment and rolled back to `to`.
    RolledBack {
        to: Option<String>,
        reason: String,
    },
    /// Failed without a rollback (or we stopped waiting: fail fast).
    Failed {
        reason: String,
    },
    /// Someone else's deployment took over before ours finished.
    Superseded {
        by: Option<String>,
    },
}

/// Where our deployment stands in this snapshot.
pub fn assess(ours: &str, s: &ServiceSnapshot) -> Verdict {
    let Some(d) = s.deployment(ours) else {
        return Verdict::Superseded { by: s.primary().map(|p| p.id.clone()) };
    };
    match d.rollout_state.as_deref() {
        Some("FAILED") => {
            let reason = d.rollout_state_reason.clone().unwrap_or_else(|| "deployment failed".into());
            match s.primary().filter(|p| p.id != ours) {
                Some(p) => Verdict::RolledBack { to: Some(p.task_definition.clone()), reason },
                None => Verdict::Failed { reason },
            }
        }
        Some("COMPLETED") if d.status == "PRIMARY" => Verdict::Completed,
        _ if d.status != "PRIMARY" => Verdict::Superseded { by: s.primary().map(|p| p.id.clone()) },
        // Without a rollout state (old controllers), done means all running.
        None if d.running == d.desired && d.pending == 0 && s.deployments.len() == 1 => Verdict::Completed,
        _ => Verdict::InProgress,
    }
}

/// Stop waiting when this many tasks failed the same way: the circuit breaker
/// would only retry more of them.
pub fn fail_fast(diagnoses: &[Diagnosis], threshold: usize) -> Option<&Diagnosis> {
    diagnoses.iter().find(|d| d.count >= threshold && d.kind != FailureKind::Capacity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(id: &str, status: &str, state: Option<&str>, td: &str, running: i32) -> DeploymentSnapshot {
        DeploymentSnapshot {
            id: id.into(),
            status: status.into(),
            rollout_state: state.map(Into::into),
            rollout_state_reason: state.map(|s| format!("ECS deployment {id} {s}")),
            task_definition: td.into(),
            desired: 2,
            pending: 2 - running,
            running,
            failed_tasks: 0,
        }
    }

    fn svc(deployments: Vec<DeploymentSnapshot>) -> ServiceSnapshot {
        ServiceSnapshot {
            status: "ACTIVE".into(),
            desired: 2,
            pending: 0,
            running: 2,
            task_definition: "td:2".into(),
            deployments,
            events: vec![],
        }
    }

    #[test]
    fn completed_only_when_ours_is_primary_and_completed() {
        let s = svc(vec![
            dep("ours", "PRIMARY", Some("IN_PROGRESS"), "td:2", 1),
            dep("old", "ACTIVE", Some("COMPLETED"), "td:1", 2),
        ]);
        assert_eq!(assess("ours", &s), Verdict::InProgress);
        let s = svc(vec![dep("ours", "PRIMARY", Some("COMPLETED"), "td:2", 2)]);
        assert_eq!(assess("ours", &s), Verdict::Completed);
    }

    #[test]
    fn a_circuit_breaker_rollback_is_never_success() {
        let s = svc(vec![
            dep("rollback", "PRIMARY", Some("IN_PROGRESS"), "td:1", 1),
            dep("ours", "ACTIVE", Some("FAILED"), "td:2", 0),
        ]);
        assert!(matches!(assess("ours", &s), Verdict::RolledBack { to: Some(td), .. } if td == "td:1"));
        // Even once the rollback deployment completes.
        let s = svc(vec![
            dep("rollback", "PRIMARY", Some("COMPLETED"), "td:1", 2),
            dep("ours", "INACTIVE", Some("FAILED"), "td:2", 0),
        ]);
        assert!(matches!(assess("ours", &s), Verdict::RolledBack { .. }));
    }

    #[test]
    fn someone_elses_deployment_supersedes_ours() {
        let s = svc(vec![
            dep("theirs", "PRIMARY", Some("IN_PROGRESS"), "td:3", 0),
            dep("ours", "ACTIVE", Some("IN_PROGRESS"), "td:2", 1),
        ]);
        assert_eq!(assess("ours", &s), Verdict::Superseded { by: Some("theirs".into()) });
        let s = svc(vec![dep("theirs", "PRIMARY", Some("COMPLETED"), "td:3", 2)]);
        assert_eq!(assess("ours", &s), Verdict::Superseded { by: Some("theirs".into()) });
    }

    fn stopped(id: &str, reason: &str, exit: Option<i32>, creason: Option<&str>) -> StoppedTask {
        StoppedTask {
            task_id: id.into(),
            stop_code: Some("TaskFailedToStart".into()),
            stopped_reason: Some(reason.into()),
            containers: vec![ContainerStop { name: "agent".into(), exit_code: exit, reason: creason.map(Into::into) }],
        }
    }

    #[test]
    fn diagnoses_the_common_failures() {
        let ctx = DiagnosisContext {
            image: "public.ecr.aws/matillion/etl-agent:current".into(),
            execution_role: "x-execution-role".into(),
            secret_arn: "arn:aws:secretsmanager:us-east-1:1:secret:x".into(),
            memory_mib: 4096,
        };
        let tasks = vec![
            stopped("t1", "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref public.ecr.aws/matillion/etl-agent:current: dial tcp 1.2.3.4:443: i/o timeout", None, None),
            stopped("t2", "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref public.ecr.aws/matillion/etl-agent:current: dial tcp 1.2.3.4:443: i/o timeout", None, None),
            stopped("t3", "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: AccessDeniedException", None, None),
            stopped("t4", "Essential container in task exited", Some(137), Some("OutOfMemoryError: Container killed due to memory usage")),
            stopped("t5", "Essential container in task exited", Some(1), None),
            stopped("t6", "Capacity is unavailable at this time. Please try again later or in a different availability zone", None, None),
        ];
        let d = diagnose(&tasks, &ctx);
        assert_eq!(d[0].kind, FailureKind::ImagePull);
        assert_eq!(d[0].count, 2);
        assert!(d[0].fix.contains("NAT gateway") && d[0].fix.contains("assign_public_ip"));
        let kinds: Vec<FailureKind> = d.iter().map(|x| x.kind).collect();
        for k in
            [FailureKind::SecretAccess, FailureKind::OutOfMemory, FailureKind::EssentialExited, FailureKind::Capacity]
        {
            assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
        }
        let secret = d.iter().find(|x| x.kind == FailureKind::SecretAccess).unwrap();
        assert!(
            secret.fix.contains("x-execution-role")
                && secret.fix.contains("arn:aws:secretsmanager:us-east-1:1:secret:x")
        );
        let exited = d.iter().find(|x| x.kind == FailureKind::EssentialExited).unwrap();
        assert!(exited.likely_cause.contains("agent exited with 1"));
        assert_eq!(fail_fast(&d, 2).map(|x| x.kind), Some(FailureKind::ImagePull));
        assert_eq!(fail_fast(&d, 3), None);
    }

    #[test]
    fn deliberate_stops_are_not_failures() {
        let ctx = DiagnosisContext::default();
        let mut t = stopped("t1", "Scaling activity initiated by (deployment ecs-svc/1)", Some(143), None);
        t.stop_code = Some("ServiceSchedulerInitiated".into());
        assert!(diagnose(&[t.clone()], &ctx).is_empty());
        t.containers[0].exit_code = Some(1);
        assert_eq!(diagnose(&[t], &ctx).len(), 1, "a crash during a scale-in still counts");
    }
}
