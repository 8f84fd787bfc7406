//! Zipkin v2 JSON.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_merge_fuzz::run("import_zipkin", data));
