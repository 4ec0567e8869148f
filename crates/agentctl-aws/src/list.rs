//! `agentctl list`: every agentctl deployment of a region, found by the
//! ownership tag on its agent's ECS service, or of every enabled region at once.
//!
//! Per region, three waves of requests:
//! 1. GetResources: the ECS services carrying the ownership tag (paginated);
//! 2. at once: DescribeServices per cluster (10 services a call) and
//!    DescribeScalableTargets of those services (50 a call);
//! 3. at once: DescribeTaskDefinition of each agent's task definition.
//!
//! A region without deployments costs one request.

use std::collections::BTreeMap;

use agentctl_core::cost::PriceTable;
use agentctl_core::list::{
    self, AgentService, DeploymentSummary, Listing, RegionError, ScalingRange, ServiceFacts, TaggedService,
    TaskDefinitionFacts,
};
use agentctl_core::model::OWNERSHIP_TAG;
use agentctl_core::regions::partition;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use futures::future::{join_all, try_join_all};

use crate::error::{sdk, Error, Meaning};
use crate::Clients;

/// Services DescribeServices takes in one call.
const SERVICES_PER_CALL: usize = 10;
/// Resource ids DescribeScalableTargets takes in one call.
const TARGETS_PER_CALL: usize = 50;

/// The deployments in `c`'s region.
pub async fn region(c: &Clients, prices: &PriceTable) -> Result<Vec<DeploymentSummary>, Error> {
    let agents = list::agent_services(&tagged_services(c).await?);
    if agents.is_empty() {
        return Ok(vec![]);
    }
    let (services, scaling) = tokio::try_join!(describe_services(c, &agents), scalable_targets(c, &agents))?;
    let live: Vec<(&AgentService, &ServiceFacts)> = agents
        .iter()
        .filter_map(|a| services.get(&(a.cluster.clone(), a.service.clone())).map(|s| (a, s)))
        .filter(|(_, s)| s.exists())
        .collect();
    let task_definitions = join_all(live.iter().map(|(_, s)| task_definition(c, &s.task_definition))).await;
    Ok(live
        .into_iter()
        .zip(task_definitions)
        .map(|((agent, service), td)| {
            let td = td.map_err(|e| e.to_string());
            list::summarize(
                &c.region,
                agent,
                service,
                td.as_ref().map_err(String::as_str),
                scaling.get(&agent.scaling_resource_id()).copied(),
                prices,
            )
        })
        .collect())
}

/// The deployments of `c`'s region alone: a failure is the command's.
pub async fn one_region(c: &Clients, prices: &PriceTable) -> Result<Listing, Error> {
    let deployments = region(c, prices).await?;
    Ok(Listing::new(deployments, vec![c.region.clone()], vec![]))
}

/// The deployments of every region enabled for the account (DescribeRegions,
/// then every region at once, each with its own clients). A region that
/// cannot be read is among the listing's errors; the others are listed.
pub async fn all_regions(base: &Clients, prices: &PriceTable) -> Result<Listing, Error> {
    let regions = enabled_regions(base).await?;
    let read = join_all(regions.iter().map(|r| async move {
        let clients = base.in_region(r);
        (r.clone(), region(&clients, prices).await)
    }))
    .await;
    let (mut deployments, mut ok, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for (r, result) in read {
        match result {
            Ok(found) => {
                deployments.extend(found);
                ok.push(r);
            }
            Err(e) => errors.push(RegionError { region: r, message: e.to_string() }),
        }
    }
    Ok(Listing::new(deployments, ok, errors))
}

/// Regions enabled for the account: those that need no opt-in, and those it
/// opted in to, in the partition of `c`'s region. AWS answers with no other;
/// an emulator may ignore the filter and answer with every partition's (whose
/// regions these credentials cannot use), so both are checked here again.
pub async fn enabled_regions(c: &Clients) -> Result<Vec<String>, Error> {
    const ENABLED: [&str; 2] = ["opt-in-not-required", "opted-in"];
    let filter = aws_sdk_ec2::types::Filter::builder()
        .name("opt-in-status")
        .set_values(Some(ENABLED.map(Into::into).to_vec()))
        .build();
    let out = c.ec2.describe_regions().filters(filter).send().await.map_err(sdk("listing the account's regions"))?;
    let mut regions: Vec<String> = out
        .regions()
        .iter()
        .filter(|r| r.opt_in_status().is_none_or(|s| ENABLED.contains(&s)))
        .filter_map(|r| r.region_name().map(str::to_owned))
        .filter(|r| partition(r) == partition(&c.region))
        .collect();
    regions.sort();
    regions.dedup();
    Ok(regions)
}

/// Wave 1: every ECS service of the region carrying the ownership tag.
async fn tagged_services(c: &Clients) -> Result<Vec<TaggedService>, Error> {
    use aws_sdk_resourcegroupstagging::types::TagFilter;
    let mappings = c
        .tagging
        .get_resources()
        .tag_filters(TagFilter::builder().key(OWNERSHIP_TAG).build())
        .resource_type_filters("ecs:service")
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk(format!("listing ECS services tagged {OWNERSHIP_TAG}")))?;
    Ok(mappings
        .iter()
        .filter_map(|m| {
            let deployment = m.tags().iter().find(|t| t.key() == OWNERSHIP_TAG)?.value();
            Some(TaggedService { arn: m.resource_arn()?.to_owned(), deployment: deployment.to_owned() })
        })
        .collect())
}

