//! The Mastodon connector: the only code that speaks the Mastodon client API
//! (also served by GoToSocial, Akkoma and friends).
//!
//! **Reading.** Mentions arrive as notifications:
//! `GET /api/v1/notifications?types[]=mention&since_id=S&limit=40`. Mastodon
//! pages newest first (`Link: <…max_id=…>; rel="next"` goes older), so a
//! round starts with the newest page above the saved id and follows `next`
//! until it reaches that id; its items are then emitted oldest first and the
//! cursor becomes the newest notification id of the round (a plain id
//! string). A round reads at most [`MAX_PAGES`] pages per poll. When it is cut
//! short (the page cap or a rate limit) the items read so far are stored
//! anyway, and the cursor becomes a small JSON object ([`Position`]) that
//! keeps the old id, the round's newest id and the oldest id stored, so the
//! next poll continues older from there (`max_id`) and the cursor never
//! passes a mention that was not stored with it. A crash re-reads at most one
//! poll, which dedupe on the status id absorbs. (The price of newest-first
//! paging: in a backlog longer than one poll, older mentions are stored after
//! newer ones.) A new channel (no cursor) reads the mention history the
//! instance keeps, the same way, [`MAX_PAGES`] pages per poll.
//!
//! Only the query of a `Link` target is used, applied to our own `base_url`:
//! an instance behind a proxy may name another host in its links, and the
//! access token must never be sent anywhere but `base_url`.
//!
//! **Threads.** Statuses carry no conversation id in the client API, and
//! walking `in_reply_to_id` chains costs a request per status, so there is
//! no explicit thread key: ingest threads by the author's identity. All of
//! one account's mentions and direct messages form one conversation (reopened
//! or started anew by ingest's reopen window), so "please DM us" keeps one
//! conversation, and a mention promoted from the listening stream (ingested
//! without a thread) lands in the same conversation as that account's DMs.
//!
//! **Public and private.** `visibility == "direct"` is a private message: it
//! always opens a conversation (`mention: false`, `public: false`). Public and
//! unlisted mentions are public (`mention: true`: the listening rules decide
//! whether they open a conversation or go to the Mentions stream);
//! followers-only (`private`) mentions are listened to the same way but are
//! not public.
//!
//! **Identities.** The handle is `@user@domain`: Mastodon's `acct` has no
//! domain for accounts of our own instance, so the domain of the account's
//! profile URL is added (two instances' `@ana` are different people). The
//! private-answer target (`recipient`) stays the raw `acct`, which is how our
//! instance resolves the mention. `fields[].verified_at` (a link the account
//! proved it owns) counts as verified; Mastodon has no other verification.
//!
//! **Rate limits.** Every answer's `X-RateLimit-Remaining` /
//! `X-RateLimit-Reset` (an ISO 8601 time) are read. Remaining 0 ends the poll
//! with what it has and `wait` until the reset; 429 is
//! [`ConnError::RateLimited`]. The reset is measured against the answer's
//! `Date` header when there is one (the server's own clock; `Date` has whole
//! seconds, which only makes the wait longer), and no call is made before it
//! (kept in memory; reads and posts are limited separately, as Mastodon does).
//!
//! **Sending.** `POST /api/v1/statuses` with `in_reply_to_id`, `visibility`
//! `public` or `direct`, the text prefixed with `@acct` (a direct status
//! reaches exactly the accounts it mentions) and `Idempotency-Key` = the
//! outbox row's key: Mastodon answers a repeat of the key within an hour with
//! the status already posted, so an attempt that timed out is simply retried.
//! An attempt waits at most `[outbox] timeout` (`OutgoingSocial::timeout`),
//! or [`SEND_TIMEOUT`] when the caller gives none.
//! 422 (too long, blank…) is permanent with Mastodon's reason, as is 404 for
//! a status that was deleted; 429 retries after the reset; 5xx and network
//! failures retry.

use super::{ConnError, Connector, OutgoingSocial, Polled, SocialItem, send_result};
use crate::channels::SendResult;
use crate::config::{MastodonChannel, Secret};
use crate::domain::{ChannelKind, Ts};
use crate::ingest::{AuthorProfile, InboundMessage, html_to_text, sanitize_html};
use futures_util::future::BoxFuture;
use reqwest::Url;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::cmp::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Whether this version connects the network (false: reported as pending).
pub const CONNECTED: bool = true;

/// Notifications per page (Mastodon's default; its maximum is 80).
pub const PAGE_LIMIT: u32 = 40;
/// Pages read per poll; the rest of a round waits for the next poll (at once).
pub const MAX_PAGES: usize = 5;
/// Longest wait for one read.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for one post. The connector does not see `[outbox] timeout`
/// (see the module documentation). A post that times out is retried with the same
/// `Idempotency-Key`, so a slow instance costs a request, never a double post.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Rest after a 429 that says nothing about its reset.
const DEFAULT_REST: Duration = Duration::from_secs(60);
/// Longest rest believed from a header (a bogus reset must not stop us for days).
const MAX_REST: Duration = Duration::from_secs(3600);
/// Largest answer read (a page of 40 notifications is far below this).
const MAX_BODY: usize = 16 << 20;
/// Where mentions are read.
const ENDPOINT_NOTIFICATIONS: &str = "/api/v1/notifications";

/// The connector for one configured channel: `None` (with a warning) when it
/// has no access token or its `base_url` is not an http(s) URL.
pub fn connector(cfg: &MastodonChannel) -> Option<Arc<dyn Connector>> {
    let Some(token) = cfg
        .access_token
        .as_ref()
        .filter(|t| !t.expose().trim().is_empty())
    else {
        tracing::warn!(channel = %cfg.name, "mastodon channel has no access_token; it is not polled");
        return None;
    };
    let base = cfg.base_url.trim().trim_end_matches('/').to_string();
    match Url::parse(&base) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
        _ => {
            tracing::warn!(channel = %cfg.name, base_url = %cfg.base_url, "mastodon channel's base_url is not an http(s) URL; it is not polled");
            return None;
        }
    }
    Some(Arc::new(Mastodon {
        name: cfg.name.clone(),
        base,
        token: Secret::new(token.expose().trim()),
        idle: cfg.poll_interval.0,
        client: super::http_client(READ_TIMEOUT),
        not_before: Mutex::new([None, None]),
    }))
}

