//! What the demo's customers write, and when: the bilingual corpus
//! (`crate::corpus`: double charges, surprise fees, outages, lost or broken
//! parcels, price and demo requests, thanks, trolls), mixed with angry posts
//! from verified accounts with a large audience and with brand chatter that
//! names no trigger word (it lands in the Mentions stream).

use super::{Options, facebook, mastodon, telegram, x};
use crate::corpus::{Corpus, CorpusMessage};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A customer on the fake networks.
#[derive(Clone, Debug)]
pub(super) struct Person {
    /// A stable numeric id (Telegram user id, X user id).
    pub id: u64,
    pub name: String,
    /// Without `@`.
    pub handle: String,
    pub followers: u64,
    pub verified: bool,
    /// Writes in Spanish (else English).
    pub es: bool,
}

/// How a message is written on its network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// A public post addressed to us (a mention, a group message to the bot).
    Mention,
    /// A public post that names the brand without addressing us (X search).
    Brand,
    /// A private message (a DM, a private chat, a direct status).
    Private,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Net {
    Telegram,
    Mastodon,
    X,
    Facebook,
}

pub(super) struct Networks {
    pub telegram: Arc<telegram::Fake>,
    pub mastodon: Arc<mastodon::Fake>,
    pub x: Arc<x::Fake>,
    pub facebook: Arc<facebook::Fake>,
}

/// Posts about the brand with no trigger word: social listening material.
const CHATTER_ES: &[&str] = &[
    "Acabo de estrenar el reloj Vela S de #Nordia y me encanta 😍",
    "¿Alguien ha probado el patinete Ruta E3 de Nordia? Tiene buena pinta",
    "Qué anuncio más bonito el de Nordia en la tele 👏",
    "En la oficina ya somos cinco con el móvil Nordia One, qué moda",
    "El altavoz Kora Mini de Nordia suena mejor de lo que esperaba 🔊",
    "Nordia patrocina la carrera popular de mi barrio este domingo 🏃",
];
const CHATTER_EN: &[&str] = &[
    "Just unboxed my Nordia One phone and it looks gorgeous",
    "Anyone tried the Nordia Ruta E3 scooter? Thinking about it",
    "That Nordia billboard at the station made me smile today",
    "The Kora Mini speaker from #Nordia is tiny but loud 🔊",
    "Shoutout to Nordia for the lovely packaging, very tidy",
    "Nordia is sponsoring our local hackathon this weekend 🎉",
];

/// Angry posts from accounts with a large audience (all name a trigger).
const LOUD_ES: &[&str] = &[
    "Tercera vez este mes que la app de Nordia no funciona y nadie da explicaciones. Así no se puede 😡",
    "Me habéis cobrado dos veces el pedido y llevo una semana esperando el reembolso. INACEPTABLE.",
    "Una comisión de 14,99 € que nadie me explicó. Quiero una reclamación formal y mi dinero, Nordia.",
];
const LOUD_EN: &[&str] = &[
    "My Nordia order never arrived and your chat keeps closing on me. My followers will hear about this.",
    "Charged a surprise service fee by Nordia with zero explanation. Refund, now.",
    "Nordia has been down all morning. Three of my clients can't work. Not acceptable!!",
];
const LOUD_PEOPLE: &[(&str, &str, u64)] = &[
    ("Carla Montero", "carlamontero_tech", 248_000),
    ("Dave Okafor", "daveokafor", 512_300),
    ("Lucía Ferrán", "luciaferran", 96_400),
    ("Tom Reyes", "tomreyes_reviews", 1_204_000),
];

/// What the customer answers after one of our replies.
const BACK_ES: &[&str] = &[
    "¡Gracias! Ya está solucionado 🙏",
    "Sigue sin funcionar, ¿me podéis llamar?",
    "Vale, gracias por la respuesta tan rápida.",
    "Todavía no me ha llegado el reembolso, ¿cuándo será?",
];
const BACK_EN: &[&str] = &[
    "Thanks! All sorted now 🙏",
    "Still not working, can someone call me?",
    "OK, thanks for the quick answer.",
    "The refund hasn't arrived yet, when will it?",
];

