//! The Telegram channel against a fake Bot API (`tests/fakes/telegram.rs`):
//! the real `atalaya serve` binary long-polls it, stores each message once
//! across restarts and kill -9, keeps group chatter out, sends the agents'
//! replies to the right chat quoting the right message, respects 429s, and
//! never writes the bot token into its log.

mod common;
#[path = "fakes/telegram.rs"]
mod fake;

use atalaya::channels::SendResult;
use atalaya::channels::social::telegram::Telegram;
use atalaya::channels::social::{ConnError, Connector, OutgoingSocial};
use atalaya::config::{Dur, Listening, Secret, TelegramChannel};
use common::api::{all_conversations, get, message_total, wait_messages};
use common::{Server, wait_for};
use fake::{BOT_USERNAME, FakeTelegram, Fault, Method, Person};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const TOKEN: &str = "123:ABC";
const GROUP: i64 = -1_001_234_567_890;

fn config(base_url: &str, token: &str) -> String {
    format!(
        "[outbox]\nmin_backoff = \"200ms\"\nmax_backoff = \"1s\"\ntimeout = \"5s\"\nmax_attempts = 50\n\
         [[channel.telegram]]\nname = \"tg\"\ntoken = \"{token}\"\nbase_url = \"{base_url}\"\npoll_timeout = \"1s\"\n"
    )
}

async fn detail(server: &Server, token: &str, id: u64) -> Value {
    get(server, token, &format!("/conversations/{id}")).await
}

async fn reply(server: &Server, token: &str, id: u64, text: &str, private: bool) -> u64 {
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
    body["message_id"].as_u64().unwrap()
}

/// Wait until message `mid` of conversation `conv` has delivery `want`;
/// returns the message.
async fn wait_delivery(server: &Server, token: &str, conv: u64, mid: u64, want: &str) -> Value {
    let got = wait_for(Duration::from_secs(15), || async {
        let d = detail(server, token, conv).await;
        d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"].as_u64() == Some(mid) && m["delivery"] == want)
            .cloned()
    })
    .await;
    match got {
        Some(m) => m,
        None => panic!(
            "message {mid} never became {want:?}: {}\n{}",
            detail(server, token, conv).await,
            server.log()
        ),
    }
}

/// The conversation whose contact has this handle.
async fn conversation_of(server: &Server, token: &str, handle: &str) -> Option<Value> {
    all_conversations(server, token)
        .await
        .into_iter()
        .find(|c| c["contact"]["handle"] == handle)
}

