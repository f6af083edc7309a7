//! The Facebook page connector (Graph API `v21.0`): Messenger conversations
//! and comments on the page's posts, by polling and by webhook; replies as a
//! public comment, a private reply to a comment, or a Messenger message.
//!
//! **Threads.** A Messenger conversation is `messenger:{PSID}` (the
//! customer's page-scoped id): the webhook only names the sender, not the
//! Graph conversation id, so keying on the PSID lets a message that arrives
//! by webhook and by poll land in the same conversation (and be stored once:
//! the external id is the message id `m_…` on both paths). Comments are
//! threaded per post *and* author, `post:{post id}:{author id}`: every
//! customer commenting on one post gets their own conversation, and a public
//! reply goes under that customer's latest comment (`in_reply_to`).
//!
//! **Cursor** (JSON, saved with the items): per source (`m` Messenger, `c`
//! comments) the newest time seen and the ids seen in the last two minutes
//! before it (an item up to two minutes older than the mark that was not
//! seen yet is still taken: Graph indexes late now and then), which source
//! the next call fetches, and an in-progress page scan (`after` cursor and
//! the mark it will commit). A new channel starts a week back; posts created
//! more than 30 days before the comments mark are not scanned again. One
//! call fetches one page; `more` asks the worker to go on at once until both
//! sources are scanned.
//!
//! **Errors.** Graph error codes 4, 17, 32, 613, 80001–80014 and HTTP 429 are
//! throttling (wait `estimated_time_to_regain_access` minutes of
//! `X-Business-Use-Case-Usage` / `X-Page-Usage` / `X-App-Usage`, else
//! `Retry-After`, else five minutes); a usage header at 95 % or more makes
//! a successful poll wait too. Code 190 (and 102) is an expired or invalid
//! token; 10 and 200–299 are missing permissions; 5xx and codes 1/2 are
//! transient.
//!
//! **Sending** has no idempotency key on Graph. After a timeout or a 5xx the
//! reply is looked for (the comment's replies by the page with exactly this
//! text; the Messenger conversation's recent messages by the page since the
//! customer last wrote) and reported as posted if found; if not found, the
//! attempt is retried and the next attempt looks again first; if the check
//! itself fails the delivery is reported as unknown (not retried).
//!
//! The page access token travels in the `Authorization` header (never in a
//! URL, so never in a logged error), with `appsecret_proof` when
//! `app_secret` is configured.

use super::{
    ConnError, Connector, OutgoingSocial, Polled, SocialItem, WebhookError, WebhookOutcome,
    http_client, send_result,
};
use crate::channels::SendResult;
use crate::config::FacebookChannel;
use crate::domain::{ChannelKind, Delivery, Ts};
use crate::ingest::{AuthorProfile, InboundMessage};
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Whether this version connects the network (false: reported as pending).
pub const CONNECTED: bool = true;

/// The Graph API version every path is prefixed with.
pub const GRAPH_VERSION: &str = "v21.0";

/// How long one Graph call may take.
const TIMEOUT: Duration = Duration::from_secs(20);
/// Throttled without a usage header saying for how long.
const DEFAULT_THROTTLE: Duration = Duration::from_secs(300);
/// Items this much older than a mark are still taken if not seen yet.
const OVERLAP_MS: i64 = 120_000;
/// At most this many ids remembered per source.
const MAX_SEEN: usize = 2000;
/// Pages of one source per round (the rest waits for the next round).
const MAX_PAGES: u32 = 20;
/// Pages of one nested edge (a conversation's messages, a post's comments).
const NESTED_PAGES: u32 = 20;
/// Posts created this long before the comments mark are not looked at again.
const FEED_LOOKBACK_MS: i64 = 30 * 24 * 3_600_000;
/// A newly connected page brings the last week, not its whole history.
const BACKFILL_MS: i64 = 7 * 24 * 3_600_000;
/// A usage header at this percentage slows polling down.
const USAGE_HIGH: f64 = 95.0;

const CONVERSATION_FIELDS: &str =
    "id,updated_time,participants,messages.limit(25){id,message,from,to,created_time}";
const MESSAGE_FIELDS: &str = "id,message,from,to,created_time";
const FEED_FIELDS: &str = "id,created_time,updated_time,message,from,\
    comments.filter(stream).order(reverse_chronological).limit(50)\
    {id,message,from,created_time,parent}";
const COMMENT_FIELDS: &str = "id,message,from,created_time,parent";

type HmacSha256 = Hmac<Sha256>;

/// The connector for one configured channel.
pub fn connector(cfg: &FacebookChannel) -> Option<Arc<dyn Connector>> {
    Facebook::new(cfg, TIMEOUT).map(|f| Arc::new(f) as Arc<dyn Connector>)
}

/// One Facebook page.
pub struct Facebook {
    name: String,
    page_id: String,
    token: String,
    app_secret: Option<String>,
    verify_token: Option<String>,
    base: String,
    idle: Duration,
    client: reqwest::Client,
    /// Idempotency keys whose last attempt may have been posted: the next
    /// attempt looks for the reply before posting again.
    uncertain: Mutex<HashSet<String>>,
}

