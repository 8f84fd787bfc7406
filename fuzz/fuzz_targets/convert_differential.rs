//! The converted in-process path against prost's decoding of the same bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_merge_fuzz::run("convert_differential", data));
