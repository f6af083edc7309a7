//! The outbox sender: delivers queued replies with backoff and jitter.
//!
//! Each attempt is claimed in a committed write (state `InFlight`, attempt
//! counted) before any network I/O, and its result recorded in another. A
//! crash between the two leaves the row `InFlight`; it is retried with the
//! same idempotency key (the API webhook receiver drops the repeat).

use super::{Step, Worker, backoff};
use crate::app::App;
use crate::channels::{SendResult, api};
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
        let client = reqwest::Client::builder()
            .user_agent(concat!("atalaya/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        OutboxWorker { app, client }
    }

    /// Deliver one row; returns after its result is recorded.
    async fn attempt(&self, item: OutboxItem) -> Result<(), String> {
        let Some(ch) = self.app.config.api_channel(&item.channel).cloned() else {
            return self.park(item, "the channel is no longer configured").await;
        };
        let Some(url) = ch.webhook_url.clone() else {
            return self
                .park(item, "no webhook_url is configured for this channel")
                .await;
        };
        let id = item.id;
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
                let last_in = match &conv {
                    Some(c) => {
                        let mut last = None;
                        for m in tx.conversation_messages(c.id)? {
                            if m.direction == Direction::In {
                                last = m.external_id;
                            }
                        }
                        last
                    }
                    None => None,
                };
                Ok(Some((it, msg, conv, ident, last_in)))
            })
            .await
            .map_err(|e| e.to_string())?;
        let (item, msg, conv, ident, last_in) = match claimed {
            None => return Ok(()),
            Some((item, Some(m), Some(c), Some(i), last_in)) => (item, m, c, i, last_in),
            Some((item, ..)) => {
                let lost = SendResult::Permanent("the reply or its conversation is missing".into());
                return self.record(item, lost).await;
            }
        };
        if item.attempts > 1 {
            self.app.metrics.delivery_retries.inc();
        }
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
        let secret = ch.webhook_secret.as_ref().map(|s| s.expose().to_string());
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
        let (state, delivery, detail, delay) = match result {
            SendResult::Sent => (OutboxState::Done, Some(Delivery::Sent), None, None),
            SendResult::Permanent(e) => {
                (OutboxState::Failed, Some(Delivery::Failed), Some(e), None)
            }
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
        for item in open {
            let webhook_now = self
                .app
                .config
                .api_channel(&item.channel)
                .is_some_and(|c| c.webhook_url.is_some());
            let ready = match item.state {
                OutboxState::Parked => webhook_now,
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
