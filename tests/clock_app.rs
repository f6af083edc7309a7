//! The clock through the app in virtual time (a manual clock, no sleeping):
//! closed-hours auto-replies naming the next opening in the customer's
//! language (once per window), FAQ answers, open-hours acknowledgements,
//! follow-ups cancelled by a customer reply and sent as a survey whose
//! answer counts in the CSAT figures, snoozes woken on time or early, SLA
//! due times in business time that pause while pending, warnings and
//! breaches, scheduled replies, overdue policies.

use atalaya::app::inbound::InboundRequest;
use atalaya::app::{App, AppError, Caller, auth};
use atalaya::config::{Config, Overrides};
use atalaya::domain::*;
use serde_json::json;
use std::sync::Arc;

const MADRID: &str = r#"
[business]
name = "Tienda Sol"

[hours]
timezone = "Europe/Madrid"
monday = ["09:00-14:00", "15:00-18:00"]
tuesday = ["09:00-14:00", "15:00-18:00"]
wednesday = ["09:00-14:00", "15:00-18:00"]
thursday = ["09:00-14:00", "15:00-18:00"]
friday = ["09:00-14:00", "15:00-18:00"]
holidays = ["2026-12-25"]

[autoreply]
when_closed = true
window = "12h"

[followup]
after = "1h"
"#;

/// An instant written in Madrid's local time.
fn madrid(local: &str) -> Ts {
    let dt: jiff::civil::DateTime = local.parse().unwrap();
    let tz = jiff::tz::TimeZone::get("Europe/Madrid").unwrap();
    Ts::from_jiff(dt.to_zoned_datetime(tz).unwrap().timestamp())
}

struct T {
    app: Arc<App>,
    clock: Arc<ManualClock>,
    admin: Caller,
    n: std::sync::atomic::AtomicU32,
    _dir: tempfile::TempDir,
}

async fn setup(extra: &str, start: Ts) -> T {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("atalaya.toml");
    std::fs::write(&file, format!("{MADRID}\n{extra}")).unwrap();
    let ov = Overrides {
        listen: None,
        data: Some(dir.path().join("data")),
    };
    let cfg = Config::load(Some(&file), std::iter::empty(), &ov).unwrap();
    let clock = Arc::new(ManualClock::new(start));
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
    app.load_rules().await.unwrap();
    // Follow from the start of the log (a fresh store starts from "now").
    let t = T {
        app,
        clock,
        admin: Caller::Staff(admin),
        n: Default::default(),
        _dir: dir,
    };
    t.step().await;
    t
}

impl T {
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

    /// Let triage and the clock follower catch up.
    async fn step(&self) {
        loop {
            let a = self.app.triage_step().await.unwrap();
            let b = self.app.clock_step().await.unwrap();
            if !a && !b {
                break;
            }
        }
    }

    async fn run_due(&self) -> usize {
        let n = self
            .app
            .scheduler()
            .run_due(self.clock.now())
            .await
            .unwrap();
        self.step().await;
        n
    }

    async fn conv(&self, id: ConversationId) -> Conversation {
        self.app
            .store
            .read(move |r| r.conversation(id))
            .await
            .unwrap()
            .unwrap()
    }

    async fn messages(&self, id: ConversationId) -> Vec<Message> {
        self.app
            .store
            .read(move |r| r.conversation_messages(id))
            .await
            .unwrap()
    }

    async fn outgoing(&self, id: ConversationId) -> Vec<Message> {
        self.messages(id)
            .await
            .into_iter()
            .filter(|m| m.direction == Direction::Out)
            .collect()
    }

