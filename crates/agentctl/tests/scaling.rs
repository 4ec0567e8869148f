//! Autoscaling, schedules, Spot mix, alarms, dashboard and the metrics sidecar
//! against moto: created with the configured values, planned and applied as
//! updates, removed when removed from the config, gone after destroy.

mod support;

use support::{rt, World};

const AUTOSCALING: &str = "autoscaling = {\n  min = 1\n  max = 6\n  cpu_target = 70\n  active_tasks_target = 16\n  scale_in_cooldown = 600\n}";
const SCHEDULES: &str = "schedules = [\n  { name = \"evening-down\", schedule = \"cron(0 20 ? * MON-FRI *)\", timezone = \"Europe/London\", min = 0, max = 1 },\n  { name = \"morning-up\", schedule = \"cron(0 7 ? * MON-FRI *)\", min = 2, max = 6 },\n]";
const CAPACITY: &str = "capacity = {\n  fargate_base = 1\n  fargate_weight = 1\n  spot_weight = 3\n}";
const ALARMS: &str = "alarms = {\n  sns_topic_arns = [\"arn:aws:sns:us-east-1:123456789012:agent-alerts\"]\n  cpu_high = 80\n  dashboard = true\n}";

fn full(extra: &str) -> String {
    format!("metrics = true\n{AUTOSCALING}\n{SCHEDULES}\n{CAPACITY}\n{ALARMS}\n{extra}")
}

/// (name, expression, time zone, min, max)
type ScheduleSeen = (String, String, Option<String>, Option<i32>, Option<i32>);

struct Seen {
    target: Option<(i32, i32)>,
    policies: Vec<(String, f64, String)>,
    schedules: Vec<ScheduleSeen>,
    alarms: Vec<(String, f64, Vec<String>)>,
    dashboards: Vec<String>,
}

fn seen(w: &World) -> Seen {
    rt().block_on(async {
        let cfg = w.sdk().await;
        let aas = aws_sdk_applicationautoscaling::Client::new(&cfg);
        let ns = "ecs";
        let targets = aas.describe_scalable_targets().service_namespace(ns.into()).send().await.unwrap();
        let target = targets.scalable_targets().first().map(|t| (t.min_capacity(), t.max_capacity()));
        let policies = aas.describe_scaling_policies().service_namespace(ns.into()).send().await.unwrap();
        let policies = policies
            .scaling_policies()
            .iter()
            .map(|p| {
                let c = p.target_tracking_scaling_policy_configuration().unwrap();
                let metric = c
                    .predefined_metric_specification()
                    .map(|m| m.predefined_metric_type().as_str().to_owned())
                    .or_else(|| {
                        c.customized_metric_specification()
                            .map(|m| format!("{}:{}", m.namespace().unwrap(), m.metric_name().unwrap()))
                    })
                    .unwrap();
                (p.policy_name().to_owned(), c.target_value(), metric)
            })
            .collect();
        let actions = aas.describe_scheduled_actions().service_namespace(ns.into()).send().await.unwrap();
        let schedules = actions
            .scheduled_actions()
            .iter()
            .map(|a| {
                let t = a.scalable_target_action().unwrap();
                (
                    a.scheduled_action_name().to_owned(),
                    a.schedule().to_owned(),
                    a.timezone().map(str::to_owned),
                    t.min_capacity(),
                    t.max_capacity(),
                )
            })
            .collect();
        let cw = aws_sdk_cloudwatch::Client::new(&cfg);
        let alarms = cw.describe_alarms().alarm_name_prefix(format!("{}-", w.name)).send().await.unwrap();
        let alarms = alarms
            .metric_alarms()
            .iter()
            .map(|a| (a.alarm_name().unwrap().to_owned(), a.threshold().unwrap(), a.alarm_actions().to_vec()))
            .collect();
        let dashboards = cw
            .list_dashboards()
            .send()
            .await
            .unwrap()
            .dashboard_entries()
            .iter()
            .map(|d| d.dashboard_name().unwrap().to_owned())
            .collect();
        Seen { target, policies, schedules, alarms, dashboards }
    })
}