/// 50 private messages from five people: each stored exactly once across a
/// clean restart and a kill -9 in the middle of the stream; the cursor (the
/// `offset`) survives both, so the fake sees it only move forward.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_messages_exactly_once_across_restart_and_kill9() {
    let fake = FakeTelegram::start(TOKEN);
    let people = [
        Person::new(111_222_333, "Ana", Some("Pérez"), Some("anaperez")),
        Person::new(222_333_444, "Luis", None, Some("luis_m")),
        Person::new(333_444_555, "Jorge", None, None),
        Person::new(444_555_666, "Marta", Some("Gil"), Some("martagil")),
        Person::new(555_666_777, "Lucía", None, Some("lucia")),
    ];
    for i in 0..10 {
        fake.push_private(&people[i % 5], &format!("mensaje {i}"));
    }
    let mut server = Server::start(&config(&fake.base_url(), TOKEN)).await;
    let token = server.admin_token().await;
    wait_messages(&server, &token, 10, Duration::from_secs(15)).await;

    // A clean stop and start: the saved offset is used at once.
    server.terminate();
    let before = fake.calls_of(Method::GetUpdates).len();
    server.restart().await;

    // The rest arrive five per answer, slowly, and the server is killed
    // while it is taking them.
    fake.set_max_batch(5);
    fake.fail(
        Method::GetUpdates,
        60,
        Fault::Delay(Duration::from_millis(120)),
    );
    for i in 10..50 {
        fake.push_private(&people[i % 5], &format!("mensaje {i}"));
    }
    let token = server.admin_token().await;
    let at_kill = wait_messages(&server, &token, 20, Duration::from_secs(15)).await;
    server.kill9();
    let kill_calls = fake.calls_of(Method::GetUpdates).len();
    assert!(at_kill < 50, "the stream was already complete at the kill");
    server.restart().await;
    let token = server.admin_token().await;
    wait_messages(&server, &token, 50, Duration::from_secs(20)).await;
    // Nothing more comes (no duplicate on a late poll).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(message_total(&server, &token).await, 50);

    let convs = all_conversations(&server, &token).await;
    assert_eq!(convs.len(), 5, "one conversation per private chat");
    let mut texts: BTreeMap<String, usize> = BTreeMap::new();
    for c in &convs {
        assert_eq!(c["channel"], "tg");
        assert_eq!(c["message_count"], 10, "{c}");
        let d = detail(&server, &token, c["id"].as_u64().unwrap()).await;
        for m in d["messages"].as_array().unwrap() {
            *texts
                .entry(m["text"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(texts.len(), 50);
    assert!(texts.values().all(|n| *n == 1), "{texts:?}");
    let handles: Vec<&str> = convs
        .iter()
        .map(|c| c["contact"]["handle"].as_str().unwrap())
        .collect();
    for h in ["@anaperez", "@luis_m", "333444555", "@martagil", "@lucia"] {
        assert!(handles.contains(&h), "{h} not in {handles:?}");
    }
    let ana = conversation_of(&server, &token, "@anaperez").await.unwrap();
    assert_eq!(ana["contact"]["name"], "Ana Pérez");

    // Every update is confirmed, and the offset only ever moved forward.
    let all_confirmed = wait_for(Duration::from_secs(5), || async {
        (fake.pending() == 0).then_some(())
    })
    .await;
    assert!(
        all_confirmed.is_some(),
        "{} updates never confirmed",
        fake.pending()
    );
    let polls = fake.calls_of(Method::GetUpdates);
    assert_eq!(polls[0].offset, None, "the first poll has no offset");
    let offsets: Vec<i64> = polls[1..]
        .iter()
        .map(|c| c.offset.expect("every later poll sends the offset"))
        .collect();
    assert!(
        offsets.windows(2).all(|w| w[0] <= w[1]),
        "offsets went back: {offsets:?}"
    );
    let first = 815_000_001;
    assert!(
        polls[before].offset >= Some(first + 10),
        "after the clean restart the poll starts at the saved offset: {:?}",
        polls[before].offset
    );
    assert!(
        polls[kill_calls].offset > Some(first + 10),
        "after kill -9 the poll starts past what was stored: {:?}",
        polls[kill_calls].offset
    );
    assert!(polls.iter().all(|c| c.authorized && c.timeout == Some(1)));
    assert_eq!(
        polls[0].params["allowed_updates"],
        r#"["message","edited_message"]"#
    );
}

/// In a group: a mention of the bot with a trigger word opens a
/// conversation, a mention without one goes to the listening stream, chatter
/// not addressed to the bot is ignored; the public answer goes to the group
/// quoting the customer, and their reply to the bot joins the conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_mentions_open_conversations_or_go_to_the_stream() {
    let fake = FakeTelegram::start(TOKEN);
    let luis = Person::new(42_424_242, "Luis", Some("Martín"), Some("luis_m"));
    let marta = Person::new(43_434_343, "Marta", None, Some("martagil"));
    let pedro = Person::new(44_444_444, "Pedro", None, None);
    let ana = Person::new(111_222_333, "Ana", None, Some("anaperez"));
    let (_, asked) = fake.push_group(
        GROUP,
        "Clientes Nordia",
        &luis,
        &format!("@{BOT_USERNAME} ayuda, mi pedido no llega"),
    );
    fake.push_group(
        GROUP,
        "Clientes Nordia",
        &marta,
        &format!("¡Qué buen servicio @{BOT_USERNAME}! 👏"),
    );
    fake.push_group(
        GROUP,
        "Clientes Nordia",
        &pedro,
        "alguien sabe si abren hoy? necesito ayuda",
    );
    fake.push_private(&ana, "hola");
    let server = Server::start(&config(&fake.base_url(), TOKEN)).await;
    let token = server.admin_token().await;
    wait_messages(&server, &token, 2, Duration::from_secs(15)).await;
    let convs = all_conversations(&server, &token).await;
    assert_eq!(convs.len(), 2, "{convs:?}");
    let group = conversation_of(&server, &token, "@luis_m").await.unwrap();
    let gid = group["id"].as_u64().unwrap();
    let d = detail(&server, &token, gid).await;
    let texts: Vec<&str> = d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        vec![format!("@{BOT_USERNAME} ayuda, mi pedido no llega")]
    );

    let stream = get(&server, &token, "/stream").await;
    let items = stream["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{stream}");
    assert_eq!(items[0]["channel"], "tg");
    assert_eq!(items[0]["handle"], "@martagil");
    assert!(items[0]["text"].as_str().unwrap().contains("buen servicio"));

    // A public answer: to the group, quoting Luis.
    let mid = reply(
        &server,
        &token,
        gid,
        "Hola Luis, ¿nos das el número?",
        false,
    )
    .await;
    wait_delivery(&server, &token, gid, mid, "sent").await;
    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].chat_id, GROUP);
    assert_eq!(sent[0].reply_to, Some(asked));
    assert_eq!(
        sent[0].params["reply_parameters"]["allow_sending_without_reply"],
        true
    );

    // Luis answers the bot (no mention, no trigger): same conversation.
    fake.push_group_reply(
        GROUP,
        "Clientes Nordia",
        &luis,
        "es el 1234, gracias",
        Some(sent[0].message_id),
    );
    let joined = wait_for(Duration::from_secs(10), || async {
        let d = detail(&server, &token, gid).await;
        let n = d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "in")
            .count();
        (n == 2).then_some(())
    })
    .await;
    assert!(joined.is_some(), "the reply to the bot did not join");
    assert_eq!(all_conversations(&server, &token).await.len(), 2);
}