    async fn events(&self, id: ConversationId) -> Vec<EventKind> {
        self.app
            .store
            .read(move |r| r.conversation_events(id))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    fn at(&self, t: Ts) {
        let now = self.clock.now();
        assert!(t.0 >= now.0, "virtual time only moves forward");
        self.clock.advance_ms(t.0 - now.0);
    }
}

#[tokio::test]
async fn a_message_on_a_closed_day_gets_one_reply_naming_the_next_opening_in_its_language() {
    // Saturday 28 November 2026, 10:00 in Madrid: closed until Monday 9:00.
    let t = setup("", madrid("2026-11-28T10:00")).await;
    let (c, _) = t
        .inbound(
            "@lucia",
            "Hola, mi pedido no ha llegado todavía y estoy esperando",
        )
        .await;
    t.step().await;
    let out = t.outgoing(c).await;
    assert_eq!(out.len(), 1, "{out:?}");
    let text = &out[0].text;
    assert!(
        text.contains("te responderemos el lunes 30 de noviembre a las 9:00"),
        "{text}"
    );
    assert!(text.contains("lunes a viernes"), "{text}");
    assert_eq!(out[0].author, Author::System);
    assert!(
        t.events(c)
            .await
            .iter()
            .any(|e| matches!(e, EventKind::AutoReplied { reason, .. } if reason == "closed"))
    );
    // The customer is still waiting for a person.
    let conv = t.conv(c).await;
    assert!(conv.first_response_at.is_none());
    assert!(conv.waiting_since.is_some());

    // A second message in the same conversation: no second automatic reply.
    t.clock.advance_ms(10 * 60_000);
    let (c2, _) = t.inbound("@lucia", "¿Hay alguien?").await;
    assert_eq!(c2, c);
    t.step().await;
    assert_eq!(t.outgoing(c).await.len(), 1);

    // An English-speaking customer gets English.
    let (e, _) = t
        .inbound(
            "@john",
            "Hello, my order has not arrived and I am worried about it",
        )
        .await;
    t.step().await;
    let out = t.outgoing(e).await;
    assert_eq!(out.len(), 1);
    assert!(
        out[0]
            .text
            .contains("we will answer you on Monday 30 November at 9:00"),
        "{}",
        out[0].text
    );
}

#[tokio::test]
async fn a_holiday_friday_points_to_monday_and_open_hours_get_no_reply_unless_asked() {
    // Thursday 24 December 2026, 18:30: Friday 25 is a holiday, the weekend
    // is closed, so the next opening is Monday 28 at 9:00.
    let t = setup("", madrid("2026-12-24T18:30")).await;
    let (c, _) = t
        .inbound("@ana", "Necesito cambiar la talla de mi pedido")
        .await;
    t.step().await;
    let out = t.outgoing(c).await;
    assert_eq!(out.len(), 1);
    assert!(
        out[0].text.contains("el lunes 28 de diciembre a las 9:00"),
        "{}",
        out[0].text
    );
    // Monday 28 at 10:00 (open): no acknowledgement (when_open is off).
    t.at(madrid("2026-12-28T10:00"));
    let (d, _) = t
        .inbound("@pablo", "Quiero saber el estado de mi pedido")
        .await;
    t.step().await;
    assert!(t.outgoing(d).await.is_empty());
    // Lunch (14:00-15:00) is closed too.
    t.at(madrid("2026-12-28T14:20"));
    let (l, _) = t
        .inbound("@rosa", "Buenas tardes, una consulta sobre mi factura")
        .await;
    t.step().await;
    let out = t.outgoing(l).await;
    assert_eq!(out.len(), 1);
    assert!(
        out[0].text.contains("el lunes 28 de diciembre a las 15:00"),
        "{}",
        out[0].text
    );
}

#[tokio::test]
async fn open_hours_acknowledgement_names_the_expected_response_time() {
    let t = setup(
        "[autoreply.channel.api]\nwhen_open = true\n",
        madrid("2026-11-30T10:00"),
    )
    .await;
    let (c, _) = t
        .inbound("@ana", "Hola, tengo una pregunta sobre mi cuenta")
        .await;
    t.step().await;
    let out = t.outgoing(c).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].text.contains(&format!("#{c}")), "{}", out[0].text);
    assert!(
        out[0].text.contains("te responderemos en menos de"),
        "{}",
        out[0].text
    );
}

