//! The stack model as Terraform JSON (`*.tf.json`) for the `hashicorp/aws` provider.
//!
//! Every resource of the model becomes the `aws_*` resource(s) that build it, named
//! after the model address (`vpc.main` -> `aws_vpc.main`, `alarm.cpu-high` ->
//! `aws_cloudwatch_metric_alarm.cpu-high`; see [`block_name`]), with the model's
//! names, tags and attributes: the network, identity, storage and ECS resources,
//! the cluster's capacity providers (`aws_ecs_cluster_capacity_providers`), and,
//! when configured, the Application Auto Scaling target, policies and scheduled
//! actions, the CloudWatch alarms and the dashboard. Values the model only knows
//! as references (`${vpc.main.id}`) and ARNs of resources in the stack become
//! Terraform references
//! (`${aws_vpc.main.id}`, `${aws_iam_role.task.arn}`; the secret's ARN pattern
//! `...:secret:NAME-??????` becomes the exact `${aws_secretsmanager_secret.credentials.arn}`);
//! the offline account-id placeholder becomes
//! `${data.aws_caller_identity.current.account_id}`. Any other `${` or `%{` in a value
//! is escaped so Terraform keeps it literal.
//!
//! IAM documents (trust policies, inline role policies, the bucket policy) become
//! `aws_iam_policy_document` data sources: Terraform renders them locally (no AWS
//! call), and scanners read them as structure; as opaque JSON strings checkov's IAM
//! checks (wildcards, privilege escalation, exfiltration, ...) silently skip them.
//!
//! The credentials are the variables `client_id` and `client_secret` (sensitive, no
//! default), and, with the script runner, its SSH public keys the variable
//! `runner_authorized_keys`: their values never appear in the export (the model's
//! secret values are never read). Terraform itself keeps the secret versions'
//! values in its state, as it does for any `secret_string`.
//!
//! The script runner's pieces: its container's named port (`portMappings`), the
//! Service Connect blocks of both services (the runner's serves
//! `script-runner:2222` in the Cloud Map namespace, the agent's is a client),
//! and its security group's ingress, whose source is the agent's security
//! groups (`security_groups`, not `cidr_blocks`).
//!
//! Names of the stack's cluster and service in scaling targets, policies and alarm
//! dimensions become references to them too (`${aws_ecs_service.agent.name}`), and
//! policies and scheduled actions take their target's fields by reference. What the
//! model leaves to someone else after creation (`Resource::ignore_changes`: the
//! service's desired count, once autoscaling owns it) becomes
//! `lifecycle { ignore_changes }`.
//!
//! Terraform-only choices: `wait_for_steady_state` on every service (apply waits
//! for the rollout, as agentctl's does; the model requires it of the script
//! runner's) and `depends_on` for model dependencies that no reference carries
//! (the service waits for the cluster's capacity providers, the agent's service
//! for the script runner's).
//! Beyond the model, the export adds one resource agentctl does not manage yet:
//! see [`EXPORT_ONLY`].
//!
//! The export is a pure function of the stack: same stack, same bytes.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::model::{
    addr, Address, AlarmSpec, BucketSpec, ClusterSpec, ContainerSpec, DashboardSpec, EgressRule, FlowLogSpec,
    HttpNamespaceSpec, Kind, LogGroupSpec, Resource, RoleSpec, RouteTableSpec, ScalableTargetSpec, ScalingPolicySpec,
    ScheduledActionSpec, SecurityGroupSpec, ServiceConnect, ServiceSpec, Spec, Stack, SubnetSpec, TaskDefinitionSpec,
    VpcSpec, LIFECYCLE_RULE_ID,
};
use crate::names;
use crate::regions::partition;

/// Resources in the export that agentctl's own apply does not create, and why.
pub const EXPORT_ONLY: &[(&str, &str)] = &[(
    "aws_default_security_group",
    "only for a VPC the export creates: Terraform adopts the VPC's default security group and removes all \
     its rules, so nothing that falls back to it gets any access (checkov CKV2_AWS_12). agentctl's apply \
     leaves the default group as AWS creates it.",
)];

/// Provider versions the export is written for: the `aws_s3_bucket_*` resources need
/// 4+, the rest is stable across 5.x and 6.x. There is no `required_version` for
/// Terraform itself (the export needs 1.1+, for `nullable`): checkov 3.3.30's
/// Terraform JSON parser fails on a string attribute in the `terraform` block and
/// then skips the whole file.
pub const AWS_PROVIDER_VERSION: &str = ">= 5.0, < 7.0";

/// Terraform reference to the account the provider runs in.
const ACCOUNT_REF: &str = "${data.aws_caller_identity.current.account_id}";
/// The region's Availability Zones, filtered as agentctl reads them.
const ZONES_REF: &str = "data.aws_availability_zones.available";
/// The ranges of new subnets in an existing VPC, when the config leaves them to
/// agentctl: Terraform cannot keep a pick from what exists stable, so the user
/// gives the ones `agentctl plan` shows.
const SUBNET_RANGES_VAR: &str = "var.subnet_cidr_blocks";

/// The Terraform resource type that builds a model resource of this kind.
pub fn resource_type(kind: Kind) -> &'static str {
    kind.facts().terraform_type
}

/// `aws_vpc.main` for `vpc.main`: the Terraform address of a model resource.
pub fn terraform_address(addr: Address) -> String {
    format!("{}.{}", resource_type(addr.kind), block_name(addr.key))
}

/// The Terraform name of the block built from the model resource of this key:
/// the key itself (`cpu-high`: Terraform names take letters, digits, `_` and
/// `-`), with `_` in front when it does not start with a letter or `_` (a
/// schedule named `7am-up` becomes `_7am-up`) and `_` for any other character.
pub fn block_name(key: &str) -> String {
    let name: String =
        key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name
    } else {
        format!("_{name}")
    }
}

/// The export of one stack: file name -> JSON document.
pub fn terraform(stack: &Stack) -> BTreeMap<String, Value> {
    let refs = Refs::new(stack);
    let mut out = Blocks::default();
    for r in &stack.resources {
        emit(r, stack, &refs, &mut out);
    }
    add_depends_on(stack, &mut out);
    let resources = out.section(false);
    let documents = out.section(true);
    let outputs = outputs(stack, &refs);
    let mut data = Map::new();
    let used = |reference: &str| [&resources, &documents, &outputs].iter().any(|v| v.to_string().contains(reference));
    if used(ACCOUNT_REF) {
        data.insert("aws_caller_identity".into(), json!({"current": {}}));
    }
    let optional_variables =
        OptionalVariables { subnet_ranges: used(SUBNET_RANGES_VAR), runner_keys: used(RUNNER_KEYS_VAR) };
    if used(ZONES_REF) {
        data.insert(
            "aws_availability_zones".into(),
            json!({"available": {
                "state": "available",
                "filter": [{"name": "zone-type", "values": ["availability-zone"]}]
            }}),
        );
    }
    if let Value::Object(types) = documents {
        data.extend(types);
    }

    let mut main = Map::new();
    main.insert(
        "//".into(),
        json!(format!(
            "Generated by `agentctl export terraform` for the deployment `{}`. Regenerate instead of editing.",
            stack.deployment
        )),
    );
    main.insert(
        "terraform".into(),
        json!({
            "required_providers": {"aws": {"source": "hashicorp/aws", "version": AWS_PROVIDER_VERSION}}
        }),
    );
    main.insert("provider".into(), json!({"aws": {"region": refs.string(&stack.region)}}));
    if !data.is_empty() {
        main.insert("data".into(), Value::Object(data));
    }
    main.insert("resource".into(), resources);

    BTreeMap::from([
        ("main.tf.json".to_owned(), Value::Object(main)),
        ("variables.tf.json".to_owned(), variables(optional_variables)),
        ("outputs.tf.json".to_owned(), outputs),
    ])
}

