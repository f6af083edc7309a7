//! A fake Telegram Bot API for the demo (a simplified `tests/fakes/telegram.rs`):
//! `/bot<token>/<method>` with parameters in the query string or a JSON
//! body; `getMe`, `getUpdates` (long poll, `offset` confirms) and
//! `sendMessage` (`reply_parameters`), answered as `{"ok":true,"result":…}`.

use super::BOT_USERNAME;
use super::script::{Person, Shape, answer_back, answer_delay};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The demo bot's token (fake: it opens nothing anywhere).
pub const TOKEN: &str = "7000000001:DEMO-not-a-real-token";
const BOT_ID: i64 = 7_000_000_001;
/// The customers' group the bot is in.
const GROUP: i64 = -1_001_234_567_890;
const GROUP_TITLE: &str = "Clientes Nordia";

#[derive(Default)]
struct Inner {
    next_update: i64,
    /// Updates not yet confirmed, oldest first.
    queue: VecDeque<Value>,
    chats: HashMap<i64, Value>,
    messages: HashMap<(i64, i64), Value>,
    next_message: HashMap<i64, i64>,
    /// Who writes in each private chat / who wrote each group message.
    people: HashMap<(i64, i64), Person>,
    replies: u64,
}

pub struct Fake {
    inner: Mutex<Inner>,
    wake: Notify,
}

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Nordia", "username": BOT_USERNAME})
}

fn user_json(p: &Person) -> Value {
    let first = p.name.split(' ').next().unwrap_or(&p.name);
    let last = p.name.split_once(' ').map(|(_, l)| l);
    let mut v = json!({"id": p.id as i64, "is_bot": false, "first_name": first,
                       "username": p.handle, "language_code": if p.es { "es" } else { "en" }});
    if let Some(l) = last {
        v["last_name"] = json!(l);
    }
    v
}

fn private_chat(p: &Person) -> Value {
    let mut v = user_json(p);
    v["type"] = json!("private");
    if let Some(o) = v.as_object_mut() {
        o.remove("is_bot");
        o.remove("language_code");
    }
    v
}

/// `mention` entities for `@handles` (offsets in UTF-16 code units).
fn entities(text: &str) -> Value {
    let mut out = Vec::new();
    let mut pos = 0usize;
    for word in text.split(' ') {
        let len = word.encode_utf16().count();
        if word.starts_with('@') && len > 1 {
            out.push(json!({"offset": pos, "length": len, "type": "mention"}));
        }
        pos += len + 1;
    }
    Value::Array(out)
}