#[tokio::test]
async fn a_faq_question_when_closed_gets_the_canned_answer_and_stays_open() {
    let t = setup("", madrid("2026-11-28T22:00")).await;
    let canned = t
        .app
        .canned_save(
            &t.admin,
            None,
            atalaya::app::responses::CannedInput {
                shortcut: "horario".into(),
                title: "Horario".into(),
                body:
                    "Abrimos de lunes a viernes de 9:00 a 18:00. ¡Gracias, {{contact.first_name}}!"
                        .into(),
                tags: String::new(),
                shared: true,
            },
        )
        .await
        .unwrap();
    t.app
        .set_faq(
            &t.admin,
            canned.id,
            vec!["a qué hora abren".into(), "horario".into()],
        )
        .await
        .unwrap();
    let (c, _) = t.inbound("@sara", "¿A QUE HORA ABREN el lunes?").await;
    t.step().await;
    let out = t.outgoing(c).await;
    assert_eq!(out.len(), 1);
    assert!(
        out[0].text.starts_with("Abrimos de lunes a viernes"),
        "{}",
        out[0].text
    );
    assert!(
        out[0].text.contains("te responderemos el lunes 30"),
        "{}",
        out[0].text
    );
    assert!(
        t.events(c)
            .await
            .iter()
            .any(|e| matches!(e, EventKind::AutoReplied { reason, .. } if reason == "faq"))
    );
    assert_eq!(t.conv(c).await.status, Status::Open);
    // The admin's preview says the same for a message arriving now.
    let faq = t.app.faq_answer_for("¿a qué hora abren?").await.unwrap();
    let p = t
        .app
        .clock_preview(Some("api"), "es", t.clock.now(), faq.as_deref());
    assert!(!p.open);
    let (reason, text) = p.reply.unwrap();
    assert_eq!(reason, "faq");
    assert!(text.starts_with("Abrimos"), "{text}");
}

#[tokio::test]
async fn a_follow_up_is_cancelled_by_a_customer_reply_then_sent_once_as_a_survey() {
    let t = setup("", madrid("2026-11-30T10:00")).await;
    let agent = auth::create_user(
        &t.app.store,
        "luis@x.test",
        "Luis",
        Role::Agent,
        "pass-word-1",
    )
    .await
    .unwrap();
    let (c, _) = t.inbound("@ana", "Mi pedido llegó roto").await;
    t.step().await;
    t.app
        .assign(&t.admin, c, Some(agent.id), false)
        .await
        .unwrap();
    t.app
        .set_status(&t.admin, c, Status::Resolved, None)
        .await
        .unwrap();
    t.step().await;
    let jobs = t.app.conversation_jobs(&t.admin, c).await.unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].kind, "follow_up");
    assert_eq!(jobs[0].due, t.clock.now().plus_ms(3_600_000));

    // 30 minutes later the customer writes again: the follow-up is cancelled.
    t.clock.advance_ms(30 * 60_000);
    t.inbound("@ana", "Perdón, otra cosa: ¿me mandan otro?")
        .await;
    t.step().await;
    assert_eq!(t.conv(c).await.status, Status::Open);
    assert!(
        t.app
            .conversation_jobs(&t.admin, c)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(t.events(c).await.iter().any(|e| matches!(
        e,
        EventKind::JobCancelled { kind, reason, .. }
            if kind == "follow_up" && reason == "the customer wrote again"
    )));
    t.clock.advance_ms(2 * 3_600_000);
    assert_eq!(t.run_due().await, 0, "nothing is due");

    // Resolved again: one hour later the survey goes out, once.
    t.app
        .set_status(&t.admin, c, Status::Resolved, None)
        .await
        .unwrap();
    t.step().await;
    t.clock.advance_ms(3_600_000);
    assert_eq!(t.run_due().await, 1);
    let out = t.outgoing(c).await;
    let survey = out.last().unwrap();
    assert!(survey.text.contains("¿Quedó todo bien?"), "{}", survey.text);
    let token = survey
        .text
        .split("/survey/")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    assert!(token.len() >= 32);
    assert!(
        t.events(c)
            .await
            .iter()
            .any(|e| matches!(e, EventKind::SurveySent { .. }))
    );

    // The customer answers: on the conversation, in the figures, in the
    // agent's CSAT.
    let rec = t.app.survey(&token).await.unwrap().unwrap();
    assert_eq!(rec.language, "es");
    assert!(rec.answer.is_none());
    t.app
        .answer_survey(&token, 4, Some(9), "Muy amables")
        .await
        .unwrap();
    let again = t.app.answer_survey(&token, 1, None, "").await;
    assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");
    assert!(t.app.survey("not-a-token").await.unwrap().is_none());
    assert!(t.events(c).await.iter().any(|e| matches!(
        e,
        EventKind::SurveyAnswered { csat: 4, nps: Some(9), comment, .. } if comment == "Muy amables"
    )));
    let s = t.app.satisfaction(&t.admin).await.unwrap();
    assert_eq!((s.responses, s.surveys_sent), (1, 1));
    assert_eq!(s.csat_percent(), Some(100.0));
    assert_eq!(s.nps(), Some(100.0));
    let on_conv = t
        .app
        .conversation_survey(&t.admin, c)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(on_conv.answer.unwrap().csat, 4);
    let agents = t.app.agents(&t.admin).await.unwrap();
    let luis = agents.iter().find(|a| a.0.id == agent.id).unwrap();
    assert_eq!(luis.1.csat(), Some(4.0));

    // One per conversation: reopening and resolving again sends nothing more.
    t.app
        .set_status(&t.admin, c, Status::Open, None)
        .await
        .unwrap();
    t.app
        .set_status(&t.admin, c, Status::Resolved, None)
        .await
        .unwrap();
    t.step().await;
    t.clock.advance_ms(2 * 3_600_000);
    assert_eq!(t.run_due().await, 0);
    assert_eq!(t.outgoing(c).await.len(), out.len());
}

