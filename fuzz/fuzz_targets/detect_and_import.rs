//! Any file, its format guessed from its content, as `--traffic FILE` does.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_merge_fuzz::run("detect_and_import", data));