/// Wave 2: the agents' services, by (cluster, service); a cluster or service
/// that is gone is left out.
async fn describe_services(
    c: &Clients,
    agents: &[AgentService],
) -> Result<BTreeMap<(String, String), ServiceFacts>, Error> {
    let mut by_cluster: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for a in agents {
        by_cluster.entry(&a.cluster).or_default().push(a.service.clone());
    }
    let calls = by_cluster.iter().flat_map(|(cluster, services)| {
        services.chunks(SERVICES_PER_CALL).map(move |chunk| async move {
            let sent = c.ecs.describe_services().cluster(*cluster).set_services(Some(chunk.to_vec())).send().await;
            match sent.map_err(sdk(format!("reading the ECS services of cluster {cluster}"))) {
                Ok(out) => Ok(out
                    .services()
                    .iter()
                    .map(|s| ((cluster.to_string(), s.service_name().unwrap_or_default().to_owned()), facts(s)))
                    .collect::<Vec<_>>()),
                Err(e) if e.is(Meaning::NotFound) => Ok(vec![]),
                Err(e) => Err(e),
            }
        })
    });
    Ok(try_join_all(calls).await?.into_iter().flatten().collect())
}

fn facts(s: &aws_sdk_ecs::types::Service) -> ServiceFacts {
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    let primary = s.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
    ServiceFacts {
        status: s.status().unwrap_or_default().to_owned(),
        desired: count(s.desired_count()),
        running: count(s.running_count()),
        task_definition: primary
            .and_then(|d| d.task_definition())
            .or(s.task_definition())
            .unwrap_or_default()
            .to_owned(),
        last_deployment_at: primary.and_then(|d| d.updated_at().or(d.created_at())).map(|t| t.secs()),
        rollout_state: primary.and_then(|d| d.rollout_state()).map(|r| r.as_str().to_owned()),
    }
}

/// Wave 2: the autoscaling bounds of the agents' services, by resource id.
async fn scalable_targets(c: &Clients, agents: &[AgentService]) -> Result<BTreeMap<String, ScalingRange>, Error> {
    let ids: Vec<String> = agents.iter().map(AgentService::scaling_resource_id).collect();
    let calls = ids.chunks(TARGETS_PER_CALL).map(|chunk| {
        c.autoscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .set_resource_ids(Some(chunk.to_vec()))
            .into_paginator()
            .items()
            .send()
            .try_collect()
    });
    let pages = try_join_all(calls).await.map_err(sdk("reading the services' autoscaling bounds"))?;
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    Ok(pages
        .iter()
        .flatten()
        .map(|t| {
            (t.resource_id().to_owned(), ScalingRange { min: count(t.min_capacity()), max: count(t.max_capacity()) })
        })
        .collect())
}

/// Wave 3: the task size and images of a task definition.
async fn task_definition(c: &Clients, arn: &str) -> Result<TaskDefinitionFacts, Error> {
    let out = c
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(sdk(format!("reading task definition {}", arn.rsplit('/').next().unwrap_or(arn))))?;
    let td = out.task_definition().ok_or_else(|| Error::aws("reading the task definition", "empty answer"))?;
    let number = |s: Option<&str>| s.and_then(|s| s.trim().parse().ok());
    Ok(TaskDefinitionFacts {
        cpu: number(td.cpu()),
        memory_mib: number(td.memory()),
        containers: td
            .container_definitions()
            .iter()
            .map(|c| (c.name().unwrap_or_default().to_owned(), c.image().unwrap_or_default().to_owned()))
            .collect(),
    })
}
