//! The agent's web pages: sign-in, the inbox and the conversation page, with
//! live updates over SSE. Handlers extract, call `app`, render a view.

use super::extract::{ClientIp, parse_id};
use super::i18n::{Lang, T};
use super::routes::{Access, Routes};
use super::session::{self, LOGIN_COOKIE, SESSION_COOKIE, Session};
use super::views::{self, Ctx, conversation as cv, inbox as iv};
use super::{AppState, WebError};
use crate::app::conversations::{ConversationPage, Filter, InboxView};
use crate::app::{AppError, Caller};
use crate::domain::*;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use futures_util::StreamExt;
use maud::{Markup, html};
use std::collections::HashMap;
use std::convert::Infallible;

mod actions;
mod auth;
mod calendars;
mod canned;
mod conversation;
mod events;
mod hours;
mod inbox;
mod mail;
mod search;
mod survey;
mod triage;

pub(super) use hours::preview_of as hours_preview;
pub(super) use search::api as search_api;

pub(super) type Q = Query<HashMap<String, String>>;
pub(super) type F = Form<HashMap<String, String>>;

pub fn routes() -> Routes {
    use Access::*;
    Routes::default()
        .get("/", Public, || async { Redirect::to("/inbox") })
        .get("/login", Public, auth::login_page)
        .post("/login", Public, auth::login_submit)
        .post("/logout", Session, auth::logout)
        .get("/account/password", Session, auth::password_page)
        .post("/account/password", Session, auth::password_submit)
        .get("/account/prefs", Session, auth::prefs_page)
        .get("/admin/status", Session, auth::status_page)
        .get("/stream", Session, mail::stream_page)
        .post("/stream/{id}/{action}", Session, mail::stream_resolve)
        .post(
            "/admin/channels/{name}/{action}",
            Session,
            mail::channel_action,
        )
        .get("/admin/channels", Session, mail::channels_page)
        .post("/admin/channels/email", Session, mail::mailbox_add)
        .post(
            "/admin/channels/email/{name}/delete",
            Session,
            mail::mailbox_remove,
        )
        .get("/admin/quarantine", Session, mail::quarantine_page)
        .get("/admin/quarantine/{id}/raw", Session, mail::quarantine_raw)
        .post(
            "/admin/quarantine/{id}/{action}",
            Session,
            mail::quarantine_resolve,
        )
        .get(
            "/conversations/{id}/attachments/{sha}",
            Session,
            mail::attachment,
        )
        .get("/admin/teams", Session, auth::teams_page)
        .post("/admin/teams", Session, auth::team_create)
        .post("/admin/teams/{id}/members", Session, auth::team_members)
        .post("/admin/teams/{id}/routing", Session, triage::team_routing)
        .get("/admin/triage", Session, triage::rules_page)
        .post("/admin/triage", Session, triage::rules_save)
        .post("/admin/triage/simulate", Session, triage::rules_simulate)
        .post(
            "/admin/triage/versions/{v}/restore",
            Session,
            triage::rules_restore,
        )
        .get("/admin/agents", Session, triage::agents_page)
        .post("/admin/agents/{id}", Session, triage::agent_update)
        .post("/account/availability", Session, triage::availability)
        .post("/conversations/{id}/team", Session, actions::team)
        .post("/account/prefs", Session, auth::prefs_submit)
        .get("/inbox", Session, inbox::inbox)
        .get("/inbox/list", Session, inbox::inbox_list)
        .get("/inbox/rail", Session, inbox::rail)
        .get("/conversations/{id}", Session, conversation::conversation)
        .get(
            "/conversations/{id}/timeline",
            Session,
            conversation::timeline,
        )
        .post("/conversations/{id}/reply", Session, conversation::reply)
        .post(
            "/conversations/{id}/whatsapp-template",
            Session,
            actions::whatsapp_template,
        )
        .post(
            "/conversations/{id}/status",
            Session,
            conversation::set_status,
        )
        .get("/conversations/{id}/canned", Session, canned::search)
        .post("/conversations/{id}/assign", Session, actions::assign)
        .post("/conversations/{id}/tags", Session, actions::tags)
        .post("/conversations/{id}/priority", Session, actions::priority)
        .post("/conversations/{id}/snooze", Session, actions::snooze)
        .post("/conversations/{id}/category", Session, actions::category)
        .post("/conversations/{id}/tier", Session, actions::tier)
        .post(
            "/conversations/{id}/messages/{mid}/review",
            Session,
            actions::review,
        )
        .post("/conversations/{id}/private", Session, actions::private)
        .get(
            "/conversations/{id}/presence",
            Session,
            conversation::presence,
        )
        .post(
            "/conversations/{id}/presence",
            Session,
            conversation::presence,
        )
        .get("/events", Session, events::events)
        .get("/search", Session, search::page)
        .get("/search/suggest", Session, search::suggest)
        .get("/canned", Session, canned::page)
        .post("/canned", Session, canned::save)
        .post("/canned/{id}/delete", Session, canned::delete)
        .get("/admin/hours", Session, hours::page)
        .get("/admin/hours/preview", Session, hours::preview)
        .post("/admin/hours/calendar", Session, hours::save_calendar)
        .post("/admin/hours/calendars", Session, calendars::save_calendar)
        .post(
            "/admin/hours/calendars/remove",
            Session,
            calendars::remove_calendar,
        )
        .post(
            "/admin/hours/autoreply/channel",
            Session,
            calendars::save_channel_autoreply,
        )
        .post(
            "/admin/hours/autoreply/channel/remove",
            Session,
            calendars::remove_channel_autoreply,
        )
        .post("/admin/hours/autoreply", Session, hours::save_autoreply)
        .post("/admin/hours/followup", Session, hours::save_followup)
        .post("/admin/hours/reset", Session, hours::reset)
        .post("/jobs/{id}/cancel", Session, hours::cancel_job)
        .post("/conversations/{id}/schedule", Session, hours::schedule)
        // The survey's token in the URL is the customer's capability.
        .get("/survey/{token}", Public, survey::page)
        .post("/survey/{token}", Public, survey::submit)
        .map(|r| r.layer(axum::middleware::from_fn(session::security_headers)))
        .merge(Routes::default().get("/static/{*path}", Public, super::assets::static_file))
}

