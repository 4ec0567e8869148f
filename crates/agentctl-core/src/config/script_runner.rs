//! The Maia script runner's settings: `enable_script_runner` and the variables
//! of the reference module that configure it, validated.

use base64::Engine;

use super::validate::{bucket_name_problem, check_image, check_retention, runner_size, Reader};
use super::ScriptRunner;
use crate::diagnostics::Diagnostic;
use crate::fargate;
use crate::regions::partition;
use crate::secret::SecretString;

/// Every variable that configures the runner (besides `enable_script_runner`).
const RUNNER_VARS: [&str; 7] = [
    "script_runner_image_url",
    "script_runner_size",
    "script_runner_desired_count",
    "script_runner_log_retention_days",
    "script_runner_extension_library_bucket_arn",
    "runner_keypair_secret_name",
    "runner_authorized_keys",
];

/// The runner when `enable_script_runner` is on. `authorized_keys` is read
/// only when the command needs credentials (it is as sensitive as they are).
pub(super) fn read(
    r: &mut Reader,
    name: &str,
    region: Option<&str>,
    credentials_secret: &str,
    credentials_needed: bool,
) -> Option<ScriptRunner> {
    if !r.bool("enable_script_runner") {
        let ignored: Vec<&str> = RUNNER_VARS.into_iter().filter(|v| r.is_set(v) && r.is_from_file(v)).collect();
        for var in ignored {
            let span = r.span(var);
            r.diags.push(
                Diagnostic::warning(format!(
                    "`{var}` configures the script runner, which `enable_script_runner` leaves off: it is ignored"
                ))
                .at(span)
                .label("ignored")
                .help("set `enable_script_runner = true` to deploy the script runner, or remove the line"),
            );
        }
        return None;
    }
    let image_url = r.string("script_runner_image_url");
    check_image(r, "script_runner_image_url", &image_url, "public.ecr.aws/matillion/maia-script-runner:current");
    let (cpu, memory) = size(r);
    let desired_count = r.number("script_runner_desired_count", 0..=100, "the task count");
    let log_retention_days = r.number("script_runner_log_retention_days", 0..=3653, "retention in days");
    check_retention(r, "script_runner_log_retention_days", log_retention_days);
    let extension_library_bucket_arn = bucket_arn(r, region);
    let keypair_secret_name = keypair_secret_name(r, name, credentials_secret);
    let authorized_keys = if credentials_needed { authorized_keys(r) } else { None };
    Some(ScriptRunner {
        image_url,
        cpu,
        memory,
        desired_count,
        log_retention_days,
        extension_library_bucket_arn,
        keypair_secret_name,
        authorized_keys,
    })
}

/// `script_runner_size`: the reference module's size table, no overrides.
fn size(r: &mut Reader) -> (u32, u32) {
    let size = r.string("script_runner_size");
    // An unknown size is reported; validation goes on with the default.
    runner_size(r, "script_runner_size", &size)
        .unwrap_or_else(|| fargate::runner_size("small").expect("small is a runner size"))
}

/// `arn:PARTITION:s3:::BUCKET` of the deployment's partition, or none.
fn bucket_arn(r: &mut Reader, region: Option<&str>) -> Option<String> {
    const VAR: &str = "script_runner_extension_library_bucket_arn";
    let arn = r.string(VAR);
    if arn.is_empty() {
        return None;
    }
    let part = region.map_or("aws", partition);
    let bucket = arn.strip_prefix(&format!("arn:{part}:s3:::"));
    let problem = match bucket {
        None if arn.starts_with("arn:") => Some(format!("is not an S3 bucket ARN of partition {part}")),
        None => Some("is not an ARN".to_owned()),
        Some(b) if b.contains('/') => Some("names objects, not a bucket".to_owned()),
        Some(b) => bucket_name_problem(b).map(|_| format!("names an invalid bucket \"{b}\"")),
    };
    if let Some(problem) = problem {
        r.error(
            VAR,
            format!("`{VAR}` = \"{arn}\" {problem}"),
            "S3 bucket ARN",
            format!("give the bucket's ARN: arn:{part}:s3:::BUCKET_NAME (no /key)"),
        );
        return None;
    }
    Some(arn)
}

