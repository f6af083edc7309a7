//! The role matrix: every session and API route that acts on a conversation,
//! for every role, on a conversation the user may see and on one they may
//! not (another team's), with a valid token and CSRF. Each answer must match
//! the policy below; a route missing from the bodies table fails the test.

use atalaya::app::{App, Caller, auth};
use atalaya::config::{Config, Overrides};
use atalaya::domain::*;
use atalaya::web::routes::Access;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use std::collections::HashMap;
use std::sync::Arc;
use tower::ServiceExt;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Allowed,
    Forbidden,
}

/// What each role may do, per route (the permission rules of `app::perm`).
fn policy(role: Role, method: &str, path: &str, visible: bool) -> Expect {
    use Expect::*;
    let manager = matches!(role, Role::Admin | Role::Supervisor);
    let reads = method == "GET" || path.ends_with("/presence");
    // Handing to teams and reviewing held replies: managers only.
    if path.ends_with("/team") || path.ends_with("/review") {
        return if manager { Allowed } else { Forbidden };
    }
    if !visible {
        return Forbidden;
    }
    if role == Role::Auditor && !reads {
        return Forbidden;
    }
    Allowed
}

/// The SHA-256 of the attachment every test conversation carries.
const ATTACHMENT_SHA: &str = "0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a09080706050403020100a";

struct World {
    router: axum::Router,
    sessions: HashMap<Role, (String, String)>,
    bearers: HashMap<Role, String>,
    team: TeamId,
    _dir: tempfile::TempDir,
}

async fn world() -> (World, ConversationId, ConversationId, Arc<App>) {
    let dir = tempfile::tempdir().unwrap();
    let ov = Overrides {
        listen: None,
        data: Some(dir.path().join("d")),
    };
    let cfg = Config::load(None, std::iter::empty(), &ov).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = App::open(cfg, clock).unwrap();
    let roles = [Role::Admin, Role::Supervisor, Role::Agent, Role::Auditor];
    for r in roles {
        auth::create_user(
            &app.store,
            &format!("{}@x.test", r.as_str()),
            r.as_str(),
            r,
            "password-123",
        )
        .await
        .unwrap();
    }
    let admin = Caller::Staff(
        app.store
            .read(|r| r.user_by_email("admin@x.test"))
            .await
            .unwrap()
            .unwrap(),
    );
    let team = app.create_team(&admin, "Otro equipo").await.unwrap().id;
    let msg = |ext: &str| atalaya::ingest::InboundMessage {
        channel: "api".into(),
        kind: ChannelKind::Api,
        external_id: ext.into(),
        thread: None,
        author: atalaya::ingest::AuthorProfile {
            handle: format!("@{ext}"),
            ..Default::default()
        },
        text: "me cobraron dos veces".into(),
        html: None,
        subject: None,
        attachments: vec![atalaya::domain::Attachment {
            filename: "factura.pdf".into(),
            content_type: "application/pdf".into(),
            size: 4,
            sha256: Some(ATTACHMENT_SHA.into()),
        }],
        public: true,
        sent_at: None,
    };
    let path =
        atalaya::app::email::attachment_path(&app.config.server.data, ATTACHMENT_SHA).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"%PDF").unwrap();
    let own = app.ingest(msg("own")).await.unwrap().conversation;
    let foreign = app.ingest(msg("foreign")).await.unwrap().conversation;
    app.assign_team(&admin, foreign, Some(team)).await.unwrap();
    let router = atalaya::web::router(app.clone());
    let mut w = World {
        router,
        sessions: HashMap::new(),
        bearers: HashMap::new(),
        team,
        _dir: dir,
    };
    for r in roles {
        let email = format!("{}@x.test", r.as_str());
        let (token, csrf) = app.login_session(&email, "password-123").await.unwrap();
        w.sessions
            .insert(r, (format!("atalaya_session={token}"), csrf));
        w.bearers
            .insert(r, app.login(&email, "password-123").await.unwrap());
    }
    (w, own, foreign, app)
}

