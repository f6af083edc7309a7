//! The Mastodon channel end to end: the real `atalaya serve` binary against a
//! fake Mastodon instance (`tests/fakes/mastodon.rs`) speaking the client API
//! with its paging, rate-limit headers and `Idempotency-Key`.

mod common;
#[path = "fakes/mastodon.rs"]
mod fake;

use common::api::{all_conversations, get, message_total, wait_messages};
use common::{Server, wait_for};
use fake::{Fake, Mention, TOKEN};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn config(fake: &Fake) -> String {
    format!(
        "[outbox]\ntimeout = \"1s\"\nmin_backoff = \"200ms\"\nmax_backoff = \"1s\"\n\n\
         [[channel.mastodon]]\nname = \"masto\"\nbase_url = \"{}\"\naccess_token = \"{TOKEN}\"\n\
         poll_interval = \"1s\"\n",
        fake.url()
    )
}

async fn post(server: &Server, token: &str, path: &str, body: Value) -> (u16, Value) {
    let res = Server::client()
        .post(format!("{}/api/v1{path}", server.base_url()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The texts of every inbound message, in every conversation.
async fn inbound_texts(server: &Server, token: &str) -> Vec<String> {
    let mut out = Vec::new();
    for c in all_conversations(server, token).await {
        let d = get(server, token, &format!("/conversations/{}", c["id"])).await;
        for m in d["messages"].as_array().unwrap() {
            if m["direction"] == "in" {
                out.push(m["text"].as_str().unwrap_or("").to_string());
            }
        }
    }
    out
}

/// The conversation whose contact has this handle.
async fn conversation_of(server: &Server, token: &str, handle: &str) -> Option<Value> {
    all_conversations(server, token)
        .await
        .into_iter()
        .find(|c| c["contact"]["handle"] == handle)
}

async fn wait_fake<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_token_not_logged(server: &Server) {
    assert!(
        !server.log().contains(TOKEN),
        "the access token appears in the server log"
    );
}

/// 120 mentions across three pages, a kill -9 in the middle of the round,
/// then 250 more (more than one poll's five pages) with a kill -9 after the
/// first poll stored its part: every mention is stored exactly once and the
/// saved cursor is where the next run continues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_across_pages_exactly_once_across_kill9() {
    let fake = Fake::start();
    let accounts: Vec<String> = (0..12)
        .map(|i| {
            if i % 3 == 0 {
                format!("cliente{i}")
            } else {
                format!("cliente{i}@remoto{}.example", i % 4)
            }
        })
        .collect();
    fake.with(|s| {
        for i in 0..120 {
            s.add_mention(&Mention::public(
                &accounts[i % 12],
                &format!(
                    "<p><span class=\"h-card\"><a href=\"https://x/@tienda\" class=\"u-url mention\">@<span>tienda</span></a></span> ayuda con el pedido P{i:03}</p>"
                ),
            ));
            if i % 10 == 0 {
                // Filtered out by types[]=mention.
                s.add_other("favourite", &accounts[(i + 1) % 12]);
            }
        }
        // The first round reads page 1 and 2; page 3 waits.
        s.hold_after_next(2);
    });
    let mut server = Server::start(&config(&fake)).await;
    let token = server.admin_token().await;
    wait_fake(
        "the third page to be requested",
        Duration::from_secs(20),
        || (fake.held() > 0).then_some(()),
    )
    .await;
    // Nothing of a round is stored before the round is.
    assert_eq!(message_total(&server, &token).await, 0);
    server.kill9();
    fake.release();
    let mark = fake.requests().len();
    server.restart().await;
    wait_messages(&server, &token, 120, Duration::from_secs(20)).await;
    let first = fake.requests()[mark..]
        .iter()
        .find(|r| r.is_notifications())
        .cloned()
        .unwrap();
    assert_eq!(
        first.param("since_id"),
        None,
        "no cursor was saved mid-round"
    );
    assert_eq!(first.param("types[]"), Some("mention"));
    assert_eq!(first.param("limit"), Some("40"));
    assert_eq!(all_conversations(&server, &token).await.len(), 12);

    // Round two: more than a poll's worth. The first poll stores the newest
    // 200 and saves its place; its next request (the rest of the round) waits.
    let ids: Vec<(String, String)> = fake.with(|s| {
        let ids = (120..370)
            .map(|i| {
                s.add_mention(&Mention::public(
                    &accounts[i % 12],
                    &format!("<p>@tienda ayuda con el pedido P{i:03}</p>"),
                ))
            })
            .collect();
        s.hold_after_next(5);
        ids
    });
    wait_fake("the resumed round", Duration::from_secs(20), || {
        (fake.held() > 0).then_some(())
    })
    .await;
    assert_eq!(message_total(&server, &token).await, 320);
    server.kill9();
    fake.release();
    let mark = fake.requests().len();
    server.restart().await;
    wait_messages(&server, &token, 370, Duration::from_secs(20)).await;
    let after: Vec<_> = fake.requests()[mark..]
        .iter()
        .filter(|r| r.is_notifications())
        .cloned()
        .collect();
    // The saved cursor: continue below the oldest of the 200 stored.
    assert_eq!(after[0].param("max_id"), Some(ids[50].0.as_str()));
    // Then the next rounds start above the newest mention.
    let newest = ids[249].0.clone();
    wait_fake(
        "a poll above the newest mention",
        Duration::from_secs(10),
        || {
            fake.notification_requests()
                .iter()
                .any(|r| r.param("since_id") == Some(newest.as_str()))
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let texts = inbound_texts(&server, &token).await;
    assert_eq!(texts.len(), 370);
    let unique: HashSet<&String> = texts.iter().collect();
    assert_eq!(unique.len(), 370, "a mention was stored twice");
    for i in 0..370 {
        assert!(
            texts.iter().any(|t| t.ends_with(&format!("P{i:03}"))),
            "mention P{i:03} is missing"
        );
    }
    assert_token_not_logged(&server);
}

/// Mentions without a trigger go to the listening stream; a direct message
/// always opens a conversation; HTML is sanitized.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_stream_and_direct_messages() {
    let fake = Fake::start();
    let server = Server::start(&config(&fake)).await;
    let token = server.admin_token().await;
    let (_, praise) = fake.add_mention(&Mention::public(
        "carla@vecinos.example",
        "<p>@tienda qué bonita la tienda nueva 😍</p>",
    ));
    fake.add_mention(
        &Mention::public("dani", "<p>@tienda me encantan vuestras camisetas</p>")
            .with_visibility("unlisted"),
    );
    fake.add_mention(&Mention::direct(
        "eva@otro.example",
        "<p>@tienda hola, una pregunta sobre tallas</p>",
    ));
    fake.add_mention(&Mention::public(
        "fede",
        "<p>@tienda la web NO FUNCIONA <a href=\"https://tienda.example/carrito\">https://tienda.example/carrito</a></p><script>alert('x')</script>",
    ));
    let stream = wait_for(Duration::from_secs(15), || async {
        let v = get(&server, &token, "/stream").await;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        (items.len() >= 2).then_some(items)
    })
    .await
    .unwrap_or_else(|| panic!("no stream items\n{}", server.log()));
    wait_messages(&server, &token, 2, Duration::from_secs(10)).await;
    let carla = stream
        .iter()
        .find(|i| i["external_id"] == praise.as_str())
        .expect("carla's mention in the stream");
    assert_eq!(carla["handle"], "@carla@vecinos.example");
    assert_eq!(carla["channel"], "masto");
    assert_eq!(
        carla["url"],
        format!("https://vecinos.example/@carla/{praise}")
    );
    assert!(
        stream
            .iter()
            .any(|i| i["text"].as_str().unwrap_or("").contains("camisetas"))
    );

    let convs = all_conversations(&server, &token).await;
    assert_eq!(convs.len(), 2, "{convs:?}");
    let eva = conversation_of(&server, &token, "@eva@otro.example")
        .await
        .expect("the direct message opened a conversation");
    assert_eq!(eva["channel"], "masto");
    let fede = conversation_of(&server, &token, "@fede@127.0.0.1")
        .await
        .expect("the mention with a trigger opened a conversation");
    let d = get(&server, &token, &format!("/conversations/{}", fede["id"])).await;
    let text = d["messages"][0]["text"].as_str().unwrap();
    assert!(text.contains("NO FUNCIONA"), "{text}");
    assert!(text.contains("https://tienda.example/carrito"), "{text}");
    assert!(!text.contains("alert"), "{text}");

    // Polling on: nothing is added twice.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(all_conversations(&server, &token).await.len(), 2);
    assert_eq!(message_total(&server, &token).await, 2);
    let v = get(&server, &token, "/stream").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    assert_token_not_logged(&server);
}

/// `X-RateLimit-Remaining: 0` and 429: no request before the reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_before_the_rate_limit_resets() {
    let fake = Fake::start();
    let server = Server::start(&config(&fake)).await;
    let token = server.admin_token().await;
    wait_fake("a first poll", Duration::from_secs(10), || {
        (!fake.notification_requests().is_empty()).then_some(())
    })
    .await;

    // The next call uses up the window; it resets 2 s later.
    fake.with(|s| s.exhaust_next(Duration::from_secs(2)));
    let exhausted = wait_fake("the window to be used up", Duration::from_secs(10), || {
        fake.requests().into_iter().find(|r| r.remaining == 0)
    })
    .await;
    let reset_at = exhausted.at + Duration::from_secs(2);
    let resumed = wait_fake("a poll after the reset", Duration::from_secs(10), || {
        fake.requests().into_iter().find(|r| r.at > exhausted.at)
    })
    .await;
    assert!(
        resumed.at >= reset_at,
        "a request came {:?} before the reset",
        reset_at - resumed.at
    );
    assert_eq!(
        fake.early(),
        0,
        "requests arrived while the window was used up"
    );

    // 429 for 2 s: one call gets it, the next waits for the reset.
    let (_, sid) = fake.with(|s| {
        s.force_429_for(Duration::from_secs(2));
        s.add_mention(&Mention::direct("gil@lejos.example", "<p>@tienda hola</p>"))
    });
    let started = Instant::now();
    let limited = wait_fake("a 429", Duration::from_secs(10), || {
        fake.requests().into_iter().find(|r| r.status == 429)
    })
    .await;
    wait_messages(&server, &token, 1, Duration::from_secs(10)).await;
    let reqs = fake.requests();
    assert_eq!(
        reqs.iter().filter(|r| r.status == 429).count(),
        1,
        "called again before the reset"
    );
    let next = reqs.iter().find(|r| r.at > limited.at).unwrap();
    assert!(next.at >= started + Duration::from_secs(2) - Duration::from_millis(50));
    let texts = inbound_texts(&server, &token).await;
    assert_eq!(texts, vec!["@tienda hola".to_string()], "{sid}");
    assert_token_not_logged(&server);
}

/// Public and private replies reach `POST /api/v1/statuses` with the right
/// target and visibility; a refused one fails with Mastodon's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_public_and_private() {
    let fake = Fake::start();
    let server = Server::start(&config(&fake)).await;
    let token = server.admin_token().await;
    let (_, ana_status) = fake.add_mention(&Mention::public(
        "ana@social.example",
        "<p>@tienda mi pedido no llega, necesito ayuda</p>",
    ));
    let (_, luis_status) = fake.add_mention(&Mention::direct(
        "luis",
        "<p>@tienda hola, quiero cambiar la dirección de envío</p>",
    ));
    wait_messages(&server, &token, 2, Duration::from_secs(15)).await;
    let ana = conversation_of(&server, &token, "@ana@social.example")
        .await
        .unwrap();
    let luis = conversation_of(&server, &token, "@luis@127.0.0.1")
        .await
        .unwrap();

    let (s, v) = post(
        &server,
        &token,
        &format!("/conversations/{}/messages", ana["id"]),
        json!({"text": "Hola Ana, ya lo estamos mirando"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = post(
        &server,
        &token,
        &format!("/conversations/{}/messages", luis["id"]),
        json!({"text": "Hola Luis, te escribimos por privado", "private": true}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let posts = wait_fake("two posts", Duration::from_secs(15), || {
        let p = fake.posts();
        (p.len() >= 2).then_some(p)
    })
    .await;
    let public = posts
        .iter()
        .find(|p| p.in_reply_to_id.as_deref() == Some(ana_status.as_str()))
        .expect("the public reply answers ana's status");
    assert_eq!(public.visibility, "public");
    assert_eq!(
        public.status,
        "@ana@social.example Hola Ana, ya lo estamos mirando"
    );
    assert!(
        public
            .idempotency_key
            .as_deref()
            .is_some_and(|k| !k.is_empty())
    );
    let private = posts
        .iter()
        .find(|p| p.in_reply_to_id.as_deref() == Some(luis_status.as_str()))
        .expect("the private reply answers luis's status");
    assert_eq!(private.visibility, "direct");
    assert_eq!(private.status, "@luis Hola Luis, te escribimos por privado");
    assert_ne!(public.idempotency_key, private.idempotency_key);

    for c in [&ana, &luis] {
        let ok = wait_for(Duration::from_secs(10), || async {
            let d = get(&server, &token, &format!("/conversations/{}", c["id"])).await;
            d["messages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["direction"] == "out" && m["delivery"] == "sent")
                .then_some(())
        })
        .await;
        assert!(ok.is_some(), "reply in {} not sent", c["id"]);
    }

    // Over Mastodon's 500 characters: refused for good, with its reason.
    let long = "gracias por escribirnos ".repeat(25);
    let (s, v) = post(
        &server,
        &token,
        &format!("/conversations/{}/messages", ana["id"]),
        json!({"text": long}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let ok = wait_for(Duration::from_secs(10), || async {
        let d = get(&server, &token, &format!("/conversations/{}", ana["id"])).await;
        d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["delivery"] == "failed")
            .then_some(())
    })
    .await;
    assert!(ok.is_some(), "the refused reply is not failed");
    assert_eq!(fake.posts().len(), 2);
    assert_token_not_logged(&server);
}

/// A post answered after the client gave up is retried with the same
/// `Idempotency-Key`, and the instance holds one status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_post_is_retried_with_the_same_key_and_posted_once() {
    let fake = Fake::start();
    let server = Server::start(&config(&fake)).await;
    let token = server.admin_token().await;
    let (_, sid) = fake.add_mention(&Mention::direct(
        "marta@otra.example",
        "<p>@tienda ¿hacéis envíos a Canarias?</p>",
    ));
    wait_messages(&server, &token, 1, Duration::from_secs(15)).await;
    let conv = conversation_of(&server, &token, "@marta@otra.example")
        .await
        .unwrap();
    // Longer than `[outbox] timeout` (1 s), which bounds the post.
    fake.with(|s| s.delay_next_posts(1, Duration::from_millis(2_500)));
    let (s, v) = post(
        &server,
        &token,
        &format!("/conversations/{}/messages", conv["id"]),
        json!({"text": "Sí, a todas las islas", "private": true}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let ok = wait_for(Duration::from_secs(30), || async {
        let d = get(&server, &token, &format!("/conversations/{}", conv["id"])).await;
        d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["direction"] == "out" && m["delivery"] == "sent")
            .then_some(())
    })
    .await;
    assert!(ok.is_some(), "not sent\n{}", server.log());
    let attempts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.is_post())
        .collect();
    assert!(attempts.len() >= 2, "{attempts:?}");
    let key = attempts[0].idempotency_key.clone();
    assert!(key.as_deref().is_some_and(|k| !k.is_empty()));
    assert!(
        attempts.iter().all(|r| r.idempotency_key == key),
        "{attempts:?}"
    );
    let posts = fake.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].visibility, "direct");
    assert_eq!(posts[0].in_reply_to_id.as_deref(), Some(sid.as_str()));
    assert_token_not_logged(&server);
}

/// A revoked token and a 500 are errors the worker reports and recovers
/// from; neither leaks the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_token_and_server_errors() {
    let fake = Fake::start();
    fake.with(|s| s.set_unauthorized(true));
    let server = Server::start(&config(&fake)).await;
    let token = server.admin_token().await;
    let worker = wait_for(Duration::from_secs(10), || async {
        let v = get(&server, &token, "/admin/workers").await;
        v["workers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .find(|w| {
                w["name"] == "mastodon:masto"
                    && w["last_error"]
                        .as_str()
                        .is_some_and(|e| e.contains("authentication failed"))
            })
    })
    .await
    .unwrap_or_else(|| panic!("no auth error reported\n{}", server.log()));
    assert!(
        worker["last_error"]
            .as_str()
            .unwrap()
            .contains("The access token is invalid"),
        "{worker}"
    );
    fake.with(|s| {
        s.set_unauthorized(false);
        s.fail_next(1);
        s.add_mention(&Mention::public(
            "hugo",
            "<p>@tienda quiero un reembolso</p>",
        ));
    });
    wait_messages(&server, &token, 1, Duration::from_secs(20)).await;
    assert!(fake.requests().iter().any(|r| r.status == 500));
    assert_token_not_logged(&server);
}
