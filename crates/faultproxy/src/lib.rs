//! faultproxy: an HTTP/1.1 reverse proxy for agentctl's reliability tests and
//! benchmarks. It sits between an AWS client and an emulator (moto) and adds,
//! per request, a fixed or jittered latency and — at configured rates,
//! reproducibly from a seed — throttling errors in the exact wire shape each
//! AWS protocol uses, 500/503 responses, dropped connections and lost
//! responses. It counts requests per service and operation and logs each
//! request's in-flight interval, so round-trip waves can be computed.
//!
//! Canned answers ([`Config::canned`]) stand in for what the emulator cannot
//! give (operations it lacks, such as ECS task protection, or states it never
//! reaches, such as running tasks): a request whose operation (as
//! [`classify::Call::key`] names it, `ecs.ListTasks`) and body match a
//! [`Canned`] gets its status and body instead of being forwarded. Latency
//! and faults apply to it as to any request. The bodies of the requests of
//! every operation a canned answer names are kept, in arrival order.
//!
//! Control endpoints (never forwarded, never faulted):
//! `GET /__faultproxy/stats` (JSON, see [`stats::summary`]),
//! `GET /__faultproxy/canned` (`[{"operation": "ecs.ListTasks", "body": "..."}]`,
//! the kept request bodies) and
//! `POST /__faultproxy/reset` (forget requests and kept bodies, restart clock
//! and occurrence counts).
//! Requests under `/moto-api/` are forwarded untouched and not counted.
//!
//! Use it in-process with [`start`] (a thread with its own runtime) or as the
//! `faultproxy` binary.

pub mod classify;
pub mod faults;
pub mod http;
pub mod stats;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::faults::{Fault, Rates};
use crate::http::{Request, Response};
use crate::stats::{Entry, Stats};

/// What the proxy does.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where requests go, `http://HOST:PORT` (plain HTTP only).
    pub upstream: String,
    /// Added to every counted request before it is forwarded or answered.
    pub latency_ms: f64,
    /// A further uniform random delay in [0, jitter_ms).
    pub jitter_ms: f64,
    pub rates: Rates,
    pub seed: u64,
    /// Print one line per request on stderr.
    pub verbose: bool,
    /// Answers given instead of forwarding; the first that matches a request wins.
    pub canned: Vec<Canned>,
}

/// An answer the proxy gives instead of forwarding a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canned {
    /// `service.Operation` as [`classify::Call::key`] names it: `ecs.ListTasks`.
    pub operation: String,
    /// Only requests whose body contains this text; `None`: every request of the operation.
    pub body_contains: Option<String>,
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Canned {
    /// A 200 answer in awsJson 1.1 (ECS, CloudWatch Logs, ...); errors of that
    /// protocol are a 400 with `{"__type": "...", "message": "..."}` (see [`Canned::status`]).
    pub fn aws_json(operation: &str, body: impl Into<String>) -> Canned {
        Canned {
            operation: operation.into(),
            body_contains: None,
            status: 200,
            content_type: "application/x-amz-json-1.1".into(),
            body: body.into(),
        }
    }

    /// Answers only requests whose body contains `text`.
    pub fn when_body_contains(mut self, text: &str) -> Canned {
        self.body_contains = Some(text.into());
        self
    }

    /// Answers with this HTTP status.
    pub fn status(mut self, status: u16) -> Canned {
        self.status = status;
        self
    }

    fn matches(&self, key: &str, body: &[u8]) -> bool {
        self.operation == key
            && self.body_contains.as_deref().is_none_or(|text| String::from_utf8_lossy(body).contains(text))
    }

    fn response(&self, request_id: &str) -> Response {
        Response {
            status: self.status,
            reason: http::reason(self.status).to_owned(),
            headers: vec![
                ("Content-Type".into(), self.content_type.clone()),
                ("x-amzn-RequestId".into(), request_id.to_owned()),
            ],
            body: self.body.clone().into_bytes(),
        }
    }
}

impl Config {
    pub fn new(upstream: impl Into<String>) -> Config {
        Config {
            upstream: upstream.into(),
            latency_ms: 0.0,
            jitter_ms: 0.0,
            rates: Rates::default(),
            seed: 0,
            verbose: false,
            canned: Vec::new(),
        }
    }
}

struct State {
    config: Config,
    /// `HOST:PORT` of the upstream.
    upstream: String,
    stats: Arc<Stats>,
}

/// A bound, not yet serving proxy.
pub struct Proxy {
    listener: TcpListener,
    state: Arc<State>,
}

impl Proxy {
    /// Binds a free port on 127.0.0.1.
    pub async fn bind(config: Config) -> io::Result<Proxy> {
        let upstream = upstream_authority(&config.upstream)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        Ok(Proxy { listener, state: Arc::new(State { config, upstream, stats: Arc::new(Stats::default()) }) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    pub fn stats(&self) -> Arc<Stats> {
        self.state.stats.clone()
    }

    /// Serves until the future is dropped.
    pub async fn serve(self) {
        loop {
            let Ok((conn, _)) = self.listener.accept().await else { continue };
            let _ = conn.set_nodelay(true);
            tokio::spawn(connection(self.state.clone(), conn));
        }
    }
}

/// `http://host:port[/...]` -> `host:port`.
fn upstream_authority(url: &str) -> io::Result<String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("upstream must be http://HOST:PORT, got {url}"))
    })?;
    let authority = rest.split('/').next().unwrap_or(rest);
    Ok(if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") })
}

