//! Every input a readers' fuzz target crashed on, kept under fixtures/fuzz/<target>/ once fixed,
//! replayed through the target's own code (fuzz/src/readers.rs, included here): the readers must
//! return a model or input errors naming lines their files have, never panic. A new crash input
//! goes into the folder of its target with the fix. (The conversion's kept inputs are replayed
//! by merge-tests' tests, the rewrite's generated files by merge-rewrite's, and its fuzzer
//! bytes by the fuzz crate's and every fuzz run: fixtures/fuzz/README.md.)

#[allow(dead_code)]
#[path = "../../fuzz/src/readers.rs"]
mod fuzz;

use std::path::Path;

/// Kept crash inputs, one folder per target (README.md there).
#[test]
fn every_kept_crash_input_is_read_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("fixtures/fuzz");
    for entry in std::fs::read_dir(&dir).expect("fixtures/fuzz").flatten() {
        let target = entry.file_name().to_string_lossy().into_owned();
        if !entry.path().is_dir() {
            continue;
        }
        let source = root.join(format!("fuzz/fuzz_targets/{target}.rs"));
        assert!(
            source.is_file(),
            "fixtures/fuzz/{target} is not a fuzz target"
        );
        if !fuzz::TARGETS.contains(&target.as_str()) {
            continue;
        }
        // Every file under the target's folder, nested ones too.
        for input in walkdir::WalkDir::new(entry.path()).into_iter().flatten() {
            if input.file_type().is_file() {
                fuzz::run(&target, &std::fs::read(input.path()).expect("an input"));
            }
        }
    }
}

/// The seeds themselves (the fixtures the corpora start from) hold the property, so a target
/// that fails on its own seeds is found by the ordinary tests too.
#[test]
fn the_targets_hold_on_fixture_inputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |p: &str| std::fs::read(root.join(p)).expect(p);
    fuzz::run("import_native_toml", &read("fixtures/traffic/shop.toml"));
    fuzz::run("import_native_json", &read("fixtures/traffic/shop.json"));
    fuzz::run("import_links", &read("fixtures/traces/shop.links.json"));
    fuzz::run("import_prometheus", &read("fixtures/traces/shop.cpu.prom"));
    fuzz::run(
        "detect_and_import",
        &read("fixtures/traces/shop.servicegraph.query.json"),
    );
    fuzz::run("read_plan", &read("fixtures/shop/bench/merge.toml"));
    fuzz::run("read_lock", &read("fixtures/guarded/merge.lock"));
    fuzz::run("read_lock", b"version = 2\n<<<<<<< HEAD\n[[member]]\n");
    let gateway = read("fixtures/profiles/shop/gateway.folded");
    fuzz::run(
        "import_profiles",
        &[&gateway[..], b"\n---\n", &gateway[..]].concat(),
    );
    fuzz::run("import_profiles", b"x;prost::enc 1e308\ny 1e308\n---\n");
    fuzz::run("check_scan", &read("fixtures/shop/gateway/src/lib.rs"));
    fuzz::run(
        "import_native_csv",
        b"name,cpu_cores\na,1\n---\ncaller,callee,qps\na,b,1\n",
    );
}
