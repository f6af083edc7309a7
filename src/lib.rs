//! Atalaya: a self-hosted customer-service appliance.
//!
//! The data path (see `ARCHITECTURE.md`): channels → [`ingest`] → [`store`]
//! (redb state + event log) → followers; agents → [`web`] → [`app`] →
//! [`store`] (reply + outbox row) → [`workers`] sender → channels.

pub mod config;
pub mod domain;
pub mod ingest;
pub mod metrics;
pub mod store;
