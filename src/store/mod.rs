//! The only module that imports redb (DESIGN invariant 4).
//!
//! * One writer thread owns every write transaction and group-commits the
//!   queued commands (many commands, one fsync); a caller's acknowledgement is
//!   sent only after the commit is durable.
//! * Reads run in redb read transactions on `spawn_blocking`.
//! * Every state change appends an [`Event`](crate::domain::Event) in the same
//!   transaction; followers wait on [`Store::subscribe`] for new sequences.

mod codec;
mod integrity;
mod migrate;
mod order;
mod tables;
mod tx;
mod writer;

pub use integrity::IntegrityReport;
pub use migrate::SCHEMA_VERSION;
pub use order::{Scope, Sort};
pub use tx::{Page, Reader, Tx};

use crate::domain::Clock;
use crate::metrics::Metrics;
use redb::ReadableDatabase;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{mpsc, oneshot, watch};

/// Storage failures. Logical outcomes (not found, invalid) travel inside the
/// value an operation returns, not here.
#[derive(Debug, thiserror::Error, Clone)]
pub enum StoreError {
    #[error("the data directory {0} is in use by another atalaya process")]
    Locked(PathBuf),
    #[error("storage error: {0}")]
    Storage(String),
    #[error("corrupt value: {0}")]
    Codec(String),
    #[error("the database schema version {found} is newer than this binary supports ({supported})")]
    TooNew { found: u64, supported: u64 },
    #[error("the store is shutting down")]
    Closed,
}

macro_rules! storage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Storage(e.to_string())
            }
        }
    )*};
}
storage_from!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError
);

impl From<redb::DatabaseError> for StoreError {
    fn from(e: redb::DatabaseError) -> Self {
        StoreError::Storage(e.to_string())
    }
}

/// Options for opening a store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub cache_bytes: usize,
    /// Most commands folded into one commit.
    pub max_batch: usize,
    /// Bound of the writer's queue (back-pressure beyond it).
    pub queue: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_bytes: 64 << 20,
            max_batch: 4096,
            queue: 65_536,
        }
    }
}

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Op = Box<dyn for<'a> FnOnce(&mut Tx<'a>) -> Result<Completion, StoreError> + Send>;

enum Cmd {
    Op(Op),
    Shutdown(oneshot::Sender<()>),
}

struct Inner {
    db: Arc<redb::Database>,
    tx: mpsc::Sender<Cmd>,
    committed: watch::Receiver<u64>,
    healthy: Arc<AtomicBool>,
    closed: AtomicBool,
    path: PathBuf,
    metrics: Arc<Metrics>,
    queue_cap: usize,
}

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

pub const DB_FILE: &str = "atalaya.redb";

impl Store {
    /// Open (or create) the store in `dir`, run migrations, start the writer.
    pub fn open(
        dir: &Path,
        opts: StoreOptions,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Storage(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(DB_FILE);
        let db = redb::Database::builder()
            .set_cache_size(opts.cache_bytes)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked(dir.to_path_buf()),
                e => StoreError::Storage(format!("{}: {e}", path.display())),
            })?;
        let db = Arc::new(db);
        let counters = migrate::prepare(&db, clock.now())?;
        let last_seq = counters.next_seq;
        let (tx, rx) = mpsc::channel(opts.queue);
        let (committed_tx, committed) = watch::channel(last_seq);
        let healthy = Arc::new(AtomicBool::new(true));
        writer::spawn(writer::WriterCtx {
            db: db.clone(),
            rx,
            committed: committed_tx,
            counters,
            clock,
            max_batch: opts.max_batch.max(1),
            healthy: healthy.clone(),
            metrics: metrics.clone(),
        })?;
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                tx,
                committed,
                healthy,
                closed: AtomicBool::new(false),
                path,
                metrics,
                queue_cap: opts.queue,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Whether the last commit succeeded and the writer is running.
    pub fn healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Relaxed) && !self.inner.closed.load(Ordering::Relaxed)
    }

    /// Commands waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.inner.queue_cap - self.inner.tx.capacity()
    }

    /// Run `f` in the writer's next group commit; resolves once durable.
    ///
    /// `f` must check before it mutates: an `Err` from it means a storage
    /// failure and aborts the whole batch.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&mut Tx<'a>) -> Result<T, StoreError> + Send + 'static,
    {
        let (done, wait) = oneshot::channel();
        let op: Op = Box::new(move |tx| {
            let value = f(tx)?;
            Ok(Box::new(move |committed: Result<(), StoreError>| {
                let _ = done.send(committed.map(|()| value));
            }) as Completion)
        });
        if self.inner.closed.load(Ordering::Relaxed) {
            return Err(StoreError::Closed);
        }
        self.inner
            .tx
            .send(Cmd::Op(op))
            .await
            .map_err(|_| StoreError::Closed)?;
        match wait.await {
            Ok(result) => result,
            // The writer dropped the command: shutting down, or its batch failed.
            Err(_) if self.inner.closed.load(Ordering::Relaxed) => Err(StoreError::Closed),
            Err(_) => Err(StoreError::Storage(
                "the write was aborted with its batch".into(),
            )),
        }
    }

    /// Run `f` on a read snapshot, off the async runtime.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Reader) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|e| StoreError::Storage(format!("read task failed: {e}")))?
    }

    /// Run `f` on a read snapshot on the current thread (CLI, tests, workers
    /// already on a blocking thread).
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Reader) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let rtx = self.inner.db.begin_read()?;
        let reader = Reader::open(rtx)?;
        f(&reader)
    }

    /// The sequence number of the newest durable event.
    pub fn committed_seq(&self) -> u64 {
        *self.inner.committed.borrow()
    }

    /// A receiver that changes whenever new events are durable.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.committed.clone()
    }

    /// Stop taking commands, let the writer finish what is queued, and wait.
    pub async fn shutdown(&self) {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let (done, wait) = oneshot::channel();
        if self.inner.tx.send(Cmd::Shutdown(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Check the cross-table invariants (used after crash tests and by `atalaya check`).
    pub fn verify(&self) -> Result<IntegrityReport, StoreError> {
        self.read_blocking(integrity::verify)
    }
}
