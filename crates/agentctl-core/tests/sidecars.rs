//! The agent task's sidecars as the model builds them: the guard (task
//! scale-in protection while pipelines run) and the CloudWatch agent (metrics),
//! their configuration checked against what their software accepts, and the
//! alarms on what they publish. The guard's script itself runs in tests/guard.rs.

mod common;

use std::collections::BTreeMap;

use agentctl_core::model::{
    addr, build, ContainerSpec, Context, Kind, Spec, Stack, TaskDefinitionSpec, GUARD_CONTAINER, GUARD_SCRIPT,
    METRICS_CONTAINER,
};
use agentctl_core::policy::{evaluate, Decision, Request};
use common::*;
use serde_json::Value;

const ACCOUNT: &str = "123456789012";

fn stack_of(vars: &[(&str, &str)]) -> Stack {
    let loaded = load_ok(&tfvars(&[&[("name", "\"acme\"")], vars].concat()));
    let zones = ["eu-west-1a".to_owned(), "eu-west-1b".to_owned()];
    build(
        &loaded.config,
        &Context {
            aws_account_id: Some(ACCOUNT.into()),
            availability_zones: Some(zones.to_vec()),
            ..Context::default()
        },
    )
}

fn task_definition(stack: &Stack) -> &TaskDefinitionSpec {
    match &stack.get(addr::TASK_DEFINITION).unwrap().spec {
        Spec::TaskDefinition(td) => td,
        other => panic!("{other:?}"),
    }
}

fn container<'a>(td: &'a TaskDefinitionSpec, name: &str) -> Option<&'a ContainerSpec> {
    td.containers.iter().find(|c| c.name == name)
}

fn env(c: &ContainerSpec) -> BTreeMap<&str, &str> {
    c.environment.iter().map(|kv| (kv.name.as_str(), kv.value.as_str())).collect()
}

fn task_role_decision(stack: &Stack, action: &str, resource: &str) -> Decision {
    let Spec::IamRole(role) = &stack.get(addr::TASK_ROLE).unwrap().spec else { panic!() };
    let context = BTreeMap::new();
    evaluate(role.policies.values(), &Request { action, resource, context: &context })
}

// --- the guard -------------------------------------------------------------------

#[test]
fn by_default_the_guard_runs_beside_the_agent_and_may_protect_only_its_own_tasks() {
    let s = stack_of(&[]);
    let td = task_definition(&s);
    let guard = container(td, GUARD_CONTAINER).expect("the guard is on by default");
    assert!(!guard.essential, "the guard can never stop the agent");
    assert_eq!(guard.depends_on.len(), 1);
    assert_eq!(
        (guard.depends_on[0].container_name.as_str(), guard.depends_on[0].condition.as_str()),
        ("agent", "START")
    );
    assert_eq!(guard.command, ["sh", "-c", GUARD_SCRIPT]);
    assert_eq!(
        env(guard),
        BTreeMap::from([
            ("AGENT_METRICS_URL", "http://localhost:8080/actuator/prometheus"),
            ("GUARD_INTERVAL_SECONDS", "15"),
            ("PROTECTION_MINUTES", "60"),
        ])
    );
    // Nothing to write, nothing to read but the two endpoints.
    assert!(guard.readonly_root_filesystem && guard.secrets.is_empty() && guard.mount_points.is_empty());
    assert_eq!(guard.user.as_deref(), Some("65534"), "not root");
    assert_eq!(guard.log_options["awslogs-stream-prefix"], "guard");
    assert_eq!(guard.log_options["awslogs-group"], "/ecs/acme-agent");
    // Its own small share, so the agent's is known.
    assert!(guard.cpu.is_some_and(|c| c <= 32) && guard.memory_reservation.is_some_and(|m| m <= 64));

    // The task role: the two task-protection actions on this cluster's tasks only.
    let own_task = format!("arn:aws:ecs:eu-west-1:{ACCOUNT}:task/acme/0123456789abcdef0123456789abcdef");
    for action in ["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"] {
        assert_eq!(task_role_decision(&s, action, &own_task), Decision::Allowed, "{action}");
        let other = format!("arn:aws:ecs:eu-west-1:{ACCOUNT}:task/other-cluster/0123456789abcdef0123456789abcdef");
        assert_ne!(task_role_decision(&s, action, &other), Decision::Allowed, "{action} on another cluster");
    }
    assert_ne!(task_role_decision(&s, "ecs:StopTask", &own_task), Decision::Allowed);
}

