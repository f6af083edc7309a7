//! Plain domain types: no I/O, no storage or web types.
//!
//! Ids are `u64` newtypes allocated by the store's writer; timestamps are
//! [`Ts`] (milliseconds since the Unix epoch, UTC).

mod canned;
mod event;
mod ids;
mod message;
mod people;
mod time;

pub use canned::*;
pub use event::*;
pub use ids::*;
pub use message::*;
pub use people::*;
pub use time::*;

use serde::{Deserialize, Serialize};

/// The kind of network a channel speaks. Identities are keyed by kind (a
/// handle is network-wide), messages and conversations by channel name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ChannelKind {
    Api,
    Webchat,
    Email,
    X,
    Facebook,
    Telegram,
    Mastodon,
    Whatsapp,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 8] = [
        ChannelKind::Api,
        ChannelKind::Webchat,
        ChannelKind::Email,
        ChannelKind::X,
        ChannelKind::Facebook,
        ChannelKind::Telegram,
        ChannelKind::Mastodon,
        ChannelKind::Whatsapp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Api => "api",
            ChannelKind::Webchat => "webchat",
            ChannelKind::Email => "email",
            ChannelKind::X => "x",
            ChannelKind::Facebook => "facebook",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Mastodon => "mastodon",
            ChannelKind::Whatsapp => "whatsapp",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the network can carry a private answer (DM, private message).
    pub fn has_private(self) -> bool {
        !matches!(self, ChannelKind::Api)
    }
}

/// Normalize a handle or address for identity lookups: trimmed, lowercased.
pub fn normalize_handle(handle: &str) -> String {
    handle.trim().to_lowercase()
}