/// One document as written to disk: pretty JSON and a trailing newline.
pub fn render(doc: &Value) -> String {
    let mut text = serde_json::to_string_pretty(doc).expect("JSON values serialize");
    text.push('\n');
    text
}

/// The export rendered: file name -> file content.
pub fn terraform_files(stack: &Stack) -> BTreeMap<String, String> {
    terraform(stack).into_iter().map(|(name, doc)| (name, render(&doc))).collect()
}

/// Writes the export into `dir` (created when missing) and returns the paths
/// written, in name order. Existing files of the same names are replaced; other
/// files are left alone.
pub fn write_terraform(stack: &Stack, dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, text) in terraform_files(stack) {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}

/// Which of the optional variables the export uses.
struct OptionalVariables {
    subnet_ranges: bool,
    runner_keys: bool,
}

fn variables(optional: OptionalVariables) -> Value {
    let var = |description: &str| {
        json!({
            "type": "string",
            "description": description,
            "sensitive": true,
            "nullable": false
        })
    };
    let mut vars = json!({
        "client_id": var("Matillion agent OAuth client id. Set it with TF_VAR_client_id; never commit it."),
        "client_secret": var("Matillion agent OAuth client secret. Set it with TF_VAR_client_secret; never commit it."),
    });
    if optional.runner_keys {
        vars["runner_authorized_keys"] = var(
            "SSH public key line(s) the script runner accepts (the .pub file, never the private key). Set it with TF_VAR_runner_authorized_keys; never commit it.",
        );
    }
    if optional.subnet_ranges {
        vars["subnet_cidr_blocks"] = json!({
            "type": "list(string)",
            "description": "The ranges of the agent's two new subnets in the existing VPC: the free ones `agentctl plan` shows.",
            "nullable": false,
            "validation": [{
                "condition": "${length(var.subnet_cidr_blocks) == 2}",
                "error_message": "Give two CIDR blocks, one per subnet."
            }]
        });
    }
    json!({ "variable": vars })
}

/// The agent's OAuth credentials, as the secret's JSON.
const CREDENTIALS_SECRET_STRING: &str = "${jsonencode({client_id = var.client_id, client_secret = var.client_secret})}";
/// The script runner's authorized_keys, as the secret's JSON.
const RUNNER_KEYS_SECRET_STRING: &str = "${jsonencode({authorized_keys = var.runner_authorized_keys})}";
/// The variable the script runner's keys come from; declared only where used.
const RUNNER_KEYS_VAR: &str = "var.runner_authorized_keys";

/// The value of the secret at `at`, built from the variables that hold it. By
/// address, never by name: the user names the secrets. `None`, so no version,
/// for a secret no variable fills (the model has none).
fn secret_string(at: Address) -> Option<&'static str> {
    match at {
        addr::SECRET => Some(CREDENTIALS_SECRET_STRING),
        addr::RUNNER_KEYPAIR_SECRET => Some(RUNNER_KEYS_SECRET_STRING),
        _ => None,
    }
}

fn outputs(stack: &Stack, refs: &Refs) -> Value {
    let mut out = Map::new();
    let mut put = |name: &str, description: &str, value: Value| {
        out.insert(name.to_owned(), json!({"description": description, "value": value}));
    };
    let first = |kind: Kind| stack.resources.iter().find(|r| r.addr.kind == kind).map(|r| r.addr);
    // By address: with the script runner there are two services, task
    // definitions, secrets and log groups.
    let present = |a: Address| stack.get(a).map(|r| r.addr);
    if let Some(a) = first(Kind::EcsCluster) {
        put("cluster_name", "ECS cluster of the agent", json!(format!("${{{}.name}}", terraform_address(a))));
        put("cluster_arn", "ARN of the ECS cluster", json!(format!("${{{}.arn}}", terraform_address(a))));
    }
    if let Some(a) = present(addr::SERVICE) {
        put("service_name", "ECS service running the agent", json!(format!("${{{}.name}}", terraform_address(a))));
    }
    if let Some(a) = present(addr::TASK_DEFINITION) {
        put(
            "task_definition_arn",
            "Task definition revision of the agent",
            json!(format!("${{{}.arn}}", terraform_address(a))),
        );
    }
    if let Some(a) = present(addr::SECRET) {
        put(
            "secret_arn",
            "Secrets Manager secret holding the agent credentials",
            json!(format!("${{{}.arn}}", terraform_address(a))),
        );
    }
    if let Some(a) = present(addr::SCRIPT_RUNNER_SERVICE) {
        put(
            "script_runner_service_name",
            "ECS service running the script runner",
            json!(format!("${{{}.name}}", terraform_address(a))),
        );
    }
    if let Some(a) = present(addr::SCRIPT_RUNNER_LOG_GROUP) {
        put(
            "script_runner_log_group_name",
            "CloudWatch log group of the script runner",
            json!(format!("${{{}.name}}", terraform_address(a))),
        );
    }
    for r in stack.resources.iter().filter(|r| r.addr.kind == Kind::IamRole) {
        put(
            &format!("{}_role_arn", r.addr.key),
            &format!("ARN of the {} role", r.addr.key),
            json!(format!("${{{}.arn}}", terraform_address(r.addr))),
        );
    }
    if let Some(a) = stack.get(addr::LOG_GROUP).map(|r| r.addr) {
        put(
            "log_group_name",
            "CloudWatch log group of the agent",
            json!(format!("${{{}.name}}", terraform_address(a))),
        );
    }
    if let Some(a) = first(Kind::S3Bucket) {
        put("bucket_name", "S3 staging bucket of the agent", json!(format!("${{{}.bucket}}", terraform_address(a))));
    }
    let vpc = match first(Kind::Vpc) {
        Some(a) => Some(json!(format!("${{{}.id}}", terraform_address(a)))),
        None => stack.existing.vpc_id.as_deref().map(|id| json!(refs.string(id))),
    };
    if let Some(vpc) = vpc {
        put("vpc_id", "VPC the agent runs in", vpc);
    }
    if let Some(Spec::EcsService(s)) = stack.get(addr::SERVICE).map(|r| &r.spec) {
        put("subnet_ids", "Subnets of the agent's tasks", json!(refs.strings(&s.subnets)));
        put("security_group_ids", "Security groups of the agent's tasks", json!(refs.strings(&s.security_groups)));
    }
    json!({"output": out})
}

// --- references ---------------------------------------------------------------

