//! The rule language: compile a [`RuleDoc`] once, then decide many inputs.
//!
//! # How a decision is made
//!
//! Admins rely on this order; keep it exact.
//!
//! 1. The score starts at `base_score` (20 when not given).
//! 2. Rules are evaluated in document order; disabled rules are skipped. A
//!    rule matches when every condition it gives holds (see below).
//! 3. For each matching rule, in order:
//!    * `score` is added to the running score (negative subtracts); the
//!      running score is not clamped until the end;
//!    * `category`: a category set by hand (`input.category`) always wins;
//!      otherwise the first matching rule that sets one wins;
//!    * `team` and `prefer`: the first matching rule that sets one wins;
//!    * `tags`: added in order, without duplicates;
//!    * `approval` and `troll`: true when any matching rule says so;
//!    * `stop = true` ends the evaluation: later rules are not looked at.
//! 4. The tier is the highest of 1, the tier of every matching rule and the
//!    tier of the final category (`[[category]] tier`).
//! 5. The score is clamped to 0..=100 and the priority is its band
//!    ([`Priority::from_score`]: 75+ P1, 50+ P2, 25+ P3, else P4).
//! 6. `matched` lists the matching rules' ids in order and `reasons` has one
//!    line per matching rule: its points, and its name with the evidence
//!    (`+35 Double charge: 'cobraron dos veces'`).
//!
//! # Conditions
//!
//! * `phrases`: the text is cut into words (letters and digits; apostrophes
//!   are dropped, so "don't" is `dont`), lowercased and without accents. A
//!   phrase matches whole words only ("cargo" is not found in "encargo"),
//!   inside one clause (`, . ; : ! ? ¡ ¿` and new lines end a clause), and a
//!   trailing `*` makes its last word a prefix (`reembols*`). An occurrence
//!   does not count when a negation (`no`, `nunca`, `sin`, `not`, `never`,
//!   `don't`…) is among the three words before it in the same clause: "no me
//!   cobraron dos veces" matches neither "cobraron dos veces" nor "me
//!   cobraron dos veces". A phrase's own first word is not looked at, so "no
//!   funciona" matches "la app no funciona".
//! * `without`: none of these phrases occurs, negated or not.
//! * `regex`: case-insensitive, on the original text.
//! * `channels`: the channel kind or the configured channel name.
//! * `sentiment_below` / `sentiment_above`: the sentiment compound is at
//!   most / at least the value.
//! * `min_lifetime_value`: whole currency units.
//! * `purchases`: at least `count` purchases in the `days` days before now.
//! * `min_followers` fails and `max_followers` holds when followers are
//!   unknown; `account_younger_than_days` fails when the account's age is
//!   unknown; an unknown avatar counts as no avatar.
//! * `repeat_within_hours`: the contact's previous message is at most that
//!   many hours old; `min_waiting_minutes`: the customer has waited at least
//!   that long (not waiting: 0 minutes).
//! * `languages`: the given language (`input.language`), else the one
//!   detected in the text, Spanish or English: a vote of common words
//!   settles clear cases, whatlang the rest. `Decision::language` is the
//!   language used.
//! * `categories`: the category so far (by hand, or set by an earlier rule)
//!   is one of these or a subcategory of one of them.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexBuilder};
use whatlang::{Detector, Lang};

use super::model::*;
use super::{sentiment, sla};
use crate::domain::{Priority, Ts};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RuleError {
    /// TOML that does not parse or has unknown keys; names the line.
    #[error("{0}")]
    Syntax(String),
    /// A rule or category that parses but makes no sense; `rule` is the
    /// rule's or category's id (or `base_score`).
    #[error("{rule}: {message}")]
    Invalid { rule: String, message: String },
}

fn invalid(id: &str, message: impl Into<String>) -> RuleError {
    RuleError::Invalid {
        rule: id.to_string(),
        message: message.into(),
    }
}

/// Score a conversation starts from when the document gives none.
pub const DEFAULT_BASE_SCORE: i32 = 20;

/// Words that negate a phrase right after them: the sentiment scorer's list.
use super::sentiment::NEGATORS;

/// How many words before a phrase are searched for a negation.
const NEGATION_WINDOW: usize = 3;

/// Common words only one of the two languages uses (folded).
const SPANISH_WORDS: &[&str] = &[
    "el", "la", "los", "las", "del", "de", "que", "y", "en", "un", "una", "es", "por", "para",
    "con", "mi", "se", "lo", "al", "pero", "muy", "esta", "este", "como", "cuando", "hola",
    "gracias", "porque", "usted", "ustedes", "tengo", "hay", "su", "sus", "ya", "todo", "nada",
    "nunca", "sin", "donde", "quiero",
];
const ENGLISH_WORDS: &[&str] = &[
    "the", "and", "to", "is", "of", "my", "i", "you", "it", "for", "was", "are", "this", "that",
    "with", "have", "not", "your", "can", "do", "does", "how", "what", "thanks", "hi", "hello",
    "please", "why", "where", "when", "im", "dont", "again", "never", "nothing", "from", "be",
    "been", "we", "they",
];

/// Characters of the message whatlang looks at when the vote is unclear.
const DETECT_CHARS: usize = 200;

const REGEX_SIZE_LIMIT: usize = 1 << 20;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// A compiled rule set.
#[derive(Clone, Debug)]
pub struct RuleSet {
    doc: RuleDoc,
    base: i32,
    /// Parallel to `doc.rules`.
    rules: Vec<CompiledRule>,
    /// Every phrase of every rule, deduplicated; `None` without phrases.
    matcher: Option<AhoCorasick>,
    /// For each automaton pattern: its exact and its prefix phrase entry.
    pattern_entries: Vec<[Option<u32>; 2]>,
    /// For each phrase entry: the rules (by index) that list it in
    /// `phrases`, and those that list it in `without`.
    phrase_users: Vec<Vec<u32>>,
    without_users: Vec<Vec<u32>>,
    category_index: HashMap<String, usize>,
    /// For each category (by index): its ancestors' ids, nearest first.
    ancestors: Vec<Vec<String>>,
    detector: Detector,
}

/// What compile precomputes for one rule.
#[derive(Clone, Debug, Default)]
struct CompiledRule {
    phrases: Vec<u32>,
    without: Vec<u32>,
    regex: Option<Regex>,
    uses_account: bool,
}

