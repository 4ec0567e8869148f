//! IAM roles: their trust, inline policies and the managed policies the config lists.

use std::collections::BTreeMap;

use agentctl_core::model::{Address, KindSpec, Resource, RoleSpec, Spec};
use agentctl_core::names::Names;
use agentctl_core::plan::{Known, LiveResource};
use aws_sdk_iam::types::Tag;

use super::{outputs, tag_delta, Adapter, DeleteOptions, Outputs, ReadContext};
use crate::error::{sdk, Error, Meaning};
use crate::Aws;

/// IAM returns policy documents URL-encoded (RFC 3986); a document that is
/// not (some emulators) is taken as it is.
pub fn decode_policy(doc: &str) -> serde_json::Value {
    let decoded = percent_encoding::percent_decode_str(doc).decode_utf8_lossy();
    serde_json::from_str(&decoded)
        .or_else(|_| serde_json::from_str(doc))
        .unwrap_or(serde_json::Value::String(doc.to_owned()))
}

impl Adapter for RoleSpec {
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
    let what = format!("reading IAM role {name}");
    let (role, inline, attached) = tokio::join!(
        aws.iam.get_role().role_name(name).send(),
        aws.iam.list_role_policies().role_name(name).send(),
        aws.iam.list_attached_role_policies().role_name(name).send(),
    );
    let role = match role.map_err(sdk(&what)) {
        Ok(r) => r,
        Err(e) if e.is(Meaning::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(role) = role.role() else {
        return Ok(None);
    };
    let inline = inline.map_err(sdk(&what))?;
    let attached = attached.map_err(sdk(&what))?;
    let docs = futures::future::try_join_all(inline.policy_names().iter().map(|p| async move {
        let out = aws
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(p)
            .send()
            .await
            .map_err(sdk(format!("reading policy {p} of role {name}")))?;
        Ok::<_, Error>((p.clone(), decode_policy(out.policy_document())))
    }))
    .await?;
    let policies: BTreeMap<String, serde_json::Value> = docs.into_iter().collect();
    let mut managed_policy_arns: Vec<String> =
        attached.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_owned)).collect();
    managed_policy_arns.sort();
    let tags = role.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
    let spec = RoleSpec {
        description: role.description().unwrap_or_default().to_owned(),
        assume_role_policy: role.assume_role_policy_document().map(decode_policy).unwrap_or_default(),
        policies,
        managed_policy_arns,
    };
    Ok(Some(LiveResource {
        id: role.arn().to_owned(),
        outputs: outputs(&[("arn", role.arn()), ("name", name)]),
        tags,
        spec: Spec::IamRole(spec),
        unreported: vec![],
    }))
}

fn tags(map: &BTreeMap<String, String>) -> Vec<Tag> {
    map.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set")).collect()
}

async fn create(aws: &Aws, r: &Resource, s: &RoleSpec) -> Result<Outputs, Error> {
    let out = aws
        .iam
        .create_role()
        .role_name(&r.name)
        .assume_role_policy_document(s.assume_role_policy.to_string())
        .description(&s.description)
        .set_tags(Some(tags(&r.tags)))
        .send()
        .await
        .map_err(sdk(format!("creating IAM role {}", r.name)));
    let arn = match out {
        Ok(out) => out.role().map(|r| r.arn().to_owned()).unwrap_or_default(),
        // A retried create whose first attempt took effect: ours if it carries our tag.
        Err(e) if e.is(Meaning::AlreadyExists) => {
            let Some(existing) = read(aws, &r.name).await? else { return Err(e) };
            if existing.owner() != r.tags.get(agentctl_core::model::OWNERSHIP_TAG).map(String::as_str) {
                return Err(e);
            }
            existing.id
        }
        Err(e) => return Err(e),
    };
    for (policy, doc) in &s.policies {
        put_policy(aws, &r.name, policy, doc).await?;
    }
    for arn in &s.managed_policy_arns {
        attach_policy(aws, &r.name, arn).await?;
    }
    Ok(outputs(&[("arn", &arn), ("name", &r.name)]))
}

