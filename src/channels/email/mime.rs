//! Pure MIME parsing for the email channel: raw bytes → [`ParsedMail`] →
//! [`crate::ingest::InboundMessage`].
//!
//! Built on `mail-parser` 0.11 (every charset it knows, RFC 2047/2231, nested
//! multiparts). On top of it this module decides what the rest of Atalaya
//! needs: the dedupe key, the thread key, whether the mail is automated (loop
//! safety: such mail is never answered automatically) and, for delivery
//! status notifications, which of our messages bounced.
//!
//! Invariants:
//! - `parse` never panics: the parser runs under `catch_unwind`, so a hostile
//!   message becomes [`MimeError::Panicked`] (quarantine it), not a dead poller.
//!   This relies on `panic = "unwind"` (the default; do not set `abort`).
//! - `Reply-To` is only ever a reply address, never the author's identity.
//! - Attachments are returned as bytes; storing them is the caller's job.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{
    Address, HeaderName as H, HeaderValue, Message, MessageParser, MimeHeaders, PartType,
};
use sha2::{Digest, Sha256};

use crate::domain::{Attachment, ChannelKind, Ts};
use crate::ingest::{AuthorProfile, InboundMessage, html_to_text, sanitize_html};

/// Ids, thread keys and dedupe keys longer than this are replaced by a hash,
/// so they always fit ingest's 512-byte limits.
const MAX_KEY_LEN: usize = 500;

/// One email, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedMail {
    /// Without the angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// (address lowercased, display name).
    pub from: Option<(String, Option<String>)>,
    /// Address only: where replies go. Never the author's identity.
    pub reply_to: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// Decoded (encoded words, any charset).
    pub subject: Option<String>,
    pub date: Option<Ts>,
    /// The text/plain body, or text extracted from the HTML body when there is none.
    pub text: String,
    /// The raw HTML body; ingest sanitizes it before it is stored.
    pub html: Option<String>,
    /// Every non-body part, including inline `cid:` images.
    pub attachments: Vec<ParsedAttachment>,
    /// Why this is automated mail, if it is. Never answer such mail automatically.
    pub auto: Option<String>,
    /// Set when the mail is a delivery status notification.
    pub bounce: Option<Bounce>,
    /// The Message-ID, else `sha256:` + hex SHA-256 of the raw bytes.
    pub dedupe_key: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedAttachment {
    /// A bare file name (no directories); invented from the type when absent.
    pub filename: String,
    /// `type/subtype`, lowercased.
    pub content_type: String,
    /// Without the angle brackets.
    pub content_id: Option<String>,
    pub inline: bool,
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of `bytes`.
    pub sha256: String,
}

/// What a delivery status notification (RFC 3464) reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bounce {
    /// The Message-ID of the mail that could not be delivered (ours, usually).
    pub original_message_id: Option<String>,
    /// `failed`, `delayed`, `delivered`, `relayed` or `expanded`, lowercased.
    pub action: Option<String>,
    /// The enhanced status code, e.g. `5.1.1`.
    pub status: Option<String>,
    /// The remote server's text, without its `smtp;` type prefix.
    pub diagnostic: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MimeError {
    #[error("not an email: {0}")]
    Invalid(String),
    #[error("the parser failed: {0}")]
    Panicked(String),
    #[error("message too large: {size} bytes (limit {limit})")]
    TooLarge { size: usize, limit: usize },
}

/// Parse under catch_unwind (a panicking parser must not take the poller down); enforce max_bytes.
pub fn parse(raw: &[u8], max_bytes: usize) -> Result<ParsedMail, MimeError> {
    if raw.len() > max_bytes {
        return Err(MimeError::TooLarge {
            size: raw.len(),
            limit: max_bytes,
        });
    }
    match catch_unwind(AssertUnwindSafe(|| parse_unguarded(raw))) {
        Ok(result) => result,
        Err(payload) => {
            let why = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic without a message".to_string());
            Err(MimeError::Panicked(why))
        }
    }
}