/// `runner_keypair_secret_name`, or the name agentctl derives; never the
/// credentials' secret.
fn keypair_secret_name(r: &mut Reader, name: &str, credentials_secret: &str) -> String {
    const VAR: &str = "runner_keypair_secret_name";
    let Some(given) = r.opt_string(VAR).filter(|s| !s.is_empty()) else {
        return crate::names::runner_keypair_secret(name);
    };
    let derived = crate::names::DerivedName {
        resource: "Secrets Manager secret",
        value: given.clone(),
        rule: crate::names::Rule::Secret,
    };
    if let Err(why) = derived.check() {
        r.error(
            VAR,
            format!("`{VAR}` is not a valid secret name: {why}"),
            "secret name",
            "use letters, digits and - _ . / @ + = (at most 512 characters)".to_owned(),
        );
    } else if given == credentials_secret {
        r.error(
            VAR,
            format!("`{VAR}` = \"{given}\" is also the secret of the agent's OAuth credentials"),
            "same secret",
            "give the script runner's keys a secret of their own, or leave `runner_keypair_secret_name` unset"
                .to_owned(),
        );
    }
    given
}

/// `runner_authorized_keys`: required with the runner, and SSH public key
/// lines. It is never quoted back: it is treated like the credentials.
fn authorized_keys(r: &mut Reader) -> Option<SecretString> {
    const VAR: &str = "runner_authorized_keys";
    let keys = r.opt_string(VAR).filter(|k| !k.trim().is_empty());
    let Some(keys) = keys else {
        let span = r.span("enable_script_runner");
        r.diags.push(
            Diagnostic::error(format!("`{VAR}` is required with `enable_script_runner = true`"))
                .at(span)
                .label("needs runner_authorized_keys")
                .help(format!(
                    "export TF_VAR_{VAR} with the SSH public key line the agent's Maia uses (\"ssh-ed25519 AAAA... comment\"; the .pub file, never the private key)"
                )),
        );
        return None;
    };
    if let Some(problem) = authorized_keys_problem(&keys) {
        r.error(
            VAR,
            format!("`{VAR}` {problem}{}", r.where_(VAR)),
            "not an SSH public key",
            "give one public key per line, as in an authorized_keys file: \"ssh-ed25519 AAAA... comment\" (the content of the .pub file)".to_owned(),
        );
        return None;
    }
    Some(SecretString::new(keys))
}

/// Key types OpenSSH accepts in authorized_keys (DSA is long disabled).
const KEY_TYPES: [&str; 7] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// Why `text` is not authorized_keys content: lines of `[options] TYPE BASE64
/// [comment]` (blank and `#` lines allowed), at least one key, each blob
/// decoding to a key of its TYPE. The answer never quotes the text.
pub fn authorized_keys_problem(text: &str) -> Option<String> {
    if text.contains("PRIVATE KEY") {
        return Some("is a private key; the script runner needs the public key (the .pub file)".to_owned());
    }
    let mut keys = 0;
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = tokens.iter().position(|t| KEY_TYPES.contains(t)) else {
            return Some(format!("line {n} has no SSH key type ({})", KEY_TYPES[..5].join(", ")));
        };
        let key_type = tokens[at];
        let blob = tokens.get(at + 1).and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
        // The blob starts with its own type: a 4-byte length, then the name.
        let names_its_type = blob.as_deref().is_some_and(|b| {
            b.len() > 4 + key_type.len()
                && b[..4] == (key_type.len() as u32).to_be_bytes()
                && &b[4..4 + key_type.len()] == key_type.as_bytes()
        });
        if !names_its_type {
            return Some(format!("line {n}: the {key_type} key is not followed by a valid base64 public key"));
        }
        keys += 1;
    }
    (keys == 0).then(|| "holds no SSH public key".to_owned())
}

#[cfg(test)]
mod tests {
    use super::authorized_keys_problem;

    /// An Ed25519 public key line (32 made-up bytes: no private key exists).
    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl maia@example";

    #[test]
    fn public_key_lines_pass_and_the_rest_says_why_without_quoting() {
        assert_eq!(authorized_keys_problem(ED25519), None);
        assert_eq!(
            authorized_keys_problem(&format!("# maia\n\n{ED25519}\nrestrict,from=\"10.0.0.0/8\" {ED25519}\n")),
            None
        );
        for (text, why) in [
            ("", "holds no SSH public key"),
            (
                "ssh-ed25519 AAAA... user@host",
                "line 1: the ssh-ed25519 key is not followed by a valid base64 public key",
            ),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
                "is a private key",
            ),
            (&format!("{ED25519}\nhello world"), "line 2 has no SSH key type"),
            // A valid blob under the wrong type.
            (&ED25519.replacen("ssh-ed25519", "ssh-rsa", 1), "line 1: the ssh-rsa key is not followed"),
        ] {
            let problem = authorized_keys_problem(text).unwrap_or_default();
            assert!(problem.starts_with(why), "{text:?}: {problem}");
            assert!(!problem.contains("AAAA"), "the problem quotes the key: {problem}");
        }
    }
}
