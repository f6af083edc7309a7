//! The X channel against a local fake of API v2 (`tests/fakes/x.rs`): the
//! real `atalaya serve` binary polls mentions, DMs and the recent search and
//! replies through the fake; the last tests drive the connector directly for
//! the corners of the send path (429, 403, 5xx, timeouts with and without a
//! working check) and of the cursor.

mod common;
#[path = "fakes/x.rs"]
mod fake;

use atalaya::channels::SendResult;
use atalaya::channels::social::x::{Cursor, MAX_PAGES, XConnector};
use atalaya::channels::social::{ConnError, Connector, OutgoingSocial};
use atalaya::config::{Dur, Listening, Secret, XChannel};
use common::api::{all_conversations, get};
use common::{Server, wait_for};
use fake::{Ep, FakeX, ME};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A token that cannot appear in a log by accident.
const TOKEN: &str = "xtok-Qm7Zr2Lp9vK";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn config(x: &FakeX) -> String {
    format!(
        "[outbox]\nmin_backoff = \"200ms\"\nmax_backoff = \"1s\"\ntimeout = \"1s\"\nmax_attempts = 1000\n\
         [[channel.x]]\nname = \"x\"\nuser_id = \"{ME}\"\nbearer_token = \"{TOKEN}\"\n\
         base_url = \"{}\"\npoll_interval = \"1s\"\n\
         [channel.x.listening]\nbrand_handles = [\"@tienda\"]\nhashtags = [\"tienda\"]\n",
        x.base_url()
    )
}

/// The fake with our token and two customers, Ana (2001) and Bob (2002).
fn fake_x() -> FakeX {
    let x = FakeX::start();
    x.set_token(TOKEN);
    x.add_user("2001", "ana_p", "Ana Pérez", 1200, true);
    x.add_user("2002", "bob", "Bob", 3, false);
    x
}