/// Rewrites model strings into Terraform template strings: model references and
/// ARNs of stack resources become Terraform references, the account placeholder
/// becomes the caller identity, and any other `${` / `%{` is escaped so it stays
/// literal.
struct Refs {
    /// Literal ARN (or ARN pattern) -> (reference, characters that may follow it).
    arns: Vec<(String, String, &'static [char])>,
    /// Model addresses present in the stack.
    addresses: Vec<Address>,
}

impl Refs {
    fn new(stack: &Stack) -> Self {
        let part = partition(&stack.region);
        let region = stack.region.as_str();
        let account = stack_account(stack);
        let mut arns: Vec<(String, String, &'static [char])> = Vec::new();
        for r in &stack.resources {
            let tf = terraform_address(r.addr);
            let name = r.name.as_str();
            match r.addr.kind {
                Kind::IamRole => {
                    arns.push((format!("arn:{part}:iam::{account}:role/{name}"), format!("${{{tf}.arn}}"), &[]));
                }
                Kind::LogGroup => arns.push((
                    format!("arn:{part}:logs:{region}:{account}:log-group:{name}"),
                    format!("${{{tf}.arn}}"),
                    &[':'],
                )),
                Kind::S3Bucket => {
                    arns.push((format!("arn:{part}:s3:::{name}"), format!("${{{tf}.arn}}"), &['/']));
                }
                // The model grants the secret by ARN pattern, since AWS appends a
                // random suffix; Terraform knows the exact ARN.
                Kind::Secret => arns.push((
                    format!("arn:{part}:secretsmanager:{region}:{account}:secret:{name}-??????"),
                    format!("${{{tf}.arn}}"),
                    &[':'],
                )),
                _ => {}
            }
        }
        // Longest first, so a longer literal is never cut by a shorter one.
        arns.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Self { arns, addresses: stack.resources.iter().map(|r| r.addr).collect() }
    }

    fn string(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        'scan: while i < s.len() {
            let rest = &s[i..];
            for (literal, reference, followers) in &self.arns {
                if let Some(after) = rest.strip_prefix(literal.as_str()) {
                    if after.is_empty() || after.starts_with(*followers) {
                        out.push_str(reference);
                        i += literal.len();
                        continue 'scan;
                    }
                }
            }
            if rest.starts_with(names::ACCOUNT_PLACEHOLDER) {
                out.push_str(ACCOUNT_REF);
                i += names::ACCOUNT_PLACEHOLDER.len();
                continue;
            }
            if rest.starts_with("${") {
                if let Some((reference, len)) = self.model_reference(rest).or_else(|| aws_reference(rest)) {
                    out.push_str(&reference);
                    i += len;
                } else {
                    out.push_str("$${");
                    i += 2;
                }
                continue;
            }
            if rest.starts_with("%{") {
                out.push_str("%%{");
                i += 2;
                continue;
            }
            let c = rest.chars().next().expect("not at the end");
            out.push(c);
            i += c.len_utf8();
        }
        out
    }

    /// `${kind.key.attr}` of a resource in the stack, as a Terraform reference,
    /// and the length of the model reference.
    fn model_reference(&self, rest: &str) -> Option<(String, usize)> {
        let end = rest.find('}')?;
        let inner = &rest[2..end];
        let mut parts = inner.split('.');
        let (kind, key, attr) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || attr.is_empty() || !attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        let addr = self.addresses.iter().find(|a| a.kind.as_str() == kind && a.key == key)?;
        Some((format!("${{{}.{attr}}}", terraform_address(*addr)), end + 1))
    }

    fn strings(&self, items: &[String]) -> Vec<String> {
        items.iter().map(|s| self.string(s)).collect()
    }

    /// Every string of a JSON document rewritten; object keys stay literal (IAM
    /// condition keys such as `aws:SourceAccount` are not templates).
    fn value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.string(s)),
            Value::Array(items) => Value::Array(items.iter().map(|i| self.value(i)).collect()),
            Value::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), self.value(v))).collect()),
            other => other.clone(),
        }
    }

    /// A JSON document (IAM policy, container definitions) as a Terraform string.
    fn json_string(&self, v: &Value) -> String {
        serde_json::to_string(&self.value(v)).expect("JSON values serialize")
    }

    fn tags(&self, tags: &BTreeMap<String, String>) -> Value {
        Value::Object(tags.iter().map(|(k, v)| (k.clone(), Value::String(self.string(v)))).collect())
    }
}

/// A value the model knows once it reads the account, `${aws.LIST[N]}`, as
/// Terraform: `availability_zones` (the zones for new subnets) as the same pick
/// from the region's available zones, sorted as agentctl reads them;
/// `free_cidr_blocks` (where new subnets go in an existing VPC) as the variable
/// `subnet_cidr_blocks`.
fn aws_reference(rest: &str) -> Option<(String, usize)> {
    let after = rest.strip_prefix("${aws.")?;
    let (list, after) = after.split_once('[')?;
    let digits = after.find(|c: char| !c.is_ascii_digit())?;
    let n: usize = after[..digits].parse().ok()?;
    let terraform = match list {
        "availability_zones" => format!("${{sort({ZONES_REF}.names)[{n}]}}"),
        "free_cidr_blocks" => format!("${{{SUBNET_RANGES_VAR}[{n}]}}"),
        _ => return None,
    };
    after[digits..].starts_with("]}").then(|| (terraform, "${aws.[".len() + list.len() + digits + 2))
}

/// The account the model was built for: the `aws:SourceAccount` of a role's trust
/// policy, else the offline placeholder.
fn stack_account(stack: &Stack) -> String {
    stack
        .resources
        .iter()
        .find_map(|r| match &r.spec {
            Spec::IamRole(role) => role.assume_role_policy["Statement"].as_array()?.iter().find_map(|s| {
                s.pointer("/Condition/StringEquals/aws:SourceAccount").and_then(Value::as_str).map(str::to_owned)
            }),
            _ => None,
        })
        .unwrap_or_else(|| names::ACCOUNT_PLACEHOLDER.to_owned())
}

// --- resources ------------------------------------------------------------------

/// Blocks under construction: `resource` and `data`, type -> name -> body, in the
/// order the model lists its resources (network, identity, storage, ECS). Each
/// block remembers the model resource it builds.
#[derive(Default)]
struct Blocks {
    blocks: Vec<Block>,
}

struct Block {
    data: bool,
    ty: String,
    name: String,
    owner: Address,
    body: Map<String, Value>,
}

impl Blocks {
    fn push(&mut self, data: bool, owner: Address, ty: &str, name: &str, body: Value) {
        let Value::Object(body) = body else { unreachable!("block bodies are objects") };
        self.blocks.push(Block { data, ty: ty.to_owned(), name: name.to_owned(), owner, body });
    }
    fn resource(&mut self, owner: Address, ty: &str, name: &str, body: Value) {
        self.push(false, owner, ty, name, body);
    }
    fn data(&mut self, owner: Address, ty: &str, name: &str, body: Value) {
        self.push(true, owner, ty, name, body);
    }
    fn section(&self, data: bool) -> Value {
        let mut types: Map<String, Value> = Map::new();
        for b in self.blocks.iter().filter(|b| b.data == data) {
            let entry = types.entry(b.ty.clone()).or_insert_with(|| Value::Object(Map::new()));
            entry.as_object_mut().expect("object").insert(b.name.clone(), Value::Object(b.body.clone()));
        }
        Value::Object(types)
    }
}

