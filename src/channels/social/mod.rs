//! The social networks: one connector per network, each the only code that
//! speaks its API, behind one [`Connector`] trait; one generic poller worker
//! ([`SocialWorker`]) and one outbox path drive them all.
//!
//! A connector turns its network's items into [`SocialItem`]s (an ingest
//! message plus whether it is a public mention subject to the listening
//! rules, and the network id to answer privately), keeps its position in an
//! opaque cursor string that `app::social` saves in the same transaction as
//! the items, and classifies its errors so the worker can respect rate
//! limits before they become errors.

pub mod listening;

use crate::channels::SendResult;
use crate::ingest::InboundMessage;
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One inbound item from a network.
#[derive(Clone, Debug, PartialEq)]
pub struct SocialItem {
    pub msg: InboundMessage,
    /// A public mention or comment: it opens a conversation only when the
    /// listening rules say so; otherwise it goes to the Mentions stream.
    /// Private messages (DMs, chats) always open conversations.
    pub mention: bool,
    /// The author's id on the network (where a private answer goes).
    pub recipient: Option<String>,
    /// A link to the item on the network, shown in the Mentions stream.
    pub url: Option<String>,
}

/// What one poll brought.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Polled {
    pub items: Vec<SocialItem>,
    /// The position after these items (saved with them); `None`: unchanged.
    pub cursor: Option<String>,
    /// More pages are waiting: poll again at once.
    pub more: bool,
    /// The network asked us to wait this long before the next call.
    pub wait: Option<Duration>,
    /// Delivery-state updates for our replies: (their external id, state).
    pub statuses: Vec<(String, crate::domain::Delivery, Option<String>)>,
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConnError {
    /// 429 or a rate-limit header: do not call before this.
    #[error("rate limited: retry in {0:?}")]
    RateLimited(Duration),
    /// The token is wrong or expired: nothing works until an admin fixes it.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// A network error, a timeout or a 5xx: try again later.
    #[error("{0}")]
    Transient(String),
    /// The request itself is wrong (a bug or a configuration error).
    #[error("{0}")]
    Invalid(String),
}

/// A reply to send.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutgoingSocial {
    /// Stable across retries (sent as `Idempotency-Key` where supported).
    pub idempotency_key: String,
    pub text: String,
    /// A private answer (DM, private reply) rather than a public one.
    pub private: bool,
    /// The customer's message being answered (its external id).
    pub in_reply_to: Option<String>,
    /// The conversation's thread key on this channel.
    pub thread: String,
    /// The customer's id on the network (for private answers).
    pub recipient: Option<String>,
    /// The customer's handle.
    pub handle: String,
    /// When the customer last wrote (WhatsApp's 24-hour window).
    pub last_inbound_at: Option<crate::domain::Ts>,
    pub now: crate::domain::Ts,
    /// 1 on the first try. Above 1 an earlier attempt may have reached the
    /// network (even before a crash): look for the reply before posting.
    pub attempt: u32,
    /// The longest wait for the post (`[outbox] timeout`); `None`: the
    /// connector's own default.
    pub timeout: Option<Duration>,
    /// Send this approved message template instead of `text` (WhatsApp
    /// only: the one thing it accepts outside the 24-hour window; the other
    /// connectors refuse it). `text` then holds the template's body, as the
    /// timeline shows it.
    pub template: Option<Template>,
}

/// An approved message template, as the network names it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Template {
    /// Its name (`seguimiento_pedido`).
    pub name: String,
    /// The language code it was approved in (`es`, `en_US`).
    pub language: String,
}

/// The refusal of a template by a connector that has none.
pub fn no_templates(network: &str) -> SendResult {
    SendResult::Permanent(format!(
        "{network} has no message templates; only WhatsApp conversations can send one"
    ))
}

/// What a webhook delivery produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookOutcome {
    pub polled: Polled,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WebhookError {
    #[error("signature missing or wrong")]
    BadSignature,
    #[error("{0}")]
    Invalid(String),
    #[error("this channel takes no webhooks")]
    Unsupported,
}

