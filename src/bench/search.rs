//! `atalaya bench search`: the full-text index on the corpus generator's
//! messages — reindex time, size on disk, query latency through the real
//! server's HTTP API, visibility latency under single-message ingest, the
//! segment count after it, the server's anonymous memory — and, with
//! `--pg`, the same corpus and queries in PostgreSQL (`benches/pg_search.sh`).

use super::{data_dir, fail, pct, to_inbound};
use crate::corpus::Corpus;
use crate::domain::{Status, SystemClock, Ts};
use crate::ingest;
use crate::metrics::Metrics;
use crate::store::{Store, StoreOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// Messages in the corpus.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: usize,
    /// Timed rounds of the query set.
    #[arg(long, default_value_t = 50)]
    pub rounds: usize,
    /// Single-message ingests (one store commit each) while visibility is
    /// sampled; the segment count is read after them.
    #[arg(long, default_value_t = 100_000)]
    pub commits: usize,
    /// Corpus seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep the store and index here (a second run reuses the store).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Also load the corpus into PostgreSQL and run the same queries.
    #[arg(long)]
    pub pg: bool,
}

/// The fixed mixed query set: (name, Atalaya query, PostgreSQL websearch
/// text, channel filter, status filter).
const QUERIES: &[(&str, &str, &str, &str, &str)] = &[
    ("1 term es", "reembolso", "reembolso", "", ""),
    ("1 term en", "refund", "refund", "", ""),
    ("1 term common", "pedido", "pedido", "", ""),
    ("2 terms", "cobrado veces", "cobrado veces", "", ""),
    (
        "3 terms",
        "factura cargo duplicado",
        "factura cargo duplicado",
        "",
        "",
    ),
    ("phrase es", "\"no funciona\"", "\"no funciona\"", "", ""),
    (
        "phrase en",
        "\"charged twice\"",
        "\"charged twice\"",
        "",
        "",
    ),
    ("OR", "reembolso OR refund", "reembolso or refund", "", ""),
    ("exclude", "router -gracias", "router -gracias", "", ""),
    (
        "status filter",
        "reembolso status:open",
        "reembolso",
        "",
        "open",
    ),
    ("channel filter", "error channel:x", "error", "x", ""),
    (
        "both filters",
        "pedido channel:email status:resolved",
        "pedido",
        "email",
        "resolved",
    ),
];

