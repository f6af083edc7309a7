//! The side panel's forms: assign or take, tags, manual priority, snooze;
//! and a WhatsApp template sent from the reply box.

use super::conversation::render_conversation;
use super::inbox::view_of;
use super::*;

/// Run a change and go back to the conversation, or show why it failed.
async fn finish(
    app: &AppState,
    s: &Session,
    raw: &str,
    q: &HashMap<String, String>,
    result: Result<ConversationId, AppError>,
) -> Response {
    let view = view_of(q);
    match result {
        Ok(id) => {
            Redirect::to(&format!("/conversations/{id}?view={}", view.as_str())).into_response()
        }
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            let status = match e {
                AppError::Invalid(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::CONFLICT,
            };
            let flash = html! { p class="flash error" role="alert" { (e.to_string()) } };
            render_conversation(app, s, raw, view, Some(flash), ("", "reply"), status).await
        }
        Err(e) => error_page(app, s, e),
    }
}

fn conv_id(raw: &str) -> Result<ConversationId, AppError> {
    raw.parse::<u64>()
        .map(ConversationId)
        .map_err(|_| AppError::NotFound(format!("no conversation {raw:?}")))
}

/// What every side-panel form does: check the CSRF token and the id, run
/// `op`, then go back to the conversation or show why it failed.
async fn act<Op, Fut, T>(
    app: AppState,
    s: Session,
    headers: HeaderMap,
    raw: String,
    q: HashMap<String, String>,
    f: HashMap<String, String>,
    op: Op,
) -> Response
where
    Op: FnOnce(AppState, Caller, ConversationId, HashMap<String, String>) -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let result = match conv_id(&raw) {
        Ok(id) => op(app.clone(), Caller::Staff(s.user.clone()), id, f)
            .await
            .map(|_| id),
        Err(e) => Err(e),
    };
    finish(&app, &s, &raw, &q, result).await
}

pub(super) async fn assign(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Q,
    Form(f): F,
) -> Response {
    act(
        app,
        s,
        headers,
        raw,
        q.0,
        f,
        |app, caller, id, f| async move {
            let assignee = f.get("assignee").and_then(|v| v.parse().ok()).map(UserId);
            app.assign(&caller, id, assignee, f.contains_key("claim"))
                .await
        },
    )
    .await
}

pub(super) async fn tags(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Q,
    Form(f): F,
) -> Response {
    act(
        app,
        s,
        headers,
        raw,
        q.0,
        f,
        |app, caller, id, f| async move {
            let list = |k: &str| -> Vec<String> {
                f.get(k)
                    .map(|v| {
                        v.split(',')
                            .map(str::to_string)
                            .filter(|t| !t.trim().is_empty())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            app.tag(&caller, id, &list("add"), &list("remove")).await
        },
    )
    .await
}

pub(super) async fn priority(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Q,
    Form(f): F,
) -> Response {
    act(
        app,
        s,
        headers,
        raw,
        q.0,
        f,
        |app, caller, id, f| async move {
            let prio = match f.get("priority").map(String::as_str) {
                Some("P1") => Priority::P1,
                Some("P2") => Priority::P2,
                Some("P3") => Priority::P3,
                Some("P4") => Priority::P4,
                _ => {
                    return Err(AppError::Invalid(
                        "priority must be P1, P2, P3 or P4".into(),
                    ));
                }
            };
            let reason = f.get("reason").cloned().unwrap_or_default();
            app.override_priority(&caller, id, prio, &reason).await
        },
    )
    .await
}

/// `until` is a local date and time (`datetime-local`) in the user's time zone.
pub(super) async fn snooze(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Q,
    Form(f): F,
) -> Response {
    let tz = tz(&app, &s);
    act(
        app,
        s,
        headers,
        raw,
        q.0,
        f,
        |app, caller, id, f| async move {
            let until = f
                .get("until")
                .and_then(|v| v.parse::<jiff::civil::DateTime>().ok())
                .and_then(|dt| dt.to_zoned_datetime(tz).ok())
                .map(|z| Ts::from_jiff(z.timestamp()));
            match until {
                None => Err(AppError::Invalid(
                    "pick a date and time to snooze until".into(),
                )),
                Some(t) if t <= app.clock.now() => {
                    Err(AppError::Invalid("pick a time in the future".into()))
                }
                Some(t) => app.set_status(&caller, id, Status::Snoozed, Some(t)).await,
            }
        },
    )
    .await
}

pub(super) async fn team(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Q,
    Form(f): F,
) -> Response {
    act(
        app,
        s,
        headers,
        raw,
        q.0,
        f,
        |app, caller, id, f| async move {
            let team = f.get("team").and_then(|v| v.parse().ok()).map(TeamId);
            app.assign_team(&caller, id, team).await
        },
    )
    .await
}

/// `POST /conversations/{id}/private`: continue this conversation privately.
pub(super) async fn private(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Q,
    Form(f): F,
) -> Response {
    act(
        app,
        s,
        headers,
        raw,
        q.0,
        f,
        |app, caller, id, _| async move { app.set_visibility(&caller, id, false).await },
    )
    .await
}

/// `POST /conversations/{id}/whatsapp-template`: send one of the channel's
/// approved templates (`template` = its name), the way to reach a WhatsApp
/// customer outside the 24-hour window.
pub(super) async fn whatsapp_template(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Q,
    Form(f): F,
) -> Response {
    act(
        app,
        s,
        headers,
        raw,
        q.0,
        f,
        |app, caller, id, f| async move {
            let name = f.get("template").map(String::as_str).unwrap_or("");
            app.reply_template(&caller, id, name).await
        },
    )
    .await
}

/// `POST /conversations/{id}/category`: `category` = a category id, or
/// empty to let triage decide again.
pub(super) async fn category(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Q,
    Form(f): F,
) -> Response {
    act(
        app,
        s,
        headers,
        raw,
        q.0,
        f,
        |app, caller, id, f| async move {
            let category = f
                .get("category")
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty());
            app.set_category(&caller, id, category).await
        },
    )
    .await
}

/// `POST /conversations/{id}/tier`: escalate or de-escalate (`tier` 1–3)
/// with a `reason`.
pub(super) async fn tier(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Q,
    Form(f): F,
) -> Response {
    act(
        app,
        s,
        headers,
        raw,
        q.0,
        f,
        |app, caller, id, f| async move {
            let Some(tier) = f.get("tier").and_then(|t| t.trim().parse::<u8>().ok()) else {
                return Err(AppError::Invalid("tier must be 1, 2 or 3".into()));
            };
            let reason = f.get("reason").cloned().unwrap_or_default();
            app.set_tier(&caller, id, tier, &reason).await
        },
    )
    .await
}

/// `POST /conversations/{id}/messages/{mid}/review`: a supervisor approves
/// (`approve=1`) or rejects (`approve=0`, with a `reason`) a held reply.
pub(super) async fn review(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path((raw, mid)): Path<(String, String)>,
    q: Q,
    Form(f): F,
) -> Response {
    act(
        app,
        s,
        headers,
        raw,
        q.0,
        f,
        |app, caller, id, f| async move {
            let Ok(mid) = mid.parse::<u64>().map(MessageId) else {
                return Err(AppError::NotFound(format!("no message {mid:?}")));
            };
            let approve = match f.get("approve").map(String::as_str) {
                Some("1") => true,
                Some("0") => false,
                _ => return Err(AppError::Invalid("approve must be 1 or 0".into())),
            };
            let reason = f.get("reason").cloned().unwrap_or_default();
            app.review_reply(&caller, id, mid, approve, &reason).await
        },
    )
    .await
}