impl Facebook {
    /// `None` (with a warning) without a page access token.
    pub fn new(cfg: &FacebookChannel, timeout: Duration) -> Option<Facebook> {
        let Some(token) = cfg
            .page_access_token
            .as_ref()
            .map(|s| s.expose().trim().to_string())
            .filter(|s| !s.is_empty())
        else {
            tracing::warn!(channel = %cfg.name, "facebook channel without page_access_token: not connected");
            return None;
        };
        let secret = |s: &Option<crate::config::Secret>| {
            s.as_ref()
                .map(|s| s.expose().to_string())
                .filter(|s| !s.is_empty())
        };
        Some(Facebook {
            name: cfg.name.clone(),
            page_id: cfg.page_id.trim().to_string(),
            token,
            app_secret: secret(&cfg.app_secret),
            verify_token: secret(&cfg.verify_token),
            base: cfg.base_url.trim_end_matches('/').to_string(),
            idle: cfg.poll_interval.0,
            client: http_client(timeout),
            uncertain: Mutex::new(HashSet::new()),
        })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{GRAPH_VERSION}/{}",
            self.base,
            path.trim_start_matches('/')
        )
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(secret) = &self.app_secret {
            rb = rb.query(&[("appsecret_proof", appsecret_proof(secret, &self.token))]);
        }
        rb
    }

    /// A GET; a Graph error is classified.
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<(Value, Usage), ConnError> {
        let res = self
            .request(reqwest::Method::GET, path)
            .query(query)
            .send()
            .await
            .map_err(|e| ConnError::Transient(format!("facebook: {}", e.without_url())))?;
        let status = res.status().as_u16();
        let usage = Usage::from_headers(res.headers());
        let body = res
            .text()
            .await
            .map_err(|e| ConnError::Transient(format!("facebook: {}", e.without_url())))?;
        if !(200..300).contains(&status) {
            return Err(classify(&GraphError::parse(status, &body, usage.wait())));
        }
        let v = serde_json::from_str(&body)
            .map_err(|e| ConnError::Transient(format!("facebook: the answer is not JSON ({e})")))?;
        Ok((v, usage))
    }

    /// A POST that creates something; the id of what was created.
    async fn post(
        &self,
        path: &str,
        body: PostBody<'_>,
        timeout: Option<Duration>,
    ) -> Result<Option<String>, PostError> {
        let mut rb = self.request(reqwest::Method::POST, path);
        if let Some(t) = timeout {
            rb = rb.timeout(t);
        }
        let rb = match body {
            PostBody::Form(f) => rb.form(f),
            PostBody::Json(j) => rb.json(j),
        };
        let res = match rb.send().await {
            Ok(r) => r,
            // Never reached Facebook: safe to retry.
            Err(e) if e.is_connect() || e.is_builder() => {
                return Err(PostError::NotSent(ConnError::Transient(format!(
                    "facebook: {}",
                    e.without_url()
                ))));
            }
            Err(e) => return Err(PostError::Unknown(format!("{}", e.without_url()))),
        };
        let status = res.status().as_u16();
        let usage = Usage::from_headers(res.headers());
        let body = match res.text().await {
            Ok(b) => b,
            Err(e) => return Err(PostError::Unknown(format!("{}", e.without_url()))),
        };
        if (200..300).contains(&status) {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            return Ok(str_of(&v["message_id"]).or_else(|| str_of(&v["id"])));
        }
        let err = GraphError::parse(status, &body, usage.wait());
        if status >= 500 && !err.is_throttle() {
            return Err(PostError::Unknown(err.to_string()));
        }
        Err(PostError::Graph(err))
    }

    async fn poll_inner(&self, cursor: Option<&str>) -> Result<Polled, ConnError> {
        let mut cur: Cursor = match cursor.and_then(|c| serde_json::from_str(c).ok()) {
            Some(c) => c,
            None => Cursor::starting_at(Ts::from_jiff(jiff::Timestamp::now()).0 - BACKFILL_MS),
        };
        let src = cur.next;
        let mark = cur.mark(src).clone();
        let scan = cur.scan.take();
        let (after, pages, mut high) = match scan {
            Some(s) => (Some(s.after), s.pages, s.high),
            None => (None, 0, mark.clone()),
        };
        let fetched = match src {
            Source::Messenger => self.messenger_page(&mark, after.as_deref()).await,
            Source::Feed => self.feed_page(&mark, after.as_deref()).await,
        };
        let page = match fetched {
            Ok(p) => p,
            // An expired paging cursor: start the source over (the store
            // drops what it already has).
            Err(ConnError::Invalid(e)) if after.is_some() => {
                tracing::warn!(channel = %self.name, error = %e, "facebook paging cursor refused; rescanning");
                return Ok(Polled {
                    cursor: Some(cur.to_json()),
                    more: true,
                    ..Polled::default()
                });
            }
            Err(e) => return Err(e),
        };
        // Graph lists newest first, in whole seconds: oldest first, and
        // the same second in the order written.
        let mut found = page.items;
        found.reverse();
        found.sort_by_key(|(_, t)| *t);
        for (item, t) in &found {
            high.note(&item.msg.external_id, *t);
        }
        let more = match page.after {
            Some(a) if !page.stop && pages + 1 < MAX_PAGES => {
                cur.scan = Some(Scan {
                    after: a,
                    pages: pages + 1,
                    high,
                });
                true
            }
            _ => {
                *cur.mark_mut(src) = high;
                cur.next = src.other();
                // The comments follow the messages at once; then rest.
                src == Source::Messenger
            }
        };
        Ok(Polled {
            items: found.into_iter().map(|(i, _)| i).collect(),
            cursor: Some(cur.to_json()),
            more,
            wait: page.usage.slow_down(),
            statuses: vec![],
        })
    }

    /// One page of Messenger conversations (newest activity first).
    async fn messenger_page(&self, mark: &Mark, after: Option<&str>) -> Result<Page, ConnError> {
        let path = format!("{}/conversations", self.page_id);
        let mut q = vec![
            ("platform", "messenger"),
            ("fields", CONVERSATION_FIELDS),
            ("limit", "25"),
        ];
        if let Some(a) = after {
            q.push(("after", a));
        }
        let (v, usage) = self.get(&path, &q).await?;
        let mut page = Page {
            after: next_after(&v),
            usage,
            ..Page::default()
        };
        for conv in arr(&v["data"]) {
            let updated = graph_time(&conv["updated_time"]).map(|t| t.0);
            if updated.is_some_and(|u| u < mark.floor()) {
                // Sorted by activity: nothing newer further down.
                page.stop = true;
                break;
            }
            let mut msgs: Vec<Value> = arr(&conv["messages"]["data"]).to_vec();
            let mut next = nested_next(&conv["messages"], &msgs, mark);
            let conv_id = str_of(&conv["id"]).unwrap_or_default();
            let mut n = 0;
            while let Some(a) = next.take()
                && n < NESTED_PAGES
                && !conv_id.is_empty()
            {
                n += 1;
                let (more, u) = self
                    .get(
                        &format!("{conv_id}/messages"),
                        &[("fields", MESSAGE_FIELDS), ("limit", "25"), ("after", &a)],
                    )
                    .await?;
                page.usage = page.usage.max(u);
                let got = arr(&more["data"]).to_vec();
                next = nested_next(&more, &got, mark);
                msgs.extend(got);
            }
            for m in &msgs {
                if let Some((item, t)) = message_item(&self.name, &self.page_id, m)
                    && mark.is_new(&item.msg.external_id, t)
                {
                    page.items.push((item, t));
                }
            }
        }
        Ok(page)
    }

    /// One page of the page's feed with the comments on each post.
    async fn feed_page(&self, mark: &Mark, after: Option<&str>) -> Result<Page, ConnError> {
        let path = format!("{}/feed", self.page_id);
        let mut q = vec![("fields", FEED_FIELDS), ("limit", "25")];
        if let Some(a) = after {
            q.push(("after", a));
        }
        let (v, usage) = self.get(&path, &q).await?;
        let mut page = Page {
            after: next_after(&v),
            usage,
            ..Page::default()
        };
        for post in arr(&v["data"]) {
            let Some(post_id) = str_of(&post["id"]) else {
                continue;
            };
            let created = graph_time(&post["created_time"]).map(|t| t.0);
            if created.is_some_and(|c| c < mark.t - FEED_LOOKBACK_MS) {
                // Sorted by creation: only older posts further down.
                page.stop = true;
                break;
            }
            // A visitor's post on the page is a mention too.
            if let Some((item, t)) = comment_item(&self.name, &self.page_id, &post_id, post)
                && mark.is_new(&item.msg.external_id, t)
            {
                page.items.push((item, t));
            }
            let updated = graph_time(&post["updated_time"]).map(|t| t.0);
            if updated.is_some_and(|u| u < mark.floor()) {
                continue;
            }
            let mut comments: Vec<Value> = arr(&post["comments"]["data"]).to_vec();
            let mut next = nested_next(&post["comments"], &comments, mark);
            let mut n = 0;
            while let Some(a) = next.take()
                && n < NESTED_PAGES
            {
                n += 1;
                let (more, u) = self
                    .get(
                        &format!("{post_id}/comments"),
                        &[
                            ("filter", "stream"),
                            ("order", "reverse_chronological"),
                            ("fields", COMMENT_FIELDS),
                            ("limit", "50"),
                            ("after", &a),
                        ],
                    )
                    .await?;
                page.usage = page.usage.max(u);
                let got = arr(&more["data"]).to_vec();
                next = nested_next(&more, &got, mark);
                comments.extend(got);
            }
            for c in &comments {
                if let Some((item, t)) = comment_item(&self.name, &self.page_id, &post_id, c)
                    && mark.is_new(&item.msg.external_id, t)
                {
                    page.items.push((item, t));
                }
            }
        }
        Ok(page)
    }

    fn target(&self, out: &OutgoingSocial) -> Result<Target, String> {
        if let Some(psid) = out.thread.strip_prefix("messenger:") {
            let psid = out
                .recipient
                .clone()
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| psid.to_string());
            return Ok(Target::Messenger(psid));
        }
        let comment = out
            .in_reply_to
            .clone()
            .or_else(|| out.recipient.clone())
            .filter(|c| !c.is_empty())
            .ok_or_else(|| "no Facebook comment to answer in this conversation".to_string())?;
        Ok(if out.private {
            Target::PrivateReply(comment)
        } else {
            Target::Comment(comment)
        })
    }

    async fn send_inner(&self, out: &OutgoingSocial) -> SendResult {
        let target = match self.target(out) {
            Ok(t) => t,
            Err(e) => return SendResult::Permanent(e),
        };
        let key = out.idempotency_key.clone();
        // An earlier attempt may have reached Facebook: in this process
        // (remembered) or before a restart (the outbox's attempt count).
        let was_uncertain =
            out.attempt > 1 || self.uncertain.lock().is_ok_and(|u| u.contains(&key));
        if was_uncertain {
            match self.find_posted(&target, out).await {
                Ok(Some(id)) => {
                    self.forget(&key);
                    return SendResult::Posted(id);
                }
                Ok(None) => {}
                Err(e) => {
                    return SendResult::Retry {
                        error: format!(
                            "an earlier attempt may have been posted and checking failed: {e}"
                        ),
                        after: None,
                    };
                }
            }
        }
        let page_messages = format!("{}/messages", self.page_id);
        let result = match &target {
            Target::Comment(c) => {
                let form = [("message", out.text.as_str())];
                self.post(&format!("{c}/comments"), PostBody::Form(&form), out.timeout)
                    .await
            }
            Target::PrivateReply(c) => {
                let body = json!({"recipient": {"comment_id": c}, "message": {"text": out.text}});
                self.post(&page_messages, PostBody::Json(&body), out.timeout)
                    .await
            }
            Target::Messenger(psid) => {
                let body = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE",
                                  "message": {"text": out.text}});
                self.post(&page_messages, PostBody::Json(&body), out.timeout)
                    .await
            }
        };
        match result {
            Ok(id) => {
                self.forget(&key);
                match id {
                    Some(id) => SendResult::Posted(id),
                    None => SendResult::Sent,
                }
            }
            Err(PostError::NotSent(e)) => send_result(e),
            Err(PostError::Graph(e)) => send_error(&e),
            Err(PostError::Unknown(why)) => match self.find_posted(&target, out).await {
                Ok(Some(id)) => {
                    self.forget(&key);
                    SendResult::Posted(id)
                }
                Ok(None) => {
                    if let Ok(mut u) = self.uncertain.lock() {
                        u.insert(key);
                    }
                    SendResult::Retry {
                        error: format!(
                            "facebook: {why}; the reply is not on Facebook, it will be sent again"
                        ),
                        after: None,
                    }
                }
                Err(e) => SendResult::Unknown(format!(
                    "delivery unknown: {why}; looking for the reply failed too ({e}); \
                     check on Facebook before sending again"
                )),
            },
        }
    }

    fn forget(&self, key: &str) {
        if let Ok(mut u) = self.uncertain.lock() {
            u.remove(key);
        }
    }

    /// Whether this reply is already on Facebook (its id if so).
    async fn find_posted(
        &self,
        target: &Target,
        out: &OutgoingSocial,
    ) -> Result<Option<String>, ConnError> {
        let text = out.text.trim();
        match target {
            Target::Comment(c) => {
                let (v, _) = self
                    .get(
                        &format!("{c}/comments"),
                        &[
                            ("fields", "id,message,from,created_time"),
                            ("order", "reverse_chronological"),
                            ("limit", "100"),
                        ],
                    )
                    .await?;
                Ok(arr(&v["data"])
                    .iter()
                    .find(|r| {
                        str_of(&r["from"]["id"]).as_deref() == Some(self.page_id.as_str())
                            && r["message"].as_str().map(str::trim) == Some(text)
                    })
                    .and_then(|r| str_of(&r["id"])))
            }
            Target::Messenger(psid) => {
                let (v, _) = self
                    .get(
                        &format!("{}/conversations", self.page_id),
                        &[
                            ("platform", "messenger"),
                            ("user_id", psid),
                            (
                                "fields",
                                "id,messages.limit(25){id,message,from,created_time}",
                            ),
                        ],
                    )
                    .await?;
                // Only ours since the customer last wrote (a repeated
                // "thanks" from an older exchange is not this reply).
                let since = out.last_inbound_at.map(|t| t.0 - t.0.rem_euclid(1000));
                Ok(arr(&v["data"])
                    .iter()
                    .flat_map(|c| arr(&c["messages"]["data"]).iter())
                    .find(|m| {
                        str_of(&m["from"]["id"]).as_deref() == Some(self.page_id.as_str())
                            && m["message"].as_str().map(str::trim) == Some(text)
                            && match (since, graph_time(&m["created_time"])) {
                                (Some(s), Some(t)) => t.0 >= s,
                                _ => true,
                            }
                    })
                    .and_then(|m| str_of(&m["id"])))
            }
            Target::PrivateReply(c) => {
                // Graph keeps no list of private replies, but allows only one
                // per comment: once sent, `can_reply_privately` turns false.
                let (v, _) = self.get(c, &[("fields", "id,can_reply_privately")]).await?;
                match v["can_reply_privately"].as_bool() {
                    Some(true) => Ok(None),
                    _ => Err(ConnError::Invalid(format!(
                        "comment {c} can no longer be answered privately: the private reply \
                         was probably sent (see the page's Messenger inbox)"
                    ))),
                }
            }
        }
    }

    async fn check_inner(&self) -> Result<String, ConnError> {
        let (v, _) = self.get("me", &[("fields", "id,name")]).await?;
        let id = str_of(&v["id"]).unwrap_or_default();
        let name = str_of(&v["name"]).unwrap_or_else(|| id.clone());
        if !id.is_empty() && id != self.page_id {
            return Err(ConnError::Invalid(format!(
                "the token belongs to {name} ({id}), not to page {}",
                self.page_id
            )));
        }
        Ok(name)
    }
}

