//! The search index against the real binary: kill -9 during heavy ingest,
//! then after restart the index holds exactly the store's messages; a
//! deleted index directory is rebuilt at start; `atalaya reindex` rebuilds
//! on demand.

mod common;

use common::api::all_conversations;
use common::{Server, wait_for};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "search-e2e-token";

async fn search(server: &Server, token: &str, q: &str) -> Value {
    let res = Server::client()
        .get(format!("{}/api/v1/search", server.base_url()))
        .query(&[("q", q), ("limit", "5")])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    if status.as_u16() == 503 {
        return Value::Null;
    }
    assert!(status.is_success(), "search {q}: {status} {v}");
    v
}

/// Wait until every conversation of the store is in the index (the common
/// word is in every message), and return the conversation count.
async fn caught_up(server: &Server, token: &str) -> usize {
    let convs = all_conversations(server, token).await.len();
    let ok = wait_for(Duration::from_secs(60), || async {
        let v = search(server, token, "pedido").await;
        (v["total"].as_u64() == Some(convs as u64)).then_some(())
    })
    .await;
    assert!(
        ok.is_some(),
        "the index did not reach {convs} conversations: {}\n{}",
        search(server, token, "pedido").await,
        server.log()
    );
    convs
}

/// Every acknowledged message is found by its own word, exactly once, as
/// the right message.
async fn each_message_found(server: &Server, token: &str, acked: &HashMap<usize, u64>) {
    for (i, mid) in acked {
        let v = search(server, token, &format!("u{i}q")).await;
        assert_eq!(v["total"], 1, "u{i}q: {v}");
        assert_eq!(
            v["hits"][0]["message_id"].as_u64(),
            Some(*mid),
            "u{i}q: {v}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_deleted_index_and_reindex() {
    let mut server = Server::start(&format!(
        "[[channel.api]]\nname = \"api\"\ntoken = \"{TOKEN}\"\n"
    ))
    .await;
    let url = format!("{}/api/v1/inbound", server.base_url());
    let acked: Arc<Mutex<HashMap<usize, u64>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_millis(2500);
    let mut producers = Vec::new();
    for _ in 0..4 {
        let (url, acked, next) = (url.clone(), acked.clone(), next.clone());
        producers.push(tokio::spawn(async move {
            let client = Server::client();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = json!({"channel": "api", "external_id": format!("e{i}"),
                    "thread": format!("t{}", i % 97),
                    "from": {"handle": format!("@c{}", i % 97)},
                    "text": format!("Mi pedido u{i}q no ha llegado, ¿me ayudáis?")});
                let Ok(res) = client
                    .post(&url)
                    .bearer_auth(TOKEN)
                    .json(&body)
                    .send()
                    .await
                else {
                    return;
                };
                if res.status().as_u16() != 201 {
                    return;
                }
                let v: Value = res.json().await.unwrap();
                acked
                    .lock()
                    .unwrap()
                    .insert(i, v["message_id"].as_u64().unwrap());
            }
        }));
    }
    // Kill while the producers are still writing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill9();
    for p in producers {
        let _ = p.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "too little ingest to be a test: {}",
        acked.len()
    );
    server.restart().await;
    let token = server.admin_token().await;
    let convs = caught_up(&server, &token).await;
    assert_eq!(
        convs,
        97.min(next.load(std::sync::atomic::Ordering::SeqCst))
    );
    each_message_found(&server, &token, &acked).await;

    // The index directory deleted while stopped: rebuilt at start.
    assert!(server.terminate().success());
    let index = server.data_dir().join("index");
    assert!(index.join("meta.json").exists());
    std::fs::remove_dir_all(&index).unwrap();
    server.restart().await;
    let token = server.admin_token().await;
    assert_eq!(caught_up(&server, &token).await, convs);
    each_message_found(&server, &token, &acked).await;
    assert!(
        server.log().contains("search index rebuilt from the store"),
        "{}",
        server.log()
    );

    // `atalaya reindex` on the stopped data directory.
    assert!(server.terminate().success());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atalaya"))
        .arg("reindex")
        .arg("--config")
        .arg(server.config_path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("indexed {convs} conversations")),
        "{stdout}"
    );
    server.restart().await;
    let token = server.admin_token().await;
    assert_eq!(caught_up(&server, &token).await, convs);
}