fn emit(r: &Resource, stack: &Stack, refs: &Refs, out: &mut Blocks) {
    let ty = resource_type(r.addr.kind);
    let name = block_name(r.addr.key);
    let key = name.as_str();
    let owner = r.addr;
    let tags = refs.tags(&r.tags);
    match &r.spec {
        Spec::Vpc(VpcSpec { cidr_block, enable_dns_support, enable_dns_hostnames }) => {
            out.resource(
                owner,
                ty,
                key,
                json!({
                    "cidr_block": refs.string(cidr_block),
                    "enable_dns_support": enable_dns_support,
                    "enable_dns_hostnames": enable_dns_hostnames,
                    "tags": tags
                }),
            );
            // Export-only (see EXPORT_ONLY): no rules at all on the default group.
            let mut default_tags = r.tags.clone();
            default_tags.insert("Name".into(), format!("{}-default", r.name));
            out.resource(
                owner,
                "aws_default_security_group",
                key,
                json!({
                    "vpc_id": format!("${{{}.id}}", terraform_address(r.addr)),
                    "ingress": [],
                    "egress": [],
                    "tags": refs.tags(&default_tags)
                }),
            );
        }
        Spec::InternetGateway(igw) => {
            out.resource(owner, ty, key, json!({"vpc_id": refs.string(&igw.vpc_id), "tags": tags}));
        }
        Spec::Subnet(SubnetSpec { vpc_id, cidr_block, availability_zone }) => out.resource(
            owner,
            ty,
            key,
            json!({
                "vpc_id": refs.string(vpc_id),
                "cidr_block": refs.string(cidr_block),
                "availability_zone": refs.string(availability_zone),
                "map_public_ip_on_launch": false,
                "tags": tags
            }),
        ),
        Spec::RouteTable(RouteTableSpec { vpc_id, routes, subnet_ids }) => {
            out.resource(owner, ty, key, json!({"vpc_id": refs.string(vpc_id), "tags": tags}));
            // Separate routes: an inline `route` is an attribute-as-block, which
            // Terraform JSON only accepts with every attribute of the provider
            // version spelled out.
            for (i, route) in routes.iter().enumerate() {
                out.resource(
                    owner,
                    "aws_route",
                    &route_name(key, i, &route.destination),
                    json!({
                        "route_table_id": format!("${{{}.id}}", terraform_address(r.addr)),
                        "destination_cidr_block": refs.string(&route.destination),
                        "gateway_id": refs.string(&route.gateway_id)
                    }),
                );
            }
            for (i, subnet) in subnet_ids.iter().enumerate() {
                let subnet_ref = refs.string(subnet);
                let name = association_name(&subnet_ref, i);
                out.resource(
                    owner,
                    "aws_route_table_association",
                    &name,
                    json!({
                        "subnet_id": subnet_ref,
                        "route_table_id": format!("${{{}.id}}", terraform_address(r.addr))
                    }),
                );
            }
        }
        Spec::SecurityGroup(SecurityGroupSpec { vpc_id, description, ingress, egress }) => {
            let rules = |rules: &[EgressRule]| -> Vec<Value> { rules.iter().map(|rule| sg_rule(rule, refs)).collect() };
            out.resource(
                owner,
                ty,
                key,
                json!({
                    "name": refs.string(&r.name),
                    "description": refs.string(description),
                    "vpc_id": refs.string(vpc_id),
                    "ingress": rules(ingress),
                    "egress": rules(egress),
                    "tags": tags
                }),
            );
        }
        Spec::Secret(secret) => {
            out.resource(
                owner,
                ty,
                key,
                json!({
                    "name": refs.string(&r.name),
                    "description": refs.string(&secret.description),
                    "kms_key_id": secret.kms_key_id.as_deref().map(|k| refs.string(k)),
                    "tags": tags
                }),
            );
            // `secret.value` is never read: the value comes from the variables.
            if let Some(secret_string) = secret_string(r.addr) {
                out.resource(
                    owner,
                    "aws_secretsmanager_secret_version",
                    key,
                    json!({
                        "secret_id": format!("${{{}.id}}", terraform_address(r.addr)),
                        "secret_string": secret_string
                    }),
                );
            }
        }
        Spec::IamRole(RoleSpec { description, assume_role_policy, policies, managed_policy_arns }) => {
            let trust = policy(out, owner, &format!("{key}_assume_role"), assume_role_policy, refs);
            out.resource(
                owner,
                ty,
                key,
                json!({
                    "name": refs.string(&r.name),
                    "description": refs.string(description),
                    "assume_role_policy": trust,
                    "tags": tags
                }),
            );
            for (policy_name, document) in policies {
                let name = format!("{key}_{}", identifier(policy_name));
                let document = policy(out, owner, &name, document, refs);
                out.resource(
                    owner,
                    "aws_iam_role_policy",
                    &name,
                    json!({
                        "name": refs.string(policy_name),
                        "role": format!("${{{}.id}}", terraform_address(r.addr)),
                        "policy": document
                    }),
                );
            }
            for arn in managed_policy_arns {
                // Account and name: an AWS managed and a customer policy may share a name.
                let owner_account = arn.split(':').nth(4).unwrap_or_default();
                let policy_name = arn.rsplit('/').next().unwrap_or(arn);
                out.resource(
                    owner,
                    "aws_iam_role_policy_attachment",
                    &format!("{key}_{}", identifier(&format!("{owner_account}_{policy_name}"))),
                    json!({
                        "role": format!("${{{}.name}}", terraform_address(r.addr)),
                        "policy_arn": refs.string(arn)
                    }),
                );
            }
        }
        Spec::HttpNamespace(HttpNamespaceSpec { description }) => out.resource(
            owner,
            ty,
            key,
            json!({"name": refs.string(&r.name), "description": refs.string(description), "tags": tags}),
        ),
        Spec::S3Bucket(bucket) => emit_bucket(r, bucket, refs, out, tags),
        Spec::LogGroup(LogGroupSpec { retention_in_days, kms_key_id }) => out.resource(
            owner,
            ty,
            key,
            json!({
                "name": refs.string(&r.name),
                // 0 is "never expire" for the provider, as `None` is for the model.
                "retention_in_days": retention_in_days.unwrap_or(0),
                "kms_key_id": kms_key_id.as_deref().map(|k| refs.string(k)),
                "tags": tags
            }),
        ),
        Spec::FlowLog(FlowLogSpec {
            vpc_id,
            traffic_type,
            log_group_name,
            deliver_logs_role_arn,
            max_aggregation_interval,
        }) => {
            let destination = stack
                .resources
                .iter()
                .find(|g| g.addr.kind == Kind::LogGroup && g.name == *log_group_name)
                .map_or_else(|| refs.string(log_group_name), |g| format!("${{{}.arn}}", terraform_address(g.addr)));
            out.resource(
                owner,
                ty,
                key,
                json!({
                    "vpc_id": refs.string(vpc_id),
                    "traffic_type": refs.string(traffic_type),
                    "log_destination_type": "cloud-watch-logs",
                    "log_destination": destination,
                    "iam_role_arn": refs.string(deliver_logs_role_arn),
                    "max_aggregation_interval": max_aggregation_interval,
                    "tags": tags
                }),
            );
        }
        Spec::EcsCluster(ClusterSpec { container_insights, capacity_providers }) => {
            out.resource(
                owner,
                ty,
                key,
                json!({
                    "name": refs.string(&r.name),
                    "setting": [{"name": "containerInsights", "value": refs.string(container_insights)}],
                    "tags": tags
                }),
            );
            // agentctl attaches the providers when it creates the cluster; the
            // provider (5+) attaches them with a resource of their own. No default
            // strategy: the service names its own, as agentctl's does.
            if !capacity_providers.is_empty() {
                out.resource(
                    owner,
                    "aws_ecs_cluster_capacity_providers",
                    key,
                    json!({
                        "cluster_name": format!("${{{}.name}}", terraform_address(r.addr)),
                        "capacity_providers": refs.strings(capacity_providers)
                    }),
                );
            }
        }
        Spec::TaskDefinition(td) => out.resource(owner, ty, key, task_definition(td, stack, refs, tags)),
        Spec::EcsService(svc) => {
            let mut body = service(&r.name, svc, stack, refs, tags);
            if !r.ignore_changes.is_empty() {
                // Set at creation, then owned by someone else (autoscaling owns
                // the desired count), as agentctl's apply does. The model's
                // attribute names are the provider's for the service.
                body["lifecycle"] = json!([{"ignore_changes": r.ignore_changes}]);
            }
            out.resource(owner, ty, key, body);
        }
        Spec::ScalableTarget(ScalableTargetSpec { resource_id, min, max }) => out.resource(
            owner,
            ty,
            key,
            json!({
                "service_namespace": SCALING_NAMESPACE,
                "resource_id": service_resource_id(resource_id, stack, refs),
                "scalable_dimension": SCALABLE_DIMENSION,
                "min_capacity": min,
                "max_capacity": max
            }),
        ),
        Spec::ScalingPolicy(policy) => out.resource(owner, ty, key, scaling_policy(&r.name, policy, stack, refs)),
        Spec::ScheduledAction(action) => out.resource(owner, ty, key, scheduled_action(&r.name, action, stack, refs)),
        Spec::Alarm(alarm) => out.resource(owner, ty, key, metric_alarm(&r.name, alarm, stack, refs, tags)),
        Spec::Dashboard(DashboardSpec { body }) => out.resource(
            owner,
            ty,
            key,
            json!({
                "dashboard_name": refs.string(&r.name),
                // The body as agentctl puts it: cluster and service by name (the
                // model's dependency on the service becomes `depends_on`).
                "dashboard_body": refs.json_string(body)
            }),
        ),
    }
}

