//! `atalaya bench scheduler`: the durable scheduler with a large table of
//! pending jobs. Stores `--jobs` far-future jobs (insert rate, file size,
//! memory), times the next-due lookup, then runs the real [`Scheduler`] on
//! the wall clock while `--timed` probes due over the next `--spread-ms`
//! are added in small batches, and reports how late each one fired.
//! "Fired" is when the commit that ran it became visible (the store's
//! commit notification), not when its transaction started. Numbers are
//! printed, never asserted.

use super::{data_dir, fail};
use crate::domain::{ConversationId, EventKind, SystemClock, Ts};
use crate::metrics::Metrics;
use crate::scheduler::{self, Effect, JobKind, Options, Scheduler};
use crate::store::{Store, StoreOptions};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct SchedulerArgs {
    /// Pending jobs stored (far in the future) while the timed ones fire.
    #[arg(long, default_value_t = 1_000_000)]
    pub jobs: usize,
    /// Jobs stored per write transaction while filling the table.
    #[arg(long, default_value_t = 10_000)]
    pub insert_batch: usize,
    /// Timed probes, due over the next `--spread-ms`.
    #[arg(long, default_value_t = 2_000)]
    pub timed: usize,
    /// The window the timed probes are due in (ms from their start).
    #[arg(long, default_value_t = 20_000)]
    pub spread_ms: u64,
    /// Timed probes stored per write (each write wakes the runner).
    #[arg(long, default_value_t = 20)]
    pub timed_batch: usize,
    /// redb page cache in MiB.
    #[arg(long, default_value_t = 64)]
    pub cache_mb: usize,
    /// Data directory (default: a temporary directory). A store that already
    /// holds jobs is used as it is.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// `VmRSS` and `RssAnon` of this process, in KiB.
fn rss_kb() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("RssAnon:"))
}

fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

fn rss_text((rss, anon): (u64, u64)) -> String {
    format!("RSS {} (anon {})", mib(rss), mib(anon))
}

fn bar(len: u64, what: &str) -> indicatif::ProgressBar {
    indicatif::ProgressBar::new(len).with_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what}  {{per_sec}}  eta {{eta}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    )
}

fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

