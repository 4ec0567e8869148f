//! CloudWatch log groups: the agent's, the flow logs'.

use serde::Serialize;

use super::KindFacts;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogGroupSpec {
    /// `None`: never expire.
    pub retention_in_days: Option<u32>,
    /// Customer managed KMS key; `None` is CloudWatch Logs' own encryption.
    pub kms_key_id: Option<String>,
}

impl LogGroupSpec {
    pub const FACTS: KindFacts = KindFacts {
        name: "log_group",
        noun: "log group",
        taggable: true,
        terraform_type: "aws_cloudwatch_log_group",
        revisions: false,
        replaced_on: &[],
    };
}
