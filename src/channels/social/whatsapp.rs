//! The WhatsApp Business Cloud API connector.
//!
//! WhatsApp is webhook-only for inbound: Meta POSTs messages and the
//! statuses of our replies to `/webhooks/{channel}` (signed with
//! `X-Hub-Signature-256`, an HMAC-SHA256 of the raw body with the app
//! secret), after a `hub.challenge` verification. There is nothing to poll.
//!
//! Replies go out with `POST /v21.0/{phone-number-id}/messages` as free-form
//! text, which WhatsApp accepts only within 24 hours of the customer's last
//! message (the customer-service window); a text reply outside it fails at
//! once, before any call, with a message saying why. An approved template
//! (`OutgoingSocial::template`: name and language, configured per channel
//! and chosen by the agent) is sent as `"type": "template"` at any time.
//!
//! The Cloud API has no idempotency key and no way to look a sent message up,
//! so a send that timed out is never retried blindly: its delivery becomes
//! "unknown" (`SendResult::Unknown`) and the agent checks the chat. (A
//! connection that was refused never reached WhatsApp and is retried.) Since
//! we never learn the `wamid` of such a message, later statuses cannot be
//! matched to it.
//!
//! Inbound media are shown as placeholders with their caption (`[image] …`);
//! the media themselves are not downloaded. Reactions are not stored.

use super::{ConnError, Connector, OutgoingSocial, Polled, SocialItem, WebhookError};
use super::{WebhookOutcome, http_client, send_result};
use crate::channels::SendResult;
use crate::config::WhatsappChannel;
use crate::domain::{ChannelKind, Delivery, Ts};
use crate::ingest::{AuthorProfile, InboundMessage};
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

/// Whether this version connects the network (false: reported as pending).
pub const CONNECTED: bool = true;

/// The Graph API version the paths use.
pub const GRAPH_VERSION: &str = "v21.0";

/// WhatsApp's customer-service window.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Why a reply outside the window is refused.
pub const OUTSIDE_WINDOW: &str =
    "outside WhatsApp's 24-hour window: only an approved template can be sent now";

/// Why a reply whose send timed out is not retried.
pub const DELIVERY_UNKNOWN: &str =
    "delivery unknown: WhatsApp did not answer in time; check the chat before sending again";

/// The longest text message WhatsApp accepts.
const MAX_TEXT: usize = 4096;

/// Time limit of one API call.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The connector for one configured channel.
pub fn connector(cfg: &WhatsappChannel) -> Option<Arc<dyn Connector>> {
    let Some(token) = cfg.access_token.as_ref().filter(|t| !t.expose().is_empty()) else {
        tracing::warn!(channel = %cfg.name, "whatsapp channel has no access_token: not connected");
        return None;
    };
    if cfg.app_secret.is_none() {
        tracing::warn!(channel = %cfg.name, "whatsapp channel has no app_secret: every webhook delivery will be refused");
    }
    if cfg.verify_token.is_none() {
        tracing::warn!(channel = %cfg.name, "whatsapp channel has no verify_token: the webhook cannot be verified");
    }
    Some(Arc::new(Whatsapp::new(cfg, token.expose(), TIMEOUT)))
}

/// One WhatsApp business phone number.
pub struct Whatsapp {
    name: String,
    phone_number_id: String,
    token: String,
    app_secret: Option<String>,
    verify_token: Option<String>,
    base: String,
    client: reqwest::Client,
}

