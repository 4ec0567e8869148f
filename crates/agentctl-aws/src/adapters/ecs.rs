//! ECS: cluster, task definition (immutable; a change is a new revision) and the
//! service.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use agentctl_core::model::{
    addr, Address, CapacityItem, ClusterSpec, ContainerSpec, KeyValue, KindSpec, MountPoint, PortMapping, Resource,
    SecretRef, ServiceConnect, ServiceConnectService, ServiceSpec, Spec, TaskDefinitionSpec,
};
use agentctl_core::names::Names;
use agentctl_core::plan::{Known, LiveResource};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ClusterField, ClusterSetting,
    ClusterSettingName, Compatibility, ContainerCondition, ContainerDefinition, ContainerDependency, CpuArchitecture,
    DeploymentCircuitBreaker, DeploymentConfiguration, EphemeralStorage, KeyValuePair, LaunchType, LogConfiguration,
    LogDriver, NetworkConfiguration, NetworkMode, OsFamily, PropagateTags, RuntimePlatform, Secret, ServiceField, Tag,
    TaskDefinitionField, TransportProtocol, Volume,
};

use super::{outputs, tag_delta, Adapter, DeleteOptions, Outputs, ReadContext};
use crate::error::{sdk, Error, Meaning};
use crate::wait::{self, Poll};
use crate::Aws;

fn tags_of(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}

fn ecs_tags(map: &BTreeMap<String, String>) -> Vec<Tag> {
    map.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// The last part of an ARN: `.../name` → `name`.
fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// `(addr, live)` when there is one.
fn at(address: Address, live: Option<LiveResource>) -> Vec<(Address, LiveResource)> {
    live.map(|l| (address, l)).into_iter().collect()
}

impl Adapter for ClusterSpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        Ok(at(addr::CLUSTER, read_cluster(aws, &names.cluster).await?))
    }

    async fn create(&self, aws: &Aws, r: &Resource, _: &Known) -> Result<Outputs, Error> {
        let out = aws
            .ecs
            .create_cluster()
            .cluster_name(&r.name)
            .settings(
                ClusterSetting::builder()
                    .name(ClusterSettingName::ContainerInsights)
                    .value(&self.container_insights)
                    .build(),
            )
            .set_capacity_providers((!self.capacity_providers.is_empty()).then(|| self.capacity_providers.clone()))
            .set_tags(Some(ecs_tags(&r.tags)))
            .send()
            .await
            .map_err(sdk(format!("creating ECS cluster {}", r.name)))?;
        let arn = out.cluster().and_then(|c| c.cluster_arn()).unwrap_or_default();
        Ok(outputs(&[("arn", arn), ("name", &r.name)]))
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
            aws.ecs
                .update_cluster_settings()
                .cluster(&r.name)
                .settings(
                    ClusterSetting::builder()
                        .name(ClusterSettingName::ContainerInsights)
                        .value(&self.container_insights)
                        .build(),
                )
                .send()
                .await
                .map_err(sdk(format!("updating ECS cluster {}", r.name)))?;
            if self.capacity_providers != have.capacity_providers {
                aws.ecs
                    .put_cluster_capacity_providers()
                    .cluster(&r.name)
                    .set_capacity_providers(Some(self.capacity_providers.clone()))
                    .set_default_capacity_provider_strategy(Some(vec![]))
                    .send()
                    .await
                    .map_err(sdk(format!("setting the capacity providers of ECS cluster {}", r.name)))?;
            }
        }
        update_tags(aws, r, live).await?;
        Ok(live.outputs.clone())
    }

    async fn delete(aws: &Aws, _: &str, live: &LiveResource, _: &Self, _: DeleteOptions) -> Result<(), Error> {
        let name = short(&live.id).to_owned();
        // A cluster refuses deletion while services are still draining out.
        wait::until(&format!("deleting ECS cluster {name}"), Duration::from_secs(600), || async {
            match aws
                .ecs
                .delete_cluster()
                .cluster(&name)
                .send()
                .await
                .map_err(sdk(format!("deleting ECS cluster {name}")))
            {
                Ok(_) => Ok(Poll::Ready(())),
                Err(e) if e.is(Meaning::InUse) => Ok(Poll::Pending(e.to_string())),
                Err(e) if e.is(Meaning::NotFound) => Ok(Poll::Ready(())),
                Err(e) => Err(e),
            }
        })
        .await
    }
}

