//! Command-line arguments, parsed once.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::Code;

#[derive(Debug, Parser)]
#[command(
    name = "agentctl",
    version,
    about = "Deploy and operate the Matillion DPC agent on AWS ECS Fargate",
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file (HCL tfvars)
    #[arg(short = 'c', long = "config", global = true, env = "AGENTCTL_CONFIG", default_value = "terraform.tfvars")]
    pub config: PathBuf,
    /// AWS region; overrides `region` in the config
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// AWS profile from your AWS config (default: the standard credential chain)
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Send AWS requests to this endpoint (e.g. a local emulator); also AWS_ENDPOINT_URL
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// Output format
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// More detail on stderr (-v, -vv, -vvv)
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No colours (also NO_COLOR)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Do not ask for confirmation
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check the config; no AWS call
    Validate,
    /// Show what apply would change
    Plan(PlanArgs),
    /// Make AWS match the config
    Apply(ApplyArgs),
    /// Remove everything agentctl created for this deployment
    Destroy(DestroyArgs),
    /// Cluster, service, secret, roles, bucket, network of the deployment
    Outputs,
    /// Every agentctl deployment in the account and region (or every enabled region); no config needed
    List(ListArgs),
    /// Service state, deployments, running tasks, recent events, outputs
    Status(ServiceArg),
    /// Running and recently stopped tasks, with why they stopped
    Tasks(ServiceArg),
    /// The service's CloudWatch logs
    Logs(LogsArgs),
    /// Set the number of tasks of the service
    Scale(ScaleArgs),
    /// Start a new rollout of the same image, or of a new one (--image)
    Redeploy(RedeployArgs),
    /// Roll back to the previous (or a given) task definition revision
    Rollback(RollbackArgs),
    /// Turn off the scale-in protection of busy agent tasks, so a rollout or scale-in can stop them now
    Unprotect(UnprotectArgs),
    /// Preflight checklist: credentials, network path out, security groups, image, quota, the deployment's health
    Doctor,
    /// Monthly cost estimate for the config, with the next size down and up; no AWS call
    Cost(CostArgs),
    /// What the agents really used (CPU, memory, tasks, pipelines) and the size, count and schedules that fit
    Usage(UsageArgs),
    /// Hand the stack over to other tools
    #[command(subcommand)]
    Export(ExportCommand),
    /// Remove a stale deployment lock left by a killed run
    Unlock(UnlockArgs),
    /// The smallest IAM policy that runs agentctl for this deployment (JSON); no AWS call
    IamPolicy(IamPolicyArgs),
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Days to read, up to 63 (CloudWatch keeps hourly data that long)
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=63))]
    pub days: u32,
    /// Also write the report as one self-contained HTML file (SVG charts, nothing loaded from the network)
    #[arg(long)]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Every region enabled for the account, read at once
    #[arg(long)]
    pub all_regions: bool,
}

#[derive(Debug, Args)]
pub struct CostArgs {
    /// Price table (JSON, same shape as the built-in one) instead of the built-in prices
    #[arg(long)]
    pub prices: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// The desired stack as Terraform JSON (*.tf.json) for the hashicorp/aws provider; no AWS call
    Terraform(ExportTerraformArgs),
}

#[derive(Debug, Args)]
pub struct ExportTerraformArgs {
    /// Folder to write main.tf.json, variables.tf.json and outputs.tf.json into
    #[arg(long, default_value = "terraform")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// The 12-digit AWS account id to put in the ARNs (default: a placeholder to replace)
    #[arg(long)]
    pub account: Option<String>,
    /// Print the policy as a JSON array of documents that each fit a managed
    /// policy (for when it is too large for a role's inline policies)
    #[arg(long)]
    pub managed: bool,
}

/// Which of the deployment's ECS services a day-2 command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceChoice {
    /// The Matillion agent
    Agent,
    /// The Maia script runner (enable_script_runner = true)
    ScriptRunner,
}

impl From<ServiceChoice> for agentctl_core::model::ServiceRole {
    fn from(c: ServiceChoice) -> Self {
        match c {
            ServiceChoice::Agent => Self::Agent,
            ServiceChoice::ScriptRunner => Self::ScriptRunner,
        }
    }
}

#[derive(Debug, Args, Clone, Copy)]
pub struct ServiceArg {
    /// The service to work on
    #[arg(long, value_enum, default_value = "agent")]
    pub service: ServiceChoice,
}

