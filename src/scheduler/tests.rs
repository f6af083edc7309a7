//! The scheduler in virtual time: a `ManualClock`, `run_due(now)` called
//! directly, no sleeping.

use super::*;
use crate::domain::{Event, ManualClock};
use crate::metrics::Metrics;
use crate::store::StoreOptions;
use std::sync::Mutex;

/// 2026-03-20T08:26:40Z.
const T0: Ts = Ts(1_774_000_000_000);
const MIN: i64 = 60_000;

struct Fixture {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    store: Store,
    metrics: Arc<Metrics>,
    ran: Arc<Mutex<Vec<u64>>>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let metrics = Arc::new(Metrics::default());
        let store = Store::open(
            dir.path(),
            StoreOptions::default(),
            clock.clone(),
            metrics.clone(),
        )
        .unwrap();
        Fixture {
            _dir: dir,
            clock,
            store,
            metrics,
            ran: Arc::default(),
        }
    }

    /// An effect that records the job and appends `JobRan` (in the same
    /// transaction).
    fn effect(&self) -> Effect {
        let ran = self.ran.clone();
        Arc::new(move |tx: &mut Tx<'_>, job: &Job| {
            tx.append_event(
                Actor::System,
                EventKind::JobRan {
                    job: job.id,
                    kind: job.kind.name().into(),
                },
            )?;
            if let Ok(mut r) = ran.lock() {
                r.push(job.id);
            }
            Ok(())
        })
    }

    fn scheduler(&self, opts: Options) -> Scheduler {
        Scheduler::new(self.store.clone(), self.effect(), opts)
    }

    fn ran(&self) -> Vec<u64> {
        self.ran.lock().unwrap().clone()
    }

    async fn events(&self) -> Vec<Event> {
        self.store
            .read(|r| r.events_after(0, 1_000_000))
            .await
            .unwrap()
    }

    async fn count(&self) -> u64 {
        self.store.read(|r| r.job_count()).await.unwrap()
    }

    /// Store a job with a chosen id (ids decide ties).
    async fn put(&self, id: u64, due: Ts, kind: JobKind, key: Option<&str>) -> Job {
        let job = Job {
            id,
            due,
            kind,
            key: key.map(str::to_string),
            created: T0,
            created_by: None,
        };
        let j = job.clone();
        self.store.write(move |tx| tx.put_job(&j)).await.unwrap();
        job
    }
}

fn probe(n: u64) -> JobKind {
    JobKind::Probe { n }
}

fn follow_up(c: u64) -> JobKind {
    JobKind::FollowUp {
        conversation: ConversationId(c),
    }
}

fn ran_ids(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::JobRan { job, .. } => Some(*job),
            _ => None,
        })
        .collect()
}

fn late(events: &[Event]) -> Vec<(u64, String, i64, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::JobLate {
                job,
                kind,
                late_ms,
                policy,
            } => Some((*job, kind.clone(), *late_ms, policy.clone())),
            _ => None,
        })
        .collect()
}

fn ts(s: &str) -> Ts {
    Ts::parse(s).unwrap()
}

#[tokio::test]
async fn jobs_fire_in_due_order_ties_by_id() {
    let f = Fixture::new();
    let s = f.scheduler(Options::default());
    // (id, due offset in minutes), inserted out of order.
    let jobs = [
        (7, -3),
        (3, -1),
        (9, -3),
        (1, -2),
        (5, -10),
        (2, 0),
        (8, -1),
    ];
    for (id, off) in jobs {
        f.put(id, T0.plus_ms(off * MIN), probe(id), None).await;
    }
    assert_eq!(s.run_due(T0).await.unwrap(), jobs.len());
    let mut expected = jobs.to_vec();
    expected.sort_by_key(|&(id, off)| (off, id));
    let expected: Vec<u64> = expected.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ran_ids(&f.events().await), expected);
    assert_eq!(f.count().await, 0);
    assert!(f.ran().is_empty(), "probes never call the app's effect");
}

