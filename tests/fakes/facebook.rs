//! A local Graph API for one Facebook page, in its own thread and runtime:
//! `GET /v21.0/{page}/conversations` (Messenger, nested `messages`),
//! `GET /{conversation}/messages`, `GET /{page}/feed` (nested `comments`),
//! `GET /{post-or-comment}/comments`, `GET /{comment}?fields=can_reply_privately`,
//! `GET /me`, `POST /{comment}/comments` (a reply by the page) and
//! `POST /{page}/messages` (Send API: `recipient.id` with `messaging_type`,
//! or a private reply with `recipient.comment_id`, once per comment).
//!
//! Graph shapes: `{"data": [...], "paging": {"cursors": {"before", "after"},
//! "next", "previous"}}` (no `next` on the last page), times as
//! `2026-11-23T10:00:00+0000`, errors as `{"error": {"message", "type",
//! "code", "error_subcode", "fbtrace_id"}}` with HTTP 400 (or 429 when asked)
//! and usage headers (`X-App-Usage`, `X-Business-Use-Case-Usage` with
//! `estimated_time_to_regain_access`). The token is checked in the
//! `Authorization` header (or `access_token`), and `appsecret_proof` when
//! the fake knows the app secret.
#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One request the fake saw.
#[derive(Clone, Debug)]
pub struct Req {
    pub at: Instant,
    pub method: String,
    /// Without the version prefix: `100/conversations`.
    pub path: String,
    pub query: HashMap<String, String>,
    pub body: String,
    pub authorization: Option<String>,
    /// The full path and query as received (to look for leaked tokens).
    pub raw: String,
}

impl Req {
    /// The body as JSON, or a form as a JSON object.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| {
            let m: HashMap<String, String> = url_decode_form(&self.body);
            json!(m)
        })
    }
}

/// A failure the next request gets.
#[derive(Clone, Debug)]
pub enum Fault {
    /// A throttling error (codes 4, 17, 32, 613) with this HTTP status and
    /// `estimated_time_to_regain_access` minutes (0: no usage header).
    Throttle {
        code: i64,
        http: u16,
        regain_minutes: u64,
    },
    /// Code 190, subcode 463.
    Expired,
    /// HTTP 500 with code 2.
    ServerError,
}

#[derive(Clone, Debug)]
struct Message {
    id: String,
    from: (String, String),
    to: (String, String),
    text: String,
    created: i64,
    seq: u64,
}

#[derive(Clone, Debug)]
struct Conversation {
    id: String,
    psid: String,
    name: String,
    messages: Vec<Message>,
}

#[derive(Clone, Debug)]
struct Comment {
    id: String,
    post: String,
    parent: Option<String>,
    from: (String, String),
    text: String,
    created: i64,
    seq: u64,
    private_replied: bool,
}

#[derive(Clone, Debug)]
struct Post {
    id: String,
    from: (String, String),
    text: String,
    created: i64,
    seq: u64,
}

