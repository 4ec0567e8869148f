//! `agentctl doctor`'s checks from hand-written facts: each scenario asserts the
//! status, the evidence that decided it and the fix, naming the resources.

mod common;

use agentctl_core::cidr::FoundSubnet;
use agentctl_core::config::Config;
use agentctl_core::doctor::*;
use common::*;

const VPC: &str = "vpc-0123abcd";
const SUBNET_A: &str = "subnet-0aaa1111";
const SUBNET_B: &str = "subnet-0bbb2222";
const SG: &str = "sg-0c0c0c0c";
const PRIVATE_IMAGE: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/etl-agent:stable";
/// The guard's image, mirrored into private ECR like the agent's.
const PRIVATE_GUARD: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/amazonlinux:2023.12.20260831.0";

/// A config with existing VPC, subnets A and B, one security group, in eu-west-1.
fn config(extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![
        ("use_existing_vpc", "true"),
        ("vpc_id", "\"vpc-0123abcd\""),
        ("use_existing_subnet", "true"),
        ("subnet_ids", "[\"subnet-0aaa1111\", \"subnet-0bbb2222\"]"),
        ("use_existing_security_group", "true"),
        ("security_group_ids", "[\"sg-0c0c0c0c\"]"),
    ];
    vars.extend_from_slice(extra);
    load_ok(&tfvars(&vars)).config
}

fn route(destination: &str, target: RouteTarget, target_id: &str) -> RouteFacts {
    RouteFacts { destination: destination.into(), target, target_id: target_id.into(), state: RouteState::Active }
}

fn local() -> RouteFacts {
    route("10.0.0.0/16", RouteTarget::Local, "local")
}

fn table(id: &str, routes: Vec<RouteFacts>) -> RouteTableFacts {
    RouteTableFacts { id: id.into(), main: false, routes }
}

fn public_table() -> RouteTableFacts {
    table("rtb-0public1", vec![local(), route("0.0.0.0/0", RouteTarget::InternetGateway, "igw-0abc1234")])
}

fn nat_table() -> RouteTableFacts {
    table("rtb-0private1", vec![local(), route("0.0.0.0/0", RouteTarget::NatGateway, "nat-0feed1234")])
}

fn isolated_table() -> RouteTableFacts {
    table("rtb-0isolated", vec![local()])
}

fn subnet(id: &str, az: &str, free: u32, route_table: RouteTableFacts) -> SubnetFacts {
    SubnetFacts { id: id.into(), vpc_id: VPC.into(), availability_zone: az.into(), available_ips: free, route_table }
}

fn nat(state: &str) -> NatGatewayFacts {
    NatGatewayFacts {
        id: "nat-0feed1234".into(),
        state: state.into(),
        connectivity: NatConnectivity::Public,
        subnet_id: "subnet-0ccc3333".into(),
    }
}

fn sg(egress: Vec<EgressRuleFacts>) -> SecurityGroupFacts {
    SecurityGroupFacts { id: SG.into(), vpc_id: VPC.into(), egress }
}

fn rule(protocol: &str, ports: Option<(u16, u16)>, destination: &str) -> EgressRuleFacts {
    EgressRuleFacts { protocol: protocol.into(), ports, destination: destination.into() }
}

fn all_egress() -> Vec<EgressRuleFacts> {
    vec![rule("-1", None, "0.0.0.0/0")]
}

fn vpc() -> VpcFacts {
    VpcFacts {
        id: VPC.into(),
        cidr_blocks: vec!["10.0.0.0/16".into()],
        dns_support: true,
        dns_hostnames: true,
        dns_servers: Some(vec!["AmazonProvidedDNS".into()]),
        subnets: vec![],
    }
}

/// Two subnets in two AZs using `rt`, all egress, plenty of addresses.
fn network(rt: RouteTableFacts) -> NetworkFacts {
    NetworkFacts {
        vpc: Some(vpc()),
        subnets: vec![subnet(SUBNET_A, "eu-west-1a", 200, rt.clone()), subnet(SUBNET_B, "eu-west-1b", 200, rt)],
        main_route_table: None,
        nat_gateways: vec![],
        vpc_endpoints: vec![],
        security_groups: vec![sg(all_egress())],
    }
}

fn facts(config: &Config, network: NetworkFacts) -> DoctorFacts {
    DoctorFacts {
        credentials: Credentials::Valid {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/ops".into(),
        },
        network: Some(network),
        fargate_vcpu_quota: Some(400.0),
        fargate_vcpu_in_use: Some(0.0),
        ..DoctorFacts::from_config(config)
    }
}

fn check<'a>(list: &'a Checklist, id: &str) -> &'a Check {
    list.get(id).unwrap_or_else(|| panic!("no check {id} in {:#?}", list.checks))
}

fn evidence(c: &Check) -> String {
    c.evidence.join("\n")
}

fn fix(c: &Check) -> &str {
    c.fix.as_deref().unwrap_or_else(|| panic!("{} has no fix: {c:#?}", c.id))
}

fn endpoint(service: &str, kind: EndpointKind) -> VpcEndpointFacts {
    VpcEndpointFacts {
        id: format!("vpce-0{}", service.replace('.', "")),
        service_name: format!("com.amazonaws.eu-west-1.{service}"),
        kind,
        state: "available".into(),
        subnet_ids: if kind == EndpointKind::Interface { vec![SUBNET_A.into(), SUBNET_B.into()] } else { vec![] },
        route_table_ids: if kind == EndpointKind::Gateway { vec!["rtb-0isolated".into()] } else { vec![] },
        private_dns: kind == EndpointKind::Interface,
    }
}

