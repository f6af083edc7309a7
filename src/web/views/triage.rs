//! Triage in the UI: the conversation's triage panel, the rules admin page
//! (rules in force, categories, editor, simulation, versions) and the
//! agents admin page.

use super::{Ctx, availability_label, duration, role_label, status_label};
use crate::app::conversations::ConversationPage;
use crate::app::triage::{AgentProfile, RulesVersion, SimReport, SimSide, TriageRecord};
use crate::domain::*;
use crate::triage::{Category, Conditions, Rule, RuleDoc};
use crate::web::i18n::{Lang, T};
use maud::{Markup, html};
use std::collections::HashMap;

/// A category's name in the page's language (its id when unknown).
pub fn category_name(ctx: &Ctx, cats: &[Category], id: &str) -> String {
    cats.iter()
        .find(|c| c.id == id)
        .map(|c| match ctx.lang {
            Lang::Es => c.name_es.clone(),
            Lang::En => c.name_en.clone(),
        })
        .unwrap_or_else(|| id.to_string())
}

/// Categories in tree order (each parent followed by its children), with
/// their depth.
pub fn category_tree(cats: &[Category]) -> Vec<(&Category, usize)> {
    fn walk<'a>(
        cats: &'a [Category],
        parent: Option<&str>,
        depth: usize,
        out: &mut Vec<(&'a Category, usize)>,
    ) {
        for c in cats.iter().filter(|c| c.parent.as_deref() == parent) {
            if out.iter().any(|(x, _)| x.id == c.id) || depth > 8 {
                continue;
            }
            out.push((c, depth));
            walk(cats, Some(&c.id), depth + 1, out);
        }
    }
    let mut out = Vec::with_capacity(cats.len());
    walk(cats, None, 0, &mut out);
    // Children of unknown parents: at the end.
    for c in cats {
        if !out.iter().any(|(x, _)| x.id == c.id) {
            out.push((c, 1));
        }
    }
    out
}

fn prio_class(p: &str) -> String {
    format!("prio {}", p.to_lowercase())
}

/// "in 45 min" / "overdue by 10 min" with the urgency class: a warning
/// once the SLA check raised one (`warned`) or within 15 minutes; stopped
/// while the conversation waits on the customer (`paused`).
fn countdown(ctx: &Ctx, due: Ts, warned: bool, paused: bool) -> Markup {
    if paused {
        return html! { span class="sla paused" { (ctx.t(T::SlaPausedShort)) } };
    }
    let (text, over) = ctx.until(due);
    let class = if over {
        "sla breach"
    } else if warned || due.0 - ctx.now.0 < 15 * 60_000 {
        "sla warn"
    } else {
        "sla"
    };
    html! { span class=(class) { (text) } }
}

