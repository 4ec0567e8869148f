//! Migration from Matillion's reference Terraform module (README: "Migrating from
//! the reference Terraform module"): a stack built the way that module builds it
//! (salted names, two security groups, its roles and secret, cluster, service)
//! stays untouched while agentctl deploys beside it in its VPC and subnets with
//! the same agent credentials, and destroy removes only agentctl's resources.

mod support;

use support::{rt, BuiltNetwork, DefaultRoute, Network, World, CLIENT_ID, CLIENT_SECRET, REGION};

/// The module's random_string salt: six letters and digits.
const SALT: &str = "Xy7k2Q";

/// What the reference module built (ids AWS gave).
struct Reference {
    id: String,
    vpc: String,
    subnets: Vec<String>,
    security_groups: Vec<String>,
}

/// The module's var.tags, merged into every resource it makes.
const TEAM: (&str, &str) = ("team", "data");

fn tag(k: &str, v: &str) -> aws_sdk_ec2::types::Tag {
    aws_sdk_ec2::types::Tag::builder().key(k).value(v).build()
}

fn tags(kind: aws_sdk_ec2::types::ResourceType, name: Option<&str>) -> aws_sdk_ec2::types::TagSpecification {
    // The module merges var.tags into every resource, plus `Name` on most.
    let mut b = aws_sdk_ec2::types::TagSpecification::builder().resource_type(kind).tags(tag(TEAM.0, TEAM.1));
    if let Some(n) = name {
        b = b.tags(tag("Name", n));
    }
    b.build()
}

