//! The agent's web pages in-process: sign-in, sessions, CSRF and Origin
//! checks, per-object permissions, CSP nonces, escaping.

use atalaya::app::{App, auth};
use atalaya::config::{Config, Overrides};
use atalaya::domain::*;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

struct T {
    app: Arc<App>,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn setup() -> T {
    let dir = tempfile::tempdir().unwrap();
    let ov = Overrides {
        listen: None,
        data: Some(dir.path().join("d")),
    };
    let cfg = Config::load(None, std::iter::empty(), &ov).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = App::open(cfg, clock).unwrap();
    for (email, role) in [
        ("admin@x.test", Role::Admin),
        ("agent@x.test", Role::Agent),
        ("audit@x.test", Role::Auditor),
    ] {
        auth::create_user(&app.store, email, "Marta Ruiz", role, "password-123")
            .await
            .unwrap();
    }
    T {
        router: atalaya::web::router(app.clone()),
        app,
        _dir: dir,
    }
}

impl T {
    async fn req(
        &self,
        method: &str,
        uri: &str,
        cookie: Option<&str>,
        form: Option<&str>,
        origin: Option<&str>,
    ) -> Resp {
        let mut r = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "inbox.test");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
        }
        if form.is_some() {
            r = r.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let resp = self
            .router
            .clone()
            .oneshot(r.body(Body::from(form.unwrap_or("").to_string())).unwrap())
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

    /// Sign in through the form; returns the session cookie ("name=value").
    async fn sign_in(&self, email: &str) -> String {
        let page = self.req("GET", "/login", None, None, None).await;
        let login_cookie = set_cookie(&page.headers, "atalaya_login").unwrap();
        let csrf = field(&page.body, "csrf");
        let form = format!("csrf={csrf}&email={email}&password=password-123&next=%2Finbox");
        let r = self
            .req(
                "POST",
                "/login",
                Some(&login_cookie),
                Some(&form),
                Some("http://inbox.test"),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        set_cookie(&r.headers, "atalaya_session").unwrap()
    }
}

fn set_cookie(h: &axum::http::HeaderMap, name: &str) -> Option<String> {
    h.get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let first = v.split(';').next()?;
            (first.starts_with(&format!("{name}=")) && first.len() > name.len() + 1)
                .then(|| first.to_string())
        })
}

fn field(body: &str, name: &str) -> String {
    let pat = format!("name=\"{name}\" value=\"");
    let start = body.find(&pat).unwrap_or_else(|| panic!("no field {name}")) + pat.len();
    body[start..].split('"').next().unwrap().to_string()
}

