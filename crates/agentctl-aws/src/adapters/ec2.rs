//! EC2: VPC, internet gateway, subnets, route table, security group, flow log.
//! These have no names of their own; agentctl finds them by their `Name` tag.

use std::collections::BTreeMap;

use agentctl_core::cidr::FoundSubnet;
use agentctl_core::model::{
    addr, Address, EgressRule, FlowLogSpec, InternetGatewaySpec, KindSpec, Resource, Route, RouteTableSpec,
    SecurityGroupSpec, Spec, SubnetSpec, VpcSpec,
};
use agentctl_core::names::Names;
use agentctl_core::plan::{Known, LiveResource};
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, FlowLogsResourceType, IpPermission, IpRange, LogDestinationType, ResourceType, Tag,
    TagSpecification, TrafficType, UserIdGroupPair, VpcAttributeName,
};

use super::{outputs, Adapter, DeleteOptions, Outputs, ReadContext};
use crate::error::{sdk, ApiError, Error, Meaning};
use crate::wait::{self, Poll};
use crate::Aws;

fn filter(name: &str, values: &[&str]) -> Filter {
    Filter::builder().name(name).set_values(Some(values.iter().map(|v| (*v).to_owned()).collect())).build()
}

fn tags_of(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}

fn tag_spec(kind: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
        .build()
}

/// Prefers the one carrying our ownership tag when several share a Name.
fn pick<T>(items: Vec<(T, BTreeMap<String, String>)>, deployment: &str) -> Option<(T, BTreeMap<String, String>)> {
    let mut items = items;
    let ours = items
        .iter()
        .position(|(_, t)| t.get(agentctl_core::model::OWNERSHIP_TAG).map(String::as_str) == Some(deployment));
    match ours {
        Some(i) => Some(items.swap_remove(i)),
        None => items.into_iter().next(),
    }
}

fn live(id: String, tags: BTreeMap<String, String>, spec: Spec) -> LiveResource {
    LiveResource { outputs: outputs(&[("id", &id)]), id, tags, spec, unreported: vec![] }
}

fn ports(p: &IpPermission) -> String {
    match (p.from_port(), p.to_port()) {
        (Some(a), Some(b)) if a == b && a != -1 => a.to_string(),
        (Some(a), Some(b)) if a != -1 => format!("{a}-{b}"),
        _ => "all".into(),
    }
}

fn rules(perms: &[IpPermission]) -> Vec<EgressRule> {
    let mut out: Vec<EgressRule> = perms
        .iter()
        .flat_map(|p| {
            let protocol = p.ip_protocol().unwrap_or("-1").to_owned();
            let ports = ports(p);
            let v4 = p.ip_ranges().iter().filter_map(|r| r.cidr_ip().map(str::to_owned));
            let v6 = p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6().map(str::to_owned));
            let groups = p.user_id_group_pairs().iter().filter_map(|g| g.group_id().map(str::to_owned));
            v4.chain(v6)
                .chain(groups)
                .map(move |cidr| EgressRule { protocol: protocol.clone(), ports: ports.clone(), cidr })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}

/// Rules whose source or destination is a group of the stack, with its id.
fn resolved(rules: &[EgressRule], known: &Known) -> Vec<EgressRule> {
    rules.iter().map(|r| EgressRule { cidr: known.resolve_str(&r.cidr), ..r.clone() }).collect()
}

/// A rule's peer is a CIDR block, or a security group (`sg-...`).
fn permission(rule: &EgressRule) -> IpPermission {
    let b = IpPermission::builder().ip_protocol(&rule.protocol);
    let b = if rule.cidr.starts_with("sg-") {
        b.user_id_group_pairs(UserIdGroupPair::builder().group_id(&rule.cidr).build())
    } else {
        b.ip_ranges(IpRange::builder().cidr_ip(&rule.cidr).build())
    };
    let b = match rule.ports.split_once('-') {
        _ if rule.ports == "all" => b,
        Some((a, z)) => b.from_port(a.parse().unwrap_or(0)).to_port(z.parse().unwrap_or(0)),
        None => b.from_port(rule.ports.parse().unwrap_or(0)).to_port(rule.ports.parse().unwrap_or(0)),
    };
    b.build()
}

/// The one of `items` carrying `name`'s Name tag, preferring ours.
fn named<T: Clone>(
    items: &[T],
    tags: impl Fn(&T) -> &[Tag],
    name: &str,
    deployment: &str,
) -> Option<(T, BTreeMap<String, String>)> {
    let matching = items
        .iter()
        .map(|i| (i.clone(), tags_of(tags(i))))
        .filter(|(_, t)| t.get("Name").map(String::as_str) == Some(name))
        .collect();
    pick(matching, deployment)
}

/// `what` an EC2 create of `r` is doing, for its errors.
fn creating(r: &Resource) -> String {
    format!("creating {} {}", r.addr.kind.noun(), r.name)
}

/// Filters that find `r` made by this deployment (in `vpc`, for what lives in
/// one) after a create whose answer was lost. Group names are unique per VPC;
/// the others carry our Name tag.
fn own_filters(r: &Resource, by_group_name: bool, vpc: Option<&str>) -> Option<Vec<Filter>> {
    use agentctl_core::model::OWNERSHIP_TAG;
    let owner = r.tags.get(OWNERSHIP_TAG).map(String::as_str).unwrap_or_default();
    let mut filters = vec![filter(&format!("tag:{OWNERSHIP_TAG}"), &[owner])];
    filters.push(if by_group_name { filter("group-name", &[&r.name]) } else { filter("tag:Name", &[&r.name]) });
    if let Some(vpc) = vpc {
        filters.push(filter("vpc-id", &[vpc]));
    }
    Some(filters)
}

fn looking_for(r: &Resource) -> String {
    format!("looking for {} {}", r.addr.kind.noun(), r.name)
}

impl Adapter for VpcSpec {
    /// In two waves: the VPC, then its DNS attributes (which need its id).
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        let vpcs = aws
            .ec2
            .describe_vpcs()
            .filters(filter("tag:Name", &[&names.vpc]))
            .send()
            .await
            .map_err(sdk("reading VPCs"))?;
        let Some((v, tags)) =
            pick(vpcs.vpcs().iter().map(|v| (v.clone(), tags_of(v.tags()))).collect(), &names.deployment)
        else {
            return Ok(vec![]);
        };
        let id = v.vpc_id().unwrap_or_default().to_owned();
        let attribute = |attribute| aws.ec2.describe_vpc_attribute().vpc_id(&id).attribute(attribute).send();
        let (support, hostnames) = tokio::join!(
            attribute(VpcAttributeName::EnableDnsSupport),
            attribute(VpcAttributeName::EnableDnsHostnames)
        );
        let (support, hostnames) =
            (support.map_err(sdk("reading VPC attributes"))?, hostnames.map_err(sdk("reading VPC attributes"))?);
        let spec = VpcSpec {
            cidr_block: v.cidr_block().unwrap_or_default().to_owned(),
            enable_dns_support: support.enable_dns_support().and_then(|a| a.value()).unwrap_or(false),
            enable_dns_hostnames: hostnames.enable_dns_hostnames().and_then(|a| a.value()).unwrap_or(false),
        };
        Ok(vec![(addr::VPC, live(id, tags, Spec::Vpc(spec)))])
    }

    async fn create(&self, aws: &Aws, r: &Resource, _: &Known) -> Result<Outputs, Error> {
        let what = creating(r);
        let (id, _) = create_once(
            &what,
            || async {
                let sent = aws
                    .ec2
                    .create_vpc()
                    .cidr_block(&self.cidr_block)
                    .tag_specifications(tag_spec(ResourceType::Vpc, &r.tags))
                    .customize()
                    .config_override(no_sdk_retry())
                    .send()
                    .await;
                attempt(&what, sent, |o| o.vpc().and_then(|v| v.vpc_id()), false)
            },
            || async {
                let out = aws
                    .ec2
                    .describe_vpcs()
                    .set_filters(own_filters(r, false, None))
                    .send()
                    .await
                    .map_err(sdk(looking_for(r)))?;
                Ok(out.vpcs().iter().find_map(|v| v.vpc_id()).map(str::to_owned))
            },
        )
        .await?;
        set_dns(aws, &id, self).await?;
        Ok(outputs(&[("id", &id)]))
    }

    async fn update(
        &self,
        aws: &Aws,
        r: &Resource,
        have: &Self,
        live: &LiveResource,
        _: &Known,
    ) -> Result<Outputs, Error> {
        if self != have {
            set_dns(aws, &live.id, self).await?;
        }
        update_tags(aws, &live.id, &live.tags, &r.tags).await?;
        Ok(live.outputs.clone())
    }

    async fn delete(aws: &Aws, _: &str, live: &LiveResource, _: &Self, _: DeleteOptions) -> Result<(), Error> {
        let (id, what) = (&live.id, deleting(live));
        while_in_use(&what, || async { aws.ec2.delete_vpc().vpc_id(id).send().await.map(|_| ()).map_err(sdk(&what)) })
            .await
    }
}

