//! The checkov findings the Terraform export keeps on purpose, each with its reason
//! and, where a user may want the control, the setting that turns it on.
//!
//! Terraform JSON has no skip comments, so the list lives here: the export test
//! runs checkov on representative configs and fails on any finding not listed, and
//! on any listed finding that no longer fires (the list stays exact). Each entry
//! says for which stacks it is expected, so a config that turns a control on (e.g.
//! `log_retention_days = 365`) must pass that check.
//!
//! Measured with checkov [`CHECKOV_VERSION`]. Its `terraform` framework skips
//! `*.tf.json` files (it scans `.tf` and `.hcl` only); the `terraform_json`
//! framework scans them, with the same checks.
//!
//! Not listed because checkov does not report it, though it applies: checkov reads
//! a task definition's `container_definitions` in `*.tf.json` as an opaque string,
//! so CKV_AWS_336 (read-only root filesystem) passes whatever the containers say.
//! With `metrics = true` the metrics sidecar's root filesystem is writable: the
//! CloudWatch agent writes its own state under `/opt/aws`. It is not essential and
//! has no secret, no mount and no port. With `enable_script_runner = true` the
//! script runner's root filesystem is writable too, as in Matillion's reference
//! module: its SSH server writes host keys and sessions where its image says, and
//! those paths are not documented, so no volume can replace them. The export
//! tests compare every container's `readonlyRootFilesystem` with the model instead.
//!
//! The script runner adds no finding of its own: its resources draw the same
//! checks as the agent's (open egress, public IP, log retention and key, secret
//! key and rotation), whose entries give the runner's reasons too.

use crate::model::{BucketSpec, Kind, Spec, Stack};

/// The checkov release the list was measured with (pinned in requirements-test.txt).
pub const CHECKOV_VERSION: &str = "3.3.30";

/// One finding kept on purpose.
#[derive(Debug)]
pub struct CheckovException {
    pub check_id: &'static str,
    /// Terraform resource type the finding is on; `data.TYPE` for a data source.
    pub resource_type: &'static str,
    /// What checkov asks for, in a few words.
    pub control: &'static str,
    pub reason: &'static str,
    /// The setting that turns the control on, where a user may want it.
    pub switch: Option<&'static str>,
    /// Whether checkov reports this finding for the export of `stack`.
    pub applies: fn(&Stack) -> bool,
}

impl CheckovException {
    pub fn applies_to(&self, stack: &Stack) -> bool {
        (self.applies)(stack)
    }
}

const KMS_SWITCH: &str =
    "kms_key_arn = \"arn:aws:kms:REGION:ACCOUNT:key/ID\" (one key for the secrets, the log groups and the bucket)";

