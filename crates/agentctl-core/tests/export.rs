//! `export terraform`: the stack model as Terraform JSON. Deterministic, no secret
//! values, every model resource with its name and tags, references instead of
//! literal ids and ARNs, and a checkov scan that fails on any finding not in the
//! documented exception list.

// Measurements go to the test log (bench/ reads some of them).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use agentctl_core::config::Env;
use agentctl_core::export::checkov_exceptions::{self, CHECKOV_EXCEPTIONS, CHECKOV_VERSION};
use agentctl_core::export::terraform::{block_name, resource_type, terraform_address};
use agentctl_core::export::{terraform, terraform_files, write_terraform};
use agentctl_core::model::{addr, build, Context, Kind, Spec, Stack, OWNERSHIP_TAG};
use agentctl_core::names::ACCOUNT_PLACEHOLDER;
use common::*;
use serde_json::{json, Value};

const AWS_ACCOUNT: &str = "123456789012";
const FIXTURES: [&str; 7] = [
    "new-vpc.tfvars",
    "existing-vpc.tfvars",
    "existing-vpc-free-ranges.tfvars",
    "existing-all.tfvars",
    "scaling.tfvars",
    "hardened.tfvars",
    SCRIPT_RUNNER,
];

/// The Maia script runner on the network agentctl creates.
const SCRIPT_RUNNER: &str = "script-runner.tfvars";

/// The value of each secret version: from the variables, never a literal.
const CREDENTIALS_SECRET_STRING: &str = "${jsonencode({client_id = var.client_id, client_secret = var.client_secret})}";
const RUNNER_KEYS_SECRET_STRING: &str = "${jsonencode({authorized_keys = var.runner_authorized_keys})}";

fn stack_with(text: &str, env: &Env, ctx: &Context) -> Stack {
    build(&load_ok_env(text, env).config, ctx)
}

/// Offline, as `agentctl export terraform` builds it: the account is unknown.
fn offline(fixture_file: &str) -> Stack {
    stack_with(&fixture(fixture_file), &env_with_creds(), &Context::default())
}

fn with_account(fixture_file: &str) -> Stack {
    stack_with(
        &fixture(fixture_file),
        &env_with_creds(),
        &Context {
            aws_account_id: Some(AWS_ACCOUNT.into()),
            availability_zones: Some(vec!["us-east-1a".into(), "us-east-1b".into()]),
            ..Context::default()
        },
    )
}

fn main_doc(stack: &Stack) -> Value {
    terraform(stack).remove("main.tf.json").expect("main.tf.json")
}

fn all_text(stack: &Stack) -> String {
    terraform_files(stack).into_values().collect()
}

/// Every string in a JSON document, keys excluded.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(fields) => fields.values().for_each(|f| strings(f, out)),
        _ => {}
    }
}

/// `${...}` interpolations of a Terraform template string (`$${` is an escape).
fn interpolations(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if rest[..i].ends_with('$') {
            rest = &rest[i + 2..];
            continue;
        }
        let after = &rest[i + 2..];
        let end = after.find('}').expect("closed interpolation");
        out.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    out
}

#[test]
fn export_is_byte_identical_across_runs() {
    for f in FIXTURES {
        let first = terraform_files(&offline(f));
        let second = terraform_files(&offline(f));
        assert_eq!(first, second, "{f}");
        assert_eq!(
            first.keys().map(String::as_str).collect::<Vec<_>>(),
            ["main.tf.json", "outputs.tf.json", "variables.tf.json"]
        );
        for (name, text) in &first {
            assert!(text.ends_with("}\n") && !text.ends_with("\n\n"), "{f}/{name}: one trailing newline");
            let reparsed: Value = serde_json::from_str(text).expect("valid JSON");
            assert_eq!(text, &agentctl_core::export::render(&reparsed), "{f}/{name}: stable rendering");
        }
        // On disk too.
        let dir = scratch_dir(&format!("determinism-{}", f.trim_end_matches(".tfvars")));
        let written = write_terraform(&offline(f), &dir).expect("write");
        let again = write_terraform(&offline(f), &dir).expect("write");
        assert_eq!(written, again);
        for path in written {
            let name = path.file_name().unwrap().to_str().unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), first[name], "{}", path.display());
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn no_credential_value_anywhere() {
    for f in FIXTURES {
        let text = all_text(&offline(f)) + &all_text(&with_account(f));
        assert!(!text.contains(CLIENT_ID) && !text.contains(CLIENT_SECRET), "{f}: a credential leaked");
        assert!(!text.contains(RUNNER_KEY_BLOB) && !text.contains("keys-SENTINEL"), "{f}: the runner's keys leaked");
    }
    // The model has the keys (the export must not take them from there).
    let Some(Spec::Secret(keys)) = offline(SCRIPT_RUNNER).get(addr::RUNNER_KEYPAIR_SECRET).map(|r| r.spec.clone())
    else {
        panic!("the runner's keypair secret")
    };
    assert!(keys.value.expect("the keys' value").expose().contains(RUNNER_KEY_BLOB));
    // Credentials written in the file (accepted for compatibility) do not leak either.
    let keys_in_file = RUNNER_AUTHORIZED_KEYS.replace("keys-SENTINEL-9012", "keys-IN-FILE-4444");
    let text = tfvars(&[
        ("client_id", "\"cid-IN-FILE-4242\""),
        ("client_secret", "\"csec-IN-FILE-4343\""),
        ("enable_script_runner", "true"),
        ("runner_authorized_keys", &format!("\"{keys_in_file}\"")),
    ]);
    let stack = stack_with(&text, &Env::default(), &Context::default());
    let export = all_text(&stack);
    assert!(!export.contains("cid-IN-FILE-4242") && !export.contains("csec-IN-FILE-4343"));
    assert!(!export.contains(RUNNER_KEY_BLOB) && !export.contains("keys-IN-FILE-4444"));
    // The secret versions take them from the variables.
    let versions = &main_doc(&stack)["resource"]["aws_secretsmanager_secret_version"];
    assert_eq!(versions["credentials"]["secret_string"], CREDENTIALS_SECRET_STRING);
    assert_eq!(versions["runner_keypair"]["secret_string"], RUNNER_KEYS_SECRET_STRING);
}

#[test]
fn credentials_are_sensitive_variables_without_default() {
    let vars = terraform(&offline("new-vpc.tfvars")).remove("variables.tf.json").unwrap();
    let vars = vars["variable"].as_object().expect("variable block");
    assert_eq!(vars.keys().collect::<Vec<_>>(), ["client_id", "client_secret"]);
    for (name, v) in vars {
        assert_eq!(v["sensitive"], true, "{name}");
        assert_eq!(v["type"], "string", "{name}");
        assert!(v.get("default").is_none(), "{name} must have no default");
    }
}

#[test]
fn free_subnet_ranges_are_a_variable_the_plan_fills_in() {
    let docs = terraform(&offline("existing-vpc-free-ranges.tfvars"));
    let r = &docs["main.tf.json"]["resource"]["aws_subnet"];
    assert_eq!(r["a"]["cidr_block"], "${var.subnet_cidr_blocks[0]}");
    assert_eq!(r["b"]["cidr_block"], "${var.subnet_cidr_blocks[1]}");
    let var = &docs["variables.tf.json"]["variable"]["subnet_cidr_blocks"];
    assert_eq!(var["type"], "list(string)");
    assert!(var.get("default").is_none() && var["description"].as_str().unwrap().contains("agentctl plan"));
    assert_eq!(var["validation"][0]["condition"], "${length(var.subnet_cidr_blocks) == 2}");
    // Ranges the plan read are literal; no variable then.
    let mut ctx =
        Context { subnet_cidr_blocks: Some(["10.0.1.0/24".into(), "10.0.4.0/24".into()]), ..Context::default() };
    ctx.aws_account_id = Some(AWS_ACCOUNT.into());
    let docs = terraform(&stack_with(&fixture("existing-vpc-free-ranges.tfvars"), &env_with_creds(), &ctx));
    assert_eq!(docs["main.tf.json"]["resource"]["aws_subnet"]["b"]["cidr_block"], "10.0.4.0/24");
    assert!(docs["variables.tf.json"]["variable"].get("subnet_cidr_blocks").is_none());
}

/// The name a model resource has in its Terraform block, with references to the
/// names of other blocks (`${aws_ecs_service.agent.name}`) resolved.
fn exported_name(kind: Kind, body: &Value, main: &Value) -> String {
    let name = match kind {
        Kind::Vpc | Kind::InternetGateway | Kind::Subnet | Kind::RouteTable | Kind::FlowLog => &body["tags"]["Name"],
        Kind::S3Bucket => &body["bucket"],
        Kind::TaskDefinition => &body["family"],
        Kind::ScalableTarget => &body["resource_id"],
        Kind::Alarm => &body["alarm_name"],
        Kind::Dashboard => &body["dashboard_name"],
        _ => &body["name"],
    };
    resolve_names(name.as_str().unwrap_or_else(|| panic!("no name in {body}")), main)
}

/// `s` with every `${TYPE.NAME.name}` replaced by that block's `name`.
fn resolve_names(s: &str, main: &Value) -> String {
    let mut out = s.to_owned();
    for expr in interpolations(s) {
        let parts: Vec<&str> = expr.split('.').collect();
        let [ty, name, "name"] = parts.as_slice() else { continue };
        let value = main["resource"][*ty][*name]["name"].as_str().unwrap_or_else(|| panic!("{expr} in {s}"));
        out = out.replace(&format!("${{{expr}}}"), value);
    }
    out
}

/// The block of a model resource in `main.tf.json`.
fn block<'a>(main: &'a Value, r: &agentctl_core::model::Resource) -> &'a Value {
    &main["resource"][resource_type(r.addr.kind)][block_name(r.addr.key)]
}

