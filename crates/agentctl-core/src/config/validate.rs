//! Typing and validation rules. Every rule records a diagnostic and carries on, so
//! the user sees all problems in one run.

use std::collections::BTreeMap;

use super::value::{ByteSpan, Spanned, Value};
use super::{schema, Config, Credentials, CredentialsNeeded, NetworkConfig, Origin, RawVars, SecurityGroupConfig};
use crate::diagnostics::Diagnostic;
use crate::fargate;
use crate::names::{self, DerivedName};
use crate::regions;
use crate::secret::SecretString;

/// Reads typed values out of the raw variables, converting as Terraform does
/// ("2" is a number, 2 is a string) and recording type errors.
pub(super) struct Reader<'a> {
    raw: &'a RawVars,
    pub(super) diags: &'a mut Vec<Diagnostic>,
}

impl Reader<'_> {
    pub(super) fn entry(&self, name: &str) -> Option<&(Spanned, Origin)> {
        self.raw.values.get(name)
    }

    /// The value's span, or the whole assignment for environment values (none).
    pub(super) fn span(&self, name: &str) -> ByteSpan {
        self.entry(name).and_then(|(v, _)| v.span.clone())
    }

    pub(super) fn is_set(&self, name: &str) -> bool {
        self.entry(name).is_some_and(|(v, _)| v.value != Value::Null)
    }

    pub(super) fn is_from_file(&self, name: &str) -> bool {
        matches!(self.entry(name), Some((_, Origin::File(_))))
    }

    pub(super) fn where_(&self, name: &str) -> String {
        match self.entry(name).map(|(_, o)| o) {
            Some(Origin::Env(var)) if var.starts_with("--") => format!(" (from {var})"),
            Some(Origin::Env(var)) => format!(" (from environment variable {var})"),
            _ => String::new(),
        }
    }

    fn type_error(&mut self, name: &str, expected: &str, found: &Spanned) {
        // A value that is not a literal at all was reported once already, as such.
        if self.entry(name).is_some_and(|(v, _)| matches!(v.value, Value::Unsupported(_))) {
            return;
        }
        let var = schema::lookup(name).expect("known variable");
        let example = var.default.filter(|d| *d != "null").unwrap_or("...");
        self.diags.push(
            Diagnostic::error(format!(
                "`{name}` must be a {expected}, found {}{}",
                found.value.type_name(),
                self.where_(name)
            ))
            .at(found.span.clone())
            .label(format!("expected {expected}"))
            .help(format!("write it as a {expected}, e.g. `{name} = {example}`")),
        );
    }

    /// The value as written, or the schema's default when unset or null.
    fn value(&self, name: &str) -> Spanned {
        match self.entry(name) {
            Some((v, _)) if v.value != Value::Null => v.clone(),
            _ => Spanned { value: default(name).clone(), span: None },
        }
    }

    /// A string; `None` when null (and null by default) or of another type.
    pub(super) fn opt_string(&mut self, name: &str) -> Option<String> {
        let v = self.value(name);
        match &v.value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(format_number(*n)),
            Value::Bool(b) => Some(b.to_string()),
            _ => {
                self.type_error(name, "string", &v);
                None
            }
        }
    }

    pub(super) fn string(&mut self, name: &str) -> String {
        // Unset, null and values of the wrong type (reported) all read as the default.
        self.opt_string(name).unwrap_or_else(|| default_as(name, Value::as_str).to_owned())
    }

    fn required_string(&mut self, name: &str) -> Option<String> {
        let present = self.entry(name).is_some();
        let value = self.opt_string(name);
        if value.is_none() && (!present || !self.is_set(name)) {
            let var = schema::lookup(name).expect("known variable");
            let how = if var.sensitive {
                format!("export TF_VAR_{name}=... in the environment (safer than the file)")
            } else {
                format!("add `{name} = \"...\"` to the config file")
            };
            self.diags.push(Diagnostic::error(format!("`{name}` is required: {}", var.description)).help(how));
        }
        value
    }

    /// A whole number within `range`; `None` when null (and null by default)
    /// or invalid.
    fn opt_number(&mut self, name: &str, range: std::ops::RangeInclusive<u32>, what: &str) -> Option<u32> {
        let v = self.value(name);
        let n = match &v.value {
            Value::Null => return None,
            Value::Number(n) => *n,
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(n) => n,
                Err(_) => {
                    self.type_error(name, "number", &v);
                    return None;
                }
            },
            _ => {
                self.type_error(name, "number", &v);
                return None;
            }
        };
        if n.fract() != 0.0 || n < *range.start() as f64 || n > *range.end() as f64 {
            self.diags.push(
                Diagnostic::error(format!(
                    "`{name}` = {} is out of range{}: {what} must be a whole number from {} to {}",
                    format_number(n),
                    self.where_(name),
                    range.start(),
                    range.end()
                ))
                .at(v.span.clone())
                .label(format!("{}..={}", range.start(), range.end()))
                .help(format!(
                    "set `{name}` to a whole number between {} and {}",
                    range.start(),
                    range.end()
                )),
            );
            return None;
        }
        Some(n as u32)
    }

    pub(super) fn number(&mut self, name: &str, range: std::ops::RangeInclusive<u32>, what: &str) -> u32 {
        self.opt_number(name, range, what).unwrap_or_else(|| default_as(name, Value::as_number) as u32)
    }

    pub(super) fn bool(&mut self, name: &str) -> bool {
        let v = self.value(name);
        match &v.value {
            Value::Bool(b) => *b,
            Value::String(s) if s == "true" || s == "false" => s == "true",
            _ => {
                self.type_error(name, "bool", &v);
                default_as(name, Value::as_bool)
            }
        }
    }

    /// A list of strings, each with its own span.
    pub(super) fn string_list(&mut self, name: &str) -> Vec<(String, ByteSpan)> {
        let v = self.value(name);
        match &v.value {
            Value::Null => Vec::new(),
            Value::List(items) => {
                let mut out = Vec::new();
                for item in items {
                    match &item.value {
                        Value::String(s) => out.push((s.clone(), item.span.clone())),
                        _ => self.type_error(name, "list(string)", item),
                    }
                }
                out
            }
            _ => {
                self.type_error(name, "list(string)", &v);
                Vec::new()
            }
        }
    }

    fn string_map(&mut self, name: &str) -> Vec<(String, String, ByteSpan)> {
        let v = self.value(name);
        match &v.value {
            Value::Null => Vec::new(),
            Value::Object(fields) => {
                let mut out = Vec::new();
                for (key, item) in fields {
                    match &item.value {
                        Value::String(s) => out.push((key.clone(), s.clone(), item.span.clone())),
                        Value::Number(n) => out.push((key.clone(), format_number(*n), item.span.clone())),
                        Value::Bool(b) => out.push((key.clone(), b.to_string(), item.span.clone())),
                        _ => self.type_error(name, "map(string)", item),
                    }
                }
                out
            }
            _ => {
                self.type_error(name, "map(string)", &v);
                Vec::new()
            }
        }
    }

    pub(super) fn error(&mut self, name: &str, message: String, label: &str, help: String) {
        let span = self.span(name);
        self.diags.push(Diagnostic::error(message).at(span).label(label).help(help));
    }
}

