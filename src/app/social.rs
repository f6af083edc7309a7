//! Storing what social connectors bring: conversations for private messages
//! and for public mentions that match a trigger, the listening stream for
//! the other mentions, delivery states of our replies — and the connector's
//! cursor, all in one transaction.

use super::perm::Perm;
use super::{App, AppError, Caller};
use crate::channels::social::{Connector, Polled, SocialItem, listening};
use crate::config::Listening;
use crate::domain::*;
use crate::ingest::{self, IngestOutcome, IngestRules};
use crate::store::{StoreError, Tx};
use std::sync::Arc;

/// What became of one polled item.
#[derive(Clone, Debug, PartialEq)]
pub enum SocialOutcome {
    Stored(IngestOutcome),
    Streamed { id: u64, duplicate: bool },
}

/// Cursor-table key of a connector's position.
pub fn social_cursor_key(channel: &str) -> String {
    format!("{channel}\u{1f}social")
}

/// Cursor-table key of a conversation's private-answer target.
pub fn recipient_key(conv: ConversationId) -> String {
    format!("recipient\u{1f}{conv}")
}

/// Cursor-table key of what a stream item needs to become a conversation
/// later: its thread, the author's id for private answers, and whether it
/// was public.
pub fn stream_extra_key(id: u64) -> String {
    format!("stream-extra\u{1f}{id}")
}

/// The stored extras of a stream item (see [`stream_extra_key`]).
type StreamExtra = (Option<String>, Option<String>, bool);

/// `mail_ids` key of one of our posted replies on a network.
pub fn posted_key(channel: &str, external: &str) -> String {
    format!("posted\u{1f}{channel}\u{1f}{external}")
}

fn listening_in_config(cfg: &crate::config::Config, channel: &str) -> Listening {
    let c = &cfg.channel;
    c.telegram
        .iter()
        .filter(|x| x.name == channel)
        .map(|x| x.listening.clone())
        .chain(
            c.mastodon
                .iter()
                .filter(|x| x.name == channel)
                .map(|x| x.listening.clone()),
        )
        .chain(
            c.x.iter()
                .filter(|x| x.name == channel)
                .map(|x| x.listening.clone()),
        )
        .chain(
            c.facebook
                .iter()
                .filter(|x| x.name == channel)
                .map(|x| x.listening.clone()),
        )
        .next()
        .unwrap_or_default()
}

/// A social channel's connector and its listening rules.
#[derive(Clone)]
pub struct SocialEntry {
    pub conn: Arc<dyn Connector>,
    pub listening: Listening,
}

/// The connectors the configuration file names.
pub fn entries(cfg: &crate::config::Config) -> std::collections::HashMap<String, SocialEntry> {
    crate::channels::social::build(cfg)
        .into_iter()
        .map(|(name, conn)| {
            let listening = listening_in_config(cfg, &name);
            (name, SocialEntry { conn, listening })
        })
        .collect()
}

impl App {
    /// The connector of a social channel.
    pub fn connector(&self, channel: &str) -> Option<Arc<dyn Connector>> {
        let map = self.connectors.read().ok()?;
        map.get(channel).map(|e| e.conn.clone())
    }

    /// Every social connector (config and admin UI).
    pub fn connectors(&self) -> Vec<Arc<dyn Connector>> {
        self.connectors
            .read()
            .map(|m| m.values().map(|e| e.conn.clone()).collect())
            .unwrap_or_default()
    }

    /// Register a connector (tests, the demo and channels added at run
    /// time); the caller starts its poller.
    pub fn register_connector(&self, conn: Arc<dyn Connector>, listening: Listening) {
        if let Ok(mut m) = self.connectors.write() {
            m.insert(conn.name().to_string(), SocialEntry { conn, listening });
        }
    }

    /// A social channel's listening rules.
    pub fn listening(&self, channel: &str) -> Listening {
        self.connectors
            .read()
            .ok()
            .and_then(|m| m.get(channel).map(|e| e.listening.clone()))
            .unwrap_or_default()
    }

    /// A connector's saved position.
    pub async fn social_cursor(&self, channel: &str) -> Result<Option<String>, AppError> {
        let key = social_cursor_key(channel);
        Ok(self.store.read(move |r| r.cursor::<String>(&key)).await?)
    }

