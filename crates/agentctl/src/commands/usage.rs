//! `agentctl usage [--days N] [--html FILE]`: the agents' hourly CPU, memory,
//! tasks and running pipelines, and the size, count and schedules they need.

use std::io::IsTerminal;

use agentctl_aws::usage;
use agentctl_core::cost::PriceTable;
use agentctl_core::usage::{analyse, html, text, Current, Metric, UsageInput};

use super::day2::connect_service;
use crate::cli::{ServiceArg, ServiceChoice, UsageArgs};
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, args: &UsageArgs) -> Result<Code, Failure> {
    let d = connect_service(settings, printer, ServiceArg { service: ServiceChoice::Agent }).await?;
    let config = &d.loaded.config;
    let metrics: Vec<Metric> =
        Metric::ALL.into_iter().filter(|m| config.metrics || !m.needs_metrics_sidecar()).collect();
    let now = chrono::Utc::now().timestamp();
    let read = usage::read(&d.aws, &d.service, args.days, &metrics, now).await?;
    let input = UsageInput {
        service: d.service.service.clone(),
        region: config.region.clone(),
        days_asked: args.days,
        start: read.start,
        hours: read.hours,
        series: read.series,
        current: Current {
            cpu: config.agent_cpu,
            memory_mib: config.agent_memory,
            desired_count: read.desired_count,
            autoscaling: config.autoscaling.as_ref().map(|a| (a.min, a.max)),
            metrics: config.metrics,
            timezone: config.schedules.iter().find_map(|s| s.timezone.clone()).unwrap_or_else(|| "UTC".into()),
        },
    };
    let report = analyse(&input, &PriceTable::builtin());
    if let Some(path) = &args.html {
        std::fs::write(path, html(&report)).map_err(|e| {
            Failure::new(Code::Failure, format!("cannot write {}: {e}", path.display()))
                .help("give --html a path in a folder you can write")
        })?;
        printer.note(&format!("Wrote the report to {}", path.display()));
    }
    let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(100);
    let color = settings.color && std::io::stdout().is_terminal();
    let json = serde_json::to_value(&report).expect("a report serializes");
    printer.result(&text(&report, width, color), &json);
    Ok(Code::Ok)
}