impl RuleSet {
    /// Validate a document and precompute its matchers.
    pub fn compile(doc: RuleDoc) -> Result<RuleSet, RuleError> {
        let base = doc.base_score.unwrap_or(DEFAULT_BASE_SCORE);
        if !(0..=100).contains(&base) {
            return Err(invalid(
                "base_score",
                format!("base_score {base} must be between 0 and 100"),
            ));
        }
        let (category_index, ancestors) = check_categories(&doc.categories)?;
        let known_category = |rule: &str, id: &str, field: &str| -> Result<(), RuleError> {
            if doc.categories.is_empty() {
                if !is_slug(id) {
                    return Err(invalid(
                        rule,
                        format!("{field} `{id}` is not a valid category id ({SLUG_HELP})"),
                    ));
                }
            } else if !category_index.contains_key(id) {
                return Err(invalid(
                    rule,
                    format!("{field} `{id}` is not a defined category"),
                ));
            }
            Ok(())
        };

        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_ids: HashMap<String, usize> = HashMap::new();
        let mut pattern_entries: Vec<[Option<u32>; 2]> = Vec::new();
        let mut entries = 0u32;
        let mut entry_for = |phrase: &str| -> Result<u32, String> {
            let (pattern, prefix) = compile_phrase(phrase)?;
            let p = *pattern_ids.entry(pattern.clone()).or_insert_with(|| {
                patterns.push(pattern);
                pattern_entries.push([None, None]);
                patterns.len() - 1
            });
            let slot = &mut pattern_entries[p][usize::from(prefix)];
            Ok(*slot.get_or_insert_with(|| {
                entries += 1;
                entries - 1
            }))
        };

        let mut seen_ids: HashSet<&str> = HashSet::new();
        let mut rules = Vec::with_capacity(doc.rules.len());
        let mut phrase_users: Vec<Vec<u32>> = Vec::new();
        let mut without_users: Vec<Vec<u32>> = Vec::new();
        for (index, rule) in doc.rules.iter().enumerate() {
            let id = rule.id.as_str();
            if !is_slug(id) {
                return Err(invalid(
                    id,
                    format!("rule id `{id}` is not valid ({SLUG_HELP})"),
                ));
            }
            if !seen_ids.insert(id) {
                return Err(invalid(id, format!("duplicate rule id `{id}`")));
            }
            if rule.name.trim().is_empty() {
                return Err(invalid(id, "the rule has no name"));
            }
            let w = &rule.when;
            let mut compiled = CompiledRule::default();
            for phrase in &w.phrases {
                compiled
                    .phrases
                    .push(entry_for(phrase).map_err(|m| invalid(id, m))?);
            }
            for phrase in &w.without {
                compiled
                    .without
                    .push(entry_for(phrase).map_err(|m| invalid(id, m))?);
            }
            if let Some(re) = &w.regex {
                let built = RegexBuilder::new(re)
                    .case_insensitive(true)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .dfa_size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| invalid(id, format!("regex `{re}` does not compile: {e}")))?;
                compiled.regex = Some(built);
            }
            for (name, value) in [
                ("sentiment_below", w.sentiment_below),
                ("sentiment_above", w.sentiment_above),
            ] {
                if let Some(v) = value
                    && !(-1.0..=1.0).contains(&v)
                {
                    return Err(invalid(id, format!("{name} {v} must be between -1 and 1")));
                }
            }
            if let (Some(min), Some(max)) = (w.min_followers, w.max_followers)
                && min > max
            {
                return Err(invalid(
                    id,
                    format!("min_followers {min} is greater than max_followers {max}"),
                ));
            }
            if let Some(p) = &w.purchases
                && p.days == 0
            {
                return Err(invalid(id, "purchases.days must be at least 1"));
            }
            if let Some(empty) = w
                .channels
                .iter()
                .chain(&w.languages)
                .find(|s| s.trim().is_empty())
            {
                return Err(invalid(id, format!("empty channel or language {empty:?}")));
            }
            for c in &w.categories {
                known_category(id, c, "when.categories")?;
            }
            let t = &rule.then;
            if let Some(c) = &t.category {
                known_category(id, c, "then.category")?;
            }
            if let Some(tier) = t.tier
                && !(1..=3).contains(&tier)
            {
                return Err(invalid(id, format!("tier {tier} must be 1, 2 or 3")));
            }
            if t.tags.iter().any(|tag| tag.trim().is_empty()) {
                return Err(invalid(id, "empty tag"));
            }
            for (list, users) in [
                (&compiled.phrases, &mut phrase_users),
                (&compiled.without, &mut without_users),
            ] {
                for &e in list {
                    if users.len() <= e as usize {
                        users.resize(e as usize + 1, Vec::new());
                    }
                    let users = &mut users[e as usize];
                    if users.last() != Some(&(index as u32)) {
                        users.push(index as u32);
                    }
                }
            }
            compiled.uses_account = w.verified.is_some()
                || w.min_followers.is_some()
                || w.max_followers.is_some()
                || w.account_younger_than_days.is_some()
                || w.avatar.is_some();
            rules.push(compiled);
        }

