//! Turning a thread's facts into sentences: slots, styles, typos.

use super::phrases::{Lang, lang};
use super::{CATEGORIES, CHANNELS, Customer, Rng, Thread, nth};
use std::fmt::Write as _;

/// Builds a message sentence by sentence, filling `{slot}`s from the thread.
pub(super) struct Composer<'a> {
    rng: &'a mut Rng,
    th: &'a Thread,
    c: &'a Customer,
    l: &'static Lang,
    s: String,
    start: bool,
}

impl<'a> Composer<'a> {
    pub(super) fn new(rng: &'a mut Rng, th: &'a Thread, c: &'a Customer) -> Self {
        Composer {
            rng,
            th,
            c,
            l: lang(c.es),
            s: String::with_capacity(256),
            start: true,
        }
    }

    fn any(&mut self, key: &str) -> &'static str {
        let (l, th) = (self.l, self.th);
        let v = l.cat[th.cat]
            .get(key)
            .or_else(|| l.com.get(key))
            .expect("known section");
        // Follow-ups rotate so that a thread does not repeat itself.
        let rotate = (th.pick >> 40) + u64::from(th.idx);
        nth(
            v,
            if key == "follow" {
                rotate
            } else {
                self.rng.next()
            },
        )
    }

    /// Appends a sentence from section `key`, capitalized at a sentence start and ended with
    /// `end` unless already punctuated.
    fn say(&mut self, key: &str, end: &str) {
        if !self.s.is_empty() && !self.s.ends_with(char::is_whitespace) {
            self.s.push(' ');
        }
        let (at, tpl) = (self.s.len(), self.any(key));
        self.fill(tpl);
        if self.start && self.c.style < 2 {
            capitalize(&mut self.s, at);
        }
        if !self.s.ends_with(['.', '!', '?', ':', ',']) {
            self.s.push_str(end);
        }
        self.start = self.s.ends_with(['.', '!', '?', ':']);
    }

    fn fill(&mut self, tpl: &str) {
        let mut rest = tpl;
        while let Some((head, tail)) = rest.split_once('{') {
            let (key, after) = tail.split_once('}').unwrap_or((tail, ""));
            self.s.push_str(head);
            self.slot(key);
            rest = after;
        }
        self.s.push_str(rest);
    }

    fn slot(&mut self, key: &str) {
        let (th, c, com, s) = (self.th, self.c, &self.l.com, &mut self.s);
        let ((letter, num), es, pick) = (th.order, c.es, |k: &str, i| nth(&com[k], th.pick >> i));
        let _ = match key {
            "o" => match self.rng.below(10) {
                0..=6 => write!(s, "#{letter}-{num}"),
                7 | 8 => write!(s, "{letter}-{num}"),
                _ => write!(s, "{letter}{num}"),
            },
            "a" => {
                let (units, cents) = (th.cents / 100, th.cents % 100);
                let sep = if es { '.' } else { ',' };
                if !es {
                    s.push(if c.pound { '£' } else { '$' });
                }
                let _ = match units {
                    1000.. => write!(s, "{}{sep}{:03}", units / 1000, units % 1000),
                    _ => write!(s, "{units}"),
                };
                let euro = ["€", " €", " €", " euros"][(th.pick >> 32) as usize % 4];
                if es {
                    write!(s, ",{cents:02}{euro}")
                } else {
                    write!(s, ".{cents:02}")
                }
            }
            "d" => {
                let (m, d) = month_day(th.date);
                let month = com["month"][m as usize - 1];
                match (es, c.style == 2, c.pound) {
                    (true, true, _) | (false, true, true) => write!(s, "{d}/{m}"),
                    (false, true, false) => write!(s, "{m}/{d}"),
                    (true, false, _) => write!(s, "{d} de {month}"),
                    (false, false, true) => write!(s, "{d} {month}"),
                    (false, false, false) => write!(s, "{month} {d}"),
                }
            }
            "n" => write!(s, "{}", th.n),
            "e" => write!(s, "{}", th.e),
            "p" => s.write_str(pick("product", 0)),
            "pl" => s.write_str(pick("plan", 8)),
            "c" => s.write_str(pick("city", 16)),
            "g" => s.write_str(pick("agent", 24)),
            "f" => s.write_str(c.first),
            "b" => s.write_str("Nordia"),
            _ => write!(s, "{{{key}}}"),
        };
    }

    pub(super) fn subject(mut self) -> String {
        if self.th.cat <= 2 && self.rng.pm(60) {
            let urgent = self.any("urgent");
            self.s.push_str(urgent);
        }
        let tpl = self.any("subject");
        self.fill(tpl);
        capitalize(&mut self.s, 0);
        self.s
    }

    pub(super) fn message(mut self) -> String {
        let (th, c, channel, cat) = (self.th, self.c, CHANNELS[self.th.channel], self.th.cat);
        let (email, first) = (channel == "email", th.idx == 0);
        let (troll, complaint) = (cat == 5, cat <= 2);
        if email && (first || self.rng.pm(400)) {
            self.say("greet", "");
            self.s.push_str("\n\n");
            self.start = true;
        } else if matches!(channel, "x" | "mastodon") && self.rng.pm(250 + 250 * first as u64) {
            let mention = self.any("mention");
            self.s.push_str(mention);
            if channel == "mastodon" {
                self.s.push_str("@mastodon.example");
            }
        }
        let open = match (troll, email, first) {
            (true, ..) => 30,
            (_, true, _) => 0,
            (_, _, false) if matches!(cat, 4 | 6) => 0, // no "following up" on pleasantries
            (_, _, true) if matches!(channel, "webchat" | "whatsapp" | "api") => 600,
            _ => 330,
        };
        if self.rng.pm(open) {
            self.say(if first { "open" } else { "fopen" }, "");
        }
        let anger = c.temper + 60 * u64::from(th.idx);
        let done = complaint && !first && th.idx + 1 == th.len && self.rng.pm(300);
        let angry =
            !done && ((complaint && self.rng.pm(150 + anger)) || (troll && self.rng.pm(500)));
        let end = match (angry, c.style == 2 && !email && self.rng.pm(500)) {
            (_, true) => "",
            (true, _) => *self.rng.pick(&["!", "!!", "!!!", "...", "!"]),
            _ => ".",
        };
        self.say(
            if first {
                "main"
            } else if done {
                "done"
            } else {
                "follow"
            },
            end,
        );
        let (detail, ask) = [(120, 200), (300, 450), (300, 300), (700, 750)]
            [usize::from(first) + 2 * usize::from(email)];
        if self.rng.pm(detail) {
            self.say("detail", ".");
        }
        if self.rng.pm(ask) {
            if email && self.rng.pm(400) {
                self.s.push_str("\n\n");
                self.start = true;
            }
            self.say("ask", ".");
        }
        if !email && !troll && self.rng.pm(180) {
            self.say("close", "");
        }
        if self.rng.pm(if email { c.emoji / 6 } else { c.emoji }) {
            let mood = match CATEGORIES[cat] {
                _ if angry => "angry",
                "thanks" => "happy",
                "troll" => "mock",
                _ if complaint => "sad",
                _ => *self.rng.pick(&["happy", "happy", "neutral"]),
            };
            let emoji = self.any(mood);
            let reps = 1 + usize::from(angry) * self.rng.below(3) as usize;
            if !self.s.ends_with(char::is_whitespace) {
                self.s.push(' ');
            }
            self.s.push_str(&emoji.repeat(reps));
        }
        let Composer { rng, mut s, l, .. } = self;
        if c.es && rng.pm([0, 450, 900][c.style]) {
            s = strip_accents(&s, c.style == 1 && rng.pm(500));
        }
        if c.style == 2 && rng.pm(600) {
            s = abbreviate(&s, c.es);
        }
        if rng.pm([15, 60, 200][c.style]) {
            typo(&mut s, rng);
        }
        let caps = match cat {
            5 => 250,
            _ if complaint && !done => 10 + anger / 3 + 20 * u64::from(th.idx),
            _ => 3,
        };
        if rng.pm(caps) {
            s = s.to_uppercase();
        }
        if email {
            s.push_str("\n\n");
            if rng.pm(700) {
                let _ = writeln!(s, "{}", rng.pick(&l.com["sign"]));
            }
            s.push_str(if rng.pm(600) { &c.name } else { c.first });
            if rng.pm(80) {
                let _ = write!(s, "\n\n{}", rng.pick(&l.com["mobile"]));
            }
        }
        s
    }
}

