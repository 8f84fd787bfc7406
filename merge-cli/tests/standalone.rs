//! cargo-merge installed alone: a copy of the binary, run from a folder of its own with no
//! variable naming a source tree, builds the shop. What a merged workspace needs of
//! cargo-merge's own crates comes out of the binary into the output folder; nothing the build
//! writes names the folder the binary was compiled in, and the merged binary answers.

mod support;

use std::process::{Command, Stdio};

use support::*;

#[test]
fn a_copy_of_the_binary_alone_builds_the_shop_from_the_crates_it_carries() {
    build_fixtures(&[
        "shop/inventory",
        "shop/catalog",
        "shop/pricing",
        "shop/gateway",
        "shop/client",
    ]);
    let work = tempfile::tempdir().expect("tempdir");
    let installed = work.path().join("bin").join("cargo-merge");
    std::fs::create_dir_all(installed.parent().expect("bin")).expect("mkdir");
    std::fs::copy(env!("CARGO_BIN_EXE_cargo-merge"), &installed).expect("copy the binary");
    // Group `alone`: its binary does not land on another test's merged shop.
    let shop = root().join("fixtures/shop");
    let mut plan = String::from(
        "[[group]]\nname = \"alone\"\nmembers = [\"catalog\", \"gateway\", \"inventory\", \"pricing\"]\n",
    );
    for m in ["catalog", "gateway", "inventory", "pricing"] {
        plan.push_str(&format!(
            "\n[service.{m}]\nmanifest = \"{}\"\n",
            shop.join(m).join("Cargo.toml").display()
        ));
    }
    std::fs::write(work.path().join("merge.toml"), plan).expect("plan");
    let out = Command::new(&installed)
        .args([
            "merge",
            "build",
            "--plan",
            "merge.toml",
            "--out",
            "out",
            "--message-format",
            "json",
        ])
        .current_dir(work.path())
        .env_remove("CARGO_MERGE_RUNTIME_SHIM")
        .env_remove("CARGO_MANIFEST_DIR")
        .env("CARGO_TARGET_DIR", target())
        .stdin(Stdio::null())
        .output()
        .expect("the copy runs");
    assert!(out.status.success(), "build failed:\n{}", text(&out.stderr));
    let binary = merged_binary(&out);

    // runtime-shim and the crates it needs were written out at this version, as they are.
    let carried = work
        .path()
        .join("out/.tools")
        .join(concat!("cargo-merge-", env!("CARGO_PKG_VERSION")));
    for file in [
        "runtime-shim/src/lib.rs",
        "inline-macros/src/lib.rs",
        "inline-macros/rewrite/src/lib.rs",
    ] {
        assert_eq!(
            std::fs::read(carried.join(file)).expect("carried"),
            std::fs::read(root().join(file)).expect("source"),
            "{file}"
        );
    }
    // Nothing written names the source tree (the members' own folders and the target folder
    // aside: the plan and CARGO_TARGET_DIR name them, and both are in this repository here).
    let source_tree = root().display().to_string();
    for (rel, bytes) in tree(&work.path().join("out")) {
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines().filter(|l| l.contains(&source_tree)) {
            assert!(
                line.contains(&shop.display().to_string())
                    || line.contains(&target().display().to_string()),
                "{} names the source tree: {line}",
                rel.display()
            );
        }
    }
    let root_manifest =
        std::fs::read_to_string(work.path().join("out/alone/Cargo.toml")).expect("manifest");
    assert!(!root_manifest.contains(&source_tree), "{root_manifest}");

    // It serves: gateway answers through the members it merged.
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let env = shop_env(&ports);
    let gateway = format!("127.0.0.1:{}", ports[0]);
    let mut running = Running::default();
    running.start(&binary, &env, &ports);
    let answer = client(
        &bin("shop-client"),
        &[
            "--gateway-url",
            &format!("http://{gateway}"),
            "offer",
            "apple",
            "3",
        ],
    );
    assert_eq!(
        answer,
        "offer sku=apple name=Apple available=120 unit_price_cents=45 total_cents=135 currency=EUR\n"
    );
}
