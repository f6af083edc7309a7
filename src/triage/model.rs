//! The data the triage cores take and return. Plain types, no I/O: the
//! app layer fills a [`TriageInput`] from the store and applies the
//! [`Decision`] it gets back.

use crate::domain::{Priority, TeamId, Ts, UserId};
use serde::{Deserialize, Serialize};

/// A rule set as written in TOML (the admin editor and `[triage]` both use
/// this shape): categories, then rules applied in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleDoc {
    /// Score every conversation starts from before rules apply (0..=100).
    pub base_score: Option<i32>,
    #[serde(rename = "category")]
    pub categories: Vec<Category>,
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
}

/// One node of the business's classification tree, with its service targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Stable slug, e.g. `billing` or `billing/double-charge`.
    pub id: String,
    /// Spanish and English names for people.
    pub name_es: String,
    pub name_en: String,
    /// The parent category's id (subcategories).
    #[serde(default)]
    pub parent: Option<String>,
    /// Target time to first response, e.g. "1h", "30m", "2d".
    pub first_response: String,
    /// Target time to resolution.
    pub resolution: String,
    /// Tier a conversation of this category starts at (1..=3).
    #[serde(default = "one")]
    pub tier: u8,
}

fn one() -> u8 {
    1
}

fn yes() -> bool {
    true
}

/// A rule: when every given condition holds, its effects apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable slug, unique in the set.
    pub id: String,
    /// Shown in reasons: "+30 billing: 'cobro doble'".
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub when: Conditions,
    #[serde(default)]
    pub then: Effects,
    /// Later rules are not evaluated once this one matched.
    #[serde(default)]
    pub stop: bool,
}

/// Every condition that is given must hold (AND). Lists inside one
/// condition are alternatives (OR). An empty condition set always matches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Conditions {
    /// Any of these phrases, accent- and case-insensitive, on word
    /// boundaries, and not negated just before ("no me cobraron dos veces"
    /// does not match "cobraron dos veces"). A trailing `*` matches a word
    /// prefix (`reembols*`).
    pub phrases: Vec<String>,
    /// None of these phrases may appear (same matching).
    pub without: Vec<String>,
    /// A regular expression on the original text (case-insensitive).
    pub regex: Option<String>,
    /// Channel kinds (`email`, `x`, `facebook`, `telegram`, `mastodon`,
    /// `whatsapp`, `webchat`, `api`) or configured channel names.
    pub channels: Vec<String>,
    /// A public post/comment (true) or a private message (false).
    pub public: Option<bool>,
    /// Sentiment compound (-1..1) at most / at least this.
    pub sentiment_below: Option<f32>,
    pub sentiment_above: Option<f32>,
    /// Customer's lifetime value at least this, in whole currency units.
    pub min_lifetime_value: Option<i64>,
    /// At least `count` purchases in the last `days` days.
    pub purchases: Option<PurchaseCondition>,
    /// The contact is (or is not) on the VIP list.
    pub vip: Option<bool>,
    /// Followers of the writing account at least / at most this.
    pub min_followers: Option<u64>,
    pub max_followers: Option<u64>,
    pub verified: Option<bool>,
    /// The writing account is younger than this many days.
    pub account_younger_than_days: Option<u32>,
    /// The writing account has a profile picture (false: none / unknown).
    pub avatar: Option<bool>,
    /// The same contact wrote (on any channel, any conversation) in the
    /// last N hours before this message.
    pub repeat_within_hours: Option<u32>,
    /// The customer has been waiting at least this many minutes.
    pub min_waiting_minutes: Option<u32>,
    /// Inside (true) or outside (false) business hours.
    pub business_hours: Option<bool>,
    /// The message's language (`es`, `en`).
    pub languages: Vec<String>,
    /// The category set so far (by an earlier rule or by hand).
    pub categories: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseCondition {
    pub count: u32,
    pub days: u32,
}

/// What a matching rule does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Effects {
    /// Added to the score (negative subtracts).
    pub score: i32,
    /// Set the category (the first rule that sets one wins).
    pub category: Option<String>,
    pub tags: Vec<String>,
    /// Raise the tier to at least this (1..=3).
    pub tier: Option<u8>,
    /// Route to this team (by name; the first rule that sets one wins).
    pub team: Option<String>,
    /// Replies need a supervisor's approval before they are sent.
    pub approval: bool,
    /// Mark as suspected troll.
    pub troll: bool,
    /// What routing should favour among eligible agents.
    pub prefer: Option<Prefer>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prefer {
    /// Best satisfaction rating first.
    Csat,
    /// Fastest average first response first.
    Speed,
    /// Fewest open conversations first.
    Load,
}

