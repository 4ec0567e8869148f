//! `agentctl rollback`: back to the previous (or a given) task definition revision.

use agentctl_aws::ops;

use super::day2::connect_service;
use super::rollout::{diagnosis_context, wait};
use crate::cli::RollbackArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, args: &RollbackArgs) -> Result<Code, Failure> {
    let (loaded, aws, s) = connect_service(settings, printer).await?;
    let started = ops::rollback(&aws, &s, args.to).await?;
    printer.note(&format!(
        "Rolling {} back from {} to {}",
        s.service, started.previous_task_definition, started.task_definition
    ));
    let account = ops::account_of(&started.task_definition).unwrap_or_default();
    let ctx = diagnosis_context(&aws.region, account, &s, &loaded.config.image_url, loaded.config.agent_memory);
    wait(&aws, &s, &started.deployment, &ctx, &args.wait, printer).await
}
