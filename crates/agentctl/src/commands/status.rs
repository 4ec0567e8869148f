//! `agentctl status`: the service, its deployments and tasks, autoscaling, alarms, recent events, outputs.

use std::fmt::Write;

use agentctl_aws::lock::format_utc;
use agentctl_aws::ops::{self, ServiceRef};
use serde_json::json;

use super::day2::{tasks_table, when};
use super::{connect, stack};
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer) -> Result<Code, Failure> {
    let (loaded, aws) = connect(settings, printer).await?;
    let stack = stack(&loaded, &aws);
    let s = ServiceRef::of(&stack);
    let (status, outputs) = tokio::try_join!(ops::status(&aws, &s), agentctl_aws::outputs::read(&aws, &stack))?;
    let svc = &status.service;
    let mut out = String::new();
    let _ = writeln!(out, "Service {} in cluster {}: {}", s.service, s.cluster, svc.status);
    let _ = writeln!(out, "  desired {}, running {}, pending {}", svc.desired, svc.running, svc.pending);
    let _ = writeln!(out, "\nDeployments");
    for d in &svc.deployments {
        let _ = writeln!(
            out,
            "  {:<8} {:<28} {:<12} {:<28} {}/{} running, {} pending, {} failed",
            d.status,
            d.id,
            d.rollout_state.as_deref().unwrap_or("-"),
            d.task_definition.rsplit('/').next().unwrap_or_default(),
            d.running,
            d.desired,
            d.pending,
            d.failed_tasks
        );
    }
    let _ = writeln!(out, "\nRunning tasks ({})", status.running_tasks.len());
    if !status.running_tasks.is_empty() {
        tasks_table(&mut out, &status.running_tasks);
    }
    if let Some(a) = &status.autoscaling {
        let _ = writeln!(out, "\nAutoscaling: {} to {} tasks", a.min, a.max);
        for (name, metric, target) in &a.policies {
            let _ = writeln!(out, "  policy   {name}: hold {metric} at {target}");
        }
        if let Some(next) = a.schedules.iter().filter(|s| s.next_run.is_some()).min_by_key(|s| s.next_run) {
            let _ = writeln!(
                out,
                "  next     {} at {} (min {}, max {})",
                next.name,
                when(next.next_run),
                next.min.map_or("-".into(), |n| n.to_string()),
                next.max.map_or("-".into(), |n| n.to_string())
            );
        }
        for sch in &a.schedules {
            let bounds = format!(
                "min {} max {}",
                sch.min.map_or("-".into(), |n| n.to_string()),
                sch.max.map_or("-".into(), |n| n.to_string())
            );
            let _ = writeln!(
                out,
                "  schedule {}: {} ({}) -> {bounds}",
                sch.name,
                sch.schedule,
                sch.timezone.as_deref().unwrap_or("UTC")
            );
        }
    }
    if !status.alarms.is_empty() {
        let _ = writeln!(out, "\nAlarms");
        for a in &status.alarms {
            let _ = writeln!(out, "  {:<18} {}", a.state, a.name);
        }
    }
    let _ = writeln!(out, "\nRecent events");
    for e in svc.events.iter().take(8) {
        let _ = writeln!(out, "  {}  {}", format_utc(e.at.max(0) as u64), e.message);
    }
    let access = agentctl_core::model::iam::access_summary(&loaded.config);
    let _ = writeln!(out, "\n{access}");
    let _ = writeln!(out, "\n{}", outputs.text());
    printer.result(
        &out,
        &json!({"service": svc, "running_tasks": status.running_tasks, "autoscaling": status.autoscaling, "alarms": status.alarms, "agent_access": access, "outputs": outputs}),
    );
    Ok(Code::Ok)
}
