//! Extractors whose failures are JSON 4xx errors, never 5xx.

use super::{AppState, WebError};
use crate::app::Caller;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};

/// A JSON body; a parse error names the problem (field, line, column).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                WebError::new(
                    e.status(),
                    format!("cannot read the request body: {}", e.body_text()),
                )
            })?;
        if bytes.is_empty() {
            return Err(WebError::bad_request(
                "the request body is empty; send JSON",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| WebError::bad_request(format!("invalid JSON: {e}")))
    }
}

/// The bearer token's caller.
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, WebError> {
        let token = bearer(parts).ok_or_else(|| {
            WebError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "send Authorization: Bearer TOKEN (from POST /api/v1/login)",
            )
        })?;
        Ok(Auth(app.authenticate(&token).await?))
    }
}

pub fn bearer(parts: &Parts) -> Option<String> {
    let v = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_string())
}

/// The client's address: the TCP peer, or `X-Forwarded-For` only when the
/// peer is a configured trusted proxy.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, WebError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if app.config.server.trusted_proxies.contains(&peer) {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|ip| ip.trim().parse().ok());
            if let Some(ip) = forwarded {
                return Ok(ClientIp(ip));
            }
        }
        Ok(ClientIp(peer))
    }
}

/// A numeric id from the path; anything else is a 404 naming it.
pub fn parse_id(raw: &str, what: &str) -> Result<u64, WebError> {
    raw.parse::<u64>().map_err(|_| {
        WebError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("no {what} {raw:?}"),
        )
    })
}