fn deleting(live: &LiveResource) -> String {
    format!("deleting {} {}", live.spec.kind().noun(), live.id)
}

impl Adapter for InternetGatewaySpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        let out = aws
            .ec2
            .describe_internet_gateways()
            .filters(filter("tag:Name", &[&names.igw]))
            .send()
            .await
            .map_err(sdk("reading internet gateways"))?;
        let found =
            pick(out.internet_gateways().iter().map(|g| (g.clone(), tags_of(g.tags()))).collect(), &names.deployment);
        Ok(found
            .map(|(g, tags)| {
                let vpc_id = g.attachments().iter().find_map(|a| a.vpc_id()).unwrap_or_default().to_owned();
                let id = g.internet_gateway_id().unwrap_or_default().to_owned();
                (addr::IGW, live(id, tags, Spec::InternetGateway(InternetGatewaySpec { vpc_id })))
            })
            .into_iter()
            .collect())
    }

    async fn create(&self, aws: &Aws, r: &Resource, known: &Known) -> Result<Outputs, Error> {
        let what = creating(r);
        let (id, _) = create_once(
            &what,
            || async {
                let sent = aws
                    .ec2
                    .create_internet_gateway()
                    .tag_specifications(tag_spec(ResourceType::InternetGateway, &r.tags))
                    .customize()
                    .config_override(no_sdk_retry())
                    .send()
                    .await;
                attempt(&what, sent, |o| o.internet_gateway().and_then(|g| g.internet_gateway_id()), false)
            },
            || async {
                let out = aws
                    .ec2
                    .describe_internet_gateways()
                    .set_filters(own_filters(r, false, None))
                    .send()
                    .await
                    .map_err(sdk(looking_for(r)))?;
                Ok(out.internet_gateways().iter().find_map(|g| g.internet_gateway_id()).map(str::to_owned))
            },
        )
        .await?;
        attach_gateway(aws, &id, &known.resolve_str(&self.vpc_id)).await?;
        Ok(outputs(&[("id", &id)]))
    }

    async fn update(
        &self,
        aws: &Aws,
        r: &Resource,
        have: &Self,
        live: &LiveResource,
        known: &Known,
    ) -> Result<Outputs, Error> {
        // Created, then the run was killed before attaching it.
        if have.vpc_id.is_empty() {
            attach_gateway(aws, &live.id, &known.resolve_str(&self.vpc_id)).await?;
        }
        update_tags(aws, &live.id, &live.tags, &r.tags).await?;
        Ok(live.outputs.clone())
    }

    async fn delete(aws: &Aws, _: &str, live: &LiveResource, have: &Self, _: DeleteOptions) -> Result<(), Error> {
        let (id, what) = (&live.id, deleting(live));
        if !have.vpc_id.is_empty() {
            while_in_use(&what, || async {
                aws.ec2
                    .detach_internet_gateway()
                    .internet_gateway_id(id)
                    .vpc_id(&have.vpc_id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk(format!("detaching internet gateway {id}")))
            })
            .await
            .or_else(|e| super::gone_ok(Err(e)))?;
        }
        aws.ec2.delete_internet_gateway().internet_gateway_id(id).send().await.map(|_| ()).map_err(sdk(&what))
    }
}