        let matcher = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)
                    .map_err(|e| invalid("phrases", format!("too many phrases: {e}")))?,
            )
        };
        Ok(RuleSet {
            doc,
            base,
            rules,
            matcher,
            pattern_entries,
            phrase_users: sized(phrase_users, entries as usize),
            without_users: sized(without_users, entries as usize),
            category_index,
            ancestors,
            detector: Detector::with_allowlist(vec![Lang::Spa, Lang::Eng]),
        })
    }

    /// Parse TOML text and compile it.
    pub fn from_toml(text: &str) -> Result<RuleSet, RuleError> {
        let doc: RuleDoc = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
        RuleSet::compile(doc)
    }

    pub fn doc(&self) -> &RuleDoc {
        &self.doc
    }

    pub fn category(&self, id: &str) -> Option<&Category> {
        self.category_index
            .get(id)
            .map(|&i| &self.doc.categories[i])
    }

    /// Score, classify and explain one input. Pure: the time is `input.now`.
    pub fn decide(&self, input: &TriageInput) -> Decision {
        let compound = sentiment::score(&input.text).compound;
        let text = Normalized::new(&input.text);
        let language = match &input.language {
            Some(l) => Some(l.clone()),
            None => self.detect_language(&text, &input.text).map(str::to_string),
        };
        let scan = self.scan(&text);
        let ctx = Ctx {
            input,
            text: &text,
            scan: &scan,
            sentiment: compound,
            language: language.as_deref(),
        };

        let mut score = self.base;
        let mut category = input.category.clone();
        let mut tier = 1u8;
        let mut d = Decision {
            sentiment: compound,
            ..Decision::default()
        };
        for (k, (rule, compiled)) in self.doc.rules.iter().zip(&self.rules).enumerate() {
            if !rule.enabled || !self.holds(&ctx, k, &rule.when, compiled, category.as_deref()) {
                continue;
            }
            let t = &rule.then;
            score = score.saturating_add(t.score);
            if category.is_none() {
                category.clone_from(&t.category);
            }
            if d.team.is_none() {
                d.team.clone_from(&t.team);
            }
            if d.prefer.is_none() {
                d.prefer = t.prefer;
            }
            tier = tier.max(t.tier.unwrap_or(1));
            for tag in &t.tags {
                if !d.tags.contains(tag) {
                    d.tags.push(tag.clone());
                }
            }
            d.approval |= t.approval;
            d.troll |= t.troll;
            d.matched.push(rule.id.clone());
            let mut text = String::with_capacity(rule.name.len() + 48);
            text.push_str(&rule.name);
            text.push_str(": ");
            self.evidence(&ctx, &rule.when, compiled, category.as_deref(), &mut text);
            let evidence = &text[rule.name.len() + 2..];
            if evidence.is_empty() || evidence.eq_ignore_ascii_case(&rule.name) {
                text.truncate(rule.name.len());
            }
            d.reasons.push(Reason {
                points: t.score,
                rule: rule.id.clone(),
                text,
            });
            if rule.stop {
                break;
            }
        }
        if let Some(c) = category.as_deref().and_then(|c| self.category(c)) {
            tier = tier.max(c.tier);
        }
        let score = score.clamp(0, 100) as u8;
        d.score = score;
        d.priority = Some(Priority::from_score(score));
        d.category = category;
        d.tier = tier.clamp(1, 3);
        d.language = language;
        d
    }

    /// One pass of the automaton over the normalized text.
    fn scan(&self, text: &Normalized) -> Scan {
        let mut scan = Scan {
            hits: Vec::new(),
            phrases_found: vec![false; self.rules.len()],
            excluded: vec![false; self.rules.len()],
        };
        let Some(matcher) = &self.matcher else {
            return scan;
        };
        let mut hits = vec![Hit::default(); self.phrase_users.len()];
        let mut touched: Vec<u32> = Vec::new();
        let bytes = text.text.as_bytes();
        for m in matcher.find_overlapping_iter(&text.text) {
            let (s, e) = (m.start(), m.end());
            if s > 0 && bytes[s - 1] != b' ' {
                continue;
            }
            let whole = e == bytes.len() || bytes[e] == b' ';
            let [exact, prefix] = self.pattern_entries[m.pattern().as_usize()];
            let (first, last) = (text.token_containing(s), text.token_containing(e - 1));
            let toks = &text.tokens;
            if toks[first].clause != toks[last].clause {
                continue;
            }
            let negated = text.negated_before(first);
            for entry in [exact.filter(|_| whole), prefix].into_iter().flatten() {
                let hit = &mut hits[entry as usize];
                if !hit.any {
                    hit.any = true;
                    touched.push(entry);
                }
                if !negated && hit.plain.is_none_or(|(f, _)| first < f) {
                    hit.plain = Some((first, last));
                }
            }
        }
        for e in touched {
            let e = e as usize;
            for &r in &self.without_users[e] {
                scan.excluded[r as usize] = true;
            }
            if hits[e].plain.is_some() {
                for &r in &self.phrase_users[e] {
                    scan.phrases_found[r as usize] = true;
                }
            }
        }
        scan.hits = hits;
        scan
    }

    /// Spanish or English: a vote of common words settles clear cases;
    /// whatlang (restricted to the two) the rest, on the text's start.
    fn detect_language(&self, text: &Normalized, raw: &str) -> Option<&'static str> {
        let (mut es, mut en) = (0u32, 0u32);
        for t in &text.tokens {
            match t.stopword {
                Some(Lang::Spa) => es += 1,
                Some(_) => en += 1,
                None => {}
            }
        }
        if es >= 2 && es > 2 * en {
            return Some("es");
        }
        if en >= 2 && en > 2 * es {
            return Some("en");
        }
        let head = match raw.char_indices().nth(DETECT_CHARS) {
            Some((at, _)) => &raw[..at],
            None => raw,
        };
        self.detector.detect_lang(head).map(|l| match l {
            Lang::Spa => "es",
            _ => "en",
        })
    }

    fn holds(
        &self,
        ctx: &Ctx,
        k: usize,
        w: &Conditions,
        c: &CompiledRule,
        category: Option<&str>,
    ) -> bool {
        if (!c.phrases.is_empty() && !ctx.scan.phrases_found[k]) || ctx.scan.excluded[k] {
            return false;
        }
        let i = ctx.input;
        let now = i.now.0;
        if !w.channels.is_empty()
            && !w.channels.iter().any(|ch| {
                ch.eq_ignore_ascii_case(&i.channel_kind) || ch.eq_ignore_ascii_case(&i.channel)
            })
        {
            return false;
        }
        if w.public.is_some_and(|p| p != i.public)
            || w.vip.is_some_and(|v| v != i.vip)
            || w.verified.is_some_and(|v| v != i.verified)
            || w.avatar.is_some_and(|a| a != i.avatar.unwrap_or(false))
            || w.business_hours.is_some_and(|b| b != i.open_now)
            || w.sentiment_below.is_some_and(|s| ctx.sentiment > s)
            || w.sentiment_above.is_some_and(|s| ctx.sentiment < s)
            || w.min_lifetime_value
                .is_some_and(|v| i.lifetime_value_cents / 100 < v)
            || w.min_followers
                .is_some_and(|m| i.followers.is_none_or(|f| f < m))
            || w.max_followers
                .is_some_and(|m| i.followers.is_some_and(|f| f > m))
        {
            return false;
        }
        if let Some(p) = &w.purchases
            && purchases_within(i, p.days) < p.count as usize
        {
            return false;
        }
        if let Some(days) = w.account_younger_than_days
            && i.account_created_at
                .is_none_or(|t| now - t.0 >= i64::from(days) * DAY)
        {
            return false;
        }
        if let Some(hours) = w.repeat_within_hours
            && i.previous_contact
                .as_ref()
                .is_none_or(|(t, _)| now - t.0 > i64::from(hours) * HOUR)
        {
            return false;
        }
        if let Some(min) = w.min_waiting_minutes
            && waiting_ms(i) < i64::from(min) * MINUTE
        {
            return false;
        }
        if !w.languages.is_empty()
            && !ctx
                .language
                .is_some_and(|l| w.languages.iter().any(|want| same_language(want, l)))
        {
            return false;
        }
        if !w.categories.is_empty()
            && !category.is_some_and(|cat| w.categories.iter().any(|want| self.within(cat, want)))
        {
            return false;
        }
        if let Some(re) = &c.regex
            && !re.is_match(&i.text)
        {
            return false;
        }
        true
    }

    /// Whether category `cat` is `want` or one of its subcategories.
    fn within(&self, cat: &str, want: &str) -> bool {
        cat == want
            || self
                .category_index
                .get(cat)
                .is_some_and(|&k| self.ancestors[k].iter().any(|a| a == want))
    }

    /// Append what made a matching rule match, e.g. `'cobro doble',
    /// sentiment -0.72`, to `out`.
    fn evidence(
        &self,
        ctx: &Ctx,
        w: &Conditions,
        c: &CompiledRule,
        category: Option<&str>,
        out: &mut String,
    ) {
        let i = ctx.input;
        let now = i.now.0;
        let mut p = Parts::new(out);
        if let Some((first, last)) = c
            .phrases
            .iter()
            .filter_map(|&e| ctx.scan.hits[e as usize].plain)
            .min_by_key(|&(first, _)| first)
        {
            p.put(format_args!(
                "'{}'",
                ctx.text.original(&i.text, first, last)
            ));
        }
        if let Some(m) = c.regex.as_ref().and_then(|re| re.find(&i.text)) {
            p.put(format_args!("'{}'", Clip(m.as_str(), 40)));
        }
        if !w.channels.is_empty() {
            let via = if w
                .channels
                .iter()
                .any(|ch| ch.eq_ignore_ascii_case(&i.channel_kind))
            {
                &i.channel_kind
            } else {
                &i.channel
            };
            p.put(format_args!("via {via}"));
        }
        if let Some(public) = w.public {
            p.word(if public {
                "public post"
            } else {
                "private message"
            });
        }
        if w.sentiment_below.is_some() || w.sentiment_above.is_some() {
            p.put(format_args!("sentiment {:.2}", ctx.sentiment));
        }
        if w.min_lifetime_value.is_some() {
            p.put(format_args!(
                "lifetime value {}",
                Thousands(i.lifetime_value_cents / 100)
            ));
        }
        if let Some(pc) = &w.purchases {
            let n = purchases_within(i, pc.days);
            let s = if n == 1 { "" } else { "s" };
            let d = if pc.days == 1 { "" } else { "s" };
            p.put(format_args!("{n} purchase{s} in {} day{d}", pc.days));
        }
        if let Some(v) = w.vip {
            p.word(if v { "VIP" } else { "not VIP" });
        }
        if c.uses_account {
            account_evidence(i, w, &mut p);
        }
        if w.repeat_within_hours.is_some()
            && let Some((t, kind)) = &i.previous_contact
        {
            let ago = Age(now - t.0);
            if kind.is_empty() {
                p.put(format_args!("wrote {ago} ago"));
            } else {
                p.put(format_args!("wrote by {kind} {ago} ago"));
            }
        }
        if w.min_waiting_minutes.is_some() {
            p.put(format_args!("waiting {}", Age(waiting_ms(i))));
        }
        if let Some(b) = w.business_hours {
            p.word(if b {
                "in business hours"
            } else {
                "outside business hours"
            });
        }
        if !w.languages.is_empty()
            && let Some(l) = ctx.language
        {
            p.put(format_args!("language {l}"));
        }
        if !w.categories.is_empty()
            && let Some(cat) = category
        {
            p.put(format_args!("category {cat}"));
        }
    }
}

