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
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Handles of the running pollers (joined at shutdown).
pub type Pollers = Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>;

/// Start one IMAP poller per mailbox that has `[imap]` (configured or added
/// in the admin UI), and let the app start more for mailboxes added later.
pub fn spawn_pollers(
    app: &Arc<App>,
    registry: &Arc<Registry>,
    stop: &watch::Receiver<bool>,
) -> Pollers {
    let handles: Pollers = Arc::default();
    let weak = Arc::downgrade(app);
    let (registry, stop, list) = (registry.clone(), stop.clone(), handles.clone());
    let start = move |name: &str| {
        let Some(app) = weak.upgrade() else {
            return;
        };
        let name = name.to_string();
        let h = workers::spawn(
            move || imap::ImapWorker::new(app.clone(), &name),
            registry.clone(),
            stop.clone(),
            None,
        );
        if let Ok(mut l) = list.lock() {
            l.push(h);
        }
    };
    for (c, _) in app.email_channels() {
        if c.imap.is_some() {
            start(&c.name);
        }
    }
    let _ = app.poller_spawner.set(Box::new(start));
    handles
}