pub const CHECKOV_EXCEPTIONS: &[CheckovException] = &[
    CheckovException {
        check_id: "CKV_AWS_382",
        resource_type: "aws_security_group",
        control: "no egress to 0.0.0.0/0 on all ports",
        reason: "the agent connects out to Matillion, the image registry, AWS APIs and every data source its \
                 pipelines use (databases on their own ports: 5432, 5439, 1433, 1521, 3306, ...), which are not \
                 known at deploy time; the group has no ingress rule at all. The script runner's group (with \
                 enable_script_runner, always created) is open outbound the same way for the scripts it runs, \
                 and admits only SSH (2222) from the agent's groups",
        switch: Some(
            "use_existing_security_group = true with security_group_ids of a group whose egress lists your \
             data sources (the script runner's own group stays open outbound)",
        ),
        applies: creates_open_egress_group,
    },
    CheckovException {
        check_id: "CKV_AWS_333",
        resource_type: "aws_ecs_service",
        control: "no public IP on tasks",
        reason: "in the default network (public subnets, internet gateway, no NAT gateway) a task needs a public \
                 IP to reach Matillion and the image registry; nothing can connect in (no ingress rule; the \
                 script runner's group admits only SSH from the agent's groups)",
        switch: Some(
            "assign_public_ip = false, with subnets that reach the internet through a NAT gateway or VPC endpoints",
        ),
        applies: assigns_public_ip,
    },
    CheckovException {
        check_id: "CKV_AWS_338",
        resource_type: "aws_cloudwatch_log_group",
        control: "log retention of at least 1 year",
        reason: "agentctl keeps the agent's (and the script runner's) operational logs 30 days by default, like \
                 the reference module; they are not audit records",
        switch: Some(
            "log_retention_days = 365 (or more; 0 never expires), and script_runner_log_retention_days = 365 with \
             the script runner",
        ),
        applies: keeps_logs_under_a_year,
    },
    CheckovException {
        check_id: "CKV_AWS_158",
        resource_type: "aws_cloudwatch_log_group",
        control: "log group encrypted with a customer managed KMS key",
        reason: "CloudWatch Logs encrypts at rest with AWS owned keys; a customer managed key adds a key policy \
                 to maintain and KMS cost",
        switch: Some(KMS_SWITCH),
        applies: logs_without_customer_key,
    },
    CheckovException {
        check_id: "CKV_AWS_149",
        resource_type: "aws_secretsmanager_secret",
        control: "secret encrypted with a customer managed KMS key",
        reason: "the secrets (the credentials; the script runner's SSH public keys) are encrypted with the AWS \
                 managed key aws/secretsmanager and readable only by the execution role",
        switch: Some(KMS_SWITCH),
        applies: secret_without_customer_key,
    },
    CheckovException {
        check_id: "CKV2_AWS_57",
        resource_type: "aws_secretsmanager_secret",
        control: "automatic secret rotation",
        reason: "the OAuth client credentials are issued by Matillion Hub, and the script runner's secret holds \
                 the SSH public keys given in runner_authorized_keys; no rotation Lambda can create new ones of \
                 either. Rotate them at their source, then apply again",
        switch: None,
        applies: always,
    },
    CheckovException {
        check_id: "CKV_AWS_145",
        resource_type: "aws_s3_bucket",
        control: "bucket encrypted with KMS by default",
        reason: "default encryption is on with SSE-S3 (AES256); a customer managed key adds a key policy to \
                 maintain (with the switch, agentctl turns on an S3 Bucket Key, so objects cost no KMS request each)",
        switch: Some(KMS_SWITCH),
        applies: bucket_without_customer_key,
    },
    CheckovException {
        check_id: "CKV_AWS_21",
        resource_type: "aws_s3_bucket",
        control: "bucket versioning",
        reason: "the staging bucket holds transient files the agent writes and deletes; versioning would keep \
                 every deleted object, at a cost, without protecting anything of value",
        switch: Some("bucket_versioning = true (old versions expire after 30 days)"),
        applies: bucket_unversioned,
    },
    CheckovException {
        check_id: "CKV_AWS_144",
        resource_type: "aws_s3_bucket",
        control: "cross-region replication",
        reason: "staging data is transient; a replica in another region doubles storage and transfer cost for \
                 data nobody restores",
        switch: None,
        applies: creates_bucket,
    },
    CheckovException {
        check_id: "CKV_AWS_18",
        resource_type: "aws_s3_bucket",
        control: "bucket access logging",
        reason: "server access logs need a second bucket to receive them; where object access must be audited, \
                 CloudTrail data events do it account-wide",
        switch: Some("bucket_access_logs_bucket = \"NAME\" (an existing bucket in the same region)"),
        applies: bucket_without_access_logs,
    },
    CheckovException {
        check_id: "CKV2_AWS_62",
        resource_type: "aws_s3_bucket",
        control: "bucket event notifications",
        reason: "nothing consumes events of staging objects",
        switch: None,
        applies: creates_bucket,
    },
    CheckovException {
        check_id: "CKV2_AWS_11",
        resource_type: "aws_vpc",
        control: "VPC flow logs",
        reason: "flow logs need a destination, an IAM role and cost per GB; the VPC agentctl creates carries only \
                 the agent's outbound traffic. Existing VPCs keep their own flow logs",
        switch: Some("vpc_flow_logs = true"),
        applies: creates_vpc_without_flow_logs,
    },
    CheckovException {
        check_id: "CKV_AWS_394",
        resource_type: "data.aws_availability_zones",
        control: "zone list pinned by zone name or id",
        reason: "only when the zones are unknown (offline): zone names differ between accounts (in us-west-1 \
                 one account has b and c, another a and c), so the export takes the first two available zones, \
                 sorted, as agentctl's apply does; new zones get later letters, so the pick stays put. Built \
                 with the account's zones known, the export names them and has no data source",
        switch: Some("availability_zones = [\"eu-west-1a\", \"eu-west-1b\"] (pins the zones of new subnets)"),
        applies: picks_zones_at_apply,
    },
];

