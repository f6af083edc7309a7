//! kill -9 during ingest: every message whose POST was acknowledged is stored
//! exactly once after a restart, and no conversation is corrupt.

mod common;

use atalaya::metrics::Metrics;
use atalaya::store::{Store, StoreOptions};
use common::Server;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOTAL: usize = 5_000;
const CLIENTS: usize = 8;
/// Acknowledged counts at which the server is killed with SIGKILL.
const KILL_AT: [usize; 3] = [900, 2_300, 3_700];

type Acks = Arc<Mutex<HashMap<String, (u64, u64)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9_exactly_once() {
    let mut server =
        Server::start("[[channel.api]]\nname = \"api\"\ntoken = \"crash-test-token\"\n").await;
    let url = format!("{}/api/v1/inbound", server.base_url());
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    let acks: Acks = Arc::default();
    let mismatches = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (url, next, acked, acks, mismatches) = (
            url.clone(),
            next.clone(),
            acked.clone(),
            acks.clone(),
            mismatches.clone(),
        );
        clients.push(tokio::spawn(async move {
            let http = Server::client();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= TOTAL {
                    return;
                }
                let ext = format!("k{i}");
                let body = json!({
                    "external_id": ext,
                    "thread": format!("t{}", i % 700),
                    "from": {"handle": format!("@c{}", i % 450), "name": format!("Cliente {}", i % 450)},
                    "text": format!("mensaje {i}: me cobraron dos veces el pedido #A-{i}"),
                });
                // Retry until acknowledged: the server may be dead or restarting.
                loop {
                    let r = http.post(&url).bearer_auth("crash-test-token").json(&body).send().await;
                    let Ok(r) = r else {
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        continue;
                    };
                    let status = r.status().as_u16();
                    if status != 200 && status != 201 {
                        assert!(status >= 500, "bad input answer {status} for {ext}");
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        continue;
                    }
                    let Ok(v) = r.json::<serde_json::Value>().await else {
                        continue;
                    };
                    let ids = (v["message_id"].as_u64().unwrap(), v["conversation_id"].as_u64().unwrap());
                    let mut map = acks.lock().unwrap();
                    if let Some(prev) = map.insert(ext.clone(), ids) {
                        if prev != ids {
                            mismatches.fetch_add(1, Ordering::SeqCst);
                        }
                    } else {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    break;
                }
            }
        }));
    }
    let mut kills = 0;
    for at in KILL_AT {
        while acked.load(Ordering::SeqCst) < at {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.kill9();
        kills += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.restart().await;
    }
    for c in clients {
        c.await.unwrap();
    }
    assert_eq!(kills, KILL_AT.len());
    assert_eq!(
        mismatches.load(Ordering::SeqCst),
        0,
        "a repeat POST answered other ids"
    );
    let status = server.terminate();
    assert!(status.success(), "SIGTERM exits 0\n{}", server.log());

    let store = Store::open(
        server.data_dir(),
        StoreOptions::default(),
        Arc::new(atalaya::domain::SystemClock),
        Arc::new(Metrics::default()),
    )
    .unwrap();
    let report = store.verify().unwrap();
    assert!(report.ok(), "integrity problems: {:?}", report.problems);
    assert_eq!(
        report.messages as usize, TOTAL,
        "every message exactly once"
    );
    let acks = acks.lock().unwrap().clone();
    assert_eq!(acks.len(), TOTAL);
    let missing = store
        .read_blocking(|r| {
            let mut bad = Vec::new();
            for (ext, (mid, cid)) in &acks {
                let stored = r.dedupe("api", ext)?;
                let msg = r.message(atalaya::domain::MessageId(*mid))?;
                let ok = stored == Some(atalaya::domain::MessageId(*mid))
                    && msg.is_some_and(|m| {
                        m.conversation.0 == *cid && m.external_id.as_deref() == Some(ext)
                    });
                if !ok {
                    bad.push(ext.clone());
                }
            }
            Ok(bad)
        })
        .unwrap();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored as acknowledged: {:?}",
        &missing[..missing.len().min(10)]
    );
}
