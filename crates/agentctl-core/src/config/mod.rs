//! Configuration: a `terraform.tfvars` file (plus `TF_VAR_*` environment variables)
//! turned into typed, validated settings.
//!
//! Precedence follows Terraform: a value in the file beats `TF_VAR_<name>`, which
//! beats the default. Sensitive variables are the exception (the credentials and
//! `runner_authorized_keys`): `TF_VAR_client_id` beats the file, so a shared file
//! can keep a placeholder while the real value comes from the environment.

mod access;
mod objects;
pub mod schema;
mod script_runner;
mod validate;
pub mod value;

use std::collections::{BTreeMap, HashMap};

use crate::diagnostics::{Diagnostic, Report, SourceFile};
use crate::secret::SecretString;
use schema::Ty;
use value::{ByteSpan, Spanned, Value};

/// Where a variable's value came from; the span points into the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    File(ByteSpan),
    Env(String),
    Default,
}

impl Origin {
    pub fn span(&self) -> ByteSpan {
        match self {
            Origin::File(span) => span.clone(),
            _ => None,
        }
    }
}

/// Validated settings for one deployment.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    pub region: String,
    pub image_url: String,
    pub account_id: String,
    pub agent_id: String,
    pub matillion_region: String,
    pub matillion_environment: String,
    pub extension_library_location: String,
    pub extension_library_protocol: String,
    /// The agent's OAuth credentials; `None` when the command loaded the config
    /// without them (see [`CredentialsNeeded`]). The secret's value is built from
    /// them, so a stack without them cannot write the secret.
    pub credentials: Option<Credentials>,
    pub network: NetworkConfig,
    pub create_bucket: bool,
    pub desired_count: u32,
    pub agent_cpu: u32,
    pub agent_memory: u32,
    pub ephemeral_storage_size: Option<u32>,
    pub assign_public_ip: bool,
    pub tags: BTreeMap<String, String>,
    pub proxy_http: String,
    pub proxy_https: String,
    pub proxy_excludes: String,
    pub custom_cert_location: String,
    pub external_driver_location: String,
    pub log_retention_days: u32,
    /// Zones of the subnets agentctl creates; empty: the account's first two.
    pub availability_zones: Vec<String>,
    /// Customer managed KMS key (ARN) for the secret, the log groups and the bucket.
    pub kms_key_arn: Option<String>,
    /// Flow logs of the VPC agentctl creates (new VPC only).
    pub vpc_flow_logs: bool,
    pub bucket_versioning: bool,
    /// Staging objects expire this many days after they are written.
    pub bucket_expiry_days: Option<u32>,
    /// Bucket receiving the staging bucket's server access logs.
    pub bucket_access_logs_bucket: Option<String>,
    pub autoscaling: Option<Autoscaling>,
    pub schedules: Vec<Schedule>,
    pub capacity: Option<Capacity>,
    pub alarms: Option<Alarms>,
    /// Run the CloudWatch agent sidecar publishing the agent's Prometheus metrics.
    pub metrics: bool,
    /// Run the guard sidecar that protects tasks from scale-in while they run pipelines.
    pub protect_running_pipelines: bool,
    /// The sidecars' images (pinned by default).
    pub metrics_image_url: String,
    pub guard_image_url: String,
    /// `EXPORT_LOGS` of the agent.
    pub export_logs: bool,
    /// Name of the secret holding the agent's OAuth credentials.
    pub secret_name: String,
    /// What the running agent may reach through its task role.
    pub access: AgentAccess,
    /// The Maia script runner; `None` when `enable_script_runner` is off.
    pub script_runner: Option<ScriptRunner>,
}

/// The Maia script runner: an SSH server the agent runs scripts on, reached
/// at `script-runner:2222` through ECS Service Connect.
#[derive(Debug, Clone)]
pub struct ScriptRunner {
    pub image_url: String,
    pub cpu: u32,
    pub memory: u32,
    pub desired_count: u32,
    pub log_retention_days: u32,
    /// Bucket (ARN) its task role may read extension libraries from.
    pub extension_library_bucket_arn: Option<String>,
    /// Name of the secret holding its `authorized_keys`.
    pub keypair_secret_name: String,
    /// The public key line(s) it accepts; `None` when the command loaded the
    /// config without credentials (see [`CredentialsNeeded`]).
    pub authorized_keys: Option<SecretString>,
}

