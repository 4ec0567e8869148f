//! Least-privilege IAM documents for the agent's two roles and its bucket.

use serde_json::{json, Value};

/// Only ECS tasks of this account may assume the role (confused-deputy guard).
pub fn ecs_tasks_trust(partition: &str, account: &str, region: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": format!("arn:{partition}:ecs:{region}:{account}:*")}
            }
        }]
    })
}

pub struct ExecutionPolicyInput<'a> {
    pub log_group_arn: &'a str,
    pub secret_arn_pattern: &'a str,
    /// Repository ARN when the image is in private ECR.
    pub ecr_repository_arn: Option<&'a str>,
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

/// What the agent itself does: use its staging bucket, write its own logs.
pub fn task_policy(bucket_arn: Option<&str>, log_group_arn: &str) -> Value {
    let mut statements = Vec::new();
    if let Some(bucket) = bucket_arn {
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
