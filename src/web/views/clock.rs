//! The clock in the agent's screens: satisfaction figures, the scheduled
//! jobs (admin list and a conversation's card), a conversation's survey,
//! and the timeline lines of automatic replies, SLA alerts, follow-ups and
//! surveys.

use super::Ctx;
use super::hours::{JobsList, reason_label};
use crate::app::hours::{JobView, Satisfaction, SurveyRecord};
use crate::domain::*;
use crate::web::i18n::T;
use maud::{Markup, html};

/// A job kind in words.
pub fn kind_label(ctx: &Ctx, kind: &str) -> &'static str {
    ctx.t(match kind {
        "follow_up" => T::JobFollowUp,
        "snooze_wake" => T::JobSnoozeWake,
        "scheduled_reply" => T::JobScheduledReply,
        "cron" => T::JobCron,
        _ => T::JobOther,
    })
}

/// A job's detail in the page's language where the app's words are known
/// (a scheduled reply's text is shown as written).
pub fn job_detail(ctx: &Ctx, j: &JobView) -> String {
    if let Some(text) = j.detail.strip_prefix("public reply: ") {
        return format!("{}: {text}", ctx.t(T::PublicReplyLabel));
    }
    if let Some(text) = j.detail.strip_prefix("private reply: ") {
        return format!("{}: {text}", ctx.t(T::PrivateReplyLabel));
    }
    match j.kind.as_str() {
        "follow_up" => ctx.t(T::JobFollowUpDetail).into(),
        "snooze_wake" => ctx.t(T::JobSnoozeDetail).into(),
        _ => j.detail.clone(),
    }
}

/// Whether the signed-in user may cancel this job (the app checks again):
/// admins and supervisors any but recurring ones, staff their own replies.
pub fn may_cancel(ctx: &Ctx, j: &JobView) -> bool {
    if j.kind == "cron" {
        return false;
    }
    ctx.user.is_some_and(|u| match u.role {
        Role::Admin | Role::Supervisor => true,
        Role::Agent => j.created_by == Some(u.id),
        Role::Auditor => false,
    })
}

fn cancel_form(ctx: &Ctx, j: &JobView, next: &str) -> Markup {
    html! {
        form method="post" action=(format!("/jobs/{}/cancel", j.id)) class="inline" {
            (ctx.csrf_field())
            input type="hidden" name="next" value=(next);
            button class="btn sm danger" type="submit" data-job=(j.id) { (ctx.t(T::CancelJob)) }
        }
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.0}%")).unwrap_or_else(|| "—".into())
}

/// CSAT %, average, NPS, answers and surveys sent, with gauges.
pub fn satisfaction_card(ctx: &Ctx, s: &Satisfaction) -> Markup {
    let rate = if s.surveys_sent > 0 {
        Some(100.0 * s.responses as f64 / s.surveys_sent as f64)
    } else {
        None
    };
    html! {
        div class="card sat" id="satisfaction-card" {
            @if s.responses == 0 && s.surveys_sent == 0 {
                p class="muted" id="satisfaction-empty" { (ctx.t(T::NoSurveysYet)) }
            }
            div class="gauges" {
                div class="gauge" {
                    span class="big" id="csat-percent" { (pct(s.csat_percent())) }
                    meter min="0" max="100" low="60" high="80" optimum="100" value=(s.csat_percent().unwrap_or(0.0))
                        aria-label=(ctx.t(T::CsatPercent)) {}
                    span class="muted" { (ctx.t(T::CsatPercent)) }
                }
                div class="gauge" {
                    span class="big" id="csat-average" {
                        (s.csat_average().map(|a| format!("{a:.1}")).unwrap_or_else(|| "—".into())) small { " / 5" }
                    }
                    meter min="1" max="5" low="3" high="4" optimum="5" value=(s.csat_average().unwrap_or(1.0))
                        aria-label=(ctx.t(T::CsatAverage)) {}
                    span class="muted" { (ctx.t(T::CsatAverage)) }
                }
                div class="gauge" {
                    span class="big" id="nps" { (s.nps().map(|n| format!("{n:+.0}")).unwrap_or_else(|| "—".into())) }
                    meter min="-100" max="100" low="0" high="30" optimum="100" value=(s.nps().unwrap_or(-100.0))
                        aria-label="NPS" {}
                    span class="muted" { "NPS" }
                }
            }
            dl class="kv" {
                dt { (ctx.t(T::SurveyAnswers)) } dd id="survey-answers" { (s.responses) }
                dt { (ctx.t(T::SurveysSent)) } dd id="surveys-sent" { (s.surveys_sent) " · " (ctx.t(T::AnswerRate)) " " (pct(rate)) }
                @if s.nps_responses > 0 {
                    dt { "NPS" } dd { (s.promoters) " " (ctx.t(T::Promoters)) " · " (s.detractors) " " (ctx.t(T::Detractors)) " · " (s.nps_responses) }
                }
            }
        }
    }
}