/// The agent's OAuth client credentials, from Matillion Hub.
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    pub client_id: SecretString,
    pub client_secret: SecretString,
}

/// Whether a command needs the agent's credentials. Only the commands that
/// write or compare the secret (apply, plan) and validate, which checks the
/// whole config, ask for them; the others neither read nor require them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsNeeded {
    Yes,
    No,
}

/// What the agent may do with Secrets Manager secrets of its account and region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsAccess {
    /// List, read, create, update and tag: OAuth and cloud credentials defined in
    /// Matillion are stored as new secrets by the agent.
    Manage,
    /// List and read: secret definitions only.
    Read,
    None,
}

impl SecretsAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretsAccess::Manage => "manage",
            SecretsAccess::Read => "read",
            SecretsAccess::None => "none",
        }
    }
}

/// The task role's reach beyond the agent's own log group.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentAccess {
    pub secrets: SecretsAccess,
    /// Secret names, or prefixes ending in `*`; empty: every secret of the
    /// account and region.
    pub secret_names: Vec<String>,
    /// Keys encrypting those secrets, usable through Secrets Manager only.
    pub secret_kms_key_arns: Vec<String>,
    /// Existing buckets besides the one agentctl creates.
    pub staging_buckets: Vec<String>,
    /// Managed policies attached to the task role; agentctl owns exactly this set.
    pub managed_policy_arns: Vec<String>,
    /// The user's own inline policy.
    pub extra_policy: Option<serde_json::Value>,
}

/// Target tracking on the service's task count.
#[derive(Debug, Clone, PartialEq)]
pub struct Autoscaling {
    pub min: u32,
    pub max: u32,
    /// Average CPU utilisation (%) to hold.
    pub cpu_target: Option<f64>,
    pub memory_target: Option<f64>,
    /// Average running pipeline tasks per agent to hold (needs `metrics`; an
    /// agent runs at most 20).
    pub active_tasks_target: Option<f64>,
    pub scale_in_cooldown: u32,
    pub scale_out_cooldown: u32,
}

/// A scheduled change of the autoscaling bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub name: String,
    /// `cron(...)`, `rate(...)` or `at(...)` as Application Auto Scaling takes them.
    pub schedule: String,
    pub timezone: Option<String>,
    pub min: Option<u32>,
    pub max: Option<u32>,
}

/// How tasks spread over FARGATE and FARGATE_SPOT: the first `fargate_base`
/// tasks on FARGATE, the rest by weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    pub fargate_base: u32,
    pub fargate_weight: u32,
    pub spot_weight: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alarms {
    pub sns_topic_arns: Vec<String>,
    /// Percent.
    pub cpu_high: f64,
    pub memory_high: f64,
    pub tasks_below_desired: bool,
    /// Average active pipeline tasks per agent above which it is saturated (metrics only).
    pub agent_saturation: f64,
    /// Alarm when an agent reports it is not running (metrics only).
    pub agent_not_running: bool,
    pub dashboard: bool,
}

/// The network as the three `use_existing_*` switches combine.
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkConfig {
    /// agentctl creates the VPC, IGW, route table, two subnets.
    New { cidr_block: String, security_group: SecurityGroupConfig },
    /// Existing VPC; agentctl creates two subnets in it, carved from
    /// `cidr_block` when given, else in the first free ranges of the VPC.
    ExistingVpc { vpc_id: String, cidr_block: Option<String>, security_group: SecurityGroupConfig },
    /// Existing VPC and subnets.
    Existing { vpc_id: String, subnet_ids: Vec<String>, security_group: SecurityGroupConfig },
}

#[derive(Debug, Clone, PartialEq)]
pub enum SecurityGroupConfig {
    Create,
    Existing(Vec<String>),
}

impl NetworkConfig {
    pub fn security_group(&self) -> &SecurityGroupConfig {
        match self {
            NetworkConfig::New { security_group, .. }
            | NetworkConfig::ExistingVpc { security_group, .. }
            | NetworkConfig::Existing { security_group, .. } => security_group,
        }
    }
    pub fn existing_vpc_id(&self) -> Option<&str> {
        match self {
            NetworkConfig::New { .. } => None,
            NetworkConfig::ExistingVpc { vpc_id, .. } | NetworkConfig::Existing { vpc_id, .. } => Some(vpc_id),
        }
    }
}

