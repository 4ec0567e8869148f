//! The Maia script runner (`enable_script_runner = true`): its settings, the
//! resources it adds and how they are wired, the secret that never shows, and
//! the newest reference module's example with the runner lines uncommented.

mod common;

use agentctl_core::config::CredentialsNeeded;
use agentctl_core::model::{addr, build, Context, ServiceConnectService, Spec, Stack};
use agentctl_core::plan::{plan_offline, render};
use common::*;

const ACCOUNT: &str = "123456789012";

fn ctx() -> Context {
    Context { aws_account_id: Some(ACCOUNT.into()), ..Context::default() }
}

fn stack_of(text: &str) -> Stack {
    build(&load_ok(text).config, &ctx())
}

fn runner(extra: &[(&str, &str)]) -> String {
    let mut vars = vec![("name", "\"maia\""), ("enable_script_runner", "true")];
    vars.extend_from_slice(extra);
    tfvars(&vars)
}

fn spec(stack: &Stack, a: agentctl_core::model::Address) -> &Spec {
    &stack.get(a).unwrap_or_else(|| panic!("{a} missing")).spec
}

#[test]
fn the_runner_is_built_as_the_reference_module_builds_it() {
    let s = stack_of(&runner(&[
        ("script_runner_size", "\"large\""),
        ("script_runner_desired_count", "2"),
        ("script_runner_extension_library_bucket_arn", "\"arn:aws:s3:::maia-libs\""),
        ("extension_library_location", "\"s3://maia-libs/python\""),
    ]));
    // The namespace, and the runner's service registering script-runner:2222 in it.
    let Spec::HttpNamespace(_) = spec(&s, addr::NAMESPACE) else { panic!() };
    assert_eq!(s.get(addr::NAMESPACE).unwrap().name, "maia-service-connect");
    let Spec::EcsService(svc) = spec(&s, addr::SCRIPT_RUNNER_SERVICE) else { panic!() };
    assert_eq!(s.get(addr::SCRIPT_RUNNER_SERVICE).unwrap().name, "maia-script-runner");
    assert_eq!(svc.desired_count, 2);
    let sc = svc.service_connect.as_ref().unwrap();
    assert_eq!(sc.namespace, "${http_namespace.main.arn}");
    assert_eq!(
        sc.services,
        [ServiceConnectService { port_name: "ssh".into(), dns_name: "script-runner".into(), port: 2222 }]
    );
    assert_eq!(svc.security_groups, ["${security_group.script_runner.id}"]);
    assert!(s.get(addr::SCRIPT_RUNNER_SERVICE).unwrap().wait_for_steady_state);

    // Its task: the image, size, the ssh port, the keys from their secret, its own logs.
    let Spec::TaskDefinition(td) = spec(&s, addr::SCRIPT_RUNNER_TASK_DEFINITION) else { panic!() };
    assert_eq!((td.family.as_str(), td.cpu, td.memory), ("maia-script-runner", 4096, 16384));
    assert_eq!(td.task_role_arn, format!("arn:aws:iam::{ACCOUNT}:role/maia-script-runner-role"));
    assert_eq!(td.execution_role_arn, format!("arn:aws:iam::{ACCOUNT}:role/maia-execution-role"));
    let c = &td.containers[0];
    assert_eq!(c.image, "public.ecr.aws/matillion/maia-script-runner:current");
    assert_eq!((c.port_mappings[0].name.as_str(), c.port_mappings[0].container_port), ("ssh", 2222));
    assert_eq!(c.secrets[0].name, "RUNNER_AUTHORIZED_KEYS");
    assert_eq!(c.secrets[0].value_from, "${secret.runner_keypair.arn}:authorized_keys::");
    assert_eq!(c.environment[0].name, "EXTENSION_LIBRARY_LOCATION");
    assert_eq!(c.log_options["awslogs-group"], "/ecs/maia-script-runner");

    // SSH from the agent's security group only; all egress.
    let Spec::SecurityGroup(sg) = spec(&s, addr::SCRIPT_RUNNER_SECURITY_GROUP) else { panic!() };
    assert_eq!(sg.ingress.len(), 1);
    assert_eq!((sg.ingress[0].protocol.as_str(), sg.ingress[0].ports.as_str()), ("tcp", "2222"));
    assert_eq!(sg.ingress[0].cidr, "${security_group.agent.id}");

    // The keys secret holds {"authorized_keys": ...}.
    let Spec::Secret(keys) = spec(&s, addr::RUNNER_KEYPAIR_SECRET) else { panic!() };
    assert_eq!(s.get(addr::RUNNER_KEYPAIR_SECRET).unwrap().name, "maia-runner-keypair");
    let value: serde_json::Value = serde_json::from_str(keys.value.as_ref().unwrap().expose()).unwrap();
    assert_eq!(value, serde_json::json!({ "authorized_keys": RUNNER_AUTHORIZED_KEYS }));

    // Its task role reads the extension library bucket and nothing else.
    let Spec::IamRole(role) = spec(&s, addr::SCRIPT_RUNNER_ROLE) else { panic!() };
    let doc = serde_json::to_string(&role.policies["script-runner"]).unwrap();
    assert!(doc.contains("\"arn:aws:s3:::maia-libs\"") && doc.contains("\"arn:aws:s3:::maia-libs/*\""), "{doc}");
    assert!(doc.contains("s3:GetObject") && doc.contains("s3:ListBucket") && !doc.contains("s3:Put"), "{doc}");

    // The execution role may read the keys and write the runner's logs.
    let Spec::IamRole(exec) = spec(&s, addr::EXECUTION_ROLE) else { panic!() };
    let doc = serde_json::to_string(&exec.policies["agent-execution"]).unwrap();
    assert!(doc.contains("secret:maia-runner-keypair-??????"), "{doc}");
    assert!(doc.contains("log-group:/ecs/maia-script-runner:*"), "{doc}");
    // The agent may not change the runner's keys, as it may not change its own credentials.
    let Spec::IamRole(task) = spec(&s, addr::TASK_ROLE) else { panic!() };
    let deny = serde_json::to_string(&task.policies["agent-task"]).unwrap();
    assert!(deny.contains("secret:maia-runner-keypair-??????"), "{deny}");

    // The agent joins the namespace as a client, once the runner is there.
    let agent = s.get(addr::SERVICE).unwrap();
    let Spec::EcsService(agent_svc) = &agent.spec else { panic!() };
    let client = agent_svc.service_connect.as_ref().unwrap();
    assert_eq!((client.namespace.as_str(), client.services.len()), ("${http_namespace.main.arn}", 0));
    assert!(agent.depends_on.contains(&addr::SCRIPT_RUNNER_SERVICE));
}

