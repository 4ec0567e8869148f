//! The desired state: every resource of one deployment, typed, with deterministic
//! names, the ownership tag, every attribute, and the dependency graph.
//!
//! Values not knowable before apply (a VPC id, a secret's ARN suffix, a task
//! definition revision) are references written `${address.attribute}`; everything
//! else, ARNs included, is computed from the name, region and AWS account.

mod build;
mod ecs_service;
pub mod iam;
mod kinds;
mod sidecars;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

pub use build::{build, AGENT_CONTAINER, SCRIPT_RUNNER_CONTAINER, SCRIPT_RUNNER_DNS_NAME, SCRIPT_RUNNER_PORT};
pub use ecs_service::{EcsServiceView, ServiceRole};
pub use kinds::*;
pub use sidecars::{
    guard_log_stream, GUARD_CONTAINER, GUARD_LOG_PREFIX, GUARD_SCRIPT, GUARD_SHARE, METRICS_CONTAINER,
    METRICS_NAMESPACE, METRICS_SHARE,
};

use crate::secret::SecretString;

/// Every tag agentctl owns starts with this; users may not use it.
pub const OWNERSHIP_TAG_PREFIX: &str = "agentctl:";
/// Marks a resource as created by agentctl for the deployment named in its value.
pub const OWNERSHIP_TAG: &str = "agentctl:deployment";

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
    pub const NAMESPACE: Address = Address::new(Kind::HttpNamespace, "main");
    pub const SCRIPT_RUNNER_SECURITY_GROUP: Address = Address::new(Kind::SecurityGroup, "script_runner");
    pub const RUNNER_KEYPAIR_SECRET: Address = Address::new(Kind::Secret, "runner_keypair");
    pub const SCRIPT_RUNNER_ROLE: Address = Address::new(Kind::IamRole, "script_runner");
    pub const SCRIPT_RUNNER_LOG_GROUP: Address = Address::new(Kind::LogGroup, "script_runner");
    pub const SCRIPT_RUNNER_TASK_DEFINITION: Address = Address::new(Kind::TaskDefinition, "script_runner");
    pub const SCRIPT_RUNNER_SERVICE: Address = Address::new(Kind::EcsService, "script_runner");
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
    /// An ECS service whose dependents start only once its deployment is
    /// steady (the script runner: agents must find its alias at launch).
    pub wait_for_steady_state: bool,
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
    /// Where new subnets go in an existing VPC when the config leaves it to
    /// agentctl: the first free ranges of the VPC, or the ranges its subnets of
    /// an earlier apply already have.
    pub subnet_cidr_blocks: Option<[String; 2]>,
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

    /// The ranges of new subnets in an existing VPC that the config leaves to
    /// agentctl, or references known once the VPC is read.
    pub fn free_subnet_ranges(&self) -> [String; 2] {
        self.subnet_cidr_blocks.clone().unwrap_or_else(|| [0, 1].map(|n| format!("${{aws.free_cidr_blocks[{n}]}}")))
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

    /// The deployment's names, in `account` when known.
    pub fn names(&self, account: Option<&str>) -> crate::names::Names {
        let given = crate::names::GivenNames {
            secret: self.get(addr::SECRET).map(|r| r.name.as_str()),
            runner_keypair_secret: self.get(addr::RUNNER_KEYPAIR_SECRET).map(|r| r.name.as_str()),
        };
        crate::names::Names::new(&self.deployment, account, &self.region, given)
    }

    /// Addresses that depend on `addr`, directly.
    pub fn dependents(&self, addr: Address) -> BTreeSet<Address> {
        self.resources.iter().filter(|r| r.depends_on.contains(&addr)).map(|r| r.addr).collect()
    }
}

/// How deep `addr` sits in the dependency graph of a stack that has every
/// kind: 0 for what depends on nothing. Destroy deletes the deepest first, so a
/// resource goes only after everything that may depend on it (the script
/// runner's security group before the agent's, which its rule names). An
/// address named at run time (a schedule, an alarm, a renamed secret) takes
/// the deepest level of its kind. Derived from `build`'s own edges, never
/// kept by hand.
pub fn depth(addr: Address) -> usize {
    struct Depths {
        of_address: BTreeMap<Address, usize>,
        of_kind: BTreeMap<Kind, usize>,
    }
    static DEPTHS: std::sync::OnceLock<Depths> = std::sync::OnceLock::new();
    let depths = DEPTHS.get_or_init(|| {
        let mut d = Depths { of_address: BTreeMap::new(), of_kind: BTreeMap::new() };
        for (level, addrs) in stack_with_every_kind().levels().into_iter().enumerate() {
            for a in addrs {
                d.of_address.insert(a, level);
                let k = d.of_kind.entry(a.kind).or_insert(level);
                *k = (*k).max(level);
            }
        }
        d
    });
    depths.of_address.get(&addr).or_else(|| depths.of_kind.get(&addr.kind)).copied().unwrap_or(0)
}

/// A deployment that uses every kind (a test proves it does).
fn stack_with_every_kind() -> Stack {
    const CONFIG: &str = r#"
        name = "every-kind"
        region = "us-east-1"
        account_id = "6b1f3c9e-2d4a-4c8b-9f1e-0a7d5c3b2e1f"
        agent_id = "0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"
        vpc_flow_logs = true
        metrics = true
        autoscaling = { min = 1, max = 4, cpu_target = 60 }
        schedules = [{ name = "night", schedule = "cron(0 20 * * ? *)", min = 1, max = 1 }]
        alarms = { dashboard = true }
        enable_script_runner = true
    "#;
    let loaded = crate::config::load(
        crate::diagnostics::SourceFile::new("every-kind.tfvars", CONFIG.to_owned()),
        &crate::config::Env::default(),
        crate::config::CredentialsNeeded::No,
    )
    .expect("the every-kind config is valid");
    build(&loaded.config, &Context::default())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_every_kind_stack_has_every_kind_and_depths_follow_the_edges() {
        let stack = stack_with_every_kind();
        for kind in Kind::ALL {
            assert!(stack.resources.iter().any(|r| r.addr.kind == *kind), "{kind:?} missing: add it to the config");
        }
        // Every dependency of a resource is shallower, so deleting the deepest
        // first never deletes something still in use.
        for r in &stack.resources {
            for d in &r.depends_on {
                assert!(depth(*d) < depth(r.addr), "{} depends on {d}", r.addr);
            }
        }
        assert_eq!(depth(addr::VPC), 0);
        assert!(depth(addr::SCALABLE_TARGET) > depth(addr::SERVICE));
        assert!(depth(addr::SERVICE) > depth(addr::SCRIPT_RUNNER_SERVICE));
        assert!(depth(addr::SCRIPT_RUNNER_SECURITY_GROUP) > depth(addr::SECURITY_GROUP));
        // Named at run time: as deep as the deepest of its kind.
        let schedule = Address::named(Kind::ScheduledAction, "later");
        assert!(depth(schedule) > depth(addr::SCALABLE_TARGET));
    }
}
