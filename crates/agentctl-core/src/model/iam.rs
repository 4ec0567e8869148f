//! Least-privilege IAM documents for the agent's two roles and its bucket.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::Context;
use crate::config::{AgentAccess, Config, SecretsAccess};
use crate::names;
use crate::regions::partition;

/// Only ECS tasks of this account may assume the role (confused-deputy guard).
pub fn ecs_tasks_trust(partition: &str, account: &str, region: &str) -> Value {
    service_trust("ecs-tasks.amazonaws.com", account, format!("arn:{partition}:ecs:{region}:{account}:*"))
}

/// Only VPC Flow Logs of this account may assume the role.
pub fn flow_logs_trust(partition: &str, account: &str, region: &str) -> Value {
    service_trust(
        "vpc-flow-logs.amazonaws.com",
        account,
        format!("arn:{partition}:ec2:{region}:{account}:vpc-flow-log/*"),
    )
}

/// `service` may assume the role only on behalf of `account`'s resources
/// matching `source_arn`.
fn service_trust(service: &str, account: &str, source_arn: String) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": source_arn}
            }
        }]
    })
}

pub struct ExecutionPolicyInput<'a> {
    pub log_group_arn: &'a str,
    pub secret_arn_pattern: &'a str,
    /// Repository ARN when the image is in private ECR.
    pub ecr_repository_arn: Option<&'a str>,
    /// Customer managed key encrypting the secret.
    pub kms_key_arn: Option<&'a str>,
    pub region: &'a str,
    /// The script runner's tasks start with the same role.
    pub script_runner: Option<RunnerExecution<'a>>,
}

/// What ECS needs to start the script runner's tasks.
pub struct RunnerExecution<'a> {
    pub log_group_arn: &'a str,
    pub keypair_secret_arn_pattern: &'a str,
    /// Repository ARN when its image is in private ECR.
    pub ecr_repository_arn: Option<&'a str>,
}

/// Use of `key` only through `service` (e.g. `secretsmanager`) in `region`.
fn kms_via(sid: &str, actions: &[&str], key: &str, service: &str, region: &str) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": key,
        "Condition": {"StringEquals": {"kms:ViaService": format!("{service}.{region}.amazonaws.com")}}
    })
}

/// What ECS needs to start the task: write its log stream, read its one secret,
/// pull from a private ECR repository when one is used.
pub fn execution_policy(input: &ExecutionPolicyInput) -> Value {
    let mut statements = vec![
        json!({
            "Sid": "WriteAgentLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": format!("{}:*", input.log_group_arn)
        }),
        json!({
            "Sid": "ReadAgentCredentials",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": input.secret_arn_pattern
        }),
    ];
    if let Some(key) = input.kms_key_arn {
        statements.push(kms_via("DecryptAgentCredentials", &["kms:Decrypt"], key, "secretsmanager", input.region));
    }
    let pull = |sid: &str, repo: &str| {
        json!({
            "Sid": sid,
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
            "Resource": repo
        })
    };
    let runner = input.script_runner.as_ref();
    if input.ecr_repository_arn.or(runner.and_then(|r| r.ecr_repository_arn)).is_some() {
        // GetAuthorizationToken has no resource-level permission.
        statements
            .push(json!({"Sid": "EcrAuth", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}));
    }
    if let Some(repo) = input.ecr_repository_arn {
        statements.push(pull("PullAgentImage", repo));
    }
    if let Some(runner) = runner {
        statements.push(json!({
            "Sid": "WriteScriptRunnerLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": format!("{}:*", runner.log_group_arn)
        }));
        statements.push(json!({
            "Sid": "ReadScriptRunnerKeys",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": runner.keypair_secret_arn_pattern
        }));
        if let Some(repo) = runner.ecr_repository_arn {
            statements.push(pull("PullScriptRunnerImage", repo));
        }
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The script runner's task role: read the extension library bucket when one
/// is given, nothing else (its image and keys come through the execution role).
pub fn script_runner_policies(bucket_arn: Option<&str>) -> BTreeMap<String, Value> {
    bucket_arn
        .map(|bucket| {
            let doc = json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "ReadExtensionLibrary",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [bucket, format!("{bucket}/*")]
                }]
            });
            (SCRIPT_RUNNER_POLICY.to_owned(), doc)
        })
        .into_iter()
        .collect()
}

/// The script runner's task role's inline policy.
pub const SCRIPT_RUNNER_POLICY: &str = "script-runner";

/// The task role's inline policy agentctl writes.
pub const TASK_POLICY: &str = "agent-task";
/// The task role's inline policy holding `task_role_policy`.
pub const CUSTOM_TASK_POLICY: &str = "agent-custom";

