//! The proxy end to end: a fake upstream, the proxy in-process, raw HTTP/1.1
//! clients. (Its behaviour against moto and the AWS SDK is tested in
//! crates/agentctl/tests/faults.rs.)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use faultproxy::faults::Rates;
use faultproxy::Config;

/// An upstream that answers every request with 200 and `METHOD TARGET len=N`.
fn upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut data = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head and the Content-Length body.
                loop {
                    let n = conn.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&data).into_owned();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if data.len() >= end + 4 + len {
                            let line = text.lines().next().unwrap().trim_end_matches(" HTTP/1.1").to_owned();
                            let body = format!("{line} len={len}");
                            let _ = write!(
                                conn,
                                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            );
                            return;
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// One request on a fresh connection; `None` when the proxy closed it without answering.
fn send(addr: std::net::SocketAddr, raw: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    (!out.is_empty()).then_some(out)
}

fn ecs(op: &str) -> String {
    let body = r#"{"cluster":"demo"}"#;
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: AmazonEC2ContainerServiceV20141113.{op}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260105/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=00\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn ec2(action: &str) -> String {
    let body = format!("Action={action}&Version=2016-11-15");
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260105/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn forwards_counts_and_adds_latency() {
    let mut cfg = Config::new(upstream());
    cfg.latency_ms = 40.0;
    let p = faultproxy::start(cfg).unwrap();
    let t = Instant::now();
    let out = send(p.addr, &ecs("DescribeServices")).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(40), "{:?}", t.elapsed());
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.ends_with("POST / len=18"), "{out}");
    send(p.addr, &ec2("DescribeVpcs")).unwrap();
    send(p.addr, &ec2("DescribeVpcs")).unwrap();
    // Control endpoints are neither forwarded nor counted.
    let stats = send(p.addr, "GET /__faultproxy/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let json: serde_json::Value = serde_json::from_str(stats.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(json["requests"], 3);
    assert_eq!(json["by_service"], serde_json::json!({"ec2": 2, "ecs": 1}));
    assert_eq!(json["by_operation"], serde_json::json!({"ec2.DescribeVpcs": 2, "ecs.DescribeServices": 1}));
    assert_eq!(json["waves"], 3, "sequential requests are one wave each");
    assert_eq!(p.stats(), json);
    send(p.addr, "POST /__faultproxy/reset HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    assert_eq!(p.stats()["requests"], 0);
}

#[test]
fn keep_alive_connections_carry_several_requests() {
    let p = faultproxy::start(Config::new(upstream())).unwrap();
    let mut s = TcpStream::connect(p.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for i in 0..3 {
        let req = ecs("ListClusters").replace("Connection: close\r\n", "");
        s.write_all(req.as_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 200 OK") && text.contains("Connection: keep-alive"), "{i}: {text}");
    }
    assert_eq!(p.stats()["by_operation"]["ecs.ListClusters"], 3);
}

#[test]
fn injected_throttling_has_each_protocol_shape() {
    let mut cfg = Config::new(upstream());
    cfg.rates = Rates { throttle: 1.0, ..Rates::default() };
    let p = faultproxy::start(cfg).unwrap();
    let json = send(p.addr, &ecs("CreateService")).unwrap();
    assert!(json.starts_with("HTTP/1.1 400 "), "{json}");
    assert!(json.contains("x-amzn-ErrorType: ThrottlingException\r\n"), "{json}");
    assert!(json.ends_with(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#), "{json}");
    let xml = send(p.addr, &ec2("CreateVpc")).unwrap();
    assert!(xml.starts_with("HTTP/1.1 503 "), "{xml}");
    assert!(xml.contains("<Code>RequestLimitExceeded</Code>"), "{xml}");
    assert_eq!(p.stats()["faults"], serde_json::json!({"throttle": 2}));
}

#[test]
fn dropped_connections_get_no_answer() {
    let mut cfg = Config::new(upstream());
    cfg.rates = Rates { drop: 1.0, ..Rates::default() };
    let p = faultproxy::start(cfg).unwrap();
    assert_eq!(send(p.addr, &ecs("DescribeServices")), None);
    let s = p.stats();
    assert_eq!(s["faults"]["drop"], 1);
    assert_eq!(s["log"][0]["status"], 0);
}

#[test]
fn same_seed_and_sequence_give_the_same_faults() {
    let up = upstream();
    let run = |seed: u64| {
        let mut cfg = Config::new(up.clone());
        cfg.seed = seed;
        cfg.rates = Rates { throttle: 0.3, error: 0.1, drop: 0.1, lost_response: 0.0 };
        let p = faultproxy::start(cfg).unwrap();
        let mut statuses = Vec::new();
        for i in 0..40 {
            let req = if i % 3 == 0 { ec2("DescribeSubnets") } else { ecs("DescribeClusters") };
            statuses.push(send(p.addr, &req).map(|r| r[9..12].to_owned()).unwrap_or_else(|| "drop".into()));
        }
        statuses
    };
    let a = run(11);
    assert_eq!(a, run(11));
    assert_ne!(a, run(12));
    assert!(a.iter().any(|s| s == "200") && a.iter().any(|s| s != "200"), "{a:?}");
}

#[test]
fn unreachable_upstream_is_a_502() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let p = faultproxy::start(Config::new(format!("http://127.0.0.1:{port}"))).unwrap();
    let out = send(p.addr, &ecs("ListClusters")).unwrap();
    assert!(out.starts_with("HTTP/1.1 502 "), "{out}");
}

/// An awsJson request of `service` (signed scope) with this target and body.
fn aws_json(service: &str, target: &str, body: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: {target}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260105/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn canned_answers_stand_in_for_the_upstream_and_keep_what_was_asked() {
    use faultproxy::Canned;
    let mut cfg = Config::new(upstream());
    let list = "AmazonEC2ContainerServiceV20141113.ListTasks";
    cfg.canned = vec![
        Canned::aws_json("ecs.ListTasks", r#"{"taskArns":["arn:aws:ecs:us-east-1:1:task/x/t1"]}"#)
            .when_body_contains(r#""desiredStatus":"RUNNING""#),
        Canned::aws_json("ecs.ListTasks", r#"{"taskArns":[]}"#),
        Canned::aws_json("ecs.GetTaskProtection", r#"{"__type":"AccessDeniedException","message":"no"}"#).status(400),
    ];
    let p = faultproxy::start(cfg).unwrap();

    let running = r#"{"cluster":"x","desiredStatus":"RUNNING"}"#;
    let out = send(p.addr, &aws_json("ecs", list, running)).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("Content-Type: application/x-amz-json-1.1\r\n"), "{out}");
    assert!(out.ends_with(r#"{"taskArns":["arn:aws:ecs:us-east-1:1:task/x/t1"]}"#), "{out}");
    // The first canned answer that matches wins: the body decides between them.
    let stopped = r#"{"cluster":"x","desiredStatus":"STOPPED"}"#;
    let out = send(p.addr, &aws_json("ecs", list, stopped)).unwrap();
    assert!(out.ends_with(r#"{"taskArns":[]}"#), "{out}");
    let out = send(p.addr, &aws_json("ecs", "AmazonEC2ContainerServiceV20141113.GetTaskProtection", "{}")).unwrap();
    assert!(out.starts_with("HTTP/1.1 400 ") && out.ends_with(r#""message":"no"}"#), "{out}");
    // Operations without a canned answer still reach the upstream, and are not kept.
    let out = send(p.addr, &ecs("DescribeServices")).unwrap();
    assert!(out.ends_with("POST / len=18"), "{out}");
    // Same operation name in another service: not canned.
    let out = send(p.addr, &aws_json("logs", "Logs_20140328.ListTasks", "{}")).unwrap();
    assert!(out.ends_with("POST / len=2"), "{out}");

    let kept = send(p.addr, "GET /__faultproxy/canned HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let kept: serde_json::Value = serde_json::from_str(kept.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(
        kept,
        serde_json::json!([
            {"operation": "ecs.ListTasks", "body": running},
            {"operation": "ecs.ListTasks", "body": stopped},
            {"operation": "ecs.GetTaskProtection", "body": "{}"},
        ])
    );
    assert_eq!(p.canned(), kept);
    // Canned answers are counted like any request.
    assert_eq!(p.stats()["by_operation"]["ecs.ListTasks"], 2);
    assert_eq!(p.stats()["requests"], 5);
    p.reset();
    assert_eq!(p.canned(), serde_json::json!([]));
}

#[test]
fn faults_strike_canned_answers_too() {
    let mut cfg = Config::new(upstream());
    cfg.rates = Rates { throttle: 1.0, ..Rates::default() };
    cfg.canned = vec![faultproxy::Canned::aws_json("ecs.ListTasks", r#"{"taskArns":[]}"#)];
    let p = faultproxy::start(cfg).unwrap();
    let out = send(p.addr, &ecs("ListTasks")).unwrap();
    assert!(out.contains("x-amzn-ErrorType: ThrottlingException\r\n"), "{out}");
    assert_eq!(p.canned()[0]["body"], r#"{"cluster":"demo"}"#, "kept though the answer was a fault");
}