#[test]
fn every_model_resource_is_exported_with_its_name_and_tags() {
    for f in FIXTURES {
        let stack = with_account(f);
        let main = main_doc(&stack);
        for r in &stack.resources {
            let body = block(&main, r);
            assert!(body.is_object(), "{f}: {} missing as {}", r.addr, terraform_address(r.addr));
            assert_eq!(exported_name(r.addr.kind, body, &main), r.name, "{f}: {}", r.addr);
            if !r.addr.kind.taggable() {
                // Not taggable for agentctl (found through the service): no tags here either.
                assert!(r.tags.is_empty() && body.get("tags").is_none(), "{f}: {} has tags", r.addr);
                continue;
            }
            assert_eq!(body["tags"][OWNERSHIP_TAG], stack.deployment.as_str(), "{f}: {} ownership tag", r.addr);
            let tags: BTreeMap<String, String> = serde_json::from_value(body["tags"].clone()).unwrap();
            assert_eq!(tags, r.tags, "{f}: {} tags", r.addr);
        }
        // Nothing that the model does not have, except the documented additions.
        let types: BTreeSet<&str> = stack.resources.iter().map(|r| resource_type(r.addr.kind)).collect();
        for ty in main["resource"].as_object().unwrap().keys() {
            let companion = [
                "aws_default_security_group",
                "aws_route",
                "aws_route_table_association",
                "aws_secretsmanager_secret_version",
                "aws_iam_role_policy",
                "aws_s3_bucket_public_access_block",
                "aws_s3_bucket_server_side_encryption_configuration",
                "aws_s3_bucket_ownership_controls",
                "aws_s3_bucket_policy",
                "aws_s3_bucket_versioning",
                "aws_s3_bucket_lifecycle_configuration",
                "aws_s3_bucket_logging",
                "aws_ecs_cluster_capacity_providers",
            ];
            assert!(types.contains(ty.as_str()) || companion.contains(&ty.as_str()), "{f}: unexpected {ty}");
        }
    }
}

#[test]
fn the_offline_bucket_name_uses_the_caller_account() {
    let main = main_doc(&offline("new-vpc.tfvars"));
    assert_eq!(
        main["resource"]["aws_s3_bucket"]["staging"]["bucket"],
        "analytics-staging-${data.aws_caller_identity.current.account_id}-eu-west-1"
    );
    assert!(main["data"]["aws_caller_identity"]["current"].is_object());
    // Zones unknown offline: the same pick agentctl makes, done by Terraform.
    let subnets = &main["resource"]["aws_subnet"];
    assert_eq!(subnets["a"]["availability_zone"], "${sort(data.aws_availability_zones.available.names)[0]}");
    assert_eq!(subnets["b"]["availability_zone"], "${sort(data.aws_availability_zones.available.names)[1]}");
    assert_eq!(
        main["data"]["aws_availability_zones"]["available"],
        serde_json::json!({"state": "available", "filter": [{"name": "zone-type", "values": ["availability-zone"]}]})
    );
    // Known zones stay literal.
    let main = main_doc(&with_account("new-vpc.tfvars"));
    assert_eq!(main["resource"]["aws_subnet"]["a"]["availability_zone"], "us-east-1a");
    assert!(main["data"].get("aws_availability_zones").is_none());
    // With a known account and no placeholder left, the data source is not needed.
    let main = main_doc(&with_account("existing-all.tfvars"));
    assert!(main["data"].get("aws_caller_identity").is_none());
}

