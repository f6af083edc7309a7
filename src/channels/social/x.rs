//! The X connector (API v2): the only code that speaks X's protocol.
//!
//! **Reading.** Three sources, each with its own `since_id`, kept together in
//! one cursor (a small JSON object, [`Cursor`]) that `app::social` saves in
//! the same transaction as the items it covers:
//!
//! * mentions — `GET /2/users/{id}/mentions` (`since_id`, `pagination_token`);
//! * direct messages — `GET /2/dm_events` (no `since_id` on X: newest first,
//!   paged with `pagination_token` until the saved event id is reached);
//! * brand listening — `GET /2/tweets/search/recent` (`since_id`,
//!   `next_token`) with a query built from the channel's handles, hashtags
//!   and keywords ([`search_query`]).
//!
//! X pages newest first, so a `since_id` can only move once every page above
//! it has been read. A walk reads at most [`MAX_PAGES`] pages per poll; when
//! it is cut short (the page cap or a rate limit) the cursor keeps the old
//! `since_id` plus a [`Partial`]: the newest id seen and where to continue
//! older (`until_id` for tweets, X's `pagination_token` for DMs). The cursor
//! therefore never passes an item that is not in the same `Polled`, and a
//! crash re-reads at most one poll, which dedupe on the external id absorbs.
//!
//! **Rate limits.** Every answer's `x-rate-limit-remaining` /
//! `x-rate-limit-reset` (and X's 24-hour `x-user-limit-24hour-*` /
//! `x-app-limit-24hour-*`) are read; an endpoint whose remaining count hit 0,
//! or that answered 429, is not called again before its reset (kept in
//! memory per endpoint; the other endpoints go on).
//!
//! **Sending.** A public reply is `POST /2/tweets` with
//! `reply.in_reply_to_tweet_id`, prefixed with the customer's `@handle`; a
//! private one (and any answer in a DM conversation) is
//! `POST /2/dm_conversations/with/{participant_id}/messages`. X has no
//! idempotency key and nothing invisible is embedded in the text, so when an
//! attempt ends without a clear answer (a timeout, a cut connection, a 5xx)
//! the connector looks for the reply among our latest tweets (same text, in
//! reply to the same tweet) or in the DM conversation (same text, from us,
//! since the attempt) before anything is sent again: found → `Posted`; not
//! found → `Retry` (and the next attempt looks once more before posting);
//! the look itself failing after a timeout or a lost answer →
//! `Unknown("delivery unknown: …")`, so an agent checks on X rather than
//! risk a double post (after a 5xx, where X did answer, it is a `Retry` and
//! the next attempt looks first). The "look first" memory is per process,
//! and after a restart `OutgoingSocial::attempt > 1` makes the retry look
//! (since the customer's last message) before it posts.

use super::{
    ConnError, Connector, OutgoingSocial, Polled, SocialItem, classify_status, send_result,
};
use crate::channels::SendResult;
use crate::config::{Listening, Secret, XChannel};
use crate::domain::{ChannelKind, Ts};
use crate::ingest::{AuthorProfile, InboundMessage};
use futures_util::future::BoxFuture;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Whether this version connects the network (false: reported as pending).
pub const CONNECTED: bool = true;

/// Items per page (X's maximum for all three sources).
const PAGE_SIZE: &str = "100";
/// Pages read per source and poll; the rest waits for the next poll.
pub const MAX_PAGES: usize = 2;
/// Longest wait for one read.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for one post when the caller gives no `[outbox] timeout`
/// (`OutgoingSocial::timeout`).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// After an unclear post, how long X gets to show the reply before we look.
const CHECK_GRACE: Duration = Duration::from_secs(2);
/// How far before the attempt a DM with the same text still counts as ours
/// (clock differences between us and X).
const CHECK_SKEW_MS: i64 = 120_000;
/// Our latest tweets searched for a reply after an unclear post.
const CHECK_TWEETS: &str = "20";
/// Rest after a reset, for rounding (resets are whole epoch seconds).
const RESET_MARGIN: Duration = Duration::from_millis(250);
/// Rest when X says to stop but not until when.
const DEFAULT_REST: Duration = Duration::from_secs(60);
/// X's limit on a standard search query.
const QUERY_MAX: usize = 512;

const TWEET_FIELDS: &str =
    "created_at,conversation_id,in_reply_to_user_id,referenced_tweets,author_id";
const USER_FIELDS: &str = "public_metrics,verified,created_at,description,username,name";
const DM_FIELDS: &str = "created_at,sender_id,dm_conversation_id,text";

/// The connector for one configured channel (`None` without a token).
pub fn connector(cfg: &XChannel) -> Option<Arc<dyn Connector>> {
    if cfg
        .bearer_token
        .as_ref()
        .is_none_or(|t| t.expose().trim().is_empty())
    {
        tracing::warn!(channel = %cfg.name, "channel.x has no bearer_token: not connected");
        return None;
    }
    if cfg.user_id.trim().is_empty() {
        tracing::warn!(channel = %cfg.name, "channel.x has no user_id: not connected");
        return None;
    }
    Some(Arc::new(XConnector::new(cfg, SEND_TIMEOUT)))
}

// ---------------------------------------------------------------------------
// The cursor

/// Where each source stands. Serialized as
/// `{"mentions":"id","dm":"event id","search":"id"}` plus `partial` while a
/// walk older than the newest pages is under way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cursor {
    /// Newest mention stored (`since_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mentions: Option<String>,
    /// Newest DM event seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dm: Option<String>,
    /// Newest search hit stored (`since_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    /// Walks cut short, by source (`mentions`, `dm`, `search`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub partial: BTreeMap<String, Partial>,
}

/// A walk cut short: everything newer than `next` (and up to `newest`) is
/// stored; the items between the source's `since_id` and `next` are not yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partial {
    /// The newest id seen when the walk began: the `since_id` once it ends.
    pub newest: String,
    /// Where to go on: `until_id` (tweets) or X's `pagination_token` (DMs).
    pub next: String,
}

impl Cursor {
    /// The saved cursor; an unreadable one starts over (dedupe absorbs it).
    pub fn parse(s: Option<&str>) -> Cursor {
        let Some(s) = s.filter(|s| !s.trim().is_empty()) else {
            return Cursor::default();
        };
        serde_json::from_str(s).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "unreadable X cursor; reading from the start");
            Cursor::default()
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn since(&self, src: Source) -> Option<&str> {
        match src {
            Source::Mentions => self.mentions.as_deref(),
            Source::Dm => self.dm.as_deref(),
            Source::Search => self.search.as_deref(),
        }
    }

    fn set(&mut self, src: Source, st: SourceState) {
        let slot = match src {
            Source::Mentions => &mut self.mentions,
            Source::Dm => &mut self.dm,
            Source::Search => &mut self.search,
        };
        *slot = st.since;
        match st.partial {
            Some(p) => self.partial.insert(src.key().to_string(), p),
            None => self.partial.remove(src.key()),
        };
    }
}

/// One source's position.
#[derive(Clone, Debug, Default, PartialEq)]
struct SourceState {
    since: Option<String>,
    partial: Option<Partial>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Dm,
    Mentions,
    Search,
}

