//! A local X API v2 server for tests: the endpoints the connector uses,
//! spoken as X documents them — `since_id`/`until_id`, `max_results` ranges,
//! `pagination_token` (timelines, DMs) and `next_token` (search) with
//! `meta.next_token`, `includes.users` (with `errors` for authors that no
//! longer exist), `x-rate-limit-limit/remaining/reset` on every answer with
//! per-endpoint windows, 429 with X's problem body, 401 for a wrong token,
//! 403 for duplicate tweets. Controls add mentions, DMs and search hits,
//! force 429/5xx/slow answers and read what was posted and requested.
//!
//! It runs on 127.0.0.1:0 on its own thread and runtime, so it keeps
//! answering whatever the test's runtime does.
#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Our account (the connector's `user_id`).
pub const ME: &str = "1001";
pub const ME_USERNAME: &str = "tienda";

/// The endpoints, each with its own rate-limit window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ep {
    Mentions,
    UserTweets,
    Me,
    DmEvents,
    DmWith,
    Search,
    PostTweet,
    PostDm,
}

impl Ep {
    /// X's documented 15-minute limits (user context).
    fn default_limit(self) -> u32 {
        match self {
            Ep::Mentions => 300,
            Ep::UserTweets => 900,
            Ep::Me => 75,
            Ep::DmEvents | Ep::DmWith => 300,
            Ep::Search => 180,
            Ep::PostTweet | Ep::PostDm => 200,
        }
    }
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub username: String,
    pub name: String,
    pub followers: u64,
    pub verified: bool,
    pub created_at: String,
    pub description: String,
}

#[derive(Clone, Debug)]
pub struct Tweet {
    pub id: u64,
    pub text: String,
    pub author_id: String,
    pub conversation_id: u64,
    pub in_reply_to: Option<u64>,
    pub in_reply_to_user_id: Option<String>,
    /// Epoch milliseconds.
    pub created_ms: i64,
}

#[derive(Clone, Debug)]
pub struct DmEvent {
    pub id: u64,
    pub text: String,
    pub sender_id: String,
    pub dm_conversation_id: String,
    pub created_ms: i64,
}

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub ep: Ep,
    /// Arrival, epoch milliseconds.
    pub at_ms: i64,
    pub query: String,
    pub status: u16,
    /// The rate-limit headers of the answer (remaining, reset epoch seconds).
    pub remaining: Option<u32>,
    pub reset: Option<i64>,
}

