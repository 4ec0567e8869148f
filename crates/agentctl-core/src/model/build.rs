//! Config → Stack: the whole desired state of one deployment.

use std::collections::BTreeMap;

use super::iam;
use super::sidecars::{self, SidecarLogs, METRICS_NAMESPACE};
use super::*;
use crate::cidr::Cidr;
use crate::config::{Config, NetworkConfig, ScriptRunner, SecurityGroupConfig};
use crate::image::ImageRef;
use crate::names::Names;
use crate::regions::partition;

/// Name of the agent's container in the task definition.
pub const AGENT_CONTAINER: &str = "agent";

/// Paths the agent writes to, one task-scoped volume each; everything else is
/// read-only. Matillion's reference task definition lists these (its
/// "documented required writeable volumes"): Python extension libraries, JDBC
/// drivers, custom certificates, caches and the agent's home. /var/tmp is ours.
pub const WRITABLE_PATHS: [(&str, &str); 8] = [
    ("tmp", "/tmp"),
    ("var-tmp", "/var/tmp"),
    ("home", "/home"),
    ("api-profiles", "/home/agentuser/api_profiles"),
    ("cache", "/root/.cache"),
    ("python-libs", "/usr/lib/pythonLibs"),
    ("jdbc-drivers", "/usr/local/drivers"),
    ("custom-certs", "/usr/local/custom-certs"),
];

/// The agent runs as root, like Matillion's reference: Fargate creates empty
/// bind-mount volumes owned by root, so another user could not write them.
pub const AGENT_USER: &str = "0";

