//! Sort keys for listing conversations with keyset pagination.
//!
//! Each conversation has one key per (sort, status slot): its own status and
//! the "all" slot, so every list is a range scan that stays fast with 100,000
//! open conversations. `Oldest` reads the `Newest` keys backwards. Inbox
//! views get their own priority-ordered keys: by assignee (0 = unassigned)
//! and by team, so "Mine", "Unassigned" and a team's view are range scans too.

use crate::domain::{Conversation, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// Highest score first, then longest waiting.
    Priority,
    Newest,
    Oldest,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        match s {
            "priority" => Some(Sort::Priority),
            "newest" => Some(Sort::Newest),
            "oldest" => Some(Sort::Oldest),
            _ => None,
        }
    }

    fn tag(self) -> u8 {
        match self {
            Sort::Priority => b'p',
            Sort::Newest | Sort::Oldest => b'n',
        }
    }

    /// Whether the list reads its keys backwards.
    pub fn reversed(self) -> bool {
        self == Sort::Oldest
    }
}

/// Which conversations a list covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One status, or every status.
    Status(Option<Status>),
    /// One status and one assignee (None: unassigned); priority order only.
    Assignee(Status, Option<u64>),
    /// One status and one team; priority order only.
    Team(Status, u64),
}

/// The key prefix of a list, or None when the scope has no such order.
pub fn scope_prefix(sort: Sort, scope: Scope) -> Option<Vec<u8>> {
    match scope {
        Scope::Status(status) => Some(prefix(sort, status).to_vec()),
        Scope::Assignee(s, who) if sort == Sort::Priority => {
            let mut p = vec![b'a', s.code()];
            p.extend_from_slice(&who.unwrap_or(0).to_be_bytes());
            Some(p)
        }
        Scope::Team(s, team) if sort == Sort::Priority => {
            let mut p = vec![b't', s.code()];
            p.extend_from_slice(&team.to_be_bytes());
            Some(p)
        }
        _ => None,
    }
}

/// The smallest key greater than every key starting with `p`.
pub fn prefix_end(p: &[u8]) -> Option<Vec<u8>> {
    let mut end = p.to_vec();
    while let Some(last) = end.pop() {
        if last < 255 {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn priority_body(k: &mut Vec<u8>, c: &Conversation) {
    k.push(255 - c.score);
    let waiting = c.waiting_since.map(|t| ord_ts(t.0)).unwrap_or(u64::MAX);
    k.extend_from_slice(&waiting.to_be_bytes());
    k.extend_from_slice(&c.id.0.to_be_bytes());
}

/// The status slot that holds every conversation.
const ALL_SLOT: u8 = 9;

fn ord_ts(ms: i64) -> u64 {
    (ms as u64) ^ (1 << 63)
}

pub fn prefix(sort: Sort, status: Option<Status>) -> [u8; 2] {
    [sort.tag(), status.map(Status::code).unwrap_or(ALL_SLOT)]
}

fn key(sort: Sort, slot: u8, c: &Conversation) -> Vec<u8> {
    let mut k = Vec::with_capacity(27);
    k.push(sort.tag());
    k.push(slot);
    match sort {
        Sort::Priority => priority_body(&mut k, c),
        Sort::Newest | Sort::Oldest => {
            k.extend_from_slice(&(u64::MAX - ord_ts(c.last_message_at.0)).to_be_bytes());
            // Ties: the newer conversation first.
            k.extend_from_slice(&(u64::MAX - c.id.0).to_be_bytes());
        }
    }
    k
}

/// Every sort key of a conversation in its current state.
pub fn order_keys(c: &Conversation) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(6);
    for sort in [Sort::Priority, Sort::Newest] {
        out.push(key(sort, c.status.code(), c));
        out.push(key(sort, ALL_SLOT, c));
    }
    let scoped = [
        Some(Scope::Assignee(c.status, c.assignee.map(|u| u.0))),
        c.team.map(|t| Scope::Team(c.status, t.0)),
    ];
    for scope in scoped.into_iter().flatten() {
        if let Some(mut k) = scope_prefix(Sort::Priority, scope) {
            priority_body(&mut k, c);
            out.push(k);
        }
    }
    out
}

/// The conversation id at the end of a sort key.
pub fn id_of(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    let raw = u64::from_be_bytes(tail);
    Some(if key.first() == Some(&b'n') {
        u64::MAX - raw
    } else {
        raw
    })
}

/// The counters (in `meta`) a conversation contributes 1 to: per status,
/// per status × assignee (or unassigned), and per status × team.
pub fn count_keys(c: &Conversation) -> Vec<String> {
    let s = c.status.as_str();
    let mut keys = vec![format!("count:s:{s}")];
    keys.push(match c.assignee {
        Some(u) => format!("count:a:{u}:{s}"),
        None => format!("count:u:{s}"),
    });
    if let Some(t) = c.team {
        keys.push(format!("count:t:{t}:{s}"));
    }
    keys
}
