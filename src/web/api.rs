//! The JSON API under `/api/v1` (CONTRACT.md).

use super::extract::{Auth, ClientIp, JsonBody, parse_id};
use super::routes::{Access, Routes};
use super::{AppState, WebError};
use crate::app::conversations::{ConversationView, ListQuery};
use crate::app::inbound::InboundRequest;
use crate::app::perm::Perm;
use crate::domain::*;
use crate::store::Sort;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

pub fn routes() -> Routes {
    use Access::*;
    Routes::default()
        .post("/login", Public, login)
        .post("/inbound", Bearer, inbound)
        .get("/conversations", Bearer, list)
        .get("/conversations/{id}", Bearer, detail)
        .post(
            "/conversations/{id}/messages",
            Bearer,
            // Room for the attachments' base64 (4/3 of their size).
            reply.layer(axum::extract::DefaultBodyLimit::max(MAX_REPLY_JSON_BYTES)),
        )
        .post("/conversations/{id}/status", Bearer, status)
        .post("/conversations/{id}/assign", Bearer, assign)
        .post("/conversations/{id}/tags", Bearer, tags)
        .post("/conversations/{id}/priority", Bearer, priority)
        .get("/admin/workers", Bearer, workers)
        .get("/search", Bearer, super::pages::search_api)
        .get("/stream", Bearer, stream)
        .post("/stream/{id}/{action}", Bearer, stream_resolve)
        .get("/admin/quarantine", Bearer, quarantine)
        .post(
            "/admin/quarantine/{id}/{action}",
            Bearer,
            quarantine_resolve,
        )
        .merge(super::api_triage::routes())
        .merge(super::api_hours::routes())
        .map(|r| r.fallback(|| async { WebError::new(StatusCode::NOT_FOUND, "no such API route") }))
}

#[derive(Deserialize)]
struct LoginReq {
    email: String,
    password: String,
}

async fn login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(req): JsonBody<LoginReq>,
) -> Result<Json<Value>, WebError> {
    if !app.allow_login(ip) {
        return Err(WebError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many login attempts; wait a minute",
        ));
    }
    let token = app
        .login(&req.email, &req.password)
        .await
        .map_err(|e| match e {
            crate::app::AppError::Unauthorized => {
                WebError::new(StatusCode::UNAUTHORIZED, "wrong email or password")
            }
            e => e.into(),
        })?;
    Ok(Json(json!({ "token": token })))
}

async fn inbound(
    State(app): State<AppState>,
    Auth(caller): Auth,
    JsonBody(req): JsonBody<InboundRequest>,
) -> Result<Response, WebError> {
    let out = app.inbound(&caller, req).await?;
    let status = if out.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let body = json!({
        "message_id": out.message.0,
        "conversation_id": out.conversation.0,
        "duplicate": out.duplicate,
    });
    Ok((status, Json(body)).into_response())
}

fn conversation_json(v: &ConversationView) -> Value {
    let c = &v.conv;
    json!({
        "id": c.id.0,
        "status": c.status.as_str(),
        "priority": c.priority.as_str(),
        "score": c.score,
        "tier": c.tier,
        "category": c.category,
        "assignee": v.assignee.as_ref().map(|u| json!({"id": u.id.0, "name": u.name, "email": u.email})),
        "team": v.team.as_ref().map(|t| json!({"id": t.id.0, "name": t.name})),
        "channel": c.channel,
        "contact": {
            "id": c.contact.0,
            "name": v.contact.as_ref().map(|x| x.name.clone()),
            "handle": v.identity.as_ref().map(|i| i.handle.clone()),
        },
        "subject": c.subject,
        "tags": c.tags,
        "public": c.public,
        "snippet": c.last_snippet,
        "message_count": c.message_count,
        "created_at": c.created_at.rfc3339(),
        "last_message_at": c.last_message_at.rfc3339(),
        "waiting_since": c.waiting_since.map(Ts::rfc3339),
        "first_response_at": c.first_response_at.map(Ts::rfc3339),
        "resolved_at": c.resolved_at.map(Ts::rfc3339),
        "snoozed_until": c.snoozed_until.map(Ts::rfc3339),
        "sla_due_at": c.sla_due_at.map(Ts::rfc3339),
    })
}

