//! Triage through the app in virtual time (a manual clock, no sleeping):
//! waiting-time thresholds re-score, an SLA about to be missed escalates
//! once, replies on a conversation a rule marked for approval are held for
//! a supervisor, round-robin shares a team's work evenly, capacity caps
//! hold and a freed agent gets the next waiting conversation, a manual
//! category survives later decisions.

use atalaya::app::inbound::InboundRequest;
use atalaya::app::triage::AgentEdit;
use atalaya::app::{App, Caller, auth};
use atalaya::config::{Config, Overrides};
use atalaya::domain::*;
use atalaya::triage::{Availability, Strategy};
use serde_json::json;
use std::sync::Arc;

const RULES: &str = r#"
base_score = 20

[[category]]
id = "general"
name_es = "General"
name_en = "General"
first_response = "1h"
resolution = "1d"
tier = 1

[[category]]
id = "legal"
name_es = "Legal"
name_en = "Legal"
first_response = "2h"
resolution = "2d"
tier = 2

[[rule]]
id = "waiting"
name = "waiting long"
when = { min_waiting_minutes = 60 }
then = { score = 15 }

[[rule]]
id = "lawyer"
name = "legal threat"
when = { phrases = ["abogado", "lawyer"] }
then = { score = 30, category = "legal", approval = true }

[[rule]]
id = "general"
name = "everything else"
then = { category = "general", team = "Soporte" }
"#;

struct T {
    app: Arc<App>,
    clock: Arc<ManualClock>,
    admin: Caller,
    n: std::sync::atomic::AtomicU32,
    _dir: tempfile::TempDir,
}

async fn setup() -> T {
    let dir = tempfile::tempdir().unwrap();
    let ov = Overrides {
        listen: None,
        data: Some(dir.path().join("data")),
    };
    let cfg = Config::load(None, std::iter::empty(), &ov).unwrap();
    let clock = Arc::new(ManualClock::new(Ts(1_780_000_000_000)));
    let app = App::open(cfg, clock.clone()).unwrap();
    let admin = auth::create_user(
        &app.store,
        "admin@x.test",
        "Marta Admin",
        Role::Admin,
        "admin-pass-1",
    )
    .await
    .unwrap();
    let admin = Caller::Staff(admin);
    app.load_rules().await.unwrap();
    app.save_rules(&admin, RULES, "test rules").await.unwrap();
    T {
        app,
        clock,
        admin,
        n: Default::default(),
        _dir: dir,
    }
}

impl T {
    async fn user(&self, email: &str, name: &str, role: Role) -> Caller {
        let u = auth::create_user(&self.app.store, email, name, role, "pass-word-1")
            .await
            .unwrap();
        Caller::Staff(u)
    }

    /// A staff member as the store has them now (teams, tier).
    async fn fresh(&self, c: &Caller) -> Caller {
        let id = c.user().unwrap().id;
        Caller::Staff(
            self.app
                .store
                .read(move |r| r.user(id))
                .await
                .unwrap()
                .unwrap(),
        )
    }

    async fn inbound(&self, handle: &str, text: &str) -> (ConversationId, MessageId) {
        let n = self.n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let req: InboundRequest = serde_json::from_value(json!({
            "external_id": format!("m-{n}"),
            "from": {"handle": handle},
            "text": text,
            "public": false,
        }))
        .unwrap();
        let out = self.app.inbound(&self.admin, req).await.unwrap();
        (out.conversation, out.message)
    }

    async fn step(&self) {
        while self.app.triage_step().await.unwrap() {}
    }

    async fn conv(&self, id: ConversationId) -> Conversation {
        self.app
            .store
            .read(move |r| r.conversation(id))
            .await
            .unwrap()
            .unwrap()
    }

