//! Admin → Business hours: the calendars of teams and channels, and the
//! per-channel automatic replies (add or edit, remove).

use super::hours::{Edited, channel_names, refused, render, save};
use super::*;
use views::calendars::{ChannelAutoForm, ExtraForm, Owner, parse_target, without_calendar};

/// The page again with the form as typed and `message` next to it.
async fn refuse(
    app: &AppState,
    s: &Session,
    section: &'static str,
    message: String,
    ed: Edited,
) -> Response {
    let lead = crate::web::i18n::t(s.lang, T::HoursNotSaved);
    let ed = Edited {
        flash: Some((section, false, format!("{lead} {message}"))),
        ..ed
    };
    render(app, s, &HashMap::new(), ed, StatusCode::BAD_REQUEST).await
}

/// Whether `target` names an existing team or a configured channel.
async fn known_target(app: &AppState, target: &str) -> Result<bool, AppError> {
    Ok(match parse_target(target) {
        None => false,
        Some((Owner::Team, name)) => app.teams().await?.iter().any(|t| t.name == name),
        Some((Owner::Channel, name)) => channel_names(app).iter().any(|c| c == name),
    })
}

/// `POST /admin/hours/calendars`: add or replace a team's or channel's
/// calendar (`target` = `team:NAME` / `channel:NAME`, the weekdays'
/// ranges, `holidays`, an optional `timezone`).
pub(super) async fn save_calendar(
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
    let form = ExtraForm::from_form(&f);
    let t = |k| crate::web::i18n::t(s.lang, k).to_string();
    let settings = app.clock_state().settings.clone();
    let problem = if settings.hours.is_none() {
        Some(t(T::NeedDefaultCalendar))
    } else {
        match known_target(&app, &form.target).await {
            Ok(true) => None,
            Ok(false) => Some(t(T::PickCalendarTarget)),
            Err(e) => return error_page(&app, &s, e),
        }
    };
    let ed = Edited {
        extra: Some(form.clone()),
        ..Default::default()
    };
    if let Some(m) = problem {
        return refuse(&app, &s, "calendars", m, ed).await;
    }
    let built = form.apply(&settings);
    let what = format!("calendar of {}", form.target.replacen(':', " ", 1));
    save(&app, &s, "calendars", built, &what, ed, String::new()).await
}

/// `POST /admin/hours/calendars/remove` (`target`): the team or channel
/// follows the default calendar again (nothing to do when it has none).
pub(super) async fn remove_calendar(
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
    let target = f.get("target").map(String::as_str).unwrap_or("");
    let settings = app.clock_state().settings.clone();
    let after = without_calendar(&settings, target);
    if after == settings {
        return Redirect::to("/admin/hours#calendars").into_response();
    }
    let what = format!("calendar of {} removed", target.replacen(':', " ", 1));
    let caller = Caller::Staff(s.user.clone());
    match app.save_clock_settings(&caller, after, &what).await {
        Ok(()) => Redirect::to("/admin/hours?removed=calendars#calendars").into_response(),
        Err(AppError::Invalid(m)) => refuse(&app, &s, "calendars", m, Edited::default()).await,
        Err(e) => error_page(&app, &s, e),
    }
}

/// `POST /admin/hours/autoreply/channel`: a channel's own automatic
/// replies (`channel`; `when_closed`, `when_open`, `faq` each `on`, `off`
/// or empty for the general setting; optional texts).
pub(super) async fn save_channel_autoreply(
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
    let form = ChannelAutoForm::from_form(&f);
    let ed = Edited {
        chan_auto: Some(form.clone()),
        ..Default::default()
    };
    if !channel_names(&app).contains(&form.channel) {
        let m = crate::web::i18n::t(s.lang, T::PickChannel).to_string();
        return refuse(&app, &s, "autoreply-channels", m, ed).await;
    }
    let built = Ok(form.apply(&app.clock_state().settings));
    let what = format!("automatic replies of channel {}", form.channel);
    save(
        &app,
        &s,
        "autoreply-channels",
        built,
        &what,
        ed,
        String::new(),
    )
    .await
}

/// `POST /admin/hours/autoreply/channel/remove` (`channel`): the channel
/// follows the general automatic replies again.
pub(super) async fn remove_channel_autoreply(
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
    let channel = f.get("channel").cloned().unwrap_or_default();
    let mut settings = app.clock_state().settings.clone();
    if settings.autoreply.channel.remove(&channel).is_none() {
        return Redirect::to("/admin/hours#autoreply-channels").into_response();
    }
    let what = format!("automatic replies of channel {channel} removed");
    let caller = Caller::Staff(s.user.clone());
    match app.save_clock_settings(&caller, settings, &what).await {
        Ok(()) => Redirect::to("/admin/hours?removed=autoreply-channels#autoreply-channels")
            .into_response(),
        Err(AppError::Invalid(m)) => {
            refuse(&app, &s, "autoreply-channels", m, Edited::default()).await
        }
        Err(e) => error_page(&app, &s, e),
    }
}
