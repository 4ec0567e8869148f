//! `agentctl doctor`: the preflight checklist (reads AWS, changes nothing).

use agentctl_core::config::CredentialsNeeded;
use agentctl_core::doctor::{self, Check, Credentials, DoctorFacts, Status};
use agentctl_core::model;

use super::load_config;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer) -> Result<Code, Failure> {
    let loaded = load_config(settings, printer, CredentialsNeeded::No)?;
    let config = &loaded.config;
    let mut facts = DoctorFacts::from_config(config);
    let mut own: Vec<Check> = Vec::new();
    // Without working AWS credentials, the checklist still says so and checks the config.
    match agentctl_aws::Aws::connect(&settings.aws, &config.region).await {
        Ok(aws) => {
            facts = agentctl_aws::doctor::facts(&aws, config).await?;
            let mut ctx = aws.context();
            ctx.subnet_cidr_blocks = facts.network.as_ref().and_then(|n| n.vpc.as_ref()?.free_subnet_ranges().ok());
            let stack = model::build(config, &ctx);
            own = agentctl_aws::doctor::own_resources(&aws, &stack, config).await?;
            own.push(agentctl_aws::doctor::reference_stack(&aws, config).await);
        }
        Err(e) => facts.credentials = Credentials::Invalid { error: e.to_string() },
    }
    let mut checklist = doctor::evaluate(config, &facts);
    checklist.checks.extend(own);
    printer.result(&checklist.render_text(), &checklist.to_json());
    Ok(if checklist.failed() {
        Code::Failure
    } else {
        if checklist.count(Status::Warn) > 0 {
            printer.note("Warnings only: apply can proceed.");
        }
        Code::Ok
    })
}
