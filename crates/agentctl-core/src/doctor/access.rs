//! Doctor's checks of what the agent may reach: the secrets, buckets and
//! managed policies the config names exist, and the task role allows what the
//! agent needs (IAM's policy simulator on the deployed role where the account
//! allows it, else the policies apply writes, evaluated here).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ids, Check, Status};
use crate::config::{Config, SecretsAccess};
use crate::model::{self, Context, Spec};
use crate::names;
use crate::policy::{self, Decision};
use crate::regions::partition;

/// What AWS said of one named thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Lookup {
    Found,
    Missing,
    /// In another region (buckets).
    OtherRegion(String),
    /// Not read, and why (access denied, network).
    NotRead(String),
}

/// IAM's policy simulator's verdict on one (action, resource).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Simulated {
    pub action: String,
    pub resource: String,
    /// `allowed`, `explicitDeny` or `implicitDeny`, as IAM says it.
    pub decision: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Simulation {
    Results(Vec<Simulated>),
    /// Not run, and why (no role yet, no permission, an emulator without it).
    NotRun(String),
}

/// The facts the access checks need, gathered by the AWS side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessFacts {
    /// Each entry of `secret_names` that names one secret (not a prefix).
    pub secrets: Vec<(String, Lookup)>,
    /// Each of `staging_buckets`.
    pub buckets: Vec<(String, Lookup)>,
    /// Each of `task_role_policy_arns`.
    pub managed_policies: Vec<(String, Lookup)>,
    pub simulation: Simulation,
}

impl AccessFacts {
    /// Nothing asked of AWS yet.
    pub fn not_gathered(config: &Config) -> AccessFacts {
        let not_read =
            |items: Vec<String>| items.into_iter().map(|i| (i, Lookup::NotRead("not asked".into()))).collect();
        AccessFacts {
            secrets: not_read(exact_secret_names(config)),
            buckets: not_read(config.access.staging_buckets.clone()),
            managed_policies: not_read(config.access.managed_policy_arns.clone()),
            simulation: Simulation::NotRun("AWS was not asked".into()),
        }
    }
}

/// The entries of `secret_names` that name one secret rather than a prefix.
pub fn exact_secret_names(config: &Config) -> Vec<String> {
    config.access.secret_names.iter().filter(|n| !n.ends_with('*')).cloned().collect()
}

/// A secret the agent could be asked to use under the config: the first named
/// one, a name under the first prefix, or any name.
fn sample_secret(config: &Config, account: &str) -> String {
    let name = match config.access.secret_names.first() {
        Some(n) => match n.strip_suffix('*') {
            Some(prefix) => format!("{prefix}doctor-probe"),
            None => n.clone(),
        },
        None => "doctor-probe".to_owned(),
    };
    // A real ARN has Secrets Manager's six-character suffix.
    format!("arn:{}:secretsmanager:{}:{account}:secret:{name}-AbC123", partition(&config.region), config.region)
}

/// Every (action, resource) the running agent needs under this config: the
/// baseline of Matillion's documentation, narrowed as the config narrows it.
pub fn agent_needs(config: &Config, account: &str) -> Vec<(String, String)> {
    let mut needs = Vec::new();
    let mut need = |action: &str, resource: String| needs.push((action.to_owned(), resource));
    if config.access.secrets != SecretsAccess::None {
        let secret = sample_secret(config, account);
        need("secretsmanager:ListSecrets", "*".into());
        need("secretsmanager:GetSecretValue", secret.clone());
        if config.access.secrets == SecretsAccess::Manage {
            need("secretsmanager:CreateSecret", secret.clone());
            need("secretsmanager:PutSecretValue", secret);
        }
    }
    let part = partition(&config.region);
    let own = config.create_bucket.then(|| names::bucket(&config.name, account, &config.region));
    for bucket in own.iter().chain(&config.access.staging_buckets) {
        need("s3:ListBucket", format!("arn:{part}:s3:::{bucket}"));
        need("s3:GetObject", format!("arn:{part}:s3:::{bucket}/doctor-probe"));
        need("s3:PutObject", format!("arn:{part}:s3:::{bucket}/doctor-probe"));
    }
    needs
}