impl Adapter for TaskDefinitionSpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        super::read_each(names, Self::KIND, |family| read_task_definition(aws, family)).await
    }

    /// A new revision: task definitions are immutable, so replacing one is this too.
    async fn create(&self, aws: &Aws, r: &Resource, known: &Known) -> Result<Outputs, Error> {
        register(aws, r, self, known).await
    }

    async fn update(
        &self,
        aws: &Aws,
        r: &Resource,
        _: &Self,
        live: &LiveResource,
        _: &Known,
    ) -> Result<Outputs, Error> {
        update_tags(aws, r, live).await?;
        Ok(live.outputs.clone())
    }

    /// Deregisters every active revision of the family.
    async fn delete(aws: &Aws, _: &str, _: &LiveResource, have: &Self, _: DeleteOptions) -> Result<(), Error> {
        let family = &have.family;
        let arns: Vec<String> = aws
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk(format!("listing revisions of task definition {family}")))?;
        // Family prefix also matches "name-agent2": keep exact family only.
        // Every revision at once: they are independent (one round trip, not one each).
        let deregistrations = arns
            .iter()
            .filter(|a| short(a).rsplit_once(':').map(|(f, _)| f) == Some(family.as_str()))
            .map(|arn| async move {
                aws.ecs
                    .deregister_task_definition()
                    .task_definition(arn)
                    .send()
                    .await
                    .map_err(sdk(format!("deregistering {arn}")))
            });
        futures::future::try_join_all(deregistrations).await?;
        Ok(())
    }
}

async fn read_cluster(aws: &Aws, name: &str) -> Result<Option<LiveResource>, Error> {
    let out = aws
        .ecs
        .describe_clusters()
        .clusters(name)
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .send()
        .await
        .map_err(sdk(format!("reading ECS cluster {name}")))?;
    let Some(c) = out.clusters().iter().find(|c| c.status() == Some("ACTIVE")) else {
        return Ok(None);
    };
    let arn = c.cluster_arn().unwrap_or_default().to_owned();
    let insights = c
        .settings()
        .iter()
        .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
        .and_then(|s| s.value())
        .unwrap_or("disabled");
    let mut capacity_providers: Vec<String> = c.capacity_providers().to_vec();
    capacity_providers.sort();
    let spec = ClusterSpec { container_insights: insights.to_owned(), capacity_providers };
    Ok(Some(LiveResource {
        id: arn.clone(),
        outputs: outputs(&[("arn", &arn), ("name", name)]),
        tags: tags_of(c.tags()),
        spec: Spec::EcsCluster(spec),
        unreported: vec![],
    }))
}

