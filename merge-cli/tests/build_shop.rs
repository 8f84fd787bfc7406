//! `cargo merge build` on the shop (fixtures/shop): the merged binary answers outside callers
//! at each member's own address exactly as the four separate services do, its counters show
//! that the calls between members went in-process, the members' trees are untouched, a second
//! build changes and rebuilds nothing, and a changed member rebuilds only itself and the binary.
//!
//! The members are a copy of fixtures/shop (under target/, so the test may change one), built
//! with the real cargo into the shared target/fixtures.

mod support;

use std::path::Path;

use support::*;

/// The plan: the four services as group `shop`.
fn plan(dir: &Path, members: &Path) -> std::path::PathBuf {
    shop_plan(dir, members)
}

/// The answers the shop gives through gateway, with gateway at `url`.
fn answers(url: &str) -> Vec<String> {
    let shop = bin("shop-client");
    [
        &["offer", "apple", "3"][..],
        &["offer", "teapot", "12"],
        &["watch", "pear", "3"],
        &["checkout", "apple:2", "pear:3"],
        &["offer", "plum", "1"],
        &["checkout", "apple:2", "plum:1"],
    ]
    .iter()
    .map(|args| {
        let mut all = vec!["--gateway-url", url];
        all.extend_from_slice(args);
        client(&shop, &all)
    })
    .collect()
}

