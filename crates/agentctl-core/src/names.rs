//! Deterministic resource names derived from `name`, and AWS's rules for each.

/// Placeholder for the AWS account id in names and ARNs until it is known
/// (offline plan). Replaced by `model::Context::resolve`.
pub const ACCOUNT_PLACEHOLDER: &str = "<aws-account-id>";
const ACCOUNT_ID_LEN: usize = 12;

pub fn cluster(name: &str) -> String {
    name.to_owned()
}
pub fn service(name: &str) -> String {
    format!("{name}-agent")
}
pub fn task_family(name: &str) -> String {
    format!("{name}-agent")
}
pub fn execution_role(name: &str) -> String {
    format!("{name}-execution-role")
}
pub fn task_role(name: &str) -> String {
    format!("{name}-task-role")
}
pub fn secret(name: &str) -> String {
    format!("{name}-agent-credentials")
}
pub fn log_group(name: &str) -> String {
    format!("/ecs/{name}-agent")
}
/// Log group receiving the flow logs of the VPC agentctl creates.
pub fn flow_log_group(name: &str) -> String {
    format!("/vpc/{name}-flow-logs")
}
/// Role VPC Flow Logs assumes to write to [`flow_log_group`]. As long as the
/// execution role's name, so `derived_names` checks that one only.
pub fn flow_log_role(name: &str) -> String {
    format!("{name}-flow-logs-role")
}
pub fn security_group(name: &str) -> String {
    format!("{name}-agent")
}
/// Global namespace: the AWS account and region make it collision-safe and
/// deterministic, so no random salt is needed.
pub fn bucket(name: &str, account: &str, region: &str) -> String {
    format!("{name}-staging-{account}-{region}")
}
/// The `Name` tag of network resources, which have no name of their own.
pub fn network(name: &str, part: &str) -> String {
    format!("{name}-{part}")
}
/// The Maia script runner's service, task family and security group.
pub fn script_runner(name: &str) -> String {
    format!("{name}-script-runner")
}
pub fn script_runner_role(name: &str) -> String {
    format!("{name}-script-runner-role")
}
pub fn script_runner_log_group(name: &str) -> String {
    format!("/ecs/{name}-script-runner")
}
/// Secret holding the script runner's `authorized_keys` (the reference module's default name).
pub fn runner_keypair_secret(name: &str) -> String {
    format!("{name}-runner-keypair")
}
/// Cloud Map HTTP namespace of the cluster's Service Connect (the reference module's name).
pub fn namespace(name: &str) -> String {
    format!("{name}-service-connect")
}
/// SSM parameter holding the deployment lock.
pub fn lock_parameter(name: &str) -> String {
    format!("/agentctl/{name}/lock")
}

/// Every name of one deployment, made once: what `build` names its resources,
/// what the AWS side looks for (also of resources the config does not use now,
/// so leftovers of an earlier config are found), what day-2 commands address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `name`: the value of the ownership tag.
    pub deployment: String,
    pub vpc: String,
    pub igw: String,
    pub subnet_a: String,
    pub subnet_b: String,
    pub route_table: String,
    pub security_group: String,
    /// `secret_name`, or `NAME-agent-credentials`.
    pub secret: String,
    pub execution_role: String,
    pub task_role: String,
    /// `None` while the AWS account is not known (day-2 commands make no STS call).
    pub bucket: Option<String>,
    pub log_group: String,
    pub flow_log_group: String,
    pub flow_log_role: String,
    /// `Name` tag of the VPC's flow log.
    pub flow_log: String,
    pub cluster: String,
    pub service: String,
    pub family: String,
    pub dashboard: String,
    pub lock_parameter: String,
    /// Service Connect namespace of the cluster (with the script runner).
    pub namespace: String,
    /// Service, task family and security group of the script runner.
    pub script_runner: String,
    pub script_runner_role: String,
    pub script_runner_log_group: String,
    /// `runner_keypair_secret_name`, or `NAME-runner-keypair`.
    pub runner_keypair_secret: String,
}

/// Names the config may give instead of the derived ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct GivenNames<'a> {
    pub secret: Option<&'a str>,
    pub runner_keypair_secret: Option<&'a str>,
}

impl Names {
    /// `account` completes the bucket's name (the placeholder offline, `None`
    /// when unknown); `given` holds the names the config sets itself.
    pub fn new(deployment: &str, account: Option<&str>, region: &str, given: GivenNames) -> Names {
        Names {
            deployment: deployment.to_owned(),
            vpc: network(deployment, "vpc"),
            igw: network(deployment, "igw"),
            subnet_a: network(deployment, "subnet-a"),
            subnet_b: network(deployment, "subnet-b"),
            route_table: network(deployment, "public"),
            security_group: security_group(deployment),
            secret: given.secret.map_or_else(|| secret(deployment), str::to_owned),
            execution_role: execution_role(deployment),
            task_role: task_role(deployment),
            bucket: account.map(|account| bucket(deployment, account, region)),
            log_group: log_group(deployment),
            flow_log_group: flow_log_group(deployment),
            flow_log_role: flow_log_role(deployment),
            flow_log: network(deployment, "flow-logs"),
            cluster: cluster(deployment),
            service: service(deployment),
            family: task_family(deployment),
            dashboard: format!("{deployment}-agent"),
            lock_parameter: lock_parameter(deployment),
            namespace: namespace(deployment),
            script_runner: script_runner(deployment),
            script_runner_role: script_runner_role(deployment),
            script_runner_log_group: script_runner_log_group(deployment),
            runner_keypair_secret: given
                .runner_keypair_secret
                .map_or_else(|| runner_keypair_secret(deployment), str::to_owned),
        }
    }

