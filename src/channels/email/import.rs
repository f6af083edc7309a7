//! Importers: mbox files and Maildir folders (see `atalaya import`).
//!
//! A source is a sequence of items in a stable order: the messages of an mbox
//! file in file order (split on `From ` lines, `>From ` unescaped, streamed
//! line by line), or the files of a Maildir (`cur/` and `new/`, or a plain
//! folder of message files) sorted by name. The pipeline:
//!
//! ```text
//!  reader thread ──chunks──► prepare (spawn_blocking, N in parallel, order kept)
//!                                 ──► store_mail_batch: one transaction per chunk,
//!                                     with the cursor `import:<canonical path>`
//! ```
//!
//! Invariants:
//! - The cursor (`MailCursor::Import { done }`) is the number of source items
//!   fully handled, in source order, and it is saved in the same transaction
//!   as the chunk it covers; one chunk is written at a time, so a crash or a
//!   Ctrl-C leaves it exactly at the last committed chunk. A re-run skips
//!   `done` items without parsing them; dedupe (Message-ID or SHA-256, done
//!   by the store) covers everything else, so `from_start` is always safe.
//! - An item that cannot be read (a dangling link, an I/O error) is reported
//!   and the cursor stops before the first such item: a re-run retries it
//!   (and the items after it come back as duplicates).
//! - An item larger than the channel's `max_message_bytes` is never held in
//!   memory: it is quarantined as too large with its size.
//! - Memory is bounded: a chunk holds at most `batch` items and about
//!   [`CHUNK_BYTES`] of mail, and only a few chunks are in flight.

use crate::app::email::{MailCursor, MailOutcome, PreparedMail, RawMail, cursor_key};
use crate::app::{App, AppError};
use crate::config::{Config, EmailChannel};
use futures_util::StreamExt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A chunk is cut when its mail reaches this many bytes (or `batch` items).
pub const CHUNK_BYTES: u64 = 32 << 20;

/// What kind of source to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Mbox,
    Maildir,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Mbox => "mbox",
            SourceKind::Maildir => "maildir",
        }
    }
}

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The `[[channel.email]]` to import into.
    pub channel: String,
    /// Mails per transaction.
    pub batch: usize,
    /// Chunks prepared in parallel (parsing, sanitizing, attachment files).
    pub workers: usize,
    /// Ignore the saved position (dedupe still skips what is stored).
    pub from_start: bool,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Set to stop after the chunk being written (Ctrl-C).
    pub stop: Option<Arc<AtomicBool>>,
}

impl ImportOptions {
    pub fn new(channel: &str) -> ImportOptions {
        ImportOptions {
            channel: channel.to_string(),
            batch: 256,
            workers: default_workers(),
            from_start: false,
            progress: false,
            stop: None,
        }
    }
}

/// One preparer per core, at least two (parsing overlaps file reads).
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 16)
}

/// What an import did.
#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    /// The canonical path of the source.
    pub source: PathBuf,
    /// Items in the source (known once it has been read to the end).
    pub items: u64,
    /// Items skipped because the saved position covered them.
    pub skipped: u64,
    /// New messages stored.
    pub imported: u64,
    /// Messages that were already stored.
    pub duplicates: u64,
    pub quarantined: u64,
    pub bounces: u64,
    /// Items that could not be read: `source: reason`.
    pub errors: Vec<String>,
    /// The saved position at the end.
    pub done: u64,
    /// The saved position was beyond the end of the source.
    pub position_beyond_end: bool,
    /// Stopped early (Ctrl-C); the position covers what was stored.
    pub interrupted: bool,
    pub elapsed: Duration,
    /// Time spent waiting for prepared chunks (parsing is the bottleneck
    /// when this is most of `elapsed`).
    pub waited_prepare: Duration,
    /// Time spent in `store_mail_batch` (the writer is the bottleneck when
    /// this is most of `elapsed`).
    pub waited_store: Duration,
}

impl ImportReport {
    /// Items read and handled in this run (not skipped).
    pub fn processed(&self) -> u64 {
        self.imported + self.duplicates + self.quarantined + self.bounces + self.errors.len() as u64
    }

