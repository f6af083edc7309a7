//! `atalaya bench ...`: measurements on a generated, seeded corpus. Numbers
//! are printed, never asserted.

pub mod scheduler;
pub mod search;
pub mod triage;

use crate::corpus::{Corpus, CorpusMessage};
use crate::domain::{ChannelKind, SystemClock, Ts};
use crate::ingest::{self, AuthorProfile, InboundMessage, IngestRules};
use crate::metrics::Metrics;
use crate::store::{Store, StoreOptions};
use futures_util::StreamExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    /// Messages to ingest.
    #[arg(long, default_value_t = 100_000)]
    pub messages: usize,
    /// Concurrent producers.
    #[arg(long, default_value_t = 8)]
    pub producers: usize,
    /// Messages each producer keeps in flight (its batch).
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Corpus seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// redb page cache in MiB.
    #[arg(long, default_value_t = 256)]
    pub cache_mb: usize,
    /// Data directory to write to (default: a temporary directory).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// An inbound message from a corpus message.
pub fn to_inbound(m: CorpusMessage) -> InboundMessage {
    InboundMessage {
        kind: ChannelKind::parse(m.channel).unwrap_or(ChannelKind::Api),
        channel: m.channel.to_string(),
        external_id: m.external_id,
        thread: Some(m.thread),
        author: AuthorProfile {
            handle: m.handle,
            name: Some(m.name),
            email: m.email,
            followers: Some(m.followers),
            verified: m.verified,
            ..Default::default()
        },
        text: m.text,
        html: None,
        subject: m.subject,
        attachments: vec![],
        public: matches!(m.channel, "x" | "facebook" | "mastodon"),
        sent_at: Some(Ts(m.sent_at_ms)),
    }
}

/// Push `msgs` through prepare + the writer, `concurrency` at a time,
/// ticking `bar` (refused messages are skipped).
async fn ingest_all(
    store: &Store,
    msgs: Vec<InboundMessage>,
    rules: &IngestRules,
    bar: &indicatif::ProgressBar,
    concurrency: usize,
) {
    futures_util::stream::iter(msgs)
        .map(|m| {
            let (store, rules) = (store.clone(), *rules);
            async move {
                let m = ingest::prepare(m, &rules).ok()?;
                store
                    .write(move |tx| ingest::apply(tx, m, &rules))
                    .await
                    .ok()
            }
        })
        .buffer_unordered(concurrency)
        .for_each(|_| async { bar.inc(1) })
        .await;
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn fail(message: String) -> crate::cli::Failure {
    crate::cli::Failure { code: 1, message }
}

/// The bench's data directory: the one given, or a temporary one (kept
/// alive by the returned guard).
fn data_dir(
    given: Option<&PathBuf>,
) -> Result<(PathBuf, Option<tempfile::TempDir>), crate::cli::Failure> {
    match given {
        Some(d) => Ok((d.clone(), None)),
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("atalaya-bench")
                .tempdir()
                .map_err(|e| fail(e.to_string()))?;
            Ok((tmp.path().to_path_buf(), Some(tmp)))
        }
    }
}