    /// The names of `config`'s deployment in `account`, when known.
    pub fn of_config(config: &crate::config::Config, account: Option<&str>) -> Names {
        let given = GivenNames {
            secret: Some(&config.secret_name),
            runner_keypair_secret: config.script_runner.as_ref().map(|r| r.keypair_secret_name.as_str()),
        };
        Names::new(&config.name, account, &config.region, given)
    }

    /// `service/CLUSTER/SERVICE`: how Application Auto Scaling names the service.
    pub fn scaling_resource_id(&self) -> String {
        format!("service/{}/{}", self.cluster, self.service)
    }

    /// A resource of the deployment named after a user-given key: scaling
    /// policies, scheduled actions, alarms (`NAME-key`).
    pub fn keyed(&self, key: &str) -> String {
        format!("{}-{key}", self.deployment)
    }

    /// Every address whose name is fixed by the deployment, with that name
    /// (the bucket's once the account is known). Adapters read these.
    pub fn all(&self) -> Vec<(crate::model::Address, &str)> {
        use crate::model::addr as a;
        let mut all = vec![
            (a::VPC, self.vpc.as_str()),
            (a::IGW, &self.igw),
            (a::SUBNET_A, &self.subnet_a),
            (a::SUBNET_B, &self.subnet_b),
            (a::ROUTE_TABLE, &self.route_table),
            (a::SECURITY_GROUP, &self.security_group),
            (a::SECRET, &self.secret),
            (a::EXECUTION_ROLE, &self.execution_role),
            (a::TASK_ROLE, &self.task_role),
            (a::LOG_GROUP, &self.log_group),
            (a::FLOW_LOG_GROUP, &self.flow_log_group),
            (a::FLOW_LOG_ROLE, &self.flow_log_role),
            (a::FLOW_LOG, &self.flow_log),
            (a::CLUSTER, &self.cluster),
            (a::TASK_DEFINITION, &self.family),
            (a::SERVICE, &self.service),
            (a::DASHBOARD, &self.dashboard),
            (a::NAMESPACE, &self.namespace),
            (a::SCRIPT_RUNNER_SECURITY_GROUP, &self.script_runner),
            (a::RUNNER_KEYPAIR_SECRET, &self.runner_keypair_secret),
            (a::SCRIPT_RUNNER_ROLE, &self.script_runner_role),
            (a::SCRIPT_RUNNER_LOG_GROUP, &self.script_runner_log_group),
            (a::SCRIPT_RUNNER_TASK_DEFINITION, &self.script_runner),
            (a::SCRIPT_RUNNER_SERVICE, &self.script_runner),
        ];
        all.extend(self.bucket.as_deref().map(|b| (a::BUCKET, b)));
        all
    }

    /// The fixed addresses of one kind, with their names.
    pub fn of_kind(&self, kind: crate::model::Kind) -> Vec<(crate::model::Address, &str)> {
        self.all().into_iter().filter(|(a, _)| a.kind == kind).collect()
    }

    /// The name of the resource at `addr`; `None` for addresses whose name is
    /// their own (policies, schedules, alarms found in AWS, a secret under an
    /// earlier `secret_name`): their live id names them.
    pub fn of(&self, addr: crate::model::Address) -> Option<&str> {
        self.all().into_iter().find(|(a, _)| *a == addr).map(|(_, name)| name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Ecs,
    IamRole,
    LogGroup,
    Secret,
    S3Bucket,
    SecurityGroup,
}

#[derive(Debug, Clone)]
pub struct DerivedName {
    pub resource: &'static str,
    pub value: String,
    pub rule: Rule,
}

impl DerivedName {
    pub fn check(&self) -> Result<(), String> {
        let v = self.value.as_str();
        let (max, ok): (usize, fn(char) -> bool) = match self.rule {
            Rule::Ecs => (255, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            Rule::IamRole => (64, |c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)),
            Rule::LogGroup => (512, |c| c.is_ascii_alphanumeric() || "._-/#".contains(c)),
            Rule::Secret => (512, |c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)),
            Rule::S3Bucket => (63, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            Rule::SecurityGroup => (255, |c| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c)),
        };
        let len = v.chars().count();
        if len > max {
            return Err(format!(
                "`{v}` is {len} characters; {} {} name is at most {max}",
                article(self.resource),
                self.resource
            ));
        }
        if let Some(bad) = v.chars().find(|c| !ok(*c)) {
            let allowed = match self.rule {
                Rule::S3Bucket => "lowercase letters, digits and hyphens",
                Rule::Ecs => "letters, digits, hyphens and underscores",
                Rule::IamRole => "letters, digits and - _ . @ + = ,",
                Rule::LogGroup => "letters, digits and - _ . / #",
                Rule::Secret => "letters, digits and - _ . / @ + =",
                Rule::SecurityGroup => "letters, digits, spaces and . _ - : / ( ) # , @ [ ] + = & ; { } ! $ *",
            };
            return Err(format!(
                "`{v}` contains '{bad}'; {} {} name allows only {allowed}",
                article(self.resource),
                self.resource
            ));
        }
        if self.rule == Rule::S3Bucket && (v.starts_with('-') || v.starts_with("xn--")) {
            return Err(format!("`{v}` must start with a lowercase letter or digit"));
        }
        if self.rule == Rule::Ecs && !v.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(format!("`{v}` must start with a letter or digit"));
        }
        Ok(())
    }
}

