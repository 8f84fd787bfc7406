//! The tonic version matrix (fixtures/versions): a member on a tonic the in-process rewrite
//! does not know is refused by check and build with `unsupported-tonic`, naming the member and
//! the version, before anything compiles; `--allow unsupported-tonic` builds it with its
//! generated code as it is, the merged binary answers as the split relays do, and calls to and
//! from that member stay on the network.

mod support;

use std::process::Command;

use support::*;

fn env(v12: u16, v14: u16) -> Vec<(&'static str, String)> {
    vec![
        ("RELAY_V12_ADDR", format!("127.0.0.1:{v12}")),
        ("RELAY_V12_NEXT", format!("http://127.0.0.1:{v14}")),
        ("RELAY_V14_ADDR", format!("127.0.0.1:{v14}")),
        ("RELAY_V14_NEXT", format!("http://127.0.0.1:{v12}")),
    ]
}

fn answers(v14: u16) -> Vec<String> {
    let url = format!("http://127.0.0.1:{v14}");
    [["hello", "3"], ["hi", "0"], ["fail", "2"]]
        .iter()
        .map(|[note, hops]| client(&bin("relay-call"), &[&url, note, hops]))
        .collect()
}

#[test]
fn an_unknown_tonic_is_refused_and_allowed_it_stays_on_the_network() {
    build_fixtures(&["versions/relay-v12", "versions/relay-v14"]);
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
        said.contains("error[unsupported-tonic]: `relay-v12` uses tonic 0.12.3, which the in-process rewrite does not know (it knows 0.14)"),
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
    let (a, b) = (free_port(), free_port());
    running.start(&bin("relay-v12"), &env(a, b), &[a]);
    running.start(&bin("relay-v14"), &env(a, b), &[b]);
    let (ma, mb, mp) = (free_port(), free_port(), free_port());
    let mut merged_env = env(ma, mb);
    merged_env.push(("MERGE_METRICS_ADDR", format!("127.0.0.1:{mp}")));
    running.start(&binary, &merged_env, &[ma, mb]);

    let split = answers(b);
    assert_eq!(
        split[0],
        "relay-v14@tonic-0.14 > relay-v12@tonic-0.12 > relay-v14@tonic-0.14 > relay-v12@tonic-0.12: hello\n"
    );
    assert_eq!(
        split[2],
        "error: InvalidArgument: relay-v14@tonic-0.14: asked to fail\n"
    );
    assert_eq!(answers(mb), split);
    // relay-v14's client (rewritten) finds no in-process relay-v12 and goes remote; relay-v12
    // (left as it is) counts nothing.
    let counters = metrics(mp);
    let method = "/versions.relay.Relay/Pass";
    assert!(
        counters.contains(&format!(
            "merge_calls_total{{method=\"{method}\",path=\"remote\""
        )),
        "{counters}"
    );
    assert!(
        !counters.contains(&format!(
            "merge_calls_total{{method=\"{method}\",path=\"inline\""
        )),
        "{counters}"
    );
}