/// The bucket and one `aws_s3_bucket_*` resource per setting, as provider 4+ splits them.
fn emit_bucket(r: &Resource, bucket: &BucketSpec, refs: &Refs, out: &mut Blocks, tags: Value) {
    let owner = r.addr;
    let name = block_name(r.addr.key);
    let key = name.as_str();
    let bucket_id = format!("${{{}.id}}", terraform_address(r.addr));
    out.resource(owner, resource_type(Kind::S3Bucket), key, json!({"bucket": refs.string(&r.name), "tags": tags}));
    let on = bucket.block_public_access;
    out.resource(
        owner,
        "aws_s3_bucket_public_access_block",
        key,
        json!({
            "bucket": bucket_id,
            "block_public_acls": on,
            "block_public_policy": on,
            "ignore_public_acls": on,
            "restrict_public_buckets": on
        }),
    );
    let mut by_default = Map::new();
    by_default.insert("sse_algorithm".into(), json!(refs.string(&bucket.encryption)));
    if let Some(k) = &bucket.kms_key_id {
        by_default.insert("kms_master_key_id".into(), json!(refs.string(k)));
    }
    out.resource(
        owner,
        "aws_s3_bucket_server_side_encryption_configuration",
        key,
        json!({
            "bucket": bucket_id,
            "rule": [{"apply_server_side_encryption_by_default": [by_default], "bucket_key_enabled": bucket.bucket_key}]
        }),
    );
    out.resource(
        owner,
        "aws_s3_bucket_ownership_controls",
        key,
        json!({"bucket": bucket_id, "rule": [{"object_ownership": refs.string(&bucket.object_ownership)}]}),
    );
    let document = policy(out, owner, &format!("{key}_bucket_policy"), &bucket.policy, refs);
    out.resource(
        owner,
        "aws_s3_bucket_policy",
        key,
        json!({
            "bucket": bucket_id,
            "policy": document,
            // S3 refuses a policy while the public access block is being set.
            "depends_on": [format!("aws_s3_bucket_public_access_block.{key}")]
        }),
    );
    if bucket.versioning {
        out.resource(
            owner,
            "aws_s3_bucket_versioning",
            key,
            json!({"bucket": bucket_id, "versioning_configuration": [{"status": "Enabled"}]}),
        );
    }
    if let Some(l) = &bucket.lifecycle {
        let mut rule = Map::new();
        rule.insert("id".into(), json!(LIFECYCLE_RULE_ID));
        rule.insert("status".into(), json!("Enabled"));
        rule.insert("filter".into(), json!([{"prefix": ""}]));
        rule.insert(
            "abort_incomplete_multipart_upload".into(),
            json!([{"days_after_initiation": l.abort_incomplete_upload_days}]),
        );
        if let Some(days) = l.expiration_days {
            rule.insert("expiration".into(), json!([{"days": days}]));
        }
        if let Some(days) = l.noncurrent_expiration_days {
            rule.insert("noncurrent_version_expiration".into(), json!([{"noncurrent_days": days}]));
        }
        let mut body = json!({"bucket": bucket_id, "rule": [rule]});
        if bucket.versioning {
            // Noncurrent-version rules need versioning on first.
            body["depends_on"] = json!([format!("aws_s3_bucket_versioning.{key}")]);
        }
        out.resource(owner, "aws_s3_bucket_lifecycle_configuration", key, body);
    }
    if let Some(logs) = &bucket.access_logs {
        out.resource(
            owner,
            "aws_s3_bucket_logging",
            key,
            json!({
                "bucket": bucket_id,
                "target_bucket": refs.string(&logs.bucket),
                "target_prefix": refs.string(&logs.prefix)
            }),
        );
    }
}

fn sg_rule(rule: &EgressRule, refs: &Refs) -> Value {
    let (from, to) = match rule.ports.as_str() {
        "all" => (0, 0),
        p => match p.split_once('-') {
            Some((a, b)) => (a.parse().unwrap_or(0), b.parse().unwrap_or(0)),
            None => {
                let port: u32 = p.parse().unwrap_or(0);
                (port, port)
            }
        },
    };
    let source = refs.string(&rule.cidr);
    let (cidr_blocks, security_groups) =
        if is_security_group(&rule.cidr) { (vec![], vec![source]) } else { (vec![source], vec![]) };
    json!({
        "protocol": refs.string(&rule.protocol),
        "from_port": from,
        "to_port": to,
        "cidr_blocks": cidr_blocks,
        "ipv6_cidr_blocks": [],
        "prefix_list_ids": [],
        "security_groups": security_groups,
        "self": false,
        "description": null
    })
}

