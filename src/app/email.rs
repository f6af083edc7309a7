//! Storing mail: raw RFC 5322 bytes from a mailbox (IMAP poller, importers)
//! become messages, bounce reports or quarantined items — and a connector's
//! cursor moves in the same transaction as the mail it covers.
//!
//! Work is split like ingest: parsing, sanitizing and writing attachment
//! files happen outside the writer ([`App::prepare_mail`]); one writer
//! command then stores a whole batch ([`App::store_mail_batch`]).

use super::{App, AppError};
use crate::channels::email::mime::{self, ParsedMail};
use crate::config::EmailChannel;
use crate::domain::*;
use crate::ingest::{self, InboundMessage, IngestOutcome, IngestRules};
use crate::store::{StoreError, Tx};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// One mail as a connector got it.
#[derive(Clone, Debug)]
pub struct RawMail {
    /// Where it came from, for the quarantine (`imap INBOX uid 42`).
    pub source: String,
    /// The size the server announced (RFC822.SIZE) or the file's size.
    pub size: u64,
    /// `None` when it was too large to download.
    pub raw: Option<Vec<u8>>,
    /// The header block alone, fetched for mail too large to download: the
    /// quarantine then shows who sent it and recognizes it when listed again.
    pub headers: Option<Vec<u8>>,
}

/// A connector's position, saved with the mail it covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailCursor {
    #[default]
    None,
    /// An IMAP folder: everything up to `last_uid` under `uidvalidity` is stored.
    Imap { uidvalidity: u32, last_uid: u32 },
    /// An import: this many items of the source are stored.
    Import { done: u64 },
}

/// What became of one mail.
#[derive(Clone, Debug, PartialEq)]
pub enum MailOutcome {
    Stored(IngestOutcome),
    /// A delivery report; `matched` is the reply it marked failed (or delayed).
    Bounce {
        matched: Option<MessageId>,
    },
    Quarantined {
        id: u64,
        reason: String,
    },
}

/// A mail after the work that happens outside the writer.
pub enum PreparedMail {
    Message {
        msg: Box<InboundMessage>,
        parsed: Box<ParsedMail>,
    },
    Bounce {
        parsed: Box<ParsedMail>,
        raw: Vec<u8>,
        source: String,
    },
    Quarantine {
        source: String,
        size: u64,
        raw: Option<Vec<u8>>,
        reason: String,
        /// What identifies the item across re-listings (its Message-ID).
        key: Option<String>,
    },
}

/// Cursor key of a mailbox folder (or import source).
pub fn cursor_key(channel: &str, what: &str) -> String {
    format!("{channel}\u{1f}{what}")
}

/// Where attachment bytes live: `DATA/attachments/ab/abcdef…` (SHA-256).
pub fn attachment_path(data: &Path, sha256: &str) -> Option<PathBuf> {
    let ok = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| data.join("attachments").join(&sha256[..2]).join(sha256))
}

/// Write content-addressed bytes once (temp file, fsync, rename).
pub(crate) fn write_attachment(data: &Path, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
    let Some(path) = attachment_path(data, sha256) else {
        return Err(std::io::Error::other("bad attachment hash"));
    };
    if path.exists() {
        return Ok(());
    }
    let dir = path.parent().unwrap_or(data);
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&path).map_err(|e| e.error)?;
    Ok(())
}

