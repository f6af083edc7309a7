//! The HTTP API as the channel tests read it: conversations followed across
//! pages, message totals, and waiting for ingest to reach a count.

use std::time::Duration;

use serde_json::Value;

use super::{Server, wait_for};

/// `GET /api/v1{path}` as `token`; any non-2xx fails the test.
pub async fn get(server: &Server, token: &str, path: &str) -> Value {
    let res = Server::client()
        .get(format!("{}/api/v1{path}", server.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "GET {path}: {}", res.status());
    res.json().await.unwrap()
}

/// Every conversation (all statuses), following the cursor.
pub async fn all_conversations(server: &Server, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let v = get(
            server,
            token,
            &format!("/conversations?status=all&limit=200&sort=oldest&cursor={cursor}"),
        )
        .await;
        out.extend(v["items"].as_array().unwrap().iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = c.to_string(),
            _ => return out,
        }
    }
}

/// Messages stored over every conversation.
pub async fn message_total(server: &Server, token: &str) -> u64 {
    all_conversations(server, token)
        .await
        .iter()
        .map(|c| c["message_count"].as_u64().unwrap_or_default())
        .sum()
}

/// Wait until at least `n` messages are stored; the total reached.
pub async fn wait_messages(server: &Server, token: &str, n: u64, timeout: Duration) -> u64 {
    let got = wait_for(timeout, || async {
        let t = message_total(server, token).await;
        (t >= n).then_some(t)
    })
    .await;
    match got {
        Some(t) => t,
        None => panic!(
            "expected {n} messages, have {}\n--- server log ---\n{}",
            message_total(server, token).await,
            server.log()
        ),
    }
}