/// The user's time zone, else the business's (the business hours in force:
/// saved in Admin → Business hours, else `[hours] timezone`), else UTC.
pub(super) fn tz(app: &AppState, s: &Session) -> jiff::tz::TimeZone {
    let business = app
        .clock_state()
        .settings
        .hours
        .as_ref()
        .map(|h| h.timezone.clone())
        .filter(|t| !t.is_empty());
    s.prefs
        .tz
        .as_deref()
        .and_then(|name| jiff::tz::TimeZone::get(name).ok())
        .or_else(|| business.and_then(|name| jiff::tz::TimeZone::get(&name).ok()))
        .unwrap_or(jiff::tz::TimeZone::UTC)
}

pub(super) fn secure(app: &AppState) -> bool {
    app.config.server.tls.is_some()
        || app
            .config
            .server
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
}

pub(super) fn html_page(status: StatusCode, m: Markup) -> Response {
    (status, Html(m.into_string())).into_response()
}

pub(super) fn error_page(app: &AppState, s: &Session, e: AppError) -> Response {
    let tz = tz(app, s);
    let ctx = ctx(app, s, &tz);
    let (status, key) = match e {
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, T::NotFound),
        AppError::Forbidden(_) => (StatusCode::FORBIDDEN, T::Forbidden),
        other => return WebError::from(other).into_response(),
    };
    let body = html! { (views::topbar(&ctx)) main class="page" { div class="empty" { h2 { (ctx.t(key)) } p { a href="/inbox" { "← " (ctx.t(T::Inbox)) } } } } };
    html_page(status, views::layout(&ctx, ctx.t(key), body))
}

pub(super) fn ctx<'a>(app: &'a AppState, s: &'a Session, tz: &'a jiff::tz::TimeZone) -> Ctx<'a> {
    let now = app.clock.now();
    Ctx {
        lang: s.lang,
        nonce: &s.nonce,
        user: Some(&s.user),
        csrf: &s.csrf,
        business: &app.config.business.name,
        now,
        tz,
        availability: s.availability,
        hours: views::hours_badge::HoursBadge::of(&app.clock_state().default, now),
    }
}
