//! The search query language: a small, Gmail-like syntax that staff type in
//! the search box, parsed into a [`Node`] tree (turned into tantivy queries
//! elsewhere; this module is pure Rust and knows nothing about tantivy).
//!
//! ```text
//! query   := or
//! or      := and ("OR" and)*          -- uppercase OR only; binds looser than AND
//! and     := unary+                   -- implicit AND between terms
//! unary   := "-" primary | primary    -- "-" negates only at the start of a term
//! primary := "(" or ")" | "\"" chars "\"" | field ":" value | word ["*"]
//! ```
//!
//! Words are anything but whitespace, `"`, `(` and `)` (so `ana@x.com`,
//! `#A-1042`, `e-mail`, `¿dónde?` and `http://x.com` are words). A token whose
//! part before the first `:` is not a known field name stays a plain word.
//!
//! The parser is hand-written, never panics, bounds its input
//! ([`MAX_QUERY_CHARS`]) and its recursion ([`MAX_DEPTH`]), and reports errors
//! with a 0-based *character* offset so the UI can point at them.

/// A parsed query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// Every child must match. Always at least 2 children, none an `And`.
    And(Vec<Node>),
    /// Any child may match. Always at least 2 children, none an `Or`.
    Or(Vec<Node>),
    /// `-x`: excludes what `x` matches.
    Not(Box<Node>),
    /// A word as typed (no case folding here); never empty, no whitespace.
    Word(String),
    /// `fact*` is `Prefix("fact")`: at least 2 characters.
    Prefix(String),
    /// `"no me llegó"`: inner whitespace collapsed to single spaces; non-empty.
    Phrase(String),
    /// `name:value`.
    Field(Field, Value),
}

/// The field names understood before a `:` (case-insensitive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    From,
    To,
    Channel,
    Tag,
    Status,
    Is,
    Assignee,
    Team,
    Priority,
    Category,
    Before,
    After,
    Has,
}

/// The value of a [`Node::Field`], already checked for its field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `from:`, `to:`, `channel:`, `tag:`, `assignee:`, `team:`,
    /// `category:`: the value as typed (a quoted value has its whitespace
    /// collapsed). `assignee:me` and `assignee:none` are `Text("me")` and
    /// `Text("none")`.
    Text(String),
    /// `status:<s>` and `is:<s>` for the four statuses.
    Status(StatusValue),
    /// `is:unassigned`, `is:assigned`, `is:mine`.
    Is(IsValue),
    /// `priority:p1`..`p4` (or `1`..`4`): 1..=4.
    Priority(u8),
    /// `before:` / `after:` `YYYY-MM-DD`: unix milliseconds of 00:00 UTC.
    Date(i64),
    /// `has:attachment` (or `has:attachments`).
    HasAttachment,
}

/// A conversation status, as in `status:open`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusValue {
    Open,
    Pending,
    Snoozed,
    Resolved,
}

/// The non-status values of `is:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsValue {
    Unassigned,
    Assigned,
    Mine,
}

/// Why a query did not parse. `position` is a 0-based character (not byte)
/// offset into the query.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: expected {expected}, found {found}")]
pub struct ParseError {
    pub position: usize,
    pub expected: String,
    pub found: String,
}

/// Longer queries are rejected (in characters).
pub const MAX_QUERY_CHARS: usize = 1000;
/// Parentheses nested deeper than this are rejected.
pub const MAX_DEPTH: usize = 32;

const END: &str = "end of query";
const STATUS_VALUES: &str = "one of open, pending, snoozed, resolved";
const IS_VALUES: &str = "one of open, pending, snoozed, resolved, unassigned, assigned, mine";
const PRIORITY_VALUES: &str = "one of p1, p2, p3, p4 (or 1, 2, 3, 4)";
const HAS_VALUES: &str = "one of attachment, attachments";
const DATE: &str = "a date as YYYY-MM-DD";

/// Parses a query. Never panics.
///
/// # Errors
///
/// A [`ParseError`] pointing at the first problem, left to right (a missing
/// closing quote or parenthesis is reported at its opening one; a query made
/// only of exclusions at position 0).
pub fn parse(q: &str) -> Result<Node, ParseError> {
    let chars: Vec<char> = q.chars().collect();
    if chars.len() > MAX_QUERY_CHARS {
        return Err(ParseError {
            position: MAX_QUERY_CHARS,
            expected: format!("at most {MAX_QUERY_CHARS} characters"),
            found: format!("{} characters", chars.len()),
        });
    }
    let mut parser = Parser {
        lexer: Lexer {
            chars: &chars,
            pos: 0,
        },
        peeked: None,
    };
    let node = parser.or(0, "a search term")?;
    let tok = parser.next()?;
    match tok.kind {
        Kind::End => {}
        Kind::RParen => {
            return Err(err(tok.pos, "an opening \"(\" before this \")\"", "\")\""));
        }
        // `or` only stops at `)`, the end or (inside `and`) an error.
        _ => return Err(err(tok.pos, END, &tok.describe())),
    }
    if node.is_negative_only() {
        return Err(err(
            0,
            "at least one term that is not excluded",
            "only exclusions",
        ));
    }
    Ok(node)
}

impl Node {
    /// The fields the query uses, each once, in order of first appearance.
    #[must_use]
    pub fn fields(&self) -> Vec<Field> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields(&self, out: &mut Vec<Field>) {
        match self {
            Node::And(children) | Node::Or(children) => {
                for child in children {
                    child.collect_fields(out);
                }
            }
            Node::Not(inner) => inner.collect_fields(out),
            Node::Field(field, _) => {
                if !out.contains(field) {
                    out.push(*field);
                }
            }
            Node::Word(_) | Node::Prefix(_) | Node::Phrase(_) => {}
        }
    }

