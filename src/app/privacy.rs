//! Personal data in a public reply (pure): email addresses, phone numbers,
//! card numbers (Luhn-checked), IBANs and postal addresses, in Spanish and
//! English. A public answer that contains one is held with a warning that
//! suggests a private message instead.

/// What kind of personal data `text` contains (empty: none found).
pub fn personal_data(text: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    if has_email(text) {
        found.push("an email address");
    }
    if has_card(text) {
        found.push("a card number");
    } else if has_phone(text) {
        found.push("a phone number");
    }
    if has_iban(text) {
        found.push("an account number (IBAN)");
    }
    if has_address(text) {
        found.push("a postal address");
    }
    found
}

fn has_email(text: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '(' | ')'))
        .any(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric());
            match w.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && domain
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
                }
                None => false,
            }
        })
}

/// Runs of digits, allowing the separators people type inside numbers.
fn digit_runs(text: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut cur = String::new();
    let mut gap = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            cur.push(c);
            gap = 0;
        } else if !cur.is_empty() && matches!(c, ' ' | '-' | '.' | '(' | ')' | '/') && gap == 0 {
            gap += 1;
        } else {
            if !cur.is_empty() {
                runs.push(std::mem::take(&mut cur));
            }
            gap = 0;
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let mut d = c.to_digit(10).unwrap_or(0);
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

fn has_card(text: &str) -> bool {
    digit_runs(text)
        .iter()
        .any(|r| (13..=19).contains(&r.len()) && luhn(r))
}

fn has_phone(text: &str) -> bool {
    // 9+ digits (Spanish numbers have 9; international ones more), allowing
    // a leading `+`. Order numbers are usually shorter or prefixed (#A-1042).
    digit_runs(text).iter().any(|r| (9..=15).contains(&r.len()))
}

fn has_iban(text: &str) -> bool {
    // Two letters and two check digits at a word start, then 12+ more
    // letters or digits (spaces allowed between groups, as IBANs are printed).
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len()).any(|i| {
        let at_start = i == 0 || !chars[i - 1].is_alphanumeric();
        if !at_start || i + 4 > chars.len() {
            return false;
        }
        let head = &chars[i..i + 4];
        if !(head[0].is_ascii_alphabetic()
            && head[1].is_ascii_alphabetic()
            && head[2].is_ascii_digit()
            && head[3].is_ascii_digit())
        {
            return false;
        }
        let rest = chars[i + 4..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == ' ')
            .filter(|c| c.is_ascii_alphanumeric())
            .count();
        rest >= 12
    })
}

fn has_address(text: &str) -> bool {
    let lower = crate::app::canned::norm(text);
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '/')
        .filter(|w| !w.is_empty())
        .collect();
    const STREET: &[&str] = &[
        "calle",
        "c",
        "avenida",
        "avda",
        "av",
        "plaza",
        "pza",
        "paseo",
        "camino",
        "carretera",
        "street",
        "st",
        "avenue",
        "ave",
        "road",
        "rd",
        "lane",
        "boulevard",
        "blvd",
        "drive",
    ];
    // A street word next to a house number: "calle Mayor 12", "12 Baker Street".
    words.iter().enumerate().any(|(i, w)| {
        STREET.contains(w) && {
            let near = words[i.saturating_sub(3)..(i + 4).min(words.len())].iter();
            near.clone()
                .any(|x| x.chars().all(|c| c.is_ascii_digit()) && x.len() <= 4)
                && near
                    .clone()
                    .any(|x| x.chars().any(|c| c.is_alphabetic()) && !STREET.contains(x))
        }
    }) || words.windows(2).any(|w| {
        // Spanish postal code with a city: "28013 Madrid".
        w[0].len() == 5
            && w[0].chars().all(|c| c.is_ascii_digit())
            && w[1].len() > 2
            && w[1].chars().all(char::is_alphabetic)
            && matches!(
                &w[0][..2],
                "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09"
            )
            || (w[0].len() == 5
                && w[0].chars().all(|c| c.is_ascii_digit())
                && w[0][..2]
                    .parse::<u32>()
                    .is_ok_and(|p| (10..=52).contains(&p))
                && w[1].chars().all(char::is_alphabetic)
                && w[1].len() > 2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "Escríbenos a soporte@tienda.es y lo vemos",
                &["an email address"],
            ),
            (
                "Write to ana.perez+orders@example.co.uk",
                &["an email address"],
            ),
            ("Llámanos al 600 123 456", &["a phone number"]),
            ("call +44 20 7946 0958 please", &["a phone number"]),
            (
                "Tu tarjeta 4111 1111 1111 1111 fue cargada",
                &["a card number"],
            ),
            ("card 4111-1111-1111-1112 (not Luhn)", &[]),
            (
                "IBAN ES91 2100 0418 4502 0005 1332",
                &["an account number (IBAN)"],
            ),
            ("Lo enviamos a Calle Mayor 12, 3º B", &["a postal address"]),
            ("ship to 221 Baker Street", &["a postal address"]),
            ("Entrega en 28013 Madrid", &["a postal address"]),
            ("Tu pedido #A-1042 ya salió", &[]),
            ("Lo siento mucho, lo revisamos hoy mismo", &[]),
            ("Sorry about that, order 1042 ships on the 12th", &[]),
            ("el precio es 19,99 € desde 2026", &[]),
            ("@ana_p gracias por avisar", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(personal_data(text), *want, "{text}");
        }
    }
}
