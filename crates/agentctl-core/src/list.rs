//! `agentctl list`: every agentctl deployment of an account, found by the
//! ownership tag on its ECS services. Here: which tagged service is a
//! deployment's agent, the one row each deployment becomes (from what ECS and
//! Application Auto Scaling say of it), its monthly cost, and the table and
//! JSON of them all. The AWS side only reads.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::cost::{self, CostError, CostInput, Money, PriceTable, TaskSize};
use crate::image::ImageRef;
use crate::model::AGENT_CONTAINER;
use crate::names;
use crate::text::{Table, Text};

/// An ECS service carrying the ownership tag: its ARN and the tag's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedService {
    pub arn: String,
    pub deployment: String,
}

/// The agent's service of one deployment, as its names say it must be.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AgentService {
    pub deployment: String,
    pub cluster: String,
    pub service: String,
}

impl AgentService {
    /// `service/CLUSTER/SERVICE`: how Application Auto Scaling names the service.
    pub fn scaling_resource_id(&self) -> String {
        format!("service/{}/{}", self.cluster, self.service)
    }
}

/// `(cluster, service)` of an ECS service ARN:
/// `arn:PARTITION:ecs:REGION:ACCOUNT:service/CLUSTER/SERVICE`, or the old
/// format `service/SERVICE` without the cluster.
fn service_of_arn(arn: &str) -> Option<(Option<&str>, &str)> {
    let mut parts = arn.splitn(6, ':');
    if parts.next() != Some("arn") || parts.nth(1) != Some("ecs") {
        return None;
    }
    let rest = parts.nth(2)?.strip_prefix("service/")?;
    match rest.split_once('/') {
        Some((cluster, service)) => Some((Some(cluster), service)),
        None => Some((None, rest)),
    }
}

/// The deployments among tagged services: one per tag value whose agent
/// service (`names::service` in `names::cluster`) is among them. The script
/// runner's service carries the same tag and is not a deployment of its own;
/// a tagged service that is no deployment's agent is left out. Sorted by name.
pub fn agent_services(tagged: &[TaggedService]) -> Vec<AgentService> {
    let mut found = BTreeSet::new();
    for t in tagged {
        let Some((cluster, service)) = service_of_arn(&t.arn) else { continue };
        let (want_cluster, want_service) = (names::cluster(&t.deployment), names::service(&t.deployment));
        if service == want_service && cluster.is_none_or(|c| c == want_cluster) {
            found.insert(AgentService {
                deployment: t.deployment.clone(),
                cluster: want_cluster,
                service: want_service,
            });
        }
    }
    found.into_iter().collect()
}

/// What DescribeServices says of an agent's service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFacts {
    /// ACTIVE, DRAINING or INACTIVE.
    pub status: String,
    pub desired: u32,
    pub running: u32,
    /// The PRIMARY deployment's task definition (the service's when ECS reports no deployment).
    pub task_definition: String,
    /// When the PRIMARY deployment last changed (its updatedAt, else its createdAt), Unix seconds.
    pub last_deployment_at: Option<i64>,
    /// The PRIMARY deployment's rollout state: COMPLETED, IN_PROGRESS or FAILED.
    pub rollout_state: Option<String>,
}

impl ServiceFacts {
    /// A service that is gone (INACTIVE) is not listed; the tagging API may
    /// still return it for a while after it was deleted.
    pub fn exists(&self) -> bool {
        self.status != "INACTIVE"
    }
}

/// What DescribeTaskDefinition says of the agent's task definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefinitionFacts {
    /// Task CPU units and MiB (Fargate task definitions always give both).
    pub cpu: Option<u32>,
    pub memory_mib: Option<u32>,
    /// `(container name, image)`, in order.
    pub containers: Vec<(String, String)>,
}

impl TaskDefinitionFacts {
    /// The agent container's image (the first container's when none is named `agent`).
    fn agent_image(&self) -> Option<&str> {
        self.containers.iter().find(|(n, _)| n == AGENT_CONTAINER).or(self.containers.first()).map(|(_, i)| i.as_str())
    }
}

