//! A fake Graph API for one Facebook page, for the demo (a simplified
//! `tests/fakes/facebook.rs`): `GET /v21.0/{page}/conversations` (Messenger,
//! nested `messages`), `GET /{conversation}/messages`, `GET /{page}/feed`
//! (nested `comments`), `GET /{post-or-comment}/comments`,
//! `GET /{comment}` (`can_reply_privately`), `GET /me`,
//! `POST /{comment}/comments` (the page answers) and `POST /{page}/messages`
//! (Send API with `recipient.id` and `messaging_type`, or a private reply
//! with `recipient.comment_id`, once per comment). Graph paging
//! (`cursors`, `next`), times as `2026-11-23T10:00:00+0000`, errors as
//! `{"error": {"message", "type", "code", "fbtrace_id"}}`; the token in
//! `Authorization: Bearer`.

use super::script::{Person, Shape, answer_back, answer_delay};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The demo page's id and access token (fake).
pub const PAGE_ID: &str = "104729938512";
pub const TOKEN: &str = "demo-facebook-page-token-not-a-secret";
const PAGE_NAME: &str = "Nordia";
const PAGE_SIZE: usize = 25;

/// The page's own posts, which customers comment on.
const POSTS: &[&str] = &[
    "¡Llega el Black Friday a Nordia! Hasta un 30 % en el reloj Vela S y el altavoz Kora Mini.",
    "New in: the Orion 27 monitor. Tell us what you think!",
    "Esta semana renovamos la app. Contadnos qué tal os va 👇",
];

#[derive(Clone)]
struct Message {
    id: String,
    from: (String, String),
    to: (String, String),
    text: String,
    created: i64,
    seq: u64,
}

#[derive(Clone)]
struct Conversation {
    id: String,
    psid: String,
    name: String,
    messages: Vec<Message>,
}

#[derive(Clone)]
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

struct Post {
    id: String,
    text: String,
    created: i64,
    seq: u64,
}

struct Graph {
    base: String,
    conversations: Vec<Conversation>,
    posts: Vec<Post>,
    comments: Vec<Comment>,
    seq: u64,
    /// Customers by PSID / commenter id.
    people: HashMap<String, Person>,
    replies: u64,
}

pub struct Fake {
    inner: Mutex<Graph>,
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn graph_time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
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

fn page() -> (String, String) {
    (PAGE_ID.to_string(), PAGE_NAME.to_string())
}

fn psid_of(p: &Person) -> String {
    format!("{}", 6_000_000_000_000_000u64 + p.id)
}

fn form(body: &[u8]) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{}", String::from_utf8_lossy(body)))
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

impl Graph {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn insert_message(&mut self, psid: &str, name: &str, mid: &str, text: &str, from_page: bool) {
        let seq = self.next_seq();
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
            (page(), user)
        } else {
            (user, page())
        };
        self.conversations[conv].messages.push(Message {
            id: mid.to_string(),
            from,
            to,
            text: text.to_string(),
            created: now(),
            seq,
        });
    }

    fn insert_comment(
        &mut self,
        post: &str,
        parent: Option<String>,
        from: (String, String),
        text: &str,
    ) -> String {
        let seq = self.next_seq();
        let post_num = post.rsplit('_').next().unwrap_or(post).to_string();
        let id = format!("{post_num}_{}", 900_000 + seq);
        self.comments.push(Comment {
            id: id.clone(),
            post: post.to_string(),
            parent,
            from,
            text: text.to_string(),
            created: now(),
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
            v["parent"] = json!({"id": pc.id, "message": pc.text,
                                 "created_time": graph_time(pc.created),
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
            v["paging"] = paging;
        }
        v
    }
}

fn graph_error(
    status: u16,
    code: i64,
    subcode: Option<i64>,
    kind: &str,
    message: &str,
) -> Response {
    let mut e = json!({"message": message, "type": kind, "code": code,
                       "fbtrace_id": "AdEmOfAkEtRaCe"});
    if let Some(s) = subcode {
        e["error_subcode"] = json!(s);
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(json!({ "error": e })),
    )
        .into_response()
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

fn authorized(headers: &HeaderMap, q: &HashMap<String, String>) -> Result<(), Box<Response>> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("OAuth "))
        })
        .map(str::to_string)
        .or_else(|| q.get("access_token").cloned());
    if token.as_deref() == Some(TOKEN) {
        Ok(())
    } else {
        Err(Box::new(graph_error(
            400,
            190,
            None,
            "OAuthException",
            "Invalid OAuth access token - Cannot parse access token",
        )))
    }
}