    /// True when nothing positive must match: the node alone can only
    /// exclude documents, so a search engine needs an "all documents" base
    /// for it. A `Not`; an `And` of such nodes only; an `Or` with at least
    /// one such branch (`a OR -b` matches everything that is not `b`).
    /// [`parse`] rejects queries for which this is true at the top.
    #[must_use]
    pub fn is_negative_only(&self) -> bool {
        match self {
            Node::Not(_) => true,
            Node::And(children) => children.iter().all(Node::is_negative_only),
            Node::Or(children) => children.iter().any(Node::is_negative_only),
            Node::Word(_) | Node::Prefix(_) | Node::Phrase(_) | Node::Field(..) => false,
        }
    }
}

fn err(position: usize, expected: &str, found: &str) -> ParseError {
    ParseError {
        position,
        expected: expected.to_owned(),
        found: found.to_owned(),
    }
}

/// Describes the character at `pos` for `found`.
fn describe_at(chars: &[char], pos: usize) -> String {
    match chars.get(pos) {
        None => END.to_owned(),
        Some(c) if c.is_whitespace() => "a space".to_owned(),
        Some(c) => format!("\"{c}\""),
    }
}

/// Joins and collapses whitespace: the text of a phrase.
fn collapse(chars: &[char]) -> String {
    let s: String = chars.iter().collect();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Debug)]
struct Token {
    pos: usize,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    End,
    LParen,
    RParen,
    Or,
    Neg,
    /// A complete term: word, prefix, phrase or field.
    Term(Node),
}

impl Token {
    fn describe(&self) -> String {
        match &self.kind {
            Kind::End => END.to_owned(),
            Kind::LParen => "\"(\"".to_owned(),
            Kind::RParen => "\")\"".to_owned(),
            Kind::Or => "\"OR\"".to_owned(),
            Kind::Neg => "\"-\"".to_owned(),
            Kind::Term(_) => "a term".to_owned(),
        }
    }
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && c != '"' && c != '(' && c != ')'
}

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Lexer<'_> {
    fn next(&mut self) -> Result<Token, ParseError> {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(&c) = self.chars.get(start) else {
            return Ok(Token {
                pos: start,
                kind: Kind::End,
            });
        };
        let kind = match c {
            '(' => {
                self.pos += 1;
                Kind::LParen
            }
            ')' => {
                self.pos += 1;
                Kind::RParen
            }
            '"' => Kind::Term(Node::Phrase(self.phrase()?)),
            '-' => {
                self.pos += 1;
                match self.chars.get(self.pos) {
                    Some(n) if !n.is_whitespace() => Kind::Neg,
                    _ => {
                        return Err(ParseError {
                            position: self.pos,
                            expected: "a term after \"-\"".to_owned(),
                            found: describe_at(self.chars, self.pos),
                        });
                    }
                }
            }
            _ => self.word()?,
        };
        Ok(Token { pos: start, kind })
    }

    /// A quoted phrase starting at `self.pos` (on the `"`): its collapsed text.
    fn phrase(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        let rest = self.chars.get(open + 1..).unwrap_or_default();
        let Some(len) = rest.iter().position(|&c| c == '"') else {
            return Err(err(open, "a closing \"", END));
        };
        let text = collapse(&rest[..len]);
        self.pos = open + len + 2;
        if text.is_empty() {
            let found: String = self.chars[open..self.pos].iter().collect();
            return Err(ParseError {
                position: open,
                expected: "a non-empty phrase".to_owned(),
                found,
            });
        }
        Ok(text)
    }

    fn word(&mut self) -> Result<Kind, ParseError> {
        let start = self.pos;
        let len = self.chars[start..]
            .iter()
            .position(|&c| !is_word_char(c))
            .unwrap_or(self.chars.len() - start);
        self.pos = start + len;
        let word = &self.chars[start..self.pos];

        if let Some(colon) = word.iter().position(|&c| c == ':') {
            let name: String = word[..colon].iter().collect();
            if let Some(field) = field_named(&name) {
                let value_pos = start + colon + 1;
                let raw = &word[colon + 1..];
                let value = if !raw.is_empty() {
                    raw.iter().collect()
                } else if self.chars.get(self.pos) == Some(&'"') {
                    self.phrase()?
                } else {
                    return Err(ParseError {
                        position: value_pos,
                        expected: format!("a value after \"{name}:\""),
                        found: describe_at(self.chars, value_pos),
                    });
                };
                let value = field_value(field, &value, value_pos)?;
                return Ok(Kind::Term(Node::Field(field, value)));
            }
        }

        if word == ['O', 'R'] {
            return Ok(Kind::Or);
        }
        let text: String = word.iter().collect();
        if let Some(stem) = word.strip_suffix(&['*']) {
            if stem.len() < 2 || stem.last() == Some(&'*') {
                return Err(ParseError {
                    position: start,
                    expected: "at least 2 characters before \"*\"".to_owned(),
                    found: format!("\"{text}\""),
                });
            }
            return Ok(Kind::Term(Node::Prefix(stem.iter().collect())));
        }
        Ok(Kind::Term(Node::Word(text)))
    }
}

