//! `agentctl plan`: what apply would change, offline or against AWS.

use agentctl_core::config::{Config, CredentialsNeeded};
use agentctl_core::model::{self, Context};
use agentctl_core::plan::{self, render, Plan};

use super::{check_pinned_zones, connect, load_config, planned_stack};
use crate::cli::PlanArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

/// The plan; with `config`, also what the deployed agent may reach.
pub fn show(plan: &Plan, config: Option<&Config>, settings: &Settings, printer: &Printer) {
    let mut text = render::text(plan, &render::TextOptions { verbose: settings.verbose > 0 });
    let mut json = render::json(plan);
    if let Some(config) = config {
        let access = model::iam::access_summary(config);
        text.push_str(&format!("\n{access}\n"));
        json["agent_access"] = access.into();
    }
    printer.result(&text, &json);
}

pub fn offline(settings: &Settings, printer: &Printer) -> Result<Code, Failure> {
    let loaded = load_config(settings, printer, CredentialsNeeded::Yes)?;
    let stack = model::build(&loaded.config, &Context::default());
    show(&plan::plan_offline(&stack), Some(&loaded.config), settings, printer);
    Ok(Code::Ok)
}

pub async fn live(settings: &Settings, printer: &Printer, args: &PlanArgs) -> Result<Code, Failure> {
    let (loaded, aws) = connect(settings, printer, CredentialsNeeded::Yes).await?;
    check_pinned_zones(&loaded.config, &aws)?;
    let stack = planned_stack(&loaded, &aws).await?;
    let (plan, _) = agentctl_aws::live::plan(&aws, &stack, &[]).await?;
    show(&plan, Some(&loaded.config), settings, printer);
    Ok(if args.detailed_exitcode && plan.has_changes() { Code::Changes } else { Code::Ok })
}
