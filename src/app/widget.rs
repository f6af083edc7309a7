//! The website chat widget: visitor sessions, messages, history.

use super::{App, AppError};
use crate::domain::*;
use crate::ingest::{AuthorProfile, InboundMessage};
use std::collections::HashMap;
use std::sync::Mutex;

pub const VISITOR_TOKEN_TTL_MS: i64 = 180 * 86_400_000;

/// Fixed-window rate limits keyed by a string (client address, session).
#[derive(Default)]
pub struct RateLimits {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimits {
    /// Whether one more event fits in `per_minute` for `key` at `now`.
    pub fn allow(&self, key: &str, per_minute: u32, now: Ts) -> bool {
        let minute = now.0.div_euclid(60_000);
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (m, _)| *m == minute);
        }
        let entry = map.entry(key.to_string()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= per_minute {
            return false;
        }
        entry.1 += 1;
        true
    }
}

/// A visitor's session, from its token.
#[derive(Clone, Debug)]
pub struct Visitor {
    pub channel: String,
    pub identity: IdentityId,
    pub contact: ContactId,
}

impl Visitor {
    fn thread(&self) -> String {
        format!("visitor:{}", self.identity)
    }
}

impl App {
    /// Start a visitor session on a webchat channel; returns (token, visitor id).
    pub async fn widget_start(
        &self,
        channel: &str,
        name: &str,
        email: Option<&str>,
    ) -> Result<(String, IdentityId), AppError> {
        if self.config.webchat_channel(channel).is_none() {
            return Err(AppError::NotFound(format!(
                "no webchat channel named {channel:?}"
            )));
        }
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(AppError::Invalid("name must be 1 to 80 characters".into()));
        }
        let email = email
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_string);
        if let Some(e) = &email
            && (!e.contains('@') || e.len() > 254 || e.contains(char::is_whitespace))
        {
            return Err(AppError::Invalid(format!("{e:?} is not an email address")));
        }
        let (token, hash) = super::auth::new_token();
        let channel = channel.to_string();
        let id = self
            .store
            .write(move |tx| {
                let now = tx.now();
                let actor = Actor::Channel(channel.clone());
                let contact = crate::ingest::contact_for(tx, email.as_deref(), &name, &actor)?;
                let identity = Identity {
                    id: IdentityId(tx.next_id()),
                    contact,
                    kind: ChannelKind::Webchat,
                    handle: format!("visitor-{}", uuid::Uuid::now_v7().simple()),
                    display_name: Some(name),
                    followers: None,
                    verified: false,
                    account_created_at: None,
                    bio: None,
                    first_seen: now,
                    last_seen: now,
                };
                tx.put_identity(None, &identity)?;
                tx.append_event(
                    Actor::Channel(channel.clone()),
                    EventKind::VisitorSessionStarted {
                        identity: identity.id,
                        channel: channel.clone(),
                    },
                )?;
                let t = Token {
                    subject: TokenSubject::Visitor {
                        channel,
                        identity: identity.id,
                        contact,
                    },
                    created_at: now,
                    expires_at: now.plus_ms(VISITOR_TOKEN_TTL_MS),
                };
                tx.put_token(&hash, &t)?;
                Ok(identity.id)
            })
            .await?;
        Ok((token, id))
    }

    pub async fn widget_visitor(&self, token: &str) -> Result<Visitor, AppError> {
        let hash = super::auth::token_hash(token);
        let now = self.clock.now();
        let t = self.store.read(move |r| r.token(&hash)).await?;
        match t {
            Some(Token {
                subject:
                    TokenSubject::Visitor {
                        channel,
                        identity,
                        contact,
                    },
                expires_at,
                ..
            }) if expires_at > now => Ok(Visitor {
                channel,
                identity,
                contact,
            }),
            _ => Err(AppError::Unauthorized),
        }
    }

    /// A visitor's message; `client_id` makes a retried send idempotent.
    pub async fn widget_send(
        &self,
        v: &Visitor,
        text: &str,
        client_id: Option<&str>,
    ) -> Result<crate::ingest::IngestOutcome, AppError> {
        let per_minute = self
            .config
            .webchat_channel(&v.channel)
            .map(|c| c.messages_per_minute)
            .unwrap_or(30);
        if !self
            .rate
            .allow(&format!("msg:{}", v.identity), per_minute, self.clock.now())
        {
            return Err(AppError::TooMany("too many messages; wait a minute".into()));
        }
        let ident_id = v.identity;
        let ident = self
            .store
            .read(move |r| r.identity(ident_id))
            .await?
            .ok_or(AppError::Unauthorized)?;
        let external_id = match client_id
            .map(str::trim)
            .filter(|c| !c.is_empty() && c.len() <= 64)
        {
            Some(c) => format!("w{}:{c}", v.identity),
            None => format!("w{}:{}", v.identity, uuid::Uuid::now_v7().simple()),
        };
        self.ingest(InboundMessage {
            channel: v.channel.clone(),
            kind: ChannelKind::Webchat,
            external_id,
            thread: Some(v.thread()),
            author: AuthorProfile {
                handle: ident.handle,
                name: ident.display_name,
                ..Default::default()
            },
            text: text.to_string(),
            html: None,
            subject: None,
            attachments: vec![],
            public: false,
            sent_at: None,
        })
        .await
    }

    /// The visitor's messages (no internal notes) with an id above `after`.
    pub async fn widget_messages(&self, v: &Visitor, after: u64) -> Result<Vec<Message>, AppError> {
        let (channel, thread) = (v.channel.clone(), v.thread());
        Ok(self
            .store
            .read(move |r| {
                let Some(conv) = r.thread(&channel, &thread)? else {
                    return Ok(vec![]);
                };
                let mut out = Vec::new();
                for id in r.message_ids(conv)? {
                    if id.0 <= after {
                        continue;
                    }
                    if let Some(m) = r.message(id)?
                        && m.direction != Direction::Note
                        // Held for approval, or rejected: never shown.
                        && !matches!(
                            m.delivery,
                            Some(Delivery::AwaitingApproval) | Some(Delivery::Failed)
                        )
                    {
                        out.push(m);
                    }
                }
                Ok(out)
            })
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_window_resets_each_minute() {
        let r = RateLimits::default();
        let t = Ts(60_000 * 1000);
        assert!(r.allow("a", 2, t) && r.allow("a", 2, t));
        assert!(!r.allow("a", 2, t.plus_ms(59_000)));
        assert!(r.allow("b", 2, t));
        assert!(r.allow("a", 2, t.plus_ms(60_000)));
    }
}
