//! Schema versions and the migrations between them, run at start-up.
//!
//! * v1: the first layout.
//! * v2: adds the `conv_order` table (sort keys for keyset pagination); the
//!   migration builds it from the conversations.

use super::StoreError;
use super::codec::decode;
use super::order;
use super::tables::*;
use super::tx::{self, Counters, NEXT_ID, NEXT_SEQ, Tx};
use crate::domain::{Actor, Conversation, EventKind, Ts};
use redb::ReadableTable;

/// The schema this binary writes.
pub const SCHEMA_VERSION: u64 = 2;

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
            return Err(StoreError::TooNew { found: v, supported: SCHEMA_VERSION });
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
    tx::create_all(wtx)?;
    let mut tx = Tx::open(wtx, counters, now)?;
    tx.append_event(Actor::System, EventKind::StoreMigrated { from: from as u32, to: from as u32 + 1 })?;
    tx.set_meta(SCHEMA_VERSION_KEY, from + 1)?;
    tx.persist_counters()?;
    Ok(tx.counters.clone())
}