impl App {
    /// Parse, check and sanitize one mail and write its attachments; no
    /// store access. Never fails: what cannot be stored is quarantined.
    pub fn prepare_mail(&self, ch: &EmailChannel, mail: RawMail) -> PreparedMail {
        let RawMail {
            source,
            size,
            raw,
            headers,
        } = mail;
        let quarantine = |raw: Option<Vec<u8>>, reason: String| PreparedMail::Quarantine {
            source: source.clone(),
            size,
            raw,
            reason,
            key: None,
        };
        let Some(raw) = raw else {
            let head = headers.and_then(|h| mime::parse(&h, 1 << 20).ok());
            let mut reason = format!(
                "too large: {size} bytes (limit {}); not downloaded",
                ch.max_message_bytes
            );
            if let Some(h) = &head {
                if let Some((from, _)) = &h.from {
                    reason.push_str(&format!("; from {from}"));
                }
                if let Some(subject) = &h.subject {
                    reason.push_str(&format!("; subject {subject:?}"));
                }
            }
            return PreparedMail::Quarantine {
                source,
                size,
                raw: None,
                reason,
                key: head.and_then(|h| h.message_id),
            };
        };
        let parsed = match mime::parse(&raw, ch.max_message_bytes as usize) {
            Ok(p) => p,
            Err(e) => return quarantine(Some(raw), format!("cannot be parsed: {e}")),
        };
        if parsed.bounce.is_some() {
            return PreparedMail::Bounce {
                parsed: Box::new(parsed),
                raw,
                source,
            };
        }
        if parsed.from.is_none() {
            return quarantine(Some(raw), "no usable From address".into());
        }
        for a in &parsed.attachments {
            if let Err(e) = write_attachment(&self.config.server.data, &a.sha256, &a.bytes) {
                return quarantine(
                    Some(raw),
                    format!("attachment {:?} could not be saved: {e}", a.filename),
                );
            }
        }
        let mut msg = mime::to_inbound(&parsed, &ch.name);
        if msg.text.trim().is_empty()
            && msg.attachments.is_empty()
            && msg.html.as_deref().is_none_or(|h| h.trim().is_empty())
        {
            msg.text = "(empty message)".into();
        }
        match ingest::prepare(msg, &self.ingest_rules()) {
            Ok(mut m) => {
                if m.text.trim().is_empty() {
                    // HTML that sanitized to nothing (an image-only mail).
                    m.text = "(no text: see the attachments)".into();
                }
                PreparedMail::Message {
                    msg: Box::new(m),
                    parsed: Box::new(parsed),
                }
            }
            Err(e) => quarantine(Some(raw), format!("rejected: {e}")),
        }
    }

    /// Store prepared mail of mailbox `channel` and move `cursor` (if any)
    /// in one transaction: the cursor never gets ahead of the mail.
    pub async fn store_mail_batch(
        &self,
        channel: &str,
        mails: Vec<PreparedMail>,
        cursor: Option<(String, MailCursor)>,
    ) -> Result<Vec<MailOutcome>, AppError> {
        let ch = self
            .email_channel(channel)
            .ok_or_else(|| AppError::NotFound(format!("no email channel named {channel:?}")))?;
        let rules = self.ingest_rules();
        let business = self.config.business.name.clone();
        let parked = self.cannot_send(channel);
        // When closed with a closed-hours reply configured, the clock answers
        // (naming the next opening) instead of the acknowledgement.
        let clock_closed = {
            let st = self.clock_state();
            let ar = &st.settings.autoreply;
            ar.channel
                .get(channel)
                .and_then(|o| o.when_closed)
                .unwrap_or(ar.when_closed)
                && !st.calendar(channel, None).is_open(self.clock.now())
        };
        let outcomes = self
            .store
            .write(move |tx| {
                let mut out = Vec::with_capacity(mails.len());
                for m in mails {
                    out.push(store_one(
                        tx,
                        &ch,
                        &rules,
                        (&business, &parked, clock_closed),
                        m,
                    )?);
                }
                if let Some((key, c)) = &cursor {
                    tx.put_cursor(key, c)?;
                }
                Ok(out)
            })
            .await?;
        let mut queued = false;
        for o in &outcomes {
            match o {
                MailOutcome::Stored(s) if s.duplicate => self.metrics.ingest_duplicates.inc(),
                MailOutcome::Stored(_) => self.metrics.ingested.inc(),
                _ => {}
            }
            queued |= matches!(o, MailOutcome::Stored(s) if s.new_conversation);
        }
        if queued && ch_acknowledges(self, channel) {
            self.outbox_wake.notify_one();
        }
        Ok(outcomes)
    }