fn parse_unguarded(raw: &[u8]) -> Result<ParsedMail, MimeError> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| MimeError::Invalid("no header block".into()))?;
    if !msg.headers().iter().any(|h| is_mail_header(&h.name)) {
        return Err(MimeError::Invalid(
            "no From, To, Subject, Date, Message-ID or MIME header".into(),
        ));
    }
    let message_id = msg.message_id().and_then(clean_id);
    let from = msg.from().and_then(first_addr).map(|(addr, name)| {
        let name = name.map(fold).filter(|n| !n.is_empty() && *n != addr);
        (addr, name)
    });
    let (text, html) = bodies(&msg);
    let mut mail = ParsedMail {
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        reply_to: msg.reply_to().and_then(first_addr).map(|(a, _)| a),
        to: all_addrs(msg.to()),
        cc: all_addrs(msg.cc()),
        subject: msg
            .subject()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        date: msg
            .date()
            .filter(|d| d.is_valid())
            .map(|d| Ts(d.to_timestamp().saturating_mul(1000))),
        text,
        html,
        attachments: attachments(&msg),
        bounce: bounce(&msg),
        dedupe_key: match &message_id {
            Some(id) if id.len() <= MAX_KEY_LEN => id.clone(),
            _ => format!("sha256:{}", sha256_hex(raw)),
        },
        message_id,
        from,
        ..ParsedMail::default()
    };
    mail.auto = automated(&msg, &mail);
    Ok(mail)
}

/// Headers that only an email (or a MIME entity) has; random bytes rarely do.
fn is_mail_header(name: &H<'_>) -> bool {
    use H::*;
    matches!(
        name,
        From | Sender | To | Cc | Subject | Date | MessageId | InReplyTo
    ) || matches!(
        name,
        References | Received | ReturnPath | MimeVersion | ContentType
    )
}

/// The conversation thread key for a parsed mail: the root of References, else In-Reply-To, else its own Message-ID, else "subject:" + normalized subject + ":" + from address.
pub fn thread_key(m: &ParsedMail) -> String {
    let key = m
        .references
        .first()
        .or(m.in_reply_to.first())
        .or(m.message_id.as_ref())
        .cloned()
        .unwrap_or_else(|| {
            let subject = normalize_subject(m.subject.as_deref().unwrap_or(""));
            let from = m.from.as_ref().map(|f| f.0.as_str()).unwrap_or("");
            format!("subject:{subject}:{from}")
        });
    if key.len() > MAX_KEY_LEN {
        format!("sha256:{}", sha256_hex(key.as_bytes()))
    } else {
        key
    }
}

/// Reply and forward prefixes (English, Spanish, German, Portuguese, Nordic).
const PREFIXES: &[&str] = &[
    "re", "fwd", "fw", "aw", "wg", "rv", "res", "enc", "sv", "vs",
];

/// A subject without Re:/RE:/Fwd:/AW:/RV:/Fw: prefixes (repeated, `Re[2]:`
/// too), whitespace folded, lowercased.
pub fn normalize_subject(s: &str) -> String {
    let mut rest = s.trim();
    'strip: loop {
        for p in PREFIXES {
            let Some(head) = rest.get(..p.len()) else {
                continue;
            };
            if !head.eq_ignore_ascii_case(p) {
                continue;
            }
            let mut tail = &rest[p.len()..];
            // `Re[2]:` and `Re(2):` as some clients write them.
            if let Some(t) = tail.strip_prefix(['[', '('])
                && let Some(end) = t.find([']', ')'])
                && t[..end].chars().all(|c| c.is_ascii_digit())
            {
                tail = &t[end + 1..];
            }
            if let Some(t) = tail.trim_start_matches(' ').strip_prefix([':', '：']) {
                rest = t.trim_start();
                continue 'strip;
            }
        }
        break;
    }
    fold(rest).to_lowercase()
}

