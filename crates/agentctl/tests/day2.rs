//! Day-2 commands against moto: logs, scale, redeploy, rollback, status, tasks.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{rt, World};

fn deployed(name: &str) -> World {
    let w = World::new(name);
    w.config("");
    let r = w.run(&["apply", "--yes"]);
    r.expect_code(0);
    assert!(r.stdout.contains("completed"), "apply waits for its deployment and says how it ended:\n{}", r.stdout);
    w
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn put_logs(w: &World, stream: &str, messages: &[&str]) {
    rt().block_on(async {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&w.sdk().await);
        let group = format!("/ecs/{}-agent", w.name);
        let _ = logs.create_log_stream().log_group_name(&group).log_stream_name(stream).send().await;
        let events = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(now_ms() + i as i64)
                    .message(*m)
                    .build()
                    .unwrap()
            })
            .collect();
        logs.put_log_events()
            .log_group_name(&group)
            .log_stream_name(stream)
            .set_log_events(Some(events))
            .send()
            .await
            .unwrap();
    });
}

fn service_task_definition(w: &World) -> String {
    rt().block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&w.sdk().await);
        let s = ecs.describe_services().cluster(&w.name).services(format!("{}-agent", w.name)).send().await.unwrap();
        s.services()[0].task_definition().unwrap().to_owned()
    })
}

#[test]
fn logs_shows_and_follows_lines_prefixed_by_task() {
    let w = deployed("logs");
    put_logs(&w, "agent/agent/0aaa1111bbbb2222", &["agent started", "polling for work"]);
    put_logs(&w, "agent/agent/9ccc3333dddd4444", &["other task line"]);
    let all = w.run(&["logs", "--since", "1h"]);
    all.expect_code(0);
    assert!(
        all.stdout.contains("[0aaa1111bbbb] agent started") && all.stdout.contains("[9ccc3333dddd] other task line"),
        "{}",
        all.stdout
    );
    let one = w.run(&["logs", "--since", "1h", "--task", "0aaa1111"]);
    assert!(one.stdout.contains("polling for work") && !one.stdout.contains("other task line"), "{}", one.stdout);
    let json = w.run(&["logs", "--since", "1h", "-o", "json"]);
    let first: serde_json::Value = serde_json::from_str(json.stdout.lines().next().unwrap()).unwrap();
    assert!(first["task"].as_str().unwrap().len() > 8 && first["timestamp"].as_i64().unwrap() > 0);
    w.run(&["logs", "--since", "yesterday"]).expect_code(3);

    // Follow: a line written after it started arrives.
    let mut child =
        w.command(&["logs", "-f", "--since", "1h"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(1500));
    put_logs(&w, "agent/agent/0aaa1111bbbb2222", &["a brand new line"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(l);
            if seen.iter().any(|l| l.contains("a brand new line")) {
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    support::assert_no_secret(&seen.join("\n"));
    assert!(seen.iter().any(|l| l == "[0aaa1111bbbb] a brand new line"), "follow did not show the new line: {seen:?}");
    assert_eq!(seen.iter().filter(|l| l.contains("agent started")).count(), 1, "no line twice: {seen:?}");
}

#[test]
fn scale_sets_the_count_and_waits_for_it() {
    let w = deployed("scale");
    let r = w.run(&["scale", "2"]);
    r.expect_code(0);
    assert!(r.stdout.contains("runs 2 tasks"), "{}", r.stdout);
    let r = w.run(&["scale", "4", "--no-wait", "-o", "json"]);
    r.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["desired"], 4);
    assert!(r.stderr.contains("the config says desired_count = 2"), "{}", r.stderr);
    rt().block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&w.sdk().await);
        let s = ecs.describe_services().cluster("scale").services("scale-agent").send().await.unwrap();
        assert_eq!(s.services()[0].desired_count(), 4);
    });
    // The config still says 2: plan shows the difference.
    let plan = w.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert!(plan.stdout.contains("desired_count") && plan.stdout.contains("4 -> 2"), "{}", plan.stdout);
}