/// The customer's answer number `k`.
pub(super) fn answer_back(es: bool, k: u64) -> &'static str {
    let list = if es { BACK_ES } else { BACK_EN };
    list[(k as usize) % list.len()]
}

/// Every other reply gets an answer back, a few seconds later.
pub(super) fn answer_delay(k: u64) -> Option<Duration> {
    k.is_multiple_of(2).then(|| Duration::from_secs(4 + k % 4))
}

fn hash(s: &str) -> u64 {
    // FNV-1a: stable ids for generated people.
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `José Ibáñez` → `jose_ibanez`.
fn slug(name: &str) -> String {
    name.chars()
        .filter_map(|c| {
            let c = c.to_lowercase().next().unwrap_or(c);
            let folded = match c {
                'á' | 'à' | 'ä' | 'â' => 'a',
                'é' | 'è' | 'ë' | 'ê' => 'e',
                'í' | 'ì' | 'ï' | 'î' => 'i',
                'ó' | 'ò' | 'ö' | 'ô' => 'o',
                'ú' | 'ù' | 'ü' | 'û' => 'u',
                'ñ' => 'n',
                'ç' => 'c',
                ' ' => '_',
                c => c,
            };
            (folded == '_' || folded.is_ascii_alphanumeric()).then_some(folded)
        })
        .collect()
}

fn person_of(m: &CorpusMessage) -> Person {
    let handle = match m.handle.strip_prefix('@') {
        Some(h) => h.split('@').next().unwrap_or(h).to_string(),
        None => format!("{}{}", slug(&m.name), hash(&m.name) % 100),
    };
    let h = hash(&handle);
    Person {
        id: 100_000_000 + h % 900_000_000,
        name: m.name.clone(),
        followers: if m.followers > 0 {
            m.followers
        } else {
            20 + h % 1500
        },
        verified: m.verified,
        es: m.language == "es",
        handle,
    }
}

/// The corpus text without its own `@mentions` (each network adds ours).
fn clean(text: &str) -> String {
    text.split(' ')
        .filter(|w| !w.starts_with('@'))
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_string()
}

struct Script {
    corpus: Corpus,
    last_thread: String,
    n: u64,
    /// Chatter posts used so far, per language (English, Spanish).
    chatter: [usize; 2],
}

impl Script {
    fn new() -> Script {
        let now = jiff::Timestamp::now().as_millisecond();
        Script {
            corpus: Corpus::new(20_261_204, now),
            last_thread: String::new(),
            n: 0,
            chatter: [0; 2],
        }
    }

    /// The next first message of a thread, written on a chat or social
    /// channel (long emails read oddly as posts).
    fn corpus_message(&mut self, complaint: bool) -> CorpusMessage {
        loop {
            let m = self.corpus.next_message();
            let new_thread = m.thread != self.last_thread;
            self.last_thread = m.thread.clone();
            if !new_thread || m.channel == "email" || m.text.chars().count() > 270 {
                continue;
            }
            if complaint && !matches!(m.category, "billing" | "outage" | "delivery") {
                continue;
            }
            return m;
        }
    }

    fn next(&mut self) -> (Net, Person, Shape, String) {
        let n = self.n;
        self.n += 1;
        let net = [Net::Telegram, Net::Mastodon, Net::X, Net::Facebook][(n % 4) as usize];
        let slot = n % 10;
        if matches!(slot, 3 | 5 | 8) && net != Net::Telegram {
            // Brand chatter: a mention or (on X) a post naming the brand.
            let m = self.corpus_message(false);
            let p = person_of(&m);
            let list = if p.es { CHATTER_ES } else { CHATTER_EN };
            let used = &mut self.chatter[usize::from(p.es)];
            let text = list[*used % list.len()].to_string();
            *used += 1;
            let shape = if net == Net::X && slot != 5 {
                Shape::Brand
            } else {
                Shape::Mention
            };
            return (net, p, shape, text);
        }
        if matches!(slot, 1 | 6) && net != Net::Telegram {
            // A loud customer: verified, a large audience, angry, in public.
            let k = (n as usize / 5) % LOUD_PEOPLE.len();
            let (name, handle, followers) = LOUD_PEOPLE[k];
            let es = k.is_multiple_of(2);
            let list = if es { LOUD_ES } else { LOUD_EN };
            let p = Person {
                id: 900_000_000 + k as u64,
                name: name.into(),
                handle: handle.into(),
                followers,
                verified: true,
                es,
            };
            return (
                net,
                p,
                Shape::Mention,
                list[(n as usize / 10) % list.len()].into(),
            );
        }
        let m = self.corpus_message(false);
        let public = matches!(m.channel, "x" | "facebook" | "mastodon");
        let shape = match (public, net) {
            (false, _) => Shape::Private,
            (true, Net::X) if n % 2 == 1 => Shape::Brand,
            (true, _) => Shape::Mention,
        };
        let mut text = clean(&m.text);
        if shape == Shape::Brand && !text.to_lowercase().contains("nordia") {
            text.push_str(" #Nordia");
        }
        (net, person_of(&m), shape, text)
    }
}

fn dispatch(nets: &Networks, item: (Net, Person, Shape, String)) {
    let (net, p, shape, text) = item;
    match net {
        Net::Telegram => nets.telegram.push(&p, shape, &text),
        Net::Mastodon => nets.mastodon.push(&p, shape, &text),
        Net::X => nets.x.push(&p, shape, &text),
        Net::Facebook => nets.facebook.push(&p, shape, &text),
    }
}

/// Replay the stream until `stop`.
pub(super) async fn run(nets: Networks, opts: Options, mut stop: watch::Receiver<bool>) {
    let mut script = Script::new();
    for _ in 0..opts.burst {
        if *stop.borrow() {
            return;
        }
        dispatch(&nets, script.next());
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    let every = opts.interval.max(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => dispatch(&nets, script.next()),
            _ = stop.wait_for(|v| *v) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_mixes_networks_shapes_and_people() {
        let mut s = Script::new();
        let items: Vec<_> = (0..30).map(|_| s.next()).collect();
        for net in [Net::Telegram, Net::Mastodon, Net::X, Net::Facebook] {
            assert!(items.iter().any(|i| i.0 == net));
        }
        for shape in [Shape::Mention, Shape::Brand, Shape::Private] {
            assert!(items.iter().any(|i| i.2 == shape), "{shape:?}");
        }
        assert!(items.iter().any(|i| i.1.verified && i.1.followers > 50_000));
        // No chatter post twice in a short demo.
        let chatter: Vec<&String> = items
            .iter()
            .map(|i| &i.3)
            .filter(|t| CHATTER_ES.contains(&t.as_str()) || CHATTER_EN.contains(&t.as_str()))
            .collect();
        let distinct: std::collections::HashSet<_> = chatter.iter().collect();
        assert_eq!(distinct.len(), chatter.len(), "{chatter:?}");
        assert!(
            items
                .iter()
                .all(|i| !i.3.trim().is_empty() && !i.1.handle.is_empty())
        );
        // Chatter names no trigger: it is for the Mentions stream.
        let rules = super::super::listening("Nordia");
        for t in CHATTER_ES.iter().chain(CHATTER_EN) {
            assert_eq!(
                crate::channels::social::listening::trigger(&rules, t),
                None,
                "{t}"
            );
        }
        for t in LOUD_ES.iter().chain(LOUD_EN) {
            assert!(
                crate::channels::social::listening::trigger(&rules, t).is_some(),
                "{t}"
            );
        }
    }
}
