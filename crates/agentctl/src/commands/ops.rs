//! Day-2 commands: status, tasks, logs, scale, redeploy, rollback.

use std::fmt::Write;

use agentctl_aws::lock::format_utc;
use agentctl_aws::ops::{self, ServiceRef, TaskInfo};
use agentctl_core::rollout::DiagnosisContext;
use serde_json::json;

use super::rollout::{diagnosis_context, wait};
use super::{connect, connect_clients, stack};
use crate::cli::{LogsArgs, RedeployArgs, RollbackArgs, ScaleArgs};
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

fn when(secs: Option<i64>) -> String {
    secs.map_or_else(|| "-".into(), |s| format_utc(s.max(0) as u64))
}

fn tasks_table(out: &mut String, tasks: &[TaskInfo]) {
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

pub async fn status(settings: &Settings, printer: &Printer) -> Result<Code, Failure> {
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

pub async fn tasks(settings: &Settings, printer: &Printer) -> Result<Code, Failure> {
    let (loaded, aws) = connect_clients(settings, printer).await?;
    let s = ServiceRef::new(&loaded.config.name, &loaded.config.secret_name);
    let (running, stopped) = tokio::try_join!(ops::tasks(&aws, &s, false), ops::tasks(&aws, &s, true))?;
    let account = stopped.iter().find_map(|t| ops::account_of(&t.task_definition)).unwrap_or_default();
    let ctx = context(&aws.region, account, &s, &loaded.config);
    let diagnoses =
        agentctl_core::rollout::diagnose(&stopped.iter().map(TaskInfo::as_stopped).collect::<Vec<_>>(), &ctx);
    let mut out = format!("Running ({})\n", running.len());
    tasks_table(&mut out, &running);
    let _ = writeln!(out, "\nRecently stopped ({})", stopped.len());
    for t in &stopped {
        let exits: Vec<String> = t
            .containers
            .iter()
            .map(|c| format!("{} exit {}", c.name, c.exit_code.map_or("-".into(), |e| e.to_string())))
            .collect();
        let _ = writeln!(
            out,
            "  {}  stopped {}  {}: {} [{}]",
            t.id,
            when(t.stopped_at),
            t.stop_code.as_deref().unwrap_or("-"),
            t.stopped_reason.as_deref().unwrap_or("-"),
            exits.join(", ")
        );
    }
    if !diagnoses.is_empty() {
        let _ = writeln!(out, "\nWhy tasks stopped:");
        for d in &diagnoses {
            let _ =
                writeln!(out, "  {} × {}\n    likely cause: {}\n    fix: {}", d.count, d.reason, d.likely_cause, d.fix);
        }
    }
    printer.result(&out, &json!({"running": running, "stopped": stopped, "diagnoses": diagnoses}));
    Ok(Code::Ok)
}

fn context(region: &str, account: &str, s: &ServiceRef, c: &agentctl_core::config::Config) -> DiagnosisContext {
    diagnosis_context(region, account, s, &c.image_url, c.agent_memory)
}

pub async fn logs(settings: &Settings, printer: &Printer, args: &LogsArgs) -> Result<Code, Failure> {
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let start_ms = agentctl_aws::logs::parse_since(&args.since, now_ms)
        .map_err(|e| Failure::new(Code::InvalidInput, format!("--since: {e}")))?;
    let (loaded, aws) = connect_clients(settings, printer).await?;
    let s = ServiceRef::new(&loaded.config.name, &loaded.config.secret_name);
    let q = agentctl_aws::logs::Query { group: &s.log_group, task: args.task.as_deref(), start_ms, end_ms: None };
    let json = printer.is_json();
    let print = |l: &agentctl_aws::logs::LogLine| {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let ok = if json {
            writeln!(stdout, "{}", serde_json::to_string(l).expect("json"))
        } else {
            let short = &l.task[..l.task.len().min(12)];
            writeln!(stdout, "[{short}] {}", l.message)
        };
        ok.is_ok() // a closed pipe ends the follow loop quietly
    };
    if args.follow {
        tokio::select! {
            r = agentctl_aws::logs::follow(&aws, q, print) => r?,
            _ = tokio::signal::ctrl_c() => {}
        }
    } else {
        for l in agentctl_aws::logs::fetch(&aws, &q, &mut Default::default()).await? {
            if !print(&l) {
                break;
            }
        }
    }
    Ok(Code::Ok)
}

pub async fn scale(settings: &Settings, printer: &Printer, args: &ScaleArgs) -> Result<Code, Failure> {
    let (loaded, aws) = connect_clients(settings, printer).await?;
    let s = ServiceRef::new(&loaded.config.name, &loaded.config.secret_name);
    let scaled = ops::scale(&aws, &s, args.count, loaded.config.autoscaling.is_some()).await?;
    if let Some((min, max)) = scaled.outside_bounds {
        printer.warn(&format!(
            "autoscaling (not in the config) keeps {} between {min} and {max} tasks: it will change {} back; apply removes it",
            s.service, args.count
        ));
    }
    let deployment = scaled.deployment;
    if args.count != loaded.config.desired_count {
        printer.warn(&format!(
            "the config says desired_count = {}; the next apply sets it back unless you change the config",
            loaded.config.desired_count
        ));
    }
    if args.wait.no_wait {
        printer.result(
            &format!("Scaling {} to {} tasks (not waiting).\n", s.service, args.count),
            &json!({"desired": args.count, "deployment": deployment, "waited": false}),
        );
        return Ok(Code::Ok);
    }
    let reached = ops::wait_running(&aws, &s, args.count, args.wait.timeout, |running, pending| {
        printer.note(&format!("{running}/{} running, {pending} pending", args.count));
    })
    .await?;
    let text = if reached {
        format!("{} runs {} tasks.\n", s.service, args.count)
    } else {
        format!("{} did not reach {} running tasks within {} s.\n", s.service, args.count, args.wait.timeout.as_secs())
    };
    printer.result(&text, &json!({"desired": args.count, "deployment": deployment, "reached": reached}));
    Ok(if reached { Code::Ok } else { Code::TimedOut })
}

pub async fn redeploy(settings: &Settings, printer: &Printer, args: &RedeployArgs) -> Result<Code, Failure> {
    if let Some(image) = &args.image {
        agentctl_core::image::ImageRef::parse(image)
            .map_err(|e| Failure::new(Code::InvalidInput, format!("--image {image}: {e}")))?;
    }
    let (loaded, aws) = connect_clients(settings, printer).await?;
    let s = ServiceRef::new(&loaded.config.name, &loaded.config.secret_name);
    let started = ops::redeploy(&aws, &s, args.image.as_deref()).await?;
    printer.note(&format!("Redeploying {} with {}", s.service, started.task_definition));
    if let Some(image) = args.image.as_deref().filter(|i| *i != loaded.config.image_url) {
        printer.warn(&format!(
            "the config says image_url = \"{}\"; set it to \"{image}\" or the next apply rolls the image back",
            loaded.config.image_url
        ));
    }
    let ctx = diagnosis_context(
        &aws.region,
        ops::account_of(&started.task_definition).unwrap_or_default(),
        &s,
        args.image.as_deref().unwrap_or(&loaded.config.image_url),
        loaded.config.agent_memory,
    );
    wait(&aws, &s, &started.deployment, &ctx, &args.wait, printer).await
}

pub async fn rollback(settings: &Settings, printer: &Printer, args: &RollbackArgs) -> Result<Code, Failure> {
    let (loaded, aws) = connect_clients(settings, printer).await?;
    let s = ServiceRef::new(&loaded.config.name, &loaded.config.secret_name);
    let started = ops::rollback(&aws, &s, args.to).await?;
    printer.note(&format!(
        "Rolling {} back from {} to {}",
        s.service, started.previous_task_definition, started.task_definition
    ));
    let account = ops::account_of(&started.task_definition).unwrap_or_default();
    let ctx = context(&aws.region, account, &s, &loaded.config);
    wait(&aws, &s, &started.deployment, &ctx, &args.wait, printer).await
}
