//! Routing: pick the agent for a conversation, or none (it waits in the
//! team queue), with the reasons.
//!
//! [`route`] is pure and deterministic: the same request and the same
//! agents (in any order) give the same decision, reasons included. No
//! randomness, no clock, no hash-map order; floats are compared with
//! `total_cmp` and every ordering ends with the agent id.
//!
//! # Eligibility
//!
//! An agent can take the conversation when they are
//!
//! 1. a member of the requested team (any agent when no team is given),
//! 2. online (not away, not offline),
//! 3. inside their working hours,
//! 4. under capacity (`capacity == 0` means no cap, else `open_load < capacity`),
//! 5. of the requested tier or higher: agents of exactly the requested tier
//!    first; when none of them can take it, the nearest higher tier that
//!    has an eligible agent (a tier-3 agent covers tier 2; a tier-2 agent
//!    covers tier 1 before a tier-3 one does). Never a lower tier.
//!
//! # Choice
//!
//! * Stickiness: the agent who last helped the contact, when eligible.
//! * `req.prefer` (set by a rule) then overrides the team's strategy: that
//!   criterion first (CSAT: highest first, unknown last; speed: fastest
//!   average first response, unknown last; load: fewest open, then lowest
//!   load ratio), then the best-match score.
//! * Otherwise the team's [`Strategy`]: round-robin (smallest
//!   `last_assigned`), least-loaded (fewest open, then lowest load ratio,
//!   then smallest `last_assigned`) or best-match (highest [`score`]).
//! * Ties always end on the smallest id.
//!
//! # Reasons
//!
//! Short English lines for the triage panel, in this order: the team line
//! (`team 4: 3 of 5 agents available`, or `any team: ...` without a team;
//! "available" counts online, working agents under capacity, any tier),
//! the tier line (`tier 3`, or `no tier-2 agent available; tier 3 covers
//! tier 2`), the choice (`helped this contact before`, `round-robin:
//! longest since last assignment`, `least loaded (2 open)`, `best match
//! (score 78)`, `preferred: best CSAT`...), then what counted for the
//! chosen agent (`skill billing`, `speaks es`, `CSAT 4.8`, `avg first
//! response 12 min`, `load 2/8`). When nobody fits: `no tier-3 agent
//! available; tier 3 needed` (when agents of a lower tier were free),
//! `nobody available: 2 offline, 1 away, 1 outside working hours, 1 at
//! capacity, 2 below tier 3`, and `waits in the team queue`. Teams are
//! named by id (`team 4`); the caller knows their names.

use super::model::*;
use crate::domain::TeamId;
use std::cmp::Ordering;

/// Best-match points for a skill equal to the conversation's category.
pub const SKILL_EXACT: f64 = 40.0;
/// Best-match points for a skill equal to an ancestor of the category
/// (`billing` for `billing/double-charge`).
pub const SKILL_PARENT: f64 = 30.0;
/// Best-match points for speaking the conversation's language.
pub const LANGUAGE: f64 = 20.0;
/// Best-match points at CSAT 5 (linear from 0 at CSAT 1; unknown: half).
pub const CSAT: f64 = 20.0;
/// Best-match points at an instant first response: `SPEED * 30 min /
/// (30 min + avg)`, so half at 30 minutes (unknown: half).
pub const SPEED: f64 = 10.0;
/// Best-match points at no load: `LOAD * (1 - load ratio)`.
pub const LOAD: f64 = 10.0;

/// Average first response worth half the speed points, in seconds.
const SPEED_HALF_SECS: f64 = 1800.0;
/// Uncapped agents' load ratio is `open / (open + this)`.
const UNCAPPED_SCALE: f64 = 10.0;

const QUEUE: &str = "waits in the team queue";

/// Why an agent cannot take the conversation (the first that applies, in
/// this order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Offline,
    Away,
    OffHours,
    AtCapacity,
    BelowTier,
}

fn block(a: &AgentState, tier: u8) -> Option<Block> {
    match a.availability {
        Availability::Offline => Some(Block::Offline),
        Availability::Away => Some(Block::Away),
        Availability::Online if !a.working => Some(Block::OffHours),
        Availability::Online if a.capacity != 0 && a.open_load >= a.capacity => {
            Some(Block::AtCapacity)
        }
        Availability::Online if a.tier < tier => Some(Block::BelowTier),
        Availability::Online => None,
    }
}