impl Connector for Facebook {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ChannelKind {
        ChannelKind::Facebook
    }

    fn poll<'a>(&'a self, cursor: Option<&'a str>) -> BoxFuture<'a, Result<Polled, ConnError>> {
        Box::pin(self.poll_inner(cursor))
    }

    fn idle(&self) -> Duration {
        self.idle
    }

    fn send<'a>(&'a self, out: &'a OutgoingSocial) -> BoxFuture<'a, SendResult> {
        if out.template.is_some() {
            return Box::pin(async { super::no_templates("Facebook") });
        }
        Box::pin(self.send_inner(out))
    }

    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String, ConnError>> {
        Box::pin(self.check_inner())
    }

    fn verify_webhook(&self, query: &[(String, String)]) -> Option<String> {
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let expected = self.verify_token.as_deref()?;
        (get("hub.mode") == Some("subscribe")
            && get("hub.verify_token").is_some_and(|t| ct_eq(t.as_bytes(), expected.as_bytes())))
        .then(|| get("hub.challenge").map(str::to_string))
        .flatten()
    }

    fn webhook(
        &self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<WebhookOutcome, WebhookError> {
        let Some(secret) = &self.app_secret else {
            return Err(WebhookError::BadSignature);
        };
        if !signature_ok(secret, headers, body) {
            return Err(WebhookError::BadSignature);
        }
        Ok(WebhookOutcome {
            polled: parse_webhook(&self.name, &self.page_id, body)?,
        })
    }
}

/// Where a reply goes.
#[derive(Clone, Debug, PartialEq)]
enum Target {
    /// A public reply under this comment.
    Comment(String),
    /// A private reply (Messenger) to this comment's author.
    PrivateReply(String),
    /// A Messenger message to this PSID.
    Messenger(String),
}

enum PostBody<'a> {
    Form(&'a [(&'a str, &'a str)]),
    Json(&'a Value),
}

enum PostError {
    /// Never reached Facebook.
    NotSent(ConnError),
    /// Facebook refused it.
    Graph(GraphError),
    /// It may or may not have been posted (a timeout, a cut, a 5xx).
    Unknown(String),
}

/// What one page of a source brought.
#[derive(Default)]
struct Page {
    items: Vec<(SocialItem, i64)>,
    /// The `after` cursor of the next page, if there is one.
    after: Option<String>,
    /// Everything further down is older than the mark.
    stop: bool,
    usage: Usage,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
enum Source {
    #[default]
    #[serde(rename = "messenger")]
    Messenger,
    #[serde(rename = "feed")]
    Feed,
}

impl Source {
    fn other(self) -> Source {
        match self {
            Source::Messenger => Source::Feed,
            Source::Feed => Source::Messenger,
        }
    }
}

/// How far one source has been read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Mark {
    /// The newest item time seen (ms).
    #[serde(default)]
    t: i64,
    /// Ids seen with their times, down to `OVERLAP_MS` before `t`.
    #[serde(default)]
    seen: Vec<(String, i64)>,
}

impl Mark {
    fn floor(&self) -> i64 {
        self.t - OVERLAP_MS
    }

    fn is_new(&self, id: &str, t: i64) -> bool {
        t >= self.floor() && !self.seen.iter().any(|(s, _)| s == id)
    }

    fn note(&mut self, id: &str, t: i64) {
        if self.seen.iter().any(|(s, _)| s == id) {
            return;
        }
        self.seen.push((id.to_string(), t));
        self.t = self.t.max(t);
        let floor = self.floor();
        self.seen.retain(|(_, s)| *s >= floor);
        if self.seen.len() > MAX_SEEN {
            self.seen.sort_by_key(|(_, s)| std::cmp::Reverse(*s));
            self.seen.truncate(MAX_SEEN);
        }
    }
}

/// A page scan in progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Scan {
    after: String,
    pages: u32,
    /// The mark the source gets when the scan ends.
    high: Mark,
}

/// The connector's position (opaque to the framework).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    #[serde(default)]
    m: Mark,
    #[serde(default)]
    c: Mark,
    #[serde(default)]
    next: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scan: Option<Scan>,
}

