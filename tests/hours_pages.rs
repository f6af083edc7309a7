//! The clock in the web UI and the JSON API, in-process and in virtual time:
//! Admin → Business hours (settings saved through the forms and in force in
//! the preview, errors kept next to the form, iCal holidays, reset), "send
//! later" from the reply box with the conversation's card and the jobs list,
//! the public survey page, canned responses as automatic answers, the
//! timeline's clock lines, and the API's shapes.

use atalaya::app::{App, Caller, auth};
use atalaya::config::{Config, Overrides};
use atalaya::domain::*;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

const CONFIG: &str = r#"
[business]
name = "Tienda Sol"

[hours]
timezone = "Europe/Madrid"
monday = ["09:00-14:00", "15:00-18:00"]
tuesday = ["09:00-14:00", "15:00-18:00"]
wednesday = ["09:00-14:00", "15:00-18:00"]
thursday = ["09:00-14:00", "15:00-18:00"]
friday = ["09:00-14:00", "15:00-18:00"]

[followup]
after = "10s"
link_valid = "2h"
"#;

/// An instant written in Madrid's local time.
fn madrid(local: &str) -> Ts {
    let z: jiff::ZonedDateTime = format!("{local}[Europe/Madrid]").parse().unwrap();
    Ts::from_jiff(z.timestamp())
}

