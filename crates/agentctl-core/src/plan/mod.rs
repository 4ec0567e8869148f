//! Plan: the difference between the desired stack and what AWS holds.
//!
//! `diff` is pure: the AWS side reads live state into `Live` (the same typed specs
//! the model uses) and this module decides create / update / replace / delete.

pub mod render;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::model::{Address, Attr, AttrValue, ExistingNetwork, Kind, Resource, Spec, Stack};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    NoChange,
}

/// A resource as it exists in AWS, read by an adapter.
#[derive(Debug, Clone)]
pub struct LiveResource {
    /// The id AWS knows it by (VPC id, ARN, name).
    pub id: String,
    /// Values dependents refer to: `id`, `arn`.
    pub outputs: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub spec: Spec,
    /// Attributes AWS did not report (an emulator may omit some); they are not
    /// compared rather than shown as changes forever.
    pub unreported: Vec<&'static str>,
}

impl LiveResource {
    pub fn owner(&self) -> Option<&str> {
        self.tags.get(crate::model::OWNERSHIP_TAG).map(String::as_str)
    }
}

/// Live state, by address. A resource found under our name is here whether or not
/// it carries our ownership tag; `diff` refuses foreign ones.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub resources: BTreeMap<Address, LiveResource>,
    /// Resources of ours no longer in the config, found by the adapters (address,
    /// name) with their live state, to be deleted.
    pub orphans: Vec<(Address, String, LiveResource)>,
    /// Untagged resources a killed run of this deployment had just created (its
    /// lock recorded them): ours, to be tagged, not foreign.
    pub adopted: std::collections::BTreeSet<Address>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Value(Value),
    Sensitive,
    /// The value depends on a resource not created yet.
    KnownAfterApply,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttrChange {
    /// Dotted path, e.g. `containers[0].image`.
    pub path: String,
    pub before: Option<Shown>,
    pub after: Option<Shown>,
    pub forces_replacement: bool,
}

#[derive(Debug, Clone)]
pub struct ResourceChange {
    pub addr: Address,
    pub name: String,
    pub action: Action,
    /// Everything the resource will have (create) or has (delete).
    pub attrs: Vec<(String, Shown)>,
    /// For update and replace: what changes.
    pub changes: Vec<AttrChange>,
    /// The live id, when the resource exists.
    pub live_id: Option<String>,
    pub depends_on: Vec<Address>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub deployment: String,
    pub region: String,
    pub changes: Vec<ResourceChange>,
    pub existing: ExistingNetwork,
}

impl Plan {
    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoChange)
    }
    pub fn get(&self, addr: Address) -> Option<&ResourceChange> {
        self.changes.iter().find(|c| c.addr == addr)
    }
}

/// A resource under our name that agentctl did not create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Foreign {
    pub address: String,
    pub kind: &'static str,
    pub name: String,
    pub id: String,
    /// The deployment named in its ownership tag, if any.
    pub owner: Option<String>,
}

/// Values of resources that exist and stay, for resolving `${addr.attr}`.
#[derive(Debug, Default, Clone)]
pub struct Known(HashMap<String, String>);

impl Known {
    pub fn insert(&mut self, addr: Address, attr: &str, value: String) {
        self.0.insert(format!("{addr}.{attr}"), value);
    }
    pub fn get(&self, addr: Address, attr: &str) -> Option<&str> {
        self.0.get(&format!("{addr}.{attr}")).map(String::as_str)
    }
    /// Substitutes every reference it knows; leaves the others in place.
    pub fn resolve_str(&self, s: &str) -> String {
        replace_references(s, |key| self.0.get(key).cloned())
    }
    pub fn resolve(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.resolve_str(s)),
            Value::Array(items) => Value::Array(items.iter().map(|i| self.resolve(i)).collect()),
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), self.resolve(v))).collect()),
            other => other.clone(),
        }
    }
}

/// The next model reference in `s` (`${kind.key.attr}`, see
/// `Address::reference`): where it starts, its length and its `kind.key.attr`.
/// Other `${...}` (a shell script's parameter expansions) are text.
fn next_reference(s: &str) -> Option<(usize, usize, &str)> {
    let mut from = 0;
    while let Some(found) = s[from..].find("${") {
        let start = from + found;
        let inner_start = start + 2;
        let len = s[inner_start..].find('}').map(|end| end + 3);
        if let Some(len) = len {
            let inner = &s[inner_start..start + len - 1];
            let parts: Vec<&str> = inner.split('.').collect();
            let is_part = |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c));
            if parts.len() == 3 && parts.iter().all(is_part) {
                return Some((start, len, inner));
            }
        }
        from = inner_start;
    }
    None
}