/// Every endpoint a private-ECR agent needs, for the isolated route table.
fn all_endpoints() -> Vec<VpcEndpointFacts> {
    vec![
        endpoint("ecr.api", EndpointKind::Interface),
        endpoint("ecr.dkr", EndpointKind::Interface),
        endpoint("s3", EndpointKind::Gateway),
        endpoint("logs", EndpointKind::Interface),
        endpoint("secretsmanager", EndpointKind::Interface),
    ]
}

#[test]
fn public_subnets_with_an_internet_gateway_and_public_ip_pass_everything() {
    let config = config(&[("assign_public_ip", "true")]);
    let list = evaluate(&config, &facts(&config, network(public_table())));
    assert!(!list.failed(), "{}", list.render_text());
    assert_eq!(list.status(), Status::Pass, "{}", list.render_text());
    let path = check(&list, ids::PATH_OUT);
    assert_eq!(path.status, Status::Pass);
    assert!(evidence(path).contains(
        "subnet-0aaa1111 (eu-west-1a): route table rtb-0public1 sends 0.0.0.0/0 to internet gateway igw-0abc1234; \
         tasks get a public IP"
    ));
    assert!(evidence(path).contains("subnet-0bbb2222 (eu-west-1b)"));
    assert_eq!(path.fix, None);
    let subnets = check(&list, ids::SUBNETS);
    assert!(evidence(subnets).contains("2 availability zones: eu-west-1a, eu-west-1b"), "{subnets:#?}");
    let creds = check(&list, ids::CREDENTIALS);
    assert_eq!(evidence(creds), "account 123456789012, identity arn:aws:iam::123456789012:user/ops");
    assert_eq!(check(&list, ids::EGRESS).status, Status::Pass);
    assert_eq!(check(&list, ids::IMAGE).status, Status::Pass);
    assert_eq!(check(&list, ids::VCPU_QUOTA).status, Status::Pass);
    let ids: Vec<&str> = list.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            ids::CREDENTIALS,
            ids::VPC,
            ids::SUBNETS,
            ids::FREE_IPS,
            ids::PATH_OUT,
            ids::SECURITY_GROUPS,
            ids::EGRESS,
            ids::IMAGE,
            "image.guard",
            ids::MATILLION,
            ids::VCPU_QUOTA,
            ids::EFFECTIVE_ACCESS
        ]
    );
}

#[test]
fn public_subnets_without_a_public_ip_fail_with_the_fix() {
    let config = config(&[("assign_public_ip", "false")]);
    let list = evaluate(&config, &facts(&config, network(public_table())));
    assert!(list.failed());
    let path = check(&list, ids::PATH_OUT);
    assert_eq!(path.status, Status::Fail);
    assert!(evidence(path).contains(
        "subnet-0aaa1111 (eu-west-1a): route table rtb-0public1 sends 0.0.0.0/0 to internet gateway igw-0abc1234, but \
         assign_public_ip = false"
    ));
    // No endpoint in the VPC: nothing about endpoints to say.
    assert!(!evidence(path).contains("endpoint"), "{path:#?}");
    assert!(fix(path).starts_with("set assign_public_ip = true (subnet-0aaa1111 is a public subnet)"), "{}", fix(path));
    assert!(fix(path).contains("subnet-0bbb2222"));
}

#[test]
fn private_subnets_with_an_available_nat_pass() {
    let config = config(&[("assign_public_ip", "false")]);
    let mut net = network(nat_table());
    net.nat_gateways = vec![nat("available")];
    let list = evaluate(&config, &facts(&config, net));
    let path = check(&list, ids::PATH_OUT);
    assert_eq!(path.status, Status::Pass, "{path:#?}");
    assert!(evidence(path)
        .contains("subnet-0aaa1111 (eu-west-1a): route table rtb-0private1 sends 0.0.0.0/0 to NAT gateway nat-0feed1234 (available)"));
    assert!(!list.failed(), "{}", list.render_text());
}

#[test]
fn private_subnets_with_a_failed_nat_fail() {
    let config = config(&[("assign_public_ip", "false")]);
    let mut net = network(nat_table());
    net.nat_gateways = vec![nat("failed")];
    let list = evaluate(&config, &facts(&config, net));
    let path = check(&list, ids::PATH_OUT);
    assert_eq!(path.status, Status::Fail);
    assert!(evidence(path).contains("sends 0.0.0.0/0 to NAT gateway nat-0feed1234, which is failed"), "{path:#?}");
    let f = fix(path);
    assert!(f.starts_with("NAT gateway nat-0feed1234 is failed: create a new NAT gateway in a public subnet"), "{f}");
    assert!(
        f.contains("aws ec2 replace-route --route-table-id rtb-0private1 --destination-cidr-block 0.0.0.0/0"),
        "{f}"
    );

    // Any state but available fails: a deleted NAT gateway, too.
    let mut net = network(nat_table());
    net.nat_gateways = vec![nat("deleted")];
    let path = check_path_out(&config, &facts(&config, net));
    assert_eq!(path.status, Status::Fail);
    assert!(fix(&path).starts_with("NAT gateway nat-0feed1234 is deleted"), "{}", fix(&path));

    // A NAT gateway the route names but which is gone fails as well.
    let mut net = network(nat_table());
    net.nat_gateways = vec![];
    let path = check_path_out(&config, &facts(&config, net));
    assert_eq!(path.status, Status::Fail);
    assert!(evidence(&path).contains("nat-0feed1234, which was not found"));
}