pub async fn ingest(args: IngestArgs) -> Result<(), crate::cli::Failure> {
    let (dir, _tmp) = data_dir(args.data.as_ref())?;
    let metrics = Arc::new(Metrics::default());
    let store = Store::open(
        &dir,
        StoreOptions::default(),
        Arc::new(SystemClock),
        metrics.clone(),
    )
    .map_err(|e| fail(e.to_string()))?;
    let rules = IngestRules {
        reopen_window_ms: 7 * 86_400_000,
        max_text_bytes: 64 << 10,
    };
    let end = Ts::from_jiff(jiff::Timestamp::now()).0;
    eprintln!(
        "generating {} messages (seed {})…",
        args.messages, args.seed
    );
    let msgs: Vec<InboundMessage> = Corpus::new(args.seed, end)
        .take(args.messages)
        .map(to_inbound)
        .map(|m| ingest::prepare(m, &rules))
        .collect::<Result<_, _>>()
        .map_err(|e| fail(e.to_string()))?;
    let bar = indicatif::ProgressBar::new(msgs.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} msgs  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let producers = args.producers.max(1);
    let mut chunks: Vec<Vec<InboundMessage>> = (0..producers).map(|_| Vec::new()).collect();
    for (i, m) in msgs.into_iter().enumerate() {
        chunks[i % producers].push(m);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (store, bar) = (store.clone(), bar.clone());
        let batch = args.batch.max(1);
        tasks.push(tokio::spawn(async move {
            futures_util::stream::iter(chunk)
                .map(|m| {
                    let store = store.clone();
                    async move {
                        let t = Instant::now();
                        let r = store.write(move |tx| ingest::apply(tx, m, &rules)).await;
                        (t.elapsed(), r.is_ok())
                    }
                })
                .buffer_unordered(batch)
                .inspect(|_| bar.inc(1))
                .collect::<Vec<_>>()
                .await
        }));
    }
    let mut lat = Vec::new();
    let mut failed = 0usize;
    for t in tasks {
        for (d, ok) in t.await.map_err(|e| fail(e.to_string()))? {
            lat.push(d);
            failed += usize::from(!ok);
        }
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    lat.sort_unstable();
    let n = lat.len();
    let commits = metrics.commits.get().max(1);
    let checker = store.clone();
    let report = tokio::task::spawn_blocking(move || checker.verify())
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(|e| fail(e.to_string()))?;
    store.shutdown().await;
    println!(
        "bench ingest: {n} messages, {producers} producers x {} in flight, fsync on every commit",
        args.batch
    );
    println!(
        "  throughput   {:>10.0} msgs/s  ({:.2} s)",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "  ack latency  p50 {:.2} ms   p99 {:.2} ms   p99.9 {:.2} ms   max {:.2} ms",
        pct(&lat, 0.50).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3,
        pct(&lat, 0.999).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    println!(
        "  commits      {commits}  (avg {:.0} messages per commit)",
        n as f64 / commits as f64
    );
    println!(
        "  stored       {} conversations, {} messages, {} events; failed writes {failed}; integrity {}",
        report.conversations,
        report.messages,
        report.events,
        if report.ok() { "ok" } else { "PROBLEMS" }
    );
    if !report.ok() {
        return Err(fail(format!(
            "integrity problems: {:?}",
            &report.problems[..report.problems.len().min(5)]
        )));
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct InboxArgs {
    /// Open conversations to create.
    #[arg(long, default_value_t = 100_000)]
    pub conversations: usize,
    /// Messages spread over them.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: usize,
    /// Timed requests per page.
    #[arg(long, default_value_t = 2_000)]
    pub requests: usize,
    /// Concurrent in-process clients for the throughput run.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Keep the generated store here (to serve it and load it with wrk).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// Server time of the inbox and conversation pages on a large store,
/// in-process through the router (no socket), with a signed-in admin.
pub async fn inbox(args: InboxArgs) -> Result<(), crate::cli::Failure> {
    use tower::ServiceExt;
    let (dir, _tmp) = data_dir(args.data.as_ref())?;
    let clock: Arc<dyn crate::domain::Clock> = Arc::new(SystemClock);
    let store = Store::open(
        &dir,
        StoreOptions::default(),
        clock.clone(),
        Arc::new(Metrics::default()),
    )
    .map_err(|e| fail(e.to_string()))?;
    let cfg = Arc::new(crate::config::Config::default());
    let app = Arc::new(crate::app::App::new(
        store.clone(),
        cfg,
        clock.clone(),
        Arc::new(crate::workers::Registry::new(clock)),
    ));
    let existing = store
        .read(|r| r.message_count())
        .await
        .map_err(|e| fail(e.to_string()))?;
    if existing == 0 {
        eprintln!(
            "filling: {} messages over {} conversations…",
            args.messages, args.conversations
        );
        let rules = app.ingest_rules();
        let end = Ts::from_jiff(jiff::Timestamp::now()).0;
        let bar = indicatif::ProgressBar::new(args.messages as u64);
        let convs = args.conversations.max(1) as u64;
        let mut corpus = Corpus::new(7, end);
        let mut done = 0usize;
        while done < args.messages {
            let chunk: Vec<InboundMessage> = (0..20_000.min(args.messages - done))
                .map(|_| {
                    let mut m = to_inbound(corpus.next_message());
                    // Fold threads onto the wanted number of conversations.
                    let h = m.thread.as_deref().map(|t| {
                        t.bytes()
                            .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(b as u64))
                    });
                    m.thread = Some(format!("t{}", h.unwrap_or(0) % convs));
                    m.channel = "api".into();
                    m.kind = ChannelKind::Api;
                    m
                })
                .collect();
            done += chunk.len();
            ingest_all(&store, chunk, &rules, &bar, 2048).await;
        }
        bar.finish_and_clear();
    }
    let (n_conv, n_msg) = store
        .read(|r| Ok((r.conversation_count()?, r.message_count()?)))
        .await
        .map_err(|e| fail(e.to_string()))?;
    let email = "bench@localhost";
    if store
        .read(move |r| r.user_by_email(email))
        .await
        .map_err(|e| fail(e.to_string()))?
        .is_none()
    {
        crate::app::auth::create_user(
            &store,
            email,
            "Bench Admin",
            crate::domain::Role::Admin,
            "bench-password",
        )
        .await
        .map_err(|e| fail(e.to_string()))?;
    }
    let (token, _) = app
        .login_session(email, "bench-password")
        .await
        .map_err(|e| fail(e.to_string()))?;
    let cookie = format!("atalaya_session={token}");
    let router = crate::web::router(app.clone());
    let ids: Vec<u64> = store
        .read(|r| {
            Ok(
                r.list_conversations(crate::store::Sort::Newest, None, None, 500, |_| true)?
                    .items,
            )
        })
        .await
        .map_err(|e| fail(e.to_string()))?
        .into_iter()
        .map(|c| c.id.0)
        .collect();
    let get = |uri: String| {
        let (router, cookie) = (router.clone(), cookie.clone());
        async move {
            let req = axum::http::Request::builder()
                .uri(uri)
                .header("cookie", cookie)
                .header("host", "bench")
                .body(axum::body::Body::empty())
                .expect("a valid request");
            let t = Instant::now();
            let resp = router.oneshot(req).await.expect("infallible");
            let ok = resp.status().is_success();
            let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
            (t.elapsed(), ok)
        }
    };
    println!("bench inbox: {n_conv} conversations, {n_msg} messages (in-process, no socket)");
    let uri = |page: usize, i: usize| match page {
        0 => "/inbox?view=all".to_string(),
        1 => "/inbox?view=mine".to_string(),
        _ => format!("/conversations/{}", ids[i % ids.len().max(1)]),
    };
    let names = ["inbox (all, by priority)", "inbox (mine)", "conversation"];
    for (page, name) in names.iter().enumerate() {
        let mut lat = Vec::with_capacity(args.requests);
        let mut errors = 0;
        for i in 0..args.requests {
            let (d, ok) = get(uri(page, i)).await;
            lat.push(d);
            errors += usize::from(!ok);
        }
        lat.sort_unstable();
        println!(
            "  {name:<26} p50 {:.2} ms  p99 {:.2} ms  errors {errors}",
            pct(&lat, 0.5).as_secs_f64() * 1e3,
            pct(&lat, 0.99).as_secs_f64() * 1e3
        );
    }
    let started = Instant::now();
    let total = args.requests * 4;
    let results: Vec<(Duration, bool)> = futures_util::stream::iter(0..total)
        .map(|_| tokio::spawn(get("/inbox?view=all".to_string())))
        .buffer_unordered(args.clients.max(1))
        .filter_map(|r| async move { r.ok() })
        .collect()
        .await;
    let secs = started.elapsed().as_secs_f64();
    let mut lat: Vec<Duration> = results.iter().map(|r| r.0).collect();
    lat.sort_unstable();
    println!(
        "  inbox throughput          {:.0} req/s with {} concurrent clients (p99 {:.2} ms)",
        results.len() as f64 / secs,
        args.clients,
        pct(&lat, 0.99).as_secs_f64() * 1e3
    );
    store.shutdown().await;
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct ImportBenchArgs {
    /// Mails to generate into the Maildir.
    #[arg(long, default_value_t = 50_000)]
    pub mails: usize,
    /// Corpus seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Mails per transaction.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Chunks prepared in parallel (default: one per core, at least 2).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Work here instead of a temporary directory (Maildir in `maildir/`,
    /// store in `data/`); an existing Maildir is reused.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// SplitMix64: the bench's own small deterministic generator.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// True with probability `pm` per mille.
    fn pm(&mut self, pm: u64) -> bool {
        self.next() % 1000 < pm
    }
}

/// Quoted-printable (RFC 2045), soft breaks before 76 columns.
fn quoted_printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3 / 2);
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut col = 0;
        for (j, &b) in line.iter().enumerate() {
            let last = j + 1 == line.len();
            let lit = (b.is_ascii_graphic() && b != b'=') || (b == b' ' && !last);
            let piece = if lit {
                (b as char).to_string()
            } else {
                format!("={b:02X}")
            };
            if col + piece.len() > 75 {
                out.push_str("=\n");
                col = 0;
            }
            col += piece.len();
            out.push_str(&piece);
        }
    }
    out
}

fn base64_lines(bytes: &[u8]) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(b.len() + b.len() / 76 + 1);
    for (i, c) in b.as_bytes().chunks(76).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(std::str::from_utf8(c).unwrap_or(""));
    }
    out
}

