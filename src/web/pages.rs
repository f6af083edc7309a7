//! The agent's web pages: sign-in, the inbox and the conversation page, with
//! live updates over SSE. Handlers extract, call `app`, render a view.

use super::extract::{ClientIp, parse_id};
use super::i18n::{Lang, T};
use super::session::{self, LOGIN_COOKIE, SESSION_COOKIE, Session};
use super::views::{self, Ctx, conversation as cv, inbox as iv};
use super::{AppState, WebError};
use crate::app::conversations::{ConversationPage, InboxView};
use crate::app::{AppError, Caller};
use crate::domain::*;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use maud::{Markup, html};
use std::collections::HashMap;
use std::convert::Infallible;

type Q = Query<HashMap<String, String>>;
type F = Form<HashMap<String, String>>;

/// Logins per client address per minute (shared with the API's limit key).
const LOGINS_PER_MINUTE: u32 = 10;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route(
            "/account/password",
            get(password_page).post(password_submit),
        )
        .route("/inbox", get(inbox))
        .route("/inbox/list", get(inbox_list))
        .route("/conversations/{id}", get(conversation))
        .route("/conversations/{id}/timeline", get(timeline))
        .route("/conversations/{id}/reply", post(reply))
        .route("/conversations/{id}/status", post(set_status))
        .route("/events", get(events))
        .layer(axum::middleware::from_fn(session::security_headers))
        .route("/static/{*path}", get(super::assets::static_file))
}

fn tz(app: &AppState) -> jiff::tz::TimeZone {
    app.config
        .hours
        .as_ref()
        .and_then(|h| h.get("timezone"))
        .and_then(|v| v.as_str())
        .and_then(|name| jiff::tz::TimeZone::get(name).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC)
}

fn secure(app: &AppState) -> bool {
    app.config.server.tls.is_some()
        || app
            .config
            .server
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
}

fn html_page(status: StatusCode, m: Markup) -> Response {
    (status, Html(m.into_string())).into_response()
}

fn error_page(app: &AppState, s: &Session, e: AppError) -> Response {
    let tz = tz(app);
    let ctx = ctx(app, s, &tz);
    let (status, key) = match e {
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, T::NotFound),
        AppError::Forbidden(_) => (StatusCode::FORBIDDEN, T::Forbidden),
        other => return WebError::from(other).into_response(),
    };
    let body = html! { (views::topbar(&ctx)) main class="page" { div class="empty" { h2 { (ctx.t(key)) } p { a href="/inbox" { "← " (ctx.t(T::Inbox)) } } } } };
    html_page(status, views::layout(&ctx, ctx.t(key), body))
}

fn ctx<'a>(app: &'a AppState, s: &'a Session, tz: &'a jiff::tz::TimeZone) -> Ctx<'a> {
    Ctx {
        lang: s.lang,
        nonce: &s.nonce,
        user: Some(&s.user),
        csrf: &s.csrf,
        business: &app.config.business.name,
        now: app.clock.now(),
        tz,
    }
}

// ---- sign-in -------------------------------------------------------------

fn login_form(
    app: &AppState,
    headers: &HeaderMap,
    nonce: &str,
    next: &str,
    error: Option<T>,
    status: StatusCode,
) -> Response {
    let token = crate::app::auth::new_token().0;
    let tz = jiff::tz::TimeZone::UTC;
    let ctx = Ctx {
        lang: Lang::from_headers(headers),
        nonce,
        user: None,
        csrf: &token,
        business: &app.config.business.name,
        now: app.clock.now(),
        tz: &tz,
    };
    let page = views::layout(
        &ctx,
        ctx.t(T::SignIn),
        views::login::login(&ctx, next, error),
    );
    let mut resp = html_page(status, page);
    resp.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(LOGIN_COOKIE, &token, 3600, secure(app)),
    );
    resp
}

fn nonce_of(ext: &axum::http::Extensions) -> String {
    ext.get::<session::Nonce>()
        .map(|n| n.0.clone())
        .unwrap_or_default()
}

async fn login_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    q: Q,
    req: axum::http::Request<axum::body::Body>,
) -> Response {
    let next = session::safe_next(q.get("next"));
    login_form(
        &app,
        &headers,
        &nonce_of(req.extensions()),
        &next,
        None,
        StatusCode::OK,
    )
}

