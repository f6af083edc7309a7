//! The Telegram bot connector: the only code that speaks the Bot API.
//!
//! Inbound: a long poll on `getUpdates` (the request waits at Telegram until
//! an update arrives or `poll_timeout` passes, so messages arrive within
//! moments without a public webhook address). The cursor is the next
//! `offset` (the last `update_id` + 1); `app::social` saves it in the same
//! transaction as the messages it covers, and Telegram forgets updates below
//! the offset only when the *next* call sends it, so a crash between the call
//! and the commit re-reads the same updates, which dedupe absorbs.
//!
//! One chat is one conversation (`chat:{chat_id}`). Private chats always are
//! conversations; in groups only messages addressed to the bot (an
//! `@mention`, a `/command@bot` or a reply to one of its messages) are read,
//! which is also all a bot in Telegram's default privacy mode is sent.
//!
//! Outbound: `sendMessage` quoting the customer's message. The bot token is
//! part of every URL, so no error text leaves this module without the token
//! scrubbed out of it.

use super::{ConnError, Connector, OutgoingSocial, Polled, SocialItem};
use crate::channels::SendResult;
use crate::config::TelegramChannel;
use crate::domain::{ChannelKind, Ts};
use crate::ingest::{AuthorProfile, InboundMessage};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Whether this version connects the network (false: reported as pending).
pub const CONNECTED: bool = true;

/// The updates we ask for: new and edited messages (not callbacks, polls,
/// channel posts or member changes, which are not customer messages).
const ALLOWED_UPDATES: &str = r#"["message","edited_message"]"#;
/// Most updates per `getUpdates` (the Bot API's maximum).
const LIMIT: usize = 100;
/// How long the network may take beyond the long-poll wait itself.
const POLL_GRACE: Duration = Duration::from_secs(10);
/// Longest wait for `sendMessage` and `getMe`.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause after an empty long poll: the poll itself already waited, this only
/// keeps a server that answers at once from being called in a tight loop.
const IDLE: Duration = Duration::from_secs(1);
/// Telegram's limit for one message's text (UTF-16 code units).
const MAX_TEXT: usize = 4096;
/// When a 429 does not say how long to wait.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// The connector for one configured channel; `None` (with a warning) when it
/// has no usable token.
pub fn connector(cfg: &TelegramChannel) -> Option<Arc<dyn Connector>> {
    match Telegram::new(cfg) {
        Ok(t) => Some(Arc::new(t)),
        Err(why) => {
            tracing::warn!(channel = %cfg.name, "telegram channel not started: {why}");
            None
        }
    }
}

/// Our bot, as `getMe` describes it (needed to tell which group messages
/// are addressed to us).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bot {
    pub id: i64,
    pub username: String,
}

/// One configured bot.
pub struct Telegram {
    name: String,
    token: String,
    base: String,
    poll_timeout: Duration,
    send_timeout: Duration,
    client: reqwest::Client,
    me: Mutex<Option<Bot>>,
}

