//! Gathers what `agentctl doctor` needs from AWS into the core's `DoctorFacts`
//! (all reads, concurrently), plus checks of the deployment's own resources.

use agentctl_core::config::{Config, NetworkConfig, SecurityGroupConfig};
use agentctl_core::doctor::{
    AccessFacts, Check, Credentials, DoctorFacts, EgressRuleFacts, EndpointKind, Lookup, NatConnectivity,
    NatGatewayFacts, NetworkFacts, RouteFacts, RouteState, RouteTableFacts, RouteTarget, SecurityGroupFacts, Simulated,
    Simulation, Status, SubnetFacts, VpcEndpointFacts, VpcFacts, FARGATE_ON_DEMAND_VCPU_QUOTA_CODE,
};
use agentctl_core::model::{addr, ServiceRole, Stack};
use agentctl_core::names::Names;
use aws_sdk_ec2::types::{Filter, RouteTable};

use crate::error::{sdk, Error};
use crate::Aws;

fn filter(name: &str, values: Vec<String>) -> Filter {
    Filter::builder().name(name).set_values(Some(values)).build()
}

fn route_table(t: &RouteTable) -> RouteTableFacts {
    RouteTableFacts {
        id: t.route_table_id().unwrap_or_default().to_owned(),
        main: t.associations().iter().any(|a| a.main() == Some(true)),
        routes: t
            .routes()
            .iter()
            .map(|r| {
                let (target, id) = if let Some(g) = r.gateway_id() {
                    if g == "local" {
                        (RouteTarget::Local, g)
                    } else if g.starts_with("igw-") {
                        (RouteTarget::InternetGateway, g)
                    } else if g.starts_with("vpce-") {
                        (RouteTarget::VpcEndpoint, g)
                    } else {
                        (RouteTarget::Other, g)
                    }
                } else if let Some(n) = r.nat_gateway_id() {
                    (RouteTarget::NatGateway, n)
                } else {
                    (
                        RouteTarget::Other,
                        r.transit_gateway_id()
                            .or(r.network_interface_id())
                            .or(r.vpc_peering_connection_id())
                            .unwrap_or("?"),
                    )
                };
                RouteFacts {
                    destination: r
                        .destination_cidr_block()
                        .or(r.destination_prefix_list_id())
                        .unwrap_or_default()
                        .to_owned(),
                    target,
                    target_id: id.to_owned(),
                    state: if r.state().map(|s| s.as_str()) == Some("blackhole") {
                        RouteState::Blackhole
                    } else {
                        RouteState::Active
                    },
                }
            })
            .collect(),
    }
}

