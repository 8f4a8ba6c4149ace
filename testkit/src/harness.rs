//! A handler test's usual start: a database of its own, a function's state on it, and
//! the function's routes to send events through.

use crate::{Answer, Event, Partition, RoundTrips, TestDb};
use shared::FunctionState;
use shared::config::Config;
use shared::http::Router;

/// A function under test: its routes and its state on a database of the test's own.
/// Send events with [`Harness::call`]; check what was written through [`Harness::db`].
pub struct Harness<S> {
    pub db: TestDb,
    pub state: S,
    routes: Router<S>,
}

impl<S: FunctionState> Harness<S> {
    /// `routes` on a fresh database, the state from [`TestDb::config`].
    pub async fn new(routes: Router<S>) -> Self {
        Self::configured(routes, TestDb::config).await
    }

    /// [`Harness::new`] with `TASK_EVENTS=outbox` ([`TestDb::config_with_events`]).
    pub async fn with_events(routes: Router<S>) -> Self {
        Self::configured(routes, TestDb::config_with_events).await
    }

    /// `routes` on a fresh database, the state from the configuration `config` makes
    /// for it: `TestDb::pooled_config`, or a changed `TestDb::config`.
    pub async fn configured(routes: Router<S>, config: impl FnOnce(&TestDb) -> Config) -> Self {
        let db = TestDb::new().await;
        let state = S::new(&config(&db)).await.expect("state builds");
        Self { db, state, routes }
    }

    /// [`Harness::new`] whose one pooled connection goes through a [`RoundTrips`]
    /// counter, already connected.
    pub async fn counted(routes: Router<S>) -> (Self, RoundTrips) {
        let db = TestDb::new().await;
        let trips = RoundTrips::proxy(&db).await;
        let state = trips.state(&db).await;
        (Self { db, state, routes }, trips)
    }

    /// [`Harness::new`] whose one pooled connection goes through a [`Partition`] that
    /// can be cut, with the request budget of [`Partition::state`].
    pub async fn partitioned(routes: Router<S>) -> (Self, Partition) {
        let db = TestDb::new().await;
        let partition = Partition::proxy(&db).await;
        let state = partition.state(&db).await;
        (Self { db, state, routes }, partition)
    }

    /// Runs `event` through the function's routes the way the Lambda runtime would.
    pub async fn call(&self, event: Event) -> Answer {
        self.call_on(&self.state, event).await
    }

    /// Runs `event` through the function's routes on another state of it (another
    /// instance, other settings), on the same database or not.
    pub async fn call_on(&self, state: &S, event: Event) -> Answer {
        Answer::from(shared::http::handle(state, &self.routes, event.request()).await)
    }

    /// Inserts a task for `owner` through the data layer, as a create would.
    pub async fn seed(&self, owner: &str, title: &str) -> shared::model::Task {
        let owner = shared::model::Subject::parse(owner).expect("a valid subject");
        let changes = shared::model::TaskChanges {
            title: <shared::model::Title as shared::model::Text>::parse(title)
                .expect("a valid title"),
            description: None,
            completed: false,
        };
        shared::db::tasks::create(self.state.db(), &owner, &changes)
            .await
            .expect("task inserted")
    }
}
