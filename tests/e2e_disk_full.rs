//! A full disk (simulated with a file-size limit, `ulimit -f`): writes fail
//! with a clear 503, nothing acknowledged is lost, the process stays up, and
//! after a restart with space the store is intact and takes writes again.

mod common;

use atalaya::metrics::Metrics;
use atalaya::store::{Store, StoreOptions};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the server; with `limit_kib`, every file it writes is capped there.
fn spawn(data: &std::path::Path, port: u16, limit_kib: Option<u32>, log: &std::path::Path) -> Proc {
    let bin = env!("CARGO_BIN_EXE_atalaya");
    let limit = limit_kib
        .map(|k| format!("ulimit -f {k}; "))
        .unwrap_or_default();
    // SIGXFSZ ignored: a write past the limit fails with EFBIG, as on a full disk.
    let script =
        format!("trap '' XFSZ; {limit}exec \"$0\" serve --listen 127.0.0.1:{port} --data \"$1\"");
    let log = std::fs::File::create(log).unwrap();
    Proc(
        Command::new("bash")
            .args(["-c", &script, bin])
            .arg(data)
            .env("ATALAYA_ADMIN_EMAIL", "admin@example.test")
            .env("ATALAYA_ADMIN_PASSWORD", "disk-full-pass")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

async fn healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server never became healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_gives_503_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = common::Server::client();
    let mut server = spawn(&data, port, Some(2048), &log);
    healthy(&http, &base).await;
    let token: serde_json::Value = http
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"email": "admin@example.test", "password": "disk-full-pass"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let filler = "El pedido llegó roto y nadie contesta. ".repeat(40);
    let mut acked = Vec::new();
    let mut refused = 0;
    for i in 0..20_000 {
        let r = http
            .post(format!("{base}/api/v1/inbound"))
            .bearer_auth(&token)
            .json(&json!({"external_id": format!("d{i}"), "from": {"handle": format!("@u{}", i % 97)}, "text": filler}))
            .send()
            .await
            .expect("the server stays up");
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.expect("a JSON answer, also on failure");
        match status {
            201 => acked.push((format!("d{i}"), body["message_id"].as_u64().unwrap())),
            503 => {
                assert!(
                    body["error"].as_str().unwrap().contains("storage"),
                    "{body}"
                );
                refused += 1;
                if refused >= 3 {
                    break;
                }
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(refused >= 3, "the file-size limit was never reached");
    assert!(acked.len() > 10, "some messages fit before the disk filled");
    let h = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(h.status(), 503);
    let hv: serde_json::Value = h.json().await.unwrap();
    assert_eq!(hv["failing"][0], "store");
    assert!(server.0.try_wait().unwrap().is_none(), "still running");
    server.0.kill().unwrap();
    server.0.wait().unwrap();

    // With space again: every acknowledged message is there, exactly once.
    let store = Store::open(
        &data,
        StoreOptions::default(),
        std::sync::Arc::new(atalaya::domain::SystemClock),
        std::sync::Arc::new(Metrics::default()),
    )
    .unwrap();
    let report = store.verify().unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    let lost = store
        .read_blocking(|r| {
            let mut lost = Vec::new();
            for (ext, id) in &acked {
                if r.dedupe("api", ext)? != Some(atalaya::domain::MessageId(*id)) {
                    lost.push(ext.clone());
                }
            }
            Ok(lost)
        })
        .unwrap();
    assert!(lost.is_empty(), "lost after a full disk: {lost:?}");
    store.shutdown().await;
    drop(store);
    let _server = spawn(&data, port, None, &log);
    healthy(&http, &base).await;
    let r = http
        .post(format!("{base}/api/v1/inbound"))
        .bearer_auth(&token)
        .json(
            &json!({"external_id": "after", "from": {"handle": "@late"}, "text": "¿hay alguien?"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}
