//! Changes agents make to a conversation: assign (and claim), tags, a manual
//! priority with its reason. Each is checked against the object and recorded
//! in the event log.

use super::perm::Perm;
use super::{App, AppError, Caller};
use crate::domain::*;
use crate::store::{StoreError, Tx};

/// Tags per conversation.
pub const MAX_TAGS: usize = 20;

/// The score a manual priority sets (the middle of its band).
fn score_for(p: Priority) -> u8 {
    match p {
        Priority::P1 => 90,
        Priority::P2 => 62,
        Priority::P3 => 37,
        Priority::P4 => 10,
    }
}

pub fn normalize_tag(t: &str) -> Option<String> {
    let t = t.trim().trim_start_matches('#').to_lowercase();
    let ok = !t.is_empty()
        && t.chars().count() <= 40
        && t.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '));
    ok.then_some(t)
}

/// What a change decided: the new state and its event, or nothing to do.
type Change = Result<Option<(Conversation, EventKind)>, AppError>;

impl App {
    /// Load a conversation in the writer, check the caller may act on it,
    /// let `decide` compute the change, then store it with its event.
    async fn change<F>(
        &self,
        caller: &Caller,
        id: ConversationId,
        decide: F,
    ) -> Result<Conversation, AppError>
    where
        F: for<'a> FnOnce(&mut Tx<'a>, &Conversation) -> Result<Change, StoreError>
            + Send
            + 'static,
    {
        caller.check(Perm::ReplyConversation, None)?;
        let me = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let caller = caller.clone();
        self.store
            .write(move |tx| {
                let Some(old) = tx.conversation(id)? else {
                    return Ok(Err(AppError::NotFound(format!("no conversation {id}"))));
                };
                if let Err(e) = caller.check(Perm::ReplyConversation, Some(&old)) {
                    return Ok(Err(e));
                }
                match decide(tx, &old)? {
                    Err(e) => Ok(Err(e)),
                    Ok(None) => Ok(Ok(old)),
                    Ok(Some((mut c, event))) => {
                        c.updated_at = tx.now();
                        tx.put_conversation(Some(&old), &c)?;
                        tx.append_event(Actor::User(me.id), event)?;
                        Ok(Ok(c))
                    }
                }
            })
            .await?
    }

    /// Assign to a user (None: unassign). With `claim`, the caller takes an
    /// unassigned conversation: if someone else holds it already, it fails,
    /// so two agents cannot both claim it.
    pub async fn assign(
        &self,
        caller: &Caller,
        id: ConversationId,
        assignee: Option<UserId>,
        claim: bool,
    ) -> Result<Conversation, AppError> {
        let me = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let manager = matches!(me.role, Role::Admin | Role::Supervisor);
        if !manager && assignee.is_some_and(|a| a != me.id) {
            return Err(AppError::Forbidden(
                "agents assign conversations to themselves only".into(),
            ));
        }
        self.change(caller, id, move |tx, old| {
            if let Some(a) = assignee {
                match tx.user(a)? {
                    Some(u) if u.active && u.role != Role::Auditor => {}
                    _ => {
                        return Ok(Err(AppError::Invalid(format!(
                            "user {a} cannot take conversations"
                        ))));
                    }
                }
            }
            if claim && let Some(holder) = old.assignee.filter(|h| Some(*h) != assignee) {
                let name = tx.user(holder)?.map(|u| u.name).unwrap_or_default();
                return Ok(Err(AppError::Conflict(format!(
                    "{name} already took this conversation"
                ))));
            }
            if old.assignee == assignee {
                return Ok(Ok(None));
            }
            let mut c = old.clone();
            c.assignee = assignee;
            Ok(Ok(Some((
                c,
                EventKind::Assigned {
                    conversation: id,
                    assignee,
                },
            ))))
        })
        .await
    }

    /// Add and remove tags.
    pub async fn tag(
        &self,
        caller: &Caller,
        id: ConversationId,
        add: &[String],
        remove: &[String],
    ) -> Result<Conversation, AppError> {
        let mut adds = Vec::new();
        for t in add {
            adds.push(normalize_tag(t).ok_or_else(|| {
                AppError::Invalid(format!(
                    "tag {t:?}: use up to 40 letters, digits, spaces, '-' or '_'"
                ))
            })?);
        }
        let removes: Vec<String> = remove.iter().filter_map(|t| normalize_tag(t)).collect();
        self.change(caller, id, move |_, old| {
            let mut tags: Vec<String> = old
                .tags
                .iter()
                .filter(|t| !removes.contains(t))
                .cloned()
                .collect();
            for t in adds {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            if tags.len() > MAX_TAGS {
                return Ok(Err(AppError::Invalid(format!("at most {MAX_TAGS} tags"))));
            }
            if tags == old.tags {
                return Ok(Ok(None));
            }
            let mut c = old.clone();
            c.tags = tags.clone();
            Ok(Ok(Some((
                c,
                EventKind::TagsChanged {
                    conversation: id,
                    tags,
                },
            ))))
        })
        .await
    }

    /// Set the priority by hand; the reason is kept in the timeline.
    pub async fn override_priority(
        &self,
        caller: &Caller,
        id: ConversationId,
        priority: Priority,
        reason: &str,
    ) -> Result<Conversation, AppError> {
        let reason = reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > 300 {
            return Err(AppError::Invalid(
                "give a reason (up to 300 characters)".into(),
            ));
        }
        self.change(caller, id, move |tx, old| {
            super::triage::mark_override(tx, id, &reason)?;
            let mut c = old.clone();
            c.priority = priority;
            c.score = score_for(priority);
            Ok(Ok(Some((
                c,
                EventKind::PriorityOverridden {
                    conversation: id,
                    priority,
                    reason,
                },
            ))))
        })
        .await
    }
}

