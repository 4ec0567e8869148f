//! `agentctl tasks` and `agentctl unprotect` with busy, protected tasks. moto
//! runs no tasks and has no task-protection API: the proxy in front of it
//! answers those calls with recorded ECS and CloudWatch Logs responses (the
//! shapes ECS returns) and keeps what agentctl asked.

mod support;

use faultproxy::Canned;
use serde_json::{json, Value};
use support::{Run, World};

/// A running task of the agent's service, protected while it runs 4 pipelines.
const BUSY: &str = "4f0c8a7e2b6d41c9a3e85f17d2b09c64";
/// Another, idle and unprotected, whose guard has not logged yet.
const IDLE: &str = "9b3e1d5a7c2f48e6b0a4d8c61e7f3a25";
const DEPLOYMENT: &str = "ecs-svc/4815162342108000000";

fn arn(task: &str) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task/prot/{task}")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn task(id: &str, zone: &str, ip: &str, started_at: i64) -> Value {
    json!({
        "taskArn": arn(id),
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prot",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/prot-agent:3",
        "group": "service:prot-agent",
        "launchType": "FARGATE",
        "platformVersion": "1.4.0",
        "cpu": "2048",
        "memory": "4096",
        "lastStatus": "RUNNING",
        "desiredStatus": "RUNNING",
        "healthStatus": "UNKNOWN",
        "connectivity": "CONNECTED",
        "createdAt": started_at - 40,
        "startedAt": started_at,
        "startedBy": DEPLOYMENT,
        "availabilityZone": zone,
        "attachments": [{
            "id": "6d2c1f0e-3b4a-4c5d-8e9f-0a1b2c3d4e5f",
            "type": "ElasticNetworkInterface",
            "status": "ATTACHED",
            "details": [
                {"name": "subnetId", "value": "subnet-0a1b2c3d4e5f60718"},
                {"name": "networkInterfaceId", "value": "eni-0f1e2d3c4b5a69788"},
                {"name": "privateIPv4Address", "value": ip}
            ]
        }],
        "containers": [
            {"name": "agent", "lastStatus": "RUNNING", "taskArn": arn(id), "image": "public.ecr.aws/matillion/etl-agent:current"},
            {"name": "guard", "lastStatus": "RUNNING", "taskArn": arn(id), "image": "public.ecr.aws/amazonlinux/amazonlinux:2023.12.20260831.0"}
        ],
        "version": 3
    })
}

