//! The email channel. [`mime`] is the pure parsing layer: raw RFC 5322 bytes
//! in, a [`mime::ParsedMail`] (threading ids, loop-safety verdict, bounce
//! report, bodies, attachment bytes) and an ingest message out. It does no
//! I/O; the IMAP poller, SMTP sender and importers are built on top of it.

pub mod mime;
