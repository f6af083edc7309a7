//! Mail administration pages: channels and mailboxes, the quarantine
//! (admins), and attachment downloads (anyone who may see the conversation).

use super::*;
use crate::app::mailboxes::MailboxForm;
use crate::app::social_channels::{SOCIAL_KINDS, SocialChannelForm, kind_fields, split_list};

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
            // RFC 6266: an ASCII fallback, and the real name as UTF-8.
            let name: String = att
                .filename
                .chars()
                .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
                .map(|c| if c.is_ascii() { c } else { '_' })
                .collect();
            let utf8 = crate::web::urlencode(&att.filename);
            (
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\"; filename*=UTF-8''{utf8}"),
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

/// One line of the channels table.
struct ChannelRow {
    kind: String,
    name: String,
    src: &'static str,
    status: Option<crate::workers::WorkerStatus>,
    ui: bool,
    /// A social channel added here (its stored form, secrets included:
    /// only whether each is set is shown).
    social: Option<SocialChannelForm>,
}

fn security_select(name: &str, current: &str) -> Markup {
    html! {
        select name=(name) {
            @for (v, label) in [("tls", "TLS"), ("starttls", "STARTTLS"), ("none", "none (local test servers only)")] {
                option value=(v) selected[current == v] { (label) }
            }
        }
    }
}

/// What the channels page shows again after a form was posted.
#[derive(Default)]
struct Posted {
    mailbox: MailboxForm,
    /// The social form that failed (secrets cleared), shown open again.
    social: Option<SocialChannelForm>,
    error: Option<String>,
    notice: Option<String>,
}

impl Posted {
    fn new() -> Posted {
        Posted {
            mailbox: MailboxForm {
                poll_seconds: 60,
                ..MailboxForm::default()
            },
            ..Posted::default()
        }
    }
}

fn kind_label(kind: &str) -> &str {
    match kind {
        "telegram" => "Telegram",
        "mastodon" => "Mastodon",
        "x" => "X",
        "facebook" => "Facebook",
        "whatsapp" => "WhatsApp",
        other => other,
    }
}

/// A secret input: never filled in; when `set`, it says so and may be left
/// empty to keep the stored value.
fn secret_input(ctx: &Ctx, name: &str, set: bool, required: bool) -> Markup {
    html! {
        @if set {
            span class="muted secret-set" { (ctx.t(T::ChannelsSocialSecretSet)) } " "
            input name=(name) type="password" autocomplete="new-password" placeholder=(ctx.t(T::ChannelsSocialKeepSecret));
        } @else {
            input name=(name) type="password" autocomplete="new-password" required[required];
        }
    }
}

