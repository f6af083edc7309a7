//! Accounts, passwords (argon2id) and tokens.

use super::{App, AppError, Caller};
use crate::domain::*;
use crate::store::Store;
use crate::triage::Availability;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKind {
    Api,
    Session,
}

/// Sign-in attempts per client address per minute (API and form alike).
pub const LOGINS_PER_MINUTE: u32 = 10;

/// Browser sessions live this long.
pub const SESSION_TTL_MS: i64 = 7 * 86_400_000;

/// API tokens live this long.
pub const API_TOKEN_TTL_MS: i64 = 30 * 86_400_000;
pub const MIN_PASSWORD_LEN: usize = 8;

pub fn hash_password(password: &str) -> Result<String, AppError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AppError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Invalid(format!("cannot hash the password: {e}")))
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new random token and the SHA-256 under which it is stored.
pub fn new_token() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compare secrets in time independent of where they differ.
pub fn constant_eq(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

fn valid_email(email: &str) -> bool {
    let email = email.trim();
    email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
        && !email.contains(char::is_whitespace)
}

/// Create a staff account.
pub async fn create_user(
    store: &Store,
    email: &str,
    name: &str,
    role: Role,
    password: &str,
) -> Result<User, AppError> {
    if !valid_email(email) {
        return Err(AppError::Invalid(format!(
            "{email:?} is not an email address"
        )));
    }
    let hash = {
        let password = password.to_string();
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))??
    };
    let (email, name) = (email.trim().to_string(), name.trim().to_string());
    store
        .write(move |tx| {
            if tx.user_by_email(&email)?.is_some() {
                return Ok(Err(AppError::Conflict(format!(
                    "a user with email {email} exists"
                ))));
            }
            let user = User {
                id: UserId(tx.next_id()),
                name: if name.is_empty() { email.clone() } else { name },
                email,
                role,
                teams: vec![],
                skills: vec![],
                languages: vec![],
                tier: 1,
                password_hash: hash,
                active: true,
                created_at: tx.now(),
            };
            tx.put_user(&user)?;
            tx.append_event(Actor::System, EventKind::UserCreated { user: user.id })?;
            Ok(Ok(user))
        })
        .await?
}

/// Set a new password and revoke every token and session of the account.
pub async fn set_password(store: &Store, email: &str, password: &str) -> Result<(), AppError> {
    let hash = {
        let password = password.to_string();
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))??
    };
    let email = email.to_string();
    store
        .write(move |tx| {
            let Some(mut user) = tx.user_by_email(&email)? else {
                return Ok(Err(AppError::NotFound(format!(
                    "no user with email {email}"
                ))));
            };
            user.password_hash = hash;
            tx.put_user(&user)?;
            let id = user.id;
            tx.remove_tokens_where_keyed(|_, t| match &t.subject {
                TokenSubject::Api(u) => *u == id,
                TokenSubject::Session { user, .. } => *user == id,
                TokenSubject::Visitor { .. } => false,
            })?;
            tx.append_event(Actor::User(id), EventKind::PasswordChanged { user: id })?;
            Ok(Ok(()))
        })
        .await?
}

/// On an empty store, create the first admin. Returns the generated password
/// when none was given.
pub async fn ensure_first_admin(
    store: &Store,
    email: Option<String>,
    password: Option<String>,
) -> Result<Option<(String, Option<String>)>, AppError> {
    let has_users = store.read(|r| Ok(!r.users()?.is_empty())).await?;
    if has_users {
        return Ok(None);
    }
    let (email, password, generated) = match (email, password) {
        (Some(e), Some(p)) => (e, p, false),
        _ => {
            let (token, _) = new_token();
            ("admin@localhost".to_string(), token[..20].to_string(), true)
        }
    };
    create_user(store, &email, "Administrator", Role::Admin, &password).await?;
    Ok(Some((email, generated.then_some(password))))
}

impl App {
    /// Whether one more sign-in attempt from `ip` fits in this minute; the
    /// API and the sign-in form share the budget.
    pub fn allow_login(&self, ip: std::net::IpAddr) -> bool {
        self.rate
            .allow(&format!("login:{ip}"), LOGINS_PER_MINUTE, self.clock.now())
    }

    /// Check credentials and hand out an API bearer token.
    pub async fn login(&self, email: &str, password: &str) -> Result<String, AppError> {
        let user = self.check_credentials(email, password).await?;
        self.issue_token(user.id, TokenKind::Api)
            .await
            .map(|(token, _)| token)
    }

    /// Check credentials and open a browser session: a new session id at every
    /// login. Returns (session token, CSRF token).
    pub async fn login_session(
        &self,
        email: &str,
        password: &str,
    ) -> Result<(String, String), AppError> {
        let user = self.check_credentials(email, password).await?;
        self.issue_token(user.id, TokenKind::Session).await
    }

    /// The user, CSRF token and preferences of a live browser session.
    pub async fn session(&self, token: &str) -> Result<(User, String, Prefs), AppError> {
        let hash = token_hash(token);
        let now = self.clock.now();
        let found = self
            .store
            .read(move |r| match r.token(&hash)? {
                Some(Token {
                    subject: TokenSubject::Session { user, csrf },
                    expires_at,
                    ..
                }) if expires_at > now => {
                    let prefs = r.prefs(user)?;
                    Ok(r.user(user)?.map(|u| (u, csrf, prefs)))
                }
                _ => Ok(None),
            })
            .await?;
        found
            .filter(|(u, _, _)| u.active)
            .ok_or(AppError::Unauthorized)
    }

