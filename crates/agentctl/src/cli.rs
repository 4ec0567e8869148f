//! Command-line arguments, parsed once.

use std::path::PathBuf;

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
    /// Service state, deployments, running tasks, recent events, outputs
    Status,
    /// Running and recently stopped tasks, with why they stopped
    Tasks,
    /// The agent's CloudWatch logs
    Logs(LogsArgs),
    /// Set the number of agent tasks
    Scale(ScaleArgs),
    /// Start a new rollout of the same image, or of a new one (--image)
    Redeploy(RedeployArgs),
    /// Roll back to the previous (or a given) task definition revision
    Rollback(RollbackArgs),
    /// Preflight checklist: credentials, network path out, security groups, image, quota, the deployment's health
    Doctor,
    /// Monthly cost estimate for the config, with the next size down and up; no AWS call
    Cost(CostArgs),
    /// Hand the stack over to other tools
    #[command(subcommand)]
    Export(ExportCommand),
    /// Remove a stale deployment lock left by a killed run
    Unlock(UnlockArgs),
    /// The smallest IAM policy that runs agentctl for this deployment (JSON); no AWS call
    IamPolicy(IamPolicyArgs),
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
}

/// How long and how to wait for a rollout.
#[derive(Debug, Args, Clone)]
pub struct WaitArgs {
    /// Return once the change is made, without waiting for the rollout
    #[arg(long)]
    pub no_wait: bool,
    /// Give up waiting after this long (e.g. 900s, 15m, 1h)
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    /// Stop waiting once this many tasks failed the same way
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    pub fail_fast_after: u16,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only this task (id or its prefix)
    #[arg(long)]
    pub task: Option<String>,
    /// From this long ago (10m, 2h, 1d) or this UTC time (2026-11-27T10:00:00Z)
    #[arg(long, default_value = "10m")]
    pub since: String,
    /// Keep printing new lines until interrupted
    #[arg(short = 'f', long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The number of tasks
    pub count: u32,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct RedeployArgs {
    /// Deploy this image (a new task definition revision); default: the same one again
    #[arg(long)]
    pub image: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The task definition revision to return to (default: the one before the current)
    #[arg(long = "to")]
    pub to: Option<u32>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// "900s", "15m", "1h" or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (num, mult) = match t.chars().last() {
        Some('s') => (&t[..t.len() - 1], 1),
        Some('m') => (&t[..t.len() - 1], 60),
        Some('h') => (&t[..t.len() - 1], 3600),
        _ => (t, 1),
    };
    num.parse::<u64>()
        .map(|n| std::time::Duration::from_secs(n * mult))
        .map_err(|_| format!("`{text}` is not a duration like 900s, 15m or 1h"))
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
