//! The clock in the app: business-hours calendars in force, automatic
//! replies, SLA alerts and pauses, follow-ups with satisfaction surveys,
//! scheduled replies and snooze wake-ups.
//!
//! A follower of the event log (watermark `clock-seq`, moved in the same
//! transaction as what it does) reacts to customer messages and status
//! changes; the durable scheduler (`crate::scheduler`) runs the jobs it
//! plans, each job's effect in the transaction that removes it.

use super::triage::{TriageRecord, get_json, put_json, record_key};
use super::{App, AppError, Caller, perm::Perm};
use crate::clock::{Calendar, Delay};
use crate::config::{AutoReplyConfig, FollowupConfig, HoursConfig};
use crate::domain::{
    Actor, Author, ChannelKind, Conversation, ConversationId, Direction, Event, EventKind, Message,
    MessageId, Role, Status, Ts, UserId,
};
use crate::scheduler::{Job, JobKind, Scheduler};
use crate::store::{StoreError, Tx};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

const WATERMARK: &str = "clock-seq";
const SETTINGS: &str = "clock-settings";
const SATISFACTION: &str = "satisfaction";
/// Events read per step.
const BATCH: usize = 500;
/// A message older than this when the follower sees it gets no automatic
/// reply (after downtime the answer would arrive too late to help).
const STALE_MS: i64 = 3_600_000;
/// Longest survey comment kept.
pub const MAX_COMMENT: usize = 2000;

fn autoreply_key(c: ConversationId) -> String {
    format!("autoreply\x1f{c}")
}
/// Set by the email path for automated senders (bounces, lists, auto-replies).
pub(crate) fn noauto_key(m: MessageId) -> String {
    format!("noauto\x1f{m}")
}
fn followup_done_key(c: ConversationId) -> String {
    format!("followup-done\x1f{c}")
}
fn survey_key(hash: &str) -> String {
    format!("survey\x1f{hash}")
}
fn survey_conv_key(c: ConversationId) -> String {
    format!("survey-conv\x1f{c}")
}
fn scheduled_key(c: ConversationId) -> String {
    format!("scheduled\x1f{c}")
}
pub fn followup_job_key(c: ConversationId) -> String {
    format!("followup:{c}")
}
pub fn snooze_job_key(c: ConversationId) -> String {
    format!("snooze:{c}")
}

/// The settings an admin can change in the UI (else the config file's).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClockSettings {
    pub hours: Option<HoursConfig>,
    pub autoreply: AutoReplyConfig,
    pub followup: FollowupConfig,
}

/// The calendars and policies in force.
#[derive(Debug)]
pub struct ClockState {
    pub settings: ClockSettings,
    /// `config` or `admin`.
    pub source: &'static str,
    pub default: Calendar,
    pub teams: HashMap<String, Calendar>,
    pub channels: HashMap<String, Calendar>,
    pub followup: Option<Delay>,
}

impl ClockState {
    pub fn build(settings: ClockSettings, source: &'static str) -> Result<ClockState, String> {
        let (default, teams, channels) = match &settings.hours {
            None => (Calendar::always_open(), HashMap::new(), HashMap::new()),
            Some(h) => {
                let tz = if h.timezone.is_empty() {
                    "UTC"
                } else {
                    h.timezone.as_str()
                };
                let default = h.base().build(tz)?;
                let mut teams = HashMap::new();
                for (name, c) in &h.team {
                    teams.insert(
                        name.clone(),
                        c.build(tz).map_err(|e| format!("team {name}: {e}"))?,
                    );
                }
                let mut channels = HashMap::new();
                for (name, c) in &h.channel {
                    channels.insert(
                        name.clone(),
                        c.build(tz).map_err(|e| format!("channel {name}: {e}"))?,
                    );
                }
                (default, teams, channels)
            }
        };
        let followup = match &settings.followup.after {
            Some(a) if !a.trim().is_empty() => {
                Some(Delay::parse(a).map_err(|e| format!("follow-up delay: {e}"))?)
            }
            _ => None,
        };
        Ok(ClockState {
            settings,
            source,
            default,
            teams,
            channels,
            followup,
        })
    }

    /// The calendar of a conversation: its channel's, else its team's, else
    /// the default.
    pub fn calendar(&self, channel: &str, team: Option<&str>) -> &Calendar {
        if let Some(c) = self.channels.get(channel) {
            return c;
        }
        if let Some(c) = team.and_then(|t| self.teams.get(t)) {
            return c;
        }
        &self.default
    }

    fn calendar_in(&self, tx: &Tx<'_>, conv: &Conversation) -> Result<&Calendar, StoreError> {
        let team = match conv.team {
            Some(t) => tx.team(t)?.map(|t| t.name),
            None => None,
        };
        Ok(self.calendar(&conv.channel, team.as_deref()))
    }
}

/// The clock state shared by the app.
pub struct Hours {
    state: Arc<RwLock<Arc<ClockState>>>,
    /// The scheduler, once `start_clock` ran.
    pub scheduler: std::sync::OnceLock<Arc<Scheduler>>,
    /// Wakes the scheduler after a job was stored.
    pub wake: Arc<Notify>,
    /// Runs the SLA check now (cron `sla_sweep`).
    pub sweep: Arc<Notify>,
}

impl ClockState {
    /// The config file's settings (validated when the config was loaded;
    /// should building fail anyway, the business is open 24/7).
    pub fn from_config(config: &crate::config::Config) -> ClockState {
        let settings = ClockSettings {
            hours: config.hours.clone(),
            autoreply: config.autoreply.clone(),
            followup: config.followup.clone(),
        };
        ClockState::build(settings.clone(), "config").unwrap_or_else(|_| ClockState {
            settings,
            source: "config",
            default: Calendar::always_open(),
            teams: HashMap::new(),
            channels: HashMap::new(),
            followup: None,
        })
    }
}

impl Hours {
    pub fn new(config: &crate::config::Config) -> Hours {
        let state = ClockState::from_config(config);
        Hours {
            state: Arc::new(RwLock::new(Arc::new(state))),
            scheduler: std::sync::OnceLock::new(),
            wake: Arc::new(Notify::new()),
            sweep: Arc::new(Notify::new()),
        }
    }

    pub fn state(&self) -> Arc<ClockState> {
        self.state
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    fn set(&self, s: ClockState) {
        let mut g = self.state.write().unwrap_or_else(|e| e.into_inner());
        *g = Arc::new(s);
    }
}

/// What the app's writer-side effects need (no `App`: effects run on the
/// writer thread and must not keep the app alive).
#[derive(Clone)]
struct Ctx {
    state: Arc<ClockState>,
    kinds: HashMap<String, ChannelKind>,
    parked: HashMap<String, Option<String>>,
    business: String,
    public_url: String,
    /// A job later than this ran late (`[scheduler] late_after`).
    late_after_ms: i64,
    outbox_wake: Arc<Notify>,
}

impl Ctx {
    fn kind(&self, channel: &str) -> Option<ChannelKind> {
        self.kinds.get(channel).copied()
    }
    fn parked(&self, channel: &str) -> Option<String> {
        self.parked
            .get(channel)
            .cloned()
            .unwrap_or_else(|| Some("the channel is no longer configured".into()))
    }
}

/// A survey as stored (by the SHA-256 of its token).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SurveyRecord {
    pub conversation: ConversationId,
    pub language: String,
    pub nps: bool,
    pub created: Ts,
    pub expires: Ts,
    pub answer: Option<SurveyAnswer>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SurveyAnswer {
    pub csat: u8,
    pub nps: Option<u8>,
    pub comment: String,
    pub at: Ts,
}

/// Satisfaction over every answered survey.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Satisfaction {
    pub responses: u64,
    pub csat_sum: u64,
    /// Answers of 4 or 5.
    pub satisfied: u64,
    pub nps_responses: u64,
    pub promoters: u64,
    pub detractors: u64,
    pub surveys_sent: u64,
}

