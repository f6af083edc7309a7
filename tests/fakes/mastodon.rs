//! A fake Mastodon instance for the connector's tests: an axum server on
//! 127.0.0.1 with its own thread and runtime, speaking the client API
//! (<https://docs.joinmastodon.org/methods/>) as Mastodon 4 does:
//!
//! * `Authorization: Bearer TOKEN` on every call; a wrong or revoked token →
//!   401 `{"error":"The access token is invalid"}`;
//! * rate limits as rack-attack sets them: `X-RateLimit-Limit`,
//!   `X-RateLimit-Remaining` (after this call) and `X-RateLimit-Reset` (ISO
//!   8601 with microseconds) on every answer, a 5-minute window of 300 calls,
//!   and 429 `{"error":"Too many requests"}` once the window is used up;
//! * `GET /api/v1/notifications`: `types[]`, `exclude_types[]`, `limit`
//!   (default 40, at most 80), `max_id`, `since_id`, `min_id` with Mastodon's
//!   paging (newest first; `min_id` picks the page just above it), and the
//!   `Link` header (`rel="next"` with `max_id` = the page's last id, `rel="prev"`
//!   with `min_id` = its first id, both keeping `limit` and `types[]`, query
//!   keys sorted as Rails writes them) whenever the page is not empty;
//! * `POST /api/v1/statuses` (form or JSON): `status`, `in_reply_to_id` (404
//!   `Record not found` when unknown), `visibility`, validation errors as 422
//!   (blank, over 500 characters, unknown visibility), and `Idempotency-Key`:
//!   the same key again answers the status already created, not a new one;
//! * `GET /api/v1/accounts/verify_credentials`.
//!
//! Tests add mentions (public, unlisted, followers-only, direct, remote or
//! local accounts) and other notifications, and control faults: the rate
//! limit used up after the next call, 429 until a time, a revoked token,
//! 500s, slow posts and slow or held notification pages; they read back every
//! request (with the time it arrived) and every status posted.
#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The access token the fake accepts.
pub const TOKEN: &str = "mtok-7Qf3x9-not-for-logs";
/// Our account on the instance.
pub const OUR_ACCT: &str = "tienda";
/// Calls per rate-limit window (Mastodon's default for API calls).
pub const RATE_LIMIT: u64 = 300;
const WINDOW: Duration = Duration::from_secs(300);

/// A mention to add.
#[derive(Clone, Debug)]
pub struct Mention {
    /// `ana` (an account of this instance) or `bob@remote.example`.
    pub acct: String,
    pub display_name: String,
    /// The status content (HTML, as Mastodon renders it).
    pub html: String,
    /// `public`, `unlisted`, `private` or `direct`.
    pub visibility: String,
    pub in_reply_to_id: Option<String>,
    pub followers: i64,
}

impl Mention {
    pub fn public(acct: &str, html: &str) -> Mention {
        Mention {
            acct: acct.to_string(),
            display_name: format!("{} (test)", acct.split('@').next().unwrap_or(acct)),
            html: html.to_string(),
            visibility: "public".into(),
            in_reply_to_id: None,
            followers: 120,
        }
    }

    pub fn direct(acct: &str, html: &str) -> Mention {
        Mention {
            visibility: "direct".into(),
            ..Mention::public(acct, html)
        }
    }

    pub fn with_visibility(mut self, v: &str) -> Mention {
        self.visibility = v.to_string();
        self
    }

    pub fn replying_to(mut self, status_id: &str) -> Mention {
        self.in_reply_to_id = Some(status_id.to_string());
        self
    }
}

/// One request as it arrived, with what it was answered.
#[derive(Clone, Debug)]
pub struct Request {
    pub at: Instant,
    pub method: String,
    pub path: String,
    /// Decoded query pairs (`types[]` as such).
    pub query: Vec<(String, String)>,
    pub idempotency_key: Option<String>,
    pub authorized: bool,
    pub status: u16,
    /// `X-RateLimit-Remaining` of the answer.
    pub remaining: u64,
    /// `X-RateLimit-Reset` of the answer.
    pub reset: SystemTime,
}

