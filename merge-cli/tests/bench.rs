//! `cargo merge bench` end to end, with the real cargo and real processes: the shop and its
//! HTTP front measured split against merged (answers alike, both setups' figures), a merged answer that differs
//! (exit 1, the request and both answers), a bad request file (exit 2 before anything runs),
//! and Ctrl-C (no process left behind).

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::*;

const SHOP: [&str; 5] = [
    "shop/catalog",
    "shop/gateway",
    "shop/inventory",
    "shop/pricing",
    "shop/web",
];

/// fixtures/shop/bench/merge.toml with absolute manifests and these ports (gateway, catalog,
/// pricing, inventory, web), written into `dir`.
fn shop_bench_plan(dir: &Path, ports: [u16; 5]) -> PathBuf {
    let original = root().join("fixtures/shop/bench/merge.toml");
    let shop = root().join("fixtures/shop");
    let mut text = std::fs::read_to_string(original).expect("the plan");
    text = text.replace(
        "manifest = \"../",
        &format!("manifest = \"{}/", shop.display()),
    );
    for (i, port) in ports.iter().enumerate() {
        text = text.replace(&format!("5015{}", i + 1), &port.to_string());
    }
    let path = dir.join("merge.toml");
    std::fs::write(&path, text).expect("write the plan");
    path
}

/// `cargo merge bench` of `group` of `plan` with `requests`, into `out`, with `more` arguments.
fn bench(plan: &Path, group: &str, requests: &Path, out: &Path, more: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cargo-merge"));
    c.env("NO_COLOR", "1")
        .env("CARGO_TARGET_DIR", target())
        .args(["merge", "bench", "--plan"])
        .arg(plan)
        .args(["--group", group, "--requests"])
        .arg(requests)
        .arg("--out")
        .arg(out)
        .args(more)
        .stdin(Stdio::null());
    c
}

fn run(plan: &Path, group: &str, requests: &Path, out: &Path, more: &[&str]) -> Output {
    bench(plan, group, requests, out, more)
        .output()
        .expect("cargo-merge runs")
}

