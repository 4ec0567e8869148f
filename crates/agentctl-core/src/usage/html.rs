//! The usage report as one self-contained HTML file: inline CSS and SVG, no
//! script, font or image from the network — to attach to a ticket. It is
//! well-formed XML, so it parses as XHTML too.

use super::render::CHARTS;
use super::{fmt_time, tfvars_snippet, Report};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 160.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An SVG line chart of an hourly series, scaled to its maximum.
fn svg_chart(values: &[Option<f64>], title: &str) -> String {
    let top = values.iter().flatten().copied().fold(0.0_f64, f64::max).max(1.0);
    let step = WIDTH / (values.len().max(2) - 1) as f64;
    // One polyline per run of hours with data: a gap stays a gap.
    let mut runs: Vec<Vec<String>> = vec![vec![]];
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let (x, y) = (i as f64 * step, HEIGHT - v / top * HEIGHT);
                runs.last_mut().expect("a run").push(format!("{x:.1},{y:.1}"));
            }
            None if !runs.last().expect("a run").is_empty() => runs.push(vec![]),
            None => {}
        }
    }
    let lines: String = runs
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| {
            format!("<polyline fill=\"none\" stroke=\"#2a7ae2\" stroke-width=\"1.5\" points=\"{}\"/>", r.join(" "))
        })
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\"><title>{t}</title><rect width=\"{w}\" height=\"{h}\" fill=\"#f7f9fc\"/>{lines}<text x=\"4\" y=\"12\" font-size=\"11\">{top:.0}</text></svg>",
        w = WIDTH,
        h = HEIGHT,
        t = escape(title)
    )
}

/// The hour-of-week heat strip as SVG cells.
fn svg_heat(by_hour: &[Option<f64>]) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let top = by_hour.iter().flatten().copied().fold(0.0_f64, f64::max).max(f64::MIN_POSITIVE);
    let mut cells = String::new();
    for (h, v) in by_hour.iter().enumerate() {
        let (x, y) = (40 + (h % 24) * 26, (h / 24) * 20);
        let fill = match v {
            None => "#eeeeee".to_owned(),
            Some(v) => format!("rgba(42,122,226,{:.2})", (v / top).clamp(0.0, 1.0)),
        };
        cells.push_str(&format!("<rect x=\"{x}\" y=\"{y}\" width=\"24\" height=\"18\" fill=\"{fill}\"/>"));
    }
    for (d, day) in DAYS.iter().enumerate() {
        cells.push_str(&format!("<text x=\"0\" y=\"{}\" font-size=\"12\">{day}</text>", d * 20 + 13));
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"670\" height=\"140\" viewBox=\"0 0 670 140\"><title>Running pipelines by hour of the week</title>{cells}</svg>"
    )
}

/// The report as a standalone HTML document.
pub fn html(r: &Report) -> String {
    let mut body = format!(
        "<h1>Usage of {} in {}</h1><p>Last {} days: {} to {}</p>",
        escape(&r.service),
        escape(&r.region),
        r.days_asked,
        fmt_time(r.start),
        fmt_time(r.start + 3600 * r.hours as i64)
    );
    if !r.gaps.is_empty() {
        body.push_str("<ul class=\"notes\">");
        for g in &r.gaps {
            body.push_str(&format!("<li>{}</li>", escape(g)));
        }
        body.push_str("</ul>");
    }
    for (metric, title, unit) in CHARTS {
        let (Some(values), Some(Some(s))) = (r.hourly.get(&metric), r.series.get(&metric)) else { continue };
        body.push_str(&format!(
            "<h2>{} ({unit})</h2><p>p50 {:.1}, p95 {:.1}, max {:.1}</p>{}",
            escape(title),
            s.p50,
            s.p95,
            s.max,
            svg_chart(values, title)
        ));
    }
    if let Some(by_hour) = &r.pipelines_by_hour_of_week {
        body.push_str(&format!(
            "<h2>Running pipelines by hour of the week ({})</h2>{}",
            escape(&r.current.timezone),
            svg_heat(by_hour)
        ));
    }
    if r.saturated {
        body.push_str("<p class=\"alert\">Saturated: the busiest agents run more than 18 of their 20 pipelines.</p>");
    }
    if !r.advice.is_empty() {
        body.push_str("<h2>Recommendation</h2><ul>");
        for a in &r.advice {
            body.push_str(&format!(
                "<li><strong>{}</strong>: {}<br/><small>{}</small></li>",
                escape(a.topic),
                escape(&a.advice),
                escape(&a.evidence)
            ));
        }
        body.push_str("</ul>");
    }
    if let (Some(now), Some(after), Some(saved)) = (r.cost_now, r.cost_after, r.savings_per_month) {
        body.push_str(&format!("<p>Monthly cost: ${now:.2} now, ${after:.2} after (difference ${saved:.2}).</p>"));
    }
    if let Some(rec) = &r.recommendation {
        body.push_str(&format!("<h2>terraform.tfvars</h2><pre>{}</pre>", escape(&tfvars_snippet(rec))));
    }
    format!(
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/><title>agentctl usage: {}</title><style>body{{font-family:sans-serif;max-width:760px;margin:2em auto;color:#222}}.alert{{color:#b00;font-weight:bold}}pre{{background:#f4f4f4;padding:1em}}small{{color:#555}}</style></head><body>{body}</body></html>\n",
        escape(&r.service)
    )
}
