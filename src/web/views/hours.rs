//! Admin → Business hours: where the settings come from, the calendar (with
//! the week drawn), automatic replies, follow-ups, a live preview, the
//! satisfaction figures and the scheduled jobs.

use super::Ctx;
use super::calendars::{self, ExtraPage};
use super::clock::{jobs_section, satisfaction_card};
use crate::app::hours::{ClockSettings, ClockState, JobView, Preview, Satisfaction};
use crate::clock::Calendar;
use crate::config::{AutoReplyConfig, Dur, FollowupConfig, HoursConfig};
use crate::domain::{Ts, UserId};
use crate::web::i18n::T;
use maud::{Markup, html};
use std::collections::HashMap;

/// Monday..Sunday as the form names them.
pub const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const DAY_KEYS: [T; 7] = [
    T::Monday,
    T::Tuesday,
    T::Wednesday,
    T::Thursday,
    T::Friday,
    T::Saturday,
    T::Sunday,
];

/// A list typed as "a, b" or one per line.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', '\n', ';'])
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

fn field<'a>(f: &'a HashMap<String, String>, k: &str) -> &'a str {
    f.get(k).map(String::as_str).unwrap_or("")
}

/// The calendar form as typed.
#[derive(Clone, Debug, Default)]
pub struct CalendarForm {
    pub always_open: bool,
    pub timezone: String,
    pub days: [String; 7],
    pub holidays: String,
}

impl CalendarForm {
    pub fn of(s: &ClockSettings, default_tz: &str) -> CalendarForm {
        match &s.hours {
            None => CalendarForm {
                always_open: true,
                timezone: default_tz.to_string(),
                ..Default::default()
            },
            Some(h) => {
                let week = h.base();
                let days = week.week().map(|d| d.join(", "));
                CalendarForm {
                    always_open: false,
                    timezone: h.timezone.clone(),
                    days,
                    holidays: h.holidays.join("\n"),
                }
            }
        }
    }

    pub fn from_form(f: &HashMap<String, String>) -> CalendarForm {
        CalendarForm {
            always_open: f.contains_key("always_open"),
            timezone: field(f, "timezone").trim().to_string(),
            days: DAYS.map(|d| field(f, d).to_string()),
            holidays: field(f, "holidays").to_string(),
        }
    }

    /// The settings with this calendar (team and channel calendars and an
    /// iCal file named in the config are kept).
    pub fn apply(&self, base: &ClockSettings) -> Result<ClockSettings, String> {
        let mut out = base.clone();
        if self.always_open {
            out.hours = None;
            return Ok(out);
        }
        if self.timezone.is_empty() {
            return Err("choose a time zone, e.g. Europe/Madrid".into());
        }
        let mut h = base.hours.clone().unwrap_or_default();
        h.timezone = self.timezone.clone();
        let [mo, tu, we, th, fr, sa, su] = self.days.clone().map(|d| split_list(&d));
        h.monday = mo;
        h.tuesday = tu;
        h.wednesday = we;
        h.thursday = th;
        h.friday = fr;
        h.saturday = sa;
        h.sunday = su;
        let mut holidays: Vec<String> = Vec::new();
        for d in split_list(&self.holidays) {
            if !holidays.contains(&d) {
                holidays.push(d);
            }
        }
        h.holidays = holidays;
        out.hours = Some(h);
        Ok(out)
    }
}

/// The automatic replies form as typed.
#[derive(Clone, Debug, Default)]
pub struct AutoReplyForm {
    pub when_closed: bool,
    pub when_open: bool,
    pub faq: bool,
    pub window: String,
    pub closed_es: String,
    pub closed_en: String,
    pub open_es: String,
    pub open_en: String,
}

