//! WhatsApp's approved message templates: the only thing WhatsApp accepts
//! outside the 24-hour customer-service window.
//!
//! A channel's templates are configured under `[[channel.whatsapp]]`
//! (`templates = [{ name, language, body }]`, as approved in Meta's WhatsApp
//! Manager). An agent picks one; the reply is stored with the template's
//! body as its text (what the timeline shows) and queued like any reply,
//! and the template's name and language are saved under
//! [`template_key`] in the same transaction, where the outbox finds them
//! when it builds the connector's request.

use super::conversations::{ReplyOutcome, queue_outbox, record_outgoing};
use super::perm::Perm;
use super::{App, AppError, Caller};
use crate::config::WhatsappTemplate;
use crate::domain::*;

/// Cursor-table key of the template (name, language) an outgoing message
/// stands for.
pub fn template_key(message: MessageId) -> String {
    format!("wa-template\u{1f}{message}")
}

/// Whether WhatsApp's 24-hour window is open at `now`, given when the
/// customer last wrote.
pub fn window_open(last_inbound: Option<Ts>, now: Ts) -> bool {
    let window = crate::channels::social::whatsapp::WINDOW.as_millis() as i64;
    last_inbound.is_some_and(|t| now.0.saturating_sub(t.0) <= window)
}

impl App {
    /// The approved templates configured for a WhatsApp channel (none for
    /// another channel, or one added in the admin UI).
    pub fn whatsapp_templates(&self, channel: &str) -> Vec<WhatsappTemplate> {
        self.config
            .channel
            .whatsapp
            .iter()
            .find(|c| c.name == channel)
            .map(|c| c.templates.clone())
            .unwrap_or_default()
    }

    /// Queue an approved template as the reply to a WhatsApp conversation
    /// (allowed whether or not the 24-hour window is open). The same
    /// permission as a reply; another channel or a template the channel
    /// does not list is refused.
    pub async fn reply_template(
        &self,
        caller: &Caller,
        id: ConversationId,
        name: &str,
    ) -> Result<ReplyOutcome, AppError> {
        caller.check(Perm::ReplyConversation, None)?;
        let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let current = self.store.read(move |r| r.conversation(id)).await?;
        let conv = current.ok_or_else(|| AppError::NotFound(format!("no conversation {id}")))?;
        caller.check(Perm::ReplyConversation, Some(&conv))?;
        let kind = self.channel_kind(&conv.channel);
        if kind != Some(ChannelKind::Whatsapp) {
            return Err(AppError::Invalid(format!(
                "message templates are for WhatsApp conversations; conversation {id} is on channel {} ({}): send a text reply",
                conv.channel,
                kind.map(ChannelKind::as_str).unwrap_or("unknown")
            )));
        }
        let templates = self.whatsapp_templates(&conv.channel);
        let name = name.trim();
        let Some(template) = templates.iter().find(|t| t.name == name).cloned() else {
            return Err(AppError::Invalid(if templates.is_empty() {
                format!(
                    "channel {} has no approved templates: an admin must add them to its [[channel.whatsapp]] templates",
                    conv.channel
                )
            } else {
                format!(
                    "unknown template {name:?}: channel {} has {}",
                    conv.channel,
                    templates
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }));
        };
        let parked = self.cannot_send(&conv.channel);
        let outcome = self
            .store
            .write(move |tx| {
                let Some(old) = tx.conversation(id)? else {
                    return Ok(Err(AppError::NotFound(format!("no conversation {id}"))));
                };
                let now = tx.now();
                let message = Message {
                    id: MessageId(tx.next_id()),
                    conversation: id,
                    direction: Direction::Out,
                    channel: old.channel.clone(),
                    external_id: None,
                    text: template.body.clone(),
                    html: None,
                    attachments: vec![],
                    public: false,
                    author: Author::User(user.id),
                    author_name: user.name.clone(),
                    sent_at: now,
                    received_at: now,
                    delivery: Some(Delivery::Queued),
                    delivery_detail: None,
                };
                record_outgoing(tx, &old, &message)?;
                tx.put_cursor(
                    &template_key(message.id),
                    &(template.name.clone(), template.language.clone()),
                )?;
                let outbox = queue_outbox(tx, &message, parked)?;
                tx.append_event(
                    Actor::User(user.id),
                    EventKind::ReplyQueued {
                        conversation: id,
                        message: message.id,
                        outbox: Some(outbox),
                    },
                )?;
                Ok(Ok(ReplyOutcome {
                    message: message.id,
                    delivery: message.delivery,
                }))
            })
            .await??;
        self.metrics.replies_queued.inc();
        self.outbox_wake.notify_one();
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window() {
        let now = Ts(1_800_000_000_000);
        let day = 24 * 3600 * 1000;
        assert!(window_open(Some(Ts(now.0 - 60_000)), now));
        assert!(window_open(Some(Ts(now.0 - day)), now));
        assert!(!window_open(Some(Ts(now.0 - day - 1)), now));
        assert!(!window_open(None, now));
        assert_eq!(
            template_key(MessageId(42)),
            "wa-template\u{1f}42".to_string()
        );
    }
}
