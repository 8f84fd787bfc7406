//! The tonic version matrix (fixtures/versions): relay-v14 (tonic 0.14) calls relay-v13 (0.13),
//! which calls relay-v12 (0.12), which calls relay-v14. A member on a tonic the in-process
//! rewrite does not know (0.12) is refused by check and build with `unsupported-tonic`, naming
//! the member and the version, before anything compiles; `--allow unsupported-tonic` builds it
//! with its generated code as it is. The merged binary answers as the split relays do; the
//! call from 0.14 to 0.13 goes in-process (converted at the framework-neutral boundary), calls
//! to and from 0.12 stay on the network.

mod support;

use std::process::Command;

use support::*;

fn env(v12: u16, v13: u16, v14: u16) -> Vec<(&'static str, String)> {
    vec![
        ("RELAY_V12_ADDR", format!("127.0.0.1:{v12}")),
        ("RELAY_V12_NEXT", format!("http://127.0.0.1:{v14}")),
        ("RELAY_V13_ADDR", format!("127.0.0.1:{v13}")),
        ("RELAY_V13_NEXT", format!("http://127.0.0.1:{v12}")),
        ("RELAY_V14_ADDR", format!("127.0.0.1:{v14}")),
        ("RELAY_V14_NEXT", format!("http://127.0.0.1:{v13}")),
    ]
}

fn answers(v14: u16) -> Vec<String> {
    let url = format!("http://127.0.0.1:{v14}");
    [["hello", "4"], ["hi", "0"], ["fail", "1"], ["fail", "2"]]
        .iter()
        .map(|[note, hops]| client(&bin("relay-call"), &[&url, note, hops]))
        .collect()
}

#[test]
fn an_unknown_tonic_is_refused_and_allowed_it_stays_on_the_network() {
    build_fixtures(&[
        "versions/relay-v12",
        "versions/relay-v13",
        "versions/relay-v14",
    ]);
    let work = tempfile::tempdir().expect("tempdir");
    let plan = fixture_plan(work.path(), "versions");
    let out_dir = work.path().join("out");

    let check = Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .env("NO_COLOR", "1")
        .args(["merge", "check", "--plan"])
        .arg(&plan)
        .output()
        .expect("check runs");
    let said = text(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{said}");
    assert!(
        said.contains("error[unsupported-tonic]: `relay-v12` uses tonic 0.12.3, which the in-process rewrite does not know (it knows 0.13, 0.14)"),
        "{said}"
    );
    assert!(
        said.contains("member `relay-v12`: Cargo.toml:14:1\n   |\n14 | tonic = \"0.12\""),
        "at the manifest's tonic line: {said}"
    );
    assert_eq!(said.matches("unsupported-tonic]").count(), 1, "{said}");

    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "--plan".to_owned(),
            plan.display().to_string(),
            "--out".to_owned(),
            out_dir.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    };
    let refused = merge_build(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    let err = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(err.contains("error[unsupported-tonic]"), "{err}");
    assert!(!out_dir.exists(), "nothing written before the refusal");

    let binary = build_json_with(&plan, &out_dir, &["--allow", "unsupported-tonic"]);
    // relay-v12's copy kept tonic's own include_proto!; relay-v14's was rewritten.
    let copy =
        |p: &str| text(&std::fs::read(out_dir.join("relays/members").join(p)).expect("copy"));
    assert!(copy("relay-v12/src/main.rs").contains("tonic::include_proto!(\"versions.relay\")"));
    assert!(
        copy("relay-v14/src/main.rs")
            .contains("::merge_runtime_shim::include_proto!(\"versions.relay\")")
    );

    let mut running = Running::default();
    let (a, b, c) = (free_port(), free_port(), free_port());
    running.start(&bin("relay-v12"), &env(a, b, c), &[a]);
    running.start(&bin("relay-v13"), &env(a, b, c), &[b]);
    running.start(&bin("relay-v14"), &env(a, b, c), &[c]);
    let (ma, mb, mc, mp) = (free_port(), free_port(), free_port(), free_port());
    let mut merged_env = env(ma, mb, mc);
    merged_env.push(("MERGE_METRICS_ADDR", format!("127.0.0.1:{mp}")));
    running.start(&binary, &merged_env, &[ma, mb, mc]);

    let split = answers(c);
    assert_eq!(
        split[0],
        "relay-v14@tonic-0.14 > relay-v13@tonic-0.13 > relay-v12@tonic-0.12 > relay-v14@tonic-0.14 > relay-v13@tonic-0.13: hello\n"
    );
    assert_eq!(split[1], "relay-v14@tonic-0.14: hi\n");
    assert_eq!(
        split[2],
        "error: InvalidArgument: relay-v13@tonic-0.13: asked to fail\n"
    );
    assert_eq!(
        split[3],
        "error: InvalidArgument: relay-v12@tonic-0.12: asked to fail\n"
    );
    assert_eq!(answers(mc), split);
    let counters = metrics(mp);
    // 0.14 to 0.13: in-process, both ways of the matrix's known versions.
    assert_all_inline(&counters, &["/versions.relay.RelayV13/Pass"]);
    // 0.13 to 0.12 (left as it is): over the network, counted by relay-v13's client.
    let to_v12 = "/versions.relay.RelayV12/Pass";
    assert!(
        counters.contains(&format!(
            "merge_calls_total{{method=\"{to_v12}\",path=\"remote\",caller=\"relay-v13\""
        )),
        "{counters}"
    );
    assert!(
        !counters.contains(&format!(
            "merge_calls_total{{method=\"{to_v12}\",path=\"inline\""
        )),
        "{counters}"
    );
}