/// Reads the existing VPC, subnets, route tables, NAT gateways, endpoints and
/// security groups the config names.
async fn network(aws: &Aws, vpc_id: &str, subnet_ids: &[String], sg_ids: &[String]) -> Result<NetworkFacts, Error> {
    let in_vpc = || filter("vpc-id", vec![vpc_id.to_owned()]);
    let (vpcs, subnets, tables, nats, endpoints, sgs) = tokio::join!(
        aws.ec2.describe_vpcs().filters(filter("vpc-id", vec![vpc_id.to_owned()])).send(),
        async {
            if subnet_ids.is_empty() {
                Ok(None)
            } else {
                aws.ec2.describe_subnets().filters(filter("subnet-id", subnet_ids.to_vec())).send().await.map(Some)
            }
        },
        aws.ec2.describe_route_tables().filters(in_vpc()).send(),
        aws.ec2.describe_nat_gateways().filter(in_vpc()).send(),
        aws.ec2.describe_vpc_endpoints().filters(in_vpc()).send(),
        async {
            if sg_ids.is_empty() {
                Ok(None)
            } else {
                aws.ec2.describe_security_groups().filters(filter("group-id", sg_ids.to_vec())).send().await.map(Some)
            }
        },
    );
    let vpcs = vpcs.map_err(sdk(format!("reading VPC {vpc_id}")))?;
    let tables = tables.map_err(sdk("reading route tables"))?;
    let main = tables.route_tables().iter().find(|t| t.associations().iter().any(|a| a.main() == Some(true)));
    let vpc = match vpcs.vpcs().first() {
        None => None,
        Some(v) => {
            let id = v.vpc_id().unwrap_or_default().to_owned();
            let (support, hostnames, dhcp) = tokio::join!(
                aws.ec2
                    .describe_vpc_attribute()
                    .vpc_id(&id)
                    .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport)
                    .send(),
                aws.ec2
                    .describe_vpc_attribute()
                    .vpc_id(&id)
                    .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
                    .send(),
                aws.ec2
                    .describe_dhcp_options()
                    .set_dhcp_options_ids(v.dhcp_options_id().map(|d| vec![d.to_owned()]))
                    .send(),
            );
            let dns_servers = dhcp.ok().and_then(|d| {
                d.dhcp_options().first().map(|o| {
                    o.dhcp_configurations()
                        .iter()
                        .filter(|c| c.key() == Some("domain-name-servers"))
                        .flat_map(|c| c.values().iter().filter_map(|v| v.value().map(str::to_owned)))
                        .collect()
                })
            });
            // The primary block first: new subnets are carved from it.
            let mut cidr_blocks: Vec<String> = v.cidr_block().map(str::to_owned).into_iter().collect();
            for block in v.cidr_block_association_set().iter().filter_map(|c| c.cidr_block()) {
                if !cidr_blocks.iter().any(|b| b == block) {
                    cidr_blocks.push(block.to_owned());
                }
            }
            Some(VpcFacts {
                id,
                cidr_blocks,
                dns_support: support.ok().and_then(|a| a.enable_dns_support().and_then(|b| b.value())).unwrap_or(false),
                dns_hostnames: hostnames
                    .ok()
                    .and_then(|a| a.enable_dns_hostnames().and_then(|b| b.value()))
                    .unwrap_or(false),
                dns_servers,
                subnets: vec![],
            })
        }
    };
    let subnets = match subnets.map_err(sdk("reading subnets"))? {
        None => vec![],
        Some(out) => out
            .subnets()
            .iter()
            .map(|s| {
                let id = s.subnet_id().unwrap_or_default().to_owned();
                let associated = tables
                    .route_tables()
                    .iter()
                    .find(|t| t.associations().iter().any(|a| a.subnet_id() == Some(id.as_str())));
                SubnetFacts {
                    vpc_id: s.vpc_id().unwrap_or_default().to_owned(),
                    availability_zone: s.availability_zone().unwrap_or_default().to_owned(),
                    available_ips: s.available_ip_address_count().unwrap_or(0).max(0) as u32,
                    route_table: associated.or(main).map(route_table).unwrap_or(RouteTableFacts {
                        id: "(none)".into(),
                        main: true,
                        routes: vec![],
                    }),
                    id,
                }
            })
            .collect(),
    };
    let nat_gateways = nats
        .map_err(sdk("reading NAT gateways"))?
        .nat_gateways()
        .iter()
        .map(|n| NatGatewayFacts {
            id: n.nat_gateway_id().unwrap_or_default().to_owned(),
            state: n.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            connectivity: if n.connectivity_type().map(|c| c.as_str()) == Some("private") {
                NatConnectivity::Private
            } else {
                NatConnectivity::Public
            },
            subnet_id: n.subnet_id().unwrap_or_default().to_owned(),
        })
        .collect();
    let vpc_endpoints = endpoints
        .map_err(sdk("reading VPC endpoints"))?
        .vpc_endpoints()
        .iter()
        .map(|e| VpcEndpointFacts {
            id: e.vpc_endpoint_id().unwrap_or_default().to_owned(),
            service_name: e.service_name().unwrap_or_default().to_owned(),
            kind: if e.vpc_endpoint_type().map(|t| t.as_str()) == Some("Gateway") {
                EndpointKind::Gateway
            } else {
                EndpointKind::Interface
            },
            state: e.state().map(|s| s.as_str().to_lowercase()).unwrap_or_default(),
            subnet_ids: e.subnet_ids().to_vec(),
            route_table_ids: e.route_table_ids().to_vec(),
            private_dns: e.private_dns_enabled().unwrap_or(false),
        })
        .collect();
    let security_groups = match sgs.map_err(sdk("reading security groups"))? {
        None => vec![],
        Some(out) => out
            .security_groups()
            .iter()
            .map(|g| SecurityGroupFacts {
                id: g.group_id().unwrap_or_default().to_owned(),
                vpc_id: g.vpc_id().unwrap_or_default().to_owned(),
                egress: g
                    .ip_permissions_egress()
                    .iter()
                    .flat_map(|p| {
                        let protocol = p.ip_protocol().unwrap_or("-1").to_owned();
                        let ports = match (p.from_port(), p.to_port()) {
                            (Some(a), Some(b)) if a >= 0 && b >= 0 && protocol != "-1" => Some((a as u16, b as u16)),
                            _ => None,
                        };
                        let dests = p
                            .ip_ranges()
                            .iter()
                            .filter_map(|r| r.cidr_ip().map(str::to_owned))
                            .chain(p.prefix_list_ids().iter().filter_map(|l| l.prefix_list_id().map(str::to_owned)))
                            .chain(p.user_id_group_pairs().iter().filter_map(|u| u.group_id().map(str::to_owned)))
                            .collect::<Vec<_>>();
                        dests.into_iter().map(move |destination| EgressRuleFacts {
                            protocol: protocol.clone(),
                            ports,
                            destination,
                        })
                    })
                    .collect(),
            })
            .collect(),
    };
    Ok(NetworkFacts {
        vpc,
        subnets,
        main_route_table: main.map(route_table),
        nat_gateways,
        vpc_endpoints,
        security_groups,
    })
}

