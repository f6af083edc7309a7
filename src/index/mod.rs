//! Full-text search: the only module that imports tantivy. The index is
//! derived data that follows the store's event log from its watermark (kept
//! in the commit payload); redb stays the source of truth.
//!
//! * One writer: the follower task reads events after the watermark, and
//!   for every conversation they touch replaces that conversation's document
//!   (so replaying events is harmless). It commits at most every
//!   [`COMMIT_INTERVAL`], with the last event's sequence as the payload, and
//!   reloads the reader, so a new message is searchable well within 250 ms.
//! * After kill -9 the uncommitted tail is replayed from the watermark. A
//!   missing or corrupt index, or one of another [`schema::SCHEMA_VERSION`],
//!   is rebuilt from redb when opened; `atalaya reindex` rebuilds on demand.
//! * Memory is bounded: one indexing thread with [`WRITER_BUDGET`] while
//!   serving; rebuilds use two threads and a larger budget, then drop it.

pub mod build;
pub mod query;
pub mod schema;

use crate::domain::*;
use crate::store::{Reader, Store, StoreError};
use schema::{ConvData, Fields};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tantivy::collector::{Count, TopDocs};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};

/// The writer's memory while serving (tantivy's minimum per thread is 15 MB).
pub const WRITER_BUDGET: usize = 32 << 20;
/// A rebuild's memory (two threads).
pub const REBUILD_BUDGET: usize = 192 << 20;
/// At most this often a commit (it bounds the segment count under load).
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(100);
/// Events read per step.
const EVENT_BATCH: usize = 2_000;
/// Conversations read per rebuild chunk.
const REBUILD_CHUNK: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index: {0}")]
    Store(#[from] StoreError),
    #[error("search index: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Query(#[from] query::ParseError),
}

/// What `open` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    /// A usable index, caught up to this event.
    Resumed(u64),
    /// Missing, unreadable or of another schema version: rebuilt now.
    Rebuilt { why: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Payload {
    v: u32,
    seq: u64,
}

pub struct SearchIndex {
    index: Index,
    fields: Fields,
    reader: IndexReader,
    /// `None` only while a rebuild holds its own bulk writer.
    writer: Mutex<Option<IndexWriter>>,
    store: Store,
    dir: PathBuf,
    /// The last event whose effects are committed (searchable).
    committed: AtomicU64,
    /// The last event whose effects are in the writer (maybe uncommitted).
    applied: AtomicU64,
    last_commit: Mutex<Instant>,
}

/// Who is searching: agents see only their teams' conversations, the
/// unassigned-to-a-team ones and their own (as `app::perm::can_see`).
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: UserId,
    /// `None`: sees everything.
    pub teams: Option<Vec<TeamId>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Relevance,
    Newest,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub query: query::Node,
    pub viewer: Viewer,
    pub offset: usize,
    pub limit: usize,
    pub sort: Sort,
    pub facets: bool,
}

/// Counts of matching conversations per value.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Facets {
    pub channel: Vec<(String, u64)>,
    pub status: Vec<(String, u64)>,
    pub tag: Vec<(String, u64)>,
}

pub struct Results {
    /// Matching conversations.
    pub total: usize,
    pub hits: Vec<(ConversationId, f32)>,
    pub facets: Option<Facets>,
    pub highlighter: Highlighter,
}

/// Picks the best-matching message of a conversation and highlights it.
pub struct Highlighter {
    gens: [tantivy::snippet::SnippetGenerator; 2],
}

/// A highlighted excerpt: plain text and the byte ranges to mark.
#[derive(Clone, Debug, PartialEq)]
pub struct Snippet {
    pub text: String,
    pub marks: Vec<std::ops::Range<usize>>,
}

impl Highlighter {
    /// The message (of `messages`) that best matches, with its excerpt;
    /// `None` when no message has a highlighted term.
    pub fn best<'a>(
        &self,
        messages: impl Iterator<Item = (u64, &'a str)>,
    ) -> Option<(u64, Snippet)> {
        let mut best: Option<(usize, u64, Snippet)> = None;
        for (id, text) in messages {
            // The generator of the field the message was indexed in first
            // (`gens` is Spanish, English); the other only when it finds
            // nothing (the guess at indexing time also used the contact).
            let first = usize::from(schema::is_english(text, None));
            let mut s = self.gens[first].snippet(text);
            if s.highlighted().is_empty() {
                s = self.gens[1 - first].snippet(text);
            }
            let n = s.highlighted().len();
            if n > 0 && best.as_ref().is_none_or(|b| n >= b.0) {
                best = Some((
                    n,
                    id,
                    Snippet {
                        text: s.fragment().to_string(),
                        marks: s.highlighted().to_vec(),
                    },
                ));
            }
        }
        best.map(|(_, id, s)| (id, s))
    }
}