impl Request {
    pub fn param(&self, name: &str) -> Option<String> {
        params(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

struct Window {
    limit: u32,
    window: Duration,
    remaining: u32,
    /// Epoch seconds; a new window starts at the first request after it.
    reset: i64,
}

struct Inner {
    token: String,
    next_id: u64,
    users: BTreeMap<String, User>,
    tweets: Vec<Tweet>,
    dms: Vec<DmEvent>,
    windows: HashMap<Ep, Window>,
    fail: HashMap<Ep, VecDeque<u16>>,
    slow: HashMap<Ep, (Duration, usize)>,
    requests: Vec<Request>,
}

#[derive(Clone)]
struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeX {
    port: u16,
    shared: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn params(q: &str) -> Vec<(String, String)> {
    url_decode_pairs(q)
}

fn url_decode_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match h.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// X's one-to-one DM conversation id: smaller user id first.
pub fn dm_pair(a: &str, b: &str) -> String {
    let key = |s: &str| (s.len(), s.to_string());
    if key(a) <= key(b) {
        format!("{a}-{b}")
    } else {
        format!("{b}-{a}")
    }
}

impl FakeX {
    pub fn start() -> FakeX {
        let mut users = BTreeMap::new();
        users.insert(
            ME.to_string(),
            User {
                id: ME.into(),
                username: ME_USERNAME.into(),
                name: "Tienda Nordia".into(),
                followers: 5400,
                verified: true,
                created_at: "2015-03-02T09:00:00.000Z".into(),
                description: "Atención al cliente".into(),
            },
        );
        let shared = Shared(Arc::new(Mutex::new(Inner {
            token: "tok".into(),
            next_id: 1_860_000_000_000_000_000,
            users,
            tweets: vec![],
            dms: vec![],
            windows: HashMap::new(),
            fail: HashMap::new(),
            slow: HashMap::new(),
            requests: vec![],
        })));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake X");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = Router::new()
            .route("/2/users/me", get(me))
            .route("/2/users/{id}/mentions", get(mentions))
            .route("/2/users/{id}/tweets", get(user_tweets))
            .route("/2/tweets/search/recent", get(search))
            .route("/2/tweets", post(post_tweet))
            .route("/2/dm_events", get(dm_events))
            .route(
                "/2/dm_conversations/with/{participant}/dm_events",
                get(dm_with),
            )
            .route(
                "/2/dm_conversations/with/{participant}/messages",
                post(post_dm),
            )
            .with_state(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                let serve = axum::serve(l, app);
                tokio::select! {
                    _ = serve => {}
                    _ = rx => {}
                }
            });
            rt.shutdown_background();
        });
        FakeX {
            port,
            shared,
            stop: Some(tx),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The bearer token the fake accepts (default `tok`).
    pub fn set_token(&self, t: &str) {
        self.shared.lock().token = t.to_string();
    }

    pub fn add_user(&self, id: &str, username: &str, name: &str, followers: u64, verified: bool) {
        self.shared.lock().users.insert(
            id.to_string(),
            User {
                id: id.into(),
                username: username.into(),
                name: name.into(),
                followers,
                verified,
                created_at: "2019-06-01T12:00:00.000Z".into(),
                description: format!("Bio of {name}"),
            },
        );
    }

    /// A deleted or suspended account: its tweets stay, it leaves `includes`.
    pub fn remove_user(&self, id: &str) {
        self.shared.lock().users.remove(id);
    }

    /// A tweet by `author` (a mention when it names `@tienda`, a search hit
    /// when it matches the query); `reply_to` makes it part of that thread.
    pub fn add_tweet(&self, author: &str, text: &str, reply_to: Option<&str>) -> String {
        let mut s = self.shared.lock();
        new_tweet(&mut s, author, text, reply_to.and_then(|r| r.parse().ok())).to_string()
    }

    /// A direct message from `sender` to us.
    pub fn add_dm(&self, sender: &str, text: &str) -> String {
        let mut s = self.shared.lock();
        new_dm(&mut s, sender, &dm_pair(ME, sender), text).to_string()
    }

    /// Our tweets (replies posted through the API), oldest first.
    pub fn posted_tweets(&self) -> Vec<Tweet> {
        let s = self.shared.lock();
        s.tweets
            .iter()
            .filter(|t| t.author_id == ME)
            .cloned()
            .collect()
    }

    /// Our DMs, oldest first.
    pub fn posted_dms(&self) -> Vec<DmEvent> {
        let s = self.shared.lock();
        s.dms
            .iter()
            .filter(|d| d.sender_id == ME)
            .cloned()
            .collect()
    }

    pub fn requests(&self, ep: Ep) -> Vec<Request> {
        let s = self.shared.lock();
        s.requests.iter().filter(|r| r.ep == ep).cloned().collect()
    }

    pub fn count(&self, ep: Ep) -> usize {
        self.requests(ep).len()
    }

    /// A fresh window for `ep`: `limit` requests per `window`.
    pub fn set_window(&self, ep: Ep, limit: u32, window: Duration) {
        self.shared.lock().windows.insert(
            ep,
            Window {
                limit,
                window,
                remaining: limit,
                reset: 0,
            },
        );
    }

    /// `ep`'s window is spent until `reset_in` from now: requests get 429.
    pub fn exhaust(&self, ep: Ep, reset_in: Duration) {
        let mut s = self.shared.lock();
        let w = window(&mut s, ep);
        w.remaining = 0;
        w.reset = (now_ms() + reset_in.as_millis() as i64 + 999) / 1000;
    }

    /// The next `n` requests to `ep` answer `status` (a 429 spends the
    /// window until 2 to 3 s later, as its reset header says).
    pub fn fail_next(&self, ep: Ep, status: u16, n: usize) {
        let mut s = self.shared.lock();
        let q = s.fail.entry(ep).or_default();
        q.extend(std::iter::repeat_n(status, n));
    }

    /// The next `n` requests to `ep` answer `delay` late (a post is created
    /// first, then the answer waits).
    pub fn slow(&self, ep: Ep, delay: Duration, n: usize) {
        self.shared.lock().slow.insert(ep, (delay, n));
    }
}

impl Drop for FakeX {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

fn new_tweet(s: &mut Inner, author: &str, text: &str, reply_to: Option<u64>) -> u64 {
    s.next_id += 1;
    let id = s.next_id;
    let parent = reply_to.and_then(|r| s.tweets.iter().find(|t| t.id == r).cloned());
    s.tweets.push(Tweet {
        id,
        text: text.to_string(),
        author_id: author.to_string(),
        conversation_id: parent.as_ref().map_or(id, |p| p.conversation_id),
        in_reply_to: parent.as_ref().map(|p| p.id),
        in_reply_to_user_id: parent.map(|p| p.author_id),
        created_ms: now_ms(),
    });
    id
}

fn new_dm(s: &mut Inner, sender: &str, conv: &str, text: &str) -> u64 {
    s.next_id += 1;
    let id = s.next_id;
    s.dms.push(DmEvent {
        id,
        text: text.to_string(),
        sender_id: sender.to_string(),
        dm_conversation_id: conv.to_string(),
        created_ms: now_ms(),
    });
    id
}

fn window(s: &mut Inner, ep: Ep) -> &mut Window {
    s.windows.entry(ep).or_insert_with(|| Window {
        limit: ep.default_limit(),
        window: Duration::from_secs(900),
        remaining: ep.default_limit(),
        reset: 0,
    })
}

/// X's problem bodies.
fn problem(status: u16, title: &str, detail: &str) -> Value {
    json!({"title": title, "detail": detail, "type": "about:blank", "status": status})
}

fn invalid(detail: &str) -> Value {
    json!({
        "errors": [{"message": detail}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request"
    })
}

/// The answer's rate-limit headers.
#[derive(Clone, Copy)]
struct Rl {
    limit: u32,
    remaining: u32,
    reset: i64,
}

fn respond(status: u16, body: Value, rl: Option<Rl>) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response();
    if let Some(rl) = rl {
        let h = r.headers_mut();
        h.insert("x-rate-limit-limit", HeaderValue::from(rl.limit));
        h.insert("x-rate-limit-remaining", HeaderValue::from(rl.remaining));
        h.insert("x-rate-limit-reset", HeaderValue::from(rl.reset));
    }
    r
}

/// Admission of one request: recorded; token; window; forced failures.
/// `Ok((index, rate-limit headers, delay))` to serve it.
fn admit(
    sh: &Shared,
    ep: Ep,
    headers: &HeaderMap,
    query: &Option<String>,
) -> Result<(usize, Rl, Option<Duration>), Box<Response>> {
    let mut s = sh.lock();
    let at = now_ms();
    let idx = s.requests.len();
    s.requests.push(Request {
        ep,
        at_ms: at,
        query: query.clone().unwrap_or_default(),
        status: 0,
        remaining: None,
        reset: None,
    });
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {}", s.token) {
        s.requests[idx].status = 401;
        return Err(Box::new(respond(
            401,
            problem(401, "Unauthorized", "Unauthorized"),
            None,
        )));
    }
    let forced = s.fail.get_mut(&ep).and_then(|q| q.pop_front());
    let now_s = at / 1000;
    let w = window(&mut s, ep);
    if at >= w.reset * 1000 {
        w.remaining = w.limit;
        w.reset = (at + w.window.as_millis() as i64 + 999) / 1000;
    }
    if forced == Some(429) {
        // A forced 429 spends the window for the next 2 s.
        w.remaining = 0;
        w.reset = now_s + 3;
    }
    let rl_now = |w: &Window| Rl {
        limit: w.limit,
        remaining: w.remaining,
        reset: w.reset,
    };
    if w.remaining == 0 {
        let rl = rl_now(w);
        let r = &mut s.requests[idx];
        (r.status, r.remaining, r.reset) = (429, Some(0), Some(rl.reset));
        return Err(Box::new(respond(
            429,
            problem(429, "Too Many Requests", "Too Many Requests"),
            Some(rl),
        )));
    }
    w.remaining -= 1;
    let rl = rl_now(w);
    if let Some(code) = forced {
        let r = &mut s.requests[idx];
        (r.status, r.remaining, r.reset) = (code, Some(rl.remaining), Some(rl.reset));
        let title = match code {
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "Error",
        };
        return Err(Box::new(respond(
            code,
            problem(code, title, title),
            Some(rl),
        )));
    }
    let delay = match s.slow.get_mut(&ep) {
        Some((d, n)) if *n > 0 => {
            *n -= 1;
            Some(*d)
        }
        _ => None,
    };
    let r = &mut s.requests[idx];
    (r.status, r.remaining, r.reset) = (200, Some(rl.remaining), Some(rl.reset));
    Ok((idx, rl, delay))
}

fn set_status(sh: &Shared, idx: usize, status: u16) {
    sh.lock().requests[idx].status = status;
}

async fn finish(
    sh: &Shared,
    idx: usize,
    rl: Rl,
    delay: Option<Duration>,
    status: u16,
    body: Value,
) -> Response {
    set_status(sh, idx, status);
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    respond(status, body, Some(rl))
}

/// Query parameters of a request as a map (last value wins).
fn qmap(q: &Option<String>) -> HashMap<String, String> {
    q.as_deref()
        .map(params)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn max_results(
    q: &HashMap<String, String>,
    min: u32,
    max: u32,
    default: u32,
) -> Result<u32, Value> {
    match q.get("max_results") {
        None => Ok(default),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(invalid(&format!(
                "The `max_results` query parameter value [{v}] is not between {min} and {max}"
            ))),
        },
    }
}

fn id_param(q: &HashMap<String, String>, name: &str) -> Result<Option<u64>, Value> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            invalid(&format!(
                "The `{name}` query parameter value [{v}] is not valid"
            ))
        }),
    }
}