    /// Store one poll's (or webhook's) items and the new cursor together.
    pub async fn store_social(
        &self,
        channel: &str,
        polled: Polled,
    ) -> Result<Vec<SocialOutcome>, AppError> {
        let rules = self.ingest_rules();
        let listen = self.listening(channel);
        let ch = channel.to_string();
        let mut prepared = Vec::with_capacity(polled.items.len());
        for item in polled.items {
            let mut item = item;
            item.msg.channel = ch.clone();
            match ingest::prepare(item.msg.clone(), &rules) {
                Ok(m) => {
                    item.msg = m;
                    prepared.push(item);
                }
                Err(e) => {
                    tracing::warn!(channel = %ch, external_id = %item.msg.external_id, error = %e, "social item refused");
                }
            }
        }
        let cursor = polled.cursor;
        let statuses = polled.statuses;
        let outcomes = self
            .store
            .write(move |tx| {
                let mut out = Vec::with_capacity(prepared.len());
                for item in prepared {
                    out.push(store_item(tx, &ch, &rules, &listen, item)?);
                }
                for (external, delivery, detail) in statuses {
                    apply_status(tx, &ch, &external, delivery, detail)?;
                }
                if let Some(c) = &cursor {
                    tx.put_cursor(&social_cursor_key(&ch), c)?;
                }
                Ok(out)
            })
            .await?;
        for o in &outcomes {
            match o {
                SocialOutcome::Stored(s) if s.duplicate => self.metrics.ingest_duplicates.inc(),
                SocialOutcome::Stored(_) => self.metrics.ingested.inc(),
                _ => {}
            }
        }
        Ok(outcomes)
    }

    /// The listening stream (any staff account may read it).
    pub async fn stream(&self, caller: &Caller, all: bool) -> Result<Vec<StreamItem>, AppError> {
        caller.check(Perm::ViewConversation, None)?;
        Ok(self.store.read(move |r| r.stream_list(all, 500)).await?)
    }

    /// Promote a stream item to a conversation, or dismiss it. Nothing is
    /// ever deleted or hidden on the network.
    pub async fn stream_resolve(
        &self,
        caller: &Caller,
        id: u64,
        promote: bool,
    ) -> Result<String, AppError> {
        caller.check(Perm::ReplyConversation, None)?;
        let rules = self.ingest_rules();
        let actor = caller
            .user()
            .map(|u| Actor::User(u.id))
            .unwrap_or(Actor::System);
        let kind = |c: &str| self.channel_kind(c);
        let item = self
            .store
            .read(move |r| r.stream_item(id))
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no stream item {id}")))?;
        let kind = kind(&item.channel).unwrap_or(ChannelKind::Api);
        self.store
            .write(move |tx| {
                let Some(mut item) = tx.stream_item(id)? else {
                    return Ok(Err(AppError::NotFound(format!("no stream item {id}"))));
                };
                if let Some(r) = &item.resolved {
                    return Ok(Err(AppError::Conflict(format!("already {r}"))));
                }
                let outcome = if promote {
                    // Items streamed before the extras were kept: no thread
                    // (the author's identity threads them), public.
                    let (thread, recipient, public) = tx
                        .cursor::<StreamExtra>(&stream_extra_key(id))?
                        .unwrap_or((None, None, true));
                    let msg = ingest::InboundMessage {
                        channel: item.channel.clone(),
                        kind,
                        external_id: item.external_id.clone(),
                        thread,
                        author: ingest::AuthorProfile {
                            handle: item.handle.clone(),
                            name: item.name.clone(),
                            followers: item.followers,
                            verified: item.verified,
                            ..Default::default()
                        },
                        text: item.text.clone(),
                        html: None,
                        subject: None,
                        attachments: vec![],
                        public,
                        sent_at: Some(item.sent_at),
                    };
                    let o = ingest::apply(tx, msg, &rules)?;
                    if let Some(r) = recipient
                        && tx
                            .cursor::<String>(&recipient_key(o.conversation))?
                            .is_none()
                    {
                        tx.put_cursor(&recipient_key(o.conversation), &r)?;
                    }
                    format!("promoted: conversation {}", o.conversation)
                } else {
                    "dismissed".to_string()
                };
                item.resolved = Some(outcome.clone());
                tx.put_stream_item(&item)?;
                tx.append_event(
                    actor,
                    EventKind::StreamResolved {
                        id,
                        outcome: outcome.clone(),
                    },
                )?;
                Ok(Ok(outcome))
            })
            .await?
    }
}

