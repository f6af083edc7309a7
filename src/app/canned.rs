//! Canned responses: template rendering, validation, the `/shortcut` picker search and
//! tag-based suggestions. A pure decision core (DESIGN.md invariant 5): no I/O, no clock.

use std::cmp::Reverse;
use std::fmt;

/// Values a template can use.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    pub contact_name: String,
    /// Explicit first name if known; else derived from `contact_name` (first word).
    pub contact_first_name: Option<String>,
    pub agent_name: String,
    pub business_name: String,
    pub conversation_id: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenderError {
    /// Unknown variable names (trimmed), each with the byte offset of its `{{`.
    Unknown(Vec<(String, usize)>),
    /// A `{{` without a closing `}}`, at this byte offset. Takes precedence over `Unknown`.
    Unclosed(usize),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Unclosed(at) => write!(f, "unclosed {{{{ at {at}"),
            RenderError::Unknown(list) => {
                let parts = list.iter().map(|(name, at)| match did_you_mean(name) {
                    Some(s) => format!(
                        "unknown variable {{{{{name}}}}} at {at} (did you mean {{{{{s}}}}}?)"
                    ),
                    None => format!("unknown variable {{{{{name}}}}} at {at}"),
                });
                f.write_str(&parts.collect::<Vec<_>>().join("; "))
            }
        }
    }
}

impl std::error::Error for RenderError {}

/// Known variable names.
pub const VARIABLES: &[&str] = &[
    "contact.first_name",
    "contact.name",
    "agent.name",
    "agent.initials",
    "business.name",
    "conversation.id",
];

/// Renders `{{ name }}` placeholders (spaces inside the braces optional). Unknown variables
/// are all reported, never output raw. Values are inserted verbatim, not re-parsed.
/// `\{{` is a literal `{{`; any other backslash (so `\\{{` is `\` + a literal `{{`) or
/// lone brace is literal text.
pub fn render(template: &str, vars: &Vars) -> Result<String, RenderError> {
    let b = template.as_bytes();
    let (mut out, mut unknown) = (String::with_capacity(template.len() + 32), Vec::new());
    let (mut i, mut lit) = (0, 0);
    while i < b.len() {
        if b[i] == b'\\' && b[i + 1..].starts_with(b"{{") {
            out.push_str(&template[lit..i]);
            out.push_str("{{");
            i += 3;
            lit = i;
        } else if b[i..].starts_with(b"{{") {
            out.push_str(&template[lit..i]);
            let Some(len) = template[i + 2..].find("}}") else {
                return Err(RenderError::Unclosed(i));
            };
            let name = template[i + 2..i + 2 + len].trim();
            match VARIABLES.iter().find(|v| **v == name) {
                Some(v) => out.push_str(&value(v, vars)),
                None => unknown.push((name.to_string(), i)),
            }
            i += len + 4;
            lit = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&template[lit..]);
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(RenderError::Unknown(unknown))
    }
}

/// Checks a template without values (for saving a canned response): same errors as render.
pub fn validate(template: &str) -> Result<(), RenderError> {
    render(template, &Vars::default()).map(drop)
}

fn value(name: &str, vars: &Vars) -> String {
    match name {
        "contact.first_name" => first_name(vars).to_string(),
        "contact.name" => vars.contact_name.trim().to_string(),
        "agent.name" => vars.agent_name.trim().to_string(),
        "agent.initials" => initials(&vars.agent_name),
        "business.name" => vars.business_name.trim().to_string(),
        "conversation.id" => vars.conversation_id.to_string(),
        _ => String::new(),
    }
}

/// The explicit first name if non-blank, else the first word of the contact name ("" if none).
fn first_name(vars: &Vars) -> &str {
    match vars.contact_first_name.as_deref().map(str::trim) {
        Some(f) if !f.is_empty() => f,
        _ => vars.contact_name.split_whitespace().next().unwrap_or(""),
    }
}

