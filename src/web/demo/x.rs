//! A fake X API v2 for the demo (a simplified `tests/fakes/x.rs`): mentions,
//! our tweets, recent search, DM events (newest first, `since_id`/`until_id`,
//! `max_results`, `pagination_token`/`next_token` with `meta.next_token`,
//! `includes.users` with the requested `user.fields`), posting tweets
//! (`reply.in_reply_to_tweet_id`; duplicate text → 403) and DMs, with
//! `x-rate-limit-*` headers and `Authorization: Bearer`.

use super::OUR_HANDLE;
use super::script::{Person, Shape, answer_back, answer_delay};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Our account's id (the connector's `user_id`).
pub const ME: &str = "1001";
/// The demo's bearer token (fake).
pub const TOKEN: &str = "demo-x-bearer-not-a-secret";

#[derive(Clone)]
struct User {
    id: String,
    username: String,
    name: String,
    followers: u64,
    verified: bool,
    es: bool,
}

#[derive(Clone)]
struct Tweet {
    id: u64,
    text: String,
    author_id: String,
    conversation_id: u64,
    in_reply_to: Option<u64>,
    in_reply_to_user_id: Option<String>,
    created_ms: i64,
}

#[derive(Clone)]
struct DmEvent {
    id: u64,
    text: String,
    sender_id: String,
    dm_conversation_id: String,
    created_ms: i64,
}

struct Inner {
    next_id: u64,
    users: BTreeMap<String, User>,
    tweets: Vec<Tweet>,
    dms: Vec<DmEvent>,
    replies: u64,
}

