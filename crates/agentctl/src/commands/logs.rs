//! `agentctl logs`: a service's CloudWatch logs, once or followed.

use agentctl_aws::logs::LogLine;

use super::day2::connect_service;
use crate::cli::LogsArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, args: &LogsArgs) -> Result<Code, Failure> {
    let d = connect_service(settings, printer, args.service).await?;
    let aws = &d.aws;
    let q = agentctl_aws::logs::Query {
        group: &d.service.log_group,
        task: args.task.as_deref(),
        start_ms: args.since.timestamp_millis(),
        end_ms: None,
    };
    // False once stdout is closed: a closed pipe ends the follow loop quietly.
    let print = |l: &LogLine| {
        let short: String = l.task.chars().take(12).collect();
        printer.item(&format!("[{short}] {}", l.message), &serde_json::to_value(l).expect("json"))
    };
    if args.follow {
        tokio::select! {
            r = agentctl_aws::logs::follow(aws, q, print) => r?,
            _ = tokio::signal::ctrl_c() => {}
        }
    } else {
        for l in agentctl_aws::logs::fetch(aws, &q, &mut Default::default()).await? {
            if !print(&l) {
                break;
            }
        }
    }
    Ok(Code::Ok)
}
