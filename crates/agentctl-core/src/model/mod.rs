//! The desired state: every resource of one deployment, typed, with deterministic
//! names, the ownership tag, every attribute, and the dependency graph.
//!
//! Values not knowable before apply (a VPC id, a secret's ARN suffix, a task
//! definition revision) are references written `${address.attribute}`; everything
//! else, ARNs included, is computed from the name, region and AWS account.

mod build;
pub mod iam;
pub mod spec;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

pub use build::{build, AGENT_CONTAINER};
pub use spec::*;

use crate::secret::SecretString;

/// Every tag agentctl owns starts with this; users may not use it.
pub const OWNERSHIP_TAG_PREFIX: &str = "agentctl:";
/// Marks a resource as created by agentctl for the deployment named in its value.
pub const OWNERSHIP_TAG: &str = "agentctl:deployment";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Vpc,
    InternetGateway,
    Subnet,
    RouteTable,
    SecurityGroup,
    Secret,
    IamRole,
    S3Bucket,
    LogGroup,
    FlowLog,
    EcsCluster,
    TaskDefinition,
    EcsService,
    ScalableTarget,
    ScalingPolicy,
    ScheduledAction,
    Alarm,
    Dashboard,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Vpc => "vpc",
            Kind::InternetGateway => "internet_gateway",
            Kind::Subnet => "subnet",
            Kind::RouteTable => "route_table",
            Kind::SecurityGroup => "security_group",
            Kind::Secret => "secret",
            Kind::IamRole => "iam_role",
            Kind::S3Bucket => "s3_bucket",
            Kind::LogGroup => "log_group",
            Kind::FlowLog => "flow_log",
            Kind::EcsCluster => "ecs_cluster",
            Kind::TaskDefinition => "task_definition",
            Kind::EcsService => "ecs_service",
            Kind::ScalableTarget => "scalable_target",
            Kind::ScalingPolicy => "scaling_policy",
            Kind::ScheduledAction => "scheduled_action",
            Kind::Alarm => "alarm",
            Kind::Dashboard => "dashboard",
        }
    }
    /// Human noun for progress and messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Vpc => "VPC",
            Kind::InternetGateway => "internet gateway",
            Kind::Subnet => "subnet",
            Kind::RouteTable => "route table",
            Kind::SecurityGroup => "security group",
            Kind::Secret => "secret",
            Kind::IamRole => "IAM role",
            Kind::S3Bucket => "S3 bucket",
            Kind::LogGroup => "log group",
            Kind::FlowLog => "VPC flow log",
            Kind::EcsCluster => "ECS cluster",
            Kind::TaskDefinition => "task definition",
            Kind::EcsService => "ECS service",
            Kind::ScalableTarget => "scalable target",
            Kind::ScalingPolicy => "scaling policy",
            Kind::ScheduledAction => "scheduled action",
            Kind::Alarm => "CloudWatch alarm",
            Kind::Dashboard => "CloudWatch dashboard",
        }
    }

    /// Kinds AWS lets agentctl tag. The others belong to a tagged resource of
    /// ours (the service, by its resource id) and are found through it.
    pub fn taggable(self) -> bool {
        !matches!(self, Kind::ScalableTarget | Kind::ScalingPolicy | Kind::ScheduledAction | Kind::Dashboard)
    }
}

/// Where a resource sits in the stack, e.g. `subnet.a` or `iam_role.execution`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: Kind,
    pub key: &'static str,
}