async fn read_task_definition(aws: &Aws, family: &str) -> Result<Option<LiveResource>, Error> {
    let out =
        aws.ecs.describe_task_definition().task_definition(family).include(TaskDefinitionField::Tags).send().await;
    let out = match out.map_err(sdk(format!("reading task definition {family}"))) {
        Ok(o) => o,
        // ECS answers ClientException when the family has no active revision.
        Err(e) if e.is(Meaning::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    // Only an ACTIVE revision counts (AWS never returns another here; moto may).
    let Some(td) =
        out.task_definition().filter(|t| t.status() == Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Active))
    else {
        return Ok(None);
    };
    let arn = td.task_definition_arn().unwrap_or_default().to_owned();
    let containers = td.container_definitions().iter().map(container_spec).collect();
    let mut volumes: Vec<String> = td.volumes().iter().filter_map(|v| v.name().map(str::to_owned)).collect();
    volumes.sort();
    let platform = td.runtime_platform();
    let spec = TaskDefinitionSpec {
        family: td.family().unwrap_or_default().to_owned(),
        cpu: td.cpu().and_then(|c| c.parse().ok()).unwrap_or(0),
        memory: td.memory().and_then(|c| c.parse().ok()).unwrap_or(0),
        ephemeral_storage_gib: td.ephemeral_storage().map(|e| e.size_in_gib() as u32),
        network_mode: td.network_mode().map(|m| m.as_str().to_owned()).unwrap_or_default(),
        requires_compatibilities: td.requires_compatibilities().iter().map(|c| c.as_str().to_owned()).collect(),
        // ECS reports no runtime platform for Fargate task definitions registered
        // without one; both mean LINUX/X86_64.
        cpu_architecture: platform
            .and_then(|p| p.cpu_architecture())
            .map_or("X86_64".to_owned(), |a| a.as_str().to_owned()),
        operating_system_family: platform
            .and_then(|p| p.operating_system_family())
            .map_or("LINUX".to_owned(), |o| o.as_str().to_owned()),
        execution_role_arn: td.execution_role_arn().unwrap_or_default().to_owned(),
        task_role_arn: td.task_role_arn().unwrap_or_default().to_owned(),
        volumes,
        containers,
    };
    Ok(Some(LiveResource {
        id: arn.clone(),
        outputs: outputs(&[("arn", &arn)]),
        tags: tags_of(out.tags()),
        spec: Spec::TaskDefinition(spec),
        unreported: vec![],
    }))
}

fn container_spec(c: &ContainerDefinition) -> ContainerSpec {
    let mut environment: Vec<KeyValue> = c
        .environment()
        .iter()
        .map(|kv| KeyValue {
            name: kv.name().unwrap_or_default().to_owned(),
            value: kv.value().unwrap_or_default().to_owned(),
        })
        .collect();
    environment.sort();
    let mut secrets: Vec<SecretRef> = c
        .secrets()
        .iter()
        .map(|s| SecretRef { name: s.name().to_owned(), value_from: s.value_from().to_owned() })
        .collect();
    secrets.sort();
    let mut mount_points: Vec<MountPoint> = c
        .mount_points()
        .iter()
        .map(|m| MountPoint {
            source_volume: m.source_volume().unwrap_or_default().to_owned(),
            container_path: m.container_path().unwrap_or_default().to_owned(),
        })
        .collect();
    mount_points.sort();
    let mut port_mappings: Vec<PortMapping> = c
        .port_mappings()
        .iter()
        .map(|p| PortMapping {
            name: p.name().unwrap_or_default().to_owned(),
            container_port: p.container_port().unwrap_or(0) as u16,
            protocol: p.protocol().map_or("tcp".to_owned(), |p| p.as_str().to_owned()),
        })
        .collect();
    port_mappings.sort();
    let log = c.log_configuration();
    ContainerSpec {
        name: c.name().unwrap_or_default().to_owned(),
        image: c.image().unwrap_or_default().to_owned(),
        essential: c.essential().unwrap_or(true),
        command: c.command().to_vec(),
        // ECS reports 0 for a container registered without a CPU share.
        cpu: Some(c.cpu() as u32).filter(|cpu| *cpu > 0),
        memory_reservation: c.memory_reservation().map(|m| m as u32),
        port_mappings,
        environment,
        secrets,
        user: c.user().filter(|u| !u.is_empty()).map(str::to_owned),
        readonly_root_filesystem: c.readonly_root_filesystem().unwrap_or(false),
        mount_points,
        log_driver: log.map(|l| l.log_driver().as_str().to_owned()).unwrap_or_default(),
        log_options: log
            .and_then(|l| l.options())
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        stop_timeout: c.stop_timeout().unwrap_or(30) as u32,
        depends_on: c
            .depends_on()
            .iter()
            .map(|d| agentctl_core::model::ContainerDependency {
                container_name: d.container_name().to_owned(),
                condition: d.condition().as_str().to_owned(),
            })
            .collect(),
    }
}

async fn read_service(aws: &Aws, cluster: &str, name: &str) -> Result<Option<LiveResource>, Error> {
    let out = aws.ecs.describe_services().cluster(cluster).services(name).include(ServiceField::Tags).send().await;
    let out = match out.map_err(sdk(format!("reading ECS service {name}"))) {
        Ok(o) => o,
        Err(e) if e.is(Meaning::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    // DRAINING and INACTIVE services are on their way out: absent for planning.
    let Some(s) = out.services().iter().find(|s| s.status() == Some("ACTIVE")) else {
        return Ok(None);
    };
    let arn = s.service_arn().unwrap_or_default().to_owned();
    let vpc = s.network_configuration().and_then(|n| n.awsvpc_configuration());
    let mut subnets: Vec<String> = vpc.map(|v| v.subnets().to_vec()).unwrap_or_default();
    subnets.sort();
    let mut security_groups: Vec<String> = vpc.map(|v| v.security_groups().to_vec()).unwrap_or_default();
    security_groups.sort();
    let dc = s.deployment_configuration();
    let spec = ServiceSpec {
        cluster: short(s.cluster_arn().unwrap_or_default()).to_owned(),
        task_definition: s.task_definition().unwrap_or_default().to_owned(),
        desired_count: s.desired_count() as u32,
        platform_version: s.platform_version().unwrap_or("LATEST").to_owned(),
        subnets,
        security_groups,
        assign_public_ip: vpc.and_then(|v| v.assign_public_ip()) == Some(&AssignPublicIp::Enabled),
        circuit_breaker_rollback: dc
            .and_then(|d| d.deployment_circuit_breaker())
            .is_some_and(|c| c.enable() && c.rollback()),
        minimum_healthy_percent: dc.and_then(|d| d.minimum_healthy_percent()).unwrap_or(100) as u32,
        maximum_percent: dc.and_then(|d| d.maximum_percent()).unwrap_or(200) as u32,
        propagate_tags: s.propagate_tags().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "NONE".into()),
        capacity_provider_strategy: capacity_items(s.capacity_provider_strategy()),
        service_connect: service_connect_of(s),
    };
    // AWS always reports the deployment configuration, and a launch type or a
    // capacity provider strategy; an emulator may drop them.
    let mut unreported = if dc.is_none() {
        vec!["circuit_breaker_rollback", "minimum_healthy_percent", "maximum_percent"]
    } else {
        vec![]
    };
    // agentctl never creates EC2-launch services, and a launch type cannot be
    // changed in place: "EC2" without a strategy is an emulator dropping ours.
    if s.capacity_provider_strategy().is_empty() && matches!(s.launch_type(), None | Some(LaunchType::Ec2)) {
        unreported.push("capacity_provider_strategy");
    }
    // ECS reports Service Connect on the deployment, beside the deployment's
    // capacity provider strategy, which every deployment of agentctl's
    // services has: a deployment without one comes from an emulator that keeps
    // neither (moto).
    let primary = s.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
    if primary.is_some_and(|d| d.capacity_provider_strategy().is_empty()) {
        unreported.push("service_connect");
    }
    Ok(Some(LiveResource {
        id: arn.clone(),
        outputs: outputs(&[("arn", &arn), ("name", name)]),
        tags: tags_of(s.tags()),
        spec: Spec::EcsService(spec),
        unreported,
    }))
}

/// Service Connect as the service's current deployment has it (ECS keeps it
/// per deployment: the PRIMARY one is what the service is now).
fn service_connect_of(s: &aws_sdk_ecs::types::Service) -> Option<ServiceConnect> {
    let primary = s.deployments().iter().find(|d| d.status() == Some("PRIMARY"))?;
    let sc = primary.service_connect_configuration().filter(|c| c.enabled())?;
    let mut services: Vec<ServiceConnectService> = sc
        .services()
        .iter()
        .flat_map(|svc| {
            svc.client_aliases().iter().map(|alias| ServiceConnectService {
                port_name: svc.port_name().to_owned(),
                dns_name: alias.dns_name().unwrap_or_default().to_owned(),
                port: alias.port() as u16,
            })
        })
        .collect();
    services.sort();
    Some(ServiceConnect { namespace: sc.namespace().unwrap_or_default().to_owned(), services })
}

/// The service's Service Connect configuration for ECS; `enabled: false` leaves the namespace.
fn service_connect_configuration(
    sc: Option<&ServiceConnect>,
    known: &Known,
) -> aws_sdk_ecs::types::ServiceConnectConfiguration {
    use aws_sdk_ecs::types::{ServiceConnectClientAlias, ServiceConnectConfiguration, ServiceConnectService as Sc};
    let Some(sc) = sc else {
        return ServiceConnectConfiguration::builder().enabled(false).build();
    };
    let services = sc
        .services
        .iter()
        .map(|s| {
            Sc::builder()
                .port_name(&s.port_name)
                .client_aliases(
                    ServiceConnectClientAlias::builder()
                        .dns_name(&s.dns_name)
                        .port(i32::from(s.port))
                        .build()
                        .expect("port is set"),
                )
                .build()
                .expect("port name is set")
        })
        .collect();
    ServiceConnectConfiguration::builder()
        .enabled(true)
        .namespace(known.resolve_str(&sc.namespace))
        .set_services(Some(services))
        .build()
}

fn capacity_items(items: &[CapacityProviderStrategyItem]) -> Vec<CapacityItem> {
    let mut v: Vec<CapacityItem> = items
        .iter()
        .map(|i| CapacityItem {
            provider: i.capacity_provider().to_owned(),
            base: i.base() as u32,
            weight: i.weight() as u32,
        })
        .collect();
    v.sort();
    v
}

fn strategy(items: &[CapacityItem]) -> Option<Vec<CapacityProviderStrategyItem>> {
    (!items.is_empty()).then(|| {
        items
            .iter()
            .map(|i| {
                CapacityProviderStrategyItem::builder()
                    .capacity_provider(&i.provider)
                    .base(i.base as i32)
                    .weight(i.weight as i32)
                    .build()
                    .expect("provider")
            })
            .collect()
    })
}

async fn register(aws: &Aws, r: &Resource, s: &TaskDefinitionSpec, known: &Known) -> Result<Outputs, Error> {
    let containers = s
        .containers
        .iter()
        .map(|c| {
            let env = c
                .environment
                .iter()
                .map(|kv| KeyValuePair::builder().name(&kv.name).value(&kv.value).build())
                .collect();
            let secrets = c
                .secrets
                .iter()
                .map(|sr| {
                    Secret::builder()
                        .name(&sr.name)
                        .value_from(known.resolve_str(&sr.value_from))
                        .build()
                        .expect("secret")
                })
                .collect();
            let mounts = c
                .mount_points
                .iter()
                .map(|m| {
                    aws_sdk_ecs::types::MountPoint::builder()
                        .source_volume(&m.source_volume)
                        .container_path(&m.container_path)
                        .read_only(false)
                        .build()
                })
                .collect();
            let log = LogConfiguration::builder()
                .log_driver(LogDriver::from(c.log_driver.as_str()))
                .set_options(Some(c.log_options.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>()))
                .build()
                .expect("log driver");
            let ports = c
                .port_mappings
                .iter()
                .map(|p| {
                    aws_sdk_ecs::types::PortMapping::builder()
                        .name(&p.name)
                        .container_port(i32::from(p.container_port))
                        .protocol(TransportProtocol::from(p.protocol.as_str()))
                        .build()
                })
                .collect();
            ContainerDefinition::builder()
                .name(&c.name)
                .image(&c.image)
                .essential(c.essential)
                .set_command((!c.command.is_empty()).then(|| c.command.clone()))
                .set_cpu(c.cpu.map(|cpu| cpu as i32))
                .set_memory_reservation(c.memory_reservation.map(|m| m as i32))
                .set_port_mappings(Some(ports))
                .set_environment(Some(env))
                .set_secrets(Some(secrets))
                .set_user(c.user.clone())
                .readonly_root_filesystem(c.readonly_root_filesystem)
                .set_mount_points(Some(mounts))
                .log_configuration(log)
                .stop_timeout(c.stop_timeout as i32)
                .set_depends_on(Some(
                    c.depends_on
                        .iter()
                        .map(|d| {
                            ContainerDependency::builder()
                                .container_name(&d.container_name)
                                .condition(ContainerCondition::from(d.condition.as_str()))
                                .build()
                                .expect("dependency")
                        })
                        .collect(),
                ))
                .build()
        })
        .collect();
    let mut req = aws
        .ecs
        .register_task_definition()
        .family(&s.family)
        .cpu(s.cpu.to_string())
        .memory(s.memory.to_string())
        .network_mode(NetworkMode::from(s.network_mode.as_str()))
        .set_requires_compatibilities(Some(
            s.requires_compatibilities.iter().map(|c| Compatibility::from(c.as_str())).collect(),
        ))
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::from(s.cpu_architecture.as_str()))
                .operating_system_family(OsFamily::from(s.operating_system_family.as_str()))
                .build(),
        )
        .execution_role_arn(&s.execution_role_arn)
        .task_role_arn(&s.task_role_arn)
        .set_container_definitions(Some(containers))
        .set_volumes(Some(s.volumes.iter().map(|v| Volume::builder().name(v).build()).collect()))
        .set_tags(Some(ecs_tags(&r.tags)));
    if let Some(gib) = s.ephemeral_storage_gib {
        req = req.ephemeral_storage(EphemeralStorage::builder().size_in_gib(gib as i32).build());
    }
    let out = req.send().await.map_err(sdk(format!("registering task definition {}", s.family)))?;
    let arn = out.task_definition().and_then(|t| t.task_definition_arn()).unwrap_or_default();
    Ok(outputs(&[("arn", arn)]))
}

