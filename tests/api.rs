//! In-process tests of every `/api/v1` route through the router (no socket).

use atalaya::app::{App, auth};
use atalaya::config::{Config, Overrides};
use atalaya::domain::*;
use atalaya::workers::Registry;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

struct T {
    app: Arc<App>,
    router: axum::Router,
    admin: String,
    _dir: tempfile::TempDir,
}

async fn setup(extra: &str) -> T {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("c.toml");
    std::fs::write(&cfg_path, extra).unwrap();
    let ov = Overrides {
        listen: None,
        data: Some(dir.path().join("data")),
    };
    let cfg = Config::load(Some(&cfg_path), std::iter::empty(), &ov).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let _registry = Arc::new(Registry::new(clock.clone()));
    let app = App::open(cfg, clock).unwrap();
    auth::create_user(
        &app.store,
        "admin@x.test",
        "Admin",
        Role::Admin,
        "admin-pass-1",
    )
    .await
    .unwrap();
    let router = atalaya::web::router(app.clone());
    let mut t = T {
        app,
        router,
        admin: String::new(),
        _dir: dir,
    };
    t.admin = t.login("admin@x.test", "admin-pass-1").await;
    t
}

impl T {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req
            .header("content-type", "application/json")
            .body(Body::from(body.unwrap_or("").to_string()))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, v)
    }

    async fn login(&self, email: &str, password: &str) -> String {
        let (s, v) = self
            .call(
                "POST",
                "/api/v1/login",
                None,
                Some(&json!({"email": email, "password": password}).to_string()),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["token"].as_str().unwrap().to_string()
    }

    async fn user(&self, email: &str, role: Role) -> String {
        auth::create_user(&self.app.store, email, "Someone Else", role, "password-123")
            .await
            .unwrap();
        self.login(email, "password-123").await
    }

    async fn inbound(&self, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            "POST",
            "/api/v1/inbound",
            Some(token),
            Some(&body.to_string()),
        )
        .await
    }
}

fn msg(ext: &str, handle: &str, text: &str) -> Value {
    json!({"external_id": ext, "from": {"handle": handle, "name": "Ana Pérez", "followers": 1200}, "text": text})
}

fn assert_error(s: StatusCode, v: &Value, want: StatusCode, contains: &str) {
    assert_eq!(s, want, "{v}");
    let e = v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no JSON error in {v}"));
    assert!(e.contains(contains), "{e:?} should mention {contains:?}");
}