    /// Handled items per second.
    pub fn rate(&self) -> f64 {
        self.processed() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// `imported N, duplicates D, quarantined Q, bounces B, in T s (R mails/s)`.
    pub fn summary(&self) -> String {
        let errors = match self.errors.len() {
            0 => String::new(),
            n => format!(", unreadable {n}"),
        };
        format!(
            "imported {}, duplicates {}, quarantined {}, bounces {}{errors}, in {:.2} s ({:.0} mails/s)",
            self.imported,
            self.duplicates,
            self.quarantined,
            self.bounces,
            self.elapsed.as_secs_f64(),
            self.rate()
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The command is wrong (no such channel, no such file, wrong kind):
    /// nothing was written.
    #[error("{0}")]
    Usage(String),
    /// Reading or storing failed part-way; what was committed stays, and
    /// the position covers it.
    #[error("{0}")]
    Failed(String),
}

impl From<AppError> for ImportError {
    fn from(e: AppError) -> Self {
        ImportError::Failed(e.to_string())
    }
}

/// The email channel to import into: the named one, else the first
/// configured; the error names the configured ones.
pub fn pick_channel<'a>(cfg: &'a Config, name: Option<&str>) -> Result<&'a EmailChannel, String> {
    let all = &cfg.channel.email;
    let names = || {
        all.iter()
            .map(|c| format!("{:?}", c.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        _ if all.is_empty() => Err(
            "no email channel is configured: add a [[channel.email]] section (name, address) \
             to the config file given with --config"
                .into(),
        ),
        None => Ok(&all[0]),
        Some(n) => all.iter().find(|c| c.name == n).ok_or_else(|| {
            format!(
                "--channel {n:?}: no email channel has that name; configured: {}",
                names()
            )
        }),
    }
}

/// The cursor key of an import source.
pub fn import_cursor_key(channel: &str, canonical: &Path) -> String {
    cursor_key(channel, &format!("import:{}", canonical.display()))
}

/// Check the path names a source of `kind`; returns its canonical path.
pub fn check_source(kind: SourceKind, path: &Path) -> Result<PathBuf, ImportError> {
    let canonical = std::fs::canonicalize(path)
        .map_err(|e| ImportError::Usage(format!("{}: {e}", path.display())))?;
    let is_dir = canonical.is_dir();
    match kind {
        SourceKind::Mbox if is_dir => Err(ImportError::Usage(format!(
            "{} is a directory; use `atalaya import maildir` for a Maildir",
            path.display()
        ))),
        SourceKind::Maildir if !is_dir => Err(ImportError::Usage(format!(
            "{} is not a directory; use `atalaya import mbox` for an mbox file",
            path.display()
        ))),
        _ => Ok(canonical),
    }
}

/// One source item on its way to a preparer.
struct Item {
    index: u64,
    source: String,
    size: u64,
    body: Body,
}

enum Body {
    /// An mbox message, read by the reader.
    Bytes(Vec<u8>),
    /// An mbox message larger than `max_message_bytes`: only its header
    /// block was kept.
    TooLarge { headers: Option<Vec<u8>> },
    /// A Maildir file, read by the preparer.
    File(PathBuf),
    /// A Maildir file larger than `max_message_bytes`: the preparer reads
    /// its header block only.
    TooLargeFile(PathBuf),
}

/// Most header bytes kept for a mail too large to read.
const HEAD_MAX: usize = 64 << 10;

/// The header block at the start of `buf` (through the blank line), or as
/// much of it as `buf` has, at most [`HEAD_MAX`] bytes.
fn header_block(buf: &[u8]) -> Option<Vec<u8>> {
    let buf = &buf[..buf.len().min(HEAD_MAX)];
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = buf.windows(3).position(|w| w == b"\n\r\n").map(|i| i + 3);
    let end = match (lf, crlf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(buf.len()),
    };
    (end > 0).then(|| buf[..end].to_vec())
}

/// The header block of a file.
fn read_head(path: &Path) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(HEAD_MAX);
    std::fs::File::open(path)
        .ok()?
        .take(HEAD_MAX as u64)
        .read_to_end(&mut buf)
        .ok()?;
    header_block(&buf)
}

/// Consecutive items; `end` is the index after the last item it covers.
struct Chunk {
    end: u64,
    /// Bytes (mbox) or items (Maildir) of the source behind this chunk.
    progress: u64,
    bytes: u64,
    items: Vec<Item>,
}

struct Prepared {
    end: u64,
    progress: u64,
    mails: Vec<PreparedMail>,
    /// (index, `source: reason`) of the items that could not be read.
    errors: Vec<(u64, String)>,
}

/// Cuts items into chunks and hands them to the pipeline.
struct Chunker {
    tx: mpsc::Sender<Chunk>,
    batch: usize,
    cur: Chunk,
}

impl Chunker {
    fn new(tx: mpsc::Sender<Chunk>, batch: usize) -> Chunker {
        Chunker {
            tx,
            batch: batch.max(1),
            cur: Chunk {
                end: 0,
                progress: 0,
                bytes: 0,
                items: Vec::new(),
            },
        }
    }

    /// Add an item; false when the importer stopped listening.
    fn push(&mut self, item: Item, progress: u64) -> bool {
        self.cur.end = item.index + 1;
        self.cur.progress = progress;
        self.cur.bytes += match item.body {
            Body::Bytes(_) | Body::File(_) => item.size,
            _ => 0,
        };
        self.cur.items.push(item);
        if self.cur.items.len() >= self.batch || self.cur.bytes >= CHUNK_BYTES {
            return self.flush();
        }
        true
    }

    fn flush(&mut self) -> bool {
        if self.cur.items.is_empty() {
            return true;
        }
        let chunk = Chunk {
            end: self.cur.end,
            progress: self.cur.progress,
            bytes: 0,
            items: std::mem::take(&mut self.cur.items),
        };
        self.cur.bytes = 0;
        self.tx.blocking_send(chunk).is_ok()
    }
}

/// The files of a Maildir (`cur/` + `new/`, else the folder itself), sorted
/// by their unique name (the part before `:2,flags`), so a mail moving from
/// `new/` to `cur/` keeps its place. With their sizes.
pub fn maildir_files(dir: &Path) -> std::io::Result<Vec<(PathBuf, u64)>> {
    let subs: Vec<PathBuf> = ["cur", "new"]
        .iter()
        .map(|s| dir.join(s))
        .filter(|p| p.is_dir())
        .collect();
    let folders = if subs.is_empty() {
        vec![dir.to_path_buf()]
    } else {
        subs
    };
    // (unique part, file name, path, size)
    let mut out: Vec<(String, String, PathBuf, u64)> = Vec::new();
    for folder in folders {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            // A dangling link stays in the list: reading it reports the error.
            let size = match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => continue,
                Ok(m) => m.len(),
                Err(_) => 0,
            };
            if name.starts_with('.') {
                continue;
            }
            let unique = name.split(':').next().unwrap_or("").to_string();
            out.push((unique, name, path, size));
        }
    }
    out.sort_unstable();
    Ok(out.into_iter().map(|(_, _, p, s)| (p, s)).collect())
}

