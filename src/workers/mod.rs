//! Background workers: one trait, one supervisor (backoff, restart after a
//! panic), and a registry whose snapshot admins see in `/healthz` and
//! `/api/v1/admin/workers`.

pub mod outbox;

use crate::domain::{Clock, Ts};
use futures_util::FutureExt;
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    Starting,
    Busy,
    Idle,
    Throttled,
    Failing,
    Stopped,
}

impl WorkerState {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Starting => "starting",
            WorkerState::Busy => "busy",
            WorkerState::Idle => "idle",
            WorkerState::Throttled => "throttled",
            WorkerState::Failing => "failing",
            WorkerState::Stopped => "stopped",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct WorkerStatus {
    pub name: String,
    pub state: WorkerState,
    pub since: String,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub consecutive_failures: u32,
    pub restarts: u32,
}

/// What one step of a worker did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Did work; step again at once.
    Busy,
    /// Nothing to do; sleep at most this long (a wake-up comes earlier).
    Idle(Duration),
    /// The remote asked us to slow down; sleep this long.
    Throttled(Duration),
}

pub trait Worker: Send + 'static {
    fn name(&self) -> String;
    fn step(&mut self) -> impl Future<Output = Result<Step, String>> + Send;
}

/// Status of every worker.
pub struct Registry {
    map: Mutex<BTreeMap<String, WorkerStatus>>,
    clock: Arc<dyn Clock>,
}

impl Registry {
    pub fn new(clock: Arc<dyn Clock>) -> Registry {
        Registry {
            map: Mutex::new(BTreeMap::new()),
            clock,
        }
    }

    pub fn snapshot(&self) -> Vec<WorkerStatus> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut WorkerStatus, Ts)) {
        let now = self.clock.now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let st = map.entry(name.to_string()).or_insert_with(|| WorkerStatus {
            name: name.to_string(),
            state: WorkerState::Starting,
            since: now.rfc3339(),
            last_success: None,
            last_error: None,
            last_error_at: None,
            consecutive_failures: 0,
            restarts: 0,
        });
        let before = st.state;
        f(st, now);
        if st.state != before {
            st.since = now.rfc3339();
        }
    }

    fn set_state(&self, name: &str, state: WorkerState) {
        self.update(name, |s, _| s.state = state);
    }

    fn success(&self, name: &str, state: WorkerState) {
        self.update(name, |s, now| {
            s.state = state;
            s.last_success = Some(now.rfc3339());
            s.consecutive_failures = 0;
        });
    }

    fn failure(&self, name: &str, error: String, restarted: bool) {
        self.update(name, |s, now| {
            s.state = WorkerState::Failing;
            s.last_error = Some(error);
            s.last_error_at = Some(now.rfc3339());
            s.consecutive_failures += 1;
            if restarted {
                s.restarts += 1;
            }
        });
    }
}

/// Exponential backoff with ±20 % jitter.
pub fn backoff(attempt: u32, min: Duration, max: Duration) -> Duration {
    let base = min.as_millis() as f64 * 2f64.powi(attempt.min(30) as i32);
    let capped = base.min(max.as_millis() as f64);
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    Duration::from_millis((capped * jitter) as u64)
        .min(max)
        .max(Duration::from_millis(1))
}

/// Run a worker until `shutdown` turns true. `make` builds a fresh instance,
/// used again after a panic.
pub fn spawn<W: Worker>(
    mut make: impl FnMut() -> W + Send + 'static,
    registry: Arc<Registry>,
    mut shutdown: watch::Receiver<bool>,
    wake: Option<Arc<Notify>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut worker = make();
        let name = worker.name();
        registry.set_state(&name, WorkerState::Starting);
        let mut failures = 0u32;
        loop {
            if *shutdown.borrow() {
                break;
            }
            // A long step (an IMAP IDLE) ends at shutdown; steps keep their
            // state in the store, so stopping one midway is safe.
            let result = tokio::select! {
                r = AssertUnwindSafe(worker.step()).catch_unwind() => r,
                _ = shutdown.changed() => break,
            };
            let pause = match result {
                Ok(Ok(Step::Busy)) => {
                    failures = 0;
                    registry.success(&name, WorkerState::Busy);
                    tokio::task::yield_now().await;
                    continue;
                }
                Ok(Ok(Step::Idle(d))) => {
                    failures = 0;
                    registry.success(&name, WorkerState::Idle);
                    d
                }
                Ok(Ok(Step::Throttled(d))) => {
                    registry.set_state(&name, WorkerState::Throttled);
                    d
                }
                Ok(Err(e)) => {
                    tracing::warn!(worker = %name, error = %e, "worker step failed");
                    registry.failure(&name, e, false);
                    failures += 1;
                    backoff(failures, Duration::from_secs(1), Duration::from_secs(300))
                }
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    tracing::error!(worker = %name, panic = %msg, "worker panicked; restarting it");
                    registry.failure(&name, format!("panicked: {msg}"), true);
                    worker = make();
                    failures += 1;
                    backoff(failures, Duration::from_secs(1), Duration::from_secs(300))
                }
            };
            let woken = async {
                match &wake {
                    Some(n) => n.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = woken => {}
                _ = shutdown.changed() => {}
            }
        }
        registry.set_state(&name, WorkerState::Stopped);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SystemClock;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Flaky(Arc<AtomicU32>);

    impl Worker for Flaky {
        fn name(&self) -> String {
            "flaky".into()
        }
        async fn step(&mut self) -> Result<Step, String> {
            match self.0.fetch_add(1, Ordering::SeqCst) {
                0 => Err("remote said no".into()),
                1 => panic!("boom"),
                _ => Ok(Step::Idle(Duration::from_secs(60))),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn supervisor_records_failures_restarts_and_recovery() {
        let reg = Arc::new(Registry::new(Arc::new(SystemClock)));
        let calls = Arc::new(AtomicU32::new(0));
        let (stop, rx) = watch::channel(false);
        let c = calls.clone();
        let h = spawn(move || Flaky(c.clone()), reg.clone(), rx, None);
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if calls.load(Ordering::SeqCst) >= 3 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        let st = &reg.snapshot()[0];
        assert_eq!(st.state, WorkerState::Idle);
        assert_eq!(st.restarts, 1);
        assert_eq!(st.consecutive_failures, 0);
        assert!(st.last_error.as_deref().unwrap().contains("boom"));
        stop.send(true).unwrap();
        h.await.unwrap();
        assert_eq!(reg.snapshot()[0].state, WorkerState::Stopped);
    }

    #[test]
    fn backoff_grows_and_caps() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
        assert!(backoff(0, min, max) <= Duration::from_millis(1200));
        assert!(backoff(3, min, max) >= Duration::from_millis(6400));
        assert!(backoff(20, min, max) <= max);
    }
}
