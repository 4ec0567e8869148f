//! `agentctl list`: every agentctl deployment in the account and region, or in
//! every enabled region; works without a config file.

use agentctl_aws::Clients;
use agentctl_core::config::{self, CredentialsNeeded};
use agentctl_core::cost::PriceTable;

use crate::cli::ListArgs;
use crate::exit::{Code, Failure};
use crate::printer::Printer;
use crate::settings::Settings;

pub async fn run(settings: &Settings, printer: &Printer, args: &ListArgs) -> Result<Code, Failure> {
    let region = region(settings, printer).await?;
    let clients = Clients::new(&settings.aws, &region).await;
    let prices = PriceTable::builtin();
    let listing = if args.all_regions {
        agentctl_aws::list::all_regions(&clients, &prices).await?
    } else {
        agentctl_aws::list::one_region(&clients, &prices).await?
    };
    for e in &listing.errors {
        printer.warn(&format!("{} not read: {}", e.region, e.message));
    }
    if listing.regions.is_empty() && !listing.errors.is_empty() {
        let mut f =
            Failure::new(Code::Failure, format!("none of the {} enabled regions could be read", listing.errors.len()))
                .help("the warnings above say why; check the credentials and that they may call tag:GetResources");
        f.causes = listing.errors.iter().map(|e| format!("{}: {}", e.region, e.message)).collect();
        return Err(f);
    }
    printer.result(&listing.render_text(), &listing.to_json());
    Ok(Code::Ok)
}

/// The region to list (with `--all-regions`, the one asked for the list of
/// regions): `--region`, else the config's when there is a config that
/// loads, else the SDK's default chain (AWS_REGION, the profile's).
async fn region(settings: &Settings, printer: &Printer) -> Result<String, Failure> {
    if let Some(region) = settings.env.overrides.get("region") {
        return Ok(region.clone());
    }
    let path = &settings.config_path;
    if path.is_file() {
        match config::load_file(path, &settings.env, CredentialsNeeded::No) {
            Ok(loaded) => return Ok(loaded.config.region),
            Err(_) => printer.note(&format!(
                "{} has problems (`agentctl validate` shows them): its `region` is not used",
                path.display()
            )),
        }
    }
    settings.aws.default_region().await.ok_or_else(|| {
        Failure::new(Code::InvalidInput, "no AWS region to list deployments in; nothing was sent to AWS").help(
            "pass --region REGION, run agentctl where a config with `region` is (or -c FILE), or set AWS_REGION \
             (or `region` in your AWS profile)",
        )
    })
}