/// One Mastodon account (the channel's access token) on one instance.
pub struct Mastodon {
    name: String,
    /// The instance, without a trailing slash.
    base: String,
    token: Secret,
    idle: Duration,
    client: reqwest::Client,
    /// No call of a [`Family`] before this instant (its limit was reached).
    not_before: Mutex<[Option<Instant>; 2]>,
}

impl std::fmt::Debug for Mastodon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mastodon")
            .field("name", &self.name)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------
// The API's JSON, leniently: every field may be missing or null.

/// A Mastodon id: a string (Mastodon, GoToSocial) or, leniently, a number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Id(String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) => Id(s),
            Value::Number(n) => Id(n.to_string()),
            _ => Id(String::new()),
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Notification {
    id: Id,
    #[serde(rename = "type")]
    kind: Option<String>,
    account: Option<Account>,
    status: Option<Status>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Status {
    id: Id,
    created_at: Option<String>,
    visibility: Option<String>,
    content: Option<String>,
    spoiler_text: Option<String>,
    url: Option<String>,
    uri: Option<String>,
    account: Option<Account>,
    media_attachments: Vec<Media>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Account {
    acct: Option<String>,
    username: Option<String>,
    display_name: Option<String>,
    url: Option<String>,
    note: Option<String>,
    followers_count: Option<i64>,
    created_at: Option<String>,
    fields: Vec<Field>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Field {
    verified_at: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Media {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
    remote_url: Option<String>,
    description: Option<String>,
}

// ---------------------------------------------------------------------------
// Mapping (pure).

/// Escape text for inclusion in HTML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Plain text of untrusted HTML (sanitized first, so scripts and styles are
/// gone with their content).
fn text_of(html: &str) -> String {
    html_to_text(&sanitize_html(html))
}

/// The host of a URL, if it has one.
fn host_of(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
}

/// `@user@domain`: `acct` as given when it names a domain (a remote
/// account), else with the domain of the profile URL (a local account), else
/// with `instance_host`.
fn qualified_handle(acct: &str, profile_url: Option<&str>, instance_host: &str) -> String {
    let acct = acct.trim().trim_start_matches('@');
    if acct.contains('@') {
        return format!("@{acct}");
    }
    let host = profile_url
        .and_then(host_of)
        .unwrap_or_else(|| instance_host.to_string());
    format!("@{acct}@{host}")
}

fn profile(a: &Account, instance_host: &str) -> Option<(AuthorProfile, String)> {
    let acct = a
        .acct
        .as_deref()
        .or(a.username.as_deref())
        .map(|s| s.trim().trim_start_matches('@'))
        .filter(|s| !s.is_empty())?
        .to_string();
    let bio = a
        .note
        .as_deref()
        .map(text_of)
        .filter(|b| !b.trim().is_empty());
    let author = AuthorProfile {
        handle: qualified_handle(&acct, a.url.as_deref(), instance_host),
        name: a
            .display_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        email: None,
        // Some servers hide counts as -1.
        followers: a
            .followers_count
            .filter(|n| *n >= 0)
            .and_then(|n| u64::try_from(n).ok()),
        verified: a.fields.iter().any(|f| f.verified_at.is_some()),
        account_created_at: a.created_at.as_deref().and_then(Ts::parse),
        bio,
    };
    Some((author, acct))
}

/// The item of one notification: `None` for anything but a mention with its
/// status and author (other types, a deleted status).
fn item_of(channel: &str, n: &Notification, instance_host: &str) -> Option<SocialItem> {
    if n.kind.as_deref() != Some("mention") {
        return None;
    }
    let s = n.status.as_ref()?;
    if s.id.0.trim().is_empty() {
        return None;
    }
    let account = s.account.as_ref().or(n.account.as_ref())?;
    let (author, acct) = profile(account, instance_host)?;
    let visibility = s.visibility.as_deref().unwrap_or("public");
    let direct = visibility == "direct";
    let content = s.content.clone().unwrap_or_default();
    let spoiler = s
        .spoiler_text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let mut html = String::new();
    let mut text = String::new();
    if let Some(cw) = spoiler {
        html.push_str(&format!("<p>CW: {}</p>", escape(cw)));
        text.push_str(&format!("CW: {cw}\n"));
    }
    html.push_str(&content);
    text.push_str(&text_of(&content));
    for m in &s.media_attachments {
        let Some(url) = m.url.as_deref().or(m.remote_url.as_deref()) else {
            continue;
        };
        let kind = m.kind.as_deref().unwrap_or("media");
        let label = match m.description.as_deref().map(str::trim) {
            Some(d) if !d.is_empty() => format!("[{kind}: {d}]"),
            _ => format!("[{kind}]"),
        };
        html.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>",
            escape(url),
            escape(&label)
        ));
        text.push_str(&format!("\n{label} {url}"));
    }
    let text = text.trim().to_string();
    if text.is_empty() {
        return None;
    }
    Some(SocialItem {
        msg: InboundMessage {
            channel: channel.to_string(),
            kind: ChannelKind::Mastodon,
            external_id: s.id.0.trim().to_string(),
            thread: None,
            author,
            text,
            html: Some(html),
            subject: None,
            attachments: vec![],
            public: matches!(visibility, "public" | "unlisted"),
            sent_at: s.created_at.as_deref().and_then(Ts::parse),
        },
        mention: !direct,
        recipient: Some(acct),
        url: s.url.clone().or_else(|| s.uri.clone()),
    })
}

/// Order of two notification ids: numerically when both are numbers
/// (Mastodon's), else shorter first, then bytewise (sortable string ids).
fn cmp_ids(a: &str, b: &str) -> Ordering {
    match (a.parse::<u128>(), b.parse::<u128>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
    }
}

// ---------------------------------------------------------------------------
// The cursor and one round of pages (pure).

/// Where polling stands: the decoded cursor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Every mention up to this notification id is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// A round cut short: its newest id, and the oldest id stored so far.
    /// The notifications between `since` and `max` are still to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
}

impl Position {
    /// A saved cursor: a plain id, or the JSON of a round cut short. An
    /// unreadable one (written by something else) starts over; dedupe keeps
    /// the re-read mentions from being stored twice.
    pub fn decode(cursor: Option<&str>) -> Position {
        let Some(c) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
            return Position::default();
        };
        if c.starts_with('{') {
            return match serde_json::from_str::<Position>(c) {
                Ok(p) if p.top.is_some() == p.max.is_some() => p,
                _ => {
                    tracing::warn!(cursor = %c, "unreadable mastodon cursor; reading from the start");
                    Position::default()
                }
            };
        }
        Position {
            since: Some(c.to_string()),
            top: None,
            max: None,
        }
    }

    /// The cursor text: the plain id between rounds.
    pub fn encode(&self) -> Option<String> {
        match (&self.top, &self.max) {
            (None, None) => self.since.clone(),
            _ => serde_json::to_string(self).ok(),
        }
    }

    /// The query of the round's first request.
    pub fn first_query(&self) -> Vec<(String, String)> {
        let mut q = base_query();
        match (&self.max, &self.since) {
            (Some(max), _) => q.push(("max_id".into(), max.clone())),
            (None, Some(since)) => q.push(("since_id".into(), since.clone())),
            (None, None) => {}
        }
        q
    }
}