/// What the triage core knows about one inbound message and its context.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TriageInput {
    /// The customer's message (subject first, when there is one).
    pub text: String,
    /// Channel kind (`email`, `x`...) and configured name.
    pub channel_kind: String,
    pub channel: String,
    pub public: bool,
    /// Detected or known language (`es`, `en`).
    pub language: Option<String>,
    pub lifetime_value_cents: i64,
    pub vip: bool,
    /// Dates of the contact's purchases (any order).
    pub purchases: Vec<Ts>,
    pub followers: Option<u64>,
    pub verified: bool,
    pub account_created_at: Option<Ts>,
    pub avatar: Option<bool>,
    /// The contact's latest earlier message (any conversation), and the
    /// channel kind it came by.
    pub previous_contact: Option<(Ts, String)>,
    /// When the oldest unanswered customer message arrived.
    pub waiting_since: Option<Ts>,
    /// Whether the business is open now.
    pub open_now: bool,
    /// A category already set by hand (kept; rules may still read it).
    pub category: Option<String>,
    pub now: Ts,
}

/// One line of "why": `+30 billing: 'cobro doble'`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// Points added (0 for rules that only classify).
    pub points: i32,
    /// The rule's id (`sentiment`, `base` for built-in lines).
    pub rule: String,
    /// Rule name and evidence, e.g. `billing: 'cobro doble'`.
    pub text: String,
}

impl Reason {
    /// `+30 billing: 'cobro doble'`; lines without points have no sign.
    pub fn line(&self) -> String {
        if self.points == 0 {
            self.text.clone()
        } else {
            format!("{:+} {}", self.points, self.text)
        }
    }
}

/// The outcome of scoring one conversation, with its explanation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// 0..=100.
    pub score: u8,
    pub priority: Option<Priority>,
    pub category: Option<String>,
    /// 1..=3.
    pub tier: u8,
    pub team: Option<String>,
    pub tags: Vec<String>,
    pub approval: bool,
    pub troll: bool,
    pub prefer: Option<Prefer>,
    /// Sentiment compound of the text, -1..1.
    pub sentiment: f32,
    pub language: Option<String>,
    /// Ids of the rules that matched, in order.
    pub matched: Vec<String>,
    pub reasons: Vec<Reason>,
}

/// An agent's availability as they set it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Online,
    Away,
    #[default]
    Offline,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Online => "online",
            Availability::Away => "away",
            Availability::Offline => "offline",
        }
    }

    pub fn parse(s: &str) -> Option<Availability> {
        match s {
            "online" => Some(Availability::Online),
            "away" => Some(Availability::Away),
            "offline" => Some(Availability::Offline),
            _ => None,
        }
    }
}

/// How a team hands out its conversations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// In turn: the eligible agent assigned longest ago.
    RoundRobin,
    /// The eligible agent with the fewest open conversations.
    LeastLoaded,
    /// The eligible agent who fits best: skills, language, CSAT, speed, load.
    #[default]
    BestMatch,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastLoaded => "least_loaded",
            Strategy::BestMatch => "best_match",
        }
    }

    pub fn parse(s: &str) -> Option<Strategy> {
        match s {
            "round_robin" => Some(Strategy::RoundRobin),
            "least_loaded" => Some(Strategy::LeastLoaded),
            "best_match" => Some(Strategy::BestMatch),
            _ => None,
        }
    }
}

/// One agent as routing sees them.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentState {
    pub id: UserId,
    pub name: String,
    /// 1..=3.
    pub tier: u8,
    pub teams: Vec<TeamId>,
    /// Category ids the agent is good at (`billing`, `outage`...).
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    /// Most open conversations at once (0: no cap).
    pub capacity: u32,
    pub availability: Availability,
    /// Inside their working hours now (true when they have none set).
    pub working: bool,
    /// Open conversations assigned now.
    pub open_load: u32,
    /// Average time to first response, in seconds (None: no history).
    pub avg_first_response_secs: Option<u32>,
    /// Average satisfaction 1..=5 (None: no ratings).
    pub csat: Option<f32>,
    /// Event sequence of their last automatic assignment (0: never);
    /// round-robin takes the smallest.
    pub last_assigned: u64,
}

/// What a conversation needs from an agent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteRequest {
    pub team: Option<TeamId>,
    pub strategy: Strategy,
    /// 1..=3.
    pub tier: u8,
    pub category: Option<String>,
    pub language: Option<String>,
    /// The agent who last helped this contact (stickiness).
    pub last_agent: Option<UserId>,
    pub prefer: Option<Prefer>,
}

/// The routing outcome: an agent or none (waits in the team queue), and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteDecision {
    pub assignee: Option<UserId>,
    pub reasons: Vec<String>,
}
