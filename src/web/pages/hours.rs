//! Admin → Business hours (calendar, automatic replies, follow-ups, preview,
//! satisfaction, scheduled jobs), cancelling a job, and "send later" from
//! the reply box.

use super::conversation::{read_multipart, render_conversation};
use super::inbox::view_of;
use super::*;
use crate::app::conversations::NewAttachment;
use crate::clock::Calendar;
use crate::web::api_hours::{hours_access, parse_after};
use axum::extract::FromRequest;
use views::calendars::{ChannelAutoForm, ExtraForm, ExtraPage};
use views::hours::{self as hv, AutoReplyForm, CalendarForm, FollowupForm, PreviewAsk};

/// Jobs per page of the admin list.
const JOBS_PER_PAGE: usize = 25;

/// What the page shows after a submit: the section's form as typed, and a
/// message next to it.
#[derive(Default)]
pub(super) struct Edited {
    pub(super) cal: Option<CalendarForm>,
    pub(super) auto: Option<AutoReplyForm>,
    pub(super) follow: Option<FollowupForm>,
    pub(super) extra: Option<ExtraForm>,
    pub(super) chan_auto: Option<ChannelAutoForm>,
    pub(super) flash: Option<(&'static str, bool, String)>,
}

/// Every channel name a conversation can have (for the preview).
pub(in crate::web) fn channel_names(app: &AppState) -> Vec<String> {
    let c = &app.config.channel;
    let mut out: Vec<String> = vec!["api".into()];
    out.extend(c.api.iter().map(|x| x.name.clone()));
    out.extend(c.webchat.iter().map(|x| x.name.clone()));
    out.extend(app.email_channels().into_iter().map(|(x, _)| x.name));
    out.extend(app.config.social_channels().into_iter().map(|(_, n)| n));
    if let Ok(m) = app.connectors.read() {
        out.extend(m.keys().cloned());
    }
    if let Some(h) = &app.clock_state().settings.hours {
        out.extend(h.channel.keys().cloned());
    }
    out.sort();
    out.dedup();
    out
}

/// IANA zone names for the time zone field's suggestions.
fn zones() -> &'static [String] {
    static ZONES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    ZONES.get_or_init(|| {
        let mut v: Vec<String> = jiff::tz::db()
            .available()
            .map(|n| n.as_str().to_string())
            .filter(|n| n.contains('/') && !n.starts_with("Etc/") && !n.starts_with("SystemV/"))
            .collect();
        v.push("UTC".into());
        v.sort();
        v.dedup();
        v
    })
}

/// The preview's answer.
pub(in crate::web) async fn preview_of(app: &AppState, ask: PreviewAsk) -> hv::PreviewShown {
    let now = app.clock.now();
    let ch = (!ask.channel.is_empty()).then_some(ask.channel.as_str());
    // Without the store (unavailable), the preview lacks only the FAQ answer.
    let faq = app.faq_answer_for(&ask.text).await.unwrap_or(None);
    let preview = app.clock_preview(ch, &ask.lang, now, faq.as_deref());
    let state = app.clock_state();
    let next_text = preview.next_opening.map(|t| {
        state
            .calendar(&ask.channel, None)
            .describe_instant(t, &ask.lang)
    });
    hv::PreviewShown {
        ask,
        preview,
        next_text,
    }
}

fn ask_of(q: &HashMap<String, String>, lang: Lang) -> PreviewAsk {
    let lang = match q.get("lang").map(String::as_str) {
        Some("es") => "es",
        Some("en") => "en",
        _ => lang.code(),
    };
    PreviewAsk {
        channel: q.get("channel").cloned().unwrap_or_default(),
        lang: lang.into(),
        text: q
            .get("text")
            .map(|t| t.chars().take(500).collect())
            .unwrap_or_default(),
    }
}

