//! The website chat widget: its script and the visitor endpoints. Only the
//! configured origins (and the server's own) may call them, with CORS.

use super::extract::{ClientIp, JsonBody, bearer};
use super::routes::{Access, Routes};
use super::{AppState, WebError};
use crate::app::widget::Visitor;
use crate::config::normalize_origin;
use crate::domain::*;
use axum::Json;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;

pub fn routes() -> Routes {
    use Access::*;
    let api = Routes::default()
        .post("/widget/v1/sessions", Public, start)
        .options("/widget/v1/sessions", Public, preflight)
        .post("/widget/v1/messages", Visitor, send)
        .get("/widget/v1/messages", Visitor, history)
        .options("/widget/v1/messages", Public, preflight)
        .get("/widget/v1/stream", Visitor, stream)
        .map(|r| r.layer(axum::middleware::from_fn_with_state((), cors)));
    Routes::default()
        .get("/widget.js", Public, script)
        .get("/widget/demo", Public, demo)
        .merge(api)
}

async fn script() -> Response {
    super::assets::serve("widget.js", 300)
}

/// A page that embeds the widget, to try it on the server itself.
async fn demo(State(app): State<AppState>) -> Response {
    let channel = app
        .config
        .channel
        .webchat
        .first()
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let name = maud::html! { (app.config.business.name) };
    let page = format!(
        "<!doctype html><html lang=\"es\"><head><meta charset=\"utf-8\"><title>{} — chat</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body style=\"font-family:system-ui;margin:3rem\"><h1>{}</h1><p>Demo page: the chat button is at the bottom right.</p>\
         <script src=\"/widget.js\" data-channel=\"{}\" async></script></body></html>",
        name.0, name.0, channel
    );
    let mut resp = Html(page).into_response();
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'"),
    );
    resp
}

/// Check a browser's `Origin` (requests without one pass: they are not from
/// a page). The server's own origin is always allowed; otherwise the origin
/// must be listed by `channel`, or by any webchat channel when `None` (a CORS
/// preflight does not say which channel it is for).
fn check_origin(
    app: &AppState,
    headers: &HeaderMap,
    channel: Option<&str>,
) -> Result<(), WebError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let norm = normalize_origin(origin).unwrap_or_default();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let own = [format!("http://{host}"), format!("https://{host}")];
    let listed = app
        .config
        .channel
        .webchat
        .iter()
        .filter(|c| channel.is_none_or(|name| c.name == name))
        .flat_map(|c| c.allowed_origins.iter())
        .any(|o| *o == norm);
    if listed || own.contains(&norm) {
        Ok(())
    } else {
        let what = channel
            .map(|c| format!("channel {c}"))
            .unwrap_or_else(|| "this chat".into());
        Err(WebError::new(
            StatusCode::FORBIDDEN,
            format!("origin {origin} may not use {what}"),
        ))
    }
}

async fn cors(State(()): State<()>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut resp = next.run(req).await;
    if let Some(o) = origin
        && resp.status() != StatusCode::FORBIDDEN
    {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

async fn preflight(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    check_origin(&app, &headers, None)?;
    Ok((
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "authorization, content-type",
            ),
            (header::ACCESS_CONTROL_MAX_AGE, "600"),
        ],
    )
        .into_response())
}

#[derive(Deserialize)]
struct StartReq {
    #[serde(default = "default_channel")]
    channel: String,
    name: String,
    email: Option<String>,
}

fn default_channel() -> String {
    "webchat".into()
}

async fn start(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    JsonBody(req): JsonBody<StartReq>,
) -> Result<Response, WebError> {
    check_origin(&app, &headers, Some(&req.channel))?;
    let per_minute = app
        .config
        .webchat_channel(&req.channel)
        .map(|c| c.sessions_per_minute)
        .unwrap_or(10);
    if !app
        .rate
        .allow(&format!("widget-session:{ip}"), per_minute, app.clock.now())
    {
        return Err(WebError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many new chats from this address; wait a minute",
        ));
    }
    let (token, visitor) = app
        .widget_start(&req.channel, &req.name, req.email.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": token, "visitor_id": visitor.0.to_string() })),
    )
        .into_response())
}

async fn visitor(
    app: &AppState,
    headers: &HeaderMap,
    token: Option<String>,
) -> Result<Visitor, WebError> {
    let token =
        token.ok_or_else(|| WebError::new(StatusCode::UNAUTHORIZED, "send the visitor token"))?;
    let v = app.widget_visitor(&token).await?;
    check_origin(app, headers, Some(&v.channel))?;
    Ok(v)
}

#[derive(Deserialize)]
struct SendReq {
    text: String,
    client_id: Option<String>,
}

/// The visitor of the `Authorization: Bearer` token, checked before the body
/// is read.
struct VisitorAuth(Visitor);

impl axum::extract::FromRequestParts<AppState> for VisitorAuth {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &AppState,
    ) -> Result<Self, WebError> {
        let token = bearer(parts);
        visitor(app, &parts.headers, token).await.map(VisitorAuth)
    }
}

async fn send(
    State(app): State<AppState>,
    VisitorAuth(v): VisitorAuth,
    JsonBody(req): JsonBody<SendReq>,
) -> Result<Response, WebError> {
    let out = app
        .widget_send(&v, &req.text, req.client_id.as_deref())
        .await?;
    let body = json!({ "message_id": out.message.0, "conversation_id": out.conversation.0 });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn widget_message(m: &Message) -> Value {
    json!({
        "id": m.id.0,
        "direction": m.direction.as_str(),
        "text": m.text,
        "author": m.author_name,
        "sent_at": m.sent_at.rfc3339(),
    })
}

fn after_param(q: &HashMap<String, String>) -> Result<u64, WebError> {
    match q.get("after") {
        None => Ok(0),
        Some(a) => a
            .parse()
            .map_err(|_| WebError::bad_request(format!("after {a:?} is not a message id"))),
    }
}

async fn history(
    State(app): State<AppState>,
    VisitorAuth(v): VisitorAuth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, WebError> {
    let msgs = app.widget_messages(&v, after_param(&q)?).await?;
    Ok(Json(
        json!({ "messages": msgs.iter().map(widget_message).collect::<Vec<_>>() }),
    ))
}

/// New messages of the visitor's conversation as Server-Sent Events. The
/// token comes in the query because `EventSource` cannot set headers.
async fn stream(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let v = visitor(&app, &headers, q.get("token").cloned()).await?;
    // Subscribe before reading the newest id, so nothing written in between is missed.
    let rx = app.store.subscribe();
    let resume = headers
        .get("last-event-id")
        .and_then(|h| h.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok());
    let start = match resume.unwrap_or(after_param(&q)?) {
        0 => app
            .widget_messages(&v, 0)
            .await?
            .last()
            .map(|m| m.id.0)
            .unwrap_or(0),
        n => n,
    };
    let state = (app, v, start, rx);
    let events = futures_util::stream::unfold(state, |(app, v, mut last, mut rx)| async move {
        if rx.changed().await.is_err() {
            return None;
        }
        let msgs = app.widget_messages(&v, last).await.unwrap_or_default();
        if let Some(m) = msgs.last() {
            last = m.id.0;
        }
        let events: Vec<Result<Event, Infallible>> = msgs
            .iter()
            .map(|m| {
                Ok(Event::default()
                    .event("message")
                    .id(m.id.0.to_string())
                    .data(widget_message(m).to_string()))
            })
            .collect();
        Some((futures_util::stream::iter(events), (app, v, last, rx)))
    })
    .flatten();
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}