fn network(s: &ServiceSpec, known: &Known) -> NetworkConfiguration {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(s.subnets.iter().map(|x| known.resolve_str(x)).collect()))
        .set_security_groups(Some(s.security_groups.iter().map(|x| known.resolve_str(x)).collect()))
        .assign_public_ip(if s.assign_public_ip { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled })
        .build()
        .expect("subnets");
    NetworkConfiguration::builder().awsvpc_configuration(vpc).build()
}

fn deployment(s: &ServiceSpec) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(s.circuit_breaker_rollback)
                .rollback(s.circuit_breaker_rollback)
                .build(),
        )
        .minimum_healthy_percent(s.minimum_healthy_percent as i32)
        .maximum_percent(s.maximum_percent as i32)
        .build()
}

async fn create_service(aws: &Aws, r: &Resource, s: &ServiceSpec, known: &Known) -> Result<Outputs, Error> {
    let what = format!("creating ECS service {}", r.name);
    // Right after its roles are created, ECS may not yet be able to use them;
    // a service of the same name still draining (destroy, then apply at once)
    // blocks the name until it is gone. Both are rare: ask only when told.
    // The token makes the SDK's retry of a create whose answer was lost return
    // the same service; it is this run's, so a later apply creates anew.
    let token = format!(
        "{:x}-{:x}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    );
    let token: String = token.chars().take(36).collect();
    let out = wait::until(&what, Duration::from_secs(600), || async {
        let sent = aws
            .ecs
            .create_service()
            .client_token(&token)
            .cluster(&s.cluster)
            .service_name(&r.name)
            .task_definition(known.resolve_str(&s.task_definition))
            .desired_count(s.desired_count as i32)
            .set_capacity_provider_strategy(strategy(&s.capacity_provider_strategy))
            .platform_version(&s.platform_version)
            .network_configuration(network(s, known))
            .deployment_configuration(deployment(s))
            .propagate_tags(PropagateTags::from(s.propagate_tags.as_str()))
            .set_service_connect_configuration(
                s.service_connect.as_ref().map(|sc| service_connect_configuration(Some(sc), known)),
            )
            .enable_ecs_managed_tags(true)
            .set_tags(Some(ecs_tags(&r.tags)))
            .send()
            .await
            .map_err(sdk(&what));
        match sent {
            Ok(out) => Ok(Poll::Ready(out)),
            Err(e) if e.is(Meaning::RoleNotYetUsable) => Ok(Poll::Pending(e.to_string())),
            Err(e) if e.is(Meaning::Draining) => {
                wait_until_gone(aws, &s.cluster, &r.name).await?;
                Ok(Poll::Pending(e.to_string()))
            }
            Err(e) => Err(e),
        }
    })
    .await?;
    let svc = out.service();
    let arn = svc.and_then(|s| s.service_arn()).unwrap_or_default();
    let deployment = svc.and_then(|s| s.deployments().first()).and_then(|d| d.id()).unwrap_or_default();
    Ok(outputs(&[("arn", arn), ("name", &r.name), ("deployment_id", deployment)]))
}

/// A service of the same name still draining blocks a new one.
async fn wait_until_gone(aws: &Aws, cluster: &str, name: &str) -> Result<(), Error> {
    wait::until(&format!("waiting for the old ECS service {name} to drain"), Duration::from_secs(600), || async {
        let out = aws
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(name)
            .send()
            .await
            .map_err(sdk(format!("reading ECS service {name}")));
        let out = match out {
            Ok(o) => o,
            Err(e) if e.is(Meaning::NotFound) => return Ok(Poll::Ready(())),
            Err(e) => return Err(e),
        };
        match out.services().iter().find_map(|s| s.status()) {
            Some("DRAINING") => Ok(Poll::Pending(format!("service {name} is DRAINING"))),
            _ => Ok(Poll::Ready(())),
        }
    })
    .await
}

impl Adapter for ServiceSpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        super::read_each(names, Self::KIND, |service| read_service(aws, &names.cluster, service)).await
    }

    async fn create(&self, aws: &Aws, r: &Resource, known: &Known) -> Result<Outputs, Error> {
        create_service(aws, r, self, known).await
    }

    async fn update(
        &self,
        aws: &Aws,
        r: &Resource,
        have: &Self,
        l: &LiveResource,
        known: &Known,
    ) -> Result<Outputs, Error> {
        let want = self;
        let mut result = l.outputs.clone();
        let autoscaled = r.ignore_changes.contains(&"desired_count");
        let mut want_resolved = want.clone();
        if autoscaled {
            want_resolved.desired_count = have.desired_count;
        }
        for field in &l.unreported {
            match *field {
                "capacity_provider_strategy" => {
                    want_resolved.capacity_provider_strategy.clone_from(&have.capacity_provider_strategy)
                }
                "circuit_breaker_rollback" => want_resolved.circuit_breaker_rollback = have.circuit_breaker_rollback,
                "minimum_healthy_percent" => want_resolved.minimum_healthy_percent = have.minimum_healthy_percent,
                "maximum_percent" => want_resolved.maximum_percent = have.maximum_percent,
                "service_connect" => want_resolved.service_connect.clone_from(&have.service_connect),
                _ => {}
            }
        }
        want_resolved.task_definition = known.resolve_str(&want.task_definition);
        want_resolved.subnets = want.subnets.iter().map(|s| known.resolve_str(s)).collect();
        want_resolved.subnets.sort();
        want_resolved.security_groups = want.security_groups.iter().map(|s| known.resolve_str(s)).collect();
        want_resolved.security_groups.sort();
        if let Some(sc) = &mut want_resolved.service_connect {
            sc.namespace = known.resolve_str(&sc.namespace);
        }
        if want_resolved != *have {
            // Sent only when it changes: any Service Connect change starts a
            // deployment (the agent's tasks join or leave the namespace).
            let service_connect = (want_resolved.service_connect != have.service_connect)
                .then(|| service_connect_configuration(want.service_connect.as_ref(), known));
            let out = aws
                .ecs
                .update_service()
                .cluster(&want.cluster)
                .service(&r.name)
                .task_definition(&want_resolved.task_definition)
                // Never reset a count that autoscaling has set.
                .set_desired_count((!autoscaled).then_some(want.desired_count as i32))
                .set_capacity_provider_strategy(strategy(&want.capacity_provider_strategy))
                // Moving between launch type and capacity providers needs a new deployment.
                .force_new_deployment(want.capacity_provider_strategy != have.capacity_provider_strategy)
                .network_configuration(network(want, known))
                .deployment_configuration(deployment(want))
                .propagate_tags(PropagateTags::from(want.propagate_tags.as_str()))
                .platform_version(&want.platform_version)
                .set_service_connect_configuration(service_connect)
                .send()
                .await
                .map_err(sdk(format!("updating ECS service {}", r.name)))?;
            if let Some(d) = out
                .service()
                .and_then(|s| s.deployments().iter().find(|d| d.status() == Some("PRIMARY")))
                .and_then(|d| d.id())
            {
                result.insert("deployment_id".into(), d.to_owned());
            }
        }
        update_tags(aws, r, l).await?;
        Ok(result)
    }

    /// Scales to zero first, so tasks get their SIGTERM grace period, then
    /// deletes and waits until the name is free.
    async fn delete(aws: &Aws, _: &str, live: &LiveResource, have: &Self, _: DeleteOptions) -> Result<(), Error> {
        let name = short(&live.id).to_owned();
        aws.ecs
            .update_service()
            .cluster(&have.cluster)
            .service(&name)
            .desired_count(0)
            .send()
            .await
            .map_err(sdk(format!("scaling ECS service {name} to 0")))?;
        aws.ecs
            .delete_service()
            .cluster(&have.cluster)
            .service(&name)
            .force(true)
            .send()
            .await
            .map_err(sdk(format!("deleting ECS service {name}")))?;
        wait_until_gone(aws, &have.cluster, &name).await
    }
}