impl Request {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_notifications(&self) -> bool {
        self.method == "GET" && self.path == "/api/v1/notifications"
    }

    pub fn is_post(&self) -> bool {
        self.method == "POST" && self.path == "/api/v1/statuses"
    }
}

/// A status posted by us.
#[derive(Clone, Debug)]
pub struct Posted {
    pub id: String,
    pub status: String,
    pub in_reply_to_id: Option<String>,
    pub visibility: String,
    pub idempotency_key: Option<String>,
}

/// Everything the fake knows; tests change it through [`Fake::with`] or the
/// helpers.
pub struct State {
    base: String,
    next_notification: u64,
    next_status: u64,
    /// (id, notification JSON), ascending ids.
    notifications: Vec<(u64, Value)>,
    statuses: HashMap<String, Value>,
    posts: Vec<Posted>,
    idempotency: HashMap<String, String>,
    requests: Vec<Request>,
    remaining: u64,
    reset_at: SystemTime,
    exhaust_next: Option<Duration>,
    force_429_until: Option<SystemTime>,
    unauthorized: bool,
    fail_next: u32,
    post_delays: VecDeque<Duration>,
    notifications_delay: Duration,
    /// Notification requests with an ordinal above this wait for `release`.
    hold_above: Option<usize>,
    notification_count: usize,
    held: usize,
    /// Calls that arrived while the window was used up (answered 429).
    early: usize,
}

impl State {
    fn new(base: String) -> State {
        State {
            base,
            next_notification: 1,
            next_status: 113_500_000_000_000_001,
            notifications: Vec::new(),
            statuses: HashMap::new(),
            posts: Vec::new(),
            idempotency: HashMap::new(),
            requests: Vec::new(),
            remaining: RATE_LIMIT,
            reset_at: SystemTime::now() + WINDOW,
            exhaust_next: None,
            force_429_until: None,
            unauthorized: false,
            fail_next: 0,
            post_delays: VecDeque::new(),
            notifications_delay: Duration::ZERO,
            hold_above: None,
            notification_count: 0,
            held: 0,
            early: 0,
        }
    }

    fn account(&self, acct: &str, display_name: &str, followers: i64) -> Value {
        let (user, url) = match acct.split_once('@') {
            Some((u, d)) => (u.to_string(), format!("https://{d}/@{u}")),
            None => (acct.to_string(), format!("{}/@{acct}", self.base)),
        };
        json!({
            "id": format!("{}", 100_000 + acct.len() as u64 * 7919 + acct.bytes().map(u64::from).sum::<u64>()),
            "username": user,
            "acct": acct,
            "display_name": display_name,
            "locked": false,
            "bot": false,
            "discoverable": true,
            "group": false,
            "created_at": "2023-04-01T00:00:00.000Z",
            "note": format!("<p>Hola, soy {user} &amp; me gusta la tienda</p>"),
            "url": url,
            "uri": url.replace("/@", "/users/"),
            "avatar": "https://files.example/avatars/original/missing.png",
            "avatar_static": "https://files.example/avatars/original/missing.png",
            "header": "https://files.example/headers/original/missing.png",
            "header_static": "https://files.example/headers/original/missing.png",
            "followers_count": followers,
            "following_count": 10,
            "statuses_count": 42,
            "last_status_at": "2026-11-23",
            "emojis": [],
            "fields": []
        })
    }

    fn now_iso() -> String {
        iso(SystemTime::now())
    }

