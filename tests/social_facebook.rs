//! The Facebook page connector against a local Graph API (`fakes/facebook.rs`):
//! the real `atalaya serve` binary polls Messenger conversations and the
//! page's comments, takes signed webhooks, answers on the right endpoint,
//! and survives an expired token, throttling and kill -9. The last test
//! drives the connector directly with a short timeout to check that a
//! timed-out reply is never posted twice.

mod common;
#[path = "fakes/facebook.rs"]
mod fake;

use atalaya::channels::SendResult;
use atalaya::channels::social::facebook::Facebook;
use atalaya::channels::social::{Connector, OutgoingSocial};
use atalaya::domain::Ts;
use common::{Server, wait_for};
use fake::{FakeGraph, Fault};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::{Duration, Instant};

const PAGE: &str = "100";
/// Distinctive, so that finding it in the log means a leak.
const TOKEN: &str = "EAAGm0PX4ZCpsBAFbTokSecret1234";
const APP_SECRET: &str = "shh";

fn config(fake: &FakeGraph) -> String {
    format!(
        "[outbox]\nmin_backoff = \"200ms\"\nmax_backoff = \"1s\"\n\
         [[channel.facebook]]\nname = \"fb\"\npage_id = \"{PAGE}\"\npage_access_token = \"{TOKEN}\"\n\
         app_secret = \"{APP_SECRET}\"\nverify_token = \"vt\"\nbase_url = \"{}\"\npoll_interval = \"1s\"\n",
        fake.base
    )
}

