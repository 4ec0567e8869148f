//! Gathers what `agentctl doctor` needs from AWS into the core's `DoctorFacts`
//! (all reads, concurrently), plus checks of the deployment's own resources.

use agentctl_core::config::{Config, NetworkConfig, SecurityGroupConfig};
use agentctl_core::doctor::{
    Check, Credentials, DoctorFacts, EgressRuleFacts, EndpointKind, NatConnectivity, NatGatewayFacts, NetworkFacts,
    RouteFacts, RouteState, RouteTableFacts, RouteTarget, SecurityGroupFacts, Status, SubnetFacts, VpcEndpointFacts,
    VpcFacts, FARGATE_ON_DEMAND_VCPU_QUOTA_CODE,
};
use agentctl_core::model::{addr, Stack};
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
            let mut cidr_blocks: Vec<String> =
                v.cidr_block_association_set().iter().filter_map(|c| c.cidr_block().map(str::to_owned)).collect();
            if cidr_blocks.is_empty() {
                cidr_blocks.extend(v.cidr_block().map(str::to_owned));
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

async fn fargate_quota(aws: &Aws) -> Option<f64> {
    let sq = aws_sdk_servicequotas::Client::new(&aws.sdk_config);
    let out = sq
        .get_service_quota()
        .service_code("fargate")
        .quota_code(FARGATE_ON_DEMAND_VCPU_QUOTA_CODE)
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
    let (network, quota) = tokio::join!(
        async {
            match &existing {
                Some((vpc, subnets)) => network(aws, vpc, subnets, &sg_ids).await.map(Some),
                None => Ok(None),
            }
        },
        fargate_quota(aws),
    );
    facts.network = network?;
    facts.fargate_vcpu_quota = quota;
    Ok(facts)
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
            Some(agentctl_core::plan::Action::NoChange) => role.evidence.push(
                "its policy grants secretsmanager:GetSecretValue on the agent's secret and log writes on its log group"
                    .into(),
            ),
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
    if live.resources.contains_key(&addr::SERVICE) {
        let s = crate::ops::ServiceRef::of(aws, stack);
        let stopped = crate::ops::tasks(aws, &s, true).await?;
        let ctx = agentctl_core::rollout::DiagnosisContext {
            image: config.image_url.clone(),
            execution_role: s.execution_role.clone(),
            secret_arn: live.resources.get(&addr::SECRET).map(|l| l.id.clone()).unwrap_or_default(),
            memory_mib: config.agent_memory,
        };
        let diagnoses = agentctl_core::rollout::diagnose(
            &stopped.iter().map(crate::ops::TaskInfo::as_stopped).collect::<Vec<_>>(),
            &ctx,
        );
        let mut c = Check::new("deployment.recent_failures", "Recent task failures", Status::Pass);
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