#[test]
fn private_subnets_with_no_route_out_fail_with_the_fix() {
    let config = config(&[("assign_public_ip", "false")]);
    let list = evaluate(&config, &facts(&config, network(isolated_table())));
    let path = check(&list, ids::PATH_OUT);
    assert_eq!(path.status, Status::Fail);
    assert!(
        evidence(path).contains("subnet-0aaa1111 (eu-west-1a): route table rtb-0isolated has no route for 0.0.0.0/0")
    );
    assert!(fix(path).starts_with(
        "add a default route to a NAT gateway in rtb-0isolated: aws ec2 create-route --route-table-id rtb-0isolated \
         --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-..."
    ));
}

#[test]
fn endpoints_only_with_the_default_ecr_public_image_fails() {
    let config = config(&[("assign_public_ip", "false"), ("proxy_https", "\"http://proxy.internal:3128\"")]);
    let mut net = network(isolated_table());
    net.vpc_endpoints = all_endpoints();
    let list = evaluate(&config, &facts(&config, net));
    let path = check(&list, ids::PATH_OUT);
    assert_eq!(path.status, Status::Fail);
    assert!(evidence(path).contains(
        "the image public.ecr.aws/matillion/etl-agent:current is pulled from public.ecr.aws: ECR Public is not \
         reachable through VPC endpoints"
    ));
    assert!(fix(path).contains("mirror the image into private ECR in eu-west-1"), "{}", fix(path));
}

#[test]
fn endpoints_only_with_a_private_ecr_image_passes_when_matillion_goes_through_a_proxy() {
    let config = config(&[
        ("assign_public_ip", "false"),
        ("image_url", &format!("\"{PRIVATE_IMAGE}\"")),
        ("guard_image_url", &format!("\"{PRIVATE_GUARD}\"")),
        ("proxy_https", "\"http://proxy.internal:3128\""),
    ]);
    let mut net = network(isolated_table());
    net.vpc_endpoints = all_endpoints();
    let list = evaluate(&config, &facts(&config, net.clone()));
    let path = check(&list, ids::PATH_OUT);
    assert_eq!(path.status, Status::Pass, "{path:#?}");
    let ev = evidence(path);
    assert!(
        ev.contains("VPC endpoints in use: ecr.api (vpce-0ecrapi), ecr.dkr (vpce-0ecrdkr), s3 (vpce-0s3), logs"),
        "{ev}"
    );
    assert!(ev.contains("through the proxy http://proxy.internal:3128"), "{ev}");

    // Without a proxy, the agent cannot reach Matillion: endpoints serve AWS only.
    let no_proxy = self::config(&[
        ("assign_public_ip", "false"),
        ("image_url", &format!("\"{PRIVATE_IMAGE}\"")),
        ("guard_image_url", &format!("\"{PRIVATE_GUARD}\"")),
    ]);
    let path = check_path_out(&no_proxy, &facts(&no_proxy, net.clone()));
    assert_eq!(path.status, Status::Fail);
    assert!(evidence(&path).contains(
        "the agent must also reach keycloak.core.matillion.com and opentelemetry.eu1.core.matillion.com over HTTPS"
    ));
    assert!(fix(&path).contains("set proxy_https to an HTTPS proxy reachable from subnet-0aaa1111"), "{}", fix(&path));

    // A missing logs endpoint and an S3 gateway not associated with the route table.
    let mut partial = net;
    partial.vpc_endpoints.retain(|e| !e.service_name.ends_with(".logs"));
    partial
        .vpc_endpoints
        .iter_mut()
        .filter(|e| e.kind == EndpointKind::Gateway)
        .for_each(|e| e.route_table_ids.clear());
    let path = check_path_out(&config, &facts(&config, partial));
    assert_eq!(path.status, Status::Fail);
    let ev = evidence(&path);
    assert!(ev.contains("s3 (gateway, image layers (ECR keeps them in S3) and the staging bucket): vpce-0s3 is not associated with rtb-0isolated"), "{ev}");
    assert!(ev.contains("logs (interface, the awslogs log driver): none"), "{ev}");
    let f = fix(&path);
    assert!(
        f.contains("aws ec2 modify-vpc-endpoint --vpc-endpoint-id vpce-0s3 --add-route-table-ids rtb-0isolated"),
        "{f}"
    );
    assert!(f.contains("aws ec2 create-vpc-endpoint --vpc-id vpc-0123abcd --vpc-endpoint-type Interface --service-name com.amazonaws.eu-west-1.logs"), "{f}");
}