fn store_item(
    tx: &mut Tx<'_>,
    channel: &str,
    rules: &IngestRules,
    listen: &Listening,
    item: SocialItem,
) -> Result<SocialOutcome, StoreError> {
    let SocialItem {
        msg,
        mention,
        recipient,
        url,
    } = item;
    // Already a message (a re-poll after a crash): nothing to decide.
    let known = tx.dedupe(channel, &msg.external_id)?.is_some();
    // The customer's own follow-up in the thread of their conversation that
    // is still open belongs to it, trigger word or not.
    if mention
        && !known
        && listening::trigger(listen, &msg.text).is_none()
        && ingest::open_thread(tx, &msg)?.is_none()
    {
        let key = format!("{channel}\u{1f}stream:{}", msg.external_id);
        if let Some(id) = tx.cursor::<u64>(&key)? {
            return Ok(SocialOutcome::Streamed {
                id,
                duplicate: true,
            });
        }
        let id = tx.next_id();
        let item = StreamItem {
            id,
            channel: channel.to_string(),
            external_id: msg.external_id.clone(),
            handle: msg.author.handle.clone(),
            name: msg.author.name.clone(),
            followers: msg.author.followers,
            verified: msg.author.verified,
            matched: listening::about_us(listen, &msg.text),
            text: msg.text,
            url,
            sent_at: msg.sent_at.unwrap_or(tx.now()),
            resolved: None,
        };
        tx.put_stream_item(&item)?;
        tx.put_cursor(&key, &id)?;
        let extra: StreamExtra = (msg.thread.clone(), recipient, msg.public);
        tx.put_cursor(&stream_extra_key(id), &extra)?;
        tx.append_event(
            Actor::Channel(channel.to_string()),
            EventKind::StreamAdded {
                id,
                channel: channel.to_string(),
            },
        )?;
        return Ok(SocialOutcome::Streamed {
            id,
            duplicate: false,
        });
    }
    let outcome = ingest::apply(tx, msg, rules)?;
    if !outcome.duplicate
        && let Some(r) = recipient
    {
        tx.put_cursor(&recipient_key(outcome.conversation), &r)?;
    }
    Ok(SocialOutcome::Stored(outcome))
}

/// Cursor-table key of a status that arrived before its reply was recorded.
pub fn pending_status_key(channel: &str, external: &str) -> String {
    format!("pending-status\u{1f}{channel}\u{1f}{external}")
}

/// Apply a status that waited for the send to be recorded (outbox).
pub fn apply_pending_status(
    tx: &mut Tx<'_>,
    channel: &str,
    external: &str,
) -> Result<(), StoreError> {
    let key = pending_status_key(channel, external);
    if let Some((delivery, detail)) = tx.cursor::<(Delivery, Option<String>)>(&key)? {
        apply_status(tx, channel, external, delivery, detail)?;
    }
    Ok(())
}

/// A network told us what became of one of our replies.
pub fn apply_status(
    tx: &mut Tx<'_>,
    channel: &str,
    external: &str,
    delivery: Delivery,
    detail: Option<String>,
) -> Result<(), StoreError> {
    let Some(mid) = tx.mail_id(&posted_key(channel, external))? else {
        // The status came before the outbox recorded the send: keep it; it
        // is applied when the send is recorded.
        tx.put_cursor(&pending_status_key(channel, external), &(delivery, detail))?;
        return Ok(());
    };
    let Some(mut m) = tx.message(mid)? else {
        return Ok(());
    };
    // Never go back (a late "sent" after "read").
    let rank = |d: Option<Delivery>| match d {
        None
        | Some(Delivery::Queued)
        | Some(Delivery::Unknown)
        | Some(Delivery::AwaitingApproval) => 0,
        Some(Delivery::Sent) => 1,
        Some(Delivery::Delivered) => 2,
        Some(Delivery::Read) => 3,
        Some(Delivery::Failed) => 4,
    };
    if rank(Some(delivery)) <= rank(m.delivery) {
        return Ok(());
    }
    m.delivery = Some(delivery);
    m.delivery_detail = detail.clone();
    tx.put_message(&m)?;
    tx.append_event(
        Actor::Channel(channel.to_string()),
        EventKind::DeliveryChanged {
            conversation: m.conversation,
            message: m.id,
            delivery,
            detail,
        },
    )?;
    Ok(())
}
