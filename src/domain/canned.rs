use super::{Ts, UserId};
use serde::{Deserialize, Serialize};

/// A saved answer agents insert with `/shortcut`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CannedResponse {
    pub id: u64,
    /// None: shared with everyone (admins and supervisors manage these);
    /// Some: an agent's personal response.
    pub owner: Option<UserId>,
    pub shortcut: String,
    pub title: String,
    /// The template, with `{{variables}}`.
    pub body: String,
    /// Tags (and categories) it is suggested for; also its folder.
    pub tags: Vec<String>,
    pub updated_by: UserId,
    pub updated_at: Ts,
}
