//! The tonic version matrix (fixtures/versions): relay-v14 (tonic 0.14) calls relay-v13 (0.13),
//! then relay-v12, relay-v11, relay-v10 and relay-v09 (0.9, its generated code committed), which
//! calls relay-v14 again; relay-v10 also calls relay-v09's server-streaming `Walk`. Merged as one
//! group, every call crosses from one tonic to another in-process (converted at the
//! framework-neutral boundary), into relay-v10's and relay-v13's served stacks (server
//! timeouts) too, and the answers are split mode's, errors and timeouts included.
//!
//! relay-v08 is on tonic 0.8, which the in-process rewrite does not know: check and build
//! refuse its group with `unsupported-tonic`, naming the member and the version, before
//! anything compiles; `--allow unsupported-tonic` builds it with its generated code as it is.

mod support;

use std::process::Command;

use support::*;

const RELAYS: [&str; 6] = [
    "relay-v09",
    "relay-v10",
    "relay-v11",
    "relay-v12",
    "relay-v13",
    "relay-v14",
];

/// Each relay's address and the next one's URL, for ports in [`RELAYS`]' order.
fn env(ports: [u16; 6]) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for (i, relay) in RELAYS.iter().enumerate() {
        let key = relay.replace('-', "_").to_uppercase();
        // relay-v14 calls relay-v13, ..., relay-v10 calls relay-v09, relay-v09 calls relay-v14.
        let next = ports[(i + 5) % 6];
        env.push((format!("{key}_ADDR"), format!("127.0.0.1:{}", ports[i])));
        env.push((format!("{key}_NEXT"), format!("http://127.0.0.1:{next}")));
    }
    env
}

fn answers(v14: u16) -> Vec<String> {
    let url = format!("http://127.0.0.1:{v14}");
    [
        ["hello", "7"],
        ["hi", "0"],
        ["fail", "1"],
        ["fail", "5"],
        ["walk", "5"],
        ["walk", "9"],
        ["walk-fail", "5"],
        ["walk-cancel", "5"],
        ["slow", "2"],
        ["slow", "5"],
    ]
    .iter()
    .map(|[note, hops]| client(&bin("relay-call"), &[&url, note, hops]))
    .collect()
}

fn start(
    running: &mut Running,
    program: &std::path::Path,
    env: &[(String, String)],
    ports: &[u16],
) {
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    running.start(program, &env, ports);
}

#[test]
fn six_tonic_versions_call_each_other_in_process() {
    let fixtures = RELAYS.map(|r| format!("versions/{r}"));
    build_fixtures(&fixtures.each_ref().map(String::as_str));
    let work = tempfile::tempdir().expect("tempdir");
    let plan = fixture_plan(work.path(), "versions");
    let binary = build_json_with(&plan, &work.path().join("out"), &[]);

    let mut running = Running::default();
    let split_ports = [0; 6].map(|_| free_port());
    for (i, relay) in RELAYS.iter().enumerate() {
        start(
            &mut running,
            &bin(relay),
            &env(split_ports),
            &[split_ports[i]],
        );
    }
    let merged_ports = [0; 6].map(|_| free_port());
    let mp = free_port();
    let mut merged_env = env(merged_ports);
    merged_env.push(("MERGE_METRICS_ADDR".to_owned(), format!("127.0.0.1:{mp}")));
    start(&mut running, &binary, &merged_env, &merged_ports);

    let split = answers(split_ports[5]);
    let all = "relay-v14@tonic-0.14 > relay-v13@tonic-0.13 > relay-v12@tonic-0.12 > \
               relay-v11@tonic-0.11 > relay-v10@tonic-0.10 > relay-v09@tonic-0.9";
    assert_eq!(
        split[0],
        format!("{all} > relay-v14@tonic-0.14 > relay-v13@tonic-0.13: hello\n")
    );
    assert_eq!(split[1], "relay-v14@tonic-0.14: hi\n");
    // An error comes back with the name of every relay it passed.
    let back = "< relay-v10@tonic-0.10 < relay-v11@tonic-0.11 < relay-v12@tonic-0.12 < \
                relay-v13@tonic-0.13 < relay-v14@tonic-0.14";
    assert_eq!(
        split[2],
        "error: InvalidArgument: relay-v13@tonic-0.13: asked to fail < relay-v14@tonic-0.14\n"
    );
    assert_eq!(
        split[3],
        format!("error: InvalidArgument: relay-v09@tonic-0.9: asked to fail {back}\n")
    );
    // relay-v10 joins relay-v09's stream: its name, then the rest of the trail.
    assert_eq!(split[4], format!("{all}: walk\n"));
    assert_eq!(
        split[5],
        format!(
            "{all} > relay-v14@tonic-0.14 > relay-v13@tonic-0.13 > relay-v12@tonic-0.12 > \
             relay-v11@tonic-0.11: walk\n"
        )
    );
    // A stream's error, Cancelled too, and nothing read after it.
    assert_eq!(
        split[6],
        format!("error: InvalidArgument: relay-v09@tonic-0.9: asked to fail mid-stream {back}\n")
    );
    assert_eq!(
        split[7],
        format!("error: Cancelled: relay-v09@tonic-0.9: cancelled mid-stream {back}\n")
    );
    // relay-v13's server timeout (4 s) ends a trail that stops at relay-v12, relay-v10's (2 s)
    // one that stops at relay-v09: merged, only their served stacks can say so (a call that
    // went around them would wait the 6 s and succeed).
    assert_eq!(
        split[8],
        "error: Cancelled: Timeout expired < relay-v14@tonic-0.14\n"
    );
    assert_eq!(
        split[9],
        "error: Cancelled: Timeout expired < relay-v11@tonic-0.11 < relay-v12@tonic-0.12 < \
         relay-v13@tonic-0.13 < relay-v14@tonic-0.14\n"
    );
    assert_eq!(answers(merged_ports[5]), split);
    let counters = metrics(mp);
    // Every hop, each between two tonics, and the stream from 0.9 to 0.10.
    assert_all_inline(
        &counters,
        &[
            "/versions.relay.RelayV13/Pass",
            "/versions.relay.RelayV12/Pass",
            "/versions.relay.RelayV11/Pass",
            "/versions.relay.RelayV10/Pass",
            "/versions.relay.RelayV09/Pass",
            "/versions.relay.RelayV09/Walk",
            "/versions.relay.RelayV14/Pass",
        ],
    );
}