#[test]
fn references_instead_of_literal_ids_and_arns() {
    for f in FIXTURES {
        for (label, stack) in [("offline", offline(f)), ("account", with_account(f))] {
            let docs = terraform(&stack);
            let text = all_text(&stack);
            assert!(!text.contains(ACCOUNT_PLACEHOLDER), "{f}/{label}: account placeholder left");
            // No model-style reference is left, and every Terraform reference resolves.
            let main = &docs["main.tf.json"];
            let mut all = Vec::new();
            for doc in docs.values() {
                strings(doc, &mut all);
            }
            let resources = main["resource"].as_object().unwrap();
            let data = main.get("data").and_then(Value::as_object);
            let variables = docs["variables.tf.json"]["variable"].as_object().unwrap();
            for s in &all {
                if s.starts_with("${jsonencode(") {
                    let used: &[&str] = match s.as_str() {
                        CREDENTIALS_SECRET_STRING => &["client_id", "client_secret"],
                        RUNNER_KEYS_SECRET_STRING => &["runner_authorized_keys"],
                        other => panic!("{f}/{label}: unexpected {other}"),
                    };
                    for name in used {
                        assert!(variables.contains_key(*name), "{f}/{label}: `var.{name}` is not declared");
                    }
                    continue;
                }
                for expr in interpolations(s) {
                    let expr = match expr.strip_prefix("sort(data.aws_availability_zones.available.names)[") {
                        Some(index) => {
                            assert!(index.trim_end_matches(']').parse::<usize>().is_ok(), "{expr}");
                            "data.aws_availability_zones.available.names".to_owned()
                        }
                        None => expr,
                    };
                    // `var.subnet_cidr_blocks[0]`, `length(var.subnet_cidr_blocks) == 2`
                    let expr =
                        expr.strip_prefix("length(").and_then(|e| e.split_once(')')).map_or(expr.as_str(), |e| e.0);
                    let expr = expr.split_once('[').map_or(expr, |e| e.0);
                    let parts: Vec<&str> = expr.split('.').collect();
                    let ok = match parts.as_slice() {
                        ["var", name] => variables.contains_key(*name),
                        ["data", ty, name, _attr] => data.and_then(|d| d.get(*ty)).and_then(|t| t.get(*name)).is_some(),
                        [ty, name, _attr] => resources.get(*ty).and_then(|t| t.get(*name)).is_some(),
                        _ => false,
                    };
                    assert!(ok, "{f}/{label}: `${{{expr}}}` does not resolve (in {s:?})");
                }
            }
            for (ty, blocks) in resources {
                for (name, body) in blocks.as_object().unwrap() {
                    for dep in body.get("depends_on").and_then(Value::as_array).into_iter().flatten() {
                        let (dty, dname) = dep.as_str().unwrap().split_once('.').unwrap();
                        assert!(
                            resources.get(dty).and_then(|t| t.get(dname)).is_some(),
                            "{f}: {ty}.{name} depends on missing {dep}"
                        );
                    }
                }
            }
            // ARNs of the stack's own resources never appear literally.
            // (The task role may also reach the user's buckets and secrets by ARN.)
            use agentctl_core::model::addr;
            let own_secrets =
                stack.resources.iter().filter(|r| r.addr.kind == Kind::Secret).map(|r| format!(":secret:{}", r.name));
            let own_bucket = stack
                .get(addr::BUCKET)
                .map_or("arn:aws:s3:::(none)".to_owned(), |b| format!("arn:aws:s3:::{}", b.name));
            let literals = [":role/", ":log-group:", own_bucket.as_str(), ":task-definition/"].map(str::to_owned);
            for literal in literals.into_iter().chain(own_secrets) {
                assert!(!text.contains(&literal), "{f}/{label}: literal ARN part {literal:?} in the export");
            }
            let td = &main["resource"]["aws_ecs_task_definition"]["agent"];
            assert_eq!(td["execution_role_arn"], "${aws_iam_role.execution.arn}");
            assert_eq!(td["task_role_arn"], "${aws_iam_role.task.arn}");
            let containers: Value = serde_json::from_str(td["container_definitions"].as_str().unwrap()).unwrap();
            let secrets = &containers[0]["secrets"];
            assert_eq!(secrets[0]["valueFrom"], "${aws_secretsmanager_secret.credentials.arn}:client_id::");
            assert_eq!(secrets[1]["valueFrom"], "${aws_secretsmanager_secret.credentials.arn}:client_secret::");
            assert_eq!(containers[0]["readonlyRootFilesystem"], true);
            assert_eq!(
                containers[0]["logConfiguration"]["options"]["awslogs-group"],
                "${aws_cloudwatch_log_group.agent.name}"
            );
            let svc = &main["resource"]["aws_ecs_service"]["agent"];
            assert_eq!(svc["task_definition"], "${aws_ecs_task_definition.agent.arn}");
            assert_eq!(svc["cluster"], "${aws_ecs_cluster.main.id}");
            assert_eq!(svc["deployment_circuit_breaker"][0], serde_json::json!({"enable": true, "rollback": true}));
            let policies = &main["data"]["aws_iam_policy_document"];
            let execution = policies["execution_agent_execution"].to_string();
            assert!(execution.contains("${aws_cloudwatch_log_group.agent.arn}:*"), "{execution}");
            assert!(execution.contains("\"${aws_secretsmanager_secret.credentials.arn}\""), "{execution}");
            assert_eq!(
                main["resource"]["aws_iam_role_policy"]["execution_agent_execution"]["policy"],
                "${data.aws_iam_policy_document.execution_agent_execution.json}"
            );
        }
    }
    let main = main_doc(&offline("new-vpc.tfvars"));
    let r = &main["resource"];
    assert_eq!(r["aws_subnet"]["a"]["vpc_id"], "${aws_vpc.main.id}");
    assert_eq!(
        r["aws_route"]["public_default"],
        serde_json::json!({
            "route_table_id": "${aws_route_table.public.id}",
            "destination_cidr_block": "0.0.0.0/0",
            "gateway_id": "${aws_internet_gateway.main.id}"
        })
    );
    assert!(r["aws_route_table"]["public"].get("route").is_none());
    assert_eq!(r["aws_route_table_association"]["b"]["subnet_id"], "${aws_subnet.b.id}");
    assert_eq!(
        r["aws_ecs_service"]["agent"]["network_configuration"][0]["security_groups"],
        serde_json::json!(["${aws_security_group.agent.id}"])
    );
    assert_eq!(r["aws_security_group"]["agent"]["ingress"], serde_json::json!([]));
    assert_eq!(r["aws_ecs_cluster"]["main"]["setting"][0]["value"], "enabled");
    let task = main["data"]["aws_iam_policy_document"]["task_agent_task"].to_string();
    assert!(task.contains("\"${aws_s3_bucket.staging.arn}/*\""), "{task}");
    // Existing network: the user's ids, literally.
    let main = main_doc(&offline("existing-all.tfvars"));
    let net = &main["resource"]["aws_ecs_service"]["agent"]["network_configuration"][0];
    assert_eq!(net["subnets"], serde_json::json!(["subnet-0bbb2222", "subnet-0aaa1111"]));
    assert_eq!(net["security_groups"], serde_json::json!(["sg-0c0c0c0c", "sg-0d0d0d0d"]));
    assert!(main["resource"].get("aws_vpc").is_none() && main["resource"].get("aws_security_group").is_none());
}

#[test]
fn literal_template_sequences_are_escaped() {
    let mut stack = offline("existing-all.tfvars");
    stack.resources[0].tags.insert("note".into(), "a ${literal} and %{ directive }".into());
    let main = main_doc(&stack);
    let ty = resource_type(stack.resources[0].addr.kind);
    assert_eq!(main["resource"][ty][stack.resources[0].addr.key]["tags"]["note"], "a $${literal} and %%{ directive }");
}

#[test]
fn log_retention_never_expiring_is_zero() {
    let main = main_doc(&offline("existing-all.tfvars"));
    assert_eq!(main["resource"]["aws_cloudwatch_log_group"]["agent"]["retention_in_days"], 0);
    let main = main_doc(&offline("existing-vpc.tfvars"));
    assert_eq!(main["resource"]["aws_cloudwatch_log_group"]["agent"]["retention_in_days"], 90);
}

// --- capacity, autoscaling, alarms, metrics --------------------------------------

/// Every scaling feature at once: the metrics sidecar, three target-tracking
/// policies, two schedules, the Spot mix, alarms and the dashboard.
const SCALING: &str = "scaling.tfvars";

fn containers(main: &Value) -> Vec<Value> {
    let td = &main["resource"]["aws_ecs_task_definition"]["agent"];
    serde_json::from_str(td["container_definitions"].as_str().expect("container definitions")).unwrap()
}

/// `${aws_appautoscaling_target.agent.ATTR}` for the three target fields.
fn assert_on_target(body: &Value, what: &str) {
    for attr in ["service_namespace", "resource_id", "scalable_dimension"] {
        assert_eq!(body[attr], format!("${{aws_appautoscaling_target.agent.{attr}}}"), "{what}: {attr}");
    }
}

#[test]
fn capacity_providers_are_attached_and_the_service_uses_the_model_strategy() {
    for f in FIXTURES {
        let stack = offline(f);
        let main = main_doc(&stack);
        let r = &main["resource"];
        // Both providers, always, attached by their own resource (provider 5+).
        assert_eq!(
            r["aws_ecs_cluster_capacity_providers"]["main"],
            json!({"cluster_name": "${aws_ecs_cluster.main.name}", "capacity_providers": ["FARGATE", "FARGATE_SPOT"]}),
            "{f}"
        );
        assert!(r["aws_ecs_cluster"]["main"].get("capacity_providers").is_none(), "{f}");
        let svc = &r["aws_ecs_service"]["agent"];
        assert!(svc.get("launch_type").is_none(), "{f}: a strategy, never a launch type");
        // The service references the cluster, not the attachment: it waits for it.
        let deps = svc["depends_on"].as_array().expect("depends_on");
        assert!(deps.contains(&json!("aws_ecs_cluster_capacity_providers.main")), "{f}: {deps:?}");
        let Some(Spec::EcsService(model)) = stack.get(addr::SERVICE).map(|r| &r.spec) else { panic!("{f}: service") };
        let strategy: Vec<Value> = model
            .capacity_provider_strategy
            .iter()
            .map(|c| json!({"capacity_provider": c.provider, "base": c.base, "weight": c.weight}))
            .collect();
        assert_eq!(svc["capacity_provider_strategy"], json!(strategy), "{f}");
    }
    let strategy =
        |f: &str| main_doc(&offline(f))["resource"]["aws_ecs_service"]["agent"]["capacity_provider_strategy"].clone();
    assert_eq!(strategy("new-vpc.tfvars"), json!([{"capacity_provider": "FARGATE", "base": 0, "weight": 1}]));
    assert_eq!(
        strategy(SCALING),
        json!([
            {"capacity_provider": "FARGATE", "base": 1, "weight": 1},
            {"capacity_provider": "FARGATE_SPOT", "base": 0, "weight": 3}
        ])
    );
}