#[tokio::test]
async fn run_due_runs_only_due_jobs() {
    let f = Fixture::new();
    let s = f.scheduler(Options::default());
    f.put(1, T0.plus_ms(-1), follow_up(1), None).await;
    f.put(2, T0, follow_up(2), None).await;
    f.put(3, T0.plus_ms(1), follow_up(3), None).await;
    f.put(4, T0.plus_ms(MIN), follow_up(4), None).await;
    assert_eq!(s.run_due(T0).await.unwrap(), 2);
    assert_eq!(f.ran(), [1, 2]);
    let (next, left) = f
        .store
        .read(|r| Ok((r.next_job_due()?, r.due_jobs(T0.plus_ms(MIN), 10)?)))
        .await
        .unwrap();
    assert_eq!(next, Some(T0.plus_ms(1)));
    assert_eq!(left.iter().map(|j| j.id).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(s.run_due(T0).await.unwrap(), 0);
    f.clock.advance_ms(1);
    assert_eq!(s.run_due(f.clock.now()).await.unwrap(), 1);
    assert_eq!(f.ran(), [1, 2, 3]);
    assert_eq!(f.count().await, 1);
    assert!(late(&f.events().await).is_empty(), "nothing was late");
}

#[tokio::test]
async fn a_key_holds_one_job() {
    let f = Fixture::new();
    let s = f.scheduler(Options::default());
    let first = s
        .add(
            follow_up(5),
            T0.plus_ms(MIN),
            Some("followup:5".into()),
            None,
        )
        .await
        .unwrap();
    let second = s
        .add(
            follow_up(5),
            T0.plus_ms(30 * MIN),
            Some("followup:5".into()),
            Some(UserId(9)),
        )
        .await
        .unwrap();
    assert_ne!(first.id, second.id);
    let (by_key, old, count) = f
        .store
        .read(move |r| {
            Ok((
                r.job_by_key("followup:5")?,
                r.job(first.id)?,
                r.job_count()?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(by_key, Some(second.clone()));
    assert_eq!(old, None);
    assert_eq!(count, 1);
    // The old due time no longer fires anything.
    assert_eq!(s.run_due(T0.plus_ms(MIN)).await.unwrap(), 0);
    // Rescheduling the same id moves it.
    let mut moved = second.clone();
    moved.due = T0.plus_ms(2 * MIN);
    let m = moved.clone();
    f.store.write(move |tx| tx.put_job(&m)).await.unwrap();
    assert_eq!(f.count().await, 1);
    assert_eq!(s.run_due(T0.plus_ms(2 * MIN)).await.unwrap(), 1);
    assert_eq!(f.ran(), [second.id]);
    let left = f
        .store
        .read(|r| Ok((r.job_by_key("followup:5")?, r.job_count()?)))
        .await
        .unwrap();
    assert_eq!(left, (None, 0));
    assert!(f.store.verify().unwrap().ok());
}

#[tokio::test]
async fn cancel_removes_and_records_why() {
    let f = Fixture::new();
    let s = f.scheduler(Options::default());
    let a = s
        .add(follow_up(7), T0.plus_ms(MIN), None, None)
        .await
        .unwrap();
    let b = s
        .add(
            JobKind::SnoozeWake {
                conversation: ConversationId(8),
                until: T0.plus_ms(MIN),
            },
            T0.plus_ms(MIN),
            Some("snooze:8".into()),
            None,
        )
        .await
        .unwrap();
    let c = s.add(probe(1), T0.plus_ms(MIN), None, None).await.unwrap();
    let got = s
        .cancel(a.id, Actor::User(UserId(3)), "customer answered")
        .await
        .unwrap();
    assert_eq!(got, Some(a.clone()));
    let got = s
        .cancel_key("snooze:8", Actor::System, "conversation reopened")
        .await
        .unwrap();
    assert_eq!(got, Some(b.clone()));
    assert_eq!(s.cancel(a.id, Actor::System, "again").await.unwrap(), None);
    assert_eq!(
        s.cancel_key("snooze:8", Actor::System, "again")
            .await
            .unwrap(),
        None
    );
    let events = f.events().await;
    let cancelled: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::JobCancelled {
                job,
                kind,
                conversation,
                reason,
            } => Some((
                e.actor.clone(),
                *job,
                kind.as_str(),
                *conversation,
                reason.as_str(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        cancelled,
        [
            (
                Actor::User(UserId(3)),
                a.id,
                "follow_up",
                Some(ConversationId(7)),
                "customer answered"
            ),
            (
                Actor::System,
                b.id,
                "snooze_wake",
                Some(ConversationId(8)),
                "conversation reopened"
            ),
        ]
    );
    assert_eq!(s.run_due(T0.plus_ms(MIN)).await.unwrap(), 1);
    assert_eq!(ran_ids(&f.events().await), [c.id]);
    assert!(f.store.verify().unwrap().ok());
}

#[tokio::test]
async fn overdue_policies_per_kind() {
    let f = Fixture::new();
    let spec = parse_cron("digest", "0 8 * * *", "Europe/Madrid")
        .unwrap()
        .with_task("digest");
    let opts = Options {
        late_after_ms: 15 * MIN,
        cron: vec![spec.clone()],
        ..Options::default()
    };
    let s = f.scheduler(opts);
    let now = T0.plus_ms(60 * MIN);
    let hour_late = T0;
    let cron = JobKind::Cron {
        name: "digest".into(),
        task: "digest".into(),
    };
    let reply = JobKind::ScheduledReply {
        conversation: ConversationId(4),
        author: UserId(2),
        text: "hola".into(),
        public: true,
    };
    f.put(1, hour_late, follow_up(1), None).await;
    f.put(2, hour_late, reply.clone(), None).await;
    f.put(3, hour_late, cron.clone(), Some("cron:digest")).await;
    f.put(4, hour_late, probe(4), None).await;
    // Within the threshold: an ordinary run, no JobLate.
    f.put(5, now.plus_ms(-15 * MIN), reply, None).await;
    let other = JobKind::Cron {
        name: "other".into(),
        task: "other".into(),
    };
    f.put(6, now.plus_ms(-MIN), other, Some("cron:other")).await;
    assert_eq!(s.run_due(now).await.unwrap(), 6);
    // Skip: the cron job's effect did not run; the rest did.
    assert_eq!(f.ran(), [1, 2, 5, 6]);
    let events = f.events().await;
    assert_eq!(
        late(&events),
        [
            (1, "follow_up".into(), 60 * MIN, "ran late".into()),
            (
                2,
                "scheduled_reply".into(),
                60 * MIN,
                "ran, supervisors notified".into()
            ),
            (3, "cron".into(), 60 * MIN, "skipped".into()),
            (4, "probe".into(), 60 * MIN, "ran late".into()),
        ]
    );
    // The effect's own event comes before JobLate, in the same commit.
    let pos = |pred: &dyn Fn(&EventKind) -> bool| events.iter().position(|e| pred(&e.kind));
    let ran2 = pos(&|k| matches!(k, EventKind::JobRan { job: 2, .. })).unwrap();
    let late2 = pos(&|k| matches!(k, EventKind::JobLate { job: 2, .. })).unwrap();
    assert!(ran2 < late2);
    // The skipped cron occurrence is not replayed: the next one after now is
    // stored; "other" is not configured, so it ends.
    let (digest, other, count) = f
        .store
        .read(|r| {
            Ok((
                r.job_by_key("cron:digest")?,
                r.job_by_key("cron:other")?,
                r.job_count()?,
            ))
        })
        .await
        .unwrap();
    let digest = digest.unwrap();
    assert_eq!(Some(digest.due), spec.next_after(now));
    assert!(digest.due > now);
    assert_eq!(digest.created, now);
    assert_eq!(other, None);
    assert_eq!(count, 1);
}

#[test]
fn cron_parse_errors_name_the_expression() {
    for bad in ["61 * * * *", "* * *", "every day", "", "* * * * * * *"] {
        let e = parse_cron("nightly", bad, "UTC").unwrap_err();
        assert!(e.contains(&format!("\"{bad}\"")), "{bad}: {e}");
        assert!(e.contains("nightly"), "{e}");
    }
    let e = parse_cron("nightly", "0 3 * * *", "Mars/Olympus").unwrap_err();
    assert!(e.contains("Mars/Olympus"), "{e}");
    assert!(parse_cron("", "0 3 * * *", "UTC").is_err());
    // Five fields, six with seconds, nicknames.
    let five = parse_cron("a", "0 3 * * 1-5", "UTC").unwrap();
    assert_eq!(five.task, "a");
    assert_eq!(
        five.next_after(ts("2026-03-20T03:00:00Z")),
        Some(ts("2026-03-23T03:00:00Z"))
    );
    let six = parse_cron("b", "*/10 * * * * *", "UTC").unwrap();
    assert_eq!(
        six.next_after(ts("2026-03-20T03:00:00.500Z")),
        Some(ts("2026-03-20T03:00:10Z"))
    );
    let daily = parse_cron("c", "@daily", "UTC").unwrap();
    assert_eq!(
        daily.next_after(ts("2026-03-20T03:00:00Z")),
        Some(ts("2026-03-21T00:00:00Z"))
    );
}

#[test]
fn cron_follows_the_wall_clock_across_madrid_dst() {
    let nine = parse_cron("morning", "0 9 * * *", "Europe/Madrid").unwrap();
    // Spring forward (2026-03-29, 02:00 CET -> 03:00 CEST): 09:00 is 08:00Z
    // before and 07:00Z after.
    let mut t = ts("2026-03-27T12:00:00Z");
    let mut seen = Vec::new();
    for _ in 0..4 {
        t = nine.next_after(t).unwrap();
        seen.push(t.rfc3339());
    }
    assert_eq!(
        seen,
        [
            "2026-03-28T08:00:00Z",
            "2026-03-29T07:00:00Z",
            "2026-03-30T07:00:00Z",
            "2026-03-31T07:00:00Z"
        ]
    );
    // Fall back (2026-10-25, 03:00 CEST -> 02:00 CET).
    let mut t = ts("2026-10-23T12:00:00Z");
    let mut seen = Vec::new();
    for _ in 0..3 {
        t = nine.next_after(t).unwrap();
        seen.push(t.rfc3339());
    }
    assert_eq!(
        seen,
        [
            "2026-10-24T07:00:00Z",
            "2026-10-25T08:00:00Z",
            "2026-10-26T08:00:00Z"
        ]
    );
    // 02:30 does not exist on the spring-forward day (it runs when the gap
    // ends) and happens twice on the fall-back day (it runs once).
    let half_past_two = parse_cron("night", "30 2 * * *", "Europe/Madrid").unwrap();
    let spring = half_past_two
        .next_after(ts("2026-03-28T12:00:00Z"))
        .unwrap();
    assert_eq!(
        spring,
        ts("2026-03-29T01:00:00Z"),
        "03:00 CEST, the end of the gap"
    );
    let after = half_past_two.next_after(spring).unwrap();
    assert_eq!(after, ts("2026-03-30T00:30:00Z"));
    let fall = half_past_two
        .next_after(ts("2026-10-24T12:00:00Z"))
        .unwrap();
    assert_eq!(fall, ts("2026-10-25T00:30:00Z"), "the first 02:30 (CEST)");
    assert_eq!(
        half_past_two.next_after(fall),
        Some(ts("2026-10-26T01:30:00Z")),
        "not again at the second 02:30 (CET)"
    );
}

#[tokio::test]
async fn more_due_jobs_than_a_batch_all_run_across_commits() {
    let f = Fixture::new();
    let s = f.scheduler(Options {
        batch: 3,
        ..Options::default()
    });
    for n in 0..10 {
        f.put(n + 1, T0.plus_ms(-(n as i64)), probe(n), None).await;
    }
    let commits = f.metrics.commits.get();
    assert_eq!(s.run_due(T0).await.unwrap(), 10);
    assert!(
        f.metrics.commits.get() - commits >= 4,
        "10 jobs in batches of 3"
    );
    let mut ids = ran_ids(&f.events().await);
    assert_eq!(ids.len(), 10);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10);
    assert_eq!(f.count().await, 0);
}

#[tokio::test]
async fn a_failing_effect_leaves_the_jobs_in_place() {
    let f = Fixture::new();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = calls.clone();
    let failing: Effect = Arc::new(move |tx: &mut Tx<'_>, job: &Job| {
        c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if job.id == 2 {
            return Err(StoreError::Storage("disk full".into()));
        }
        tx.append_event(
            Actor::System,
            EventKind::JobRan {
                job: job.id,
                kind: job.kind.name().into(),
            },
        )?;
        Ok(())
    });
    let s = Scheduler::new(f.store.clone(), failing, Options::default());
    for id in 1..=3 {
        f.put(id, T0.plus_ms(-(id as i64)), follow_up(id), None)
            .await;
    }
    let before = f.events().await.len();
    assert!(s.run_due(T0).await.is_err());
    assert!(calls.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    assert_eq!(f.count().await, 3, "the batch was not committed");
    assert_eq!(f.events().await.len(), before);
    // Fixed: the next pass runs all three.
    let s = Scheduler::new(f.store.clone(), f.effect(), Options::default());
    assert_eq!(s.run_due(T0).await.unwrap(), 3);
    assert_eq!(f.ran(), [3, 2, 1]);
    assert_eq!(f.count().await, 0);
}

type CronJobs = (Option<Job>, Option<Job>, Vec<(String, u64)>);

async fn cron_jobs(f: &Fixture) -> CronJobs {
    f.store
        .read(|r| {
            Ok((
                r.job_by_key("cron:digest")?,
                r.job_by_key("cron:sweep")?,
                r.job_keys(CRON_PREFIX, 10)?,
            ))
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn sync_cron_stores_keeps_and_drops_cron_jobs() {
    let f = Fixture::new();
    let digest = parse_cron("digest", "0 8 * * *", "Europe/Madrid").unwrap();
    let sweep = parse_cron("sweep", "*/5 * * * *", "UTC")
        .unwrap()
        .with_task("sla_sweep");
    let s = f.scheduler(Options {
        cron: vec![digest.clone(), sweep.clone()],
        ..Options::default()
    });
    s.sync_cron(T0).await.unwrap();
    let (d, w, keys) = cron_jobs(&f).await;
    let (d, w) = (d.unwrap(), w.unwrap());
    assert_eq!(Some(d.due), digest.next_after(T0));
    assert_eq!(Some(w.due), sweep.next_after(T0));
    assert_eq!(
        w.kind,
        JobKind::Cron {
            name: "sweep".into(),
            task: "sla_sweep".into()
        }
    );
    assert_eq!(keys.len(), 2);
    // A restart later: the stored occurrences are still right, so they are
    // kept (a missed one then follows the overdue policy).
    let later = T0.plus_ms(3 * 60 * MIN);
    s.sync_cron(later).await.unwrap();
    let (d2, w2, _) = cron_jobs(&f).await;
    assert_eq!((d2.unwrap().id, w2.unwrap().id), (d.id, w.id));
    assert_eq!(s.run_due(later).await.unwrap(), 1, "the sweep");
    let (_, w3, _) = cron_jobs(&f).await;
    assert_eq!(w3.unwrap().due, sweep.next_after(later).unwrap());
    assert_eq!(
        late(&f.events().await)
            .into_iter()
            .map(|l| l.3)
            .collect::<Vec<_>>(),
        ["skipped"]
    );
    assert!(f.ran().is_empty());
    // A changed expression replaces the job; a removed one is cancelled.
    let digest9 = parse_cron("digest", "0 9 * * *", "Europe/Madrid").unwrap();
    let s2 = f.scheduler(Options {
        cron: vec![digest9.clone()],
        ..Options::default()
    });
    s2.sync_cron(later).await.unwrap();
    let (d4, w4, keys) = cron_jobs(&f).await;
    assert_eq!(d4.unwrap().due, digest9.next_after(later).unwrap());
    assert_eq!(w4, None);
    assert_eq!(keys.len(), 1);
    assert!(f.events().await.iter().any(|e| matches!(
        &e.kind,
        EventKind::JobCancelled { kind, reason, .. } if kind == "cron" && reason == "no longer configured"
    )));
}

#[tokio::test]
async fn pages_counts_and_negative_times() {
    let f = Fixture::new();
    for id in 1..=25u64 {
        f.put(id, T0.plus_ms((id % 5) as i64 * MIN), probe(id), None)
            .await;
    }
    f.put(99, Ts(-5), probe(99), None).await;
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = f.store.read(move |r| r.jobs_page(after, 7)).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|j| (j.due, j.id));
        all.extend(page);
    }
    assert_eq!(all.len(), 26);
    assert_eq!(all[0].id, 99, "a negative due time sorts first");
    let keys: Vec<(Ts, u64)> = all.iter().map(|j| (j.due, j.id)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(f.count().await, 26);
    let rep = f.store.verify().unwrap();
    assert!(rep.ok(), "{:?}", rep.problems);
    let s = f.scheduler(Options::default());
    assert_eq!(s.run_due(Ts(0)).await.unwrap(), 1);
    assert_eq!(ran_ids(&f.events().await), [99]);
}

#[tokio::test]
async fn an_unreadable_job_is_set_aside_not_run() {
    let f = Fixture::new();
    f.put(1, T0.plus_ms(-2), probe(1), None).await;
    f.store
        .write(|tx| tx.put_job_raw(T0.plus_ms(-1), 2, &[1, 0xff]))
        .await
        .unwrap();
    f.put(3, T0, probe(3), None).await;
    let s = f.scheduler(Options::default());
    assert_eq!(s.run_due(T0).await.unwrap(), 2);
    let events = f.events().await;
    assert_eq!(ran_ids(&events), [1, 3]);
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::JobCancelled { job: 2, kind, .. } if kind == "unknown"
    )));
    let (count, broken) = f
        .store
        .read(|r| Ok((r.job_count()?, r.broken_job_count()?)))
        .await
        .unwrap();
    assert_eq!((count, broken), (0, 1));
}

#[tokio::test]
async fn the_runner_sleeps_until_due_or_woken() {
    let f = Fixture::new();
    let s = Arc::new(f.scheduler(Options {
        // The fallback wake-up is far away: only `wake` moves it here.
        max_sleep_ms: 3_600_000,
        ..Options::default()
    }));
    let early = s.add(probe(1), T0, None, None).await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handle = s.clone().spawn(f.clock.clone(), stop_rx);
    let fr = &f;
    let wait_ran = |n: usize| async move {
        for _ in 0..500 {
            let events = fr.events().await;
            if ran_ids(&events).len() >= n {
                return ran_ids(&events);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{n} jobs did not run");
    };
    assert_eq!(wait_ran(1).await, [early.id]);
    // A job due in an hour of virtual time: the clock moves, a wake-up
    // (what any writer does after committing a job) makes it run.
    let later = s
        .add(probe(2), T0.plus_ms(60 * MIN), None, None)
        .await
        .unwrap();
    f.clock.advance_ms(60 * MIN);
    s.wake.notify_one();
    assert_eq!(wait_ran(2).await, [early.id, later.id]);
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .unwrap()
        .unwrap();
}
