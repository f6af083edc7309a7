//! Deterministic, realistic support-message corpus used by benchmarks and tests.
//!
//! A [`Corpus`] is an infinite stream of inbound customer messages in Spanish and English
//! over every channel, thread by thread (1–8 messages each, ascending time), written by a
//! pool of recurring customers. Output depends only on `(seed, end_ms)`: the PRNG
//! (SplitMix64), the tables and all arithmetic (integers only) live in this file, so a seed
//! yields the same sequence on every platform and Rust version. Followers and `verified`
//! are only reported on public channels (x, facebook, mastodon); elsewhere they are 0/false.

use std::collections::HashSet;
use std::fmt::Write as _;

/// One generated inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusMessage {
    pub channel: &'static str,
    pub external_id: String,
    pub thread: String,
    pub handle: String,
    pub name: String,
    pub email: Option<String>,
    pub followers: u64,
    pub verified: bool,
    pub language: &'static str,
    pub category: &'static str,
    pub subject: Option<String>,
    pub text: String,
    pub sent_at_ms: i64,
}

const CHANNELS: [&str; 8] = [
    "api", "email", "x", "facebook", "telegram", "mastodon", "whatsapp", "webchat",
];
const CATEGORIES: [&str; 8] = [
    "billing",
    "outage",
    "delivery",
    "sales",
    "thanks",
    "troll",
    "smalltalk",
    "question",
];
const POOL: usize = 3000;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
const YEAR: i64 = 365 * DAY;
const CATEGORY_W: [u32; 8] = [18, 13, 18, 11, 8, 6, 6, 20];
const PRIMARY_W: [u32; 8] = [8, 28, 18, 12, 5, 4, 13, 12];
/// Channel weights (in `CHANNELS` order) per category (in `CATEGORIES` order).
const CHANNEL_W: [[u32; 8]; 8] = [
    [10, 34, 14, 10, 4, 2, 12, 14],
    [8, 18, 30, 12, 6, 6, 8, 12],
    [8, 30, 16, 12, 4, 2, 16, 12],
    [6, 30, 8, 10, 4, 2, 14, 26],
    [2, 20, 30, 18, 6, 8, 8, 8],
    [0, 2, 55, 25, 4, 12, 0, 2],
    [0, 4, 45, 20, 8, 15, 4, 4],
    [8, 26, 12, 10, 6, 3, 15, 20],
];
/// Thread length (1..=8) weights for complaints, enquiries, pleasantries and trolling.
const LEN_W: [[u32; 8]; 4] = [
    [30, 22, 16, 11, 8, 6, 4, 3],
    [45, 25, 14, 8, 4, 2, 1, 1],
    [70, 22, 8, 0, 0, 0, 0, 0],
    [78, 16, 6, 0, 0, 0, 0, 0],
];
const LEN_GROUP: [usize; 8] = [0, 0, 0, 1, 2, 3, 2, 1];
/// Thread starts per UTC hour.
const HOUR_W: [u32; 24] = [
    4, 3, 2, 2, 2, 3, 6, 12, 18, 22, 22, 21, 19, 20, 21, 20, 18, 17, 16, 15, 13, 11, 8, 6,
];
/// Heavy-tailed followers: tier weights (per mille) and tier bounds.
const FOLLOWER_W: [u32; 7] = [300, 280, 200, 120, 66, 27, 7];
const FOLLOWER_LO: [u64; 8] = [0, 50, 200, 500, 2_000, 10_000, 100_000, 500_001];
/// Handle and email local-part patterns: F/L first/last name, f/l initials, y two digits.
const HANDLES: [&str; 7] = ["F_l", "FL", "F_L", "FLy", "fL", "L_F", "Fy"];
const LOCALS: [&str; 6] = ["F.L", "F.L", "FL", "fL", "F.Ly", "F_l"];

mod compose;
mod phrases;

use compose::*;
use phrases::*;

/// SplitMix64: tiny, fast and fully specified, so sequences never change.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    /// True with probability `p` per mille.
    fn pm(&mut self, p: u64) -> bool {
        self.below(1000) < p
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    fn weighted(&mut self, w: &[u32]) -> usize {
        let mut x = self.below(w.iter().map(|&x| u64::from(x)).sum());
        let pos = w.iter().position(|&wi| {
            x < u64::from(wi) || {
                x -= u64::from(wi);
                false
            }
        });
        pos.unwrap_or(w.len() - 1)
    }
}

