//! STUB (being written): the durable scheduler. Jobs live in a due-ordered
//! redb table (big-endian `(due, id)` keys, DESIGN invariant 9); one task
//! sleeps until the next due job or a wake-up; each job is removed and its
//! effect applied in one write transaction, so it runs exactly once even
//! across crashes.

use crate::domain::{ConversationId, Ts, UserId};
use crate::store::{Store, StoreError, Tx};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What a job does when it comes due (the app applies the effect).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum JobKind {
    /// The satisfaction check after resolution.
    FollowUp { conversation: ConversationId },
    /// A snoozed conversation comes back to the inbox.
    SnoozeWake {
        conversation: ConversationId,
        until: Ts,
    },
    /// A message an agent scheduled ("send Monday 9:00").
    ScheduledReply {
        conversation: ConversationId,
        author: UserId,
        text: String,
        public: bool,
    },
    /// A recurring job from `[[scheduler.cron]]`.
    Cron { name: String, task: String },
    /// Tests and benchmarks: appends `JobRan`.
    Probe { n: u64 },
}

/// What to do with a job found overdue after downtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overdue {
    /// Run it anyway.
    RunLate,
    /// Drop it (a recurring job runs at its next time instead).
    Skip,
    /// Run it and tell the supervisors it ran late.
    Notify,
}

impl JobKind {
    pub fn name(&self) -> &'static str {
        match self {
            JobKind::FollowUp { .. } => "follow_up",
            JobKind::SnoozeWake { .. } => "snooze_wake",
            JobKind::ScheduledReply { .. } => "scheduled_reply",
            JobKind::Cron { .. } => "cron",
            JobKind::Probe { .. } => "probe",
        }
    }
    pub fn conversation(&self) -> Option<ConversationId> {
        match self {
            JobKind::FollowUp { conversation }
            | JobKind::SnoozeWake { conversation, .. }
            | JobKind::ScheduledReply { conversation, .. } => Some(*conversation),
            _ => None,
        }
    }
    /// The overdue policy of this kind.
    pub fn overdue(&self) -> Overdue {
        match self {
            JobKind::FollowUp { .. } => Overdue::RunLate,
            JobKind::SnoozeWake { .. } => Overdue::RunLate,
            JobKind::ScheduledReply { .. } => Overdue::Notify,
            JobKind::Cron { .. } => Overdue::Skip,
            JobKind::Probe { .. } => Overdue::RunLate,
        }
    }
}

/// A stored job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    pub due: Ts,
    pub kind: JobKind,
    /// At most one job per key (`followup:42`, `snooze:42`, `cron:digest`):
    /// storing a job with a key replaces the older one.
    pub key: Option<String>,
    pub created: Ts,
    pub created_by: Option<UserId>,
}

/// Applies a due job's effect inside the write transaction that removes it.
pub type Effect = Arc<dyn Fn(&mut Tx<'_>, &Job) -> Result<(), StoreError> + Send + Sync>;

/// Scheduler settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// A job this late counts as overdue (its kind's policy applies).
    pub late_after_ms: i64,
    /// Most jobs run per write transaction.
    pub batch: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            late_after_ms: 15 * 60_000,
            batch: 256,
        }
    }
}

/// The scheduler handle.
pub struct Scheduler {
    pub store: Store,
    pub wake: Arc<tokio::sync::Notify>,
    pub effect: Effect,
    pub opts: Options,
}

impl Scheduler {
    /// Run every job due at `now`; returns how many ran.
    pub async fn run_due(&self, now: Ts) -> Result<usize, StoreError> {
        let _ = now;
        Ok(0)
    }
}
