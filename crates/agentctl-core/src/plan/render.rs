//! Plan rendering: text for people, JSON for machines, from the same `Plan`.
//! Sensitive values are never rendered: they show as `(sensitive)`.

use std::fmt::Write;

use serde_json::{json, Value};

use super::{Action, Plan, ResourceChange, Shown};
use crate::model::Kind;

pub const SENSITIVE: &str = "(sensitive)";
pub const SENSITIVE_CHANGED: &str = "(sensitive value changed)";
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
        Action::NoChange => " ",
    }
}

fn verb(change: &ResourceChange) -> &'static str {
    match (change.action, change.addr.kind) {
        (Action::Create, _) => "create",
        (Action::Update, _) => "update in place",
        (Action::Replace, Kind::TaskDefinition) => "new revision",
        (Action::Replace, _) => "replace",
        (Action::Delete, _) => "delete",
        (Action::NoChange, _) => "no change",
    }
}

/// Sections in the order they print: (rank, title).
fn section(kind: Kind) -> (u8, &'static str) {
    match kind {
        Kind::Vpc | Kind::InternetGateway | Kind::Subnet | Kind::RouteTable | Kind::SecurityGroup | Kind::FlowLog => {
            (0, "Network")
        }
        Kind::Secret | Kind::IamRole => (1, "Credentials and access"),
        Kind::S3Bucket | Kind::LogGroup => (2, "Storage and logs"),
        Kind::EcsCluster | Kind::TaskDefinition | Kind::EcsService => (3, "ECS"),
        Kind::ScalableTarget | Kind::ScalingPolicy | Kind::ScheduledAction => (4, "Scaling"),
        Kind::Alarm | Kind::Dashboard => (5, "Alarms and dashboard"),
    }
}

fn shown_text(s: &Shown) -> String {
    match s {
        Shown::Sensitive => SENSITIVE.to_owned(),
        Shown::KnownAfterApply => KNOWN_AFTER_APPLY.to_owned(),
        Shown::Value(v) => value_text(v),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Object(_) | Value::Array(_) => serde_json::to_string_pretty(v).expect("json"),
        other => other.to_string(),
    }
}

fn shown_json(s: &Shown) -> Value {
    match s {
        Shown::Sensitive => json!(SENSITIVE),
        Shown::KnownAfterApply => json!(KNOWN_AFTER_APPLY),
        Shown::Value(v) => v.clone(),
    }
}

/// Indent continuation lines of a multi-line value under its key.
fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().enumerate().map(|(i, l)| if i == 0 { l.to_owned() } else { format!("\n{pad}{l}") }).collect()
}

pub struct TextOptions {
    /// Show every attribute of unchanged resources and created ones in full.
    pub verbose: bool,
}

pub fn text(plan: &Plan, opts: &TextOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Deployment \"{}\" in {}", plan.deployment, plan.region);
    if let Some(vpc) = &plan.existing.vpc_id {
        let _ = writeln!(out, "  uses existing VPC {vpc}");
    }
    if !plan.existing.subnet_ids.is_empty() {
        let _ = writeln!(out, "  uses existing subnets {}", plan.existing.subnet_ids.join(", "));
    }
    if !plan.existing.security_group_ids.is_empty() {
        let _ = writeln!(out, "  uses existing security groups {}", plan.existing.security_group_ids.join(", "));
    }
    let mut current_section = "";
    let mut changes: Vec<&ResourceChange> =
        plan.changes.iter().filter(|c| c.action != Action::NoChange || opts.verbose).collect();
    // Stable: within a section, dependency order stays.
    changes.sort_by_key(|c| section(c.addr.kind).0);
    for c in changes {
        let sec = section(c.addr.kind).1;
        if sec != current_section {
            let _ = writeln!(out, "\n{sec}");
            current_section = sec;
        }
        let _ = writeln!(out, "  {:<3} {:<28} {}  ({})", symbol(c.action), c.addr.to_string(), c.name, verb(c));
        match c.action {
            Action::Create => {
                for (k, v) in &c.attrs {
                    let _ = writeln!(out, "        {k:<26} = {}", indent(&shown_text(v), 37));
                }
            }
            Action::Update | Action::Replace => {
                for ch in &c.changes {
                    let before = ch.before.as_ref().map_or("(none)".into(), shown_text);
                    let after = ch.after.as_ref().map_or("(none)".into(), shown_text);
                    let tail = if ch.forces_replacement && c.addr.kind != Kind::TaskDefinition {
                        "   # forces replacement"
                    } else {
                        ""
                    };
                    if ch.before == Some(Shown::Sensitive) || ch.after == Some(Shown::Sensitive) {
                        let _ = writeln!(out, "        {:<26}   {SENSITIVE_CHANGED}{tail}", ch.path);
                    } else {
                        let _ = writeln!(
                            out,
                            "        {:<26}   {} -> {}{tail}",
                            ch.path,
                            indent(&before, 37),
                            indent(&after, 37)
                        );
                    }
                }
            }
            Action::NoChange => {
                for (k, v) in &c.attrs {
                    let _ = writeln!(out, "        {k:<26} = {}", indent(&shown_text(v), 37));
                }
            }
            Action::Delete => {
                if let Some(id) = &c.live_id {
                    let _ = writeln!(out, "        id = {id}");
                }
            }
        }
    }
    let _ = writeln!(out);
    if plan.has_changes() {
        let _ = writeln!(
            out,
            "Plan: {} to create, {} to update, {} to replace, {} to delete.",
            plan.count(Action::Create),
            plan.count(Action::Update),
            plan.count(Action::Replace),
            plan.count(Action::Delete)
        );
    } else {
        let _ = writeln!(out, "No changes. AWS matches the configuration.");
    }
    out
}

pub fn json(plan: &Plan) -> Value {
    let resources: Vec<Value> = plan
        .changes
        .iter()
        .map(|c| {
            let mut r = json!({
                "address": c.addr.to_string(),
                "kind": c.addr.kind.as_str(),
                "name": c.name,
                "action": c.action,
            });
            if let Some(id) = &c.live_id {
                r["id"] = json!(id);
            }
            if !c.attrs.is_empty() {
                r["attributes"] = Value::Object(c.attrs.iter().map(|(k, v)| (k.clone(), shown_json(v))).collect());
            }
            if !c.changes.is_empty() {
                r["changes"] = c
                    .changes
                    .iter()
                    .map(|ch| {
                        let sensitive = ch.before == Some(Shown::Sensitive) || ch.after == Some(Shown::Sensitive);
                        json!({
                            "attribute": ch.path,
                            "before": if sensitive { json!(SENSITIVE) } else { ch.before.as_ref().map_or(Value::Null, shown_json) },
                            "after": if sensitive { json!(SENSITIVE_CHANGED) } else { ch.after.as_ref().map_or(Value::Null, shown_json) },
                            "forces_replacement": ch.forces_replacement,
                        })
                    })
                    .collect();
            }
            if !c.depends_on.is_empty() {
                r["depends_on"] = c.depends_on.iter().map(|a| json!(a.to_string())).collect();
            }
            r
        })
        .collect();
    json!({
        "deployment": plan.deployment,
        "region": plan.region,
        "existing": plan.existing,
        "summary": {
            "create": plan.count(Action::Create),
            "update": plan.count(Action::Update),
            "replace": plan.count(Action::Replace),
            "delete": plan.count(Action::Delete),
            "no_change": plan.count(Action::NoChange),
        },
        "changes": plan.has_changes(),
        "resources": resources,
    })
}