fn read_payload(index: &Index) -> Option<Payload> {
    let metas = index.load_metas().ok()?;
    serde_json::from_str(metas.payload.as_deref()?).ok()
}

fn conv_data(r: &Reader, conv: Conversation) -> Result<ConvData, StoreError> {
    let messages = r.conversation_messages(conv.id)?;
    let identity = r.identity(conv.identity)?;
    let contact = r.contact(conv.contact)?;
    let team = match conv.team {
        Some(t) => r.team(t)?,
        None => None,
    };
    Ok(ConvData {
        conv,
        messages,
        identity,
        contact,
        team,
    })
}

impl SearchIndex {
    /// Open the index under `dir`, rebuilding it from the store when it is
    /// missing, unreadable or of another schema version.
    pub fn open(
        dir: &Path,
        store: Store,
        progress: &dyn Fn(u64, u64),
    ) -> Result<(Arc<SearchIndex>, Opened), IndexError> {
        let (schema, fields) = schema::schema();
        let found = if dir.join("meta.json").exists() {
            match Index::open_in_dir(dir) {
                Ok(index) => match read_payload(&index) {
                    Some(p) if p.v == schema::SCHEMA_VERSION && index.schema() == schema => {
                        Ok((index, p.seq))
                    }
                    Some(p) if p.v != schema::SCHEMA_VERSION => Err(format!(
                        "schema version {} (this binary: {})",
                        p.v,
                        schema::SCHEMA_VERSION
                    )),
                    _ => Err("the index has another schema or no watermark".to_string()),
                },
                Err(e) => Err(format!("unreadable: {e}")),
            }
        } else {
            Err("missing".to_string())
        };
        let (index, opened) = match found {
            Ok((index, seq)) => (index, Opened::Resumed(seq)),
            Err(why) => {
                if dir.exists() {
                    std::fs::remove_dir_all(dir)?;
                }
                std::fs::create_dir_all(dir)?;
                (Index::create_in_dir(dir, schema)?, Opened::Rebuilt { why })
            }
        };
        schema::register(index.tokenizers());
        let writer = index.writer_with_num_threads(1, WRITER_BUDGET)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let seq = match &opened {
            Opened::Resumed(s) => *s,
            Opened::Rebuilt { .. } => 0,
        };
        let this = Arc::new(SearchIndex {
            index,
            fields,
            reader,
            writer: Mutex::new(Some(writer)),
            store,
            dir: dir.to_path_buf(),
            committed: AtomicU64::new(seq),
            applied: AtomicU64::new(seq),
            last_commit: Mutex::new(Instant::now()),
        });
        if let Opened::Rebuilt { why } = &opened {
            tracing::info!(dir = %dir.display(), why, "building the search index from the store");
            this.rebuild(progress)?;
        }
        Ok((this, opened))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last event whose effects are searchable.
    pub fn watermark(&self) -> u64 {
        self.committed.load(Ordering::SeqCst)
    }

    /// Number of segments (bounded by the merge policy).
    pub fn segment_count(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Number of indexed conversations.
    pub fn doc_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, Option<IndexWriter>> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Throw the documents away and index every conversation in the store.
    /// `progress(done, total)` is called as conversations are read.
    pub fn rebuild(&self, progress: &dyn Fn(u64, u64)) -> Result<u64, IndexError> {
        let mut guard = self.lock_writer();
        // One writer per index: the bulk one (two threads, a bigger budget)
        // takes the serving one's place until the rebuild is committed.
        drop(guard.take());
        let mut bulk: IndexWriter = self.index.writer_with_num_threads(2, REBUILD_BUDGET)?;
        let (seq, total, staff) = self
            .store
            .read_blocking(|r| Ok((r.last_event_seq()?, r.conversation_count()?, r.users()?)))?;
        bulk.delete_all_documents()?;
        let mut after = 0u64;
        let mut done = 0u64;
        progress(0, total);
        loop {
            let chunk = self.store.read_blocking(|r| {
                let convs = r.conversations_after(after, REBUILD_CHUNK)?;
                convs
                    .into_iter()
                    .map(|c| conv_data(r, c))
                    .collect::<Result<Vec<_>, _>>()
            })?;
            let Some(last) = chunk.last() else { break };
            after = last.conv.id.0;
            for d in &chunk {
                bulk.add_document(schema::document(&self.fields, d, &staff))?;
            }
            done += chunk.len() as u64;
            progress(done, total);
        }
        self.commit_with(&mut bulk, seq)?;
        bulk.wait_merging_threads()?;
        *guard = Some(self.index.writer_with_num_threads(1, WRITER_BUDGET)?);
        self.applied.store(seq, Ordering::SeqCst);
        Ok(done)
    }

    fn commit_with(&self, writer: &mut IndexWriter, seq: u64) -> Result<(), IndexError> {
        let payload = serde_json::json!({"v": schema::SCHEMA_VERSION, "seq": seq}).to_string();
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        self.reader.reload()?;
        self.committed.store(seq, Ordering::SeqCst);
        *self.last_commit.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        Ok(())
    }

    /// Apply the events after the applied watermark (one batch) and commit
    /// when the last commit is old enough. Returns how long to wait before
    /// calling again: zero when more events are waiting, the rest of the
    /// commit interval when a commit is due, `None` when idle.
    pub fn step(&self) -> Result<Option<Duration>, IndexError> {
        let applied = self.applied.load(Ordering::SeqCst);
        // One snapshot: the events, and the state of the conversations
        // they touch (staff only when there is something to index).
        let (last, full, data, staff) = self.store.read_blocking(|r| {
            let events = r.events_after(applied, EVENT_BATCH)?;
            let Some(last) = events.last().map(|e| e.seq) else {
                return Ok((None, false, Vec::new(), Vec::new()));
            };
            let convs: BTreeSet<ConversationId> = events
                .iter()
                .filter_map(|e| e.kind.conversation())
                .collect();
            let mut data = Vec::with_capacity(convs.len());
            for id in convs {
                if let Some(c) = r.conversation(id)? {
                    data.push(conv_data(r, c)?);
                }
            }
            let staff = if data.is_empty() {
                Vec::new()
            } else {
                r.users()?
            };
            Ok((Some(last), events.len() >= EVENT_BATCH, data, staff))
        })?;
        let mut guard = self.lock_writer();
        let Some(writer) = guard.as_mut() else {
            return Ok(Some(COMMIT_INTERVAL));
        };
        if let Some(last) = last {
            for d in &data {
                writer.delete_term(Term::from_field_u64(self.fields.conv_id, d.conv.id.0));
                writer.add_document(schema::document(&self.fields, d, &staff))?;
            }
            self.applied.store(last, Ordering::SeqCst);
        }
        let applied = self.applied.load(Ordering::SeqCst);
        if applied == self.committed.load(Ordering::SeqCst) {
            return Ok(if full { Some(Duration::ZERO) } else { None });
        }
        let since = self
            .last_commit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed();
        if since >= COMMIT_INTERVAL {
            self.commit_with(writer, applied)?;
            return Ok(if full { Some(Duration::ZERO) } else { None });
        }
        Ok(Some(if full {
            Duration::ZERO
        } else {
            COMMIT_INTERVAL - since
        }))
    }

    /// Commit whatever is applied (at shutdown).
    pub fn flush(&self) -> Result<(), IndexError> {
        let applied = self.applied.load(Ordering::SeqCst);
        let mut guard = self.lock_writer();
        if let Some(w) = guard.as_mut()
            && applied != self.committed.load(Ordering::SeqCst)
        {
            self.commit_with(w, applied)?;
        }
        Ok(())
    }

    /// Follow the event log until `stop` turns true.
    pub async fn follow(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut events = self.store.subscribe();
        let mut backoff = Duration::from_millis(200);
        loop {
            let this = self.clone();
            let next = tokio::task::spawn_blocking(move || this.step()).await;
            let wait = match next {
                Ok(Ok(w)) => {
                    backoff = Duration::from_millis(200);
                    w
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "search index: step failed; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    Some(backoff)
                }
                Err(e) => {
                    tracing::error!(error = %e, "search index: step panicked; retrying");
                    Some(backoff)
                }
            };
            if *stop.borrow() {
                break;
            }
            match wait {
                Some(d) if d.is_zero() => continue,
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = stop.changed() => break,
                    }
                }
                None => {
                    tokio::select! {
                        r = events.changed() => if r.is_err() { break },
                        _ = stop.changed() => break,
                    }
                }
            }
        }
        let this = self.clone();
        let _ = tokio::task::spawn_blocking(move || this.close()).await;
    }