impl Satisfaction {
    pub fn csat_average(&self) -> Option<f64> {
        (self.responses > 0).then(|| self.csat_sum as f64 / self.responses as f64)
    }
    /// Share of satisfied answers, in percent (the usual CSAT figure).
    pub fn csat_percent(&self) -> Option<f64> {
        (self.responses > 0).then(|| 100.0 * self.satisfied as f64 / self.responses as f64)
    }
    pub fn nps(&self) -> Option<f64> {
        (self.nps_responses > 0).then(|| {
            100.0 * (self.promoters as f64 - self.detractors as f64) / self.nps_responses as f64
        })
    }
}

/// What a message arriving now would get (the admin preview).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Preview {
    pub open: bool,
    pub next_opening: Option<Ts>,
    /// `closed`, `open` or `faq`, and the text; None: no automatic reply.
    pub reply: Option<(String, String)>,
    pub hours_es: String,
    pub hours_en: String,
}

/// A job as the admin list and the conversation page show it.
#[derive(Clone, Debug, Serialize)]
pub struct JobView {
    pub id: u64,
    pub due: Ts,
    pub kind: String,
    pub conversation: Option<ConversationId>,
    pub detail: String,
    pub created_by: Option<UserId>,
}

impl JobView {
    fn of(j: &Job) -> JobView {
        let detail = match &j.kind {
            JobKind::FollowUp { .. } => "satisfaction check".to_string(),
            JobKind::SnoozeWake { .. } => "back to the inbox".to_string(),
            JobKind::ScheduledReply { text, public, .. } => format!(
                "{}: {}",
                if *public {
                    "public reply"
                } else {
                    "private reply"
                },
                text.chars().take(80).collect::<String>()
            ),
            JobKind::Cron { name, task } => format!("{name} ({task})"),
            JobKind::Probe { n } => format!("probe {n}"),
        };
        JobView {
            id: j.id,
            due: j.due,
            kind: j.kind.name().to_string(),
            conversation: j.kind.conversation(),
            detail,
            created_by: j.created_by,
        }
    }
}

/// Spanish or English for an automatic message: the contact's language when
/// known, else the message's.
pub fn language_of(contact_lang: Option<&str>, text: &str) -> &'static str {
    match contact_lang.map(|l| l.to_ascii_lowercase()) {
        Some(l) if l.starts_with("es") => return "es",
        Some(l) if l.starts_with("en") => return "en",
        _ => {}
    }
    if text.contains(['¿', '¡', 'ñ', 'Ñ']) {
        return "es";
    }
    static DETECTOR: std::sync::LazyLock<whatlang::Detector> = std::sync::LazyLock::new(|| {
        whatlang::Detector::with_allowlist(vec![whatlang::Lang::Spa, whatlang::Lang::Eng])
    });
    match DETECTOR.detect_lang(text) {
        Some(whatlang::Lang::Spa) => "es",
        _ => "en",
    }
}

fn fill(template: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in pairs {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

const CLOSED_ES: &str =
    "Gracias por escribirnos. Nuestro horario es {{hours}}; te responderemos {{next_opening}}.";
const CLOSED_EN: &str =
    "Thank you for writing to us. Our hours are {{hours}}; we will answer you on {{next_opening}}.";
const OPEN_ES: &str = "Gracias por escribirnos. Hemos recibido tu mensaje (referencia #{{conversation.id}}) y te responderemos {{expected}}.";
const OPEN_EN: &str = "Thank you for writing to us. We have received your message (reference #{{conversation.id}}) and will answer you {{expected}}.";
const SURVEY_ES: &str = "¡Hola! Dimos por resuelta tu consulta (#{{conversation.id}}). ¿Quedó todo bien? Cuéntanos en un minuto: {{survey.url}}";
const SURVEY_EN: &str = "Hello! We marked your request (#{{conversation.id}}) as solved. Did it work out? Tell us in a minute: {{survey.url}}";

fn pick<'a>(own: &'a str, global: &'a str, builtin: &'a str) -> &'a str {
    if !own.trim().is_empty() {
        own
    } else if !global.trim().is_empty() {
        global
    } else {
        builtin
    }
}

/// "within 2h" / "en menos de 2h" from a response target.
fn expected_in(ms: i64, lang: &str) -> String {
    let d = crate::triage::sla::format_duration(ms.max(60_000));
    if lang == "es" {
        format!("en menos de {d}")
    } else {
        format!("within {d}")
    }
}

/// An automatic reply's decision (pure): `(reason, text)` or None.
#[allow(clippy::too_many_arguments)]
pub fn auto_reply_text(
    state: &ClockState,
    cal: &Calendar,
    channel: &str,
    lang: &str,
    at: Ts,
    conversation: ConversationId,
    business: &str,
    expected_ms: Option<i64>,
    faq: Option<&str>,
) -> Option<(String, String)> {
    let ar = &state.settings.autoreply;
    let own = ar.channel.get(channel).cloned().unwrap_or_default();
    let when_closed = own.when_closed.unwrap_or(ar.when_closed);
    let when_open = own.when_open.unwrap_or(ar.when_open);
    let use_faq = own.faq.unwrap_or(ar.faq);
    let id = conversation.to_string();
    if !cal.is_open(at) {
        let next = cal.next_opening(at);
        let closed = match next {
            Some(next) if when_closed => {
                let hours = cal.describe_hours(lang);
                let when = cal.describe_instant(next, lang);
                let t = if lang == "es" {
                    pick(&own.closed_es, &ar.closed_es, CLOSED_ES)
                } else {
                    pick(&own.closed_en, &ar.closed_en, CLOSED_EN)
                };
                Some(fill(
                    t,
                    &[
                        ("hours", &hours),
                        ("next_opening", &when),
                        ("business.name", business),
                        ("conversation.id", &id),
                    ],
                ))
            }
            _ => None,
        };
        if let (true, Some(answer)) = (use_faq, faq) {
            let text = match &closed {
                Some(c) => format!("{answer}\n\n{c}"),
                None => answer.to_string(),
            };
            return Some(("faq".into(), text));
        }
        return closed.map(|t| ("closed".into(), t));
    }
    if when_open {
        let expected = match expected_ms {
            Some(ms) => expected_in(ms, lang),
            None if lang == "es" => "lo antes posible".into(),
            None => "as soon as we can".into(),
        };
        let t = if lang == "es" {
            pick(&own.open_es, &ar.open_es, OPEN_ES)
        } else {
            pick(&own.open_en, &ar.open_en, OPEN_EN)
        };
        return Some((
            "open".into(),
            fill(
                t,
                &[
                    ("expected", &expected),
                    ("business.name", business),
                    ("conversation.id", &id),
                    ("hours", &cal.describe_hours(lang)),
                ],
            ),
        ));
    }
    None
}

