//! Full-text search: the only module that imports tantivy. The index is
//! derived data that follows the store's event log; redb stays the source
//! of truth.

pub mod query;