pub fn checks(config: &Config, ctx: &Context, facts: &AccessFacts) -> Vec<Check> {
    let mut out = Vec::new();
    if !facts.secrets.is_empty() {
        out.push(check_secrets(config, &facts.secrets));
    }
    if !facts.buckets.is_empty() {
        out.push(check_buckets(config, &facts.buckets));
    }
    if !facts.managed_policies.is_empty() {
        out.push(check_managed_policies(&facts.managed_policies));
    }
    out.push(check_effective(config, ctx, &facts.simulation));
    out
}

fn check_secrets(config: &Config, secrets: &[(String, Lookup)]) -> Check {
    let mut c = Check::new(ids::SECRET_NAMES, "Secrets named in secret_names exist", Status::Pass);
    let mut missing = Vec::new();
    for (name, lookup) in secrets {
        match lookup {
            Lookup::Found => c.evidence.push(format!("{name} exists in {}", config.region)),
            Lookup::Missing | Lookup::OtherRegion(_) => {
                c.status = c.status.max(Status::Warn);
                c.evidence.push(format!("{name} does not exist in {}", config.region));
                missing.push(name.as_str());
            }
            Lookup::NotRead(why) => {
                c.status = c.status.max(Status::Warn);
                c.evidence.push(format!("{name}: not checked ({why})"));
            }
        }
    }
    if !missing.is_empty() {
        c.fix = Some(match config.access.secrets {
            SecretsAccess::Manage => format!(
                "the agent creates {} when the credential is defined in Matillion; otherwise create it in Secrets Manager in {} or correct `secret_names`",
                missing.join(", "),
                config.region
            ),
            _ => format!(
                "create {} in Secrets Manager in {} (the agent reads secrets of its own region only), or correct `secret_names`",
                missing.join(", "),
                config.region
            ),
        });
    } else if c.status != Status::Pass {
        c.fix = Some(
            "allow the caller secretsmanager:DescribeSecret on these secrets (agentctl iam-policy lists it)".into(),
        );
    }
    c
}

fn check_buckets(config: &Config, buckets: &[(String, Lookup)]) -> Check {
    let mut c = Check::new(ids::STAGING_BUCKETS, "Staging buckets exist in the region", Status::Pass);
    let mut fixes = Vec::new();
    for (bucket, lookup) in buckets {
        match lookup {
            Lookup::Found => c.evidence.push(format!("{bucket} exists in {}", config.region)),
            Lookup::Missing => {
                c.status = Status::Fail;
                c.evidence.push(format!("{bucket} does not exist: pipelines staging there fail"));
                fixes.push(format!("create {bucket} in {} or remove it from `staging_buckets`", config.region));
            }
            Lookup::OtherRegion(region) => {
                c.status = c.status.max(Status::Warn);
                c.evidence.push(format!(
                    "{bucket} is in {region}, not {}: every staged byte crosses regions (cost, latency), and warehouses that load from S3 (Redshift COPY) want the bucket in their own region",
                    config.region
                ));
                fixes.push(format!("use a staging bucket in {}", config.region));
            }
            Lookup::NotRead(why) => {
                c.status = c.status.max(Status::Warn);
                c.evidence.push(format!("{bucket}: not checked ({why})"));
                fixes.push(format!("allow the caller s3:GetBucketLocation on {bucket}"));
            }
        }
    }
    c.fix = (!fixes.is_empty()).then(|| fixes.join("; "));
    c
}