#[test]
fn security_group_without_443_egress_fails() {
    let config = config(&[]);
    let mut net = network(public_table());
    net.security_groups =
        vec![sg(vec![rule("tcp", Some((80, 80)), "0.0.0.0/0"), rule("udp", Some((53, 53)), "0.0.0.0/0")])];
    let list = evaluate(&config, &facts(&config, net));
    let egress = check(&list, ids::EGRESS);
    assert_eq!(egress.status, Status::Fail);
    assert!(evidence(egress).contains("no egress rule of sg-0c0c0c0c allows tcp 443"));
    assert!(evidence(egress).contains("sg-0c0c0c0c allow udp 53 to 0.0.0.0/0"));
    assert_eq!(
        fix(egress),
        "allow outbound HTTPS: aws ec2 authorize-security-group-egress --group-id sg-0c0c0c0c --protocol tcp --port \
         443 --cidr 0.0.0.0/0"
    );
    // 443 to a narrower range only is a warning.
    let mut net = network(public_table());
    net.security_groups = vec![sg(vec![rule("tcp", Some((443, 443)), "10.0.0.0/16")])];
    let list = evaluate(&config, &facts(&config, net));
    let egress = check(&list, ids::EGRESS);
    assert_eq!(egress.status, Status::Warn);
    assert!(evidence(egress).contains("allow tcp 443 only to 10.0.0.0/16"));
    // No port-53 rule: fine with the Amazon-provided DNS server (not filtered by security groups).
    assert!(evidence(egress).contains("the VPC uses the Amazon-provided DNS server"));
}

#[test]
fn custom_dns_servers_need_a_port_53_rule() {
    let config = config(&[]);
    let mut net = network(public_table());
    net.vpc.as_mut().unwrap().dns_servers = Some(vec!["10.0.0.53".into()]);
    net.security_groups = vec![sg(vec![rule("tcp", Some((443, 443)), "0.0.0.0/0")])];
    let egress = check(&evaluate(&config, &facts(&config, net)), ids::EGRESS).clone();
    assert_eq!(egress.status, Status::Fail);
    assert!(evidence(&egress).contains("DHCP options name DNS servers 10.0.0.53"));
    assert!(fix(&egress).contains("--group-id sg-0c0c0c0c --ip-permissions 'IpProtocol=udp,FromPort=53,ToPort=53,IpRanges=[{CidrIp=10.0.0.53/32}]'"));
}

#[test]
fn a_missing_subnet_fails() {
    let config = config(&[]);
    let mut net = network(public_table());
    net.subnets.retain(|s| s.id == SUBNET_A);
    let list = evaluate(&config, &facts(&config, net));
    let subnets = check(&list, ids::SUBNETS);
    assert_eq!(subnets.status, Status::Fail);
    assert!(evidence(subnets).contains("subnet-0bbb2222 was not found in eu-west-1"));
    assert!(fix(subnets)
        .starts_with("subnet-0bbb2222 does not exist in eu-west-1 for these credentials: correct subnet_ids"));
    // The found subnet is still checked for a path out.
    assert_eq!(check(&list, ids::PATH_OUT).status, Status::Pass);
}

#[test]
fn a_subnet_of_another_vpc_fails() {
    let config = config(&[]);
    let mut net = network(public_table());
    net.subnets[1].vpc_id = "vpc-0999ffff".into();
    net.security_groups[0].vpc_id = "vpc-0999ffff".into();
    let list = evaluate(&config, &facts(&config, net));
    let subnets = check(&list, ids::SUBNETS);
    assert_eq!(subnets.status, Status::Fail);
    assert!(evidence(subnets).contains("subnet-0bbb2222 (eu-west-1b) belongs to vpc-0999ffff, not vpc-0123abcd"));
    assert!(fix(subnets).contains("set vpc_id = \"vpc-0999ffff\""));
    let sgs = check(&list, ids::SECURITY_GROUPS);
    assert_eq!(sgs.status, Status::Fail);
    assert!(fix(sgs).contains("sg-0c0c0c0c is a security group of vpc-0999ffff"));
}

#[test]
fn subnets_in_one_availability_zone_warn() {
    let config = config(&[]);
    let mut net = network(public_table());
    net.subnets[1].availability_zone = "eu-west-1a".into();
    let list = evaluate(&config, &facts(&config, net));
    let subnets = check(&list, ids::SUBNETS);
    assert_eq!(subnets.status, Status::Warn);
    assert!(evidence(subnets)
        .contains("every subnet is in eu-west-1a: an outage of that availability zone stops every agent task"));
    assert_eq!(fix(subnets), "add a subnet of vpc-0123abcd in another availability zone than eu-west-1a to subnet_ids");
    assert!(!list.failed());
}

#[test]
fn too_few_free_addresses_fail() {
    // 3 tasks × 200% during a rolling deploy = 6 addresses; the subnets have 2 + 3.
    let config = config(&[("desired_count", "3")]);
    let mut net = network(public_table());
    net.subnets[0].available_ips = 2;
    net.subnets[1].available_ips = 3;
    let list = evaluate(&config, &facts(&config, net));
    let ips = check(&list, ids::FREE_IPS);
    assert_eq!(ips.status, Status::Fail);
    assert!(
        evidence(ips).contains("6 addresses needed: 3 tasks at max scale, up to 200% of them during a rolling deploy")
    );
    assert!(evidence(ips).contains("subnet-0aaa1111 (eu-west-1a): 2 free"));
    assert!(evidence(ips).contains("5 free in all, fewer than 6"));
    assert!(fix(ips).starts_with("free addresses in subnet-0aaa1111, subnet-0bbb2222"));
    // Enough in all, but one subnet cannot take its share (3): a warning.
    let mut net = network(public_table());
    net.subnets[0].available_ips = 1;
    net.subnets[1].available_ips = 50;
    let ips = check(&evaluate(&config, &facts(&config, net)), ids::FREE_IPS).clone();
    assert_eq!(ips.status, Status::Warn);
    assert!(fix(&ips).starts_with("free addresses in subnet-0aaa1111"));
}

