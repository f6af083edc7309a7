//! Routing: pick the agent for a conversation, or none (it waits in the
//! team queue), with the reasons.

use super::model::*;

pub fn route(_req: &RouteRequest, _agents: &[AgentState]) -> RouteDecision {
    RouteDecision::default()
}
