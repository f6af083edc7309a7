//! The index schema, its analyzers and how a conversation becomes one
//! document.
//!
//! One document per conversation: its messages' text goes into `body_es` or
//! `body_en` (by each message's language, stemmed), every whitespace token
//! into `exact` (handles, emails, order numbers as typed), and the
//! conversation's filter fields. Only ids and filter values are stored; the
//! text shown comes from redb.

use crate::domain::*;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer,
    Stemmer, TextAnalyzer, TokenizerManager, WhitespaceTokenizer,
};

/// Bumped whenever the schema or the analysis changes: an index of another
/// version is rebuilt from redb at start.
pub const SCHEMA_VERSION: u32 = 1;

/// Longest token kept (longer ones are noise: base64, URLs).
const MAX_TOKEN: usize = 40;

#[derive(Clone, Debug)]
pub struct Fields {
    pub conv_id: Field,
    pub body_es: Field,
    pub body_en: Field,
    pub exact: Field,
    pub from: Field,
    pub to: Field,
    pub channel: Field,
    pub status: Field,
    pub tag: Field,
    pub team: Field,
    pub assignee: Field,
    pub priority: Field,
    pub category: Field,
    pub has: Field,
    pub assignee_id: Field,
    pub team_id: Field,
    /// Every message's time (unix ms): `before:` / `after:`.
    pub msg_at: Field,
    /// The last message's time: "newest first".
    pub last_at: Field,
}

pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let body = |tok: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tok)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
    };
    let keyword = || {
        TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_index_option(IndexRecordOption::Basic),
            )
            .set_fast("raw")
    };
    let fields = Fields {
        conv_id: b.add_u64_field("conv_id", INDEXED | FAST | STORED),
        body_es: b.add_text_field("body_es", body("es")),
        body_en: b.add_text_field("body_en", body("en")),
        exact: b.add_text_field(
            "exact",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("exact")
                    .set_index_option(IndexRecordOption::Basic),
            ),
        ),
        from: b.add_text_field("from", keyword()),
        to: b.add_text_field("to", keyword()),
        channel: b.add_text_field("channel", keyword()),
        status: b.add_text_field("status", keyword()),
        tag: b.add_text_field("tag", keyword()),
        team: b.add_text_field("team", keyword()),
        assignee: b.add_text_field("assignee", keyword()),
        priority: b.add_text_field("priority", keyword()),
        category: b.add_text_field("category", keyword()),
        has: b.add_text_field("has", keyword()),
        assignee_id: b.add_u64_field("assignee_id", INDEXED),
        team_id: b.add_u64_field("team_id", INDEXED),
        msg_at: b.add_i64_field("msg_at", INDEXED),
        last_at: b.add_i64_field("last_at", FAST),
    };
    (b.build(), fields)
}

fn stemmed(lang: Language) -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(lang))
        .build()
}

fn exact_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WhitespaceTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN * 2))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

fn keyword_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Register the analyzers on an index.
pub fn register(tokenizers: &TokenizerManager) {
    tokenizers.register("es", stemmed(Language::Spanish));
    tokenizers.register("en", stemmed(Language::English));
    tokenizers.register("exact", exact_analyzer());
}

/// The tokens `analyzer` makes of `text`.
pub fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut ts = analyzer.token_stream(text);
    while ts.advance() {
        out.push(ts.token().text.clone());
    }
    out
}

/// Lowercased, accent-folded, trimmed: how keyword values are indexed and
/// looked up.
pub fn norm(s: &str) -> String {
    tokens(&mut keyword_analyzer(), s.trim())
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// Punctuation around a token that is not part of it (`pedido #A-1042.`).
fn trim_token(t: &str) -> &str {
    t.trim_matches(|c: char| {
        matches!(
            c,
            '.' | ','
                | ';'
                | ':'
                | '!'
                | '?'
                | '¿'
                | '¡'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '"'
                | '\''
                | '«'
                | '»'
                | '“'
                | '”'
                | '‘'
                | '’'
                | '<'
                | '>'
                | '*'
        )
    })
}

/// The text for the `exact` field: whitespace tokens without the
/// punctuation around them.
pub fn exact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for t in text
        .split_whitespace()
        .map(trim_token)
        .filter(|t| !t.is_empty())
    {
        out.push_str(t);
        out.push(' ');
    }
    out
}