impl std::fmt::Debug for Telegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telegram")
            .field("name", &self.name)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Telegram {
    /// Build the connector; the error says why the channel cannot start.
    pub fn new(cfg: &TelegramChannel) -> Result<Telegram, String> {
        let token = cfg
            .token
            .as_ref()
            .map(|t| t.expose().trim().to_string())
            .unwrap_or_default();
        if token.is_empty() {
            return Err("no token is configured (set token or token_file)".into());
        }
        // The token goes into the URL path: anything that would change the
        // URL's meaning is a configuration mistake, not a token.
        if token
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '%'))
        {
            return Err("the token is not a bot token (expected 123456:ABC-DEF…)".into());
        }
        Ok(Telegram {
            name: cfg.name.clone(),
            token,
            base: cfg.base_url.trim().trim_end_matches('/').to_string(),
            poll_timeout: cfg.poll_timeout.0,
            send_timeout: CALL_TIMEOUT,
            client: super::http_client(CALL_TIMEOUT + POLL_GRACE),
            me: Mutex::new(None),
        })
    }

    /// Wait at most `d` for `sendMessage` (tests use a short one).
    pub fn with_send_timeout(mut self, d: Duration) -> Telegram {
        self.send_timeout = d;
        self
    }

    fn url(&self, method: &str) -> String {
        format!("{}/bot{}/{method}", self.base, self.token)
    }

    /// `s` with the token replaced: error texts end up in logs, the workers
    /// page and delivery details.
    fn scrub(&self, s: &str) -> String {
        s.replace(&self.token, "<token>")
    }

    /// Send one request and read the Bot API's answer.
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let res = req.send().await.map_err(|e| self.transport(e))?;
        let status = res.status().as_u16();
        match res.text().await {
            Ok(body) => parse_answer(status, &body).map_err(|f| f.scrubbed(self)),
            // The status line arrived, so Telegram processed the call.
            Err(e) if (200..300).contains(&status) => Err(Failure::Unreadable(format!(
                "the answer was cut: {}",
                self.describe(e)
            ))),
            Err(e) => Err(Failure::Api(ApiError {
                code: status,
                description: format!("HTTP {status} (answer cut: {})", self.describe(e)),
                retry_after: None,
                migrate_to: None,
            })),
        }
    }

    /// A transport error, sorted by whether the request can have reached
    /// Telegram.
    fn transport(&self, e: reqwest::Error) -> Failure {
        let (connect, builder) = (e.is_connect(), e.is_builder());
        let text = self.describe(e);
        if builder {
            Failure::Invalid(format!("cannot build the request: {text}"))
        } else if connect {
            Failure::NotSent(format!("cannot reach Telegram: {text}"))
        } else {
            Failure::Unknown(text)
        }
    }

    /// An error's text with its causes, without the URL (it holds the token).
    fn describe(&self, e: reqwest::Error) -> String {
        let e = e.without_url();
        let mut text = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            let s_text = s.to_string();
            if !text.contains(&s_text) {
                text.push_str(": ");
                text.push_str(&s_text);
            }
            src = s.source();
        }
        self.scrub(&text)
    }

    /// Our bot's id and username, asked once.
    async fn bot(&self) -> Result<Bot, ConnError> {
        if let Some(b) = self.me.lock().ok().and_then(|m| m.clone()) {
            return Ok(b);
        }
        let v = self
            .call(self.client.get(self.url("getMe")).timeout(CALL_TIMEOUT))
            .await
            .map_err(|f| f.conn_error("getMe"))?;
        let bot = Bot {
            id: v.get("id").and_then(Value::as_i64).unwrap_or(0),
            username: v
                .get("username")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        };
        if bot.id == 0 || bot.username.is_empty() {
            return Err(ConnError::Transient(
                "getMe answered without the bot's id and username".into(),
            ));
        }
        if let Ok(mut m) = self.me.lock() {
            *m = Some(bot.clone());
        }
        Ok(bot)
    }

    async fn poll_updates(&self, cursor: Option<&str>) -> Result<Polled, ConnError> {
        let bot = self.bot().await?;
        let offset = cursor.and_then(|c| c.trim().parse::<i64>().ok());
        if offset.is_none() && cursor.is_some_and(|c| !c.trim().is_empty()) {
            tracing::warn!(channel = %self.name, "ignoring an unreadable telegram cursor");
        }
        let mut query: Vec<(&str, String)> = vec![
            ("timeout", self.poll_timeout.as_secs().to_string()),
            ("limit", LIMIT.to_string()),
            ("allowed_updates", ALLOWED_UPDATES.to_string()),
        ];
        if let Some(o) = offset {
            query.insert(0, ("offset", o.to_string()));
        }
        let req = self
            .client
            .get(self.url("getUpdates"))
            .query(&query)
            .timeout(self.poll_timeout + POLL_GRACE);
        let v = self
            .call(req)
            .await
            .map_err(|f| f.conn_error("getUpdates"))?;
        let Some(updates) = v.as_array() else {
            return Err(ConnError::Transient(
                "getUpdates answered without a list of updates".into(),
            ));
        };
        let mut next: Option<i64> = None;
        let mut items = Vec::new();
        for raw in updates {
            let Some(id) = raw.get("update_id").and_then(Value::as_i64) else {
                tracing::warn!(channel = %self.name, "telegram update without update_id skipped");
                continue;
            };
            let after = id.saturating_add(1);
            next = Some(next.map_or(after, |n| n.max(after)));
            match serde_json::from_value::<Update>(raw.clone()) {
                Ok(u) => items.extend(map_update(&self.name, &u, &bot)),
                Err(e) => {
                    tracing::warn!(channel = %self.name, update_id = id, error = %e, "unreadable telegram update skipped")
                }
            }
        }
        Ok(Polled {
            items,
            cursor: next.map(|n| n.to_string()),
            // Poll again at once: the next call confirms these and waits
            // for more; only an empty poll earns the idle pause.
            more: !updates.is_empty(),
            ..Polled::default()
        })
    }

    /// Send one reply; see [`Connector::send`] on this type for the rules.
    async fn send_message(&self, out: &OutgoingSocial) -> SendResult {
        let target = match target(out) {
            Ok(t) => t,
            Err(why) => return SendResult::Permanent(why),
        };
        let len = out.text.encode_utf16().count();
        if out.text.trim().is_empty() {
            return SendResult::Permanent("the reply is empty".into());
        }
        if len > MAX_TEXT {
            return SendResult::Permanent(format!(
                "the reply is {len} characters long; Telegram takes at most {MAX_TEXT} in one message: shorten it"
            ));
        }
        let mut chat = target.chat;
        // A group that became a supergroup has a new id; Telegram says which
        // (and posted nothing), so one more try goes to the new chat.
        for _ in 0..2 {
            let mut body = json!({ "chat_id": chat, "text": out.text });
            if let Some(m) = target.reply_to.filter(|_| chat == target.chat) {
                body["reply_parameters"] =
                    json!({ "message_id": m, "allow_sending_without_reply": true });
            }
            let req = self
                .client
                .post(self.url("sendMessage"))
                .json(&body)
                .timeout(out.timeout.unwrap_or(self.send_timeout));
            match self.call(req).await {
                Ok(v) => {
                    let posted_chat = v
                        .pointer("/chat/id")
                        .and_then(Value::as_i64)
                        .unwrap_or(chat);
                    return match v.get("message_id").and_then(Value::as_i64) {
                        Some(id) => SendResult::Posted(format!("{posted_chat}:{id}")),
                        None => SendResult::Sent,
                    };
                }
                Err(Failure::Api(ApiError {
                    migrate_to: Some(new),
                    ..
                })) if new != chat => chat = new,
                Err(f) => return f.send_result(target.private_dm),
            }
        }
        SendResult::Permanent("the chat moved twice while sending; send the reply again".into())
    }
}

impl Connector for Telegram {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    fn poll<'a>(&'a self, cursor: Option<&'a str>) -> BoxFuture<'a, Result<Polled, ConnError>> {
        Box::pin(self.poll_updates(cursor))
    }

    fn idle(&self) -> Duration {
        IDLE
    }

    /// Telegram has no idempotency key and no way to list a bot's sent
    /// messages, so a `sendMessage` that timed out (or lost its connection
    /// after the request went out) cannot be checked. Retrying it could post
    /// the answer twice in the customer's chat; instead the delivery is
    /// reported as unknown (recorded as failed, with the reason, so the
    /// agent looks at the chat before sending again). It never double-posts.
    /// Only failures where Telegram certainly posted nothing are retried: no
    /// connection, 429 (after its `retry_after`) and 5xx.
    fn send<'a>(&'a self, out: &'a OutgoingSocial) -> BoxFuture<'a, SendResult> {
        if out.template.is_some() {
            return Box::pin(async { super::no_templates("Telegram") });
        }
        Box::pin(self.send_message(out))
    }

    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String, ConnError>> {
        Box::pin(async move {
            // Ask again (the token may have been revoked since).
            if let Ok(mut m) = self.me.lock() {
                *m = None;
            }
            self.bot().await.map(|b| format!("@{}", b.username))
        })
    }
}

// ---------------------------------------------------------------------------
// Errors