/// A valid body for each route that acts on a conversation.
/// (`foreign` keeps the team routes from moving conversations between
/// teams, which would change who may see them for the next routes.)
fn body(w: &World, method: &str, path: &str, foreign: bool) -> Option<String> {
    let api = path.starts_with("/api/");
    let last = path.rsplit('/').next().unwrap_or("");
    Some(match (method, last, api) {
        ("GET", _, _) => String::new(),
        ("POST", "reply", false) => "mode=note&text=hola".into(),
        ("POST", "messages", true) => r#"{"text":"hola","note":true}"#.into(),
        ("POST", "status", false) => "status=pending".into(),
        ("POST", "status", true) => r#"{"status":"pending"}"#.into(),
        ("POST", "assign", false) => "assignee=".into(),
        ("POST", "assign", true) => r#"{"assignee":null}"#.into(),
        ("POST", "tags", false) => "add=revisar".into(),
        ("POST", "tags", true) => r#"{"add":["revisar"]}"#.into(),
        ("POST", "priority", false) => "priority=P2&reason=prueba".into(),
        ("POST", "priority", true) => r#"{"priority":"P2","reason":"prueba"}"#.into(),
        ("POST", "snooze", false) => "until=2099-01-01T09:00".into(),
        ("POST", "team", false) if foreign => format!("team={}", w.team),
        ("POST", "team", false) => "team=".into(),
        ("POST", "presence", false) => "activity=viewing".into(),
        ("POST", "private", false) => String::new(),
        ("POST", "whatsapp-template", false) => "template=seguimiento_pedido".into(),
        ("POST", "tier", false) => "tier=2&reason=prueba".into(),
        ("POST", "tier", true) => r#"{"tier":2,"reason":"prueba"}"#.into(),
        ("POST", "category", false) => "category=".into(),
        ("POST", "category", true) => r#"{"category":null}"#.into(),
        ("POST", "review", false) => "approve=0&reason=prueba".into(),
        ("POST", "review", true) => r#"{"approve":false,"reason":"prueba"}"#.into(),
        ("POST", "schedule", false) => format!("text=hola&mode=reply&at={}", later().0),
        ("POST", "schedule", true) => {
            serde_json::json!({"text": "hola", "at": later().1}).to_string()
        }
        _ => return None,
    })
}

/// A day from now: as a `datetime-local` value in UTC (the pages' zone
/// here) and in RFC 3339.
fn later() -> (String, String) {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    let local = t
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    (local, t.to_string())
}

