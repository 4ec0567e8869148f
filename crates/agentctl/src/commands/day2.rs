//! What the day-2 commands share: the service they work on, and how tasks read.

use std::fmt::Write;

use agentctl_aws::lock::format_utc;
use agentctl_aws::ops::{ServiceRef, TaskInfo};
use agentctl_aws::Aws;
use agentctl_core::config::Loaded;

use super::load_config;
use crate::exit::Failure;
use crate::printer::Printer;
use crate::settings::Settings;

/// The config, clients and service without asking AWS who we are: these
/// commands work on the service by name, one round trip sooner.
pub async fn connect_service(settings: &Settings, printer: &Printer) -> Result<(Loaded, Aws, ServiceRef), Failure> {
    let loaded = load_config(settings, printer)?;
    let aws = Aws::clients(&settings.aws, &loaded.config.region).await;
    let service = ServiceRef::new(&loaded.config.name, &loaded.config.secret_name);
    Ok((loaded, aws, service))
}

/// A time in seconds since the epoch, or `-`.
pub fn when(secs: Option<i64>) -> String {
    secs.map_or_else(|| "-".into(), |s| format_utc(s.max(0) as u64))
}

pub fn tasks_table(out: &mut String, tasks: &[TaskInfo]) {
    let _ = writeln!(
        out,
        "  {:<34} {:<10} {:<12} {:<15} {:<21} {:<8} REVISION",
        "TASK", "STATUS", "AZ", "PRIVATE IP", "STARTED", "HEALTH"
    );
    for t in tasks {
        let _ = writeln!(
            out,
            "  {:<34} {:<10} {:<12} {:<15} {:<21} {:<8} {}",
            t.id,
            t.last_status,
            t.availability_zone.as_deref().unwrap_or("-"),
            t.private_ip.as_deref().unwrap_or("-"),
            when(t.started_at),
            t.health.as_deref().unwrap_or("-"),
            t.task_definition.rsplit('/').next().unwrap_or_default()
        );
    }
}