#[test]
fn an_unknown_tonic_is_refused_and_allowed_it_stays_on_the_network() {
    build_fixtures(&["versions/relay-v08", "versions/relay-v14"]);
    let work = tempfile::tempdir().expect("tempdir");
    let plan = fixture_plan(work.path(), "versions/outdated");
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
        said.contains(
            "error[unsupported-tonic]: `relay-v08` uses tonic 0.8.3, which the in-process \
             rewrite does not know (it knows 0.9, 0.10, 0.11, 0.12, 0.13, 0.14)"
        ),
        "{said}"
    );
    assert!(
        said.contains("member `relay-v08`: Cargo.toml:16:1\n   |\n16 | tonic = \"0.8\""),
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
    // relay-v08's copy kept tonic's own include_proto!; relay-v14's was rewritten.
    let copy =
        |p: &str| text(&std::fs::read(out_dir.join("outdated/members").join(p)).expect("copy"));
    assert!(copy("relay-v08/src/main.rs").contains("tonic::include_proto!(\"versions.relay\")"));
    assert!(
        copy("relay-v14/src/main.rs")
            .contains("::merge_runtime_shim::include_proto!(\"versions.relay\")")
    );

    // relay-v08 calls relay-v14, the end of the trail.
    let env = |[v08, v14]: [u16; 2]| {
        vec![
            ("RELAY_V08_ADDR".to_owned(), format!("127.0.0.1:{v08}")),
            (
                "RELAY_V08_NEXT".to_owned(),
                format!("http://127.0.0.1:{v14}"),
            ),
            ("RELAY_V14_ADDR".to_owned(), format!("127.0.0.1:{v14}")),
        ]
    };
    let mut running = Running::default();
    let split_ports = [free_port(), free_port()];
    start(
        &mut running,
        &bin("relay-v08"),
        &env(split_ports),
        &split_ports[..1],
    );
    start(
        &mut running,
        &bin("relay-v14"),
        &env(split_ports),
        &split_ports[1..],
    );
    let merged_ports = [free_port(), free_port()];
    let mp = free_port();
    let mut merged_env = env(merged_ports);
    merged_env.push(("MERGE_METRICS_ADDR".to_owned(), format!("127.0.0.1:{mp}")));
    start(&mut running, &binary, &merged_env, &merged_ports);

    let ask = |port: u16| {
        let url = format!("http://127.0.0.1:{port}");
        [["hello", "1"], ["fail", "1"]]
            .iter()
            .map(|[note, hops]| client(&bin("relay-call"), &[&url, note, hops, "v08"]))
            .collect::<Vec<_>>()
    };
    let split = ask(split_ports[0]);
    assert_eq!(
        split,
        [
            "relay-v08@tonic-0.8 > relay-v14@tonic-0.14: hello\n",
            "error: InvalidArgument: relay-v14@tonic-0.14: asked to fail < relay-v08@tonic-0.8\n"
        ]
    );
    assert_eq!(ask(merged_ports[0]), split);
    // relay-v08's client is tonic's own: its call to relay-v14 went over the network, which
    // the in-process counters never see.
    let counters = metrics(mp);
    assert!(
        !counters.contains("caller=\"relay-v08\"") && !counters.contains("path=\"inline\""),
        "{counters}"
    );
}
