//! Triage in the running appliance: the pure cores of `crate::triage` fed
//! from the store and driven by the event log.
//!
//! A follower task (like the search index) reads events after its
//! watermark. A customer message (`MessageReceived`) gets a decision: score
//! and priority with reasons, category, tier, team, tags, SLA due times;
//! then, when it is open and unassigned, routing picks an agent. Everything
//! is written in one transaction together with the new watermark, so after
//! a crash the batch is simply decided again. Events that free capacity or
//! bring an agent online (assignments, status changes, availability) make
//! the task hand out the unassigned queue. A sweep re-scores conversations
//! whose waiting time crossed a rule's threshold and escalates those about
//! to miss their first-response target.
//!
//! Records that are not part of the conversation itself live in the
//! store's key–value `cursors` table as JSON, so later fields need no
//! migration: the decision (`triage\x1f{id}`), agents' routing profiles
//! (`agent\x1f{id}`), team strategies (`team-routing\x1f{id}`) and the rule
//! versions (`triage-rules`, `triage-rules@{n}`).

use super::perm::Perm;
use super::{App, AppError, Caller};
use crate::domain::*;
use crate::store::{Reader, StoreError, Tx};
use crate::triage::{
    self, AgentState, Availability, Decision, RouteDecision, RouteRequest, RuleSet, Strategy,
    TriageInput,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

const WATERMARK: &str = "triage-seq";
const RULES: &str = "triage-rules";
const PROVISIONED: &str = "triage-provisioned";
/// Events read per step.
const BATCH: usize = 1000;
/// Unassigned conversations looked at per hand-out pass.
const DRAIN: usize = 200;

pub(crate) fn record_key(c: ConversationId) -> String {
    format!("triage\x1f{c}")
}
pub(crate) fn agent_key(u: UserId) -> String {
    format!("agent\x1f{u}")
}
fn team_key(t: TeamId) -> String {
    format!("team-routing\x1f{t}")
}
fn version_key(v: u32) -> String {
    format!("triage-rules@{v}")
}

/// A stored JSON value (tolerant of fields added later).
pub(crate) fn get_json<T: serde::de::DeserializeOwned + Default>(
    r: &impl CursorRead,
    key: &str,
) -> Result<T, StoreError> {
    Ok(r.cursor_str(key)?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}
pub(crate) fn put_json<T: Serialize>(tx: &mut Tx<'_>, key: &str, v: &T) -> Result<(), StoreError> {
    let s = serde_json::to_string(v).unwrap_or_default();
    tx.put_cursor(key, &s)
}

/// Reading a cursor from a read or a write transaction.
pub trait CursorRead {
    fn cursor_str(&self, key: &str) -> Result<Option<String>, StoreError>;
}
impl CursorRead for Reader {
    fn cursor_str(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.cursor::<String>(key)
    }
}
impl CursorRead for Tx<'_> {
    fn cursor_str(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.cursor::<String>(key)
    }
}

/// One version of the rules, as saved.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RulesVersion {
    pub version: u32,
    pub toml: String,
    /// `presets`, `config`, `editor` or `restore of N`.
    pub source: String,
    pub by: Option<UserId>,
    pub at: Ts,
    pub note: String,
}

/// What triage decided for a conversation, kept for the page and the API.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TriageRecord {
    pub decision: Decision,
    pub rules_version: u32,
    /// The customer message it decided on.
    pub message: Option<MessageId>,
    pub at: Ts,
    pub routed_to: Option<UserId>,
    pub routing_reasons: Vec<String>,
    pub first_response_due: Option<Ts>,
    pub resolution_due: Option<Ts>,
    pub sla_reasons: Vec<String>,
    /// The category was set by hand (triage keeps it).
    pub manual_category: bool,
    /// The priority was set by hand, with the reason (triage keeps it).
    pub overridden: Option<String>,
    /// Automatic escalations already made (`sla`, `p1`), once each.
    pub escalations: Vec<String>,
    /// Since when the SLA clock is stopped (pending on the customer).
    pub sla_paused_at: Option<Ts>,
    /// SLA alerts already raised (`first_response:warning`...), once each.
    pub alerts: Vec<String>,
}

/// An agent's routing profile.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentProfile {
    pub availability: Availability,
    /// Most open conversations at once (None: `[triage] default_capacity`).
    pub capacity: Option<u32>,
    /// Event sequence of the last automatic assignment.
    pub last_assigned: u64,
    pub first_responses: u32,
    pub first_response_secs: u64,
    pub csat_count: u32,
    pub csat_sum: u32,
}

impl AgentProfile {
    pub fn avg_first_response_secs(&self) -> Option<u32> {
        (self.first_responses > 0)
            .then(|| (self.first_response_secs / u64::from(self.first_responses)) as u32)
    }
    pub fn csat(&self) -> Option<f32> {
        (self.csat_count > 0).then(|| self.csat_sum as f32 / self.csat_count as f32)
    }
}

/// The rules in force.
pub struct Active {
    pub set: RuleSet,
    pub version: u32,
}

