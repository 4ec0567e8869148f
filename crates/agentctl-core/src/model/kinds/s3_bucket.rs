//! The S3 staging bucket.

use serde::Serialize;
use serde_json::Value;

use super::KindFacts;

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

impl BucketSpec {
    pub const FACTS: KindFacts = KindFacts {
        name: "s3_bucket",
        noun: "S3 bucket",
        taggable: true,
        terraform_type: "aws_s3_bucket",
        revisions: false,
        replaced_on: &[],
    };
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
