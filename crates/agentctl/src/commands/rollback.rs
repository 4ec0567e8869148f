//! `agentctl rollback`: back to the previous (or a given) task definition revision.

use agentctl_aws::ops;

use super::day2::{connect_service, diagnosis_context};
use super::rollout::wait;
use crate::cli::RollbackArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, args: &RollbackArgs) -> Result<Code, Failure> {
    let d = connect_service(settings, printer, args.service).await?;
    let (aws, s) = (&d.aws, &d.service);
    let started = ops::rollback(aws, s, args.to).await?;
    printer.note(&format!(
        "Rolling {} back from {} to {}",
        s.service, started.previous_task_definition, started.task_definition
    ));
    let ctx = diagnosis_context(s, Some(&started.task_definition));
    wait(aws, s, &started.deployment, &ctx, &args.wait, printer).await
}
