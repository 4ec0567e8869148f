//! `cost` and `export` (no AWS call), and `doctor` (reads only).

use agentctl_core::cost::{self, CostInput, PriceTable};
use agentctl_core::doctor::{self, Check, Credentials, DoctorFacts, Status};
use agentctl_core::model::{self, Context};
use serde_json::json;

use super::load_config;
use crate::cli::{CostArgs, ExportCommand};
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub fn cost(settings: &Settings, printer: &Printer, args: &CostArgs) -> Result<Code, Failure> {
    let loaded = load_config(settings, printer)?;
    let table = match &args.prices {
        Some(path) => {
            PriceTable::from_file(path).map_err(|e| Failure::new(Code::InvalidInput, e.to_string()).help(e.help()))?
        }
        None => PriceTable::builtin(),
    };
    let estimate = cost::estimate(&CostInput::from_config(&loaded.config), &table)
        .map_err(|e| Failure::new(Code::InvalidInput, e.to_string()).help(e.help()))?;
    printer.result(&estimate.render_text(), &estimate.to_json());
    Ok(Code::Ok)
}

pub fn export(settings: &Settings, printer: &Printer, cmd: &ExportCommand) -> Result<Code, Failure> {
    let ExportCommand::Terraform { out } = cmd;
    let loaded = load_config(settings, printer)?;
    // Offline: account and zones become Terraform data sources.
    let stack = model::build(&loaded.config, &Context::default());
    let files = agentctl_core::export::write_terraform(&stack, out).map_err(|e| {
        Failure::new(Code::Failure, format!("cannot write the Terraform files to {}: {e}", out.display()))
    })?;
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let text = format!(
        "Wrote {}.\nThe credentials are Terraform variables: set TF_VAR_client_id and TF_VAR_client_secret when you run terraform.\n",
        names.join(", ")
    );
    printer.result(&text, &json!({"files": names}));
    Ok(Code::Ok)
}

pub async fn doctor(settings: &Settings, printer: &Printer) -> Result<Code, Failure> {
    let loaded = load_config(settings, printer)?;
    let config = &loaded.config;
    let mut facts = DoctorFacts::from_config(config);
    let mut own: Vec<Check> = Vec::new();
    match agentctl_aws::Aws::connect(&settings.aws, &config.region).await {
        Ok(aws) => {
            facts = agentctl_aws::doctor::facts(&aws, config).await?;
            let stack = model::build(config, &aws.context());
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