#[tokio::test]
async fn login_happy_wrong_bad_and_throttled() {
    let t = setup("").await;
    assert!(!t.admin.is_empty());
    let (s, v) = t
        .call(
            "POST",
            "/api/v1/login",
            None,
            Some(r#"{"email":"admin@x.test","password":"nope-nope"}"#),
        )
        .await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "wrong email or password");
    let (s, v) = t
        .call(
            "POST",
            "/api/v1/login",
            None,
            Some(r#"{"email":"ghost@x.test","password":"nope-nope"}"#),
        )
        .await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "wrong email or password");
    let (s, v) = t.call("POST", "/api/v1/login", None, Some("{nope")).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid JSON");
    let (s, v) = t
        .call(
            "POST",
            "/api/v1/login",
            None,
            Some(r#"{"email":"a@x.test"}"#),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "password");
    let mut last = StatusCode::OK;
    for _ in 0..12 {
        last = t
            .call(
                "POST",
                "/api/v1/login",
                None,
                Some(r#"{"email":"admin@x.test","password":"x"}"#),
            )
            .await
            .0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn inbound_creates_dedupes_and_rejects_bad_input() {
    let t = setup("[[channel.api]]\nname = \"shop\"\ntoken = \"shop-token-123\"\n").await;
    let (s, a) = t
        .inbound(&t.admin, msg("e1", "@ana", "me cobraron dos veces"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["duplicate"], false);
    let (s, b) = t.inbound(&t.admin, msg("e1", "@ana", "otra cosa")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["duplicate"], true);
    assert_eq!(
        (a["message_id"].clone(), a["conversation_id"].clone()),
        (b["message_id"].clone(), b["conversation_id"].clone())
    );

    let (s, v) = t
        .inbound(&t.admin, json!({"external_id": "e2", "text": "x"}))
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "from");
    let (s, v) = t
        .inbound(&t.admin, json!({"from": {"handle": "@a"}, "text": "x"}))
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "external_id");
    let (s, v) = t
        .inbound(
            &t.admin,
            json!({"external_id": "e3", "from": {"handle": "@a"}}),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "text or html");
    let (s, v) = t
        .call("POST", "/api/v1/inbound", Some(&t.admin), Some("[1,2"))
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "invalid JSON");
    let (s, v) = t
        .call("POST", "/api/v1/inbound", Some(&t.admin), None)
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "empty");
    let mut bad_time = msg("e4", "@a", "x");
    bad_time["sent_at"] = json!("yesterday");
    let (s, v) = t.inbound(&t.admin, bad_time).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "sent_at");

    let (s, v) = t
        .call(
            "POST",
            "/api/v1/inbound",
            None,
            Some(&msg("e5", "@a", "x").to_string()),
        )
        .await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "Bearer");
    let (s, v) = t.inbound("wrong-token", msg("e5", "@a", "x")).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "authentication");

    // A channel's own token works for that channel only.
    let mut shop = msg("s1", "@luis", "hola");
    shop["channel"] = json!("shop");
    let (s, _) = t.inbound("shop-token-123", shop.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = t
        .inbound("shop-token-123", msg("s2", "@luis", "hola"))
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "shop");
    let (s, v) = t
        .call("GET", "/api/v1/conversations", Some("shop-token-123"), None)
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "channel token");
    let mut nowhere = msg("n1", "@a", "x");
    nowhere["channel"] = json!("nowhere");
    let (s, v) = t.inbound(&t.admin, nowhere).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "nowhere");
    let agent = t.user("agent@x.test", Role::Agent).await;
    let (s, v) = t.inbound(&agent, msg("g1", "@a", "x")).await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "admin");

    // HTML is sanitized and gives the text when there is none.
    let (s, h) = t
        .inbound(&t.admin, json!({"external_id": "h1", "from": {"handle": "@h"}, "html": "<p>Hola<script>alert(1)</script></p>"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, d) = t
        .call(
            "GET",
            &format!("/api/v1/conversations/{}", h["conversation_id"]),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(d["messages"][0]["text"], "Hola");
    assert!(
        !d["messages"][0]["html"]
            .as_str()
            .unwrap()
            .contains("script")
    );
}

#[tokio::test]
async fn conversations_list_paginates_filters_and_validates() {
    let t = setup("").await;
    for i in 0..5 {
        let (s, _) = t
            .inbound(
                &t.admin,
                msg(&format!("e{i}"), &format!("@user{i}"), "hola"),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..5 {
        let (s, v) = t
            .call(
                "GET",
                &format!("/api/v1/conversations?limit=2&sort=newest&cursor={cursor}"),
                Some(&t.admin),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for it in v["items"].as_array().unwrap() {
            seen.push(it["id"].as_u64().unwrap());
            assert_eq!(it["priority"], "P4");
            assert!(
                it["contact"]["handle"]
                    .as_str()
                    .unwrap()
                    .starts_with("@user")
            );
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");
    let first = seen[0];
    let (s, _) = t
        .call(
            "POST",
            &format!("/api/v1/conversations/{first}/status"),
            Some(&t.admin),
            Some(r#"{"status":"resolved"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, open) = t
        .call("GET", "/api/v1/conversations", Some(&t.admin), None)
        .await;
    assert_eq!(open["items"].as_array().unwrap().len(), 4);
    let (_, resolved) = t
        .call(
            "GET",
            "/api/v1/conversations?status=resolved",
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(resolved["items"][0]["id"].as_u64(), Some(first));
    let (_, all) = t
        .call(
            "GET",
            "/api/v1/conversations?status=all&sort=oldest",
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    for (q, what) in [
        ("status=closed", "status"),
        ("sort=best", "sort"),
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("cursor=zz", "cursor"),
    ] {
        let (s, v) = t
            .call(
                "GET",
                &format!("/api/v1/conversations?{q}"),
                Some(&t.admin),
                None,
            )
            .await;
        assert_error(s, &v, StatusCode::BAD_REQUEST, what);
    }
    let (s, v) = t.call("GET", "/api/v1/conversations", None, None).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "Bearer");
}

#[tokio::test]
async fn detail_reply_status_and_permissions() {
    let t = setup("").await;
    let (_, a) = t
        .inbound(&t.admin, msg("e1", "@ana", "no me llegó el pedido"))
        .await;
    let id = a["conversation_id"].as_u64().unwrap();
    let url = format!("/api/v1/conversations/{id}");
    let (s, d) = t.call("GET", &url, Some(&t.admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["messages"][0]["direction"], "in");
    assert_eq!(d["triage"]["priority"], "P4");
    assert!(d["triage"]["reasons"].is_array());
    let (s, v) = t
        .call("GET", "/api/v1/conversations/999999", Some(&t.admin), None)
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "999999");
    let (s, v) = t
        .call("GET", "/api/v1/conversations/abc", Some(&t.admin), None)
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "abc");

    let (s, r) = t
        .call(
            "POST",
            &format!("{url}/messages"),
            Some(&t.admin),
            Some(r#"{"text":"Hola Ana, lo miramos"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["delivery"], "queued");
    let (s, n) = t
        .call(
            "POST",
            &format!("{url}/messages"),
            Some(&t.admin),
            Some(r#"{"text":"nota interna","note":true}"#),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(n["delivery"].is_null());
    let (s, v) = t
        .call(
            "POST",
            &format!("{url}/messages"),
            Some(&t.admin),
            Some(r#"{"text":"x","private":true}"#),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "private");
    let (s, v) = t
        .call(
            "POST",
            &format!("{url}/messages"),
            Some(&t.admin),
            Some(r#"{"text":"   "}"#),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "empty");
    let (s, v) = t
        .call(
            "POST",
            "/api/v1/conversations/424242/messages",
            Some(&t.admin),
            Some(r#"{"text":"x"}"#),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "424242");
    let (_, d) = t.call("GET", &url, Some(&t.admin), None).await;
    let dirs: Vec<&str> = d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["direction"].as_str().unwrap())
        .collect();
    assert_eq!(dirs, ["in", "out", "note"]);
    assert!(d["first_response_at"].is_string() && d["waiting_since"].is_null());
    // Without a webhook the reply waits, visible, in the outbox.
    let (_, w) = t
        .call("GET", "/api/v1/admin/workers", Some(&t.admin), None)
        .await;
    assert_eq!(w["outbox"]["open"], 1);
    assert!(
        w["outbox"]["with_errors"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("webhook_url")
    );

    let (s, v) = t
        .call(
            "POST",
            &format!("{url}/status"),
            Some(&t.admin),
            Some(r#"{"status":"closed"}"#),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "closed");
    let (s, v) = t
        .call(
            "POST",
            &format!("{url}/status"),
            Some(&t.admin),
            Some(r#"{"status":"snoozed"}"#),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "until");
    let (s, v) = t
        .call(
            "POST",
            &format!("{url}/status"),
            Some(&t.admin),
            Some(r#"{"status":"snoozed","until":"2030-01-01T09:00:00Z"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = t
        .call(
            "POST",
            "/api/v1/conversations/77777/status",
            Some(&t.admin),
            Some(r#"{"status":"open"}"#),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "77777");

    // Roles: an auditor reads but cannot change; an agent of another team
    // cannot see a team's conversation.
    let auditor = t.user("audit@x.test", Role::Auditor).await;
    assert_eq!(
        t.call("GET", &url, Some(&auditor), None).await.0,
        StatusCode::OK
    );
    let (s, v) = t
        .call(
            "POST",
            &format!("{url}/messages"),
            Some(&auditor),
            Some(r#"{"text":"x"}"#),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "auditor");
    let (s, _) = t
        .call("GET", "/api/v1/admin/workers", Some(&auditor), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let conv = ConversationId(id);
    t.app
        .store
        .write(move |tx| {
            let old = tx.conversation(conv)?.unwrap();
            let mut c = old.clone();
            c.team = Some(TeamId(999));
            tx.put_conversation(Some(&old), &c)
        })
        .await
        .unwrap();
    let agent = t.user("agent@x.test", Role::Agent).await;
    let (s, v) = t.call("GET", &url, Some(&agent), None).await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "see this conversation");
    let (_, list) = t
        .call(
            "GET",
            "/api/v1/conversations?status=all",
            Some(&agent),
            None,
        )
        .await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (s, v) = t
        .call(
            "POST",
            &format!("{url}/status"),
            Some(&agent),
            Some(r#"{"status":"resolved"}"#),
        )
        .await;
    assert_error(s, &v, StatusCode::FORBIDDEN, "act on");
    assert!(t.app.store.verify().unwrap().ok());
}

#[tokio::test]
async fn health_metrics_and_unknown_routes() {
    let t = setup("").await;
    let (s, v) = t.call("GET", "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "ok");
    t.inbound(&t.admin, msg("e1", "@ana", "hola")).await;
    let (s, m) = t.call("GET", "/metrics", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let m = m.as_str().unwrap();
    assert!(m.contains("atalaya_ingested_total 1"), "{m}");
    assert!(m.contains("atalaya_commit_seconds_bucket"));
    assert!(m.contains("atalaya_queue_depth{queue=\"writer\"}"));
    let (s, v) = t.call("GET", "/api/v1/nope", Some(&t.admin), None).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "no such API route");
    t.app.store.shutdown().await;
    let (s, v) = t.call("GET", "/healthz", None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["failing"][0], "store");
}

/// An email conversation stored as if the mailbox had fetched it.
async fn email_conversation(t: &T) -> u64 {
    use atalaya::app::email::{MailOutcome, RawMail};
    let ch = t.app.email_channel("support").expect("the support mailbox");
    let raw = b"From: Jos\xc3\xa9 <jose@example.com>\r\nTo: support@x.test\r\nSubject: Factura\r\n\
Message-ID: <f1@example.com>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNecesito la factura.\r\n"
        .to_vec();
    let prepared = t.app.prepare_mail(
        &ch,
        RawMail {
            source: "test".into(),
            size: raw.len() as u64,
            raw: Some(raw),
            headers: None,
        },
    );
    let out = t
        .app
        .store_mail_batch("support", vec![prepared], None)
        .await
        .unwrap();
    match &out[0] {
        MailOutcome::Stored(o) => o.conversation.0,
        other => panic!("not stored: {other:?}"),
    }
}

/// Outgoing attachments through the API: base64 files are stored
/// content-addressed and listed on the message; bad base64, files over the
/// limits and channels that cannot carry files are refused with a 4xx.
#[tokio::test]
async fn reply_attachments_base64_limits_and_channels() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let t = setup(
        "[[channel.email]]\nname = \"support\"\naddress = \"support@x.test\"\n\
         [channel.email.smtp]\nhost = \"127.0.0.1\"\nport = 9\nsecurity = \"none\"\n",
    )
    .await;
    let id = email_conversation(&t).await;
    let url = format!("/api/v1/conversations/{id}/messages");
    let binary: Vec<u8> = (0..=255u8).rev().cycle().take(70_000).collect();
    let body = json!({
        "text": "Adjunto la factura.",
        "attachments": [
            {"filename": "../../factura 2026 – ñandú.pdf", "content_type": "application/pdf",
             "data_base64": b64(b"%PDF-1.4 factura")},
            // No type given: guessed from the name. Line-wrapped base64 is fine.
            {"filename": "datos.png",
             "data_base64": b64(&binary).as_bytes().chunks(76)
                 .map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("\r\n")},
        ]
    });
    let (s, r) = t
        .call("POST", &url, Some(&t.admin), Some(&body.to_string()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["delivery"], "queued");
    let (_, d) = t
        .call(
            "GET",
            &format!("/api/v1/conversations/{id}"),
            Some(&t.admin),
            None,
        )
        .await;
    let out = d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == r["message_id"])
        .unwrap()
        .clone();
    let atts = out["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 2, "{out}");
    assert_eq!(
        atts[0]["filename"], "factura 2026 – ñandú.pdf",
        "path stripped"
    );
    assert_eq!(atts[0]["content_type"], "application/pdf");
    assert_eq!(atts[1]["filename"], "datos.png");
    assert_eq!(atts[1]["content_type"], "image/png");
    assert_eq!(atts[1]["size"], 70_000);
    let data = t.app.config.server.data.clone();
    let on_disk = |sha: &str| {
        std::fs::read(atalaya::app::email::attachment_path(&data, sha).unwrap()).unwrap()
    };
    assert_eq!(
        on_disk(atts[0]["sha256"].as_str().unwrap()),
        b"%PDF-1.4 factura"
    );
    assert_eq!(on_disk(atts[1]["sha256"].as_str().unwrap()), binary);

    // Only attachments, no text: allowed on email.
    let (s, r) = t
        .call(
            "POST",
            &url,
            Some(&t.admin),
            Some(&json!({"text": "", "attachments": [{"filename": "a.txt", "data_base64": b64(b"hola")}]}).to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");

    // Malformed base64.
    let count = || async {
        let (_, d) = t
            .call(
                "GET",
                &format!("/api/v1/conversations/{id}"),
                Some(&t.admin),
                None,
            )
            .await;
        d["messages"].as_array().unwrap().len()
    };
    let before = count().await;
    let (s, v) = t
        .call(
            "POST",
            &url,
            Some(&t.admin),
            Some(&json!({"text": "x", "attachments": [{"filename": "a.bin", "data_base64": "no!base64@@"}]}).to_string()),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "not valid base64");
    assert!(
        v["error"].as_str().unwrap().contains("attachments[0]"),
        "{v}"
    );

    // One file over 10 MB.
    let big = vec![7u8; (10 << 20) + 1];
    let (s, v) = t
        .call(
            "POST",
            &url,
            Some(&t.admin),
            Some(&json!({"text": "x", "attachments": [{"filename": "big.bin", "data_base64": b64(&big)}]}).to_string()),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "10 MB per file");
    // Three files under 10 MB each but over 25 MB together.
    let part = b64(&vec![1u8; 8_800_000]);
    let files: Vec<Value> = (0..3)
        .map(|i| json!({"filename": format!("p{i}.bin"), "data_base64": part}))
        .collect();
    let (s, v) = t
        .call(
            "POST",
            &url,
            Some(&t.admin),
            Some(&json!({"text": "x", "attachments": files}).to_string()),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "25 MB per reply");
    // A body far over any limit is refused before it is read.
    let files: Vec<Value> = (0..5)
        .map(|i| json!({"filename": format!("p{i}.bin"), "data_base64": part}))
        .collect();
    let (s, v) = t
        .call(
            "POST",
            &url,
            Some(&t.admin),
            Some(&json!({"text": "x", "attachments": files}).to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(before, count().await, "nothing refused was stored");

    // The API channel cannot carry files in this version; its notes can.
    let (_, a) = t.inbound(&t.admin, msg("att-1", "@ana", "hola")).await;
    let api_conv = a["conversation_id"].as_u64().unwrap();
    let file = json!([{"filename": "a.txt", "data_base64": b64(b"hola")}]);
    let (s, v) = t
        .call(
            "POST",
            &format!("/api/v1/conversations/{api_conv}/messages"),
            Some(&t.admin),
            Some(&json!({"text": "x", "attachments": file}).to_string()),
        )
        .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "cannot carry attachments");
    let (s, v) = t
        .call(
            "POST",
            &format!("/api/v1/conversations/{api_conv}/messages"),
            Some(&t.admin),
            Some(&json!({"text": "ver adjunto", "note": true, "attachments": file}).to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}