impl AutoReplyForm {
    pub fn of(a: &AutoReplyConfig) -> AutoReplyForm {
        AutoReplyForm {
            when_closed: a.when_closed,
            when_open: a.when_open,
            faq: a.faq,
            window: a.window.to_string(),
            closed_es: a.closed_es.clone(),
            closed_en: a.closed_en.clone(),
            open_es: a.open_es.clone(),
            open_en: a.open_en.clone(),
        }
    }

    pub fn from_form(f: &HashMap<String, String>) -> AutoReplyForm {
        AutoReplyForm {
            when_closed: f.contains_key("when_closed"),
            when_open: f.contains_key("when_open"),
            faq: f.contains_key("faq"),
            window: field(f, "window").trim().to_string(),
            closed_es: field(f, "closed_es").to_string(),
            closed_en: field(f, "closed_en").to_string(),
            open_es: field(f, "open_es").to_string(),
            open_en: field(f, "open_en").to_string(),
        }
    }

    pub fn apply(&self, base: &ClockSettings) -> Result<ClockSettings, String> {
        let window = Dur::parse(&self.window).ok_or_else(|| {
            format!(
                "window: {:?} is not {}",
                self.window,
                crate::config::DURATION_HELP
            )
        })?;
        let mut out = base.clone();
        let a = &mut out.autoreply;
        a.when_closed = self.when_closed;
        a.when_open = self.when_open;
        a.faq = self.faq;
        a.window = window;
        a.closed_es = self.closed_es.trim().to_string();
        a.closed_en = self.closed_en.trim().to_string();
        a.open_es = self.open_es.trim().to_string();
        a.open_en = self.open_en.trim().to_string();
        Ok(out)
    }
}

/// The follow-up form as typed.
#[derive(Clone, Debug, Default)]
pub struct FollowupForm {
    pub after: String,
    pub nps: bool,
    pub link_valid: String,
    pub text_es: String,
    pub text_en: String,
}

impl FollowupForm {
    pub fn of(f: &FollowupConfig) -> FollowupForm {
        FollowupForm {
            after: f.after.clone().unwrap_or_default(),
            nps: f.nps,
            link_valid: f.link_valid.to_string(),
            text_es: f.text_es.clone(),
            text_en: f.text_en.clone(),
        }
    }

    pub fn from_form(f: &HashMap<String, String>) -> FollowupForm {
        FollowupForm {
            after: field(f, "after").trim().to_string(),
            nps: f.contains_key("nps"),
            link_valid: field(f, "link_valid").trim().to_string(),
            text_es: field(f, "text_es").to_string(),
            text_en: field(f, "text_en").to_string(),
        }
    }

    pub fn apply(&self, base: &ClockSettings) -> Result<ClockSettings, String> {
        let link_valid = Dur::parse(&self.link_valid)
            .filter(|d| !d.0.is_zero())
            .ok_or_else(|| {
                format!(
                    "link validity: {:?} is not {}",
                    self.link_valid,
                    crate::config::DURATION_HELP
                )
            })?;
        let mut out = base.clone();
        let f = &mut out.followup;
        f.after = (!self.after.is_empty()).then(|| self.after.clone());
        f.nps = self.nps;
        f.link_valid = link_valid;
        f.text_es = self.text_es.trim().to_string();
        f.text_en = self.text_en.trim().to_string();
        Ok(out)
    }
}

/// The preview form's choices.
#[derive(Clone, Debug, Default)]
pub struct PreviewAsk {
    pub channel: String,
    pub lang: String,
    pub text: String,
}

/// A preview's answer, with the next opening in words.
pub struct PreviewShown {
    pub ask: PreviewAsk,
    pub preview: Preview,
    pub next_text: Option<String>,
}

