//! One typed option table: defaults → TOML file → `ATALAYA_*` env → CLI flags.
//!
//! Every option lives in the structs below with its default; secrets are
//! [`Secret`]s (masked when printed); `KEY_file = "/path"` reads a secret from
//! a file. An invalid value is reported with its key, its value and what is
//! allowed ([`ConfigError`]).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {err}")]
    Read { path: PathBuf, err: std::io::Error },
    #[error("config file {path}: {msg}")]
    Syntax { path: PathBuf, msg: String },
    #[error("invalid {key} = {value}: {allowed}")]
    Invalid {
        key: String,
        value: String,
        allowed: String,
    },
}

fn invalid(
    key: impl Into<String>,
    value: impl fmt::Display,
    allowed: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.to_string(),
        allowed: allowed.into(),
    }
}

/// A secret value: never printed, never logged.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("********")
    }
}

/// A duration written as `250ms`, `30s`, `5m`, `2h` or `7d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dur(pub Duration);

pub const DURATION_HELP: &str = "a duration such as \"250ms\", \"30s\", \"5m\", \"2h\" or \"7d\"";

impl Dur {
    pub fn parse(s: &str) -> Option<Dur> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit())?;
        let (num, unit) = s.split_at(split);
        let n: u64 = num.parse().ok()?;
        let ms = match unit.trim() {
            "ms" => n,
            "s" | "sec" | "secs" | "seconds" => n.checked_mul(1000)?,
            "m" | "min" | "mins" | "minutes" => n.checked_mul(60_000)?,
            "h" | "hours" => n.checked_mul(3_600_000)?,
            "d" | "days" => n.checked_mul(86_400_000)?,
            _ => return None,
        };
        Some(Dur(Duration::from_millis(ms)))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        match ms {
            0 => write!(f, "0s"),
            _ if ms.is_multiple_of(86_400_000) => write!(f, "{}d", ms / 86_400_000),
            _ if ms.is_multiple_of(3_600_000) => write!(f, "{}h", ms / 3_600_000),
            _ if ms.is_multiple_of(60_000) => write!(f, "{}m", ms / 60_000),
            _ if ms.is_multiple_of(1000) => write!(f, "{}s", ms / 1000),
            _ => write!(f, "{ms}ms"),
        }
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        let s = String::deserialize(d)?;
        Dur::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("expected {DURATION_HELP}")))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub business: BusinessConfig,
    pub ingest: IngestConfig,
    pub outbox: OutboxConfig,
    pub log: LogConfig,
    pub channel: ChannelsConfig,
    pub triage: TriageConfig,
    /// Business hours (absent: open 24/7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours: Option<HoursConfig>,
    pub autoreply: AutoReplyConfig,
    pub followup: FollowupConfig,
    pub scheduler: SchedulerConfig,
}

/// One calendar: a time zone, ranges per weekday, holidays.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// IANA zone (`Europe/Madrid`); a team's or channel's calendar without
    /// one uses the default calendar's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// `["09:00-14:00", "15:00-18:00"]`; absent or empty: closed that day.
    pub monday: Vec<String>,
    pub tuesday: Vec<String>,
    pub wednesday: Vec<String>,
    pub thursday: Vec<String>,
    pub friday: Vec<String>,
    pub saturday: Vec<String>,
    pub sunday: Vec<String>,
    /// `YYYY-MM-DD` (that day) or `MM-DD` (every year).
    pub holidays: Vec<String>,
    /// An iCalendar file whose all-day events are holidays too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ical: Option<PathBuf>,
}

impl CalendarConfig {
    pub fn week(&self) -> [&[String]; 7] {
        [
            &self.monday,
            &self.tuesday,
            &self.wednesday,
            &self.thursday,
            &self.friday,
            &self.saturday,
            &self.sunday,
        ]
    }

    /// Build the calendar (reads the iCal file when one is named).
    pub fn build(&self, default_tz: &str) -> Result<crate::clock::Calendar, String> {
        let tz = self.timezone.as_deref().unwrap_or(default_tz);
        let mut cal = crate::clock::Calendar::parse(tz, self.week(), &self.holidays)?;
        if let Some(path) = &self.ical {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            cal.add_ical(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(cal)
    }
}

/// `[hours]`: the default calendar, plus calendars per team and per channel
/// (`[hours.team."Billing"]`, `[hours.channel.support]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HoursConfig {
    pub timezone: String,
    pub monday: Vec<String>,
    pub tuesday: Vec<String>,
    pub wednesday: Vec<String>,
    pub thursday: Vec<String>,
    pub friday: Vec<String>,
    pub saturday: Vec<String>,
    pub sunday: Vec<String>,
    pub holidays: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ical: Option<PathBuf>,
    pub team: std::collections::BTreeMap<String, CalendarConfig>,
    pub channel: std::collections::BTreeMap<String, CalendarConfig>,
}

impl HoursConfig {
    /// The default calendar's own settings.
    pub fn base(&self) -> CalendarConfig {
        CalendarConfig {
            timezone: Some(if self.timezone.is_empty() {
                "UTC".into()
            } else {
                self.timezone.clone()
            }),
            monday: self.monday.clone(),
            tuesday: self.tuesday.clone(),
            wednesday: self.wednesday.clone(),
            thursday: self.thursday.clone(),
            friday: self.friday.clone(),
            saturday: self.saturday.clone(),
            sunday: self.sunday.clone(),
            holidays: self.holidays.clone(),
            ical: self.ical.clone(),
        }
    }
}

/// `[autoreply.channel.NAME]`: a channel's own choice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelAutoReply {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when_closed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when_open: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faq: Option<bool>,
    pub closed_es: String,
    pub closed_en: String,
    pub open_es: String,
    pub open_en: String,
}

