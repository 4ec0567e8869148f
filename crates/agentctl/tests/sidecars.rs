//! The agent task's sidecars against moto: the guard and the metrics sidecar as
//! ECS holds them after apply, the guard's permissions as IAM holds them, and
//! each switch and image pin applied, planned and undone.

mod support;

use std::collections::BTreeMap;

use agentctl_core::model::GUARD_SCRIPT;
use agentctl_core::policy::{evaluate, Decision, Request};
use aws_sdk_ecs::types::ContainerDefinition;
use serde_json::Value;
use support::{rt, World};

fn containers(w: &World) -> Vec<ContainerDefinition> {
    rt().block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&w.sdk().await);
        let family = format!("{}-agent", w.name);
        let td = ecs.describe_task_definition().task_definition(family).send().await.unwrap();
        td.task_definition().unwrap().container_definitions().to_vec()
    })
}

fn named<'a>(containers: &'a [ContainerDefinition], name: &str) -> Option<&'a ContainerDefinition> {
    containers.iter().find(|c| c.name() == Some(name))
}

/// Whether the task role's inline policies allow `action` on one of this cluster's tasks.
fn may_protect_own_tasks(w: &World, action: &str) -> bool {
    let role = format!("{}-task-role", w.name);
    let policies: Vec<Value> = rt().block_on(async {
        let iam = aws_sdk_iam::Client::new(&w.sdk().await);
        let mut docs = vec![];
        for name in iam.list_role_policies().role_name(&role).send().await.unwrap().policy_names() {
            let doc = iam.get_role_policy().role_name(&role).policy_name(name).send().await.unwrap();
            docs.push(agentctl_aws::decode_policy(doc.policy_document()));
        }
        docs
    });
    let task = format!("arn:aws:ecs:us-east-1:123456789012:task/{}/0123456789abcdef0123456789abcdef", w.name);
    let context = BTreeMap::new();
    evaluate(policies.iter(), &Request { action, resource: &task, context: &context }) == Decision::Allowed
}

#[test]
fn the_guard_is_deployed_by_default_and_removed_with_its_permissions() {
    let w = World::new("grd");
    w.config("");
    w.apply();
    let all = containers(&w);
    assert_eq!(all.iter().map(|c| c.name().unwrap()).collect::<Vec<_>>(), ["agent", "guard"]);
    let guard = named(&all, "guard").unwrap();
    assert_eq!(guard.image(), Some("public.ecr.aws/amazonlinux/amazonlinux:2023.12.20260831.0"));
    assert_eq!(guard.essential(), Some(false));
    assert_eq!(guard.command(), ["sh", "-c", GUARD_SCRIPT], "the script as the model holds it");
    assert_eq!((guard.cpu(), guard.memory_reservation()), (16, Some(32)));
    assert_eq!(guard.user(), Some("65534"));
    assert_eq!(guard.readonly_root_filesystem(), Some(true));
    let dep = &guard.depends_on()[0];
    assert_eq!((dep.container_name(), dep.condition().as_str()), ("agent", "START"));
    let env: BTreeMap<&str, &str> =
        guard.environment().iter().map(|kv| (kv.name().unwrap(), kv.value().unwrap())).collect();
    assert_eq!(env["PROTECTION_MINUTES"], "60");
    assert_eq!(env["GUARD_INTERVAL_SECONDS"], "15");
    for action in ["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"] {
        assert!(may_protect_own_tasks(&w, action), "{action}");
    }
    // What ECS reads back (command, CPU, memory reservation) is what was asked.
    w.expect_no_changes();

    w.config("protect_running_pipelines = false\n");
    let plan = w.run(&["plan"]);
    plan.expect_code(0);
    assert!(plan.stdout.contains("task_definition.agent"), "{}", plan.stdout);
    w.apply();
    let all = containers(&w);
    assert_eq!(all.iter().map(|c| c.name().unwrap()).collect::<Vec<_>>(), ["agent"]);
    assert!(!may_protect_own_tasks(&w, "ecs:UpdateTaskProtection"));
    w.expect_no_changes();
}

#[test]
fn a_new_sidecar_image_pin_is_a_new_revision_and_round_trips() {
    let w = World::new("pin");
    w.config("metrics = true\n");
    w.apply();
    let all = containers(&w);
    let metrics = named(&all, "metrics").unwrap();
    assert_eq!(metrics.image(), Some("public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300071.0b1720"));
    assert_eq!((metrics.cpu(), metrics.memory_reservation()), (64, Some(128)));
    w.expect_no_changes();

    let newer = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300072.0b1766";
    w.config(&format!("metrics = true\nmetrics_image_url = \"{newer}\"\n"));
    let plan = w.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    let line = plan.stdout.lines().find(|l| l.contains(newer)).unwrap_or_else(|| panic!("{}", plan.stdout));
    assert!(line.contains("].image") && line.contains("1.300071.0b1720\" -> "), "{line}");
    w.apply();
    assert_eq!(named(&containers(&w), "metrics").unwrap().image(), Some(newer));
    w.expect_no_changes();
}
