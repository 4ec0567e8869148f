//! The Maia script runner against moto: apply, plan (no changes), the day-2
//! commands with `--service script-runner`, turning it off, destroy; the
//! newest reference module's example with the runner lines uncommented.
//! moto keeps Cloud Map namespaces but drops an ECS service's Service Connect
//! settings: those are tested against recorded responses in agentctl-aws.

mod support;

use support::{rt, World, RUNNER_KEYS};

/// The names of the proxy log's requests, in the order they started.
fn requests(w: &World) -> Vec<String> {
    let stats = w.proxy.as_ref().expect("a proxy").stats();
    stats["log"].as_array().unwrap().iter().map(|e| e["op"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn the_runner_is_applied_operated_turned_off_and_destroyed() {
    let w = World::with_proxy("maia", |_| {});
    w.config("enable_script_runner = true\nscript_runner_size = \"medium\"");
    let applied = w.run(&["apply", "--yes"]);
    applied.expect_code(0);
    assert!(applied.stderr.contains("Apply complete: 21 created"), "{}", applied.stderr);

    // The agent's service was created after the runner's service was steady:
    // its CreateService follows the runner's and the polls of its rollout.
    let log = requests(&w);
    let creates: Vec<usize> =
        log.iter().enumerate().filter(|(_, op)| *op == "ecs.CreateService").map(|(i, _)| i).collect();
    assert_eq!(creates.len(), 2, "{log:?}");
    assert!(
        log[creates[0]..creates[1]].iter().any(|op| op == "ecs.DescribeServices"),
        "no wait for the runner between the two services: {log:?}"
    );
    rt().block_on(async {
        let cfg = w.sdk().await;
        let ecs = aws_sdk_ecs::Client::new(&cfg);
        let out = ecs
            .describe_services()
            .cluster("maia")
            .services("maia-script-runner")
            .services("maia-agent")
            .send()
            .await
            .unwrap();
        // (moto dates a service's deployments, not the service)
        let created = |name: &str| {
            let s = out.services().iter().find(|s| s.service_name() == Some(name)).unwrap();
            s.deployments().iter().filter_map(|d| d.created_at()).map(|t| t.as_nanos()).min().unwrap()
        };
        assert!(created("maia-script-runner") < created("maia-agent"));

        // The keys secret, read by the execution role, holds exactly the key.
        let sm = aws_sdk_secretsmanager::Client::new(&cfg);
        let v = sm.get_secret_value().secret_id("maia-runner-keypair").send().await.unwrap();
        let v: serde_json::Value = serde_json::from_str(v.secret_string().unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({ "authorized_keys": RUNNER_KEYS }));

        // SSH only from the agent's security group.
        let ec2 = aws_sdk_ec2::Client::new(&cfg);
        let groups = ec2.describe_security_groups().send().await.unwrap();
        let group = |name: &str| groups.security_groups().iter().find(|g| g.group_name() == Some(name)).unwrap();
        let agent = group("maia-agent").group_id().unwrap();
        let ingress = group("maia-script-runner").ip_permissions();
        assert_eq!(ingress.len(), 1, "{ingress:?}");
        assert_eq!((ingress[0].from_port(), ingress[0].to_port()), (Some(2222), Some(2222)));
        assert_eq!(ingress[0].user_id_group_pairs()[0].group_id(), Some(agent));
        assert!(ingress[0].ip_ranges().is_empty());

        // The namespace, and the runner's task definition with its ssh port.
        let cloudmap = aws_sdk_servicediscovery::Client::new(&cfg);
        let ns = cloudmap.list_namespaces().send().await.unwrap();
        assert!(ns.namespaces().iter().any(|n| n.name() == Some("maia-service-connect")));
        let td = ecs.describe_task_definition().task_definition("maia-script-runner").send().await.unwrap();
        let td = td.task_definition().unwrap();
        assert_eq!((td.cpu(), td.memory()), (Some("2048"), Some("8192")));
        let port = &td.container_definitions()[0].port_mappings()[0];
        assert_eq!((port.name(), port.container_port()), (Some("ssh"), Some(2222)));
    });
    w.expect_no_changes();
    let outputs = w.run(&["outputs", "-o", "json"]);
    let outputs: serde_json::Value = serde_json::from_str(&outputs.stdout).unwrap();
    assert_eq!(outputs["script_runner_endpoint"], "script-runner:2222");
    assert!(outputs["script_runner_service"].as_str().unwrap().ends_with("service/maia/maia-script-runner"));

    // Day-2 commands on the runner.
    let status = w.run(&["status", "--service", "script-runner"]);
    status.expect_code(0);
    assert!(status.stdout.contains("Service maia-script-runner in cluster maia"), "{}", status.stdout);
    w.run(&["tasks", "--service", "script-runner"]).expect_code(0);
    w.run(&["logs", "--service", "script-runner"]).expect_code(0);
    let scaled = w.run(&["scale", "--service", "script-runner", "2", "--no-wait"]);
    scaled.expect_code(0);
    assert!(scaled.stderr.contains("script_runner_desired_count = 1"), "{}", scaled.stderr);
    let drift = w.run(&["plan", "--detailed-exitcode"]);
    drift.expect_code(2);
    assert!(drift.stdout.contains("ecs_service.script_runner"), "{}", drift.stdout);
    w.run(&["apply", "--yes"]).expect_code(0);
    w.expect_no_changes();
    let doctor = w.run(&["doctor", "-o", "json"]);
    let checks: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
    let wiring =
        checks["checks"].as_array().unwrap().iter().find(|c| c["id"] == "script_runner.service_connect").unwrap();
    assert_eq!(wiring["status"], "pass", "{wiring:#}");

    // Off: all of it goes, the agent's service stays (updated, not replaced).
    let first_deployment = || {
        rt().block_on(async {
            let ecs = aws_sdk_ecs::Client::new(&w.sdk().await);
            let out = ecs.describe_services().cluster("maia").services("maia-agent").send().await.unwrap();
            let s = out.services().iter().find(|s| s.status() == Some("ACTIVE")).unwrap();
            s.deployments().iter().filter_map(|d| d.created_at()).map(|t| t.as_nanos()).min().unwrap()
        })
    };
    let before = first_deployment();
    w.config("");
    let plan = w.run(&["plan", "-o", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let action = |a: &str| {
        plan["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == a)
            .map(|r| r["action"].as_str().unwrap().to_owned())
    };
    assert_eq!(action("ecs_service.script_runner").as_deref(), Some("delete"));
    assert_eq!(action("http_namespace.main").as_deref(), Some("delete"));
    // Against AWS the agent leaves the namespace in an update (recorded
    // responses test it in agentctl-aws); moto drops Service Connect, so here it
    // shows no change. Never a replacement.
    assert!(matches!(action("ecs_service.agent").as_deref(), Some("update" | "no_change")), "{plan:#}");
    w.run(&["apply", "--yes"]).expect_code(0);
    assert_eq!(first_deployment(), before, "the agent's service was replaced");
    let left = support::owned_resources(&w);
    for gone in ["maia-script-runner", "maia-runner-keypair", "maia-service-connect"] {
        assert!(!left.iter().any(|r| r.contains(gone)), "{gone} left behind: {left:#?}");
    }
    w.expect_no_changes();

    w.run(&["destroy", "--yes", "--force-delete-secret"]).expect_code(0);
    assert_eq!(support::owned_resources(&w), Vec::<String>::new());
}

#[test]
fn without_the_runner_its_day2_flag_is_refused() {
    let w = World::new("plain");
    w.config("");
    let r = w.run(&["status", "--service", "script-runner"]);
    r.expect_code(3);
    assert!(r.stderr.contains("--service script-runner: the config does not enable the script runner"), "{}", r.stderr);
}

/// The newest reference module's `terraform.tfvars.example`, its script
/// runner lines uncommented and its placeholders replaced by real ids: what
/// users copying it today bring.
#[test]
fn the_newest_reference_example_with_the_runner_applies_and_destroys() {
    let w = World::new("my-agent");
    let vpc = rt().block_on(async {
        let cfg = w.sdk().await;
        let ec2 = aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&cfg).region(aws_sdk_ec2::config::Region::new("eu-west-1")).build(),
        );
        support::Network::new(3)
            .subnets(&[("10.3.0.0/24", "eu-west-1a"), ("10.3.1.0/24", "eu-west-1b")])
            .build(&ec2)
            .await
            .vpc
    });
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../agentctl-core/tests/fixtures/examples/reference-newest.tfvars"),
    )
    .unwrap();
    let mut text = String::new();
    for line in example.lines() {
        let runner_line = line
            .strip_prefix("# ")
            .filter(|l| ["enable_script_runner", "script_runner_", "runner_"].iter().any(|v| l.starts_with(v)));
        text.push_str(runner_line.unwrap_or(line));
        text.push('\n');
    }
    let text = text
        .replace("your-matillion-account-id", "4f1c2a9e-7d3b-4c8e-9a61-2b5d8e0f3c17")
        .replace("your-agent-id", "a7e3c9d1-0b2f-4e6a-8c5d-9f1b3e7a2d40")
        .replace("vpc-xxxxxxxxx", &vpc);
    assert!(text.contains("\nenable_script_runner = true\n") && text.contains("\nrunner_authorized_keys = "), "{text}");
    std::fs::write(w.dir.path().join("terraform.tfvars"), &text).unwrap();

    let plan = w.run(&["plan", "-o", "json"]);
    plan.expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let resource = |a: &str| plan["resources"].as_array().unwrap().iter().find(|r| r["address"] == a).cloned();
    // Its subnets go in the VPC's first free ranges.
    assert_eq!(resource("subnet.a").unwrap()["attributes"]["cidr_block"], "10.3.2.0/24");
    assert_eq!(resource("subnet.b").unwrap()["attributes"]["cidr_block"], "10.3.3.0/24");
    assert_eq!(resource("secret.runner_keypair").unwrap()["name"], "my-agent-runner-keypair");
    let applied = w.run(&["apply", "--yes"]);
    applied.expect_code(0);
    w.expect_no_changes();
    w.run(&["destroy", "--yes", "--force-delete-secret"]).expect_code(0);
    // Nothing is left: a plan would create everything again.
    let after = w.run(&["plan", "-o", "json"]);
    let after: serde_json::Value = serde_json::from_str(&after.stdout).unwrap();
    assert_eq!(after["summary"]["create"], plan["summary"]["create"], "{after:#}");
    assert_eq!(after["summary"]["no_change"], 0);
}
