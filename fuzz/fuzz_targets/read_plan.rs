//! A merge plan (merge.toml).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_merge_fuzz::run("read_plan", data));
