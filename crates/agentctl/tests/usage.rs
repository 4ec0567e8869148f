//! `agentctl usage` against moto, which keeps metric data (PutMetricData, then
//! GetMetricData): 14 days of hourly points shaped like an oversized agent that
//! idles at night and at weekends, then the report in JSON, text and HTML.

mod support;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use chrono::{Datelike, Timelike, Utc};
use serde_json::Value;
use support::{rt, World};

/// Puts 14 days of hourly points, up to the last full hour: weekdays
/// 08:00–20:00 UTC busy (6 pipelines per agent, 300 CPU units, 1500 MiB at
/// peak), otherwise idle; two medium tasks running all along.
fn put_oversized_idle_at_night(w: &World, cluster: &str, service: &str) {
    let now = Utc::now().timestamp();
    let end = now - now.rem_euclid(3600);
    rt().block_on(async {
        let cw = aws_sdk_cloudwatch::Client::new(&w.sdk().await);
        let dims = [("ClusterName", cluster), ("ServiceName", service)]
            .map(|(n, v)| Dimension::builder().name(n).value(v).build());
        let mut by_namespace: Vec<(&str, MetricDatum)> = Vec::new();
        for h in 1..=14 * 24 {
            let at = end - 3600 * h + 1800;
            let t = chrono::DateTime::from_timestamp(at, 0).unwrap();
            let busy = t.weekday().num_days_from_monday() < 5 && (8..20).contains(&t.hour());
            let (cpu, mem, pipelines) = if busy { (300.0, 1500.0, 6.0) } else { (40.0, 800.0, 0.0) };
            for (namespace, name, value) in [
                ("ECS/ContainerInsights", "CpuUtilized", cpu),
                ("ECS/ContainerInsights", "CpuReserved", 2048.0),
                ("ECS/ContainerInsights", "MemoryUtilized", mem),
                ("ECS/ContainerInsights", "MemoryReserved", 8192.0),
                ("ECS/ContainerInsights", "RunningTaskCount", 2.0),
                ("Matillion/Agent", "app_active_task_count", pipelines),
            ] {
                let datum = MetricDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(dims.to_vec()))
                    .timestamp(DateTime::from_secs(at))
                    .value(value)
                    .build();
                by_namespace.push((namespace, datum));
            }
        }
        for namespace in ["ECS/ContainerInsights", "Matillion/Agent"] {
            let data: Vec<MetricDatum> =
                by_namespace.iter().filter(|(n, _)| *n == namespace).map(|(_, d)| d.clone()).collect();
            for batch in data.chunks(500) {
                cw.put_metric_data().namespace(namespace).set_metric_data(Some(batch.to_vec())).send().await.unwrap();
            }
        }
    });
}

#[test]
fn an_oversized_agent_idle_at_night_is_shown_and_right_sized() {
    let w = World::new("use");
    w.config("runner_size = \"medium\"\nmetrics = true\n");
    w.apply();
    put_oversized_idle_at_night(&w, "use", "use-agent");
    let dir = tempfile::tempdir().unwrap();
    let html_path = dir.path().join("usage.html");
    let out = w.run(&["usage", "-o", "json", "--html", html_path.to_str().unwrap()]);
    out.expect_code(0);
    let report: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    let rec = &report["recommendation"];
    assert_eq!((rec["agent_cpu"].as_u64(), rec["agent_memory"].as_u64()), (Some(512), Some(2048)), "{report:#}");
    assert_eq!(rec["desired_count"], 1);
    assert_eq!(rec["schedules"][0]["schedule"], "cron(0 20 ? * MON-FRI *)");
    assert_eq!(rec["schedules"][1]["schedule"], "cron(0 8 ? * MON-FRI *)");
    assert!(report["savings_per_month"].as_f64().unwrap() > 100.0, "{report:#}");
    assert_eq!(report["days_with_data"], 14);
    assert_eq!(report["gaps"], serde_json::json!([]));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("<svg") && html.contains("night-down"));

    let text = w.run(&["usage"]);
    text.expect_code(0);
    for expected in ["Running pipelines by hour of the week", "task size: 512 CPU units / 2048 MiB", "saves $"] {
        assert!(text.stdout.contains(expected), "{expected}:\n{}", text.stdout);
    }
}

#[test]
fn a_deployment_without_data_says_so_and_recommends_nothing() {
    // Through the proxy, to count round trips: the metric query and the
    // service's description go out together, one wave.
    let w = World::with_proxy("usn", |c| c.latency_ms = 30.0);
    w.config("");
    w.apply();
    let proxy = w.proxy.as_ref().unwrap();
    proxy.reset();
    let out = w.run(&["usage", "--days", "3"]);
    out.expect_code(0);
    let stats = proxy.stats();
    let ops: Vec<&str> = stats["log"].as_array().unwrap().iter().map(|e| e["op"].as_str().unwrap()).collect();
    assert_eq!(stats["waves"], 1, "{ops:?}");
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert!(out.stdout.contains("no data for usn-agent in the last 3 days yet"), "{}", out.stdout);
    assert!(!out.stdout.contains("terraform.tfvars"), "{}", out.stdout);
    let bad = w.run(&["usage", "--days", "64"]);
    bad.expect_code(3);
}
