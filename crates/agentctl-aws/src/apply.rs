//! The executor: walks a plan as a dependency graph with bounded concurrency.
//! Independent resources run at once; a resource starts as soon as everything it
//! depends on is done. A failure or Ctrl-C stops new work, lets in-flight work
//! finish, and reports what was and was not done.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use agentctl_core::model::{Address, Stack};
use agentctl_core::plan::{Action, Known, Live, LiveResource, Plan};
use futures::stream::{FuturesUnordered, StreamExt};

pub use crate::adapters::DeleteOptions;
use crate::adapters::{self, Outputs};
use crate::error::Error;
use crate::progress::{Event, Op, Progress};
use crate::Aws;

/// Set by the CLI's Ctrl-C handler; checked before each new operation.
#[derive(Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub parallelism: usize,
    pub delete: DeleteOptions,
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct Report {
    pub done: Vec<(Address, Op)>,
    /// Outputs of every resource, created or already there.
    pub outputs: BTreeMap<Address, Outputs>,
}

impl Report {
    /// The deployment this apply started on the service, if it started one.
    pub fn service_deployment(&self) -> Option<&str> {
        self.outputs.get(&agentctl_core::model::addr::SERVICE).and_then(|o| o.get("deployment_id")).map(String::as_str)
    }
}

fn op_of(action: Action) -> Option<Op> {
    match action {
        Action::Create => Some(Op::Create),
        Action::Update => Some(Op::Update),
        Action::Replace => Some(Op::Replace),
        Action::Delete => Some(Op::Delete),
        Action::NoChange => None,
    }
}

/// Work one create needs done first (the lock's note of a bucket created
/// without tags): it runs in that resource's turn, so it delays only that create,
/// not the whole apply.
pub struct BeforeCreate<'a> {
    pub addr: Address,
    pub run: futures::future::BoxFuture<'a, Result<(), Error>>,
}

struct Node {
    addr: Address,
    name: String,
    op: Op,
    deps: Vec<Address>,
}

/// Applies `plan` (from `live::plan`) to make AWS match `stack`.
#[allow(clippy::too_many_arguments)] // each is a distinct input; a struct would only rename them
pub async fn apply(
    aws: &Aws,
    stack: &Stack,
    plan: &Plan,
    live: &Live,
    opts: Options,
    progress: &dyn Progress,
    cancel: &Cancel,
    before_create: Option<BeforeCreate<'_>>,
) -> Result<Report, Error> {
    let mut report = Report::default();
    let mut known = Known::default();
    let before_create = std::sync::Mutex::new(before_create);
    for c in plan.changes.iter().filter(|c| c.action == Action::NoChange) {
        if let Some(l) = live.resources.get(&c.addr) {
            for (k, v) in &l.outputs {
                known.insert(c.addr, k, v.clone());
            }
            report.outputs.insert(c.addr, l.outputs.clone());
        }
    }
    let pending: BTreeSet<Address> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoChange && c.action != Action::Delete)
        .map(|c| c.addr)
        .collect();
    let nodes: Vec<Node> = plan
        .changes
        .iter()
        .filter(|c| pending.contains(&c.addr))
        .map(|c| Node {
            addr: c.addr,
            name: c.name.clone(),
            op: op_of(c.action).expect("changes only"),
            // Only dependencies that are themselves changing need waiting for.
            deps: c.depends_on.iter().copied().filter(|d| pending.contains(d)).collect(),
        })
        .collect();
    let run = |node: &Node, known: Known| {
        let resource = stack.get(node.addr).expect("planned resource").clone();
        let l = live.resources.get(&node.addr).cloned();
        let op = node.op;
        let first = {
            let mut hook = before_create.lock().expect("not poisoned");
            if hook.as_ref().is_some_and(|h| h.addr == node.addr && op == Op::Create) {
                hook.take()
            } else {
                None
            }
        };
        async move {
            if let Some(first) = first {
                first.run.await?;
            }
            let facts = resource.addr.kind.facts();
            let outputs = match (op, l) {
                (Op::Create, _) => adapters::create(aws, &resource, &known).await,
                (Op::Update, Some(l)) => adapters::update(aws, &resource, &l, &known).await,
                // A new revision replaces it; the old ones go with destroy.
                (Op::Replace, Some(_)) if facts.revisions => adapters::create(aws, &resource, &known).await,
                (Op::Replace, Some(l)) => Err(Error::Unsupported(format!(
                    "changing {} {} ({}) needs a new one; agentctl does not replace network resources in place. Revert the change, or run `agentctl destroy` then `agentctl apply`",
                    facts.noun,
                    resource.name,
                    l.id
                ))),
                // The plan holds the live resource of every update and replace.
                (Op::Update | Op::Replace, None) | (Op::Delete, _) => {
                    Err(Error::aws(format!("applying {}", resource.addr), format!("{op:?} without its live resource")))
                }
            }?;
            if resource.wait_for_steady_state {
                if let Some(deployment) = outputs.get("deployment_id") {
                    wait_steady(aws, stack, &resource, deployment, progress).await?;
                }
            }
            Ok(outputs)
        }
    };
    walk(nodes, opts.parallelism, progress, cancel, &mut report, &mut known, run).await?;

    // Resources of ours the config no longer wants: after everything else, so
    // nothing still uses them, dependents first.
    let deletes: Vec<Node> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| Node { addr: c.addr, name: c.name.clone(), op: Op::Delete, deps: vec![] })
        .collect();
    delete_in_order(aws, deletes, live, opts, progress, cancel, &mut report).await?;
    Ok(report)
}