fn base_query() -> Vec<(String, String)> {
    vec![
        ("types[]".into(), "mention".into()),
        ("limit".into(), PAGE_LIMIT.to_string()),
    ]
}

/// One round of pages, as they come.
#[derive(Debug)]
pub struct Round {
    start: Position,
    /// The newest id of the round (from the saved position or the first page).
    top: Option<String>,
    /// The oldest id read in this round.
    oldest: Option<String>,
    /// (notification id, item), newest first as read.
    items: Vec<(String, SocialItem)>,
    /// The saved id (or the end of the list) was reached: the round is complete.
    reached: bool,
}

impl Round {
    pub fn new(start: Position) -> Round {
        Round {
            top: start.top.clone(),
            oldest: start.max.clone(),
            start,
            items: Vec::new(),
            reached: false,
        }
    }

    /// Whether `id` is above the saved position.
    fn is_new(&self, id: &str) -> bool {
        self.start
            .since
            .as_deref()
            .is_none_or(|s| cmp_ids(id, s) == Ordering::Greater)
    }

    /// Take one page (a JSON array of notifications). Returns the number of
    /// notifications on it. An empty page, or one reaching the saved id, ends
    /// the round.
    pub fn absorb(&mut self, channel: &str, page: &[Value], instance_host: &str) -> usize {
        if page.is_empty() {
            self.reached = true;
        }
        for raw in page {
            let n = match Notification::deserialize(raw) {
                Ok(n) => n,
                Err(e) => {
                    // Keep going: its id still moves the cursor if it has one.
                    tracing::warn!(channel = %channel, error = %e, "unreadable mastodon notification skipped");
                    Notification {
                        id: raw
                            .get("id")
                            .and_then(|v| Id::deserialize(v).ok())
                            .unwrap_or_default(),
                        ..Default::default()
                    }
                }
            };
            let id = n.id.0.trim();
            if id.is_empty() {
                continue;
            }
            if !self.is_new(id) {
                self.reached = true;
                continue;
            }
            if self
                .top
                .as_deref()
                .is_none_or(|t| cmp_ids(id, t) == Ordering::Greater)
            {
                self.top = Some(id.to_string());
            }
            if self
                .oldest
                .as_deref()
                .is_none_or(|o| cmp_ids(id, o) == Ordering::Less)
            {
                self.oldest = Some(id.to_string());
            }
            if let Some(item) = item_of(channel, &n, instance_host) {
                self.items.push((id.to_string(), item));
            }
        }
        page.len()
    }

    /// The round ends here (when `complete`) or is cut short: its items oldest
    /// first, and the cursor covering exactly them (`None`: unchanged).
    pub fn finish(mut self, complete: bool) -> (Vec<SocialItem>, Option<String>) {
        let complete = complete || self.reached;
        self.items.sort_by(|a, b| cmp_ids(&a.0, &b.0));
        let mut seen = std::collections::HashSet::new();
        let items: Vec<SocialItem> = self
            .items
            .into_iter()
            .map(|(_, i)| i)
            .filter(|i| seen.insert(i.msg.external_id.clone()))
            .collect();
        let next = if complete {
            Position {
                since: self.top.clone().or(self.start.since.clone()),
                top: None,
                max: None,
            }
        } else {
            Position {
                since: self.start.since.clone(),
                top: self.top.clone(),
                max: self.oldest.clone(),
            }
        };
        let cursor = (next != self.start).then(|| next.encode()).flatten();
        (items, cursor)
    }
}

// ---------------------------------------------------------------------------
// HTTP details (pure).

/// The target of the `Link` header entry with relation `rel`, if any.
pub fn link_target(header: &str, rel: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let target = &after[..close];
        let tail = &after[close + 1..];
        // The parameters run to the next entry's `<`.
        let params = &tail[..tail.find('<').unwrap_or(tail.len())];
        let matches = params.split(';').any(|p| {
            let Some((k, v)) = p.split_once('=') else {
                return false;
            };
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case(rel))
        });
        if matches {
            return Some(target.trim().to_string());
        }
        rest = tail;
    }
    None
}

/// The query of the next (older) page: a `rel="next"` link's query (its
/// host and path are ignored, see the module documentation), else `max_id`
/// = the oldest id of the page when the server sent no link. Always with
/// `types[]=mention` and a limit.
pub fn next_query(
    link: Option<&str>,
    base: &str,
    oldest_on_page: Option<&str>,
) -> Option<Vec<(String, String)>> {
    let from_link = link.and_then(|l| link_target(l, "next")).and_then(|t| {
        let base = Url::parse(&format!("{base}/")).ok()?;
        let u = base.join(&t).ok()?;
        let q: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        q.iter().any(|(k, _)| k == "max_id").then_some(q)
    });
    let mut q = match (from_link, oldest_on_page) {
        (Some(q), _) => q,
        (None, Some(oldest)) => vec![("max_id".to_string(), oldest.to_string())],
        (None, None) => return None,
    };
    if !q.iter().any(|(k, _)| k == "types[]") {
        q.push(("types[]".into(), "mention".into()));
    }
    if !q.iter().any(|(k, _)| k == "limit") {
        q.push(("limit".into(), PAGE_LIMIT.to_string()));
    }
    Some(q)
}

/// What an answer said about the rate limit.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RateLimit {
    pub remaining: Option<u64>,
    /// How long until the limit resets.
    pub reset_in: Option<Duration>,
}