impl Fake {
    pub fn new() -> Arc<Fake> {
        Arc::new(Fake {
            inner: Mutex::new(Inner {
                next_update: 815_000_001,
                ..Inner::default()
            }),
            wake: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/{bot}/{method}", axum::routing::any(handle))
            .with_state(self)
    }

    fn push_message(&self, from: &Person, chat: Value, text: &str, reply_to: Option<i64>) {
        {
            let mut s = self.lock();
            let chat_id = chat["id"].as_i64().unwrap_or_default();
            let next = s.next_message.entry(chat_id).or_insert(1);
            let mid = *next;
            *next += 1;
            let mut msg = json!({
                "message_id": mid, "from": user_json(from), "chat": chat,
                "date": unix_now(), "text": text, "entities": entities(text),
            });
            if let Some(o) = reply_to.and_then(|r| s.messages.get(&(chat_id, r)).cloned()) {
                msg["reply_to_message"] = o;
            }
            s.chats.insert(chat_id, msg["chat"].clone());
            s.messages.insert((chat_id, mid), msg.clone());
            s.people.insert((chat_id, mid), from.clone());
            s.people.insert((chat_id, 0), from.clone());
            let id = s.next_update;
            s.next_update += 1;
            s.queue.push_back(json!({"update_id": id, "message": msg}));
        }
        self.wake.notify_waiters();
    }

    /// A customer writes: in the group to the bot (public) or privately.
    pub fn push(&self, p: &Person, shape: Shape, text: &str) {
        // One Telegram chat is one conversation: most customers write to
        // the bot privately, some address it in the customers' group.
        match shape {
            Shape::Mention | Shape::Brand if p.id.is_multiple_of(3) => {
                let chat = json!({"id": GROUP, "title": GROUP_TITLE, "type": "supergroup"});
                self.push_message(p, chat, &format!("@{BOT_USERNAME} {text}"), None)
            }
            _ => self.push_message(p, private_chat(p), text, None),
        }
    }

    /// Now and then the customer answers our reply `message_id` in `chat`.
    fn maybe_answer(self: &Arc<Self>, chat: i64, message_id: i64, reply_to: Option<i64>) {
        let (k, person) = {
            let mut s = self.lock();
            s.replies += 1;
            let who = reply_to
                .and_then(|r| s.people.get(&(chat, r)))
                .or_else(|| s.people.get(&(chat, 0)))
                .cloned();
            (s.replies, who)
        };
        let (Some(delay), Some(p)) = (answer_delay(k), person) else {
            return;
        };
        let fake = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let text = answer_back(p.es, k);
            if chat == GROUP {
                let chat = json!({"id": GROUP, "title": GROUP_TITLE, "type": "supergroup"});
                fake.push_message(&p, chat, text, Some(message_id));
            } else {
                fake.push_message(&p, private_chat(&p), text, None);
            }
        });
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn ok(result: Value) -> Response {
    answer(StatusCode::OK, json!({"ok": true, "result": result}))
}

fn error(code: u16, description: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    answer(
        status,
        json!({"ok": false, "error_code": code, "description": description}),
    )
}

/// Parameters from the query string and a JSON body.
fn params(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Value {
    let mut map = serde_json::Map::new();
    if let Some(q) = query
        && let Ok(u) = reqwest::Url::parse(&format!("http://x/?{q}"))
    {
        for (k, v) in u.query_pairs() {
            map.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if json && let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
        map.extend(o);
    }
    Value::Object(map)
}

fn int(p: &Value, key: &str) -> Option<i64> {
    match p.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    Path((bot, method)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if bot.strip_prefix("bot") != Some(TOKEN) {
        return error(401, "Unauthorized");
    }
    let p = params(query.as_deref(), &headers, &body);
    match method.to_lowercase().as_str() {
        "getme" => ok(bot_user()),
        "getupdates" => get_updates(&fake, &p).await,
        "sendmessage" => send_message(&fake, &p),
        _ => error(404, "Not Found"),
    }
}

async fn get_updates(fake: &Arc<Fake>, p: &Value) -> Response {
    let offset = int(p, "offset");
    let limit = int(p, "limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(int(p, "timeout").unwrap_or(0).clamp(0, 50) as u64);
    if let Some(o) = offset {
        let mut s = fake.lock();
        while s
            .queue
            .front()
            .and_then(|u| u["update_id"].as_i64())
            .is_some_and(|id| id < o)
        {
            s.queue.pop_front();
        }
    }
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = fake.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let s = fake.lock();
            let batch: Vec<Value> = s.queue.iter().take(limit).cloned().collect();
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                return ok(Value::Array(batch));
            }
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

fn send_message(fake: &Arc<Fake>, p: &Value) -> Response {
    let (chat_id, message_id, reply_to, msg) = {
        let mut s = fake.lock();
        let Some(chat_id) = int(p, "chat_id") else {
            return error(400, "Bad Request: chat_id is empty");
        };
        let Some(chat) = s.chats.get(&chat_id).cloned() else {
            return error(400, "Bad Request: chat not found");
        };
        let text = p.get("text").and_then(Value::as_str).unwrap_or_default();
        if text.trim().is_empty() {
            return error(400, "Bad Request: message text is empty");
        }
        if text.encode_utf16().count() > 4096 {
            return error(400, "Bad Request: message is too long");
        }
        let reply = match p.get("reply_parameters") {
            Some(Value::String(s)) => serde_json::from_str(s).ok(),
            other => other.cloned(),
        };
        let reply_to = reply
            .as_ref()
            .and_then(|r| int(r, "message_id"))
            .or_else(|| int(p, "reply_to_message_id"));
        let original = reply_to.and_then(|m| s.messages.get(&(chat_id, m)).cloned());
        let next = s.next_message.entry(chat_id).or_insert(1);
        let message_id = *next;
        *next += 1;
        let mut msg = json!({"message_id": message_id, "from": bot_user(), "chat": chat,
                             "date": unix_now(), "text": text});
        if let Some(o) = original {
            msg["reply_to_message"] = o;
        }
        s.messages.insert((chat_id, message_id), msg.clone());
        (chat_id, message_id, reply_to, msg)
    };
    fake.maybe_answer(chat_id, message_id, reply_to);
    ok(msg)
}
