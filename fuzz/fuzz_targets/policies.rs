//! `cargo fuzz run policies`: arbitrary bytes into the policy language (see
//! `rowguard_fuzz::policies`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rowguard_fuzz::policies(data);
});
