//! Social listening rules (pure): does a public mention need an answer?
//!
//! Text and terms are compared lowercased and accent-folded, on word
//! boundaries (`ayuda` matches "¡AYÚDA!" but not "ayudante"); multi-word
//! terms match as phrases; `#hashtags` and `@handles` match as typed, with or
//! without their sigil in the configuration.

use crate::app::canned::norm;
use crate::config::Listening;

/// Built-in trigger words (Spanish and English) used when a channel does not
/// list its own.
pub const DEFAULT_TRIGGERS: &[&str] = &[
    "ayuda",
    "ayudar",
    "necesito asistencia",
    "no funciona",
    "no me funciona",
    "reembolso",
    "devolucion",
    "cobro",
    "cobraron",
    "cobrado",
    "estafa",
    "queja",
    "reclamacion",
    "pedido",
    "no llega",
    "no ha llegado",
    "roto",
    "caido",
    "help",
    "refund",
    "not working",
    "doesn't work",
    "does not work",
    "broken",
    "charged",
    "scam",
    "complaint",
    "order",
    "never arrived",
    "hasn't arrived",
    "outage",
    "down",
    "support",
    "price",
    "precio",
];

/// Words of `s`, folded: letters, digits and the sigils `#`/`@`/`'` kept.
fn words(s: &str) -> Vec<String> {
    norm(s)
        .split(|c: char| !(c.is_alphanumeric() || c == '#' || c == '@' || c == '_' || c == '\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_matches('\'').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether the folded phrase `term` occurs in `ws` on word boundaries.
fn has_phrase(ws: &[String], term: &str) -> bool {
    let t = words(term);
    if t.is_empty() || t.len() > ws.len() {
        return false;
    }
    ws.windows(t.len()).any(|w| w == t.as_slice())
}

/// Why this mention needs an answer (the matched term), if it does.
pub fn trigger(rules: &Listening, text: &str) -> Option<String> {
    let ws = words(text);
    let custom = rules.triggers.as_deref();
    let defaults: Vec<String> = DEFAULT_TRIGGERS.iter().map(|s| s.to_string()).collect();
    let list = custom.unwrap_or(&defaults);
    list.iter().find(|t| has_phrase(&ws, t)).cloned()
}

/// Whether the text is about us at all: one of our handles, hashtags or
/// keywords (a mention delivered by the network's mention API always is).
pub fn about_us(rules: &Listening, text: &str) -> Option<String> {
    let ws = words(text);
    let with = |sigil: char, list: &[String]| {
        list.iter()
            .find(|h| {
                let h = h.trim();
                let bare = h.trim_start_matches(sigil);
                has_phrase(&ws, &format!("{sigil}{bare}"))
            })
            .cloned()
    };
    with('@', &rules.brand_handles)
        .or_else(|| with('#', &rules.hashtags))
        .or_else(|| rules.keywords.iter().find(|k| has_phrase(&ws, k)).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Listening {
        Listening {
            brand_handles: vec!["@TiendaNordia".into()],
            hashtags: vec!["nordia".into(), "#NordiaFail".into()],
            keywords: vec!["Tienda Nordia".into()],
            triggers: None,
        }
    }

    #[test]
    fn triggers_table() {
        let r = rules();
        let cases: &[(&str, Option<&str>)] = &[
            ("@TiendaNordia necesito AYUDA con mi pedido", Some("ayuda")),
            ("¡¡Ayúdenme!! nadie contesta", None),
            ("¡AYUDA!", Some("ayuda")),
            ("busco ayudante de tienda", None),
            ("Me cobraron dos veces @tiendanordia", Some("cobraron")),
            ("quiero un REEMBOLSO ya", Some("reembolso")),
            ("la app NO FUNCIONA desde ayer", Some("no funciona")),
            ("Necesito asistencia urgente", Some("necesito asistencia")),
            (
                "@TiendaNordia please help, my order never arrived",
                Some("help"),
            ),
            ("I want a refund", Some("refund")),
            ("refunds are slow", None),
            ("the site is DOWN again", Some("down")),
            ("Love the new collection @TiendaNordia ❤️", None),
            ("gracias por todo, sois geniales", None),
            ("devolución por favor", Some("devolucion")),
        ];
        for (text, want) in cases {
            assert_eq!(trigger(&r, text).as_deref(), *want, "{text}");
        }
    }

    #[test]
    fn custom_triggers_replace_the_defaults() {
        let mut r = rules();
        r.triggers = Some(vec!["garantía".into()]);
        assert_eq!(
            trigger(&r, "la GARANTIA no cubre").as_deref(),
            Some("garantía")
        );
        assert_eq!(trigger(&r, "necesito ayuda"), None);
    }

    #[test]
    fn about_us_table() {
        let r = rules();
        let cases: &[(&str, bool)] = &[
            ("hola @tiendanordia", true),
            ("hola @TIENDANORDIA!", true),
            ("hola @tiendanordia_es", false),
            ("#Nordia mola", true),
            ("#nordiafail otra vez", true),
            ("nordia sin almohadilla", false),
            ("compré en tienda nordía ayer", true),
            ("compré en otra tienda", false),
        ];
        for (text, want) in cases {
            assert_eq!(about_us(&r, text).is_some(), *want, "{text}");
        }
    }
}