/// The environment as agentctl sees it: `TF_VAR_*` values. Injected so tests are
/// hermetic.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub tf_vars: HashMap<String, String>,
    /// Command-line values (e.g. `--region`); they beat the file.
    pub overrides: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        let tf_vars =
            std::env::vars().filter_map(|(k, v)| k.strip_prefix("TF_VAR_").map(|n| (n.to_owned(), v))).collect();
        Self { tf_vars, overrides: HashMap::new() }
    }
}

/// A successfully loaded config and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub report: Report,
}

/// Parses and validates `text`. On any error, returns every problem at once.
pub fn load(source: SourceFile, env: &Env, credentials: CredentialsNeeded) -> Result<Loaded, Report> {
    let mut diags = Vec::new();
    let raw = parse(&source, env, &mut diags);
    let config = raw.as_ref().and_then(|raw| validate::validate(raw, credentials, &mut diags));
    // Diagnostics quote the file; a credential written in it must not be quoted.
    let source = SourceFile { path: source.path.clone(), text: mask_credentials(&source.text).into() };
    let report = Report { source, diagnostics: diags };
    match config {
        Some(config) if !report.has_errors() => Ok(Loaded { config, report }),
        _ => Err(report),
    }
}

/// A key that holds a credential, or looks like it was meant to (a misspelt
/// `client_secret` is reported as unknown, with its line quoted).
fn is_sensitive_key(key: &str) -> bool {
    // A variable agentctl knows says so itself (`secret_names` holds no secret).
    if let Some(var) = schema::lookup(key) {
        return var.sensitive;
    }
    let lower = key.to_ascii_lowercase();
    schema::suggest(key).and_then(schema::lookup).is_some_and(|v| v.sensitive)
        || ["secret", "password", "token", "credential", "authorized_key"].iter().any(|w| lower.contains(w))
}

/// The file's text with the value of every sensitive assignment replaced by `*`
/// byte for byte, so spans into the original stay valid.
pub fn mask_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let key_len = trimmed.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(trimmed.len());
        let key = &trimmed[..key_len];
        let is_sensitive = is_sensitive_key(key) && trimmed[key_len..].trim_start().starts_with('=');
        match (is_sensitive, line.find('=')) {
            (true, Some(eq)) => {
                out.push_str(&line[..=eq]);
                let value = &line[eq + 1..];
                let body_end = value.trim_end_matches(['\n', '\r']).len();
                out.extend(value[..body_end].chars().map(|c| {
                    if c.is_ascii_whitespace() {
                        c.to_string()
                    } else {
                        "*".repeat(c.len_utf8())
                    }
                }));
                out.push_str(&value[body_end..]);
            }
            _ => out.push_str(line),
        }
    }
    // A value may span lines (a heredoc, a list, an object): mask all of it.
    if let Ok(body) = hcl_edit::parser::parse_body(text) {
        use hcl_edit::Span;
        let mut bytes = out.into_bytes();
        for attr in body.attributes().filter(|a| is_sensitive_key(a.key.as_str())) {
            if let Some(span) = attr.value.span() {
                for b in &mut bytes[span] {
                    if !b.is_ascii_whitespace() {
                        *b = b'*';
                    }
                }
            }
        }
        out = String::from_utf8(bytes).expect("whole characters replaced by ASCII");
    }
    out
}

/// Reads a config file from disk; I/O errors become a diagnostic without a span.
pub fn load_file(path: &std::path::Path, env: &Env, credentials: CredentialsNeeded) -> Result<Loaded, Report> {
    match std::fs::read_to_string(path) {
        Ok(text) => load(SourceFile::new(path.display().to_string(), text), env, credentials),
        Err(e) => Err(Report {
            source: SourceFile::new(path.display().to_string(), ""),
            diagnostics: vec![Diagnostic::error(format!("cannot read config file {}: {e}", path.display()))
                .help("pass the file with -c/--config, or run agentctl in the folder that holds terraform.tfvars")],
        }),
    }
}

