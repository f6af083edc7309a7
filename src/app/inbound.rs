//! The generic API channel: `POST /api/v1/inbound`.

use super::perm::Perm;
use super::{App, AppError, Caller};
use crate::domain::*;
use crate::ingest::{self, AuthorProfile, InboundMessage, IngestOutcome};
use serde::Deserialize;

fn default_channel() -> String {
    "api".into()
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
pub struct InboundRequest {
    #[serde(default = "default_channel")]
    pub channel: String,
    pub external_id: String,
    pub thread: Option<String>,
    pub from: InboundFrom,
    pub text: Option<String>,
    pub html: Option<String>,
    pub subject: Option<String>,
    #[serde(default = "default_true")]
    pub public: bool,
    pub sent_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct InboundFrom {
    pub handle: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub followers: Option<u64>,
    #[serde(default)]
    pub verified: bool,
    pub bio: Option<String>,
    pub account_created_at: Option<String>,
}

fn parse_time(field: &str, v: Option<&str>) -> Result<Option<Ts>, AppError> {
    match v {
        None => Ok(None),
        Some(s) => Ts::parse(s).map(Some).ok_or_else(|| {
            AppError::Invalid(format!(
                "{field} {s:?} is not an RFC 3339 time like 2026-11-23T10:00:00Z"
            ))
        }),
    }
}

impl App {
    /// Store a message that an integration posted to an API channel.
    pub async fn inbound(
        &self,
        caller: &Caller,
        req: InboundRequest,
    ) -> Result<IngestOutcome, AppError> {
        caller.check(Perm::PostInbound, None)?;
        if self.config.api_channel(&req.channel).is_none() {
            return Err(AppError::NotFound(format!(
                "no API channel named {:?}",
                req.channel
            )));
        }
        if let Caller::Channel(own) = caller
            && *own != req.channel
        {
            return Err(AppError::Forbidden(format!(
                "this token belongs to channel {own:?}, not {:?}",
                req.channel
            )));
        }
        let msg = InboundMessage {
            sent_at: parse_time("sent_at", req.sent_at.as_deref())?,
            author: AuthorProfile {
                account_created_at: parse_time(
                    "from.account_created_at",
                    req.from.account_created_at.as_deref(),
                )?,
                handle: req.from.handle,
                name: req.from.name.filter(|n| !n.trim().is_empty()),
                email: req.from.email.filter(|e| !e.trim().is_empty()),
                followers: req.from.followers,
                verified: req.from.verified,
                bio: req.from.bio,
            },
            channel: req.channel,
            kind: ChannelKind::Api,
            external_id: req.external_id,
            thread: req.thread.filter(|t| !t.trim().is_empty()),
            text: req.text.unwrap_or_default(),
            html: req.html,
            subject: req.subject,
            attachments: vec![],
            public: req.public,
        };
        self.ingest(msg).await
    }

    /// Normalize and store one message from any channel.
    pub async fn ingest(&self, msg: InboundMessage) -> Result<IngestOutcome, AppError> {
        let rules = self.ingest_rules();
        let msg = ingest::prepare(msg, &rules).map_err(|e| AppError::Invalid(e.to_string()))?;
        let outcome = self
            .store
            .write(move |tx| ingest::apply(tx, msg, &rules))
            .await?;
        if outcome.duplicate {
            self.metrics.ingest_duplicates.inc();
        } else {
            self.metrics.ingested.inc();
        }
        Ok(outcome)
    }
}
