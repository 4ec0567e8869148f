//! Least-privilege IAM documents for the agent's two roles and its bucket.

use serde_json::{json, Value};

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
    if let Some(repo) = input.ecr_repository_arn {
        // GetAuthorizationToken has no resource-level permission.
        statements
            .push(json!({"Sid": "EcrAuth", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}));
        statements.push(json!({
            "Sid": "PullAgentImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
            "Resource": repo
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// What the agent itself does: use its staging bucket (and its KMS key), write
/// its own logs.
pub fn task_policy(bucket_arn: Option<&str>, log_group_arn: &str, kms_key_arn: Option<&str>, region: &str) -> Value {
    let mut statements = Vec::new();
    if let Some(bucket) = bucket_arn {
        if let Some(key) = kms_key_arn {
            statements.push(kms_via("UseStagingKey", &["kms:Decrypt", "kms:GenerateDataKey"], key, "s3", region));
        }
        statements.push(json!({
            "Sid": "ListStagingBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": bucket
        }));
        statements.push(json!({
            "Sid": "UseStagingObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": format!("{bucket}/*")
        }));
    }
    statements.push(json!({
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": format!("{log_group_arn}:*")
    }));
    json!({"Version": "2012-10-17", "Statement": statements})
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
