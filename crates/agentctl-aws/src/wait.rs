//! Waiting: the one schedule of pauses every poll loop uses (eventual
//! consistency, rollouts, scaling, following logs), and `until`, a condition
//! polled until it holds. Throttling is the SDK's job, not this one's.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;

/// Pauses growing from `first` by `growth` (a fraction) up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// (numerator, denominator): 2/1 doubles, 3/2 grows by half.
    pub growth: (u32, u32),
}

impl Backoff {
    /// AWS settling after a change (a new role usable, a name drained, an ENI
    /// released): 0.5 s doubling to 8 s.
    pub const SETTLE: Backoff =
        Backoff { first: Duration::from_millis(500), max: Duration::from_secs(8), growth: (2, 1) };
    /// A rollout or a scale: ECS moves in tens of seconds; 2 s growing by half to 15 s.
    pub const ECS: Backoff = Backoff { first: Duration::from_secs(2), max: Duration::from_secs(15), growth: (3, 2) };
    /// Following logs while nothing arrives: 1 s doubling to 10 s.
    pub const LOGS: Backoff = Backoff { first: Duration::from_secs(1), max: Duration::from_secs(10), growth: (2, 1) };
    /// Retrying a create whose answer was lost (EC2): 0.2 s doubling to 8 s.
    pub const CREATE: Backoff =
        Backoff { first: Duration::from_millis(200), max: Duration::from_secs(8), growth: (2, 1) };

    /// The pauses of one wait of at most `limit`.
    pub fn within(self, limit: Duration) -> Pauses {
        Pauses { backoff: self, start: Instant::now(), limit, next: self.first }
    }
}

/// The pauses of one wait: each `pause` sleeps the next one, unless it would
/// end past the limit.
#[derive(Debug)]
pub struct Pauses {
    backoff: Backoff,
    start: Instant,
    limit: Duration,
    next: Duration,
}

impl Pauses {
    /// Sleeps before the next poll; `false` (without sleeping) when the poll
    /// after it would come past the limit.
    pub async fn pause(&mut self) -> bool {
        if self.start.elapsed().saturating_add(self.next) > self.limit {
            return false;
        }
        tokio::time::sleep(self.next).await;
        let (num, den) = self.backoff.growth;
        self.next = (self.next * num / den).min(self.backoff.max);
        true
    }

    /// Back to the shortest pause (something happened).
    pub fn reset(&mut self) {
        self.next = self.backoff.first;
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// What one attempt found.
pub(crate) enum Poll<T> {
    Ready(T),
    /// Not yet; the reason is shown if we give up.
    Pending(String),
}

/// Polls `attempt` ([`Backoff::SETTLE`]) until it is ready or `limit` passes.
/// Errors from `attempt` end the wait at once.
pub(crate) async fn until<T, F, Fut>(what: &str, limit: Duration, mut attempt: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, Error>>,
{
    let mut pauses = Backoff::SETTLE.within(limit);
    loop {
        match attempt().await? {
            Poll::Ready(v) => return Ok(v),
            Poll::Pending(last) => {
                if !pauses.pause().await {
                    return Err(Error::GaveUp { what: what.to_owned(), waited_secs: pauses.elapsed().as_secs(), last });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pauses_grow_to_the_max_and_stop_at_the_limit() {
        let mut pauses = Backoff::SETTLE.within(Duration::from_secs(20));
        let mut slept = Vec::new();
        let mut before = Instant::now();
        while pauses.pause().await {
            slept.push(before.elapsed().as_millis());
            before = Instant::now();
        }
        // 0.5 + 1 + 2 + 4 + 8 = 15.5 s; the next 8 s would end past 20 s.
        assert_eq!(slept, [500, 1000, 2000, 4000, 8000]);
        // Something happened: short pauses again, within what is left.
        pauses.reset();
        let before = Instant::now();
        assert!(pauses.pause().await);
        assert_eq!(before.elapsed().as_millis(), 500);
    }

    #[tokio::test(start_paused = true)]
    async fn until_gives_up_with_the_last_reason() {
        let err = until("waiting for x", Duration::from_secs(3), || async {
            Ok::<Poll<()>, Error>(Poll::Pending("still busy".into()))
        })
        .await
        .unwrap_err();
        assert!(matches!(&err, Error::GaveUp { last, .. } if last == "still busy"), "{err:?}");
    }
}
