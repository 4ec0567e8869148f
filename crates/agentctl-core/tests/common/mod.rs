//! Helpers shared by the integration tests of agentctl-core.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use agentctl_core::config::{load, CredentialsNeeded, Env, Loaded};
use agentctl_core::diagnostics::{LocatedDiagnostic, Report, Severity, SourceFile};

/// Distinctive credentials: any output containing them is a leak.
pub const CLIENT_ID: &str = "cid-SENTINEL-1234";
pub const CLIENT_SECRET: &str = "csec-SENTINEL-5678";
/// The script runner's authorized_keys, as distinctive: a valid Ed25519 public
/// key line (made-up bytes: no private key exists) with a sentinel comment.
pub const RUNNER_AUTHORIZED_KEYS: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl keys-SENTINEL-9012@maia";
/// The key itself, without its type and comment: what a leak would show.
pub const RUNNER_KEY_BLOB: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

/// Realistic Matillion Hub ids (UUIDs), not placeholders.
pub const ACCOUNT_ID: &str = "6b1f3c9e-2d4a-4c8b-9f1e-0a7d5c3b2e1f";
pub const AGENT_ID: &str = "0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f";

/// The variables every config needs, unless a test replaces or removes them.
const REQUIRED: [(&str, &str); 3] = [
    ("region", "\"eu-west-1\""),
    ("account_id", "\"6b1f3c9e-2d4a-4c8b-9f1e-0a7d5c3b2e1f\""),
    ("agent_id", "\"0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f\""),
];

/// A tfvars text: `region`, `account_id` and `agent_id` (replaced when `vars`
/// names them; removed when the given value is empty), then every other entry of
/// `vars` in order, one `name = value` per line. Values are HCL text.
pub fn tfvars(vars: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, default) in REQUIRED {
        let value = vars.iter().find(|(n, _)| *n == name).map_or(default, |(_, v)| *v);
        if !value.is_empty() {
            out.push_str(&format!("{name} = {value}\n"));
        }
    }
    for (name, value) in vars {
        if !REQUIRED.iter().any(|(n, _)| n == name) {
            out.push_str(&format!("{name} = {value}\n"));
        }
    }
    out
}

/// Credentials (and the script runner's keys, used only when a config turns
/// the runner on) from `TF_VAR_*`, as the README recommends.
pub fn env_with_creds() -> Env {
    Env {
        tf_vars: HashMap::from([
            ("client_id".to_owned(), CLIENT_ID.to_owned()),
            ("client_secret".to_owned(), CLIENT_SECRET.to_owned()),
            ("runner_authorized_keys".to_owned(), RUNNER_AUTHORIZED_KEYS.to_owned()),
        ]),
        overrides: HashMap::new(),
    }
}

pub fn load_text(text: &str, env: &Env) -> Result<Loaded, Report> {
    load(SourceFile::new("terraform.tfvars", text.to_owned()), env, CredentialsNeeded::Yes)
}

/// Loads `text` with credentials from the environment; panics with every
/// diagnostic when it fails.
pub fn load_ok(text: &str) -> Loaded {
    load_ok_env(text, &env_with_creds())
}

pub fn load_ok_env(text: &str, env: &Env) -> Loaded {
    match load_text(text, env) {
        Ok(loaded) => loaded,
        Err(report) => panic!("expected the config to load, got:\n{}\n--- config ---\n{text}", describe(&report)),
    }
}

/// Loads `text` with credentials from the environment; panics when it loads.
pub fn load_err(text: &str) -> Report {
    load_err_env(text, &env_with_creds())
}

pub fn load_err_env(text: &str, env: &Env) -> Report {
    match load_text(text, env) {
        Ok(loaded) => panic!(
            "expected errors, but the config loaded (warnings: {})\n--- config ---\n{text}",
            describe(&loaded.report)
        ),
        Err(report) => report,
    }
}

/// One line per diagnostic, for failure messages.
pub fn describe(report: &Report) -> String {
    report
        .located()
        .iter()
        .map(|d| {
            format!(
                "{:?} {}:{}: {} (help: {})",
                d.severity,
                d.line.map_or("-".into(), |l| l.to_string()),
                d.column.map_or("-".into(), |c| c.to_string()),
                d.message,
                d.help.unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn errors(report: &Report) -> Vec<LocatedDiagnostic<'_>> {
    report.located().into_iter().filter(|d| d.severity == Severity::Error).collect()
}

pub fn warnings(report: &Report) -> Vec<LocatedDiagnostic<'_>> {
    report.located().into_iter().filter(|d| d.severity == Severity::Warning).collect()
}

/// The only error of `report`; panics when there are none or several.
pub fn single_error(report: &Report) -> LocatedDiagnostic<'_> {
    let mut errs = errors(report);
    assert_eq!(errs.len(), 1, "expected exactly one error, got:\n{}", describe(report));
    errs.remove(0)
}

/// The diagnostics whose message contains `needle`.
pub fn matching<'a>(report: &'a Report, needle: &str) -> Vec<LocatedDiagnostic<'a>> {
    report.located().into_iter().filter(|d| d.message.contains(needle)).collect()
}

/// One-based number of the first line of `text` that contains `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("`{needle}` not found in:\n{text}")) + 1
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A config file users already have (tests/fixtures/examples).
pub fn example(file: &str) -> String {
    let path = manifest_dir().join("tests/fixtures/examples").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read example {}: {e}", path.display()))
}

pub fn fixture(file: &str) -> String {
    let path = manifest_dir().join("tests/fixtures").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}
