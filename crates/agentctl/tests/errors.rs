//! Errors a person can read: an endpoint that cannot be reached is one line
//! naming it and what to check, never a dump of the SDK's error.

mod support;

use support::{free_port, Run};

/// agentctl with test keys and the agent credentials, sending to `endpoint`.
fn run(dir: &std::path::Path, args: &[&str], endpoint: &str) -> Run {
    let env = [&[("AWS_ENDPOINT_URL", endpoint)][..], &support::TEST_KEYS, &support::AGENT_CREDENTIALS].concat();
    support::run_offline(dir, args, &env)
}

fn config(dir: &std::path::Path) {
    std::fs::write(
        dir.join("terraform.tfvars"),
        "name = \"unreach\"\nregion = \"us-east-1\"\naccount_id = \"4f1c2a9e-7d3b-4c8e-9a61-2b5d8e0f3c17\"\nagent_id = \"a7e3c9d1-0b2f-4e6a-8c5d-9f1b3e7a2d40\"\n",
    )
    .unwrap();
}

#[test]
fn an_endpoint_that_refuses_or_does_not_resolve_is_one_line_with_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    config(dir.path());
    let refused = format!("http://127.0.0.1:{}", free_port());
    for (endpoint, why) in
        [(refused.as_str(), "Connection refused"), ("http://agentctl-test.invalid:4566", "failed to lookup address")]
    {
        // status asks STS first; scale makes no STS call and meets ECS first.
        for args in [&["status"][..], &["scale", "3", "--no-wait"]] {
            let Run { code, stderr, .. } = run(dir.path(), args, endpoint);
            assert_eq!(code, 1, "{args:?} {endpoint}: {stderr}");
            let first = stderr.lines().next().unwrap_or_default();
            assert!(first.starts_with("error: "), "{first}");
            assert!(first.contains(&format!("cannot connect to {endpoint} (AWS_ENDPOINT_URL)")), "{first}");
            assert!(first.contains(why), "{first}");
            assert!(stderr.contains("help: check that"), "{stderr}");
            for debug in ["DispatchFailure", "ConnectorError", "Some(", " { "] {
                assert!(!stderr.contains(debug), "{args:?}: a Debug dump reached the user:\n{stderr}");
            }
        }
    }
}

#[test]
fn verbose_shows_the_cause_chain_as_sentences() {
    let dir = tempfile::tempdir().unwrap();
    config(dir.path());
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let Run { code, stderr: quiet, .. } = run(dir.path(), &["status"], &endpoint);
    assert_eq!(code, 1, "{quiet}");
    assert!(!quiet.contains("caused by"), "{quiet}");
    let Run { code, stderr: verbose, .. } = run(dir.path(), &["-v", "status"], &endpoint);
    assert_eq!(code, 1, "{verbose}");
    let causes: Vec<&str> = verbose.lines().filter(|l| l.trim_start().starts_with("caused by: ")).collect();
    assert!(!causes.is_empty(), "{verbose}");
    assert!(causes.iter().any(|c| c.contains("Connection refused")), "{causes:?}");
    for debug in ["DispatchFailure", "ConnectorError", "Some(", " { "] {
        assert!(!verbose.contains(debug), "a Debug dump reached the user:\n{verbose}");
    }
}
