//! The generic social poller: one per channel whose connector polls.

use super::{ConnError, Connector};
use crate::app::App;
use crate::workers::{self, Registry, Step, Worker};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Whether `conn` is (still) the registered connector of its channel.
fn is_current(app: &App, conn: &Arc<dyn Connector>) -> bool {
    app.connector(conn.name())
        .is_some_and(|c| Arc::ptr_eq(&c, conn))
}

pub struct SocialWorker {
    app: Arc<App>,
    conn: Arc<dyn Connector>,
}

/// How often a disabled channel's poller looks whether it was enabled.
const PAUSED: Duration = Duration::from_secs(5);

impl SocialWorker {
    /// Whether this connector should poll now: its channel is not disabled,
    /// and it is still the channel's registered connector (not removed or
    /// replaced in the admin UI).
    fn polling(&self) -> bool {
        !self.app.channel_disabled(self.conn.name()) && is_current(&self.app, &self.conn)
    }

    pub fn new(app: Arc<App>, conn: Arc<dyn Connector>) -> SocialWorker {
        SocialWorker { app, conn }
    }

    /// One poll, stored with its cursor. The step's result for the supervisor.
    pub async fn poll_once(&self) -> Result<Step, String> {
        let name = self.conn.name().to_string();
        if !self.polling() {
            return Ok(Step::Idle(PAUSED));
        }
        let cursor = self
            .app
            .social_cursor(&name)
            .await
            .map_err(|e| e.to_string())?;
        let result = self.conn.poll(cursor.as_deref()).await;
        // Disabled (or removed, or replaced) while the poll was out: keep
        // nothing, report nothing. The cursor did not move, so the items
        // come again when the channel is enabled.
        if !self.polling() {
            return Ok(Step::Idle(PAUSED));
        }
        match result {
            Ok(polled) => {
                let (more, wait) = (polled.more, polled.wait);
                self.app
                    .store_social(&name, polled)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(match (wait, more) {
                    (Some(d), _) => Step::Throttled(d),
                    (None, true) => Step::Busy,
                    (None, false) => Step::Idle(self.conn.idle()),
                })
            }
            // Respect the network: no call before its reset.
            Err(ConnError::RateLimited(d)) => Ok(Step::Throttled(d)),
            Err(e) => Err(format!("{}: {e}", self.conn.kind().as_str())),
        }
    }
}

impl Worker for SocialWorker {
    fn name(&self) -> String {
        format!("{}:{}", self.conn.kind().as_str(), self.conn.name())
    }

    async fn step(&mut self) -> Result<Step, String> {
        self.poll_once().await
    }
}

/// Start a poller per connector, and let the app start more for channels
/// added in the admin UI later (`App::social_spawner`).
///
/// Each poller stops when its connector is removed from the app's registry
/// or replaced by another (a channel removed or changed in the admin UI).
pub fn spawn_pollers(
    app: &Arc<App>,
    registry: &Arc<Registry>,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let handles = app
        .connectors()
        .into_iter()
        .map(|conn| spawn_one(app, conn, registry, stop))
        .collect();
    // Pollers started at run time, by channel: a channel changed in the
    // admin UI gets a new poller only once the replaced one has ended.
    let running: Arc<Mutex<HashMap<String, JoinHandle<()>>>> = Arc::default();
    let weak = Arc::downgrade(app);
    let (registry, stop) = (registry.clone(), stop.clone());
    let start = move |name: &str| {
        let Some(app) = weak.upgrade() else {
            return;
        };
        let Some(conn) = app.connector(name) else {
            return;
        };
        let Ok(mut running) = running.lock() else {
            return;
        };
        let previous = running.remove(name);
        let (registry, stop) = (registry.clone(), stop.clone());
        let h = tokio::spawn(async move {
            if let Some(p) = previous {
                let _ = p.await;
            }
            // Runs until shutdown or until the connector is gone.
            let _ = spawn_one(&app, conn, &registry, &stop).await;
        });
        running.insert(name.to_string(), h);
    };
    let _ = app.social_spawner.set(Box::new(start));
    handles
}

/// One poller, stopped at shutdown or as soon as `conn` is no longer its
/// channel's registered connector.
fn spawn_one(
    app: &Arc<App>,
    conn: Arc<dyn Connector>,
    registry: &Arc<Registry>,
    stop: &watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let (own_tx, own_rx) = watch::channel(*stop.borrow());
    let mut global = stop.clone();
    let (weak, watched) = (Arc::downgrade(app), conn.clone());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                r = global.changed() => {
                    if r.is_err() || *global.borrow() {
                        break;
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    let gone = weak.upgrade().is_none_or(|app| !is_current(&app, &watched));
                    if gone {
                        break;
                    }
                }
            }
        }
        let _ = own_tx.send(true);
    });
    let app = app.clone();
    workers::spawn(
        move || SocialWorker::new(app.clone(), conn.clone()),
        registry.clone(),
        own_rx,
        None,
    )
}
