//! An Alibaba call-graph CSV (with its resource CSV after a line `---`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_merge_fuzz::run("import_alibaba", data));