    /// Add a mention (its status and notification); returns (notification
    /// id, status id).
    pub fn add_mention(&mut self, m: &Mention) -> (String, String) {
        let sid = self.next_status.to_string();
        self.next_status += 1;
        let account = self.account(&m.acct, &m.display_name, m.followers);
        let user = m.acct.split('@').next().unwrap_or(&m.acct).to_string();
        let status_url = match m.acct.split_once('@') {
            Some((u, d)) => format!("https://{d}/@{u}/{sid}"),
            None => format!("{}/@{user}/{sid}", self.base),
        };
        let status = json!({
            "id": sid,
            "created_at": State::now_iso(),
            "in_reply_to_id": m.in_reply_to_id,
            "in_reply_to_account_id": m.in_reply_to_id.as_ref().map(|_| "1"),
            "sensitive": false,
            "spoiler_text": "",
            "visibility": m.visibility,
            "language": "es",
            "uri": status_url.replace("/@", "/users/").replace(&format!("/{sid}"), &format!("/statuses/{sid}")),
            "url": status_url,
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": null,
            "content": m.html,
            "reblog": null,
            "application": null,
            "account": account,
            "media_attachments": [],
            "mentions": [{"id": "1", "username": OUR_ACCT, "url": format!("{}/@{OUR_ACCT}", self.base), "acct": OUR_ACCT}],
            "tags": [],
            "emojis": [],
            "card": null,
            "poll": null
        });
        self.statuses.insert(sid.clone(), status.clone());
        let nid = self.next_notification;
        self.next_notification += 1;
        let n = json!({
            "id": nid.to_string(),
            "type": "mention",
            "group_key": format!("ungrouped-{nid}"),
            "created_at": State::now_iso(),
            "account": account,
            "status": status
        });
        self.notifications.push((nid, n));
        (nid.to_string(), sid)
    }

    /// Another kind of notification (`favourite`, `follow`…), which
    /// `types[]=mention` filters out.
    pub fn add_other(&mut self, kind: &str, acct: &str) -> String {
        let nid = self.next_notification;
        self.next_notification += 1;
        let account = self.account(acct, acct, 5);
        self.notifications.push((
            nid,
            json!({"id": nid.to_string(), "type": kind, "created_at": State::now_iso(), "account": account}),
        ));
        nid.to_string()
    }

    /// The next `k` notification requests are answered; later ones wait
    /// until [`State::release`].
    pub fn hold_after_next(&mut self, k: usize) {
        self.hold_above = Some(self.notification_count + k);
    }

    pub fn release(&mut self) {
        self.hold_above = None;
    }

    /// The next call is answered with `X-RateLimit-Remaining: 0` and a
    /// reset this far ahead; calls before the reset get 429.
    pub fn exhaust_next(&mut self, reset_in: Duration) {
        self.exhaust_next = Some(reset_in);
    }

    /// Every call gets 429 (remaining 0, reset at the end) for this long.
    pub fn force_429_for(&mut self, d: Duration) {
        self.force_429_until = Some(SystemTime::now() + d);
    }

    pub fn set_unauthorized(&mut self, on: bool) {
        self.unauthorized = on;
    }

    /// The next `n` authorized calls get a 500.
    pub fn fail_next(&mut self, n: u32) {
        self.fail_next = n;
    }

    /// The next `n` posts are processed at once but answered `d` later.
    pub fn delay_next_posts(&mut self, n: usize, d: Duration) {
        self.post_delays.extend(std::iter::repeat_n(d, n));
    }

    pub fn delay_notifications(&mut self, d: Duration) {
        self.notifications_delay = d;
    }

