//! What the fuzz targets do, in one place ([`run`]); each `fuzz_targets/<name>.rs` only calls it.
//!
//! - [`readers`]: every reader of cargo-merge's inputs (traffic formats, profiles, the plan,
//!   merge.lock, check's scanner): a model or input errors naming real lines, never a panic.
//! - `rewrite_generated` ([`proto`], [`codegen`], [`rewrite`]): a valid .proto made from the
//!   input, compiled in process by protox and one of the tonic codegens the rewrite supports;
//!   the rewritten file parses, keeps every public item, and is the same on every run.
//! - `convert_differential` ([`convert`]): the converted in-process path against prost's own
//!   decoding of the same bytes.
//!
//! Each part's property lives in a file the ordinary test suite includes too, so a crash input
//! kept under fixtures/fuzz/<target>/ is replayed there: readers.rs by
//! analyzer/tests/fuzz_regressions.rs, rewrite.rs by inline-macros/rewrite/tests/rewrite.rs (on
//! the generated file a failure printed), convert.rs by tests/tests/fuzz_regressions.rs. The
//! fuzzer's own bytes of every kept input also seed its corpus (fuzz/seed.py), so each fuzz run
//! replays them, and the rewrite target's are replayed by this crate's tests.

pub mod codegen;
pub mod convert;
pub mod proto;
pub mod readers;
pub mod rewrite;

/// Runs target `target` on `data`; panics when its property does not hold.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "rewrite_generated" => codegen::run(data),
        "convert_differential" => convert::run(data),
        reader => readers::run(reader, data),
    }
}
