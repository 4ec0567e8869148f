//! `agentctl usage` from hourly series with known answers: an oversized agent
//! idle at night and at weekends, a saturated one, no data, and a size change
//! in the middle; the JSON, the terminal text (snapshot) and the HTML.

use std::collections::BTreeMap;

use agentctl_core::cost::PriceTable;
use agentctl_core::usage::{analyse, html, text, Current, Hourly, Metric, Report, UsageInput};
use serde_json::Value;

/// 2026-11-16 00:00 UTC, a Monday.
const MONDAY: i64 = 1_794_787_200;
const HOURS: usize = 14 * 24;

fn current(cpu: u32, memory_mib: u32, desired_count: u32) -> Current {
    Current { cpu, memory_mib, desired_count, autoscaling: None, metrics: true, timezone: "UTC".into() }
}

/// Every series, hour by hour, from `at(weekday 0..7, hour 0..24)`.
fn series(at: impl Fn(usize, usize) -> [Option<f64>; 9]) -> BTreeMap<Metric, Hourly> {
    let mut out: BTreeMap<Metric, Hourly> = Metric::ALL.iter().map(|m| (*m, Vec::with_capacity(HOURS))).collect();
    for h in 0..HOURS {
        let values = at((h / 24) % 7, h % 24);
        for (m, v) in Metric::ALL.iter().zip(values) {
            out.get_mut(m).unwrap().push(v);
        }
    }
    out
}

fn input(current: Current, series: BTreeMap<Metric, Hourly>) -> UsageInput {
    UsageInput {
        service: "etl-agent".into(),
        region: "us-east-1".into(),
        days_asked: 14,
        start: MONDAY,
        hours: HOURS,
        series,
        current,
    }
}

fn report(input: &UsageInput) -> Report {
    analyse(input, &PriceTable::builtin())
}

/// Two medium agents (2048 / 8192) that use a small one's worth on weekdays
/// 08:00–20:00 (6 pipelines each) and run nothing at night or at weekends.
fn oversized_idle_at_night() -> UsageInput {
    input(
        current(2048, 8192, 2),
        series(|day, hour| {
            let busy = day < 5 && (8..20).contains(&hour);
            let (cpu, mem, pipelines) = if busy { (300.0, 1500.0, 6.0) } else { (40.0, 800.0, 0.0) };
            [
                Some(cpu * 0.6),
                Some(cpu),
                Some(2048.0),
                Some(mem * 0.8),
                Some(mem),
                Some(8192.0),
                Some(2.0),
                Some(pipelines),
                Some(pipelines),
            ]
        }),
    )
}

#[test]
fn an_oversized_agent_idle_at_night_gets_a_smaller_size_and_a_night_schedule() {
    let r = report(&oversized_idle_at_night());
    let json = serde_json::to_value(&r).unwrap();
    let rec = &json["recommendation"];
    // p95 of the hourly peaks: 300 CPU units, 1500 MiB; × 1.25 = 375 and 1875:
    // the smallest valid pair is 512 / 2048.
    assert_eq!((rec["agent_cpu"].as_u64(), rec["agent_memory"].as_u64()), (Some(512), Some(2048)));
    // 12 pipelines at peak across the service: one agent (16 each).
    assert_eq!(rec["desired_count"], 1);
    assert_eq!(rec["autoscaling"], serde_json::json!({"min": 1, "max": 1}));
    assert_eq!(
        rec["schedules"],
        serde_json::json!([
            {"name": "night-down", "schedule": "cron(0 20 ? * MON-FRI *)", "timezone": "UTC", "min": 0, "max": 0},
            {"name": "morning-up", "schedule": "cron(0 8 ? * MON-FRI *)", "timezone": "UTC", "min": 1, "max": 1},
        ])
    );
    assert!(!r.saturated);
    // Now: 2 medium tasks all month. After: 1 small one for 60 of 168 hours.
    //   us-east-1: 2 vCPU × 0.04048 + 8 GB × 0.004445 = 0.11652 an hour per task
    //   × 2 tasks × 730 h = 170.12; 0.5 × 0.04048 + 2 × 0.004445 = 0.02913
    //   × 60/168 × 730 = 7.59; saving 162.53.
    assert_eq!(json["cost_now"].as_f64(), Some(170.12));
    assert_eq!(json["cost_after"].as_f64(), Some(7.59));
    assert_eq!(json["savings_per_month"].as_f64(), Some(162.53));
    for topic in ["task size", "task count", "schedules"] {
        let a = r.advice.iter().find(|a| a.topic == topic).unwrap_or_else(|| panic!("no {topic} advice"));
        assert!(!a.evidence.is_empty());
    }
    assert!(r.gaps.is_empty(), "{:?}", r.gaps);
    // p50 / p95 / max per series, by name.
    assert_eq!(json["series"]["cpu_peak"]["p95"].as_f64(), Some(300.0));
    assert_eq!(json["series"]["pipelines"]["max"].as_f64(), Some(6.0));
}