/// Optional reads that only add evidence (the quota, the policy simulator): one
/// retry, so a service that cannot answer (an emulator's 500) does not hold doctor
/// up for the full retry budget of the calls that matter.
fn probe_retries() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(2)
}

async fn fargate_quota(aws: &Aws) -> Option<f64> {
    let out = aws
        .quotas
        .get_service_quota()
        .service_code("fargate")
        .quota_code(FARGATE_ON_DEMAND_VCPU_QUOTA_CODE)
        .customize()
        .config_override(aws_sdk_servicequotas::config::Builder::default().retry_config(probe_retries()))
        .send()
        .await
        .ok()?;
    out.quota().and_then(|q| q.value())
}

/// Facts for `doctor::evaluate`, with credentials already proven by `Aws::connect`.
pub async fn facts(aws: &Aws, config: &Config) -> Result<DoctorFacts, Error> {
    let mut facts = DoctorFacts::from_config(config);
    facts.credentials = Credentials::Valid { account: aws.account_id.clone(), arn: aws.caller_arn.clone() };
    let existing = match &config.network {
        NetworkConfig::New { .. } => None,
        NetworkConfig::ExistingVpc { vpc_id, .. } => Some((vpc_id.clone(), vec![])),
        NetworkConfig::Existing { vpc_id, subnet_ids, .. } => Some((vpc_id.clone(), subnet_ids.clone())),
    };
    let sg_ids = match config.network.security_group() {
        SecurityGroupConfig::Existing(ids) => ids.clone(),
        SecurityGroupConfig::Create => vec![],
    };
    let runner_image = config.script_runner.as_ref().map(|r| r.image_url.clone());
    let sidecar_images: Vec<String> = facts.sidecars.iter().map(|c| c.image.clone()).collect();
    let (network, quota, image, runner_lookup, sidecar_lookups, access) = tokio::join!(
        async {
            let Some((vpc, subnets)) = &existing else { return Ok(None) };
            let mut facts = network(aws, vpc, subnets, &sg_ids).await?;
            // New subnets in it: where there is room.
            if let (Some(v), NetworkConfig::ExistingVpc { .. }) = (facts.vpc.as_mut(), &config.network) {
                let names = Names::of_config(config, Some(&aws.account_id));
                v.subnets = crate::adapters::ec2::room_in_vpc(aws, vpc, &names).await?.1;
            }
            Ok(Some(facts))
        },
        fargate_quota(aws),
        crate::registry::lookup(aws, &config.image_url),
        async {
            match &runner_image {
                Some(image) => Some(crate::registry::lookup(aws, image).await),
                None => None,
            }
        },
        futures::future::join_all(sidecar_images.iter().map(|image| crate::registry::lookup(aws, image))),
        access(aws, config),
    );
    facts.network = network?;
    facts.fargate_vcpu_quota = quota;
    facts.image_lookup = image;
    if let (Some(runner), Some(lookup)) = (facts.script_runner.as_mut(), runner_lookup) {
        runner.image_lookup = lookup;
    }
    for (sidecar, lookup) in facts.sidecars.iter_mut().zip(sidecar_lookups) {
        sidecar.image_lookup = lookup;
    }
    facts.access = access;
    Ok(facts)
}

/// `Found` / `Missing` from a lookup's result; anything else is why it was not read.
fn lookup<T>(result: Result<T, Error>) -> Lookup {
    match result {
        Ok(_) => Lookup::Found,
        Err(e) if e.is(crate::Meaning::NotFound) => Lookup::Missing,
        Err(e) => Lookup::NotRead(e.to_string()),
    }
}

