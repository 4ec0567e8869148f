//! Cloud Map: the HTTP namespace of the cluster's Service Connect. Its
//! changes are asynchronous operations, polled until they finish.

use std::collections::BTreeMap;
use std::time::Duration;

use agentctl_core::model::{addr, Address, HttpNamespaceSpec, Resource, Spec};
use agentctl_core::names::Names;
use agentctl_core::plan::{Known, LiveResource};
use aws_sdk_servicediscovery::types::{HttpNamespaceChange, OperationStatus, OperationTargetType, Tag};

use super::{outputs, tag_delta, Adapter, DeleteOptions, Outputs, ReadContext};
use crate::error::{sdk, ApiError, Error, Meaning};
use crate::wait::{self, Poll};
use crate::Aws;

/// How long a namespace operation may take (AWS: usually seconds, at most minutes).
const OPERATION_LIMIT: Duration = Duration::from_secs(300);

impl Adapter for HttpNamespaceSpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        let pages: Vec<_> = aws
            .cloudmap
            .list_namespaces()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(sdk("listing Cloud Map namespaces"))?;
        let found = pages.iter().flat_map(|p| p.namespaces()).find(|n| n.name() == Some(names.namespace.as_str()));
        let Some(ns) = found else {
            return Ok(vec![]);
        };
        let (Some(id), Some(arn)) = (ns.id(), ns.arn()) else { return Ok(vec![]) };
        let tags = aws
            .cloudmap
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(sdk(format!("reading the tags of Cloud Map namespace {}", names.namespace)))?;
        let tags = tags.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
        let spec = HttpNamespaceSpec { description: ns.description().unwrap_or_default().to_owned() };
        Ok(vec![(
            addr::NAMESPACE,
            LiveResource {
                id: id.to_owned(),
                outputs: outputs(&[("arn", arn), ("id", id), ("name", &names.namespace)]),
                tags,
                spec: Spec::HttpNamespace(spec),
                unreported: vec![],
            },
        )])
    }

    async fn create(&self, aws: &Aws, r: &Resource, _: &Known) -> Result<Outputs, Error> {
        let what = format!("creating Cloud Map namespace {}", r.name);
        // The SDK fills in the idempotency token (CreatorRequestId) and keeps it
        // across its retries: a lost answer does not create a second namespace.
        let out = aws
            .cloudmap
            .create_http_namespace()
            .name(&r.name)
            .description(&self.description)
            .set_tags(Some(tags(&r.tags)))
            .send()
            .await
            .map_err(sdk(&what))?;
        let targets = finish(aws, out.operation_id(), &what).await?;
        let id = targets
            .get(&OperationTargetType::Namespace)
            .cloned()
            .ok_or_else(|| Error::aws(&what, "the finished operation names no namespace"))?;
        let ns = aws.cloudmap.get_namespace().id(&id).send().await.map_err(sdk(&what))?;
        let arn = ns.namespace().and_then(|n| n.arn()).unwrap_or_default();
        Ok(outputs(&[("arn", arn), ("id", &id), ("name", &r.name)]))
    }

    async fn update(
        &self,
        aws: &Aws,
        r: &Resource,
        have: &Self,
        live: &LiveResource,
        _: &Known,
    ) -> Result<Outputs, Error> {
        if self.description != have.description {
            let what = format!("updating Cloud Map namespace {}", r.name);
            let out = aws
                .cloudmap
                .update_http_namespace()
                .id(&live.id)
                .namespace(
                    HttpNamespaceChange::builder()
                        .description(&self.description)
                        .build()
                        .map_err(|e| Error::aws(&what, e))?,
                )
                .send()
                .await
                .map_err(sdk(&what))?;
            finish(aws, out.operation_id(), &what).await?;
        }
        let arn = live.outputs.get("arn").cloned().unwrap_or_default();
        let (set, unset) = tag_delta(&live.tags, &r.tags);
        let tagging = format!("tagging Cloud Map namespace {}", r.name);
        if !set.is_empty() {
            let set = set.into_iter().collect::<BTreeMap<_, _>>();
            aws.cloudmap
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(tags(&set)))
                .send()
                .await
                .map_err(sdk(&tagging))?;
        }
        if !unset.is_empty() {
            aws.cloudmap
                .untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(unset))
                .send()
                .await
                .map_err(sdk(&tagging))?;
        }
        Ok(live.outputs.clone())
    }

    /// ECS removes the Cloud Map services it made for Service Connect once
    /// their ECS service is gone, not always at once: the delete is retried
    /// while the namespace still holds them. agentctl deletes no Cloud Map
    /// service itself (they are ECS's; the permission could not be scoped to ours).
    async fn delete(aws: &Aws, name: &str, live: &LiveResource, _: &Self, _: DeleteOptions) -> Result<(), Error> {
        let what = format!("deleting Cloud Map namespace {name}");
        let operation = wait::until(&what, OPERATION_LIMIT, || async {
            match aws.cloudmap.delete_namespace().id(&live.id).send().await.map_err(sdk(&what)) {
                Ok(out) => Ok(Poll::Ready(out.operation_id().map(str::to_owned))),
                Err(e) if e.is(Meaning::InUse) => Ok(Poll::Pending(format!(
                    "{name} ({}) still holds services; ECS removes those of Service Connect after their ECS service is gone (list them: aws servicediscovery list-services --filters Name=NAMESPACE_ID,Values={})",
                    live.id, live.id
                ))),
                Err(e) => Err(e),
            }
        })
        .await?;
        finish(aws, operation.as_deref(), &what).await.map(|_| ())
    }
}

fn tags(map: &BTreeMap<String, String>) -> Vec<Tag> {
    map.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

/// Polls a Cloud Map operation until it succeeds; its targets by type.
async fn finish(
    aws: &Aws,
    operation_id: Option<&str>,
    what: &str,
) -> Result<BTreeMap<OperationTargetType, String>, Error> {
    let Some(id) = operation_id else {
        return Err(Error::aws(what, "Cloud Map returned no operation id"));
    };
    wait::until(what, OPERATION_LIMIT, || async {
        let out = aws.cloudmap.get_operation().operation_id(id).send().await.map_err(sdk(what))?;
        let Some(op) = out.operation() else { return Ok(Poll::Pending("the operation is not visible yet".into())) };
        match op.status() {
            Some(OperationStatus::Success) => Ok(Poll::Ready(
                op.targets().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
            )),
            Some(OperationStatus::Fail) => Err(Error::Aws(ApiError::new(
                what,
                op.error_code().unwrap_or("OperationFailed"),
                op.error_message().unwrap_or("the operation failed"),
            ))),
            other => Ok(Poll::Pending(format!("operation {id} is {}", other.map_or("pending", |s| s.as_str())))),
        }
    })
    .await
}