/// Evidence items written into one string, separated by ", ".
struct Parts<'s> {
    out: &'s mut String,
    start: usize,
}

impl<'s> Parts<'s> {
    fn new(out: &'s mut String) -> Parts<'s> {
        let start = out.len();
        Parts { out, start }
    }

    fn put(&mut self, item: std::fmt::Arguments) {
        if self.out.len() > self.start {
            self.out.push_str(", ");
        }
        let _ = self.out.write_fmt(item);
    }

    fn word(&mut self, item: &str) {
        self.put(format_args!("{item}"));
    }
}

/// `line 12, column 3: unknown field ...` from a TOML error.
fn syntax_error(text: &str, e: &toml::de::Error) -> RuleError {
    let message = e.message().trim();
    match e.span() {
        Some(span) => {
            let at = span.start.min(text.len());
            let before = &text[..at];
            let line = before.matches('\n').count() + 1;
            let column = before
                .rfind('\n')
                .map_or(before, |n| &before[n + 1..])
                .chars()
                .count()
                + 1;
            RuleError::Syntax(format!("line {line}, column {column}: {message}"))
        }
        None => RuleError::Syntax(message.to_string()),
    }
}

const SLUG_HELP: &str = "use lowercase a-z, 0-9, `-`, `_` and `/`";

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'/'))
}

type CategoryIndex = (HashMap<String, usize>, Vec<Vec<String>>);

fn check_categories(categories: &[Category]) -> Result<CategoryIndex, RuleError> {
    let mut index = HashMap::new();
    for (k, c) in categories.iter().enumerate() {
        if !is_slug(&c.id) {
            return Err(invalid(
                &c.id,
                format!("category id `{}` is not valid ({SLUG_HELP})", c.id),
            ));
        }
        if index.insert(c.id.clone(), k).is_some() {
            return Err(invalid(&c.id, format!("duplicate category id `{}`", c.id)));
        }
    }
    let mut ancestors = Vec::with_capacity(categories.len());
    for c in categories {
        if c.name_es.trim().is_empty() || c.name_en.trim().is_empty() {
            return Err(invalid(&c.id, "the category needs name_es and name_en"));
        }
        if !(1..=3).contains(&c.tier) {
            return Err(invalid(
                &c.id,
                format!("category tier {} must be 1, 2 or 3", c.tier),
            ));
        }
        for (field, value) in [
            ("first_response", &c.first_response),
            ("resolution", &c.resolution),
        ] {
            sla::parse_duration(value).map_err(|e| invalid(&c.id, format!("{field}: {e}")))?;
        }
        let mut chain = Vec::new();
        let mut parent = c.parent.as_deref();
        while let Some(p) = parent {
            let Some(&k) = index.get(p) else {
                return Err(invalid(
                    &c.id,
                    format!("parent category `{p}` is not defined"),
                ));
            };
            if p == c.id || chain.iter().any(|a: &String| a == p) {
                return Err(invalid(
                    &c.id,
                    format!("category parents form a loop through `{p}`"),
                ));
            }
            chain.push(p.to_string());
            parent = categories[k].parent.as_deref();
        }
        ancestors.push(chain);
    }
    Ok((index, ancestors))
}

/// A phrase as an automaton pattern (folded words joined by one space) and
/// whether its last word is a prefix.
fn compile_phrase(phrase: &str) -> Result<(String, bool), String> {
    let trimmed = phrase.trim();
    let (body, prefix) = match trimmed.strip_suffix('*') {
        Some(body) => (body, true),
        None => (trimmed, false),
    };
    if trimmed.is_empty() {
        return Err("empty phrase".into());
    }
    if body.contains('*') {
        return Err(format!(
            "phrase '{phrase}': `*` is only allowed at the end of a phrase"
        ));
    }
    let norm = Normalized::new(body);
    if norm.text.is_empty() {
        return Err(format!("phrase '{phrase}' has no letters or digits"));
    }
    Ok((norm.text, prefix))
}

/// The message as folded words joined by single spaces, with where each
/// word came from.
#[derive(Debug)]
struct Normalized {
    text: String,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    /// Byte offset in the normalized text.
    start: u32,
    /// Byte range in the original text.
    orig: (u32, u32),
    clause: u32,
    negator: bool,
    /// A common Spanish (`Spa`) or English (`Eng`) word, for the language vote.
    stopword: Option<Lang>,
}

impl Normalized {
    fn new(text: &str) -> Normalized {
        let mut out = Normalized {
            text: String::with_capacity(text.len() + 8),
            tokens: Vec::new(),
        };
        let mut clause = 0u32;
        // (normalized start, original start, original end of the last
        // letter or digit) of the word being read.
        let mut word: Option<(usize, usize, usize)> = None;
        for (at, c) in text.char_indices() {
            let letter = c.is_alphanumeric();
            let inner = matches!(c, '\'' | '’' | '\u{300}'..='\u{36f}');
            if letter || (inner && word.is_some()) {
                let w = word.get_or_insert_with(|| {
                    if !out.text.is_empty() {
                        out.text.push(' ');
                    }
                    (out.text.len(), at, at)
                });
                if letter {
                    w.2 = at + c.len_utf8();
                    push_folded(&mut out.text, c);
                }
                continue;
            }
            out.end_word(word.take(), clause);
            if matches!(c, ',' | '.' | ';' | ':' | '!' | '?' | '¡' | '¿' | '\n') {
                clause += 1;
            }
        }
        out.end_word(word, clause);
        out
    }

    fn end_word(&mut self, word: Option<(usize, usize, usize)>, clause: u32) {
        let Some((start, orig_start, orig_end)) = word else {
            return;
        };
        if self.text.len() == start {
            // Folded to nothing: drop the separating space too.
            self.text.truncate(start.saturating_sub(1));
            return;
        }
        let (negator, stopword) = word_kind(&self.text[start..]);
        self.tokens.push(Token {
            start: start as u32,
            orig: (orig_start as u32, orig_end as u32),
            clause,
            negator,
            stopword,
        });
    }

    /// The token whose span holds byte `at` of the normalized text.
    fn token_containing(&self, at: usize) -> usize {
        self.tokens
            .partition_point(|t| t.start as usize <= at)
            .saturating_sub(1)
    }

    /// Whether a negation is among the words just before token `first`, in
    /// its clause.
    fn negated_before(&self, first: usize) -> bool {
        let clause = self.tokens[first].clause;
        self.tokens[first.saturating_sub(NEGATION_WINDOW)..first]
            .iter()
            .rev()
            .take_while(|t| t.clause == clause)
            .any(|t| t.negator)
    }

    /// The original text of tokens `first..=last`.
    fn original<'t>(&self, text: &'t str, first: usize, last: usize) -> &'t str {
        &text[self.tokens[first].orig.0 as usize..self.tokens[last].orig.1 as usize]
    }
}

/// Whether a folded word is a negation, and which language's common word
/// it is.
fn word_kind(word: &str) -> (bool, Option<Lang>) {
    static KINDS: OnceLock<HashMap<&'static str, (bool, Option<Lang>)>> = OnceLock::new();
    let kinds = KINDS.get_or_init(|| {
        let mut kinds = HashMap::new();
        for (list, lang) in [(SPANISH_WORDS, Lang::Spa), (ENGLISH_WORDS, Lang::Eng)] {
            for w in list {
                kinds.insert(*w, (false, Some(lang)));
            }
        }
        for w in NEGATORS {
            kinds.entry(*w).or_insert((false, None)).0 = true;
        }
        kinds
    });
    if word.len() > 8 {
        return (false, None);
    }
    kinds.get(word).copied().unwrap_or((false, None))
}