/// `[autoreply]`: automatic answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoReplyConfig {
    /// Answer the first message when closed, naming the next opening.
    pub when_closed: bool,
    /// Acknowledge during open hours with the expected response time.
    pub when_open: bool,
    /// When closed, a question matching an auto-answer canned response gets it.
    pub faq: bool,
    /// At most one automatic reply per conversation in this window.
    pub window: Dur,
    /// Texts per language; empty: the built-in ones. Variables:
    /// `{{business.name}}`, `{{hours}}`, `{{next_opening}}`, `{{expected}}`,
    /// `{{conversation.id}}`.
    pub closed_es: String,
    pub closed_en: String,
    pub open_es: String,
    pub open_en: String,
    pub channel: std::collections::BTreeMap<String, ChannelAutoReply>,
}

impl Default for AutoReplyConfig {
    fn default() -> Self {
        AutoReplyConfig {
            when_closed: false,
            when_open: false,
            faq: true,
            window: Dur(Duration::from_secs(24 * 3600)),
            closed_es: String::new(),
            closed_en: String::new(),
            open_es: String::new(),
            open_en: String::new(),
            channel: Default::default(),
        }
    }
}

/// `[followup]`: the satisfaction check after resolution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FollowupConfig {
    /// `3 business days`, `2h`, `10s`; absent: no follow-ups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Ask the 0–10 recommendation question too.
    pub nps: bool,
    /// How long the survey link works.
    pub link_valid: Dur,
    /// The message; `{{survey.url}}` is the link. Empty: the built-in one.
    pub text_es: String,
    pub text_en: String,
}

impl Default for FollowupConfig {
    fn default() -> Self {
        FollowupConfig {
            after: None,
            nps: true,
            link_valid: Dur(Duration::from_secs(30 * 86_400)),
            text_es: String::new(),
            text_en: String::new(),
        }
    }
}

/// `[[scheduler.cron]]`: a recurring job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronConfig {
    pub name: String,
    /// Five fields (`0 8 * * 1-5`) or six with seconds, in `[hours] timezone`.
    pub schedule: String,
    /// `digest` (open/pending counts and CSAT, shown on Admin → Business
    /// hours) or `sla_sweep` (check SLA warnings and breaches now).
    pub task: String,
}

pub const CRON_TASKS: &[&str] = &["digest", "sla_sweep"];

/// `[scheduler]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// A job found this late (after downtime) follows its kind's policy.
    pub late_after: Dur,
    pub cron: Vec<CronConfig>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            late_after: Dur(Duration::from_secs(15 * 60)),
            cron: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data: PathBuf,
    /// The address people use to reach this server (links in emails, widget).
    pub public_url: Option<String>,
    pub tls: Option<TlsConfig>,
    /// Proxies whose `X-Forwarded-For` is believed (for rate limits). Empty:
    /// only the TCP peer address counts.
    pub trusted_proxies: Vec<IpAddr>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data: PathBuf::from("./atalaya-data"),
            public_url: None,
            tls: None,
            trusted_proxies: Vec::new(),
            max_body_bytes: 2 << 20,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; reloaded on SIGHUP.
    pub cert: PathBuf,
    /// PEM private key; reloaded on SIGHUP.
    pub key: PathBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// redb page cache in MiB.
    pub cache_mb: usize,
    /// Most commands folded into one commit.
    pub max_batch: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            cache_mb: 64,
            max_batch: 4096,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusinessConfig {
    pub name: String,
}

