//! Searching every conversation: the query is parsed and run by the index
//! (with the caller's permissions inside the query), then the page of hits
//! is filled from redb, the source of truth.

use super::perm::Perm;
use super::{App, AppError, Caller};
use crate::domain::*;
use crate::index::{self, Facets, Highlighter, Opened, SearchIndex, Sort, Viewer, query};
use std::sync::Arc;

/// Most hits per page.
pub const MAX_LIMIT: usize = 100;

#[derive(Clone, Debug, Default)]
pub struct SearchOptions {
    pub limit: usize,
    pub offset: usize,
    pub newest: bool,
    pub facets: bool,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct SearchHit {
    pub conversation_id: u64,
    pub message_id: Option<u64>,
    /// A plain-text excerpt of the best-matching message.
    pub snippet: String,
    /// Byte ranges of `snippet` that matched.
    #[serde(skip)]
    pub marks: Vec<std::ops::Range<usize>>,
    pub score: f32,
    pub subject: Option<String>,
    pub channel: String,
    pub status: &'static str,
    pub contact: String,
    pub last_message_at: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct SearchPage {
    /// Matching conversations.
    pub total: usize,
    pub hits: Vec<SearchHit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<Facets>,
}

impl App {
    /// Open (or rebuild) the index under the data dir in the background,
    /// then follow the event log until `stop`. Searches answer 503 until
    /// the index is open.
    pub fn start_search(
        self: &Arc<Self>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let app = self.clone();
        tokio::spawn(async move {
            let dir = app.config.server.data.join("index");
            let store = app.store.clone();
            let opened = tokio::task::spawn_blocking(move || {
                SearchIndex::open(&dir, store, &|done, total| {
                    if done % 50_000 == 0 || done == total {
                        tracing::info!(done, total, "search index: rebuilding");
                    }
                })
            })
            .await;
            let idx = match opened {
                Ok(Ok((idx, how))) => {
                    match how {
                        Opened::Resumed(seq) => {
                            tracing::info!(watermark = seq, "search index open")
                        }
                        Opened::Rebuilt { why } => {
                            tracing::warn!(why, "search index rebuilt from the store")
                        }
                    }
                    idx
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "search index cannot be opened; search is off");
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "search index task failed; search is off");
                    return;
                }
            };
            let _ = app.search_index.set(idx.clone());
            idx.follow(stop).await;
        })
    }

    /// The running index, if search was started.
    pub fn search_index(&self) -> Option<&Arc<SearchIndex>> {
        self.search_index.get()
    }

    pub async fn search(
        &self,
        caller: &Caller,
        q: &str,
        opts: SearchOptions,
    ) -> Result<SearchPage, AppError> {
        caller.check(Perm::ViewConversation, None)?;
        let user = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let node = query::parse(q).map_err(|e| AppError::Invalid(format!("query {e}")))?;
        let idx = self.search_index.get().cloned().ok_or_else(|| {
            AppError::Unavailable(
                "the search index is starting (being built); try again in a moment".into(),
            )
        })?;
        let teams = match user.role {
            Role::Agent => Some(user.teams.clone()),
            _ => None,
        };
        let req = index::Request {
            query: node,
            viewer: Viewer {
                user: user.id,
                teams,
            },
            offset: opts.offset,
            limit: opts.limit.clamp(1, MAX_LIMIT),
            sort: if opts.newest {
                Sort::Newest
            } else {
                Sort::Relevance
            },
            facets: opts.facets,
        };
        let found = tokio::task::spawn_blocking(move || idx.search(&req))
            .await
            .map_err(|e| AppError::Unavailable(format!("search failed: {e}")))?
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        // The page's conversations from redb, picked and highlighted, in two
        // halves at once on the blocking threads (a commit in between only
        // makes one half a little newer, which a search result may be).
        let highlighter = Arc::new(found.highlighter);
        let load = |ids: Vec<(ConversationId, f32)>| {
            let (highlighter, caller) = (highlighter.clone(), caller.clone());
            self.store.read(move |r| {
                let mut hits = Vec::with_capacity(ids.len());
                for (id, score) in ids {
                    let Some(c) = r.conversation(id)? else {
                        continue;
                    };
                    // The index decided; this only guards against a stale document.
                    if caller.check(Perm::ViewConversation, Some(&c)).is_err() {
                        continue;
                    }
                    let messages = r.conversation_messages(id)?;
                    let contact = r.contact(c.contact)?.map(|c| c.name).unwrap_or_default();
                    hits.push(hit(&highlighter, c, &messages, contact, score));
                }
                Ok(hits)
            })
        };
        let mut first = found.hits;
        let second = first.split_off(first.len() / 2);
        let (a, b) = tokio::join!(load(first), load(second));
        let mut hits = a?;
        hits.extend(b?);
        Ok(SearchPage {
            total: found.total,
            hits,
            facets: found.facets,
        })
    }
}

/// One result: the conversation and its best-matching message, highlighted
/// (else its last customer or agent message).
fn hit(
    highlighter: &Highlighter,
    c: Conversation,
    messages: &[Message],
    contact: String,
    score: f32,
) -> SearchHit {
    let best = highlighter.best(messages.iter().map(|m| (m.id.0, m.text.as_str())));
    let (message_id, snippet, marks) = match best {
        Some((id, s)) => (Some(id), s.text, s.marks),
        None => match messages
            .iter()
            .rev()
            .find(|m| m.direction != Direction::Note)
        {
            Some(m) => (Some(m.id.0), crate::ingest::snippet(&m.text, 160), vec![]),
            None => (None, c.last_snippet.clone(), vec![]),
        },
    };
    SearchHit {
        conversation_id: c.id.0,
        message_id,
        snippet,
        marks,
        score,
        status: c.status.as_str(),
        last_message_at: c.last_message_at.rfc3339(),
        subject: c.subject,
        channel: c.channel,
        contact,
    }
}