struct T {
    app: Arc<App>,
    clock: Arc<ManualClock>,
    router: axum::Router,
    admin: Caller,
    n: std::sync::atomic::AtomicU32,
    _dir: tempfile::TempDir,
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sunday 29 November 2026, 10:00 in Madrid: closed until Monday 9:00.
fn sunday() -> Ts {
    madrid("2026-11-29T10:00")
}

async fn setup(start: Ts) -> T {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("atalaya.toml");
    std::fs::write(&file, CONFIG).unwrap();
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
        "password-123",
    )
    .await
    .unwrap();
    for (email, name, role) in [
        ("agent@x.test", "Luis Agente", Role::Agent),
        ("audit@x.test", "Olga Auditora", Role::Auditor),
    ] {
        auth::create_user(&app.store, email, name, role, "password-123")
            .await
            .unwrap();
    }
    app.load_rules().await.unwrap();
    let t = T {
        router: atalaya::web::router(app.clone()),
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
    async fn send(&self, method: &str, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Resp {
        let mut r = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "inbox.test");
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let resp = self
            .router
            .clone()
            .oneshot(r.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let body = String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes())
            .into_owned();
        Resp {
            status,
            headers,
            body,
        }
    }

    /// A signed-in browser: (cookie, csrf).
    async fn session(&self, email: &str) -> (String, String) {
        let (token, csrf) = self.app.login_session(email, "password-123").await.unwrap();
        (format!("atalaya_session={token}"), csrf)
    }

    async fn get(&self, uri: &str, who: &(String, String), lang: &str) -> Resp {
        self.send(
            "GET",
            uri,
            &[("cookie", &who.0), ("accept-language", lang)],
            vec![],
        )
        .await
    }

    /// A form post with the CSRF token and our Origin.
    async fn post(&self, uri: &str, who: &(String, String), form: &str) -> Resp {
        let form = format!("csrf={}&{form}", who.1);
        self.send(
            "POST",
            uri,
            &[
                ("cookie", &who.0),
                ("origin", "http://inbox.test"),
                ("accept-language", "en"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            form.into_bytes(),
        )
        .await
    }

    async fn api(&self, method: &str, uri: &str, token: &str, body: Option<Value>) -> Resp {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("authorization", auth.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.send(
            method,
            uri,
            &headers,
            body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        )
        .await
    }

    async fn inbound(&self, handle: &str, text: &str) -> ConversationId {
        let n = self.n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let req: atalaya::app::inbound::InboundRequest = serde_json::from_value(json!({
            "external_id": format!("m-{n}"),
            "from": {"handle": handle, "name": "Ana Pérez"},
            "text": text,
            "public": false,
        }))
        .unwrap();
        let c = self
            .app
            .inbound(&self.admin, req)
            .await
            .unwrap()
            .conversation;
        self.step().await;
        c
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

    /// Resolve a conversation and let the follow-up send its survey;
    /// the survey's token.
    async fn survey_for(&self, c: ConversationId) -> String {
        self.app
            .set_status(&self.admin, c, Status::Resolved, None)
            .await
            .unwrap();
        self.step().await;
        self.clock.advance_ms(11_000);
        assert_eq!(self.run_due().await, 1);
        let msgs = self
            .app
            .store
            .read(move |r| r.conversation_messages(c))
            .await
            .unwrap();
        let text = &msgs.last().unwrap().text;
        text.split("/survey/")
            .nth(1)
            .unwrap_or_else(|| panic!("no survey link in {text:?}"))
            .trim()
            .to_string()
    }
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn calendar_form(monday: &str, saturday: &str, tz: &str) -> String {
    format!(
        "timezone={}&monday={}&tuesday={}&wednesday={}&thursday={}&friday={}&saturday={}&sunday=&holidays={}",
        form_encode(tz),
        form_encode(monday),
        form_encode("09:00-14:00"),
        form_encode("09:00-14:00"),
        form_encode("09:00-14:00"),
        form_encode("09:00-14:00"),
        form_encode(saturday),
        form_encode("2026-12-25\n01-06"),
    )
}

#[tokio::test]
async fn settings_saved_through_the_forms_are_in_force_in_the_preview() {
    let t = setup(sunday()).await;
    let admin = t.session("admin@x.test").await;
    let page = t.get("/admin/hours", &admin, "en").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Business hours"));
    assert!(
        page.body
            .contains("id=\"hours-source-name\">configuration file")
    );
    assert!(page.body.contains("class=\"week-chart\""));
    assert!(page.body.contains("class=\"open\""), "the week is drawn");
    assert!(
        page.body.contains("href=\"/admin/hours\""),
        "linked in the menu"
    );
    // Nothing reset-able while the config file's settings are in force.
    assert!(!page.body.contains("/admin/hours/reset"));
    // The built-in closed reply is off in this config: no automatic reply.
    let p = t
        .get("/admin/hours/preview?lang=en&channel=api", &admin, "en")
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("Closed now"), "{}", p.body);
    assert!(p.body.contains("Monday 30 November at 9:00"), "{}", p.body);
    assert!(p.body.contains("id=\"preview-none\""), "{}", p.body);

    // Open on Sundays 9:00-12:00 (and "now" is Sunday 10:00), closed reply on.
    let form = calendar_form("09:00-14:00, 16:00-19:00", "", "Europe/Madrid")
        .replace("&sunday=", "&sunday=09%3A00-12%3A00");
    let r = t.post("/admin/hours/calendar", &admin, &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.headers[header::LOCATION],
        "/admin/hours?saved=calendar#calendar"
    );
    let r = t
        .post(
            "/admin/hours/autoreply",
            &admin,
            "when_closed=1&faq=1&window=12h&closed_en=We+are+closed%2C+back+{{next_opening}}.&closed_es=",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let state = t.app.clock_state();
    assert_eq!(state.source, "admin");
    let h = state.settings.hours.as_ref().unwrap();
    assert_eq!(h.monday, vec!["09:00-14:00", "16:00-19:00"]);
    assert_eq!(h.holidays, vec!["2026-12-25", "01-06"]);
    assert!(state.settings.autoreply.when_closed);
    assert_eq!(state.settings.autoreply.window.to_string(), "12h");

    let page = t.get("/admin/hours?saved=calendar", &admin, "en").await;
    assert!(page.body.contains("id=\"hours-source-name\">saved here"));
    assert!(page.body.contains("id=\"calendar-flash\""));
    assert!(page.body.contains("value=\"09:00-14:00, 16:00-19:00\""));
    assert!(page.body.contains("/admin/hours/reset"));
    let p = t.get("/admin/hours/preview?lang=en", &admin, "en").await;
    assert!(p.body.contains("Open now"), "{}", p.body);
    assert!(p.body.contains("id=\"preview-none\""), "{}", p.body);

    // An hour later (11:00) still open; at 13:00 closed until Monday 9:00,
    // with the admin's own closed text.
    t.clock.advance_ms(3 * 3_600_000);
    let p = t.get("/admin/hours/preview?lang=en", &admin, "en").await;
    assert!(p.body.contains("Closed now"), "{}", p.body);
    assert!(
        p.body
            .contains("We are closed, back Monday 30 November at 9:00."),
        "{}",
        p.body
    );
    assert!(p.body.contains("A message arriving now would be answered"));
    // The same without scripts: a plain GET of the page, in Spanish.
    let page = t
        .get("/admin/hours?lang=es&channel=api&text=hola", &admin, "es")
        .await;
    assert!(
        page.body.contains("el lunes 30 de noviembre a las 9:00"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Cerrado ahora"));

    // Errors stay next to the form with what was typed; nothing changes.
    let bad = calendar_form("9-14", "", "Europe/Madrid");
    let r = t.post("/admin/hours/calendar", &admin, &bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("id=\"calendar-flash\""), "{}", r.body);
    assert!(r.body.contains("Not saved:"), "{}", r.body);
    assert!(
        r.body.contains(&escaped("\"9-14\" is not HH:MM-HH:MM")),
        "{}",
        r.body
    );
    assert!(r.body.contains("value=\"9-14\""));
    let bad = calendar_form("09:00-14:00", "", "Mars/Olympus");
    let r = t.post("/admin/hours/calendar", &admin, &bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("unknown time zone"), "{}", r.body);
    assert!(r.body.contains("value=\"Mars/Olympus\""));
    let r = t
        .post(
            "/admin/hours/followup",
            &admin,
            "after=3+bananas&nps=1&link_valid=30d",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("id=\"followup-flash\""), "{}", r.body);
    assert!(r.body.contains("unknown unit"), "{}", r.body);
    assert!(r.body.contains("value=\"3 bananas\""));
    let r = t
        .post(
            "/admin/hours/autoreply",
            &admin,
            "when_closed=1&window=soon",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("id=\"autoreply-flash\""), "{}", r.body);
    assert!(r.body.contains("value=\"soon\""));
    let state = t.app.clock_state();
    assert_eq!(
        state.settings.hours.as_ref().unwrap().sunday,
        vec!["09:00-12:00"]
    );
    assert_eq!(state.settings.followup.after.as_deref(), Some("10s"));

    // The follow-up form.
    let r = t
        .post(
            "/admin/hours/followup",
            &admin,
            "after=2+business+days&link_valid=7d&text_en=How+did+we+do%3F+{{survey.url}}",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let f = t.app.clock_state().settings.followup.clone();
    assert_eq!(f.after.as_deref(), Some("2 business days"));
    assert!(!f.nps);
    assert_eq!(f.link_valid.to_string(), "7d");

    // An iCal file adds its holidays to the list.
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261208\r\nSUMMARY:Inmaculada\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let boundary = "XbOuNdArY";
    let mut body = String::new();
    let fields = [
        ("csrf", admin.1.as_str()),
        ("timezone", "Europe/Madrid"),
        ("monday", "09:00-14:00"),
        ("holidays", "2026-12-25"),
    ];
    for (k, v) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"ical\"; filename=\"festivos.ics\"\r\nContent-Type: text/calendar\r\n\r\n{ics}\r\n--{boundary}--\r\n"
    ));
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r = t
        .send(
            "POST",
            "/admin/hours/calendar",
            &[
                ("cookie", &admin.0),
                ("origin", "http://inbox.test"),
                ("content-type", &ct),
            ],
            body.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.headers[header::LOCATION],
        "/admin/hours?saved=calendar&ical=1#calendar"
    );
    let h = t.app.clock_state().settings.hours.clone().unwrap();
    assert_eq!(h.holidays, vec!["2026-12-25", "2026-12-08"]);
    assert!(h.saturday.is_empty());
    let page = t
        .get("/admin/hours?saved=calendar&ical=1", &admin, "en")
        .await;
    assert!(
        page.body.contains("Holidays added from the iCal file: 1"),
        "{}",
        page.body
    );
    // A file that is not iCalendar: refused, with the form kept.
    let bad = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"timezone\"\r\n\r\nEurope/Lisbon\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"ical\"; filename=\"x.ics\"\r\n\r\nhello\r\n--{boundary}--\r\n",
        admin.1
    );
    let r = t
        .send(
            "POST",
            "/admin/hours/calendar",
            &[
                ("cookie", &admin.0),
                ("origin", "http://inbox.test"),
                ("content-type", &ct),
            ],
            bad.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("iCal"), "{}", r.body);
    assert!(r.body.contains("value=\"Europe/Lisbon\""));
    assert_eq!(t.app.clock_state().default.timezone(), "Europe/Madrid");

    // Who may see and change it.
    let agent = t.session("agent@x.test").await;
    assert_eq!(
        t.get("/admin/hours", &agent, "en").await.status,
        StatusCode::FORBIDDEN
    );
    let audit = t.session("audit@x.test").await;
    let page = t.get("/admin/hours", &audit, "en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("fieldset disabled"));
    assert!(!page.body.contains("/admin/hours/reset"));
    assert!(page.body.contains("id=\"preview-form\""));
    let r = t.post("/admin/hours/reset", &audit, "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A form without the CSRF token is refused.
    let r = t
        .send(
            "POST",
            "/admin/hours/reset",
            &[
                ("cookie", &admin.0),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Reset: the config file's settings again.
    let r = t.post("/admin/hours/reset", &admin, "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let state = t.app.clock_state();
    assert_eq!(state.source, "config");
    assert!(!state.settings.autoreply.when_closed);
    let page = t.get("/admin/hours?saved=reset", &admin, "en").await;
    assert!(
        page.body
            .contains("id=\"hours-source-name\">configuration file")
    );
    // Saved settings are events in the log.
    let changes = t
        .app
        .store
        .read(|r| r.events_after(0, 10_000))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::ClockSettingsChanged { .. }))
        .count();
    assert_eq!(changes, 5);
}

#[tokio::test]
async fn a_reply_sent_later_from_the_conversation_is_listed_and_can_be_cancelled() {
    let t = setup(sunday()).await;
    let admin = t.session("admin@x.test").await;
    let c = t.inbound("@ana", "Mi pedido no ha llegado").await;
    let url = format!("/conversations/{c}");
    let page = t.get(&url, &admin, "en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Send later"));
    assert!(page.body.contains("type=\"datetime-local\""));
    assert!(page.body.contains(&format!(
        "formaction=\"/conversations/{c}/schedule?view=all\""
    )));
    assert!(page.body.contains("(Europe/Madrid)"), "the user's zone");
    assert!(page.body.contains("id=\"scheduled-empty\""));

    // Errors: no time, a time past, a note; the draft is kept.
    let sched = format!("/conversations/{c}/schedule?view=all");
    let r = t
        .post(&sched, &admin, "mode=reply&text=Buenos+d%C3%ADas&at=")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("id=\"later-error\""), "{}", r.body);
    assert!(r.body.contains("Buenos días</textarea>"));
    let r = t
        .post(
            &sched,
            &admin,
            "mode=reply&text=Buenos+d%C3%ADas&at=2026-11-29T09%3A00",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("in the future"), "{}", r.body);
    let r = t
        .post(&sched, &admin, "mode=note&text=ojo&at=2026-11-30T09%3A30")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("notes are not scheduled"), "{}", r.body);

    // Monday 9:30 in Madrid (the user's zone).
    let r = t
        .post(
            &sched,
            &admin,
            "mode=reply&text=Buenos+d%C3%ADas%2C+ya+sale&at=2026-11-30T09%3A30",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let jobs = t.app.conversation_jobs(&t.admin, c).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].due, madrid("2026-11-30T09:30"));
    let job = jobs[0].id;
    let page = t.get(&url, &admin, "en").await;
    assert!(page.body.contains(&format!("id=\"cjob-{job}\"")));
    assert!(page.body.contains("2026-11-30 09:30"));
    assert!(page.body.contains("public reply: Buenos días, ya sale"));
    assert!(
        page.body
            .contains("Marta Admin scheduled a reply for 2026-11-30 09:30"),
        "timeline"
    );
    // In the admin list, in the viewer's zone, linked to the conversation.
    let list = t.get("/admin/hours", &admin, "en").await;
    assert!(list.body.contains(&format!("id=\"job-{job}\"")));
    assert!(list.body.contains(&format!("href=\"/conversations/{c}\"")));
    assert!(list.body.contains("Scheduled reply"));
    assert!(list.body.contains("id=\"jobs-total\">Pending: 1"));

    // An agent may not cancel someone else's reply; the admin cancels it
    // from the conversation.
    let agent = t.session("agent@x.test").await;
    let cancel = format!("/jobs/{job}/cancel");
    let r = t.post(&cancel, &agent, "next=%2Finbox").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let next = form_encode(&format!("/conversations/{c}?view=all"));
    let r = t.post(&cancel, &admin, &format!("next={next}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.headers[header::LOCATION],
        format!("/conversations/{c}?view=all")
    );
    assert!(
        t.app
            .conversation_jobs(&t.admin, c)
            .await
            .unwrap()
            .is_empty()
    );
    let page = t.get(&url, &admin, "en").await;
    assert!(
        page.body
            .contains("Scheduled reply cancelled by Marta Admin")
    );
    let page = t.get(&url, &admin, "es").await;
    assert!(
        page.body
            .contains("Respuesta programada cancelada por Marta Admin")
    );
    let r = t.post(&cancel, &admin, "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The agent schedules and cancels their own, from the admin-less page.
    let r = t
        .post(
            &sched,
            &agent,
            "mode=reply&text=Luego&at=2026-11-30T10%3A00",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let job = t.app.conversation_jobs(&t.admin, c).await.unwrap()[0].id;
    let page = t.get(&url, &agent, "en").await;
    assert!(
        page.body
            .contains(&format!("action=\"/jobs/{job}/cancel\""))
    );
    let r = t
        .post(
            &format!("/jobs/{job}/cancel"),
            &agent,
            &format!("next={next}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let list = t.get("/admin/hours?cancelled=1", &admin, "en").await;
    assert!(list.body.contains("id=\"jobs-empty\""));
    // Auditors cannot schedule.
    let audit = t.session("audit@x.test").await;
    let r = t
        .post(&sched, &audit, "mode=reply&text=x&at=2026-11-30T10%3A00")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_jobs_list_pages_by_due_time() {
    let t = setup(sunday()).await;
    let admin = t.session("admin@x.test").await;
    let c = t.inbound("@ana", "Hola").await;
    for i in 0..27 {
        t.app
            .schedule_reply(
                &t.admin,
                c,
                &format!("mensaje {i}"),
                true,
                sunday().plus_ms((i + 1) * 60_000),
            )
            .await
            .unwrap();
    }
    let page = t.get("/admin/hours", &admin, "en").await;
    assert!(page.body.contains("id=\"jobs-total\">Pending: 27"));
    assert_eq!(page.body.matches("<tr id=\"job-").count(), 25);
    let start = page.body.find("id=\"jobs-next\" href=\"").unwrap() + 21;
    let next = page.body[start..]
        .split(['"', '#'])
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(next.starts_with("/admin/hours?after="), "{next}");
    let page = t.get(&next, &admin, "en").await;
    assert_eq!(page.body.matches("<tr id=\"job-").count(), 2);
    assert!(page.body.contains("mensaje 26"));
    assert!(!page.body.contains("id=\"jobs-next\""));
}

#[tokio::test]
async fn the_survey_page_is_public_answered_once_and_unknown_links_are_404() {
    let t = setup(madrid("2026-11-30T10:00")).await;
    let c = t
        .inbound("@ana", "Mi pedido llegó roto y nadie me contesta")
        .await;
    let token = t.survey_for(c).await;
    let url = format!("/survey/{token}");

    // No session needed; the customer's language; no scripts.
    let page = t.send("GET", &url, &[], vec![]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("lang=\"es\""));
    assert!(page.body.contains("¿Qué tal te atendimos?"));
    assert_eq!(page.body.matches("name=\"csat\"").count(), 5);
    assert_eq!(page.body.matches("name=\"nps\"").count(), 11);
    assert!(page.body.contains("name=\"comment\""));
    assert!(!page.body.contains("<script"));
    assert!(page.body.contains("name=\"viewport\""));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'"));

    // From another site: refused. Without a rating: asked again, comment kept.
    let form = |body: &str| body.as_bytes().to_vec();
    let ct = ("content-type", "application/x-www-form-urlencoded");
    let r = t
        .send(
            "POST",
            &url,
            &[ct, ("origin", "https://evil.test")],
            form("csat=5"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t
        .send(
            "POST",
            &url,
            &[ct, ("origin", "http://inbox.test")],
            form("comment=Muy+amables"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Elige una valoración"), "{}", r.body);
    assert!(r.body.contains("Muy amables</textarea>"));
    let r = t
        .send(
            "POST",
            &url,
            &[ct, ("origin", "http://inbox.test")],
            form("csat=4&nps=9&comment=Muy+amables"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"survey-thanks\""));
    // Once only.
    let again = t.send("GET", &url, &[], vec![]).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.body.contains("id=\"survey-done\""));
    let r = t.send("POST", &url, &[ct], form("csat=1")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("id=\"survey-done\""));
    // Unknown links.
    let r = t
        .send("GET", "/survey/nope", &[("accept-language", "en")], vec![])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Unknown or expired link"));
    let r = t.send("POST", "/survey/nope", &[ct], form("csat=5")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The answer on the conversation and in the figures.
    let admin = t.session("admin@x.test").await;
    let page = t.get(&format!("/conversations/{c}"), &admin, "en").await;
    assert!(page.body.contains("id=\"survey-summary\""));
    assert!(page.body.contains("<strong>4/5</strong>"), "{}", page.body);
    assert!(
        page.body
            .contains("Customer rated 4/5 (NPS 9): Muy amables")
    );
    assert!(page.body.contains("Survey sent"));
    assert!(page.body.contains("Follow-up planned for"));
    let page = t.get(&format!("/conversations/{c}"), &admin, "es").await;
    assert!(
        page.body
            .contains("El cliente valoró 4/5 (NPS 9): Muy amables")
    );
    let page = t.get("/admin/hours", &admin, "en").await;
    assert!(
        page.body.contains("id=\"csat-percent\">100%"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"surveys-sent\">1"));
    assert!(page.body.contains("id=\"nps\">+100"));

    // A link past its validity (2 h here) is unknown.
    let c2 = t
        .inbound("@bea", "My parcel arrived broken, please help")
        .await;
    let token2 = t.survey_for(c2).await;
    let url2 = format!("/survey/{token2}");
    let page = t.send("GET", &url2, &[], vec![]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("lang=\"en\""));
    assert!(page.body.contains("How did we do?"));
    t.clock.advance_ms(3 * 3_600_000);
    let page = t.send("GET", &url2, &[], vec![]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let r = t.send("POST", &url2, &[ct], form("csat=5")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let page = t.get(&format!("/conversations/{c2}"), &admin, "en").await;
    assert!(page.body.contains("the link expired unanswered"));
}

#[tokio::test]
async fn shared_canned_responses_answer_frequent_questions_when_closed() {
    let t = setup(sunday()).await;
    let admin = t.session("admin@x.test").await;
    let r = t
        .post(
            "/canned",
            &admin,
            "shortcut=horario&title=Horario&body=Abrimos+de+lunes+a+viernes.&tags=&shared=1&faq=horario%2C+a+qu%C3%A9+hora+abr%C3%ADs%0Aopening+hours",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let entries = t.app.faq_entries().await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].phrases,
        vec!["horario", "a qué hora abrís", "opening hours"]
    );
    let page = t.get("/canned", &admin, "en").await;
    assert!(page.body.contains("Automatic answer when closed"));
    assert!(page.body.contains("class=\"tag faq-phrase\">opening hours"));
    let edit = t
        .get(&format!("/canned?edit={}", entries[0].canned), &admin, "en")
        .await;
    assert!(
        edit.body
            .contains("horario, a qué hora abrís, opening hours</textarea>")
    );
    // In force in the preview (closed on Sunday).
    let p = t
        .get(
            "/admin/hours/preview?lang=es&text=%C2%BFA+qu%C3%A9+hora+abr%C3%ADs%3F",
            &admin,
            "es",
        )
        .await;
    assert!(p.body.contains("Abrimos de lunes a viernes."), "{}", p.body);
    assert!(p.body.contains("Pregunta frecuente"));
    // A personal response cannot be one; clearing the phrases unmarks it.
    let r = t
        .post(
            "/canned",
            &admin,
            "shortcut=mio&title=Mio&body=Hola&tags=&faq=hola",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("Only responses shared with the team"),
        "{}",
        r.body
    );
    let r = t
        .post(
            "/canned",
            &admin,
            &format!(
                "id={}&shortcut=horario&title=Horario&body=Abrimos.&tags=&shared=1&faq=",
                entries[0].canned
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(t.app.faq_entries().await.unwrap().is_empty());
    // Agents do not get the field.
    let agent = t.session("agent@x.test").await;
    let page = t.get("/canned", &agent, "en").await;
    assert!(!page.body.contains("name=\"faq\""));
}

#[tokio::test]
async fn the_timeline_shows_automatic_replies_and_sla_pauses() {
    let t = setup(sunday()).await;
    let admin = t.session("admin@x.test").await;
    let r = t
        .post("/admin/hours/autoreply", &admin, "when_closed=1&window=12h")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let c = t
        .inbound("@ana", "Hola, mi pedido no ha llegado todavía")
        .await;
    let url = format!("/conversations/{c}");
    let page = t.get(&url, &admin, "en").await;
    assert!(
        page.body.contains("Automatic reply (closed)"),
        "{}",
        page.body
    );
    let page = t.get(&url, &admin, "es").await;
    assert!(page.body.contains("Respuesta automática (cerrado)"));
    t.app
        .set_status(&t.admin, c, Status::Pending, None)
        .await
        .unwrap();
    t.step().await;
    let page = t.get(&url, &admin, "en").await;
    assert!(page.body.contains("SLA paused (pending on the customer)"));
}

#[tokio::test]
async fn api_shapes_for_hours_jobs_preview_and_satisfaction() {
    let t = setup(sunday()).await;
    let token = t.app.login("admin@x.test", "password-123").await.unwrap();
    let agent = t.app.login("agent@x.test", "password-123").await.unwrap();
    let audit = t.app.login("audit@x.test", "password-123").await.unwrap();
    let c = t.inbound("@ana", "Hola").await;

    let s = t.api("GET", "/api/v1/satisfaction", &token, None).await;
    assert_eq!(s.status, StatusCode::OK);
    let v = s.json();
    for k in [
        "responses",
        "csat_average",
        "csat_percent",
        "nps",
        "surveys_sent",
    ] {
        assert!(v.get(k).is_some(), "{k} in {v}");
    }
    assert_eq!(v["responses"], 0);
    assert!(v["csat_average"].is_null());

    // Schedule: 201 with the job; bad times are 400.
    let sched = format!("/api/v1/conversations/{c}/schedule");
    let r = t
        .api(
            "POST",
            &sched,
            &token,
            Some(json!({"text": "Buenos días", "at": "2026-11-30T08:30:00Z"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let job = r.json();
    assert_eq!(job["kind"], "scheduled_reply");
    assert_eq!(job["conversation"], c.0);
    assert_eq!(job["due"], "2026-11-30T08:30:00Z");
    assert!(job["detail"].as_str().unwrap().contains("Buenos días"));
    let first = job["id"].as_u64().unwrap();
    for bad in [
        json!({"text": "x", "at": "mañana"}),
        json!({"text": "x", "at": "2020-01-01T00:00:00Z"}),
        json!({"text": "", "at": "2026-11-30T08:30:00Z"}),
        json!({"text": "x"}),
    ] {
        let r = t.api("POST", &sched, &token, Some(bad.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        assert!(r.json()["error"].is_string());
    }
    let r = t
        .api(
            "POST",
            &sched,
            &token,
            Some(json!({"text": "Luego", "public": true, "at": "2026-11-30T09:00:00Z"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    // Jobs: due order, keyset pages.
    let r = t.api("GET", "/api/v1/jobs", &token, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["total"], 2);
    assert_eq!(v["jobs"][0]["id"], first);
    assert!(v["next"].is_null());
    for k in ["id", "due", "kind", "conversation", "detail"] {
        assert!(v["jobs"][0].get(k).is_some(), "{k}");
    }
    let v = t
        .api("GET", "/api/v1/jobs?limit=1", &token, None)
        .await
        .json();
    assert_eq!(v["jobs"].as_array().unwrap().len(), 1);
    let next = v["next"].as_str().unwrap().to_string();
    let v = t
        .api(
            "GET",
            &format!("/api/v1/jobs?limit=1&after={next}"),
            &token,
            None,
        )
        .await
        .json();
    assert_eq!(v["jobs"][0]["kind"], "scheduled_reply");
    assert_ne!(v["jobs"][0]["id"], first);
    assert!(v["next"].is_null());
    let r = t.api("GET", "/api/v1/jobs?after=soon", &token, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        t.api("GET", "/api/v1/jobs", &agent, None).await.status,
        StatusCode::FORBIDDEN
    );
    // Cancel.
    let cancel = format!("/api/v1/jobs/{first}/cancel");
    assert_eq!(
        t.api("POST", &cancel, &agent, None).await.status,
        StatusCode::FORBIDDEN
    );
    let r = t.api("POST", &cancel, &token, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["cancelled"], true);
    assert_eq!(
        t.api("POST", &cancel, &token, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.api("GET", "/api/v1/jobs", &token, None).await.json()["total"],
        1
    );

    // Settings: read, replace (400 with the reason when invalid).
    let v = t.api("GET", "/api/v1/hours", &token, None).await.json();
    assert_eq!(v["source"], "config");
    assert_eq!(v["settings"]["hours"]["timezone"], "Europe/Madrid");
    assert_eq!(v["settings"]["followup"]["after"], "10s");
    assert_eq!(v["timezone"], "Europe/Madrid");
    assert!(v["hours_es"].as_str().unwrap().contains("lunes a viernes"));
    assert_eq!(
        t.api("GET", "/api/v1/hours", &audit, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        t.api("GET", "/api/v1/hours", &agent, None).await.status,
        StatusCode::FORBIDDEN
    );
    let mut settings = v["settings"].clone();
    settings["hours"]["sunday"] = json!(["09:00-12:00"]);
    settings["autoreply"]["when_closed"] = json!(true);
    assert_eq!(
        t.api("PUT", "/api/v1/hours", &audit, Some(settings.clone()))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        t.api("PUT", "/api/v1/hours", &agent, Some(settings.clone()))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let mut bad = settings.clone();
    bad["hours"]["monday"] = json!(["18:00-09:00"]);
    let r = t.api("PUT", "/api/v1/hours", &token, Some(bad)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("does not end after it starts"),
        "{}",
        r.body
    );
    let mut bad = settings.clone();
    bad["followup"]["after"] = json!("soonish");
    let r = t.api("PUT", "/api/v1/hours", &token, Some(bad)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = t
        .api(
            "PUT",
            "/api/v1/hours",
            &token,
            Some(json!({"hours": {"nope": 1}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t.api("PUT", "/api/v1/hours", &token, Some(settings)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["source"], "admin");

    // Preview: open now (Sunday 10:00 is in the new hours); later closed.
    let v = t
        .api(
            "GET",
            "/api/v1/hours/preview?channel=api&lang=en",
            &token,
            None,
        )
        .await
        .json();
    assert_eq!(v["open"], true);
    assert!(v["reply"].is_null());
    assert_eq!(v["lang"], "en");
    t.clock.advance_ms(3 * 3_600_000);
    let v = t
        .api(
            "GET",
            "/api/v1/hours/preview?lang=es&text=hola",
            &token,
            None,
        )
        .await
        .json();
    assert_eq!(v["open"], false);
    assert_eq!(v["next_opening"], madrid("2026-11-30T09:00").rfc3339());
    assert_eq!(v["reply"]["reason"], "closed");
    assert!(
        v["reply"]["text"]
            .as_str()
            .unwrap()
            .contains("el lunes 30 de noviembre a las 9:00")
    );
    for k in ["hours_es", "hours_en", "next_opening_text"] {
        assert!(v[k].is_string(), "{k}");
    }
    assert_eq!(
        t.api("GET", "/api/v1/hours/preview?lang=fr", &token, None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        t.api("GET", "/api/v1/hours/preview", &agent, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Without a token.
    let r = t.send("GET", "/api/v1/satisfaction", &[], vec![]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn team_and_channel_calendars_are_added_edited_and_removed() {
    let t = setup(sunday()).await;
    let admin = t.session("admin@x.test").await;
    t.app.create_team(&t.admin, "Facturación").await.unwrap();
    let page = t.get("/admin/hours", &admin, "en").await;
    assert!(page.body.contains("id=\"calendars\""), "{}", page.body);
    assert!(page.body.contains("id=\"calendars-empty\""));
    assert!(page.body.contains(
        "A conversation follows its channel's calendar, else its team's, else the default one."
    ));
    assert!(page.body.contains("value=\"team:Facturación\""));
    assert!(page.body.contains("value=\"channel:api\""));

    // A team calendar open on Saturdays, through the form; in force.
    let form = |monday: &str| {
        format!(
            "target={}&timezone=&monday={}&tuesday=&wednesday=&thursday=&friday=&saturday={}&sunday=&holidays=12-24",
            form_encode("team:Facturación"),
            form_encode(monday),
            form_encode("10:00-14:00"),
        )
    };
    let r = t
        .post("/admin/hours/calendars", &admin, &form("08:00-15:00"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.headers[header::LOCATION],
        "/admin/hours?saved=calendars#calendars"
    );
    let state = t.app.clock_state();
    let cal = state.teams.get("Facturación").expect("the team's calendar");
    assert_eq!(cal.timezone(), "Europe/Madrid", "the default's zone");
    let saturday = madrid("2026-12-05T11:00");
    assert!(cal.is_open(saturday));
    assert!(!state.default.is_open(saturday));
    assert!(cal.is_open(madrid("2026-11-30T08:30")));
    assert_eq!(cal.holidays(), vec!["12-24"]);
    let h = state.settings.hours.as_ref().unwrap();
    assert_eq!(h.team["Facturación"].saturday, vec!["10:00-14:00"]);
    assert_eq!(h.monday, vec!["09:00-14:00", "15:00-18:00"], "default kept");
    // Listed with its week drawn, each chart with its own title.
    let page = t.get("/admin/hours?saved=calendars", &admin, "en").await;
    assert!(page.body.contains("id=\"calendars-flash\""));
    assert!(
        page.body.contains("id=\"cal-team-Facturaci_n\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"week-title-team-Facturaci_n\""));
    assert_eq!(page.body.matches("class=\"week-chart\"").count(), 2);
    assert!(!page.body.contains("id=\"calendars-empty\""));
    // Edit: the form filled with it.
    let edit = t
        .get(
            &format!("/admin/hours?edit={}", form_encode("team:Facturación")),
            &admin,
            "en",
        )
        .await;
    assert!(edit.body.contains("name=\"editing\""), "{}", edit.body);
    assert!(edit.body.contains("value=\"08:00-15:00\""));
    assert!(edit.body.contains("value=\"10:00-14:00\""));

    // An invalid range: the reason next to the form, the input kept,
    // nothing changed.
    let r = t
        .post("/admin/hours/calendars", &admin, &form("9-14"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("id=\"calendars-flash\""), "{}", r.body);
    assert!(r.body.contains("Not saved:"));
    assert!(
        r.body.contains(&escaped("\"9-14\" is not HH:MM-HH:MM")),
        "{}",
        r.body
    );
    assert!(r.body.contains("value=\"9-14\""));
    assert!(r.body.contains("value=\"team:Facturación\" selected"));
    assert_eq!(
        t.app.clock_state().settings.hours.as_ref().unwrap().team["Facturación"].monday,
        vec!["08:00-15:00"]
    );
    // An unknown team is refused.
    let r = t
        .post(
            "/admin/hours/calendars",
            &admin,
            "target=team%3ANadie&monday=09%3A00-10%3A00",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("Choose an existing team or channel."));

    // A channel calendar in its own zone; the preview follows it.
    let r = t
        .post(
            "/admin/hours/calendars",
            &admin,
            "target=channel%3Aapi&timezone=Atlantic%2FCanary&sunday=08%3A00-12%3A00",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let state = t.app.clock_state();
    assert_eq!(state.channels["api"].timezone(), "Atlantic/Canary");
    assert!(state.calendar("api", Some("Facturación")).is_open(sunday()));
    let p = t
        .get("/admin/hours/preview?lang=en&channel=api", &admin, "en")
        .await;
    assert!(p.body.contains("Open now"), "{}", p.body);

    // Remove both.
    for target in ["team%3AFacturaci%C3%B3n", "channel%3Aapi"] {
        let r = t
            .post(
                "/admin/hours/calendars/remove",
                &admin,
                &format!("target={target}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(
            r.headers[header::LOCATION],
            "/admin/hours?removed=calendars#calendars"
        );
    }
    let state = t.app.clock_state();
    assert!(state.teams.is_empty() && state.channels.is_empty());
    let page = t.get("/admin/hours?removed=calendars", &admin, "es").await;
    assert!(page.body.contains("Calendario quitado."));
    assert!(page.body.contains("id=\"calendars-empty\""));

    // Auditors see the list without the forms.
    let audit = t.session("audit@x.test").await;
    let page = t.get("/admin/hours", &audit, "en").await;
    assert!(page.body.contains("id=\"calendars\""));
    assert!(!page.body.contains("id=\"calendars-form\""));
    let r = t
        .post("/admin/hours/calendars", &audit, &form("08:00-15:00"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Without a default calendar there is nothing to add to.
    let r = t
        .post(
            "/admin/hours/calendar",
            &admin,
            "always_open=1&timezone=Europe%2FMadrid",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = t.get("/admin/hours", &admin, "en").await;
    assert!(page.body.contains("id=\"calendars-need-default\""));
    assert!(!page.body.contains("id=\"calendars-form\""));
    let r = t
        .post("/admin/hours/calendars", &admin, &form("08:00-15:00"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("Set the default calendar first"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_channel_override_of_the_automatic_replies_is_in_force() {
    let t = setup(sunday()).await;
    let admin = t.session("admin@x.test").await;
    let page = t.get("/admin/hours", &admin, "en").await;
    assert!(page.body.contains("id=\"autoreply-channels-empty\""));
    assert!(page.body.contains("id=\"autoreply-channel-form\""));
    // The general setting answers nothing when closed; the API channel
    // does, with its own text.
    let r = t
        .post(
            "/admin/hours/autoreply/channel",
            &admin,
            "channel=api&when_closed=on&when_open=&faq=off&closed_en=API+closed%2C+back+{{next_opening}}.&closed_es=&open_es=&open_en=",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.headers[header::LOCATION],
        "/admin/hours?saved=autoreply-channels#autoreply-channels"
    );
    let state = t.app.clock_state();
    let o = &state.settings.autoreply.channel["api"];
    assert_eq!(o.when_closed, Some(true));
    assert_eq!(o.when_open, None);
    assert_eq!(o.faq, Some(false));
    assert_eq!(o.closed_en, "API closed, back {{next_opening}}.");
    assert!(!state.settings.autoreply.when_closed, "general unchanged");
    let p = t
        .get("/admin/hours/preview?lang=en&channel=api", &admin, "en")
        .await;
    assert!(
        p.body
            .contains("API closed, back Monday 30 November at 9:00."),
        "{}",
        p.body
    );
    let page = t
        .get("/admin/hours?saved=autoreply-channels", &admin, "en")
        .await;
    assert!(page.body.contains("id=\"autoreply-channels-flash\""));
    assert!(
        page.body.contains("id=\"autoreply-channel-api\""),
        "{}",
        page.body
    );
    // Edit fills the form.
    let edit = t.get("/admin/hours?autoedit=api", &admin, "en").await;
    assert!(
        edit.body
            .contains("API closed, back {{next_opening}}.</textarea>")
    );
    assert!(edit.body.contains("<option value=\"off\" selected"));
    // An unknown channel is refused with the form kept.
    let r = t
        .post(
            "/admin/hours/autoreply/channel",
            &admin,
            "channel=nope&when_closed=on&closed_en=Hola",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("Choose a configured channel."),
        "{}",
        r.body
    );
    assert!(r.body.contains("Hola</textarea>"));
    // Removed: the general setting again.
    let r = t
        .post(
            "/admin/hours/autoreply/channel/remove",
            &admin,
            "channel=api",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(t.app.clock_state().settings.autoreply.channel.is_empty());
    let p = t
        .get("/admin/hours/preview?lang=en&channel=api", &admin, "en")
        .await;
    assert!(p.body.contains("id=\"preview-none\""), "{}", p.body);
}

#[tokio::test]
async fn the_latest_digest_is_shown() {
    let t = setup(sunday()).await;
    let admin = t.session("admin@x.test").await;
    let page = t.get("/admin/hours", &admin, "en").await;
    assert!(page.body.contains("id=\"digest-empty\""), "{}", page.body);
    assert!(page.body.contains("[[scheduler.cron]]"));
    assert!(
        page.body.contains("task = &quot;digest&quot;") || page.body.contains("task = \"digest\"")
    );
    t.inbound("@ana", "Hola").await;
    t.app
        .scheduler()
        .add(
            atalaya::scheduler::JobKind::Cron {
                name: "diario".into(),
                task: "digest".into(),
            },
            t.clock.now(),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(t.run_due().await, 1);
    let page = t.get("/admin/hours", &admin, "en").await;
    assert!(!page.body.contains("id=\"digest-empty\""));
    assert!(
        page.body
            .contains("id=\"digest-text\">cron diario: digest: 1 open"),
        "{}",
        page.body
    );
    // Auditors do not get it.
    let audit = t.session("audit@x.test").await;
    let page = t.get("/admin/hours", &audit, "en").await;
    assert!(!page.body.contains("id=\"digest-text\""));
}

/// The top-bar badge's text.
fn badge(body: &str) -> Option<String> {
    let start = body.find("id=\"hours-badge\"")?;
    let rest = &body[start..];
    let open = rest.find('>')? + 1;
    let close = rest.find("</span>")?;
    Some(rest[open..close].replace("&middot;", "·"))
}

#[tokio::test]
async fn the_top_bar_says_whether_the_business_is_open() {
    let t = setup(sunday()).await;
    let agent = t.session("agent@x.test").await;
    let page = t.get("/inbox", &agent, "en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        badge(&page.body).as_deref(),
        Some("Closed · opens tomorrow 9:00"),
        "{}",
        page.body
    );
    assert!(page.body.contains("class=\"badge warn hours-badge\""));
    let page = t.get("/inbox", &agent, "es").await;
    assert_eq!(
        badge(&page.body).as_deref(),
        Some("Cerrado · abre mañana a las 9:00")
    );
    // Monday 10:00: open until the lunch break.
    t.clock.advance_ms(24 * 3_600_000);
    let page = t.get("/inbox", &agent, "en").await;
    assert_eq!(badge(&page.body).as_deref(), Some("Open · closes 14:00"));
    let page = t.get("/inbox", &agent, "es").await;
    assert_eq!(
        badge(&page.body).as_deref(),
        Some("Abierto · cierra a las 14:00")
    );
    // Friday 19:00: closed until Monday.
    t.clock.advance_ms((4 * 24 + 9) * 3_600_000);
    let admin = t.session("admin@x.test").await;
    let page = t.get("/admin/hours", &admin, "en").await;
    assert_eq!(
        badge(&page.body).as_deref(),
        Some("Closed · opens Monday 9:00")
    );
    let page = t.get("/admin/hours", &admin, "es").await;
    assert_eq!(
        badge(&page.body).as_deref(),
        Some("Cerrado · abre el lunes a las 9:00")
    );
    // Always open (no hours): no badge.
    let r = t
        .post(
            "/admin/hours/calendar",
            &admin,
            "always_open=1&timezone=Europe%2FMadrid",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(t.app.clock_state().settings.hours.is_none());
    let page = t.get("/inbox", &agent, "en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("id=\"hours-badge\""));
}
