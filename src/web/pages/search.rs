//! Search: `GET /api/v1/search` (CONTRACT.md), the `/search` page with
//! facets and pages, and `/search/suggest`, the instant results under the
//! search box in the top bar.

use super::*;
use crate::app::search::{SearchHit, SearchOptions, SearchPage};
use crate::web::extract::Auth;
use crate::web::urlencode;

const PAGE_SIZE: usize = 20;

fn number(
    q: &HashMap<String, String>,
    key: &str,
    default: usize,
    max: usize,
) -> Result<usize, String> {
    match q.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| format!("{key} {v:?} is not a number from 0 to {max}")),
    }
}

/// `GET /api/v1/search?q=&limit=&offset=&sort=relevance|newest&facets=1`.
pub(in crate::web) async fn api(
    State(app): State<AppState>,
    Auth(caller): Auth,
    Query(q): Q,
) -> Result<axum::Json<SearchPage>, WebError> {
    let query = q.get("q").map(String::as_str).unwrap_or("");
    let limit =
        number(&q, "limit", 20, crate::app::search::MAX_LIMIT).map_err(WebError::bad_request)?;
    if limit == 0 {
        return Err(WebError::bad_request("limit must be at least 1"));
    }
    let offset = number(&q, "offset", 0, 10_000).map_err(WebError::bad_request)?;
    let newest = match q.get("sort").map(String::as_str) {
        None | Some("relevance") => false,
        Some("newest") => true,
        Some(s) => {
            return Err(WebError::bad_request(format!(
                "sort {s:?} is not one of relevance, newest"
            )));
        }
    };
    let facets = matches!(q.get("facets").map(String::as_str), Some("1" | "true"));
    let opts = SearchOptions {
        limit,
        offset,
        newest,
        facets,
    };
    Ok(axum::Json(app.search(&caller, query, opts).await?))
}

/// The snippet with its matches in `<mark>` (text escaped by maud).
fn marked(h: &SearchHit) -> Markup {
    let mut parts = Vec::new();
    let mut at = 0;
    for r in &h.marks {
        if r.start < at
            || r.end > h.snippet.len()
            || !h.snippet.is_char_boundary(r.start)
            || !h.snippet.is_char_boundary(r.end)
        {
            continue;
        }
        parts.push((false, &h.snippet[at..r.start]));
        parts.push((true, &h.snippet[r.start..r.end]));
        at = r.end;
    }
    parts.push((false, &h.snippet[at..]));
    html! { @for (m, t) in parts { @if m { mark { (t) } } @else { (t) } } }
}

fn hit_row(h: &SearchHit) -> Markup {
    let href = match h.message_id {
        Some(m) => format!("/conversations/{}#m{m}", h.conversation_id),
        None => format!("/conversations/{}", h.conversation_id),
    };
    html! {
        li class="card hit" {
            a href=(href) {
                div class="meta" {
                    strong { (h.contact) } " · " span class="muted" { (h.channel) } " · "
                    span class=(format!("status {}", h.status)) { (h.status) }
                    " · " span class="muted" { (h.last_message_at.get(..10).unwrap_or("")) }
                    " · #" (h.conversation_id)
                }
                @if let Some(s) = &h.subject { div class="subject" { (s) } }
                p class="snippet" { (marked(h)) }
            }
        }
    }
}

fn help(ctx: &views::Ctx) -> Markup {
    let rows: [(&str, T); 9] = [
        ("reembolso refund", T::SearchHelpWords),
        ("\"no me llegó\"", T::SearchHelpPhrase),
        ("cobro OR charge", T::SearchHelpOr),
        ("-spam", T::SearchHelpExclude),
        ("fact*", T::SearchHelpPrefix),
        ("from:@ana_p to:ana@x.com", T::SearchHelpPeople),
        (
            "channel:email tag:vip status:open is:unassigned",
            T::SearchHelpFilters,
        ),
        (
            "assignee:me team:ventas priority:p1 category:billing",
            T::SearchHelpRouting,
        ),
        (
            "after:2026-03-01 before:2026-04-01 has:attachment",
            T::SearchHelpDates,
        ),
    ];
    html! {
        details class="search-help" {
            summary { (ctx.t(T::SearchHelp)) }
            dl class="keys" {
                @for (k, what) in rows {
                    dt { code { (k) } }
                    dd { (ctx.t(what)) }
                }
            }
        }
    }
}

fn with_filter(q: &str, filter: &str) -> String {
    if q.split_whitespace().any(|w| w == filter) {
        q.to_string()
    } else {
        format!("{q} {filter}")
    }
}