impl Address {
    pub const fn new(kind: Kind, key: &'static str) -> Self {
        Self { kind, key }
    }
    /// An address keyed by a name known only at run time (a schedule, a resource
    /// found in AWS). A run makes a handful of these, so leaking them is fine.
    pub fn named(kind: Kind, key: &str) -> Self {
        Self { kind, key: Box::leak(key.to_owned().into_boxed_str()) }
    }
    /// `${addr.attr}`: a value known once this resource exists.
    pub fn reference(&self, attr: &str) -> String {
        format!("${{{self}.{attr}}}")
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind.as_str(), self.key)
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

pub mod addr {
    use super::{Address, Kind};
    pub const VPC: Address = Address::new(Kind::Vpc, "main");
    pub const IGW: Address = Address::new(Kind::InternetGateway, "main");
    pub const SUBNET_A: Address = Address::new(Kind::Subnet, "a");
    pub const SUBNET_B: Address = Address::new(Kind::Subnet, "b");
    pub const ROUTE_TABLE: Address = Address::new(Kind::RouteTable, "public");
    pub const SECURITY_GROUP: Address = Address::new(Kind::SecurityGroup, "agent");
    pub const SECRET: Address = Address::new(Kind::Secret, "credentials");
    pub const EXECUTION_ROLE: Address = Address::new(Kind::IamRole, "execution");
    pub const TASK_ROLE: Address = Address::new(Kind::IamRole, "task");
    pub const BUCKET: Address = Address::new(Kind::S3Bucket, "staging");
    pub const LOG_GROUP: Address = Address::new(Kind::LogGroup, "agent");
    pub const FLOW_LOG_GROUP: Address = Address::new(Kind::LogGroup, "flow_logs");
    pub const FLOW_LOG_ROLE: Address = Address::new(Kind::IamRole, "flow_logs");
    pub const FLOW_LOG: Address = Address::new(Kind::FlowLog, "vpc");
    pub const CLUSTER: Address = Address::new(Kind::EcsCluster, "main");
    pub const TASK_DEFINITION: Address = Address::new(Kind::TaskDefinition, "agent");
    pub const SERVICE: Address = Address::new(Kind::EcsService, "agent");
    pub const SCALABLE_TARGET: Address = Address::new(Kind::ScalableTarget, "agent");
    pub const DASHBOARD: Address = Address::new(Kind::Dashboard, "agent");
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub addr: Address,
    /// The AWS name, or the `Name` tag for network resources that have no name.
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub spec: Spec,
    pub depends_on: Vec<Address>,
    /// Attributes set at creation and then left to someone else (autoscaling
    /// owns the service's desired count): never shown as changes, never updated.
    pub ignore_changes: Vec<&'static str>,
}

/// Facts about the target account that names and ARNs need. Offline, the account
/// is unknown and shows as a placeholder.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub aws_account_id: Option<String>,
    /// Availability Zones of the region open to the account, sorted; new
    /// subnets go in the first two. Zone letters differ between accounts, so
    /// they are read, not assumed.
    pub availability_zones: Option<Vec<String>>,
}

impl Context {
    pub fn account(&self) -> &str {
        self.aws_account_id.as_deref().unwrap_or(crate::names::ACCOUNT_PLACEHOLDER)
    }

    /// The n-th zone for new subnets, or a reference known after apply.
    pub fn zone(&self, n: usize) -> String {
        match self.availability_zones.as_ref().and_then(|z| z.get(n)) {
            Some(z) => z.clone(),
            None => format!("${{aws.availability_zones[{n}]}}"),
        }
    }
}

/// Resources that exist already and are used, never changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExistingNetwork {
    pub vpc_id: Option<String>,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Stack {
    /// The deployment name (`name`), value of the ownership tag.
    pub deployment: String,
    pub region: String,
    pub resources: Vec<Resource>,
    pub existing: ExistingNetwork,
    /// What the agent may reach that the stack does not own (secrets, buckets,
    /// managed policies): doctor checks them, iam-policy lets it.
    pub access: crate::config::AgentAccess,
}

impl Stack {
    pub fn get(&self, addr: Address) -> Option<&Resource> {
        self.resources.iter().find(|r| r.addr == addr)
    }

    /// Resources grouped by dependency depth: every resource of level n depends
    /// only on resources of levels < n. Apply runs one level's worth concurrently
    /// at most, destroy walks the levels backwards.
    pub fn levels(&self) -> Vec<Vec<Address>> {
        let mut level: BTreeMap<Address, usize> = BTreeMap::new();
        let mut remaining: Vec<&Resource> = self.resources.iter().collect();
        while !remaining.is_empty() {
            let before = remaining.len();
            remaining.retain(|r| {
                let deps: Option<Vec<usize>> = r.depends_on.iter().map(|d| level.get(d).copied()).collect();
                match deps {
                    Some(deps) => {
                        level.insert(r.addr, deps.into_iter().map(|l| l + 1).max().unwrap_or(0));
                        false
                    }
                    None => true,
                }
            });
            assert!(remaining.len() < before, "dependency cycle or missing dependency in the stack model");
        }
        let depth = level.values().max().map_or(0, |m| m + 1);
        let mut out = vec![Vec::new(); depth];
        for r in &self.resources {
            out[level[&r.addr]].push(r.addr);
        }
        out
    }

    /// Addresses that depend on `addr`, directly.
    pub fn dependents(&self, addr: Address) -> BTreeSet<Address> {
        self.resources.iter().filter(|r| r.depends_on.contains(&addr)).map(|r| r.addr).collect()
    }
}

/// One attribute as plan and diff see it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Plain(serde_json::Value),
    Sensitive(SecretString),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    pub key: String,
    pub value: AttrValue,
    /// Changing this attribute needs a new resource (or revision).
    pub forces_replacement: bool,
}
