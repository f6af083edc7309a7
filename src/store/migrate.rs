//! Schema versions and the migrations between them, run at start-up.
//!
//! * v1: the first layout.
//! * v2: adds the `conv_order` table (sort keys for keyset pagination); the
//!   migration builds it from the conversations.
//! * v3: conversation counters in `meta` (per status, assignee, team) for
//!   the inbox views, and the `conversation_events` timeline index; the
//!   migration counts the conversations and indexes the event log; sort
//!   keys per assignee and team (rebuilt).
//! * v4: connector cursors, the quarantine, the email Message-ID index and
//!   the automatic-reply log, mailboxes added in the admin UI (new empty
//!   tables).
//! * v5: the durable scheduler's tables: `jobs` (due-ordered), `job_ids`,
//!   `job_keys` and `jobs_broken` (new empty tables).

use super::StoreError;
use super::codec::decode;
use super::order;
use super::tables::*;
use super::tx::{self, Counters, NEXT_ID, NEXT_SEQ, Tx};
use crate::domain::{Actor, Conversation, EventKind, Ts};
use redb::ReadableTable;

/// The schema this binary writes.
pub const SCHEMA_VERSION: u64 = 5;

/// Create or upgrade the schema; return the writer's counters.
pub(super) fn prepare(db: &redb::Database, now: Ts) -> Result<Counters, StoreError> {
    let wtx = db.begin_write()?;
    let found = {
        let meta = wtx.open_table(META)?;
        meta.get(SCHEMA_VERSION_KEY)?.map(|v| v.value())
    };
    let counters = {
        let meta = wtx.open_table(META)?;
        Counters {
            next_id: meta.get(NEXT_ID)?.map(|v| v.value()).unwrap_or(0),
            next_seq: meta.get(NEXT_SEQ)?.map(|v| v.value()).unwrap_or(0),
        }
    };
    let counters = match found {
        Some(v) if v > SCHEMA_VERSION => {
            return Err(StoreError::TooNew {
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        Some(v) if v == SCHEMA_VERSION => counters,
        Some(v) => {
            // Tables of the steps below must exist before `Tx::open` runs.
            let mut step_counters = counters;
            for from in v..SCHEMA_VERSION {
                step_counters = step(&wtx, from, step_counters, now)?;
            }
            step_counters
        }
        None => {
            tx::create_all(&wtx)?;
            let mut tx = Tx::open(&wtx, counters, now)?;
            tx.set_meta(SCHEMA_VERSION_KEY, SCHEMA_VERSION)?;
            tx.persist_counters()?;
            tx.counters.clone()
        }
    };
    wtx.commit()?;
    Ok(counters)
}

fn step(
    wtx: &redb::WriteTransaction,
    from: u64,
    counters: Counters,
    now: Ts,
) -> Result<Counters, StoreError> {
    tracing::info!(from, to = from + 1, "migrating the store");
    if from == 1 {
        let convs: Vec<Conversation> = {
            let t = wtx.open_table(CONVERSATIONS)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                let (_, v) = row?;
                out.push(decode(v.value())?);
            }
            out
        };
        let mut order_t = wtx.open_table(CONV_ORDER)?;
        for c in &convs {
            for k in order::order_keys(c) {
                order_t.insert(k.as_slice(), ())?;
            }
        }
        drop(order_t);
    }
    // Every new table of later versions (v4's, v5's job tables) is created
    // here, empty.
    tx::create_all(wtx)?;
    let mut tx = Tx::open(wtx, counters, now)?;
    if from == 2 {
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        for c in tx.all_conversations()? {
            for k in order::count_keys(&c) {
                *counts.entry(k).or_default() += 1;
            }
        }
        for (k, n) in counts {
            tx.set_meta(&k, n)?;
        }
        tx.index_all_events()?;
        tx.rebuild_order()?;
    }
    tx.append_event(
        Actor::System,
        EventKind::StoreMigrated {
            from: from as u32,
            to: from as u32 + 1,
        },
    )?;
    tx.set_meta(SCHEMA_VERSION_KEY, from + 1)?;
    tx.persist_counters()?;
    Ok(tx.counters.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::*;
    use crate::ingest::{self, AuthorProfile, InboundMessage, IngestRules};
    use crate::metrics::Metrics;
    use crate::store::{Sort, Store, StoreOptions};
    use std::sync::Arc;

    /// Rewrite a current database into the v1 layout (no `conv_order`).
    fn downgrade_to_v1(path: &std::path::Path) {
        let db = redb::Database::create(path).unwrap();
        let wtx = db.begin_write().unwrap();
        wtx.delete_table(CONV_ORDER).unwrap();
        wtx.open_table(META)
            .unwrap()
            .insert(SCHEMA_VERSION_KEY, 1)
            .unwrap();
        wtx.commit().unwrap();
    }

    /// Builds a v1 database, opens it with this binary and checks the
    /// migration. With `ATALAYA_WRITE_FIXTURE=path` it also saves the v1 file
    /// (how `tests/fixtures/store-v1.redb` was made).
    #[tokio::test]
    async fn v1_database_migrates_to_current() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Ts(1_764_000_000_000)));
        let store = Store::open(
            dir.path(),
            StoreOptions::default(),
            clock,
            Arc::new(Metrics::default()),
        )
        .unwrap();
        let rules = IngestRules {
            reopen_window_ms: 0,
            max_text_bytes: 1000,
        };
        for (i, (h, t)) in [
            ("@ana", "me cobraron dos veces"),
            ("@luis", "el pedido llegó roto"),
            ("@ana", "¿alguna novedad?"),
        ]
        .into_iter()
        .enumerate()
        {
            let m = InboundMessage {
                channel: "api".into(),
                kind: ChannelKind::Api,
                external_id: format!("fx-{i}"),
                thread: None,
                author: AuthorProfile {
                    handle: h.into(),
                    ..Default::default()
                },
                text: t.into(),
                html: None,
                subject: None,
                attachments: vec![],
                public: true,
                sent_at: None,
            };
            let m = ingest::prepare(m, &rules).unwrap();
            store
                .write(move |tx| ingest::apply(tx, m, &rules))
                .await
                .unwrap();
        }
        store.shutdown().await;
        drop(store);
        let path = dir.path().join(crate::store::DB_FILE);
        downgrade_to_v1(&path);
        if let Ok(out) = std::env::var("ATALAYA_WRITE_FIXTURE") {
            std::fs::copy(&path, out).unwrap();
        }
        let clock = Arc::new(ManualClock::new(Ts(1_764_000_100_000)));
        let store = Store::open(
            dir.path(),
            StoreOptions::default(),
            clock,
            Arc::new(Metrics::default()),
        )
        .unwrap();
        let rep = store.verify().unwrap();
        assert!(rep.ok(), "{:?}", rep.problems);
        assert_eq!(rep.conversations, 2);
        let (version, page, events) = store
            .read(|r| {
                Ok((
                    r.meta(SCHEMA_VERSION_KEY)?,
                    r.list_conversations(Sort::Newest, None, None, 10, |_| true)?,
                    r.events_after(0, 1000)?,
                ))
            })
            .await
            .unwrap();
        assert_eq!(version, Some(SCHEMA_VERSION));
        assert_eq!(page.items.len(), 2);
        let steps: Vec<(u32, u32)> = events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::StoreMigrated { from, to } => Some((from, to)),
                _ => None,
            })
            .collect();
        assert_eq!(steps, [(1, 2), (2, 3), (3, 4), (4, 5)]);
        let open = store
            .read(|r| r.count(Status::Open, None, None))
            .await
            .unwrap();
        assert_eq!(open, 2, "the v3 step counted the conversations");
    }

    /// A v4 database (no job tables) opens, gets the empty job tables, and
    /// takes jobs.
    #[tokio::test]
    async fn v4_database_gets_the_job_tables() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Ts(1_764_000_000_000)));
        let store = Store::open(
            dir.path(),
            StoreOptions::default(),
            clock.clone(),
            Arc::new(Metrics::default()),
        )
        .unwrap();
        store.shutdown().await;
        drop(store);
        let path = dir.path().join(crate::store::DB_FILE);
        {
            let db = redb::Database::create(&path).unwrap();
            let wtx = db.begin_write().unwrap();
            assert!(wtx.delete_table(JOBS).unwrap());
            assert!(wtx.delete_table(JOB_KEYS).unwrap());
            assert!(wtx.delete_table(JOB_IDS).unwrap());
            assert!(wtx.delete_table(JOBS_BROKEN).unwrap());
            wtx.open_table(META)
                .unwrap()
                .insert(SCHEMA_VERSION_KEY, 4)
                .unwrap();
            wtx.commit().unwrap();
        }
        let store = Store::open(
            dir.path(),
            StoreOptions::default(),
            clock,
            Arc::new(Metrics::default()),
        )
        .unwrap();
        let (version, count, events) = store
            .read(|r| {
                Ok((
                    r.meta(SCHEMA_VERSION_KEY)?,
                    r.job_count()?,
                    r.events_after(0, 10)?,
                ))
            })
            .await
            .unwrap();
        assert_eq!(version, Some(5));
        assert_eq!(count, 0);
        assert!(
            events
                .iter()
                .any(|e| matches!(e.kind, EventKind::StoreMigrated { from: 4, to: 5 }))
        );
        let job = store
            .write(|tx| {
                let job = crate::scheduler::Job {
                    id: tx.next_id(),
                    due: Ts(1_764_000_060_000),
                    kind: crate::scheduler::JobKind::Probe { n: 1 },
                    key: Some("probe:1".into()),
                    created: tx.now(),
                    created_by: None,
                };
                tx.put_job(&job)?;
                Ok(job)
            })
            .await
            .unwrap();
        let back = store.read(|r| r.job_by_key("probe:1")).await.unwrap();
        assert_eq!(back, Some(job));
        store.shutdown().await;
    }
}
