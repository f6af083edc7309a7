//! Mailboxes added in the admin UI, beside those of the configuration file.
//!
//! They are kept in the store (secrets included, like the config file keeps
//! them on disk), checked by logging in before they are saved, and their
//! poller starts at once — no restart.

use super::perm::Perm;
use super::{App, AppError, Caller};
use crate::config::{AfterImport, Dur, EmailChannel, ImapConfig, MailSecurity, Secret, SmtpConfig};
use crate::domain::{Actor, EventKind};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Cursor-table key of the list of disabled channels.
const DISABLED_KEY: &str = "channels\u{1f}disabled";

/// A mailbox as the admin form describes it (and as it is stored).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MailboxForm {
    pub name: String,
    pub address: String,
    pub imap_host: String,
    pub imap_port: Option<u16>,
    /// `tls`, `starttls` or `none`.
    pub imap_security: String,
    pub imap_username: String,
    pub imap_password: String,
    pub folder: String,
    pub smtp_host: String,
    pub smtp_port: Option<u16>,
    pub smtp_security: String,
    pub smtp_username: String,
    pub smtp_password: String,
    pub poll_seconds: u64,
    pub acknowledge: bool,
}

fn security(field: &str, s: &str) -> Result<MailSecurity, AppError> {
    match s.trim() {
        "" | "tls" => Ok(MailSecurity::Tls),
        "starttls" => Ok(MailSecurity::Starttls),
        "none" => Ok(MailSecurity::None),
        other => Err(AppError::Invalid(format!(
            "{field} {other:?} is not one of tls, starttls, none"
        ))),
    }
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

impl MailboxForm {
    /// The channel this form describes, or what is wrong with it.
    pub fn to_channel(&self) -> Result<EmailChannel, AppError> {
        let name = self.name.trim();
        let name_ok = !name.is_empty()
            && name.len() <= 40
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(AppError::Invalid(
                "name: 1-40 letters, digits, '-' or '_'".into(),
            ));
        }
        let address = self.address.trim();
        if !address.contains('@') || address.contains(char::is_whitespace) {
            return Err(AppError::Invalid(format!(
                "address {address:?} is not an email address"
            )));
        }
        let imap = match opt(&self.imap_host) {
            None => None,
            Some(host) => Some(ImapConfig {
                host,
                port: self.imap_port,
                security: security("IMAP security", &self.imap_security)?,
                username: opt(&self.imap_username)
                    .ok_or_else(|| AppError::Invalid("the IMAP user name is missing".into()))?,
                password: opt(&self.imap_password).map(Secret::new),
                folder: opt(&self.folder),
                folders: vec![],
                after_import: AfterImport::Keep,
                move_to: None,
                ca_file: None,
            }),
        };
        let smtp = match opt(&self.smtp_host) {
            None => None,
            Some(host) => Some(SmtpConfig {
                host,
                port: self.smtp_port,
                security: security("SMTP security", &self.smtp_security)?,
                username: opt(&self.smtp_username),
                password: opt(&self.smtp_password).map(Secret::new),
                ca_file: None,
            }),
        };
        if imap.is_none() && smtp.is_none() {
            return Err(AppError::Invalid(
                "give an IMAP server (to receive), an SMTP server (to send), or both".into(),
            ));
        }
        Ok(EmailChannel {
            name: name.to_string(),
            address: address.to_string(),
            aliases: vec![],
            poll_interval: Dur(Duration::from_secs(self.poll_seconds.clamp(5, 3600))),
            max_message_bytes: 25 << 20,
            quote_history: true,
            acknowledge: self.acknowledge,
            acknowledge_text: None,
            auto_reply_window: Dur(Duration::from_secs(86_400)),
            imap,
            smtp,
        })
    }
}

/// Log in to IMAP and greet the SMTP server, as the workers will.
pub async fn check_connection(ch: &EmailChannel) -> Result<(), String> {
    if let Some(imap) = &ch.imap {
        let mut s = crate::channels::email::imap::connect(imap).await?;
        let _ = s.logout().await;
    }
    if let Some(smtp) = &ch.smtp {
        crate::channels::email::smtp::check(smtp).await?;
    }
    Ok(())
}

impl App {
    /// A mailbox by name: the configuration file's, else one added in the UI.
    pub fn email_channel(&self, name: &str) -> Option<EmailChannel> {
        if let Some(c) = self.config.channel.email.iter().find(|c| c.name == name) {
            return Some(c.clone());
        }
        self.mailboxes
            .read()
            .ok()?
            .iter()
            .find(|c| c.name == name)
            .cloned()
    }

    /// Every mailbox, with whether it came from the admin UI.
    pub fn email_channels(&self) -> Vec<(EmailChannel, bool)> {
        let mut out: Vec<(EmailChannel, bool)> = self
            .config
            .channel
            .email
            .iter()
            .map(|c| (c.clone(), false))
            .collect();
        if let Ok(ui) = self.mailboxes.read() {
            out.extend(ui.iter().map(|c| (c.clone(), true)));
        }
        out
    }

    /// Whether an admin disabled this channel.
    pub fn channel_disabled(&self, name: &str) -> bool {
        self.disabled
            .read()
            .map(|d| d.contains(name))
            .unwrap_or(false)
    }

