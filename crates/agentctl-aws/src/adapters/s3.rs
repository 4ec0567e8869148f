//! S3: the agent's staging bucket — public access blocked, encrypted, owner-
//! enforced, TLS only, one lifecycle rule, optionally versioned and logged. The
//! task role's own policy grants the agent access.

use agentctl_core::model::{addr, AccessLogs, Address, BucketLifecycle, BucketSpec, Resource, Spec, LIFECYCLE_RULE_ID};
use agentctl_core::names::Names;
use agentctl_core::plan::{Known, LiveResource};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint, BucketLoggingStatus,
    BucketVersioningStatus, CreateBucketConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, LoggingEnabled, NoncurrentVersionExpiration, ObjectIdentifier, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
    VersioningConfiguration,
};

use super::{outputs, Adapter, DeleteOptions, Outputs, ReadContext};
use crate::error::{sdk, Error, Meaning};
use crate::Aws;

fn arn(name: &str, region: &str) -> String {
    format!("arn:{}:s3:::{name}", agentctl_core::regions::partition(region))
}

/// `Ok(None)` when AWS says the configuration is simply not set.
fn absent_ok<T>(r: Result<T, Error>) -> Result<Option<T>, Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is(Meaning::NotSet) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Adapter for BucketSpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        let Some(bucket) = &names.bucket else { return Ok(vec![]) };
        Ok(read(aws, bucket).await?.map(|l| (addr::BUCKET, l)).into_iter().collect())
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
        delete(aws, name, opts.empty_bucket).await
    }
}

async fn read(aws: &Aws, name: &str) -> Result<Option<LiveResource>, Error> {
    let what = format!("reading S3 bucket {name}");
    let (tagging, pab, enc, own, policy, versioning, lifecycle, logging) = tokio::join!(
        aws.s3.get_bucket_tagging().bucket(name).send(),
        aws.s3.get_public_access_block().bucket(name).send(),
        aws.s3.get_bucket_encryption().bucket(name).send(),
        aws.s3.get_bucket_ownership_controls().bucket(name).send(),
        aws.s3.get_bucket_policy().bucket(name).send(),
        aws.s3.get_bucket_versioning().bucket(name).send(),
        aws.s3.get_bucket_lifecycle_configuration().bucket(name).send(),
        aws.s3.get_bucket_logging().bucket(name).send(),
    );
    let tags = match tagging.map_err(sdk(&what)) {
        Ok(t) => t.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect(),
        Err(e) if e.is(Meaning::NotSet) => Default::default(),
        Err(e) if e.is(Meaning::NotFound) => return Ok(None),
        // Someone else's bucket (another account): it is not ours to touch.
        Err(e) if matches!(e.meaning(), Some(Meaning::AccessDenied { .. })) => {
            return Ok(Some(LiveResource {
                id: name.to_owned(),
                outputs: Default::default(),
                tags: Default::default(),
                spec: Spec::S3Bucket(empty()),
                unreported: vec![],
            }))
        }
        Err(e) => return Err(e),
    };
    let pab = absent_ok(pab.map_err(sdk(&what)))?;
    let enc = absent_ok(enc.map_err(sdk(&what)))?;
    let own = absent_ok(own.map_err(sdk(&what)))?;
    let policy = absent_ok(policy.map_err(sdk(&what)))?;
    let block_public_access = pab.and_then(|p| p.public_access_block_configuration().cloned()).is_some_and(|c| {
        c.block_public_acls() == Some(true)
            && c.ignore_public_acls() == Some(true)
            && c.block_public_policy() == Some(true)
            && c.restrict_public_buckets() == Some(true)
    });
    let enc_rule =
        enc.and_then(|e| e.server_side_encryption_configuration().cloned()).and_then(|c| c.rules().first().cloned());
    let enc_default = enc_rule.as_ref().and_then(|r| r.apply_server_side_encryption_by_default());
    let encryption = enc_default.map(|d| d.sse_algorithm().as_str().to_owned()).unwrap_or_default();
    let kms_key_id = enc_default.and_then(|d| d.kms_master_key_id()).map(str::to_owned);
    let bucket_key = enc_rule.as_ref().and_then(|r| r.bucket_key_enabled()).unwrap_or(false);
    // moto answers GetBucketVersioning under a root element the SDK rejects (S3
    // itself never does): then versioning is unreported, not an error.
    let versioning = match versioning {
        Ok(v) => Some(v.status() == Some(&BucketVersioningStatus::Enabled)),
        Err(e) if e.raw_response().is_some_and(|r| r.status().is_success()) => None,
        Err(e) => return Err(sdk(&what)(e)),
    };
    let lifecycle = absent_ok(lifecycle.map_err(sdk(&what)))?
        .and_then(|l| l.rules().iter().find(|r| r.id() == Some(LIFECYCLE_RULE_ID)).cloned())
        .map(|r| BucketLifecycle {
            abort_incomplete_upload_days: r
                .abort_incomplete_multipart_upload()
                .and_then(|a| a.days_after_initiation())
                .unwrap_or(0) as u32,
            expiration_days: r.expiration().and_then(|e| e.days()).map(|d| d as u32),
            noncurrent_expiration_days: r
                .noncurrent_version_expiration()
                .and_then(|n| n.noncurrent_days())
                .map(|d| d as u32),
        });
    let access_logs = logging
        .map_err(sdk(&what))?
        .logging_enabled()
        .map(|l| AccessLogs { bucket: l.target_bucket().to_owned(), prefix: l.target_prefix().to_owned() });
    let object_ownership = own
        .and_then(|o| o.ownership_controls().cloned())
        .and_then(|c| c.rules().first().map(|r| r.object_ownership().as_str().to_owned()))
        .unwrap_or_default();
    let policy =
        policy.and_then(|p| p.policy().and_then(|p| serde_json::from_str(p).ok())).unwrap_or(serde_json::Value::Null);
    let spec = BucketSpec {
        block_public_access,
        encryption,
        kms_key_id,
        bucket_key,
        object_ownership,
        policy,
        versioning: versioning.unwrap_or(false),
        lifecycle,
        access_logs,
    };
    let arn = arn(name, &aws.region);
    Ok(Some(LiveResource {
        id: name.to_owned(),
        outputs: outputs(&[("arn", &arn), ("name", name)]),
        tags,
        spec: Spec::S3Bucket(spec),
        unreported: if versioning.is_none() { vec!["versioning"] } else { vec![] },
    }))
}