#[test]
fn redeploy_with_an_image_makes_a_new_revision_and_rollback_returns() {
    let w = deployed("rdp");
    assert!(service_task_definition(&w).ends_with("rdp-agent:1"));
    let r = w.run(&["redeploy", "--image", "public.ecr.aws/matillion/etl-agent:stable"]);
    r.expect_code(0);
    assert!(r.stdout.contains("completed"), "{}", r.stdout);
    assert!(r.stderr.contains("set it to \"public.ecr.aws/matillion/etl-agent:stable\""), "{}", r.stderr);
    let td = service_task_definition(&w);
    assert!(td.ends_with("rdp-agent:2"), "{td}");
    rt().block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&w.sdk().await);
        let d = ecs.describe_task_definition().task_definition("rdp-agent:2").send().await.unwrap();
        let d = d.task_definition().unwrap();
        assert_eq!(d.container_definitions()[0].image(), Some("public.ecr.aws/matillion/etl-agent:stable"));
        assert_eq!(d.container_definitions()[0].readonly_root_filesystem(), Some(true), "everything else is kept");
        assert_eq!(d.container_definitions()[0].secrets().len(), 2);
    });
    // Same image again: a new deployment, no new revision.
    w.run(&["redeploy", "--no-wait"]).expect_code(0);
    assert!(service_task_definition(&w).ends_with("rdp-agent:2"));
    let back = w.run(&["rollback"]);
    back.expect_code(0);
    assert!(back.stderr.contains("back from") && back.stderr.contains("rdp-agent:1"), "{}", back.stderr);
    assert!(service_task_definition(&w).ends_with("rdp-agent:1"));
    w.run(&["rollback", "--to", "2", "--no-wait"]).expect_code(0);
    assert!(service_task_definition(&w).ends_with("rdp-agent:2"));
    w.run(&["rollback", "--to", "7"]).expect_code(1);
    w.run(&["redeploy", "--image", "Not An Image"]).expect_code(3);
}

#[test]
fn status_and_tasks_in_text_and_json() {
    let w = deployed("stat");
    let s = w.run(&["status"]);
    s.expect_code(0);
    for e in [
        "Service stat-agent in cluster stat: ACTIVE",
        "desired 2, running 2",
        "PRIMARY",
        "COMPLETED",
        "stat-agent:1",
        "Running tasks",
        "secret_arn",
    ] {
        assert!(s.stdout.contains(e), "status lacks {e:?}:\n{}", s.stdout);
    }
    let j = w.run(&["status", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["service"]["desired"], 2);
    assert_eq!(v["service"]["deployments"][0]["rollout_state"], "COMPLETED");
    assert_eq!(v["outputs"]["cluster"], "arn:aws:ecs:us-east-1:123456789012:cluster/stat");
    let t = w.run(&["tasks"]);
    t.expect_code(0);
    assert!(t.stdout.contains("Running (") && t.stdout.contains("Recently stopped ("), "{}", t.stdout);
    let tj = w.run(&["tasks", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&tj.stdout).unwrap();
    assert!(v["running"].is_array() && v["stopped"].is_array() && v["diagnoses"].is_array());
    // Not deployed: a clear message, not a crash.
    let other = World::new("none");
    other.config("");
    let r = other.run(&["status"]);
    r.expect_code(1);
    assert!(r.stderr.contains("does not exist") && r.stderr.contains("agentctl apply"), "{}", r.stderr);
}

/// The calls a command made, in order, as the proxy saw them.
fn calls(w: &World) -> Vec<String> {
    let proxy = w.proxy.as_ref().unwrap();
    let log = proxy.stats()["log"].as_array().unwrap().iter().map(|e| e["op"].as_str().unwrap().to_owned()).collect();
    proxy.reset();
    log
}

#[test]
fn day_two_commands_make_only_the_calls_they_need() {
    // No STS call (ECS takes names), no tag read (DescribeTaskDefinition
    // includes them), and the family read beside the service read.
    let w = World::with_proxy("lean", |_| {});
    w.config("");
    w.run(&["apply", "--yes"]).expect_code(0);
    w.proxy.as_ref().unwrap().reset();

    // No autoscaling in the config: its bounds are read beside the change.
    w.run(&["scale", "3", "--no-wait"]).expect_code(0);
    let mut made = calls(&w);
    made.sort();
    assert_eq!(made, ["application-autoscaling.DescribeScalableTargets", "ecs.UpdateService"]);

    w.run(&["redeploy", "--no-wait"]).expect_code(0);
    assert_eq!(calls(&w), ["ecs.UpdateService"]);

    w.run(&["redeploy", "--image", "public.ecr.aws/matillion/etl-agent:stable", "--no-wait"]).expect_code(0);
    let mut made = calls(&w);
    made[..2].sort(); // one wave: either may reach the proxy first
    assert_eq!(
        made,
        ["ecs.DescribeServices", "ecs.DescribeTaskDefinition", "ecs.RegisterTaskDefinition", "ecs.UpdateService"]
    );

    w.run(&["rollback", "--no-wait"]).expect_code(0);
    assert_eq!(calls(&w), ["ecs.DescribeServices", "ecs.DescribeTaskDefinition", "ecs.UpdateService"]);
}
