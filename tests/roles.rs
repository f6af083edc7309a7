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
    if path.ends_with("/team") {
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
        _ => return None,
    })
}

#[tokio::test]
async fn every_conversation_route_for_every_role_and_object() {
    let (w, own, foreign, app) = world().await;
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