async fn wait_conversations(
    server: &Server,
    token: &str,
    n: usize,
    timeout: Duration,
) -> Vec<Value> {
    let got = wait_for(timeout, || async {
        let c = all_conversations(server, token).await;
        (c.len() >= n).then_some(c)
    })
    .await;
    match got {
        Some(c) => c,
        None => panic!(
            "expected {n} conversations, have {}\n{}",
            all_conversations(server, token).await.len(),
            server.log()
        ),
    }
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

/// The message's delivery once it is no longer queued.
async fn delivered(server: &Server, token: &str, conv: u64, msg: u64, timeout: Duration) -> Value {
    let got = wait_for(timeout, || async {
        let d = detail(server, token, conv).await;
        let m = d["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == msg)
            .cloned()?;
        (m["delivery"] != "queued").then_some(m)
    })
    .await;
    got.unwrap_or_else(|| panic!("message {msg} still queued\n{}", server.log()))
}

/// The listening stream (public mentions that did not open a conversation).
async fn stream(server: &Server, token: &str) -> Vec<Value> {
    get(server, token, "/stream").await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// 250 mentions with trigger words (3 pages of X's 100, read two pages per
/// poll), a DM, two mentions without a trigger and a mention by a deleted
/// account; the server is killed with -9 right after the first poll is
/// stored. Every item is stored exactly once, the cursor survived the kill
/// (the walk goes on older with `until_id`), quiet mentions went to the
/// listening stream and a DM always opens a conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_and_dms_exactly_once_across_pages_and_kill9() {
    let x = fake_x();
    for a in 0..50 {
        x.add_user(
            &(3000 + a).to_string(),
            &format!("cliente{a}"),
            &format!("Cliente {a}"),
            a,
            false,
        );
    }
    let mut mention_ids = Vec::new();
    for i in 0..250u64 {
        let author = (3000 + i % 50).to_string();
        let text = format!("@tienda necesito ayuda con el pedido {i}");
        mention_ids.push(x.add_tweet(&author, &text, None));
    }
    x.add_user("2009", "borrada", "Cuenta borrada", 10, false);
    x.add_tweet("2009", "@tienda I want a refund", None);
    x.remove_user("2009");
    x.add_tweet("2002", "@tienda qué bonita la tienda nueva", None);
    x.add_tweet("2001", "#tienda me encanta el catálogo", None);
    x.add_dm("2001", "hola, una consulta");
    // Slow mention pages: the second poll is still reading when the first is stored.
    x.slow(Ep::Mentions, Duration::from_millis(1500), 1000);

    let t0 = Instant::now();
    let mut server = Server::start(&config(&x)).await;
    let token = server.admin_token().await;
    let first = wait_for(Duration::from_secs(30), || async {
        let v = get(&server, &token, "/conversations?status=all&limit=1").await;
        (!v["items"].as_array().unwrap().is_empty()).then_some(())
    })
    .await;
    assert!(first.is_some(), "nothing stored\n{}", server.log());
    server.kill9();
    let stored_at_kill = x.count(Ep::Mentions);
    let restart_ms = now_ms();
    server.restart().await;
    let token = server.admin_token().await;
    let convs = wait_conversations(&server, &token, 252, Duration::from_secs(30)).await;
    // Let it poll a few more times: nothing more may appear.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let convs_after = all_conversations(&server, &token).await;
    assert_eq!(
        convs_after.len(),
        252,
        "250 mentions + 1 by a deleted account + 1 DM"
    );
    let messages: u64 = convs_after
        .iter()
        .map(|c| c["message_count"].as_u64().unwrap())
        .sum();
    assert_eq!(messages, 252, "every item stored exactly once");
    assert_eq!(convs.len(), convs_after.len());

    // The DM (no trigger word) opened a private conversation.
    let dm = convs_after
        .iter()
        .find(|c| c["public"] == false)
        .expect("the DM's conversation");
    assert_eq!(dm["contact"]["handle"], "@ana_p");
    let d = detail(&server, &token, dm["id"].as_u64().unwrap()).await;
    assert_eq!(d["messages"][0]["text"], "hola, una consulta");
    assert!(
        d["messages"][0]["external_id"]
            .as_str()
            .unwrap()
            .starts_with("dm:")
    );
    // The deleted account is known by its id.
    assert!(
        convs_after
            .iter()
            .any(|c| c["contact"]["handle"] == "id:2009"),
        "the deleted author's mention"
    );
    let handles: HashSet<&str> = convs_after
        .iter()
        .filter_map(|c| c["contact"]["handle"].as_str())
        .collect();
    assert!(handles.contains("@cliente0") && handles.contains("@cliente49"));

    // Mentions without a trigger are in the listening stream, once.
    let s = stream(&server, &token).await;
    let texts: Vec<&str> = s.iter().filter_map(|i| i["text"].as_str()).collect();
    assert_eq!(s.len(), 2, "{texts:?}");
    assert!(texts.contains(&"@tienda qué bonita la tienda nueva"));
    assert!(texts.contains(&"#tienda me encanta el catálogo"));
    let hashtag = s.iter().find(|i| i["handle"] == "@ana_p").unwrap();
    assert!(
        hashtag["url"]
            .as_str()
            .unwrap()
            .starts_with("https://x.com/ana_p/status/"),
        "{hashtag}"
    );

    // X was read the documented way: pages, then older with until_id after
    // the restart, then since_id.
    let mentions = x.requests(Ep::Mentions);
    assert!(
        mentions
            .iter()
            .any(|r| r.param("pagination_token").is_some())
    );
    assert!(
        mentions
            .iter()
            .all(|r| r.param("max_results").as_deref() == Some("100"))
    );
    let after: Vec<_> = mentions.iter().filter(|r| r.at_ms >= restart_ms).collect();
    assert!(
        after[0].param("until_id").is_some() && after[0].param("since_id").is_none(),
        "the cursor survived the kill: {:?} (mention requests at the kill: {stored_at_kill})",
        after[0].query
    );
    let newest = mention_ids
        .iter()
        .max_by_key(|s| (s.len(), (*s).clone()))
        .unwrap();
    let last = mentions.last().unwrap();
    assert!(
        last.param("since_id")
            .is_some_and(|s| s.len() == newest.len() && s >= *newest),
        "later polls ask only for newer mentions: {}",
        last.query
    );
    assert!(x.requests(Ep::Search).iter().any(
        |r| r.param("query").as_deref() == Some("(@tienda OR #tienda) -is:retweet -from:1001")
    ));
    assert!(
        !server.log().contains(TOKEN),
        "the token leaked into the log"
    );
    println!("mentions_and_dms_exactly_once: {:?}", t0.elapsed());
}

/// `x-rate-limit-remaining: 0` with a reset 2 s ahead: no request to that
/// endpoint before the reset, while the other endpoints go on; a 429 the
/// same. Never a 429 on the endpoint we were warned about.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_respected_before_they_become_errors() {
    let x = fake_x();
    x.set_window(Ep::Mentions, 1, Duration::from_secs(2));
    // The first DM request is refused with 429 (and a reset 2-3 s ahead).
    x.fail_next(Ep::DmEvents, 429, 1);
    x.add_tweet("2001", "@tienda ayuda por favor", None);
    let t0 = Instant::now();
    let server = Server::start(&config(&x)).await;
    let token = server.admin_token().await;
    wait_conversations(&server, &token, 1, Duration::from_secs(20)).await;
    let enough = wait_for(Duration::from_secs(15), || async {
        (x.count(Ep::Mentions) >= 3 && x.count(Ep::DmEvents) >= 2).then_some(())
    })
    .await;
    assert!(enough.is_some(), "polling stopped\n{}", server.log());

    let mentions = x.requests(Ep::Mentions);
    assert!(mentions.len() >= 2, "{mentions:?}");
    assert_eq!(
        mentions[0].remaining,
        Some(0),
        "the first answer spends the window"
    );
    for w in mentions.windows(2) {
        if w[0].remaining == Some(0) {
            let reset_ms = w[0].reset.unwrap() * 1000;
            assert!(
                w[1].at_ms >= reset_ms,
                "mentions called {} ms before the reset",
                reset_ms - w[1].at_ms
            );
        }
    }
    assert!(
        mentions.iter().all(|r| r.status != 429),
        "warned by the headers, never refused: {mentions:?}"
    );
    // Other endpoints are not held back by the mentions window.
    let m0 = &mentions[0];
    let blocked = m0.at_ms..m0.reset.unwrap() * 1000;
    assert!(
        x.requests(Ep::Search)
            .iter()
            .any(|r| blocked.contains(&r.at_ms) && r.at_ms > m0.at_ms + 500),
        "search went on while mentions waited"
    );

    let dms = x.requests(Ep::DmEvents);
    assert_eq!(dms[0].status, 429);
    assert_eq!(dms.iter().filter(|r| r.status == 429).count(), 1, "{dms:?}");
    assert!(dms.len() >= 2, "DMs are read again after the reset");
    assert!(
        dms[1].at_ms >= dms[0].reset.unwrap() * 1000,
        "no DM request before the reset"
    );
    assert!(!server.log().contains(TOKEN));
    println!("rate_limits: {:?}", t0.elapsed());
}

/// A public reply goes to POST /2/tweets in reply to the customer's tweet
/// with their @handle; a private reply to the DM endpoint with their id; an
/// answer in a DM conversation is a DM. Our own DMs are not read back as
/// the customer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reach_the_right_endpoint_and_target() {
    let x = fake_x();
    let root = x.add_tweet("2002", "Nuevo catálogo de otoño", None);
    let mention = x.add_tweet("2001", "@tienda ayuda, mi pedido no llega", Some(&root));
    x.add_dm("2002", "¿Tenéis tienda física?");
    let t0 = Instant::now();
    let server = Server::start(&config(&x)).await;
    let token = server.admin_token().await;
    let convs = wait_conversations(&server, &token, 2, Duration::from_secs(20)).await;
    let public = convs.iter().find(|c| c["public"] == true).unwrap()["id"]
        .as_u64()
        .unwrap();
    let private = convs.iter().find(|c| c["public"] == false).unwrap()["id"]
        .as_u64()
        .unwrap();

    let m1 = reply(&server, &token, public, "Lo revisamos ahora mismo", false).await;
    let m = delivered(&server, &token, public, m1, Duration::from_secs(15)).await;
    assert_eq!(m["delivery"], "sent", "{m}");
    let tweets = x.posted_tweets();
    assert_eq!(tweets.len(), 1);
    assert_eq!(tweets[0].text, "@ana_p Lo revisamos ahora mismo");
    assert_eq!(
        tweets[0].in_reply_to.map(|i| i.to_string()),
        Some(mention.clone())
    );
    assert_eq!(
        m["external_id"],
        tweets[0].id.to_string(),
        "the posted id is kept"
    );

    let m2 = reply(&server, &token, public, "Te escribimos por DM", true).await;
    let m = delivered(&server, &token, public, m2, Duration::from_secs(15)).await;
    assert_eq!(m["delivery"], "sent", "{m}");
    let m3 = reply(
        &server,
        &token,
        private,
        "Sí, te esperamos en la tienda del centro",
        false,
    )
    .await;
    let m = delivered(&server, &token, private, m3, Duration::from_secs(15)).await;
    assert_eq!(m["delivery"], "sent", "{m}");
    let dms = x.posted_dms();
    assert_eq!(dms.len(), 2, "{dms:?}");
    assert_eq!(dms[0].dm_conversation_id, "1001-2001");
    assert_eq!(dms[0].text, "Te escribimos por DM");
    assert_eq!(dms[1].dm_conversation_id, "1001-2002");
    assert_eq!(dms[1].text, "Sí, te esperamos en la tienda del centro");
    let posts = x.requests(Ep::PostDm);
    assert_eq!(posts.len(), 2);
    assert_eq!(x.posted_tweets().len(), 1, "no other tweet");

    // A few polls later our DMs have not come back as the customer's.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let d = detail(&server, &token, private).await;
    let dirs: Vec<&str> = d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["direction"].as_str().unwrap())
        .collect();
    assert_eq!(dirs, ["in", "out"], "{d}");
    assert_eq!(all_conversations(&server, &token).await.len(), 2);
    assert!(!server.log().contains(TOKEN));
    println!("replies: {:?}", t0.elapsed());
}

