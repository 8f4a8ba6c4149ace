//! What a request records about itself, for its access-log line and its metrics: the
//! route it matched, the time it spent waiting on the database, and named events (a
//! failed login, an unavailable database). Ambient, like the deadline: the router, the
//! database and the routes note what they know where they know it, and the HTTP edge
//! writes it all out once, when the request is answered (`telemetry::request_done`).
//! Outside a request (tools, tests calling the library directly) nothing is recorded.

use std::cell::{Cell, RefCell};
use std::time::Duration;

tokio::task_local! {
    static RECORD: Record;
}

/// One request's record.
#[derive(Debug, Default)]
pub struct Record {
    route: Cell<Option<&'static str>>,
    database: Cell<Duration>,
    events: RefCell<Vec<&'static str>>,
}

impl Record {
    /// The path template of the route that answered (`/api/{user_id}/tasks`), if one did.
    pub fn route(&self) -> Option<&'static str> {
        self.route.get()
    }

    /// The time its statements took, from checkout to the last row.
    pub fn database(&self) -> Duration {
        self.database.get()
    }

    /// Its events, each once, in the order they first happened.
    pub fn events(&self) -> Vec<&'static str> {
        self.events.borrow().clone()
    }

    /// Notes event `name` (each once): for what the HTTP edge learns after the route.
    pub fn event(&self, name: &'static str) {
        let mut events = self.events.borrow_mut();
        if !events.contains(&name) {
            events.push(name);
        }
    }

    fn take(&self) -> Self {
        Self {
            route: Cell::new(self.route.get()),
            database: Cell::new(self.database.get()),
            events: RefCell::new(self.events.take()),
        }
    }
}

/// Runs `request` with a record of its own, and answers what it recorded.
pub async fn scope<F: Future>(request: F) -> (F::Output, Record) {
    RECORD
        .scope(Record::default(), async {
            let output = request.await;
            (output, RECORD.with(Record::take))
        })
        .await
}

/// The route that matched (the router calls it).
pub fn route(pattern: &'static str) {
    let _ = RECORD.try_with(|record| record.route.set(Some(pattern)));
}

/// Time spent on the database.
pub fn database(elapsed: Duration) {
    let _ = RECORD.try_with(|record| record.database.set(record.database.get() + elapsed));
}

/// Adds the time from now until it is dropped to [`database`] (the pool holds one over
/// each piece of work, whichever way it ends).
pub struct DatabaseTime(std::time::Instant);

impl DatabaseTime {
    pub fn start() -> Self {
        Self(std::time::Instant::now())
    }
}

impl Drop for DatabaseTime {
    fn drop(&mut self) {
        database(self.0.elapsed());
    }
}

/// Something worth counting happened: `LoginFailed`, `DatabaseUnavailable`, … (a metric
/// of that name, 1 for this request however often it happened).
pub fn event(name: &'static str) {
    let _ = RECORD.try_with(|record| record.event(name));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_records_what_it_noted_and_nothing_leaks_outside() {
        event("Outside");
        let ((), record) = scope(async {
            route("/things/{id}");
            database(Duration::from_millis(2));
            database(Duration::from_millis(3));
            event("LoginFailed");
            event("LoginFailed");
        })
        .await;
        assert_eq!(record.route(), Some("/things/{id}"));
        assert_eq!(record.database(), Duration::from_millis(5));
        assert_eq!(record.events(), ["LoginFailed"]);
        let ((), empty) = scope(async {}).await;
        assert_eq!(empty.route(), None);
        assert!(empty.events().is_empty());
    }
}
