//! Helpers of the `cargo merge build` end-to-end tests: the real cargo-merge binary, the real
//! cargo, real processes on loopback ports. Fixture packages and merged workspaces all build
//! into one shared target folder (`target/fixtures`), so the tonic stack compiles once.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    merge_analyzer::paths::normalize(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")))
}

/// The target folder shared by every fixture build.
pub fn target() -> PathBuf {
    root().join("target/fixtures")
}

pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Builds the binaries of fixture packages (`fixtures/<path>/Cargo.toml`), `--locked`, in
/// their folder (as their team does: cargo reads the `.cargo/config.toml` above it).
pub fn build_fixtures(packages: &[&str]) {
    for p in packages {
        let dir = root().join("fixtures").join(p);
        let out = Command::new(cargo())
            .args(["build", "--locked", "--bins", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", target())
            .stdin(Stdio::null())
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "cargo build of fixtures/{p} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A fixture binary.
pub fn bin(name: &str) -> PathBuf {
    target().join("debug").join(name)
}

/// fixtures/<system>/merge.toml with absolute manifests, written into `dir`.
pub fn fixture_plan(dir: &Path, system: &str) -> PathBuf {
    let original = root().join("fixtures").join(system);
    let text = std::fs::read_to_string(original.join("merge.toml")).expect("the plan");
    let text = text.replace(
        "manifest = \"",
        &format!("manifest = \"{}/", original.display()),
    );
    let path = dir.join("merge.toml");
    std::fs::write(&path, text).expect("write the plan");
    path
}

/// Runs `cargo-merge merge build ARGS` with the shared target folder.
pub fn merge_build(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .env("NO_COLOR", "1")
        .env("CARGO_TARGET_DIR", target())
        .args(["merge", "build"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run cargo-merge")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `path` of the one `merged-binary` line of a JSON-mode build.
pub fn merged_binary(out: &Output) -> PathBuf {
    let stdout = text(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .filter(|v: &serde_json::Value| v["reason"] == "merged-binary")
        .collect();
    assert_eq!(lines.len(), 1, "one merged binary: {stdout}");
    PathBuf::from(lines[0]["path"].as_str().expect("a path"))
}

/// Builds `plan` into `out` in JSON mode, which must succeed; the merged binary.
/// A plan of the shop's four services (in `shop`: fixtures/shop or a copy) as one group `shop`
/// (not `gateway`, analyze's name, so that the merged binary does not land on the gateway
/// service's own binary in the shared target), written in `dir` (a temporary folder: a plan's
/// merge.lock is written beside it) with absolute manifest paths.
pub fn shop_plan(dir: &Path, shop: &Path) -> PathBuf {
    let mut plan = String::from(
        "isolation = \"exact\"\n\n[[group]]\nname = \"shop\"\nmembers = [\"catalog\", \"gateway\", \"inventory\", \"pricing\"]\n",
    );
    for m in ["catalog", "gateway", "inventory", "pricing"] {
        plan.push_str(&format!(
            "\n[service.{m}]\nmanifest = \"{}\"\n",
            shop.join(m).join("Cargo.toml").display()
        ));
    }
    let path = dir.join("merge.toml");
    std::fs::write(&path, plan).expect("write the plan");
    path
}

/// The environment of the shop's four services (ports: gateway, catalog, pricing,
/// inventory): each its own address, peers at the others'.
pub fn shop_env(ports: &[u16; 4]) -> Vec<(&'static str, String)> {
    let [gateway, catalog, pricing, inventory] = ports.map(|p| format!("127.0.0.1:{p}"));
    vec![
        ("GATEWAY_ADDR", gateway),
        ("CATALOG_ADDR", catalog.clone()),
        ("PRICING_ADDR", pricing.clone()),
        ("INVENTORY_ADDR", inventory.clone()),
        ("GATEWAY_CATALOG_URL", format!("http://{catalog}")),
        ("GATEWAY_PRICING_URL", format!("http://{pricing}")),
        ("GATEWAY_INVENTORY_URL", format!("http://{inventory}")),
        ("CATALOG_INVENTORY_URL", format!("http://{inventory}")),
    ]
}

pub fn build_json(plan: &Path, out: &Path) -> PathBuf {
    build_json_with(plan, out, &[])
}

/// [`build_json`] with more arguments (`--allow CODE`).
pub fn build_json_with(plan: &Path, out: &Path, extra: &[&str]) -> PathBuf {
    let build = build_json_output(plan, out, extra);
    assert!(
        build.status.success(),
        "build failed:\n{}",
        text(&build.stderr)
    );
    merged_binary(&build)
}

/// A JSON-mode build of `plan` into `out` with more arguments, whatever its outcome.
pub fn build_json_output(plan: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "--plan",
        plan.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--message-format",
        "json",
    ];
    args.extend_from_slice(extra);
    merge_build(&args)
}

/// Every method of `methods` was called in-process, and none over the network.
pub fn assert_all_inline(counters: &str, methods: &[&str]) {
    for method in methods {
        let inline = format!("merge_calls_total{{method=\"{method}\",path=\"inline\"");
        assert!(
            counters.contains(&inline),
            "{method} not inline:\n{counters}"
        );
        let remote = format!("merge_calls_total{{method=\"{method}\",path=\"remote\"");
        assert!(
            !counters.contains(&remote),
            "{method} went remote:\n{counters}"
        );
    }
}

/// Packages cargo compiled, from its `Compiling name vX (..)` lines.
pub fn compiled(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("Compiling "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// A free loopback port (bound and released: a small race, as with any port-0 handoff).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Running processes, killed when dropped (also when an assertion fails).
#[derive(Debug, Default)]
pub struct Running(Vec<Child>);

impl Running {
    /// Starts `program` with `env` and waits until every port of `ports` accepts connections.
    pub fn start(&mut self, program: &Path, env: &[(&str, String)], ports: &[u16]) {
        self.start_logged(program, env, ports, Stdio::null());
    }

    /// [`Running::start`] with command-line arguments.
    pub fn start_with_args(
        &mut self,
        program: &Path,
        args: &[&str],
        env: &[(&str, String)],
        ports: &[u16],
    ) {
        self.spawn(program, args, env, ports, Stdio::null());
    }

    /// [`Running::start`] with the program's stderr going to `stderr` (a file to read later).
    pub fn start_logged(
        &mut self,
        program: &Path,
        env: &[(&str, String)],
        ports: &[u16],
        stderr: impl Into<Stdio>,
    ) {
        self.spawn(program, &[], env, ports, stderr);
    }

    fn spawn(
        &mut self,
        program: &Path,
        args: &[&str],
        env: &[(&str, String)],
        ports: &[u16],
        stderr: impl Into<Stdio>,
    ) {
        let mut cmd = Command::new(program);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        self.0.push(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in ports {
            while TcpStream::connect(("127.0.0.1", *port)).is_err() {
                if let Some(Ok(Some(status))) = self.0.last_mut().map(Child::try_wait) {
                    panic!("{} exited early: {status}", program.display());
                }
                assert!(
                    Instant::now() < deadline,
                    "{} never listened on {port}",
                    program.display()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Sends SIGTERM to the last process started and returns its exit status.
    pub fn terminate_last(&mut self) -> std::process::ExitStatus {
        let mut child = self.0.pop().expect("a process");
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `GET /metrics` of a merged binary.
pub fn metrics(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("metrics endpoint");
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: test\r\n\r\n")
        .expect("request");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("answer");
    answer
}

/// Runs a fixture client; its stdout, or its stderr when it fails.
pub fn client(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("client runs");
    if out.status.success() {
        text(&out.stdout)
    } else {
        text(&out.stderr)
    }
}

/// Every file under `dir` (not `target/`), by its path relative to `dir`, with `what` of it.
fn each_file<T>(dir: &Path, what: impl Fn(&Path) -> T) -> BTreeMap<PathBuf, T> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != "target")
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).expect("inside").to_path_buf();
            (rel, what(e.path()))
        })
        .collect()
}

/// Every file under `dir` (not `target/`), with its bytes.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    each_file(dir, |p| std::fs::read(p).expect("read"))
}

/// Every file under `dir` (not `target/`) with its modification time.
pub fn mtimes(dir: &Path) -> BTreeMap<PathBuf, std::time::SystemTime> {
    each_file(dir, |p| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .expect("mtime")
    })
}

/// Copies the fixture packages of `fixtures/<system>` to `<repo>/target/<name>/`, three folders
/// below the repository like the originals, so their relative path to runtime-shim still holds.
pub fn copy_system(system: &str, name: &str) -> PathBuf {
    let from = root().join("fixtures").join(system);
    let to = root().join("target").join(name);
    let _ = std::fs::remove_dir_all(&to);
    for (rel, bytes) in tree(&from) {
        let path = to.join(&rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, bytes).expect("write");
    }
    to
}