/// The secrets, buckets and managed policies the config names, and IAM's
/// policy simulator on the deployed task role: all at once.
async fn access(aws: &Aws, config: &Config) -> AccessFacts {
    let secrets = futures::future::join_all(agentctl_core::doctor::exact_secret_names(config).into_iter().map(
        |name| async move {
            let found = aws
                .secrets
                .describe_secret()
                .secret_id(&name)
                .send()
                .await
                .map_err(sdk(format!("reading secret {name}")));
            let l = match found {
                // In its recovery window: gone for the agent.
                Ok(d) if d.deleted_date().is_some() => Lookup::Missing,
                other => lookup(other),
            };
            (name, l)
        },
    ));
    let buckets = futures::future::join_all(config.access.staging_buckets.iter().map(|bucket| async move {
        let found =
            aws.s3.get_bucket_location().bucket(bucket).send().await.map_err(sdk(format!("reading bucket {bucket}")));
        let l = match found {
            Ok(out) => {
                // No constraint is us-east-1; "EU" is S3's old name of eu-west-1.
                let region = match out.location_constraint().map(|c| c.as_str()).unwrap_or_default() {
                    "" => "us-east-1",
                    "EU" => "eu-west-1",
                    other => other,
                };
                if region == config.region {
                    Lookup::Found
                } else {
                    Lookup::OtherRegion(region.to_owned())
                }
            }
            Err(e) => lookup::<()>(Err(e)),
        };
        (bucket.clone(), l)
    }));
    let policies = futures::future::join_all(config.access.managed_policy_arns.iter().map(|arn| async move {
        let found = aws.iam.get_policy().policy_arn(arn).send().await.map_err(sdk(format!("reading policy {arn}")));
        (arn.clone(), lookup(found))
    }));
    let (secrets, buckets, managed_policies, simulation) =
        tokio::join!(secrets, buckets, policies, simulate_task_role(aws, config));
    AccessFacts { secrets, buckets, managed_policies, simulation }
}

/// IAM's policy simulator on the deployed task role, for every need of the
/// agent: it sees what agentctl cannot (managed policies, a permission boundary).
async fn simulate_task_role(aws: &Aws, config: &Config) -> Simulation {
    use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum};
    let needs = agentctl_core::doctor::agent_needs(config, &aws.account_id);
    let role = format!(
        "arn:{}:iam::{}:role/{}",
        agentctl_core::regions::partition(&config.region),
        aws.account_id,
        agentctl_core::names::task_role(&config.name)
    );
    let mut actions: Vec<String> = needs.iter().map(|(a, _)| a.clone()).collect();
    actions.sort();
    actions.dedup();
    let mut resources: Vec<String> = needs.iter().map(|(_, r)| r.clone()).collect();
    resources.sort();
    resources.dedup();
    let region = ContextEntry::builder()
        .context_key_name("aws:RequestedRegion")
        .context_key_type(ContextKeyTypeEnum::String)
        .context_key_values(&config.region)
        .build();
    let out = aws
        .iam
        .simulate_principal_policy()
        .policy_source_arn(&role)
        .set_action_names(Some(actions))
        .set_resource_arns(Some(resources))
        .context_entries(region)
        .customize()
        .config_override(aws_sdk_iam::config::Builder::default().retry_config(probe_retries()))
        .send()
        .await
        .map_err(sdk(format!("simulating the policies of {role}")));
    match out {
        // Every action was tried on every resource: keep the pairs the agent needs.
        Ok(out) => Simulation::Results(
            out.evaluation_results()
                .iter()
                .filter(|r| {
                    needs
                        .iter()
                        .any(|(a, res)| a == r.eval_action_name() && Some(res.as_str()) == r.eval_resource_name())
                })
                .map(|r| Simulated {
                    action: r.eval_action_name().to_owned(),
                    resource: r.eval_resource_name().unwrap_or_default().to_owned(),
                    decision: r.eval_decision().as_str().to_owned(),
                })
                .collect(),
        ),
        Err(e) if e.is(crate::Meaning::NotFound) => Simulation::NotRun("the task role does not exist yet".into()),
        Err(e) => Simulation::NotRun(e.to_string()),
    }
}

