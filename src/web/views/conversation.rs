//! The open conversation: header with actions, timeline, reply box, and the
//! customer panel.

use super::{Ctx, channel_badge, delivery_label, status_label};
use crate::app::conversations::ConversationPage;
use crate::domain::*;
use crate::triage::Category;
use crate::web::i18n::T;
use maud::{Markup, PreEscaped, html};

/// One item of the timeline, in time order.
enum Item<'a> {
    Msg(&'a Message),
    Ev(&'a Event),
}

fn actor_name(ctx: &Ctx, p: &ConversationPage, e: &Event) -> String {
    match &e.actor {
        Actor::User(u) => p.names.get(u).cloned().unwrap_or_else(|| format!("#{u}")),
        Actor::Channel(c) => c.clone(),
        // The system acts as triage (decisions, escalations) or routing
        // (assignments).
        Actor::System => match e.kind {
            EventKind::Triaged { .. }
            | EventKind::TierChanged { .. }
            | EventKind::PriorityChanged { .. }
            | EventKind::TeamAssigned { .. }
            | EventKind::TagsChanged { .. } => ctx.t(T::TriageName).into(),
            EventKind::Assigned { .. } => ctx.t(T::RoutingName).into(),
            _ => "Atalaya".into(),
        },
    }
}

/// A line for the events shown between messages (the messages themselves
/// are their own items).
fn event_line(ctx: &Ctx, p: &ConversationPage, cats: &[Category], e: &Event) -> Option<String> {
    let who = actor_name(ctx, p, e);
    let category = |c: &str| super::triage::category_name(ctx, cats, c);
    match &e.kind {
        // Triage's own priority changes come with its `Triaged` line.
        EventKind::PriorityChanged { .. } if e.actor == Actor::System => None,
        EventKind::Triaged {
            priority,
            score,
            category: cat,
            tier,
            rules_version,
            ..
        } => {
            let mut line = format!("{who}: {} ({score})", priority.as_str());
            if let Some(c) = cat {
                line.push_str(&format!(" · {}", category(c)));
            }
            line.push_str(&format!(
                " · {} {tier} · {} v{rules_version}",
                ctx.t(T::Tier),
                ctx.t(T::RulesLabel)
            ));
            Some(line)
        }
        EventKind::TierChanged {
            from, to, reason, ..
        } => Some(format!(
            "{who} {} {from} → {to}: {reason}",
            ctx.t(T::ChangedTier)
        )),
        EventKind::CategoryChanged {
            category: Some(c), ..
        } => Some(format!("{who} {} {}", ctx.t(T::SetCategoryTo), category(c))),
        EventKind::CategoryChanged { category: None, .. } => {
            Some(format!("{who} {}", ctx.t(T::ClearedCategory)))
        }
        EventKind::ReplyReviewed {
            approved, reason, ..
        } => {
            let what = ctx.t(if *approved {
                T::ApprovedReply
            } else {
                T::RejectedReply
            });
            Some(if reason.is_empty() {
                format!("{who} {what}")
            } else {
                format!("{who} {what}: {reason}")
            })
        }
        EventKind::StatusChanged { to, .. } => Some(format!("{who} → {}", status_label(ctx, *to))),
        EventKind::ConversationReopened { .. } => {
            Some(format!("{who} ↺ {}", status_label(ctx, Status::Open)))
        }
        EventKind::PriorityChanged {
            priority, score, ..
        } => Some(format!("{who}: {} ({score})", priority.as_str())),
        EventKind::Assigned { assignee, .. } => Some(match assignee {
            Some(u) => format!(
                "{who} {} {}",
                ctx.t(T::AssignedTo),
                p.names.get(u).cloned().unwrap_or_else(|| format!("#{u}"))
            ),
            None => format!("{who} {}", ctx.t(T::Unassigned)),
        }),
        EventKind::TeamAssigned { team, .. } => {
            let name = team.map(|t| {
                p.detail
                    .view
                    .team
                    .as_ref()
                    .filter(|x| x.id == t)
                    .map(|x| x.name.clone())
                    .unwrap_or_else(|| format!("#{t}"))
            });
            Some(format!(
                "{who} {} {}",
                ctx.t(T::SentToTeam),
                name.unwrap_or_else(|| "—".into())
            ))
        }
        EventKind::TagsChanged { tags, .. } => Some(format!(
            "{who}: {} {}",
            ctx.t(T::TaggedWith),
            tags.join(", ")
        )),
        EventKind::PriorityOverridden {
            priority, reason, ..
        } => Some(format!("{who} → {} ({reason})", priority.as_str())),
        EventKind::DeliveryChanged {
            delivery: Delivery::Failed,
            detail,
            ..
        } => Some(format!(
            "{}: {} — {}",
            ctx.t(T::Delivery),
            delivery_label(ctx, Delivery::Failed),
            detail.as_deref().unwrap_or("")
        )),
        _ => super::clock::event_line(ctx, &who, e),
    }
}

pub fn timeline(ctx: &Ctx, p: &ConversationPage, cats: &[Category]) -> Markup {
    let mut items: Vec<(Ts, u64, Item)> = Vec::new();
    for m in &p.detail.messages {
        items.push((m.received_at, 0, Item::Msg(m)));
    }
    for e in &p.events {
        if event_line(ctx, p, cats, e).is_some() {
            items.push((e.at, e.seq, Item::Ev(e)));
        }
    }
    items.sort_by_key(|(t, seq, _)| (*t, *seq));
    let id = p.detail.view.conv.id;
    html! {
        div class="timeline" id="timeline" hx-get=(format!("/conversations/{id}/timeline"))
            hx-trigger=(format!("sse:conv-{id}")) hx-swap="outerHTML" {
            @for (_, _, item) in &items {
                @match item {
                    Item::Msg(m) => (message(ctx, m)),
                    Item::Ev(e) => div class="event" { (event_line(ctx, p, cats, e).unwrap_or_default()) " · " (ctx.when(e.at)) },
                }
            }
        }
    }
}

fn message(ctx: &Ctx, m: &Message) -> Markup {
    let class = match m.direction {
        Direction::In => "msg in",
        Direction::Out => "msg out",
        Direction::Note => "msg note",
    };
    html! {
        article class=(class) data-id=(m.id) {
            div class="meta" {
                span class="author" { (m.author_name) }
                " "
                time datetime=(m.sent_at.rfc3339()) { (ctx.when(m.sent_at)) }
                @if m.direction != Direction::Note {
                    " · " span class="muted" { (ctx.t(if m.public { T::Public } else { T::Private })) }
                }
                @if let Some(d) = m.delivery {
                    " · " span class=(format!("delivery {}", d.as_str())) title=[m.delivery_detail.as_deref()] { (delivery_label(ctx, d)) }
                }
            }
            div class="body" {
                // Inbound HTML was sanitized (ammonia) before it was stored;
                // everything else is escaped text.
                @if let Some(html) = &m.html { (PreEscaped(html)) } @else {
                    @for line in m.text.lines() { (line) br; }
                }
            }
            @if !m.attachments.is_empty() {
                ul class="attachments" {
                    @for a in &m.attachments {
                        li {
                            @if let Some(sha) = &a.sha256 {
                                a href=(format!("/conversations/{}/attachments/{sha}", m.conversation)) download { "📎 " (a.filename) }
                            } @else { "📎 " (a.filename) }
                            " " small class="muted" { (a.content_type) ", " (a.size / 1024 + 1) " KB" }
                        }
                    }
                }
            }
            @if let Some(d) = &m.delivery_detail {
                @if matches!(m.delivery, Some(Delivery::Failed | Delivery::Unknown)) { p class="flash error" { (d) } }
            }
            @if m.delivery == Some(Delivery::AwaitingApproval) && ctx.manager() {
                @let action = format!("/conversations/{}/messages/{}/review", m.conversation, m.id);
                div class="review" {
                    form method="post" action=(action) {
                        (ctx.csrf_field())
                        input type="hidden" name="approve" value="1";
                        button class="btn sm primary" type="submit" data-action="approve" { (ctx.t(T::Approve)) }
                    }
                    form method="post" action=(action) class="row" {
                        (ctx.csrf_field())
                        input type="hidden" name="approve" value="0";
                        input name="reason" required maxlength="300" placeholder=(ctx.t(T::RejectReason)) aria-label=(ctx.t(T::RejectReason));
                        button class="btn sm danger" type="submit" data-action="reject" { (ctx.t(T::Reject)) }
                    }
                }
            }
        }
    }
}

pub fn reply_box(
    ctx: &Ctx,
    p: &ConversationPage,
    has_private: bool,
    (draft, mode): (&str, &str),
    read_only: bool,
    view: &str,
) -> Markup {
    let id = p.detail.view.conv.id;
    html! {
        @if !read_only {
            form class="reply-box" method="post" action=(format!("/conversations/{id}/reply?view={view}")) id="reply"
                enctype="multipart/form-data" data-canned=(format!("/conversations/{id}/canned")) {
                (ctx.csrf_field())
                input type="hidden" name="seen" value=(p.detail.messages.last().map(|m| m.id.0).unwrap_or(0));
                fieldset class="tabs" {
                    label { input type="radio" name="mode" value="reply" checked[mode != "private" && mode != "note"]; " " (ctx.t(T::Reply)) }
                    @if has_private {
                        label { input type="radio" name="mode" value="private" checked[mode == "private"]; " " (ctx.t(T::PrivateReply)) }
                    }
                    label { input type="radio" name="mode" value="note" checked[mode == "note"]; " " (ctx.t(T::Note)) }
                }
                textarea name="text" rows="4" required placeholder=(ctx.t(T::ReplyPlaceholder))
                    aria-label=(ctx.t(T::Reply)) { (draft) }
                div class="attach" {
                    label {
                        "📎 " (ctx.t(T::ReplyAttachFiles)) " "
                        input type="file" name="files" multiple aria-describedby="reply-attach-hint";
                    }
                    small class="muted" id="reply-attach-hint" { (ctx.t(T::ReplyAttachHint)) }
                }
                div class="toolbar" {
                    span class="hint muted" { span class="kbd" { "r" } " " span class="kbd" { "n" } " " span class="kbd" { "?" } }
                    (send_later(ctx, id, view))
                    button class="btn primary" type="submit" { (ctx.t(T::Send)) }
                }
            }
        }
    }
}

/// "Send later": a date and time in the user's zone and a button that posts
/// the reply form (text and public/private choice) to the schedule route,
/// without files and without scripts.
fn send_later(ctx: &Ctx, id: ConversationId, view: &str) -> Markup {
    let zone = ctx.tz.iana_name().unwrap_or("UTC");
    let min = ctx
        .now
        .to_jiff()
        .to_zoned_datetime(ctx.tz.clone())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    html! {
        details class="later" id="send-later" {
            summary class="btn sm ghost" { "🕓 " (ctx.t(T::SendLater)) }
            div class="later-box" {
                label for="later-at" { (ctx.t(T::SendAt)) " " small class="muted" { "(" (zone) ")" } }
                input type="datetime-local" id="later-at" name="at" min=(min);
                button class="btn sm" type="submit" formaction=(format!("/conversations/{id}/schedule?view={view}"))
                    formenctype="application/x-www-form-urlencoded" data-action="schedule" {
                    (ctx.t(T::Schedule))
                }
                small class="muted" { (ctx.t(T::SendLaterHint)) }
            }
        }
    }
}

/// WhatsApp outside the 24-hour window: the channel's approved templates,
/// one to pick and send; with none configured, who must add them.
pub fn whatsapp_templates(
    ctx: &Ctx,
    id: ConversationId,
    templates: &[crate::config::WhatsappTemplate],
    view: &str,
) -> Markup {
    html! {
        div class="wa-templates" id="wa-templates" {
            @if templates.is_empty() {
                p class="muted" id="wa-templates-none" { (ctx.t(T::WaTemplateNone)) }
            } @else {
                form method="post" class="row" action=(format!("/conversations/{id}/whatsapp-template?view={view}")) {
                    (ctx.csrf_field())
                    label for="wa-template" { (ctx.t(T::WaTemplateLabel)) }
                    " "
                    select name="template" id="wa-template" required {
                        @for t in templates {
                            option value=(t.name) { (t.name) " (" (t.language) ")" }
                        }
                    }
                    " "
                    button class="btn primary" type="submit" { (ctx.t(T::WaTemplateSend)) }
                }
                dl class="wa-template-bodies" {
                    @for t in templates {
                        dt { code { (t.name) } " (" (t.language) ")" }
                        dd { (t.body) }
                    }
                }
                p class="muted" { small { (ctx.t(T::WaTemplateHelp)) } }
            }
        }
    }
}

pub fn head(ctx: &Ctx, p: &ConversationPage, kind: Option<ChannelKind>, read_only: bool) -> Markup {
    let c = &p.detail.view.conv;
    let name = p
        .detail
        .view
        .contact
        .as_ref()
        .map(|x| x.name.as_str())
        .unwrap_or("?");
    let actions: Vec<(Status, T)> = match c.status {
        Status::Resolved => vec![(Status::Open, T::Reopen)],
        _ => vec![
            (Status::Resolved, T::Resolve),
            (Status::Pending, T::MarkPending),
        ],
    };
    html! {
        div class="conv-head" {
            a class="back" href="/inbox" { "←" }
            (channel_badge(kind, &c.channel))
            h1 { (name) @if let Some(s) = &c.subject { " — " span class="muted" { (s) } } }
            span class={ "status " (c.status.as_str()) } { (status_label(ctx, c.status)) }
            @if !read_only {
                div class="actions" {
                    @for (to, label) in actions {
                        form method="post" action=(format!("/conversations/{}/status", c.id)) {
                            (ctx.csrf_field())
                            input type="hidden" name="status" value=(to.as_str());
                            button class="btn" type="submit" data-action=(to.as_str()) { (ctx.t(label)) }
                        }
                    }
                }
            }
        }
    }
}

pub fn side(
    ctx: &Ctx,
    p: &ConversationPage,
    kind_of: &dyn Fn(&str) -> Option<ChannelKind>,
    extra: Markup,
) -> Markup {
    let v = &p.detail.view;
    let c = &v.conv;
    html! {
        aside class="side" id="side" {
            @if let Some(contact) = &v.contact {
                div class="card" {
                    h3 { (ctx.t(T::Contact)) }
                    div class="card-body" {
                        div class="person" {
                            span class="avatar" { (contact.name.chars().next().map(|ch| ch.to_uppercase().to_string()).unwrap_or_default()) }
                            div { strong { (contact.name) } @if let Some(e) = &contact.email { br; small { (e) } } }
                        }
                        dl class="kv" {
                            @if contact.lifetime_value_cents > 0 {
                                dt { (ctx.t(T::Value)) } dd { (format!("{:.2}", contact.lifetime_value_cents as f64 / 100.0)) }
                            }
                            dt { (ctx.t(T::Triage)) } dd { (c.priority.as_str()) " · " (c.score) }
                            dt { (ctx.t(T::Assignee)) } dd { (v.assignee.as_ref().map(|u| u.name.as_str()).unwrap_or(ctx.t(T::Nobody))) }
                            dt { (ctx.t(T::Channel)) } dd { (c.channel) }
                        }
                    }
                }
            }
            (extra)
            div class="card" {
                h3 { (ctx.t(T::Identities)) }
                ul class="identity" {
                    @for i in &p.identities {
                        li {
                            (channel_badge(Some(i.kind), i.kind.as_str()))
                            span { (i.handle) }
                            @if i.verified { " " span class="verified" title=(ctx.t(T::Verified)) { "✓" } }
                            @if let Some(f) = i.followers { " " small class="muted" { (f) " " (ctx.t(T::Followers).to_lowercase()) } }
                        }
                    }
                }
            }
            div class="card" {
                h3 { (ctx.t(T::History)) }
                @if p.history.is_empty() { p class="muted" { (ctx.t(T::NoHistory)) } }
                ul class="history" {
                    @for h in &p.history {
                        li {
                            (channel_badge(kind_of(&h.channel), &h.channel))
                            a href=(format!("/conversations/{}", h.id)) { (h.last_snippet) }
                            " " span class={ "status " (h.status.as_str()) } { (status_label(ctx, h.status)) }
                            " " time { (ctx.when(h.last_message_at)) }
                        }
                    }
                }
            }
        }
    }
}

/// Assign, tags, priority and snooze forms for the side panel.
pub fn actions(ctx: &Ctx, p: &ConversationPage, users: &[User], teams: &[Team]) -> Markup {
    let c = &p.detail.view.conv;
    let id = c.id;
    let me = ctx.user.map(|u| u.id);
    let manager = ctx
        .user
        .is_some_and(|u| matches!(u.role, Role::Admin | Role::Supervisor));
    html! {
        div class="card" id="actions" {
            h3 { (ctx.t(T::Actions)) }
            div class="card-body" {
                @if c.assignee != me {
                    form method="post" action=(format!("/conversations/{id}/assign")) {
                        (ctx.csrf_field())
                        input type="hidden" name="claim" value="1";
                        input type="hidden" name="assignee" value=[me.map(|m| m.0)];
                        button class="btn sm" type="submit" data-action="claim" { (ctx.t(T::TakeIt)) }
                    }
                }
                @if manager {
                    form method="post" action=(format!("/conversations/{id}/assign")) class="row" {
                        (ctx.csrf_field())
                        select name="assignee" aria-label=(ctx.t(T::Assign)) {
                            option value="" { "— " (ctx.t(T::Nobody)) }
                            @for u in users {
                                option value=(u.id) selected[c.assignee == Some(u.id)] { (u.name) }
                            }
                        }
                        button class="btn sm" type="submit" { (ctx.t(T::Assign)) }
                    }
                }
                @if manager && !teams.is_empty() {
                    form method="post" action=(format!("/conversations/{id}/team")) class="row" {
                        (ctx.csrf_field())
                        select name="team" aria-label=(ctx.t(T::Team)) {
                            option value="" { "— " (ctx.t(T::Team)) }
                            @for t in teams { option value=(t.id) selected[c.team == Some(t.id)] { (t.name) } }
                        }
                        button class="btn sm" type="submit" { (ctx.t(T::Assign)) }
                    }
                }
                div class="tags" {
                    @for t in &c.tags {
                        form method="post" action=(format!("/conversations/{id}/tags")) {
                            (ctx.csrf_field())
                            input type="hidden" name="remove" value=(t);
                            span class="tag" { (t) " " button class="btn sm ghost" type="submit" aria-label=(format!("{} {t}", ctx.t(T::Remove))) { "×" } }
                        }
                    }
                }
                form method="post" action=(format!("/conversations/{id}/tags")) class="row" {
                    (ctx.csrf_field())
                    input name="add" maxlength="40" placeholder=(ctx.t(T::AddTag)) aria-label=(ctx.t(T::AddTag));
                    button class="btn sm" type="submit" { "+" }
                }
                form method="post" action=(format!("/conversations/{id}/priority")) class="row" {
                    (ctx.csrf_field())
                    select name="priority" aria-label=(ctx.t(T::SetPriority)) {
                        @for pr in [Priority::P1, Priority::P2, Priority::P3, Priority::P4] {
                            option value=(pr.as_str()) selected[c.priority == pr] { (pr.as_str()) }
                        }
                    }
                    input name="reason" required maxlength="300" placeholder=(ctx.t(T::Reason)) aria-label=(ctx.t(T::Reason));
                    button class="btn sm" type="submit" { (ctx.t(T::SetPriority)) }
                }
                form method="post" action=(format!("/conversations/{id}/snooze")) class="row" {
                    (ctx.csrf_field())
                    input type="datetime-local" name="until" required aria-label=(ctx.t(T::SnoozeUntil));
                    button class="btn sm" type="submit" { (ctx.t(T::Snooze)) }
                }
            }
        }
    }
}

/// "Ana is viewing · Luis is replying", refreshed live.
pub fn presence(ctx: &Ctx, id: ConversationId, others: &[crate::app::presence::Present]) -> Markup {
    use crate::app::presence::Activity;
    html! {
        div class="presence" id="presence" aria-live="polite"
            data-presence=(format!("/conversations/{id}/presence"))
            hx-get=(format!("/conversations/{id}/presence")) hx-trigger=(format!("sse:presence-{id}, every 20s"))
            hx-swap="outerHTML" {
            @for (i, p) in others.iter().enumerate() {
                @if i > 0 { " · " }
                span class="who" { (p.name) } " "
                (ctx.t(match p.activity { Activity::Viewing => T::IsViewing, Activity::Replying => T::IsReplying }))
            }
        }
    }
}
