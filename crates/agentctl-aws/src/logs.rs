//! The agent's CloudWatch logs: one page of events, or a follow loop that polls
//! with backoff. Stream names are `agent/agent/<task id>`.

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;

use crate::error::{sdk, Error};
use crate::Aws;

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
pub async fn fetch(aws: &Aws, q: &Query<'_>, seen: &mut HashSet<String>) -> Result<Vec<LogLine>, Error> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let mut req = aws.logs.filter_log_events().log_group_name(q.group).start_time(q.start_ms).set_next_token(token);
        if let Some(end) = q.end_ms {
            req = req.end_time(end);
        }
        if let Some(task) = q.task {
            req = req.log_stream_name_prefix(format!("{STREAM_PREFIX}{task}"));
        }
        let page = req.send().await.map_err(sdk(format!("reading log group {}", q.group)))?;
        for e in page.events() {
            let stream = e.log_stream_name().unwrap_or_default();
            let task = stream.strip_prefix(STREAM_PREFIX).unwrap_or(stream);
            // Filter here too: not every implementation honours the prefix.
            if q.task.is_some_and(|t| !task.starts_with(t)) {
                continue;
            }
            let key = e.event_id().map(str::to_owned).unwrap_or_else(|| {
                format!("{stream}/{}/{}", e.timestamp().unwrap_or(0), e.message().unwrap_or_default())
            });
            if !seen.insert(key) {
                continue;
            }
            out.push(LogLine {
                task: task.to_owned(),
                timestamp: e.timestamp().unwrap_or(0),
                message: e.message().unwrap_or_default().trim_end().to_owned(),
            });
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() || page.events().is_empty() {
            break;
        }
    }
    out.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then(a.task.cmp(&b.task)));
    Ok(out)
}

/// Follows the log group: polls from the newest timestamp seen, backing off
/// from 1 s to 10 s while nothing arrives. Runs until `emit` returns false.
pub async fn follow(aws: &Aws, mut q: Query<'_>, mut emit: impl FnMut(&LogLine) -> bool) -> Result<(), Error> {
    let mut seen = HashSet::new();
    let mut delay = Duration::from_secs(1);
    loop {
        let lines = fetch(aws, &q, &mut seen).await?;
        for l in &lines {
            if !emit(l) {
                return Ok(());
            }
        }
        match lines.last() {
            Some(last) => {
                q.start_ms = last.timestamp;
                delay = Duration::from_secs(1);
            }
            None => delay = (delay * 2).min(Duration::from_secs(10)),
        }
        tokio::time::sleep(delay).await;
    }
}