/// Autoscaling bounds of the task count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScalingRange {
    pub min: u32,
    pub max: u32,
}

/// The month of the agent's tasks on FARGATE, at the fewest and the most tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthlyCost {
    pub min: Money,
    pub max: Money,
    pub currency: String,
    /// The date of the price table's rates.
    pub prices_as_of: String,
}

impl MonthlyCost {
    fn text(&self) -> String {
        let money = |m: Money| if self.currency == "USD" { format!("${m}") } else { format!("{m} {}", self.currency) };
        if self.min.cents() == self.max.cents() {
            money(self.min)
        } else {
            format!("{} .. {}", money(self.min), money(self.max))
        }
    }
}

/// One deployment, as `list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentSummary {
    pub name: String,
    pub region: String,
    pub cluster: String,
    pub service: String,
    /// The service's status: ACTIVE, or DRAINING while it is deleted.
    pub status: String,
    pub desired: u32,
    pub running: u32,
    pub task_definition: String,
    /// The agent container's image, and its tag (`@sha256:...` for an image
    /// pinned by digest only; `latest` when it names neither).
    pub image: Option<String>,
    pub image_tag: Option<String>,
    pub cpu: Option<u32>,
    pub memory_mib: Option<u32>,
    /// "1 vCPU / 4 GiB (small)"
    pub size: Option<String>,
    pub autoscaling: Option<ScalingRange>,
    /// `None` when it cannot be estimated (see `notes`).
    pub monthly_cost: Option<MonthlyCost>,
    /// The PRIMARY deployment's last change (RFC 3339, UTC) and rollout state.
    pub last_deployment_at: Option<String>,
    pub rollout_state: Option<String>,
    /// Why a field is unknown.
    pub notes: Vec<String>,
}

/// The tag of an image reference: its tag, else its digest (shortened), else
/// `latest`, which a registry serves for a reference that names neither.
fn image_tag(image: &str) -> Option<String> {
    let r = ImageRef::parse(image).ok()?;
    Some(match (r.tag, r.digest) {
        (Some(tag), _) => tag,
        (None, Some(digest)) => format!("@{}", digest.get(..19).unwrap_or(&digest)),
        (None, None) => "latest".to_owned(),
    })
}

fn size_label(cpu: u32, memory_mib: u32) -> String {
    let size = TaskSize::new(cpu, memory_mib, None);
    match size.runner_size {
        Some(name) => format!("{} ({name})", size.label()),
        None => size.label(),
    }
}