/// One query word as the `exact` field holds it (`None`: nothing left).
pub fn exact_token(word: &str) -> Option<String> {
    let t = trim_token(word);
    (!t.is_empty()).then(|| norm(t))
}

/// A cheap, deterministic language guess from common function words; the
/// contact's language breaks ties. Queries search both stemmed fields, so a
/// wrong guess costs recall only where the stems differ.
pub fn is_english(text: &str, contact_lang: Option<&str>) -> bool {
    const ES: &[&str] = &[
        "el", "la", "los", "las", "de", "del", "que", "y", "en", "un", "una", "por", "para", "con",
        "no", "me", "mi", "es", "se", "lo", "al", "su", "pero", "hola", "gracias", "ya", "muy",
        "está", "esta", "han", "he", "os", "nos",
    ];
    const EN: &[&str] = &[
        "the", "and", "to", "of", "a", "is", "in", "it", "my", "i", "you", "for", "was", "not",
        "with", "have", "this", "that", "on", "me", "your", "hi", "thanks", "please", "are", "be",
        "we", "our", "can", "been", "has",
    ];
    let (mut es, mut en) = (0u32, 0u32);
    for w in text.split(|c: char| !c.is_alphabetic()).take(400) {
        if w.is_empty() || w.len() > 8 {
            continue;
        }
        let w = w.to_lowercase();
        es += u32::from(ES.contains(&w.as_str()));
        en += u32::from(EN.contains(&w.as_str()));
    }
    match en.cmp(&es) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => contact_lang.is_some_and(|l| l.starts_with("en")),
    }
}

/// Everything about a conversation the document needs, read from redb.
pub struct ConvData {
    pub conv: Conversation,
    pub messages: Vec<Message>,
    pub identity: Option<Identity>,
    pub contact: Option<Contact>,
    pub team: Option<Team>,
}

