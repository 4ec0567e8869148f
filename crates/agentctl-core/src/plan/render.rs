//! Plan rendering: text for people, JSON for machines, from the same `Plan`.
//! Sensitive values are never rendered: they show as `(sensitive)`.

use serde_json::{json, Value};

use super::{Action, Plan, ResourceChange, Shown};
use crate::model::Kind;
use crate::text::{Table, Text};

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
        Kind::HttpNamespace | Kind::EcsCluster | Kind::TaskDefinition | Kind::EcsService => (3, "ECS"),
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

pub struct TextOptions {
    /// Show every attribute of unchanged resources and created ones in full.
    pub verbose: bool,
}

pub fn text(plan: &Plan, opts: &TextOptions) -> String {
    let mut out = Text::new();
    out.line(format_args!("Deployment \"{}\" in {}", plan.deployment, plan.region));
    if let Some(vpc) = &plan.existing.vpc_id {
        out.line(format_args!("  uses existing VPC {vpc}"));
    }
    if !plan.existing.subnet_ids.is_empty() {
        out.line(format_args!("  uses existing subnets {}", plan.existing.subnet_ids.join(", ")));
    }
    if !plan.existing.security_group_ids.is_empty() {
        out.line(format_args!("  uses existing security groups {}", plan.existing.security_group_ids.join(", ")));
    }
    let mut changes: Vec<&ResourceChange> =
        plan.changes.iter().filter(|c| c.action != Action::NoChange || opts.verbose).collect();
    // Stable: within a section, dependency order stays.
    changes.sort_by_key(|c| section(c.addr.kind).0);
    // One table for the resources of every section, so their columns line up.
    let mut resources = Table::new().indent(2);
    for c in &changes {
        resources.row([symbol(c.action).to_owned(), c.addr.to_string(), format!("{}  ({})", c.name, verb(c))]);
    }
    let mut current_section = "";
    for (c, line) in changes.iter().zip(resources.lines()) {
        let sec = section(c.addr.kind).1;
        if sec != current_section {
            out.blank().line(sec);
            current_section = sec;
        }
        out.line(line).push(&details(c));
    }
    out.blank();
    if plan.has_changes() {
        out.line(format_args!(
            "Plan: {} to create, {} to update, {} to replace, {} to delete.",
            plan.count(Action::Create),
            plan.count(Action::Update),
            plan.count(Action::Replace),
            plan.count(Action::Delete)
        ));
    } else {
        out.line("No changes. AWS matches the configuration.");
    }
    out.into()
}

/// The lines under a resource: its attributes, or what changes in them.
fn details(c: &ResourceChange) -> String {
    const INDENT: usize = 8;
    match c.action {
        Action::Create | Action::NoChange => {
            let mut attrs = Table::new().indent(INDENT).separator(" = ");
            for (k, v) in &c.attrs {
                attrs.row([k.clone(), shown_text(v)]);
            }
            attrs.render()
        }
        Action::Update | Action::Replace => {
            let mut changes = Table::new().indent(INDENT).separator("   ");
            for ch in &c.changes {
                let tail = if ch.forces_replacement && c.addr.kind != Kind::TaskDefinition {
                    "   # forces replacement"
                } else {
                    ""
                };
                let what = if ch.before == Some(Shown::Sensitive) || ch.after == Some(Shown::Sensitive) {
                    SENSITIVE_CHANGED.to_owned()
                } else {
                    let text = |s: &Option<Shown>| s.as_ref().map_or("(none)".into(), shown_text);
                    format!("{} -> {}", text(&ch.before), text(&ch.after))
                };
                changes.row([ch.path.clone(), format!("{what}{tail}")]);
            }
            changes.render()
        }
        Action::Delete => match &c.live_id {
            Some(id) => format!("{}id = {id}\n", " ".repeat(INDENT)),
            None => String::new(),
        },
    }
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