#[test]
fn an_autoscaled_service_ignores_changes_of_its_desired_count() {
    let main = main_doc(&offline(SCALING));
    let svc = &main["resource"]["aws_ecs_service"]["agent"];
    // Terraform JSON: `lifecycle` is a block, `ignore_changes` an array of attribute names.
    assert_eq!(svc["lifecycle"], json!([{"ignore_changes": ["desired_count"]}]));
    // The count is still what the service starts with.
    assert_eq!(svc["desired_count"], 2);
    for f in FIXTURES.iter().filter(|f| **f != SCALING) {
        let main = main_doc(&offline(f));
        assert!(main["resource"]["aws_ecs_service"]["agent"].get("lifecycle").is_none(), "{f}: not autoscaled");
    }
}

#[test]
fn the_metrics_sidecar_starts_after_the_agent() {
    let main = main_doc(&offline(SCALING));
    let containers = containers(&main);
    let names: Vec<&str> = containers.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["agent", "metrics", "guard"]);
    let (agent, metrics) = (&containers[0], &containers[1]);
    assert_eq!(agent["name"], "agent");
    assert!(agent.get("dependsOn").is_none(), "the agent waits for nothing");
    assert_eq!(metrics["name"], "metrics");
    assert_eq!(metrics["essential"], false);
    // The only writable root filesystem (the CloudWatch agent's state); checkov
    // cannot see it (see export::checkov_exceptions).
    assert_eq!(
        (agent["readonlyRootFilesystem"].as_bool(), metrics["readonlyRootFilesystem"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(metrics["dependsOn"], json!([{"containerName": "agent", "condition": "START"}]));
    assert_eq!(metrics["logConfiguration"]["options"]["awslogs-group"], "${aws_cloudwatch_log_group.agent.name}");
    assert_eq!(metrics["logConfiguration"]["options"]["awslogs-stream-prefix"], "metrics");
    // Every container of every task definition (the script runner's too) as the model has it.
    for f in FIXTURES {
        let stack = offline(f);
        let main = main_doc(&stack);
        for res in &stack.resources {
            let Spec::TaskDefinition(td) = &res.spec else { continue };
            let definitions = block(&main, res)["container_definitions"].as_str().expect("container definitions");
            let exported: Vec<Value> = serde_json::from_str(definitions).unwrap();
            assert_eq!(exported.len(), td.containers.len(), "{f}: {}", res.addr);
            for (c, e) in td.containers.iter().zip(&exported) {
                assert_eq!(e["name"], c.name.as_str(), "{f}");
                assert_eq!(e["essential"], c.essential, "{f}: {}", c.name);
                assert_eq!(e["readonlyRootFilesystem"], c.readonly_root_filesystem, "{f}: {}", c.name);
                let deps: Vec<Value> = c
                    .depends_on
                    .iter()
                    .map(|d| json!({"containerName": d.container_name, "condition": d.condition}))
                    .collect();
                assert_eq!(e.get("dependsOn").cloned().unwrap_or(json!([])), json!(deps), "{f}: {}", c.name);
                let ports: Vec<Value> = c
                    .port_mappings
                    .iter()
                    .map(|p| json!({"name": p.name, "containerPort": p.container_port, "protocol": p.protocol}))
                    .collect();
                assert_eq!(e.get("portMappings").cloned().unwrap_or(json!([])), json!(ports), "{f}: {}", c.name);
                // Terraform reads `$${` and `%%{` in a string as a literal `${` and `%{`.
                let command: Vec<String> =
                    serde_json::from_value::<Vec<String>>(e.get("command").cloned().unwrap_or(json!([])))
                        .unwrap()
                        .iter()
                        .map(|arg| arg.replace("$${", "${").replace("%%{", "%{"))
                        .collect();
                assert_eq!(command, c.command, "{f}: {}", c.name);
                assert_eq!(e.get("cpu").and_then(Value::as_u64), c.cpu.map(u64::from), "{f}: {}", c.name);
                assert_eq!(
                    e.get("memoryReservation").and_then(Value::as_u64),
                    c.memory_reservation.map(u64::from),
                    "{f}: {}",
                    c.name
                );
            }
        }
    }
    let names = |f: &str| -> Vec<String> {
        self::containers(&main_doc(&offline(f))).iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names("new-vpc.tfvars"), ["agent", "guard"], "no metrics sidecar without metrics");
}

#[test]
fn the_scalable_target_policies_and_schedules_reference_the_service() {
    let stack = offline(SCALING);
    let main = main_doc(&stack);
    let r = &main["resource"];
    assert_eq!(
        r["aws_appautoscaling_target"]["agent"],
        json!({
            "service_namespace": "ecs",
            "resource_id": "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.agent.name}",
            "scalable_dimension": "ecs:service:DesiredCount",
            "min_capacity": 1,
            "max_capacity": 6
        })
    );

    let policies = r["aws_appautoscaling_policy"].as_object().expect("policies");
    assert_eq!(
        policies.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["cpu", "memory", "active-tasks"])
    );
    for (key, metric, target) in
        [("cpu", "ECSServiceAverageCPUUtilization", 70.0), ("memory", "ECSServiceAverageMemoryUtilization", 80.0)]
    {
        let p = &policies[key];
        assert_eq!(p["name"], format!("scaled-{key}"));
        assert_eq!(p["policy_type"], "TargetTrackingScaling");
        assert_on_target(p, key);
        let c = &p["target_tracking_scaling_policy_configuration"][0];
        assert_eq!(c["target_value"], target, "{key}");
        assert_eq!((c["scale_in_cooldown"].as_u64(), c["scale_out_cooldown"].as_u64()), (Some(600), Some(60)), "{key}");
        assert_eq!(c["predefined_metric_specification"], json!([{"predefined_metric_type": metric}]), "{key}");
        assert!(c.get("customized_metric_specification").is_none(), "{key}");
    }
    // The agent's own metric: namespace before the last `/`, averaged over the service's tasks.
    let active = &policies["active-tasks"];
    assert_eq!(active["name"], "scaled-active-tasks");
    assert_on_target(active, "active-tasks");
    let c = &active["target_tracking_scaling_policy_configuration"][0];
    assert_eq!(c["target_value"], 16.0);
    assert!(c.get("predefined_metric_specification").is_none());
    assert_eq!(
        c["customized_metric_specification"],
        json!([{
            "namespace": "Matillion/Agent",
            "metric_name": "app_active_task_count",
            "statistic": "Average",
            "dimensions": [
                {"name": "ClusterName", "value": "${aws_ecs_cluster.main.name}"},
                {"name": "ServiceName", "value": "${aws_ecs_service.agent.name}"}
            ]
        }])
    );

    let schedules = &r["aws_appautoscaling_scheduled_action"];
    let evening = &schedules["evening-down"];
    assert_eq!(evening["name"], "scaled-evening-down");
    assert_on_target(evening, "evening-down");
    assert_eq!(evening["schedule"], "cron(0 20 ? * MON-FRI *)");
    assert_eq!(evening["timezone"], "Europe/London");
    // The provider's bounds are strings ("0" is a bound, not "unset").
    assert_eq!(evening["scalable_target_action"], json!([{"min_capacity": "0", "max_capacity": "1"}]));
    let morning = &schedules["morning-up"];
    assert_eq!(morning["schedule"], "cron(0 7 ? * MON-FRI *)");
    assert!(morning.get("timezone").is_none(), "UTC: the provider's default, no spelling of it");
    assert_eq!(morning["scalable_target_action"], json!([{"min_capacity": "2", "max_capacity": "6"}]));

    // Against the model, resource by resource.
    for res in &stack.resources {
        let body = block(&main, res);
        match &res.spec {
            Spec::ScalingPolicy(p) => {
                let c = &body["target_tracking_scaling_policy_configuration"][0];
                assert_eq!(c["target_value"], p.target, "{}", res.addr);
                assert_eq!(c["scale_in_cooldown"], p.scale_in_cooldown, "{}", res.addr);
                assert_eq!(c["scale_out_cooldown"], p.scale_out_cooldown, "{}", res.addr);
                let metric = match c.get("customized_metric_specification") {
                    Some(m) => {
                        format!("{}/{}", m[0]["namespace"].as_str().unwrap(), m[0]["metric_name"].as_str().unwrap())
                    }
                    None => {
                        c["predefined_metric_specification"][0]["predefined_metric_type"].as_str().unwrap().to_owned()
                    }
                };
                assert_eq!(metric, p.metric, "{}", res.addr);
            }
            Spec::ScheduledAction(a) => {
                let bounds = &body["scalable_target_action"][0];
                assert_eq!(bounds.get("min_capacity").cloned(), a.min.map(|n| json!(n.to_string())), "{}", res.addr);
                assert_eq!(bounds.get("max_capacity").cloned(), a.max.map(|n| json!(n.to_string())), "{}", res.addr);
                assert_eq!(body.get("timezone").and_then(Value::as_str), a.timezone.as_deref(), "{}", res.addr);
            }
            Spec::ScalableTarget(t) => {
                assert_eq!(resolve_names(body["resource_id"].as_str().unwrap(), &main), t.resource_id);
                assert_eq!(
                    (body["min_capacity"].as_u64(), body["max_capacity"].as_u64()),
                    (Some(t.min.into()), Some(t.max.into()))
                );
            }
            _ => {}
        }
    }
    // References carry every dependency: no depends_on needed.
    for ty in ["aws_appautoscaling_target", "aws_appautoscaling_policy", "aws_appautoscaling_scheduled_action"] {
        for (name, body) in r[ty].as_object().unwrap() {
            assert!(body.get("depends_on").is_none(), "{ty}.{name}");
        }
    }
}

#[test]
fn alarms_and_the_dashboard_are_exported_as_built() {
    let stack = offline(SCALING);
    let main = main_doc(&stack);
    let r = &main["resource"];
    let alarms = r["aws_cloudwatch_metric_alarm"].as_object().expect("alarms");
    let model: Vec<_> = stack.resources.iter().filter(|r| r.addr.kind == Kind::Alarm).collect();
    assert_eq!(alarms.len(), model.len());
    // The evening schedule allows 0 tasks: no alarm that fires on no task.
    let mut keys: Vec<&String> = alarms.keys().collect();
    keys.sort();
    assert_eq!(keys, ["agent-saturated", "cpu-high", "memory-high"]);
    let topic = "arn:aws:sns:eu-west-1:123456789012:agent-alerts";
    for res in model {
        let Spec::Alarm(a) = &res.spec else { unreachable!() };
        let body = block(&main, res);
        let what = res.addr.to_string();
        assert_eq!(body["alarm_name"], res.name.as_str(), "{what}");
        assert_eq!(body["alarm_description"], a.description.as_str(), "{what}");
        assert_eq!(body["namespace"], a.namespace.as_str(), "{what}");
        assert_eq!(body["metric_name"], a.metric_name.as_str(), "{what}");
        assert_eq!(body["statistic"], a.statistic.as_str(), "{what}");
        assert_eq!(body["comparison_operator"], a.comparison.as_str(), "{what}");
        assert_eq!(body["threshold"], a.threshold, "{what}");
        assert_eq!(body["period"], a.period, "{what}");
        assert_eq!(body["evaluation_periods"], a.evaluation_periods, "{what}");
        assert_eq!(body["treat_missing_data"], a.treat_missing_data.as_str(), "{what}");
        // Notified on alarm and on recovery, as agentctl's apply sets it.
        assert_eq!(body["alarm_actions"], json!(a.actions), "{what}");
        assert_eq!(body["ok_actions"], json!(a.actions), "{what}");
        assert_eq!(body["alarm_actions"], json!([topic]), "{what}");
        assert!(body.get("actions_enabled").is_none(), "{what}: enabled (the default)");
        assert_eq!(body.get("unit").is_some(), a.metric_name.ends_with("Utilization"), "{what}");
        // The service's dimensions as references, naming what the model names.
        assert_eq!(body["dimensions"]["ClusterName"], "${aws_ecs_cluster.main.name}", "{what}");
        assert_eq!(body["dimensions"]["ServiceName"], "${aws_ecs_service.agent.name}", "{what}");
        let dimensions: BTreeMap<String, String> = body["dimensions"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), resolve_names(v.as_str().unwrap(), &main)))
            .collect();
        assert_eq!(dimensions, a.dimensions, "{what}");
    }
    let cpu = &alarms["cpu-high"];
    assert_eq!((cpu["alarm_name"].as_str(), cpu["threshold"].as_f64()), (Some("scaled-cpu-high"), Some(80.0)));
    assert_eq!(cpu["unit"], "Percent");
    assert_eq!(alarms["agent-saturated"]["namespace"], "Matillion/Agent");

    let Some(Spec::Dashboard(d)) = stack.get(addr::DASHBOARD).map(|r| &r.spec) else { panic!("dashboard") };
    let dashboard = &r["aws_cloudwatch_dashboard"]["agent"];
    assert_eq!(dashboard["dashboard_name"], "scaled-agent");
    let body: Value = serde_json::from_str(dashboard["dashboard_body"].as_str().unwrap()).expect("JSON body");
    assert_eq!(body, d.body);
    // The body names the service; Terraform still waits for it.
    assert_eq!(dashboard["depends_on"], json!(["aws_ecs_service.agent"]));
    // Nothing of the kind without `alarms`.
    let plain = main_doc(&offline("new-vpc.tfvars"));
    for ty in ["aws_cloudwatch_metric_alarm", "aws_cloudwatch_dashboard", "aws_appautoscaling_target"] {
        assert!(plain["resource"].get(ty).is_none(), "{ty}");
    }
}