impl Default for BusinessConfig {
    fn default() -> Self {
        BusinessConfig {
            name: "Atalaya".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// A message on a resolved conversation reopens it within this quiet
    /// period; after it, a new conversation starts.
    pub reopen_window: Dur,
    /// Longest text kept from one inbound message (bytes); the rest is cut.
    pub max_text_bytes: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            reopen_window: Dur(Duration::from_secs(7 * 86_400)),
            max_text_bytes: 64 << 10,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriageConfig {
    /// A TOML rule set (`[[category]]` and `[[rule]]`, the format of the
    /// admin editor). Read at start; when its content changes it becomes
    /// the new rules version. Without it the built-in presets are used
    /// until an admin saves rules in the editor.
    pub rules_file: Option<PathBuf>,
    /// How often waiting conversations are re-scored and SLAs checked.
    pub sweep_interval: Dur,
    /// Open conversations an agent takes at most when their profile sets none.
    pub default_capacity: u32,
    /// Share of the first-response target after which an unanswered
    /// conversation escalates one tier (0.75: with a quarter left).
    pub escalate_at: f64,
    /// Assign conversations to agents automatically (false: score only).
    pub routing: bool,
}

impl Default for TriageConfig {
    fn default() -> Self {
        TriageConfig {
            rules_file: None,
            sweep_interval: Dur(Duration::from_secs(60)),
            default_capacity: 8,
            escalate_at: 0.75,
            routing: true,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Attempts before a reply is marked failed.
    pub max_attempts: u32,
    pub min_backoff: Dur,
    pub max_backoff: Dur,
    /// Time limit of one delivery attempt.
    pub timeout: Dur,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_attempts: 12,
            min_backoff: Dur(Duration::from_secs(2)),
            max_backoff: Dur(Duration::from_secs(3600)),
            timeout: Dur(Duration::from_secs(15)),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug`, `trace` or a tracing filter.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsConfig {
    pub api: Vec<ApiChannel>,
    pub webchat: Vec<WebchatChannel>,
    /// Kinds whose connectors come in later versions: accepted and reported.
    pub email: Vec<EmailChannel>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub telegram: Vec<TelegramChannel>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mastodon: Vec<MastodonChannel>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub x: Vec<XChannel>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub facebook: Vec<FacebookChannel>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub whatsapp: Vec<WhatsappChannel>,
}

/// What a social channel listens for. A public mention that matches a
/// trigger opens a conversation; the others go to the Mentions stream.
/// Private messages (DMs) always open conversations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listening {
    /// Our own handles (`@tienda_nordia`): mentions of them are listened to.
    pub brand_handles: Vec<String>,
    /// `#tiendanordia`.
    pub hashtags: Vec<String>,
    /// Brand names and product words searched for (X recent search).
    pub keywords: Vec<String>,
    /// Words that make a mention a case (accent- and case-insensitive);
    /// `None` means the built-in Spanish and English list.
    pub triggers: Option<Vec<String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramChannel {
    pub name: String,
    pub token: Option<Secret>,
    #[serde(default = "default_telegram_url")]
    pub base_url: String,
    /// Long-poll timeout of `getUpdates`.
    #[serde(default = "default_long_poll")]
    pub poll_timeout: Dur,
    #[serde(default)]
    pub listening: Listening,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MastodonChannel {
    pub name: String,
    /// The instance, e.g. `https://mastodon.social`.
    pub base_url: String,
    pub access_token: Option<Secret>,
    #[serde(default = "default_social_poll")]
    pub poll_interval: Dur,
    #[serde(default)]
    pub listening: Listening,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XChannel {
    pub name: String,
    /// Our account's numeric id (mentions of it are polled).
    pub user_id: String,
    pub bearer_token: Option<Secret>,
    #[serde(default = "default_x_url")]
    pub base_url: String,
    #[serde(default = "default_social_poll")]
    pub poll_interval: Dur,
    #[serde(default)]
    pub listening: Listening,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacebookChannel {
    pub name: String,
    pub page_id: String,
    pub page_access_token: Option<Secret>,
    /// Checks `X-Hub-Signature-256` of webhook deliveries.
    pub app_secret: Option<Secret>,
    /// Answers the webhook `hub.challenge`.
    pub verify_token: Option<Secret>,
    #[serde(default = "default_graph_url")]
    pub base_url: String,
    #[serde(default = "default_social_poll")]
    pub poll_interval: Dur,
    #[serde(default)]
    pub listening: Listening,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappChannel {
    pub name: String,
    pub phone_number_id: String,
    pub access_token: Option<Secret>,
    pub app_secret: Option<Secret>,
    pub verify_token: Option<Secret>,
    #[serde(default = "default_graph_url")]
    pub base_url: String,
    /// The business's message templates as approved in Meta's WhatsApp
    /// Manager: the only messages WhatsApp accepts outside the 24-hour
    /// customer-service window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<WhatsappTemplate>,
}

/// One approved WhatsApp message template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappTemplate {
    /// Its name in WhatsApp Manager (`seguimiento_pedido`).
    pub name: String,
    /// The language it was approved in (`es`, `en_US`).
    pub language: String,
    /// Its text, shown to agents and stored as the reply's text.
    pub body: String,
}

impl WhatsappTemplate {
    /// Why this template's fields are not what WhatsApp takes, if they are not:
    /// (the key, the value, what is allowed).
    pub fn problem(&self) -> Option<(&'static str, String, &'static str)> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 512
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            return Some((
                "channel.whatsapp.templates.name",
                format!("{:?}", self.name),
                "the template's name in WhatsApp Manager: lowercase letters, digits and '_'",
            ));
        }
        if !language_code_ok(&self.language) {
            return Some((
                "channel.whatsapp.templates.language",
                format!("{:?}", self.language),
                "a WhatsApp language code like \"es\", \"en_US\" or \"pt_BR\"",
            ));
        }
        if self.body.trim().is_empty() {
            return Some((
                "channel.whatsapp.templates.body",
                format!("{:?}", self.body),
                "the template's text as approved (shown to agents)",
            ));
        }
        None
    }
}

/// `es`, `fil`, `en_US`, `zh_HK`: a lowercase language and an optional
/// uppercase region, as WhatsApp names template languages.
fn language_code_ok(code: &str) -> bool {
    let (lang, region) = match code.split_once('_') {
        Some((l, r)) => (l, Some(r)),
        None => (code, None),
    };
    (2..=3).contains(&lang.len())
        && lang.chars().all(|c| c.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.chars().all(|c| c.is_ascii_uppercase()))
}

fn default_telegram_url() -> String {
    "https://api.telegram.org".into()
}

fn default_x_url() -> String {
    "https://api.x.com".into()
}

fn default_graph_url() -> String {
    "https://graph.facebook.com".into()
}

fn default_long_poll() -> Dur {
    Dur(Duration::from_secs(25))
}

fn default_social_poll() -> Dur {
    Dur(Duration::from_secs(60))
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiChannel {
    pub name: String,
    /// Bearer token accepted by `/api/v1/inbound` for this channel.
    pub token: Option<Secret>,
    /// Where replies are POSTed (JSON, HMAC-SHA256 signed).
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<Secret>,
}

/// How a mail connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailSecurity {
    /// Implicit TLS from the first byte (IMAPS 993, SMTPS 465).
    Tls,
    /// Plain connection upgraded with STARTTLS (IMAP 143, submission 587).
    Starttls,
    /// No TLS at all: only for local test servers.
    None,
}

/// What the poller does with a mail once it is stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterImport {
    /// Leave it untouched (the cursor alone prevents re-import).
    #[default]
    Keep,
    /// Set `\Seen`.
    Seen,
    /// Move it to `move_to`.
    Move,
}

/// One mailbox: `[[channel.email]]` with `[channel.email.imap]` and
/// `[channel.email.smtp]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailChannel {
    pub name: String,
    /// The address customers write to; replies are sent from it.
    pub address: String,
    /// Other addresses that are ours (never answered automatically).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// How often to poll when the server has no IDLE (and the longest IDLE).
    #[serde(default = "default_poll_interval")]
    pub poll_interval: Dur,
    /// Mail larger than this is quarantined without being downloaded.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: u64,
    /// Quote the customer's last message below a reply.
    #[serde(default = "default_true")]
    pub quote_history: bool,
    /// Send an automatic acknowledgement to the first message of a new
    /// conversation (never to automated mail, at most one per sender per
    /// `auto_reply_window`).
    #[serde(default)]
    pub acknowledge: bool,
    /// The acknowledgement's text; `{{conversation.id}}` and
    /// `{{business.name}}` are filled in.
    #[serde(default)]
    pub acknowledge_text: Option<String>,
    #[serde(default = "default_auto_reply_window")]
    pub auto_reply_window: Dur,
    pub imap: Option<ImapConfig>,
    pub smtp: Option<SmtpConfig>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    pub host: String,
    pub port: Option<u16>,
    #[serde(default = "default_security")]
    pub security: MailSecurity,
    pub username: String,
    pub password: Option<Secret>,
    /// One folder (`folder`) or several (`folders`).
    pub folder: Option<String>,
    #[serde(default)]
    pub folders: Vec<String>,
    #[serde(default)]
    pub after_import: AfterImport,
    /// Folder for `after_import = "move"`.
    pub move_to: Option<String>,
    /// PEM file of an extra certificate authority to trust (a private CA).
    pub ca_file: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: Option<u16>,
    #[serde(default = "default_security")]
    pub security: MailSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub ca_file: Option<PathBuf>,
}

fn default_security() -> MailSecurity {
    MailSecurity::Tls
}

fn default_poll_interval() -> Dur {
    Dur(Duration::from_secs(30))
}

fn default_max_message_bytes() -> u64 {
    25 << 20
}

fn default_auto_reply_window() -> Dur {
    Dur(Duration::from_secs(86_400))
}

fn default_true() -> bool {
    true
}

impl ImapConfig {
    /// The folders to poll (INBOX when none is named).
    pub fn folder_list(&self) -> Vec<String> {
        let mut v: Vec<String> = self.folder.iter().chain(&self.folders).cloned().collect();
        if v.is_empty() {
            v.push("INBOX".into());
        }
        v.dedup();
        v
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            MailSecurity::Tls => 993,
            _ => 143,
        })
    }
}

impl SmtpConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            MailSecurity::Tls => 465,
            MailSecurity::Starttls => 587,
            MailSecurity::None => 25,
        })
    }
}