pub fn build(config: &Config, ctx: &Context) -> Stack {
    let name = config.name.as_str();
    let region = config.region.as_str();
    let account = ctx.account();
    let part = partition(region);
    let n = Names::of_config(config, Some(account));
    let mut resources = Vec::new();
    let tags = |resource_name: Option<&str>| {
        let mut t: BTreeMap<String, String> = config.tags.clone();
        if let Some(n) = resource_name {
            t.insert("Name".into(), n.to_owned());
        }
        t.insert(OWNERSHIP_TAG.into(), name.to_owned());
        t
    };
    let mut push = |addr: Address, res_name: String, tagged_name: bool, spec: Spec, depends_on: Vec<Address>| {
        let t = if addr.kind.taggable() { tags(tagged_name.then_some(res_name.as_str())) } else { BTreeMap::new() };
        resources.push(Resource {
            addr,
            name: res_name,
            tags: t,
            spec,
            depends_on,
            ignore_changes: vec![],
            wait_for_steady_state: false,
        });
    };

    // --- network ------------------------------------------------------------
    let mut existing = ExistingNetwork::default();
    let (vpc_id, vpc_dep, subnet_ids, subnet_deps) = match &config.network {
        NetworkConfig::New { cidr_block, .. } => {
            push(
                addr::VPC,
                n.vpc.clone(),
                true,
                Spec::Vpc(VpcSpec {
                    cidr_block: cidr_block.clone(),
                    enable_dns_support: true,
                    enable_dns_hostnames: true,
                }),
                vec![],
            );
            push(
                addr::IGW,
                n.igw.clone(),
                true,
                Spec::InternetGateway(InternetGatewaySpec { vpc_id: addr::VPC.reference("id") }),
                vec![addr::VPC],
            );
            let (a, b) = push_subnets(
                &mut push,
                &n,
                ctx,
                &config.availability_zones,
                carve(cidr_block),
                addr::VPC.reference("id"),
                Some(addr::VPC),
            );
            let mut subnet_ids = vec![a.clone(), b.clone()];
            subnet_ids.sort();
            push(
                addr::ROUTE_TABLE,
                n.route_table.clone(),
                true,
                Spec::RouteTable(RouteTableSpec {
                    vpc_id: addr::VPC.reference("id"),
                    routes: vec![Route { destination: "0.0.0.0/0".into(), gateway_id: addr::IGW.reference("id") }],
                    subnet_ids: subnet_ids.clone(),
                }),
                vec![addr::VPC, addr::IGW, addr::SUBNET_A, addr::SUBNET_B],
            );
            if config.vpc_flow_logs {
                push_flow_logs(&mut push, config, ctx, &n);
            }
            (
                addr::VPC.reference("id"),
                Some(addr::VPC),
                subnet_ids,
                vec![addr::SUBNET_A, addr::SUBNET_B, addr::ROUTE_TABLE],
            )
        }
        NetworkConfig::ExistingVpc { vpc_id, cidr_block, .. } => {
            existing.vpc_id = Some(vpc_id.clone());
            let cidrs = cidr_block.as_deref().map_or_else(|| ctx.free_subnet_ranges(), carve);
            let (a, b) = push_subnets(&mut push, &n, ctx, &config.availability_zones, cidrs, vpc_id.clone(), None);
            (vpc_id.clone(), None, vec![a, b], vec![addr::SUBNET_A, addr::SUBNET_B])
        }
        NetworkConfig::Existing { vpc_id, subnet_ids, .. } => {
            existing.vpc_id = Some(vpc_id.clone());
            existing.subnet_ids = subnet_ids.clone();
            (vpc_id.clone(), None, subnet_ids.clone(), vec![])
        }
    };
    let (security_groups, sg_deps) = match config.network.security_group() {
        SecurityGroupConfig::Create => {
            push(
                addr::SECURITY_GROUP,
                n.security_group.clone(),
                true,
                Spec::SecurityGroup(SecurityGroupSpec {
                    vpc_id: vpc_id.clone(),
                    description: format!("Matillion agent {name}: outbound only"),
                    ingress: vec![],
                    egress: vec![EgressRule { protocol: "-1".into(), ports: "all".into(), cidr: "0.0.0.0/0".into() }],
                }),
                vpc_dep.into_iter().collect(),
            );
            (vec![addr::SECURITY_GROUP.reference("id")], vec![addr::SECURITY_GROUP])
        }
        SecurityGroupConfig::Existing(ids) => {
            existing.security_group_ids = ids.clone();
            (ids.clone(), vec![])
        }
    };

    // --- credentials, roles, storage, logs -----------------------------------
    let secret_name = config.secret_name.clone();
    let secret_value = config.credentials.as_ref().map(|c| {
        let json = serde_json::json!({
            "client_id": c.client_id.expose(),
            "client_secret": c.client_secret.expose(),
        });
        SecretString::new(json.to_string())
    });
    push(
        addr::SECRET,
        secret_name.clone(),
        false,
        Spec::Secret(SecretSpec {
            description: format!("Matillion agent {name}: OAuth client credentials"),
            kms_key_id: config.kms_key_arn.clone(),
            value: secret_value,
        }),
        vec![],
    );
    let log_group = n.log_group.clone();
    let log_group_arn = iam::log_group_arn(part, region, account, &log_group);
    let secret_arn_pattern = iam::secret_arn_pattern(part, region, account, &secret_name);
    let ecr_repo = ecr_repository_arn(&config.image_url, part);
    let trust = iam::ecs_tasks_trust(part, account, region);
    let runner_ecr_repo = config.script_runner.as_ref().and_then(|r| ecr_repository_arn(&r.image_url, part));
    let runner_log_group_arn = iam::log_group_arn(part, region, account, &n.script_runner_log_group);
    let keypair_arn_pattern = iam::secret_arn_pattern(part, region, account, &n.runner_keypair_secret);
    let runner_execution = config.script_runner.as_ref().map(|_| iam::RunnerExecution {
        log_group_arn: &runner_log_group_arn,
        keypair_secret_arn_pattern: &keypair_arn_pattern,
        ecr_repository_arn: runner_ecr_repo.as_deref(),
    });
    let execution_role = n.execution_role.clone();
    push(
        addr::EXECUTION_ROLE,
        execution_role.clone(),
        false,
        Spec::IamRole(RoleSpec {
            description: format!("ECS starts the Matillion agent {name} with this role"),
            assume_role_policy: trust.clone(),
            policies: BTreeMap::from([(
                "agent-execution".to_owned(),
                iam::execution_policy(&iam::ExecutionPolicyInput {
                    log_group_arn: &log_group_arn,
                    secret_arn_pattern: &secret_arn_pattern,
                    ecr_repository_arn: ecr_repo.as_deref(),
                    kms_key_arn: config.kms_key_arn.as_deref(),
                    region,
                    script_runner: runner_execution,
                }),
            )]),
            managed_policy_arns: vec![],
        }),
        vec![],
    );
    let bucket = config.create_bucket.then(|| n.bucket.clone()).flatten();
    let bucket_arn = bucket.as_ref().map(|b| format!("arn:{part}:s3:::{b}"));
    let task_role = n.task_role.clone();
    push(
        addr::TASK_ROLE,
        task_role.clone(),
        false,
        Spec::IamRole(RoleSpec {
            description: format!("The Matillion agent {name} runs with this role"),
            assume_role_policy: trust.clone(),
            policies: iam::task_role_policies(config, ctx),
            managed_policy_arns: config.access.managed_policy_arns.clone(),
        }),
        vec![],
    );
    if let (Some(bucket), Some(bucket_arn)) = (&bucket, &bucket_arn) {
        push(
            addr::BUCKET,
            bucket.clone(),
            false,
            Spec::S3Bucket(BucketSpec {
                block_public_access: true,
                encryption: if config.kms_key_arn.is_some() { "aws:kms" } else { "AES256" }.into(),
                kms_key_id: config.kms_key_arn.clone(),
                bucket_key: config.kms_key_arn.is_some(),
                object_ownership: "BucketOwnerEnforced".into(),
                policy: iam::bucket_tls_only(bucket_arn),
                versioning: config.bucket_versioning,
                lifecycle: Some(BucketLifecycle {
                    abort_incomplete_upload_days: ABORT_INCOMPLETE_UPLOAD_DAYS,
                    expiration_days: config.bucket_expiry_days,
                    // Also without versioning: versions kept from before it was suspended expire.
                    noncurrent_expiration_days: Some(NONCURRENT_VERSION_DAYS),
                }),
                access_logs: config
                    .bucket_access_logs_bucket
                    .as_ref()
                    .map(|target| AccessLogs { bucket: target.clone(), prefix: format!("{bucket}/") }),
            }),
            vec![],
        );
    }
    push(addr::LOG_GROUP, log_group.clone(), false, Spec::LogGroup(log_group_spec(config)), vec![]);

    // --- ECS -----------------------------------------------------------------
    let cluster = n.cluster.clone();
    // Both providers always: attaching them costs nothing, and removing one a
    // service still uses is refused, so switching mixes never has to.
    let capacity_providers = vec!["FARGATE".into(), "FARGATE_SPOT".into()];
    push(
        addr::CLUSTER,
        cluster.clone(),
        false,
        Spec::EcsCluster(ClusterSpec { container_insights: "enabled".into(), capacity_providers }),
        vec![],
    );
    let secret_arn = addr::SECRET.reference("arn");
    let container = ContainerSpec {
        name: AGENT_CONTAINER.into(),
        image: config.image_url.clone(),
        essential: true,
        command: vec![],
        cpu: None,
        memory_reservation: None,
        port_mappings: vec![],
        environment: agent_environment(config),
        secrets: vec![
            SecretRef { name: "OAUTH_CLIENT_ID".into(), value_from: format!("{secret_arn}:client_id::") },
            SecretRef { name: "OAUTH_CLIENT_SECRET".into(), value_from: format!("{secret_arn}:client_secret::") },
        ],
        user: Some(AGENT_USER.into()),
        readonly_root_filesystem: true,
        mount_points: WRITABLE_PATHS
            .iter()
            .map(|(vol, path)| MountPoint { source_volume: (*vol).into(), container_path: (*path).into() })
            .collect(),
        log_driver: "awslogs".into(),
        log_options: BTreeMap::from([
            ("awslogs-group".to_owned(), log_group.clone()),
            ("awslogs-region".to_owned(), region.to_owned()),
            ("awslogs-stream-prefix".to_owned(), "agent".to_owned()),
        ]),
        stop_timeout: 120,
        depends_on: vec![],
    };
    let service_name = n.service.clone();
    let execution_role_arn = format!("arn:{part}:iam::{account}:role/{execution_role}");
    let mut containers = vec![container];
    let sidecar_logs = SidecarLogs { group: &log_group, region };
    if config.metrics {
        containers.push(sidecars::metrics(&config.metrics_image_url, &cluster, &service_name, &sidecar_logs));
    }
    if config.protect_running_pipelines {
        containers.push(sidecars::guard(&config.guard_image_url, &sidecar_logs));
    }
    let family = n.family.clone();
    push(
        addr::TASK_DEFINITION,
        family.clone(),
        false,
        Spec::TaskDefinition(TaskDefinitionSpec {
            family: family.clone(),
            cpu: config.agent_cpu,
            memory: config.agent_memory,
            ephemeral_storage_gib: config.ephemeral_storage_size,
            network_mode: "awsvpc".into(),
            requires_compatibilities: vec!["FARGATE".into()],
            cpu_architecture: "X86_64".into(),
            operating_system_family: "LINUX".into(),
            execution_role_arn: execution_role_arn.clone(),
            task_role_arn: format!("arn:{part}:iam::{account}:role/{task_role}"),
            volumes: WRITABLE_PATHS.iter().map(|(v, _)| (*v).to_owned()).collect(),
            containers,
        }),
        vec![addr::SECRET, addr::EXECUTION_ROLE, addr::TASK_ROLE, addr::LOG_GROUP],
    );
    let runner_service_connect =
        |services: Vec<ServiceConnectService>| ServiceConnect { namespace: addr::NAMESPACE.reference("arn"), services };
    if let Some(runner) = &config.script_runner {
        let network = RunnerNetwork {
            vpc_id: &vpc_id,
            vpc_dep,
            subnets: &subnet_ids,
            subnet_deps: &subnet_deps,
            agent_security_groups: &security_groups,
            agent_sg_deps: &sg_deps,
        };
        let inputs =
            RunnerInputs { config, runner, names: &n, trust, execution_role_arn: &execution_role_arn, part, account };
        push_script_runner(&mut push, &inputs, &network, runner_service_connect(vec![script_runner_alias()]));
    }
    let mut service_deps = vec![addr::CLUSTER, addr::TASK_DEFINITION];
    service_deps.extend(subnet_deps);
    service_deps.extend(sg_deps);
    if config.script_runner.is_some() {
        // Service Connect proxies read the namespace when a task starts: agent
        // tasks must start after the runner's alias is live.
        service_deps.extend([addr::NAMESPACE, addr::SCRIPT_RUNNER_SERVICE]);
    }
    if bucket.is_some() {
        service_deps.push(addr::BUCKET);
    }
    let capacity_provider_strategy = match &config.capacity {
        None => vec![CapacityItem { provider: "FARGATE".into(), base: 0, weight: 1 }],
        Some(c) => {
            let mut v =
                vec![CapacityItem { provider: "FARGATE".into(), base: c.fargate_base, weight: c.fargate_weight }];
            if c.spot_weight > 0 {
                v.push(CapacityItem { provider: "FARGATE_SPOT".into(), base: 0, weight: c.spot_weight });
            }
            v
        }
    };
    push(
        addr::SERVICE,
        service_name.clone(),
        false,
        Spec::EcsService(ServiceSpec {
            cluster: cluster.clone(),
            task_definition: addr::TASK_DEFINITION.reference("arn"),
            desired_count: config.desired_count,
            platform_version: "LATEST".into(),
            subnets: subnet_ids,
            security_groups,
            assign_public_ip: config.assign_public_ip,
            circuit_breaker_rollback: true,
            // Stopping a task loses the pipelines running on it: keep every
            // old task until its replacement runs.
            minimum_healthy_percent: 100,
            maximum_percent: 200,
            propagate_tags: "SERVICE".into(),
            capacity_provider_strategy,
            // A client of the namespace only: the agent serves nothing in it.
            service_connect: config.script_runner.as_ref().map(|_| runner_service_connect(vec![])),
        }),
        service_deps,
    );
    scaling_and_alarms(config, &n, &mut push);
    for r in &mut resources {
        // Autoscaling owns the count once the service exists.
        if r.addr == addr::SERVICE && config.autoscaling.is_some() {
            r.ignore_changes.push("desired_count");
        }
        r.wait_for_steady_state = r.addr == addr::SCRIPT_RUNNER_SERVICE;
    }

    Stack { deployment: name.to_owned(), region: region.to_owned(), resources, existing, access: config.access.clone() }
}