    /// Prepare and store one mail (no cursor): importers and tests.
    pub async fn ingest_mail(&self, channel: &str, mail: RawMail) -> Result<MailOutcome, AppError> {
        let ch = self
            .email_channel(channel)
            .ok_or_else(|| AppError::NotFound(format!("no email channel named {channel:?}")))?;
        let prepared = self.prepare_mail(&ch, mail);
        let mut v = self.store_mail_batch(channel, vec![prepared], None).await?;
        v.pop()
            .ok_or_else(|| AppError::Unavailable("empty batch result".into()))
    }

    /// Quarantined items, newest first (admins).
    pub async fn quarantine(
        &self,
        caller: &super::Caller,
        all: bool,
    ) -> Result<Vec<QuarantineItem>, AppError> {
        caller.check(super::perm::Perm::ManageChannels, None)?;
        Ok(self
            .store
            .read(move |r| r.quarantine_list(all, 500))
            .await?)
    }

    /// One quarantined item with its raw bytes (admins).
    pub async fn quarantine_item(
        &self,
        caller: &super::Caller,
        id: u64,
    ) -> Result<QuarantineItem, AppError> {
        caller.check(super::perm::Perm::ManageChannels, None)?;
        self.store
            .read(move |r| r.quarantine_item(id))
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no quarantined item {id}")))
    }

    /// Try a quarantined mail again (after a limit was raised or the parser
    /// improved), or dismiss it. Either way the item keeps its bytes and
    /// records what happened.
    pub async fn quarantine_resolve(
        &self,
        caller: &super::Caller,
        id: u64,
        reprocess: bool,
    ) -> Result<String, AppError> {
        let item = self.quarantine_item(caller, id).await?;
        if item.resolved.is_some() {
            return Err(AppError::Conflict(format!("item {id} is already resolved")));
        }
        let outcome = if !reprocess {
            "dismissed".to_string()
        } else {
            let ch = self.email_channel(&item.channel).ok_or_else(|| {
                AppError::Conflict(format!("mailbox {} is no longer configured", item.channel))
            })?;
            let Some(raw) = item.raw.clone() else {
                return Err(AppError::Conflict(
                    "this item was too large to download; raise max_message_bytes and the poller fetches it again only if the cursor is reset".into(),
                ));
            };
            let mail = RawMail {
                source: item.source.clone(),
                size: raw.len() as u64,
                raw: Some(raw),
                headers: None,
            };
            let app_ch = ch.clone();
            let prepared = self.prepare_mail(&app_ch, mail);
            if let PreparedMail::Quarantine { reason, .. } = &prepared {
                return Err(AppError::Invalid(format!(
                    "still cannot be stored: {reason}"
                )));
            }
            let mut out = self
                .store_mail_batch(&ch.name, vec![prepared], None)
                .await?;
            match out.pop() {
                Some(MailOutcome::Stored(o)) => {
                    format!("reprocessed: conversation {}", o.conversation)
                }
                Some(MailOutcome::Bounce { .. }) => "reprocessed: delivery report".into(),
                _ => "reprocessed".into(),
            }
        };
        let by = caller.user().map(|u| u.id);
        let text = outcome.clone();
        self.store
            .write(move |tx| {
                if let Some(mut it) = tx.quarantine_item(id)? {
                    it.resolved = Some(text.clone());
                    tx.put_quarantine(&it)?;
                    tx.append_event(
                        by.map(Actor::User).unwrap_or(Actor::System),
                        EventKind::QuarantineResolved { id, outcome: text },
                    )?;
                }
                Ok(())
            })
            .await?;
        Ok(outcome)
    }

    /// A saved connector cursor.
    pub async fn mail_cursor(&self, key: &str) -> Result<MailCursor, AppError> {
        let key = key.to_string();
        Ok(self
            .store
            .read(move |r| r.cursor::<MailCursor>(&key))
            .await?
            .unwrap_or_default())
    }
}

