//! Admin → Business hours, continued: the calendars of teams and channels,
//! the per-channel automatic replies and the latest digest; and the top
//! bar's open/closed badge.

use super::Ctx;
use super::hours::{DAYS, HoursPage, split_list, week_chart_titled};
use crate::app::hours::ClockSettings;
use crate::config::{CalendarConfig, ChannelAutoReply};
use crate::web::i18n::T;
use maud::{Markup, html};
use std::collections::HashMap;

const DAY_KEYS: [T; 7] = [
    T::Monday,
    T::Tuesday,
    T::Wednesday,
    T::Thursday,
    T::Friday,
    T::Saturday,
    T::Sunday,
];

fn field<'a>(f: &'a HashMap<String, String>, k: &str) -> &'a str {
    f.get(k).map(String::as_str).unwrap_or("")
}

/// Whose calendar: a team's or a channel's, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Team,
    Channel,
}

/// `team:NAME` or `channel:NAME` (the form's `target`).
pub fn parse_target(s: &str) -> Option<(Owner, &str)> {
    let (kind, name) = s.split_once(':')?;
    let owner = match kind {
        "team" => Owner::Team,
        "channel" => Owner::Channel,
        _ => return None,
    };
    let name = name.trim();
    (!name.is_empty()).then_some((owner, name))
}

pub fn target_of(owner: Owner, name: &str) -> String {
    match owner {
        Owner::Team => format!("team:{name}"),
        Owner::Channel => format!("channel:{name}"),
    }
}

/// A team's or channel's calendar form as typed.
#[derive(Clone, Debug, Default)]
pub struct ExtraForm {
    /// `team:NAME` / `channel:NAME`; empty: not chosen yet.
    pub target: String,
    /// Empty: the default calendar's zone.
    pub timezone: String,
    pub days: [String; 7],
    pub holidays: String,
    /// Editing an existing calendar (the target is fixed).
    pub editing: bool,
}

impl ExtraForm {
    /// The form filled with a saved calendar (`?edit=team:NAME`).
    pub fn of(s: &ClockSettings, target: &str) -> Option<ExtraForm> {
        let (owner, name) = parse_target(target)?;
        let h = s.hours.as_ref()?;
        let c = match owner {
            Owner::Team => h.team.get(name)?,
            Owner::Channel => h.channel.get(name)?,
        };
        Some(ExtraForm {
            target: target_of(owner, name),
            timezone: c.timezone.clone().unwrap_or_default(),
            days: c.week().map(|d| d.join(", ")),
            holidays: c.holidays.join("\n"),
            editing: true,
        })
    }

    pub fn from_form(f: &HashMap<String, String>) -> ExtraForm {
        ExtraForm {
            target: field(f, "target").trim().to_string(),
            timezone: field(f, "timezone").trim().to_string(),
            days: DAYS.map(|d| field(f, d).to_string()),
            holidays: field(f, "holidays").to_string(),
            editing: f.contains_key("editing"),
        }
    }

    /// The settings with this calendar added or replaced (an iCal file the
    /// config names for it is kept). The caller checks the target and that
    /// the default calendar exists.
    pub fn apply(&self, base: &ClockSettings) -> Result<ClockSettings, String> {
        let (owner, name) =
            parse_target(&self.target).ok_or_else(|| "choose a team or a channel".to_string())?;
        let mut out = base.clone();
        let h = out
            .hours
            .as_mut()
            .ok_or_else(|| "set the default calendar first".to_string())?;
        let map = match owner {
            Owner::Team => &mut h.team,
            Owner::Channel => &mut h.channel,
        };
        let mut c: CalendarConfig = map.get(name).cloned().unwrap_or_default();
        c.timezone = (!self.timezone.is_empty()).then(|| self.timezone.clone());
        let [mo, tu, we, th, fr, sa, su] = self.days.clone().map(|d| split_list(&d));
        c.monday = mo;
        c.tuesday = tu;
        c.wednesday = we;
        c.thursday = th;
        c.friday = fr;
        c.saturday = sa;
        c.sunday = su;
        let mut holidays: Vec<String> = Vec::new();
        for d in split_list(&self.holidays) {
            if !holidays.contains(&d) {
                holidays.push(d);
            }
        }
        c.holidays = holidays;
        map.insert(name.to_string(), c);
        Ok(out)
    }
}

/// The settings without a team's or channel's calendar (unchanged when it
/// has none).
pub fn without_calendar(base: &ClockSettings, target: &str) -> ClockSettings {
    let mut out = base.clone();
    if let (Some((owner, name)), Some(h)) = (parse_target(target), out.hours.as_mut()) {
        match owner {
            Owner::Team => h.team.remove(name),
            Owner::Channel => h.channel.remove(name),
        };
    }
    out
}

