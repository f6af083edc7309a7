//! kill -9 while the scheduler runs 10,000 due jobs: after a restart every
//! job has run exactly once (one `JobRan` each) and none is left.
//!
//! The jobs are stored while the server is stopped (the test opens the data
//! directory itself), then the real binary is started and killed with
//! SIGKILL as soon as `/healthz` shows that some, not all, have run.

mod common;

use atalaya::domain::{Clock, EventKind, SystemClock};
use atalaya::metrics::Metrics;
use atalaya::scheduler::{self, JobKind};
use atalaya::store::{Store, StoreOptions};
use common::Server;
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOTAL: u64 = 10_000;

fn open(data: &Path) -> Store {
    Store::open(
        data,
        StoreOptions::default(),
        Arc::new(SystemClock),
        Arc::new(Metrics::default()),
    )
    .expect("open the data directory (the server is stopped)")
}

/// Store probes `from..to`, due just now in order (not late enough for the
/// overdue policy); return job id -> n and the newest event sequence.
async fn seed(data: &Path, from: u64, to: u64) -> (HashMap<u64, u64>, u64) {
    let store = open(data);
    let mut ids = HashMap::new();
    let now = SystemClock.now();
    for chunk in (from..to).collect::<Vec<_>>().chunks(1000) {
        let chunk = chunk.to_vec();
        let jobs = store
            .write(move |tx| {
                let mut out = Vec::new();
                for n in chunk {
                    let due = now.plus_ms(-60_000 + n as i64);
                    let job = scheduler::schedule_in(tx, JobKind::Probe { n }, due, None, None)?;
                    out.push((job.id, n));
                }
                Ok(out)
            })
            .await
            .unwrap();
        ids.extend(jobs);
    }
    let seq = store.committed_seq();
    store.shutdown().await;
    (ids, seq)
}

/// How many probes are still stored, and the newest event sequence.
async fn stored_probes(data: &Path) -> (u64, u64) {
    let store = open(data);
    let left = store
        .read(|r| {
            let mut left = 0;
            let mut after = None;
            loop {
                let page = r.jobs_page(after, 1000)?;
                let Some(last) = page.last() else { break };
                after = Some((last.due, last.id));
                left += page
                    .iter()
                    .filter(|j| matches!(j.kind, JobKind::Probe { .. }))
                    .count() as u64;
            }
            Ok(left)
        })
        .await
        .unwrap();
    let seq = store.committed_seq();
    store.shutdown().await;
    (left, seq)
}

/// Start `atalaya serve` on the server's config and data directory, as
/// `Server::restart` does, but without waiting for `/healthz`.
fn spawn_serve(server: &Server) -> Child {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(server.temp_dir().join("server.log"))
        .unwrap();
    let out = log.try_clone().unwrap();
    Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .arg("serve")
        .arg("--config")
        .arg(server.config_path())
        .env_remove("ATALAYA_DATA")
        .env_remove("ATALAYA_LISTEN")
        .env_remove("ATALAYA_CONFIG")
        .env("ATALAYA_ADMIN_EMAIL", &server.admin_email)
        .env("ATALAYA_ADMIN_PASSWORD", &server.admin_password)
        .env("RUST_LOG", "warn")
        .current_dir(server.temp_dir())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(log)
        .spawn()
        .unwrap()
}

/// `event_seq` from `/healthz`, if it answers.
async fn event_seq(client: &reqwest::Client, base: &str) -> Option<u64> {
    let res = client
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    let v: serde_json::Value = res.json().await.ok()?;
    v["event_seq"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_jobs_run_exactly_once_across_kill_9() {
    let mut server = Server::start("").await;
    server.terminate();
    let data = server.data_dir().to_path_buf();
    let client = Server::client();
    let base = server.base_url();
    let mut seeded: HashMap<u64, u64> = HashMap::new();
    let mut killed_mid_run = false;
    // Usually the first attempt lands mid-run; if the probes all ran before
    // the first look, seed another 10,000 and try again.
    for attempt in 0..3u64 {
        let (ids, seq0) = seed(&data, attempt * TOTAL, (attempt + 1) * TOTAL).await;
        seeded.extend(ids);
        let mut child = spawn_serve(&server);
        let started = Instant::now();
        let mut seen = None;
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the server exited ({status})\n--- server log ---\n{}",
                    server.log()
                );
            }
            if let Some(seq) = event_seq(&client, &base).await
                && seq > seq0
            {
                seen = Some(seq - seq0);
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        let Some(seen) = seen else {
            panic!(
                "no job ran within 60 s of the start: does `serve` start the scheduler?\n\
                 --- server log ---\n{}",
                server.log()
            );
        };
        let (left, _) = stored_probes(&data).await;
        eprintln!(
            "attempt {attempt}: killed after {seen} new events; {left} probes left of {}",
            seeded.len()
        );
        if left > 0 && left < TOTAL {
            killed_mid_run = true;
            break;
        }
    }
    assert!(
        killed_mid_run,
        "the probes always finished before the kill (or none ran)"
    );
    // Restart and let the rest run.
    let (left, seq) = stored_probes(&data).await;
    server.restart().await;
    let done = common::wait_for(Duration::from_secs(120), || {
        let (client, base) = (client.clone(), base.clone());
        async move { event_seq(&client, &base).await.filter(|s| *s >= seq + left) }
    })
    .await;
    assert!(
        done.is_some(),
        "the {left} probes left did not run after the restart\n--- server log ---\n{}",
        server.log()
    );
    server.terminate();
    let store = open(&data);
    let events = store
        .read(|r| {
            let mut out = Vec::new();
            let mut after = 0;
            loop {
                let page = r.events_after(after, 10_000)?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                out.extend(page);
            }
            Ok(out)
        })
        .await
        .unwrap();
    let mut runs: HashMap<u64, u32> = HashMap::new();
    for e in &events {
        if let EventKind::JobRan { job, .. } = e.kind
            && let Some(n) = seeded.get(&job)
        {
            *runs.entry(*n).or_default() += 1;
        }
    }
    let total = seeded.len() as u64;
    let missing: Vec<u64> = (0..total).filter(|n| !runs.contains_key(n)).collect();
    let doubled: Vec<(u64, u32)> = runs
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(n, c)| (*n, *c))
        .collect();
    assert!(
        missing.is_empty(),
        "{} probes never ran (first: {:?})",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(doubled.is_empty(), "probes ran twice: {doubled:?}");
    assert_eq!(runs.len() as u64, total);
    let (count, report) = (
        store.read(|r| r.job_count()).await.unwrap(),
        store.verify().unwrap(),
    );
    assert_eq!(count, 0, "jobs left in the table");
    assert!(report.ok(), "{:?}", report.problems);
    store.shutdown().await;
}