#[test]
fn block_names_are_terraform_names() {
    assert_eq!(block_name("main"), "main");
    assert_eq!(block_name("cpu-high"), "cpu-high");
    assert_eq!(block_name("7am-up"), "_7am-up");
    assert_eq!(block_name("-x"), "_-x");
    // A schedule name Terraform would refuse as a block name.
    let text = tfvars(&[
        ("name", "\"early\""),
        ("autoscaling", "{\n  min = 1\n  max = 3\n  cpu_target = 60\n}"),
        ("schedules", "[\n  { name = \"7am-up\", schedule = \"cron(0 7 ? * MON-FRI *)\", min = 2 },\n]"),
    ]);
    let stack = stack_with(&text, &env_with_creds(), &Context::default());
    let main = main_doc(&stack);
    let action = &main["resource"]["aws_appautoscaling_scheduled_action"]["_7am-up"];
    assert_eq!(action["name"], "early-7am-up");
    assert_eq!(action["scalable_target_action"], json!([{"min_capacity": "2"}]));
    let res = stack.resources.iter().find(|r| r.addr.kind == Kind::ScheduledAction).unwrap();
    assert_eq!(terraform_address(res.addr), "aws_appautoscaling_scheduled_action._7am-up");
}

#[test]
fn every_exception_has_a_reason_and_is_documented() {
    let table = checkov_exceptions::markdown();
    let mut seen = BTreeSet::new();
    for e in CHECKOV_EXCEPTIONS {
        assert!(seen.insert((e.check_id, e.resource_type)), "{} listed twice", e.check_id);
        assert!(e.reason.len() > 20, "{}", e.check_id);
        assert!(e.resource_type.trim_start_matches("data.").starts_with("aws_"), "{}", e.check_id);
        assert!(table.contains(e.check_id), "{}", e.check_id);
    }
}

