//! A lexicon-based sentiment scorer for Spanish and English: fast,
//! deterministic, and explainable (every word that counted is returned).
//!
//! The lexicon (`lexicon.txt`, written for Atalaya) gives words and short
//! phrases a valence from -4 to 4; emoji have their own table. Around each
//! hit, in the manner of VADER:
//! * a negation among the three words before it (`no`, `nunca`, `not`,
//!   `never`, `isn't`…) flips and damps it (× -0.74): "no está mal" is mildly
//!   positive, "not good" negative;
//! * an intensifier just before it (`muy`, `super`, `very`, `so`…) adds 1 to
//!   its size, a softener (`algo`, `poco`, `slightly`…) takes 0.5 away;
//! * a word in capitals in a text that is not all capitals adds 0.733;
//! * after `pero` / `but` words count 1.5×, before it 0.5×;
//! * each `!` (up to four) pushes the total 0.292 further from zero.
//!
//! The sum is squashed to -1..1 with `x / sqrt(x² + 15)`.

use std::collections::HashMap;
use std::sync::OnceLock;

const NEGATION_SCALE: f32 = -0.74;
const BOOST: f32 = 1.0;
const DAMP: f32 = 0.5;
const CAPS: f32 = 0.733;
const EXCLAIM: f32 = 0.292;
const ALPHA: f32 = 15.0;

/// Negation words (folded: no accents, no apostrophes).
pub(crate) const NEGATORS: &[&str] = &[
    "no", "nunca", "jamas", "ni", "tampoco", "sin", "nada", "nadie", "ningun", "ninguna", "not",
    "never", "nobody", "nothing", "none", "neither", "nor", "without", "cannot", "dont", "doesnt",
    "didnt", "isnt", "wasnt", "arent", "werent", "cant", "wont", "wouldnt", "shouldnt", "havent",
    "hasnt", "hadnt", "aint",
];
const BOOSTERS: &[&str] = &[
    "muy",
    "super",
    "tan",
    "demasiado",
    "totalmente",
    "realmente",
    "completamente",
    "absolutamente",
    "increiblemente",
    "sumamente",
    "bastante",
    "mas",
    "very",
    "so",
    "really",
    "totally",
    "absolutely",
    "completely",
    "extremely",
    "incredibly",
    "utterly",
    "too",
    "such",
    "most",
];
const DAMPENERS: &[&str] = &[
    "algo",
    "poco",
    "ligeramente",
    "casi",
    "slightly",
    "somewhat",
    "barely",
    "hardly",
    "almost",
    "kinda",
    "little",
];
const BUT: &[&str] = &["pero", "aunque", "but", "however", "although"];

const EMOJI: &[(char, f32)] = &[
    ('😡', -3.0),
    ('🤬', -4.0),
    ('😤', -2.0),
    ('😠', -3.0),
    ('👎', -2.0),
    ('😞', -2.0),
    ('😢', -2.0),
    ('😭', -3.0),
    ('😩', -2.0),
    ('😕', -1.0),
    ('🙄', -1.0),
    ('🤡', -2.0),
    ('💩', -3.0),
    ('😒', -2.0),
    ('🙏', 1.0),
    ('😊', 2.0),
    ('🙂', 1.0),
    ('😀', 2.0),
    ('😃', 2.0),
    ('😍', 3.0),
    ('❤', 3.0),
    ('💙', 3.0),
    ('👏', 2.0),
    ('🎉', 2.0),
    ('🙌', 2.0),
    ('💪', 1.0),
    ('👍', 2.0),
    ('🥰', 3.0),
];

/// One word (or phrase or emoji) that counted, with what it added.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub term: String,
    pub value: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sentiment {
    /// -1 (very negative) .. 1 (very positive).
    pub compound: f32,
    pub hits: Vec<Hit>,
}

impl Sentiment {
    pub fn is_negative(&self) -> bool {
        self.compound <= -0.05
    }
}

struct Lexicon {
    words: HashMap<String, f32>,
    /// The longest phrase, in words.
    longest: usize,
}

fn lexicon() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| {
        let mut words = HashMap::new();
        let mut longest = 1;
        for line in include_str!("lexicon.txt").lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((term, value)) = line.split_once('\t') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f32>() else {
                continue;
            };
            let term = fold(term.trim());
            longest = longest.max(term.split(' ').count());
            words.insert(term, value);
        }
        Lexicon { words, longest }
    })
}

/// Lowercase without accents (and `ñ` → `n`, apostrophes dropped).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        out.push(match c {
            'á' | 'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            '\'' | '’' => continue,
            c => c,
        });
    }
    out
}

/// A token: the folded word, whether it was written in capitals, and its
/// clause (punctuation starts a new one; negation does not cross it).
struct Token {
    word: String,
    caps: bool,
    clause: usize,
}

fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut clause = 0;
    let mut word = String::new();
    let mut flush = |word: &mut String, clause: usize| {
        if !word.is_empty() {
            out.push(Token {
                word: fold(word),
                caps: word.chars().count() >= 3
                    && word.chars().any(char::is_alphabetic)
                    && word.chars().all(|c| !c.is_lowercase()),
                clause,
            });
            word.clear();
        }
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' || c == '’' {
            word.push(c);
            continue;
        }
        flush(&mut word, clause);
        if matches!(c, ',' | '.' | ';' | ':' | '!' | '?' | '¡' | '¿' | '\n') {
            clause += 1;
        }
    }
    flush(&mut word, clause);
    out
}

