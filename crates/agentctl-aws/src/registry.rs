//! The image registry: which platforms the agent image is built for, read from
//! its manifest (an image index lists them; a single image's config names its
//! own). Public registries are read anonymously; private ECR with the token ECR
//! issues to the caller.

use std::time::Duration;

use agentctl_core::doctor::ImageLookup;
use agentctl_core::image::ImageRef;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::error::sdk;
use crate::Aws;

/// The whole lookup, token and blob included, gives up after this.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The platforms of `image`, or why they are not known.
pub async fn lookup(aws: &Aws, image: &str) -> ImageLookup {
    let reference: Reference = match image.parse() {
        Ok(r) => r,
        Err(e) => return ImageLookup::NotRead(format!("the reference is not one a registry takes: {e}")),
    };
    let host = reference.resolve_registry().to_owned();
    let loopback = is_loopback(&host);
    // Against an emulator nothing may leave the machine: only a registry on
    // loopback (a test's own) is asked.
    if aws.custom_endpoint && !loopback {
        return ImageLookup::NotRead(format!("AWS is an emulator here (endpoint overridden), so {host} is not asked"));
    }
    match tokio::time::timeout(LOOKUP_TIMEOUT, read(aws, image, &reference, &host, loopback)).await {
        Ok(found) => found,
        Err(_) => ImageLookup::Unreachable(format!("{host} did not answer within {} s", LOOKUP_TIMEOUT.as_secs())),
    }
}

fn is_loopback(host: &str) -> bool {
    // `host:port`, `[v6]:port`, or a bare host.
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or(v6, |(ip, _)| ip),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn read(aws: &Aws, image: &str, reference: &Reference, host: &str, loopback: bool) -> ImageLookup {
    let auth = match ImageRef::parse(image).ok().and_then(|i| i.private_ecr()) {
        Some((_, region, _)) => match ecr_auth(&aws.ecr_in(&region)).await {
            Ok(auth) => auth,
            Err(e) => return ImageLookup::Unreachable(e),
        },
        None => RegistryAuth::Anonymous,
    };
    let config = ClientConfig {
        // Plain HTTP only for a registry on this machine (tests); never elsewhere.
        protocol: if loopback { ClientProtocol::HttpsExcept(vec![host.to_owned()]) } else { ClientProtocol::Https },
        connect_timeout: Some(Duration::from_secs(5)),
        read_timeout: Some(Duration::from_secs(10)),
        // Never pick a platform for us: the index itself is what we want.
        platform_resolver: None,
        ..ClientConfig::default()
    };
    let client = match Client::try_from(config) {
        Ok(c) => c,
        Err(e) => return ImageLookup::Unreachable(format!("cannot set up a registry client: {e}")),
    };
    let manifest = match client.pull_manifest(reference, &auth).await {
        Ok((m, _digest)) => m,
        Err(e) => return failed(host, &e),
    };
    match manifest {
        OciManifest::ImageIndex(index) => {
            let mut platforms: Vec<String> = index
                .manifests
                .iter()
                .filter_map(|m| m.platform.as_ref())
                .map(|p| platform(&p.os.to_string(), &p.architecture.to_string(), p.variant.as_deref()))
                // Build attestations are listed as unknown/unknown.
                .filter(|p| p != "unknown/unknown")
                .collect();
            platforms.sort();
            platforms.dedup();
            ImageLookup::Platforms(platforms)
        }
        OciManifest::Image(m) => {
            let mut blob = Vec::new();
            if let Err(e) = client.pull_blob(reference, &m.config, &mut blob).await {
                return failed(host, &e);
            }
            #[derive(serde::Deserialize)]
            struct Config {
                os: String,
                architecture: String,
                variant: Option<String>,
            }
            match serde_json::from_slice::<Config>(&blob) {
                Ok(c) => ImageLookup::Platforms(vec![platform(&c.os, &c.architecture, c.variant.as_deref())]),
                Err(e) => ImageLookup::Unreachable(format!("{host} sent an image config without a platform: {e}")),
            }
        }
    }
}

fn platform(os: &str, architecture: &str, variant: Option<&str>) -> String {
    match variant {
        Some(v) if !v.is_empty() => format!("{os}/{architecture}/{v}"),
        _ => format!("{os}/{architecture}"),
    }
}

/// A missing repository or tag is a finding (the tasks could not pull it);
/// anything else only means the registry could not be read from here.
fn failed(host: &str, e: &OciDistributionError) -> ImageLookup {
    match e {
        OciDistributionError::RegistryError { envelope, .. }
            if envelope
                .errors
                .iter()
                .any(|err| matches!(err.code, OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown)) =>
        {
            ImageLookup::NotFound(format!("{host} has no such image: {e}"))
        }
        OciDistributionError::ImageManifestNotFoundError(_) => {
            ImageLookup::NotFound(format!("{host} has no such image: {e}"))
        }
        _ => ImageLookup::Unreachable(format!("{host}: {e}")),
    }
}

/// ECR's registry login: user `AWS`, the token's password, for the caller.
async fn ecr_auth(ecr: &aws_sdk_ecr::Client) -> Result<RegistryAuth, String> {
    let out = ecr
        .get_authorization_token()
        .send()
        .await
        .map_err(sdk("asking ECR for a registry token"))
        .map_err(|e| e.to_string())?;
    let token = out
        .authorization_data()
        .first()
        .and_then(|d| d.authorization_token())
        .ok_or("ECR returned no registry token")?;
    let decoded = aws_smithy_types::base64::decode(token).map_err(|e| format!("ECR's registry token: {e}"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| "ECR's registry token is not text".to_owned())?;
    let (user, password) = decoded.split_once(':').ok_or("ECR's registry token has no user")?;
    Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecr::operation::get_authorization_token::GetAuthorizationTokenOutput;
    use aws_sdk_ecr::types::AuthorizationData;
    use aws_smithy_mocks::{mock, mock_client};
    use oci_client::secrets::RegistryAuth;

    #[tokio::test]
    async fn ecr_token_becomes_basic_auth_for_the_registry() {
        let token = aws_smithy_types::base64::encode("AWS:pw-from-ecr");
        let answer = mock!(aws_sdk_ecr::Client::get_authorization_token).then_output(move || {
            GetAuthorizationTokenOutput::builder()
                .authorization_data(AuthorizationData::builder().authorization_token(token.clone()).build())
                .build()
        });
        let ecr = mock_client!(aws_sdk_ecr, [&answer]);
        match super::ecr_auth(&ecr).await.unwrap() {
            RegistryAuth::Basic(user, password) => {
                assert_eq!((user.as_str(), password.as_str()), ("AWS", "pw-from-ecr"))
            }
            _ => panic!("expected basic auth"),
        }
        let empty = mock!(aws_sdk_ecr::Client::get_authorization_token)
            .then_output(|| GetAuthorizationTokenOutput::builder().build());
        let ecr = mock_client!(aws_sdk_ecr, [&empty]);
        assert_eq!(super::ecr_auth(&ecr).await.unwrap_err(), "ECR returned no registry token");
    }

    #[test]
    fn only_loopback_registries_count_as_local() {
        assert!(super::is_loopback("127.0.0.1:5000") && super::is_loopback("localhost:5000"));
        assert!(super::is_loopback("[::1]:5000") && super::is_loopback("127.0.0.1"));
        assert!(!super::is_loopback("public.ecr.aws") && !super::is_loopback("registry-1.docker.io"));
        assert!(!super::is_loopback("127.0.0.1.nip.io:5000"));
    }
}
