//! Who is looking at or answering a conversation right now: in memory only
//! (it is not state worth keeping), expiring without a heartbeat.

use super::perm::Perm;
use super::{App, AppError, Caller};
use crate::domain::*;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// A heartbeat older than this no longer counts.
pub const PRESENCE_TTL_MS: i64 = 30_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    Viewing,
    Replying,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Present {
    pub user: UserId,
    pub name: String,
    pub activity: Activity,
    pub since: Ts,
}

/// Per conversation: who is there, and their last heartbeat.
type Table = HashMap<ConversationId, HashMap<UserId, (Present, Ts)>>;

/// The presence table and a channel that announces which conversation's
/// presence changed.
pub struct Presence {
    table: Mutex<Table>,
    changed: broadcast::Sender<ConversationId>,
}

impl Default for Presence {
    fn default() -> Self {
        Presence {
            table: Mutex::new(HashMap::new()),
            changed: broadcast::channel(256).0,
        }
    }
}

impl Presence {
    pub fn subscribe(&self) -> broadcast::Receiver<ConversationId> {
        self.changed.subscribe()
    }

    /// Record a heartbeat (None: the user left); announces real changes.
    pub fn beat(&self, conv: ConversationId, who: &User, activity: Option<Activity>, now: Ts) {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let entry = table.entry(conv).or_default();
        let before = entry.get(&who.id).map(|(p, _)| p.activity);
        match activity {
            Some(a) => {
                let since = match entry.get(&who.id) {
                    Some((p, _)) if p.activity == a => p.since,
                    _ => now,
                };
                let p = Present {
                    user: who.id,
                    name: who.name.clone(),
                    activity: a,
                    since,
                };
                entry.insert(who.id, (p, now));
            }
            None => {
                entry.remove(&who.id);
            }
        }
        if before != activity {
            let _ = self.changed.send(conv);
        }
    }

    /// Everyone present on `conv` at `now`, but `except`.
    pub fn on(&self, conv: ConversationId, except: Option<UserId>, now: Ts) -> Vec<Present> {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = table.get_mut(&conv) else {
            return Vec::new();
        };
        entry.retain(|_, (_, at)| now.0 - at.0 <= PRESENCE_TTL_MS);
        let mut out: Vec<Present> = entry
            .values()
            .map(|(p, _)| p.clone())
            .filter(|p| Some(p.user) != except)
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

impl App {
    /// A browser's heartbeat on a conversation it may see.
    pub async fn presence_beat(
        &self,
        caller: &Caller,
        id: ConversationId,
        activity: Option<Activity>,
    ) -> Result<Vec<Present>, AppError> {
        let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let conv = self.store.read(move |r| r.conversation(id)).await?;
        let conv = conv.ok_or_else(|| AppError::NotFound(format!("no conversation {id}")))?;
        caller.check(Perm::ViewConversation, Some(&conv))?;
        let now = self.clock.now();
        self.presence.beat(id, &user, activity, now);
        Ok(self.presence.on(id, Some(user.id), now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: u64, name: &str) -> User {
        User {
            id: UserId(id),
            email: format!("{id}@x"),
            name: name.into(),
            role: Role::Agent,
            teams: vec![],
            skills: vec![],
            languages: vec![],
            tier: 1,
            password_hash: String::new(),
            active: true,
            created_at: Ts(0),
        }
    }

    #[test]
    fn heartbeats_announce_changes_and_expire() {
        let p = Presence::default();
        let mut rx = p.subscribe();
        let c = ConversationId(5);
        let (ana, luis) = (user(1, "Ana"), user(2, "Luis"));
        p.beat(c, &ana, Some(Activity::Viewing), Ts(1_000));
        assert_eq!(rx.try_recv().unwrap(), c);
        p.beat(c, &ana, Some(Activity::Viewing), Ts(5_000));
        assert!(rx.try_recv().is_err(), "a repeat heartbeat is no change");
        p.beat(c, &luis, Some(Activity::Replying), Ts(6_000));
        let seen = p.on(c, Some(UserId(1)), Ts(7_000));
        assert_eq!(seen.len(), 1);
        assert_eq!(
            (seen[0].name.as_str(), seen[0].activity),
            ("Luis", Activity::Replying)
        );
        assert_eq!(p.on(c, None, Ts(7_000)).len(), 2);
        assert_eq!(
            p.on(c, None, Ts(5_000 + PRESENCE_TTL_MS + 1)).len(),
            1,
            "Ana expired"
        );
        p.beat(c, &luis, None, Ts(40_000));
        assert!(p.on(c, None, Ts(40_000)).is_empty());
    }
}