/// The exception for a finding, if it is one.
pub fn find(check_id: &str, resource_type: &str) -> Option<&'static CheckovException> {
    CHECKOV_EXCEPTIONS.iter().find(|e| e.check_id == check_id && e.resource_type == resource_type)
}

/// The findings checkov reports for the export of `stack`, all of them listed here.
pub fn expected(stack: &Stack) -> Vec<&'static CheckovException> {
    CHECKOV_EXCEPTIONS.iter().filter(|e| e.applies_to(stack)).collect()
}

/// The list as a Markdown table, for the README.
pub fn markdown() -> String {
    let mut out = String::from("| check | resource | control | why not | to turn it on |\n|---|---|---|---|---|\n");
    for e in CHECKOV_EXCEPTIONS {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            e.check_id,
            e.resource_type,
            e.control,
            e.reason,
            e.switch.map_or_else(|| "-".to_owned(), |s| format!("`{s}`"))
        ));
    }
    out
}

fn always(_: &Stack) -> bool {
    true
}

fn has(stack: &Stack, kind: Kind) -> bool {
    stack.resources.iter().any(|r| r.addr.kind == kind)
}

fn creates_bucket(stack: &Stack) -> bool {
    has(stack, Kind::S3Bucket)
}

fn any_bucket(stack: &Stack, test: fn(&BucketSpec) -> bool) -> bool {
    stack.resources.iter().any(|r| matches!(&r.spec, Spec::S3Bucket(b) if test(b)))
}

fn bucket_without_customer_key(stack: &Stack) -> bool {
    any_bucket(stack, |b| b.encryption != "aws:kms")
}

fn bucket_unversioned(stack: &Stack) -> bool {
    any_bucket(stack, |b| !b.versioning)
}

fn bucket_without_access_logs(stack: &Stack) -> bool {
    any_bucket(stack, |b| b.access_logs.is_none())
}

fn logs_without_customer_key(stack: &Stack) -> bool {
    stack.resources.iter().any(|r| matches!(&r.spec, Spec::LogGroup(l) if l.kms_key_id.is_none()))
}

fn secret_without_customer_key(stack: &Stack) -> bool {
    stack.resources.iter().any(|r| matches!(&r.spec, Spec::Secret(s) if s.kms_key_id.is_none()))
}

fn creates_vpc_without_flow_logs(stack: &Stack) -> bool {
    has(stack, Kind::Vpc) && !has(stack, Kind::FlowLog)
}

fn creates_open_egress_group(stack: &Stack) -> bool {
    stack.resources.iter().any(|r| match &r.spec {
        Spec::SecurityGroup(sg) => sg.egress.iter().any(|e| e.protocol == "-1" && e.cidr == "0.0.0.0/0"),
        _ => false,
    })
}

fn assigns_public_ip(stack: &Stack) -> bool {
    stack.resources.iter().any(|r| matches!(&r.spec, Spec::EcsService(s) if s.assign_public_ip))
}

fn keeps_logs_under_a_year(stack: &Stack) -> bool {
    stack.resources.iter().any(|r| matches!(&r.spec, Spec::LogGroup(l) if l.retention_in_days.is_some_and(|d| d < 365)))
}

fn picks_zones_at_apply(stack: &Stack) -> bool {
    stack.resources.iter().any(|r| matches!(&r.spec, Spec::Subnet(s) if s.availability_zone.starts_with("${")))
}