impl Source {
    const ALL: [Source; 3] = [Source::Dm, Source::Mentions, Source::Search];

    fn key(self) -> &'static str {
        match self {
            Source::Mentions => "mentions",
            Source::Dm => "dm",
            Source::Search => "search",
        }
    }

    fn endpoint(self) -> Ep {
        match self {
            Source::Mentions => Ep::Mentions,
            Source::Dm => Ep::DmEvents,
            Source::Search => Ep::Search,
        }
    }
}

/// Whether tweet/event id `a` is newer than `b` (decimal snowflakes).
fn newer(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

fn max_id(a: Option<String>, b: &str) -> Option<String> {
    match a {
        Some(a) if !newer(b, &a) => Some(a),
        _ => Some(b.to_string()),
    }
}

// ---------------------------------------------------------------------------
// Rate limits

/// The endpoints, each with its own rate-limit window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Ep {
    Mentions,
    DmEvents,
    Search,
    UserTweets,
    DmWith,
    PostTweet,
    PostDm,
    Me,
}

/// Epoch milliseconds now.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn header_num(h: &HeaderMap, name: &str) -> Option<i64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long an endpoint must rest after an answer with this status and these
/// headers (`now_ms`: epoch milliseconds), if it must: a 429, or a window
/// (15-minute or 24-hour) whose remaining count is 0 — until its reset.
pub fn limit_wait(status: u16, h: &HeaderMap, now_ms: i64) -> Option<Duration> {
    let until = |reset: i64| {
        Duration::from_millis(reset.saturating_mul(1000).saturating_sub(now_ms).max(0) as u64)
            + RESET_MARGIN
    };
    let mut rest: Option<Duration> = None;
    for prefix in ["x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"] {
        let remaining = header_num(h, &format!("{prefix}-remaining"));
        let reset = header_num(h, &format!("{prefix}-reset"));
        if remaining == Some(0) {
            let d = reset.map(until).unwrap_or(DEFAULT_REST);
            rest = Some(rest.map_or(d, |r| r.max(d)));
        }
    }
    if status == 429 && rest.is_none() {
        rest = Some(
            header_num(h, "x-rate-limit-reset")
                .map(until)
                .unwrap_or(DEFAULT_REST),
        );
    }
    rest
}

/// Per endpoint: no call before this instant.
#[derive(Debug, Default)]
struct Limits(Mutex<HashMap<Ep, Instant>>);

impl Limits {
    /// How long `ep` must still rest, if it must.
    fn blocked(&self, ep: Ep) -> Option<Duration> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let until = *map.get(&ep)?;
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// Read an answer's headers; the rest it imposes, if any.
    fn note(&self, ep: Ep, status: u16, h: &HeaderMap) -> Option<Duration> {
        let d = limit_wait(status, h, now_ms())?;
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + d;
        let slot = map.entry(ep).or_insert(until);
        *slot = (*slot).max(until);
        Some(d)
    }
}

// ---------------------------------------------------------------------------
// X's JSON (API v2)

#[derive(Debug, Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    includes: Includes,
    #[serde(default)]
    meta: Meta,
}

#[derive(Debug, Default, Deserialize)]
struct Includes {
    #[serde(default)]
    users: Vec<User>,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Single<T> {
    data: T,
}

#[derive(Clone, Debug, Deserialize)]
struct Tweet {
    id: String,
    #[serde(default)]
    text: String,
    author_id: Option<String>,
    conversation_id: Option<String>,
    created_at: Option<String>,
    #[serde(default)]
    referenced_tweets: Vec<RefTweet>,
}

#[derive(Clone, Debug, Deserialize)]
struct RefTweet {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Clone, Debug, Deserialize)]
struct User {
    id: String,
    username: String,
    name: Option<String>,
    created_at: Option<String>,
    description: Option<String>,
    verified: Option<bool>,
    public_metrics: Option<Metrics>,
}

