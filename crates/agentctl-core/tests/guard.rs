//! The guard sidecar's script, run with `sh` exactly as the built task
//! definition holds it, against a fake agent actuator and a fake ECS agent
//! endpoint: what it reads decides which task protection it asks for.
//!
//! Each test has its own loopback servers and its own guard process, whose
//! PATH holds only sh, curl and sleep. Waits poll the recorded state against
//! a deadline rather than sleep a fixed time.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use agentctl_core::model::{addr, build, Context, Spec, GUARD_CONTAINER};
use common::*;
use serde_json::{json, Value};

/// Long enough for a slow CI machine, short enough to keep each test ~15 s.
const DEADLINE: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);
const METRICS_PATH: &str = "/actuator/prometheus";
/// What ECS puts in ECS_AGENT_URI: the endpoint of this task's ECS agent.
const AGENT_URI_PATH: &str = "/v4/abc";
const RENEW_SECONDS: u64 = 2;

// --- the guard as the task definition runs it ------------------------------------

/// The guard container's command and environment from the built stack: what
/// runs on Fargate, not the constant it is made from.
fn guard_container() -> (Vec<String>, BTreeMap<String, String>) {
    let config = load_ok(&tfvars(&[("name", "\"g\"")])).config;
    let zones = ["a", "b", "c"].iter().map(|z| format!("{}{z}", config.region)).collect();
    let ctx =
        Context { aws_account_id: Some("123456789012".into()), availability_zones: Some(zones), ..Context::default() };
    let stack = build(&config, &ctx);
    let resource = stack.get(addr::TASK_DEFINITION).expect("the stack has the agent's task definition");
    let Spec::TaskDefinition(td) = &resource.spec else { panic!("{:?}", resource.spec) };
    let guard = td
        .containers
        .iter()
        .find(|c| c.name == GUARD_CONTAINER)
        .unwrap_or_else(|| panic!("no `{GUARD_CONTAINER}` container in {:?}", td.containers));
    let env = guard.environment.iter().map(|kv| (kv.name.clone(), kv.value.clone())).collect();
    (guard.command.clone(), env)
}

/// The container's PROTECTION_MINUTES: what the guard must ask ECS for.
fn protection_minutes() -> u64 {
    let (_, env) = guard_container();
    env.get("PROTECTION_MINUTES").expect("the guard's environment sets PROTECTION_MINUTES").parse().unwrap()
}