/// Everything the page shows.
pub struct HoursPage<'a> {
    pub source: &'a str,
    pub settings: &'a ClockSettings,
    /// The default calendar in force.
    pub calendar: &'a Calendar,
    /// Every calendar in force (team and channel ones too).
    pub clock: &'a ClockState,
    /// Team and channel calendars, per-channel replies, the digest.
    pub more: ExtraPage<'a>,
    pub manage: bool,
    pub cal: CalendarForm,
    pub auto: AutoReplyForm,
    pub follow: FollowupForm,
    /// (section, ok, message) next to a form.
    pub flash: Option<(&'static str, bool, String)>,
    pub channels: &'a [String],
    pub preview: PreviewShown,
    pub satisfaction: Option<&'a Satisfaction>,
    /// None: not shown to this role.
    pub jobs: Option<JobsList<'a>>,
    pub zones: &'a [String],
}

/// A page of the scheduled jobs.
pub struct JobsList<'a> {
    pub jobs: &'a [JobView],
    pub total: u64,
    /// `due_ms:id` of the next page.
    pub next: Option<String>,
    pub first_page: bool,
    pub names: &'a HashMap<UserId, String>,
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

pub fn page(ctx: &Ctx, pg: &HoursPage) -> Markup {
    let ro = !pg.manage;
    html! {
        main class="page wide hours" id="hours" {
            h1 { (ctx.t(T::BusinessHours)) }
            @if ro { p class="muted" { (ctx.t(T::ReadOnly)) } }
            section class="card" id="hours-source" {
                p {
                    (ctx.t(T::HoursSource)) ": "
                    strong id="hours-source-name" {
                        (ctx.t(if pg.source == "admin" { T::HoursFromAdmin } else { T::FromConfigFile }))
                    }
                }
                (flash_for(pg, "reset"))
                @if pg.manage && pg.source == "admin" {
                    form method="post" action="/admin/hours/reset" class="row" {
                        (ctx.csrf_field())
                        button class="btn sm danger" type="submit" { (ctx.t(T::HoursReset)) }
                        small class="muted" { (ctx.t(T::HoursResetHelp)) }
                    }
                }
            }
            div class="hours-grid" {
                section id="calendar" {
                    h2 { (ctx.t(T::HoursCalendar)) }
                    (week_chart(ctx, pg.calendar, ctx.now))
                    (calendar_form(ctx, pg, ro))
                }
                section id="preview" {
                    h2 { (ctx.t(T::HoursPreview)) }
                    (preview_form(ctx, pg.channels, &pg.preview))
                }
            }
            (calendars::calendars_section(ctx, pg, &pg.more))
            section id="autoreply" {
                h2 { (ctx.t(T::AutoReplies)) }
                (autoreply_form(ctx, pg, ro))
                (calendars::channel_autoreply_section(ctx, pg, &pg.more))
            }
            section id="followup" {
                h2 { (ctx.t(T::FollowUps)) }
                (followup_form(ctx, pg, ro))
            }
            section id="satisfaction" {
                h2 { (ctx.t(T::Satisfaction)) }
                @match pg.satisfaction {
                    Some(s) => (satisfaction_card(ctx, s)),
                    None => p class="muted" { "—" },
                }
            }
            (calendars::digest_section(ctx, &pg.more))
            section id="jobs" {
                h2 { (ctx.t(T::ScheduledJobs)) }
                (flash_for(pg, "jobs"))
                @match &pg.jobs {
                    Some(list) => (jobs_section(ctx, list, pg.manage)),
                    None => p class="muted" { (ctx.t(T::JobsManagersOnly)) },
                }
            }
        }
    }
}

/// The week as bars across 0–24 h (an SVG: no inline styles under the CSP),
/// with "now" marked in the calendar's zone, then the holidays.
pub fn week_chart(ctx: &Ctx, cal: &Calendar, now: Ts) -> Markup {
    week_chart_titled(ctx, cal, now, "week-title")
}