/// Lowercase without accents, like [`sentiment::fold`].
fn push_folded(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    for c in c.to_lowercase() {
        out.push(match c {
            'á' | 'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            c => c,
        });
    }
}

fn sized(mut users: Vec<Vec<u32>>, len: usize) -> Vec<Vec<u32>> {
    users.resize(len, Vec::new());
    users
}

/// Per phrase entry: the earliest occurrence that is not negated (token
/// range) and whether it occurs at all.
#[derive(Clone, Copy, Debug, Default)]
struct Hit {
    plain: Option<(usize, usize)>,
    any: bool,
}

/// What one pass over the text found: per phrase entry, and per rule
/// whether one of its `phrases` occurs (not negated) and whether one of its
/// `without` phrases occurs.
struct Scan {
    hits: Vec<Hit>,
    phrases_found: Vec<bool>,
    excluded: Vec<bool>,
}

struct Ctx<'a> {
    input: &'a TriageInput,
    text: &'a Normalized,
    scan: &'a Scan,
    sentiment: f32,
    language: Option<&'a str>,
}

fn purchases_within(i: &TriageInput, days: u32) -> usize {
    let from = i.now.0 - i64::from(days) * DAY;
    i.purchases
        .iter()
        .filter(|t| (from..=i.now.0).contains(&t.0))
        .count()
}

fn waiting_ms(i: &TriageInput) -> i64 {
    i.waiting_since.map_or(0, |Ts(t)| (i.now.0 - t).max(0))
}

/// `es` matches `es`, `ES` and `es-MX`.
fn same_language(want: &str, have: &str) -> bool {
    let primary = |s: &str| {
        s.split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    primary(want) == primary(have)
}

fn account_evidence(i: &TriageInput, w: &Conditions, p: &mut Parts) {
    match w.verified {
        Some(true) => p.word("verified"),
        Some(false) => p.word("not verified"),
        None => {}
    }
    if w.verified == Some(true) || w.min_followers.is_some() || w.max_followers.is_some() {
        match i.followers {
            Some(0) => p.word("no followers"),
            Some(n) => p.put(format_args!("{} followers", Followers(n))),
            None if w.max_followers.is_some() => p.word("followers unknown"),
            None => {}
        }
    }
    if let Some(a) = w.avatar {
        p.word(if a { "avatar" } else { "no avatar" });
    }
    if w.account_younger_than_days.is_some()
        && let Some(t) = i.account_created_at
    {
        let days = (i.now.0 - t.0).max(0) / DAY;
        let s = if days == 1 { "" } else { "s" };
        p.put(format_args!("account {days} day{s} old"));
    }
}

/// Follower counts the way social networks show them: 950, 1.2k, 150k,
/// 1.3M (truncated, never rounded up).
struct Followers(u64);

impl fmt::Display for Followers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        let (unit, suffix) = match n {
            0..1_000 => return write!(f, "{n}"),
            1_000..1_000_000 => (1_000, "k"),
            _ => (1_000_000, "M"),
        };
        let tenths = n / (unit / 10);
        if tenths < 100 && !tenths.is_multiple_of(10) {
            write!(f, "{}.{}{suffix}", tenths / 10, tenths % 10)
        } else {
            write!(f, "{}{suffix}", tenths / 10)
        }
    }
}

/// `12,000`.
struct Thousands(i64);

impl fmt::Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            f.write_char('-')?;
        }
        let n = self.0.unsigned_abs();
        let mut unit = 1u64;
        while unit <= n / 1000 {
            unit *= 1000;
        }
        write!(f, "{}", n / unit)?;
        while unit > 1 {
            unit /= 1000;
            write!(f, ",{:03}", n / unit % 1000)?;
        }
        Ok(())
    }
}

/// A rounded age: `45 min`, `2 h`, `3 d`.
struct Age(i64);

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.max(0);
        let minutes = (ms + MINUTE / 2) / MINUTE;
        if minutes < 60 {
            write!(f, "{minutes} min")
        } else if ms < 2 * DAY {
            write!(f, "{} h", (ms + HOUR / 2) / HOUR)
        } else {
            write!(f, "{} d", (ms + DAY / 2) / DAY)
        }
    }
}

/// At most `.1` characters of `.0`, with `…` when cut.
struct Clip<'a>(&'a str, usize);

