//! The agent's CloudWatch logs: one page of events, or a follow loop that polls
//! with backoff. Stream names are `agent/agent/<task id>`.

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;

use crate::error::{sdk, Error};
use crate::wait::Backoff;
use crate::Clients;

#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub task: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    pub message: String,
}

pub const STREAM_PREFIX: &str = "agent/agent/";

pub struct Query<'a> {
    pub group: &'a str,
    pub task: Option<&'a str>,
    /// Milliseconds since the Unix epoch: the CLI resolves `--since` to it.
    pub start_ms: i64,
    pub end_ms: Option<i64>,
}

/// Every event of the query, oldest first. `seen` drops events already shown
/// (the follow loop re-reads the last millisecond).
pub async fn fetch(aws: &Clients, q: &Query<'_>, seen: &mut HashSet<String>) -> Result<Vec<LogLine>, Error> {
    let pages: Vec<_> = aws
        .logs
        .filter_log_events()
        .log_group_name(q.group)
        .start_time(q.start_ms)
        .set_end_time(q.end_ms)
        .set_log_stream_name_prefix(q.task.map(|task| format!("{STREAM_PREFIX}{task}")))
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(sdk(format!("reading log group {}", q.group)))?;
    let mut out = Vec::new();
    for e in pages.iter().flat_map(|p| p.events()) {
        let stream = e.log_stream_name().unwrap_or_default();
        let task = stream.strip_prefix(STREAM_PREFIX).unwrap_or(stream);
        // Filter here too: not every implementation honours the prefix.
        if q.task.is_some_and(|t| !task.starts_with(t)) {
            continue;
        }
        let key = e
            .event_id()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{stream}/{}/{}", e.timestamp().unwrap_or(0), e.message().unwrap_or_default()));
        if !seen.insert(key) {
            continue;
        }
        out.push(LogLine {
            task: task.to_owned(),
            timestamp: e.timestamp().unwrap_or(0),
            message: e.message().unwrap_or_default().trim_end().to_owned(),
        });
    }
    out.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then(a.task.cmp(&b.task)));
    Ok(out)
}

/// Follows the log group: polls from the newest timestamp seen, with the
/// logs' backoff while nothing arrives. Runs until `emit` returns false.
pub async fn follow(aws: &Clients, mut q: Query<'_>, mut emit: impl FnMut(&LogLine) -> bool) -> Result<(), Error> {
    let mut seen = HashSet::new();
    // Until the user stops it: no limit.
    let mut pauses = Backoff::LOGS.within(Duration::MAX);
    loop {
        let lines = fetch(aws, &q, &mut seen).await?;
        for l in &lines {
            if !emit(l) {
                return Ok(());
            }
        }
        if let Some(last) = lines.last() {
            q.start_ms = last.timestamp;
            pauses.reset();
        }
        pauses.pause().await;
    }
}
