//! `agentctl usage`: what the agents really used, hour by hour, and what that
//! says about their size, count and schedules — each advice with its evidence.
//!
//! Pure: the AWS side reads the hourly series (one GetMetricData) into
//! [`UsageInput`]; this module summarises, recommends and prices.

mod html;
mod render;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use serde::Serialize;

pub use html::html;
pub use render::{chart, heat_strip, text};

use crate::cost::{self, CostInput, PriceTable};
use crate::fargate;

/// Most days `usage` reads (CloudWatch keeps hourly data 63 days).
pub const MAX_DAYS: u32 = 63;
/// Running pipelines an agent is sized for at peak, and the most before it is
/// saturated (the agent's own cap is 20).
pub const PIPELINES_PER_AGENT: f64 = 16.0;
pub const SATURATED_ABOVE: f64 = 18.0;
/// Headroom over the p95 of the hourly peaks when sizing a task.
pub const HEADROOM: f64 = 1.25;
/// Fewest consecutive idle hours worth a schedule.
const MIN_IDLE_HOURS: usize = 4;

/// One hourly series, as CloudWatch returned it (`None`: no data that hour).
pub type Hourly = Vec<Option<f64>>;

/// The series `usage` reads, per hour, for one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Container Insights, CPU units used per task: hourly average and peak.
    CpuUsed,
    CpuPeak,
    /// CPU units reserved per task (the task size).
    CpuReserved,
    /// MiB used per task: hourly average and peak.
    MemoryUsed,
    MemoryPeak,
    MemoryReserved,
    RunningTasks,
    /// The agent's `app_active_task_count` (metrics sidecar): per agent on
    /// average, and the busiest agent.
    Pipelines,
    PipelinesPeak,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::CpuUsed,
        Metric::CpuPeak,
        Metric::CpuReserved,
        Metric::MemoryUsed,
        Metric::MemoryPeak,
        Metric::MemoryReserved,
        Metric::RunningTasks,
        Metric::Pipelines,
        Metric::PipelinesPeak,
    ];

    /// (namespace, metric name, statistic) as CloudWatch names them.
    pub fn query(self) -> (&'static str, &'static str, &'static str) {
        const CI: &str = "ECS/ContainerInsights";
        match self {
            Metric::CpuUsed => (CI, "CpuUtilized", "Average"),
            Metric::CpuPeak => (CI, "CpuUtilized", "Maximum"),
            Metric::CpuReserved => (CI, "CpuReserved", "Average"),
            Metric::MemoryUsed => (CI, "MemoryUtilized", "Average"),
            Metric::MemoryPeak => (CI, "MemoryUtilized", "Maximum"),
            Metric::MemoryReserved => (CI, "MemoryReserved", "Average"),
            Metric::RunningTasks => (CI, "RunningTaskCount", "Average"),
            Metric::Pipelines => (crate::model::METRICS_NAMESPACE, "app_active_task_count", "Average"),
            Metric::PipelinesPeak => (crate::model::METRICS_NAMESPACE, "app_active_task_count", "Maximum"),
        }
    }

    /// The agent's own metric: only with the metrics sidecar.
    pub fn needs_metrics_sidecar(self) -> bool {
        matches!(self, Metric::Pipelines | Metric::PipelinesPeak)
    }

    /// A query id GetMetricData accepts (lower case first, letters and digits).
    pub fn id(self) -> String {
        serde_json::to_value(self).expect("serializes").as_str().expect("a string").replace('_', "")
    }
}

/// What the deployment is configured as now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Current {
    pub cpu: u32,
    pub memory_mib: u32,
    pub desired_count: u32,
    pub autoscaling: Option<(u32, u32)>,
    pub metrics: bool,
    /// Time zone of the recommended schedules (the config's schedules', or UTC).
    pub timezone: String,
}

