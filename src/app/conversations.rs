//! Listing, reading, replying to and changing conversations.

use super::canned::norm;
use super::perm::{Perm, can_see};
use super::{App, AppError, Caller};
use crate::domain::*;
use crate::store::{Scope, Sort};

/// Longest reply an agent may send.
pub const MAX_REPLY_BYTES: usize = 64 << 10;

/// Largest file an agent may attach to a reply.
pub const MAX_ATTACHMENT_BYTES: usize = 10 << 20;
/// Largest total of a reply's attachments.
pub const MAX_REPLY_ATTACHMENT_BYTES: usize = 25 << 20;
/// Most files on one reply.
pub const MAX_REPLY_ATTACHMENTS: usize = 20;

/// A file an agent attaches to a reply or note (from the web form or the API).
#[derive(Clone, Debug, Default)]
pub struct NewAttachment {
    /// As uploaded; sanitized before it is stored.
    pub filename: String,
    /// As uploaded; `None` or an unusable value is guessed from the name.
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// A file name safe to store and to send: the last path component, without
/// control characters, at most 200 characters; unicode is kept.
pub fn sanitize_filename(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    (!clean.is_empty() && clean != "." && clean != "..").then(|| clean.chars().take(200).collect())
}

/// The media type of an upload: the one given when it looks like
/// `type/subtype`, else a guess from the file name's extension, else
/// `application/octet-stream`.
pub fn attachment_content_type(given: Option<&str>, filename: &str) -> String {
    let given = given
        .map(|g| {
            g.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|g| {
            let mut it = g.splitn(2, '/');
            let ok = |p: Option<&str>| {
                p.is_some_and(|p| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
                })
            };
            ok(it.next()) && ok(it.next())
        })
        .filter(|g| g != "application/octet-stream");
    if let Some(g) = given {
        return g;
    }
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "eml" => "message/rfc822",
        "ics" => "text/calendar",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
    .to_string()
}

/// Check sizes and names of a reply's files (no I/O).
fn check_attachments(files: &[NewAttachment]) -> Result<(), AppError> {
    if files.len() > MAX_REPLY_ATTACHMENTS {
        return Err(AppError::Invalid(format!(
            "a reply can carry at most {MAX_REPLY_ATTACHMENTS} attachments ({} given)",
            files.len()
        )));
    }
    let mut total = 0usize;
    for f in files {
        if f.bytes.len() > MAX_ATTACHMENT_BYTES {
            return Err(AppError::Invalid(format!(
                "attachment {:?} is {} bytes; the limit is {} MB per file",
                f.filename,
                f.bytes.len(),
                MAX_ATTACHMENT_BYTES >> 20
            )));
        }
        total += f.bytes.len();
    }
    if total > MAX_REPLY_ATTACHMENT_BYTES {
        return Err(AppError::Invalid(format!(
            "the attachments add up to {total} bytes; the limit is {} MB per reply",
            MAX_REPLY_ATTACHMENT_BYTES >> 20
        )));
    }
    Ok(())
}

/// Store the files content-addressed under `DATA/attachments` (like inbound
/// ones) and describe them for the message. Blocking file I/O.
fn store_attachments(
    data: &std::path::Path,
    files: Vec<NewAttachment>,
) -> Result<Vec<Attachment>, AppError> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::with_capacity(files.len());
    for (n, f) in files.into_iter().enumerate() {
        let sha: String = Sha256::digest(&f.bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let filename =
            sanitize_filename(&f.filename).unwrap_or_else(|| format!("attachment-{}", n + 1));
        let content_type = attachment_content_type(f.content_type.as_deref(), &filename);
        super::email::write_attachment(data, &sha, &f.bytes).map_err(|e| {
            AppError::Unavailable(format!("attachment {filename:?} could not be saved: {e}"))
        })?;
        out.push(Attachment {
            filename,
            content_type,
            size: f.bytes.len() as u64,
            sha256: Some(sha),
        });
    }
    Ok(out)
}

pub struct ListQuery {
    /// None: every status.
    pub status: Option<Status>,
    pub sort: Sort,
    pub limit: usize,
    pub cursor: Option<Vec<u8>>,
}

/// A conversation with what a list row shows.
#[derive(Clone, Debug)]
pub struct ConversationView {
    pub conv: Conversation,
    pub contact: Option<Contact>,
    pub identity: Option<Identity>,
    pub assignee: Option<User>,
    pub team: Option<Team>,
}

pub struct ListPage {
    pub items: Vec<ConversationView>,
    pub next_cursor: Option<String>,
}

pub struct Detail {
    pub view: ConversationView,
    pub messages: Vec<Message>,
}

/// What a reply produced.
#[derive(Clone, Copy, Debug)]
pub struct ReplyOutcome {
    pub message: MessageId,
    pub delivery: Option<Delivery>,
}

fn load_view(
    r: &crate::store::Reader,
    conv: Conversation,
) -> Result<ConversationView, crate::store::StoreError> {
    Ok(ConversationView {
        contact: r.contact(conv.contact)?,
        identity: r.identity(conv.identity)?,
        assignee: match conv.assignee {
            Some(u) => r.user(u)?,
            None => None,
        },
        team: match conv.team {
            Some(t) => r.team(t)?,
            None => None,
        },
        conv,
    })
}

impl App {
    pub async fn list_conversations(
        &self,
        caller: &Caller,
        q: ListQuery,
    ) -> Result<ListPage, AppError> {
        caller.check(Perm::ViewConversation, None)?;
        let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let limit = q.limit.clamp(1, 200);
        self.store
            .read(move |r| {
                let page =
                    r.list_conversations(q.sort, q.status, q.cursor.as_deref(), limit, |c| {
                        can_see(&user, c)
                    })?;
                let mut items = Vec::with_capacity(page.items.len());
                for c in page.items {
                    items.push(load_view(r, c)?);
                }
                Ok(ListPage {
                    items,
                    next_cursor: page.next_cursor,
                })
            })
            .await
            .map_err(Into::into)
    }

