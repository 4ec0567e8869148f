//! The object-typed variables of agentctl's own: autoscaling, schedules,
//! capacity, alarms. Each field is checked with its own span.

use super::value::{ByteSpan, Spanned, Value};
use super::{Alarms, Autoscaling, Capacity, Schedule};
use crate::diagnostics::Diagnostic;

/// Fields of one HCL object, read with type checks and unknown-field errors.
pub(crate) struct Fields<'a> {
    var: &'a str,
    fields: &'a [(String, Spanned)],
    span: ByteSpan,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Fields<'a> {
    /// `None` (with a diagnostic) when `v` is not an object.
    pub fn new(var: &'a str, v: &'a Spanned, known: &[&str]) -> Result<Fields<'a>, Diagnostic> {
        let Value::Object(fields) = &v.value else {
            return Err(Diagnostic::error(format!(
                "`{var}` must be an object {{ ... }}, found {}",
                v.value.type_name()
            ))
            .at(v.span.clone())
            .help(format!("write it as `{var} = {{ {} = ... }}`", known[0])));
        };
        let mut diags = Vec::new();
        for (name, value) in fields {
            if !known.contains(&name.as_str()) {
                let suggestion = known
                    .iter()
                    .map(|k| (*k, strsim::jaro_winkler(name, k)))
                    .filter(|(_, s)| *s > 0.8)
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                diags.push(
                    Diagnostic::error(format!("`{var}` has no field `{name}`"))
                        .at(value.span.clone())
                        .label("unknown field")
                        .help(match suggestion {
                            Some((s, _)) => format!("did you mean `{s}`?"),
                            None => format!("its fields are: {}", known.join(", ")),
                        }),
                );
            }
        }
        Ok(Fields { var, fields, span: v.span.clone(), diags })
    }

    fn get(&self, name: &str) -> Option<&'a Spanned> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v).filter(|v| v.value != Value::Null)
    }

    pub fn span_of(&self, name: &str) -> ByteSpan {
        self.get(name).and_then(|v| v.span.clone()).or(self.span.clone())
    }

    fn wrong(&mut self, name: &str, expected: &str, v: &Spanned) {
        self.diags.push(
            Diagnostic::error(format!("`{}.{name}` must be a {expected}, found {}", self.var, v.value.type_name()))
                .at(v.span.clone())
                .label(format!("expected {expected}")),
        );
    }

    pub fn number(&mut self, name: &str, range: std::ops::RangeInclusive<f64>) -> Option<f64> {
        let v = self.get(name)?;
        let n = match &v.value {
            Value::Number(n) => *n,
            Value::String(s) if s.trim().parse::<f64>().is_ok() => s.trim().parse().ok()?,
            _ => {
                self.wrong(name, "number", v);
                return None;
            }
        };
        if !range.contains(&n) {
            self.diags.push(
                Diagnostic::error(format!(
                    "`{}.{name}` = {n} is out of range: from {} to {}",
                    self.var,
                    range.start(),
                    range.end()
                ))
                .at(v.span.clone())
                .label("out of range")
                .help(format!("set `{name}` between {} and {}", range.start(), range.end())),
            );
            return None;
        }
        Some(n)
    }

    pub fn whole(&mut self, name: &str, range: std::ops::RangeInclusive<u32>) -> Option<u32> {
        let n = self.number(name, f64::from(*range.start())..=f64::from(*range.end()))?;
        if n.fract() != 0.0 {
            let span = self.span_of(name);
            self.diags.push(Diagnostic::error(format!("`{}.{name}` must be a whole number", self.var)).at(span));
            return None;
        }
        Some(n as u32)
    }

    pub fn string(&mut self, name: &str) -> Option<String> {
        let v = self.get(name)?;
        match &v.value {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.wrong(name, "string", v);
                None
            }
        }
    }

    pub fn bool(&mut self, name: &str, default: bool) -> bool {
        let Some(v) = self.get(name) else { return default };
        match &v.value {
            Value::Bool(b) => *b,
            _ => {
                self.wrong(name, "bool", v);
                default
            }
        }
    }

    pub fn strings(&mut self, name: &str) -> Vec<(String, ByteSpan)> {
        let Some(v) = self.get(name) else { return vec![] };
        match &v.value {
            Value::List(items) => items
                .iter()
                .filter_map(|i| match &i.value {
                    Value::String(s) => Some((s.clone(), i.span.clone())),
                    _ => {
                        self.wrong(name, "list(string)", i);
                        None
                    }
                })
                .collect(),
            _ => {
                self.wrong(name, "list(string)", v);
                vec![]
            }
        }
    }

    pub fn require(&mut self, name: &str) -> bool {
        if self.get(name).is_some() {
            return true;
        }
        self.diags.push(
            Diagnostic::error(format!("`{}` needs `{name}`", self.var))
                .at(self.span.clone())
                .help(format!("add `{name} = ...` to `{}`", self.var)),
        );
        false
    }

    pub fn error(&mut self, name: &str, message: String, help: String) {
        let span = self.span_of(name);
        self.diags.push(Diagnostic::error(message).at(span).help(help));
    }
}