/// The side panel's triage card: the decision and why, routing, service
/// targets, and the category and tier forms.
pub fn panel(
    ctx: &Ctx,
    p: &ConversationPage,
    rec: &TriageRecord,
    cats: &[Category],
    read_only: bool,
) -> Markup {
    let v = &p.detail.view;
    let c = &v.conv;
    let id = c.id;
    let decided = rec.at.0 > 0;
    let warned = |target: &str| rec.alerts.iter().any(|a| a == &format!("{target}:warning"));
    let paused = rec.sla_paused_at.is_some();
    let routed = rec.routed_to.map(|u| {
        p.names
            .get(&u)
            .cloned()
            .or_else(|| {
                v.assignee
                    .as_ref()
                    .filter(|a| a.id == u)
                    .map(|a| a.name.clone())
            })
            .unwrap_or_else(|| format!("#{u}"))
    });
    html! {
        div class="card triage" id="triage" {
            h3 { (ctx.t(T::TriageName)) }
            @if !decided {
                p class="muted" id="triage-empty" { (ctx.t(T::NotTriaged)) }
            } @else {
                div class="badges" {
                    span class=(prio_class(c.priority.as_str())) { (c.priority.as_str()) }
                    span class="muted" { (ctx.t(T::Score)) " " (c.score) }
                    @if rec.decision.troll { span class="badge warn" id="troll" { "⚠ " (ctx.t(T::TrollSuspected)) } }
                    @if rec.decision.approval { span class="badge" id="needs-approval" { "✋ " (ctx.t(T::NeedsApproval)) } }
                }
                @if let Some(why) = &rec.overridden {
                    p class="muted" { small { (ctx.t(T::PrioritySetByHand)) ": " (why) } }
                }
            }
            dl class="kv" {
                dt { (ctx.t(T::Category)) }
                dd {
                    @match &c.category {
                        Some(cat) => { (category_name(ctx, cats, cat)) }
                        None => { "—" }
                    }
                    @if rec.manual_category { " · " small class="muted" { (ctx.t(T::SetByHand)) } }
                }
                dt { (ctx.t(T::Tier)) } dd { (c.tier) }
                @if decided {
                    dt { (ctx.t(T::RoutedTo)) } dd { (routed.as_deref().unwrap_or("—")) }
                    @if let Some(due) = rec.first_response_due {
                        dt { (ctx.t(T::FirstResponse)) }
                        dd {
                            time datetime=(due.rfc3339()) { (ctx.when(due)) } br;
                            @if c.first_response_at.is_some() { span class="sla" { (ctx.t(T::Answered)) } }
                            @else { (countdown(ctx, due, warned("first_response"), paused)) }
                        }
                    }
                    @if let Some(due) = rec.resolution_due {
                        dt { (ctx.t(T::Resolution)) }
                        dd {
                            time datetime=(due.rfc3339()) { (ctx.when(due)) } br;
                            @if c.status == Status::Resolved { span class="sla" { (status_label(ctx, Status::Resolved)) } }
                            @else { (countdown(ctx, due, warned("resolution"), paused)) }
                        }
                    }
                    dt { (ctx.t(T::SentimentLabel)) }
                    dd {
                        (format!("{:+.2}", rec.decision.sentiment))
                        @if let Some(l) = &rec.decision.language { " · " (l) }
                    }
                    dt { (ctx.t(T::RulesLabel)) } dd { "v" (rec.rules_version) " · " small class="muted" { (ctx.when(rec.at)) } }
                }
            }
            @if decided && !rec.decision.reasons.is_empty() {
                h4 { (ctx.t(T::Why)) }
                ul class="why" id="triage-why" {
                    @for r in &rec.decision.reasons { li { (r.line()) } }
                }
            }
            @if decided && !rec.routing_reasons.is_empty() {
                h4 { (ctx.t(T::RoutingHow)) }
                ul class="why muted" { @for r in &rec.routing_reasons { li { (r) } } }
            }
            @if decided && !rec.sla_reasons.is_empty() {
                h4 { (ctx.t(T::SlaLabel)) }
                ul class="why muted" { @for r in &rec.sla_reasons { li { (r) } } }
            }
            @if !read_only {
                form method="post" action=(format!("/conversations/{id}/category")) class="row" {
                    (ctx.csrf_field())
                    select name="category" aria-label=(ctx.t(T::SetCategory)) {
                        option value="" selected[!rec.manual_category] { (ctx.t(T::LetTriageDecide)) }
                        @for (cat, depth) in category_tree(cats) {
                            option value=(cat.id) selected[rec.manual_category && c.category.as_deref() == Some(cat.id.as_str())] {
                                @for _ in 0..depth { "— " }
                                (category_name(ctx, cats, &cat.id))
                            }
                        }
                    }
                    button class="btn sm" type="submit" { (ctx.t(T::SetCategory)) }
                }
                form method="post" action=(format!("/conversations/{id}/tier")) class="row" {
                    (ctx.csrf_field())
                    select name="tier" aria-label=(ctx.t(T::Tier)) {
                        @for n in 1..=3u8 { option value=(n) selected[c.tier == n] { (ctx.t(T::Tier)) " " (n) } }
                    }
                    input name="reason" required maxlength="300" placeholder=(ctx.t(T::TierReason)) aria-label=(ctx.t(T::TierReason));
                    button class="btn sm" type="submit" { (ctx.t(T::SetTier)) }
                }
            }
        }
    }
}

// ---- the rules page ------------------------------------------------------

/// Everything the rules page shows.
pub struct RulesPage<'a> {
    pub current: &'a RulesVersion,
    pub versions: &'a [RulesVersion],
    /// The rules in force.
    pub doc: &'a RuleDoc,
    /// Staff names (who saved each version).
    pub names: &'a HashMap<UserId, String>,
    /// The editor's text (the rules in force, or what was submitted).
    pub text: &'a str,
    pub note: &'a str,
    pub days: u32,
    /// (ok, message) at the top.
    pub flash: Option<(bool, String)>,
    pub sim: Option<&'a SimReport>,
}