/// Build the ingest message for a mail received on the mailbox `channel`.
///
/// The author is always `From` (lowercased address); without one the handle
/// is `unknown-sender` and there is no email, which the caller may quarantine.
pub fn to_inbound(m: &ParsedMail, channel: &str) -> InboundMessage {
    let (handle, name, email) = match &m.from {
        Some((addr, name)) => (addr.clone(), name.clone(), Some(addr.clone())),
        None => ("unknown-sender".to_string(), None, None),
    };
    InboundMessage {
        channel: channel.to_string(),
        kind: ChannelKind::Email,
        external_id: m.dedupe_key.clone(),
        thread: Some(thread_key(m)),
        author: AuthorProfile {
            handle,
            name,
            email,
            ..AuthorProfile::default()
        },
        text: m.text.clone(),
        html: m.html.clone(),
        subject: m.subject.clone(),
        attachments: m
            .attachments
            .iter()
            .map(|a| Attachment {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                size: a.bytes.len() as u64,
                sha256: Some(a.sha256.clone()),
            })
            .collect(),
        public: false,
        sent_at: m.date,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An id without brackets or whitespace; `None` when nothing is left.
fn clean_id(id: &str) -> Option<String> {
    let id: String = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    (!id.is_empty()).then_some(id)
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => clean_id(t).into_iter().collect(),
        HeaderValue::TextList(l) => l.iter().filter_map(|t| clean_id(t)).collect(),
        _ => Vec::new(),
    }
}

fn clean_addr(a: &str) -> Option<String> {
    let a = a.trim().to_lowercase();
    a.contains('@').then_some(a)
}

/// The first usable address (lowercased) and its display name.
fn first_addr<'a>(a: &'a Address<'_>) -> Option<(String, Option<&'a str>)> {
    a.iter()
        .find_map(|x| Some((clean_addr(x.address()?)?, x.name())))
}

/// Whitespace runs folded to one space, ends trimmed.
fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn all_addrs(a: Option<&Address<'_>>) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|x| x.address().and_then(clean_addr))
            .collect()
    })
    .unwrap_or_default()
}

/// Text from HTML as ingest would derive it (scripts and styles dropped first).
fn text_of_html(html: &str) -> String {
    html_to_text(&sanitize_html(html))
}

/// (text, html): the body parts the parser chose, joined in order.
fn bodies(msg: &Message<'_>) -> (String, Option<String>) {
    let part = |id: &u32| msg.parts.get(*id as usize).map(|p| &p.body);
    let texts: Vec<String> = msg
        .text_body
        .iter()
        .filter_map(|id| match part(id)? {
            PartType::Text(t) => Some(t.replace("\r\n", "\n")),
            PartType::Html(h) => Some(text_of_html(h)),
            _ => None,
        })
        .collect();
    let htmls: Vec<&str> = msg
        .html_body
        .iter()
        .filter_map(|id| match part(id)? {
            PartType::Html(h) => Some(h.as_ref()),
            _ => None,
        })
        .collect();
    let mut text = texts.join("\n").trim().to_string();
    let html = (!htmls.is_empty()).then(|| htmls.join("\n"));
    if text.is_empty()
        && let Some(h) = &html
    {
        text = text_of_html(h).trim().to_string();
    }
    (text, html)
}

fn content_type<'x>(part: &impl MimeHeaders<'x>) -> Option<String> {
    part.content_type().map(|ct| {
        let sub = ct.subtype().unwrap_or("octet-stream");
        format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase()
    })
}

