use super::*;
use crate::domain::ManualClock;
use crate::metrics::Metrics;
use crate::store::{Store, StoreOptions};
use std::sync::Arc;

const DAY: i64 = 86_400_000;

fn rules() -> IngestRules {
    IngestRules {
        reopen_window_ms: 7 * DAY,
        max_text_bytes: 1000,
    }
}

fn msg(ext: &str, handle: &str, text: &str) -> InboundMessage {
    InboundMessage {
        channel: "api".into(),
        kind: ChannelKind::Api,
        external_id: ext.into(),
        thread: None,
        author: AuthorProfile {
            handle: handle.into(),
            name: Some("Ana Pérez".into()),
            ..Default::default()
        },
        text: text.into(),
        html: None,
        subject: None,
        attachments: vec![],
        public: true,
        sent_at: None,
    }
}

struct Fx {
    store: Store,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn fx() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Ts(1_700_000_000_000)));
    let store = Store::open(
        dir.path(),
        StoreOptions::default(),
        clock.clone(),
        Arc::new(Metrics::default()),
    )
    .unwrap();
    Fx {
        store,
        clock,
        _dir: dir,
    }
}

async fn ingest(store: &Store, m: InboundMessage) -> IngestOutcome {
    let m = prepare(m, &rules()).unwrap();
    store.write(move |tx| apply(tx, m, &rules())).await.unwrap()
}

#[tokio::test]
async fn duplicate_returns_the_original_ids() {
    let f = fx();
    let a = ingest(&f.store, msg("e1", "@ana", "hola")).await;
    let b = ingest(&f.store, msg("e1", "@ana", "hola otra vez")).await;
    assert!(!a.duplicate && b.duplicate);
    assert_eq!((a.message, a.conversation), (b.message, b.conversation));
    assert_eq!(f.store.read(|r| r.message_count()).await.unwrap(), 1);
    assert!(f.store.verify().unwrap().ok());
    // The audit trail: one event per change, none for the duplicate.
    let kinds: Vec<String> = f
        .store
        .read(|r| r.events_after(0, 100))
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            format!("{:?}", e.kind)
                .split([' ', '{'])
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "ContactCreated",
            "IdentityCreated",
            "ConversationCreated",
            "MessageReceived"
        ]
    );
}

#[tokio::test]
async fn same_author_threads_and_thread_keys_split() {
    let f = fx();
    let a = ingest(&f.store, msg("1", "@ana", "uno")).await;
    let b = ingest(&f.store, msg("2", "@ANA ", "dos")).await;
    assert_eq!(a.conversation, b.conversation);
    assert!(a.new_conversation && !b.new_conversation);
    let mut t = msg("3", "@ana", "otro tema");
    t.thread = Some("order-77".into());
    let c = ingest(&f.store, t).await;
    assert_ne!(c.conversation, a.conversation);
    let other = ingest(&f.store, msg("4", "@luis", "hi")).await;
    assert_ne!(other.conversation, a.conversation);
    let conv = f
        .store
        .read(move |r| r.conversation(a.conversation))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.message_count, 2);
    assert_eq!(conv.last_snippet, "dos");
    let rep = f.store.verify().unwrap();
    assert!(rep.ok(), "{:?}", rep.problems);
    assert_eq!(rep.conversations, 3);
}

#[tokio::test]
async fn resolved_conversation_reopens_within_window_else_new() {
    let f = fx();
    let a = ingest(&f.store, msg("1", "@ana", "uno")).await;
    let id = a.conversation;
    let resolve = |store: Store| async move {
        store
            .write(move |tx| {
                let old = tx.conversation(id)?.unwrap();
                let mut c = old.clone();
                c.status = Status::Resolved;
                c.resolved_at = Some(tx.now());
                tx.put_conversation(Some(&old), &c)
            })
            .await
            .unwrap()
    };
    resolve(f.store.clone()).await;
    f.clock.advance_ms(DAY);
    let b = ingest(&f.store, msg("2", "@ana", "sigue sin llegar")).await;
    assert_eq!(b.conversation, id);
    let c = f
        .store
        .read(move |r| r.conversation(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.status, Status::Open);
    resolve(f.store.clone()).await;
    f.clock.advance_ms(8 * DAY);
    let d = ingest(&f.store, msg("3", "@ana", "nuevo problema")).await;
    assert_ne!(d.conversation, id);
    assert!(d.new_conversation);
    assert!(f.store.verify().unwrap().ok());
}

#[tokio::test]
async fn email_links_one_contact_across_channels() {
    let f = fx();
    let mut a = msg("1", "@ana_p", "por X");
    a.kind = ChannelKind::X;
    a.channel = "x".into();
    a.author.email = Some("Ana@Example.com".into());
    let a = ingest(&f.store, a).await;
    let mut b = msg("m1", "ana@example.com", "por correo");
    b.kind = ChannelKind::Email;
    b.channel = "support".into();
    let b = ingest(&f.store, b).await;
    let (ca, cb) = f
        .store
        .read(move |r| {
            Ok((
                r.conversation(a.conversation)?.unwrap(),
                r.conversation(b.conversation)?.unwrap(),
            ))
        })
        .await
        .unwrap();
    assert_eq!(ca.contact, cb.contact);
    let contact = ca.contact;
    let (idents, convs) = f
        .store
        .read(move |r| {
            Ok((
                r.contact_identities(contact)?,
                r.contact_conversations(contact)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(idents.len(), 2);
    assert_eq!(convs.len(), 2);
}

#[test]
fn prepare_validates_and_sanitizes() {
    let r = rules();
    assert!(prepare(msg("", "@a", "x"), &r).is_err());
    assert!(prepare(msg("1", "  ", "x"), &r).is_err());
    assert!(prepare(msg("1", "@a", "  "), &r).is_err());
    let mut h = msg("1", "@a", "");
    h.html = Some("<p>Hola <b>Ana</b></p><script>alert(1)</script><img src=http://x/t.png><p onclick=x()>dos &amp; tres</p>".into());
    let p = prepare(h, &r).unwrap();
    let html = p.html.unwrap();
    assert!(
        !html.contains("script") && !html.contains("img") && !html.contains("onclick"),
        "{html}"
    );
    assert_eq!(p.text, "Hola Ana\ndos & tres");
    let long = prepare(msg("1", "@a", &"ñ".repeat(1000)), &r).unwrap();
    assert!(long.text.len() <= 1000);
    let mut bad = msg("1", "@a", "x");
    bad.author.email = Some("nope".into());
    assert!(prepare(bad, &r).is_err());
    assert_eq!(snippet("uno\n dos   tres", 5), "uno d…");
}
