//! Secrets Manager: the agent's credentials. The value is read and compared in
//! memory only; it never reaches output, logs or errors.

use agentctl_core::model::{Address, Kind, KindSpec, Resource, SecretSpec, Spec};
use agentctl_core::names::Names;
use agentctl_core::plan::{Known, LiveResource};
use agentctl_core::secret::SecretString;
use aws_sdk_secretsmanager::types::Tag;

use super::{outputs, tag_delta, Adapter, DeleteOptions, Outputs, ReadContext};
use crate::error::{sdk, Error, Meaning};
use crate::Aws;

impl Adapter for SecretSpec {
    /// The credentials' and the script runner's secrets under their configured
    /// names, and ours under names an earlier config gave (keyed by their own name).
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        let current: Vec<&str> = names.of_kind(Self::KIND).into_iter().map(|(_, n)| n).collect();
        let (found, renamed) = tokio::try_join!(
            super::read_each(names, Self::KIND, |name| read(aws, name)),
            read_renamed(aws, &names.deployment, &current)
        )?;
        let renamed = renamed.into_iter().map(|l| (Address::named(Kind::Secret, &l.outputs["name"]), l));
        Ok(found.into_iter().chain(renamed).collect())
    }

    async fn create(&self, aws: &Aws, r: &Resource, _: &Known) -> Result<Outputs, Error> {
        create(aws, r, self).await
    }

    async fn update(
        &self,
        aws: &Aws,
        r: &Resource,
        have: &Self,
        live: &LiveResource,
        _: &Known,
    ) -> Result<Outputs, Error> {
        update(aws, r, self, have, live).await
    }

    async fn delete(aws: &Aws, name: &str, _: &LiveResource, _: &Self, opts: DeleteOptions) -> Result<(), Error> {
        delete(aws, name, opts.force_delete_secret).await
    }
}

async fn read(aws: &Aws, name: &str) -> Result<Option<LiveResource>, Error> {
    let (described, value) = tokio::join!(
        aws.secrets.describe_secret().secret_id(name).send(),
        aws.secrets.get_secret_value().secret_id(name).send(),
    );
    let d = match described.map_err(sdk(format!("reading secret {name}"))) {
        Ok(d) => d,
        Err(e) if e.is(Meaning::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    // Pending deletion counts as absent: apply restores it.
    if d.deleted_date().is_some() {
        return Ok(None);
    }
    let arn = d.arn().unwrap_or_default().to_owned();
    let tags =
        d.tags().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect();
    // A secret without a value yet (created, killed before the value was set)
    // compares as empty and is updated.
    let value = value.ok().and_then(|v| v.secret_string().map(SecretString::new)).unwrap_or_default();
    let spec = SecretSpec {
        description: d.description().unwrap_or_default().to_owned(),
        // The AWS managed key may come back as its alias or its alias ARN.
        kms_key_id: d.kms_key_id().filter(|k| !k.ends_with(AWS_MANAGED_KEY)).map(str::to_owned),
        value: Some(value),
    };
    Ok(Some(LiveResource {
        id: arn.clone(),
        outputs: outputs(&[("arn", &arn), ("name", name)]),
        tags,
        spec: Spec::Secret(spec),
        unreported: vec![],
    }))
}

/// Secrets carrying this deployment's ownership tag under a name other than
/// the `current` ones (a `secret_name` changed since they were created), so plan
/// and destroy remove them instead of leaving them behind. Pending deletion
/// ones are gone.
async fn read_renamed(aws: &Aws, deployment: &str, current: &[&str]) -> Result<Vec<LiveResource>, Error> {
    use agentctl_core::model::OWNERSHIP_TAG;
    use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
    let filter = |key, value: &str| Filter::builder().key(key).values(value).build();
    let pages: Vec<_> = aws
        .secrets
        .list_secrets()
        .filters(filter(FilterNameStringType::TagKey, OWNERSHIP_TAG))
        .filters(filter(FilterNameStringType::TagValue, deployment))
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(sdk("listing the deployment's secrets"))?;
    let mut out = Vec::new();
    for page in &pages {
        for entry in page.secret_list() {
            let tags: std::collections::BTreeMap<String, String> = entry
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                .collect();
            let (Some(arn), Some(found)) = (entry.arn(), entry.name()) else { continue };
            // Both filters match independently: check the pair itself.
            if current.contains(&found) || tags.get(OWNERSHIP_TAG).map(String::as_str) != Some(deployment) {
                continue;
            }
            let spec = SecretSpec {
                description: entry.description().unwrap_or_default().to_owned(),
                kms_key_id: entry.kms_key_id().filter(|k| !k.ends_with(AWS_MANAGED_KEY)).map(str::to_owned),
                value: None, // not read: these are only deleted
            };
            out.push(LiveResource {
                id: arn.to_owned(),
                outputs: outputs(&[("arn", arn), ("name", found)]),
                tags,
                spec: Spec::Secret(spec),
                unreported: vec![],
            });
        }
    }
    Ok(out)
}

/// The key Secrets Manager uses when none is given; also how to return to it.
const AWS_MANAGED_KEY: &str = "alias/aws/secretsmanager";

/// The value to write. Only a stack built with the agent's credentials has one
/// (the CLI loads them for apply).
fn value<'a>(r: &Resource, s: &'a SecretSpec) -> Result<&'a str, Error> {
    s.value.as_ref().map(SecretString::expose).ok_or_else(|| {
        Error::Unsupported(format!("secret {}: the config was loaded without the agent's credentials", r.name))
    })
}