    /// The notifications page for these parameters, as Mastodon pages it,
    /// with its `Link` header.
    fn notifications_page(&self, q: &[(String, String)]) -> (Vec<Value>, Option<String>) {
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let all = |k: &str| -> Vec<String> {
            q.iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .collect()
        };
        let types = all("types[]");
        let exclude = all("exclude_types[]");
        let limit = get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(40)
            .clamp(1, 80);
        let num = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok());
        let (max_id, since_id, min_id) = (num("max_id"), num("since_id"), num("min_id"));
        let visible = self.notifications.iter().filter(|(id, n)| {
            let kind = n["type"].as_str().unwrap_or("");
            (types.is_empty() || types.iter().any(|t| t == kind))
                && !exclude.iter().any(|t| t == kind)
                && max_id.is_none_or(|m| *id < m)
        });
        let page: Vec<(u64, Value)> = match min_id {
            Some(min) => {
                let mut p: Vec<(u64, Value)> = visible
                    .filter(|(id, _)| *id > min)
                    .take(limit)
                    .cloned()
                    .collect();
                p.reverse();
                p
            }
            None => visible
                .rev()
                .filter(|(id, _)| since_id.is_none_or(|s| *id > s))
                .take(limit)
                .cloned()
                .collect(),
        };
        let link = match (page.first(), page.last()) {
            (Some((first, _)), Some((last, _))) => {
                let keep = |extra: (&str, String)| {
                    let mut pairs: Vec<(String, String)> = Vec::new();
                    if let Some(l) = get("limit") {
                        pairs.push(("limit".into(), l.to_string()));
                    }
                    for t in &types {
                        pairs.push(("types[]".into(), t.clone()));
                    }
                    for t in &exclude {
                        pairs.push(("exclude_types[]".into(), t.clone()));
                    }
                    pairs.push((extra.0.to_string(), extra.1));
                    // Rails' `to_query` sorts the keys.
                    pairs.sort_by(|a, b| a.0.cmp(&b.0));
                    let query: Vec<String> = pairs
                        .iter()
                        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                        .collect();
                    format!("{}/api/v1/notifications?{}", self.base, query.join("&"))
                };
                Some(format!(
                    "<{}>; rel=\"next\", <{}>; rel=\"prev\"",
                    keep(("max_id", last.to_string())),
                    keep(("min_id", first.to_string()))
                ))
            }
            _ => None,
        };
        (page.into_iter().map(|(_, n)| n).collect(), link)
    }

    fn our_account(&self) -> Value {
        let mut a = self.account(OUR_ACCT, "Tienda Nordia", 5300);
        a["source"] = json!({"privacy": "public", "sensitive": false, "language": "es", "note": "", "fields": []});
        a
    }

    /// `POST /api/v1/statuses`.
    fn post_status(&mut self, key: Option<&str>, params: &[(String, String)]) -> (u16, Value) {
        if let Some(id) = key.and_then(|k| self.idempotency.get(k)) {
            return (200, self.statuses[id].clone());
        }
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let text = get("status").unwrap_or_default();
        if text.trim().is_empty() {
            return (
                422,
                json!({"error": "Validation failed: Text can't be blank"}),
            );
        }
        if text.chars().count() > 500 {
            return (
                422,
                json!({"error": "Validation failed: Text character limit of 500 exceeded"}),
            );
        }
        let visibility = get("visibility").unwrap_or_else(|| "public".into());
        if !["public", "unlisted", "private", "direct"].contains(&visibility.as_str()) {
            return (
                422,
                json!({"error": "Validation failed: Visibility is not included in the list"}),
            );
        }
        let in_reply_to = get("in_reply_to_id").filter(|s| !s.is_empty());
        if let Some(r) = &in_reply_to
            && !self.statuses.contains_key(r)
        {
            return (404, json!({"error": "Record not found"}));
        }
        let id = self.next_status.to_string();
        self.next_status += 1;
        let content = format!(
            "<p>{}</p>",
            text.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        );
        let status = json!({
            "id": id,
            "created_at": State::now_iso(),
            "in_reply_to_id": in_reply_to,
            "in_reply_to_account_id": in_reply_to.as_ref().map(|_| "100001"),
            "sensitive": false,
            "spoiler_text": "",
            "visibility": visibility,
            "language": "es",
            "uri": format!("{}/users/{OUR_ACCT}/statuses/{id}", self.base),
            "url": format!("{}/@{OUR_ACCT}/{id}", self.base),
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "content": content,
            "account": self.our_account(),
            "media_attachments": [],
            "mentions": [],
            "tags": [],
            "emojis": []
        });
        self.statuses.insert(id.clone(), status.clone());
        if let Some(k) = key {
            self.idempotency.insert(k.to_string(), id.clone());
        }
        self.posts.push(Posted {
            id,
            status: text,
            in_reply_to_id: in_reply_to,
            visibility,
            idempotency_key: key.map(str::to_string),
        });
        (200, status)
    }
}

