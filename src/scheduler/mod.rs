//! The durable scheduler. Jobs live in a due-ordered redb table
//! (big-endian `(due, id)` keys, DESIGN invariant 9); one task sleeps until
//! the next due job, a wake-up or 30 s; each job is removed and its effect
//! applied in one write transaction, so it runs exactly once even across
//! crashes (a crash before the commit leaves it stored; after, it is gone
//! with its effect durable).
//!
//! * Jobs are added inside any write ([`schedule_in`], [`Tx::put_job`]) or
//!   with [`Scheduler::add`]. A job may be due earlier than the one the
//!   runner sleeps for: whoever commits a job outside [`Scheduler::add`]
//!   calls `scheduler.wake.notify_one()` after the commit.
//! * A key (`followup:42`, `snooze:42`, `cron:digest`) holds at most one
//!   job: storing a job with a key replaces the older one.
//! * A job found more than `late_after_ms` late (after downtime) follows its
//!   kind's [`Overdue`] policy and appends `JobLate`.
//! * Recurring jobs (`[[scheduler.cron]]`, [`CronSpec`]) are stored like any
//!   job under `cron:<name>`; after each occurrence (run or skipped) the
//!   next one after the current time is stored; missed occurrences are not
//!   replayed.

mod cron;
#[cfg(test)]
mod tests;

pub use cron::{CronSpec, parse_cron};

use crate::domain::{Actor, Clock, ConversationId, EventKind, Ts, UserId};
use crate::store::{Store, StoreError, Tx};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

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
    /// When it was stored (for a cron job: the instant its due time was
    /// computed after).
    pub created: Ts,
    pub created_by: Option<UserId>,
}

/// Applies a due job's effect inside the write transaction that removes it
/// (never called for [`JobKind::Probe`], which the scheduler handles).
///
/// Like any write, an effect checks before it mutates: an `Err` is a storage
/// failure and aborts the whole group commit; the job stays stored and runs
/// on a later pass. A job that no longer applies (conversation gone or
/// already answered) is a no-op, not an error.
pub type Effect = Arc<dyn Fn(&mut Tx<'_>, &Job) -> Result<(), StoreError> + Send + Sync>;

/// Scheduler settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// A job this late counts as overdue (its kind's policy applies).
    pub late_after_ms: i64,
    /// Most jobs run per write transaction.
    pub batch: usize,
    /// Recurring jobs, stored under `cron:<name>` at [`Scheduler::spawn`].
    pub cron: Vec<CronSpec>,
    /// Longest sleep before the runner looks at the table again.
    pub max_sleep_ms: u64,
    /// Pause after a storage error.
    pub retry_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            late_after_ms: 15 * 60_000,
            batch: 256,
            cron: Vec::new(),
            max_sleep_ms: 30_000,
            retry_ms: 1_000,
        }
    }
}

/// The key of a cron job.
pub fn cron_key(name: &str) -> String {
    format!("{CRON_PREFIX}{name}")
}

pub const CRON_PREFIX: &str = "cron:";

/// Store a new job inside the caller's write transaction (an id from
/// [`Tx::next_id`], `created` = the batch's time). A job holding the same
/// key is replaced. Call `scheduler.wake.notify_one()` after the commit.
pub fn schedule_in(
    tx: &mut Tx<'_>,
    kind: JobKind,
    due: Ts,
    key: Option<String>,
    created_by: Option<UserId>,
) -> Result<Job, StoreError> {
    let created = tx.now();
    put_new(tx, kind, due, key, created_by, created)
}

fn put_new(
    tx: &mut Tx<'_>,
    kind: JobKind,
    due: Ts,
    key: Option<String>,
    created_by: Option<UserId>,
    created: Ts,
) -> Result<Job, StoreError> {
    let job = Job {
        id: tx.next_id(),
        due,
        kind,
        key,
        created,
        created_by,
    };
    tx.put_job(&job)?;
    Ok(job)
}

/// Remove job `id` inside the caller's write and append `JobCancelled`
/// (nothing if there is no such job).
pub fn cancel_in(
    tx: &mut Tx<'_>,
    id: u64,
    actor: Actor,
    reason: &str,
) -> Result<Option<Job>, StoreError> {
    let job = tx.remove_job(id)?;
    cancelled(tx, job, actor, reason)
}

/// Remove the job holding `key` inside the caller's write and append
/// `JobCancelled` (nothing if there is none).
pub fn cancel_key_in(
    tx: &mut Tx<'_>,
    key: &str,
    actor: Actor,
    reason: &str,
) -> Result<Option<Job>, StoreError> {
    let job = tx.remove_job_key(key)?;
    cancelled(tx, job, actor, reason)
}

