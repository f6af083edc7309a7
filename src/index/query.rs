//! The search query language (placeholder until the parser lands).
