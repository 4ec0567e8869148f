//! `agentctl status`: the service, its deployments and tasks, autoscaling, alarms, recent events, outputs.

use agentctl_aws::lock::format_utc;
use agentctl_aws::ops;
use agentctl_core::config::CredentialsNeeded;
use agentctl_core::model::ServiceRole;
use agentctl_core::text::{Table, Text};
use serde_json::json;

use super::day2::{not_enabled, tasks_table, when};
use super::{connect, stack};
use crate::cli::ServiceArg;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, arg: ServiceArg) -> Result<Code, Failure> {
    let (loaded, aws) = connect(settings, printer, CredentialsNeeded::No).await?;
    let stack = stack(&loaded, &aws);
    let names = stack.names(Some(&aws.account_id));
    let role = ServiceRole::from(arg.service);
    let s = stack.ecs_service(role).ok_or_else(|| not_enabled(role))?;
    let (status, outputs) = tokio::try_join!(ops::status(&aws, &names, &s), agentctl_aws::outputs::read(&aws, &stack))?;
    let svc = &status.service;
    let mut out = Text::new();
    out.line(format_args!("Service {} in cluster {}: {}", s.service, s.cluster, svc.status));
    out.line(format_args!("  desired {}, running {}, pending {}", svc.desired, svc.running, svc.pending));
    out.blank().line("Deployments");
    let mut deployments = Table::new().indent(2);
    for d in &svc.deployments {
        deployments.row([
            d.status.clone(),
            d.id.clone(),
            d.rollout_state.clone().unwrap_or_else(|| "-".into()),
            d.task_definition.rsplit('/').next().unwrap_or_default().to_owned(),
            format!("{}/{} running, {} pending, {} failed", d.running, d.desired, d.pending, d.failed_tasks),
        ]);
    }
    out.push(&deployments.render());
    out.blank().line(format_args!("Running tasks ({})", status.running_tasks.len()));
    if !status.running_tasks.is_empty() {
        out.push(&tasks_table(&status.running_tasks));
    }
    if let Some(a) = &status.autoscaling {
        out.blank().line(format_args!("Autoscaling: {} to {} tasks", a.min, a.max));
        let bound = |n: Option<u32>| n.map_or("-".into(), |n| n.to_string());
        let mut scaling = Table::new().indent(2).separator(" ");
        for (name, metric, target) in &a.policies {
            scaling.row(["policy".to_owned(), format!("{name}: hold {metric} at {target}")]);
        }
        if let Some(next) = a.schedules.iter().filter(|s| s.next_run.is_some()).min_by_key(|s| s.next_run) {
            scaling.row([
                "next".to_owned(),
                format!("{} at {} (min {}, max {})", next.name, when(next.next_run), bound(next.min), bound(next.max)),
            ]);
        }
        for sch in &a.schedules {
            scaling.row([
                "schedule".to_owned(),
                format!(
                    "{}: {} ({}) -> min {} max {}",
                    sch.name,
                    sch.schedule,
                    sch.timezone.as_deref().unwrap_or("UTC"),
                    bound(sch.min),
                    bound(sch.max)
                ),
            ]);
        }
        out.push(&scaling.render());
    }
    if !status.alarms.is_empty() {
        out.blank().line("Alarms");
        let mut alarms = Table::new().indent(2);
        for a in &status.alarms {
            alarms.row([a.state.clone(), a.name.clone()]);
        }
        out.push(&alarms.render());
    }
    out.blank().line("Recent events");
    for e in svc.events.iter().take(8) {
        out.line(format_args!("  {}  {}", format_utc(e.at.max(0) as u64), e.message));
    }
    let access = agentctl_core::model::iam::access_summary(&loaded.config);
    out.blank().line(&access);
    out.blank().line(outputs.text());
    printer.result(
        out.as_str(),
        &json!({"service": svc, "running_tasks": status.running_tasks, "autoscaling": status.autoscaling, "alarms": status.alarms, "agent_access": access, "outputs": outputs}),
    );
    Ok(Code::Ok)
}