/// Tags of any ECS resource (by ARN) made to match `r`'s.
async fn update_tags(aws: &Aws, r: &Resource, l: &LiveResource) -> Result<(), Error> {
    let (set, unset) = tag_delta(&l.tags, &r.tags);
    if !set.is_empty() {
        let t = set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        aws.ecs
            .tag_resource()
            .resource_arn(&l.id)
            .set_tags(Some(t))
            .send()
            .await
            .map_err(sdk(format!("tagging {}", r.name)))?;
    }
    if !unset.is_empty() {
        aws.ecs
            .untag_resource()
            .resource_arn(&l.id)
            .set_tag_keys(Some(unset))
            .send()
            .await
            .map_err(sdk(format!("untagging {}", r.name)))?;
    }
    Ok(())
}

/// Service Connect against recorded ECS responses: moto keeps none of it.
#[cfg(test)]
mod service_connect_tests {
    use agentctl_core::model::{
        addr, CapacityItem, Resource, ServiceConnect, ServiceConnectService, ServiceSpec, Spec,
    };
    use agentctl_core::plan::{Known, LiveResource};
    use aws_sdk_ecs::operation::create_service::CreateServiceOutput;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
    use aws_sdk_ecs::types::{
        DeploymentConfiguration, Service, ServiceConnectClientAlias, ServiceConnectConfiguration,
        ServiceConnectService as Sc,
    };
    use aws_smithy_mocks::{mock, mock_client};