/// The repository of an image in private ECR (its pull is granted on it alone).
fn ecr_repository_arn(image_url: &str, part: &str) -> Option<String> {
    let image = ImageRef::parse(image_url).expect("validated image");
    image.private_ecr().map(|(acct, reg, repo)| format!("arn:{part}:ecr:{reg}:{acct}:repository/{repo}"))
}

/// The two subnets carved from the start of `block` (validated).
fn carve(block: &str) -> [String; 2] {
    let [a, b] = Cidr::parse(block).and_then(|c| c.subnets_for_agent()).expect("validated CIDR");
    [a.to_string(), b.to_string()]
}

/// Multipart uploads the agent never finished cost storage until aborted.
pub const ABORT_INCOMPLETE_UPLOAD_DAYS: u32 = 7;
/// How long a versioned staging bucket keeps a replaced or deleted version.
pub const NONCURRENT_VERSION_DAYS: u32 = 30;

/// The agent's log group and the flow logs' share retention and key.
fn log_group_spec(config: &Config) -> LogGroupSpec {
    LogGroupSpec {
        retention_in_days: (config.log_retention_days > 0).then_some(config.log_retention_days),
        kms_key_id: config.kms_key_arn.clone(),
    }
}

/// Flow logs of the new VPC into a log group of their own, written by a role
/// only VPC Flow Logs of this account can assume.
fn push_flow_logs(
    push: &mut impl FnMut(Address, String, bool, Spec, Vec<Address>),
    config: &Config,
    ctx: &Context,
    n: &Names,
) {
    let (name, region, account) = (config.name.as_str(), config.region.as_str(), ctx.account());
    let part = partition(region);
    let group = n.flow_log_group.clone();
    let group_arn = format!("arn:{part}:logs:{region}:{account}:log-group:{group}");
    let role = n.flow_log_role.clone();
    push(addr::FLOW_LOG_GROUP, group.clone(), false, Spec::LogGroup(log_group_spec(config)), vec![]);
    push(
        addr::FLOW_LOG_ROLE,
        role.clone(),
        false,
        Spec::IamRole(RoleSpec {
            description: format!("VPC Flow Logs of the Matillion agent {name} write with this role"),
            assume_role_policy: iam::flow_logs_trust(part, account, region),
            policies: BTreeMap::from([("flow-logs-delivery".to_owned(), iam::flow_logs_policy(&group_arn))]),
            managed_policy_arns: vec![],
        }),
        vec![],
    );
    push(
        addr::FLOW_LOG,
        n.flow_log.clone(),
        true,
        Spec::FlowLog(FlowLogSpec {
            vpc_id: addr::VPC.reference("id"),
            traffic_type: "ALL".into(),
            log_group_name: group,
            deliver_logs_role_arn: format!("arn:{part}:iam::{account}:role/{role}"),
            max_aggregation_interval: 600,
        }),
        vec![addr::VPC, addr::FLOW_LOG_GROUP, addr::FLOW_LOG_ROLE],
    );
}