impl Whatsapp {
    fn new(cfg: &WhatsappChannel, token: &str, timeout: Duration) -> Whatsapp {
        // `http_client` panics without a rustls provider (reqwest has none of its own).
        crate::channels::ensure_crypto_provider();
        Whatsapp {
            name: cfg.name.clone(),
            phone_number_id: cfg.phone_number_id.clone(),
            token: token.to_string(),
            app_secret: cfg.app_secret.as_ref().map(|s| s.expose().to_string()),
            verify_token: cfg.verify_token.as_ref().map(|s| s.expose().to_string()),
            base: cfg.base_url.trim_end_matches('/').to_string(),
            client: http_client(timeout),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{GRAPH_VERSION}/{path}", self.base)
    }

    /// Whether `X-Hub-Signature-256` is the HMAC of `body` with our app secret.
    fn signed(&self, headers: &[(String, String)], body: &[u8]) -> bool {
        let Some(secret) = self.app_secret.as_deref().filter(|s| !s.is_empty()) else {
            return false;
        };
        let Some(sig) = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-hub-signature-256"))
            .and_then(|(_, v)| v.trim().strip_prefix("sha256="))
            .and_then(|h| hex::decode(h).ok())
        else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(body);
        mac.verify_slice(&sig).is_ok()
    }

    /// The deliveries of a verified webhook body that concern our number.
    fn parse(&self, body: &[u8]) -> Result<Polled, WebhookError> {
        let hook: Hook = serde_json::from_slice(body)
            .map_err(|e| WebhookError::Invalid(format!("not a WhatsApp webhook: {e}")))?;
        let mut polled = Polled::default();
        if hook.object != "whatsapp_business_account" {
            return Ok(polled);
        }
        let values = hook
            .entry
            .into_iter()
            .flat_map(|e| e.changes)
            .filter(|c| c.field == "messages")
            .map(|c| c.value)
            .filter(|v| v.metadata.phone_number_id == self.phone_number_id);
        for v in values {
            for m in &v.messages {
                if let Some(item) = self.item(m, &v.contacts) {
                    polled.items.push(item);
                }
            }
            for s in &v.statuses {
                let delivery = match s.status.as_str() {
                    "sent" => Delivery::Sent,
                    "delivered" => Delivery::Delivered,
                    "read" => Delivery::Read,
                    "failed" => Delivery::Failed,
                    _ => continue,
                };
                let detail = (delivery == Delivery::Failed).then(|| failure_detail(&s.errors));
                polled.statuses.push((s.id.clone(), delivery, detail));
            }
        }
        Ok(polled)
    }

    fn item(&self, m: &HookMessage, contacts: &[Contact]) -> Option<SocialItem> {
        // Reactions are not messages to answer.
        if m.kind == "reaction" || m.id.is_empty() || m.from.is_empty() {
            return None;
        }
        let name = contacts
            .iter()
            .find(|c| c.wa_id == m.from)
            .or(contacts.first())
            .and_then(|c| c.profile.as_ref())
            .map(|p| p.name.trim().to_string())
            .filter(|n| !n.is_empty());
        let secs = match &m.timestamp {
            Value::String(s) => s.trim().parse::<i64>().ok(),
            v => v.as_i64(),
        };
        let sent_at = secs.map(|s| Ts(s.saturating_mul(1000)));
        Some(SocialItem {
            msg: InboundMessage {
                channel: self.name.clone(),
                kind: ChannelKind::Whatsapp,
                external_id: m.id.clone(),
                thread: Some(format!("wa:{}", m.from)),
                author: AuthorProfile {
                    handle: format!("+{}", m.from),
                    name,
                    ..Default::default()
                },
                text: message_text(m),
                html: None,
                subject: None,
                attachments: vec![],
                public: false,
                sent_at,
            },
            mention: false,
            recipient: Some(m.from.clone()),
            url: None,
        })
    }

    async fn send_text(&self, out: &OutgoingSocial) -> SendResult {
        let body = match &out.template {
            // Approved templates may be sent at any time.
            Some(t) => {
                let Some(to) = recipient(out) else {
                    return SendResult::Permanent(
                        "the customer's WhatsApp number is unknown".into(),
                    );
                };
                if t.name.is_empty() || t.language.is_empty() {
                    return SendResult::Permanent(
                        "the template has no name or language; check the channel's templates"
                            .into(),
                    );
                }
                template_body(&to, t)
            }
            None => {
                if let Some(refused) = outside_window(out) {
                    return refused;
                }
                let Some(to) = recipient(out) else {
                    return SendResult::Permanent(
                        "the customer's WhatsApp number is unknown".into(),
                    );
                };
                if out.text.trim().is_empty() {
                    return SendResult::Permanent(
                        "an empty message cannot be sent on WhatsApp".into(),
                    );
                }
                if out.text.chars().count() > MAX_TEXT {
                    return SendResult::Permanent(format!(
                        "WhatsApp text messages are limited to {MAX_TEXT} characters; shorten the reply"
                    ));
                }
                request_body(&to, &out.text, out.in_reply_to.as_deref())
            }
        };
        let url = self.url(&format!("{}/messages", self.phone_number_id));
        let mut req = self.client.post(url).bearer_auth(&self.token).json(&body);
        if let Some(t) = out.timeout {
            req = req.timeout(t);
        }
        let res = match req.send().await {
            Ok(r) => r,
            Err(e) => return request_failed(&e),
        };
        let status = res.status().as_u16();
        let text = match res.text().await {
            Ok(t) => t,
            // The request reached WhatsApp; only its answer is missing.
            Err(_) if status < 300 => return SendResult::Unknown(DELIVERY_UNKNOWN.into()),
            Err(e) => return request_failed(&e),
        };
        if !(200..300).contains(&status) {
            return send_error(status, &text);
        }
        let id = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
            v["messages"][0]["id"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        });
        match id {
            Some(id) => SendResult::Posted(id),
            // Accepted, but we cannot follow its statuses.
            None => SendResult::Sent,
        }
    }