fn attachments(msg: &Message<'_>) -> Vec<ParsedAttachment> {
    let mut out = Vec::new();
    for (n, id) in msg.attachments.iter().enumerate() {
        let Some(part) = msg.parts.get(*id as usize) else {
            continue;
        };
        if matches!(part.body, PartType::Multipart(_)) {
            continue;
        }
        let default = match part.body {
            PartType::Text(_) => "text/plain",        // the RFC 2045 default
            PartType::Message(_) => "message/rfc822", // in multipart/digest
            _ => "application/octet-stream",
        };
        let content_type = content_type(part).unwrap_or_else(|| default.into());
        let content_id = part.content_id().and_then(clean_id);
        let disposition = part.content_disposition();
        let inline = match disposition {
            Some(d) if d.is_attachment() => false,
            Some(d) if d.is_inline() => true,
            _ => content_id.is_some(),
        };
        // An attached message without a file name is named after its subject.
        let subject = match &part.body {
            PartType::Message(m) => m.subject().and_then(safe_filename),
            _ => None,
        };
        let filename = part
            .attachment_name()
            .and_then(safe_filename)
            .or(subject.map(|s| format!("{s}.eml")))
            .unwrap_or_else(|| format!("part-{}.{}", n + 1, extension(&content_type)));
        let bytes = part.contents().to_vec();
        out.push(ParsedAttachment {
            sha256: sha256_hex(&bytes),
            filename,
            content_type,
            content_id,
            inline,
            bytes,
        });
    }
    out
}

/// The last path component, without control characters; `None` if empty.
fn safe_filename(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    (!clean.is_empty() && clean != "." && clean != "..").then(|| clean.chars().take(200).collect())
}

fn extension(content_type: &str) -> &str {
    match content_type {
        "message/rfc822" | "message/global" => "eml",
        "text/plain" | "message/delivery-status" | "text/rfc822-headers" => "txt",
        "text/html" => "html",
        "image/jpeg" => "jpg",
        ct => match ct.split_once('/') {
            Some((_, sub)) if sub.len() <= 5 && sub.chars().all(|c| c.is_ascii_alphanumeric()) => {
                sub
            }
            _ => "bin",
        },
    }
}

/// A top-level header's raw value (first occurrence), unfolded and trimmed.
fn raw_header(msg: &Message<'_>, name: &str) -> Option<String> {
    msg.headers_raw()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| fold(v))
}

/// Why this mail is automated, if it is (RFC 3834, list and bounce conventions).
fn automated(msg: &Message<'_>, mail: &ParsedMail) -> Option<String> {
    let value = |name| raw_header(msg, name).unwrap_or_default();
    let submitted = value("Auto-Submitted");
    let kind = submitted.split(';').next().unwrap_or("").trim();
    if !kind.is_empty() && !kind.eq_ignore_ascii_case("no") {
        return Some(format!("Auto-Submitted: {submitted}"));
    }
    let precedence = value("Precedence");
    if ["bulk", "list", "junk", "auto_reply"]
        .iter()
        .any(|k| precedence.eq_ignore_ascii_case(k))
    {
        return Some(format!("Precedence: {precedence}"));
    }
    for name in [
        "List-Id",
        "List-Unsubscribe",
        "X-Autoreply",
        "X-Autorespond",
        "X-Auto-Response-Suppress",
    ] {
        if let Some(v) = raw_header(msg, name) {
            return Some(format!("{name}: {v}"));
        }
    }
    if value("Return-Path").replace(' ', "") == "<>" {
        return Some("Return-Path: <>".into());
    }
    if let Some((addr, _)) = &mail.from {
        let local = addr.split('@').next().unwrap_or("");
        let robot = matches!(
            local.replace(['-', '_', '.'], "").as_str(),
            "mailerdaemon" | "postmaster" | "noreply" | "donotreply"
        ) || local.starts_with("bounce");
        if robot {
            return Some(format!("From: {addr}"));
        }
    }
    if mail.bounce.is_some() {
        return Some("Content-Type: multipart/report; report-type=delivery-status".into());
    }
    None
}

/// The types of a DSN part that returns the original message or its headers.
const ORIGINAL_TYPES: &[&str] = &["message/rfc822", "message/global", "text/rfc822-headers"];