/// An agent runs at most this many pipeline tasks at once.
pub const AGENT_TASK_CAP: f64 = 20.0;

pub(crate) fn autoscaling(v: &Spanned, desired: u32, diags: &mut Vec<Diagnostic>) -> Option<Autoscaling> {
    let known =
        ["min", "max", "cpu_target", "memory_target", "active_tasks_target", "scale_in_cooldown", "scale_out_cooldown"];
    let mut f = match Fields::new("autoscaling", v, &known) {
        Ok(f) => f,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let (has_min, has_max) = (f.require("min"), f.require("max"));
    let min = f.whole("min", 0..=5000);
    let max = f.whole("max", 1..=5000);
    let cpu_target = f.number("cpu_target", 1.0..=100.0);
    let memory_target = f.number("memory_target", 1.0..=100.0);
    let active_tasks_target = f.number("active_tasks_target", 0.1..=AGENT_TASK_CAP);
    if active_tasks_target == Some(AGENT_TASK_CAP) {
        f.error(
            "active_tasks_target",
            "`autoscaling.active_tasks_target` = 20 is the agent's hard cap: at the target every agent is full and new pipelines queue".into(),
            "target below the cap so autoscaling adds agents before they fill up: 15 to 17 is usual, 16 a good default".into(),
        );
    }
    let scale_in_cooldown = f.whole("scale_in_cooldown", 0..=86_400).unwrap_or(300);
    let scale_out_cooldown = f.whole("scale_out_cooldown", 0..=86_400).unwrap_or(60);
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            f.error(
                "min",
                format!("`autoscaling.min` = {lo} is above `autoscaling.max` = {hi}"),
                "make min ≤ max".into(),
            );
        } else if desired < lo || desired > hi {
            f.error(
                "min",
                format!("`desired_count` = {desired} is outside the autoscaling range {lo}..{hi}"),
                format!("set desired_count between {lo} and {hi}: it is the count the service starts with"),
            );
        }
    }
    diags.append(&mut f.diags);
    if !(has_min && has_max) {
        return None;
    }
    Some(Autoscaling {
        min: min?,
        max: max?,
        cpu_target,
        memory_target,
        active_tasks_target,
        scale_in_cooldown,
        scale_out_cooldown,
    })
}

