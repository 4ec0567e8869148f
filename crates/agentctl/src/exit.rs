//! Exit codes (stable; documented in the README) and the CLI's error type.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    Ok = 0,
    /// AWS or internal failure; a failed apply or destroy.
    Failure = 1,
    /// `plan --detailed-exitcode`: the plan has changes.
    Changes = 2,
    /// Bad configuration or arguments; nothing was sent to AWS.
    InvalidInput = 3,
    /// A resource under our name belongs to someone else.
    Ownership = 4,
    /// Another agentctl run holds the deployment lock.
    Locked = 5,
    /// Not confirmed, or interrupted (Ctrl-C).
    Aborted = 6,
    /// The rollout failed (tasks did not start; or agentctl stopped waiting
    /// after repeated identical failures).
    RolloutFailed = 10,
    /// The circuit breaker failed the rollout and rolled back.
    RolledBack = 11,
    /// Another deployment replaced the one this command started.
    Superseded = 12,
    /// The rollout did not finish within --timeout.
    TimedOut = 13,
}

impl From<Code> for ExitCode {
    fn from(c: Code) -> ExitCode {
        ExitCode::from(c as u8)
    }
}

/// An error that ends a command: what the user sees and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    pub message: String,
    pub help: Option<String>,
    /// Underlying causes, printed as a chain for unexpected errors.
    pub causes: Vec<String>,
}

impl Failure {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), help: None, causes: vec![] }
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl From<agentctl_aws::Error> for Failure {
    fn from(e: agentctl_aws::Error) -> Self {
        use agentctl_aws::Error as E;
        let code = match &e {
            E::Locked { .. } => Code::Locked,
            E::Foreign(_) => Code::Ownership,
            E::Interrupted => Code::Aborted,
            E::Input { .. } => Code::InvalidInput,
            E::NotSteady { report, .. } => match report.outcome {
                agentctl_aws::rollout::Outcome::RolledBack { .. } => Code::RolledBack,
                agentctl_aws::rollout::Outcome::Superseded { .. } => Code::Superseded,
                agentctl_aws::rollout::Outcome::TimedOut { .. } => Code::TimedOut,
                _ => Code::RolloutFailed,
            },
            _ => Code::Failure,
        };
        Failure { code, message: e.to_string(), help: e.help(), causes: e.causes() }
    }
}
