//! `atalaya bench triage`: the cost of one triage decision (rules +
//! routing) with a large rule set and many agents, and of a rules
//! simulation over a store of past messages. Numbers are printed, never
//! asserted.

use super::{data_dir, fail, ingest_all, pct, to_inbound};
use crate::corpus::Corpus;
use crate::domain::{ChannelKind, SystemClock, TeamId, Ts, UserId};
use crate::metrics::Metrics;
use crate::store::{Store, StoreOptions};
use crate::triage::{
    self, AgentState, Availability, Conditions, Effects, Prefer, RouteRequest, Rule, RuleDoc,
    RuleSet, Strategy, TriageInput,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct TriageArgs {
    /// Rules in the set (the presets, then generated rules up to this many).
    #[arg(long, default_value_t = 200)]
    pub rules: usize,
    /// Agents routing chooses among.
    #[arg(long, default_value_t = 100)]
    pub agents: usize,
    /// Timed decisions.
    #[arg(long, default_value_t = 20_000)]
    pub decisions: usize,
    /// Past messages in the store for the simulation (0: skip it).
    #[arg(long, default_value_t = 100_000)]
    pub messages: usize,
    /// Keep the generated store here (re-used when it has messages).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// Words the generated rules look for (from the corpus's vocabulary).
const WORDS: &[&str] = &[
    "pedido",
    "factura",
    "cobro",
    "envío",
    "devolución",
    "tarjeta",
    "cuenta",
    "precio",
    "oferta",
    "app",
    "web",
    "contraseña",
    "order",
    "invoice",
    "refund",
    "card",
    "account",
    "price",
    "login",
    "shipping",
    "delay",
    "tracking",
    "subscription",
    "plan",
    "error",
    "crash",
    "slow",
    "roto",
    "tarde",
    "nunca",
    "ayuda",
    "help",
    "urgent",
    "queja",
    "complaint",
    "manager",
    "cancel",
    "cancelar",
    "descuento",
    "discount",
];

/// The presets plus generated rules up to `n`.
pub fn big_rule_set(n: usize) -> RuleSet {
    let mut doc: RuleDoc =
        toml::from_str(triage::presets::PRESETS_TOML).expect("the presets parse");
    // Generated rules go before the presets' topic rules (which stop
    // evaluation once one matches), so that every rule is evaluated.
    let at = doc
        .rules
        .iter()
        .position(|r| r.stop)
        .unwrap_or(doc.rules.len());
    let mut generated = Vec::new();
    let mut i = 0usize;
    while doc.rules.len() + generated.len() < n {
        let w = |k: usize| WORDS[(i * 7 + k * 13) % WORDS.len()].to_string();
        let mut when = Conditions {
            phrases: vec![
                format!("{} {}", w(0), w(1)),
                w(2),
                format!("{}*", w(3).chars().take(4).collect::<String>()),
            ],
            ..Default::default()
        };
        match i % 5 {
            0 => when.channels = vec!["email".into(), "x".into()],
            1 => when.min_followers = Some(1000 + i as u64),
            2 => when.sentiment_below = Some(-0.3),
            3 => when.public = Some(true),
            _ => when.repeat_within_hours = Some(24),
        }
        generated.push(Rule {
            id: format!("generated-{i}"),
            name: format!("generated rule {i}"),
            enabled: true,
            when,
            then: Effects {
                score: (i % 11) as i32 - 5,
                tags: if i.is_multiple_of(3) {
                    vec![format!("g{}", i % 10)]
                } else {
                    vec![]
                },
                ..Default::default()
            },
            stop: false,
        });
        i += 1;
    }
    doc.rules.splice(at..at, generated);
    RuleSet::compile(doc).expect("the generated rule set compiles")
}

/// `n` agents over 5 teams, tiers 1–3, most of them online.
pub fn agents(n: usize) -> Vec<AgentState> {
    let skills = ["billing", "outage", "delivery", "sales", "general"];
    (0..n)
        .map(|i| AgentState {
            id: UserId(i as u64 + 1),
            name: format!("Agent {i}"),
            tier: (i % 3) as u8 + 1,
            teams: vec![TeamId((i % 5) as u64 + 1)],
            skills: vec![skills[i % 5].into(), skills[(i / 5) % 5].into()],
            languages: if i % 2 == 0 {
                vec!["es".into(), "en".into()]
            } else {
                vec!["es".into()]
            },
            capacity: 8,
            availability: match i % 10 {
                0 => Availability::Offline,
                1 => Availability::Away,
                _ => Availability::Online,
            },
            working: true,
            open_load: (i % 9) as u32,
            avg_first_response_secs: Some(300 + (i as u32 * 37) % 3600),
            csat: Some(3.0 + (i % 20) as f32 / 10.0),
            last_assigned: i as u64,
        })
        .collect()
}

pub async fn triage(args: TriageArgs) -> Result<(), crate::cli::Failure> {
    let set = big_rule_set(args.rules);
    let staff = agents(args.agents);
    let now = Ts::from_jiff(jiff::Timestamp::now());
    let mut corpus = Corpus::new(11, now.0);
    let inputs: Vec<TriageInput> = (0..args.decisions.max(1))
        .map(|i| {
            let m = corpus.next_message();
            TriageInput {
                text: m.text,
                channel_kind: m.channel.into(),
                channel: m.channel.into(),
                public: matches!(m.channel, "x" | "facebook" | "mastodon"),
                language: None,
                lifetime_value_cents: (i as i64 % 50) * 10_000,
                vip: i % 40 == 0,
                purchases: vec![],
                followers: Some(m.followers),
                verified: m.verified,
                account_created_at: None,
                avatar: None,
                previous_contact: (i % 4 == 0).then(|| (Ts(now.0 - 3_600_000), "email".into())),
                waiting_since: Some(Ts(m.sent_at_ms)),
                open_now: true,
                category: None,
                now,
            }
        })
        .collect();
    eprintln!(
        "triage decisions: {} rules, {} agents, {} corpus messages (es/en, every channel)",
        set.doc().rules.len(),
        staff.len(),
        inputs.len()
    );
    // Warm up (lexicon, automata).
    for inp in inputs.iter().take(200) {
        std::hint::black_box(set.decide(inp));
    }
    let mut both = Vec::with_capacity(inputs.len());
    let mut rules_only = Vec::with_capacity(inputs.len());
    let mut routed = 0usize;
    for (i, inp) in inputs.iter().enumerate() {
        let t = Instant::now();
        let d = set.decide(inp);
        let mid = t.elapsed();
        let req = RouteRequest {
            team: Some(TeamId((i % 5) as u64 + 1)),
            strategy: match i % 3 {
                0 => Strategy::RoundRobin,
                1 => Strategy::LeastLoaded,
                _ => Strategy::BestMatch,
            },
            tier: d.tier,
            category: d.category.clone(),
            language: d.language.clone(),
            last_agent: None,
            prefer: d.prefer.or((i % 7 == 0).then_some(Prefer::Csat)),
        };
        let r = triage::routing::route(&req, &staff);
        let all = t.elapsed();
        routed += usize::from(r.assignee.is_some());
        std::hint::black_box(r);
        rules_only.push(mid);
        both.push(all);
    }
    both.sort();
    rules_only.sort();
    let mean = |v: &[Duration]| v.iter().sum::<Duration>() / v.len().max(1) as u32;
    println!(
        "decision (rules + routing): p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs, max {:.1} µs ({} of {} routed)",
        pct(&both, 0.5).as_secs_f64() * 1e6,
        pct(&both, 0.99).as_secs_f64() * 1e6,
        mean(&both).as_secs_f64() * 1e6,
        both.last().copied().unwrap_or_default().as_secs_f64() * 1e6,
        routed,
        both.len()
    );
    println!(
        "  of which rules: p50 {:.1} µs, p99 {:.1} µs",
        pct(&rules_only, 0.5).as_secs_f64() * 1e6,
        pct(&rules_only, 0.99).as_secs_f64() * 1e6
    );
    if args.messages == 0 {
        return Ok(());
    }
    simulation(&args, set).await
}

async fn simulation(args: &TriageArgs, set: RuleSet) -> Result<(), crate::cli::Failure> {
    let (dir, _tmp) = data_dir(args.data.as_ref())?;
    let clock: Arc<dyn crate::domain::Clock> = Arc::new(SystemClock);
    let store = Store::open(
        &dir,
        StoreOptions::default(),
        clock.clone(),
        Arc::new(Metrics::default()),
    )
    .map_err(|e| fail(e.to_string()))?;
    let app = Arc::new(crate::app::App::new(
        store.clone(),
        Arc::new(crate::config::Config::default()),
        clock.clone(),
        Arc::new(crate::workers::Registry::new(clock)),
    ));
    let existing = store
        .read(|r| r.message_count())
        .await
        .map_err(|e| fail(e.to_string()))?;
    if existing == 0 {
        eprintln!("filling: {} corpus messages…", args.messages);
        let rules = app.ingest_rules();
        let end = Ts::from_jiff(jiff::Timestamp::now()).0;
        let bar = indicatif::ProgressBar::new(args.messages as u64);
        let mut corpus = Corpus::new(5, end);
        let mut done = 0;
        while done < args.messages {
            let chunk: Vec<_> = (0..20_000.min(args.messages - done))
                .map(|_| {
                    let mut m = to_inbound(corpus.next_message());
                    m.channel = "api".into();
                    m.kind = ChannelKind::Api;
                    m
                })
                .collect();
            done += chunk.len();
            ingest_all(&store, chunk, &rules, &bar, 2048).await;
        }
        bar.finish_and_clear();
    }
    app.load_rules().await.map_err(|e| fail(e.to_string()))?;
    let (conversations, messages) = store
        .read(|r| Ok((r.conversation_count()?, r.message_count()?)))
        .await
        .map_err(|e| fail(e.to_string()))?;
    eprintln!(
        "simulating {} rules over {messages} messages in {conversations} conversations…",
        set.doc().rules.len()
    );
    let t = Instant::now();
    let report = app
        .simulate_with(Arc::new(set), 3650)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let took = t.elapsed();
    println!(
        "simulation: {} customer messages ({} conversations) decided twice in {:.2} s ({:.0} messages/s); {} would change priority, {} category, {} assignment",
        report.messages,
        report.conversations,
        took.as_secs_f64(),
        report.messages as f64 / took.as_secs_f64().max(1e-9),
        report.priority_changes,
        report.category_changes,
        report.assignment_changes
    );
    store.shutdown().await;
    Ok(())
}