#[test]
fn every_scaling_and_alarm_piece_is_created_updated_removed_and_destroyed() {
    let w = World::new("scl");
    w.config(&full(""));
    let applied = w.run(&["apply", "--yes"]);
    applied.expect_code(0);
    assert!(applied.stdout.contains("completed"), "{}", applied.stdout);
    let s = seen(&w);
    assert_eq!(s.target, Some((1, 6)));
    let mut policies = s.policies.clone();
    policies.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        policies,
        vec![
            ("scl-active-tasks".to_owned(), 16.0, "Matillion/Agent:app_active_task_count".to_owned()),
            ("scl-cpu".to_owned(), 70.0, "ECSServiceAverageCPUUtilization".to_owned()),
        ]
    );
    let mut schedules = s.schedules.clone();
    schedules.sort();
    assert_eq!(
        schedules,
        vec![
            (
                "scl-evening-down".to_owned(),
                "cron(0 20 ? * MON-FRI *)".to_owned(),
                Some("Europe/London".to_owned()),
                Some(0),
                Some(1)
            ),
            ("scl-morning-up".to_owned(), "cron(0 7 ? * MON-FRI *)".to_owned(), None, Some(2), Some(6)),
        ]
    );
    let names: Vec<&str> = s.alarms.iter().map(|a| a.0.as_str()).collect();
    for n in ["scl-cpu-high", "scl-memory-high", "scl-agent-saturated"] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    // The evening schedule allows 0 tasks: no alarm may read "no task" as an outage.
    for n in ["scl-tasks-below-desired", "scl-agent-not-running"] {
        assert!(!names.contains(&n), "{n} would fire every evening: {names:?}");
    }
    let cpu = s.alarms.iter().find(|a| a.0 == "scl-cpu-high").unwrap();
    assert_eq!((cpu.1, cpu.2.clone()), (80.0, vec!["arn:aws:sns:us-east-1:123456789012:agent-alerts".to_owned()]));
    assert_eq!(s.dashboards, vec!["scl-agent".to_owned()]);
    rt().block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&w.sdk().await);
        let c = ecs.describe_clusters().clusters("scl").send().await.unwrap();
        let mut providers = c.clusters()[0].capacity_providers().to_vec();
        providers.sort();
        assert_eq!(providers, ["FARGATE", "FARGATE_SPOT"]);
        let td = ecs.describe_task_definition().task_definition("scl-agent").send().await.unwrap();
        let containers = td.task_definition().unwrap().container_definitions();
        let agent = containers.iter().find(|c| c.name() == Some("agent")).unwrap();
        let sidecar = containers.iter().find(|c| c.name() == Some("metrics")).expect("metrics sidecar");
        assert_eq!(agent.essential(), Some(true));
        assert_eq!(sidecar.essential(), Some(false), "a sidecar failure must never stop the agent");
        let dep = &sidecar.depends_on()[0];
        assert_eq!((dep.container_name(), dep.condition().as_str()), ("agent", "START"));
        let env: Vec<_> = sidecar.environment().iter().map(|e| (e.name().unwrap(), e.value().unwrap())).collect();
        let prom = env.iter().find(|(n, _)| *n == "PROMETHEUS_CONFIG_CONTENT").unwrap().1;
        assert!(prom.contains("localhost:8080") && prom.contains("/actuator/prometheus"));
        let cw = env.iter().find(|(n, _)| *n == "CW_CONFIG_CONTENT").unwrap().1;
        for m in [
            "app_active_task_count",
            "app_active_request_count",
            "app_open_sessions_count",
            "app_agent_status",
            "ClusterName",
            "ServiceName",
        ] {
            assert!(cw.contains(m), "{m} not published: {cw}");
        }
    });
    w.expect_no_changes();
    let status = w.run(&["status"]);
    for e in [
        "Autoscaling: 1 to 6 tasks",
        "scl-cpu",
        "evening-down",
        "Europe/London",
        "next     scl-",
        "Alarms",
        "scl-cpu-high",
    ] {
        assert!(status.stdout.contains(e), "status lacks {e}:\n{}", status.stdout);
    }
    // Autoscaling owns the count: a changed count is not drift, and a deploy keeps it.
    rt().block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&w.sdk().await);
        ecs.update_service().cluster("scl").service("scl-agent").desired_count(5).send().await.unwrap();
    });
    w.expect_no_changes();
    w.config(&full("image_url = \"public.ecr.aws/matillion/etl-agent:stable\""));
    w.run(&["apply", "--yes"]).expect_code(0);
    rt().block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&w.sdk().await);
        let s = ecs.describe_services().cluster("scl").services("scl-agent").send().await.unwrap();
        assert_eq!(s.services()[0].desired_count(), 5, "a deploy reset the count autoscaling had set");
    });
    // scale stays within the bounds.
    let out_of_bounds = w.run(&["scale", "9"]);
    out_of_bounds.expect_code(1);
    assert!(out_of_bounds.stderr.contains("between 1 and 6"), "{}", out_of_bounds.stderr);

    // Changes are updates.
    let changed = full("image_url = \"public.ecr.aws/matillion/etl-agent:stable\"")
        .replace("cpu_target = 70", "cpu_target = 60")
        .replace("cron(0 7 ? * MON-FRI *)", "cron(30 6 ? * MON-FRI *)")
        .replace("cpu_high = 80", "cpu_high = 90");
    w.config(&changed);
    let plan = w.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    for e in [
        "scaling_policy.cpu",
        "70.0 -> 60.0",
        "scheduled_action.morning-up",
        "cron(30 6",
        "alarm.cpu-high",
        "80.0 -> 90.0",
    ] {
        assert!(plan.stdout.contains(e), "plan lacks {e}:\n{}", plan.stdout);
    }
    assert!(plan.stdout.contains("0 to create") && plan.stdout.contains("0 to delete"), "{}", plan.stdout);
    w.run(&["apply", "--yes"]).expect_code(0);
    w.expect_no_changes();
    let s = seen(&w);
    assert!(s.policies.iter().any(|p| p.0 == "scl-cpu" && p.1 == 60.0));
    assert!(s.alarms.iter().any(|a| a.0 == "scl-cpu-high" && a.1 == 90.0));

    // Removed from the config: removed from AWS.
    w.config("image_url = \"public.ecr.aws/matillion/etl-agent:stable\"\nmetrics = true");
    // Before that apply, scale (which then expects no autoscaling) still warns.
    let unexpected = w.run(&["scale", "9", "--no-wait"]);
    unexpected.expect_code(0);
    assert!(unexpected.stderr.contains("between 1 and 6 tasks: it will change 9 back"), "{}", unexpected.stderr);
    let plan = w.run(&["plan"]);
    for e in [
        "scalable_target.agent",
        "scaling_policy.cpu",
        "scheduled_action.evening-down",
        "alarm.cpu-high",
        "dashboard.agent",
        "(delete)",
    ] {
        assert!(plan.stdout.contains(e), "plan lacks {e}:\n{}", plan.stdout);
    }
    w.run(&["apply", "--yes"]).expect_code(0);
    w.expect_no_changes();
    let s = seen(&w);
    assert!(s.target.is_none() && s.policies.is_empty() && s.schedules.is_empty(), "scaling left behind");
    assert!(
        s.alarms.iter().all(|a| !a.0.starts_with("scl-cpu")) && s.dashboards.is_empty(),
        "alarms left behind: {:?}",
        s.alarms
    );

    // Back again, then destroy leaves none of it.
    w.config(&full(""));
    w.run(&["apply", "--yes"]).expect_code(0);
    w.run(&["destroy", "--yes", "--force-delete-secret"]).expect_code(0);
    let s = seen(&w);
    assert!(s.target.is_none() && s.policies.is_empty() && s.schedules.is_empty() && s.dashboards.is_empty());
    assert!(s.alarms.iter().all(|a| !a.0.starts_with("scl-")), "{:?}", s.alarms);
}