async fn get(server: &Server, token: &str, path: &str) -> Value {
    let res = Server::client()
        .get(format!("{}/api/v1{path}", server.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "GET {path}: {}", res.status());
    res.json().await.unwrap()
}

async fn all_conversations(server: &Server, token: &str) -> Vec<Value> {
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

async fn message_total(server: &Server, token: &str) -> u64 {
    all_conversations(server, token)
        .await
        .iter()
        .map(|c| c["message_count"].as_u64().unwrap())
        .sum()
}

async fn stream_count(server: &Server, token: &str) -> usize {
    get(server, token, "/stream?all=1").await["items"]
        .as_array()
        .unwrap()
        .len()
}

async fn wait_messages(server: &Server, token: &str, n: u64, timeout: Duration) {
    let got = wait_for(timeout, || async {
        (message_total(server, token).await >= n).then_some(())
    })
    .await;
    if got.is_none() {
        panic!(
            "expected {n} messages, have {}\n{}",
            message_total(server, token).await,
            server.log()
        );
    }
}

/// The conversation whose contact has this handle (the author's Facebook id).
async fn conversation_of(server: &Server, token: &str, handle: &str) -> u64 {
    all_conversations(server, token)
        .await
        .iter()
        .find(|c| c["contact"]["handle"].as_str() == Some(handle))
        .and_then(|c| c["id"].as_u64())
        .unwrap_or_else(|| panic!("no conversation with {handle}"))
}

async fn reply(server: &Server, token: &str, id: u64, text: &str, private: bool) {
    let res = Server::client()
        .post(format!(
            "{}/api/v1/conversations/{id}/messages",
            server.base_url()
        ))
        .bearer_auth(token)
        .json(&json!({ "text": text, "private": private }))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert!(status.is_success(), "reply: {status} {body}");
}

async fn worker(server: &Server, token: &str) -> Value {
    let v = get(server, token, "/admin/workers").await;
    v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"].as_str() == Some("facebook:fb"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Wait until the fake has served both sources after `since` (one round).
async fn wait_round(fake: &FakeGraph, since: Instant) {
    let done = wait_for(Duration::from_secs(15), || async {
        let reqs = fake.requests();
        let after = |p: &str| reqs.iter().filter(|r| r.at > since && r.path == p).count();
        (after("100/conversations") >= 2 && after("100/feed") >= 2).then_some(())
    })
    .await;
    assert!(done.is_some(), "the connector stopped polling");
}

fn no_token_leak(server: &Server, fake: &FakeGraph) {
    assert!(
        !server.log().contains(TOKEN),
        "the page access token is in the log"
    );
    for r in fake.requests() {
        assert!(!r.raw.contains(TOKEN), "token in a URL: {}", r.raw);
        assert_eq!(
            r.authorization.as_deref(),
            Some(&*format!("Bearer {TOKEN}"))
        );
    }
}

/// Messenger messages and comments (with and without triggers) are taken
/// exactly once, across small pages, nested pages and a kill -9.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_and_comments_exactly_once_across_pages_and_kill9() {
    let fake = FakeGraph::start(PAGE, TOKEN, Some(APP_SECRET));
    fake.set_page_size(2);
    fake.set_nested_size(2);
    // Messenger: 8 messages from 5 people (and one answer of the page).
    fake.add_message("7001", "Ana Pérez", "Hola, mi pedido no llega");
    fake.add_page_message("7001", "Lo miramos, Ana");
    fake.add_message("7001", "Ana Pérez", "Es el pedido 5531");
    fake.add_message("7001", "Ana Pérez", "¿Alguna novedad?");
    fake.add_message("7002", "Luis Gil", "¿Tenéis la talla M?");
    fake.add_message("7003", "Marta Sanz", "Buenas");
    fake.add_message("7003", "Marta Sanz", "Quiero cambiar la dirección de envío");
    fake.add_message("7004", "Pau Vidal", "Hello, is the shop open?");
    fake.add_message("7005", "Eva Ruiz", "Gracias por todo");
    // Comments: five with a trigger, one without, one by the page.
    let a = fake.add_post("¡Nueva colección de invierno!");
    let c1 = fake.add_comment(&a, "8001", "Rosa Díaz", "Necesito ayuda con mi pedido");
    fake.add_comment(&a, "8002", "Juan Paz", "Qué bonito todo");
    fake.add_reply(
        &c1,
        "8003",
        "Iker Sol",
        "A mí tampoco me funciona, no funciona la web",
    );
    fake.add_reply(&c1, PAGE, "Tienda Nordia", "Te escribimos por privado");
    let b = fake.add_post("Rebajas");
    fake.add_comment(&b, "8004", "Ann Lee", "I want a refund please");
    fake.add_comment(&b, "8004", "Ann Lee", "Still need help with the refund");
    fake.add_comment(&b, "8005", "Leo Gómez", "Quiero un reembolso ya");
    fake.add_post("Horario de Navidad");

    let mut server = Server::start(&config(&fake)).await;
    let token = server.admin_token().await;
    wait_messages(&server, &token, 13, Duration::from_secs(20)).await;
    let ok = wait_for(Duration::from_secs(10), || async {
        (stream_count(&server, &token).await == 1).then_some(())
    })
    .await;
    assert!(
        ok.is_some(),
        "the comment without a trigger is in the stream"
    );

    server.kill9();
    fake.add_message("7001", "Ana Pérez", "Sigo esperando");
    fake.add_message("7006", "Nuevo Cliente", "¿Hacéis envíos a Canarias?");
    fake.add_comment(&a, "8001", "Rosa Díaz", "Sigue sin funcionar, ayuda");
    let d = fake.add_post("Sorteo");
    fake.add_comment(&d, "8006", "Sara Luz", "No funciona el enlace del sorteo");
    fake.add_comment(&d, "8007", "Tom Rey", "Me encanta");
    server.restart().await;
    wait_messages(&server, &token, 17, Duration::from_secs(20)).await;
    // A few more rounds bring nothing twice.
    wait_round(&fake, Instant::now()).await;
    assert_eq!(message_total(&server, &token).await, 17);
    assert_eq!(stream_count(&server, &token).await, 2);
    let convs = all_conversations(&server, &token).await;
    let mut handles: Vec<&str> = convs
        .iter()
        .map(|c| c["contact"]["handle"].as_str().unwrap())
        .collect();
    handles.sort();
    assert_eq!(
        handles,
        [
            "7001", "7002", "7003", "7004", "7005", "7006", "8001", "8003", "8004", "8005", "8006"
        ]
    );
    let ana = conversation_of(&server, &token, "7001").await;
    let detail = get(&server, &token, &format!("/conversations/{ana}")).await;
    let texts: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Hola, mi pedido no llega",
            "Es el pedido 5531",
            "¿Alguna novedad?",
            "Sigo esperando"
        ],
        "in order, without the page's own answer"
    );
    // Paging went through the `after` cursors, nested edges included.
    let reqs = fake.requests();
    assert!(
        reqs.iter()
            .any(|r| r.path == "100/conversations" && r.query.contains_key("after"))
    );
    assert!(
        reqs.iter()
            .any(|r| r.path == "100/feed" && r.query.contains_key("after"))
    );
    assert!(
        reqs.iter()
            .any(|r| r.path.ends_with("/messages") && r.method == "GET")
    );
    assert!(
        reqs.iter()
            .any(|r| r.path.ends_with("/comments") && r.method == "GET")
    );
    no_token_leak(&server, &fake);
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn deliver(server: &Server, body: &str, signature: Option<String>) -> u16 {
    let mut rb = Server::client()
        .post(format!("{}/webhooks/fb", server.base_url()))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(s) = signature {
        rb = rb.header("x-hub-signature-256", s);
    }
    rb.send().await.unwrap().status().as_u16()
}

fn webhook_body(mid: &str, psid: &str, text: &str, comment: Option<(&str, &str, &str)>) -> String {
    let now = jiff::Timestamp::now().as_millisecond();
    let mut entry = json!({"id": PAGE, "time": now, "messaging": [
        {"sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": now,
         "message": {"mid": mid, "text": text}}]});
    if let Some((post, cid, ctext)) = comment {
        entry["changes"] = json!([{"field": "feed", "value": {
            "from": {"id": "8101", "name": "Clara Mar"},
            "post": {"status_type": "added_photos", "is_published": true, "id": post},
            "message": ctext, "post_id": post, "comment_id": cid, "created_time": now / 1000,
            "item": "comment", "parent_id": post, "verb": "add"}}]);
    }
    json!({"object": "page", "entry": [entry]}).to_string()
}

/// The subscription check, signed deliveries (a bad or missing signature
/// stores nothing), and a message arriving by webhook and by poll stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_verified_signed_and_deduplicated_with_polling() {
    let fake = FakeGraph::start(PAGE, TOKEN, Some(APP_SECRET));
    let server = Server::start(&config(&fake)).await;
    let token = server.admin_token().await;
    let client = Server::client();

    let verify = |tok: &str| {
        format!(
            "{}/webhooks/fb?hub.mode=subscribe&hub.verify_token={tok}&hub.challenge=123",
            server.base_url()
        )
    };
    let res = client.get(verify("vt")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.text().await.unwrap(), "123");
    let res = client.get(verify("wrong")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 403);

    let body = webhook_body(
        "m_web_1",
        "7101",
        "Hola, necesito ayuda con un pedido",
        Some(("100_6001", "6001_777", "No funciona el cupón, ayuda")),
    );
    assert_eq!(
        deliver(&server, &body, Some(sign(body.as_bytes()))).await,
        200
    );
    assert_eq!(message_total(&server, &token).await, 2, "stored at once");

    let forged = webhook_body("m_web_2", "7102", "forged", None);
    let wrong = sign(b"something else");
    assert_eq!(deliver(&server, &forged, Some(wrong)).await, 401);
    assert_eq!(deliver(&server, &forged, None).await, 401);
    let other_secret = {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"not-the-secret").unwrap();
        mac.update(forged.as_bytes());
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    assert_eq!(deliver(&server, &forged, Some(other_secret)).await, 401);

    // The same message and comment now show up in the Graph API.
    fake.add_message_with_id(
        "7101",
        "Pilar Río",
        "m_web_1",
        "Hola, necesito ayuda con un pedido",
    );
    fake.add_post_with_id("100_6001", "Cupones de enero");
    fake.add_comment_with_id(
        "100_6001",
        "6001_777",
        "8101",
        "Clara Mar",
        "No funciona el cupón, ayuda",
    );
    wait_round(&fake, Instant::now()).await;
    assert_eq!(message_total(&server, &token).await, 2);
    let convs = all_conversations(&server, &token).await;
    assert_eq!(convs.len(), 2, "{convs:?}");
    for c in &convs {
        assert_eq!(c["message_count"].as_u64(), Some(1));
        assert_ne!(c["contact"]["handle"].as_str(), Some("7102"));
    }
    no_token_leak(&server, &fake);
}