#[test]
fn without_the_runner_nothing_of_it_is_built_and_the_agent_is_in_no_namespace() {
    let s = stack_of(&tfvars(&[("name", "\"maia\"")]));
    for a in [
        addr::NAMESPACE,
        addr::SCRIPT_RUNNER_SERVICE,
        addr::SCRIPT_RUNNER_TASK_DEFINITION,
        addr::SCRIPT_RUNNER_SECURITY_GROUP,
        addr::SCRIPT_RUNNER_ROLE,
        addr::SCRIPT_RUNNER_LOG_GROUP,
        addr::RUNNER_KEYPAIR_SECRET,
    ] {
        assert!(s.get(a).is_none(), "{a}");
    }
    let Spec::EcsService(agent) = spec(&s, addr::SERVICE) else { panic!() };
    assert_eq!(agent.service_connect, None);
}

#[test]
fn each_existing_agent_security_group_may_reach_the_runner() {
    let s = stack_of(&runner(&[
        ("use_existing_vpc", "true"),
        ("vpc_id", "\"vpc-0a1b2c3d4e5f60718\""),
        ("use_existing_subnet", "true"),
        ("subnet_ids", "[\"subnet-0aaa1111\", \"subnet-0bbb2222\"]"),
        ("use_existing_security_group", "true"),
        ("security_group_ids", "[\"sg-0aaa1111\", \"sg-0bbb2222\"]"),
    ]));
    let Spec::SecurityGroup(sg) = spec(&s, addr::SCRIPT_RUNNER_SECURITY_GROUP) else { panic!() };
    let sources: Vec<&str> = sg.ingress.iter().map(|r| r.cidr.as_str()).collect();
    assert_eq!(sources, ["sg-0aaa1111", "sg-0bbb2222"]);
    assert_eq!(sg.vpc_id, "vpc-0a1b2c3d4e5f60718");
}

