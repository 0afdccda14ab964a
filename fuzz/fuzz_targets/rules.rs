//! `cargo fuzz run rules`: arbitrary bytes into the rule language (see `rowguard_fuzz::rules`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rowguard_fuzz::rules(data);
});
