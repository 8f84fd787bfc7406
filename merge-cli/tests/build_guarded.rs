//! `cargo merge build` on servers the way real services guard them (fixtures/guarded): vault
//! serves `Vault` behind a server-wide auth layer (`Server::builder().layer(..)`), `Audit`
//! wrapped by hand in `InterceptedService`, `Clerk` plainly, and builds `Ghost` whose `serve`
//! fails (its address is taken); teller calls all four.
//!
//! The merged binary answers every call exactly as the split deployment does: a caller
//! without the token is refused by the layer and by the hand-wrapped interceptor, a call to
//! the server that never served finds nothing there. Only the plain server is called
//! in-process; the guarded and the unserved ones go over the network, where every layer runs
//! (the serve hook of the merged workspace's tonic reports what each server serves).

mod support;

use std::path::Path;

use support::*;

/// fixtures/guarded/merge.toml with absolute manifests, in `dir`.
fn plan(dir: &Path) -> std::path::PathBuf {
    let original = root().join("fixtures/guarded");
    let text = std::fs::read_to_string(original.join("merge.toml")).expect("the plan");
    let text = text.replace(
        "manifest = \"",
        &format!("manifest = \"{}/", original.display()),
    );
    let path = dir.join("merge.toml");
    std::fs::write(&path, text).expect("write the plan");
    path
}

/// Ports: teller, vault, audit, clerk. Ghost's address is clerk's, so its `serve` fails.
fn guarded_env(ports: [u16; 4]) -> Vec<(&'static str, String)> {
    let [teller, vault, audit, clerk] = ports.map(|p| format!("127.0.0.1:{p}"));
    vec![
        ("TELLER_ADDR", teller),
        ("VAULT_ADDR", vault.clone()),
        ("AUDIT_ADDR", audit.clone()),
        ("CLERK_ADDR", clerk.clone()),
        ("GHOST_ADDR", clerk.clone()),
        ("TELLER_VAULT_URL", format!("http://{vault}")),
        ("TELLER_AUDIT_URL", format!("http://{audit}")),
        ("TELLER_CLERK_URL", format!("http://{clerk}")),
        ("TELLER_GHOST_URL", format!("http://{clerk}")),
    ]
}

/// teller's answers without a token, with a wrong one and with the right one.
fn answers(teller: u16) -> Vec<String> {
    let url = format!("http://127.0.0.1:{teller}");
    ["", "guess", "open-sesame"]
        .iter()
        .map(|token| client(&bin("teller-cli"), &[url.as_str(), token]))
        .collect()
}

/// The counter line of `method` on `path` (`inline` or `remote`), if any.
fn counted(counters: &str, method: &str, path: &str) -> Option<u64> {
    let prefix = format!("merge_calls_total{{method=\"{method}\",path=\"{path}\"");
    counters
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(|l| {
            l.rsplit(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .expect("a count")
        })
        .reduce(|a, b| a + b)
}

#[test]
fn guarded_and_unserved_servers_are_never_called_around_their_layers() {
    build_fixtures(&["guarded/vault", "guarded/teller"]);
    let work = tempfile::tempdir().expect("tempdir");
    let plan = plan(work.path());
    let out_dir = work.path().join("out");
    let binary = build_json(&plan, &out_dir);
    let patched = out_dir.join("bank/vendor/tonic-0.14.9-served/src/transport/server/mod.rs");
    let patched = std::fs::read_to_string(&patched).expect("the shared tonic, patched");
    assert!(patched.contains("let __merge_serving = self.__merge_serving(svc.clone());"));

    let mut running = Running::default();
    let split = [free_port(), free_port(), free_port(), free_port()];
    let env = guarded_env(split);
    running.start(&bin("vault"), &env, &split[1..]);
    running.start(&bin("teller"), &env, &split[..1]);
    let merged = [free_port(), free_port(), free_port(), free_port()];
    let metrics_port = free_port();
    let mut env = guarded_env(merged);
    env.push(("MERGE_METRICS_ADDR", format!("127.0.0.1:{metrics_port}")));
    running.start(&binary, &env, &merged);

    let from_split = answers(split[0]);
    let from_merged = answers(merged[0]);
    assert_eq!(
        from_split,
        [
            "Unauthenticated missing token\nUnauthenticated missing token\n\
             ok clerk opened for teller\nUnimplemented \n",
            "PermissionDenied wrong token\nPermissionDenied wrong token\n\
             ok clerk opened for teller\nUnimplemented \n",
            "ok vault opened for teller\nok audit opened for teller\n\
             ok clerk opened for teller\nUnimplemented \n",
        ]
    );
    assert_eq!(from_merged, from_split);

    // Every call of the three rounds: the plain server in-process, the layered and the
    // hand-wrapped one in-process through their served stacks (the refusals included), the
    // unserved one over the network.
    let counters = metrics(metrics_port);
    for method in [
        "/guarded.Clerk/Stamp",
        "/guarded.Vault/Open",
        "/guarded.Audit/Record",
    ] {
        assert_eq!(counted(&counters, method, "inline"), Some(3), "{counters}");
        assert_eq!(counted(&counters, method, "remote"), None, "{counters}");
    }
    assert_eq!(counted(&counters, "/guarded.Ghost/Haunt", "inline"), None);
    assert_eq!(
        counted(&counters, "/guarded.Ghost/Haunt", "remote"),
        Some(3),
        "{counters}"
    );
    assert!(running.terminate_last().success());
}
