//! `agentctl tasks`: running and recently stopped tasks, with why they stopped.

use agentctl_aws::ops::{self, TaskInfo};
use agentctl_core::text::Text;
use serde_json::json;

use super::day2::{connect_service, diagnosis_context, tasks_table, when};
use crate::cli::ServiceArg;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, arg: ServiceArg) -> Result<Code, Failure> {
    let d = connect_service(settings, printer, arg).await?;
    let (aws, s) = (&d.aws, &d.service);
    let (running, stopped) = tokio::try_join!(ops::tasks(aws, s, false), ops::tasks(aws, s, true))?;
    let ctx = diagnosis_context(s, stopped.first().map(|t| t.task_definition.as_str()));
    let diagnoses =
        agentctl_core::rollout::diagnose(&stopped.iter().map(TaskInfo::as_stopped).collect::<Vec<_>>(), &ctx);
    let mut out = Text::new();
    out.line(format_args!("Running ({})", running.len())).push(&tasks_table(&running));
    out.blank().line(format_args!("Recently stopped ({})", stopped.len()));
    for t in &stopped {
        let exits: Vec<String> = t
            .containers
            .iter()
            .map(|c| format!("{} exit {}", c.name, c.exit_code.map_or("-".into(), |e| e.to_string())))
            .collect();
        out.line(format_args!(
            "  {}  stopped {}  {}: {} [{}]",
            t.id,
            when(t.stopped_at),
            t.stop_code.as_deref().unwrap_or("-"),
            t.stopped_reason.as_deref().unwrap_or("-"),
            exits.join(", ")
        ));
    }
    if !diagnoses.is_empty() {
        out.blank().line("Why tasks stopped:");
        for d in &diagnoses {
            out.line(format_args!("  {} × {}", d.count, d.reason));
            out.line(format_args!("    likely cause: {}", d.likely_cause));
            out.line(format_args!("    fix: {}", d.fix));
        }
    }
    printer.result(out.as_str(), &json!({"running": running, "stopped": stopped, "diagnoses": diagnoses}));
    Ok(Code::Ok)
}