/// Checks of the deployment's own resources, when they exist: drift in the
/// roles, the log group, and recent task failures.
pub async fn own_resources(aws: &Aws, stack: &Stack, config: &Config) -> Result<Vec<Check>, Error> {
    let live = crate::live::read(aws, stack, &[]).await?;
    let mut checks = Vec::new();
    if live.resources.is_empty() {
        let mut c = Check::new("deployment.resources", "Deployment's own resources", Status::Pass);
        c.evidence.push("nothing deployed yet: apply creates everything".into());
        return Ok(vec![c]);
    }
    let plan = agentctl_core::plan::diff(stack, &live);
    let mut role =
        Check::new("deployment.execution_role", "Execution role can read the secret and write logs", Status::Pass);
    match &plan {
        Err(foreign) => {
            role.status = Status::Fail;
            role.evidence.extend(
                foreign.iter().map(|f| format!("{} {} ({}) was not created by this deployment", f.kind, f.name, f.id)),
            );
            role.fix = Some("choose another `name`, or remove those resources".into());
        }
        Ok(plan) => match plan.get(addr::EXECUTION_ROLE).map(|c| c.action) {
            Some(agentctl_core::plan::Action::NoChange) => {
                role.evidence.push(
                    "its policy grants secretsmanager:GetSecretValue on the agent's secret and log writes on its log group"
                        .into(),
                );
                if let Some(key) = &config.kms_key_arn {
                    // The key's own policy must also let the account use it; not readable here.
                    role.evidence.push(format!(
                        "and kms:Decrypt on {key} through Secrets Manager (the key policy must allow this account)"
                    ));
                }
            }
            Some(agentctl_core::plan::Action::Create) | None => {
                role.status = Status::Warn;
                role.evidence.push("the execution role does not exist".into());
                role.fix = Some("run `agentctl apply`".into());
            }
            Some(_) => {
                role.status = Status::Fail;
                role.evidence.push("the execution role's policy or trust differs from what the task needs".into());
                role.fix = Some("run `agentctl plan` to see the drift and `agentctl apply` to repair it".into());
            }
        },
    }
    checks.push(role);
    let mut logs = Check::new("deployment.log_group", "Log group exists", Status::Pass);
    match live.resources.get(&addr::LOG_GROUP) {
        Some(l) => logs.evidence.push(format!("{} exists", l.id)),
        None => {
            logs.status = Status::Fail;
            logs.evidence.push("the agent's log group is missing: tasks fail to start with the awslogs driver".into());
            logs.fix = Some("run `agentctl apply`".into());
        }
    }
    checks.push(logs);
    if stack.get(addr::SCRIPT_RUNNER_SERVICE).is_some() {
        checks.push(script_runner_wiring(stack, &live));
    }
    for role in [ServiceRole::Agent, ServiceRole::ScriptRunner] {
        let Some(view) = stack.ecs_service(role).filter(|_| live.resources.contains_key(&role.address())) else {
            continue;
        };
        let stopped = crate::ops::tasks(aws, &view, true).await?;
        let diagnoses = agentctl_core::rollout::diagnose(
            &stopped.iter().map(crate::ops::TaskInfo::as_stopped).collect::<Vec<_>>(),
            &view.diagnosis_context(),
        );
        let (id, title) = match role {
            ServiceRole::Agent => ("deployment.recent_failures", "Recent task failures"),
            ServiceRole::ScriptRunner => ("script_runner.recent_failures", "Recent script runner task failures"),
        };
        let mut c = Check::new(id, title, Status::Pass);
        if diagnoses.is_empty() {
            c.evidence.push("no task stopped with an error in the last hour".into());
        } else {
            c.status = Status::Fail;
            for d in &diagnoses {
                c.evidence.push(format!("{} × {}: {}", d.count, d.reason, d.likely_cause));
            }
            c.fix = diagnoses.first().map(|d| d.fix.clone());
        }
        checks.push(c);
    }
    Ok(checks)
}