pub(super) async fn render(
    app: &AppState,
    s: &Session,
    q: &HashMap<String, String>,
    ed: Edited,
    status: StatusCode,
) -> Response {
    let caller = Caller::Staff(s.user.clone());
    let manage = match hours_access(&caller) {
        Ok(m) => m,
        Err(e) => return error_page(app, s, e),
    };
    let state = app.clock_state();
    let satisfaction = match app.satisfaction(&caller).await {
        Ok(x) => x,
        Err(e) => return error_page(app, s, e),
    };
    let after = q.get("after").and_then(|a| parse_after(a).ok());
    let jobs = if manage {
        match app.jobs_page(&caller, after, JOBS_PER_PAGE + 1).await {
            Ok(x) => Some(x),
            Err(e) => return error_page(app, s, e),
        }
    } else {
        None
    };
    let digest = if manage {
        match app.clock_digest(&caller).await {
            Ok(d) => Some(d),
            Err(e) => return error_page(app, s, e),
        }
    } else {
        None
    };
    let teams: Vec<String> = match app.teams().await {
        Ok(t) => t.into_iter().map(|t| t.name).collect(),
        Err(e) => return error_page(app, s, e),
    };
    let names: HashMap<UserId, String> = match app.store.read(|r| r.users()).await {
        Ok(u) => u.into_iter().map(|u| (u.id, u.name)).collect(),
        Err(e) => return error_page(app, s, AppError::from(e)),
    };
    let channels = channel_names(app);
    let preview = preview_of(app, ask_of(q, s.lang)).await;
    let tz = tz(app, s);
    let ctx = ctx(app, s, &tz);
    let default_tz = app.config.default_timezone();
    let (jobs, total, next) = match jobs {
        Some((mut list, total)) => {
            let next = (list.len() > JOBS_PER_PAGE).then(|| {
                list.truncate(JOBS_PER_PAGE);
                list.last()
                    .map(|j| format!("{}:{}", j.due.0, j.id))
                    .unwrap_or_default()
            });
            (Some(list), total, next)
        }
        None => (None, 0, None),
    };
    let extra = ed
        .extra
        .or_else(|| {
            q.get("edit")
                .and_then(|t| ExtraForm::of(&state.settings, t))
        })
        .unwrap_or_default();
    let chan_auto = ed
        .chan_auto
        .or_else(|| {
            q.get("autoedit")
                .and_then(|c| ChannelAutoForm::of(&state.settings, c))
        })
        .unwrap_or_default();
    let page = hv::HoursPage {
        source: state.source,
        settings: &state.settings,
        calendar: &state.default,
        clock: &state,
        more: ExtraPage {
            extra,
            chan_auto,
            teams: &teams,
            digest,
        },
        manage,
        cal: ed
            .cal
            .unwrap_or_else(|| CalendarForm::of(&state.settings, &default_tz)),
        auto: ed
            .auto
            .unwrap_or_else(|| AutoReplyForm::of(&state.settings.autoreply)),
        follow: ed
            .follow
            .unwrap_or_else(|| FollowupForm::of(&state.settings.followup)),
        flash: ed.flash,
        channels: &channels,
        preview,
        satisfaction: Some(&satisfaction),
        jobs: jobs.as_ref().map(|list| hv::JobsList {
            jobs: list,
            total,
            next,
            first_page: after.is_none(),
            names: &names,
        }),
        zones: zones(),
    };
    let body = html! { (views::topbar(&ctx)) (hv::page(&ctx, &page)) };
    html_page(status, views::layout(&ctx, ctx.t(T::BusinessHours), body))
}

/// `GET /admin/hours` (admins and supervisors; auditors read only):
/// `?saved=SECTION` after a change, `?after=DUE_MS:ID` for the next page of
/// jobs, `?channel=&lang=&text=` for the preview without scripts.
pub(super) async fn page(State(app): State<AppState>, s: Session, q: Q) -> Response {
    let lang = s.lang;
    let t = |k| crate::web::i18n::t(lang, k);
    let flash = match q.get("saved").map(String::as_str) {
        Some("calendar") => {
            let mut m = t(T::Saved).to_string();
            if let Some(n) = q.get("ical").and_then(|n| n.parse::<usize>().ok()) {
                m.push_str(&format!(" {} {n}", t(T::IcalAdded)));
            }
            Some(("calendar", true, m))
        }
        Some("autoreply") => Some(("autoreply", true, t(T::Saved).to_string())),
        Some("followup") => Some(("followup", true, t(T::Saved).to_string())),
        Some("reset") => Some(("reset", true, t(T::HoursResetDone).to_string())),
        Some("calendars") => Some(("calendars", true, t(T::Saved).to_string())),
        Some("autoreply-channels") => Some(("autoreply-channels", true, t(T::Saved).to_string())),
        _ if q.get("removed").is_some_and(|r| r == "calendars") => {
            Some(("calendars", true, t(T::CalendarRemoved).to_string()))
        }
        _ if q.get("removed").is_some_and(|r| r == "autoreply-channels") => Some((
            "autoreply-channels",
            true,
            t(T::ChannelAutoRemoved).to_string(),
        )),
        _ if q.contains_key("cancelled") => {
            Some(("jobs", true, t(T::JobCancelledFlash).to_string()))
        }
        _ => None,
    };
    let ed = Edited {
        flash,
        ..Default::default()
    };
    render(&app, &s, &q.0, ed, StatusCode::OK).await
}