fn rfc3339(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// One deployment's row, from what ECS and Application Auto Scaling said of
/// it in `region`. `task_definition` is the error's text when it could not be
/// read. The cost is the agent's tasks on FARGATE with `prices`, from the
/// fewest to the most tasks: the desired count, widened to the autoscaling
/// bounds.
pub fn summarize(
    region: &str,
    agent: &AgentService,
    service: &ServiceFacts,
    task_definition: Result<&TaskDefinitionFacts, &str>,
    autoscaling: Option<ScalingRange>,
    prices: &PriceTable,
) -> DeploymentSummary {
    let mut notes = Vec::new();
    if service.status != "ACTIVE" {
        notes.push(format!("the service is {}", service.status));
    }
    let td = match task_definition {
        Ok(td) => Some(td),
        Err(e) => {
            notes.push(format!("image, size and cost unknown: {e}"));
            None
        }
    };
    let image = td.and_then(TaskDefinitionFacts::agent_image);
    let (cpu, memory_mib) = td.map_or((None, None), |td| (td.cpu, td.memory_mib));
    let monthly_cost = match (cpu, memory_mib) {
        (Some(cpu), Some(memory)) => {
            let (min, max) = match autoscaling {
                Some(a) => (service.desired.min(a.min), service.desired.max(a.max)),
                None => (service.desired, service.desired),
            };
            let input = CostInput { min_tasks: min, max_tasks: max, ..CostInput::new(region, cpu, memory, min) };
            match cost::estimate(&input, prices) {
                Ok(e) => Some(MonthlyCost {
                    min: e.monthly_total.min,
                    max: e.monthly_total.max,
                    currency: e.currency,
                    prices_as_of: prices.as_of.clone(),
                }),
                Err(CostError::UnknownRegion { .. }) => {
                    notes.push(format!(
                        "cost unknown: the {} price table has no Fargate rates for {region}",
                        prices.origin
                    ));
                    None
                }
                Err(e) => {
                    notes.push(format!("cost unknown: {e}"));
                    None
                }
            }
        }
        _ if td.is_some() => {
            notes.push("size and cost unknown: the task definition gives no task CPU and memory".to_owned());
            None
        }
        _ => None,
    };
    DeploymentSummary {
        name: agent.deployment.clone(),
        region: region.to_owned(),
        cluster: agent.cluster.clone(),
        service: agent.service.clone(),
        status: service.status.clone(),
        desired: service.desired,
        running: service.running,
        task_definition: service.task_definition.clone(),
        image: image.map(str::to_owned),
        image_tag: image.and_then(image_tag),
        cpu,
        memory_mib,
        size: cpu.zip(memory_mib).map(|(c, m)| size_label(c, m)),
        autoscaling,
        monthly_cost,
        last_deployment_at: service.last_deployment_at.and_then(rfc3339),
        rollout_state: service.rollout_state.clone(),
        notes,
    }
}

/// A region whose deployments could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionError {
    pub region: String,
    pub message: String,
}

/// What `list` found: the deployments of every region it read.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Listing {
    /// Sorted by region, then name.
    pub deployments: Vec<DeploymentSummary>,
    /// The regions read completely, sorted.
    pub regions: Vec<String>,
    /// The regions that could not be read, sorted.
    pub errors: Vec<RegionError>,
}

impl Listing {
    pub fn new(
        mut deployments: Vec<DeploymentSummary>,
        mut regions: Vec<String>,
        mut errors: Vec<RegionError>,
    ) -> Listing {
        deployments.sort_by(|a, b| (&a.region, &a.name).cmp(&(&b.region, &b.name)));
        regions.sort();
        errors.sort_by(|a, b| a.region.cmp(&b.region));
        Listing { deployments, regions, errors }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a listing serializes")
    }