#[test]
fn the_keys_never_show_in_plans_debug_output_or_diagnostics() {
    let loaded = load_ok(&runner(&[]));
    let stack = build(&loaded.config, &ctx());
    let plan = plan_offline(&stack);
    let text = render::text(&plan, &render::TextOptions { verbose: true });
    let json = render::json(&plan).to_string();
    for shown in [text.as_str(), json.as_str(), &format!("{:?}", loaded.config), &format!("{stack:?}")] {
        assert!(!shown.contains(RUNNER_KEY_BLOB) && !shown.contains("keys-SENTINEL"), "the keys leaked:\n{shown}");
    }
    assert!(text.contains("secret.runner_keypair"), "{text}");
    // Written in the file, with a mistake elsewhere: the report masks the key.
    let keys_line = format!("\"{RUNNER_AUTHORIZED_KEYS}\"");
    let text = runner(&[("runner_authorized_keys", keys_line.as_str()), ("script_runner_size", "\"huge\"")]);
    let report = load_err_env(&text, &without_keys());
    assert!(!report.source.text.contains(RUNNER_KEY_BLOB), "{}", report.source.text);
    assert!(!describe(&report).contains(RUNNER_KEY_BLOB));
}

#[test]
fn tf_var_keys_beat_the_file() {
    let text = runner(&[("runner_authorized_keys", "\"ssh-ed25519 AAAA... placeholder@example\"")]);
    let loaded = load_ok(&text);
    let keys = loaded.config.script_runner.unwrap().authorized_keys.unwrap();
    assert_eq!(keys.expose(), RUNNER_AUTHORIZED_KEYS);
}

/// The credentials from the environment, the runner's keys not.
fn without_keys() -> agentctl_core::config::Env {
    agentctl_core::config::Env {
        tf_vars: env_with_creds().tf_vars.into_iter().filter(|(k, _)| k != "runner_authorized_keys").collect(),
        ..Default::default()
    }
}

#[test]
fn bad_runner_settings_are_refused_where_they_are_written() {
    let no_keys = without_keys();
    // No keys: at `enable_script_runner`, saying what to set.
    let text = runner(&[]);
    let report = load_err_env(&text, &no_keys);
    let d = single_error(&report);
    assert_eq!(d.message, "`runner_authorized_keys` is required with `enable_script_runner = true`");
    assert_eq!(d.line, Some(line_of(&text, "enable_script_runner")));
    assert!(d.help.unwrap().contains("TF_VAR_runner_authorized_keys"));

    for (var, value, message) in [
        ("runner_authorized_keys", "\"not a key\"", "`runner_authorized_keys` line 1 has no SSH key type"),
        (
            "runner_authorized_keys",
            "\"ssh-ed25519 AAAA... user@host\"",
            "`runner_authorized_keys` line 1: the ssh-ed25519 key is not followed by a valid base64 public key",
        ),
        ("script_runner_size", "\"huge\"", "`script_runner_size` = \"huge\" is not a runner size"),
        (
            "script_runner_extension_library_bucket_arn",
            "\"s3://maia-libs\"",
            "`script_runner_extension_library_bucket_arn` = \"s3://maia-libs\" is not an ARN",
        ),
        (
            "script_runner_extension_library_bucket_arn",
            "\"arn:aws:s3:::maia-libs/python\"",
            "`script_runner_extension_library_bucket_arn` = \"arn:aws:s3:::maia-libs/python\" names objects, not a bucket",
        ),
        (
            "script_runner_extension_library_bucket_arn",
            "\"arn:aws:iam::123456789012:role/x\"",
            "`script_runner_extension_library_bucket_arn` = \"arn:aws:iam::123456789012:role/x\" is not an S3 bucket ARN of partition aws",
        ),
        ("script_runner_image_url", "\"Not An Image\"", "`script_runner_image_url` = \"Not An Image\" is not a container image reference"),
        ("script_runner_log_retention_days", "4", "`script_runner_log_retention_days` = 4 is not a retention CloudWatch Logs accepts"),
        (
            "runner_keypair_secret_name",
            "\"maia-agent-credentials\"",
            "`runner_keypair_secret_name` = \"maia-agent-credentials\" is also the secret of the agent's OAuth credentials",
        ),
    ] {
        // Keys in the file (no TF_VAR), so a bad key line is the one read.
        let env = if var == "runner_authorized_keys" { &no_keys } else { &env_with_creds() };
        let text = runner(&[(var, value)]);
        let report = load_err_env(&text, env);
        let d = single_error(&report);
        assert!(d.message.starts_with(message), "{var} = {value}: {}", d.message);
        assert_eq!(d.line, Some(line_of(&text, var)), "{var}");
    }
}

