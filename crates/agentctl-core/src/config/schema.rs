//! Every variable agentctl reads: its name, type, default and meaning.
//!
//! Names, types and defaults follow the reference Terraform module so an existing
//! `terraform.tfvars` keeps working. This table is the one source of the
//! defaults: the validator falls back to them, and a test checks that the
//! README's configuration reference shows each variable's type and default.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::value::{self, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    String,
    Number,
    Bool,
    ListOfString,
    MapOfString,
    /// An HCL object with the fields its validator knows.
    Object,
    ListOfObject,
}

impl Ty {
    pub fn name(self) -> &'static str {
        match self {
            Ty::String => "string",
            Ty::Number => "number",
            Ty::Bool => "bool",
            Ty::ListOfString => "list(string)",
            Ty::MapOfString => "map(string)",
            Ty::Object => "object",
            Ty::ListOfObject => "list(object)",
        }
    }
}

#[derive(Debug)]
pub struct Variable {
    pub name: &'static str,
    pub ty: Ty,
    /// Default as HCL text; `None` means required.
    pub default: Option<&'static str>,
    pub sensitive: bool,
    pub description: &'static str,
}

impl Variable {
    /// The default as a value (`Null` for a required variable), parsed from its
    /// HCL text once.
    pub fn default_value(&self) -> &'static Value {
        static PARSED: LazyLock<HashMap<&'static str, Value>> = LazyLock::new(|| {
            VARIABLES.iter().map(|v| (v.name, v.default.map_or(Value::Null, parse_default))).collect()
        });
        &PARSED[self.name]
    }
}

fn parse_default(text: &str) -> Value {
    let expr = hcl_edit::parser::parse_expr(text).unwrap_or_else(|e| panic!("schema default {text:?} is not HCL: {e}"));
    value::from_expr(&expr).value
}

const fn var(name: &'static str, ty: Ty, default: Option<&'static str>, description: &'static str) -> Variable {
    Variable { name, ty, default, sensitive: false, description }
}

