//! The email channel. [`mime`] is the pure parsing layer: raw RFC 5322 bytes
//! in, a [`mime::ParsedMail`] (threading ids, loop-safety verdict, bounce
//! report, bodies, attachment bytes) and an ingest message out. [`imap`] polls
//! mailboxes (IDLE when offered), [`smtp`] builds and sends replies, and
//! [`import`] brings mbox files and Maildir folders in. Storing mail is
//! `app::email`.

pub mod imap;
pub mod import;
pub mod mime;
pub mod smtp;

use crate::app::App;
use crate::workers::{self, Registry};
use std::sync::Arc;
use tokio::sync::watch;

/// Start one IMAP poller per configured mailbox that has `[imap]`.
pub fn spawn_pollers(
    app: &Arc<App>,
    registry: &Arc<Registry>,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    app.config
        .channel
        .email
        .iter()
        .filter(|c| c.imap.is_some())
        .map(|c| {
            let (app, name) = (app.clone(), c.name.clone());
            workers::spawn(
                move || imap::ImapWorker::new(app.clone(), &name),
                registry.clone(),
                stop.clone(),
                None,
            )
        })
        .collect()
}