    /// Commit what is applied, then let the writer finish its background
    /// merges: nothing writes in the index directory once this returns
    /// (`serve --demo` deletes its data directory right after).
    fn close(&self) -> Result<(), IndexError> {
        self.flush()?;
        let writer = self.lock_writer().take();
        if let Some(w) = writer {
            w.wait_merging_threads()?;
        }
        Ok(())
    }

    /// Run a search.
    pub fn search(&self, req: &Request) -> Result<Results, IndexError> {
        let searcher = self.reader.searcher();
        let mut built = build::Builder::new(&self.index, &self.fields, &req.viewer);
        let q = built.query(&req.query);
        let q = built.restrict(q);
        let limit = req.limit.max(1);
        let (total, hits) = match req.sort {
            Sort::Relevance => {
                let top = TopDocs::with_limit(limit)
                    .and_offset(req.offset)
                    .order_by_score();
                let (docs, total) = searcher.search(&*q, &(top, Count))?;
                (total, docs)
            }
            Sort::Newest => {
                let top = TopDocs::with_limit(limit)
                    .and_offset(req.offset)
                    .order_by_fast_field::<i64>("last_at", tantivy::Order::Desc);
                let (docs, total) = searcher.search(&*q, &(top, Count))?;
                (total, docs.into_iter().map(|(_, a)| (0.0, a)).collect())
            }
        };
        let mut out = Vec::with_capacity(hits.len());
        for (score, addr) in hits {
            let col = searcher
                .segment_reader(addr.segment_ord)
                .fast_fields()
                .u64("conv_id")?;
            if let Some(id) = col.first(addr.doc_id) {
                out.push((ConversationId(id), score));
            }
        }
        let facets = if req.facets {
            Some(build::facets(&searcher, &*q)?)
        } else {
            None
        };
        let generator = |field| {
            let mut g = tantivy::snippet::SnippetGenerator::create(&searcher, &*q, field)?;
            g.set_max_num_chars(160);
            Ok::<_, tantivy::TantivyError>(g)
        };
        let gens = [
            generator(self.fields.body_es)?,
            generator(self.fields.body_en)?,
        ];
        Ok(Results {
            total,
            hits: out,
            facets,
            highlighter: Highlighter { gens },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{AuthorProfile, InboundMessage, IngestRules};

    fn store(dir: &Path) -> Store {
        Store::open(
            dir,
            crate::store::StoreOptions::default(),
            Arc::new(SystemClock),
            Arc::new(crate::metrics::Metrics::default()),
        )
        .unwrap()
    }

    async fn ingest(store: &Store, id: &str, text: &str) {
        let rules = IngestRules {
            reopen_window_ms: 0,
            max_text_bytes: 1 << 16,
        };
        let m = InboundMessage {
            channel: "api".into(),
            kind: ChannelKind::Api,
            external_id: id.into(),
            thread: Some(id.into()),
            author: AuthorProfile {
                handle: format!("@{id}"),
                ..Default::default()
            },
            text: text.into(),
            html: None,
            subject: None,
            attachments: vec![],
            public: false,
            sent_at: None,
        };
        let m = crate::ingest::prepare(m, &rules).unwrap();
        store
            .write(move |tx| crate::ingest::apply(tx, m, &rules))
            .await
            .unwrap();
    }

    fn total(idx: &SearchIndex, q: &str) -> usize {
        let req = Request {
            query: query::parse(q).unwrap(),
            viewer: Viewer {
                user: UserId(1),
                teams: None,
            },
            offset: 0,
            limit: 10,
            sort: Sort::Relevance,
            facets: false,
        };
        idx.search(&req).unwrap().total
    }

    /// A missing, corrupt or other-version index is rebuilt from the store;
    /// a current one resumes from its watermark and replays what followed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rebuilt_when_missing_corrupt_or_stale_and_resumed_otherwise() {
        let tmp = tempfile::tempdir().unwrap();
        let st = store(&tmp.path().join("data"));
        ingest(&st, "a", "la factura de marzo").await;
        let dir = tmp.path().join("index");
        let open = |why: &str| {
            let (idx, opened) = SearchIndex::open(&dir, st.clone(), &|_, _| {}).unwrap();
            match (&opened, why) {
                (Opened::Resumed(_), "resumed") => {}
                (Opened::Rebuilt { why: w }, want) if w.contains(want) => {}
                other => panic!("expected {why}, got {other:?}"),
            }
            idx
        };
        let idx = open("missing");
        assert_eq!(total(&idx, "factura"), 1);
        let seq = idx.watermark();
        assert!(seq > 0);
        drop(idx);
        // Written after the last commit: replayed from the watermark.
        ingest(&st, "b", "otra factura").await;
        let idx = open("resumed");
        assert_eq!(total(&idx, "factura"), 1, "not yet replayed");
        while idx.step().unwrap().is_some() {}
        idx.flush().unwrap();
        assert_eq!(total(&idx, "factura"), 2, "replayed after the watermark");
        drop(idx);
        // Another schema version in the payload.
        let meta = dir.join("meta.json");
        let text = std::fs::read_to_string(&meta).unwrap();
        let stale = text.replace(
            &format!("\\\"v\\\":{}", schema::SCHEMA_VERSION),
            "\\\"v\\\":0",
        );
        assert_ne!(stale, text, "{text}");
        std::fs::write(&meta, stale).unwrap();
        let idx = open("schema version 0");
        assert_eq!(total(&idx, "factura"), 2);
        drop(idx);
        // Garbage.
        std::fs::write(&meta, b"{not json").unwrap();
        let idx = open("unreadable");
        assert_eq!(total(&idx, "factura"), 2);
    }
}
