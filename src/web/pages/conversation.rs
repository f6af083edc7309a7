//! The conversation page: timeline, reply (with the send-guard), status.

use super::inbox::{list_markup, shell, view_of};
use super::*;
use crate::app::conversations::NewAttachment;
use axum::extract::FromRequest;

// ---- conversation ------------------------------------------------------------

pub(super) async fn load(
    app: &AppState,
    s: &Session,
    raw: &str,
) -> Result<ConversationPage, AppError> {
    let id = parse_id(raw, "conversation").map_err(|e| AppError::NotFound(e.message))?;
    app.conversation_page(&Caller::Staff(s.user.clone()), ConversationId(id))
        .await
}

pub(super) async fn render_conversation(
    app: &AppState,
    s: &Session,
    raw: &str,
    view: InboxView,
    flash: Option<Markup>,
    (draft, mode): (&str, &str),
    status: StatusCode,
) -> Response {
    let tz = tz(app, s);
    let ctx = ctx(app, s, &tz);
    let result = async {
        let p = load(app, s, raw).await?;
        let c = &p.detail.view.conv;
        let kind = app.channel_kind(&c.channel);
        let read_only = s.user.role == Role::Auditor;
        let has_private = kind.is_some_and(ChannelKind::has_private);
        // On a public network, say so; a conversation moved to private
        // answers privately by default.
        let public_network = matches!(
            kind,
            Some(ChannelKind::X | ChannelKind::Facebook | ChannelKind::Mastodon | ChannelKind::Telegram)
        );
        let mode = if mode == "reply" && !c.public && has_private && public_network {
            "private"
        } else {
            mode
        };
        // WhatsApp: only templates may be sent 24 h after the customer's
        // last message; say so before the agent writes.
        let window_closed = kind == Some(ChannelKind::Whatsapp) && {
            let last_in = p
                .detail
                .messages
                .iter()
                .filter(|m| m.direction == Direction::In)
                .map(|m| m.sent_at)
                .max();
            !crate::app::whatsapp::window_open(last_in, app.clock.now())
        };
        let kind_of = |name: &str| app.channel_kind(name);
        let rules = app.triage.active();
        let cats = &rules.set.doc().categories;
        let main = html! {
            (cv::head(&ctx, &p, kind, read_only))
            @if let Some(f) = &flash { (f) }
            (cv::presence(&ctx, c.id, &app.presence.on(c.id, Some(s.user.id), app.clock.now())))
            (cv::timeline(&ctx, &p, cats))
            @if window_closed && !read_only {
                p class="flash error" role="status" id="wa-window" { (ctx.t(T::WhatsappWindow)) }
                (cv::whatsapp_templates(&ctx, c.id, &app.whatsapp_templates(&c.channel), view.as_str()))
            }
            (cv::reply_box(&ctx, &p, has_private, (draft, mode), read_only, view.as_str()))
            @if public_network && c.public && !read_only {
                div class="visibility row" id="visibility" {
                    span class="muted" { "🌐 " (ctx.t(T::WillBePublic)) }
                    @if has_private {
                        form method="post" action=(format!("/conversations/{}/private?view={}", c.id, view.as_str())) class="inline" {
                            (ctx.csrf_field())
                            button class="btn ghost" type="submit" { "🔒 " (ctx.t(T::ContinuePrivately)) }
                        }
                    }
                }
            }
        };
        let caller = Caller::Staff(s.user.clone());
        let suggested = if read_only {
            Vec::new()
        } else {
            app.canned_for(&caller, c.id, None, 5).await?
        };
        let users = if read_only {
            Vec::new()
        } else {
            app.assignable_users(&caller).await?
        };
        let teams = app.teams().await?;
        let record = app.triage_record(&caller, c.id).await?;
        let jobs = app.conversation_jobs(&caller, c.id).await?;
        let survey = app.conversation_survey(&caller, c.id).await?;
        let side = html! {
            (cv::side(&ctx, &p, &kind_of, html! {
                (views::triage::panel(&ctx, &p, &record, cats, read_only))
                (views::clock::conversation_card(&ctx, c.id, &jobs, survey.as_ref(), view.as_str()))
                @if !read_only { (cv::actions(&ctx, &p, &users, &teams)) }
                (views::canned::suggestions(&ctx, c.id, &suggested))
            }))
        };
        let list = list_markup(app, s, &ctx, view, &Filter::default(), None, Some(c.id)).await?;
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

/// `?insert=ID` pre-fills the reply with a rendered canned response (the
/// no-script way; the picker does it in place).
async fn insert_draft(
    app: &AppState,
    s: &Session,
    raw: &str,
    q: &HashMap<String, String>,
) -> String {
    let (Some(cid), Ok(conv)) = (
        q.get("insert").and_then(|v| v.parse::<u64>().ok()),
        raw.parse::<u64>(),
    ) else {
        return String::new();
    };
    app.canned_render(&Caller::Staff(s.user.clone()), ConversationId(conv), cid)
        .await
        .ok()
        .flatten()
        .and_then(Result::ok)
        .unwrap_or_default()
}

pub(super) async fn conversation(
    State(app): State<AppState>,
    s: Session,
    Path(raw): Path<String>,
    q: Q,
) -> Response {
    let draft = insert_draft(&app, &s, &raw, &q).await;
    render_conversation(
        &app,
        &s,
        &raw,
        view_of(&q),
        None,
        (&draft, "reply"),
        StatusCode::OK,
    )
    .await
}

pub(super) async fn timeline(
    State(app): State<AppState>,
    s: Session,
    Path(raw): Path<String>,
) -> Response {
    let tz = tz(&app, &s);
    let ctx = ctx(&app, &s, &tz);
    match load(&app, &s, &raw).await {
        Ok(p) => html_page(
            StatusCode::OK,
            cv::timeline(&ctx, &p, &app.triage.active().set.doc().categories),
        ),
        Err(e) => WebError::from(e).into_response(),
    }
}

/// The most a reply form may send: the attachments' limit plus room for
/// the text and the multipart framing.
const MAX_REPLY_FORM_BYTES: usize =
    crate::app::conversations::MAX_REPLY_ATTACHMENT_BYTES + (1 << 20);

/// Run a body extractor under a larger body limit than the server's default.
async fn with_body_limit<E>(req: axum::extract::Request, limit: usize) -> Result<E, E::Rejection>
where
    E: axum::extract::FromRequest<()> + Send + 'static,
{
    use tower::{Layer, ServiceExt};
    let svc = axum::extract::DefaultBodyLimit::max(limit).layer(tower::service_fn(
        |req: axum::extract::Request| async move {
            Ok::<_, Infallible>(E::from_request(req, &()).await)
        },
    ));
    match svc.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// Why a multipart reply form could not be read.
pub(super) enum Upload {
    /// Over the body limit.
    TooLarge,
    Bad,
}

/// A `multipart/form-data` reply form: its fields and its files (file
/// inputs left empty are skipped).
pub(super) async fn read_multipart(
    mut mp: axum::extract::Multipart,
) -> Result<(HashMap<String, String>, Vec<NewAttachment>), Upload> {
    let failed = |status: StatusCode| {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            Upload::TooLarge
        } else {
            Upload::Bad
        }
    };
    let mut fields = HashMap::new();
    let mut files = Vec::new();
    while let Some(field) = mp.next_field().await.map_err(|e| failed(e.status()))? {
        let name = field.name().unwrap_or("").to_string();
        match field.file_name().map(str::to_string) {
            Some(filename) => {
                let content_type = field.content_type().map(str::to_string);
                let bytes = field.bytes().await.map_err(|e| failed(e.status()))?;
                if filename.is_empty() && bytes.is_empty() {
                    continue;
                }
                files.push(NewAttachment {
                    filename,
                    content_type,
                    bytes: bytes.to_vec(),
                });
            }
            None => {
                let value = field.text().await.map_err(|e| failed(e.status()))?;
                fields.entry(name).or_insert(value);
            }
        }
    }
    Ok((fields, files))
}

/// `POST /conversations/{id}/reply`: a plain form (no files) or a
/// `multipart/form-data` one with the reply's attachments. Both carry the
/// CSRF token as the `csrf` field (or the `X-CSRF-Token` header).
pub(super) async fn reply(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
    q: Q,
    req: axum::extract::Request,
) -> Response {
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    let (f, files) = if multipart {
        // Refuse a cross-site post before reading a large body.
        if let Err(r) = session::check_origin(&headers) {
            return r.into_response();
        }
        let read =
            match with_body_limit::<axum::extract::Multipart>(req, MAX_REPLY_FORM_BYTES).await {
                Ok(mp) => read_multipart(mp).await,
                Err(_) => Err(Upload::Bad),
            };
        match read {
            Ok(x) => x,
            Err(why) => {
                let (status, key) = match why {
                    Upload::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, T::ReplyAttachTooLarge),
                    Upload::Bad => (StatusCode::BAD_REQUEST, T::ReplyAttachBadUpload),
                };
                let tz = tz(&app, &s);
                let ctx = ctx(&app, &s, &tz);
                let flash = html! { p class="flash error" role="alert" { (ctx.t(key)) } };
                return render_conversation(
                    &app,
                    &s,
                    &raw,
                    view_of(&q),
                    Some(flash),
                    ("", "reply"),
                    status,
                )
                .await;
            }
        }
    } else {
        match Form::<HashMap<String, String>>::from_request(req, &app).await {
            Ok(Form(f)) => (f, Vec::new()),
            Err(e) => return e.into_response(),
        }
    };
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    reply_submit(app, s, raw, q, f, files).await
}

async fn reply_submit(
    app: AppState,
    s: Session,
    raw: String,
    q: Q,
    f: HashMap<String, String>,
    files: Vec<NewAttachment>,
) -> Response {
    let view = view_of(&q);
    let text = f.get("text").cloned().unwrap_or_default();
    let mode = if f.contains_key("send_private") {
        "private"
    } else {
        f.get("mode").map(String::as_str).unwrap_or("reply")
    };
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
        let newer = d.messages.iter().any(|m| {
            m.id.0 > seen && m.author != Author::User(s.user.id) && m.direction != Direction::Note
        });
        if newer {
            let tz = tz(&app, &s);
            let ctx = ctx(&app, &s, &tz);
            let guard = html! {
                div class="guard" role="alert" {
                    strong { (ctx.t(T::NewMessages)) }
                    @if !files.is_empty() { p { (ctx.t(T::ReplyAttachAgain)) } }
                    // Submits the reply form itself, so edits made since are sent.
                    div class="actions" {
                        button class="btn primary" type="submit" form="reply" name="confirm" value="1" { (ctx.t(T::Send)) " ↵" }
                    }
                }
            };
            return render_conversation(
                &app,
                &s,
                &raw,
                view,
                Some(guard),
                (&text, mode),
                StatusCode::CONFLICT,
            )
            .await;
        }
    }
    let allow_personal = f.contains_key("allow_personal");
    let had_files = !files.is_empty();
    match app
        .reply_with_attachments(
            &caller,
            id,
            &text,
            (mode == "private", mode == "note"),
            allow_personal,
            files,
        )
        .await
    {
        Ok(_) => {
            Redirect::to(&format!("/conversations/{id}?view={}", view.as_str())).into_response()
        }
        Err(AppError::Conflict(e)) if e.starts_with(crate::app::conversations::PERSONAL_DATA) => {
            // Held: offer the private message (the same form, mode switched)
            // or publishing anyway.
            let tz = tz(&app, &s);
            let ctx = ctx(&app, &s, &tz);
            let guard = html! {
                div class="guard" role="alert" id="personal-data" {
                    strong { (e) }
                    @if had_files { p { (ctx.t(T::ReplyAttachAgain)) } }
                    div class="actions" {
                        button class="btn primary" type="submit" form="reply" name="send_private" value="1" { (ctx.t(T::SendPrivately)) }
                        button class="btn" type="submit" form="reply" name="allow_personal" value="1" { (ctx.t(T::PublishAnyway)) }
                    }
                }
            };
            render_conversation(
                &app,
                &s,
                &raw,
                view,
                Some(guard),
                (&text, mode),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            let tz = tz(&app, &s);
            let ctx = ctx(&app, &s, &tz);
            let flash = html! {
                p class="flash error" role="alert" {
                    (e.to_string())
                    @if had_files { " " (ctx.t(T::ReplyAttachAgain)) }
                }
            };
            render_conversation(
                &app,
                &s,
                &raw,
                view,
                Some(flash),
                (&text, mode),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => error_page(&app, &s, e),
    }
}

pub(super) async fn set_status(
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

/// `GET|POST /conversations/{id}/presence`: who else is here; a POST is this
/// browser's heartbeat (`activity` = viewing, replying or left).
pub(super) async fn presence(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    method: axum::http::Method,
    Path(raw): Path<String>,
    Form(f): F,
) -> Response {
    let Ok(id) = raw.parse::<u64>().map(ConversationId) else {
        return WebError::new(StatusCode::NOT_FOUND, "no such conversation").into_response();
    };
    let caller = Caller::Staff(s.user.clone());
    let others = if method == axum::http::Method::POST {
        if let Err(r) = s.verify(&headers, &f) {
            return r.into_response();
        }
        let activity = match f.get("activity").map(String::as_str) {
            Some("replying") => Some(crate::app::presence::Activity::Replying),
            Some("left") => None,
            _ => Some(crate::app::presence::Activity::Viewing),
        };
        app.presence_beat(&caller, id, activity).await
    } else {
        match app.conversation(&caller, id).await {
            Ok(_) => Ok(app.presence.on(id, Some(s.user.id), app.clock.now())),
            Err(e) => Err(e),
        }
    };
    let tz = tz(&app, &s);
    let ctx = ctx(&app, &s, &tz);
    match others {
        Ok(others) => html_page(StatusCode::OK, cv::presence(&ctx, id, &others)),
        Err(e) => WebError::from(e).into_response(),
    }
}