#[derive(Clone, Debug, Deserialize)]
struct Metrics {
    followers_count: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
struct DmEvent {
    id: String,
    event_type: Option<String>,
    text: Option<String>,
    sender_id: Option<String>,
    dm_conversation_id: Option<String>,
    created_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

#[derive(Debug, Deserialize)]
struct DmCreated {
    dm_event_id: String,
}

/// X's explanation in an error body: `detail`, else `title`, else the first
/// `errors[].message`/`detail`, else the body itself (shortened).
pub fn x_detail(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let pick =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|s| s.as_str()).map(str::to_string);
    pick(&v, "detail")
        .or_else(|| pick(&v, "title"))
        .or_else(|| {
            let e = v.get("errors")?.get(0)?;
            pick(e, "message").or_else(|| pick(e, "detail"))
        })
        .unwrap_or_else(|| body.trim().chars().take(300).collect())
}

/// X escapes `&`, `<` and `>` in tweet text.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

// ---------------------------------------------------------------------------
// Mapping (pure)

/// Authors of one page by id.
type Users = HashMap<String, User>;

fn users_of(inc: Includes) -> Users {
    inc.users.into_iter().map(|u| (u.id.clone(), u)).collect()
}

/// The author's profile; a deleted or suspended author (missing from
/// `includes.users`) is known by id only (`id:123`, never a valid username).
fn profile(author_id: &str, users: &Users) -> AuthorProfile {
    match users.get(author_id) {
        Some(u) => AuthorProfile {
            handle: format!("@{}", u.username),
            name: u.name.clone().filter(|n| !n.trim().is_empty()),
            email: None,
            followers: u.public_metrics.as_ref().and_then(|m| m.followers_count),
            verified: u.verified.unwrap_or(false),
            account_created_at: u.created_at.as_deref().and_then(Ts::parse),
            bio: u.description.clone().filter(|d| !d.trim().is_empty()),
        },
        None => AuthorProfile {
            handle: format!("id:{author_id}"),
            ..Default::default()
        },
    }
}

/// A mention or search hit; `None` for ours and for retweets.
fn tweet_item(channel: &str, our_id: &str, t: &Tweet, users: &Users) -> Option<SocialItem> {
    let author_id = t.author_id.as_deref().unwrap_or("");
    if author_id == our_id || t.referenced_tweets.iter().any(|r| r.kind == "retweeted") {
        return None;
    }
    let url = match users.get(author_id) {
        Some(u) => format!("https://x.com/{}/status/{}", u.username, t.id),
        None => format!("https://x.com/i/web/status/{}", t.id),
    };
    let root = t.conversation_id.as_deref().unwrap_or(&t.id);
    Some(SocialItem {
        msg: InboundMessage {
            channel: channel.to_string(),
            kind: ChannelKind::X,
            external_id: t.id.clone(),
            thread: Some(format!("tweet:{root}")),
            author: profile(author_id, users),
            text: unescape(&t.text),
            html: None,
            subject: None,
            attachments: vec![],
            public: true,
            sent_at: t.created_at.as_deref().and_then(Ts::parse),
        },
        mention: true,
        recipient: (!author_id.is_empty()).then(|| author_id.to_string()),
        url: Some(url),
    })
}

/// A direct message; `None` for ours and for events other than messages.
fn dm_item(channel: &str, our_id: &str, e: &DmEvent, users: &Users) -> Option<SocialItem> {
    let sender = e.sender_id.as_deref()?;
    if sender == our_id
        || e.event_type
            .as_deref()
            .is_some_and(|t| t != "MessageCreate")
    {
        return None;
    }
    let conv = e
        .dm_conversation_id
        .clone()
        .unwrap_or_else(|| dm_pair(our_id, sender));
    let text = e.text.clone().unwrap_or_default();
    let text = if text.trim().is_empty() {
        "(empty message)".to_string()
    } else {
        text
    };
    Some(SocialItem {
        msg: InboundMessage {
            channel: channel.to_string(),
            kind: ChannelKind::X,
            external_id: format!("dm:{}", e.id),
            thread: Some(format!("dm:{conv}")),
            author: profile(sender, users),
            text,
            html: None,
            subject: None,
            attachments: vec![],
            public: false,
            sent_at: e.created_at.as_deref().and_then(Ts::parse),
        },
        mention: false,
        recipient: Some(sender.to_string()),
        url: Some(format!("https://x.com/messages/{conv}")),
    })
}

/// X's id of a one-to-one DM conversation: the two user ids, smaller first.
fn dm_pair(a: &str, b: &str) -> String {
    if newer(a, b) {
        format!("{b}-{a}")
    } else {
        format!("{a}-{b}")
    }
}

/// A phrase in X's query syntax: double quotes, inner quotes escaped.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The recent-search query for the listening rules, or `None` without terms:
/// `(@tienda OR #tienda OR "tienda nordia") -is:retweet -from:ID`. Terms that
/// would pass X's 512-character limit are left out (with a warning).
pub fn search_query(rules: &Listening, user_id: &str) -> Option<String> {
    let mut terms: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |t: String| {
        if seen.insert(t.to_lowercase()) {
            terms.push(t);
        }
    };
    for h in &rules.brand_handles {
        let bare: String = h
            .trim()
            .trim_start_matches('@')
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !bare.is_empty() {
            add(format!("@{bare}"));
        }
    }
    for h in &rules.hashtags {
        let bare: String = h
            .trim()
            .trim_start_matches('#')
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !bare.is_empty() {
            add(format!("#{bare}"));
        }
    }
    for k in &rules.keywords {
        let k = k.split_whitespace().collect::<Vec<_>>().join(" ");
        if !k.is_empty() {
            add(quote(&k));
        }
    }
    let tail = if user_id.chars().all(|c| c.is_ascii_digit()) && !user_id.is_empty() {
        format!(" -is:retweet -from:{user_id}")
    } else {
        " -is:retweet".to_string()
    };
    let mut body = String::new();
    for t in terms {
        let extra = if body.is_empty() { 0 } else { 4 } + t.chars().count();
        if 2 + body.chars().count() + extra + tail.len() > QUERY_MAX {
            tracing::warn!(term = %t, "X search query too long; term left out");
            continue;
        }
        if !body.is_empty() {
            body.push_str(" OR ");
        }
        body.push_str(&t);
    }
    (!body.is_empty()).then(|| format!("({body}){tail}"))
}

/// The public reply's text: the customer's `@handle` first unless the agent
/// already wrote it.
pub fn reply_text(text: &str, handle: &str) -> String {
    let text = text.trim();
    let Some(bare) = handle.strip_prefix('@').filter(|b| !b.is_empty()) else {
        return text.to_string();
    };
    let lower = text.to_lowercase();
    let at = format!("@{}", bare.to_lowercase());
    let present = lower.match_indices(&at).any(|(i, m)| {
        lower[i + m.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    });
    if present {
        text.to_string()
    } else {
        format!("@{bare} {text}")
    }
}

/// Text as X shows it back, for comparing: entities unescaped, links (X
/// shortens them) reduced to a marker, whitespace collapsed.
fn canon(s: &str) -> String {
    unescape(s)
        .split_whitespace()
        .map(|w| {
            if w.starts_with("http://") || w.starts_with("https://") {
                "<link>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a reply goes.
#[derive(Clone, Debug, PartialEq)]
enum Target {
    Tweet { reply_to: String, text: String },
    Dm { participant: String, text: String },
}

impl Target {
    /// A private answer, or any answer in a DM conversation (it has no
    /// public tweet to answer), goes by DM; the rest replies to the tweet.
    fn of(out: &OutgoingSocial, our_id: &str) -> Result<Target, String> {
        let dm_thread = out.thread.strip_prefix("dm:");
        let in_dm = dm_thread.is_some()
            || out
                .in_reply_to
                .as_deref()
                .is_some_and(|r| r.starts_with("dm:"));
        if out.private || in_dm {
            let from_thread = dm_thread.and_then(|c| {
                let (a, b) = c.split_once('-')?;
                Some(if a == our_id { b } else { a }.to_string())
            });
            let participant = out
                .recipient
                .clone()
                .filter(|r| !r.trim().is_empty())
                .or(from_thread)
                .ok_or("no X user id to send a direct message to")?;
            return Ok(Target::Dm {
                participant,
                text: out.text.trim().to_string(),
            });
        }
        let reply_to = out
            .in_reply_to
            .clone()
            .filter(|r| !r.is_empty())
            .or_else(|| out.thread.strip_prefix("tweet:").map(str::to_string))
            .ok_or("no tweet to reply to")?;
        Ok(Target::Tweet {
            reply_to,
            text: reply_text(&out.text, &out.handle),
        })
    }
}

// ---------------------------------------------------------------------------
// The connector

/// What one source's walk brought.
#[derive(Debug, Default)]
struct Walked {
    items: Vec<SocialItem>,
    state: SourceState,
}

pub struct XConnector {
    name: String,
    user_id: String,
    token: Secret,
    base: String,
    query: Option<String>,
    idle: Duration,
    send_timeout: Duration,
    http: reqwest::Client,
    limits: Limits,
    /// Replies whose last attempt ended unclear (idempotency key → when the
    /// first such attempt began): looked for before any new post.
    unclear: Mutex<HashMap<String, Ts>>,
}

impl XConnector {
    /// `send_timeout` bounds one post (see [`SEND_TIMEOUT`]).
    pub fn new(cfg: &XChannel, send_timeout: Duration) -> XConnector {
        XConnector {
            name: cfg.name.clone(),
            user_id: cfg.user_id.trim().to_string(),
            token: cfg.bearer_token.clone().unwrap_or_else(|| Secret::new("")),
            base: cfg.base_url.trim_end_matches('/').to_string(),
            query: search_query(&cfg.listening, cfg.user_id.trim()),
            idle: cfg.poll_interval.0,
            send_timeout,
            http: super::http_client(READ_TIMEOUT),
            limits: Limits::default(),
            unclear: Mutex::new(HashMap::new()),
        }
    }

    /// One GET, its rate-limit headers read, its errors classified.
    async fn get<T: DeserializeOwned>(
        &self,
        ep: Ep,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ConnError> {
        if let Some(d) = self.limits.blocked(ep) {
            return Err(ConnError::RateLimited(d));
        }
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token.expose())
            .query(query)
            .send()
            .await
            .map_err(|e| ConnError::Transient(format!("X {path}: {}", e.without_url())))?;
        let status = res.status().as_u16();
        let rest = self.limits.note(ep, status, res.headers());
        let body = res
            .text()
            .await
            .map_err(|e| ConnError::Transient(format!("X {path}: {}", e.without_url())))?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&body)
                .map_err(|e| ConnError::Transient(format!("X {path}: unreadable answer: {e}")));
        }
        Err(error_of(status, &body, rest, path))
    }

    /// Mentions or search hits newer than the source's `since_id`.
    async fn walk_tweets(&self, src: Source, cur: &Cursor) -> Result<Walked, ConnError> {
        let start = SourceState {
            since: cur.since(src).map(str::to_string),
            partial: cur.partial.get(src.key()).cloned(),
        };
        match self.walk_tweets_from(src, &start).await {
            // A `since_id` X no longer accepts (search: older than 7 days):
            // start over; dedupe absorbs what is read again.
            Err(ConnError::Invalid(e)) if start != SourceState::default() => {
                tracing::warn!(channel = %self.name, source = src.key(), error = %e, "X refused the saved position; reading from the newest");
                self.walk_tweets_from(src, &SourceState::default()).await
            }
            other => other,
        }
    }

    async fn walk_tweets_from(
        &self,
        src: Source,
        start: &SourceState,
    ) -> Result<Walked, ConnError> {
        let ep = src.endpoint();
        let (path, token_param) = match src {
            Source::Search => ("/2/tweets/search/recent".to_string(), "next_token"),
            _ => (
                format!("/2/users/{}/mentions", self.user_id),
                "pagination_token",
            ),
        };
        let mut items = Vec::new();
        let mut newest = start.partial.as_ref().map(|p| p.newest.clone());
        let mut oldest: Option<String> = None;
        let mut token: Option<String> = None;
        let mut done = false;
        for page_no in 0..MAX_PAGES {
            if self.limits.blocked(ep).is_some() {
                break;
            }
            let mut q: Vec<(&str, String)> = vec![
                ("max_results", PAGE_SIZE.into()),
                ("expansions", "author_id".into()),
                ("tweet.fields", TWEET_FIELDS.into()),
                ("user.fields", USER_FIELDS.into()),
            ];
            if src == Source::Search {
                let Some(query) = &self.query else {
                    return Ok(Walked {
                        items: vec![],
                        state: start.clone(),
                    });
                };
                q.push(("query", query.clone()));
            }
            if let Some(s) = &start.since {
                q.push(("since_id", s.clone()));
            }
            if let Some(p) = &start.partial {
                q.push(("until_id", p.next.clone()));
            }
            if let Some(t) = &token {
                q.push((token_param, t.clone()));
            }
            let page: Page<Tweet> = match self.get(ep, &path, &q).await {
                Ok(p) => p,
                // Keep what the earlier pages brought.
                Err(ConnError::RateLimited(_)) if page_no > 0 => break,
                Err(e) => return Err(e),
            };
            let users = users_of(page.includes);
            for t in &page.data {
                if start.partial.is_none() {
                    newest = max_id(newest, &t.id);
                }
                oldest = match oldest {
                    Some(o) if !newer(&o, &t.id) => Some(o),
                    _ => Some(t.id.clone()),
                };
                items.extend(tweet_item(&self.name, &self.user_id, t, &users));
            }
            match page.meta.next_token {
                Some(t) if !page.data.is_empty() => token = Some(t),
                _ => {
                    done = true;
                    break;
                }
            }
        }
        let state = if done {
            SourceState {
                since: newest.or_else(|| start.since.clone()),
                partial: None,
            }
        } else if let (Some(newest), Some(next)) = (newest, oldest) {
            SourceState {
                since: start.since.clone(),
                partial: Some(Partial { newest, next }),
            }
        } else {
            start.clone()
        };
        Ok(Walked { items, state })
    }

    /// Direct messages newer than the saved event (X pages them newest
    /// first, without `since_id`).
    async fn walk_dms(&self, cur: &Cursor) -> Result<Walked, ConnError> {
        let start = SourceState {
            since: cur.dm.clone(),
            partial: cur.partial.get(Source::Dm.key()).cloned(),
        };
        match self.walk_dms_from(&start).await {
            // A pagination token X no longer accepts: walk again from the newest.
            Err(ConnError::Invalid(e)) if start.partial.is_some() => {
                tracing::warn!(channel = %self.name, error = %e, "X refused the saved DM page; reading from the newest");
                let fresh = SourceState {
                    since: start.since.clone(),
                    partial: None,
                };
                self.walk_dms_from(&fresh).await
            }
            other => other,
        }
    }

    async fn walk_dms_from(&self, start: &SourceState) -> Result<Walked, ConnError> {
        let mut items = Vec::new();
        let mut newest = start.partial.as_ref().map(|p| p.newest.clone());
        let mut token = start.partial.as_ref().map(|p| p.next.clone());
        let mut done = false;
        let mut progressed = false;
        'pages: for page_no in 0..MAX_PAGES {
            if self.limits.blocked(Ep::DmEvents).is_some() {
                break;
            }
            let mut q: Vec<(&str, String)> = vec![
                ("max_results", PAGE_SIZE.into()),
                ("event_types", "MessageCreate".into()),
                ("dm_event.fields", DM_FIELDS.into()),
                ("expansions", "sender_id".into()),
                ("user.fields", USER_FIELDS.into()),
            ];
            if let Some(t) = &token {
                q.push(("pagination_token", t.clone()));
            }
            let page: Page<DmEvent> = match self.get(Ep::DmEvents, "/2/dm_events", &q).await {
                Ok(p) => p,
                Err(ConnError::RateLimited(_)) if page_no > 0 => break,
                Err(e) => return Err(e),
            };
            progressed = true;
            let users = users_of(page.includes);
            for e in &page.data {
                if start.since.as_deref().is_some_and(|s| !newer(&e.id, s)) {
                    done = true;
                    break 'pages;
                }
                if start.partial.is_none() {
                    newest = max_id(newest, &e.id);
                }
                items.extend(dm_item(&self.name, &self.user_id, e, &users));
            }
            match page.meta.next_token {
                Some(t) if !page.data.is_empty() => token = Some(t),
                _ => {
                    done = true;
                    break;
                }
            }
        }
        let state = if done {
            SourceState {
                since: newest.or_else(|| start.since.clone()),
                partial: None,
            }
        } else if let (true, Some(newest), Some(next)) = (progressed, newest, token) {
            SourceState {
                since: start.since.clone(),
                partial: Some(Partial { newest, next }),
            }
        } else {
            start.clone()
        };
        Ok(Walked { items, state })
    }

    async fn poll_all(&self, cursor: Option<&str>) -> Result<Polled, ConnError> {
        let before = Cursor::parse(cursor);
        let mut cur = before.clone();
        let mut items: Vec<SocialItem> = Vec::new();
        let mut error: Option<ConnError> = None;
        let mut limited: Option<Duration> = None;
        let sources: Vec<Source> = Source::ALL
            .into_iter()
            .filter(|s| *s != Source::Search || self.query.is_some())
            .collect();
        for &src in &sources {
            let walked = match src {
                Source::Dm => self.walk_dms(&cur).await,
                _ => self.walk_tweets(src, &cur).await,
            };
            match walked {
                Ok(w) => {
                    items.extend(w.items);
                    cur.set(src, w.state);
                }
                Err(ConnError::RateLimited(d)) => {
                    limited = Some(limited.map_or(d, |l| l.min(d)));
                }
                Err(e) => {
                    tracing::warn!(channel = %self.name, source = src.key(), error = %e, "X poll failed");
                    error.get_or_insert(e);
                }
            }
        }
        if items.is_empty() && cur == before {
            if let Some(e) = error {
                return Err(e);
            }
            if let Some(d) = limited {
                return Err(ConnError::RateLimited(d));
            }
        }
        // One tweet can be both a mention and a search hit.
        let mut seen = HashSet::new();
        items.retain(|i| seen.insert(i.msg.external_id.clone()));
        items.sort_by(|a, b| {
            let key = |i: &SocialItem| {
                let id = i.msg.external_id.trim_start_matches("dm:").to_string();
                (i.msg.sent_at, id.len(), id)
            };
            key(a).cmp(&key(b))
        });
        let blocked: Vec<Duration> = sources
            .iter()
            .filter_map(|s| self.limits.blocked(s.endpoint()))
            .collect();
        let wait = blocked.iter().min().map(|&d| {
            if blocked.len() == sources.len() {
                d
            } else {
                d.min(self.idle)
            }
        });
        let more = sources.iter().any(|s| {
            cur.partial.contains_key(s.key()) && self.limits.blocked(s.endpoint()).is_none()
        });
        Ok(Polled {
            items,
            cursor: (cur != before).then(|| cur.to_json()),
            more,
            wait,
            statuses: vec![],
        })
    }

    /// One reply: looked for first when an earlier attempt ended unclear.
    async fn send_reply(&self, out: &OutgoingSocial) -> SendResult {
        let target = match Target::of(out, &self.user_id) {
            Ok(t) => t,
            Err(e) => return SendResult::Permanent(e.to_string()),
        };
        let key = out.idempotency_key.clone();
        // An earlier attempt may have reached X: in this process (remembered)
        // or before a restart (the outbox's attempt count; our reply cannot
        // be older than the customer's last message).
        let earlier = self.unclear_since(&key).or_else(|| {
            (out.attempt > 1).then(|| {
                out.last_inbound_at
                    .unwrap_or(Ts(out.now.0.saturating_sub(86_400_000)))
            })
        });
        if let Some(since) = earlier {
            match self.find_posted(&target, since).await {
                Ok(Some(id)) => {
                    self.settle(&key);
                    return SendResult::Posted(id);
                }
                Ok(None) => {}
                Err(e) => return unknown(&e),
            }
        }
        let (ep, path, body) = match &target {
            Target::Tweet { reply_to, text } => (
                Ep::PostTweet,
                "/2/tweets".to_string(),
                serde_json::json!({"text": text, "reply": {"in_reply_to_tweet_id": reply_to}}),
            ),
            Target::Dm { participant, text } => (
                Ep::PostDm,
                format!("/2/dm_conversations/with/{participant}/messages"),
                serde_json::json!({ "text": text }),
            ),
        };
        if let Some(d) = self.limits.blocked(ep) {
            return send_result(ConnError::RateLimited(d));
        }
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.token.expose())
            .timeout(out.timeout.unwrap_or(self.send_timeout))
            .json(&body)
            .send()
            .await;
        let res = match res {
            Ok(r) => r,
            // Never reached X: nothing can have been posted.
            Err(e) if e.is_connect() => {
                return send_result(ConnError::Transient(format!(
                    "X unreachable: {}",
                    e.without_url()
                )));
            }
            Err(e) => {
                let why = if e.is_timeout() {
                    "X did not answer in time".to_string()
                } else {
                    format!("X answer lost: {}", e.without_url())
                };
                return self.unclear(out, &target, why, false).await;
            }
        };
        let status = res.status().as_u16();
        let rest = self.limits.note(ep, status, res.headers());
        let text = match res.text().await {
            Ok(t) => t,
            Err(e) if (200..300).contains(&status) => {
                let why = format!("X answer lost: {}", e.without_url());
                return self.unclear(out, &target, why, false).await;
            }
            Err(_) => String::new(),
        };
        if (200..300).contains(&status) {
            let id = match &target {
                Target::Tweet { .. } => serde_json::from_str::<Single<Created>>(&text)
                    .ok()
                    .map(|c| c.data.id),
                Target::Dm { .. } => serde_json::from_str::<Single<DmCreated>>(&text)
                    .ok()
                    .map(|c| format!("dm:{}", c.data.dm_event_id)),
            };
            self.settle(&key);
            return match id {
                Some(id) => SendResult::Posted(id),
                None => SendResult::Sent,
            };
        }
        let detail = x_detail(&text);
        match status {
            429 => send_result(ConnError::RateLimited(rest.unwrap_or(DEFAULT_REST))),
            401 => send_result(ConnError::Auth(format!("401: {detail}"))),
            500..=599 => {
                let why = format!("X answered {status}: {detail}");
                self.unclear(out, &target, why, true).await
            }
            _ => {
                self.settle(&key);
                SendResult::Permanent(format!("X refused the reply ({status}): {detail}"))
            }
        }
    }

    fn unclear_since(&self, key: &str) -> Option<Ts> {
        let map = self.unclear.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).copied()
    }

    fn settle(&self, key: &str) {
        let mut map = self.unclear.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(key);
    }

    /// An attempt ended without knowing whether X posted the reply: look for
    /// it. `answered`: X itself answered (a 5xx), so a failed look is
    /// retried rather than reported unknown.
    async fn unclear(
        &self,
        out: &OutgoingSocial,
        target: &Target,
        why: String,
        answered: bool,
    ) -> SendResult {
        let since = {
            let mut map = self.unclear.lock().unwrap_or_else(|e| e.into_inner());
            *map.entry(out.idempotency_key.clone()).or_insert(out.now)
        };
        tokio::time::sleep(CHECK_GRACE).await;
        match self.find_posted(target, since).await {
            Ok(Some(id)) => {
                self.settle(&out.idempotency_key);
                SendResult::Posted(id)
            }
            Ok(None) => SendResult::Retry {
                error: format!("{why}; the reply is not on X, sending again"),
                after: None,
            },
            Err(e) if answered => SendResult::Retry {
                error: format!("{why}; could not check X ({e}), looking again before sending"),
                after: None,
            },
            Err(e) => unknown(&e),
        }
    }

    /// Our reply on X, if it is there: among our latest tweets (same text,
    /// in reply to the same tweet) or in the DM conversation (same text, from
    /// us, not older than the first attempt).
    async fn find_posted(&self, target: &Target, since: Ts) -> Result<Option<String>, ConnError> {
        match target {
            Target::Tweet { reply_to, text } => {
                let q = [
                    ("max_results", CHECK_TWEETS.to_string()),
                    ("tweet.fields", TWEET_FIELDS.to_string()),
                ];
                let path = format!("/2/users/{}/tweets", self.user_id);
                let page: Page<Tweet> = self.get(Ep::UserTweets, &path, &q).await?;
                let want = canon(text);
                Ok(page
                    .data
                    .into_iter()
                    .find(|t| {
                        t.referenced_tweets
                            .iter()
                            .any(|r| r.kind == "replied_to" && &r.id == reply_to)
                            && canon(&t.text) == want
                    })
                    .map(|t| t.id))
            }
            Target::Dm { participant, text } => {
                let q = [
                    ("max_results", CHECK_TWEETS.to_string()),
                    ("event_types", "MessageCreate".to_string()),
                    ("dm_event.fields", DM_FIELDS.to_string()),
                ];
                let path = format!("/2/dm_conversations/with/{participant}/dm_events");
                let page: Page<DmEvent> = self.get(Ep::DmWith, &path, &q).await?;
                let want = canon(text);
                let from = since.plus_ms(-CHECK_SKEW_MS);
                Ok(page
                    .data
                    .into_iter()
                    .find(|e| {
                        e.sender_id.as_deref() == Some(self.user_id.as_str())
                            && canon(e.text.as_deref().unwrap_or("")) == want
                            && e.created_at
                                .as_deref()
                                .and_then(Ts::parse)
                                .is_none_or(|t| t >= from)
                    })
                    .map(|e| format!("dm:{}", e.id)))
            }
        }
    }

    async fn check_conn(&self) -> Result<String, ConnError> {
        let me: Single<User> = self.get(Ep::Me, "/2/users/me", &[]).await?;
        if me.data.id != self.user_id {
            return Err(ConnError::Invalid(format!(
                "the token is @{}'s (id {}), but user_id is {}",
                me.data.username, me.data.id, self.user_id
            )));
        }
        Ok(format!("@{}", me.data.username))
    }
}

/// An error answer as a connector error.
fn error_of(status: u16, body: &str, rest: Option<Duration>, path: &str) -> ConnError {
    let detail = x_detail(body);
    match status {
        429 => ConnError::RateLimited(rest.unwrap_or(DEFAULT_REST)),
        _ => classify_status(status, &format!("{detail} ({path})"), rest),
    }
}

/// The reply may or may not be on X and we could not look: never post twice.
fn unknown(e: &ConnError) -> SendResult {
    SendResult::Unknown(format!(
        "delivery unknown: the reply may have been posted, and X could not be checked ({e}); check on X before sending again"
    ))
}

impl Connector for XConnector {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ChannelKind {
        ChannelKind::X
    }