#[tokio::test]
async fn a_snooze_wakes_on_time_or_early_when_the_customer_writes() {
    let t = setup("", madrid("2026-11-30T10:00")).await;
    let (c, _) = t.inbound("@ana", "Os escribo por la devolución").await;
    t.step().await;
    let until = t.clock.now().plus_ms(2 * 3_600_000);
    t.app
        .set_status(&t.admin, c, Status::Snoozed, Some(until))
        .await
        .unwrap();
    t.step().await;
    let jobs = t.app.conversation_jobs(&t.admin, c).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].kind.as_str(), jobs[0].due), ("snooze_wake", until));

    // Early: the customer writes after 30 minutes.
    t.clock.advance_ms(30 * 60_000);
    t.inbound("@ana", "¿Alguna novedad?").await;
    t.step().await;
    assert_eq!(t.conv(c).await.status, Status::Open);
    assert!(t.events(c).await.iter().any(|e| matches!(
        e,
        EventKind::JobCancelled { kind, reason, .. }
            if kind == "snooze_wake" && reason == "the customer wrote: back in the inbox early"
    )));
    assert!(
        t.app
            .conversation_jobs(&t.admin, c)
            .await
            .unwrap()
            .is_empty()
    );

    // On time: snoozed for an hour, back in the inbox when it passes.
    let until = t.clock.now().plus_ms(3_600_000);
    t.app
        .set_status(&t.admin, c, Status::Snoozed, Some(until))
        .await
        .unwrap();
    t.step().await;
    t.clock.advance_ms(59 * 60_000);
    assert_eq!(t.run_due().await, 0);
    assert_eq!(t.conv(c).await.status, Status::Snoozed);
    t.clock.advance_ms(60_000);
    assert_eq!(t.run_due().await, 1);
    let conv = t.conv(c).await;
    assert_eq!(conv.status, Status::Open);
    assert_eq!(conv.snoozed_until, None);
}

#[tokio::test]
async fn sla_due_times_count_business_time_pause_while_pending_and_alert_once() {
    // Monday 30 November 17:00: "general" has a first response target of
    // 8h, counted in business time: 1 h today, 5 + 2 h tomorrow (lunch is
    // closed) → Tuesday 17:00.
    let t = setup("", madrid("2026-11-30T17:00")).await;
    let (c, _) = t.inbound("@ana", "Hola, una duda sobre mi cuenta").await;
    t.step().await;
    let rec = t.app.triage_record(&t.admin, c).await.unwrap();
    assert_eq!(rec.decision.category.as_deref(), Some("general"));
    assert_eq!(rec.first_response_due, Some(madrid("2026-12-01T17:00")));

    // Pending on the customer from Tuesday 10:00 to Tuesday 12:00 (2 business
    // hours): the due time moves 2 business hours later (Wednesday 10:00,
    // since Tuesday closes at 18:00).
    t.at(madrid("2026-12-01T10:00"));
    t.app
        .set_status(&t.admin, c, Status::Pending, None)
        .await
        .unwrap();
    t.step().await;
    assert!(
        t.events(c)
            .await
            .iter()
            .any(|e| matches!(e, EventKind::SlaPaused { paused: true, .. }))
    );
    t.at(madrid("2026-12-01T12:00"));
    t.inbound("@ana", "Os mando los datos que pedíais").await;
    t.step().await;
    assert_eq!(t.conv(c).await.status, Status::Open);
    let rec = t.app.triage_record(&t.admin, c).await.unwrap();
    assert_eq!(rec.first_response_due, Some(madrid("2026-12-02T10:00")));
    assert!(
        t.events(c)
            .await
            .iter()
            .any(|e| matches!(e, EventKind::SlaPaused { paused: false, .. }))
    );

    // Tuesday 17:59: 9 of the 10 business hours between the start and the
    // (moved) due time are used: past the 75% warning point; Wednesday
    // 10:01 is past the due time: breached.
    t.at(madrid("2026-12-01T17:59"));
    assert_eq!(t.app.sla_sweep().await.unwrap(), 1, "the warning");
    assert_eq!(t.app.sla_sweep().await.unwrap(), 0, "once");
    t.at(madrid("2026-12-02T10:01"));
    assert_eq!(t.app.sla_sweep().await.unwrap(), 1, "the breach");
    let alerts: Vec<(String, String)> = t
        .events(c)
        .await
        .into_iter()
        .filter_map(|e| match e {
            EventKind::SlaAlert { target, level, .. } => Some((target, level)),
            _ => None,
        })
        .collect();
    assert_eq!(
        alerts,
        vec![
            ("first_response".to_string(), "warning".to_string()),
            ("first_response".to_string(), "breach".to_string())
        ]
    );
    assert!(t.conv(c).await.tier >= 2, "a breach escalates");
    // ...and the supervisors hear of it (their Mentions view).
    let admin = t.admin.user().unwrap().id;
    let mentioned = t
        .app
        .store
        .read(move |r| r.mentioned_in(admin, 10))
        .await
        .unwrap();
    assert_eq!(mentioned, vec![c]);
}

