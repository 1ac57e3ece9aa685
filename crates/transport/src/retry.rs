//! When a failed registry request is worth sending again, and after how long. Pure policy,
//! so it can be table-tested; the client classifies each failure into a [`Fault`].
//!
//! The rules follow what Docker and containerd do in spirit, with a small budget so that a
//! dead or broken registry fails a pull in well under five seconds:
//!
//! - a connection that could not be made is retried (nothing reached the server);
//! - a connection that broke, 429, 502, 503 and 504 are retried for idempotent requests;
//! - 500 is retried for reads (`GET`, `HEAD`) only: a server error on a write (a manifest
//!   `PUT`) is the server's answer, not an accident, while on a read it is often a passing
//!   storage race. Debian's docker-registry (distribution 2.8) rewrites a repository's link
//!   files in place, truncating before it writes, whenever the same image is pushed again;
//!   a read in that window finds an empty link and answers `500 UNKNOWN`
//!   (distribution/distribution#4478). Such a race can hit two reads in a row on a loaded
//!   host, so reads get the whole budget, as for 503;
//! - a timeout is not retried here (a registry that stalled once is likely to stall again);
//!   the copy engine resumes a stalled blob once, from where it stopped;
//! - anything else (4xx, 501, ...) is final.

use std::time::Duration;

/// How many times one request is retried at most.
const MAX_RETRIES: u32 = 3;

/// The first backoff; it doubles with each retry (100, 200, 400 ms).
const BASE_BACKOFF: Duration = Duration::from_millis(100);

/// The longest `Retry-After` honoured; a longer one fails at once instead of hanging.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// What went wrong with one attempt of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The connection could not be made (refused, unreachable): the server saw nothing.
    Connect,
    /// The connection broke (reset, closed before or while answering).
    Broken,
    /// No byte arrived for the idle timeout, or the deadline passed.
    TimedOut,
    /// The registry answered with this status.
    Status(u16),
}

/// The kind of request that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestKind {
    /// `GET` or `HEAD`.
    pub read: bool,
    /// Sending it twice does no harm (reads, manifest `PUT`, opening an upload session).
    pub idempotent: bool,
}

/// Retry bookkeeping for one request.
#[derive(Debug, Default)]
pub(crate) struct Attempt {
    retries: u32,
}

impl Attempt {
    /// The delay before sending the request again after `fault`, or `None` to give up.
    /// `retry_after` is the server's `Retry-After`, when it sent one.
    pub fn next(
        &mut self,
        fault: Fault,
        kind: RequestKind,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if self.retries >= MAX_RETRIES {
            return None;
        }
        let worth = match fault {
            Fault::Connect => true,
            Fault::Broken => kind.idempotent,
            Fault::TimedOut => false,
            Fault::Status(429 | 502 | 503 | 504) => kind.idempotent,
            Fault::Status(500) => kind.read && kind.idempotent,
            Fault::Status(_) => false,
        };
        if !worth {
            return None;
        }
        let delay = match (fault, retry_after) {
            (Fault::Status(_), Some(d)) if d > MAX_RETRY_AFTER => return None,
            (Fault::Status(_), Some(d)) => d,
            _ => BASE_BACKOFF * (1 << self.retries),
        };
        self.retries += 1;
        Some(delay)
    }
}

/// The delay before the copy engine tries a whole blob transfer again, or `None` to give up.
/// `attempt` counts the retries made so far (0 before the first); `max` is the caller's
/// budget. Only failures the request layer does not retry itself reach this: a stream that
/// broke mid-transfer (retried up to `max` times) and a stall (resumed once).
pub(crate) fn copy_retry(fault: CopyFault, attempt: u32, max: u32) -> Option<Duration> {
    let limit = match fault {
        CopyFault::Broken => max,
        CopyFault::Stalled => max.min(1),
        CopyFault::Final => 0,
    };
    (attempt < limit).then(|| Duration::from_millis(100 << attempt.min(4)))
}

