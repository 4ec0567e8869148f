//! doctor against networks built in moto, and cost from the command line.

mod support;

use support::{rt, BuiltNetwork, DefaultRoute, Network, World};

struct Net {
    vpc: String,
    subnets: Vec<String>,
    sg: String,
}

/// The doctor's test network (`10.9.0.0/16`, two subnets on a route table of
/// their own whose 0.0.0.0/0 goes where `route` says) and a security group with
/// the given egress (true: AWS's default all-out; false: SSH only).
fn build_net(w: &World, route: DefaultRoute, egress_443: bool) -> Net {
    rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&w.sdk().await);
        let BuiltNetwork { vpc, subnets } = Network::new(9).default_route(route).build(&ec2).await;
        let sg = ec2
            .create_security_group()
            .group_name("agents")
            .description("for the agent")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        let sg = sg.group_id().unwrap().to_owned();
        if !egress_443 {
            // Replace the default all-out rule by SSH only.
            let all = aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build();
            ec2.revoke_security_group_egress().group_id(&sg).ip_permissions(all).send().await.unwrap();
            let ssh = aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build();
            ec2.authorize_security_group_egress().group_id(&sg).ip_permissions(ssh).send().await.unwrap();
        }
        Net { vpc, subnets, sg }
    })
}

fn existing_config(w: &World, net: &Net, public_ip: bool, subnets: &[String]) {
    let list = subnets.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
    w.config(&format!(
        "use_existing_vpc = true\nvpc_id = \"{}\"\nuse_existing_subnet = true\nsubnet_ids = [{list}]\nuse_existing_security_group = true\nsecurity_group_ids = [\"{}\"]\nassign_public_ip = {public_ip}",
        net.vpc, net.sg
    ));
}

/// (exit code, check id -> (status, whole check as JSON))
fn doctor(w: &World) -> (i32, serde_json::Value) {
    let r = w.run(&["doctor", "-o", "json"]);
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
    (r.code, v)
}

fn check<'a>(v: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    v["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no check {id} in {v:#}"))
}

#[test]
fn public_subnets_with_an_internet_gateway_pass_and_need_a_public_ip() {
    let w = World::new("dpub");
    let net = build_net(&w, DefaultRoute::InternetGateway, true);
    existing_config(&w, &net, true, &net.subnets);
    let (code, v) = doctor(&w);
    assert_eq!(check(&v, "network.path_out")["status"], "pass", "{v:#}");
    assert_eq!(check(&v, "network.subnets")["status"], "pass", "{v:#}");
    assert_eq!(check(&v, "credentials")["status"], "pass");
    assert_eq!(code, 0, "{v:#}");
    existing_config(&w, &net, false, &net.subnets);
    let (code, v) = doctor(&w);
    assert_eq!(code, 1);
    let c = check(&v, "network.path_out");
    assert_eq!(c["status"], "fail");
    assert!(c["fix"].as_str().unwrap().contains("assign_public_ip"), "{c:#}");
}

#[test]
fn private_subnets_with_a_nat_gateway_pass() {
    let w = World::new("dnat");
    let net = build_net(&w, DefaultRoute::Nat, true);
    existing_config(&w, &net, false, &net.subnets);
    let (code, v) = doctor(&w);
    assert_eq!(check(&v, "network.path_out")["status"], "pass", "{v:#}");
    assert_eq!(code, 0, "{v:#}");
}

#[test]
fn private_subnets_without_a_route_out_fail_with_the_fix() {
    let w = World::new("dnone");
    let net = build_net(&w, DefaultRoute::Nowhere, true);
    existing_config(&w, &net, false, &net.subnets);
    let (code, v) = doctor(&w);
    assert_eq!(code, 1);
    let c = check(&v, "network.path_out");
    assert_eq!(c["status"], "fail");
    let fix = c["fix"].as_str().unwrap();
    assert!(fix.contains("NAT"), "{fix}");
    let evidence = c["evidence"].to_string();
    assert!(net.subnets.iter().any(|s| evidence.contains(s)), "the evidence names the subnets: {evidence}");
    // Text output says the same for people.
    let text = w.run(&["doctor"]);
    assert!(text.stdout.contains("[FAIL]") && text.stdout.contains("failed"), "{}", text.stdout);
}

#[test]
fn a_security_group_without_https_egress_fails() {
    let w = World::new("dsg");
    let net = build_net(&w, DefaultRoute::InternetGateway, false);
    existing_config(&w, &net, true, &net.subnets);
    let (code, v) = doctor(&w);
    assert_eq!(code, 1);
    let c = check(&v, "network.egress");
    assert_eq!(c["status"], "fail", "{v:#}");
    assert!(c["fix"].as_str().unwrap().contains("443") && c["fix"].as_str().unwrap().contains(&net.sg), "{c:#}");
}

