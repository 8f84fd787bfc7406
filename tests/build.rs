//! Compiles tests/proto/probe.proto for the probe service of the inline-call tests and benches.
//!
//! No system protoc: protox (pure Rust) parses the .proto into a `FileDescriptorSet` and
//! tonic-prost-build writes `$OUT_DIR/probe.rs`. A second, byte-identical copy is written as
//! `$OUT_DIR/probe_copy.rs`, which `src/lib.rs` includes into another module: the same method
//! paths with distinct Rust types (the converted in-process path), as when two services each
//! compile their own copy of the .proto.
//!
//! `proto/kinds.proto` (every kind of field) is compiled twice with different prost settings:
//! `$OUT_DIR/kinds.rs` with the defaults, `$OUT_DIR/kinds_alt.rs` with `bytes::Bytes` and
//! `BTreeMap`, for the field-by-field conversion tests. `$OUT_DIR/probe_options.rs` is
//! probe.proto again with tonic-build's `use_arc_self` and `generate_default_stubs` (a trait
//! taking `self: Arc<Self>`, with default methods). Only OUT_DIR is written.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["proto/probe.proto"], ["proto"])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let generated = std::fs::read(out_dir.join("probe.rs"))?;
    let copy = out_dir.join("probe_copy.rs");
    write_if_changed(&copy, &generated)?;

    let options_dir = out_dir.join("options");
    std::fs::create_dir_all(&options_dir)?;
    tonic_prost_build::configure()
        .out_dir(&options_dir)
        .use_arc_self(true)
        .generate_default_stubs(true)
        .compile_fds(protox::compile(["proto/probe.proto"], ["proto"])?)?;
    let options = std::fs::read(options_dir.join("probe.rs"))?;
    write_if_changed(&out_dir.join("probe_options.rs"), &options)?;

    let kinds = protox::compile(["proto/kinds.proto"], ["proto"])?;
    tonic_prost_build::configure().compile_fds(kinds.clone())?;
    let alt_dir = out_dir.join("alt");
    std::fs::create_dir_all(&alt_dir)?;
    tonic_prost_build::configure()
        .out_dir(&alt_dir)
        .bytes(".")
        .btree_map(".")
        .compile_fds(kinds)?;
    let alt = std::fs::read(alt_dir.join("kinds.rs"))?;
    write_if_changed(&out_dir.join("kinds_alt.rs"), &alt)?;
    Ok(())
}

/// Unchanged content is not rewritten (include_proto! tracks the file).
fn write_if_changed(path: &std::path::Path, content: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).ok().as_deref() != Some(content) {
        std::fs::write(path, content)?;
    }
    Ok(())
}