/// Whether a rule's source (the model's `cidr`) is a security group: a
/// reference to one of the stack (`${security_group.agent.id}`) or an existing
/// group's id (`sg-...`), as the script runner's rule admits the agent's groups.
fn is_security_group(source: &str) -> bool {
    source.starts_with("sg-") || source.starts_with(&format!("${{{}.", Kind::SecurityGroup.as_str()))
}

fn task_definition(td: &TaskDefinitionSpec, stack: &Stack, refs: &Refs, tags: Value) -> Value {
    let log_groups: Vec<&Resource> = stack.resources.iter().filter(|r| r.addr.kind == Kind::LogGroup).collect();
    let containers: Vec<Value> = td.containers.iter().map(|c| container_definition(c, &log_groups)).collect();
    let mut body = Map::new();
    body.insert("family".into(), json!(refs.string(&td.family)));
    body.insert("cpu".into(), json!(td.cpu.to_string()));
    body.insert("memory".into(), json!(td.memory.to_string()));
    body.insert("network_mode".into(), json!(refs.string(&td.network_mode)));
    body.insert("requires_compatibilities".into(), json!(refs.strings(&td.requires_compatibilities)));
    body.insert(
        "runtime_platform".into(),
        json!([{
            "cpu_architecture": refs.string(&td.cpu_architecture),
            "operating_system_family": refs.string(&td.operating_system_family)
        }]),
    );
    if let Some(gib) = td.ephemeral_storage_gib {
        body.insert("ephemeral_storage".into(), json!([{"size_in_gib": gib}]));
    }
    body.insert("execution_role_arn".into(), json!(refs.string(&td.execution_role_arn)));
    body.insert("task_role_arn".into(), json!(refs.string(&td.task_role_arn)));
    body.insert("volume".into(), Value::Array(td.volumes.iter().map(|v| json!({"name": refs.string(v)})).collect()));
    body.insert("container_definitions".into(), json!(refs.json_string(&Value::Array(containers))));
    body.insert("tags".into(), tags);
    Value::Object(body)
}

/// One container in the shape of the ECS API (`RegisterTaskDefinition`): camelCase
/// keys, `valueFrom` for secrets. The log group, one of `log_groups` (the agent's,
/// the script runner's), is referenced by name so Terraform creates it first.
fn container_definition(c: &ContainerSpec, log_groups: &[&Resource]) -> Value {
    let log_options: Map<String, Value> = c
        .log_options
        .iter()
        .map(|(k, v)| {
            let value = match log_groups.iter().find(|lg| lg.name == *v) {
                // A model reference: `Refs::json_string` turns it into Terraform's.
                Some(lg) if k == "awslogs-group" => lg.addr.reference("name"),
                _ => v.clone(),
            };
            (k.clone(), Value::String(value))
        })
        .collect();
    let mut container = json!({
        "name": c.name,
        "image": c.image,
        "essential": c.essential,
        "environment": c.environment.iter().map(|kv| json!({"name": kv.name, "value": kv.value})).collect::<Vec<_>>(),
        "secrets": c.secrets.iter().map(|s| json!({"name": s.name, "valueFrom": s.value_from})).collect::<Vec<_>>(),
        "readonlyRootFilesystem": c.readonly_root_filesystem,
        "mountPoints": c
            .mount_points
            .iter()
            .map(|m| json!({"sourceVolume": m.source_volume, "containerPath": m.container_path, "readOnly": false}))
            .collect::<Vec<_>>(),
        "logConfiguration": {"logDriver": c.log_driver, "options": log_options},
        "stopTimeout": c.stop_timeout
    });
    if let Some(user) = &c.user {
        container["user"] = json!(user);
    }
    if !c.command.is_empty() {
        container["command"] = json!(c.command);
    }
    if let Some(cpu) = c.cpu {
        container["cpu"] = json!(cpu);
    }
    if let Some(mib) = c.memory_reservation {
        container["memoryReservation"] = json!(mib);
    }
    // Only where there are some (the script runner's SSH port, which Service
    // Connect names): the agent serves nothing, and its definition stays as is.
    if !c.port_mappings.is_empty() {
        container["portMappings"] = c
            .port_mappings
            .iter()
            .map(|p| json!({"name": p.name, "containerPort": p.container_port, "protocol": p.protocol}))
            .collect();
    }
    // Only where there is one: ECS leaves an empty list out of the definition it
    // returns, and the provider would show the difference.
    if !c.depends_on.is_empty() {
        container["dependsOn"] =
            c.depends_on.iter().map(|d| json!({"containerName": d.container_name, "condition": d.condition})).collect();
    }
    container
}

fn service(name: &str, svc: &ServiceSpec, stack: &Stack, refs: &Refs, tags: Value) -> Value {
    let cluster = match stack.resources.iter().find(|r| r.addr.kind == Kind::EcsCluster) {
        Some(c) if c.name == svc.cluster => c.addr.reference("id"),
        _ => svc.cluster.clone(),
    };
    let mut body = json!({
        "name": refs.string(name),
        "cluster": refs.string(&cluster),
        "task_definition": refs.string(&svc.task_definition),
        "desired_count": svc.desired_count,
        "capacity_provider_strategy": svc
            .capacity_provider_strategy
            .iter()
            .map(|c| json!({"capacity_provider": c.provider, "base": c.base, "weight": c.weight}))
            .collect::<Vec<_>>(),
        "platform_version": refs.string(&svc.platform_version),
        "network_configuration": [{
            "subnets": refs.strings(&svc.subnets),
            "security_groups": refs.strings(&svc.security_groups),
            "assign_public_ip": svc.assign_public_ip
        }],
        "deployment_circuit_breaker": [{"enable": true, "rollback": svc.circuit_breaker_rollback}],
        "deployment_minimum_healthy_percent": svc.minimum_healthy_percent,
        "deployment_maximum_percent": svc.maximum_percent,
        "propagate_tags": refs.string(&svc.propagate_tags),
        // Every service, like agentctl's apply: wait for the rollout and report
        // its outcome. Where the model asks it (`Resource::wait_for_steady_state`,
        // the script runner's) it is also an order: the services depending on it
        // (the agent's) start only once its alias is live in the namespace.
        "wait_for_steady_state": true,
        "tags": tags
    });
    if let Some(connect) = &svc.service_connect {
        body["service_connect_configuration"] = json!([service_connect(connect, refs)]);
    }
    body
}

/// A service's Service Connect block: in the namespace, a client always, and
/// the server of `services` (the script runner's `script-runner:2222`). The
/// agent's has no `service`: it only resolves the runner's alias.
fn service_connect(connect: &ServiceConnect, refs: &Refs) -> Value {
    let mut block = json!({"enabled": true, "namespace": refs.string(&connect.namespace)});
    if !connect.services.is_empty() {
        block["service"] = connect
            .services
            .iter()
            .map(|s| {
                json!({
                    "port_name": refs.string(&s.port_name),
                    "client_alias": [{"dns_name": refs.string(&s.dns_name), "port": s.port}]
                })
            })
            .collect();
    }
    block
}