/// X takes the tweet but answers after the connector gave up waiting: the
/// connector finds the reply among our tweets instead of posting it again.
/// Exactly one tweet exists and the message shows sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_post_that_was_created_is_not_posted_twice() {
    let x = fake_x();
    x.add_tweet("2001", "@tienda me cobraron dos veces", None);
    // Longer than `[outbox] timeout` (1 s), which bounds the post.
    x.slow(Ep::PostTweet, Duration::from_millis(2500), 1);
    let t0 = Instant::now();
    let server = Server::start(&config(&x)).await;
    let token = server.admin_token().await;
    let convs = wait_conversations(&server, &token, 1, Duration::from_secs(20)).await;
    let conv = convs[0]["id"].as_u64().unwrap();
    let msg = reply(
        &server,
        &token,
        conv,
        "Lo sentimos, lo devolvemos hoy",
        false,
    )
    .await;
    let m = delivered(&server, &token, conv, msg, Duration::from_secs(40)).await;
    assert_eq!(m["delivery"], "sent", "{m}");
    let tweets = x.posted_tweets();
    assert_eq!(tweets.len(), 1, "{tweets:?}");
    assert_eq!(m["external_id"], tweets[0].id.to_string());
    assert_eq!(
        x.count(Ep::PostTweet),
        1,
        "posted once, never retried blindly"
    );
    assert!(x.count(Ep::UserTweets) >= 1, "looked for the reply");
    // Nothing else is posted later.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(x.count(Ep::PostTweet), 1);
    assert!(!server.log().contains(TOKEN));
    println!("timed_out_post: {:?}", t0.elapsed());
}

