//! `agentctl redeploy`: a new rollout of the same task definition, or of a new image.

use agentctl_aws::ops;
use agentctl_core::model::ServiceRole;

use super::day2::{connect_service, diagnosis_context};
use super::rollout::wait;
use crate::cli::RedeployArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, args: &RedeployArgs) -> Result<Code, Failure> {
    if let Some(image) = &args.image {
        agentctl_core::image::ImageRef::parse(image)
            .map_err(|e| Failure::new(Code::InvalidInput, format!("--image {image}: {e}")))?;
    }
    let d = connect_service(settings, printer, args.service).await?;
    let (aws, s) = (&d.aws, &d.service);
    let started = ops::redeploy(aws, s, args.image.as_deref()).await?;
    printer.note(&format!("Redeploying {} with {}", s.service, started.task_definition));
    if let Some(image) = args.image.as_deref().filter(|i| *i != s.image) {
        let var = match s.role {
            ServiceRole::Agent => "image_url",
            ServiceRole::ScriptRunner => "script_runner_image_url",
        };
        printer.warn(&format!(
            "the config says {var} = \"{}\"; set it to \"{image}\" or the next apply rolls the image back",
            s.image
        ));
    }
    let mut ctx = diagnosis_context(s, Some(&started.task_definition));
    if let Some(image) = &args.image {
        ctx.image.clone_from(image);
    }
    wait(aws, s, &started.deployment, &ctx, &args.wait, printer).await
}
