//! Pure maud views: data in, markup out. Every string comes from the catalog.

pub mod calendars;
pub mod canned;
pub mod clock;
pub mod conversation;
pub mod hours;
pub mod hours_badge;
pub mod inbox;
pub mod login;
pub mod survey;
pub mod triage;

use super::i18n::{Lang, T, t};
use crate::domain::{ChannelKind, Delivery, Role, Status, Ts, User};
use crate::triage::{Availability, Strategy};
use maud::{DOCTYPE, Markup, html};

/// What every page needs.
pub struct Ctx<'a> {
    pub lang: Lang,
    pub nonce: &'a str,
    pub user: Option<&'a User>,
    pub csrf: &'a str,
    pub business: &'a str,
    pub now: Ts,
    pub tz: &'a jiff::tz::TimeZone,
    /// The signed-in staff member's availability, for the top bar (None:
    /// not shown, e.g. auditors or fragments).
    pub availability: Option<Availability>,
    /// The business hours now, for the top bar (None: always open, or not
    /// shown).
    pub hours: Option<hours_badge::HoursBadge>,
}

impl Ctx<'_> {
    pub fn t(&self, key: T) -> &'static str {
        t(self.lang, key)
    }

    /// How long ago: "5 min", "3 h", "2 d".
    pub fn age(&self, at: Ts) -> String {
        duration(self.now.0 - at.0)
    }

    /// Local date and time in the business's time zone.
    pub fn when(&self, at: Ts) -> String {
        let z = at.to_jiff().to_zoned_datetime(self.tz.clone());
        z.strftime("%Y-%m-%d %H:%M").to_string()
    }

    /// Whether the signed-in user is an admin or a supervisor.
    pub fn manager(&self) -> bool {
        self.user
            .is_some_and(|u| matches!(u.role, Role::Admin | Role::Supervisor))
    }

    /// Time left until `due`, "in 45 min", or past it, "overdue by 10 min";
    /// and whether it is overdue.
    pub fn until(&self, due: Ts) -> (String, bool) {
        let left = due.0 - self.now.0;
        if left >= 0 {
            (format!("{} {}", self.t(T::DueIn), duration(left)), false)
        } else {
            (
                format!("{} {}", self.t(T::OverdueBy), duration(-left)),
                true,
            )
        }
    }

    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }
}

/// A duration in the largest fitting unit: "<1 min", "5 min", "3 h", "2 d".
pub fn duration(ms: i64) -> String {
    let mins = ms.max(0) / 60_000;
    match mins {
        0 => "<1 min".into(),
        1..=59 => format!("{mins} min"),
        60..=2879 => format!("{} h", mins / 60),
        _ => format!("{} d", mins / 1440),
    }
}

pub fn status_label(ctx: &Ctx, s: Status) -> &'static str {
    ctx.t(match s {
        Status::Open => T::StatusOpen,
        Status::Pending => T::StatusPending,
        Status::Snoozed => T::StatusSnoozed,
        Status::Resolved => T::StatusResolved,
    })
}

pub fn delivery_label(ctx: &Ctx, d: Delivery) -> &'static str {
    ctx.t(match d {
        Delivery::Queued => T::DeliveryQueued,
        Delivery::Sent => T::DeliverySent,
        Delivery::Failed => T::DeliveryFailed,
        Delivery::Unknown => T::DeliveryUnknown,
        Delivery::Delivered => T::DeliveryDelivered,
        Delivery::Read => T::DeliveryRead,
        Delivery::AwaitingApproval => T::DeliveryAwaitingApproval,
    })
}

pub fn availability_label(ctx: &Ctx, a: Availability) -> &'static str {
    ctx.t(match a {
        Availability::Online => T::AvailOnline,
        Availability::Away => T::AvailAway,
        Availability::Offline => T::AvailOffline,
    })
}

pub fn strategy_label(ctx: &Ctx, s: Strategy) -> &'static str {
    ctx.t(match s {
        Strategy::RoundRobin => T::StrategyRoundRobin,
        Strategy::LeastLoaded => T::StrategyLeastLoaded,
        Strategy::BestMatch => T::StrategyBestMatch,
    })
}

pub fn role_label(ctx: &Ctx, r: Role) -> &'static str {
    ctx.t(match r {
        Role::Admin => T::RoleAdmin,
        Role::Supervisor => T::RoleSupervisor,
        Role::Agent => T::RoleAgent,
        Role::Auditor => T::RoleAuditor,
    })
}

/// The top bar's availability switch: a select that posts on change (htmx
/// swaps this form) and a button for browsers without scripts.
pub fn availability_form(ctx: &Ctx, current: Availability) -> Markup {
    html! {
        form class="avail" id="availability" method="post" action="/account/availability"
            hx-post="/account/availability" hx-trigger="change" hx-swap="outerHTML" {
            (ctx.csrf_field())
            span class=(format!("dot {}", current.as_str())) aria-hidden="true" {}
            select name="availability" aria-label=(ctx.t(T::AvailabilityLabel)) title=(ctx.t(T::AvailabilityLabel)) {
                @for a in [Availability::Online, Availability::Away, Availability::Offline] {
                    option value=(a.as_str()) selected[a == current] { (availability_label(ctx, a)) }
                }
            }
            noscript { button class="btn sm" type="submit" { (ctx.t(T::Apply)) } }
        }
    }
}