// ---------------------------------------------------------------------------
// The connector alone

fn connector(x: &FakeX, send_timeout: Duration) -> XConnector {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = XChannel {
        name: "x".into(),
        user_id: ME.into(),
        bearer_token: Some(Secret::new(TOKEN)),
        base_url: x.base_url(),
        poll_interval: Dur(Duration::from_secs(1)),
        listening: Listening {
            brand_handles: vec!["@tienda".into()],
            ..Default::default()
        },
    };
    XConnector::new(&cfg, send_timeout)
}

fn out(key: &str, text: &str, private: bool, in_reply_to: &str) -> OutgoingSocial {
    OutgoingSocial {
        idempotency_key: key.into(),
        text: text.into(),
        private,
        in_reply_to: Some(in_reply_to.into()),
        thread: format!("tweet:{in_reply_to}"),
        recipient: Some("2001".into()),
        handle: "@ana_p".into(),
        now: atalaya::domain::Ts(now_ms()),
        ..Default::default()
    }
}

/// 403 (duplicate), 429 (no call before the reset), 5xx (look, then retry,
/// look again before posting), a timed-out DM that was created, a timed-out
/// tweet whose check fails (delivery unknown, never posted again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_outcomes() {
    let x = fake_x();
    let c = connector(&x, Duration::from_secs(1));
    let t = x.add_tweet("2001", "@tienda ayuda", None);

    assert_eq!(c.check().await, Ok("@tienda".to_string()));
    match c.send(&out("k1", "Hola", false, &t)).await {
        SendResult::Posted(id) => assert_eq!(id, x.posted_tweets()[0].id.to_string()),
        other => panic!("{other:?}"),
    }
    assert_eq!(x.posted_tweets()[0].text, "@ana_p Hola");
    // The same text again: X refuses duplicates for good.
    match c.send(&out("k2", "Hola", false, &t)).await {
        SendResult::Permanent(e) => assert!(e.contains("duplicate content"), "{e}"),
        other => panic!("{other:?}"),
    }

    // 429: retry at the reset, and no call at all before it.
    x.exhaust(Ep::PostTweet, Duration::from_secs(3));
    let r = c.send(&out("k3", "Uno", false, &t)).await;
    assert!(
        matches!(&r, SendResult::Retry { after: Some(d), .. } if *d > Duration::from_secs(1) && *d <= Duration::from_secs(5)),
        "{r:?}"
    );
    let posts = x.count(Ep::PostTweet);
    let r = c.send(&out("k3", "Uno", false, &t)).await;
    assert!(
        matches!(r, SendResult::Retry { after: Some(_), .. }),
        "{r:?}"
    );
    assert_eq!(x.count(Ep::PostTweet), posts, "no call before the reset");

    // A 500: not on X → retry; the next attempt looks first, then posts once.
    let dm_posts = x.count(Ep::PostDm);
    x.fail_next(Ep::PostDm, 500, 1);
    let r = c.send(&out("k4", "Te escribo por DM", true, &t)).await;
    assert!(matches!(r, SendResult::Retry { .. }), "{r:?}");
    let looks = x.count(Ep::DmWith);
    assert!(looks >= 1);
    let r = c.send(&out("k4", "Te escribo por DM", true, &t)).await;
    assert!(
        matches!(&r, SendResult::Posted(id) if id.starts_with("dm:")),
        "{r:?}"
    );
    assert!(x.count(Ep::DmWith) > looks, "looked again before posting");
    assert_eq!(x.count(Ep::PostDm), dm_posts + 2);
    assert_eq!(x.posted_dms().len(), 1);

    // A DM that X created but answered too late: found, not sent again.
    x.slow(Ep::PostDm, Duration::from_millis(1500), 1);
    let r = c
        .send(&out("k5", "¿Nos pasas el número de pedido?", true, &t))
        .await;
    let dms = x.posted_dms();
    assert_eq!(dms.len(), 2);
    assert_eq!(r, SendResult::Posted(format!("dm:{}", dms[1].id)));

    // A timed-out tweet and the check fails: unknown, never posted again.
    let t2 = x.add_tweet("2002", "@tienda no funciona la web", None);
    x.slow(Ep::PostTweet, Duration::from_millis(1500), 1);
    x.fail_next(Ep::UserTweets, 503, 1);
    let mut o = out("k6", "Ya está arreglado", false, &t2);
    o.handle = "@bob".into();
    match c.send(&o).await {
        SendResult::Unknown(e) => assert!(e.starts_with("delivery unknown"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        x.posted_tweets()
            .iter()
            .filter(|t| t.text == "@bob Ya está arreglado")
            .count(),
        1
    );
}

/// The cursor across polls: two pages per poll, then older with until_id,
/// then since_id; DMs stop at the saved event; 401 is an auth error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_cursor_and_errors() {
    let x = fake_x();
    let c = connector(&x, Duration::from_secs(5));
    let mut ids = Vec::new();
    for i in 0..250 {
        ids.push(x.add_tweet("2001", &format!("@tienda hola {i}"), None));
    }
    x.add_dm("2002", "primero");
    let p1 = c.poll(None).await.unwrap();
    assert_eq!(MAX_PAGES, 2);
    assert!(p1.more && p1.wait.is_none());
    let tweets: Vec<&str> = p1
        .items
        .iter()
        .filter(|i| i.mention)
        .map(|i| i.msg.external_id.as_str())
        .collect();
    assert_eq!(tweets.len(), 200, "two pages, mentions and search merged");
    assert_eq!(
        tweets,
        ids[50..].iter().map(String::as_str).collect::<Vec<_>>(),
        "oldest first"
    );
    assert_eq!(p1.items.iter().filter(|i| !i.mention).count(), 1);
    let cur1 = Cursor::parse(p1.cursor.as_deref());
    assert_eq!(cur1.mentions, None, "since_id waits until the walk is done");
    assert_eq!(cur1.partial["mentions"].newest, ids[249]);
    assert_eq!(cur1.partial["mentions"].next, ids[50]);
    assert!(cur1.dm.is_some());

    let p2 = c.poll(p1.cursor.as_deref()).await.unwrap();
    assert!(!p2.more);
    let tweets: Vec<&str> = p2
        .items
        .iter()
        .map(|i| i.msg.external_id.as_str())
        .collect();
    assert_eq!(
        tweets,
        ids[..50].iter().map(String::as_str).collect::<Vec<_>>()
    );
    let cur2 = Cursor::parse(p2.cursor.as_deref());
    assert_eq!(cur2.mentions.as_deref(), Some(ids[249].as_str()));
    assert_eq!(cur2.search.as_deref(), Some(ids[249].as_str()));
    assert!(cur2.partial.is_empty());

    // Nothing new: the cursor stays.
    let p3 = c.poll(p2.cursor.as_deref()).await.unwrap();
    assert!(p3.items.is_empty() && p3.cursor.is_none() && !p3.more);
    let last = x.requests(Ep::Mentions).pop().unwrap();
    assert_eq!(last.param("since_id").as_deref(), Some(ids[249].as_str()));

    // New DMs and mentions after that: only they come.
    let d = x.add_dm("2002", "segundo");
    let m = x.add_tweet("2002", "@tienda otra cosa", None);
    let p4 = c.poll(p2.cursor.as_deref()).await.unwrap();
    let got: Vec<&str> = p4
        .items
        .iter()
        .map(|i| i.msg.external_id.as_str())
        .collect();
    assert_eq!(got, [format!("dm:{d}"), m.clone()]);

    // A wrong token: nothing works until an admin fixes it.
    x.set_token("another");
    assert!(matches!(
        c.poll(p4.cursor.as_deref()).await,
        Err(ConnError::Auth(_))
    ));
    assert!(matches!(c.check().await, Err(ConnError::Auth(_))));
}