impl RateLimit {
    /// From the `X-RateLimit-Remaining`, `X-RateLimit-Reset` (ISO 8601) and
    /// `Date` values; `now` is used when there is no `Date`.
    pub fn parse(
        remaining: Option<&str>,
        reset: Option<&str>,
        date: Option<&str>,
        now: jiff::Timestamp,
    ) -> RateLimit {
        let remaining = remaining.and_then(|r| {
            let r = r.trim();
            r.parse::<u64>()
                .ok()
                .or_else(|| r.parse::<f64>().ok().map(|f| f.max(0.0) as u64))
        });
        let server_now = date
            .and_then(|d| {
                jiff::fmt::rfc2822::DateTimeParser::new()
                    .parse_timestamp(d.trim())
                    .ok()
            })
            .unwrap_or(now);
        let reset_in = reset
            .and_then(|r| r.trim().parse::<jiff::Timestamp>().ok())
            .map(|t| {
                let ms = t.as_millisecond() - server_now.as_millisecond();
                Duration::from_millis(ms.max(0) as u64).min(MAX_REST)
            });
        RateLimit {
            remaining,
            reset_in,
        }
    }

    fn from_headers(h: &HeaderMap) -> RateLimit {
        let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
        RateLimit::parse(
            get("x-ratelimit-remaining"),
            get("x-ratelimit-reset"),
            get("date"),
            jiff::Timestamp::now(),
        )
    }

    /// The rest required before the next call: the limit is used up.
    pub fn exhausted(&self) -> Option<Duration> {
        match self.remaining {
            Some(0) => Some(self.reset_in.unwrap_or(DEFAULT_REST)).filter(|d| !d.is_zero()),
            _ => None,
        }
    }
}

/// The human part of a Mastodon error body (`{"error": "…"}`), else its start.
pub fn error_text(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let main = v.get("error").and_then(Value::as_str);
        let more = v.get("error_description").and_then(Value::as_str);
        match (main, more) {
            (Some(a), Some(b)) if a != b => return format!("{a}: {b}"),
            (Some(a), _) => return a.to_string(),
            _ => {}
        }
    }
    let t: String = body.trim().chars().take(300).collect();
    if t.is_empty() { "no details".into() } else { t }
}

/// The status text of a reply: it must mention the customer first, or a
/// direct status would reach nobody (and a public one would not notify them).
pub fn reply_text(text: &str, mention: &str) -> String {
    let mention = format!("@{}", mention.trim().trim_start_matches('@'));
    let text = text.trim();
    let lower_text = text.to_lowercase();
    let lower_mention = mention.to_lowercase();
    let already = lower_text.strip_prefix(&lower_mention).is_some_and(|rest| {
        rest.is_empty() || rest.starts_with(char::is_whitespace) || rest.starts_with([',', ':'])
    });
    if already || mention == "@" {
        text.to_string()
    } else {
        format!("{mention} {text}")
    }
}

/// Mastodon keeps separate limits for API calls (300 per 5 minutes) and for
/// posting (300 statuses per 3 hours), and a post's `X-RateLimit-*` headers
/// report the posting one: each family rests on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Read = 0,
    Post = 1,
}

/// One answer, read.
struct Answer {
    family: Family,
    status: u16,
    body: String,
    link: Option<String>,
    rate: RateLimit,
    retry_after: Option<Duration>,
}

/// A reqwest failure, without anything but the URL (which holds no secret).
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {}s", timeout.as_secs())
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        e.to_string()
    }
}

impl Mastodon {
    /// The rest still owed to a family's rate limit, if any.
    fn must_wait(&self, f: Family) -> Option<Duration> {
        let g = self.not_before.lock().unwrap_or_else(|p| p.into_inner());
        g[f as usize]
            .and_then(|t| t.checked_duration_since(Instant::now()))
            .filter(|d| !d.is_zero())
    }

    fn rest(&self, f: Family, d: Duration) {
        let mut g = self.not_before.lock().unwrap_or_else(|p| p.into_inner());
        let until = Instant::now() + d;
        if g[f as usize].is_none_or(|t| t < until) {
            g[f as usize] = Some(until);
        }
    }

    fn host(&self) -> String {
        host_of(&self.base).unwrap_or_default()
    }

