//! The social framework with a scripted in-process connector: items and
//! cursor stored together and exactly once, the listening stream (promote,
//! dismiss), delivery statuses, replies dispatched to the connector with the
//! right target and visibility, personal data held in public replies, and a
//! conversation moved to private in one step.

use atalaya::app::{App, Caller, auth, social::SocialOutcome};
use atalaya::channels::SendResult;
use atalaya::channels::social::{
    ConnError, Connector, OutgoingSocial, Polled, SocialItem, worker::SocialWorker,
};
use atalaya::config::{Config, Overrides};
use atalaya::domain::*;
use atalaya::ingest::{AuthorProfile, InboundMessage};
use atalaya::store::{Store, StoreOptions};
use atalaya::workers::{self, Registry, Step};
use futures_util::future::BoxFuture;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A connector whose polls and sends are scripted by the test.
#[derive(Default)]
struct Scripted {
    pages: Mutex<Vec<Result<Polled, ConnError>>>,
    cursors_seen: Mutex<Vec<Option<String>>>,
    sent: Mutex<Vec<OutgoingSocial>>,
}

impl Connector for Scripted {
    fn name(&self) -> &str {
        "tw"
    }
    fn kind(&self) -> ChannelKind {
        ChannelKind::X
    }
    fn poll<'a>(&'a self, cursor: Option<&'a str>) -> BoxFuture<'a, Result<Polled, ConnError>> {
        self.cursors_seen
            .lock()
            .unwrap()
            .push(cursor.map(str::to_string));
        let next = {
            let mut p = self.pages.lock().unwrap();
            if p.is_empty() {
                Ok(Polled::default())
            } else {
                p.remove(0)
            }
        };
        Box::pin(async move { next })
    }
    fn idle(&self) -> Duration {
        Duration::from_secs(60)
    }
    fn send<'a>(&'a self, out: &'a OutgoingSocial) -> BoxFuture<'a, SendResult> {
        let mut sent = self.sent.lock().unwrap();
        sent.push(out.clone());
        let id = format!("posted-{}", sent.len());
        Box::pin(async move { SendResult::Posted(id) })
    }
    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String, ConnError>> {
        Box::pin(async { Ok("@tienda".to_string()) })
    }
    /// A delivery signed `x-sig: ok` carries one DM whose id is the body.
    fn webhook(
        &self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<atalaya::channels::social::WebhookOutcome, atalaya::channels::social::WebhookError>
    {
        if !headers.iter().any(|(k, v)| k == "x-sig" && v == "ok") {
            return Err(atalaya::channels::social::WebhookError::BadSignature);
        }
        let id = String::from_utf8_lossy(body).to_string();
        Ok(atalaya::channels::social::WebhookOutcome {
            polled: Polled {
                items: vec![item(&id, "@wh", "hola por privado", false)],
                ..Default::default()
            },
        })
    }
}

fn item(id: &str, handle: &str, text: &str, mention: bool) -> SocialItem {
    SocialItem {
        msg: InboundMessage {
            channel: "tw".into(),
            kind: ChannelKind::X,
            external_id: id.into(),
            thread: Some(format!("tweet:{id}")),
            author: AuthorProfile {
                handle: handle.into(),
                followers: Some(120_000),
                verified: true,
                ..Default::default()
            },
            text: text.into(),
            html: None,
            subject: None,
            attachments: vec![],
            public: mention,
            sent_at: None,
        },
        mention,
        recipient: Some(format!("uid-{handle}")),
        url: Some(format!("https://x.test/{id}")),
    }
}

async fn setup(conn: Arc<Scripted>) -> (Arc<App>, Caller, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ov = Overrides {
        listen: None,
        data: Some(dir.path().join("d")),
    };
    let cfg = Config::load(None, std::iter::empty(), &ov).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Store::open(
        &cfg.server.data,
        StoreOptions::default(),
        clock.clone(),
        Arc::new(atalaya::metrics::Metrics::default()),
    )
    .unwrap();
    let app = App::new(
        store,
        Arc::new(cfg),
        clock.clone(),
        Arc::new(Registry::new(clock)),
    );
    app.register_connector(conn, Default::default());
    let app = Arc::new(app);
    auth::create_user(
        &app.store,
        "admin@x.test",
        "Ana",
        Role::Admin,
        "password-123",
    )
    .await
    .unwrap();
    let admin = Caller::Staff(
        app.store
            .read(|r| r.user_by_email("admin@x.test"))
            .await
            .unwrap()
            .unwrap(),
    );
    (app, admin, dir)
}

#[tokio::test]
async fn items_cursor_stream_and_statuses() {
    let conn = Arc::new(Scripted::default());
    *conn.pages.lock().unwrap() = vec![
        Ok(Polled {
            items: vec![
                item("1", "@ana", "@tienda me cobraron dos veces", true),
                item("2", "@luis", "me encanta @tienda", true),
                item("3", "@eva", "hola, os escribo por privado", false),
            ],
            cursor: Some("c1".into()),
            more: true,
            ..Default::default()
        }),
        // The same page again (a re-poll after a crash): nothing doubles.
        Ok(Polled {
            items: vec![
                item("1", "@ana", "@tienda me cobraron dos veces", true),
                item("2", "@luis", "me encanta @tienda", true),
            ],
            cursor: Some("c2".into()),
            ..Default::default()
        }),
        Err(ConnError::RateLimited(Duration::from_secs(7))),
    ];
    let (app, admin, _dir) = setup(conn.clone()).await;
    let w = SocialWorker::new(app.clone(), conn.clone());
    assert_eq!(w.poll_once().await.unwrap(), Step::Busy);
    assert!(matches!(w.poll_once().await.unwrap(), Step::Idle(_)));
    assert_eq!(
        w.poll_once().await.unwrap(),
        Step::Throttled(Duration::from_secs(7)),
        "a rate limit becomes a pause, not an error"
    );
    assert_eq!(
        *conn.cursors_seen.lock().unwrap(),
        vec![None, Some("c1".into()), Some("c2".into())],
        "each poll starts from the cursor saved with the previous items"
    );
    let convs = app.store.read(|r| r.all_conversations()).await.unwrap();
    assert_eq!(convs.len(), 2, "the trigger mention and the DM");
    assert!(convs.iter().any(|c| c.public) && convs.iter().any(|c| !c.public));
    let stream = app.stream(&admin, false).await.unwrap();
    assert_eq!(stream.len(), 1, "the praise waits in the stream, once");
    assert_eq!(stream[0].handle, "@luis");
    assert_eq!(stream[0].matched.as_deref(), None);
    assert_eq!(stream[0].followers, Some(120_000));

    // Promote it: a conversation; dismissing it again is refused.
    let out = app
        .stream_resolve(&admin, stream[0].id, true)
        .await
        .unwrap();
    assert!(out.starts_with("promoted: conversation "), "{out}");
    assert!(
        app.stream_resolve(&admin, stream[0].id, false)
            .await
            .is_err()
    );
    assert!(app.stream(&admin, false).await.unwrap().is_empty());
    assert_eq!(app.stream(&admin, true).await.unwrap().len(), 1);

    // A reply goes to the connector with the target and visibility; the
    // network's id is recorded and a status moves it forward, never back.
    let ana = convs.iter().find(|c| c.public).unwrap().id;
    let r = app
        .reply(&admin, ana, "Lo sentimos, lo revisamos ya", false, false)
        .await
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let outbox = workers::spawn(
        {
            let app = app.clone();
            move || workers::outbox::OutboxWorker::new(app.clone())
        },
        app.workers.clone(),
        stop_rx,
        Some(app.outbox_wake.clone()),
    );
    let sent = wait_sent(&app, r.message).await;
    assert_eq!(sent.external_id.as_deref(), Some("posted-1"));
    {
        let s = conn.sent.lock().unwrap();
        assert_eq!(s.len(), 1);
        assert!(!s[0].private);
        assert_eq!(s[0].in_reply_to.as_deref(), Some("1"));
        assert_eq!(s[0].recipient.as_deref(), Some("uid-@ana"));
        assert_eq!(s[0].thread, "tweet:1");
    }
    for (d, want) in [
        (Delivery::Read, Delivery::Read),
        (Delivery::Delivered, Delivery::Read),
    ] {
        let polled = Polled {
            statuses: vec![("posted-1".into(), d, None)],
            ..Default::default()
        };
        app.store_social("tw", polled).await.unwrap();
        let mid = r.message;
        let m = app
            .store
            .read(move |rd| rd.message(mid))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.delivery, Some(want));
    }
    stop_tx.send(true).unwrap();
    outbox.await.unwrap();
}