#[test]
fn the_merged_shop_answers_like_the_split_one_calls_inline_and_rebuilds_only_what_changed() {
    build_fixtures(&[
        "shop/inventory",
        "shop/catalog",
        "shop/pricing",
        "shop/gateway",
        "shop/client",
    ]);
    let members = copy_system("shop", "e2e-build-shop");
    let work = tempfile::tempdir().expect("tempdir");
    let plan = plan(work.path(), &members);
    let out_dir = work.path().join("out");
    let before = tree(&members);

    let binary = build_json(&plan, &out_dir);
    assert_eq!(binary.file_name().and_then(|f| f.to_str()), Some("shop"));
    assert_eq!(tree(&members), before, "a member's tree was written to");

    // gateway compiles its own copies of catalog.proto and inventory.proto, identical to the
    // shared proto crate's: that code is compiled once, so gateway -> catalog moves requests.
    let shared =
        text(&std::fs::read(out_dir.join("shop/merge-protos/index.toml")).expect("shared protos"));
    for proto in ["shop.catalog", "shop.inventory"] {
        assert!(shared.contains(&format!("name = \"{proto}\"")), "{shared}");
    }
    assert!(
        shared.contains("packages = [\"gateway\", \"shop-proto\"]"),
        "{shared}"
    );
    assert!(
        !shared.contains("shop.pricing"),
        "pricing's copies differ: {shared}"
    );

    // The split deployment and the merged binary, side by side.
    let mut running = Running::default();
    let split = [free_port(), free_port(), free_port(), free_port()];
    let env = shop_env(&split);
    for (name, port) in [
        ("inventory", split[3]),
        ("pricing", split[2]),
        ("catalog", split[1]),
        ("gateway", split[0]),
    ] {
        running.start(&bin(name), &env, &[port]);
    }
    let merged = [free_port(), free_port(), free_port(), free_port()];
    let metrics_port = free_port();
    let mut env = shop_env(&merged);
    env.push(("MERGE_METRICS_ADDR", format!("127.0.0.1:{metrics_port}")));
    running.start(&binary, &env, &merged);

    let from_split = answers(&format!("http://127.0.0.1:{}", split[0]));
    let from_merged = answers(&format!("http://127.0.0.1:{}", merged[0]));
    assert_eq!(
        from_split[0],
        "offer sku=apple name=Apple available=120 unit_price_cents=45 total_cents=135 currency=EUR\n"
    );
    assert_eq!(from_merged, from_split);

    let counters = metrics(metrics_port);
    assert_all_inline(
        &counters,
        &[
            "/shop.catalog.Catalog/GetProduct",
            "/shop.pricing.Pricing/Quote",
            "/shop.inventory.Inventory/GetStock",
            "/shop.inventory.Inventory/WatchStock",
            "/shop.inventory.Inventory/ReportSales",
        ],
    );
    // Counted under the member that made the call, not the crate that generated its client
    // (gateway's clients of catalog and inventory come from the shared proto crate): gateway
    // calls catalog and pricing, catalog calls inventory from its in-process handler.
    for (method, caller, callee) in [
        ("/shop.catalog.Catalog/GetProduct", "gateway", "catalog"),
        ("/shop.pricing.Pricing/Quote", "gateway", "pricing"),
        ("/shop.inventory.Inventory/GetStock", "catalog", "inventory"),
    ] {
        let line = format!(
            "merge_calls_total{{method=\"{method}\",path=\"inline\",caller=\"{caller}\",callee=\"{callee}\"}}"
        );
        assert!(counters.contains(&line), "{line} in:\n{counters}");
    }
    // Re-analysing a merged system keeps its merged edges: the scrape is traffic too (one
    // scrape of counters, so a window is given).
    let scrape = tempfile::NamedTempFile::new().expect("a temporary file");
    let body = counters
        .split_once("\r\n\r\n")
        .or_else(|| counters.split_once("\n\n"))
        .map_or(counters.as_str(), |(_, body)| body);
    std::fs::write(scrape.path(), body).expect("write the scrape");
    let options = merge_analyzer::import::Options {
        window: Some(1.0),
        ..Default::default()
    };
    let traffic = merge_analyzer::import::load_all(&[scrape.path()], &options)
        .unwrap_or_else(|e| panic!("the scrape reads as traffic: {e}\n{counters}"));
    for (caller, callee) in [
        ("gateway", "catalog"),
        ("gateway", "pricing"),
        ("gateway", "inventory"),
        ("catalog", "inventory"),
    ] {
        let edge = traffic
            .find(caller)
            .zip(traffic.find(callee))
            .and_then(|(a, b)| traffic.graph.find_edge(a, b));
        let edge = edge.unwrap_or_else(|| panic!("{caller} -> {callee} from:\n{counters}"));
        assert!(traffic.graph[edge].qps > 0.0);
    }
    for crate_name in ["merge-protos", "shop-proto"] {
        assert!(
            !counters.contains(&format!("caller=\"{crate_name}\"")),
            "a call counted under a crate, not a member:\n{counters}"
        );
    }
    // Which members at which commit: beside the counters, and `shop --version`. The copy is
    // in this repository's work tree (ignored, so never dirty): its commit is HEAD's.
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&members)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| text(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let version = std::process::Command::new(&binary)
        .arg("--version")
        .output()
        .expect("--version runs");
    assert!(version.status.success());
    let version = text(&version.stdout);
    assert!(
        version.starts_with("shop (merged by cargo-merge "),
        "{version}"
    );
    let shown = if commit.is_empty() {
        "commit unknown".to_owned()
    } else {
        format!("commit {commit}")
    };
    for m in ["catalog", "gateway", "inventory", "pricing"] {
        let line = format!(
            "merge_member_info{{group=\"shop\",member=\"{m}\",version=\"0.1.0\",commit=\"{commit}\"}} 1\n"
        );
        assert!(counters.contains(&line), "{line} in:\n{counters}");
        assert!(
            version
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")
                    == format!("{m} 0.1.0 {shown}")),
            "{m} in:\n{version}"
        );
    }
    // SIGTERM reaches every member's own shutdown; the binary exits cleanly.
    assert!(running.terminate_last().success());

    // A second build: nothing written, nothing compiled.
    let generated = tree(&out_dir);
    let stamps = mtimes(&out_dir);
    let lock = std::fs::read(work.path().join("merge.lock")).expect("merge.lock beside the plan");
    let again = merge_build(&[
        "--plan",
        plan.to_str().expect("utf-8"),
        "--out",
        out_dir.to_str().expect("utf-8"),
    ]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(
        compiled(&text(&again.stderr)),
        Vec::<String>::new(),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(tree(&out_dir), generated);
    assert_eq!(mtimes(&out_dir), stamps, "files were rewritten");
    assert_eq!(
        std::fs::read(work.path().join("merge.lock")).expect("merge.lock"),
        lock
    );

    // A file an earlier build made and this one does not is removed; a file cargo merge never
    // made (someone's notes in the output folder) is left.
    let group_dir = out_dir.join("shop");
    std::fs::write(
        group_dir.join("members/stale.rs"),
        "// made by an older build\n",
    )
    .expect("write");
    let list = group_dir.join("merge-files.txt");
    let mut listed = std::fs::read_to_string(&list).expect("the file list");
    listed.push_str("members/stale.rs\n");
    std::fs::write(&list, listed).expect("write");
    std::fs::write(group_dir.join("NOTES.md"), "mine\n").expect("write");

    // One member changes: only it, its entry crate and the binary compile.
    let lib = members.join("pricing/src/lib.rs");
    let mut source = std::fs::read_to_string(&lib).expect("pricing's lib");
    source.push_str("\n// A change of pricing's team.\n");
    std::fs::write(&lib, source).expect("change pricing");
    let changed = merge_build(&[
        "--plan",
        plan.to_str().expect("utf-8"),
        "--out",
        out_dir.to_str().expect("utf-8"),
    ]);
    assert!(changed.status.success(), "{}", text(&changed.stderr));
    let mut rebuilt = compiled(&text(&changed.stderr));
    rebuilt.sort();
    assert_eq!(
        rebuilt,
        ["pricing", "pricing-merge-entry", "shop-merged"],
        "{}",
        text(&changed.stderr)
    );

    assert!(
        !group_dir.join("members/stale.rs").exists(),
        "a stale file was kept"
    );
    assert!(
        group_dir.join("NOTES.md").exists(),
        "a file cargo merge did not make was removed"
    );

    let lock = text(&std::fs::read(work.path().join("merge.lock")).expect("merge.lock"));
    assert!(lock.contains("name = \"pricing\""), "{lock}");
    assert!(lock.contains("cargo-lock = \"sha256:"), "{lock}");
    assert!(lock.contains("proto = ["), "{lock}");

    // The release manifest describes the binary as it is now (after pricing's change).
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(group_dir.join("merge-manifest.json")).expect("merge-manifest.json"),
    )
    .expect("JSON");
    assert_eq!(manifest["format"], "cargo-merge-manifest");
    assert_eq!(manifest["format_version"], 1);
    assert_eq!(manifest["group"], "shop");
    assert_eq!(manifest["binary"]["path"], binary.to_str().expect("utf-8"));
    let sha = |bytes: &[u8]| {
        use sha2::Digest as _;
        sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(
        manifest["binary"]["sha256"],
        sha(&std::fs::read(&binary).expect("binary"))
    );
    assert_eq!(
        manifest["plan"]["sha256"],
        sha(&std::fs::read(&plan).expect("plan"))
    );
    assert!(
        manifest["binary"]["target"]
            .as_str()
            .is_some_and(|t| t.contains('-')),
        "{manifest}"
    );
    assert_eq!(manifest["build"]["profile"], "debug");
    let names: Vec<&str> = manifest["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["catalog", "gateway", "inventory", "pricing"]);
    for m in manifest["members"].as_array().expect("members") {
        assert_eq!(m["version"], "0.1.0", "{m}");
        assert!(
            m["cargo_lock"]
                .as_str()
                .is_some_and(|l| l.starts_with("sha256:")),
            "{m}"
        );
        if !commit.is_empty() {
            assert_eq!(m["git_commit"], commit.as_str(), "{m}");
        }
    }
    let _ = std::fs::remove_dir_all(&members);
}