fn source_label(ctx: &Ctx, source: &str) -> String {
    match source {
        "presets" => ctx.t(T::SourcePresets).into(),
        "config" => ctx.t(T::FromConfigFile).into(),
        "editor" => ctx.t(T::SourceEditor).into(),
        s => match s.strip_prefix("restore of ") {
            Some(n) => format!("{} {n}", ctx.t(T::SourceRestore)),
            None => s.to_string(),
        },
    }
}

fn quoted(list: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut s = list
        .iter()
        .take(SHOWN)
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > SHOWN {
        s.push_str(&format!(" … +{}", list.len() - SHOWN));
    }
    s
}

/// A compact line per condition, in the editor's own terms (TOML keys).
pub fn conditions_summary(w: &Conditions) -> Vec<String> {
    let mut out = Vec::new();
    let flag = |out: &mut Vec<String>, name: &str, v: Option<bool>| {
        if let Some(v) = v {
            out.push(if v {
                name.to_string()
            } else {
                format!("!{name}")
            });
        }
    };
    if !w.phrases.is_empty() {
        out.push(format!("phrases: {}", quoted(&w.phrases)));
    }
    if !w.without.is_empty() {
        out.push(format!("without: {}", quoted(&w.without)));
    }
    if let Some(r) = &w.regex {
        out.push(format!("regex: /{r}/"));
    }
    if !w.channels.is_empty() {
        out.push(format!("channels: {}", w.channels.join(", ")));
    }
    flag(&mut out, "public", w.public);
    if let Some(x) = w.sentiment_below {
        out.push(format!("sentiment ≤ {x}"));
    }
    if let Some(x) = w.sentiment_above {
        out.push(format!("sentiment ≥ {x}"));
    }
    if let Some(x) = w.min_lifetime_value {
        out.push(format!("lifetime value ≥ {x}"));
    }
    if let Some(pc) = &w.purchases {
        out.push(format!("purchases ≥ {} / {} d", pc.count, pc.days));
    }
    flag(&mut out, "vip", w.vip);
    if let Some(x) = w.min_followers {
        out.push(format!("followers ≥ {x}"));
    }
    if let Some(x) = w.max_followers {
        out.push(format!("followers ≤ {x}"));
    }
    flag(&mut out, "verified", w.verified);
    if let Some(x) = w.account_younger_than_days {
        out.push(format!("account < {x} d"));
    }
    flag(&mut out, "avatar", w.avatar);
    if let Some(x) = w.repeat_within_hours {
        out.push(format!("repeat ≤ {x} h"));
    }
    if let Some(x) = w.min_waiting_minutes {
        out.push(format!("waiting ≥ {x} min"));
    }
    flag(&mut out, "business_hours", w.business_hours);
    if !w.languages.is_empty() {
        out.push(format!("languages: {}", w.languages.join(", ")));
    }
    if !w.categories.is_empty() {
        out.push(format!("categories: {}", w.categories.join(", ")));
    }
    out
}

/// A compact line per effect: `+30`, `category billing`, `tier 3`...
pub fn effects_summary(r: &Rule) -> Vec<String> {
    let e = &r.then;
    let mut out = Vec::new();
    if e.score != 0 {
        out.push(format!("{:+}", e.score));
    }
    if let Some(c) = &e.category {
        out.push(format!("category {c}"));
    }
    if !e.tags.is_empty() {
        out.push(format!("tags {}", e.tags.join(", ")));
    }
    if let Some(t) = e.tier {
        out.push(format!("tier {t}"));
    }
    if let Some(t) = &e.team {
        out.push(format!("team {t}"));
    }
    if e.approval {
        out.push("approval".into());
    }
    if e.troll {
        out.push("troll".into());
    }
    if let Some(p) = e.prefer {
        out.push(format!("prefer {}", format!("{p:?}").to_lowercase()));
    }
    if r.stop {
        out.push("stop".into());
    }
    out
}

/// Where an editor error points: the line it names, or the line of the
/// rule or category it names (`id = "..."`).
pub fn error_line(text: &str, error: &str) -> Option<usize> {
    if let Some(rest) = error.strip_prefix("line ") {
        return rest
            .split(|ch: char| !ch.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok());
    }
    let id = error.split(':').next()?.trim();
    if id.is_empty() {
        return None;
    }
    text.lines()
        .position(|l| {
            let l = l.trim();
            l.starts_with("id") && l.trim_start_matches("id").trim_start().starts_with('=') && {
                let v = l.split_once('=').map(|(_, v)| v.trim()).unwrap_or("");
                v.trim_matches(|ch| ch == '"' || ch == '\'') == id
            }
        })
        .map(|i| i + 1)
}