/// The triage state shared by the app.
pub struct Engine {
    active: RwLock<Arc<Active>>,
    /// Woken when the rules or an agent's profile change.
    pub wake: Notify,
    /// Something freed capacity: hand out the queue once caught up with
    /// the event log (never before the waiting conversations are decided).
    handout: std::sync::atomic::AtomicBool,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            active: RwLock::new(Arc::new(Active {
                set: triage::presets::presets(),
                version: 0,
            })),
            wake: Notify::new(),
            handout: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Engine {
    pub fn active(&self) -> Arc<Active> {
        self.active
            .read()
            .map(|a| a.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }
    fn set(&self, a: Active) {
        let mut g = self.active.write().unwrap_or_else(|e| e.into_inner());
        *g = Arc::new(a);
    }
}

/// Mark a manual priority so that triage keeps it (called in the writer).
pub(crate) fn mark_override(
    tx: &mut Tx<'_>,
    id: ConversationId,
    reason: &str,
) -> Result<(), StoreError> {
    let mut rec: TriageRecord = get_json(tx, &record_key(id))?;
    rec.overridden = Some(reason.to_string());
    put_json(tx, &record_key(id), &rec)
}

/// A staff member answered for the first time: count it in their average,
/// and the SLA clock moves on to resolution (called in the writer).
pub(crate) fn note_first_response(
    tx: &mut Tx<'_>,
    conv: &mut Conversation,
    user: UserId,
    at: Ts,
) -> Result<(), StoreError> {
    let mut p: AgentProfile = get_json(tx, &agent_key(user))?;
    let waited = conv.waiting_since.unwrap_or(conv.created_at);
    p.first_responses += 1;
    p.first_response_secs += ((at.0 - waited.0).max(0) / 1000) as u64;
    put_json(tx, &agent_key(user), &p)?;
    let rec: TriageRecord = get_json(tx, &record_key(conv.id))?;
    if rec.resolution_due.is_some() {
        conv.sla_due_at = rec.resolution_due;
    }
    Ok(())
}

/// A satisfaction answer counts in the agent's CSAT (called in the writer).
pub(crate) fn note_csat(tx: &mut Tx<'_>, user: UserId, csat: u8) -> Result<(), StoreError> {
    let mut p: AgentProfile = get_json(tx, &agent_key(user))?;
    p.csat_count += 1;
    p.csat_sum += u32::from(csat);
    put_json(tx, &agent_key(user), &p)
}

/// An agent's availability (in the writer).
pub(crate) fn availability(tx: &Tx<'_>, user: UserId) -> Result<Availability, StoreError> {
    Ok(get_json::<AgentProfile>(tx, &agent_key(user))?.availability)
}

/// Set an agent's availability (sign-in/out call this too).
pub(crate) fn put_availability(
    tx: &mut Tx<'_>,
    user: UserId,
    a: Availability,
) -> Result<bool, StoreError> {
    let mut p: AgentProfile = get_json(tx, &agent_key(user))?;
    if p.availability == a {
        return Ok(false);
    }
    p.availability = a;
    put_json(tx, &agent_key(user), &p)?;
    tx.append_event(
        Actor::User(user),
        EventKind::AgentChanged {
            user,
            change: format!("availability {}", a.as_str()),
        },
    )?;
    Ok(true)
}

/// The outcome of one decision before it is written.
struct Planned {
    conv: ConversationId,
    message: Option<MessageId>,
    decision: Decision,
    team: Option<TeamId>,
    route: Option<RouteDecision>,
    sla: Option<triage::sla::SlaDue>,
    /// Escalation to apply (new tier, cause, reason).
    escalate: Option<(u8, String, String)>,
}

/// What a routing pass needs to know about everyone.
struct Roster {
    agents: Vec<AgentState>,
    strategies: HashMap<TeamId, Strategy>,
    teams: Vec<Team>,
}

impl Roster {
    fn strategy(&self, t: Option<TeamId>) -> Strategy {
        t.and_then(|t| self.strategies.get(&t).copied())
            .unwrap_or_default()
    }
    fn team_by_name(&self, name: &str) -> Option<TeamId> {
        let n = name.trim().to_lowercase();
        self.teams
            .iter()
            .find(|t| t.name.to_lowercase() == n)
            .map(|t| t.id)
    }
    fn anyone_free(&self) -> bool {
        self.agents.iter().any(|a| {
            a.availability == Availability::Online
                && a.working
                && (a.capacity == 0 || a.open_load < a.capacity)
        })
    }
    /// Count an assignment so that the next decision in the batch sees it.
    fn took(&mut self, u: UserId, seq: u64) {
        if let Some(a) = self.agents.iter_mut().find(|a| a.id == u) {
            a.open_load += 1;
            a.last_assigned = seq;
        }
    }
}

fn roster(r: &Reader, default_capacity: u32) -> Result<Roster, StoreError> {
    let mut agents = Vec::new();
    for u in r.users()? {
        if !u.active || u.role == Role::Auditor {
            continue;
        }
        let p: AgentProfile = get_json(r, &agent_key(u.id))?;
        let load = r.count(Status::Open, Some(Some(u.id)), None)?
            + r.count(Status::Pending, Some(Some(u.id)), None)?;
        agents.push(AgentState {
            id: u.id,
            name: u.name.clone(),
            tier: u.tier.clamp(1, 3),
            teams: u.teams.clone(),
            skills: u.skills.clone(),
            languages: u.languages.clone(),
            capacity: p.capacity.unwrap_or(default_capacity),
            availability: p.availability,
            working: true,
            open_load: load as u32,
            avg_first_response_secs: p.avg_first_response_secs(),
            csat: p.csat(),
            last_assigned: p.last_assigned,
        });
    }
    let teams = r.teams()?;
    let mut strategies = HashMap::new();
    for t in &teams {
        if let Some(s) = r
            .cursor_str(&team_key(t.id))?
            .and_then(|s| Strategy::parse(&s))
        {
            strategies.insert(t.id, s);
        }
    }
    Ok(Roster {
        agents,
        strategies,
        teams,
    })
}

/// Dates in a contact attribute `purchases` ("2026-11-02, 2026-10-15").
fn purchases(c: &Contact) -> Vec<Ts> {
    c.attributes
        .get("purchases")
        .map(|s| {
            s.split([',', ';', ' '])
                .filter_map(|d| {
                    let d = d.trim();
                    Ts::parse(d).or_else(|| Ts::parse(&format!("{d}T00:00:00Z")))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Everything a decision reads, from one snapshot.
struct Gathered {
    input: TriageInput,
    message: Option<MessageId>,
    last_agent: Option<UserId>,
    record: TriageRecord,
    conv: Conversation,
    vip: bool,
}

/// What decisions need from the app's configuration, taken once per step
/// (store closures run on other threads).
#[derive(Clone, Debug)]
struct Facts {
    /// Channel name → kind (`email`, `x`...).
    kinds: HashMap<String, String>,
    routing: bool,
    open_now: bool,
    capacity: u32,
    /// The calendars in force (SLA due times count business time).
    clock: Arc<super::hours::ClockState>,
}

impl Facts {
    fn kind(&self, channel: &str) -> String {
        self.kinds
            .get(channel)
            .cloned()
            .unwrap_or_else(|| "api".into())
    }
}

impl App {
    /// Whether the business is open at `now` (the default calendar).
    pub fn open_now(&self, now: Ts) -> bool {
        self.clock_state().default.is_open(now)
    }

    fn facts(&self) -> Facts {
        let mut kinds = HashMap::new();
        for c in &self.config.channel.api {
            kinds.insert(c.name.clone(), "api".to_string());
        }
        for c in &self.config.channel.webchat {
            kinds.insert(c.name.clone(), "webchat".to_string());
        }
        for (c, _) in self.email_channels() {
            kinds.insert(c.name.clone(), "email".to_string());
        }
        if let Ok(m) = self.connectors.read() {
            for (name, e) in m.iter() {
                kinds.insert(name.clone(), e.conn.kind().as_str().to_string());
            }
        }
        Facts {
            kinds,
            routing: self.config.triage.routing,
            open_now: self.open_now(self.clock.now()),
            capacity: self.config.triage.default_capacity,
            clock: self.clock_state(),
        }
    }
}

fn gather(f: &Facts, r: &Reader, conv: Conversation, now: Ts) -> Result<Gathered, StoreError> {
    let record: TriageRecord = get_json(r, &record_key(conv.id))?;
    let ids = r.message_ids(conv.id)?;
    let mut latest: Option<Message> = None;
    let mut previous_here: Option<Ts> = None;
    for id in ids.iter().rev() {
        let Some(m) = r.message(*id)? else { continue };
        if m.direction != Direction::In {
            continue;
        }
        if latest.is_none() {
            latest = Some(m);
        } else {
            previous_here = Some(m.sent_at);
            break;
        }
    }
    let contact = r.contact(conv.contact)?;
    let identity = r.identity(conv.identity)?;
    let sent_at = latest.as_ref().map(|m| m.sent_at).unwrap_or(now);
    let mut previous = previous_here.map(|t| (t, f.kind(&conv.channel)));
    let mut last_agent: Option<(Ts, UserId)> = None;
    for other in r.contact_conversations(conv.contact)? {
        if other == conv.id {
            continue;
        }
        let Some(o) = r.conversation(other)? else {
            continue;
        };
        if o.last_message_at < sent_at && previous.as_ref().is_none_or(|p| o.last_message_at > p.0)
        {
            previous = Some((o.last_message_at, f.kind(&o.channel)));
        }
        if let Some(a) = o.assignee
            && last_agent.is_none_or(|(t, _)| o.last_message_at > t)
        {
            last_agent = Some((o.last_message_at, a));
        }
    }
    let mut text = latest.as_ref().map(|m| m.text.clone()).unwrap_or_default();
    if conv.message_count <= 1
        && let Some(s) = &conv.subject
    {
        text = format!("{s}\n{text}");
    }
    let vip = contact.as_ref().is_some_and(|c| c.vip);
    let input = TriageInput {
        text,
        channel_kind: f.kind(&conv.channel),
        channel: conv.channel.clone(),
        public: latest.as_ref().map(|m| m.public).unwrap_or(conv.public),
        language: contact.as_ref().and_then(|c| c.language.clone()),
        lifetime_value_cents: contact
            .as_ref()
            .map(|c| c.lifetime_value_cents)
            .unwrap_or(0),
        vip,
        purchases: contact.as_ref().map(purchases).unwrap_or_default(),
        followers: identity.as_ref().and_then(|i| i.followers),
        verified: identity.as_ref().is_some_and(|i| i.verified),
        account_created_at: identity.as_ref().and_then(|i| i.account_created_at),
        avatar: None,
        previous_contact: previous,
        waiting_since: conv.waiting_since,
        open_now: f.open_now,
        category: if record.manual_category {
            conv.category.clone()
        } else {
            None
        },
        now,
    };
    Ok(Gathered {
        input,
        message: latest.map(|m| m.id),
        last_agent: last_agent.map(|(_, a)| a),
        record,
        conv,
        vip,
    })
}

/// Decide (and route) one gathered conversation against `roster`.
fn plan(f: &Facts, g: &Gathered, active: &Active, roster: &mut Roster, seq: u64) -> Planned {
    let decision = active.set.decide(&g.input);
    let conv = &g.conv;
    let team = conv.team.or_else(|| {
        decision
            .team
            .as_deref()
            .and_then(|n| roster.team_by_name(n))
    });
    let priority = match g.record.overridden {
        Some(_) => conv.priority,
        None => decision.priority.unwrap_or(Priority::P4),
    };
    let category = if g.record.manual_category {
        conv.category.clone()
    } else {
        decision.category.clone()
    };
    let mut tier = conv.tier.max(decision.tier).clamp(1, 3);
    let mut escalate = None;
    // Priority rose to P1: one tier up (once).
    if priority == Priority::P1
        && conv.priority != Priority::P1
        && conv.message_count > 1
        && tier < 3
        && !g.record.escalations.iter().any(|e| e == "p1")
    {
        tier += 1;
        escalate = Some((tier, "p1".into(), "priority rose to P1".into()));
    }
    let sla = category
        .as_deref()
        .or(Some("general"))
        .and_then(|c| active.set.category(c))
        .and_then(|c| {
            let team_name = team
                .and_then(|t| roster.teams.iter().find(|x| x.id == t))
                .map(|t| t.name.as_str());
            let cal = f.clock.calendar(&conv.channel, team_name);
            triage::sla::due(Some(c), priority, g.vip, conv.created_at, cal)
        });
    let route = (f.routing && conv.assignee.is_none() && conv.status == Status::Open).then(|| {
        let req = RouteRequest {
            team,
            strategy: roster.strategy(team),
            tier,
            category: category.clone(),
            language: decision.language.clone(),
            last_agent: g.last_agent,
            prefer: decision.prefer,
        };
        let d = triage::routing::route(&req, &roster.agents);
        if let Some(a) = d.assignee {
            roster.took(a, seq);
        }
        d
    });
    let mut decision = decision;
    decision.priority = Some(priority);
    decision.category = category;
    decision.tier = tier;
    Planned {
        conv: conv.id,
        message: g.message,
        decision,
        team,
        route,
        sla,
        escalate,
    }
}

impl App {
    /// Write planned decisions and the new watermark in one transaction.
    async fn commit_plans(
        &self,
        plans: Vec<Planned>,
        watermark: Option<u64>,
        version: u32,
    ) -> Result<(), StoreError> {
        self.store
            .write(move |tx| {
                for p in plans {
                    apply_plan(tx, p, version)?;
                }
                if let Some(w) = watermark {
                    tx.put_cursor(WATERMARK, &w)?;
                }
                Ok(())
            })
            .await
    }

    /// Decide the conversations a customer wrote in, then hand out the
    /// queue when something freed up. One step of the follower; returns
    /// whether there was anything to read.
    pub async fn triage_step(&self) -> Result<bool, AppError> {
        let watermark = self
            .store
            .read(|r| r.cursor::<u64>(WATERMARK))
            .await?
            .unwrap_or(0);
        let events = self
            .store
            .read(move |r| r.events_after(watermark, BATCH))
            .await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            // Caught up: now the queue can be handed out.
            if self
                .triage
                .handout
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                self.hand_out().await?;
            }
            return Ok(false);
        };
        let mut wrote = BTreeSet::new();
        let mut freed = false;
        for e in &events {
            match &e.kind {
                EventKind::MessageReceived { conversation, .. } => {
                    wrote.insert(*conversation);
                }
                EventKind::Assigned { .. }
                | EventKind::StatusChanged { .. }
                | EventKind::AgentChanged { .. }
                | EventKind::MembershipChanged { .. }
                | EventKind::TeamAssigned { .. }
                | EventKind::TierChanged { .. }
                | EventKind::TeamRoutingChanged { .. }
                | EventKind::UserCreated { .. } => freed = true,
                _ => {}
            }
        }
        self.decide_now(wrote.into_iter().collect(), Some(last))
            .await?;
        if freed {
            self.triage
                .handout
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(true)
    }

    /// Decide these conversations now (and route the unassigned ones).
    async fn decide_now(
        &self,
        ids: Vec<ConversationId>,
        watermark: Option<u64>,
    ) -> Result<(), AppError> {
        let active = self.engine_active();
        let now = self.clock.now();
        let facts = self.facts();
        let (plans, version) = self
            .store
            .read(move |r| {
                let mut roster = roster(r, facts.capacity)?;
                let seq = r.last_event_seq()?;
                let mut plans = Vec::with_capacity(ids.len());
                for id in ids {
                    let Some(conv) = r.conversation(id)? else {
                        continue;
                    };
                    let g = gather(&facts, r, conv, now)?;
                    plans.push(plan(&facts, &g, &active, &mut roster, seq + 1));
                }
                Ok((plans, active.version))
            })
            .await?;
        self.commit_plans(plans, watermark, version).await?;
        Ok(())
    }

    /// Give waiting unassigned conversations (highest priority first) to
    /// agents who have room.
    pub async fn hand_out(&self) -> Result<usize, AppError> {
        if !self.config.triage.routing {
            return Ok(0);
        }
        let facts = self.facts();
        let now = self.clock.now();
        let plans = self
            .store
            .read(move |r| {
                let mut roster = roster(r, facts.capacity)?;
                if !roster.anyone_free() {
                    return Ok(Vec::new());
                }
                let seq = r.last_event_seq()?;
                let page = r.list_scoped(
                    crate::store::Sort::Priority,
                    crate::store::Scope::Assignee(Status::Open, None),
                    None,
                    DRAIN,
                    |_| true,
                )?;
                let mut plans = Vec::new();
                for conv in page.items {
                    if !roster.anyone_free() {
                        break;
                    }
                    let g = gather(&facts, r, conv, now)?;
                    let record = g.record.clone();
                    let c = &g.conv;
                    let req = RouteRequest {
                        team: c.team,
                        strategy: roster.strategy(c.team),
                        tier: c.tier,
                        category: c.category.clone(),
                        language: record.decision.language.clone(),
                        last_agent: g.last_agent,
                        prefer: record.decision.prefer,
                    };
                    let d = triage::routing::route(&req, &roster.agents);
                    let Some(a) = d.assignee else { continue };
                    roster.took(a, seq + 1);
                    plans.push((c.id, a, d.reasons));
                }
                Ok(plans)
            })
            .await?;
        let n = plans.len();
        if n == 0 {
            return Ok(0);
        }
        self.store
            .write(move |tx| {
                for (id, a, reasons) in plans {
                    assign_routed(tx, id, a, reasons)?;
                }
                Ok(())
            })
            .await?;
        Ok(n)
    }

    /// Re-score open conversations whose waiting time crossed a rule's
    /// threshold since they were last decided, and escalate those about to
    /// miss their first-response target.
    pub async fn triage_sweep(&self) -> Result<usize, AppError> {
        let active = self.engine_active();
        let thresholds: Vec<i64> = active
            .set
            .doc()
            .rules
            .iter()
            .filter(|r| r.enabled)
            .filter_map(|r| r.when.min_waiting_minutes)
            .map(|m| i64::from(m) * 60_000)
            .collect();
        let now = self.clock.now();
        let share = self.config.triage.escalate_at;
        let clock = self.clock_state();
        let (rescore, escalate) = self
            .store
            .read(move |r| {
                let mut rescore = Vec::new();
                let mut escalate = Vec::new();
                let mut cursor: Option<Vec<u8>> = None;
                loop {
                    let page = r.list_conversations(
                        crate::store::Sort::Oldest,
                        Some(Status::Open),
                        cursor.as_deref(),
                        500,
                        |c| c.waiting_since.is_some(),
                    )?;
                    for c in &page.items {
                        let rec: TriageRecord = get_json(r, &record_key(c.id))?;
                        let since = c.waiting_since.map(|t| t.0).unwrap_or(now.0);
                        if thresholds
                            .iter()
                            .any(|t| since + t > rec.at.0 && since + t <= now.0)
                        {
                            rescore.push(c.id);
                        }
                        if c.first_response_at.is_none()
                            && c.tier < 3
                            && !rec.escalations.iter().any(|e| e == "sla")
                            && let Some(due) = rec.first_response_due
                        {
                            // Shares of business time (the calendar's open hours).
                            let team = match c.team {
                                Some(t) => r.team(t)?.map(|t| t.name),
                                None => None,
                            };
                            let cal = clock.calendar(&c.channel, team.as_deref());
                            let total = cal.business_between(c.created_at, due).max(1) as f64;
                            let used = if now.0 >= due.0 {
                                total
                            } else {
                                cal.business_between(c.created_at, now) as f64
                            };
                            if used / total >= share {
                                let left = due.0 - now.0;
                                let reason = if left > 0 {
                                    format!(
                                        "first response due in {}",
                                        triage::sla::format_duration(left)
                                    )
                                } else {
                                    format!(
                                        "first response overdue by {}",
                                        triage::sla::format_duration(-left)
                                    )
                                };
                                escalate.push((c.id, c.tier + 1, reason));
                            }
                        }
                    }
                    match page.next_cursor.and_then(|c| hex::decode(c).ok()) {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
                Ok((rescore, escalate))
            })
            .await?;
        let n = rescore.len() + escalate.len();
        if !escalate.is_empty() {
            self.store
                .write(move |tx| {
                    for (id, tier, reason) in escalate {
                        change_tier(tx, id, tier, &reason, Actor::System, Some("sla"))?;
                    }
                    Ok(())
                })
                .await?;
        }
        if !rescore.is_empty() {
            self.decide_now(rescore, None).await?;
        }
        if n > 0 {
            self.hand_out().await?;
        }
        Ok(n)
    }

    fn engine_active(&self) -> Arc<Active> {
        self.triage.active()
    }

    /// Load the rules (seeding the presets or provisioning `rules_file`),
    /// then follow the event log until `stop`.
    pub fn start_triage(
        self: &Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let app = self.clone();
        tokio::spawn(async move {
            if let Err(e) = app.load_rules().await {
                tracing::error!(error = %e, "triage rules could not be loaded; using the presets");
            }
            // A fresh store starts following from now (history is not
            // re-decided on upgrade).
            let start = app
                .store
                .read(|r| Ok((r.cursor::<u64>(WATERMARK)?, r.last_event_seq()?)))
                .await;
            if let Ok((None, last)) = start {
                let _ = app
                    .store
                    .write(move |tx| tx.put_cursor(WATERMARK, &last))
                    .await;
            }
            let mut seq = app.store.subscribe();
            let mut sweep = tokio::time::interval(app.config.triage.sweep_interval.0);
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                match app.triage_step().await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "triage step failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
                tokio::select! {
                    _ = stop.changed() => break,
                    r = seq.changed() => if r.is_err() { break },
                    _ = app.triage.wake.notified() => {
                        // Decide what is pending first, then hand out.
                        app.triage.handout.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    _ = sweep.tick() => {
                        if let Err(e) = app.triage_sweep().await {
                            tracing::warn!(error = %e, "triage sweep failed");
                        }
                    }
                }
                if *stop.borrow() {
                    break;
                }
            }
        })
    }

    /// The rules in force from the store; seeds the presets on a new store
    /// and turns a changed `[triage] rules_file` into a new version.
    pub async fn load_rules(&self) -> Result<u32, AppError> {
        let file = match &self.config.triage.rules_file {
            Some(p) => Some(
                tokio::fs::read_to_string(p)
                    .await
                    .map_err(|e| AppError::Invalid(format!("{}: {e}", p.display())))?,
            ),
            None => None,
        };
        let hash = file.as_deref().map(|t| {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(t.as_bytes()))
        });
        let current: RulesVersion = self
            .store
            .read(|r| {
                Ok(r.cursor_str(RULES)?
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default())
            })
            .await?;
        let provisioned: Option<String> = self.store.read(|r| r.cursor_str(PROVISIONED)).await?;
        let (toml, source) = match (&file, &hash) {
            (Some(t), Some(h)) if provisioned.as_deref() != Some(h.as_str()) => {
                (Some(t.clone()), "config")
            }
            _ if current.version == 0 => {
                (Some(triage::presets::PRESETS_TOML.to_string()), "presets")
            }
            _ => (None, ""),
        };
        let version = match toml {
            Some(t) => {
                let v = self.store_rules(t, source, None, String::new()).await?;
                if let Some(h) = hash {
                    self.store
                        .write(move |tx| tx.put_cursor(PROVISIONED, &h))
                        .await?;
                }
                v.version
            }
            None => {
                let set = RuleSet::from_toml(&current.toml)
                    .map_err(|e| AppError::Invalid(format!("stored rules: {e}")))?;
                self.triage.set(Active {
                    set,
                    version: current.version,
                });
                current.version
            }
        };
        Ok(version)
    }

    /// Compile, store as the next version, and put in force.
    async fn store_rules(
        &self,
        toml: String,
        source: &str,
        by: Option<UserId>,
        note: String,
    ) -> Result<RulesVersion, AppError> {
        let set = RuleSet::from_toml(&toml).map_err(|e| AppError::Invalid(e.to_string()))?;
        let source = source.to_string();
        let saved = self
            .store
            .write(move |tx| {
                let current: RulesVersion = tx
                    .cursor_str(RULES)?
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default();
                let v = RulesVersion {
                    version: current.version + 1,
                    toml,
                    source: source.clone(),
                    by,
                    at: tx.now(),
                    note,
                };
                put_json(tx, RULES, &v)?;
                put_json(tx, &version_key(v.version), &v)?;
                tx.append_event(
                    by.map(Actor::User).unwrap_or(Actor::System),
                    EventKind::RulesChanged {
                        version: v.version,
                        source,
                    },
                )?;
                Ok(v)
            })
            .await?;
        self.triage.set(Active {
            set,
            version: saved.version,
        });
        Ok(saved)
    }

    /// The rules in force and every earlier version (newest first).
    pub async fn rules_versions(
        &self,
        caller: &Caller,
    ) -> Result<(RulesVersion, Vec<RulesVersion>), AppError> {
        caller.check(Perm::ManageRules, None)?;
        self.store
            .read(|r| {
                let current: RulesVersion = r
                    .cursor_str(RULES)?
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default();
                let mut all = Vec::new();
                for v in (1..=current.version).rev() {
                    if let Some(x) = r
                        .cursor_str(&version_key(v))?
                        .and_then(|s| serde_json::from_str::<RulesVersion>(&s).ok())
                    {
                        all.push(x);
                    }
                }
                Ok((current, all))
            })
            .await
            .map_err(Into::into)
    }

    /// Save rules from the editor (admins and supervisors).
    pub async fn save_rules(
        &self,
        caller: &Caller,
        toml: &str,
        note: &str,
    ) -> Result<RulesVersion, AppError> {
        caller.check(Perm::ManageRules, None)?;
        let by = caller.user().map(|u| u.id);
        let v = self
            .store_rules(toml.to_string(), "editor", by, note.trim().to_string())
            .await?;
        self.triage.wake.notify_one();
        Ok(v)
    }

    /// Put an earlier version back in force (as a new version).
    pub async fn restore_rules(
        &self,
        caller: &Caller,
        version: u32,
    ) -> Result<RulesVersion, AppError> {
        caller.check(Perm::ManageRules, None)?;
        let old: Option<RulesVersion> = self
            .store
            .read(move |r| {
                Ok(r.cursor_str(&version_key(version))?
                    .and_then(|s| serde_json::from_str(&s).ok()))
            })
            .await?;
        let old = old.ok_or_else(|| AppError::NotFound(format!("no rules version {version}")))?;
        let by = caller.user().map(|u| u.id);
        self.store_rules(
            old.toml,
            &format!("restore of {version}"),
            by,
            String::new(),
        )
        .await
    }

    /// The triage record of a conversation the caller may see.
    pub async fn triage_record(
        &self,
        caller: &Caller,
        id: ConversationId,
    ) -> Result<TriageRecord, AppError> {
        let conv = self
            .store
            .read(move |r| r.conversation(id))
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no conversation {id}")))?;
        caller.check(Perm::ViewConversation, Some(&conv))?;
        self.store
            .read(move |r| get_json(r, &record_key(id)))
            .await
            .map_err(Into::into)
    }

    /// Escalate or de-escalate by hand, with a reason.
    pub async fn set_tier(
        &self,
        caller: &Caller,
        id: ConversationId,
        tier: u8,
        reason: &str,
    ) -> Result<Conversation, AppError> {
        if !(1..=3).contains(&tier) {
            return Err(AppError::Invalid("tier must be 1, 2 or 3".into()));
        }
        let reason = reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > 300 {
            return Err(AppError::Invalid(
                "give a reason (up to 300 characters)".into(),
            ));
        }
        caller.check(Perm::ChangeStatus, None)?;
        let me = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let caller = caller.clone();
        let out = self
            .store
            .write(move |tx| {
                let Some(old) = tx.conversation(id)? else {
                    return Ok(Err(AppError::NotFound(format!("no conversation {id}"))));
                };
                if let Err(e) = caller.check(Perm::ChangeStatus, Some(&old)) {
                    return Ok(Err(e));
                }
                change_tier(tx, id, tier, &reason, Actor::User(me.id), None)?;
                Ok(Ok(tx.conversation(id)?.unwrap_or(old)))
            })
            .await??;
        self.triage.wake.notify_one();
        Ok(out)
    }

    /// Set the category by hand (None: let triage decide again).
    pub async fn set_category(
        &self,
        caller: &Caller,
        id: ConversationId,
        category: Option<String>,
    ) -> Result<Conversation, AppError> {
        let active = self.engine_active();
        if let Some(c) = &category
            && active.set.category(c).is_none()
        {
            return Err(AppError::Invalid(format!("no category {c:?}")));
        }
        caller.check(Perm::ChangeStatus, None)?;
        let me = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let caller = caller.clone();
        let out = self
            .store
            .write(move |tx| {
                let Some(old) = tx.conversation(id)? else {
                    return Ok(Err(AppError::NotFound(format!("no conversation {id}"))));
                };
                if let Err(e) = caller.check(Perm::ChangeStatus, Some(&old)) {
                    return Ok(Err(e));
                }
                let mut rec: TriageRecord = get_json(tx, &record_key(id))?;
                rec.manual_category = category.is_some();
                put_json(tx, &record_key(id), &rec)?;
                let mut c = old.clone();
                c.category = category.clone();
                c.updated_at = tx.now();
                tx.put_conversation(Some(&old), &c)?;
                tx.append_event(
                    Actor::User(me.id),
                    EventKind::CategoryChanged {
                        conversation: id,
                        category,
                    },
                )?;
                Ok(Ok(c))
            })
            .await??;
        // Re-decide with the new category (SLA targets, tier).
        self.decide_now(vec![id], None).await?;
        Ok(out)
    }

    /// The caller sets their own availability.
    pub async fn set_availability(&self, caller: &Caller, a: Availability) -> Result<(), AppError> {
        let me = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        if me.role == Role::Auditor {
            return Err(AppError::Forbidden(
                "auditor accounts do not take conversations".into(),
            ));
        }
        self.store
            .write(move |tx| put_availability(tx, me.id, a))
            .await?;
        self.triage.wake.notify_one();
        Ok(())
    }

    /// A staff member's routing profile.
    pub async fn agent_profile(&self, user: UserId) -> Result<AgentProfile, AppError> {
        self.store
            .read(move |r| get_json(r, &agent_key(user)))
            .await
            .map_err(Into::into)
    }

    /// Every staff account with its routing profile and open load (admins
    /// and supervisors).
    pub async fn agents(
        &self,
        caller: &Caller,
    ) -> Result<Vec<(User, AgentProfile, u64)>, AppError> {
        caller.check(Perm::ManageTeams, None)?;
        self.store
            .read(|r| {
                let mut out = Vec::new();
                for u in r.users()? {
                    let p: AgentProfile = get_json(r, &agent_key(u.id))?;
                    let load = r.count(Status::Open, Some(Some(u.id)), None)?
                        + r.count(Status::Pending, Some(Some(u.id)), None)?;
                    out.push((u, p, load));
                }
                Ok(out)
            })
            .await
            .map_err(Into::into)
    }

    /// Set an agent's tier, skills, languages and capacity (admins and
    /// supervisors).
    pub async fn update_agent(
        &self,
        caller: &Caller,
        user: UserId,
        edit: AgentEdit,
    ) -> Result<(), AppError> {
        caller.check(Perm::ManageTeams, None)?;
        let me = caller.user().map(|u| u.id);
        if !(1..=3).contains(&edit.tier) {
            return Err(AppError::Invalid("tier must be 1, 2 or 3".into()));
        }
        if edit.capacity.is_some_and(|c| c == 0 || c > 1000) {
            return Err(AppError::Invalid("capacity must be from 1 to 1000".into()));
        }
        let clean = |v: Vec<String>| -> Vec<String> {
            let mut out: Vec<String> = v
                .into_iter()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty() && s.len() <= 60)
                .collect();
            out.sort();
            out.dedup();
            out
        };
        let skills = clean(edit.skills);
        let languages = clean(edit.languages);
        self.store
            .write(move |tx| {
                let Some(mut u) = tx.user(user)? else {
                    return Ok(Err(AppError::NotFound(format!("no user {user}"))));
                };
                u.tier = edit.tier;
                u.skills = skills;
                u.languages = languages;
                tx.put_user(&u)?;
                let mut p: AgentProfile = get_json(tx, &agent_key(user))?;
                p.capacity = edit.capacity;
                put_json(tx, &agent_key(user), &p)?;
                tx.append_event(
                    me.map(Actor::User).unwrap_or(Actor::System),
                    EventKind::AgentChanged {
                        user,
                        change: "routing profile".into(),
                    },
                )?;
                Ok(Ok(()))
            })
            .await??;
        self.triage.wake.notify_one();
        Ok(())
    }

    /// Every team's routing strategy.
    pub async fn team_strategies(&self) -> Result<BTreeMap<TeamId, Strategy>, AppError> {
        self.store
            .read(|r| {
                let mut out = BTreeMap::new();
                for t in r.teams()? {
                    let s = r
                        .cursor_str(&team_key(t.id))?
                        .and_then(|s| Strategy::parse(&s))
                        .unwrap_or_default();
                    out.insert(t.id, s);
                }
                Ok(out)
            })
            .await
            .map_err(Into::into)
    }

    /// Set how a team hands out its conversations.
    pub async fn set_team_strategy(
        &self,
        caller: &Caller,
        team: TeamId,
        strategy: Strategy,
    ) -> Result<(), AppError> {
        caller.check(Perm::ManageTeams, None)?;
        let me = caller.user().map(|u| u.id);
        self.store
            .write(move |tx| {
                if tx.team(team)?.is_none() {
                    return Ok(Err(AppError::NotFound(format!("no team {team}"))));
                }
                tx.put_cursor(&team_key(team), &strategy.as_str().to_string())?;
                tx.append_event(
                    me.map(Actor::User).unwrap_or(Actor::System),
                    EventKind::TeamRoutingChanged {
                        team,
                        strategy: strategy.as_str().into(),
                    },
                )?;
                Ok(Ok(()))
            })
            .await??;
        self.triage.wake.notify_one();
        Ok(())
    }

    /// Whether replies on this conversation wait for a supervisor.
    pub async fn needs_approval(&self, id: ConversationId) -> Result<bool, AppError> {
        let rec: TriageRecord = self
            .store
            .read(move |r| get_json(r, &record_key(id)))
            .await?;
        Ok(rec.decision.approval)
    }

    /// A supervisor approves (the reply goes to the outbox) or rejects
    /// (it is marked failed with the reason) a held reply.
    pub async fn review_reply(
        &self,
        caller: &Caller,
        id: ConversationId,
        message: MessageId,
        approve: bool,
        reason: &str,
    ) -> Result<(), AppError> {
        caller.check(Perm::ManageTeams, None)?;
        let me = caller.user().cloned().ok_or(AppError::Unauthorized)?;
        let reason = reason.trim().to_string();
        if !approve && reason.is_empty() {
            return Err(AppError::Invalid("say why the reply is rejected".into()));
        }
        let ch = self
            .store
            .read(move |r| r.conversation(id))
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no conversation {id}")))?
            .channel;
        let parked = self.cannot_send(&ch);
        // The chat widget shows replies straight from the store.
        let webchat = self.channel_kind(&ch) == Some(ChannelKind::Webchat);
        self.store
            .write(move |tx| {
                let Some(mut m) = tx.message(message)? else {
                    return Ok(Err(AppError::NotFound(format!("no message {message}"))));
                };
                if m.conversation != id || m.delivery != Some(Delivery::AwaitingApproval) {
                    return Ok(Err(AppError::Conflict(
                        "this reply is not waiting for approval".into(),
                    )));
                }
                let outbox = if approve && webchat {
                    m.delivery = Some(Delivery::Sent);
                    m.delivery_detail = None;
                    tx.put_message(&m)?;
                    None
                } else if approve {
                    m.delivery = Some(Delivery::Queued);
                    m.delivery_detail = None;
                    tx.put_message(&m)?;
                    Some(super::conversations::queue_outbox(tx, &m, parked)?)
                } else {
                    m.delivery = Some(Delivery::Failed);
                    m.delivery_detail = Some(format!("rejected by {}: {reason}", me.name));
                    tx.put_message(&m)?;
                    None
                };
                tx.append_event(
                    Actor::User(me.id),
                    EventKind::ReplyReviewed {
                        conversation: id,
                        message,
                        approved: approve,
                        reason: reason.clone(),
                    },
                )?;
                if approve {
                    tx.append_event(
                        Actor::User(me.id),
                        EventKind::ReplyQueued {
                            conversation: id,
                            message,
                            outbox,
                        },
                    )?;
                }
                Ok(Ok(()))
            })
            .await??;
        if approve {
            self.outbox_wake.notify_one();
        }
        Ok(())
    }
}

/// Edits to an agent's routing profile.
#[derive(Clone, Debug, Default)]
pub struct AgentEdit {
    pub tier: u8,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub capacity: Option<u32>,
}

/// Store one decision (in the writer).
fn apply_plan(tx: &mut Tx<'_>, p: Planned, version: u32) -> Result<(), StoreError> {
    let Some(old) = tx.conversation(p.conv)? else {
        return Ok(());
    };
    let mut rec: TriageRecord = get_json(tx, &record_key(p.conv))?;
    let mut c = old.clone();
    let d = &p.decision;
    c.score = d.score;
    if rec.overridden.is_none() {
        c.priority = d.priority.unwrap_or(Priority::P4);
    }
    if !rec.manual_category {
        c.category = d.category.clone();
    }
    c.tier = c.tier.max(d.tier);
    if c.team.is_none() {
        c.team = p.team;
    }
    for t in &d.tags {
        if !c.tags.contains(t) && c.tags.len() < super::actions::MAX_TAGS {
            c.tags.push(t.clone());
        }
    }
    if let Some(s) = &p.sla {
        rec.first_response_due = Some(s.first_response);
        rec.resolution_due = Some(s.resolution);
        rec.sla_reasons = s.reasons.clone();
        c.sla_due_at = Some(if c.first_response_at.is_none() {
            s.first_response
        } else {
            s.resolution
        });
    }
    if let Some((_, cause, _)) = &p.escalate {
        rec.escalations.push(cause.clone());
    }
    let now = tx.now();
    rec.decision = p.decision.clone();
    rec.rules_version = version;
    rec.message = p.message;
    rec.at = now;
    let mut routed = None;
    if let Some(r) = &p.route {
        rec.routing_reasons = r.reasons.clone();
        if let Some(a) = r.assignee
            && c.assignee.is_none()
            && c.status == Status::Open
        {
            c.assignee = Some(a);
            rec.routed_to = Some(a);
            routed = Some(a);
        }
    }
    c.updated_at = now;
    tx.put_conversation(Some(&old), &c)?;
    put_json(tx, &record_key(p.conv), &rec)?;
    if let Some((to, _, reason)) = &p.escalate {
        tx.append_event(
            Actor::System,
            EventKind::TierChanged {
                conversation: c.id,
                from: old.tier,
                to: *to,
                reason: reason.clone(),
            },
        )?;
    }
    if c.priority != old.priority || c.score != old.score {
        tx.append_event(
            Actor::System,
            EventKind::PriorityChanged {
                conversation: c.id,
                priority: c.priority,
                score: c.score,
            },
        )?;
    }
    if c.team != old.team {
        tx.append_event(
            Actor::System,
            EventKind::TeamAssigned {
                conversation: c.id,
                team: c.team,
            },
        )?;
    }
    if c.tags != old.tags {
        tx.append_event(
            Actor::System,
            EventKind::TagsChanged {
                conversation: c.id,
                tags: c.tags.clone(),
            },
        )?;
    }
    tx.append_event(
        Actor::System,
        EventKind::Triaged {
            conversation: c.id,
            priority: c.priority,
            score: c.score,
            category: c.category.clone(),
            tier: c.tier,
            rules_version: version,
        },
    )?;
    if let Some(a) = routed {
        let seq = tx.append_event(
            Actor::System,
            EventKind::Assigned {
                conversation: c.id,
                assignee: Some(a),
            },
        )?;
        let mut prof: AgentProfile = get_json(tx, &agent_key(a))?;
        prof.last_assigned = seq;
        put_json(tx, &agent_key(a), &prof)?;
    }
    Ok(())
}

/// Give a waiting conversation to the routed agent, if still unassigned.
fn assign_routed(
    tx: &mut Tx<'_>,
    id: ConversationId,
    a: UserId,
    reasons: Vec<String>,
) -> Result<(), StoreError> {
    let Some(old) = tx.conversation(id)? else {
        return Ok(());
    };
    if old.assignee.is_some() || old.status != Status::Open {
        return Ok(());
    }
    let mut c = old.clone();
    c.assignee = Some(a);
    c.updated_at = tx.now();
    tx.put_conversation(Some(&old), &c)?;
    let mut rec: TriageRecord = get_json(tx, &record_key(id))?;
    rec.routed_to = Some(a);
    rec.routing_reasons = reasons;
    put_json(tx, &record_key(id), &rec)?;
    let seq = tx.append_event(
        Actor::System,
        EventKind::Assigned {
            conversation: id,
            assignee: Some(a),
        },
    )?;
    let mut prof: AgentProfile = get_json(tx, &agent_key(a))?;
    prof.last_assigned = seq;
    put_json(tx, &agent_key(a), &prof)
}

/// Move a conversation to another tier. When its agent works below the new
/// tier, it goes back to the queue to be routed to someone who can take it.
pub(crate) fn change_tier(
    tx: &mut Tx<'_>,
    id: ConversationId,
    tier: u8,
    reason: &str,
    actor: Actor,
    cause: Option<&str>,
) -> Result<(), StoreError> {
    let Some(old) = tx.conversation(id)? else {
        return Ok(());
    };
    let tier = tier.clamp(1, 3);
    if old.tier == tier {
        return Ok(());
    }
    let mut c = old.clone();
    c.tier = tier;
    c.updated_at = tx.now();
    let mut unassigned = false;
    if tier > old.tier
        && let Some(a) = c.assignee
        && tx.user(a)?.is_some_and(|u| u.tier < tier)
    {
        c.assignee = None;
        unassigned = true;
    }
    tx.put_conversation(Some(&old), &c)?;
    if let Some(cause) = cause {
        let mut rec: TriageRecord = get_json(tx, &record_key(id))?;
        rec.escalations.push(cause.to_string());
        put_json(tx, &record_key(id), &rec)?;
    }
    tx.append_event(
        actor.clone(),
        EventKind::TierChanged {
            conversation: id,
            from: old.tier,
            to: tier,
            reason: reason.to_string(),
        },
    )?;
    if unassigned {
        tx.append_event(
            actor,
            EventKind::Assigned {
                conversation: id,
                assignee: None,
            },
        )?;
    }
    Ok(())
}

/// One side of a simulated decision.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SimSide {
    pub priority: String,
    pub score: u8,
    pub category: Option<String>,
    pub tier: u8,
    pub assignee: Option<String>,
    pub reasons: Vec<String>,
}

/// A conversation whose latest decision would change.
#[derive(Clone, Debug, Serialize)]
pub struct SimRow {
    pub conversation: u64,
    pub contact: String,
    pub snippet: String,
    pub before: SimSide,
    pub after: SimSide,
}

/// What a rules change would have done over recent traffic.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SimReport {
    pub days: u32,
    /// Customer messages decided (twice: current and new rules).
    pub messages: usize,
    pub conversations: usize,
    /// Messages whose priority, category or tier would differ.
    pub messages_changed: usize,
    pub priority_changes: usize,
    pub category_changes: usize,
    pub tier_changes: usize,
    pub assignment_changes: usize,
    /// Conversations per priority P1..P4, current and new rules (latest message).
    pub before: [usize; 4],
    pub after: [usize; 4],
    /// Changed conversations, most urgent first (at most 200).
    pub rows: Vec<SimRow>,
    pub rows_total: usize,
    pub elapsed_ms: u64,
}

/// Most rows a simulation returns.
const SIM_ROWS: usize = 200;

fn priority_slot(p: Option<Priority>) -> usize {
    match p.unwrap_or(Priority::P4) {
        Priority::P1 => 0,
        Priority::P2 => 1,
        Priority::P3 => 2,
        Priority::P4 => 3,
    }
}

impl App {
    /// Run `toml` (new rules) and the rules in force over every customer
    /// message of the last `days` days and report what would change.
    pub async fn simulate_rules(
        &self,
        caller: &Caller,
        toml: &str,
        days: u32,
    ) -> Result<SimReport, AppError> {
        caller.check(Perm::ManageRules, None)?;
        let new = RuleSet::from_toml(toml).map_err(|e| AppError::Invalid(e.to_string()))?;
        self.simulate_with(Arc::new(new), days.clamp(1, 365)).await
    }

    /// [`App::simulate_rules`] without the permission check (benchmarks).
    pub async fn simulate_with(&self, new: Arc<RuleSet>, days: u32) -> Result<SimReport, AppError> {
        let started = std::time::Instant::now();
        let old = self.engine_active();
        let facts = self.facts();
        let now = self.clock.now();
        let cutoff = Ts(now.0 - i64::from(days) * 86_400_000);
        // Conversations active in the window, newest first.
        let ids = self
            .store
            .read(move |r| {
                let mut ids = Vec::new();
                let mut cursor: Option<Vec<u8>> = None;
                'pages: loop {
                    let page = r.list_conversations(
                        crate::store::Sort::Newest,
                        None,
                        cursor.as_deref(),
                        1000,
                        |_| true,
                    )?;
                    for c in &page.items {
                        if c.last_message_at < cutoff {
                            break 'pages;
                        }
                        ids.push(c.id);
                    }
                    match page.next_cursor.and_then(|c| hex::decode(c).ok()) {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
                Ok(ids)
            })
            .await?;
        // Two halves on the two blocking threads.
        let half = ids.len().div_ceil(2).max(1);
        let mut parts = Vec::new();
        for chunk in ids.chunks(half) {
            let chunk = chunk.to_vec();
            let (old, new, facts) = (old.clone(), new.clone(), facts.clone());
            parts.push(
                self.store
                    .read(move |r| simulate_part(r, &chunk, &old.set, &new, &facts, cutoff)),
            );
        }
        let mut report = SimReport {
            days,
            ..Default::default()
        };
        for part in futures_util::future::join_all(parts).await {
            let p = part?;
            report.messages += p.messages;
            report.conversations += p.conversations;
            report.messages_changed += p.messages_changed;
            report.priority_changes += p.priority_changes;
            report.category_changes += p.category_changes;
            report.tier_changes += p.tier_changes;
            report.assignment_changes += p.assignment_changes;
            for i in 0..4 {
                report.before[i] += p.before[i];
                report.after[i] += p.after[i];
            }
            report.rows_total += p.rows_total;
            report.rows.extend(p.rows);
        }
        report.rows.sort_by(|a, b| {
            b.after
                .score
                .max(b.before.score)
                .cmp(&a.after.score.max(a.before.score))
                .then(a.conversation.cmp(&b.conversation))
        });
        report.rows.truncate(SIM_ROWS);
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }
}

fn side(d: &Decision, route: &RouteDecision, agents: &[AgentState]) -> SimSide {
    SimSide {
        priority: d.priority.unwrap_or(Priority::P4).as_str().into(),
        score: d.score,
        category: d.category.clone(),
        tier: d.tier,
        assignee: route
            .assignee
            .and_then(|a| agents.iter().find(|x| x.id == a))
            .map(|a| a.name.clone()),
        reasons: d.reasons.iter().map(|r| r.line()).collect(),
    }
}

/// Simulate the conversations `ids` (one read snapshot).
fn simulate_part(
    r: &Reader,
    ids: &[ConversationId],
    old: &RuleSet,
    new: &RuleSet,
    facts: &Facts,
    cutoff: Ts,
) -> Result<SimReport, StoreError> {
    let roster = roster(r, facts.capacity)?;
    let mut out = SimReport::default();
    for &id in ids {
        let Some(conv) = r.conversation(id)? else {
            continue;
        };
        let contact = r.contact(conv.contact)?;
        let identity = r.identity(conv.identity)?;
        let record: TriageRecord = get_json(r, &record_key(id))?;
        let mut previous: Option<(Ts, String)> = None;
        let mut last: Option<(Decision, Decision, TriageInput)> = None;
        let mut first = true;
        for mid in r.message_ids(id)? {
            let Some(m) = r.message(mid)? else { continue };
            if m.direction != Direction::In {
                continue;
            }
            if m.sent_at >= cutoff {
                let mut text = m.text.clone();
                if first && let Some(s) = &conv.subject {
                    text = format!("{s}\n{text}");
                }
                let input = TriageInput {
                    text,
                    channel_kind: facts.kind(&conv.channel),
                    channel: conv.channel.clone(),
                    public: m.public,
                    language: contact.as_ref().and_then(|c| c.language.clone()),
                    lifetime_value_cents: contact
                        .as_ref()
                        .map(|c| c.lifetime_value_cents)
                        .unwrap_or(0),
                    vip: contact.as_ref().is_some_and(|c| c.vip),
                    purchases: contact.as_ref().map(purchases).unwrap_or_default(),
                    followers: identity.as_ref().and_then(|i| i.followers),
                    verified: identity.as_ref().is_some_and(|i| i.verified),
                    account_created_at: identity.as_ref().and_then(|i| i.account_created_at),
                    avatar: None,
                    previous_contact: previous.clone(),
                    waiting_since: Some(m.sent_at),
                    open_now: facts.open_now,
                    category: record
                        .manual_category
                        .then(|| conv.category.clone())
                        .flatten(),
                    now: m.sent_at,
                };
                let a = old.decide(&input);
                let b = new.decide(&input);
                out.messages += 1;
                let pc = a.priority != b.priority;
                let cc = a.category != b.category;
                let tc = a.tier != b.tier;
                out.priority_changes += usize::from(pc);
                out.category_changes += usize::from(cc);
                out.tier_changes += usize::from(tc);
                out.messages_changed += usize::from(pc || cc || tc);
                last = Some((a, b, input));
            }
            previous = Some((m.sent_at, facts.kind(&conv.channel)));
            first = false;
        }
        let Some((a, b, input)) = last else { continue };
        out.conversations += 1;
        out.before[priority_slot(a.priority)] += 1;
        out.after[priority_slot(b.priority)] += 1;
        let request = |d: &Decision| RouteRequest {
            team: conv.team,
            strategy: roster.strategy(conv.team),
            tier: d.tier,
            category: d.category.clone(),
            language: d.language.clone(),
            last_agent: None,
            prefer: d.prefer,
        };
        let (ra, rb) = if facts.routing {
            (
                triage::routing::route(&request(&a), &roster.agents),
                triage::routing::route(&request(&b), &roster.agents),
            )
        } else {
            Default::default()
        };
        out.assignment_changes += usize::from(ra.assignee != rb.assignee);
        let before = side(&a, &ra, &roster.agents);
        let after = side(&b, &rb, &roster.agents);
        if before.priority != after.priority
            || before.category != after.category
            || before.tier != after.tier
            || before.assignee != after.assignee
        {
            out.rows_total += 1;
            if out.rows.len() < SIM_ROWS {
                out.rows.push(SimRow {
                    conversation: id.0,
                    contact: contact.map(|c| c.name).unwrap_or_default(),
                    snippet: crate::ingest::snippet(&input.text, 140),
                    before,
                    after,
                });
            }
        }
    }
    Ok(out)
}
