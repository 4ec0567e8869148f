//! One run at a time per deployment: a lock held as an SSM parameter, created
//! with "fail if it exists" (atomic in SSM), deleted on release.
//!
//! A run killed with -9 leaves its lock behind. A later run on the same host
//! sees that the holder's process is gone and takes the lock over; from another
//! host, `agentctl unlock <id>` removes it.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_ssm::types::{ParameterType, Tag};
use serde::{Deserialize, Serialize};

use crate::error::{sdk, Error, Meaning};
use crate::Aws;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub operation: String,
    pub host: String,
    pub pid: u32,
    pub caller: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
    /// Names of resources being created whose create call cannot carry tags (an
    /// S3 bucket): if this run is killed before tagging them, the next run knows
    /// they are its own.
    #[serde(default)]
    pub pending: Vec<String>,
}

impl LockInfo {
    fn holder(&self) -> String {
        format!("pid {} on {} ({})", self.pid, self.host, self.caller)
    }
    fn since_text(&self) -> String {
        let age = now().saturating_sub(self.since);
        format!("{} ({} s ago)", format_utc(self.since), age)
    }
}

pub struct Lock {
    parameter: String,
    pub info: LockInfo,
    /// A stale lock of a killed run that this one took over.
    pub took_over: Option<LockInfo>,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `2026-11-27T12:00:00Z` from Unix seconds.
pub fn format_utc(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::<chrono::Utc>::from_timestamp(s, 0))
        .map_or_else(|| secs.to_string(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
}

/// Is this process (on this host) gone?
fn is_dead(info: &LockInfo) -> bool {
    info.host == hostname()
        && cfg!(target_os = "linux")
        && !std::path::Path::new(&format!("/proc/{}", info.pid)).exists()
}

pub async fn acquire(aws: &Aws, deployment: &str, operation: &str) -> Result<Lock, Error> {
    let parameter = agentctl_core::names::lock_parameter(deployment);
    let info = LockInfo {
        id: format!("{:x}-{:x}", now(), std::process::id()),
        operation: operation.to_owned(),
        host: hostname(),
        pid: std::process::id(),
        caller: aws.caller_arn.clone(),
        since: now(),
        pending: Vec::new(),
    };
    let mut took_over = None;
    // Two attempts: the second after removing a provably stale lock.
    for _ in 0..2 {
        let put = aws
            .ssm
            .put_parameter()
            .name(&parameter)
            .description(format!("agentctl lock of deployment {deployment}"))
            .value(serde_json::to_string(&info).expect("json"))
            .r#type(ParameterType::String)
            .overwrite(false)
            .tags(Tag::builder().key(agentctl_core::model::OWNERSHIP_TAG).value(deployment).build().expect("tag"))
            .send()
            .await;
        match put.map_err(sdk(format!("taking the lock {parameter}"))) {
            Ok(_) => return Ok(Lock { parameter, info, took_over }),
            Err(e) if e.is(Meaning::AlreadyExists) => {
                let holder = read(aws, &parameter).await?;
                match holder {
                    None => continue, // released meanwhile
                    // Our own put took effect and its answer was lost; the SDK's
                    // retry then met it.
                    Some(h) if h.id == info.id => return Ok(Lock { parameter, info, took_over }),
                    Some(h) if is_dead(&h) && took_over.is_none() => {
                        aws.ssm
                            .delete_parameter()
                            .name(&parameter)
                            .send()
                            .await
                            .map_err(sdk(format!("removing the stale lock {parameter}")))?;
                        took_over = Some(h);
                    }
                    Some(h) => {
                        return Err(Error::Locked {
                            deployment: deployment.to_owned(),
                            holder: h.holder(),
                            operation: h.operation.clone(),
                            since: h.since_text(),
                            lock_id: h.id,
                        })
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::aws(format!("taking the lock {parameter}"), "another run took it at the same moment"))
}

async fn read(aws: &Aws, parameter: &str) -> Result<Option<LockInfo>, Error> {
    match aws.ssm.get_parameter().name(parameter).send().await.map_err(sdk(format!("reading the lock {parameter}"))) {
        Ok(out) => Ok(out.parameter().and_then(|p| p.value()).and_then(|v| serde_json::from_str(v).ok())),
        Err(e) if e.is(Meaning::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Lock {
    /// Records names about to be created without tags (see `LockInfo::pending`).
    pub async fn note_pending(&mut self, aws: &Aws, names: Vec<String>) -> Result<(), Error> {
        self.info.pending = names;
        aws.ssm
            .put_parameter()
            .name(&self.parameter)
            .value(serde_json::to_string(&self.info).expect("json"))
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(sdk(format!("updating the lock {}", self.parameter)))?;
        Ok(())
    }

    /// What a killed run had in flight, when this run took its lock over.
    pub fn adoptable(&self) -> &[String] {
        self.took_over.as_ref().map_or(&[], |t| &t.pending)
    }

    pub async fn release(self, aws: &Aws) -> Result<(), Error> {
        // Only our own lock: never one another run took over meanwhile.
        if read(aws, &self.parameter).await?.is_some_and(|h| h.id == self.info.id) {
            aws.ssm
                .delete_parameter()
                .name(&self.parameter)
                .send()
                .await
                .map(|_| ())
                .map_err(sdk(format!("releasing the lock {}", self.parameter)))
                .or_else(|e| match e {
                    // A retried delete whose first attempt took effect.
                    e if e.is(Meaning::NotFound) => Ok(()),
                    e => Err(e),
                })?;
        }
        Ok(())
    }
}

/// Removes a stale lock, given the id its holder printed (or the error showed).
pub async fn unlock(aws: &Aws, deployment: &str, lock_id: &str) -> Result<Option<LockInfo>, Error> {
    let parameter = agentctl_core::names::lock_parameter(deployment);
    match read(aws, &parameter).await? {
        None => Ok(None),
        Some(h) if h.id == lock_id => {
            aws.ssm
                .delete_parameter()
                .name(&parameter)
                .send()
                .await
                .map_err(sdk(format!("removing the lock {parameter}")))?;
            Ok(Some(h))
        }
        Some(h) => Err(Error::aws(
            format!("removing the lock {parameter}"),
            format!("the lock is held under id {}, not {lock_id}; check that run is really gone", h.id),
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_utc(1_795_780_800), "2026-11-27T12:00:00Z");
    }
}
