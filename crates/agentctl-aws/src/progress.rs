//! Progress events: what the executor reports while it works. The CLI decides how
//! they look (spinners, lines or JSON).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Create,
    Update,
    Replace,
    Delete,
}

impl Op {
    fn ing(self) -> &'static str {
        match self {
            Op::Create => "creating",
            Op::Update => "updating",
            Op::Replace => "replacing",
            Op::Delete => "deleting",
        }
    }
    fn ed(self) -> &'static str {
        match self {
            Op::Create => "created",
            Op::Update => "updated",
            Op::Replace => "replaced",
            Op::Delete => "deleted",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Started {
        address: String,
        name: String,
        op: Op,
    },
    Waiting {
        address: String,
        name: String,
        op: Op,
        reason: String,
    },
    Finished {
        address: String,
        name: String,
        op: Op,
        id: Option<String>,
        seconds: f64,
    },
    Failed {
        address: String,
        name: String,
        op: Op,
        error: String,
    },
    NotStarted {
        address: String,
        name: String,
        op: Op,
    },
    Message {
        text: String,
    },
    /// Counts of the deployment being watched.
    Rollout {
        deployment: String,
        desired: i32,
        pending: i32,
        running: i32,
        failed: i32,
        others: Vec<String>,
    },
    /// A new ECS service event.
    ServiceEvent {
        message: String,
    },
}

impl Event {
    pub fn line(&self) -> String {
        match self {
            Event::Started { address, name, op } => format!("{} {address} ({name})", op.ing()),
            Event::Waiting { address, name, op, reason } => format!("{} {address} ({name}): {reason}", op.ing()),
            Event::Finished { address, name, op, id, seconds } => match id {
                Some(id) if id != name => {
                    format!("{} {address} ({name}) in {seconds:.1}s: {id}", op.ed())
                }
                _ => format!("{} {address} ({name}) in {seconds:.1}s", op.ed()),
            },
            Event::Failed { address, name, op, error } => format!("failed {} {address} ({name}): {error}", op.ing()),
            Event::NotStarted { address, name, op } => {
                format!("not started: {} {address} ({name})", op.ing())
            }
            Event::Message { text } => text.clone(),
            Event::Rollout { deployment, desired, pending, running, failed, others } => {
                let mut line = format!("deployment {deployment}: {running}/{desired} running, {pending} pending");
                if *failed > 0 {
                    line.push_str(&format!(", {failed} failed"));
                }
                for o in others {
                    line.push_str(&format!("; {o}"));
                }
                line
            }
            Event::ServiceEvent { message } => format!("event: {message}"),
        }
    }

    /// The resource a live view keeps one line for.
    pub fn resource_key(&self) -> Option<String> {
        match self {
            Event::Started { address, .. }
            | Event::Waiting { address, .. }
            | Event::Finished { address, .. }
            | Event::Failed { address, .. }
            | Event::NotStarted { address, .. } => Some(address.clone()),
            Event::Rollout { .. } => Some("rollout".into()),
            Event::Message { .. } | Event::ServiceEvent { .. } => None,
        }
    }

    /// `Some(true)` finished, `Some(false)` failed, `None` still going.
    pub fn outcome(&self) -> Option<bool> {
        match self {
            Event::Finished { .. } => Some(true),
            Event::Failed { .. } | Event::NotStarted { .. } => Some(false),
            _ => None,
        }
    }
}

pub trait Progress: Send + Sync {
    fn event(&self, event: &Event);
}

/// Discards events (tests, and commands that do not show progress).
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _: &Event) {}
}
