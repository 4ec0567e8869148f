//! `agentctl export terraform`: the stack as Terraform JSON; no AWS call.

use agentctl_core::config::CredentialsNeeded;
use agentctl_core::model::{self, Context};
use serde_json::json;

use super::load_config;
use crate::cli::ExportTerraformArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub fn terraform(settings: &Settings, printer: &Printer, args: &ExportTerraformArgs) -> Result<Code, Failure> {
    let out = &args.out;
    let loaded = load_config(settings, printer, CredentialsNeeded::No)?;
    // Offline: account and zones become Terraform data sources.
    let stack = model::build(&loaded.config, &Context::default());
    let files = agentctl_core::export::write_terraform(&stack, out).map_err(|e| {
        Failure::new(Code::Failure, format!("cannot write the Terraform files to {}: {e}", out.display()))
    })?;
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let mut text = format!(
        "Wrote {}.\nThe credentials are Terraform variables: set TF_VAR_client_id and TF_VAR_client_secret when you run terraform.\n",
        names.join(", ")
    );
    if stack.get(model::addr::RUNNER_KEYPAIR_SECRET).is_some() {
        text.push_str("The script runner's SSH public keys are the variable runner_authorized_keys: set TF_VAR_runner_authorized_keys too (the .pub line, never the private key).\n");
    }
    printer.result(&text, &json!({"files": names}));
    Ok(Code::Ok)
}
