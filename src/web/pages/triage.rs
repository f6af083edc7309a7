//! Triage administration: the rules (view, edit, simulate, save, restore),
//! agents' routing profiles, teams' routing strategies; and each staff
//! member's availability from the top bar.

use super::*;
use crate::app::triage::{AgentEdit, SimReport};
use crate::triage::{Availability, Strategy};
use views::triage as tv;

/// Days a simulation looks back when the form does not say.
const DEFAULT_DAYS: u32 = 7;

/// What the editor shows after a submit: the text as sent, and why it was
/// not saved or what a simulation found.
#[derive(Default)]
struct Edited {
    text: Option<String>,
    note: String,
    days: Option<u32>,
    flash: Option<(bool, String)>,
    sim: Option<SimReport>,
}

fn days_of(f: &HashMap<String, String>) -> u32 {
    f.get("days")
        .and_then(|d| d.trim().parse::<u32>().ok())
        .unwrap_or(DEFAULT_DAYS)
        .clamp(1, 365)
}

async fn rules_render(app: &AppState, s: &Session, ed: Edited, status: StatusCode) -> Response {
    let caller = Caller::Staff(s.user.clone());
    let (current, versions) = match app.rules_versions(&caller).await {
        Ok(x) => x,
        Err(e) => return error_page(app, s, e),
    };
    let users = match app.store.read(|r| r.users()).await {
        Ok(u) => u,
        Err(e) => return error_page(app, s, AppError::from(e)),
    };
    let names: HashMap<UserId, String> = users.into_iter().map(|u| (u.id, u.name)).collect();
    let active = app.triage.active();
    let text = ed.text.unwrap_or_else(|| {
        if current.version == 0 {
            crate::triage::presets::PRESETS_TOML.to_string()
        } else {
            current.toml.clone()
        }
    });
    let tz = tz(app, s);
    let ctx = ctx(app, s, &tz);
    let page = tv::RulesPage {
        current: &current,
        versions: &versions,
        doc: active.set.doc(),
        names: &names,
        text: &text,
        note: &ed.note,
        days: ed.days.unwrap_or(DEFAULT_DAYS),
        flash: ed.flash,
        sim: ed.sim.as_ref(),
    };
    let body = html! { (views::topbar(&ctx)) (tv::rules_page(&ctx, &page)) };
    html_page(status, views::layout(&ctx, ctx.t(T::TriageRules), body))
}

/// `GET /admin/triage` (admins and supervisors); `?saved=N` / `?restored=N`
/// after a change.
pub(super) async fn rules_page(State(app): State<AppState>, s: Session, q: Q) -> Response {
    let lang = s.lang;
    let flash = if let Some(v) = q.get("saved").and_then(|v| v.parse::<u32>().ok()) {
        Some((true, format!("{} {v}", i18n_t(lang, T::RulesSaved))))
    } else {
        q.get("restored")
            .and_then(|v| v.parse::<u32>().ok())
            .map(|v| (true, format!("{} {v}", i18n_t(lang, T::RulesRestored))))
    };
    let ed = Edited {
        flash,
        ..Default::default()
    };
    rules_render(&app, &s, ed, StatusCode::OK).await
}

fn i18n_t(lang: Lang, key: T) -> &'static str {
    crate::web::i18n::t(lang, key)
}

/// An editor error at the top, naming the line.
fn rules_error(lang: Lang, lead: T, text: &str, message: &str) -> String {
    let line = tv::error_line(text, message);
    match line {
        Some(n) if !message.starts_with("line ") => {
            format!("{} line {n}: {message}", i18n_t(lang, lead))
        }
        _ => format!("{} {message}", i18n_t(lang, lead)),
    }
}

/// `POST /admin/triage`: save the editor's text (`toml`, `note`) as a new
/// version; on an error the page comes back with the text and the error.
pub(super) async fn rules_save(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let text = f.get("toml").cloned().unwrap_or_default();
    let note = f.get("note").cloned().unwrap_or_default();
    match app
        .save_rules(&Caller::Staff(s.user.clone()), &text, &note)
        .await
    {
        Ok(v) => Redirect::to(&format!("/admin/triage?saved={}", v.version)).into_response(),
        Err(AppError::Invalid(m)) => {
            let ed = Edited {
                flash: Some((false, rules_error(s.lang, T::RulesNotSaved, &text, &m))),
                days: Some(days_of(&f)),
                text: Some(text),
                note,
                sim: None,
            };
            rules_render(&app, &s, ed, StatusCode::BAD_REQUEST).await
        }
        Err(e) => error_page(&app, &s, e),
    }
}

/// `POST /admin/triage/simulate`: what the editor's text would change over
/// the last `days` days; the page comes back with the text kept.
pub(super) async fn rules_simulate(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let text = f.get("toml").cloned().unwrap_or_default();
    let note = f.get("note").cloned().unwrap_or_default();
    let days = days_of(&f);
    let (status, flash, sim) = match app
        .simulate_rules(&Caller::Staff(s.user.clone()), &text, days)
        .await
    {
        Ok(r) => (StatusCode::OK, None, Some(r)),
        Err(AppError::Invalid(m)) => (
            StatusCode::BAD_REQUEST,
            Some((false, rules_error(s.lang, T::RulesNotSimulated, &text, &m))),
            None,
        ),
        Err(e) => return error_page(&app, &s, e),
    };
    let ed = Edited {
        text: Some(text),
        note,
        days: Some(days),
        flash,
        sim,
    };
    rules_render(&app, &s, ed, status).await
}