#[test]
fn scaling_config_is_validated_before_any_aws_call() {
    let w = World::new("sclbad");
    for (extra, expected) in [
        ("autoscaling = {\n min = 3\n max = 2\n}", "above `autoscaling.max`"),
        ("autoscaling = {\n min = 3\n max = 6\n}", "outside the autoscaling range"),
        ("metrics = true\nautoscaling = {\n min = 1\n max = 6\n active_tasks_target = 20\n}", "hard cap"),
        ("autoscaling = {\n min = 1\n max = 6\n active_tasks_target = 16\n}", "metrics = true"),
        ("schedules = [{ name = \"x\", schedule = \"cron(0 20 * * MON *)\", min = 1 }]", "`autoscaling` is not set"),
        ("autoscaling = {\n min = 1\n max = 6\n}\nschedules = [{ name = \"x\", schedule = \"cron(0 20 * * MON *)\", min = 1 }]", "exactly one of day-of-month and day-of-week"),
        ("autoscaling = {\n min = 1\n max = 6\n}\nschedules = [{ name = \"x\", schedule = \"rate(1 days)\", max = 1 }]", "singular for 1"),
        ("capacity = {\n fargate_weight = 0\n spot_weight = 0\n}", "no weight"),
        ("alarms = {\n sns_topic_arns = [\"topic\"]\n}", "not an SNS topic ARN"),
        ("alarms = {\n agent_saturation = 15\n}", "`metrics` is off"),
        ("autoscaling = {\n min = 1\n max = 6\n}\nschedules = [{ name = \"x\", schedule = \"rate(1 day)\", timezone = \"Europe/Londn\", max = 1 }]", "not an IANA time zone"),
        ("autoscaling = {\n min = 1\n max = 6\n cpu_targte = 50\n}", "did you mean `cpu_target`?"),
    ] {
        w.config(extra);
        let r = w.run(&["plan"]);
        assert_eq!(r.code, 3, "{extra}: {}", r.stderr);
        assert!(r.stderr.contains(expected) && r.stderr.contains("nothing was sent to AWS"), "{extra}: expected {expected:?} in\n{}", r.stderr);
    }
}

#[test]
fn cost_covers_the_autoscaling_range_and_the_spot_share() {
    let w = World::new("sclcost");
    w.config(&full(""));
    let r = w.run(&["cost", "-o", "json"]);
    r.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    // Schedules widen autoscaling's 1..6 to 0..6.
    assert_eq!(v["min"]["tasks"], 0, "{v:#}");
    assert_eq!(v["max"]["tasks"], 6, "{v:#}");
    assert!(v["max"]["spot_tasks"].as_f64().unwrap() > 0.0, "{v:#}");
}