/// A delivery status notification: the `message/delivery-status` part and the
/// returned headers of the original message.
fn bounce(msg: &Message<'_>) -> Option<Bounce> {
    let types: Vec<Option<String>> = msg.parts.iter().map(content_type).collect();
    let status_at = types.iter().position(|t| {
        matches!(
            t.as_deref(),
            Some("message/delivery-status" | "message/global-delivery-status")
        )
    })?;
    let mut b = dsn_fields(&String::from_utf8_lossy(msg.parts[status_at].contents()));
    b.original_message_id = msg
        .parts
        .iter()
        .zip(&types)
        .skip(status_at + 1)
        .filter(|(_, t)| t.as_deref().is_some_and(|t| ORIGINAL_TYPES.contains(&t)))
        .find_map(|(part, _)| match &part.body {
            PartType::Message(m) => m.message_id().and_then(clean_id),
            _ => MessageParser::default()
                .parse_headers(part.contents())
                .and_then(|m| m.message_id().and_then(clean_id)),
        });
    Some(b)
}

/// Action, status and diagnostic of the first failed recipient (else the first
/// recipient) in a `message/delivery-status` body.
fn dsn_fields(body: &str) -> Bounce {
    let mut groups: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in body.lines() {
        let group = groups.last_mut().expect("never empty");
        if line.trim().is_empty() {
            if !group.is_empty() {
                groups.push(Vec::new());
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = group.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            group.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |g: &[(String, String)], k: &str| {
        g.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let recipients: Vec<&Vec<(String, String)>> = groups
        .iter()
        .filter(|g| get(g, "action").is_some())
        .collect();
    let Some(g) = recipients
        .iter()
        .find(|g| get(g, "action").is_some_and(|a| a.eq_ignore_ascii_case("failed")))
        .or(recipients.first())
    else {
        return Bounce::default();
    };
    let strip_type = |v: String| match v.split_once(';') {
        Some((ty, rest)) if !ty.contains(' ') => rest.trim().to_string(),
        _ => v,
    };
    Bounce {
        original_message_id: None,
        action: get(g, "action").map(|a| a.to_ascii_lowercase()),
        status: get(g, "status").map(|s| s.split_whitespace().next().unwrap_or("").to_string()),
        diagnostic: get(g, "diagnostic-code").map(strip_type),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_normalize_subject_strips_prefixes() {
        assert_eq!(
            normalize_subject("Re: RE: Fwd:  Hola   mundo "),
            "hola mundo"
        );
        assert_eq!(normalize_subject("AW: WG: rv: Factura"), "factura");
        assert_eq!(normalize_subject("Re[2]: Pedido 1042"), "pedido 1042");
        assert_eq!(normalize_subject("RE : Réclamation"), "réclamation");
        assert_eq!(normalize_subject("Review: keep me"), "review: keep me");
        assert_eq!(normalize_subject("Re:"), "");
    }

    #[test]
    fn mime_thread_key_prefers_root_then_parent_then_self() {
        let mut m = ParsedMail {
            subject: Some("Re: Pedido".into()),
            from: Some(("ana@example.es".into(), None)),
            ..ParsedMail::default()
        };
        assert_eq!(thread_key(&m), "subject:pedido:ana@example.es");
        m.message_id = Some("self@x".into());
        assert_eq!(thread_key(&m), "self@x");
        m.in_reply_to = vec!["parent@x".into()];
        assert_eq!(thread_key(&m), "parent@x");
        m.references = vec!["root@x".into(), "parent@x".into()];
        assert_eq!(thread_key(&m), "root@x");
        m.references = vec!["r".repeat(600)];
        assert!(thread_key(&m).starts_with("sha256:"));
    }

    #[test]
    fn mime_dsn_fields_prefer_the_failed_recipient() {
        let body = "Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; a@x\nAction: delayed\nStatus: 4.4.1\n\nFinal-Recipient: rfc822; b@x\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <b@x>:\n Recipient address rejected\n";
        let b = dsn_fields(body);
        assert_eq!(b.action.as_deref(), Some("failed"));
        assert_eq!(b.status.as_deref(), Some("5.1.1"));
        assert_eq!(
            b.diagnostic.as_deref(),
            Some("550 5.1.1 <b@x>: Recipient address rejected")
        );
    }
}
