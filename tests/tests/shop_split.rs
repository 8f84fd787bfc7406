//! End-to-end, split mode: the four services of `fixtures/shop` run as four real processes on
//! loopback TCP and answer the real `shop-client` (see fixtures/shop/README.md).
//!
//! The five packages are built once per test binary with the real cargo (`--locked`, one shared
//! `target/fixtures` so tonic and tokio compile once). Every service listens on port 0 and
//! prints `listening on 127.0.0.1:PORT` first; peers get those URLs through their own env keys.
//! [`Shop`] kills the children on drop, also when an assertion fails. The expected answers
//! follow from the fixed tables of inventory, catalog and pricing (their `lib.rs` headers).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

/// The packages of fixtures/shop that have binaries (shop-proto is built as their dependency).
const PACKAGES: [&str; 5] = ["inventory", "catalog", "pricing", "gateway", "client"];

/// The address every service is asked to listen on.
const ANY_PORT: &str = "127.0.0.1:0";

/// How long a service may take to print its `listening on` line.
const STARTUP: Duration = Duration::from_secs(30);

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
}

/// Builds the fixture packages once; the folder that holds their binaries.
fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = repo_root().join("target/fixtures");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        for pkg in PACKAGES {
            let manifest = repo_root()
                .join("fixtures/shop")
                .join(pkg)
                .join("Cargo.toml");
            let out = Command::new(&cargo)
                .args(["build", "--locked", "--bins", "--manifest-path"])
                .arg(&manifest)
                .env("CARGO_TARGET_DIR", &target)
                .stdin(Stdio::null())
                .output()
                .expect("cargo runs");
            assert!(
                out.status.success(),
                "cargo build of fixtures/shop/{pkg} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        target.join("debug")
    })
}

/// The four services, running; dropping it kills them.
#[derive(Debug)]
struct Shop {
    children: Vec<Child>,
    gateway_url: String,
    pricing_url: String,
}

impl Shop {
    /// Starts inventory, catalog, pricing and gateway, each on a free port.
    fn start() -> Shop {
        let mut shop = Shop {
            children: Vec::new(),
            gateway_url: String::new(),
            pricing_url: String::new(),
        };
        let inventory = shop.spawn("inventory", &[("INVENTORY_ADDR", ANY_PORT)]);
        let catalog = shop.spawn(
            "catalog",
            &[
                ("CATALOG_ADDR", ANY_PORT),
                ("CATALOG_INVENTORY_URL", &inventory),
            ],
        );
        shop.pricing_url = shop.spawn("pricing", &[("PRICING_ADDR", ANY_PORT)]);
        let pricing = shop.pricing_url.clone();
        shop.gateway_url = shop.spawn(
            "gateway",
            &[
                ("GATEWAY_ADDR", ANY_PORT),
                ("GATEWAY_CATALOG_URL", &catalog),
                ("GATEWAY_PRICING_URL", &pricing),
                ("GATEWAY_INVENTORY_URL", &inventory),
            ],
        );
        shop
    }

    /// Starts one service binary and returns `http://ADDR` from its first stdout line.
    fn spawn(&mut self, name: &str, env: &[(&str, &str)]) -> String {
        let mut child = Command::new(bin_dir().join(name))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        self.children.push(child); // killed on drop from here on
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line);
            let _ = tx.send(read.map(|_| line));
            // Keep the pipe open and drained for as long as the service lives.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx
            .recv_timeout(STARTUP)
            .unwrap_or_else(|_| panic!("{name} printed nothing within {STARTUP:?}"))
            .unwrap_or_else(|e| panic!("reading {name}'s stdout: {e}"));
        let addr = line
            .trim_end()
            .strip_prefix("listening on 127.0.0.1:")
            .unwrap_or_else(|| panic!("{name}'s first line is {line:?}"));
        format!("http://127.0.0.1:{addr}")
    }

    /// Runs `shop-client --gateway-url URL ARGS...`.
    fn client(&self, args: &[&str]) -> Output {
        Command::new(bin_dir().join("shop-client"))
            .arg("--gateway-url")
            .arg(&self.gateway_url)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("shop-client runs")
    }

    /// The client's stdout, asserting that it succeeded.
    fn answer(&self, args: &[&str]) -> String {
        let out = self.client(args);
        assert!(
            out.status.success(),
            "shop-client {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// The client's stderr, asserting that it failed with status 1 and printed nothing.
    fn error(&self, args: &[&str]) -> String {
        let out = self.client(args);
        assert_eq!(out.status.code(), Some(1), "shop-client {args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "shop-client {args:?}: {out:?}");
        String::from_utf8(out.stderr).expect("utf-8")
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn shop_split_mode_answers_slow() {
    let shop = Shop::start();

    // Unary: gateway -> catalog -> inventory, and gateway -> pricing (bulk discount from 10).
    assert_eq!(
        shop.answer(&["offer", "apple", "3"]),
        "offer sku=apple name=Apple available=120 unit_price_cents=45 total_cents=135 currency=EUR\n"
    );
    assert_eq!(
        shop.answer(&["offer", "teapot", "12"]),
        "offer sku=teapot name=Teapot available=4 unit_price_cents=2499 total_cents=26990 currency=EUR\n"
    );

    // Server-streaming, relayed by gateway.
    assert_eq!(
        shop.answer(&["watch", "pear", "3"]),
        "stock sku=pear seq=1 available=29\n\
         stock sku=pear seq=2 available=28\n\
         stock sku=pear seq=3 available=27\n"
    );

    // Client-streaming behind gateway's unary Checkout.
    assert_eq!(
        shop.answer(&["checkout", "apple:2", "pear:3"]),
        "checkout lines=2 total_quantity=5\n"
    );

    // Errors travel back unchanged through every hop.
    assert_eq!(
        shop.error(&["offer", "plum", "1"]),
        "error: NotFound: catalog: unknown sku `plum`\n"
    );
    assert_eq!(
        shop.error(&["checkout", "apple:2", "plum:1"]),
        "error: NotFound: inventory: unknown sku `plum`\n"
    );
    assert_eq!(
        shop.error(&["watch", "plum", "2"]),
        "error: NotFound: inventory: unknown sku `plum`\n"
    );
}

#[test]
fn shop_pricing_rejects_calls_without_x_caller_slow() {
    let shop = Shop::start();
    let pricing = shop.pricing_url.as_str();

    assert_eq!(
        shop.error(&["quote-direct", "--pricing-url", pricing, "apple", "3"]),
        "error: Unauthenticated: pricing: missing x-caller metadata\n"
    );
    // The same call naming its caller goes through (the interceptor is the only difference).
    assert_eq!(
        shop.answer(&[
            "quote-direct",
            "--pricing-url",
            pricing,
            "--caller",
            "test",
            "apple",
            "3"
        ]),
        "quote sku=apple unit_price_cents=45 total_cents=135 currency=EUR\n"
    );
}
