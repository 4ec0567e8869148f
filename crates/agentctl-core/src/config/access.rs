//! What the running agent may reach through its task role: secrets, staging
//! buckets, KMS keys, and the user's own additions (managed policies, an inline
//! policy). Validated here; turned into policies by `model::iam`.

use super::validate::{bucket_name_problem, kms_key_problem, Reader};
use super::{AgentAccess, SecretsAccess};
use crate::diagnostics::Diagnostic;
use crate::policy;
use crate::regions::partition;

/// AWS lets a role carry at most 20 managed policies (10 until the quota is raised).
const MAX_MANAGED_POLICIES: usize = 20;
const DEFAULT_MANAGED_POLICY_QUOTA: usize = 10;

pub(super) fn read(r: &mut Reader, region: Option<&str>, create_bucket: bool) -> AgentAccess {
    let secrets = secrets_access(r);
    let secret_names = secret_names(r, secrets);
    let secret_kms_key_arns = kms_keys(r, region);
    let staging_buckets = staging_buckets(r, create_bucket);
    let managed_policy_arns = managed_policies(r, region);
    let extra_policy = extra_policy(r);
    AgentAccess { secrets, secret_names, secret_kms_key_arns, staging_buckets, managed_policy_arns, extra_policy }
}

fn secrets_access(r: &mut Reader) -> SecretsAccess {
    let value = r.string("secrets_access");
    match value.as_str() {
        "manage" => SecretsAccess::Manage,
        "read" => SecretsAccess::Read,
        "none" => SecretsAccess::None,
        other => {
            r.error(
                "secrets_access",
                format!("`secrets_access` = \"{other}\" is not one of \"manage\", \"read\", \"none\""),
                "unknown value",
                "use \"manage\" (read, create and update secrets: OAuth and cloud credentials defined in Matillion need it), \"read\" (secret definitions only) or \"none\"".to_owned(),
            );
            SecretsAccess::Manage
        }
    }
}

/// Names, or prefixes ending in `*`, in Secrets Manager's name alphabet.
fn secret_names(r: &mut Reader, access: SecretsAccess) -> Vec<String> {
    let items = r.string_list("secret_names");
    let mut out = Vec::new();
    for (pattern, span) in items {
        let body = pattern.strip_suffix('*').unwrap_or(&pattern);
        let problem = if pattern.is_empty() {
            Some("an empty name".to_owned())
        } else if body.contains('*') {
            Some(format!("\"{pattern}\" has `*` before its end; only a trailing `*` (a name prefix) is allowed"))
        } else if let Some(bad) = body.chars().find(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(*c))) {
            Some(format!("\"{pattern}\" contains '{bad}'; secret names allow only letters, digits and - _ . / @ + ="))
        } else if body.len() > 512 {
            Some(format!("\"{pattern}\" is longer than a secret name can be (512)"))
        } else {
            None
        };
        match problem {
            Some(p) => r.diags.push(
                Diagnostic::error(format!("`secret_names`: {p}"))
                    .at(span)
                    .label("secret name or prefix*")
                    .help("list secret names (`db-password`) or name prefixes ending in * (`matillion/*`)"),
            ),
            None => out.push(pattern),
        }
    }
    if access == SecretsAccess::None && !out.is_empty() {
        let span = r.span("secret_names");
        r.diags.push(
            Diagnostic::warning(
                "`secret_names` has no effect with `secrets_access = \"none\"`: the agent may use no secret",
            )
            .at(span)
            .help("remove `secret_names`, or set `secrets_access` to \"read\" or \"manage\""),
        );
    }
    out.sort();
    out.dedup();
    out
}

fn kms_keys(r: &mut Reader, region: Option<&str>) -> Vec<String> {
    let items = r.string_list("secret_kms_key_arns");
    let mut out = Vec::new();
    for (key, span) in items {
        let problem = region.and_then(|region| kms_key_problem(&key, region, "IAM policies name keys by ARN"));
        match problem {
            Some(p) => r.diags.push(
                Diagnostic::error(format!("`secret_kms_key_arns`: \"{key}\" {}", p.why))
                    .at(span)
                    .label(p.label)
                    .help(p.help),
            ),
            None => out.push(key),
        }
    }
    out.sort();
    out.dedup();
    out
}