/// `POST /admin/triage/versions/{v}/restore`: put an earlier version back
/// in force (as a new version).
pub(super) async fn rules_restore(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let Ok(version) = raw.parse::<u32>() else {
        return error_page(
            &app,
            &s,
            AppError::NotFound(format!("no rules version {raw:?}")),
        );
    };
    match app
        .restore_rules(&Caller::Staff(s.user.clone()), version)
        .await
    {
        Ok(v) => Redirect::to(&format!("/admin/triage?restored={}", v.version)).into_response(),
        Err(e @ AppError::Invalid(_)) => {
            let ed = Edited {
                flash: Some((false, e.to_string())),
                ..Default::default()
            };
            rules_render(&app, &s, ed, StatusCode::BAD_REQUEST).await
        }
        Err(e) => error_page(&app, &s, e),
    }
}

// ---- agents ----------------------------------------------------------------

async fn agents_render(
    app: &AppState,
    s: &Session,
    flash: Option<(bool, String)>,
    status: StatusCode,
) -> Response {
    let caller = Caller::Staff(s.user.clone());
    let (rows, teams) = match (app.agents(&caller).await, app.teams().await) {
        (Ok(r), Ok(t)) => (r, t),
        (Err(e), _) | (_, Err(e)) => return error_page(app, s, e),
    };
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|(u, _, _)| u.active && u.role != Role::Auditor)
        .collect();
    let tz = tz(app, s);
    let ctx = ctx(app, s, &tz);
    let body = html! {
        (views::topbar(&ctx))
        (tv::agents_page(&ctx, &rows, &teams, app.config.triage.default_capacity, flash))
    };
    html_page(status, views::layout(&ctx, ctx.t(T::Agents), body))
}

/// `GET /admin/agents` (admins and supervisors).
pub(super) async fn agents_page(State(app): State<AppState>, s: Session, q: Q) -> Response {
    let flash = q
        .contains_key("saved")
        .then(|| (true, i18n_t(s.lang, T::Saved).to_string()));
    agents_render(&app, &s, flash, StatusCode::OK).await
}

fn list_of(f: &HashMap<String, String>, key: &str) -> Vec<String> {
    f.get(key)
        .map(|v| {
            v.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `POST /admin/agents/{id}`: `tier`, `skills` and `languages`
/// (comma-separated), `capacity` (empty: the default).
pub(super) async fn agent_update(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let Ok(user) = raw.parse::<u64>().map(UserId) else {
        return error_page(&app, &s, AppError::NotFound(format!("no user {raw:?}")));
    };
    let edit = (|| {
        let tier = f
            .get("tier")
            .and_then(|t| t.trim().parse::<u8>().ok())
            .ok_or_else(|| AppError::Invalid("tier must be 1, 2 or 3".into()))?;
        let capacity = match f
            .get("capacity")
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
        {
            None => None,
            Some(c) => Some(c.parse::<u32>().map_err(|_| {
                AppError::Invalid("capacity must be a number from 1 to 1000".into())
            })?),
        };
        Ok::<_, AppError>(AgentEdit {
            tier,
            skills: list_of(&f, "skills"),
            languages: list_of(&f, "languages"),
            capacity,
        })
    })();
    let result = match edit {
        Ok(edit) => {
            app.update_agent(&Caller::Staff(s.user.clone()), user, edit)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Redirect::to("/admin/agents?saved=1").into_response(),
        Err(AppError::Invalid(m)) => {
            agents_render(&app, &s, Some((false, m)), StatusCode::BAD_REQUEST).await
        }
        Err(e) => error_page(&app, &s, e),
    }
}

/// `POST /admin/teams/{id}/routing`: `strategy` = round_robin,
/// least_loaded or best_match.
pub(super) async fn team_routing(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let Ok(team) = raw.parse::<u64>().map(TeamId) else {
        return error_page(&app, &s, AppError::NotFound(format!("no team {raw:?}")));
    };
    let Some(strategy) = f.get("strategy").and_then(|v| Strategy::parse(v)) else {
        return WebError::bad_request("strategy must be round_robin, least_loaded or best_match")
            .into_response();
    };
    match app
        .set_team_strategy(&Caller::Staff(s.user.clone()), team, strategy)
        .await
    {
        Ok(()) => Redirect::to("/admin/teams").into_response(),
        Err(e) => error_page(&app, &s, e),
    }
}

// ---- availability ------------------------------------------------------------

/// Where to go back to: the Referer's path when it is this site, else the inbox.
fn back_to(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let path = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            r.strip_prefix("https://")
                .or_else(|| r.strip_prefix("http://"))
        })
        .and_then(|rest| {
            let (h, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            (!host.is_empty() && h == host && !path.is_empty()).then(|| path.to_string())
        });
    session::safe_next(path.as_ref())
}

/// `POST /account/availability`: `availability` = online, away or offline
/// (staff, not auditors). htmx gets the top bar's switch back; a plain
/// form goes back where it came from.
pub(super) async fn availability(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let Some(a) = f
        .get("availability")
        .and_then(|v| Availability::parse(v.trim()))
    else {
        return WebError::bad_request("availability must be online, away or offline")
            .into_response();
    };
    if let Err(e) = app
        .set_availability(&Caller::Staff(s.user.clone()), a)
        .await
    {
        return error_page(&app, &s, e);
    }
    if headers.contains_key("hx-request") {
        let tz = tz(&app, &s);
        let ctx = ctx(&app, &s, &tz);
        return html_page(StatusCode::OK, views::availability_form(&ctx, a));
    }
    Redirect::to(&back_to(&headers)).into_response()
}