/// ISO-8859-1 bytes of `s` (`?` for what it cannot hold).
fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// A header value: as is when ASCII, else RFC 2047 encoded words in
/// `charset` (UTF-8 base64 or ISO-8859-1 Q), folded.
fn header_words(s: &str, latin: bool) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    let mut words = Vec::new();
    let mut part = String::new();
    let flush = |part: &mut String, words: &mut Vec<String>| {
        if part.is_empty() {
            return;
        }
        if latin {
            let q: String = latin1(part)
                .iter()
                .map(|&b| match b {
                    b' ' => "_".to_string(),
                    b if b.is_ascii_alphanumeric() => (b as char).to_string(),
                    b => format!("={b:02X}"),
                })
                .collect();
            words.push(format!("=?ISO-8859-1?Q?{q}?="));
        } else {
            use base64::Engine;
            let b = base64::engine::general_purpose::STANDARD.encode(part.as_bytes());
            words.push(format!("=?UTF-8?B?{b}?="));
        }
        part.clear();
    };
    for c in s.chars() {
        part.push(c);
        if part.len() >= if latin { 14 } else { 40 } {
            flush(&mut part, &mut words);
        }
    }
    flush(&mut part, &mut words);
    words.join("\n ")
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Generates realistic customer mail from the seeded corpus: threads with
/// In-Reply-To/References, Spanish and English, UTF-8, ISO-8859-1 and
/// windows-1252 bodies (8bit, quoted-printable, base64), multipart/
/// alternative with HTML, and a few small attachments.
pub struct MailGen {
    corpus: Corpus,
    rng: Mix,
    seed: u64,
    n: u64,
    /// (corpus thread key, root Message-ID, References so far).
    thread: Option<(String, Vec<String>)>,
}

