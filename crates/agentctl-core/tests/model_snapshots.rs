//! The stack model for three representative configs: a JSON snapshot of the
//! offline plan, and plain assertions on the facts that matter.

mod common;

use agentctl_core::config::Config;
use agentctl_core::model::{addr, build, Address, Context, Kind, Resource, Spec, Stack, OWNERSHIP_TAG};
use agentctl_core::plan::{plan_offline, render};
use common::*;
use serde_json::Value;

const AWS_ACCOUNT: &str = "123456789012";

/// The account and the zones AWS would report for the config's region.
fn ctx_for(c: &Config) -> Context {
    let zones = ["a", "b", "c"].iter().map(|z| format!("{}{z}", c.region)).collect();
    Context { aws_account_id: Some(AWS_ACCOUNT.into()), availability_zones: Some(zones), ..Context::default() }
}

fn config(fixture_file: &str) -> Config {
    let loaded = load_ok(&fixture(fixture_file));
    assert!(loaded.report.diagnostics.is_empty(), "{fixture_file}: {}", describe(&loaded.report));
    loaded.config
}

fn stack(fixture_file: &str) -> Stack {
    let c = config(fixture_file);
    build(&c, &ctx_for(&c))
}

fn addresses(stack: &Stack) -> Vec<String> {
    stack.resources.iter().map(|r| r.addr.to_string()).collect()
}

fn get(stack: &Stack, a: Address) -> &Resource {
    stack.get(a).unwrap_or_else(|| panic!("{a} missing from {:?}", addresses(stack)))
}

fn task_definition(stack: &Stack) -> &agentctl_core::model::TaskDefinitionSpec {
    match &get(stack, addr::TASK_DEFINITION).spec {
        Spec::TaskDefinition(t) => t,
        other => panic!("{other:?}"),
    }
}

fn service(stack: &Stack) -> &agentctl_core::model::ServiceSpec {
    match &get(stack, addr::SERVICE).spec {
        Spec::EcsService(s) => s,
        other => panic!("{other:?}"),
    }
}

fn role(stack: &Stack, a: Address) -> &agentctl_core::model::RoleSpec {
    match &get(stack, a).spec {
        Spec::IamRole(r) => r,
        other => panic!("{other:?}"),
    }
}

fn env_of(stack: &Stack) -> Vec<(String, String)> {
    task_definition(stack).containers[0].environment.iter().map(|kv| (kv.name.clone(), kv.value.clone())).collect()
}

fn level_of(levels: &[Vec<Address>], a: Address) -> usize {
    levels.iter().position(|l| l.contains(&a)).unwrap_or_else(|| panic!("{a} in no level"))
}

// --- snapshots --------------------------------------------------------------------

#[test]
fn new_vpc_offline_plan_json() {
    let s = stack("new-vpc.tfvars");
    insta::assert_json_snapshot!("new_vpc_plan_json", render::json(&plan_offline(&s)));
}

#[test]
fn existing_vpc_offline_plan_json() {
    let s = stack("existing-vpc.tfvars");
    insta::assert_json_snapshot!("existing_vpc_plan_json", render::json(&plan_offline(&s)));
}

#[test]
fn existing_network_offline_plan_json() {
    let s = stack("existing-all.tfvars");
    insta::assert_json_snapshot!("existing_network_plan_json", render::json(&plan_offline(&s)));
}

// --- resources per network mode ---------------------------------------------------

