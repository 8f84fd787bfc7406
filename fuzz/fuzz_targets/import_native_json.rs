//! A native traffic file in JSON.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_merge_fuzz::run("import_native_json", data));