/// Inherit / on / off as the selects name them.
fn tri_of(v: Option<bool>) -> String {
    match v {
        None => String::new(),
        Some(true) => "on".into(),
        Some(false) => "off".into(),
    }
}

fn tri_parse(v: &str) -> Option<bool> {
    match v {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

/// A channel's own automatic replies as typed.
#[derive(Clone, Debug, Default)]
pub struct ChannelAutoForm {
    pub channel: String,
    /// `""` (as the general settings), `on`, `off`.
    pub when_closed: String,
    pub when_open: String,
    pub faq: String,
    pub closed_es: String,
    pub closed_en: String,
    pub open_es: String,
    pub open_en: String,
}

impl ChannelAutoForm {
    pub fn of(s: &ClockSettings, channel: &str) -> Option<ChannelAutoForm> {
        let c = s.autoreply.channel.get(channel)?;
        Some(ChannelAutoForm {
            channel: channel.to_string(),
            when_closed: tri_of(c.when_closed),
            when_open: tri_of(c.when_open),
            faq: tri_of(c.faq),
            closed_es: c.closed_es.clone(),
            closed_en: c.closed_en.clone(),
            open_es: c.open_es.clone(),
            open_en: c.open_en.clone(),
        })
    }

    pub fn from_form(f: &HashMap<String, String>) -> ChannelAutoForm {
        let tri = |k| tri_of(tri_parse(field(f, k)));
        ChannelAutoForm {
            channel: field(f, "channel").trim().to_string(),
            when_closed: tri("when_closed"),
            when_open: tri("when_open"),
            faq: tri("faq"),
            closed_es: field(f, "closed_es").to_string(),
            closed_en: field(f, "closed_en").to_string(),
            open_es: field(f, "open_es").to_string(),
            open_en: field(f, "open_en").to_string(),
        }
    }

    /// The settings with this channel's override (the caller checks the
    /// channel's name).
    pub fn apply(&self, base: &ClockSettings) -> ClockSettings {
        let mut out = base.clone();
        out.autoreply.channel.insert(
            self.channel.clone(),
            ChannelAutoReply {
                when_closed: tri_parse(&self.when_closed),
                when_open: tri_parse(&self.when_open),
                faq: tri_parse(&self.faq),
                closed_es: self.closed_es.trim().to_string(),
                closed_en: self.closed_en.trim().to_string(),
                open_es: self.open_es.trim().to_string(),
                open_en: self.open_en.trim().to_string(),
            },
        );
        out
    }
}

/// What the extra sections need besides [`HoursPage`].
pub struct ExtraPage<'a> {
    pub extra: ExtraForm,
    pub chan_auto: ChannelAutoForm,
    /// Every team's name.
    pub teams: &'a [String],
    /// None: not shown to this role; Some(None): no digest yet.
    pub digest: Option<Option<String>>,
}

fn flash_for(pg: &HoursPage, section: &str) -> Markup {
    html! {
        @if let Some((s, ok, msg)) = &pg.flash {
            @if *s == section {
                p class=(if *ok { "flash ok" } else { "flash error" }) role=(if *ok { "status" } else { "alert" })
                    id=(format!("{section}-flash")) { (msg) }
            }
        }
    }
}

/// An id-safe form of a name (`team-Billing_2`).
fn slug(owner: Owner, name: &str) -> String {
    let kind = match owner {
        Owner::Team => "team",
        Owner::Channel => "channel",
    };
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{kind}-{s}")
}

/// The team and channel calendars: what applies, the list with each week
/// drawn, and the add/edit form.
pub fn calendars_section(ctx: &Ctx, pg: &HoursPage, ex: &ExtraPage) -> Markup {
    let ro = !pg.manage;
    let hours = pg.settings.hours.as_ref();
    let mut listed: Vec<(Owner, &String)> = Vec::new();
    if let Some(h) = hours {
        listed.extend(h.team.keys().map(|n| (Owner::Team, n)));
        listed.extend(h.channel.keys().map(|n| (Owner::Channel, n)));
    }
    html! {
        section id="calendars" {
            h2 { (ctx.t(T::ExtraCalendars)) }
            p class="muted" id="calendars-which" { (ctx.t(T::WhichCalendar)) }
            (flash_for(pg, "calendars"))
            @if hours.is_none() {
                div class="empty" id="calendars-need-default" { p { (ctx.t(T::NeedDefaultCalendar)) } }
            } @else {
                @if listed.is_empty() {
                    div class="empty" id="calendars-empty" { p { (ctx.t(T::NoExtraCalendars)) } }
                }
                div class="calendars-list" {
                    @for (owner, name) in &listed {
                        @let cal = match owner {
                            Owner::Team => pg.clock.teams.get(*name),
                            Owner::Channel => pg.clock.channels.get(*name),
                        };
                        @let id = slug(*owner, name);
                        article class="card calendar-item" id=(format!("cal-{id}")) {
                            h3 {
                                span class="tag" { (ctx.t(if *owner == Owner::Team { T::Team } else { T::Channel })) }
                                " " (name)
                            }
                            @if let Some(cal) = cal {
                                (week_chart_titled(ctx, cal, ctx.now, &format!("week-title-{id}")))
                            }
                            @if !ro {
                                div class="row" {
                                    form method="get" action="/admin/hours#calendars" class="inline" {
                                        input type="hidden" name="edit" value=(target_of(*owner, name));
                                        button class="btn sm" type="submit" { (ctx.t(T::Edit)) }
                                    }
                                    form method="post" action="/admin/hours/calendars/remove" class="inline" {
                                        (ctx.csrf_field())
                                        input type="hidden" name="target" value=(target_of(*owner, name));
                                        button class="btn sm danger" type="submit" { (ctx.t(T::Remove)) }
                                    }
                                }
                            }
                        }
                    }
                }
                @if !ro { (extra_form(ctx, pg, ex)) }
            }
        }
    }
}

fn extra_form(ctx: &Ctx, pg: &HoursPage, ex: &ExtraPage) -> Markup {
    let f = &ex.extra;
    let default_tz = pg.calendar.timezone();
    html! {
        form method="post" action="/admin/hours/calendars" class="card hours-form" id="calendars-form" {
            (ctx.csrf_field())
            h3 { (ctx.t(if f.editing { T::EditCalendar } else { T::AddCalendar })) }
            @if f.editing {
                input type="hidden" name="editing" value="1";
                input type="hidden" name="target" value=(f.target);
                p { strong { (f.target.split_once(':').map(|(_, n)| n).unwrap_or("")) } }
            } @else {
                label class="field" { (ctx.t(T::CalendarFor))
                    select name="target" required {
                        option value="" selected[f.target.is_empty()] { "—" }
                        optgroup label=(ctx.t(T::Teams)) {
                            @for t in ex.teams {
                                @let v = target_of(Owner::Team, t);
                                option value=(v) selected[f.target == v] { (t) }
                            }
                        }
                        optgroup label=(ctx.t(T::Channels)) {
                            @for c in pg.channels {
                                @let v = target_of(Owner::Channel, c);
                                option value=(v) selected[f.target == v] { (c) }
                            }
                        }
                    }
                }
                @if ex.teams.is_empty() { small class="muted" { (ctx.t(T::NoTeamsForCalendar)) } }
            }
            label class="field" { (ctx.t(T::TimeZone))
                input name="timezone" list="zones" value=(f.timezone) placeholder=(default_tz) autocomplete="off";
                small { (ctx.t(T::ZoneOfDefault)) " (" (default_tz) ")" }
            }
            div class="days" {
                @for (i, d) in DAYS.iter().enumerate() {
                    label class="field" { (ctx.t(DAY_KEYS[i]))
                        input name=(d) value=(f.days[i]) placeholder=(ctx.t(T::ClosedDay));
                    }
                }
            }
            small class="muted" { (ctx.t(T::RangesHelp)) }
            label class="field" { (ctx.t(T::Holidays))
                textarea name="holidays" rows="3" placeholder="2026-12-25\n01-01" { (f.holidays) }
                small { (ctx.t(T::HolidaysHelp)) }
            }
            div class="row" {
                button class="btn primary" type="submit" { (ctx.t(T::Save)) }
                @if f.editing { a class="btn ghost" href="/admin/hours#calendars" { (ctx.t(T::CancelEdit)) } }
            }
        }
    }
}

fn tri_select(ctx: &Ctx, name: &str, label: T, v: &str) -> Markup {
    html! {
        label class="field" { (ctx.t(label))
            select name=(name) {
                option value="" selected[v.is_empty()] { (ctx.t(T::AsGeneral)) }
                option value="on" selected[v == "on"] { (ctx.t(T::On)) }
                option value="off" selected[v == "off"] { (ctx.t(T::Off)) }
            }
        }
    }
}

fn tri_label(ctx: &Ctx, v: Option<bool>) -> &'static str {
    ctx.t(match v {
        None => T::AsGeneral,
        Some(true) => T::On,
        Some(false) => T::Off,
    })
}