#[tokio::test]
async fn every_conversation_route_for_every_role_and_object() {
    let (w, own, foreign, app) = world().await;
    // The review routes name a message: each conversation's first one (not
    // held, so a caller allowed to review gets past the permission check
    // to "not waiting for approval").
    let mut first_message = HashMap::new();
    for conv in [own, foreign] {
        let msgs = app
            .store
            .read(move |r| r.conversation_messages(conv))
            .await
            .unwrap();
        first_message.insert(conv, msgs[0].id.to_string());
    }
    let routes: Vec<_> = atalaya::web::route_table()
        .into_iter()
        .filter(|r| {
            r.path.contains("/conversations/{id}")
                && matches!(r.access, Access::Session | Access::Bearer)
        })
        .collect();
    assert!(routes.len() >= 18, "{} conversation routes", routes.len());
    let mut checked = 0;
    for r in &routes {
        for role in [Role::Admin, Role::Supervisor, Role::Agent, Role::Auditor] {
            for (conv, visible_to_agent) in [(own, true), (foreign, false)] {
                let visible = role != Role::Agent || visible_to_agent;
                let body = body(&w, r.method, &r.path, !visible_to_agent).unwrap_or_else(|| {
                    panic!("no body for {} {}: add it to the matrix", r.method, r.path)
                });
                let uri = r
                    .path
                    .replace("{id}", &conv.to_string())
                    .replace("{mid}", &first_message[&conv])
                    .replace("{sha}", ATTACHMENT_SHA);
                let mut req = Request::builder()
                    .method(r.method)
                    .uri(&uri)
                    .header(header::HOST, "inbox.test");
                if r.access == Access::Bearer {
                    req = req.header(
                        header::AUTHORIZATION,
                        format!("Bearer {}", w.bearers[&role]),
                    );
                    req = req.header(header::CONTENT_TYPE, "application/json");
                } else {
                    let (cookie, csrf) = &w.sessions[&role];
                    req = req
                        .header(header::COOKIE, cookie)
                        .header("x-csrf-token", csrf);
                    req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                }
                let resp = w
                    .router
                    .clone()
                    .oneshot(req.body(Body::from(body)).unwrap())
                    .await
                    .unwrap();
                let status = resp.status();
                let full =
                    String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes())
                        .into_owned();
                let text = full.chars().take(200).collect::<String>();
                let want = policy(role, r.method, &r.path, visible);
                let got = if status == StatusCode::FORBIDDEN {
                    Expect::Forbidden
                } else if status.is_success() || status == StatusCode::SEE_OTHER {
                    Expect::Allowed
                } else if status == StatusCode::BAD_REQUEST
                    && r.path.ends_with("/whatsapp-template")
                    && full.contains("message templates are for WhatsApp conversations")
                {
                    // These conversations are not on WhatsApp: a caller
                    // who may reply gets past the permission check to that
                    // refusal.
                    Expect::Allowed
                } else if status == StatusCode::CONFLICT
                    && r.path.ends_with("/review")
                    && full.contains("not waiting for approval")
                {
                    // The message is not held: a caller who may review gets
                    // past the permission check to that refusal.
                    Expect::Allowed
                } else {
                    panic!(
                        "{} {uri} as {role:?}: unexpected {status}: {text}",
                        r.method
                    )
                };
                assert_eq!(
                    got,
                    want,
                    "{} {uri} as {role:?} ({}): {status} {text}",
                    r.method,
                    if visible { "visible" } else { "foreign" }
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, routes.len() * 8);
    assert!(app.store.verify().unwrap().ok());
}

/// Who may use the triage administration and availability routes.
fn triage_policy(role: Role, path: &str) -> Expect {
    let manager = matches!(role, Role::Admin | Role::Supervisor);
    if path.ends_with("/availability") {
        // Every staff member but auditors (who take no conversations).
        return if role == Role::Auditor {
            Expect::Forbidden
        } else {
            Expect::Allowed
        };
    }
    if manager {
        Expect::Allowed
    } else {
        Expect::Forbidden
    }
}

/// Every triage administration and availability route, with a valid body.
const TRIAGE_ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin/triage"),
    ("POST", "/admin/triage"),
    ("POST", "/admin/triage/simulate"),
    ("POST", "/admin/triage/versions/{v}/restore"),
    ("GET", "/admin/agents"),
    ("POST", "/admin/agents/{id}"),
    ("POST", "/admin/teams/{id}/routing"),
    ("POST", "/account/availability"),
    ("GET", "/api/v1/triage/rules"),
    ("POST", "/api/v1/triage/rules"),
    ("POST", "/api/v1/triage/rules/{version}/restore"),
    ("POST", "/api/v1/triage/simulate"),
    ("GET", "/api/v1/agents"),
    ("POST", "/api/v1/agents/me/availability"),
    ("POST", "/api/v1/agents/{id}"),
    ("POST", "/api/v1/teams/{id}/routing"),
];

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

fn triage_body(method: &str, path: &str) -> Option<String> {
    let rules = atalaya::triage::presets::PRESETS_TOML;
    Some(match (method, path) {
        ("GET", _) => String::new(),
        ("POST", "/admin/triage") => format!("toml={}&note=prueba", form_encode(rules)),
        ("POST", "/admin/triage/simulate") => format!("toml={}&days=7", form_encode(rules)),
        ("POST", "/admin/triage/versions/{v}/restore") => String::new(),
        ("POST", "/admin/agents/{id}") => "tier=2&skills=billing&languages=es&capacity=5".into(),
        ("POST", "/admin/teams/{id}/routing") => "strategy=least_loaded".into(),
        ("POST", "/account/availability") => "availability=away".into(),
        ("POST", "/api/v1/triage/rules") => {
            serde_json::json!({"toml": rules, "note": "prueba"}).to_string()
        }
        ("POST", "/api/v1/triage/rules/{version}/restore") => String::new(),
        ("POST", "/api/v1/triage/simulate") => {
            serde_json::json!({"toml": rules, "days": 7}).to_string()
        }
        ("POST", "/api/v1/agents/me/availability") => r#"{"availability":"away"}"#.into(),
        ("POST", "/api/v1/agents/{id}") => {
            r#"{"tier":2,"skills":["billing"],"languages":["es"],"capacity":5}"#.into()
        }
        ("POST", "/api/v1/teams/{id}/routing") => r#"{"strategy":"least_loaded"}"#.into(),
        _ => return None,
    })
}

#[tokio::test]
async fn triage_administration_and_availability_for_every_role() {
    let (w, _own, _foreign, app) = world().await;
    // Version 1 (the presets) exists to be restored.
    app.load_rules().await.unwrap();
    let agent = app
        .store
        .read(|r| r.user_by_email("agent@x.test"))
        .await
        .unwrap()
        .unwrap()
        .id;
    let table = atalaya::web::route_table();
    for (method, path) in TRIAGE_ROUTES {
        assert!(
            table.iter().any(|r| r.method == *method && r.path == *path),
            "{method} {path} is not registered"
        );
    }
    // Any other route of these families must be added to the list.
    let routes: Vec<_> = table
        .iter()
        .filter(|r| {
            [
                "/admin/triage",
                "/admin/agents",
                "/api/v1/triage",
                "/api/v1/agents",
            ]
            .iter()
            .any(|p| r.path.starts_with(p))
                || r.path.ends_with("/routing")
                || r.path.ends_with("/availability")
        })
        .collect();
    for r in &routes {
        assert!(
            TRIAGE_ROUTES.contains(&(r.method, r.path.as_str())),
            "{} {}: add it to TRIAGE_ROUTES with a body",
            r.method,
            r.path
        );
    }
    let mut checked = 0;
    for r in &routes {
        for role in [Role::Admin, Role::Supervisor, Role::Agent, Role::Auditor] {
            let body = triage_body(r.method, &r.path)
                .unwrap_or_else(|| panic!("no body for {} {}", r.method, r.path));
            let id = if r.path.contains("/teams/") {
                w.team.to_string()
            } else {
                agent.to_string()
            };
            let uri = r
                .path
                .replace("{id}", &id)
                .replace("{v}", "1")
                .replace("{version}", "1");
            let mut req = Request::builder()
                .method(r.method)
                .uri(&uri)
                .header(header::HOST, "inbox.test");
            if r.access == Access::Bearer {
                req = req
                    .header(
                        header::AUTHORIZATION,
                        format!("Bearer {}", w.bearers[&role]),
                    )
                    .header(header::CONTENT_TYPE, "application/json");
            } else {
                let (cookie, csrf) = &w.sessions[&role];
                req = req
                    .header(header::COOKIE, cookie)
                    .header("x-csrf-token", csrf)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            }
            let resp = w
                .router
                .clone()
                .oneshot(req.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            let status = resp.status();
            let full =
                String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes())
                    .into_owned();
            let text = full.chars().take(200).collect::<String>();
            let got = if status == StatusCode::FORBIDDEN {
                Expect::Forbidden
            } else if status.is_success() || status == StatusCode::SEE_OTHER {
                Expect::Allowed
            } else {
                panic!(
                    "{} {uri} as {role:?}: unexpected {status}: {text}",
                    r.method
                )
            };
            assert_eq!(
                got,
                triage_policy(role, &r.path),
                "{} {uri} as {role:?}: {status} {text}",
                r.method
            );
            checked += 1;
        }
    }
    assert_eq!(checked, TRIAGE_ROUTES.len() * 4);
    assert!(app.store.verify().unwrap().ok());
}

/// Who may use the business-hours, jobs and satisfaction routes: every
/// staff member reads the satisfaction figures; admins, supervisors and
/// auditors (read only) the settings and the preview; only admins and
/// supervisors change them, list the jobs and cancel others' jobs.
fn hours_policy(role: Role, method: &str, path: &str) -> Expect {
    let manager = matches!(role, Role::Admin | Role::Supervisor);
    if path == "/api/v1/satisfaction" {
        return Expect::Allowed;
    }
    if method == "GET" && path != "/api/v1/jobs" {
        return if role == Role::Agent {
            Expect::Forbidden
        } else {
            Expect::Allowed
        };
    }
    if manager {
        Expect::Allowed
    } else {
        Expect::Forbidden
    }
}

/// Every business-hours, jobs and satisfaction route, with a valid body.
const HOURS_ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin/hours"),
    ("GET", "/admin/hours/preview"),
    ("POST", "/admin/hours/calendar"),
    ("POST", "/admin/hours/calendars"),
    ("POST", "/admin/hours/calendars/remove"),
    ("POST", "/admin/hours/autoreply"),
    ("POST", "/admin/hours/autoreply/channel"),
    ("POST", "/admin/hours/autoreply/channel/remove"),
    ("POST", "/admin/hours/followup"),
    ("POST", "/admin/hours/reset"),
    ("POST", "/jobs/{id}/cancel"),
    ("GET", "/api/v1/hours"),
    ("PUT", "/api/v1/hours"),
    ("GET", "/api/v1/hours/preview"),
    ("GET", "/api/v1/satisfaction"),
    ("GET", "/api/v1/jobs"),
    ("POST", "/api/v1/jobs/{id}/cancel"),
];

