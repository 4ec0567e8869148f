//! One module per command. `run` resolves settings once, runs the command and
//! maps its outcome to an exit code; the helpers below are what commands share.

mod apply;
mod cost;
mod day2;
mod destroy;
mod doctor;
mod export;
mod iam_policy;
mod list;
mod logs;
mod outputs;
mod plan;
mod redeploy;
mod rollback;
mod rollout;
mod scale;
mod status;
mod tasks;
mod unlock;
mod unprotect;
mod usage;
mod validate;

use std::future::Future;

use agentctl_aws::apply::Cancel;
use agentctl_aws::Aws;
use agentctl_core::config::{self, CredentialsNeeded, Loaded};
use agentctl_core::model::{self, Stack};

use crate::cli::{Cli, Command, ExportCommand};
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub fn run(cli: Cli) -> Code {
    let settings = Settings::resolve(&cli.global);
    init_tracing(settings.verbose);
    let printer = Printer::new(&settings);
    match dispatch(cli.command, &settings, &printer) {
        Ok(code) => code,
        Err(f) => {
            printer.failure(&f);
            f.code
        }
    }
}

fn dispatch(command: Command, settings: &Settings, printer: &Printer) -> Result<Code, Failure> {
    match command {
        Command::Validate => validate::run(settings, printer),
        Command::Plan(args) if args.offline => plan::offline(settings, printer),
        Command::Plan(args) => block_on(plan::live(settings, printer, &args)),
        Command::Apply(args) => block_on(apply::run(settings, printer, &args)),
        Command::Destroy(args) => block_on(destroy::run(settings, printer, &args)),
        Command::Outputs => block_on(outputs::run(settings, printer)),
        Command::List(args) => block_on(list::run(settings, printer, &args)),
        Command::Status(args) => block_on(status::run(settings, printer, args)),
        Command::Tasks(args) => block_on(tasks::run(settings, printer, args)),
        Command::Logs(args) => block_on(logs::run(settings, printer, &args)),
        Command::Scale(args) => block_on(scale::run(settings, printer, &args)),
        Command::Redeploy(args) => block_on(redeploy::run(settings, printer, &args)),
        Command::Rollback(args) => block_on(rollback::run(settings, printer, &args)),
        Command::Unprotect(args) => block_on(unprotect::run(settings, printer, &args)),
        Command::Doctor => block_on(doctor::run(settings, printer)),
        Command::Cost(args) => cost::run(settings, printer, &args),
        Command::Usage(args) => block_on(usage::run(settings, printer, &args)),
        Command::Export(ExportCommand::Terraform(args)) => export::terraform(settings, printer, &args),
        Command::Unlock(args) => block_on(unlock::run(settings, printer, &args)),
        Command::IamPolicy(args) => iam_policy::run(settings, printer, &args),
    }
}

/// Commands that call AWS run on the async runtime; the others never start it.
fn block_on(command: impl Future<Output = Result<Code, Failure>>) -> Result<Code, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Code::Failure, format!("cannot start the async runtime: {e}")))?
        .block_on(command)
}

/// -v: agentctl's own debug lines; -vvv: the SDK's too. Credentials never reach
/// these: they live in `SecretString`, and the SDK redacts sensitive fields.
fn init_tracing(verbose: u8) {
    let filter = match verbose {
        0 => return,
        1 => "agentctl=debug,agentctl_aws=debug",
        2 => "agentctl=trace,agentctl_aws=trace,aws_config=debug",
        // Registry HTTP stays at info: its debug lines could carry a registry token.
        _ => "debug,oci_client=info,reqwest=info,hyper=info,hyper_util=info",
    };
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

/// Loads and validates the config, with the agent's credentials when the
/// command uses them; on errors prints them all and fails with the
/// invalid-input code, before any AWS call.
fn load_config(settings: &Settings, printer: &Printer, credentials: CredentialsNeeded) -> Result<Loaded, Failure> {
    match config::load_file(&settings.config_path, &settings.env, credentials) {
        Ok(loaded) => {
            printer.report(&loaded.report);
            Ok(loaded)
        }
        Err(report) => {
            printer.report(&report);
            let n = report.errors().count();
            let mut f = Failure::new(
                Code::InvalidInput,
                format!(
                    "{} has {n} problem{}; nothing was sent to AWS",
                    report.source.path,
                    if n == 1 { "" } else { "s" }
                ),
            );
            if printer.is_json() {
                f.causes = report
                    .located()
                    .iter()
                    .filter(|d| d.severity == agentctl_core::diagnostics::Severity::Error)
                    .map(|d| format!("{}:{}:{}: {}", d.file, d.line.unwrap_or(0), d.column.unwrap_or(0), d.message))
                    .collect();
            }
            Err(f)
        }
    }
}

async fn connect(
    settings: &Settings,
    printer: &Printer,
    credentials: CredentialsNeeded,
) -> Result<(Loaded, Aws), Failure> {
    let loaded = load_config(settings, printer, credentials)?;
    let aws = Aws::connect(&settings.aws, &loaded.config.region).await?;
    tracing::debug!(account = %aws.account_id, caller = %aws.caller_arn, "connected");
    Ok((loaded, aws))
}

/// Zone names differ between accounts: a pinned zone must be one this account
/// has, found out before anything is changed (plan and apply; destroy and the
/// day-2 commands do not place subnets).
fn check_pinned_zones(config: &config::Config, aws: &Aws) -> Result<(), Failure> {
    let missing: Vec<&str> =
        config.availability_zones.iter().filter(|z| !aws.availability_zones.contains(z)).map(String::as_str).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        Code::InvalidInput,
        format!(
            "`availability_zones`: {} is not an available zone of this account in {}",
            missing.join(", "),
            config.region
        ),
    )
    .help(format!("choose two of: {}", aws.availability_zones.join(", "))))
}

/// The stack under the deployment's names, for commands that read or remove it.
fn stack(loaded: &Loaded, aws: &Aws) -> Stack {
    model::build(&loaded.config, &aws.context())
}

/// The stack apply would build: also reads where new subnets go in an existing VPC.
async fn planned_stack(loaded: &Loaded, aws: &Aws) -> Result<Stack, Failure> {
    let ctx = agentctl_aws::live::plan_context(aws, &loaded.config).await?;
    Ok(model::build(&loaded.config, &ctx))
}

/// Runs `work` (apply's or destroy's operations) so that Ctrl-C cancels
/// `cancel`: no new operations start, those in flight finish. A second Ctrl-C
/// kills.
async fn until_interrupted<T>(printer: &Printer, cancel: &Cancel, work: impl Future<Output = T>) -> T {
    let interrupted = async {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
            printer.note("interrupted: finishing operations in flight, starting no new ones (Ctrl-C again to kill)");
            let _ = tokio::signal::ctrl_c().await;
            std::process::exit(130);
        }
        std::future::pending::<T>().await
    };
    tokio::select! {
        done = work => done,
        never = interrupted => never,
    }
}

/// Asks "yes?" on a terminal; refuses without one unless --yes.
fn confirm(settings: &Settings, printer: &Printer, question: &str) -> Result<(), Failure> {
    if settings.yes {
        return Ok(());
    }
    if !settings.interactive {
        return Err(Failure::new(
            Code::Aborted,
            "refusing to change AWS without confirmation: there is no terminal to ask on",
        )
        .help("run it again with --yes once you have reviewed the plan"));
    }
    if printer.ask(&format!("{question} Only 'yes' is accepted: ")).trim() == "yes" {
        Ok(())
    } else {
        Err(Failure::new(Code::Aborted, "not confirmed; nothing was changed"))
    }
}
