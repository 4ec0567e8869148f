//! The usage report for a terminal or a pipe: a braille chart per series
//! (textplots), p50 / p95 / max, the hour-of-week heat strip, the advice with
//! its evidence, and a tfvars snippet.

use textplots::{Chart, ColorPlot, LabelBuilder, LabelFormat, Plot, Shape};

use super::{fmt_time, tfvars_snippet, Metric, Report, Stats};
use crate::text::Text;

/// Series shown as charts: (metric, title, unit).
pub(super) const CHARTS: [(Metric, &str, &str); 4] = [
    (Metric::CpuUsed, "CPU used per task", "CPU units"),
    (Metric::MemoryUsed, "Memory used per task", "MiB"),
    (Metric::RunningTasks, "Running tasks", "tasks"),
    (Metric::Pipelines, "Running pipelines per agent (cap 20)", "pipelines"),
];

/// A braille line chart of an hourly series, `width` dots wide (2 per
/// column); `None` when it has no data.
pub fn chart(values: &[Option<f64>], width: u32, color: bool) -> Option<String> {
    let points: Vec<(f32, f32)> =
        values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i as f32, v as f32))).collect();
    if points.is_empty() {
        return None;
    }
    let ymax = points.iter().map(|p| p.1).fold(0.0_f32, f32::max).max(1.0);
    let xmax = (values.len().max(2) - 1) as f32;
    let shape = Shape::Lines(&points);
    let mut chart = Chart::new_with_y_range(width.max(32), 24, 0.0, xmax, 0.0, ymax);
    // The x axis is hours since the start; the title says the period.
    let chart =
        chart.x_label_format(LabelFormat::None).y_label_format(LabelFormat::Custom(Box::new(|v| format!("{v:.0}"))));
    let chart =
        if color { chart.linecolorplot(&shape, rgb::RGB8 { r: 80, g: 160, b: 255 }) } else { chart.lineplot(&shape) };
    chart.figures();
    // Without x labels, textplots ends with a line of spaces.
    let drawn = chart.to_string();
    Some(drawn.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n") + "\n")
}

/// Running pipelines per hour of the week, one row a day, one cell an hour:
/// ` ` none, then `░▒▓█` by quarter of the busiest hour; `·` no data.
pub fn heat_strip(by_hour: &[Option<f64>], timezone: &str) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let top = by_hour.iter().flatten().copied().fold(0.0_f64, f64::max);
    let mut out = format!("      0     6     12    18    ({timezone}; busiest hour {top:.1} pipelines)\n");
    for (d, day) in DAYS.iter().enumerate() {
        let cells: String = by_hour[d * 24..d * 24 + 24]
            .iter()
            .map(|v| match v {
                None => '·',
                Some(v) if *v < 0.05 || top <= 0.0 => ' ',
                Some(v) => ['░', '▒', '▓', '█'][(((v / top) * 4.0).ceil() as usize).clamp(1, 4) - 1],
            })
            .collect();
        out.push_str(&format!("  {day} |{cells}|\n"));
    }
    out
}

fn stats_line(s: Option<Stats>) -> String {
    s.map_or_else(|| "no data".to_owned(), |s| format!("p50 {:.1}  p95 {:.1}  max {:.1}", s.p50, s.p95, s.max))
}

fn money(x: f64) -> String {
    format!("${x:.2}")
}

/// The whole report as text; `width` is the terminal's (or 80).
pub fn text(r: &Report, width: usize, color: bool) -> String {
    let mut o = Text::new();
    let end = r.start + 3600 * r.hours as i64;
    o.line(format_args!(
        "Usage of {} in {}, last {} days ({} to {})",
        r.service,
        r.region,
        r.days_asked,
        fmt_time(r.start),
        fmt_time(end)
    ));
    for g in &r.gaps {
        o.line(format_args!("  note: {g}"));
    }
    if r.no_data() {
        return o.as_str().to_owned();
    }
    let chart_width = (width.saturating_sub(12).clamp(40, 200) * 2) as u32;
    for (metric, title, unit) in CHARTS {
        let Some(values) = r.hourly.get(&metric) else { continue };
        let Some(drawn) = chart(values, chart_width, color) else { continue };
        let reserved = match metric {
            Metric::CpuUsed => r.series[&Metric::CpuReserved].map(|s| format!(", reserved {:.0}", s.max)),
            Metric::MemoryUsed => r.series[&Metric::MemoryReserved].map(|s| format!(", reserved {:.0}", s.max)),
            _ => None,
        };
        o.blank().line(format_args!(
            "{title} ({unit}{}): {}",
            reserved.unwrap_or_default(),
            stats_line(r.series[&metric])
        ));
        o.push(&drawn);
    }
    if let Some(by_hour) = &r.pipelines_by_hour_of_week {
        o.blank().line("Running pipelines by hour of the week");
        o.push(&heat_strip(by_hour, &r.current.timezone));
    }
    if r.saturated {
        o.blank().line("SATURATED: the busiest agents run more than 18 of their 20 pipelines.");
    }
    if !r.advice.is_empty() {
        o.blank().line("Recommendation");
        for a in &r.advice {
            o.line(format_args!("  {}: {}", a.topic, a.advice));
            o.line(format_args!("    evidence: {}", a.evidence));
        }
    }
    if let (Some(now), Some(after), Some(saved)) = (r.cost_now, r.cost_after, r.savings_per_month) {
        let verdict = if saved >= 0.0 {
            format!("saves {} a month", money(saved))
        } else {
            format!("costs {} more a month", money(-saved))
        };
        o.line(format_args!("  monthly cost: {} now, {} after: {verdict}", money(now), money(after)));
    }
    if let Some(rec) = &r.recommendation {
        o.blank().line("terraform.tfvars:");
        for l in tfvars_snippet(rec).lines() {
            o.line(format_args!("  {l}"));
        }
    }
    o.as_str().to_owned()
}