/// Everything `usage` analyses.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageInput {
    pub service: String,
    pub region: String,
    pub days_asked: u32,
    /// The first hour (seconds since the epoch, on the hour).
    pub start: i64,
    pub hours: usize,
    pub series: BTreeMap<Metric, Hourly>,
    pub current: Current,
}

impl UsageInput {
    fn series(&self, m: Metric) -> &[Option<f64>] {
        self.series.get(&m).map_or(&[], Vec::as_slice)
    }
}

/// p50 / p95 / max of a series' hours with data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
    /// Hours with data.
    pub hours: usize,
}

impl Stats {
    pub fn of(values: &[Option<f64>]) -> Option<Stats> {
        let mut v: Vec<f64> = values.iter().flatten().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(Stats { p50: percentile(&v, 50.0), p95: percentile(&v, 95.0), max: v[v.len() - 1], hours: v.len() })
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A scheduled change, as the `schedules` variable takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleAdvice {
    pub name: String,
    pub schedule: String,
    pub timezone: String,
    pub min: u32,
    pub max: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Autoscaling {
    pub min: u32,
    pub max: u32,
}

/// What `usage` recommends; `None` fields: not enough data to say.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub agent_cpu: u32,
    pub agent_memory: u32,
    pub desired_count: u32,
    pub autoscaling: Option<Autoscaling>,
    pub schedules: Vec<ScheduleAdvice>,
    /// FARGATE tasks before any FARGATE_SPOT one, when a Spot share is advised.
    pub spot_base: Option<u32>,
}

/// One line of advice and the evidence that led to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    pub topic: &'static str,
    pub advice: String,
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub service: String,
    pub region: String,
    pub days_asked: u32,
    /// Days with data (hours / 24, rounded down).
    pub days_with_data: u32,
    pub start: i64,
    pub hours: usize,
    pub series: BTreeMap<Metric, Option<Stats>>,
    /// Running pipelines across the service, per hour of the week (Monday 00:00
    /// first, in `current.timezone`): the average over the weeks read.
    pub pipelines_by_hour_of_week: Option<Vec<Option<f64>>>,
    pub saturated: bool,
    /// What was missing or changed, one line each.
    pub gaps: Vec<String>,
    pub advice: Vec<Advice>,
    pub recommendation: Option<Recommendation>,
    pub cost_now: Option<f64>,
    pub cost_after: Option<f64>,
    pub savings_per_month: Option<f64>,
    pub current: Current,
    /// The hourly series, for the charts.
    #[serde(skip)]
    pub hourly: BTreeMap<Metric, Hourly>,
}

impl Report {
    /// Nothing to show: no hour of any series has data.
    pub fn no_data(&self) -> bool {
        self.series.values().all(Option::is_none)
    }
}

/// Summarises `input` and recommends from it, priced with `prices`.
pub fn analyse(input: &UsageInput, prices: &PriceTable) -> Report {
    let mut gaps = Vec::new();
    let cur = &input.current;
    let series: BTreeMap<Metric, Option<Stats>> =
        Metric::ALL.iter().map(|m| (*m, Stats::of(input.series(*m)))).collect();
    let data_hours = input.series(Metric::RunningTasks).iter().filter(|v| v.is_some()).count();
    let days_with_data = (data_hours / 24) as u32;
    let mut report = Report {
        service: input.service.clone(),
        region: input.region.clone(),
        days_asked: input.days_asked,
        days_with_data,
        start: input.start,
        hours: input.hours,
        series,
        pipelines_by_hour_of_week: None,
        saturated: false,
        gaps: vec![],
        advice: vec![],
        recommendation: None,
        cost_now: None,
        cost_after: None,
        savings_per_month: None,
        current: cur.clone(),
        hourly: input.series.clone(),
    };
    if report.no_data() {
        report.gaps.push(format!(
            "no data for {} in the last {} days yet: nothing to recommend from",
            input.service, input.days_asked
        ));
        return report;
    }
    if report.series[&Metric::CpuUsed].is_none() {
        gaps.push(format!(
            "Container Insights has no data for {}: it was off, or the service ran no task (apply turns it on for the cluster)",
            input.service
        ));
    }
    if !cur.metrics {
        gaps.push(
            "metrics = false: the agents' running pipelines are not published, so task count and schedules are not \
             recommended (set metrics = true and apply)"
                .into(),
        );
    } else if report.series[&Metric::Pipelines].is_none() {
        gaps.push("no running-pipeline data yet (the metrics sidecar publishes it once a minute)".into());
    }
    if days_with_data < input.days_asked {
        gaps.push(format!(
            "data covers {} of the {} days asked ({} hours)",
            days_with_data, input.days_asked, data_hours
        ));
    }

    // The task size, from the hours since it last changed.
    let since = size_changed_at(input, &mut gaps);
    let recent = |m: Metric| -> Vec<Option<f64>> { input.series(m).iter().skip(since).copied().collect() };
    let size = match (Stats::of(&recent(Metric::CpuPeak)), Stats::of(&recent(Metric::MemoryPeak))) {
        (Some(cpu), Some(mem)) => {
            let (need_cpu, need_mem) = (cpu.p95 * HEADROOM, mem.p95 * HEADROOM);
            let (c, m) = smallest_size(need_cpu, need_mem);
            report.advice.push(Advice {
                topic: "task size",
                advice: if (c, m) == (cur.cpu, cur.memory_mib) {
                    format!("keep {c} CPU units / {m} MiB")
                } else {
                    format!("{c} CPU units / {m} MiB (now {} / {})", cur.cpu, cur.memory_mib)
                },
                evidence: format!(
                    "p95 of the hourly peaks per task: {:.0} CPU units and {:.0} MiB; with {:.0}% headroom {:.0} and {:.0}",
                    cpu.p95,
                    mem.p95,
                    (HEADROOM - 1.0) * 100.0,
                    need_cpu,
                    need_mem
                ),
            });
            Some((c, m))
        }
        _ => None,
    };

    // Task count, autoscaling and schedules, from running pipelines.
    let count = cur.metrics.then(|| pipelines_advice(input, &mut report)).flatten();
    report.gaps = gaps;
    let Some((cpu, memory)) = size.or(count.as_ref().map(|_| (cur.cpu, cur.memory_mib))) else {
        return report;
    };
    let (desired_count, autoscaling, schedules, spot_base) = match count {
        Some(c) => (c.desired, c.autoscaling, c.schedules, c.spot_base),
        None => (cur.desired_count, cur.autoscaling.map(|(min, max)| Autoscaling { min, max }), vec![], None),
    };
    let recommendation =
        Recommendation { agent_cpu: cpu, agent_memory: memory, desired_count, autoscaling, schedules, spot_base };
    price(input, &mut report, &recommendation, prices);
    report.recommendation = Some(recommendation);
    report
}

/// The index of the first hour at the current task size; says so when the
/// size changed during the period.
fn size_changed_at(input: &UsageInput, gaps: &mut Vec<String>) -> usize {
    let reserved = input.series(Metric::CpuReserved);
    let memory = input.series(Metric::MemoryReserved);
    let sizes: Vec<(usize, (u32, u32))> = reserved
        .iter()
        .zip(memory)
        .enumerate()
        .filter_map(|(i, (c, m))| Some((i, (c.as_ref()?.round() as u32, m.as_ref()?.round() as u32))))
        .collect();
    let Some(&(_, last)) = sizes.last() else { return 0 };
    let Some(&(i, before)) = sizes.iter().rev().find(|(_, s)| *s != last) else { return 0 };
    let at = input.start + 3600 * (i as i64 + 1);
    gaps.push(format!(
        "the task size changed around {} (from {} / {} to {} / {}): size advice uses the hours since",
        fmt_time(at),
        before.0,
        before.1,
        last.0,
        last.1
    ));
    i + 1
}

/// The smallest valid Fargate pair holding `cpu` units and `memory` MiB.
pub fn smallest_size(cpu: f64, memory: f64) -> (u32, u32) {
    fargate::VALID_CPU
        .iter()
        .filter(|c| f64::from(**c) >= cpu)
        .find_map(|c| {
            let mem = fargate::valid_memory_for_cpu(*c)?.into_iter().find(|m| f64::from(*m) >= memory)?;
            Some((*c, mem))
        })
        .unwrap_or((16384, 122_880))
}

struct CountAdvice {
    desired: u32,
    autoscaling: Option<Autoscaling>,
    schedules: Vec<ScheduleAdvice>,
    spot_base: Option<u32>,
}

/// Tasks for the pipelines that ran: about 16 per agent at peak.
fn pipelines_advice(input: &UsageInput, report: &mut Report) -> Option<CountAdvice> {
    let cur = &input.current;
    let per_agent = input.series(Metric::Pipelines);
    let tasks = input.series(Metric::RunningTasks);
    let totals: Vec<Option<f64>> =
        per_agent.iter().zip(tasks).map(|(p, t)| Some(p.as_ref()? * t.unwrap_or(1.0))).collect();
    let total = Stats::of(&totals)?;
    let busiest = Stats::of(input.series(Metric::PipelinesPeak)).unwrap_or(total);
    report.saturated = busiest.p95 > SATURATED_ABOVE;
    let cur_max = cur.autoscaling.map_or(cur.desired_count, |(_, max)| max);
    let mut max = ((total.p95 / PIPELINES_PER_AGENT).ceil() as u32).max(1);
    if report.saturated {
        max = max.max(cur_max + 1);
        report.advice.push(Advice {
            topic: "saturated",
            advice: format!("the agents are saturated: add tasks (up to {max})"),
            evidence: format!(
                "p95 of the busiest agent's running pipelines per hour is {:.1}, above {SATURATED_ABOVE} of the agent's 20",
                busiest.p95
            ),
        });
    }
    let by_hour = hour_of_week(input, &totals);
    let idle = idle_window(&by_hour);
    let active: Vec<Option<f64>> = totals
        .iter()
        .enumerate()
        .map(|(i, v)| v.filter(|_| idle.as_ref().is_none_or(|w| !w.contains_hour(local_hour(input, i)))))
        .collect();
    let typical = Stats::of(&active).unwrap_or(total);
    let min = ((typical.p50 / PIPELINES_PER_AGENT).ceil() as u32).clamp(1, max);
    report.advice.push(Advice {
        topic: "task count",
        advice: if min == max {
            format!("{max} task{}", plural(max))
        } else {
            format!("autoscaling between {min} and {max} tasks (active_tasks_target = {PIPELINES_PER_AGENT})")
        },
        evidence: format!(
            "running pipelines across the service: p50 {:.1}, p95 {:.1}, max {:.0} per hour; about {PIPELINES_PER_AGENT} per agent at peak",
            typical.p50, total.p95, total.max
        ),
    });
    let schedules = idle.as_ref().map(|w| w.schedules(&cur.timezone, min, max)).unwrap_or_default();
    if let Some(w) = &idle {
        report.advice.push(Advice {
            topic: "schedules",
            advice: format!("scale to 0 from {:02}:00 to {:02}:00 {} ({})", w.from, w.to, cur.timezone, w.days_label()),
            evidence: format!(
                "no pipeline ran in those hours on any day read ({} hours a week idle)",
                w.hours_per_week()
            ),
        });
    }
    let spot_base = (max > min).then(|| {
        report.advice.push(Advice {
            topic: "spot",
            advice: format!(
                "optionally run the tasks above {min} on FARGATE_SPOT: capacity = {{ fargate_base = {min}, fargate_weight = 1, spot_weight = 1 }}"
            ),
            evidence: "the busy hours need more tasks than the typical ones; a reclaimed Spot task cuts the pipelines \
                       running on it (protection does not hold against Spot), so only where they can be rerun"
                .into(),
        });
        min
    });
    report.pipelines_by_hour_of_week = Some(by_hour);
    // Schedules change autoscaling's bounds: they need it even at one count.
    let autoscaling = (min < max || !schedules.is_empty()).then_some(Autoscaling { min, max });
    Some(CountAdvice { desired: min, autoscaling, schedules, spot_base })
}

/// Hour of the week (Monday 00:00 = 0) of hour `i` of the input, in the
/// schedules' time zone.
fn local_hour(input: &UsageInput, i: usize) -> usize {
    let at = Utc.timestamp_opt(input.start + 3600 * i as i64, 0).single().unwrap_or_default();
    let (weekday, hour) = match input.current.timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => {
            let local = at.with_timezone(&tz);
            (local.weekday(), local.hour())
        }
        Err(_) => (at.weekday(), at.hour()),
    };
    weekday.num_days_from_monday() as usize * 24 + hour as usize
}