/// A 429 with `retry_after = 2` on getUpdates: no request before 2 s; then
/// the channel works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_poll_before_the_rate_limit_resets() {
    let fake = FakeTelegram::start(TOKEN);
    fake.fail(Method::GetUpdates, 1, Fault::RateLimited(2));
    let server = Server::start(&config(&fake.base_url(), TOKEN)).await;
    let token = server.admin_token().await;
    let two = wait_for(Duration::from_secs(10), || async {
        let c = fake.calls_of(Method::GetUpdates);
        (c.len() >= 2).then_some(c)
    })
    .await
    .expect("polling resumes after the reset");
    assert_eq!(two[0].status, 429);
    let gap = two[1].at.duration_since(two[0].at);
    assert!(gap >= Duration::from_secs(2), "polled again after {gap:?}");
    let ana = Person::new(111_222_333, "Ana", None, Some("anaperez"));
    fake.push_private(&ana, "¿seguís ahí?");
    wait_messages(&server, &token, 1, Duration::from_secs(10)).await;
}

/// Replies: a private answer reaches sendMessage with the chat and the
/// quoted message and becomes "sent"; a 429 waits its `retry_after`, a 500
/// is retried, both end with one message posted; a 400 marks the reply
/// failed with Telegram's words, and a blocked bot too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reach_send_message_and_failures_are_classified() {
    let fake = FakeTelegram::start(TOKEN);
    let ana = Person::new(111_222_333, "Ana", Some("Pérez"), Some("anaperez"));
    let (_, first) = fake.push_private(&ana, "mi pedido no llega");
    let server = Server::start(&config(&fake.base_url(), TOKEN)).await;
    let token = server.admin_token().await;
    wait_messages(&server, &token, 1, Duration::from_secs(15)).await;
    let conv = conversation_of(&server, &token, "@anaperez").await.unwrap();
    let cid = conv["id"].as_u64().unwrap();

    let m1 = reply(&server, &token, cid, "Hola Ana, lo revisamos ahora", true).await;
    wait_delivery(&server, &token, cid, m1, "sent").await;
    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].chat_id, ana.id);
    assert_eq!(sent[0].text, "Hola Ana, lo revisamos ahora");
    assert_eq!(sent[0].reply_to, Some(first));

    // The customer writes again: the next answer quotes that message.
    let (_, second) = fake.push_private(&ana, "gracias, es el pedido 1234");
    wait_messages(&server, &token, 3, Duration::from_secs(10)).await;

    fake.fail(Method::SendMessage, 1, Fault::RateLimited(1));
    let m2 = reply(&server, &token, cid, "Ya está en camino", true).await;
    wait_delivery(&server, &token, cid, m2, "sent").await;
    let calls = fake.calls_of(Method::SendMessage);
    let limited = calls.iter().rposition(|c| c.status == 429).unwrap();
    let gap = calls[limited + 1].at.duration_since(calls[limited].at);
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
    assert_eq!(fake.sent().len(), 2);
    assert_eq!(fake.sent()[1].reply_to, Some(second));

    fake.fail(Method::SendMessage, 1, Fault::ServerError);
    fake.fail(Method::SendMessage, 1, Fault::BadGateway);
    let m3 = reply(&server, &token, cid, "¿Algo más?", true).await;
    wait_delivery(&server, &token, cid, m3, "sent").await;
    assert_eq!(fake.sent().len(), 3);

    fake.fail(
        Method::SendMessage,
        1,
        Fault::Error(400, "Bad Request: chat not found".into()),
    );
    let m4 = reply(&server, &token, cid, "¿Hola?", true).await;
    let failed = wait_delivery(&server, &token, cid, m4, "failed").await;
    let why = failed["delivery_detail"].as_str().unwrap_or_default();
    assert!(why.contains("Bad Request: chat not found"), "{failed}");

    fake.block(ana.id);
    let m5 = reply(&server, &token, cid, "¿Sigues ahí?", true).await;
    let failed = wait_delivery(&server, &token, cid, m5, "failed").await;
    let why = failed["delivery_detail"].as_str().unwrap_or_default();
    assert!(why.contains("bot was blocked by the user"), "{failed}");
    assert_eq!(fake.sent().len(), 3);
    assert!(!server.log().contains(TOKEN));
}

