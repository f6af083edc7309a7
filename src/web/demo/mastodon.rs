//! A fake Mastodon instance for the demo (a simplified
//! `tests/fakes/mastodon.rs`): `Authorization: Bearer`, `X-RateLimit-*`
//! headers, `GET /api/v1/notifications` with `types[]`, `limit`, `max_id`,
//! `since_id`, `min_id` and the `Link` header as Mastodon pages it,
//! `POST /api/v1/statuses` (form or JSON, `in_reply_to_id`, `visibility`,
//! `Idempotency-Key`) and `GET /api/v1/accounts/verify_credentials`.

use super::OUR_HANDLE;
use super::script::{Person, Shape, answer_back, answer_delay};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The demo's access token (fake).
pub const TOKEN: &str = "demo-mastodon-token-not-a-secret";
const RATE_LIMIT: u64 = 300;
const INSTANCES: [&str; 4] = [
    "mastodon.example",
    "social.example.org",
    "toot.example",
    "fedi.example.com",
];

#[derive(Default)]
struct Inner {
    base: String,
    next_notification: u64,
    next_status: u64,
    /// (id, notification JSON), ascending ids.
    notifications: Vec<(u64, Value)>,
    statuses: HashMap<String, Value>,
    idempotency: HashMap<String, String>,
    /// Customers by `acct`.
    people: HashMap<String, Person>,
    replies: u64,
}

pub struct Fake {
    inner: Mutex<Inner>,
}