    pub async fn conversation(
        &self,
        caller: &Caller,
        id: ConversationId,
    ) -> Result<Detail, AppError> {
        let found = self
            .store
            .read(move |r| match r.conversation(id)? {
                Some(c) => Ok(Some((load_view(r, c)?, r.conversation_messages(id)?))),
                None => Ok(None),
            })
            .await?;
        let Some((view, messages)) = found else {
            return Err(AppError::NotFound(format!("no conversation {id}")));
        };
        caller.check(Perm::ViewConversation, Some(&view.conv))?;
        Ok(Detail { view, messages })
    }

    /// The kind of network behind a configured channel name.
    pub fn channel_kind(&self, name: &str) -> Option<ChannelKind> {
        if self.config.api_channel(name).is_some() {
            Some(ChannelKind::Api)
        } else if self.config.webchat_channel(name).is_some() {
            Some(ChannelKind::Webchat)
        } else if self.email_channel(name).is_some() {
            Some(ChannelKind::Email)
        } else {
            self.connector(name).map(|c| c.kind())
        }
    }

    /// Why replies on `channel` cannot be delivered now (they wait, parked),
    /// or `None` when the outbox can send them.
    pub fn cannot_send(&self, channel: &str) -> Option<String> {
        if self.channel_disabled(channel) {
            return Some("the channel is disabled by an admin".into());
        }
        if let Some(c) = self.config.api_channel(channel) {
            return c
                .webhook_url
                .is_none()
                .then(|| "no webhook_url is configured for this channel".into());
        }
        if let Some(c) = self.email_channel(channel) {
            return c
                .smtp
                .is_none()
                .then(|| "no [channel.email.smtp] is configured for this mailbox".into());
        }
        if self.connector(channel).is_some() {
            return None;
        }
        Some("the channel is no longer configured".into())
    }

    /// An agent's public reply, private reply or internal note. A reply is
    /// committed together with its outbox row.
    pub async fn reply(
        &self,
        caller: &Caller,
        id: ConversationId,
        text: &str,
        private: bool,
        note: bool,
    ) -> Result<ReplyOutcome, AppError> {
        self.reply_checked(caller, id, text, (private, note), false)
            .await
    }

    /// [`App::reply`], where `allow_personal` publishes a public social reply
    /// even though it contains personal data (the agent confirmed).
    pub async fn reply_checked(
        &self,
        caller: &Caller,
        id: ConversationId,
        text: &str,
        (private, note): (bool, bool),
        allow_personal: bool,
    ) -> Result<ReplyOutcome, AppError> {
        self.reply_with_attachments(caller, id, text, (private, note), allow_personal, vec![])
            .await
    }