#[test]
fn a_vcpu_quota_below_max_scale_fails() {
    // 4 tasks of 2 vCPU, 200% during a rolling deploy: 8 tasks × 2 = 16 vCPU; the quota is 12.
    let config = config(&[("desired_count", "4"), ("runner_size", "\"medium\"")]);
    let f = DoctorFacts { fargate_vcpu_quota: Some(12.0), ..facts(&config, network(public_table())) };
    let list = evaluate(&config, &f);
    let quota = check(&list, ids::VCPU_QUOTA);
    assert_eq!(quota.status, Status::Fail);
    assert!(evidence(quota)
        .contains("needs 16 vCPU: 4 tasks at max scale × 200% during a rolling deploy = 8 tasks × 2 vCPU"));
    assert!(evidence(quota).contains("quota in eu-west-1: 12 vCPU"));
    assert_eq!(
        fix(quota),
        "request a higher quota: aws service-quotas request-service-quota-increase --service-code fargate --quota-code \
         L-3032A538 --desired-value 16 --region eu-west-1"
    );
    assert!(list.failed());

    // Enough quota, but other tasks use most of it: a warning that counts them.
    let f = DoctorFacts { fargate_vcpu_quota: Some(20.0), fargate_vcpu_in_use: Some(10.0), ..f };
    let quota = check_vcpu_quota(&f, 200);
    assert_eq!(quota.status, Status::Warn);
    assert!(evidence(&quota).contains("other Fargate tasks in eu-west-1 use 10 vCPU, leaving 10"));
    assert!(fix(&quota).contains("--desired-value 26"));

    // The autoscaling maximum, not the desired count, sets the need.
    let f = DoctorFacts { max_count: 10, fargate_vcpu_quota: Some(30.0), fargate_vcpu_in_use: None, ..f };
    assert_eq!(check_vcpu_quota(&f, 200).status, Status::Fail);
}

#[test]
fn the_script_runner_counts_towards_the_quota_and_its_image_is_checked() {
    // The agent's 16 vCPU, and 1 large runner task × 200% = 2 tasks × 4 vCPU: 24 vCPU.
    let config = config(&[
        ("desired_count", "4"),
        ("runner_size", "\"medium\""),
        ("enable_script_runner", "true"),
        ("script_runner_size", "\"large\""),
        ("script_runner_image_url", "\"111122223333.dkr.ecr.eu-west-1.amazonaws.com/maia/runner:1\""),
    ]);
    let mut f = DoctorFacts { fargate_vcpu_quota: Some(20.0), ..facts(&config, network(public_table())) };
    let runner = f.script_runner.as_mut().expect("runner facts from the config");
    runner.image_lookup = ImageLookup::NotFound("manifest unknown".into());
    let list = evaluate(&config, &f);
    let quota = check(&list, ids::VCPU_QUOTA);
    assert_eq!(quota.status, Status::Fail);
    assert!(
        evidence(quota).contains("needs 24 vCPU: the agent's 4 tasks at max scale × 200% during a rolling deploy = 8 tasks × 2 vCPU, and the script runner's 2 tasks × 4 vCPU"),
        "{quota:#?}"
    );
    let image = check(&list, ids::SCRIPT_RUNNER_IMAGE);
    assert_eq!(image.status, Status::Fail);
    assert!(evidence(image).contains("the registry has no such image"), "{image:#?}");
    assert!(fix(image).contains("script_runner_image_url"), "{image:#?}");
    // The agent's image check is its own.
    assert_eq!(check(&list, ids::IMAGE).status, Status::Pass);
}

#[test]
fn credentials_failure_fails_and_unread_facts_warn() {
    let config = config(&[]);
    let f = DoctorFacts {
        credentials: Credentials::Invalid { error: "ExpiredToken: the SSO session has expired".into() },
        ..DoctorFacts::from_config(&config)
    };
    let list = evaluate(&config, &f);
    assert!(list.failed());
    let creds = check(&list, ids::CREDENTIALS);
    assert_eq!(creds.status, Status::Fail);
    assert!(evidence(creds).contains("ExpiredToken"));
    assert!(fix(creds).contains("aws sso login"));
    for id in [ids::VPC, ids::SUBNETS, ids::FREE_IPS, ids::PATH_OUT, ids::SECURITY_GROUPS, ids::EGRESS, ids::VCPU_QUOTA]
    {
        let c = check(&list, id);
        assert_eq!(c.status, Status::Warn, "{c:#?}");
        assert!(c.fix.is_some(), "{c:#?}");
    }
}

#[test]
fn a_missing_vpc_fails() {
    let config = config(&[]);
    let mut net = network(public_table());
    net.vpc = None;
    net.subnets.clear();
    let list = evaluate(&config, &facts(&config, net));
    let v = check(&list, ids::VPC);
    assert_eq!(v.status, Status::Fail);
    assert_eq!(evidence(v), "VPC vpc-0123abcd was not found in eu-west-1");
    assert!(fix(v).starts_with("check vpc_id and region: vpc-0123abcd does not exist in eu-west-1"));
    assert_eq!(check(&list, ids::PATH_OUT).status, Status::Fail);
}

