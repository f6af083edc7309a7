//! Social channels added in the admin UI (Telegram, Mastodon, X, Facebook,
//! WhatsApp), beside those of the configuration file.
//!
//! Like the UI's mailboxes they are kept in the store, secrets included (the
//! configuration file keeps them on disk too): one cursor-table key,
//! [`SOCIAL_CHANNELS_KEY`], holds the list of forms. A channel is checked
//! with its network ("check connection") before it is saved; once saved its
//! connector is registered and its poller started at once, and at start
//! `load_social_channels` registers them again before the pollers start.
//! Secrets never leave the store: not in logs (the form's `Debug` masks
//! them), not in events, not in pages.

use super::perm::Perm;
use super::{App, AppError, Caller};
use crate::channels::social::{self, Connector};
use crate::config::{
    Dur, FacebookChannel, Listening, MastodonChannel, Secret, TelegramChannel, WhatsappChannel,
    XChannel,
};
use crate::domain::{Actor, EventKind};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Cursor-table key of the list of social channels added in the admin UI.
pub const SOCIAL_CHANNELS_KEY: &str = "social-channels\u{1f}ui";

/// The kinds the admin UI can add.
pub const SOCIAL_KINDS: [&str; 5] = ["telegram", "mastodon", "x", "facebook", "whatsapp"];

/// A social channel as the admin form describes it (and as it is stored).
///
/// `account_id` is X's `user_id`, Facebook's `page_id` or WhatsApp's
/// `phone_number_id`; `token` is the kind's token (`token`,
/// `access_token`, `bearer_token`, `page_access_token`).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SocialChannelForm {
    pub kind: String,
    pub name: String,
    /// Empty: the kind's real API host (Mastodon needs its instance).
    pub base_url: String,
    pub account_id: String,
    pub token: String,
    pub app_secret: String,
    pub verify_token: String,
    /// Seconds between polls (Telegram: the long-poll timeout); 0: default.
    pub poll_seconds: u64,
    pub handles: Vec<String>,
    pub hashtags: Vec<String>,
    pub keywords: Vec<String>,
    /// Empty: the built-in Spanish and English list.
    pub triggers: Vec<String>,
}

impl fmt::Debug for SocialChannelForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: &str| if s.is_empty() { "" } else { "********" };
        f.debug_struct("SocialChannelForm")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("account_id", &self.account_id)
            .field("token", &set(&self.token))
            .field("app_secret", &set(&self.app_secret))
            .field("verify_token", &set(&self.verify_token))
            .field("poll_seconds", &self.poll_seconds)
            .field("handles", &self.handles)
            .field("hashtags", &self.hashtags)
            .field("keywords", &self.keywords)
            .field("triggers", &self.triggers)
            .finish()
    }
}

/// The channel a form describes, in the configuration's own types.
#[derive(Clone, Debug)]
pub enum SocialConfig {
    Telegram(TelegramChannel),
    Mastodon(MastodonChannel),
    X(XChannel),
    Facebook(FacebookChannel),
    Whatsapp(WhatsappChannel),
}

impl SocialConfig {
    /// Its connector; `None` when the connector refuses the settings.
    pub fn connector(&self) -> Option<Arc<dyn Connector>> {
        match self {
            SocialConfig::Telegram(c) => social::telegram::connector(c),
            SocialConfig::Mastodon(c) => social::mastodon::connector(c),
            SocialConfig::X(c) => social::x::connector(c),
            SocialConfig::Facebook(c) => social::facebook::connector(c),
            SocialConfig::Whatsapp(c) => social::whatsapp::connector(c),
        }
    }

    pub fn listening(&self) -> Listening {
        match self {
            SocialConfig::Telegram(c) => c.listening.clone(),
            SocialConfig::Mastodon(c) => c.listening.clone(),
            SocialConfig::X(c) => c.listening.clone(),
            SocialConfig::Facebook(c) => c.listening.clone(),
            SocialConfig::Whatsapp(_) => Listening::default(),
        }
    }
}

