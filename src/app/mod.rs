//! Application operations. Every operation takes the caller and checks the
//! permission for the object it touches (not only the route), then talks to
//! the store. The web layer stays thin: extract, call, render.

pub mod actions;
pub mod auth;
pub mod canned;
pub mod conversations;
pub mod email;
pub mod hours;
pub mod inbound;
pub mod mailboxes;
pub mod perm;
pub mod presence;
pub mod privacy;
pub mod responses;
pub mod search;
pub mod social;
pub mod social_channels;
pub mod triage;
pub mod whatsapp;
pub mod widget;

use crate::config::Config;
use crate::domain::Clock;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::workers::Registry;
use std::sync::Arc;
use tokio::sync::Notify;

pub use perm::Caller;

/// Errors an operation reports to its caller; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Invalid(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooMany(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Unavailable(e.to_string())
    }
}

/// Everything an operation needs; shared as `Arc<App>`.
/// Starts the IMAP poller of the named mailbox.
pub type PollerSpawner = Box<dyn Fn(&str) + Send + Sync>;

pub struct App {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub workers: Arc<Registry>,
    /// Woken when a reply enters the outbox.
    pub outbox_wake: Arc<Notify>,
    pub rate: widget::RateLimits,
    /// Who is viewing or answering which conversation.
    pub presence: presence::Presence,
    /// Mailboxes added in the admin UI (see `mailboxes`).
    pub mailboxes: std::sync::RwLock<Vec<crate::config::EmailChannel>>,
    /// Starts the IMAP poller of a mailbox added at run time (set by `serve`).
    pub poller_spawner: std::sync::OnceLock<PollerSpawner>,
    /// Starts the poller of a social channel added at run time (set by the
    /// social `spawn_pollers`).
    pub social_spawner: std::sync::OnceLock<PollerSpawner>,
    /// Channels an admin disabled (not polled, replies wait).
    pub disabled: std::sync::RwLock<std::collections::BTreeSet<String>>,
    /// Social connectors by channel name with their listening rules (from
    /// the config, and added at run time from the admin UI).
    pub connectors: std::sync::RwLock<std::collections::HashMap<String, social::SocialEntry>>,
    /// The full-text index, once `start_search` ran (serve).
    pub search_index: std::sync::OnceLock<Arc<crate::index::SearchIndex>>,
    /// The triage rules in force and the routing wake-up.
    pub triage: triage::Engine,
    /// Calendars, auto-replies, follow-ups and the scheduler.
    pub hours: hours::Hours,
}

impl App {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        workers: Arc<Registry>,
    ) -> App {
        App {
            metrics: store.metrics().clone(),
            store,
            clock,
            workers,
            outbox_wake: Arc::new(Notify::new()),
            rate: widget::RateLimits::default(),
            presence: presence::Presence::default(),
            mailboxes: std::sync::RwLock::new(Vec::new()),
            poller_spawner: std::sync::OnceLock::new(),
            social_spawner: std::sync::OnceLock::new(),
            connectors: std::sync::RwLock::new(social::entries(&config)),
            search_index: std::sync::OnceLock::new(),
            triage: triage::Engine::default(),
            hours: hours::Hours::new(&config),
            disabled: std::sync::RwLock::new(std::collections::BTreeSet::new()),
            config,
        }
    }

    /// Open the store the configuration names and build the app around it
    /// (workers are started by the caller).
    pub fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Arc<App>, StoreError> {
        let opts = crate::store::StoreOptions {
            cache_bytes: config.store.cache_mb << 20,
            max_batch: config.store.max_batch,
            ..Default::default()
        };
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let store = Store::open(&config.server.data, opts, clock.clone(), metrics)?;
        let registry = Arc::new(Registry::new(clock.clone()));
        Ok(Arc::new(App::new(store, Arc::new(config), clock, registry)))
    }

    pub fn ingest_rules(&self) -> crate::ingest::IngestRules {
        crate::ingest::IngestRules {
            reopen_window_ms: self.config.ingest.reopen_window.0.as_millis() as i64,
            max_text_bytes: self.config.ingest.max_text_bytes,
        }
    }
}
