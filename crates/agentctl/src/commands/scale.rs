//! `agentctl scale N`: set the task count and wait until N run.

use agentctl_aws::ops;
use agentctl_core::model::ServiceRole;
use serde_json::json;

use super::day2::connect_service;
use crate::cli::ScaleArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, args: &ScaleArgs) -> Result<Code, Failure> {
    let d = connect_service(settings, printer, args.service).await?;
    let (aws, s) = (&d.aws, &d.service);
    let autoscaled = s.role == ServiceRole::Agent && d.loaded.config.autoscaling.is_some();
    let scaled = ops::scale(aws, s, args.count, autoscaled).await?;
    if let Some((min, max)) = scaled.outside_bounds {
        printer.warn(&format!(
            "autoscaling (not in the config) keeps {} between {min} and {max} tasks: it will change {} back; apply removes it",
            s.service, args.count
        ));
    }
    let deployment = scaled.deployment;
    if args.count != s.desired_count && !autoscaled {
        let var = match s.role {
            ServiceRole::Agent => "desired_count",
            ServiceRole::ScriptRunner => "script_runner_desired_count",
        };
        printer.warn(&format!(
            "the config says {var} = {}; the next apply sets it back unless you change the config",
            s.desired_count
        ));
    }
    if args.wait.no_wait {
        printer.result(
            &format!("Scaling {} to {} tasks (not waiting).\n", s.service, args.count),
            &json!({"desired": args.count, "deployment": deployment, "waited": false}),
        );
        return Ok(Code::Ok);
    }
    let reached = ops::wait_running(aws, s, args.count, args.wait.timeout, printer).await?;
    let text = if reached {
        format!("{} runs {} tasks.\n", s.service, args.count)
    } else {
        format!("{} did not reach {} running tasks within {} s.\n", s.service, args.count, args.wait.timeout.as_secs())
    };
    printer.result(&text, &json!({"desired": args.count, "deployment": deployment, "reached": reached}));
    Ok(if reached { Code::Ok } else { Code::TimedOut })
}