impl EmailChannel {
    /// Whether `addr` is one of this mailbox's own addresses.
    pub fn is_own(&self, addr: &str) -> bool {
        let a = addr.trim();
        a.eq_ignore_ascii_case(&self.address)
            || self.aliases.iter().any(|x| x.eq_ignore_ascii_case(a))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebchatChannel {
    pub name: String,
    /// Origins (`https://shop.example`) whose pages may embed the widget.
    /// The server's own origin is always allowed.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// New widget sessions per client address per minute.
    #[serde(default = "default_widget_rate")]
    pub sessions_per_minute: u32,
    /// Messages per widget session per minute.
    #[serde(default = "default_widget_msg_rate")]
    pub messages_per_minute: u32,
}

fn default_widget_rate() -> u32 {
    10
}

fn default_widget_msg_rate() -> u32 {
    30
}

/// Names of keys that hold secrets (and may be given as `KEY_file`).
pub const SECRET_KEYS: &[&str] = &[
    "password",
    "token",
    "access_token",
    "bearer_token",
    "page_access_token",
    "app_secret",
    "verify_token",
    "webhook_secret",
];

/// Flags given on the command line (highest precedence).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data: Option<PathBuf>,
}

impl Config {
    /// Load with every layer: defaults, `file`, the environment, `overrides`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut tree = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Read {
                    path: path.into(),
                    err,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Syntax {
                        path: path.into(),
                        msg: e.to_string().trim().replace('\n', " "),
                    })?
            }
            None => toml::Table::new(),
        };
        for (k, v) in env {
            apply_env(&mut tree, &k, &v);
        }
        if let Some(l) = &overrides.listen {
            set_path(
                &mut tree,
                &["server", "listen"],
                toml::Value::String(l.clone()),
            );
        }
        if let Some(d) = &overrides.data {
            let d = d.to_string_lossy().into_owned();
            set_path(&mut tree, &["server", "data"], toml::Value::String(d));
        }
        read_secret_files(&mut tree, "")?;
        let cfg: Config = serde_path_to_error::deserialize(toml::Value::Table(tree.clone()))
            .map_err(|e| {
                let key = e.path().to_string();
                let value = lookup(&tree, &key)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "(missing)".into());
                let msg = e.inner().to_string();
                let first = msg
                    .lines()
                    .next()
                    .unwrap_or("invalid value")
                    .trim()
                    .to_string();
                invalid(key, value, first)
            })?;
        cfg.validate()
    }

    /// `[hours]`, `[followup]` and `[scheduler]`: calendars build, delays
    /// and cron expressions parse (errors name the key).
    fn validate_clock(&self) -> Result<(), ConfigError> {
        let tz = self.default_timezone();
        if let Some(h) = &self.hours {
            h.base().build(&tz).map_err(|e| invalid("hours", &tz, e))?;
            for (name, c) in &h.team {
                c.build(&tz)
                    .map_err(|e| invalid(format!("hours.team.{name}"), name, e))?;
            }
            for (name, c) in &h.channel {
                c.build(&tz)
                    .map_err(|e| invalid(format!("hours.channel.{name}"), name, e))?;
            }
        }
        if let Some(after) = &self.followup.after {
            crate::clock::Delay::parse(after).map_err(|e| invalid("followup.after", after, e))?;
        }
        let mut names = std::collections::BTreeSet::new();
        for c in &self.scheduler.cron {
            if !names.insert(c.name.as_str()) || c.name.trim().is_empty() {
                return Err(invalid(
                    "scheduler.cron.name",
                    &c.name,
                    "a unique, non-empty name",
                ));
            }
            if !CRON_TASKS.contains(&c.task.as_str()) {
                return Err(invalid(
                    format!("scheduler.cron.{}.task", c.name),
                    &c.task,
                    format!("one of {}", CRON_TASKS.join(", ")),
                ));
            }
            crate::scheduler::parse_cron(&c.name, &c.schedule, &tz).map_err(|e| {
                invalid(
                    format!("scheduler.cron.{}.schedule", c.name),
                    &c.schedule,
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// The default calendar's zone (`UTC` without `[hours]`).
    pub fn default_timezone(&self) -> String {
        match &self.hours {
            Some(h) if !h.timezone.is_empty() => h.timezone.clone(),
            _ => "UTC".into(),
        }
    }

    fn validate(mut self) -> Result<Config, ConfigError> {
        if self.store.cache_mb == 0 || self.store.cache_mb > 65_536 {
            return Err(invalid(
                "store.cache_mb",
                self.store.cache_mb,
                "a size in MiB from 1 to 65536",
            ));
        }
        if self.store.max_batch == 0 || self.store.max_batch > 100_000 {
            return Err(invalid(
                "store.max_batch",
                self.store.max_batch,
                "from 1 to 100000",
            ));
        }
        if !["text", "json"].contains(&self.log.format.as_str()) {
            return Err(invalid(
                "log.format",
                &self.log.format,
                "\"text\" or \"json\"",
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid(
                "log.level",
                &self.log.level,
                "error, warn, info, debug, trace or a tracing filter",
            ));
        }
        if self.triage.sweep_interval.0 < Duration::from_secs(1) {
            return Err(invalid(
                "triage.sweep_interval",
                self.triage.sweep_interval,
                "at least 1s",
            ));
        }
        if !(self.triage.escalate_at > 0.0 && self.triage.escalate_at <= 1.0) {
            return Err(invalid(
                "triage.escalate_at",
                self.triage.escalate_at,
                "a share of the target above 0 and at most 1 (e.g. 0.75)",
            ));
        }
        self.validate_clock()?;
        if self.triage.default_capacity == 0 || self.triage.default_capacity > 1000 {
            return Err(invalid(
                "triage.default_capacity",
                self.triage.default_capacity,
                "from 1 to 1000",
            ));
        }
        if let Some(path) = &self.triage.rules_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                invalid(
                    "triage.rules_file",
                    path.display(),
                    format!("a readable TOML rules file ({e})"),
                )
            })?;
            if let Err(e) = crate::triage::RuleSet::from_toml(&text) {
                return Err(invalid("triage.rules_file", path.display(), e.to_string()));
            }
        }
        if self.outbox.max_attempts == 0 {
            return Err(invalid("outbox.max_attempts", 0, "at least 1"));
        }
        if self.outbox.min_backoff.0 > self.outbox.max_backoff.0 {
            return Err(invalid(
                "outbox.min_backoff",
                self.outbox.min_backoff,
                "at most outbox.max_backoff",
            ));
        }
        if let Some(url) = &self.server.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid(
                "server.public_url",
                url,
                "an http:// or https:// URL",
            ));
        }
        if let Some(tls) = &self.server.tls {
            for (key, p) in [("server.tls.cert", &tls.cert), ("server.tls.key", &tls.key)] {
                if !p.is_file() {
                    return Err(invalid(key, p.display(), "a readable PEM file"));
                }
            }
        }
        if !self.channel.api.iter().any(|c| c.name == "api") {
            self.channel.api.insert(
                0,
                ApiChannel {
                    name: "api".into(),
                    token: None,
                    webhook_url: None,
                    webhook_secret: None,
                },
            );
        }
        if self.channel.webchat.is_empty() {
            self.channel.webchat.push(WebchatChannel {
                name: "webchat".into(),
                allowed_origins: Vec::new(),
                sessions_per_minute: default_widget_rate(),
                messages_per_minute: default_widget_msg_rate(),
            });
        }
        let mut names = std::collections::BTreeSet::new();
        let all_names = self
            .channel
            .api
            .iter()
            .map(|c| ("api", c.name.clone()))
            .chain(
                self.channel
                    .webchat
                    .iter()
                    .map(|c| ("webchat", c.name.clone())),
            )
            .chain(self.channel.email.iter().map(|c| ("email", c.name.clone())))
            .chain(self.social_channels());
        for (kind, name) in all_names {
            let key = format!("channel.{kind}.name");
            let ok = !name.is_empty()
                && name.len() <= 40
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(invalid(
                    key,
                    format!("{name:?}"),
                    "1-40 letters, digits, '-' or '_'",
                ));
            }
            if !names.insert(name.clone()) {
                return Err(invalid(
                    key,
                    format!("{name:?}"),
                    "a name not used by another channel",
                ));
            }
        }
        for c in &self.channel.api {
            if let Some(url) = &c.webhook_url
                && reqwest::Url::parse(url)
                    .map(|u| !matches!(u.scheme(), "http" | "https"))
                    .unwrap_or(true)
            {
                return Err(invalid(
                    "channel.api.webhook_url",
                    url,
                    "an http:// or https:// URL",
                ));
            }
        }
        let urls = self
            .channel
            .telegram
            .iter()
            .map(|c| ("channel.telegram.base_url", &c.base_url))
            .chain(
                self.channel
                    .mastodon
                    .iter()
                    .map(|c| ("channel.mastodon.base_url", &c.base_url)),
            )
            .chain(
                self.channel
                    .x
                    .iter()
                    .map(|c| ("channel.x.base_url", &c.base_url)),
            )
            .chain(
                self.channel
                    .facebook
                    .iter()
                    .map(|c| ("channel.facebook.base_url", &c.base_url)),
            )
            .chain(
                self.channel
                    .whatsapp
                    .iter()
                    .map(|c| ("channel.whatsapp.base_url", &c.base_url)),
            );
        for (key, url) in urls {
            let ok = reqwest::Url::parse(url)
                .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .unwrap_or(false);
            if !ok {
                return Err(invalid(key, url, "an http:// or https:// URL"));
            }
        }
        for c in &self.channel.whatsapp {
            let mut seen = std::collections::BTreeSet::new();
            for t in &c.templates {
                if let Some((key, value, allowed)) = t.problem() {
                    return Err(invalid(key, value, allowed));
                }
                if !seen.insert(t.name.as_str()) {
                    return Err(invalid(
                        "channel.whatsapp.templates.name",
                        format!("{:?}", t.name),
                        "a template name listed once per channel (one approved language each)",
                    ));
                }
            }
        }
        for c in &self.channel.email {
            if !c.address.contains('@') || c.address.trim() != c.address {
                return Err(invalid(
                    "channel.email.address",
                    format!("{:?}", c.address),
                    "an email address like support@example.com",
                ));
            }
            if c.imap.is_none() && c.smtp.is_none() {
                return Err(invalid(
                    "channel.email",
                    &c.name,
                    "an [channel.email.imap] and/or [channel.email.smtp] section",
                ));
            }
            if c.poll_interval.0 < Duration::from_secs(1) {
                return Err(invalid(
                    "channel.email.poll_interval",
                    c.poll_interval.to_string(),
                    "at least 1s",
                ));
            }
            if let Some(i) = &c.imap
                && i.after_import == AfterImport::Move
                && i.move_to.as_deref().is_none_or(|f| f.trim().is_empty())
            {
                return Err(invalid(
                    "channel.email.imap.move_to",
                    "(missing)",
                    "a folder name when after_import = \"move\"",
                ));
            }
            for f in [
                c.imap.as_ref().and_then(|i| i.ca_file.as_ref()),
                c.smtp.as_ref().and_then(|s| s.ca_file.as_ref()),
            ]
            .into_iter()
            .flatten()
            {
                if !f.is_file() {
                    return Err(invalid(
                        "channel.email.ca_file",
                        f.display().to_string(),
                        "a readable PEM file",
                    ));
                }
            }
        }
        // Stored normalized, so a request's origin is compared as is.
        for c in &mut self.channel.webchat {
            for o in &mut c.allowed_origins {
                match normalize_origin(o) {
                    Some(n) => *o = n,
                    None => {
                        return Err(invalid(
                            "channel.webchat.allowed_origins",
                            format!("{o:?}"),
                            "origins like \"https://shop.example\" (scheme, host, optional port; no path)",
                        ));
                    }
                }
            }
        }
        Ok(self)
    }

    /// Every social channel: (kind, name).
    pub fn social_channels(&self) -> Vec<(&'static str, String)> {
        let c = &self.channel;
        let mut out: Vec<(&'static str, String)> = Vec::new();
        out.extend(c.telegram.iter().map(|x| ("telegram", x.name.clone())));
        out.extend(c.mastodon.iter().map(|x| ("mastodon", x.name.clone())));
        out.extend(c.x.iter().map(|x| ("x", x.name.clone())));
        out.extend(c.facebook.iter().map(|x| ("facebook", x.name.clone())));
        out.extend(c.whatsapp.iter().map(|x| ("whatsapp", x.name.clone())));
        out
    }

    /// Configured channels of kinds this version cannot connect yet.
    pub fn pending_channels(&self) -> Vec<(&'static str, String)> {
        self.social_channels()
            .into_iter()
            .filter(|(k, _)| !crate::channels::social::connected(k))
            .collect()
    }

    /// The effective configuration as TOML, secrets masked.
    pub fn to_masked_toml(&self) -> String {
        let mut value =
            toml::Value::try_from(self).unwrap_or(toml::Value::Table(toml::Table::new()));
        mask_raw_secrets(&mut value);
        toml::to_string_pretty(&value).unwrap_or_default()
    }

    pub fn api_channel(&self, name: &str) -> Option<&ApiChannel> {
        self.channel.api.iter().find(|c| c.name == name)
    }

    pub fn email_channel(&self, name: &str) -> Option<&EmailChannel> {
        self.channel.email.iter().find(|c| c.name == name)
    }

    pub fn webchat_channel(&self, name: &str) -> Option<&WebchatChannel> {
        self.channel.webchat.iter().find(|c| c.name == name)
    }
}