/// The lettered channel badge.
pub fn channel_badge(kind: Option<ChannelKind>, name: &str) -> Markup {
    let class = format!(
        "channel ch-{}",
        kind.map(ChannelKind::as_str).unwrap_or("api")
    );
    html! { span class=(class) title=(name) aria-label=(name) {} }
}

/// The page shell: head, top bar, and `body`.
pub fn layout(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true}"#;
                title { (title) " · " (ctx.business) }
                link rel="stylesheet" href="/static/app.css";
                script nonce=(ctx.nonce) src="/static/vendor/htmx.min.js" defer {}
                script nonce=(ctx.nonce) src="/static/vendor/htmx-ext-sse.js" defer {}
                script nonce=(ctx.nonce) src="/static/inbox.js" defer {}
            }
            body hx-headers=(format!(r#"{{"X-CSRF-Token":"{}"}}"#, ctx.csrf)) {
                (body)
            }
        }
    }
}

/// The top bar with the business name and the user menu.
pub fn topbar(ctx: &Ctx) -> Markup {
    html! {
        header class="topbar" {
            a class="brand" href="/inbox" { (ctx.business) }
            @if ctx.user.is_some() {
                form class="search topsearch" method="get" action="/search" role="search" {
                    input type="search" name="q" autocomplete="off" aria-label=(ctx.t(T::Search))
                        placeholder=(ctx.t(T::SearchPlaceholder))
                        hx-get="/search/suggest" hx-trigger="input changed delay:250ms, search"
                        hx-target="#search-drop" hx-sync="this:replace";
                    div id="search-drop" aria-live="polite" {}
                }
            }
            @if let (Some(_), Some(b)) = (ctx.user, ctx.hours) { (hours_badge::hours_badge(ctx, b)) }
            @if let (Some(u), Some(a)) = (ctx.user, ctx.availability) {
                @if u.role != Role::Auditor { (availability_form(ctx, a)) }
            }
            @if let Some(u) = ctx.user {
                details class="menu" {
                    summary { span class="avatar" { (u.initials()) } span class="sr-only" { (u.name) } }
                    div {
                        strong { (u.name) } br; span class="muted" { (u.email) }
                        @if u.role == crate::domain::Role::Auditor { p class="muted" { (ctx.t(T::ReadOnly)) } }
                        a href="/stream" { (ctx.t(T::Listening)) }
                        a href="/canned" { (ctx.t(T::CannedResponses)) }
                        @if matches!(u.role, Role::Admin | Role::Supervisor) {
                            a href="/admin/teams" { (ctx.t(T::Teams)) }
                            a href="/admin/agents" { (ctx.t(T::Agents)) }
                            a href="/admin/triage" { (ctx.t(T::TriageRules)) }
                            a href="/admin/hours" { (ctx.t(T::BusinessHours)) }
                        }
                        @if u.role == Role::Auditor { a href="/admin/hours" { (ctx.t(T::BusinessHours)) } }
                        @if u.role == crate::domain::Role::Admin { a href="/admin/status" { (ctx.t(T::SystemStatus)) } a href="/admin/channels" { (ctx.t(T::Channels)) } a href="/admin/quarantine" { (ctx.t(T::Quarantine)) } }
                        a href="/account/prefs" { (ctx.t(T::Preferences)) }
                        a href="/account/password" { (ctx.t(T::ChangePassword)) }
                        form method="post" action="/logout" {
                            (ctx.csrf_field())
                            button class="btn ghost" type="submit" { (ctx.t(T::SignOut)) }
                        }
                    }
                }
            }
        }
    }
}

/// The `?` shortcut sheet.
pub fn shortcut_sheet(ctx: &Ctx) -> Markup {
    let keys: [(&str, T); 8] = [
        ("j / k", T::ShortcutMove),
        ("Enter", T::ShortcutOpen),
        ("r", T::ShortcutReply),
        ("n", T::ShortcutNote),
        ("e", T::ShortcutResolve),
        ("a", T::ShortcutAssign),
        ("/", T::ShortcutSearch),
        ("?", T::ShortcutHelp),
    ];
    html! {
        div class="sheet" id="shortcuts" role="dialog" aria-modal="true" aria-label=(ctx.t(T::Shortcuts)) {
            div class="panel" {
                h2 { (ctx.t(T::Shortcuts)) }
                dl class="keys" {
                    @for (k, what) in keys {
                        dt { span class="kbd" { (k) } }
                        dd { (ctx.t(what)) }
                    }
                }
                button class="btn" type="button" data-close-sheet { (ctx.t(T::Close)) }
            }
        }
    }
}
