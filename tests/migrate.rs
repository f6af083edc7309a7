//! A database written in the v1 layout (committed fixture) opens with this
//! binary: the migration runs at start-up and nothing is lost.

use atalaya::domain::*;
use atalaya::metrics::Metrics;
use atalaya::store::{DB_FILE, SCHEMA_VERSION, Sort, Store, StoreOptions};
use std::sync::Arc;

#[tokio::test]
async fn committed_v1_fixture_migrates_and_keeps_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1.redb");
    std::fs::copy(&fixture, dir.path().join(DB_FILE)).unwrap();
    let store = Store::open(
        dir.path(),
        StoreOptions::default(),
        Arc::new(SystemClock),
        Arc::new(Metrics::default()),
    )
    .unwrap();
    let rep = store.verify().unwrap();
    assert!(rep.ok(), "{:?}", rep.problems);
    assert_eq!((rep.conversations, rep.messages), (2, 3));
    let (version, page, mut texts) = store
        .read(|r| {
            let page =
                r.list_conversations(Sort::Priority, Some(Status::Open), None, 10, |_| true)?;
            let mut texts = Vec::new();
            for c in &page.items {
                for m in r.conversation_messages(c.id)? {
                    texts.push(m.text);
                }
            }
            Ok((r.meta("schema_version")?, page, texts))
        })
        .await
        .unwrap();
    assert_eq!(version, Some(SCHEMA_VERSION));
    // The v3 step indexed the old event log per conversation.
    let first = page.items[0].id;
    let timeline = store
        .read(move |r| r.conversation_events(first))
        .await
        .unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| matches!(e.kind, EventKind::ConversationCreated { .. }))
    );
    assert!(
        timeline
            .iter()
            .any(|e| matches!(e.kind, EventKind::MessageReceived { .. }))
    );
    assert_eq!(
        store
            .read(|r| r.count(Status::Open, None, None))
            .await
            .unwrap(),
        2
    );
    assert_eq!(page.items.len(), 2);
    texts.sort();
    assert_eq!(
        texts,
        [
            "el pedido llegó roto",
            "me cobraron dos veces",
            "¿alguna novedad?"
        ]
    );
    // New writes continue the id and event sequences without collisions.
    let max_id = store
        .read(|r| Ok(r.events_after(0, 1000)?.len() as u64))
        .await
        .unwrap();
    let next = store.write(|tx| Ok(tx.next_id())).await.unwrap();
    let biggest = page
        .items
        .iter()
        .map(|c| c.id.0.max(c.contact.0).max(c.identity.0))
        .max()
        .unwrap();
    assert!(
        next > biggest,
        "ids continue after the fixture's ({next} <= {biggest})"
    );
    assert!(
        max_id >= 8,
        "the fixture's events and the migration event are kept"
    );
    store.shutdown().await;
}