fn ch_acknowledges(app: &App, channel: &str) -> bool {
    app.email_channel(channel).is_some_and(|c| c.acknowledge)
}

fn store_one(
    tx: &mut Tx<'_>,
    ch: &EmailChannel,
    rules: &IngestRules,
    (business, parked, clock_closed): (&str, &Option<String>, bool),
    m: PreparedMail,
) -> Result<MailOutcome, StoreError> {
    match m {
        PreparedMail::Quarantine {
            source,
            size,
            raw,
            reason,
            key,
        } => {
            let key = key.unwrap_or(source.clone());
            quarantine(tx, &ch.name, source, size, raw, reason, Some(key))
        }
        PreparedMail::Bounce {
            parsed,
            raw,
            source,
        } => {
            let b = parsed.bounce.clone().unwrap_or_default();
            let matched = match &b.original_message_id {
                Some(id) => tx.mail_id(id)?,
                None => None,
            };
            let Some(mid) = matched.filter(|_| !ch.name.is_empty()) else {
                let size = raw.len() as u64;
                let reason = "a delivery report for a message Atalaya did not send".to_string();
                return quarantine(tx, &ch.name, source, size, Some(raw), reason, None);
            };
            if let Some(mut msg) = tx.message(mid)?
                && msg.direction == Direction::Out
            {
                let failed = b.action.as_deref().is_none_or(|a| a == "failed");
                let detail = format!(
                    "bounced{}: {}",
                    b.status
                        .as_deref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default(),
                    b.diagnostic
                        .clone()
                        .unwrap_or_else(|| "the receiving server refused the message".into())
                );
                if failed {
                    msg.delivery = Some(Delivery::Failed);
                }
                msg.delivery_detail = Some(detail.clone());
                tx.put_message(&msg)?;
                tx.append_event(
                    Actor::Channel(ch.name.clone()),
                    EventKind::DeliveryChanged {
                        conversation: msg.conversation,
                        message: msg.id,
                        delivery: msg.delivery.unwrap_or(Delivery::Sent),
                        detail: Some(detail),
                    },
                )?;
            }
            Ok(MailOutcome::Bounce { matched: Some(mid) })
        }
        PreparedMail::Message { mut msg, parsed } => {
            // A reply that references any mail we know (ours included) joins
            // that mail's conversation, whatever its References root says.
            for id in parsed
                .in_reply_to
                .iter()
                .chain(parsed.references.iter().rev())
            {
                if let Some(known) = tx.mail_id(id)?
                    && let Some(km) = tx.message(known)?
                    && let Some(conv) = tx.conversation(km.conversation)?
                    && conv.channel == ch.name
                {
                    msg.thread = Some(conv.thread_key.clone());
                    break;
                }
            }
            let sender = parsed
                .from
                .as_ref()
                .map(|f| f.0.clone())
                .unwrap_or_default();
            let outcome = ingest::apply(tx, *msg, rules)?;
            if !outcome.duplicate {
                if let Some(id) = &parsed.message_id {
                    tx.put_mail_id(id, outcome.message)?;
                }
                if let Some(rt) = parsed.reply_to.as_ref().filter(|r| **r != sender) {
                    // Only a reply address: the author stays `From`.
                    tx.put_cursor(&reply_to_key(outcome.conversation), rt)?;
                }
                let last = tx.last_auto_reply(&ch.name, &sender)?;
                if no_auto_reply_reason(ch, &parsed, last, tx.now()).is_some() {
                    // Automated mail (or a sender answered moments ago) never
                    // gets an automatic reply from the clock either.
                    tx.put_cursor(&super::hours::noauto_key(outcome.message), &"1".to_string())?;
                } else if outcome.new_conversation && ch.acknowledge && !clock_closed {
                    acknowledge(tx, ch, business, parked, &parsed, &sender, outcome)?;
                } else if clock_closed {
                    // The clock's reply counts in the sender's window too.
                    let now = tx.now();
                    tx.set_last_auto_reply(&ch.name, &sender, now)?;
                }
            }
            Ok(MailOutcome::Stored(outcome))
        }
    }
}

