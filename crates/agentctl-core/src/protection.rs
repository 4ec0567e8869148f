//! Task scale-in protection, as the guard sidecar sets it: what its log says
//! about running pipelines, and why a rollout or a scale-in waits for a task.
//!
//! Pure: the AWS side reads GetTaskProtection and the guard's log stream.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A task's scale-in protection, as ECS reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Protection {
    pub protected: bool,
    /// When the protection expires (seconds since the epoch).
    pub expires_at: Option<i64>,
}

/// The guard's latest count of running pipelines, from its log lines (oldest
/// first). Each line that counts starts "N pipelines running" (see guard.sh).
pub fn pipelines_from_guard_log<S: AsRef<str>>(lines: &[S]) -> Option<u32> {
    lines.iter().rev().find_map(|line| {
        let (count, rest) = line.as_ref().trim().split_once(' ')?;
        rest.starts_with("pipelines running").then(|| count.parse().ok()).flatten()
    })
}

/// What to run when protected tasks hold up a rollout that cannot wait.
pub const UNPROTECT_HINT: &str = "`agentctl unprotect` lets them go now";

/// A task that stays because it is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldTask {
    pub id: String,
    pub expires_at: Option<i64>,
    /// As the guard last logged it; `None` when it has not.
    pub pipelines: Option<u32>,
}

/// Why tasks that ECS is to stop still run, as one line: "2 old tasks still
/// run 5 pipelines; ECS stops them when they finish (protected until 14:05
/// UTC)". `old`: they belong to an earlier deployment (a rollout), rather than
/// being scaled in.
pub fn held_message(held: &[HeldTask], old: bool, now: i64) -> Option<String> {
    let n = held.len();
    if n == 0 {
        return None;
    }
    let what = format!("{n}{} task{}", if old { " old" } else { "" }, plural(n));
    let (it, them) = if n == 1 { ("it", "runs") } else { ("them", "run") };
    let known: Vec<u32> = held.iter().filter_map(|t| t.pipelines).collect();
    let doing = if known.len() == n {
        let total: u32 = known.iter().sum();
        format!("{what} still {them} {total} pipeline{}", plural(total as usize))
    } else {
        format!(
            "{what} {} protected while {} pipelines run",
            if n == 1 { "is" } else { "are" },
            if n == 1 { "its" } else { "their" }
        )
    };
    let until =
        held.iter().filter_map(|t| t.expires_at).max().map(|at| format!(" (protected until {})", until(at, now)));
    Some(format!("{doing}; ECS stops {it} when they finish{}", until.unwrap_or_default()))
}

/// "14:05 UTC" today, "2026-12-01 14:05 UTC" another day.
pub fn until(at: i64, now: i64) -> String {
    let (Some(at), Some(now)) = (DateTime::<Utc>::from_timestamp(at, 0), DateTime::<Utc>::from_timestamp(now, 0))
    else {
        return at.to_string();
    };
    if at.date_naive() == now.date_naive() {
        at.format("%H:%M UTC").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_040_000; // 2026-11-30 12:00 UTC
    const AT_1405: i64 = NOW + 2 * 3600 + 5 * 60;

    fn held(id: &str, pipelines: Option<u32>, expires_at: Option<i64>) -> HeldTask {
        HeldTask { id: id.into(), expires_at, pipelines }
    }

    #[test]
    fn the_guards_latest_count_wins() {
        let log = [
            "0 pipelines running",
            "3 pipelines running: task protected for 60 minutes",
            "cannot read running pipelines from http://localhost:8080/actuator/prometheus: protection left as it is",
            "5 pipelines running",
            "ECS refused to turn protection on (HTTP 403): ...",
        ];
        assert_eq!(pipelines_from_guard_log(&log), Some(5));
        assert_eq!(pipelines_from_guard_log(&["0 pipelines running: protection released"]), Some(0));
        assert_eq!(pipelines_from_guard_log::<&str>(&[]), None);
        assert_eq!(pipelines_from_guard_log(&["ECS_AGENT_URI is not set (not an ECS task): nothing to protect"]), None);
    }

    #[test]
    fn held_tasks_say_how_many_pipelines_keep_them_and_until_when() {
        let two = [held("a", Some(3), Some(AT_1405 - 600)), held("b", Some(2), Some(AT_1405))];
        assert_eq!(
            held_message(&two, true, NOW).unwrap(),
            "2 old tasks still run 5 pipelines; ECS stops them when they finish (protected until 14:05 UTC)"
        );
        assert_eq!(
            held_message(&[held("a", Some(1), Some(AT_1405))], false, NOW).unwrap(),
            "1 task still runs 1 pipeline; ECS stops it when they finish (protected until 14:05 UTC)"
        );
        // The guard has not logged a count (metrics unreadable): no number made up.
        assert_eq!(
            held_message(&[held("a", Some(1), None), held("b", None, None)], true, NOW).unwrap(),
            "2 old tasks are protected while their pipelines run; ECS stops them when they finish"
        );
        assert_eq!(held_message(&[], true, NOW), None);
        assert_eq!(until(AT_1405 + 86_400, NOW), "2026-12-01 14:05 UTC");
    }
}
