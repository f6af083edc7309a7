//! `atalaya serve --demo`: the real binary with its built-in fake networks.
//! Conversations from Telegram, Mastodon, X and Facebook fill the inbox through the
//! real connectors, brand chatter lands in the Mentions stream, replies go
//! out through the outbox and reach "sent", and the demo's temporary data
//! directory (never the configured one) is removed on exit.

mod common;

use common::{Server, free_port, toml_string, wait_for};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EMAIL: &str = "demo-admin@example.test";
const PASSWORD: &str = "demo-password-for-tests-1";

struct Demo {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
}

impl Demo {
    fn start() -> Demo {
        let dir = tempfile::Builder::new()
            .prefix("atalaya-demo-test-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let config = dir.path().join("atalaya.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = {}\ndata = {}\n",
                toml_string(&format!("127.0.0.1:{port}")),
                toml_string(&dir.path().join("data").to_string_lossy())
            ),
        )
        .unwrap();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("server.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_atalaya"))
            .args(["serve", "--demo", "--demo-interval", "1s", "--config"])
            .arg(&config)
            .env_remove("ATALAYA_DATA")
            .env_remove("ATALAYA_LISTEN")
            .env_remove("ATALAYA_CONFIG")
            .env_remove("ATALAYA_DEMO_BURST")
            .env("ATALAYA_ADMIN_EMAIL", EMAIL)
            .env("ATALAYA_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", "warn")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn atalaya");
        Demo {
            child: Some(child),
            dir,
            port,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        let res = Server::client()
            .get(self.url(&format!("/api/v1{path}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.json().await.unwrap()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test]
async fn demo_mode_fills_the_inbox_from_fake_networks_and_replies_are_sent() {
    let started = Instant::now();
    let mut demo = Demo::start();
    let client = Server::client();

    // Healthy, and signed in with the first admin.
    let healthy = wait_for(Duration::from_secs(30), || async {
        let r = client.get(demo.url("/healthz")).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    assert!(healthy.is_some(), "not healthy:\n{}", demo.log());
    let res = client
        .post(demo.url("/api/v1/login"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login:\n{}", demo.log());
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();

    // The startup banner names the mode, the channels and where data goes.
    let log = demo.log();
    assert!(log.contains("DEMO MODE"), "{log}");
    let demo_dir = log
        .lines()
        .find_map(|l| l.strip_prefix("demo data directory: "))
        .and_then(|l| l.split(" (").next())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| panic!("no demo data directory in the log:\n{log}"));
    assert!(demo_dir.is_dir(), "{}", demo_dir.display());
    // The configured data directory is never used.
    assert!(!demo.dir.path().join("data").exists());
    assert!(
        !log.contains("DEMO-not-a-real-token"),
        "a token in the log:\n{log}"
    );

    // Conversations from the three networks appear.
    let want: BTreeSet<&str> = ["demo-telegram", "demo-mastodon", "demo-x", "demo-facebook"].into();
    let convs = wait_for(Duration::from_secs(20), || async {
        let v = demo
            .get(&token, "/conversations?status=all&limit=200")
            .await;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        let seen: BTreeSet<&str> = items
            .iter()
            .filter_map(|c| c["channel"].as_str())
            .filter(|c| want.contains(c))
            .map(|c| *want.get(c).unwrap())
            .collect();
        (seen == want && items.len() >= 10).then_some(items)
    })
    .await
    .unwrap_or_else(|| panic!("no conversations from every network:\n{}", demo.log()));

    // Mentions without a trigger word went to the Mentions stream.
    let stream = wait_for(Duration::from_secs(10), || async {
        let v = demo.get(&token, "/stream").await;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        (!items.is_empty()).then_some(items)
    })
    .await
    .unwrap_or_else(|| panic!("nothing in the Mentions stream:\n{}", demo.log()));
    assert!(
        stream
            .iter()
            .all(|i| want.contains(i["channel"].as_str().unwrap_or("")))
    );

    // A reply on each network goes out through the outbox and is sent.
    for channel in &want {
        let conv = convs
            .iter()
            .find(|c| c["channel"] == *channel)
            .unwrap()
            .clone();
        let id = conv["id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| conv["id"].to_string());
        let res = client
            .post(demo.url(&format!("/api/v1/conversations/{id}/messages")))
            .bearer_auth(&token)
            .json(&json!({"text": format!("Gracias por escribirnos, lo revisamos ahora mismo ({channel}).")}))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or_default();
        assert_eq!(status, 201, "reply on {channel}: {body}");
        let mid = body["message_id"].clone();
        let sent = wait_for(Duration::from_secs(15), || async {
            let v = demo.get(&token, &format!("/conversations/{id}")).await;
            let m = v["messages"]
                .as_array()?
                .iter()
                .find(|m| m["id"] == mid)?
                .clone();
            (m["delivery"] == "sent").then_some(())
        })
        .await;
        assert!(
            sent.is_some(),
            "the reply on {channel} was not sent: {}\n{}",
            demo.get(&token, &format!("/conversations/{id}")).await,
            demo.log()
        );
    }

    // A clean stop removes the demo's data directory.
    let mut child = demo.child.take().unwrap();
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "no exit after SIGTERM:\n{}",
            demo.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}\n{}", demo.log());
    assert!(
        !demo_dir.exists(),
        "{} was left behind\n{}",
        demo_dir.display(),
        demo.log()
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}