fn iso(t: SystemTime) -> String {
    let ts = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn pairs(q: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{q}"))
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn acct_of(p: &Person) -> String {
    format!(
        "{}@{}",
        p.handle,
        INSTANCES[(p.id % INSTANCES.len() as u64) as usize]
    )
}

impl Inner {
    fn account(&self, acct: &str, display_name: &str, followers: u64, id: u64) -> Value {
        let (user, url) = match acct.split_once('@') {
            Some((u, d)) => (u.to_string(), format!("https://{d}/@{u}")),
            None => (acct.to_string(), format!("{}/@{acct}", self.base)),
        };
        json!({
            "id": id.to_string(), "username": user, "acct": acct,
            "display_name": display_name, "locked": false, "bot": false,
            "discoverable": true, "group": false,
            "created_at": "2022-11-08T00:00:00.000Z",
            "note": "", "url": url, "uri": url.replace("/@", "/users/"),
            "avatar": "", "avatar_static": "", "header": "", "header_static": "",
            "followers_count": followers, "following_count": 180,
            "statuses_count": 420, "emojis": [], "fields": []
        })
    }

    fn our_account(&self) -> Value {
        self.account(OUR_HANDLE, "Nordia", 5300, 1)
    }

    /// A status by a customer mentioning us, and its notification.
    fn add_mention(&mut self, p: &Person, html: String, visibility: &str, reply_to: Option<&str>) {
        let acct = acct_of(p);
        self.people.insert(acct.clone(), p.clone());
        let sid = self.next_status.to_string();
        self.next_status += 1;
        let account = self.account(&acct, &p.name, p.followers, p.id);
        let (user, domain) = acct.split_once('@').unwrap_or((&acct, "mastodon.example"));
        let url = format!("https://{domain}/@{user}/{sid}");
        let now = iso(SystemTime::now());
        let status = json!({
            "id": sid, "created_at": now,
            "in_reply_to_id": reply_to,
            "in_reply_to_account_id": reply_to.map(|_| "1"),
            "sensitive": false, "spoiler_text": "", "visibility": visibility,
            "language": if p.es { "es" } else { "en" },
            "uri": format!("https://{domain}/users/{user}/statuses/{sid}"), "url": url,
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
            "content": html, "reblog": null, "application": null, "account": account,
            "media_attachments": [],
            "mentions": [{"id": "1", "username": OUR_HANDLE, "acct": OUR_HANDLE,
                          "url": format!("{}/@{OUR_HANDLE}", self.base)}],
            "tags": [], "emojis": [], "card": null, "poll": null
        });
        self.statuses.insert(sid.clone(), status.clone());
        let nid = self.next_notification;
        self.next_notification += 1;
        self.notifications.push((
            nid,
            json!({"id": nid.to_string(), "type": "mention", "created_at": now,
                   "account": account, "status": status}),
        ));
    }

    /// The notifications page for these parameters, newest first, with
    /// its `Link` header (as Mastodon pages it).
    fn page(&self, q: &[(String, String)]) -> (Vec<Value>, Option<String>) {
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let types: Vec<String> = q
            .iter()
            .filter(|(n, _)| n == "types[]")
            .map(|(_, v)| v.clone())
            .collect();
        let limit = get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(40)
            .clamp(1, 80);
        let num = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok());
        let (max_id, since_id, min_id) = (num("max_id"), num("since_id"), num("min_id"));
        let visible = self.notifications.iter().filter(|(id, n)| {
            let kind = n["type"].as_str().unwrap_or("");
            (types.is_empty() || types.iter().any(|t| t == kind)) && max_id.is_none_or(|m| *id < m)
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
                    let mut kv: Vec<(String, String)> = Vec::new();
                    if let Some(l) = get("limit") {
                        kv.push(("limit".into(), l.to_string()));
                    }
                    for t in &types {
                        kv.push(("types[]".into(), t.clone()));
                    }
                    kv.push((extra.0.to_string(), extra.1));
                    kv.sort_by(|a, b| a.0.cmp(&b.0));
                    let query: Vec<String> = kv
                        .iter()
                        .map(|(k, v)| {
                            format!("{}={}", crate::web::urlencode(k), crate::web::urlencode(v))
                        })
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

    /// `POST /api/v1/statuses`: (status, answer, customer to answer back).
    fn post_status(
        &mut self,
        key: Option<&str>,
        params: &[(String, String)],
    ) -> (u16, Value, Option<(String, String, String)>) {
        if let Some(id) = key.and_then(|k| self.idempotency.get(k)) {
            return (200, self.statuses[id].clone(), None);
        }
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let text = get("status").unwrap_or_default();
        if text.trim().is_empty() {
            return (
                422,
                json!({"error": "Validation failed: Text can't be blank"}),
                None,
            );
        }
        if text.chars().count() > 500 {
            return (
                422,
                json!({"error": "Validation failed: Text character limit of 500 exceeded"}),
                None,
            );
        }
        let visibility = get("visibility").unwrap_or_else(|| "public".into());
        if !["public", "unlisted", "private", "direct"].contains(&visibility.as_str()) {
            return (
                422,
                json!({"error": "Validation failed: Visibility is not included in the list"}),
                None,
            );
        }
        let in_reply_to = get("in_reply_to_id").filter(|s| !s.is_empty());
        let customer = match &in_reply_to {
            Some(r) => match self.statuses.get(r) {
                Some(s) => s["account"]["acct"].as_str().map(str::to_string),
                None => return (404, json!({"error": "Record not found"}), None),
            },
            None => None,
        };
        let id = self.next_status.to_string();
        self.next_status += 1;
        let status = json!({
            "id": id, "created_at": iso(SystemTime::now()),
            "in_reply_to_id": in_reply_to,
            "sensitive": false, "spoiler_text": "", "visibility": visibility,
            "language": "es",
            "uri": format!("{}/users/{OUR_HANDLE}/statuses/{id}", self.base),
            "url": format!("{}/@{OUR_HANDLE}/{id}", self.base),
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
            "content": format!("<p>{}</p>", escape(&text)),
            "account": self.our_account(),
            "media_attachments": [], "mentions": [], "tags": [], "emojis": []
        });
        self.statuses.insert(id.clone(), status.clone());
        if let Some(k) = key {
            self.idempotency.insert(k.to_string(), id.clone());
        }
        (200, status, customer.map(|c| (c, id, visibility)))
    }
}

fn mention_html(base: &str, text: &str) -> String {
    format!(
        "<p><span class=\"h-card\" translate=\"no\"><a href=\"{base}/@{OUR_HANDLE}\" \
         class=\"u-url mention\">@<span>{OUR_HANDLE}</span></a></span> {}</p>",
        escape(text)
    )
}

impl Fake {
    pub fn new() -> Arc<Fake> {
        Arc::new(Fake {
            inner: Mutex::new(Inner {
                next_notification: 1,
                next_status: 113_500_000_000_000_001,
                ..Inner::default()
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The instance's own address (links in `Link` headers and accounts).
    pub fn set_base(&self, base: &str) {
        self.lock().base = base.to_string();
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new().fallback(handle).with_state(self)
    }

    /// A customer mentions us, publicly or in a direct status.
    pub fn push(&self, p: &Person, shape: Shape, text: &str) {
        let mut s = self.lock();
        let html = mention_html(&s.base, text);
        let visibility = if shape == Shape::Private {
            "direct"
        } else {
            "public"
        };
        s.add_mention(p, html, visibility, None);
    }

    /// Now and then the customer answers our status.
    fn maybe_answer(self: &Arc<Self>, acct: String, our_status: String, visibility: String) {
        let (k, person) = {
            let mut s = self.lock();
            s.replies += 1;
            (s.replies, s.people.get(&acct).cloned())
        };
        let (Some(delay), Some(p)) = (answer_delay(k), person) else {
            return;
        };
        let fake = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut s = fake.lock();
            let html = mention_html(&s.base, answer_back(p.es, k));
            let visibility = if visibility == "direct" {
                "direct"
            } else {
                "public"
            };
            s.add_mention(&p, html, visibility, Some(&our_status));
        });
    }
}

fn json_answer(status: u16, body: Value) -> Response {
    let mut res = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response();
    let h = res.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(RATE_LIMIT));
    h.insert("x-ratelimit-remaining", HeaderValue::from(RATE_LIMIT - 1));
    if let Ok(v) = HeaderValue::from_str(&iso(SystemTime::now() + Duration::from_secs(300))) {
        h.insert("x-ratelimit-reset", v);
    }
    res
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {TOKEN}") {
        return json_answer(401, json!({"error": "The access token is invalid"}));
    }
    let query = pairs(uri.query().unwrap_or(""));
    match (method.as_str(), uri.path()) {
        ("GET", "/api/v1/notifications") => {
            let (page, link) = fake.lock().page(&query);
            let mut res = json_answer(200, Value::Array(page));
            if let Some(l) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
                res.headers_mut().insert("link", l);
            }
            res
        }
        ("POST", "/api/v1/statuses") => {
            let key = headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let is_json = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.starts_with("application/json"));
            let params: Vec<(String, String)> = if is_json {
                match serde_json::from_slice::<Value>(&body) {
                    Ok(Value::Object(m)) => m
                        .into_iter()
                        .map(|(k, v)| match v {
                            Value::String(s) => (k, s),
                            other => (k, other.to_string()),
                        })
                        .collect(),
                    _ => Vec::new(),
                }
            } else {
                pairs(&String::from_utf8_lossy(&body))
            };
            let (status, answer, customer) = fake.lock().post_status(key.as_deref(), &params);
            if let Some((acct, id, visibility)) = customer {
                fake.maybe_answer(acct, id, visibility);
            }
            json_answer(status, answer)
        }
        ("GET", "/api/v1/accounts/verify_credentials") => {
            let a = fake.lock().our_account();
            json_answer(200, a)
        }
        _ => json_answer(404, json!({"error": "Record not found"})),
    }
}