/// Every Secrets Manager action that changes a secret: the task role may never
/// take them on the agent's own credentials.
const SECRET_WRITES: [&str; 15] = [
    "secretsmanager:CancelRotateSecret",
    "secretsmanager:CreateSecret",
    "secretsmanager:DeleteResourcePolicy",
    "secretsmanager:DeleteSecret",
    "secretsmanager:PutResourcePolicy",
    "secretsmanager:PutSecretValue",
    "secretsmanager:RemoveRegionsFromReplication",
    "secretsmanager:ReplicateSecretToRegions",
    "secretsmanager:RestoreSecret",
    "secretsmanager:RotateSecret",
    "secretsmanager:StopReplicationToReplica",
    "secretsmanager:TagResource",
    "secretsmanager:UntagResource",
    "secretsmanager:UpdateSecret",
    "secretsmanager:UpdateSecretVersionStage",
];

/// ARN of a secret by name: Secrets Manager appends "-" and six characters.
pub fn secret_arn_pattern(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:secretsmanager:{region}:{account}:secret:{name}-??????")
}

pub fn log_group_arn(partition: &str, region: &str, account: &str, group: &str) -> String {
    format!("arn:{partition}:logs:{region}:{account}:log-group:{group}")
}

/// The task role's inline policies: agentctl's own, and the user's when given.
pub fn task_role_policies(config: &Config, ctx: &Context) -> BTreeMap<String, Value> {
    let (region, account) = (config.region.as_str(), ctx.account());
    let part = partition(region);
    let own_bucket =
        config.create_bucket.then(|| format!("arn:{part}:s3:::{}", names::bucket(&config.name, account, region)));
    let mut policies = BTreeMap::from([(
        TASK_POLICY.to_owned(),
        task_policy(&TaskPolicyInput {
            partition: part,
            region,
            account,
            own_bucket_arn: own_bucket.as_deref(),
            log_group_arn: &log_group_arn(part, region, account, &names::log_group(&config.name)),
            kms_key_arn: config.kms_key_arn.as_deref(),
            protected_secrets: std::iter::once(&config.secret_name)
                .chain(config.script_runner.as_ref().map(|r| &r.keypair_secret_name))
                .map(|name| secret_arn_pattern(part, region, account, name))
                .collect(),
            access: &config.access,
            own_tasks_arn: config
                .protect_running_pipelines
                .then(|| format!("arn:{part}:ecs:{region}:{account}:task/{}/*", names::cluster(&config.name))),
        }),
    )]);
    if let Some(extra) = &config.access.extra_policy {
        policies.insert(CUSTOM_TASK_POLICY.to_owned(), extra.clone());
    }
    policies
}

pub struct TaskPolicyInput<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    /// The staging bucket agentctl creates.
    pub own_bucket_arn: Option<&'a str>,
    pub log_group_arn: &'a str,
    /// Customer managed key encrypting the bucket agentctl creates.
    pub kms_key_arn: Option<&'a str>,
    /// ARN patterns of the secrets agentctl writes (the agent's credentials,
    /// the script runner's keys): the agent may change none of them.
    pub protected_secrets: Vec<String>,
    pub access: &'a AgentAccess,
    /// `arn:...:task/CLUSTER/*` when the guard sidecar sets the tasks' own
    /// scale-in protection (through the ECS agent endpoint, as the task role).
    pub own_tasks_arn: Option<String>,
}