    fn poll<'a>(&'a self, cursor: Option<&'a str>) -> BoxFuture<'a, Result<Polled, ConnError>> {
        Box::pin(self.poll_all(cursor))
    }

    fn idle(&self) -> Duration {
        self.idle
    }

    fn send<'a>(&'a self, out: &'a OutgoingSocial) -> BoxFuture<'a, SendResult> {
        if out.template.is_some() {
            return Box::pin(async { super::no_templates("X") });
        }
        Box::pin(self.send_reply(out))
    }

    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String, ConnError>> {
        Box::pin(self.check_conn())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MENTIONS: &str = r#"{
      "data": [
        {"id": "1860000000000000003", "text": "@tienda mi pedido no llega &amp; nadie contesta",
         "author_id": "2244994945", "conversation_id": "1860000000000000001",
         "created_at": "2026-11-23T10:05:00.000Z", "in_reply_to_user_id": "1001",
         "referenced_tweets": [{"type": "replied_to", "id": "1860000000000000001"}],
         "edit_history_tweet_ids": ["1860000000000000003"]},
        {"id": "1860000000000000002", "text": "hola @tienda",
         "author_id": "999", "conversation_id": "1860000000000000002",
         "created_at": "2026-11-23T10:00:00.000Z",
         "edit_history_tweet_ids": ["1860000000000000002"]}
      ],
      "includes": {"users": [
        {"id": "2244994945", "name": "Ana Pérez", "username": "ana_p",
         "created_at": "2013-12-14T04:35:55.000Z", "description": "Runner. Madrid.",
         "verified": true,
         "public_metrics": {"followers_count": 1200, "following_count": 10, "tweet_count": 5, "listed_count": 1}}
      ]},
      "errors": [{"value": "999", "detail": "Could not find user with id: [999].",
                  "title": "Not Found Error", "resource_type": "user", "parameter": "author_id",
                  "resource_id": "999", "type": "https://api.twitter.com/2/problems/resource-not-found"}],
      "meta": {"result_count": 2, "newest_id": "1860000000000000003",
               "oldest_id": "1860000000000000002", "next_token": "7140dibdnow9c7btw3w29"}
    }"#;

