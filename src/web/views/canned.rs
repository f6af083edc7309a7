//! The canned responses page and the suggestions card.

use super::Ctx;
use crate::domain::{CannedResponse, ConversationId, Role};
use crate::web::i18n::T;
use maud::{Markup, html};
use std::collections::HashMap;

pub fn page(
    ctx: &Ctx,
    items: &[CannedResponse],
    editing: Option<&CannedResponse>,
    flash: Option<&str>,
    faq: &HashMap<u64, Vec<String>>,
) -> Markup {
    let can_share = ctx
        .user
        .is_some_and(|u| matches!(u.role, Role::Admin | Role::Supervisor));
    let mine = |c: &CannedResponse| match c.owner {
        None => can_share,
        Some(o) => ctx.user.is_some_and(|u| u.id == o),
    };
    html! {
        main class="page" id="canned" {
            h1 { (ctx.t(T::CannedResponses)) }
            @if let Some(f) = flash { p class="flash error" role="alert" { (f) } }
            @if items.is_empty() { div class="empty" { p { (ctx.t(T::NoCanned)) } } }
            @else {
                table class="table" {
                    thead { tr { th { (ctx.t(T::Shortcut)) } th { (ctx.t(T::Title)) } th { (ctx.t(T::Tags)) } th {} th {} } }
                    tbody {
                        @for c in items {
                            tr {
                                td { code { "/" (c.shortcut) } }
                                td { strong { (c.title) } br; small class="muted" { (c.body.chars().take(120).collect::<String>()) } }
                                td {
                                    @for t in &c.tags { span class="tag" { (t) } " " }
                                    @if let Some(p) = faq.get(&c.id) {
                                        div class="faq" title=(ctx.t(T::FaqPhrases)) {
                                            small class="muted" { "🕓 " (ctx.t(T::FaqWhenClosed)) ": " }
                                            @for ph in p { span class="tag faq-phrase" { (ph) } " " }
                                        }
                                    }
                                }
                                td { (ctx.t(if c.owner.is_none() { T::SharedWithTeam } else { T::Personal })) }
                                td {
                                    @if mine(c) {
                                        a class="btn sm ghost" href=(format!("/canned?edit={}", c.id)) { (ctx.t(T::Edit)) }
                                        form method="post" action=(format!("/canned/{}/delete", c.id)) {
                                            (ctx.csrf_field())
                                            button class="btn sm danger" type="submit" { (ctx.t(T::Delete)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if ctx.user.is_some_and(|u| u.role != Role::Auditor) {
                form method="post" action="/canned" class="card" {
                    h3 { (if editing.is_some() { ctx.t(T::Edit) } else { ctx.t(T::New) }) }
                    (ctx.csrf_field())
                    @if let Some(e) = editing { input type="hidden" name="id" value=(e.id); }
                    label class="field" { (ctx.t(T::Shortcut)) input name="shortcut" required maxlength="32" pattern="[A-Za-z0-9_-]+" value=[editing.map(|e| e.shortcut.as_str())]; }
                    label class="field" { (ctx.t(T::Title)) input name="title" required maxlength="100" value=[editing.map(|e| e.title.as_str())]; }
                    label class="field" { (ctx.t(T::Text)) textarea name="body" rows="5" required { (editing.map(|e| e.body.as_str()).unwrap_or("")) } }
                    p class="muted" { (ctx.t(T::CannedHelp)) }
                    label class="field" { (ctx.t(T::Tags)) input name="tags" value=[editing.map(|e| e.tags.join(", "))]; }
                    @if can_share {
                        label { input type="checkbox" name="shared" value="1" checked[editing.is_none_or(|e| e.owner.is_none())]; " " (ctx.t(T::SharedWithTeam)) }
                        label class="field" { (ctx.t(T::FaqWhenClosed))
                            textarea name="faq" rows="2" maxlength="2000" placeholder=(ctx.t(T::FaqPlaceholder)) {
                                (editing.and_then(|e| faq.get(&e.id)).map(|p| p.join(", ")).unwrap_or_default())
                            }
                            small { (ctx.t(T::FaqHelp)) }
                        }
                    }
                    button class="btn primary" type="submit" { (ctx.t(T::Save)) }
                }
            }
        }
    }
}

/// Suggested responses for the open conversation, already rendered.
pub fn suggestions(
    ctx: &Ctx,
    conv: ConversationId,
    items: &[(CannedResponse, Result<String, String>)],
) -> Markup {
    html! {
        @if !items.is_empty() {
            div class="card" id="suggested" {
                h3 { (ctx.t(T::Suggested)) }
                ul class="history" {
                    @for (c, text) in items {
                        li {
                            @match text {
                                Ok(t) => a href=(format!("/conversations/{conv}?insert={}", c.id)) data-insert=(t) { "/" (c.shortcut) " — " (c.title) },
                                Err(e) => span class="flash error" { "/" (c.shortcut) ": " (e) },
                            }
                        }
                    }
                }
            }
        }
    }
}