/// Why a Bot API call failed.
#[derive(Clone, Debug, PartialEq)]
enum Failure {
    /// No connection was made: Telegram received nothing.
    NotSent(String),
    /// The request may have reached Telegram (a timeout, a cut connection).
    Unknown(String),
    /// Telegram answered with an error.
    Api(ApiError),
    /// Telegram accepted the call (2xx) but its answer could not be read.
    Unreadable(String),
    /// The request could not be built (a bad `base_url`).
    Invalid(String),
}

/// A Bot API error answer.
#[derive(Clone, Debug, PartialEq)]
struct ApiError {
    code: u16,
    description: String,
    retry_after: Option<u64>,
    migrate_to: Option<i64>,
}

impl Failure {
    fn scrubbed(self, t: &Telegram) -> Failure {
        match self {
            Failure::Api(mut a) => {
                a.description = t.scrub(&a.description);
                Failure::Api(a)
            }
            Failure::NotSent(s) => Failure::NotSent(t.scrub(&s)),
            Failure::Unknown(s) => Failure::Unknown(t.scrub(&s)),
            Failure::Unreadable(s) => Failure::Unreadable(t.scrub(&s)),
            Failure::Invalid(s) => Failure::Invalid(t.scrub(&s)),
        }
    }

    /// For polls and checks.
    fn conn_error(self, method: &str) -> ConnError {
        match self {
            Failure::Api(a) => match a.code {
                429 => ConnError::RateLimited(
                    a.retry_after
                        .map(Duration::from_secs)
                        .unwrap_or(DEFAULT_RETRY_AFTER),
                ),
                // 404 is what Telegram answers for a token it does not know.
                401 | 404 => ConnError::Auth(format!(
                    "Telegram refused the bot token ({} {}); get a valid one from @BotFather",
                    a.code, a.description
                )),
                409 => ConnError::Invalid(format!(
                    "{method}: {} — another program reads this bot's updates, or a webhook is set \
                     (deleteWebhook); only one reader may poll a bot",
                    a.description
                )),
                500..=599 => ConnError::Transient(format!(
                    "{method}: Telegram answered {}: {}",
                    a.code, a.description
                )),
                _ => ConnError::Invalid(format!("{method}: {} {}", a.code, a.description)),
            },
            Failure::NotSent(t) => ConnError::Transient(t),
            Failure::Unknown(t) => ConnError::Transient(format!("{method}: {t}")),
            Failure::Unreadable(t) => {
                ConnError::Transient(format!("{method}: unreadable answer: {t}"))
            }
            Failure::Invalid(t) => ConnError::Invalid(t),
        }
    }

    /// For `sendMessage`; `dm` says the target was the customer's private
    /// chat reached from a group (a bot may only write there once the
    /// customer has started it).
    fn send_result(self, dm: bool) -> SendResult {
        match self {
            Failure::Api(a) => match a.code {
                429 => SendResult::Retry {
                    error: format!("Telegram: {}", a.description),
                    after: Some(
                        a.retry_after
                            .map(Duration::from_secs)
                            .unwrap_or(DEFAULT_RETRY_AFTER),
                    ),
                },
                401 | 404 => super::send_result(ConnError::Auth(format!(
                    "Telegram refused the bot token ({} {})",
                    a.code, a.description
                ))),
                500..=599 => SendResult::Retry {
                    error: format!("Telegram answered {}: {}", a.code, a.description),
                    after: None,
                },
                403 if dm => SendResult::Permanent(format!(
                    "Telegram: {} (a bot can write privately only to people who have started \
                     a chat with it; answer in the group or ask them to write to the bot)",
                    a.description
                )),
                _ => SendResult::Permanent(format!("Telegram: {}", a.description)),
            },
            Failure::NotSent(t) => SendResult::Retry {
                error: t,
                after: None,
            },
            Failure::Unknown(t) => SendResult::Unknown(format!(
                "delivery unknown: the Telegram API did not answer in time ({t}); \
                 check the chat before sending again"
            )),
            // It was accepted; only its id is missing.
            Failure::Unreadable(_) => SendResult::Sent,
            Failure::Invalid(t) => SendResult::Permanent(t),
        }
    }
}

/// The Bot API's answer envelope.
#[derive(Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    result: Value,
    error_code: Option<i64>,
    description: Option<String>,
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
    migrate_to_chat_id: Option<i64>,
}

/// Read an answer: the `result` of `{"ok":true}`, or the error it describes
/// (a proxy's HTML error page included).
fn parse_answer(status: u16, body: &str) -> Result<Value, Failure> {
    let success = (200..300).contains(&status);
    match serde_json::from_str::<Answer>(body) {
        Ok(a) if a.ok && success => Ok(a.result),
        Ok(a) => {
            let code = a
                .error_code
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| *c >= 400)
                .unwrap_or(if success { 400 } else { status });
            let description: String = a
                .description
                .unwrap_or_else(|| format!("error {code}"))
                .chars()
                .take(300)
                .collect();
            let params = a.parameters;
            Err(Failure::Api(ApiError {
                code,
                description,
                retry_after: params.as_ref().and_then(|p| p.retry_after),
                migrate_to: params.and_then(|p| p.migrate_to_chat_id),
            }))
        }
        Err(_) if success => Err(Failure::Unreadable(format!(
            "HTTP {status} with a body that is not a Bot API answer"
        ))),
        Err(_) => {
            let text: String = body
                .split(['<', '>'])
                .step_by(2)
                .collect::<Vec<_>>()
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(200)
                .collect();
            Err(Failure::Api(ApiError {
                code: status,
                description: if text.is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status}: {text}")
                },
                retry_after: None,
                migrate_to: None,
            }))
        }
    }
}

// ---------------------------------------------------------------------------
// Sending

/// Where one reply goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Target {
    chat: i64,
    /// The customer's message quoted (in `chat`).
    reply_to: Option<i64>,
    /// A private answer to a group conversation (the customer's own chat).
    private_dm: bool,
}

/// `{chat}:{message}` (with an optional `:edit:…` suffix) → both numbers.
fn split_external(id: &str) -> Option<(i64, i64)> {
    let mut parts = id.split(':');
    let chat = parts.next()?.trim().parse().ok()?;
    let msg = parts.next()?.trim().parse().ok()?;
    Some((chat, msg))
}