impl MailGen {
    pub fn new(seed: u64) -> MailGen {
        let end = Ts::from_jiff(jiff::Timestamp::now()).0;
        MailGen {
            corpus: Corpus::new(seed, end),
            rng: Mix(seed ^ 0x1A7A_1A7A),
            seed,
            n: 0,
            thread: None,
        }
    }

    /// The next mail's raw bytes.
    pub fn next_mail(&mut self) -> Vec<u8> {
        let m = loop {
            let m = self.corpus.next_message();
            if m.email.is_some() {
                break m;
            }
        };
        self.n += 1;
        let r = &mut self.rng;
        let email = m.email.clone().unwrap_or_default();
        let id = format!("{}.{}@bench.mail.example", m.external_id, self.seed);
        let refs = match &mut self.thread {
            Some((key, refs)) if *key == m.thread => {
                let prev = refs.clone();
                refs.push(id.clone());
                prev
            }
            _ => {
                self.thread = Some((m.thread.clone(), vec![id.clone()]));
                Vec::new()
            }
        };
        let subject = m.subject.clone().unwrap_or_else(|| {
            let words: Vec<&str> = m.text.split_whitespace().take(6).collect();
            let s = words.join(" ");
            if refs.is_empty() {
                s
            } else {
                format!("Re: {s}")
            }
        });
        // Charset and shape of this mail.
        let fits = (m.text.chars().chain(m.name.chars()))
            .chain(subject.chars())
            .all(|c| u32::from(c) < 0x100);
        let latin = fits && r.pm(250);
        let cp1252 = fits && !latin && r.pm(80);
        let alternative = r.pm(350);
        let attachment = r.pm(60);
        let date = jiff::Timestamp::from_millisecond(m.sent_at_ms)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .strftime("%a, %d %b %Y %H:%M:%S +0000")
            .to_string();
        let mut h = String::with_capacity(2048);
        h.push_str(&format!(
            "Return-Path: <{email}>\nReceived: from mx.bench.example by mail.tienda.example; {date}\n"
        ));
        let name = if m.name.is_ascii() {
            format!("\"{}\"", m.name)
        } else {
            header_words(&m.name, latin)
        };
        h.push_str(&format!("From: {name} <{email}>\n"));
        h.push_str("To: Soporte <soporte@tienda.example>\n");
        h.push_str(&format!("Subject: {}\n", header_words(&subject, latin)));
        h.push_str(&format!("Date: {date}\nMessage-ID: <{id}>\n"));
        if let Some(parent) = refs.last() {
            h.push_str(&format!("In-Reply-To: <{parent}>\n"));
            let list: Vec<String> = refs.iter().map(|x| format!("<{x}>")).collect();
            h.push_str(&format!("References: {}\n", list.join("\n ")));
        }
        h.push_str("MIME-Version: 1.0\n");
        let mut text = m.text.clone();
        if !refs.is_empty() && r.pm(500) {
            text.push_str(if m.language == "es" {
                "\n\nEl equipo de soporte escribió:\n> Gracias por escribirnos.\n> ¿Nos puede dar su número de pedido?\n"
            } else {
                "\n\nThe support team wrote:\n> Thanks for writing to us.\n> Could you send us your order number?\n"
            });
        }
        text.push_str(&format!("\n\n-- \n{}\n", m.name));
        let (charset, body_bytes) = if latin {
            ("iso-8859-1", latin1(&text))
        } else if cp1252 {
            ("windows-1252", latin1(&text))
        } else {
            ("utf-8", text.clone().into_bytes())
        };
        let plain = match (self.n % 3, body_bytes.is_ascii()) {
            (_, true) => format!(
                "Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: 7bit\n\n{}\n",
                String::from_utf8_lossy(&body_bytes)
            ),
            (0, false) => format!(
                "Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: base64\n\n{}\n",
                base64_lines(&body_bytes)
            ),
            _ => format!(
                "Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: quoted-printable\n\n{}\n",
                quoted_printable(&body_bytes)
            ),
        };
        let mut body = plain.clone();
        if alternative {
            let paras: String = text
                .split("\n\n")
                .map(|p| format!("<p>{}</p>", html_escape(p).replace('\n', "<br>")))
                .collect();
            let html = format!(
                "<html><head><style>p{{margin:0}}</style></head><body><div dir=\"ltr\">{paras}</div></body></html>"
            );
            body = format!(
                "Content-Type: multipart/alternative; boundary=\"alt-{n}\"\n\n--alt-{n}\n{plain}\n--alt-{n}\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n{}\n--alt-{n}--\n",
                quoted_printable(html.as_bytes()),
                n = self.n
            );
        }
        if attachment {
            let size = 2_000 + (r.next() % 14_000) as usize;
            let (name, ctype, mut bytes) = match r.next() % 3 {
                0 => ("factura.pdf", "application/pdf", b"%PDF-1.4\n".to_vec()),
                1 => ("captura.png", "image/png", b"\x89PNG\r\n\x1a\n".to_vec()),
                _ => ("pedido.txt", "text/plain", b"Pedido\n".to_vec()),
            };
            while bytes.len() < size {
                bytes.extend_from_slice(&r.next().to_le_bytes());
            }
            body = format!(
                "Content-Type: multipart/mixed; boundary=\"mix-{n}\"\n\n--mix-{n}\n{body}\n--mix-{n}\nContent-Type: {ctype}; name=\"{name}\"\nContent-Disposition: attachment; filename=\"{name}\"\nContent-Transfer-Encoding: base64\n\n{}\n--mix-{n}--\n",
                base64_lines(&bytes),
                n = self.n
            );
        }
        let mut raw = h.into_bytes();
        raw.extend_from_slice(body.as_bytes());
        raw
    }
}