fn push_subnets(
    push: &mut impl FnMut(Address, String, bool, Spec, Vec<Address>),
    n: &Names,
    ctx: &Context,
    zones: &[String],
    cidrs: [String; 2],
    vpc_id: String,
    vpc_dep: Option<Address>,
) -> (String, String) {
    for (i, (addr, name)) in [(addr::SUBNET_A, &n.subnet_a), (addr::SUBNET_B, &n.subnet_b)].into_iter().enumerate() {
        push(
            addr,
            name.clone(),
            true,
            Spec::Subnet(SubnetSpec {
                vpc_id: vpc_id.clone(),
                cidr_block: cidrs[i].clone(),
                availability_zone: zones.get(i).cloned().unwrap_or_else(|| ctx.zone(i)),
            }),
            vpc_dep.into_iter().collect(),
        );
    }
    (addr::SUBNET_A.reference("id"), addr::SUBNET_B.reference("id"))
}

/// The agent's environment; optional values are left out when empty, since an
/// empty value crashes the agent.
fn agent_environment(c: &Config) -> Vec<KeyValue> {
    let mut env: Vec<KeyValue> = [
        ("ACCOUNT_ID", c.account_id.as_str()),
        ("AGENT_ID", c.agent_id.as_str()),
        ("MATILLION_REGION", c.matillion_region.as_str()),
        ("CLOUD_PROVIDER", "AWS"),
        ("EXPORT_LOGS", if c.export_logs { "true" } else { "false" }),
        ("MATILLION_ENV", c.matillion_environment.as_str()),
        ("EXTENSION_LIBRARY_LOCATION", c.extension_library_location.as_str()),
        ("EXTENSION_LIBRARY_PROTOCOL", c.extension_library_protocol.as_str()),
        ("PROXY_HTTP", c.proxy_http.as_str()),
        ("PROXY_HTTPS", c.proxy_https.as_str()),
        ("PROXY_EXCLUDES", c.proxy_excludes.as_str()),
        ("CUSTOM_CERT_LOCATION", c.custom_cert_location.as_str()),
        ("EXTERNAL_DRIVER_LOCATION", c.external_driver_location.as_str()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| KeyValue { name: k.into(), value: v.into() })
    .collect();
    env.sort();
    env
}

/// Name of the script runner's container.
pub const SCRIPT_RUNNER_CONTAINER: &str = "script-runner";
/// The SSH port the script runner listens on, and its name in the task.
pub const SCRIPT_RUNNER_PORT: (&str, u16) = ("ssh", 2222);
/// The name agents reach the script runner by: `script-runner:2222` in the namespace.
pub const SCRIPT_RUNNER_DNS_NAME: &str = "script-runner";

fn script_runner_alias() -> ServiceConnectService {
    let (port_name, port) = SCRIPT_RUNNER_PORT;
    ServiceConnectService { port_name: port_name.into(), dns_name: SCRIPT_RUNNER_DNS_NAME.into(), port }
}

/// Where the script runner runs: the agent's network.
struct RunnerNetwork<'a> {
    vpc_id: &'a str,
    vpc_dep: Option<Address>,
    subnets: &'a [String],
    subnet_deps: &'a [Address],
    /// The agent's security groups (references or ids): the only SSH clients.
    agent_security_groups: &'a [String],
    agent_sg_deps: &'a [Address],
}

