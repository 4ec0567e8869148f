//! The agent task's two optional sidecars: the CloudWatch agent publishing the
//! agent's Prometheus metrics, and the guard keeping busy tasks protected from
//! scale-in. Both are non-essential and start after the agent, so neither can
//! stop it once it runs; each reserves a small, known share of the task.

use std::collections::BTreeMap;

use super::{ContainerDependency, ContainerSpec, KeyValue, AGENT_CONTAINER};

/// Namespace the metrics sidecar publishes the agent's Prometheus metrics in.
pub const METRICS_NAMESPACE: &str = "Matillion/Agent";
/// Name of the metrics sidecar container.
pub const METRICS_CONTAINER: &str = "metrics";
/// What the CloudWatch agent reserves of the task (CPU units, MiB).
pub const METRICS_SHARE: (u32, u32) = (64, 128);

/// Name of the guard container.
pub const GUARD_CONTAINER: &str = "guard";
/// What the guard reserves of the task (CPU units, MiB).
pub const GUARD_SHARE: (u32, u32) = (16, 32);
/// The guard's log stream prefix: its lines are in `guard/guard/TASK_ID`.
pub const GUARD_LOG_PREFIX: &str = "guard";
/// The guard's log stream in a task: where its lines (and pipeline counts) are.
pub fn guard_log_stream(task_id: &str) -> String {
    format!("{GUARD_LOG_PREFIX}/{GUARD_CONTAINER}/{task_id}")
}
/// The guard's program, run as `sh -c GUARD_SCRIPT`.
pub const GUARD_SCRIPT: &str = include_str!("guard.sh");
/// The guard's settings, as its environment holds them (the script's defaults).
const GUARD_ENVIRONMENT: [(&str, &str); 3] = [
    ("AGENT_METRICS_URL", "http://localhost:8080/actuator/prometheus"),
    ("GUARD_INTERVAL_SECONDS", "15"),
    ("PROTECTION_MINUTES", "60"),
];

/// Where sidecars log: the agent's log group, one stream prefix each.
pub struct SidecarLogs<'a> {
    pub group: &'a str,
    pub region: &'a str,
}

/// A sidecar of the agent: not essential, started after the agent, logging to
/// the agent's log group under its own prefix.
fn sidecar(name: &str, image: &str, (cpu, memory): (u32, u32), logs: &SidecarLogs) -> ContainerSpec {
    ContainerSpec {
        name: name.into(),
        image: image.into(),
        essential: false,
        command: vec![],
        cpu: Some(cpu),
        memory_reservation: Some(memory),
        port_mappings: vec![],
        environment: vec![],
        secrets: vec![],
        user: None,
        readonly_root_filesystem: true,
        mount_points: vec![],
        log_driver: "awslogs".into(),
        log_options: BTreeMap::from([
            ("awslogs-group".to_owned(), logs.group.to_owned()),
            ("awslogs-region".to_owned(), logs.region.to_owned()),
            ("awslogs-stream-prefix".to_owned(), name.to_owned()),
        ]),
        stop_timeout: 10,
        depends_on: vec![ContainerDependency { container_name: AGENT_CONTAINER.into(), condition: "START".into() }],
    }
}

/// The CloudWatch agent scraping the agent's /actuator/prometheus and writing
/// the four agent metrics as EMF into the agent's own log group.
pub fn metrics(image: &str, cluster: &str, service: &str, logs: &SidecarLogs) -> ContainerSpec {
    // Only the agent's own `app_*` series are kept: every scraped series
    // becomes a log event, and the JVM's and Tomcat's would be paid for as logs.
    let prometheus = format!(
        "global:\n  scrape_interval: 60s\nscrape_configs:\n  - job_name: agent\n    metrics_path: /actuator/prometheus\n    static_configs:\n      - targets: ['localhost:8080']\n        labels:\n          ClusterName: {cluster}\n          ServiceName: {service}\n    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: 'app_.*'\n        action: keep\n"
    );
    let cw = serde_json::json!({
        "logs": {
            "metrics_collected": {
                "prometheus": {
                    "log_group_name": logs.group,
                    "prometheus_config_path": "env:PROMETHEUS_CONFIG_CONTENT",
                    "emf_processor": {
                        "metric_namespace": METRICS_NAMESPACE,
                        "metric_declaration": [{
                            "source_labels": ["job"],
                            "label_matcher": "^agent$",
                            "dimensions": [["ClusterName", "ServiceName"]],
                            "metric_selectors": ["^app_active_task_count$", "^app_active_request_count$", "^app_open_sessions_count$", "^app_agent_status$"]
                        }]
                    }
                }
            },
            "force_flush_interval": 60
        }
    });
    ContainerSpec {
        environment: vec![
            KeyValue { name: "CW_CONFIG_CONTENT".into(), value: cw.to_string() },
            KeyValue { name: "PROMETHEUS_CONFIG_CONTENT".into(), value: prometheus },
        ],
        // The CloudWatch agent writes its own state under /opt/aws.
        readonly_root_filesystem: false,
        ..sidecar(METRICS_CONTAINER, image, METRICS_SHARE, logs)
    }
}

/// The guard: reads the agent's running pipelines and keeps the task protected
/// from scale-in while there are any (see guard.sh). It needs no file system
/// and no privilege.
pub fn guard(image: &str, logs: &SidecarLogs) -> ContainerSpec {
    ContainerSpec {
        command: vec!["sh".into(), "-c".into(), GUARD_SCRIPT.into()],
        environment: GUARD_ENVIRONMENT
            .iter()
            .map(|(name, value)| KeyValue { name: (*name).into(), value: (*value).into() })
            .collect(),
        user: Some("65534".into()),
        ..sidecar(GUARD_CONTAINER, image, GUARD_SHARE, logs)
    }
}