/// The chat and the quoted message for a reply. Public answers go to the
/// conversation's chat (its thread `chat:{id}`, else the chat of the message
/// answered — a mention promoted from the stream has no such thread);
/// private ones to the customer's own chat with the bot: the same chat for
/// a private conversation (private chat ids are the user's id, positive),
/// the customer's user id for a group (group ids are negative).
fn target(out: &OutgoingSocial) -> Result<Target, String> {
    let answered = out.in_reply_to.as_deref().and_then(split_external);
    let conv_chat = out
        .thread
        .strip_prefix("chat:")
        .and_then(|c| c.trim().parse::<i64>().ok())
        .or(answered.map(|(c, _)| c));
    let user = out
        .recipient
        .as_deref()
        .and_then(|r| r.trim().parse::<i64>().ok());
    let (chat, private_dm) = match (out.private, conv_chat, user) {
        (false, Some(c), _) => (c, false),
        (true, Some(c), _) if c > 0 => (c, false),
        (true, Some(_), Some(u)) if u > 0 => (u, true),
        (true, Some(_), _) => {
            return Err("no private chat with this customer is known; answer in the group".into());
        }
        (_, None, Some(u)) => (u, false),
        (_, None, None) => {
            return Err(format!(
                "cannot tell which Telegram chat {:?} belongs to",
                out.thread
            ));
        }
    };
    let reply_to = answered.filter(|(c, _)| *c == chat).map(|(_, m)| m);
    Ok(Target {
        chat,
        reply_to,
        private_dm,
    })
}

// ---------------------------------------------------------------------------
// Inbound mapping

/// One element of `getUpdates`' result (only what we read).
#[derive(Clone, Debug, Deserialize)]
pub struct Update {
    pub update_id: i64,
    pub message: Option<Message>,
    pub edited_message: Option<Message>,
}

/// A Bot API `Message` (only what we read; media kinds are kept by name).
#[derive(Clone, Debug, Deserialize)]
pub struct Message {
    pub message_id: i64,
    pub from: Option<User>,
    pub sender_chat: Option<Chat>,
    pub chat: Chat,
    #[serde(default)]
    pub date: i64,
    pub edit_date: Option<i64>,
    pub text: Option<String>,
    pub caption: Option<String>,
    #[serde(default)]
    pub entities: Vec<Entity>,
    #[serde(default)]
    pub caption_entities: Vec<Entity>,
    pub reply_to_message: Option<Box<Message>>,
    /// Everything else: which media the message carries.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Chat {
    pub id: i64,
    #[serde(rename = "type", default)]
    pub kind: String,
    pub title: Option<String>,
    pub username: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Entity {
    #[serde(rename = "type")]
    pub kind: String,
    /// In UTF-16 code units, as the Bot API counts.
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub length: usize,
    pub user: Option<User>,
}

/// How a message relates to the bot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Addressed {
    Mention,
    ReplyToBot,
    No,
}

/// The substring of `s` at a UTF-16 offset and length (the Bot API's entity
/// coordinates); `None` when they do not fit.
fn utf16_slice(s: &str, offset: usize, length: usize) -> Option<String> {
    let units: Vec<u16> = s.encode_utf16().collect();
    let end = offset.checked_add(length)?;
    String::from_utf16(units.get(offset..end)?).ok()
}