/// Uppercases the first alphanumeric character at or after byte `at`.
pub(super) fn capitalize(s: &mut String, at: usize) {
    if let Some((i, ch)) = s[at..].char_indices().find(|(_, ch)| ch.is_alphanumeric()) {
        let up: String = ch.to_uppercase().collect();
        s.replace_range(at + i..at + i + ch.len_utf8(), &up);
    }
}

const ACCENTED: &str = "áàâäéèêëíìîïóòôöúùûüçÁÉÍÓÚÜÑñ";
const PLAIN: &str = "aaaaeeeeiiiioooouuuucAEIOUUNn";

pub(super) fn fold(ch: char, keep_enye: bool) -> char {
    if ch.is_ascii() || (keep_enye && matches!(ch, 'ñ' | 'Ñ')) {
        return ch;
    }
    let hit = ACCENTED.chars().zip(PLAIN.chars()).find(|&(a, _)| a == ch);
    hit.map_or(ch, |(_, plain)| plain)
}

/// Lowercase ASCII letters only: "Ibáñez" → "ibanez", "O'Brien" → "obrien".
pub(super) fn ascii_lower(s: &str) -> String {
    let folded = strip_accents(&s.to_lowercase(), false);
    folded.chars().filter(char::is_ascii_alphabetic).collect()
}