impl Cursor {
    fn mark(&self, s: Source) -> &Mark {
        match s {
            Source::Messenger => &self.m,
            Source::Feed => &self.c,
        }
    }

    fn mark_mut(&mut self, s: Source) -> &mut Mark {
        match s {
            Source::Messenger => &mut self.m,
            Source::Feed => &mut self.c,
        }
    }

    /// A first cursor: both sources from `t` (ms).
    fn starting_at(t: i64) -> Cursor {
        let mark = Mark {
            t: t + OVERLAP_MS,
            seen: vec![],
        };
        Cursor {
            m: mark.clone(),
            c: mark,
            ..Cursor::default()
        }
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What the usage headers say.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// Highest `call_count` / `total_time` / `total_cputime` percentage.
    pub percent: f64,
    /// Highest `estimated_time_to_regain_access` (minutes).
    pub regain_minutes: u64,
    /// `Retry-After` (seconds).
    pub retry_after: Option<u64>,
}

impl Usage {
    pub fn from_headers(h: &reqwest::header::HeaderMap) -> Usage {
        let mut u = Usage::default();
        for name in [
            "x-business-use-case-usage",
            "x-page-usage",
            "x-app-usage",
            "x-ad-account-usage",
        ] {
            if let Some(v) = h.get(name).and_then(|v| v.to_str().ok())
                && let Ok(j) = serde_json::from_str::<Value>(v)
            {
                u.walk(&j);
            }
        }
        u.retry_after = h
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        u
    }

    fn walk(&mut self, v: &Value) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    let n = x
                        .as_f64()
                        .or_else(|| x.as_str().and_then(|s| s.parse().ok()));
                    match (k.as_str(), n) {
                        (
                            "call_count" | "total_time" | "total_cputime" | "acc_id_util_pct",
                            Some(n),
                        ) => self.percent = self.percent.max(n),
                        ("estimated_time_to_regain_access", Some(n)) if n > 0.0 => {
                            self.regain_minutes = self.regain_minutes.max(n.ceil() as u64)
                        }
                        _ => self.walk(x),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.walk(x)),
            _ => {}
        }
    }

    fn max(self, o: Usage) -> Usage {
        Usage {
            percent: self.percent.max(o.percent),
            regain_minutes: self.regain_minutes.max(o.regain_minutes),
            retry_after: self.retry_after.max(o.retry_after),
        }
    }

    /// How long the headers say to wait, if they say.
    pub fn wait(&self) -> Option<Duration> {
        if self.regain_minutes > 0 {
            Some(Duration::from_secs(self.regain_minutes * 60))
        } else {
            self.retry_after.map(Duration::from_secs)
        }
    }

    /// After a successful call: slow down before Facebook throttles us.
    pub fn slow_down(&self) -> Option<Duration> {
        if self.percent >= USAGE_HIGH {
            Some(self.wait().unwrap_or(Duration::from_secs(60)))
        } else {
            self.wait()
        }
    }
}

/// A Graph API error answer.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphError {
    pub status: u16,
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    pub message: String,
    /// From the usage headers or `Retry-After`.
    pub wait: Option<Duration>,
}

