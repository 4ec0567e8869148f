//! `agentctl apply`: plan, confirm, then make AWS match the config.

use agentctl_aws::apply::{self, Cancel, DeleteOptions, Options};
use agentctl_core::config::CredentialsNeeded;
use agentctl_core::model::ServiceRole;
use agentctl_core::plan::Action;
use serde_json::json;

use super::{check_pinned_zones, confirm, connect, plan::show, planned_stack, until_interrupted};
use crate::cli::ApplyArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, args: &ApplyArgs) -> Result<Code, Failure> {
    let (loaded, aws) = connect(settings, printer, CredentialsNeeded::Yes).await?;
    check_pinned_zones(&loaded.config, &aws)?;
    let mut lock = agentctl_aws::lock::acquire(&aws, &loaded.config.name, "apply").await?;
    if let Some(stale) = &lock.took_over {
        printer.warn(&format!(
            "took over the lock of a killed run ({} by pid {} since {})",
            stale.operation,
            stale.pid,
            agentctl_aws::lock::format_utc(stale.since)
        ));
    }
    let result = apply_locked(settings, printer, args, &loaded, &aws, &mut lock).await;
    let released = lock.release(&aws).await;
    let code = result?;
    released?;
    Ok(code)
}

async fn apply_locked(
    settings: &Settings,
    printer: &Printer,
    args: &ApplyArgs,
    loaded: &agentctl_core::config::Loaded,
    aws: &agentctl_aws::Aws,
    lock: &mut agentctl_aws::lock::Lock,
) -> Result<Code, Failure> {
    // Read under the lock: where new subnets go depends on what exists.
    let stack = &planned_stack(loaded, aws).await?;
    let (plan, live) = agentctl_aws::live::plan(aws, stack, lock.adoptable()).await?;
    show(&plan, Some(&loaded.config), settings, printer);
    if !plan.has_changes() {
        return Ok(Code::Ok);
    }
    confirm(settings, printer, "Apply these changes?")?;
    // A bucket cannot be tagged in the call that creates it: note it in the
    // lock first, so a run killed in between does not leave a "foreign" bucket.
    let untagged_creates: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create && c.addr == agentctl_core::model::addr::BUCKET)
        .map(|c| c.name.clone())
        .collect();
    let before_create = (!untagged_creates.is_empty()).then(|| apply::BeforeCreate {
        addr: agentctl_core::model::addr::BUCKET,
        run: Box::pin(lock.note_pending(aws, untagged_creates)),
    });
    let opts = Options { parallelism: args.parallelism as usize, delete: DeleteOptions::default() };
    let cancel = Cancel::default();
    let applying = apply::apply(aws, stack, &plan, &live, opts, printer, &cancel, before_create);
    let report = until_interrupted(printer, &cancel, applying).await?;
    let summary = format!(
        "Apply complete: {} created, {} updated, {} replaced, {} deleted.\n",
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Replace),
        plan.count(Action::Delete)
    );
    printer.note(&summary);
    if printer.is_json() {
        printer.result("", &json!({"event": "complete", "operations": report.done.len(), "service_deployment": report.service_deployment()}));
    }
    // The service changed: wait for the deployment this apply started.
    match (report.service_deployment(), stack.ecs_service(ServiceRole::Agent)) {
        (Some(deployment), Some(agent)) => {
            super::rollout::wait(aws, &agent, deployment, &agent.diagnosis_context(), &args.wait, printer).await
        }
        _ => Ok(Code::Ok),
    }
}
