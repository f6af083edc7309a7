//! Cross-table consistency checks: run after crash tests and by operators.

use super::StoreError;
use super::order;
use super::tx::Reader;
use crate::domain::*;
use redb::{ReadableTable, ReadableTableMetadata};
use std::collections::HashMap;

#[derive(Debug, Default, serde::Serialize)]
pub struct IntegrityReport {
    pub conversations: u64,
    pub messages: u64,
    pub events: u64,
    pub problems: Vec<String>,
}

impl IntegrityReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub(super) fn verify(r: &Reader) -> Result<IntegrityReport, StoreError> {
    let mut rep = IntegrityReport::default();
    let mut per_conv: HashMap<u64, u32> = HashMap::new();
    for row in r.messages.iter()? {
        let (k, v) = row?;
        let m: Message = super::codec::decode(v.value())?;
        rep.messages += 1;
        if m.id.0 != k.value() {
            rep.problems
                .push(format!("message {} stored under key {}", m.id, k.value()));
        }
        if r.conversation_messages
            .get((m.conversation.0, m.id.0))?
            .is_none()
        {
            rep.problems.push(format!(
                "message {} missing from its conversation's list",
                m.id
            ));
        }
        if let Some(ext) = &m.external_id
            && m.direction == Direction::In
            && r.dedupe(&m.channel, ext)? != Some(m.id)
        {
            rep.problems
                .push(format!("message {} has no dedupe entry", m.id));
        }
        *per_conv.entry(m.conversation.0).or_default() += 1;
    }
    for row in r.conversations.iter()? {
        let (_, v) = row?;
        let c: Conversation = super::codec::decode(v.value())?;
        rep.conversations += 1;
        let n = per_conv.remove(&c.id.0).unwrap_or(0);
        if n != c.message_count {
            rep.problems.push(format!(
                "conversation {} counts {} messages but has {n}",
                c.id, c.message_count
            ));
        }
        if r.contact(c.contact)?.is_none() {
            rep.problems.push(format!(
                "conversation {} has no contact {}",
                c.id, c.contact
            ));
        }
        if r.identity(c.identity)?.is_none() {
            rep.problems.push(format!(
                "conversation {} has no identity {}",
                c.id, c.identity
            ));
        }
        for key in order::order_keys(&c) {
            if r.conv_order.get(key.as_slice())?.is_none() {
                rep.problems
                    .push(format!("conversation {} is missing a sort key", c.id));
                break;
            }
        }
    }
    let mut counts = HashMap::<String, u64>::new();
    for c in r.all_conversations()? {
        for k in order::count_keys(&c) {
            *counts.entry(k).or_default() += 1;
        }
    }
    for (k, n) in &counts {
        let stored = r.meta(k)?.unwrap_or(0);
        if stored != *n {
            rep.problems
                .push(format!("counter {k} is {stored}, counted {n}"));
        }
    }
    let mut expected_keys = 0u64;
    for c in r.all_conversations()? {
        expected_keys += order::order_keys(&c).len() as u64;
    }
    for (conv, n) in per_conv {
        rep.problems.push(format!(
            "{n} messages belong to missing conversation {conv}"
        ));
    }
    if r.conv_order.len()? != expected_keys {
        rep.problems.push(format!(
            "{} sort keys for {} conversations",
            r.conv_order.len()?,
            rep.conversations
        ));
    }
    verify_jobs(r, &mut rep)?;
    let mut expected = 1;
    for row in r.events.iter()? {
        let (k, v) = row?;
        let e: Event = super::codec::decode(v.value())?;
        if let Some(c) = e.kind.conversation()
            && r.conversation_events.get((c.0, e.seq))?.is_none()
        {
            rep.problems.push(format!(
                "event {} is missing from conversation {c}'s timeline",
                e.seq
            ));
        }
        if k.value() != expected {
            rep.problems.push(format!(
                "event sequence jumps from {} to {}",
                expected - 1,
                k.value()
            ));
            expected = k.value();
        }
        expected += 1;
        rep.events += 1;
    }
    Ok(rep)
}

/// The scheduler's tables agree: every `jobs` row decodes to the job its key
/// names, with its `job_ids` entry and its key's `job_keys` entry.
fn verify_jobs(r: &Reader, rep: &mut IntegrityReport) -> Result<(), StoreError> {
    use super::tables::{job_due_ms, job_key_parts};
    let mut rows = 0u64;
    for row in r.jobs.iter()? {
        let (k, v) = row?;
        rows += 1;
        let Some((due, id)) = job_key_parts(k.value()) else {
            rep.problems
                .push(format!("malformed job key {}", hex::encode(k.value())));
            continue;
        };
        if r.job_ids.get(id)?.map(|v| v.value()) != Some(due) {
            rep.problems
                .push(format!("job {id} is missing from the id index"));
        }
        match super::codec::decode::<crate::scheduler::Job>(v.value()) {
            Ok(job) => {
                if job.id != id || job_due_ms(job.due) != due {
                    rep.problems.push(format!(
                        "job {} (due {}) stored under key ({due}, {id})",
                        job.id, job.due
                    ));
                }
                if let Some(key) = &job.key
                    && r.job_keys.get(key.as_str())?.map(|v| v.value()) != Some(id)
                {
                    rep.problems
                        .push(format!("job {id} does not hold its key {key}"));
                }
            }
            Err(e) => rep
                .problems
                .push(format!("job {id} cannot be decoded: {e}")),
        }
    }
    let ids = r.job_ids.len()?;
    if ids != rows {
        rep.problems
            .push(format!("{ids} job ids for {rows} stored jobs"));
    }
    for row in r.job_keys.iter()? {
        let (k, v) = row?;
        if r.job_ids.get(v.value())?.is_none() {
            rep.problems.push(format!(
                "job key {} names missing job {}",
                k.value(),
                v.value()
            ));
        }
    }
    Ok(())
}
