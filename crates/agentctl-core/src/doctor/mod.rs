//! `agentctl doctor`: a preflight checklist. The AWS side gathers [`DoctorFacts`]
//! (plain data, no SDK types); [`evaluate`] turns the config and those facts into
//! checks, each passed, warned or failed, with the evidence that decided it and,
//! when not passed, a fix that names the resources to change.
//!
//! What the agent task needs from the network: outbound HTTPS to the
//! image registry, to AWS APIs (CloudWatch Logs for the awslogs driver, Secrets
//! Manager for the credentials injected at start, S3 for the staging bucket and,
//! for a private ECR image, the ECR APIs and ECR's layer storage in S3) and to
//! Matillion (keycloak.core.matillion.com, opentelemetry.<region>.core.matillion.com),
//! plus DNS. Not needed: `ecs` endpoints (Fargate's own agent needs none), `sts`
//! (task role credentials come from the ECS credentials endpoint), `kms` (Secrets
//! Manager decrypts server-side).

mod access;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::cidr::Cidr;
use crate::config::{Config, NetworkConfig, SecurityGroupConfig};
use crate::image::ImageRef;
use crate::model::{self, Spec};
use crate::regions::MATILLION_REGIONS;
use crate::text::Text;

pub use access::{agent_needs, exact_secret_names, AccessFacts, Lookup, Simulated, Simulation};

/// Stable ids of the checks, for JSON consumers and tests.
pub mod ids {
    pub const CREDENTIALS: &str = "credentials";
    pub const VPC: &str = "network.vpc";
    pub const SUBNETS: &str = "network.subnets";
    pub const FREE_IPS: &str = "network.free_ips";
    pub const PATH_OUT: &str = "network.path_out";
    pub const SECURITY_GROUPS: &str = "network.security_groups";
    pub const EGRESS: &str = "network.egress";
    pub const IMAGE: &str = "image";
    pub const SCRIPT_RUNNER_IMAGE: &str = "script_runner.image";
    pub const MATILLION: &str = "matillion.endpoints";
    pub const VCPU_QUOTA: &str = "quota.fargate_vcpu";
    pub const SECRET_NAMES: &str = "access.secret_names";
    pub const STAGING_BUCKETS: &str = "access.staging_buckets";
    pub const MANAGED_POLICIES: &str = "access.task_role_policy_arns";
    pub const EFFECTIVE_ACCESS: &str = "access.effective";
}

/// Service Quotas code of "Fargate On-Demand vCPU resource count".
pub const FARGATE_ON_DEMAND_VCPU_QUOTA_CODE: &str = "L-3032A538";
/// The only CPU architecture the agent image is built for.
pub const AGENT_ARCHITECTURE: &str = "X86_64";

// --- checklist -------------------------------------------------------------------

/// Ordered: a checklist's status is the worst of its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub status: Status,
    /// What was found, one fact per line.
    pub evidence: Vec<String>,
    /// What to do; always present when the check did not pass.
    pub fix: Option<String>,
}

impl Check {
    pub fn new(id: &str, title: &str, status: Status) -> Check {
        Check { id: id.to_owned(), title: title.to_owned(), status, evidence: Vec::new(), fix: None }
    }
    fn with(mut self, line: impl Into<String>) -> Check {
        self.evidence.push(line.into());
        self
    }
    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
    /// A check whose facts were not gathered.
    fn not_checked(id: &str, title: &str, why: &str) -> Check {
        Check::new(id, title, Status::Warn)
            .with(format!("not checked: {why}"))
            .fix("fix the problems above (usually credentials or permissions) and run agentctl doctor again")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Checklist {
    pub checks: Vec<Check>,
}

impl Checklist {
    /// True when any check failed: `agentctl doctor` then exits non-zero.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
    /// The worst status, `Pass` for an empty list.
    pub fn status(&self) -> Status {
        self.checks.iter().map(|c| c.status).max().unwrap_or(Status::Pass)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ok": !self.failed(),
            "summary": {
                "passed": self.count(Status::Pass),
                "warnings": self.count(Status::Warn),
                "failed": self.count(Status::Fail),
            },
            "checks": self.checks,
        })
    }

    pub fn render_text(&self) -> String {
        let mut o = Text::new();
        for c in &self.checks {
            o.line(format_args!("[{}] {}  ({})", c.status.label(), c.title, c.id));
            for e in &c.evidence {
                o.line(format_args!("       {e}"));
            }
            if let Some(fix) = &c.fix {
                for (i, line) in fix.lines().enumerate() {
                    o.line(format_args!("       {} {line}", if i == 0 { "fix:" } else { "    " }));
                }
            }
        }
        o.line(format_args!(
            "{} checks: {} passed, {} warning{}, {} failed",
            self.checks.len(),
            self.count(Status::Pass),
            self.count(Status::Warn),
            if self.count(Status::Warn) == 1 { "" } else { "s" },
            self.count(Status::Fail)
        ));
        o.into()
    }
}

// --- facts -------------------------------------------------------------------------

/// The image's platforms as its registry tells them, or why they are not known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageLookup {
    /// E.g. `["linux/amd64", "linux/arm64"]` (an index) or one (a single image).
    Platforms(Vec<String>),
    /// The registry has no such repository or tag: the tasks could not pull it.
    NotFound(String),
    /// The registry could not be read from here (network, auth, timeout).
    Unreachable(String),
    /// Not asked, and why.
    NotRead(String),
}

