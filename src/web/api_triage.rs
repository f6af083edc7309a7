//! The triage part of the JSON API: a conversation's decision, tiers and
//! categories, the rules (read, save, simulate, restore), agents' routing
//! profiles and availability, team strategies, reply approvals.

use super::extract::{Auth, JsonBody, parse_id};
use super::routes::{Access, Routes};
use super::{AppState, WebError};
use crate::app::triage::{AgentEdit, TriageRecord};
use crate::domain::*;
use crate::triage::{Availability, Strategy};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Routes {
    use Access::*;
    Routes::default()
        .post("/conversations/{id}/tier", Bearer, tier)
        .post("/conversations/{id}/category", Bearer, category)
        .post("/conversations/{id}/messages/{mid}/review", Bearer, review)
        .get("/triage/rules", Bearer, rules)
        .post("/triage/rules", Bearer, save_rules)
        .post("/triage/rules/{version}/restore", Bearer, restore_rules)
        .post("/triage/simulate", Bearer, simulate)
        .get("/agents", Bearer, agents)
        .post("/agents/me/availability", Bearer, availability)
        .post("/agents/{id}", Bearer, update_agent)
        .post("/teams/{id}/routing", Bearer, team_routing)
}

/// The `triage` object of `GET /api/v1/conversations/{id}` (CONTRACT.md).
pub fn triage_json(c: &Conversation, rec: &TriageRecord, routed_to: Option<&User>) -> Value {
    json!({
        "priority": c.priority.as_str(),
        "score": c.score,
        "reasons": rec.decision.reasons.iter().map(|r| r.line()).collect::<Vec<_>>(),
        "routed_to": routed_to.map(|u| u.name.clone()),
        "routed_to_id": rec.routed_to.map(|u| u.0),
        "routing_reasons": rec.routing_reasons,
        "category": c.category,
        "tier": c.tier,
        "sentiment": rec.decision.sentiment,
        "language": rec.decision.language,
        "troll": rec.decision.troll,
        "approval": rec.decision.approval,
        "matched_rules": rec.decision.matched,
        "rules_version": rec.rules_version,
        "overridden": rec.overridden,
        "first_response_due": rec.first_response_due.map(Ts::rfc3339),
        "resolution_due": rec.resolution_due.map(Ts::rfc3339),
        "sla_reasons": rec.sla_reasons,
        "decided_at": (rec.at.0 > 0).then(|| rec.at.rfc3339()),
        "message_id": rec.message.map(|m| m.0),
    })
}

#[derive(Deserialize)]
struct TierReq {
    tier: u8,
    reason: String,
}

async fn tier(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path(raw): Path<String>,
    JsonBody(req): JsonBody<TierReq>,
) -> Result<Json<Value>, WebError> {
    let id = ConversationId(parse_id(&raw, "conversation")?);
    let c = app.set_tier(&caller, id, req.tier, &req.reason).await?;
    Ok(Json(
        json!({"id": c.id.0, "tier": c.tier, "assignee": c.assignee.map(|u| u.0)}),
    ))
}

#[derive(Deserialize)]
struct CategoryReq {
    /// null: let triage decide again.
    category: Option<String>,
}

async fn category(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path(raw): Path<String>,
    JsonBody(req): JsonBody<CategoryReq>,
) -> Result<Json<Value>, WebError> {
    let id = ConversationId(parse_id(&raw, "conversation")?);
    let c = app.set_category(&caller, id, req.category).await?;
    Ok(Json(json!({"id": c.id.0, "category": c.category})))
}

#[derive(Deserialize)]
struct ReviewReq {
    approve: bool,
    #[serde(default)]
    reason: String,
}

async fn review(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path((raw, mid)): Path<(String, String)>,
    JsonBody(req): JsonBody<ReviewReq>,
) -> Result<Json<Value>, WebError> {
    let id = ConversationId(parse_id(&raw, "conversation")?);
    let mid = MessageId(parse_id(&mid, "message")?);
    app.review_reply(&caller, id, mid, req.approve, &req.reason)
        .await?;
    Ok(Json(json!({"message_id": mid.0, "approved": req.approve})))
}

fn version_json(v: &crate::app::triage::RulesVersion, with_text: bool) -> Value {
    let mut out = json!({
        "version": v.version,
        "source": v.source,
        "by": v.by.map(|u| u.0),
        "at": v.at.rfc3339(),
        "note": v.note,
    });
    if with_text {
        out["toml"] = Value::String(v.toml.clone());
    }
    out
}