#[test]
fn new_vpc_builds_the_whole_network() {
    let s = stack("new-vpc.tfvars");
    assert_eq!(
        addresses(&s),
        [
            "vpc.main",
            "internet_gateway.main",
            "subnet.a",
            "subnet.b",
            "route_table.public",
            "security_group.agent",
            "secret.credentials",
            "iam_role.execution",
            "iam_role.task",
            "s3_bucket.staging",
            "log_group.agent",
            "ecs_cluster.main",
            "task_definition.agent",
            "ecs_service.agent",
        ]
    );
    assert_eq!(s.existing.vpc_id, None);
    assert!(s.existing.subnet_ids.is_empty());
    assert!(s.existing.security_group_ids.is_empty());

    let Spec::Vpc(vpc) = &get(&s, addr::VPC).spec else { panic!() };
    assert_eq!(vpc.cidr_block, "10.0.0.0/16");
    assert!(vpc.enable_dns_support && vpc.enable_dns_hostnames);

    let subnets: Vec<_> = [addr::SUBNET_A, addr::SUBNET_B]
        .into_iter()
        .map(|a| match &get(&s, a).spec {
            Spec::Subnet(sn) => (sn.cidr_block.clone(), sn.availability_zone.clone(), sn.vpc_id.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(subnets[0].0, "10.0.0.0/24");
    assert_eq!(subnets[1].0, "10.0.1.0/24");
    assert_ne!(subnets[0].1, subnets[1].1, "two different AZs");
    assert!(subnets.iter().all(|s| s.1.starts_with("eu-west-1")));
    assert!(subnets.iter().all(|s| s.2 == "${vpc.main.id}"));

    let Spec::RouteTable(rt) = &get(&s, addr::ROUTE_TABLE).spec else { panic!() };
    assert_eq!(rt.routes.len(), 1);
    assert_eq!(rt.routes[0].destination, "0.0.0.0/0");
    assert_eq!(rt.routes[0].gateway_id, "${internet_gateway.main.id}");
    assert_eq!(rt.subnet_ids, ["${subnet.a.id}", "${subnet.b.id}"]);

    let Spec::SecurityGroup(sg) = &get(&s, addr::SECURITY_GROUP).spec else { panic!() };
    assert!(sg.ingress.is_empty(), "the agent serves nothing");
    assert_eq!(sg.egress.len(), 1);
    assert_eq!(sg.vpc_id, "${vpc.main.id}");

    let svc = service(&s);
    assert_eq!(svc.subnets, ["${subnet.a.id}", "${subnet.b.id}"]);
    assert_eq!(svc.security_groups, ["${security_group.agent.id}"]);
    assert!(svc.assign_public_ip);
}

#[test]
fn existing_vpc_builds_only_subnets_and_the_group() {
    let s = stack("existing-vpc.tfvars");
    let addrs = addresses(&s);
    for absent in ["vpc.main", "internet_gateway.main", "route_table.public"] {
        assert!(!addrs.contains(&absent.to_owned()), "{absent} in {addrs:?}");
    }
    for present in ["subnet.a", "subnet.b", "security_group.agent", "s3_bucket.staging"] {
        assert!(addrs.contains(&present.to_owned()), "{present} not in {addrs:?}");
    }
    assert_eq!(s.existing.vpc_id.as_deref(), Some("vpc-0a1b2c3d4e5f60718"));
    assert!(s.existing.subnet_ids.is_empty());

    for a in [addr::SUBNET_A, addr::SUBNET_B] {
        let r = get(&s, a);
        let Spec::Subnet(sn) = &r.spec else { panic!() };
        assert_eq!(sn.vpc_id, "vpc-0a1b2c3d4e5f60718");
        assert!(r.depends_on.is_empty(), "the VPC exists: {:?}", r.depends_on);
    }
    let cidrs: Vec<_> = [addr::SUBNET_A, addr::SUBNET_B]
        .into_iter()
        .map(|a| match &get(&s, a).spec {
            Spec::Subnet(sn) => sn.cidr_block.clone(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(cidrs, ["10.20.0.0/24", "10.20.1.0/24"]);

    let Spec::SecurityGroup(sg) = &get(&s, addr::SECURITY_GROUP).spec else { panic!() };
    assert_eq!(sg.vpc_id, "vpc-0a1b2c3d4e5f60718");
    let svc = service(&s);
    assert_eq!(svc.security_groups, ["${security_group.agent.id}"]);
    assert!(!svc.assign_public_ip);

    // runner_size medium, storage, retention.
    let td = task_definition(&s);
    assert_eq!((td.cpu, td.memory, td.ephemeral_storage_gib), (2048, 8192, Some(50)));
    let Spec::LogGroup(lg) = &get(&s, addr::LOG_GROUP).spec else { panic!() };
    assert_eq!(lg.retention_in_days, Some(90));
}

#[test]
fn existing_network_builds_no_network() {
    let s = stack("existing-all.tfvars");
    assert_eq!(
        addresses(&s),
        [
            "secret.credentials",
            "iam_role.execution",
            "iam_role.task",
            "log_group.agent",
            "ecs_cluster.main",
            "task_definition.agent",
            "ecs_service.agent",
        ],
        "no VPC, IGW, route table, subnets, security group or bucket"
    );
    assert_eq!(s.existing.vpc_id.as_deref(), Some("vpc-0123abcd"));
    assert_eq!(s.existing.subnet_ids, ["subnet-0bbb2222", "subnet-0aaa1111"]);
    assert_eq!(s.existing.security_group_ids, ["sg-0c0c0c0c", "sg-0d0d0d0d"]);

    let svc = service(&s);
    let mut subnets = svc.subnets.clone();
    subnets.sort();
    assert_eq!(subnets, ["subnet-0aaa1111", "subnet-0bbb2222"]);
    let mut groups = svc.security_groups.clone();
    groups.sort();
    assert_eq!(groups, ["sg-0c0c0c0c", "sg-0d0d0d0d"]);
    assert!(!svc.assign_public_ip);
    assert_eq!(svc.desired_count, 1);
    assert_eq!(
        get(&s, addr::SERVICE).depends_on,
        [addr::CLUSTER, addr::TASK_DEFINITION],
        "nothing of the network to wait for"
    );

    // retention 0 = never expire.
    let Spec::LogGroup(lg) = &get(&s, addr::LOG_GROUP).spec else { panic!() };
    assert_eq!(lg.retention_in_days, None);

    // No bucket of ours: the task role's S3 statements name the user's bucket only.
    let task = &role(&s, addr::TASK_ROLE).policies["agent-task"];
    let buckets: Vec<_> = allowed(task)
        .into_iter()
        .filter(|(a, _)| a.starts_with("s3:") && a != "s3:ListAllMyBuckets")
        .map(|(_, r)| r.as_str().unwrap().to_owned())
        .collect();
    assert!(!buckets.is_empty(), "{task}");
    assert!(buckets.iter().all(|b| b.starts_with("arn:aws:s3:::dpc-landing-eu-central-1")), "{buckets:?}");
}

// --- facts every config shares ----------------------------------------------------

const ALL: [&str; 3] = ["new-vpc.tfvars", "existing-vpc.tfvars", "existing-all.tfvars"];

#[test]
fn every_resource_carries_the_ownership_tag() {
    for file in ALL {
        let c = config(file);
        let s = build(&c, &ctx_for(&c));
        assert_eq!(s.deployment, c.name);
        for r in &s.resources {
            assert_eq!(r.tags.get(OWNERSHIP_TAG).map(String::as_str), Some(c.name.as_str()), "{file}: {}", r.addr);
            for (k, v) in &c.tags {
                assert_eq!(r.tags.get(k), Some(v), "{file}: user tag {k} on {}", r.addr);
            }
            // Network resources have no name of their own: the Name tag is theirs.
            let network = matches!(
                r.addr.kind,
                Kind::Vpc | Kind::InternetGateway | Kind::Subnet | Kind::RouteTable | Kind::SecurityGroup
            );
            assert_eq!(
                r.tags.get("Name").map(String::as_str),
                network.then_some(r.name.as_str()),
                "{file}: {}",
                r.addr
            );
        }
    }
    let s = stack("new-vpc.tfvars");
    assert_eq!(get(&s, addr::CLUSTER).tags["team"], "data-platform");
}

#[test]
fn names_are_deterministic() {
    let s = stack("new-vpc.tfvars");
    let name = |a| get(&s, a).name.as_str();
    assert_eq!(name(addr::CLUSTER), "analytics");
    assert_eq!(name(addr::SERVICE), "analytics-agent");
    assert_eq!(name(addr::TASK_DEFINITION), "analytics-agent");
    assert_eq!(name(addr::EXECUTION_ROLE), "analytics-execution-role");
    assert_eq!(name(addr::TASK_ROLE), "analytics-task-role");
    assert_eq!(name(addr::BUCKET), "analytics-staging-123456789012-eu-west-1");
    assert_eq!(name(addr::LOG_GROUP), "/ecs/analytics-agent");
    assert_eq!(name(addr::SECRET), "analytics-agent-credentials");
    assert_eq!(name(addr::VPC), "analytics-vpc");
    assert_eq!(task_definition(&s).family, "analytics-agent");
    assert_eq!(service(&s).cluster, "analytics");
    assert_eq!(task_definition(&s).execution_role_arn, "arn:aws:iam::123456789012:role/analytics-execution-role");
    assert_eq!(task_definition(&s).task_role_arn, "arn:aws:iam::123456789012:role/analytics-task-role");

    // Same input, same output; offline, the account is a visible placeholder.
    let c = config("new-vpc.tfvars");
    let again = build(&c, &ctx_for(&c));
    assert_eq!(render::json(&plan_offline(&s)), render::json(&plan_offline(&again)));
    let offline = build(&c, &Context::default());
    assert_eq!(get(&offline, addr::BUCKET).name, "analytics-staging-<aws-account-id>-eu-west-1");
}

#[test]
fn container_environment_has_the_agent_settings() {
    let s = stack("new-vpc.tfvars");
    assert_eq!(
        env_of(&s),
        [
            ("ACCOUNT_ID", ACCOUNT_ID),
            ("AGENT_ID", AGENT_ID),
            ("CLOUD_PROVIDER", "AWS"),
            ("EXPORT_LOGS", "true"),
            ("MATILLION_REGION", "eu1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
        "optional values are left out when empty"
    );

    let s = stack("existing-vpc.tfvars");
    let env = env_of(&s);
    let value = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(value("MATILLION_ENV"), Some("staging"));
    assert_eq!(value("MATILLION_REGION"), Some("us1"));
    assert_eq!(value("PROXY_HTTP"), Some("http://proxy.internal:3128"));
    assert_eq!(value("PROXY_HTTPS"), Some("http://proxy.internal:3128"));
    assert_eq!(value("PROXY_EXCLUDES"), Some("169.254.169.254,.amazonaws.com"));
    assert_eq!(value("CUSTOM_CERT_LOCATION"), None);
    assert_eq!(value("EXTENSION_LIBRARY_LOCATION"), None);
    let mut names: Vec<_> = env.iter().map(|(n, _)| n.clone()).collect();
    let listed = names.clone();
    names.sort();
    assert_eq!(names, listed, "sorted by name");

    for file in ALL {
        let env = env_of(&stack(file));
        assert!(env.iter().all(|(_, v)| !v.is_empty()), "{file}: {env:?}");
        for (k, v) in [("CLOUD_PROVIDER", "AWS"), ("EXPORT_LOGS", "true")] {
            assert!(env.contains(&(k.into(), v.into())), "{file}: {env:?}");
        }
    }
}

#[test]
fn credentials_come_from_the_secret_by_reference() {
    for file in ALL {
        let s = stack(file);
        let c = &task_definition(&s).containers[0];
        let secrets: Vec<_> = c.secrets.iter().map(|r| (r.name.as_str(), r.value_from.as_str())).collect();
        assert_eq!(
            secrets,
            [
                ("OAUTH_CLIENT_ID", "${secret.credentials.arn}:client_id::"),
                ("OAUTH_CLIENT_SECRET", "${secret.credentials.arn}:client_secret::"),
            ],
            "{file}"
        );
        // The JSON key ECS expects is `valueFrom`.
        let json = serde_json::to_value(&c.secrets[0]).unwrap();
        assert!(json.get("valueFrom").is_some(), "{json}");
        // No credential in the plain environment.
        assert!(c.environment.iter().all(|kv| !kv.value.contains("SENTINEL")));
        // The secret itself holds both values, as JSON.
        let Spec::Secret(secret) = &get(&s, addr::SECRET).spec else { panic!() };
        let value: Value = serde_json::from_str(secret.value.as_ref().unwrap().expose()).unwrap();
        assert_eq!(value["client_id"], CLIENT_ID);
        assert_eq!(value["client_secret"], CLIENT_SECRET);
    }
}

#[test]
fn task_definition_is_locked_down() {
    for file in ALL {
        let s = stack(file);
        let td = task_definition(&s);
        assert_eq!(td.network_mode, "awsvpc");
        assert_eq!(td.requires_compatibilities, ["FARGATE"]);
        assert_eq!((td.operating_system_family.as_str(), td.cpu_architecture.as_str()), ("LINUX", "X86_64"));
        let c = &td.containers[0];
        assert_eq!(c.name, "agent", "{file}: the agent comes first");
        // The rest are sidecars: they can never stop the agent, take a known
        // share of the task and run a pinned image.
        for side in &td.containers[1..] {
            assert!(!side.essential, "{file}: {}", side.name);
            assert_eq!(side.depends_on.len(), 1, "{file}: {}", side.name);
            assert_eq!(
                (side.depends_on[0].container_name.as_str(), side.depends_on[0].condition.as_str()),
                ("agent", "START")
            );
            assert!(side.memory_reservation.is_some() && side.cpu.is_some(), "{file}: {}", side.name);
            let tag = side.image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
            assert!(
                tag.chars().next().is_some_and(|c| c.is_ascii_digit()),
                "{file}: {} runs {}",
                side.name,
                side.image
            );
        }
        let reserved: u32 = td.containers[1..].iter().filter_map(|c| c.memory_reservation).sum();
        assert!(reserved * 8 <= td.memory, "{file}: the sidecars take {reserved} of {} MiB", td.memory);
        assert!(c.readonly_root_filesystem, "{file}");
        assert!(c.essential);
        let mut paths: Vec<_> = c.mount_points.iter().map(|m| m.container_path.as_str()).collect();
        paths.sort();
        // The reference module's writable paths (and /var/tmp), as root: the
        // empty volumes Fargate mounts there are root's.
        assert_eq!(
            paths,
            [
                "/home",
                "/home/agentuser/api_profiles",
                "/root/.cache",
                "/tmp",
                "/usr/lib/pythonLibs",
                "/usr/local/custom-certs",
                "/usr/local/drivers",
                "/var/tmp"
            ],
            "{file}"
        );
        assert_eq!(c.user.as_deref(), Some("0"), "{file}");
        // Every mount has a volume, every volume a mount.
        let mut mounted: Vec<_> = c.mount_points.iter().map(|m| m.source_volume.clone()).collect();
        mounted.sort();
        let mut volumes = td.volumes.clone();
        volumes.sort();
        assert_eq!(mounted, volumes, "{file}");
        assert_eq!(c.log_driver, "awslogs");
        assert_eq!(c.log_options["awslogs-group"], get(&s, addr::LOG_GROUP).name);
        assert_eq!(c.log_options["awslogs-region"], s.region);
        assert!(c.stop_timeout <= 120);

        let svc = service(&s);
        assert!(svc.circuit_breaker_rollback);
        assert_eq!(svc.capacity_provider_strategy.len(), 1);
        assert_eq!(svc.capacity_provider_strategy[0].provider, "FARGATE");
        assert_eq!(svc.task_definition, "${task_definition.agent.arn}");
        assert_eq!(svc.minimum_healthy_percent, 100);
    }
}

/// Every (action, resource) pair the policy's Allow statements name.
fn allowed(policy: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for st in policy["Statement"].as_array().unwrap().iter().filter(|st| st["Effect"] == "Allow") {
        let actions = match &st["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
            other => panic!("{other}"),
        };
        for a in actions {
            out.push((a, st["Resource"].clone()));
        }
    }
    out
}

#[test]
fn iam_is_least_privilege() {
    for file in ALL {
        let s = stack(file);
        let region = s.region.clone();
        for a in [addr::EXECUTION_ROLE, addr::TASK_ROLE] {
            let r = role(&s, a);
            let trust = &r.assume_role_policy;
            let statements = trust["Statement"].as_array().unwrap();
            assert_eq!(statements.len(), 1, "{file} {a}: {trust}");
            let st = &statements[0];
            assert_eq!(st["Effect"], "Allow");
            assert_eq!(st["Action"], "sts:AssumeRole");
            assert_eq!(
                st["Principal"],
                serde_json::json!({"Service": "ecs-tasks.amazonaws.com"}),
                "{file} {a}: only ECS tasks, no EC2"
            );
            assert_eq!(st["Condition"]["StringEquals"]["aws:SourceAccount"], AWS_ACCOUNT);
            assert_eq!(st["Condition"]["ArnLike"]["aws:SourceArn"], format!("arn:aws:ecs:{region}:{AWS_ACCOUNT}:*"));
            assert_eq!(r.policies.len(), 1, "inline policy only");
        }

        let exec = &role(&s, addr::EXECUTION_ROLE).policies["agent-execution"];
        for (action, resource) in allowed(exec) {
            assert!(!action.contains('*'), "{file}: wildcard action {action} in {exec}");
            if resource == "*" {
                // The only action without resource-level permissions.
                assert_eq!(action, "ecr:GetAuthorizationToken", "{file}: {exec}");
            }
            let lower = action.to_ascii_lowercase();
            assert!(!lower.contains("put") || action == "logs:PutLogEvents", "{file}: unexpected write {action}");
        }
        let exec_actions: Vec<_> = allowed(exec).into_iter().map(|(a, _)| a).collect();
        assert!(exec_actions.contains(&"secretsmanager:GetSecretValue".to_owned()));
        assert!(!exec_actions.iter().any(|a| a.starts_with("s3:")), "{exec_actions:?}");
        let secret_resource = allowed(exec).into_iter().find(|(a, _)| a == "secretsmanager:GetSecretValue").unwrap().1;
        assert_eq!(
            secret_resource,
            format!("arn:aws:secretsmanager:{region}:{AWS_ACCOUNT}:secret:{}-??????", get(&s, addr::SECRET).name),
            "{file}: the one secret"
        );
        let log_resource = allowed(exec).into_iter().find(|(a, _)| a == "logs:PutLogEvents").unwrap().1;
        assert_eq!(
            log_resource,
            format!("arn:aws:logs:{region}:{AWS_ACCOUNT}:log-group:{}:*", get(&s, addr::LOG_GROUP).name),
            "{file}: the one log group"
        );

        let task = &role(&s, addr::TASK_ROLE).policies["agent-task"];
        for (action, resource) in allowed(task) {
            assert!(!action.contains('*'), "{file}: {action}");
            // Only the two list calls AWS does not scope by resource.
            if resource == "*" {
                assert!(
                    ["s3:ListAllMyBuckets", "secretsmanager:ListSecrets"].contains(&action.as_str()),
                    "{file}: {action} on everything"
                );
            }
        }
    }
}

#[test]
fn private_ecr_image_gets_pull_permission_public_does_not() {
    let s = stack("existing-all.tfvars");
    let exec = &role(&s, addr::EXECUTION_ROLE).policies["agent-execution"];
    let pull: Vec<_> = allowed(exec).into_iter().filter(|(a, _)| a == "ecr:BatchGetImage").collect();
    assert_eq!(pull.len(), 1, "{exec}");
    assert_eq!(pull[0].1, "arn:aws:ecr:eu-central-1:123456789012:repository/mirror/etl-agent");
    let s = stack("new-vpc.tfvars");
    let exec = &role(&s, addr::EXECUTION_ROLE).policies["agent-execution"];
    assert!(!exec.to_string().contains("ecr:"), "{exec}");
}

#[test]
fn bucket_is_private_encrypted_and_tls_only_for_the_task_role() {
    let s = stack("new-vpc.tfvars");
    let r = get(&s, addr::BUCKET);
    let Spec::S3Bucket(b) = &r.spec else { panic!() };
    assert!(b.block_public_access);
    assert!(!b.encryption.is_empty());
    let st = &b.policy["Statement"][0];
    assert_eq!(st["Effect"], "Deny");
    assert_eq!(st["Condition"]["Bool"]["aws:SecureTransport"], "false");
    let arn = format!("arn:aws:s3:::{}", r.name);
    assert_eq!(st["Resource"], serde_json::json!([arn, format!("{arn}/*")]));

    let task = &role(&s, addr::TASK_ROLE).policies["agent-task"];
    let resources: Vec<_> = allowed(task)
        .into_iter()
        .filter(|(a, _)| a.starts_with("s3:") && a != "s3:ListAllMyBuckets")
        .map(|(_, r)| r)
        .collect();
    assert!(!resources.is_empty());
    assert!(resources.iter().all(|r| r == &arn || r == &format!("{arn}/*")), "{resources:?}");
    // The reference granted the bucket to the execution role: we don't.
    let exec = &role(&s, addr::EXECUTION_ROLE).policies["agent-execution"];
    assert!(!exec.to_string().contains("s3"), "{exec}");
}

#[test]
fn levels_follow_dependencies() {
    let s = stack("new-vpc.tfvars");
    let levels = s.levels();
    let l = |a| level_of(&levels, a);
    assert_eq!(l(addr::VPC), 0);
    assert!(l(addr::VPC) < l(addr::SUBNET_A));
    assert!(l(addr::VPC) < l(addr::SUBNET_B));
    assert!(l(addr::VPC) < l(addr::IGW));
    assert!(l(addr::SUBNET_A) < l(addr::ROUTE_TABLE));
    assert!(l(addr::IGW) < l(addr::ROUTE_TABLE));
    // The route table is associated with both subnets, so it waits for them.
    for dep in [addr::VPC, addr::IGW, addr::SUBNET_A, addr::SUBNET_B] {
        assert!(get(&s, addr::ROUTE_TABLE).depends_on.contains(&dep), "route table needs {dep}");
    }
    assert!(l(addr::VPC) < l(addr::SECURITY_GROUP));
    for dep in [addr::SECRET, addr::EXECUTION_ROLE, addr::TASK_ROLE, addr::LOG_GROUP] {
        assert!(l(dep) < l(addr::TASK_DEFINITION), "{dep}");
    }
    for dep in [addr::TASK_DEFINITION, addr::CLUSTER, addr::ROUTE_TABLE, addr::SECURITY_GROUP, addr::BUCKET] {
        assert!(l(dep) < l(addr::SERVICE), "{dep}");
    }
    // Independent resources share the first level, so apply creates them at once.
    for a in
        [addr::VPC, addr::SECRET, addr::EXECUTION_ROLE, addr::TASK_ROLE, addr::BUCKET, addr::LOG_GROUP, addr::CLUSTER]
    {
        assert_eq!(l(a), 0, "{a}");
    }
    assert_eq!(levels.len(), 4, "{levels:?}");
    // Every resource is in exactly one level, and depends only on earlier ones.
    let total: usize = levels.iter().map(Vec::len).sum();
    assert_eq!(total, s.resources.len());
    for r in &s.resources {
        for d in &r.depends_on {
            assert!(l(*d) < l(r.addr), "{} before {}", d, r.addr);
        }
    }

    // Existing network: the service waits only for the task definition and cluster.
    let s = stack("existing-all.tfvars");
    let levels = s.levels();
    assert_eq!(levels.len(), 3, "{levels:?}");
    assert_eq!(level_of(&levels, addr::SERVICE), 2);
}

#[test]
fn dependents_are_the_direct_ones() {
    let s = stack("new-vpc.tfvars");
    let d: Vec<_> = s.dependents(addr::VPC).into_iter().map(|a| a.to_string()).collect();
    assert_eq!(d, ["internet_gateway.main", "subnet.a", "subnet.b", "route_table.public", "security_group.agent"]);
    let d: Vec<_> = s.dependents(addr::TASK_DEFINITION).into_iter().map(|a| a.to_string()).collect();
    assert_eq!(d, ["ecs_service.agent"]);
}

#[test]
fn hardening_switches_shape_the_stack() {
    let c = load_ok(&fixture("hardened.tfvars")).config;
    let stack = build(&c, &ctx_for(&c));
    let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let flow = stack.get(addr::FLOW_LOG).expect("flow log");
    assert_eq!(flow.depends_on, vec![addr::VPC, addr::FLOW_LOG_GROUP, addr::FLOW_LOG_ROLE]);
    let Spec::FlowLog(f) = &flow.spec else { panic!() };
    assert_eq!(f.log_group_name, "/vpc/vault-flow-logs");
    assert_eq!(f.deliver_logs_role_arn, "arn:aws:iam::123456789012:role/vault-flow-logs-role");
    let Spec::IamRole(role) = &stack.get(addr::FLOW_LOG_ROLE).unwrap().spec else { panic!() };
    assert_eq!(role.assume_role_policy["Statement"][0]["Principal"]["Service"], "vpc-flow-logs.amazonaws.com");
    let delivery = role.policies["flow-logs-delivery"].to_string();
    assert!(delivery.contains("log-group:/vpc/vault-flow-logs") && !delivery.contains("\"*\""), "{delivery}");
    for a in [addr::LOG_GROUP, addr::FLOW_LOG_GROUP] {
        let Spec::LogGroup(l) = &stack.get(a).unwrap().spec else { panic!() };
        assert_eq!((l.retention_in_days, l.kms_key_id.as_deref()), (Some(365), Some(key)), "{a}");
    }
    let Spec::Secret(s) = &stack.get(addr::SECRET).unwrap().spec else { panic!() };
    assert_eq!(s.kms_key_id.as_deref(), Some(key));
    let Spec::S3Bucket(b) = &stack.get(addr::BUCKET).unwrap().spec else { panic!() };
    assert_eq!(
        (b.encryption.as_str(), b.kms_key_id.as_deref(), b.bucket_key, b.versioning),
        ("aws:kms", Some(key), true, true)
    );
    let l = b.lifecycle.as_ref().unwrap();
    assert_eq!(
        (l.abort_incomplete_upload_days, l.expiration_days, l.noncurrent_expiration_days),
        (7, Some(90), Some(30))
    );
    assert_eq!(
        b.access_logs.as_ref().map(|a| (a.bucket.as_str(), a.prefix.as_str())),
        Some(("acme-s3-access-logs", "vault-staging-123456789012-eu-west-1/"))
    );
    // The key is usable only through the service that needs it.
    let policy = |a| match &stack.get(a).unwrap().spec {
        Spec::IamRole(r) => r.policies.values().next().unwrap().to_string(),
        _ => panic!(),
    };
    let exec = policy(addr::EXECUTION_ROLE);
    assert!(
        exec.contains(key)
            && exec.contains("secretsmanager.eu-west-1.amazonaws.com")
            && !exec.contains("GenerateDataKey"),
        "{exec}"
    );
    let task = policy(addr::TASK_ROLE);
    assert!(
        task.contains(key) && task.contains("s3.eu-west-1.amazonaws.com") && task.contains("kms:GenerateDataKey"),
        "{task}"
    );
}

#[test]
fn without_switches_no_key_no_flow_logs_and_the_default_lifecycle_rule() {
    let stack = stack("new-vpc.tfvars");
    assert!(!stack.resources.iter().any(|r| r.addr.kind == Kind::FlowLog || r.name.contains("flow-logs")));
    let Spec::S3Bucket(b) = &stack.get(addr::BUCKET).unwrap().spec else { panic!() };
    assert_eq!((b.encryption.as_str(), b.kms_key_id.as_deref(), b.versioning), ("AES256", None, false));
    let l = b.lifecycle.as_ref().unwrap();
    assert_eq!((l.abort_incomplete_upload_days, l.expiration_days, l.noncurrent_expiration_days), (7, None, Some(30)));
    assert!(!stack.resources.iter().any(|r| serde_json::to_string(&r.spec).unwrap().contains("arn:aws:kms")));
}