    async fn check_number(&self) -> Result<String, ConnError> {
        let url = self.url(&self.phone_number_id);
        let res = self
            .client
            .get(url)
            .bearer_auth(&self.token)
            .query(&[("fields", "display_phone_number,verified_name")])
            .send()
            .await
            .map_err(|e| ConnError::Transient(format!("WhatsApp: {}", without_url(&e))))?;
        let status = res.status().as_u16();
        let text = res
            .text()
            .await
            .map_err(|e| ConnError::Transient(format!("WhatsApp: {}", without_url(&e))))?;
        if !(200..300).contains(&status) {
            return Err(classify(status, &text));
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| ConnError::Invalid(format!("WhatsApp answered with no JSON: {e}")))?;
        let number = v["display_phone_number"]
            .as_str()
            .ok_or_else(|| ConnError::Invalid("WhatsApp did not name the phone number".into()))?;
        Ok(
            match v["verified_name"].as_str().filter(|n| !n.is_empty()) {
                Some(n) => format!("{number} ({n})"),
                None => number.to_string(),
            },
        )
    }
}

impl Connector for Whatsapp {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ChannelKind {
        ChannelKind::Whatsapp
    }

    /// Webhook-only: nothing to poll.
    fn poll<'a>(&'a self, _cursor: Option<&'a str>) -> BoxFuture<'a, Result<Polled, ConnError>> {
        Box::pin(async { Ok(Polled::default()) })
    }

    fn idle(&self) -> Duration {
        Duration::from_secs(3600)
    }

    fn send<'a>(&'a self, out: &'a OutgoingSocial) -> BoxFuture<'a, SendResult> {
        Box::pin(self.send_text(out))
    }

    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String, ConnError>> {
        Box::pin(self.check_number())
    }

    fn verify_webhook(&self, query: &[(String, String)]) -> Option<String> {
        let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.as_str());
        let expected = self.verify_token.as_deref().filter(|t| !t.is_empty())?;
        let given = get("hub.verify_token")?;
        (get("hub.mode") == Some("subscribe") && same(given.as_bytes(), expected.as_bytes()))
            .then(|| get("hub.challenge").unwrap_or_default().to_string())
    }

    fn webhook(
        &self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<WebhookOutcome, WebhookError> {
        if !self.signed(headers, body) {
            return Err(WebhookError::BadSignature);
        }
        Ok(WebhookOutcome {
            polled: self.parse(body)?,
        })
    }
}

/// Constant-time equality (the verify token is a shared secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The refusal of a reply outside the 24-hour window, if it is.
pub fn outside_window(out: &OutgoingSocial) -> Option<SendResult> {
    let window = WINDOW.as_millis() as i64;
    match out.last_inbound_at {
        Some(t) if out.now.0.saturating_sub(t.0) <= window => None,
        _ => Some(SendResult::Permanent(OUTSIDE_WINDOW.into())),
    }
}

/// The customer's `wa_id`: the saved recipient, else from the thread or handle.
fn recipient(out: &OutgoingSocial) -> Option<String> {
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    out.recipient
        .clone()
        .filter(|r| digits(r))
        .or_else(|| out.thread.strip_prefix("wa:").map(str::to_string))
        .or_else(|| out.handle.strip_prefix('+').map(str::to_string))
        .filter(|r| digits(r))
}

/// The JSON of a text reply, quoting the customer's message when known.
pub fn request_body(to: &str, text: &str, in_reply_to: Option<&str>) -> Value {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": { "preview_url": false, "body": text },
    });
    if let Some(id) = in_reply_to.filter(|id| !id.is_empty()) {
        body["context"] = json!({ "message_id": id });
    }
    body
}

/// The JSON of an approved template (Cloud API: `type: template`). Templates
/// with variables are not supported: the configured ones are sent as is.
pub fn template_body(to: &str, t: &super::Template) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": { "name": t.name, "language": { "code": t.language } },
    })
}

/// A request that got no answer. A connection never made is retried; one
/// that may have reached WhatsApp is not (no idempotency key).
fn request_failed(e: &reqwest::Error) -> SendResult {
    if e.is_connect() || e.is_builder() {
        return send_result(ConnError::Transient(format!(
            "WhatsApp: {}",
            without_url(e)
        )));
    }
    SendResult::Unknown(DELIVERY_UNKNOWN.into())
}

