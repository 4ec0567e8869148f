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

/// "10m", "2h", "1d", "30s" → milliseconds; or an RFC 3339 UTC timestamp
/// ("2026-11-27T10:00:00Z") → milliseconds since the epoch (as `Err(abs)`).
pub fn parse_since(text: &str, now_ms: i64) -> Result<i64, String> {
    let t = text.trim();
    let unit = |c: char| match c {
        's' => Some(1_000),
        'm' => Some(60_000),
        'h' => Some(3_600_000),
        'd' => Some(86_400_000),
        _ => None,
    };
    if let Some(last) = t.chars().last() {
        if let (Some(mult), Ok(n)) = (unit(last), t[..t.len() - 1].parse::<i64>()) {
            return Ok(now_ms - n * mult);
        }
    }
    parse_rfc3339_utc(t)
        .ok_or_else(|| format!("`{text}` is neither a duration (10m, 2h, 1d) nor a UTC time (2026-11-27T10:00:00Z)"))
}

fn parse_rfc3339_utc(t: &str) -> Option<i64> {
    let t = t.strip_suffix('Z')?;
    let (date, time) = t.split_once('T')?;
    let d: Vec<i64> = date.split('-').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let h: Vec<i64> = time.split(':').map(|p| p.split('.').next().unwrap_or(p).parse().ok()).collect::<Option<_>>()?;
    if d.len() != 3 || h.len() != 3 {
        return None;
    }
    let (y, m, day) = (d[0], d[1], d[2]);
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + h[0] * 3600 + h[1] * 60 + h[2]) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_and_timestamps() {
        assert_eq!(parse_since("10m", 1_000_000), Ok(1_000_000 - 600_000));
        assert_eq!(parse_since("2h", 10_000_000), Ok(10_000_000 - 7_200_000));
        assert_eq!(parse_since("2026-11-27T12:00:00Z", 0), Ok(1_795_780_800_000));
        assert_eq!(parse_since("1970-01-01T00:00:10Z", 0), Ok(10_000));
        assert!(parse_since("yesterday", 0).is_err());
    }
}
