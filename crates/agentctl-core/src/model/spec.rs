//! Typed attributes of each resource kind. Adapters read live AWS state into the
//! same types, so a diff compares like with like.

use serde::Serialize;
use serde_json::Value;

use super::{Attr, AttrValue};
use crate::secret::SecretString;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VpcSpec {
    pub cidr_block: String,
    pub enable_dns_support: bool,
    pub enable_dns_hostnames: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InternetGatewaySpec {
    pub vpc_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubnetSpec {
    pub vpc_id: String,
    pub cidr_block: String,
    pub availability_zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Route {
    pub destination: String,
    pub gateway_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteTableSpec {
    pub vpc_id: String,
    pub routes: Vec<Route>,
    /// Sorted, so order never shows as a change.
    pub subnet_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct EgressRule {
    /// "-1" is every protocol.
    pub protocol: String,
    /// "all", "443" or "1024-2048".
    pub ports: String,
    pub cidr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecurityGroupSpec {
    pub vpc_id: String,
    pub description: String,
    /// No ingress: the agent serves nothing; it only calls out.
    pub ingress: Vec<EgressRule>,
    pub egress: Vec<EgressRule>,
}

/// The secret's value is the JSON `{"client_id": .., "client_secret": ..}`; it is
/// only ever compared in memory. A stack built from a config loaded without the
/// credentials has no value, and nothing can write its secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecretSpec {
    pub description: String,
    /// Customer managed KMS key; `None` is the AWS managed key aws/secretsmanager.
    pub kms_key_id: Option<String>,
    #[serde(skip)]
    pub value: Option<SecretString>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleSpec {
    pub description: String,
    pub assume_role_policy: Value,
    /// Inline policies by name.
    pub policies: std::collections::BTreeMap<String, Value>,
    /// Attached managed policies, sorted; agentctl owns exactly this set.
    pub managed_policy_arns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketSpec {
    pub block_public_access: bool,
    /// `AES256` (SSE-S3) or `aws:kms` (SSE-KMS with `kms_key_id`).
    pub encryption: String,
    pub kms_key_id: Option<String>,
    /// S3 Bucket Key: one KMS data key per bucket, not a KMS request per object.
    pub bucket_key: bool,
    pub object_ownership: String,
    pub policy: Value,
    /// Once on, S3 can only suspend versioning: `false` reads as suspended or never on.
    pub versioning: bool,
    pub lifecycle: Option<BucketLifecycle>,
    pub access_logs: Option<AccessLogs>,
}

/// Id of the lifecycle rule agentctl keeps on the staging bucket.
pub const LIFECYCLE_RULE_ID: &str = "agentctl-staging";

/// The one lifecycle rule agentctl keeps on the staging bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketLifecycle {
    pub abort_incomplete_upload_days: u32,
    /// Current objects expire this many days after they are written.
    pub expiration_days: Option<u32>,
    /// Days a version is kept once it is no longer current (versioned buckets).
    pub noncurrent_expiration_days: Option<u32>,
}

/// Server access logs delivered to another bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessLogs {
    pub bucket: String,
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogGroupSpec {
    /// `None`: never expire.
    pub retention_in_days: Option<u32>,
    /// Customer managed KMS key; `None` is CloudWatch Logs' own encryption.
    pub kms_key_id: Option<String>,
}

/// VPC flow logs to a CloudWatch log group. AWS changes none of it in place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowLogSpec {
    pub vpc_id: String,
    /// ACCEPT, REJECT or ALL.
    pub traffic_type: String,
    pub log_group_name: String,
    pub deliver_logs_role_arn: String,
    /// Seconds: 60 or 600.
    pub max_aggregation_interval: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSpec {
    pub container_insights: String,
    /// FARGATE and FARGATE_SPOT when the service uses a capacity mix.
    pub capacity_providers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CapacityItem {
    pub provider: String,
    pub base: u32,
    pub weight: u32,
}

/// Application Auto Scaling target on the service's DesiredCount.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalableTargetSpec {
    /// `service/CLUSTER/SERVICE`
    pub resource_id: String,
    pub min: u32,
    pub max: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalingPolicySpec {
    pub resource_id: String,
    /// A predefined metric (ECSServiceAverageCPUUtilization, ...) or
    /// `NAMESPACE/METRIC` of the agent's own metrics.
    pub metric: String,
    pub target: f64,
    pub scale_in_cooldown: u32,
    pub scale_out_cooldown: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduledActionSpec {
    pub resource_id: String,
    pub schedule: String,
    pub timezone: Option<String>,
    pub min: Option<u32>,
    pub max: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmSpec {
    pub description: String,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: std::collections::BTreeMap<String, String>,
    pub statistic: String,
    pub comparison: String,
    pub threshold: f64,
    pub period: u32,
    pub evaluation_periods: u32,
    pub treat_missing_data: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DashboardSpec {
    pub body: Value,
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub essential: bool,
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
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Spec {
    Vpc(VpcSpec),
    InternetGateway(InternetGatewaySpec),
    Subnet(SubnetSpec),
    RouteTable(RouteTableSpec),
    SecurityGroup(SecurityGroupSpec),
    Secret(SecretSpec),
    IamRole(RoleSpec),
    S3Bucket(BucketSpec),
    LogGroup(LogGroupSpec),
    FlowLog(FlowLogSpec),
    EcsCluster(ClusterSpec),
    TaskDefinition(TaskDefinitionSpec),
    EcsService(ServiceSpec),
    ScalableTarget(ScalableTargetSpec),
    ScalingPolicy(ScalingPolicySpec),
    ScheduledAction(ScheduledActionSpec),
    Alarm(AlarmSpec),
    Dashboard(DashboardSpec),
}

impl Spec {
    /// Attributes whose change needs a new resource; every other attribute
    /// updates in place.
    fn replaced_on(&self) -> &'static [&'static str] {
        match self {
            Spec::Vpc(_) => &["cidr_block"],
            Spec::InternetGateway(_) => &["vpc_id"],
            Spec::Subnet(_) => &["vpc_id", "cidr_block", "availability_zone"],
            Spec::RouteTable(_) => &["vpc_id"],
            Spec::SecurityGroup(_) => &["vpc_id", "description"],
            Spec::Secret(_) | Spec::IamRole(_) | Spec::S3Bucket(_) | Spec::LogGroup(_) | Spec::EcsCluster(_) => &[],
            // Task definitions are immutable: any change is a new revision.
            Spec::TaskDefinition(_) | Spec::FlowLog(_) => &["*"],
            Spec::EcsService(_) => &["cluster"],
            Spec::ScalableTarget(_)
            | Spec::ScalingPolicy(_)
            | Spec::ScheduledAction(_)
            | Spec::Alarm(_)
            | Spec::Dashboard(_) => &[],
        }
    }

    /// Flattened top-level attributes, sensitive ones included as `Sensitive`.
    pub fn attrs(&self) -> Vec<Attr> {
        let replaced = self.replaced_on();
        let Value::Object(fields) = serde_json::to_value(self).expect("specs serialize") else {
            unreachable!("every spec is a struct")
        };
        let mut attrs: Vec<Attr> = fields
            .into_iter()
            .map(|(key, value)| Attr {
                forces_replacement: replaced.contains(&"*") || replaced.contains(&key.as_str()),
                key,
                value: AttrValue::Plain(value),
            })
            .collect();
        if let Spec::Secret(SecretSpec { value: Some(value), .. }) = self {
            attrs.push(Attr {
                key: "secret_string".into(),
                value: AttrValue::Sensitive(value.clone()),
                forces_replacement: false,
            });
        }
        attrs
    }
}
