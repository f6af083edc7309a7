//! `cargo fuzz run mime_guarded`: the whole email ingest path as production
//! runs it. A panic inside `mime::parse` (mail-parser) is caught there and
//! becomes `MimeError::Panicked` (the mail is quarantined), so it is not a
//! crash here; any panic anywhere else (Atalaya's own code: the thread key,
//! `to_inbound`, `prepare`, the sanitizer, the assertions in `pipeline.rs`)
//! still is, with its message and backtrace.
//!
//! libfuzzer-sys's panic hook aborts the process even when the panic would be
//! caught, so the init block wraps it: while `parse` runs on this thread the
//! hook does nothing (a no-op hook), otherwise it calls libfuzzer-sys's hook.
#![no_main]

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;

mod pipeline;

thread_local! {
    static IN_PARSE: Cell<bool> = const { Cell::new(false) };
}

/// Inputs on which mail-parser panicked (caught by `parse`); printed now and
/// then so a run shows how often the guard was needed.
static CAUGHT: AtomicU64 = AtomicU64::new(0);

fn install_hook() {
    let fuzzer_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if IN_PARSE.with(Cell::get) {
            return; // caught by `mime::parse`: product behavior, not a crash
        }
        fuzzer_hook(info); // prints the panic, then aborts
    }));
}

fuzz_target!(init: install_hook(), |data: &[u8]| {
    let outcome = pipeline::run(data, |raw| {
        IN_PARSE.with(|f| f.set(true));
        let result = atalaya::channels::email::mime::parse(raw, pipeline::MAX_MAIL_BYTES);
        IN_PARSE.with(|f| f.set(false));
        result
    });
    if let pipeline::Parsed::Panicked = outcome {
        let n = CAUGHT.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            eprintln!("mime_guarded: mail-parser panicked (caught by parse) on {n} inputs so far");
        }
    }
});