/// The script runner is reachable from the agent: its namespace exists, its
/// service registers `script-runner:2222` there, the agent's service is a
/// client of it, and its security group admits SSH from the agent's groups.
fn script_runner_wiring(stack: &Stack, live: &agentctl_core::plan::Live) -> Check {
    use agentctl_core::model::{Spec, SCRIPT_RUNNER_DNS_NAME, SCRIPT_RUNNER_PORT};
    let mut c = Check::new(
        "script_runner.service_connect",
        "The agent reaches the script runner at script-runner:2222",
        Status::Pass,
    );
    let mut missing = Vec::new();
    let namespace = live.resources.get(&addr::NAMESPACE);
    match namespace {
        Some(ns) => c.evidence.push(format!("Cloud Map namespace {} ({}) exists", stack.names(None).namespace, ns.id)),
        None => missing.push("the Cloud Map namespace does not exist".to_owned()),
    }
    let arn = namespace.and_then(|ns| ns.outputs.get("arn"));
    let service_connect = |a| match live.resources.get(&a).map(|l| (&l.spec, l.unreported.contains(&"service_connect")))
    {
        Some((Spec::EcsService(s), unreported)) => Some((s.service_connect.clone(), unreported)),
        _ => None,
    };
    let alias = format!("{SCRIPT_RUNNER_DNS_NAME}:{}", SCRIPT_RUNNER_PORT.1);
    match service_connect(addr::SCRIPT_RUNNER_SERVICE) {
        None => missing.push("the script runner's ECS service does not exist".into()),
        Some((_, true)) => c.evidence.push("ECS did not report the services' Service Connect settings".into()),
        Some((sc, false)) => {
            let registered = sc.as_ref().is_some_and(|sc| {
                Some(&sc.namespace) == arn
                    && sc
                        .services
                        .iter()
                        .any(|s| s.dns_name == SCRIPT_RUNNER_DNS_NAME && s.port == SCRIPT_RUNNER_PORT.1)
            });
            if registered {
                c.evidence.push(format!("the script runner's service registers {alias} in it"));
            } else {
                missing.push(format!("the script runner's service does not register {alias} in the namespace"));
            }
            match service_connect(addr::SERVICE) {
                Some((Some(agent), _)) if Some(&agent.namespace) == arn => {
                    c.evidence.push("the agent's service is a client of the namespace".into())
                }
                Some(_) => missing
                    .push("the agent's service is not in the namespace: its tasks cannot resolve script-runner".into()),
                None => missing.push("the agent's service does not exist".into()),
            }
        }
    }
    let agent_groups: Vec<String> = match live.resources.get(&addr::SECURITY_GROUP) {
        Some(sg) => vec![sg.id.clone()],
        None => stack.existing.security_group_ids.clone(),
    };
    match live.resources.get(&addr::SCRIPT_RUNNER_SECURITY_GROUP).map(|l| &l.spec) {
        Some(Spec::SecurityGroup(sg)) => {
            let port = SCRIPT_RUNNER_PORT.1.to_string();
            let open: Vec<&String> = agent_groups
                .iter()
                .filter(|g| sg.ingress.iter().any(|r| r.protocol == "tcp" && r.ports == port && &r.cidr == *g))
                .collect();
            if !agent_groups.is_empty() && open.len() == agent_groups.len() {
                c.evidence.push(format!("its security group admits TCP {port} from {}", agent_groups.join(", ")));
            } else {
                missing.push(format!(
                    "its security group does not admit TCP {port} from every agent security group ({})",
                    agent_groups.join(", ")
                ));
            }
        }
        _ => missing.push("the script runner's security group does not exist".into()),
    }
    if !missing.is_empty() {
        c.status = Status::Fail;
        c.evidence.extend(missing);
        c.fix = Some("run `agentctl plan` to see what differs and `agentctl apply` to repair it".into());
    }
    c
}

// --- a stack built by the reference Terraform module --------------------------------

/// Matillion's reference Terraform module names everything `NAME-SALT-suffix`,
/// SALT being six random letters and digits: the stack's id is `NAME-SALT`.
fn reference_id<'a>(resource: &'a str, suffix: &str) -> Option<&'a str> {
    let id = resource.strip_suffix(suffix)?.strip_suffix('-')?;
    let (name, salt) = id.rsplit_once('-')?;
    (!name.is_empty() && salt.len() == 6 && salt.chars().all(|c| c.is_ascii_alphanumeric())).then_some(id)
}

/// What was found of one reference stack, for the evidence.
#[derive(Default)]
struct Found {
    clusters: Vec<String>,
    services: Vec<String>,
    secrets: Vec<String>,
    roles: Vec<String>,
    log_groups: Vec<String>,
    security_groups: Vec<String>,
    vpcs: Vec<String>,
}

fn is_ours(tags: impl IntoIterator<Item = (Option<String>, Option<String>)>) -> bool {
    tags.into_iter().any(|(k, _)| k.as_deref() == Some(agentctl_core::model::OWNERSHIP_TAG))
}