/// Pagination tokens: opaque to clients; here the id to continue below.
fn token_for(id: u64) -> String {
    format!("7140dibdnow9c7btw4{id:x}")
}

fn token_param(q: &HashMap<String, String>, name: &str) -> Result<Option<u64>, Value> {
    match q.get(name) {
        None => Ok(None),
        Some(t) => t
            .strip_prefix("7140dibdnow9c7btw4")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .map(Some)
            .ok_or_else(|| {
                invalid(&format!(
                    "The `{name}` query parameter value [{t}] is not valid"
                ))
            }),
    }
}

fn fields(q: &HashMap<String, String>, name: &str) -> Vec<String> {
    q.get(name)
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default()
}

fn user_json(u: &User, f: &[String]) -> Value {
    let mut v = json!({"id": u.id, "name": u.name, "username": u.username});
    let has = |k: &str| f.iter().any(|x| x == k);
    if has("created_at") {
        v["created_at"] = json!(u.created_at);
    }
    if has("description") {
        v["description"] = json!(u.description);
    }
    if has("verified") {
        v["verified"] = json!(u.verified);
    }
    if has("public_metrics") {
        v["public_metrics"] = json!({"followers_count": u.followers, "following_count": 12,
                                     "tweet_count": 345, "listed_count": 2, "like_count": 10});
    }
    v
}

