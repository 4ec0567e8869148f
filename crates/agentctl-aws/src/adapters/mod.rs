//! One adapter per AWS service: read live state into the core model, and apply
//! one change. `dispatch` routes a resource to its adapter by kind.

pub mod autoscaling;
pub mod cloudwatch;
mod ec2;
pub(crate) mod ecs;
pub(crate) mod iam;
mod logs;
mod s3;
mod secrets;

use std::collections::BTreeMap;

use agentctl_core::model::{Address, Kind, Resource};
use agentctl_core::names;
use agentctl_core::plan::{Known, LiveResource};

use crate::error::{Error, Meaning};
use crate::Aws;

pub(crate) type Outputs = BTreeMap<String, String>;

pub(crate) fn outputs(pairs: &[(&str, &str)]) -> Outputs {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Every name this deployment may own, whether or not the config uses it now,
/// so resources left from an earlier config are found too.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub deployment: String,
    pub vpc: String,
    pub igw: String,
    pub subnet_a: String,
    pub subnet_b: String,
    pub route_table: String,
    pub security_group: String,
    pub secret: String,
    pub execution_role: String,
    pub task_role: String,
    pub bucket: String,
    pub log_group: String,
    pub flow_log_group: String,
    pub flow_log_role: String,
    /// `Name` tag of the VPC's flow log.
    pub flow_log: String,
    pub cluster: String,
    pub service: String,
    pub family: String,
    pub dashboard: String,
}

impl Names {
    /// `secret` is the credentials secret's name, which the config may choose.
    pub fn new(deployment: &str, account: &str, region: &str, secret: &str) -> Names {
        Names {
            deployment: deployment.to_owned(),
            vpc: names::network(deployment, "vpc"),
            igw: names::network(deployment, "igw"),
            subnet_a: names::network(deployment, "subnet-a"),
            subnet_b: names::network(deployment, "subnet-b"),
            route_table: names::network(deployment, "public"),
            security_group: names::security_group(deployment),
            secret: secret.to_owned(),
            execution_role: names::execution_role(deployment),
            task_role: names::task_role(deployment),
            bucket: names::bucket(deployment, account, region),
            log_group: names::log_group(deployment),
            flow_log_group: names::flow_log_group(deployment),
            flow_log_role: names::flow_log_role(deployment),
            flow_log: names::network(deployment, "flow-logs"),
            cluster: names::cluster(deployment),
            service: names::service(deployment),
            family: names::task_family(deployment),
            dashboard: format!("{deployment}-agent"),
        }
    }

    /// `service/CLUSTER/SERVICE`: how Application Auto Scaling names the service.
    pub fn scaling_resource_id(&self) -> String {
        format!("service/{}/{}", self.cluster, self.service)
    }

    /// The name of a resource at `addr`; `None` for kinds with user-given names
    /// (policies, schedules, alarms), whose live id is their name.
    pub fn get(&self, addr: Address) -> Option<&str> {
        match addr.kind {
            // A secret under an earlier `secret_name` is keyed by its own name.
            Kind::Secret if addr != agentctl_core::model::addr::SECRET => None,
            Kind::ScalingPolicy | Kind::ScheduledAction | Kind::Alarm => None,
            Kind::ScalableTarget => None,
            Kind::Dashboard => Some(&self.dashboard),
            _ => Some(self.of(addr)),
        }
    }

    pub fn of(&self, addr: Address) -> &str {
        use agentctl_core::model::addr as a;
        match addr {
            a::VPC => &self.vpc,
            a::IGW => &self.igw,
            a::SUBNET_A => &self.subnet_a,
            a::SUBNET_B => &self.subnet_b,
            a::ROUTE_TABLE => &self.route_table,
            a::SECURITY_GROUP => &self.security_group,
            a::SECRET => &self.secret,
            a::EXECUTION_ROLE => &self.execution_role,
            a::TASK_ROLE => &self.task_role,
            a::BUCKET => &self.bucket,
            a::LOG_GROUP => &self.log_group,
            a::FLOW_LOG_GROUP => &self.flow_log_group,
            a::FLOW_LOG_ROLE => &self.flow_log_role,
            a::FLOW_LOG => &self.flow_log,
            a::CLUSTER => &self.cluster,
            a::TASK_DEFINITION => &self.family,
            a::SERVICE => &self.service,
            other => unreachable!("no name for {other}"),
        }
    }
}