#[test]
fn a_saturated_agent_is_called_out_and_gets_more_tasks() {
    let r = report(&input(
        current(1024, 4096, 2),
        series(|day, hour| {
            let busy = day < 5 && (8..20).contains(&hour);
            let p = if busy { 19.0 } else { 10.0 };
            [
                Some(600.0),
                Some(900.0),
                Some(1024.0),
                Some(2500.0),
                Some(3000.0),
                Some(4096.0),
                Some(2.0),
                Some(p),
                Some(p + 1.0),
            ]
        }),
    ));
    assert!(r.saturated);
    let rec = r.recommendation.as_ref().unwrap();
    // 38 pipelines at peak across 2 agents: 3 agents of 16.
    assert_eq!(rec.autoscaling.as_ref().map(|a| (a.min, a.max)), Some((2, 3)));
    let saturated = r.advice.iter().find(|a| a.topic == "saturated").expect("saturation advice");
    assert!(saturated.evidence.contains("20.0, above 18"), "{}", saturated.evidence);
    assert!(text(&r, 100, false).contains("SATURATED"));
    assert!(rec.schedules.is_empty(), "never idle: no schedule");
}

#[test]
fn no_data_recommends_nothing_and_says_so() {
    let r = report(&input(current(1024, 4096, 2), series(|_, _| [None; 9])));
    assert!(r.no_data());
    assert_eq!(r.recommendation, None);
    assert_eq!(r.gaps, ["no data for etl-agent in the last 14 days yet: nothing to recommend from"]);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["recommendation"], Value::Null);
    assert_eq!(json["savings_per_month"], Value::Null);
}

#[test]
fn a_size_change_in_the_middle_is_said_and_only_the_later_hours_size_the_task() {
    // Large tasks using a lot the first week; after the change to 1024/4096 they peak at 700 / 3000.
    let value = |m: Metric, first_week: bool| match m {
        Metric::CpuReserved => {
            if first_week {
                4096.0
            } else {
                1024.0
            }
        }
        Metric::MemoryReserved => {
            if first_week {
                16384.0
            } else {
                4096.0
            }
        }
        Metric::CpuPeak | Metric::CpuUsed => {
            if first_week {
                3000.0
            } else {
                700.0
            }
        }
        Metric::MemoryPeak | Metric::MemoryUsed => {
            if first_week {
                12000.0
            } else {
                3000.0
            }
        }
        Metric::RunningTasks => 2.0,
        Metric::Pipelines | Metric::PipelinesPeak => 8.0,
    };
    let series = Metric::ALL.iter().map(|m| (*m, (0..HOURS).map(|h| Some(value(*m, h < 7 * 24))).collect())).collect();
    let r = report(&input(current(1024, 4096, 2), series));
    assert!(
        r.gaps.iter().any(|g| g.contains("the task size changed around 2026-11-23 00:00 UTC (from 4096 / 16384 to 1024 / 4096)")),
        "{:?}",
        r.gaps
    );
    // 700 × 1.25 = 875 → 1024 CPU units; 3000 × 1.25 = 3750 → 4096 MiB.
    let rec = r.recommendation.unwrap();
    assert_eq!((rec.agent_cpu, rec.agent_memory), (1024, 4096));
}

#[test]
fn fewer_days_than_asked_and_metrics_off_are_each_one_line() {
    let mut i = oversized_idle_at_night();
    i.current.metrics = false;
    for (m, values) in i.series.iter_mut() {
        if m.needs_metrics_sidecar() {
            values.iter_mut().for_each(|v| *v = None);
        }
        values.iter_mut().take(10 * 24).for_each(|v| *v = None);
    }
    let r = report(&i);
    assert_eq!(r.days_with_data, 4);
    assert!(r.gaps.iter().any(|g| g == "data covers 4 of the 14 days asked (96 hours)"), "{:?}", r.gaps);
    assert!(r.gaps.iter().any(|g| g.starts_with("metrics = false")), "{:?}", r.gaps);
    // Size advice still stands; count and schedules are not made up.
    let rec = r.recommendation.unwrap();
    assert_eq!((rec.agent_cpu, rec.desired_count), (512, 2));
    assert!(rec.schedules.is_empty());
}

#[test]
fn the_terminal_report_shows_charts_the_heat_strip_and_the_snippet() {
    let r = report(&oversized_idle_at_night());
    let out = text(&r, 100, false);
    assert!(!out.contains('\u{1b}'), "no colour in a pipe");
    insta::assert_snapshot!(out);
}

#[test]
fn the_html_report_is_well_formed_with_one_svg_per_chart_and_nothing_from_the_network() {
    let r = report(&oversized_idle_at_night());
    let doc = html(&r);
    let parsed = roxmltree::Document::parse_with_options(
        &doc,
        roxmltree::ParsingOptions { allow_dtd: true, ..roxmltree::ParsingOptions::default() },
    )
    .expect("well-formed");
    let svgs = parsed.descendants().filter(|n| n.has_tag_name("svg")).count();
    // CPU, memory, running tasks, pipelines, and the heat strip.
    assert_eq!(svgs, 5);
    for n in parsed.descendants() {
        assert!(!n.has_tag_name("script") && !n.has_tag_name("link") && !n.has_tag_name("img"), "{n:?}");
        let loads = n.attributes().find(|a| a.name() == "href" || a.name() == "src");
        assert!(loads.is_none(), "{loads:?}: nothing may load from elsewhere");
    }
    assert!(!doc.contains("url(") && !doc.contains("@import"));
    assert!(doc.contains("cron(0 20 ? * MON-FRI *)"));
}
