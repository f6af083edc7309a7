use super::{
    ContactId, ConversationId, Delivery, IdentityId, MessageId, OutboxId, Priority, Status, TeamId,
    Ts, UserId,
};
use serde::{Deserialize, Serialize};

/// Who caused an event: the audit trail's "who".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Actor {
    User(UserId),
    /// A channel connector (its configured name).
    Channel(String),
    System,
}

impl Actor {
    pub fn describe(&self) -> String {
        match self {
            Actor::User(u) => format!("user:{u}"),
            Actor::Channel(c) => format!("channel:{c}"),
            Actor::System => "system".into(),
        }
    }
}

/// Everything that changes state appends one of these in the same
/// transaction (DESIGN invariant 2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EventKind {
    // Append new variants at the end only: the codec stores the variant's
    // index, so reordering would change the meaning of stored events
    // (`tests/fixtures/store-v1.redb` holds events of the first version).
    ContactCreated {
        contact: ContactId,
    },
    ConversationCreated {
        conversation: ConversationId,
        contact: ContactId,
        channel: String,
    },
    ConversationReopened {
        conversation: ConversationId,
    },
    MessageReceived {
        conversation: ConversationId,
        message: MessageId,
    },
    ReplyQueued {
        conversation: ConversationId,
        message: MessageId,
        outbox: Option<OutboxId>,
    },
    NoteAdded {
        conversation: ConversationId,
        message: MessageId,
    },
    DeliveryChanged {
        conversation: ConversationId,
        message: MessageId,
        delivery: Delivery,
        detail: Option<String>,
    },
    StatusChanged {
        conversation: ConversationId,
        from: Status,
        to: Status,
    },
    PriorityChanged {
        conversation: ConversationId,
        priority: Priority,
        score: u8,
    },
    UserCreated {
        user: UserId,
    },
    PasswordChanged {
        user: UserId,
    },
    LoggedIn {
        user: UserId,
    },
    StoreMigrated {
        from: u32,
        to: u32,
    },
    ContactUpdated {
        contact: ContactId,
    },
    IdentityCreated {
        identity: IdentityId,
        contact: ContactId,
    },
    IdentityUpdated {
        identity: IdentityId,
    },
    /// A website-chat visitor started a session.
    VisitorSessionStarted {
        identity: IdentityId,
        channel: String,
    },
    /// An attempt to deliver a reply started (claimed before any network I/O).
    DeliveryAttempted {
        conversation: ConversationId,
        message: MessageId,
        outbox: OutboxId,
        attempt: u32,
    },
    LoggedOut {
        user: UserId,
    },
    CannedSaved {
        canned: u64,
    },
    CannedDeleted {
        canned: u64,
    },
    Assigned {
        conversation: ConversationId,
        assignee: Option<UserId>,
    },
    TagsChanged {
        conversation: ConversationId,
        tags: Vec<String>,
    },
    PriorityOverridden {
        conversation: ConversationId,
        priority: Priority,
        reason: String,
    },
    /// A note @mentioned a colleague.
    Mentioned {
        conversation: ConversationId,
        message: MessageId,
        user: UserId,
    },
    PrefsChanged {
        user: UserId,
    },
    TeamCreated {
        team: TeamId,
    },
    MembershipChanged {
        team: TeamId,
        user: UserId,
        member: bool,
    },
    TeamAssigned {
        conversation: ConversationId,
        team: Option<TeamId>,
    },
    /// A mail (or other inbound item) could not be stored as a message.
    Quarantined {
        id: u64,
        channel: String,
        reason: String,
    },
    /// An admin re-processed or dismissed a quarantined item.
    QuarantineResolved {
        id: u64,
        outcome: String,
    },
    /// A channel connector's cursor moved (e.g. a mailbox's UIDVALIDITY changed).
    CursorReset {
        channel: String,
        detail: String,
    },
    /// An admin added or removed a channel in the UI (never its secrets).
    ChannelChanged {
        kind: String,
        name: String,
        change: String,
    },
    /// A public mention went to the listening stream.
    StreamAdded {
        id: u64,
        channel: String,
    },
    /// An agent promoted a stream item to a conversation, or dismissed it.
    StreamResolved {
        id: u64,
        outcome: String,
    },
    /// The conversation continues privately (or publicly again).
    VisibilityChanged {
        conversation: ConversationId,
        public: bool,
    },
    /// A new version of the triage rules (editor, config file or restore).
    RulesChanged {
        version: u32,
        source: String,
    },
    /// Triage scored and classified the conversation (reasons in its record).
    Triaged {
        conversation: ConversationId,
        priority: Priority,
        score: u8,
        category: Option<String>,
        tier: u8,
        rules_version: u32,
    },
    /// Escalated or de-escalated, by hand or automatically, with the reason.
    TierChanged {
        conversation: ConversationId,
        from: u8,
        to: u8,
        reason: String,
    },
    /// Someone set (or cleared) the category by hand.
    CategoryChanged {
        conversation: ConversationId,
        category: Option<String>,
    },
    /// An agent's routing profile changed (availability, capacity, skills...).
    AgentChanged {
        user: UserId,
        change: String,
    },
    /// A team's routing strategy changed.
    TeamRoutingChanged {
        team: TeamId,
        strategy: String,
    },
    /// A reply held for approval was approved (sent) or rejected.
    ReplyReviewed {
        conversation: ConversationId,
        message: MessageId,
        approved: bool,
        reason: String,
    },
    /// A scheduled job ran late and its kind's overdue policy applied
    /// (`ran late`, `skipped` or `ran, supervisors notified`).
    JobLate {
        job: u64,
        kind: String,
        late_ms: i64,
        policy: String,
    },
    /// A scheduled job was cancelled (by hand or because it no longer applies).
    JobCancelled {
        job: u64,
        kind: String,
        conversation: Option<ConversationId>,
        reason: String,
    },
    /// A scheduled job ran (kept for jobs whose effect leaves no other event).
    JobRan {
        job: u64,
        kind: String,
    },
    /// An automatic reply was sent (closed, open-hours acknowledgement, FAQ).
    AutoReplied {
        conversation: ConversationId,
        message: MessageId,
        reason: String,
    },
    /// An SLA target reached its warning point or was breached.
    SlaAlert {
        conversation: ConversationId,
        /// `first_response` or `resolution`.
        target: String,
        /// `warning` or `breach`.
        level: String,
        due: Ts,
    },
    /// The SLA clock stopped (pending on the customer) or started again.
    SlaPaused {
        conversation: ConversationId,
        paused: bool,
    },
    /// A follow-up (satisfaction check) or a scheduled message was planned.
    Scheduled {
        conversation: ConversationId,
        job: u64,
        what: String,
        due: Ts,
    },
    /// The satisfaction check was sent to the customer.
    SurveySent {
        conversation: ConversationId,
        message: MessageId,
    },
    /// The customer answered the satisfaction survey.
    SurveyAnswered {
        conversation: ConversationId,
        csat: u8,
        nps: Option<u8>,
        comment: String,
    },
    /// The business-hours, auto-reply or follow-up settings changed.
    ClockSettingsChanged {
        what: String,
    },
}

