//! A fake Telegram Bot API for the connector's tests: an axum server on
//! 127.0.0.1 with its own thread and runtime, speaking the documented API
//! (<https://core.telegram.org/bots/api>) as the real one does:
//!
//! * `/bot<token>/<method>`, method names case-insensitive, parameters in the
//!   query string, a JSON body or a form body; a wrong token → 401
//!   `Unauthorized`, an unknown method → 404 `Not Found`; every answer is
//!   `{"ok":true,"result":…}` or `{"ok":false,"error_code":…,"description":…}`
//!   (with `parameters.retry_after` on 429);
//! * `getUpdates`: `offset` confirms (forgets) every update below it, a
//!   negative one keeps only the last |offset|; `limit` (1–100); `timeout`
//!   holds the request until an update arrives or the time passes; a second
//!   poll ends the first with 409 `Conflict: terminated by other getUpdates
//!   request`; with a webhook set, 409 too;
//! * `sendMessage`: validates the chat (known from the updates pushed), the
//!   text (empty, over 4096), `reply_parameters` (or the older
//!   `reply_to_message_id`), blocked chats (403), and answers the `Message`;
//! * `getMe`.
//!
//! Tests push updates, queue faults for the next calls (429, 401, 500, 502,
//! any error, a slow answer), and read back every call and every message
//! sent, with the time it arrived.
#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

pub const BOT_ID: i64 = 7_000_000_001;
pub const BOT_USERNAME: &str = "AtalayaTestBot";

/// Which calls a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    GetUpdates,
    SendMessage,
    GetMe,
    Any,
}

impl Method {
    fn matches(self, name: &str) -> bool {
        match self {
            Method::GetUpdates => name == "getupdates",
            Method::SendMessage => name == "sendmessage",
            Method::GetMe => name == "getme",
            Method::Any => true,
        }
    }
}

/// What the next matching call gets instead of its normal answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after`.
    RateLimited(u64),
    /// 401 `Unauthorized` (a revoked token).
    Unauthorized,
    /// 500 `Internal Server Error`.
    ServerError,
    /// 502 with nginx's HTML page (a proxy in front of the API).
    BadGateway,
    /// Any Bot API error, e.g. `(400, "Bad Request: chat not found")`.
    Error(u16, String),
    /// The call is processed, then answered this much later (a timeout on
    /// the client's side may follow while the work is done).
    Delay(Duration),
}

/// One call as it arrived.
#[derive(Clone, Debug)]
pub struct Call {
    pub at: Instant,
    /// Lowercased method name.
    pub method: String,
    /// Whether the token was ours.
    pub authorized: bool,
    pub offset: Option<i64>,
    pub timeout: Option<i64>,
    pub limit: Option<i64>,
    pub params: Value,
    /// The HTTP status answered (0 while the call is still waiting).
    pub status: u16,
    /// Updates returned (getUpdates).
    pub returned: usize,
}

/// One message the bot posted.
#[derive(Clone, Debug)]
pub struct Sent {
    pub at: Instant,
    pub chat_id: i64,
    pub message_id: i64,
    pub text: String,
    /// `reply_parameters.message_id` (or `reply_to_message_id`).
    pub reply_to: Option<i64>,
    pub params: Value,
}

/// A Telegram user.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
}

impl Person {
    pub fn new(
        id: i64,
        first_name: &str,
        last_name: Option<&str>,
        username: Option<&str>,
    ) -> Person {
        Person {
            id,
            first_name: first_name.into(),
            last_name: last_name.map(str::to_string),
            username: username.map(str::to_string),
        }
    }

    pub fn json(&self) -> Value {
        let mut v = json!({"id": self.id, "is_bot": false, "first_name": self.first_name,
                           "language_code": "es"});
        if let Some(l) = &self.last_name {
            v["last_name"] = json!(l);
        }
        if let Some(u) = &self.username {
            v["username"] = json!(u);
        }
        v
    }

    /// The chat object of this person's private chat with the bot.
    pub fn private_chat(&self) -> Value {
        let mut v = json!({"id": self.id, "type": "private", "first_name": self.first_name});
        if let Some(l) = &self.last_name {
            v["last_name"] = json!(l);
        }
        if let Some(u) = &self.username {
            v["username"] = json!(u);
        }
        v
    }
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Atalaya Test", "username": BOT_USERNAME})
}

