//! `cargo merge check` run as a user runs it: the hazard fixture (fixtures/hazards) reports each
//! code where its comment says, in both formats (snapshots), with exit status 1; the shop has
//! no finding of warning or error level; a bad plan is exit status 2.

mod support;

use std::process::{Command, Output};

use support::{root, text};

fn check(plan: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .current_dir(root())
        .env("NO_COLOR", "1")
        .args(["merge", "check", "--plan", plan])
        .args(extra)
        .output()
        .expect("run cargo-merge")
}

#[test]
fn the_hazards_are_reported_where_they_are() {
    let out = check("fixtures/hazards/merge.toml", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    insta::assert_snapshot!("hazards_human", text(&out.stdout));
}

#[test]
fn the_hazards_as_json_lines() {
    let out = check("fixtures/hazards/merge.toml", &["--message-format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert!(
            v["reason"] == "diagnostic" || v["reason"] == "check-summary",
            "{line}"
        );
    }
    insta::assert_snapshot!("hazards_json", stdout);
}

/// The isolation policy sets the severity of the version findings: alpha pins `hex = "=0.4.2"`,
/// beta locks 0.4.3 but asks for `0.4`, so under `unify` Cargo can take alpha's pin for both
/// (a warning each; two pins that no one version satisfies are an error, as build_layouts.rs
/// shows with `strict`).
#[test]
fn the_isolation_policy_sets_how_grave_version_findings_are() {
    for (isolation, pin, drift) in [
        ("exact", "note", "note"),
        ("unify", "warning", "warning"),
        ("strict", "error", "error"),
    ] {
        let out = check(
            "fixtures/hazards/merge.toml",
            &[
                "--group",
                "hazards",
                "--isolation",
                isolation,
                "--message-format",
                "json",
            ],
        );
        let found: Vec<(String, String, String)> = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
            .filter(|v| v["code"] == "exact-pin-conflict" || v["code"] == "version-drift")
            .map(|v| {
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
                (s("member"), s("code"), s("severity"))
            })
            .collect();
        let expected = [
            ("alpha", "exact-pin-conflict", pin),
            ("beta", "version-drift", drift),
        ]
        .map(|(m, c, s)| (m.to_owned(), c.to_owned(), s.to_owned()));
        assert_eq!(found, expected, "under {isolation}");
    }
}

#[test]
fn the_shop_has_nothing_to_fix() {
    let plan = tempfile::tempdir().expect("tempdir");
    let path = support::shop_plan(plan.path(), &root().join("fixtures/shop"));
    let out = check(path.to_str().expect("utf-8"), &["--message-format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a summary")).expect("JSON");
    assert_eq!(summary["reason"], "check-summary");
    assert_eq!(summary["errors"], 0, "{stdout}");
    assert_eq!(summary["warnings"], 0, "{stdout}");
}

/// What wraps the guarded fixture's servers and clients is listed as notes, each where it is
/// written, so a reviewer sees what runs in-process.
#[test]
fn the_layers_around_servers_and_clients_are_listed() {
    let out = check("fixtures/guarded/merge.toml", &["--message-format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let found: Vec<(String, String, String, u64)> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .filter(|v| {
            [
                "served-stack",
                "service-stack",
                "client-stack",
                "unrouted-service",
            ]
            .contains(&v["code"].as_str().unwrap_or_default())
        })
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            (
                s("member"),
                s("code"),
                s("severity"),
                v["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let source = |member: &str, line: u64| {
        let text =
            std::fs::read_to_string(root().join(format!("fixtures/guarded/{member}/src/main.rs")))
                .expect("the source");
        text.lines()
            .nth(line as usize - 1)
            .unwrap_or_default()
            .to_owned()
    };
    let mut seen: Vec<(&str, &str, String)> = found
        .iter()
        .map(|(member, code, severity, line)| {
            assert_eq!(severity, "note", "{code}");
            (
                member.as_str(),
                code.as_str(),
                source(member, *line).trim().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "teller",
                "client-stack",
                ".timeout(Duration::from_millis(100))".to_owned()
            ),
            (
                "teller",
                "service-stack",
                ".service(channel(\"TELLER_NOTARY_URL\", \"http://127.0.0.1:50065\")?),".to_owned()
            ),
            (
                "teller",
                "service-stack",
                "clerk: ClerkClient::new(InterceptedService::new(".to_owned()
            ),
            (
                "vault",
                "served-stack",
                ".layer(InterceptorLayer::new(require_token))".to_owned()
            ),
            (
                "vault",
                "served-stack",
                ".timeout(Duration::from_millis(100))".to_owned()
            ),
            (
                "vault",
                "service-stack",
                ".add_service(InterceptedService::new(".to_owned()
            ),
            (
                "vault",
                "service-stack",
                ".service(NotaryServer::new(Keeper)),".to_owned()
            ),
        ]
    );
}

#[test]
fn a_bad_plan_is_status_2() {
    let out = check("fixtures/hazards/no-such-plan.toml", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no-such-plan.toml"),
        "{}",
        text(&out.stderr)
    );
}

/// The hazard fixture's errors that build cannot mend.
const UNMENDED: &[&str] = &[
    "metrics-default-registry",
    "listen-addr-collision",
    "profile-conflict",
    "patch-conflict",
];

/// The hazards, mended by build: alpha and beta both read `PORT` and both initialise tracing;
/// merged, each listens where its own `<MEMBER>_PORT` says and the second initialisation is
/// skipped instead of panicking.
#[test]
fn build_mends_the_hazards_and_each_member_listens_on_its_own_port() {
    support::build_fixtures(&["hazards/alpha", "hazards/beta"]);
    let work = tempfile::tempdir().expect("tempdir");
    let fixture = root().join("fixtures/hazards");
    let plan = std::fs::read_to_string(fixture.join("merge.toml"))
        .expect("the plan")
        .replace(
            "manifest = \"",
            &format!("manifest = \"{}/", fixture.display()),
        );
    let plan_path = work.path().join("merge.toml");
    std::fs::write(&plan_path, plan).expect("write the plan");
    // What build cannot mend is refused unless allowed, code by code (the metrics both register
    // and the port both bind are only reached with METRICS set, which this test does not set;
    // the profiles differ in release only; beta's conflicting patch is one it does not use).
    // The plan's `native` group links one native library twice: it is only checked.
    let mut allow = vec!["--group", "hazards"];
    for code in UNMENDED {
        allow.extend(["--allow", code]);
    }
    let binary = support::build_json_with(&plan_path, &work.path().join("out"), &allow);
    // `--help` lists each member's variables and starts no member (a member that started
    // would stop at once on `PORT=off`, with an exit status of 2 or an abort).
    let help = Command::new(&binary)
        .arg("--help")
        .env("PORT", "off")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the merged binary");
    let shown = text(&help.stdout);
    assert_eq!(help.status.code(), Some(0), "{shown}{}", text(&help.stderr));
    assert!(!shown.contains("listening on"), "{shown}");
    // (member, key, what follows it) of the members' part.
    let mut under: Option<&str> = None;
    let mut read: Vec<(&str, &str, String)> = Vec::new();
    for line in shown.lines() {
        if let Some(member) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':')) {
            under = Some(member);
        } else if let (Some(member), Some(entry)) = (under, line.strip_prefix("    ")) {
            let mut words = entry.split_whitespace();
            let key = words.next().unwrap_or_default();
            read.push((member, key, words.collect::<Vec<_>>().join(" ")));
        } else if line.is_empty() {
            under = None;
        }
    }
    let falls_back = |member: &str, key: &str| {
        read.iter()
            .any(|(m, k, rest)| *m == member && *k == key && rest == "(falls back to PORT)")
    };
    assert!(falls_back("alpha", "ALPHA_PORT"), "{shown}");
    assert!(falls_back("beta", "BETA_PORT"), "{shown}");
    assert!(shown.contains("MERGE_METRICS_ADDR"), "{shown}");
    let (alpha, beta) = (support::free_port(), support::free_port());
    let mut running = support::Running::default();
    let log = work.path().join("stderr.txt");
    running.start_logged(
        &binary,
        &[
            ("ALPHA_PORT", alpha.to_string()),
            ("BETA_PORT", beta.to_string()),
        ],
        &[alpha, beta],
        std::fs::File::create(&log).expect("a log file"),
    );
    // Both members initialise tracing before they listen: the second did not complete, said once.
    let said = std::fs::read_to_string(&log).expect("the log");
    assert_eq!(
        said.matches("a second tracing subscriber initialisation did not complete")
            .count(),
        1,
        "{said}"
    );
    for (port, name) in [(alpha, "alpha"), (beta, "beta")] {
        let mut answer = String::new();
        std::io::Read::read_to_string(
            &mut std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects"),
            &mut answer,
        )
        .expect("reads");
        assert_eq!(answer, format!("{name}\n"));
    }
}