/// Builds the stack as agent/aws/ecs/main.tf and its modules (ecs, iam,
/// secerts-manager) of matillion-public/deployment-library name and shape it.
fn build_reference(w: &World) -> Reference {
    let id = format!("{}-{SALT}", w.name);
    rt().block_on(async {
        use aws_sdk_ec2::types::ResourceType;
        let cfg = w.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&cfg);
        // Network: VPC, IGW, public route table, two subnets, two security groups.
        let BuiltNetwork { vpc, subnets } = Network::new(0)
            .subnets(&[("10.0.0.0/24", "us-east-1b"), ("10.0.1.0/24", "us-east-1a")])
            .named(&id)
            .tag(TEAM.0, TEAM.1)
            .default_route(DefaultRoute::InternetGateway)
            .public_ip_on_launch()
            .build(&ec2)
            .await;
        let mut security_groups = Vec::new();
        for (name, description, name_tag) in [
            (format!("{id}-ecs-sg"), "Security group for ECS tasks", true),
            (format!("{id}-matillion-agent-security-group"), "Allow http to client host", false),
        ] {
            let sg = ec2
                .create_security_group()
                .group_name(&name)
                .description(description)
                .vpc_id(&vpc)
                .tag_specifications(tags(ResourceType::SecurityGroup, name_tag.then_some(name.as_str())))
                .send()
                .await
                .unwrap();
            security_groups.push(sg.group_id().unwrap().to_owned());
        }

        // Secret: NAME-SALT-agent-secret holding the same JSON agentctl writes.
        let sm = aws_sdk_secretsmanager::Client::new(&cfg);
        let value = serde_json::json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}).to_string();
        let secret = sm.create_secret().name(format!("{id}-agent-secret")).secret_string(value).send().await.unwrap();
        let secret_arn = secret.arn().unwrap().to_owned();

        // Roles: the over-broad ones the module makes.
        let iam = aws_sdk_iam::Client::new(&cfg);
        let trust = |services: &[&str]| {
            serde_json::json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": services}, "Action": ["sts:AssumeRole"]}]})
            .to_string()
        };
        let task_role = format!("{id}-matillion-ecs-task-role");
        let exec_role = format!("{id}-task-execution-role");
        iam.create_role()
            .role_name(&task_role)
            .assume_role_policy_document(trust(&["ecs-tasks.amazonaws.com", "ec2.amazonaws.com"]))
            .send()
            .await
            .unwrap();
        for arn in ["arn:aws:iam::aws:policy/SecretsManagerReadWrite", "arn:aws:iam::aws:policy/CloudWatchFullAccess"] {
            iam.attach_role_policy().role_name(&task_role).policy_arn(arn).send().await.unwrap();
        }
        let s3_all = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["s3:*"], "Resource": "*"}]});
        iam.put_role_policy()
            .role_name(&task_role)
            .policy_name("matillion_etl_agent_role")
            .policy_document(s3_all.to_string())
            .send()
            .await
            .unwrap();
        let profile = format!("{id}-matillion-ecs-task-instance-profile");
        iam.create_instance_profile().instance_profile_name(&profile).path("/").send().await.unwrap();
        iam.add_role_to_instance_profile().instance_profile_name(&profile).role_name(&task_role).send().await.unwrap();
        iam.create_role()
            .role_name(&exec_role)
            .assume_role_policy_document(trust(&["ecs-tasks.amazonaws.com"]))
            .send()
            .await
            .unwrap();
        iam.attach_role_policy()
            .role_name(&exec_role)
            .policy_arn("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
            .send()
            .await
            .unwrap();
        let read_secret = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [secret_arn]}]});
        iam.put_role_policy()
            .role_name(&exec_role)
            .policy_name("GetETLAgentSecretValue")
            .policy_document(read_secret.to_string())
            .send()
            .await
            .unwrap();

        // Bucket (lower-cased, with the module's spelling), log group, cluster,
        // task definition and service.
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cfg).force_path_style(true).build());
        s3.create_bucket().bucket(format!("{id}-stagging-bucket").to_lowercase()).send().await.unwrap();
        let logs = aws_sdk_cloudwatchlogs::Client::new(&cfg);
        let group = format!("/ecs/{id}-task");
        logs.create_log_group().log_group_name(&group).send().await.unwrap();
        logs.put_retention_policy().log_group_name(&group).retention_in_days(30).send().await.unwrap();
        let ecs = aws_sdk_ecs::Client::new(&cfg);
        use aws_sdk_ecs::types as e;
        let ecs_tag = |k: &str, v: &str| e::Tag::builder().key(k).value(v).build();
        ecs.create_cluster()
            .cluster_name(format!("{id}-cluster"))
            .settings(
                e::ClusterSetting::builder().name(e::ClusterSettingName::ContainerInsights).value("enabled").build(),
            )
            .tags(ecs_tag(TEAM.0, TEAM.1))
            .tags(ecs_tag("Name", &format!("{id}-cluster")))
            .send()
            .await
            .unwrap();
        let container = e::ContainerDefinition::builder()
            .name(format!("{id}-task-definition"))
            .image("public.ecr.aws/matillion/etl-agent:current")
            .essential(true)
            .memory(4096)
            .secrets(
                e::Secret::builder()
                    .name("OAUTH_CLIENT_ID")
                    .value_from(format!("{secret_arn}:client_id::"))
                    .build()
                    .unwrap(),
            )
            .secrets(
                e::Secret::builder()
                    .name("OAUTH_CLIENT_SECRET")
                    .value_from(format!("{secret_arn}:client_secret::"))
                    .build()
                    .unwrap(),
            )
            .log_configuration(
                e::LogConfiguration::builder()
                    .log_driver(e::LogDriver::Awslogs)
                    .options("awslogs-group", &group)
                    .options("awslogs-region", REGION)
                    .options("awslogs-stream-prefix", "agent")
                    .build()
                    .unwrap(),
            )
            .build();
        let td = ecs
            .register_task_definition()
            .family(format!("{id}-task"))
            .cpu("1024")
            .memory("4096")
            .network_mode(e::NetworkMode::Awsvpc)
            .requires_compatibilities(e::Compatibility::Fargate)
            .execution_role_arn(format!("arn:aws:iam::123456789012:role/{exec_role}"))
            .task_role_arn(format!("arn:aws:iam::123456789012:role/{task_role}"))
            .container_definitions(container)
            .send()
            .await
            .unwrap();
        let td = td.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
        ecs.create_service()
            .cluster(format!("{id}-cluster"))
            .service_name(format!("{id}-service"))
            .task_definition(td)
            .desired_count(2)
            .launch_type(e::LaunchType::Fargate)
            .network_configuration(
                e::NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        e::AwsVpcConfiguration::builder()
                            .set_subnets(Some(subnets.clone()))
                            .set_security_groups(Some(security_groups.clone()))
                            .assign_public_ip(e::AssignPublicIp::Enabled)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        Reference { id, vpc, subnets, security_groups }
    })
}