    async fn events(&self, id: ConversationId) -> Vec<Event> {
        self.app
            .store
            .read(move |r| r.conversation_events(id))
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn waiting_time_rescores_and_a_near_miss_escalates_once() {
    let t = setup().await;
    let (c, _) = t.inbound("@ana", "hola, una duda sobre mi cuenta").await;
    t.step().await;
    let first = t.conv(c).await;
    assert_eq!(first.score, 20);
    assert_eq!(first.priority, Priority::P4);
    assert_eq!(first.category.as_deref(), Some("general"));
    assert_eq!(first.tier, 1);
    // First response due in 1 h (24/7 until calendars exist).
    assert_eq!(first.sla_due_at, Some(first.created_at.plus_ms(3_600_000)));

    // 40 minutes: nothing crosses a threshold yet.
    t.clock.advance_ms(40 * 60_000);
    assert_eq!(t.app.triage_sweep().await.unwrap(), 0);
    assert_eq!(t.conv(c).await.score, 20);

    // 61 minutes: the waiting rule applies, and the first response is late.
    t.clock.advance_ms(21 * 60_000);
    assert!(t.app.triage_sweep().await.unwrap() >= 2);
    let later = t.conv(c).await;
    assert_eq!(later.score, 35, "{later:?}");
    assert_eq!(later.priority, Priority::P3);
    assert_eq!(later.tier, 2, "escalated");
    let rec = t.app.triage_record(&t.admin, c).await.unwrap();
    let lines: Vec<String> = rec.decision.reasons.iter().map(|r| r.line()).collect();
    assert!(
        lines.iter().any(|l| l.starts_with("+15 waiting long")),
        "{lines:?}"
    );
    let tiers: Vec<_> = t
        .events(c)
        .await
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::TierChanged {
                from, to, reason, ..
            } => Some((from, to, reason, e.actor)),
            _ => None,
        })
        .collect();
    assert_eq!(tiers.len(), 1, "{tiers:?}");
    assert_eq!((tiers[0].0, tiers[0].1), (1, 2));
    assert!(
        tiers[0].2.contains("first response overdue"),
        "{}",
        tiers[0].2
    );
    assert_eq!(tiers[0].3, Actor::System);

    // Later sweeps do not escalate again nor re-score without a threshold.
    t.clock.advance_ms(30 * 60_000);
    t.app.triage_sweep().await.unwrap();
    assert_eq!(t.conv(c).await.tier, 2);
    let n = t
        .events(c)
        .await
        .iter()
        .filter(|e| matches!(e.kind, EventKind::TierChanged { .. }))
        .count();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn replies_wait_for_a_supervisor_when_a_rule_asks_for_approval() {
    let t = setup().await;
    let agent = t.user("luis@x.test", "Luis Agent", Role::Agent).await;
    let sup = t
        .user("sara@x.test", "Sara Supervisor", Role::Supervisor)
        .await;
    let (c, _) = t
        .inbound("@bruno", "Si no me devolvéis el dinero llamo a mi abogado")
        .await;
    t.step().await;
    let conv = t.conv(c).await;
    assert_eq!(conv.category.as_deref(), Some("legal"));
    assert_eq!(conv.tier, 2);
    assert!(t.app.needs_approval(c).await.unwrap());

    let held = t
        .app
        .reply(
            &agent,
            c,
            "Lo sentimos, lo revisamos ahora mismo.",
            false,
            false,
        )
        .await
        .unwrap();
    assert_eq!(held.delivery, Some(Delivery::AwaitingApproval));
    let outbox = t.app.store.read(|r| r.outbox_open_count()).await.unwrap();
    assert_eq!(outbox, 0, "nothing goes out before approval");
    // An agent cannot approve; a rejection needs a reason.
    assert!(
        t.app
            .review_reply(&agent, c, held.message, true, "")
            .await
            .is_err()
    );
    assert!(
        t.app
            .review_reply(&sup, c, held.message, false, " ")
            .await
            .is_err()
    );
    t.app
        .review_reply(&sup, c, held.message, true, "")
        .await
        .unwrap();
    let m = t
        .app
        .store
        .read(move |r| r.message(held.message))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.delivery, Some(Delivery::Queued));
    assert_eq!(
        t.app.store.read(|r| r.outbox_open_count()).await.unwrap(),
        1
    );
    // Approving twice is a conflict, not a second send.
    assert!(
        t.app
            .review_reply(&sup, c, held.message, true, "")
            .await
            .is_err()
    );

    let second = t
        .app
        .reply(&agent, c, "Te llamamos hoy.", false, false)
        .await
        .unwrap();
    t.app
        .review_reply(&sup, c, second.message, false, "no prometas llamadas")
        .await
        .unwrap();
    let m = t
        .app
        .store
        .read(move |r| r.message(second.message))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.delivery, Some(Delivery::Failed));
    assert!(
        m.delivery_detail
            .unwrap()
            .contains("rejected by Sara Supervisor")
    );
    // Supervisors' own replies are not held.
    let own = t
        .app
        .reply(&sup, c, "Hola Bruno, soy Sara.", false, false)
        .await
        .unwrap();
    assert_eq!(own.delivery, Some(Delivery::Queued));
}