fn who(list: &JobsList, j: &JobView) -> String {
    match j.created_by {
        Some(u) => list
            .names
            .get(&u)
            .cloned()
            .unwrap_or_else(|| format!("#{u}")),
        None => "Atalaya".into(),
    }
}

/// The scheduled jobs, due first, with keyset pagination.
pub fn jobs_section(ctx: &Ctx, list: &JobsList, manage: bool) -> Markup {
    html! {
        p class="muted" id="jobs-total" { (ctx.t(T::JobsPending)) ": " (list.total) }
        @if list.jobs.is_empty() {
            div class="empty" id="jobs-empty" { p { (ctx.t(if list.first_page { T::NoJobs } else { T::NoMoreJobs })) } }
        } @else {
            table class="table jobs" {
                thead { tr {
                    th { (ctx.t(T::JobKind)) } th { (ctx.t(T::JobDue)) } th { (ctx.t(T::ConversationLabel)) }
                    th { (ctx.t(T::JobDetail)) } th { (ctx.t(T::By)) } th {}
                } }
                tbody {
                    @for j in list.jobs {
                        tr id=(format!("job-{}", j.id)) {
                            td { (kind_label(ctx, &j.kind)) }
                            td { time datetime=(j.due.rfc3339()) { (ctx.when(j.due)) } br; small class="muted" { (due_in(ctx, j.due)) } }
                            td { @if let Some(c) = j.conversation { a href=(format!("/conversations/{c}")) { "#" (c) } } @else { "—" } }
                            td class="detail" { (job_detail(ctx, j)) }
                            td { (who(list, j)) }
                            td { @if manage && may_cancel(ctx, j) { (cancel_form(ctx, j, "/admin/hours#jobs")) } }
                        }
                    }
                }
            }
        }
        div class="pager" {
            @if !list.first_page { a class="btn sm" href="/admin/hours#jobs" { "« " (ctx.t(T::FirstPage)) } }
            @if let Some(n) = &list.next {
                a class="btn sm" id="jobs-next" href=(format!("/admin/hours?after={n}#jobs")) { (ctx.t(T::SearchNext)) " »" }
            }
        }
    }
}

fn due_in(ctx: &Ctx, due: Ts) -> String {
    let (text, over) = ctx.until(due);
    if over {
        ctx.t(T::JobLateNow).into()
    } else {
        text
    }
}

/// The side panel's "Scheduled" card and the survey.
pub fn conversation_card(
    ctx: &Ctx,
    conv: ConversationId,
    jobs: &[JobView],
    survey: Option<&SurveyRecord>,
    view: &str,
) -> Markup {
    let next = format!("/conversations/{conv}?view={view}");
    html! {
        div class="card" id="scheduled" {
            h3 { (ctx.t(T::ScheduledCard)) }
            @if jobs.is_empty() {
                p class="muted" id="scheduled-empty" { (ctx.t(T::NothingScheduled)) }
            } @else {
                ul class="jobs-list" {
                    @for j in jobs {
                        li id=(format!("cjob-{}", j.id)) {
                            strong { (kind_label(ctx, &j.kind)) }
                            " " time datetime=(j.due.rfc3339()) { (ctx.when(j.due)) }
                            @if may_cancel(ctx, j) { (cancel_form(ctx, j, &next)) }
                            @if j.kind == "scheduled_reply" { small class="muted" { (job_detail(ctx, j)) } }
                        }
                    }
                }
            }
            @if let Some(s) = survey {
                h4 { (ctx.t(T::SurveyName)) }
                (survey_summary(ctx, s))
            }
        }
    }
}