fn quoted(v: &str) -> String {
    if v.chars().any(char::is_whitespace) {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

/// `GET /search?q=&page=&sort=`: results grouped per conversation.
pub(super) async fn page(State(app): State<AppState>, s: Session, Query(q): Q) -> Response {
    let query = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    let page = number(&q, "page", 1, 500).unwrap_or(1).max(1);
    let newest = q.get("sort").is_some_and(|s| s == "newest");
    let caller = Caller::Staff(s.user.clone());
    let result = if query.is_empty() {
        None
    } else {
        let opts = SearchOptions {
            limit: PAGE_SIZE,
            offset: (page - 1) * PAGE_SIZE,
            newest,
            facets: true,
        };
        Some(app.search(&caller, &query, opts).await)
    };
    let tz = tz(&app, &s);
    let ctx = ctx(&app, &s, &tz);
    let status = match &result {
        Some(Err(AppError::Invalid(_))) => StatusCode::BAD_REQUEST,
        Some(Err(_)) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    let link = |q: &str, page: usize, newest: bool| {
        let mut u = format!("/search?q={}", urlencode(q));
        if page > 1 {
            u.push_str(&format!("&page={page}"));
        }
        if newest {
            u.push_str("&sort=newest");
        }
        u
    };
    let body = html! {
        (views::topbar(&ctx))
        main class="page search-page" {
            h1 { (ctx.t(T::Search)) }
            form method="get" action="/search" class="search-form" role="search" {
                input type="search" name="q" value=(query) autofocus aria-label=(ctx.t(T::Search))
                    placeholder=(ctx.t(T::SearchPlaceholder));
                @if newest { input type="hidden" name="sort" value="newest"; }
                button class="btn primary" type="submit" { (ctx.t(T::Search)) }
            }
            (help(&ctx))
            div id="search-results" {
                @match &result {
                    None => { p class="empty" { (ctx.t(T::SearchEmptyQuery)) } }
                    Some(Err(AppError::Invalid(e))) => { p class="flash error" role="alert" { (e) } }
                    Some(Err(e)) => { p class="flash error" role="alert" { (e) } }
                    Some(Ok(r)) => {
                        div class="search-bar" {
                            span { (r.total) " " (ctx.t(T::SearchConversations)) }
                            " · "
                            @if newest {
                                a href=(link(&query, 1, false)) { (ctx.t(T::SearchRelevance)) } " · " strong { (ctx.t(T::SearchNewest)) }
                            } @else {
                                strong { (ctx.t(T::SearchRelevance)) } " · " a href=(link(&query, 1, true)) { (ctx.t(T::SearchNewest)) }
                            }
                        }
                        div class="search-layout" {
                            @if let Some(f) = &r.facets {
                                aside class="facets" {
                                    @for (title, field, values) in [(T::SearchChannel, "channel", &f.channel), (T::SearchStatus, "status", &f.status), (T::SearchTag, "tag", &f.tag)] {
                                        @if !values.is_empty() {
                                            h3 { (ctx.t(title)) }
                                            ul {
                                                @for (v, n) in values {
                                                    li { a href=(link(&with_filter(&query, &format!("{field}:{}", quoted(v))), 1, newest)) { (v) } " " span class="muted" { (n) } }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                            div {
                                @if r.hits.is_empty() {
                                    p class="empty" { (ctx.t(T::SearchNoResults)) }
                                }
                                ol class="hits" {
                                    @for h in &r.hits { (hit_row(h)) }
                                }
                                nav class="pager" {
                                    @if page > 1 { a class="btn" href=(link(&query, page - 1, newest)) { "← " (ctx.t(T::SearchPrevious)) } }
                                    @if page * PAGE_SIZE < r.total { a class="btn" href=(link(&query, page + 1, newest)) { (ctx.t(T::SearchNext)) " →" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html_page(status, views::layout(&ctx, ctx.t(T::Search), body))
}

/// `GET /search/suggest?q=`: the top hits as you type (htmx fragment).
pub(super) async fn suggest(State(app): State<AppState>, s: Session, Query(q): Q) -> Response {
    let query = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    if query.is_empty() {
        return html_page(StatusCode::OK, html! {});
    }
    let caller = Caller::Staff(s.user.clone());
    let opts = SearchOptions {
        limit: 8,
        ..Default::default()
    };
    let result = app.search(&caller, &query, opts).await;
    let tz = tz(&app, &s);
    let ctx = ctx(&app, &s, &tz);
    let m = html! {
        div class="suggest" {
            @match &result {
                Ok(r) if r.hits.is_empty() => { p class="muted" { (ctx.t(T::SearchNoResults)) } }
                Ok(r) => {
                    ol class="hits" { @for h in &r.hits { (hit_row(h)) } }
                    a href=(format!("/search?q={}", urlencode(&query))) { (ctx.t(T::SearchAll)) " (" (r.total) ")" }
                }
                Err(e) => { p class="muted" { (e) } }
            }
        }
    };
    html_page(StatusCode::OK, m)
}