async fn wait_sent(app: &App, id: MessageId) -> Message {
    for _ in 0..100 {
        let m = app
            .store
            .read(move |r| r.message(id))
            .await
            .unwrap()
            .unwrap();
        if m.delivery == Some(Delivery::Sent) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the reply was not sent");
}

#[tokio::test]
async fn personal_data_is_held_in_public_and_a_conversation_moves_to_private() {
    let conn = Arc::new(Scripted::default());
    *conn.pages.lock().unwrap() = vec![Ok(Polled {
        items: vec![item("9", "@ana", "@tienda ayuda con mi pedido", true)],
        cursor: Some("c".into()),
        ..Default::default()
    })];
    let (app, admin, _dir) = setup(conn.clone()).await;
    let first = conn.pages.lock().unwrap().remove(0).unwrap();
    let outcomes = app.store_social("tw", first).await.unwrap();
    let SocialOutcome::Stored(o) = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    let id = o.conversation;
    let e = app
        .reply(&admin, id, "Escríbenos a soporte@tienda.es", false, false)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("an email address"), "{e}");
    // Privately it goes; confirmed, it may be public too.
    app.reply(&admin, id, "Escríbenos a soporte@tienda.es", true, false)
        .await
        .unwrap();
    app.reply_checked(&admin, id, "Llama al 600 123 456", (false, false), true)
        .await
        .unwrap();
    // Notes are never held.
    app.reply(&admin, id, "su email es ana@x.es", false, true)
        .await
        .unwrap();
    let c = app.set_visibility(&admin, id, false).await.unwrap();
    assert!(!c.public);
    let events = app
        .store
        .read(move |r| r.conversation_events(id))
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::VisibilityChanged { public: false, .. }))
    );
    assert_eq!(
        app.store
            .read(|r| r.all_conversations())
            .await
            .unwrap()
            .len(),
        1,
        "still one conversation"
    );
}