/// `cron(m h dom mon dow year)`, `rate(N unit)` or `at(yyyy-mm-ddThh:mm:ss)`.
pub fn check_schedule_expression(expr: &str) -> Result<(), String> {
    let inner = |prefix: &str| expr.strip_prefix(prefix).and_then(|r| r.strip_suffix(')'));
    if let Some(body) = inner("cron(") {
        let fields: Vec<&str> = body.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!(
                "a cron expression has 6 fields (minute hour day-of-month month day-of-week year), this one has {}",
                fields.len()
            ));
        }
        let ok = |f: &str, extra: &str| {
            !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || ",-*/".contains(c) || extra.contains(c))
        };
        let names = ["minute", "hour", "day-of-month", "month", "day-of-week", "year"];
        for (i, f) in fields.iter().enumerate() {
            let extra = match i {
                2 => "?LW",
                4 => "?L#",
                _ => "",
            };
            if !ok(f, extra) {
                return Err(format!("the {} field `{f}` has characters cron does not take", names[i]));
            }
        }
        if (fields[2] == "?") == (fields[4] == "?") {
            return Err(
                "exactly one of day-of-month and day-of-week must be `?` (e.g. cron(0 20 ? * MON-FRI *))".into()
            );
        }
        let range = |f: &str, lo: u32, hi: u32| {
            f.split([',', '-', '/'])
                .filter(|p| !p.is_empty() && *p != "*")
                .all(|p| p.parse::<u32>().map_or(true, |n| n >= lo && n <= hi))
        };
        if !range(fields[0], 0, 59) {
            return Err(format!("minute `{}` must be 0-59", fields[0]));
        }
        if !range(fields[1], 0, 23) {
            return Err(format!("hour `{}` must be 0-23", fields[1]));
        }
        return Ok(());
    }
    if let Some(body) = inner("rate(") {
        let mut parts = body.split_whitespace();
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err("a rate expression is `rate(N unit)`, e.g. rate(12 hours)".into());
        };
        let n: u32 = n.parse().map_err(|_| format!("`{n}` is not a positive whole number"))?;
        let singular = n == 1;
        let valid = if singular {
            ["minute", "hour", "day"].contains(&unit)
        } else {
            ["minutes", "hours", "days"].contains(&unit)
        };
        if n == 0 || !valid {
            return Err(format!(
                "`{n} {unit}`: use a positive number with minute(s), hour(s) or day(s) (singular for 1)"
            ));
        }
        return Ok(());
    }
    if let Some(body) = inner("at(") {
        let shape = body.len() == 19
            && body.as_bytes()[10] == b'T'
            && body.chars().enumerate().all(|(i, c)| match i {
                4 | 7 => c == '-',
                10 => c == 'T',
                13 | 16 => c == ':',
                _ => c.is_ascii_digit(),
            });
        return if shape { Ok(()) } else { Err("an at expression is `at(yyyy-mm-ddThh:mm:ss)`".into()) };
    }
    Err("use cron(...), rate(...) or at(...)".into())
}

pub(crate) fn schedules(v: &Spanned, autoscaling: Option<&Autoscaling>, diags: &mut Vec<Diagnostic>) -> Vec<Schedule> {
    let Value::List(items) = &v.value else {
        diags.push(
            Diagnostic::error(format!("`schedules` must be a list of objects, found {}", v.value.type_name()))
                .at(v.span.clone()),
        );
        return vec![];
    };
    if !items.is_empty() && autoscaling.is_none() {
        diags.push(
            Diagnostic::error("`schedules` change autoscaling bounds, but `autoscaling` is not set")
                .at(v.span.clone())
                .help("add `autoscaling = { min = ..., max = ... }`"),
        );
    }
    let mut out: Vec<Schedule> = Vec::new();
    for item in items {
        let mut f = match Fields::new("schedules[]", item, &["name", "schedule", "timezone", "min", "max"]) {
            Ok(f) => f,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let (has_name, has_schedule) = (f.require("name"), f.require("schedule"));
        let name = f.string("name");
        let schedule = f.string("schedule");
        let timezone = f.string("timezone");
        let min = f.whole("min", 0..=5000);
        let max = f.whole("max", 0..=5000);
        if let Some(n) = &name {
            if n.is_empty() || n.len() > 200 || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                f.error(
                    "name",
                    format!("schedule name `{n}` must be 1-200 letters, digits, - or _"),
                    "rename it".into(),
                );
            } else if out.iter().any(|s| &s.name == n) {
                f.error("name", format!("two schedules are named `{n}`"), "give each schedule its own name".into());
            }
        }
        if let Some(expr) = &schedule {
            if let Err(why) = check_schedule_expression(expr) {
                f.error(
                    "schedule",
                    format!("schedule `{expr}` is not valid: {why}"),
                    "e.g. cron(0 20 ? * MON-FRI *), rate(1 day) or at(2026-12-24T18:00:00)".into(),
                );
            }
        }
        if let Some(tz) = &timezone {
            if crate::schedule::time_zone(tz).is_none() {
                f.error(
                    "timezone",
                    format!("timezone `{tz}` is not an IANA time zone name"),
                    "use a name such as Europe/London or America/New_York".into(),
                );
            }
        }
        match (min, max) {
            (None, None) => f.error("name", "a schedule sets `min`, `max` or both".into(), "add min and/or max".into()),
            (Some(lo), Some(hi)) if lo > hi => {
                f.error("min", format!("schedule min {lo} is above its max {hi}"), "make min ≤ max".into())
            }
            _ => {}
        }
        diags.append(&mut f.diags);
        if let (true, true, Some(name), Some(schedule)) = (has_name, has_schedule, name, schedule) {
            out.push(Schedule { name, schedule, timezone, min, max });
        }
    }
    out
}

