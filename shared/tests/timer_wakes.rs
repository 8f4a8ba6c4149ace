//! The functions run on tokio's current-thread runtime with the timer fix carried in
//! `vendor/tokio-1.54.1` (see vendor/README.md): a timer set while the runtime is busy
//! costs no wake-up write, and a timer set while it is parked still wakes it.
//!
//! Each case runs on its own thread with a deadline, so a lost wake-up fails the test
//! instead of hanging it.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::mpsc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use tokio::runtime::Builder;
use tokio::sync::Notify;

/// Write system calls made so far by the calling thread (the kernel's per-task I/O
/// accounting). The runtime's wake-up is a `write` to its eventfd.
fn writes_by_this_thread() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").expect("per-thread I/O accounting");
    io.lines()
        .find_map(|line| line.strip_prefix("syscw:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a syscw line")
}

fn within<T: Send + 'static>(limit: Duration, case: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || done.send(case()));
    result
        .recv_timeout(limit)
        .expect("the runtime missed a timer (lost wake-up)")
}

#[test]
fn timers_set_while_the_runtime_runs_cost_no_wake_up_and_still_fire() {
    let (writes, slept) = within(Duration::from_secs(30), || {
        let runtime = Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let before = writes_by_this_thread();
            // What Database::run does per request: a deadline around work that is
            // pending at first (here a yield; there, the statement's reply).
            for _ in 0..200 {
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), tokio::task::yield_now()).await;
            }
            let writes = writes_by_this_thread() - before;
            let start = Instant::now();
            tokio::time::sleep(Duration::from_millis(20)).await;
            (writes, start.elapsed())
        })
    });
    assert_eq!(
        writes, 0,
        "each timer registration woke the runtime's driver"
    );
    assert!(slept >= Duration::from_millis(20), "slept {slept:?}");
}

struct Notifier(Arc<Notify>);

impl Wake for Notifier {
    fn wake(self: Arc<Self>) {
        self.0.notify_one();
    }
}

#[test]
fn a_timer_set_from_another_thread_wakes_a_parked_runtime() {
    let (woke, waited) = within(Duration::from_secs(60), || {
        let runtime = Builder::new_current_thread().enable_all().build().unwrap();
        let handle = runtime.handle().clone();
        let fired = Arc::new(Notify::new());
        let waker = Waker::from(Arc::new(Notifier(fired.clone())));
        let setter = std::thread::spawn(move || {
            // By now the runtime is parked until its own 20 s deadline below.
            std::thread::sleep(Duration::from_millis(200));
            let _runtime = handle.enter();
            let mut sleep = Box::pin(tokio::time::sleep(Duration::from_millis(50)));
            let polled = sleep.as_mut().poll(&mut Context::from_waker(&waker));
            assert!(polled.is_pending());
            sleep // still registered: the caller drops it after the wait
        });
        let start = Instant::now();
        let woke = runtime.block_on(async {
            let notified = pin!(fired.notified());
            tokio::time::timeout(Duration::from_secs(20), notified)
                .await
                .is_ok()
        });
        drop(setter.join().unwrap());
        (woke, start.elapsed())
    });
    assert!(woke, "the 50 ms timer set from another thread never fired");
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
}