fn in_thread(mut it: SocialItem, thread: &str) -> SocialItem {
    it.msg.thread = Some(thread.into());
    it
}

fn stored(o: &[SocialOutcome]) -> ConversationId {
    match &o[0] {
        SocialOutcome::Stored(s) => s.conversation,
        other => panic!("not stored: {other:?}"),
    }
}

/// Follow-ups in an open conversation's thread join it without a trigger
/// word; a promoted mention keeps its thread and its author's id (so it can
/// be answered privately); "please DM us" keeps one conversation, and public
/// replies answer the customer's last public message.
#[tokio::test]
async fn threads_promotion_and_please_dm_us_keep_one_conversation() {
    let conn = Arc::new(Scripted::default());
    let (app, admin, _dir) = setup(conn.clone()).await;
    let poll = |items: Vec<SocialItem>| Polled {
        items,
        ..Default::default()
    };
    let ana = stored(
        &app.store_social(
            "tw",
            poll(vec![item(
                "1",
                "@ana",
                "@tienda me cobraron dos veces",
                true,
            )]),
        )
        .await
        .unwrap(),
    );
    // No trigger word, but the thread has an open conversation: it joins.
    let follow = in_thread(item("4", "@ana", "@tienda sigo esperando", true), "tweet:1");
    assert_eq!(
        stored(&app.store_social("tw", poll(vec![follow])).await.unwrap()),
        ana
    );
    // Someone else's chatter in Ana's thread is not her case: the stream.
    let bystander = in_thread(item("3", "@eva", "@tienda yo también", true), "tweet:1");
    let o = app.store_social("tw", poll(vec![bystander])).await.unwrap();
    assert!(matches!(o[0], SocialOutcome::Streamed { .. }), "{o:?}");
    // No trigger and no open conversation of his: the stream; promoted, the
    // thread and the author's id are kept.
    let o = app
        .store_social(
            "tw",
            poll(vec![item("2", "@luis", "me encanta @tienda", true)]),
        )
        .await
        .unwrap();
    let SocialOutcome::Streamed { id: sid, .. } = o[0] else {
        panic!("{o:?}")
    };
    app.stream_resolve(&admin, sid, true).await.unwrap();
    let luis_next = in_thread(item("5", "@luis", "gracias @tienda", true), "tweet:2");
    let luis = stored(&app.store_social("tw", poll(vec![luis_next])).await.unwrap());
    let lc = app
        .store
        .read(move |r| r.conversation(luis))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lc.thread_key, "tweet:2");
    assert_eq!(
        lc.message_count, 2,
        "the promoted mention and the follow-up"
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let outbox = workers::spawn(
        {
            let app = app.clone();
            move || workers::outbox::OutboxWorker::new(app.clone())
        },
        app.workers.clone(),
        stop_rx,
        Some(app.outbox_wake.clone()),
    );
    let r = app
        .reply(&admin, luis, "¡Gracias, Luis!", true, false)
        .await
        .unwrap();
    wait_sent(&app, r.message).await;
    {
        let s = conn.sent.lock().unwrap();
        let last = s.last().unwrap();
        assert!(last.private);
        assert_eq!(last.recipient.as_deref(), Some("uid-@luis"));
        assert_eq!(last.in_reply_to.as_deref(), Some("5"));
        assert!(
            last.timeout.is_some(),
            "[outbox] timeout reaches the connector"
        );
    }

    // "Please DM us": the DM (another thread) continues Ana's conversation,
    // and replies there go privately even when not asked to.
    app.set_visibility(&admin, ana, false).await.unwrap();
    let dm = in_thread(item("6", "@ana", "mi pedido es el A-1042", false), "dm:77");
    assert_eq!(
        stored(&app.store_social("tw", poll(vec![dm])).await.unwrap()),
        ana,
        "one conversation"
    );
    let r = app
        .reply(&admin, ana, "Gracias, ya lo vemos", false, false)
        .await
        .unwrap();
    wait_sent(&app, r.message).await;
    {
        let s = conn.sent.lock().unwrap();
        let last = s.last().unwrap();
        assert!(last.private, "a private conversation answers privately");
        assert_eq!(last.in_reply_to.as_deref(), Some("6"));
    }
    // Back in public, the reply goes under her last *public* message.
    app.set_visibility(&admin, ana, true).await.unwrap();
    let r = app
        .reply(
            &admin,
            ana,
            "Resuelto, ¡gracias por la paciencia!",
            false,
            false,
        )
        .await
        .unwrap();
    wait_sent(&app, r.message).await;
    {
        let s = conn.sent.lock().unwrap();
        let last = s.last().unwrap();
        assert!(!last.private);
        assert_eq!(last.in_reply_to.as_deref(), Some("4"));
    }
    let all = app.store.read(|r| r.all_conversations()).await.unwrap();
    assert_eq!(all.len(), 2, "Ana's and Luis's");

    // Once resolved, chatter in the thread goes back to the stream.
    app.set_status(&admin, ana, Status::Resolved, None)
        .await
        .unwrap();
    let late = in_thread(item("8", "@ana", "@tienda ok", true), "tweet:1");
    let o = app.store_social("tw", poll(vec![late])).await.unwrap();
    assert!(matches!(o[0], SocialOutcome::Streamed { .. }), "{o:?}");
    stop_tx.send(true).unwrap();
    outbox.await.unwrap();
}