pub fn rules_page(ctx: &Ctx, pg: &RulesPage) -> Markup {
    let cur = pg.current;
    let cats = &pg.doc.categories;
    html! {
        main class="page wide" {
            h1 { (ctx.t(T::TriageRules)) }
            @if let Some((ok, msg)) = &pg.flash {
                p class=(if *ok { "flash ok" } else { "flash error" }) role=(if *ok { "status" } else { "alert" }) id="rules-flash" { (msg) }
            }
            @if let Some(sim) = pg.sim { (sim_results(ctx, sim, cats)) }
            section class="card" id="rules-current" {
                h2 { (ctx.t(T::VersionInForce)) }
                @if cur.version == 0 {
                    p class="muted" { (ctx.t(T::NoRulesSaved)) }
                } @else {
                    dl class="kv" {
                        dt { (ctx.t(T::Version)) } dd { "v" (cur.version) }
                        dt { (ctx.t(T::Source)) } dd { (source_label(ctx, &cur.source)) }
                        dt { (ctx.t(T::By)) } dd { (who(pg.names, cur.by)) }
                        dt { (ctx.t(T::When)) } dd { (ctx.when(cur.at)) }
                        @if !cur.note.is_empty() { dt { (ctx.t(T::ChangeNote)) } dd { (cur.note) } }
                    }
                }
            }
            section id="rules-editor" {
                h2 { (ctx.t(T::RulesEditor)) }
                form method="post" action="/admin/triage" class="rules-form" {
                    (ctx.csrf_field())
                    textarea id="rules-toml" name="toml" class="code" rows="28" spellcheck="false"
                        autocomplete="off" aria-label=(ctx.t(T::RulesEditor)) { (pg.text) }
                    p class="muted" { small { (ctx.t(T::RulesEditorHelp)) } }
                    div class="row" {
                        label class="inline" { (ctx.t(T::SimDays)) " "
                            input type="number" name="days" min="1" max="365" value=(pg.days);
                        }
                        input name="note" maxlength="200" value=(pg.note) placeholder=(ctx.t(T::ChangeNote)) aria-label=(ctx.t(T::ChangeNote));
                    }
                    div class="row" {
                        button class="btn" type="submit" formaction="/admin/triage/simulate" { (ctx.t(T::Simulate)) }
                        button class="btn primary" type="submit" { (ctx.t(T::SaveRules)) }
                    }
                }
            }
            section id="rules-table" {
                h2 { (ctx.t(T::RulesInForce)) }
                @if pg.doc.rules.is_empty() { p class="muted" { (ctx.t(T::NoRules)) } }
                @else {
                    table class="table" {
                        thead { tr { th class="num" { "#" } th { (ctx.t(T::RuleId)) } th { (ctx.t(T::RuleName)) } th { (ctx.t(T::RuleEnabled)) } th { (ctx.t(T::RuleWhenThen)) } } }
                        tbody {
                            @for (i, r) in pg.doc.rules.iter().enumerate() {
                                @let conds = conditions_summary(&r.when);
                                tr class=[(!r.enabled).then_some("off")] {
                                    td class="num" { (i + 1) }
                                    td { code { (r.id) } }
                                    td { (r.name) }
                                    td { (ctx.t(if r.enabled { T::Yes } else { T::No })) }
                                    td class="rule-sum" {
                                        @if conds.is_empty() { span class="muted" { (ctx.t(T::AlwaysMatches)) } }
                                        @else { (conds.join(" · ")) }
                                        " → " strong { (effects_summary(r).join(", ")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section id="rules-categories" {
                h2 { (ctx.t(T::Categories)) }
                @if cats.is_empty() { p class="muted" { (ctx.t(T::NoCategories)) } }
                @else {
                    table class="table" {
                        thead { tr { th { (ctx.t(T::Category)) } th { (ctx.t(T::RuleId)) } th { (ctx.t(T::FirstResponse)) } th { (ctx.t(T::Resolution)) } th class="num" { (ctx.t(T::Tier)) } } }
                        tbody {
                            @for (c, depth) in category_tree(cats) {
                                tr {
                                    td { @for _ in 0..depth { "— " } (category_name(ctx, cats, &c.id)) }
                                    td { code { (c.id) } }
                                    td { (c.first_response) }
                                    td { (c.resolution) }
                                    td class="num" { (c.tier) }
                                }
                            }
                        }
                    }
                }
            }
            section id="rules-history" {
                h2 { (ctx.t(T::VersionHistory)) }
                @if pg.versions.is_empty() { p class="muted" { (ctx.t(T::NoRulesSaved)) } }
                @else {
                    table class="table" {
                        thead { tr { th { (ctx.t(T::Version)) } th { (ctx.t(T::Source)) } th { (ctx.t(T::By)) } th { (ctx.t(T::When)) } th { (ctx.t(T::ChangeNote)) } th {} } }
                        tbody {
                            @for v in pg.versions {
                                tr {
                                    td { "v" (v.version) }
                                    td { (source_label(ctx, &v.source)) }
                                    td { (who(pg.names, v.by)) }
                                    td { (ctx.when(v.at)) }
                                    td { (v.note) }
                                    td {
                                        @if v.version == cur.version { span class="tag" { (ctx.t(T::InForce)) } }
                                        @else {
                                            form method="post" action=(format!("/admin/triage/versions/{}/restore", v.version)) {
                                                (ctx.csrf_field())
                                                button class="btn sm" type="submit" { (ctx.t(T::Restore)) " v" (v.version) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn who(names: &HashMap<UserId, String>, by: Option<UserId>) -> String {
    match by {
        Some(u) => names.get(&u).cloned().unwrap_or_else(|| format!("#{u}")),
        None => "Atalaya".into(),
    }
}

fn sim_side(ctx: &Ctx, cats: &[Category], s: &SimSide, other: &SimSide) -> Markup {
    let mark = |changed: bool| if changed { "changed" } else { "" };
    html! {
        span class=(prio_class(&s.priority)) { (s.priority) }
        " " span class="muted" { (s.score) }
        br;
        span class=(mark(s.category != other.category)) {
            (s.category.as_deref().map(|c| category_name(ctx, cats, c)).unwrap_or_else(|| "—".into()))
        }
        " · " span class=(mark(s.tier != other.tier)) { (ctx.t(T::Tier)) " " (s.tier) }
        @if s.assignee.is_some() || other.assignee.is_some() {
            " · " span class=(mark(s.assignee != other.assignee)) { (s.assignee.as_deref().unwrap_or("—")) }
        }
        @if !s.reasons.is_empty() {
            details {
                summary { (ctx.t(T::Why)) }
                ul class="why" { @for r in &s.reasons { li { (r) } } }
            }
        }
    }
}

fn sim_results(ctx: &Ctx, r: &SimReport, cats: &[Category]) -> Markup {
    let max = r
        .before
        .iter()
        .chain(r.after.iter())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let stats: [(T, usize); 7] = [
        (T::SimMessages, r.messages),
        (T::SimConversations, r.conversations),
        (T::SimChanged, r.messages_changed),
        (T::SimPriorityChanges, r.priority_changes),
        (T::SimCategoryChanges, r.category_changes),
        (T::SimTierChanges, r.tier_changes),
        (T::SimAssignmentChanges, r.assignment_changes),
    ];
    html! {
        section class="card sim" id="sim-results" aria-live="polite" {
            h2 { (ctx.t(T::SimResults)) " · " (r.days) " d" }
            dl class="kv stats" {
                @for (k, n) in stats { dt { (ctx.t(k)) } dd { (n) } }
                dt { (ctx.t(T::SimElapsed)) } dd { (r.elapsed_ms) " ms" }
            }
            h3 { (ctx.t(T::SimPerPriority)) }
            div class="bars" {
                p class="legend" {
                    span class="key before" {} (ctx.t(T::SimNow)) " "
                    span class="key after" {} (ctx.t(T::SimWithEdits))
                }
                @for (i, p) in ["P1", "P2", "P3", "P4"].iter().enumerate() {
                    div class="bar" {
                        span class=(prio_class(p)) { (p) }
                        div {
                            progress class="before" max=(max) value=(r.before[i]) aria-label=(format!("{p} {}", ctx.t(T::SimNow))) { (r.before[i]) }
                            span class="num" { (r.before[i]) }
                            progress class="after" max=(max) value=(r.after[i]) aria-label=(format!("{p} {}", ctx.t(T::SimWithEdits))) { (r.after[i]) }
                            span class="num" { (r.after[i]) }
                        }
                    }
                }
            }
            @if r.rows.is_empty() {
                p class="muted" id="sim-none" { (ctx.t(T::SimNoChanges)) }
            } @else {
                h3 { (ctx.t(T::SimShowing)) ": " (r.rows.len()) " / " (r.rows_total) }
                table class="table sim-rows" {
                    thead { tr { th { "#" } th { (ctx.t(T::Contact)) } th { (ctx.t(T::SimNow)) } th { (ctx.t(T::SimWithEdits)) } } }
                    tbody {
                        @for row in &r.rows {
                            tr {
                                td { a href=(format!("/conversations/{}", row.conversation)) { (row.conversation) } }
                                td { (row.contact) br; small class="muted" { (row.snippet) } }
                                td { (sim_side(ctx, cats, &row.before, &row.after)) }
                                td { (sim_side(ctx, cats, &row.after, &row.before)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---- the agents page -----------------------------------------------------

pub fn agents_page(
    ctx: &Ctx,
    rows: &[(User, AgentProfile, u64)],
    teams: &[Team],
    default_capacity: u32,
    flash: Option<(bool, String)>,
) -> Markup {
    let team_names = |u: &User| {
        u.teams
            .iter()
            .map(|t| {
                teams
                    .iter()
                    .find(|x| x.id == *t)
                    .map(|x| x.name.clone())
                    .unwrap_or_else(|| format!("#{t}"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    html! {
        main class="page wide" {
            h1 { (ctx.t(T::Agents)) }
            @if let Some((ok, msg)) = &flash {
                p class=(if *ok { "flash ok" } else { "flash error" }) role=(if *ok { "status" } else { "alert" }) { (msg) }
            }
            p class="muted" { (ctx.t(T::AgentsHelp)) }
            @if rows.is_empty() { div class="empty" { p { (ctx.t(T::NoAgents)) } } }
            @else {
                table class="table agents" {
                    thead {
                        tr {
                            th { (ctx.t(T::RuleName)) } th { (ctx.t(T::Role)) } th { (ctx.t(T::AvailabilityLabel)) }
                            th class="num" { (ctx.t(T::OpenOfCapacity)) } th class="num" { (ctx.t(T::AvgFirstResponse)) }
                            th class="num" { (ctx.t(T::Csat)) } th class="num" { (ctx.t(T::Tier)) } th { (ctx.t(T::Skills)) }
                            th { (ctx.t(T::Languages)) } th { (ctx.t(T::Teams)) } th {}
                        }
                    }
                    tbody {
                        @for (u, p, load) in rows {
                            tr id=(format!("agent-{}", u.id)) {
                                td { (u.name) br; small class="muted" { (u.email) } }
                                td { (role_label(ctx, u.role)) }
                                td { span class=(format!("dot {}", p.availability.as_str())) aria-hidden="true" {} " " (availability_label(ctx, p.availability)) }
                                td class="num" { (load) " / " (p.capacity.unwrap_or(default_capacity)) }
                                td class="num" { (p.avg_first_response_secs().map(|s| duration(i64::from(s) * 1000)).unwrap_or_else(|| "—".into())) }
                                td class="num" { (p.csat().map(|c| format!("{c:.1}")).unwrap_or_else(|| "—".into())) }
                                td class="num" { (u.tier) }
                                td { (u.skills.join(", ")) }
                                td { (u.languages.join(", ")) }
                                td { (team_names(u)) }
                                td {
                                    details class="edit" {
                                        summary class="btn sm" { (ctx.t(T::Edit)) }
                                        form method="post" action=(format!("/admin/agents/{}", u.id)) class="agent-edit" {
                                            (ctx.csrf_field())
                                            label { (ctx.t(T::Tier))
                                                select name="tier" {
                                                    @for n in 1..=3u8 { option value=(n) selected[u.tier == n] { (n) } }
                                                }
                                            }
                                            label { (ctx.t(T::Skills)) " (" (ctx.t(T::CommaSeparated)) ")"
                                                input name="skills" maxlength="600" value=(u.skills.join(", "));
                                            }
                                            label { (ctx.t(T::Languages)) " (" (ctx.t(T::CommaSeparated)) ")"
                                                input name="languages" maxlength="200" value=(u.languages.join(", "));
                                            }
                                            label { (ctx.t(T::Capacity))
                                                input type="number" name="capacity" min="1" max="1000"
                                                    value=[p.capacity] placeholder=(default_capacity);
                                            }
                                            button class="btn sm primary" type="submit" { (ctx.t(T::Save)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
