//! When a scheduled action next runs: Application Auto Scaling's cron, rate
//! and at expressions, in the action's time zone.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// The time zone, when `name` is one AWS (and the IANA database) knows.
pub fn time_zone(name: &str) -> Option<Tz> {
    name.parse().ok()
}

/// One cron field as the set of values it allows; `None` for forms this does
/// not evaluate (L, W, #), so no time is promised that may be wrong.
fn field(spec: &str, lo: u32, hi: u32, names: &[&str]) -> Option<Vec<bool>> {
    let mut allowed = vec![false; (hi + 1) as usize];
    let value = |t: &str| -> Option<u32> {
        t.parse().ok().or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(t)).map(|i| i as u32 + lo))
    };
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (part, 1),
        };
        let (a, b) = match range {
            "*" | "?" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if step > 1 => (value(r)?, hi),
                None => (value(r)?, value(r)?),
            },
        };
        if a < lo || b > hi || a > b {
            return None;
        }
        for v in (a..=b).step_by(step as usize) {
            allowed[v as usize] = true;
        }
    }
    Some(allowed)
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The first time after `now` the expression fires; `None` when it never
/// does again, or for expressions whose next run depends on when they were
/// created (`rate`).
pub fn next_run(expr: &str, tz_name: Option<&str>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let tz: Tz = match tz_name {
        Some(n) => time_zone(n)?,
        None => Tz::UTC,
    };
    if let Some(at) = expr.strip_prefix("at(").and_then(|r| r.strip_suffix(')')) {
        let local = NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S").ok()?;
        let t = tz.from_local_datetime(&local).earliest()?.with_timezone(&Utc);
        return (t > now).then_some(t);
    }
    let body = expr.strip_prefix("cron(")?.strip_suffix(')')?;
    let f: Vec<&str> = body.split_whitespace().collect();
    if f.len() != 6 {
        return None;
    }
    let minutes = field(f[0], 0, 59, &[])?;
    let hours = field(f[1], 0, 23, &[])?;
    let doms = field(f[2], 1, 31, &[])?;
    let months = field(f[3], 1, 12, &MONTHS)?;
    let dows = field(f[4], 1, 7, &DAYS)?; // 1 = Sunday
    let years = field(f[5], 1970, 2199, &[])?;
    let dom_any = f[2] == "?" || f[2] == "*";
    let dow_any = f[4] == "?" || f[4] == "*";
    let start = now + Duration::minutes(1);
    let mut t = start.with_second(0)?.with_nanosecond(0)?;
    // A year of minutes at most: every valid cron fires within one.
    for _ in 0..(366 * 24 * 60) {
        let l = t.with_timezone(&tz);
        let dow = l.weekday().num_days_from_sunday() + 1;
        let day_ok = match (dom_any, dow_any) {
            (true, true) => true,
            (false, true) => doms[l.day() as usize],
            (true, false) => dows[dow as usize],
            (false, false) => doms[l.day() as usize] || dows[dow as usize],
        };
        if minutes[l.minute() as usize]
            && hours[l.hour() as usize]
            && months[l.month() as usize]
            && day_ok
            && l.year() >= 1970
            && l.year() <= 2199
            && years[l.year() as usize]
        {
            return Some(t);
        }
        t += Duration::minutes(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn weekday_evenings_in_london() {
        // Friday 2026-11-27 12:09 UTC; London is on GMT (UTC+0) in November.
        let now = at("2026-11-27T12:09:00Z");
        assert_eq!(next_run("cron(0 20 ? * MON-FRI *)", Some("Europe/London"), now), Some(at("2026-11-27T20:00:00Z")));
        // After Friday 20:00 the next weekday is Monday.
        let late = at("2026-11-27T21:00:00Z");
        assert_eq!(next_run("cron(0 7 ? * MON-FRI *)", Some("Europe/London"), late), Some(at("2026-11-30T07:00:00Z")));
        // New York is UTC-5 in November.
        assert_eq!(
            next_run("cron(0 7 ? * MON-FRI *)", Some("America/New_York"), late),
            Some(at("2026-11-30T12:00:00Z"))
        );
    }

    #[test]
    fn steps_lists_names_and_one_shots() {
        let now = at("2026-11-27T12:09:00Z");
        assert_eq!(next_run("cron(*/15 * * * ? *)", None, now), Some(at("2026-11-27T12:15:00Z")));
        assert_eq!(next_run("cron(0 9 1 JAN,JUL ? *)", None, now), Some(at("2027-01-01T09:00:00Z")));
        assert_eq!(next_run("at(2026-12-24T18:00:00)", None, now), Some(at("2026-12-24T18:00:00Z")));
        assert_eq!(next_run("at(2020-01-01T00:00:00)", None, now), None, "in the past");
        assert_eq!(next_run("rate(1 day)", None, now), None, "depends on when it was created");
        assert_eq!(next_run("cron(0 9 L * ? *)", None, now), None, "not evaluated, not guessed");
        assert_eq!(next_run("cron(0 9 ? * MON *)", Some("Mars/Olympus"), now), None);
    }
}