/// A signed webhook delivery to a disabled channel is refused with 503 (the
/// network delivers it again later) and stores nothing; once enabled, the
/// redelivery is stored. A bad signature is 401 either way.
#[tokio::test]
async fn webhooks_wait_while_the_channel_is_disabled() {
    use tower::ServiceExt;
    let conn = Arc::new(Scripted::default());
    let (app, admin, _dir) = setup(conn.clone()).await;
    let router = atalaya::web::router(app.clone());
    let post = |sig: &'static str| {
        let router = router.clone();
        async move {
            let req = axum::http::Request::builder()
                .method("POST")
                .uri("/webhooks/tw")
                .header("x-sig", sig)
                .body(axum::body::Body::from("wh-1"))
                .unwrap();
            router.oneshot(req).await.unwrap().status().as_u16()
        }
    };
    let count = || async { app.store.read(|r| r.message_count()).await.unwrap() };
    app.set_channel_enabled(&admin, "tw", false).await.unwrap();
    assert_eq!(post("bad").await, 401);
    assert_eq!(post("ok").await, 503);
    assert_eq!(count().await, 0, "nothing stored while disabled");
    app.set_channel_enabled(&admin, "tw", true).await.unwrap();
    assert_eq!(post("ok").await, 200);
    assert_eq!(count().await, 1);
}
