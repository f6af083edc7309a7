//! Webhooks of the social networks (`/webhooks/{channel}`): the `hub.challenge`
//! subscription check and signed deliveries. The connector verifies and
//! parses; nothing is stored from a delivery whose signature is wrong.

use super::routes::{Access, Routes};
use super::{AppState, WebError};
use crate::channels::social::WebhookError;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

pub fn routes() -> Routes {
    Routes::default()
        .get("/webhooks/{channel}", Access::Signed, verify)
        .post("/webhooks/{channel}", Access::Signed, deliver)
}

async fn verify(
    State(app): State<AppState>,
    Path(channel): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    match app.connector(&channel).and_then(|c| c.verify_webhook(&q)) {
        Some(challenge) => (StatusCode::OK, challenge).into_response(),
        None => WebError::new(
            StatusCode::FORBIDDEN,
            "unknown channel or wrong verify token",
        )
        .into_response(),
    }
}

async fn deliver(
    State(app): State<AppState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let unsigned = || {
        WebError::new(StatusCode::UNAUTHORIZED, "unknown channel or bad signature").into_response()
    };
    let Some(conn) = app.connector(&channel) else {
        return unsigned();
    };
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    match conn.webhook(&headers, &body) {
        // Disabled by an admin: nothing is stored; the network redelivers
        // later (Meta retries failed deliveries for days).
        Ok(_) if app.channel_disabled(&channel) => {
            let mut r = WebError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "this channel is disabled; deliver again later",
            )
            .into_response();
            r.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("300"));
            r
        }
        Ok(out) => match app.store_social(&channel, out.polled).await {
            Ok(_) => (StatusCode::OK, "ok").into_response(),
            Err(e) => WebError::from(e).into_response(),
        },
        Err(WebhookError::BadSignature) | Err(WebhookError::Unsupported) => unsigned(),
        Err(WebhookError::Invalid(e)) => WebError::new(StatusCode::BAD_REQUEST, e).into_response(),
    }
}
