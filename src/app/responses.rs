//! Canned responses: shared ones (admins and supervisors) and personal ones,
//! rendered with the conversation's variables (`app::canned` is the pure core).

use super::canned::{self, Candidate, Vars};
use super::{App, AppError, Caller};
use crate::domain::*;

/// A canned response as submitted by a form or the API.
#[derive(Clone, Debug, Default)]
pub struct CannedInput {
    pub shortcut: String,
    pub title: String,
    pub body: String,
    /// Comma-separated.
    pub tags: String,
    /// Shared with the whole team (admins and supervisors only).
    pub shared: bool,
}

fn may_manage(user: &User, c: &CannedResponse) -> bool {
    match c.owner {
        None => matches!(user.role, Role::Admin | Role::Supervisor),
        Some(owner) => owner == user.id,
    }
}

/// Shared responses and `user`'s own, by shortcut.
fn usable_by(mut all: Vec<CannedResponse>, user: UserId) -> Vec<CannedResponse> {
    all.retain(|c| c.owner.is_none() || c.owner == Some(user));
    all.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
    all
}

fn staff(caller: &Caller) -> Result<User, AppError> {
    let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
    if user.role == Role::Auditor || !user.active {
        return Err(AppError::Forbidden(
            "not allowed to manage canned responses".into(),
        ));
    }
    Ok(user)
}

impl App {
    /// The variables of a conversation, for rendering.
    pub fn canned_vars(
        &self,
        agent: &User,
        conv: &Conversation,
        contact: Option<&Contact>,
    ) -> Vars {
        Vars {
            contact_name: contact.map(|c| c.name.clone()).unwrap_or_default(),
            contact_first_name: None,
            agent_name: agent.name.clone(),
            business_name: self.config.business.name.clone(),
            conversation_id: conv.id.0,
        }
    }

    /// Shared responses and the caller's own, by shortcut.
    pub async fn canned_list(&self, caller: &Caller) -> Result<Vec<CannedResponse>, AppError> {
        let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let all = self.store.read(|r| r.canned_all()).await?;
        Ok(usable_by(all, user.id))
    }