/// What ECS and CloudWatch Logs answer about the service's two running tasks;
/// the busy one is protected until `until`.
fn recorded(until: i64) -> Vec<Canned> {
    let started = now() - 3 * 3600;
    let ms = now() * 1000;
    let tasks = json!({"tasks": [task(BUSY, "us-east-1a", "10.0.1.23", started), task(IDLE, "us-east-1b", "10.0.2.41", started + 60)], "failures": []});
    let protection = json!({
        "protectedTasks": [
            {"taskArn": arn(BUSY), "protectionEnabled": true, "expirationDate": until},
            {"taskArn": arn(IDLE), "protectionEnabled": false}
        ],
        "failures": []
    });
    let guard = json!({
        "events": [
            {"timestamp": ms - 30_000, "message": "3 pipelines running: task protected for 60 minutes", "ingestionTime": ms - 29_000},
            {"timestamp": ms - 15_000, "message": "4 pipelines running", "ingestionTime": ms - 14_000}
        ],
        "nextForwardToken": "f/38412345678901234567890123456789012345678901234567890",
        "nextBackwardToken": "b/38412345678901234567890123456789012345678901234567890"
    });
    let no_stream =
        json!({"__type": "ResourceNotFoundException", "message": "The specified log stream does not exist."});
    let released = json!({"protectedTasks": [{"taskArn": arn(BUSY), "protectionEnabled": false}], "failures": []});
    vec![
        Canned::aws_json("ecs.ListTasks", json!({"taskArns": [arn(BUSY), arn(IDLE)]}).to_string())
            .when_body_contains(r#""desiredStatus":"RUNNING""#),
        Canned::aws_json("ecs.ListTasks", json!({"taskArns": []}).to_string())
            .when_body_contains(r#""desiredStatus":"STOPPED""#),
        Canned::aws_json("ecs.DescribeTasks", tasks.to_string()),
        Canned::aws_json("ecs.GetTaskProtection", protection.to_string()),
        Canned::aws_json("logs.GetLogEvents", guard.to_string())
            .when_body_contains(&format!(r#""logStreamName":"guard/guard/{BUSY}""#)),
        Canned::aws_json("logs.GetLogEvents", no_stream.to_string()).status(400),
        Canned::aws_json("ecs.UpdateTaskProtection", released.to_string()),
    ]
}

/// A world whose agent service runs the two tasks, protected until `until`.
fn busy_world(until: i64) -> World {
    let w = World::with_proxy("prot", |c| c.canned = recorded(until));
    w.config("");
    w
}

/// The requests agentctl made of canned operations since the last call,
/// as (operation, parsed JSON body).
fn asked(w: &World) -> Vec<(String, Value)> {
    let proxy = w.proxy.as_ref().unwrap();
    let kept = proxy.canned();
    proxy.reset();
    kept.as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let body = serde_json::from_str(k["body"].as_str().unwrap()).unwrap();
            (k["operation"].as_str().unwrap().to_owned(), body)
        })
        .collect()
}

fn updates(asked: &[(String, Value)]) -> Vec<&Value> {
    asked.iter().filter(|(op, _)| op == "ecs.UpdateTaskProtection").map(|(_, body)| body).collect()
}

/// `until HH:MM UTC` for `until`, as agentctl said it at some moment between
/// `before` and the end of `run` (either side of a midnight).
fn said_until(run: &Run, until: i64, before: i64) -> bool {
    [before, now()].iter().any(|&at| run.all().contains(&agentctl_core::protection::until(until, at)))
}

/// The table row of a task.
fn row<'a>(run: &'a Run, task: &str) -> &'a str {
    run.stdout.lines().find(|l| l.contains(task)).unwrap_or_else(|| panic!("no row for {task}:\n{}", run.stdout))
}

