//! CloudWatch Logs: the agent's log group.

use agentctl_core::model::{LogGroupSpec, Resource, Spec};
use agentctl_core::plan::LiveResource;

use super::{is_not_found, outputs, tag_delta, Outputs};
use crate::error::{sdk, Error};
use crate::Aws;

fn arn(aws: &Aws, name: &str) -> String {
    format!(
        "arn:{}:logs:{}:{}:log-group:{name}",
        agentctl_core::regions::partition(&aws.region),
        aws.region,
        aws.account_id
    )
}

pub(crate) async fn read(aws: &Aws, name: &str) -> Result<Option<LiveResource>, Error> {
    let arn = arn(aws, name);
    let (groups, tags) = tokio::join!(
        aws.logs.describe_log_groups().log_group_name_prefix(name).send(),
        aws.logs.list_tags_for_resource().resource_arn(&arn).send(),
    );
    let groups = groups.map_err(sdk(format!("reading log group {name}")))?;
    let Some(group) = groups.log_groups().iter().find(|g| g.log_group_name() == Some(name)) else {
        return Ok(None);
    };
    let tags = match tags.map_err(sdk(format!("reading tags of log group {name}"))) {
        Ok(t) => t.tags().cloned().unwrap_or_default().into_iter().collect(),
        Err(e) if is_not_found(&e) => Default::default(),
        Err(e) => return Err(e),
    };
    let spec = LogGroupSpec { retention_in_days: group.retention_in_days().map(|d| d as u32) };
    Ok(Some(LiveResource {
        id: name.to_owned(),
        outputs: outputs(&[("arn", &arn), ("name", name)]),
        tags,
        spec: Spec::LogGroup(spec),
        unreported: vec![],
    }))
}

fn spec(r: &Resource) -> &LogGroupSpec {
    match &r.spec {
        Spec::LogGroup(s) => s,
        other => unreachable!("not a log group: {other:?}"),
    }
}

async fn set_retention(aws: &Aws, name: &str, days: Option<u32>) -> Result<(), Error> {
    let what = format!("setting the retention of log group {name}");
    match days {
        Some(d) => aws
            .logs
            .put_retention_policy()
            .log_group_name(name)
            .retention_in_days(d as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk(what)),
        None => aws.logs.delete_retention_policy().log_group_name(name).send().await.map(|_| ()).map_err(sdk(what)),
    }
}

pub(crate) async fn create(aws: &Aws, r: &Resource) -> Result<Outputs, Error> {
    aws.logs
        .create_log_group()
        .log_group_name(&r.name)
        .set_tags(Some(r.tags.clone().into_iter().collect()))
        .send()
        .await
        .map_err(sdk(format!("creating log group {}", r.name)))
        .map(|_| ())
        .or_else(|e| match e {
            // Plan found none: this is the one our first attempt made before its
            // answer was lost and the SDK retried.
            Error::Aws { message, .. } if message.starts_with("ResourceAlreadyExistsException") => Ok(()),
            e => Err(e),
        })?;
    if let Some(days) = spec(r).retention_in_days {
        set_retention(aws, &r.name, Some(days)).await?;
    }
    Ok(outputs(&[("arn", &arn(aws, &r.name)), ("name", &r.name)]))
}

pub(crate) async fn update(aws: &Aws, r: &Resource, l: &LiveResource) -> Result<Outputs, Error> {
    let want = spec(r);
    let Spec::LogGroup(have) = &l.spec else { unreachable!() };
    if want.retention_in_days != have.retention_in_days {
        set_retention(aws, &r.name, want.retention_in_days).await?;
    }
    let arn = arn(aws, &r.name);
    let (set, unset) = tag_delta(&l.tags, &r.tags);
    if !set.is_empty() {
        aws.logs
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(set.into_iter().collect()))
            .send()
            .await
            .map_err(sdk(format!("tagging log group {}", r.name)))?;
    }
    if !unset.is_empty() {
        aws.logs
            .untag_resource()
            .resource_arn(&arn)
            .set_tag_keys(Some(unset))
            .send()
            .await
            .map_err(sdk(format!("untagging log group {}", r.name)))?;
    }
    Ok(l.outputs.clone())
}

pub(crate) async fn delete(aws: &Aws, name: &str) -> Result<(), Error> {
    match aws
        .logs
        .delete_log_group()
        .log_group_name(name)
        .send()
        .await
        .map_err(sdk(format!("deleting log group {name}")))
    {
        Err(e) if !is_not_found(&e) => Err(e),
        _ => Ok(()),
    }
}