fn field_named(name: &str) -> Option<Field> {
    Some(match name.to_lowercase().as_str() {
        "from" => Field::From,
        "to" => Field::To,
        "channel" => Field::Channel,
        "tag" => Field::Tag,
        "status" => Field::Status,
        "is" => Field::Is,
        "assignee" => Field::Assignee,
        "team" => Field::Team,
        "priority" => Field::Priority,
        "category" => Field::Category,
        "before" => Field::Before,
        "after" => Field::After,
        "has" => Field::Has,
        _ => return None,
    })
}

fn status_named(value: &str) -> Option<StatusValue> {
    Some(match value {
        "open" => StatusValue::Open,
        "pending" => StatusValue::Pending,
        "snoozed" => StatusValue::Snoozed,
        "resolved" => StatusValue::Resolved,
        _ => return None,
    })
}

/// Checks and converts the (non-empty) value of `field`, found at `pos`.
fn field_value(field: Field, value: &str, pos: usize) -> Result<Value, ParseError> {
    let bad = |expected: &str| ParseError {
        position: pos,
        expected: expected.to_owned(),
        found: format!("\"{value}\""),
    };
    let lower = value.to_lowercase();
    match field {
        Field::From
        | Field::To
        | Field::Channel
        | Field::Tag
        | Field::Assignee
        | Field::Team
        | Field::Category => Ok(Value::Text(value.to_owned())),
        Field::Status => status_named(&lower)
            .map(Value::Status)
            .ok_or_else(|| bad(STATUS_VALUES)),
        Field::Is => {
            if let Some(status) = status_named(&lower) {
                return Ok(Value::Status(status));
            }
            match lower.as_str() {
                "unassigned" => Ok(Value::Is(IsValue::Unassigned)),
                "assigned" => Ok(Value::Is(IsValue::Assigned)),
                "mine" => Ok(Value::Is(IsValue::Mine)),
                _ => Err(bad(IS_VALUES)),
            }
        }
        Field::Priority => {
            let digits = lower.strip_prefix('p').unwrap_or(&lower);
            match digits {
                "1" => Ok(Value::Priority(1)),
                "2" => Ok(Value::Priority(2)),
                "3" => Ok(Value::Priority(3)),
                "4" => Ok(Value::Priority(4)),
                _ => Err(bad(PRIORITY_VALUES)),
            }
        }
        Field::Before | Field::After => {
            date_millis(value).map(Value::Date).ok_or_else(|| bad(DATE))
        }
        Field::Has => match lower.as_str() {
            "attachment" | "attachments" => Ok(Value::HasAttachment),
            _ => Err(bad(HAS_VALUES)),
        },
    }
}

/// `YYYY-MM-DD` (exactly) to unix milliseconds of 00:00 UTC that day.
/// jiff checks the date; the arithmetic is done here because jiff's
/// timestamps stop just short of 9999-12-31 00:00 UTC.
fn date_millis(value: &str) -> Option<i64> {
    let b = value.as_bytes();
    let well_formed = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !well_formed {
        return None;
    }
    let year: i16 = value.get(0..4)?.parse().ok()?;
    let month: i8 = value.get(5..7)?.parse().ok()?;
    let day: i8 = value.get(8..10)?.parse().ok()?;
    let date = jiff::civil::Date::new(year, month, day).ok()?;
    let days = days_from_civil(
        i64::from(date.year()),
        i64::from(date.month()),
        i64::from(date.day()),
    );
    Some(days * 86_400_000)
}

/// Days from 1970-01-01 to a valid proleptic Gregorian date (Howard
/// Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token>,
}

impl Parser<'_> {
    fn peek(&mut self) -> Result<&Token, ParseError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next()?);
        }
        // Just filled when it was empty.
        match &self.peeked {
            Some(tok) => Ok(tok),
            None => Err(err(self.lexer.pos, "a search term", END)),
        }
    }

    fn next(&mut self) -> Result<Token, ParseError> {
        match self.peeked.take() {
            Some(tok) => Ok(tok),
            None => self.lexer.next(),
        }
    }

    /// `or := and ("OR" and)*`; `first` is what to expect if the first `and`
    /// is missing.
    fn or(&mut self, depth: usize, first: &str) -> Result<Node, ParseError> {
        let mut branches = vec![self.and(depth, first)?];
        while matches!(self.peek()?.kind, Kind::Or) {
            self.next()?;
            branches.push(self.and(depth, "a term after \"OR\"")?);
        }
        Ok(flatten(branches, false))
    }

    /// `and := unary+`
    fn and(&mut self, depth: usize, first: &str) -> Result<Node, ParseError> {
        let mut terms = vec![self.unary(depth, first)?];
        while matches!(self.peek()?.kind, Kind::LParen | Kind::Neg | Kind::Term(_)) {
            terms.push(self.unary(depth, "a search term")?);
        }
        Ok(flatten(terms, true))
    }

    /// `unary := "-" primary | primary`
    fn unary(&mut self, depth: usize, expected: &str) -> Result<Node, ParseError> {
        if matches!(self.peek()?.kind, Kind::Neg) {
            self.next()?;
            let inner = self.primary(depth, "a term after \"-\"")?;
            return Ok(Node::Not(Box::new(inner)));
        }
        self.primary(depth, expected)
    }

    /// `primary := "(" or ")" | term`
    fn primary(&mut self, depth: usize, expected: &str) -> Result<Node, ParseError> {
        let tok = self.next()?;
        match tok.kind {
            Kind::Term(node) => Ok(node),
            Kind::LParen => {
                if depth >= MAX_DEPTH {
                    return Err(err(
                        tok.pos,
                        &format!("at most {MAX_DEPTH} nested parentheses"),
                        "\"(\"",
                    ));
                }
                let inner = self.or(depth + 1, "a search term inside the parentheses")?;
                let close = self.next()?;
                match close.kind {
                    Kind::RParen => Ok(inner),
                    // `or` stops only at `)`, `OR` (consumed) or the end.
                    _ => Err(ParseError {
                        position: tok.pos,
                        expected: "a closing \")\" for this \"(\"".to_owned(),
                        found: close.describe(),
                    }),
                }
            }
            _ => Err(ParseError {
                position: tok.pos,
                expected: expected.to_owned(),
                found: tok.describe(),
            }),
        }
    }
}