/// Hand the Maildir files after `skip` to the pipeline.
fn read_maildir(files: Vec<(PathBuf, u64)>, skip: u64, max: u64, mut out: Chunker) {
    for (i, (path, size)) in files.into_iter().enumerate().skip(skip as usize) {
        let item = Item {
            index: i as u64,
            source: format!("maildir {}", path.display()),
            size,
            body: if size > max {
                Body::TooLargeFile(path)
            } else {
                Body::File(path)
            },
        };
        if !out.push(item, i as u64 + 1) {
            return;
        }
    }
    out.flush();
}

/// An mbox message being read.
struct Entry {
    offset: u64,
    buf: Vec<u8>,
    size: u64,
    keep: bool,
    too_large: bool,
    /// The header block of a mail too large to keep.
    head: Option<Vec<u8>>,
    /// Started by a `From ` line (the text before the first one is an item
    /// only when it is not blank).
    from_line: bool,
    blank: bool,
}

impl Entry {
    fn new(offset: u64, keep: bool, from_line: bool) -> Entry {
        Entry {
            offset,
            buf: Vec::new(),
            size: 0,
            keep,
            too_large: false,
            head: None,
            from_line,
            blank: true,
        }
    }

    fn push(&mut self, line: &[u8], max: u64) {
        // mboxrd/mboxo: `>From `, `>>From `… lose one `>`.
        let gt = line.iter().take_while(|b| **b == b'>').count();
        let line = if gt > 0 && line[gt..].starts_with(b"From ") {
            &line[1..]
        } else {
            line
        };
        self.size += line.len() as u64;
        if self.blank && !self.from_line {
            self.blank = line.iter().all(|b| b.is_ascii_whitespace());
        }
        if !self.keep || self.too_large {
            return;
        }
        if self.size > max {
            self.too_large = true;
            self.buf
                .extend_from_slice(&line[..line.len().min(HEAD_MAX)]);
            self.head = header_block(&self.buf);
            self.buf = Vec::new();
        } else {
            self.buf.extend_from_slice(line);
        }
    }

