//! `cargo fuzz run mime`: the whole email ingest path; any panic is a crash,
//! including one inside mail-parser that `mime::parse` would catch in
//! production (those are still worth knowing about).
//!
//! libfuzzer-sys installs a panic hook that aborts before unwinding, so the
//! `catch_unwind` inside `mime::parse` never gets to run here.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod pipeline;

fuzz_target!(|data: &[u8]| {
    pipeline::run(data, |raw| {
        atalaya::channels::email::mime::parse(raw, pipeline::MAX_MAIL_BYTES)
    });
});
