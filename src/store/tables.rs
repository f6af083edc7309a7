//! Table definitions and key layouts. Values are `codec`-encoded bytes.

use redb::TableDefinition;

pub type Bytes = &'static [u8];

pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub const CONTACTS: TableDefinition<u64, Bytes> = TableDefinition::new("contacts");
pub const IDENTITIES: TableDefinition<u64, Bytes> = TableDefinition::new("identities");
/// `kind \x1f normalized handle` -> identity id.
pub const IDENTITY_KEYS: TableDefinition<&str, u64> = TableDefinition::new("identity_keys");
/// normalized email -> contact id (links a person across channels).
pub const CONTACT_EMAILS: TableDefinition<&str, u64> = TableDefinition::new("contact_emails");
/// (contact, identity) pairs.
pub const CONTACT_IDENTITIES: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("contact_identities");
pub const CONVERSATIONS: TableDefinition<u64, Bytes> = TableDefinition::new("conversations");
/// `channel \x1f thread key` -> the newest conversation of that thread.
pub const THREADS: TableDefinition<&str, u64> = TableDefinition::new("threads");
/// (contact, conversation) pairs: a contact's history on every channel.
pub const CONTACT_CONVERSATIONS: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("contact_conversations");
pub const MESSAGES: TableDefinition<u64, Bytes> = TableDefinition::new("messages");
/// (conversation, message) pairs, in message order.
pub const CONVERSATION_MESSAGES: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("conversation_messages");
/// `channel \x1f external id` -> message id: inbound deduplication.
pub const DEDUPE: TableDefinition<&str, u64> = TableDefinition::new("dedupe");
/// sequence -> event. The audit trail and the feed of every follower.
pub const EVENTS: TableDefinition<u64, Bytes> = TableDefinition::new("events");
pub const OUTBOX: TableDefinition<u64, Bytes> = TableDefinition::new("outbox");
/// Outbox rows not yet finished (pending, in flight, parked).
pub const OUTBOX_OPEN: TableDefinition<u64, ()> = TableDefinition::new("outbox_open");
pub const USERS: TableDefinition<u64, Bytes> = TableDefinition::new("users");
pub const USER_EMAILS: TableDefinition<&str, u64> = TableDefinition::new("user_emails");
pub const TEAMS: TableDefinition<u64, Bytes> = TableDefinition::new("teams");
/// SHA-256 hex of a bearer/session/widget token -> token record.
pub const TOKENS: TableDefinition<&str, Bytes> = TableDefinition::new("tokens");
/// (conversation, event sequence): a conversation's timeline (schema v3).
pub const CONVERSATION_EVENTS: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("conversation_events");
/// (user, message) -> conversation: where a user was @mentioned (schema v3).
pub const MENTIONS: TableDefinition<(u64, u64), u64> = TableDefinition::new("mentions");
/// user -> interface preferences (schema v3).
pub const PREFS: TableDefinition<u64, Bytes> = TableDefinition::new("prefs");
/// Canned responses (schema v3).
pub const CANNED: TableDefinition<u64, Bytes> = TableDefinition::new("canned");
/// Sort keys of conversations (schema v2): see `order_keys`.
pub const CONV_ORDER: TableDefinition<&[u8], ()> = TableDefinition::new("conv_order");

/// Connector cursors (schema v4): `channel \x1f what` -> encoded cursor.
pub const CURSORS: TableDefinition<&str, Bytes> = TableDefinition::new("cursors");
/// Quarantined inbound items (schema v4).
pub const QUARANTINE: TableDefinition<u64, Bytes> = TableDefinition::new("quarantine");
/// Email Message-ID (ours and the customers') -> message id (schema v4):
/// threading on any referenced id, and matching bounces to replies.
pub const MAIL_IDS: TableDefinition<&str, u64> = TableDefinition::new("mail_ids");
/// `channel \x1f sender` -> time (ms) of the last automatic reply (schema v4).
pub const AUTO_REPLIES: TableDefinition<&str, i64> = TableDefinition::new("auto_replies");

/// Mailboxes added in the admin UI (schema v4): name -> encoded settings.
pub const MAILBOXES: TableDefinition<&str, Bytes> = TableDefinition::new("mailboxes");

/// The social-listening stream (schema v4): mentions without a trigger.
pub const STREAM: TableDefinition<u64, Bytes> = TableDefinition::new("stream");

/// Scheduled jobs in due order (schema v5): 16-byte key, big-endian
/// `(due ms clamped to 0, id)` (see [`job_key`]) -> encoded job.
pub const JOBS: TableDefinition<&[u8], Bytes> = TableDefinition::new("jobs");
/// Job id -> its due time in the `jobs` key (ms, clamped to 0) (schema v5).
pub const JOB_IDS: TableDefinition<u64, u64> = TableDefinition::new("job_ids");
/// A job's unique key (`followup:42`, `cron:digest`) -> job id (schema v5).
pub const JOB_KEYS: TableDefinition<&str, u64> = TableDefinition::new("job_keys");
/// Stored jobs that could not be decoded when they came due (schema v5):
/// id -> the raw value, kept for inspection instead of blocking the queue.
pub const JOBS_BROKEN: TableDefinition<u64, Bytes> = TableDefinition::new("jobs_broken");

pub const SCHEMA_VERSION_KEY: &str = "schema_version";

/// Join parts of a string key with the unit separator.
pub fn skey(a: &str, b: &str) -> String {
    let mut s = String::with_capacity(a.len() + b.len() + 1);
    s.push_str(a);
    s.push('\u{1f}');
    s.push_str(b);
    s
}

/// The due part of a job key: milliseconds, negatives clamped to 0.
pub fn job_due_ms(due: crate::domain::Ts) -> u64 {
    u64::try_from(due.0).unwrap_or(0)
}

/// The `jobs` key: big-endian due (ms, clamped) then big-endian id, so that
/// the table iterates in due order and ties run by id.
pub fn job_key(due_ms: u64, id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&due_ms.to_be_bytes());
    k[8..].copy_from_slice(&id.to_be_bytes());
    k
}

/// `(due ms, id)` of a `jobs` key; `None` for a key of another length.
pub fn job_key_parts(key: &[u8]) -> Option<(u64, u64)> {
    let due: [u8; 8] = key.get(..8)?.try_into().ok()?;
    let id: [u8; 8] = key.get(8..16)?.try_into().ok()?;
    (key.len() == 16).then(|| (u64::from_be_bytes(due), u64::from_be_bytes(id)))
}