struct Customer {
    name: String,
    first: &'static str,
    handle: String,
    email: String,
    phone: String,
    visitor: u64,
    instance: &'static [&'static str],
    followers: u64,
    verified: bool,
    es: bool,
    pound: bool,
    primary: usize,
    /// 0 careful, 1 casual, 2 sloppy.
    style: usize,
    emoji: u64,
    temper: u64,
}

/// A thread and the facts its messages share (same order, amount, product...).
struct Thread {
    key: String,
    cust: usize,
    channel: usize,
    cat: usize,
    len: u32,
    idx: u32,
    t: i64,
    share_email: bool,
    subject: Option<String>,
    order: (char, u64),
    cents: u64,
    n: u64,
    e: u64,
    pick: u64,
    date: i64,
}

/// An infinite, deterministic stream of support messages.
pub struct Corpus {
    rng: Rng,
    seed: u64,
    end_ms: i64,
    customers: Vec<Customer>,
    msg_no: u64,
    thread_no: u64,
    thread: Option<Thread>,
}

impl Corpus {
    /// A corpus for `seed` whose messages fall in the year before `end_ms` (unix ms).
    pub fn new(seed: u64, end_ms: i64) -> Self {
        let (mut r, mut used) = (Rng(seed ^ 0x5EED_C0FF_EE00_0001), HashSet::new());
        let customers = (0..POOL).map(|_| customer(&mut r, &mut used)).collect();
        let rng = Rng(seed.rotate_left(17) ^ 0xA7A1_A7A0_0000_0000);
        Corpus {
            rng,
            seed,
            end_ms,
            customers,
            msg_no: 0,
            thread_no: 0,
            thread: None,
        }
    }

    /// Next message; a thread's 1–8 messages come consecutively, in ascending time.
    pub fn next_message(&mut self) -> CorpusMessage {
        let mut th = match self.thread.take() {
            Some(th) if th.idx < th.len => th,
            _ => self.new_thread(),
        };
        let r = &mut self.rng;
        if th.idx > 0 {
            let mins = [r.range(3, 60), r.range(60, 720), r.range(720, 5760)];
            let gap = mins[r.weighted(&[40, 35, 25])] as i64 * MIN + r.below(MIN as u64) as i64;
            th.t = (th.t + gap).min(self.end_ms - 1);
        }
        let c = &self.customers[th.cust];
        let text = Composer::new(r, &th, c).message();
        let subject = th.subject.as_ref().map(|s| match th.idx {
            0 => s.clone(),
            _ => format!("{}{s}", if r.pm(300) { "RE: " } else { "Re: " }),
        });
        let channel = CHANNELS[th.channel];
        let handle = match channel {
            "email" | "api" => c.email.clone(),
            "whatsapp" => c.phone.clone(),
            "webchat" if th.share_email => c.email.clone(),
            "webchat" => format!("visitor-{:08x}", c.visitor as u32),
            "mastodon" => format!("@{}@{}", c.handle, nth(c.instance, c.visitor)),
            _ => format!("@{}", c.handle),
        };
        let public = matches!(channel, "x" | "facebook" | "mastodon");
        let msg = CorpusMessage {
            channel,
            external_id: format!("c{}-{}", self.seed, self.msg_no),
            thread: th.key.clone(),
            handle,
            name: c.name.clone(),
            email: th.share_email.then(|| c.email.clone()),
            followers: if public { c.followers } else { 0 },
            verified: public && c.verified,
            language: if c.es { "es" } else { "en" },
            category: CATEGORIES[th.cat],
            subject,
            text,
            sent_at_ms: th.t,
        };
        (th.idx, self.msg_no) = (th.idx + 1, self.msg_no + 1);
        self.thread = Some(th);
        msg
    }