async fn login_submit(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ext: axum::Extension<session::Nonce>,
    Form(f): F,
) -> Response {
    let nonce = ext.0.0.clone();
    let next = session::safe_next(f.get("next"));
    let expected = session::cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let sent = f.get("csrf").cloned().unwrap_or_default();
    if session::check_origin(&headers).is_err()
        || expected.is_empty()
        || !crate::app::auth::constant_eq(&expected, &sent)
    {
        return login_form(
            &app,
            &headers,
            &nonce,
            &next,
            Some(T::FormExpired),
            StatusCode::FORBIDDEN,
        );
    }
    if !app
        .rate
        .allow(&format!("login:{ip}"), LOGINS_PER_MINUTE, app.clock.now())
    {
        return login_form(
            &app,
            &headers,
            &nonce,
            &next,
            Some(T::TooManyAttempts),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let (email, password) = (
        f.get("email").cloned().unwrap_or_default(),
        f.get("password").cloned().unwrap_or_default(),
    );
    match app.login_session(&email, &password).await {
        Ok((token, _csrf)) => {
            let mut resp = Redirect::to(&next).into_response();
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                session::set_cookie(
                    SESSION_COOKIE,
                    &token,
                    crate::app::auth::SESSION_TTL_MS / 1000,
                    secure(&app),
                ),
            );
            h.append(
                header::SET_COOKIE,
                session::set_cookie(LOGIN_COOKIE, "", 0, secure(&app)),
            );
            resp
        }
        Err(AppError::Unauthorized) => login_form(
            &app,
            &headers,
            &nonce,
            &next,
            Some(T::WrongCredentials),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => WebError::from(e).into_response(),
    }
}

async fn logout(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    if let Err(e) = app.logout(&s.token).await {
        return WebError::from(e).into_response();
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(SESSION_COOKIE, "", 0, secure(&app)),
    );
    resp
}

async fn password_page(State(app): State<AppState>, s: Session) -> Response {
    let tz = tz(&app);
    let ctx = ctx(&app, &s, &tz);
    html_page(
        StatusCode::OK,
        views::layout(
            &ctx,
            ctx.t(T::ChangePassword),
            views::login::password(&ctx, None),
        ),
    )
}

async fn password_submit(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let (cur, new) = (
        f.get("current").cloned().unwrap_or_default(),
        f.get("new").cloned().unwrap_or_default(),
    );
    let result = app.change_password(&s.user, &cur, &new, &s.token).await;
    let tz = tz(&app);
    let ctx = ctx(&app, &s, &tz);
    let (status, flash) = match result {
        Ok(()) => (
            StatusCode::OK,
            (true, ctx.t(T::PasswordChanged).to_string()),
        ),
        Err(AppError::Unauthorized) => (
            StatusCode::BAD_REQUEST,
            (false, ctx.t(T::WrongCredentials).to_string()),
        ),
        Err(AppError::Invalid(m)) => (StatusCode::BAD_REQUEST, (false, m)),
        Err(e) => return WebError::from(e).into_response(),
    };
    html_page(
        status,
        views::layout(
            &ctx,
            ctx.t(T::ChangePassword),
            views::login::password(&ctx, Some(flash)),
        ),
    )
}

// ---- inbox -----------------------------------------------------------------

fn view_of(q: &HashMap<String, String>) -> InboxView {
    q.get("view")
        .and_then(|v| InboxView::parse(v))
        .unwrap_or(InboxView::All)
}

fn cursor_of(q: &HashMap<String, String>) -> Option<Vec<u8>> {
    q.get("cursor").and_then(|c| hex::decode(c).ok())
}

async fn list_markup(
    app: &AppState,
    s: &Session,
    ctx: &Ctx<'_>,
    view: InboxView,
    cursor: Option<Vec<u8>>,
    active: Option<ConversationId>,
) -> Result<Markup, AppError> {
    let caller = Caller::Staff(s.user.clone());
    let page = app.inbox(&caller, view, cursor, 50).await?;
    let kind_of = |name: &str| app.channel_kind(name);
    Ok(iv::list(ctx, view, &page, active, &kind_of))
}

async fn shell(
    app: &AppState,
    s: &Session,
    ctx: &Ctx<'_>,
    view: InboxView,
    list: Markup,
    main: Markup,
    side: Option<Markup>,
) -> Result<Markup, AppError> {
    let counts = app.view_counts(&Caller::Staff(s.user.clone())).await?;
    Ok(html! {
        (views::topbar(ctx))
        div class={ "app" @if side.is_none() { " no-side" } } hx-ext="sse" sse-connect="/events" {
            (iv::rail(ctx, view, &counts))
            (list)
            main class="main" id="main" { (main) }
            @if let Some(side) = side { (side) }
        }
        (views::shortcut_sheet(ctx))
    })
}

async fn inbox(State(app): State<AppState>, s: Session, q: Q) -> Response {
    let tz = tz(&app);
    let ctx = ctx(&app, &s, &tz);
    let view = view_of(&q);
    let result = async {
        let list = list_markup(&app, &s, &ctx, view, cursor_of(&q), None).await?;
        let main = html! { div class="empty" { h2 { (ctx.t(T::NoConversationTitle)) } p { (ctx.t(T::NoConversationHint)) } } };
        shell(&app, &s, &ctx, view, list, main, None).await
    }
    .await;
    match result {
        Ok(body) => html_page(
            StatusCode::OK,
            views::layout(&ctx, iv::view_label(&ctx, view), body),
        ),
        Err(e) => error_page(&app, &s, e),
    }
}

async fn inbox_list(State(app): State<AppState>, s: Session, q: Q) -> Response {
    let tz = tz(&app);
    let ctx = ctx(&app, &s, &tz);
    let active = q
        .get("active")
        .and_then(|a| a.parse().ok())
        .map(ConversationId);
    match list_markup(&app, &s, &ctx, view_of(&q), None, active).await {
        Ok(m) => html_page(StatusCode::OK, m),
        Err(e) => WebError::from(e).into_response(),
    }
}

// ---- conversation ------------------------------------------------------------

async fn load(app: &AppState, s: &Session, raw: &str) -> Result<ConversationPage, AppError> {
    let id = parse_id(raw, "conversation").map_err(|e| AppError::NotFound(e.message))?;
    app.conversation_page(&Caller::Staff(s.user.clone()), ConversationId(id))
        .await
}

async fn render_conversation(
    app: &AppState,
    s: &Session,
    raw: &str,
    view: InboxView,
    flash: Option<Markup>,
    draft: &str,
    status: StatusCode,
) -> Response {
    let tz = tz(app);
    let ctx = ctx(app, s, &tz);
    let result = async {
        let p = load(app, s, raw).await?;
        let c = &p.detail.view.conv;
        let kind = app.channel_kind(&c.channel);
        let read_only = s.user.role == Role::Auditor;
        let has_private = kind.is_some_and(ChannelKind::has_private);
        let kind_of = |name: &str| app.channel_kind(name);
        let main = html! {
            (cv::head(&ctx, &p, kind, read_only))
            @if let Some(f) = &flash { (f) }
            (cv::timeline(&ctx, &p))
            (cv::reply_box(&ctx, &p, has_private, draft, read_only))
        };
        let side = cv::side(&ctx, &p, &kind_of);
        let list = list_markup(app, s, &ctx, view, None, Some(c.id)).await?;
        let title = p
            .detail
            .view
            .contact
            .as_ref()
            .map(|x| x.name.clone())
            .unwrap_or_default();
        Ok::<_, AppError>((
            title,
            shell(app, s, &ctx, view, list, main, Some(side)).await?,
        ))
    }
    .await;
    match result {
        Ok((title, body)) => html_page(status, views::layout(&ctx, &title, body)),
        Err(e) => error_page(app, s, e),
    }
}

async fn conversation(
    State(app): State<AppState>,
    s: Session,
    Path(raw): Path<String>,
    q: Q,
) -> Response {
    render_conversation(&app, &s, &raw, view_of(&q), None, "", StatusCode::OK).await
}

async fn timeline(State(app): State<AppState>, s: Session, Path(raw): Path<String>) -> Response {
    let tz = tz(&app);
    let ctx = ctx(&app, &s, &tz);
    match load(&app, &s, &raw).await {
        Ok(p) => html_page(StatusCode::OK, cv::timeline(&ctx, &p)),
        Err(e) => WebError::from(e).into_response(),
    }
}

async fn reply(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Q,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let view = view_of(&q);
    let text = f.get("text").cloned().unwrap_or_default();
    let mode = f.get("mode").map(String::as_str).unwrap_or("reply");
    let Ok(id) = raw.parse::<u64>().map(ConversationId) else {
        return error_page(&app, &s, AppError::NotFound(raw));
    };
    let caller = Caller::Staff(s.user.clone());
    // Send-guard: hold the reply when something new arrived since the agent
    // loaded the page, unless they confirm.
    let seen: u64 = f
        .get("seen")
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    if mode != "note"
        && !f.contains_key("confirm")
        && let Ok(d) = app.conversation(&caller, id).await
    {
        {
            let newer = d.messages.iter().any(|m| {
                m.id.0 > seen
                    && m.author != Author::User(s.user.id)
                    && m.direction != Direction::Note
            });
            if newer {
                let tz = tz(&app);
                let ctx = ctx(&app, &s, &tz);
                let guard = html! {
                    div class="guard" role="alert" {
                        strong { (ctx.t(T::NewMessages)) }
                        form method="post" action=(format!("/conversations/{id}/reply")) {
                            (ctx.csrf_field())
                            input type="hidden" name="confirm" value="1";
                            input type="hidden" name="mode" value=(mode);
                            input type="hidden" name="text" value=(text);
                            div class="actions" { button class="btn primary" type="submit" { (ctx.t(T::Send)) " ↵" } }
                        }
                    }
                };
                return render_conversation(
                    &app,
                    &s,
                    &raw,
                    view,
                    Some(guard),
                    &text,
                    StatusCode::CONFLICT,
                )
                .await;
            }
        }
    }
    match app
        .reply(&caller, id, &text, mode == "private", mode == "note")
        .await
    {
        Ok(_) => {
            Redirect::to(&format!("/conversations/{id}?view={}", view.as_str())).into_response()
        }
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            let flash = html! { p class="flash error" role="alert" { (e.to_string()) } };
            render_conversation(
                &app,
                &s,
                &raw,
                view,
                Some(flash),
                &text,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => error_page(&app, &s, e),
    }
}

async fn set_status(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Q,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let Ok(id) = raw.parse::<u64>().map(ConversationId) else {
        return error_page(&app, &s, AppError::NotFound(raw));
    };
    let Some(status) = f
        .get("status")
        .and_then(|v| Status::parse(v))
        .filter(|s| *s != Status::Snoozed)
    else {
        return WebError::bad_request("status must be open, pending or resolved").into_response();
    };
    match app
        .set_status(&Caller::Staff(s.user.clone()), id, status, None)
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/conversations/{id}?view={}",
            view_of(&q).as_str()
        ))
        .into_response(),
        Err(e) => error_page(&app, &s, e),
    }
}