/// The fields of a social channel of `kind`: to add one (`stored` is
/// `None`) or to change one added here (`stored` is its stored form).
fn social_fields(
    ctx: &Ctx,
    kind: &str,
    form: &SocialChannelForm,
    stored: Option<&SocialChannelForm>,
) -> Markup {
    let Some(k) = kind_fields(kind) else {
        return html! {};
    };
    let set = |f: fn(&SocialChannelForm) -> &String| stored.is_some_and(|s| !f(s).is_empty());
    let account_label = match kind {
        "x" => T::ChannelsSocialUserId,
        "facebook" => T::ChannelsSocialPageId,
        _ => T::ChannelsSocialPhoneId,
    };
    let join = |v: &[String]| v.join(", ");
    html! {
        @if stored.is_none() {
            label { (ctx.t(T::MailboxName)) input name="name" required maxlength="40" pattern="[A-Za-z0-9_-]+" value=(form.name); }
        }
        @if let Some(default) = k.default_base_url {
            label { (ctx.t(T::ChannelsSocialBaseUrl)) " (base_url)" input name="base_url" type="url" placeholder=(default) value=(form.base_url); }
        } @else {
            label { (ctx.t(T::ChannelsSocialInstance)) " (base_url)" input name="base_url" type="url" required placeholder="https://mastodon.social" value=(form.base_url); }
        }
        @if let Some(key) = k.account_id {
            label { (ctx.t(account_label)) " (" (key) ")" input name="account_id" required autocomplete="off" value=(form.account_id); }
        }
        label { (ctx.t(T::ChannelsSocialToken)) " (" (k.token) ")" (secret_input(ctx, "token", set(|s| &s.token), true)) }
        @if k.webhook {
            label { (ctx.t(T::ChannelsSocialAppSecret)) " (app_secret)" (secret_input(ctx, "app_secret", set(|s| &s.app_secret), kind == "whatsapp")) }
            label { (ctx.t(T::ChannelsSocialVerifyToken)) " (verify_token)" (secret_input(ctx, "verify_token", set(|s| &s.verify_token), kind == "whatsapp")) }
            p class="muted" { (ctx.t(T::ChannelsSocialWebhookHint)) " " code { "/webhooks/" (if form.name.is_empty() { "NAME" } else { form.name.as_str() }) } }
        }
        @if kind != "whatsapp" {
            label { (ctx.t(T::ChannelsSocialPoll)) input name="poll_seconds" inputmode="numeric" placeholder=(if kind == "telegram" { "25" } else { "60" }) value=(if form.poll_seconds == 0 { String::new() } else { form.poll_seconds.to_string() }); }
        }
        @if k.listening {
            fieldset {
                legend { (ctx.t(T::ChannelsSocialListening)) }
                label { (ctx.t(T::ChannelsSocialHandles)) input name="handles" value=(join(&form.handles)); }
                label { (ctx.t(T::ChannelsSocialHashtags)) input name="hashtags" value=(join(&form.hashtags)); }
                label { (ctx.t(T::ChannelsSocialKeywords)) input name="keywords" value=(join(&form.keywords)); }
                label { (ctx.t(T::ChannelsSocialTriggers)) input name="triggers" value=(join(&form.triggers)); }
            }
        }
    }
}