/// Write `n` generated mails into `dir/cur` (Maildir names); returns bytes.
pub fn write_maildir(dir: &std::path::Path, n: usize, seed: u64) -> std::io::Result<u64> {
    for s in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(s))?;
    }
    let mut mails = MailGen::new(seed);
    let mut bytes = 0;
    for i in 0..n {
        let raw = mails.next_mail();
        bytes += raw.len() as u64;
        let name = format!("{}.M{i:06}P1.bench:2,S", 1_700_000_000 + i as u64);
        std::fs::write(dir.join("cur").join(name), raw)?;
    }
    Ok(bytes)
}

fn dir_size(p: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                dir_size(&p)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}

/// `atalaya import maildir` of generated mail into a fresh store, then the
/// same import again: once resuming (the saved position skips everything)
/// and once from the start (every mail is recognized as a duplicate).
pub async fn import(args: ImportBenchArgs) -> Result<(), crate::cli::Failure> {
    use crate::channels::email::import::{self as imp, SourceKind};
    let (root, _tmp) = data_dir(args.dir.as_ref())?;
    let maildir = root.join("maildir");
    let data = root.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let existing = imp::maildir_files(&maildir).map(|f| f.len()).unwrap_or(0);
    if existing != args.mails {
        let _ = std::fs::remove_dir_all(&maildir);
        eprintln!("generating {} mails (seed {})…", args.mails, args.seed);
        let t = Instant::now();
        let (dir, n, seed) = (maildir.clone(), args.mails, args.seed);
        let bytes = tokio::task::spawn_blocking(move || write_maildir(&dir, n, seed))
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(e.to_string()))?;
        eprintln!(
            "  {:.1} MB in {:.1} s",
            bytes as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
    }
    let source_bytes = dir_size(&maildir);
    let cfg_path = root.join("atalaya.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[server]\ndata = {:?}\n\n[[channel.email]]\nname = \"support\"\naddress = \"soporte@tienda.example\"\n\n[channel.email.smtp]\nhost = \"127.0.0.1\"\n",
            data.display().to_string()
        ),
    )
    .map_err(|e| fail(e.to_string()))?;
    let cfg = crate::config::Config::load(
        Some(&cfg_path),
        std::iter::empty(),
        &crate::config::Overrides::default(),
    )
    .map_err(|e| fail(e.to_string()))?;
    let app = crate::app::App::open(cfg, Arc::new(SystemClock)).map_err(|e| fail(e.to_string()))?;
    let mut opts = imp::ImportOptions::new("support");
    opts.batch = args.batch.max(1);
    opts.workers = args.workers.unwrap_or_else(imp::default_workers).max(1);
    opts.progress = true;
    let run = |opts: imp::ImportOptions| {
        let (app, maildir) = (app.clone(), maildir.clone());
        async move {
            imp::import(app, SourceKind::Maildir, &maildir, &opts)
                .await
                .map_err(|e| fail(e.to_string()))
        }
    };
    let first = run(opts.clone()).await?;
    let redb = std::fs::metadata(data.join(crate::store::DB_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    let attachments = dir_size(&data.join("attachments"));
    let resumed = run(opts.clone()).await?;
    let again = run(imp::ImportOptions {
        from_start: true,
        ..opts.clone()
    })
    .await?;
    let store = app.store.clone();
    let checker = store.clone();
    let (report, n_conv, n_msg) = tokio::task::spawn_blocking(move || {
        let report = checker.verify()?;
        let counts =
            checker.read_blocking(|r| Ok((r.conversation_count()?, r.message_count()?)))?;
        Ok::<_, crate::store::StoreError>((report, counts.0, counts.1))
    })
    .await
    .map_err(|e| fail(e.to_string()))?
    .map_err(|e| fail(e.to_string()))?;
    store.shutdown().await;
    println!(
        "bench import: {} generated mails ({:.1} MB) from a Maildir, {} preparers, {} mails per transaction",
        args.mails,
        source_bytes as f64 / 1e6,
        opts.workers,
        opts.batch
    );
    println!(
        "  first import   {:>8.0} mails/s  ({:.2} s): {}",
        first.rate(),
        first.elapsed.as_secs_f64(),
        first.summary()
    );
    println!(
        "                 waiting for parsed mail {:.2} s, for the writer {:.2} s",
        first.waited_prepare.as_secs_f64(),
        first.waited_store.as_secs_f64()
    );
    println!(
        "  store          {:.1} MB redb + {:.1} MB attachments; {n_conv} conversations, {n_msg} messages",
        redb as f64 / 1e6,
        attachments as f64 / 1e6
    );
    println!(
        "  re-run         skipped {} by the saved position in {:.3} s",
        resumed.skipped,
        resumed.elapsed.as_secs_f64()
    );
    println!(
        "  --from-start   {:>8.0} mails/s  ({:.2} s): {}",
        again.rate(),
        again.elapsed.as_secs_f64(),
        again.summary()
    );
    println!(
        "  integrity      {}",
        if report.ok() { "ok" } else { "PROBLEMS" }
    );
    if !report.ok() {
        return Err(fail(format!(
            "integrity problems: {:?}",
            &report.problems[..report.problems.len().min(5)]
        )));
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct ImapBenchArgs {
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long)]
    pub port: u16,
    /// tls | starttls | none
    #[arg(long, default_value = "none")]
    pub security: String,
    #[arg(long)]
    pub username: String,
    /// The password (or set ATALAYA_BENCH_IMAP_PASSWORD).
    #[arg(long, env = "ATALAYA_BENCH_IMAP_PASSWORD", hide_env_values = true)]
    pub password: String,
    #[arg(long, default_value = "INBOX")]
    pub folder: String,
    /// PEM file of the server's certificate authority (TLS).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

/// `atalaya bench imap`: the poller fetches a whole folder into a fresh
/// store (fsync on, cursor saved with every batch), as after a first setup.
pub async fn imap(args: ImapBenchArgs) -> Result<(), crate::cli::Failure> {
    let (root, _tmp) = data_dir(None)?;
    let data = root.join("data");
    let mut toml = format!(
        "[server]\ndata = {:?}\n\n[[channel.email]]\nname = \"support\"\naddress = \"bench@atalaya.test\"\n\n[channel.email.imap]\nhost = {:?}\nport = {}\nsecurity = {:?}\nusername = {:?}\npassword = {:?}\nfolder = {:?}\n",
        data.display().to_string(),
        args.host,
        args.port,
        args.security,
        args.username,
        args.password,
        args.folder
    );
    if let Some(ca) = &args.ca_file {
        toml.push_str(&format!("ca_file = {:?}\n", ca.display().to_string()));
    }
    let cfg_path = root.join("atalaya.toml");
    std::fs::write(&cfg_path, toml).map_err(|e| fail(e.to_string()))?;
    let cfg = crate::config::Config::load(
        Some(&cfg_path),
        std::iter::empty(),
        &crate::config::Overrides::default(),
    )
    .map_err(|e| fail(e.to_string()))?;
    let app = crate::app::App::open(cfg, Arc::new(SystemClock)).map_err(|e| fail(e.to_string()))?;
    let mut worker = crate::channels::email::imap::ImapWorker::new(app.clone(), "support");
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {pos} mails fetched ({per_sec}) {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let t0 = Instant::now();
    let mut last = 0;
    loop {
        let more = worker.sync_once().await.map_err(fail)?;
        let n = app
            .store
            .read(|r| r.message_count())
            .await
            .map_err(|e| fail(e.to_string()))?;
        bar.inc(n - last);
        last = n;
        if !more {
            break;
        }
    }
    let elapsed = t0.elapsed();
    bar.finish_and_clear();
    let quarantined = app
        .store
        .read(|r| r.quarantine_list(true, usize::MAX))
        .await
        .map_err(|e| fail(e.to_string()))?
        .len();
    let store = app.store.clone();
    let report = tokio::task::spawn_blocking(move || store.verify())
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(|e| fail(e.to_string()))?;
    app.store.shutdown().await;
    println!(
        "bench imap: {last} mails fetched from {}:{} {} in {:.2} s = {:.0} mails/s ({quarantined} quarantined); integrity {}",
        args.host,
        args.port,
        args.folder,
        elapsed.as_secs_f64(),
        last as f64 / elapsed.as_secs_f64().max(1e-9),
        if report.ok() { "ok" } else { "FAILED" }
    );
    Ok(())
}
