//! The generic social poller: one per channel whose connector polls.

use super::{ConnError, Connector};
use crate::app::App;
use crate::workers::{self, Registry, Step, Worker};
use std::sync::Arc;
use tokio::sync::watch;

pub struct SocialWorker {
    app: Arc<App>,
    conn: Arc<dyn Connector>,
}

impl SocialWorker {
    pub fn new(app: Arc<App>, conn: Arc<dyn Connector>) -> SocialWorker {
        SocialWorker { app, conn }
    }

    /// One poll, stored with its cursor. The step's result for the supervisor.
    pub async fn poll_once(&self) -> Result<Step, String> {
        let name = self.conn.name().to_string();
        if self.app.channel_disabled(&name) {
            return Ok(Step::Idle(std::time::Duration::from_secs(5)));
        }
        let cursor = self
            .app
            .social_cursor(&name)
            .await
            .map_err(|e| e.to_string())?;
        match self.conn.poll(cursor.as_deref()).await {
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

/// Start a poller per connector.
pub fn spawn_pollers(
    app: &Arc<App>,
    registry: &Arc<Registry>,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    app.connectors()
        .into_iter()
        .map(|conn| {
            let (app, conn) = (app.clone(), conn.clone());
            workers::spawn(
                move || SocialWorker::new(app.clone(), conn.clone()),
                registry.clone(),
                stop.clone(),
                None,
            )
        })
        .collect()
}