struct Inner {
    token: String,
    next_update: i64,
    /// Updates not yet confirmed, oldest first.
    queue: VecDeque<Value>,
    /// Chats the bot knows (from the updates pushed).
    chats: HashMap<i64, Value>,
    /// Every message in every chat, by (chat, message id).
    messages: HashMap<(i64, i64), Value>,
    next_message: HashMap<i64, i64>,
    faults: VecDeque<(Method, Fault)>,
    calls: Vec<Call>,
    sent: Vec<Sent>,
    webhook: bool,
    blocked: HashSet<i64>,
    /// Bumped by each getUpdates: an older poll still waiting ends in 409.
    poll_generation: u64,
    /// Answer at most this many updates per call (the API may return fewer
    /// than `limit`).
    max_batch: usize,
}

struct Shared {
    inner: Mutex<Inner>,
    wake: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running fake; stopped when dropped.
pub struct FakeTelegram {
    shared: Arc<Shared>,
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeTelegram {
    /// Start a fake bot with this token on a free port.
    pub fn start(token: &str) -> FakeTelegram {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                token: token.to_string(),
                next_update: 815_000_001,
                queue: VecDeque::new(),
                chats: HashMap::new(),
                messages: HashMap::new(),
                next_message: HashMap::new(),
                faults: VecDeque::new(),
                calls: Vec::new(),
                sent: Vec::new(),
                webhook: false,
                blocked: HashSet::new(),
                poll_generation: 0,
                max_batch: 100,
            }),
            wake: Notify::new(),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake Telegram");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let port = listener.local_addr().expect("local address").port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/{bot}/{method}", axum::routing::any(handle))
            .with_state(shared.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the fake's runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = rx => {}
                }
            });
            rt.shutdown_background();
        });
        FakeTelegram {
            shared,
            port,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The next `n` calls of `method` get `fault`.
    pub fn fail(&self, method: Method, n: usize, fault: Fault) {
        let mut s = self.shared.lock();
        for _ in 0..n {
            s.faults.push_back((method, fault.clone()));
        }
    }

    /// Faults still queued.
    pub fn faults_left(&self) -> usize {
        self.shared.lock().faults.len()
    }

    pub fn set_max_batch(&self, n: usize) {
        self.shared.lock().max_batch = n.max(1);
    }

    /// Pretend a webhook is set (getUpdates then answers 409).
    pub fn set_webhook(&self, on: bool) {
        self.shared.lock().webhook = on;
    }

    /// The user blocked the bot: sending to the chat answers 403.
    pub fn block(&self, chat: i64) {
        self.shared.lock().blocked.insert(chat);
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// The calls of one method (`Method::Any`: all).
    pub fn calls_of(&self, method: Method) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| method.matches(&c.method))
            .collect()
    }

    /// Every message the bot posted, oldest first.
    pub fn sent(&self) -> Vec<Sent> {
        self.shared.lock().sent.clone()
    }

    /// Updates not confirmed yet.
    pub fn pending(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// Push a raw update (`kind` = "message" or "edited_message"); the
    /// update id is assigned here. Returns it.
    pub fn push_update(&self, kind: &str, message: Value) -> i64 {
        let id = {
            let mut s = self.shared.lock();
            let id = s.next_update;
            s.next_update += 1;
            let chat_id = message["chat"]["id"].as_i64().unwrap_or_default();
            let msg_id = message["message_id"].as_i64().unwrap_or_default();
            s.chats.insert(chat_id, message["chat"].clone());
            s.messages.insert((chat_id, msg_id), message.clone());
            let next = s.next_message.entry(chat_id).or_insert(1);
            *next = (*next).max(msg_id + 1);
            s.queue.push_back(json!({"update_id": id, kind: message}));
            id
        };
        self.shared.wake.notify_waiters();
        id
    }

    fn next_message_id(&self, chat: i64) -> i64 {
        let mut s = self.shared.lock();
        let next = s.next_message.entry(chat).or_insert(1);
        let id = *next;
        *next += 1;
        id
    }

    /// A text from `from` in their private chat. Returns (update id, message id).
    pub fn push_private(&self, from: &Person, text: &str) -> (i64, i64) {
        let mid = self.next_message_id(from.id);
        let msg = json!({
            "message_id": mid, "from": from.json(), "chat": from.private_chat(),
            "date": unix_now(), "text": text, "entities": entities(text),
        });
        (self.push_update("message", msg), mid)
    }

    /// A text from `from` in a supergroup; `@mentions` and `/commands` get
    /// their entities. Returns (update id, message id).
    pub fn push_group(&self, chat: i64, title: &str, from: &Person, text: &str) -> (i64, i64) {
        self.push_group_reply(chat, title, from, text, None)
    }

    /// The same, answering the message `reply_to` of that chat.
    pub fn push_group_reply(
        &self,
        chat: i64,
        title: &str,
        from: &Person,
        text: &str,
        reply_to: Option<i64>,
    ) -> (i64, i64) {
        let mid = self.next_message_id(chat);
        let mut msg = json!({
            "message_id": mid, "from": from.json(),
            "chat": {"id": chat, "title": title, "type": "supergroup"},
            "date": unix_now(), "text": text, "entities": entities(text),
        });
        if let Some(r) = reply_to {
            let original = self.shared.lock().messages.get(&(chat, r)).cloned();
            if let Some(o) = original {
                msg["reply_to_message"] = o;
            }
        }
        (self.push_update("message", msg), mid)
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The entities a Telegram client sends for a text: `mention` for
/// `@username`, `bot_command` for `/command[@bot]` at the start; offsets and
/// lengths in UTF-16 code units.
pub fn entities(text: &str) -> Value {
    let mut out = Vec::new();
    let mut pos16 = 0usize;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let word_start = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if (c == '@' || (c == '/' && i == 0)) && word_start {
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_ascii_alphanumeric()
                    || chars[j] == '_'
                    || (c == '/' && chars[j] == '@'))
            {
                j += 1;
            }
            if j > i + 1 {
                let len16: usize = chars[i..j].iter().map(|c| c.len_utf16()).sum();
                let kind = if c == '@' { "mention" } else { "bot_command" };
                out.push(json!({"offset": pos16, "length": len16, "type": kind}));
                pos16 += len16;
                i = j;
                continue;
            }
        }
        pos16 += c.len_utf16();
        i += 1;
    }
    Value::Array(out)
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

fn fault_response(f: &Fault) -> Option<Response> {
    Some(match f {
        Fault::RateLimited(n) => answer(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"ok": false, "error_code": 429,
                   "description": format!("Too Many Requests: retry after {n}"),
                   "parameters": {"retry_after": n}}),
        ),
        Fault::Unauthorized => error(401, "Unauthorized"),
        Fault::ServerError => error(500, "Internal Server Error"),
        Fault::BadGateway => (
            StatusCode::BAD_GATEWAY,
            [("content-type", "text/html")],
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n",
        )
            .into_response(),
        Fault::Error(code, d) => error(*code, d),
        Fault::Delay(_) => return None,
    })
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_pairs(s: &str, into: &mut serde_json::Map<String, Value>) {
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        into.insert(percent_decode(k), Value::String(percent_decode(v)));
    }
}

