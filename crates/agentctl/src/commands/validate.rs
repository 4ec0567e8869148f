//! `agentctl validate`: parse and check the config; no AWS call.

use agentctl_core::config::{self, CredentialsNeeded};
use agentctl_core::model::{self, Context};
use serde_json::json;

use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub fn run(settings: &Settings, printer: &Printer) -> Result<Code, Failure> {
    let (report, stack) = match config::load_file(&settings.config_path, &settings.env, CredentialsNeeded::Yes) {
        Ok(loaded) => {
            let stack = model::build(&loaded.config, &Context::default());
            (loaded.report, Some(stack))
        }
        Err(report) => (report, None),
    };
    printer.report(&report);
    let errors = report.errors().count();
    let warnings = report.warnings().count();
    let text = match &stack {
        Some(s) => format!(
            "{} is valid: deployment \"{}\" in {}, {} resources{}\n",
            report.source.path,
            s.deployment,
            s.region,
            s.resources.len(),
            if warnings > 0 {
                format!(" ({warnings} warning{})", if warnings == 1 { "" } else { "s" })
            } else {
                String::new()
            }
        ),
        None => String::new(),
    };
    let value = json!({
        "valid": stack.is_some(),
        "file": report.source.path,
        "errors": errors,
        "warnings": warnings,
        "diagnostics": report.located(),
    });
    if stack.is_some() {
        printer.result(&text, &value);
        return Ok(Code::Ok);
    }
    if printer.is_json() {
        printer.result("", &value);
        return Ok(Code::InvalidInput);
    }
    Err(Failure::new(
        Code::InvalidInput,
        format!("{} has {errors} problem{}", report.source.path, if errors == 1 { "" } else { "s" }),
    ))
}
