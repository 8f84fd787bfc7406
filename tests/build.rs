//! Compiles tests/proto/probe.proto for the probe service of the inline-call tests and benches.
//!
//! No system protoc: protox (pure Rust) parses the .proto into a `FileDescriptorSet` and
//! tonic-prost-build writes `$OUT_DIR/probe.rs`. A second, byte-identical copy is written as
//! `$OUT_DIR/probe_copy.rs`, which `src/lib.rs` includes into another module: the same method
//! paths with distinct Rust types (the converted in-process path), as when two services each
//! compile their own copy of the .proto. Only OUT_DIR is written.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["proto/probe.proto"], ["proto"])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let generated = std::fs::read(out_dir.join("probe.rs"))?;
    let copy = out_dir.join("probe_copy.rs");
    // Unchanged content is not rewritten (include_proto! tracks the file).
    if std::fs::read(&copy).ok().as_deref() != Some(generated.as_slice()) {
        std::fs::write(&copy, generated)?;
    }
    Ok(())
}