/// An existing VPC's primary CIDR and every subnet in it, the deployment's two
/// marked (by Name and ownership tag): where new subnets can go.
pub async fn room_in_vpc(aws: &Aws, vpc_id: &str, names: &Names) -> Result<(String, Vec<FoundSubnet>), Error> {
    let (vpcs, subnets) = tokio::join!(
        aws.ec2.describe_vpcs().vpc_ids(vpc_id).send(),
        aws.ec2.describe_subnets().filters(filter("vpc-id", &[vpc_id])).into_paginator().items().send().try_collect(),
    );
    let reading = format!("reading VPC {vpc_id}");
    let vpc_cidr = vpcs.map_err(sdk(&reading))?.vpcs().first().and_then(|v| v.cidr_block()).map(str::to_owned);
    let Some(vpc_cidr) = vpc_cidr else {
        return Err(Error::Aws(ApiError::new(reading, "InvalidVpcID.NotFound", format!("no VPC {vpc_id} here"))));
    };
    let ours = |s: &aws_sdk_ec2::types::Subnet| {
        let tags = tags_of(s.tags());
        if tags.get(agentctl_core::model::OWNERSHIP_TAG) != Some(&names.deployment) {
            return None;
        }
        [&names.subnet_a, &names.subnet_b].iter().position(|n| tags.get("Name") == Some(n))
    };
    let found = subnets
        .map_err(sdk(format!("reading the subnets of VPC {vpc_id}")))?
        .iter()
        .map(|s| FoundSubnet { cidr: s.cidr_block().unwrap_or_default().to_owned(), ours: ours(s) })
        .collect();
    Ok((vpc_cidr, found))
}

impl Adapter for SubnetSpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        let out = aws
            .ec2
            .describe_subnets()
            .filters(filter("tag:Name", &[&names.subnet_a, &names.subnet_b]))
            .send()
            .await
            .map_err(sdk("reading subnets"))?;
        let mut found = Vec::new();
        for (address, name) in [(addr::SUBNET_A, &names.subnet_a), (addr::SUBNET_B, &names.subnet_b)] {
            if let Some((s, tags)) = named(out.subnets(), |s| s.tags(), name, &names.deployment) {
                let spec = SubnetSpec {
                    vpc_id: s.vpc_id().unwrap_or_default().to_owned(),
                    cidr_block: s.cidr_block().unwrap_or_default().to_owned(),
                    availability_zone: s.availability_zone().unwrap_or_default().to_owned(),
                };
                found.push((address, live(s.subnet_id().unwrap_or_default().to_owned(), tags, Spec::Subnet(spec))));
            }
        }
        Ok(found)
    }

    async fn create(&self, aws: &Aws, r: &Resource, known: &Known) -> Result<Outputs, Error> {
        let what = creating(r);
        let vpc = known.resolve_str(&self.vpc_id);
        let (id, _) = create_once(
            &what,
            || async {
                let sent = aws
                    .ec2
                    .create_subnet()
                    .vpc_id(&vpc)
                    .cidr_block(&self.cidr_block)
                    .availability_zone(&self.availability_zone)
                    .tag_specifications(tag_spec(ResourceType::Subnet, &r.tags))
                    .customize()
                    .config_override(no_sdk_retry())
                    .send()
                    .await;
                // A conflict with its own CIDR: an earlier attempt made it.
                attempt(&what, sent, |o| o.subnet().and_then(|s| s.subnet_id()), true)
            },
            || async {
                let out = aws
                    .ec2
                    .describe_subnets()
                    .set_filters(own_filters(r, false, Some(&vpc)))
                    .send()
                    .await
                    .map_err(sdk(looking_for(r)))?;
                Ok(out.subnets().iter().find_map(|s| s.subnet_id()).map(str::to_owned))
            },
        )
        .await?;
        Ok(outputs(&[("id", &id)]))
    }

    async fn update(
        &self,
        aws: &Aws,
        r: &Resource,
        _: &Self,
        live: &LiveResource,
        _: &Known,
    ) -> Result<Outputs, Error> {
        update_tags(aws, &live.id, &live.tags, &r.tags).await?;
        Ok(live.outputs.clone())
    }

    async fn delete(aws: &Aws, _: &str, live: &LiveResource, _: &Self, _: DeleteOptions) -> Result<(), Error> {
        let (id, what) = (&live.id, deleting(live));
        while_in_use(&what, || async {
            aws.ec2.delete_subnet().subnet_id(id).send().await.map(|_| ()).map_err(sdk(&what))
        })
        .await
    }
}

