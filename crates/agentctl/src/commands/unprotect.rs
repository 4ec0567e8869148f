//! `agentctl unprotect [--task ID]`: turn the scale-in protection of busy
//! agent tasks off, so an urgent rollout or scale-in stops them now. Their
//! running pipelines fail: it says how many, and asks.

use agentctl_aws::ops::{self, TaskInfo};
use agentctl_aws::protection;
use agentctl_core::protection::until;
use serde_json::json;

use super::confirm;
use super::day2::connect_service;
use crate::cli::{ServiceArg, ServiceChoice, UnprotectArgs};
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, args: &UnprotectArgs) -> Result<Code, Failure> {
    let d = connect_service(settings, printer, ServiceArg { service: ServiceChoice::Agent }).await?;
    let (aws, s) = (&d.aws, &d.service);
    let running = ops::tasks(aws, s, false).await?;
    let chosen = choose(&running, args.task.as_deref(), &s.service)?;
    let ids: Vec<String> = chosen.iter().map(|t| t.id.clone()).collect();
    // Read again, and here: a protection that cannot be read is an error, not "no".
    let protections = protection::read(&aws.ecs, &s.cluster, &ids).await?;
    let now = chrono::Utc::now().timestamp();
    let protected: Vec<&TaskInfo> = chosen
        .into_iter()
        .filter(|t| protections.get(&t.id).is_some_and(|p| p.protected && p.expires_at.is_none_or(|at| at > now)))
        .collect();
    if protected.is_empty() {
        let what = args
            .task
            .as_ref()
            .map_or_else(|| format!("No task of {} is protected", s.service), |t| format!("Task {t} is not protected"));
        printer.result(&format!("{what}: nothing to turn off.\n"), &json!({"released": [], "pipelines": 0}));
        return Ok(Code::Ok);
    }
    let pipelines: u32 = protected.iter().filter_map(|t| t.pipelines).sum();
    let unknown = protected.iter().filter(|t| t.pipelines.is_none()).count();
    let each: Vec<String> = protected
        .iter()
        .map(|t| {
            let until = protections[&t.id].expires_at.map(|at| format!(", protected until {}", until(at, now)));
            let runs = t.pipelines.map_or_else(|| "pipelines unknown".into(), |n| format!("{n} running pipelines"));
            format!("  {}: {runs}{}", t.id, until.unwrap_or_default())
        })
        .collect();
    let kills = match unknown {
        0 => format!("the {pipelines} pipelines running on them fail"),
        _ => format!("the pipelines running on them fail ({pipelines} counted; {unknown} task(s) did not report)"),
    };
    printer.note(&format!(
        "{} protected task{} of {}:\n{}\nOnce protection is off, ECS may stop them at once (a waiting deployment, or scale-in): {kills}.",
        protected.len(),
        if protected.len() == 1 { "" } else { "s" },
        s.service,
        each.join("\n")
    ));
    confirm(settings, printer, "Turn their protection off?")?;
    let ids: Vec<String> = protected.iter().map(|t| t.id.clone()).collect();
    let released = protection::release(&aws.ecs, &s.cluster, &ids).await?;
    for (task, reason) in &released.failures {
        printer.warn(&format!("ECS kept the protection of task {task}: {reason}"));
    }
    let text = format!(
        "Protection is off for {} task{}. The guard protects a task again at its next renewal if it still runs pipelines then.\n",
        released.tasks.len(),
        if released.tasks.len() == 1 { "" } else { "s" }
    );
    printer.result(&text, &json!({"released": released.tasks, "failures": released.failures, "pipelines": pipelines}));
    Ok(if released.failures.is_empty() { Code::Ok } else { Code::Failure })
}

/// Every running task, or the one `--task` names (by id or a unique prefix).
fn choose<'a>(running: &'a [TaskInfo], task: Option<&str>, service: &str) -> Result<Vec<&'a TaskInfo>, Failure> {
    let Some(prefix) = task else { return Ok(running.iter().collect()) };
    let matching: Vec<&TaskInfo> = running.iter().filter(|t| t.id.starts_with(prefix)).collect();
    match matching.len() {
        1 => Ok(matching),
        0 => {
            Err(Failure::new(Code::InvalidInput, format!("--task {prefix}: no running task of {service} has that id"))
                .help("`agentctl tasks` lists the running tasks"))
        }
        n => Err(Failure::new(
            Code::InvalidInput,
            format!("--task {prefix}: {n} running tasks of {service} start with it"),
        )
        .help("give more of the task id")),
    }
}