impl GraphError {
    pub fn parse(status: u16, body: &str, wait: Option<Duration>) -> GraphError {
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let e = &v["error"];
        let message = e["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| body.chars().take(200).collect());
        GraphError {
            status,
            code: e["code"].as_i64(),
            subcode: e["error_subcode"].as_i64(),
            message,
            wait,
        }
    }

    pub fn is_throttle(&self) -> bool {
        matches!(self.code, Some(4 | 17 | 32 | 341 | 613 | 80001..=80014)) || self.status == 429
    }
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.subcode) {
            (Some(c), Some(s)) => write!(
                f,
                "Graph error {c}/{s} (HTTP {}): {}",
                self.status, self.message
            ),
            (Some(c), None) => write!(
                f,
                "Graph error {c} (HTTP {}): {}",
                self.status, self.message
            ),
            _ => write!(f, "HTTP {}: {}", self.status, self.message),
        }
    }
}

/// What a Graph error means for the caller.
pub fn classify(e: &GraphError) -> ConnError {
    if e.is_throttle() {
        return ConnError::RateLimited(e.wait.unwrap_or(DEFAULT_THROTTLE));
    }
    match e.code {
        Some(190 | 102) => ConnError::Auth(format!(
            "token expired or invalid ({e}); an admin must renew the page access token"
        )),
        Some(10 | 200..=299) => ConnError::Auth(format!("missing permission ({e})")),
        Some(1 | 2) => ConnError::Transient(e.to_string()),
        _ if e.status >= 500 => ConnError::Transient(e.to_string()),
        _ if e.status == 401 => ConnError::Auth(e.to_string()),
        _ => ConnError::Invalid(e.to_string()),
    }
}

/// What a Graph error means for a reply.
pub fn send_error(e: &GraphError) -> SendResult {
    match e.code {
        // Permissions, a user who cannot be reached (551), outside the
        // messaging window, already answered privately, blocked for policy.
        Some(10 | 200..=299 | 551 | 368 | 10900 | 10903) if !e.is_throttle() => {
            SendResult::Permanent(format!("Facebook refused the reply: {e}"))
        }
        _ => send_result(classify(e)),
    }
}

/// `hex(HMAC-SHA256(app_secret, access_token))`.
pub fn appsecret_proof(secret: &str, token: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `X-Hub-Signature-256` is `sha256=` + the HMAC of the raw body
/// (compared in constant time).
pub fn signature_ok(secret: &str, headers: &[(String, String)], body: &[u8]) -> bool {
    let Some(v) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-hub-signature-256"))
        .map(|(_, v)| v.trim())
    else {
        return false;
    };
    let Some(sig) = v.strip_prefix("sha256=").and_then(|h| hex::decode(h).ok()) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A webhook delivery's items (the same as polling would bring) and the
/// delivery receipts of our Messenger replies.
pub fn parse_webhook(name: &str, page_id: &str, body: &[u8]) -> Result<Polled, WebhookError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Invalid(format!("the body is not JSON: {e}")))?;
    let mut polled = Polled::default();
    if v["object"].as_str() != Some("page") {
        return Ok(polled);
    }
    for entry in arr(&v["entry"]) {
        if str_of(&entry["id"]).is_some_and(|id| id != page_id) {
            continue;
        }
        for ev in arr(&entry["messaging"])
            .iter()
            .chain(arr(&entry["standby"]))
        {
            let sender = str_of(&ev["sender"]["id"]).unwrap_or_default();
            for mid in arr(&ev["delivery"]["mids"]) {
                if let Some(mid) = mid.as_str() {
                    polled
                        .statuses
                        .push((mid.to_string(), Delivery::Delivered, None));
                }
            }
            let m = &ev["message"];
            if !m.is_object() || m["is_echo"].as_bool() == Some(true) || sender == page_id {
                continue;
            }
            let Some(mid) = str_of(&m["mid"]) else {
                continue;
            };
            if sender.is_empty() {
                continue;
            }
            let sent_at = graph_time(&ev["timestamp"]);
            let text = message_text(m["text"].as_str(), !arr(&m["attachments"]).is_empty());
            polled
                .items
                .push(messenger_item(name, &mid, &sender, None, text, sent_at));
        }
        for ch in arr(&entry["changes"]) {
            let val = &ch["value"];
            if ch["field"].as_str() != Some("feed")
                || val["item"].as_str() != Some("comment")
                || val["verb"].as_str() != Some("add")
            {
                continue;
            }
            let (Some(cid), Some(post)) = (str_of(&val["comment_id"]), str_of(&val["post_id"]))
            else {
                continue;
            };
            let from = str_of(&val["from"]["id"]);
            if from.as_deref() == Some(page_id) {
                continue;
            }
            let text = message_text(val["message"].as_str(), val["photo"].is_string());
            polled.items.push(public_item(
                name,
                &cid,
                &post,
                from.as_deref(),
                val["from"]["name"].as_str(),
                text,
                graph_time(&val["created_time"]),
            ));
        }
    }
    Ok(polled)
}

/// A Messenger message of a conversation (not the page's own).
fn message_item(name: &str, page_id: &str, m: &Value) -> Option<(SocialItem, i64)> {
    let id = str_of(&m["id"])?;
    let from = str_of(&m["from"]["id"])?;
    if from == page_id {
        return None;
    }
    let sent = graph_time(&m["created_time"]);
    let text = message_text(m["message"].as_str(), false);
    let item = messenger_item(name, &id, &from, m["from"]["name"].as_str(), text, sent);
    Some((item, sent.map(|t| t.0).unwrap_or(0)))
}

/// A comment (or a visitor's post) on the page by someone else.
fn comment_item(name: &str, page_id: &str, post_id: &str, c: &Value) -> Option<(SocialItem, i64)> {
    let id = str_of(&c["id"])?;
    let from = str_of(&c["from"]["id"]);
    // The page's own posts and comments; a post without an author is the page's.
    if from.as_deref() == Some(page_id) || (id == post_id && from.is_none()) {
        return None;
    }
    let sent = graph_time(&c["created_time"]);
    let text = message_text(c["message"].as_str(), false);
    let item = public_item(
        name,
        &id,
        post_id,
        from.as_deref(),
        c["from"]["name"].as_str(),
        text,
        sent,
    );
    Some((item, sent.map(|t| t.0).unwrap_or(0)))
}

fn message_text(text: Option<&str>, attachment: bool) -> String {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t.to_string(),
        None if attachment => "(an attachment)".to_string(),
        None => "(no text)".to_string(),
    }
}

fn messenger_item(
    name: &str,
    mid: &str,
    psid: &str,
    author: Option<&str>,
    text: String,
    sent_at: Option<Ts>,
) -> SocialItem {
    SocialItem {
        msg: InboundMessage {
            channel: name.to_string(),
            kind: ChannelKind::Facebook,
            external_id: mid.to_string(),
            thread: Some(format!("messenger:{psid}")),
            author: AuthorProfile {
                handle: psid.to_string(),
                name: author.map(str::to_string),
                ..AuthorProfile::default()
            },
            text,
            html: None,
            subject: None,
            attachments: vec![],
            public: false,
            sent_at,
        },
        mention: false,
        recipient: Some(psid.to_string()),
        url: None,
    }
}