/// How the copy engine sorts a failed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CopyFault {
    /// A stream broke mid-transfer; resuming may work.
    Broken,
    /// No data arrived for the idle timeout.
    Stalled,
    /// Retrying cannot help, or the request layer already did.
    Final,
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: RequestKind = RequestKind {
        read: true,
        idempotent: true,
    };
    const PUT_MANIFEST: RequestKind = RequestKind {
        read: false,
        idempotent: true,
    };
    const PATCH: RequestKind = RequestKind {
        read: false,
        idempotent: false,
    };

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    /// Every delay a request gets when it fails with `fault` every time.
    fn delays(fault: Fault, kind: RequestKind, retry_after: Option<Duration>) -> Vec<Duration> {
        let mut a = Attempt::default();
        (0..10)
            .map_while(|_| a.next(fault, kind, retry_after))
            .collect()
    }

    #[test]
    fn retry_policy_table() {
        let backoff = vec![
            Duration::from_millis(100),
            Duration::from_millis(200),
            Duration::from_millis(400),
        ];
        let cases: Vec<(Fault, RequestKind, Option<Duration>, Vec<Duration>)> = vec![
            (Fault::Connect, GET, None, backoff.clone()),
            (Fault::Connect, PATCH, None, backoff.clone()),
            (Fault::Broken, GET, None, backoff.clone()),
            (Fault::Broken, PATCH, None, vec![]),
            (Fault::TimedOut, GET, None, vec![]),
            (Fault::Status(503), GET, None, backoff.clone()),
            (Fault::Status(502), PUT_MANIFEST, None, backoff.clone()),
            (Fault::Status(504), PATCH, None, vec![]),
            (
                Fault::Status(429),
                GET,
                Some(Duration::from_secs(2)),
                vec![Duration::from_secs(2); 3],
            ),
            (
                Fault::Status(429),
                GET,
                Some(Duration::from_secs(60)),
                vec![],
            ),
            (Fault::Status(500), GET, None, backoff.clone()),
            (Fault::Status(500), PUT_MANIFEST, None, vec![]),
            (Fault::Status(501), GET, None, vec![]),
            (Fault::Status(404), GET, None, vec![]),
            (Fault::Status(401), GET, None, vec![]),
            (Fault::Status(400), PUT_MANIFEST, None, vec![]),
        ];
        for (fault, kind, retry_after, want) in cases {
            assert_eq!(
                delays(fault, kind, retry_after),
                want,
                "{fault:?} {kind:?} {retry_after:?}"
            );
        }
    }

    #[test]
    fn mixed_faults_share_one_budget() {
        let mut a = Attempt::default();
        assert_eq!(a.next(Fault::Status(500), GET, None), ms(100));
        assert_eq!(a.next(Fault::Connect, GET, None), ms(200));
        assert_eq!(a.next(Fault::Status(500), GET, None), ms(400));
        // The budget is spent: a fault that would be retried is final now.
        assert_eq!(a.next(Fault::Status(503), GET, None), None);
        // A 500 on a write is final from the start.
        let mut a = Attempt::default();
        assert_eq!(a.next(Fault::Status(500), PUT_MANIFEST, None), None);
    }

    #[test]
    fn a_dead_registry_costs_under_a_second_of_backoff() {
        let total: Duration = delays(Fault::Connect, GET, None).iter().sum();
        assert!(total < Duration::from_secs(1), "{total:?}");
    }

    #[test]
    fn copy_retry_table() {
        for (fault, attempt, max, want) in [
            (CopyFault::Broken, 0, 3, ms(100)),
            (CopyFault::Broken, 2, 3, ms(400)),
            (CopyFault::Broken, 3, 3, None),
            (CopyFault::Stalled, 0, 3, ms(100)),
            (CopyFault::Stalled, 1, 3, None),
            (CopyFault::Stalled, 0, 0, None),
            (CopyFault::Final, 0, 3, None),
        ] {
            assert_eq!(
                copy_retry(fault, attempt, max),
                want,
                "{fault:?} {attempt} {max}"
            );
        }
    }
}