    /// Send one request (with the token) and read its answer; remembers the
    /// rate limit it reports.
    async fn exchange(
        &self,
        family: Family,
        req: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<Answer, ConnError> {
        if let Some(d) = self.must_wait(family) {
            return Err(ConnError::RateLimited(d));
        }
        let mut res = req
            .bearer_auth(self.token.expose())
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| ConnError::Transient(describe(&e, timeout)))?;
        let h = res.headers();
        let rate = RateLimit::from_headers(h);
        let link = h
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let retry_after = h
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_REST));
        let status = res.status().as_u16();
        if let Some(d) = rate.exhausted() {
            self.rest(family, d);
        }
        let mut buf = Vec::new();
        loop {
            match res.chunk().await {
                Ok(Some(chunk)) => {
                    if buf.len() + chunk.len() > MAX_BODY {
                        return Err(ConnError::Transient(format!(
                            "answer larger than {} MB",
                            MAX_BODY >> 20
                        )));
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(ConnError::Transient(describe(&e, timeout))),
            }
        }
        Ok(Answer {
            family,
            status,
            body: String::from_utf8_lossy(&buf).into_owned(),
            link,
            rate,
            retry_after,
        })
    }

    /// The error of a non-2xx answer; a 429 also stops the calls of its
    /// family until the reset.
    fn failure(&self, a: &Answer, what: &str) -> ConnError {
        let text = error_text(&a.body);
        match a.status {
            429 => {
                let d = a.rate.reset_in.or(a.retry_after).unwrap_or(DEFAULT_REST);
                self.rest(a.family, d);
                ConnError::RateLimited(d)
            }
            401 => ConnError::Auth(format!(
                "{what}: the access token was refused (expired or revoked?): {text}"
            )),
            403 => ConnError::Auth(format!(
                "{what}: the access token may not do this (missing scope, suspended account?): {text}"
            )),
            408 | 500..=599 => ConnError::Transient(format!("{what}: {}: {text}", a.status)),
            s => ConnError::Invalid(format!("{what}: {s}: {text}")),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn poll_mentions(&self, cursor: Option<&str>) -> Result<Polled, ConnError> {
        let host = self.host();
        let mut round = Round::new(Position::decode(cursor));
        let mut query = round.start.first_query();
        let mut wait = None;
        let mut complete = false;
        for page_no in 0..MAX_PAGES {
            let req = self
                .client
                .get(self.url(ENDPOINT_NOTIFICATIONS))
                .query(&query);
            let answer = match self.exchange(Family::Read, req, READ_TIMEOUT).await {
                Ok(a) if (200..300).contains(&a.status) => a,
                Ok(a) => match self.failure(&a, "reading notifications") {
                    // Keep what the earlier pages brought.
                    ConnError::RateLimited(d) if page_no > 0 => {
                        wait = Some(d);
                        break;
                    }
                    e => return Err(e),
                },
                Err(ConnError::RateLimited(d)) if page_no > 0 => {
                    wait = Some(d);
                    break;
                }
                Err(e) => return Err(e),
            };
            let page: Vec<Value> = match serde_json::from_str(&answer.body) {
                Ok(Value::Array(a)) => a,
                Ok(_) | Err(_) => {
                    return Err(ConnError::Transient(format!(
                        "reading notifications: the answer is not a list: {}",
                        error_text(&answer.body)
                    )));
                }
            };
            round.absorb(&self.name, &page, &host);
            let oldest_on_page = page
                .iter()
                .filter_map(|n| n.get("id").and_then(|v| Id::deserialize(v).ok()))
                .map(|i| i.0)
                .filter(|i| !i.is_empty())
                .min_by(|a, b| cmp_ids(a, b));
            let next = next_query(
                answer.link.as_deref(),
                &self.base,
                oldest_on_page.as_deref(),
            );
            if round.reached || next.is_none() {
                complete = true;
            }
            if let Some(d) = answer.rate.exhausted() {
                wait = Some(d);
                break;
            }
            match next {
                Some(q) if !complete => query = q,
                _ => break,
            }
        }
        let more = !complete && wait.is_none();
        let (items, cursor) = round.finish(complete);
        Ok(Polled {
            items,
            cursor,
            more,
            wait,
            statuses: vec![],
        })
    }

    async fn post_status(&self, out: &OutgoingSocial) -> SendResult {
        let mention = out
            .recipient
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .unwrap_or(&out.handle);
        let status = reply_text(&out.text, mention);
        let mut form: Vec<(&str, &str)> = vec![
            ("status", status.as_str()),
            ("visibility", if out.private { "direct" } else { "public" }),
        ];
        if let Some(id) = out.in_reply_to.as_deref().filter(|i| !i.trim().is_empty()) {
            form.push(("in_reply_to_id", id));
        }
        let mut req = self.client.post(self.url("/api/v1/statuses")).form(&form);
        if !out.idempotency_key.is_empty() {
            req = req.header("Idempotency-Key", &out.idempotency_key);
        }
        let wait = out.timeout.unwrap_or(SEND_TIMEOUT);
        let answer = match self.exchange(Family::Post, req, wait).await {
            Ok(a) => a,
            // A timeout or a cut connection: the key makes the retry safe.
            Err(e) => return send_result(e),
        };
        match answer.status {
            200..=299 => {
                let id = serde_json::from_str::<Value>(&answer.body)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| Id::deserialize(i).ok()))
                    .map(|i| i.0)
                    .filter(|i| !i.is_empty());
                match id {
                    Some(id) => SendResult::Posted(id),
                    None => SendResult::Sent,
                }
            }
            422 => SendResult::Permanent(format!(
                "Mastodon refused the reply: {}",
                error_text(&answer.body)
            )),
            404 if out.in_reply_to.is_some() => SendResult::Permanent(format!(
                "the status being answered was deleted or is not visible to us: {}",
                error_text(&answer.body)
            )),
            _ => send_result(self.failure(&answer, "posting the reply")),
        }
    }

    async fn verify(&self) -> Result<String, ConnError> {
        let req = self
            .client
            .get(self.url("/api/v1/accounts/verify_credentials"));
        let a = self.exchange(Family::Read, req, READ_TIMEOUT).await?;
        if !(200..300).contains(&a.status) {
            return Err(self.failure(&a, "checking the access token"));
        }
        let acct = serde_json::from_str::<Account>(&a.body)
            .ok()
            .and_then(|acc| acc.acct.or(acc.username))
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                ConnError::Invalid(format!(
                    "checking the access token: not an account: {}",
                    error_text(&a.body)
                ))
            })?;
        Ok(format!("@{}", acct.trim().trim_start_matches('@')))
    }
}

impl Connector for Mastodon {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ChannelKind {
        ChannelKind::Mastodon
    }

    fn poll<'a>(&'a self, cursor: Option<&'a str>) -> BoxFuture<'a, Result<Polled, ConnError>> {
        Box::pin(self.poll_mentions(cursor))
    }

    fn idle(&self) -> Duration {
        self.idle
    }