/// `GET /admin/hours/preview?channel=&lang=&text=`: the preview's result
/// (htmx fragment).
pub(super) async fn preview(State(app): State<AppState>, s: Session, q: Q) -> Response {
    if let Err(e) = hours_access(&Caller::Staff(s.user.clone())) {
        return WebError::from(e).into_response();
    }
    let shown = preview_of(&app, ask_of(&q.0, s.lang)).await;
    let tz = tz(&app, &s);
    let ctx = ctx(&app, &s, &tz);
    html_page(StatusCode::OK, hv::preview_result(&ctx, &shown))
}

/// A form posted as `application/x-www-form-urlencoded` or
/// `multipart/form-data` (with files); the Origin is checked before a
/// multipart body is read.
pub(in crate::web) async fn read_form(
    app: &AppState,
    headers: &HeaderMap,
    req: axum::extract::Request,
) -> Result<(HashMap<String, String>, Vec<NewAttachment>), Response> {
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if multipart {
        session::check_origin(headers).map_err(IntoResponse::into_response)?;
        let mp = axum::extract::Multipart::from_request(req, app)
            .await
            .map_err(IntoResponse::into_response)?;
        read_multipart(mp)
            .await
            .map_err(|_| WebError::bad_request("the form could not be read").into_response())
    } else {
        Form::<HashMap<String, String>>::from_request(req, app)
            .await
            .map(|Form(f)| (f, Vec::new()))
            .map_err(IntoResponse::into_response)
    }
}

/// The holidays of an iCalendar file (`YYYY-MM-DD`, yearly `MM-DD`).
fn ical_holidays(bytes: &[u8]) -> Result<Vec<String>, String> {
    let text = String::from_utf8_lossy(bytes);
    let empty: [&[String]; 7] = [&[]; 7];
    let mut cal = Calendar::parse("UTC", empty, &[])?;
    cal.add_ical(&text)?;
    Ok(cal.holidays())
}

/// Save settings built from a section's form; on an error the page comes
/// back with the form as typed and the reason next to it.
pub(super) async fn save(
    app: &AppState,
    s: &Session,
    section: &'static str,
    built: Result<crate::app::hours::ClockSettings, String>,
    what: &str,
    ed: Edited,
    query: String,
) -> Response {
    let caller = Caller::Staff(s.user.clone());
    let result = match built {
        Ok(settings) => app.save_clock_settings(&caller, settings, what).await,
        Err(m) => Err(AppError::Invalid(m)),
    };
    match result {
        Ok(()) => {
            Redirect::to(&format!("/admin/hours?saved={section}{query}#{section}")).into_response()
        }
        Err(AppError::Invalid(m)) => {
            let lead = crate::web::i18n::t(s.lang, T::HoursNotSaved);
            let ed = Edited {
                flash: Some((section, false, format!("{lead} {m}"))),
                ..ed
            };
            render(app, s, &HashMap::new(), ed, StatusCode::BAD_REQUEST).await
        }
        Err(e) => error_page(app, s, e),
    }
}

/// The refusal for those who may not change the settings (none: go on).
pub(super) fn refused(app: &AppState, s: &Session) -> Option<Response> {
    Caller::Staff(s.user.clone())
        .check(crate::app::perm::Perm::ManageHours, None)
        .err()
        .map(|e| error_page(app, s, e))
}