/// `s` with each model reference replaced by `with(kind.key.attr)`, or kept
/// where that gives nothing.
fn replace_references(s: &str, mut with: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some((start, len, key)) = next_reference(rest) {
        out.push_str(&rest[..start]);
        match with(key) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + len]),
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// True when a value still holds a reference to something not yet created.
pub fn has_unknown(v: &Value) -> bool {
    match v {
        Value::String(s) => next_reference(s).is_some(),
        Value::Array(items) => items.iter().any(has_unknown),
        Value::Object(m) => m.values().any(has_unknown),
        _ => false,
    }
}

fn shown(v: &AttrValue) -> Shown {
    match v {
        AttrValue::Sensitive(_) => Shown::Sensitive,
        AttrValue::Plain(v) if has_unknown(v) => Shown::KnownAfterApply,
        AttrValue::Plain(v) => Shown::Value(v.clone()),
    }
}

/// Replaces each unresolved reference inside a value by "(known after apply)".
fn mask_unknown(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(replace_references(s, |_| Some(render::KNOWN_AFTER_APPLY.to_owned()))),
        Value::Array(items) => Value::Array(items.iter().map(mask_unknown).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), mask_unknown(v))).collect()),
        other => other.clone(),
    }
}

/// Everything a resource will have, for create: a value that is wholly unknown
/// shows as known after apply, unknown parts of larger values inline — and tags
/// last.
fn all_attrs(resource: &Resource, known: &Known) -> Vec<(String, Shown)> {
    let mut out: Vec<(String, Shown)> = resource
        .spec
        .attrs()
        .into_iter()
        .map(|a| {
            let shown = match a.value {
                AttrValue::Sensitive(_) => Shown::Sensitive,
                AttrValue::Plain(v) => {
                    let v = known.resolve(&v);
                    let whole_ref =
                        matches!(&v, Value::String(s) if next_reference(s).is_some_and(|(at, len, _)| at == 0 && len == s.len()));
                    if whole_ref { Shown::KnownAfterApply } else { Shown::Value(mask_unknown(&v)) }
                }
            };
            (a.key, shown)
        })
        .collect();
    out.push(("tags".into(), Shown::Value(serde_json::to_value(&resource.tags).expect("tags serialize"))));
    out
}

/// The offline plan: nothing exists, everything is created.
pub fn plan_offline(stack: &Stack) -> Plan {
    let known = Known::default();
    let changes = stack
        .levels()
        .into_iter()
        .flatten()
        .map(|addr| {
            let r = stack.get(addr).expect("address from the stack");
            ResourceChange {
                addr,
                name: r.name.clone(),
                action: Action::Create,
                attrs: all_attrs(r, &known),
                changes: vec![],
                live_id: None,
                depends_on: r.depends_on.clone(),
            }
        })
        .collect();
    Plan {
        deployment: stack.deployment.clone(),
        region: stack.region.clone(),
        changes,
        existing: stack.existing.clone(),
    }
}

/// Compares the desired stack with live state.
pub fn diff(stack: &Stack, live: &Live) -> Result<Plan, Vec<Foreign>> {
    let foreign: Vec<Foreign> = live
        .resources
        .iter()
        .filter(|(addr, l)| {
            addr.kind.taggable() && l.owner() != Some(stack.deployment.as_str()) && !live.adopted.contains(addr)
        })
        .map(|(addr, l)| Foreign {
            address: addr.to_string(),
            kind: addr.kind.noun(),
            name: stack.get(*addr).map_or_else(|| l.id.clone(), |r| r.name.clone()),
            id: l.id.clone(),
            owner: l.owner().map(str::to_owned),
        })
        .collect();
    if !foreign.is_empty() {
        return Err(foreign);
    }
    let mut known = Known::default();
    let mut changes = Vec::new();
    for addr in stack.levels().into_iter().flatten() {
        let desired = stack.get(addr).expect("address from the stack");
        let Some(l) = live.resources.get(&addr) else {
            changes.push(ResourceChange {
                addr,
                name: desired.name.clone(),
                action: Action::Create,
                attrs: all_attrs(desired, &known),
                changes: vec![],
                live_id: None,
                depends_on: desired.depends_on.clone(),
            });
            continue;
        };
        let attr_changes = compare(desired, l, &known);
        let action = if attr_changes.iter().any(|c| c.forces_replacement) {
            Action::Replace
        } else if attr_changes.is_empty() {
            Action::NoChange
        } else {
            Action::Update
        };
        if action != Action::Replace {
            for (k, v) in &l.outputs {
                known.insert(addr, k, v.clone());
            }
        }
        changes.push(ResourceChange {
            addr,
            name: desired.name.clone(),
            action,
            attrs: all_attrs(desired, &known),
            changes: attr_changes,
            live_id: Some(l.id.clone()),
            depends_on: desired.depends_on.clone(),
        });
    }
    // Orphans go last, in reverse dependency order (dependents first).
    let mut orphans: Vec<&(Address, String, LiveResource)> = live.orphans.iter().collect();
    orphans.sort_by_key(|(addr, _, _)| std::cmp::Reverse(crate::model::depth(*addr)));
    for (addr, name, l) in orphans {
        changes.push(ResourceChange {
            addr: *addr,
            name: name.clone(),
            action: Action::Delete,
            attrs: vec![],
            changes: vec![],
            live_id: Some(l.id.clone()),
            depends_on: vec![],
        });
    }
    Ok(Plan {
        deployment: stack.deployment.clone(),
        region: stack.region.clone(),
        changes,
        existing: stack.existing.clone(),
    })
}

