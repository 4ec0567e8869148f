//! The Secrets Manager secret holding the agent's OAuth credentials. Its value is compared in memory only.

use serde::Serialize;

use super::KindFacts;
use crate::secret::SecretString;

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

impl SecretSpec {
    pub const FACTS: KindFacts = KindFacts {
        name: "secret",
        noun: "secret",
        taggable: true,
        terraform_type: "aws_secretsmanager_secret",
        revisions: false,
        replaced_on: &[],
    };
}