    /// [`App::reply_checked`] with files. Email replies and internal notes
    /// carry them; other channels refuse them in this version. The text may
    /// be empty when there are files.
    pub async fn reply_with_attachments(
        &self,
        caller: &Caller,
        id: ConversationId,
        text: &str,
        (private, note): (bool, bool),
        allow_personal: bool,
        files: Vec<NewAttachment>,
    ) -> Result<ReplyOutcome, AppError> {
        let mut text = text.trim().to_string();
        if text.is_empty() && files.is_empty() {
            return Err(AppError::Invalid("text must not be empty".into()));
        }
        check_attachments(&files)?;
        if text.len() > MAX_REPLY_BYTES {
            return Err(AppError::Invalid(format!(
                "text is longer than {MAX_REPLY_BYTES} bytes"
            )));
        }
        caller.check(Perm::ReplyConversation, None)?;
        let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let current = self.store.read(move |r| r.conversation(id)).await?;
        let conv = current.ok_or_else(|| AppError::NotFound(format!("no conversation {id}")))?;
        caller.check(Perm::ReplyConversation, Some(&conv))?;
        if text.contains("{{") {
            // Variables are filled in now; an unknown one is an error, never sent raw.
            let contact = conv.contact;
            let contact = self.store.read(move |r| r.contact(contact)).await?;
            text = super::canned::render(&text, &self.canned_vars(&user, &conv, contact.as_ref()))
                .map_err(|e| AppError::Invalid(e.to_string()))?;
        }
        let kind = self.channel_kind(&conv.channel);
        // A conversation moved to private ("please DM us") answers privately.
        let private = private || (!note && !conv.public && kind.is_some_and(|k| k.has_private()));
        let on_public_network = matches!(
            kind,
            Some(
                ChannelKind::X
                    | ChannelKind::Facebook
                    | ChannelKind::Mastodon
                    | ChannelKind::Telegram
            )
        );
        if !note && !private && !allow_personal && on_public_network {
            let found = super::privacy::personal_data(&text);
            if !found.is_empty() {
                return Err(AppError::Conflict(format!(
                    "{PERSONAL_DATA}: this public reply contains {}. Send it as a private message, or confirm to publish it anyway",
                    found.join(", ")
                )));
            }
        }
        if !note {
            match kind {
                None => {
                    return Err(AppError::Conflict(format!(
                        "channel {} cannot send replies in this version",
                        conv.channel
                    )));
                }
                Some(k) if private && !k.has_private() => {
                    return Err(AppError::Invalid(format!(
                        "channel {} has no private replies; send a public reply",
                        conv.channel
                    )));
                }
                _ => {}
            }
        }
        if !note && !files.is_empty() && kind != Some(ChannelKind::Email) {
            return Err(AppError::Invalid(format!(
                "channel {} ({}) cannot carry attachments in this version; only email replies and internal notes can",
                conv.channel,
                kind.map(ChannelKind::as_str).unwrap_or("unknown")
            )));
        }
        let attachments = if files.is_empty() {
            vec![]
        } else {
            let data = self.config.server.data.clone();
            tokio::task::spawn_blocking(move || store_attachments(&data, files))
                .await
                .map_err(|e| AppError::Unavailable(format!("saving attachments: {e}")))??
        };
        let parked = self.cannot_send(&conv.channel);
        // A triage rule asked for approval: an agent's reply waits for a
        // supervisor (admins and supervisors send directly).
        let held = !note && user.role == Role::Agent && self.needs_approval(id).await?;
        let outcome = self
            .store
            .write(move |tx| {
                let Some(old) = tx.conversation(id)? else {
                    return Ok(Err(AppError::NotFound(format!("no conversation {id}"))));
                };
                let now = tx.now();
                let direction = if note {
                    Direction::Note
                } else {
                    Direction::Out
                };
                let delivery = match (note, kind) {
                    (true, _) => None,
                    (false, _) if held => Some(Delivery::AwaitingApproval),
                    (false, Some(ChannelKind::Webchat)) => Some(Delivery::Sent),
                    (false, _) => Some(Delivery::Queued),
                };
                let message = Message {
                    id: MessageId(tx.next_id()),
                    conversation: id,
                    direction,
                    channel: old.channel.clone(),
                    external_id: None,
                    text,
                    html: None,
                    attachments,
                    public: !private && !note,
                    author: Author::User(user.id),
                    author_name: user.name.clone(),
                    sent_at: now,
                    received_at: now,
                    delivery,
                    delivery_detail: None,
                };
                record_outgoing(tx, &old, &message)?;
                let actor = Actor::User(user.id);
                if note {
                    tx.append_event(
                        actor.clone(),
                        EventKind::NoteAdded {
                            conversation: id,
                            message: message.id,
                        },
                    )?;
                    let users = tx.users()?;
                    for u in mentioned(&message.text, &users)
                        .into_iter()
                        .filter(|u| *u != user.id)
                    {
                        tx.add_mention(u, message.id, id)?;
                        tx.append_event(
                            actor.clone(),
                            EventKind::Mentioned {
                                conversation: id,
                                message: message.id,
                                user: u,
                            },
                        )?;
                    }
                } else {
                    let outbox = (delivery == Some(Delivery::Queued))
                        .then(|| queue_outbox(tx, &message, parked.clone()))
                        .transpose()?;
                    tx.append_event(
                        actor,
                        EventKind::ReplyQueued {
                            conversation: id,
                            message: message.id,
                            outbox,
                        },
                    )?;
                }
                Ok(Ok(ReplyOutcome {
                    message: message.id,
                    delivery,
                }))
            })
            .await??;
        if !note {
            self.metrics.replies_queued.inc();
            self.outbox_wake.notify_one();
        }
        Ok(outcome)
    }