async fn attach_policy(aws: &Aws, role: &str, policy_arn: &str) -> Result<(), Error> {
    aws.iam
        .attach_role_policy()
        .role_name(role)
        .policy_arn(policy_arn)
        .send()
        .await
        .map_err(sdk(format!("attaching {policy_arn} to IAM role {role}")))?;
    Ok(())
}

async fn detach_policy(aws: &Aws, role: &str, policy_arn: &str) -> Result<(), Error> {
    let detached = aws
        .iam
        .detach_role_policy()
        .role_name(role)
        .policy_arn(policy_arn)
        .send()
        .await
        .map(|_| ())
        .map_err(sdk(format!("detaching {policy_arn} from IAM role {role}")));
    super::gone_ok(detached)
}

async fn put_policy(aws: &Aws, role: &str, policy: &str, doc: &serde_json::Value) -> Result<(), Error> {
    aws.iam
        .put_role_policy()
        .role_name(role)
        .policy_name(policy)
        .policy_document(doc.to_string())
        .send()
        .await
        .map_err(sdk(format!("writing policy {policy} of IAM role {role}")))?;
    Ok(())
}

async fn update(aws: &Aws, r: &Resource, want: &RoleSpec, have: &RoleSpec, l: &LiveResource) -> Result<Outputs, Error> {
    let name = &r.name;
    if want.assume_role_policy != have.assume_role_policy {
        aws.iam
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(want.assume_role_policy.to_string())
            .send()
            .await
            .map_err(sdk(format!("updating the trust policy of IAM role {name}")))?;
    }
    if want.description != have.description {
        aws.iam
            .update_role()
            .role_name(name)
            .description(&want.description)
            .send()
            .await
            .map_err(sdk(format!("updating IAM role {name}")))?;
    }
    for (policy, doc) in &want.policies {
        if have.policies.get(policy) != Some(doc) {
            put_policy(aws, name, policy, doc).await?;
        }
    }
    for policy in have.policies.keys().filter(|p| !want.policies.contains_key(*p)) {
        aws.iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(sdk(format!("removing policy {policy} from IAM role {name}")))?;
    }
    // agentctl owns the exact set: attach what the config lists, detach the rest.
    for arn in want.managed_policy_arns.iter().filter(|a| !have.managed_policy_arns.contains(a)) {
        attach_policy(aws, name, arn).await?;
    }
    for arn in have.managed_policy_arns.iter().filter(|a| !want.managed_policy_arns.contains(a)) {
        detach_policy(aws, name, arn).await?;
    }
    let (set, unset) = tag_delta(&l.tags, &r.tags);
    if !set.is_empty() {
        let t = set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("tag")).collect();
        aws.iam
            .tag_role()
            .role_name(name)
            .set_tags(Some(t))
            .send()
            .await
            .map_err(sdk(format!("tagging IAM role {name}")))?;
    }
    if !unset.is_empty() {
        aws.iam
            .untag_role()
            .role_name(name)
            .set_tag_keys(Some(unset))
            .send()
            .await
            .map_err(sdk(format!("untagging IAM role {name}")))?;
    }
    Ok(l.outputs.clone())
}

async fn delete(aws: &Aws, name: &str) -> Result<(), Error> {
    let inline = aws
        .iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(sdk(format!("listing policies of IAM role {name}")))?;
    for p in inline.policy_names() {
        aws.iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(p)
            .send()
            .await
            .map_err(sdk(format!("deleting policy {p} of IAM role {name}")))
            .map(|_| ())
            .or_else(|e| super::gone_ok(Err(e)))?;
    }
    let attached = aws
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(sdk(format!("listing policies of IAM role {name}")))?;
    for p in attached.attached_policies() {
        detach_policy(aws, name, p.policy_arn().unwrap_or_default()).await?;
    }
    aws.iam.delete_role().role_name(name).send().await.map_err(sdk(format!("deleting IAM role {name}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_url_encoded_policy() {
        let v = super::decode_policy("%7B%22Version%22%3A%222012-10-17%22%2C%22Sid%22%3A%22a+b%20c%22%7D");
        // RFC 3986: `+` is itself, a space is %20.
        assert_eq!(v, serde_json::json!({"Version": "2012-10-17", "Sid": "a+b c"}));
        assert_eq!(super::decode_policy("{\"a\":1}"), serde_json::json!({"a": 1}));
    }
}