impl Adapter for RouteTableSpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        let out = aws
            .ec2
            .describe_route_tables()
            .filters(filter("tag:Name", &[&names.route_table]))
            .send()
            .await
            .map_err(sdk("reading route tables"))?;
        let found =
            pick(out.route_tables().iter().map(|r| (r.clone(), tags_of(r.tags()))).collect(), &names.deployment);
        Ok(found
            .map(|(rt, tags)| {
                let id = rt.route_table_id().unwrap_or_default().to_owned();
                (addr::ROUTE_TABLE, live(id, tags, Spec::RouteTable(route_table_spec(&rt))))
            })
            .into_iter()
            .collect())
    }

    async fn create(&self, aws: &Aws, r: &Resource, known: &Known) -> Result<Outputs, Error> {
        let what = creating(r);
        let vpc = known.resolve_str(&self.vpc_id);
        // The one create here that takes a token: the same for every attempt.
        let token = unique_token();
        let (id, adopted) = create_once(
            &what,
            || async {
                let sent = aws
                    .ec2
                    .create_route_table()
                    .client_token(&token)
                    .vpc_id(&vpc)
                    .tag_specifications(tag_spec(ResourceType::RouteTable, &r.tags))
                    .customize()
                    .config_override(no_sdk_retry())
                    .send()
                    .await;
                attempt(&what, sent, |o| o.route_table().and_then(|t| t.route_table_id()), false)
            },
            || async {
                let out = aws
                    .ec2
                    .describe_route_tables()
                    .set_filters(own_filters(r, false, Some(&vpc)))
                    .send()
                    .await
                    .map_err(sdk(looking_for(r)))?;
                Ok(out.route_tables().iter().find_map(|t| t.route_table_id()).map(str::to_owned))
            },
        )
        .await?;
        let empty = RouteTableSpec { vpc_id: String::new(), routes: vec![], subnet_ids: vec![] };
        // Adopted after a lost answer, it may hold some of these already.
        let have = if adopted { find_route_table(aws, &id).await?.unwrap_or(empty) } else { empty };
        reconcile_route_table(aws, &id, &have, self, known, &[]).await?;
        Ok(outputs(&[("id", &id)]))
    }

    async fn update(
        &self,
        aws: &Aws,
        r: &Resource,
        have: &Self,
        live: &LiveResource,
        known: &Known,
    ) -> Result<Outputs, Error> {
        let associations = route_table_associations(aws, &live.id).await?;
        reconcile_route_table(aws, &live.id, have, self, known, &associations).await?;
        update_tags(aws, &live.id, &live.tags, &r.tags).await?;
        Ok(live.outputs.clone())
    }

    async fn delete(aws: &Aws, _: &str, live: &LiveResource, _: &Self, _: DeleteOptions) -> Result<(), Error> {
        let (id, what) = (&live.id, deleting(live));
        // Both subnets' associations at once.
        let associations = route_table_associations(aws, id).await?;
        let disassociations = associations.iter().map(|(_, association)| async move {
            aws.ec2
                .disassociate_route_table()
                .association_id(association)
                .send()
                .await
                .map_err(sdk(format!("disassociating route table {id}")))
                .map(|_| ())
                .or_else(|e| super::gone_ok(Err(e)))
        });
        futures::future::try_join_all(disassociations).await?;
        aws.ec2.delete_route_table().route_table_id(id).send().await.map(|_| ()).map_err(sdk(&what))
    }
}

impl Adapter for SecurityGroupSpec {
    /// Group names are unique per VPC: only the one in our VPC (the existing one
    /// the config names, or ours by its Name tag) counts.
    async fn read(aws: &Aws, names: &Names, cx: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        let ours = names.of_kind(Self::KIND);
        let group_names: Vec<&str> = ours.iter().map(|(_, n)| *n).collect();
        let (groups, vpc) = tokio::try_join!(
            async {
                aws.ec2
                    .describe_security_groups()
                    .filters(filter("group-name", &group_names))
                    .send()
                    .await
                    .map_err(sdk("reading security groups"))
            },
            async {
                if let Some(hint) = cx.vpc_hint {
                    return Ok(Some(hint.to_owned()));
                }
                let vpcs = aws
                    .ec2
                    .describe_vpcs()
                    .filters(filter("tag:Name", &[&names.vpc]))
                    .send()
                    .await
                    .map_err(sdk("reading VPCs"))?;
                let ours =
                    pick(vpcs.vpcs().iter().map(|v| (v.clone(), tags_of(v.tags()))).collect(), &names.deployment);
                Ok::<_, Error>(ours.and_then(|(v, _)| v.vpc_id().map(str::to_owned)))
            },
        )?;
        let mut found = Vec::new();
        for (address, name) in ours {
            let matching = groups
                .security_groups()
                .iter()
                .filter(|g| g.group_name() == Some(name) && (vpc.is_none() || g.vpc_id() == vpc.as_deref()))
                .map(|g| (g.clone(), tags_of(g.tags())))
                .collect();
            if let Some((g, tags)) = pick(matching, &names.deployment) {
                let spec = SecurityGroupSpec {
                    vpc_id: g.vpc_id().unwrap_or_default().to_owned(),
                    description: g.description().unwrap_or_default().to_owned(),
                    ingress: rules(g.ip_permissions()),
                    egress: rules(g.ip_permissions_egress()),
                };
                found.push((
                    address,
                    live(g.group_id().unwrap_or_default().to_owned(), tags, Spec::SecurityGroup(spec)),
                ));
            }
        }
        Ok(found)
    }

    async fn create(&self, aws: &Aws, r: &Resource, known: &Known) -> Result<Outputs, Error> {
        let what = creating(r);
        let vpc = known.resolve_str(&self.vpc_id);
        let (id, _) = create_once(
            &what,
            || async {
                let sent = aws
                    .ec2
                    .create_security_group()
                    .group_name(&r.name)
                    .description(&self.description)
                    .vpc_id(&vpc)
                    .tag_specifications(tag_spec(ResourceType::SecurityGroup, &r.tags))
                    .customize()
                    .config_override(no_sdk_retry())
                    .send()
                    .await;
                // Its name taken in this VPC: an earlier attempt made it.
                attempt(&what, sent, |o| o.group_id(), true)
            },
            || async {
                let out = aws
                    .ec2
                    .describe_security_groups()
                    .set_filters(own_filters(r, true, Some(&vpc)))
                    .send()
                    .await
                    .map_err(sdk(looking_for(r)))?;
                Ok(out.security_groups().iter().find_map(|g| g.group_id()).map(str::to_owned))
            },
        )
        .await?;
        // AWS gives a new group "all egress to 0.0.0.0/0" and no ingress; make it exactly ours.
        let default = vec![EgressRule { protocol: "-1".into(), ports: "all".into(), cidr: "0.0.0.0/0".into() }];
        reconcile_rules(aws, &id, &default, &resolved(&self.egress, known), true).await?;
        reconcile_rules(aws, &id, &[], &resolved(&self.ingress, known), false).await?;
        Ok(outputs(&[("id", &id)]))
    }

