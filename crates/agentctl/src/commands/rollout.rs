//! Waiting for a rollout this command started, and telling the truth about it.

use agentctl_aws::rollout::{self, Outcome, Target, WatchOptions, WatchReport};
use agentctl_aws::Clients;
use agentctl_core::model::{EcsServiceView, ServiceRole};
use agentctl_core::protection::UNPROTECT_HINT;
use agentctl_core::rollout::DiagnosisContext;
use agentctl_core::text::Text;

use crate::cli::WaitArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;

/// Waits for `deployment` (unless --no-wait) and maps its outcome to an exit code.
pub async fn wait(
    aws: &Clients,
    s: &EcsServiceView,
    deployment: &str,
    ctx: &DiagnosisContext,
    args: &WaitArgs,
    printer: &Printer,
) -> Result<Code, Failure> {
    let follow = match s.role {
        ServiceRole::Agent => "agentctl status".to_owned(),
        role => format!("agentctl status --service {}", role.as_str()),
    };
    if args.no_wait {
        printer.note(&format!("Started deployment {deployment}; not waiting (--no-wait). Follow it with `{follow}`."));
        return Ok(Code::Ok);
    }
    printer.note(&format!("Waiting for deployment {deployment} (up to {} s)...", args.timeout.as_secs()));
    let target = Target::of(s, deployment);
    let opts = WatchOptions {
        timeout: args.timeout,
        fail_fast_after: args.fail_fast_after as usize,
        ..WatchOptions::default()
    };
    tokio::select! {
        report = rollout::watch(&aws.ecs, &aws.logs, &target, ctx, opts, printer) => Ok(show(&report?, printer)),
        _ = tokio::signal::ctrl_c() => Err(Failure::new(Code::Aborted, format!("stopped waiting; deployment {deployment} goes on in ECS"))
            .help(format!("follow it with `{follow}`"))),
    }
}

fn show(r: &WatchReport, printer: &Printer) -> Code {
    let (code, headline) = match &r.outcome {
        Outcome::Completed => {
            (Code::Ok, format!("Deployment {} completed in {:.0} s: every task is running.", r.deployment, r.seconds))
        }
        Outcome::RolledBack { to, reason } => (
            Code::RolledBack,
            format!(
                "Deployment {} FAILED and ECS rolled back{}: {reason}",
                r.deployment,
                to.as_ref().map(|t| format!(" to {t}")).unwrap_or_default()
            ),
        ),
        Outcome::Failed { reason } => (Code::RolloutFailed, format!("Deployment {} FAILED: {reason}", r.deployment)),
        Outcome::Superseded { by } => (
            Code::Superseded,
            format!(
                "Deployment {} was superseded by {} before it finished.",
                r.deployment,
                by.as_deref().unwrap_or("another deployment")
            ),
        ),
        Outcome::TimedOut { waited_secs } => (
            Code::TimedOut,
            format!("Deployment {} did not finish within {waited_secs} s; it is still in progress.", r.deployment),
        ),
    };
    let mut text = Text::new();
    text.line(headline);
    if let (Outcome::TimedOut { .. }, Some(held)) = (&r.outcome, &r.held) {
        text.line(format_args!("{held}; {UNPROTECT_HINT}."));
    }
    if !r.diagnoses.is_empty() {
        text.blank().line("Why tasks stopped:");
        for d in &r.diagnoses {
            text.line(format_args!("  {} task{}: {}", d.count, if d.count == 1 { "" } else { "s" }, d.reason));
            text.line(format_args!("    likely cause: {}", d.likely_cause));
            text.line(format_args!("    fix: {}", d.fix));
        }
    }
    if !r.last_log_lines.is_empty() {
        text.blank().line("Last log lines of a stopped task:");
        for l in &r.last_log_lines {
            text.line(format_args!("  | {l}"));
        }
    }
    let mut json = serde_json::to_value(r).expect("json");
    json["exit_code"] = serde_json::json!(code as u8);
    printer.result(text.as_str(), &json);
    code
}