fn message_json(m: &Message) -> Value {
    json!({
        "id": m.id.0,
        "direction": m.direction.as_str(),
        "text": m.text,
        "html": m.html,
        "author": m.author_name,
        "public": m.public,
        "external_id": m.external_id,
        "sent_at": m.sent_at.rfc3339(),
        "delivery": m.delivery.map(Delivery::as_str),
        "delivery_detail": m.delivery_detail,
        "attachments": m.attachments.iter().map(|a| json!({
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
            "sha256": a.sha256,
        })).collect::<Vec<_>>(),
    })
}

async fn list(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, WebError> {
    let status = match q.get("status").map(String::as_str) {
        None | Some("open") => Some(Status::Open),
        Some("all") => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            WebError::bad_request(format!(
                "status {s:?} is not one of open, pending, snoozed, resolved, all"
            ))
        })?),
    };
    let sort = match q.get("sort") {
        None => Sort::Priority,
        Some(s) => Sort::parse(s).ok_or_else(|| {
            WebError::bad_request(format!("sort {s:?} is not one of priority, newest, oldest"))
        })?,
    };
    let limit = match q.get("limit") {
        None => 50,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| {
                WebError::bad_request(format!("limit {l:?} is not a number from 1 to 200"))
            })?,
    };
    let cursor = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            hex::decode(c)
                .map_err(|_| WebError::bad_request(format!("cursor {c:?} is not valid")))?,
        ),
    };
    let page = app
        .list_conversations(
            &caller,
            ListQuery {
                status,
                sort,
                limit,
                cursor,
            },
        )
        .await?;
    let items: Vec<Value> = page.items.iter().map(conversation_json).collect();
    Ok(Json(
        json!({ "items": items, "next_cursor": page.next_cursor }),
    ))
}

async fn detail(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path(raw): Path<String>,
) -> Result<Json<Value>, WebError> {
    let id = ConversationId(parse_id(&raw, "conversation")?);
    // The decision first: the conversation read after it is at least as
    // new (both are written in one transaction), so they agree.
    let rec = app.triage_record(&caller, id).await?;
    let d = app.conversation(&caller, id).await?;
    let mut v = conversation_json(&d.view);
    v["messages"] = Value::Array(d.messages.iter().map(message_json).collect());
    let routed = match rec.routed_to {
        Some(u) => app.store.read(move |r| r.user(u)).await.ok().flatten(),
        None => None,
    };
    v["triage"] = super::api_triage::triage_json(&d.view.conv, &rec, routed.as_ref());
    // The satisfaction survey, once sent (with the answer when given).
    v["survey"] = match app.conversation_survey(&caller, id).await? {
        Some(s) => json!({
            "sent_at": s.created.rfc3339(),
            "language": s.language,
            "answered_at": s.answer.as_ref().map(|a| a.at.rfc3339()),
            "csat": s.answer.as_ref().map(|a| a.csat),
            "nps": s.answer.as_ref().and_then(|a| a.nps),
            "comment": s.answer.as_ref().map(|a| a.comment.clone()),
        }),
        None => Value::Null,
    };
    Ok(Json(v))
}

/// `POST /api/v1/conversations/{id}/messages`: `{"text", "private",
/// "note", "allow_personal_data", "attachments"}`, or, on a WhatsApp
/// conversation, `{"template": "name"}` instead of `text` to send one of
/// the channel's approved templates (`[[channel.whatsapp]] templates`; the
/// only message WhatsApp takes 24 hours after the customer last wrote).
/// A template on another channel, or one the channel does not list, is 400.
#[derive(Deserialize)]
struct ReplyReq {
    #[serde(default)]
    text: Option<String>,
    /// An approved WhatsApp template's name, instead of `text`.
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    note: bool,
    /// Publish a public reply even though it contains personal data.
    #[serde(default)]
    allow_personal_data: bool,
    /// Files sent along (email replies and notes).
    #[serde(default)]
    attachments: Vec<ReplyAttachment>,
}