/// A proxy serving on its own thread and runtime; stops when dropped.
pub struct Running {
    pub addr: SocketAddr,
    stats: Arc<Stats>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts a proxy in this process (for tests).
pub fn start(config: Config) -> io::Result<Running> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let proxy = rt.block_on(Proxy::bind(config))?;
    let (addr, stats) = (proxy.local_addr(), proxy.stats());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new().name("faultproxy".into()).spawn(move || {
        rt.block_on(async {
            tokio::select! {
                _ = proxy.serve() => {}
                _ = stopped => {}
            }
        });
    })?;
    Ok(Running { addr, stats, stop: Some(stop), thread: Some(thread) })
}

impl Running {
    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> serde_json::Value {
        self.stats.to_json()
    }

    /// The kept bodies of canned operations' requests, as `GET /__faultproxy/canned` serves them.
    pub fn canned(&self) -> serde_json::Value {
        self.stats.canned_json()
    }

    pub fn reset(&self) {
        self.stats.reset()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn connection(state: Arc<State>, mut client: TcpStream) {
    let mut buf = Vec::new();
    loop {
        let req = match http::read_request(&mut client, &mut buf).await {
            Ok(Some(req)) => req,
            Ok(None) | Err(_) => return,
        };
        let keep_alive = req.keep_alive();
        let head = req.method == "HEAD";
        let reply = if req.target.starts_with("/__faultproxy/") {
            control(&state, &req)
        } else if req.target.starts_with("/moto-api") {
            forward(&state, &req).await.unwrap_or_else(|e| bad_gateway(&e))
        } else {
            match faulted(&state, req).await {
                Some(resp) => resp,
                None => return, // dropped: close without answering
            }
        };
        let bytes = http::encode_response(&reply, head, keep_alive);
        if client.write_all(&bytes).await.is_err() || !keep_alive {
            return;
        }
    }
}

/// A counted request: latency, then its fault or the upstream's answer.
/// `None`: close the connection without answering.
async fn faulted(state: &State, req: Request) -> Option<Response> {
    let call = classify::classify(&req.method, &req.target, &req.headers, &req.body);
    let key = call.key();
    let (occurrence, start_ms) = state.stats.begin(&key);
    let cfg = &state.config;
    let d = faults::decide(cfg.seed, &key, occurrence, &cfg.rates, cfg.jitter_ms);
    let delay = cfg.latency_ms + d.jitter_ms;
    if delay > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(delay / 1000.0)).await;
    }
    let rid = faults::request_id(d.id);
    if cfg.canned.iter().any(|c| c.operation == key) {
        state.stats.keep_canned(&key, &req.body);
    }
    let canned = cfg.canned.iter().find(|c| c.matches(&key, &req.body));
    let injected = |e: faults::ErrorResponse| Response {
        status: e.status,
        reason: http::reason(e.status).to_owned(),
        headers: e.headers.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        body: e.body.into_bytes(),
    };
    let reply = match d.fault {
        Fault::Drop => None,
        Fault::Throttle => Some(injected(faults::throttle(call.protocol, &rid))),
        Fault::ServerError(status) => Some(injected(faults::server_error(call.protocol, status, &rid))),
        Fault::LostResponse => {
            if canned.is_none() {
                let _ = forward(state, &req).await;
            }
            None
        }
        Fault::None => match canned {
            Some(c) => Some(c.response(&rid)),
            None => Some(forward(state, &req).await.unwrap_or_else(|e| bad_gateway(&e))),
        },
    };
    let end_ms = state.stats.now_ms();
    let status = reply.as_ref().map_or(0, |r| r.status);
    #[allow(clippy::print_stderr)] // the request log `--verbose` asks for
    if cfg.verbose {
        eprintln!("{start_ms:10.3} {end_ms:10.3} {status:3} {:13} {key}", d.fault.name());
    }
    state.stats.finish(Entry { key, service: call.service, start_ms, end_ms, status, fault: d.fault.name() });
    reply
}

/// Sends the request upstream on a fresh connection and reads the whole answer.
async fn forward(state: &State, req: &Request) -> io::Result<Response> {
    let mut up = TcpStream::connect(&state.upstream).await?;
    let _ = up.set_nodelay(true);
    up.write_all(&http::encode_upstream_request(req)).await?;
    let mut data = Vec::new();
    tokio::time::timeout(Duration::from_secs(300), up.read_to_end(&mut data))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "upstream took over 300 s"))??;
    http::parse_response(&data, req.method == "HEAD")
}

fn bad_gateway(e: &io::Error) -> Response {
    Response {
        status: 502,
        reason: "Bad Gateway".into(),
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: format!("faultproxy: upstream failed: {e}\n").into_bytes(),
    }
}

fn control(state: &State, req: &Request) -> Response {
    let json = |status: u16, v: serde_json::Value| Response {
        status,
        reason: http::reason(status).into(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: v.to_string().into_bytes(),
    };
    let path = req.target.split('?').next().unwrap_or("");
    match (req.method.as_str(), path) {
        ("GET", "/__faultproxy/stats") => json(200, state.stats.to_json()),
        ("GET", "/__faultproxy/canned") => json(200, state.stats.canned_json()),
        ("POST", "/__faultproxy/reset") => {
            state.stats.reset();
            json(200, serde_json::json!({"reset": true}))
        }
        _ => json(404, serde_json::json!({"error": "unknown faultproxy endpoint"})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_url_forms() {
        assert_eq!(upstream_authority("http://127.0.0.1:5000").unwrap(), "127.0.0.1:5000");
        assert_eq!(upstream_authority("http://localhost:5000/").unwrap(), "localhost:5000");
        assert_eq!(upstream_authority("http://example").unwrap(), "example:80");
        assert!(upstream_authority("https://x:1").is_err());
    }
}