fn article(noun: &str) -> &'static str {
    // "an S3 bucket", "an IAM role", "an ECS cluster": by sound, not spelling.
    if noun.starts_with("S3") || noun.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    }
}

/// Every name agentctl derives, with a 12-digit stand-in for the AWS account id.
pub fn derived_names(name: &str, region: &str, create_bucket: bool, with_script_runner: bool) -> Vec<DerivedName> {
    let d = |resource, value, rule| DerivedName { resource, value, rule };
    let mut out = vec![
        d("ECS cluster", cluster(name), Rule::Ecs),
        d("ECS service", service(name), Rule::Ecs),
        d("task definition family", task_family(name), Rule::Ecs),
        d("IAM execution role", execution_role(name), Rule::IamRole),
        d("IAM task role", task_role(name), Rule::IamRole),
        d("CloudWatch log group", log_group(name), Rule::LogGroup),
        d("Secrets Manager secret", secret(name), Rule::Secret),
        d("security group", security_group(name), Rule::SecurityGroup),
    ];
    if create_bucket {
        out.push(d("S3 bucket", bucket(name, &"0".repeat(ACCOUNT_ID_LEN), region), Rule::S3Bucket));
    }
    if with_script_runner {
        out.extend([
            d("ECS service", script_runner(name), Rule::Ecs),
            d("IAM role", script_runner_role(name), Rule::IamRole),
            d("CloudWatch log group", script_runner_log_group(name), Rule::LogGroup),
            d("Secrets Manager secret", runner_keypair_secret(name), Rule::Secret),
            d("security group", script_runner(name), Rule::SecurityGroup),
        ]);
    }
    out
}

/// The longest `name` that keeps every derived name within its limit.
pub fn max_prefix_len(region: &str, create_bucket: bool, with_script_runner: bool) -> usize {
    derived_names("", region, create_bucket, with_script_runner)
        .iter()
        .map(|d| {
            let max = match d.rule {
                Rule::IamRole => 64,
                Rule::S3Bucket => 63,
                Rule::LogGroup | Rule::Secret => 512,
                Rule::Ecs | Rule::SecurityGroup => 255,
            };
            max - d.value.chars().count()
        })
        .min()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_valid() {
        for d in derived_names("data-insights", "ap-southeast-5", true, true) {
            assert_eq!(d.check(), Ok(()), "{}", d.resource);
        }
    }

    #[test]
    fn bucket_limit_depends_on_region() {
        // 63 - len("-staging-") - 12 - len("-") - len(region)
        assert_eq!(max_prefix_len("us-east-1", true, false), 63 - 9 - 12 - 1 - 9);
        assert_eq!(max_prefix_len("us-east-1", false, false), 64 - "-execution-role".len());
        assert_eq!(max_prefix_len("us-east-1", false, true), 64 - "-script-runner-role".len());
    }

    #[test]
    fn long_name_fails_the_bucket_then_the_role() {
        let name = "a".repeat(40);
        let failing: Vec<_> = derived_names(&name, "us-east-1", true, false)
            .into_iter()
            .filter(|d| d.check().is_err())
            .map(|d| d.resource)
            .collect();
        assert_eq!(failing, vec!["S3 bucket"]);
        let name = "a".repeat(50);
        let failing: Vec<_> = derived_names(&name, "us-east-1", false, false)
            .into_iter()
            .filter(|d| d.check().is_err())
            .map(|d| d.resource)
            .collect();
        assert_eq!(failing, vec!["IAM execution role"]);
    }

    #[test]
    fn uppercase_breaks_only_the_bucket() {
        let failing: Vec<_> = derived_names("Agent", "us-east-1", true, true)
            .into_iter()
            .filter(|d| d.check().is_err())
            .map(|d| d.resource)
            .collect();
        assert_eq!(failing, vec!["S3 bucket"]);
    }
}
