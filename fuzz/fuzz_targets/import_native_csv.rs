//! A native CSV folder: the input is services.csv, then a line `---`, then calls.csv.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_merge_fuzz::run("import_native_csv", data));
