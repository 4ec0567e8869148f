//! agentctl under injected faults and latency: a faultproxy (crates/faultproxy)
//! between the agentctl binary and a private moto. Throttling errors have the
//! exact wire shape of each AWS protocol, so the SDK's retry strategy sees
//! what it would see from AWS.

// Measurements go to the test log (bench/ reads some of them).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_ec2::error::ProvideErrorMetadata;
use faultproxy::faults::Rates;
use serde_json::Value;
use support::{owned_resources, Run, World, REGION};

/// The reliability profile: 20% throttling, 5% server errors, 2% dropped connections.
fn unreliable(seed: u64) -> impl FnOnce(&mut faultproxy::Config) {
    move |c| {
        c.seed = seed;
        c.rates = Rates { throttle: 0.20, error: 0.05, drop: 0.02, lost_response: 0.0 };
    }
}

fn stats(w: &World) -> Value {
    w.proxy.as_ref().expect("world has a proxy").stats()
}

/// A failed run, with what the proxy did to the requests, to find the cause.
#[track_caller]
fn expect(w: &World, run: &Run, code: i32, what: &str) {
    if run.code != code {
        let s = stats(w);
        let faulted: Vec<String> = s["log"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["fault"] != "none" || e["status"].as_u64().unwrap_or(0) >= 400)
            .map(|e| format!("{:>10} {} {} {}", e["start_ms"], e["op"], e["status"], e["fault"]))
            .collect();
        panic!(
            "{what}: exit {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}\n--- faults and error answers ({} requests)\n{}",
            run.code,
            run.stdout,
            run.stderr,
            s["requests"],
            faulted.join("\n")
        );
    }
}

/// apply -> plan shows no changes -> destroy leaves nothing, with faults injected.
fn converges_under_faults(seed: u64) {
    let w = World::with_proxy(&format!("flt{seed}"), unreliable(seed));
    w.config("");
    let t = Instant::now();
    let apply = w.run(&["apply", "--yes"]);
    expect(&w, &apply, 0, "apply");
    let plan = w.run(&["plan", "--detailed-exitcode"]);
    expect(&w, &plan, 0, "plan after apply");
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    let destroy = w.run(&["destroy", "--yes", "--force-delete-secret"]);
    expect(&w, &destroy, 0, "destroy");
    assert_eq!(owned_resources(&w), Vec::<String>::new(), "destroy left resources behind");

    let s = stats(&w);
    let faults = &s["faults"];
    let n = |k: &str| faults[k].as_u64().unwrap_or(0);
    eprintln!("seed {seed}: {} requests, faults {faults}, {:.1?}", s["requests"], t.elapsed());
    // The faults really happened (the decisions are seeded, so these are stable).
    assert!(s["requests"].as_u64().unwrap() > 100, "{s}");
    assert!(n("throttle") > 10, "{faults}");
    assert!(n("error500") + n("error503") > 0, "{faults}");
}

#[test]
fn seed_1_apply_plan_destroy_converge_under_throttling_errors_and_drops() {
    converges_under_faults(1);
}

#[test]
fn seed_2_apply_plan_destroy_converge_under_throttling_errors_and_drops() {
    converges_under_faults(2);
}

#[test]
fn seed_3_apply_plan_destroy_converge_under_throttling_errors_and_drops() {
    converges_under_faults(3);
}

/// Lost responses: the request takes effect, the answer never arrives, the SDK
/// retries. AWS does this too, rarely; every create/delete must then be
/// idempotent: the lock (a retried put finds its own id; a retried delete finds
/// nothing), IAM roles (EntityAlreadyExists with our tag), log groups, buckets
/// (BucketAlreadyOwnedByYou), the ECS service (client token), flow logs (client
/// token), every delete or detach that finds its target gone, and EC2's creates,
/// which take no client token: agentctl sends those once per attempt and, after
/// an attempt that may have taken effect, finds the resource by its tags.
#[test]
fn lost_responses_still_converge() {
    for seed in [5, 6, 7, 8, 9, 10] {
        let w = World::with_proxy(&format!("lost{seed}"), move |c| {
            c.seed = seed;
            c.rates = Rates { lost_response: 0.12, ..Rates::default() };
        });
        w.config("");
        expect(&w, &w.run(&["apply", "--yes"]), 0, &format!("seed {seed}: apply"));
        expect(&w, &w.run(&["plan", "--detailed-exitcode"]), 0, &format!("seed {seed}: plan after apply"));
        expect(&w, &w.run(&["destroy", "--yes", "--force-delete-secret"]), 0, &format!("seed {seed}: destroy"));
        assert_eq!(owned_resources(&w), Vec::<String>::new(), "seed {seed}: destroy left resources behind");
    }
}

