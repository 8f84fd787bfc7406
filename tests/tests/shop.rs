//! End-to-end on the shop fixture (fixtures/shop/README.md), in both modes, with the same
//! sources: split (four real processes on loopback TCP) and in-process (`shop-together`: the
//! four services started from their libraries in one process, calling each other through the
//! in-process registry). Both must give the real `shop-client` the same answers, and the
//! in-process one's counters must show that the calls between services took the inline path.
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
const PACKAGES: [&str; 6] = [
    "inventory",
    "catalog",
    "pricing",
    "gateway",
    "client",
    "together",
];

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
    /// In-process mode: where the counters are served.
    metrics_addr: Option<String>,
}

impl Shop {
    /// Starts inventory, catalog, pricing and gateway, each on a free port.
    fn start() -> Shop {
        let mut shop = Shop {
            children: Vec::new(),
            gateway_url: String::new(),
            pricing_url: String::new(),
            metrics_addr: None,
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

    /// Starts `shop-together` and reads its addresses until it says `ready`.
    fn together() -> Shop {
        let mut shop = Shop {
            children: Vec::new(),
            gateway_url: String::new(),
            pricing_url: String::new(),
            metrics_addr: None,
        };
        let mut child = Command::new(bin_dir().join("shop-together"))
            .env("MERGE_METRICS_ADDR", ANY_PORT)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start shop-together");
        let stdout = child.stdout.take().expect("stdout is piped");
        shop.children.push(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(n) if n > 0 => {
                        let ready = line.trim_end() == "ready";
                        let _ = tx.send(line);
                        if ready {
                            break;
                        }
                    }
                    _ => return,
                }
            }
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        loop {
            let line = rx
                .recv_timeout(STARTUP)
                .unwrap_or_else(|_| panic!("shop-together was not ready within {STARTUP:?}"));
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["listening", "gateway", addr] => shop.gateway_url = format!("http://{addr}"),
                ["listening", "pricing", addr] => shop.pricing_url = format!("http://{addr}"),
                ["listening", _, _] => {}
                ["metrics", addr] => shop.metrics_addr = Some(addr.to_string()),
                ["ready"] => return shop,
                _ => panic!("unexpected line from shop-together: {line:?}"),
            }
        }
    }

    /// `GET /metrics` of the in-process shop.
    fn metrics(&self) -> String {
        use std::io::{Read, Write};
        let addr = self.metrics_addr.as_deref().expect("metrics address");
        let mut socket = std::net::TcpStream::connect(addr).expect("connect to metrics");
        socket
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .expect("send");
        let mut response = String::new();
        socket.read_to_string(&mut response).expect("read metrics");
        response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
            .expect("an HTTP response")
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
    answers(&Shop::start());
}

#[test]
fn shop_in_process_mode_gives_the_same_answers_inline_slow() {
    let shop = Shop::together();
    answers(&shop);
    let metrics = shop.metrics();
    // gateway -> catalog: gateway compiled its own copy of catalog.proto (converted path);
    // catalog -> inventory: shared proto crate (same types, zero copy); gateway -> pricing:
    // through pricing's server interceptor, with the x-caller that gateway's client
    // interceptor adds.
    // gateway -> inventory WatchStock (server streaming) and ReportSales (client streaming):
    // messages cross encoded one by one, with no HTTP/2 and no socket.
    for method in [
        "/shop.catalog.Catalog/GetProduct",
        "/shop.inventory.Inventory/GetStock",
        "/shop.pricing.Pricing/Quote",
        "/shop.inventory.Inventory/WatchStock",
        "/shop.inventory.Inventory/ReportSales",
    ] {
        let inline = format!("merge_calls_total{{method=\"{method}\",path=\"inline\"");
        let count = metrics
            .lines()
            .find(|l| l.starts_with(&inline))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no inline count for {method}:\n{metrics}"));
        assert!(count > 0, "{method}: {metrics}");
        let remote = format!("merge_calls_total{{method=\"{method}\",path=\"remote\"");
        assert!(
            !metrics.lines().any(|l| l.starts_with(&remote)),
            "{method} went over the network:\n{metrics}"
        );
    }
}

/// The answers of the shop, the same in every mode.
fn answers(shop: &Shop) {
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