    use super::Adapter;

    const NAMESPACE: &str = "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-abcdefghij012345";

    fn alias() -> ServiceConnectService {
        ServiceConnectService { port_name: "ssh".into(), dns_name: "script-runner".into(), port: 2222 }
    }

    /// What ECS reports for a Service Connect service: the settings on its
    /// PRIMARY deployment (as DescribeServices returns them).
    /// `emulated`: deployments without their capacity provider strategy, as moto answers.
    fn described(sc: Option<ServiceConnectConfiguration>, emulated: bool) -> DescribeServicesOutput {
        let fargate = || {
            aws_sdk_ecs::types::CapacityProviderStrategyItem::builder()
                .capacity_provider("FARGATE")
                .weight(1)
                .build()
                .unwrap()
        };
        let mut deployment = aws_sdk_ecs::types::Deployment::builder().id("ecs-svc/1").status("PRIMARY");
        if !emulated {
            deployment = deployment.capacity_provider_strategy(fargate());
        }
        if let Some(sc) = sc {
            deployment = deployment.service_connect_configuration(sc);
        }
        let mut service = Service::builder()
            .service_arn("arn:aws:ecs:us-east-1:123456789012:service/maia/maia-script-runner")
            .service_name("maia-script-runner")
            .cluster_arn("arn:aws:ecs:us-east-1:123456789012:cluster/maia")
            .status("ACTIVE")
            .desired_count(1)
            .deployments(deployment.build());
        // moto keeps the service's strategy once an update set it; its
        // deployments never have one.
        service = service
            .deployment_configuration(DeploymentConfiguration::builder().build())
            .capacity_provider_strategy(fargate());
        DescribeServicesOutput::builder().services(service.build()).build()
    }