/// The average of `values` per hour of the week.
fn hour_of_week(input: &UsageInput, values: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut sums = vec![(0.0, 0usize); 168];
    for (i, v) in values.iter().enumerate() {
        if let Some(v) = v {
            let slot = &mut sums[local_hour(input, i)];
            slot.0 += v;
            slot.1 += 1;
        }
    }
    sums.into_iter().map(|(sum, n)| (n > 0).then(|| sum / n as f64)).collect()
}

/// Hours of the day (`from` up to `to`, wrapping midnight) when no pipeline
/// ran, on the days it names.
#[derive(Debug, Clone, PartialEq)]
struct IdleWindow {
    from: usize,
    to: usize,
    /// The weekend ran no pipeline at all: the agents stay down from Friday's
    /// evening to Monday's morning.
    weekend: bool,
}

impl IdleWindow {
    fn len(&self) -> usize {
        (self.to + 24 - self.from) % 24
    }
    fn contains_hour(&self, hour_of_week: usize) -> bool {
        let (day, hour) = (hour_of_week / 24, hour_of_week % 24);
        if self.weekend && day >= 5 {
            return true;
        }
        (hour + 24 - self.from) % 24 < self.len()
    }
    fn hours_per_week(&self) -> usize {
        (0..168).filter(|h| self.contains_hour(*h)).count()
    }
    fn days_label(&self) -> &'static str {
        if self.weekend {
            "Monday to Friday; weekends down"
        } else {
            "every day"
        }
    }
    fn schedules(&self, timezone: &str, min: u32, max: u32) -> Vec<ScheduleAdvice> {
        let days = if self.weekend { "MON-FRI" } else { "*" };
        vec![
            ScheduleAdvice {
                name: "night-down".into(),
                schedule: format!("cron(0 {} ? * {days} *)", self.from),
                timezone: timezone.into(),
                min: 0,
                max: 0,
            },
            ScheduleAdvice {
                name: "morning-up".into(),
                schedule: format!("cron(0 {} ? * {days} *)", self.to),
                timezone: timezone.into(),
                min,
                max,
            },
        ]
    }
}