    fn new_thread(&mut self) -> Thread {
        let (r, n) = (&mut self.rng, self.customers.len() as u64);
        let regular = r.below(n) + 1; // half the threads favour low indices: regulars
        let bound = if r.pm(500) { n } else { regular };
        let cust = r.below(bound) as usize;
        let c = &self.customers[cust];
        let (cat, lo) = (r.weighted(&CATEGORY_W), self.end_ms - YEAR);
        let w = &CHANNEL_W[cat];
        let keep = r.pm(600) && w[c.primary] >= 8; // customers mostly stick to one channel
        let channel = if keep { c.primary } else { r.weighted(w) };
        let t = loop {
            let day = lo.div_euclid(DAY) + r.below(366) as i64;
            let t = day * DAY + r.weighted(&HOUR_W) as i64 * HOUR + r.below(HOUR as u64) as i64;
            if (lo..self.end_ms).contains(&t) {
                break t;
            }
        };
        let cents = [
            r.range(3, 99) * 100 + 99,
            r.range(300, 9_999),
            r.range(10_000, 199_999),
        ];
        let letter = *r.pick(b"ABCDEFGHKLMNPRSTUVWXYZ") as char;
        let mut th = Thread {
            key: format!("c{}-t{}", self.seed, self.thread_no),
            cust,
            channel,
            cat,
            len: r.weighted(&LEN_W[LEN_GROUP[cat]]) as u32 + 1,
            idx: 0,
            t,
            share_email: r.pm(match CHANNELS[channel] {
                "email" | "api" => 1000,
                "webchat" => 550,
                "whatsapp" => 150,
                _ => 120,
            }),
            subject: None,
            order: (letter, r.range(1000, 99_999)),
            cents: cents[r.weighted(&[45, 20, 35])],
            n: r.range(2, 15),
            e: *r.pick(&[5, 8, 10, 12, 15, 20, 25, 30, 40, 50, 80, 100, 150, 200, 500]),
            pick: r.next(),
            date: t.div_euclid(DAY) - r.range(1, 14) as i64,
        };
        self.thread_no += 1;
        if CHANNELS[channel] == "email" {
            th.subject = Some(Composer::new(r, &th, c).subject());
        }
        th
    }
}

impl Iterator for Corpus {
    type Item = CorpusMessage;
    fn next(&mut self) -> Option<CorpusMessage> {
        Some(self.next_message())
    }
}

/// The first `n` messages of `Corpus::new(seed, end_ms)`.
pub fn generate(seed: u64, end_ms: i64, n: usize) -> Vec<CorpusMessage> {
    Corpus::new(seed, end_ms).take(n).collect()
}