/// [`week_chart`] with its own title id (several charts on one page).
pub fn week_chart_titled(ctx: &Ctx, cal: &Calendar, now: Ts, title_id: &str) -> Markup {
    // 1 unit = 6 minutes; 240 units a day, after a 40-unit label column.
    const LEFT: u32 = 40;
    const ROW: u32 = 16;
    let week = cal.week();
    let height = ROW * 7 + 14;
    let now_mark = jiff::tz::TimeZone::get(cal.timezone()).ok().map(|tz| {
        let z = now.to_jiff().to_zoned_datetime(tz);
        let day = z.weekday().to_monday_zero_offset() as u32;
        let minutes = z.hour() as u32 * 60 + z.minute() as u32;
        (day, LEFT + minutes / 6)
    });
    let holidays = cal.holidays();
    html! {
        figure class="week" {
            svg class="week-chart" viewBox=(format!("0 0 {} {height}", LEFT + 244)) role="img"
                aria-labelledby=(title_id) preserveAspectRatio="xMinYMin meet" {
                title id=(title_id) { (ctx.t(T::WeekChart)) ": " (cal.describe_hours(ctx.lang.code())) }
                @for h in [0u32, 6, 12, 18, 24] {
                    line class="tick" x1=(LEFT + h * 10) x2=(LEFT + h * 10) y1="0" y2=(ROW * 7) {}
                    text class="hour" x=(LEFT + h * 10) y=(ROW * 7 + 11) text-anchor="middle" { (h) }
                }
                @for (i, day) in week.iter().enumerate() {
                    @let y = i as u32 * ROW;
                    text class="wd" x="0" y=(y + 11) { (ctx.t(DAY_KEYS[i]).chars().take(3).collect::<String>()) }
                    rect class="track" x=(LEFT) y=(y + 3) width="240" height="10" rx="2" {}
                    @for r in day {
                        @let x = LEFT + u32::from(r.start) / 6;
                        @let w = (u32::from(r.end) - u32::from(r.start)).div_ceil(6).max(1);
                        rect class="open" x=(x) y=(y + 3) width=(w) height="10" rx="2" {
                            title { (ctx.t(DAY_KEYS[i])) " " (r.to_string()) }
                        }
                    }
                    @if let Some((d, x)) = now_mark {
                        @if d == i as u32 {
                            line class="now" x1=(x) x2=(x) y1=(y) y2=(y + ROW) {}
                        }
                    }
                }
            }
            figcaption class="muted" {
                (cal.describe_hours(ctx.lang.code()))
                @if cal.describe_hours(ctx.lang.code()).is_empty() { (ctx.t(T::NeverOpen)) }
                " · " (cal.timezone())
                @if !holidays.is_empty() {
                    br;
                    (ctx.t(T::Holidays)) ": " (holidays.join(", "))
                }
            }
        }
    }
}

fn calendar_form(ctx: &Ctx, pg: &HoursPage, ro: bool) -> Markup {
    let c = &pg.cal;
    let hours: Option<&HoursConfig> = pg.settings.hours.as_ref();
    let kept = hours.is_some_and(|h| !h.team.is_empty() || !h.channel.is_empty());
    html! {
        form method="post" action="/admin/hours/calendar" enctype="multipart/form-data" class="card hours-form" id="calendar-form" {
            (ctx.csrf_field())
            (flash_for(pg, "calendar"))
            fieldset disabled[ro] {
                label class="check" {
                    input type="checkbox" name="always_open" value="1" checked[c.always_open];
                    " " (ctx.t(T::AlwaysOpen))
                }
                label class="field" { (ctx.t(T::TimeZone))
                    input name="timezone" list="zones" value=(c.timezone) placeholder="Europe/Madrid" autocomplete="off";
                }
                datalist id="zones" { @for z in pg.zones { option value=(z) {} } }
                div class="days" {
                    @for (i, d) in DAYS.iter().enumerate() {
                        label class="field" { (ctx.t(DAY_KEYS[i]))
                            input name=(d) value=(c.days[i]) placeholder=(ctx.t(T::ClosedDay));
                        }
                    }
                }
                small class="muted" { (ctx.t(T::RangesHelp)) }
                label class="field" { (ctx.t(T::Holidays))
                    textarea name="holidays" rows="4" placeholder="2026-12-25\n01-01" { (c.holidays) }
                    small { (ctx.t(T::HolidaysHelp)) }
                }
                label class="field" { (ctx.t(T::IcalUpload))
                    input type="file" name="ical" accept=".ics,text/calendar";
                    small { (ctx.t(T::IcalHelp)) }
                }
                @if kept { p class="muted" { small { (ctx.t(T::TeamCalendarsKept)) } } }
                button class="btn primary" type="submit" { (ctx.t(T::Save)) }
            }
        }
    }
}