/// What the running agent needs to run pipelines, per Matillion's documented
/// task-role baseline: its staging buckets, the secrets users reference in
/// secret definitions (and, by default, the OAuth and cloud credentials it
/// stores itself) in its own account and region, its own logs. Never its own
/// credentials secret, never another region's secrets.
pub fn task_policy(input: &TaskPolicyInput) -> Value {
    let TaskPolicyInput { partition: part, region, account, access, .. } = *input;
    let mut statements = Vec::new();
    let buckets: Vec<String> = input
        .own_bucket_arn
        .map(str::to_owned)
        .into_iter()
        .chain(access.staging_buckets.iter().map(|b| format!("arn:{part}:s3:::{b}")))
        .collect();
    // Listing bucket names has no resource-level permission; Matillion's docs
    // list it because the Designer's bucket pickers use it.
    statements.push(json!({"Sid": "ListBuckets", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}));
    if !buckets.is_empty() {
        if let (Some(key), Some(_)) = (input.kms_key_arn, input.own_bucket_arn) {
            statements.push(kms_via("UseStagingKey", &["kms:Decrypt", "kms:GenerateDataKey"], key, "s3", region));
        }
        statements.push(json!({
            "Sid": "ListStagingBuckets",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
            "Resource": one_or_many(buckets.clone())
        }));
        statements.push(json!({
            "Sid": "UseStagingObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            "Resource": one_or_many(buckets.iter().map(|b| format!("{b}/*")).collect())
        }));
    }
    if access.secrets != SecretsAccess::None {
        let secret = |pattern: &str| format!("arn:{part}:secretsmanager:{region}:{account}:secret:{pattern}");
        let secrets: Vec<String> = if access.secret_names.is_empty() {
            vec![secret("*")]
        } else {
            access
                .secret_names
                .iter()
                .map(|n| match n.strip_suffix('*') {
                    Some(prefix) => secret(&format!("{prefix}*")),
                    None => secret(&format!("{n}-??????")),
                })
                .collect()
        };
        // ListSecrets has no resource-level permission: the region condition
        // keeps it to the agent's own region.
        statements.push(json!({
            "Sid": "ListSecrets",
            "Effect": "Allow",
            "Action": "secretsmanager:ListSecrets",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}}
        }));
        statements.push(json!({
            "Sid": "ReadSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": one_or_many(secrets.clone())
        }));
        let manage = access.secrets == SecretsAccess::Manage;
        if manage {
            statements.push(json!({
                "Sid": "ManageSecrets",
                "Effect": "Allow",
                "Action": ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret", "secretsmanager:TagResource"],
                "Resource": one_or_many(secrets)
            }));
        }
        if !access.secret_kms_key_arns.is_empty() {
            let actions: &[&str] =
                if manage { &["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"] } else { &["kms:Decrypt"] };
            let mut s = kms_via("UseSecretKeys", actions, "", "secretsmanager", region);
            s["Resource"] = one_or_many(access.secret_kms_key_arns.clone());
            statements.push(s);
        }
    }
    statements.push(json!({
        "Sid": "ProtectAgentCredentials",
        "Effect": "Deny",
        "Action": SECRET_WRITES,
        "Resource": one_or_many(input.protected_secrets.clone())
    }));
    if let Some(tasks) = &input.own_tasks_arn {
        statements.push(json!({
            "Sid": "ProtectBusyTasks",
            "Effect": "Allow",
            "Action": ["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"],
            "Resource": tasks
        }));
    }
    statements.push(json!({
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": format!("{}:*", input.log_group_arn)
    }));
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// One sentence: what the running agent may reach through its task role, and
/// how to narrow it.
pub fn access_summary(config: &Config) -> String {
    let a = &config.access;
    let scope = if a.secret_names.is_empty() {
        format!("every secret in {}", config.region)
    } else {
        let n = a.secret_names.len();
        format!("{n} secret name{} or prefix{} (`secret_names`)", plural(n), if n == 1 { "" } else { "es" })
    };
    let mut parts = vec![match a.secrets {
        SecretsAccess::Manage if a.secret_names.is_empty() => {
            format!(
                "the agent can read and create {scope} (narrow with `secret_names`, or `secrets_access = \"read\"`)"
            )
        }
        SecretsAccess::Manage => format!("the agent can read and create {scope}"),
        SecretsAccess::Read if a.secret_names.is_empty() => {
            format!("the agent can read {scope} (narrow with `secret_names`)")
        }
        SecretsAccess::Read => format!("the agent can read {scope}"),
        SecretsAccess::None => "the agent can use no secret (`secrets_access = \"none\"`)".to_owned(),
    }];
    let buckets = usize::from(config.create_bucket) + a.staging_buckets.len();
    parts.push(match buckets {
        0 => "no staging bucket".to_owned(),
        n => format!("objects in {n} staging bucket{}", plural(n)),
    });
    if !a.managed_policy_arns.is_empty() {
        let n = a.managed_policy_arns.len();
        parts.push(format!("{n} managed polic{} of yours", if n == 1 { "y" } else { "ies" }));
    }
    if a.extra_policy.is_some() {
        parts.push("your `task_role_policy`".to_owned());
    }
    format!("Agent access: {}; never its own credentials secret.", parts.join("; "))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn one_or_many(mut items: Vec<String>) -> Value {
    if items.len() == 1 {
        json!(items.remove(0))
    } else {
        json!(items)
    }
}

/// Refuse plain HTTP to the bucket, for everyone.
pub fn bucket_tls_only(bucket_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, format!("{bucket_arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
}

/// What VPC Flow Logs needs to deliver into its one log group.
pub fn flow_logs_policy(log_group_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DeliverFlowLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups", "logs:DescribeLogStreams"],
            "Resource": [log_group_arn, format!("{log_group_arn}:*")]
        }]
    })
}