/// Parameters from the query string and the body (JSON or form), as the
/// Bot API accepts them.
fn params(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Value {
    let mut map = serde_json::Map::new();
    if let Some(q) = query {
        form_pairs(q, &mut map);
    }
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ctype.starts_with("application/json") {
        if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
            map.extend(o);
        }
    } else if ctype.starts_with("application/x-www-form-urlencoded") {
        form_pairs(&String::from_utf8_lossy(body), &mut map);
    }
    Value::Object(map)
}

/// An integer parameter given as a number or as text.
fn int(p: &Value, key: &str) -> Option<i64> {
    match p.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A JSON-object parameter given as an object or as JSON text.
fn object(p: &Value, key: &str) -> Option<Value> {
    match p.get(key)? {
        Value::String(s) => serde_json::from_str(s).ok(),
        v => Some(v.clone()),
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let method = method.to_lowercase();
    let p = params(query.as_deref(), &headers, &body);
    let (index, fault, authorized) = {
        let mut s = shared.lock();
        let authorized = bot.strip_prefix("bot") == Some(s.token.as_str());
        let index = s.calls.len();
        s.calls.push(Call {
            at: Instant::now(),
            method: method.clone(),
            authorized,
            offset: int(&p, "offset"),
            timeout: int(&p, "timeout"),
            limit: int(&p, "limit"),
            params: p.clone(),
            status: 0,
            returned: 0,
        });
        let fault = s
            .faults
            .iter()
            .position(|(m, _)| m.matches(&method))
            .and_then(|i| s.faults.remove(i))
            .map(|(_, f)| f);
        (index, fault, authorized)
    };
    let (res, returned) = match fault.as_ref().and_then(fault_response) {
        Some(r) => (r, 0),
        None if !bot.starts_with("bot") => (error(404, "Not Found"), 0),
        None if !authorized => (error(401, "Unauthorized"), 0),
        None => match method.as_str() {
            "getme" => (ok(bot_user()), 0),
            "getupdates" => get_updates(&shared, &p).await,
            "sendmessage" => (send_message(&shared, &p), 0),
            _ => (error(404, "Not Found"), 0),
        },
    };
    if let Some(Fault::Delay(d)) = fault {
        tokio::time::sleep(d).await;
    }
    let mut s = shared.lock();
    if let Some(c) = s.calls.get_mut(index) {
        c.status = res.status().as_u16();
        c.returned = returned;
    }
    res
}

async fn get_updates(shared: &Arc<Shared>, p: &Value) -> (Response, usize) {
    let offset = int(p, "offset");
    let limit = int(p, "limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(int(p, "timeout").unwrap_or(0).max(0) as u64);
    let generation = {
        let mut s = shared.lock();
        if s.webhook {
            return (
                error(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                ),
                0,
            );
        }
        // Confirm: everything below the offset is forgotten for good.
        match offset {
            Some(o) if o > 0 => {
                while s
                    .queue
                    .front()
                    .and_then(|u| u["update_id"].as_i64())
                    .is_some_and(|id| id < o)
                {
                    s.queue.pop_front();
                }
            }
            Some(o) if o < 0 => {
                let keep = o.unsigned_abs() as usize;
                while s.queue.len() > keep {
                    s.queue.pop_front();
                }
            }
            _ => {}
        }
        s.poll_generation += 1;
        s.poll_generation
    };
    // An older poll still waiting ends now (with 409).
    shared.wake.notify_waiters();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = shared.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let s = shared.lock();
            if s.poll_generation != generation {
                return (
                    error(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                    ),
                    0,
                );
            }
            let batch: Vec<Value> = s
                .queue
                .iter()
                .filter(|u| {
                    offset
                        .is_none_or(|o| o <= 0 || u["update_id"].as_i64().is_some_and(|id| id >= o))
                })
                .take(limit.min(s.max_batch))
                .cloned()
                .collect();
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                let n = batch.len();
                return (ok(Value::Array(batch)), n);
            }
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

fn send_message(shared: &Arc<Shared>, p: &Value) -> Response {
    let mut s = shared.lock();
    let chat_id = match p.get("chat_id") {
        Some(Value::String(u)) if u.starts_with('@') => {
            let name = u.trim_start_matches('@').to_lowercase();
            s.chats.iter().find_map(|(id, c)| {
                (c["username"].as_str().map(str::to_lowercase).as_deref() == Some(name.as_str()))
                    .then_some(*id)
            })
        }
        _ => int(p, "chat_id"),
    };
    let Some(chat_id) = chat_id.or_else(|| p.get("chat_id").map(|_| 0)) else {
        return error(400, "Bad Request: chat_id is empty");
    };
    let Some(chat) = s.chats.get(&chat_id).cloned() else {
        return error(400, "Bad Request: chat not found");
    };
    if s.blocked.contains(&chat_id) {
        return error(403, "Forbidden: bot was blocked by the user");
    }
    let text = p.get("text").and_then(Value::as_str).unwrap_or_default();
    if text.trim().is_empty() {
        return error(400, "Bad Request: message text is empty");
    }
    if text.encode_utf16().count() > 4096 {
        return error(400, "Bad Request: message is too long");
    }
    let reply = object(p, "reply_parameters");
    let (reply_to, allow_without) = match &reply {
        Some(r) => (
            int(r, "message_id"),
            r.get("allow_sending_without_reply")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        None => (
            int(p, "reply_to_message_id"),
            p.get("allow_sending_without_reply")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
    };
    if let Some(r) = &reply
        && let Some(other) = int(r, "chat_id")
        && other != chat_id
    {
        return error(400, "Bad Request: message to be replied not found");
    }
    let original = reply_to.and_then(|m| s.messages.get(&(chat_id, m)).cloned());
    if reply_to.is_some() && original.is_none() && !allow_without {
        return error(400, "Bad Request: message to be replied not found");
    }
    let next = s.next_message.entry(chat_id).or_insert(1);
    let message_id = *next;
    *next += 1;
    let mut msg = json!({"message_id": message_id, "from": bot_user(), "chat": chat,
                         "date": unix_now(), "text": text});
    if let Some(o) = original {
        msg["reply_to_message"] = o;
    }
    s.messages.insert((chat_id, message_id), msg.clone());
    s.sent.push(Sent {
        at: Instant::now(),
        chat_id,
        message_id,
        text: text.to_string(),
        reply_to,
        params: p.clone(),
    });
    ok(msg)
}