fn free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn the_shop_answers_alike_split_and_merged_and_both_setups_are_measured() {
    build_fixtures(&SHOP);
    let work = tempfile::tempdir().expect("tempdir");
    let ports = [0; 5].map(|_| free_port());
    let plan = shop_bench_plan(work.path(), ports);
    let requests = root().join("fixtures/shop/bench/requests.jsonl");
    let out_dir = work.path().join("out");
    let out = run(
        &plan,
        "shop-bench",
        &requests,
        &out_dir,
        &[
            "--duration",
            "2s",
            "--warmup",
            "500ms",
            "--concurrency",
            "4",
            "--message-format",
            "json",
        ],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (line, setup) in lines.iter().zip(["split", "merged"]) {
        assert_eq!(line["reason"], "bench-result");
        assert_eq!(line["setup"], setup);
        for key in [
            "requests",
            "rps",
            "p50_us",
            "p90_us",
            "p99_us",
            "max_us",
            "cpu_s_per_request",
            "peak_rss_mib",
        ] {
            assert!(
                line[key].as_f64().is_some_and(|v| v > 0.0),
                "{setup} {key}: {line}"
            );
        }
        assert!(line["p50_us"].as_u64() <= line["p99_us"].as_u64(), "{line}");
        // Closed loop: the k-th request for every k below `requests` was answered, and the
        // requests that fail by design are exactly those of lines 6, 7 (gRPC errors) and 10
        // (an HTTP 404) of the 12: any other HTTP answer lost or failed would count here.
        let n = line["requests"].as_u64().expect("requests");
        let by_design = (0..n).filter(|k| [5, 6, 9].contains(&(k % 12))).count() as u64;
        assert_eq!(line["failed"].as_u64(), Some(by_design), "{setup}: {line}");
    }
    // The merged binary's counters: the calls between members stayed in-process.
    assert!(
        lines[1]["calls"]["inline"].as_u64().is_some_and(|n| n > 0),
        "{}",
        lines[1]
    );
    assert!(
        lines[0]["calls"].as_object().is_some_and(|c| c.is_empty()),
        "{}",
        lines[0]
    );
    assert_eq!(lines[2]["reason"], "bench-compare");
    assert_eq!(lines[2]["mismatches"], 0, "{err}");
    assert!(lines[2]["cpu_ratio"].as_f64().is_some_and(|r| r > 0.0));
    // Every process it started is gone: their ports are free again.
    for port in ports {
        assert!(free(port), "port {port} still taken");
    }
    // Nothing was written into the members' trees.
    for m in SHOP {
        assert!(
            !root().join("fixtures").join(m).join("target").exists(),
            "{m}/target"
        );
    }
}

#[test]
fn a_merged_answer_that_differs_exits_1_with_the_request_and_both_answers() {
    build_fixtures(&["versions/relay-v08", "versions/relay-v14"]);
    let work = tempfile::tempdir().expect("tempdir");
    let plan = fixture_plan(work.path(), "versions/outdated");
    let (v08, v14) = (free_port(), free_port());
    let mut plan_text = std::fs::read_to_string(&plan).expect("plan");
    plan_text.push_str(&format!(
        "\n[service.relay-v08.env]\nRELAY_V08_ADDR = \"127.0.0.1:{v08}\"\n\
         [service.relay-v14.env]\nRELAY_V14_ADDR = \"127.0.0.1:{v14}\"\n"
    ));
    std::fs::write(&plan, plan_text).expect("plan");
    // relay-v14 answers `whoami` with the binary it runs in: itself split, `outdated` merged.
    let requests = work.path().join("requests.jsonl");
    std::fs::write(
        &requests,
        "{\"method\": \"/versions.relay.RelayV14/Pass\", \"message\": {\"note\": \"hello\"}}\n\
         {\"method\": \"/versions.relay.RelayV14/Pass\", \"message\": {\"note\": \"whoami\"}}\n",
    )
    .expect("requests");
    let out_dir = work.path().join("out");
    let out = run(
        &plan,
        "outdated",
        &requests,
        &out_dir,
        &[
            "--allow",
            "unsupported-tonic",
            "--duration",
            "1s",
            "--warmup",
            "0s",
            // Open loop: 40 requests, at fixed times.
            "--rate",
            "40",
        ],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let at = format!(
        "answers differ: request `/versions.relay.RelayV14/Pass` ({}:2)",
        requests.display()
    );
    assert!(err.contains(&at), "{err}");
    assert!(
        err.contains("split:  {\"relays\":[\"relay-v14@tonic-0.14\"],\"note\":\"relay-v14\"}")
            && err
                .contains("merged: {\"relays\":[\"relay-v14@tonic-0.14\"],\"note\":\"outdated\"}"),
        "{err}"
    );
    let line_1 = format!("({}:1)", requests.display());
    assert!(!err.contains(&line_1), "line 1 answers alike: {err}");
    // The table still came out, with the count: every other request (the `whoami` ones).
    let table = text(&out.stdout);
    assert!(table.contains("mismatched answers"), "{table}");
    let mismatched = table
        .lines()
        .find(|l| l.starts_with("mismatched answers"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse::<u64>().ok());
    assert_eq!(mismatched, Some(20), "{table}");
    assert!(free(v08) && free(v14));
}

#[test]
fn a_bad_request_file_is_an_error_with_its_lines_before_anything_runs() {
    let work = tempfile::tempdir().expect("tempdir");
    let plan = shop_bench_plan(work.path(), [50161, 50162, 50163, 50164, 50165]);
    let requests = work.path().join("bad.jsonl");
    std::fs::write(
        &requests,
        "{\"method\": \"/shop.gateway.Gateway/GetOffer\", \"message\": {\"sku\": \"apple\"}}\n\
         {\"method\": \"/shop.gateway.Gateway/GetOffer\", \"message\": {\"sku\": 7}}\n\
         {\"method\": \"/shop.gateway.Gateway/Nope\"}\n\
         {\"method\": \"/shop.inventory.Inventory/ReportSales\", \"message\": [{\"sku\": \"apple\"}, {\"quantity\": \"many\"}]}\n\
         {\"http\": {\"path\": \"/offer/apple\"}}\n\
         {\"http\": {\"path\": \"/offer/apple\", \"member\": \"storefront\"}}\n\
         {\"http\": {\"method\": \"POST\", \"path\": \"checkout\"}}\n",
    )
    .expect("requests");
    let out_dir = work.path().join("out");
    let out = run(&plan, "shop-bench", &requests, &out_dir, &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for (line, what) in [
        (2, "the message is not a `shop.gateway.OfferRequest`"),
        (3, "service `shop.gateway.Gateway` has no method `Nope`"),
        (4, "the message is not a `shop.inventory.Sale`"),
        (6, "`storefront` is not a member of group `shop-bench`"),
        (7, "`checkout` is not a path"),
    ] {
        assert!(
            err.contains(&format!("bad.jsonl:{line}")),
            "line {line}: {err}"
        );
        assert!(err.contains(what), "{what}: {err}");
    }
    for good in [1, 5] {
        assert!(!err.contains(&format!("bad.jsonl:{good}:")), "{err}");
    }
    assert!(!out_dir.exists(), "nothing built or run");
}

#[test]
fn ctrl_c_stops_every_process_it_started() {
    build_fixtures(&SHOP);
    let work = tempfile::tempdir().expect("tempdir");
    let ports = [0; 5].map(|_| free_port());
    let plan = shop_bench_plan(work.path(), ports);
    let requests = root().join("fixtures/shop/bench/requests.jsonl");
    let out_dir = work.path().join("out");
    let mut child = bench(
        &plan,
        "shop-bench",
        &requests,
        &out_dir,
        &["--duration", "120s"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("bench starts");
    // Once the split members listen, interrupt it.
    let deadline = Instant::now() + Duration::from_secs(600);
    while ports.iter().any(|p| free(*p)) {
        assert!(
            Instant::now() < deadline,
            "the split members never listened"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "bench ended early"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("bench ends");
    let err = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    for port in ports {
        assert!(free(port), "port {port} still taken after Ctrl-C: {err}");
    }
}
