//! Atalaya: a self-hosted customer-service appliance.
//!
//! The data path (see `ARCHITECTURE.md`): channels → [`ingest`] → [`store`]
//! (redb state + event log) → followers; agents → [`web`] → [`app`] →
//! [`store`] (reply + outbox row) → [`workers`] sender → channels.

pub mod app;
pub mod bench;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod config;
pub mod corpus;
pub mod domain;
pub mod index;
pub mod ingest;
pub mod metrics;
pub mod scheduler;
pub mod store;
pub mod triage;
pub mod web;
pub mod workers;