// --- checkov ------------------------------------------------------------------

fn scratch_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("agentctl-export-{}-{label}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

fn checkov() -> PathBuf {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("checkov"))
        .find(|p| p.is_file());
    let Some(path) = found else {
        panic!("checkov not found on PATH: run ./scripts/test.sh, which installs checkov=={CHECKOV_VERSION} in a venv of its own (or: python3 -m venv V && V/bin/pip install -r requirements-checkov.txt && export PATH=V/bin:$PATH)")
    };
    let out = Command::new(&path).arg("--version").output().expect("run checkov --version");
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(
        version,
        CHECKOV_VERSION,
        "checkov {version} found at {}; the exception list is measured with {CHECKOV_VERSION}: \
         python3 -m pip install checkov=={CHECKOV_VERSION}",
        path.display()
    );
    path
}

/// `[section, type, name]` of the block that starts at `line` (1-based) of a
/// pretty-printed export file; `resource` blocks become `type.name`.
fn block_at(text: &str, line: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let key = |l: &str| l.trim().split('"').nth(1).unwrap_or_default().to_owned();
    let mut i = line - 1;
    let mut path = vec![key(lines[i])];
    let mut level = indent(lines[i]);
    while level > 2 {
        while indent(lines[i]) != level - 2 || !lines[i].trim_end().ends_with('{') {
            i -= 1;
        }
        level -= 2;
        path.insert(0, key(lines[i]));
    }
    if path[0] == "resource" {
        path.remove(0);
    }
    path.join(".")
}

struct Finding {
    check_id: String,
    address: String,
    name: String,
}

impl Finding {
    /// `aws_vpc` for `aws_vpc.main`, `data.aws_availability_zones` for a data source.
    fn resource_type(&self) -> &str {
        let end = if self.address.starts_with("data.") { 2 } else { 1 };
        let cut = self.address.match_indices('.').nth(end - 1).map_or(self.address.len(), |(i, _)| i);
        &self.address[..cut]
    }
}

