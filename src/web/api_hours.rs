//! The clock part of the JSON API: business-hours settings (read, replace,
//! preview), satisfaction figures, scheduled jobs (list, cancel) and
//! scheduling a reply.

use super::extract::{Auth, JsonBody, parse_id};
use super::routes::{Access, Routes};
use super::{AppState, WebError};
use crate::app::hours::{ClockSettings, JobView};
use crate::app::perm::Perm;
use crate::app::{AppError, Caller};
use crate::domain::*;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

pub fn routes() -> Routes {
    use Access::*;
    Routes::default()
        .get("/satisfaction", Bearer, satisfaction)
        .get("/jobs", Bearer, jobs)
        .post("/jobs/{id}/cancel", Bearer, cancel)
        .post("/conversations/{id}/schedule", Bearer, schedule)
        .get("/hours", Bearer, hours)
        .put("/hours", Bearer, save_hours)
        .get("/hours/preview", Bearer, preview)
}

/// Who may read the business-hours settings and preview: admins and
/// supervisors (true: they may change them too) and auditors (false: read
/// only). Agents may not.
pub(super) fn hours_access(caller: &Caller) -> Result<bool, AppError> {
    match caller.check(Perm::ManageHours, None) {
        Ok(()) => Ok(true),
        Err(e) => match caller.user() {
            Some(u) if u.active && u.role == Role::Auditor => Ok(false),
            _ => Err(e),
        },
    }
}

/// A jobs cursor, `DUE_MS:ID`.
pub(super) fn parse_after(s: &str) -> Result<(Ts, u64), String> {
    let bad = || format!("after {s:?} is not DUE_MS:ID (the \"next\" of the previous page)");
    let (due, id) = s.split_once(':').ok_or_else(bad)?;
    Ok((
        Ts(due.trim().parse().map_err(|_| bad())?),
        id.trim().parse().map_err(|_| bad())?,
    ))
}

pub fn job_json(j: &JobView) -> Value {
    json!({
        "id": j.id,
        "due": j.due.rfc3339(),
        "kind": j.kind,
        "conversation": j.conversation.map(|c| c.0),
        "detail": j.detail,
        "created_by": j.created_by.map(|u| u.0),
    })
}

async fn satisfaction(
    State(app): State<AppState>,
    Auth(caller): Auth,
) -> Result<Json<Value>, WebError> {
    let s = app.satisfaction(&caller).await?;
    Ok(Json(json!({
        "responses": s.responses,
        "csat_average": s.csat_average(),
        "csat_percent": s.csat_percent(),
        "nps": s.nps(),
        "nps_responses": s.nps_responses,
        "promoters": s.promoters,
        "detractors": s.detractors,
        "surveys_sent": s.surveys_sent,
    })))
}

async fn jobs(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, WebError> {
    let after = match q.get("after").map(|a| a.trim()).filter(|a| !a.is_empty()) {
        Some(a) => Some(parse_after(a).map_err(WebError::bad_request)?),
        None => None,
    };
    let limit = match q.get("limit").map(|l| l.trim()).filter(|l| !l.is_empty()) {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| WebError::bad_request(format!("limit {l:?} is not 1 to 500")))?,
        None => 50,
    };
    let (mut list, total) = app.jobs_page(&caller, after, limit + 1).await?;
    let next = (list.len() > limit).then(|| {
        list.truncate(limit);
        list.last()
            .map(|j| format!("{}:{}", j.due.0, j.id))
            .unwrap_or_default()
    });
    Ok(Json(json!({
        "jobs": list.iter().map(job_json).collect::<Vec<_>>(),
        "total": total,
        "next": next,
    })))
}

async fn cancel(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path(raw): Path<String>,
) -> Result<Json<Value>, WebError> {
    let id = parse_id(&raw, "job")?;
    app.cancel_job(&caller, id).await?;
    Ok(Json(json!({ "id": id, "cancelled": true })))
}

#[derive(Deserialize)]
struct ScheduleReq {
    text: String,
    #[serde(default = "yes")]
    public: bool,
    at: String,
}

fn yes() -> bool {
    true
}

async fn schedule(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path(raw): Path<String>,
    JsonBody(req): JsonBody<ScheduleReq>,
) -> Result<Response, WebError> {
    let id = ConversationId(parse_id(&raw, "conversation")?);
    let at = Ts::parse(&req.at).ok_or_else(|| {
        WebError::bad_request(format!(
            "at {:?} is not an RFC 3339 time such as 2026-11-23T10:00:00Z",
            req.at
        ))
    })?;
    let job = app
        .schedule_reply(&caller, id, &req.text, req.public, at)
        .await?;
    Ok((StatusCode::CREATED, Json(job_json(&job))).into_response())
}

fn hours_json(app: &AppState) -> Value {
    let state = app.clock_state();
    json!({
        "source": state.source,
        "settings": serde_json::to_value(&state.settings).unwrap_or(Value::Null),
        "timezone": state.default.timezone(),
        "hours_es": state.default.describe_hours("es"),
        "hours_en": state.default.describe_hours("en"),
    })
}

async fn hours(State(app): State<AppState>, Auth(caller): Auth) -> Result<Json<Value>, WebError> {
    hours_access(&caller)?;
    Ok(Json(hours_json(&app)))
}

async fn save_hours(
    State(app): State<AppState>,
    Auth(caller): Auth,
    JsonBody(settings): JsonBody<ClockSettings>,
) -> Result<Json<Value>, WebError> {
    app.save_clock_settings(&caller, settings, "settings replaced through the API")
        .await?;
    Ok(Json(hours_json(&app)))
}

async fn preview(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, WebError> {
    hours_access(&caller)?;
    let lang = match q.get("lang").map(String::as_str) {
        None | Some("") | Some("es") => "es",
        Some("en") => "en",
        Some(other) => {
            return Err(WebError::bad_request(format!(
                "lang {other:?} is not es or en"
            )));
        }
    };
    let ask = crate::web::views::hours::PreviewAsk {
        channel: q.get("channel").cloned().unwrap_or_default(),
        lang: lang.into(),
        text: q
            .get("text")
            .map(|t| t.chars().take(2000).collect())
            .unwrap_or_default(),
    };
    let shown = super::pages::hours_preview(&app, ask).await;
    let p = &shown.preview;
    Ok(Json(json!({
        "channel": (!shown.ask.channel.is_empty()).then_some(&shown.ask.channel),
        "lang": lang,
        "open": p.open,
        "next_opening": p.next_opening.map(Ts::rfc3339),
        "next_opening_text": shown.next_text,
        "reply": p.reply.as_ref().map(|(reason, text)| json!({"reason": reason, "text": text})),
        "hours_es": p.hours_es,
        "hours_en": p.hours_en,
    })))
}
