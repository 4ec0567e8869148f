//! `agentctl destroy`: remove exactly what agentctl created, dependents first.

use agentctl_aws::apply::{self, Cancel, DeleteOptions, Options};
use agentctl_core::config::CredentialsNeeded;
use serde_json::json;

use super::{confirm, connect, plan::show, stack, until_interrupted};
use crate::cli::DestroyArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, args: &DestroyArgs) -> Result<Code, Failure> {
    let (loaded, aws) = connect(settings, printer, CredentialsNeeded::No).await?;
    let lock = agentctl_aws::lock::acquire(&aws, &loaded.config.name, "destroy").await?;
    let stack = stack(&loaded, &aws);
    let result = async {
        let (plan, live, foreign) = agentctl_aws::live::destroy_plan(&aws, &stack, lock.adoptable()).await?;
        for f in &foreign {
            printer.warn(&format!("{} {} ({}) has this deployment's name but not its ownership tag: left untouched", f.kind, f.name, f.id));
        }
        show(&plan, None, settings, printer);
        if plan.changes.is_empty() {
            return Ok(Code::Ok);
        }
        confirm(settings, printer, "Destroy these resources?")?;
        let cancel = Cancel::default();
        let opts = Options {
            parallelism: args.parallelism as usize,
            delete: DeleteOptions { force_delete_secret: args.force_delete_secret, empty_bucket: args.empty_bucket },
        };
        let report = until_interrupted(printer, &cancel, apply::destroy(&aws, &plan, &live, opts, printer, &cancel)).await?;
        printer.note(&format!("Destroy complete: {} deleted.", report.done.len()));
        if !args.force_delete_secret && plan.changes.iter().any(|c| c.addr == agentctl_core::model::addr::SECRET) {
            printer.note("The secret stays recoverable for 7 days; apply again to restore it, or destroy with --force-delete-secret to delete it now.");
        }
        if printer.is_json() {
            printer.result("", &json!({"event": "complete", "deleted": report.done.len()}));
        }
        Ok::<_, Failure>(Code::Ok)
    }
    .await;
    let released = lock.release(&aws).await;
    let code = result?;
    released?;
    Ok(code)
}