/// Writes the export of `stack`, scans it, and checks the findings against the
/// exception list: nothing new, nothing stale.
fn scan(label: &str, stack: &Stack) {
    let checkov = checkov();
    let dir = scratch_dir(label);
    let files = terraform_files(stack);
    write_terraform(stack, &dir).expect("write export");
    // `terraform` is the framework for Terraform, but checkov 3.3.30 skips
    // `*.tf.json` there (it loads `.tf` and `.hcl` only); `terraform_json` scans
    // them with the same checks. `--skip-download`: no call to Prisma Cloud.
    let out = Command::new(&checkov)
        .args(["--framework", "terraform", "terraform_json", "-d"])
        .arg(&dir)
        .args(["-o", "json", "--quiet", "--skip-download"])
        .output()
        .expect("run checkov");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON ({e}), exit {:?}:\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let reports: Vec<Value> = match report {
        Value::Array(items) => items,
        one => vec![one],
    };
    let mut findings = Vec::new();
    let mut passed = 0;
    for r in &reports {
        let summary = r.get("summary").unwrap_or(r);
        assert_eq!(summary["parsing_errors"], 0, "{label}: checkov could not parse the export: {r}");
        if r["check_type"] == "terraform_json" {
            passed = summary["passed"].as_u64().unwrap();
        }
        for f in r["results"]["failed_checks"].as_array().into_iter().flatten() {
            let file = f["file_path"].as_str().unwrap().trim_start_matches('/');
            let line = f["file_line_range"][0].as_u64().unwrap() as usize;
            findings.push(Finding {
                check_id: f["check_id"].as_str().unwrap().to_owned(),
                address: block_at(&files[file], line),
                name: f["check_name"].as_str().unwrap_or_default().to_owned(),
            });
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    // A scan that saw nothing would pass everything.
    assert!(passed >= 40, "{label}: checkov passed only {passed} checks: did it scan the export?");
    let expected: BTreeSet<(&str, &str)> =
        checkov_exceptions::expected(stack).iter().map(|e| (e.check_id, e.resource_type)).collect();
    let new: Vec<String> = findings
        .iter()
        .filter(|f| !expected.contains(&(f.check_id.as_str(), f.resource_type())))
        .map(|f| format!("  {} on {}: {}", f.check_id, f.address, f.name))
        .collect();
    let found: BTreeSet<(&str, &str)> = findings.iter().map(|f| (f.check_id.as_str(), f.resource_type())).collect();
    let stale: Vec<String> =
        expected.iter().filter(|e| !found.contains(*e)).map(|(id, ty)| format!("  {id} on {ty}")).collect();
    println!("{label}: checkov {CHECKOV_VERSION}: {passed} passed, {} failed (all documented)", findings.len());
    assert!(
        new.is_empty(),
        "{label}: checkov findings not in export::checkov_exceptions (fix the export, or document why):\n{}",
        new.join("\n")
    );
    assert!(
        stale.is_empty(),
        "{label}: documented exceptions checkov no longer reports (remove them, or fix `applies`):\n{}",
        stale.join("\n")
    );
}

#[test]
fn checkov_new_vpc() {
    scan("new-vpc", &offline("new-vpc.tfvars"));
}

#[test]
fn checkov_existing_network() {
    // Existing VPC, subnets and security groups; private ECR image; no bucket.
    scan("existing-all", &offline("existing-all.tfvars"));
}

#[test]
fn checkov_existing_vpc_new_subnets() {
    scan("existing-vpc", &offline("existing-vpc.tfvars"));
}

#[test]
fn checkov_switches_turn_controls_on() {
    // A year of logs and no public IP: those two findings must be gone.
    let text = tfvars(&[
        ("name", "\"hardened\""),
        ("log_retention_days", "365"),
        ("assign_public_ip", "false"),
        ("use_existing_vpc", "true"),
        ("vpc_id", "\"vpc-0a1b2c3d4e5f60718\""),
        ("use_existing_subnet", "true"),
        ("subnet_ids", "[\"subnet-0aaa1111\", \"subnet-0bbb2222\"]"),
    ]);
    let stack = stack_with(&text, &env_with_creds(), &Context::default());
    let expected: Vec<&str> = checkov_exceptions::expected(&stack).iter().map(|e| e.check_id).collect();
    assert!(!expected.contains(&"CKV_AWS_338") && !expected.contains(&"CKV_AWS_333"), "{expected:?}");
    scan("hardened", &stack);
}

#[test]
fn checkov_every_switch_on() {
    // KMS key, flow logs, a year of logs, versioning, expiry, access logs: only
    // the exceptions without a switch remain, and the public IP of the new VPC's
    // tasks (turned off in `checkov_switches_turn_controls_on`).
    let stack = offline("hardened.tfvars");
    let mut expected: Vec<&str> = checkov_exceptions::expected(&stack).iter().map(|e| e.check_id).collect();
    expected.sort();
    assert_eq!(expected, ["CKV2_AWS_57", "CKV2_AWS_62", "CKV_AWS_144", "CKV_AWS_333", "CKV_AWS_382"]);
    scan("hardened", &stack);
}

#[test]
fn hardened_settings_are_exported_as_built() {
    let main = main_doc(&with_account("hardened.tfvars"));
    let r = &main["resource"];
    let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    assert_eq!(r["aws_secretsmanager_secret"]["credentials"]["kms_key_id"], key);
    assert_eq!(r["aws_cloudwatch_log_group"]["agent"]["kms_key_id"], key);
    assert_eq!(r["aws_cloudwatch_log_group"]["agent"]["retention_in_days"], 365);
    assert_eq!(r["aws_cloudwatch_log_group"]["flow_logs"]["kms_key_id"], key);
    assert_eq!(r["aws_cloudwatch_log_group"]["flow_logs"]["name"], "/vpc/vault-flow-logs");
    let sse = &r["aws_s3_bucket_server_side_encryption_configuration"]["staging"]["rule"][0];
    assert_eq!(
        sse["apply_server_side_encryption_by_default"][0],
        json!({"sse_algorithm": "aws:kms", "kms_master_key_id": key})
    );
    assert_eq!(sse["bucket_key_enabled"], true);
    assert_eq!(r["aws_s3_bucket_versioning"]["staging"]["versioning_configuration"][0]["status"], "Enabled");
    let rule = &r["aws_s3_bucket_lifecycle_configuration"]["staging"]["rule"][0];
    assert_eq!(rule["abort_incomplete_multipart_upload"][0]["days_after_initiation"], 7);
    assert_eq!(rule["expiration"][0]["days"], 90);
    assert_eq!(rule["noncurrent_version_expiration"][0]["noncurrent_days"], 30);
    assert_eq!(
        r["aws_s3_bucket_logging"]["staging"],
        json!({"bucket": "${aws_s3_bucket.staging.id}", "target_bucket": "acme-s3-access-logs", "target_prefix": "vault-staging-123456789012-eu-west-1/"})
    );
    let flow = &r["aws_flow_log"]["vpc"];
    assert_eq!(flow["vpc_id"], "${aws_vpc.main.id}");
    assert_eq!(flow["log_destination"], "${aws_cloudwatch_log_group.flow_logs.arn}");
    assert_eq!(flow["iam_role_arn"], "${aws_iam_role.flow_logs.arn}");
    assert_eq!(flow["traffic_type"], "ALL");
    // Pinned zones are literals: no data source, whatever the account.
    let offline = main_doc(&offline("hardened.tfvars"));
    assert_eq!(offline["resource"]["aws_subnet"]["b"]["availability_zone"], "eu-west-1c");
    assert!(offline["data"].get("aws_availability_zones").is_none(), "{:#}", offline["data"]);
}

#[test]
fn checkov_scaling() {
    // Autoscaling (CPU, memory, active tasks), schedules, the Spot mix, alarms, the
    // dashboard and the metrics sidecar, on the network agentctl creates.
    scan("scaling", &offline(SCALING));
}

#[test]
fn export_needs_no_path_of_its_own() {
    // The library writes where it is told and nowhere else.
    let dir = scratch_dir("nested").join("a/b");
    let written = write_terraform(&offline("new-vpc.tfvars"), &dir).unwrap();
    assert!(written.iter().all(|p| p.starts_with(&dir)));
    assert_eq!(written.len(), 3);
    std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap()).ok();
}

#[test]
fn the_task_roles_reach_and_the_agents_container_are_exported_as_built() {
    let text = format!(
        "{}task_role_policy_arns = [\"arn:aws:iam::aws:policy/AmazonRedshiftDataFullAccess\"]\n\
         task_role_policy = <<EOT\n{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Effect\": \"Allow\", \"Action\": \"glue:GetTable\", \"Resource\": \"*\"}}]}}\nEOT\n",
        fixture("existing-all.tfvars")
    );
    let stack = stack_with(&text, &env_with_creds(), &Context::default());
    let main = main_doc(&stack);
    let r = &main["resource"];
    let attachment = &r["aws_iam_role_policy_attachment"]["task_aws_AmazonRedshiftDataFullAccess"];
    assert_eq!(attachment["role"], "${aws_iam_role.task.name}");
    assert_eq!(attachment["policy_arn"], "arn:aws:iam::aws:policy/AmazonRedshiftDataFullAccess");
    assert_eq!(r["aws_iam_role_policy"]["task_agent_custom"]["name"], "agent-custom");
    // The task policy names the user's bucket and protects the agent's own secret by reference.
    let task_doc = &main["data"]["aws_iam_policy_document"]["task_agent_task"]["statement"];
    let text = task_doc.to_string();
    assert!(text.contains("arn:aws:s3:::dpc-landing-eu-central-1/*"), "{text}");
    let deny = task_doc.as_array().unwrap().iter().find(|s| s["sid"] == "ProtectAgentCredentials").unwrap();
    assert_eq!(deny["effect"], "Deny");
    assert_eq!(deny["resources"], json!(["${aws_secretsmanager_secret.credentials.arn}"]));
    // The agent runs as root with the reference's writable volumes.
    let td = &r["aws_ecs_task_definition"]["agent"];
    let containers: Value = serde_json::from_str(td["container_definitions"].as_str().unwrap()).unwrap();
    assert_eq!(containers[0]["user"], "0");
    assert_eq!(containers[0]["mountPoints"].as_array().unwrap().len(), 8);
    assert_eq!(td["volume"].as_array().unwrap().len(), 8);
}

// --- the script runner ----------------------------------------------------------

/// The script runner on the user's network: existing VPC, subnets and two
/// security groups (the agent's), no bucket, the agent's image in private ECR.
fn script_runner_on_existing_network() -> Stack {
    let text = format!(
        "{}enable_script_runner = true\nscript_runner_extension_library_bucket_arn = \"arn:aws:s3:::maia-libs\"\n",
        fixture("existing-all.tfvars")
    );
    stack_with(&text, &env_with_creds(), &Context::default())
}

/// The container definitions of the task definition `name`.
fn containers_of(main: &Value, name: &str) -> Vec<Value> {
    let td = &main["resource"]["aws_ecs_task_definition"][name];
    serde_json::from_str(td["container_definitions"].as_str().expect("container definitions")).unwrap()
}

#[test]
fn the_script_runner_is_exported_as_built() {
    let stack = offline(SCRIPT_RUNNER);
    let docs = terraform(&stack);
    let main = &docs["main.tf.json"];
    let r = &main["resource"];

    // Its own Cloud Map namespace, which both services join.
    let namespace = &r["aws_service_discovery_http_namespace"]["main"];
    assert_eq!(namespace["name"], "maia-service-connect");
    assert_eq!(namespace["tags"][OWNERSHIP_TAG], "maia");
    let namespace_arn = "${aws_service_discovery_http_namespace.main.arn}";

    // The runner's container: its SSH port named for Service Connect, its own
    // log group, its keys from its own secret, a writable root (see
    // checkov_exceptions).
    let runner_td = &r["aws_ecs_task_definition"]["script_runner"];
    assert_eq!(runner_td["family"], "maia-script-runner");
    assert_eq!((runner_td["cpu"].as_str(), runner_td["memory"].as_str()), (Some("2048"), Some("8192")));
    assert_eq!(runner_td["task_role_arn"], "${aws_iam_role.script_runner.arn}");
    assert_eq!(runner_td["execution_role_arn"], "${aws_iam_role.execution.arn}");
    let runner = containers_of(main, "script_runner");
    assert_eq!(runner.len(), 1);
    let runner = &runner[0];
    assert_eq!(runner["name"], "script-runner");
    assert_eq!(runner["portMappings"], json!([{"name": "ssh", "containerPort": 2222, "protocol": "tcp"}]));
    assert_eq!(
        runner["logConfiguration"]["options"]["awslogs-group"],
        "${aws_cloudwatch_log_group.script_runner.name}"
    );
    assert_eq!(runner["logConfiguration"]["options"]["awslogs-stream-prefix"], "script-runner");
    assert_eq!(
        runner["secrets"],
        json!([{
            "name": "RUNNER_AUTHORIZED_KEYS",
            "valueFrom": "${aws_secretsmanager_secret.runner_keypair.arn}:authorized_keys::"
        }])
    );
    assert_eq!(runner["readonlyRootFilesystem"], false);
    assert_eq!(r["aws_cloudwatch_log_group"]["script_runner"]["retention_in_days"], 14);
    // The agent's container serves nothing and keeps logging to its own group.
    let agent = &containers_of(main, "agent")[0];
    assert!(agent.get("portMappings").is_none(), "{agent}");
    assert_eq!(agent["logConfiguration"]["options"]["awslogs-group"], "${aws_cloudwatch_log_group.agent.name}");

    // The runner's service serves `script-runner:2222` in the namespace and is
    // steady before Terraform goes on.
    let runner_svc = &r["aws_ecs_service"]["script_runner"];
    assert_eq!(runner_svc["name"], "maia-script-runner");
    assert_eq!(runner_svc["task_definition"], "${aws_ecs_task_definition.script_runner.arn}");
    assert_eq!(
        runner_svc["service_connect_configuration"],
        json!([{
            "enabled": true,
            "namespace": namespace_arn,
            "service": [{"port_name": "ssh", "client_alias": [{"dns_name": "script-runner", "port": 2222}]}]
        }])
    );
    assert_eq!(runner_svc["wait_for_steady_state"], true);
    assert_eq!(
        runner_svc["network_configuration"][0]["security_groups"],
        json!(["${aws_security_group.script_runner.id}"])
    );
    assert_eq!(
        runner_svc["capacity_provider_strategy"],
        json!([{"capacity_provider": "FARGATE", "base": 0, "weight": 1}])
    );
    // The agent's service is a client only, and starts after the runner's.
    let agent_svc = &r["aws_ecs_service"]["agent"];
    assert_eq!(agent_svc["service_connect_configuration"], json!([{"enabled": true, "namespace": namespace_arn}]));
    let deps = agent_svc["depends_on"].as_array().expect("depends_on");
    assert!(deps.contains(&json!("aws_ecs_service.script_runner")), "{deps:?}");
    let runner_deps = runner_svc["depends_on"].as_array().expect("depends_on");
    assert!(
        !runner_deps.iter().any(|d| d.as_str().is_some_and(|d| d.starts_with("aws_ecs_service."))),
        "{runner_deps:?}"
    );
    // Every service the model wants steady is waited for.
    for res in stack.resources.iter().filter(|r| r.wait_for_steady_state) {
        assert_eq!(block(main, res)["wait_for_steady_state"], true, "{}", res.addr);
    }
    assert!(stack.get(addr::SCRIPT_RUNNER_SERVICE).is_some_and(|r| r.wait_for_steady_state));

    // SSH from the agent's security group only: a group, not a CIDR.
    let sg = &r["aws_security_group"]["script_runner"];
    assert_eq!(sg["vpc_id"], "${aws_vpc.main.id}");
    assert_eq!(
        sg["ingress"],
        json!([{
            "protocol": "tcp",
            "from_port": 2222,
            "to_port": 2222,
            "cidr_blocks": [],
            "ipv6_cidr_blocks": [],
            "prefix_list_ids": [],
            "security_groups": ["${aws_security_group.agent.id}"],
            "self": false,
            "description": null
        }])
    );
    assert_eq!(sg["egress"][0]["cidr_blocks"], json!(["0.0.0.0/0"]));
    assert_eq!(sg["egress"][0]["security_groups"], json!([]));

    // The keys: a secret of their own whose value is the variable.
    assert_eq!(r["aws_secretsmanager_secret"]["runner_keypair"]["name"], "maia-runner-keypair");
    let versions = &r["aws_secretsmanager_secret_version"];
    assert_eq!(
        versions["runner_keypair"],
        json!({"secret_id": "${aws_secretsmanager_secret.runner_keypair.id}", "secret_string": RUNNER_KEYS_SECRET_STRING})
    );
    assert_eq!(versions["credentials"]["secret_string"], CREDENTIALS_SECRET_STRING);
    let vars = docs["variables.tf.json"]["variable"].as_object().expect("variables");
    assert_eq!(vars.keys().collect::<Vec<_>>(), ["client_id", "client_secret", "runner_authorized_keys"]);
    let keys = &vars["runner_authorized_keys"];
    assert_eq!((keys["type"].as_str(), keys["sensitive"].as_bool()), (Some("string"), Some(true)));
    assert_eq!(keys["nullable"], false);
    assert!(keys.get("default").is_none(), "no default: {keys}");
    assert!(keys["description"].as_str().unwrap().contains("TF_VAR_runner_authorized_keys"), "{keys}");

    // The outputs name the agent's service, and the runner's separately.
    let outputs = &docs["outputs.tf.json"]["output"];
    assert_eq!(outputs["service_name"]["value"], "${aws_ecs_service.agent.name}");
    assert_eq!(outputs["task_definition_arn"]["value"], "${aws_ecs_task_definition.agent.arn}");
    assert_eq!(outputs["secret_arn"]["value"], "${aws_secretsmanager_secret.credentials.arn}");
    assert_eq!(outputs["security_group_ids"]["value"], json!(["${aws_security_group.agent.id}"]));
    assert_eq!(outputs["script_runner_service_name"]["value"], "${aws_ecs_service.script_runner.name}");
    assert_eq!(outputs["script_runner_log_group_name"]["value"], "${aws_cloudwatch_log_group.script_runner.name}");

    // Without the runner, none of it.
    let plain = terraform(&offline("new-vpc.tfvars"));
    let pr = &plain["main.tf.json"]["resource"];
    assert!(pr.get("aws_service_discovery_http_namespace").is_none());
    assert!(pr["aws_ecs_service"].get("script_runner").is_none());
    assert!(pr["aws_ecs_service"]["agent"].get("service_connect_configuration").is_none());
    assert!(pr["aws_secretsmanager_secret_version"].get("runner_keypair").is_none());
    assert!(plain["variables.tf.json"]["variable"].get("runner_authorized_keys").is_none());
    assert!(plain["outputs.tf.json"]["output"].get("script_runner_service_name").is_none());
}

#[test]
fn the_script_runner_admits_each_existing_agent_security_group() {
    let stack = script_runner_on_existing_network();
    let main = main_doc(&stack);
    let r = &main["resource"];
    // The user's groups stay theirs; the runner's group is new, in their VPC.
    assert_eq!(r["aws_security_group"].as_object().unwrap().keys().collect::<Vec<_>>(), ["script_runner"]);
    let sg = &r["aws_security_group"]["script_runner"];
    assert_eq!(sg["vpc_id"], "vpc-0123abcd");
    let ingress = sg["ingress"].as_array().expect("ingress");
    let sources: Vec<(&Value, &Value)> =
        ingress.iter().map(|rule| (&rule["security_groups"], &rule["cidr_blocks"])).collect();
    assert_eq!(
        sources,
        [(&json!(["sg-0c0c0c0c"]), &json!([])), (&json!(["sg-0d0d0d0d"]), &json!([]))],
        "one rule per group of the agent"
    );
    for rule in ingress {
        assert_eq!(
            (rule["protocol"].as_str(), rule["from_port"].as_u64(), rule["to_port"].as_u64()),
            (Some("tcp"), Some(2222), Some(2222))
        );
    }
    let svc = &r["aws_ecs_service"]["script_runner"];
    assert_eq!(svc["network_configuration"][0]["subnets"], json!(["subnet-0bbb2222", "subnet-0aaa1111"]));
    assert_eq!(svc["network_configuration"][0]["assign_public_ip"], false);
    // Only the user's bucket for extension libraries, by its ARN.
    let policy = main["data"]["aws_iam_policy_document"]["script_runner_script_runner"].to_string();
    assert!(policy.contains("\"arn:aws:s3:::maia-libs/*\""), "{policy}");
    assert!(all_text(&stack).contains("\"runner_authorized_keys\""));
    assert!(!all_text(&stack).contains(RUNNER_KEY_BLOB));
}

#[test]
fn checkov_script_runner() {
    // The runner on the network agentctl creates, and on the user's network
    // (the agent's existing groups, no public IP, no bucket).
    scan("script-runner", &offline(SCRIPT_RUNNER));
    scan("script-runner-existing", &script_runner_on_existing_network());
}