fn checkbox(name: &str, on: bool, label: &str) -> Markup {
    html! {
        label class="check" { input type="checkbox" name=(name) value="1" checked[on]; " " (label) }
    }
}

fn autoreply_form(ctx: &Ctx, pg: &HoursPage, ro: bool) -> Markup {
    let a = &pg.auto;
    html! {
        form method="post" action="/admin/hours/autoreply" class="card hours-form" id="autoreply-form" {
            (ctx.csrf_field())
            (flash_for(pg, "autoreply"))
            fieldset disabled[ro] {
                (checkbox("when_closed", a.when_closed, ctx.t(T::AutoWhenClosed)))
                (checkbox("when_open", a.when_open, ctx.t(T::AutoWhenOpen)))
                (checkbox("faq", a.faq, ctx.t(T::AutoFaq)))
                label class="field" { (ctx.t(T::AutoWindow))
                    input name="window" value=(a.window) placeholder="24h";
                    small { (ctx.t(T::AutoWindowHelp)) }
                }
                div class="pair" {
                    label class="field" { (ctx.t(T::ClosedText)) " (es)"
                        textarea name="closed_es" rows="3" placeholder=(ctx.t(T::BuiltInText)) { (a.closed_es) }
                    }
                    label class="field" { (ctx.t(T::ClosedText)) " (en)"
                        textarea name="closed_en" rows="3" placeholder=(ctx.t(T::BuiltInText)) { (a.closed_en) }
                    }
                    label class="field" { (ctx.t(T::OpenText)) " (es)"
                        textarea name="open_es" rows="3" placeholder=(ctx.t(T::BuiltInText)) { (a.open_es) }
                    }
                    label class="field" { (ctx.t(T::OpenText)) " (en)"
                        textarea name="open_en" rows="3" placeholder=(ctx.t(T::BuiltInText)) { (a.open_en) }
                    }
                }
                p class="muted vars" {
                    small {
                        (ctx.t(T::Variables)) ": "
                        code { "{{hours}}" } " " (ctx.t(T::VarHours)) " · "
                        code { "{{next_opening}}" } " " (ctx.t(T::VarNextOpening)) " · "
                        code { "{{expected}}" } " " (ctx.t(T::VarExpected)) " · "
                        code { "{{business.name}}" } " · "
                        code { "{{conversation.id}}" }
                    }
                }
                button class="btn primary" type="submit" { (ctx.t(T::Save)) }
            }
        }
    }
}