    fn recorded(namespace: &str, aliases: bool) -> ServiceConnectConfiguration {
        let mut sc = ServiceConnectConfiguration::builder().enabled(true).namespace(namespace);
        if aliases {
            sc = sc.services(
                Sc::builder()
                    .port_name("ssh")
                    .client_aliases(
                        ServiceConnectClientAlias::builder().dns_name("script-runner").port(2222).build().unwrap(),
                    )
                    .build()
                    .unwrap(),
            );
        }
        sc.build()
    }

    async fn read(out: DescribeServicesOutput) -> LiveResource {
        let rule = mock!(aws_sdk_ecs::Client::describe_services).then_output(move || out.clone());
        let mut aws = crate::Aws::unreachable();
        aws.clients.ecs = mock_client!(aws_sdk_ecs, [&rule]);
        super::read_service(&aws, "maia", "maia-script-runner").await.unwrap().unwrap()
    }

    fn spec(l: &LiveResource) -> &ServiceSpec {
        let Spec::EcsService(s) = &l.spec else { panic!("not a service") };
        s
    }

    #[tokio::test]
    async fn the_alias_is_read_off_the_primary_deployment() {
        let l = read(described(Some(recorded(NAMESPACE, true)), false)).await;
        assert_eq!(
            spec(&l).service_connect,
            Some(ServiceConnect { namespace: NAMESPACE.into(), services: vec![alias()] })
        );
        assert!(!l.unreported.contains(&"service_connect"));
        // A client only: the namespace, no services.
        let l = read(described(Some(recorded(NAMESPACE, false)), false)).await;
        assert_eq!(spec(&l).service_connect, Some(ServiceConnect { namespace: NAMESPACE.into(), services: vec![] }));
        // AWS reports nothing when it is off: off, and compared.
        let l = read(described(None, false)).await;
        assert_eq!(spec(&l).service_connect, None);
        assert!(!l.unreported.contains(&"service_connect"));
        // An emulator's deployment without its strategy (AWS always reports it
        // for agentctl's services) drops this too: not compared.
        let l = read(described(None, true)).await;
        assert!(l.unreported.contains(&"service_connect"));
    }