fn staging_buckets(r: &mut Reader, create_bucket: bool) -> Vec<String> {
    let items = r.string_list("staging_buckets");
    let given = !items.is_empty();
    let mut out = Vec::new();
    for (bucket, span) in items {
        match bucket_name_problem(&bucket) {
            Some(help) => r.diags.push(
                Diagnostic::error(format!("`staging_buckets`: \"{bucket}\" is not an S3 bucket name"))
                    .at(span)
                    .label("bucket name")
                    .help(help),
            ),
            None => out.push(bucket),
        }
    }
    if !create_bucket && !given {
        let span = r.span("create_bucket");
        r.diags.push(
            Diagnostic::warning("`create_bucket = false` and no `staging_buckets`: the agent has no bucket to stage data in, so pipelines that stage (most loads into a warehouse) fail")
                .at(span)
                .label("no staging bucket")
                .help("list your staging bucket: `staging_buckets = [\"my-bucket\"]`, or set `create_bucket = true`"),
        );
    }
    out.sort();
    out.dedup();
    out
}

/// `arn:PARTITION:iam::ACCOUNT|aws:policy/[PATH/]NAME`.
fn managed_policies(r: &mut Reader, region: Option<&str>) -> Vec<String> {
    let items = r.string_list("task_role_policy_arns");
    let mut out = Vec::new();
    for (arn, span) in items {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let name = parts.get(5).and_then(|p| p.strip_prefix("policy/"));
        let well_formed = parts.len() == 6
            && parts[0] == "arn"
            && parts[2] == "iam"
            && parts[3].is_empty()
            && (parts[4] == "aws" || (parts[4].len() == 12 && parts[4].chars().all(|c| c.is_ascii_digit())))
            && name.is_some_and(|n| {
                !n.is_empty()
                    && !n.ends_with('/')
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
            });
        let expected_partition = region.map(partition);
        let problem = if !well_formed {
            Some("is not the ARN of a managed policy".to_owned())
        } else if expected_partition.is_some_and(|p| p != parts[1]) {
            Some(format!(
                "is in partition {}, but the deployment's region is in {}",
                parts[1],
                expected_partition.unwrap_or_default()
            ))
        } else {
            None
        };
        match problem {
            Some(p) => r.diags.push(
                Diagnostic::error(format!("`task_role_policy_arns`: \"{arn}\" {p}"))
                    .at(span)
                    .label("policy ARN")
                    .help("use ARNs such as `arn:aws:iam::aws:policy/AmazonRedshiftDataFullAccess` (AWS managed) or `arn:aws:iam::123456789012:policy/my-policy` (yours); `aws iam list-policies` lists them"),
            ),
            None => out.push(arn),
        }
    }
    out.sort();
    out.dedup();
    if out.len() > MAX_MANAGED_POLICIES {
        r.error(
            "task_role_policy_arns",
            format!(
                "`task_role_policy_arns` lists {} policies; a role can carry at most {MAX_MANAGED_POLICIES}",
                out.len()
            ),
            "too many",
            "combine policies, or move statements into `task_role_policy`".to_owned(),
        );
    } else if out.len() > DEFAULT_MANAGED_POLICY_QUOTA {
        let span = r.span("task_role_policy_arns");
        r.diags.push(
            Diagnostic::warning(format!(
                "`task_role_policy_arns` lists {} policies; AWS allows {DEFAULT_MANAGED_POLICY_QUOTA} per role unless the account's quota was raised",
                out.len()
            ))
            .at(span)
            .help("raise \"Managed policies per role\" in Service Quotas (IAM) up to 20, or combine policies"),
        );
    }
    out
}

/// A JSON policy document; its problems are located at the value.
fn extra_policy(r: &mut Reader) -> Option<serde_json::Value> {
    let text = r.opt_string("task_role_policy").filter(|t| !t.trim().is_empty())?;
    let span = r.span("task_role_policy");
    let doc: serde_json::Value = match serde_json::from_str(&text) {
        Ok(doc) => doc,
        Err(e) => {
            r.diags.push(
                Diagnostic::error(format!("`task_role_policy` is not JSON: {e} (in the policy text)"))
                    .at(span)
                    .label("policy document")
                    .help("write the IAM policy as JSON, e.g. in a heredoc: task_role_policy = <<EOT ... EOT"),
            );
            return None;
        }
    };
    let problems = policy::check_identity_policy(&doc);
    for p in &problems {
        r.diags.push(
            Diagnostic::error(format!("`task_role_policy` is not a valid IAM policy: {p}"))
                .at(span.clone())
                .label("policy document")
                .help("an identity policy has \"Version\": \"2012-10-17\" and statements with Effect, Action and Resource (no Principal)"),
        );
    }
    problems.is_empty().then_some(doc)
}