    fn page<T: DeserializeOwned>(s: &str) -> Page<T> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn mentions_map_with_their_authors() {
        let p: Page<Tweet> = page(MENTIONS);
        assert_eq!(p.meta.next_token.as_deref(), Some("7140dibdnow9c7btw3w29"));
        let users = users_of(p.includes);
        let a = tweet_item("x", "1001", &p.data[0], &users).unwrap();
        assert_eq!(a.msg.external_id, "1860000000000000003");
        assert_eq!(a.msg.thread.as_deref(), Some("tweet:1860000000000000001"));
        assert_eq!(a.msg.text, "@tienda mi pedido no llega & nadie contesta");
        assert_eq!(a.msg.kind, ChannelKind::X);
        assert!(a.msg.public && a.mention);
        assert_eq!(a.recipient.as_deref(), Some("2244994945"));
        assert_eq!(
            a.url.as_deref(),
            Some("https://x.com/ana_p/status/1860000000000000003")
        );
        assert_eq!(
            a.msg.sent_at,
            Ts::parse("2026-11-23T10:05:00Z"),
            "created_at with milliseconds"
        );
        let au = &a.msg.author;
        assert_eq!(au.handle, "@ana_p");
        assert_eq!(au.name.as_deref(), Some("Ana Pérez"));
        assert_eq!(au.followers, Some(1200));
        assert!(au.verified);
        assert_eq!(au.account_created_at, Ts::parse("2013-12-14T04:35:55Z"));
        assert_eq!(au.bio.as_deref(), Some("Runner. Madrid."));
    }