/// What a kind calls its fields, and which it needs.
pub struct KindFields {
    /// The real API host (`None`: there is none — Mastodon's instance).
    pub default_base_url: Option<&'static str>,
    /// The config key of `account_id`, if the kind has one.
    pub account_id: Option<&'static str>,
    /// The config key of `token`.
    pub token: &'static str,
    /// Takes `app_secret` and `verify_token` (webhooks).
    pub webhook: bool,
    /// Has listening rules (public mentions).
    pub listening: bool,
}

/// The fields of a kind; `None` for a kind the admin UI cannot add.
pub fn kind_fields(kind: &str) -> Option<KindFields> {
    Some(match kind {
        "telegram" => KindFields {
            default_base_url: Some("https://api.telegram.org"),
            account_id: None,
            token: "token",
            webhook: false,
            listening: true,
        },
        "mastodon" => KindFields {
            default_base_url: None,
            account_id: None,
            token: "access_token",
            webhook: false,
            listening: true,
        },
        "x" => KindFields {
            default_base_url: Some("https://api.x.com"),
            account_id: Some("user_id"),
            token: "bearer_token",
            webhook: false,
            listening: true,
        },
        "facebook" => KindFields {
            default_base_url: Some("https://graph.facebook.com"),
            account_id: Some("page_id"),
            token: "page_access_token",
            webhook: true,
            listening: true,
        },
        "whatsapp" => KindFields {
            default_base_url: Some("https://graph.facebook.com"),
            account_id: Some("phone_number_id"),
            token: "access_token",
            webhook: true,
            listening: false,
        },
        _ => return None,
    })
}

/// A comma- or line-separated list, trimmed, without empty items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', '\n'])
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `s` is an absolute http(s) URL with a host.
fn http_url(s: &str) -> bool {
    matches!(
        reqwest::Url::parse(s),
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some()
    )
}

