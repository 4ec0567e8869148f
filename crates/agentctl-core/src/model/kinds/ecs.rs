//! ECS: the cluster, the agent's task definition and its service.

use serde::Serialize;

use super::KindFacts;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSpec {
    pub container_insights: String,
    /// FARGATE and FARGATE_SPOT when the service uses a capacity mix.
    pub capacity_providers: Vec<String>,
}

impl ClusterSpec {
    pub const FACTS: KindFacts = KindFacts {
        name: "ecs_cluster",
        noun: "ECS cluster",
        taggable: true,
        terraform_type: "aws_ecs_cluster",
        revisions: false,
        replaced_on: &[],
    };
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CapacityItem {
    pub provider: String,
    pub base: u32,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct KeyValue {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SecretRef {
    pub name: String,
    #[serde(rename = "valueFrom")]
    pub value_from: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct MountPoint {
    pub source_volume: String,
    pub container_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ContainerDependency {
    pub container_name: String,
    /// START, COMPLETE, SUCCESS or HEALTHY.
    pub condition: String,
}

/// A port the container listens on; the name is what Service Connect refers to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PortMapping {
    pub name: String,
    pub container_port: u16,
    /// "tcp" or "udp".
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub essential: bool,
    /// Overrides the image's command; empty keeps it.
    pub command: Vec<String>,
    /// CPU units reserved for this container; `None` shares the task's.
    pub cpu: Option<u32>,
    /// MiB reserved for this container (a soft limit): what sidecars take is
    /// known, the rest of the task's memory is the agent's.
    pub memory_reservation: Option<u32>,
    /// Sorted. The agent's container has none: it serves nothing to others.
    pub port_mappings: Vec<PortMapping>,
    /// Sorted by name: ECS does not keep order and order means nothing.
    pub environment: Vec<KeyValue>,
    pub secrets: Vec<SecretRef>,
    /// `None`: the image's own user.
    pub user: Option<String>,
    pub readonly_root_filesystem: bool,
    pub mount_points: Vec<MountPoint>,
    pub log_driver: String,
    pub log_options: std::collections::BTreeMap<String, String>,
    /// Seconds between SIGTERM and SIGKILL (Fargate's maximum is 120).
    pub stop_timeout: u32,
    pub depends_on: Vec<ContainerDependency>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskDefinitionSpec {
    pub family: String,
    pub cpu: u32,
    pub memory: u32,
    pub ephemeral_storage_gib: Option<u32>,
    pub network_mode: String,
    pub requires_compatibilities: Vec<String>,
    pub cpu_architecture: String,
    pub operating_system_family: String,
    pub execution_role_arn: String,
    pub task_role_arn: String,
    pub volumes: Vec<String>,
    pub containers: Vec<ContainerSpec>,
}

impl TaskDefinitionSpec {
    /// Task definitions are immutable: any change is a new revision.
    pub const FACTS: KindFacts = KindFacts {
        name: "task_definition",
        noun: "task definition",
        taggable: true,
        terraform_type: "aws_ecs_task_definition",
        revisions: true,
        replaced_on: super::EVERY_ATTRIBUTE,
    };
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSpec {
    pub cluster: String,
    pub task_definition: String,
    pub desired_count: u32,
    pub platform_version: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
    pub circuit_breaker_rollback: bool,
    pub minimum_healthy_percent: u32,
    pub maximum_percent: u32,
    pub propagate_tags: String,
    /// Always a strategy, never a launch type: a service can move between
    /// strategies in place, but not from a launch type back.
    pub capacity_provider_strategy: Vec<CapacityItem>,
    /// ECS Service Connect; `None` is off.
    pub service_connect: Option<ServiceConnect>,
}

/// A service's place in a Service Connect namespace: a client of it, and a
/// server of `services` when there are any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceConnect {
    /// ARN of the Cloud Map namespace.
    pub namespace: String,
    pub services: Vec<ServiceConnectService>,
}

/// A named port of the task, reachable in the namespace as `dns_name:port`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ServiceConnectService {
    pub port_name: String,
    pub dns_name: String,
    pub port: u16,
}

impl ServiceSpec {
    pub const FACTS: KindFacts = KindFacts {
        name: "ecs_service",
        noun: "ECS service",
        taggable: true,
        terraform_type: "aws_ecs_service",
        revisions: false,
        replaced_on: &["cluster"],
    };
}