// --- autoscaling and alarms -------------------------------------------------------

/// Application Auto Scaling's namespace and dimension for an ECS service's task count.
const SCALING_NAMESPACE: &str = "ecs";
const SCALABLE_DIMENSION: &str = "ecs:service:DesiredCount";

/// `${aws_ecs_cluster.main.name}` when `name` is the name of the stack's
/// resource of `kind` (a cluster or a service).
fn name_reference(stack: &Stack, kind: Kind, name: &str) -> Option<String> {
    let r = stack.resources.iter().find(|r| r.addr.kind == kind && r.name == name)?;
    Some(format!("${{{}.name}}", terraform_address(r.addr)))
}

/// The cluster and service names of `service/CLUSTER/SERVICE`.
fn split_service_resource_id(resource_id: &str) -> Option<(&str, &str)> {
    let rest = resource_id.strip_prefix("service/")?;
    rest.split_once('/').filter(|(cluster, service)| !cluster.is_empty() && !service.is_empty())
}

/// A cluster or service name: a reference to the stack's resource of that name,
/// else the name.
fn ecs_name(stack: &Stack, refs: &Refs, kind: Kind, name: &str) -> String {
    name_reference(stack, kind, name).unwrap_or_else(|| refs.string(name))
}

/// `service/CLUSTER/SERVICE` with references to the stack's cluster and service.
fn service_resource_id(resource_id: &str, stack: &Stack, refs: &Refs) -> String {
    match split_service_resource_id(resource_id) {
        Some((cluster, service)) => format!(
            "service/{}/{}",
            ecs_name(stack, refs, Kind::EcsCluster, cluster),
            ecs_name(stack, refs, Kind::EcsService, service)
        ),
        None => refs.string(resource_id),
    }
}

/// `service_namespace`, `resource_id` and `scalable_dimension` of a policy or a
/// scheduled action: references to the stack's scalable target of that resource
/// id (so Terraform registers the target first), else the values themselves.
fn scaling_target_fields(resource_id: &str, stack: &Stack, refs: &Refs) -> Map<String, Value> {
    let target = stack
        .resources
        .iter()
        .find(|r| matches!(&r.spec, Spec::ScalableTarget(t) if t.resource_id == resource_id))
        .map(|r| terraform_address(r.addr));
    let mut fields = Map::new();
    match target {
        Some(t) => {
            for attr in ["service_namespace", "resource_id", "scalable_dimension"] {
                fields.insert(attr.into(), json!(format!("${{{t}.{attr}}}")));
            }
        }
        None => {
            fields.insert("service_namespace".into(), json!(SCALING_NAMESPACE));
            fields.insert("resource_id".into(), json!(service_resource_id(resource_id, stack, refs)));
            fields.insert("scalable_dimension".into(), json!(SCALABLE_DIMENSION));
        }
    }
    fields
}

/// Target tracking on a predefined ECS metric (`ECSServiceAverageCPUUtilization`,
/// ...), or on `NAMESPACE/METRIC` (the agent's own metrics: the namespace is
/// everything before the last `/`) averaged over the service's tasks, as
/// agentctl's apply writes it.
fn scaling_policy(name: &str, policy: &ScalingPolicySpec, stack: &Stack, refs: &Refs) -> Value {
    let mut configuration = Map::new();
    configuration.insert("target_value".into(), json!(policy.target));
    configuration.insert("scale_in_cooldown".into(), json!(policy.scale_in_cooldown));
    configuration.insert("scale_out_cooldown".into(), json!(policy.scale_out_cooldown));
    match policy.metric.rsplit_once('/') {
        Some((namespace, metric)) if !policy.metric.starts_with("ECSService") => {
            let (cluster, service) = split_service_resource_id(&policy.resource_id).unwrap_or_default();
            configuration.insert(
                "customized_metric_specification".into(),
                json!([{
                    "namespace": refs.string(namespace),
                    "metric_name": refs.string(metric),
                    "statistic": "Average",
                    "dimensions": [
                        {"name": "ClusterName", "value": ecs_name(stack, refs, Kind::EcsCluster, cluster)},
                        {"name": "ServiceName", "value": ecs_name(stack, refs, Kind::EcsService, service)}
                    ]
                }]),
            );
        }
        _ => {
            configuration.insert(
                "predefined_metric_specification".into(),
                json!([{"predefined_metric_type": refs.string(&policy.metric)}]),
            );
        }
    }
    let mut body = Map::new();
    body.insert("name".into(), json!(refs.string(name)));
    body.insert("policy_type".into(), json!("TargetTrackingScaling"));
    body.extend(scaling_target_fields(&policy.resource_id, stack, refs));
    body.insert("target_tracking_scaling_policy_configuration".into(), json!([configuration]));
    Value::Object(body)
}

/// A scheduled change of the target's bounds. No time zone is UTC, the
/// provider's default too; the bounds are strings in the provider's schema.
fn scheduled_action(name: &str, action: &ScheduledActionSpec, stack: &Stack, refs: &Refs) -> Value {
    let mut bounds = Map::new();
    if let Some(min) = action.min {
        bounds.insert("min_capacity".into(), json!(min.to_string()));
    }
    if let Some(max) = action.max {
        bounds.insert("max_capacity".into(), json!(max.to_string()));
    }
    let mut body = Map::new();
    body.insert("name".into(), json!(refs.string(name)));
    body.extend(scaling_target_fields(&action.resource_id, stack, refs));
    body.insert("schedule".into(), json!(refs.string(&action.schedule)));
    if let Some(timezone) = &action.timezone {
        body.insert("timezone".into(), json!(refs.string(timezone)));
    }
    body.insert("scalable_target_action".into(), json!([bounds]));
    Value::Object(body)
}

/// A metric alarm with the same actions on alarm and on recovery, as agentctl's
/// apply writes it. Dimensions naming the stack's cluster or service become
/// references to them.
fn metric_alarm(name: &str, alarm: &AlarmSpec, stack: &Stack, refs: &Refs, tags: Value) -> Value {
    let dimensions: Map<String, Value> = alarm
        .dimensions
        .iter()
        .map(|(k, v)| {
            let value = match k.as_str() {
                "ClusterName" => ecs_name(stack, refs, Kind::EcsCluster, v),
                "ServiceName" => ecs_name(stack, refs, Kind::EcsService, v),
                _ => refs.string(v),
            };
            (k.clone(), Value::String(value))
        })
        .collect();
    let actions = refs.strings(&alarm.actions);
    let mut body = Map::new();
    body.insert("alarm_name".into(), json!(refs.string(name)));
    body.insert("alarm_description".into(), json!(refs.string(&alarm.description)));
    body.insert("namespace".into(), json!(refs.string(&alarm.namespace)));
    body.insert("metric_name".into(), json!(refs.string(&alarm.metric_name)));
    body.insert("dimensions".into(), Value::Object(dimensions));
    body.insert("statistic".into(), json!(refs.string(&alarm.statistic)));
    body.insert("comparison_operator".into(), json!(refs.string(&alarm.comparison)));
    body.insert("threshold".into(), json!(alarm.threshold));
    body.insert("period".into(), json!(alarm.period));
    body.insert("evaluation_periods".into(), json!(alarm.evaluation_periods));
    body.insert("treat_missing_data".into(), json!(refs.string(&alarm.treat_missing_data)));
    // agentctl's apply gives the utilisation metrics their unit.
    if alarm.metric_name.ends_with("Utilization") {
        body.insert("unit".into(), json!("Percent"));
    }
    body.insert("alarm_actions".into(), json!(actions));
    body.insert("ok_actions".into(), json!(actions));
    body.insert("tags".into(), tags);
    Value::Object(body)
}