/// Everything of the reference stack that a migration must leave as it is, one
/// line per fact.
fn snapshot(w: &World, r: &Reference) -> Vec<String> {
    rt().block_on(async {
        let cfg = w.sdk().await;
        let id = &r.id;
        let mut out = Vec::new();
        let ec2 = aws_sdk_ec2::Client::new(&cfg);
        let sorted_tags = |t: &[aws_sdk_ec2::types::Tag]| {
            let mut v: Vec<String> = t
                .iter()
                .map(|t| format!("{}={}", t.key().unwrap_or_default(), t.value().unwrap_or_default()))
                .collect();
            v.sort();
            v.join(",")
        };
        for v in ec2.describe_vpcs().vpc_ids(&r.vpc).send().await.unwrap().vpcs() {
            out.push(format!("vpc {} {} [{}]", r.vpc, v.cidr_block().unwrap_or_default(), sorted_tags(v.tags())));
        }
        let subnets = ec2.describe_subnets().set_subnet_ids(Some(r.subnets.clone())).send().await.unwrap();
        for s in subnets.subnets() {
            out.push(format!(
                "subnet {} {} {} [{}]",
                s.subnet_id().unwrap_or_default(),
                s.cidr_block().unwrap_or_default(),
                s.availability_zone().unwrap_or_default(),
                sorted_tags(s.tags())
            ));
        }
        let vpc_filter = aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(&r.vpc).build();
        let attached = aws_sdk_ec2::types::Filter::builder().name("attachment.vpc-id").values(&r.vpc).build();
        for g in ec2.describe_internet_gateways().filters(attached).send().await.unwrap().internet_gateways() {
            out.push(format!("igw {} [{}]", g.internet_gateway_id().unwrap_or_default(), sorted_tags(g.tags())));
        }
        for t in ec2.describe_route_tables().filters(vpc_filter.clone()).send().await.unwrap().route_tables() {
            let mut assoc: Vec<String> =
                t.associations().iter().filter_map(|a| a.subnet_id().map(str::to_owned)).collect();
            assoc.sort();
            let routes: Vec<String> = t
                .routes()
                .iter()
                .map(|x| {
                    format!(
                        "{}->{}",
                        x.destination_cidr_block().unwrap_or_default(),
                        x.gateway_id().unwrap_or_default()
                    )
                })
                .collect();
            out.push(format!(
                "rtb {} {routes:?} {assoc:?} [{}]",
                t.route_table_id().unwrap_or_default(),
                sorted_tags(t.tags())
            ));
        }
        let sgs = ec2.describe_security_groups().set_group_ids(Some(r.security_groups.clone())).send().await.unwrap();
        for g in sgs.security_groups() {
            out.push(format!(
                "sg {} {} {:?} egress {} ingress {} [{}]",
                g.group_id().unwrap_or_default(),
                g.group_name().unwrap_or_default(),
                g.description().unwrap_or_default(),
                g.ip_permissions_egress().len(),
                g.ip_permissions().len(),
                sorted_tags(g.tags())
            ));
        }
        let iam = aws_sdk_iam::Client::new(&cfg);
        for role in [format!("{id}-matillion-ecs-task-role"), format!("{id}-task-execution-role")] {
            let r = iam.get_role().role_name(&role).send().await.unwrap();
            let mut attached: Vec<String> = iam
                .list_attached_role_policies()
                .role_name(&role)
                .send()
                .await
                .unwrap()
                .attached_policies()
                .iter()
                .map(|p| p.policy_arn().unwrap_or_default().to_owned())
                .collect();
            attached.sort();
            let inline = iam.list_role_policies().role_name(&role).send().await.unwrap().policy_names().to_vec();
            out.push(format!("role {} {attached:?} {inline:?}", r.role().unwrap().arn()));
        }
        let profile = iam
            .get_instance_profile()
            .instance_profile_name(format!("{id}-matillion-ecs-task-instance-profile"))
            .send()
            .await
            .unwrap();
        let roles: Vec<&str> = profile.instance_profile().unwrap().roles().iter().map(|r| r.role_name()).collect();
        out.push(format!("instance-profile {roles:?}"));
        let sm = aws_sdk_secretsmanager::Client::new(&cfg);
        let d = sm.describe_secret().secret_id(format!("{id}-agent-secret")).send().await.unwrap();
        let v = sm.get_secret_value().secret_id(format!("{id}-agent-secret")).send().await.unwrap();
        out.push(format!(
            "secret {} deleted={} value-matches={}",
            d.arn().unwrap_or_default(),
            d.deleted_date().is_some(),
            serde_json::from_str::<serde_json::Value>(v.secret_string().unwrap()).unwrap()
                == serde_json::json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
        ));
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cfg).force_path_style(true).build());
        let bucket = format!("{id}-stagging-bucket").to_lowercase();
        out.push(format!("bucket {bucket} exists={}", s3.head_bucket().bucket(&bucket).send().await.is_ok()));
        let logs = aws_sdk_cloudwatchlogs::Client::new(&cfg);
        for g in
            logs.describe_log_groups().log_group_name_prefix(format!("/ecs/{id}")).send().await.unwrap().log_groups()
        {
            out.push(format!("log-group {} {:?}", g.log_group_name().unwrap_or_default(), g.retention_in_days()));
        }
        let ecs = aws_sdk_ecs::Client::new(&cfg);
        for c in ecs.describe_clusters().clusters(format!("{id}-cluster")).send().await.unwrap().clusters() {
            out.push(format!("cluster {} {}", c.cluster_name().unwrap_or_default(), c.status().unwrap_or_default()));
        }
        let svc = ecs
            .describe_services()
            .cluster(format!("{id}-cluster"))
            .services(format!("{id}-service"))
            .send()
            .await
            .unwrap();
        for s in svc.services() {
            let net = s.network_configuration().and_then(|n| n.awsvpc_configuration()).unwrap();
            out.push(format!(
                "service {} {} desired={} td={} subnets={:?} sgs={:?}",
                s.service_name().unwrap_or_default(),
                s.status().unwrap_or_default(),
                s.desired_count(),
                s.task_definition().unwrap_or_default(),
                net.subnets(),
                net.security_groups()
            ));
        }
        out
    })
}

