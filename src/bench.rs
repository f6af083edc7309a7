//! `atalaya bench ...`: measurements on a generated, seeded corpus. Numbers
//! are printed, never asserted.

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
            futures_util::stream::iter(chunk)
                .map(|m| {
                    let store = store.clone();
                    async move {
                        let m = ingest::prepare(m, &rules).ok()?;
                        store
                            .write(move |tx| ingest::apply(tx, m, &rules))
                            .await
                            .ok()
                    }
                })
                .buffer_unordered(2048)
                .for_each(|_| async { bar.inc(1) })
                .await;
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
