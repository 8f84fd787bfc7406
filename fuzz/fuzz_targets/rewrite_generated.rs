//! The in-process rewrite of code generated from an arbitrary valid .proto by each supported tonic codegen.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cargo_merge_fuzz::run("rewrite_generated", data));
