//! The CLI without AWS: validate, offline plan, exit codes, and that the
//! credentials never show in any output.

mod support;

use std::path::PathBuf;

use support::{run_offline, CLIENT_ID, CLIENT_SECRET};

const CREDS: &[(&str, &str)] = &support::AGENT_CREDENTIALS;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Config files users already have, kept with agentctl-core's test fixtures.
fn user_examples() -> PathBuf {
    repo().join("crates/agentctl-core/tests/fixtures/examples")
}

/// The example config, with `extra` lines replacing assignments of the same name.
fn good_config(dir: &std::path::Path, extra: &str) {
    let base = std::fs::read_to_string(repo().join("examples/new-vpc.tfvars")).unwrap();
    let key = |l: &str| l.split('=').next().unwrap_or("").trim().to_owned();
    let overridden: Vec<String> = extra.lines().map(key).collect();
    let kept: Vec<&str> = base.lines().filter(|l| !l.contains('=') || !overridden.contains(&key(l))).collect();
    std::fs::write(dir.join("terraform.tfvars"), format!("{}\n{extra}\n", kept.join("\n"))).unwrap();
}

#[test]
fn seed_quickstart_fails_naming_each_trap_with_its_line() {
    let o = run_offline(&user_examples(), &["validate", "--no-color", "-c", "seed-quickstart.tfvars"], &[]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    for expected in [
        "[seed-quickstart.tfvars:8:21]", // matillion_region = "us-east-1"
        "is an AWS region name, not a Matillion region code",
        "[seed-quickstart.tfvars:13:22]", // vpc_id without use_existing_vpc
        "`vpc_id` is set but `use_existing_vpc` is false",
        "`subnet_ids` is set but `use_existing_subnet` is false",
        "`security_group_ids` is set but `use_existing_security_group` is false",
        "placeholder",
        "[seed-quickstart.tfvars:6:22]", // account_id placeholder
    ] {
        assert!(o.stderr.contains(expected), "missing {expected:?} in:\n{}", o.stderr);
    }
    // The secret in the file is a placeholder: reported, never echoed.
    assert!(o.stderr.contains("`client_secret` is a placeholder"));
    assert!(!o.stderr.contains("your-oauth-client-secret"));
}

#[test]
fn reference_example_fails_naming_each_real_problem() {
    let o =
        run_offline(&user_examples(), &["validate", "--no-color", "-c", "reference-example.tfvars", "-o", "json"], &[]);
    assert_eq!(o.code, 3);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let diags = v["diagnostics"].as_array().unwrap();
    let at = |needle: &str| {
        diags.iter().find(|d| d["message"].as_str().unwrap().contains(needle)).map(|d| d["line"].as_u64().unwrap())
    };
    assert_eq!(at("\"vpc-xxxxxxxxx\" is a placeholder"), Some(35));
    assert_eq!(at("`vpc_id` is set but `use_existing_vpc` is false"), Some(35));
    assert_eq!(at("\"subnet-yyyyyyyyy\" is a placeholder"), Some(38));
    assert_eq!(at("`assign_public_ip` = false"), Some(59));
    assert_eq!(at("`account_id` = \"your-matillion-account-id\""), Some(11));
    assert!(diags.iter().all(|d| d["file"] == "reference-example.tfvars"));
}

#[test]
fn a_corrected_config_validates_and_plans_every_resource_offline() {
    let dir = tempfile::tempdir().unwrap();
    good_config(dir.path(), "");
    let v = run_offline(dir.path(), &["validate"], CREDS);
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(v.stdout.contains("is valid: deployment \"data-insights\" in eu-west-1, 14 resources"), "{}", v.stdout);
    let p = run_offline(dir.path(), &["plan", "--offline"], CREDS);
    assert_eq!(p.code, 0, "{}", p.stderr);
    for name in [
        "data-insights-vpc",
        "data-insights-igw",
        "data-insights-subnet-a",
        "data-insights-subnet-b",
        "data-insights-public",
        "data-insights-agent-credentials",
        "data-insights-execution-role",
        "data-insights-task-role",
        "data-insights-staging-<aws-account-id>-eu-west-1",
        "/ecs/data-insights-agent",
        "ecs_cluster.main       data-insights  (create)",
        "task_definition.agent  data-insights-agent  (create)",
        "ecs_service.agent      data-insights-agent  (create)",
        "secret_string = (sensitive)",
        "Plan: 14 to create, 0 to update, 0 to replace, 0 to delete.",
    ] {
        assert!(p.stdout.contains(name), "offline plan lacks {name:?}:\n{}", p.stdout);
    }
    let j = run_offline(dir.path(), &["plan", "--offline", "-o", "json"], CREDS);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["summary"]["create"], 14);
    let service = v["resources"].as_array().unwrap().iter().find(|r| r["address"] == "ecs_service.agent").unwrap();
    assert_eq!(service["attributes"]["desired_count"], 2);
    assert_eq!(service["attributes"]["circuit_breaker_rollback"], true);
}