/// Variables as written, before typing: value plus where it came from.
#[derive(Debug, Default)]
pub(crate) struct RawVars {
    pub values: BTreeMap<&'static str, (Spanned, Origin)>,
}

fn parse(source: &SourceFile, env: &Env, diags: &mut Vec<Diagnostic>) -> Option<RawVars> {
    let body = match hcl_edit::parser::parse_body(&source.text) {
        Ok(body) => body,
        Err(e) => {
            let loc = e.location();
            let offset = loc.offset();
            diags.push(
                Diagnostic::error(format!("{} is not valid HCL: {}", source.path, e.message()))
                    .at(Some(offset..offset + 1))
                    .label("here")
                    .help("a tfvars file holds lines of the form `name = value`"),
            );
            return None;
        }
    };
    let mut raw = RawVars::default();
    for block in body.blocks() {
        use hcl_edit::Span;
        diags.push(
            Diagnostic::error(format!("block `{}` is not allowed in a variables file", block.ident.as_str()))
                .at(block.span())
                .help("write variables as `name = value`; objects as `name = { key = value }`"),
        );
    }
    for attr in body.attributes() {
        use hcl_edit::Span;
        let key = attr.key.as_str();
        let value = value::from_expr(&attr.value);
        let Some(var) = schema::lookup(key) else {
            let mut d = Diagnostic::error(format!("unknown variable `{key}`"))
                .at(attr.key.span())
                .label("not a variable agentctl knows");
            d = match schema::suggest(key) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help("remove it, or see the configuration reference in the README"),
            };
            diags.push(d);
            continue;
        };
        if raw.values.contains_key(var.name) {
            diags.push(
                Diagnostic::error(format!("variable `{key}` is set more than once"))
                    .at(attr.key.span())
                    .help("keep one assignment"),
            );
            continue;
        }
        raw.values.insert(var.name, (value, Origin::File(attr.span())));
    }
    // Environment: fills gaps, except credentials where it wins. Flags win always.
    for var in schema::VARIABLES {
        let (text, origin) = if let Some(text) = env.overrides.get(var.name) {
            (text, Origin::Env(format!("--{}", var.name.replace('_', "-"))))
        } else if let Some(text) = env.tf_vars.get(var.name) {
            if raw.values.contains_key(var.name) && !var.sensitive {
                continue;
            }
            (text, Origin::Env(format!("TF_VAR_{}", var.name)))
        } else {
            continue;
        };
        let parsed = if var.ty == Ty::String {
            Spanned { value: Value::String(text.clone()), span: None }
        } else {
            match hcl_edit::parser::parse_expr(text) {
                Ok(expr) => {
                    let mut v = value::from_expr(&expr);
                    clear_spans(&mut v);
                    v
                }
                Err(_) => {
                    diags.push(
                        Diagnostic::error(format!(
                            "{} is not a valid {} value",
                            match &origin {
                                Origin::Env(src) => src.as_str(),
                                _ => var.name,
                            },
                            var.ty.name()
                        ))
                        .help(format!(
                            "set it to an HCL {} literal, e.g. {}",
                            var.ty.name(),
                            var.default.unwrap_or("\"...\"")
                        )),
                    );
                    continue;
                }
            }
        };
        raw.values.insert(var.name, (parsed, origin));
    }
    Some(raw)
}

/// Spans of values parsed from the environment point into another string.
fn clear_spans(v: &mut Spanned) {
    v.span = None;
    match &mut v.value {
        Value::List(items) => items.iter_mut().for_each(clear_spans),
        Value::Object(fields) => fields.iter_mut().for_each(|(_, f)| clear_spans(f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::mask_credentials;

    #[test]
    fn masks_only_credential_values_keeping_offsets() {
        let text = "name = \"x\"\nclient_secret = \"s3cr3t\" # note\n  client_id=\"abc\"\nclient_secrte = \"typo\"\nregion = \"keep\"\n";
        let masked = mask_credentials(text);
        assert_eq!(masked.len(), text.len());
        assert!(!masked.contains("s3cr3t") && !masked.contains("abc") && !masked.contains("typo"));
        assert!(masked.contains("name = \"x\"") && masked.contains("region = \"keep\""));
        assert!(masked.contains("client_secret = ******** * ****\n"));
    }
}
