//! Who may do what, checked per object.

use super::AppError;
use crate::domain::{Conversation, Role, User};

/// The authenticated party of a request.
#[derive(Clone, Debug)]
pub enum Caller {
    Staff(User),
    /// A channel's own token (API channel integrations): may only post inbound
    /// messages to that channel.
    Channel(String),
}

/// Operations that need a permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Perm {
    ViewConversation,
    ReplyConversation,
    ChangeStatus,
    PostInbound,
    ViewWorkers,
    ManageUsers,
    /// Create teams, set membership, hand conversations to teams.
    ManageTeams,
    /// Channel administration: the quarantine (view, re-process, dismiss).
    ManageChannels,
    /// Edit, simulate and restore the triage rules.
    ManageRules,
    /// Business hours, auto-replies, follow-ups and scheduled jobs.
    ManageHours,
}

impl Caller {
    pub fn user(&self) -> Option<&User> {
        match self {
            Caller::Staff(u) => Some(u),
            Caller::Channel(_) => None,
        }
    }

    /// Check a permission on an optional object.
    pub fn check(&self, perm: Perm, conv: Option<&Conversation>) -> Result<(), AppError> {
        let deny = |what: &str| Err(AppError::Forbidden(format!("not allowed to {what}")));
        match self {
            Caller::Channel(_) => match perm {
                // The channel itself is checked by the inbound operation.
                Perm::PostInbound => Ok(()),
                _ => deny("use this route with a channel token"),
            },
            Caller::Staff(u) if !u.active => deny("use a deactivated account"),
            Caller::Staff(u) => {
                let sees = conv.is_none_or(|c| can_see(u, c));
                match perm {
                    Perm::ViewConversation if sees => Ok(()),
                    Perm::ViewConversation => deny("see this conversation"),
                    Perm::ReplyConversation | Perm::ChangeStatus => {
                        if u.role == Role::Auditor {
                            deny("change anything with an auditor account")
                        } else if !sees {
                            deny("act on this conversation")
                        } else {
                            Ok(())
                        }
                    }
                    Perm::ManageTeams | Perm::ManageRules | Perm::ManageHours => {
                        if matches!(u.role, Role::Admin | Role::Supervisor) {
                            Ok(())
                        } else {
                            deny("manage teams without the admin or supervisor role")
                        }
                    }
                    Perm::PostInbound
                    | Perm::ManageUsers
                    | Perm::ViewWorkers
                    | Perm::ManageChannels => {
                        if u.role == Role::Admin {
                            Ok(())
                        } else {
                            deny("do this without the admin role")
                        }
                    }
                }
            }
        }
    }
}

/// Agents see unassigned-team conversations, their teams' and their own;
/// supervisors, admins and auditors see everything.
pub fn can_see(u: &User, c: &Conversation) -> bool {
    match u.role {
        Role::Admin | Role::Supervisor | Role::Auditor => true,
        Role::Agent => c.assignee == Some(u.id) || c.team.is_none_or(|t| u.teams.contains(&t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::*;

    fn user(role: Role, teams: Vec<TeamId>) -> User {
        User {
            id: UserId(7),
            email: "a@x".into(),
            name: "A".into(),
            role,
            teams,
            skills: vec![],
            languages: vec![],
            tier: 1,
            password_hash: String::new(),
            active: true,
            created_at: Ts(0),
        }
    }

    fn conv(team: Option<TeamId>, assignee: Option<UserId>) -> Conversation {
        Conversation {
            id: ConversationId(1),
            contact: ContactId(2),
            identity: IdentityId(3),
            channel: "api".into(),
            thread_key: "t".into(),
            status: Status::Open,
            priority: Priority::P4,
            score: 0,
            tier: 1,
            category: None,
            team,
            assignee,
            tags: vec![],
            subject: None,
            public: true,
            created_at: Ts(0),
            updated_at: Ts(0),
            last_message_at: Ts(0),
            waiting_since: None,
            first_response_at: None,
            resolved_at: None,
            snoozed_until: None,
            sla_due_at: None,
            message_count: 1,
            last_snippet: String::new(),
        }
    }

    #[test]
    fn per_object_rules() {
        let billing = Some(TeamId(10));
        let agent = Caller::Staff(user(Role::Agent, vec![TeamId(11)]));
        assert!(
            agent
                .check(Perm::ViewConversation, Some(&conv(None, None)))
                .is_ok()
        );
        assert!(
            agent
                .check(Perm::ViewConversation, Some(&conv(billing, None)))
                .is_err()
        );
        assert!(
            agent
                .check(
                    Perm::ReplyConversation,
                    Some(&conv(billing, Some(UserId(7))))
                )
                .is_ok()
        );
        assert!(agent.check(Perm::PostInbound, None).is_err());
        let auditor = Caller::Staff(user(Role::Auditor, vec![]));
        assert!(
            auditor
                .check(Perm::ViewConversation, Some(&conv(billing, None)))
                .is_ok()
        );
        assert!(
            auditor
                .check(Perm::ReplyConversation, Some(&conv(None, None)))
                .is_err()
        );
        let admin = Caller::Staff(user(Role::Admin, vec![]));
        assert!(admin.check(Perm::ManageUsers, None).is_ok());
        let mut off = user(Role::Admin, vec![]);
        off.active = false;
        assert!(
            Caller::Staff(off)
                .check(Perm::ViewConversation, None)
                .is_err()
        );
        let ch = Caller::Channel("api".into());
        assert!(ch.check(Perm::PostInbound, None).is_ok());
        assert!(ch.check(Perm::ViewConversation, None).is_err());
    }
}