    /// Save one's interface preferences (language, time zone).
    pub async fn set_prefs(
        &self,
        user: &User,
        lang: Option<String>,
        tz: Option<String>,
    ) -> Result<(), AppError> {
        let lang = lang.filter(|l| !l.is_empty());
        if lang.as_deref().is_some_and(|l| l != "es" && l != "en") {
            return Err(AppError::Invalid("language must be es or en".into()));
        }
        let tz = tz.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        if let Some(t) = &tz
            && jiff::tz::TimeZone::get(t).is_err()
        {
            return Err(AppError::Invalid(format!(
                "{t:?} is not a time zone like Europe/Madrid"
            )));
        }
        let id = user.id;
        self.store
            .write(move |tx| {
                tx.put_prefs(id, &Prefs { lang, tz })?;
                tx.append_event(Actor::User(id), EventKind::PrefsChanged { user: id })?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// End a browser session.
    pub async fn logout(&self, token: &str) -> Result<(), AppError> {
        let hash = token_hash(token);
        self.store
            .write(move |tx| {
                if let Some(Token {
                    subject: TokenSubject::Session { user, .. },
                    ..
                }) = tx.token(&hash)?
                {
                    tx.remove_token(&hash)?;
                    tx.append_event(Actor::User(user), EventKind::LoggedOut { user })?;
                    super::triage::put_availability(tx, user, Availability::Offline)?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// Change one's own password (the current one is checked) and sign out
    /// every other session and token of the account; `keep` (the current
    /// session token) stays valid.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
        keep: &str,
    ) -> Result<(), AppError> {
        self.check_credentials(&user.email, current).await?;
        let hash = {
            let new = new.to_string();
            tokio::task::spawn_blocking(move || hash_password(&new))
                .await
                .map_err(|e| AppError::Unavailable(e.to_string()))??
        };
        let (id, keep) = (user.id, token_hash(keep));
        self.store
            .write(move |tx| {
                let Some(mut u) = tx.user(id)? else {
                    return Ok(Err(AppError::NotFound("no such user".into())));
                };
                u.password_hash = hash;
                tx.put_user(&u)?;
                tx.remove_tokens_where_keyed(|k, t| {
                    k != keep
                        && match &t.subject {
                            TokenSubject::Api(u) => *u == id,
                            TokenSubject::Session { user, .. } => *user == id,
                            TokenSubject::Visitor { .. } => false,
                        }
                })?;
                tx.append_event(Actor::User(id), EventKind::PasswordChanged { user: id })?;
                Ok(Ok(()))
            })
            .await?
    }

    async fn check_credentials(&self, email: &str, password: &str) -> Result<User, AppError> {
        let email_owned = email.to_string();
        let user = self
            .store
            .read(move |r| r.user_by_email(&email_owned))
            .await?;
        let password = password.to_string();
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let ok = tokio::task::spawn_blocking(move || match hash {
            Some(h) => verify_password(&h, &password),
            None => {
                // Spend the same time on unknown accounts.
                let _ = hash_password("not-a-real-password-at-all");
                false
            }
        })
        .await
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
        match user {
            Some(u) if ok && u.active => Ok(u),
            _ => {
                self.metrics.login_failures.inc();
                Err(AppError::Unauthorized)
            }
        }
    }

    /// A new token of `kind` for user `id`: (token, CSRF token or "").
    async fn issue_token(&self, id: UserId, kind: TokenKind) -> Result<(String, String), AppError> {
        let (token, hash) = new_token();
        let csrf = match kind {
            TokenKind::Api => String::new(),
            TokenKind::Session => new_token().0,
        };
        let csrf_stored = csrf.clone();
        self.store
            .write(move |tx| {
                let now = tx.now();
                let (subject, ttl) = match kind {
                    TokenKind::Api => (TokenSubject::Api(id), API_TOKEN_TTL_MS),
                    TokenKind::Session => (
                        TokenSubject::Session {
                            user: id,
                            csrf: csrf_stored,
                        },
                        SESSION_TTL_MS,
                    ),
                };
                let t = Token {
                    subject,
                    created_at: now,
                    expires_at: now.plus_ms(ttl),
                };
                tx.put_token(&hash, &t)?;
                tx.append_event(Actor::User(id), EventKind::LoggedIn { user: id })?;
                // Signing in to the inbox makes one available for routing
                // (as in Chatwoot); "away" is kept.
                if matches!(kind, TokenKind::Session)
                    && tx.user(id)?.is_some_and(|u| u.role != Role::Auditor)
                    && super::triage::availability(tx, id)? == Availability::Offline
                {
                    super::triage::put_availability(tx, id, Availability::Online)?;
                }
                Ok(())
            })
            .await?;
        Ok((token, csrf))
    }

    /// Who a bearer token belongs to: a staff API token or a channel token.
    pub async fn authenticate(&self, bearer: &str) -> Result<Caller, AppError> {
        let hash = token_hash(bearer);
        let now = self.clock.now();
        let found = self
            .store
            .read(move |r| match r.token(&hash)? {
                Some(Token {
                    subject: TokenSubject::Api(u),
                    expires_at,
                    ..
                }) if expires_at > now => r.user(u),
                _ => Ok(None),
            })
            .await?;
        if let Some(user) = found.filter(|u| u.active) {
            return Ok(Caller::Staff(user));
        }
        for ch in &self.config.channel.api {
            if let Some(t) = &ch.token
                && constant_eq(t.expose(), bearer)
            {
                return Ok(Caller::Channel(ch.name.clone()));
            }
        }
        Err(AppError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "wrong horse"));
        assert!(!verify_password("garbage", "x"));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(ha, token_hash(&a));
        assert!(constant_eq("abc", "abc") && !constant_eq("abc", "abd"));
        assert!(valid_email("a@b.c") && !valid_email("a b@c") && !valid_email("abc"));
    }
}
