//! The single writer thread: drains the queue into one write transaction,
//! commits once (fsync), then acknowledges every command of the batch.

use super::tx::{Counters, Tx};
use super::{Cmd, Completion, StoreError};
use crate::domain::Clock;
use crate::metrics::Metrics;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, watch};

pub(super) struct WriterCtx {
    pub db: Arc<redb::Database>,
    pub rx: mpsc::Receiver<Cmd>,
    pub committed: watch::Sender<u64>,
    pub counters: Counters,
    pub clock: Arc<dyn Clock>,
    pub max_batch: usize,
    pub healthy: Arc<AtomicBool>,
    pub metrics: Arc<Metrics>,
}

pub(super) fn spawn(ctx: WriterCtx) -> Result<(), StoreError> {
    std::thread::Builder::new()
        .name("atalaya-writer".into())
        .spawn(move || run(ctx))
        .map(|_| ())
        .map_err(|e| StoreError::Storage(format!("cannot start the writer thread: {e}")))
}

fn run(mut ctx: WriterCtx) {
    let mut shutdown: Option<oneshot::Sender<()>> = None;
    while shutdown.is_none() {
        let mut ops = Vec::new();
        match ctx.rx.blocking_recv() {
            Some(Cmd::Op(op)) => ops.push(op),
            Some(Cmd::Shutdown(s)) => shutdown = Some(s),
            None => break,
        }
        while shutdown.is_none() && ops.len() < ctx.max_batch {
            match ctx.rx.try_recv() {
                Ok(Cmd::Op(op)) => ops.push(op),
                Ok(Cmd::Shutdown(s)) => shutdown = Some(s),
                Err(_) => break,
            }
        }
        if !ops.is_empty() {
            commit_batch(&mut ctx, ops);
        }
    }
    // Commands queued after the shutdown request are dropped: their callers
    // see `StoreError::Closed`.
    ctx.rx.close();
    // Release this thread's handle on the database before acknowledging, so
    // the file is unlocked once the `Store` handles are dropped too.
    drop(ctx);
    if let Some(s) = shutdown {
        let _ = s.send(());
    }
}

fn commit_batch(ctx: &mut WriterCtx, ops: Vec<super::Op>) {
    let started = Instant::now();
    let n = ops.len();
    let mut completions: Vec<Completion> = Vec::with_capacity(n);
    let result = apply(ctx, ops, &mut completions);
    let elapsed = started.elapsed();
    match result {
        Ok(counters) => {
            ctx.counters = counters;
            ctx.healthy.store(true, Ordering::Relaxed);
            ctx.metrics.observe_commit(elapsed, n);
            ctx.committed.send_replace(ctx.counters.next_seq);
            for c in completions {
                c(Ok(()));
            }
        }
        Err(e) => {
            ctx.healthy.store(false, Ordering::Relaxed);
            ctx.metrics.commit_failures.inc();
            tracing::error!(error = %e, commands = n, "write batch failed; nothing of it was stored");
            for c in completions {
                c(Err(e.clone()));
            }
        }
    }
}

fn apply(
    ctx: &WriterCtx,
    ops: Vec<super::Op>,
    completions: &mut Vec<Completion>,
) -> Result<Counters, StoreError> {
    let wtx = ctx.db.begin_write()?;
    let counters = {
        let mut tx = Tx::open(&wtx, ctx.counters.clone(), ctx.clock.now())?;
        for op in ops {
            completions.push(op(&mut tx)?);
        }
        tx.persist_counters()?;
        tx.counters.clone()
    };
    wtx.commit()?;
    Ok(counters)
}
