//! agentctl: deploy and operate the Matillion DPC agent on AWS ECS Fargate.

mod cli;
mod commands;
mod exit;
mod printer;
mod settings;

fn main() -> std::process::ExitCode {
    let code = match cli::parse() {
        Ok(cli) => commands::run(cli),
        Err(code) => code,
    };
    code.into()
}