fn empty() -> BucketSpec {
    BucketSpec {
        block_public_access: false,
        encryption: String::new(),
        kms_key_id: None,
        bucket_key: false,
        object_ownership: String::new(),
        policy: serde_json::Value::Null,
        versioning: false,
        lifecycle: None,
        access_logs: None,
    }
}

async fn create(aws: &Aws, r: &Resource, s: &BucketSpec) -> Result<Outputs, Error> {
    let mut req = aws.s3.create_bucket().bucket(&r.name);
    if aws.region != "us-east-1" {
        let cfg = CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(aws.region.as_str()))
            .build();
        req = req.create_bucket_configuration(cfg);
    }
    // Tags first after creation: the ownership tag is what makes it ours.
    // BucketAlreadyOwnedByYou: a retried create whose first attempt took effect
    // (the lock recorded the name before the call).
    req.send().await.map(|_| ()).map_err(sdk(format!("creating S3 bucket {}", r.name))).or_else(|e| match e {
        e if e.is(Meaning::AlreadyExists) => Ok(()),
        e => Err(e),
    })?;
    put_tags(aws, r).await?;
    configure(aws, r, s, &empty()).await?;
    Ok(outputs(&[("arn", &arn(&r.name, &aws.region)), ("name", &r.name)]))
}

async fn put_tags(aws: &Aws, r: &Resource) -> Result<(), Error> {
    let tags = r.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("tag")).collect();
    aws.s3
        .put_bucket_tagging()
        .bucket(&r.name)
        .tagging(Tagging::builder().set_tag_set(Some(tags)).build().expect("tag set"))
        .send()
        .await
        .map_err(sdk(format!("tagging S3 bucket {}", r.name)))?;
    Ok(())
}