    async fn update(
        &self,
        aws: &Aws,
        r: &Resource,
        have: &Self,
        live: &LiveResource,
        known: &Known,
    ) -> Result<Outputs, Error> {
        reconcile_rules(aws, &live.id, &have.egress, &resolved(&self.egress, known), true).await?;
        reconcile_rules(aws, &live.id, &have.ingress, &resolved(&self.ingress, known), false).await?;
        update_tags(aws, &live.id, &live.tags, &r.tags).await?;
        Ok(live.outputs.clone())
    }

    async fn delete(aws: &Aws, _: &str, live: &LiveResource, _: &Self, _: DeleteOptions) -> Result<(), Error> {
        let (id, what) = (&live.id, deleting(live));
        while_in_use(&what, || async {
            aws.ec2.delete_security_group().group_id(id).send().await.map(|_| ()).map_err(sdk(&what))
        })
        .await
    }
}

impl Adapter for FlowLogSpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        let out = aws
            .ec2
            .describe_flow_logs()
            .filter(filter("tag:Name", &[&names.flow_log]))
            .send()
            .await
            .map_err(sdk("reading VPC flow logs"))?;
        let found = pick(out.flow_logs().iter().map(|f| (f.clone(), tags_of(f.tags()))).collect(), &names.deployment);
        Ok(found
            .map(|(f, tags)| {
                let spec = FlowLogSpec {
                    vpc_id: f.resource_id().unwrap_or_default().to_owned(),
                    traffic_type: f.traffic_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                    log_group_name: f.log_group_name().unwrap_or_default().to_owned(),
                    deliver_logs_role_arn: f.deliver_logs_permission_arn().unwrap_or_default().to_owned(),
                    max_aggregation_interval: f.max_aggregation_interval().unwrap_or(600) as u32,
                };
                (addr::FLOW_LOG, live(f.flow_log_id().unwrap_or_default().to_owned(), tags, Spec::FlowLog(spec)))
            })
            .into_iter()
            .collect())
    }

    async fn create(&self, aws: &Aws, r: &Resource, known: &Known) -> Result<Outputs, Error> {
        let what = creating(r);
        // The token makes the SDK's retry of a create whose answer was lost
        // return the same flow log; a new one per create, so a flow log
        // deleted and wanted again is made anew.
        let token = unique_token();
        let out = aws
            .ec2
            .create_flow_logs()
            .resource_type(FlowLogsResourceType::Vpc)
            .resource_ids(known.resolve_str(&self.vpc_id))
            .traffic_type(TrafficType::from(self.traffic_type.as_str()))
            .log_destination_type(LogDestinationType::CloudWatchLogs)
            .log_group_name(&self.log_group_name)
            .deliver_logs_permission_arn(known.resolve_str(&self.deliver_logs_role_arn))
            .max_aggregation_interval(self.max_aggregation_interval as i32)
            .client_token(token)
            .tag_specifications(tag_spec(ResourceType::VpcFlowLog, &r.tags))
            .send()
            .await
            .map_err(sdk(&what))?;
        if let Some(failed) = out.unsuccessful().first() {
            let why = failed.error().and_then(|e| e.message()).unwrap_or("no reason given");
            let code = failed.error().and_then(|e| e.code()).unwrap_or("Unsuccessful");
            return Err(Error::Aws(ApiError::new(what, code, why)));
        }
        Ok(outputs(&[("id", out.flow_log_ids().first().map_or("", String::as_str))]))
    }

    /// Nothing of a flow log changes in place but its tags.
    async fn update(
        &self,
        aws: &Aws,
        r: &Resource,
        _: &Self,
        live: &LiveResource,
        _: &Known,
    ) -> Result<Outputs, Error> {
        update_tags(aws, &live.id, &live.tags, &r.tags).await?;
        Ok(live.outputs.clone())
    }

    async fn delete(aws: &Aws, _: &str, live: &LiveResource, _: &Self, _: DeleteOptions) -> Result<(), Error> {
        let (id, what) = (&live.id, deleting(live));
        let out = aws.ec2.delete_flow_logs().flow_log_ids(id).send().await.map_err(sdk(&what))?;
        match out.unsuccessful().first().and_then(|f| f.error()) {
            Some(e) => {
                let err =
                    ApiError::new(what, e.code().unwrap_or("Unsuccessful"), e.message().unwrap_or("no reason given"));
                // Already gone: the first attempt took effect.
                if err.meaning == Meaning::NotFound {
                    Ok(())
                } else {
                    Err(Error::Aws(err))
                }
            }
            None => Ok(()),
        }
    }
}

/// How one attempt of an EC2 create ended.
enum Attempt {
    Created(String),
    /// Refused before doing anything (throttled): try again.
    Refused(Error),
    /// May have taken effect (no answer, a server error): look before trying again.
    Unsure(Error),
    /// A conflict with what exists: after a lost answer, what an earlier attempt
    /// made; on the first attempt, a real conflict.
    Conflict(Error),
    Failed(Error),
}