/// Waits for the deployment that applying `r` (an ECS service) started to
/// complete: what depends on it starts only then (agent tasks must find the
/// script runner's alias when they launch).
async fn wait_steady(
    aws: &Aws,
    stack: &Stack,
    r: &agentctl_core::model::Resource,
    deployment: &str,
    progress: &dyn Progress,
) -> Result<(), Error> {
    use agentctl_core::model::ServiceRole;
    let view = [ServiceRole::Agent, ServiceRole::ScriptRunner]
        .into_iter()
        .find(|role| role.address() == r.addr)
        .and_then(|role| stack.ecs_service(role))
        .ok_or_else(|| Error::aws(format!("waiting for {}", r.addr), "not an ECS service of the stack"))?;
    let role = view.role;
    let target = crate::rollout::Target::of(&view, deployment);
    let opts = crate::rollout::WatchOptions::default();
    let report = crate::rollout::watch(&aws.ecs, &aws.logs, &target, &view.diagnosis_context(), opts, progress).await?;
    match report.outcome {
        crate::rollout::Outcome::Completed => Ok(()),
        _ => Err(Error::NotSteady { service: view.service, role, report: Box::new(report) }),
    }
}

/// Destroys everything in a destroy plan, dependents first.
pub async fn destroy(
    aws: &Aws,
    plan: &Plan,
    live: &Live,
    opts: Options,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Report, Error> {
    let mut report = Report::default();
    let nodes = plan
        .changes
        .iter()
        .map(|c| Node { addr: c.addr, name: c.name.clone(), op: Op::Delete, deps: vec![] })
        .collect();
    delete_in_order(aws, nodes, live, opts, progress, cancel, &mut report).await?;
    Ok(report)
}

async fn delete_in_order(
    aws: &Aws,
    mut nodes: Vec<Node>,
    live: &Live,
    opts: Options,
    progress: &dyn Progress,
    cancel: &Cancel,
    report: &mut Report,
) -> Result<(), Error> {
    // A delete waits for every deeper delete (its possible dependents).
    let addrs: Vec<Address> = nodes.iter().map(|n| n.addr).collect();
    for n in &mut nodes {
        let depth = agentctl_core::model::depth(n.addr);
        n.deps = addrs.iter().copied().filter(|a| agentctl_core::model::depth(*a) > depth).collect();
    }
    let find = |addr: Address| {
        live.orphans.iter().find(|(a, _, _)| *a == addr).map(|(_, _, l)| l).or_else(|| live.resources.get(&addr))
    };
    let run = |node: &Node, _known: Known| {
        let l: Option<LiveResource> = find(node.addr).cloned();
        let addr = node.addr;
        let name = node.name.clone();
        async move {
            let l = l.expect("deleting a resource that was read");
            adapters::delete(aws, addr, &name, &l, opts.delete).await.map(|()| Outputs::new())
        }
    };
    walk(nodes, opts.parallelism, progress, cancel, report, &mut Known::default(), run).await
}

/// The graph walk shared by apply and destroy.
async fn walk<'a, F, Fut>(
    nodes: Vec<Node>,
    parallelism: usize,
    progress: &dyn Progress,
    cancel: &Cancel,
    report: &mut Report,
    known: &mut Known,
    run: F,
) -> Result<(), Error>
where
    F: Fn(&Node, Known) -> Fut,
    Fut: std::future::Future<Output = Result<Outputs, Error>> + 'a,
{
    let total = nodes.len();
    let mut started: BTreeSet<Address> = BTreeSet::new();
    let mut finished: BTreeSet<Address> = BTreeSet::new();
    let mut errors: Vec<String> = Vec::new();
    let mut first_error: Option<Error> = None;
    let mut in_flight = FuturesUnordered::new();
    loop {
        let stop = first_error.is_some() || cancel.is_cancelled();
        if !stop {
            for node in &nodes {
                if in_flight.len() >= parallelism {
                    break;
                }
                if started.contains(&node.addr) || !node.deps.iter().all(|d| finished.contains(d)) {
                    continue;
                }
                started.insert(node.addr);
                progress.event(&Event::Started {
                    address: node.addr.to_string(),
                    name: node.name.clone(),
                    op: node.op,
                });
                let fut = run(node, known.clone());
                let (addr, name, op) = (node.addr, node.name.clone(), node.op);
                in_flight.push(async move {
                    let t = Instant::now();
                    let r = fut.await;
                    (addr, name, op, t.elapsed().as_secs_f64(), r)
                });
            }
        }
        let Some((addr, name, op, seconds, result)) = in_flight.next().await else {
            break;
        };
        match result {
            Ok(outputs) => {
                let id = outputs.get("arn").or_else(|| outputs.get("id")).cloned();
                progress.event(&Event::Finished { address: addr.to_string(), name, op, id, seconds });
                for (k, v) in &outputs {
                    known.insert(addr, k, v.clone());
                }
                finished.insert(addr);
                report.done.push((addr, op));
                if op != Op::Delete {
                    report.outputs.insert(addr, outputs);
                }
            }
            Err(e) => {
                progress.event(&Event::Failed {
                    address: addr.to_string(),
                    name: name.clone(),
                    op,
                    error: e.to_string(),
                });
                errors.push(format!("{addr}: {e}"));
                if first_error.is_none() {
                    first_error = Some(e);
                }
            }
        }
    }
    let not_started: Vec<&Node> = nodes.iter().filter(|n| !started.contains(&n.addr)).collect();
    for n in &not_started {
        progress.event(&Event::NotStarted { address: n.addr.to_string(), name: n.name.clone(), op: n.op });
    }
    match first_error {
        // One failure: report it as itself (its own help applies), unless work was left.
        Some(e) if errors.len() == 1 && not_started.is_empty() => Err(e),
        Some(_) => Err(Error::Incomplete {
            failed: errors.len(),
            total,
            done: finished.len(),
            not_started: not_started.len(),
            errors,
        }),
        None if !not_started.is_empty() => Err(Error::Interrupted),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use agentctl_core::model::{addr, Address};

    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Progress for Recorder {
        fn event(&self, e: &Event) {
            self.0.lock().unwrap().push(e.line());
        }
    }

    fn node(a: Address, deps: &[Address]) -> Node {
        Node { addr: a, name: a.to_string(), op: Op::Create, deps: deps.to_vec() }
    }

    /// A fails at once; B (independent, slow) is in flight and finishes; C
    /// depends on A and never starts; D depends on B but new work stopped.
    #[tokio::test]
    async fn a_failure_stops_new_work_and_lets_in_flight_work_finish() {
        let nodes = vec![
            node(addr::SECRET, &[]),
            node(addr::LOG_GROUP, &[]),
            node(addr::TASK_DEFINITION, &[addr::SECRET]),
            node(addr::SERVICE, &[addr::LOG_GROUP]),
        ];
        let rec = Recorder::default();
        let mut report = Report::default();
        let run = |n: &Node, _: Known| {
            let a = n.addr;
            async move {
                if a == addr::SECRET {
                    return Err(Error::aws("creating secret", "AccessDenied: no"));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(Outputs::new())
            }
        };
        let err = walk(nodes, 8, &rec, &Cancel::default(), &mut report, &mut Known::default(), run).await.unwrap_err();
        match err {
            Error::Incomplete { failed, total, done, not_started, .. } => {
                assert_eq!((failed, total, done, not_started), (1, 4, 1, 2))
            }
            other => panic!("{other:?}"),
        }
        let lines = rec.0.lock().unwrap().clone();
        assert!(lines.iter().any(|l| l.starts_with("created log_group.agent")), "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("not started: creating task_definition.agent")), "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("not started: creating ecs_service.agent")), "{lines:?}");
    }

    #[tokio::test]
    async fn independent_work_runs_concurrently_within_the_bound() {
        let nodes = vec![
            node(addr::SECRET, &[]),
            node(addr::LOG_GROUP, &[]),
            node(addr::CLUSTER, &[]),
            node(addr::SERVICE, &[addr::CLUSTER]),
        ];
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let run = |_: &Node, _: Known| {
            let (f, p) = (in_flight.clone(), peak.clone());
            async move {
                let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                f.fetch_sub(1, Ordering::SeqCst);
                Ok(Outputs::new())
            }
        };
        let mut report = Report::default();
        walk(nodes, 2, &Recorder::default(), &Cancel::default(), &mut report, &mut Known::default(), run)
            .await
            .unwrap();
        assert_eq!(peak.load(Ordering::SeqCst), 2, "bounded at 2, and it used both");
        assert_eq!(report.done.len(), 4);
        assert_eq!(report.done.last().unwrap().0, addr::SERVICE, "the dependent ran last");
    }

    #[tokio::test]
    async fn interruption_starts_nothing_new() {
        let cancel = Cancel::default();
        let nodes = vec![node(addr::SECRET, &[]), node(addr::SERVICE, &[addr::SECRET])];
        let c = cancel.clone();
        let run = move |_: &Node, _: Known| {
            let c = c.clone();
            async move {
                c.cancel(); // Ctrl-C while the first operation is in flight
                Ok(Outputs::new())
            }
        };
        let mut report = Report::default();
        let err =
            walk(nodes, 8, &Recorder::default(), &cancel, &mut report, &mut Known::default(), run).await.unwrap_err();
        assert!(matches!(err, Error::Interrupted), "{err:?}");
        assert_eq!(report.done.len(), 1, "the in-flight one finished, the next never started");
    }

    /// The script runner's deployment rolled back: the wait fails naming the
    /// outcome, so nothing that depends on the runner (the agent's service) runs.
    #[tokio::test]
    async fn a_runner_that_does_not_become_steady_stops_what_depends_on_it() {
        use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
        use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
        use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, Service};
        use aws_smithy_mocks::{mock, mock_client, RuleMode};

        let text = "name = \"maia\"\nregion = \"us-east-1\"\naccount_id = \"6b1f3c9e-2d4a-4c8b-9f1e-0a7d5c3b2e1f\"\n\
                    agent_id = \"0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f\"\nenable_script_runner = true\n";
        let loaded = agentctl_core::config::load(
            agentctl_core::diagnostics::SourceFile::new("t.tfvars", text.to_owned()),
            &agentctl_core::config::Env::default(),
            agentctl_core::config::CredentialsNeeded::No,
        )
        .unwrap();
        let stack = agentctl_core::model::build(&loaded.config, &agentctl_core::model::Context::default());
        let runner = stack.get(addr::SCRIPT_RUNNER_SERVICE).unwrap().clone();
        let deployment = |id: &str, status: &str, state: DeploymentRolloutState| {
            Deployment::builder()
                .id(id)
                .status(status)
                .rollout_state(state)
                .rollout_state_reason("tasks failed to start")
                .task_definition(format!(
                    "arn:aws:ecs:us-east-1:123456789012:task-definition/maia-script-runner:{}",
                    id.len()
                ))
                .desired_count(1)
                .build()
        };
        let rolled_back = DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("maia-script-runner")
                    .status("ACTIVE")
                    .deployments(deployment("ecs-svc/new", "ACTIVE", DeploymentRolloutState::Failed))
                    .deployments(deployment("ecs-svc/old1", "PRIMARY", DeploymentRolloutState::InProgress))
                    .build(),
            )
            .build();
        let describe = mock!(aws_sdk_ecs::Client::describe_services).then_output(move || rolled_back.clone());
        let list = mock!(aws_sdk_ecs::Client::list_tasks).then_output(|| ListTasksOutput::builder().build());
        let mut aws = Aws::unreachable();
        aws.clients.ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &list]);
        let err = wait_steady(&aws, &stack, &runner, "ecs-svc/new", &Recorder::default()).await.unwrap_err();
        match &err {
            Error::NotSteady { service, role, report } => {
                assert_eq!(service, "maia-script-runner");
                assert_eq!(*role, agentctl_core::model::ServiceRole::ScriptRunner);
                assert!(matches!(report.outcome, crate::rollout::Outcome::RolledBack { .. }), "{:?}", report.outcome);
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("ECS service maia-script-runner did not become steady"), "{err}");
        assert!(err.to_string().contains("rolled it back"), "{err}");
    }
}