fn tweet_json(t: &Tweet, f: &[String], author: bool) -> Value {
    let escaped = t
        .text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let mut v = json!({"id": t.id.to_string(), "text": escaped,
                       "edit_history_tweet_ids": [t.id.to_string()]});
    let has = |k: &str| f.iter().any(|x| x == k);
    if has("author_id") || author {
        v["author_id"] = json!(t.author_id);
    }
    if has("created_at") {
        v["created_at"] = json!(rfc3339(t.created_ms));
    }
    if has("conversation_id") {
        v["conversation_id"] = json!(t.conversation_id.to_string());
    }
    if has("in_reply_to_user_id")
        && let Some(u) = &t.in_reply_to_user_id
    {
        v["in_reply_to_user_id"] = json!(u);
    }
    if has("referenced_tweets")
        && let Some(r) = t.in_reply_to
    {
        v["referenced_tweets"] = json!([{"type": "replied_to", "id": r.to_string()}]);
    }
    v
}

/// A page of tweets, newest first, as X answers timelines and search.
fn tweet_page(
    s: &Inner,
    q: &HashMap<String, String>,
    token_name: &str,
    min: u32,
    default: u32,
    mut keep: impl FnMut(&Tweet) -> bool,
) -> Result<Value, Value> {
    let n = max_results(q, min, 100, default)? as usize;
    let since = id_param(q, "since_id")?;
    let until = id_param(q, "until_id")?;
    let below = token_param(q, token_name)?;
    let mut list: Vec<&Tweet> = s
        .tweets
        .iter()
        .filter(|t| since.is_none_or(|x| t.id > x))
        .filter(|t| until.is_none_or(|x| t.id < x))
        .filter(|t| below.is_none_or(|x| t.id < x))
        .filter(|t| keep(t))
        .collect();
    list.sort_by_key(|t| std::cmp::Reverse(t.id));
    let more = list.len() > n;
    list.truncate(n);
    if list.is_empty() {
        return Ok(json!({"meta": {"result_count": 0}}));
    }
    let tf = fields(q, "tweet.fields");
    let uf = fields(q, "user.fields");
    let expand = fields(q, "expansions").iter().any(|e| e == "author_id");
    let data: Vec<Value> = list.iter().map(|t| tweet_json(t, &tf, expand)).collect();
    let mut out = json!({"data": data});
    if expand {
        let mut users = vec![];
        let mut errors = vec![];
        let mut seen = std::collections::HashSet::new();
        for t in &list {
            if !seen.insert(t.author_id.clone()) {
                continue;
            }
            match s.users.get(&t.author_id) {
                Some(u) => users.push(user_json(u, &uf)),
                None => errors.push(json!({
                    "value": t.author_id, "detail": format!("Could not find user with id: [{}].", t.author_id),
                    "title": "Not Found Error", "resource_type": "user", "parameter": "author_id",
                    "resource_id": t.author_id, "type": "https://api.twitter.com/2/problems/resource-not-found"
                })),
            }
        }
        out["includes"] = json!({"users": users});
        if !errors.is_empty() {
            out["errors"] = json!(errors);
        }
    }
    let mut meta = json!({
        "result_count": list.len(),
        "newest_id": list[0].id.to_string(),
        "oldest_id": list[list.len() - 1].id.to_string(),
    });
    if more {
        meta["next_token"] = json!(token_for(list[list.len() - 1].id));
    }
    out["meta"] = meta;
    Ok(out)
}

