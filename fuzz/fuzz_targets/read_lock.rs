//! merge.lock, as `cargo merge status` and a build read it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_merge_fuzz::run("read_lock", data));
