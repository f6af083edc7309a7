use super::{ChannelKind, ContactId, IdentityId, TeamId, Ts, UserId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A customer: one person across every channel they use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: ContactId,
    pub name: String,
    pub email: Option<String>,
    /// BCP-47-ish language code ("es", "en") when known.
    pub language: Option<String>,
    /// Lifetime value in cents of the business's currency.
    pub lifetime_value_cents: i64,
    pub vip: bool,
    pub created_at: Ts,
    /// Free-form attributes (plan, city, customer number...).
    pub attributes: BTreeMap<String, String>,
}

/// One handle or address of a contact on one network, with its public profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub id: IdentityId,
    pub contact: ContactId,
    pub kind: ChannelKind,
    /// As the network shows it: `@ana_p`, `ana@example.com`, `+34600111222`.
    pub handle: String,
    pub display_name: Option<String>,
    pub followers: Option<u64>,
    pub verified: bool,
    pub account_created_at: Option<Ts>,
    pub bio: Option<String>,
    pub first_seen: Ts,
    pub last_seen: Ts,
}

/// What a staff account may do; per-object checks live in `app::perm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    Admin,
    Supervisor,
    Agent,
    /// Read-only access to everything, for audits.
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "supervisor" => Some(Role::Supervisor),
            "agent" => Some(Role::Agent),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }
}

/// A staff account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub teams: Vec<TeamId>,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    /// 1, 2 or 3.
    pub tier: u8,
    /// PHC string of an argon2id hash.
    pub password_hash: String,
    pub active: bool,
    pub created_at: Ts,
}

impl User {
    /// Initials for the `^JC` signature habit.
    pub fn initials(&self) -> String {
        self.name
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .flat_map(char::to_uppercase)
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub name: String,
    pub color: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_take_first_letter_of_each_word() {
        let u = User {
            id: UserId(1),
            email: "j@x".into(),
            name: "juan  Carlos".into(),
            role: Role::Agent,
            teams: vec![],
            skills: vec![],
            languages: vec![],
            tier: 1,
            password_hash: String::new(),
            active: true,
            created_at: Ts(0),
        };
        assert_eq!(u.initials(), "JC");
    }
}

/// A staff member's interface preferences.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prefs {
    /// "es" or "en"; None follows the browser.
    pub lang: Option<String>,
    /// An IANA time zone; None uses the business's.
    pub tz: Option<String>,
}

/// What a bearer/session/widget token stands for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TokenSubject {
    /// An API bearer token of a staff account.
    Api(UserId),
    /// A browser session of a staff account, with its CSRF token.
    Session { user: UserId, csrf: String },
    /// A website-chat visitor.
    Visitor {
        channel: String,
        identity: IdentityId,
        contact: ContactId,
    },
}

/// A token record; the token itself is never stored, only its SHA-256.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub subject: TokenSubject,
    pub created_at: Ts,
    pub expires_at: Ts,
}