fn iso(t: SystemTime) -> String {
    let ts = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decoded `a=1&b=2` pairs.
fn pairs(q: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{q}"))
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

type Shared = Arc<Mutex<State>>;

/// The running fake.
pub struct Fake {
    state: Shared,
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Fake {
    pub fn start() -> Fake {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake");
        listener.set_nonblocking(true).expect("nonblocking");
        let base = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("local addr").port()
        );
        let state: Shared = Arc::new(Mutex::new(State::new(base.clone())));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("fake runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app = Router::new().fallback(handle).with_state(shared);
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = rx => {}
                }
            });
        });
        Fake {
            state,
            base,
            stop: Some(tx),
        }
    }

    /// `http://127.0.0.1:PORT` (the `base_url` to configure).
    pub fn url(&self) -> String {
        self.base.clone()
    }

    /// Change or read the state atomically.
    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut g = self.state.lock().unwrap();
        f(&mut g)
    }

    pub fn add_mention(&self, m: &Mention) -> (String, String) {
        self.with(|s| s.add_mention(m))
    }

    pub fn requests(&self) -> Vec<Request> {
        self.with(|s| s.requests.clone())
    }

    pub fn notification_requests(&self) -> Vec<Request> {
        self.with(|s| {
            s.requests
                .iter()
                .filter(|r| r.is_notifications())
                .cloned()
                .collect()
        })
    }

    pub fn posts(&self) -> Vec<Posted> {
        self.with(|s| s.posts.clone())
    }

    /// Notification requests waiting for [`State::release`] now.
    pub fn held(&self) -> usize {
        self.with(|s| s.held)
    }

    pub fn release(&self) {
        self.with(State::release)
    }

    /// Calls that arrived while the rate-limit window was used up.
    pub fn early(&self) -> usize {
        self.with(|s| s.early)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

fn json_answer(status: u16, body: Value, remaining: u64, reset: SystemTime) -> Response {
    let mut res = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response();
    let h = res.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(RATE_LIMIT));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    if let Ok(v) = HeaderValue::from_str(&iso(reset)) {
        h.insert("x-ratelimit-reset", v);
    }
    res
}

/// One held request, uncounted when it ends or is dropped.
struct HeldGuard(Shared);

impl Drop for HeldGuard {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.lock() {
            s.held = s.held.saturating_sub(1);
        }
    }
}

fn notifications_answer(s: &State, query: &[(String, String)]) -> Response {
    let (page, link) = s.notifications_page(query);
    let mut res = json_answer(200, Value::Array(page), s.remaining, s.reset_at);
    if let Some(l) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        res.headers_mut().insert("link", l);
    }
    res
}