    #[test]
    fn a_missing_author_is_known_by_id() {
        let p: Page<Tweet> = page(MENTIONS);
        let users = users_of(p.includes);
        let b = tweet_item("x", "1001", &p.data[1], &users).unwrap();
        assert_eq!(b.msg.author.handle, "id:999");
        assert_eq!(b.msg.author.followers, None);
        assert_eq!(b.recipient.as_deref(), Some("999"));
        assert_eq!(
            b.url.as_deref(),
            Some("https://x.com/i/web/status/1860000000000000002")
        );
        assert_eq!(b.msg.thread.as_deref(), Some("tweet:1860000000000000002"));
    }

    #[test]
    fn our_tweets_and_retweets_are_skipped() {
        let t = |author: &str, refs: &str| -> Tweet {
            serde_json::from_str(&format!(
                r#"{{"id":"5","text":"x","author_id":"{author}","referenced_tweets":[{refs}]}}"#
            ))
            .unwrap()
        };
        let users = Users::new();
        assert!(tweet_item("x", "1001", &t("1001", ""), &users).is_none());
        let rt = t("7", r#"{"type":"retweeted","id":"4"}"#);
        assert!(tweet_item("x", "1001", &rt, &users).is_none());
        let quote = t("7", r#"{"type":"quoted","id":"4"}"#);
        assert!(tweet_item("x", "1001", &quote, &users).is_some());
    }

    #[test]
    fn empty_pages_parse() {
        let p: Page<Tweet> = page(r#"{"meta":{"result_count":0}}"#);
        assert!(p.data.is_empty() && p.meta.next_token.is_none());
    }

    #[test]
    fn dm_events_map_to_private_items() {
        let p: Page<DmEvent> = page(
            r#"{
          "data": [
            {"id": "1582838213148680196", "event_type": "MessageCreate", "text": "Hola, necesito el número de pedido",
             "sender_id": "2244994945", "dm_conversation_id": "1001-2244994945",
             "created_at": "2026-11-23T11:00:00.000Z"},
            {"id": "1582838213148680190", "event_type": "MessageCreate", "text": "¿En qué podemos ayudarte?",
             "sender_id": "1001", "dm_conversation_id": "1001-2244994945",
             "created_at": "2026-11-23T10:59:00.000Z"},
            {"id": "1582838213148680180", "event_type": "ParticipantsJoin",
             "sender_id": "77", "dm_conversation_id": "1001-77"}
          ],
          "includes": {"users": [{"id": "2244994945", "name": "Ana", "username": "ana_p",
                                  "public_metrics": {"followers_count": 3}}]},
          "meta": {"result_count": 3, "next_token": "18LAA581J5II7LA00C00ZZZZ"}
        }"#,
        );
        let users = users_of(p.includes);
        let d = dm_item("x", "1001", &p.data[0], &users).unwrap();
        assert_eq!(d.msg.external_id, "dm:1582838213148680196");
        assert_eq!(d.msg.thread.as_deref(), Some("dm:1001-2244994945"));
        assert!(!d.msg.public && !d.mention);
        assert_eq!(d.recipient.as_deref(), Some("2244994945"));
        assert_eq!(d.msg.author.handle, "@ana_p");
        assert_eq!(d.msg.author.followers, Some(3));
        assert_eq!(
            d.url.as_deref(),
            Some("https://x.com/messages/1001-2244994945")
        );
        assert!(dm_item("x", "1001", &p.data[1], &users).is_none(), "ours");
        assert!(
            dm_item("x", "1001", &p.data[2], &users).is_none(),
            "not a message"
        );
        assert_eq!(dm_pair("2244994945", "1001"), "1001-2244994945");
    }

    #[test]
    fn search_hits_map_like_mentions() {
        let p: Page<Tweet> = page(
            r##"{"data":[{"id":"1860000000000000009","text":"#tienda otra vez sin servicio",
              "author_id":"42","conversation_id":"1860000000000000009",
              "created_at":"2026-11-23T12:00:00.000Z","edit_history_tweet_ids":["1860000000000000009"]}],
              "includes":{"users":[{"id":"42","name":"Bob","username":"bob","verified":false,
              "created_at":"2020-01-01T00:00:00.000Z","description":"",
              "public_metrics":{"followers_count":0}}]},
              "meta":{"newest_id":"1860000000000000009","oldest_id":"1860000000000000009","result_count":1}}"##,
        );
        let users = users_of(p.includes);
        let s = tweet_item("x", "1001", &p.data[0], &users).unwrap();
        assert!(s.mention && s.msg.public);
        assert_eq!(s.msg.author.handle, "@bob");
        assert_eq!(s.msg.author.bio, None, "an empty bio is none");
        assert_eq!(s.msg.author.followers, Some(0));
    }