#[derive(Deserialize)]
struct ReplyAttachment {
    filename: String,
    #[serde(default)]
    content_type: Option<String>,
    data_base64: String,
}

/// The largest reply body: the attachments' limit in base64, plus the text.
const MAX_REPLY_JSON_BYTES: usize =
    crate::app::conversations::MAX_REPLY_ATTACHMENT_BYTES / 3 * 4 + (1 << 20);

fn decode_attachments(
    list: Vec<ReplyAttachment>,
) -> Result<Vec<crate::app::conversations::NewAttachment>, WebError> {
    use base64::Engine;
    list.into_iter()
        .enumerate()
        .map(|(i, a)| {
            // Line-wrapped base64 (MIME style) is accepted too.
            let compact: String = a
                .data_base64
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|e| {
                    WebError::bad_request(format!(
                        "attachments[{i}] ({:?}): data_base64 is not valid base64: {e}",
                        a.filename
                    ))
                })?;
            Ok(crate::app::conversations::NewAttachment {
                filename: a.filename,
                content_type: a.content_type,
                bytes,
            })
        })
        .collect()
}

async fn reply(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path(raw): Path<String>,
    JsonBody(req): JsonBody<ReplyReq>,
) -> Result<Response, WebError> {
    let id = ConversationId(parse_id(&raw, "conversation")?);
    let out = match (req.template, req.text) {
        (Some(template), text) => {
            if text.is_some_and(|t| !t.trim().is_empty()) || req.note || !req.attachments.is_empty()
            {
                return Err(WebError::bad_request(
                    "a template is sent on its own: give either template or text (and no note or attachments)",
                ));
            }
            app.reply_template(&caller, id, &template).await?
        }
        (None, None) => {
            return Err(WebError::bad_request(
                "text is required (or template, on a WhatsApp conversation)",
            ));
        }
        (None, Some(text)) => {
            let files = decode_attachments(req.attachments)?;
            app.reply_with_attachments(
                &caller,
                id,
                &text,
                (req.private, req.note),
                req.allow_personal_data,
                files,
            )
            .await?
        }
    };
    let body =
        json!({ "message_id": out.message.0, "delivery": out.delivery.map(Delivery::as_str) });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Deserialize)]
struct StatusReq {
    status: String,
    until: Option<String>,
}

async fn status(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path(raw): Path<String>,
    JsonBody(req): JsonBody<StatusReq>,
) -> Result<Json<Value>, WebError> {
    let id = ConversationId(parse_id(&raw, "conversation")?);
    let status = Status::parse(&req.status).ok_or_else(|| {
        WebError::bad_request(format!(
            "status {:?} is not one of open, pending, snoozed, resolved",
            req.status
        ))
    })?;
    let until = match req.until.as_deref() {
        None => None,
        Some(u) => Some(Ts::parse(u).ok_or_else(|| {
            WebError::bad_request(format!(
                "until {u:?} is not an RFC 3339 time like 2026-11-23T10:00:00Z"
            ))
        })?),
    };
    let c = app.set_status(&caller, id, status, until).await?;
    Ok(Json(json!({ "id": c.id.0, "status": c.status.as_str() })))
}