#[test]
fn turning_protection_off_removes_the_guard_and_its_permissions() {
    let s = stack_of(&[("protect_running_pipelines", "false")]);
    let td = task_definition(&s);
    assert_eq!(td.containers.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["agent"]);
    let own_task = format!("arn:aws:ecs:eu-west-1:{ACCOUNT}:task/acme/0123456789abcdef0123456789abcdef");
    assert_ne!(task_role_decision(&s, "ecs:UpdateTaskProtection", &own_task), Decision::Allowed);
}

#[test]
fn the_guard_script_is_posix_sh() {
    // No bash-isms a POSIX sh (dash, busybox) would refuse; tests/guard.rs runs
    // it with nothing but sh, curl and sleep on its PATH.
    for forbidden in ["[[", "function ", "local ", "$(<", "<<<", "declare ", "echo -e", "$'"] {
        assert!(!GUARD_SCRIPT.contains(forbidden), "the guard script uses `{forbidden}`");
    }
}

#[test]
fn spot_capacity_with_protection_is_warned_about() {
    let text = tfvars(&[("capacity", "{ fargate_base = 1, fargate_weight = 1, spot_weight = 3 }")]);
    let loaded = load_ok(&text);
    let spot = matching(&loaded.report, "FARGATE_SPOT");
    assert_eq!(spot.len(), 1, "{}", describe(&loaded.report));
    assert_eq!(spot[0].line, Some(line_of(&text, "capacity")));
    let quiet = load_ok(&tfvars(&[
        ("capacity", "{ fargate_base = 1, fargate_weight = 1, spot_weight = 3 }"),
        ("protect_running_pipelines", "false"),
    ]));
    assert!(matching(&quiet.report, "FARGATE_SPOT").is_empty(), "{}", describe(&quiet.report));
}

// --- the metrics sidecar -----------------------------------------------------------

fn metrics_config(stack: &Stack) -> (Value, Value) {
    let metrics = container(task_definition(stack), METRICS_CONTAINER).expect("metrics sidecar");
    let env = env(metrics);
    let cw: Value = serde_json::from_str(env["CW_CONFIG_CONTENT"]).expect("CW_CONFIG_CONTENT is JSON");
    let prometheus: Value =
        serde_yaml_ng::from_str(env["PROMETHEUS_CONFIG_CONTENT"]).expect("PROMETHEUS_CONFIG_CONTENT is YAML");
    (cw, prometheus)
}