/// How long a resource made by an attempt whose answer was lost may take to show
/// in Describe* (EC2 is eventually consistent): looked for twice, this far apart.
const VISIBLE_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Most EC2 creates take no client token, so the SDK's own retry of one whose
/// answer was lost would make a second resource. These are sent once per
/// attempt instead; after an attempt that may have taken effect, the resource
/// is looked for by its tags (`find`) and adopted. Returns the id, and whether
/// it was adopted rather than made by the attempt that answered.
async fn create_once<C, CFut, F, FFut>(what: &str, mut create: C, mut find: F) -> Result<(String, bool), Error>
where
    C: FnMut() -> CFut,
    CFut: std::future::Future<Output = Attempt>,
    F: FnMut() -> FFut,
    FFut: std::future::Future<Output = Result<Option<String>, Error>>,
{
    const ATTEMPTS: u32 = 8;
    // The attempts bound this wait, not time.
    let mut pauses = wait::Backoff::CREATE.within(std::time::Duration::MAX);
    let mut unsure_before = false;
    let mut n = 0;
    loop {
        n += 1;
        let (last, look) = match create().await {
            Attempt::Created(id) => return Ok((id, false)),
            Attempt::Failed(e) => return Err(e),
            Attempt::Conflict(e) if !unsure_before => return Err(e),
            Attempt::Refused(e) => (e, false),
            Attempt::Unsure(e) | Attempt::Conflict(e) => (e, true),
        };
        if look {
            unsure_before = true;
            // Twice, apart: a miss right after the create may only be EC2 lagging.
            for _ in 0..2 {
                tokio::time::sleep(VISIBLE_WITHIN).await;
                match find().await {
                    Ok(Some(id)) => return Ok((id, true)),
                    Ok(None) => {}
                    Err(e) => return Err(Error::aws(what, format!("{last}; then, looking for it: {e}"))),
                }
            }
        }
        if n == ATTEMPTS {
            return Err(last);
        }
        tracing::debug!("{what}: attempt {n} failed ({last}); trying again");
        pauses.pause().await;
    }
}

/// A client token unique to this create call (EC2 takes up to 64 ASCII characters).
fn unique_token() -> String {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("agentctl-{:x}-{nanos:x}-{seq}", std::process::id())
}

/// Retries of these creates are ours (`create_once`), not the SDK's.
fn no_sdk_retry() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled())
}

/// How an attempt ended; `conflict_is_ours`: "already exists" may be what an
/// earlier attempt of this create made.
fn attempt<O, E>(
    what: &str,
    sent: Result<
        O,
        aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
    >,
    id: impl FnOnce(&O) -> Option<&str>,
    conflict_is_ours: bool,
) -> Attempt
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let e = match sent {
        Ok(out) => return Attempt::Created(id(&out).unwrap_or_default().to_owned()),
        Err(e) => e,
    };
    let answered = e.as_service_error().is_some();
    let server_error = e.raw_response().is_some_and(|r| r.status().is_server_error());
    let err = sdk(what)(e);
    if err.is(Meaning::Throttled) {
        Attempt::Refused(err)
    } else if conflict_is_ours && err.is(Meaning::AlreadyExists) {
        Attempt::Conflict(err)
    } else if !answered || server_error {
        Attempt::Unsure(err)
    } else {
        Attempt::Failed(err)
    }
}

/// A change that finds itself already made succeeded (its first attempt's
/// answer was lost and the SDK retried).
fn already(r: Result<(), Error>, meaning: Meaning) -> Result<(), Error> {
    match r {
        Err(e) if e.is(meaning) => Ok(()),
        other => other,
    }
}

/// Attaches the gateway to `vpc`. "Already attached" is success only when to
/// this VPC (a retried call), which the gateway's own attachments tell.
async fn attach_gateway(aws: &Aws, id: &str, vpc: &str) -> Result<(), Error> {
    let attached = aws
        .ec2
        .attach_internet_gateway()
        .internet_gateway_id(id)
        .vpc_id(vpc)
        .send()
        .await
        .map(|_| ())
        .map_err(sdk(format!("attaching internet gateway {id}")));
    match attached {
        Err(e) if e.is(Meaning::AlreadyExists) => {
            let found = aws
                .ec2
                .describe_internet_gateways()
                .internet_gateway_ids(id)
                .send()
                .await
                .map_err(sdk(format!("reading internet gateway {id}")))?;
            let to_this_vpc =
                found.internet_gateways().iter().flat_map(|g| g.attachments()).any(|a| a.vpc_id() == Some(vpc));
            if to_this_vpc {
                Ok(())
            } else {
                Err(e)
            }
        }
        other => other,
    }
}

/// A route table's routes and associated subnets, as the model holds them.
fn route_table_spec(rt: &aws_sdk_ec2::types::RouteTable) -> RouteTableSpec {
    let mut routes: Vec<Route> = rt
        .routes()
        .iter()
        .filter(|r| r.gateway_id() != Some("local"))
        .map(|r| Route {
            destination: r.destination_cidr_block().unwrap_or_default().to_owned(),
            gateway_id: r.gateway_id().or(r.nat_gateway_id()).unwrap_or_default().to_owned(),
        })
        .collect();
    routes.sort();
    let mut subnet_ids: Vec<String> = rt
        .associations()
        .iter()
        .filter(|a| a.main() != Some(true))
        .filter_map(|a| a.subnet_id().map(str::to_owned))
        .collect();
    subnet_ids.sort();
    RouteTableSpec { vpc_id: rt.vpc_id().unwrap_or_default().to_owned(), routes, subnet_ids }
}

/// A route table by id, as the model holds it.
async fn find_route_table(aws: &Aws, id: &str) -> Result<Option<RouteTableSpec>, Error> {
    let out = aws
        .ec2
        .describe_route_tables()
        .route_table_ids(id)
        .send()
        .await
        .map_err(sdk(format!("reading route table {id}")))?;
    Ok(out.route_tables().first().map(route_table_spec))
}