/// `scheme://host[:port]` in lowercase, or None if `o` is not an origin.
pub fn normalize_origin(o: &str) -> Option<String> {
    let url = reqwest::Url::parse(o).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.path() != "/" {
        return None;
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

fn mask_raw_secrets(v: &mut toml::Value) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str()) && v.is_str() {
                    *v = toml::Value::String("********".into());
                } else {
                    mask_raw_secrets(v);
                }
            }
        }
        toml::Value::Array(a) => a.iter_mut().for_each(mask_raw_secrets),
        _ => {}
    }
}

/// `ATALAYA_LISTEN`, `ATALAYA_DATA`, and `ATALAYA_SECTION__KEY` for any key.
fn apply_env(tree: &mut toml::Table, key: &str, value: &str) {
    let path: Vec<String> = match key {
        "ATALAYA_LISTEN" => vec!["server".into(), "listen".into()],
        "ATALAYA_DATA" => vec!["server".into(), "data".into()],
        _ => match key.strip_prefix("ATALAYA_") {
            Some(rest) if rest.contains("__") => {
                rest.split("__").map(|p| p.to_ascii_lowercase()).collect()
            }
            _ => return,
        },
    };
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_str() || value.starts_with('"'))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let refs: Vec<&str> = path.iter().map(String::as_str).collect();
    set_path(tree, &refs, parsed);
}

