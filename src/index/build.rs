//! From a parsed query to a tantivy query, with the viewer's permissions
//! inside it (never a filter after the fact).

use super::query::{Field as QField, IsValue, Node, StatusValue, Value};
use super::schema::{self, Fields};
use super::{Facets, Viewer};
use std::ops::Bound;
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query, RangeQuery,
    RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;

pub struct Builder<'a> {
    fields: &'a Fields,
    viewer: &'a Viewer,
    es: TextAnalyzer,
    en: TextAnalyzer,
}

fn term_q(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn u64_q(field: Field, v: u64) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_u64(field, v),
        IndexRecordOption::Basic,
    ))
}

fn any(qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    match qs.len() {
        0 => Box::new(EmptyQuery),
        1 => qs
            .into_iter()
            .next()
            .unwrap_or_else(|| Box::new(EmptyQuery)),
        _ => Box::new(BooleanQuery::new(
            qs.into_iter().map(|q| (Occur::Should, q)).collect(),
        )),
    }
}

fn not(q: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, Box::new(AllQuery)),
        (Occur::MustNot, q),
    ]))
}

fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~\"@<>".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl<'a> Builder<'a> {
    pub fn new(index: &tantivy::Index, fields: &'a Fields, viewer: &'a Viewer) -> Builder<'a> {
        let t = index.tokenizers();
        let get = |n: &str| t.get(n).unwrap_or_default();
        Builder {
            fields,
            viewer,
            es: get("es"),
            en: get("en"),
        }
    }

    /// Terms of `text` in a stemmed field: one term, or a phrase.
    fn analyzed(&mut self, field: Field, text: &str) -> Option<Box<dyn Query>> {
        let analyzer = if field == self.fields.body_es {
            &mut self.es
        } else {
            &mut self.en
        };
        let toks = schema::tokens(analyzer, text);
        match toks.len() {
            0 => None,
            1 => Some(term_q(field, &toks[0])),
            _ => Some(Box::new(PhraseQuery::new(
                toks.iter()
                    .map(|t| Term::from_field_text(field, t))
                    .collect(),
            ))),
        }
    }

    fn word(&mut self, w: &str) -> Box<dyn Query> {
        let mut qs = Vec::new();
        // A plain word is in the stemmed fields already; the exact field
        // matters for what the word tokenizer splits (`@ana_p`, `#A-1042`).
        if let Some(t) = schema::exact_token(w)
            && !t.chars().all(char::is_alphanumeric)
        {
            qs.push(term_q(self.fields.exact, &t));
        }
        for f in [self.fields.body_es, self.fields.body_en] {
            qs.extend(self.analyzed(f, w));
        }
        any(qs)
    }

    fn phrase(&mut self, p: &str) -> Box<dyn Query> {
        let mut qs = Vec::new();
        for f in [self.fields.body_es, self.fields.body_en] {
            qs.extend(self.analyzed(f, p));
        }
        any(qs)
    }

    fn prefix(&mut self, p: &str) -> Box<dyn Query> {
        let Some(t) = schema::exact_token(p) else {
            return Box::new(EmptyQuery);
        };
        let pattern = format!("{}.*", escape_regex(&t));
        let mut qs = Vec::new();
        for f in [self.fields.exact, self.fields.body_es, self.fields.body_en] {
            if let Ok(q) = RegexQuery::from_pattern(&pattern, f) {
                qs.push(Box::new(q) as Box<dyn Query>);
            }
        }
        any(qs)
    }

    fn date(&self, lower: Bound<i64>, upper: Bound<i64>) -> Box<dyn Query> {
        let f = self.fields.msg_at;
        let t = |b: Bound<i64>| match b {
            Bound::Included(v) => Bound::Included(Term::from_field_i64(f, v)),
            Bound::Excluded(v) => Bound::Excluded(Term::from_field_i64(f, v)),
            Bound::Unbounded => Bound::Unbounded,
        };
        Box::new(RangeQuery::new(t(lower), t(upper)))
    }

    fn field(&mut self, field: QField, value: &Value) -> Box<dyn Query> {
        let f = self.fields;
        let me = self.viewer.user.0;
        match (field, value) {
            (QField::Assignee, Value::Text(t)) if t.eq_ignore_ascii_case("me") => {
                u64_q(f.assignee_id, me)
            }
            (QField::Assignee, Value::Text(t)) if t.eq_ignore_ascii_case("none") => {
                u64_q(f.assignee_id, 0)
            }
            (_, Value::Text(t)) => {
                let target = match field {
                    QField::From => f.from,
                    QField::To => f.to,
                    QField::Channel => f.channel,
                    QField::Tag => f.tag,
                    QField::Team => f.team,
                    QField::Category => f.category,
                    QField::Assignee => f.assignee,
                    QField::Status => f.status,
                    QField::Priority => f.priority,
                    QField::Has => f.has,
                    // The parser gives these other value kinds.
                    QField::Is | QField::Before | QField::After => return Box::new(EmptyQuery),
                };
                let v = schema::norm(t);
                match v.strip_prefix('@') {
                    // `from:@ana_p` and `from:ana_p` both find her.
                    Some(bare) if !bare.is_empty() => {
                        any(vec![term_q(target, &v), term_q(target, bare)])
                    }
                    _ => term_q(target, &v),
                }
            }
            (_, Value::Status(s)) => term_q(
                f.status,
                match s {
                    StatusValue::Open => "open",
                    StatusValue::Pending => "pending",
                    StatusValue::Snoozed => "snoozed",
                    StatusValue::Resolved => "resolved",
                },
            ),
            (_, Value::Is(IsValue::Unassigned)) => u64_q(f.assignee_id, 0),
            (_, Value::Is(IsValue::Assigned)) => not(u64_q(f.assignee_id, 0)),
            (_, Value::Is(IsValue::Mine)) => u64_q(f.assignee_id, me),
            (_, Value::Priority(p)) => term_q(f.priority, &format!("p{p}")),
            (QField::Before, Value::Date(d)) => self.date(Bound::Unbounded, Bound::Excluded(*d)),
            (_, Value::Date(d)) => self.date(Bound::Included(*d), Bound::Unbounded),
            (_, Value::HasAttachment) => term_q(f.has, "attachment"),
        }
    }

    /// The tantivy query of a parsed one.
    pub fn query(&mut self, node: &Node) -> Box<dyn Query> {
        match node {
            Node::Word(w) => self.word(w),
            Node::Prefix(p) => self.prefix(p),
            Node::Phrase(p) => self.phrase(p),
            // Filters select; they do not rank (and skip BM25 work).
            Node::Field(field, value) => {
                Box::new(ConstScoreQuery::new(self.field(*field, value), 0.0))
            }
            Node::Not(inner) => not(self.query(inner)),
            Node::Or(children) => {
                let qs = children.iter().map(|c| self.query(c)).collect();
                any(qs)
            }
            Node::And(children) => {
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for c in children {
                    match c {
                        Node::Not(inner) => clauses.push((Occur::MustNot, self.query(inner))),
                        _ => clauses.push((Occur::Must, self.query(c))),
                    }
                }
                if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Box::new(BooleanQuery::new(clauses))
            }
        }
    }

    /// `q`, limited to what the viewer may see.
    pub fn restrict(&self, q: Box<dyn Query>) -> Box<dyn Query> {
        let Some(teams) = &self.viewer.teams else {
            return q;
        };
        let f = self.fields;
        let mut visible = vec![
            u64_q(f.assignee_id, self.viewer.user.0),
            u64_q(f.team_id, 0),
        ];
        visible.extend(teams.iter().map(|t| u64_q(f.team_id, t.0)));
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, q),
            (Occur::Must, any(visible)),
        ]))
    }
}

