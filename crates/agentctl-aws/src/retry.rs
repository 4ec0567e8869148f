//! Waiting for AWS's eventual consistency: a condition polled with backoff until
//! it holds or a deadline passes. Throttling is the SDK's job, not this one's.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::Error;

/// What one attempt found.
pub(crate) enum Poll<T> {
    Ready(T),
    /// Not yet; the reason is shown if we give up.
    Pending(String),
}

/// Polls `attempt` with backoff (1 s doubling to 8 s) until it is ready or
/// `limit` passes. Errors from `attempt` end the wait at once.
pub(crate) async fn until<T, F, Fut>(what: &str, limit: Duration, mut attempt: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, Error>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        match attempt().await? {
            Poll::Ready(v) => return Ok(v),
            Poll::Pending(last) => {
                if start.elapsed() + delay > limit {
                    return Err(Error::GaveUp { what: what.to_owned(), waited_secs: start.elapsed().as_secs(), last });
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(8));
            }
        }
    }
}