/// How long and how to wait for a rollout.
#[derive(Debug, Args, Clone)]
pub struct WaitArgs {
    /// Return once the change is made, without waiting for the rollout
    #[arg(long)]
    pub no_wait: bool,
    /// Give up waiting after this long (e.g. 900s, 15m, 1h, 1h30m)
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Stop waiting once this many tasks failed the same way
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    pub fail_fast_after: u16,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub service: ServiceArg,
    /// Only this task (id or its prefix)
    #[arg(long)]
    pub task: Option<String>,
    /// From this long ago (10m, 2h, 1d, 1h30m) or this time (2026-11-27T10:00:00Z)
    #[arg(long, default_value = "10m", value_parser = parse_since)]
    pub since: DateTime<Utc>,
    /// Keep printing new lines until interrupted
    #[arg(short = 'f', long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub service: ServiceArg,
    /// The number of tasks
    pub count: u32,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct UnprotectArgs {
    /// Only this task (id or its prefix); default: every protected task
    #[arg(long)]
    pub task: Option<String>,
}

#[derive(Debug, Args)]
pub struct RedeployArgs {
    #[command(flatten)]
    pub service: ServiceArg,
    /// Deploy this image (a new task definition revision); default: the same one again
    #[arg(long)]
    pub image: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub service: ServiceArg,
    /// The task definition revision to return to (default: the one before the current)
    #[arg(long = "to")]
    pub to: Option<u32>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// The longest duration a flag takes: `--since` must count back from now
/// within the dates `chrono` represents (about 262,000 years).
const LONGEST: TimeDelta = TimeDelta::days(100_000 * 365);

/// Every duration flag: humantime's grammar (`900s`, `15m`, `2h`, `1d`,
/// `1h30m`); a bare number is seconds, as it always was here.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const FORMS: &str = "write a duration such as 900s, 15m, 2h, 1d or 1h30m";
    let text = text.trim();
    let d = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        humantime::parse_duration(&format!("{text}s"))
    } else {
        humantime::parse_duration(text)
    }
    .map_err(|e| format!("{e}; {FORMS}"))?;
    match TimeDelta::from_std(d) {
        Ok(delta) if delta <= LONGEST => Ok(d),
        _ => Err(format!("longer than 100,000 years; {FORMS}")),
    }
}

/// `--since`: a duration back from `now`, or an RFC 3339 time (any offset).
fn since_from(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    const FORMS: &str =
        "write a duration back from now (10m, 2h, 1d, 1h30m) or an RFC 3339 time (2026-11-27T10:00:00Z)";
    if let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(at.with_timezone(&Utc));
    }
    let ago = parse_duration(text).map_err(|_| FORMS.to_owned())?;
    TimeDelta::from_std(ago).ok().and_then(|ago| now.checked_sub_signed(ago)).ok_or_else(|| FORMS.to_owned())
}

fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    since_from(text, Utc::now())
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Assume nothing exists; no AWS call
    #[arg(long)]
    pub offline: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error (as Terraform)
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Most AWS operations in flight at once
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub parallelism: u16,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Delete the secret at once instead of after the 7-day recovery window
    #[arg(long)]
    pub force_delete_secret: bool,
    /// Delete every object in the staging bucket first (otherwise a non-empty bucket stops destroy)
    #[arg(long)]
    pub empty_bucket: bool,
    /// Most AWS operations in flight at once
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub parallelism: u16,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The lock id printed by the run that holds it (guards against removing a live lock)
    pub lock_id: String,
}

/// Parses arguments; usage errors exit with the invalid-input code.
pub fn parse() -> Result<Cli, Code> {
    Cli::try_parse().map_err(|e| {
        let _ = e.print();
        match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => Code::Ok,
            _ => Code::InvalidInput,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn durations_take_days_and_compound_forms() {
        assert_eq!(parse_duration("900s"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        // A bare number is seconds, as before the grammar was humantime's.
        assert_eq!(parse_duration("900"), Ok(Duration::from_secs(900)));
        for bad in ["", "5é", "-1m", "ten minutes", "1.5"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_a_clock_cannot_count_are_refused() {
        assert!(parse_duration("99999999999999999999s").is_err(), "beyond u64");
        assert!(parse_duration("500000000000y").is_err(), "beyond what a time delta holds");
        assert!(parse_duration("100000000d").is_err());
        assert!(parse_duration("1000y").is_ok());
    }

    #[test]
    fn since_is_a_duration_back_or_an_rfc3339_time() {
        let now = at("2026-11-27T12:00:00Z");
        assert_eq!(since_from("10m", now), Ok(at("2026-11-27T11:50:00Z")));
        assert_eq!(since_from("1d", now), Ok(at("2026-11-26T12:00:00Z")));
        assert_eq!(since_from("1h30m", now), Ok(at("2026-11-27T10:30:00Z")));
        assert_eq!(since_from("2026-11-27T10:00:00Z", now), Ok(at("2026-11-27T10:00:00Z")));
        assert_eq!(since_from("2026-11-27T12:00:00+02:00", now), Ok(at("2026-11-27T10:00:00Z")));
        assert_eq!(since_from("1970-01-01T00:00:10Z", now).map(|t| t.timestamp_millis()), Ok(10_000));
        for bad in ["5é", "yesterday", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-27T25:00:00Z"] {
            let err = since_from(bad, now).unwrap_err();
            assert!(err.contains("1h30m") && err.contains("2026-11-27T10:00:00Z"), "{bad:?}: {err}");
        }
    }
}
