//! Global flags resolved once into the settings every command uses.

use std::io::IsTerminal;
use std::path::PathBuf;

use agentctl_core::config::Env;

use crate::cli::{GlobalArgs, OutputFormat};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressStyle {
    /// Spinners per resource on an interactive terminal.
    Live,
    /// One line per event: CI, pipes, files.
    Lines,
    /// JSON events on stdout.
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub config_path: PathBuf,
    pub env: Env,
    pub progress: ProgressStyle,
    pub color: bool,
    pub verbose: u8,
    pub yes: bool,
    /// Can we ask the user a question?
    pub interactive: bool,
    pub aws: agentctl_aws::AwsSettings,
}

impl Settings {
    pub fn resolve(g: &GlobalArgs) -> Settings {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        let stderr_tty = std::io::stderr().is_terminal();
        let color = !g.no_color && std::env::var_os("NO_COLOR").is_none() && stderr_tty;
        let progress = match g.output {
            OutputFormat::Json => ProgressStyle::Json,
            OutputFormat::Text if stderr_tty && !ci && std::env::var("TERM").map_or(true, |t| t != "dumb") => {
                ProgressStyle::Live
            }
            OutputFormat::Text => ProgressStyle::Lines,
        };
        let mut env = Env::from_process();
        if let Some(region) = &g.region {
            env.overrides.insert("region".into(), region.clone());
        }
        Settings {
            config_path: g.config.clone(),
            env,
            progress,
            color,
            verbose: g.verbose,
            yes: g.yes,
            interactive: std::io::stdin().is_terminal() && stderr_tty,
            aws: agentctl_aws::AwsSettings { profile: g.profile.clone(), endpoint_url: g.endpoint_url.clone() },
        }
    }
}