#[test]
fn a_missing_subnet_fails() {
    let w = World::new("dmiss");
    let net = build_net(&w, DefaultRoute::InternetGateway, true);
    let subnets = vec![net.subnets[0].clone(), "subnet-0123456789abcdef0".to_owned()];
    existing_config(&w, &net, true, &subnets);
    let (code, v) = doctor(&w);
    assert_eq!(code, 1);
    let c = check(&v, "network.subnets");
    assert_eq!(c["status"], "fail", "{v:#}");
    assert!(c.to_string().contains("subnet-0123456789abcdef0"), "{c:#}");
}

#[test]
fn a_deployed_stack_reports_its_own_resources_healthy() {
    let w = World::new("dself");
    w.config("");
    w.run(&["apply", "--yes"]).expect_code(0);
    let (code, v) = doctor(&w);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(check(&v, "deployment.execution_role")["status"], "pass");
    assert_eq!(check(&v, "deployment.log_group")["status"], "pass");
    assert_eq!(check(&v, "deployment.recent_failures")["status"], "pass");
    rt().block_on(async {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&w.sdk().await);
        logs.delete_log_group().log_group_name("/ecs/dself-agent").send().await.unwrap();
    });
    let (code, v) = doctor(&w);
    assert_eq!(code, 1);
    assert_eq!(check(&v, "deployment.log_group")["status"], "fail");
}

#[test]
fn cost_matches_the_hand_computed_figure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("terraform.tfvars");
    // 2 tasks × 730 h × (1 vCPU × $0.04048 + 4 GB × $0.004445) = $85.06 in us-east-1.
    std::fs::write(
        &path,
        "region = \"us-east-1\"\naccount_id = \"4f1c2a9e-7d3b-4c8e-9a61-2b5d8e0f3c17\"\nagent_id = \"a7e3c9d1-0b2f-4e6a-8c5d-9f1b3e7a2d40\"\n",
    )
    .unwrap();
    let out = support::run_offline(dir.path(), &["cost", "-o", "json"], &support::AGENT_CREDENTIALS);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("85.06"), "{}", out.stdout);
}

#[test]
fn the_image_manifest_says_which_platforms_the_image_has() {
    let registry = support::FakeRegistry::start(&serde_json::json!({
        "matillion/etl-agent:multi": {"index": [["linux", "amd64"], ["linux", "arm64", "v8"]]},
        "matillion/etl-agent:amd64": {"single": ["linux", "amd64"]},
        "matillion/etl-agent:arm64": {"single": ["linux", "arm64"]},
        "matillion/etl-agent:arm-index": {"index": [["linux", "arm64"]]},
    }));
    let w = World::new("dimg");
    let cases = [
        ("multi", "pass", "image platforms (from its manifest): linux/amd64, linux/arm64/v8"),
        ("amd64", "pass", "image platforms (from its manifest): linux/amd64"),
        ("arm64", "fail", "the image is built for linux/arm64 only, not linux/amd64"),
        ("arm-index", "fail", "the image is built for linux/arm64 only, not linux/amd64"),
        ("no-such-tag", "fail", "the registry has no such image, so no task can pull it"),
    ];
    for (tag, status, says) in cases {
        w.config(&format!("image_url = \"127.0.0.1:{}/matillion/etl-agent:{tag}\"", registry.port));
        let (code, v) = doctor(&w);
        let c = check(&v, "image");
        assert_eq!(c["status"], status, "{tag}: {c:#}");
        assert!(c.to_string().contains(says), "{tag}: {c:#}");
        assert_eq!(code, if status == "fail" { 1 } else { 0 }, "{tag}: {v:#}");
    }
    // The registry is down: a warning, not a failure.
    let port = registry.port;
    drop(registry);
    w.config(&format!("image_url = \"127.0.0.1:{port}/matillion/etl-agent:multi\""));
    let (_, v) = doctor(&w);
    let c = check(&v, "image");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert!(c.to_string().contains("could not be read"), "{c:#}");
}

#[test]
fn against_an_emulator_no_registry_off_this_machine_is_asked() {
    // The default image lives on public.ecr.aws: with AWS's endpoint pointed at
    // moto, doctor must not reach out to it.
    let w = World::new("dnet");
    w.config("");
    let (_, v) = doctor(&w);
    let c = check(&v, "image");
    assert!(c.to_string().contains("public.ecr.aws is not asked"), "{c:#}");
}