/// Score a text.
pub fn score(text: &str) -> Sentiment {
    let lex = lexicon();
    let toks = tokens(text);
    let all_caps = toks.iter().all(|t| t.caps || t.word.chars().count() < 3);
    let but_at = toks.iter().rposition(|t| BUT.contains(&t.word.as_str()));
    let mut hits = Vec::new();
    let mut sum = 0.0f32;
    let mut i = 0;
    while i < toks.len() {
        // The longest phrase starting here.
        let mut found = None;
        for n in (1..=lex.longest.min(toks.len() - i)).rev() {
            let phrase = toks[i..i + n]
                .iter()
                .map(|t| t.word.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            if let Some(v) = lex.words.get(&phrase) {
                found = Some((phrase, *v, n));
                break;
            }
        }
        let Some((term, base, n)) = found else {
            i += 1;
            continue;
        };
        let mut v = base;
        let prev = i.checked_sub(1).map(|j| toks[j].word.as_str());
        if let Some(p) = prev {
            if BOOSTERS.contains(&p) {
                v += BOOST * v.signum();
            } else if DAMPENERS.contains(&p) {
                v -= DAMP * v.signum();
            }
        }
        if !all_caps && toks[i..i + n].iter().any(|t| t.caps) {
            v += CAPS * v.signum();
        }
        let clause = toks[i].clause;
        let negated = (1..=3)
            .filter_map(|k| i.checked_sub(k))
            .map(|j| &toks[j])
            .take_while(|t| t.clause == clause)
            .any(|t| NEGATORS.contains(&t.word.as_str()));
        if negated {
            v *= NEGATION_SCALE;
        }
        match but_at {
            Some(b) if i > b => v *= 1.5,
            Some(b) if i < b => v *= 0.5,
            _ => {}
        }
        sum += v;
        hits.push(Hit { term, value: v });
        i += n;
    }
    for c in text.chars() {
        let c = if c == '♥' { '❤' } else { c };
        if let Some((_, v)) = EMOJI.iter().find(|(e, _)| *e == c) {
            sum += v;
            hits.push(Hit {
                term: c.to_string(),
                value: *v,
            });
        }
    }
    let bangs = text.matches('!').count().min(4) as f32;
    if sum != 0.0 {
        sum += bangs * EXCLAIM * sum.signum();
    }
    Sentiment {
        compound: sum / (sum * sum + ALPHA).sqrt(),
        hits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> f32 {
        score(text).compound
    }

    #[test]
    fn table_in_spanish_and_english() {
        // (text, expected sign: -1 negative, 0 neutral, 1 positive)
        let table: &[(&str, i8)] = &[
            (
                "Me cobraron dos veces la factura de noviembre, ¡es un robo!",
                -1,
            ),
            ("Gracias, todo perfecto 😊", 1),
            ("¿A qué hora abren el sábado?", 0),
            ("No está mal", 1),
            ("NO FUNCIONA NADA, es una ESTAFA!!!", -1),
            ("Servicio pésimo y lentísimo", -1),
            ("Muy amables, lo recomiendo", 1),
            ("I love it, great service", 1),
            ("This is not good", -1),
            ("Worst company ever, total scam 🤬", -1),
            ("What time do you open on Saturday?", 0),
            ("👍", 1),
            ("😡😡", -1),
            ("Facturación", 0),
        ];
        for (text, want) in table {
            let got = c(text);
            let sign = if got >= 0.05 {
                1
            } else if got <= -0.05 {
                -1
            } else {
                0
            };
            assert_eq!(sign, *want, "{text}: {got} {:?}", score(text).hits);
        }
    }

    #[test]
    fn modifiers_move_the_score_the_right_way() {
        assert!(c("muy malo") < c("malo"), "intensifier");
        assert!(c("algo malo") > c("malo"), "softener");
        assert!(
            c("es TERRIBLE, la verdad") < c("es terrible, la verdad"),
            "capitals"
        );
        assert!(c("bad!!!") < c("bad"), "exclamations");
        assert!(c("bad!!!!!!!!") == c("bad!!!!"), "at most four count");
        assert!(c("no es bueno") < 0.0 && c("bueno") > 0.0, "negation flips");
        assert!(c("not bad") > 0.0, "negated negative is mildly positive");
        assert!(c("not bad") < c("good"));
        // After "pero" what follows weighs more.
        assert!(c("el producto es bueno pero el envío fatal") < 0.0);
        assert!(c("el envío fatal pero el producto es bueno") > 0.0);
        // Accents and case do not matter to the lexicon.
        assert_eq!(c("pésimo"), c("pesimo"));
        // Phrases are matched as one hit.
        let s = score("vaya cobro abusivo");
        assert_eq!(s.hits.len(), 1, "{:?}", s.hits);
        assert_eq!(s.hits[0].term, "cobro abusivo");
    }

    #[test]
    fn deterministic_bounded_and_explained() {
        let text = "¡¡¡ESTO ES UNA VERGÜENZA!!! 😡 no pienso volver, ladrones";
        let a = score(text);
        assert_eq!(a, score(text));
        assert!(a.compound > -1.0 && a.compound < -0.5, "{a:?}");
        let terms: Vec<&str> = a.hits.iter().map(|h| h.term.as_str()).collect();
        assert!(
            terms.contains(&"verguenza") && terms.contains(&"ladrones") && terms.contains(&"😡")
        );
        for junk in ["", "!!!", "\u{0}\u{7f}", &"a".repeat(100_000)] {
            let s = score(junk);
            assert!((-1.0..=1.0).contains(&s.compound) && !s.compound.is_nan());
        }
    }
}
