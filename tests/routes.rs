//! Every route is registered with a declared access level (`web::routes`);
//! this walks the whole table and checks that each route, called without
//! credentials, refuses exactly as its level says. A route added without a
//! level does not compile; one whose level is wrong fails here.

use atalaya::app::App;
use atalaya::config::{Config, Overrides};
use atalaya::domain::*;
use atalaya::web::routes::Access;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use std::sync::Arc;
use tower::ServiceExt;

#[tokio::test]
async fn every_route_enforces_its_declared_access() {
    let dir = tempfile::tempdir().unwrap();
    let ov = Overrides {
        listen: None,
        data: Some(dir.path().join("d")),
    };
    let cfg = Config::load(None, std::iter::empty(), &ov).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = App::open(cfg, clock).unwrap();
    let router = atalaya::web::router(app);
    let table = atalaya::web::route_table();
    assert!(
        table.len() >= 30,
        "the table lists every route ({})",
        table.len()
    );
    let mut seen = std::collections::HashSet::new();
    for r in &table {
        assert!(
            seen.insert((r.method, r.path.clone())),
            "{} {} registered twice",
            r.method,
            r.path
        );
        // Policy: the JSON API takes bearer tokens, pages take sessions.
        if r.path.starts_with("/api/v1/") && r.path != "/api/v1/login" {
            assert_eq!(r.access, Access::Bearer, "{} {}", r.method, r.path);
        }
        if [
            "/inbox",
            "/conversations",
            "/canned",
            "/events",
            "/account",
            "/admin",
            "/jobs",
        ]
        .iter()
        .any(|p| r.path.starts_with(p))
        {
            assert_eq!(r.access, Access::Session, "{} {}", r.method, r.path);
        }
        // The survey link is the customer's capability: no session.
        if r.path.starts_with("/survey/") {
            assert_eq!(r.access, Access::Public, "{} {}", r.method, r.path);
        }
        let uri = r
            .path
            .replace("{id}", "1")
            .replace("{mid}", "1")
            .replace("{v}", "1")
            .replace("{version}", "1")
            .replace("{*path}", "app.css")
            .replace("{channel}", "shop")
            .replace("{token}", "no-such-token");
        let body = if matches!(r.method, "POST" | "PUT") {
            "{}"
        } else {
            ""
        };
        let req = Request::builder()
            .method(r.method)
            .uri(&uri)
            .header(header::HOST, "inbox.test")
            .header(
                header::CONTENT_TYPE,
                if r.path.starts_with("/api/") || r.path.starts_with("/widget/") {
                    "application/json"
                } else {
                    "application/x-www-form-urlencoded"
                },
            )
            .body(Body::from(body))
            .unwrap();
        let resp = router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let what = format!(
            "{} {} ({:?}) answered {status} {location}",
            r.method, r.path, r.access
        );
        match r.access {
            Access::Bearer | Access::Visitor => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}")
            }
            Access::Session => {
                assert_eq!(status, StatusCode::SEE_OTHER, "{what}");
                assert!(location.starts_with("/login?next="), "{what}");
            }
            // An unsigned delivery is refused; a subscription without the
            // verify token too.
            Access::Signed if r.method == "POST" => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}")
            }
            Access::Signed => assert_eq!(status, StatusCode::FORBIDDEN, "{what}"),
            // An unknown survey link is a 404 page, without asking to sign in.
            Access::Public if r.path.starts_with("/survey/") => {
                assert_eq!(status, StatusCode::NOT_FOUND, "{what}");
                assert!(!location.starts_with("/login?"), "{what}");
            }
            Access::Public => {
                assert!(
                    status != StatusCode::UNAUTHORIZED && !location.starts_with("/login?"),
                    "{what}"
                );
                assert!(
                    status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                    "{what}"
                );
            }
        }
    }
}