async fn rules(State(app): State<AppState>, Auth(caller): Auth) -> Result<Json<Value>, WebError> {
    let (current, all) = app.rules_versions(&caller).await?;
    Ok(Json(json!({
        "current": version_json(&current, true),
        "versions": all.iter().map(|v| version_json(v, false)).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct SaveReq {
    toml: String,
    #[serde(default)]
    note: String,
}

async fn save_rules(
    State(app): State<AppState>,
    Auth(caller): Auth,
    JsonBody(req): JsonBody<SaveReq>,
) -> Result<Response, WebError> {
    let v = app.save_rules(&caller, &req.toml, &req.note).await?;
    Ok((StatusCode::CREATED, Json(version_json(&v, false))).into_response())
}

async fn restore_rules(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path(raw): Path<String>,
) -> Result<Response, WebError> {
    let version: u32 = raw
        .parse()
        .map_err(|_| WebError::bad_request(format!("version {raw:?} is not a number")))?;
    let v = app.restore_rules(&caller, version).await?;
    Ok((StatusCode::CREATED, Json(version_json(&v, false))).into_response())
}

#[derive(Deserialize)]
struct SimulateReq {
    toml: String,
    #[serde(default = "seven")]
    days: u32,
}

fn seven() -> u32 {
    7
}

async fn simulate(
    State(app): State<AppState>,
    Auth(caller): Auth,
    JsonBody(req): JsonBody<SimulateReq>,
) -> Result<Json<Value>, WebError> {
    let r = app.simulate_rules(&caller, &req.toml, req.days).await?;
    Ok(Json(serde_json::to_value(r).unwrap_or(Value::Null)))
}

async fn agents(State(app): State<AppState>, Auth(caller): Auth) -> Result<Json<Value>, WebError> {
    let all = app.agents(&caller).await?;
    let items: Vec<Value> = all
        .iter()
        .map(|(u, p, load)| {
            json!({
                "id": u.id.0,
                "name": u.name,
                "email": u.email,
                "role": u.role.as_str(),
                "tier": u.tier,
                "teams": u.teams.iter().map(|t| t.0).collect::<Vec<_>>(),
                "skills": u.skills,
                "languages": u.languages,
                "availability": p.availability.as_str(),
                "capacity": p.capacity.unwrap_or(app.config.triage.default_capacity),
                "open_load": load,
                "avg_first_response_secs": p.avg_first_response_secs(),
                "csat": p.csat(),
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
struct AvailabilityReq {
    availability: String,
}

async fn availability(
    State(app): State<AppState>,
    Auth(caller): Auth,
    JsonBody(req): JsonBody<AvailabilityReq>,
) -> Result<Json<Value>, WebError> {
    let a = Availability::parse(&req.availability).ok_or_else(|| {
        WebError::bad_request(format!(
            "availability {:?} is not one of online, away, offline",
            req.availability
        ))
    })?;
    app.set_availability(&caller, a).await?;
    Ok(Json(json!({ "availability": a.as_str() })))
}

#[derive(Deserialize)]
struct AgentReq {
    tier: u8,
    #[serde(default)]
    skills: Vec<String>,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    capacity: Option<u32>,
}

async fn update_agent(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path(raw): Path<String>,
    JsonBody(req): JsonBody<AgentReq>,
) -> Result<Json<Value>, WebError> {
    let id = UserId(parse_id(&raw, "user")?);
    app.update_agent(
        &caller,
        id,
        AgentEdit {
            tier: req.tier,
            skills: req.skills,
            languages: req.languages,
            capacity: req.capacity,
        },
    )
    .await?;
    Ok(Json(json!({ "id": id.0 })))
}

#[derive(Deserialize)]
struct StrategyReq {
    strategy: String,
}

async fn team_routing(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Path(raw): Path<String>,
    JsonBody(req): JsonBody<StrategyReq>,
) -> Result<Json<Value>, WebError> {
    let id = TeamId(parse_id(&raw, "team")?);
    let s = Strategy::parse(&req.strategy).ok_or_else(|| {
        WebError::bad_request(format!(
            "strategy {:?} is not one of round_robin, least_loaded, best_match",
            req.strategy
        ))
    })?;
    app.set_team_strategy(&caller, id, s).await?;
    Ok(Json(json!({ "team": id.0, "strategy": s.as_str() })))
}
