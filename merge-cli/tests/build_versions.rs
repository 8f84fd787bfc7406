//! The tonic version matrix (fixtures/versions): relay-v14 (tonic 0.14) calls relay-v13 (0.13),
//! which calls relay-v12 (0.12), which calls relay-v11 (0.11), which calls relay-v14. A member
//! on a tonic the in-process rewrite does not know (0.11) is refused by check and build with
//! `unsupported-tonic`, naming the member and the version, before anything compiles; `--allow
//! unsupported-tonic` builds it with its generated code as it is. The merged binary answers as
//! the split relays do; the calls from 0.14 to 0.13 and from 0.13 to 0.12 go in-process
//! (converted at the framework-neutral boundary), calls to and from 0.11 stay on the network.

mod support;

use std::process::Command;

use support::*;

fn env([v11, v12, v13, v14]: [u16; 4]) -> Vec<(&'static str, String)> {
    vec![
        ("RELAY_V11_ADDR", format!("127.0.0.1:{v11}")),
        ("RELAY_V11_NEXT", format!("http://127.0.0.1:{v14}")),
        ("RELAY_V12_ADDR", format!("127.0.0.1:{v12}")),
        ("RELAY_V12_NEXT", format!("http://127.0.0.1:{v11}")),
        ("RELAY_V13_ADDR", format!("127.0.0.1:{v13}")),
        ("RELAY_V13_NEXT", format!("http://127.0.0.1:{v12}")),
        ("RELAY_V14_ADDR", format!("127.0.0.1:{v14}")),
        ("RELAY_V14_NEXT", format!("http://127.0.0.1:{v13}")),
    ]
}

fn answers(v14: u16) -> Vec<String> {
    let url = format!("http://127.0.0.1:{v14}");
    [["hello", "5"], ["hi", "0"], ["fail", "1"], ["fail", "3"]]
        .iter()
        .map(|[note, hops]| client(&bin("relay-call"), &[&url, note, hops]))
        .collect()
}

#[test]
fn an_unknown_tonic_is_refused_and_allowed_it_stays_on_the_network() {
    build_fixtures(&[
        "versions/relay-v11",
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
        said.contains("error[unsupported-tonic]: `relay-v11` uses tonic 0.11.0, which the in-process rewrite does not know (it knows 0.12, 0.13, 0.14)"),
        "{said}"
    );
    assert!(
        said.contains("member `relay-v11`: Cargo.toml:15:1\n   |\n15 | tonic = \"0.11\""),
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
    // relay-v11's copy kept tonic's own include_proto!; relay-v14's was rewritten.
    let copy =
        |p: &str| text(&std::fs::read(out_dir.join("relays/members").join(p)).expect("copy"));
    assert!(copy("relay-v11/src/main.rs").contains("tonic::include_proto!(\"versions.relay\")"));
    assert!(
        copy("relay-v14/src/main.rs")
            .contains("::merge_runtime_shim::include_proto!(\"versions.relay\")")
    );

    let mut running = Running::default();
    let split_ports = [free_port(), free_port(), free_port(), free_port()];
    for (i, v) in ["relay-v11", "relay-v12", "relay-v13", "relay-v14"]
        .iter()
        .enumerate()
    {
        running.start(&bin(v), &env(split_ports), &[split_ports[i]]);
    }
    let merged_ports = [free_port(), free_port(), free_port(), free_port()];
    let mp = free_port();
    let mut merged_env = env(merged_ports);
    merged_env.push(("MERGE_METRICS_ADDR", format!("127.0.0.1:{mp}")));
    running.start(&binary, &merged_env, &merged_ports);

    let split = answers(split_ports[3]);
    assert_eq!(
        split[0],
        "relay-v14@tonic-0.14 > relay-v13@tonic-0.13 > relay-v12@tonic-0.12 > relay-v11@tonic-0.11 > relay-v14@tonic-0.14 > relay-v13@tonic-0.13: hello\n"
    );
    assert_eq!(split[1], "relay-v14@tonic-0.14: hi\n");
    assert_eq!(
        split[2],
        "error: InvalidArgument: relay-v13@tonic-0.13: asked to fail\n"
    );
    assert_eq!(
        split[3],
        "error: InvalidArgument: relay-v11@tonic-0.11: asked to fail\n"
    );
    assert_eq!(answers(merged_ports[3]), split);
    let counters = metrics(mp);
    // 0.14 to 0.13 and 0.13 to 0.12: in-process, each between two tonics.
    assert_all_inline(
        &counters,
        &[
            "/versions.relay.RelayV13/Pass",
            "/versions.relay.RelayV12/Pass",
        ],
    );
    // 0.12 to 0.11 (left as it is): over the network, counted by relay-v12's client.
    let to_v11 = "/versions.relay.RelayV11/Pass";
    assert!(
        counters.contains(&format!(
            "merge_calls_total{{method=\"{to_v11}\",path=\"remote\",caller=\"relay-v12\""
        )),
        "{counters}"
    );
    assert!(
        !counters.contains(&format!(
            "merge_calls_total{{method=\"{to_v11}\",path=\"inline\""
        )),
        "{counters}"
    );
}