fn pct_ms(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

pub async fn scheduler(args: SchedulerArgs) -> Result<(), crate::cli::Failure> {
    let (dir, _tmp) = data_dir(args.data.as_ref())?;
    let metrics = Arc::new(Metrics::default());
    let clock = Arc::new(SystemClock);
    let store = Store::open(
        &dir,
        StoreOptions {
            cache_bytes: args.cache_mb << 20,
            ..StoreOptions::default()
        },
        clock.clone(),
        metrics.clone(),
    )
    .map_err(|e| fail(e.to_string()))?;
    let err = |e: crate::store::StoreError| fail(e.to_string());
    let rss_start = rss_kb();
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);

    // 1. Fill the table with far-future jobs (due in 1 to 365 days, random
    //    order; half of them keyed like follow-ups).
    let stored = store.read(|r| r.job_count()).await.map_err(err)?;
    let to_add = (args.jobs as u64).saturating_sub(stored) as usize;
    eprintln!(
        "bench scheduler: {stored} jobs stored, adding {to_add} (batches of {})",
        args.insert_batch.max(1)
    );
    let start = clock_now();
    let b = bar(to_add as u64, "jobs");
    let t0 = Instant::now();
    let mut added = 0usize;
    while added < to_add {
        let n = args.insert_batch.max(1).min(to_add - added);
        let plan: Vec<(i64, u64)> = (0..n)
            .map(|_| {
                (
                    rng.random_range(86_400_000..365 * 86_400_000i64),
                    rng.random_range(1..1_000_000u64),
                )
            })
            .collect();
        let first = stored + added as u64;
        store
            .write(move |tx| {
                for (i, (offset, conv)) in plan.into_iter().enumerate() {
                    let n = first + i as u64;
                    let (kind, key) = if n.is_multiple_of(2) {
                        (
                            JobKind::FollowUp {
                                conversation: ConversationId(conv),
                            },
                            Some(format!("followup:{n}")),
                        )
                    } else {
                        (
                            JobKind::SnoozeWake {
                                conversation: ConversationId(conv),
                                until: start.plus_ms(offset),
                            },
                            None,
                        )
                    };
                    scheduler::schedule_in(tx, kind, start.plus_ms(offset), key, None)?;
                }
                Ok(())
            })
            .await
            .map_err(err)?;
        added += n;
        b.inc(n as u64);
    }
    let insert_time = t0.elapsed();
    b.finish_and_clear();
    let rss_filled = rss_kb();
    let file_bytes = std::fs::metadata(store.path())
        .map(|m| m.len())
        .unwrap_or(0);
    let count = store.read(|r| r.job_count()).await.map_err(err)?;
    if to_add > 0 {
        println!(
            "insert: {to_add} jobs in {:.2} s = {:.0} jobs/s ({} per commit)",
            insert_time.as_secs_f64(),
            to_add as f64 / insert_time.as_secs_f64().max(1e-9),
            args.insert_batch.max(1)
        );
    }
    println!(
        "stored: {count} jobs, redb file {:.1} MiB ({:.0} bytes/job)",
        file_bytes as f64 / (1 << 20) as f64,
        file_bytes as f64 / count.max(1) as f64
    );
    println!(
        "memory: {} at start, {} after filling",
        rss_text(rss_start),
        rss_text(rss_filled)
    );

    // 2. The runner's lookup: the first key of the due-ordered table.
    let mut direct = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let t = Instant::now();
        store.read_blocking(|r| r.next_job_due()).map_err(err)?;
        direct.push(t.elapsed().as_micros() as i64);
    }
    let mut via_pool = Vec::with_capacity(200);
    for _ in 0..200 {
        let t = Instant::now();
        store.read(|r| r.next_job_due()).await.map_err(err)?;
        via_pool.push(t.elapsed().as_micros() as i64);
    }
    direct.sort_unstable();
    via_pool.sort_unstable();
    println!(
        "next due job with {count} stored: p50 {:.1} µs, p99 {:.1} µs (read transaction + first key); \
         through spawn_blocking p50 {:.1} µs",
        pct_ms(&direct, 0.5) * 1000.0,
        pct_ms(&direct, 0.99) * 1000.0,
        pct_ms(&via_pool, 0.5) * 1000.0
    );

    // 3. The real scheduler on the wall clock.
    let noop: Effect = Arc::new(|_, _| Ok(()));
    let sched = Arc::new(Scheduler::new(store.clone(), noop, Options::default()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = sched.clone().spawn(clock.clone(), stop_rx);

    // Timed probes: id -> due (ms). Shared with the watcher.
    let timed: Arc<std::sync::Mutex<HashMap<u64, i64>>> = Arc::default();
    let timed_total = args.timed;
    let watcher = {
        let (store, timed) = (store.clone(), timed.clone());
        let mut seq_rx = store.subscribe();
        let mut last = store.committed_seq();
        tokio::spawn(async move {
            let mut late_us: Vec<i64> = Vec::with_capacity(timed_total);
            let deadline = Instant::now() + Duration::from_secs(120);
            while late_us.len() < timed_total && Instant::now() < deadline {
                if tokio::time::timeout(Duration::from_secs(1), seq_rx.changed())
                    .await
                    .is_ok_and(|r| r.is_err())
                {
                    break;
                }
                // Observed right after the commit notification; events of
                // later commits wait for their own notification.
                let seen = now_us();
                let upto = *seq_rx.borrow_and_update();
                let after = last;
                let Ok(events) = store.read(move |r| r.events_after(after, 100_000)).await else {
                    continue;
                };
                for e in events.into_iter().take_while(|e| e.seq <= upto) {
                    last = e.seq;
                    if let EventKind::JobRan { job, .. } = e.kind {
                        let due = timed.lock().ok().and_then(|t| t.get(&job).copied());
                        if let Some(due) = due {
                            late_us.push(seen - due * 1000);
                        }
                    }
                }
            }
            late_us
        })
    };
    let sampler = {
        let (stop, mut peak) = (stop_tx.subscribe(), (0u64, 0u64));
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while !*stop.borrow() {
                let r = rss_kb();
                peak = (peak.0.max(r.0), peak.1.max(r.1));
                samples.push(r);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            (peak, samples)
        })
    };
    eprintln!(
        "runner started; adding {} probes due over the next {:.0} s, {} per write",
        args.timed,
        args.spread_ms as f64 / 1000.0,
        args.timed_batch.max(1)
    );
    let b = bar(args.timed as u64, "probes added");
    let batches = args.timed.div_ceil(args.timed_batch.max(1)).max(1);
    // Additions run over the first half of the window; each probe is due
    // 0.2 s to `spread` after the start, never in the past when added.
    let pause = Duration::from_millis(args.spread_ms / 2 / batches as u64);
    let window_start = clock_now();
    let mut left = args.timed;
    let t_add = Instant::now();
    for _ in 0..batches {
        let n = args.timed_batch.max(1).min(left);
        if n == 0 {
            break;
        }
        left -= n;
        let now = clock_now();
        let lo = (now.0 - window_start.0 + 200).max(200);
        let hi = (args.spread_ms as i64).max(lo + 1);
        let dues: Vec<Ts> = (0..n)
            .map(|_| window_start.plus_ms(rng.random_range(lo..hi)))
            .collect();
        let mut first_probe = (args.timed - left - n) as u64;
        let jobs = store
            .write(move |tx| {
                dues.into_iter()
                    .map(|due| {
                        let kind = JobKind::Probe { n: first_probe };
                        first_probe += 1;
                        scheduler::schedule_in(tx, kind, due, None, None).map(|j| (j.id, j.due.0))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .map_err(err)?;
        if let Ok(mut t) = timed.lock() {
            for (id, due) in jobs {
                t.insert(id, due);
            }
        }
        sched.wake.notify_one();
        b.inc(n as u64);
        tokio::time::sleep(pause).await;
    }
    b.finish_and_clear();
    eprintln!(
        "probes added in {:.1} s; waiting for them to fire…",
        t_add.elapsed().as_secs_f64()
    );
    let mut late_us = watcher.await.map_err(|e| fail(e.to_string()))?;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), runner).await;
    let ((peak_rss, peak_anon), samples) = sampler.await.map_err(|e| fail(e.to_string()))?;
    let rss_end = rss_kb();
    let left = store.read(|r| r.job_count()).await.map_err(err)?;
    store.shutdown().await;

    late_us.sort_unstable();
    let early = late_us.iter().filter(|&&l| l < 0).count();
    println!(
        "timed probes: {}/{} fired; lateness (due -> commit observed) p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms{}",
        late_us.len(),
        args.timed,
        pct_ms(&late_us, 0.5),
        pct_ms(&late_us, 0.99),
        late_us.last().copied().unwrap_or(0) as f64 / 1000.0,
        if early > 0 {
            format!(" ({early} EARLY)")
        } else {
            String::new()
        }
    );
    let first = samples.first().copied().unwrap_or_default();
    println!(
        "memory while running: {} at the start, peak RSS {} (anon {}), {} after; {} jobs left stored",
        rss_text(first),
        mib(peak_rss),
        mib(peak_anon),
        rss_text(rss_end),
        left
    );
    println!(
        "commits: {} ({} commands)",
        metrics.commits.get(),
        metrics.committed_commands.get()
    );
    Ok(())
}

fn clock_now() -> Ts {
    use crate::domain::Clock;
    SystemClock.now()
}