/// `POST /admin/hours/calendar`: time zone, each weekday's ranges,
/// holidays, and an iCal file whose holidays are added (multipart).
pub(super) async fn save_calendar(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> Response {
    let (f, files) = match read_form(&app, &headers, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    if let Some(r) = refused(&app, &s) {
        return r;
    }
    let mut form = CalendarForm::from_form(&f);
    let mut query = String::new();
    if let Some(file) = files.iter().find(|x| !x.bytes.is_empty()) {
        match ical_holidays(&file.bytes) {
            Ok(found) => {
                let mut have = hv::split_list(&form.holidays);
                let before = have.len();
                for h in found {
                    if !have.contains(&h) {
                        have.push(h);
                    }
                }
                query = format!("&ical={}", have.len() - before);
                form.holidays = have.join("\n");
            }
            Err(e) => {
                let lead = crate::web::i18n::t(s.lang, T::IcalUnreadable);
                let ed = Edited {
                    flash: Some(("calendar", false, format!("{lead} {e}"))),
                    cal: Some(form),
                    ..Default::default()
                };
                return render(&app, &s, &HashMap::new(), ed, StatusCode::BAD_REQUEST).await;
            }
        }
    }
    let built = form.apply(&app.clock_state().settings);
    let ed = Edited {
        cal: Some(form),
        ..Default::default()
    };
    save(&app, &s, "calendar", built, "business hours", ed, query).await
}

/// `POST /admin/hours/autoreply`.
pub(super) async fn save_autoreply(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    if let Some(r) = refused(&app, &s) {
        return r;
    }
    let form = AutoReplyForm::from_form(&f);
    let built = form.apply(&app.clock_state().settings);
    let ed = Edited {
        auto: Some(form),
        ..Default::default()
    };
    save(
        &app,
        &s,
        "autoreply",
        built,
        "automatic replies",
        ed,
        String::new(),
    )
    .await
}

/// `POST /admin/hours/followup`.
pub(super) async fn save_followup(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    if let Some(r) = refused(&app, &s) {
        return r;
    }
    let form = FollowupForm::from_form(&f);
    let built = form.apply(&app.clock_state().settings);
    let ed = Edited {
        follow: Some(form),
        ..Default::default()
    };
    save(&app, &s, "followup", built, "follow-ups", ed, String::new()).await
}

/// `POST /admin/hours/reset`: the config file's settings again.
pub(super) async fn reset(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    match app
        .reset_clock_settings(&Caller::Staff(s.user.clone()))
        .await
    {
        Ok(()) => Redirect::to("/admin/hours?saved=reset").into_response(),
        Err(e) => error_page(&app, &s, e),
    }
}

/// `POST /jobs/{id}/cancel` (`next`: where to go back): admins and
/// supervisors any job, staff their own scheduled replies.
pub(super) async fn cancel_job(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let Ok(id) = raw.parse::<u64>() else {
        return error_page(&app, &s, AppError::NotFound(format!("no job {raw:?}")));
    };
    let next = match f.get("next") {
        Some(n) => session::safe_next(Some(n)),
        None => "/admin/hours#jobs".into(),
    };
    match app.cancel_job(&Caller::Staff(s.user.clone()), id).await {
        Ok(()) if next.starts_with("/admin/hours") => {
            Redirect::to("/admin/hours?cancelled=1#jobs").into_response()
        }
        Ok(()) => Redirect::to(&next).into_response(),
        Err(AppError::Invalid(m)) if next.starts_with("/admin/hours") => {
            let ed = Edited {
                flash: Some(("jobs", false, m)),
                ..Default::default()
            };
            render(&app, &s, &HashMap::new(), ed, StatusCode::BAD_REQUEST).await
        }
        Err(e @ AppError::Invalid(_)) => WebError::from(e).into_response(),
        Err(e) => error_page(&app, &s, e),
    }
}

/// A `datetime-local` value (`2026-05-01T10:30`) in `tz`.
pub(in crate::web) fn local_time(v: &str, tz: &jiff::tz::TimeZone) -> Option<Ts> {
    v.trim()
        .parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned_datetime(tz.clone()).ok())
        .map(|z| Ts::from_jiff(z.timestamp()))
}

/// `POST /conversations/{id}/schedule`: the reply box's "send later" (the
/// reply form's `text` and `mode`, and `at` in the user's time zone).
pub(super) async fn schedule(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Q,
    req: axum::extract::Request,
) -> Response {
    let (f, files) = match read_form(&app, &headers, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let view = view_of(&q);
    let Ok(id) = raw.parse::<u64>().map(ConversationId) else {
        return error_page(
            &app,
            &s,
            AppError::NotFound(format!("no conversation {raw:?}")),
        );
    };
    let text = f.get("text").cloned().unwrap_or_default();
    let mode = f.get("mode").map(String::as_str).unwrap_or("reply");
    let tz = tz(&app, &s);
    let lang = s.lang;
    let t = |k| crate::web::i18n::t(lang, k).to_string();
    let result = if mode == "note" {
        Err(AppError::Invalid(t(T::NoteCannotWait)))
    } else if !files.is_empty() {
        Err(AppError::Invalid(t(T::LaterNoFiles)))
    } else {
        match f.get("at").and_then(|v| local_time(v, &tz)) {
            None => Err(AppError::Invalid(t(T::PickSendTime))),
            Some(at) => app
                .schedule_reply(
                    &Caller::Staff(s.user.clone()),
                    id,
                    &text,
                    mode != "private",
                    at,
                )
                .await
                .map(|_| ()),
        }
    };
    match result {
        Ok(()) => Redirect::to(&format!(
            "/conversations/{id}?view={}#scheduled",
            view.as_str()
        ))
        .into_response(),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            let status = match e {
                AppError::Invalid(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::CONFLICT,
            };
            let flash = html! {
                p class="flash error" role="alert" id="later-error" { (t(T::NotScheduled)) " " (e.to_string()) }
            };
            render_conversation(&app, &s, &raw, view, Some(flash), (&text, mode), status).await
        }
        Err(e) => error_page(&app, &s, e),
    }
}