fn without_url(e: &reqwest::Error) -> String {
    let mut s = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(x) = src {
        if !s.is_empty() {
            s.push_str(": ");
        }
        let t = x.to_string();
        // reqwest's own text names the URL; keep the cause.
        s.push_str(t.split(" for url (").next().unwrap_or(&t));
        src = x.source();
    }
    s
}

/// What a failed send call means for the outbox.
pub fn send_error(status: u16, body: &str) -> SendResult {
    if graph_error(body).is_some_and(|g| g.code == 131047) {
        return SendResult::Permanent(OUTSIDE_WINDOW.into());
    }
    send_result(classify(status, body))
}

/// Classify a Graph API error answer.
pub fn classify(status: u16, body: &str) -> ConnError {
    let Some(g) = graph_error(body) else {
        return super::classify_status(status, body, None);
    };
    let text = g.describe();
    match g.code {
        // Throughput (130429), pair rate (131056), app (4), account (80007), spam (131048).
        130429 => ConnError::RateLimited(Duration::from_secs(10)),
        131056 => ConnError::RateLimited(Duration::from_secs(60)),
        4 | 80007 | 131048 => ConnError::RateLimited(Duration::from_secs(300)),
        // Expired or revoked token, missing permission.
        0 | 10 | 190 | 200..=299 => ConnError::Auth(text),
        131047 => ConnError::Invalid(format!("{OUTSIDE_WINDOW} ({text})")),
        // Temporary trouble on WhatsApp's side.
        1 | 2 | 131000 | 131016 | 133004 => ConnError::Transient(text),
        _ if status >= 500 => ConnError::Transient(text),
        _ if status == 401 => ConnError::Auth(text),
        _ if status == 429 => ConnError::RateLimited(Duration::from_secs(60)),
        // 131026 undeliverable, 131051 unsupported type, 100 bad parameter, ...
        _ => ConnError::Invalid(text),
    }
}

#[derive(Debug, Default, Deserialize)]
struct GraphError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: i64,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorData {
    #[serde(default)]
    details: String,
}

impl GraphError {
    fn describe(&self) -> String {
        let details = self.error_data.as_ref().map(|d| d.details.trim());
        match details.filter(|d| !d.is_empty() && *d != self.message) {
            Some(d) => format!("WhatsApp error {}: {}: {d}", self.code, self.message),
            None => format!("WhatsApp error {}: {}", self.code, self.message),
        }
    }
}

fn graph_error(body: &str) -> Option<GraphError> {
    #[derive(Deserialize)]
    struct Wrapper {
        error: GraphError,
    }
    serde_json::from_str::<Wrapper>(body).ok().map(|w| w.error)
}

/// The agent-facing reason of a `failed` status.
fn failure_detail(errors: &[StatusError]) -> String {
    let Some(e) = errors.first() else {
        return "WhatsApp could not deliver the message".into();
    };
    let details = e
        .error_data
        .as_ref()
        .map(|d| d.details.trim())
        .filter(|d| !d.is_empty())
        .or(Some(e.message.trim()).filter(|m| !m.is_empty()));
    let mut s = format!("WhatsApp error {}: {}", e.code, e.title.trim());
    if let Some(d) = details.filter(|d| *d != e.title.trim()) {
        s.push_str(": ");
        s.push_str(d);
    }
    if e.code == 131047 {
        s = format!("{OUTSIDE_WINDOW} ({s})");
    }
    s
}

/// The text shown for one inbound message: its body, or a placeholder
/// naming the media with its caption.
fn message_text(m: &HookMessage) -> String {
    let with = |tag: &str, rest: &[Option<&str>]| {
        let rest: Vec<&str> = rest
            .iter()
            .flatten()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        if rest.is_empty() {
            format!("[{tag}]")
        } else {
            format!("[{tag}] {}", rest.join(" "))
        }
    };
    let str_at = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let obj = m.rest.get(&m.kind).cloned().unwrap_or(Value::Null);
    match m.kind.as_str() {
        "text" => str_at(&obj, "body").unwrap_or_default(),
        "image" | "video" | "sticker" => {
            let caption = str_at(&obj, "caption");
            with(&m.kind, &[caption.as_deref()])
        }
        "audio" => {
            let voice = obj.get("voice").and_then(Value::as_bool) == Some(true);
            with(if voice { "voice message" } else { "audio" }, &[])
        }
        "document" => {
            let file = str_at(&obj, "filename");
            let caption = str_at(&obj, "caption");
            with("document", &[file.as_deref(), caption.as_deref()])
        }
        "location" => {
            let coords = match (
                obj.get("latitude").and_then(Value::as_f64),
                obj.get("longitude").and_then(Value::as_f64),
            ) {
                (Some(la), Some(lo)) => Some(format!("({la}, {lo})")),
                _ => None,
            };
            let name = str_at(&obj, "name");
            let address = str_at(&obj, "address");
            with(
                "location",
                &[name.as_deref(), address.as_deref(), coords.as_deref()],
            )
        }
        "interactive" => {
            let reply = ["button_reply", "list_reply", "nfm_reply"]
                .iter()
                .find_map(|k| obj.get(*k));
            let title = reply.and_then(|r| str_at(r, "title").or_else(|| str_at(r, "body")));
            title.unwrap_or_else(|| "[interactive reply]".into())
        }
        "button" => str_at(&obj, "text")
            .or_else(|| str_at(&obj, "payload"))
            .unwrap_or_else(|| "[button]".into()),
        "contacts" => {
            let names: Vec<String> = m
                .rest
                .get("contacts")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|c| {
                            let name = c["name"]["formatted_name"].as_str().unwrap_or("");
                            let phone = c["phones"][0]["phone"].as_str().unwrap_or("");
                            format!("{name} {phone}").trim().to_string()
                        })
                        .collect()
                })
                .unwrap_or_default();
            let names = names.join(", ");
            with("contact", &[Some(names.as_str())])
        }
        "system" => {
            let body = str_at(&obj, "body");
            with("system", &[body.as_deref()])
        }
        "" | "unknown" | "unsupported" => "[a message WhatsApp cannot show here]".into(),
        other => format!("[{other}]"),
    }
}

