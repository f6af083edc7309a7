//! Mail administration pages: the quarantine (admins) and attachment
//! downloads (anyone who may see the conversation).

use super::*;

type F = Form<HashMap<String, String>>;

fn human_size(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KB", n as f64 / (1 << 10) as f64),
        n => format!("{n} B"),
    }
}

/// `GET /admin/quarantine`: mail that could not be stored, with its reason.
pub(super) async fn quarantine_page(State(app): State<AppState>, s: Session) -> Response {
    let caller = Caller::Staff(s.user.clone());
    let items = match app.quarantine(&caller, true).await {
        Ok(i) => i,
        Err(e) => return error_page(&app, &s, e),
    };
    let tz = tz(&app, &s);
    let ctx = ctx(&app, &s, &tz);
    let body = html! {
        (views::topbar(&ctx))
        main class="page" {
            h1 { (ctx.t(T::Quarantine)) }
            p class="muted" { (ctx.t(T::QuarantineHelp)) }
            @if items.is_empty() {
                p class="empty" { (ctx.t(T::QuarantineEmpty)) }
            } @else {
                table class="table" id="quarantine" {
                    thead { tr {
                        th { "#" } th { (ctx.t(T::Channel)) } th { (ctx.t(T::Source)) }
                        th { (ctx.t(T::Reason)) } th class="num" { (ctx.t(T::Size)) } th { "" }
                    } }
                    tbody {
                        @for q in &items {
                            tr data-id=(q.id) {
                                td { (q.id) br; small class="muted" { (ctx.when(q.created_at)) } }
                                td { (q.channel) }
                                td { (q.source) }
                                td { (q.reason) }
                                td class="num" { (human_size(q.size)) }
                                td {
                                    @if let Some(r) = &q.resolved {
                                        span class="status idle" { (ctx.t(T::Resolved)) ": " (r) }
                                    } @else {
                                        @if q.raw.is_some() {
                                            a href=(format!("/admin/quarantine/{}/raw", q.id)) { (ctx.t(T::DownloadRaw)) } " "
                                            form method="post" action=(format!("/admin/quarantine/{}/reprocess", q.id)) class="inline" {
                                                (ctx.csrf_field())
                                                button class="btn" type="submit" { (ctx.t(T::Reprocess)) }
                                            }
                                        }
                                        form method="post" action=(format!("/admin/quarantine/{}/dismiss", q.id)) class="inline" {
                                            (ctx.csrf_field())
                                            button class="btn" type="submit" { (ctx.t(T::Dismiss)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html_page(
        StatusCode::OK,
        views::layout(&ctx, ctx.t(T::Quarantine), body),
    )
}

/// `GET /admin/quarantine/{id}/raw`: the mail exactly as received.
pub(super) async fn quarantine_raw(
    State(app): State<AppState>,
    s: Session,
    Path(id): Path<u64>,
) -> Response {
    match app
        .quarantine_item(&Caller::Staff(s.user.clone()), id)
        .await
    {
        Ok(item) => match item.raw {
            Some(raw) => (
                [
                    (header::CONTENT_TYPE, "message/rfc822".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"quarantine-{id}.eml\""),
                    ),
                ],
                raw,
            )
                .into_response(),
            None => WebError::new(StatusCode::NOT_FOUND, "too large: it was never downloaded")
                .into_response(),
        },
        Err(e) => error_page(&app, &s, e),
    }
}

/// `POST /admin/quarantine/{id}/reprocess|dismiss`.
pub(super) async fn quarantine_resolve(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path((id, action)): Path<(u64, String)>,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let reprocess = match action.as_str() {
        "reprocess" => true,
        "dismiss" => false,
        _ => return WebError::new(StatusCode::NOT_FOUND, "no such action").into_response(),
    };
    match app
        .quarantine_resolve(&Caller::Staff(s.user.clone()), id, reprocess)
        .await
    {
        Ok(_) => Redirect::to("/admin/quarantine").into_response(),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            WebError::new(StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
        Err(e) => error_page(&app, &s, e),
    }
}

/// `GET /conversations/{id}/attachments/{sha256}`: a stored attachment of a
/// message in that conversation, always as a download (never rendered).
pub(super) async fn attachment(
    State(app): State<AppState>,
    s: Session,
    Path((id, sha)): Path<(String, String)>,
) -> Response {
    let id = match parse_id(&id, "conversation id") {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let detail = match app
        .conversation(&Caller::Staff(s.user.clone()), ConversationId(id))
        .await
    {
        Ok(d) => d,
        Err(e) => return error_page(&app, &s, e),
    };
    let found = detail
        .messages
        .iter()
        .flat_map(|m| m.attachments.iter())
        .find(|a| a.sha256.as_deref() == Some(sha.as_str()))
        .cloned();
    let (Some(att), Some(path)) = (
        found,
        crate::app::email::attachment_path(&app.config.server.data, &sha),
    ) else {
        return WebError::new(StatusCode::NOT_FOUND, "no such attachment").into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let name: String = att
                .filename
                .chars()
                .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
                .collect();
            (
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
                ],
                bytes,
            )
                .into_response()
        }
        Err(_) => {
            WebError::new(StatusCode::NOT_FOUND, "the attachment file is missing").into_response()
        }
    }
}