    /// Continue a public conversation privately ("please DM us" in one
    /// click): the conversation stays one, and replies default to private.
    pub async fn set_visibility(
        &self,
        caller: &Caller,
        id: ConversationId,
        public: bool,
    ) -> Result<Conversation, AppError> {
        caller.check(Perm::ReplyConversation, None)?;
        let conv = self
            .store
            .read(move |r| r.conversation(id))
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no conversation {id}")))?;
        caller.check(Perm::ReplyConversation, Some(&conv))?;
        let actor = caller
            .user()
            .map(|u| Actor::User(u.id))
            .unwrap_or(Actor::System);
        self.store
            .write(move |tx| {
                let Some(old) = tx.conversation(id)? else {
                    return Ok(Err(AppError::NotFound(format!("no conversation {id}"))));
                };
                if old.public == public {
                    return Ok(Ok(old));
                }
                let mut c = old.clone();
                c.public = public;
                c.updated_at = tx.now();
                tx.put_conversation(Some(&old), &c)?;
                if !public {
                    // The customer's next private message joins this conversation.
                    let key = crate::ingest::private_continuation_key(&c.channel, c.identity);
                    tx.put_cursor(&key, &c.id)?;
                }
                tx.append_event(
                    actor,
                    EventKind::VisibilityChanged {
                        conversation: id,
                        public,
                    },
                )?;
                Ok(Ok(c))
            })
            .await?
    }