#[test]
fn runner_settings_without_the_runner_are_reported_as_ignored() {
    let text = tfvars(&[("script_runner_size", "\"large\""), ("enable_script_runner", "false")]);
    let loaded = load_ok(&text);
    assert!(loaded.config.script_runner.is_none());
    let w = matching(&loaded.report, "`script_runner_size` configures the script runner");
    assert_eq!(w.len(), 1, "{}", describe(&loaded.report));
    assert_eq!(w[0].line, Some(line_of(&text, "script_runner_size")));
}

#[test]
fn commands_that_do_not_write_the_keys_do_not_ask_for_them() {
    let text = runner(&[]);
    let loaded = agentctl_core::config::load(
        agentctl_core::diagnostics::SourceFile::new("terraform.tfvars", text),
        &agentctl_core::config::Env::default(),
        CredentialsNeeded::No,
    )
    .unwrap();
    let r = loaded.config.script_runner.unwrap();
    assert!(r.authorized_keys.is_none());
    assert_eq!(r.keypair_secret_name, "maia-runner-keypair");
}

/// The newest reference module's example, its script runner lines uncommented
/// and its placeholders filled in: what users copying it today bring.
pub fn newest_reference_with_the_runner() -> String {
    let text = example("reference-newest.tfvars");
    let mut out = String::new();
    for line in text.lines() {
        let uncommented = line.strip_prefix("# ").filter(|l| {
            ["enable_script_runner", "script_runner_", "runner_keypair_secret_name"].iter().any(|v| l.starts_with(v))
        });
        out.push_str(uncommented.unwrap_or(line));
        out.push('\n');
    }
    out.replace("your-matillion-account-id", ACCOUNT_ID)
        .replace("your-agent-id", AGENT_ID)
        .replace("vpc-xxxxxxxxx", "vpc-0a1b2c3d4e5f60718")
        // The credentials come from TF_VAR_*, as agentctl recommends.
        .replace("client_id        = \"your-client-id\"\n", "")
        .replace("client_secret    = \"your-client-secret\"\n", "")
}

#[test]
fn the_newest_reference_example_with_the_runner_on_plans() {
    let text = newest_reference_with_the_runner();
    assert!(text.contains("\nenable_script_runner = true\n"), "{text}");
    let loaded = load_ok(&text);
    let r = loaded.config.script_runner.as_ref().unwrap();
    assert_eq!(r.image_url, "public.ecr.aws/matillion/maia-script-runner:latest");
    assert_eq!((r.cpu, r.memory, r.desired_count, r.log_retention_days), (1024, 4096, 1, 30));
    assert_eq!(r.keypair_secret_name, "my-agent-runner-keypair");
    assert_eq!(r.extension_library_bucket_arn.as_deref(), Some("arn:aws:s3:::my-extension-library-bucket"));
    let stack = build(&loaded.config, &ctx());
    let plan = plan_offline(&stack);
    assert!(plan.changes.iter().any(|c| c.addr == addr::SCRIPT_RUNNER_SERVICE));
}
