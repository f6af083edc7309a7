//! Process metrics, rendered in the Prometheus text format at `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds (seconds) of the commit latency histogram.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                self.buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// Every metric of the process. Shared as `Arc<Metrics>`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub commits: Counter,
    pub commit_failures: Counter,
    pub committed_commands: Counter,
    pub commit_latency: Histogram,
    pub ingested: Counter,
    pub ingest_duplicates: Counter,
    pub replies_queued: Counter,
    pub deliveries_sent: Counter,
    pub deliveries_failed: Counter,
    pub delivery_retries: Counter,
    pub http_requests: Counter,
    pub login_failures: Counter,
}

impl Metrics {
    pub fn observe_commit(&self, d: Duration, commands: usize) {
        self.commits.inc();
        self.committed_commands.add(commands as u64);
        self.commit_latency.observe(d);
    }

    /// Render counters and the histogram; `gauges` adds point-in-time values
    /// (queue depths, worker states) as `(name, labels, value, help)`.
    pub fn render(&self, gauges: &[(&str, String, f64, &str)]) -> String {
        let mut out = String::with_capacity(4096);
        let counters: [(&str, &Counter, &str); 11] = [
            (
                "atalaya_commits_total",
                &self.commits,
                "Write transactions committed.",
            ),
            (
                "atalaya_commit_failures_total",
                &self.commit_failures,
                "Write batches that failed.",
            ),
            (
                "atalaya_committed_commands_total",
                &self.committed_commands,
                "Commands committed.",
            ),
            (
                "atalaya_ingested_total",
                &self.ingested,
                "Inbound messages stored.",
            ),
            (
                "atalaya_ingest_duplicates_total",
                &self.ingest_duplicates,
                "Inbound duplicates.",
            ),
            (
                "atalaya_replies_queued_total",
                &self.replies_queued,
                "Replies put in the outbox.",
            ),
            (
                "atalaya_deliveries_sent_total",
                &self.deliveries_sent,
                "Replies delivered.",
            ),
            (
                "atalaya_deliveries_failed_total",
                &self.deliveries_failed,
                "Replies failed.",
            ),
            (
                "atalaya_delivery_retries_total",
                &self.delivery_retries,
                "Delivery retries.",
            ),
            (
                "atalaya_http_requests_total",
                &self.http_requests,
                "HTTP requests served.",
            ),
            (
                "atalaya_login_failures_total",
                &self.login_failures,
                "Failed logins.",
            ),
        ];
        for (name, c, help) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                c.get()
            );
        }
        self.commit_latency.render(
            &mut out,
            "atalaya_commit_seconds",
            "Latency of one group commit (fsync included).",
        );
        let mut last = "";
        for (name, labels, value, help) in gauges {
            if *name != last {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
                last = name;
            }
            let _ = writeln!(out, "{name}{labels} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe_commit(Duration::from_micros(1500), 3);
        m.observe_commit(Duration::from_millis(30), 1);
        let text = m.render(&[("atalaya_queue_depth", "{queue=\"writer\"}".into(), 2.0, "q")]);
        assert!(text.contains("atalaya_commit_seconds_bucket{le=\"0.002\"} 1"));
        assert!(text.contains("atalaya_commit_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("atalaya_commit_seconds_count 2"));
        assert!(text.contains("atalaya_committed_commands_total 4"));
        assert!(text.contains("atalaya_queue_depth{queue=\"writer\"} 2"));
    }
}