async fn workers(State(app): State<AppState>, Auth(caller): Auth) -> Result<Json<Value>, WebError> {
    caller.check(Perm::ViewWorkers, None)?;
    let outbox_open = app
        .store
        .read(|r| r.outbox_open(100))
        .await
        .map_err(crate::app::AppError::from)?;
    let stuck: Vec<Value> = outbox_open
        .iter()
        .filter(|o| o.last_error.is_some())
        .map(|o| {
            json!({"outbox_id": o.id.0, "message_id": o.message.0, "conversation_id": o.conversation.0,
                   "channel": o.channel, "state": format!("{:?}", o.state).to_lowercase(),
                   "attempts": o.attempts, "last_error": o.last_error})
        })
        .collect();
    Ok(Json(json!({
        "workers": app.workers.snapshot(),
        "outbox": {"open": outbox_open.len(), "with_errors": stuck},
        "pending_channels": app.config.pending_channels().iter()
            .map(|(k, n)| json!({"kind": k, "name": n, "state": "not available in this version"}))
            .collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct AssignReq {
    assignee: Option<u64>,
    #[serde(default)]
    claim: bool,
}

async fn assign(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path(raw): Path<String>,
    JsonBody(req): JsonBody<AssignReq>,
) -> Result<Json<Value>, WebError> {
    let id = ConversationId(parse_id(&raw, "conversation")?);
    let c = app
        .assign(&caller, id, req.assignee.map(UserId), req.claim)
        .await?;
    Ok(Json(
        json!({ "id": c.id.0, "assignee": c.assignee.map(|u| u.0) }),
    ))
}

#[derive(Deserialize)]
struct TagsReq {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

async fn tags(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path(raw): Path<String>,
    JsonBody(req): JsonBody<TagsReq>,
) -> Result<Json<Value>, WebError> {
    let id = ConversationId(parse_id(&raw, "conversation")?);
    let c = app.tag(&caller, id, &req.add, &req.remove).await?;
    Ok(Json(json!({ "id": c.id.0, "tags": c.tags })))
}

#[derive(Deserialize)]
struct PriorityReq {
    priority: String,
    reason: String,
}

async fn priority(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path(raw): Path<String>,
    JsonBody(req): JsonBody<PriorityReq>,
) -> Result<Json<Value>, WebError> {
    let id = ConversationId(parse_id(&raw, "conversation")?);
    let p = match req.priority.as_str() {
        "P1" => Priority::P1,
        "P2" => Priority::P2,
        "P3" => Priority::P3,
        "P4" => Priority::P4,
        other => {
            return Err(WebError::bad_request(format!(
                "priority {other:?} is not one of P1, P2, P3, P4"
            )));
        }
    };
    let c = app.override_priority(&caller, id, p, &req.reason).await?;
    Ok(Json(
        json!({ "id": c.id.0, "priority": c.priority.as_str(), "score": c.score }),
    ))
}

/// `GET /api/v1/admin/quarantine`: mail that could not be stored (admins).
async fn quarantine(
    State(app): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Value>, WebError> {
    let items = app.quarantine(&caller, true).await?;
    let items: Vec<Value> = items
        .iter()
        .map(|q| {
            json!({"id": q.id, "channel": q.channel, "source": q.source, "reason": q.reason,
                   "size": q.size, "has_raw": q.raw.is_some(), "created_at": q.created_at.rfc3339(),
                   "resolved": q.resolved})
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `POST /api/v1/admin/quarantine/{id}/reprocess|dismiss`.
async fn quarantine_resolve(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path((id, action)): Path<(u64, String)>,
) -> Result<Json<Value>, WebError> {
    let reprocess = match action.as_str() {
        "reprocess" => true,
        "dismiss" => false,
        _ => return Err(WebError::new(StatusCode::NOT_FOUND, "no such action")),
    };
    let outcome = app.quarantine_resolve(&caller, id, reprocess).await?;
    Ok(Json(json!({ "id": id, "outcome": outcome })))
}

/// `GET /api/v1/stream`: public mentions waiting in the listening stream.
async fn stream(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, WebError> {
    let all = q.get("all").is_some_and(|v| v == "1" || v == "true");
    let items = app.stream(&caller, all).await?;
    let items: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({"id": i.id, "channel": i.channel, "external_id": i.external_id, "handle": i.handle,
                   "name": i.name, "followers": i.followers, "verified": i.verified, "text": i.text,
                   "url": i.url, "sent_at": i.sent_at.rfc3339(), "matched": i.matched, "resolved": i.resolved})
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `POST /api/v1/stream/{id}/promote|dismiss`.
async fn stream_resolve(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path((id, action)): Path<(u64, String)>,
) -> Result<Json<Value>, WebError> {
    let promote = match action.as_str() {
        "promote" => true,
        "dismiss" => false,
        _ => return Err(WebError::new(StatusCode::NOT_FOUND, "no such action")),
    };
    let outcome = app.stream_resolve(&caller, id, promote).await?;
    Ok(Json(json!({ "id": id, "outcome": outcome })))
}
