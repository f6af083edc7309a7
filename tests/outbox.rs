//! The outbox against a real local webhook receiver: retries with one
//! idempotency key, backoff on 5xx and timeouts, permanent 4xx failures shown
//! to the agent, HMAC signatures.

use atalaya::app::{App, auth};
use atalaya::config::{Config, Overrides};
use atalaya::domain::*;
use atalaya::workers::{self};
use axum::http::{HeaderMap, StatusCode};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// (idempotency key, signature, timestamp, body) of each request.
type Seen = Vec<(String, String, String, String)>;

#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Seen>>,
    script: Arc<Mutex<Vec<&'static str>>>,
}

async fn receiver(r: Receiver) -> String {
    async fn hook(
        axum::extract::State(r): axum::extract::State<Receiver>,
        h: HeaderMap,
        body: String,
    ) -> (StatusCode, &'static str) {
        let get = |k: &str| {
            h.get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        r.seen.lock().unwrap().push((
            get("idempotency-key"),
            get("x-atalaya-signature"),
            get("x-atalaya-timestamp"),
            body,
        ));
        let next = {
            let mut s = r.script.lock().unwrap();
            if s.is_empty() { "ok" } else { s.remove(0) }
        };
        match next {
            "500" => (StatusCode::INTERNAL_SERVER_ERROR, "try later"),
            "hang" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                (StatusCode::OK, "late")
            }
            "400" => (StatusCode::BAD_REQUEST, "recipient blocked the business"),
            _ => (StatusCode::OK, "ok"),
        }
    }
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(r);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}/hook")
}

async fn setup(
    url: &str,
) -> (
    Arc<App>,
    tempfile::TempDir,
    tokio::sync::watch::Sender<bool>,
) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(
        &p,
        format!(
            "[outbox]\nmin_backoff = \"50ms\"\nmax_backoff = \"200ms\"\ntimeout = \"300ms\"\nmax_attempts = 6\n\
             [[channel.api]]\nname = \"api\"\nwebhook_url = \"{url}\"\nwebhook_secret = \"hook-secret\"\n"
        ),
    )
    .unwrap();
    let cfg = Config::load(
        Some(&p),
        std::iter::empty(),
        &Overrides {
            listen: None,
            data: Some(dir.path().join("d")),
        },
    )
    .unwrap();
    let app = App::open(cfg, Arc::new(SystemClock)).unwrap();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let a = app.clone();
    workers::spawn(
        move || workers::outbox::OutboxWorker::new(a.clone()),
        app.workers.clone(),
        rx,
        Some(app.outbox_wake.clone()),
    );
    (app, dir, stop)
}

async fn conversation(app: &App) -> (Caller, ConversationId) {
    let admin = auth::create_user(
        &app.store,
        "a@x.test",
        "Ana Agent",
        Role::Admin,
        "password-1",
    )
    .await
    .unwrap();
    let out = app
        .ingest(atalaya::ingest::InboundMessage {
            channel: "api".into(),
            kind: ChannelKind::Api,
            external_id: "in-1".into(),
            thread: Some("t-1".into()),
            author: atalaya::ingest::AuthorProfile {
                handle: "@cli".into(),
                ..Default::default()
            },
            text: "¿dónde está mi pedido?".into(),
            html: None,
            subject: None,
            attachments: vec![],
            public: true,
            sent_at: None,
        })
        .await
        .unwrap();
    (Caller::Staff(admin), out.conversation)
}

use atalaya::app::Caller;

async fn wait_delivery(app: &App, id: MessageId, want: Delivery) -> Message {
    for _ in 0..200 {
        let m = app
            .store
            .read(move |r| r.message(id))
            .await
            .unwrap()
            .unwrap();
        if m.delivery == Some(want) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("message {id} never reached {want:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_keep_one_idempotency_key_until_delivered() {
    let r = Receiver::default();
    r.script.lock().unwrap().extend(["500", "hang", "500"]);
    let url = receiver(r.clone()).await;
    let (app, _dir, _stop) = setup(&url).await;
    let (caller, conv) = conversation(&app).await;
    let out = app
        .reply(
            &caller,
            conv,
            "Sale hoy, perdón por la espera",
            false,
            false,
        )
        .await
        .unwrap();
    assert_eq!(out.delivery, Some(Delivery::Queued));
    let m = wait_delivery(&app, out.message, Delivery::Sent).await;
    assert!(m.delivery_detail.is_none());
    let seen = r.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "500, timeout, 500, then 200");
    let key = &seen[0].0;
    assert!(key.starts_with("atalaya-"));
    for (k, sig, ts, body) in &seen {
        assert_eq!(k, key, "every retry carries the same key");
        let expect =
            atalaya::channels::api::signature("hook-secret", ts.parse().unwrap(), body.as_bytes());
        assert_eq!(sig, &expect);
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["thread"], "t-1");
        assert_eq!(v["in_reply_to"], "in-1");
        assert_eq!(v["author"], "Ana Agent");
    }
    assert_eq!(app.store.read(|r| r.outbox_open_count()).await.unwrap(), 0);
    assert!(app.metrics.delivery_retries.get() >= 3);
    // Every attempt and its outcome is in the event log.
    let events = app.store.read(|r| r.events_after(0, 1000)).await.unwrap();
    let attempts: Vec<u32> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::DeliveryAttempted { attempt, .. } => Some(attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [1, 2, 3, 4]);
    let outcomes: Vec<Delivery> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::DeliveryChanged { delivery, .. } => Some(*delivery),
            _ => None,
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            Delivery::Queued,
            Delivery::Queued,
            Delivery::Queued,
            Delivery::Sent
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_refusal_marks_the_reply_failed_with_the_reason() {
    let r = Receiver::default();
    r.script.lock().unwrap().push("400");
    let url = receiver(r.clone()).await;
    let (app, _dir, _stop) = setup(&url).await;
    let (caller, conv) = conversation(&app).await;
    let out = app
        .reply(&caller, conv, "hola", false, false)
        .await
        .unwrap();
    let m = wait_delivery(&app, out.message, Delivery::Failed).await;
    assert!(
        m.delivery_detail
            .unwrap()
            .contains("recipient blocked the business")
    );
    assert_eq!(r.seen.lock().unwrap().len(), 1, "a 4xx is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_webhook_gives_up_after_max_attempts() {
    // A port nothing listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    drop(l);
    let (app, _dir, _stop) = setup(&url).await;
    let (caller, conv) = conversation(&app).await;
    let out = app
        .reply(&caller, conv, "hola", false, false)
        .await
        .unwrap();
    let m = wait_delivery(&app, out.message, Delivery::Failed).await;
    let detail = m.delivery_detail.unwrap();
    assert!(
        !detail.contains("/hook"),
        "the URL (it may hold a secret) is not shown: {detail}"
    );
    assert!(
        detail.contains("gave up after 6 attempts") && detail.contains("unreachable"),
        "{detail}"
    );
}