    /// The table, sorted by region then name; the notes on unknown fields
    /// under it. Failed regions are not part of it (the caller warns of them).
    pub fn render_text(&self) -> String {
        let mut out = Text::new();
        if self.deployments.is_empty() {
            match self.regions.as_slice() {
                [] => {}
                [region] => {
                    out.line(format_args!("No agentctl deployments in {region}."));
                }
                many => {
                    out.line(format_args!("No agentctl deployments in any of the {} regions read.", many.len()));
                }
            }
            return out.into();
        }
        let dash = |s: Option<&str>| s.unwrap_or("-").to_owned();
        let mut table = Table::new();
        table.row([
            "NAME",
            "REGION",
            "DESIRED/RUNNING",
            "IMAGE TAG",
            "SIZE",
            "AUTOSCALING",
            "MONTHLY",
            "LAST DEPLOYMENT",
            "STATE",
        ]);
        for d in &self.deployments {
            table.row([
                d.name.clone(),
                d.region.clone(),
                format!("{}/{}", d.desired, d.running),
                d.image_tag.clone().unwrap_or_else(|| "?".into()),
                d.size.clone().unwrap_or_else(|| "?".into()),
                d.autoscaling.map_or("-".into(), |a| format!("{}–{}", a.min, a.max)),
                d.monthly_cost.as_ref().map_or("?".into(), MonthlyCost::text),
                dash(d.last_deployment_at.as_deref()),
                dash(d.rollout_state.as_deref()),
            ]);
        }
        out.push(&table.render());
        let notes: Vec<String> = self
            .deployments
            .iter()
            .flat_map(|d| d.notes.iter().map(move |n| format!("  {} ({}): {n}", d.name, d.region)))
            .collect();
        if !notes.is_empty() {
            out.blank().line("Notes");
            for n in &notes {
                out.line(n);
            }
        }
        if let Some(as_of) = self.deployments.iter().find_map(|d| d.monthly_cost.as_ref().map(|c| &c.prices_as_of)) {
            out.blank().line(format_args!(
                "MONTHLY: the agent's tasks on FARGATE, fewest to most, at prices of {as_of} (`agentctl cost` \
                 breaks it down)."
            ));
        }
        if self.regions.len() > 1 {
            out.line(format_args!("{} regions read.", self.regions.len()));
        }
        out.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(arn: &str, deployment: &str) -> TaggedService {
        TaggedService { arn: arn.into(), deployment: deployment.into() }
    }

    fn agent(name: &str) -> AgentService {
        AgentService { deployment: name.into(), cluster: names::cluster(name), service: names::service(name) }
    }

    fn service(desired: u32, running: u32, state: &str) -> ServiceFacts {
        ServiceFacts {
            status: "ACTIVE".into(),
            desired,
            running,
            task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/analytics-agent:3".into(),
            last_deployment_at: Some(1_795_780_800),
            rollout_state: Some(state.into()),
        }
    }

    fn task_definition(cpu: u32, memory: u32, image: &str) -> TaskDefinitionFacts {
        TaskDefinitionFacts {
            cpu: Some(cpu),
            memory_mib: Some(memory),
            containers: vec![
                ("guard".into(), "public.ecr.aws/docker/library/alpine:3.20".into()),
                ("agent".into(), image.into()),
            ],
        }
    }

    #[test]
    fn the_agent_service_is_the_deployment_and_the_script_runner_is_not_a_second_one() {
        let arn =
            |cluster: &str, service: &str| format!("arn:aws:ecs:us-east-1:123456789012:service/{cluster}/{service}");
        let found = agent_services(&[
            tagged(&arn("analytics", "analytics-script-runner"), "analytics"),
            tagged(&arn("analytics", "analytics-agent"), "analytics"),
            tagged(&arn("etl", "etl-agent"), "etl"),
            // The old ARN format has no cluster.
            tagged("arn:aws:ecs:us-east-1:123456789012:service/old-agent", "old"),
            // Only a script runner left: no agent, no deployment.
            tagged(&arn("half", "half-script-runner"), "half"),
            // Tagged by hand onto a service of another name or cluster.
            tagged(&arn("mine", "mine-web"), "mine"),
            tagged(&arn("elsewhere", "moved-agent"), "moved"),
            tagged("arn:aws:ecs:us-east-1:123456789012:cluster/etl", "etl"),
            tagged("not an arn", "etl"),
        ]);
        let names: Vec<(&str, &str, &str)> =
            found.iter().map(|a| (a.deployment.as_str(), a.cluster.as_str(), a.service.as_str())).collect();
        assert_eq!(
            names,
            [("analytics", "analytics", "analytics-agent"), ("etl", "etl", "etl-agent"), ("old", "old", "old-agent")]
        );
        assert_eq!(found[0].scaling_resource_id(), "service/analytics/analytics-agent");
    }

    #[test]
    fn a_summary_carries_counts_image_tag_size_range_cost_and_the_last_deployment() {
        let prices = PriceTable::builtin();
        let td = task_definition(1024, 4096, "public.ecr.aws/matillion/etl-agent:current");
        let s = summarize(
            "us-east-1",
            &agent("analytics"),
            &service(2, 1, "IN_PROGRESS"),
            Ok(&td),
            Some(ScalingRange { min: 1, max: 4 }),
            &prices,
        );
        assert_eq!((s.desired, s.running), (2, 1));
        assert_eq!(s.image_tag.as_deref(), Some("current"), "the agent container's, not the first one's");
        assert_eq!(s.size.as_deref(), Some("1 vCPU / 4 GiB (small)"));
        assert_eq!(s.last_deployment_at.as_deref(), Some("2026-11-27T12:00:00Z"));
        assert_eq!(s.rollout_state.as_deref(), Some("IN_PROGRESS"));
        // The same figures `cost` gives for 1..4 small tasks in us-east-1.
        let one = cost::estimate(&CostInput::new("us-east-1", 1024, 4096, 1), &prices).unwrap().monthly_total.min;
        let four = cost::estimate(&CostInput::new("us-east-1", 1024, 4096, 4), &prices).unwrap().monthly_total.min;
        let c = s.monthly_cost.as_ref().unwrap();
        assert_eq!((c.min.cents(), c.max.cents()), (one.cents(), four.cents()));
        assert!(one.cents() > 0 && four.cents() == 4 * one.cents(), "{one} {four}");
        assert_eq!(c.prices_as_of, prices.as_of);
        assert!(s.notes.is_empty(), "{:?}", s.notes);
    }

    #[test]
    fn the_cost_range_is_the_desired_count_widened_to_the_autoscaling_bounds() {
        let prices = PriceTable::builtin();
        let td = task_definition(1024, 4096, "repo/agent:1.2");
        let per_task = cost::estimate(&CostInput::new("us-east-1", 1024, 4096, 1), &prices).unwrap().monthly_total.min;
        let range = |desired: u32, scaling: Option<ScalingRange>| {
            let s = summarize("us-east-1", &agent("a"), &service(desired, 0, "COMPLETED"), Ok(&td), scaling, &prices);
            let c = s.monthly_cost.unwrap();
            (c.min.cents() / per_task.cents(), c.max.cents() / per_task.cents())
        };
        assert_eq!(range(3, None), (3, 3));
        assert_eq!(range(3, Some(ScalingRange { min: 1, max: 6 })), (1, 6));
        // A count set outside the bounds (before autoscaling brings it back).
        assert_eq!(range(8, Some(ScalingRange { min: 1, max: 6 })), (1, 8));
        assert_eq!(range(0, Some(ScalingRange { min: 2, max: 4 })), (0, 4));
    }

    #[test]
    fn unknown_parts_show_as_question_marks_with_a_note() {
        let prices = PriceTable::builtin();
        let td = task_definition(
            512,
            1024,
            "repo/agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        );
        let no_rates =
            summarize("ap-northeast-3", &agent("osaka"), &service(1, 1, "COMPLETED"), Ok(&td), None, &prices);
        assert_eq!(no_rates.monthly_cost, None);
        assert_eq!(no_rates.image_tag.as_deref(), Some("@sha256:0123456789ab"));
        assert_eq!(no_rates.size.as_deref(), Some("0.5 vCPU / 1 GiB"), "no runner size of that name");
        assert_eq!(no_rates.notes, ["cost unknown: the built-in price table has no Fargate rates for ap-northeast-3"]);

        let unread = summarize(
            "us-east-1",
            &agent("gone"),
            &ServiceFacts {
                status: "DRAINING".into(),
                last_deployment_at: None,
                rollout_state: None,
                ..service(0, 0, "")
            },
            Err("reading task definition gone-agent:1: AccessDeniedException: no"),
            None,
            &prices,
        );
        assert_eq!(
            (unread.image_tag.as_deref(), unread.size.as_deref(), unread.monthly_cost.as_ref()),
            (None, None, None)
        );
        assert_eq!(unread.notes.len(), 2, "{:?}", unread.notes);
        assert!(unread.notes[0].contains("DRAINING") && unread.notes[1].contains("AccessDeniedException"));

        let listing = Listing::new(vec![unread, no_rates], vec!["us-east-1".into(), "ap-northeast-3".into()], vec![]);
        let text = listing.render_text();
        let row = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .unwrap()
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(row("gone"), ["gone", "us-east-1", "0/0", "?", "?", "-", "?", "-", "-"], "{text}");
        assert_eq!(row("osaka")[9..], ["-", "?", "2026-11-27T12:00:00Z", "COMPLETED"], "{text}");
        assert!(text.contains("osaka (ap-northeast-3): cost unknown"), "{text}");
        assert!(!text.contains("MONTHLY: the agent's"), "no price date when nothing was priced:\n{text}");
    }

    #[test]
    fn images_without_a_tag_are_latest() {
        assert_eq!(image_tag("public.ecr.aws/matillion/etl-agent").as_deref(), Some("latest"));
        assert_eq!(image_tag("localhost:5000/agent:v7").as_deref(), Some("v7"), "not the registry's port");
        assert_eq!(image_tag("not an image"), None);
    }

    fn two_regions() -> Listing {
        let prices = PriceTable::builtin();
        let small = task_definition(1024, 4096, "public.ecr.aws/matillion/etl-agent:current");
        let large = task_definition(4096, 16384, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent:2026.11");
        let scaling = Some(ScalingRange { min: 1, max: 4 });
        Listing::new(
            vec![
                summarize("us-east-1", &agent("zeta"), &service(2, 2, "COMPLETED"), Ok(&small), None, &prices),
                summarize("eu-west-1", &agent("etl"), &service(1, 0, "FAILED"), Ok(&large), None, &prices),
                summarize(
                    "us-east-1",
                    &agent("analytics"),
                    &service(2, 1, "IN_PROGRESS"),
                    Ok(&small),
                    scaling,
                    &prices,
                ),
            ],
            vec!["us-east-1".into(), "eu-west-1".into()],
            vec![RegionError { region: "ap-south-2".into(), message: "UnrecognizedClientException".into() }],
        )
    }

    #[test]
    fn the_table_is_sorted_by_region_then_name() {
        insta::assert_snapshot!(two_regions().render_text());
    }

    #[test]
    fn json_is_an_object_of_deployments_regions_and_errors() {
        let json = two_regions().to_json();
        let names: Vec<&str> =
            json["deployments"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["etl", "analytics", "zeta"]);
        assert_eq!(json["regions"], serde_json::json!(["eu-west-1", "us-east-1"]));
        assert_eq!(json["errors"][0]["region"], "ap-south-2");
        let d = &json["deployments"][1];
        for (field, value) in [
            ("region", serde_json::json!("us-east-1")),
            ("desired", serde_json::json!(2)),
            ("running", serde_json::json!(1)),
            ("image_tag", serde_json::json!("current")),
            ("size", serde_json::json!("1 vCPU / 4 GiB (small)")),
            ("cpu", serde_json::json!(1024)),
            ("memory_mib", serde_json::json!(4096)),
            ("autoscaling", serde_json::json!({"min": 1, "max": 4})),
            ("last_deployment_at", serde_json::json!("2026-11-27T12:00:00Z")),
            ("rollout_state", serde_json::json!("IN_PROGRESS")),
        ] {
            assert_eq!(d[field], value, "{field}");
        }
        let cost = &d["monthly_cost"];
        assert!(cost["min"].as_f64().unwrap() > 0.0 && cost["max"].as_f64().unwrap() > cost["min"].as_f64().unwrap());
        assert_eq!(cost["currency"], "USD");
    }

    #[test]
    fn none_found_says_where_it_looked() {
        let one = Listing::new(vec![], vec!["eu-west-1".into()], vec![]);
        assert_eq!(one.render_text(), "No agentctl deployments in eu-west-1.\n");
        let many = Listing::new(vec![], vec!["eu-west-1".into(), "us-east-1".into()], vec![]);
        assert_eq!(many.render_text(), "No agentctl deployments in any of the 2 regions read.\n");
        assert_eq!(Listing::default().to_json(), serde_json::json!({"deployments": [], "regions": [], "errors": []}));
    }
}
