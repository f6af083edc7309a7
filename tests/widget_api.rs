//! The widget's visitor endpoints in-process: origins, CORS, rate limits,
//! tokens, history, and agent replies reaching the visitor.

use atalaya::app::{App, Caller, auth};
use atalaya::config::{Config, Overrides};
use atalaya::domain::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

const SHOP: &str = "https://shop.example";

async fn setup() -> (Arc<App>, axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(
        &p,
        format!("[[channel.webchat]]\nname = \"web\"\nallowed_origins = [\"{SHOP}\"]\nsessions_per_minute = 3\nmessages_per_minute = 4\n"),
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
    // A clock that stands still: the per-minute windows cannot roll over mid-test.
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(SystemClock.now()));
    let app = App::open(cfg, clock).unwrap();
    (app.clone(), atalaya::web::router(app), dir)
}

async fn call(
    r: &axum::Router,
    method: &str,
    uri: &str,
    origin: Option<&str>,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "support.example")
        .header("content-type", "application/json");
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = r
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn origins_cors_and_preflight() {
    let (_app, r, _d) = setup().await;
    let body = json!({"channel": "web", "name": "Lucía"}).to_string();
    let (s, h, v) = call(&r, "POST", "/widget/v1/sessions", Some(SHOP), None, &body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(h["access-control-allow-origin"], SHOP);
    assert!(v["token"].as_str().unwrap().len() > 20);
    let (s, h, v) = call(
        &r,
        "POST",
        "/widget/v1/sessions",
        Some("https://evil.example"),
        None,
        &body,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(h.get("access-control-allow-origin").is_none());
    assert!(v["error"].as_str().unwrap().contains("evil.example"));
    // The server's own origin is always allowed.
    let (s, _, _) = call(
        &r,
        "POST",
        "/widget/v1/sessions",
        Some("http://support.example"),
        None,
        &body,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, h, _) = call(&r, "OPTIONS", "/widget/v1/messages", Some(SHOP), None, "").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(h["access-control-allow-origin"], SHOP);
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let (s, _, _) = call(
        &r,
        "OPTIONS",
        "/widget/v1/messages",
        Some("https://evil.example"),
        None,
        "",
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Two sessions so far; the third fits, a fourth within the minute is refused.
    let (s, _, _) = call(&r, "POST", "/widget/v1/sessions", Some(SHOP), None, &body).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, v) = call(&r, "POST", "/widget/v1/sessions", Some(SHOP), None, &body).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
}

#[tokio::test]
async fn visitor_messages_history_replies_and_limits() {
    let (app, r, _d) = setup().await;
    let (s, _, v) = call(
        &r,
        "POST",
        "/widget/v1/sessions",
        Some(SHOP),
        None,
        &json!({"channel": "web", "name": ""}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _, v) = call(
        &r,
        "POST",
        "/widget/v1/sessions",
        Some(SHOP),
        None,
        &json!({"channel": "nope", "name": "A"}).to_string(),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "unknown channel lists no origin: {v}"
    );
    let (_, _, v) = call(
        &r,
        "POST",
        "/widget/v1/sessions",
        Some(SHOP),
        None,
        &json!({"channel": "web", "name": "Lucía", "email": "lucia@example.com"}).to_string(),
    )
    .await;
    let token = v["token"].as_str().unwrap().to_string();
    let (s, _, _) = call(
        &r,
        "POST",
        "/widget/v1/messages",
        Some(SHOP),
        None,
        r#"{"text":"hola"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = call(
        &r,
        "POST",
        "/widget/v1/messages",
        Some(SHOP),
        Some("forged"),
        r#"{"text":"hola"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, v) = call(
        &r,
        "POST",
        "/widget/v1/messages",
        Some(SHOP),
        Some(&token),
        "{oops",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let send = |client_id: &str| {
        json!({"text": "mi pedido #A-1042 no llegó", "client_id": client_id}).to_string()
    };
    let (s, _, first) = call(
        &r,
        "POST",
        "/widget/v1/messages",
        Some(SHOP),
        Some(&token),
        &send("c1"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    // A retried send with the same client id is stored once.
    let (_, _, again) = call(
        &r,
        "POST",
        "/widget/v1/messages",
        Some(SHOP),
        Some(&token),
        &send("c1"),
    )
    .await;
    assert_eq!(first["message_id"], again["message_id"]);
    let conv = ConversationId(first["conversation_id"].as_u64().unwrap());
    let admin = auth::create_user(&app.store, "a@x.test", "Marta", Role::Admin, "password-1")
        .await
        .unwrap();
    let caller = Caller::Staff(admin);
    let out = app
        .reply(&caller, conv, "Lo revisamos ahora mismo", false, false)
        .await
        .unwrap();
    assert_eq!(
        out.delivery,
        Some(Delivery::Sent),
        "webchat replies are delivered by storing them"
    );
    app.reply(&caller, conv, "nota interna: cliente VIP", false, true)
        .await
        .unwrap();
    let (s, _, v) = call(
        &r,
        "GET",
        "/widget/v1/messages?after=0",
        Some(SHOP),
        Some(&token),
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "internal notes never reach the visitor: {v}");
    assert_eq!(
        (msgs[0]["direction"].as_str(), msgs[1]["direction"].as_str()),
        (Some("in"), Some("out"))
    );
    assert_eq!(msgs[1]["author"], "Marta");
    let after = msgs[0]["id"].as_u64().unwrap();
    let (_, _, v) = call(
        &r,
        "GET",
        &format!("/widget/v1/messages?after={after}"),
        Some(SHOP),
        Some(&token),
        "",
    )
    .await;
    assert_eq!(v["messages"].as_array().unwrap().len(), 1);
    let (s, _, _) = call(
        &r,
        "GET",
        "/widget/v1/messages?after=x",
        Some(SHOP),
        Some(&token),
        "",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The contact was linked by email; the visitor's stream needs its token.
    let (s, _, _) = call(&r, "GET", "/widget/v1/stream", Some(SHOP), None, "").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // messages_per_minute = 4: two accepted above (the repeat counts), two more, then 429.
    let mut last = StatusCode::CREATED;
    for i in 0..3 {
        last = call(
            &r,
            "POST",
            "/widget/v1/messages",
            Some(SHOP),
            Some(&token),
            &send(&format!("n{i}")),
        )
        .await
        .0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}