    fn rules(h: &[&str], t: &[&str], k: &[&str]) -> Listening {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        Listening {
            brand_handles: v(h),
            hashtags: v(t),
            keywords: v(k),
            triggers: None,
        }
    }

    #[test]
    fn search_query_builder() {
        assert_eq!(
            search_query(
                &rules(&["@tienda"], &["tienda"], &["tienda nordia"]),
                "1001"
            )
            .as_deref(),
            Some(r#"(@tienda OR #tienda OR "tienda nordia") -is:retweet -from:1001"#)
        );
        assert_eq!(search_query(&rules(&[], &[], &[]), "1001"), None);
        assert_eq!(
            search_query(&rules(&["  @ "], &["#"], &["   "]), "1001"),
            None
        );
        assert_eq!(
            search_query(
                &rules(&[], &["#Ñandú"], &[r#"el "mejor" \ precio"#]),
                "1001"
            )
            .as_deref(),
            Some(r#"(#Ñandú OR "el \"mejor\" \\ precio") -is:retweet -from:1001"#)
        );
        assert_eq!(
            search_query(
                &rules(&["Tienda", "@tienda"], &[], &["  dos   palabras "]),
                ""
            )
            .as_deref(),
            Some(r#"(@Tienda OR "dos palabras") -is:retweet"#),
            "duplicates dropped, whitespace collapsed, no from: without a numeric id"
        );
        let many: Vec<String> = (0..100).map(|i| format!("palabra{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let q = search_query(&rules(&[], &[], &many), "1001").unwrap();
        assert!(q.chars().count() <= QUERY_MAX, "{}", q.len());
        assert!(q.starts_with("(\"palabra0\" OR") && q.ends_with(") -is:retweet -from:1001"));
    }

    #[test]
    fn cursor_round_trip() {
        assert_eq!(Cursor::parse(None), Cursor::default());
        assert_eq!(Cursor::parse(Some("not json")), Cursor::default());
        let c = Cursor::parse(Some(r#"{"mentions":"10","dm":"20","search":"30"}"#));
        assert_eq!(c.mentions.as_deref(), Some("10"));
        assert_eq!(c.dm.as_deref(), Some("20"));
        assert_eq!(c.search.as_deref(), Some("30"));
        assert_eq!(c.to_json(), r#"{"mentions":"10","dm":"20","search":"30"}"#);
        let mut c = c;
        c.set(
            Source::Mentions,
            SourceState {
                since: Some("10".into()),
                partial: Some(Partial {
                    newest: "99".into(),
                    next: "50".into(),
                }),
            },
        );
        let back = Cursor::parse(Some(&c.to_json()));
        assert_eq!(back, c);
        assert!(
            c.to_json()
                .contains(r#""partial":{"mentions":{"newest":"99","next":"50"}}"#)
        );
        c.set(
            Source::Mentions,
            SourceState {
                since: Some("99".into()),
                partial: None,
            },
        );
        assert_eq!(c.to_json(), r#"{"mentions":"99","dm":"20","search":"30"}"#);
        assert_eq!(Cursor::default().to_json(), "{}");
    }

    #[test]
    fn ids_compare_as_numbers() {
        assert!(newer("1860000000000000010", "1860000000000000009"));
        assert!(newer("100", "99"));
        assert!(!newer("99", "99"));
        assert_eq!(max_id(Some("99".into()), "100").as_deref(), Some("100"));
        assert_eq!(max_id(Some("100".into()), "99").as_deref(), Some("100"));
        assert_eq!(max_id(None, "7").as_deref(), Some("7"));
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn rate_limit_headers() {
        let now = 1_700_000_000_000;
        let ok = headers(&[
            ("x-rate-limit-limit", "450"),
            ("x-rate-limit-remaining", "449"),
            ("x-rate-limit-reset", "1700000900"),
        ]);
        assert_eq!(limit_wait(200, &ok, now), None);
        let spent = headers(&[
            ("x-rate-limit-limit", "450"),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", "1700000002"),
        ]);
        assert_eq!(
            limit_wait(200, &spent, now),
            Some(Duration::from_secs(2) + RESET_MARGIN)
        );
        assert_eq!(
            limit_wait(429, &spent, now + 500),
            Some(Duration::from_millis(1500) + RESET_MARGIN)
        );
        // A reset already past: only the margin.
        assert_eq!(limit_wait(200, &spent, now + 5000), Some(RESET_MARGIN));
        // 429 with a window that still has room (e.g. a 24-hour limit).
        assert_eq!(
            limit_wait(429, &ok, now),
            Some(Duration::from_secs(900) + RESET_MARGIN)
        );
        assert_eq!(limit_wait(429, &HeaderMap::new(), now), Some(DEFAULT_REST));
        let daily = headers(&[
            ("x-rate-limit-remaining", "99"),
            ("x-rate-limit-reset", "1700000900"),
            ("x-user-limit-24hour-remaining", "0"),
            ("x-user-limit-24hour-reset", "1700050000"),
        ]);
        assert_eq!(
            limit_wait(201, &daily, now),
            Some(Duration::from_secs(50_000) + RESET_MARGIN)
        );
        let junk = headers(&[("x-rate-limit-remaining", "zero")]);
        assert_eq!(limit_wait(200, &junk, now), None);
    }

    #[test]
    fn limits_block_until_the_reset() {
        let l = Limits::default();
        assert!(l.blocked(Ep::Mentions).is_none());
        let reset = (now_ms() / 1000 + 3).to_string();
        l.note(
            Ep::Mentions,
            200,
            &headers(&[
                ("x-rate-limit-remaining", "0"),
                ("x-rate-limit-reset", &reset),
            ]),
        );
        let d = l.blocked(Ep::Mentions).unwrap();
        assert!(
            d > Duration::from_secs(1) && d <= Duration::from_secs(4),
            "{d:?}"
        );
        assert!(
            l.blocked(Ep::DmEvents).is_none(),
            "windows are per endpoint"
        );
    }

    #[test]
    fn error_details() {
        let body = r#"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#;
        assert_eq!(
            error_of(429, body, Some(Duration::from_secs(3)), "/2/dm_events"),
            ConnError::RateLimited(Duration::from_secs(3))
        );
        let forbidden = r#"{"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403}"#;
        assert_eq!(
            x_detail(forbidden),
            "You are not allowed to create a Tweet with duplicate content."
        );
        let invalid = r#"{"errors":[{"parameters":{"max_results":["1000"]},"message":"The `max_results` query parameter value [1000] is not between 5 and 100"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}"#;
        assert!(
            matches!(error_of(400, invalid, None, "/p"), ConnError::Invalid(e) if e.contains("One or more parameters"))
        );
        assert!(matches!(
            error_of(401, "{}", None, "/p"),
            ConnError::Auth(_)
        ));
        assert!(matches!(
            error_of(503, "", None, "/p"),
            ConnError::Transient(_)
        ));
        assert_eq!(x_detail(r#"{"errors":[{"message":"boom"}]}"#), "boom");
        assert_eq!(x_detail("plain"), "plain");
    }

    #[test]
    fn reply_text_prefixes_the_handle_once() {
        assert_eq!(
            reply_text("Te escribimos por DM", "@ana_p"),
            "@ana_p Te escribimos por DM"
        );
        assert_eq!(reply_text("@Ana_P hola", "@ana_p"), "@Ana_P hola");
        assert_eq!(reply_text("gracias @ana_p!", "@ana_p"), "gracias @ana_p!");
        assert_eq!(reply_text("hola @ana_pz", "@ana_p"), "@ana_p hola @ana_pz");
        assert_eq!(
            reply_text(" hola ", "id:999"),
            "hola",
            "unknown author: no handle"
        );
    }

    #[test]
    fn texts_compare_as_x_shows_them() {
        assert_eq!(
            canon("@ana  a &amp; b https://t.co/xyz"),
            canon("@ana a & b https://tienda.example/pedido/1")
        );
        assert_ne!(canon("@ana hola"), canon("@ana hola!"));
    }

    fn out(private: bool, thread: &str, in_reply_to: Option<&str>) -> OutgoingSocial {
        OutgoingSocial {
            idempotency_key: "k".into(),
            text: "hola".into(),
            private,
            in_reply_to: in_reply_to.map(str::to_string),
            thread: thread.into(),
            recipient: Some("2244994945".into()),
            handle: "@ana_p".into(),
            ..Default::default()
        }
    }

    #[test]
    fn reply_targets() {
        assert_eq!(
            Target::of(&out(false, "tweet:1", Some("3")), "1001"),
            Ok(Target::Tweet {
                reply_to: "3".into(),
                text: "@ana_p hola".into()
            })
        );
        assert_eq!(
            Target::of(&out(true, "tweet:1", Some("3")), "1001"),
            Ok(Target::Dm {
                participant: "2244994945".into(),
                text: "hola".into()
            })
        );
        // An answer in a DM conversation is a DM even when not marked private.
        let mut o = out(false, "dm:1001-2244994945", Some("dm:9"));
        o.recipient = None;
        assert_eq!(
            Target::of(&o, "1001"),
            Ok(Target::Dm {
                participant: "2244994945".into(),
                text: "hola".into()
            })
        );
        assert_eq!(
            Target::of(&out(false, "tweet:1", None), "1001"),
            Ok(Target::Tweet {
                reply_to: "1".into(),
                text: "@ana_p hola".into()
            })
        );
        let mut o = out(true, "tweet:1", Some("3"));
        o.recipient = None;
        assert!(Target::of(&o, "1001").is_err());
        assert!(Target::of(&out(false, "other", None), "1001").is_err());
    }

    fn channel(token: Option<&str>) -> XChannel {
        XChannel {
            name: "x".into(),
            user_id: "1001".into(),
            bearer_token: token.map(Secret::new),
            base_url: "http://127.0.0.1:9".into(),
            poll_interval: crate::config::Dur(Duration::from_secs(7)),
            listening: Listening::default(),
        }
    }

    #[test]
    fn connector_needs_a_token() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        assert!(connector(&channel(None)).is_none());
        assert!(connector(&channel(Some(" "))).is_none());
        let c = connector(&channel(Some("tok"))).unwrap();
        assert_eq!(c.name(), "x");
        assert_eq!(c.kind(), ChannelKind::X);
        assert_eq!(c.idle(), Duration::from_secs(7));
        assert!(CONNECTED && super::super::connected("x"));
    }
}