fn public_item(
    name: &str,
    id: &str,
    post_id: &str,
    from: Option<&str>,
    author: Option<&str>,
    text: String,
    sent_at: Option<Ts>,
) -> SocialItem {
    // Without `from` (no permission to read the author): one anonymous
    // author per post.
    let handle = from.unwrap_or("anonymous").to_string();
    SocialItem {
        msg: InboundMessage {
            channel: name.to_string(),
            kind: ChannelKind::Facebook,
            external_id: id.to_string(),
            thread: Some(format!("post:{post_id}:{handle}")),
            author: AuthorProfile {
                handle,
                name: author.map(str::to_string),
                ..AuthorProfile::default()
            },
            text,
            html: None,
            subject: None,
            attachments: vec![],
            public: true,
            sent_at,
        },
        mention: true,
        recipient: Some(id.to_string()),
        url: Some(format!("https://www.facebook.com/{id}")),
    }
}

/// Graph times: `2026-11-23T10:00:00+0000`, RFC 3339, or Unix seconds
/// (milliseconds for webhook `timestamp`s).
fn graph_time(v: &Value) -> Option<Ts> {
    if let Some(n) = v.as_i64() {
        return Some(if n > 100_000_000_000 {
            Ts(n)
        } else {
            Ts(n * 1000)
        });
    }
    let s = v.as_str()?.trim();
    if let Some(t) = Ts::parse(s) {
        return Some(t);
    }
    // `+0000` → `+00:00`.
    let b = s.as_bytes();
    if b.len() > 5 && matches!(b[b.len() - 5], b'+' | b'-') {
        let (head, off) = s.split_at(s.len() - 2);
        return Ts::parse(&format!("{head}:{off}"));
    }
    s.parse::<i64>().ok().map(|n| Ts(n * 1000))
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// The `after` cursor of an edge's next page, when it has one.
fn next_after(edge: &Value) -> Option<String> {
    let p = &edge["paging"];
    if p["next"].as_str().is_none_or(str::is_empty) {
        return None;
    }
    str_of(&p["cursors"]["after"])
}

/// A nested edge's next page, worth fetching only while the oldest item
/// so far is still new (the edges list newest first).
fn nested_next(edge: &Value, items: &[Value], mark: &Mark) -> Option<String> {
    let oldest = items
        .iter()
        .filter_map(|i| graph_time(&i["created_time"]))
        .map(|t| t.0)
        .min()?;
    (oldest >= mark.floor()).then(|| next_after(edge)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "100";

    fn conversations_sample() -> Value {
        json!({
          "data": [{
            "id": "t_10223",
            "updated_time": "2026-11-23T10:05:00+0000",
            "participants": {"data": [
              {"name": "Ana Pérez", "email": "7001@facebook.com", "id": "7001"},
              {"name": "Tienda Nordia", "email": "100@facebook.com", "id": "100"}]},
            "messages": {
              "data": [
                {"id": "m_3", "message": "Gracias, ¿y el reembolso?", "created_time": "2026-11-23T10:05:00+0000",
                 "from": {"name": "Ana Pérez", "email": "7001@facebook.com", "id": "7001"},
                 "to": {"data": [{"name": "Tienda Nordia", "email": "100@facebook.com", "id": "100"}]}},
                {"id": "m_2", "message": "Hola Ana, lo miramos", "created_time": "2026-11-23T10:01:00+0000",
                 "from": {"name": "Tienda Nordia", "email": "100@facebook.com", "id": "100"},
                 "to": {"data": [{"name": "Ana Pérez", "email": "7001@facebook.com", "id": "7001"}]}},
                {"id": "m_1", "message": "Mi pedido no llega", "created_time": "2026-11-23T10:00:00+0000",
                 "from": {"name": "Ana Pérez", "email": "7001@facebook.com", "id": "7001"},
                 "to": {"data": [{"name": "Tienda Nordia", "email": "100@facebook.com", "id": "100"}]}}],
              "paging": {"cursors": {"before": "QVFIUm1", "after": "QVFIUm3"}}
            }
          }],
          "paging": {"cursors": {"before": "QVFIUkx", "after": "QVFIUkz"},
                     "next": "https://graph.facebook.com/v21.0/100/conversations?after=QVFIUkz"}
        })
    }

    #[test]
    fn messenger_messages_map_and_skip_the_page() {
        let v = conversations_sample();
        let conv = &v["data"][0];
        let items: Vec<_> = arr(&conv["messages"]["data"])
            .iter()
            .filter_map(|m| message_item("fb", PAGE, m))
            .collect();
        assert_eq!(items.len(), 2);
        let (it, t) = &items[1];
        assert_eq!(*t, Ts::parse("2026-11-23T10:00:00Z").unwrap().0);
        assert_eq!(it.msg.external_id, "m_1");
        assert_eq!(it.msg.thread.as_deref(), Some("messenger:7001"));
        assert_eq!(it.msg.author.handle, "7001");
        assert_eq!(it.msg.author.name.as_deref(), Some("Ana Pérez"));
        assert_eq!(it.msg.text, "Mi pedido no llega");
        assert_eq!(it.msg.kind, ChannelKind::Facebook);
        assert!(!it.msg.public && !it.mention);
        assert_eq!(it.recipient.as_deref(), Some("7001"));
        assert_eq!(next_after(&v).as_deref(), Some("QVFIUkz"));
        // The nested edge has no `next`: nothing more to fetch.
        assert_eq!(next_after(&conv["messages"]), None);
    }

    fn feed_sample() -> Value {
        json!({
          "data": [{
            "id": "100_555",
            "created_time": "2026-11-20T09:00:00+0000",
            "updated_time": "2026-11-23T11:00:00+0000",
            "message": "¡Nueva colección!",
            "from": {"name": "Tienda Nordia", "id": "100"},
            "comments": {
              "data": [
                {"id": "555_903", "message": "Gracias, escríbenos por privado", "created_time": "2026-11-23T11:00:00+0000",
                 "from": {"name": "Tienda Nordia", "id": "100"}, "parent": {"id": "555_901", "message": "…", "created_time": "2026-11-23T10:30:00+0000"}},
                {"id": "555_902", "message": "A mí tampoco, necesito ayuda", "created_time": "2026-11-23T10:45:00+0000",
                 "from": {"name": "Luis", "id": "8002"}, "parent": {"id": "555_901", "message": "…", "created_time": "2026-11-23T10:30:00+0000"}},
                {"id": "555_901", "message": "Mi pedido no funciona", "created_time": "2026-11-23T10:30:00+0000",
                 "from": {"name": "Ana Pérez", "id": "8001"}}],
              "paging": {"cursors": {"before": "WTI5dGJ", "after": "WTI5dGF"},
                         "next": "https://graph.facebook.com/v21.0/100_555/comments?after=WTI5dGF"}
            }
          }, {
            "id": "100_444",
            "created_time": "2026-11-19T09:00:00+0000",
            "message": "Hola a todos",
            "from": {"name": "Visitante", "id": "8003"}
          }],
          "paging": {"cursors": {"before": "Q2c4U", "after": "Q2c4V"}}
        })
    }

    #[test]
    fn feed_comments_and_replies_map() {
        let v = feed_sample();
        let post = &v["data"][0];
        let items: Vec<_> = arr(&post["comments"]["data"])
            .iter()
            .filter_map(|c| comment_item("fb", PAGE, "100_555", c))
            .collect();
        assert_eq!(items.len(), 2, "the page's own reply is skipped");
        let (reply, _) = &items[0];
        assert_eq!(reply.msg.external_id, "555_902");
        assert_eq!(reply.msg.thread.as_deref(), Some("post:100_555:8002"));
        assert_eq!(reply.recipient.as_deref(), Some("555_902"));
        assert!(reply.mention && reply.msg.public);
        assert_eq!(
            reply.url.as_deref(),
            Some("https://www.facebook.com/555_902")
        );
        // The page's own post is no item; a visitor's post is.
        assert!(comment_item("fb", PAGE, "100_555", post).is_none());
        let visitor = comment_item("fb", PAGE, "100_444", &v["data"][1])
            .unwrap()
            .0;
        assert_eq!(visitor.msg.thread.as_deref(), Some("post:100_444:8003"));
        // No `next` on the feed: the last page.
        assert_eq!(next_after(&v), None);
        // The nested comments go on while their oldest is still new.
        let fresh = Mark::default();
        assert_eq!(
            nested_next(&post["comments"], arr(&post["comments"]["data"]), &fresh).as_deref(),
            Some("WTI5dGF")
        );
        let later = Mark {
            t: Ts::parse("2026-11-23T11:00:00Z").unwrap().0,
            seen: vec![],
        };
        assert_eq!(
            nested_next(&post["comments"], arr(&post["comments"]["data"]), &later),
            None
        );
    }

    #[test]
    fn marks_take_each_item_once() {
        let mut m = Mark::default();
        assert!(m.is_new("a", 1_000_000));
        m.note("a", 1_000_000);
        m.note("b", 1_000_000);
        assert!(!m.is_new("a", 1_000_000));
        assert!(m.is_new("c", 1_000_000), "same second, not seen");
        assert!(
            m.is_new("d", 1_000_000 - 60_000),
            "late-indexed, inside the overlap"
        );
        assert!(!m.is_new("e", 1_000_000 - OVERLAP_MS - 1));
        m.note("f", 2_000_000);
        assert_eq!(m.t, 2_000_000);
        assert_eq!(m.seen, vec![("f".to_string(), 2_000_000)]);
        let c = Cursor {
            m: m.clone(),
            ..Cursor::default()
        };
        let back: Cursor = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(back, c);
        // A new channel takes the last week only.
        let start = Cursor::starting_at(10_000_000);
        assert!(start.m.is_new("x", 10_000_000) && start.c.is_new("y", 10_000_000));
        assert!(!start.m.is_new("x", 9_999_999));
    }

    #[test]
    fn graph_times_parse() {
        let want = Ts::parse("2026-11-23T10:00:00Z").unwrap();
        assert_eq!(graph_time(&json!("2026-11-23T10:00:00+0000")), Some(want));
        assert_eq!(graph_time(&json!("2026-11-23T12:00:00+0200")), Some(want));
        assert_eq!(graph_time(&json!("2026-11-23T10:00:00Z")), Some(want));
        assert_eq!(graph_time(&json!(want.0 / 1000)), Some(want));
        assert_eq!(graph_time(&json!(want.0)), Some(want));
        assert_eq!(graph_time(&json!(null)), None);
    }

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn signatures_are_checked() {
        let body = br#"{"object":"page","entry":[]}"#;
        let good = vec![("X-Hub-Signature-256".to_string(), sign("shh", body))];
        assert!(signature_ok("shh", &good, body));
        assert!(!signature_ok("other", &good, body));
        assert!(!signature_ok(
            "shh",
            &good,
            br#"{"object":"page","entry":[1]}"#
        ));
        assert!(!signature_ok("shh", &[], body));
        let bare = vec![(
            "x-hub-signature-256".to_string(),
            sign("shh", body).replace("sha256=", ""),
        )];
        assert!(!signature_ok("shh", &bare, body));
        let junk = vec![("x-hub-signature-256".to_string(), "sha256=zz".to_string())];
        assert!(!signature_ok("shh", &junk, body));
        // The old SHA-1 header alone is not enough.
        let sha1 = vec![("x-hub-signature".to_string(), "sha1=00".to_string())];
        assert!(!signature_ok("shh", &sha1, body));
    }

    fn cfg(app_secret: Option<&str>) -> FacebookChannel {
        let mut toml = String::from(
            "name = \"fb\"\npage_id = \"100\"\npage_access_token = \"tok\"\nverify_token = \"vt\"\n",
        );
        if let Some(s) = app_secret {
            toml.push_str(&format!("app_secret = \"{s}\"\n"));
        }
        toml::from_str(&toml).unwrap()
    }

    #[test]
    fn webhook_verification_and_signature() {
        let fb = Facebook::new(&cfg(Some("shh")), TIMEOUT).unwrap();
        let q = |mode: &str, tok: &str| {
            vec![
                ("hub.mode".to_string(), mode.to_string()),
                ("hub.verify_token".to_string(), tok.to_string()),
                ("hub.challenge".to_string(), "123".to_string()),
            ]
        };
        assert_eq!(
            fb.verify_webhook(&q("subscribe", "vt")).as_deref(),
            Some("123")
        );
        assert_eq!(fb.verify_webhook(&q("subscribe", "vx")), None);
        assert_eq!(fb.verify_webhook(&q("unsubscribe", "vt")), None);
        let body = webhook_sample().to_string();
        let h = vec![(
            "x-hub-signature-256".to_string(),
            sign("shh", body.as_bytes()),
        )];
        assert_eq!(
            fb.webhook(&h, body.as_bytes()).unwrap().polled.items.len(),
            2
        );
        let bad = vec![(
            "x-hub-signature-256".to_string(),
            sign("no", body.as_bytes()),
        )];
        assert_eq!(
            fb.webhook(&bad, body.as_bytes()),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            fb.webhook(&[], body.as_bytes()),
            Err(WebhookError::BadSignature)
        );
        let unsigned = Facebook::new(&cfg(None), TIMEOUT).unwrap();
        assert_eq!(
            unsigned.webhook(&h, body.as_bytes()),
            Err(WebhookError::BadSignature)
        );
        let no_token = FacebookChannel {
            page_access_token: None,
            ..cfg(None)
        };
        assert!(connector(&no_token).is_none());
    }

    fn webhook_sample() -> Value {
        json!({
          "object": "page",
          "entry": [{
            "id": "100", "time": 1795428000000u64,
            "messaging": [
              {"sender": {"id": "7001"}, "recipient": {"id": "100"}, "timestamp": 1795428000123u64,
               "message": {"mid": "m_1", "text": "Mi pedido no llega"}},
              {"sender": {"id": "100"}, "recipient": {"id": "7001"}, "timestamp": 1795428000456u64,
               "message": {"mid": "m_2", "text": "Hola", "is_echo": true, "app_id": 1}},
              {"sender": {"id": "7001"}, "recipient": {"id": "100"}, "timestamp": 1795428000789u64,
               "delivery": {"mids": ["m_2"], "watermark": 1795428000456u64}}
            ],
            "changes": [
              {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "555_901",
               "post_id": "100_555", "parent_id": "100_555", "message": "Mi pedido no funciona",
               "from": {"id": "8001", "name": "Ana Pérez"}, "created_time": 1795428000u64,
               "post": {"id": "100_555", "status_type": "added_photos", "is_published": true}}},
              {"field": "feed", "value": {"item": "comment", "verb": "edited", "comment_id": "555_901",
               "post_id": "100_555", "message": "editado", "from": {"id": "8001", "name": "Ana Pérez"},
               "created_time": 1795428000u64}},
              {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "555_903",
               "post_id": "100_555", "message": "Te escribimos", "from": {"id": "100", "name": "Tienda Nordia"},
               "created_time": 1795428001u64}},
              {"field": "feed", "value": {"item": "reaction", "verb": "add", "post_id": "100_555",
               "reaction_type": "like", "from": {"id": "8001"}}}
            ]
          }, {
            "id": "999", "time": 1795428000000u64,
            "messaging": [{"sender": {"id": "7009"}, "recipient": {"id": "999"}, "timestamp": 1795428000123u64,
                           "message": {"mid": "m_other", "text": "another page"}}]
          }]
        })
    }

    #[test]
    fn webhook_payloads_map_like_polling() {
        let p = parse_webhook("fb", PAGE, webhook_sample().to_string().as_bytes()).unwrap();
        assert_eq!(p.items.len(), 2);
        let dm = &p.items[0];
        // The same as the poll of `conversations_sample`'s m_1.
        let polled = message_item(
            "fb",
            PAGE,
            &conversations_sample()["data"][0]["messages"]["data"][2],
        )
        .unwrap()
        .0;
        assert_eq!(dm.msg.external_id, polled.msg.external_id);
        assert_eq!(dm.msg.thread, polled.msg.thread);
        assert_eq!(dm.recipient, polled.recipient);
        assert_eq!(dm.msg.sent_at, Some(Ts(1795428000123)));
        let comment = &p.items[1];
        let polled = comment_item(
            "fb",
            PAGE,
            "100_555",
            &feed_sample()["data"][0]["comments"]["data"][2],
        )
        .unwrap()
        .0;
        assert_eq!(comment.msg.external_id, "555_901");
        assert_eq!(comment.msg.thread, polled.msg.thread);
        assert_eq!(comment.msg.author.handle, "8001");
        assert_eq!(comment.recipient, polled.recipient);
        assert!(comment.mention && comment.msg.public);
        assert_eq!(
            p.statuses,
            vec![("m_2".to_string(), Delivery::Delivered, None)]
        );
        assert!(parse_webhook("fb", PAGE, b"nope").is_err());
        let other = parse_webhook("fb", PAGE, br#"{"object":"instagram","entry":[]}"#).unwrap();
        assert!(other.items.is_empty());
    }

    #[test]
    fn graph_errors_are_classified() {
        let err = |status: u16, code: i64, wait: Option<Duration>| {
            let body = json!({"error": {"message": "boom", "type": "OAuthException", "code": code,
                                        "error_subcode": 463, "fbtrace_id": "AbC"}})
            .to_string();
            GraphError::parse(status, &body, wait)
        };
        for code in [4, 17, 32, 613, 80006] {
            assert_eq!(
                classify(&err(400, code, None)),
                ConnError::RateLimited(DEFAULT_THROTTLE)
            );
        }
        assert_eq!(
            classify(&err(400, 613, Some(Duration::from_secs(120)))),
            ConnError::RateLimited(Duration::from_secs(120))
        );
        let plain429 = GraphError::parse(429, "Too Many Requests", Some(Duration::from_secs(7)));
        assert_eq!(
            classify(&plain429),
            ConnError::RateLimited(Duration::from_secs(7))
        );
        match classify(&err(400, 190, None)) {
            ConnError::Auth(m) => assert!(m.contains("token expired") && m.contains("190/463")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(classify(&err(403, 200, None)), ConnError::Auth(_)));
        assert!(matches!(
            classify(&err(500, 2, None)),
            ConnError::Transient(_)
        ));
        assert!(matches!(
            classify(&GraphError::parse(502, "<html>", None)),
            ConnError::Transient(_)
        ));
        assert!(matches!(
            classify(&err(400, 100, None)),
            ConnError::Invalid(_)
        ));
        for code in [10, 200, 551] {
            match send_error(&err(400, code, None)) {
                SendResult::Permanent(m) => assert!(m.contains("boom")),
                other => panic!("{code}: {other:?}"),
            }
        }
        assert!(matches!(
            send_error(&err(400, 613, None)),
            SendResult::Retry { after: Some(_), .. }
        ));
    }

    #[test]
    fn usage_headers_are_read() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "x-business-use-case-usage",
            r#"{"100":[{"type":"pages","call_count":96,"total_cputime":10,"total_time":12,"estimated_time_to_regain_access":3}]}"#
                .parse()
                .unwrap(),
        );
        h.insert(
            "x-app-usage",
            r#"{"call_count":28,"total_time":25,"total_cputime":25}"#
                .parse()
                .unwrap(),
        );
        let u = Usage::from_headers(&h);
        assert_eq!(u.percent, 96.0);
        assert_eq!(u.regain_minutes, 3);
        assert_eq!(u.wait(), Some(Duration::from_secs(180)));
        assert_eq!(u.slow_down(), Some(Duration::from_secs(180)));
        let mut low = reqwest::header::HeaderMap::new();
        low.insert(
            "x-app-usage",
            r#"{"call_count":28,"total_time":25,"total_cputime":25}"#
                .parse()
                .unwrap(),
        );
        assert_eq!(Usage::from_headers(&low).slow_down(), None);
    }

    #[test]
    fn replies_pick_their_endpoint() {
        let fb = Facebook::new(&cfg(Some("shh")), TIMEOUT).unwrap();
        let out = |thread: &str, private: bool| OutgoingSocial {
            text: "hola".into(),
            private,
            in_reply_to: Some("555_901".into()),
            thread: thread.into(),
            recipient: Some("555_901".into()),
            ..OutgoingSocial::default()
        };
        assert_eq!(
            fb.target(&out("post:100_555:8001", false)),
            Ok(Target::Comment("555_901".into()))
        );
        assert_eq!(
            fb.target(&out("post:100_555:8001", true)),
            Ok(Target::PrivateReply("555_901".into()))
        );
        let dm = OutgoingSocial {
            recipient: Some("7001".into()),
            ..out("messenger:7001", false)
        };
        assert_eq!(fb.target(&dm), Ok(Target::Messenger("7001".into())));
        assert_eq!(
            appsecret_proof("shh", "tok").len(),
            64,
            "hex of a SHA-256 HMAC"
        );
    }
}