/// The longest daily run of hours with no pipeline on any weekday read, when
/// it is long enough to be worth a schedule.
fn idle_window(by_hour: &[Option<f64>]) -> Option<IdleWindow> {
    let idle = |h: usize| by_hour[h].is_none_or(|v| v < 0.05);
    let seen = |h: usize| by_hour[h].is_some();
    // An hour of the day is idle when it is on every weekday with data.
    let daily: Vec<bool> = (0..24)
        .map(|hour| {
            let days: Vec<usize> = (0..5).map(|d| d * 24 + hour).filter(|h| seen(*h)).collect();
            !days.is_empty() && days.iter().all(|h| idle(*h))
        })
        .collect();
    if daily.iter().all(|d| *d) {
        return None; // never busy: nothing to schedule around
    }
    // Longest circular run of idle hours.
    let mut best: Option<(usize, usize)> = None;
    for start in (0..24).filter(|h| daily[*h] && !daily[(h + 23) % 24]) {
        let len = (0..24).take_while(|k| daily[(start + k) % 24]).count();
        if best.is_none_or(|(_, l)| len > l) {
            best = Some((start, len));
        }
    }
    let (from, len) = best.filter(|(_, len)| *len >= MIN_IDLE_HOURS)?;
    let weekend_seen = (120..168).any(seen);
    let weekend = weekend_seen && (120..168).all(idle);
    Some(IdleWindow { from, to: (from + len) % 24, weekend })
}

