//! Request counts per service and operation, injected faults, and a log of
//! every request's in-flight interval (from which round-trip waves follow).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{json, Value};

/// One finished request.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub service: String,
    /// Milliseconds since the proxy started (or was last reset): request head
    /// received, and response written (or connection closed).
    pub start_ms: f64,
    pub end_ms: f64,
    /// 0 when no response was sent.
    pub status: u16,
    pub fault: &'static str,
}

#[derive(Debug)]
struct Inner {
    epoch: Instant,
    log: Vec<Entry>,
    /// Requests seen per `service.Operation` (including in-flight ones): the
    /// occurrence number that fault decisions use.
    occurrences: HashMap<String, u64>,
    /// (operation, request body) of the requests of canned operations.
    canned: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Stats {
    inner: Mutex<Inner>,
}

impl Default for Stats {
    fn default() -> Self {
        let inner = Inner { epoch: Instant::now(), log: Vec::new(), occurrences: HashMap::new(), canned: Vec::new() };
        Stats { inner: Mutex::new(inner) }
    }
}

impl Stats {
    /// Registers a new request of `key`: its occurrence number and start time.
    pub fn begin(&self, key: &str) -> (u64, f64) {
        let mut inner = self.inner.lock().unwrap();
        let now = inner.epoch.elapsed().as_secs_f64() * 1000.0;
        let n = inner.occurrences.entry(key.to_owned()).or_insert(0);
        let occurrence = *n;
        *n += 1;
        (occurrence, now)
    }

    pub fn now_ms(&self) -> f64 {
        self.inner.lock().unwrap().epoch.elapsed().as_secs_f64() * 1000.0
    }

    pub fn finish(&self, entry: Entry) {
        self.inner.lock().unwrap().log.push(entry);
    }

    /// Forgets every request and restarts the clock and the occurrence counts
    /// (so a measured phase starts from a clean slate and reproduces its faults).
    pub fn reset(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.epoch = Instant::now();
        inner.log.clear();
        inner.occurrences.clear();
        inner.canned.clear();
    }

    /// Keeps the body of a request of an operation a canned answer names.
    pub fn keep_canned(&self, key: &str, body: &[u8]) {
        let body = String::from_utf8_lossy(body).into_owned();
        self.inner.lock().unwrap().canned.push((key.to_owned(), body));
    }

    /// The kept bodies, in arrival order: `[{"operation": ..., "body": ...}]`.
    pub fn canned_json(&self) -> Value {
        let inner = self.inner.lock().unwrap();
        inner.canned.iter().map(|(operation, body)| json!({"operation": operation, "body": body})).collect()
    }

    pub fn entries(&self) -> Vec<Entry> {
        let mut log = self.inner.lock().unwrap().log.clone();
        log.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        log
    }

    pub fn to_json(&self) -> Value {
        summary(&self.entries())
    }
}

/// Round-trip waves: requests whose in-flight intervals overlap (directly or
/// through a chain of overlapping requests) form one wave.
pub fn waves(entries: &[Entry]) -> usize {
    let mut sorted: Vec<(f64, f64)> = entries.iter().map(|e| (e.start_ms, e.end_ms)).collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut count = 0;
    let mut end = f64::NEG_INFINITY;
    for (s, e) in sorted {
        if s >= end {
            count += 1;
            end = e;
        } else {
            end = end.max(e);
        }
    }
    count
}

/// The JSON the proxy serves and writes: totals, counts, faults, waves and the log.
pub fn summary(entries: &[Entry]) -> Value {
    let mut by_service: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_operation: BTreeMap<&str, u64> = BTreeMap::new();
    let mut faults: BTreeMap<&str, u64> = BTreeMap::new();
    let mut faults_by_operation: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for e in entries {
        *by_service.entry(&e.service).or_default() += 1;
        *by_operation.entry(&e.key).or_default() += 1;
        if e.fault != "none" {
            *faults.entry(e.fault).or_default() += 1;
            *faults_by_operation.entry(&e.key).or_default().entry(e.fault).or_default() += 1;
        }
    }
    let first = entries.iter().map(|e| e.start_ms).fold(f64::INFINITY, f64::min);
    let last = entries.iter().map(|e| e.end_ms).fold(f64::NEG_INFINITY, f64::max);
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "requests": entries.len(),
        "waves": waves(entries),
        "span_ms": if entries.is_empty() { 0.0 } else { round(last - first) },
        "by_service": by_service,
        "by_operation": by_operation,
        "faults": faults,
        "faults_by_operation": faults_by_operation,
        "log": entries.iter().map(|e| json!({
            "op": e.key,
            "start_ms": round(e.start_ms),
            "end_ms": round(e.end_ms),
            "status": e.status,
            "fault": e.fault,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(key: &str, start: f64, end: f64, fault: &'static str) -> Entry {
        let service = key.split('.').next().unwrap().to_owned();
        Entry { key: key.into(), service, start_ms: start, end_ms: end, status: 200, fault }
    }

    #[test]
    fn waves_merge_overlapping_intervals() {
        assert_eq!(waves(&[]), 0);
        // Three sequential calls: three waves.
        assert_eq!(
            waves(&[e("a.X", 0.0, 25.0, "none"), e("a.X", 26.0, 51.0, "none"), e("a.X", 52.0, 77.0, "none")]),
            3
        );
        // Eight concurrent reads after one STS call: two waves.
        let mut v = vec![e("sts.GetCallerIdentity", 0.0, 25.0, "none")];
        v.extend((0..8).map(|i| e("ec2.DescribeVpcs", 26.0 + i as f64 * 0.3, 52.0 + i as f64, "none")));
        assert_eq!(waves(&v), 2);
        // A chain of overlaps is one wave.
        assert_eq!(waves(&[e("a.X", 0.0, 10.0, "none"), e("a.X", 9.0, 20.0, "none"), e("a.X", 19.0, 30.0, "none")]), 1);
    }

    #[test]
    fn counts_per_service_operation_and_fault() {
        let v = vec![
            e("ecs.DescribeServices", 0.0, 1.0, "none"),
            e("ecs.DescribeServices", 0.0, 1.0, "throttle"),
            e("ecs.CreateCluster", 2.0, 3.0, "none"),
            e("iam.GetRole", 2.0, 3.0, "drop"),
        ];
        let s = summary(&v);
        assert_eq!(s["requests"], 4);
        assert_eq!(s["waves"], 2);
        assert_eq!(s["by_service"], json!({"ecs": 3, "iam": 1}));
        assert_eq!(s["by_operation"], json!({"ecs.CreateCluster": 1, "ecs.DescribeServices": 2, "iam.GetRole": 1}));
        assert_eq!(s["faults"], json!({"drop": 1, "throttle": 1}));
        assert_eq!(s["faults_by_operation"]["ecs.DescribeServices"], json!({"throttle": 1}));
        assert_eq!(s["log"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn occurrences_count_per_operation_and_reset() {
        let s = Stats::default();
        assert_eq!(s.begin("a.X").0, 0);
        assert_eq!(s.begin("a.X").0, 1);
        assert_eq!(s.begin("b.Y").0, 0);
        s.finish(e("a.X", 0.0, 1.0, "none"));
        s.reset();
        assert_eq!(s.begin("a.X").0, 0);
        assert_eq!(s.to_json()["requests"], 0);
    }
}
