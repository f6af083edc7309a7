//! Sign-in, sign-out and password change.

use super::*;

// ---- sign-in -------------------------------------------------------------

pub(super) fn login_form(
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
        availability: None,
        hours: None,
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

pub(super) fn nonce_of(ext: &axum::http::Extensions) -> String {
    ext.get::<session::Nonce>()
        .map(|n| n.0.clone())
        .unwrap_or_default()
}

pub(super) async fn login_page(
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

pub(super) async fn login_submit(
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
    if !app.allow_login(ip) {
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

pub(super) async fn logout(
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

pub(super) async fn password_page(State(app): State<AppState>, s: Session) -> Response {
    let tz = tz(&app, &s);
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

pub(super) async fn password_submit(
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
    let tz = tz(&app, &s);
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

pub(super) async fn prefs_page(State(app): State<AppState>, s: Session) -> Response {
    let tz = tz(&app, &s);
    let ctx = ctx(&app, &s, &tz);
    let body = views::login::prefs(&ctx, &s.prefs, None);
    html_page(
        StatusCode::OK,
        views::layout(&ctx, ctx.t(T::Preferences), body),
    )
}

pub(super) async fn prefs_submit(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    match app
        .set_prefs(&s.user, f.get("lang").cloned(), f.get("tz").cloned())
        .await
    {
        Ok(()) => Redirect::to("/account/prefs?saved=1").into_response(),
        Err(AppError::Invalid(m)) => {
            let tz = tz(&app, &s);
            let ctx = ctx(&app, &s, &tz);
            let body = views::login::prefs(&ctx, &s.prefs, Some((false, m)));
            html_page(
                StatusCode::BAD_REQUEST,
                views::layout(&ctx, ctx.t(T::Preferences), body),
            )
        }
        Err(e) => WebError::from(e).into_response(),
    }
}

/// `GET /admin/status`: workers, deliveries with errors, channels that are
/// configured but not connected (admins only).
pub(super) async fn status_page(State(app): State<AppState>, s: Session) -> Response {
    if let Err(e) = Caller::Staff(s.user.clone()).check(crate::app::perm::Perm::ViewWorkers, None) {
        return error_page(&app, &s, e);
    }
    let open = match app.store.read(|r| r.outbox_open(200)).await {
        Ok(o) => o,
        Err(e) => return WebError::from(AppError::from(e)).into_response(),
    };
    let tz = tz(&app, &s);
    let ctx = ctx(&app, &s, &tz);
    let body = html! {
        (views::topbar(&ctx))
        main class="page" {
            h1 { (ctx.t(T::SystemStatus)) }
            h2 { (ctx.t(T::Workers)) }
            table class="table" {
                thead { tr { th { "" } th { (ctx.t(T::State)) } th { (ctx.t(T::LastSuccess)) } th { (ctx.t(T::LastError)) } th class="num" { (ctx.t(T::Restarts)) } } }
                tbody {
                    @for w in app.workers.snapshot() {
                        tr {
                            td { (w.name) }
                            td { span class={ "status " (w.state.as_str()) } { (w.state.as_str()) } }
                            td { (w.last_success.as_deref().unwrap_or("—")) }
                            td { (w.last_error.as_deref().unwrap_or("—")) @if let Some(at) = &w.last_error_at { br; small class="muted" { (at) } } }
                            td class="num" { (w.restarts) }
                        }
                    }
                }
            }
            h2 { (ctx.t(T::PendingDeliveries)) }
            @if open.is_empty() { p class="muted" { (ctx.t(T::AllClear)) } }
            @else {
                table class="table" {
                    thead { tr { th { "#" } th { (ctx.t(T::Channel)) } th { (ctx.t(T::State)) } th class="num" { (ctx.t(T::Attempts)) } th { (ctx.t(T::LastError)) } } }
                    tbody {
                        @for o in &open {
                            tr {
                                td { a href=(format!("/conversations/{}", o.conversation)) { (o.conversation) } }
                                td { (o.channel) }
                                td { (format!("{:?}", o.state).to_lowercase()) }
                                td class="num" { (o.attempts) }
                                td { (o.last_error.as_deref().unwrap_or("—")) }
                            }
                        }
                    }
                }
            }
            @let pending = app.config.pending_channels();
            @if !pending.is_empty() {
                h2 { (ctx.t(T::NotConnected)) }
                ul { @for (kind, name) in &pending { li { (kind) ": " (name) } } }
            }
        }
    };
    html_page(
        StatusCode::OK,
        views::layout(&ctx, ctx.t(T::SystemStatus), body),
    )
}

/// `GET /admin/teams`: teams and their members (admins and supervisors).
pub(super) async fn teams_page(State(app): State<AppState>, s: Session) -> Response {
    teams_render(&app, &s, None, StatusCode::OK).await
}

async fn teams_render(
    app: &AppState,
    s: &Session,
    flash: Option<String>,
    status: StatusCode,
) -> Response {
    let caller = Caller::Staff(s.user.clone());
    if let Err(e) = caller.check(crate::app::perm::Perm::ManageTeams, None) {
        return error_page(app, s, e);
    }
    let (teams, users) = match (app.teams().await, app.assignable_users(&caller).await) {
        (Ok(t), Ok(u)) => (t, u),
        (Err(e), _) | (_, Err(e)) => return error_page(app, s, e),
    };
    let strategies = match app.team_strategies().await {
        Ok(x) => x,
        Err(e) => return error_page(app, s, e),
    };
    let tz = tz(app, s);
    let ctx = ctx(app, s, &tz);
    let body = html! {
        (views::topbar(&ctx))
        main class="page" {
            h1 { (ctx.t(T::Teams)) }
            @if let Some(f) = &flash { p class="flash error" role="alert" { (f) } }
            @if teams.is_empty() { div class="empty" { p { (ctx.t(T::NoTeams)) } } }
            @for team in &teams {
                div class="card" {
                    h3 { (team.name) }
                    ul {
                        @for u in users.iter().filter(|u| u.teams.contains(&team.id)) {
                            li {
                                (u.name) " "
                                form method="post" action=(format!("/admin/teams/{}/members", team.id)) {
                                    (ctx.csrf_field())
                                    input type="hidden" name="user" value=(u.id);
                                    input type="hidden" name="member" value="0";
                                    button class="btn sm ghost" type="submit" aria-label=(format!("{} {}", ctx.t(T::Remove), u.name)) { "×" }
                                }
                            }
                        }
                    }
                    form method="post" action=(format!("/admin/teams/{}/members", team.id)) class="row" {
                        (ctx.csrf_field())
                        input type="hidden" name="member" value="1";
                        select name="user" aria-label=(ctx.t(T::Members)) {
                            @for u in users.iter().filter(|u| !u.teams.contains(&team.id)) { option value=(u.id) { (u.name) } }
                        }
                        button class="btn sm" type="submit" { (ctx.t(T::AddMember)) }
                    }
                    @let current = strategies.get(&team.id).copied().unwrap_or_default();
                    form method="post" action=(format!("/admin/teams/{}/routing", team.id)) class="row" {
                        (ctx.csrf_field())
                        label class="inline" for=(format!("routing-{}", team.id)) { (ctx.t(T::RoutingStrategy)) }
                        select name="strategy" id=(format!("routing-{}", team.id)) {
                            @for st in [crate::triage::Strategy::RoundRobin, crate::triage::Strategy::LeastLoaded, crate::triage::Strategy::BestMatch] {
                                option value=(st.as_str()) selected[st == current] { (views::strategy_label(&ctx, st)) }
                            }
                        }
                        button class="btn sm" type="submit" { (ctx.t(T::Save)) }
                    }
                }
            }
            form method="post" action="/admin/teams" class="card row" {
                (ctx.csrf_field())
                input name="name" required maxlength="60" placeholder=(ctx.t(T::NewTeam)) aria-label=(ctx.t(T::NewTeam));
                button class="btn primary" type="submit" { (ctx.t(T::NewTeam)) }
            }
        }
    };
    html_page(status, views::layout(&ctx, ctx.t(T::Teams), body))
}

pub(super) async fn team_create(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let name = f.get("name").cloned().unwrap_or_default();
    match app.create_team(&Caller::Staff(s.user.clone()), &name).await {
        Ok(_) => Redirect::to("/admin/teams").into_response(),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            teams_render(&app, &s, Some(e.to_string()), StatusCode::BAD_REQUEST).await
        }
        Err(e) => error_page(&app, &s, e),
    }
}

pub(super) async fn team_members(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(team): Path<u64>,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let Some(user) = f.get("user").and_then(|u| u.parse().ok()).map(UserId) else {
        return WebError::bad_request("pick a user").into_response();
    };
    let member = f.get("member").map(String::as_str) == Some("1");
    match app
        .set_membership(&Caller::Staff(s.user.clone()), TeamId(team), user, member)
        .await
    {
        Ok(()) => Redirect::to("/admin/teams").into_response(),
        Err(e) => error_page(&app, &s, e),
    }
}