#[derive(Debug, Deserialize)]
struct Hook {
    #[serde(default)]
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: ChangeValue,
}

#[derive(Debug, Default, Deserialize)]
struct ChangeValue {
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<HookMessage>,
    #[serde(default)]
    statuses: Vec<HookStatus>,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    phone_number_id: String,
}

#[derive(Debug, Deserialize)]
struct Contact {
    #[serde(default)]
    profile: Option<Profile>,
    #[serde(default)]
    wa_id: String,
}

#[derive(Debug, Deserialize)]
struct Profile {
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
struct HookMessage {
    #[serde(default)]
    from: String,
    #[serde(default)]
    id: String,
    /// Unix seconds, as a string.
    #[serde(default)]
    timestamp: Value,
    #[serde(rename = "type", default)]
    kind: String,
    /// The type's own object (`text`, `image`, `location`, ...).
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct HookStatus {
    #[serde(default)]
    id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    errors: Vec<StatusError>,
}

#[derive(Debug, Deserialize)]
struct StatusError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    const SECRET: &str = "shh";

    fn cfg(base: &str) -> WhatsappChannel {
        WhatsappChannel {
            name: "wa".into(),
            phone_number_id: "555".into(),
            access_token: Some(Secret::new("tok")),
            app_secret: Some(Secret::new(SECRET)),
            verify_token: Some(Secret::new("vt")),
            base_url: base.into(),
            templates: vec![],
        }
    }

    fn wa() -> Whatsapp {
        Whatsapp::new(&cfg("http://127.0.0.1:9"), "tok", TIMEOUT)
    }

    fn sign(body: &[u8], secret: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    fn hook(phone_number_id: &str, value: Value) -> Vec<u8> {
        let mut value = value;
        value["messaging_product"] = json!("whatsapp");
        value["metadata"] = json!({
            "display_phone_number": "15550100",
            "phone_number_id": phone_number_id,
        });
        json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": "WABA1", "changes": [{ "field": "messages", "value": value }] }],
        })
        .to_string()
        .into_bytes()
    }

    fn inbound(msgs: Vec<Value>) -> Vec<u8> {
        hook(
            "555",
            json!({
                "contacts": [{ "profile": { "name": "Ana Pérez" }, "wa_id": "34600111222" }],
                "messages": msgs,
            }),
        )
    }

    fn msg(id: &str, kind: &str, obj: Value) -> Value {
        let mut m =
            json!({ "from": "34600111222", "id": id, "timestamp": "1767225600", "type": kind });
        m[kind] = obj;
        m
    }

    fn parse(body: &[u8]) -> Polled {
        let w = wa();
        let headers = vec![("x-hub-signature-256".to_string(), sign(body, SECRET))];
        w.webhook(&headers, body).unwrap().polled
    }

    fn texts(body: &[u8]) -> Vec<String> {
        parse(body).items.into_iter().map(|i| i.msg.text).collect()
    }