fn set_path(tree: &mut toml::Table, path: &[&str], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut t = tree;
    for p in parents {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let Some(next) = entry.as_table_mut() else {
            return;
        };
        t = next;
    }
    t.insert(last.to_string(), value);
}

fn lookup<'a>(tree: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut cur: Option<&toml::Value> = None;
    let mut table = Some(tree);
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let v = table?.get(name)?;
        cur = match index {
            Some(i) => v.as_array()?.get(i),
            None => Some(v),
        };
        table = cur.and_then(|v| v.as_table());
    }
    cur
}

fn read_secret_files(t: &mut toml::Table, at: &str) -> Result<(), ConfigError> {
    let file_keys: Vec<String> = t
        .keys()
        .filter(|k| {
            k.strip_suffix("_file")
                .is_some_and(|b| SECRET_KEYS.contains(&b))
        })
        .cloned()
        .collect();
    for fk in file_keys {
        let base = fk.trim_end_matches("_file").to_string();
        let key = if at.is_empty() {
            fk.clone()
        } else {
            format!("{at}.{fk}")
        };
        let Some(path) = t.get(&fk).and_then(|v| v.as_str()).map(PathBuf::from) else {
            return Err(invalid(
                key,
                "(not a string)",
                "a path to a file holding the secret",
            ));
        };
        let secret = std::fs::read_to_string(&path)
            .map_err(|e| invalid(&key, path.display(), format!("a readable file ({e})")))?;
        t.remove(&fk);
        t.insert(
            base,
            toml::Value::String(secret.trim_end_matches(['\n', '\r']).to_string()),
        );
    }
    let keys: Vec<String> = t.keys().cloned().collect();
    for k in keys {
        let sub = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        match t.get_mut(&k) {
            Some(toml::Value::Table(inner)) => read_secret_files(inner, &sub)?,
            Some(toml::Value::Array(items)) => {
                for item in items.iter_mut() {
                    if let toml::Value::Table(inner) = item {
                        read_secret_files(inner, &sub)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)], o: &Overrides) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, text).unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::load(Some(&p), env, o)
    }

    #[test]
    fn layers_apply_in_order() {
        let text = "[server]\nlisten = \"127.0.0.1:9000\"\ndata = \"/tmp/a\"\n[business]\nname = \"Tienda\"\n";
        let c = load(text, &[], &Overrides::default()).unwrap();
        assert_eq!(c.server.listen.port(), 9000);
        assert_eq!(c.business.name, "Tienda");
        let c = load(
            text,
            &[
                ("ATALAYA_LISTEN", "127.0.0.1:9001"),
                ("ATALAYA_BUSINESS__NAME", "Shop"),
            ],
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.server.listen.port(), 9001);
        assert_eq!(c.business.name, "Shop");
        let o = Overrides {
            listen: Some("127.0.0.1:9002".into()),
            data: Some("/tmp/b".into()),
        };
        let c = load(text, &[("ATALAYA_LISTEN", "127.0.0.1:9001")], &o).unwrap();
        assert_eq!(c.server.listen.port(), 9002);
        assert_eq!(c.server.data, PathBuf::from("/tmp/b"));
        assert_eq!(c.ingest.reopen_window.0, Duration::from_secs(7 * 86400));
        assert_eq!(c.channel.api[0].name, "api");
        assert_eq!(c.channel.webchat[0].name, "webchat");
    }

    #[test]
    fn errors_name_key_value_and_allowed() {
        let e = load("[server]\nlisten = \"nope\"\n", &[], &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.listen") && e.contains("nope"), "{e}");
        let e = load(
            "[ingest]\nreopen_window = \"soon\"\n",
            &[],
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("ingest.reopen_window") && e.contains("soon") && e.contains("30s"),
            "{e}"
        );
        let e = load("[log]\nformat = \"xml\"\n", &[], &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("log.format") && e.contains("xml") && e.contains("json"),
            "{e}"
        );
        let e = load("[server]\nlisten_typo = 1\n", &[], &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen_typo"), "{e}");
        let e = load(
            "[[channel.webchat]]\nname = \"w\"\nallowed_origins = [\"https://a.example/path\"]\n",
            &[],
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("allowed_origins") && e.contains("/path"), "{e}");
        let c = load(
            "[[channel.webchat]]\nname = \"w\"\nallowed_origins = [\"https://Shop.Example/\"]\n",
            &[],
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            c.channel.webchat[0].allowed_origins,
            ["https://shop.example"],
            "stored normalized"
        );
        let e = load(
            "[[channel.api]]\nname = \"a b\"\n",
            &[],
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("channel.api.name"), "{e}");
    }

    #[test]
    fn secrets_are_masked_and_read_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tok");
        std::fs::write(&f, "s3cret-token\n").unwrap();
        let text = format!(
            "[[channel.api]]\nname = \"shop\"\ntoken_file = \"{}\"\nwebhook_secret = \"hush\"\n[[channel.email]]\nname = \"support\"\naddress = \"support@example.test\"\n[channel.email.imap]\nhost = \"127.0.0.1\"\nusername = \"support\"\npassword = \"imap-pass\"\n[[channel.telegram]]\nname = \"tg\"\ntoken = \"tg-token\"\n",
            f.display()
        );
        let c = load(&text, &[], &Overrides::default()).unwrap();
        let shop = c.api_channel("shop").unwrap();
        assert_eq!(shop.token.as_ref().unwrap().expose(), "s3cret-token");
        let dump = c.to_masked_toml();
        assert!(
            !dump.contains("s3cret")
                && !dump.contains("hush")
                && !dump.contains("imap-pass")
                && !dump.contains("tg-token"),
            "{dump}"
        );
        assert!(dump.contains("********"));
        assert!(
            c.pending_channels().is_empty(),
            "every social kind connects"
        );
        let mail = c.email_channel("support").unwrap();
        assert_eq!(mail.imap.as_ref().unwrap().folder_list(), vec!["INBOX"]);
        assert_eq!(mail.imap.as_ref().unwrap().port(), 993);
        assert!(mail.is_own("Support@Example.test"));
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn whatsapp_templates() {
        let wa = |templates: &str| {
            format!("[[channel.whatsapp]]\nname = \"wa\"\nphone_number_id = \"555\"\n{templates}\n")
        };
        // Optional.
        let c = load(&wa(""), &[], &Overrides::default()).unwrap();
        assert!(c.channel.whatsapp[0].templates.is_empty());
        let c = load(
            &wa(
                "templates = [{ name = \"seguimiento_pedido\", language = \"es\", body = \"Hola, tenemos novedades de tu caso. ¿Podemos seguir por aquí?\" },\n  { name = \"order_update_2\", language = \"en_US\", body = \"Hi, we have news.\" }]",
            ),
            &[],
            &Overrides::default(),
        )
        .unwrap();
        let t = &c.channel.whatsapp[0].templates;
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[1].name.as_str(), t[1].language.as_str()),
            ("order_update_2", "en_US")
        );
        assert!(c.to_masked_toml().contains("seguimiento_pedido"));
        for (bad, key) in [
            (
                "name = \"\", language = \"es\", body = \"x\"",
                "templates.name",
            ),
            (
                "name = \"Seguimiento\", language = \"es\", body = \"x\"",
                "templates.name",
            ),
            (
                "name = \"con espacio\", language = \"es\", body = \"x\"",
                "templates.name",
            ),
            (
                "name = \"ok\", language = \"spanish\", body = \"x\"",
                "templates.language",
            ),
            (
                "name = \"ok\", language = \"en-US\", body = \"x\"",
                "templates.language",
            ),
            (
                "name = \"ok\", language = \"en_us\", body = \"x\"",
                "templates.language",
            ),
            (
                "name = \"ok\", language = \"es\", body = \" \"",
                "templates.body",
            ),
        ] {
            let e = load(
                &wa(&format!("templates = [{{ {bad} }}]")),
                &[],
                &Overrides::default(),
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains(key), "{bad}: {e}");
        }
        // Unknown keys and a name listed twice are refused.
        let e = load(
            &wa("templates = [{ name = \"a\", language = \"es\", body = \"x\", header = \"h\" }]"),
            &[],
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("header"), "{e}");
        let e = load(
            &wa("templates = [{ name = \"a\", language = \"es\", body = \"x\" }, { name = \"a\", language = \"en\", body = \"y\" }]"),
            &[],
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("templates.name") && e.contains("once"), "{e}");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(Dur::parse("250ms").unwrap().0, Duration::from_millis(250));
        assert_eq!(Dur::parse("2h").unwrap().0, Duration::from_secs(7200));
        assert_eq!(
            Dur::parse("3 days").unwrap().0,
            Duration::from_secs(3 * 86400)
        );
        assert!(Dur::parse("x").is_none() && Dur::parse("10 parsecs").is_none());
        assert_eq!(Dur::parse("90s").unwrap().to_string(), "90s");
    }

    #[test]
    fn origins_normalize() {
        assert_eq!(
            normalize_origin("https://Shop.Example").unwrap(),
            "https://shop.example"
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:5000").unwrap(),
            "http://127.0.0.1:5000"
        );
        assert!(normalize_origin("https://a.example/x").is_none());
        assert!(normalize_origin("ftp://a.example").is_none());
    }
}
