//! One deadline per request. The HTTP edge notes when a request started ([`scope`]);
//! everything the request does that may wait (the database, each statement and its
//! cancel) counts from that moment, so a route that needs two statements shares one
//! budget between them instead of getting a fresh one for each.
//!
//! The start is ambient, like the request's tracing span, so no route can forget to
//! pass it on. Outside a request (tools, tests calling the library directly) each
//! piece of work counts from its own start.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

tokio::task_local! {
    static STARTED: Instant;
}

/// Runs `request` with its start noted as now.
pub async fn scope<F: Future>(request: F) -> F::Output {
    STARTED.scope(Instant::now(), request).await
}

/// When the current request started (now, outside a request).
pub fn started() -> Instant {
    STARTED
        .try_with(|started| *started)
        .unwrap_or_else(|_| Instant::now())
}

/// The moment `budget` after the current request's start.
pub fn after(budget: Duration) -> Instant {
    started() + budget
}

/// `deadline` on the wall clock, in milliseconds since the Unix epoch: what the database
/// server compares with its own clock (the two are kept within milliseconds by NTP).
pub fn epoch_millis(deadline: Instant) -> u128 {
    let now = Instant::now();
    let wall = if deadline >= now {
        SystemTime::now() + (deadline - now)
    } else {
        SystemTime::now() - (now - deadline)
    };
    wall.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_shares_one_start() {
        let outside = started();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(
            started() > outside,
            "outside a request, every call is its own start"
        );
        scope(async {
            let first = started();
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert_eq!(started(), first, "inside, the start stays put");
            assert_eq!(
                after(Duration::from_secs(1)),
                first + Duration::from_secs(1)
            );
        })
        .await;
    }

    #[test]
    fn wall_clock_deadlines() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let ahead = epoch_millis(Instant::now() + Duration::from_secs(2));
        assert!(
            (now + 1_990..now + 2_100).contains(&ahead),
            "{ahead} vs {now}"
        );
        let behind = epoch_millis(Instant::now() - Duration::from_secs(2));
        assert!(
            (now - 2_100..now - 1_900).contains(&behind),
            "{behind} vs {now}"
        );
    }
}
