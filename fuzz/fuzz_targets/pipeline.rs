//! The email ingest path the fuzz targets drive, with the properties it must
//! keep on any input:
//!
//! raw bytes → `mime::parse` → `mime::thread_key` / `mime::to_inbound` →
//! `ingest::prepare` (ammonia sanitizes the HTML, `html_to_text`).

use atalaya::channels::email::mime::{self, MimeError};
use atalaya::ingest::{self, IngestRules};

/// The limit the IMAP poller uses for header-only fetches; the fuzzer's inputs
/// are far smaller, so `TooLarge` is never the answer here.
pub const MAX_MAIL_BYTES: usize = 1 << 20;

pub const RULES: IngestRules = IngestRules {
    reopen_window_ms: 0,
    max_text_bytes: 65_536,
};

/// What `parse` answered (only used for the guarded target's bookkeeping).
pub enum Parsed {
    Ok,
    Invalid,
    Panicked,
}

pub fn run(
    data: &[u8],
    parse: impl FnOnce(&[u8]) -> Result<mime::ParsedMail, MimeError>,
) -> Parsed {
    let parsed = match parse(data) {
        Ok(p) => p,
        Err(MimeError::Invalid(_)) => return Parsed::Invalid,
        Err(MimeError::Panicked(_)) => return Parsed::Panicked,
        Err(MimeError::TooLarge { size, limit }) => {
            panic!("TooLarge for {size} bytes under a {limit}-byte limit")
        }
    };

    let key = mime::thread_key(&parsed);
    assert!(!key.is_empty(), "empty thread key");
    assert!(
        key.len() <= 512,
        "thread key of {} bytes: {key:?}",
        key.len()
    );

    let inbound = mime::to_inbound(&parsed, "support");
    let id = &inbound.external_id;
    assert!(!id.is_empty(), "empty external_id");
    assert!(id.len() <= 512, "external_id of {} bytes: {id:?}", id.len());
    assert_eq!(inbound.thread.as_deref(), Some(key.as_str()));

    // `prepare` may refuse a mail (an over-long From address, no text at
    // all): that is an answer, not a bug. What it returns must be clean.
    if let Ok(m) = ingest::prepare(inbound, &RULES) {
        assert!(m.text.len() <= RULES.max_text_bytes, "text not truncated");
        assert!(!m.external_id.is_empty() && m.external_id.len() <= 512);
        if let Some(html) = &m.html {
            assert!(
                !html.to_ascii_lowercase().contains("<script"),
                "<script survived sanitizing: {html:?}"
            );
        }
    }
    Parsed::Ok
}