/// Looks for resources of a stack built by the reference Terraform module in
/// this account and region (ECS clusters and services, secrets, IAM roles, log
/// groups, security groups, VPCs named as it names them, without agentctl's
/// ownership tag) and says what to do about it. List calls only; one that is
/// denied is reported, never fatal.
pub async fn reference_stack(aws: &Aws, config: &Config) -> Check {
    use std::collections::BTreeMap;
    let mut found: BTreeMap<String, Found> = BTreeMap::new();
    let mut unread: Vec<String> = Vec::new();

    let ecs = async {
        let clusters: Vec<String> = aws
            .ecs
            .list_clusters()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("listing ECS clusters"))?;
        let mut out = Vec::new();
        for c in clusters.iter().map(|a| a.rsplit('/').next().unwrap_or(a).to_owned()) {
            let Some(id) = reference_id(&c, "cluster").map(str::to_owned) else { continue };
            let services: Vec<String> = aws
                .ecs
                .list_services()
                .cluster(&c)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(sdk(format!("listing services of ECS cluster {c}")))?;
            let services: Vec<String> = services
                .iter()
                .map(|a| a.rsplit('/').next().unwrap_or(a).to_owned())
                .filter(|s| reference_id(s, "service") == Some(id.as_str()))
                .collect();
            out.push((id, c, services));
        }
        Ok::<_, Error>(out)
    };
    let secrets = async {
        let pages: Vec<_> =
            aws.secrets.list_secrets().into_paginator().send().try_collect().await.map_err(sdk("listing secrets"))?;
        let mut out = Vec::new();
        for s in pages.iter().flat_map(|p| p.secret_list()) {
            let name = s.name().unwrap_or_default();
            let tags = s.tags().iter().map(|t| (t.key().map(str::to_owned), t.value().map(str::to_owned)));
            if let Some(id) = reference_id(name, "agent-secret").filter(|_| !is_ours(tags)) {
                out.push((id.to_owned(), name.to_owned()));
            }
        }
        Ok::<_, Error>(out)
    };
    let roles = async {
        let roles: Vec<_> = aws
            .iam
            .list_roles()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("listing IAM roles"))?;
        let mut out = Vec::new();
        for r in &roles {
            let name = r.role_name();
            if let Some(id) =
                ["task-execution-role", "matillion-ecs-task-role"].iter().find_map(|suffix| reference_id(name, suffix))
            {
                out.push((id.to_owned(), name.to_owned()));
            }
        }
        Ok::<_, Error>(out)
    };
    let log_groups = async {
        let groups: Vec<_> = aws
            .logs
            .describe_log_groups()
            .log_group_name_prefix("/ecs/")
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("listing log groups"))?;
        let mut out = Vec::new();
        for g in &groups {
            let name = g.log_group_name().unwrap_or_default();
            if let Some(id) = name.strip_prefix("/ecs/").and_then(|n| reference_id(n, "task")) {
                out.push((id.to_owned(), name.to_owned()));
            }
        }
        Ok::<_, Error>(out)
    };
    let network = async {
        let (sgs, vpcs) = tokio::try_join!(
            async {
                aws.ec2
                    .describe_security_groups()
                    .filters(filter("group-name", vec!["*-ecs-sg".into(), "*-matillion-agent-security-group".into()]))
                    .send()
                    .await
                    .map_err(sdk("listing security groups"))
            },
            async {
                aws.ec2
                    .describe_vpcs()
                    .filters(filter("tag:Name", vec!["*-vpc".into()]))
                    .send()
                    .await
                    .map_err(sdk("listing VPCs"))
            },
        )?;
        let mut out = Vec::new();
        for g in sgs.security_groups() {
            let name = g.group_name().unwrap_or_default();
            let tags = g.tags().iter().map(|t| (t.key().map(str::to_owned), t.value().map(str::to_owned)));
            if let Some(id) = ["ecs-sg", "matillion-agent-security-group"]
                .iter()
                .find_map(|suffix| reference_id(name, suffix))
                .filter(|_| !is_ours(tags))
            {
                out.push((id.to_owned(), format!("sg:{} ({name})", g.group_id().unwrap_or_default())));
            }
        }
        for v in vpcs.vpcs() {
            let name = v.tags().iter().find(|t| t.key() == Some("Name")).and_then(|t| t.value()).unwrap_or_default();
            let tags = v.tags().iter().map(|t| (t.key().map(str::to_owned), t.value().map(str::to_owned)));
            if let Some(id) = reference_id(name, "vpc").filter(|_| !is_ours(tags)) {
                out.push((id.to_owned(), format!("vpc:{} ({name})", v.vpc_id().unwrap_or_default())));
            }
        }
        Ok::<_, Error>(out)
    };
    let (ecs, secrets, roles, log_groups, network) = tokio::join!(ecs, secrets, roles, log_groups, network);
    match ecs {
        Ok(list) => {
            for (id, cluster, services) in list {
                let f = found.entry(id).or_default();
                f.clusters.push(cluster);
                f.services.extend(services);
            }
        }
        Err(e) => unread.push(e.to_string()),
    }
    for (result, pick) in [
        (secrets, (|f: &mut Found| &mut f.secrets) as fn(&mut Found) -> &mut Vec<String>),
        (roles, |f: &mut Found| &mut f.roles),
        (log_groups, |f: &mut Found| &mut f.log_groups),
    ] {
        match result {
            Ok(list) => {
                for (id, name) in list {
                    pick(found.entry(id).or_default()).push(name);
                }
            }
            Err(e) => unread.push(e.to_string()),
        }
    }
    match network {
        Ok(list) => {
            for (id, what) in list {
                let f = found.entry(id).or_default();
                match what.split_once(':') {
                    Some(("sg", rest)) => f.security_groups.push(rest.to_owned()),
                    Some((_, rest)) => f.vpcs.push(rest.to_owned()),
                    None => {}
                }
            }
        }
        Err(e) => unread.push(e.to_string()),
    }
    // A salt-like suffix alone is weak evidence: a stack counts when an ECS
    // cluster, a secret or a role of it is there.
    found.retain(|_, f| !f.clusters.is_empty() || !f.secrets.is_empty() || !f.roles.is_empty());

    let title = "Stack built by the reference Terraform module";
    let id = "migration.reference_stack";
    if found.is_empty() {
        let mut c = Check::new(id, title, if unread.is_empty() { Status::Pass } else { Status::Warn });
        if unread.is_empty() {
            c.evidence.push(format!("none in {} (account {})", aws.region, aws.account_id));
        } else {
            c.evidence.push("not fully checked: some resources could not be listed".into());
            c.evidence.extend(unread);
            c.fix = Some(
                "grant the list permissions of `agentctl iam-policy` (ecs:ListClusters, ecs:ListServices, \
                 secretsmanager:ListSecrets, iam:ListRoles) to check"
                    .into(),
            );
        }
        return c;
    }
    let mut c = Check::new(id, title, Status::Warn);
    let used_vpc = match &config.network {
        NetworkConfig::New { .. } => None,
        NetworkConfig::ExistingVpc { vpc_id, .. } | NetworkConfig::Existing { vpc_id, .. } => Some(vpc_id.as_str()),
    };
    let mut keeps_network = false;
    for (stack, f) in &found {
        let mut parts = Vec::new();
        let list = |label: &str, items: &[String]| (!items.is_empty()).then(|| format!("{label} {}", items.join(", ")));
        parts.extend(list("ECS cluster", &f.clusters));
        parts.extend(list("service", &f.services));
        parts.extend(list("secret", &f.secrets));
        parts.extend(list("IAM roles", &f.roles));
        parts.extend(list("log group", &f.log_groups));
        parts.extend(list("security groups", &f.security_groups));
        parts.extend(list("VPC", &f.vpcs));
        c.evidence.push(format!("reference-module stack `{stack}`: {}", parts.join("; ")));
        if let Some(vpc) = used_vpc.filter(|v| f.vpcs.iter().any(|x| x.starts_with(&format!("{v} ")))) {
            keeps_network = true;
            c.evidence.push(format!("this config deploys into its VPC {vpc}: keep that network when removing it"));
        }
        if let (Some(cluster), Some(service)) = (f.clusters.first(), f.services.first()) {
            c.evidence.push(format!(
                "once agentctl's agents show as connected in Matillion Hub: aws ecs update-service --cluster {cluster} \
                 --service {service} --desired-count 0 --region {}",
                aws.region
            ));
        }
    }
    c.evidence.extend(unread.into_iter().map(|u| format!("not fully checked: {u}")));
    c.fix = Some(format!(
        "both stacks can run side by side with the same agent credentials; when agentctl's agents are connected, \
         scale the old service to 0, then run `terraform destroy` in the old module's folder{} — see \
         \"Migrating from the reference Terraform module\" in the README",
        if keeps_network {
            " after `terraform state rm` of its VPC, subnets, internet gateway and route table (agentctl uses them)"
        } else {
            ""
        }
    ));
    c
}

#[cfg(test)]
mod reference_tests {
    use super::reference_id;

    #[test]
    fn reference_names_are_recognised() {
        assert_eq!(reference_id("data-insights-aB3xYz-cluster", "cluster"), Some("data-insights-aB3xYz"));
        assert_eq!(reference_id("acme-Q1w2E3-agent-secret", "agent-secret"), Some("acme-Q1w2E3"));
        assert_eq!(reference_id("acme-Q1w2E3-task-execution-role", "task-execution-role"), Some("acme-Q1w2E3"));
        // agentctl's own names and near misses are not.
        assert_eq!(reference_id("acme", "cluster"), None);
        assert_eq!(reference_id("acme-agent-credentials", "agent-secret"), None);
        assert_eq!(reference_id("acme-execution-role", "task-execution-role"), None);
        assert_eq!(reference_id("acme-Q1w2E-cluster", "cluster"), None, "five characters");
        assert_eq!(reference_id("acme-Q1w2E!-cluster", "cluster"), None);
        assert_eq!(reference_id("-Q1w2E3-cluster", "cluster"), None, "no name");
    }
}