    pub async fn set_status(
        &self,
        caller: &Caller,
        id: ConversationId,
        status: Status,
        snooze_until: Option<Ts>,
    ) -> Result<Conversation, AppError> {
        caller.check(Perm::ChangeStatus, None)?;
        let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        if status == Status::Snoozed && snooze_until.is_none() {
            return Err(AppError::Invalid(
                "status snoozed needs \"until\" (an RFC 3339 time)".into(),
            ));
        }
        let current = self.store.read(move |r| r.conversation(id)).await?;
        let conv = current.ok_or_else(|| AppError::NotFound(format!("no conversation {id}")))?;
        caller.check(Perm::ChangeStatus, Some(&conv))?;
        self.store
            .write(move |tx| {
                let Some(old) = tx.conversation(id)? else {
                    return Ok(Err(AppError::NotFound(format!("no conversation {id}"))));
                };
                if old.status == status && old.snoozed_until == snooze_until {
                    return Ok(Ok(old));
                }
                let now = tx.now();
                let mut c = old.clone();
                c.status = status;
                c.updated_at = now;
                c.snoozed_until = if status == Status::Snoozed {
                    snooze_until
                } else {
                    None
                };
                c.resolved_at = (status == Status::Resolved).then_some(now);
                tx.put_conversation(Some(&old), &c)?;
                tx.append_event(
                    Actor::User(user.id),
                    EventKind::StatusChanged {
                        conversation: id,
                        from: old.status,
                        to: status,
                    },
                )?;
                Ok(Ok(c))
            })
            .await?
    }
}

/// Staff `@mentioned` in a note: `@marta`, `@marta.ruiz` (email's local
/// part) or `@martaruiz` (the whole name); accents and case do not matter.
pub fn mentioned(text: &str, users: &[User]) -> Vec<UserId> {
    let mut out = Vec::new();
    for part in text.split('@').skip(1) {
        let token: String = part
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .collect();
        let token = norm(token.trim_end_matches(['.', '-', '_']));
        if token.is_empty() {
            continue;
        }
        for u in users.iter().filter(|u| u.active && u.role != Role::Auditor) {
            let local = norm(u.email.split('@').next().unwrap_or(""));
            let first = norm(u.name.split_whitespace().next().unwrap_or(""));
            let whole: String = norm(&u.name).split_whitespace().collect();
            if (token == local || token == first || token == whole) && !out.contains(&u.id) {
                out.push(u.id);
            }
        }
    }
    out
}

/// Narrowing of an inbox view; empty fields match everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub channel: Option<String>,
    pub tag: Option<String>,
    pub priority: Option<Priority>,
    pub tier: Option<u8>,
    pub team: Option<TeamId>,
    pub assignee: Option<UserId>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    pub fn keeps(&self, c: &Conversation) -> bool {
        self.channel.as_ref().is_none_or(|ch| &c.channel == ch)
            && self
                .tag
                .as_ref()
                .is_none_or(|t| c.tags.iter().any(|x| x == t))
            && self.priority.is_none_or(|p| c.priority == p)
            && self.tier.is_none_or(|t| c.tier == t)
            && self.team.is_none_or(|t| c.team == Some(t))
            && self.assignee.is_none_or(|a| c.assignee == Some(a))
    }
}

/// The inbox's views (left rail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxView {
    Mine,
    Unassigned,
    Teams,
    All,
    Mentions,
    Snoozed,
    Resolved,
}

