//! `agentctl outputs`: what the deployment consists of, read from AWS.

use agentctl_core::config::CredentialsNeeded;

use super::{connect, stack};
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer) -> Result<Code, Failure> {
    let (loaded, aws) = connect(settings, printer, CredentialsNeeded::No).await?;
    let outputs = agentctl_aws::outputs::read(&aws, &stack(&loaded, &aws)).await?;
    printer.result(&outputs.text(), &serde_json::to_value(&outputs).expect("json"));
    Ok(Code::Ok)
}