#[test]
fn credentials_never_appear_in_validate_or_plan_output() {
    let dir = tempfile::tempdir().unwrap();
    // Once from the environment, once written in the file (accepted, with a warning).
    good_config(dir.path(), "");
    for args in [
        &["validate"][..],
        &["validate", "-o", "json"],
        &["plan", "--offline"],
        &["plan", "--offline", "-v"],
        &["plan", "--offline", "-vvv"],
        &["plan", "--offline", "-o", "json"],
        &["plan", "--offline", "-o", "json", "-vvv"],
    ] {
        let o = run_offline(dir.path(), args, CREDS);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
    }
    good_config(dir.path(), &format!("client_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\""));
    let o = run_offline(dir.path(), &["validate", "--no-color"], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("`client_secret` is written in the config file") && o.stderr.contains("TF_VAR_client_secret"),
        "{}",
        o.stderr
    );
    for args in [&["plan", "--offline", "-vvv"][..], &["plan", "--offline", "-o", "json"], &["validate", "-o", "json"]]
    {
        assert_eq!(run_offline(dir.path(), args, &[]).code, 0);
    }
    // Invalid config: errors print, the values do not.
    good_config(dir.path(), &format!("client_secret = \"{CLIENT_SECRET}\"\nagent_cpu = 3"));
    let o = run_offline(dir.path(), &["plan", "--offline"], CREDS);
    assert_eq!(o.code, 3);
}

#[test]
fn invalid_config_is_exit_3_before_any_aws_call() {
    let dir = tempfile::tempdir().unwrap();
    good_config(dir.path(), "agent_memory = 3000\ndesired_cont = 2");
    // An unreachable endpoint: had agentctl called AWS, it would report a network error instead.
    for cmd in [&["plan"][..], &["apply", "--yes"], &["destroy", "--yes"], &["outputs"]] {
        let o = run_offline(dir.path(), cmd, CREDS);
        assert_eq!(o.code, 3, "{cmd:?}: {}", o.stderr);
        assert!(o.stderr.contains("nothing was sent to AWS"), "{}", o.stderr);
        assert!(
            o.stderr.contains("must be one of: 2048, 3072, 4096, 5120, 6144, 7168,")
                && o.stderr.contains("did you mean `desired_count`?"),
            "{}",
            o.stderr
        );
    }
}

#[test]
fn bad_agent_access_settings_are_exit_3_located_before_any_aws_call() {
    let dir = tempfile::tempdir().unwrap();
    good_config(
        dir.path(),
        "secrets_access = \"write\"\nsecret_names = [\"prod/*/db\"]\nstaging_buckets = [\"s3://landing\"]\n\
         task_role_policy_arns = [\"ReadOnlyAccess\"]\ntask_role_policy = \"{\\\"Version\\\": 1}\"\nagent_cpu = 2048\nrunner_cpu = 2048",
    );
    for cmd in [&["validate"][..], &["plan"], &["apply", "--yes"]] {
        let o = run_offline(dir.path(), cmd, CREDS);
        assert_eq!(o.code, 3, "{cmd:?}: {}", o.stderr);
        for expected in [
            "`secrets_access` = \"write\" is not one of",
            "`secret_names`: \"prod/*/db\" has `*` before its end",
            "`staging_buckets`: \"s3://landing\" is not an S3 bucket name",
            "`task_role_policy_arns`: \"ReadOnlyAccess\" is not the ARN of a managed policy",
            "`task_role_policy` is not a valid IAM policy",
            "`runner_cpu` and `agent_cpu` are two names of one setting",
        ] {
            assert!(o.stderr.contains(expected), "{cmd:?} lacks {expected:?}:\n{}", o.stderr);
        }
        // Each points at its line in the file.
        assert!(o.stderr.contains("terraform.tfvars:"), "{}", o.stderr);
    }
}