    pub async fn canned_save(
        &self,
        caller: &Caller,
        id: Option<u64>,
        input: CannedInput,
    ) -> Result<CannedResponse, AppError> {
        let user = staff(caller)?;
        let shortcut = input.shortcut.trim().trim_start_matches('/').to_lowercase();
        if shortcut.is_empty()
            || shortcut.len() > 32
            || !shortcut
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(AppError::Invalid(
                "the shortcut must be 1-32 letters, digits, '-' or '_'".into(),
            ));
        }
        let title = input.title.trim().to_string();
        if title.is_empty() || title.chars().count() > 100 {
            return Err(AppError::Invalid(
                "the title must be 1-100 characters".into(),
            ));
        }
        let body = input.body.trim().to_string();
        if body.is_empty() || body.len() > 10_000 {
            return Err(AppError::Invalid("the text must be 1-10000 bytes".into()));
        }
        canned::validate(&body).map_err(|e| AppError::Invalid(e.to_string()))?;
        if input.shared && !matches!(user.role, Role::Admin | Role::Supervisor) {
            return Err(AppError::Forbidden(
                "only admins and supervisors share canned responses".into(),
            ));
        }
        let tags: Vec<String> = input
            .tags
            .split(',')
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        let owner = (!input.shared).then_some(user.id);
        self.store
            .write(move |tx| {
                let existing = match id {
                    Some(id) => match tx.canned(id)? {
                        Some(c) => Some(c),
                        None => {
                            return Ok(Err(AppError::NotFound(format!("no canned response {id}"))));
                        }
                    },
                    None => None,
                };
                if let Some(c) = &existing
                    && !may_manage(&user, c)
                {
                    return Ok(Err(AppError::Forbidden(
                        "not allowed to change this canned response".into(),
                    )));
                }
                let clash = tx.canned_all()?.into_iter().any(|c| {
                    Some(c.id) != id
                        && c.shortcut == shortcut
                        && (c.owner.is_none() || c.owner == Some(user.id) || owner.is_none())
                });
                if clash {
                    return Ok(Err(AppError::Conflict(format!(
                        "the shortcut /{shortcut} is taken"
                    ))));
                }
                let c = CannedResponse {
                    id: existing.map(|c| c.id).unwrap_or_else(|| tx.next_id()),
                    owner,
                    shortcut,
                    title,
                    body,
                    tags,
                    updated_by: user.id,
                    updated_at: tx.now(),
                };
                tx.put_canned(&c)?;
                tx.append_event(
                    Actor::User(user.id),
                    EventKind::CannedSaved { canned: c.id },
                )?;
                Ok(Ok(c))
            })
            .await?
    }

    pub async fn canned_delete(&self, caller: &Caller, id: u64) -> Result<(), AppError> {
        let user = staff(caller)?;
        self.store
            .write(move |tx| {
                let Some(c) = tx.canned(id)? else {
                    return Ok(Err(AppError::NotFound(format!("no canned response {id}"))));
                };
                if !may_manage(&user, &c) {
                    return Ok(Err(AppError::Forbidden(
                        "not allowed to delete this canned response".into(),
                    )));
                }
                tx.remove_canned(id)?;
                tx.append_event(
                    Actor::User(user.id),
                    EventKind::CannedDeleted { canned: id },
                )?;
                Ok(Ok(()))
            })
            .await?
    }

    /// In one read: the conversation (checked against the caller), its
    /// contact, and the canned responses the caller may use.
    async fn canned_context(
        &self,
        caller: &Caller,
        conv: ConversationId,
    ) -> Result<(User, Conversation, Option<Contact>, Vec<CannedResponse>), AppError> {
        let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let me = user.id;
        let (c, contact, all) = self
            .store
            .read(move |r| {
                let Some(c) = r.conversation(conv)? else {
                    return Ok(None);
                };
                let contact = r.contact(c.contact)?;
                Ok(Some((c, contact, r.canned_all()?)))
            })
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no conversation {conv}")))?;
        caller.check(super::perm::Perm::ViewConversation, Some(&c))?;
        Ok((user, c, contact, usable_by(all, me)))
    }

    /// Search (the `/shortcut` picker) and suggestions for a conversation,
    /// each rendered for it: `(response, rendered text or the error)`.
    pub async fn canned_for(
        &self,
        caller: &Caller,
        conv: ConversationId,
        query: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(CannedResponse, Result<String, String>)>, AppError> {
        let (user, c, contact, all) = self.canned_context(caller, conv).await?;
        let cands: Vec<Candidate<'_>> = all
            .iter()
            .map(|c| Candidate {
                shortcut: &c.shortcut,
                title: &c.title,
                body: &c.body,
                tags: &c.tags,
            })
            .collect();
        let picked = match query {
            Some(q) => canned::search(&cands, q, limit),
            None => canned::suggest(&cands, &c.tags, c.category.as_deref(), limit),
        };
        let vars = self.canned_vars(&user, &c, contact.as_ref());
        Ok(picked
            .into_iter()
            .map(|i| {
                let r = all[i].clone();
                let text = canned::render(&r.body, &vars).map_err(|e| e.to_string());
                (r, text)
            })
            .collect())
    }

    /// One canned response rendered for a conversation (None: not one the
    /// caller may use).
    pub async fn canned_render(
        &self,
        caller: &Caller,
        conv: ConversationId,
        id: u64,
    ) -> Result<Option<Result<String, String>>, AppError> {
        let (user, c, contact, all) = self.canned_context(caller, conv).await?;
        let vars = self.canned_vars(&user, &c, contact.as_ref());
        Ok(all
            .iter()
            .find(|r| r.id == id)
            .map(|r| canned::render(&r.body, &vars).map_err(|e| e.to_string())))
    }
}