/// Order carries no meaning in any list of the model (subnets, statements,
/// mount points, ...): compare lists as sorted.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalize).collect();
            items.sort_by_cached_key(|i| i.to_string());
            Value::Array(items)
        }
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), normalize(v))).collect()),
        other => other.clone(),
    }
}

fn compare(desired: &Resource, live: &LiveResource, known: &Known) -> Vec<AttrChange> {
    let live_attrs: HashMap<String, Attr> = live.spec.attrs().into_iter().map(|a| (a.key.clone(), a)).collect();
    let mut out = Vec::new();
    let skipped = |key: &str| live.unreported.contains(&key) || desired.ignore_changes.contains(&key);
    for a in desired.spec.attrs().into_iter().filter(|a| !skipped(&a.key)) {
        let before = live_attrs.get(&a.key).map(|l| &l.value);
        match (&a.value, before) {
            (AttrValue::Sensitive(want), Some(AttrValue::Sensitive(have))) => {
                if want != have {
                    out.push(AttrChange {
                        path: a.key,
                        before: Some(Shown::Sensitive),
                        after: Some(Shown::Sensitive),
                        forces_replacement: a.forces_replacement,
                    });
                }
            }
            (AttrValue::Plain(want), Some(AttrValue::Plain(have))) => {
                let want = normalize(&known.resolve(want));
                // An internet gateway a killed run created but did not attach has
                // no VPC: attaching it is an update, not a new gateway.
                let unattached = desired.addr.kind == Kind::InternetGateway && a.key == "vpc_id" && *have == "";
                let replace = a.forces_replacement && !unattached;
                json_diff(&a.key, &normalize(have), &want, replace, &mut out);
            }
            (value, _) => out.push(AttrChange {
                path: a.key,
                before: None,
                after: Some(shown(value)),
                forces_replacement: a.forces_replacement,
            }),
        }
    }
    if desired.tags != live.tags {
        let have = serde_json::to_value(&live.tags).expect("tags serialize");
        let want = serde_json::to_value(&desired.tags).expect("tags serialize");
        json_diff("tags", &have, &want, false, &mut out);
    }
    out
}

/// Leaf-level differences, so a plan shows `containers[0].image`, not a whole blob.
fn json_diff(path: &str, before: &Value, after: &Value, replace: bool, out: &mut Vec<AttrChange>) {
    let as_shown = |v: &Value| {
        if has_unknown(v) {
            Shown::KnownAfterApply
        } else {
            Shown::Value(v.clone())
        }
    };
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (b.get(k), a.get(k)) {
                    (Some(bv), Some(av)) => json_diff(&p, bv, av, replace, out),
                    (bv, av) => out.push(AttrChange {
                        path: p,
                        before: bv.map(as_shown),
                        after: av.map(as_shown),
                        forces_replacement: replace,
                    }),
                }
            }
        }
        (Value::Array(b), Value::Array(a))
            if b.len() == a.len() && !b.is_empty() && a.iter().all(|v| v.is_object()) =>
        {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                json_diff(&format!("{path}[{i}]"), bv, av, replace, out);
            }
        }
        (b, a) if b != a || has_unknown(a) => out.push(AttrChange {
            path: path.to_owned(),
            before: Some(as_shown(b)),
            after: Some(as_shown(a)),
            forces_replacement: replace,
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_model_references_are_references() {
        let mut known = Known::default();
        known.insert(crate::model::addr::SECRET, "arn", "arn:secret".into());
        let shell = "n=${GUARD_INTERVAL_SECONDS:-15}; v=${line##*\\}}; t=$((${total:-0} + v))";
        assert_eq!(known.resolve_str(shell), shell);
        assert!(!has_unknown(&Value::String(shell.into())));
        let mixed = format!("{shell} ${{secret.credentials.arn}}:client_id:: ${{subnet.a.id}}");
        assert_eq!(known.resolve_str(&mixed), format!("{shell} arn:secret:client_id:: ${{subnet.a.id}}"));
        assert!(has_unknown(&Value::String(known.resolve_str(&mixed))));
        assert_eq!(
            mask_unknown(&Value::String("x ${subnet.a.id} ${HOME}".into())),
            Value::String(format!("x {} ${{HOME}}", render::KNOWN_AFTER_APPLY))
        );
    }
}