/// What the customer may answer after one of our replies.
enum Back {
    Messenger(String),
    Comment {
        post: String,
        parent: String,
        who: String,
    },
}

impl Fake {
    pub fn new() -> Arc<Fake> {
        let t = now();
        let posts = POSTS
            .iter()
            .enumerate()
            .map(|(i, text)| Post {
                id: format!("{PAGE_ID}_{}", 880_000_000 + i as u64),
                text: text.to_string(),
                created: t - 3600 * (i as i64 + 1),
                seq: i as u64,
            })
            .collect();
        Arc::new(Fake {
            inner: Mutex::new(Graph {
                base: String::new(),
                conversations: vec![],
                posts,
                comments: vec![],
                seq: 100,
                people: HashMap::new(),
                replies: 0,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Graph> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The server's own address (for `paging.next`).
    pub fn set_base(&self, base: &str) {
        self.lock().base = base.to_string();
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/{version}/{id}", get(get_node))
            .route("/{version}/{id}/{edge}", get(get_edge).post(post_edge))
            .with_state(self)
    }

    /// A customer writes on Messenger or comments on one of our posts.
    pub fn push(&self, p: &Person, shape: Shape, text: &str) {
        let mut g = self.lock();
        let psid = psid_of(p);
        g.people.insert(psid.clone(), p.clone());
        match shape {
            Shape::Private => {
                let mid = format!("m_In{}aBc", g.seq + 1);
                g.insert_message(&psid, &p.name, &mid, text, false);
            }
            Shape::Mention | Shape::Brand => {
                let post = g.posts[(p.id % g.posts.len() as u64) as usize].id.clone();
                g.insert_comment(&post, None, (psid, p.name.clone()), text);
            }
        }
    }

    fn maybe_answer(self: &Arc<Self>, back: Back) {
        let who = match &back {
            Back::Messenger(psid) => psid.clone(),
            Back::Comment { who, .. } => who.clone(),
        };
        let (k, person) = {
            let mut g = self.lock();
            g.replies += 1;
            (g.replies, g.people.get(&who).cloned())
        };
        let (Some(delay), Some(p)) = (answer_delay(k), person) else {
            return;
        };
        let fake = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let text = answer_back(p.es, k);
            let mut g = fake.lock();
            match back {
                Back::Messenger(psid) => {
                    let mid = format!("m_In{}aBc", g.seq + 1);
                    g.insert_message(&psid, &p.name, &mid, text, false);
                }
                Back::Comment { post, parent, who } => {
                    g.insert_comment(&post, Some(parent), (who, p.name.clone()), text);
                }
            }
        });
    }
}

async fn get_node(
    State(fake): State<Arc<Fake>>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorized(&headers, &q) {
        return *r;
    }
    let g = fake.lock();
    if id == "me" || id == PAGE_ID {
        axum::Json(json!({"id": PAGE_ID, "name": PAGE_NAME})).into_response()
    } else if let Some(c) = g.comments.iter().find(|c| c.id == id) {
        let mut v = g.comment_json(c);
        v["can_reply_privately"] = json!(!c.private_replied);
        axum::Json(v).into_response()
    } else {
        unknown_object(&id)
    }
}

async fn get_edge(
    State(fake): State<Arc<Fake>>,
    Path((_version, id, edge)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorized(&headers, &q) {
        return *r;
    }
    let g = fake.lock();
    let size = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(PAGE_SIZE)
        .clamp(1, PAGE_SIZE);
    let after = q.get("after").map(String::as_str);
    match edge.as_str() {
        "conversations" if id == PAGE_ID => {
            let last = |c: &Conversation| {
                c.messages
                    .iter()
                    .map(|m| (m.created, m.seq))
                    .max()
                    .unwrap_or((0, 0))
            };
            let mut convs: Vec<&Conversation> = g
                .conversations
                .iter()
                .filter(|c| q.get("user_id").is_none_or(|u| u == &c.psid))
                .filter(|c| !c.messages.is_empty())
                .collect();
            convs.sort_by_key(|c| std::cmp::Reverse(last(c)));
            let items: Vec<Value> = convs
                .iter()
                .map(|c| {
                    let messages = g.paged(
                        g.conv_messages(c),
                        PAGE_SIZE,
                        None,
                        &format!("{}/messages", c.id),
                    );
                    json!({"id": c.id, "updated_time": graph_time(last(c).0),
                           "participants": {"data": [g.person(&(c.psid.clone(), c.name.clone())),
                                                     g.person(&page())]},
                           "messages": messages})
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
        "feed" if id == PAGE_ID => {
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
                                       "from": {"name": PAGE_NAME, "id": PAGE_ID}});
                    if !comments.is_empty() {
                        v["comments"] = g.paged(
                            comments,
                            PAGE_SIZE,
                            None,
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
    }
}

async fn post_edge(
    State(fake): State<Arc<Fake>>,
    Path((_version, id, edge)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorized(&headers, &q) {
        return *r;
    }
    let (res, back) = {
        let mut g = fake.lock();
        carry_out(&mut g, &id, &edge, &body)
    };
    if let Some(b) = back {
        fake.maybe_answer(b);
    }
    res
}

fn carry_out(g: &mut Graph, id: &str, edge: &str, body: &[u8]) -> (Response, Option<Back>) {
    let fail = |r: Response| (r, None);
    match edge {
        "comments" => {
            let mut f = form(body);
            if f.is_empty()
                && let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body)
            {
                f = o
                    .into_iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                    .collect();
            }
            let Some(text) = f.get("message").filter(|m| !m.is_empty()) else {
                return fail(graph_error(
                    400,
                    100,
                    None,
                    "OAuthException",
                    "(#100) Missing message or attachment",
                ));
            };
            let Some(c) = g.comments.iter().find(|c| c.id == id).cloned() else {
                return fail(unknown_object(id));
            };
            let parent = c.parent.clone().unwrap_or_else(|| c.id.clone());
            let new = g.insert_comment(&c.post, Some(parent.clone()), page(), text);
            let back = (c.from.0 != PAGE_ID).then(|| Back::Comment {
                post: c.post.clone(),
                parent,
                who: c.from.0.clone(),
            });
            (axum::Json(json!({ "id": new })).into_response(), back)
        }
        "messages" if id == PAGE_ID => {
            let Ok(v) = serde_json::from_slice::<Value>(body) else {
                return fail(graph_error(
                    400,
                    100,
                    None,
                    "OAuthException",
                    "(#100) Invalid JSON",
                ));
            };
            let Some(text) = v["message"]["text"].as_str().filter(|t| !t.is_empty()) else {
                return fail(graph_error(
                    400,
                    100,
                    None,
                    "OAuthException",
                    "(#100) Must send either message or sender action",
                ));
            };
            let (psid, name) = if let Some(cid) = v["recipient"]["comment_id"].as_str() {
                let Some(c) = g.comments.iter_mut().find(|c| c.id == cid) else {
                    return fail(unknown_object(cid));
                };
                if c.private_replied {
                    return fail(graph_error(
                        400,
                        10900,
                        None,
                        "OAuthException",
                        "Activity already replied to",
                    ));
                }
                c.private_replied = true;
                c.from.clone()
            } else if let Some(psid) = v["recipient"]["id"].as_str() {
                if v["messaging_type"].as_str().is_none() {
                    return fail(graph_error(
                        400,
                        100,
                        None,
                        "OAuthException",
                        "(#100) The parameter messaging_type is required",
                    ));
                }
                let Some(c) = g.conversations.iter().find(|c| c.psid == psid) else {
                    return fail(graph_error(
                        400,
                        551,
                        Some(1_545_041),
                        "OAuthException",
                        "This person isn't available right now.",
                    ));
                };
                (c.psid.clone(), c.name.clone())
            } else {
                return fail(graph_error(
                    400,
                    100,
                    None,
                    "OAuthException",
                    "(#100) param recipient must be non-empty.",
                ));
            };
            let mid = format!("m_Out{}xYz", g.next_seq());
            g.insert_message(&psid, &name, &mid, text, true);
            (
                axum::Json(json!({"recipient_id": psid, "message_id": mid})).into_response(),
                Some(Back::Messenger(psid)),
            )
        }
        _ => fail(graph_error(
            400,
            100,
            None,
            "OAuthException",
            &format!("(#100) Unsupported post request ({id}/{edge})"),
        )),
    }
}