pub(crate) fn capacity(v: &Spanned, diags: &mut Vec<Diagnostic>) -> Option<Capacity> {
    let mut f = match Fields::new("capacity", v, &["fargate_base", "fargate_weight", "spot_weight"]) {
        Ok(f) => f,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let fargate_base = f.whole("fargate_base", 0..=100_000).unwrap_or(0);
    let fargate_weight =
        f.whole("fargate_weight", 0..=1000).unwrap_or(if f.get("spot_weight").is_some() { 0 } else { 1 });
    let spot_weight = f.whole("spot_weight", 0..=1000).unwrap_or(0);
    if fargate_weight == 0 && spot_weight == 0 {
        f.error(
            "spot_weight",
            "`capacity` puts no weight on FARGATE or FARGATE_SPOT".into(),
            "give spot_weight (or fargate_weight) a weight above 0".into(),
        );
    }
    let ok = f.diags.is_empty();
    diags.append(&mut f.diags);
    ok.then_some(Capacity { fargate_base, fargate_weight, spot_weight })
}

pub(crate) fn alarms(v: &Spanned, metrics: bool, diags: &mut Vec<Diagnostic>) -> Option<Alarms> {
    let known = [
        "sns_topic_arns",
        "cpu_high",
        "memory_high",
        "tasks_below_desired",
        "agent_saturation",
        "agent_not_running",
        "dashboard",
    ];
    let mut f = match Fields::new("alarms", v, &known) {
        Ok(f) => f,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    let arns = f.strings("sns_topic_arns");
    for (arn, span) in &arns {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" {
            f.diags.push(
                Diagnostic::error(format!("`{arn}` is not an SNS topic ARN"))
                    .at(span.clone())
                    .help("use arn:aws:sns:REGION:ACCOUNT:TOPIC"),
            );
        }
    }
    let cpu_high = f.number("cpu_high", 1.0..=100.0).unwrap_or(85.0);
    let memory_high = f.number("memory_high", 1.0..=100.0).unwrap_or(85.0);
    let tasks_below_desired = f.bool("tasks_below_desired", true);
    let agent_saturation = f.number("agent_saturation", 1.0..=AGENT_TASK_CAP).unwrap_or(18.0);
    let agent_not_running = f.bool("agent_not_running", true);
    let dashboard = f.bool("dashboard", false);
    for field in ["agent_saturation", "agent_not_running"] {
        if f.get(field).is_some() && !metrics {
            f.error(
                field,
                format!("`alarms.{field}` watches the agent's own metrics, but `metrics` is off"),
                "set `metrics = true`".into(),
            );
        }
    }
    let ok = f.diags.is_empty();
    diags.append(&mut f.diags);
    ok.then(|| Alarms {
        sns_topic_arns: arns.into_iter().map(|(a, _)| a).collect(),
        cpu_high,
        memory_high,
        tasks_below_desired,
        agent_saturation,
        agent_not_running,
        dashboard,
    })
}

#[cfg(test)]
mod tests {
    use super::check_schedule_expression as check;

    #[test]
    fn schedule_expressions() {
        for good in [
            "cron(0 20 ? * MON-FRI *)",
            "cron(0 7 ? * MON-FRI *)",
            "cron(15 10 * * ? 2026)",
            "rate(1 day)",
            "rate(12 hours)",
            "at(2026-12-24T18:00:00)",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for bad in [
            "cron(0 20 * * MON-FRI *)",
            "cron(0 20 ? *)",
            "cron(61 20 ? * MON *)",
            "cron(0 25 ? * MON *)",
            "rate(1 days)",
            "rate(0 minutes)",
            "rate(5 weeks)",
            "at(2026-12-24 18:00)",
            "0 20 * * *",
            "cron(0 20 ? * MON$ *)",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