/// The per-channel automatic replies: the overrides and their form.
pub fn channel_autoreply_section(ctx: &Ctx, pg: &HoursPage, ex: &ExtraPage) -> Markup {
    let ro = !pg.manage;
    let list = &pg.settings.autoreply.channel;
    let f = &ex.chan_auto;
    html! {
        div id="autoreply-channels" {
            h3 { (ctx.t(T::ChannelAutoReplies)) }
            p class="muted" { (ctx.t(T::ChannelAutoHelp)) }
            (flash_for(pg, "autoreply-channels"))
            @if list.is_empty() {
                div class="empty" id="autoreply-channels-empty" { p { (ctx.t(T::NoChannelAutoReplies)) } }
            } @else {
                table class="table" id="autoreply-channels-list" {
                    thead { tr {
                        th { (ctx.t(T::Channel)) } th { (ctx.t(T::AutoReasonClosed)) } th { (ctx.t(T::AutoReasonOpen)) }
                        th { (ctx.t(T::AutoReasonFaq)) } th { (ctx.t(T::OwnTexts)) } th {}
                    } }
                    tbody {
                        @for (name, c) in list {
                            @let texts = [&c.closed_es, &c.closed_en, &c.open_es, &c.open_en].iter().filter(|t| !t.is_empty()).count();
                            tr id=(format!("autoreply-{}", slug(Owner::Channel, name))) {
                                td { (name) }
                                td { (tri_label(ctx, c.when_closed)) }
                                td { (tri_label(ctx, c.when_open)) }
                                td { (tri_label(ctx, c.faq)) }
                                td { (texts) }
                                td { @if !ro {
                                    form method="get" action="/admin/hours#autoreply-channels" class="inline" {
                                        input type="hidden" name="autoedit" value=(name);
                                        button class="btn sm" type="submit" { (ctx.t(T::Edit)) }
                                    }
                                    form method="post" action="/admin/hours/autoreply/channel/remove" class="inline" {
                                        (ctx.csrf_field())
                                        input type="hidden" name="channel" value=(name);
                                        button class="btn sm danger" type="submit" { (ctx.t(T::Remove)) }
                                    }
                                } }
                            }
                        }
                    }
                }
            }
            @if !ro {
                form method="post" action="/admin/hours/autoreply/channel" class="card hours-form" id="autoreply-channel-form" {
                    (ctx.csrf_field())
                    label class="field" { (ctx.t(T::Channel))
                        select name="channel" required {
                            option value="" selected[f.channel.is_empty()] { "—" }
                            @for c in pg.channels { option value=(c) selected[*c == f.channel] { (c) } }
                        }
                    }
                    div class="row" {
                        (tri_select(ctx, "when_closed", T::AutoWhenClosed, &f.when_closed))
                        (tri_select(ctx, "when_open", T::AutoWhenOpen, &f.when_open))
                        (tri_select(ctx, "faq", T::AutoFaq, &f.faq))
                    }
                    div class="pair" {
                        label class="field" { (ctx.t(T::ClosedText)) " (es)"
                            textarea name="closed_es" rows="2" placeholder=(ctx.t(T::GeneralText)) { (f.closed_es) }
                        }
                        label class="field" { (ctx.t(T::ClosedText)) " (en)"
                            textarea name="closed_en" rows="2" placeholder=(ctx.t(T::GeneralText)) { (f.closed_en) }
                        }
                        label class="field" { (ctx.t(T::OpenText)) " (es)"
                            textarea name="open_es" rows="2" placeholder=(ctx.t(T::GeneralText)) { (f.open_es) }
                        }
                        label class="field" { (ctx.t(T::OpenText)) " (en)"
                            textarea name="open_en" rows="2" placeholder=(ctx.t(T::GeneralText)) { (f.open_en) }
                        }
                    }
                    button class="btn primary" type="submit" { (ctx.t(T::Save)) }
                }
            }
        }
    }
}

/// The latest digest of a `digest` cron job.
pub fn digest_section(ctx: &Ctx, ex: &ExtraPage) -> Markup {
    html! {
        section id="digest" {
            h2 { (ctx.t(T::LatestDigest)) }
            @match &ex.digest {
                None => p class="muted" { (ctx.t(T::DigestManagersOnly)) },
                Some(None) => div class="empty" id="digest-empty" {
                    p { (ctx.t(T::NoDigestYet)) }
                    pre { code { "[[scheduler.cron]]\nname = \"digest\"\nschedule = \"0 8 * * 1-5\"\ntask = \"digest\"" } }
                },
                Some(Some(text)) => pre class="card digest" id="digest-text" { (text) },
            }
        }
    }
}