impl InboxView {
    pub const ALL: [InboxView; 7] = [
        InboxView::Mine,
        InboxView::Unassigned,
        InboxView::Teams,
        InboxView::All,
        InboxView::Mentions,
        InboxView::Snoozed,
        InboxView::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InboxView::Mine => "mine",
            InboxView::Unassigned => "unassigned",
            InboxView::Teams => "teams",
            InboxView::All => "all",
            InboxView::Mentions => "mentions",
            InboxView::Snoozed => "snoozed",
            InboxView::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<InboxView> {
        InboxView::ALL.into_iter().find(|v| v.as_str() == s)
    }

    fn status(self) -> Status {
        match self {
            InboxView::Snoozed => Status::Snoozed,
            InboxView::Resolved => Status::Resolved,
            _ => Status::Open,
        }
    }

    fn sort(self) -> Sort {
        match self {
            InboxView::Resolved | InboxView::Snoozed | InboxView::Mentions => Sort::Newest,
            _ => Sort::Priority,
        }
    }

    fn matches(self, u: &User, c: &Conversation) -> bool {
        match self {
            InboxView::Mine => c.assignee == Some(u.id),
            InboxView::Unassigned => c.assignee.is_none(),
            InboxView::Teams => c.team.is_some_and(|t| u.teams.contains(&t)),
            InboxView::All | InboxView::Mentions | InboxView::Snoozed | InboxView::Resolved => true,
        }
    }
}

/// Earlier conversations shown beside one.
pub const HISTORY_LIMIT: usize = 20;

/// Everything the conversation page shows.
pub struct ConversationPage {
    pub detail: Detail,
    pub identities: Vec<Identity>,
    /// The contact's other conversations this user may see, newest first.
    pub history: Vec<Conversation>,
    pub events: Vec<Event>,
    /// Display names of the staff that appear in the timeline.
    pub names: std::collections::HashMap<UserId, String>,
}

impl App {
    /// One page of an inbox view, in its order, with only what the user may see.
    pub async fn inbox(
        &self,
        caller: &Caller,
        view: InboxView,
        cursor: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<ListPage, AppError> {
        self.inbox_filtered(caller, view, &Filter::default(), cursor, limit)
            .await
    }

    /// A view narrowed by filters (channel, tag, priority, tier, team, assignee).
    pub async fn inbox_filtered(
        &self,
        caller: &Caller,
        view: InboxView,
        filter: &Filter,
        cursor: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<ListPage, AppError> {
        let filter = filter.clone();
        caller.check(Perm::ViewConversation, None)?;
        let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let limit = limit.clamp(1, 200);
        self.store
            .read(move |r| {
                if view == InboxView::Mentions {
                    // Most recent mentions first; one page.
                    let mut items = Vec::new();
                    for id in r.mentioned_in(user.id, limit)? {
                        if let Some(c) = r.conversation(id)?
                            && can_see(&user, &c)
                            && filter.keeps(&c)
                        {
                            items.push(load_view(r, c)?);
                        }
                    }
                    return Ok(ListPage {
                        items,
                        next_cursor: None,
                    });
                }
                let scope = match view {
                    InboxView::Mine => Scope::Assignee(Status::Open, Some(user.id.0)),
                    InboxView::Unassigned => Scope::Assignee(Status::Open, None),
                    InboxView::Teams if user.teams.len() == 1 => {
                        Scope::Team(Status::Open, user.teams[0].0)
                    }
                    _ => Scope::Status(Some(view.status())),
                };
                let page = r.list_scoped(view.sort(), scope, cursor.as_deref(), limit, |c| {
                    can_see(&user, c) && view.matches(&user, c) && filter.keeps(c)
                })?;
                let mut items = Vec::with_capacity(page.items.len());
                for c in page.items {
                    items.push(load_view(r, c)?);
                }
                Ok(ListPage {
                    items,
                    next_cursor: page.next_cursor,
                })
            })
            .await
            .map_err(Into::into)
    }

    /// Counts per view, read from the store's counters (no scan).
    pub async fn view_counts(&self, caller: &Caller) -> Result<Vec<(InboxView, u64)>, AppError> {
        caller.check(Perm::ViewConversation, None)?;
        let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        self.store
            .read(move |r| {
                let mut out = Vec::new();
                for v in InboxView::ALL {
                    let n = match v {
                        InboxView::Mine => r.count(Status::Open, Some(Some(user.id)), None)?,
                        InboxView::Unassigned => r.count(Status::Open, Some(None), None)?,
                        InboxView::Teams => {
                            let mut n = 0;
                            for t in &user.teams {
                                n += r.count(Status::Open, None, Some(*t))?;
                            }
                            n
                        }
                        InboxView::All => r.count(Status::Open, None, None)?,
                        InboxView::Mentions => {
                            r.meta(&format!("count:m:{}", user.id))?.unwrap_or(0)
                        }
                        InboxView::Snoozed => r.count(Status::Snoozed, None, None)?,
                        InboxView::Resolved => r.count(Status::Resolved, None, None)?,
                    };
                    out.push((v, n));
                }
                Ok(out)
            })
            .await
            .map_err(Into::into)
    }

    pub async fn conversation_page(
        &self,
        caller: &Caller,
        id: ConversationId,
    ) -> Result<ConversationPage, AppError> {
        let detail = self.conversation(caller, id).await?;
        let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let contact = detail.view.conv.contact;
        let (identities, history, events, names) = self
            .store
            .read(move |r| {
                let identities = r.contact_identities(contact)?;
                let mut history = Vec::new();
                for cid in r.contact_conversations(contact)?.into_iter().rev() {
                    if cid == id {
                        continue;
                    }
                    if history.len() >= HISTORY_LIMIT {
                        break;
                    }
                    if let Some(c) = r.conversation(cid)?
                        && can_see(&user, &c)
                    {
                        history.push(c);
                    }
                }
                let events = r.conversation_events(id)?;
                let mut names = std::collections::HashMap::new();
                for e in &events {
                    let mut who = vec![];
                    if let Actor::User(u) = e.actor {
                        who.push(u);
                    }
                    if let EventKind::Assigned {
                        assignee: Some(u), ..
                    } = e.kind
                    {
                        who.push(u);
                    }
                    for u in who {
                        if let std::collections::hash_map::Entry::Vacant(v) = names.entry(u)
                            && let Some(user) = r.user(u)?
                        {
                            v.insert(user.name);
                        }
                    }
                }
                Ok((identities, history, events, names))
            })
            .await?;
        Ok(ConversationPage {
            detail,
            identities,
            history,
            events,
            names,
        })
    }
}

/// How a held public reply's error begins (pages offer "send privately").
pub const PERSONAL_DATA: &str = "personal data";

/// The outbox row for an outgoing message, in the caller's transaction:
/// pending, or parked with `parked` as the reason when the channel cannot
/// send now. Its idempotency key is fixed here, before the first attempt.
/// Store a message staff wrote (a reply or a note) and what it changes on
/// its conversation: a reply is a response, and the customer no longer waits.
pub(crate) fn record_outgoing(
    tx: &mut crate::store::Tx<'_>,
    old: &Conversation,
    message: &Message,
) -> Result<(), crate::store::StoreError> {
    let mut conv = old.clone();
    conv.message_count += 1;
    conv.updated_at = message.sent_at;
    if message.direction != Direction::Note {
        if conv.first_response_at.is_none()
            && let Author::User(u) = message.author
        {
            super::triage::note_first_response(tx, &mut conv, u, message.sent_at)?;
        }
        conv.first_response_at.get_or_insert(message.sent_at);
        conv.waiting_since = None;
        conv.last_message_at = message.sent_at;
    }
    tx.put_message(message)?;
    tx.put_conversation(Some(old), &conv)
}

pub(crate) fn queue_outbox(
    tx: &mut crate::store::Tx<'_>,
    message: &Message,
    parked: Option<String>,
) -> Result<OutboxId, crate::store::StoreError> {
    let oid = OutboxId(tx.next_id());
    let now = tx.now();
    let item = OutboxItem {
        id: oid,
        message: message.id,
        conversation: message.conversation,
        channel: message.channel.clone(),
        idempotency_key: format!("atalaya-{}-{}", message.id, uuid::Uuid::new_v4().simple()),
        state: if parked.is_none() {
            OutboxState::Pending
        } else {
            OutboxState::Parked
        },
        attempts: 0,
        next_attempt_at: now,
        last_error: parked,
        created_at: now,
    };
    tx.put_outbox(&item)?;
    Ok(oid)
}

/// A new outgoing message on `conv`'s channel (not stored yet): queued for
/// the outbox, or sent at once on the website chat (the widget fetches it).
pub(crate) fn new_outgoing(
    tx: &mut crate::store::Tx<'_>,
    conv: &Conversation,
    kind: ChannelKind,
    text: String,
    public: bool,
    (author, author_name): (Author, String),
) -> Message {
    let now = tx.now();
    Message {
        id: MessageId(tx.next_id()),
        conversation: conv.id,
        direction: Direction::Out,
        channel: conv.channel.clone(),
        external_id: None,
        text,
        html: None,
        attachments: vec![],
        public,
        author,
        author_name,
        sent_at: now,
        received_at: now,
        delivery: Some(if kind == ChannelKind::Webchat {
            Delivery::Sent
        } else {
            Delivery::Queued
        }),
        delivery_detail: None,
    }
}

/// The outbox row of a stored outgoing message, except on the website chat
/// (nothing to send: the visitor's widget fetches it).
pub(crate) fn queue_delivery(
    tx: &mut crate::store::Tx<'_>,
    message: &Message,
    kind: ChannelKind,
    parked: Option<String>,
) -> Result<Option<OutboxId>, crate::store::StoreError> {
    (kind != ChannelKind::Webchat)
        .then(|| queue_outbox(tx, message, parked))
        .transpose()
}

/// Send a message the business writes by itself (an acknowledgement, an
/// out-of-hours answer, a survey): privately where the network can, queued
/// like any reply. It is not a response: the customer still waits.
pub(crate) fn send_automatic(
    tx: &mut crate::store::Tx<'_>,
    conv: ConversationId,
    kind: ChannelKind,
    text: String,
    (business, parked, actor): (&str, Option<String>, Actor),
) -> Result<Option<Message>, crate::store::StoreError> {
    let Some(old) = tx.conversation(conv)? else {
        return Ok(None);
    };
    let message = new_outgoing(
        tx,
        &old,
        kind,
        text,
        !kind.has_private(),
        (Author::System, business.to_string()),
    );
    let mut c = old.clone();
    c.message_count += 1;
    c.updated_at = message.sent_at;
    tx.put_message(&message)?;
    tx.put_conversation(Some(&old), &c)?;
    let outbox = queue_delivery(tx, &message, kind, parked)?;
    tx.append_event(
        actor,
        EventKind::ReplyQueued {
            conversation: conv,
            message: message.id,
            outbox,
        },
    )?;
    Ok(Some(message))
}