fn dm_json(e: &DmEvent, f: &[String]) -> Value {
    let mut v = json!({"id": e.id.to_string(), "event_type": "MessageCreate", "text": e.text});
    let has = |k: &str| f.iter().any(|x| x == k);
    if has("sender_id") {
        v["sender_id"] = json!(e.sender_id);
    }
    if has("dm_conversation_id") {
        v["dm_conversation_id"] = json!(e.dm_conversation_id);
    }
    if has("created_at") {
        v["created_at"] = json!(rfc3339(e.created_ms));
    }
    v
}

fn dm_page(
    s: &Inner,
    q: &HashMap<String, String>,
    keep: impl Fn(&DmEvent) -> bool,
) -> Result<Value, Value> {
    let n = max_results(q, 1, 100, 100)? as usize;
    let below = token_param(q, "pagination_token")?;
    if let Some(t) = q.get("event_types")
        && t != "MessageCreate"
        && t != "MessageCreate,ParticipantsJoin,ParticipantsLeave"
    {
        return Err(invalid(&format!("event_types [{t}] is not supported here")));
    }
    let mut list: Vec<&DmEvent> = s
        .dms
        .iter()
        .filter(|e| below.is_none_or(|x| e.id < x))
        .filter(|e| keep(e))
        .collect();
    list.sort_by_key(|t| std::cmp::Reverse(t.id));
    let more = list.len() > n;
    list.truncate(n);
    if list.is_empty() {
        return Ok(json!({"meta": {"result_count": 0}}));
    }
    let f = fields(q, "dm_event.fields");
    let uf = fields(q, "user.fields");
    let data: Vec<Value> = list.iter().map(|e| dm_json(e, &f)).collect();
    let mut out = json!({"data": data});
    if fields(q, "expansions").iter().any(|e| e == "sender_id") {
        let mut ids: Vec<&String> = list.iter().map(|e| &e.sender_id).collect();
        ids.sort();
        ids.dedup();
        let users: Vec<Value> = ids
            .iter()
            .filter_map(|id| s.users.get(*id))
            .map(|u| user_json(u, &uf))
            .collect();
        out["includes"] = json!({ "users": users });
    }
    let mut meta = json!({"result_count": list.len()});
    if more {
        meta["next_token"] = json!(token_for(list[list.len() - 1].id));
    }
    out["meta"] = meta;
    Ok(out)
}