/// Code 190 shows as the worker's last error (no crash; it recovers once
/// the token works); code 613 stops all calls until the announced time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_is_reported_and_throttling_is_respected() {
    let fake = FakeGraph::start(PAGE, TOKEN, Some(APP_SECRET));
    fake.set_expired(true);
    let server = Server::start(&config(&fake)).await;
    let token = server.admin_token().await;
    let err = wait_for(Duration::from_secs(15), || async {
        let w = worker(&server, &token).await;
        w["last_error"]
            .as_str()
            .filter(|e| e.contains("token expired"))
            .map(str::to_string)
    })
    .await;
    let err = err.unwrap_or_else(|| panic!("no expired-token error\n{}", server.log()));
    assert!(err.contains("190"), "{err}");
    let health = Server::client()
        .get(format!("{}/healthz", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);

    fake.set_expired(false);
    fake.add_message("7201", "Nora Gil", "¿Seguís ahí?");
    wait_messages(&server, &token, 1, Duration::from_secs(20)).await;

    // Throttled: the worker waits the announced minute before any call.
    let before = fake.requests().len();
    fake.fail_next(Fault::Throttle {
        code: 613,
        http: 400,
        regain_minutes: 1,
    });
    let throttled_at = wait_for(Duration::from_secs(10), || async {
        let reqs = fake.requests();
        (reqs.len() > before).then(|| reqs[before].at)
    })
    .await
    .expect("the next poll");
    let state = wait_for(Duration::from_secs(5), || async {
        let w = worker(&server, &token).await;
        (w["state"].as_str() == Some("throttled")).then_some(())
    })
    .await;
    assert!(state.is_some(), "{}", worker(&server, &token).await);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.at > throttled_at)
        .map(|r| r.path)
        .collect();
    assert!(later.is_empty(), "called during the wait: {later:?}");
    no_token_leak(&server, &fake);
}