fn cancelled(
    tx: &mut Tx<'_>,
    job: Option<Job>,
    actor: Actor,
    reason: &str,
) -> Result<Option<Job>, StoreError> {
    if let Some(j) = &job {
        tx.append_event(
            actor,
            EventKind::JobCancelled {
                job: j.id,
                kind: j.kind.name().into(),
                conversation: j.kind.conversation(),
                reason: reason.into(),
            },
        )?;
    }
    Ok(job)
}

/// The scheduler handle.
pub struct Scheduler {
    pub store: Store,
    pub wake: Arc<tokio::sync::Notify>,
    pub effect: Effect,
    pub opts: Options,
}

impl Scheduler {
    pub fn new(store: Store, effect: Effect, opts: Options) -> Scheduler {
        Scheduler {
            store,
            wake: Arc::new(tokio::sync::Notify::new()),
            effect,
            opts,
        }
    }

    /// Store a job (replacing the one holding `key`) and wake the runner.
    pub async fn add(
        &self,
        kind: JobKind,
        due: Ts,
        key: Option<String>,
        created_by: Option<UserId>,
    ) -> Result<Job, StoreError> {
        let job = self
            .store
            .write(move |tx| schedule_in(tx, kind, due, key, created_by))
            .await?;
        self.wake.notify_one();
        Ok(job)
    }

    /// Remove a job and append `JobCancelled` with `reason`.
    pub async fn cancel(
        &self,
        id: u64,
        actor: Actor,
        reason: &str,
    ) -> Result<Option<Job>, StoreError> {
        let reason = reason.to_string();
        self.store
            .write(move |tx| cancel_in(tx, id, actor, &reason))
            .await
    }

    /// Remove the job holding `key` and append `JobCancelled` with `reason`.
    pub async fn cancel_key(
        &self,
        key: &str,
        actor: Actor,
        reason: &str,
    ) -> Result<Option<Job>, StoreError> {
        let (key, reason) = (key.to_string(), reason.to_string());
        self.store
            .write(move |tx| cancel_key_in(tx, &key, actor, &reason))
            .await
    }

    /// Run every job due at `now`, `opts.batch` per write transaction, until
    /// none is left; returns how many were handled (run, or skipped by
    /// their overdue policy). A failed batch (storage error, or an effect's
    /// `Err`) stores nothing: its jobs stay and the error is returned.
    pub async fn run_due(&self, now: Ts) -> Result<usize, StoreError> {
        let batch = self.opts.batch.max(1);
        let mut total = 0;
        loop {
            let effect = self.effect.clone();
            let opts = self.opts.clone();
            let (taken, handled) = self
                .store
                .write(move |tx| run_batch(tx, &effect, &opts, now, batch))
                .await?;
            total += handled;
            if taken < batch {
                return Ok(total);
            }
        }
    }

    /// Make the stored cron jobs match `opts.cron`: a configured job keeps
    /// its stored occurrence when that is still what its expression gives
    /// (so one missed during downtime is handled by the overdue policy),
    /// and otherwise gets the next occurrence after `now`; `cron:*` jobs no
    /// longer configured are cancelled.
    pub async fn sync_cron(&self, now: Ts) -> Result<(), StoreError> {
        let specs = self.opts.cron.clone();
        self.store
            .write(move |tx| sync_cron_in(tx, &specs, now))
            .await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Start the runner: store the cron jobs, then loop — run what is due,
    /// sleep until the next due job (at most `max_sleep_ms`), a
    /// [`wake`](Scheduler::wake) or `stop`. Reads happen on blocking
    /// threads and writes on the store's writer; only one key is read to
    /// find the next job. A storage error is logged and retried after
    /// `retry_ms`.
    pub fn spawn(
        self: Arc<Self>,
        clock: Arc<dyn Clock>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let retry = Duration::from_millis(self.opts.retry_ms);
            loop {
                if *stop.borrow() {
                    return;
                }
                match self.sync_cron(clock.now()).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "scheduler: cannot store the cron jobs; retrying");
                        tokio::select! {
                            _ = stop.changed() => return,
                            _ = tokio::time::sleep(retry) => {}
                        }
                    }
                }
            }
            loop {
                if *stop.borrow() {
                    break;
                }
                let wait = match self.step(clock.as_ref()).await {
                    Ok(wait) => wait,
                    Err(e) => {
                        tracing::error!(error = %e, "scheduler: storage error; retrying");
                        retry
                    }
                };
                if wait.is_zero() {
                    tokio::task::yield_now().await;
                    continue;
                }
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        })
    }

    /// One pass of the runner: run the due jobs, or say how long to sleep.
    async fn step(&self, clock: &dyn Clock) -> Result<Duration, StoreError> {
        let next = self.store.read(|r| r.next_job_due()).await?;
        let now = clock.now();
        let max = Duration::from_millis(self.opts.max_sleep_ms.max(1));
        match next {
            Some(due) if due <= now => {
                self.run_due(now).await?;
                Ok(Duration::ZERO)
            }
            Some(due) => {
                let ms = u64::try_from(due.0.saturating_sub(now.0)).unwrap_or(0);
                Ok(Duration::from_millis(ms).min(max))
            }
            None => Ok(max),
        }
    }
}