impl SocialChannelForm {
    /// The channel this form describes, or what is wrong with it.
    pub fn to_config(&self) -> Result<SocialConfig, AppError> {
        let invalid = |m: String| Err(AppError::Invalid(m));
        let kind = self.kind.trim();
        let Some(fields) = kind_fields(kind) else {
            return invalid(format!(
                "kind {kind:?} is not one of {}",
                SOCIAL_KINDS.join(", ")
            ));
        };
        let name = self.name.trim();
        if !valid_name(name) {
            return invalid("name: 1-40 letters, digits, '-' or '_'".into());
        }
        let base_url = match (self.base_url.trim(), fields.default_base_url) {
            ("", Some(d)) => d.to_string(),
            ("", None) => {
                return invalid(format!(
                    "{kind}: base_url (the instance, e.g. https://mastodon.social) is required"
                ));
            }
            (u, _) => u.trim_end_matches('/').to_string(),
        };
        if !http_url(&base_url) {
            return invalid(format!(
                "base_url {base_url:?} is not an http:// or https:// address"
            ));
        }
        let account_id = self.account_id.trim().to_string();
        if let Some(key) = fields.account_id
            && account_id.is_empty()
        {
            return invalid(format!("{kind}: {key} is required"));
        }
        let token = self.token.trim();
        if token.is_empty() {
            return invalid(format!("{kind}: {} is required", fields.token));
        }
        if token.chars().any(char::is_whitespace) {
            return invalid(format!("{kind}: {} contains spaces", fields.token));
        }
        let opt_secret = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| Secret::new(s))
        };
        let (app_secret, verify_token) =
            (opt_secret(&self.app_secret), opt_secret(&self.verify_token));
        if kind == "whatsapp" && (app_secret.is_none() || verify_token.is_none()) {
            return invalid(
                "whatsapp: app_secret and verify_token are required (WhatsApp delivers messages by webhook only)".into(),
            );
        }
        let listening = Listening {
            brand_handles: self.handles.clone(),
            hashtags: self.hashtags.clone(),
            keywords: self.keywords.clone(),
            triggers: (!self.triggers.is_empty()).then(|| self.triggers.clone()),
        };
        let poll = |default: u64, max: u64| {
            let s = if self.poll_seconds == 0 {
                default
            } else {
                self.poll_seconds.clamp(1, max)
            };
            Dur(Duration::from_secs(s))
        };
        let name = name.to_string();
        let token = Some(Secret::new(token));
        Ok(match kind {
            "telegram" => SocialConfig::Telegram(TelegramChannel {
                name,
                token,
                base_url,
                poll_timeout: poll(25, 50),
                listening,
            }),
            "mastodon" => SocialConfig::Mastodon(MastodonChannel {
                name,
                base_url,
                access_token: token,
                poll_interval: poll(60, 3600),
                listening,
            }),
            "x" => SocialConfig::X(XChannel {
                name,
                user_id: account_id,
                bearer_token: token,
                base_url,
                poll_interval: poll(60, 3600),
                listening,
            }),
            "facebook" => SocialConfig::Facebook(FacebookChannel {
                name,
                page_id: account_id,
                page_access_token: token,
                app_secret,
                verify_token,
                base_url,
                poll_interval: poll(60, 3600),
                listening,
            }),
            _ => SocialConfig::Whatsapp(WhatsappChannel {
                name,
                phone_number_id: account_id,
                access_token: token,
                app_secret,
                verify_token,
                base_url,
                templates: Vec::new(),
            }),
        })
    }

    /// The form as stored: trimmed, and the defaults written out.
    fn normalized(&self) -> SocialChannelForm {
        let mut f = self.clone();
        f.kind = f.kind.trim().to_string();
        f.name = f.name.trim().to_string();
        f.base_url = f.base_url.trim().trim_end_matches('/').to_string();
        f.account_id = f.account_id.trim().to_string();
        f.token = f.token.trim().to_string();
        f.app_secret = f.app_secret.trim().to_string();
        f.verify_token = f.verify_token.trim().to_string();
        f
    }

    /// The form without its secrets (to show it again in a page).
    pub fn without_secrets(&self) -> SocialChannelForm {
        SocialChannelForm {
            token: String::new(),
            app_secret: String::new(),
            verify_token: String::new(),
            ..self.clone()
        }
    }
}

/// Build the connector and ask the network ("check connection").
async fn connect(cfg: &SocialConfig) -> Result<(Arc<dyn Connector>, String), AppError> {
    let conn = cfg.connector().ok_or_else(|| {
        AppError::Invalid("the connector refused these settings (see the log)".into())
    })?;
    let who = conn
        .check()
        .await
        .map_err(|e| AppError::Invalid(format!("could not connect: {e}")))?;
    Ok((conn, who))
}

fn actor(caller: &Caller) -> Actor {
    caller
        .user()
        .map(|u| Actor::User(u.id))
        .unwrap_or(Actor::System)
}

impl App {
    /// The social channels added in the admin UI, as stored.
    pub async fn social_channel_forms(&self) -> Result<Vec<SocialChannelForm>, AppError> {
        Ok(self
            .store
            .read(|r| r.cursor::<Vec<SocialChannelForm>>(SOCIAL_CHANNELS_KEY))
            .await?
            .unwrap_or_default())
    }

    /// Register the UI's social channels (at start, before the pollers
    /// start; `load_mailboxes` calls it).
    pub async fn load_social_channels(&self) -> Result<(), AppError> {
        for f in self.social_channel_forms().await? {
            let built = f.to_config().and_then(|c| {
                let l = c.listening();
                c.connector()
                    .map(|conn| (conn, l))
                    .ok_or_else(|| AppError::Invalid("the connector refused it".into()))
            });
            match built {
                Ok((conn, listening)) => self.register_connector(conn, listening),
                Err(e) => {
                    tracing::warn!(name = %f.name, kind = %f.kind, error = %e, "stored social channel is not valid")
                }
            }
        }
        Ok(())
    }