    /// Whether this is an item at all.
    fn counts(&self) -> bool {
        self.from_line || !self.blank
    }

    fn into_item(mut self, index: u64, path: &Path) -> Item {
        // The blank line that separates messages is the mbox's, not the mail's.
        if self.buf.ends_with(b"\r\n\r\n") {
            self.buf.truncate(self.buf.len() - 2);
            self.size -= 2;
        } else if self.buf.ends_with(b"\n\n") {
            self.buf.pop();
            self.size -= 1;
        }
        Item {
            index,
            source: format!(
                "mbox {} message {} (byte {})",
                path.display(),
                index + 1,
                self.offset
            ),
            size: self.size,
            body: if self.too_large {
                Body::TooLarge { headers: self.head }
            } else {
                Body::Bytes(self.buf)
            },
        }
    }
}

/// Stream an mbox, handing the messages after `skip` to the pipeline (the
/// skipped ones are scanned, not kept). Returns how many items it has.
fn read_mbox(path: &Path, skip: u64, max: u64, mut out: Chunker) -> Result<u64, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::with_capacity(8 << 10);
    let (mut pos, mut index) = (0u64, 0u64);
    let mut cur = Entry::new(0, skip == 0, false);
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("{}: byte {pos}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        let start = pos;
        pos += n as u64;
        if line.starts_with(b"From ") {
            if cur.counts() {
                let keep = cur.keep;
                let item = cur.into_item(index, path);
                if keep && !out.push(item, start) {
                    return Ok(index + 1);
                }
                index += 1;
            }
            cur = Entry::new(start, index >= skip, true);
        } else {
            cur.push(&line, max);
        }
    }
    if cur.counts() {
        if cur.keep {
            out.push(cur.into_item(index, path), pos);
        }
        index += 1;
    }
    out.flush();
    Ok(index)
}

/// Read a Maildir file, unless it grew beyond `max` since it was listed.
fn read_file(path: &Path, max: u64) -> std::io::Result<(u64, Option<Vec<u8>>)> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > max {
        return Ok((size, None));
    }
    let mut buf = Vec::with_capacity(size as usize + 1);
    file.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Ok((buf.len() as u64, None));
    }
    Ok((buf.len() as u64, Some(buf)))
}

/// Read what the reader left to the preparer, parse, sanitize, save
/// attachments: everything but the store.
fn prepare_chunk(app: &App, ch: &EmailChannel, chunk: Chunk) -> Prepared {
    let mut mails = Vec::with_capacity(chunk.items.len());
    let mut errors = Vec::new();
    for item in chunk.items {
        let (size, raw, headers) = match item.body {
            Body::Bytes(b) => (item.size, Some(b), None),
            Body::TooLarge { headers } => (item.size, None, headers),
            Body::TooLargeFile(p) => (item.size, None, read_head(&p)),
            Body::File(p) => match read_file(&p, ch.max_message_bytes) {
                Ok((size, Some(b))) => (size, Some(b), None),
                // It grew beyond the limit since it was listed.
                Ok((size, None)) => (size, None, read_head(&p)),
                Err(e) => {
                    errors.push((item.index, format!("{}: {e}", item.source)));
                    continue;
                }
            },
        };
        let raw = RawMail {
            source: item.source,
            size,
            raw,
            headers,
        };
        mails.push(app.prepare_mail(ch, raw));
    }
    Prepared {
        end: chunk.end,
        progress: chunk.progress,
        mails,
        errors,
    }
}