#[test]
fn usage_errors_are_exit_3_and_help_is_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run_offline(dir.path(), &["frobnicate"], &[]).code, 3);
    assert_eq!(run_offline(dir.path(), &["apply", "--parallelism", "0"], &[]).code, 3);
    let h = run_offline(dir.path(), &["--help"], &[]);
    assert_eq!(h.code, 0);
    assert!(h.stdout.contains("validate") && h.stdout.contains("destroy"));
    let missing = run_offline(dir.path(), &["validate"], &[]);
    assert_eq!(missing.code, 3);
    assert!(missing.stderr.contains("cannot read config file terraform.tfvars"), "{}", missing.stderr);
}

#[test]
fn only_commands_that_use_the_agent_credentials_ask_for_them() {
    let dir = tempfile::tempdir().unwrap();
    good_config(dir.path(), ""); // no client_id or client_secret in the file, none in the environment
    for args in [&["iam-policy"][..], &["cost"], &["export", "terraform", "--out", "tf"]] {
        let o = run_offline(dir.path(), args, &[]);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        assert!(!o.stderr.contains("client_id") && !o.stderr.contains("client_secret"), "{args:?}: {}", o.stderr);
    }
    // validate checks the whole config; plan compares the secret, apply writes it.
    for args in [&["validate"][..], &["plan", "--offline"], &["apply", "--yes"]] {
        let o = run_offline(dir.path(), args, &[]);
        assert_eq!(o.code, 3, "{args:?}: {}", o.stderr);
        assert!(
            o.stderr.contains("`client_id` is required") && o.stderr.contains("`client_secret` is required"),
            "{args:?}: {}",
            o.stderr
        );
    }
}

#[test]
fn duration_flags_share_one_grammar_and_bad_ones_are_usage_errors() {
    // No config here: a command whose flags parse stops at reading it.
    let dir = tempfile::tempdir().unwrap();
    let parses = |args: &[&str]| {
        let o = run_offline(dir.path(), args, &[]);
        assert_eq!(o.code, 3, "{args:?}: {}", o.stderr);
        o.stderr.contains("cannot read config file")
    };
    for args in [
        &["logs", "--since", "1d"][..],
        &["logs", "--since", "1h30m"],
        &["logs", "--since", "2026-11-27T10:00:00Z"],
        &["apply", "--timeout", "1d"],
        &["scale", "2", "--timeout", "1h30m"],
        &["redeploy", "--timeout", "900s"],
    ] {
        assert!(parses(args), "{args:?} should parse");
    }
    for args in [
        &["logs", "--since", "5é"][..],
        &["logs", "--since", "2026-13-01T00:00:00Z"],
        &["logs", "--since", "100000000d"],
        &["apply", "--timeout", "5é"],
        &["apply", "--timeout", "99999999999999999999s"],
        &["rollback", "--timeout", "500000000000y"],
    ] {
        let o = run_offline(dir.path(), args, &[]);
        assert_eq!(o.code, 3, "{args:?}: {}", o.stderr);
        assert!(
            o.stderr.contains(&format!("invalid value '{}'", args[args.len() - 1])) && o.stderr.contains("1h30m"),
            "{args:?} should be refused naming the accepted forms:\n{}",
            o.stderr
        );
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    }
}

#[test]
fn readme_configuration_table_shows_each_variable_with_the_schemas_type_and_default() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for var in agentctl_core::config::schema::VARIABLES {
        let prefix = format!("| `{}` |", var.name);
        let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with(&prefix)).collect();
        assert_eq!(rows.len(), 1, "README's configuration table should have one row for `{}`", var.name);
        let cells: Vec<&str> = rows[0].split(" | ").map(str::trim).collect();
        let default = match (var.default, var.sensitive) {
            (Some(text), _) => format!("`{text}`"),
            (None, false) => "required".to_owned(),
            (None, true) => "required, sensitive".to_owned(),
        };
        assert_eq!(
            (cells[1], cells[2]),
            (var.ty.name(), default.as_str()),
            "README row of `{}` (type, default) differs from the schema",
            var.name
        );
    }
}

