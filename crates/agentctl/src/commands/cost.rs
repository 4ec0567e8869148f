//! `agentctl cost`: monthly estimate for the config; no AWS call.

use agentctl_core::config::CredentialsNeeded;
use agentctl_core::cost::{self, CostInput, PriceTable};

use super::load_config;
use crate::cli::CostArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub fn run(settings: &Settings, printer: &Printer, args: &CostArgs) -> Result<Code, Failure> {
    let loaded = load_config(settings, printer, CredentialsNeeded::No)?;
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
