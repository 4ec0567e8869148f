//! `agentctl unlock ID`: remove a stale deployment lock left by a killed run.

use agentctl_core::config::CredentialsNeeded;

use super::connect;
use crate::cli::UnlockArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, args: &UnlockArgs) -> Result<Code, Failure> {
    let (loaded, aws) = connect(settings, printer, CredentialsNeeded::No).await?;
    match agentctl_aws::lock::unlock(&aws, &loaded.config.name, &args.lock_id).await? {
        Some(h) => {
            printer.note(&format!("removed the lock of {} (pid {} on {}, {})", h.operation, h.pid, h.host, h.caller))
        }
        None => printer.note("no lock is held"),
    }
    Ok(Code::Ok)
}