/// A canned response marked "auto-answer" and the phrases that trigger it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaqEntry {
    pub canned: u64,
    pub phrases: Vec<String>,
}

pub(crate) const FAQ: &str = "faq-auto-answers";

/// Lower-case, accents folded, punctuation as spaces, padded with spaces so
/// that `contains(" phrase ")` matches whole words.
fn fold(s: &str) -> String {
    let folded = crate::triage::sentiment::fold(s);
    let mut out = String::with_capacity(folded.len() + 2);
    out.push(' ');
    let mut space = true;
    for c in folded.chars() {
        if c.is_alphanumeric() {
            out.push(c);
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    if !space {
        out.push(' ');
    }
    out
}

/// The first auto-answer whose phrase occurs in `text` (whole words, accent-
/// and case-insensitive).
pub fn faq_match<'a>(entries: &'a [FaqEntry], text: &str) -> Option<&'a FaqEntry> {
    let t = fold(text);
    entries.iter().find(|e| {
        e.phrases.iter().any(|p| {
            let p = fold(p);
            p.trim().len() >= 2 && t.contains(&p)
        })
    })
}

impl App {
    pub fn clock_state(&self) -> Arc<ClockState> {
        self.hours.state()
    }

    fn ctx(&self) -> Ctx {
        let mut kinds = HashMap::new();
        let mut parked = HashMap::new();
        let mut names: Vec<String> = self
            .config
            .channel
            .api
            .iter()
            .map(|c| c.name.clone())
            .collect();
        names.extend(self.config.channel.webchat.iter().map(|c| c.name.clone()));
        names.extend(
            self.email_channels()
                .into_iter()
                .map(|(c, _)| c.name.clone()),
        );
        if let Ok(m) = self.connectors.read() {
            names.extend(m.keys().cloned());
        }
        for n in names {
            if let Some(k) = self.channel_kind(&n) {
                kinds.insert(n.clone(), k);
            }
            parked.insert(n.clone(), self.cannot_send(&n));
        }
        Ctx {
            state: self.clock_state(),
            kinds,
            parked,
            business: self.config.business.name.clone(),
            late_after_ms: self.config.scheduler.late_after.0.as_millis() as i64,
            outbox_wake: self.outbox_wake.clone(),
            public_url: self
                .config
                .server
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", self.config.server.listen))
                .trim_end_matches('/')
                .to_string(),
        }
    }

    /// Load the admin's settings (if any) over the config's.
    pub async fn load_clock_settings(&self) -> Result<(), AppError> {
        let stored: Option<String> = self.store.read(|r| r.cursor::<String>(SETTINGS)).await?;
        if let Some(s) = stored {
            match serde_json::from_str::<ClockSettings>(&s)
                .map_err(|e| e.to_string())
                .and_then(|s| ClockState::build(s, "admin"))
            {
                Ok(state) => self.hours.set(state),
                Err(e) => {
                    tracing::error!(error = %e, "stored business-hours settings are invalid; using the config file's")
                }
            }
        }
        Ok(())
    }

    /// Save new settings (validated by building them) and put them in force.
    pub async fn save_clock_settings(
        &self,
        caller: &Caller,
        settings: ClockSettings,
        what: &str,
    ) -> Result<(), AppError> {
        caller.check(Perm::ManageHours, None)?;
        let user = caller.user().map(|u| u.id);
        let state = ClockState::build(settings.clone(), "admin").map_err(AppError::Invalid)?;
        let json = serde_json::to_string(&settings)
            .map_err(|e| AppError::Invalid(format!("settings: {e}")))?;
        let what = what.to_string();
        self.store
            .write(move |tx| {
                tx.put_cursor(SETTINGS, &json)?;
                tx.append_event(
                    user.map(Actor::User).unwrap_or(Actor::System),
                    EventKind::ClockSettingsChanged { what },
                )?;
                Ok(())
            })
            .await?;
        self.hours.set(state);
        Ok(())
    }

    /// Forget the admin's settings: the config file's are in force again.
    pub async fn reset_clock_settings(&self, caller: &Caller) -> Result<(), AppError> {
        caller.check(Perm::ManageHours, None)?;
        let user = caller.user().map(|u| u.id);
        self.store
            .write(move |tx| {
                tx.remove_cursor(SETTINGS)?;
                tx.append_event(
                    user.map(Actor::User).unwrap_or(Actor::System),
                    EventKind::ClockSettingsChanged {
                        what: "reset to the config file".into(),
                    },
                )?;
                Ok(())
            })
            .await?;
        self.hours.set(ClockState::from_config(&self.config));
        Ok(())
    }