#[test]
fn tasks_show_which_are_protected_and_how_many_pipelines_they_run() {
    let until = now() + 50 * 60;
    let w = busy_world(until);
    let before = now();
    let r = w.run(&["tasks"]);
    r.expect_code(0);
    assert!(r.stdout.contains("Running (2)") && r.stdout.contains("Recently stopped (0)"), "{}", r.stdout);
    let header = row(&r, "TASK");
    assert!(header.contains("PROTECTED") && header.trim_end().ends_with("PIPELINES"), "{header}");
    let busy = row(&r, BUSY);
    assert!(said_until(&r, until, before), "{}", r.stdout);
    assert!(busy.contains("until ") && busy.contains(" UTC"), "{busy}");
    assert!(busy.contains("10.0.1.23") && busy.contains("us-east-1a") && busy.contains("prot-agent:3"), "{busy}");
    assert_eq!(busy.split_whitespace().last(), Some("4"), "{busy}");
    let idle: Vec<&str> = row(&r, IDLE).split_whitespace().collect();
    assert_eq!(idle[idle.len() - 2..], ["no", "-"], "{idle:?}");

    // Only calls with a recorded answer (none reached moto): both lists, the
    // tasks, their protection, and each task's guard stream.
    let by_operation = w.proxy.as_ref().unwrap().stats()["by_operation"].clone();
    assert_eq!(
        by_operation,
        json!({"ecs.DescribeTasks": 1, "ecs.GetTaskProtection": 1, "ecs.ListTasks": 2, "logs.GetLogEvents": 2})
    );
    let mut made: Vec<(String, Value)> = asked(&w);
    made.sort_by_key(|(op, body)| format!("{op} {body}"));
    let ops: Vec<&str> = made.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(
        ops,
        [
            "ecs.DescribeTasks",
            "ecs.GetTaskProtection",
            "ecs.ListTasks",
            "ecs.ListTasks",
            "logs.GetLogEvents",
            "logs.GetLogEvents"
        ]
    );
    let (_, protection) = &made[1];
    assert_eq!(protection["cluster"], "prot");
    assert_eq!(protection["tasks"], json!([arn(BUSY), arn(IDLE)]));
    let streams: Vec<(&str, &str)> = made[4..]
        .iter()
        .map(|(_, b)| (b["logGroupName"].as_str().unwrap(), b["logStreamName"].as_str().unwrap()))
        .collect();
    assert_eq!(
        streams,
        [
            ("/ecs/prot-agent", format!("guard/guard/{BUSY}").as_str()),
            ("/ecs/prot-agent", format!("guard/guard/{IDLE}").as_str())
        ]
    );

    let j = w.run(&["tasks", "-o", "json"]);
    j.expect_code(0);
    let out: Value = serde_json::from_str(&j.stdout).unwrap();
    let running = out["running"].as_array().unwrap();
    let of = |id: &str| running.iter().find(|t| t["id"] == id).unwrap_or_else(|| panic!("{id} in {out}"));
    assert_eq!(of(BUSY)["protection"], json!({"protected": true, "expires_at": until}));
    assert_eq!(of(BUSY)["pipelines"], 4);
    assert_eq!(of(IDLE)["protection"], json!({"protected": false, "expires_at": null}));
    assert_eq!(of(IDLE)["pipelines"], Value::Null);
    assert_eq!(of(IDLE)["private_ip"], "10.0.2.41");
}

#[test]
fn unprotect_says_what_it_stops_asks_and_turns_off_only_protected_tasks() {
    let until = now() + 50 * 60;
    let w = busy_world(until);

    // Without --yes and without a terminal to ask on: nothing is changed.
    let r = w.run(&["unprotect"]);
    r.expect_code(6);
    assert!(r.stderr.contains("1 protected task of prot-agent"), "{}", r.stderr);
    assert!(updates(&asked(&w)).is_empty(), "nothing turned off without confirmation");

    let before = now();
    let r = w.run(&["unprotect", "--yes"]);
    r.expect_code(0);
    assert!(r.stderr.contains("1 protected task of prot-agent"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{BUSY}: 4 running pipelines, protected until ")), "{}", r.stderr);
    assert!(said_until(&r, until, before), "{}", r.all());
    assert!(r.stderr.contains("the 4 pipelines running on them fail"), "{}", r.stderr);
    assert!(!r.stderr.contains(IDLE), "the idle task is not listed: {}", r.stderr);
    assert!(r.stdout.contains("Protection is off for 1 task."), "{}", r.stdout);
    let made = asked(&w);
    let sent = updates(&made);
    assert_eq!(sent.len(), 1, "{made:?}");
    assert_eq!(sent[0]["protectionEnabled"], false);
    assert_eq!(sent[0]["cluster"], "prot");
    assert_eq!(sent[0]["tasks"], json!([BUSY]), "only the protected task");

    // A task no running task's id starts with.
    let r = w.run(&["unprotect", "--task", "deadbeef", "--yes"]);
    r.expect_code(3);
    assert!(r.stderr.contains("--task deadbeef: no running task of prot-agent has that id"), "{}", r.stderr);
    assert!(updates(&asked(&w)).is_empty());

    // The idle task, by a prefix of its id: not protected, nothing to do.
    let r = w.run(&["unprotect", "--task", &IDLE[..6], "--yes"]);
    r.expect_code(0);
    assert!(r.stdout.contains(&format!("Task {} is not protected: nothing to turn off.", &IDLE[..6])), "{}", r.stdout);
    assert!(updates(&asked(&w)).is_empty());
}
