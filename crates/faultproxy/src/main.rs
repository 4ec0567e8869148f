//! `faultproxy --upstream http://127.0.0.1:PORT [--latency-ms N] ...`
//!
//! Prints `listening 127.0.0.1:PORT` as its first stdout line, serves until
//! SIGTERM or SIGINT, then writes `--stats FILE` (if given) and exits 0.

// A command-line tool: its output is its interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use faultproxy::faults::Rates;
use faultproxy::{Config, Proxy};

/// Fault-and-latency HTTP/1.1 proxy in front of an AWS emulator.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Where to forward requests: http://HOST:PORT (e.g. moto_server)
    #[arg(long)]
    upstream: String,
    /// Delay added to every request before it is forwarded or answered
    #[arg(long, default_value_t = 0.0)]
    latency_ms: f64,
    /// A further uniform random delay in [0, N) ms per request
    #[arg(long, default_value_t = 0.0)]
    jitter_ms: f64,
    /// Fraction of requests answered with the protocol's throttling error
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    throttle_rate: f64,
    /// Fraction of requests answered with a 500 or 503 (half each)
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    error_rate: f64,
    /// Fraction of requests whose connection is closed without forwarding or answering
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    drop_rate: f64,
    /// Fraction of requests forwarded (so they take effect) whose connection is then closed without answering
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    lost_response_rate: f64,
    /// Seed of the fault decisions: the same seed and request sequence give the same faults
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the stats JSON (counts per service and operation, faults, waves, request log) here on exit
    #[arg(long)]
    stats: Option<PathBuf>,
    /// Print one line per request on stderr
    #[arg(short, long)]
    verbose: bool,
}

fn rate(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    (0.0..=1.0).contains(&v).then_some(v).ok_or_else(|| format!("{v} is not a rate between 0 and 1"))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let sum = args.throttle_rate + args.error_rate + args.drop_rate + args.lost_response_rate;
    if sum > 1.0 {
        eprintln!("faultproxy: the fault rates add up to {sum}, more than 1");
        return std::process::ExitCode::from(2);
    }
    let config = Config {
        upstream: args.upstream.clone(),
        latency_ms: args.latency_ms,
        jitter_ms: args.jitter_ms,
        rates: Rates {
            throttle: args.throttle_rate,
            error: args.error_rate,
            drop: args.drop_rate,
            lost_response: args.lost_response_rate,
        },
        seed: args.seed,
        verbose: args.verbose,
        canned: Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    rt.block_on(async move {
        let proxy = match Proxy::bind(config).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("faultproxy: {e}");
                return std::process::ExitCode::from(2);
            }
        };
        let stats = proxy.stats();
        println!("listening {}", proxy.local_addr());
        let _ = std::io::stdout().flush();
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = proxy.serve() => {}
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        if let Some(path) = &args.stats {
            let text = serde_json::to_string_pretty(&stats.to_json()).expect("stats serialize");
            if let Err(e) = std::fs::write(path, text + "\n") {
                eprintln!("faultproxy: writing {}: {e}", path.display());
                return std::process::ExitCode::from(1);
            }
        }
        std::process::ExitCode::SUCCESS
    })
}