async fn set_dns(aws: &Aws, id: &str, s: &VpcSpec) -> Result<(), Error> {
    // One attribute per call, as the API requires, support first: AWS accepts
    // DNS hostnames only in a VPC with DNS support.
    let b = |v: bool| AttributeBooleanValue::builder().value(v).build();
    let sent = aws.ec2.modify_vpc_attribute().vpc_id(id).enable_dns_support(b(s.enable_dns_support)).send();
    sent.await.map_err(sdk(format!("enabling DNS support on {id}")))?;
    let sent = aws.ec2.modify_vpc_attribute().vpc_id(id).enable_dns_hostnames(b(s.enable_dns_hostnames)).send();
    sent.await.map_err(sdk(format!("enabling DNS hostnames on {id}")))?;
    Ok(())
}

async fn reconcile_rules(
    aws: &Aws,
    id: &str,
    have: &[EgressRule],
    want: &[EgressRule],
    egress: bool,
) -> Result<(), Error> {
    let add: Vec<IpPermission> = want.iter().filter(|r| !have.contains(r)).map(permission).collect();
    let remove: Vec<IpPermission> = have.iter().filter(|r| !want.contains(r)).map(permission).collect();
    let dir = if egress { "egress" } else { "ingress" };
    if !add.is_empty() {
        let what = format!("adding {dir} rules to security group {id}");
        let added = if egress {
            let sent = aws.ec2.authorize_security_group_egress().group_id(id).set_ip_permissions(Some(add)).send();
            sent.await.map(|_| ()).map_err(sdk(what))
        } else {
            let sent = aws.ec2.authorize_security_group_ingress().group_id(id).set_ip_permissions(Some(add)).send();
            sent.await.map(|_| ()).map_err(sdk(what))
        };
        match added {
            // Some are there already (a retried call whose first attempt took
            // effect): the call added none, so add them one at a time.
            Err(e) if e.is(Meaning::AlreadyExists) => {
                for rule in want.iter().filter(|r| !have.contains(r)) {
                    let one = if egress {
                        let sent = aws
                            .ec2
                            .authorize_security_group_egress()
                            .group_id(id)
                            .ip_permissions(permission(rule))
                            .send();
                        sent.await.map(|_| ()).map_err(sdk(format!("adding {dir} rule to security group {id}")))
                    } else {
                        let sent = aws
                            .ec2
                            .authorize_security_group_ingress()
                            .group_id(id)
                            .ip_permissions(permission(rule))
                            .send();
                        sent.await.map(|_| ()).map_err(sdk(format!("adding {dir} rule to security group {id}")))
                    };
                    already(one, Meaning::AlreadyExists)?;
                }
            }
            other => other?,
        }
    }
    if !remove.is_empty() {
        let what = format!("removing {dir} rules from security group {id}");
        let removed = if egress {
            let sent = aws.ec2.revoke_security_group_egress().group_id(id).set_ip_permissions(Some(remove)).send();
            sent.await.map(|_| ()).map_err(sdk(what))
        } else {
            let sent = aws.ec2.revoke_security_group_ingress().group_id(id).set_ip_permissions(Some(remove)).send();
            sent.await.map(|_| ()).map_err(sdk(what))
        };
        already(removed, Meaning::NotFound)?;
    }
    Ok(())
}

/// Routes and associations are independent calls: all additions at once, then
/// all removals at once (a route may be replaced, never left missing).
async fn reconcile_route_table(
    aws: &Aws,
    id: &str,
    have: &RouteTableSpec,
    want: &RouteTableSpec,
    known: &Known,
    associations: &[(String, String)],
) -> Result<(), Error> {
    let want_subnets: Vec<String> = want.subnet_ids.iter().map(|s| known.resolve_str(s)).collect();
    let mut additions: Vec<futures::future::BoxFuture<'_, Result<(), Error>>> = Vec::new();
    for route in &want.routes {
        let gateway = known.resolve_str(&route.gateway_id);
        match have.routes.iter().find(|r| r.destination == route.destination) {
            Some(r) if r.gateway_id == gateway => {}
            Some(_) => additions.push(Box::pin(async move {
                aws.ec2
                    .replace_route()
                    .route_table_id(id)
                    .destination_cidr_block(&route.destination)
                    .gateway_id(&gateway)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk(format!("replacing route {} in {id}", route.destination)))
            })),
            None => additions.push(Box::pin(async move {
                let added = aws
                    .ec2
                    .create_route()
                    .route_table_id(id)
                    .destination_cidr_block(&route.destination)
                    .gateway_id(&gateway)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(sdk(format!("adding route {} to {id}", route.destination)));
                match added {
                    // There already (a retried call, or another target): make it ours.
                    Err(e) if e.is(Meaning::AlreadyExists) => aws
                        .ec2
                        .replace_route()
                        .route_table_id(id)
                        .destination_cidr_block(&route.destination)
                        .gateway_id(&gateway)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(sdk(format!("replacing route {} in {id}", route.destination))),
                    other => other,
                }
            })),
        }
    }
    for subnet in want_subnets.iter().filter(|s| !have.subnet_ids.contains(s)) {
        additions.push(Box::pin(async move {
            let associated = aws
                .ec2
                .associate_route_table()
                .route_table_id(id)
                .subnet_id(subnet)
                .send()
                .await
                .map(|_| ())
                .map_err(sdk(format!("associating {subnet} with route table {id}")));
            match associated {
                // Fine if with this table (a retried call); not if with another.
                Err(e) if e.is(Meaning::AlreadyExists) => {
                    let ours = route_table_associations(aws, id).await?.iter().any(|(s, _)| s == subnet);
                    if ours {
                        Ok(())
                    } else {
                        Err(e)
                    }
                }
                other => other,
            }
        }));
    }
    futures::future::try_join_all(additions).await?;
    let mut removals: Vec<futures::future::BoxFuture<'_, Result<(), Error>>> = Vec::new();
    for route in have.routes.iter().filter(|r| !want.routes.iter().any(|w| w.destination == r.destination)) {
        removals.push(Box::pin(async move {
            aws.ec2
                .delete_route()
                .route_table_id(id)
                .destination_cidr_block(&route.destination)
                .send()
                .await
                .map(|_| ())
                .map_err(sdk(format!("removing route {} from {id}", route.destination)))
        }));
    }
    for (subnet, association) in associations.iter().filter(|(s, _)| !want_subnets.contains(s)) {
        removals.push(Box::pin(async move {
            aws.ec2
                .disassociate_route_table()
                .association_id(association)
                .send()
                .await
                .map(|_| ())
                .map_err(sdk(format!("disassociating {subnet} from route table {id}")))
        }));
    }
    futures::future::try_join_all(removals).await?;
    Ok(())
}