/// Builds an `And` (or an `Or`) from `items` (never empty): nested nodes of
/// the same kind are spliced in, a single item is returned as is.
fn flatten(items: Vec<Node>, and: bool) -> Node {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Node::And(children) if and => out.extend(children),
            Node::Or(children) if !and => out.extend(children),
            other => out.push(other),
        }
    }
    if out.len() == 1
        && let Some(only) = out.pop()
    {
        return only;
    }
    if and { Node::And(out) } else { Node::Or(out) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Node {
        Node::Word(s.to_owned())
    }
    fn p(s: &str) -> Node {
        Node::Phrase(s.to_owned())
    }
    fn not(n: Node) -> Node {
        Node::Not(Box::new(n))
    }
    fn text(f: Field, s: &str) -> Node {
        Node::Field(f, Value::Text(s.to_owned()))
    }
    fn ok(q: &str) -> Node {
        match parse(q) {
            Ok(n) => n,
            Err(e) => panic!("{q:?} should parse, got {e}"),
        }
    }
    /// Asserts `q` fails at `position` with `expected`; returns the error.
    fn fails(q: &str, position: usize, expected: &str) -> ParseError {
        match parse(q) {
            Ok(n) => panic!("{q:?} should fail, parsed as {n:?}"),
            Err(e) => {
                assert_eq!(
                    (e.position, e.expected.as_str()),
                    (position, expected),
                    "{q:?}: {e}"
                );
                e
            }
        }
    }
    fn ms(y: i16, m: i8, d: i8) -> i64 {
        jiff::civil::date(y, m, d)
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    #[test]
    fn single_words_as_typed() {
        assert_eq!(ok("Factura"), w("Factura"));
        assert_eq!(ok("  llegó  "), w("llegó"));
        for word in [
            "@ana_p",
            "ana@x.com",
            "#A-1042",
            "A-1042",
            "e-mail",
            "llegó",
            "¿dónde?",
            "a*b",
            "or",
            "Or",
            "and",
            "AND",
            "http://x.com/a?b=c",
            "Re:",
            "10:30",
            "fwd:hola",
            "ORDER",
            "x-",
            "a--b",
            "*a",
            "€100",
            "😀",
        ] {
            assert_eq!(ok(word), w(word), "{word}");
        }
    }

    #[test]
    fn implicit_and_flattens() {
        assert_eq!(ok("a b"), Node::And(vec![w("a"), w("b")]));
        assert_eq!(
            ok("a  b\tc\nd"),
            Node::And(vec![w("a"), w("b"), w("c"), w("d")])
        );
        assert_eq!(ok("(a b) c"), Node::And(vec![w("a"), w("b"), w("c")]));
        assert_eq!(
            ok("a (b (c d))"),
            Node::And(vec![w("a"), w("b"), w("c"), w("d")])
        );
        assert_eq!(ok("(((a)))"), w("a"));
        assert_eq!(ok("a or b"), Node::And(vec![w("a"), w("or"), w("b")]));
        // Non-breaking space is whitespace too.
        assert_eq!(ok("a\u{a0}b"), Node::And(vec![w("a"), w("b")]));
    }

    #[test]
    fn or_and_precedence() {
        assert_eq!(ok("a OR b"), Node::Or(vec![w("a"), w("b")]));
        assert_eq!(ok("a OR b OR c"), Node::Or(vec![w("a"), w("b"), w("c")]));
        assert_eq!(
            ok("a b OR c"),
            Node::Or(vec![Node::And(vec![w("a"), w("b")]), w("c")])
        );
        assert_eq!(
            ok("a OR b c"),
            Node::Or(vec![w("a"), Node::And(vec![w("b"), w("c")])])
        );
        assert_eq!(
            ok("a (b OR c)"),
            Node::And(vec![w("a"), Node::Or(vec![w("b"), w("c")])])
        );
        assert_eq!(ok("(a OR b) OR c"), Node::Or(vec![w("a"), w("b"), w("c")]));
        assert_eq!(
            ok("a OR (b OR (c))"),
            Node::Or(vec![w("a"), w("b"), w("c")])
        );
        assert_eq!(ok("(a)OR(b)"), Node::Or(vec![w("a"), w("b")]));
        assert_eq!(
            ok("(a OR b) (c OR d)"),
            Node::And(vec![
                Node::Or(vec![w("a"), w("b")]),
                Node::Or(vec![w("c"), w("d")])
            ])
        );
    }

    #[test]
    fn negation() {
        assert_eq!(
            ok("factura -spam"),
            Node::And(vec![w("factura"), not(w("spam"))])
        );
        assert_eq!(
            ok("hola -from:bot@x.com"),
            Node::And(vec![w("hola"), not(text(Field::From, "bot@x.com"))])
        );
        assert_eq!(
            ok("regalo -\"gift card\""),
            Node::And(vec![w("regalo"), not(p("gift card"))])
        );
        assert_eq!(
            ok("x -(a OR b)"),
            Node::And(vec![w("x"), not(Node::Or(vec![w("a"), w("b")]))])
        );
        assert_eq!(
            ok("x -fact*"),
            Node::And(vec![w("x"), not(Node::Prefix("fact".into()))])
        );
        // `-` right after `(`, `)` or a phrase starts a term.
        assert_eq!(ok("(x -y)"), Node::And(vec![w("x"), not(w("y"))]));
        assert_eq!(ok("(x)-y"), Node::And(vec![w("x"), not(w("y"))]));
        assert_eq!(ok("\"x\"-y"), Node::And(vec![p("x"), not(w("y"))]));
        // Inside a word, `-` is a character.
        assert_eq!(ok("x-y -z"), Node::And(vec![w("x-y"), not(w("z"))]));
        // Negated groups with only exclusions inside are fine next to a
        // positive term.
        assert_eq!(ok("a -(-b)"), Node::And(vec![w("a"), not(not(w("b")))]));
    }

    #[test]
    fn phrases() {
        assert_eq!(ok("\"no me llegó\""), p("no me llegó"));
        assert_eq!(ok("\"  no   me\t\nllegó \""), p("no me llegó"));
        assert_eq!(
            ok("\"¿dónde está mi pedido?\""),
            p("¿dónde está mi pedido?")
        );
        assert_eq!(ok("\"a OR (b) -c from:x\""), p("a OR (b) -c from:x"));
        assert_eq!(ok("\"OR\""), p("OR"));
        assert_eq!(
            ok("pedido \"no llegó\" OR reembolso"),
            Node::Or(vec![
                Node::And(vec![w("pedido"), p("no llegó")]),
                w("reembolso")
            ])
        );
        // Adjacent to words: separate terms.
        assert_eq!(ok("ab\"cd\"ef"), Node::And(vec![w("ab"), p("cd"), w("ef")]));
        // An unknown name before `:` and a phrase: word then phrase.
        assert_eq!(ok("foo:\"bar\""), Node::And(vec![w("foo:"), p("bar")]));
    }

    #[test]
    fn prefixes() {
        assert_eq!(ok("fact*"), Node::Prefix("fact".into()));
        assert_eq!(ok("ll*"), Node::Prefix("ll".into()));
        assert_eq!(ok("ñó*"), Node::Prefix("ñó".into()));
        assert_eq!(ok("a*b"), w("a*b"));
        assert_eq!(ok("a*b*"), Node::Prefix("a*b".into()));
        assert_eq!(ok("re:*"), Node::Prefix("re:".into()));
        assert_eq!(
            ok("fact* OR recib*"),
            Node::Or(vec![
                Node::Prefix("fact".into()),
                Node::Prefix("recib".into())
            ])
        );
    }

    #[test]
    fn text_fields() {
        assert_eq!(ok("from:ana@x.com"), text(Field::From, "ana@x.com"));
        assert_eq!(ok("FROM:Ana@X.com"), text(Field::From, "Ana@X.com"));
        assert_eq!(
            ok("to:soporte@tienda.es"),
            text(Field::To, "soporte@tienda.es")
        );
        assert_eq!(ok("channel:email"), text(Field::Channel, "email"));
        assert_eq!(ok("Channel:WhatsApp"), text(Field::Channel, "WhatsApp"));
        assert_eq!(ok("tag:vip"), text(Field::Tag, "vip"));
        assert_eq!(
            ok("tag:\"envío  urgente\""),
            text(Field::Tag, "envío urgente")
        );
        assert_eq!(ok("team:ventas"), text(Field::Team, "ventas"));
        assert_eq!(ok("category:billing"), text(Field::Category, "billing"));
        assert_eq!(ok("assignee:marta"), text(Field::Assignee, "marta"));
        assert_eq!(ok("assignee:me"), text(Field::Assignee, "me"));
        assert_eq!(ok("assignee:none"), text(Field::Assignee, "none"));
        // Only the first `:` splits.
        assert_eq!(ok("from:a:b"), text(Field::From, "a:b"));
        assert_eq!(ok("tag:a-b*"), text(Field::Tag, "a-b*"));
        assert_eq!(
            ok("tag:\"envío urgente\"x"),
            Node::And(vec![text(Field::Tag, "envío urgente"), w("x")])
        );
    }

    #[test]
    fn status_is_priority_has() {
        use StatusValue::*;
        for (v, s) in [
            ("open", Open),
            ("pending", Pending),
            ("snoozed", Snoozed),
            ("resolved", Resolved),
        ] {
            assert_eq!(
                ok(&format!("status:{v}")),
                Node::Field(Field::Status, Value::Status(s))
            );
            assert_eq!(
                ok(&format!("is:{v}")),
                Node::Field(Field::Is, Value::Status(s))
            );
        }
        assert_eq!(
            ok("Status:OPEN"),
            Node::Field(Field::Status, Value::Status(Open))
        );
        assert_eq!(
            ok("status:\"open\""),
            Node::Field(Field::Status, Value::Status(Open))
        );
        assert_eq!(
            ok("is:unassigned"),
            Node::Field(Field::Is, Value::Is(IsValue::Unassigned))
        );
        assert_eq!(
            ok("is:assigned"),
            Node::Field(Field::Is, Value::Is(IsValue::Assigned))
        );
        assert_eq!(
            ok("IS:Mine"),
            Node::Field(Field::Is, Value::Is(IsValue::Mine))
        );
        for (v, n) in [("p1", 1), ("P2", 2), ("3", 3), ("p4", 4), ("1", 1)] {
            assert_eq!(
                ok(&format!("priority:{v}")),
                Node::Field(Field::Priority, Value::Priority(n))
            );
        }
        assert_eq!(
            ok("has:attachment"),
            Node::Field(Field::Has, Value::HasAttachment)
        );
        assert_eq!(
            ok("has:Attachments"),
            Node::Field(Field::Has, Value::HasAttachment)
        );
    }

    #[test]
    fn dates() {
        assert_eq!(
            ok("before:2026-01-15"),
            Node::Field(Field::Before, Value::Date(ms(2026, 1, 15)))
        );
        assert_eq!(
            ok("after:1970-01-01"),
            Node::Field(Field::After, Value::Date(0))
        );
        assert_eq!(
            ok("after:1970-01-02"),
            Node::Field(Field::After, Value::Date(86_400_000))
        );
        assert_eq!(
            ok("before:2024-02-29"),
            Node::Field(Field::Before, Value::Date(1_709_164_800_000))
        );
        assert_eq!(
            ok("after:1969-12-31"),
            Node::Field(Field::After, Value::Date(-86_400_000))
        );
        assert_eq!(
            ok("after:2026-01-01 before:2026-02-01"),
            Node::And(vec![
                Node::Field(Field::After, Value::Date(ms(2026, 1, 1))),
                Node::Field(Field::Before, Value::Date(ms(2026, 2, 1))),
            ])
        );
        // The extremes of four digits do not overflow.
        assert_eq!(
            ok("after:0000-01-01"),
            Node::Field(Field::After, Value::Date(-62_167_219_200_000))
        );
        assert_eq!(
            ok("before:9999-12-31"),
            Node::Field(Field::Before, Value::Date(253_402_214_400_000))
        );
        // The arithmetic agrees with jiff wherever jiff has timestamps.
        let mut date = jiff::civil::date(1, 1, 1);
        while date.year() < 9999 {
            let q = format!("after:{date}");
            assert_eq!(
                ok(&q),
                Node::Field(
                    Field::After,
                    Value::Date(ms(date.year(), date.month(), date.day()))
                ),
                "{q}"
            );
            date = date.checked_add(jiff::Span::new().days(37)).unwrap();
        }
    }

    #[test]
    fn bad_dates() {
        for (q, pos) in [
            ("before:2026-13-01", 7),
            ("before:2026-02-30", 7),
            ("before:2025-02-29", 7),
            ("after:2026-1-1", 6),
            ("after:26-01-01", 6),
            ("after:2026/01/01", 6),
            ("after:2026-01-01x", 6),
            ("after:+026-01-01", 6),
            ("after:2026-00-10", 6),
            ("after:2026-01-00", 6),
            ("after:２０２６-01-01", 6),
            ("after:yesterday", 6),
        ] {
            fails(q, pos, "a date as YYYY-MM-DD");
        }
        let e = fails("x before:2026-13-01", 9, "a date as YYYY-MM-DD");
        assert_eq!(e.found, "\"2026-13-01\"");
    }

    #[test]
    fn bad_field_values() {
        let e = fails(
            "is:closed",
            3,
            "one of open, pending, snoozed, resolved, unassigned, assigned, mine",
        );
        assert_eq!(e.found, "\"closed\"");
        let e = fails("status:mine", 7, "one of open, pending, snoozed, resolved");
        assert_eq!(e.found, "\"mine\"");
        fails("priority:p5", 9, "one of p1, p2, p3, p4 (or 1, 2, 3, 4)");
        fails("priority:0", 9, "one of p1, p2, p3, p4 (or 1, 2, 3, 4)");
        fails("priority:high", 9, "one of p1, p2, p3, p4 (or 1, 2, 3, 4)");
        fails("priority:pp1", 9, "one of p1, p2, p3, p4 (or 1, 2, 3, 4)");
        let e = fails("has:pdf", 4, "one of attachment, attachments");
        assert_eq!(e.found, "\"pdf\"");
        fails("has:\"\"", 4, "a non-empty phrase");
    }

    #[test]
    fn empty_field_value() {
        let e = fails("from:", 5, "a value after \"from:\"");
        assert_eq!(e.found, "end of query");
        let e = fails("hola From: x", 10, "a value after \"From:\"");
        assert_eq!(e.found, "a space");
        let e = fails("(tag:)", 5, "a value after \"tag:\"");
        assert_eq!(e.found, "\")\"");
        fails("-is:", 4, "a value after \"is:\"");
        // An unknown name with nothing after `:` is just a word.
        assert_eq!(ok("Re:"), w("Re:"));
    }

    #[test]
    fn empty_queries() {
        let e = fails("", 0, "a search term");
        assert_eq!(e.found, "end of query");
        fails("   ", 3, "a search term");
        fails("\t\n", 2, "a search term");
    }

    #[test]
    fn too_long() {
        let q = "a".repeat(MAX_QUERY_CHARS);
        assert_eq!(ok(&q), w(&q));
        // Counted in characters, not bytes.
        let q = "ñ".repeat(MAX_QUERY_CHARS);
        assert!(parse(&q).is_ok());
        let e = fails(
            &"a".repeat(MAX_QUERY_CHARS + 1),
            MAX_QUERY_CHARS,
            "at most 1000 characters",
        );
        assert_eq!(e.found, "1001 characters");
    }

    #[test]
    fn quote_errors() {
        let e = fails("hola \"no me llegó", 5, "a closing \"");
        assert_eq!(e.found, "end of query");
        fails("\"", 0, "a closing \"");
        fails("\"a\" \"b", 4, "a closing \"");
        fails("tag:\"envío", 4, "a closing \"");
        let e = fails("a \"\" b", 2, "a non-empty phrase");
        assert_eq!(e.found, "\"\"");
        fails("\"   \"", 0, "a non-empty phrase");
        fails("-\"\"", 1, "a non-empty phrase");
    }

    #[test]
    fn paren_errors() {
        let e = fails("(a b", 0, "a closing \")\" for this \"(\"");
        assert_eq!(e.found, "end of query");
        fails("x ((a) b", 2, "a closing \")\" for this \"(\"");
        let e = fails("a b)", 3, "an opening \"(\" before this \")\"");
        assert_eq!(e.found, "\")\"");
        fails(")", 0, "a search term");
        fails("(a))", 3, "an opening \"(\" before this \")\"");
        let e = fails("()", 1, "a search term inside the parentheses");
        assert_eq!(e.found, "\")\"");
        fails("a ( ) b", 4, "a search term inside the parentheses");
        fails("(", 1, "a search term inside the parentheses");
    }

    #[test]
    fn depth_limit() {
        let ok_q = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(ok(&ok_q), w("a"));
        let deep = format!(
            "{}a{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        let e = fails(&deep, MAX_DEPTH, "at most 32 nested parentheses");
        assert_eq!(e.found, "\"(\"");
        // As deep as the length limit allows: an error, no stack overflow.
        let deepest = "(".repeat(MAX_QUERY_CHARS);
        fails(&deepest, MAX_DEPTH, "at most 32 nested parentheses");
        let neg = "-(".repeat(MAX_QUERY_CHARS / 2);
        fails(&neg, 2 * MAX_DEPTH + 1, "at most 32 nested parentheses");
    }

    #[test]
    fn or_errors() {
        let e = fails("OR a", 0, "a search term");
        assert_eq!(e.found, "\"OR\"");
        let e = fails("a OR", 4, "a term after \"OR\"");
        assert_eq!(e.found, "end of query");
        let e = fails("a OR OR b", 5, "a term after \"OR\"");
        assert_eq!(e.found, "\"OR\"");
        fails("(a OR) b", 5, "a term after \"OR\"");
        fails("(OR a)", 1, "a search term inside the parentheses");
        fails("OR", 0, "a search term");
        fails("a -OR b", 3, "a term after \"-\"");
    }

    #[test]
    fn minus_errors() {
        let e = fails("-", 1, "a term after \"-\"");
        assert_eq!(e.found, "end of query");
        let e = fails("a - b", 3, "a term after \"-\"");
        assert_eq!(e.found, "a space");
        fails("a -", 3, "a term after \"-\"");
        let e = fails("a -)", 3, "a term after \"-\"");
        assert_eq!(e.found, "\")\"");
        let e = fails("a --b", 3, "a term after \"-\"");
        assert_eq!(e.found, "\"-\"");
    }

    #[test]
    fn star_errors() {
        let e = fails("*", 0, "at least 2 characters before \"*\"");
        assert_eq!(e.found, "\"*\"");
        fails("x a*", 2, "at least 2 characters before \"*\"");
        fails("x ñ*", 2, "at least 2 characters before \"*\"");
        fails("ab**", 0, "at least 2 characters before \"*\"");
        fails("**", 0, "at least 2 characters before \"*\"");
        fails("-*", 1, "at least 2 characters before \"*\"");
    }

    #[test]
    fn negative_only_queries() {
        for q in [
            "-spam",
            "-spam -promo",
            "-(a OR b)",
            "-from:bot@x.com",
            "(-a)",
            "a OR -b",
            "-\"gift card\"",
        ] {
            let e = fails(q, 0, "at least one term that is not excluded");
            assert!(!e.found.is_empty());
        }
        assert!(parse("a -b").is_ok());
        assert!(parse("(a -b) OR c").is_ok());
        assert!(parse("x (a OR -b)").is_ok());
    }

    #[test]
    fn is_negative_only_and_fields() {
        assert!(not(w("a")).is_negative_only());
        assert!(Node::And(vec![not(w("a")), not(w("b"))]).is_negative_only());
        assert!(!Node::And(vec![w("a"), not(w("b"))]).is_negative_only());
        assert!(Node::Or(vec![w("a"), not(w("b"))]).is_negative_only());
        assert!(!Node::Or(vec![w("a"), w("b")]).is_negative_only());
        assert!(!text(Field::Tag, "x").is_negative_only());

        let q = ok(
            "from:ana tag:vip -tag:spam (is:open OR status:pending) has:attachment \
                    after:2026-01-01 before:2026-02-01 priority:p1 team:ventas to:x channel:email \
                    assignee:me category:billing hola",
        );
        assert_eq!(
            q.fields(),
            vec![
                Field::From,
                Field::Tag,
                Field::Is,
                Field::Status,
                Field::Has,
                Field::After,
                Field::Before,
                Field::Priority,
                Field::Team,
                Field::To,
                Field::Channel,
                Field::Assignee,
                Field::Category,
            ]
        );
        assert!(ok("hola \"from:x\"").fields().is_empty());
    }

    #[test]
    fn unicode_positions_are_char_offsets() {
        // "llegó " is 6 characters but 7 bytes.
        let e = fails("llegó -", 7, "a term after \"-\"");
        assert_eq!(e.found, "end of query");
        fails("llegó ¿dónde? \"sin cerrar", 14, "a closing \"");
        fails("ñandú is:cerrado", 9, IS_VALUES);
        fails("😀😀 (", 4, "a search term inside the parentheses");
        fails("envío from:", 11, "a value after \"from:\"");
        fails("café)", 4, "an opening \"(\" before this \")\"");
        fails("ó*", 0, "at least 2 characters before \"*\"");
    }

    #[test]
    fn error_display() {
        let e = parse("before:2026-13-01").unwrap_err();
        assert_eq!(
            e.to_string(),
            "at position 7: expected a date as YYYY-MM-DD, found \"2026-13-01\""
        );
        let e = parse("\"abc").unwrap_err();
        assert_eq!(
            e.to_string(),
            "at position 0: expected a closing \", found end of query"
        );
    }

    #[test]
    fn realistic_queries() {
        assert_eq!(
            ok("from:ana@x.com \"no me llegó\" -tag:spam is:open"),
            Node::And(vec![
                text(Field::From, "ana@x.com"),
                p("no me llegó"),
                not(text(Field::Tag, "spam")),
                Node::Field(Field::Is, Value::Status(StatusValue::Open)),
            ])
        );
        assert_eq!(
            ok("#A-1042 OR @ana_p factura*"),
            Node::Or(vec![
                w("#A-1042"),
                Node::And(vec![w("@ana_p"), Node::Prefix("factura".into())])
            ])
        );
        assert_eq!(
            ok("(refund OR reembolso) has:attachment priority:P1 -is:resolved"),
            Node::And(vec![
                Node::Or(vec![w("refund"), w("reembolso")]),
                Node::Field(Field::Has, Value::HasAttachment),
                Node::Field(Field::Priority, Value::Priority(1)),
                not(Node::Field(Field::Is, Value::Status(StatusValue::Resolved))),
            ])
        );
    }

    /// Checks what the AST promises; panics with the query otherwise.
    fn check_invariants(q: &str, node: &Node) {
        match node {
            Node::And(c) | Node::Or(c) => {
                assert!(c.len() >= 2, "{q:?}: {node:?}");
                for child in c {
                    let same = matches!(
                        (node, child),
                        (Node::And(_), Node::And(_)) | (Node::Or(_), Node::Or(_))
                    );
                    assert!(!same, "{q:?}: not flattened: {node:?}");
                    check_invariants(q, child);
                }
            }
            Node::Not(inner) => check_invariants(q, inner),
            Node::Word(s) => {
                assert!(
                    !s.is_empty() && !s.contains(char::is_whitespace),
                    "{q:?}: {s:?}"
                );
                assert!(!s.contains(['"', '(', ')']), "{q:?}: {s:?}");
                assert!(s != "OR", "{q:?}");
            }
            Node::Prefix(s) => assert!(s.chars().count() >= 2, "{q:?}: {s:?}"),
            Node::Phrase(s) => {
                assert!(
                    !s.is_empty() && s.trim() == s && !s.contains("  "),
                    "{q:?}: {s:?}"
                );
            }
            Node::Field(_, Value::Text(s)) => assert!(!s.is_empty(), "{q:?}"),
            Node::Field(_, Value::Priority(n)) => assert!((1..=4).contains(n), "{q:?}"),
            Node::Field(..) => {}
        }
    }

    /// Randomized stand-in for a proptest (proptest is not a dependency of
    /// this crate): a fixed-seed xorshift generator strings together pieces
    /// of the syntax and random characters, and `parse` must neither panic
    /// nor break its promises.
    #[test]
    fn random_queries_never_panic() {
        const PIECES: &[&str] = &[
            " ",
            "  ",
            "\t",
            "\u{a0}",
            "(",
            ")",
            "\"",
            "-",
            "*",
            ":",
            "OR",
            "or",
            "a",
            "ab",
            "fact",
            "llegó",
            "¿",
            "😀",
            "ñ",
            "from:",
            "FROM:",
            "tag:",
            "is:",
            "is:open",
            "is:mine",
            "status:",
            "priority:p",
            "1",
            "5",
            "has:",
            "attachment",
            "before:",
            "after:",
            "2026-01-01",
            "2026-13-01",
            "0000-01-01",
            "9999-12-31",
            "-",
            "--",
            "@",
            "#A-1042",
            "\"a b\"",
            "\"\"",
            "x.com",
            "\u{0}",
            "\r\n",
            "\u{301}",
            "\u{202e}",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rand = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..30_000 {
            let pieces = (rand() % 24) as usize;
            let mut q = String::new();
            for _ in 0..pieces {
                if rand() % 8 == 0 {
                    let c = char::from_u32((rand() % 0x11_0000) as u32).unwrap_or('?');
                    q.push(c);
                } else {
                    q.push_str(PIECES[(rand() % PIECES.len() as u64) as usize]);
                }
            }
            match parse(&q) {
                Ok(node) => {
                    check_invariants(&q, &node);
                    assert!(!node.is_negative_only(), "{q:?}");
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    assert!(
                        !e.expected.is_empty() && !e.found.is_empty(),
                        "{q:?}: {e:?}"
                    );
                    assert!(e.position <= q.chars().count(), "{q:?}: {e:?}");
                }
            }
        }
    }
}