async fn inbound(app: &App, ext: &str, html: Option<&str>) -> ConversationId {
    app.ingest(atalaya::ingest::InboundMessage {
        channel: "api".into(),
        kind: ChannelKind::Api,
        external_id: ext.into(),
        thread: None,
        author: atalaya::ingest::AuthorProfile {
            handle: format!("@{ext}"),
            name: Some("Ana Pérez".into()),
            ..Default::default()
        },
        text: if html.is_some() {
            String::new()
        } else {
            "me cobraron dos veces".into()
        },
        html: html.map(str::to_string),
        subject: None,
        attachments: vec![],
        public: true,
        sent_at: None,
    })
    .await
    .unwrap()
    .conversation
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_pages_require_it() {
    let t = setup().await;
    let r = t.req("GET", "/inbox?view=mine", None, None, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers[header::LOCATION],
        "/login?next=/inbox%3Fview%3Dmine"
    );
    let page = t.req("GET", "/login", None, None, None).await;
    assert!(page.body.contains("name=\"email\"") && page.body.contains("name=\"password\""));
    // Wrong CSRF, foreign Origin, wrong password.
    let login_cookie = set_cookie(&page.headers, "atalaya_login").unwrap();
    let csrf = field(&page.body, "csrf");
    let r = t
        .req(
            "POST",
            "/login",
            Some(&login_cookie),
            Some("csrf=forged&email=admin@x.test&password=password-123"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let form = format!("csrf={csrf}&email=admin@x.test&password=password-123");
    let r = t
        .req(
            "POST",
            "/login",
            Some(&login_cookie),
            Some(&form),
            Some("https://evil.test"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let bad = format!("csrf={csrf}&email=admin@x.test&password=nope-nope");
    let r = t
        .req("POST", "/login", Some(&login_cookie), Some(&bad), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("incorrect") || r.body.contains("Wrong"));
    // Success: a new session id each time, HttpOnly and SameSite=Strict.
    let r = t
        .req("POST", "/login", Some(&login_cookie), Some(&form), None)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let raw = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("atalaya_session="))
        .unwrap();
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Strict"),
        "{raw}"
    );
    let a = t.sign_in("admin@x.test").await;
    let b = t.sign_in("admin@x.test").await;
    assert_ne!(a, b);
    let r = t.req("GET", "/inbox", Some(&a), None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let csp = r.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(
        r.body.contains(&format!("nonce=\"{nonce}\"")),
        "scripts carry the CSP nonce"
    );
    assert!(!csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"));
    // Open redirects are refused.
    let page = t
        .req("GET", "/login?next=//evil.test", None, None, None)
        .await;
    assert_eq!(field(&page.body, "next"), "/inbox");
}

#[tokio::test]
async fn login_form_is_throttled_per_address() {
    let t = setup().await;
    let page = t.req("GET", "/login", None, None, None).await;
    let cookie = set_cookie(&page.headers, "atalaya_login").unwrap();
    let form = format!(
        "csrf={}&email=admin@x.test&password=wrong-wrong",
        field(&page.body, "csrf")
    );
    let mut last = StatusCode::OK;
    for _ in 0..11 {
        last = t
            .req("POST", "/login", Some(&cookie), Some(&form), None)
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn forms_need_the_csrf_token_and_our_origin() {
    let t = setup().await;
    let id = inbound(&t.app, "c1", None).await;
    let s = t.sign_in("admin@x.test").await;
    let page = t
        .req("GET", &format!("/conversations/{id}"), Some(&s), None, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = field(&page.body, "csrf");
    let url = format!("/conversations/{id}/reply");
    let r = t
        .req("POST", &url, Some(&s), Some("mode=note&text=hola"), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no token");
    let r = t
        .req(
            "POST",
            &url,
            Some(&s),
            Some("csrf=forged&mode=note&text=hola"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "wrong token");
    let form = format!("csrf={csrf}&mode=note&text=nota+interna");
    let r = t
        .req(
            "POST",
            &url,
            Some(&s),
            Some(&form),
            Some("https://evil.test"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "foreign origin");
    let r = t
        .req(
            "POST",
            &url,
            Some(&s),
            Some(&form),
            Some("http://inbox.test"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let msgs = t
        .app
        .store
        .read(move |r| r.conversation_messages(id))
        .await
        .unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1].direction, Direction::Note);
    // Another session's token does not work here.
    let other = t.sign_in("admin@x.test").await;
    let other_page = t
        .req(
            "GET",
            &format!("/conversations/{id}"),
            Some(&other),
            None,
            None,
        )
        .await;
    let other_csrf = field(&other_page.body, "csrf");
    assert_ne!(other_csrf, csrf);
    let r = t
        .req(
            "POST",
            &url,
            Some(&s),
            Some(&format!("csrf={other_csrf}&mode=note&text=x")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn roles_and_objects_are_checked_on_pages() {
    let t = setup().await;
    let open = inbound(&t.app, "o1", None).await;
    let team = inbound(&t.app, "t1", None).await;
    t.app
        .store
        .write(move |tx| {
            let old = tx.conversation(team)?.unwrap();
            let mut c = old.clone();
            c.team = Some(TeamId(77));
            tx.put_conversation(Some(&old), &c)
        })
        .await
        .unwrap();
    let agent = t.sign_in("agent@x.test").await;
    assert_eq!(
        t.req(
            "GET",
            &format!("/conversations/{open}"),
            Some(&agent),
            None,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    let r = t
        .req(
            "GET",
            &format!("/conversations/{team}"),
            Some(&agent),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let list = t
        .req("GET", "/inbox?view=all", Some(&agent), None, None)
        .await;
    assert!(
        list.body.contains(&format!("data-id=\"{open}\""))
            && !list.body.contains(&format!("data-id=\"{team}\""))
    );
    assert_eq!(
        t.req("GET", "/conversations/999999", Some(&agent), None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.req("GET", "/conversations/abc", Some(&agent), None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The auditor reads but gets no reply box and cannot post.
    let audit = t.sign_in("audit@x.test").await;
    let page = t
        .req(
            "GET",
            &format!("/conversations/{team}"),
            Some(&audit),
            None,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("id=\"reply\""));
    let csrf = field(&page.body, "csrf");
    let r = t
        .req(
            "POST",
            &format!("/conversations/{team}/reply"),
            Some(&audit),
            Some(&format!("csrf={csrf}&mode=note&text=x")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t
        .req(
            "POST",
            &format!("/conversations/{team}/status"),
            Some(&audit),
            Some(&format!("csrf={csrf}&status=resolved")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn password_change_revokes_other_sessions_and_logout_ends_this_one() {
    let t = setup().await;
    let a = t.sign_in("agent@x.test").await;
    let b = t.sign_in("agent@x.test").await;
    let page = t
        .req("GET", "/account/password", Some(&a), None, None)
        .await;
    let csrf = field(&page.body, "csrf");
    let r = t
        .req(
            "POST",
            "/account/password",
            Some(&a),
            Some(&format!("csrf={csrf}&current=wrong-one&new=brand-new-pass")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t
        .req(
            "POST",
            "/account/password",
            Some(&a),
            Some(&format!(
                "csrf={csrf}&current=password-123&new=brand-new-pass"
            )),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        t.req("GET", "/inbox", Some(&a), None, None).await.status,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        t.req("GET", "/inbox", Some(&b), None, None).await.status,
        StatusCode::SEE_OTHER,
        "the other one is signed out"
    );
    let r = t
        .req(
            "POST",
            "/logout",
            Some(&a),
            Some(&format!("csrf={csrf}")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        t.req("GET", "/inbox", Some(&a), None, None).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn inbound_html_is_sanitized_and_text_escaped_in_pages() {
    let t = setup().await;
    let id = inbound(&t.app, "x1", Some("<p>hola<img src=x onerror=alert(1)><script>alert(2)</script><a href=\"javascript:alert(3)\">x</a></p>")).await;
    let text_id = t
        .app
        .ingest(atalaya::ingest::InboundMessage {
            channel: "api".into(),
            kind: ChannelKind::Api,
            external_id: "x2".into(),
            thread: None,
            author: atalaya::ingest::AuthorProfile {
                handle: "@<b>evil</b>".into(),
                name: Some("<script>alert(4)</script>".into()),
                ..Default::default()
            },
            text: "<svg onload=alert(5)>".into(),
            html: None,
            subject: None,
            attachments: vec![],
            public: true,
            sent_at: None,
        })
        .await
        .unwrap()
        .conversation;
    let s = t.sign_in("admin@x.test").await;
    for conv in [id, text_id] {
        let page = t
            .req(
                "GET",
                &format!("/conversations/{conv}"),
                Some(&s),
                None,
                None,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        for bad in ["onerror", "<script>alert", "javascript:", "<svg", "<b>evil"] {
            assert!(!page.body.contains(bad), "{bad} reached the page");
        }
    }
    let inbox = t.req("GET", "/inbox", Some(&s), None, None).await;
    assert!(!inbox.body.contains("<script>alert") && !inbox.body.contains("<svg"));
}

#[tokio::test]
async fn canned_responses_permissions_rendering_and_the_picker() {
    use atalaya::app::Caller;
    use atalaya::app::responses::CannedInput;
    let t = setup().await;
    let users = t.app.store.read(|r| r.users()).await.unwrap();
    let by = |e: &str| Caller::Staff(users.iter().find(|u| u.email == e).unwrap().clone());
    let (admin, agent, audit) = (by("admin@x.test"), by("agent@x.test"), by("audit@x.test"));
    let input = |shortcut: &str, body: &str, shared: bool| CannedInput {
        shortcut: shortcut.into(),
        title: "Reembolso en curso".into(),
        body: body.into(),
        tags: "Billing, refund".into(),
        shared,
    };
    let shared = t
        .app
        .canned_save(&admin, None, input("reembolso", "Hola {{contact.first_name}}, tu reembolso del caso #{{conversation.id}} va en camino. {{agent.initials}}", true))
        .await
        .unwrap();
    assert!(shared.owner.is_none());
    let err = t
        .app
        .canned_save(&agent, None, input("mio", "x", true))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("only admins and supervisors"),
        "{err}"
    );
    let own = t
        .app
        .canned_save(&agent, None, input("mio", "Saludos, {{agent.name}}", false))
        .await
        .unwrap();
    let err = t
        .app
        .canned_save(&agent, None, input("reembolso", "x", false))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("taken"), "{err}");
    let err = t
        .app
        .canned_save(&agent, None, input("typo", "Hola {{contact.nmae}}", false))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("did you mean {{contact.name}}"),
        "{err}"
    );
    assert!(
        t.app
            .canned_save(&agent, Some(shared.id), input("reembolso", "x", false))
            .await
            .is_err(),
        "agents cannot edit shared ones"
    );
    assert!(
        t.app
            .canned_save(&audit, None, input("a", "x", false))
            .await
            .is_err()
    );
    assert!(
        t.app.canned_delete(&admin, own.id).await.is_err(),
        "personal ones belong to their owner"
    );
    assert_eq!(t.app.canned_list(&admin).await.unwrap().len(), 1);
    assert_eq!(t.app.canned_list(&agent).await.unwrap().len(), 2);

    // Rendering for a conversation, in the picker and in a reply.
    let conv = inbound(&t.app, "c1", None).await;
    let s = t.sign_in("agent@x.test").await;
    let r = t
        .req(
            "GET",
            &format!("/conversations/{conv}/canned?q=reem"),
            Some(&s),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let items: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(items[0]["shortcut"], "reembolso");
    assert_eq!(
        items[0]["text"],
        format!("Hola Ana, tu reembolso del caso #{conv} va en camino. ^MR")
    );
    let page = t
        .req(
            "GET",
            &format!("/conversations/{conv}?insert={}", shared.id),
            Some(&s),
            None,
            None,
        )
        .await;
    assert!(
        page.body.contains("tu reembolso del caso"),
        "the draft is pre-filled"
    );
    let csrf = field(&page.body, "csrf");
    let url = format!("/conversations/{conv}/reply");
    let r = t
        .req(
            "POST",
            &url,
            Some(&s),
            Some(&format!(
                "csrf={csrf}&mode=reply&text=Hola+%7B%7Bcontact.nombre%7D%7D"
            )),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("unknown variable"));
    let r = t.req("POST", &url, Some(&s), Some(&format!("csrf={csrf}&mode=reply&text=Hola+%7B%7Bcontact.first_name%7D%7D+%7B%7Bagent.initials%7D%7D")), None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let msgs = t
        .app
        .store
        .read(move |r| r.conversation_messages(conv))
        .await
        .unwrap();
    assert_eq!(msgs.len(), 2, "the bad one was not sent");
    assert_eq!(msgs[1].text, "Hola Ana ^MR");
    // The management page.
    let page = t.req("GET", "/canned", Some(&s), None, None).await;
    assert!(page.body.contains("/reembolso") && page.body.contains("/mio"));
}

#[tokio::test]
async fn views_list_and_count_by_assignee_and_status() {
    let t = setup().await;
    let users = t.app.store.read(|r| r.users()).await.unwrap();
    let agent = users.iter().find(|u| u.email == "agent@x.test").unwrap().id;
    let mine = inbound(&t.app, "m1", None).await;
    let free = inbound(&t.app, "f1", None).await;
    let done = inbound(&t.app, "d1", None).await;
    t.app
        .store
        .write(move |tx| {
            for (id, f) in [(mine, 0), (done, 1)] {
                let old = tx.conversation(id)?.unwrap();
                let mut c = old.clone();
                if f == 0 {
                    c.assignee = Some(agent);
                } else {
                    c.status = Status::Resolved;
                }
                tx.put_conversation(Some(&old), &c)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let s = t.sign_in("agent@x.test").await;
    let row = |id: ConversationId| format!("data-id=\"{id}\"");
    let page = t.req("GET", "/inbox?view=mine", Some(&s), None, None).await;
    assert!(page.body.contains(&row(mine)) && !page.body.contains(&row(free)));
    let page = t
        .req("GET", "/inbox?view=unassigned", Some(&s), None, None)
        .await;
    assert!(
        page.body.contains(&row(free))
            && !page.body.contains(&row(mine))
            && !page.body.contains(&row(done))
    );
    let page = t
        .req("GET", "/inbox?view=resolved", Some(&s), None, None)
        .await;
    assert!(page.body.contains(&row(done)) && !page.body.contains(&row(free)));
    // Counts in the rail: mine 1, unassigned 1, all 2, resolved 1.
    let page = t.req("GET", "/inbox", Some(&s), None, None).await;
    for (view, n) in [("mine", 1), ("unassigned", 1), ("all", 2), ("resolved", 1)] {
        let link = format!("href=\"/inbox?view={view}\"");
        let at = page.body.find(&link).unwrap();
        let count = &page.body[at..at + 200];
        assert!(
            count.contains(&format!("<span class=\"count\">{n}</span>")),
            "{view}: {count}"
        );
    }
    assert!(t.app.store.verify().unwrap().ok());
}

#[tokio::test]
async fn assign_claim_tags_priority_and_snooze() {
    use atalaya::app::Caller;
    let t = setup().await;
    auth::create_user(
        &t.app.store,
        "luis@x.test",
        "Luis Gómez",
        Role::Agent,
        "password-123",
    )
    .await
    .unwrap();
    let users = t.app.store.read(|r| r.users()).await.unwrap();
    let by = |e: &str| users.iter().find(|u| u.email == e).unwrap().clone();
    let (marta, luis) = (by("agent@x.test"), by("luis@x.test"));
    let id = inbound(&t.app, "a1", None).await;
    // Two agents claim the same conversation at once: exactly one wins.
    let (cm, cl) = (Caller::Staff(marta.clone()), Caller::Staff(luis.clone()));
    let (a, b) = tokio::join!(
        t.app.assign(&cm, id, Some(marta.id), true),
        t.app.assign(&cl, id, Some(luis.id), true)
    );
    assert!(a.is_ok() != b.is_ok(), "one claim wins: {a:?} / {b:?}");
    let loser = match (a, b) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
        _ => unreachable!("checked above"),
    };
    assert!(loser.to_string().contains("already took"), "{loser}");
    // Agents cannot hand conversations to others; admins can.
    let err = t
        .app
        .assign(&Caller::Staff(marta.clone()), id, Some(luis.id), false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("themselves"), "{err}");
    let admin = Caller::Staff(by("admin@x.test"));
    t.app
        .assign(&admin, id, Some(luis.id), false)
        .await
        .unwrap();
    assert!(
        t.app
            .assign(&admin, id, Some(by("audit@x.test").id), false)
            .await
            .is_err(),
        "auditors take nothing"
    );

    // Through the page: tags, a priority with its reason, snooze.
    let s = t.sign_in("admin@x.test").await;
    let page = t
        .req("GET", &format!("/conversations/{id}"), Some(&s), None, None)
        .await;
    assert!(page.body.contains("Luis Gómez"), "the assignee shows");
    let csrf = field(&page.body, "csrf");
    let t = &t;
    let s = &s;
    let post = |path: &str, form: String| {
        let url = format!("/conversations/{id}/{path}");
        async move { t.req("POST", &url, Some(s), Some(&form), None).await }
    };
    assert_eq!(
        post("tags", format!("csrf={csrf}&add=%23Facturaci%C3%B3n"))
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        post("tags", format!("csrf={csrf}&add=a%3Cb")).await.status,
        StatusCode::BAD_REQUEST
    );
    let r = post("priority", format!("csrf={csrf}&priority=P1&reason=")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a reason is required");
    let r = post(
        "priority",
        format!("csrf={csrf}&priority=P1&reason=cliente+VIP+con+cobro+doble"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = post("snooze", format!("csrf={csrf}&until=2020-01-01T09:00")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "the past is refused");
    let r = post("snooze", format!("csrf={csrf}&until=2099-01-01T09:00")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let c = t
        .app
        .store
        .read(move |r| r.conversation(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.tags, ["facturación"]);
    assert_eq!((c.priority, c.status), (Priority::P1, Status::Snoozed));
    assert!(c.snoozed_until.is_some());
    let page = t
        .req("GET", &format!("/conversations/{id}"), Some(s), None, None)
        .await;
    assert!(
        page.body.contains("cliente VIP con cobro doble"),
        "the reason is in the timeline"
    );
    assert!(t.app.store.verify().unwrap().ok());
}

#[tokio::test]
async fn presence_heartbeats_show_who_is_viewing_or_replying() {
    let t = setup().await;
    auth::create_user(
        &t.app.store,
        "luis@x.test",
        "Luis Gómez",
        Role::Agent,
        "password-123",
    )
    .await
    .unwrap();
    let id = inbound(&t.app, "p1", None).await;
    let (admin, luis) = (
        t.sign_in("admin@x.test").await,
        t.sign_in("luis@x.test").await,
    );
    let url = format!("/conversations/{id}/presence");
    let page = t
        .req(
            "GET",
            &format!("/conversations/{id}"),
            Some(&luis),
            None,
            None,
        )
        .await;
    let csrf = field(&page.body, "csrf");
    assert!(page.body.contains("data-presence"));
    let r = t
        .req("POST", &url, Some(&luis), Some("activity=replying"), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "heartbeats need the CSRF token"
    );
    let r = t
        .req(
            "POST",
            &url,
            Some(&luis),
            Some(&format!("csrf={csrf}&activity=replying")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("Luis Gómez"), "one does not see oneself");
    let seen = t.req("GET", &url, Some(&admin), None, None).await;
    assert!(
        seen.body.contains("Luis Gómez") && seen.body.contains("está respondiendo"),
        "{}",
        seen.body
    );
    t.req(
        "POST",
        &url,
        Some(&luis),
        Some(&format!("csrf={csrf}&activity=left")),
        None,
    )
    .await;
    let seen = t.req("GET", &url, Some(&admin), None, None).await;
    assert!(!seen.body.contains("Luis Gómez"));
    assert_eq!(
        t.req(
            "GET",
            "/conversations/999/presence",
            Some(&admin),
            None,
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn notes_with_mentions_reach_the_mentioned_agent() {
    use atalaya::app::Caller;
    use atalaya::app::conversations::mentioned;
    let t = setup().await;
    auth::create_user(
        &t.app.store,
        "luis.gomez@x.test",
        "Luis Gómez",
        Role::Agent,
        "password-123",
    )
    .await
    .unwrap();
    let users = t.app.store.read(|r| r.users()).await.unwrap();
    let luis = users
        .iter()
        .find(|u| u.email.starts_with("luis"))
        .unwrap()
        .id;
    assert_eq!(mentioned("mira esto @Luis, gracias", &users), [luis]);
    assert_eq!(mentioned("@luis.gomez.", &users), [luis]);
    assert_eq!(mentioned("@luisgómez", &users), [luis]);
    assert!(mentioned("email a ana@example.com", &users).is_empty());
    assert!(
        mentioned("@audit", &users).is_empty(),
        "auditors are not mentioned"
    );
    let id = inbound(&t.app, "n1", None).await;
    let admin = Caller::Staff(
        users
            .iter()
            .find(|u| u.role == Role::Admin)
            .unwrap()
            .clone(),
    );
    t.app
        .reply(&admin, id, "@luis ¿lo miras? cobro doble", false, true)
        .await
        .unwrap();
    let s = t.sign_in("luis.gomez@x.test").await;
    let page = t
        .req("GET", "/inbox?view=mentions", Some(&s), None, None)
        .await;
    assert!(
        page.body.contains(&format!("data-id=\"{id}\"")),
        "the conversation is in Luis's mentions"
    );
    let at = page.body.find("href=\"/inbox?view=mentions\"").unwrap();
    assert!(page.body[at..at + 200].contains("<span class=\"count\">1</span>"));
    let other = t.sign_in("agent@x.test").await;
    let page = t
        .req("GET", "/inbox?view=mentions", Some(&other), None, None)
        .await;
    assert!(!page.body.contains(&format!("data-id=\"{id}\"")));
}

#[tokio::test]
async fn list_filters_by_tag_priority_and_channel() {
    use atalaya::app::Caller;
    let t = setup().await;
    let users = t.app.store.read(|r| r.users()).await.unwrap();
    let admin = Caller::Staff(
        users
            .iter()
            .find(|u| u.role == Role::Admin)
            .unwrap()
            .clone(),
    );
    let (a, b) = (
        inbound(&t.app, "fa", None).await,
        inbound(&t.app, "fb", None).await,
    );
    t.app
        .tag(&admin, a, &["facturación".into()], &[])
        .await
        .unwrap();
    t.app
        .override_priority(&admin, b, Priority::P1, "caída del servicio")
        .await
        .unwrap();
    let s = t.sign_in("admin@x.test").await;
    let row = |id: ConversationId| format!("data-id=\"{id}\"");
    let page = t
        .req(
            "GET",
            "/inbox?view=all&tag=Facturaci%C3%B3n",
            Some(&s),
            None,
            None,
        )
        .await;
    assert!(page.body.contains(&row(a)) && !page.body.contains(&row(b)));
    let page = t
        .req("GET", "/inbox?view=all&priority=P1", Some(&s), None, None)
        .await;
    assert!(page.body.contains(&row(b)) && !page.body.contains(&row(a)));
    let page = t
        .req(
            "GET",
            "/inbox?view=all&channel=webchat",
            Some(&s),
            None,
            None,
        )
        .await;
    assert!(!page.body.contains(&row(a)) && !page.body.contains(&row(b)));
    let page = t
        .req(
            "GET",
            "/inbox?view=all&channel=api&priority=bogus",
            Some(&s),
            None,
            None,
        )
        .await;
    assert!(
        page.body.contains(&row(a)) && page.body.contains(&row(b)),
        "unknown values are ignored"
    );
    // The live refresh keeps the filter.
    let page = t
        .req("GET", "/inbox?view=all&priority=P1", Some(&s), None, None)
        .await;
    assert!(page.body.contains("/inbox/list?view=all&amp;priority=P1"));
}

#[tokio::test]
async fn language_and_time_zone_preferences() {
    let t = setup().await;
    let id = inbound(&t.app, "z1", None).await;
    let s = t.sign_in("agent@x.test").await;
    // Accept-Language first...
    let mut req = Request::builder()
        .uri("/inbox")
        .header("host", "inbox.test")
        .header(header::COOKIE, &s);
    req = req.header(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9");
    let resp = t
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body =
        String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned();
    assert!(body.contains("Unassigned") && body.contains("lang=\"en\""));
    // ...then the user's own setting wins.
    let page = t.req("GET", "/account/prefs", Some(&s), None, None).await;
    let csrf = field(&page.body, "csrf");
    let r = t
        .req(
            "POST",
            "/account/prefs",
            Some(&s),
            Some(&format!("csrf={csrf}&lang=es&tz=Mars%2FOlympus")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t
        .req(
            "POST",
            "/account/prefs",
            Some(&s),
            Some(&format!("csrf={csrf}&lang=es&tz=America%2FMexico_City")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let mut req = Request::builder()
        .uri(format!("/conversations/{id}"))
        .header("host", "inbox.test")
        .header(header::COOKIE, &s);
    req = req.header(header::ACCEPT_LANGUAGE, "en-US");
    let resp = t
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body =
        String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned();
    assert!(body.contains("lang=\"es\"") && body.contains("Responder"));
    // Times are shown in the chosen zone (UTC-6 in November).
    let m = t
        .app
        .store
        .read(move |r| r.conversation_messages(id))
        .await
        .unwrap();
    let local = m[0]
        .sent_at
        .to_jiff()
        .to_zoned_datetime(jiff::tz::TimeZone::get("America/Mexico_City").unwrap());
    assert!(body.contains(&local.strftime("%Y-%m-%d %H:%M").to_string()));
}

#[tokio::test]
async fn the_status_page_is_for_admins() {
    let t = setup().await;
    let id = inbound(&t.app, "s1", None).await;
    let users = t.app.store.read(|r| r.users()).await.unwrap();
    let admin = atalaya::app::Caller::Staff(
        users
            .iter()
            .find(|u| u.role == Role::Admin)
            .unwrap()
            .clone(),
    );
    t.app.reply(&admin, id, "hola", false, false).await.unwrap();
    let s = t.sign_in("admin@x.test").await;
    let page = t.req("GET", "/admin/status", Some(&s), None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("webhook_url"),
        "the parked reply and why"
    );
    let agent = t.sign_in("agent@x.test").await;
    assert_eq!(
        t.req("GET", "/admin/status", Some(&agent), None, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn teams_share_out_the_work() {
    let t = setup().await;
    auth::create_user(
        &t.app.store,
        "luis@x.test",
        "Luis Gómez",
        Role::Agent,
        "password-123",
    )
    .await
    .unwrap();
    let users = t.app.store.read(|r| r.users()).await.unwrap();
    let agent = users.iter().find(|u| u.email == "agent@x.test").unwrap().id;
    let id = inbound(&t.app, "t1", None).await;
    let a = t.sign_in("agent@x.test").await;
    assert_eq!(
        t.req("GET", "/admin/teams", Some(&a), None, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let s = t.sign_in("admin@x.test").await;
    let page = t.req("GET", "/admin/teams", Some(&s), None, None).await;
    let csrf = field(&page.body, "csrf");
    let r = t
        .req(
            "POST",
            "/admin/teams",
            Some(&s),
            Some(&format!("csrf={csrf}&name=Facturaci%C3%B3n")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = t
        .req(
            "POST",
            "/admin/teams",
            Some(&s),
            Some(&format!("csrf={csrf}&name=facturaci%C3%B3n")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "names are unique");
    let team = t.app.teams().await.unwrap()[0].id;
    let r = t
        .req(
            "POST",
            &format!("/admin/teams/{team}/members"),
            Some(&s),
            Some(&format!("csrf={csrf}&member=1&user={agent}")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = t
        .req(
            "POST",
            &format!("/conversations/{id}/team"),
            Some(&s),
            Some(&format!("csrf={csrf}&team={team}")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The member sees it under My teams; an agent outside the team no longer sees it.
    let a = t.sign_in("agent@x.test").await;
    let page = t
        .req("GET", "/inbox?view=teams", Some(&a), None, None)
        .await;
    assert!(page.body.contains(&format!("data-id=\"{id}\"")));
    let l = t.sign_in("luis@x.test").await;
    assert_eq!(
        t.req("GET", &format!("/conversations/{id}"), Some(&l), None, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let page = t
        .req("GET", &format!("/conversations/{id}"), Some(&s), None, None)
        .await;
    assert!(
        page.body.contains("pasó al equipo Facturación"),
        "the timeline names the team"
    );
    assert!(t.app.store.verify().unwrap().ok());
}

#[tokio::test]
async fn the_send_guard_keeps_a_private_reply_private() {
    let t = setup().await;
    let (token, _) = t.app.widget_start("webchat", "Lucía", None).await.unwrap();
    let v = t.app.widget_visitor(&token).await.unwrap();
    let first = t
        .app
        .widget_send(&v, "hola, mi dirección es Calle Mayor 5", None)
        .await
        .unwrap();
    let id = first.conversation;
    let s = t.sign_in("admin@x.test").await;
    let page = t
        .req("GET", &format!("/conversations/{id}"), Some(&s), None, None)
        .await;
    assert!(
        page.body.contains("value=\"private\""),
        "webchat has private replies"
    );
    let csrf = field(&page.body, "csrf");
    let seen = field(&page.body, "seen");
    // The customer writes again before the agent sends.
    t.app
        .widget_send(&v, "perdón, es el 7", None)
        .await
        .unwrap();
    let form = format!("csrf={csrf}&seen={seen}&mode=private&text=Confirmado+Calle+Mayor+7");
    let r = t
        .req(
            "POST",
            &format!("/conversations/{id}/reply"),
            Some(&s),
            Some(&form),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("class=\"guard\""));
    assert!(
        r.body.contains("value=\"private\" checked"),
        "the held reply stays private"
    );
    assert!(
        r.body.contains("Confirmado Calle Mayor 7"),
        "the draft is kept"
    );
    let msgs = t
        .app
        .store
        .read(move |r| r.conversation_messages(id))
        .await
        .unwrap();
    assert_eq!(msgs.len(), 2, "nothing was sent yet");
}

/// A `multipart/form-data` body: text fields, then files (name, type, bytes).
fn multipart_body(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----atalaya-test-boundary-7MA4YWxkTrZu0gW";
    let mut b = Vec::new();
    for (k, v) in fields {
        b.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (name, ct, bytes) in files {
        b.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n"
            )
            .as_bytes(),
        );
        b.extend(*bytes);
        b.extend(b"\r\n");
    }
    b.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), b)
}

impl T {
    async fn post_multipart(
        &self,
        uri: &str,
        cookie: &str,
        origin: Option<&str>,
        (content_type, body): (String, Vec<u8>),
    ) -> Resp {
        let mut r = Request::builder()
            .method("POST")
            .uri(uri)
            .header("host", "inbox.test")
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, content_type);
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
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
}

/// Files attached in the reply box: a multipart form checked for its CSRF
/// token and Origin like any other, stored content-addressed, listed under
/// the sent reply with download links; too large or on a channel that
/// cannot carry files: refused with a visible reason; notes may carry them.
#[tokio::test]
async fn reply_box_uploads_attachments_with_csrf() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("c.toml");
    std::fs::write(
        &cfg_path,
        "[[channel.email]]\nname = \"support\"\naddress = \"support@x.test\"\n\
         [channel.email.smtp]\nhost = \"127.0.0.1\"\nport = 9\nsecurity = \"none\"\n",
    )
    .unwrap();
    let ov = Overrides {
        listen: None,
        data: Some(dir.path().join("d")),
    };
    let cfg = Config::load(Some(&cfg_path), std::iter::empty(), &ov).unwrap();
    let app = App::open(cfg, Arc::new(SystemClock)).unwrap();
    auth::create_user(
        &app.store,
        "admin@x.test",
        "Marta Ruiz",
        Role::Admin,
        "password-123",
    )
    .await
    .unwrap();
    let t = T {
        router: atalaya::web::router(app.clone()),
        app,
        _dir: dir,
    };
    let id = t
        .app
        .ingest(atalaya::ingest::InboundMessage {
            channel: "support".into(),
            kind: ChannelKind::Email,
            external_id: "<q1@example.com>".into(),
            thread: None,
            author: atalaya::ingest::AuthorProfile {
                handle: "jose@example.com".into(),
                name: Some("José Pérez".into()),
                ..Default::default()
            },
            text: "¿Y la factura?".into(),
            html: None,
            subject: Some("Factura".into()),
            attachments: vec![],
            public: true,
            sent_at: None,
        })
        .await
        .unwrap()
        .conversation;
    let s = t.sign_in("admin@x.test").await;
    let page = t
        .req("GET", &format!("/conversations/{id}"), Some(&s), None, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("enctype=\"multipart/form-data\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("type=\"file\" name=\"files\" multiple"));
    assert!(
        page.body.contains("Adjuntar archivos"),
        "Spanish by default"
    );
    let csrf = field(&page.body, "csrf");
    let seen = field(&page.body, "seen");
    let url = format!("/conversations/{id}/reply");
    let pdf: &[u8] = b"%PDF-1.4 factura";
    let binary: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let files: [(&str, &str, &[u8]); 2] = [
        ("Factura año 2026.pdf", "application/pdf", pdf),
        ("datos.bin", "application/octet-stream", &binary),
    ];
    let count = || async {
        t.app
            .store
            .read(move |r| r.conversation_messages(id))
            .await
            .unwrap()
            .len()
    };

    // No token, a forged one, a foreign Origin: refused, nothing stored.
    for (fields, origin) in [
        (vec![("mode", "reply"), ("text", "hola")], None),
        (
            vec![("csrf", "forged"), ("mode", "reply"), ("text", "hola")],
            None,
        ),
        (
            vec![("csrf", csrf.as_str()), ("mode", "reply"), ("text", "hola")],
            Some("https://evil.test"),
        ),
    ] {
        let r = t
            .post_multipart(&url, &s, origin, multipart_body(&fields, &files))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{fields:?} {origin:?}");
    }
    assert_eq!(count().await, 1);

    // The real form: sent, with both files.
    let r = t
        .post_multipart(
            &url,
            &s,
            Some("http://inbox.test"),
            multipart_body(
                &[
                    ("csrf", &csrf),
                    ("seen", &seen),
                    ("mode", "reply"),
                    ("text", "Adjunto la factura."),
                ],
                &files,
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let msgs = t
        .app
        .store
        .read(move |r| r.conversation_messages(id))
        .await
        .unwrap();
    let out = msgs.last().unwrap();
    assert_eq!(out.direction, Direction::Out);
    assert_eq!(out.delivery, Some(Delivery::Queued));
    let names: Vec<(&str, &str, u64)> = out
        .attachments
        .iter()
        .map(|a| (a.filename.as_str(), a.content_type.as_str(), a.size))
        .collect();
    assert_eq!(
        names,
        vec![
            ("Factura año 2026.pdf", "application/pdf", pdf.len() as u64),
            ("datos.bin", "application/octet-stream", 5000),
        ]
    );
    // The timeline links them; the link serves the same bytes.
    let page = t
        .req("GET", &format!("/conversations/{id}"), Some(&s), None, None)
        .await;
    for (a, want) in out.attachments.iter().zip([pdf, &binary[..]]) {
        let link = format!(
            "/conversations/{id}/attachments/{}",
            a.sha256.as_deref().unwrap()
        );
        assert!(page.body.contains(&link), "{link} in the page");
        let r = t
            .router
            .clone()
            .oneshot(
                Request::builder()
                    .uri(&link)
                    .header(header::COOKIE, &s)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let cd = r.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .expect("an ASCII Content-Disposition")
            .to_string();
        assert!(cd.starts_with("attachment"), "{cd}");
        if a.filename.starts_with("Factura") {
            // RFC 6266: ASCII fallback plus the UTF-8 name.
            assert!(
                cd.contains("filename=\"Factura a_o 2026.pdf\"")
                    && cd.contains("filename*=UTF-8''Factura%20a%C3%B1o%202026.pdf"),
                "{cd}"
            );
        }
        assert_eq!(&r.into_body().collect().await.unwrap().to_bytes()[..], want);
    }

    // Over the per-file limit: refused with the reason, nothing stored.
    let big = vec![0u8; (10 << 20) + 10];
    let before = count().await;
    let r = t
        .post_multipart(
            &url,
            &s,
            None,
            multipart_body(
                &[("csrf", &csrf), ("mode", "note"), ("text", "grande")],
                &[("grande.bin", "application/octet-stream", &big)],
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("10 MB per file"), "{}", r.body);
    // Far over any limit: the body is not read to the end.
    let huge = vec![0u8; 27 << 20];
    let r = t
        .post_multipart(
            &url,
            &s,
            None,
            multipart_body(
                &[("csrf", &csrf), ("mode", "note"), ("text", "enorme")],
                &[("enorme.bin", "application/octet-stream", &huge)],
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.body.contains("Los adjuntos superan"), "{}", r.body);
    assert_eq!(count().await, before);

    // A channel that cannot carry files says so; a note there may.
    let api = inbound(&t.app, "c-att", None).await;
    let api_url = format!("/conversations/{api}/reply");
    let r = t
        .post_multipart(
            &api_url,
            &s,
            None,
            multipart_body(
                &[("csrf", &csrf), ("mode", "reply"), ("text", "hola")],
                &files[..1],
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("cannot carry attachments"), "{}", r.body);
    let r = t
        .post_multipart(
            &api_url,
            &s,
            None,
            multipart_body(
                &[("csrf", &csrf), ("mode", "note"), ("text", "ver adjunto")],
                &files[..1],
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // An empty file input (nothing chosen) is just a reply.
    let r = t
        .post_multipart(
            &api_url,
            &s,
            None,
            multipart_body(
                &[("csrf", &csrf), ("mode", "reply"), ("text", "sin adjuntos")],
                &[("", "application/octet-stream", b"")],
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

/// WhatsApp outside the 24-hour window: the reply box offers the channel's
/// approved templates (only then, and not to auditors); a channel with none
/// says an admin must add them; sending one queues a reply whose text is
/// the template's body; an unknown one is refused naming the configured
/// ones.
#[tokio::test]
async fn whatsapp_template_picker_only_when_the_window_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("atalaya.toml");
    std::fs::write(
        &file,
        "[[channel.whatsapp]]\nname = \"wa\"\nphone_number_id = \"555\"\naccess_token = \"tok\"\n\
         app_secret = \"s\"\nverify_token = \"v\"\nbase_url = \"http://127.0.0.1:9\"\n\
         templates = [{ name = \"seguimiento_pedido\", language = \"es\", body = \"Hola, tenemos novedades de tu caso. ¿Podemos seguir por aquí?\" }, \
         { name = \"order_update\", language = \"en_US\", body = \"Hi, we have news about your case.\" }]\n\n\
         [[channel.whatsapp]]\nname = \"wa2\"\nphone_number_id = \"556\"\naccess_token = \"tok\"\n\
         app_secret = \"s\"\nverify_token = \"v\"\nbase_url = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    let ov = Overrides {
        listen: None,
        data: Some(dir.path().join("d")),
    };
    let cfg = Config::load(Some(&file), std::iter::empty(), &ov).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = App::open(cfg, clock).unwrap();
    for (email, role) in [
        ("admin@x.test", Role::Admin),
        ("audit@x.test", Role::Auditor),
    ] {
        auth::create_user(&app.store, email, "Marta Ruiz", role, "password-123")
            .await
            .unwrap();
    }
    let t = T {
        router: atalaya::web::router(app.clone()),
        app,
        _dir: dir,
    };
    let now = Ts(jiff::Timestamp::now().as_millisecond());
    let wa = |channel: &str, from: &str, ago_ms: i64| atalaya::ingest::InboundMessage {
        channel: channel.into(),
        kind: ChannelKind::Whatsapp,
        external_id: format!("wamid.{from}"),
        thread: Some(format!("wa:{from}")),
        author: atalaya::ingest::AuthorProfile {
            handle: format!("+{from}"),
            name: Some("Olga".into()),
            ..Default::default()
        },
        text: "¿Siguen abiertos?".into(),
        html: None,
        subject: None,
        attachments: vec![],
        public: false,
        sent_at: Some(Ts(now.0 - ago_ms)),
    };
    let hour = 3600 * 1000;
    let closed = t
        .app
        .ingest(wa("wa", "34911222333", 25 * hour))
        .await
        .unwrap()
        .conversation;
    let open = t
        .app
        .ingest(wa("wa", "34600111222", 60_000))
        .await
        .unwrap()
        .conversation;
    let bare = t
        .app
        .ingest(wa("wa2", "34700111222", 30 * hour))
        .await
        .unwrap()
        .conversation;
    let s = t.sign_in("admin@x.test").await;
    let get = |id: ConversationId, cookie: String| {
        let t = &t;
        async move {
            t.req(
                "GET",
                &format!("/conversations/{id}"),
                Some(&cookie),
                None,
                None,
            )
            .await
        }
    };
    let page = get(closed, s.clone()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"wa-window\""), "the warning stays");
    assert!(
        page.body.contains(&format!(
            "action=\"/conversations/{closed}/whatsapp-template"
        )),
        "{}",
        page.body
    );
    assert!(page.body.contains("<option value=\"seguimiento_pedido\">"));
    assert!(page.body.contains("<option value=\"order_update\">"));
    assert!(page.body.contains("Hola, tenemos novedades de tu caso."));
    let page = get(open, s.clone()).await;
    assert!(!page.body.contains("wa-templates") && !page.body.contains("wa-window"));
    let page = get(bare, s.clone()).await;
    assert!(page.body.contains("id=\"wa-templates-none\""));
    assert!(!page.body.contains("whatsapp-template"));
    let audit = t.sign_in("audit@x.test").await;
    let page = get(closed, audit).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("wa-templates"), "auditors cannot send");

    // Send one from the page.
    let page = get(closed, s.clone()).await;
    let csrf = field(&page.body, "csrf");
    let post = |template: &str| {
        let (t, s, csrf) = (&t, s.clone(), csrf.clone());
        let form = format!("csrf={csrf}&template={template}");
        async move {
            t.req(
                "POST",
                &format!("/conversations/{closed}/whatsapp-template?view=all"),
                Some(&s),
                Some(&form),
                None,
            )
            .await
        }
    };
    let r = post("seguimiento_pedido").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let msgs = t
        .app
        .store
        .read(move |r| r.conversation_messages(closed))
        .await
        .unwrap();
    let sent = msgs.last().unwrap();
    assert_eq!(sent.direction, Direction::Out);
    assert_eq!(
        sent.text,
        "Hola, tenemos novedades de tu caso. ¿Podemos seguir por aquí?"
    );
    assert_eq!(sent.delivery, Some(Delivery::Queued));
    let key = atalaya::app::whatsapp::template_key(sent.id);
    let saved = t
        .app
        .store
        .read(move |r| r.cursor::<(String, String)>(&key))
        .await
        .unwrap();
    assert_eq!(
        saved,
        Some(("seguimiento_pedido".to_string(), "es".to_string()))
    );
    // An unknown template: refused, naming the configured ones.
    let r = post("no_existe").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("no_existe") && r.body.contains("seguimiento_pedido, order_update"),
        "{}",
        r.body
    );
    // Without the CSRF token: refused.
    let r = t
        .req(
            "POST",
            &format!("/conversations/{closed}/whatsapp-template"),
            Some(&s),
            Some("template=seguimiento_pedido"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// As maud escapes text.
fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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

async fn user_by_email(app: &App, email: &'static str) -> User {
    app.store
        .read(move |r| r.user_by_email(email))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn the_triage_panel_explains_the_decision() {
    use atalaya::app::Caller;
    let t = setup().await;
    t.app.load_rules().await.unwrap();
    let id = inbound(&t.app, "tr1", None).await;
    let s = t.sign_in("admin@x.test").await;
    let url = format!("/conversations/{id}");
    // Before triage has run: the empty state, and the forms.
    let page = t.req("GET", &url, Some(&s), None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"triage-empty\""), "empty state");
    assert!(page.body.contains("Sin triaje todavía"));
    assert!(
        page.body
            .contains(&format!("action=\"/conversations/{id}/category\""))
    );
    assert!(
        page.body
            .contains(&format!("action=\"/conversations/{id}/tier\""))
    );
    // Triage decides (what the background task does in `serve`).
    while t.app.triage_step().await.unwrap() {}
    let admin = Caller::Staff(user_by_email(&t.app, "admin@x.test").await);
    let rec = t.app.triage_record(&admin, id).await.unwrap();
    assert!(!rec.decision.reasons.is_empty(), "{rec:?}");
    let page = t.req("GET", &url, Some(&s), None, None).await;
    assert!(!page.body.contains("id=\"triage-empty\""));
    assert!(page.body.contains("id=\"triage-why\""));
    for r in &rec.decision.reasons {
        assert!(
            page.body.contains(&escaped(&r.line())),
            "the reason {:?} is shown",
            r.line()
        );
    }
    let c = t
        .app
        .store
        .read(move |r| r.conversation(id))
        .await
        .unwrap()
        .unwrap();
    // The category by its Spanish name, the priority badge, rules version,
    // the first-response due time with its countdown.
    assert_eq!(c.category.as_deref(), Some("billing/double-charge"));
    assert!(page.body.contains("Cobro doble"));
    assert!(page.body.contains(&format!(
        "class=\"prio {}\"",
        c.priority.as_str().to_lowercase()
    )));
    assert!(page.body.contains(&format!("v{}", rec.rules_version)));
    assert!(rec.first_response_due.is_some());
    assert!(page.body.contains("Primera respuesta") && page.body.contains("en "));
    // The timeline has the decision, by "Triaje".
    assert!(
        page.body
            .contains(&format!("Triaje: {} ({})", c.priority.as_str(), c.score)),
        "the Triaged event is in the timeline"
    );
    // In English.
    let r = t
        .req(
            "POST",
            "/account/prefs",
            Some(&s),
            Some(&format!("csrf={}&lang=en&tz=", field(&page.body, "csrf"))),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = t.req("GET", &url, Some(&s), None, None).await;
    assert!(page.body.contains("Double charge") && page.body.contains("Why"));
    // Category by hand, then back to triage.
    let csrf = field(&page.body, "csrf");
    let cat = format!("/conversations/{id}/category");
    let r = t
        .req(
            "POST",
            &cat,
            Some(&s),
            Some(&format!("csrf={csrf}&category=delivery")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = t.req("GET", &url, Some(&s), None, None).await;
    assert!(page.body.contains("set the category to Delivery"));
    assert!(page.body.contains("set by hand"));
    let r = t
        .req(
            "POST",
            &cat,
            Some(&s),
            Some(&format!("csrf={csrf}&category=nope")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "unknown categories");
    let r = t
        .req(
            "POST",
            &cat,
            Some(&s),
            Some(&format!("csrf={csrf}&category=")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = t.req("GET", &url, Some(&s), None, None).await;
    assert!(page.body.contains("left the category to triage"));
    // Auditors see the panel without the forms.
    let a = t.sign_in("audit@x.test").await;
    let page = t.req("GET", &url, Some(&a), None, None).await;
    assert!(page.body.contains("id=\"triage-why\""));
    assert!(
        !page
            .body
            .contains(&format!("action=\"/conversations/{id}/tier\""))
    );
    assert!(t.app.store.verify().unwrap().ok());
}

#[tokio::test]
async fn escalating_needs_a_reason_and_shows_in_the_timeline() {
    let t = setup().await;
    let id = inbound(&t.app, "esc1", None).await;
    let s = t.sign_in("agent@x.test").await;
    let url = format!("/conversations/{id}");
    let page = t.req("GET", &url, Some(&s), None, None).await;
    let csrf = field(&page.body, "csrf");
    let tier_url = format!("/conversations/{id}/tier");
    let r = t
        .req("POST", &tier_url, Some(&s), Some("tier=3&reason=x"), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "the CSRF token is required"
    );
    let r = t
        .req(
            "POST",
            &tier_url,
            Some(&s),
            Some(&format!("csrf={csrf}&tier=3&reason=")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a reason is required");
    let from = t
        .app
        .store
        .read(move |r| r.conversation(id))
        .await
        .unwrap()
        .unwrap()
        .tier;
    let r = t
        .req(
            "POST",
            &tier_url,
            Some(&s),
            Some(&format!(
                "csrf={csrf}&tier=3&reason=cliente+amenaza+con+denunciar"
            )),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let c = t
        .app
        .store
        .read(move |r| r.conversation(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.tier, 3);
    let page = t.req("GET", &url, Some(&s), None, None).await;
    assert!(
        page.body.contains(&format!(
            "Marta Ruiz cambió el nivel {from} → 3: cliente amenaza con denunciar"
        )),
        "the tier change and its reason are in the timeline"
    );
    // Auditors may not.
    let a = t.sign_in("audit@x.test").await;
    let page = t.req("GET", &url, Some(&a), None, None).await;
    let acsrf = field(&page.body, "csrf");
    let r = t
        .req(
            "POST",
            &tier_url,
            Some(&a),
            Some(&format!("csrf={acsrf}&tier=1&reason=no")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(t.app.store.verify().unwrap().ok());
}

#[tokio::test]
async fn held_replies_wait_for_a_supervisor() {
    use atalaya::app::Caller;
    let t = setup().await;
    let admin = Caller::Staff(user_by_email(&t.app, "admin@x.test").await);
    let rules = "[[category]]\nid = \"general\"\nname_es = \"General\"\nname_en = \"General\"\nfirst_response = \"1h\"\nresolution = \"1d\"\n\n[[rule]]\nid = \"hold\"\nname = \"Hold every reply\"\n[rule.then]\napproval = true\n";
    t.app.save_rules(&admin, rules, "").await.unwrap();
    let id = inbound(&t.app, "held1", None).await;
    while t.app.triage_step().await.unwrap() {}
    let g = t.sign_in("agent@x.test").await;
    let url = format!("/conversations/{id}");
    let page = t.req("GET", &url, Some(&g), None, None).await;
    assert!(
        page.body.contains("id=\"needs-approval\""),
        "the badge shows"
    );
    let csrf = field(&page.body, "csrf");
    let r = t
        .req(
            "POST",
            &format!("/conversations/{id}/reply"),
            Some(&g),
            Some(&format!(
                "csrf={csrf}&mode=reply&text=le+devolvemos+el+cobro"
            )),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let msgs = t
        .app
        .store
        .read(move |r| r.conversation_messages(id))
        .await
        .unwrap();
    let held = msgs.last().unwrap().clone();
    assert_eq!(held.delivery, Some(Delivery::AwaitingApproval));
    let review = format!("/conversations/{id}/messages/{}/review", held.id);
    // The agent sees it waiting, without the buttons.
    let page = t.req("GET", &url, Some(&g), None, None).await;
    assert!(page.body.contains("pendiente de aprobación"));
    assert!(!page.body.contains(&format!("action=\"{review}\"")));
    let r = t
        .req(
            "POST",
            &review,
            Some(&g),
            Some(&format!("csrf={csrf}&approve=1")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "agents do not review");
    // The admin rejects it, with a reason.
    let s = t.sign_in("admin@x.test").await;
    let page = t.req("GET", &url, Some(&s), None, None).await;
    assert!(page.body.contains(&format!("action=\"{review}\"")));
    let csrf = field(&page.body, "csrf");
    let r = t
        .req(
            "POST",
            &review,
            Some(&s),
            Some(&format!("csrf={csrf}&approve=0&reason=")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a rejection says why");
    let r = t
        .req(
            "POST",
            &review,
            Some(&s),
            Some(&format!("csrf={csrf}&approve=0&reason=tono+inadecuado")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = t.req("GET", &url, Some(&s), None, None).await;
    assert!(page.body.contains("rechazó una respuesta: tono inadecuado"));
    assert!(!page.body.contains(&format!("action=\"{review}\"")));
    assert!(t.app.store.verify().unwrap().ok());
}

#[tokio::test]
async fn triage_rules_editor_saves_simulates_and_restores() {
    let t = setup().await;
    t.app.load_rules().await.unwrap();
    let a = t.sign_in("agent@x.test").await;
    assert_eq!(
        t.req("GET", "/admin/triage", Some(&a), None, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let s = t.sign_in("admin@x.test").await;
    let page = t.req("GET", "/admin/triage", Some(&s), None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("href=\"/admin/triage\""),
        "linked from the menu"
    );
    assert!(page.body.contains("id=\"rules-toml\""));
    assert!(page.body.contains("Cobro doble"), "the category tree");
    assert!(page.body.contains("cobro doble"), "the rules' phrases");
    let csrf = field(&page.body, "csrf");
    // The agent's CSRF-valid post is refused too.
    let agent_page = t.req("GET", "/inbox", Some(&a), None, None).await;
    let acsrf = field(&agent_page.body, "csrf");
    let r = t
        .req(
            "POST",
            "/admin/triage",
            Some(&a),
            Some(&format!("csrf={acsrf}&toml=base_score+%3D+1")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // No CSRF token: refused.
    let r = t
        .req(
            "POST",
            "/admin/triage",
            Some(&s),
            Some("toml=base_score+%3D+1"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A syntax error: the error names the line and the text is kept.
    let broken = "base_score = 20\n\n[[rule]\nid = \"x\"\n";
    let r = t
        .req(
            "POST",
            "/admin/triage",
            Some(&s),
            Some(&format!(
                "csrf={csrf}&note=prueba&toml={}",
                form_encode(broken)
            )),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("id=\"rules-flash\""), "{}", r.body);
    assert!(r.body.contains("line 3"), "names the line");
    assert!(r.body.contains(&escaped(broken)), "the text is kept");
    // Simulate an edit over recent traffic.
    let id = inbound(&t.app, "sim1", None).await;
    while t.app.triage_step().await.unwrap() {}
    let edited =
        atalaya::triage::presets::PRESETS_TOML.replacen("base_score = 20", "base_score = 90", 1);
    assert_ne!(edited, atalaya::triage::presets::PRESETS_TOML);
    let r = t
        .req(
            "POST",
            "/admin/triage/simulate",
            Some(&s),
            Some(&format!("csrf={csrf}&days=7&toml={}", form_encode(&edited))),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"sim-results\""));
    assert!(r.body.contains("<progress"), "the bars");
    assert!(r.body.contains("base_score = 90"), "the text is kept");
    assert!(r.body.contains(&format!("href=\"/conversations/{id}\"")));
    // Save it: a new version.
    let r = t
        .req(
            "POST",
            "/admin/triage",
            Some(&s),
            Some(&format!(
                "csrf={csrf}&note=m%C3%A1s+urgente&toml={}",
                form_encode(&edited)
            )),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers[header::LOCATION], "/admin/triage?saved=2");
    let page = t
        .req("GET", "/admin/triage?saved=2", Some(&s), None, None)
        .await;
    assert!(page.body.contains("Reglas guardadas: versión 2"));
    assert!(page.body.contains("más urgente"));
    assert!(page.body.contains("base_score = 90"));
    assert!(page.body.contains("/admin/triage/versions/1/restore"));
    // Restore the presets.
    let r = t
        .req(
            "POST",
            "/admin/triage/versions/1/restore",
            Some(&s),
            Some(&format!("csrf={csrf}")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/admin/triage?restored=3");
    assert_eq!(t.app.triage.active().version, 3);
    assert!(t.app.store.verify().unwrap().ok());
}

#[tokio::test]
async fn availability_from_the_top_bar() {
    let t = setup().await;
    let s = t.sign_in("agent@x.test").await;
    let page = t.req("GET", "/inbox", Some(&s), None, None).await;
    assert!(page.body.contains("id=\"availability\""));
    assert!(
        page.body.contains("value=\"online\" selected"),
        "signing in makes one available"
    );
    let csrf = field(&page.body, "csrf");
    let r = t
        .req(
            "POST",
            "/account/availability",
            Some(&s),
            Some("availability=away"),
            None,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "the CSRF token is required"
    );
    // A plain form goes back where it came from (on this site only).
    let resp = t
        .router
        .clone()
        .oneshot(
            Request::builder()
                .method("POST")
                .uri("/account/availability")
                .header("host", "inbox.test")
                .header(header::COOKIE, &s)
                .header(header::REFERER, "http://inbox.test/inbox?view=mine")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("csrf={csrf}&availability=away")))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[header::LOCATION], "/inbox?view=mine");
    let page = t.req("GET", "/inbox", Some(&s), None, None).await;
    assert!(page.body.contains("value=\"away\" selected"));
    assert!(!page.body.contains("value=\"online\" selected"));
    let agent = user_by_email(&t.app, "agent@x.test").await;
    assert_eq!(
        t.app.agent_profile(agent.id).await.unwrap().availability,
        atalaya::triage::Availability::Away
    );
    // A foreign Referer goes to the inbox; htmx gets the switch back.
    let resp = t
        .router
        .clone()
        .oneshot(
            Request::builder()
                .method("POST")
                .uri("/account/availability")
                .header("host", "inbox.test")
                .header(header::COOKIE, &s)
                .header(header::REFERER, "https://evil.test/x")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("csrf={csrf}&availability=offline")))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.headers()[header::LOCATION], "/inbox");
    let resp = t
        .router
        .clone()
        .oneshot(
            Request::builder()
                .method("POST")
                .uri("/account/availability")
                .header("host", "inbox.test")
                .header(header::COOKIE, &s)
                .header("hx-request", "true")
                .header("x-csrf-token", &csrf)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("availability=online"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body =
        String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned();
    assert!(body.starts_with("<form class=\"avail\""), "{body}");
    assert!(body.contains("value=\"online\" selected"));
    // Auditors have no switch and may not set one.
    let a = t.sign_in("audit@x.test").await;
    let page = t.req("GET", "/inbox", Some(&a), None, None).await;
    assert!(!page.body.contains("id=\"availability\""));
    let acsrf = field(&page.body, "csrf");
    let r = t
        .req(
            "POST",
            "/account/availability",
            Some(&a),
            Some(&format!("csrf={acsrf}&availability=online")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn agents_and_team_routing_admin() {
    let t = setup().await;
    let g = t.sign_in("agent@x.test").await;
    assert_eq!(
        t.req("GET", "/admin/agents", Some(&g), None, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let s = t.sign_in("admin@x.test").await;
    let page = t.req("GET", "/admin/agents", Some(&s), None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let agent = user_by_email(&t.app, "agent@x.test").await;
    assert!(page.body.contains(&format!("id=\"agent-{}\"", agent.id)));
    assert!(page.body.contains("En línea"), "availability shows");
    let csrf = field(&page.body, "csrf");
    let url = format!("/admin/agents/{}", agent.id);
    let r = t
        .req(
            "POST",
            &url,
            Some(&s),
            Some(&format!("csrf={csrf}&tier=4&skills=&languages=&capacity=")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t
        .req(
            "POST",
            &url,
            Some(&s),
            Some(&format!(
                "csrf={csrf}&tier=2&skills=Billing%2C+outage&languages=es%2Cen&capacity=7"
            )),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let u = user_by_email(&t.app, "agent@x.test").await;
    assert_eq!(
        (u.tier, u.skills.clone()),
        (2, vec!["billing".to_string(), "outage".into()])
    );
    assert_eq!(u.languages, ["en", "es"]);
    assert_eq!(t.app.agent_profile(u.id).await.unwrap().capacity, Some(7));
    let page = t
        .req("GET", "/admin/agents?saved=1", Some(&s), None, None)
        .await;
    assert!(page.body.contains("billing, outage"));
    // Team routing strategy.
    use atalaya::app::Caller;
    let admin = Caller::Staff(user_by_email(&t.app, "admin@x.test").await);
    let team = t.app.create_team(&admin, "Soporte").await.unwrap().id;
    let page = t.req("GET", "/admin/teams", Some(&s), None, None).await;
    assert!(page.body.contains(&format!("/admin/teams/{team}/routing")));
    assert!(page.body.contains("value=\"best_match\" selected"));
    let r = t
        .req(
            "POST",
            &format!("/admin/teams/{team}/routing"),
            Some(&s),
            Some(&format!("csrf={csrf}&strategy=round_robin")),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        t.app.team_strategies().await.unwrap()[&team],
        atalaya::triage::Strategy::RoundRobin
    );
    let page = t.req("GET", "/admin/teams", Some(&s), None, None).await;
    assert!(page.body.contains("value=\"round_robin\" selected"));
    assert!(page.body.contains("Por turnos"));
}