    fn send<'a>(&'a self, out: &'a OutgoingSocial) -> BoxFuture<'a, SendResult> {
        if out.template.is_some() {
            return Box::pin(async { super::no_templates("Mastodon") });
        }
        Box::pin(self.post_status(out))
    }

    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String, ConnError>> {
        Box::pin(self.verify())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{IngestRules, prepare};
    use serde_json::json;

    const HOST: &str = "social.tienda.example";

    fn account(acct: &str) -> Value {
        let user = acct.split('@').next().unwrap_or(acct);
        let domain = acct.split_once('@').map(|(_, d)| d).unwrap_or(HOST);
        json!({
            "id": "109384",
            "username": user,
            "acct": acct,
            "display_name": "Ana Pérez 🌻",
            "locked": false,
            "bot": false,
            "created_at": "2022-11-14T00:00:00.000Z",
            "note": "<p>Diseñadora en <a href=\"https://ana.example\">ana.example</a> &amp; ciclista</p>",
            "url": format!("https://{domain}/@{user}"),
            "avatar": "https://files.example/avatar.png",
            "followers_count": 1234,
            "following_count": 56,
            "statuses_count": 789,
            "emojis": [],
            "fields": [
                {"name": "Web", "value": "<a href=\"https://ana.example\">ana.example</a>", "verified_at": "2023-01-02T10:00:00.000+00:00"},
                {"name": "Pronombres", "value": "ella", "verified_at": null}
            ]
        })
    }

    fn notification(
        id: &str,
        status_id: &str,
        acct: &str,
        visibility: &str,
        content: &str,
    ) -> Value {
        json!({
            "id": id,
            "type": "mention",
            "created_at": "2026-11-23T10:00:01.000Z",
            "account": account(acct),
            "status": {
                "id": status_id,
                "created_at": "2026-11-23T10:00:00.000Z",
                "in_reply_to_id": null,
                "in_reply_to_account_id": null,
                "sensitive": false,
                "spoiler_text": "",
                "visibility": visibility,
                "language": "es",
                "uri": format!("https://{HOST}/users/x/statuses/{status_id}"),
                "url": format!("https://{HOST}/@x/{status_id}"),
                "replies_count": 0,
                "reblogs_count": 0,
                "favourites_count": 0,
                "content": content,
                "account": account(acct),
                "media_attachments": [],
                "mentions": [{"id": "1", "username": "tienda", "acct": "tienda", "url": format!("https://{HOST}/@tienda")}],
                "tags": [],
                "emojis": []
            }
        })
    }

    fn map(v: &Value) -> Option<SocialItem> {
        item_of("masto", &Notification::deserialize(v).unwrap(), HOST)
    }

    const MENTION_HTML: &str = "<p><span class=\"h-card\" translate=\"no\"><a href=\"https://social.tienda.example/@tienda\" class=\"u-url mention\">@<span>tienda</span></a></span> mi pedido no llega, necesito ayuda</p>";

    #[test]
    fn public_mention() {
        let n = notification("400", "113500", "ana", "public", MENTION_HTML);
        let item = map(&n).unwrap();
        assert!(item.mention);
        assert!(item.msg.public);
        assert_eq!(item.msg.kind, ChannelKind::Mastodon);
        assert_eq!(item.msg.external_id, "113500");
        assert_eq!(item.msg.thread, None);
        assert_eq!(item.msg.text, "@tienda mi pedido no llega, necesito ayuda");
        assert_eq!(item.recipient.as_deref(), Some("ana"));
        assert_eq!(
            item.url.as_deref(),
            Some("https://social.tienda.example/@x/113500")
        );
        let a = &item.msg.author;
        // A local account gets its instance's domain.
        assert_eq!(a.handle, "@ana@social.tienda.example");
        assert_eq!(a.name.as_deref(), Some("Ana Pérez 🌻"));
        assert_eq!(a.followers, Some(1234));
        assert!(a.verified, "a verified profile link counts");
        assert_eq!(a.account_created_at, Ts::parse("2022-11-14T00:00:00Z"));
        assert_eq!(
            a.bio.as_deref(),
            Some("Diseñadora en ana.example & ciclista")
        );
        assert_eq!(item.msg.sent_at, Ts::parse("2026-11-23T10:00:00Z"));
    }

    #[test]
    fn unlisted_and_followers_only_mentions() {
        let u = map(&notification("1", "2", "ana", "unlisted", "<p>hola</p>")).unwrap();
        assert!(u.mention && u.msg.public);
        let p = map(&notification("3", "4", "ana", "private", "<p>hola</p>")).unwrap();
        assert!(p.mention && !p.msg.public);
    }

    #[test]
    fn direct_message_is_private_and_always_a_conversation() {
        let n = notification(
            "401",
            "113501",
            "luis@mastodon.example",
            "direct",
            "<p><span class=\"h-card\"><a href=\"https://social.tienda.example/@tienda\" class=\"u-url mention\">@<span>tienda</span></a></span> hola, ¿podéis cambiar la dirección de envío?</p>",
        );
        let item = map(&n).unwrap();
        assert!(!item.mention);
        assert!(!item.msg.public);
        assert_eq!(item.recipient.as_deref(), Some("luis@mastodon.example"));
        assert_eq!(item.msg.author.handle, "@luis@mastodon.example");
    }

    #[test]
    fn a_reply_in_a_thread_joins_the_authors_conversation() {
        let first = map(&notification("10", "500", "ana", "public", MENTION_HTML)).unwrap();
        let mut n = notification(
            "12",
            "502",
            "ana",
            "public",
            "<p><span class=\"h-card\"><a href=\"https://social.tienda.example/@tienda\" class=\"u-url mention\">@<span>tienda</span></a></span> sigue sin llegar</p>",
        );
        n["status"]["in_reply_to_id"] = json!("501");
        n["status"]["in_reply_to_account_id"] = json!("1");
        let reply = map(&n).unwrap();
        assert_eq!(reply.msg.external_id, "502");
        // No explicit thread: ingest threads both by the author's identity.
        assert_eq!(reply.msg.thread, first.msg.thread);
        assert_eq!(reply.msg.author.handle, first.msg.author.handle);
    }

    #[test]
    fn html_content_is_sanitized_and_scripts_do_not_survive() {
        let html = "<p>@tienda mirad 👉 <a href=\"https://fotos.example/caja?a=1&amp;b=2\" rel=\"nofollow noopener\" target=\"_blank\"><span class=\"invisible\">https://</span>fotos.example/caja</a> :blobcat_angry: 😡</p>\
                    <script>alert('robado')</script><p onclick=\"steal()\">segunda línea &lt;b&gt; &amp; más</p><style>p{}</style>";
        let item = map(&notification("20", "600", "ana", "public", html)).unwrap();
        let t = &item.msg.text;
        assert!(!t.contains("alert"), "{t}");
        assert!(t.contains("fotos.example/caja"), "{t}");
        assert!(t.contains(":blobcat_angry: 😡"), "{t}");
        assert!(t.contains("segunda línea <b> & más"), "{t}");
        let rules = IngestRules {
            reopen_window_ms: 0,
            max_text_bytes: 100_000,
        };
        let prepared = prepare(item.msg.clone(), &rules).unwrap();
        let clean = prepared.html.unwrap();
        assert!(!clean.contains("<script"), "{clean}");
        assert!(!clean.contains("alert"), "{clean}");
        assert!(!clean.contains("onclick"), "{clean}");
        assert!(!clean.contains("<style"), "{clean}");
        assert!(
            clean.contains("href=\"https://fotos.example/caja?a=1&amp;b=2\""),
            "{clean}"
        );
        assert_eq!(prepared.text, *t);
    }

    #[test]
    fn remote_account_spoiler_and_media() {
        let mut n = notification(
            "30",
            "700",
            "bob@fosstodon.example",
            "public",
            "<p>@tienda llegó así</p>",
        );
        n["status"]["spoiler_text"] = json!("producto roto");
        n["status"]["media_attachments"] = json!([
            {"id": "9", "type": "image", "url": "https://files.example/a.jpg", "remote_url": null, "description": "caja aplastada"},
            {"id": "10", "type": "video", "url": null, "remote_url": "https://fosstodon.example/v.mp4", "description": null}
        ]);
        n["status"]["account"]["fields"] = json!([]);
        n["status"]["account"]["followers_count"] = json!(-1);
        let item = map(&n).unwrap();
        let a = &item.msg.author;
        assert_eq!(a.handle, "@bob@fosstodon.example");
        assert!(!a.verified);
        assert_eq!(a.followers, None);
        assert_eq!(
            item.msg.text,
            "CW: producto roto\n@tienda llegó así\n[image: caja aplastada] https://files.example/a.jpg\n[video] https://fosstodon.example/v.mp4"
        );
        let html = item.msg.html.unwrap();
        assert!(html.starts_with("<p>CW: producto roto</p>"), "{html}");
        assert!(html.contains("https://files.example/a.jpg"), "{html}");
    }

    #[test]
    fn not_a_mention_or_no_status_is_no_item() {
        let mut n = notification("40", "800", "ana", "public", "<p>x</p>");
        n["type"] = json!("favourite");
        assert!(map(&n).is_none());
        let mut n = notification("41", "801", "ana", "public", "<p>x</p>");
        n["status"] = Value::Null;
        assert!(map(&n).is_none());
        let n = notification("42", "802", "ana", "public", "<p> </p>");
        assert!(map(&n).is_none(), "nothing to show");
    }

    #[test]
    fn qualified_handles() {
        assert_eq!(
            qualified_handle("ana", Some("https://a.example/@ana"), "b.example"),
            "@ana@a.example"
        );
        assert_eq!(qualified_handle("ana", None, "b.example"), "@ana@b.example");
        assert_eq!(
            qualified_handle("@bob@c.example", None, "b.example"),
            "@bob@c.example"
        );
    }

    #[test]
    fn ids_order_numerically() {
        assert_eq!(cmp_ids("99", "100"), Ordering::Less);
        assert_eq!(
            cmp_ids("113500000000000001", "113499999999999999"),
            Ordering::Greater
        );
        assert_eq!(cmp_ids("01HAAA", "01HAAB"), Ordering::Less);
    }

    #[test]
    fn cursor_round_trip() {
        assert_eq!(Position::decode(None), Position::default());
        let p = Position::decode(Some("12345"));
        assert_eq!(p.since.as_deref(), Some("12345"));
        assert_eq!(p.encode().as_deref(), Some("12345"));
        assert_eq!(
            p.first_query(),
            vec![
                ("types[]".to_string(), "mention".to_string()),
                ("limit".to_string(), "40".to_string()),
                ("since_id".to_string(), "12345".to_string()),
            ]
        );
        let partial = Position {
            since: Some("100".into()),
            top: Some("300".into()),
            max: Some("200".into()),
        };
        let text = partial.encode().unwrap();
        assert_eq!(Position::decode(Some(&text)), partial);
        assert!(
            partial
                .first_query()
                .contains(&("max_id".to_string(), "200".to_string()))
        );
        assert!(!partial.first_query().iter().any(|(k, _)| k == "since_id"));
        // Garbage starts over rather than failing forever.
        assert_eq!(Position::decode(Some("{not json")), Position::default());
    }

    fn page(ids: std::ops::RangeInclusive<u64>) -> Vec<Value> {
        ids.rev()
            .map(|i| {
                notification(
                    &i.to_string(),
                    &(1000 + i).to_string(),
                    "ana",
                    "public",
                    "<p>ayuda</p>",
                )
            })
            .collect()
    }

    #[test]
    fn a_complete_round_emits_oldest_first_and_moves_the_cursor_to_the_newest() {
        let mut r = Round::new(Position::decode(Some("100")));
        r.absorb("masto", &page(121..=160), HOST);
        assert!(!r.reached);
        // The next page reaches the saved id: the old ones are not items.
        r.absorb("masto", &page(91..=120), HOST);
        assert!(r.reached);
        let (items, cursor) = r.finish(false);
        assert_eq!(items.len(), 60);
        assert_eq!(items[0].msg.external_id, "1101");
        assert_eq!(items[59].msg.external_id, "1160");
        assert_eq!(cursor.as_deref(), Some("160"));
    }

    #[test]
    fn a_round_cut_short_keeps_its_place_and_resumes_older() {
        let mut r = Round::new(Position::decode(Some("100")));
        r.absorb("masto", &page(161..=200), HOST);
        r.absorb("masto", &page(121..=160), HOST);
        let (items, cursor) = r.finish(false);
        assert_eq!(items.len(), 80);
        let pos = Position::decode(cursor.as_deref());
        assert_eq!(
            pos,
            Position {
                since: Some("100".into()),
                top: Some("200".into()),
                max: Some("121".into())
            }
        );
        // The next poll continues below 121 and ends at 100.
        assert!(
            pos.first_query()
                .contains(&("max_id".to_string(), "121".to_string()))
        );
        let mut r = Round::new(pos);
        r.absorb("masto", &page(81..=120), HOST);
        let (items, cursor) = r.finish(false);
        assert_eq!(items.len(), 20);
        assert_eq!(items[0].msg.external_id, "1101");
        assert_eq!(cursor.as_deref(), Some("200"), "the round's newest id");
    }

    #[test]
    fn nothing_new_leaves_the_cursor_alone() {
        let mut r = Round::new(Position::decode(Some("100")));
        r.absorb("masto", &[], HOST);
        let (items, cursor) = r.finish(true);
        assert!(items.is_empty());
        assert_eq!(cursor, None);
        // The very first poll of an empty account saves nothing either.
        let mut r = Round::new(Position::default());
        r.absorb("masto", &[], HOST);
        assert_eq!(r.finish(true), (vec![], None));
    }

    #[test]
    fn other_notifications_and_broken_ones_still_move_the_cursor() {
        let mut r = Round::new(Position::decode(Some("5")));
        let mut fav = notification("6", "1006", "ana", "public", "<p>x</p>");
        fav["type"] = json!("favourite");
        let broken =
            json!({"id": "8", "type": "mention", "status": {"id": 12, "account": "not an object"}});
        let good = notification("7", "1007", "ana", "public", "<p>ayuda</p>");
        r.absorb("masto", &[broken, good, fav], HOST);
        let (items, cursor) = r.finish(true);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].msg.external_id, "1007");
        assert_eq!(cursor.as_deref(), Some("8"));
    }

    #[test]
    fn link_headers() {
        let h = "<https://m.example/api/v1/notifications?limit=40&max_id=109&types%5B%5D=mention>; rel=\"next\", <https://m.example/api/v1/notifications?limit=40&min_id=150&types%5B%5D=mention>; rel=\"prev\"";
        assert_eq!(
            link_target(h, "next").as_deref(),
            Some("https://m.example/api/v1/notifications?limit=40&max_id=109&types%5B%5D=mention")
        );
        assert!(link_target(h, "prev").unwrap().contains("min_id=150"));
        assert_eq!(link_target(h, "last"), None);
        // Unquoted, reordered parameters, several relations, commas in the URL.
        let h = "<https://m.example/x?a=1,2&max_id=7>; title=\"x, y\"; rel=next";
        assert_eq!(
            link_target(h, "next").as_deref(),
            Some("https://m.example/x?a=1,2&max_id=7")
        );
        let h = "</api/v1/notifications?max_id=3>; rel=\"prev next\"";
        assert_eq!(
            link_target(h, "next").as_deref(),
            Some("/api/v1/notifications?max_id=3")
        );
        assert_eq!(link_target("", "next"), None);
        assert_eq!(link_target("<broken; rel=next", "next"), None);
    }

    #[test]
    fn next_page_uses_only_the_links_query() {
        let h = "<https://public.example/api/v1/notifications?limit=40&max_id=109&types%5B%5D=mention>; rel=\"next\"";
        let q = next_query(Some(h), "http://10.0.0.5:3000", Some("109")).unwrap();
        assert_eq!(
            q,
            vec![
                ("limit".to_string(), "40".to_string()),
                ("max_id".to_string(), "109".to_string()),
                ("types[]".to_string(), "mention".to_string()),
            ]
        );
        // No link: continue below the page's oldest id.
        let q = next_query(None, "http://x", Some("55")).unwrap();
        assert!(q.contains(&("max_id".to_string(), "55".to_string())));
        assert!(q.contains(&("types[]".to_string(), "mention".to_string())));
        // No link and an empty page: the end.
        assert_eq!(next_query(None, "http://x", None), None);
        // A link without max_id (not a page of ours) falls back as well.
        let q = next_query(
            Some("<https://x/?page=2>; rel=\"next\""),
            "http://x",
            Some("9"),
        )
        .unwrap();
        assert!(q.contains(&("max_id".to_string(), "9".to_string())));
    }

    #[test]
    fn rate_limit_headers() {
        let now: jiff::Timestamp = "2026-11-23T10:00:00.400Z".parse().unwrap();
        let r = RateLimit::parse(Some("0"), Some("2026-11-23T10:00:02.000Z"), None, now);
        assert_eq!(r.remaining, Some(0));
        assert_eq!(r.reset_in, Some(Duration::from_millis(1600)));
        assert_eq!(r.exhausted(), Some(Duration::from_millis(1600)));
        // The server's Date is the reference (whole seconds: never shorter).
        let r = RateLimit::parse(
            Some("0"),
            Some("2026-11-23T10:00:02.000000Z"),
            Some("Mon, 23 Nov 2026 10:00:00 GMT"),
            "2026-11-23T09:00:00Z".parse().unwrap(),
        );
        assert_eq!(r.exhausted(), Some(Duration::from_secs(2)));
        let r = RateLimit::parse(Some("299"), Some("2026-11-23T10:05:00.000Z"), None, now);
        assert_eq!(r.exhausted(), None);
        // A reset in the past owes nothing; a far one is capped.
        let r = RateLimit::parse(Some("0"), Some("2026-11-23T09:00:00Z"), None, now);
        assert_eq!(r.exhausted(), None);
        let r = RateLimit::parse(Some("0"), Some("2027-01-01T00:00:00Z"), None, now);
        assert_eq!(r.exhausted(), Some(MAX_REST));
        // Remaining 0 without a readable reset still rests.
        let r = RateLimit::parse(Some("0"), Some("soon"), None, now);
        assert_eq!(r.exhausted(), Some(DEFAULT_REST));
        assert_eq!(
            RateLimit::parse(None, None, None, now),
            RateLimit::default()
        );
        assert_eq!(RateLimit::parse(Some("x"), None, None, now).remaining, None);
    }

    #[test]
    fn reply_texts_mention_the_customer_once() {
        assert_eq!(reply_text("Hola Ana", "ana"), "@ana Hola Ana");
        assert_eq!(
            reply_text("  Hola  ", "@bob@c.example"),
            "@bob@c.example Hola"
        );
        assert_eq!(reply_text("@Ana hola", "ana"), "@Ana hola");
        assert_eq!(reply_text("@ana, hola", "ana"), "@ana, hola");
        // Another account first, or a longer handle: still mention ours.
        assert_eq!(reply_text("@anabel hola", "ana"), "@ana @anabel hola");
    }

    #[test]
    fn error_texts() {
        assert_eq!(
            error_text(r#"{"error":"Validation failed: Text character limit of 500 exceeded"}"#),
            "Validation failed: Text character limit of 500 exceeded"
        );
        assert_eq!(
            error_text(
                r#"{"error":"invalid_token","error_description":"The access token expired"}"#
            ),
            "invalid_token: The access token expired"
        );
        assert_eq!(
            error_text("<html>Bad gateway</html>"),
            "<html>Bad gateway</html>"
        );
        assert_eq!(error_text(""), "no details");
    }

    #[test]
    fn reads_and_posts_rest_separately() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let m = Mastodon {
            name: "masto".into(),
            base: "https://m.example".into(),
            token: Secret::new("s3cr3t-token"),
            idle: Duration::from_secs(1),
            client: reqwest::Client::builder().build().unwrap(),
            not_before: Mutex::new([None, None]),
        };
        assert_eq!(m.must_wait(Family::Read), None);
        m.rest(Family::Post, Duration::from_secs(60));
        assert_eq!(m.must_wait(Family::Read), None);
        assert!(m.must_wait(Family::Post).unwrap() > Duration::from_secs(58));
        // A shorter rest never shortens a longer one.
        m.rest(Family::Post, Duration::from_secs(1));
        assert!(m.must_wait(Family::Post).unwrap() > Duration::from_secs(58));
        assert!(!format!("{m:?}").contains("s3cr3t"));
    }

    #[test]
    fn no_token_no_connector() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cfg = |token: Option<&str>, url: &str| MastodonChannel {
            name: "masto".into(),
            base_url: url.into(),
            access_token: token.map(Secret::new),
            poll_interval: crate::config::Dur(Duration::from_secs(30)),
            listening: Default::default(),
        };
        assert!(connector(&cfg(None, "https://m.example")).is_none());
        assert!(connector(&cfg(Some("  "), "https://m.example")).is_none());
        assert!(connector(&cfg(Some("t"), "m.example")).is_none());
        let c = connector(&cfg(Some("t"), "https://m.example/")).unwrap();
        assert_eq!(c.name(), "masto");
        assert_eq!(c.kind(), ChannelKind::Mastodon);
        assert_eq!(c.idle(), Duration::from_secs(30));
    }
}