/// Casual Spanish: no accents and no opening ¿ ¡ ("facturacion", "llego").
pub(super) fn strip_accents(s: &str, keep_enye: bool) -> String {
    let kept = s.chars().filter(|c| !matches!(c, '¿' | '¡'));
    kept.map(|c| fold(c, keep_enye)).collect()
}

/// Texting abbreviations ("q", "xq", "u", "pls").
pub(super) fn abbreviate(s: &str, es: bool) -> String {
    let map = match es {
        true => "que=q qué=q porque=xq también=tb para=pa",
        false => "you=u your=ur please=pls thanks=thx I'm=im",
    };
    let words = s.split(' ').map(|w| {
        let core = w.trim_end_matches(|c: char| !c.is_alphanumeric());
        let short = map
            .split(' ')
            .filter_map(|p| p.split_once('='))
            .find(|(l, _)| *l == core);
        short.map_or(w.to_string(), |(_, short)| {
            short.to_string() + &w[core.len()..]
        })
    });
    words.collect::<Vec<_>>().join(" ")
}

/// Swaps or drops one ASCII letter inside a word.
pub(super) fn typo(s: &mut String, r: &mut Rng) {
    let b = s.as_bytes();
    let ok = |i: usize| b[i - 1..i + 2].iter().all(u8::is_ascii_lowercase) && b[i] != b[i + 1];
    let found = match b.len() {
        0..4 => None,
        len => (0..6)
            .map(|_| 1 + r.below(len as u64 - 2) as usize)
            .find(|&i| ok(i)),
    };
    if let Some(i) = found {
        let swapped = format!("{}{}", b[i + 1] as char, b[i] as char);
        if r.pm(500) {
            s.replace_range(i..i + 2, &swapped);
        } else {
            s.remove(i);
        }
    }
}

/// (month, day) of a day count since 1970-01-01 (proleptic Gregorian).
pub(super) fn month_day(days: i64) -> (i64, i64) {
    let doe = (days + 719_468).rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (month, doy - (153 * mp + 2) / 5 + 1)
}