/// Where `program` is on the test's PATH; fails (never skips) when the
/// guard's image would have it and this machine does not.
fn require(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{program}` is not on PATH: the guard tests need it (apt-get install {package})"))
}

/// A directory holding only the programs guard.sh says it uses, as the
/// guard's whole PATH: anything else it calls fails the tests.
fn guard_path() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "agentctl-guard-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (program, package) in [("sh", "dash"), ("curl", "curl"), ("sleep", "coreutils")] {
        std::os::unix::fs::symlink(require(program, package), dir.join(program)).unwrap();
    }
    dir
}

/// The guard process; killed and reaped however the test ends.
struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    path: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Copies `from` line by line into `lines`, on its own thread (a blocked read
/// must not hold the test; the thread is never joined).
fn collect(from: impl Read + Send + 'static, prefix: &'static str, lines: &Arc<Mutex<Vec<String>>>) {
    let lines = Arc::clone(lines);
    thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(format!("{prefix}{line}"));
        }
    });
}

/// Starts the guard's command with only `env` and PATH; stderr lines are
/// kept too, prefixed, so a shell error shows in failures.
fn spawn_guard(env: &BTreeMap<String, String>) -> Running {
    let path = guard_path();
    let (command, _) = guard_container();
    let (program, args) = command.split_first().expect("the guard has a command");
    // Found on the PATH above, as ECS finds it in the image.
    let mut child = Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", &path)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let lines = Arc::new(Mutex::new(Vec::new()));
    collect(child.stdout.take().unwrap(), "", &lines);
    collect(child.stderr.take().unwrap(), "stderr: ", &lines);
    Running { child, lines, path }
}

// --- fake HTTP/1.1 servers ---------------------------------------------------------

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// A response, or `None` to hang up without answering.
type Respond = Option<(u16, String)>;

/// Serves `handle` on a free loopback port, one connection at a time (the
/// guard makes one request at a time); returns the port.
fn serve(handle: impl Fn(&Request) -> Respond + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            // A half-read request is the guard's problem to report, not ours.
            let _ = answer(stream, &handle);
        }
    });
    port
}

fn answer(mut stream: TcpStream, handle: &impl Fn(&Request) -> Respond) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let Some((status, text)) = handle(&Request { method, path, body }) else { return Ok(()) };
    let reason = match status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Other",
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )?;
    stream.flush()
}

/// What the fake actuator answers a scrape with.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Metrics {
    Idle,
    Busy,
    /// Two samples of the metric, 2 and 3 pipelines.
    TwoSamples,
    /// The sample without labels (no common tags configured).
    Unlabelled,
    Unavailable,
    HangsUp,
}

impl Metrics {
    fn respond(self) -> Respond {
        let samples = match self {
            Metrics::Idle => "app_active_task_count{application=\"agent\",} 0.0\n",
            Metrics::Busy => "app_active_task_count{application=\"agent\",} 3.0\n",
            Metrics::TwoSamples => {
                "app_active_task_count{application=\"agent\",pool=\"a\",} 2.0\napp_active_task_count{application=\"agent\",pool=\"b\",} 3.0\n"
            }
            Metrics::Unlabelled => "app_active_task_count 3.0\n",
            Metrics::Unavailable => return Some((503, r#"{"status":"DOWN"}"#.into())),
            Metrics::HangsUp => return None,
        };
        Some((200, prometheus(samples)))
    }
}

/// A Spring Boot actuator's Prometheus page (Micrometer's format: a trailing
/// comma after labels, values as doubles) with `samples` among the rest.
fn prometheus(samples: &str) -> String {
    format!(
        "# HELP jvm_memory_used_bytes The amount of used memory\n\
         # TYPE jvm_memory_used_bytes gauge\n\
         jvm_memory_used_bytes{{area=\"heap\",id=\"G1 Eden Space\",}} 1.2E7\n\
         jvm_memory_used_bytes{{area=\"nonheap\",id=\"Metaspace\",}} 9.4371832E7\n\
         # HELP app_active_request_count Requests the agent is serving\n\
         # TYPE app_active_request_count gauge\n\
         app_active_request_count 0.0\n\
         # HELP app_active_task_count Tasks the agent is running\n\
         # TYPE app_active_task_count gauge\n\
         {samples}\
         # HELP app_active_task_count_max Most tasks the agent ran at once\n\
         # TYPE app_active_task_count_max gauge\n\
         app_active_task_count_max{{application=\"agent\",}} 7.0\n\
         # HELP process_uptime_seconds The uptime of the Java virtual machine\n\
         # TYPE process_uptime_seconds gauge\n\
         process_uptime_seconds 5123.981\n"
    )
}

/// How the fake ECS agent answers a protection request, as the real one does.
#[derive(Clone, Copy, Debug)]
enum Ecs {
    Protects,
    /// HTTP 200 with a `failure`: ECS did not change the protection.
    Fails,
    /// The task role may not update task protection.
    Denies,
}

impl Ecs {
    fn respond(self, request: &Value) -> Respond {
        const ARN: &str = "arn:aws:ecs:eu-west-1:123456789012:task/c/abc";
        Some(match self {
            Ecs::Protects => {
                let enabled = request["ProtectionEnabled"] == json!(true);
                let mut protection = json!({"ProtectionEnabled": enabled, "TaskArn": ARN});
                if enabled {
                    protection["ExpirationDate"] = json!("2026-11-30T14:05:00Z");
                }
                (200, json!({ "protection": protection }).to_string())
            }
            Ecs::Fails => {
                (200, json!({"failure": {"Arn": ARN, "Detail": null, "Reason": "TASK_NOT_VALID"}}).to_string())
            }
            Ecs::Denies => (
                403,
                json!({"requestID": "0f4b6a52-8a9c-4e0e-9a55-2c4b6f1d7e3a", "error": {
                    "Arn": ARN, "Code": "AccessDeniedException",
                    "Message": "User is not authorized to perform: ecs:UpdateTaskProtection"}})
                .to_string(),
            ),
        })
    }
}

/// What the fakes saw, in the order the guard did it.
#[derive(Clone, Debug)]
enum Event {
    Scrape(Metrics),
    Put { path: String, body: Value, at: Instant },
}

fn put_bodies(events: &[Event]) -> Vec<&Value> {
    events.iter().filter_map(|e| if let Event::Put { body, .. } = e { Some(body) } else { None }).collect()
}

fn scrapes(events: &[Event], m: Metrics) -> usize {
    events.iter().filter(|e| matches!(e, Event::Scrape(s) if *s == m)).count()
}

fn enable(minutes: u64) -> Value {
    json!({"ProtectionEnabled": true, "ExpiresInMinutes": minutes})
}

fn disable() -> Value {
    json!({"ProtectionEnabled": false})
}

// --- a guard with its fakes ---------------------------------------------------------

struct Harness {
    metrics: Arc<Mutex<Metrics>>,
    ecs: Arc<Mutex<Ecs>>,
    events: Arc<Mutex<Vec<Event>>>,
    guard: Running,
}

impl Harness {
    fn start(metrics: Metrics) -> Self {
        Self::start_with(metrics, Ecs::Protects, |_| {})
    }

    /// The fakes, and the guard with the container's environment pointed at
    /// them, reading every second; `adjust` changes that environment last.
    fn start_with(metrics: Metrics, ecs: Ecs, adjust: impl FnOnce(&mut BTreeMap<String, String>)) -> Self {
        let metrics = Arc::new(Mutex::new(metrics));
        let ecs = Arc::new(Mutex::new(ecs));
        let events = Arc::new(Mutex::new(Vec::new()));

        let actuator_port = serve({
            let (metrics, events) = (Arc::clone(&metrics), Arc::clone(&events));
            move |r| {
                if r.method != "GET" || r.path != METRICS_PATH {
                    return Some((404, String::new()));
                }
                let m = *metrics.lock().unwrap();
                events.lock().unwrap().push(Event::Scrape(m));
                m.respond()
            }
        });
        let ecs_port = serve({
            let (ecs, events) = (Arc::clone(&ecs), Arc::clone(&events));
            move |r| {
                if r.method != "PUT" {
                    return Some((404, String::new()));
                }
                let body: Value = serde_json::from_slice(&r.body).unwrap_or_else(
                    |e| json!({"unparsable": String::from_utf8_lossy(&r.body), "error": e.to_string()}),
                );
                let answer = ecs.lock().unwrap().respond(&body);
                events.lock().unwrap().push(Event::Put { path: r.path.clone(), body, at: Instant::now() });
                answer
            }
        });

        let (_, mut env) = guard_container();
        env.insert("AGENT_METRICS_URL".into(), format!("http://127.0.0.1:{actuator_port}{METRICS_PATH}"));
        env.insert("GUARD_INTERVAL_SECONDS".into(), "1".into());
        env.insert("GUARD_RENEW_SECONDS".into(), RENEW_SECONDS.to_string());
        env.insert("ECS_AGENT_URI".into(), format!("http://127.0.0.1:{ecs_port}{AGENT_URI_PATH}"));
        adjust(&mut env);
        let guard = spawn_guard(&env);
        Harness { metrics, ecs, events, guard }
    }

    fn set_metrics(&self, m: Metrics) {
        *self.metrics.lock().unwrap() = m;
    }

    fn set_ecs(&self, e: Ecs) {
        *self.ecs.lock().unwrap() = e;
    }

    fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    fn lines(&self) -> Vec<String> {
        self.guard.lines.lock().unwrap().clone()
    }

    fn lines_containing(&self, needle: &str) -> Vec<String> {
        self.lines().into_iter().filter(|l| l.contains(needle)).collect()
    }

    /// Polls until `done` holds for the events (from `since` on); panics with
    /// everything seen when it does not within the deadline.
    fn wait_for(&self, what: &str, since: usize, done: impl Fn(&[Event]) -> bool) {
        let start = Instant::now();
        while !done(&self.events()[since..]) {
            assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}\n{}", self.dump());
            thread::sleep(POLL);
        }
    }

    fn dump(&self) -> String {
        let events: Vec<String> = self
            .events()
            .iter()
            .map(|e| match e {
                Event::Scrape(m) => format!("read {m:?}"),
                Event::Put { path, body, .. } => format!("PUT {path} {body}"),
            })
            .collect();
        format!("--- events ---\n{}\n--- guard output ---\n{}", events.join("\n"), self.lines().join("\n"))
    }
}

// --- tests ----------------------------------------------------------------------------

#[test]
fn the_script_is_valid_posix_sh() {
    require("sh", "dash");
    let (command, _) = guard_container();
    assert_eq!(command[..2], ["sh", "-c"], "the guard runs its script with sh");
    let mut shells = vec!["sh"];
    // Debian's /bin/sh is dash, which accepts little beyond POSIX; check with
    // it too when sh is something else.
    let sh_is_dash = Path::new("/bin/sh").canonicalize().is_ok_and(|p| p.ends_with("dash"));
    if !sh_is_dash && Path::new("/bin/dash").is_file() {
        shells.push("/bin/dash");
    }
    for shell in shells {
        let out = Command::new(shell).args(["-n", "-c", &command[2]]).output().unwrap();
        assert!(out.status.success(), "{shell} -n: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn without_pipelines_the_guard_asks_for_nothing() {
    let h = Harness::start(Metrics::Idle);
    h.wait_for("three idle reads", 0, |e| scrapes(e, Metrics::Idle) >= 3);
    assert!(put_bodies(&h.events()).is_empty(), "{}", h.dump());
    assert!(h.lines_containing("protect").is_empty(), "{}", h.dump());
    assert!(h.lines_containing("stderr").is_empty(), "{}", h.dump());
}

#[test]
fn running_pipelines_protect_the_task_and_the_protection_is_renewed() {
    let minutes = protection_minutes();
    assert_eq!(minutes, 60);
    let h = Harness::start(Metrics::Busy);
    h.wait_for("the protection and its renewal", 0, |e| put_bodies(e).len() >= 2);
    let events = h.events();
    let puts: Vec<_> = events
        .iter()
        .filter_map(|e| if let Event::Put { path, body, at } = e { Some((path, body, *at)) } else { None })
        .collect();
    for (path, body, _) in &puts[..2] {
        assert_eq!(*path, &format!("{AGENT_URI_PATH}/task-protection/v1/state"));
        assert_eq!(*body, &enable(minutes), "{}", h.dump());
    }
    // Renewed after GUARD_RENEW_SECONDS, not at every read.
    let gap = puts[1].2 - puts[0].2;
    assert!(gap >= Duration::from_millis(RENEW_SECONDS * 1000 - 100), "renewed after {gap:?}\n{}", h.dump());
    assert!(scrapes(&events, Metrics::Busy) >= 3, "{}", h.dump());
    // One line says so; a renewal is not news.
    let protected = h.lines_containing("task protected");
    assert_eq!(protected, ["3 pipelines running: task protected for 60 minutes"], "{}", h.dump());
}

#[test]
fn every_sample_of_the_metric_counts() {
    let h = Harness::start(Metrics::TwoSamples);
    h.wait_for("the protection", 0, |e| !put_bodies(e).is_empty());
    assert_eq!(put_bodies(&h.events())[0], &enable(60));
    assert_eq!(h.lines_containing("task protected"), ["5 pipelines running: task protected for 60 minutes"]);
}

#[test]
fn a_sample_without_labels_counts() {
    let h = Harness::start(Metrics::Unlabelled);
    h.wait_for("the protection", 0, |e| !put_bodies(e).is_empty());
    assert_eq!(put_bodies(&h.events())[0], &enable(60));
    assert!(h.lines_containing("cannot read").is_empty(), "{}", h.dump());
    assert_eq!(h.lines_containing("task protected"), ["3 pipelines running: task protected for 60 minutes"]);
}

#[test]
fn the_protection_is_released_after_two_idle_reads() {
    let h = Harness::start(Metrics::Busy);
    h.wait_for("the protection", 0, |e| !put_bodies(e).is_empty());
    h.set_metrics(Metrics::Idle);
    h.wait_for("the release", 0, |e| put_bodies(e).contains(&&disable()));

    let events = h.events();
    let bodies = put_bodies(&events);
    assert_eq!(bodies.iter().filter(|b| ***b == disable()).count(), 1, "{}", h.dump());
    assert_eq!(**bodies.last().unwrap(), disable(), "{}", h.dump());
    // Released right after the second idle read in a row, not the first.
    let release = events.iter().position(|e| matches!(e, Event::Put { body, .. } if *body == disable())).unwrap();
    let reads: Vec<Metrics> =
        events[..release].iter().filter_map(|e| if let Event::Scrape(m) = e { Some(*m) } else { None }).collect();
    assert_eq!(reads[reads.len() - 3..], [Metrics::Busy, Metrics::Idle, Metrics::Idle], "{}", h.dump());
    assert_eq!(h.lines_containing("protection released"), ["0 pipelines running: protection released"]);

    // Idle from then on: nothing more to ask.
    let mark = events.len();
    h.wait_for("two more idle reads", mark, |e| scrapes(e, Metrics::Idle) >= 2);
    assert!(put_bodies(&h.events()[mark..]).is_empty(), "{}", h.dump());
}

#[test]
fn an_unreadable_agent_leaves_the_protection_as_it_is() {
    let h = Harness::start(Metrics::Busy);
    h.wait_for("the protection", 0, |e| !put_bodies(e).is_empty());

    // Longer than the renewal time: not even the renewal is sent.
    let outage = h.events().len();
    h.set_metrics(Metrics::Unavailable);
    h.wait_for("two 503 reads", outage, |e| scrapes(e, Metrics::Unavailable) >= 2);
    h.set_metrics(Metrics::HangsUp);
    h.wait_for("two unanswered reads", outage, |e| scrapes(e, Metrics::HangsUp) >= 2);
    let back = h.events().len();
    assert!(put_bodies(&h.events()[outage..back]).is_empty(), "{}", h.dump());
    let cannot = h.lines_containing("cannot read running pipelines");
    assert_eq!(cannot.len(), 1, "said once per outage\n{}", h.dump());
    assert!(cannot[0].contains("protection left as it is"), "{}", h.dump());

    // Still protected when the agent answers again: renewed (overdue by now),
    // never disabled, never protected anew.
    h.set_metrics(Metrics::Busy);
    h.wait_for("the renewal", back, |e| !put_bodies(e).is_empty());
    h.wait_for("two more busy reads", back, |e| scrapes(e, Metrics::Busy) >= 2);
    assert!(put_bodies(&h.events()[back..]).iter().all(|b| **b == enable(60)), "{}", h.dump());
    assert_eq!(h.lines_containing("task protected").len(), 1, "{}", h.dump());
}

#[test]
fn an_agent_never_reached_changes_nothing() {
    // A port just freed: connection refused.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let h = Harness::start_with(Metrics::Busy, Ecs::Protects, |env| {
        env.insert("AGENT_METRICS_URL".into(), format!("http://127.0.0.1:{closed}{METRICS_PATH}"));
    });
    let start = Instant::now();
    while h.lines_containing("cannot read running pipelines").is_empty() {
        assert!(start.elapsed() < DEADLINE, "{}", h.dump());
        thread::sleep(POLL);
    }
    // Nothing to observe when no connection is made: a few more intervals
    // must pass with nothing asked and nothing more said.
    thread::sleep(Duration::from_millis(2500));
    assert!(h.events().is_empty(), "{}", h.dump());
    assert_eq!(h.lines_containing("cannot read").len(), 1, "{}", h.dump());
}

#[test]
fn a_refusal_by_ecs_is_logged_and_retried() {
    let h = Harness::start_with(Metrics::Busy, Ecs::Fails, |_| {});
    h.wait_for("two refused attempts", 0, |e| put_bodies(e).len() >= 2);
    let failed = h.lines_containing("ECS refused to turn protection on (HTTP 200)");
    assert!(!failed.is_empty() && failed[0].contains("TASK_NOT_VALID"), "{}", h.dump());

    h.set_ecs(Ecs::Denies);
    let mark = h.events().len();
    h.wait_for("a denied attempt", mark, |e| !put_bodies(e).is_empty());
    h.wait_for("the denial logged", 0, |_| !h.lines_containing("HTTP 403").is_empty());
    assert!(h.lines_containing("HTTP 403")[0].contains("AccessDeniedException"), "{}", h.dump());
    assert!(h.lines_containing("task protected").is_empty(), "claimed protection ECS refused\n{}", h.dump());

    // Once ECS accepts, the next attempt protects.
    h.set_ecs(Ecs::Protects);
    h.wait_for("the protection", 0, |_| !h.lines_containing("task protected").is_empty());
    assert!(put_bodies(&h.events()).iter().all(|b| **b == enable(60)), "{}", h.dump());
}

#[test]
fn outside_ecs_the_guard_stops_at_once() {
    let mut h = Harness::start_with(Metrics::Busy, Ecs::Protects, |env| {
        env.remove("ECS_AGENT_URI");
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = h.guard.child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "still running\n{}", h.dump());
        thread::sleep(POLL);
    };
    assert!(!status.success(), "{status}");
    h.wait_for("its reason", 0, |_| !h.lines_containing("ECS_AGENT_URI is not set").is_empty());
    assert!(h.events().is_empty(), "{}", h.dump());
}