fn hours_body(method: &str, path: &str) -> Option<String> {
    Some(match (method, path) {
        ("GET", _) => String::new(),
        ("POST", "/admin/hours/calendar") => {
            "timezone=Europe%2FMadrid&monday=09%3A00-14%3A00%2C+16%3A00-19%3A00&holidays=12-25"
                .into()
        }
        // After the default calendar above (the table keeps this order).
        ("POST", "/admin/hours/calendars") => {
            "target=team%3AOtro+equipo&monday=10%3A00-13%3A00&holidays=".into()
        }
        ("POST", "/admin/hours/calendars/remove") => "target=team%3AOtro+equipo".into(),
        ("POST", "/admin/hours/autoreply") => "when_closed=1&faq=1&window=12h".into(),
        ("POST", "/admin/hours/autoreply/channel") => "channel=api&when_closed=off".into(),
        ("POST", "/admin/hours/autoreply/channel/remove") => "channel=api".into(),
        ("POST", "/admin/hours/followup") => "after=3+business+days&nps=1&link_valid=30d".into(),
        ("POST", "/admin/hours/reset") => String::new(),
        ("POST", "/jobs/{id}/cancel") => String::new(),
        ("PUT", "/api/v1/hours") => serde_json::json!({
            "hours": {"timezone": "Europe/Madrid", "monday": ["09:00-14:00"]},
            "autoreply": {"when_closed": true},
            "followup": {"after": "2h"},
        })
        .to_string(),
        ("POST", "/api/v1/jobs/{id}/cancel") => String::new(),
        _ => return None,
    })
}