fn doctor_check(w: &World) -> (i32, serde_json::Value) {
    let r = w.run(&["doctor", "-o", "json"]);
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
    let c = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "migration.reference_stack")
        .unwrap_or_else(|| panic!("no migration check in {v:#}"))
        .clone();
    (r.code, c)
}

#[test]
fn agentctl_deploys_beside_a_reference_stack_in_its_network_and_leaves_it_alone() {
    let w = World::new("mig");
    // Before any reference stack: doctor finds none.
    w.config("");
    let (_, c) = doctor_check(&w);
    assert_eq!(c["status"], "pass", "{c:#}");

    let r = build_reference(&w);
    let before = snapshot(&w, &r);
    assert!(before.iter().any(|l| l.starts_with("service mig-Xy7k2Q-service ACTIVE desired=2")), "{before:#?}");

    // The guide's config: the reference VPC and subnets, agentctl's own security
    // group, the same agent credentials (TF_VAR_client_id/secret).
    w.config(&format!(
        "use_existing_vpc = true\nvpc_id = \"{}\"\nuse_existing_subnet = true\nsubnet_ids = [\"{}\", \"{}\"]\n",
        r.vpc, r.subnets[0], r.subnets[1]
    ));
    let (code, c) = doctor_check(&w);
    assert_eq!(c["status"], "warn", "{c:#}");
    let evidence = c["evidence"].to_string();
    for name in [
        "mig-Xy7k2Q-cluster",
        "mig-Xy7k2Q-service",
        "mig-Xy7k2Q-agent-secret",
        "mig-Xy7k2Q-task-execution-role",
        "mig-Xy7k2Q-matillion-ecs-task-role",
        "/ecs/mig-Xy7k2Q-task",
        &r.vpc,
        &r.security_groups[0],
        &r.security_groups[1],
    ] {
        assert!(evidence.contains(name), "doctor evidence names {name}: {c:#}");
    }
    assert!(evidence.contains(&format!("this config deploys into its VPC {}", r.vpc)), "{c:#}");
    assert!(evidence.contains("--desired-count 0"), "{c:#}");
    let fix = c["fix"].as_str().unwrap();
    assert!(fix.contains("README") && fix.contains("terraform state rm"), "{fix}");
    assert_eq!(code, 0, "a reference stack is a warning, not a failure: {c:#}");
    let text = w.run(&["doctor"]);
    assert!(text.stdout.contains("[WARN] Stack built by the reference Terraform module"), "{}", text.stdout);

    // agentctl deploys beside it.
    w.run(&["apply", "--yes"]).expect_code(0);
    let plan = w.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(0);
    assert_eq!(snapshot(&w, &r), before, "apply changed the reference stack");
    rt().block_on(async {
        let cfg = w.sdk().await;
        let ecs = aws_sdk_ecs::Client::new(&cfg);
        let s = ecs.describe_services().cluster("mig").services("mig-agent").send().await.unwrap();
        let net = s.services()[0].network_configuration().unwrap().awsvpc_configuration().unwrap();
        let mut subnets = net.subnets().to_vec();
        subnets.sort();
        let mut want = r.subnets.clone();
        want.sort();
        assert_eq!(subnets, want, "agentctl's tasks run in the reference subnets");
        assert_eq!(net.security_groups().len(), 1);
        assert!(!r.security_groups.contains(&net.security_groups()[0]), "agentctl uses its own security group");
        let ec2 = aws_sdk_ec2::Client::new(&cfg);
        let sg = ec2.describe_security_groups().group_ids(&net.security_groups()[0]).send().await.unwrap();
        let sg = &sg.security_groups()[0];
        assert_eq!(sg.group_name(), Some("mig-agent"));
        assert_eq!(sg.vpc_id(), Some(r.vpc.as_str()));
        // Same agent credentials in both secrets.
        let sm = aws_sdk_secretsmanager::Client::new(&cfg);
        let ours = sm.get_secret_value().secret_id("mig-agent-credentials").send().await.unwrap();
        let theirs = sm.get_secret_value().secret_id("mig-Xy7k2Q-agent-secret").send().await.unwrap();
        let parse = |s: Option<&str>| serde_json::from_str::<serde_json::Value>(s.unwrap()).unwrap();
        assert_eq!(parse(ours.secret_string()), parse(theirs.secret_string()));
    });
    // Doctor still points at the old stack while it exists.
    let (_, c) = doctor_check(&w);
    assert_eq!(c["status"], "warn");

    // Destroy removes agentctl's resources only.
    w.run(&["destroy", "--yes", "--force-delete-secret"]).expect_code(0);
    assert_eq!(snapshot(&w, &r), before, "destroy touched the reference stack");
    rt().block_on(async {
        let cfg = w.sdk().await;
        let ecs = aws_sdk_ecs::Client::new(&cfg);
        let c = ecs.describe_clusters().clusters("mig").send().await.unwrap();
        assert!(c.clusters().iter().all(|c| c.status() != Some("ACTIVE")), "cluster mig is gone");
        let iam = aws_sdk_iam::Client::new(&cfg);
        for role in ["mig-execution-role", "mig-task-role"] {
            assert!(iam.get_role().role_name(role).send().await.is_err(), "{role} is gone");
        }
        let sm = aws_sdk_secretsmanager::Client::new(&cfg);
        assert!(sm.describe_secret().secret_id("mig-agent-credentials").send().await.is_err(), "secret is gone");
        let logs = aws_sdk_cloudwatchlogs::Client::new(&cfg);
        let groups = logs.describe_log_groups().log_group_name_prefix("/ecs/mig-agent").send().await.unwrap();
        assert!(groups.log_groups().is_empty());
        let ec2 = aws_sdk_ec2::Client::new(&cfg);
        let f = aws_sdk_ec2::types::Filter::builder().name("group-name").values("mig-agent").build();
        assert!(ec2.describe_security_groups().filters(f).send().await.unwrap().security_groups().is_empty());
        let ssm = aws_sdk_ssm::Client::new(&cfg);
        assert!(ssm.get_parameter().name("/agentctl/mig/lock").send().await.is_err(), "no lock left");
    });
}