fn in_team(a: &AgentState, team: Option<TeamId>) -> bool {
    team.is_none_or(|t| a.teams.contains(&t))
}

/// Open conversations relative to capacity, 0..=1 (uncapped agents:
/// `open / (open + 10)`).
fn load_ratio(a: &AgentState) -> f64 {
    let open = f64::from(a.open_load);
    if a.capacity == 0 {
        open / (open + UNCAPPED_SCALE)
    } else {
        (open / f64::from(a.capacity)).min(1.0)
    }
}

/// A finite CSAT, or None.
fn csat(a: &AgentState) -> Option<f32> {
    a.csat.filter(|c| c.is_finite())
}

/// The primary language subtag: `es` for `es-MX`.
fn primary(lang: &str) -> &str {
    lang.split(['-', '_']).next().unwrap_or(lang).trim()
}

fn speaks(a: &AgentState, lang: &str) -> bool {
    let want = primary(lang);
    !want.is_empty()
        && a.languages
            .iter()
            .any(|l| primary(l).eq_ignore_ascii_case(want))
}

/// The category and its ancestors, most specific first:
/// `billing/double-charge`, then `billing`.
fn category_chain(category: &str) -> impl Iterator<Item = &str> {
    let category = category.trim_matches('/');
    std::iter::successors((!category.is_empty()).then_some(category), |c| {
        c.rfind('/').map(|i| &c[..i])
    })
}

/// How well an agent fits a request, for best-match.
#[derive(Clone, Debug)]
struct Fit {
    score: f64,
    /// The category or ancestor the agent has as a skill.
    skill: Option<String>,
    speaks: bool,
}

fn fit(req: &RouteRequest, a: &AgentState) -> Fit {
    let mut score = 0.0;
    let mut skill = None;
    if let Some(category) = &req.category {
        for (i, c) in category_chain(category).enumerate() {
            if a.skills.iter().any(|s| s.trim().eq_ignore_ascii_case(c)) {
                score += if i == 0 { SKILL_EXACT } else { SKILL_PARENT };
                skill = Some(c.to_string());
                break;
            }
        }
    }
    let speaks = req.language.as_deref().is_some_and(|l| speaks(a, l));
    if speaks {
        score += LANGUAGE;
    }
    score += CSAT * csat(a).map_or(0.5, |c| ((f64::from(c) - 1.0) / 4.0).clamp(0.0, 1.0));
    score += SPEED
        * a.avg_first_response_secs
            .map_or(0.5, |s| SPEED_HALF_SECS / (SPEED_HALF_SECS + f64::from(s)));
    score += LOAD * (1.0 - load_ratio(a));
    Fit {
        score,
        skill,
        speaks,
    }
}

/// The best-match score of one agent for a request (0..=100): skill
/// [`SKILL_EXACT`] or [`SKILL_PARENT`], [`LANGUAGE`], [`CSAT`], [`SPEED`],
/// [`LOAD`]. Eligibility is not checked here.
pub fn score(req: &RouteRequest, agent: &AgentState) -> f64 {
    fit(req, agent).score
}

/// Known values first, ascending by `cmp`; unknown last.
fn known_first<T>(a: Option<T>, b: Option<T>, cmp: impl Fn(T, T) -> Ordering) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => cmp(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn by_load(a: &AgentState, b: &AgentState) -> Ordering {
    a.open_load
        .cmp(&b.open_load)
        .then_with(|| load_ratio(a).total_cmp(&load_ratio(b)))
}

fn by_prefer(prefer: Prefer, a: &AgentState, b: &AgentState) -> Ordering {
    match prefer {
        Prefer::Csat => known_first(csat(a), csat(b), |x, y| y.total_cmp(&x)),
        Prefer::Speed => known_first(
            a.avg_first_response_secs,
            b.avg_first_response_secs,
            |x, y| x.cmp(&y),
        ),
        Prefer::Load => by_load(a, b),
    }
}

fn minutes(secs: u32) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..7200 => format!("{} min", (secs + 30) / 60),
        _ => format!("{:.1} h", f64::from(secs) / 3600.0),
    }
}