fn tags(r: &Resource) -> Vec<Tag> {
    r.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

async fn create(aws: &Aws, r: &Resource, s: &SecretSpec) -> Result<Outputs, Error> {
    let created = aws
        .secrets
        .create_secret()
        .name(&r.name)
        .description(&s.description)
        .set_kms_key_id(s.kms_key_id.clone())
        .secret_string(value(r, s)?)
        .set_tags(Some(tags(r)))
        .send()
        .await;
    match created {
        Ok(out) => Ok(outputs(&[("arn", out.arn().unwrap_or_default())])),
        Err(e) => {
            let err = sdk(format!("creating secret {}", r.name))(e);
            // Pending deletion (moto says "already exists"), or our own create whose
            // answer was lost: restore it if it is ours and set it.
            if !err.is(Meaning::PendingDeletion) && !err.is(Meaning::AlreadyExists) {
                return Err(err);
            }
            restore(aws, r, s).await
        }
    }
}

/// Takes back a secret from its recovery window, only if it is ours.
async fn restore(aws: &Aws, r: &Resource, s: &SecretSpec) -> Result<Outputs, Error> {
    let d = aws
        .secrets
        .describe_secret()
        .secret_id(&r.name)
        .send()
        .await
        .map_err(sdk(format!("reading secret {}", r.name)))?;
    let owner = d.tags().iter().find(|t| t.key() == Some(agentctl_core::model::OWNERSHIP_TAG)).and_then(|t| t.value());
    let arn = d.arn().unwrap_or_default().to_owned();
    if owner != r.tags.get(agentctl_core::model::OWNERSHIP_TAG).map(String::as_str) {
        return Err(Error::Foreign(vec![agentctl_core::plan::Foreign {
            address: r.addr.to_string(),
            kind: "secret",
            name: r.name.clone(),
            id: arn,
            owner: owner.map(str::to_owned),
        }]));
    }
    if d.deleted_date().is_some() {
        aws.secrets
            .restore_secret()
            .secret_id(&arn)
            .send()
            .await
            .map_err(sdk(format!("restoring secret {} from its recovery window", r.name)))?;
    }
    // Key, value and description in one call: the value is encrypted with the
    // key the config names, not the one the secret had.
    aws.secrets
        .update_secret()
        .secret_id(&arn)
        .description(&s.description)
        .kms_key_id(s.kms_key_id.as_deref().unwrap_or(AWS_MANAGED_KEY))
        .secret_string(value(r, s)?)
        .send()
        .await
        .map_err(sdk(format!("setting the value of secret {}", r.name)))?;
    aws.secrets
        .tag_resource()
        .secret_id(&arn)
        .set_tags(Some(tags(r)))
        .send()
        .await
        .map_err(sdk(format!("tagging secret {}", r.name)))?;
    Ok(outputs(&[("arn", &arn)]))
}

async fn update(
    aws: &Aws,
    r: &Resource,
    want: &SecretSpec,
    have: &SecretSpec,
    l: &LiveResource,
) -> Result<Outputs, Error> {
    let arn = &l.id;
    if want.kms_key_id != have.kms_key_id {
        // A new key encrypts new versions only: write the value again with it.
        aws.secrets
            .update_secret()
            .secret_id(arn)
            .kms_key_id(want.kms_key_id.as_deref().unwrap_or(AWS_MANAGED_KEY))
            .secret_string(value(r, want)?)
            .send()
            .await
            .map_err(sdk(format!("changing the KMS key of secret {}", r.name)))?;
    } else if want.value != have.value {
        aws.secrets
            .put_secret_value()
            .secret_id(arn)
            .secret_string(value(r, want)?)
            .send()
            .await
            .map_err(sdk(format!("setting the value of secret {}", r.name)))?;
    }
    if want.description != have.description {
        aws.secrets
            .update_secret()
            .secret_id(arn)
            .description(&want.description)
            .send()
            .await
            .map_err(sdk(format!("updating secret {}", r.name)))?;
    }
    let (set, unset) = tag_delta(&l.tags, &r.tags);
    if !set.is_empty() {
        let t = set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        aws.secrets
            .tag_resource()
            .secret_id(arn)
            .set_tags(Some(t))
            .send()
            .await
            .map_err(sdk(format!("tagging secret {}", r.name)))?;
    }
    if !unset.is_empty() {
        aws.secrets
            .untag_resource()
            .secret_id(arn)
            .set_tag_keys(Some(unset))
            .send()
            .await
            .map_err(sdk(format!("untagging secret {}", r.name)))?;
    }
    Ok(l.outputs.clone())
}

async fn delete(aws: &Aws, name: &str, force: bool) -> Result<(), Error> {
    let req = aws.secrets.delete_secret().secret_id(name);
    let req = if force { req.force_delete_without_recovery(true) } else { req.recovery_window_in_days(7) };
    req.send().await.map_err(sdk(format!("deleting secret {name}")))?;
    Ok(())
}