impl App {
    /// Hand the conversation to a team (None: no team). Managers only.
    pub async fn assign_team(
        &self,
        caller: &Caller,
        id: ConversationId,
        team: Option<TeamId>,
    ) -> Result<Conversation, AppError> {
        caller.check(Perm::ManageTeams, None)?;
        self.change(caller, id, move |tx, old| {
            if let Some(t) = team
                && tx.team(t)?.is_none()
            {
                return Ok(Err(AppError::Invalid(format!("no team {t}"))));
            }
            if old.team == team {
                return Ok(Ok(None));
            }
            let mut c = old.clone();
            c.team = team;
            Ok(Ok(Some((
                c,
                EventKind::TeamAssigned {
                    conversation: id,
                    team,
                },
            ))))
        })
        .await
    }

    pub async fn teams(&self) -> Result<Vec<Team>, AppError> {
        let mut t = self.store.read(|r| r.teams()).await?;
        t.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(t)
    }

    /// Create a team (admins and supervisors).
    pub async fn create_team(&self, caller: &Caller, name: &str) -> Result<Team, AppError> {
        caller.check(Perm::ManageTeams, None)?;
        let me = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(AppError::Invalid(
                "a team name has 1 to 60 characters".into(),
            ));
        }
        self.store
            .write(move |tx| {
                if tx
                    .teams()?
                    .iter()
                    .any(|t| t.name.eq_ignore_ascii_case(&name))
                {
                    return Ok(Err(AppError::Conflict(format!(
                        "a team named {name} exists"
                    ))));
                }
                let team = Team {
                    id: TeamId(tx.next_id()),
                    name,
                };
                tx.put_team(&team)?;
                tx.append_event(Actor::User(me.id), EventKind::TeamCreated { team: team.id })?;
                Ok(Ok(team))
            })
            .await?
    }

    /// Put a user in a team or take them out.
    pub async fn set_membership(
        &self,
        caller: &Caller,
        team: TeamId,
        user: UserId,
        member: bool,
    ) -> Result<(), AppError> {
        caller.check(Perm::ManageTeams, None)?;
        let me = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        self.store
            .write(move |tx| {
                if tx.team(team)?.is_none() {
                    return Ok(Err(AppError::NotFound(format!("no team {team}"))));
                }
                let Some(mut u) = tx.user(user)? else {
                    return Ok(Err(AppError::NotFound(format!("no user {user}"))));
                };
                let has = u.teams.contains(&team);
                if has == member {
                    return Ok(Ok(()));
                }
                if member {
                    u.teams.push(team);
                } else {
                    u.teams.retain(|t| *t != team);
                }
                tx.put_user(&u)?;
                tx.append_event(
                    Actor::User(me.id),
                    EventKind::MembershipChanged { team, user, member },
                )?;
                Ok(Ok(()))
            })
            .await?
    }

    /// Staff who can take conversations, by name.
    pub async fn assignable_users(&self, caller: &Caller) -> Result<Vec<User>, AppError> {
        caller.check(Perm::ViewConversation, None)?;
        let mut users: Vec<User> = self
            .store
            .read(|r| r.users())
            .await?
            .into_iter()
            .filter(|u| u.active && u.role != Role::Auditor)
            .collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(users)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_normalize() {
        assert_eq!(
            normalize_tag(" #Facturación ").as_deref(),
            Some("facturación")
        );
        assert_eq!(normalize_tag("vip client").as_deref(), Some("vip client"));
        assert!(normalize_tag("").is_none() && normalize_tag("a<b").is_none());
        assert!(normalize_tag(&"x".repeat(41)).is_none());
        assert!(Priority::from_score(score_for(Priority::P2)) == Priority::P2);
        for p in [Priority::P1, Priority::P2, Priority::P3, Priority::P4] {
            assert_eq!(Priority::from_score(score_for(p)), p);
        }
    }
}