fn load_line(a: &AgentState) -> String {
    if a.capacity == 0 {
        format!("load {} (no cap)", a.open_load)
    } else {
        format!("load {}/{}", a.open_load, a.capacity)
    }
}

/// What counted for the chosen agent, best-match style.
fn fit_lines(req: &RouteRequest, a: &AgentState, f: &Fit, reasons: &mut Vec<String>) {
    if let Some(skill) = &f.skill {
        reasons.push(format!("skill {skill}"));
    }
    if f.speaks
        && let Some(lang) = &req.language
    {
        reasons.push(format!("speaks {}", lang.trim()));
    }
    if let Some(c) = csat(a) {
        reasons.push(format!("CSAT {c:.1}"));
    }
    if let Some(s) = a.avg_first_response_secs {
        reasons.push(format!("avg first response {}", minutes(s)));
    }
    reasons.push(load_line(a));
}

/// Pick the agent for a conversation (see the module docs for the rules and
/// the reasons), or none: then it waits in the team queue.
pub fn route(req: &RouteRequest, agents: &[AgentState]) -> RouteDecision {
    let tier = req.tier;
    let scope = match req.team {
        Some(t) => format!("team {t}"),
        None => "any team".to_string(),
    };
    let members: Vec<&AgentState> = agents.iter().filter(|a| in_team(a, req.team)).collect();
    let mut reasons = Vec::new();
    if members.is_empty() {
        reasons.push(format!("{scope}: no agents"));
        reasons.push(QUEUE.to_string());
        return RouteDecision {
            assignee: None,
            reasons,
        };
    }
    let free = members.iter().filter(|a| block(a, 0).is_none()).count();
    reasons.push(format!(
        "{scope}: {free} of {} agents available",
        members.len()
    ));

    let eligible: Vec<&AgentState> = members
        .iter()
        .copied()
        .filter(|a| block(a, tier).is_none())
        .collect();
    let Some(pool_tier) = eligible.iter().map(|a| a.tier).min() else {
        let count = |b: Block| members.iter().filter(|a| block(a, tier) == Some(b)).count();
        let below = count(Block::BelowTier);
        if below > 0 {
            reasons.push(format!(
                "no tier-{tier} agent available; tier {tier} needed"
            ));
        }
        let parts: Vec<String> = [
            (Block::Offline, "offline".to_string()),
            (Block::Away, "away".to_string()),
            (Block::OffHours, "outside working hours".to_string()),
            (Block::AtCapacity, "at capacity".to_string()),
            (Block::BelowTier, format!("below tier {tier}")),
        ]
        .into_iter()
        .filter_map(|(b, what)| {
            let n = count(b);
            (n > 0).then(|| format!("{n} {what}"))
        })
        .collect();
        reasons.push(format!("nobody available: {}", parts.join(", ")));
        reasons.push(QUEUE.to_string());
        return RouteDecision {
            assignee: None,
            reasons,
        };
    };
    if pool_tier == tier {
        reasons.push(format!("tier {tier}"));
    } else {
        reasons.push(format!(
            "no tier-{tier} agent available; tier {pool_tier} covers tier {tier}"
        ));
    }
    let pool: Vec<(&AgentState, Fit)> = eligible
        .into_iter()
        .filter(|a| a.tier == pool_tier)
        .map(|a| (a, fit(req, a)))
        .collect();

    if let Some(last) = req.last_agent {
        if let Some((a, _)) = pool.iter().find(|(a, _)| a.id == last) {
            reasons.push("helped this contact before".to_string());
            reasons.push(load_line(a));
            return RouteDecision {
                assignee: Some(a.id),
                reasons,
            };
        }
        reasons.push("agent who helped this contact before is not available".to_string());
    }

    let by_score = |x: &Fit, y: &Fit| y.score.total_cmp(&x.score);
    let order = |(a, fa): &&(&AgentState, Fit), (b, fb): &&(&AgentState, Fit)| {
        let primary = match (req.prefer, req.strategy) {
            (Some(p), _) => by_prefer(p, a, b).then_with(|| by_score(fa, fb)),
            (None, Strategy::RoundRobin) => a.last_assigned.cmp(&b.last_assigned),
            (None, Strategy::LeastLoaded) => {
                by_load(a, b).then_with(|| a.last_assigned.cmp(&b.last_assigned))
            }
            (None, Strategy::BestMatch) => by_score(fa, fb),
        };
        primary.then_with(|| a.id.cmp(&b.id))
    };
    let Some((chosen, f)) = pool.iter().min_by(order) else {
        unreachable!("the pool holds at least the agent of the pool tier");
    };
    match (req.prefer, req.strategy) {
        (Some(p), _) => {
            reasons.push(
                match p {
                    Prefer::Csat => "preferred: best CSAT",
                    Prefer::Speed => "preferred: fastest first response",
                    Prefer::Load => "preferred: least loaded",
                }
                .to_string(),
            );
            fit_lines(req, chosen, f, &mut reasons);
        }
        (None, Strategy::RoundRobin) => {
            reasons.push("round-robin: longest since last assignment".to_string());
            reasons.push(load_line(chosen));
        }
        (None, Strategy::LeastLoaded) => {
            reasons.push(format!("least loaded ({} open)", chosen.open_load));
            reasons.push(load_line(chosen));
        }
        (None, Strategy::BestMatch) => {
            reasons.push(format!("best match (score {:.0})", f.score));
            fit_lines(req, chosen, f, &mut reasons);
        }
    }
    RouteDecision {
        assignee: Some(chosen.id),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;
    use proptest::prelude::{
        Just, ProptestConfig, prop_assert, prop_assert_eq, prop_oneof, proptest,
    };
    use proptest::strategy::Strategy as Gen;

    const TEAM: TeamId = TeamId(4);

    fn agent(id: u64, tier: u8) -> AgentState {
        AgentState {
            id: UserId(id),
            name: format!("agent {id}"),
            tier,
            teams: vec![TEAM],
            skills: vec![],
            languages: vec!["es".into()],
            capacity: 8,
            availability: Availability::Online,
            working: true,
            open_load: 0,
            avg_first_response_secs: None,
            csat: None,
            last_assigned: 0,
        }
    }

    fn req(strategy: Strategy, tier: u8) -> RouteRequest {
        RouteRequest {
            team: Some(TEAM),
            strategy,
            tier,
            ..RouteRequest::default()
        }
    }

    fn who(d: &RouteDecision) -> Option<u64> {
        d.assignee.map(|u| u.0)
    }

    #[test]
    fn round_robin_takes_longest_since_last_assignment() {
        let mut agents = vec![agent(1, 1), agent(2, 1), agent(3, 1)];
        agents[0].last_assigned = 30;
        agents[1].last_assigned = 10;
        agents[2].last_assigned = 20;
        let d = route(&req(Strategy::RoundRobin, 1), &agents);
        assert_eq!(who(&d), Some(2));
        assert_eq!(
            d.reasons,
            vec![
                "team 4: 3 of 3 agents available",
                "tier 1",
                "round-robin: longest since last assignment",
                "load 0/8",
            ]
        );
        agents[1].last_assigned = 20;
        // Tie on last_assigned 20: the smaller id.
        assert_eq!(who(&route(&req(Strategy::RoundRobin, 1), &agents)), Some(2));
        agents[1].last_assigned = 21;
        assert_eq!(who(&route(&req(Strategy::RoundRobin, 1), &agents)), Some(3));
    }

    #[test]
    fn least_loaded_takes_fewest_open_then_ratio_then_last_assigned() {
        let mut agents = vec![agent(1, 1), agent(2, 1), agent(3, 1)];
        agents[0].open_load = 3;
        agents[1].open_load = 1;
        agents[2].open_load = 2;
        let d = route(&req(Strategy::LeastLoaded, 1), &agents);
        assert_eq!(who(&d), Some(2));
        assert!(d.reasons.contains(&"least loaded (1 open)".to_string()));
        // Same open count: the lower ratio (1/10 beats 1/8).
        agents[0].open_load = 1;
        agents[0].capacity = 10;
        assert_eq!(
            who(&route(&req(Strategy::LeastLoaded, 1), &agents)),
            Some(1)
        );
        // Same count and ratio: the one assigned longest ago.
        agents[0].capacity = 8;
        agents[0].last_assigned = 9;
        agents[1].last_assigned = 5;
        assert_eq!(
            who(&route(&req(Strategy::LeastLoaded, 1), &agents)),
            Some(2)
        );
        agents[1].last_assigned = 9;
        assert_eq!(
            who(&route(&req(Strategy::LeastLoaded, 1), &agents)),
            Some(1)
        );
    }

    #[test]
    fn best_match_weighs_skill_language_csat_speed_load() {
        let mut agents = vec![agent(1, 1), agent(2, 1), agent(3, 1)];
        agents[0].skills = vec!["shipping".into()];
        agents[0].csat = Some(5.0);
        agents[1].skills = vec!["billing".into()];
        agents[1].languages = vec!["en".into(), "es".into()];
        agents[1].csat = Some(4.8);
        agents[1].avg_first_response_secs = Some(720);
        agents[1].open_load = 2;
        agents[2].languages = vec!["en".into()];
        let mut r = req(Strategy::BestMatch, 1);
        r.category = Some("billing/double-charge".into());
        r.language = Some("es".into());
        let d = route(&r, &agents);
        assert_eq!(who(&d), Some(2));
        assert_eq!(&d.reasons[2][..10], "best match");
        assert_eq!(
            d.reasons[3..],
            [
                "skill billing",
                "speaks es",
                "CSAT 4.8",
                "avg first response 12 min",
                "load 2/8",
            ]
        );
        // An exact skill beats the parent one.
        agents[2].skills = vec!["billing/double-charge".into()];
        agents[2].languages = vec!["es-MX".into()];
        let d = route(&r, &agents);
        assert_eq!(who(&d), Some(3));
        assert!(
            d.reasons
                .contains(&"skill billing/double-charge".to_string())
        );
        assert!(d.reasons.contains(&"speaks es".to_string()));
        // Without a category or language, CSAT, speed and load decide.
        let plain = req(Strategy::BestMatch, 1);
        assert_eq!(who(&route(&plain, &agents)), Some(1));
        assert!(score(&r, &agents[2]) > score(&r, &agents[1]));
        assert!(score(&plain, &agents[0]) <= 100.0);
    }

    #[test]
    fn prefer_puts_its_criterion_first_with_score_as_tie_break() {
        let mut agents = vec![agent(1, 1), agent(2, 1), agent(3, 1)];
        agents[0].avg_first_response_secs = Some(60);
        agents[0].open_load = 5;
        agents[1].avg_first_response_secs = Some(600);
        agents[1].skills = vec!["billing".into()];
        agents[2].open_load = 1;
        let mut r = req(Strategy::RoundRobin, 1);
        r.category = Some("billing".into());
        r.prefer = Some(Prefer::Speed);
        let d = route(&r, &agents);
        assert_eq!(who(&d), Some(1));
        assert!(
            d.reasons
                .contains(&"preferred: fastest first response".to_string())
        );
        assert!(d.reasons.contains(&"avg first response 1 min".to_string()));
        r.prefer = Some(Prefer::Load);
        assert_eq!(who(&route(&r, &agents)), Some(2));
        agents[1].open_load = 1;
        // 2 and 3 both at 1/8: the best-match score (skill billing) decides.
        assert_eq!(who(&route(&r, &agents)), Some(2));
        r.prefer = Some(Prefer::Csat);
        // Nobody rated: all unknown, the score decides.
        assert_eq!(who(&route(&r, &agents)), Some(2));
        agents[2].csat = Some(1.5);
        // Any rating beats unknown.
        assert_eq!(who(&route(&r, &agents)), Some(3));
        agents[0].csat = Some(f32::NAN);
        assert_eq!(who(&route(&r, &agents)), Some(3));
    }

    #[test]
    fn a_very_negative_message_from_a_high_value_customer_goes_to_the_best_csat_tier_3() {
        let mut agents = vec![
            agent(1, 3),
            agent(2, 3),
            agent(3, 3),
            agent(4, 2),
            agent(5, 1),
        ];
        agents[0].csat = Some(4.9);
        agents[0].availability = Availability::Offline;
        agents[1].csat = Some(4.6);
        agents[2].csat = Some(4.2);
        agents[2].open_load = 0;
        agents[1].open_load = 5;
        agents[3].csat = Some(5.0);
        agents[4].csat = Some(5.0);
        for strategy in [
            Strategy::BestMatch,
            Strategy::RoundRobin,
            Strategy::LeastLoaded,
        ] {
            let mut r = req(strategy, 3);
            r.prefer = Some(Prefer::Csat);
            r.language = Some("es".into());
            let d = route(&r, &agents);
            assert_eq!(who(&d), Some(2), "{strategy:?}");
            assert_eq!(
                d.reasons,
                vec![
                    "team 4: 4 of 5 agents available",
                    "tier 3",
                    "preferred: best CSAT",
                    "speaks es",
                    "CSAT 4.6",
                    "load 5/8",
                ]
            );
        }
    }

    #[test]
    fn sticks_to_the_agent_who_helped_before_when_eligible() {
        let mut agents = vec![agent(1, 1), agent(2, 1)];
        agents[1].open_load = 6;
        agents[1].last_assigned = 99;
        let mut r = req(Strategy::LeastLoaded, 1);
        r.last_agent = Some(UserId(2));
        let d = route(&r, &agents);
        assert_eq!(who(&d), Some(2));
        assert_eq!(d.reasons[2..], ["helped this contact before", "load 6/8"]);
        // At capacity, away or outside the team: the strategy decides.
        let changes: [fn(&mut AgentState); 4] = [
            |a: &mut AgentState| a.open_load = 8,
            |a: &mut AgentState| a.availability = Availability::Away,
            |a: &mut AgentState| a.teams = vec![TeamId(9)],
            |a: &mut AgentState| a.working = false,
        ];
        for change in changes {
            let mut agents = agents.clone();
            change(&mut agents[1]);
            let d = route(&r, &agents);
            assert_eq!(who(&d), Some(1));
            assert!(
                d.reasons
                    .contains(&"agent who helped this contact before is not available".into())
            );
        }
        // A previous agent of a higher tier when the requested tier is free:
        // the requested tier comes first.
        agents[1].tier = 3;
        assert_eq!(who(&route(&r, &agents)), Some(1));
    }

    #[test]
    fn falls_back_to_the_nearest_higher_tier_never_lower() {
        let mut agents = vec![agent(1, 1), agent(2, 3), agent(3, 2), agent(4, 3)];
        agents[2].availability = Availability::Offline;
        let d = route(&req(Strategy::RoundRobin, 2), &agents);
        assert_eq!(who(&d), Some(2));
        assert_eq!(
            d.reasons[1],
            "no tier-2 agent available; tier 3 covers tier 2"
        );
        // Tier 1 asked, tier 1 free: tier 1.
        assert_eq!(who(&route(&req(Strategy::RoundRobin, 1), &agents)), Some(1));
        // Tier 1 busy: tier 2 before tier 3.
        agents[0].open_load = 8;
        agents[2].availability = Availability::Online;
        let d = route(&req(Strategy::RoundRobin, 1), &agents);
        assert_eq!(who(&d), Some(3));
        assert_eq!(
            d.reasons[1],
            "no tier-1 agent available; tier 2 covers tier 1"
        );
        // Tier 3 asked, only lower tiers free: nobody.
        agents[1].working = false;
        agents[3].availability = Availability::Away;
        let d = route(&req(Strategy::BestMatch, 3), &agents);
        assert_eq!(d.assignee, None);
        assert_eq!(
            d.reasons,
            vec![
                "team 4: 1 of 4 agents available",
                "no tier-3 agent available; tier 3 needed",
                "nobody available: 1 away, 1 outside working hours, 1 at capacity, 1 below tier 3",
                "waits in the team queue",
            ]
        );
    }

    #[test]
    fn capacity_zero_is_no_cap_and_full_agents_are_skipped() {
        let mut agents = vec![agent(1, 1), agent(2, 1)];
        agents[0].capacity = 3;
        agents[0].open_load = 3;
        agents[1].capacity = 0;
        agents[1].open_load = 500;
        let d = route(&req(Strategy::LeastLoaded, 1), &agents);
        assert_eq!(who(&d), Some(2));
        assert!(d.reasons.contains(&"load 500 (no cap)".to_string()));
        agents[1].capacity = 500;
        let d = route(&req(Strategy::LeastLoaded, 1), &agents);
        assert_eq!(d.assignee, None);
        assert_eq!(d.reasons[1], "nobody available: 2 at capacity");
    }

    #[test]
    fn away_offline_and_off_hours_agents_wait() {
        let mut agents = vec![
            agent(1, 1),
            agent(2, 1),
            agent(3, 1),
            agent(4, 1),
            agent(5, 1),
        ];
        agents[0].availability = Availability::Offline;
        agents[1].availability = Availability::Offline;
        agents[2].open_load = 8;
        agents[3].working = false;
        agents[4].availability = Availability::Away;
        let d = route(&req(Strategy::BestMatch, 1), &agents);
        assert_eq!(d.assignee, None);
        assert_eq!(
            d.reasons,
            vec![
                "team 4: 0 of 5 agents available",
                "nobody available: 2 offline, 1 away, 1 outside working hours, 1 at capacity",
                "waits in the team queue",
            ]
        );
        agents[3].working = true;
        assert_eq!(who(&route(&req(Strategy::BestMatch, 1), &agents)), Some(4));
    }

    #[test]
    fn only_members_of_the_requested_team() {
        let mut agents = vec![agent(1, 1), agent(2, 1)];
        agents[0].teams = vec![TeamId(1)];
        agents[1].teams = vec![TeamId(1), TEAM];
        agents[1].last_assigned = 50;
        assert_eq!(who(&route(&req(Strategy::RoundRobin, 1), &agents)), Some(2));
        let mut r = req(Strategy::RoundRobin, 1);
        r.team = None;
        let d = route(&r, &agents);
        assert_eq!(who(&d), Some(1));
        assert_eq!(d.reasons[0], "any team: 2 of 2 agents available");
        r.team = Some(TeamId(7));
        let d = route(&r, &agents);
        assert_eq!(d.assignee, None);
        assert_eq!(
            d.reasons,
            vec!["team 7: no agents", "waits in the team queue"]
        );
        assert_eq!(route(&r, &[]).assignee, None);
    }

    #[test]
    fn round_robin_is_fair() {
        let mut agents: Vec<AgentState> = (1..=6).map(|i| agent(i * 11 % 7, 2)).collect();
        // Non-eligible agents never take a turn.
        agents.push(AgentState {
            availability: Availability::Away,
            ..agent(40, 2)
        });
        agents.push(agent(41, 1));
        let r = req(Strategy::RoundRobin, 2);
        let mut counts = std::collections::BTreeMap::new();
        for seq in 1..=6000u64 {
            let id = route(&r, &agents).assignee.expect("someone is free");
            *counts.entry(id).or_insert(0) += 1;
            let a = agents.iter_mut().find(|a| a.id == id).unwrap();
            a.last_assigned = seq;
        }
        assert_eq!(counts.len(), 6);
        assert!(counts.values().all(|&n| n == 1000), "{counts:?}");
    }

    #[test]
    fn least_loaded_never_exceeds_capacity() {
        let caps = [1u32, 2, 3, 5, 8, 0];
        let mut agents: Vec<AgentState> = caps
            .iter()
            .enumerate()
            .map(|(i, &c)| AgentState {
                capacity: c,
                ..agent(i as u64 + 1, 1)
            })
            .collect();
        agents[5].working = false;
        let r = req(Strategy::LeastLoaded, 1);
        let mut assigned = 0;
        for step in 0..5000u64 {
            // Every third step, someone closes a conversation.
            if step % 3 == 0 {
                let i = (step as usize / 3) % agents.len();
                agents[i].open_load = agents[i].open_load.saturating_sub(1);
            }
            match route(&r, &agents).assignee {
                Some(id) => {
                    let a = agents.iter_mut().find(|a| a.id == id).unwrap();
                    a.open_load += 1;
                    a.last_assigned = step + 1;
                    assigned += 1;
                }
                None => assert!(
                    agents[..5].iter().all(|a| a.open_load >= a.capacity),
                    "nobody chosen while someone had room"
                ),
            }
            for a in &agents {
                assert!(a.capacity == 0 || a.open_load <= a.capacity, "{a:?}");
            }
            assert_eq!(agents[5].open_load, 0);
        }
        assert!(assigned > 1000);
    }

    fn arb_agent() -> impl Gen<Value = AgentState> {
        let availability = prop_oneof![
            3 => Just(Availability::Online),
            1 => Just(Availability::Away),
            1 => Just(Availability::Offline),
        ];
        let csat = proptest::option::of(prop_oneof![
            5 => 1.0f32..=5.0,
            1 => Just(f32::NAN),
        ]);
        (
            (
                0u8..=4,
                proptest::collection::vec((1u64..=3).prop_map(TeamId), 0..3),
                proptest::sample::subsequence(
                    vec!["billing", "billing/double-charge", "outage", "Shipping"],
                    0..=3,
                ),
                proptest::sample::subsequence(vec!["es", "en", "pt-BR"], 0..=2),
            ),
            (
                0u32..5,
                0u32..7,
                availability,
                proptest::bool::weighted(0.8),
                proptest::option::of(0u32..7200),
                csat,
                0u64..20,
            ),
        )
            .prop_map(
                |(
                    (tier, teams, skills, languages),
                    (capacity, open_load, availability, working, avg, csat, last_assigned),
                )| AgentState {
                    id: UserId(0),
                    name: String::new(),
                    tier,
                    teams,
                    skills: skills.into_iter().map(String::from).collect(),
                    languages: languages.into_iter().map(String::from).collect(),
                    capacity,
                    availability,
                    working,
                    open_load,
                    avg_first_response_secs: avg,
                    csat,
                    last_assigned,
                },
            )
    }

    /// Up to 30 agents with distinct ids, and the same list shuffled.
    fn arb_agents() -> impl Gen<Value = (Vec<AgentState>, Vec<AgentState>)> {
        proptest::collection::vec(arb_agent(), 0..=30)
            .prop_map(|v| {
                v.into_iter()
                    .enumerate()
                    .map(|(i, a)| AgentState {
                        id: UserId((i as u64 * 17) % 31 + 1),
                        name: format!("agent {i}"),
                        ..a
                    })
                    .collect::<Vec<_>>()
            })
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    }

    fn arb_request() -> impl Gen<Value = RouteRequest> {
        (
            proptest::option::of((1u64..=3).prop_map(TeamId)),
            prop_oneof![
                Just(Strategy::RoundRobin),
                Just(Strategy::LeastLoaded),
                Just(Strategy::BestMatch),
            ],
            0u8..=4,
            proptest::option::of(proptest::sample::select(vec![
                "billing",
                "billing/double-charge",
                "shipping/late",
                "other",
            ])),
            proptest::option::of(proptest::sample::select(vec!["es", "en", "pt"])),
            proptest::option::of((0u64..=32).prop_map(UserId)),
            proptest::option::of(prop_oneof![
                Just(Prefer::Csat),
                Just(Prefer::Speed),
                Just(Prefer::Load),
            ]),
        )
            .prop_map(
                |(team, strategy, tier, category, language, last_agent, prefer)| RouteRequest {
                    team,
                    strategy,
                    tier,
                    category: category.map(String::from),
                    language: language.map(String::from),
                    last_agent,
                    prefer,
                },
            )
    }

    fn eligible(r: &RouteRequest, a: &AgentState) -> bool {
        a.availability == Availability::Online
            && a.working
            && (a.capacity == 0 || a.open_load < a.capacity)
            && r.team.is_none_or(|t| a.teams.contains(&t))
            && a.tier >= r.tier
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn routing_invariants((agents, shuffled) in arb_agents(), r in arb_request()) {
            let d = route(&r, &agents);
            prop_assert!(!d.reasons.is_empty());
            prop_assert_eq!(&d, &route(&r, &agents));
            prop_assert_eq!(&d, &route(&r, &shuffled));
            let ok: Vec<&AgentState> = agents.iter().filter(|a| eligible(&r, a)).collect();
            match d.assignee {
                None => {
                    prop_assert!(ok.is_empty());
                    prop_assert_eq!(d.reasons.last().unwrap(), QUEUE);
                }
                Some(id) => {
                    let a = agents.iter().find(|a| a.id == id).unwrap();
                    prop_assert!(a.availability == Availability::Online);
                    prop_assert!(a.working);
                    prop_assert!(a.capacity == 0 || a.open_load < a.capacity);
                    prop_assert!(r.team.is_none_or(|t| a.teams.contains(&t)));
                    prop_assert!(a.tier >= r.tier);
                    // The nearest tier that has someone eligible.
                    prop_assert_eq!(Some(a.tier), ok.iter().map(|a| a.tier).min());
                    // Stickiness within that tier.
                    if let Some(last) = r.last_agent
                        && ok.iter().any(|b| b.id == last && b.tier == a.tier)
                    {
                        prop_assert_eq!(id, last);
                    }
                }
            }
        }
    }
}