async fn handle(
    AxState(state): AxState<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = SystemTime::now();
    let path = uri.path().to_string();
    let query = pairs(uri.query().unwrap_or(""));
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_notifications = method == Method::GET && path == "/api/v1/notifications";
    // Rate limit (rack-attack runs before the app), then the token.
    let (ordinal, early_answer) = {
        let mut s = state.lock().unwrap();
        if now >= s.reset_at {
            s.remaining = RATE_LIMIT;
            s.reset_at = now + WINDOW;
        }
        let authorized = auth == format!("Bearer {TOKEN}") && !s.unauthorized;
        let mut req = Request {
            at: Instant::now(),
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            idempotency_key: key.clone(),
            authorized,
            status: 200,
            remaining: s.remaining,
            reset: s.reset_at,
        };
        let early_answer = if let Some(until) = s.force_429_until.filter(|u| now < *u) {
            Some((429, json!({"error": "Too many requests"}), 0, until))
        } else if s.remaining == 0 {
            s.early += 1;
            let reset = s.reset_at;
            Some((429, json!({"error": "Too many requests"}), 0, reset))
        } else {
            s.remaining -= 1;
            if let Some(d) = s.exhaust_next.take() {
                s.remaining = 0;
                s.reset_at = now + d;
            }
            if !authorized {
                Some((
                    401,
                    json!({"error": "The access token is invalid"}),
                    s.remaining,
                    s.reset_at,
                ))
            } else if s.fail_next > 0 {
                s.fail_next -= 1;
                Some((
                    500,
                    json!({"error": "We're sorry, but something went wrong on our end."}),
                    s.remaining,
                    s.reset_at,
                ))
            } else {
                None
            }
        };
        if let Some((status, _, remaining, reset)) = &early_answer {
            req.status = *status;
            req.remaining = *remaining;
            req.reset = *reset;
        } else {
            req.remaining = s.remaining;
            req.reset = s.reset_at;
        }
        s.requests.push(req);
        let mut ordinal = 0;
        if is_notifications && early_answer.is_none() {
            s.notification_count += 1;
            ordinal = s.notification_count;
            // Answered from the state as it is now (in the same critical
            // section), unless held or slowed down.
            if s.hold_above.is_none_or(|n| ordinal <= n) && s.notifications_delay.is_zero() {
                return notifications_answer(&s, &query);
            }
        }
        (ordinal, early_answer)
    };
    if let Some((status, body, remaining, reset)) = early_answer {
        return json_answer(status, body, remaining, reset);
    }
    match (method.as_str(), path.as_str()) {
        ("GET", "/api/v1/notifications") => {
            // Counted as held while waiting; hyper drops this future when
            // the client goes away (a kill -9), so the guard uncounts it.
            let mut guard: Option<HeldGuard> = None;
            loop {
                {
                    let mut s = state.lock().unwrap();
                    if s.hold_above.is_none_or(|n| ordinal <= n) {
                        break;
                    }
                    if guard.is_none() {
                        s.held += 1;
                        guard = Some(HeldGuard(state.clone()));
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            drop(guard);
            let delay = state.lock().unwrap().notifications_delay;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let s = state.lock().unwrap();
            notifications_answer(&s, &query)
        }
        ("POST", "/api/v1/statuses") => {
            let is_json = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.starts_with("application/json"));
            let params: Vec<(String, String)> = if is_json {
                match serde_json::from_slice::<Value>(&body) {
                    Ok(Value::Object(m)) => m
                        .into_iter()
                        .map(|(k, v)| {
                            let v = match v {
                                Value::String(s) => s,
                                other => other.to_string(),
                            };
                            (k, v)
                        })
                        .collect(),
                    _ => Vec::new(),
                }
            } else {
                pairs(&String::from_utf8_lossy(&body))
            };
            let (status, answer, remaining, reset, delay) = {
                let mut s = state.lock().unwrap();
                let (status, answer) = s.post_status(key.as_deref(), &params);
                let delay = s.post_delays.pop_front();
                (status, answer, s.remaining, s.reset_at, delay)
            };
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            json_answer(status, answer, remaining, reset)
        }
        ("GET", "/api/v1/accounts/verify_credentials") => {
            let s = state.lock().unwrap();
            json_answer(200, s.our_account(), s.remaining, s.reset_at)
        }
        _ => {
            let s = state.lock().unwrap();
            json_answer(
                404,
                json!({"error": "Record not found"}),
                s.remaining,
                s.reset_at,
            )
        }
    }
}
