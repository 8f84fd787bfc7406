//! Rust source for check's scanner.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_merge_fuzz::run("check_scan", data));