/// Reads every resource this deployment may own, all services at once.
pub(crate) async fn read_all(
    aws: &Aws,
    names: &Names,
    vpc_hint: Option<&str>,
) -> Result<BTreeMap<Address, LiveResource>, Error> {
    use agentctl_core::model::addr as a;
    let scaling_id = names.scaling_resource_id();
    let (network, secret, roles, bucket, log_groups, (cluster, task_def, service), scaling, alarms) = tokio::try_join!(
        ec2::read(aws, names, vpc_hint),
        async {
            tokio::try_join!(
                secrets::read(aws, &names.secret),
                secrets::read_renamed(aws, &names.deployment, &names.secret)
            )
        },
        async {
            tokio::try_join!(
                iam::read(aws, &names.execution_role),
                iam::read(aws, &names.task_role),
                iam::read(aws, &names.flow_log_role),
            )
        },
        s3::read(aws, &names.bucket),
        async { tokio::try_join!(logs::read(aws, &names.log_group), logs::read(aws, &names.flow_log_group)) },
        ecs::read(aws, names),
        autoscaling::read(aws, &names.deployment, &scaling_id),
        cloudwatch::read(aws, &names.deployment, &names.dashboard),
    )?;
    let (secret, renamed_secrets) = secret;
    let mut out = network;
    for l in renamed_secrets {
        out.insert(Address::named(Kind::Secret, &l.outputs["name"]), l);
    }
    out.extend(scaling);
    out.extend(alarms);
    let (exec_role, task_role, flow_log_role) = roles;
    let (log_group, flow_log_group) = log_groups;
    for (addr, found) in [
        (a::SECRET, secret),
        (a::EXECUTION_ROLE, exec_role),
        (a::TASK_ROLE, task_role),
        (a::FLOW_LOG_ROLE, flow_log_role),
        (a::BUCKET, bucket),
        (a::LOG_GROUP, log_group),
        (a::FLOW_LOG_GROUP, flow_log_group),
        (a::CLUSTER, cluster),
        (a::TASK_DEFINITION, task_def),
        (a::SERVICE, service),
    ] {
        if let Some(l) = found {
            out.insert(addr, l);
        }
    }
    Ok(out)
}

pub(crate) async fn create(aws: &Aws, r: &Resource, known: &Known) -> Result<Outputs, Error> {
    match r.addr.kind {
        Kind::Vpc | Kind::InternetGateway | Kind::Subnet | Kind::RouteTable | Kind::SecurityGroup | Kind::FlowLog => {
            ec2::create(aws, r, known).await
        }
        Kind::Secret => secrets::create(aws, r).await,
        Kind::IamRole => iam::create(aws, r).await,
        Kind::S3Bucket => s3::create(aws, r).await,
        Kind::LogGroup => logs::create(aws, r).await,
        Kind::EcsCluster | Kind::TaskDefinition | Kind::EcsService => ecs::create(aws, r, known).await,
        Kind::ScalableTarget | Kind::ScalingPolicy | Kind::ScheduledAction => autoscaling::put(aws, r).await,
        Kind::Alarm | Kind::Dashboard => cloudwatch::put(aws, r, None).await,
    }
}

pub(crate) async fn update(aws: &Aws, r: &Resource, live: &LiveResource, known: &Known) -> Result<Outputs, Error> {
    match r.addr.kind {
        Kind::Vpc | Kind::InternetGateway | Kind::Subnet | Kind::RouteTable | Kind::SecurityGroup | Kind::FlowLog => {
            ec2::update(aws, r, live, known).await
        }
        Kind::Secret => secrets::update(aws, r, live).await,
        Kind::IamRole => iam::update(aws, r, live).await,
        Kind::S3Bucket => s3::update(aws, r, live).await,
        Kind::LogGroup => logs::update(aws, r, live).await,
        Kind::EcsCluster | Kind::TaskDefinition | Kind::EcsService => ecs::update(aws, r, live, known).await,
        Kind::ScalableTarget | Kind::ScalingPolicy | Kind::ScheduledAction => autoscaling::put(aws, r).await,
        Kind::Alarm | Kind::Dashboard => cloudwatch::put(aws, r, Some(live)).await,
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct DeleteOptions {
    pub force_delete_secret: bool,
    pub empty_bucket: bool,
}

pub(crate) async fn delete(
    aws: &Aws,
    addr: Address,
    name: &str,
    live: &LiveResource,
    opts: DeleteOptions,
) -> Result<(), Error> {
    let result = match addr.kind {
        Kind::Vpc | Kind::InternetGateway | Kind::Subnet | Kind::RouteTable | Kind::SecurityGroup | Kind::FlowLog => {
            ec2::delete(aws, addr, live).await
        }
        Kind::Secret => secrets::delete(aws, name, opts.force_delete_secret).await,
        Kind::IamRole => iam::delete(aws, name).await,
        Kind::S3Bucket => s3::delete(aws, name, opts.empty_bucket).await,
        Kind::LogGroup => logs::delete(aws, name).await,
        Kind::EcsCluster | Kind::TaskDefinition | Kind::EcsService => ecs::delete(aws, addr, live).await,
        Kind::ScalableTarget | Kind::ScalingPolicy | Kind::ScheduledAction => autoscaling::delete(aws, live).await,
        Kind::Alarm | Kind::Dashboard => cloudwatch::delete(aws, live).await,
    };
    // Each adapter tolerates "already gone" on its intermediate steps itself.
    gone_ok(result)
}

/// Tag changes as (set, unset) lists.
pub(crate) fn tag_delta(
    have: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> (Vec<(String, String)>, Vec<String>) {
    let set = want.iter().filter(|(k, v)| have.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let unset = have.keys().filter(|k| !want.contains_key(*k)).cloned().collect();
    (set, unset)
}

/// A delete (or detach) that finds its target already gone succeeded: its
/// first attempt took effect and the answer was lost, so the SDK retried.
pub(crate) fn gone_ok<T: Default>(r: Result<T, Error>) -> Result<T, Error> {
    match r {
        Err(e) if e.is(Meaning::NotFound) => Ok(T::default()),
        other => other,
    }
}