/// The positive terms of a search query (`@x`, `#x`, `"a phrase"`, words)
/// and the excluded authors (`-from:ID`).
fn query_terms(q: &str) -> (Vec<String>, Vec<String>) {
    let mut terms = vec![];
    let mut not_from = vec![];
    let mut chars = q.chars().peekable();
    let mut word = String::new();
    let flush = |w: &mut String, terms: &mut Vec<String>, not_from: &mut Vec<String>| {
        let t = w.trim_matches(|c| c == '(' || c == ')').to_string();
        w.clear();
        if t.is_empty() || t == "OR" {
            return;
        }
        if let Some(f) = t.strip_prefix("-from:") {
            not_from.push(f.to_string());
        } else if !t.starts_with('-') && !t.contains(':') {
            terms.push(t.to_lowercase());
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut phrase = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                phrase.push(n);
                            }
                        }
                        '"' => break,
                        c => phrase.push(c),
                    }
                }
                terms.push(phrase.to_lowercase());
            }
            c if c.is_whitespace() => flush(&mut word, &mut terms, &mut not_from),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut terms, &mut not_from);
    (terms, not_from)
}

fn tweets_response(r: Result<Value, Value>) -> (u16, Value) {
    match r {
        Ok(v) => (200, v),
        Err(e) => (400, e),
    }
}