    fn resource(service_connect: Option<ServiceConnect>) -> Resource {
        Resource {
            addr: addr::SCRIPT_RUNNER_SERVICE,
            name: "maia-script-runner".into(),
            tags: Default::default(),
            spec: Spec::EcsService(ServiceSpec {
                cluster: "maia".into(),
                task_definition: "${task_definition.script_runner.arn}".into(),
                desired_count: 1,
                platform_version: "LATEST".into(),
                subnets: vec!["subnet-1".into()],
                security_groups: vec!["sg-1".into()],
                assign_public_ip: true,
                circuit_breaker_rollback: true,
                minimum_healthy_percent: 100,
                maximum_percent: 200,
                propagate_tags: "SERVICE".into(),
                capacity_provider_strategy: vec![CapacityItem { provider: "FARGATE".into(), base: 0, weight: 1 }],
                service_connect,
            }),
            depends_on: vec![],
            ignore_changes: vec![],
            wait_for_steady_state: true,
        }
    }

    fn known() -> Known {
        let mut k = Known::default();
        k.insert(addr::NAMESPACE, "arn", NAMESPACE.into());
        k.insert(
            addr::SCRIPT_RUNNER_TASK_DEFINITION,
            "arn",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/maia-script-runner:1".into(),
        );
        k
    }

    /// The Service Connect settings a request sent: enabled, namespace, and
    /// (port name, DNS name, port) of each alias.
    type Sent = (bool, Option<String>, Vec<(String, String, i32)>);

    fn sent(sc: Option<&ServiceConnectConfiguration>) -> Option<Sent> {
        sc.map(|sc| {
            let aliases = sc
                .services()
                .iter()
                .flat_map(|s| {
                    s.client_aliases()
                        .iter()
                        .map(|a| (s.port_name().to_owned(), a.dns_name().unwrap_or_default().to_owned(), a.port()))
                })
                .collect();
            (sc.enabled(), sc.namespace().map(str::to_owned), aliases)
        })
    }

    #[tokio::test]
    async fn the_runner_is_created_registering_its_alias_in_the_namespace() {
        let r =
            resource(Some(ServiceConnect { namespace: "${http_namespace.main.arn}".into(), services: vec![alias()] }));
        let create = mock!(aws_sdk_ecs::Client::create_service)
            .match_requests(|req| {
                sent(req.service_connect_configuration())
                    == Some((true, Some(NAMESPACE.into()), vec![("ssh".into(), "script-runner".into(), 2222)]))
            })
            .then_output(|| CreateServiceOutput::builder().build());
        let mut aws = crate::Aws::unreachable();
        aws.clients.ecs = mock_client!(aws_sdk_ecs, [&create]);
        let Spec::EcsService(want) = &r.spec else { unreachable!() };
        want.create(&aws, &r, &known()).await.unwrap();
        assert_eq!(create.num_calls(), 1);
    }

    /// An update of the service from `have` to `want`, and what it sent.
    async fn update(
        have: Option<ServiceConnect>,
        want: Option<ServiceConnect>,
    ) -> Option<(bool, Option<String>, Vec<(String, String, i32)>)> {
        let sent_sc = std::sync::Arc::new(std::sync::Mutex::new(None));
        let seen = sent_sc.clone();
        let rule = mock!(aws_sdk_ecs::Client::update_service)
            .match_requests(move |req| {
                *seen.lock().unwrap() = Some(sent(req.service_connect_configuration()));
                true
            })
            .then_output(|| UpdateServiceOutput::builder().build());
        let mut aws = crate::Aws::unreachable();
        aws.clients.ecs = mock_client!(aws_sdk_ecs, [&rule]);
        let r = resource(want);
        let Spec::EcsService(want) = &r.spec else { unreachable!() };
        let mut have_spec = want.clone();
        have_spec.task_definition = "arn:aws:ecs:us-east-1:123456789012:task-definition/maia-script-runner:1".into();
        have_spec.service_connect = have;
        // Something else differs too, so an update is sent either way.
        have_spec.desired_count = 3;
        let live = LiveResource {
            id: "arn:aws:ecs:us-east-1:123456789012:service/maia/maia-script-runner".into(),
            outputs: Default::default(),
            tags: Default::default(),
            spec: Spec::EcsService(have_spec.clone()),
            unreported: vec![],
        };
        want.update(&aws, &r, &have_spec, &live, &known()).await.unwrap();
        let got = sent_sc.lock().unwrap().clone();
        got.expect("an update was sent")
    }

    #[tokio::test]
    async fn joining_and_leaving_the_namespace_are_updates_of_the_service() {
        let client = || Some(ServiceConnect { namespace: "${http_namespace.main.arn}".into(), services: vec![] });
        let live_client = Some(ServiceConnect { namespace: NAMESPACE.into(), services: vec![] });
        // Turning the runner on: the agent joins as a client (a new deployment rolls its tasks).
        assert_eq!(update(None, client()).await, Some((true, Some(NAMESPACE.into()), vec![])));
        // Turning it off: the agent leaves; its service stays.
        assert_eq!(update(live_client.clone(), None).await, Some((false, None, vec![])));
        // Unchanged: not sent, so no deployment is started for it.
        assert_eq!(update(live_client, client()).await, None);
    }
}