pub const VARIABLES: &[Variable] = &[
    var("name", Ty::String, Some("\"data-insights\""), "Prefix of every resource name."),
    var("region", Ty::String, None, "AWS region to deploy into."),
    var("image_url", Ty::String, Some("\"public.ecr.aws/matillion/etl-agent:current\""), "Agent container image (`:current` or `:stable`, or your own mirror)."),
    var("account_id", Ty::String, None, "Matillion Hub account id."),
    var("agent_id", Ty::String, None, "Matillion Hub agent id."),
    var("matillion_region", Ty::String, Some("\"eu1\""), "Matillion region code (eu1, us1), not an AWS region."),
    var("matillion_environment", Ty::String, Some("\"\""), "Internal; sets MATILLION_ENV only when non-empty."),
    var("extension_library_location", Ty::String, Some("\"\""), "Where the agent loads extra Python libraries from."),
    var("extension_library_protocol", Ty::String, Some("\"\""), "Protocol of extension_library_location (e.g. S3)."),
    Variable { name: "client_id", ty: Ty::String, default: None, sensitive: true, description: "Agent OAuth client id (sensitive). Prefer TF_VAR_client_id." },
    Variable { name: "client_secret", ty: Ty::String, default: None, sensitive: true, description: "Agent OAuth client secret (sensitive). Prefer TF_VAR_client_secret." },
    var("use_existing_vpc", Ty::Bool, Some("false"), "Deploy into vpc_id instead of creating a VPC."),
    var("vpc_id", Ty::String, Some("null"), "Existing VPC id; requires use_existing_vpc = true."),
    var("cidr_block", Ty::String, Some("\"10.0.0.0/16\""), "CIDR of the VPC agentctl creates; new subnets are carved from it (in an existing VPC, unset means its first free ranges)."),
    var("use_existing_subnet", Ty::Bool, Some("false"), "Run tasks in subnet_ids instead of creating two subnets."),
    var("subnet_ids", Ty::ListOfString, Some("[]"), "Existing subnet ids; requires use_existing_subnet = true."),
    var("use_existing_security_group", Ty::Bool, Some("false"), "Attach security_group_ids instead of creating one."),
    var("security_group_ids", Ty::ListOfString, Some("[]"), "Existing security group ids; requires use_existing_security_group = true."),
    var("create_bucket", Ty::Bool, Some("true"), "Create the agent's S3 staging bucket."),
    var("desired_count", Ty::Number, Some("2"), "Number of agent tasks."),
    var("agent_cpu", Ty::Number, Some("null"), "Task CPU units (1024 = 1 vCPU); overrides runner_size."),
    var("agent_memory", Ty::Number, Some("null"), "Task memory in MiB; overrides runner_size."),
    var("runner_cpu", Ty::Number, Some("null"), "The reference module's newer name of agent_cpu."),
    var("runner_memory", Ty::Number, Some("null"), "The reference module's newer name of agent_memory."),
    var("runner_size", Ty::String, Some("\"small\""), "small (1024/4096), medium (2048/8192), large (4096/16384) or xlarge (8192/32768): the task's CPU and memory."),
    var("ephemeral_storage_size", Ty::Number, Some("null"), "Task ephemeral storage in GiB (21-200); Fargate's 20 GiB when null."),
    var("assign_public_ip", Ty::Bool, Some("true"), "Give tasks a public IP (needed in public subnets without NAT)."),
    var("tags", Ty::MapOfString, Some("{}"), "Tags applied to every resource."),
    var("proxy_http", Ty::String, Some("\"\""), "HTTP proxy for the agent (PROXY_HTTP); omitted when empty."),
    var("proxy_https", Ty::String, Some("\"\""), "HTTPS proxy for the agent (PROXY_HTTPS); omitted when empty."),
    var("proxy_excludes", Ty::String, Some("\"\""), "Hosts that bypass the proxy (PROXY_EXCLUDES); omitted when empty."),
    var("custom_cert_location", Ty::String, Some("\"\""), "Extra CA certificates (CUSTOM_CERT_LOCATION); omitted when empty."),
    var("external_driver_location", Ty::String, Some("\"\""), "JDBC drivers location (EXTERNAL_DRIVER_LOCATION); omitted when empty."),
    var("log_retention_days", Ty::Number, Some("30"), "Retention of the agent's CloudWatch log group (a value CloudWatch accepts)."),
    var("availability_zones", Ty::ListOfString, Some("[]"), "Two Availability Zone names (e.g. eu-west-1a) for the subnets agentctl creates; the account's first two available zones when empty."),
    var("kms_key_arn", Ty::String, Some("\"\""), "ARN of a customer managed KMS key in the deployment's region that encrypts the secret, the log groups and the staging bucket; AWS managed keys when empty."),
    var("vpc_flow_logs", Ty::Bool, Some("false"), "Flow logs of the VPC agentctl creates, into a log group of their own (same retention and key as the agent's logs)."),
    var("bucket_versioning", Ty::Bool, Some("false"), "Keep old versions of staging objects (30 days after they are replaced or deleted)."),
    var("bucket_expiry_days", Ty::Number, Some("0"), "Delete staging objects this many days after they are written; 0 keeps them. Incomplete uploads are always aborted after 7 days."),
    var("bucket_access_logs_bucket", Ty::String, Some("\"\""), "Existing bucket (same region) that receives the staging bucket's server access logs; none when empty."),
    var("autoscaling", Ty::Object, Some("null"), "{ min, max, cpu_target, memory_target, active_tasks_target, scale_in_cooldown, scale_out_cooldown }: target tracking on the service."),
    var("schedules", Ty::ListOfObject, Some("[]"), "[{ name, schedule, timezone, min, max }]: scheduled changes of the autoscaling bounds (needs autoscaling)."),
    var("capacity", Ty::Object, Some("null"), "{ fargate_base, fargate_weight, spot_weight }: FARGATE / FARGATE_SPOT mix; FARGATE only when null."),
    var("alarms", Ty::Object, Some("null"), "{ sns_topic_arns, cpu_high, memory_high, tasks_below_desired, agent_saturation, agent_not_running, dashboard }: CloudWatch alarms (and a dashboard)."),
    var("export_logs", Ty::Bool, Some("true"), "EXPORT_LOGS of the agent: send its logs to Matillion too (a bool, or the reference's strings \"true\"/\"false\")."),
    var("secret_name", Ty::String, Some("null"), "Name of the Secrets Manager secret holding the agent's OAuth credentials; NAME-agent-credentials when null."),
    var("secrets_access", Ty::String, Some("\"manage\""), "What the agent may do with Secrets Manager secrets of its account and region: \"manage\" (read, create, update), \"read\" or \"none\"."),
    var("secret_names", Ty::ListOfString, Some("[]"), "Secret names, or name prefixes ending in *, that secrets_access applies to; every secret of the account and region when empty."),
    var("secret_kms_key_arns", Ty::ListOfString, Some("[]"), "Customer managed KMS keys (ARNs) that encrypt the secrets the agent reads or writes; it may use them through Secrets Manager only."),
    var("staging_buckets", Ty::ListOfString, Some("[]"), "Existing S3 buckets the agent may list, read and write, besides the one agentctl creates."),
    var("task_role_policy_arns", Ty::ListOfString, Some("[]"), "Managed policies (ARNs) attached to the agent's task role, for integrations beyond the baseline."),
    var("task_role_policy", Ty::String, Some("\"\""), "An extra IAM policy document (JSON; a heredoc is fine) put on the task role as its own inline policy."),
    var("metrics", Ty::Bool, Some("false"), "Run a CloudWatch agent sidecar that publishes the agent's Prometheus metrics (active tasks, requests, sessions, status)."),
    var("metrics_image_url", Ty::String, Some("\"public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300071.0b1720\""), "The metrics sidecar's image (the CloudWatch agent), pinned; point it at your private ECR mirror where tasks have no internet route."),
    var("guard_image_url", Ty::String, Some("\"public.ecr.aws/amazonlinux/amazonlinux:2023.12.20260831.0\""), "The guard sidecar's image (any image with sh and curl), pinned; point it at your private ECR mirror where tasks have no internet route."),
    var("protect_running_pipelines", Ty::Bool, Some("true"), "Run a guard sidecar that sets ECS task scale-in protection while the agent runs pipelines, so deployments, autoscaling and `scale` never stop a busy agent."),
    var("enable_script_runner", Ty::Bool, Some("false"), "Deploy the Maia script runner: a second ECS service the agent reaches over SSH at script-runner:2222 through ECS Service Connect."),
    var("script_runner_image_url", Ty::String, Some("\"public.ecr.aws/matillion/maia-script-runner:current\""), "The script runner's container image."),
    var("script_runner_size", Ty::String, Some("\"small\""), "small, medium, large or xlarge (the runner_size table): the script runner task's CPU and memory."),
    var("script_runner_desired_count", Ty::Number, Some("1"), "Number of script runner tasks."),
    var("script_runner_log_retention_days", Ty::Number, Some("30"), "Retention of the script runner's CloudWatch log group (a value CloudWatch accepts)."),
    var("script_runner_extension_library_bucket_arn", Ty::String, Some("\"\""), "ARN of an S3 bucket the script runner's task role may read (GetObject, ListBucket) for extension libraries; no AWS access when empty."),
    var("runner_keypair_secret_name", Ty::String, Some("\"\""), "Name of the Secrets Manager secret holding the script runner's authorized_keys; NAME-runner-keypair when empty."),
    Variable { name: "runner_authorized_keys", ty: Ty::String, default: Some("\"\""), sensitive: true, description: "SSH public key line(s) the script runner accepts (sensitive; required with the runner). Prefer TF_VAR_runner_authorized_keys." },
];

pub fn lookup(name: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|v| v.name == name)
}

/// The closest known variable name, for "did you mean" hints.
pub fn suggest(name: &str) -> Option<&'static str> {
    VARIABLES
        .iter()
        .map(|v| (v.name, strsim::jaro_winkler(name, v.name)))
        .filter(|(_, score)| *score > 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_a_value_of_its_type() {
        for v in VARIABLES {
            let ok = matches!(
                (v.ty, v.default_value()),
                (_, Value::Null)
                    | (Ty::String, Value::String(_))
                    | (Ty::Number, Value::Number(_))
                    | (Ty::Bool, Value::Bool(_))
                    | (Ty::ListOfString | Ty::ListOfObject, Value::List(_))
                    | (Ty::MapOfString | Ty::Object, Value::Object(_))
            );
            assert!(ok, "`{}` ({}) defaults to {:?}", v.name, v.ty.name(), v.default);
        }
    }
}