/// Monthly cost now (what ran) and after (the recommendation), from the cost
/// module's per-task rate.
fn price(input: &UsageInput, report: &mut Report, rec: &Recommendation, prices: &PriceTable) {
    let rate = |cpu: u32, memory: u32| -> Option<f64> {
        let e = cost::estimate(&CostInput::new(input.region.clone(), cpu, memory, 1), prices).ok()?;
        Some(e.per_task.on_demand.total.0 / e.hours_per_month)
    };
    let hours_per_month = cost::DEFAULT_HOURS_PER_MONTH;
    let Some(tasks_now) = mean(input.series(Metric::RunningTasks)) else { return };
    let (Some(now_rate), Some(after_rate)) =
        (rate(input.current.cpu, input.current.memory_mib), rate(rec.agent_cpu, rec.agent_memory))
    else {
        report.gaps.push(format!("no Fargate rates for {} in the price table: no cost shown", input.region));
        return;
    };
    // After: the recommended count in each hour of the week (0 in idle hours).
    let tasks_after = match (&rec.autoscaling, report.pipelines_by_hour_of_week.as_ref()) {
        (Some(a), Some(by_hour)) => {
            let window = idle_window(by_hour);
            let per_hour: Vec<f64> = (0..168)
                .map(|h| {
                    if window.as_ref().is_some_and(|w| w.contains_hour(h)) {
                        return 0.0;
                    }
                    let need = by_hour[h].map_or(f64::from(a.min), |p| (p / PIPELINES_PER_AGENT).ceil());
                    need.clamp(f64::from(a.min), f64::from(a.max))
                })
                .collect();
            per_hour.iter().sum::<f64>() / 168.0
        }
        // No autoscaling: no schedule either, so the count all week.
        _ => f64::from(rec.desired_count),
    };
    let now = tasks_now * now_rate * hours_per_month;
    let after = tasks_after * after_rate * hours_per_month;
    let (now, after) = (round_cents(now), round_cents(after));
    // The difference of the figures shown, so the report adds up.
    report.cost_now = Some(now);
    report.cost_after = Some(after);
    report.savings_per_month = Some(round_cents(now - after));
}

/// The average of the hours with data; `None` when there are none.
fn mean(values: &[Option<f64>]) -> Option<f64> {
    let v: Vec<f64> = values.iter().flatten().copied().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// "2026-11-30 14:00 UTC"
pub fn fmt_time(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map_or_else(|| secs.to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// The recommendation as lines to paste into terraform.tfvars.
pub fn tfvars_snippet(rec: &Recommendation) -> String {
    let mut out = format!(
        "agent_cpu     = {}\nagent_memory  = {}\ndesired_count = {}\n",
        rec.agent_cpu, rec.agent_memory, rec.desired_count
    );
    if let Some(a) = &rec.autoscaling {
        out.push_str(&format!(
            "autoscaling = {{ min = {}, max = {}, active_tasks_target = {PIPELINES_PER_AGENT} }}\n",
            a.min, a.max
        ));
    }
    if !rec.schedules.is_empty() {
        out.push_str("schedules = [\n");
        for s in &rec.schedules {
            out.push_str(&format!(
                "  {{ name = \"{}\", schedule = \"{}\", timezone = \"{}\", min = {}, max = {} }},\n",
                s.name, s.schedule, s.timezone, s.min, s.max
            ));
        }
        out.push_str("]\n");
    }
    out
}