struct RunnerInputs<'a> {
    config: &'a Config,
    runner: &'a ScriptRunner,
    names: &'a Names,
    trust: serde_json::Value,
    execution_role_arn: &'a str,
    part: &'a str,
    account: &'a str,
}

/// The Maia script runner, as Matillion's reference module builds it: a
/// Service Connect namespace, a service registering `script-runner:2222` in it,
/// its task definition, log group, task role, keys secret and a security group
/// that admits SSH from the agent only.
fn push_script_runner(
    push: &mut impl FnMut(Address, String, bool, Spec, Vec<Address>),
    i: &RunnerInputs,
    net: &RunnerNetwork,
    service_connect: ServiceConnect,
) {
    let RunnerInputs { config, runner, names: n, .. } = *i;
    let (name, region) = (config.name.as_str(), config.region.as_str());
    push(
        addr::NAMESPACE,
        n.namespace.clone(),
        false,
        Spec::HttpNamespace(HttpNamespaceSpec {
            description: format!("Matillion agent {name}: Service Connect to its script runner"),
        }),
        vec![],
    );
    let (port_name, port) = SCRIPT_RUNNER_PORT;
    let ssh_from_agent = net
        .agent_security_groups
        .iter()
        .map(|sg| EgressRule { protocol: "tcp".into(), ports: port.to_string(), cidr: sg.clone() })
        .collect();
    push(
        addr::SCRIPT_RUNNER_SECURITY_GROUP,
        n.script_runner.clone(),
        true,
        Spec::SecurityGroup(SecurityGroupSpec {
            vpc_id: net.vpc_id.to_owned(),
            description: format!("Matillion agent {name}: script runner, SSH from the agent only"),
            ingress: ssh_from_agent,
            egress: vec![EgressRule { protocol: "-1".into(), ports: "all".into(), cidr: "0.0.0.0/0".into() }],
        }),
        net.vpc_dep.into_iter().chain(net.agent_sg_deps.iter().copied()).collect(),
    );
    let keys = runner
        .authorized_keys
        .as_ref()
        .map(|k| SecretString::new(serde_json::json!({ "authorized_keys": k.expose() }).to_string()));
    push(
        addr::RUNNER_KEYPAIR_SECRET,
        n.runner_keypair_secret.clone(),
        false,
        Spec::Secret(SecretSpec {
            description: format!("Matillion agent {name}: SSH public keys its script runner accepts"),
            kms_key_id: config.kms_key_arn.clone(),
            value: keys,
        }),
        vec![],
    );
    push(
        addr::SCRIPT_RUNNER_ROLE,
        n.script_runner_role.clone(),
        false,
        Spec::IamRole(RoleSpec {
            description: format!("The script runner of the Matillion agent {name} runs with this role"),
            assume_role_policy: i.trust.clone(),
            policies: iam::script_runner_policies(runner.extension_library_bucket_arn.as_deref()),
            managed_policy_arns: vec![],
        }),
        vec![],
    );
    push(
        addr::SCRIPT_RUNNER_LOG_GROUP,
        n.script_runner_log_group.clone(),
        false,
        Spec::LogGroup(LogGroupSpec {
            retention_in_days: (runner.log_retention_days > 0).then_some(runner.log_retention_days),
            kms_key_id: config.kms_key_arn.clone(),
        }),
        vec![],
    );
    let keys_arn = addr::RUNNER_KEYPAIR_SECRET.reference("arn");
    let environment = [("EXTENSION_LIBRARY_LOCATION", config.extension_library_location.as_str())]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| KeyValue { name: k.into(), value: v.into() })
        .collect();
    let container = ContainerSpec {
        name: SCRIPT_RUNNER_CONTAINER.into(),
        image: runner.image_url.clone(),
        essential: true,
        command: vec![],
        cpu: None,
        memory_reservation: None,
        port_mappings: vec![PortMapping { name: port_name.into(), container_port: port, protocol: "tcp".into() }],
        environment,
        secrets: vec![SecretRef {
            name: "RUNNER_AUTHORIZED_KEYS".into(),
            value_from: format!("{keys_arn}:authorized_keys::"),
        }],
        // The image's own user and a writable root, as in the reference: an
        // SSH server writes its host keys and sessions where its image says.
        user: None,
        readonly_root_filesystem: false,
        mount_points: vec![],
        log_driver: "awslogs".into(),
        log_options: BTreeMap::from([
            ("awslogs-group".to_owned(), n.script_runner_log_group.clone()),
            ("awslogs-region".to_owned(), region.to_owned()),
            ("awslogs-stream-prefix".to_owned(), SCRIPT_RUNNER_CONTAINER.to_owned()),
        ]),
        stop_timeout: 30,
        depends_on: vec![],
    };
    push(
        addr::SCRIPT_RUNNER_TASK_DEFINITION,
        n.script_runner.clone(),
        false,
        Spec::TaskDefinition(TaskDefinitionSpec {
            family: n.script_runner.clone(),
            cpu: runner.cpu,
            memory: runner.memory,
            ephemeral_storage_gib: None,
            network_mode: "awsvpc".into(),
            requires_compatibilities: vec!["FARGATE".into()],
            cpu_architecture: "X86_64".into(),
            operating_system_family: "LINUX".into(),
            execution_role_arn: i.execution_role_arn.to_owned(),
            task_role_arn: format!("arn:{}:iam::{}:role/{}", i.part, i.account, n.script_runner_role),
            volumes: vec![],
            containers: vec![container],
        }),
        vec![
            addr::RUNNER_KEYPAIR_SECRET,
            addr::EXECUTION_ROLE,
            addr::SCRIPT_RUNNER_ROLE,
            addr::SCRIPT_RUNNER_LOG_GROUP,
        ],
    );
    let mut deps =
        vec![addr::CLUSTER, addr::SCRIPT_RUNNER_TASK_DEFINITION, addr::NAMESPACE, addr::SCRIPT_RUNNER_SECURITY_GROUP];
    deps.extend(net.subnet_deps);
    push(
        addr::SCRIPT_RUNNER_SERVICE,
        n.script_runner.clone(),
        false,
        Spec::EcsService(ServiceSpec {
            cluster: n.cluster.clone(),
            task_definition: addr::SCRIPT_RUNNER_TASK_DEFINITION.reference("arn"),
            desired_count: runner.desired_count,
            platform_version: "LATEST".into(),
            subnets: net.subnets.to_vec(),
            security_groups: vec![addr::SCRIPT_RUNNER_SECURITY_GROUP.reference("id")],
            assign_public_ip: config.assign_public_ip,
            circuit_breaker_rollback: true,
            minimum_healthy_percent: 100,
            maximum_percent: 200,
            propagate_tags: "SERVICE".into(),
            // On-demand only: a reclaimed Spot task would cut the scripts running on it.
            capacity_provider_strategy: vec![CapacityItem { provider: "FARGATE".into(), base: 0, weight: 1 }],
            service_connect: Some(service_connect),
        }),
        deps,
    );
}

