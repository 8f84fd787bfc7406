//! `cargo merge build` on servers the way real services guard them (fixtures/guarded): vault
//! serves `Vault` behind a server-wide auth layer (`Server::builder().layer(..)`), `Audit`
//! wrapped by hand in `InterceptedService`, `Clerk` plainly, `Notary` in a `ServiceBuilder`
//! stack (the auth check, then a layer that reads the request body), `Slow` on a server with a
//! 100 ms timeout, `Sloth` plainly (2 s handlers both), and builds `Ghost` whose `serve` fails
//! (its address is taken). teller calls all seven with a `traceparent`, through clients made
//! every way: plain, `with_interceptor`, a hand-made `InterceptedService`, a tower layer around
//! the channel, and a channel with a 100 ms `Endpoint::timeout` (sloth).
//!
//! The merged binary answers every call exactly as the split deployment does: a caller
//! without the token is refused by the layer, the hand-wrapped interceptor and the stack; the
//! body-reading layer reads the same bytes; the server's timeout ends the slow call and the
//! endpoint's the sloth's; a call to the server that never served finds nothing there; the
//! trace context and what the client's interceptors and layer add cross. Every call to a
//! served server is in-process: through its served stack where something wraps it, through
//! the client's own stack (its channel entering the callee, encoded) where something wraps
//! the client's channel, encoded where a layer read the body; the unserved one goes over the
//! network.

mod support;

use std::path::Path;

use support::*;

/// fixtures/guarded/merge.toml with absolute manifests, in `dir`.
fn plan(dir: &Path) -> std::path::PathBuf {
    fixture_plan(dir, "guarded")
}

/// Ports: teller, vault, audit, clerk, notary, slow, sloth. Ghost's address is clerk's, so
/// its `serve` fails.
fn guarded_env(ports: [u16; 7]) -> Vec<(&'static str, String)> {
    let [teller, vault, audit, clerk, notary, slow, sloth] =
        ports.map(|p| format!("127.0.0.1:{p}"));
    vec![
        ("TELLER_ADDR", teller),
        ("VAULT_ADDR", vault.clone()),
        ("AUDIT_ADDR", audit.clone()),
        ("CLERK_ADDR", clerk.clone()),
        ("GHOST_ADDR", clerk.clone()),
        ("NOTARY_ADDR", notary.clone()),
        ("SLOW_ADDR", slow.clone()),
        ("SLOTH_ADDR", sloth.clone()),
        ("TELLER_VAULT_URL", format!("http://{vault}")),
        ("TELLER_AUDIT_URL", format!("http://{audit}")),
        ("TELLER_CLERK_URL", format!("http://{clerk}")),
        ("TELLER_GHOST_URL", format!("http://{clerk}")),
        ("TELLER_NOTARY_URL", format!("http://{notary}")),
        ("TELLER_SLOW_URL", format!("http://{slow}")),
        ("TELLER_SLOTH_URL", format!("http://{sloth}")),
    ]
}

fn ports() -> [u16; 7] {
    std::array::from_fn(|_| free_port())
}

/// teller's answers without a token, with a wrong one and with the right one.
fn answers(teller: u16) -> Vec<String> {
    let url = format!("http://127.0.0.1:{teller}");
    ["", "guess", "open-sesame"]
        .iter()
        .map(|token| client(&bin("teller-cli"), &[url.as_str(), token]))
        .collect()
}

/// The calls of `method` counted on `path` (`inline`, `inline-encoded` or `remote`), if any.
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
        .filter(|n| *n > 0)
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
    assert!(patched.contains(
        "let __merge_serving = self.__merge_serving(svc.clone(), __merge_plain_io::<IO>());"
    ));

    let mut running = Running::default();
    let split = ports();
    let env = guarded_env(split);
    running.start(&bin("vault"), &env, &split[1..]);
    running.start(&bin("teller"), &env, &split[..1]);
    let merged = ports();
    let metrics_port = free_port();
    let mut env = guarded_env(merged);
    env.push(("MERGE_METRICS_ADDR", format!("127.0.0.1:{metrics_port}")));
    running.start(&binary, &env, &merged);

    let from_split = answers(split[0]);
    let from_merged = answers(merged[0]);
    let trace = "in trace 4bf92f3577b34da6a3ce929d0e0e4736";
    let clerk = format!("ok clerk opened for teller {trace} via intercepted-service\n");
    let timeouts = "Cancelled Timeout expired\nCancelled Timeout expired\n";
    let refused = |why: &str| {
        format!(
            "{why}\n{why}\n{clerk}Unimplemented \n{why}\n{timeouts}",
            clerk = clerk,
            timeouts = timeouts
        )
    };
    assert_eq!(
        from_split,
        [
            refused("Unauthenticated missing token"),
            refused("PermissionDenied wrong token"),
            format!(
                "ok vault opened for teller {trace}\n\
                 ok audit opened for teller {trace} via with-interceptor\n\
                 {clerk}Unimplemented \n\
                 ok notary opened for teller {trace} via tower-layer (13 request bytes read)\n\
                 {timeouts}"
            ),
        ]
    );
    assert_eq!(from_merged, from_split);

    // Every call of the three rounds. Plain clients reach the guarded servers through their
    // served stacks, the message typed (`inline`). Clients with something around their channel (clerk's
    // InterceptedService, notary's tower layer, sloth's endpoint timeout): through their own
    // stack, the channel entering the callee in-process (`inline-encoded`). The unserved
    // ghost over the network.
    let counters = metrics(metrics_port);
    let paths = |method: &str| {
        ["inline", "inline-encoded", "remote"].map(|path| counted(&counters, method, path))
    };
    for method in [
        "/guarded.Vault/Open",
        "/guarded.Audit/Record",
        "/guarded.Slow/Wait",
    ] {
        assert_eq!(paths(method), [Some(3), None, None], "{method}: {counters}");
    }
    for method in [
        "/guarded.Clerk/Stamp",
        "/guarded.Notary/Seal",
        "/guarded.Sloth/Crawl",
    ] {
        assert_eq!(paths(method), [None, Some(3), None], "{method}: {counters}");
    }
    assert_eq!(
        paths("/guarded.Ghost/Haunt"),
        [None, None, Some(3)],
        "{counters}"
    );
    assert!(running.terminate_last().success());
}