#[test]
fn the_cloudwatch_agent_config_is_valid_against_its_published_schema() {
    let schema: Value =
        serde_json::from_str(include_str!("data/cloudwatch-agent-schema.json")).expect("vendored schema is JSON");
    let validator = jsonschema::draft4::new(&schema).expect("the vendored schema compiles");
    let (cw, _) = metrics_config(&stack_of(&[("metrics", "true")]));
    let errors: Vec<String> = validator.iter_errors(&cw).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{cw:#}");

    // The schema is strict where it matters: a misspelt key is refused.
    let mut wrong = cw.clone();
    wrong["logs"]["metrics_collected"]["prometheus"]["log_group"] = Value::from("x");
    assert!(!validator.is_valid(&wrong), "the schema must catch an unknown key");

    let prometheus = &cw["logs"]["metrics_collected"]["prometheus"];
    assert_eq!(prometheus["log_group_name"], "/ecs/acme-agent");
    assert_eq!(prometheus["prometheus_config_path"], "env:PROMETHEUS_CONFIG_CONTENT");
    let declaration = &prometheus["emf_processor"]["metric_declaration"][0];
    assert_eq!(prometheus["emf_processor"]["metric_namespace"], "Matillion/Agent");
    // The dimensions the scaling policy and the alarms query.
    assert_eq!(declaration["dimensions"], serde_json::json!([["ClusterName", "ServiceName"]]));
}

#[test]
fn the_prometheus_scrape_keeps_only_the_agents_own_series() {
    let (cw, prometheus) = metrics_config(&stack_of(&[("metrics", "true")]));
    let jobs = prometheus["scrape_configs"].as_array().expect("scrape_configs");
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job["job_name"], "agent");
    assert_eq!(job["metrics_path"], "/actuator/prometheus");
    let target = &job["static_configs"][0];
    assert_eq!(target["targets"], serde_json::json!(["localhost:8080"]));
    assert_eq!(target["labels"], serde_json::json!({"ClusterName": "acme", "ServiceName": "acme-agent"}));
    // Everything but app_* is dropped before it becomes a log event.
    assert_eq!(
        job["metric_relabel_configs"],
        serde_json::json!([{"source_labels": ["__name__"], "regex": "app_.*", "action": "keep"}])
    );
    // Every series the EMF declaration selects survives the relabelling.
    let keep = |name: &str| name.starts_with("app_");
    let selectors = cw["logs"]["metrics_collected"]["prometheus"]["emf_processor"]["metric_declaration"][0]
        ["metric_selectors"]
        .as_array()
        .unwrap();
    for s in selectors {
        let name = s.as_str().unwrap().trim_start_matches('^').trim_end_matches('$');
        assert!(keep(name), "{name} is selected but dropped by the scrape");
    }
}

#[test]
fn sidecar_images_are_pinned_and_a_new_pin_is_a_new_revision() {
    let s = stack_of(&[("metrics", "true")]);
    for c in &task_definition(&s).containers[1..] {
        let (_, tag) = c.image.rsplit_once(':').expect("a tag");
        assert!(tag != "latest" && tag.starts_with(|ch: char| ch.is_ascii_digit()), "{}: {}", c.name, c.image);
    }
}

// --- alarms on what the sidecar publishes ---------------------------------------------

fn alarm_keys(stack: &Stack) -> Vec<&str> {
    stack.resources.iter().filter(|r| r.addr.kind == Kind::Alarm).map(|r| r.addr.key).collect()
}

#[test]
fn alarms_that_fire_on_no_tasks_exist_only_where_the_service_always_runs_one() {
    let always = stack_of(&[("metrics", "true"), ("alarms", "{}")]);
    assert_eq!(
        alarm_keys(&always),
        ["cpu-high", "memory-high", "tasks-below-desired", "agent-saturated", "agent-not-running"]
    );

    // desired_count = 0, an autoscaling minimum of 0, or a schedule that allows
    // 0 tasks (the README's evening schedule): no task is not an outage.
    let scaled = "{ min = 1, max = 4, cpu_target = 70 }";
    let evening = "[{ name = \"evening\", schedule = \"cron(0 20 * * ? *)\", min = 0, max = 1 }]";
    for vars in [
        vec![("desired_count", "0")],
        vec![("autoscaling", "{ min = 0, max = 4, cpu_target = 70 }")],
        vec![("autoscaling", scaled), ("schedules", evening)],
    ] {
        let s = stack_of(&[&[("metrics", "true"), ("alarms", "{}")][..], &vars].concat());
        assert_eq!(alarm_keys(&s), ["cpu-high", "memory-high", "agent-saturated"], "{vars:?}");
    }
}

#[test]
fn the_terraform_export_renders_the_guard_and_its_permissions() {
    let text = |vars: &[(&str, &str)]| -> String {
        agentctl_core::export::terraform_files(&stack_of(vars)).into_values().collect()
    };
    let on = text(&[]);
    for action in ["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"] {
        assert!(on.contains(action), "{action} not exported");
    }
    assert!(on.contains("\\\"name\\\":\\\"guard\\\""), "no guard container in the export");
    // The script's own `${...}` stay shell, not Terraform interpolation.
    assert!(on.contains("$${GUARD_INTERVAL_SECONDS:-15}"), "unescaped shell expansion");
    let off = text(&[("protect_running_pipelines", "false")]);
    assert!(!off.contains("ecs:UpdateTaskProtection") && !off.contains("GUARD_INTERVAL_SECONDS"));
}
