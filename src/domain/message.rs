use super::{ContactId, ConversationId, IdentityId, MessageId, OutboxId, TeamId, Ts, UserId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Status {
    Open,
    Pending,
    Snoozed,
    Resolved,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Open,
        Status::Pending,
        Status::Snoozed,
        Status::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Pending => "pending",
            Status::Snoozed => "snoozed",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn code(self) -> u8 {
        self as u8
    }
}

/// P1 (most urgent) .. P4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
        }
    }

    /// The band a 0..=100 score falls in.
    pub fn from_score(score: u8) -> Priority {
        match score {
            75.. => Priority::P1,
            50..=74 => Priority::P2,
            25..=49 => Priority::P3,
            _ => Priority::P4,
        }
    }
}

/// A case in the shared inbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub contact: ContactId,
    /// The identity the customer wrote from (replies go back to it).
    pub identity: IdentityId,
    /// The configured channel name the conversation lives on.
    pub channel: String,
    pub thread_key: String,
    pub status: Status,
    pub priority: Priority,
    /// 0..=100; the priority band comes from it.
    pub score: u8,
    /// Support tier 1..=3.
    pub tier: u8,
    pub category: Option<String>,
    pub team: Option<TeamId>,
    pub assignee: Option<UserId>,
    pub tags: Vec<String>,
    pub subject: Option<String>,
    /// Whether the customer wrote in public (a post/comment) rather than privately.
    pub public: bool,
    pub created_at: Ts,
    pub updated_at: Ts,
    pub last_message_at: Ts,
    /// When the oldest unanswered customer message arrived (waiting since).
    pub waiting_since: Option<Ts>,
    pub first_response_at: Option<Ts>,
    pub resolved_at: Option<Ts>,
    pub snoozed_until: Option<Ts>,
    pub sla_due_at: Option<Ts>,
    pub message_count: u32,
    pub last_snippet: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    In,
    Out,
    Note,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::Note => "note",
        }
    }
}

/// Delivery state of an outgoing message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    Queued,
    Sent,
    Failed,
    /// The send may or may not have reached the network; not retried blindly.
    Unknown,
    /// The network delivered it to the customer (WhatsApp statuses).
    Delivered,
    /// The customer read it.
    Read,
    /// Held until a supervisor approves it (a triage rule asked for approval).
    AwaitingApproval,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Queued => "queued",
            Delivery::Sent => "sent",
            Delivery::Failed => "failed",
            Delivery::Unknown => "unknown",
            Delivery::Delivered => "delivered",
            Delivery::Read => "read",
            Delivery::AwaitingApproval => "awaiting_approval",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Author {
    Identity(IdentityId),
    User(UserId),
    System,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    /// SHA-256 hex of the content (content-addressed under the data dir), if stored.
    pub sha256: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub conversation: ConversationId,
    pub direction: Direction,
    pub channel: String,
    pub external_id: Option<String>,
    pub text: String,
    /// Sanitized HTML for display, when the source had HTML.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub public: bool,
    pub author: Author,
    /// Display name of the author at the time of writing.
    pub author_name: String,
    pub sent_at: Ts,
    pub received_at: Ts,
    pub delivery: Option<Delivery>,
    /// Last delivery error shown to agents.
    pub delivery_detail: Option<String>,
}

/// State of an outbox row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboxState {
    /// Waiting for its next attempt.
    Pending,
    /// An attempt started and its result was not recorded yet.
    InFlight,
    Done,
    Failed,
    /// Waiting for configuration (e.g. no webhook URL yet).
    Parked,
}

/// One reply waiting to be delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub id: OutboxId,
    pub message: MessageId,
    pub conversation: ConversationId,
    pub channel: String,
    /// Stable across retries: the receiver drops repeats by it.
    pub idempotency_key: String,
    pub state: OutboxState,
    pub attempts: u32,
    pub next_attempt_at: Ts,
    pub last_error: Option<String>,
    pub created_at: Ts,
}

/// An inbound item that could not become a message: kept with its raw bytes
/// (when not too large) and a visible reason, re-processable by admins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuarantineItem {
    pub id: u64,
    pub channel: String,
    /// Where it came from, e.g. `imap INBOX uid 42 (uidvalidity 7)`.
    pub source: String,
    pub reason: String,
    pub size: u64,
    /// The raw bytes, unless the item was too large to download.
    pub raw: Option<Vec<u8>>,
    pub created_at: Ts,
    /// How an admin resolved it (`reprocessed: message 12`, `dismissed`).
    pub resolved: Option<String>,
}

/// A public mention that did not match a trigger: shown in the Mentions
/// stream (social listening) until an agent promotes or dismisses it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamItem {
    pub id: u64,
    pub channel: String,
    pub external_id: String,
    pub handle: String,
    pub name: Option<String>,
    pub followers: Option<u64>,
    pub verified: bool,
    pub text: String,
    pub url: Option<String>,
    pub sent_at: Ts,
    /// What made it about us (a handle, hashtag or keyword), if known.
    pub matched: Option<String>,
    /// `None` while new; then `promoted: conversation N` or `dismissed`.
    pub resolved: Option<String>,
}