pub struct Fake {
    inner: Mutex<Inner>,
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// X's one-to-one DM conversation id: smaller user id first.
fn dm_pair(a: &str, b: &str) -> String {
    let key = |s: &str| (s.len(), s.to_string());
    if key(a) <= key(b) {
        format!("{a}-{b}")
    } else {
        format!("{b}-{a}")
    }
}

impl Inner {
    fn new_tweet(&mut self, author: &str, text: &str, reply_to: Option<u64>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let parent = reply_to.and_then(|r| self.tweets.iter().find(|t| t.id == r).cloned());
        self.tweets.push(Tweet {
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

    fn new_dm(&mut self, sender: &str, conv: &str, text: &str) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.dms.push(DmEvent {
            id,
            text: text.to_string(),
            sender_id: sender.to_string(),
            dm_conversation_id: conv.to_string(),
            created_ms: now_ms(),
        });
        id
    }

    fn add_user(&mut self, p: &Person) -> String {
        let id = p.id.to_string();
        self.users.insert(
            id.clone(),
            User {
                id: id.clone(),
                username: p.handle.clone(),
                name: p.name.clone(),
                followers: p.followers,
                verified: p.verified,
                es: p.es,
            },
        );
        id
    }
}

impl Fake {
    pub fn new() -> Arc<Fake> {
        let mut users = BTreeMap::new();
        users.insert(
            ME.to_string(),
            User {
                id: ME.into(),
                username: OUR_HANDLE.into(),
                name: "Nordia".into(),
                followers: 5400,
                verified: true,
                es: true,
            },
        );
        Arc::new(Fake {
            inner: Mutex::new(Inner {
                next_id: 1_860_000_000_000_000_000,
                users,
                tweets: vec![],
                dms: vec![],
                replies: 0,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
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
            .with_state(self)
    }

    /// A customer tweets at us, about us, or sends us a DM.
    pub fn push(&self, p: &Person, shape: Shape, text: &str) {
        let mut s = self.lock();
        let id = s.add_user(p);
        match shape {
            Shape::Mention => {
                s.new_tweet(&id, &format!("@{OUR_HANDLE} {text}"), None);
            }
            Shape::Brand => {
                s.new_tweet(&id, text, None);
            }
            Shape::Private => {
                s.new_dm(&id, &dm_pair(ME, &id), text);
            }
        }
    }

    /// Now and then the customer answers: `tweet` is our reply to them (a
    /// public answer in the thread), else a DM back.
    fn maybe_answer(self: &Arc<Self>, customer: String, tweet: Option<u64>) {
        let (k, user) = {
            let mut s = self.lock();
            s.replies += 1;
            (s.replies, s.users.get(&customer).cloned())
        };
        let (Some(delay), Some(u)) = (answer_delay(k), user) else {
            return;
        };
        let fake = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut s = fake.lock();
            let text = answer_back(u.es, k);
            match tweet {
                Some(t) => {
                    s.new_tweet(&u.id, &format!("@{OUR_HANDLE} {text}"), Some(t));
                }
                None => {
                    s.new_dm(&u.id, &dm_pair(ME, &u.id), text);
                }
            }
        });
    }
}

fn respond(status: u16, body: Value) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert("x-rate-limit-limit", HeaderValue::from(900u32));
    h.insert("x-rate-limit-remaining", HeaderValue::from(899u32));
    h.insert(
        "x-rate-limit-reset",
        HeaderValue::from(now_ms() / 1000 + 900),
    );
    r
}

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

fn authorized(h: &HeaderMap) -> bool {
    let auth = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    auth == format!("Bearer {TOKEN}")
}

fn unauthorized() -> Response {
    respond(401, problem(401, "Unauthorized", "Unauthorized"))
}

fn qmap(q: &Option<String>) -> HashMap<String, String> {
    q.as_deref()
        .and_then(|q| reqwest::Url::parse(&format!("http://x/?{q}")).ok())
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn max_results(q: &HashMap<String, String>, min: u32, default: u32) -> Result<u32, Value> {
    match q.get("max_results") {
        None => Ok(default),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (min..=100).contains(&n) => Ok(n),
            _ => Err(invalid(&format!(
                "The `max_results` query parameter value [{v}] is not between {min} and 100"
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

const TOKEN_PREFIX: &str = "7140dibdnow9c7btw4";

fn token_for(id: u64) -> String {
    format!("{TOKEN_PREFIX}{id:x}")
}

fn token_param(q: &HashMap<String, String>, name: &str) -> Result<Option<u64>, Value> {
    match q.get(name) {
        None => Ok(None),
        Some(t) => t
            .strip_prefix(TOKEN_PREFIX)
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
        v["created_at"] = json!("2019-06-01T12:00:00.000Z");
    }
    if has("description") {
        v["description"] = json!(format!("{} · opiniones propias", u.name));
    }
    if has("verified") {
        v["verified"] = json!(u.verified);
    }
    if has("public_metrics") {
        v["public_metrics"] = json!({"followers_count": u.followers, "following_count": 312,
                                     "tweet_count": 4512, "listed_count": 7, "like_count": 950});
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
    keep: impl Fn(&Tweet) -> bool,
) -> Result<Value, Value> {
    let n = max_results(q, min, 10)? as usize;
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
    let (Some(newest), Some(oldest)) = (list.first(), list.last()) else {
        return Ok(json!({"meta": {"result_count": 0}}));
    };
    let tf = fields(q, "tweet.fields");
    let uf = fields(q, "user.fields");
    let expand = fields(q, "expansions").iter().any(|e| e == "author_id");
    let data: Vec<Value> = list.iter().map(|t| tweet_json(t, &tf, expand)).collect();
    let mut out = json!({"data": data});
    if expand {
        let mut seen = HashSet::new();
        let users: Vec<Value> = list
            .iter()
            .filter(|t| seen.insert(t.author_id.clone()))
            .filter_map(|t| s.users.get(&t.author_id))
            .map(|u| user_json(u, &uf))
            .collect();
        out["includes"] = json!({ "users": users });
    }
    let mut meta = json!({
        "result_count": list.len(),
        "newest_id": newest.id.to_string(),
        "oldest_id": oldest.id.to_string(),
    });
    if more {
        meta["next_token"] = json!(token_for(oldest.id));
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
    let n = max_results(q, 1, 100)? as usize;
    let below = token_param(q, "pagination_token")?;
    let mut list: Vec<&DmEvent> = s
        .dms
        .iter()
        .filter(|e| below.is_none_or(|x| e.id < x))
        .filter(|e| keep(e))
        .collect();
    list.sort_by_key(|t| std::cmp::Reverse(t.id));
    let more = list.len() > n;
    list.truncate(n);
    let Some(oldest) = list.last() else {
        return Ok(json!({"meta": {"result_count": 0}}));
    };
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
        meta["next_token"] = json!(token_for(oldest.id));
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

fn page_response(r: Result<Value, Value>) -> Response {
    match r {
        Ok(v) => respond(200, v),
        Err(e) => respond(400, e),
    }
}

async fn me(State(fake): State<Arc<Fake>>, h: HeaderMap) -> Response {
    if !authorized(&h) {
        return unauthorized();
    }
    let s = fake.lock();
    let u = &s.users[ME];
    respond(
        200,
        json!({"data": {"id": u.id, "name": u.name, "username": u.username}}),
    )
}

async fn mentions(
    State(fake): State<Arc<Fake>>,
    Path(id): Path<String>,
    h: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if !authorized(&h) {
        return unauthorized();
    }
    let s = fake.lock();
    let handle = s
        .users
        .get(&id)
        .map(|u| format!("@{}", u.username.to_lowercase()));
    page_response(tweet_page(&s, &qmap(&q), "pagination_token", 5, |t| {
        handle
            .as_ref()
            .is_some_and(|h| t.text.to_lowercase().contains(h.as_str()))
            && t.author_id != id
    }))
}

async fn user_tweets(
    State(fake): State<Arc<Fake>>,
    Path(id): Path<String>,
    h: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if !authorized(&h) {
        return unauthorized();
    }
    let s = fake.lock();
    page_response(tweet_page(&s, &qmap(&q), "pagination_token", 5, |t| {
        t.author_id == id
    }))
}

async fn search(State(fake): State<Arc<Fake>>, h: HeaderMap, RawQuery(q): RawQuery) -> Response {
    if !authorized(&h) {
        return unauthorized();
    }
    let s = fake.lock();
    let qm = qmap(&q);
    match qm.get("query").filter(|q| !q.trim().is_empty()) {
        None => respond(400, invalid("The `query` query parameter can not be empty")),
        Some(query) if query.chars().count() > 512 => {
            respond(400, invalid("The `query` query parameter is too long"))
        }
        Some(query) => {
            let (terms, not_from) = query_terms(query);
            page_response(tweet_page(&s, &qm, "next_token", 10, |t| {
                let text = t.text.to_lowercase();
                !not_from.contains(&t.author_id) && terms.iter().any(|w| text.contains(w))
            }))
        }
    }
}

async fn dm_events(State(fake): State<Arc<Fake>>, h: HeaderMap, RawQuery(q): RawQuery) -> Response {
    if !authorized(&h) {
        return unauthorized();
    }
    let s = fake.lock();
    page_response(dm_page(&s, &qmap(&q), |_| true))
}

async fn dm_with(
    State(fake): State<Arc<Fake>>,
    Path(participant): Path<String>,
    h: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if !authorized(&h) {
        return unauthorized();
    }
    let conv = dm_pair(ME, &participant);
    let s = fake.lock();
    page_response(dm_page(&s, &qmap(&q), |e| e.dm_conversation_id == conv))
}

async fn post_tweet(State(fake): State<Arc<Fake>>, h: HeaderMap, body: Bytes) -> Response {
    if !authorized(&h) {
        return unauthorized();
    }
    let (status, out, answer) = {
        let mut s = fake.lock();
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let text = v["text"].as_str().unwrap_or("").to_string();
        let reply_to = v["reply"]["in_reply_to_tweet_id"]
            .as_str()
            .and_then(|r| r.parse::<u64>().ok());
        let parent = reply_to.and_then(|r| s.tweets.iter().find(|t| t.id == r).cloned());
        if text.trim().is_empty() || text.chars().count() > 280 {
            (400, invalid("Tweet text must be 1 to 280 characters"), None)
        } else if s.tweets.iter().any(|t| t.author_id == ME && t.text == text) {
            let p = problem(
                403,
                "Forbidden",
                "You are not allowed to create a Tweet with duplicate content.",
            );
            (403, p, None)
        } else if reply_to.is_some() && parent.is_none() {
            let p = problem(
                403,
                "Forbidden",
                "You attempted to reply to a Tweet that is deleted or not visible to you.",
            );
            (403, p, None)
        } else {
            let id = s.new_tweet(ME, &text, reply_to);
            let answer = parent
                .filter(|p| p.author_id != ME)
                .map(|p| (p.author_id, id));
            (
                201,
                json!({"data": {"id": id.to_string(), "text": text,
                                "edit_history_tweet_ids": [id.to_string()]}}),
                answer,
            )
        }
    };
    if let Some((customer, id)) = answer {
        fake.maybe_answer(customer, Some(id));
    }
    respond(status, out)
}

async fn post_dm(
    State(fake): State<Arc<Fake>>,
    Path(participant): Path<String>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&h) {
        return unauthorized();
    }
    let (status, out) = {
        let mut s = fake.lock();
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let text = v["text"].as_str().unwrap_or("").to_string();
        if text.trim().is_empty() {
            (400, invalid("text or attachments are required"))
        } else if participant == ME || !participant.chars().all(|c| c.is_ascii_digit()) {
            (400, invalid("participant_id is not valid"))
        } else {
            let conv = dm_pair(ME, &participant);
            let id = s.new_dm(ME, &conv, &text);
            (
                201,
                json!({"data": {"dm_conversation_id": conv, "dm_event_id": id.to_string()}}),
            )
        }
    };
    if status == 201 {
        fake.maybe_answer(participant, None);
    }
    respond(status, out)
}