fn check_managed_policies(policies: &[(String, Lookup)]) -> Check {
    let mut c = Check::new(ids::MANAGED_POLICIES, "Managed policies for the task role exist", Status::Pass);
    let mut fixes = Vec::new();
    for (arn, lookup) in policies {
        match lookup {
            Lookup::Found => c.evidence.push(format!("{arn} exists")),
            Lookup::Missing | Lookup::OtherRegion(_) => {
                c.status = Status::Fail;
                c.evidence.push(format!("{arn} does not exist: apply fails attaching it"));
                fixes.push(format!("create {arn} or remove it from `task_role_policy_arns`"));
            }
            Lookup::NotRead(why) => {
                c.status = c.status.max(Status::Warn);
                c.evidence.push(format!("{arn}: not checked ({why})"));
                fixes.push(format!("allow the caller iam:GetPolicy on {arn}"));
            }
        }
    }
    c.fix = (!fixes.is_empty()).then(|| fixes.join("; "));
    c
}

/// The agent's needs against IAM's simulator, or against the policies apply
/// writes (which cannot see managed policies, permission boundaries or SCPs).
fn check_effective(config: &Config, ctx: &Context, simulation: &Simulation) -> Check {
    let mut c = Check::new(ids::EFFECTIVE_ACCESS, "The task role allows what the agent needs", Status::Pass);
    let needs = agent_needs(config, ctx.account());
    let (verdicts, source): (Vec<(String, String, String)>, String) = match simulation {
        Simulation::Results(results) => (
            needs
                .iter()
                .map(|(action, resource)| {
                    let verdict = results.iter().find(|r| &r.action == action && &r.resource == resource);
                    let decision = verdict.map_or("not simulated", |r| r.decision.as_str());
                    (action.clone(), resource.clone(), decision.to_owned())
                })
                .collect(),
            "IAM's policy simulator, on the deployed task role".to_owned(),
        ),
        Simulation::NotRun(why) => {
            let stack = model::build(config, ctx);
            let policies: Vec<serde_json::Value> = match stack.get(model::addr::TASK_ROLE).map(|r| &r.spec) {
                Some(Spec::IamRole(role)) => role.policies.values().cloned().collect(),
                _ => vec![],
            };
            let context = BTreeMap::from([("aws:RequestedRegion".to_owned(), config.region.clone())]);
            let verdicts = needs
                .iter()
                .map(|(action, resource)| {
                    let d = policy::evaluate(policies.iter(), &policy::Request { action, resource, context: &context });
                    let decision = match d {
                        Decision::Allowed => "allowed".to_owned(),
                        Decision::ExplicitDeny { sid } => format!("explicitDeny ({})", sid.unwrap_or_default()),
                        Decision::ImplicitDeny => "implicitDeny".to_owned(),
                    };
                    (action.clone(), resource.clone(), decision)
                })
                .collect();
            (verdicts, format!("the inline policies apply writes (IAM's policy simulator not used: {why})"))
        }
    };
    c.evidence.push(format!("evaluated with {source}"));
    let denied: Vec<_> = verdicts.iter().filter(|(_, _, d)| d != "allowed").collect();
    if denied.is_empty() {
        c.evidence.push(format!("{} needs allowed: {}", needs.len(), summary(&needs)));
        if !config.access.managed_policy_arns.is_empty() && matches!(simulation, Simulation::NotRun(_)) {
            c.evidence.push("managed policies were not evaluated: they can only add to this".into());
        }
    } else {
        c.status = Status::Fail;
        for (action, resource, decision) in denied {
            c.evidence.push(format!("{action} on {resource}: {decision}"));
        }
        c.fix = Some(if config.access.extra_policy.is_some() {
            "a Deny in `task_role_policy` (or a permission boundary) blocks it: narrow the Deny, then `agentctl apply`"
                .into()
        } else {
            "run `agentctl plan` to see how the task role differs and `agentctl apply` to repair it".into()
        });
    }
    c
}

/// "ListSecrets, GetSecretValue, ..." without repeats, in order.
fn summary(needs: &[(String, String)]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for (action, _) in needs {
        if !seen.contains(&action.as_str()) {
            seen.push(action);
        }
    }
    seen.join(", ")
}