/// `@ana_p` → `@ana_p`, `ana_p`; `ana@x.com` → `ana@x.com`, `ana`; plus the
/// words of a display name.
fn person_keys(handle: Option<&str>, name: Option<&str>, email: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    for h in handle.into_iter().chain(email) {
        let h = norm(h);
        if h.is_empty() {
            continue;
        }
        if let Some(rest) = h.strip_prefix('@') {
            out.push(rest.to_string());
        }
        if let Some((local, _)) = h.split_once('@')
            && !local.is_empty()
        {
            out.push(local.to_string());
        }
        out.push(h);
    }
    if let Some(n) = name {
        out.extend(n.split_whitespace().map(norm).filter(|w| !w.is_empty()));
        let whole = norm(n);
        if whole.contains(' ') {
            out.push(whole);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The document of one conversation; `staff` (every staff account, read
/// once per batch) names the authors of replies and the assignee.
pub fn document(f: &Fields, d: &ConvData, staff: &[User]) -> tantivy::TantivyDocument {
    let mut doc = tantivy::TantivyDocument::default();
    let c = &d.conv;
    doc.add_u64(f.conv_id, c.id.0);
    let lang = d.contact.as_ref().and_then(|c| c.language.as_deref());
    let customer = person_keys(
        d.identity.as_ref().map(|i| i.handle.as_str()),
        d.identity
            .as_ref()
            .and_then(|i| i.display_name.as_deref())
            .or(d.contact.as_ref().map(|c| c.name.as_str())),
        d.contact.as_ref().and_then(|c| c.email.as_deref()),
    );
    let staff = |id: UserId| staff.iter().find(|u| u.id == id);
    let mut from = Vec::new();
    let mut to = Vec::new();
    let mut attachment = false;
    if let Some(s) = &c.subject {
        let field = if is_english(s, lang) {
            f.body_en
        } else {
            f.body_es
        };
        doc.add_text(field, s);
        doc.add_text(f.exact, exact_text(s));
    }
    for m in &d.messages {
        let field = if is_english(&m.text, lang) {
            f.body_en
        } else {
            f.body_es
        };
        doc.add_text(field, &m.text);
        doc.add_text(f.exact, exact_text(&m.text));
        doc.add_i64(f.msg_at, m.sent_at.0);
        attachment |= !m.attachments.is_empty();
        match (&m.author, m.direction) {
            (_, Direction::In) => {
                from.extend(customer.iter().cloned());
                to.push(norm(&c.channel));
            }
            (Author::User(u), _) => {
                match staff(*u) {
                    Some(u) => from.extend(person_keys(Some(&u.email), Some(&u.name), None)),
                    None => from.extend(person_keys(None, Some(&m.author_name), None)),
                }
                if m.direction == Direction::Out {
                    to.extend(customer.iter().cloned());
                }
            }
            (_, _) => {
                from.push("system".into());
                to.extend(customer.iter().cloned());
            }
        }
    }
    from.sort();
    from.dedup();
    to.sort();
    to.dedup();
    for v in from {
        doc.add_text(f.from, v);
    }
    for v in to {
        doc.add_text(f.to, v);
    }
    doc.add_text(f.channel, norm(&c.channel));
    doc.add_text(f.status, c.status.as_str());
    for t in &c.tags {
        doc.add_text(f.tag, norm(t));
    }
    match &d.team {
        Some(t) => doc.add_text(f.team, norm(&t.name)),
        None => doc.add_text(f.team, "none"),
    }
    match c.assignee.and_then(staff) {
        Some(u) => {
            for k in person_keys(Some(&u.email), Some(&u.name), None) {
                doc.add_text(f.assignee, k);
            }
        }
        None => doc.add_text(f.assignee, "none"),
    }
    doc.add_text(f.priority, norm(c.priority.as_str()));
    if let Some(cat) = &c.category {
        doc.add_text(f.category, norm(cat));
    }
    if attachment {
        doc.add_text(f.has, "attachment");
    }
    doc.add_u64(f.assignee_id, c.assignee.map(|u| u.0).unwrap_or(0));
    doc.add_u64(f.team_id, c.team.map(|t| t.0).unwrap_or(0));
    doc.add_i64(f.last_at, c.last_message_at.0);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_folds_accents_and_stems_both_languages() {
        let mut es = stemmed(Language::Spanish);
        let mut en = stemmed(Language::English);
        assert_eq!(
            tokens(&mut es, "Facturación"),
            tokens(&mut es, "facturacion")
        );
        assert_eq!(tokens(&mut es, "llegó"), tokens(&mut es, "llego"));
        assert_eq!(tokens(&mut en, "Refunds"), tokens(&mut en, "refund"));
        assert_eq!(
            exact_text("Mi pedido #A-1042, de @ana_p."),
            "Mi pedido #A-1042 de @ana_p "
        );
        assert_eq!(exact_token("¿@Ana_P?").as_deref(), Some("@ana_p"));
        assert_eq!(norm(" Envío "), "envio");
    }

    #[test]
    fn language_guess() {
        assert!(is_english("I was charged twice for my order", None));
        assert!(!is_english("Me cobraron dos veces el pedido", None));
        assert!(is_english("ok", Some("en")));
        assert!(!is_english("ok", None));
    }

    #[test]
    fn people_are_found_by_handle_local_part_and_name() {
        let k = person_keys(Some("@Ana_P"), Some("Ana Pérez"), Some("ana@x.com"));
        for want in ["@ana_p", "ana_p", "ana@x.com", "ana", "perez", "ana perez"] {
            assert!(k.contains(&want.to_string()), "{want} in {k:?}");
        }
    }
}