#[tokio::test]
async fn round_robin_is_even_capacity_holds_and_freed_agents_take_the_queue() {
    let t = setup().await;
    let team = t.app.create_team(&t.admin, "Soporte").await.unwrap();
    let mut agents = Vec::new();
    for name in ["Ana", "Bea", "Ciro"] {
        let a = t
            .user(
                &format!("{}@x.test", name.to_lowercase()),
                name,
                Role::Agent,
            )
            .await;
        let id = a.user().unwrap().id;
        t.app
            .set_membership(&t.admin, team.id, id, true)
            .await
            .unwrap();
        t.app
            .update_agent(
                &t.admin,
                id,
                AgentEdit {
                    tier: 1,
                    skills: vec!["general".into()],
                    languages: vec!["es".into()],
                    capacity: Some(3),
                },
            )
            .await
            .unwrap();
        let a = t.fresh(&a).await;
        t.app
            .set_availability(&a, Availability::Online)
            .await
            .unwrap();
        agents.push(a);
    }
    t.app
        .set_team_strategy(&t.admin, team.id, Strategy::RoundRobin)
        .await
        .unwrap();
    let mut convs = Vec::new();
    for i in 0..6 {
        let (c, _) = t.inbound(&format!("@cliente{i}"), "una pregunta").await;
        convs.push(c);
        t.step().await;
    }
    let mut per: std::collections::BTreeMap<UserId, usize> = Default::default();
    for c in &convs {
        let conv = t.conv(*c).await;
        assert_eq!(conv.team, Some(team.id));
        *per.entry(conv.assignee.expect("assigned")).or_default() += 1;
    }
    assert_eq!(
        per.values().copied().collect::<Vec<_>>(),
        vec![2, 2, 2],
        "{per:?}"
    );
    let rec = t.app.triage_record(&t.admin, convs[0]).await.unwrap();
    assert!(
        rec.routing_reasons
            .iter()
            .any(|r| r.contains("round-robin")),
        "{:?}",
        rec.routing_reasons
    );

    // Three more fill everyone to capacity 3; the tenth waits.
    for i in 6..10 {
        let (c, _) = t.inbound(&format!("@cliente{i}"), "otra pregunta").await;
        convs.push(c);
        t.step().await;
    }
    let waiting = t.conv(convs[9]).await;
    assert_eq!(waiting.assignee, None, "nobody has room");
    for a in &agents {
        let load = t
            .app
            .store
            .read({
                let id = a.user().unwrap().id;
                move |r| r.count(Status::Open, Some(Some(id)), None)
            })
            .await
            .unwrap();
        assert_eq!(load, 3, "capacity 3 holds");
    }
    // Away agents are skipped even with room; an online one freeing up takes it.
    let holder = t.conv(convs[0]).await.assignee.unwrap();
    let who = agents
        .iter()
        .find(|a| a.user().unwrap().id == holder)
        .unwrap();
    t.app
        .set_status(who, convs[0], Status::Resolved, None)
        .await
        .unwrap();
    t.step().await;
    assert_eq!(t.conv(convs[9]).await.assignee, Some(holder));

    // Going away stops new assignments to that agent.
    t.app
        .set_availability(who, Availability::Away)
        .await
        .unwrap();
    t.app
        .set_status(who, convs[9], Status::Resolved, None)
        .await
        .unwrap();
    let (c, _) = t.inbound("@cliente10", "y otra").await;
    t.step().await;
    assert_eq!(t.conv(c).await.assignee, None);
}

#[tokio::test]
async fn a_manual_category_is_kept_and_changes_the_targets() {
    let t = setup().await;
    let (c, _) = t.inbound("@eva", "tengo una consulta").await;
    t.step().await;
    assert_eq!(t.conv(c).await.category.as_deref(), Some("general"));
    assert!(
        t.app
            .set_category(&t.admin, c, Some("nope".into()))
            .await
            .is_err()
    );
    t.app
        .set_category(&t.admin, c, Some("legal".into()))
        .await
        .unwrap();
    let conv = t.conv(c).await;
    assert_eq!(conv.category.as_deref(), Some("legal"));
    // Legal's default tier and 2 h target now apply.
    assert_eq!(conv.tier, 2);
    assert_eq!(
        conv.sla_due_at,
        Some(conv.created_at.plus_ms(2 * 3_600_000))
    );
    t.inbound("@eva", "¿alguna novedad?").await;
    t.step().await;
    assert_eq!(t.conv(c).await.category.as_deref(), Some("legal"));
    // Clearing it lets triage decide again.
    t.app.set_category(&t.admin, c, None).await.unwrap();
    assert_eq!(t.conv(c).await.category.as_deref(), Some("general"));
}