/// Everything doctor needs to know about AWS, gathered by the AWS side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoctorFacts {
    pub region: String,
    pub credentials: Credentials,
    /// The existing VPC, subnets and security groups the config names, with their
    /// routes, NAT gateways and endpoints. `None` when not gathered (or nothing
    /// existing is used).
    pub network: Option<NetworkFacts>,
    /// The image the tasks run (the config's `image_url`, or the live task definition's).
    pub image: String,
    /// What the registry said of the image's platforms.
    pub image_lookup: ImageLookup,
    /// The task definition's `cpuArchitecture`.
    pub cpu_architecture: String,
    pub desired_count: u32,
    /// Most tasks the service may run (autoscaling maximum; `desired_count` without autoscaling).
    pub max_count: u32,
    /// Task CPU units (1024 = 1 vCPU).
    pub task_cpu: u32,
    /// The agent task's sidecar images (metrics, guard), as the config runs them.
    pub sidecars: Vec<SidecarImageFacts>,
    /// The script runner, when the config enables it.
    #[serde(default)]
    pub script_runner: Option<ScriptRunnerFacts>,
    /// Applied value of "Fargate On-Demand vCPU resource count" in the region.
    pub fargate_vcpu_quota: Option<f64>,
    /// On-demand Fargate vCPU in use in the region by tasks other than this service's.
    pub fargate_vcpu_in_use: Option<f64>,
    /// The secrets, buckets and policies the task role names, and IAM's simulator.
    pub access: AccessFacts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Credentials {
    /// `sts:GetCallerIdentity` answered.
    Valid {
        account: String,
        arn: String,
    },
    /// The credential chain or STS failed; the error as the SDK said it.
    Invalid {
        error: String,
    },
    NotChecked,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkFacts {
    /// `None`: the VPC was not found.
    pub vpc: Option<VpcFacts>,
    /// The subnets of `subnet_ids` that exist; a missing id is simply absent.
    pub subnets: Vec<SubnetFacts>,
    /// The VPC's main route table: subnets agentctl creates in an existing VPC use it.
    pub main_route_table: Option<RouteTableFacts>,
    /// NAT gateways the subnets' routes point at (or all of the VPC's).
    pub nat_gateways: Vec<NatGatewayFacts>,
    pub vpc_endpoints: Vec<VpcEndpointFacts>,
    /// The security groups of `security_group_ids` that exist.
    pub security_groups: Vec<SecurityGroupFacts>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpcFacts {
    pub id: String,
    /// The primary IPv4 block, then any secondary ones.
    pub cidr_blocks: Vec<String>,
    pub dns_support: bool,
    pub dns_hostnames: bool,
    /// `domain-name-servers` of the VPC's DHCP options, e.g. `["AmazonProvidedDNS"]`;
    /// `None` when not read.
    pub dns_servers: Option<Vec<String>>,
    /// Every subnet of the VPC, for where new subnets can go.
    #[serde(default)]
    pub subnets: Vec<crate::cidr::FoundSubnet>,
}

impl VpcFacts {
    /// Where apply puts new subnets when the config leaves it to agentctl: the
    /// first free ranges of the primary block, or the ones ours already have.
    pub fn free_subnet_ranges(&self) -> Result<[String; 2], String> {
        crate::cidr::subnet_ranges(self.cidr_blocks.first().map_or("", String::as_str), &self.subnets)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubnetFacts {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub available_ips: u32,
    /// The route table in effect: the associated one, or the main one.
    pub route_table: RouteTableFacts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteTableFacts {
    pub id: String,
    /// The VPC's main route table (for a subnet: no explicit association, the fallback).
    pub main: bool,
    pub routes: Vec<RouteFacts>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteFacts {
    /// An IPv4 CIDR (`0.0.0.0/0`) or a prefix list id (`pl-...`).
    pub destination: String,
    pub target: RouteTarget,
    /// `igw-...`, `nat-...`, `local`, `vpce-...`, `tgw-...`, ...
    pub target_id: String,
    pub state: RouteState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteTarget {
    InternetGateway,
    NatGateway,
    Local,
    VpcEndpoint,
    /// Transit gateway, peering, network interface, egress-only IGW, ...
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteState {
    Active,
    /// The target is gone.
    Blackhole,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NatGatewayFacts {
    pub id: String,
    /// As EC2 says it: pending, available, deleting, deleted, failed.
    pub state: String,
    pub connectivity: NatConnectivity,
    pub subnet_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NatConnectivity {
    Public,
    /// Reaches other networks only, never the internet.
    Private,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpcEndpointFacts {
    pub id: String,
    /// e.g. `com.amazonaws.eu-west-1.ecr.dkr`
    pub service_name: String,
    pub kind: EndpointKind,
    /// As EC2 says it: available, pending, failed, ...
    pub state: String,
    /// Interface endpoints: the subnets holding its network interfaces.
    pub subnet_ids: Vec<String>,
    /// Gateway endpoints: the route tables it is associated with.
    pub route_table_ids: Vec<String>,
    /// Interface endpoints: whether the service's default host name resolves to it.
    pub private_dns: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    Interface,
    Gateway,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupFacts {
    pub id: String,
    pub vpc_id: String,
    pub egress: Vec<EgressRuleFacts>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EgressRuleFacts {
    /// "-1" (all), "tcp", "udp", "icmp" or a protocol number ("6", "17").
    pub protocol: String,
    /// Inclusive; `None` is every port.
    pub ports: Option<(u16, u16)>,
    /// An IPv4 CIDR, a prefix list id (`pl-...`) or a security group id (`sg-...`).
    pub destination: String,
}

/// A sidecar's image in the agent's task: a task whose image cannot be
/// pulled does not start, sidecar or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SidecarImageFacts {
    /// Its container name (`metrics`, `guard`).
    pub container: String,
    /// The variable that sets the image.
    pub var: String,
    pub image: String,
    pub image_lookup: ImageLookup,
}

/// The script runner's image and the vCPU its tasks take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptRunnerFacts {
    pub image: String,
    pub image_lookup: ImageLookup,
    pub desired_count: u32,
    pub task_cpu: u32,
}

impl DoctorFacts {
    /// The facts the config alone gives; the AWS side fills in credentials,
    /// network, quota and image platforms.
    pub fn from_config(config: &Config) -> DoctorFacts {
        DoctorFacts {
            region: config.region.clone(),
            credentials: Credentials::NotChecked,
            network: None,
            image: config.image_url.clone(),
            image_lookup: ImageLookup::NotRead("the registry was not asked".into()),
            access: AccessFacts::not_gathered(config),
            cpu_architecture: planned_service(config).0,
            desired_count: config.desired_count,
            max_count: config.autoscaling.as_ref().map_or(config.desired_count, |a| {
                config
                    .schedules
                    .iter()
                    .filter_map(|s| s.max)
                    .chain([a.max, config.desired_count])
                    .max()
                    .unwrap_or(a.max)
            }),
            task_cpu: config.agent_cpu,
            script_runner: config.script_runner.as_ref().map(|r| ScriptRunnerFacts {
                image: r.image_url.clone(),
                image_lookup: ImageLookup::NotRead("the registry was not asked".into()),
                desired_count: r.desired_count,
                task_cpu: r.cpu,
            }),
            sidecars: [
                (config.metrics, model::METRICS_CONTAINER, "metrics_image_url", &config.metrics_image_url),
                (config.protect_running_pipelines, model::GUARD_CONTAINER, "guard_image_url", &config.guard_image_url),
            ]
            .into_iter()
            .filter(|(on, ..)| *on)
            .map(|(_, container, var, image)| SidecarImageFacts {
                container: container.to_owned(),
                var: var.to_owned(),
                image: image.clone(),
                image_lookup: ImageLookup::NotRead("the registry was not asked".into()),
            })
            .collect(),
            fargate_vcpu_quota: None,
            fargate_vcpu_in_use: None,
        }
    }
}

/// (task cpu architecture, service maximum percent) as agentctl builds them.
fn planned_service(config: &Config) -> (String, u32) {
    let stack = model::build(config, &model::Context::default());
    let arch = match stack.get(model::addr::TASK_DEFINITION).map(|r| &r.spec) {
        Some(Spec::TaskDefinition(t)) => t.cpu_architecture.clone(),
        _ => AGENT_ARCHITECTURE.to_owned(),
    };
    let max_percent = match stack.get(model::addr::SERVICE).map(|r| &r.spec) {
        Some(Spec::EcsService(s)) => s.maximum_percent,
        _ => 200,
    };
    (arch, max_percent)
}

// --- evaluation ----------------------------------------------------------------------

/// Every check, in the order a user fixes them.
pub fn evaluate(config: &Config, facts: &DoctorFacts) -> Checklist {
    let (_, max_percent) = planned_service(config);
    let mut checks = vec![check_credentials(&facts.credentials)];
    checks.extend(check_network(config, facts, max_percent));
    checks.push(check_image(facts));
    checks.extend(facts.sidecars.iter().map(|sidecar| check_sidecar_image(sidecar, facts)));
    if let Some(runner) = &facts.script_runner {
        checks.push(check_script_runner_image(runner, facts));
    }
    checks.push(check_matillion_region(&config.matillion_region));
    checks.push(check_vcpu_quota(facts, max_percent));
    let account = match &facts.credentials {
        Credentials::Valid { account, .. } => Some(account.clone()),
        _ => None,
    };
    let ctx = model::Context { aws_account_id: account, ..model::Context::default() };
    checks.extend(access::checks(config, &ctx, &facts.access));
    Checklist { checks }
}

pub fn check_credentials(credentials: &Credentials) -> Check {
    let title = "AWS credentials work";
    match credentials {
        Credentials::Valid { account, arn } => {
            Check::new(ids::CREDENTIALS, title, Status::Pass).with(format!("account {account}, identity {arn}"))
        }
        Credentials::Invalid { error } => Check::new(ids::CREDENTIALS, title, Status::Fail)
            .with(format!("sts:GetCallerIdentity failed: {error}"))
            .fix(
                "give agentctl credentials through the standard AWS chain: `aws sso login --profile NAME` then \
                 --profile NAME (or AWS_PROFILE), or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; check with \
                 `aws sts get-caller-identity`",
            ),
        Credentials::NotChecked => Check::not_checked(ids::CREDENTIALS, title, "no AWS call was made"),
    }
}

/// Hosts the agent must reach on 443, for Matillion region `code`; `None` for an
/// unknown code.
pub fn matillion_hosts(code: &str) -> Option<Vec<String>> {
    MATILLION_REGIONS
        .contains(&code)
        .then(|| vec!["keycloak.core.matillion.com".to_owned(), format!("opentelemetry.{code}.core.matillion.com")])
}

pub fn check_matillion_region(code: &str) -> Check {
    let title = "The Matillion region maps to known endpoints";
    match matillion_hosts(code) {
        Some(hosts) => Check::new(ids::MATILLION, title, Status::Pass)
            .with(format!("matillion_region = \"{code}\": the agent calls {} over HTTPS (443)", hosts.join(" and "))),
        None => Check::new(ids::MATILLION, title, Status::Fail)
            .with(format!("matillion_region = \"{code}\" is not a Matillion region agentctl knows"))
            .fix(format!(
                "set matillion_region to the region of your Matillion Hub account: one of {}",
                MATILLION_REGIONS.join(", ")
            )),
    }
}

/// A VPC endpoint the tasks need when their subnet has no route to the internet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequiredEndpoint {
    /// The last part of the service name: `ecr.api`, `s3`, ...
    pub service: &'static str,
    pub kind: EndpointKind,
    pub purpose: &'static str,
}

/// The endpoints that replace an internet route for the AWS services the tasks
/// use. Only a private ECR image can be pulled through endpoints.
pub fn required_endpoints(image: &ImageRef) -> Vec<RequiredEndpoint> {
    let mut out = Vec::new();
    if image.private_ecr().is_some() {
        out.push(RequiredEndpoint {
            service: "ecr.api",
            kind: EndpointKind::Interface,
            purpose: "image pull: ECR authorization",
        });
        out.push(RequiredEndpoint {
            service: "ecr.dkr",
            kind: EndpointKind::Interface,
            purpose: "image pull: registry API",
        });
    }
    out.push(RequiredEndpoint {
        service: "s3",
        kind: EndpointKind::Gateway,
        purpose: "image layers (ECR keeps them in S3) and the staging bucket",
    });
    out.push(RequiredEndpoint { service: "logs", kind: EndpointKind::Interface, purpose: "the awslogs log driver" });
    out.push(RequiredEndpoint {
        service: "secretsmanager",
        kind: EndpointKind::Interface,
        purpose: "the OAuth credentials injected at task start",
    });
    out
}

fn net_title(id: &str) -> &'static str {
    match id {
        ids::VPC => "The VPC exists and resolves DNS",
        ids::SUBNETS => "Subnets exist, belong to the VPC and span at least two availability zones",
        ids::FREE_IPS => "Subnets have free IP addresses for every task, rolling deploys included",
        ids::PATH_OUT => "Every subnet has a path out to the image registry, AWS APIs and Matillion",
        ids::SECURITY_GROUPS => "Security groups exist and belong to the VPC",
        _ => "Security groups allow outbound HTTPS (443) and DNS",
    }
}

/// VPC, subnets, free addresses, path out, security groups and egress.
pub fn check_network(config: &Config, facts: &DoctorFacts, max_percent: u32) -> Vec<Check> {
    let region = &config.region;
    let mut out = Vec::new();
    let not_gathered = "the network was not read from AWS";
    let net = facts.network.as_ref();
    let vpc_id = config.network.existing_vpc_id();

    // VPC
    out.push(match (&config.network, vpc_id, net) {
        (NetworkConfig::New { cidr_block, .. }, _, _) => Check::new(ids::VPC, net_title(ids::VPC), Status::Pass)
            .with(format!("agentctl creates the VPC ({cidr_block}) with DNS support and DNS hostnames on")),
        (_, Some(_), None) => Check::not_checked(ids::VPC, net_title(ids::VPC), not_gathered),
        (_, Some(id), Some(n)) => check_vpc(id, region, n),
        (_, None, _) => unreachable!("existing networks name a VPC"),
    });

    // Subnets and free addresses
    let peak = peak_tasks(facts.max_count, max_percent);
    match (&config.network, net) {
        (NetworkConfig::New { cidr_block, .. }, _) => {
            out.push(
                Check::new(ids::SUBNETS, net_title(ids::SUBNETS), Status::Pass)
                    .with(format!("agentctl creates two subnets from {cidr_block} in {region}a and {region}b")),
            );
        }
        (NetworkConfig::ExistingVpc { vpc_id, cidr_block: Some(cidr_block), .. }, n) => {
            out.push(check_new_subnets_fit(vpc_id, cidr_block, region, n.and_then(|n| n.vpc.as_ref())));
        }
        (NetworkConfig::ExistingVpc { vpc_id, cidr_block: None, .. }, n) => {
            out.push(check_room_for_subnets(vpc_id, region, n.and_then(|n| n.vpc.as_ref())));
        }
        (NetworkConfig::Existing { .. }, None) => {
            out.push(Check::not_checked(ids::SUBNETS, net_title(ids::SUBNETS), not_gathered));
            out.push(Check::not_checked(ids::FREE_IPS, net_title(ids::FREE_IPS), not_gathered));
        }
        (NetworkConfig::Existing { vpc_id, subnet_ids, .. }, Some(n)) => {
            out.push(check_subnets(vpc_id, subnet_ids, region, n));
            out.push(check_free_ips(vpc_id, n, facts.max_count, max_percent, peak));
        }
    }

    // Path out
    out.push(check_path_out(config, facts));

    // Security groups and egress
    match (config.network.security_group(), net) {
        (SecurityGroupConfig::Create, _) => {
            out.push(
                Check::new(ids::SECURITY_GROUPS, net_title(ids::SECURITY_GROUPS), Status::Pass)
                    .with("agentctl creates one security group: no ingress, all egress"),
            );
            out.push(
                Check::new(ids::EGRESS, net_title(ids::EGRESS), Status::Pass).with(
                    "the security group agentctl creates allows all outbound traffic (0.0.0.0/0, every protocol)",
                ),
            );
        }
        (SecurityGroupConfig::Existing(_), None) => {
            out.push(Check::not_checked(ids::SECURITY_GROUPS, net_title(ids::SECURITY_GROUPS), not_gathered));
            out.push(Check::not_checked(ids::EGRESS, net_title(ids::EGRESS), not_gathered));
        }
        (SecurityGroupConfig::Existing(sg_ids), Some(n)) => {
            let vpc_id = vpc_id.unwrap_or_default();
            out.push(check_security_groups(vpc_id, sg_ids, region, n));
            out.push(check_egress(sg_ids, n));
        }
    }
    out
}

/// Tasks running at once at max scale during a rolling deploy.
pub fn peak_tasks(max_count: u32, max_percent: u32) -> u32 {
    (max_count * max_percent).div_ceil(100).max(max_count)
}

fn uses_amazon_dns(vpc: &VpcFacts) -> Option<bool> {
    vpc.dns_servers.as_ref().map(|s| s.is_empty() || s.iter().any(|d| d.eq_ignore_ascii_case("AmazonProvidedDNS")))
}

fn check_vpc(vpc_id: &str, region: &str, n: &NetworkFacts) -> Check {
    let title = net_title(ids::VPC);
    let Some(vpc) = n.vpc.as_ref() else {
        return Check::new(ids::VPC, title, Status::Fail).with(format!("VPC {vpc_id} was not found in {region}")).fix(
            format!(
                "check vpc_id and region: {vpc_id} does not exist in {region} for these credentials (another region \
                 or account?); or set use_existing_vpc = false to let agentctl create a VPC"
            ),
        );
    };
    let mut c = Check::new(ids::VPC, title, Status::Pass).with(format!(
        "{} found ({}); DNS support {}, DNS hostnames {}",
        vpc.id,
        vpc.cidr_blocks.join(", "),
        on_off(vpc.dns_support),
        on_off(vpc.dns_hostnames)
    ));
    if !vpc.dns_support && uses_amazon_dns(vpc) != Some(false) {
        c.status = Status::Fail;
        c = c
            .with(format!(
                "DNS support is off, so the Amazon-provided DNS server of {} answers nothing: tasks cannot resolve the \
                 registry, AWS APIs or Matillion",
                vpc.id
            ))
            .fix(format!("aws ec2 modify-vpc-attribute --vpc-id {} --enable-dns-support '{{\"Value\":true}}'", vpc.id));
    }
    c
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// Existing VPC, new subnets where there is room: the ranges plan will show.
fn check_room_for_subnets(vpc_id: &str, region: &str, vpc: Option<&VpcFacts>) -> Check {
    let title = net_title(ids::SUBNETS);
    let Some(vpc) = vpc else {
        return Check::new(ids::SUBNETS, title, Status::Pass)
            .with(format!("agentctl creates two subnets in the first free ranges of {vpc_id} (plan shows them)"));
    };
    match vpc.free_subnet_ranges() {
        Ok([a, b]) => Check::new(ids::SUBNETS, title, Status::Pass).with(format!(
            "agentctl creates two subnets ({a} and {b}) in {region} zones of {vpc_id}, in its first free ranges"
        )),
        Err(why) => Check::new(ids::SUBNETS, title, Status::Fail)
            .with(format!("{vpc_id}: {why}"))
            .fix(crate::cidr::NO_ROOM_HELP),
    }
}

/// Existing VPC, new subnets: they must fit inside one of the VPC's blocks.
fn check_new_subnets_fit(vpc_id: &str, cidr_block: &str, region: &str, vpc: Option<&VpcFacts>) -> Check {
    let title = net_title(ids::SUBNETS);
    let subnets = Cidr::parse(cidr_block).and_then(|c| c.subnets_for_agent());
    let listed = subnets
        .as_ref()
        .map(|s| s.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" and "))
        .unwrap_or_else(|_| cidr_block.to_owned());
    let base = format!("agentctl creates two subnets ({listed}) in {region}a and {region}b of {vpc_id}");
    let Some(vpc) = vpc else {
        return Check::new(ids::SUBNETS, title, Status::Pass).with(base);
    };
    let blocks: Vec<Cidr> = vpc.cidr_blocks.iter().filter_map(|b| Cidr::parse(b).ok()).collect();
    let fits = subnets.as_ref().is_ok_and(|s| s.iter().all(|sub| blocks.iter().any(|b| b.contains(sub))));
    if fits {
        Check::new(ids::SUBNETS, title, Status::Pass).with(base)
    } else {
        Check::new(ids::SUBNETS, title, Status::Fail)
            .with(base)
            .with(format!("{listed} do not fit in {vpc_id} ({})", vpc.cidr_blocks.join(", ")))
            .fix(format!(
                "set cidr_block to a free range inside {vpc_id} ({}), or list existing subnets with \
                 use_existing_subnet = true and subnet_ids",
                vpc.cidr_blocks.join(", ")
            ))
    }
}

fn check_subnets(vpc_id: &str, subnet_ids: &[String], region: &str, n: &NetworkFacts) -> Check {
    let title = net_title(ids::SUBNETS);
    let mut c = Check::new(ids::SUBNETS, title, Status::Pass);
    let mut fixes = Vec::new();
    let mut zones = BTreeSet::new();
    for id in subnet_ids {
        match n.subnets.iter().find(|s| &s.id == id) {
            None => {
                c.status = Status::Fail;
                c = c.with(format!("{id} was not found in {region}"));
                fixes.push(format!(
                    "{id} does not exist in {region} for these credentials: correct subnet_ids (a subnet of another \
                     region or account cannot be used)"
                ));
            }
            Some(s) if s.vpc_id != vpc_id => {
                c.status = Status::Fail;
                c = c.with(format!("{id} ({}) belongs to {}, not {vpc_id}", s.availability_zone, s.vpc_id));
                fixes.push(format!(
                    "{id} is in {}: list subnets of {vpc_id} in subnet_ids, or set vpc_id = \"{}\" if that is the \
                     VPC you meant",
                    s.vpc_id, s.vpc_id
                ));
            }
            Some(s) => {
                zones.insert(s.availability_zone.clone());
                c = c.with(format!("{id} in {vpc_id}, {}", s.availability_zone));
            }
        }
    }
    if zones.len() < 2 && c.status == Status::Pass {
        c.status = Status::Warn;
        let zone = zones.iter().next().cloned().unwrap_or_default();
        c = c.with(format!("every subnet is in {zone}: an outage of that availability zone stops every agent task"));
        fixes.push(format!("add a subnet of {vpc_id} in another availability zone than {zone} to subnet_ids"));
    } else if zones.len() >= 2 {
        c = c.with(format!("{} availability zones: {}", zones.len(), zones.into_iter().collect::<Vec<_>>().join(", ")));
    }
    if !fixes.is_empty() {
        c = c.fix(fixes.join("\n"));
    }
    c
}

fn check_free_ips(vpc_id: &str, n: &NetworkFacts, max_count: u32, max_percent: u32, peak: u32) -> Check {
    let title = net_title(ids::FREE_IPS);
    let subnets: Vec<&SubnetFacts> = n.subnets.iter().filter(|s| s.vpc_id == vpc_id).collect();
    let total: u64 = subnets.iter().map(|s| u64::from(s.available_ips)).sum();
    let need = format!(
        "{peak} addresses needed: {max_count} task{} at max scale, up to {max_percent}% of them during a rolling deploy, \
         one address each",
        if max_count == 1 { "" } else { "s" }
    );
    let mut c = Check::new(ids::FREE_IPS, title, Status::Pass).with(need);
    for s in &subnets {
        c = c.with(format!("{} ({}): {} free", s.id, s.availability_zone, s.available_ips));
    }
    let ids = subnets.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ");
    if subnets.is_empty() {
        return c;
    }
    if total < u64::from(peak) {
        c.status = Status::Fail;
        return c.with(format!("{total} free in all, fewer than {peak}")).fix(format!(
            "free addresses in {ids} (delete unused network interfaces), or add subnets of {vpc_id} with room to \
             subnet_ids"
        ));
    }
    let share = peak.div_ceil(subnets.len() as u32);
    let short: Vec<&str> = subnets.iter().filter(|s| s.available_ips < share).map(|s| s.id.as_str()).collect();
    if !short.is_empty() {
        c.status = Status::Warn;
        c = c
            .with(format!(
                "ECS spreads tasks across availability zones: {} cannot hold an even share ({share})",
                short.join(", ")
            ))
            .fix(format!("free addresses in {}, or add a subnet of {vpc_id} with room", short.join(", ")));
    }
    c
}

fn check_security_groups(vpc_id: &str, sg_ids: &[String], region: &str, n: &NetworkFacts) -> Check {
    let mut c = Check::new(ids::SECURITY_GROUPS, net_title(ids::SECURITY_GROUPS), Status::Pass);
    let mut fixes = Vec::new();
    for id in sg_ids {
        match n.security_groups.iter().find(|g| &g.id == id) {
            None => {
                c.status = Status::Fail;
                c = c.with(format!("{id} was not found in {region}"));
                fixes.push(format!("{id} does not exist in {region}: correct security_group_ids"));
            }
            Some(g) if g.vpc_id != vpc_id => {
                c.status = Status::Fail;
                c = c.with(format!("{id} belongs to {}, not {vpc_id}", g.vpc_id));
                fixes.push(format!(
                    "{id} is a security group of {}: tasks in {vpc_id} can only use security groups of {vpc_id}",
                    g.vpc_id
                ));
            }
            Some(_) => c = c.with(format!("{id} in {vpc_id}")),
        }
    }
    if !fixes.is_empty() {
        c = c.fix(fixes.join("\n"));
    }
    c
}

fn protocol_matches(rule: &str, wanted: &str) -> bool {
    let rule = rule.to_ascii_lowercase();
    rule == "-1"
        || rule == "all"
        || rule == wanted
        || (wanted == "tcp" && rule == "6")
        || (wanted == "udp" && rule == "17")
}

fn allows(rule: &EgressRuleFacts, protocol: &str, port: u16) -> bool {
    protocol_matches(&rule.protocol, protocol) && rule.ports.is_none_or(|(lo, hi)| lo <= port && port <= hi)
}

fn check_egress(sg_ids: &[String], n: &NetworkFacts) -> Check {
    let title = net_title(ids::EGRESS);
    // The rules of all groups on a network interface add up.
    let groups: Vec<&SecurityGroupFacts> =
        sg_ids.iter().filter_map(|id| n.security_groups.iter().find(|g| &g.id == id)).collect();
    let names = groups.iter().map(|g| g.id.as_str()).collect::<Vec<_>>().join(", ");
    let first = groups.first().map_or("sg-...", |g| g.id.as_str());
    let rules: Vec<&EgressRuleFacts> = groups.iter().flat_map(|g| &g.egress).collect();
    let mut c = Check::new(ids::EGRESS, title, Status::Pass);
    let mut fixes = Vec::new();

    let https: Vec<&str> = rules.iter().filter(|r| allows(r, "tcp", 443)).map(|r| r.destination.as_str()).collect();
    if https.contains(&"0.0.0.0/0") {
        c = c.with(format!("{names} allow tcp 443 to 0.0.0.0/0"));
    } else if !https.is_empty() {
        c.status = c.status.max(Status::Warn);
        c = c.with(format!(
            "{names} allow tcp 443 only to {}: the agent must reach Matillion, the registry and AWS APIs",
            https.join(", ")
        ));
        fixes.push(format!(
            "unless every HTTPS destination sits behind {} (a proxy, VPC endpoints), allow 443 to the internet: aws \
             ec2 authorize-security-group-egress --group-id {first} --protocol tcp --port 443 --cidr 0.0.0.0/0",
            https.join(", ")
        ));
    } else {
        c.status = Status::Fail;
        c = c.with(format!("no egress rule of {names} allows tcp 443"));
        fixes.push(format!(
            "allow outbound HTTPS: aws ec2 authorize-security-group-egress --group-id {first} --protocol tcp --port \
             443 --cidr 0.0.0.0/0"
        ));
    }

    let dns: Vec<&str> = rules.iter().filter(|r| allows(r, "udp", 53)).map(|r| r.destination.as_str()).collect();
    let vpc = n.vpc.as_ref();
    if !dns.is_empty() {
        c = c.with(format!("{names} allow udp 53 to {}", dns.join(", ")));
    } else {
        match vpc.and_then(uses_amazon_dns) {
            Some(true) => {
                c = c.with(
                    "no egress rule allows port 53, but the VPC uses the Amazon-provided DNS server, which \
                     security groups do not filter",
                );
            }
            Some(false) => {
                let servers = vpc.and_then(|v| v.dns_servers.clone()).unwrap_or_default();
                c.status = Status::Fail;
                c = c.with(format!(
                    "no egress rule allows port 53, and the VPC's DHCP options name DNS servers {}",
                    servers.join(", ")
                ));
                for s in &servers {
                    fixes.push(format!(
                        "allow DNS to {s}: aws ec2 authorize-security-group-egress --group-id {first} --ip-permissions \
                         'IpProtocol=udp,FromPort=53,ToPort=53,IpRanges=[{{CidrIp={s}/32}}]' \
                         'IpProtocol=tcp,FromPort=53,ToPort=53,IpRanges=[{{CidrIp={s}/32}}]'"
                    ));
                }
            }
            None => {
                c.status = c.status.max(Status::Warn);
                c = c.with("no egress rule allows port 53, and the VPC's DHCP options were not read");
                fixes.push(format!(
                    "if the VPC uses its own DNS servers (DHCP options), allow udp and tcp 53 to them from {first}; \
                     the Amazon-provided DNS server needs no rule"
                ));
            }
        }
    }
    if !fixes.is_empty() {
        c = c.fix(fixes.join("\n"));
    }
    c
}

// --- path out ------------------------------------------------------------------------

struct PathContext<'a> {
    region: &'a str,
    assign_public_ip: bool,
    image: Option<ImageRef>,
    image_text: &'a str,
    /// The sidecars' images: (variable, image).
    sidecars: Vec<(&'a str, &'a str)>,
    proxy: Option<&'a str>,
    matillion: Vec<String>,
    net: Option<&'a NetworkFacts>,
}

struct Verdict {
    status: Status,
    evidence: Vec<String>,
    fix: Option<String>,
}

/// Each subnet the tasks run in reaches the internet (internet gateway with a
/// public IP, or an available NAT gateway), or every AWS service through VPC
/// endpoints plus Matillion through a proxy.
pub fn check_path_out(config: &Config, facts: &DoctorFacts) -> Check {
    let title = net_title(ids::PATH_OUT);
    let proxy = [&config.proxy_https, &config.proxy_http].into_iter().find(|p| !p.is_empty()).map(String::as_str);
    let cx = PathContext {
        region: &config.region,
        assign_public_ip: config.assign_public_ip,
        image: ImageRef::parse(&facts.image).ok(),
        image_text: &facts.image,
        sidecars: facts.sidecars.iter().map(|c| (c.var.as_str(), c.image.as_str())).collect(),
        proxy,
        matillion: matillion_hosts(&config.matillion_region).unwrap_or_else(|| vec!["Matillion".to_owned()]),
        net: facts.network.as_ref(),
    };
    let verdicts: Vec<(String, Verdict)> = match (&config.network, facts.network.as_ref()) {
        (NetworkConfig::New { .. }, _) => {
            let label = "the subnets agentctl creates".to_owned();
            let v = if config.assign_public_ip {
                Verdict {
                    status: Status::Pass,
                    evidence: vec![
                        "agentctl routes 0.0.0.0/0 to the internet gateway it creates, and tasks get a public IP"
                            .into(),
                    ],
                    fix: None,
                }
            } else {
                Verdict {
                    status: Status::Fail,
                    evidence: vec!["agentctl creates public subnets (0.0.0.0/0 to an internet gateway), but \
                                    assign_public_ip = false: without a public IP a task cannot use an internet \
                                    gateway"
                        .into()],
                    fix: Some(
                        "set assign_public_ip = true, or run the tasks in existing private subnets with a NAT \
                         gateway (use_existing_vpc, use_existing_subnet)"
                            .into(),
                    ),
                }
            };
            vec![(label, v)]
        }
        (_, None) => return Check::not_checked(ids::PATH_OUT, title, "the network was not read from AWS"),
        (NetworkConfig::ExistingVpc { vpc_id, .. }, Some(n)) => match &n.main_route_table {
            Some(rt) => {
                vec![(format!("the subnets agentctl creates in {vpc_id}"), subnet_path(&cx, "the new subnets", rt))]
            }
            None => {
                return Check::not_checked(
                    ids::PATH_OUT,
                    title,
                    &format!("the main route table of {vpc_id} was not read"),
                )
            }
        },
        (NetworkConfig::Existing { vpc_id, subnet_ids, .. }, Some(n)) => subnet_ids
            .iter()
            .filter_map(|id| n.subnets.iter().find(|s| &s.id == id && &s.vpc_id == vpc_id))
            .map(|s| (format!("{} ({})", s.id, s.availability_zone), subnet_path(&cx, &s.id, &s.route_table)))
            .collect(),
    };
    let mut c = Check::new(ids::PATH_OUT, title, Status::Pass);
    if verdicts.is_empty() {
        c.status = Status::Fail;
        return c
            .with("no subnet of subnet_ids was found in the VPC")
            .fix("fix subnet_ids first (see the subnets check)");
    }
    let mut fixes: Vec<String> = Vec::new();
    for (label, v) in verdicts {
        c.status = c.status.max(v.status);
        for e in v.evidence {
            c.evidence.push(format!("{label}: {e}"));
        }
        if let Some(f) = v.fix {
            if !fixes.contains(&f) {
                fixes.push(f);
            }
        }
    }
    if !fixes.is_empty() {
        c.fix = Some(fixes.join("\n"));
    }
    c
}

fn subnet_path(cx: &PathContext, subnet: &str, rt: &RouteTableFacts) -> Verdict {
    let table =
        if rt.main { format!("route table {} (the VPC's main one)", rt.id) } else { format!("route table {}", rt.id) };
    let default = rt.routes.iter().find(|r| r.destination == "0.0.0.0/0");
    let Some(route) = default else {
        return without_internet(
            cx,
            subnet,
            rt,
            format!("{table} has no route for 0.0.0.0/0"),
            format!(
                "add a default route to a NAT gateway in {}: aws ec2 create-route --route-table-id {} \
                 --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-... (a NAT gateway in a public subnet)",
                rt.id, rt.id
            ),
        );
    };
    let target = &route.target_id;
    if route.state == RouteState::Blackhole {
        return without_internet(
            cx,
            subnet,
            rt,
            format!("{table} sends 0.0.0.0/0 to {target}, which no longer exists (blackhole route)"),
            format!(
                "replace the route: aws ec2 replace-route --route-table-id {} --destination-cidr-block 0.0.0.0/0 \
                 --nat-gateway-id nat-... (or --gateway-id igw-... for a public subnet)",
                rt.id
            ),
        );
    }
    match route.target {
        RouteTarget::InternetGateway if cx.assign_public_ip => Verdict {
            status: Status::Pass,
            evidence: vec![format!("{table} sends 0.0.0.0/0 to internet gateway {target}; tasks get a public IP")],
            fix: None,
        },
        RouteTarget::InternetGateway => without_internet(
            cx,
            subnet,
            rt,
            format!(
                "{table} sends 0.0.0.0/0 to internet gateway {target}, but assign_public_ip = false: a task without a \
                 public IP cannot use an internet gateway"
            ),
            format!(
                "set assign_public_ip = true ({subnet} is a public subnet), or run the tasks in private subnets whose \
                 route table sends 0.0.0.0/0 to a NAT gateway"
            ),
        ),
        RouteTarget::NatGateway => {
            let nat = cx.net.and_then(|n| n.nat_gateways.iter().find(|g| &g.id == target));
            match nat {
                Some(g) if g.state == "available" && g.connectivity == NatConnectivity::Public => Verdict {
                    status: Status::Pass,
                    evidence: vec![format!("{table} sends 0.0.0.0/0 to NAT gateway {target} (available)")],
                    fix: None,
                },
                Some(g) if g.connectivity == NatConnectivity::Private => without_internet(
                    cx,
                    subnet,
                    rt,
                    format!(
                        "{table} sends 0.0.0.0/0 to {target}, a private NAT gateway, which never reaches the internet"
                    ),
                    format!(
                        "point 0.0.0.0/0 in {} at a public NAT gateway: aws ec2 replace-route --route-table-id {} \
                         --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-...",
                        rt.id, rt.id
                    ),
                ),
                Some(g) => without_internet(
                    cx,
                    subnet,
                    rt,
                    format!("{table} sends 0.0.0.0/0 to NAT gateway {target}, which is {}", g.state),
                    format!(
                        "NAT gateway {target} is {}: create a new NAT gateway in a public subnet (aws ec2 \
                         create-nat-gateway --subnet-id subnet-... --allocation-id eipalloc-...) and point 0.0.0.0/0 \
                         in {} at it (aws ec2 replace-route --route-table-id {} --destination-cidr-block 0.0.0.0/0 \
                         --nat-gateway-id NEW)",
                        g.state, rt.id, rt.id
                    ),
                ),
                None => without_internet(
                    cx,
                    subnet,
                    rt,
                    format!("{table} sends 0.0.0.0/0 to NAT gateway {target}, which was not found"),
                    format!(
                        "point 0.0.0.0/0 in {} at an available NAT gateway: aws ec2 replace-route --route-table-id {} \
                         --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-...",
                        rt.id, rt.id
                    ),
                ),
            }
        }
        RouteTarget::Local | RouteTarget::VpcEndpoint | RouteTarget::Other => Verdict {
            status: Status::Warn,
            evidence: vec![format!(
                "{table} sends 0.0.0.0/0 to {target}; agentctl cannot follow that hop (firewall, transit gateway, \
                 peering, appliance)"
            )],
            fix: Some(format!(
                "make sure {target} forwards HTTPS from {subnet} to the internet (the registry, AWS APIs and {})",
                cx.matillion.join(", ")
            )),
        },
    }
}

/// A subnet with no working internet route: only VPC endpoints (for AWS) and a
/// proxy (for Matillion) can make up for it.
fn without_internet(cx: &PathContext, subnet: &str, rt: &RouteTableFacts, cause: String, fix: String) -> Verdict {
    let mut evidence = vec![cause];
    let fail = |evidence: Vec<String>, fix: String| Verdict { status: Status::Fail, evidence, fix: Some(fix) };
    let Some(image) = &cx.image else {
        return fail(evidence, fix);
    };
    // No endpoint in the VPC: the internet route is the only candidate.
    if cx.net.is_none_or(|n| n.vpc_endpoints.is_empty()) {
        return fail(evidence, fix);
    }
    match image.private_ecr() {
        Some((_, region, _)) if region == cx.region => {}
        Some((_, region, _)) => {
            evidence.push(format!(
                "the image {} is in ECR of {region}; VPC endpoints of {} do not serve another region",
                cx.image_text, cx.region
            ));
            return fail(evidence, fix);
        }
        None => {
            let registry = image.registry.as_deref().unwrap_or("Docker Hub");
            let why = if registry == "public.ecr.aws" {
                "ECR Public is not reachable through VPC endpoints".to_owned()
            } else {
                format!("{registry} has no VPC endpoint")
            };
            evidence.push(format!("the image {} is pulled from {registry}: {why}", cx.image_text));
            return fail(
                evidence,
                format!(
                    "{fix}; VPC endpoints cannot replace that route for {registry} (the alternative: mirror the image \
                     into private ECR in {} and set image_url to it)",
                    cx.region
                ),
            );
        }
    }
    // The sidecars' images too: ECS pulls every image before the task starts.
    let unreachable: Vec<(&str, &str)> = cx
        .sidecars
        .iter()
        .copied()
        .filter(|(_, image)| {
            ImageRef::parse(image).ok().and_then(|i| i.private_ecr().map(|(_, region, _)| region)).as_deref()
                != Some(cx.region)
        })
        .collect();
    if !unreachable.is_empty() {
        for (var, image) in &unreachable {
            evidence.push(format!(
                "the sidecar image {image} ({var}) cannot be pulled through VPC endpoints, and a task whose sidecar                  image cannot be pulled does not start either"
            ));
        }
        let vars: Vec<&str> = unreachable.iter().map(|(var, _)| *var).collect();
        return fail(
            evidence,
            format!(
                "{fix}; or mirror the sidecar images into private ECR in {} and set {} to them (or turn the sidecars                  off: metrics = false, protect_running_pipelines = false)",
                cx.region,
                vars.join(" and ")
            ),
        );
    }
    let (found, missing) = endpoint_coverage(cx, image, rt);
    if !found.is_empty() {
        evidence.push(format!("VPC endpoints in use: {}", found.join(", ")));
    }
    if !missing.is_empty() {
        evidence.push(format!(
            "VPC endpoints missing: {}",
            missing.iter().map(|m| m.0.as_str()).collect::<Vec<_>>().join("; ")
        ));
        let creates = missing.iter().map(|m| m.1.clone()).collect::<Vec<_>>().join("; ");
        return fail(
            evidence,
            format!("{fix}; or, to run without internet access, create the missing endpoints: {creates}"),
        );
    }
    match cx.proxy {
        Some(proxy) => {
            evidence.push(format!(
                "AWS services through VPC endpoints; {} through the proxy {proxy} (agentctl cannot test the proxy)",
                cx.matillion.join(" and ")
            ));
            Verdict { status: Status::Pass, evidence, fix: None }
        }
        None => {
            evidence.push(format!(
                "the VPC endpoints cover the image pull and AWS APIs, but the agent must also reach {} over HTTPS, \
                 which no VPC endpoint serves",
                cx.matillion.join(" and ")
            ));
            fail(
                evidence,
                format!(
                    "{fix}; or set proxy_https to an HTTPS proxy reachable from {subnet} that can reach {}",
                    cx.matillion.join(" and ")
                ),
            )
        }
    }
}

/// (usable endpoints, [(what is missing, how to create it)]) for a subnet using `rt`.
fn endpoint_coverage(cx: &PathContext, image: &ImageRef, rt: &RouteTableFacts) -> (Vec<String>, Vec<(String, String)>) {
    let endpoints = cx.net.map(|n| n.vpc_endpoints.as_slice()).unwrap_or_default();
    let vpc = cx.net.and_then(|n| n.vpc.as_ref());
    let vpc_id = vpc.map_or("vpc-...", |v| v.id.as_str());
    let private_dns_works = vpc.is_none_or(|v| v.dns_support && v.dns_hostnames);
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for req in required_endpoints(image) {
        let service = format!("com.amazonaws.{}.{}", cx.region, req.service);
        let suffix = format!(".{}.{}", cx.region, req.service);
        let candidates: Vec<&VpcEndpointFacts> =
            endpoints.iter().filter(|e| e.service_name.ends_with(&suffix) && e.kind == req.kind).collect();
        let usable = candidates.iter().find(|e| {
            e.state.eq_ignore_ascii_case("available")
                && match req.kind {
                    EndpointKind::Interface => e.private_dns && private_dns_works,
                    EndpointKind::Gateway => e.route_table_ids.contains(&rt.id),
                }
        });
        if let Some(e) = usable {
            found.push(format!("{} ({})", req.service, e.id));
            continue;
        }
        let why = match candidates.first() {
            None => "none".to_owned(),
            Some(e) if !e.state.eq_ignore_ascii_case("available") => format!("{} is {}", e.id, e.state),
            Some(e) if req.kind == EndpointKind::Gateway => format!("{} is not associated with {}", e.id, rt.id),
            Some(e) if !e.private_dns => format!("{} has private DNS off", e.id),
            Some(e) => format!("{} needs DNS support and DNS hostnames on {vpc_id}", e.id),
        };
        let create = match (req.kind, candidates.first()) {
            (EndpointKind::Gateway, Some(e)) if e.state.eq_ignore_ascii_case("available") => {
                format!("aws ec2 modify-vpc-endpoint --vpc-endpoint-id {} --add-route-table-ids {}", e.id, rt.id)
            }
            (EndpointKind::Gateway, _) => format!(
                "aws ec2 create-vpc-endpoint --vpc-id {vpc_id} --vpc-endpoint-type Gateway --service-name {service} \
                 --route-table-ids {}",
                rt.id
            ),
            (EndpointKind::Interface, Some(e)) if e.state.eq_ignore_ascii_case("available") && !e.private_dns => {
                format!("aws ec2 modify-vpc-endpoint --vpc-endpoint-id {} --private-dns-enabled", e.id)
            }
            (EndpointKind::Interface, Some(e)) if e.state.eq_ignore_ascii_case("available") => format!(
                "aws ec2 modify-vpc-attribute --vpc-id {vpc_id} --enable-dns-hostnames '{{\"Value\":true}}' (and \
                 --enable-dns-support) for {}",
                e.id
            ),
            (EndpointKind::Interface, _) => format!(
                "aws ec2 create-vpc-endpoint --vpc-id {vpc_id} --vpc-endpoint-type Interface --service-name {service} \
                 --subnet-ids SUBNETS --security-group-ids SG_ALLOWING_443_FROM_TASKS --private-dns-enabled"
            ),
        };
        missing.push((format!("{} ({}, {}): {why}", req.service, kind_name(req.kind), req.purpose), create));
    }
    (found, missing)
}

fn kind_name(kind: EndpointKind) -> &'static str {
    match kind {
        EndpointKind::Interface => "interface",
        EndpointKind::Gateway => "gateway",
    }
}

// --- image and quota -------------------------------------------------------------------

pub fn check_image(facts: &DoctorFacts) -> Check {
    let agent = ImageToCheck {
        id: ids::IMAGE,
        title: "The image reference is well formed and its architecture matches the task (X86_64)",
        var: "image_url",
        image: &facts.image,
        lookup: &facts.image_lookup,
        usual: "public.ecr.aws/matillion/etl-agent:current",
    };
    image_check(&agent, facts)
}

/// A sidecar's image, checked as the agent's is.
pub fn check_sidecar_image(sidecar: &SidecarImageFacts, facts: &DoctorFacts) -> Check {
    let usual = crate::config::schema::lookup(&sidecar.var).and_then(|v| v.default).unwrap_or_default();
    let image = ImageToCheck {
        id: &format!("{}.{}", ids::IMAGE, sidecar.container),
        title: &format!(
            "The {} sidecar's image reference is well formed and its architecture matches the task (X86_64)",
            sidecar.container
        ),
        var: &sidecar.var,
        image: &sidecar.image,
        lookup: &sidecar.image_lookup,
        usual: usual.trim_matches('"'),
    };
    image_check(&image, facts)
}

/// The script runner's image, checked as the agent's is.
pub fn check_script_runner_image(runner: &ScriptRunnerFacts, facts: &DoctorFacts) -> Check {
    let image = ImageToCheck {
        id: ids::SCRIPT_RUNNER_IMAGE,
        title: "The script runner's image reference is well formed and its architecture matches the task (X86_64)",
        var: "script_runner_image_url",
        image: &runner.image,
        lookup: &runner.image_lookup,
        usual: "public.ecr.aws/matillion/maia-script-runner:current",
    };
    image_check(&image, facts)
}

/// One image a task runs, and where it is configured.
struct ImageToCheck<'a> {
    id: &'a str,
    title: &'a str,
    var: &'a str,
    image: &'a str,
    lookup: &'a ImageLookup,
    /// The image it usually is (its publisher's, on public.ecr.aws).
    usual: &'a str,
}

fn image_check(i: &ImageToCheck, facts: &DoctorFacts) -> Check {
    let (title, var, official) = (i.title, i.var, i.usual);
    let published = ImageRef::parse(official).ok();
    let image = match ImageRef::parse(i.image) {
        Ok(image) => image,
        Err(e) => {
            return Check::new(i.id, title, Status::Fail)
                .with(format!("{var} \"{}\" is not an image reference: {e}", i.image))
                .fix(format!("set {var} to {official}, or your private mirror"))
        }
    };
    let registry = image.registry.as_deref().unwrap_or("docker.io");
    let reference = match (&image.tag, &image.digest) {
        (_, Some(d)) => format!("digest {d}"),
        (Some(t), None) => format!("tag {t}"),
        (None, None) => "no tag (latest)".to_owned(),
    };
    let mut c = Check::new(i.id, title, Status::Pass)
        .with(format!("{} : registry {registry}, repository {}, {reference}", i.image, image.repository));
    let mut fixes = Vec::new();
    if facts.cpu_architecture != AGENT_ARCHITECTURE {
        c.status = Status::Fail;
        c = c.with(format!(
            "the task definition runs on {}, but the agent image is built for {AGENT_ARCHITECTURE} only",
            facts.cpu_architecture
        ));
        fixes.push(format!(
            "set the task definition's runtimePlatform.cpuArchitecture to {AGENT_ARCHITECTURE}: agentctl apply \
             registers it that way"
        ));
    } else {
        c = c.with(format!("task architecture {AGENT_ARCHITECTURE}"));
    }
    match i.lookup {
        ImageLookup::Platforms(platforms) if platforms.iter().any(|p| p == "linux/amd64") => {
            c = c.with(format!("image platforms (from its manifest): {}", platforms.join(", ")));
        }
        ImageLookup::Platforms(platforms) => {
            c.status = Status::Fail;
            c = c.with(format!("the image is built for {} only, not linux/amd64", platforms.join(", ")));
            fixes.push(format!("push a linux/amd64 build to {} (copy it from {official})", i.image));
        }
        ImageLookup::NotFound(why) => {
            c.status = Status::Fail;
            c = c.with(format!("the registry has no such image, so no task can pull it: {why}"));
            fixes.push(format!("check the repository and tag of {var} (\"{}\"), or push the image there", i.image));
        }
        ImageLookup::Unreachable(why) => {
            c.status = c.status.max(Status::Warn);
            c = c.with(format!("the image's manifest could not be read, so its platforms are not verified: {why}"));
        }
        ImageLookup::NotRead(why) => {
            c = c.with(format!(
                "the image's manifest was not read ({why}), so its platforms are not verified (Matillion publishes \
                 linux/amd64)"
            ));
        }
    }
    let publishers = published.is_some_and(|p| p.registry == image.registry && p.repository == image.repository);
    if publishers && image.tag.is_none() && image.digest.is_none() {
        c.status = c.status.max(Status::Warn);
        c = c.with("no tag: the pull asks for :latest, which its publisher does not promise to publish");
        fixes.push(format!("add a tag: {official}"));
    }
    if let Some((account, region, _)) = image.private_ecr() {
        if region != facts.region {
            c.status = c.status.max(Status::Warn);
            c = c.with(format!(
                "the image is in ECR of {region}, the tasks run in {}: every pull crosses regions (internet path \
                 needed, cross-region transfer billed)",
                facts.region
            ));
            fixes.push(format!("replicate the repository to {} and point {var} at the copy", facts.region));
        }
        if let Credentials::Valid { account: caller, .. } = &facts.credentials {
            if caller != &account {
                c = c.with(format!(
                    "the repository belongs to account {account}, not {caller}: its repository policy must allow \
                     pulls by the task execution role"
                ));
            }
        }
    }
    if !fixes.is_empty() {
        c = c.fix(fixes.join("\n"));
    }
    c
}

pub fn check_vcpu_quota(facts: &DoctorFacts, max_percent: u32) -> Check {
    let title = "The Fargate On-Demand vCPU quota covers max scale during a rolling deploy";
    let vcpu = f64::from(facts.task_cpu) / 1024.0;
    let peak = peak_tasks(facts.max_count, max_percent);
    let agent_need = f64::from(peak) * vcpu;
    let agent = format!(
        "{} task{} at max scale × {max_percent}% during a rolling deploy = {peak} tasks × {} vCPU",
        facts.max_count,
        if facts.max_count == 1 { "" } else { "s" },
        fmt_num(vcpu)
    );
    let (need, need_line) = match &facts.script_runner {
        None => (agent_need, format!("needs {} vCPU: {agent}", fmt_num(agent_need))),
        Some(runner) => {
            // Its service deploys with the same 200% maximum.
            let runner_peak = peak_tasks(runner.desired_count, 200);
            let runner_vcpu = f64::from(runner.task_cpu) / 1024.0;
            let need = agent_need + f64::from(runner_peak) * runner_vcpu;
            let line = format!(
                "needs {} vCPU: the agent's {agent}, and the script runner's {runner_peak} tasks × {} vCPU",
                fmt_num(need),
                fmt_num(runner_vcpu)
            );
            (need, line)
        }
    };
    let request = |at_least: f64| {
        format!(
            "request a higher quota: aws service-quotas request-service-quota-increase --service-code fargate \
             --quota-code {FARGATE_ON_DEMAND_VCPU_QUOTA_CODE} --desired-value {} --region {}",
            fmt_num(at_least.ceil()),
            facts.region
        )
    };
    let Some(quota) = facts.fargate_vcpu_quota else {
        return Check::new(ids::VCPU_QUOTA, title, Status::Warn)
            .with(need_line)
            .with(format!("the quota ({FARGATE_ON_DEMAND_VCPU_QUOTA_CODE}) was not read"))
            .fix(format!(
                "check \"Fargate On-Demand vCPU resource count\" in Service Quotas for {}: it must be at least {}",
                facts.region,
                fmt_num(need)
            ));
    };
    let c = Check::new(ids::VCPU_QUOTA, title, Status::Pass).with(need_line).with(format!(
        "quota in {}: {} vCPU",
        facts.region,
        fmt_num(quota)
    ));
    if need > quota {
        let mut c = c.fix(request(need + facts.fargate_vcpu_in_use.unwrap_or(0.0)));
        c.status = Status::Fail;
        return c.with(format!("{} vCPU more than the quota", fmt_num(need - quota)));
    }
    match facts.fargate_vcpu_in_use {
        Some(used) if need > quota - used => {
            let mut c = c
                .with(format!(
                    "other Fargate tasks in {} use {} vCPU, leaving {}",
                    facts.region,
                    fmt_num(used),
                    fmt_num(quota - used)
                ))
                .fix(request(need + used));
            c.status = Status::Warn;
            c
        }
        Some(used) => c.with(format!("other Fargate tasks use {} vCPU; {} left", fmt_num(used), fmt_num(quota - used))),
        None => c,
    }
}

/// 2 → "2", 0.5 → "0.5"
fn fmt_num(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_counts_the_rolling_surge() {
        assert_eq!(peak_tasks(2, 200), 4);
        assert_eq!(peak_tasks(3, 150), 5);
        assert_eq!(peak_tasks(3, 100), 3);
        assert_eq!(peak_tasks(0, 200), 0);
    }

    #[test]
    fn egress_rule_matching() {
        let rule = |p: &str, ports, d: &str| EgressRuleFacts { protocol: p.into(), ports, destination: d.into() };
        assert!(allows(&rule("-1", None, "0.0.0.0/0"), "tcp", 443));
        assert!(allows(&rule("6", Some((400, 500)), "0.0.0.0/0"), "tcp", 443));
        assert!(!allows(&rule("tcp", Some((80, 80)), "0.0.0.0/0"), "tcp", 443));
        assert!(!allows(&rule("udp", Some((53, 53)), "0.0.0.0/0"), "tcp", 53));
        assert!(allows(&rule("17", Some((53, 53)), "10.0.0.2/32"), "udp", 53));
    }

    #[test]
    fn matillion_hosts_per_region() {
        assert_eq!(
            matillion_hosts("eu1").unwrap(),
            vec!["keycloak.core.matillion.com", "opentelemetry.eu1.core.matillion.com"]
        );
        assert!(matillion_hosts("eu-west-1").is_none());
    }
}