fn progress_bar(enabled: bool, kind: SourceKind, len: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let template = match kind {
        SourceKind::Mbox => "{bar:40} {bytes}/{total_bytes}  {msg}  eta {eta}",
        SourceKind::Maildir => "{bar:40} {pos}/{len} files  {msg}  eta {eta}",
    };
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Import `path` into the channel `opts.channel` of `app`, resuming after
/// the saved position unless `opts.from_start`.
///
/// Run it with the server stopped: the App must be the store's only user.
/// Its channel should have `acknowledge = false` (the CLI makes sure):
/// history must not trigger acknowledgements.
pub async fn import(
    app: Arc<App>,
    kind: SourceKind,
    path: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let ch = app
        .config
        .email_channel(&opts.channel)
        .cloned()
        .ok_or_else(|| ImportError::Usage(format!("no email channel named {:?}", opts.channel)))?;
    let canonical = check_source(kind, path)?;
    let key = import_cursor_key(&ch.name, &canonical);
    let saved = match app.mail_cursor(&key).await? {
        MailCursor::Import { done } if !opts.from_start => done,
        _ => 0,
    };
    let max = ch.max_message_bytes;
    let workers = opts.workers.max(1);
    let (tx, mut rx) = mpsc::channel::<Chunk>(workers);
    let chunker = Chunker::new(tx, opts.batch);
    let started = Instant::now();
    let (bar, known_items, reader) = match kind {
        SourceKind::Mbox => {
            let len = std::fs::metadata(&canonical).map(|m| m.len()).unwrap_or(0);
            let p = canonical.clone();
            let reader = std::thread::spawn(move || read_mbox(&p, saved, max, chunker));
            (progress_bar(opts.progress, kind, len), None, reader)
        }
        SourceKind::Maildir => {
            let files = maildir_files(&canonical)
                .map_err(|e| ImportError::Usage(format!("{}: {e}", canonical.display())))?;
            let n = files.len() as u64;
            let reader = std::thread::spawn(move || {
                read_maildir(files, saved, max, chunker);
                Ok(n)
            });
            (progress_bar(opts.progress, kind, n), Some(n), reader)
        }
    };
    let mut report = ImportReport {
        source: canonical.clone(),
        done: saved,
        ..Default::default()
    };
    // Prepare `workers` chunks at once, in order, overlapping the writes.
    let chunks = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut prepared = chunks
        .map(|chunk| {
            let (app, ch) = (app.clone(), ch.clone());
            tokio::task::spawn_blocking(move || prepare_chunk(&app, &ch, chunk))
        })
        .buffered(workers + 1);
    let mut first_error: Option<u64> = None;
    let mut failure = None;
    let mut last_draw = Instant::now();
    loop {
        let t = Instant::now();
        let Some(next) = prepared.next().await else {
            break;
        };
        report.waited_prepare += t.elapsed();
        let batch = match next {
            Ok(b) => b,
            Err(e) => {
                failure = Some(format!("a preparer failed: {e}"));
                break;
            }
        };
        for (index, e) in batch.errors {
            first_error.get_or_insert(index);
            bar.suspend(|| eprintln!("cannot read {e}"));
            report.errors.push(e);
        }
        // The position never passes an item that could not be read.
        let done = first_error.unwrap_or(batch.end);
        let cursor = (done != report.done).then(|| (key.clone(), MailCursor::Import { done }));
        let t = Instant::now();
        let stored = app.store_mail_batch(&ch.name, batch.mails, cursor).await;
        report.waited_store += t.elapsed();
        match stored {
            Ok(outcomes) => {
                for o in outcomes {
                    match o {
                        MailOutcome::Stored(s) if s.duplicate => report.duplicates += 1,
                        MailOutcome::Stored(_) => report.imported += 1,
                        MailOutcome::Bounce { .. } => report.bounces += 1,
                        MailOutcome::Quarantined { .. } => report.quarantined += 1,
                    }
                }
                report.done = done;
            }
            Err(e) => {
                failure = Some(format!("storing failed: {e}"));
                break;
            }
        }
        bar.set_position(batch.progress);
        if last_draw.elapsed() >= Duration::from_millis(100) {
            last_draw = Instant::now();
            let n = report.processed();
            let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("{n} mails  {rate:.0} mails/s"));
        }
        if opts
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            report.interrupted = true;
            break;
        }
    }
    // Stop the reader (it sees the closed channel) and collect its count.
    drop(prepared);
    let read = tokio::task::spawn_blocking(move || reader.join())
        .await
        .map_err(|e| ImportError::Failed(e.to_string()))?
        .map_err(|_| ImportError::Failed("the reader thread panicked".into()))?;
    bar.finish_and_clear();
    report.elapsed = started.elapsed();
    match read {
        Ok(items) => report.items = known_items.unwrap_or(items),
        Err(e) if failure.is_none() && !report.interrupted => failure = Some(e),
        Err(_) => {}
    }
    report.skipped = saved.min(report.items);
    report.position_beyond_end = saved > report.items && !report.interrupted && failure.is_none();
    match failure {
        Some(f) => Err(ImportError::Failed(format!(
            "{f} (after {}; the saved position covers {} items: run the same command again to continue)",
            report.summary(),
            report.done
        ))),
        None => Ok(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (index, bytes or None when too large)
    type Split = Vec<(u64, Option<Vec<u8>>)>;

    fn split(mbox: &[u8], skip: u64, max: u64) -> (u64, Split) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.mbox");
        std::fs::write(&path, mbox).unwrap();
        let (tx, mut rx) = mpsc::channel(1000);
        let n = read_mbox(&path, skip, max, Chunker::new(tx, 2)).unwrap();
        let mut out = Vec::new();
        while let Ok(c) = rx.try_recv() {
            for i in c.items {
                let raw = match i.body {
                    Body::Bytes(b) => Some(b),
                    _ => None,
                };
                out.push((i.index, raw));
            }
        }
        (n, out)
    }

    #[test]
    fn mbox_splits_unescapes_and_skips() {
        let mbox = b"From a@x Mon Jan  1 00:00:00 2024\nSubject: one\n\n>From here\n>>From there\n> From not\n\nFrom b@x Mon Jan  1 00:00:00 2024\r\nSubject: two\r\n\r\nbody\r\n\r\nFrom c@x Mon Jan  1 00:00:00 2024\nSubject: three\n\nlast";
        let (n, items) = split(mbox, 0, 1 << 20);
        assert_eq!(n, 3);
        let texts: Vec<String> = items
            .iter()
            .map(|(_, r)| String::from_utf8(r.clone().unwrap()).unwrap())
            .collect();
        assert_eq!(
            texts,
            [
                "Subject: one\n\nFrom here\n>From there\n> From not\n",
                "Subject: two\r\n\r\nbody\r\n",
                "Subject: three\n\nlast"
            ]
        );
        let (n, items) = split(mbox, 2, 1 << 20);
        assert_eq!(n, 3);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].0, 2);
        // Too large: not kept.
        let (_, items) = split(mbox, 0, 20);
        assert_eq!(items[0].1, None);
        assert!(items[2].1.is_some());
    }

    #[test]
    fn header_blocks() {
        assert_eq!(
            header_block(b"A: 1\r\nB: 2\r\n\r\nbody\n\nmore").as_deref(),
            Some(&b"A: 1\r\nB: 2\r\n\r\n"[..])
        );
        assert_eq!(
            header_block(b"A: 1\n\nbody").as_deref(),
            Some(&b"A: 1\n\n"[..])
        );
        assert_eq!(
            header_block(b"A: 1\nB: par").as_deref(),
            Some(&b"A: 1\nB: par"[..])
        );
        assert_eq!(header_block(b""), None);
        let mut e = Entry::new(0, true, true);
        for line in ["Subject: big\n", "\n", "0123456789\n", "0123456789\n"] {
            e.push(line.as_bytes(), 20);
        }
        let item = e.into_item(0, Path::new("x"));
        assert_eq!(item.size, 36);
        match item.body {
            Body::TooLarge { headers } => {
                assert_eq!(headers.as_deref(), Some(&b"Subject: big\n\n"[..]))
            }
            _ => panic!("too large"),
        }
    }

    #[test]
    fn text_before_the_first_from_line() {
        let (n, items) = split(b"\n\nFrom a@x\nSubject: a\n\nx\n", 0, 1 << 20);
        assert_eq!((n, items.len()), (1, 1));
        let (n, _) = split(b"Subject: bare eml\n\nhello\n", 0, 1 << 20);
        assert_eq!(n, 1);
        let (n, _) = split(b"", 0, 1 << 20);
        assert_eq!(n, 0);
    }

    #[test]
    fn maildir_order_ignores_flags_and_folder() {
        let dir = tempfile::tempdir().unwrap();
        for s in ["cur", "new", "tmp"] {
            std::fs::create_dir(dir.path().join(s)).unwrap();
        }
        std::fs::write(dir.path().join("cur/2.b:2,S"), "x").unwrap();
        std::fs::write(dir.path().join("new/1.a"), "x").unwrap();
        std::fs::write(dir.path().join("new/3.c"), "x").unwrap();
        std::fs::write(dir.path().join("tmp/0.z"), "x").unwrap();
        std::fs::write(dir.path().join("cur/.hidden"), "x").unwrap();
        let names: Vec<String> = maildir_files(dir.path())
            .unwrap()
            .into_iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["1.a", "2.b:2,S", "3.c"]);
    }
}