async fn route_table_associations(aws: &Aws, id: &str) -> Result<Vec<(String, String)>, Error> {
    let out = aws
        .ec2
        .describe_route_tables()
        .route_table_ids(id)
        .send()
        .await
        .map_err(sdk(format!("reading route table {id}")))?;
    Ok(out
        .route_tables()
        .iter()
        .flat_map(|t| t.associations())
        .filter(|a| a.main() != Some(true))
        .filter_map(|a| Some((a.subnet_id()?.to_owned(), a.route_table_association_id()?.to_owned())))
        .collect())
}

async fn update_tags(
    aws: &Aws,
    id: &str,
    have: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> Result<(), Error> {
    let set: Vec<Tag> = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(v))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let unset: Vec<Tag> =
        have.keys().filter(|k| !want.contains_key(*k)).map(|k| Tag::builder().key(k).build()).collect();
    if !set.is_empty() {
        aws.ec2.create_tags().resources(id).set_tags(Some(set)).send().await.map_err(sdk(format!("tagging {id}")))?;
    }
    if !unset.is_empty() {
        aws.ec2
            .delete_tags()
            .resources(id)
            .set_tags(Some(unset))
            .send()
            .await
            .map_err(sdk(format!("untagging {id}")))?;
    }
    Ok(())
}

/// ENIs of stopped tasks linger for a while after the service is gone; AWS
/// answers DependencyViolation until they are released.
async fn while_in_use<F, Fut>(what: &str, mut call: F) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    wait::until(what, std::time::Duration::from_secs(600), || {
        let fut = call();
        async move {
            match fut.await {
                Ok(()) => Ok(Poll::Ready(())),
                Err(e) if e.is(Meaning::InUse) => Ok(Poll::Pending(e.to_string())),
                Err(e) => Err(e),
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::{create_once, Attempt};
    use crate::error::Error;

    fn err(code: &str) -> Error {
        Error::aws("creating VPC x", format!("{code}: ..."))
    }

    /// Runs `create_once` over scripted attempts and lookups; returns its result
    /// and how many lookups it made.
    async fn run(attempts: Vec<Attempt>, found: Vec<Option<&str>>) -> (Result<(String, bool), Error>, usize) {
        let attempts = std::cell::RefCell::new(attempts.into_iter());
        let found = std::cell::RefCell::new(found.into_iter());
        let looked = Cell::new(0);
        let out = create_once(
            "creating VPC x",
            || {
                let next = attempts.borrow_mut().next().expect("no more attempts scripted");
                async move { next }
            },
            || {
                looked.set(looked.get() + 1);
                let next = found.borrow_mut().next().flatten().map(str::to_owned);
                async move { Ok(next) }
            },
        )
        .await;
        (out, looked.get())
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_answer_adopts_what_the_attempt_made() {
        // Not visible at the first look (EC2 lags), found at the second.
        let (out, looked) = run(vec![Attempt::Unsure(err("dispatch failure"))], vec![None, Some("vpc-1")]).await;
        assert_eq!(out.unwrap(), ("vpc-1".to_owned(), true));
        assert_eq!(looked, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_found_means_another_attempt() {
        let (out, looked) =
            run(vec![Attempt::Unsure(err("InternalError")), Attempt::Created("vpc-2".into())], vec![None, None]).await;
        assert_eq!(out.unwrap(), ("vpc-2".to_owned(), false));
        assert_eq!(looked, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_conflict_on_the_first_attempt_is_a_real_one() {
        let (out, looked) = run(vec![Attempt::Conflict(err("InvalidSubnet.Conflict"))], vec![]).await;
        assert!(out.unwrap_err().to_string().contains("InvalidSubnet.Conflict"));
        assert_eq!(looked, 0, "no lookup: nothing of ours can be there yet");
    }

    #[tokio::test(start_paused = true)]
    async fn a_conflict_after_a_lost_answer_is_our_own_earlier_attempt() {
        let (out, _) = run(
            vec![Attempt::Unsure(err("dispatch failure")), Attempt::Conflict(err("InvalidSubnet.Conflict"))],
            vec![None, None, Some("subnet-1")],
        )
        .await;
        assert_eq!(out.unwrap(), ("subnet-1".to_owned(), true));
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_without_looking_and_other_errors_stop() {
        let (out, looked) =
            run(vec![Attempt::Refused(err("RequestLimitExceeded")), Attempt::Created("vpc-3".into())], vec![]).await;
        assert_eq!(out.unwrap(), ("vpc-3".to_owned(), false));
        assert_eq!(looked, 0);
        let (out, looked) = run(vec![Attempt::Failed(err("VpcLimitExceeded"))], vec![]).await;
        assert!(out.unwrap_err().to_string().contains("VpcLimitExceeded"));
        assert_eq!(looked, 0);
    }
}