fn channel(base_url: &str, token: &str) -> TelegramChannel {
    TelegramChannel {
        name: "tg".into(),
        token: Some(Secret::new(token)),
        base_url: base_url.into(),
        poll_timeout: Dur(Duration::from_secs(1)),
        listening: Listening::default(),
    }
}

/// The connector alone: a `sendMessage` that Telegram processes but answers
/// too late is reported "delivery unknown" and not sent again, so the
/// customer gets it once; "check connection" names the bot, or says the
/// token is refused without showing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_send_is_not_posted_twice_and_check_names_the_bot() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = FakeTelegram::start(TOKEN);
    let ana = Person::new(111_222_333, "Ana", None, Some("anaperez"));
    let (_, asked) = fake.push_private(&ana, "hola");
    let tg = Telegram::new(&channel(&fake.base_url(), TOKEN))
        .unwrap()
        .with_send_timeout(Duration::from_millis(400));
    assert_eq!(tg.check().await, Ok(format!("@{BOT_USERNAME}")));

    fake.fail(
        Method::SendMessage,
        1,
        Fault::Delay(Duration::from_millis(1200)),
    );
    let out = OutgoingSocial {
        idempotency_key: "k1".into(),
        text: "Hola Ana".into(),
        private: true,
        in_reply_to: Some(format!("{}:{asked}", ana.id)),
        thread: format!("chat:{}", ana.id),
        recipient: Some(ana.id.to_string()),
        handle: "@anaperez".into(),
        ..OutgoingSocial::default()
    };
    let started = Instant::now();
    match tg.send(&out).await {
        SendResult::Unknown(why) => {
            assert!(why.starts_with("delivery unknown"), "{why}");
            assert!(!why.contains(TOKEN), "{why}");
        }
        r => panic!("expected delivery unknown, got {r:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(fake.sent().len(), 1, "posted exactly once");
    assert_eq!(fake.calls_of(Method::SendMessage).len(), 1);

    // A normal send: the posted id is chat:message.
    let r = tg.send(&out).await;
    assert_eq!(
        r,
        SendResult::Posted(format!("{}:{}", ana.id, fake.sent()[1].message_id))
    );

    let wrong = Telegram::new(&channel(&fake.base_url(), "123:WRONG")).unwrap();
    match wrong.check().await {
        Err(ConnError::Auth(why)) => assert!(!why.contains("123:WRONG"), "{why}"),
        r => panic!("expected an auth error, got {r:?}"),
    }
    fake.set_webhook(true);
    match tg.poll(None).await {
        Err(ConnError::Invalid(why)) => assert!(why.contains("webhook"), "{why}"),
        r => panic!("expected a conflict, got {r:?}"),
    }
}

/// A refused token and an unreachable API: the workers page shows why, and
/// neither token appears in the server's log or on that page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_reaches_the_log() {
    let fake = FakeTelegram::start(TOKEN);
    let closed = common::free_port();
    let cfg = format!(
        "{}[[channel.telegram]]\nname = \"tg2\"\ntoken = \"456:ALSOSECRET\"\nbase_url = \"http://127.0.0.1:{closed}\"\npoll_timeout = \"1s\"\n",
        config(&fake.base_url(), "123:WRONGSECRET")
    );
    let server = Server::start(&cfg).await;
    let token = server.admin_token().await;
    let refused = wait_for(Duration::from_secs(10), || async {
        let calls = fake.calls();
        (calls.len() >= 2).then_some(calls)
    })
    .await
    .expect("the fake is called");
    assert!(refused.iter().all(|c| !c.authorized && c.status == 401));
    let workers = wait_for(Duration::from_secs(10), || async {
        let w = get(&server, &token, "/admin/workers").await;
        let text = w.to_string();
        (text.contains("Telegram refused the bot token") && text.contains("cannot reach Telegram"))
            .then_some(text)
    })
    .await
    .unwrap_or_else(|| panic!("no errors on the workers page\n{}", server.log()));
    let log = server.log();
    for secret in ["WRONGSECRET", "ALSOSECRET"] {
        assert!(!workers.contains(secret), "{workers}");
        assert!(!log.contains(secret), "{log}");
    }
    assert!(log.contains("telegram"), "{log}");
}