fn rss_anon_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("RssAnon:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn segments(index: &Path) -> usize {
    std::fs::read_to_string(index.join("meta.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v["segments"].as_array().map(Vec::len))
        .unwrap_or(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// COPY text format.
fn copy_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

async fn fill(store: &Store, n: usize, seed: u64) -> Result<(), crate::cli::Failure> {
    let rules = ingest::IngestRules {
        reopen_window_ms: 7 * 86_400_000,
        max_text_bytes: 64 << 10,
    };
    eprintln!("filling: {n} messages (seed {seed})…");
    let end = Ts::from_jiff(jiff::Timestamp::now()).0;
    let bar = indicatif::ProgressBar::new(n as u64);
    let mut corpus = Corpus::new(seed, end);
    let mut done = 0;
    while done < n {
        let chunk: Vec<_> = (0..20_000.min(n - done))
            .map(|_| to_inbound(corpus.next_message()))
            .collect();
        done += chunk.len();
        super::ingest_all(store, chunk, &rules, &bar, 1024).await;
    }
    bar.finish_and_clear();
    // A third of the conversations resolved, so status filters select.
    let mut after = 0u64;
    loop {
        let page = store
            .read(move |r| r.conversations_after(after, 2_000))
            .await
            .map_err(|e| fail(e.to_string()))?;
        let Some(last) = page.last() else { break };
        after = last.id.0;
        store
            .write(move |tx| {
                for c in page.into_iter().filter(|c| c.id.0 % 3 == 0) {
                    let mut new = c.clone();
                    new.status = Status::Resolved;
                    new.resolved_at = Some(new.last_message_at);
                    tx.put_conversation(Some(&c), &new)?;
                }
                Ok(())
            })
            .await
            .map_err(|e| fail(e.to_string()))?;
    }
    Ok(())
}

/// Write `corpus.tsv` for PostgreSQL; returns the raw text bytes.
fn export(store: &Store, out: &Path) -> Result<u64, crate::cli::Failure> {
    let file = std::fs::File::create(out).map_err(|e| fail(e.to_string()))?;
    let mut w = std::io::BufWriter::new(file);
    let mut after = 0u64;
    let mut bytes = 0u64;
    loop {
        let rows = store
            .read_blocking(|r| {
                let convs = r.conversations_after(after, 2_000)?;
                let mut out = Vec::new();
                for c in convs {
                    let msgs = r.conversation_messages(c.id)?;
                    out.push((c, msgs));
                }
                Ok(out)
            })
            .map_err(|e| fail(e.to_string()))?;
        let Some((last, _)) = rows.last() else { break };
        after = last.id.0;
        for (c, msgs) in rows {
            for m in msgs {
                bytes += m.text.len() as u64;
                let lang = if crate::index::schema::is_english(&m.text, None) {
                    "en"
                } else {
                    "es"
                };
                writeln!(
                    w,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    c.id.0,
                    m.id.0,
                    copy_escape(&c.channel),
                    c.status.as_str(),
                    lang,
                    m.sent_at.0,
                    copy_escape(&m.text)
                )
                .map_err(|e| fail(e.to_string()))?;
            }
        }
    }
    w.flush().map_err(|e| fail(e.to_string()))?;
    Ok(bytes)
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn search(args: SearchArgs) -> Result<(), crate::cli::Failure> {
    let (dir, _tmp) = data_dir(args.data.as_ref())?;
    let index_dir = dir.join("index");
    // 1. The store.
    let store = Store::open(
        &dir,
        StoreOptions {
            cache_bytes: 64 << 20,
            ..Default::default()
        },
        Arc::new(SystemClock),
        Arc::new(Metrics::default()),
    )
    .map_err(|e| fail(e.to_string()))?;
    let have = store
        .read(|r| r.message_count())
        .await
        .map_err(|e| fail(e.to_string()))?;
    if have == 0 {
        let t = Instant::now();
        fill(&store, args.messages, args.seed).await?;
        eprintln!("filled in {:.0} s", t.elapsed().as_secs_f64());
    }
    let (n_msg, n_conv) = store
        .read(|r| Ok((r.message_count()?, r.conversation_count()?)))
        .await
        .map_err(|e| fail(e.to_string()))?;
    // 2. The corpus for PostgreSQL, and the raw text size.
    let tsv = dir.join("corpus.tsv");
    let st = store.clone();
    let tsv2 = tsv.clone();
    let raw_bytes = tokio::task::spawn_blocking(move || export(&st, &tsv2))
        .await
        .map_err(|e| fail(e.to_string()))??;
    // 3. A full reindex, timed.
    eprintln!("reindexing {n_conv} conversations ({n_msg} messages)…");
    let st = store.clone();
    let idir = index_dir.clone();
    let bar = indicatif::ProgressBar::new(n_conv);
    let pb = bar.clone();
    let t = Instant::now();
    let (segs_after_reindex, docs) = tokio::task::spawn_blocking(move || {
        let progress = |d: u64, _| pb.set_position(d);
        let (idx, opened) = crate::index::SearchIndex::open(&idir, st, &progress)?;
        if let crate::index::Opened::Resumed(_) = opened {
            idx.rebuild(&progress)?;
        }
        Ok::<_, crate::index::IndexError>((idx.segment_count(), idx.doc_count()))
    })
    .await
    .map_err(|e| fail(e.to_string()))?
    .map_err(|e| fail(e.to_string()))?;
    let reindex = t.elapsed();
    bar.finish_and_clear();
    let index_bytes = dir_bytes(&index_dir);
    store.shutdown().await;
    drop(store);

    // 4. The real server on that data directory.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| fail(e.to_string()))?
        .port();
    let exe = std::env::current_exe().map_err(|e| fail(e.to_string()))?;
    let password = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let log = std::fs::File::create(dir.join("server.log")).map_err(|e| fail(e.to_string()))?;
    let child = Child(
        std::process::Command::new(exe)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(&dir)
            .env("ATALAYA_ADMIN_EMAIL", "bench@localhost")
            .env("ATALAYA_ADMIN_PASSWORD", &password)
            .env_remove("ATALAYA_CONFIG")
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone().map_err(|e| fail(e.to_string()))?)
            .stderr(log)
            .spawn()
            .map_err(|e| fail(format!("cannot start the server: {e}")))?,
    );
    let pid = child.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let token = loop {
        let r = client
            .post(format!("{base}/api/v1/login"))
            .json(&serde_json::json!({"email": "bench@localhost", "password": password}))
            .send()
            .await;
        if let Ok(r) = r
            && r.status().is_success()
        {
            let v: serde_json::Value = r.json().await.map_err(|e| fail(e.to_string()))?;
            break v["token"].as_str().unwrap_or_default().to_string();
        }
        if Instant::now() > deadline {
            return Err(fail("the server did not start; see server.log".into()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let search = |q: String| {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        async move {
            let t = Instant::now();
            let r = client
                .get(format!("{base}/api/v1/search"))
                .query(&[("q", q.as_str()), ("limit", "20")])
                .bearer_auth(&token)
                .send()
                .await
                .map_err(|e| fail(e.to_string()))?;
            let status = r.status();
            let v: serde_json::Value = r.json().await.map_err(|e| fail(e.to_string()))?;
            if !status.is_success() {
                return Err(fail(format!("search {q}: {status} {v}")));
            }
            Ok::<_, crate::cli::Failure>((t.elapsed(), v["total"].as_u64().unwrap_or(0)))
        }
    };
    // The index opens in the background: wait for the first answer.
    let deadline = Instant::now() + Duration::from_secs(120);
    while search("pedido".into()).await.is_err() {
        if Instant::now() > deadline {
            return Err(fail("search never answered; see server.log".into()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rss_idle_start = rss_anon_kb(pid);

    // 5. Query latency.
    let mut per: Vec<(&str, Vec<Duration>, u64)> = Vec::new();
    let mut all = Vec::new();
    for (name, q, ..) in QUERIES {
        let (_, total) = search(q.to_string()).await?; // warm-up
        let mut times = Vec::with_capacity(args.rounds);
        for _ in 0..args.rounds {
            times.push(search(q.to_string()).await?.0);
        }
        times.sort();
        all.extend(times.iter().copied());
        per.push((name, times, total));
    }
    all.sort();

    // 6. Visibility latency under single-message ingest, then segments.
    let url = format!("{base}/api/v1/inbound");
    let mut nrt = Vec::new();
    let t = Instant::now();
    let bar = indicatif::ProgressBar::new(args.commits as u64);
    for i in 0..args.commits {
        let word = format!("nrt{i}zq");
        let body = serde_json::json!({"channel": "api", "external_id": format!("nrt-{i}"),
            "from": {"handle": format!("@nrt{}", i % 500)},
            "text": format!("Hola, el pedido {word} no ha llegado")});
        let r = client
            .post(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !r.status().is_success() {
            return Err(fail(format!("inbound: {}", r.status())));
        }
        if i % 250 == 0 {
            let acked = Instant::now();
            loop {
                if search(word.clone()).await?.1 > 0 {
                    break;
                }
                if acked.elapsed() > Duration::from_secs(10) {
                    return Err(fail(format!("{word} never became searchable")));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            nrt.push(acked.elapsed());
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let ingest_rate = args.commits as f64 / t.elapsed().as_secs_f64();
    nrt.sort();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let segs = segments(&index_dir);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_idle_end = rss_anon_kb(pid);
    drop(child);

    println!(
        "search benchmark — {n_msg} messages in {n_conv} conversations (2-core machine numbers in README)"
    );
    println!(
        "  full reindex: {:.1} s ({:.0} messages/s), {docs} documents, {segs_after_reindex} segments",
        reindex.as_secs_f64(),
        n_msg as f64 / reindex.as_secs_f64()
    );
    println!(
        "  index size: {:.1} MB for {:.1} MB of raw text ({:.2}×)",
        index_bytes as f64 / 1e6,
        raw_bytes as f64 / 1e6,
        index_bytes as f64 / raw_bytes.max(1) as f64
    );
    println!(
        "  query latency through the HTTP API ({} rounds each, top 20 + total):",
        args.rounds
    );
    println!(
        "    {:<16} {:>9} {:>9} {:>10}",
        "query", "p50 ms", "p99 ms", "matches"
    );
    for (name, times, total) in &per {
        println!(
            "    {:<16} {:>9.2} {:>9.2} {:>10}",
            name,
            ms(pct(times, 0.5)),
            ms(pct(times, 0.99)),
            total
        );
    }
    println!(
        "    {:<16} {:>9.2} {:>9.2}",
        "all",
        ms(pct(&all, 0.5)),
        ms(pct(&all, 0.99))
    );
    println!(
        "  visibility after acknowledgement ({} samples during {} single-message ingests at {:.0}/s): p50 {:.0} ms, p99 {:.0} ms",
        nrt.len(),
        args.commits,
        ingest_rate,
        ms(pct(&nrt, 0.5)),
        ms(pct(&nrt, 0.99))
    );
    println!("  segments after them: {segs}");
    let kb = |v: Option<u64>| {
        v.map(|k| format!("{:.0} MB", k as f64 / 1024.0))
            .unwrap_or("?".into())
    };
    println!(
        "  server RssAnon idle: {} after start, {} after the queries and ingest",
        kb(rss_idle_start),
        kb(rss_idle_end)
    );

    // 7. PostgreSQL on the same corpus and queries.
    if args.pg {
        let qpath = dir.join("queries.tsv");
        let mut q = String::new();
        for (name, _, pgq, channel, status) in QUERIES {
            q.push_str(&format!("{name}\t{pgq}\t{channel}\t{status}\n"));
        }
        std::fs::write(&qpath, q).map_err(|e| fail(e.to_string()))?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pg_search.sh");
        eprintln!(
            "PostgreSQL: loading the same corpus ({})…",
            script.display()
        );
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .args(["--rounds", &args.rounds.to_string()])
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| fail(format!("cannot run {}: {e}", script.display())))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(fail(format!("pg_search.sh failed:\n{stdout}")));
        }
        let last = stdout.lines().last().unwrap_or("");
        let pg: serde_json::Value = serde_json::from_str(last)
            .map_err(|e| fail(format!("pg_search.sh output: {e}: {last}")))?;
        println!(
            "  PostgreSQL (tsvector + GIN, spanish/english, websearch_to_tsquery): load {:.0} s, index {:.0} s, {:.0} MB",
            pg["load_s"].as_f64().unwrap_or(0.0),
            pg["index_s"].as_f64().unwrap_or(0.0),
            pg["size_mb"].as_f64().unwrap_or(0.0)
        );
        println!(
            "    {:<16} {:>12} {:>12} {:>12} {:>12} {:>8}",
            "query", "atalaya p50", "pg p50", "atalaya p99", "pg p99", "p99 ×"
        );
        let pq = pg["queries"].as_array().cloned().unwrap_or_default();
        for (name, times, _) in &per {
            let Some(p) = pq.iter().find(|p| p["name"] == *name) else {
                continue;
            };
            let (p50, p99) = (
                p["p50_ms"].as_f64().unwrap_or(0.0),
                p["p99_ms"].as_f64().unwrap_or(0.0),
            );
            let ours = ms(pct(times, 0.99));
            println!(
                "    {:<16} {:>12.2} {:>12.2} {:>12.2} {:>12.2} {:>8.0}",
                name,
                ms(pct(times, 0.5)),
                p50,
                ours,
                p99,
                p99 / ours.max(0.001)
            );
        }
        let (p50, p99) = (
            pg["overall"]["p50_ms"].as_f64().unwrap_or(0.0),
            pg["overall"]["p99_ms"].as_f64().unwrap_or(0.0),
        );
        println!(
            "    {:<16} {:>12.2} {:>12.2} {:>12.2} {:>12.2} {:>8.0}",
            "all",
            ms(pct(&all, 0.5)),
            p50,
            ms(pct(&all, 0.99)),
            p99,
            p99 / ms(pct(&all, 0.99)).max(0.001)
        );
    }
    Ok(())
}