/// Counts of matching conversations per channel, status and tag.
pub fn facets(searcher: &tantivy::Searcher, q: &dyn Query) -> tantivy::Result<Facets> {
    use tantivy::aggregation::agg_req::Aggregations;
    use tantivy::aggregation::agg_result::AggregationResults;
    use tantivy::aggregation::{AggContextParams, AggregationCollector};
    let req: Aggregations = serde_json::from_value(serde_json::json!({
        "channel": {"terms": {"field": "channel", "size": 50}},
        "status": {"terms": {"field": "status", "size": 10}},
        "tag": {"terms": {"field": "tag", "size": 50}},
    }))
    .map_err(|e| tantivy::TantivyError::InvalidArgument(e.to_string()))?;
    let collector = AggregationCollector::from_aggs(
        req,
        AggContextParams::new(Default::default(), Default::default()),
    );
    let res: AggregationResults = searcher.search(q, &collector)?;
    let json = serde_json::to_value(&res)
        .map_err(|e| tantivy::TantivyError::InvalidArgument(e.to_string()))?;
    let buckets = |name: &str| -> Vec<(String, u64)> {
        json[name]["buckets"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|b| {
                        Some((b["key"].as_str()?.to_string(), b["doc_count"].as_u64()?))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(Facets {
        channel: buckets("channel"),
        status: buckets("status"),
        tag: buckets("tag"),
    })
}
