//! The rail of views and the conversation list.

use super::{Ctx, channel_badge};
use crate::app::conversations::{ConversationView, Filter, InboxView, ListPage};
use crate::domain::{ChannelKind, ConversationId, Priority};
use crate::web::i18n::T;
use maud::{Markup, html};

pub fn view_label(ctx: &Ctx, v: InboxView) -> &'static str {
    ctx.t(match v {
        InboxView::Mine => T::ViewMine,
        InboxView::Unassigned => T::ViewUnassigned,
        InboxView::Teams => T::ViewTeams,
        InboxView::All => T::ViewAll,
        InboxView::Mentions => T::ViewMentions,
        InboxView::Snoozed => T::ViewSnoozed,
        InboxView::Resolved => T::ViewResolved,
    })
}

pub fn rail(ctx: &Ctx, current: InboxView, counts: &[(InboxView, u64)]) -> Markup {
    html! {
        nav class="rail" id="rail" aria-label=(ctx.t(T::Inbox))
            hx-get=(format!("/inbox/rail?view={}", current.as_str())) hx-trigger="sse:change" hx-swap="outerHTML" {
            h2 { (ctx.t(T::Inbox)) }
            @for (v, n) in counts {
                a href=(format!("/inbox?view={}", v.as_str())) class=[(*v == current).then_some("active")]
                  aria-current=[(*v == current).then_some("page")] {
                    (view_label(ctx, *v))
                    @if *n > 0 { span class="count" { (n) } }
                }
            }
        }
    }
}

fn prio_class(p: Priority) -> &'static str {
    match p {
        Priority::P1 => "prio p1",
        Priority::P2 => "prio p2",
        Priority::P3 => "prio p3",
        Priority::P4 => "prio p4",
    }
}

pub fn row(
    ctx: &Ctx,
    v: &ConversationView,
    view: InboxView,
    active: Option<ConversationId>,
    kind: Option<ChannelKind>,
) -> Markup {
    let c = &v.conv;
    let name = v.contact.as_ref().map(|x| x.name.as_str()).unwrap_or("?");
    let handle = v.identity.as_ref().map(|i| i.handle.as_str()).unwrap_or("");
    let href = format!("/conversations/{}?view={}", c.id, view.as_str());
    let is_active = active == Some(c.id);
    html! {
        a class={ "conv-row" @if is_active { " active" } @if c.waiting_since.is_some() { " unread" } }
          href=(href) data-id=(c.id) aria-current=[is_active.then_some("true")] {
            (channel_badge(kind, &c.channel))
            div class="head" {
                span class="who" { (name) }
                span class="handle" { (handle) }
                span class="age" title=(ctx.when(c.last_message_at)) { (ctx.age(c.last_message_at)) }
            }
            div class="snippet" { (c.last_snippet) }
            div class="foot" {
                span class=(prio_class(c.priority)) { (c.priority.as_str()) }
                @if let Some(due) = c.sla_due_at {
                    @let left = due.0 - ctx.now.0;
                    span class={ "sla" @if left < 0 { " breach" } @else if left < 3_600_000 { " warn" } }
                      title=(ctx.when(due)) {
                        @if left < 0 { "−" } (super::duration(left.abs()))
                    }
                }
                @for tag in &c.tags { span class="tag" { (tag) } }
                @if let Some(u) = &v.assignee { span class="assignee" { (u.name) } }
            }
        }
    }
}

/// The list column; refreshed live (`sse:change`) by htmx.
pub fn list(
    ctx: &Ctx,
    view: InboxView,
    page: &ListPage,
    active: Option<ConversationId>,
    kind_of: &dyn Fn(&str) -> Option<ChannelKind>,
    filter: &Filter,
    channels: &[String],
) -> Markup {
    let fq = filter_query(filter);
    let refresh = match active {
        Some(id) => format!("/inbox/list?view={}&active={id}{fq}", view.as_str()),
        None => format!("/inbox/list?view={}{fq}", view.as_str()),
    };
    html! {
        section class="list" id="list" hx-get=(refresh) hx-trigger="sse:change" hx-swap="outerHTML" {
            div class="list-head" {
                h1 { (super::inbox::view_label(ctx, view)) }
                @if active.is_none() { (filters(ctx, view, filter, channels)) }
            }
            @if page.items.is_empty() {
                div class="empty" {
                    h2 { (ctx.t(T::EmptyTitle)) }
                    p { (ctx.t(if view == InboxView::Mine { T::EmptyMineHint } else { T::EmptyHint })) }
                }
            }
            @for v in &page.items { (row(ctx, v, view, active, kind_of(&v.conv.channel))) }
            @if let Some(c) = &page.next_cursor {
                div class="list-foot" {
                    a class="btn ghost" href=(format!("/inbox?view={}&cursor={c}{fq}", view.as_str())) { (ctx.t(T::Older)) }
                }
            }
        }
    }
}

/// `&channel=…&tag=…` for links that keep the filters.
fn filter_query(f: &Filter) -> String {
    let mut q = String::new();
    let mut add =
        |k: &str, v: String| q.push_str(&format!("&{k}={}", crate::web::session::urlencode(&v)));
    if let Some(c) = &f.channel {
        add("channel", c.clone());
    }
    if let Some(t) = &f.tag {
        add("tag", t.clone());
    }
    if let Some(p) = f.priority {
        add("priority", p.as_str().into());
    }
    if let Some(t) = f.tier {
        add("tier", t.to_string());
    }
    if let Some(t) = f.team {
        add("team", t.to_string());
    }
    if let Some(a) = f.assignee {
        add("assignee", a.to_string());
    }
    q
}

/// The filter bar above the list (a plain GET form).
fn filters(ctx: &Ctx, view: InboxView, f: &Filter, channels: &[String]) -> Markup {
    html! {
        form class="filters row" method="get" action="/inbox" {
            input type="hidden" name="view" value=(view.as_str());
            select name="channel" aria-label=(ctx.t(T::Channel)) {
                option value="" { (ctx.t(T::Channel)) ": —" }
                @for c in channels { option value=(c) selected[f.channel.as_deref() == Some(c.as_str())] { (c) } }
            }
            select name="priority" aria-label=(ctx.t(T::Triage)) {
                option value="" { (ctx.t(T::Triage)) ": —" }
                @for p in [Priority::P1, Priority::P2, Priority::P3, Priority::P4] {
                    option value=(p.as_str()) selected[f.priority == Some(p)] { (p.as_str()) }
                }
            }
            select name="tier" aria-label="Tier" {
                option value="" { "Tier: —" }
                @for t in 1..=3u8 { option value=(t) selected[f.tier == Some(t)] { "Tier " (t) } }
            }
            input name="tag" value=[f.tag.as_deref()] placeholder=(ctx.t(T::Tags)) aria-label=(ctx.t(T::Tags));
            button class="btn sm" type="submit" { "✓" }
            @if !f.is_empty() { a class="btn sm ghost" href=(format!("/inbox?view={}", view.as_str())) { "×" } }
        }
    }
}
