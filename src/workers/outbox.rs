//! The outbox sender: delivers queued replies with backoff and jitter.
//!
//! Each attempt is claimed in a committed write (state `InFlight`, attempt
//! counted) before any network I/O, and its result recorded in another. A
//! crash between the two leaves the row `InFlight`; it is retried with the
//! same idempotency key (the API webhook receiver drops the repeat).

use super::{Step, Worker, backoff};
use crate::app::App;
use crate::channels::email::smtp;
use crate::channels::social::OutgoingSocial;
use crate::channels::{SendResult, api};
use crate::config::EmailChannel;
use crate::domain::*;
use std::sync::Arc;
use std::time::Duration;

/// Longest idle sleep; a new reply wakes the worker earlier.
const IDLE: Duration = Duration::from_secs(30);

pub struct OutboxWorker {
    app: Arc<App>,
    client: reqwest::Client,
}

impl OutboxWorker {
    pub fn new(app: Arc<App>) -> OutboxWorker {
        crate::channels::ensure_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(concat!("atalaya/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        OutboxWorker { app, client }
    }

    /// Deliver one row; returns after its result is recorded.
    async fn attempt(&self, item: OutboxItem) -> Result<(), String> {
        if let Some(why) = self.app.cannot_send(&item.channel) {
            return self.park(item, &why).await;
        }
        let email = self.app.email_channel(&item.channel);
        // Our Message-ID, fixed by the row's idempotency key: the same on every try.
        let mail_id = email.as_ref().map(|c| email_message_id(&item, &c.address));
        let id = item.id;
        let claim_mail_id = mail_id.clone();
        let claimed = self
            .app
            .store
            .write(move |tx| {
                let Some(mut it) = tx.outbox(id)? else {
                    return Ok(None);
                };
                if matches!(it.state, OutboxState::Done | OutboxState::Failed) {
                    return Ok(None);
                }
                it.state = OutboxState::InFlight;
                it.attempts += 1;
                tx.put_outbox(&it)?;
                if let Some(mid) = &claim_mail_id {
                    tx.put_mail_id(mid, it.message)?;
                }
                tx.append_event(
                    Actor::Channel(it.channel.clone()),
                    EventKind::DeliveryAttempted {
                        conversation: it.conversation,
                        message: it.message,
                        outbox: it.id,
                        attempt: it.attempts,
                    },
                )?;
                let msg = tx.message(it.message)?;
                let conv = tx.conversation(it.conversation)?;
                let ident = match &conv {
                    Some(c) => tx.identity(c.identity)?,
                    None => None,
                };
                // The customer's message being answered; on social networks a
                // public reply goes under their last *public* message.
                let mut last_in = None;
                let mut last_public_in = None;
                if let Some(c) = &conv {
                    for m in tx.conversation_messages(c.id)? {
                        if m.direction == Direction::In && m.id < it.message {
                            if m.public {
                                last_public_in = Some(m.clone());
                            }
                            last_in = Some(m);
                        }
                    }
                }
                let reply_to = match &conv {
                    Some(c) if claim_mail_id.is_some() => {
                        tx.cursor::<String>(&crate::app::email::reply_to_key(c.id))?
                    }
                    _ => None,
                };
                Ok(Some((
                    it,
                    msg,
                    conv,
                    ident,
                    (last_in, last_public_in, reply_to),
                )))
            })
            .await
            .map_err(|e| e.to_string())?;
        let (item, msg, conv, ident, last_in) = match claimed {
            None => return Ok(()),
            Some((item, Some(m), Some(c), Some(i), extra)) => (item, m, c, i, extra),
            Some((item, ..)) => {
                let lost = SendResult::Permanent("the reply or its conversation is missing".into());
                return self.record(item, lost).await;
            }
        };
        if item.attempts > 1 {
            self.app.metrics.delivery_retries.inc();
        }
        let (last_in, last_public_in, reply_to) = last_in;
        if let Some(conn) = self.app.connector(&item.channel) {
            let conv_id = conv.id;
            let msg_id = msg.id;
            // The private-answer target, and the approved template this
            // reply stands for (WhatsApp), saved with the reply.
            let (recipient, template) = self
                .app
                .store
                .read(move |r| {
                    Ok((
                        r.cursor::<String>(&crate::app::social::recipient_key(conv_id))?,
                        r.cursor::<(String, String)>(&crate::app::whatsapp::template_key(msg_id))?,
                    ))
                })
                .await
                .map_err(|e| e.to_string())?;
            let template = template
                .map(|(name, language)| crate::channels::social::Template { name, language });
            let out = OutgoingSocial {
                idempotency_key: item.idempotency_key.clone(),
                text: msg.text.clone(),
                private: !msg.public,
                in_reply_to: if msg.public {
                    last_public_in.as_ref()
                } else {
                    last_in.as_ref()
                }
                .and_then(|m| m.external_id.clone()),
                thread: conv.thread_key.clone(),
                recipient,
                handle: ident.handle.clone(),
                last_inbound_at: last_in.as_ref().map(|m| m.sent_at),
                now: self.app.clock.now(),
                attempt: item.attempts,
                timeout: Some(self.app.config.outbox.timeout.0),
                template,
            };
            let result = conn.send(&out).await;
            return self.record(item, result).await;
        }
        if let (Some(ch), Some(mid)) = (&email, mail_id) {
            let Some(smtp) = &ch.smtp else {
                return self.park(item, "no SMTP server is configured").await;
            };
            let mut out = self.email_for(ch, &conv, &ident, &msg, last_in.as_ref(), reply_to, mid);
            // The files are read now, from where the reply stored them.
            match self.mail_attachments(&msg).await {
                Ok(files) => out.attachments = files,
                Err(failed) => return self.record(item, failed).await,
            }
            let result = match smtp::build(&out) {
                Ok(mail) => smtp::send(smtp, &mail, self.app.config.outbox.timeout.0).await,
                Err(e) => SendResult::Permanent(e),
            };
            return self.record(item, result).await;
        }
        let Some(url) = self
            .app
            .config
            .api_channel(&item.channel)
            .and_then(|c| c.webhook_url.clone())
        else {
            return self.park(item, "the channel cannot send").await;
        };
        let ch = self.app.config.api_channel(&item.channel).cloned();
        let last_in = last_in.and_then(|m| m.external_id);
        let payload = api::WebhookPayload {
            event: "message.created",
            idempotency_key: item.idempotency_key.clone(),
            channel: item.channel.clone(),
            conversation_id: conv.id.0,
            message_id: msg.id.0,
            thread: conv.thread_key.clone(),
            in_reply_to: last_in,
            to: api::WebhookRecipient {
                handle: ident.handle.clone(),
                name: ident.display_name.clone(),
            },
            text: msg.text.clone(),
            private: !msg.public,
            author: msg.author_name.clone(),
            sent_at: msg.sent_at.rfc3339(),
        };
        let secret = ch
            .and_then(|c| c.webhook_secret)
            .map(|s| s.expose().to_string());
        let timeout = self.app.config.outbox.timeout.0;
        let now_unix = self.app.clock.now().0 / 1000;
        let result = api::deliver(
            &self.client,
            &url,
            secret.as_deref(),
            &payload,
            timeout,
            now_unix,
        )
        .await;
        self.record(item, result).await
    }

    /// The mail for one reply: threading headers, sender name, quote.
    #[allow(clippy::too_many_arguments)]
    fn email_for(
        &self,
        ch: &EmailChannel,
        conv: &Conversation,
        ident: &Identity,
        msg: &Message,
        last_in: Option<&Message>,
        reply_to: Option<String>,
        message_id: String,
    ) -> smtp::OutgoingMail {
        let business = &self.app.config.business.name;
        let automatic = msg.author == Author::System;
        let from_name = if automatic {
            business.clone()
        } else {
            format!("{} via {business}", msg.author_name)
        };
        // Real Message-IDs only (not our `sha256:` stand-ins for mail without one).
        let real =
            |id: &str| (id.contains('@') && !id.starts_with("sha256:")).then(|| id.to_string());
        let parent = last_in.and_then(|m| m.external_id.as_deref().and_then(real));
        let mut references: Vec<String> = real(&conv.thread_key).into_iter().collect();
        if let Some(p) = &parent
            && !references.contains(p)
        {
            references.push(p.clone());
        }
        let quote = last_in.filter(|_| ch.quote_history && !automatic).map(|m| {
            let when = m.sent_at.rfc3339();
            (
                format!("On {when}, {} wrote:", m.author_name),
                m.text.clone(),
            )
        });
        smtp::OutgoingMail {
            from_name,
            from_addr: ch.address.clone(),
            to_addr: reply_to.unwrap_or_else(|| ident.handle.clone()),
            to_name: ident.display_name.clone(),
            subject: smtp::reply_subject(conv.subject.as_deref()),
            text: msg.text.clone(),
            message_id,
            in_reply_to: parent,
            references,
            automatic,
            quote,
            attachments: vec![],
        }
    }

    /// The bytes of a reply's attachments from `DATA/attachments`; a file
    /// that is gone fails the delivery with its name (another read error is
    /// retried).
    async fn mail_attachments(
        &self,
        msg: &Message,
    ) -> Result<Vec<smtp::MailAttachment>, SendResult> {
        let data = &self.app.config.server.data;
        let mut out = Vec::with_capacity(msg.attachments.len());
        for a in &msg.attachments {
            let path = a
                .sha256
                .as_deref()
                .and_then(|sha| crate::app::email::attachment_path(data, sha))
                .ok_or_else(|| {
                    SendResult::Permanent(format!("attachment {:?} was never stored", a.filename))
                })?;
            let bytes = tokio::fs::read(&path).await.map_err(|e| {
                let why = format!(
                    "attachment {:?} cannot be read from {}: {e}",
                    a.filename,
                    path.display()
                );
                if e.kind() == std::io::ErrorKind::NotFound {
                    SendResult::Permanent(why)
                } else {
                    SendResult::Retry {
                        error: why,
                        after: None,
                    }
                }
            })?;
            out.push(smtp::MailAttachment {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                bytes,
            });
        }
        Ok(out)
    }

    async fn park(&self, item: OutboxItem, why: &str) -> Result<(), String> {
        if item.state == OutboxState::Parked {
            return Ok(());
        }
        let why = why.to_string();
        self.app
            .store
            .write(move |tx| {
                if let Some(mut it) = tx.outbox(item.id)? {
                    it.state = OutboxState::Parked;
                    it.last_error = Some(why.clone());
                    tx.put_outbox(&it)?;
                    tx.append_event(
                        Actor::Channel(it.channel.clone()),
                        EventKind::DeliveryChanged {
                            conversation: it.conversation,
                            message: it.message,
                            delivery: Delivery::Queued,
                            detail: Some(why),
                        },
                    )?;
                }
                Ok(())
            })
            .await
            .map_err(|e| e.to_string())
    }

    async fn record(&self, item: OutboxItem, result: SendResult) -> Result<(), String> {
        let cfg = &self.app.config.outbox;
        let (max_attempts, min, max) = (cfg.max_attempts, cfg.min_backoff.0, cfg.max_backoff.0);
        let posted = match &result {
            SendResult::Posted(id) => Some(id.clone()),
            _ => None,
        };
        let (state, delivery, detail, delay) = match result {
            SendResult::Sent | SendResult::Posted(_) => {
                (OutboxState::Done, Some(Delivery::Sent), None, None)
            }
            SendResult::Permanent(e) => {
                (OutboxState::Failed, Some(Delivery::Failed), Some(e), None)
            }
            SendResult::Unknown(e) => (OutboxState::Failed, Some(Delivery::Unknown), Some(e), None),
            SendResult::Retry { error, .. } if item.attempts >= max_attempts => (
                OutboxState::Failed,
                Some(Delivery::Failed),
                Some(format!("gave up after {} attempts: {error}", item.attempts)),
                None,
            ),
            SendResult::Retry { error, after } => {
                let d = after
                    .unwrap_or_else(|| backoff(item.attempts.saturating_sub(1), min, max))
                    .min(max);
                (OutboxState::Pending, None, Some(error), Some(d))
            }
        };
        match state {
            OutboxState::Done => self.app.metrics.deliveries_sent.inc(),
            OutboxState::Failed => self.app.metrics.deliveries_failed.inc(),
            _ => {}
        }
        self.app
            .store
            .write(move |tx| {
                let Some(mut it) = tx.outbox(item.id)? else {
                    return Ok(());
                };
                let now = tx.now();
                it.state = state;
                it.last_error = detail.clone();
                if let Some(d) = delay {
                    it.next_attempt_at = now.plus_ms(d.as_millis() as i64);
                }
                tx.put_outbox(&it)?;
                let Some(mut m) = tx.message(it.message)? else {
                    return Ok(());
                };
                if let Some(ext) = &posted {
                    // The network's id of our reply: statuses and answers refer to it.
                    tx.put_mail_id(&crate::app::social::posted_key(&it.channel, ext), m.id)?;
                    m.external_id = Some(ext.clone());
                    tx.put_message(&m)?;
                }
                let late_status = posted.clone();
                if delivery.is_some() || m.delivery_detail != detail {
                    if let Some(d) = delivery {
                        m.delivery = Some(d);
                    }
                    m.delivery_detail = detail.clone();
                    tx.put_message(&m)?;
                }
                // Every attempt's outcome is in the audit trail, retries included.
                tx.append_event(
                    Actor::Channel(it.channel.clone()),
                    EventKind::DeliveryChanged {
                        conversation: it.conversation,
                        message: it.message,
                        delivery: m.delivery.unwrap_or(Delivery::Queued),
                        detail,
                    },
                )?;
                if let Some(ext) = late_status {
                    crate::app::social::apply_pending_status(tx, &it.channel, &ext)?;
                }
                Ok(())
            })
            .await
            .map_err(|e| e.to_string())
    }
}

impl Worker for OutboxWorker {
    fn name(&self) -> String {
        "outbox".into()
    }

    async fn step(&mut self) -> Result<Step, String> {
        let now = self.app.clock.now();
        let open = self
            .app
            .store
            .read(|r| r.outbox_open(512))
            .await
            .map_err(|e| e.to_string())?;
        let mut next_due: Option<Ts> = None;
        let mut due = Vec::new();
        // Replies of one conversation go out in order: only the oldest open
        // row of each conversation is considered.
        let mut seen = std::collections::HashSet::new();
        for item in open {
            if !seen.insert(item.conversation) {
                continue;
            }
            let sendable = self.app.cannot_send(&item.channel).is_none();
            let ready = match item.state {
                OutboxState::Parked => sendable,
                OutboxState::Pending | OutboxState::InFlight => true,
                OutboxState::Done | OutboxState::Failed => false,
            };
            if !ready {
                continue;
            }
            if item.next_attempt_at <= now || item.state != OutboxState::Pending {
                due.push(item);
            } else {
                next_due =
                    Some(next_due.map_or(item.next_attempt_at, |t| t.min(item.next_attempt_at)));
            }
        }
        if due.is_empty() {
            let wait = next_due
                .map(|t| Duration::from_millis((t.0 - now.0).max(10) as u64))
                .unwrap_or(IDLE);
            return Ok(Step::Idle(wait.min(IDLE)));
        }
        // Deliver a few at a time; each attempt records its own result.
        let mut errors = Vec::new();
        for chunk in due.chunks(8) {
            let results =
                futures_util::future::join_all(chunk.iter().cloned().map(|it| self.attempt(it)))
                    .await;
            errors.extend(results.into_iter().filter_map(Result::err));
        }
        match errors.first() {
            Some(e) => Err(e.clone()),
            None => Ok(Step::Busy),
        }
    }
}

/// Our Message-ID for an outbox row (without brackets): the idempotency key
/// at the mailbox's domain.
pub fn email_message_id(item: &OutboxItem, address: &str) -> String {
    let domain = address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("atalaya.invalid");
    format!("{}@{domain}", item.idempotency_key)
}
