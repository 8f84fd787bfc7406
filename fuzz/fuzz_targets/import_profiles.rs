//! Folded profiles (`--profiles`): two services' files from one input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_merge_fuzz::run("import_profiles", data));
