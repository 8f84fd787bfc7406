//! Jaeger query-API JSON.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_merge_fuzz::run("import_jaeger", data));