    /// Add a social channel (admins): checked with its network first, then
    /// stored, registered and polled at once.
    pub async fn add_social_channel(
        &self,
        caller: &Caller,
        form: SocialChannelForm,
    ) -> Result<String, AppError> {
        caller.check(Perm::ManageChannels, None)?;
        let form = form.normalized();
        let cfg = form.to_config()?;
        if self.channel_name_taken(&form.name) {
            return Err(AppError::Conflict(format!(
                "a channel named {:?} already exists",
                form.name
            )));
        }
        let (conn, who) = connect(&cfg).await?;
        let (name, kind) = (form.name.clone(), form.kind.clone());
        let stored = form.clone();
        let actor = actor(caller);
        self.store
            .write(move |tx| {
                let mut list = tx
                    .cursor::<Vec<SocialChannelForm>>(SOCIAL_CHANNELS_KEY)?
                    .unwrap_or_default();
                if list.iter().any(|f| f.name == stored.name) {
                    return Ok(Err(AppError::Conflict(format!(
                        "a channel named {:?} already exists",
                        stored.name
                    ))));
                }
                let (name, kind) = (stored.name.clone(), stored.kind.clone());
                list.push(stored);
                tx.put_cursor(SOCIAL_CHANNELS_KEY, &list)?;
                tx.append_event(
                    actor,
                    EventKind::ChannelChanged {
                        kind,
                        name,
                        change: "added".into(),
                    },
                )?;
                Ok(Ok(()))
            })
            .await??;
        self.start_social(conn, cfg.listening());
        tracing::info!(channel = %name, kind = %kind, "social channel added in the admin UI");
        Ok(format!("{name}: connected as {who}"))
    }

    /// Change a social channel added in the UI (admins): empty secrets keep
    /// the stored ones. Checked with the network first; its poller is
    /// restarted with the new settings.
    pub async fn update_social_channel(
        &self,
        caller: &Caller,
        form: SocialChannelForm,
    ) -> Result<String, AppError> {
        caller.check(Perm::ManageChannels, None)?;
        let mut form = form.normalized();
        let old = self
            .social_channel_forms()
            .await?
            .into_iter()
            .find(|f| f.name == form.name)
            .ok_or_else(|| self.not_ui_added(&form.name))?;
        form.kind = old.kind.clone();
        for (new, old) in [
            (&mut form.token, &old.token),
            (&mut form.app_secret, &old.app_secret),
            (&mut form.verify_token, &old.verify_token),
        ] {
            if new.is_empty() {
                *new = old.clone();
            }
        }
        let cfg = form.to_config()?;
        let (conn, who) = connect(&cfg).await?;
        let stored = form.clone();
        let actor = actor(caller);
        let found = self
            .store
            .write(move |tx| {
                let mut list = tx
                    .cursor::<Vec<SocialChannelForm>>(SOCIAL_CHANNELS_KEY)?
                    .unwrap_or_default();
                let Some(slot) = list.iter_mut().find(|f| f.name == stored.name) else {
                    return Ok(false);
                };
                let (name, kind) = (stored.name.clone(), stored.kind.clone());
                *slot = stored;
                tx.put_cursor(SOCIAL_CHANNELS_KEY, &list)?;
                tx.append_event(
                    actor,
                    EventKind::ChannelChanged {
                        kind,
                        name,
                        change: "changed".into(),
                    },
                )?;
                Ok(true)
            })
            .await?;
        if !found {
            return Err(self.not_ui_added(&form.name));
        }
        // The old poller sees its connector replaced and stops.
        self.start_social(conn, cfg.listening());
        Ok(format!("{}: saved; connected as {who}", form.name))
    }