fn survey_summary(ctx: &Ctx, s: &SurveyRecord) -> Markup {
    html! {
        div id="survey-summary" {
            @match &s.answer {
                Some(a) => {
                    p {
                        span class="stars" aria-label=(format!("{}/5", a.csat)) { @for i in 1..=5u8 { (if i <= a.csat { "★" } else { "☆" }) } }
                        " " strong { (a.csat) "/5" }
                        @if let Some(n) = a.nps { " · NPS " strong { (n) } }
                    }
                    @if !a.comment.is_empty() { blockquote class="auto-text" { (a.comment) } }
                    p class="muted" { small { (ctx.t(T::SurveyAnswered)) " " (ctx.when(a.at)) } }
                }
                None => {
                    p class="muted" {
                        (ctx.t(T::SurveySentAt)) " " (ctx.when(s.created)) " · "
                        @if s.expires.0 <= ctx.now.0 { (ctx.t(T::SurveyLinkExpired)) }
                        @else { (ctx.t(T::SurveyWaiting)) }
                    }
                }
            }
        }
    }
}

fn target_label(ctx: &Ctx, target: &str) -> &'static str {
    ctx.t(match target {
        "first_response" => T::SlaTargetFirstResponse,
        _ => T::SlaTargetResolution,
    })
}

fn cancel_reason(ctx: &Ctx, reason: &str) -> String {
    let key = match reason {
        "the customer wrote again" => Some(T::ReasonCustomerWrote),
        "the customer wrote: back in the inbox early" => Some(T::ReasonBackEarly),
        "the conversation reopened" => Some(T::ReasonReopened),
        "no longer snoozed" => Some(T::ReasonNoLongerSnoozed),
        _ => None,
    };
    key.map(|k| ctx.t(k).to_string())
        .unwrap_or_else(|| reason.to_string())
}

/// The timeline line of a clock event (`who` names the actor); None for
/// other events.
pub fn event_line(ctx: &Ctx, who: &str, e: &Event) -> Option<String> {
    Some(match &e.kind {
        EventKind::AutoReplied { reason, .. } => {
            format!(
                "{} ({})",
                ctx.t(T::AutoReplyName),
                reason_label(ctx, reason).to_lowercase()
            )
        }
        EventKind::SlaAlert {
            target, level, due, ..
        } => {
            if level == "breach" {
                format!(
                    "{}: {} ({} {})",
                    ctx.t(T::SlaBreached),
                    target_label(ctx, target),
                    ctx.t(T::WasDue),
                    ctx.when(*due)
                )
            } else {
                format!(
                    "{}: {} {} {}",
                    ctx.t(T::SlaWarning),
                    target_label(ctx, target),
                    ctx.t(T::DueAt),
                    ctx.when(*due)
                )
            }
        }
        EventKind::SlaPaused { paused: true, .. } => ctx.t(T::SlaPausedLine).into(),
        EventKind::SlaPaused { paused: false, .. } => ctx.t(T::SlaResumedLine).into(),
        EventKind::Scheduled { what, due, .. } if what == "follow_up" => {
            format!("{} {}", ctx.t(T::FollowupPlanned), ctx.when(*due))
        }
        EventKind::Scheduled { due, .. } => {
            format!("{who} {} {}", ctx.t(T::ScheduledReplyFor), ctx.when(*due))
        }
        EventKind::SurveySent { .. } => ctx.t(T::SurveySentLine).into(),
        EventKind::SurveyAnswered {
            csat, nps, comment, ..
        } => {
            let mut line = format!("{} {csat}/5", ctx.t(T::CustomerRated));
            if let Some(n) = nps {
                line.push_str(&format!(" (NPS {n})"));
            }
            if !comment.is_empty() {
                line.push_str(&format!(": {comment}"));
            }
            line
        }
        EventKind::JobCancelled { kind, reason, .. } => {
            let what = ctx.t(match kind.as_str() {
                "follow_up" => T::FollowupCancelled,
                "snooze_wake" => T::SnoozeWakeCancelled,
                _ => T::ScheduledReplyCancelled,
            });
            if matches!(e.actor, Actor::User(_)) {
                format!("{what} {} {who}", ctx.t(T::ByPerson))
            } else {
                format!("{what} ({})", cancel_reason(ctx, reason))
            }
        }
        _ => return None,
    })
}
