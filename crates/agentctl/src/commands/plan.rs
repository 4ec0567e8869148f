//! `agentctl plan`: what apply would change, offline or against AWS.

use agentctl_core::model::{self, Context};
use agentctl_core::plan::{self, render, Plan};

use super::{check_pinned_zones, connect, load_config, stack};
use crate::cli::PlanArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub fn show(plan: &Plan, settings: &Settings, printer: &Printer) {
    let text = render::text(plan, &render::TextOptions { verbose: settings.verbose > 0 });
    printer.result(&text, &render::json(plan));
}

pub fn offline(settings: &Settings, printer: &Printer) -> Result<Code, Failure> {
    let loaded = load_config(settings, printer)?;
    let stack = model::build(&loaded.config, &Context::default());
    show(&plan::plan_offline(&stack), settings, printer);
    Ok(Code::Ok)
}

pub async fn live(settings: &Settings, printer: &Printer, args: &PlanArgs) -> Result<Code, Failure> {
    let (loaded, aws) = connect(settings, printer).await?;
    check_pinned_zones(&loaded.config, &aws)?;
    let stack = stack(&loaded, &aws);
    let (plan, _) = agentctl_aws::live::plan(&aws, &stack, &[]).await?;
    show(&plan, settings, printer);
    Ok(if args.detailed_exitcode && plan.has_changes() { Code::Changes } else { Code::Ok })
}
