//! The only module that imports axum/hyper/maud (DESIGN invariant 4).
//! Handlers stay thin: extract, call an `app` operation, render.

mod api;
mod api_hours;
mod api_triage;
mod assets;
pub mod demo;
mod error;
mod extract;
mod health;
pub mod i18n;
mod pages;
pub mod routes;
pub mod server;
mod session;
mod views;
mod webhooks;
mod widget;

pub use error::WebError;

use crate::app::App;
use axum::Router;
use std::sync::Arc;

pub type AppState = Arc<App>;

/// Percent-encode a URL query value (RFC 3986 unreserved characters kept).
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
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

/// Every route of the server. Public routes: `/healthz`, `/metrics`,
/// `/api/v1/login`, the widget script and its visitor endpoints (which use
/// their own visitor tokens); every other route requires a token.
pub fn router(app: Arc<App>) -> Router {
    let max_body = app.config.server.max_body_bytes;
    let (router, _) = all_routes().finish();
    router
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            count_requests,
        ))
        .with_state(app)
}

fn all_routes() -> routes::Routes {
    health::routes()
        .nest("/api/v1", api::routes())
        .merge(widget::routes())
        .merge(webhooks::routes())
        .merge(pages::routes())
}

/// Every route with its declared access level (for the access test).
pub fn route_table() -> Vec<routes::RouteInfo> {
    all_routes().finish().1
}

async fn count_requests(
    axum::extract::State(app): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    app.metrics.http_requests.inc();
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        "x-content-type-options",
        axum::http::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "referrer-policy",
        axum::http::HeaderValue::from_static("same-origin"),
    );
    resp
}
