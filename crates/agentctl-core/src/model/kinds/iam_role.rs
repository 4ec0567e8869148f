//! IAM roles: the execution and task roles of the agent, the flow logs' role.

use serde::Serialize;
use serde_json::Value;

use super::KindFacts;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleSpec {
    pub description: String,
    pub assume_role_policy: Value,
    /// Inline policies by name.
    pub policies: std::collections::BTreeMap<String, Value>,
    /// Attached managed policies, sorted; agentctl owns exactly this set.
    pub managed_policy_arns: Vec<String>,
}

impl RoleSpec {
    pub const FACTS: KindFacts = KindFacts {
        name: "iam_role",
        noun: "IAM role",
        taggable: true,
        terraform_type: "aws_iam_role",
        revisions: false,
        replaced_on: &[],
    };
}