    /// Disable or enable a channel (admins): a disabled channel is not
    /// polled and its replies wait, parked, until it is enabled again.
    pub async fn set_channel_enabled(
        &self,
        caller: &Caller,
        name: &str,
        enabled: bool,
    ) -> Result<(), AppError> {
        caller.check(Perm::ManageChannels, None)?;
        if self.channel_kind(name).is_none() {
            return Err(AppError::NotFound(format!("no channel named {name:?}")));
        }
        let mut set = self.disabled.read().map(|d| d.clone()).unwrap_or_default();
        if enabled {
            set.remove(name);
        } else {
            set.insert(name.to_string());
        }
        let list: Vec<String> = set.iter().cloned().collect();
        let n = name.to_string();
        let actor = caller
            .user()
            .map(|u| Actor::User(u.id))
            .unwrap_or(Actor::System);
        self.store
            .write(move |tx| {
                tx.put_cursor(DISABLED_KEY, &list)?;
                tx.append_event(
                    actor,
                    EventKind::ChannelChanged {
                        kind: "channel".into(),
                        name: n,
                        change: if enabled { "enabled" } else { "disabled" }.into(),
                    },
                )?;
                Ok(())
            })
            .await?;
        if let Ok(mut d) = self.disabled.write() {
            *d = set;
        }
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// "Check connection" (admins): log in to the channel's servers.
    pub async fn check_channel(&self, caller: &Caller, name: &str) -> Result<String, AppError> {
        caller.check(Perm::ManageChannels, None)?;
        if let Some(ch) = self.email_channel(name) {
            return check_connection(&ch)
                .await
                .map(|()| format!("{name}: connected"))
                .map_err(|e| AppError::Invalid(format!("{name}: {e}")));
        }
        if let Some(conn) = self.connector(name) {
            return conn
                .check()
                .await
                .map(|who| format!("{name}: connected as {who}"))
                .map_err(|e| AppError::Invalid(format!("{name}: {e}")));
        }
        Err(AppError::NotFound(format!(
            "no mailbox or social channel named {name:?}"
        )))
    }

    /// Load the UI's mailboxes from the store (at start).
    pub async fn load_mailboxes(&self) -> Result<(), AppError> {
        let disabled: Vec<String> = self
            .store
            .read(|r| r.cursor::<Vec<String>>(DISABLED_KEY))
            .await?
            .unwrap_or_default();
        if let Ok(mut d) = self.disabled.write() {
            *d = disabled.into_iter().collect();
        }
        let forms: Vec<MailboxForm> = self.store.read(|r| r.mailboxes()).await?;
        let mut list = Vec::new();
        for f in forms {
            match f.to_channel() {
                Ok(c) => list.push(c),
                Err(e) => tracing::warn!(name = %f.name, error = %e, "stored mailbox is not valid"),
            }
        }
        if let Ok(mut m) = self.mailboxes.write() {
            *m = list;
        }
        // The social channels added in the admin UI too, so that they are
        // registered before the social pollers start.
        self.load_social_channels().await
    }

    /// Whether any channel (configured, or added in the admin UI: mailboxes
    /// and social channels) already has this name.
    pub(super) fn channel_name_taken(&self, name: &str) -> bool {
        let c = &self.config.channel;
        c.api.iter().any(|x| x.name == name)
            || c.webchat.iter().any(|x| x.name == name)
            || self.email_channel(name).is_some()
            || self.config.social_channels().iter().any(|(_, n)| n == name)
            || self.connector(name).is_some()
    }

    /// Add a mailbox (admins): checked by connecting first, then stored and
    /// its poller started.
    pub async fn add_mailbox(&self, caller: &Caller, form: MailboxForm) -> Result<(), AppError> {
        caller.check(Perm::ManageChannels, None)?;
        let ch = form.to_channel()?;
        if self.channel_name_taken(&ch.name) {
            return Err(AppError::Conflict(format!(
                "a channel named {:?} already exists",
                ch.name
            )));
        }
        check_connection(&ch)
            .await
            .map_err(|e| AppError::Invalid(format!("could not connect: {e}")))?;
        let mut stored = form.clone();
        stored.name = ch.name.clone();
        let name = ch.name.clone();
        let actor = caller
            .user()
            .map(|u| Actor::User(u.id))
            .unwrap_or(Actor::System);
        self.store
            .write(move |tx| {
                tx.put_mailbox(&name, &stored)?;
                tx.append_event(
                    actor,
                    EventKind::ChannelChanged {
                        kind: "email".into(),
                        name: name.clone(),
                        change: "added".into(),
                    },
                )?;
                Ok(())
            })
            .await?;
        let has_imap = ch.imap.is_some();
        let name = ch.name.clone();
        if let Ok(mut m) = self.mailboxes.write() {
            m.push(ch);
        }
        if has_imap && let Some(spawn) = self.poller_spawner.get() {
            spawn(&name);
        }
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// Remove a mailbox added in the UI (admins). Its conversations stay;
    /// replies to them wait (parked) until a mailbox of that name exists.
    pub async fn remove_mailbox(&self, caller: &Caller, name: &str) -> Result<(), AppError> {
        caller.check(Perm::ManageChannels, None)?;
        if self.config.channel.email.iter().any(|c| c.name == name) {
            return Err(AppError::Conflict(
                "this mailbox comes from the configuration file; remove it there".into(),
            ));
        }
        let n = name.to_string();
        let actor = caller
            .user()
            .map(|u| Actor::User(u.id))
            .unwrap_or(Actor::System);
        let removed = self
            .store
            .write(move |tx| {
                let removed = tx.remove_mailbox(&n)?;
                if removed {
                    tx.append_event(
                        actor,
                        EventKind::ChannelChanged {
                            kind: "email".into(),
                            name: n.clone(),
                            change: "removed".into(),
                        },
                    )?;
                }
                Ok(removed)
            })
            .await?;
        if !removed {
            return Err(AppError::NotFound(format!("no mailbox named {name:?}")));
        }
        if let Ok(mut m) = self.mailboxes.write() {
            m.retain(|c| c.name != name);
        }
        Ok(())
    }
}
