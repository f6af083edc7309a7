//! Browser sessions: cookies, the signed-in page context, CSRF (a token per
//! session on every form, plus an Origin check) and the per-request CSP nonce.

use super::AppState;
use super::i18n::Lang;
use crate::domain::{Prefs, User};
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;

pub const SESSION_COOKIE: &str = "atalaya_session";
pub const LOGIN_COOKIE: &str = "atalaya_login";

/// The CSP nonce of this request (set by `security_headers`).
#[derive(Clone, Debug)]
pub struct Nonce(pub String);

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';').find_map(|kv| {
                let (k, val) = kv.trim().split_once('=')?;
                (k == name).then(|| val.to_string())
            })
        })
}

/// `Set-Cookie` for a session-scoped secret: HttpOnly, SameSite=Strict, and
/// Secure when served over TLS. `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Adds the security headers to every page, with a fresh nonce in the CSP.
pub async fn security_headers(mut req: Request, next: Next) -> Response {
    let nonce = super::super::app::auth::new_token().0[..22].to_string();
    req.extensions_mut().insert(Nonce(nonce.clone()));
    let mut resp = next.run(req).await;
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A signed-in staff member's request.
pub struct Session {
    /// The newest durable event when the request came in: the page's live
    /// updates resume after it, so nothing saved meanwhile is missed.
    pub seq: u64,
    pub user: User,
    pub csrf: String,
    pub token: String,
    pub lang: Lang,
    pub nonce: String,
    pub prefs: Prefs,
    /// The staff member's availability for the top bar; read only for
    /// requests that render a whole page (not htmx fragments, heartbeats or
    /// the event stream) and never for auditors.
    pub availability: Option<crate::triage::Availability>,
}

/// Whether a request may render a whole page (with the top bar): not an
/// htmx fragment, and a browser navigation (`Accept: text/html`) or a
/// client that does not say.
fn wants_page(headers: &HeaderMap) -> bool {
    !headers.contains_key("hx-request")
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|a| a.contains("text/html"))
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let to_login = || {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/inbox");
            let target = format!("/login?next={}", urlencode(next));
            if parts.headers.contains_key("hx-request") {
                // htmx follows this header with a full page load.
                let mut r = StatusCode::UNAUTHORIZED.into_response();
                if let Ok(v) = HeaderValue::from_str(&target) {
                    r.headers_mut().insert("hx-redirect", v);
                }
                r
            } else {
                Redirect::to(&target).into_response()
            }
        };
        let seq = app.store.committed_seq();
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        let (user, csrf, prefs) = match app.session(&token).await {
            Ok(x) => x,
            Err(crate::app::AppError::Unavailable(_)) => {
                return Err(
                    (StatusCode::SERVICE_UNAVAILABLE, "storage is unavailable").into_response()
                );
            }
            Err(_) => return Err(to_login()),
        };
        let nonce = parts
            .extensions
            .get::<Nonce>()
            .map(|n| n.0.clone())
            .unwrap_or_default();
        let availability =
            if user.role != crate::domain::Role::Auditor && wants_page(&parts.headers) {
                app.agent_profile(user.id)
                    .await
                    .ok()
                    .map(|p| p.availability)
            } else {
                None
            };
        Ok(Session {
            seq,
            user,
            csrf,
            token,
            lang: match prefs.lang.as_deref() {
                Some("es") => Lang::Es,
                Some("en") => Lang::En,
                _ => Lang::from_headers(&parts.headers),
            },
            nonce,
            prefs,
            availability,
        })
    }
}

/// Why a form was refused.
#[derive(Debug)]
pub enum Refused {
    /// Missing or wrong CSRF token.
    Expired(Lang),
    /// The Origin is another site.
    CrossOrigin,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Expired(lang) => forbidden_form(lang),
            Refused::CrossOrigin => {
                (StatusCode::FORBIDDEN, "cross-origin request refused").into_response()
            }
        }
    }
}

impl Session {
    /// Check the CSRF token of a form (or the `X-CSRF-Token` header htmx
    /// sends) and the request's Origin.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
    ) -> Result<(), Refused> {
        check_origin(headers)?;
        let sent = form
            .get("csrf")
            .cloned()
            .or_else(|| {
                headers
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        if sent.is_empty() || !crate::app::auth::constant_eq(&sent, &self.csrf) {
            return Err(Refused::Expired(self.lang));
        }
        Ok(())
    }
}

pub fn forbidden_form(lang: Lang) -> Response {
    (
        StatusCode::FORBIDDEN,
        super::i18n::t(lang, super::i18n::T::FormExpired),
    )
        .into_response()
}

/// A state-changing request must come from our own pages: its Origin (when
/// the browser sends one) must be this server.
pub fn check_origin(headers: &HeaderMap) -> Result<(), Refused> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        == Some(host);
    if ok {
        Ok(())
    } else {
        Err(Refused::CrossOrigin)
    }
}

/// Percent-encode for a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Only local paths are followed after login (no open redirect).
pub fn safe_next(next: Option<&String>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.clone(),
        _ => "/inbox".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_origins_and_redirects() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; atalaya_session=tok; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
        let c = set_cookie("x", "y", 60, true).to_str().unwrap().to_string();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        h.insert(header::HOST, "inbox.example".parse().unwrap());
        h.insert(header::ORIGIN, "https://inbox.example".parse().unwrap());
        assert!(check_origin(&h).is_ok());
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(check_origin(&h).is_err());
        assert_eq!(safe_next(Some(&"//evil.example".into())), "/inbox");
        assert_eq!(safe_next(Some(&"https://evil.example".into())), "/inbox");
        assert_eq!(
            safe_next(Some(&"/conversations/4".into())),
            "/conversations/4"
        );
        assert_eq!(urlencode("/a b?c=d"), "/a%20b%3Fc%3Dd");
    }
}