#[test]
fn two_applies_at_once_one_proceeds_the_other_is_locked() {
    let w = World::with_proxy("race", |c| c.latency_ms = 100.0);
    w.config("");
    let spawn = || w.command(&["apply", "--yes"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (a, b) = (spawn(), spawn());
    let runs: Vec<Run> = [a, b].into_iter().map(|c| Run::checked(c.wait_with_output().unwrap())).collect();
    let mut codes: Vec<i32> = runs.iter().map(|r| r.code).collect();
    codes.sort();
    assert_eq!(
        codes,
        [0, 5],
        "one apply proceeds, the other is locked out:\n{}\n---\n{}",
        runs[0].all(),
        runs[1].all()
    );
    let loser = runs.iter().find(|r| r.code == 5).unwrap();
    assert!(loser.stderr.contains("lock"), "the locked-out run says why:\n{}", loser.stderr);
    // The winner built the whole stack.
    w.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

/// The injected errors reach the Rust SDK as AWS's own would: the right error
/// code per protocol, and retried (3 attempts each with max_attempts 3).
#[test]
fn the_sdk_reads_injected_faults_as_retryable_aws_errors() {
    let w = World::new("sdkshape");
    let rt = support::rt();
    let probe = |rates: Rates| -> (Vec<(String, Option<String>)>, Value) {
        let mut cfg = faultproxy::Config::new(w.moto.endpoint.clone());
        cfg.rates = rates;
        let proxy = faultproxy::start(cfg).unwrap();
        let codes = rt.block_on(async {
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(REGION))
                .endpoint_url(proxy.url())
                .credentials_provider(aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "test"))
                .retry_config(
                    aws_config::retry::RetryConfig::standard()
                        .with_max_attempts(3)
                        .with_initial_backoff(Duration::from_millis(1))
                        .with_max_backoff(Duration::from_millis(5)),
                )
                .load()
                .await;
            let s3 =
                aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
            vec![
                (
                    "ec2",
                    aws_sdk_ec2::Client::new(&sdk).describe_vpcs().send().await.unwrap_err().code().map(str::to_owned),
                ),
                (
                    "ecs",
                    aws_sdk_ecs::Client::new(&sdk).list_clusters().send().await.unwrap_err().code().map(str::to_owned),
                ),
                (
                    "iam",
                    aws_sdk_iam::Client::new(&sdk).list_roles().send().await.unwrap_err().code().map(str::to_owned),
                ),
                ("s3", s3.list_buckets().send().await.unwrap_err().code().map(str::to_owned)),
                (
                    "ssm",
                    aws_sdk_ssm::Client::new(&sdk)
                        .describe_parameters()
                        .send()
                        .await
                        .unwrap_err()
                        .code()
                        .map(str::to_owned),
                ),
                (
                    "logs",
                    aws_sdk_cloudwatchlogs::Client::new(&sdk)
                        .describe_log_groups()
                        .send()
                        .await
                        .unwrap_err()
                        .code()
                        .map(str::to_owned),
                ),
                (
                    "secretsmanager",
                    aws_sdk_secretsmanager::Client::new(&sdk)
                        .list_secrets()
                        .send()
                        .await
                        .unwrap_err()
                        .code()
                        .map(str::to_owned),
                ),
            ]
        });
        (codes.into_iter().map(|(s, c)| (s.to_owned(), c)).collect(), proxy.stats())
    };
    let attempts_are_3 = |stats: &Value| {
        let by_op = stats["by_operation"].as_object().unwrap();
        assert_eq!(by_op.len(), 7, "{by_op:?}");
        assert!(by_op.values().all(|n| n == 3), "every call retried to max_attempts: {by_op:?}");
    };

    let (codes, stats) = probe(Rates { throttle: 1.0, ..Rates::default() });
    let expected = [
        ("ec2", "RequestLimitExceeded"),
        ("ecs", "ThrottlingException"),
        ("iam", "Throttling"),
        ("s3", "SlowDown"),
        ("ssm", "ThrottlingException"),
        ("logs", "ThrottlingException"),
        ("secretsmanager", "ThrottlingException"),
    ];
    let expected: Vec<(String, Option<String>)> =
        expected.iter().map(|(s, c)| (s.to_string(), Some(c.to_string()))).collect();
    assert_eq!(codes, expected);
    attempts_are_3(&stats);

    let (codes, stats) = probe(Rates { error: 1.0, ..Rates::default() });
    assert!(codes.iter().all(|(_, c)| c.is_some()), "5xx answers parse as service errors: {codes:?}");
    attempts_are_3(&stats);

    let (codes, stats) = probe(Rates { drop: 1.0, ..Rates::default() });
    assert!(codes.iter().all(|(_, c)| c.is_none()), "a dropped connection is a dispatch failure: {codes:?}");
    attempts_are_3(&stats);
}
