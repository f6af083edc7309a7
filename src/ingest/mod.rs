//! Inbound pipeline: normalize → dedupe on (channel, external id) → resolve
//! contact and identity → thread into a conversation → one writer command.

use crate::domain::*;
use crate::store::{StoreError, Tx};

/// The author of an inbound message, as the network describes them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuthorProfile {
    pub handle: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub followers: Option<u64>,
    pub verified: bool,
    pub account_created_at: Option<Ts>,
    pub bio: Option<String>,
}

/// One message from any channel, before it is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct InboundMessage {
    /// Configured channel name.
    pub channel: String,
    pub kind: ChannelKind,
    pub external_id: String,
    /// Messages with the same thread key on one channel form one conversation;
    /// without one, the author's identity is the thread.
    pub thread: Option<String>,
    pub author: AuthorProfile,
    pub text: String,
    /// Raw HTML from the source; sanitized here before it is stored.
    pub html: Option<String>,
    pub subject: Option<String>,
    pub attachments: Vec<Attachment>,
    pub public: bool,
    pub sent_at: Option<Ts>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestOutcome {
    pub message: MessageId,
    pub conversation: ConversationId,
    pub duplicate: bool,
    pub new_conversation: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IngestError {
    #[error("{0}")]
    Invalid(String),
}

/// Limits applied while normalizing.
#[derive(Clone, Copy, Debug)]
pub struct IngestRules {
    pub reopen_window_ms: i64,
    pub max_text_bytes: usize,
}

/// Validate and normalize outside the writer (cheap for the writer thread).
pub fn prepare(mut m: InboundMessage, rules: &IngestRules) -> Result<InboundMessage, IngestError> {
    m.external_id = m.external_id.trim().to_string();
    m.author.handle = m.author.handle.trim().to_string();
    if m.external_id.is_empty() || m.external_id.len() > 512 {
        return Err(IngestError::Invalid(
            "external_id must be 1 to 512 characters".into(),
        ));
    }
    if m.author.handle.is_empty() || m.author.handle.len() > 320 {
        return Err(IngestError::Invalid(
            "from.handle must be 1 to 320 characters".into(),
        ));
    }
    if let Some(t) = &m.thread
        && t.len() > 512
    {
        return Err(IngestError::Invalid(
            "thread must be at most 512 characters".into(),
        ));
    }
    if let Some(html) = m.html.take().filter(|h| !h.trim().is_empty()) {
        let clean = sanitize_html(&html);
        if m.text.trim().is_empty() {
            m.text = html_to_text(&clean);
        }
        m.html = Some(clean);
    }
    if m.text.trim().is_empty() && m.attachments.is_empty() {
        return Err(IngestError::Invalid(
            "text or html must not be empty".into(),
        ));
    }
    truncate_utf8(&mut m.text, rules.max_text_bytes);
    if let Some(e) = &m.author.email
        && (!e.contains('@') || e.len() > 320)
    {
        return Err(IngestError::Invalid(format!(
            "from.email {e:?} is not an email address"
        )));
    }
    Ok(m)
}

fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Sanitize inbound HTML for display: no scripts, styles, event handlers or
/// remote images; links open safely.
pub fn sanitize_html(html: &str) -> String {
    ammonia::Builder::default()
        .rm_tags(["img"])
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string()
}

/// Plain text from (sanitized) HTML: tags dropped, block ends become newlines.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut tag = String::new();
    for ch in html.chars() {
        match (in_tag, ch) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let name = tag
                    .trim_start_matches('/')
                    .split_whitespace()
                    .next()
                    .unwrap_or("");
                if matches!(
                    name,
                    "p" | "br" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "blockquote"
                ) {
                    out.push('\n');
                }
            }
            (true, c) => tag.push(c.to_ascii_lowercase()),
            (false, c) => out.push(c),
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// First characters of a text, on one line, for list rows.
pub fn snippet(text: &str, max_chars: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// Store one prepared message inside the writer's transaction.
///
/// Checks first (dedupe), then only mutates: a logical outcome never needs a
/// rollback.
pub fn apply(
    tx: &mut Tx<'_>,
    m: InboundMessage,
    rules: &IngestRules,
) -> Result<IngestOutcome, StoreError> {
    if let Some(existing) = tx.dedupe(&m.channel, &m.external_id)? {
        let conversation = tx
            .message(existing)?
            .map(|x| x.conversation)
            .unwrap_or(ConversationId(0));
        return Ok(IngestOutcome {
            message: existing,
            conversation,
            duplicate: true,
            new_conversation: false,
        });
    }
    let now = tx.now();
    let actor = Actor::Channel(m.channel.clone());
    let identity = resolve_identity(tx, &m, &actor)?;
    let sent_at = m.sent_at.unwrap_or(now);
    let thread_key = m
        .thread
        .clone()
        .unwrap_or_else(|| identity_thread(identity.id));

    let mut existing = match tx.thread(&m.channel, &thread_key)? {
        Some(id) => tx.conversation(id)?,
        None => None,
    };
    // "Please DM us": the customer's first private message after an agent
    // moved their public conversation to private continues that conversation.
    if !m.public
        && existing
            .as_ref()
            .is_none_or(|c| c.status == Status::Resolved)
        && let Some(cid) =
            tx.cursor::<ConversationId>(&private_continuation_key(&m.channel, identity.id))?
        && let Some(c) = tx.conversation(cid)?
        && !c.public
        && c.status != Status::Resolved
    {
        tx.set_thread(&m.channel, &thread_key, c.id)?;
        existing = Some(c);
    }
    let reopen = existing.as_ref().is_some_and(|c| {
        c.status != Status::Resolved
            || now.0
                - c.last_message_at
                    .0
                    .max(c.resolved_at.map(|t| t.0).unwrap_or(0))
                <= rules.reopen_window_ms
    });
    let message_id = MessageId(tx.next_id());
    let snippet_text = snippet(&m.text, 140);
    let (old, mut conv, new_conversation) = match existing {
        Some(c) if reopen => (Some(c.clone()), c, false),
        _ => {
            let id = ConversationId(tx.next_id());
            let c = Conversation {
                id,
                contact: identity.contact,
                identity: identity.id,
                channel: m.channel.clone(),
                thread_key: thread_key.clone(),
                status: Status::Open,
                priority: Priority::P4,
                score: 0,
                tier: 1,
                category: None,
                team: None,
                assignee: None,
                tags: Vec::new(),
                subject: m.subject.clone(),
                public: m.public,
                created_at: now,
                updated_at: now,
                last_message_at: sent_at,
                waiting_since: None,
                first_response_at: None,
                resolved_at: None,
                snoozed_until: None,
                sla_due_at: None,
                message_count: 0,
                last_snippet: String::new(),
            };
            tx.append_event(
                actor.clone(),
                EventKind::ConversationCreated {
                    conversation: id,
                    contact: identity.contact,
                    channel: m.channel.clone(),
                },
            )?;
            tx.set_thread(&m.channel, &thread_key, id)?;
            (None, c, true)
        }
    };
    // The customer wrote: a resolved or snoozed conversation reopens, and
    // one pending on the customer is theirs to answer again (open).
    if let Some(old) = &old
        && matches!(
            old.status,
            Status::Resolved | Status::Snoozed | Status::Pending
        )
    {
        conv.status = Status::Open;
        conv.snoozed_until = None;
        if old.status != Status::Pending {
            tx.append_event(
                actor.clone(),
                EventKind::ConversationReopened {
                    conversation: conv.id,
                },
            )?;
        }
        tx.append_event(
            actor.clone(),
            EventKind::StatusChanged {
                conversation: conv.id,
                from: old.status,
                to: Status::Open,
            },
        )?;
    }
    conv.message_count += 1;
    conv.last_message_at = conv.last_message_at.max(sent_at);
    conv.waiting_since.get_or_insert(sent_at);
    conv.updated_at = now;
    conv.last_snippet = snippet_text;
    if conv.subject.is_none() {
        conv.subject = m.subject.clone();
    }
    let message = Message {
        id: message_id,
        conversation: conv.id,
        direction: Direction::In,
        channel: m.channel.clone(),
        external_id: Some(m.external_id),
        text: m.text,
        html: m.html,
        attachments: m.attachments,
        public: m.public,
        author: Author::Identity(identity.id),
        author_name: identity
            .display_name
            .clone()
            .unwrap_or_else(|| identity.handle.clone()),
        sent_at,
        received_at: now,
        delivery: None,
        delivery_detail: None,
    };
    tx.put_message(&message)?;
    tx.put_conversation(old.as_ref(), &conv)?;
    tx.append_event(
        actor,
        EventKind::MessageReceived {
            conversation: conv.id,
            message: message_id,
        },
    )?;
    Ok(IngestOutcome {
        message: message_id,
        conversation: conv.id,
        duplicate: false,
        new_conversation,
    })
}

/// The contact with this email, or a new one (with its event).
pub fn contact_for(
    tx: &mut Tx<'_>,
    email: Option<&str>,
    name: &str,
    actor: &Actor,
) -> Result<ContactId, StoreError> {
    if let Some(e) = email
        && let Some(c) = tx.contact_by_email(e)?
    {
        return Ok(c);
    }
    let contact = Contact {
        id: ContactId(tx.next_id()),
        name: name.to_string(),
        email: email.map(str::to_string),
        language: None,
        lifetime_value_cents: 0,
        vip: false,
        created_at: tx.now(),
        attributes: Default::default(),
    };
    tx.put_contact(&contact)?;
    tx.append_event(
        actor.clone(),
        EventKind::ContactCreated {
            contact: contact.id,
        },
    )?;
    Ok(contact.id)
}

/// The thread key of messages that carry none: the author's identity.
pub fn identity_thread(identity: IdentityId) -> String {
    format!("identity:{identity}")
}

/// Cursor-table key naming the conversation an agent moved to private for
/// this identity on this channel (see `App::set_visibility`).
pub fn private_continuation_key(channel: &str, identity: IdentityId) -> String {
    format!("private-continuation\u{1f}{channel}\u{1f}{identity}")
}

/// The open conversation on a message's thread that is its author's own
/// (a customer's follow-up), if any — without creating anything. Someone
/// else writing in that thread (a bystander in a group, a reply from
/// another account) does not count.
pub fn open_thread(tx: &Tx<'_>, m: &InboundMessage) -> Result<Option<ConversationId>, StoreError> {
    let Some(author) = tx.identity_by_handle(m.kind, &m.author.handle)? else {
        return Ok(None);
    };
    let key = m
        .thread
        .clone()
        .unwrap_or_else(|| identity_thread(author.id));
    Ok(match tx.thread(&m.channel, &key)? {
        Some(id) => tx
            .conversation(id)?
            .filter(|c| c.status != Status::Resolved && c.identity == author.id)
            .map(|c| c.id),
        None => None,
    })
}

fn resolve_identity(
    tx: &mut Tx<'_>,
    m: &InboundMessage,
    actor: &Actor,
) -> Result<Identity, StoreError> {
    let now = tx.now();
    let a = &m.author;
    let email = a
        .email
        .clone()
        .or_else(|| (m.kind == ChannelKind::Email).then(|| a.handle.clone()));
    if let Some(old) = tx.identity_by_handle(m.kind, &a.handle)? {
        let mut ident = old.clone();
        if a.name.is_some() {
            ident.display_name = a.name.clone();
        }
        if a.followers.is_some() {
            ident.followers = a.followers;
        }
        ident.verified = a.verified || (ident.verified && a.followers.is_none());
        if a.account_created_at.is_some() {
            ident.account_created_at = a.account_created_at;
        }
        if a.bio.is_some() {
            ident.bio = a.bio.clone();
        }
        // Rewrite only on a profile change, or to move `last_seen` once an hour.
        if ident != old || now.0 - old.last_seen.0 > 3_600_000 {
            ident.last_seen = now;
            tx.put_identity(Some(&old), &ident)?;
            tx.append_event(
                actor.clone(),
                EventKind::IdentityUpdated { identity: ident.id },
            )?;
        }
        if let Some(email) = email
            && let Some(mut contact) = tx.contact(ident.contact)?
            && contact.email.is_none()
            && tx.contact_by_email(&email)?.is_none()
        {
            contact.email = Some(email);
            tx.put_contact(&contact)?;
            tx.append_event(
                actor.clone(),
                EventKind::ContactUpdated {
                    contact: contact.id,
                },
            )?;
        }
        return Ok(ident);
    }
    let name = a.name.clone().unwrap_or_else(|| a.handle.clone());
    let contact_id = contact_for(tx, email.as_deref(), &name, actor)?;
    let ident = Identity {
        id: IdentityId(tx.next_id()),
        contact: contact_id,
        kind: m.kind,
        handle: a.handle.clone(),
        display_name: a.name.clone(),
        followers: a.followers,
        verified: a.verified,
        account_created_at: a.account_created_at,
        bio: a.bio.clone(),
        first_seen: now,
        last_seen: now,
    };
    tx.put_identity(None, &ident)?;
    tx.append_event(
        actor.clone(),
        EventKind::IdentityCreated {
            identity: ident.id,
            contact: contact_id,
        },
    )?;
    Ok(ident)
}

#[cfg(test)]
mod tests;