fn followup_form(ctx: &Ctx, pg: &HoursPage, ro: bool) -> Markup {
    let f = &pg.follow;
    html! {
        form method="post" action="/admin/hours/followup" class="card hours-form" id="followup-form" {
            (ctx.csrf_field())
            (flash_for(pg, "followup"))
            fieldset disabled[ro] {
                label class="field" { (ctx.t(T::FollowupAfter))
                    input name="after" value=(f.after) placeholder="3 business days";
                    small { (ctx.t(T::FollowupAfterHelp)) }
                }
                (checkbox("nps", f.nps, ctx.t(T::AskNps)))
                label class="field" { (ctx.t(T::LinkValid))
                    input name="link_valid" value=(f.link_valid) placeholder="30d";
                }
                div class="pair" {
                    label class="field" { (ctx.t(T::SurveyText)) " (es)"
                        textarea name="text_es" rows="3" placeholder=(ctx.t(T::BuiltInText)) { (f.text_es) }
                    }
                    label class="field" { (ctx.t(T::SurveyText)) " (en)"
                        textarea name="text_en" rows="3" placeholder=(ctx.t(T::BuiltInText)) { (f.text_en) }
                    }
                }
                p class="muted vars" {
                    small {
                        (ctx.t(T::Variables)) ": " code { "{{survey.url}}" } " " (ctx.t(T::VarSurveyUrl)) " · "
                        code { "{{contact.name}}" } " · " code { "{{business.name}}" } " · " code { "{{conversation.id}}" }
                    }
                }
                button class="btn primary" type="submit" { (ctx.t(T::Save)) }
            }
        }
    }
}

/// The preview form: works as a plain GET to the page, and htmx swaps only
/// the result as the inputs change.
fn preview_form(ctx: &Ctx, channels: &[String], shown: &PreviewShown) -> Markup {
    let ask = &shown.ask;
    html! {
        form method="get" action="/admin/hours#preview" class="card hours-form" id="preview-form"
            hx-get="/admin/hours/preview" hx-target="#preview-result" hx-swap="outerHTML"
            hx-trigger="input delay:400ms, submit" {
            div class="row" {
                label class="field" { (ctx.t(T::Channel))
                    select name="channel" {
                        option value="" selected[ask.channel.is_empty()] { "— " (ctx.t(T::DefaultCalendar)) }
                        @for c in channels { option value=(c) selected[*c == ask.channel] { (c) } }
                    }
                }
                label class="field" { (ctx.t(T::Language))
                    select name="lang" {
                        option value="es" selected[ask.lang == "es"] { "Español" }
                        option value="en" selected[ask.lang == "en"] { "English" }
                    }
                }
            }
            label class="field" { (ctx.t(T::SampleMessage))
                input name="text" value=(ask.text) maxlength="500" placeholder=(ctx.t(T::SampleMessageHelp));
            }
            noscript { button class="btn sm" type="submit" { (ctx.t(T::Apply)) } }
            (preview_result(ctx, shown))
        }
    }
}

/// What a message arriving now would get.
pub fn preview_result(ctx: &Ctx, shown: &PreviewShown) -> Markup {
    let p = &shown.preview;
    html! {
        div id="preview-result" class="preview" aria-live="polite" {
            p {
                @if p.open {
                    span class="badge open" id="preview-state" { (ctx.t(T::OpenNow)) }
                } @else {
                    span class="badge warn" id="preview-state" { (ctx.t(T::ClosedNow)) }
                }
                @if let Some(next) = &shown.next_text {
                    @if !p.open { " " (ctx.t(T::NextOpening)) ": " strong { (next) } }
                }
                @if !p.open && shown.next_text.is_none() { " " span class="muted" { (ctx.t(T::NoNextOpening)) } }
            }
            @match &p.reply {
                Some((reason, text)) => {
                    p { (ctx.t(T::WouldAnswer)) " " span class="tag" { (reason_label(ctx, reason)) } }
                    blockquote class="auto-text" id="preview-text" { @for line in text.lines() { (line) br; } }
                }
                None => p class="muted" id="preview-none" { (ctx.t(T::NoAutoReply)) },
            }
            p class="muted" { small {
                (if shown.ask.lang == "es" { &p.hours_es } else { &p.hours_en })
            } }
        }
    }
}

/// `closed`, `open`, `faq` in words.
pub fn reason_label(ctx: &Ctx, reason: &str) -> &'static str {
    ctx.t(match reason {
        "closed" => T::AutoReasonClosed,
        "open" => T::AutoReasonOpen,
        "faq" => T::AutoReasonFaq,
        _ => T::AutoReplyName,
    })
}