#[tokio::test]
async fn a_scheduled_reply_goes_out_at_its_time_and_can_be_cancelled() {
    let t = setup("", madrid("2026-11-30T10:00")).await;
    let (c, _) = t
        .inbound("@ana", "¿Me avisáis cuando llegue el stock?")
        .await;
    t.step().await;
    let monday = t.clock.now().plus_ms(24 * 3_600_000);
    t.app
        .schedule_reply(
            &t.admin,
            c,
            "Ya tenemos stock, {{contact.name}}.",
            true,
            monday,
        )
        .await
        .unwrap();
    let other = t
        .app
        .schedule_reply(&t.admin, c, "Esto no se enviará", true, monday)
        .await
        .unwrap();
    let past = t
        .app
        .schedule_reply(&t.admin, c, "tarde", true, t.clock.now())
        .await;
    assert!(matches!(past, Err(AppError::Invalid(_))), "{past:?}");
    let (page, total) = t.app.jobs_page(&t.admin, None, 50).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(page.len(), 2);
    t.app.cancel_job(&t.admin, other.id).await.unwrap();
    t.at(monday.plus_ms(-1000));
    assert_eq!(t.run_due().await, 0);
    t.at(monday);
    assert_eq!(t.run_due().await, 1);
    let out = t.outgoing(c).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].text, "Ya tenemos stock, @ana.");
    assert_eq!(out[0].author, Author::User(t.admin.user().unwrap().id));
    assert!(t.conv(c).await.first_response_at.is_some());
    assert!(
        t.app
            .conversation_jobs(&t.admin, c)
            .await
            .unwrap()
            .is_empty()
    );

    // After downtime a scheduled reply still goes out, and the supervisors
    // are told it was late.
    let due = t.clock.now().plus_ms(3_600_000);
    let late = t
        .app
        .schedule_reply(&t.admin, c, "Os escribimos tarde", true, due)
        .await
        .unwrap();
    t.at(due.plus_ms(2 * 3_600_000));
    assert_eq!(t.run_due().await, 1);
    let out = t.outgoing(c).await;
    assert_eq!(out.last().unwrap().text, "Os escribimos tarde");
    let events = t
        .app
        .store
        .read(|r| r.events_after(0, 10_000))
        .await
        .unwrap();
    assert!(
        events.iter().any(|e| matches!(
            &e.kind,
            EventKind::JobLate { job, policy, late_ms, .. }
                if *job == late.id && policy.contains("supervisors") && *late_ms == 2 * 3_600_000
        )),
        "no JobLate"
    );
    let admin = t.admin.user().unwrap().id;
    let mentioned = t
        .app
        .store
        .read(move |r| r.mentioned_in(admin, 10))
        .await
        .unwrap();
    assert_eq!(mentioned, vec![c]);
}