#[test]
fn the_image_must_be_well_formed_and_x86_64() {
    let config = config(&[]);
    let base = facts(&config, network(public_table()));
    assert_eq!(base.cpu_architecture, "X86_64");

    let arm = DoctorFacts { cpu_architecture: "ARM64".into(), ..base.clone() };
    let c = check_image(&arm);
    assert_eq!(c.status, Status::Fail);
    assert!(evidence(&c).contains("the task definition runs on ARM64, but the agent image is built for X86_64 only"));
    assert!(fix(&c).contains("cpuArchitecture to X86_64"));

    let bad = DoctorFacts { image: "https://public.ecr.aws/matillion/etl-agent:current".into(), ..base.clone() };
    let c = check_image(&bad);
    assert_eq!(c.status, Status::Fail);
    assert!(evidence(&c).contains("remove the URL scheme"));

    let lookup = |l: ImageLookup| DoctorFacts { image: PRIVATE_IMAGE.into(), image_lookup: l, ..base.clone() };
    let c = check_image(&lookup(ImageLookup::Platforms(vec!["linux/arm64".into()])));
    assert_eq!(c.status, Status::Fail);
    assert!(evidence(&c).contains("built for linux/arm64 only, not linux/amd64"));
    assert!(fix(&c).contains("push a linux/amd64 build"));
    let c = check_image(&lookup(ImageLookup::Platforms(vec!["linux/amd64".into(), "linux/arm64".into()])));
    assert_eq!(c.status, Status::Pass);
    assert!(evidence(&c).contains("image platforms (from its manifest): linux/amd64, linux/arm64"));
    let c = check_image(&lookup(ImageLookup::NotFound("MANIFEST_UNKNOWN".into())));
    assert_eq!(c.status, Status::Fail);
    assert!(evidence(&c).contains("no task can pull it") && fix(&c).contains("check the repository and tag"));
    let c = check_image(&lookup(ImageLookup::Unreachable("timed out".into())));
    assert_eq!(c.status, Status::Warn);
    assert!(evidence(&c).contains("could not be read") && evidence(&c).contains("timed out"));

    let other_region =
        DoctorFacts { image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror/etl-agent:stable".into(), ..base };
    let c = check_image(&other_region);
    assert_eq!(c.status, Status::Warn);
    assert!(fix(&c).contains("replicate the repository to eu-west-1"));
}

#[test]
fn matillion_regions_map_to_their_hosts() {
    let c = check_matillion_region("eu1");
    assert_eq!(c.status, Status::Pass);
    assert_eq!(
        evidence(&c),
        "matillion_region = \"eu1\": the agent calls keycloak.core.matillion.com and \
         opentelemetry.eu1.core.matillion.com over HTTPS (443)"
    );
    assert!(evidence(&check_matillion_region("us1")).contains("opentelemetry.us1.core.matillion.com"));
    let c = check_matillion_region("ap9");
    assert_eq!(c.status, Status::Fail);
    assert_eq!(fix(&c), "set matillion_region to the region of your Matillion Hub account: one of eu1, us1");
}

#[test]
fn networks_agentctl_creates() {
    // New VPC: nothing to read, and the path out is the IGW with a public IP.
    let new = load_ok(&tfvars(&[])).config;
    let list = evaluate(&new, &facts(&new, NetworkFacts::default()));
    assert!(!list.failed(), "{}", list.render_text());
    assert!(list.get(ids::FREE_IPS).is_none());
    assert!(evidence(check(&list, ids::PATH_OUT)).contains("agentctl routes 0.0.0.0/0 to the internet gateway"));
    // (Validation refuses assign_public_ip = false with a new VPC; doctor agrees.)
    let mut no_ip = new.clone();
    no_ip.assign_public_ip = false;
    let path = check_path_out(&no_ip, &facts(&no_ip, NetworkFacts::default()));
    assert_eq!(path.status, Status::Fail);
    assert!(fix(&path).starts_with("set assign_public_ip = true"));

    // Existing VPC, new subnets: they use the main route table, and must fit in the VPC.
    let existing_vpc = load_ok(&tfvars(&[
        ("use_existing_vpc", "true"),
        ("vpc_id", "\"vpc-0123abcd\""),
        ("cidr_block", "\"10.1.0.0/16\""),
        ("assign_public_ip", "false"),
    ]))
    .config;
    let mut net = network(nat_table());
    net.subnets.clear();
    net.main_route_table = Some(RouteTableFacts { main: true, ..nat_table() });
    net.nat_gateways = vec![nat("available")];
    let list = evaluate(&existing_vpc, &facts(&existing_vpc, net));
    let path = check(&list, ids::PATH_OUT);
    assert_eq!(path.status, Status::Pass, "{path:#?}");
    assert!(evidence(path)
        .contains("the subnets agentctl creates in vpc-0123abcd: route table rtb-0private1 (the VPC's main one)"));
    let subnets = check(&list, ids::SUBNETS);
    assert_eq!(subnets.status, Status::Fail);
    assert!(
        evidence(subnets).contains("10.1.0.0/24 and 10.1.1.0/24 do not fit in vpc-0123abcd (10.0.0.0/16)"),
        "{subnets:#?}"
    );
    assert!(fix(subnets).starts_with("set cidr_block to a free range inside vpc-0123abcd (10.0.0.0/16)"));

    // Without `cidr_block`: the VPC's first free ranges, or why there are none.
    let free = load_ok(&tfvars(&[("use_existing_vpc", "true"), ("vpc_id", "\"vpc-0123abcd\"")])).config;
    let taken = |cidrs: &[&str]| {
        let mut net = network(nat_table());
        net.subnets.clear();
        let vpc = net.vpc.as_mut().unwrap();
        vpc.subnets = cidrs.iter().map(|c| FoundSubnet { cidr: (*c).into(), ours: None }).collect();
        evaluate(&free, &facts(&free, net))
    };
    let list = taken(&["10.0.0.0/24", "10.0.2.0/23"]);
    let subnets = check(&list, ids::SUBNETS);
    assert_eq!(subnets.status, Status::Pass, "{subnets:#?}");
    assert!(evidence(subnets).contains("(10.0.1.0/24 and 10.0.4.0/24)"), "{subnets:#?}");
    let list = taken(&["10.0.0.0/17", "10.0.128.0/17"]);
    let subnets = check(&list, ids::SUBNETS);
    assert_eq!(subnets.status, Status::Fail);
    assert!(
        evidence(subnets).contains(
            "vpc-0123abcd: 10.0.0.0/16 has no room for two /24 subnets; its subnets take 10.0.0.0/17, 10.0.128.0/17"
        ),
        "{subnets:#?}"
    );
    assert!(fix(subnets).contains("set `cidr_block` to a free range"));
}

#[test]
fn text_and_json_show_every_check_and_the_outcome() {
    let config = config(&[("assign_public_ip", "false")]);
    let list = evaluate(&config, &facts(&config, network(isolated_table())));
    let text = list.render_text();
    assert!(
        text.contains(
            "[FAIL] Every subnet has a path out to the image registry, AWS APIs and Matillion  (network.path_out)"
        ),
        "{text}"
    );
    assert!(text.contains("       fix: add a default route to a NAT gateway in rtb-0isolated"), "{text}");
    assert!(text.contains("[PASS] AWS credentials work  (credentials)"), "{text}");
    assert!(text.trim_end().ends_with("12 checks: 11 passed, 0 warnings, 1 failed"), "{text}");

    let json = list.to_json();
    assert_eq!(json["ok"], false);
    assert_eq!(json["summary"], serde_json::json!({"passed": 11, "warnings": 0, "failed": 1}));
    let path = json["checks"].as_array().unwrap().iter().find(|c| c["id"] == "network.path_out").unwrap();
    assert_eq!(path["status"], "fail");
    assert!(path["fix"].as_str().unwrap().contains("rtb-0isolated"));
    assert!(path["evidence"].as_array().unwrap().len() >= 2);
    // Facts round-trip as JSON, so the AWS side can record and replay them.
    let f = facts(&config, network(isolated_table()));
    let back: DoctorFacts = serde_json::from_value(serde_json::to_value(&f).unwrap()).unwrap();
    assert_eq!(back, f);
}

// --- what the agent may reach ---------------------------------------------------

fn access_config(extra: &[(&str, &str)]) -> Config {
    load_ok(&tfvars(extra)).config
}

fn with_access(config: &Config, access: AccessFacts) -> DoctorFacts {
    let mut f = DoctorFacts::from_config(config);
    f.credentials =
        Credentials::Valid { account: "123456789012".into(), arn: "arn:aws:iam::123456789012:user/ops".into() };
    f.access = access;
    f
}

#[test]
fn named_secrets_buckets_and_policies_are_looked_up_with_evidence_and_fix() {
    let config = access_config(&[
        ("secrets_access", "\"read\""),
        ("secret_names", "[\"warehouse-password\", \"typo-pasword\", \"matillion/*\"]"),
        ("staging_buckets", "[\"acme-landing\", \"acme-gone\", \"acme-us\"]"),
        (
            "task_role_policy_arns",
            "[\"arn:aws:iam::123456789012:policy/glue\", \"arn:aws:iam::123456789012:policy/nope\"]",
        ),
    ]);
    // Prefixes are not looked up: they name no one secret.
    assert_eq!(exact_secret_names(&config), ["typo-pasword", "warehouse-password"]);
    let access = AccessFacts {
        secrets: vec![("typo-pasword".into(), Lookup::Missing), ("warehouse-password".into(), Lookup::Found)],
        buckets: vec![
            ("acme-gone".into(), Lookup::Missing),
            ("acme-landing".into(), Lookup::Found),
            ("acme-us".into(), Lookup::OtherRegion("us-east-1".into())),
        ],
        managed_policies: vec![
            ("arn:aws:iam::123456789012:policy/glue".into(), Lookup::Found),
            ("arn:aws:iam::123456789012:policy/nope".into(), Lookup::Missing),
        ],
        simulation: Simulation::NotRun("no such role yet".into()),
    };
    let list = evaluate(&config, &with_access(&config, access));
    let secrets = check(&list, ids::SECRET_NAMES);
    assert_eq!(secrets.status, Status::Warn);
    assert!(evidence(secrets).contains("typo-pasword does not exist in eu-west-1"), "{secrets:#?}");
    assert!(fix(secrets).contains("create typo-pasword in Secrets Manager in eu-west-1"), "{secrets:#?}");
    let buckets = check(&list, ids::STAGING_BUCKETS);
    assert_eq!(buckets.status, Status::Fail);
    assert!(evidence(buckets).contains("acme-gone does not exist"), "{buckets:#?}");
    assert!(evidence(buckets).contains("acme-us is in us-east-1, not eu-west-1"), "{buckets:#?}");
    let policies = check(&list, ids::MANAGED_POLICIES);
    assert_eq!(policies.status, Status::Fail);
    assert!(fix(policies).contains("remove it from `task_role_policy_arns`"), "{policies:#?}");
    // Without the simulator, the policies apply writes grant every need.
    let effective = check(&list, ids::EFFECTIVE_ACCESS);
    assert_eq!(effective.status, Status::Pass, "{effective:#?}");
    assert!(evidence(effective).contains("IAM's policy simulator not used: no such role yet"), "{effective:#?}");
    assert!(
        evidence(effective).contains("secretsmanager:ListSecrets, secretsmanager:GetSecretValue, s3:ListBucket"),
        "{effective:#?}"
    );
    assert!(list.failed());
}

#[test]
fn a_deny_in_the_users_policy_that_blocks_the_baseline_fails_the_effective_check() {
    let deny = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "NoSecrets", "Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}"#;
    let config = access_config(&[("task_role_policy", &format!("<<EOT\n{deny}\nEOT"))]);
    let list = evaluate(&config, &with_access(&config, AccessFacts::not_gathered(&config)));
    let effective = check(&list, ids::EFFECTIVE_ACCESS);
    assert_eq!(effective.status, Status::Fail);
    assert!(evidence(effective).contains("secretsmanager:GetSecretValue on arn:aws:secretsmanager:eu-west-1:123456789012:secret:doctor-probe-AbC123: explicitDeny (NoSecrets)"), "{effective:#?}");
    assert!(fix(effective).contains("a Deny in `task_role_policy`"), "{effective:#?}");
}

#[test]
fn the_simulators_verdicts_win_over_the_rendered_policies() {
    let config = access_config(&[("secrets_access", "\"read\"")]);
    let needs = agent_needs(&config, "123456789012");
    let results = needs
        .iter()
        .map(|(action, resource)| Simulated {
            action: action.clone(),
            resource: resource.clone(),
            // A permission boundary the rendered policies cannot see.
            decision: if action.starts_with("s3:Put") { "implicitDeny" } else { "allowed" }.into(),
        })
        .collect();
    let access = AccessFacts { simulation: Simulation::Results(results), ..AccessFacts::not_gathered(&config) };
    let list = evaluate(&config, &with_access(&config, access));
    let effective = check(&list, ids::EFFECTIVE_ACCESS);
    assert_eq!(effective.status, Status::Fail);
    assert!(evidence(effective).contains("IAM's policy simulator, on the deployed task role"), "{effective:#?}");
    assert!(
        evidence(effective).contains(
            "s3:PutObject on arn:aws:s3:::data-insights-staging-123456789012-eu-west-1/doctor-probe: implicitDeny"
        ),
        "{effective:#?}"
    );
}

#[test]
fn endpoints_only_need_the_sidecar_images_in_private_ecr_too() {
    // The agent's image is mirrored, the sidecars' are the public defaults: ECS
    // pulls every image before a task starts, so no task would start.
    let config = config(&[
        ("assign_public_ip", "false"),
        ("image_url", &format!("\"{PRIVATE_IMAGE}\"")),
        ("proxy_https", "\"http://proxy.internal:3128\""),
        ("metrics", "true"),
    ]);
    let mut net = network(isolated_table());
    net.vpc_endpoints = all_endpoints();
    let list = evaluate(&config, &facts(&config, net.clone()));
    let path = check(&list, ids::PATH_OUT);
    assert_eq!(path.status, Status::Fail, "{path:#?}");
    let ev = evidence(path);
    for (var, image) in [
        ("metrics_image_url", "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300071.0b1720"),
        ("guard_image_url", "public.ecr.aws/amazonlinux/amazonlinux:2023.12.20260831.0"),
    ] {
        assert!(
            ev.contains(&format!("the sidecar image {image} ({var}) cannot be pulled through VPC endpoints")),
            "{ev}"
        );
    }
    assert!(fix(path).contains("set metrics_image_url and guard_image_url to them"), "{}", fix(path));

    // Every image of the task is checked like the agent's.
    for id in ["image.metrics", "image.guard"] {
        let c = check(&list, id);
        assert_eq!(c.status, Status::Pass, "{c:#?}");
        assert!(evidence(c).contains("registry public.ecr.aws"), "{c:#?}");
    }

    // Mirrored, or the sidecars off: the path holds again.
    let mirrored = self::config(&[
        ("assign_public_ip", "false"),
        ("image_url", &format!("\"{PRIVATE_IMAGE}\"")),
        ("proxy_https", "\"http://proxy.internal:3128\""),
        ("guard_image_url", &format!("\"{PRIVATE_GUARD}\"")),
    ]);
    assert_eq!(check_path_out(&mirrored, &facts(&mirrored, net.clone())).status, Status::Pass);
    let off = self::config(&[
        ("assign_public_ip", "false"),
        ("image_url", &format!("\"{PRIVATE_IMAGE}\"")),
        ("proxy_https", "\"http://proxy.internal:3128\""),
        ("protect_running_pipelines", "false"),
    ]);
    let off_list = evaluate(&off, &facts(&off, net));
    assert_eq!(check(&off_list, ids::PATH_OUT).status, Status::Pass);
    assert!(off_list.get("image.guard").is_none(), "no guard, no guard image to check");
}