/// Cursor-table key of a conversation's `Reply-To` address.
pub fn reply_to_key(conv: ConversationId) -> String {
    format!("reply-to\u{1f}{conv}")
}

fn quarantine(
    tx: &mut Tx<'_>,
    channel: &str,
    source: String,
    size: u64,
    raw: Option<Vec<u8>>,
    reason: String,
    key: Option<String>,
) -> Result<MailOutcome, StoreError> {
    // The same bytes (or the same too-large mail) quarantined twice — a
    // re-fetch after a crash or a UIDVALIDITY change — are one item.
    let key = match &raw {
        Some(r) => hex::encode(Sha256::digest(r)),
        None => key.unwrap_or_else(|| source.clone()),
    };
    let dedupe = cursor_key(channel, &format!("quarantine:{key}"));
    if let Some(id) = tx.cursor::<u64>(&dedupe)? {
        return Ok(MailOutcome::Quarantined { id, reason });
    }
    let id = tx.next_id();
    let item = QuarantineItem {
        id,
        channel: channel.to_string(),
        source,
        reason: reason.clone(),
        size,
        raw,
        created_at: tx.now(),
        resolved: None,
    };
    tx.put_quarantine(&item)?;
    tx.put_cursor(&dedupe, &id)?;
    tx.append_event(
        Actor::Channel(channel.to_string()),
        EventKind::Quarantined {
            id,
            channel: channel.to_string(),
            reason: reason.clone(),
        },
    )?;
    Ok(MailOutcome::Quarantined { id, reason })
}

/// Why this sender must not get an automatic reply, if so.
pub fn no_auto_reply_reason(
    ch: &EmailChannel,
    parsed: &ParsedMail,
    last: Option<Ts>,
    now: Ts,
) -> Option<String> {
    let sender = parsed.from.as_ref().map(|f| f.0.as_str()).unwrap_or("");
    if let Some(why) = &parsed.auto {
        return Some(why.clone());
    }
    if ch.is_own(sender) {
        return Some("the sender is one of our own addresses".into());
    }
    let window = ch.auto_reply_window.0.as_millis() as i64;
    if let Some(t) = last
        && now.0 - t.0 < window
    {
        return Some(format!(
            "this sender got an automatic reply less than {} ago",
            ch.auto_reply_window
        ));
    }
    None
}

/// The acknowledgement of a new conversation, when loop rules allow it.
fn acknowledge(
    tx: &mut Tx<'_>,
    ch: &EmailChannel,
    business: &str,
    parked: &Option<String>,
    parsed: &ParsedMail,
    sender: &str,
    outcome: IngestOutcome,
) -> Result<(), StoreError> {
    let now = tx.now();
    let last = tx.last_auto_reply(&ch.name, sender)?;
    if no_auto_reply_reason(ch, parsed, last, now).is_some() {
        return Ok(());
    }
    let template = ch.acknowledge_text.clone().unwrap_or_else(|| {
        "Thank you for writing to {{business.name}}. We have received your message \
         (reference #{{conversation.id}}) and will answer as soon as we can."
            .into()
    });
    let text = template
        .replace("{{business.name}}", business)
        .replace("{{conversation.id}}", &outcome.conversation.to_string());
    let sent = super::conversations::send_automatic(
        tx,
        outcome.conversation,
        ChannelKind::Email,
        text,
        (business, parked.clone(), Actor::Channel(ch.name.clone())),
    )?;
    if sent.is_some() {
        tx.set_last_auto_reply(&ch.name, sender, now)?;
        super::hours::note_auto_reply(tx, outcome.conversation)?;
    }
    Ok(())
}
