//! kill -9 between sending a reply and recording the result: after the
//! restart the webhook receives the same reply again with the same
//! Idempotency-Key, so it can drop the repeat, and the reply ends "sent".

mod common;

use common::{Server, wait_for};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Hook {
    seen: Arc<Mutex<Vec<(String, u64)>>>,
}

async fn hook(
    axum::extract::State(h): axum::extract::State<Hook>,
    headers: axum::http::HeaderMap,
    body: String,
) -> &'static str {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let first = {
        let mut seen = h.seen.lock().unwrap();
        seen.push((key, v["message_id"].as_u64().unwrap_or(0)));
        seen.len() == 1
    };
    if first {
        // Hold the first delivery: the sender is killed before it hears back.
        std::future::pending::<()>().await;
    }
    "ok"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_kill_9_carries_the_same_idempotency_key() {
    let h = Hook::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(h.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let mut server = Server::start(&format!(
        "[outbox]\nmin_backoff = \"100ms\"\ntimeout = \"60s\"\n[[channel.api]]\nname = \"api\"\nwebhook_url = \"{hook_url}\"\n"
    ))
    .await;
    let http = Server::client();
    let base = server.base_url();
    let token = server.admin_token().await;
    let r: serde_json::Value = http
        .post(format!("{base}/api/v1/inbound"))
        .bearer_auth(&token)
        .json(&json!({"external_id": "x1", "from": {"handle": "@ana"}, "text": "¿y mi reembolso?"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let conv = r["conversation_id"].as_u64().unwrap();
    let reply: serde_json::Value = http
        .post(format!("{base}/api/v1/conversations/{conv}/messages"))
        .bearer_auth(&token)
        .json(&json!({"text": "Te lo devolvemos hoy"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mid = reply["message_id"].as_u64().unwrap();
    let seen = h.seen.clone();
    wait_for(Duration::from_secs(15), || {
        let n = seen.lock().unwrap().len();
        async move { (n >= 1).then_some(()) }
    })
    .await
    .expect("the first delivery attempt reached the webhook");
    server.kill9();
    server.restart().await;
    let seen2 = h.seen.clone();
    wait_for(Duration::from_secs(20), || {
        let n = seen2.lock().unwrap().len();
        async move { (n >= 2).then_some(()) }
    })
    .await
    .unwrap_or_else(|| panic!("no retry after the restart\n{}", server.log()));
    let got = h.seen.lock().unwrap().clone();
    assert_eq!(got[0].1, mid);
    assert_eq!(got[1].1, mid);
    assert!(!got[0].0.is_empty());
    assert_eq!(got[0].0, got[1].0, "the retry reuses the idempotency key");
    let token = server.admin_token().await;
    let delivered = wait_for(Duration::from_secs(15), || {
        let (http, url, token) = (
            http.clone(),
            format!("{base}/api/v1/conversations/{conv}"),
            token.clone(),
        );
        async move {
            let v: serde_json::Value = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let m = v["messages"]
                .as_array()?
                .iter()
                .find(|m| m["id"].as_u64() == Some(mid))?
                .clone();
            (m["delivery"] == "sent").then_some(m)
        }
    })
    .await;
    assert!(delivered.is_some(), "the reply ends sent\n{}", server.log());
    assert_eq!(h.seen.lock().unwrap().len(), 2, "sent once more, not more");
}