#[tokio::test]
async fn business_hours_jobs_and_satisfaction_for_every_role() {
    let (w, own, _foreign, app) = world().await;
    let admin = Caller::Staff(
        app.store
            .read(|r| r.user_by_email("admin@x.test"))
            .await
            .unwrap()
            .unwrap(),
    );
    let table = atalaya::web::route_table();
    for (method, path) in HOURS_ROUTES {
        assert!(
            table.iter().any(|r| r.method == *method && r.path == *path),
            "{method} {path} is not registered"
        );
    }
    let routes: Vec<_> = table
        .iter()
        .filter(|r| {
            [
                "/admin/hours",
                "/jobs",
                "/api/v1/hours",
                "/api/v1/jobs",
                "/api/v1/satisfaction",
            ]
            .iter()
            .any(|p| r.path.starts_with(p))
        })
        .collect();
    for r in &routes {
        assert!(
            HOURS_ROUTES.contains(&(r.method, r.path.as_str())),
            "{} {}: add it to HOURS_ROUTES with a body",
            r.method,
            r.path
        );
    }
    let mut checked = 0;
    for r in &routes {
        for role in [Role::Admin, Role::Supervisor, Role::Agent, Role::Auditor] {
            let body = hours_body(r.method, &r.path)
                .unwrap_or_else(|| panic!("no body for {} {}", r.method, r.path));
            // Each cancel gets a job of its own, scheduled by the admin.
            let uri = if r.path.contains("{id}") {
                let at = Ts::parse(&later().1).unwrap();
                let job = app
                    .schedule_reply(&admin, own, "hola", true, at)
                    .await
                    .unwrap();
                r.path.replace("{id}", &job.id.to_string())
            } else {
                r.path.clone()
            };
            let mut req = Request::builder()
                .method(r.method)
                .uri(&uri)
                .header(header::HOST, "inbox.test");
            if r.access == Access::Bearer {
                req = req
                    .header(
                        header::AUTHORIZATION,
                        format!("Bearer {}", w.bearers[&role]),
                    )
                    .header(header::CONTENT_TYPE, "application/json");
            } else {
                let (cookie, csrf) = &w.sessions[&role];
                req = req
                    .header(header::COOKIE, cookie)
                    .header("x-csrf-token", csrf)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            }
            let resp = w
                .router
                .clone()
                .oneshot(req.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            let status = resp.status();
            let full =
                String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes())
                    .into_owned();
            let text = full.chars().take(300).collect::<String>();
            let got = if status == StatusCode::FORBIDDEN {
                Expect::Forbidden
            } else if status.is_success() || status == StatusCode::SEE_OTHER {
                Expect::Allowed
            } else {
                panic!(
                    "{} {uri} as {role:?}: unexpected {status}: {text}",
                    r.method
                )
            };
            assert_eq!(
                got,
                hours_policy(role, r.method, &r.path),
                "{} {uri} as {role:?}: {status} {text}",
                r.method
            );
            checked += 1;
        }
    }
    assert_eq!(checked, HOURS_ROUTES.len() * 4);
    // The survey is public: no session, no token needed to reach the page.
    assert!(
        table.iter().any(|r| r.path == "/survey/{token}"
            && r.method == "GET"
            && r.access == Access::Public)
    );
    assert!(
        table.iter().any(|r| r.path == "/survey/{token}"
            && r.method == "POST"
            && r.access == Access::Public)
    );
    assert!(app.store.verify().unwrap().ok());
}
