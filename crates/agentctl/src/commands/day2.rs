//! What the day-2 commands share: the service they work on, and how tasks read.

use agentctl_aws::lock::format_utc;
use agentctl_aws::ops::TaskInfo;
use agentctl_aws::Clients;
use agentctl_core::config::{CredentialsNeeded, Loaded};
use agentctl_core::names::Names;
use agentctl_core::text::Table;

use super::load_config;
use crate::exit::Failure;
use crate::printer::Printer;
use crate::settings::Settings;

/// The config, clients and service without asking AWS who we are: these
/// commands work on the service by name, one round trip sooner.
pub async fn connect_service(settings: &Settings, printer: &Printer) -> Result<(Loaded, Clients, Names), Failure> {
    let loaded = load_config(settings, printer, CredentialsNeeded::No)?;
    let clients = Clients::new(&settings.aws, &loaded.config.region).await;
    // The account is not known without asking STS: names that need it stay unset.
    let names = Names::of_config(&loaded.config, None);
    Ok((loaded, clients, names))
}

/// A time in seconds since the epoch, or `-`.
pub fn when(secs: Option<i64>) -> String {
    secs.map_or_else(|| "-".into(), |s| format_utc(s.max(0) as u64))
}

/// Tasks as a table: id, status, zone, IP, start, health, revision.
pub fn tasks_table(tasks: &[TaskInfo]) -> String {
    let mut table = Table::new().indent(2);
    table.row(["TASK", "STATUS", "AZ", "PRIVATE IP", "STARTED", "HEALTH", "REVISION"]);
    for t in tasks {
        table.row([
            t.id.clone(),
            t.last_status.clone(),
            t.availability_zone.clone().unwrap_or_else(|| "-".into()),
            t.private_ip.clone().unwrap_or_else(|| "-".into()),
            when(t.started_at),
            t.health.clone().unwrap_or_else(|| "-".into()),
            t.task_definition.rsplit('/').next().unwrap_or_default().to_owned(),
        ]);
    }
    table.render()
}