async fn me(State(sh): State<Shared>, h: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let (idx, rl, delay) = match admit(&sh, Ep::Me, &h, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let body = {
        let s = sh.lock();
        let u = &s.users[ME];
        json!({"data": {"id": u.id, "name": u.name, "username": u.username}})
    };
    finish(&sh, idx, rl, delay, 200, body).await
}

async fn mentions(
    State(sh): State<Shared>,
    Path(id): Path<String>,
    h: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let (idx, rl, delay) = match admit(&sh, Ep::Mentions, &h, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let (status, body) = {
        let s = sh.lock();
        let handle = s
            .users
            .get(&id)
            .map(|u| format!("@{}", u.username.to_lowercase()));
        let qm = qmap(&q);
        tweets_response(tweet_page(&s, &qm, "pagination_token", 5, 10, |t| {
            handle
                .as_ref()
                .is_some_and(|h| t.text.to_lowercase().contains(h.as_str()))
                && t.author_id != id
        }))
    };
    finish(&sh, idx, rl, delay, status, body).await
}

async fn user_tweets(
    State(sh): State<Shared>,
    Path(id): Path<String>,
    h: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let (idx, rl, delay) = match admit(&sh, Ep::UserTweets, &h, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let (status, body) = {
        let s = sh.lock();
        let qm = qmap(&q);
        tweets_response(tweet_page(&s, &qm, "pagination_token", 5, 10, |t| {
            t.author_id == id
        }))
    };
    finish(&sh, idx, rl, delay, status, body).await
}

async fn search(State(sh): State<Shared>, h: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let (idx, rl, delay) = match admit(&sh, Ep::Search, &h, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let (status, body) = {
        let s = sh.lock();
        let qm = qmap(&q);
        match qm.get("query").filter(|q| !q.trim().is_empty()) {
            None => (400, invalid("The `query` query parameter can not be empty")),
            Some(query) if query.chars().count() > 512 => {
                (400, invalid("The `query` query parameter is too long"))
            }
            Some(query) => {
                let (terms, not_from) = query_terms(query);
                tweets_response(tweet_page(&s, &qm, "next_token", 10, 10, |t| {
                    let text = t.text.to_lowercase();
                    !not_from.contains(&t.author_id) && terms.iter().any(|w| text.contains(w))
                }))
            }
        }
    };
    finish(&sh, idx, rl, delay, status, body).await
}

async fn dm_events(State(sh): State<Shared>, h: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let (idx, rl, delay) = match admit(&sh, Ep::DmEvents, &h, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let (status, body) = {
        let s = sh.lock();
        tweets_response(dm_page(&s, &qmap(&q), |_| true))
    };
    finish(&sh, idx, rl, delay, status, body).await
}

async fn dm_with(
    State(sh): State<Shared>,
    Path(participant): Path<String>,
    h: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let (idx, rl, delay) = match admit(&sh, Ep::DmWith, &h, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let conv = dm_pair(ME, &participant);
    let (status, body) = {
        let s = sh.lock();
        tweets_response(dm_page(&s, &qmap(&q), |e| e.dm_conversation_id == conv))
    };
    finish(&sh, idx, rl, delay, status, body).await
}

async fn post_tweet(
    State(sh): State<Shared>,
    h: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let (idx, rl, delay) = match admit(&sh, Ep::PostTweet, &h, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let (status, out) = {
        let mut s = sh.lock();
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let text = v["text"].as_str().unwrap_or("").to_string();
        let reply_to = v["reply"]["in_reply_to_tweet_id"]
            .as_str()
            .map(str::to_string);
        if text.trim().is_empty() || text.chars().count() > 280 {
            (400, invalid("Tweet text must be 1 to 280 characters"))
        } else if s.tweets.iter().any(|t| t.author_id == ME && t.text == text) {
            (
                403,
                problem(
                    403,
                    "Forbidden",
                    "You are not allowed to create a Tweet with duplicate content.",
                ),
            )
        } else if let Some(r) = &reply_to
            && !s.tweets.iter().any(|t| t.id.to_string() == *r)
        {
            (
                403,
                problem(
                    403,
                    "Forbidden",
                    "You attempted to reply to a Tweet that is deleted or not visible to you.",
                ),
            )
        } else {
            let id = new_tweet(&mut s, ME, &text, reply_to.and_then(|r| r.parse().ok()));
            (
                201,
                json!({"data": {"id": id.to_string(), "text": text,
                                "edit_history_tweet_ids": [id.to_string()]}}),
            )
        }
    };
    finish(&sh, idx, rl, delay, status, out).await
}

async fn post_dm(
    State(sh): State<Shared>,
    Path(participant): Path<String>,
    h: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let (idx, rl, delay) = match admit(&sh, Ep::PostDm, &h, &q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let (status, out) = {
        let mut s = sh.lock();
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let text = v["text"].as_str().unwrap_or("").to_string();
        if text.trim().is_empty() {
            (400, invalid("text or attachments are required"))
        } else if participant == ME || !participant.chars().all(|c| c.is_ascii_digit()) {
            (400, invalid("participant_id is not valid"))
        } else {
            let conv = dm_pair(ME, &participant);
            let id = new_dm(&mut s, ME, &conv, &text);
            (
                201,
                json!({"data": {"dm_conversation_id": conv, "dm_event_id": id.to_string()}}),
            )
        }
    };
    finish(&sh, idx, rl, delay, status, out).await
}