    /// Remove a social channel added in the UI (admins). Its conversations
    /// stay; replies to them wait until a channel of that name exists.
    pub async fn remove_social_channel(&self, caller: &Caller, name: &str) -> Result<(), AppError> {
        caller.check(Perm::ManageChannels, None)?;
        let n = name.to_string();
        let actor = actor(caller);
        let removed = self
            .store
            .write(move |tx| {
                let mut list = tx
                    .cursor::<Vec<SocialChannelForm>>(SOCIAL_CHANNELS_KEY)?
                    .unwrap_or_default();
                let Some(i) = list.iter().position(|f| f.name == n) else {
                    return Ok(false);
                };
                let f = list.remove(i);
                tx.put_cursor(SOCIAL_CHANNELS_KEY, &list)?;
                tx.append_event(
                    actor,
                    EventKind::ChannelChanged {
                        kind: f.kind,
                        name: n,
                        change: "removed".into(),
                    },
                )?;
                Ok(true)
            })
            .await?;
        if !removed {
            return Err(self.not_ui_added(name));
        }
        // Its poller sees the connector gone and stops.
        if let Ok(mut m) = self.connectors.write() {
            m.remove(name);
        }
        tracing::info!(channel = %name, "social channel removed in the admin UI");
        Ok(())
    }

    fn not_ui_added(&self, name: &str) -> AppError {
        if self.config.social_channels().iter().any(|(_, n)| n == name) {
            AppError::Conflict(format!(
                "{name:?} comes from the configuration file; change or remove it there"
            ))
        } else {
            AppError::NotFound(format!("no social channel named {name:?} added here"))
        }
    }

    /// Register a connector and start its poller (when serving).
    fn start_social(&self, conn: Arc<dyn Connector>, listening: Listening) {
        let name = conn.name().to_string();
        self.register_connector(conn, listening);
        if let Some(spawn) = self.social_spawner.get() {
            spawn(&name);
        }
        self.outbox_wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(kind: &str) -> SocialChannelForm {
        SocialChannelForm {
            kind: kind.into(),
            name: "soc".into(),
            account_id: "42".into(),
            token: "s3cret-token".into(),
            app_secret: "app".into(),
            verify_token: "verify".into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_requirements_and_masking() {
        let SocialConfig::Telegram(t) = form("telegram").to_config().unwrap() else {
            panic!("not telegram")
        };
        assert_eq!(t.base_url, "https://api.telegram.org");
        let SocialConfig::X(x) = form("x").to_config().unwrap() else {
            panic!("not x")
        };
        assert_eq!(x.base_url, "https://api.x.com");
        // Mastodon has no default instance.
        let e = form("mastodon").to_config().unwrap_err().to_string();
        assert!(e.contains("base_url"), "{e}");
        let mut m = form("mastodon");
        m.base_url = "ftp://example.test".into();
        assert!(m.to_config().unwrap_err().to_string().contains("http"));
        m.base_url = "https://social.example.test/".into();
        assert!(m.to_config().is_ok());
        let mut f = form("facebook");
        f.account_id.clear();
        assert!(f.to_config().unwrap_err().to_string().contains("page_id"));
        let mut w = form("whatsapp");
        w.app_secret.clear();
        assert!(
            w.to_config()
                .unwrap_err()
                .to_string()
                .contains("app_secret")
        );
        let mut t = form("telegram");
        t.token = " ".into();
        assert!(t.to_config().unwrap_err().to_string().contains("token"));
        t.token = "ok".into();
        t.name = "no spaces please".into();
        assert!(t.to_config().unwrap_err().to_string().contains("name"));
        assert!(form("myspace").to_config().is_err());
        let shown = format!("{:?}", form("facebook"));
        assert!(
            !shown.contains("s3cret") && !shown.contains("verify\""),
            "{shown}"
        );
        assert_eq!(split_list("a, b\n\nc,"), vec!["a", "b", "c"]);
    }
}