#[test]
fn readme_documents_every_exit_code() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for code in 0..=6 {
        assert!(readme.contains(&format!("\n| {code} | ")), "README lacks exit code {code}");
    }
}

#[test]
fn validate_output_of_the_seed_quickstart_is_stable() {
    let o = run_offline(&user_examples(), &["validate", "--no-color", "-c", "seed-quickstart.tfvars"], &[]);
    insta::assert_snapshot!(o.stderr);
}

#[test]
fn export_terraform_writes_the_stack_without_credentials_and_identically_twice() {
    let dir = tempfile::tempdir().unwrap();
    good_config(dir.path(), &format!("client_secret = \"{CLIENT_SECRET}\""));
    let mut outputs = Vec::new();
    for out in ["tf-a", "tf-b"] {
        let o = run_offline(dir.path(), &["export", "terraform", "--out", out], CREDS);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(o.stdout.contains("main.tf.json"), "{}", o.stdout);
        let main = std::fs::read_to_string(dir.path().join(out).join("main.tf.json")).unwrap();
        let vars = std::fs::read_to_string(dir.path().join(out).join("variables.tf.json")).unwrap();
        for text in [&main, &vars] {
            assert!(!text.contains(CLIENT_ID) && !text.contains(CLIENT_SECRET), "credential in exported files");
        }
        assert!(main.contains("\"aws_ecs_service\"") && main.contains("data-insights-agent"));
        outputs.push(main);
    }
    assert_eq!(outputs[0], outputs[1], "export is byte-identical across runs");
}

#[test]
fn readme_documents_every_checkov_exception() {
    // The table itself, reasons and switches included, so the README never lags.
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let table = agentctl_core::export::checkov_exceptions::markdown();
    assert!(
        readme.contains(&table),
        "README's checkov exception table differs from the list; it should read:\n{table}"
    );
}

#[test]
fn a_policy_too_large_for_inline_comes_as_managed_policies_and_the_runner_keys_are_not_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    // The longest name the bucket allows, and the script runner: every ARN is long.
    std::fs::write(
        dir.path().join("terraform.tfvars"),
        "name = \"production-matillion-agent-eu\"\nregion = \"eu-west-1\"\naccount_id = \"4f1c2a9e-7d3b-4c8e-9a61-2b5d8e0f3c17\"\nagent_id = \"a7e3c9d1-0b2f-4e6a-8c5d-9f1b3e7a2d40\"\nenable_script_runner = true\n",
    )
    .unwrap();
    let whole = run_offline(dir.path(), &["iam-policy", "--account", "123456789012"], &[]);
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    assert!(whole.stderr.contains("run `agentctl iam-policy --managed`"), "{}", whole.stderr);
    let policy: serde_json::Value = serde_json::from_str(&whole.stdout).unwrap();
    let managed = run_offline(dir.path(), &["iam-policy", "--account", "123456789012", "--managed", "-o", "json"], &[]);
    assert_eq!(managed.code, 0, "{}", managed.stderr);
    let parts: Vec<serde_json::Value> = serde_json::from_str(&managed.stdout).unwrap();
    assert!(parts.len() >= 2, "{}", managed.stdout);
    let mut statements = Vec::new();
    for p in &parts {
        let size = p.to_string().chars().filter(|c| !c.is_whitespace()).count();
        assert!(size <= 6_144, "a part of {size} characters");
        statements.extend(p["Statement"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(&statements, policy["Statement"].as_array().unwrap());
    // No keys in the environment: export names the variable to set.
    let out = run_offline(dir.path(), &["export", "terraform", "--out", "tf"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.all().contains("set TF_VAR_runner_authorized_keys"), "{}", out.all());
    // validate checks the whole config: it asks for them.
    let v = run_offline(dir.path(), &["validate"], CREDS_WITHOUT_KEYS);
    assert_eq!(v.code, 3, "{}", v.stderr);
    assert!(
        v.stderr.contains("`runner_authorized_keys` is required with `enable_script_runner = true`"),
        "{}",
        v.stderr
    );
}

const CREDS_WITHOUT_KEYS: &[(&str, &str)] = &[CREDS[0], CREDS[1]];
