//! Channel connectors: each is the only code that speaks its network's
//! protocol. Inbound goes through `ingest`, outbound through the outbox.

pub mod api;
pub mod email;
pub mod social;

use std::time::Duration;

/// The result of one delivery attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum SendResult {
    Sent,
    /// Sent; the network gave our reply this id (statuses refer to it).
    Posted(String),
    /// Try again later (network error, 5xx, 429); the remote may say when.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// The remote refused for good (4xx): show the agent why.
    Permanent(String),
    /// The call may or may not have reached the network (a timeout where it
    /// takes no idempotency key): not retried blindly; the agent is told to
    /// check before sending again.
    Unknown(String),
}

/// Install ring as the process's rustls provider (once; later calls are
/// no-ops). reqwest is built without a provider of its own, so every HTTP
/// client of a connector calls this first — the binary does it at start, but
/// a library user (a test, a bench) may not have.
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