/// Model dependencies Terraform cannot see through a reference become
/// `depends_on` of the main block (e.g. the service waits for the subnets' routes
/// and for the bucket).
fn add_depends_on(stack: &Stack, out: &mut Blocks) {
    for r in &stack.resources {
        let group: String = out
            .blocks
            .iter()
            .filter(|b| b.owner == r.addr)
            .map(|b| Value::Object(b.body.clone()).to_string())
            .collect();
        let mut deps: Vec<String> = Vec::new();
        for dep in &r.depends_on {
            let target = terraform_address(*dep);
            // A cluster takes a capacity provider strategy once the providers are
            // attached, which the service's reference to the cluster does not say.
            if let (Some(Spec::EcsCluster(cluster)), Spec::EcsService(svc)) =
                (stack.get(*dep).map(|d| &d.spec), &r.spec)
            {
                if !cluster.capacity_providers.is_empty() && !svc.capacity_provider_strategy.is_empty() {
                    deps.push(format!("aws_ecs_cluster_capacity_providers.{}", block_name(dep.key)));
                }
            }
            if group.contains(&format!("${{{target}.")) {
                continue;
            }
            // A route table routes a subnet once it has its routes and is
            // associated with the subnet.
            if let Some(Spec::RouteTable(rt)) = stack.get(*dep).map(|d| &d.spec) {
                for (i, route) in rt.routes.iter().enumerate() {
                    deps.push(format!("aws_route.{}", route_name(&block_name(dep.key), i, &route.destination)));
                }
                for (i, subnet) in rt.subnet_ids.iter().enumerate() {
                    deps.push(format!("aws_route_table_association.{}", association_name(subnet, i)));
                }
            }
            deps.push(target);
        }
        if deps.is_empty() {
            continue;
        }
        deps.sort();
        deps.dedup();
        let (ty, key) = (resource_type(r.addr.kind), block_name(r.addr.key));
        let main = out.blocks.iter_mut().find(|b| !b.data && b.ty == ty && b.name == key).expect("emitted");
        main.body.insert("depends_on".into(), json!(deps));
    }
}

/// A policy document: an `aws_iam_policy_document` data source when the document
/// has the usual shape (so scanners read it as structure, not as an opaque
/// string), else the JSON text. Returns the value of the `policy` argument.
fn policy(out: &mut Blocks, owner: Address, name: &str, document: &Value, refs: &Refs) -> String {
    match policy_document(document, refs) {
        Some(body) => {
            out.data(owner, "aws_iam_policy_document", name, body);
            format!("${{data.aws_iam_policy_document.{name}.json}}")
        }
        None => refs.json_string(document),
    }
}

/// The body of an `aws_iam_policy_document` equivalent to `document`, or `None`
/// when the document uses something the data source cannot express.
fn policy_document(document: &Value, refs: &Refs) -> Option<Value> {
    let doc = document.as_object()?;
    if doc.keys().any(|k| k != "Version" && k != "Statement") {
        return None;
    }
    let strings = |v: &Value| -> Option<Vec<String>> {
        match v {
            Value::String(s) => Some(vec![refs.string(s)]),
            Value::Array(items) => items.iter().map(|i| i.as_str().map(|s| refs.string(s))).collect(),
            _ => None,
        }
    };
    let condition_values = |v: &Value| -> Option<Vec<String>> {
        let one = |v: &Value| match v {
            Value::String(s) => Some(refs.string(s)),
            Value::Bool(_) | Value::Number(_) => Some(v.to_string()),
            _ => None,
        };
        match v {
            Value::Array(items) => items.iter().map(one).collect(),
            other => one(other).map(|s| vec![s]),
        }
    };
    let principals = |v: &Value| -> Option<Vec<Value>> {
        match v {
            Value::String(s) if s == "*" => Some(vec![json!({"type": "*", "identifiers": ["*"]})]),
            Value::Object(by_type) => {
                by_type.iter().map(|(ty, ids)| Some(json!({"type": ty, "identifiers": strings(ids)?}))).collect()
            }
            _ => None,
        }
    };
    let statements: Vec<Value> = match &doc["Statement"] {
        Value::Array(items) => items.clone(),
        one @ Value::Object(_) => vec![one.clone()],
        _ => return None,
    };
    let mut out = Vec::new();
    for statement in &statements {
        let mut st = Map::new();
        for (key, value) in statement.as_object()? {
            let (field, converted) = match key.as_str() {
                "Sid" => ("sid", json!(refs.string(value.as_str()?))),
                "Effect" => ("effect", json!(value.as_str()?)),
                "Action" => ("actions", json!(strings(value)?)),
                "NotAction" => ("not_actions", json!(strings(value)?)),
                "Resource" => ("resources", json!(strings(value)?)),
                "NotResource" => ("not_resources", json!(strings(value)?)),
                "Principal" => ("principals", json!(principals(value)?)),
                "NotPrincipal" => ("not_principals", json!(principals(value)?)),
                "Condition" => {
                    let mut conditions = Vec::new();
                    for (test, by_key) in value.as_object()? {
                        for (variable, values) in by_key.as_object()? {
                            conditions.push(json!({
                                "test": test,
                                "variable": variable,
                                "values": condition_values(values)?
                            }));
                        }
                    }
                    ("condition", json!(conditions))
                }
                _ => return None,
            };
            st.insert(field.into(), converted);
        }
        out.push(Value::Object(st));
    }
    let mut body = Map::new();
    if let Some(version) = doc.get("Version") {
        body.insert("version".into(), json!(version.as_str()?));
    }
    body.insert("statement".into(), Value::Array(out));
    Some(Value::Object(body))
}

/// `public_default` for the default route of `route_table.public`, else `public_<i>`.
fn route_name(table_key: &str, i: usize, destination: &str) -> String {
    match destination {
        "0.0.0.0/0" => format!("{table_key}_default"),
        _ => format!("{table_key}_{i}"),
    }
}

/// `a` for `${aws_subnet.a.id}` (or `${subnet.a.id}`); `subnet_<i>` for a literal id.
fn association_name(subnet_ref: &str, i: usize) -> String {
    let key = subnet_ref
        .strip_prefix("${")
        .and_then(|s| s.strip_suffix('}'))
        .and_then(|s| s.split('.').nth(1))
        .filter(|k| !k.is_empty());
    match key {
        Some(k) => identifier(k),
        None => format!("subnet_{i}"),
    }
}

/// A Terraform identifier from a free-form name.
fn identifier(s: &str) -> String {
    let id: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        id
    } else {
        format!("_{id}")
    }
}
