//! CloudWatch Logs: the agent's log group, and the VPC flow logs' when on.

use agentctl_core::model::{Address, KindSpec, LogGroupSpec, Resource, Spec};
use agentctl_core::names::Names;
use agentctl_core::plan::{Known, LiveResource};

use super::{outputs, tag_delta, Adapter, DeleteOptions, Outputs, ReadContext};
use crate::error::{sdk, Error, Meaning};
use crate::Aws;

fn arn(aws: &Aws, name: &str) -> String {
    format!(
        "arn:{}:logs:{}:{}:log-group:{name}",
        agentctl_core::regions::partition(&aws.region),
        aws.region,
        aws.account_id
    )
}

impl Adapter for LogGroupSpec {
    async fn read(aws: &Aws, names: &Names, _: ReadContext<'_>) -> Result<Vec<(Address, LiveResource)>, Error> {
        super::read_each(names, Self::KIND, |name| read(aws, name)).await
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

    async fn delete(aws: &Aws, name: &str, _: &LiveResource, _: &Self, _: DeleteOptions) -> Result<(), Error> {
        delete(aws, name).await
    }
}

async fn read(aws: &Aws, name: &str) -> Result<Option<LiveResource>, Error> {
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
        Err(e) if e.is(Meaning::NotFound) => Default::default(),
        Err(e) => return Err(e),
    };
    let spec = LogGroupSpec {
        retention_in_days: group.retention_in_days().map(|d| d as u32),
        kms_key_id: group.kms_key_id().map(str::to_owned),
    };
    Ok(Some(LiveResource {
        id: name.to_owned(),
        outputs: outputs(&[("arn", &arn), ("name", name)]),
        tags,
        spec: Spec::LogGroup(spec),
        unreported: vec![],
    }))
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

async fn create(aws: &Aws, r: &Resource, s: &LogGroupSpec) -> Result<Outputs, Error> {
    aws.logs
        .create_log_group()
        .log_group_name(&r.name)
        .set_kms_key_id(s.kms_key_id.clone())
        .set_tags(Some(r.tags.clone().into_iter().collect()))
        .send()
        .await
        .map_err(sdk(format!("creating log group {}", r.name)))
        .map(|_| ())
        .or_else(|e| match e {
            // Plan found none: this is the one our first attempt made before its
            // answer was lost and the SDK retried.
            e if e.is(Meaning::AlreadyExists) => Ok(()),
            e => Err(e),
        })?;
    if let Some(days) = s.retention_in_days {
        set_retention(aws, &r.name, Some(days)).await?;
    }
    Ok(outputs(&[("arn", &arn(aws, &r.name)), ("name", &r.name)]))
}

async fn update(
    aws: &Aws,
    r: &Resource,
    want: &LogGroupSpec,
    have: &LogGroupSpec,
    l: &LiveResource,
) -> Result<Outputs, Error> {
    if want.retention_in_days != have.retention_in_days {
        set_retention(aws, &r.name, want.retention_in_days).await?;
    }
    if want.kms_key_id != have.kms_key_id {
        let what = format!("changing the KMS key of log group {}", r.name);
        match &want.kms_key_id {
            // Events already written keep the key they were written with.
            Some(key) => aws
                .logs
                .associate_kms_key()
                .log_group_name(&r.name)
                .kms_key_id(key)
                .send()
                .await
                .map(|_| ())
                .map_err(sdk(what))?,
            None => {
                aws.logs.disassociate_kms_key().log_group_name(&r.name).send().await.map(|_| ()).map_err(sdk(what))?
            }
        }
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

async fn delete(aws: &Aws, name: &str) -> Result<(), Error> {
    match aws
        .logs
        .delete_log_group()
        .log_group_name(name)
        .send()
        .await
        .map_err(sdk(format!("deleting log group {name}")))
    {
        Err(e) if !e.is(Meaning::NotFound) => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use agentctl_core::model::{addr, LogGroupSpec, Resource, Spec};
    use agentctl_core::plan::{Known, LiveResource};
    use aws_sdk_cloudwatchlogs::operation::associate_kms_key::AssociateKmsKeyOutput;
    use aws_sdk_cloudwatchlogs::operation::disassociate_kms_key::DisassociateKmsKeyOutput;
    use aws_smithy_mocks::{mock, mock_client};

    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn group(key: Option<&str>) -> (Resource, LiveResource) {
        let spec = |k: Option<&str>| {
            Spec::LogGroup(LogGroupSpec { retention_in_days: Some(30), kms_key_id: k.map(Into::into) })
        };
        let r = Resource {
            addr: addr::LOG_GROUP,
            name: "/ecs/x-agent".into(),
            tags: Default::default(),
            spec: spec(key),
            depends_on: vec![],
            ignore_changes: vec![],
            wait_for_steady_state: false,
        };
        let other = if key.is_some() { None } else { Some(KEY) };
        let live = LiveResource {
            id: r.name.clone(),
            outputs: Default::default(),
            tags: Default::default(),
            spec: spec(other),
            unreported: vec![],
        };
        (r, live)
    }

    #[tokio::test]
    async fn a_new_key_is_associated_with_the_log_group() {
        let associate = mock!(aws_sdk_cloudwatchlogs::Client::associate_kms_key)
            .match_requests(|r| r.log_group_name() == Some("/ecs/x-agent") && r.kms_key_id() == Some(KEY))
            .then_output(|| AssociateKmsKeyOutput::builder().build());
        let mut aws = crate::Aws::unreachable();
        aws.clients.logs = mock_client!(aws_sdk_cloudwatchlogs, [&associate]);
        let (want, live) = group(Some(KEY));
        crate::adapters::update(&aws, &want, &live, &Known::default()).await.unwrap();
        assert_eq!(associate.num_calls(), 1);
    }

    #[tokio::test]
    async fn no_key_disassociates_the_old_one() {
        let disassociate = mock!(aws_sdk_cloudwatchlogs::Client::disassociate_kms_key)
            .match_requests(|r| r.log_group_name() == Some("/ecs/x-agent"))
            .then_output(|| DisassociateKmsKeyOutput::builder().build());
        let mut aws = crate::Aws::unreachable();
        aws.clients.logs = mock_client!(aws_sdk_cloudwatchlogs, [&disassociate]);
        let (want, live) = group(None);
        crate::adapters::update(&aws, &want, &live, &Known::default()).await.unwrap();
        assert_eq!(disassociate.num_calls(), 1);
    }
}