impl fmt::Display for Clip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(self.1) {
            Some((at, _)) => write!(f, "{}…", &self.0[..at]),
            None => f.write_str(self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triage::presets::presets;

    const NOW: Ts = Ts(1_764_000_000_000);

    fn input(text: &str) -> TriageInput {
        TriageInput {
            text: text.into(),
            channel_kind: "webchat".into(),
            channel: "web".into(),
            open_now: true,
            now: NOW,
            ..TriageInput::default()
        }
    }

    fn rules(toml: &str) -> RuleSet {
        RuleSet::from_toml(toml).unwrap_or_else(|e| panic!("{e}"))
    }

    fn phrase_rule(phrases: &str) -> RuleSet {
        rules(&format!(
            "[[rule]]\nid = \"r\"\nname = \"R\"\n[rule.when]\nphrases = {phrases}\n[rule.then]\nscore = 10\n"
        ))
    }

    fn matches(set: &RuleSet, text: &str) -> bool {
        set.decide(&input(text)).matched == ["r"]
    }

    fn error(toml: &str) -> String {
        RuleSet::from_toml(toml).unwrap_err().to_string()
    }

    // ------------------------------------------------------------ engine

    #[test]
    fn phrases_match_whole_words_without_case_or_accents() {
        let set = phrase_rule(r#"["cobro doble", "cargo"]"#);
        for text in [
            "COBRO DOBLE",
            "cobro doble",
            "cóbro dóble",
            "un Cobro  Doble!",
            "el cargo",
        ] {
            assert!(matches(&set, text), "{text}");
        }
        for text in ["un encargo", "cargos", "cobro, doble", "cobrodoble"] {
            assert!(!matches(&set, text), "{text}");
        }
    }

    #[test]
    fn trailing_star_is_a_word_prefix() {
        let set = phrase_rule(r#"["reembols*", "quiero un reembols*"]"#);
        assert!(matches(&set, "Necesito REEMBOLSOS ya"));
        assert!(matches(&set, "reembolso"));
        assert!(!matches(&set, "sinreembolso"));
        let d = set.decide(&input("¿Me hacen el reembolso?"));
        assert_eq!(d.reasons[0].text, "R: 'reembolso'");
    }

    #[test]
    fn negation_within_three_words_and_the_clause() {
        let set = phrase_rule(r#"["cobraron dos veces", "me cobraron dos veces"]"#);
        assert!(matches(&set, "me cobraron dos veces"));
        assert!(!matches(&set, "no me cobraron dos veces"));
        assert!(!matches(&set, "nunca me cobraron dos veces"));
        // A comma ends the negation; four words away is too far.
        assert!(matches(&set, "no, me cobraron dos veces"));
        assert!(matches(
            &set,
            "no lo sé pero creo que me cobraron dos veces"
        ));
        // A later, plain occurrence still counts.
        assert!(matches(
            &set,
            "no me cobraron dos veces en octubre. En noviembre me cobraron dos veces"
        ));
        // A phrase's own first word is not its negation.
        let own = phrase_rule(r#"["no funciona", "not working", "no llegó"]"#);
        assert!(matches(&own, "la app no funciona"));
        assert!(matches(&own, "it is not working"));
        assert!(matches(&own, "el pedido no llegó"));
        assert!(matches(&own, "don't know why, it's not working"));
        // English contractions fold to one negating word.
        let en = phrase_rule(r#"["charged twice"]"#);
        assert!(!matches(
            &en,
            "you didn't charge me twice, I wasn't charged twice"
        ));
        assert!(matches(&en, "I was charged twice"));
    }

    #[test]
    fn without_counts_negated_occurrences_too() {
        let set = rules(
            r#"
[[rule]]
id = "r"
name = "R"
[rule.when]
phrases = ["gracias"]
without = ["por nada"]
"#,
        );
        assert!(matches(&set, "gracias"));
        assert!(!matches(&set, "gracias por nada"));
        assert!(!matches(&set, "gracias, no por nada"));
    }

    #[test]
    fn regex_is_case_insensitive_on_the_original_text() {
        let set = rules(
            r#"
[[rule]]
id = "r"
name = "Order number"
[rule.when]
regex = 'pedido #\d{4,}'
"#,
        );
        let d = set.decide(&input("Mi PEDIDO #12345 no aparece"));
        assert_eq!(d.matched, ["r"]);
        assert_eq!(d.reasons[0].text, "Order number: 'PEDIDO #12345'");
        assert!(set.decide(&input("pedido 12345")).matched.is_empty());
    }

    const TREE: &str = r#"
[[category]]
id = "billing"
name_es = "Facturación"
name_en = "Billing"
first_response = "1h"
resolution = "1d"
tier = 2

[[category]]
id = "billing/double-charge"
name_es = "Cobro doble"
name_en = "Double charge"
parent = "billing"
first_response = "1h"
resolution = "1d"
tier = 3

[[category]]
id = "general"
name_es = "General"
name_en = "General"
first_response = "8h"
resolution = "3d"
"#;

    #[test]
    fn combination_order() {
        let set = rules(&format!(
            r#"base_score = 30
{TREE}
[[rule]]
id = "first"
name = "First"
[rule.when]
phrases = ["factura"]
[rule.then]
score = 10
category = "general"
tags = ["a", "b"]
team = "Front"
prefer = "speed"

[[rule]]
id = "second"
name = "Second"
[rule.when]
phrases = ["factura"]
[rule.then]
score = -5
category = "billing"
tags = ["b", "c"]
team = "Back"
tier = 2
approval = true
prefer = "csat"

[[rule]]
id = "disabled"
name = "Off"
enabled = false
[rule.then]
score = 50

[[rule]]
id = "in-general"
name = "In general"
stop = true
[rule.when]
categories = ["general"]
[rule.then]
troll = true

[[rule]]
id = "after-stop"
name = "Never"
[rule.then]
score = 50
"#
        ));
        let d = set.decide(&input("la factura"));
        assert_eq!(d.matched, ["first", "second", "in-general"]);
        assert_eq!(d.score, 35);
        assert_eq!(d.priority, Some(Priority::P3));
        assert_eq!(d.category.as_deref(), Some("general"));
        assert_eq!(d.tags, ["a", "b", "c"]);
        assert_eq!(d.team.as_deref(), Some("Front"));
        assert_eq!(d.prefer, Some(Prefer::Speed));
        assert_eq!(d.tier, 2);
        assert!(d.approval && d.troll);
        let lines: Vec<String> = d.reasons.iter().map(Reason::line).collect();
        assert_eq!(
            lines,
            [
                "+10 First: 'factura'",
                "-5 Second: 'factura'",
                "In general: category general"
            ]
        );

        // A category set by hand is kept, and rules read it (subcategories
        // count for their parent); its tier counts.
        let mut i = input("nada que ver");
        i.category = Some("billing/double-charge".into());
        let set = rules(&format!(
            r#"{TREE}
[[rule]]
id = "r"
name = "R"
[rule.when]
categories = ["billing"]
[rule.then]
category = "general"
"#
        ));
        let d = set.decide(&i);
        assert_eq!(d.matched, ["r"]);
        assert_eq!(d.category.as_deref(), Some("billing/double-charge"));
        assert_eq!(d.tier, 3);
        assert_eq!(set.category("billing").unwrap().tier, 2);
    }

    #[test]
    fn score_is_clamped_and_starts_at_20() {
        let set = rules(
            r#"
[[rule]]
id = "down"
name = "Down"
[rule.then]
score = -50
"#,
        );
        let d = set.decide(&input("x"));
        assert_eq!((d.score, d.priority), (0, Some(Priority::P4)));
        let empty = rules("");
        let d = empty.decide(&input("x"));
        assert_eq!((d.score, d.tier), (20, 1));
        assert!(d.reasons.is_empty());
    }

    #[test]
    fn contact_conditions_and_their_evidence() {
        let set = rules(
            r#"
[[rule]]
id = "influencer"
name = "Influencer"
[rule.when]
verified = true
min_followers = 100000
channels = ["x"]
public = true

[[rule]]
id = "throwaway"
name = "Throwaway"
[rule.when]
max_followers = 0
avatar = false
account_younger_than_days = 7

[[rule]]
id = "money"
name = "Money"
[rule.when]
min_lifetime_value = 10000
vip = true
purchases = { count = 2, days = 30 }

[[rule]]
id = "again"
name = "Again"
[rule.when]
repeat_within_hours = 24
min_waiting_minutes = 60
business_hours = false
"#,
        );
        let mut i = input("hola");
        i.channel_kind = "x".into();
        i.public = true;
        i.verified = true;
        i.followers = Some(150_000);
        let d = set.decide(&i);
        assert_eq!(d.matched, ["influencer"]);
        assert_eq!(
            d.reasons[0].text,
            "Influencer: via x, public post, verified, 150k followers"
        );

        let mut i = input("hola");
        i.followers = Some(0);
        i.account_created_at = Some(NOW.plus_ms(-3 * DAY));
        let d = set.decide(&i);
        assert_eq!(d.matched, ["throwaway"]);
        assert_eq!(
            d.reasons[0].text,
            "Throwaway: no followers, no avatar, account 3 days old"
        );
        // Unknown age is not young; unknown followers are not many.
        i.account_created_at = None;
        assert!(set.decide(&i).matched.is_empty());

        let mut i = input("hola");
        i.lifetime_value_cents = 1_200_000;
        i.vip = true;
        i.purchases = vec![
            NOW.plus_ms(-DAY),
            NOW.plus_ms(-10 * DAY),
            NOW.plus_ms(-90 * DAY),
        ];
        let d = set.decide(&i);
        assert_eq!(
            d.reasons[0].text,
            "Money: lifetime value 12,000, 2 purchases in 30 days, VIP"
        );
        i.purchases.pop();
        i.purchases.pop();
        assert!(set.decide(&i).matched.is_empty());

        let mut i = input("hola");
        i.previous_contact = Some((NOW.plus_ms(-2 * HOUR - 10 * MINUTE), "email".into()));
        i.waiting_since = Some(NOW.plus_ms(-3 * HOUR));
        i.open_now = false;
        let d = set.decide(&i);
        assert_eq!(
            d.reasons[0].text,
            "Again: wrote by email 2 h ago, waiting 3 h, outside business hours"
        );
        i.previous_contact = Some((NOW.plus_ms(-25 * HOUR), "email".into()));
        assert!(set.decide(&i).matched.is_empty());
    }

    #[test]
    fn sentiment_and_language() {
        let set = rules(
            r#"
[[rule]]
id = "angry-es"
name = "Angry"
[rule.when]
sentiment_below = -0.5
languages = ["es"]
"#,
        );
        let d = set.decide(&input("Es una estafa, servicio pésimo y lentísimo"));
        assert_eq!(d.language.as_deref(), Some("es"));
        assert!(d.sentiment < -0.5);
        assert_eq!(d.matched, ["angry-es"]);
        assert!(d.reasons[0].text.starts_with("Angry: sentiment -0."));
        assert!(d.reasons[0].text.ends_with(", language es"));
        let d = set.decide(&input("This is a scam, the worst service ever"));
        assert_eq!(d.language.as_deref(), Some("en"));
        assert!(d.matched.is_empty());
        // A known language wins over detection.
        let mut i = input("This is a scam, the worst service ever");
        i.language = Some("es".into());
        assert_eq!(set.decide(&i).matched, ["angry-es"]);
    }

    #[test]
    fn invalid_documents_are_rejected_clearly() {
        let dup = error("[[rule]]\nid = \"a\"\nname = \"A\"\n[[rule]]\nid = \"a\"\nname = \"B\"\n");
        assert_eq!(dup, "a: duplicate rule id `a`");
        let unknown = error(&format!(
            "{TREE}\n[[rule]]\nid = \"r\"\nname = \"R\"\n[rule.then]\ncategory = \"shipping\"\n"
        ));
        assert_eq!(
            unknown,
            "r: then.category `shipping` is not a defined category"
        );
        let unknown = error(&format!(
            "{TREE}\n[[rule]]\nid = \"r\"\nname = \"R\"\n[rule.when]\ncategories = [\"nope\"]\n"
        ));
        assert_eq!(
            unknown,
            "r: when.categories `nope` is not a defined category"
        );
        let bad_regex =
            error("[[rule]]\nid = \"r\"\nname = \"R\"\n[rule.when]\nregex = \"(abc\"\n");
        assert!(
            bad_regex.starts_with("r: regex `(abc` does not compile"),
            "{bad_regex}"
        );
        let huge = error(
            "[[rule]]\nid = \"r\"\nname = \"R\"\n[rule.when]\nregex = \"\\\\w{1000}{1000}\"\n",
        );
        assert!(huge.contains("does not compile"), "{huge}");
        let toml_err = error("[[rule]]\nid = \"r\"\nname = \"R\"\n[rule.when]\nphrase = [\"x\"]\n");
        assert!(
            toml_err.starts_with("line 5, column 1: unknown field `phrase`"),
            "{toml_err}"
        );
        let cases = [
            (
                "base_score = 120",
                "base_score: base_score 120 must be between 0 and 100",
            ),
            (
                "[[rule]]\nid = \"Bad Id\"\nname = \"R\"",
                "Bad Id: rule id `Bad Id` is not valid (use lowercase a-z, 0-9, `-`, `_` and `/`)",
            ),
            (
                "[[rule]]\nid = \"r\"\nname = \"R\"\n[rule.when]\nphrases = [\"\"]",
                "r: empty phrase",
            ),
            (
                "[[rule]]\nid = \"r\"\nname = \"R\"\n[rule.when]\nphrases = [\"¿?\"]",
                "r: phrase '¿?' has no letters or digits",
            ),
            (
                "[[rule]]\nid = \"r\"\nname = \"R\"\n[rule.when]\nphrases = [\"a* b\"]",
                "r: phrase 'a* b': `*` is only allowed at the end of a phrase",
            ),
            (
                "[[rule]]\nid = \"r\"\nname = \"R\"\n[rule.then]\ntier = 4",
                "r: tier 4 must be 1, 2 or 3",
            ),
            (
                "[[category]]\nid = \"b\"\nname_es = \"B\"\nname_en = \"B\"\nparent = \"a\"\nfirst_response = \"1h\"\nresolution = \"1d\"",
                "b: parent category `a` is not defined",
            ),
            (
                "[[category]]\nid = \"b\"\nname_es = \"B\"\nname_en = \"B\"\nfirst_response = \"1h\"\nresolution = \"1d\"\ntier = 0",
                "b: category tier 0 must be 1, 2 or 3",
            ),
            (
                "[[category]]\nid = \"a\"\nname_es = \"A\"\nname_en = \"A\"\nparent = \"b\"\nfirst_response = \"1h\"\nresolution = \"1d\"\n[[category]]\nid = \"b\"\nname_es = \"B\"\nname_en = \"B\"\nparent = \"a\"\nfirst_response = \"1h\"\nresolution = \"1d\"",
                "a: category parents form a loop through `a`",
            ),
            (
                "[[category]]\nid = \"a\"\nname_es = \"A\"\nname_en = \"A\"\nfirst_response = \"1h\"\nresolution = \"1d\"\n[[category]]\nid = \"a\"\nname_es = \"A\"\nname_en = \"A\"\nfirst_response = \"1h\"\nresolution = \"1d\"",
                "a: duplicate category id `a`",
            ),
        ];
        for (toml, want) in cases {
            assert_eq!(error(toml), want, "{toml}");
        }
        let bad_duration = error(
            "[[category]]\nid = \"a\"\nname_es = \"A\"\nname_en = \"A\"\nfirst_response = \"soon\"\nresolution = \"1d\"",
        );
        assert!(
            bad_duration.starts_with("a: first_response: "),
            "{bad_duration}"
        );
    }

    #[test]
    fn evidence_formats() {
        assert_eq!(Followers(950).to_string(), "950");
        assert_eq!(Followers(1_000).to_string(), "1k");
        assert_eq!(Followers(1_250).to_string(), "1.2k");
        assert_eq!(Followers(150_000).to_string(), "150k");
        assert_eq!(Followers(999_999).to_string(), "999k");
        assert_eq!(Followers(1_300_000).to_string(), "1.3M");
        assert_eq!(Followers(25_000_000).to_string(), "25M");
        assert_eq!(Thousands(12_000).to_string(), "12,000");
        assert_eq!(Thousands(1_234_567).to_string(), "1,234,567");
        assert_eq!(Thousands(999).to_string(), "999");
        assert_eq!(Thousands(0).to_string(), "0");
        assert_eq!(Thousands(-1_500).to_string(), "-1,500");
        assert_eq!(Age(45 * MINUTE).to_string(), "45 min");
        assert_eq!(Age(2 * HOUR + 10 * MINUTE).to_string(), "2 h");
        assert_eq!(Age(3 * DAY).to_string(), "3 d");
    }

    // ----------------------------------------------------------- presets

    struct Case {
        text: &'static str,
        category: Option<&'static str>,
        priorities: &'static [Priority],
        tier: Option<u8>,
    }

    use Priority::*;

    #[test]
    fn presets_classify_spanish_and_english() {
        let cases = [
            Case {
                text: "I was charged twice for my order!!!",
                category: Some("billing/double-charge"),
                priorities: &[P1, P2],
                tier: Some(3),
            },
            Case {
                text: "Your service is DOWN again, nothing works",
                category: Some("outage"),
                priorities: &[P1, P2],
                tier: Some(3),
            },
            Case {
                text: "My package never arrived",
                category: Some("delivery/not-delivered"),
                priorities: &[P2, P3],
                tier: Some(2),
            },
            Case {
                text: "the box arrived damaged 😡",
                category: Some("delivery/damaged"),
                priorities: &[P2, P3],
                tier: Some(2),
            },
            Case {
                text: "How much does the premium plan cost? Can I get a demo?",
                category: Some("sales"),
                priorities: &[P2],
                tier: Some(1),
            },
            Case {
                text: "Thanks, great service! 😍",
                category: Some("praise"),
                priorities: &[P4],
                tier: Some(1),
            },
            Case {
                text: "¿a qué hora abren el sábado?",
                category: Some("general"),
                priorities: &[P3, P4],
                tier: Some(1),
            },
            Case {
                text: "el pedido llegó roto",
                category: Some("delivery/damaged"),
                priorities: &[P2, P3],
                tier: Some(2),
            },
            Case {
                text: "mi paquete no ha llegado",
                category: Some("delivery/not-delivered"),
                priorities: &[P2, P3],
                tier: Some(2),
            },
            Case {
                text: "no funciona la app desde esta mañana",
                category: Some("outage"),
                priorities: &[P1, P2],
                tier: Some(3),
            },
            Case {
                text: "SE CAYÓ TODO OTRA VEZ!!!",
                category: Some("outage"),
                priorities: &[P1, P2],
                tier: Some(3),
            },
            Case {
                text: "¿cuánto cuesta el plan premium?",
                category: Some("sales"),
                priorities: &[P2],
                tier: Some(1),
            },
            Case {
                text: "gracias, excelente atención",
                category: Some("praise"),
                priorities: &[P4],
                tier: Some(1),
            },
            Case {
                text: "Quiero el reembolso de mi compra",
                category: Some("billing/refund"),
                priorities: &[P2, P3],
                tier: Some(2),
            },
            Case {
                text: "Hay una comisión que no entiendo en mi cuenta",
                category: Some("billing/unexpected-fee"),
                priorities: &[P2, P3],
                tier: Some(2),
            },
            Case {
                text: "El producto vino defectuoso, no enciende",
                category: Some("delivery/unusable"),
                priorities: &[P2, P3],
                tier: Some(2),
            },
            Case {
                text: "Gana dinero desde casa con crypto, click here",
                category: Some("spam"),
                priorities: &[P4],
                tier: Some(1),
            },
            Case {
                text: "No me cobraron dos veces, solo quería confirmar el cargo",
                category: Some("billing"),
                priorities: &[P3],
                tier: Some(2),
            },
            Case {
                text: "COBRO DOBLE",
                category: Some("billing/double-charge"),
                priorities: &[P2],
                tier: Some(3),
            },
            Case {
                text: "cóbro dóble en mi tarjeta",
                category: Some("billing/double-charge"),
                priorities: &[P2],
                tier: Some(3),
            },
            Case {
                text: "Hola",
                category: None,
                priorities: &[P4],
                tier: Some(1),
            },
        ];
        let set = presets();
        for case in cases {
            let d = set.decide(&input(case.text));
            let why = format!("{}: {d:?}", case.text);
            assert_eq!(d.category.as_deref(), case.category, "{why}");
            assert!(case.priorities.contains(&d.priority.unwrap()), "{why}");
            if let Some(t) = case.tier {
                assert_eq!(d.tier, t, "{why}");
            }
        }
        let d = set.decide(&input(
            "How much does the premium plan cost? Can I get a demo?",
        ));
        assert_eq!(d.tags, ["lead"]);
        assert_eq!(d.prefer, Some(Prefer::Speed));
    }

    #[test]
    fn presets_public_complaint_from_a_verified_influencer() {
        let mut i = input("Me cobraron dos veces la factura de noviembre, ¡es un robo!");
        i.channel_kind = "x".into();
        i.channel = "x".into();
        i.public = true;
        i.verified = true;
        i.followers = Some(150_000);
        let d = presets().decide(&i);
        assert_eq!(d.priority, Some(P1), "{d:?}");
        assert_eq!(d.category.as_deref(), Some("billing/double-charge"));
        assert_eq!(d.tier, 3);
        assert!(d.approval);
        assert!(d.tags.contains(&"reputation".to_string()));
        let lines: Vec<String> = d.reasons.iter().map(Reason::line).collect();
        assert!(
            lines.contains(&"+35 Double charge: 'Me cobraron dos veces'".to_string()),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("verified, 150k followers")),
            "{lines:?}"
        );
        assert!(lines.contains(&"+5 Public post".to_string()), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("base")), "{lines:?}");
    }

    #[test]
    fn presets_negation_avoids_a_double_charge() {
        let d = presets().decide(&input(
            "No me cobraron dos veces, solo quería confirmar el cargo",
        ));
        assert_ne!(d.category.as_deref(), Some("billing/double-charge"));
        assert!(!d.matched.contains(&"billing-double-charge".to_string()));
    }

    #[test]
    fn presets_trolls_score_lower_than_established_accounts() {
        let text = "Son unos idiotas y ladrones";
        let mut troll = input(text);
        troll.channel_kind = "x".into();
        troll.followers = Some(0);
        troll.avatar = Some(false);
        troll.account_created_at = Some(NOW.plus_ms(-2 * DAY));
        let mut real = troll.clone();
        real.followers = Some(800);
        real.avatar = Some(true);
        real.account_created_at = Some(NOW.plus_ms(-900 * DAY));
        let set = presets();
        let (t, r) = (set.decide(&troll), set.decide(&real));
        assert!(t.troll && !r.troll);
        assert!(t.tags.contains(&"troll".to_string()));
        assert!(t.score < r.score, "{t:?} {r:?}");
        let line = &t.reasons.iter().find(|x| x.rule == "troll").unwrap().text;
        assert_eq!(
            line,
            "Likely troll: 'idiotas', no followers, no avatar, account 2 days old"
        );
    }

    #[test]
    fn presets_context_signals_add_points() {
        let set = presets();
        let text = "mi paquete no ha llegado";
        let plain = set.decide(&input(text));

        let mut again = input(text);
        again.previous_contact = Some((NOW.plus_ms(-2 * HOUR), "email".into()));
        let d = set.decide(&again);
        assert!(d.score > plain.score);
        let lines: Vec<String> = d.reasons.iter().map(Reason::line).collect();
        assert!(
            lines.contains(&"+10 Repeat contact: wrote by email 2 h ago".to_string()),
            "{lines:?}"
        );

        let mut waiting = input(text);
        waiting.waiting_since = Some(NOW.plus_ms(-5 * HOUR));
        let d = set.decide(&waiting);
        assert_eq!(d.score, plain.score + 15);
        assert!(d.matched.contains(&"waiting-1h".to_string()));
        assert!(d.matched.contains(&"waiting-4h".to_string()));
        assert!(
            d.reasons
                .iter()
                .any(|r| r.text == "Waiting over 4 h: waiting 5 h")
        );

        let angry = "Es una vergüenza, servicio pésimo, estoy harto!!";
        let mut vip = input(angry);
        vip.vip = true;
        let (v, n) = (set.decide(&vip), set.decide(&input(angry)));
        assert!(v.score > n.score, "{v:?} {n:?}");
        assert!(n.matched.contains(&"negative-sentiment".to_string()));

        let mut urgent = input("URGENTE: no funciona el login");
        urgent.lifetime_value_cents = 900_000;
        let d = set.decide(&urgent);
        assert!(d.matched.contains(&"urgency".to_string()));
        assert!(d.matched.contains(&"high-value".to_string()));
        assert_eq!(d.priority, Some(P1), "{d:?}");
    }

    #[test]
    fn presets_toml_round_trips() {
        let set = presets();
        let doc = set.doc();
        assert!(doc.rules.len() > 20 && doc.categories.len() >= 14);
        let again = toml::to_string(doc).unwrap();
        assert_eq!(RuleSet::from_toml(&again).unwrap().doc(), doc);
    }
}