/// "^" + the uppercased first letter of each word ("Juan Carlos" → "^JC"); "" for no words.
fn initials(name: &str) -> String {
    let letters: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().find(|c| c.is_alphabetic()))
        .flat_map(char::to_uppercase)
        .collect();
    if letters.is_empty() {
        letters
    } else {
        format!("^{letters}")
    }
}

/// The closest known variable by edit distance (≤ 3), ties in `VARIABLES` order.
pub fn did_you_mean(name: &str) -> Option<&'static str> {
    let (best, d) = VARIABLES
        .iter()
        .map(|v| (*v, edit_distance(name, v)))
        .min_by_key(|p| p.1)?;
    (d <= 3).then_some(best)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A canned response as the search sees it.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub shortcut: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub tags: &'a [String],
}

/// Lowercase, strip common Latin diacritics (precomposed or combining), collapse whitespace.
pub(crate) fn norm(s: &str) -> String {
    let lower = s.chars().flat_map(char::to_lowercase);
    let folded: String = lower
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .map(fold)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Groups of a plain letter followed by the accented (lowercase) letters folded into it.
const FOLDS: &str = "aàáâãäåāăą cçćĉċč dďđ eèéêëēĕėęě iìíîïĩīĭįı nñńņň oòóôõöøōŏő \
                     uùúûüũūŭůűų yýÿ sśşš zźżž lł gğ rř tţť";

fn fold(c: char) -> char {
    if c.is_ascii() {
        return c;
    }
    let group = FOLDS.split(' ').find(|g| g.chars().skip(1).any(|x| x == c));
    group.and_then(|g| g.chars().next()).unwrap_or(c)
}

/// fzf-like subsequence score (optimal alignment): each match scores, word starts and
/// consecutive runs earn bonuses, gaps cost. `None` if `q` is not a subsequence of `s`.
fn fuzzy(q: &[char], s: &[char]) -> Option<i64> {
    const NONE: i64 = i64::MIN / 4;
    let mut prev: Vec<i64> = Vec::new();
    for (i, &qc) in q.iter().enumerate() {
        let mut cur = vec![NONE; s.len()];
        let mut gap_best = NONE; // max over k <= j - 2 of prev[k] + k
        for (j, &sc) in s.iter().enumerate() {
            let jj = j as i64;
            if i > 0 && j >= 2 {
                gap_best = gap_best.max(prev[j - 2] + jj - 2);
            }
            if sc != qc {
                continue;
            }
            let bonus = 8 * i64::from(j == 0 || !s[j - 1].is_alphanumeric());
            let from = match (i, j) {
                (0, _) => -jj,
                (_, 0) => NONE,
                _ => (prev[j - 1] + 8).max(gap_best - jj - 2),
            };
            if from > NONE / 2 {
                cur[j] = 16 + bonus + from;
            }
        }
        prev = cur;
    }
    prev.into_iter().max().filter(|&v| v > NONE / 2)
}

fn words(s: &str) -> Vec<&str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// (tier, sub-score) of one candidate, `None` if it does not match at all.
fn score(c: &Candidate<'_>, q: &str, q_compact: &[char]) -> Option<(u8, i64)> {
    let shortcut = norm(c.shortcut.trim_start_matches('/'));
    let compact: String = q_compact.iter().collect();
    if shortcut == compact {
        return Some((5, 0));
    }
    if shortcut.starts_with(&compact) {
        return Some((4, -(shortcut.chars().count() as i64)));
    }
    let sc: Vec<char> = shortcut.chars().collect();
    if let Some(s) = fuzzy(q_compact, &sc) {
        return Some((3, s));
    }
    let title = norm(c.title);
    let (twords, qwords) = (words(&title), words(q));
    let starts_a_title_word = |qw: &&str| twords.iter().any(|tw| tw.starts_with(qw));
    if !qwords.is_empty() && qwords.iter().all(starts_a_title_word) {
        let exact = qwords.iter().filter(|qw| twords.contains(qw)).count();
        return Some((2, exact as i64));
    }
    if title.contains(q) {
        return Some((1, 1));
    }
    norm(c.body).contains(q).then_some((1, 0))
}

/// Fuzzy search for the `/shortcut` picker. Tiers: exact shortcut > shortcut prefix (shorter
/// first) > shortcut subsequence (fzf-like) > title word prefixes > title/body substring.
/// Case- and accent-insensitive. Empty query → all, in input order. Stable for ties.
pub fn search(items: &[Candidate<'_>], query: &str, limit: usize) -> Vec<usize> {
    let q = norm(query.trim().trim_start_matches('/'));
    if q.is_empty() {
        return (0..items.len().min(limit)).collect();
    }
    let q_compact: Vec<char> = q.chars().filter(|c| *c != ' ').collect();
    let mut scored = Vec::new();
    for (i, c) in items.iter().enumerate() {
        scored.extend(score(c, &q, &q_compact).map(|s| (i, s)));
    }
    scored.sort_by_key(|e| Reverse(e.1));
    scored.into_iter().take(limit).map(|(i, _)| i).collect()
}

/// Canned responses whose tags intersect the conversation's tags or category (case- and
/// accent-insensitive), ranked by the number of distinct matches, ties in input order.
pub fn suggest(
    items: &[Candidate<'_>],
    conv_tags: &[String],
    category: Option<&str>,
    limit: usize,
) -> Vec<usize> {
    let mut keys: Vec<String> = conv_tags.iter().map(|t| norm(t)).collect();
    keys.extend(category.map(norm));
    let mut ranked = Vec::new();
    for (i, c) in items.iter().enumerate() {
        let mut tags: Vec<String> = c.tags.iter().map(|t| norm(t)).collect();
        tags.sort();
        tags.dedup();
        let n = tags
            .iter()
            .filter(|t| !t.is_empty() && keys.contains(t))
            .count();
        if n > 0 {
            ranked.push((i, n));
        }
    }
    ranked.sort_by_key(|e| Reverse(e.1));
    ranked.into_iter().take(limit).map(|(i, _)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use RenderError::{Unclosed, Unknown};

    fn vars() -> Vars {
        Vars {
            contact_name: "Ana Pérez García".into(),
            contact_first_name: None,
            agent_name: "Juan Carlos Ruiz".into(),
            business_name: "Ferretería Sol".into(),
            conversation_id: 4217,
        }
    }

    fn r(t: &str) -> Result<String, RenderError> {
        render(t, &vars())
    }

    #[test]
    fn renders_every_variable_with_optional_spaces() {
        let t = "{{contact.first_name}}|{{contact.name}}|{{agent.name}}|{{agent.initials}}|\
                 {{business.name}}|{{conversation.id}}";
        let want = "Ana|Ana Pérez García|Juan Carlos Ruiz|^JCR|Ferretería Sol|4217";
        assert_eq!(r(t).unwrap(), want);
        for v in VARIABLES {
            assert!(!r(&format!("{{{{{v}}}}}")).unwrap().is_empty(), "{v}");
        }
        assert_eq!(r("").unwrap(), "");
        assert_eq!(r("sin variables").unwrap(), "sin variables");
        // Spaces inside the braces are optional.
        assert_eq!(r("Hola {{ contact.first_name }}!").unwrap(), "Hola Ana!");
        assert_eq!(r("{{   agent.name\t}}").unwrap(), "Juan Carlos Ruiz");
        assert_eq!(r("{{conversation.id }}#").unwrap(), "4217#");
    }

    #[test]
    fn escapes_and_lone_braces() {
        assert_eq!(r(r"\{{contact.name}}").unwrap(), "{{contact.name}}");
        assert_eq!(r(r"a \{{ b").unwrap(), "a {{ b");
        assert_eq!(r(r"\{ } }} \n {").unwrap(), r"\{ } }} \n {");
        // Only `\{{` is special: a backslash before it is plain text, the tag stays escaped.
        assert_eq!(r(r"\\{{agent.initials}}").unwrap(), r"\{{agent.initials}}");
        assert_eq!(r("{{contact.first_name}}}").unwrap(), "Ana}");
        assert_eq!(validate(r"\{{nope"), Ok(()));
    }

    #[test]
    fn reports_every_unknown_with_offsets() {
        let t = "Hi {{contact.nmae}}, I'm {{ agent.name }} {{x}}{{}}";
        let want = vec![
            ("contact.nmae".into(), 3),
            ("x".into(), 42),
            (String::new(), 47),
        ];
        assert_eq!(r(t), Err(Unknown(want.clone())));
        assert_eq!(validate(t), Err(Unknown(want)));
        // Offsets are bytes: "ñ" is two.
        assert_eq!(validate("ñ{{a}}"), Err(Unknown(vec![("a".into(), 2)])));
    }

    #[test]
    fn unclosed_display_and_did_you_mean() {
        assert_eq!(r("Hola {{contact.name"), Err(Unclosed(5)));
        assert_eq!(validate("{{x}} {{agent.name} "), Err(Unclosed(6)));
        assert_eq!(Unclosed(40).to_string(), "unclosed {{ at 40");
        let e = validate("Hola, soy {{contact.nmae}} {{zzz}}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown variable {{contact.nmae}} at 10 (did you mean {{contact.name}}?); \
             unknown variable {{zzz}} at 27"
        );
        assert_eq!(did_you_mean("agent.initals"), Some("agent.initials"));
        assert_eq!(did_you_mean("Contact.Name"), Some("contact.name"));
        assert_eq!(did_you_mean("first_name"), None);
        assert_eq!(did_you_mean(""), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn first_name_derivation() {
        let mut v = vars();
        v.contact_name = "Ángela María Núñez".into();
        assert_eq!(first_name(&v), "Ángela");
        v.contact_name = "   Ana    Pérez  ".into();
        assert_eq!(first_name(&v), "Ana");
        assert_eq!(render("{{contact.name}}", &v).unwrap(), "Ana    Pérez");
        v.contact_first_name = Some(" Anita ".into());
        assert_eq!(first_name(&v), "Anita");
        v.contact_first_name = Some("  ".into());
        assert_eq!(first_name(&v), "Ana");
        v.contact_name = String::new();
        assert_eq!(render("[{{contact.first_name}}]", &v).unwrap(), "[]");
    }

    #[test]
    fn agent_initials() {
        assert_eq!(initials("Juan Carlos"), "^JC");
        assert_eq!(initials("maría josé lópez"), "^MJL");
        assert_eq!(initials("  Óscar  "), "^Ó");
        assert_eq!(initials("Juan"), "^J");
        assert_eq!(initials("(Juan) ñandú"), "^JÑ");
        assert_eq!(initials(""), "");
    }

    fn cand<'a>(shortcut: &'a str, title: &'a str, body: &'a str) -> Candidate<'a> {
        Candidate {
            shortcut,
            title,
            body,
            tags: &[],
        }
    }

    fn t(tags: &str) -> Vec<String> {
        tags.split(',')
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect()
    }

    fn tagged(tags: &[String]) -> Candidate<'_> {
        Candidate {
            tags,
            ..cand("", "", "")
        }
    }

    #[test]
    fn search_tiers() {
        let items = [
            cand("gracias", "Agradecimiento", "Gracias por escribir"),
            cand("dev-parcial", "Reembolso parcial", "..."),
            cand("dev", "Devolución", "Puede devolverlo en 30 días"),
            cand("horario", "Horario de atención", "Abrimos a las 9"),
            cand("envio", "Plazos de envío", "La devolución es gratuita"),
            cand("dxexv", "Otro", "..."),
        ];
        // exact > prefix > subsequence > title words > body contains
        assert_eq!(search(&items, "dev", 10), vec![2, 1, 5, 4]);
        assert_eq!(search(&items, "DEVOLUCIÓN", 10), vec![2, 4]);
        assert_eq!(search(&items, "devolucion", 10), vec![2, 4]);
        assert_eq!(search(&items, "/hor", 10), vec![3]);
        assert_eq!(search(&items, "plazos envio", 10), vec![4]);
        assert_eq!(search(&items, "atencion", 10), vec![3]);
        assert_eq!(search(&items, "dev", 1), vec![2]);
        assert!(search(&items, "qqq", 10).is_empty());
        assert_eq!(search(&items, "", 10), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(search(&items, "  ", 3), vec![0, 1, 2]);
        assert!(search(&items, "dev", 0).is_empty());
    }

    #[test]
    fn search_fuzzy_bonuses_and_stable_ties() {
        let items = [
            cand("xaxbxc", "", ""),
            cand("abc-x", "", ""),
            cand("ab-cx", "", ""),
            cand("same", "Título", ""),
            cand("same", "Título", ""),
        ];
        // "ac": consecutive-ish / word starts beat scattered matches.
        let got = search(&items, "ac", 10);
        assert_eq!(got[0], 2, "{got:?}");
        assert_eq!(search(&items, "titulo", 10), vec![3, 4]);
        assert_eq!(search(&items, "same", 10), vec![3, 4]);
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        let score = |q: &str, s: &str| fuzzy(&chars(q), &chars(s));
        assert!(score("rp", "reembolso-parcial") > score("rp", "rxxxxxxp"));
        assert!(score("ab", "xxab") > score("ab", "axxb"));
        assert_eq!(score("ba", "ab"), None);
    }

    #[test]
    fn suggest_ranking() {
        let tags = ["envío", "Envio,Urgente,ENVIO", "otro", ""].map(t);
        let items: Vec<Candidate<'_>> = tags.iter().map(|t| tagged(t)).collect();
        let s = |conv: &str, cat, limit| suggest(&items, &t(conv), cat, limit);
        // Distinct matches rank first; case- and accent-insensitive; ties in input order.
        assert_eq!(s("urgente", Some("ENVÍO"), 10), vec![1, 0]);
        assert_eq!(s("ENVIO", None, 10), vec![0, 1]);
        assert_eq!(s("envio,envio", Some("envio"), 10), vec![0, 1]);
        assert_eq!(s("otro,urgente", None, 1), vec![1]);
        assert_eq!(s("otro,urgente", None, 10), vec![1, 2]);
        assert!(s("", None, 10).is_empty());
        let empty = vec![String::new()];
        assert!(suggest(&[tagged(&empty)], &empty, Some(""), 10).is_empty());
    }

    #[test]
    fn property_render_never_panics_and_never_leaks_braces() {
        let atoms: Vec<&str> = "{{|}}|{|}|\\| |ñ|é|😀|a|\n|{{contact.name}}|{{ agent.initials }}|\
                                {{nope}}|\\{{|contact.first_name|.|日本|{{ contact.nmae }}"
            .split('|')
            .collect();
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize % n
        };
        let (mut ok, mut err) = (0, 0);
        for _ in 0..5000 {
            let len = next(12);
            let t: String = (0..len).map(|_| atoms[next(atoms.len())]).collect();
            let tag_at = |at: usize| t[at..].starts_with("{{");
            let res = render(&t, &vars());
            assert_eq!(validate(&t), res.clone().map(|_| ()), "{t:?}");
            match res {
                Ok(out) => {
                    ok += 1;
                    if !t.contains("\\{{") {
                        assert!(!out.contains("{{"), "{t:?} -> {out:?}");
                    }
                }
                Err(Unclosed(at)) => {
                    err += 1;
                    assert!(tag_at(at) && !t[at + 2..].contains("}}"), "{t:?}");
                }
                Err(Unknown(list)) => {
                    err += 1;
                    assert!(!list.is_empty());
                    assert!(list.iter().all(|(_, at)| tag_at(*at)), "{t:?}");
                    let _ = Unknown(list).to_string();
                }
            }
        }
        assert!(ok > 100 && err > 100, "ok={ok} err={err}");
    }
}