fn nth(v: &[&'static str], i: u64) -> &'static str {
    v[(i % v.len() as u64) as usize]
}

fn customer(r: &mut Rng, used: &mut HashSet<String>) -> Customer {
    let es = r.pm(600);
    let names_es = if r.pm(60) { !es } else { es };
    let com = &lang(names_es).com;
    let (first, last) = (*r.pick(&com["first"]), *r.pick(&com["last"]));
    let last2 = r.pick(&com["last"]);
    let name = match names_es && r.pm(300) {
        true => format!("{first} {last} {last2}"),
        false => format!("{first} {last}"),
    };
    let (f, l) = (ascii_lower(first), ascii_lower(last));
    let yy = (r.below(40) + 70) % 100;
    let pattern = |p: &str, max: usize| {
        let mut s = String::new();
        for ch in p.chars() {
            let _ = match ch {
                'F' | 'L' => s.write_str(if ch == 'F' { &f } else { &l }),
                'f' | 'l' => s.write_str(if ch == 'f' { &f[..1] } else { &l[..1] }),
                'y' => write!(s, "{yy:02}"),
                _ => s.write_char(ch),
            };
        }
        s.chars().take(max).collect::<String>()
    };
    let (hp, lp) = (*r.pick(&HANDLES), *r.pick(&LOCALS));
    let (handle, local) = (pattern(hp, 14), pattern(lp, 40));
    let domain = format!("@{}", r.pick(&com["domain"]));
    let pound = !es && r.pm(450);
    let phone = match (es, pound) {
        (true, _) => format!("+346{:08}", r.below(100_000_000)),
        (_, true) => format!("+447{:09}", r.below(1_000_000_000)),
        _ => format!("+1{}555{:04}", r.range(201, 989), r.below(10_000)),
    };
    let tier = r.weighted(&FOLLOWER_W);
    let span = r.below(FOLLOWER_LO[tier + 1] - FOLLOWER_LO[tier]);
    let followers = FOLLOWER_LO[tier] + r.below(span + 1); // skewed to the tier's low end
    Customer {
        name,
        first,
        handle: unique(used, r, &handle, ""),
        email: unique(used, r, &local, &domain),
        phone: unique(used, r, &phone, ""),
        visitor: r.next(),
        instance: com["instance"].as_slice(),
        followers,
        verified: r.pm([2, 2, 2, 2, 20, 150, 600][tier]),
        es,
        pound,
        primary: r.weighted(&PRIMARY_W),
        style: r.weighted(&[45, 38, 17]),
        emoji: [r.below(50), r.range(100, 300), r.range(400, 800)][r.weighted(&[4, 4, 2])],
        temper: [0, r.below(60), r.below(200)][r.weighted(&[3, 5, 2])],
    }
}

/// `base + tail`, with digits inserted before `tail` until it is unused.
fn unique(used: &mut HashSet<String>, r: &mut Rng, base: &str, tail: &str) -> String {
    let mut s = format!("{base}{tail}");
    while !used.insert(s.clone()) {
        s = format!("{base}{}{tail}", r.below(10_000));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const END: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn threads(msgs: &[CorpusMessage]) -> Vec<&[CorpusMessage]> {
        msgs.chunk_by(|a, b| a.thread == b.thread).collect()
    }

    #[test]
    fn deterministic_per_seed() {
        assert_eq!(generate(42, END, 3000), generate(42, END, 3000));
        assert_ne!(generate(42, END, 200), generate(43, END, 200));
        assert_eq!(
            Corpus::new(7, END).take(500).collect::<Vec<_>>(),
            generate(7, END, 500)
        );
    }

    #[test]
    fn ids_threads_and_timestamps() {
        let msgs = generate(1, END, 20_000);
        let ids: HashSet<&str> = msgs.iter().map(|m| m.external_id.as_str()).collect();
        assert_eq!(ids.len(), msgs.len());
        let ts = threads(&msgs);
        let keys: HashSet<&str> = ts.iter().map(|t| t[0].thread.as_str()).collect();
        assert_eq!(
            keys.len(),
            ts.len(),
            "a thread's messages must be consecutive"
        );
        for t in &ts {
            assert!((1..=8).contains(&t.len()), "thread of {}", t.len());
            assert!(t.windows(2).all(|w| w[0].sent_at_ms <= w[1].sent_at_ms));
            assert!(
                t.iter()
                    .all(|m| (m.category, m.channel) == (t[0].category, t[0].channel))
            );
        }
        assert!(
            ts.iter().any(|t| t.len() >= 5)
                && ts.iter().filter(|t| t.len() == 1).count() > ts.len() / 4
        );
        assert!(
            msgs.iter()
                .all(|m| (END - YEAR..END).contains(&m.sent_at_ms))
        );
    }

    #[test]
    fn languages_categories_channels_and_fields() {
        let msgs = generate(2, END, 20_000);
        let es = msgs.iter().filter(|m| m.language == "es").count() as f64 / msgs.len() as f64;
        assert!((0.5..0.7).contains(&es), "es share {es}");
        assert!(
            msgs.iter()
                .all(|m| m.language == "es" || m.language == "en")
        );
        assert!(
            CATEGORIES
                .iter()
                .all(|c| msgs.iter().any(|m| m.category == *c))
        );
        assert!(
            CHANNELS
                .iter()
                .all(|c| msgs.iter().any(|m| m.channel == *c))
        );
        for m in &msgs {
            assert_eq!(m.subject.is_some(), m.channel == "email");
            assert!(
                !m.text.trim().is_empty() && !m.text.contains('{'),
                "{:?}",
                m.text
            );
            assert!(m.email.as_ref().is_none_or(|e| e.contains('@')));
        }
    }

    #[test]
    fn followers_heavy_tailed_and_customers_recur() {
        let msgs = generate(4, END, 20_000);
        let mut f: Vec<u64> = msgs
            .iter()
            .filter(|m| m.channel == "x")
            .map(|m| m.followers)
            .collect();
        f.sort_unstable();
        assert!(f[f.len() / 2] < 1000, "median {}", f[f.len() / 2]);
        assert!(f.iter().any(|&x| x > 10_000));
        let mut channels_per_email = HashMap::<&str, HashSet<&str>>::new();
        let mut threads_per_handle = HashMap::<&str, usize>::new();
        for t in threads(&msgs) {
            *threads_per_handle.entry(t[0].handle.as_str()).or_default() += 1;
            if let Some(e) = &t[0].email {
                channels_per_email
                    .entry(e)
                    .or_default()
                    .insert(t[0].channel);
            }
        }
        assert!(
            threads_per_handle.values().any(|&n| n >= 4),
            "regulars write several threads"
        );
        assert!(
            channels_per_email.values().any(|c| c.len() >= 3),
            "cross-channel customers"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(month_day(0), (1, 1));
        assert_eq!(month_day(END / DAY), (1, 1));
        assert_eq!(month_day(END / DAY - 1), (12, 31));
        assert_eq!(month_day(19_782), (2, 29)); // 2024-02-29
    }
}