async fn channels_render(
    app: &AppState,
    s: &Session,
    posted: Posted,
    status: StatusCode,
) -> Response {
    if let Err(e) =
        Caller::Staff(s.user.clone()).check(crate::app::perm::Perm::ManageChannels, None)
    {
        return error_page(app, s, e);
    }
    let Posted {
        mailbox: form,
        social: failed_social,
        error,
        notice,
    } = posted;
    let ui_social = match app.social_channel_forms().await {
        Ok(l) => l,
        Err(e) => return error_page(app, s, e),
    };
    let tz = tz(app, s);
    let ctx = ctx(app, s, &tz);
    let workers = app.workers.snapshot();
    let state_of = |name: &str| workers.iter().find(|w| w.name == name).cloned();
    let c = &app.config.channel;
    let file = ctx.t(T::FromConfigFile);
    let row = |kind: &str, name: &str, src: &'static str, ui: bool| ChannelRow {
        kind: kind.to_string(),
        name: name.to_string(),
        src,
        status: state_of(&format!("{kind}:{name}")),
        ui,
        social: None,
    };
    let mut rows: Vec<ChannelRow> = Vec::new();
    rows.extend(c.api.iter().map(|x| row("api", &x.name, file, false)));
    rows.extend(
        c.webchat
            .iter()
            .map(|x| row("webchat", &x.name, file, false)),
    );
    for (x, ui) in app.email_channels() {
        let src = ctx.t(if ui { T::FromAdmin } else { T::FromConfigFile });
        rows.push(row("email", &x.name, src, ui));
    }
    for (kind, name) in app.config.social_channels() {
        rows.push(row(kind, &name, file, false));
    }
    for f in &ui_social {
        let mut r = row(&f.kind, &f.name, ctx.t(T::FromAdmin), true);
        r.social = Some(f.clone());
        rows.push(r);
    }
    // The error goes where the form that caused it is.
    let social_error = failed_social.as_ref().and(error.clone());
    let top_error = failed_social
        .as_ref()
        .is_some_and(|f| !SOCIAL_KINDS.contains(&f.kind.as_str()))
        .then(|| error.clone())
        .flatten();
    let mailbox_error = if failed_social.is_some() {
        None
    } else {
        error.clone()
    };
    let blank = SocialChannelForm::default();
    let body = html! {
        (views::topbar(&ctx))
        main class="page" {
            h1 { (ctx.t(T::Channels)) }
            p class="muted" { (ctx.t(T::ChannelsHelp)) }
            @if let Some(n) = &notice { p class="flash" role="status" { (n) } }
            @if let Some(e) = &top_error { p class="flash error" role="alert" { (e) } }
            @if rows.is_empty() {
                p class="empty" { (ctx.t(T::NoChannels)) }
            } @else {
                table class="table" id="channels" {
                    thead { tr { th { (ctx.t(T::Kind)) } th { (ctx.t(T::Channel)) } th { (ctx.t(T::Source)) } th { (ctx.t(T::State)) } th { (ctx.t(T::LastSuccess)) } th { (ctx.t(T::LastError)) } th { "" } } }
                    tbody {
                        @for r in &rows {
                            @let name = &r.name;
                            tr data-name=(name) data-kind=(r.kind) {
                                td { (kind_label(&r.kind)) } td { (name) } td { (r.src) }
                                td { @if let Some(w) = &r.status { span class={ "status " (w.state.as_str()) } { (w.state.as_str()) } } @else { "—" } }
                                td { @if let Some(t) = r.status.as_ref().and_then(|w| w.last_success.clone()) { time datetime=(t) { (t) } } @else { "—" } }
                                td {
                                    (r.status.as_ref().and_then(|w| w.last_error.clone()).unwrap_or_else(|| "—".into()))
                                    @if let Some(t) = r.status.as_ref().and_then(|w| w.last_error_at.clone()) { br; small class="muted" { time datetime=(t) { (t) } } }
                                }
                                td {
                                    @if app.channel_disabled(name) { span class="status failing" { (ctx.t(T::Disabled)) } " " }
                                    @if r.kind != "api" && r.kind != "webchat" {
                                        form method="post" action=(format!("/admin/channels/{name}/check")) class="inline" {
                                            (ctx.csrf_field())
                                            button class="btn" type="submit" { (ctx.t(T::CheckConnection)) }
                                        }
                                        @let (action, label) = if app.channel_disabled(name) { ("enable", T::Enable) } else { ("disable", T::Disable) };
                                        form method="post" action=(format!("/admin/channels/{name}/{action}")) class="inline" {
                                            (ctx.csrf_field())
                                            button class="btn" type="submit" { (ctx.t(label)) }
                                        }
                                    }
                                    @if r.ui && r.kind == "email" {
                                        form method="post" action=(format!("/admin/channels/email/{name}/delete")) class="inline" {
                                            (ctx.csrf_field())
                                            button class="btn" type="submit" { (ctx.t(T::Remove)) }
                                        }
                                    }
                                    @if let Some(stored) = &r.social {
                                        form method="post" action=(format!("/admin/channels/{name}/remove")) class="inline" {
                                            (ctx.csrf_field())
                                            button class="btn" type="submit" { (ctx.t(T::Remove)) }
                                        }
                                        @let failed_here = failed_social.as_ref().filter(|f| f.name == *name && f.kind.is_empty());
                                        details class="social-edit" open[failed_here.is_some()] {
                                            summary { (ctx.t(T::ChannelsSocialEdit)) }
                                            form method="post" action=(format!("/admin/channels/{name}/update")) class="card form-grid" {
                                                (ctx.csrf_field())
                                                (social_fields(&ctx, &stored.kind, failed_here.unwrap_or(&stored.without_secrets()), Some(stored)))
                                                button class="btn primary" type="submit" { (ctx.t(T::Save)) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { (ctx.t(T::ChannelsSocialAdd)) }
            p class="muted" { (ctx.t(T::ChannelsSocialHelp)) }
            div id="add-social" {
                @for kind in SOCIAL_KINDS {
                    @let failed = failed_social.as_ref().filter(|f| f.kind == kind);
                    details class="add-social" data-kind=(kind) open[failed.is_some()] {
                        summary { (kind_label(kind)) }
                        @if failed.is_some() { @if let Some(e) = &social_error { p class="flash error" role="alert" { (e) } } }
                        form method="post" action=(format!("/admin/channels/{kind}/add")) class="card form-grid" id=(format!("add-{kind}")) {
                            (ctx.csrf_field())
                            (social_fields(&ctx, kind, failed.unwrap_or(&blank), None))
                            button class="btn primary" type="submit" { (ctx.t(T::ChannelsSocialAdd)) ": " (kind_label(kind)) }
                        }
                    }
                }
            }
            h2 { (ctx.t(T::AddMailbox)) }
            @if let Some(e) = &mailbox_error { p class="flash error" role="alert" { (e) } }
            form method="post" action="/admin/channels/email" class="card form-grid" id="add-mailbox" {
                (ctx.csrf_field())
                label { (ctx.t(T::MailboxName)) input name="name" required maxlength="40" pattern="[A-Za-z0-9_-]+" value=(form.name); }
                label { (ctx.t(T::MailboxAddress)) input name="address" type="email" required value=(form.address); }
                fieldset {
                    legend { (ctx.t(T::ImapServer)) }
                    label { (ctx.t(T::Host)) input name="imap_host" value=(form.imap_host); }
                    label { (ctx.t(T::Port)) input name="imap_port" inputmode="numeric" value=(form.imap_port.map(|p| p.to_string()).unwrap_or_default()); }
                    label { (ctx.t(T::Security)) (security_select("imap_security", &form.imap_security)) }
                    label { (ctx.t(T::UserName)) input name="imap_username" autocomplete="off" value=(form.imap_username); }
                    label { (ctx.t(T::Password)) input name="imap_password" type="password" autocomplete="new-password"; }
                    label { (ctx.t(T::Folder)) input name="folder" placeholder="INBOX" value=(form.folder); }
                    label { (ctx.t(T::PollEvery)) input name="poll_seconds" inputmode="numeric" value=(form.poll_seconds); }
                }
                fieldset {
                    legend { (ctx.t(T::SmtpServer)) }
                    label { (ctx.t(T::Host)) input name="smtp_host" value=(form.smtp_host); }
                    label { (ctx.t(T::Port)) input name="smtp_port" inputmode="numeric" value=(form.smtp_port.map(|p| p.to_string()).unwrap_or_default()); }
                    label { (ctx.t(T::Security)) (security_select("smtp_security", &form.smtp_security)) }
                    label { (ctx.t(T::UserName)) input name="smtp_username" autocomplete="off" value=(form.smtp_username); }
                    label { (ctx.t(T::Password)) input name="smtp_password" type="password" autocomplete="new-password"; }
                }
                label class="check" { input type="checkbox" name="acknowledge" value="1" checked[form.acknowledge]; " " (ctx.t(T::AcknowledgeNew)) }
                button class="btn primary" type="submit" { (ctx.t(T::AddMailbox)) }
            }
        }
    };
    html_page(status, views::layout(&ctx, ctx.t(T::Channels), body))
}

/// `GET /admin/channels`: every channel with its worker's health, the forms
/// to add a social channel or a mailbox, and to change or remove the ones
/// added here (admins).
pub(super) async fn channels_page(State(app): State<AppState>, s: Session) -> Response {
    channels_render(&app, &s, Posted::new(), StatusCode::OK).await
}

fn form_port(f: &HashMap<String, String>, key: &str) -> Result<Option<u16>, String> {
    match f.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .map(Some)
            .ok_or_else(|| format!("port {p:?} is not a number from 1 to 65535")),
    }
}

/// `POST /admin/channels/email`: add a mailbox after checking it connects.
pub(super) async fn mailbox_add(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let mut form = MailboxForm {
        name: get("name"),
        address: get("address"),
        imap_host: get("imap_host"),
        imap_security: get("imap_security"),
        imap_username: get("imap_username"),
        imap_password: get("imap_password"),
        folder: get("folder"),
        smtp_host: get("smtp_host"),
        smtp_security: get("smtp_security"),
        smtp_username: get("smtp_username"),
        smtp_password: get("smtp_password"),
        poll_seconds: get("poll_seconds").trim().parse().unwrap_or(60),
        acknowledge: f.contains_key("acknowledge"),
        ..MailboxForm::default()
    };
    let ports = form_port(&f, "imap_port").and_then(|i| Ok((i, form_port(&f, "smtp_port")?)));
    let result = match ports {
        Err(e) => Err(AppError::Invalid(e)),
        Ok((i, sm)) => {
            form.imap_port = i;
            form.smtp_port = sm;
            app.add_mailbox(&Caller::Staff(s.user.clone()), form.clone())
                .await
        }
    };
    match result {
        Ok(()) => Redirect::to("/admin/channels").into_response(),
        Err(e @ (AppError::Invalid(_) | AppError::Conflict(_))) => {
            // Passwords are never sent back into the page.
            form.imap_password.clear();
            form.smtp_password.clear();
            let posted = Posted {
                mailbox: form,
                error: Some(e.to_string()),
                ..Posted::new()
            };
            channels_render(&app, &s, posted, StatusCode::BAD_REQUEST).await
        }
        Err(e) => error_page(&app, &s, e),
    }
}

/// `POST /admin/channels/email/{name}/delete`: remove a mailbox added here.
pub(super) async fn mailbox_remove(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    match app
        .remove_mailbox(&Caller::Staff(s.user.clone()), &name)
        .await
    {
        Ok(()) => Redirect::to("/admin/channels").into_response(),
        Err(e) => error_page(&app, &s, e),
    }
}

/// A social channel form as posted (`kind` from the path).
fn social_form(kind: &str, name: &str, f: &HashMap<String, String>) -> SocialChannelForm {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let list = |k: &str| split_list(&get(k));
    SocialChannelForm {
        kind: kind.to_string(),
        name: name.to_string(),
        base_url: get("base_url"),
        account_id: get("account_id"),
        token: get("token"),
        app_secret: get("app_secret"),
        verify_token: get("verify_token"),
        poll_seconds: get("poll_seconds").parse().unwrap_or(0),
        handles: list("handles"),
        hashtags: list("hashtags"),
        keywords: list("keywords"),
        triggers: list("triggers"),
    }
}

/// `POST /admin/channels/{name}/check|disable|enable` for any channel;
/// `POST /admin/channels/{kind}/add` adds a social channel (checked with
/// its network first), `POST /admin/channels/{name}/update|remove` change
/// or remove one added here.
pub(super) async fn channel_action(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path((name, action)): Path<(String, String)>,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let caller = Caller::Staff(s.user.clone());
    // Adding, changing and removing social channels: redirect when done;
    // on a refusal the form comes back (never its secrets) with the reason.
    let social = match action.as_str() {
        "add" => {
            let form = social_form(&name, f.get("name").map_or("", |n| n.as_str()), &f);
            let r = app.add_social_channel(&caller, form.clone()).await;
            Some((r.map(|_| ()), form))
        }
        "update" => {
            let form = social_form("", &name, &f);
            let r = app.update_social_channel(&caller, form.clone()).await;
            Some((r.map(|_| ()), form))
        }
        "remove" => {
            let r = app.remove_social_channel(&caller, &name).await;
            Some((r, SocialChannelForm::default()))
        }
        _ => None,
    };
    if let Some((result, form)) = social {
        return match result {
            Ok(()) => Redirect::to("/admin/channels").into_response(),
            Err(e @ (AppError::Invalid(_) | AppError::Conflict(_) | AppError::NotFound(_))) => {
                let posted = Posted {
                    social: Some(form.without_secrets()),
                    error: Some(e.to_string()),
                    ..Posted::new()
                };
                channels_render(&app, &s, posted, StatusCode::BAD_REQUEST).await
            }
            Err(e) => error_page(&app, &s, e),
        };
    }
    let result = match action.as_str() {
        "check" => app.check_channel(&caller, &name).await,
        "disable" | "enable" => app
            .set_channel_enabled(&caller, &name, action == "enable")
            .await
            .map(|()| format!("{name}: {action}d")),
        _ => return WebError::new(StatusCode::NOT_FOUND, "no such action").into_response(),
    };
    match result {
        Ok(notice) => {
            let posted = Posted {
                notice: Some(notice),
                ..Posted::new()
            };
            channels_render(&app, &s, posted, StatusCode::OK).await
        }
        Err(e @ (AppError::Invalid(_) | AppError::NotFound(_))) => {
            let posted = Posted {
                error: Some(e.to_string()),
                ..Posted::new()
            };
            channels_render(&app, &s, posted, StatusCode::BAD_REQUEST).await
        }
        Err(e) => error_page(&app, &s, e),
    }
}

/// `GET /stream`: the social-listening stream.
pub(super) async fn stream_page(State(app): State<AppState>, s: Session) -> Response {
    let items = match app.stream(&Caller::Staff(s.user.clone()), false).await {
        Ok(i) => i,
        Err(e) => return error_page(&app, &s, e),
    };
    let tz = tz(&app, &s);
    let ctx = ctx(&app, &s, &tz);
    let read_only = s.user.role == Role::Auditor;
    let body = html! {
        (views::topbar(&ctx))
        main class="page" {
            h1 { (ctx.t(T::Listening)) }
            p class="muted" { (ctx.t(T::ListeningHelp)) }
            @if items.is_empty() {
                p class="empty" { (ctx.t(T::ListeningEmpty)) }
            }
            ul class="stream" id="stream" {
                @for i in &items {
                    li class="card" data-id=(i.id) {
                        div class="meta" {
                            strong { (i.name.as_deref().unwrap_or(&i.handle)) } " " span class="muted" { (i.handle) }
                            @if i.verified { " ✔ " span class="muted" { (ctx.t(T::Verified)) } }
                            @if let Some(f) = i.followers { " · " (f) " " (ctx.t(T::Followers)) }
                            " · " (i.channel) " · " time datetime=(i.sent_at.rfc3339()) { (ctx.when(i.sent_at)) }
                            @if let Some(u) = &i.url { " · " a href=(u) rel="noopener noreferrer nofollow" target="_blank" { "↗" } }
                        }
                        p { (i.text) }
                        @if !read_only {
                            form method="post" action=(format!("/stream/{}/promote", i.id)) class="inline" {
                                (ctx.csrf_field())
                                button class="btn primary" type="submit" { (ctx.t(T::Promote)) }
                            }
                            form method="post" action=(format!("/stream/{}/dismiss", i.id)) class="inline" {
                                (ctx.csrf_field())
                                button class="btn" type="submit" { (ctx.t(T::Dismiss)) }
                            }
                        }
                    }
                }
            }
        }
    };
    html_page(
        StatusCode::OK,
        views::layout(&ctx, ctx.t(T::Listening), body),
    )
}

/// `POST /stream/{id}/promote|dismiss`.
pub(super) async fn stream_resolve(
    State(app): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path((id, action)): Path<(u64, String)>,
    Form(f): F,
) -> Response {
    if let Err(r) = s.verify(&headers, &f) {
        return r.into_response();
    }
    let promote = match action.as_str() {
        "promote" => true,
        "dismiss" => false,
        _ => return WebError::new(StatusCode::NOT_FOUND, "no such action").into_response(),
    };
    match app
        .stream_resolve(&Caller::Staff(s.user.clone()), id, promote)
        .await
    {
        Ok(outcome) => {
            let to = outcome
                .strip_prefix("promoted: conversation ")
                .map(|c| format!("/conversations/{c}"))
                .unwrap_or_else(|| "/stream".into());
            Redirect::to(&to).into_response()
        }
        Err(e) => error_page(&app, &s, e),
    }
}