/// A public comment reply, a private reply to a comment and a Messenger
/// answer each reach their own endpoint with the right target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reach_the_right_endpoint() {
    let fake = FakeGraph::start(PAGE, TOKEN, Some(APP_SECRET));
    fake.add_message("7001", "Ana Pérez", "Hola, ¿dónde está mi pedido?");
    let post = fake.add_post("Nueva tienda");
    let c1 = fake.add_comment(&post, "8001", "Rosa Díaz", "Necesito ayuda con la talla");
    let c2 = fake.add_comment(&post, "8002", "Juan Paz", "No funciona el pago");
    let server = Server::start(&config(&fake)).await;
    let token = server.admin_token().await;
    wait_messages(&server, &token, 3, Duration::from_secs(20)).await;

    let public = conversation_of(&server, &token, "8001").await;
    let private = conversation_of(&server, &token, "8002").await;
    let dm = conversation_of(&server, &token, "7001").await;
    reply(
        &server,
        &token,
        public,
        "Hola Rosa, te ayudamos encantados",
        false,
    )
    .await;
    reply(
        &server,
        &token,
        private,
        "Hola Juan, te escribimos por privado",
        true,
    )
    .await;
    reply(&server, &token, dm, "Hola Ana, sale mañana", false).await;

    let posts = wait_for(Duration::from_secs(20), || async {
        let p = fake.posts();
        (p.len() >= 3).then_some(p)
    })
    .await
    .unwrap_or_else(|| panic!("replies not posted: {:?}\n{}", fake.posts(), server.log()));
    assert_eq!(posts.len(), 3);
    let on = |path: &str, needle: &str| {
        posts
            .iter()
            .find(|r| r.path == path && r.body.contains(needle))
            .unwrap_or_else(|| panic!("no POST {path} with {needle}: {posts:?}"))
            .json()
    };
    let v = on(&format!("{c1}/comments"), "Rosa");
    assert_eq!(v["message"], "Hola Rosa, te ayudamos encantados");
    let v = on("100/messages", "Juan");
    assert_eq!(v["recipient"], json!({"comment_id": c2}));
    assert_eq!(v["message"]["text"], "Hola Juan, te escribimos por privado");
    let v = on("100/messages", "Ana");
    assert_eq!(v["recipient"], json!({"id": "7001"}));
    assert_eq!(v["messaging_type"], "RESPONSE");
    assert_eq!(v["message"]["text"], "Hola Ana, sale mañana");

    assert_eq!(
        fake.page_replies(&c1),
        ["Hola Rosa, te ayudamos encantados"]
    );
    assert!(fake.privately_replied(&c2));
    assert!(
        fake.page_messages("7001")
            .contains(&"Hola Ana, sale mañana".to_string())
    );
    for id in [public, private, dm] {
        let sent = wait_for(Duration::from_secs(10), || async {
            let d = get(&server, &token, &format!("/conversations/{id}")).await;
            let out: Vec<Value> = d["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["direction"] == "out")
                .cloned()
                .collect();
            (out.len() == 1 && out[0]["delivery"] == "sent").then_some(())
        })
        .await;
        assert!(sent.is_some(), "conversation {id}: reply not sent");
    }
    // Our own replies, polled back, are not customer messages.
    wait_round(&fake, Instant::now()).await;
    assert_eq!(message_total(&server, &token).await, 6);
    no_token_leak(&server, &fake);
}

fn direct(fake: &FakeGraph, timeout: Duration) -> Facebook {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = format!(
        "name = \"fb\"\npage_id = \"{PAGE}\"\npage_access_token = \"{TOKEN}\"\n\
         app_secret = \"{APP_SECRET}\"\nverify_token = \"vt\"\nbase_url = \"{}\"\n",
        fake.base
    );
    Facebook::new(&toml::from_str(&cfg).unwrap(), timeout).unwrap()
}

