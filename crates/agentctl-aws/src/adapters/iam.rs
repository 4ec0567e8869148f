//! IAM roles with inline policies only (no managed policy is attached).

use std::collections::BTreeMap;

use agentctl_core::model::{Resource, RoleSpec, Spec};
use agentctl_core::plan::LiveResource;
use aws_sdk_iam::types::Tag;

use super::{is_not_found, outputs, tag_delta, Outputs};
use crate::error::{sdk, Error};
use crate::Aws;

/// IAM returns policy documents URL-encoded.
fn decode(doc: &str) -> serde_json::Value {
    let bytes = doc.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    let text = String::from_utf8_lossy(&out);
    serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(doc))
        .unwrap_or(serde_json::Value::String(doc.to_owned()))
}

pub(crate) async fn read(aws: &Aws, name: &str) -> Result<Option<LiveResource>, Error> {
    let what = format!("reading IAM role {name}");
    let (role, inline, attached) = tokio::join!(
        aws.iam.get_role().role_name(name).send(),
        aws.iam.list_role_policies().role_name(name).send(),
        aws.iam.list_attached_role_policies().role_name(name).send(),
    );
    let role = match role.map_err(sdk(&what)) {
        Ok(r) => r,
        Err(e) if is_not_found(&e) => return Ok(None),
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
        Ok::<_, Error>((p.clone(), decode(out.policy_document())))
    }))
    .await?;
    let mut policies: BTreeMap<String, serde_json::Value> = docs.into_iter().collect();
    // Attached managed policies show up as drift, keyed by ARN.
    for p in attached.attached_policies() {
        policies.insert(format!("(managed) {}", p.policy_arn().unwrap_or_default()), serde_json::Value::Null);
    }
    let tags = role.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
    let spec = RoleSpec {
        description: role.description().unwrap_or_default().to_owned(),
        assume_role_policy: role.assume_role_policy_document().map(decode).unwrap_or_default(),
        policies,
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

fn spec(r: &Resource) -> &RoleSpec {
    match &r.spec {
        Spec::IamRole(s) => s,
        other => unreachable!("not a role: {other:?}"),
    }
}

pub(crate) async fn create(aws: &Aws, r: &Resource) -> Result<Outputs, Error> {
    let s = spec(r);
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
        Err(Error::Aws { message, .. }) if message.starts_with("EntityAlreadyExists") => {
            let existing = read(aws, &r.name)
                .await?
                .ok_or_else(|| Error::aws(format!("creating IAM role {}", r.name), message.clone()))?;
            if existing.owner() != r.tags.get(agentctl_core::model::OWNERSHIP_TAG).map(String::as_str) {
                return Err(Error::aws(format!("creating IAM role {}", r.name), message));
            }
            existing.id
        }
        Err(e) => return Err(e),
    };
    for (policy, doc) in &s.policies {
        put_policy(aws, &r.name, policy, doc).await?;
    }
    Ok(outputs(&[("arn", &arn), ("name", &r.name)]))
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

pub(crate) async fn update(aws: &Aws, r: &Resource, l: &LiveResource) -> Result<Outputs, Error> {
    let want = spec(r);
    let Spec::IamRole(have) = &l.spec else { unreachable!() };
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
        let what = format!("removing policy {policy} from IAM role {name}");
        match policy.strip_prefix("(managed) ") {
            Some(arn) => aws
                .iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(sdk(what))?,
            None => aws
                .iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .map(|_| ())
                .map_err(sdk(what))?,
        }
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

pub(crate) async fn delete(aws: &Aws, name: &str) -> Result<(), Error> {
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
        let arn = p.policy_arn().unwrap_or_default();
        aws.iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(sdk(format!("detaching {arn} from IAM role {name}")))?;
    }
    aws.iam.delete_role().role_name(name).send().await.map_err(sdk(format!("deleting IAM role {name}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_url_encoded_policy() {
        let v = super::decode("%7B%22Version%22%3A%222012-10-17%22%7D");
        assert_eq!(v, serde_json::json!({"Version": "2012-10-17"}));
        assert_eq!(super::decode("{\"a\":1}"), serde_json::json!({"a": 1}));
    }
}