impl EventKind {
    /// The conversation the event concerns, if any (for live views).
    pub fn conversation(&self) -> Option<ConversationId> {
        match self {
            EventKind::ConversationCreated { conversation, .. }
            | EventKind::ConversationReopened { conversation }
            | EventKind::MessageReceived { conversation, .. }
            | EventKind::ReplyQueued { conversation, .. }
            | EventKind::NoteAdded { conversation, .. }
            | EventKind::DeliveryAttempted { conversation, .. }
            | EventKind::DeliveryChanged { conversation, .. }
            | EventKind::StatusChanged { conversation, .. }
            | EventKind::PriorityChanged { conversation, .. }
            | EventKind::Assigned { conversation, .. }
            | EventKind::TagsChanged { conversation, .. }
            | EventKind::PriorityOverridden { conversation, .. }
            | EventKind::Mentioned { conversation, .. }
            | EventKind::TeamAssigned { conversation, .. }
            | EventKind::VisibilityChanged { conversation, .. }
            | EventKind::Triaged { conversation, .. }
            | EventKind::TierChanged { conversation, .. }
            | EventKind::CategoryChanged { conversation, .. }
            | EventKind::ReplyReviewed { conversation, .. }
            | EventKind::AutoReplied { conversation, .. }
            | EventKind::SlaAlert { conversation, .. }
            | EventKind::SlaPaused { conversation, .. }
            | EventKind::Scheduled { conversation, .. }
            | EventKind::SurveySent { conversation, .. }
            | EventKind::SurveyAnswered { conversation, .. } => Some(*conversation),
            EventKind::JobCancelled { conversation, .. } => *conversation,
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: Ts,
    pub actor: Actor,
    pub kind: EventKind,
}