/// The schema's default of `name`: `Null` for a required variable.
fn default(name: &str) -> &'static Value {
    schema::lookup(name).expect("known variable").default_value()
}

/// The schema's default of `name` as the type its reader returns (a schema
/// test checks that each default has its variable's type).
fn default_as<T>(name: &str, as_type: fn(&'static Value) -> Option<T>) -> T {
    as_type(default(name)).unwrap_or_else(|| panic!("schema: `{name}` has no default of its type"))
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

pub(crate) fn validate(raw: &RawVars, credentials: CredentialsNeeded, diags: &mut Vec<Diagnostic>) -> Option<Config> {
    let credentials_needed = credentials == CredentialsNeeded::Yes;
    let mut r = Reader { raw, diags };

    // Anything that is not a literal cannot be evaluated in a variables file.
    for (name, (v, _)) in &raw.values {
        if let Value::Unsupported(kind) = v.value {
            let from = r.where_(name);
            r.diags.push(
                Diagnostic::error(format!("`{name}` is a {kind}{from}; a variables file holds literal values only"))
                    .at(v.span.clone())
                    .help("replace it with a literal string, number, bool, list or map"),
            );
        }
    }

    let name = r.string("name");
    let region = r.required_string("region");
    let image_url = r.string("image_url");
    let account_id = r.required_string("account_id");
    let agent_id = r.required_string("agent_id");
    let matillion_region = r.string("matillion_region");
    let matillion_environment = r.string("matillion_environment");
    let extension_library_location = r.string("extension_library_location");
    let extension_library_protocol = r.string("extension_library_protocol");
    let (client_id, client_secret) = if credentials_needed {
        (r.required_string("client_id"), r.required_string("client_secret"))
    } else {
        (None, None)
    };
    let use_existing_vpc = r.bool("use_existing_vpc");
    let vpc_id = r.opt_string("vpc_id");
    let cidr_block = r.string("cidr_block");
    let use_existing_subnet = r.bool("use_existing_subnet");
    let subnet_ids = r.string_list("subnet_ids");
    let use_existing_sg = r.bool("use_existing_security_group");
    let sg_ids = r.string_list("security_group_ids");
    let create_bucket = r.bool("create_bucket");
    let desired_count = r.number("desired_count", 0..=5000, "the task count");
    let ephemeral = r.opt_number(
        "ephemeral_storage_size",
        fargate::EPHEMERAL_MIN_GIB..=fargate::EPHEMERAL_MAX_GIB,
        "ephemeral storage in GiB",
    );
    let assign_public_ip = r.bool("assign_public_ip");
    let tags = r.string_map("tags");
    let proxy_http = r.string("proxy_http");
    let proxy_https = r.string("proxy_https");
    let proxy_excludes = r.string("proxy_excludes");
    let custom_cert_location = r.string("custom_cert_location");
    let external_driver_location = r.string("external_driver_location");
    let log_retention_days = r.number("log_retention_days", 0..=3653, "retention in days");
    let metrics = r.bool("metrics");
    let protect_running_pipelines = r.bool("protect_running_pipelines");
    let metrics_image_url = r.string("metrics_image_url");
    let guard_image_url = r.string("guard_image_url");
    let export_logs = r.bool("export_logs");
    let secret_name = check_secret_name(&mut r, &name);
    let access = super::access::read(&mut r, region.as_deref(), create_bucket);
    let script_runner = super::script_runner::read(&mut r, &name, region.as_deref(), &secret_name, credentials_needed);
    let availability_zones = r.string_list("availability_zones");
    let kms_key_arn = r.opt_string("kms_key_arn").filter(|s| !s.is_empty());
    let vpc_flow_logs = r.bool("vpc_flow_logs");
    let bucket_versioning = r.bool("bucket_versioning");
    let bucket_expiry_days =
        r.opt_number("bucket_expiry_days", 0..=36500, "days before staging objects expire").filter(|d| *d > 0);
    let bucket_access_logs_bucket = r.opt_string("bucket_access_logs_bucket").filter(|s| !s.is_empty());
    let object = |name: &str| {
        raw.values
            .get(name)
            .map(|(v, _)| v)
            .filter(|v| v.value != Value::Null && !matches!(v.value, Value::Unsupported(_)))
    };
    let autoscaling = object("autoscaling").and_then(|v| super::objects::autoscaling(v, desired_count, r.diags));
    if autoscaling.as_ref().is_some_and(|a| a.active_tasks_target.is_some()) && !metrics {
        let span = raw.values.get("autoscaling").and_then(|(v, _)| v.span.clone());
        r.diags.push(
            Diagnostic::error("`autoscaling.active_tasks_target` scales on the agent's active pipeline tasks, which only the metrics sidecar publishes")
                .at(span)
                .help("set `metrics = true`"),
        );
    }
    let schedules =
        object("schedules").map(|v| super::objects::schedules(v, autoscaling.as_ref(), r.diags)).unwrap_or_default();
    let capacity = object("capacity").and_then(|v| super::objects::capacity(v, r.diags));
    let alarms = object("alarms").and_then(|v| super::objects::alarms(v, metrics, r.diags));

    check_region(&mut r, region.as_deref());
    check_matillion_region(&mut r, &matillion_region);
    check_placeholders(&mut r, &[("account_id", &account_id), ("agent_id", &agent_id)]);
    if credentials_needed {
        check_credentials(&mut r, client_id.as_deref(), client_secret.as_deref());
    }
    let (agent_cpu, agent_memory) = check_task_size(&mut r);
    check_image(&mut r, "image_url", &image_url, "public.ecr.aws/matillion/etl-agent:current");
    for (var, image) in [("metrics_image_url", &metrics_image_url), ("guard_image_url", &guard_image_url)] {
        let default = schema::lookup(var).and_then(|v| v.default).unwrap_or_default().trim_matches('"');
        check_image(&mut r, var, image, default);
    }
    check_retention(&mut r, "log_retention_days", log_retention_days);
    if let (Some(key), Some(region)) = (&kms_key_arn, &region) {
        check_kms_key(&mut r, key, region);
    }
    let availability_zones = match &region {
        Some(region) if !availability_zones.is_empty() => {
            check_zones(&mut r, &availability_zones, region, use_existing_subnet)
        }
        _ => vec![],
    };
    if vpc_flow_logs && use_existing_vpc {
        r.error(
            "vpc_flow_logs",
            "`vpc_flow_logs` turns on flow logs of the VPC agentctl creates; with `use_existing_vpc = true` it creates none".to_owned(),
            "needs a new VPC",
            "remove `vpc_flow_logs` and keep the existing VPC's own flow logs, or let agentctl create the VPC".to_owned(),
        );
    }
    if !create_bucket {
        for (var, set) in [
            ("bucket_versioning", bucket_versioning),
            ("bucket_expiry_days", bucket_expiry_days.is_some()),
            ("bucket_access_logs_bucket", bucket_access_logs_bucket.is_some()),
        ] {
            if set {
                r.error(
                    var,
                    format!("`{var}` configures the staging bucket, and `create_bucket = false` creates none"),
                    "no bucket",
                    format!("remove `{var}`, or set `create_bucket = true`"),
                );
            }
        }
    }
    if let Some(target) = &bucket_access_logs_bucket {
        check_access_logs_bucket(&mut r, target);
        // The staging bucket's own name (the account and region complete it).
        if target.starts_with(&format!("{name}-staging-")) {
            r.error(
                "bucket_access_logs_bucket",
                format!("`bucket_access_logs_bucket` = \"{target}\" is the staging bucket itself: each log write would log again"),
                "the staging bucket",
                "name another bucket to receive the access logs".to_owned(),
            );
        }
    }
    let network = check_network(
        &mut r,
        NetworkInput { use_existing_vpc, vpc_id, cidr_block, use_existing_subnet, subnet_ids, use_existing_sg, sg_ids },
        assign_public_ip,
    );
    let tags = check_tags(&mut r, tags);
    if desired_count == 0 {
        let span = r.span("desired_count");
        r.diags.push(
            Diagnostic::warning("`desired_count` = 0: the service will run no agent and pipelines will not run")
                .at(span)
                .help("set desired_count to 1 or more when the agent should run"),
        );
    }
    if protect_running_pipelines && capacity.as_ref().is_some_and(|c| c.spot_weight > 0) {
        let span = r.span("capacity");
        r.diags.push(
            Diagnostic::warning("tasks on FARGATE_SPOT are stopped when AWS reclaims the capacity, protected or not: pipelines running on them fail")
                .at(span)
                .help("keep `capacity.spot_weight = 0` (or a `fargate_base` that holds the busy hours) for agents whose pipelines must not be cut off"),
        );
    }
    if let Some(region) = &region {
        check_names(&mut r, &name, region, create_bucket, script_runner.is_some());
    }
    if !use_existing_sg && name.starts_with("sg-") {
        r.error(
            "name",
            format!("`name` = \"{name}\" gives the security group name \"{name}-agent\"; EC2 refuses names that start with \"sg-\""),
            "security group name",
            "choose a `name` that does not start with \"sg-\"".to_owned(),
        );
    }

    let config = Config {
        name,
        region: region?,
        image_url,
        account_id: account_id?,
        agent_id: agent_id?,
        matillion_region,
        matillion_environment,
        extension_library_location,
        extension_library_protocol,
        credentials: if credentials_needed {
            Some(Credentials {
                client_id: SecretString::new(client_id?),
                client_secret: SecretString::new(client_secret?),
            })
        } else {
            None
        },
        network: network?,
        create_bucket,
        desired_count,
        agent_cpu,
        agent_memory,
        ephemeral_storage_size: ephemeral,
        assign_public_ip,
        tags,
        proxy_http,
        proxy_https,
        proxy_excludes,
        custom_cert_location,
        external_driver_location,
        log_retention_days,
        availability_zones,
        kms_key_arn,
        vpc_flow_logs,
        bucket_versioning,
        bucket_expiry_days,
        bucket_access_logs_bucket,
        autoscaling,
        schedules,
        capacity,
        alarms,
        metrics,
        protect_running_pipelines,
        metrics_image_url,
        guard_image_url,
        export_logs,
        secret_name,
        access,
        script_runner,
    };
    check_task_role_size(&mut r, &config);
    Some(config)
}

/// `secret_name`, or the name agentctl derives; AWS's naming rules apply.
fn check_secret_name(r: &mut Reader, name: &str) -> String {
    let Some(given) = r.opt_string("secret_name").filter(|s| !s.is_empty()) else {
        return names::secret(name);
    };
    let derived = DerivedName { resource: "Secrets Manager secret", value: given.clone(), rule: names::Rule::Secret };
    if let Err(why) = derived.check() {
        r.error(
            "secret_name",
            format!("`secret_name` is not a valid secret name: {why}"),
            "secret name",
            "use letters, digits and - _ . / @ + = (at most 512 characters)".to_owned(),
        );
    } else if given
        .rsplit_once('-')
        .is_some_and(|(_, tail)| tail.len() == 6 && tail.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        let span = r.span("secret_name");
        r.diags.push(
            Diagnostic::warning(format!("`secret_name` = \"{given}\" ends with a hyphen and six characters, like the suffix Secrets Manager adds to every ARN"))
                .at(span)
                .help("AWS advises against it: a partial ARN of this secret is ambiguous. Choose a name without such an ending"),
        );
    }
    given
}

/// IAM holds at most 10,240 characters (without whitespace) of inline policy per
/// role: agentctl's task policy and `task_role_policy` share them.
fn check_task_role_size(r: &mut Reader, config: &Config) {
    if config.access.extra_policy.is_none() {
        return;
    }
    // The account placeholder is longer than an account id: this errs on the safe side.
    let ctx = crate::model::Context::default();
    let total: usize =
        crate::model::iam::task_role_policies(config, &ctx).values().map(crate::policy::policy_size).sum();
    if total > crate::policy::ROLE_INLINE_LIMIT {
        r.error(
            "task_role_policy",
            format!(
                "the task role's inline policies would be {total} characters; IAM allows {} per role (agentctl's own task policy takes part of it)",
                crate::policy::ROLE_INLINE_LIMIT
            ),
            "policy too large",
            "make `task_role_policy` shorter, or put it in a managed policy and list its ARN in `task_role_policy_arns`".to_owned(),
        );
    }
}

/// A key ARN in the deployment's region: CloudWatch Logs takes no alias and no
/// key of another region.
fn check_kms_key(r: &mut Reader, key: &str, region: &str) {
    if let Some(p) = kms_key_problem(key, region, "CloudWatch Logs takes only a key ARN") {
        // The region is the problem, not the ARN's shape: no need to quote it.
        let subject = if p.other_region { "`kms_key_arn`".to_owned() } else { format!("`kms_key_arn` = \"{key}\"") };
        r.error("kms_key_arn", format!("{subject} {}", p.why), p.label, p.help);
    }
}

pub(super) struct KeyProblem {
    pub why: String,
    pub label: &'static str,
    pub help: String,
    /// A well-formed key ARN, of another region.
    pub other_region: bool,
}

/// What is wrong with `key` as a KMS key ARN of `region`. `alias_why` says why
/// an alias will not do.
pub(super) fn kms_key_problem(key: &str, region: &str, alias_why: &str) -> Option<KeyProblem> {
    let parts: Vec<&str> = key.splitn(6, ':').collect();
    let key_id = parts.get(5).and_then(|p| p.strip_prefix("key/"));
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "kms"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && key_id.is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !well_formed {
        let why = if parts.get(5).is_some_and(|p| p.starts_with("alias/")) || key.starts_with("alias/") {
            format!("is an alias; {alias_why}")
        } else {
            "is not a KMS key ARN".to_owned()
        };
        return Some(KeyProblem {
            why,
            label: "key ARN",
            help: "use the key's ARN, e.g. `arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab` (aws kms describe-key --key-id alias/NAME shows it)".to_owned(),
            other_region: false,
        });
    }
    (parts[3] != region).then(|| KeyProblem {
        why: format!(
            "is a key in {}, but the deployment is in {region}; AWS encrypts only with a key of the same region",
            parts[3]
        ),
        label: "other region",
        help: format!("use a key in {region} (a multi-Region key's replica there has its own ARN)"),
        other_region: true,
    })
}

/// Two distinct zone names of the region, for subnets agentctl creates. Whether
/// the account has them is checked once AWS is asked (before any change).
fn check_zones(r: &mut Reader, zones: &[(String, ByteSpan)], region: &str, existing_subnets: bool) -> Vec<String> {
    let names: Vec<String> = zones.iter().map(|(z, _)| z.clone()).collect();
    if existing_subnets {
        r.error(
            "availability_zones",
            "`availability_zones` places the subnets agentctl creates; with `use_existing_subnet = true` it creates none".to_owned(),
            "no new subnets",
            "remove `availability_zones`: your subnets are already in their zones".to_owned(),
        );
        return vec![];
    }
    for (zone, span) in zones {
        let letter = zone.strip_prefix(region).unwrap_or_default();
        if letter.is_empty() || !letter.chars().all(|c| c.is_ascii_lowercase()) {
            r.diags.push(
                Diagnostic::error(format!("`availability_zones`: \"{zone}\" is not a zone name of {region}"))
                    .at(span.clone())
                    .label("zone name")
                    .help(format!("use names such as \"{region}a\" (aws ec2 describe-availability-zones --region {region} lists them)")),
            );
            return vec![];
        }
    }
    let mut distinct = names.clone();
    distinct.sort();
    distinct.dedup();
    if names.len() != 2 || distinct.len() != 2 {
        r.error(
            "availability_zones",
            format!("`availability_zones` lists {} zone(s); agentctl creates two subnets, one in each of two different zones", names.len()),
            "two zones",
            format!("list exactly two different zones, e.g. [\"{region}a\", \"{region}b\"]"),
        );
        return vec![];
    }
    names
}

/// S3's bucket naming rules, which the target of access logs must follow.
fn check_access_logs_bucket(r: &mut Reader, bucket: &str) {
    if let Some(help) = bucket_name_problem(bucket) {
        r.error(
            "bucket_access_logs_bucket",
            format!("`bucket_access_logs_bucket` = \"{bucket}\" is not an S3 bucket name"),
            "bucket name",
            help,
        );
    }
}

/// The fix when `bucket` breaks S3's bucket naming rules.
pub(super) fn bucket_name_problem(bucket: &str) -> Option<String> {
    let ok_chars = bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ok_ends = bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    let ok = (3..=63).contains(&bucket.len()) && ok_chars && ok_ends;
    (!ok).then(|| {
        "give the name of an existing bucket (3-63 lowercase letters, digits, hyphens and dots), not its ARN or URL"
            .to_owned()
    })
}

fn check_region(r: &mut Reader, region: Option<&str>) {
    let Some(region) = region else { return };
    if regions::is_aws_region(region) {
        return;
    }
    let help = match regions::suggest_aws_region(region) {
        Some(s) => format!("did you mean `{s}`?"),
        None => "use an AWS region name such as `eu-west-1` or `us-east-1`".to_owned(),
    };
    r.error("region", format!("`region` = \"{region}\" is not an AWS region"), "unknown region", help);
}

fn check_matillion_region(r: &mut Reader, code: &str) {
    if regions::looks_like_aws_region(code) {
        let suggestion = regions::matillion_code_for(code);
        r.error(
            "matillion_region",
            format!("`matillion_region` = \"{code}\" is an AWS region name, not a Matillion region code"),
            "AWS region, not a Matillion region",
            format!(
                "set `matillion_region` to your Matillion account's region code ({}), probably `{suggestion}`; the AWS region goes in `region`",
                regions::MATILLION_REGIONS.join(", ")
            ),
        );
    } else if !regions::MATILLION_REGIONS.contains(&code) {
        let span = r.span("matillion_region");
        r.diags.push(
            Diagnostic::warning(format!(
                "`matillion_region` = \"{code}\" is not a Matillion region code agentctl knows"
            ))
            .at(span)
            .help(format!(
                "known codes: {}; check the region of your Matillion account in Hub",
                regions::MATILLION_REGIONS.join(", ")
            )),
        );
    }
}

/// Values copied from an example file without being filled in.
pub(crate) fn is_placeholder(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    let body =
        v.split_once('-').map_or(
            v.as_str(),
            |(prefix, rest)| {
                if ["vpc", "subnet", "sg"].contains(&prefix) {
                    rest
                } else {
                    v.as_str()
                }
            },
        );
    v.starts_with("your-")
        || v.starts_with("your_")
        || v.starts_with('<')
        || v.contains("changeme")
        || v.contains("xxxx")
        || v.contains("yyyy")
        || ["12345678", "87654321", "123456789", "1234567890abcdef0"].contains(&body)
        || (body.len() >= 4 && body.chars().all(|c| c == body.chars().next().unwrap_or_default()))
}

fn check_placeholders(r: &mut Reader, values: &[(&str, &Option<String>)]) {
    for (name, value) in values {
        if let Some(v) = value {
            if is_placeholder(v) {
                r.error(
                    name,
                    format!("`{name}` = \"{v}\" is a placeholder from an example file"),
                    "placeholder",
                    format!(
                        "replace it with your {} from Matillion Hub",
                        schema::lookup(name)
                            .unwrap()
                            .description
                            .trim_end_matches('.')
                            .trim_start_matches("Matillion Hub ")
                    ),
                );
            }
        }
    }
}

fn check_credentials(r: &mut Reader, client_id: Option<&str>, client_secret: Option<&str>) {
    for (name, value) in [("client_id", client_id), ("client_secret", client_secret)] {
        let Some(value) = value else { continue };
        let from_file = matches!(r.entry(name).map(|(_, o)| o), Some(Origin::File(_)));
        // Never echo the value itself: it is a credential even when it is a placeholder.
        if is_placeholder(value) {
            r.error(
                name,
                format!("`{name}` is a placeholder from an example file, not the agent's credential"),
                "placeholder",
                format!("remove it from the file and export TF_VAR_{name} with the value from the agent's credentials in Matillion Hub"),
            );
        } else if value.trim().is_empty() {
            r.error(
                name,
                format!("`{name}` is empty"),
                "empty",
                format!("export TF_VAR_{name} with the agent's credential"),
            );
        } else if from_file {
            let span = r.span(name);
            r.diags.push(
                Diagnostic::warning(format!("`{name}` is written in the config file"))
                    .at(span)
                    .label("credential in a file")
                    .help(format!(
                        "it works, but files get committed and shared: remove the line and export TF_VAR_{name} instead (or use your secrets manager to set it)"
                    )),
            );
        }
    }
}

/// The task size: `runner_size` (default small) gives CPU and memory; explicit
/// numbers override it. `runner_cpu`/`runner_memory` are the reference module's
/// overrides of the size, so they win silently; `agent_cpu`/`agent_memory` come
/// from the module's older versions, which had no size, so a disagreement with a
/// size the user wrote is reported.
fn check_task_size(r: &mut Reader) -> (u32, u32) {
    fn explicit(r: &mut Reader, old: &'static str, new: &'static str, what: &str) -> Option<(u32, &'static str)> {
        let (a, b) = (r.opt_number(old, 0..=u32::MAX, what), r.opt_number(new, 0..=u32::MAX, what));
        if r.is_set(old) && r.is_set(new) {
            r.error(
                new,
                format!("`{new}` and `{old}` are two names of one setting; both are set"),
                "set twice",
                format!("keep one of them (`{new}` is the reference module's newer name)"),
            );
        }
        match (a, b) {
            (Some(v), _) => Some((v, old)),
            (None, Some(v)) => Some((v, new)),
            // Unset, or already reported as a type or range error.
            (None, None) => None,
        }
    }
    let cpu = explicit(r, "agent_cpu", "runner_cpu", "CPU units");
    let memory = explicit(r, "agent_memory", "runner_memory", "memory in MiB");
    let size = r.string("runner_size");
    let Some((size_cpu, size_memory)) = runner_size(r, "runner_size", &size) else {
        // Validation goes on with the default size.
        let (cpu_d, memory_d) =
            fargate::runner_size(default_as("runner_size", Value::as_str)).expect("the default is a runner size");
        return (value_or(cpu, cpu_d), value_or(memory, memory_d));
    };
    let disagrees =
        |v: Option<(u32, &str)>, want: u32| v.is_some_and(|(v, var)| var.starts_with("agent_") && v != want);
    if r.is_set("runner_size") && (disagrees(cpu, size_cpu) || disagrees(memory, size_memory)) {
        r.error(
            "runner_size",
            format!("`runner_size` = \"{size}\" means {size_cpu} CPU / {size_memory} MiB, but agent_cpu/agent_memory say otherwise"),
            "conflicts with agent_cpu/agent_memory",
            "set either runner_size or agent_cpu and agent_memory, not both".to_owned(),
        );
        return (size_cpu, size_memory);
    }
    let (cpu_v, mem_v) = (value_or(cpu, size_cpu), value_or(memory, size_memory));
    let typed_badly =
        |r: &Reader, names: [&str; 2], v: Option<(u32, &str)>| v.is_none() && names.iter().any(|n| r.is_set(n));
    if typed_badly(r, ["agent_cpu", "runner_cpu"], cpu) || typed_badly(r, ["agent_memory", "runner_memory"], memory) {
        return (cpu_v, mem_v); // already reported as a type/range error
    }
    let cpu_var = cpu.map_or("agent_cpu", |(_, var)| var);
    let memory_var =
        memory.map_or(if cpu_var == "runner_cpu" { "runner_memory" } else { "agent_memory" }, |(_, var)| var);
    match fargate::valid_memory_for_cpu(cpu_v) {
        None => r.error(
            cpu_var,
            format!("`{cpu_var}` = {cpu_v} is not a Fargate CPU size"),
            "not a Fargate CPU value",
            format!("use one of {}", fargate::VALID_CPU.map(|c| c.to_string()).join(", ")),
        ),
        Some(valid) if !valid.contains(&mem_v) => {
            let at = if memory.is_some() {
                memory_var
            } else if cpu.is_some() {
                cpu_var
            } else {
                "runner_size"
            };
            r.error(
                at,
                format!("Fargate does not offer {cpu_v} CPU with {mem_v} MiB memory"),
                "invalid cpu/memory combination",
                format!("with {cpu_var} = {cpu_v}, {memory_var} must be one of: {}", fargate::describe_memory(&valid)),
            );
        }
        Some(_) => {}
    }
    (cpu_v, mem_v)
}

/// The (cpu, memory) of `size`, the value of `var` (`runner_size`,
/// `script_runner_size`); an unknown size is reported at it.
pub(super) fn runner_size(r: &mut Reader, var: &str, size: &str) -> Option<(u32, u32)> {
    let found = fargate::runner_size(size);
    if found.is_none() {
        let names: Vec<_> = fargate::RUNNER_SIZES.iter().map(|(n, c, m)| format!("{n} ({c}/{m})")).collect();
        r.error(
            var,
            format!("`{var}` = \"{size}\" is not a runner size"),
            "unknown size",
            format!("use one of {}", names.join(", ")),
        );
    }
    found
}

fn value_or(v: Option<(u32, &str)>, default: u32) -> u32 {
    v.map_or(default, |(v, _)| v)
}

pub(super) fn check_image(r: &mut Reader, var: &str, image: &str, example: &str) {
    if let Err(why) = crate::image::ImageRef::parse(image) {
        r.error(
            var,
            format!("`{var}` = \"{image}\" is not a container image reference: {why}"),
            "bad image reference",
            format!("use REGISTRY/REPOSITORY:TAG, e.g. {example}"),
        );
    }
}

/// The retention values CloudWatch Logs accepts (0 = never expire).
pub const LOG_RETENTION_DAYS: [u32; 23] =
    [0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

pub(super) fn check_retention(r: &mut Reader, var: &str, days: u32) {
    if !LOG_RETENTION_DAYS.contains(&days) {
        r.error(
            var,
            format!("`{var}` = {days} is not a retention CloudWatch Logs accepts"),
            "unsupported retention",
            format!("use one of {} (0 keeps logs forever)", LOG_RETENTION_DAYS.map(|d| d.to_string()).join(", ")),
        );
    }
}

struct NetworkInput {
    use_existing_vpc: bool,
    vpc_id: Option<String>,
    cidr_block: String,
    use_existing_subnet: bool,
    subnet_ids: Vec<(String, ByteSpan)>,
    use_existing_sg: bool,
    sg_ids: Vec<(String, ByteSpan)>,
}

fn check_id(r: &mut Reader, var: &str, what: &str, prefix: &str, id: &str, span: ByteSpan) -> bool {
    let hex = id.strip_prefix(prefix).and_then(|s| s.strip_prefix('-'));
    let well_formed = hex.is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    });
    let problem = if is_placeholder(id) {
        format!("`{var}`: \"{id}\" is a placeholder from an example file, not a real {what} id")
    } else if !well_formed {
        format!("`{var}`: \"{id}\" is not a {what} id ({prefix}- followed by 8 or 17 lowercase hex digits)")
    } else {
        return true;
    };
    r.diags.push(Diagnostic::error(problem).at(span).label("not a real id").help(format!(
        "use the id of your {what} (aws ec2 describe-{}s), or remove it to let agentctl create one",
        what.to_lowercase().replace(' ', "-")
    )));
    false
}

fn check_network(r: &mut Reader, n: NetworkInput, assign_public_ip: bool) -> Option<NetworkConfig> {
    let mut ok = true;
    let cidr_given = r.is_set("cidr_block");
    if let Some(id) = &n.vpc_id {
        ok &= check_id(r, "vpc_id", "VPC", "vpc", id, r.span("vpc_id"));
    }
    for (id, span) in &n.subnet_ids {
        ok &= check_id(r, "subnet_ids", "subnet", "subnet", id, span.clone());
    }
    for (id, span) in &n.sg_ids {
        ok &= check_id(r, "security_group_ids", "security group", "sg", id, span.clone());
    }
    // The reference module ignores ids when the matching use_existing_* flag is false
    // and silently builds new resources; refusing is the only safe reading.
    let trap = |r: &mut Reader, var: &str, flag: &str, what: &str| {
        r.error(
            var,
            format!("`{var}` is set but `{flag}` is false, so the ids would be ignored and a new {what} created"),
            &format!("ignored unless {flag} = true"),
            format!("to deploy into these, add `{flag} = true`; to let agentctl create the {what}, remove `{var}`"),
        );
    };
    if n.vpc_id.is_some() && !n.use_existing_vpc {
        trap(r, "vpc_id", "use_existing_vpc", "VPC");
        ok = false;
    }
    if !n.subnet_ids.is_empty() && !n.use_existing_subnet {
        trap(r, "subnet_ids", "use_existing_subnet", "pair of subnets");
        ok = false;
    }
    if !n.sg_ids.is_empty() && !n.use_existing_sg {
        trap(r, "security_group_ids", "use_existing_security_group", "security group");
        ok = false;
    }
    let missing = |r: &mut Reader, flag: &str, var: &str, example: &str| {
        r.error(
            flag,
            format!("`{flag}` = true but `{var}` is empty"),
            "needs ids",
            format!("add `{var} = {example}`, or set `{flag} = false`"),
        );
    };
    if n.use_existing_vpc && n.vpc_id.is_none() {
        missing(r, "use_existing_vpc", "vpc_id", "\"vpc-...\"");
        ok = false;
    }
    if n.use_existing_subnet && n.subnet_ids.is_empty() {
        missing(r, "use_existing_subnet", "subnet_ids", "[\"subnet-...\", \"subnet-...\"]");
        ok = false;
    }
    if n.use_existing_sg && n.sg_ids.is_empty() {
        missing(r, "use_existing_security_group", "security_group_ids", "[\"sg-...\"]");
        ok = false;
    }
    for (flag, what) in
        [(n.use_existing_subnet, "use_existing_subnet"), (n.use_existing_sg, "use_existing_security_group")]
    {
        if flag && !n.use_existing_vpc {
            r.error(
                what,
                format!("`{what}` = true needs an existing VPC: subnets and security groups belong to one"),
                "needs use_existing_vpc",
                "add `use_existing_vpc = true` and `vpc_id = \"vpc-...\"` (the VPC they belong to)".to_owned(),
            );
            ok = false;
        }
    }
    if n.use_existing_subnet && n.subnet_ids.len() == 1 {
        let span = r.span("subnet_ids");
        r.diags.push(
            Diagnostic::warning("one subnet means one Availability Zone: an AZ outage stops every agent")
                .at(span)
                .help("list subnets in at least two Availability Zones"),
        );
    }
    // New subnets in someone's VPC go where there is room (agentctl reads the
    // VPC, as the reference module does) unless `cidr_block` says where.
    let picks_ranges = n.use_existing_vpc && !cidr_given;
    let creates_subnets = !n.use_existing_subnet;
    if creates_subnets && !picks_ranges {
        if let Err(why) = crate::cidr::Cidr::parse(&n.cidr_block).and_then(|c| c.subnets_for_agent().map(|_| ())) {
            r.error(
                "cidr_block",
                format!("`cidr_block` = \"{}\" {why}", n.cidr_block),
                "bad CIDR",
                "use an IPv4 CIDR from /16 to /27, e.g. \"10.0.0.0/16\"".to_owned(),
            );
            ok = false;
        }
    }
    if !n.use_existing_vpc && !assign_public_ip {
        r.error(
            "assign_public_ip",
            "`assign_public_ip` = false with the VPC agentctl creates: its subnets route out through an internet gateway only, so tasks without a public IP cannot pull the image or reach Matillion".to_owned(),
            "tasks would have no route out",
            "set `assign_public_ip = true`, or deploy into your own private subnets with a NAT gateway (use_existing_vpc/use_existing_subnet)".to_owned(),
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    let security_group = if n.use_existing_sg {
        SecurityGroupConfig::Existing(n.sg_ids.into_iter().map(|(id, _)| id).collect())
    } else {
        SecurityGroupConfig::Create
    };
    Some(match (n.use_existing_vpc, n.use_existing_subnet) {
        (false, _) => NetworkConfig::New { cidr_block: n.cidr_block, security_group },
        (true, false) => NetworkConfig::ExistingVpc {
            vpc_id: n.vpc_id?,
            cidr_block: cidr_given.then_some(n.cidr_block),
            security_group,
        },
        (true, true) => NetworkConfig::Existing {
            vpc_id: n.vpc_id?,
            subnet_ids: n.subnet_ids.into_iter().map(|(id, _)| id).collect(),
            security_group,
        },
    })
}

/// User tags plus ours must fit AWS's limit of 50 per resource.
const MAX_USER_TAGS: usize = 50 - 2; // ownership tag + Name

fn check_tags(r: &mut Reader, tags: Vec<(String, String, ByteSpan)>) -> BTreeMap<String, String> {
    if tags.len() > MAX_USER_TAGS {
        let n = tags.len();
        r.error(
            "tags",
            format!("`tags` has {n} entries; AWS allows 50 per resource and agentctl adds its ownership tag and Name"),
            "too many tags",
            format!("keep at most {MAX_USER_TAGS} tags"),
        );
    }
    let allowed = |c: char| c.is_alphanumeric() || " _.:/=+-@".contains(c);
    let mut out = BTreeMap::new();
    for (key, value, span) in tags {
        let problem = if key.to_ascii_lowercase().starts_with("aws:") {
            Some(format!("tag key \"{key}\" uses the prefix `aws:`, which AWS reserves"))
        } else if key.starts_with(crate::model::OWNERSHIP_TAG_PREFIX) {
            Some(format!(
                "tag key \"{key}\" uses the prefix `{}`, which agentctl reserves for its ownership tag",
                crate::model::OWNERSHIP_TAG_PREFIX
            ))
        } else if key.is_empty() || key.chars().count() > 128 {
            Some(format!("tag key \"{key}\" must be 1 to 128 characters"))
        } else if value.chars().count() > 256 {
            Some(format!("the value of tag \"{key}\" is {} characters; the maximum is 256", value.chars().count()))
        } else if !key.chars().all(allowed) || !value.chars().all(allowed) {
            Some(format!("tag \"{key}\" has characters AWS does not accept in tags"))
        } else {
            None
        };
        match problem {
            Some(p) => {
                r.diags.push(Diagnostic::error(p).at(span).label("invalid tag").help(
                    "tags may use letters, digits, spaces and _ . : / = + - @ (keys up to 128, values up to 256)",
                ))
            }
            None => {
                out.insert(key, value);
            }
        }
    }
    out
}

fn check_names(r: &mut Reader, name: &str, region: &str, create_bucket: bool, script_runner: bool) {
    if name.is_empty() {
        r.error(
            "name",
            "`name` is empty".to_owned(),
            "empty",
            "set `name` to a short lowercase prefix such as \"data-insights\"".to_owned(),
        );
        return;
    }
    for derived in names::derived_names(name, region, create_bucket, script_runner) {
        if let Err(why) = derived.check() {
            let DerivedName { resource, .. } = derived;
            r.error(
                "name",
                format!("`name` = \"{name}\" gives an invalid {resource}: {why}"),
                "name prefix",
                format!(
                    "choose a shorter `name` of lowercase letters, digits and hyphens (at most {} characters here)",
                    names::max_prefix_len(region, create_bucket, script_runner)
                ),
            );
        }
    }
}