/// One network's protocol.
pub trait Connector: Send + Sync + 'static {
    /// The configured channel name.
    fn name(&self) -> &str;
    fn kind(&self) -> crate::domain::ChannelKind;
    /// Fetch what is new after `cursor`.
    fn poll<'a>(&'a self, cursor: Option<&'a str>) -> BoxFuture<'a, Result<Polled, ConnError>>;
    /// How long to sleep after a poll that found nothing.
    fn idle(&self) -> Duration;
    /// Send one reply. On a timeout where the network has no idempotency
    /// key, return `SendResult::Retry` only after checking that it was not
    /// posted; when that cannot be checked, `SendResult::Unknown`.
    fn send<'a>(&'a self, out: &'a OutgoingSocial) -> BoxFuture<'a, SendResult>;
    /// Check the credentials (the admin UI's "check connection").
    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String, ConnError>>;
    /// `hub.challenge` verification: the challenge to echo, if the token matches.
    fn verify_webhook(&self, _query: &[(String, String)]) -> Option<String> {
        None
    }
    /// A webhook delivery: check its signature, then parse it.
    fn webhook(
        &self,
        _headers: &[(String, String)],
        _body: &[u8],
    ) -> Result<WebhookOutcome, WebhookError> {
        Err(WebhookError::Unsupported)
    }
}

/// A JSON HTTP client for connectors: rustls, a user agent, a timeout.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    crate::channels::ensure_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("atalaya/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .build()
        .unwrap_or_default()
}

/// Classify an HTTP failure the common way (connectors refine it).
pub fn classify_status(status: u16, body: &str, retry_after: Option<Duration>) -> ConnError {
    let text: String = body.chars().take(300).collect();
    match status {
        429 => ConnError::RateLimited(retry_after.unwrap_or(Duration::from_secs(60))),
        401 | 403 => ConnError::Auth(format!("{status}: {text}")),
        500..=599 => ConnError::Transient(format!("{status}: {text}")),
        _ => ConnError::Invalid(format!("{status}: {text}")),
    }
}

/// What an outbox attempt makes of a connector error.
pub fn send_result(e: ConnError) -> SendResult {
    match e {
        ConnError::RateLimited(d) => SendResult::Retry {
            error: format!("rate limited; retrying in {}s", d.as_secs()),
            after: Some(d),
        },
        ConnError::Transient(t) => SendResult::Retry {
            error: t,
            after: None,
        },
        ConnError::Auth(t) => SendResult::Retry {
            error: format!("authentication failed (an admin must renew the token): {t}"),
            after: Some(Duration::from_secs(300)),
        },
        ConnError::Invalid(t) => SendResult::Permanent(t),
    }
}

pub mod facebook;
pub mod mastodon;
pub mod telegram;
pub mod whatsapp;
pub mod worker;
pub mod x;

/// Every configured social channel's connector, by channel name.
pub fn build(cfg: &crate::config::Config) -> HashMap<String, Arc<dyn Connector>> {
    let c = &cfg.channel;
    let mut out: HashMap<String, Arc<dyn Connector>> = HashMap::new();
    let all = c
        .telegram
        .iter()
        .filter_map(telegram::connector)
        .chain(c.mastodon.iter().filter_map(mastodon::connector))
        .chain(c.x.iter().filter_map(x::connector))
        .chain(c.facebook.iter().filter_map(facebook::connector))
        .chain(c.whatsapp.iter().filter_map(whatsapp::connector));
    for conn in all {
        out.insert(conn.name().to_string(), conn);
    }
    out
}

/// Whether this version has a connector for `kind`.
pub fn connected(kind: &str) -> bool {
    match kind {
        "telegram" => telegram::CONNECTED,
        "mastodon" => mastodon::CONNECTED,
        "x" => x::CONNECTED,
        "facebook" => facebook::CONNECTED,
        "whatsapp" => whatsapp::CONNECTED,
        _ => false,
    }
}
