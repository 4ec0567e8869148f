//! `agentctl redeploy`: a new rollout of the same task definition, or of a new image.

use agentctl_aws::ops;

use super::day2::connect_service;
use super::rollout::{diagnosis_context, wait};
use crate::cli::RedeployArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, args: &RedeployArgs) -> Result<Code, Failure> {
    if let Some(image) = &args.image {
        agentctl_core::image::ImageRef::parse(image)
            .map_err(|e| Failure::new(Code::InvalidInput, format!("--image {image}: {e}")))?;
    }
    let (loaded, aws, s) = connect_service(settings, printer).await?;
    let started = ops::redeploy(&aws, &s, args.image.as_deref()).await?;
    printer.note(&format!("Redeploying {} with {}", s.service, started.task_definition));
    if let Some(image) = args.image.as_deref().filter(|i| *i != loaded.config.image_url) {
        printer.warn(&format!(
            "the config says image_url = \"{}\"; set it to \"{image}\" or the next apply rolls the image back",
            loaded.config.image_url
        ));
    }
    let ctx = diagnosis_context(
        &aws.region,
        ops::account_of(&started.task_definition).unwrap_or_default(),
        &s,
        args.image.as_deref().unwrap_or(&loaded.config.image_url),
        loaded.config.agent_memory,
    );
    wait(&aws, &s, &started.deployment, &ctx, &args.wait, printer).await
}
