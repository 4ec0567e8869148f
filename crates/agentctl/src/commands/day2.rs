//! What the day-2 commands share: the service they work on, and how tasks read.

use agentctl_aws::lock::format_utc;
use agentctl_aws::ops::TaskInfo;
use agentctl_aws::Clients;
use agentctl_core::config::{CredentialsNeeded, Loaded};
use agentctl_core::model::{self, EcsServiceView, ServiceRole};
use agentctl_core::protection::until;
use agentctl_core::rollout::DiagnosisContext;
use agentctl_core::text::Table;

use super::load_config;
use crate::cli::ServiceArg;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

/// What a day-2 command works with: the config, clients and the service
/// `--service` chose.
pub struct Day2 {
    pub loaded: Loaded,
    pub aws: Clients,
    pub service: EcsServiceView,
}

/// The config, clients and service without asking AWS who we are: these
/// commands work on the service by name, one round trip sooner.
pub async fn connect_service(settings: &Settings, printer: &Printer, arg: ServiceArg) -> Result<Day2, Failure> {
    let loaded = load_config(settings, printer, CredentialsNeeded::No)?;
    let role = ServiceRole::from(arg.service);
    // The account is not known without asking STS: names that need it stay
    // unset, ARNs hold a placeholder until an answer names the account.
    let stack = model::build(&loaded.config, &model::Context::default());
    let service = stack.ecs_service(role).ok_or_else(|| not_enabled(role))?;
    let clients = Clients::new(&settings.aws, &loaded.config.region).await;
    Ok(Day2 { loaded, aws: clients, service })
}

/// `--service` names a service the config does not have.
pub fn not_enabled(role: ServiceRole) -> Failure {
    Failure::new(
        Code::InvalidInput,
        format!("--service {}: the config does not enable the script runner", role.as_str()),
    )
    .help("set `enable_script_runner = true` and apply, or leave out --service")
}

/// What diagnosis needs to name the fix, in the account an ARN the command
/// read names (day-2 commands make no STS call).
pub fn diagnosis_context(service: &EcsServiceView, arn: Option<&str>) -> DiagnosisContext {
    let mut ctx = service.diagnosis_context();
    if let Some(account) = arn.and_then(agentctl_aws::ops::account_of) {
        ctx.secret_arn = ctx.secret_arn.replace(agentctl_core::names::ACCOUNT_PLACEHOLDER, account);
    }
    ctx
}

/// A time in seconds since the epoch, or `-`.
pub fn when(secs: Option<i64>) -> String {
    secs.map_or_else(|| "-".into(), |s| format_utc(s.max(0) as u64))
}

/// Running tasks as a table: id, status, zone, IP, start, health, revision,
/// scale-in protection and the pipelines the guard last counted.
pub fn tasks_table(tasks: &[TaskInfo]) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut table = Table::new().indent(2);
    table.row(["TASK", "STATUS", "AZ", "PRIVATE IP", "STARTED", "HEALTH", "REVISION", "PROTECTED", "PIPELINES"]);
    for t in tasks {
        let protected = match t.protection {
            Some(p) if p.protected => {
                p.expires_at.map_or_else(|| "yes".into(), |at| format!("until {}", until(at, now)))
            }
            Some(_) => "no".into(),
            None => "?".into(),
        };
        table.row([
            t.id.clone(),
            t.last_status.clone(),
            t.availability_zone.clone().unwrap_or_else(|| "-".into()),
            t.private_ip.clone().unwrap_or_else(|| "-".into()),
            when(t.started_at),
            t.health.clone().unwrap_or_else(|| "-".into()),
            t.task_definition.rsplit('/').next().unwrap_or_default().to_owned(),
            protected,
            t.pipelines.map_or_else(|| "-".into(), |n| n.to_string()),
        ]);
    }
    table.render()
}