fn scaling_and_alarms(config: &Config, n: &Names, push: &mut impl FnMut(Address, String, bool, Spec, Vec<Address>)) {
    let (cluster, service) = (n.cluster.as_str(), n.service.as_str());
    let resource_id = n.scaling_resource_id();
    if let Some(a) = &config.autoscaling {
        push(
            addr::SCALABLE_TARGET,
            resource_id.clone(),
            false,
            Spec::ScalableTarget(ScalableTargetSpec { resource_id: resource_id.clone(), min: a.min, max: a.max }),
            vec![addr::SERVICE],
        );
        let policies = [
            ("cpu", a.cpu_target, "ECSServiceAverageCPUUtilization".to_owned()),
            ("memory", a.memory_target, "ECSServiceAverageMemoryUtilization".to_owned()),
            ("active-tasks", a.active_tasks_target, format!("{METRICS_NAMESPACE}/app_active_task_count")),
        ];
        for (key, target, metric) in policies {
            if let Some(target) = target {
                push(
                    Address::new(Kind::ScalingPolicy, key),
                    n.keyed(key),
                    false,
                    Spec::ScalingPolicy(ScalingPolicySpec {
                        resource_id: resource_id.clone(),
                        metric,
                        target,
                        scale_in_cooldown: a.scale_in_cooldown,
                        scale_out_cooldown: a.scale_out_cooldown,
                    }),
                    vec![addr::SCALABLE_TARGET],
                );
            }
        }
        for s in &config.schedules {
            push(
                Address::named(Kind::ScheduledAction, &s.name),
                n.keyed(&s.name),
                false,
                Spec::ScheduledAction(ScheduledActionSpec {
                    resource_id: resource_id.clone(),
                    schedule: s.schedule.clone(),
                    // No time zone means UTC: one spelling, so no false drift.
                    timezone: s.timezone.clone().filter(|t| t != "UTC"),
                    min: s.min,
                    max: s.max,
                }),
                vec![addr::SCALABLE_TARGET],
            );
        }
    }
    let Some(alarms) = &config.alarms else { return };
    let dims = |c: &str, s: &str| {
        BTreeMap::from([("ClusterName".to_owned(), c.to_owned()), ("ServiceName".to_owned(), s.to_owned())])
    };
    let alarm = |key: &'static str,
                 description: String,
                 namespace: &str,
                 metric: &str,
                 statistic: &str,
                 comparison: &str,
                 threshold: f64,
                 missing: &str| {
        (
            key,
            AlarmSpec {
                description,
                namespace: namespace.into(),
                metric_name: metric.into(),
                dimensions: dims(cluster, service),
                statistic: statistic.into(),
                comparison: comparison.into(),
                threshold,
                period: 60,
                evaluation_periods: 5,
                treat_missing_data: missing.into(),
                actions: alarms.sns_topic_arns.clone(),
            },
        )
    };
    let mut list = vec![
        alarm(
            "cpu-high",
            format!("{service}: average CPU above {}% for 5 minutes", alarms.cpu_high),
            "AWS/ECS",
            "CPUUtilization",
            "Average",
            "GreaterThanThreshold",
            alarms.cpu_high,
            "notBreaching",
        ),
        alarm(
            "memory-high",
            format!("{service}: average memory above {}% for 5 minutes", alarms.memory_high),
            "AWS/ECS",
            "MemoryUtilization",
            "Average",
            "GreaterThanThreshold",
            alarms.memory_high,
            "notBreaching",
        ),
    ];
    let floor = task_floor(config);
    if alarms.tasks_below_desired && floor > 0 {
        list.push(alarm(
            "tasks-below-desired",
            format!("{service}: fewer than {floor} agents running for 5 minutes"),
            "ECS/ContainerInsights",
            "RunningTaskCount",
            "Minimum",
            "LessThanThreshold",
            f64::from(floor),
            "breaching",
        ));
    }
    if config.metrics {
        list.push(alarm(
            "agent-saturated",
            format!(
                "{service}: agents average more than {} active pipeline tasks (cap 20) for 5 minutes",
                alarms.agent_saturation
            ),
            METRICS_NAMESPACE,
            "app_active_task_count",
            "Average",
            "GreaterThanThreshold",
            alarms.agent_saturation,
            "notBreaching",
        ));
        // Missing data breaches (an agent that stopped reporting is down), so
        // a service allowed to run no task must not have it.
        if alarms.agent_not_running && floor > 0 {
            list.push(alarm(
                "agent-not-running",
                format!("{service}: an agent reports it is not running"),
                METRICS_NAMESPACE,
                "app_agent_status",
                "Minimum",
                "LessThanThreshold",
                1.0,
                "breaching",
            ));
        }
    }
    for (key, spec) in list {
        push(Address::new(Kind::Alarm, key), n.keyed(key), false, Spec::Alarm(spec), vec![addr::SERVICE]);
    }
    if alarms.dashboard {
        push(
            addr::DASHBOARD,
            n.dashboard.clone(),
            false,
            Spec::Dashboard(DashboardSpec { body: dashboard(config, cluster, service) }),
            vec![addr::SERVICE],
        );
    }
}

