//! `agentctl iam-policy`: the smallest IAM policy that runs agentctl for this
//! deployment, as JSON on stdout. No AWS call.

use agentctl_core::config::CredentialsNeeded;
use agentctl_core::iam_policy;
use agentctl_core::model::{self, Context};
use agentctl_core::names::ACCOUNT_PLACEHOLDER;

use super::load_config;
use crate::cli::IamPolicyArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub fn run(settings: &Settings, printer: &Printer, args: &IamPolicyArgs) -> Result<Code, Failure> {
    if let Some(a) = &args.account {
        if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) {
            return Err(Failure::new(Code::InvalidInput, format!("--account {a}: an AWS account id is 12 digits")));
        }
    }
    let loaded = load_config(settings, printer, CredentialsNeeded::No)?;
    let account = args.account.clone().unwrap_or_else(|| ACCOUNT_PLACEHOLDER.to_owned());
    let ctx = Context { aws_account_id: Some(account.clone()), ..Context::default() };
    let stack = model::build(&loaded.config, &ctx);
    let policy = iam_policy::operator_policy(&stack, &account);
    if args.account.is_none() {
        printer.note(&format!("ARNs hold {ACCOUNT_PLACEHOLDER}: replace it, or run again with --account ID"));
    }
    let size = iam_policy::size(&policy);
    let covers = format!(
        "Covers apply, plan, destroy, outputs, unlock, status, tasks, logs, scale, redeploy, rollback and doctor \
         for deployment `{}` in {}.",
        stack.deployment, stack.region
    );
    if args.managed {
        let parts = iam_policy::managed_policy_parts(&policy);
        printer.note(&format!(
            "{covers}\n{} managed policies (each up to {} characters): create each, e.g.\n  aws iam create-policy \
             --policy-name agentctl-{}-N --policy-document file://part-N.json\nand attach them all to the role \
             that runs agentctl (aws iam attach-role-policy).",
            parts.len(),
            iam_policy::MANAGED_POLICY_LIMIT,
            stack.deployment
        ));
        let text = format!("{}\n", serde_json::to_string_pretty(&parts).expect("json"));
        printer.result(&text, &serde_json::Value::Array(parts));
        return Ok(Code::Ok);
    }
    let role = format!(
        "aws iam put-role-policy --role-name ROLE --policy-name agentctl-{} --policy-document file://policy.json",
        stack.deployment
    );
    let fit = if size > iam_policy::ROLE_INLINE_LIMIT {
        printer.warn(&format!(
            "the policy ({size} characters) is larger than IAM accepts for a role's inline policies ({}): \
             run `agentctl iam-policy --managed` for it as managed policies",
            iam_policy::ROLE_INLINE_LIMIT
        ));
        String::new()
    } else if size > iam_policy::MANAGED_POLICY_LIMIT {
        format!(
            "{size} characters without white space, more than a managed policy holds ({}): attach it inline to the \
             role that runs agentctl (up to {} in all), e.g.\n  {role}\n(or as managed policies: --managed)",
            iam_policy::MANAGED_POLICY_LIMIT,
            iam_policy::ROLE_INLINE_LIMIT
        )
    } else {
        format!("{size} characters without white space: attach it as a managed policy or inline, e.g.\n  {role}")
    };
    printer.note(&format!("{covers}\n{fit}"));
    let text = format!("{}\n", serde_json::to_string_pretty(&policy).expect("json"));
    printer.result(&text, &policy);
    Ok(Code::Ok)
}