struct Graph {
    base: String,
    page: (String, String),
    token: String,
    app_secret: Option<String>,
    conversations: Vec<Conversation>,
    posts: Vec<Post>,
    comments: Vec<Comment>,
    page_size: usize,
    nested_size: usize,
    seq: u64,
    requests: Vec<Req>,
    /// Faults for the next requests (of one method, or any).
    faults: VecDeque<(Option<&'static str>, Fault)>,
    expired: bool,
    /// The next POSTs: processed, then answered this late.
    post_delays: VecDeque<Duration>,
    /// The next POSTs: not processed, answered this late.
    post_drops: VecDeque<Duration>,
    usage: Option<String>,
    /// Clock offset in seconds (to make items look older or newer).
    skew: i64,
}

type Shared = Arc<Mutex<Graph>>;

/// The fake Graph API.
pub struct FakeGraph {
    pub base: String,
    state: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeGraph {
    /// A page `page_id` ("Tienda Nordia") whose token is `token`;
    /// `app_secret`: also require a matching `appsecret_proof`.
    pub fn start(page_id: &str, token: &str, app_secret: Option<&str>) -> FakeGraph {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake Graph");
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state: Shared = Arc::new(Mutex::new(Graph {
            base: base.clone(),
            page: (page_id.to_string(), "Tienda Nordia".to_string()),
            token: token.to_string(),
            app_secret: app_secret.map(str::to_string),
            conversations: vec![],
            posts: vec![],
            comments: vec![],
            page_size: 25,
            nested_size: 25,
            seq: 0,
            requests: vec![],
            faults: VecDeque::new(),
            expired: false,
            post_delays: VecDeque::new(),
            post_drops: VecDeque::new(),
            usage: None,
            skew: 0,
        }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/{version}/{id}", get(get_node))
            .route("/{version}/{id}/{edge}", get(get_edge).post(post_edge))
            .with_state(state.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(l, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        FakeGraph {
            base,
            state,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Graph> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Top-level page size (`limit` is capped at this).
    pub fn set_page_size(&self, n: usize) {
        self.lock().page_size = n.max(1);
    }

    /// Page size of nested edges (a conversation's messages, a post's comments).
    pub fn set_nested_size(&self, n: usize) {
        self.lock().nested_size = n.max(1);
    }

    /// Shift the fake's clock (seconds) for the items added next.
    pub fn set_skew(&self, secs: i64) {
        self.lock().skew = secs;
    }

    /// A Messenger message from `psid` to the page; its id.
    pub fn add_message(&self, psid: &str, name: &str, text: &str) -> String {
        let mut g = self.lock();
        let mid = format!("m_AbC{}xYz", g.next_seq());
        g.insert_message(psid, name, &mid, text, false);
        mid
    }

    /// A Messenger message with a given id (as a webhook named it).
    pub fn add_message_with_id(&self, psid: &str, name: &str, mid: &str, text: &str) {
        self.lock().insert_message(psid, name, mid, text, false);
    }

    /// A post by the page; its id (`{page}_{n}`).
    pub fn add_post(&self, text: &str) -> String {
        let mut g = self.lock();
        let seq = g.next_seq();
        let id = format!("{}_{}", g.page.0, 5000 + seq);
        let created = g.now();
        let from = g.page.clone();
        g.posts.push(Post {
            id: id.clone(),
            from,
            text: text.to_string(),
            created,
            seq,
        });
        id
    }

    /// A top-level comment on a post; its id (`{post n}_{n}`).
    pub fn add_comment(&self, post: &str, from_id: &str, name: &str, text: &str) -> String {
        self.lock()
            .insert_comment(post, None, (from_id, name), text, None)
    }

    /// A comment with a given id (as a webhook named it).
    pub fn add_comment_with_id(&self, post: &str, id: &str, from_id: &str, name: &str, text: &str) {
        self.lock()
            .insert_comment(post, None, (from_id, name), text, Some(id));
    }

    /// A reply to a comment (Facebook keeps one level: a reply to a reply
    /// joins the same parent).
    pub fn add_reply(&self, comment: &str, from_id: &str, name: &str, text: &str) -> String {
        let mut g = self.lock();
        let c = g
            .comments
            .iter()
            .find(|c| c.id == comment)
            .cloned()
            .expect("no such comment");
        let parent = c.parent.clone().unwrap_or_else(|| c.id.clone());
        g.insert_comment(&c.post, Some(parent), (from_id, name), text, None)
    }

    /// The next request fails like this.
    pub fn fail_next(&self, f: Fault) {
        self.lock().faults.push_back((None, f));
    }

    /// The next GET fails like this.
    pub fn fail_next_get(&self, f: Fault) {
        self.lock().faults.push_back((Some("GET"), f));
    }

    /// A message by the page to `psid` (an answer sent from elsewhere).
    pub fn add_page_message(&self, psid: &str, text: &str) -> String {
        let mut g = self.lock();
        let mid = format!("m_AbC{}xYz", g.next_seq());
        g.insert_message(psid, "", &mid, text, true);
        mid
    }

    /// A post by the page with a given id.
    pub fn add_post_with_id(&self, id: &str, text: &str) {
        let mut g = self.lock();
        let seq = g.next_seq();
        let created = g.now();
        let from = g.page.clone();
        g.posts.push(Post {
            id: id.to_string(),
            from,
            text: text.to_string(),
            created,
            seq,
        });
    }

    /// Whether the comment got its (one) private reply.
    pub fn privately_replied(&self, comment: &str) -> bool {
        self.lock()
            .comments
            .iter()
            .any(|c| c.id == comment && c.private_replied)
    }

    /// Every request fails with code 190 while set.
    pub fn set_expired(&self, on: bool) {
        self.lock().expired = on;
    }

    /// The next POST is carried out but answered after `d`.
    pub fn delay_next_post(&self, d: Duration) {
        self.lock().post_delays.push_back(d);
    }

    /// The next POST is lost: not carried out, answered (500) after `d`.
    pub fn drop_next_post(&self, d: Duration) {
        self.lock().post_drops.push_back(d);
    }

    /// `X-Business-Use-Case-Usage` on every answer (`None`: only `X-App-Usage`).
    pub fn set_usage(&self, header: Option<&str>) {
        self.lock().usage = header.map(str::to_string);
    }

    pub fn requests(&self) -> Vec<Req> {
        self.lock().requests.clone()
    }

    /// The POSTs (replies) seen.
    pub fn posts(&self) -> Vec<Req> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }

    /// Replies by the page under a comment (its thread).
    pub fn page_replies(&self, comment: &str) -> Vec<String> {
        let g = self.lock();
        g.comments
            .iter()
            .filter(|c| c.parent.as_deref() == Some(comment) && c.from.0 == g.page.0)
            .map(|c| c.text.clone())
            .collect()
    }

    /// Messages by the page in the conversation with `psid`.
    pub fn page_messages(&self, psid: &str) -> Vec<String> {
        let g = self.lock();
        g.conversations
            .iter()
            .filter(|c| c.psid == psid)
            .flat_map(|c| c.messages.iter())
            .filter(|m| m.from.0 == g.page.0)
            .map(|m| m.text.clone())
            .collect()
    }
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Graph {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            + self.skew
    }

    fn insert_message(&mut self, psid: &str, name: &str, mid: &str, text: &str, from_page: bool) {
        let seq = self.next_seq();
        let created = self.now();
        let page = self.page.clone();
        let conv = match self.conversations.iter().position(|c| c.psid == psid) {
            Some(i) => i,
            None => {
                self.conversations.push(Conversation {
                    id: format!("t_{}", 10_000 + seq),
                    psid: psid.to_string(),
                    name: name.to_string(),
                    messages: vec![],
                });
                self.conversations.len() - 1
            }
        };
        let user = (psid.to_string(), self.conversations[conv].name.clone());
        let (from, to) = if from_page {
            (page, user)
        } else {
            (user, page)
        };
        self.conversations[conv].messages.push(Message {
            id: mid.to_string(),
            from,
            to,
            text: text.to_string(),
            created,
            seq,
        });
    }

    fn insert_comment(
        &mut self,
        post: &str,
        parent: Option<String>,
        from: (&str, &str),
        text: &str,
        id: Option<&str>,
    ) -> String {
        let seq = self.next_seq();
        let post_num = post.rsplit('_').next().unwrap_or(post).to_string();
        let id = id
            .map(str::to_string)
            .unwrap_or_else(|| format!("{post_num}_{}", 900_000 + seq));
        let created = self.now();
        self.comments.push(Comment {
            id: id.clone(),
            post: post.to_string(),
            parent,
            from: (from.0.to_string(), from.1.to_string()),
            text: text.to_string(),
            created,
            seq,
            private_replied: false,
        });
        id
    }

    fn person(&self, p: &(String, String)) -> Value {
        json!({"name": p.1, "email": format!("{}@facebook.com", p.0), "id": p.0})
    }

    fn message_json(&self, m: &Message) -> Value {
        json!({"id": m.id, "message": m.text, "created_time": graph_time(m.created),
               "from": self.person(&m.from), "to": {"data": [self.person(&m.to)]}})
    }

    fn comment_json(&self, c: &Comment) -> Value {
        let mut v = json!({"id": c.id, "message": c.text, "created_time": graph_time(c.created),
                           "from": {"name": c.from.1, "id": c.from.0}});
        if let Some(p) = &c.parent
            && let Some(pc) = self.comments.iter().find(|x| &x.id == p)
        {
            v["parent"] = json!({"id": pc.id, "message": pc.text, "created_time": graph_time(pc.created),
                                 "from": {"name": pc.from.1, "id": pc.from.0}});
        }
        v
    }

    /// A conversation's messages, newest first.
    fn conv_messages(&self, c: &Conversation) -> Vec<Value> {
        let mut ms: Vec<&Message> = c.messages.iter().collect();
        ms.sort_by_key(|m| std::cmp::Reverse((m.created, m.seq)));
        ms.iter().map(|m| self.message_json(m)).collect()
    }

    /// A post's comments (all levels) or a comment's replies.
    fn comments_of(&self, id: &str, newest_first: bool) -> Option<Vec<Value>> {
        let is_post = self.posts.iter().any(|p| p.id == id);
        let is_comment = self.comments.iter().any(|c| c.id == id);
        if !is_post && !is_comment {
            return None;
        }
        let mut cs: Vec<&Comment> = self
            .comments
            .iter()
            .filter(|c| {
                if is_post {
                    c.post == id
                } else {
                    c.parent.as_deref() == Some(id)
                }
            })
            .collect();
        cs.sort_by_key(|c| (c.created, c.seq));
        if newest_first {
            cs.reverse();
        }
        Some(cs.iter().map(|c| self.comment_json(c)).collect())
    }

    /// One page of `items` after `after`, with Graph paging.
    fn paged(&self, items: Vec<Value>, size: usize, after: Option<&str>, next_path: &str) -> Value {
        let start = after.and_then(decode_cursor).unwrap_or(0).min(items.len());
        let end = (start + size).min(items.len());
        let data: Vec<Value> = items[start..end].to_vec();
        let mut v = json!({ "data": data });
        if !data.is_empty() {
            let mut paging =
                json!({"cursors": {"before": encode_cursor(start), "after": encode_cursor(end)}});
            let sep = if next_path.contains('?') { '&' } else { '?' };
            if end < items.len() {
                paging["next"] = json!(format!(
                    "{}/v21.0/{next_path}{sep}limit={size}&after={}",
                    self.base,
                    encode_cursor(end)
                ));
            }
            if start > 0 {
                paging["previous"] = json!(format!(
                    "{}/v21.0/{next_path}{sep}limit={size}&before={}",
                    self.base,
                    encode_cursor(start)
                ));
            }
            v["paging"] = paging;
        }
        v
    }

    fn nested(&self, items: Vec<Value>, next_path: &str) -> Value {
        self.paged(items, self.nested_size, None, next_path)
    }
}

fn graph_time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S+0000")
        .to_string()
}

fn encode_cursor(n: usize) -> String {
    format!("QVFIU{}", hex::encode(format!("off:{n}")))
}

fn decode_cursor(s: &str) -> Option<usize> {
    let h = s.strip_prefix("QVFIU")?;
    let t = String::from_utf8(hex::decode(h).ok()?).ok()?;
    t.strip_prefix("off:")?.parse().ok()
}

fn url_decode_form(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect()
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(x) => {
                        out.push(x);
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

fn graph_error(
    status: u16,
    code: i64,
    subcode: Option<i64>,
    kind: &str,
    message: &str,
) -> Response {
    let mut e = json!({"message": message, "type": kind, "code": code,
                       "fbtrace_id": "AbCdEfGhIjK"});
    if let Some(s) = subcode {
        e["error_subcode"] = json!(s);
    }
    let mut res = (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({ "error": e })),
    )
        .into_response();
    if code == 190 {
        res.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static(
                "OAuth \"Facebook Platform\" \"invalid_token\" \"Error validating access token\"",
            ),
        );
    }
    res
}

fn with_usage(g: &Graph, mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        "x-app-usage",
        HeaderValue::from_static(r#"{"call_count":3,"total_time":2,"total_cputime":1}"#),
    );
    if let Some(u) = &g.usage
        && let Ok(v) = HeaderValue::from_str(u)
    {
        h.insert("x-business-use-case-usage", v);
    }
    res
}

/// Record the request, check the token and the injected faults.
fn admit(
    g: &mut Graph,
    method: &str,
    path: String,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
    raw: String,
) -> Result<(), Box<Response>> {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    g.requests.push(Req {
        at: Instant::now(),
        method: method.to_string(),
        path,
        query: q.clone(),
        body: String::from_utf8_lossy(body).into_owned(),
        authorization: authorization.clone(),
        raw,
    });
    let due = g
        .faults
        .iter()
        .position(|(m, _)| m.is_none_or(|m| m == method));
    if let Some((_, f)) = due.and_then(|i| g.faults.remove(i)) {
        return Err(Box::new(match f {
            Fault::Throttle {
                code,
                http,
                regain_minutes,
            } => {
                let msg = match code {
                    4 => "(#4) Application request limit reached",
                    17 => "(#17) User request limit reached",
                    32 => "(#32) Page request limit reached",
                    _ => "(#613) Calls to this api have exceeded the rate limit.",
                };
                let mut res = graph_error(http, code, None, "OAuthException", msg);
                if regain_minutes > 0 {
                    let usage = format!(
                        r#"{{"{}":[{{"type":"pages","call_count":100,"total_cputime":12,"total_time":14,"estimated_time_to_regain_access":{regain_minutes}}}]}}"#,
                        g.page.0
                    );
                    res.headers_mut().insert(
                        "x-business-use-case-usage",
                        HeaderValue::from_str(&usage).unwrap(),
                    );
                }
                res
            }
            Fault::Expired => expired(),
            Fault::ServerError => graph_error(
                500,
                2,
                None,
                "OAuthException",
                "An unexpected error has occurred. Please retry your request later.",
            ),
        }));
    }
    let token = authorization
        .as_deref()
        .and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("OAuth "))
        })
        .map(str::to_string)
        .or_else(|| q.get("access_token").cloned());
    let Some(token) = token else {
        return Err(Box::new(graph_error(
            400,
            2500,
            None,
            "OAuthException",
            "An active access token must be used to query information about the current user.",
        )));
    };
    if g.expired {
        return Err(Box::new(expired()));
    }
    if token != g.token {
        return Err(Box::new(graph_error(
            400,
            190,
            None,
            "OAuthException",
            "Invalid OAuth access token - Cannot parse access token",
        )));
    }
    if let Some(secret) = &g.app_secret {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(token.as_bytes());
        let want = hex::encode(mac.finalize().into_bytes());
        if q.get("appsecret_proof") != Some(&want) {
            return Err(Box::new(graph_error(
                400,
                100,
                None,
                "GraphMethodException",
                "Invalid appsecret_proof provided in the API argument",
            )));
        }
    }
    Ok(())
}

fn expired() -> Response {
    graph_error(
        400,
        190,
        Some(463),
        "OAuthException",
        "Error validating access token: Session has expired on Tuesday, 01-Dec-26 10:00:00 PST.",
    )
}

fn raw_of(version: &str, path: &str, q: &HashMap<String, String>) -> String {
    let mut s = format!("/{version}/{path}?");
    for (k, v) in q {
        s.push_str(&format!("{k}={v}&"));
    }
    s
}

async fn get_node(
    State(st): State<Shared>,
    Path((version, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut g = st.lock().unwrap_or_else(|e| e.into_inner());
    let raw = raw_of(&version, &id, &q);
    if let Err(r) = admit(&mut g, "GET", id.clone(), &q, &headers, b"", raw) {
        return *r;
    }
    let res = if id == "me" || id == g.page.0 {
        axum::Json(json!({"id": g.page.0, "name": g.page.1})).into_response()
    } else if let Some(c) = g.comments.iter().find(|c| c.id == id) {
        let mut v = g.comment_json(c);
        v["can_reply_privately"] = json!(!c.private_replied);
        axum::Json(v).into_response()
    } else {
        unknown_object(&id)
    };
    with_usage(&g, res)
}

fn unknown_object(id: &str) -> Response {
    graph_error(
        400,
        100,
        Some(33),
        "GraphMethodException",
        &format!(
            "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
        ),
    )
}

async fn get_edge(
    State(st): State<Shared>,
    Path((version, id, edge)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut g = st.lock().unwrap_or_else(|e| e.into_inner());
    let path = format!("{id}/{edge}");
    let raw = raw_of(&version, &path, &q);
    if let Err(r) = admit(&mut g, "GET", path, &q, &headers, b"", raw) {
        return *r;
    }
    let size = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .min(g.page_size);
    let after = q.get("after").map(String::as_str);
    let res = match edge.as_str() {
        "conversations" if id == g.page.0 => {
            let mut convs: Vec<&Conversation> = g
                .conversations
                .iter()
                .filter(|c| q.get("user_id").is_none_or(|u| u == &c.psid))
                .filter(|c| !c.messages.is_empty())
                .collect();
            let last = |c: &Conversation| {
                c.messages
                    .iter()
                    .map(|m| (m.created, m.seq))
                    .max()
                    .unwrap_or((0, 0))
            };
            convs.sort_by_key(|c| std::cmp::Reverse(last(c)));
            let items: Vec<Value> = convs
                .iter()
                .map(|c| {
                    json!({"id": c.id, "updated_time": graph_time(last(c).0),
                           "participants": {"data": [g.person(&(c.psid.clone(), c.name.clone())),
                                                     g.person(&g.page)]},
                           "messages": g.nested(g.conv_messages(c), &format!("{}/messages", c.id))})
                })
                .collect();
            let next = format!("{id}/conversations?platform=messenger");
            axum::Json(g.paged(items, size, after, &next)).into_response()
        }
        "messages" => match g.conversations.iter().find(|c| c.id == id) {
            Some(c) => {
                let items = g.conv_messages(c);
                axum::Json(g.paged(items, size, after, &format!("{id}/messages"))).into_response()
            }
            None => unknown_object(&id),
        },
        "feed" if id == g.page.0 => {
            let mut posts: Vec<&Post> = g.posts.iter().collect();
            posts.sort_by_key(|p| std::cmp::Reverse((p.created, p.seq)));
            let items: Vec<Value> = posts
                .iter()
                .map(|p| {
                    let comments = g.comments_of(&p.id, true).unwrap_or_default();
                    let updated = g
                        .comments
                        .iter()
                        .filter(|c| c.post == p.id)
                        .map(|c| c.created)
                        .max()
                        .unwrap_or(p.created)
                        .max(p.created);
                    let mut v = json!({"id": p.id, "created_time": graph_time(p.created),
                                       "updated_time": graph_time(updated), "message": p.text,
                                       "from": {"name": p.from.1, "id": p.from.0}});
                    if !comments.is_empty() {
                        v["comments"] = g.nested(
                            comments,
                            &format!(
                                "{}/comments?filter=stream&order=reverse_chronological",
                                p.id
                            ),
                        );
                    }
                    v
                })
                .collect();
            axum::Json(g.paged(items, size, after, &format!("{id}/feed"))).into_response()
        }
        "comments" => {
            let newest = q.get("order").map(String::as_str) == Some("reverse_chronological");
            match g.comments_of(&id, newest) {
                Some(items) => axum::Json(g.paged(items, size, after, &format!("{id}/comments")))
                    .into_response(),
                None => unknown_object(&id),
            }
        }
        _ => graph_error(
            400,
            100,
            None,
            "OAuthException",
            &format!("(#100) Tried accessing nonexisting field ({edge})"),
        ),
    };
    with_usage(&g, res)
}

async fn post_edge(
    State(st): State<Shared>,
    Path((version, id, edge)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (delay, res) = {
        let mut g = st.lock().unwrap_or_else(|e| e.into_inner());
        let path = format!("{id}/{edge}");
        let raw = raw_of(&version, &path, &q);
        if let Err(r) = admit(&mut g, "POST", path, &q, &headers, &body, raw) {
            return *r;
        }
        if let Some(d) = g.post_drops.pop_front() {
            (
                d,
                graph_error(
                    500,
                    2,
                    None,
                    "OAuthException",
                    "An unexpected error has occurred. Please retry your request later.",
                ),
            )
        } else {
            let delay = g.post_delays.pop_front().unwrap_or_default();
            let res = carry_out(&mut g, &id, &edge, &body);
            (delay, with_usage(&g, res))
        }
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    res
}

fn carry_out(g: &mut Graph, id: &str, edge: &str, body: &[u8]) -> Response {
    match edge {
        "comments" => {
            let form = url_decode_form(&String::from_utf8_lossy(body));
            let Some(text) = form.get("message").filter(|m| !m.is_empty()) else {
                return graph_error(
                    400,
                    100,
                    None,
                    "OAuthException",
                    "(#100) Missing message or attachment",
                );
            };
            let Some(c) = g.comments.iter().find(|c| c.id == id).cloned() else {
                return unknown_object(id);
            };
            let parent = c.parent.clone().unwrap_or_else(|| c.id.clone());
            let page = g.page.clone();
            let new = g.insert_comment(&c.post, Some(parent), (&page.0, &page.1), text, None);
            axum::Json(json!({ "id": new })).into_response()
        }
        "messages" if id == g.page.0 => {
            let Ok(v) = serde_json::from_slice::<Value>(body) else {
                return graph_error(400, 100, None, "OAuthException", "(#100) Invalid JSON");
            };
            let Some(text) = v["message"]["text"].as_str().filter(|t| !t.is_empty()) else {
                return graph_error(
                    400,
                    100,
                    None,
                    "OAuthException",
                    "(#100) Must send either message or sender action",
                );
            };
            let (psid, name) = if let Some(cid) = v["recipient"]["comment_id"].as_str() {
                let Some(c) = g.comments.iter_mut().find(|c| c.id == cid) else {
                    return unknown_object(cid);
                };
                if c.private_replied {
                    return graph_error(
                        400,
                        10900,
                        None,
                        "OAuthException",
                        "Activity already replied to",
                    );
                }
                c.private_replied = true;
                c.from.clone()
            } else if let Some(psid) = v["recipient"]["id"].as_str() {
                if v["messaging_type"].as_str().is_none() {
                    return graph_error(
                        400,
                        100,
                        None,
                        "OAuthException",
                        "(#100) The parameter messaging_type is required",
                    );
                }
                let Some(c) = g.conversations.iter().find(|c| c.psid == psid) else {
                    return graph_error(
                        400,
                        551,
                        Some(1545041),
                        "OAuthException",
                        "This person isn't available right now.",
                    );
                };
                (c.psid.clone(), c.name.clone())
            } else {
                return graph_error(
                    400,
                    100,
                    None,
                    "OAuthException",
                    "(#100) param recipient must be non-empty.",
                );
            };
            let mid = format!("m_Out{}xYz", g.next_seq());
            g.insert_message(&psid, &name, &mid, text, true);
            axum::Json(json!({"recipient_id": psid, "message_id": mid})).into_response()
        }
        _ => graph_error(
            400,
            100,
            None,
            "OAuthException",
            &format!("(#100) Unsupported post request ({id}/{edge})"),
        ),
    }
}