/// The fewest tasks the service may run at any time: the count, or the
/// autoscaling minimum and any lower minimum (or maximum) a schedule sets.
fn task_floor(config: &Config) -> u32 {
    let Some(a) = &config.autoscaling else { return config.desired_count };
    config.schedules.iter().flat_map(|s| [s.min, s.max]).flatten().fold(a.min, u32::min)
}

fn dashboard(config: &Config, cluster: &str, service: &str) -> serde_json::Value {
    let region = config.region.as_str();
    let metric = |ns: &str, m: &str, stat: &str| serde_json::json!([ns, m, "ClusterName", cluster, "ServiceName", service, {"stat": stat}]);
    let widget = |title: &str, metrics: Vec<serde_json::Value>, y: u32, x: u32| {
        serde_json::json!({"type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": {"title": title, "region": region, "view": "timeSeries", "period": 60, "metrics": metrics}})
    };
    let mut widgets = vec![
        serde_json::json!({"type": "text", "x": 0, "y": 0, "width": 24, "height": 2,
            "properties": {"markdown": format!("# Matillion agent {service}\nManaged by agentctl (deployment `{}`).", config.name)}}),
        widget(
            "CPU and memory (%)",
            vec![metric("AWS/ECS", "CPUUtilization", "Average"), metric("AWS/ECS", "MemoryUtilization", "Average")],
            2,
            0,
        ),
        widget(
            "Running agents",
            vec![
                metric("ECS/ContainerInsights", "RunningTaskCount", "Minimum"),
                metric("ECS/ContainerInsights", "DesiredTaskCount", "Maximum"),
            ],
            2,
            12,
        ),
    ];
    if config.metrics {
        widgets.push(widget(
            "Active pipeline tasks per agent (cap 20)",
            vec![
                metric(METRICS_NAMESPACE, "app_active_task_count", "Average"),
                metric(METRICS_NAMESPACE, "app_active_task_count", "Maximum"),
            ],
            8,
            0,
        ));
        widgets.push(widget(
            "Requests and sessions",
            vec![
                metric(METRICS_NAMESPACE, "app_active_request_count", "Sum"),
                metric(METRICS_NAMESPACE, "app_open_sessions_count", "Sum"),
            ],
            8,
            12,
        ));
    }
    serde_json::json!({"widgets": widgets})
}
