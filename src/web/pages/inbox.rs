//! The inbox page and its live list fragment.

use super::*;

// ---- inbox -----------------------------------------------------------------

pub(super) fn view_of(q: &HashMap<String, String>) -> InboxView {
    q.get("view")
        .and_then(|v| InboxView::parse(v))
        .unwrap_or(InboxView::All)
}

pub(super) fn cursor_of(q: &HashMap<String, String>) -> Option<Vec<u8>> {
    q.get("cursor").and_then(|c| hex::decode(c).ok())
}

pub(super) async fn list_markup(
    app: &AppState,
    s: &Session,
    ctx: &Ctx<'_>,
    view: InboxView,
    filter: &Filter,
    cursor: Option<Vec<u8>>,
    active: Option<ConversationId>,
) -> Result<Markup, AppError> {
    let caller = Caller::Staff(s.user.clone());
    let page = app
        .inbox_filtered(&caller, view, filter, cursor, 50)
        .await?;
    let kind_of = |name: &str| app.channel_kind(name);
    let mut channels: Vec<String> = app
        .config
        .channel
        .api
        .iter()
        .map(|c| c.name.clone())
        .collect();
    channels.extend(app.config.channel.webchat.iter().map(|c| c.name.clone()));
    channels.extend(app.config.pending_channels().into_iter().map(|(_, n)| n));
    Ok(iv::list(
        ctx, view, &page, active, &kind_of, filter, &channels,
    ))
}

/// Filters from the query string; unknown values are ignored.
pub(super) fn filter_of(q: &HashMap<String, String>) -> Filter {
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    Filter {
        channel: get("channel").map(str::to_string),
        tag: get("tag").and_then(crate::app::actions::normalize_tag),
        priority: get("priority").and_then(|p| match p {
            "P1" => Some(Priority::P1),
            "P2" => Some(Priority::P2),
            "P3" => Some(Priority::P3),
            "P4" => Some(Priority::P4),
            _ => None,
        }),
        tier: get("tier")
            .and_then(|t| t.parse().ok())
            .filter(|t| (1..=3).contains(t)),
        team: get("team").and_then(|t| t.parse().ok()).map(TeamId),
        assignee: get("assignee").and_then(|t| t.parse().ok()).map(UserId),
    }
}

pub(super) async fn shell(
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
        div class={ "app" @if side.is_none() { " no-side" } } hx-ext="sse" sse-connect=(format!("/events?after={}", s.seq)) {
            (iv::rail(ctx, view, &counts))
            (list)
            main class="main" id="main" { (main) }
            @if let Some(side) = side { (side) }
        }
        (views::shortcut_sheet(ctx))
    })
}

pub(super) async fn inbox(State(app): State<AppState>, s: Session, q: Q) -> Response {
    let tz = tz(&app, &s);
    let ctx = ctx(&app, &s, &tz);
    let view = view_of(&q);
    let result = async {
        let list = list_markup(&app, &s, &ctx, view, &filter_of(&q), cursor_of(&q), None).await?;
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

pub(super) async fn inbox_list(State(app): State<AppState>, s: Session, q: Q) -> Response {
    let tz = tz(&app, &s);
    let ctx = ctx(&app, &s, &tz);
    let active = q
        .get("active")
        .and_then(|a| a.parse().ok())
        .map(ConversationId);
    match list_markup(&app, &s, &ctx, view_of(&q), &filter_of(&q), None, active).await {
        Ok(m) => html_page(StatusCode::OK, m),
        Err(e) => WebError::from(e).into_response(),
    }
}

/// `GET /inbox/rail`: the views and their counts, refreshed live.
pub(super) async fn rail(State(app): State<AppState>, s: Session, q: Q) -> Response {
    let tz = tz(&app, &s);
    let ctx = ctx(&app, &s, &tz);
    match app.view_counts(&Caller::Staff(s.user.clone())).await {
        Ok(counts) => html_page(StatusCode::OK, iv::rail(&ctx, view_of(&q), &counts)),
        Err(e) => WebError::from(e).into_response(),
    }
}