/// Whether `text` names `@username` as a whole handle (case-insensitive).
fn names_bot(text: &str, username: &str) -> bool {
    let handle = format!("@{}", username.to_lowercase());
    let lower = text.to_lowercase();
    lower.match_indices(&handle).any(|(i, _)| {
        lower[i + handle.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

fn addressed(m: &Message, bot: &Bot) -> Addressed {
    if m.reply_to_message
        .as_ref()
        .and_then(|r| r.from.as_ref())
        .is_some_and(|u| u.id == bot.id)
    {
        return Addressed::ReplyToBot;
    }
    let own = |e: &Entity, s: &str| match e.kind.as_str() {
        "mention" | "bot_command" => {
            utf16_slice(s, e.offset, e.length).is_some_and(|t| names_bot(&t, &bot.username))
        }
        "text_mention" => e.user.as_ref().is_some_and(|u| u.id == bot.id),
        _ => false,
    };
    let text = m.text.as_deref().unwrap_or_default();
    let caption = m.caption.as_deref().unwrap_or_default();
    let by_entity = m.entities.iter().any(|e| own(e, text))
        || m.caption_entities.iter().any(|e| own(e, caption));
    if by_entity || names_bot(text, &bot.username) || names_bot(caption, &bot.username) {
        Addressed::Mention
    } else {
        Addressed::No
    }
}

/// A short stand-in for media, so a photo without caption still shows up.
fn media_label(m: &Message) -> Option<String> {
    let o = &m.other;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let label = if o.contains_key("photo") {
        "[photo]".to_string()
    } else if let Some(st) = o.get("sticker") {
        match s(st, "emoji") {
            Some(e) => format!("[sticker {e}]"),
            None => "[sticker]".into(),
        }
    } else if o.contains_key("animation") {
        "[GIF]".into()
    } else if o.contains_key("video") {
        "[video]".into()
    } else if o.contains_key("video_note") {
        "[video message]".into()
    } else if o.contains_key("voice") {
        "[voice message]".into()
    } else if o.contains_key("audio") {
        "[audio]".into()
    } else if let Some(d) = o.get("document") {
        match s(d, "file_name") {
            Some(n) => format!("[document: {n}]"),
            None => "[document]".into(),
        }
    } else if let Some(c) = o.get("contact") {
        let name = [s(c, "first_name"), s(c, "last_name"), s(c, "phone_number")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        format!("[contact: {name}]")
    } else if let Some(v) = o.get("venue") {
        format!("[place: {}]", s(v, "title").unwrap_or_default())
    } else if let Some(l) = o.get("location") {
        let n = |k: &str| l.get(k).and_then(Value::as_f64).unwrap_or_default();
        format!("[location {:.5}, {:.5}]", n("latitude"), n("longitude"))
    } else if let Some(p) = o.get("poll") {
        format!("[poll: {}]", s(p, "question").unwrap_or_default())
    } else if o.contains_key("dice") {
        "[dice]".into()
    } else {
        return None;
    };
    Some(label)
}

/// One update as an item for `app::social`, or `None` for what is not a
/// customer's message to us: group chatter not addressed to the bot, service
/// messages (members joining, pins), other bots, other update kinds.
pub fn map_update(channel: &str, u: &Update, bot: &Bot) -> Option<SocialItem> {
    let (m, edited) = match (&u.message, &u.edited_message) {
        (Some(m), _) => (m, false),
        (None, Some(m)) => (m, true),
        (None, None) => return None,
    };
    let private = m.chat.kind == "private";
    let group = matches!(m.chat.kind.as_str(), "group" | "supergroup");
    if !private && !group {
        return None;
    }
    match &m.sender_chat {
        // The group's anonymous admins: its own staff, not a customer.
        Some(c) if c.id == m.chat.id => return None,
        // Someone writing as their channel (Telegram's `from` is then a
        // stand-in bot): the channel is the author.
        Some(_) => {}
        // Other bots: never answer them (no loops).
        None if m.from.as_ref().is_some_and(|f| f.is_bot) => return None,
        None => {}
    }
    let how = if private {
        Addressed::No
    } else {
        match addressed(m, bot) {
            Addressed::No => return None,
            a => a,
        }
    };
    let body = m
        .text
        .as_deref()
        .or(m.caption.as_deref())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let mut text = match (media_label(m), body) {
        (Some(label), Some(t)) => format!("{label} {t}"),
        (Some(label), None) => label,
        (None, Some(t)) => t.to_string(),
        (None, None) => return None,
    };
    if edited {
        text = format!("[edited] {text}");
    }
    let (handle, name, user_id) = match (&m.from, &m.sender_chat) {
        // Anonymous group admins and linked channels write as a chat.
        (_, Some(c)) => (
            c.username
                .as_deref()
                .map(|u| format!("@{u}"))
                .unwrap_or_else(|| c.id.to_string()),
            c.title.clone(),
            None,
        ),
        (Some(f), _) => {
            let name = [Some(f.first_name.as_str()), f.last_name.as_deref()]
                .into_iter()
                .flatten()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            (
                f.username
                    .as_deref()
                    .filter(|u| !u.is_empty())
                    .map(|u| format!("@{u}"))
                    .unwrap_or_else(|| f.id.to_string()),
                (!name.is_empty()).then_some(name),
                Some(f.id),
            )
        }
        (None, None) => return None,
    };
    let chat = m.chat.id;
    let external_id = match (edited, m.edit_date) {
        // An edit is a new text of a message already read: a message of its
        // own, so the correction reaches the inbox instead of being taken
        // for a duplicate.
        (true, Some(d)) => format!("{chat}:{}:edit:{d}", m.message_id),
        (true, None) => format!("{chat}:{}:edit", m.message_id),
        (false, _) => format!("{chat}:{}", m.message_id),
    };
    let when = if edited {
        m.edit_date.unwrap_or(m.date)
    } else {
        m.date
    };
    let sent_at = when.checked_mul(1000).filter(|ms| *ms > 0).map(Ts);
    let url = m
        .chat
        .username
        .as_deref()
        .filter(|_| group)
        .map(|u| format!("https://t.me/{u}/{}", m.message_id));
    Some(SocialItem {
        msg: InboundMessage {
            channel: channel.to_string(),
            kind: ChannelKind::Telegram,
            external_id,
            thread: Some(format!("chat:{chat}")),
            author: AuthorProfile {
                handle,
                name,
                ..AuthorProfile::default()
            },
            text,
            html: None,
            subject: None,
            attachments: vec![],
            public: group,
            sent_at,
        },
        // A mention in a group meets the listening rules; a reply to the
        // bot answers us (it continues a conversation), like a private chat.
        mention: how == Addressed::Mention,
        // Where a private answer goes: the person (in a private chat, the
        // user id is also the chat id).
        recipient: user_id
            .map(|id| id.to_string())
            .or_else(|| private.then(|| chat.to_string())),
        url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Dur, Listening, Secret};

    fn bot() -> Bot {
        Bot {
            id: 7000000001,
            username: "NordiaHelpBot".into(),
        }
    }

    fn update(v: Value) -> Update {
        serde_json::from_value(v).expect("a valid update")
    }

    fn map(v: Value) -> Option<SocialItem> {
        map_update("tg", &update(v), &bot())
    }

    fn cfg(token: Option<&str>, base: &str) -> TelegramChannel {
        TelegramChannel {
            name: "tg".into(),
            token: token.map(Secret::new),
            base_url: base.into(),
            poll_timeout: Dur(Duration::from_secs(1)),
            listening: Listening::default(),
        }
    }

    #[test]
    fn private_text_is_a_conversation() {
        let item = map(json!({
            "update_id": 815000001,
            "message": {
                "message_id": 42,
                "from": {"id": 111222333, "is_bot": false, "first_name": "Ana", "last_name": "Pérez",
                         "username": "anaperez", "language_code": "es"},
                "chat": {"id": 111222333, "first_name": "Ana", "last_name": "Pérez",
                         "username": "anaperez", "type": "private"},
                "date": 1764583200,
                "text": "Hola, mi pedido no ha llegado"
            }
        }))
        .unwrap();
        assert!(!item.mention);
        assert!(!item.msg.public);
        assert_eq!(item.msg.kind, ChannelKind::Telegram);
        assert_eq!(item.msg.external_id, "111222333:42");
        assert_eq!(item.msg.thread.as_deref(), Some("chat:111222333"));
        assert_eq!(item.msg.author.handle, "@anaperez");
        assert_eq!(item.msg.author.name.as_deref(), Some("Ana Pérez"));
        assert_eq!(item.msg.text, "Hola, mi pedido no ha llegado");
        assert_eq!(item.msg.sent_at, Some(Ts(1764583200000)));
        assert_eq!(item.recipient.as_deref(), Some("111222333"));
        assert_eq!(item.url, None);
    }

    #[test]
    fn missing_username_uses_the_numeric_id() {
        let item = map(json!({
            "update_id": 2,
            "message": {
                "message_id": 5,
                "from": {"id": 555000111, "is_bot": false, "first_name": "Jorge"},
                "chat": {"id": 555000111, "first_name": "Jorge", "type": "private"},
                "date": 1764583200,
                "text": "hola"
            }
        }))
        .unwrap();
        assert_eq!(item.msg.author.handle, "555000111");
        assert_eq!(item.msg.author.name.as_deref(), Some("Jorge"));
    }

    #[test]
    fn group_mention_is_a_public_mention() {
        // "¡Hola 👋 @NordiaHelpBot ayuda!" — the emoji is two UTF-16 units,
        // so the entity's offset (9) is not the char index (8).
        let text = "¡Hola 👋 @NordiaHelpBot ayuda!";
        let item = map(json!({
            "update_id": 3,
            "message": {
                "message_id": 901,
                "from": {"id": 42424242, "is_bot": false, "first_name": "Luis", "username": "luis_m"},
                "chat": {"id": -1001234567890i64, "title": "Clientes Nordia", "username": "nordia_clientes",
                         "type": "supergroup"},
                "date": 1764583300,
                "text": text,
                "entities": [{"offset": 9, "length": 14, "type": "mention"}]
            }
        }))
        .unwrap();
        assert_eq!(utf16_slice(text, 9, 14).as_deref(), Some("@NordiaHelpBot"));
        assert!(item.mention);
        assert!(item.msg.public);
        assert_eq!(item.msg.external_id, "-1001234567890:901");
        assert_eq!(item.msg.thread.as_deref(), Some("chat:-1001234567890"));
        assert_eq!(item.recipient.as_deref(), Some("42424242"));
        assert_eq!(
            item.url.as_deref(),
            Some("https://t.me/nordia_clientes/901")
        );
    }

    #[test]
    fn group_messages_not_for_the_bot_are_ignored() {
        let base = |text: &str, entities: Value| {
            json!({
                "update_id": 4,
                "message": {
                    "message_id": 902,
                    "from": {"id": 42424242, "is_bot": false, "first_name": "Luis"},
                    "chat": {"id": -4001, "title": "Amigos", "type": "group"},
                    "date": 1764583300,
                    "text": text,
                    "entities": entities
                }
            })
        };
        assert!(map(base("alguien sabe si abren hoy? ayuda", json!([]))).is_none());
        // Another bot whose name starts like ours.
        assert!(
            map(base(
                "@NordiaHelpBotFake ayuda",
                json!([{"offset": 0, "length": 18, "type": "mention"}])
            ))
            .is_none()
        );
        // A command for us, by entity.
        let cmd = map(base(
            "/ayuda@NordiaHelpBot",
            json!([{"offset": 0, "length": 20, "type": "bot_command"}]),
        ))
        .unwrap();
        assert!(cmd.mention);
        // A mention without entities (clients always send them; be lenient).
        assert!(map(base("hola @nordiahelpbot, ayuda", json!([]))).is_some());
    }

    #[test]
    fn a_reply_to_the_bot_continues_the_conversation() {
        let item = map(json!({
            "update_id": 5,
            "message": {
                "message_id": 950,
                "from": {"id": 42424242, "is_bot": false, "first_name": "Luis", "username": "luis_m"},
                "chat": {"id": -4001, "title": "Amigos", "type": "group"},
                "date": 1764583400,
                "text": "gracias, ya me llegó",
                "reply_to_message": {
                    "message_id": 949,
                    "from": {"id": 7000000001i64, "is_bot": true, "first_name": "Nordia", "username": "NordiaHelpBot"},
                    "chat": {"id": -4001, "title": "Amigos", "type": "group"},
                    "date": 1764583390,
                    "text": "Hola Luis, ¿nos das el número de pedido?"
                }
            }
        }))
        .unwrap();
        assert!(!item.mention);
        assert!(item.msg.public);
        assert_eq!(item.url, None);
    }

    #[test]
    fn photo_with_caption_and_media_without_text() {
        let photo = map(json!({
            "update_id": 6,
            "message": {
                "message_id": 43,
                "from": {"id": 111222333, "is_bot": false, "first_name": "Ana", "username": "anaperez"},
                "chat": {"id": 111222333, "first_name": "Ana", "type": "private"},
                "date": 1764583500,
                "photo": [
                    {"file_id": "AgACAgQAAxkBAAIB", "file_unique_id": "AQAD1", "file_size": 1401, "width": 90, "height": 67},
                    {"file_id": "AgACAgQAAxkBAAIC", "file_unique_id": "AQAD2", "file_size": 61230, "width": 800, "height": 600}
                ],
                "caption": "Así llegó la caja",
                "caption_entities": []
            }
        }))
        .unwrap();
        assert_eq!(photo.msg.text, "[photo] Así llegó la caja");
        let sticker = map(json!({
            "update_id": 7,
            "message": {
                "message_id": 44,
                "from": {"id": 111222333, "is_bot": false, "first_name": "Ana"},
                "chat": {"id": 111222333, "first_name": "Ana", "type": "private"},
                "date": 1764583600,
                "sticker": {"file_id": "CAACAgIAAxkBAAIE", "file_unique_id": "AgAD", "type": "regular",
                            "width": 512, "height": 512, "is_animated": false, "is_video": false,
                            "emoji": "😡", "set_name": "AngryCats"}
            }
        }))
        .unwrap();
        assert_eq!(sticker.msg.text, "[sticker 😡]");
        let doc = map(json!({
            "update_id": 8,
            "message": {
                "message_id": 45,
                "from": {"id": 111222333, "is_bot": false, "first_name": "Ana"},
                "chat": {"id": 111222333, "type": "private"},
                "date": 1764583700,
                "document": {"file_name": "factura.pdf", "mime_type": "application/pdf", "file_id": "BQAC", "file_unique_id": "AgAD"}
            }
        }))
        .unwrap();
        assert_eq!(doc.msg.text, "[document: factura.pdf]");
    }

    #[test]
    fn an_edit_is_a_message_of_its_own() {
        let item = map(json!({
            "update_id": 9,
            "edited_message": {
                "message_id": 42,
                "from": {"id": 111222333, "is_bot": false, "first_name": "Ana", "username": "anaperez"},
                "chat": {"id": 111222333, "first_name": "Ana", "type": "private"},
                "date": 1764583200,
                "edit_date": 1764583260,
                "text": "Hola, mi pedido 1234 no ha llegado"
            }
        }))
        .unwrap();
        assert_eq!(item.msg.external_id, "111222333:42:edit:1764583260");
        assert_eq!(item.msg.text, "[edited] Hola, mi pedido 1234 no ha llegado");
        assert_eq!(item.msg.sent_at, Some(Ts(1764583260000)));
        // Replies to it still quote the original message.
        assert_eq!(split_external(&item.msg.external_id), Some((111222333, 42)));
    }

    #[test]
    fn service_messages_bots_and_channels_are_skipped() {
        let joined = json!({
            "update_id": 10,
            "message": {
                "message_id": 960,
                "from": {"id": 42424242, "is_bot": false, "first_name": "Luis"},
                "chat": {"id": -4001, "title": "Amigos", "type": "group"},
                "date": 1764583400,
                "new_chat_members": [{"id": 7000000001i64, "is_bot": true, "first_name": "Nordia", "username": "NordiaHelpBot"}]
            }
        });
        assert!(map(joined).is_none());
        let from_bot = json!({
            "update_id": 11,
            "message": {
                "message_id": 961,
                "from": {"id": 99, "is_bot": true, "first_name": "Other", "username": "other_bot"},
                "chat": {"id": 99, "type": "private"},
                "date": 1764583400,
                "text": "hi"
            }
        });
        assert!(map(from_bot).is_none());
        assert!(map(json!({"update_id": 12})).is_none());
        let channel = json!({
            "update_id": 13,
            "edited_message": {
                "message_id": 1, "chat": {"id": -1009, "type": "channel", "title": "News"},
                "date": 1764583400, "text": "@NordiaHelpBot"
            }
        });
        assert!(map(channel).is_none());
        // A private message with nothing we can show (a pinned-message service note).
        let pinned = json!({
            "update_id": 14,
            "message": {
                "message_id": 2, "from": {"id": 5, "first_name": "A"},
                "chat": {"id": 5, "type": "private"}, "date": 1764583400,
                "pinned_message": {"message_id": 1, "chat": {"id": 5, "type": "private"}, "date": 1764583300, "text": "x"}
            }
        });
        assert!(map(pinned).is_none());
    }

    #[test]
    fn anonymous_admin_writes_as_the_group() {
        let item = map(json!({
            "update_id": 15,
            "message": {
                "message_id": 970,
                "from": {"id": 1087968824, "is_bot": true, "first_name": "Group", "username": "GroupAnonymousBot"},
                "sender_chat": {"id": -1001234567890i64, "title": "Clientes Nordia", "username": "nordia_clientes", "type": "supergroup"},
                "chat": {"id": -1001234567890i64, "title": "Clientes Nordia", "username": "nordia_clientes", "type": "supergroup"},
                "date": 1764583400,
                "text": "@NordiaHelpBot ayuda"
            }
        }));
        // The group's own staff, not a customer.
        assert!(item.is_none());
        let as_channel = map(json!({
            "update_id": 16,
            "message": {
                "message_id": 971,
                "from": {"id": 136817688, "is_bot": true, "first_name": "Channel", "username": "Channel_Bot"},
                "sender_chat": {"id": -1009876543210i64, "title": "Moda Lucía", "username": "modalucia", "type": "channel"},
                "chat": {"id": -1001234567890i64, "title": "Clientes Nordia", "type": "supergroup"},
                "date": 1764583400,
                "text": "@NordiaHelpBot no funciona el cupón"
            }
        }))
        .unwrap();
        assert_eq!(as_channel.msg.author.handle, "@modalucia");
        assert_eq!(as_channel.msg.author.name.as_deref(), Some("Moda Lucía"));
        assert_eq!(as_channel.recipient, None);
    }

    #[test]
    fn answers_are_classified() {
        let ok = parse_answer(200, r#"{"ok":true,"result":[]}"#).unwrap();
        assert_eq!(ok, json!([]));
        let err = |status: u16, body: &str| match parse_answer(status, body) {
            Err(f) => f,
            Ok(v) => panic!("expected an error, got {v}"),
        };
        let limited = err(
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}"#,
        );
        assert_eq!(
            limited.clone().conn_error("getUpdates"),
            ConnError::RateLimited(Duration::from_secs(5))
        );
        assert_eq!(
            limited.send_result(false),
            SendResult::Retry {
                error: "Telegram: Too Many Requests: retry after 5".into(),
                after: Some(Duration::from_secs(5))
            }
        );
        let unauthorized = err(
            401,
            r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
        );
        assert!(matches!(
            unauthorized.clone().conn_error("getMe"),
            ConnError::Auth(t) if t.contains("401 Unauthorized")
        ));
        assert!(matches!(
            unauthorized.send_result(false),
            SendResult::Retry { after: Some(_), .. }
        ));
        let not_found = err(
            404,
            r#"{"ok":false,"error_code":404,"description":"Not Found"}"#,
        );
        assert!(matches!(not_found.conn_error("getMe"), ConnError::Auth(_)));
        let conflict = err(
            409,
            r#"{"ok":false,"error_code":409,"description":"Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}"#,
        );
        assert!(matches!(
            conflict.conn_error("getUpdates"),
            ConnError::Invalid(t) if t.contains("webhook")
        ));
        let chat = err(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
        );
        assert_eq!(
            chat.send_result(false),
            SendResult::Permanent("Telegram: Bad Request: chat not found".into())
        );
        let blocked = err(
            403,
            r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#,
        );
        assert_eq!(
            blocked.clone().send_result(false),
            SendResult::Permanent("Telegram: Forbidden: bot was blocked by the user".into())
        );
        assert!(
            matches!(blocked.send_result(true), SendResult::Permanent(t) if t.contains("started"))
        );
        let busy = err(
            500,
            r#"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#,
        );
        assert!(matches!(
            busy.clone().send_result(false),
            SendResult::Retry { after: None, .. }
        ));
        assert!(matches!(
            busy.conn_error("getUpdates"),
            ConnError::Transient(_)
        ));
        let gateway = err(
            502,
            "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx/1.18.0</center></body></html>",
        );
        match &gateway {
            Failure::Api(a) => {
                assert_eq!(a.code, 502);
                assert!(a.description.contains("Bad Gateway"), "{}", a.description);
                assert!(!a.description.contains('<'));
            }
            f => panic!("{f:?}"),
        }
        let migrated = err(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234567890}}"#,
        );
        assert!(matches!(
            migrated,
            Failure::Api(ApiError {
                migrate_to: Some(-1001234567890),
                ..
            })
        ));
        assert!(matches!(err(200, "not json"), Failure::Unreadable(_)));
        assert_eq!(err(200, "not json").send_result(false), SendResult::Sent);
        assert!(matches!(
            Failure::Unknown("operation timed out".into()).send_result(false),
            SendResult::Unknown(t) if t.starts_with("delivery unknown")
        ));
        assert!(matches!(
            Failure::NotSent("connection refused".into()).send_result(false),
            SendResult::Retry { .. }
        ));
    }

    fn out(
        thread: &str,
        private: bool,
        in_reply_to: Option<&str>,
        recipient: Option<&str>,
    ) -> OutgoingSocial {
        OutgoingSocial {
            text: "Hola".into(),
            private,
            thread: thread.into(),
            in_reply_to: in_reply_to.map(str::to_string),
            recipient: recipient.map(str::to_string),
            ..OutgoingSocial::default()
        }
    }

    #[test]
    fn reply_targets() {
        let t = |o: OutgoingSocial| target(&o);
        // A private chat: the chat, quoting the customer.
        assert_eq!(
            t(out("chat:111", true, Some("111:42"), Some("111"))),
            Ok(Target {
                chat: 111,
                reply_to: Some(42),
                private_dm: false
            })
        );
        // A group, answered publicly: the group, quoting.
        assert_eq!(
            t(out(
                "chat:-1001",
                false,
                Some("-1001:9:edit:77"),
                Some("555")
            )),
            Ok(Target {
                chat: -1001,
                reply_to: Some(9),
                private_dm: false
            })
        );
        // A group, answered privately: the customer's own chat, no quote.
        assert_eq!(
            t(out("chat:-1001", true, Some("-1001:9"), Some("555"))),
            Ok(Target {
                chat: 555,
                reply_to: None,
                private_dm: true
            })
        );
        assert!(t(out("chat:-1001", true, Some("-1001:9"), None)).is_err());
        // Promoted from the stream: no chat thread, the answered message says.
        assert_eq!(
            t(out("identity:12", false, Some("-1001:9"), None)),
            Ok(Target {
                chat: -1001,
                reply_to: Some(9),
                private_dm: false
            })
        );
        assert!(t(out("identity:12", false, None, None)).is_err());
    }

    #[test]
    fn the_token_is_required_and_checked() {
        assert!(connector(&cfg(None, "http://127.0.0.1:9")).is_none());
        assert!(connector(&cfg(Some("  "), "http://127.0.0.1:9")).is_none());
        assert!(Telegram::new(&cfg(Some("12/34"), "http://127.0.0.1:9")).is_err());
        let c = connector(&cfg(Some("123:ABC"), "http://127.0.0.1:9/")).unwrap();
        assert_eq!(c.kind(), ChannelKind::Telegram);
        assert_eq!(c.name(), "tg");
        assert!(
            !format!("{:?}", Telegram::new(&cfg(Some("123:ABC"), "x")).unwrap()).contains("ABC")
        );
    }

    fn provider() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }

    /// A refused connection: retried, and no error text holds the token.
    #[tokio::test]
    async fn unreachable_telegram_is_retried_and_the_token_stays_secret() {
        provider();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let tg = Telegram::new(&cfg(
            Some("123:SECRETTOKEN"),
            &format!("http://127.0.0.1:{port}"),
        ))
        .unwrap();
        let sent = tg
            .send(&out("chat:111", true, Some("111:1"), Some("111")))
            .await;
        match &sent {
            SendResult::Retry { error, .. } => assert!(!error.contains("SECRETTOKEN"), "{error}"),
            r => panic!("{r:?}"),
        }
        let polled = tg.poll(Some("5")).await.unwrap_err();
        assert!(!polled.to_string().contains("SECRETTOKEN"), "{polled}");
        assert!(matches!(polled, ConnError::Transient(_)));
    }

    /// A `sendMessage` that gets no answer is not retried: Telegram may have
    /// posted it, and cannot be asked.
    #[tokio::test]
    async fn a_timed_out_send_is_reported_unknown_not_retried() {
        provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let tg = Telegram::new(&cfg(
            Some("123:SECRETTOKEN"),
            &format!("http://127.0.0.1:{port}"),
        ))
        .unwrap()
        .with_send_timeout(Duration::from_millis(300));
        let sent = tg
            .send(&out("chat:111", true, Some("111:1"), Some("111")))
            .await;
        match &sent {
            SendResult::Unknown(t) => {
                assert!(t.starts_with("delivery unknown"), "{t}");
                assert!(!t.contains("SECRETTOKEN"), "{t}");
            }
            r => panic!("{r:?}"),
        }
        hold.abort();
    }

    #[tokio::test]
    async fn overlong_and_empty_replies_are_refused_before_sending() {
        let tg = Telegram::new(&cfg(Some("123:ABC"), "http://127.0.0.1:9")).unwrap();
        let mut o = out("chat:111", true, None, Some("111"));
        o.text = "x".repeat(MAX_TEXT + 1);
        assert!(matches!(tg.send(&o).await, SendResult::Permanent(t) if t.contains("4096")));
        o.text = "  ".into();
        assert!(matches!(tg.send(&o).await, SendResult::Permanent(_)));
    }
}