/// One write transaction of [`Scheduler::run_due`]: `(taken, handled)`.
fn run_batch(
    tx: &mut Tx<'_>,
    effect: &Effect,
    opts: &Options,
    now: Ts,
    batch: usize,
) -> Result<(usize, usize), StoreError> {
    let keys = tx.due_job_keys(now, batch)?;
    let mut handled = 0;
    for &(due_ms, id) in &keys {
        let job = match tx.remove_job_row(due_ms, id)? {
            // Removed by an effect earlier in this batch.
            None => continue,
            Some(Ok(job)) => job,
            Some(Err(why)) => {
                tracing::error!(job = id, error = %why, "a stored job cannot be decoded; moved to jobs_broken");
                tx.append_event(
                    Actor::System,
                    EventKind::JobCancelled {
                        job: id,
                        kind: "unknown".into(),
                        conversation: None,
                        reason: format!("the stored job cannot be read ({why}); kept aside"),
                    },
                )?;
                continue;
            }
        };
        run_one(tx, effect, opts, now, &job)?;
        handled += 1;
    }
    Ok((keys.len(), handled))
}

fn run_one(
    tx: &mut Tx<'_>,
    effect: &Effect,
    opts: &Options,
    now: Ts,
    job: &Job,
) -> Result<(), StoreError> {
    let late_ms = now.0.saturating_sub(job.due.0);
    let policy = (late_ms > opts.late_after_ms).then(|| job.kind.overdue());
    if policy != Some(Overdue::Skip) {
        match &job.kind {
            JobKind::Probe { .. } => {
                tx.append_event(
                    Actor::System,
                    EventKind::JobRan {
                        job: job.id,
                        kind: job.kind.name().into(),
                    },
                )?;
            }
            _ => effect(tx, job)?,
        }
    }
    if let Some(policy) = policy {
        tx.append_event(
            Actor::System,
            EventKind::JobLate {
                job: job.id,
                kind: job.kind.name().into(),
                late_ms,
                policy: policy.describe().into(),
            },
        )?;
    }
    if let JobKind::Cron { name, .. } = &job.kind
        && let Some(spec) = opts.cron.iter().find(|s| s.name == *name)
    {
        store_next(tx, spec, now)?;
    }
    Ok(())
}

/// Store a cron spec's next occurrence after `now` (replacing its job).
fn store_next(tx: &mut Tx<'_>, spec: &CronSpec, now: Ts) -> Result<(), StoreError> {
    let key = cron_key(&spec.name);
    match spec.next_after(now) {
        Some(next) => {
            let kind = JobKind::Cron {
                name: spec.name.clone(),
                task: spec.task.clone(),
            };
            put_new(tx, kind, next, Some(key), None, now)?;
        }
        None => {
            tracing::warn!(cron = %spec.name, expr = %spec.expr, "cron expression has no next occurrence");
            tx.remove_job_key(&key)?;
        }
    }
    Ok(())
}

fn sync_cron_in(tx: &mut Tx<'_>, specs: &[CronSpec], now: Ts) -> Result<(), StoreError> {
    for (key, _) in tx.job_keys(CRON_PREFIX, 100_000)? {
        let name = &key[CRON_PREFIX.len()..];
        if !specs.iter().any(|s| s.name == name) {
            cancel_key_in(tx, &key, Actor::System, "no longer configured")?;
        }
    }
    for spec in specs {
        let stored = match tx.job_by_key(&cron_key(&spec.name)) {
            Ok(job) => job,
            // Replaced below (the old value is set aside).
            Err(StoreError::Codec(_)) => None,
            Err(e) => return Err(e),
        };
        let current = stored.is_some_and(|j| {
            matches!(&j.kind, JobKind::Cron { name, task } if *name == spec.name && *task == spec.task)
                && spec.next_after(j.created) == Some(j.due)
        });
        if !current {
            store_next(tx, spec, now)?;
        }
    }
    Ok(())
}

impl Overdue {
    /// The `policy` text of `JobLate`.
    pub fn describe(self) -> &'static str {
        match self {
            Overdue::RunLate => "ran late",
            Overdue::Skip => "skipped",
            Overdue::Notify => "ran, supervisors notified",
        }
    }
}