    /// The automatic answer a message with `text` would get when closed.
    pub async fn faq_answer_for(&self, text: &str) -> Result<Option<String>, AppError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let text = text.to_string();
        let business = self.config.business.name.clone();
        Ok(self
            .store
            .read(move |r| {
                let entries: Vec<FaqEntry> = get_json(r, FAQ)?;
                faq_answer(&entries, &text, |id| r.canned(id), ("", &business, 0))
            })
            .await?)
    }

    /// "A message arriving now would be answered: …" (`faq`: what
    /// [`faq_answer_for`](App::faq_answer_for) found for a sample message).
    pub fn clock_preview(
        &self,
        channel: Option<&str>,
        lang: &str,
        now: Ts,
        faq: Option<&str>,
    ) -> Preview {
        let state = self.clock_state();
        let cal = state.calendar(channel.unwrap_or(""), None);
        let reply = auto_reply_text(
            &state,
            cal,
            channel.unwrap_or(""),
            lang,
            now,
            ConversationId(0),
            &self.config.business.name,
            None,
            faq,
        );
        Preview {
            open: cal.is_open(now),
            next_opening: cal.next_opening(now),
            reply,
            hours_es: cal.describe_hours("es"),
            hours_en: cal.describe_hours("en"),
        }
    }

    /// The auto-answer phrases per canned response.
    pub async fn faq_entries(&self) -> Result<Vec<FaqEntry>, AppError> {
        Ok(self.store.read(|r| get_json(r, FAQ)).await?)
    }

    /// Mark (phrases non-empty) or unmark a shared canned response as an
    /// automatic answer when closed.
    pub async fn set_faq(
        &self,
        caller: &Caller,
        canned: u64,
        phrases: Vec<String>,
    ) -> Result<(), AppError> {
        caller.check(Perm::ManageHours, None)?;
        let phrases: Vec<String> = phrases
            .into_iter()
            .map(|p| p.trim().to_string())
            .filter(|p| p.chars().count() >= 2)
            .take(50)
            .collect();
        let user = caller.user().map(|u| u.id);
        self.store
            .write(move |tx| {
                let Some(c) = tx.canned(canned)? else {
                    return Ok(Err(AppError::NotFound(format!(
                        "no canned response {canned}"
                    ))));
                };
                if c.owner.is_some() && !phrases.is_empty() {
                    return Ok(Err(AppError::Invalid(
                        "only shared canned responses can be automatic answers".into(),
                    )));
                }
                let mut entries: Vec<FaqEntry> = get_json(tx, FAQ)?;
                entries.retain(|e| e.canned != canned);
                let on = !phrases.is_empty();
                if on {
                    entries.push(FaqEntry { canned, phrases });
                }
                put_json(tx, FAQ, &entries)?;
                tx.append_event(
                    user.map(Actor::User).unwrap_or(Actor::System),
                    EventKind::ClockSettingsChanged {
                        what: format!(
                            "canned response {canned} {} an automatic answer",
                            if on { "is" } else { "is no longer" }
                        ),
                    },
                )?;
                Ok(Ok(()))
            })
            .await?
    }

    /// Follow the event log (auto-replies, follow-ups, snoozes, SLA pauses),
    /// start the scheduler and check SLAs periodically, until `stop`.
    pub fn start_clock(
        self: &Arc<Self>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let scheduler = self.scheduler();
        let mut handles = vec![scheduler.clone().spawn(self.clock.clone(), stop.clone())];
        let app = self.clone();
        let mut stop2 = stop.clone();
        handles.push(tokio::spawn(async move {
            if let Err(e) = app.load_clock_settings().await {
                tracing::warn!(error = %e, "business-hours settings could not be read");
            }
            let start = app
                .store
                .read(|r| Ok((r.cursor::<u64>(WATERMARK)?, r.last_event_seq()?)))
                .await;
            if let Ok((None, last)) = start {
                let _ = app
                    .store
                    .write(move |tx| tx.put_cursor(WATERMARK, &last))
                    .await;
            }
            let mut seq = app.store.subscribe();
            let mut sweep = tokio::time::interval(std::time::Duration::from_secs(30));
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                match app.clock_step().await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "clock step failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
                let run_sweep = tokio::select! {
                    _ = stop2.changed() => break,
                    r = seq.changed() => { if r.is_err() { break } false }
                    _ = sweep.tick() => true,
                    _ = app.hours.sweep.notified() => true,
                };
                if run_sweep && let Err(e) = app.sla_sweep().await {
                    tracing::warn!(error = %e, "SLA check failed");
                }
                if *stop2.borrow() {
                    break;
                }
            }
        }));
        handles
    }

    /// The scheduler (built once, with this app's job effects).
    pub fn scheduler(self: &Arc<Self>) -> Arc<Scheduler> {
        self.hours
            .scheduler
            .get_or_init(|| {
                let weak = Arc::downgrade(self);
                let effect: crate::scheduler::Effect =
                    Arc::new(move |tx, job| match weak.upgrade() {
                        Some(app) => {
                            let ctx = app.ctx();
                            run_job(tx, &ctx, job, &app.hours)
                        }
                        None => Err(StoreError::Closed),
                    });
                let tz = self.config.default_timezone();
                let cron = self
                    .config
                    .scheduler
                    .cron
                    .iter()
                    .filter_map(|c| {
                        crate::scheduler::parse_cron(&c.name, &c.schedule, &tz)
                            .ok()
                            .map(|mut s| {
                                s.task = c.task.clone();
                                s
                            })
                    })
                    .collect();
                Arc::new(Scheduler {
                    store: self.store.clone(),
                    wake: self.hours.wake.clone(),
                    effect,
                    opts: crate::scheduler::Options {
                        late_after_ms: self.config.scheduler.late_after.0.as_millis() as i64,
                        cron,
                        ..Default::default()
                    },
                })
            })
            .clone()
    }

    /// One pass of the follower; true when it did something.
    pub async fn clock_step(&self) -> Result<bool, AppError> {
        let watermark = self
            .store
            .read(|r| r.cursor::<u64>(WATERMARK))
            .await?
            .unwrap_or(0);
        let events = self
            .store
            .read(move |r| r.events_after(watermark, BATCH))
            .await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(false);
        };
        let ctx = self.ctx();
        let (jobs, replies) = self
            .store
            .write(move |tx| {
                let mut jobs = false;
                let mut replies = false;
                for e in &events {
                    let (j, r) = react(tx, &ctx, e)?;
                    jobs |= j;
                    replies |= r;
                }
                tx.put_cursor(WATERMARK, &last)?;
                Ok((jobs, replies))
            })
            .await?;
        if jobs {
            self.hours.wake.notify_one();
        }
        if replies {
            self.outbox_wake.notify_one();
        }
        Ok(true)
    }

    /// Raise SLA warnings and breaches (once each) in business time; a
    /// breach escalates one tier.
    pub async fn sla_sweep(&self) -> Result<usize, AppError> {
        let now = self.clock.now();
        let state = self.clock_state();
        let warn_at = self.config.triage.escalate_at;
        let alerts = self
            .store
            .read(move |r| {
                let mut out = Vec::new();
                for status in [Status::Open] {
                    let mut cursor: Option<Vec<u8>> = None;
                    loop {
                        let page = r.list_conversations(
                            crate::store::Sort::Oldest,
                            Some(status),
                            cursor.as_deref(),
                            500,
                            |c| c.sla_due_at.is_some(),
                        )?;
                        for c in &page.items {
                            let rec: TriageRecord = get_json(r, &record_key(c.id))?;
                            if rec.sla_paused_at.is_some() {
                                continue;
                            }
                            let team = match c.team {
                                Some(t) => r.team(t)?.map(|t| t.name),
                                None => None,
                            };
                            let cal = state.calendar(&c.channel, team.as_deref());
                            let mut targets = Vec::new();
                            if c.first_response_at.is_none()
                                && let Some(d) = rec.first_response_due
                            {
                                targets.push(("first_response", d));
                            }
                            if let Some(d) = rec.resolution_due {
                                targets.push(("resolution", d));
                            }
                            for (target, due) in targets {
                                let level = sla_level(cal, c.created_at, due, now, warn_at);
                                let Some(level) = level else { continue };
                                let key = format!("{target}:{level}");
                                if !rec.alerts.contains(&key) {
                                    out.push((c.id, target, level, due));
                                }
                            }
                        }
                        match page.next_cursor.and_then(|c| hex::decode(c).ok()) {
                            Some(c) => cursor = Some(c),
                            None => break,
                        }
                    }
                }
                Ok(out)
            })
            .await?;
        let n = alerts.len();
        if n > 0 {
            self.store
                .write(move |tx| {
                    for (id, target, level, due) in alerts {
                        let mut rec: TriageRecord = get_json(tx, &record_key(id))?;
                        let key = format!("{target}:{level}");
                        if rec.alerts.contains(&key) {
                            continue;
                        }
                        // A breach implies the warning was passed.
                        if level == "breach" {
                            let w = format!("{target}:warning");
                            if !rec.alerts.contains(&w) {
                                rec.alerts.push(w);
                            }
                        }
                        rec.alerts.push(key);
                        put_json(tx, &record_key(id), &rec)?;
                        tx.append_event(
                            Actor::System,
                            EventKind::SlaAlert {
                                conversation: id,
                                target: target.to_string(),
                                level: level.to_string(),
                                due,
                            },
                        )?;
                        let first_breach = level == "breach"
                            && rec.alerts.iter().filter(|a| a.ends_with(":breach")).count() == 1;
                        if first_breach && let Some(last) = tx.message_ids(id)?.last().copied() {
                            notify_supervisors(tx, id, last)?;
                        }
                        if level == "breach"
                            && let Some(c) = tx.conversation(id)?
                            && c.tier < 3
                        {
                            let what = target.replace('_', " ");
                            super::triage::change_tier(
                                tx,
                                id,
                                c.tier + 1,
                                &format!("{what} SLA breached"),
                                Actor::System,
                                Some("breach"),
                            )?;
                        }
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(n)
    }

    /// Schedule a reply to be sent at `at` (checked now, sent then).
    pub async fn schedule_reply(
        &self,
        caller: &Caller,
        id: ConversationId,
        text: &str,
        public: bool,
        at: Ts,
    ) -> Result<JobView, AppError> {
        let text = text.trim().to_string();
        if text.is_empty() {
            return Err(AppError::Invalid("text must not be empty".into()));
        }
        if text.len() > super::conversations::MAX_REPLY_BYTES {
            return Err(AppError::Invalid("the text is too long".into()));
        }
        caller.check(Perm::ReplyConversation, None)?;
        let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let now = self.clock.now();
        if at.0 <= now.0 {
            return Err(AppError::Invalid(
                "the time to send must be in the future".into(),
            ));
        }
        if at.0 > now.0 + 366 * 86_400_000 {
            return Err(AppError::Invalid(
                "the time to send must be within a year".into(),
            ));
        }
        let conv = self
            .store
            .read(move |r| r.conversation(id))
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no conversation {id}")))?;
        caller.check(Perm::ReplyConversation, Some(&conv))?;
        let kind = self.channel_kind(&conv.channel).ok_or_else(|| {
            AppError::Conflict(format!("channel {} cannot send replies", conv.channel))
        })?;
        if !public && !kind.has_private() {
            return Err(AppError::Invalid(format!(
                "channel {} has no private replies",
                conv.channel
            )));
        }
        let mut text = text;
        if text.contains("{{") {
            let contact = conv.contact;
            let contact = self.store.read(move |r| r.contact(contact)).await?;
            text = super::canned::render(&text, &self.canned_vars(&user, &conv, contact.as_ref()))
                .map_err(|e| AppError::Invalid(e.to_string()))?;
        }
        let uid = user.id;
        let job = self
            .store
            .write(move |tx| {
                let job = Job {
                    id: tx.next_id(),
                    due: at,
                    kind: JobKind::ScheduledReply {
                        conversation: id,
                        author: uid,
                        text,
                        public,
                    },
                    key: None,
                    created: tx.now(),
                    created_by: Some(uid),
                };
                tx.put_job(&job)?;
                let mut list: Vec<u64> = get_json(tx, &scheduled_key(id))?;
                list.push(job.id);
                put_json(tx, &scheduled_key(id), &list)?;
                tx.append_event(
                    Actor::User(uid),
                    EventKind::Scheduled {
                        conversation: id,
                        job: job.id,
                        what: "reply".into(),
                        due: at,
                    },
                )?;
                Ok(job)
            })
            .await?;
        self.hours.wake.notify_one();
        Ok(JobView::of(&job))
    }

    /// The jobs planned for one conversation (follow-up, snooze, replies).
    pub async fn conversation_jobs(
        &self,
        caller: &Caller,
        id: ConversationId,
    ) -> Result<Vec<JobView>, AppError> {
        // One snapshot: the conversation (for the check) and its jobs.
        let (conv, jobs) = self
            .store
            .read(move |r| {
                let conv = r.conversation(id)?;
                let mut out = Vec::new();
                for key in [followup_job_key(id), snooze_job_key(id)] {
                    if let Some(j) = r.job_by_key(&key)? {
                        out.push(j);
                    }
                }
                let list: Vec<u64> = get_json(r, &scheduled_key(id))?;
                for j in list {
                    if let Some(j) = r.job(j)? {
                        out.push(j);
                    }
                }
                Ok((conv, out))
            })
            .await?;
        let conv = conv.ok_or_else(|| AppError::NotFound(format!("no conversation {id}")))?;
        caller.check(Perm::ViewConversation, Some(&conv))?;
        let mut v: Vec<JobView> = jobs.iter().map(JobView::of).collect();
        v.sort_by_key(|j| (j.due, j.id));
        Ok(v)
    }

    /// Every pending job, in due order, a page at a time.
    pub async fn jobs_page(
        &self,
        caller: &Caller,
        after: Option<(Ts, u64)>,
        limit: usize,
    ) -> Result<(Vec<JobView>, u64), AppError> {
        caller.check(Perm::ManageHours, None)?;
        let limit = limit.clamp(1, 500);
        let (jobs, count) = self
            .store
            .read(move |r| Ok((r.jobs_page(after, limit)?, r.job_count()?)))
            .await?;
        Ok((jobs.iter().map(JobView::of).collect(), count))
    }

    /// Cancel a job: supervisors and admins any, an agent their own replies.
    pub async fn cancel_job(&self, caller: &Caller, id: u64) -> Result<(), AppError> {
        let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let job = self
            .store
            .read(move |r| r.job(id))
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no scheduled job {id}")))?;
        let own = job.created_by == Some(user.id);
        if !own {
            caller.check(Perm::ManageHours, None)?;
        } else {
            caller.check(Perm::ReplyConversation, None)?;
        }
        if matches!(job.kind, JobKind::Cron { .. }) {
            return Err(AppError::Invalid(
                "recurring jobs come from [[scheduler.cron]] in the config file".into(),
            ));
        }
        let name = user.name.clone();
        let uid = user.id;
        self.store
            .write(move |tx| {
                let Some(job) = tx.remove_job(id)? else {
                    return Ok(());
                };
                if let Some(c) = job.kind.conversation() {
                    let mut list: Vec<u64> = get_json(tx, &scheduled_key(c))?;
                    if list.contains(&id) {
                        list.retain(|j| *j != id);
                        put_json(tx, &scheduled_key(c), &list)?;
                    }
                }
                tx.append_event(
                    Actor::User(uid),
                    EventKind::JobCancelled {
                        job: id,
                        kind: job.kind.name().into(),
                        conversation: job.kind.conversation(),
                        reason: format!("cancelled by {name}"),
                    },
                )?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// A survey by its token (None: unknown or expired).
    pub async fn survey(&self, token: &str) -> Result<Option<SurveyRecord>, AppError> {
        let key = survey_key(&hash_token(token));
        let now = self.clock.now();
        let rec: Option<SurveyRecord> = self
            .store
            .read(move |r| {
                Ok(r.cursor::<String>(&key)?
                    .and_then(|s| serde_json::from_str(&s).ok()))
            })
            .await?;
        Ok(rec.filter(|r| r.answer.is_some() || r.expires.0 > now.0))
    }

    /// Store the customer's answer (once).
    pub async fn answer_survey(
        &self,
        token: &str,
        csat: u8,
        nps: Option<u8>,
        comment: &str,
    ) -> Result<SurveyRecord, AppError> {
        if !(1..=5).contains(&csat) {
            return Err(AppError::Invalid("choose a rating from 1 to 5".into()));
        }
        if nps.is_some_and(|n| n > 10) {
            return Err(AppError::Invalid(
                "the recommendation is from 0 to 10".into(),
            ));
        }
        let comment: String = comment.trim().chars().take(MAX_COMMENT).collect();
        let key = survey_key(&hash_token(token));
        let now = self.clock.now();
        self.store
            .write(move |tx| {
                let rec: Option<SurveyRecord> = tx
                    .cursor::<String>(&key)?
                    .and_then(|s| serde_json::from_str(&s).ok());
                let Some(mut rec) = rec.filter(|r| r.expires.0 > now.0 || r.answer.is_some())
                else {
                    return Ok(Err(AppError::NotFound(
                        "this survey link is unknown or has expired".into(),
                    )));
                };
                if rec.answer.is_some() {
                    return Ok(Err(AppError::Conflict(
                        "this survey was already answered, thank you".into(),
                    )));
                }
                let nps = if rec.nps { nps } else { None };
                rec.answer = Some(SurveyAnswer {
                    csat,
                    nps,
                    comment: comment.clone(),
                    at: tx.now(),
                });
                put_json(tx, &key, &rec)?;
                let mut s: Satisfaction = get_json(tx, SATISFACTION)?;
                s.responses += 1;
                s.csat_sum += u64::from(csat);
                if csat >= 4 {
                    s.satisfied += 1;
                }
                if let Some(n) = nps {
                    s.nps_responses += 1;
                    if n >= 9 {
                        s.promoters += 1;
                    } else if n <= 6 {
                        s.detractors += 1;
                    }
                }
                put_json(tx, SATISFACTION, &s)?;
                if let Some(c) = tx.conversation(rec.conversation)?
                    && let Some(a) = c.assignee
                {
                    super::triage::note_csat(tx, a, csat)?;
                }
                tx.append_event(
                    Actor::System,
                    EventKind::SurveyAnswered {
                        conversation: rec.conversation,
                        csat,
                        nps,
                        comment,
                    },
                )?;
                Ok(Ok(rec))
            })
            .await?
    }

    /// The satisfaction figures (every answered survey).
    pub async fn satisfaction(&self, caller: &Caller) -> Result<Satisfaction, AppError> {
        caller.user().ok_or(AppError::Unauthorized)?;
        Ok(self.store.read(|r| get_json(r, SATISFACTION)).await?)
    }

    /// The latest digest of a `digest` cron job, if one ran.
    pub async fn clock_digest(&self, caller: &Caller) -> Result<Option<String>, AppError> {
        caller.check(Perm::ManageHours, None)?;
        Ok(self
            .store
            .read(|r| r.cursor::<String>("clock-digest"))
            .await?)
    }

    /// The survey of a conversation, if one was sent.
    pub async fn conversation_survey(
        &self,
        caller: &Caller,
        id: ConversationId,
    ) -> Result<Option<SurveyRecord>, AppError> {
        let (conv, survey) = self
            .store
            .read(move |r| {
                let conv = r.conversation(id)?;
                let Some(hash) = r.cursor::<String>(&survey_conv_key(id))? else {
                    return Ok((conv, None));
                };
                let survey = r
                    .cursor::<String>(&survey_key(&hash))?
                    .and_then(|s| serde_json::from_str(&s).ok());
                Ok((conv, survey))
            })
            .await?;
        let conv = conv.ok_or_else(|| AppError::NotFound(format!("no conversation {id}")))?;
        caller.check(Perm::ViewConversation, Some(&conv))?;
        Ok(survey)
    }
}

/// Put the message in every active admin's and supervisor's Mentions view
/// (SLA breaches, replies sent late after downtime).
fn notify_supervisors(
    tx: &mut Tx<'_>,
    conv: ConversationId,
    message: MessageId,
) -> Result<(), StoreError> {
    for u in tx.users()? {
        if u.active && matches!(u.role, Role::Admin | Role::Supervisor) {
            tx.add_mention(u.id, message, conv)?;
            tx.append_event(
                Actor::System,
                EventKind::Mentioned {
                    conversation: conv,
                    message,
                    user: u.id,
                },
            )?;
        }
    }
    Ok(())
}

/// `warning` once `warn_at` of the business time to `due` is used, `breach`
/// once `due` passed; None before.
pub fn sla_level(
    cal: &Calendar,
    start: Ts,
    due: Ts,
    now: Ts,
    warn_at: f64,
) -> Option<&'static str> {
    if now.0 >= due.0 {
        return Some("breach");
    }
    let total = cal.business_between(start, due);
    if total <= 0 {
        return None;
    }
    let used = cal.business_between(start, now);
    (used as f64 / total as f64 >= warn_at).then_some("warning")
}

fn hash_token(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The automatic answer for `text`, if a phrase matches a shared canned
/// response (one made personal after it was marked no longer answers).
fn faq_answer(
    entries: &[FaqEntry],
    text: &str,
    canned: impl FnOnce(u64) -> Result<Option<crate::domain::CannedResponse>, StoreError>,
    (contact, business, conv): (&str, &str, u64),
) -> Result<Option<String>, StoreError> {
    let Some(e) = faq_match(entries, text) else {
        return Ok(None);
    };
    Ok(canned(e.canned)?
        .filter(|c| c.owner.is_none())
        .and_then(|c| render_faq(&c.body, contact, business, conv)))
}

fn render_faq(body: &str, contact: &str, business: &str, conv: u64) -> Option<String> {
    let vars = super::canned::Vars {
        contact_name: contact.to_string(),
        contact_first_name: None,
        agent_name: business.to_string(),
        business_name: business.to_string(),
        conversation_id: conv,
    };
    super::canned::render(body, &vars).ok()
}

/// Store a job, replacing the one with the same key.
fn put_job(tx: &mut Tx<'_>, kind: JobKind, due: Ts, key: String) -> Result<Job, StoreError> {
    let job = Job {
        id: tx.next_id(),
        due,
        kind,
        key: Some(key),
        created: tx.now(),
        created_by: None,
    };
    tx.put_job(&job)?;
    Ok(job)
}

fn cancel_key(tx: &mut Tx<'_>, key: &str, reason: &str) -> Result<bool, StoreError> {
    let Some(job) = tx.remove_job_key(key)? else {
        return Ok(false);
    };
    tx.append_event(
        Actor::System,
        EventKind::JobCancelled {
            job: job.id,
            kind: job.kind.name().into(),
            conversation: job.kind.conversation(),
            reason: reason.into(),
        },
    )?;
    Ok(true)
}

/// The follower's reaction to one event: (stored jobs, queued replies).
fn react(tx: &mut Tx<'_>, ctx: &Ctx, e: &Event) -> Result<(bool, bool), StoreError> {
    match &e.kind {
        EventKind::MessageReceived {
            conversation,
            message,
        } => {
            let Some(m) = tx.message(*message)? else {
                return Ok((false, false));
            };
            if m.direction != Direction::In {
                return Ok((false, false));
            }
            // Ingest reopened it if it was resolved, snoozed or pending (the
            // status change cancels the follow-up or the wake-up).
            let Some(conv) = tx.conversation(*conversation)? else {
                return Ok((false, false));
            };
            Ok((false, auto_reply(tx, ctx, &conv, &m)?))
        }
        EventKind::StatusChanged {
            conversation,
            from,
            to,
        } => {
            let mut jobs = false;
            let Some(conv) = tx.conversation(*conversation)? else {
                return Ok((false, false));
            };
            // Ingest (a channel) changes a status only because the customer wrote.
            let customer = matches!(e.actor, Actor::Channel(_));
            if *from == Status::Resolved && *to != Status::Resolved {
                let why = if customer {
                    "the customer wrote again"
                } else {
                    "the conversation reopened"
                };
                jobs |= cancel_key(tx, &followup_job_key(conv.id), why)?;
            }
            if *from == Status::Snoozed && *to != Status::Snoozed {
                let why = if customer {
                    "the customer wrote: back in the inbox early"
                } else {
                    "no longer snoozed"
                };
                jobs |= cancel_key(tx, &snooze_job_key(conv.id), why)?;
            }
            if *from == Status::Pending && *to != Status::Pending {
                resume_sla(tx, ctx, &conv)?;
            }
            match to {
                Status::Resolved if conv.status == Status::Resolved => {
                    jobs |= plan_followup(tx, ctx, &conv)?;
                }
                Status::Snoozed if conv.status == Status::Snoozed => {
                    if let Some(until) = conv.snoozed_until {
                        put_job(
                            tx,
                            JobKind::SnoozeWake {
                                conversation: conv.id,
                                until,
                            },
                            until,
                            snooze_job_key(conv.id),
                        )?;
                        jobs = true;
                    }
                }
                Status::Pending if conv.status == Status::Pending => {
                    let mut rec: TriageRecord = get_json(tx, &record_key(conv.id))?;
                    if rec.sla_paused_at.is_none() {
                        rec.sla_paused_at = Some(tx.now());
                        put_json(tx, &record_key(conv.id), &rec)?;
                        tx.append_event(
                            Actor::System,
                            EventKind::SlaPaused {
                                conversation: conv.id,
                                paused: true,
                            },
                        )?;
                    }
                }
                _ => {}
            }
            Ok((jobs, false))
        }
        _ => Ok((false, false)),
    }
}

/// The SLA clock starts again: due times move by the business time spent
/// pending.
fn resume_sla(tx: &mut Tx<'_>, ctx: &Ctx, conv: &Conversation) -> Result<(), StoreError> {
    let mut rec: TriageRecord = get_json(tx, &record_key(conv.id))?;
    let Some(paused) = rec.sla_paused_at.take() else {
        return Ok(());
    };
    let now = tx.now();
    let cal = ctx.state.calendar_in(tx, conv)?;
    let shift = cal.business_between(paused, now);
    let moved = |t: Ts| -> Ts {
        if shift <= 0 {
            return t;
        }
        // The remaining business time is kept: from now, as much as was left.
        let left = cal.business_between(paused, t);
        cal.add_business(now, left).unwrap_or(t.plus_ms(shift))
    };
    rec.first_response_due = rec.first_response_due.map(moved);
    rec.resolution_due = rec.resolution_due.map(moved);
    put_json(tx, &record_key(conv.id), &rec)?;
    if let Some(c) = tx.conversation(conv.id)? {
        let old = c.clone();
        let mut c = c;
        c.sla_due_at = if c.first_response_at.is_none() {
            rec.first_response_due
        } else {
            rec.resolution_due
        }
        .or(c.sla_due_at);
        if c != old {
            tx.put_conversation(Some(&old), &c)?;
        }
    }
    tx.append_event(
        Actor::System,
        EventKind::SlaPaused {
            conversation: conv.id,
            paused: false,
        },
    )?;
    Ok(())
}

fn plan_followup(tx: &mut Tx<'_>, ctx: &Ctx, conv: &Conversation) -> Result<bool, StoreError> {
    let Some(delay) = ctx.state.followup else {
        return Ok(false);
    };
    if tx.cursor::<String>(&followup_done_key(conv.id))?.is_some()
        || ctx.kind(&conv.channel).is_none()
    {
        return Ok(false);
    }
    let now = tx.now();
    let cal = ctx.state.calendar_in(tx, conv)?;
    let Some(due) = delay.apply(cal, now) else {
        return Ok(false);
    };
    let job = put_job(
        tx,
        JobKind::FollowUp {
            conversation: conv.id,
        },
        due,
        followup_job_key(conv.id),
    )?;
    tx.append_event(
        Actor::System,
        EventKind::Scheduled {
            conversation: conv.id,
            job: job.id,
            what: "follow_up".into(),
            due,
        },
    )?;
    Ok(true)
}

/// Queue a message the business sends by itself (not a response: the
/// customer still waits for a person).
fn send_automatic(
    tx: &mut Tx<'_>,
    ctx: &Ctx,
    conv: &Conversation,
    text: String,
) -> Result<Option<Message>, StoreError> {
    let Some(kind) = ctx.kind(&conv.channel) else {
        return Ok(None);
    };
    super::conversations::send_automatic(
        tx,
        conv.id,
        kind,
        text,
        (&ctx.business, ctx.parked(&conv.channel), Actor::System),
    )
}

fn auto_reply(
    tx: &mut Tx<'_>,
    ctx: &Ctx,
    conv: &Conversation,
    m: &Message,
) -> Result<bool, StoreError> {
    let ar = &ctx.state.settings.autoreply;
    let own = ar.channel.get(&conv.channel);
    let any = ar.when_closed
        || ar.when_open
        || ar.faq
        || own.is_some_and(|o| {
            o.when_closed == Some(true) || o.when_open == Some(true) || o.faq == Some(true)
        });
    if !any || !matches!(m.author, Author::Identity(_)) {
        return Ok(false);
    }
    let now = tx.now();
    if now.0 - m.received_at.0 > STALE_MS {
        return Ok(false);
    }
    // Never to automated senders (the email path marks them).
    if tx.cursor::<String>(&noauto_key(m.id))?.is_some() {
        return Ok(false);
    }
    let window = ar.window.0.as_millis() as i64;
    if let Some(last) = tx.cursor::<i64>(&autoreply_key(conv.id))?
        && now.0 - last < window
    {
        return Ok(false);
    }
    let cal = ctx.state.calendar_in(tx, conv)?;
    let open = cal.is_open(m.received_at);
    if open && !own.and_then(|o| o.when_open).unwrap_or(ar.when_open) {
        return Ok(false);
    }
    let contact = tx.contact(conv.contact)?;
    let lang = language_of(
        contact.as_ref().and_then(|c| c.language.as_deref()),
        &m.text,
    );
    let faq = if open {
        None
    } else {
        let entries: Vec<FaqEntry> = get_json(tx, FAQ)?;
        let name = contact.as_ref().map(|c| c.name.as_str()).unwrap_or("");
        faq_answer(
            &entries,
            &m.text,
            |id| tx.canned(id),
            (name, &ctx.business, conv.id.0),
        )?
    };
    let rec: TriageRecord = get_json(tx, &record_key(conv.id))?;
    let expected = rec
        .first_response_due
        .map(|d| cal.business_between(m.received_at, d));
    let Some((reason, text)) = auto_reply_text(
        &ctx.state,
        cal,
        &conv.channel,
        lang,
        m.received_at,
        conv.id,
        &ctx.business,
        expected,
        faq.as_deref(),
    ) else {
        return Ok(false);
    };
    let Some(sent) = send_automatic(tx, ctx, conv, text)? else {
        return Ok(false);
    };
    tx.put_cursor(&autoreply_key(conv.id), &now.0)?;
    tx.append_event(
        Actor::System,
        EventKind::AutoReplied {
            conversation: conv.id,
            message: sent.id,
            reason,
        },
    )?;
    Ok(true)
}

/// Mark that a conversation got an automatic reply now (the email path's
/// acknowledgement counts in the same window).
pub(crate) fn note_auto_reply(tx: &mut Tx<'_>, conv: ConversationId) -> Result<(), StoreError> {
    let now = tx.now();
    tx.put_cursor(&autoreply_key(conv), &now.0)
}

/// A due job's effect (in the transaction that removes it).
fn run_job(tx: &mut Tx<'_>, ctx: &Ctx, job: &Job, hours: &Hours) -> Result<(), StoreError> {
    match &job.kind {
        JobKind::FollowUp { conversation } => send_survey(tx, ctx, *conversation, job),
        JobKind::SnoozeWake {
            conversation,
            until,
        } => {
            let Some(old) = tx.conversation(*conversation)? else {
                return Ok(());
            };
            if old.status != Status::Snoozed || old.snoozed_until != Some(*until) {
                return Ok(());
            }
            let mut c = old.clone();
            c.status = Status::Open;
            c.snoozed_until = None;
            c.updated_at = tx.now();
            tx.put_conversation(Some(&old), &c)?;
            tx.append_event(
                Actor::System,
                EventKind::StatusChanged {
                    conversation: c.id,
                    from: Status::Snoozed,
                    to: Status::Open,
                },
            )?;
            Ok(())
        }
        JobKind::ScheduledReply {
            conversation,
            author,
            text,
            public,
        } => {
            let mut list: Vec<u64> = get_json(tx, &scheduled_key(*conversation))?;
            list.retain(|j| *j != job.id);
            put_json(tx, &scheduled_key(*conversation), &list)?;
            let (Some(old), Some(user)) = (tx.conversation(*conversation)?, tx.user(*author)?)
            else {
                return Ok(());
            };
            let Some(kind) = ctx.kind(&old.channel) else {
                tx.append_event(
                    Actor::System,
                    EventKind::JobCancelled {
                        job: job.id,
                        kind: job.kind.name().into(),
                        conversation: Some(old.id),
                        reason: format!("channel {} is no longer configured", old.channel),
                    },
                )?;
                return Ok(());
            };
            let message = super::conversations::new_outgoing(
                tx,
                &old,
                kind,
                text.clone(),
                *public,
                (Author::User(user.id), user.name.clone()),
            );
            super::conversations::record_outgoing(tx, &old, &message)?;
            // Sent late (after downtime): the supervisors hear of it.
            if tx.now().0 - job.due.0 > ctx.late_after_ms {
                notify_supervisors(tx, old.id, message.id)?;
            }
            let outbox = super::conversations::queue_delivery(
                tx,
                &message,
                kind,
                ctx.parked(&old.channel),
            )?;
            tx.append_event(
                Actor::User(user.id),
                EventKind::ReplyQueued {
                    conversation: old.id,
                    message: message.id,
                    outbox,
                },
            )?;
            Ok(())
        }
        JobKind::Cron { name, task } => {
            let what = match task.as_str() {
                "sla_sweep" => {
                    hours.sweep.notify_one();
                    format!("cron {name}: SLA check")
                }
                "digest" => {
                    let open = tx.count(Status::Open, None, None)?;
                    let pending = tx.count(Status::Pending, None, None)?;
                    let s: Satisfaction = get_json(tx, SATISFACTION)?;
                    let digest = format!(
                        "cron {name}: digest: {open} open, {pending} pending, {} survey answers, CSAT {}",
                        s.responses,
                        s.csat_percent()
                            .map(|p| format!("{p:.0}%"))
                            .unwrap_or_else(|| "—".into())
                    );
                    tx.put_cursor("clock-digest", &digest)?;
                    digest
                }
                other => format!("cron {name}: {other}"),
            };
            tx.append_event(
                Actor::System,
                EventKind::JobRan {
                    job: job.id,
                    kind: what,
                },
            )?;
            Ok(())
        }
        JobKind::Probe { .. } => Ok(()),
    }
    .map(|()| {
        // A reply or a survey may wait in the outbox now.
        if matches!(
            job.kind,
            JobKind::ScheduledReply { .. } | JobKind::FollowUp { .. }
        ) {
            ctx.outbox_wake.notify_one();
        }
    })
}

fn send_survey(
    tx: &mut Tx<'_>,
    ctx: &Ctx,
    id: ConversationId,
    job: &Job,
) -> Result<(), StoreError> {
    let Some(conv) = tx.conversation(id)? else {
        return Ok(());
    };
    if conv.status != Status::Resolved || tx.cursor::<String>(&followup_done_key(id))?.is_some() {
        return Ok(());
    }
    let contact = tx.contact(conv.contact)?;
    // The customer's language: the contact's, else their last message's.
    let mut last_text = String::new();
    for mid in tx.message_ids(id)?.iter().rev() {
        if let Some(m) = tx.message(*mid)?
            && m.direction == Direction::In
        {
            last_text = m.text;
            break;
        }
    }
    let lang = language_of(
        contact.as_ref().and_then(|c| c.language.as_deref()),
        &last_text,
    );
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let hash = hash_token(&token);
    let f = &ctx.state.settings.followup;
    let url = format!("{}/survey/{token}", ctx.public_url);
    let template = if lang == "es" {
        pick(&f.text_es, "", SURVEY_ES)
    } else {
        pick(&f.text_en, "", SURVEY_EN)
    };
    let text = fill(
        template,
        &[
            ("survey.url", &url),
            ("conversation.id", &id.to_string()),
            ("business.name", &ctx.business),
            (
                "contact.name",
                contact.as_ref().map(|c| c.name.as_str()).unwrap_or(""),
            ),
        ],
    );
    let Some(sent) = send_automatic(tx, ctx, &conv, text)? else {
        return Ok(());
    };
    let now = tx.now();
    let rec = SurveyRecord {
        conversation: id,
        language: lang.into(),
        nps: f.nps,
        created: now,
        expires: now.plus_ms(f.link_valid.0.as_millis() as i64),
        answer: None,
    };
    put_json(tx, &survey_key(&hash), &rec)?;
    tx.put_cursor(&survey_conv_key(id), &hash)?;
    tx.put_cursor(&followup_done_key(id), &job.id.to_string())?;
    let mut s: Satisfaction = get_json(tx, SATISFACTION)?;
    s.surveys_sent += 1;
    put_json(tx, SATISFACTION, &s)?;
    tx.append_event(
        Actor::System,
        EventKind::SurveySent {
            conversation: id,
            message: sent.id,
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_prefers_the_contact_then_the_text() {
        assert_eq!(language_of(Some("es-MX"), "hello there my friend"), "es");
        assert_eq!(language_of(Some("en"), "hola"), "en");
        assert_eq!(language_of(None, "¿a qué hora abren?"), "es");
        assert_eq!(
            language_of(None, "My order has not arrived and I am waiting"),
            "en"
        );
        assert_eq!(
            language_of(None, "Mi pedido no ha llegado todavía y estoy esperando"),
            "es"
        );
    }

    #[test]
    fn faq_matches_whole_words_without_accents() {
        let e = vec![
            FaqEntry {
                canned: 1,
                phrases: vec!["horario".into(), "a qué hora abren".into()],
            },
            FaqEntry {
                canned: 2,
                phrases: vec!["refund".into()],
            },
        ];
        assert_eq!(
            faq_match(&e, "¿A QUE HORA ABREN el sábado?").map(|e| e.canned),
            Some(1)
        );
        assert_eq!(
            faq_match(&e, "How do I get a Refund?").map(|e| e.canned),
            Some(2)
        );
        assert_eq!(faq_match(&e, "refunded twice").map(|e| e.canned), None);
        assert_eq!(faq_match(&e, "hola").map(|e| e.canned), None);
    }
}