    #[test]
    fn text_message() {
        let p = parse(&inbound(vec![msg(
            "wamid.A1",
            "text",
            json!({ "body": "Hola, mi pedido no llega" }),
        )]));
        assert_eq!(p.items.len(), 1);
        assert!(p.statuses.is_empty());
        let it = &p.items[0];
        assert!(!it.mention);
        assert!(!it.msg.public);
        assert_eq!(it.recipient.as_deref(), Some("34600111222"));
        assert_eq!(it.msg.external_id, "wamid.A1");
        assert_eq!(it.msg.thread.as_deref(), Some("wa:34600111222"));
        assert_eq!(it.msg.author.handle, "+34600111222");
        assert_eq!(it.msg.author.name.as_deref(), Some("Ana Pérez"));
        assert_eq!(it.msg.text, "Hola, mi pedido no llega");
        assert_eq!(it.msg.kind, ChannelKind::Whatsapp);
        assert_eq!(it.msg.sent_at, Some(Ts(1_767_225_600_000)));
    }

    #[test]
    fn media_and_other_types() {
        let body = inbound(vec![
            msg(
                "wamid.I",
                "image",
                json!({ "id": "MEDIA1", "mime_type": "image/jpeg", "sha256": "x", "caption": "la caja rota" }),
            ),
            msg(
                "wamid.I2",
                "image",
                json!({ "id": "MEDIA2", "mime_type": "image/jpeg" }),
            ),
            msg(
                "wamid.D",
                "document",
                json!({ "id": "M3", "filename": "factura.pdf", "caption": "mi factura" }),
            ),
            msg(
                "wamid.L",
                "location",
                json!({ "latitude": 40.4168, "longitude": -3.7038, "name": "Tienda Sol", "address": "Calle Mayor 1" }),
            ),
            msg("wamid.V", "audio", json!({ "id": "M4", "voice": true })),
            msg(
                "wamid.S",
                "sticker",
                json!({ "id": "M5", "animated": false }),
            ),
            msg(
                "wamid.B",
                "interactive",
                json!({ "type": "button_reply", "button_reply": { "id": "yes", "title": "Sí, gracias" } }),
            ),
            msg(
                "wamid.T",
                "button",
                json!({ "payload": "STOP", "text": "Stop promotions" }),
            ),
            msg(
                "wamid.R",
                "reaction",
                json!({ "message_id": "wamid.OURS", "emoji": "👍" }),
            ),
            msg("wamid.U", "unsupported", json!(null)),
        ]);
        assert_eq!(
            texts(&body),
            vec![
                "[image] la caja rota",
                "[image]",
                "[document] factura.pdf mi factura",
                "[location] Tienda Sol Calle Mayor 1 (40.4168, -3.7038)",
                "[voice message]",
                "[sticker]",
                "Sí, gracias",
                "Stop promotions",
                "[a message WhatsApp cannot show here]",
            ]
        );
    }

    #[test]
    fn statuses() {
        let body = hook(
            "555",
            json!({ "statuses": [
                { "id": "wamid.O1", "status": "sent", "timestamp": "1", "recipient_id": "34600111222" },
                { "id": "wamid.O1", "status": "delivered", "timestamp": "2", "recipient_id": "34600111222" },
                { "id": "wamid.O1", "status": "read", "timestamp": "3", "recipient_id": "34600111222" },
                { "id": "wamid.O2", "status": "failed", "timestamp": "4", "recipient_id": "34600111222",
                  "errors": [{ "code": 131047, "title": "Re-engagement message",
                               "message": "Re-engagement message",
                               "error_data": { "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number." } }] },
                { "id": "wamid.O3", "status": "failed", "timestamp": "5", "recipient_id": "34600111222",
                  "errors": [{ "code": 131026, "title": "Message undeliverable" }] },
                { "id": "wamid.O4", "status": "deleted", "timestamp": "6", "recipient_id": "34600111222" },
            ]}),
        );
        let p = parse(&body);
        assert!(p.items.is_empty());
        let st: Vec<(&str, Delivery)> = p
            .statuses
            .iter()
            .map(|(id, d, _)| (id.as_str(), *d))
            .collect();
        assert_eq!(
            st,
            vec![
                ("wamid.O1", Delivery::Sent),
                ("wamid.O1", Delivery::Delivered),
                ("wamid.O1", Delivery::Read),
                ("wamid.O2", Delivery::Failed),
                ("wamid.O3", Delivery::Failed),
            ]
        );
        assert_eq!(p.statuses[0].2, None);
        let d = p.statuses[3].2.as_deref().unwrap();
        assert!(d.starts_with(OUTSIDE_WINDOW), "{d}");
        assert!(
            d.contains("131047") && d.contains("Re-engagement message"),
            "{d}"
        );
        assert!(d.contains("more than 24 hours"), "{d}");
        assert_eq!(
            p.statuses[4].2.as_deref(),
            Some("WhatsApp error 131026: Message undeliverable")
        );
    }