/// Applies every setting that differs, concurrently (they are independent).
async fn configure(aws: &Aws, r: &Resource, want: &BucketSpec, have: &BucketSpec) -> Result<(), Error> {
    let name = &r.name;
    let pab = async {
        if want.block_public_access != have.block_public_access {
            let on = want.block_public_access;
            let cfg = PublicAccessBlockConfiguration::builder()
                .block_public_acls(on)
                .ignore_public_acls(on)
                .block_public_policy(on)
                .restrict_public_buckets(on)
                .build();
            aws.s3
                .put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(cfg)
                .send()
                .await
                .map_err(sdk(format!("blocking public access to S3 bucket {name}")))?;
        }
        Ok::<_, Error>(())
    };
    let enc = async {
        if (&want.encryption, &want.kms_key_id, want.bucket_key)
            != (&have.encryption, &have.kms_key_id, have.bucket_key)
        {
            let rule = ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::from(want.encryption.as_str()))
                        .set_kms_master_key_id(want.kms_key_id.clone())
                        .build()
                        .expect("algorithm"),
                )
                .bucket_key_enabled(want.bucket_key)
                .build();
            let cfg = ServerSideEncryptionConfiguration::builder().rules(rule).build().expect("rules");
            aws.s3
                .put_bucket_encryption()
                .bucket(name)
                .server_side_encryption_configuration(cfg)
                .send()
                .await
                .map_err(sdk(format!("turning on encryption of S3 bucket {name}")))?;
        }
        Ok(())
    };
    let own = async {
        if want.object_ownership != have.object_ownership {
            let rule = OwnershipControlsRule::builder()
                .object_ownership(ObjectOwnership::from(want.object_ownership.as_str()))
                .build()
                .expect("ownership");
            let cfg = OwnershipControls::builder().rules(rule).build().expect("rules");
            aws.s3
                .put_bucket_ownership_controls()
                .bucket(name)
                .ownership_controls(cfg)
                .send()
                .await
                .map_err(sdk(format!("setting object ownership of S3 bucket {name}")))?;
        }
        Ok(())
    };
    let policy = async {
        if want.policy != have.policy {
            aws.s3
                .put_bucket_policy()
                .bucket(name)
                .policy(want.policy.to_string())
                .send()
                .await
                .map_err(sdk(format!("setting the policy of S3 bucket {name}")))?;
        }
        Ok(())
    };
    // Versioning first: a rule for noncurrent versions is meant for a versioned bucket.
    let versions = async {
        if want.versioning != have.versioning {
            // S3 cannot turn versioning off, only suspend it.
            let status =
                if want.versioning { BucketVersioningStatus::Enabled } else { BucketVersioningStatus::Suspended };
            aws.s3
                .put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(VersioningConfiguration::builder().status(status).build())
                .send()
                .await
                .map_err(sdk(format!("setting versioning of S3 bucket {name}")))?;
        }
        if want.lifecycle != have.lifecycle {
            put_lifecycle(aws, name, want.lifecycle.as_ref()).await?;
        }
        Ok(())
    };
    let logging = async {
        if want.access_logs != have.access_logs {
            let status = BucketLoggingStatus::builder()
                .set_logging_enabled(want.access_logs.as_ref().map(|l| {
                    LoggingEnabled::builder()
                        .target_bucket(&l.bucket)
                        .target_prefix(&l.prefix)
                        .build()
                        .expect("target bucket and prefix")
                }))
                .build();
            aws.s3
                .put_bucket_logging()
                .bucket(name)
                .bucket_logging_status(status)
                .send()
                .await
                .map_err(sdk(format!("setting access logging of S3 bucket {name}")))?;
        }
        Ok(())
    };
    tokio::try_join!(pab, enc, own, policy, versions, logging)?;
    Ok(())
}

async fn put_lifecycle(aws: &Aws, name: &str, lifecycle: Option<&BucketLifecycle>) -> Result<(), Error> {
    let what = format!("setting the lifecycle of S3 bucket {name}");
    let Some(l) = lifecycle else {
        aws.s3.delete_bucket_lifecycle().bucket(name).send().await.map_err(sdk(what))?;
        return Ok(());
    };
    let rule = LifecycleRule::builder()
        .id(LIFECYCLE_RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(l.abort_incomplete_upload_days as i32)
                .build(),
        )
        .set_expiration(l.expiration_days.map(|d| LifecycleExpiration::builder().days(d as i32).build()))
        .set_noncurrent_version_expiration(
            l.noncurrent_expiration_days
                .map(|d| NoncurrentVersionExpiration::builder().noncurrent_days(d as i32).build()),
        )
        .build()
        .expect("status");
    aws.s3
        .put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(rule).build().expect("rules"))
        .send()
        .await
        .map_err(sdk(what))?;
    Ok(())
}

async fn update(
    aws: &Aws,
    r: &Resource,
    want: &BucketSpec,
    have: &BucketSpec,
    l: &LiveResource,
) -> Result<Outputs, Error> {
    configure(aws, r, want, have).await?;
    if l.tags != r.tags {
        put_tags(aws, r).await?;
    }
    Ok(l.outputs.clone())
}

async fn delete(aws: &Aws, name: &str, empty_first: bool) -> Result<(), Error> {
    // Versions and delete markers too: a bucket with any is not empty to S3.
    loop {
        let page = aws
            .s3
            .list_object_versions()
            .bucket(name)
            .max_keys(1000)
            .send()
            .await
            .map_err(sdk(format!("listing objects in S3 bucket {name}")))?;
        let mut ids: Vec<ObjectIdentifier> = page
            .versions()
            .iter()
            .filter_map(|v| {
                ObjectIdentifier::builder().key(v.key()?).set_version_id(v.version_id().map(str::to_owned)).build().ok()
            })
            .collect();
        ids.extend(page.delete_markers().iter().filter_map(|m| {
            ObjectIdentifier::builder().key(m.key()?).set_version_id(m.version_id().map(str::to_owned)).build().ok()
        }));
        if ids.is_empty() {
            break;
        }
        if !empty_first {
            return Err(Error::BucketNotEmpty { bucket: name.to_owned(), objects: ids.len() });
        }
        let batch = aws_sdk_s3::types::Delete::builder().set_objects(Some(ids)).quiet(true).build().expect("objects");
        aws.s3
            .delete_objects()
            .bucket(name)
            .delete(batch)
            .send()
            .await
            .map_err(sdk(format!("emptying S3 bucket {name}")))?;
    }
    aws.s3.delete_bucket().bucket(name).send().await.map_err(sdk(format!("deleting S3 bucket {name}")))?;
    Ok(())
}
