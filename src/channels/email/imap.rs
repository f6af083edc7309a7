//! The IMAP poller (being written).
use crate::app::App;
use crate::workers::{Step, Worker};
use std::sync::Arc;

pub struct ImapWorker {
    app: Arc<App>,
    channel: String,
}

impl ImapWorker {
    pub fn new(app: Arc<App>, channel: &str) -> ImapWorker {
        ImapWorker {
            app,
            channel: channel.to_string(),
        }
    }
}

impl Worker for ImapWorker {
    fn name(&self) -> String {
        format!("email:{}", self.channel)
    }

    async fn step(&mut self) -> Result<Step, String> {
        let _ = &self.app;
        Ok(Step::Idle(std::time::Duration::from_secs(60)))
    }
}
