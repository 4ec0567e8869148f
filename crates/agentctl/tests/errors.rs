//! Errors a person can read: an endpoint that cannot be reached is one line
//! naming it and what to check, never a dump of the SDK's error.

mod support;

use std::process::Command;

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run(dir: &std::path::Path, args: &[&str], endpoint: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CI", "true")
        .env("HOME", dir)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("TF_VAR_client_id", support::CLIENT_ID)
        .env("TF_VAR_client_secret", support::CLIENT_SECRET)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    support::assert_no_secret(&stderr);
    (out.status.code().unwrap_or(-1), stderr)
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
    let refused = format!("http://127.0.0.1:{}", closed_port());
    for (endpoint, why) in
        [(refused.as_str(), "Connection refused"), ("http://agentctl-test.invalid:4566", "failed to lookup address")]
    {
        // status asks STS first; scale makes no STS call and meets ECS first.
        for args in [&["status"][..], &["scale", "3", "--no-wait"]] {
            let (code, stderr) = run(dir.path(), args, endpoint);
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
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let (code, quiet) = run(dir.path(), &["status"], &endpoint);
    assert_eq!(code, 1, "{quiet}");
    assert!(!quiet.contains("caused by"), "{quiet}");
    let (code, verbose) = run(dir.path(), &["-v", "status"], &endpoint);
    assert_eq!(code, 1, "{verbose}");
    let causes: Vec<&str> = verbose.lines().filter(|l| l.trim_start().starts_with("caused by: ")).collect();
    assert!(!causes.is_empty(), "{verbose}");
    assert!(causes.iter().any(|c| c.contains("Connection refused")), "{causes:?}");
    for debug in ["DispatchFailure", "ConnectorError", "Some(", " { "] {
        assert!(!verbose.contains(debug), "a Debug dump reached the user:\n{verbose}");
    }
}