// ---- live updates ----------------------------------------------------------------

/// Server-Sent Events for the signed-in agent: `change` after every durable
/// batch that touched a conversation they may see, and `conv-{id}` for each
/// such conversation. Reconnects resume after `Last-Event-ID`.
async fn events(State(app): State<AppState>, s: Session, headers: HeaderMap) -> Response {
    let rx = app.store.subscribe();
    let start = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| app.store.committed_seq());
    let user = s.user.clone();
    let stream = futures_util::stream::unfold(
        (app, user, start, rx),
        |(app, user, mut last, mut rx)| async move {
            if rx.changed().await.is_err() {
                return None;
            }
            let after = last;
            let viewer = user.clone();
            let found = app
                .store
                .read(move |r| {
                    let evs = r.events_after(after, 1000)?;
                    let mut convs = Vec::new();
                    let mut newest = after;
                    for e in evs {
                        newest = newest.max(e.seq);
                        if let Some(c) = e.kind.conversation()
                            && !convs.contains(&c)
                            && let Some(conv) = r.conversation(c)?
                            && crate::app::perm::can_see(&viewer, &conv)
                        {
                            convs.push(c);
                        }
                    }
                    Ok((convs, newest))
                })
                .await
                .unwrap_or_default();
            let (convs, newest) = found;
            last = newest.max(last);
            let mut out: Vec<Result<SseEvent, Infallible>> = Vec::new();
            if !convs.is_empty() {
                for c in &convs {
                    out.push(Ok(SseEvent::default()
                        .event(format!("conv-{c}"))
                        .data(c.to_string())));
                }
                out.push(Ok(SseEvent::default()
                    .event("change")
                    .id(last.to_string())
                    .data(last.to_string())));
            }
            Some((futures_util::stream::iter(out), (app, user, last, rx)))
        },
    )
    .flatten();
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