fn outgoing(key: &str, text: &str, thread: &str, to: &str, private: bool) -> OutgoingSocial {
    let now = Ts(jiff::Timestamp::now().as_millisecond());
    OutgoingSocial {
        idempotency_key: key.into(),
        text: text.into(),
        private,
        in_reply_to: Some(to.into()),
        thread: thread.into(),
        recipient: Some(to.into()),
        handle: to.into(),
        last_inbound_at: Some(now.plus_ms(-60_000)),
        now,
        attempt: 1,
        timeout: None,
        template: None,
    }
}

/// A reply whose answer times out is looked for before any retry: found →
/// posted once; lost → retried once; the check failing → delivery unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_reply_is_never_posted_twice() {
    let fake = FakeGraph::start(PAGE, TOKEN, Some(APP_SECRET));
    let fb = direct(&fake, Duration::from_millis(400));
    assert_eq!(fb.check().await, Ok("Tienda Nordia".to_string()));
    let post = fake.add_post("Post");
    let c1 = fake.add_comment(&post, "8001", "Rosa Díaz", "ayuda");
    let thread = format!("post:{post}:8001");

    // Posted, but the answer came too late: found, not posted again.
    fake.delay_next_post(Duration::from_millis(1200));
    let out = outgoing("k1", "Te ayudamos", &thread, &c1, false);
    match fb.send(&out).await {
        SendResult::Posted(id) => assert!(id.starts_with(&post[4..]), "{id}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.page_replies(&c1), ["Te ayudamos"]);

    // Lost: not found, so retried; the retry looks first, then posts once.
    fake.drop_next_post(Duration::from_millis(1200));
    let out = outgoing("k2", "Segunda respuesta", &thread, &c1, false);
    assert!(matches!(fb.send(&out).await, SendResult::Retry { .. }));
    assert!(fake.page_replies(&c1).len() == 1);
    assert!(matches!(fb.send(&out).await, SendResult::Posted(_)));
    assert_eq!(fake.page_replies(&c1), ["Te ayudamos", "Segunda respuesta"]);

    // Messenger: found among the conversation's recent messages.
    fake.add_message("7001", "Ana Pérez", "Hola");
    fake.delay_next_post(Duration::from_millis(1200));
    let out = outgoing("k3", "Hola Ana", "messenger:7001", "7001", true);
    match fb.send(&out).await {
        SendResult::Posted(id) => assert!(id.starts_with("m_"), "{id}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.page_messages("7001"), ["Hola Ana"]);

    // The check fails too: delivery unknown, not retried blindly.
    fake.delay_next_post(Duration::from_millis(1200));
    fake.fail_next_get(Fault::ServerError);
    let out = outgoing("k4", "Tercera", &thread, &c1, false);
    match fb.send(&out).await {
        SendResult::Unknown(e) => assert!(e.contains("delivery unknown"), "{e}"),
        other => panic!("{other:?}"),
    }

    // A private reply (once per comment on Facebook) that timed out.
    let c2 = fake.add_comment(&post, "8002", "Juan Paz", "ayuda");
    fake.delay_next_post(Duration::from_millis(1200));
    let out = outgoing("k5", "Por privado", &format!("post:{post}:8002"), &c2, true);
    match fb.send(&out).await {
        SendResult::Unknown(e) => assert!(e.contains("delivery unknown"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(fake.privately_replied(&c2));
    // Facebook refusals are permanent with its words.
    let out = outgoing("k6", "Otra vez", &format!("post:{post}:8002"), &c2, true);
    match fb.send(&out).await {
        SendResult::Permanent(e) => assert!(e.contains("already replied"), "{e}"),
        other => panic!("{other:?}"),
    }
    let out = outgoing("k7", "Hola", "messenger:7999", "7999", true);
    match fb.send(&out).await {
        SendResult::Permanent(e) => assert!(e.contains("551"), "{e}"),
        other => panic!("{other:?}"),
    }
    // Throttled sends wait for the announced time.
    fake.fail_next(Fault::Throttle {
        code: 4,
        http: 429,
        regain_minutes: 2,
    });
    let out = outgoing("k8", "Luego", &thread, &c1, false);
    assert_eq!(
        fb.send(&out).await,
        SendResult::Retry {
            error: "rate limited; retrying in 120s".into(),
            after: Some(Duration::from_secs(120))
        }
    );
    for r in fake.requests() {
        assert!(!r.raw.contains(TOKEN));
    }
}