    #[test]
    fn other_numbers_and_fields_are_ignored() {
        let other = hook(
            "999",
            json!({
                "contacts": [{ "profile": { "name": "X" }, "wa_id": "1" }],
                "messages": [msg("wamid.X", "text", json!({ "body": "hi" }))],
                "statuses": [{ "id": "wamid.O1", "status": "read", "timestamp": "1" }],
            }),
        );
        assert_eq!(parse(&other), Polled::default());
        let templates = json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": "WABA1", "changes": [{
                "field": "message_template_status_update",
                "value": { "event": "APPROVED", "message_template_id": 1 } }] }],
        })
        .to_string();
        assert_eq!(parse(templates.as_bytes()), Polled::default());
        let page = json!({ "object": "page", "entry": [] }).to_string();
        assert_eq!(parse(page.as_bytes()), Polled::default());
        // Ours and another number's in one delivery: only ours.
        let mut both: Value = serde_json::from_slice(&inbound(vec![msg(
            "wamid.M",
            "text",
            json!({ "body": "mine" }),
        )]))
        .unwrap();
        let theirs: Value = serde_json::from_slice(&other).unwrap();
        both["entry"]
            .as_array_mut()
            .unwrap()
            .push(theirs["entry"][0].clone());
        assert_eq!(texts(both.to_string().as_bytes()), vec!["mine"]);
    }

    #[test]
    fn signature() {
        let w = wa();
        let body = inbound(vec![msg("wamid.A", "text", json!({ "body": "hi" }))]);
        let h = |v: &str| vec![("X-Hub-Signature-256".to_string(), v.to_string())];
        assert!(w.webhook(&h(&sign(&body, SECRET)), &body).is_ok());
        let bad = |r: Result<WebhookOutcome, WebhookError>| r == Err(WebhookError::BadSignature);
        assert!(bad(w.webhook(&h(&sign(&body, "other")), &body)));
        assert!(bad(w.webhook(&[], &body)));
        assert!(bad(w.webhook(&h("sha256=zz"), &body)));
        assert!(bad(w.webhook(&h(&sign(&body, SECRET)[7..]), &body)));
        let mut tampered = body.clone();
        tampered.extend_from_slice(b" ");
        assert!(bad(w.webhook(&h(&sign(&body, SECRET)), &tampered)));
        // A signed body that is not JSON is invalid, not unsigned.
        assert!(matches!(
            w.webhook(&h(&sign(b"nope", SECRET)), b"nope"),
            Err(WebhookError::Invalid(_))
        ));
        // No app secret configured: nothing is accepted.
        let mut c = cfg("http://127.0.0.1:9");
        c.app_secret = None;
        let w = Whatsapp::new(&c, "tok", TIMEOUT);
        assert!(bad(w.webhook(&h(&sign(&body, "")), &body)));
    }

    #[test]
    fn verification() {
        let w = wa();
        let q = |mode: &str, token: &str| {
            vec![
                ("hub.mode".to_string(), mode.to_string()),
                ("hub.verify_token".to_string(), token.to_string()),
                ("hub.challenge".to_string(), "1158201444".to_string()),
            ]
        };
        assert_eq!(
            w.verify_webhook(&q("subscribe", "vt")).as_deref(),
            Some("1158201444")
        );
        assert_eq!(w.verify_webhook(&q("subscribe", "wrong")), None);
        assert_eq!(w.verify_webhook(&q("unsubscribe", "vt")), None);
        assert_eq!(w.verify_webhook(&[]), None);
    }

    #[test]
    fn window_boundaries() {
        let now = Ts(1_800_000_000_000);
        let day = 24 * 3600 * 1000;
        let out = |last: Option<i64>| OutgoingSocial {
            last_inbound_at: last.map(|ms| Ts(now.0 - ms)),
            now,
            ..Default::default()
        };
        assert_eq!(outside_window(&out(Some(0))), None);
        assert_eq!(outside_window(&out(Some(day - 1))), None);
        assert_eq!(outside_window(&out(Some(day))), None);
        let refused = Some(SendResult::Permanent(OUTSIDE_WINDOW.into()));
        assert_eq!(outside_window(&out(Some(day + 1))), refused);
        assert_eq!(outside_window(&out(Some(30 * day))), refused);
        assert_eq!(outside_window(&out(None)), refused);
    }

    fn graph(code: i64, message: &str) -> String {
        json!({ "error": {
            "message": message, "type": "OAuthException", "code": code,
            "error_data": { "messaging_product": "whatsapp", "details": format!("{message} (details)") },
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
        }})
        .to_string()
    }

    fn retry_after(r: &SendResult) -> Option<Option<Duration>> {
        match r {
            SendResult::Retry { after, .. } => Some(*after),
            _ => None,
        }
    }

    #[test]
    fn error_classification() {
        for code in [130429, 131056, 4, 80007] {
            let r = send_error(400, &graph(code, "Rate limit hit"));
            let after = retry_after(&r).unwrap_or_else(|| panic!("{code}: {r:?}"));
            assert!(
                after.is_some_and(|d| d >= Duration::from_secs(10)),
                "{code}"
            );
        }
        let r = send_error(401, &graph(190, "Error validating access token"));
        assert_eq!(retry_after(&r), Some(Some(Duration::from_secs(300))));
        let SendResult::Retry { error, .. } = r else {
            unreachable!()
        };
        assert!(error.contains("authentication failed") && error.contains("190"));
        assert_eq!(
            send_error(400, &graph(131047, "Re-engagement message")),
            SendResult::Permanent(OUTSIDE_WINDOW.into())
        );
        for code in [131026, 131051, 100] {
            let r = send_error(400, &graph(code, "Message undeliverable"));
            let SendResult::Permanent(e) = r else {
                panic!("{code}: {r:?}")
            };
            assert!(
                e.contains(&code.to_string()) && e.contains("(details)"),
                "{e}"
            );
        }
        assert_eq!(
            retry_after(&send_error(500, &graph(131000, "Something went wrong"))),
            Some(None)
        );
        assert_eq!(
            retry_after(&send_error(503, "<html>down</html>")),
            Some(None)
        );
        assert_eq!(
            retry_after(&send_error(502, &graph(12345, "Bad gateway"))),
            Some(None)
        );
        assert!(matches!(
            classify(401, &graph(190, "expired")),
            ConnError::Auth(_)
        ));
        assert!(matches!(
            classify(400, &graph(80007, "rate")),
            ConnError::RateLimited(_)
        ));
        assert!(matches!(classify(404, "not json"), ConnError::Invalid(_)));
    }

    #[test]
    fn request_shape() {
        assert_eq!(
            request_body("34600111222", "Hola", Some("wamid.IN")),
            json!({
                "messaging_product": "whatsapp", "recipient_type": "individual",
                "to": "34600111222", "type": "text",
                "text": { "preview_url": false, "body": "Hola" },
                "context": { "message_id": "wamid.IN" },
            })
        );
        assert!(request_body("1", "x", None).get("context").is_none());
        let t = super::super::Template {
            name: "seguimiento_pedido".into(),
            language: "es".into(),
        };
        assert_eq!(
            template_body("34600111222", &t),
            json!({
                "messaging_product": "whatsapp", "recipient_type": "individual",
                "to": "34600111222", "type": "template",
                "template": { "name": "seguimiento_pedido", "language": { "code": "es" } },
            })
        );
        let out = OutgoingSocial {
            thread: "wa:3460".into(),
            handle: "+3460".into(),
            ..Default::default()
        };
        assert_eq!(recipient(&out).as_deref(), Some("3460"));
    }

    fn recent(now: Ts) -> OutgoingSocial {
        OutgoingSocial {
            text: "Hola".into(),
            private: true,
            thread: "wa:34600111222".into(),
            recipient: Some("34600111222".into()),
            handle: "+34600111222".into(),
            last_inbound_at: Some(Ts(now.0 - 60_000)),
            now,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn timeouts_are_not_resent_and_refused_connections_are() {
        // Accepts and never answers.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent = l.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
        let w = Whatsapp::new(
            &cfg(&format!("http://{silent}")),
            "tok",
            Duration::from_millis(300),
        );
        let now = Ts(1_800_000_000_000);
        assert_eq!(
            w.send(&recent(now)).await,
            SendResult::Unknown(DELIVERY_UNKNOWN.into())
        );
        hold.abort();
        // Nothing listens: the request never left.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let w = Whatsapp::new(
            &cfg(&format!("http://{closed}")),
            "tok",
            Duration::from_millis(300),
        );
        let r = w.send(&recent(now)).await;
        assert!(retry_after(&r).is_some(), "{r:?}");
        // Outside the window nothing is attempted at all.
        let mut old = recent(now);
        old.last_inbound_at = Some(Ts(now.0 - 25 * 3600 * 1000));
        assert_eq!(
            w.send(&old).await,
            SendResult::Permanent(OUTSIDE_WINDOW.into())
        );
        // A template is attempted at any time (here: the refused connection).
        let mut template = old.clone();
        template.template = Some(super::super::Template {
            name: "seguimiento_pedido".into(),
            language: "es".into(),
        });
        let r = w.send(&template).await;
        assert!(retry_after(&r).is_some(), "{r:?}");
    }
}
