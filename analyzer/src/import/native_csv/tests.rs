//! The hand splitter, on one thread or many, in chunks of any size, must read every file as
//! the `csv` crate path reads it: same traffic, same problems, same lines.

use std::path::Path;

use super::{Split, from_dir_split};

const SERVICES: &str =
    "name,cpu_cores,cpu_util,mem_used_gib,mem_limit_gib,cache_heavy,encoding_cost
orders,48,0.55,20,64,false,0.07
pricing , 32 ,0.5,,,,0.11
catalog,8,,,,true,
cart,4,0.2,1,2,0,0.05
";

/// Splits that must agree: by hand on one thread, on several with tiny chunks (lines longer
/// than a chunk, stretches of a line or less), and the csv crate.
fn splits() -> Vec<(&'static str, Split)> {
    let hand = |threads, stretches, chunk| Split {
        by_hand: true,
        threads,
        stretches,
        chunk,
    };
    vec![
        ("auto", Split::auto()),
        ("one thread", hand(1, 1, 1 << 16)),
        ("three threads, 7-byte chunks", hand(3, 5, 7)),
        ("two threads, many stretches", hand(2, 40, 64)),
        (
            "csv crate",
            Split {
                by_hand: false,
                ..Split::auto()
            },
        ),
    ]
}

fn write(dir: &Path, services: &[u8], calls: &[u8]) {
    std::fs::write(dir.join("services.csv"), services).unwrap();
    std::fs::write(dir.join("calls.csv"), calls).unwrap();
}

/// What a read gives, as text: the graph or every problem.
fn outcome(dir: &Path, split: Split) -> String {
    match from_dir_split(dir, split) {
        Ok(t) => format!("{:?}", t.graph),
        Err(e) => format!("error: {e}"),
    }
    .replace(&dir.display().to_string(), "DIR")
}

/// Reads `calls` (and `services`) every way, checks they agree and returns the outcome.
fn agree(services: &str, calls: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), services.as_bytes(), calls);
    let all: Vec<(&str, String)> = splits()
        .into_iter()
        .map(|(name, split)| (name, outcome(dir.path(), split)))
        .collect();
    for (name, got) in &all[1..] {
        assert_eq!(got, &all[0].1, "{name} differs from auto for\n{calls:?}");
    }
    all[0].1.clone()
}

#[test]
fn valid_files_read_alike() {
    let cases: &[&[u8]] = &[
        b"caller,callee,qps\norders,pricing,9500\ncart,orders,10\n",
        b"caller,callee,qps\r\norders,pricing,9500\r\ncart,orders,10\r\n",
        b"caller,callee,qps\n\norders,pricing,9500\n\n\ncart,orders,10",
        b"caller,callee,qps,rpctype,encoding_cost,p50_ms,p99_ms\n\
          orders , pricing ,  9500.5 ,rpc, 0.11,1.8,9\n\
          orders,catalog,3,mc,,,\n\
          orders,pricing,2,http,0.2,,\n\
          cart,orders,1e3,grpc-web,.5,1.,2\n",
        b"qps,callee,caller\n5,pricing,orders\n",
        b"caller,callee,qps\n\"orders\",pricing,1\n\"cart\",\"orders\",2\n",
        b"caller,callee,qps\n",
        b"caller,callee,qps",
    ];
    for calls in cases {
        let got = agree(SERVICES, calls);
        assert!(!got.starts_with("error"), "{got}");
    }
}

#[test]
fn problems_read_alike_with_their_lines() {
    let cases: &[(&[u8], &[&str])] = &[
        (
            b"caller,callee,qps\norders,pricing,fast\n",
            &["calls.csv:2: column `qps`: `fast` is not a number"],
        ),
        (
            b"caller,callee,qps\r\norders,pricing,1\r\n\r\nnobody,pricing,-1\r\n",
            &[
                "calls.csv:4: caller `nobody` is not a declared service",
                "calls.csv:4: call `nobody` -> `pricing`: `qps` = -1 must be a number >= 0",
            ],
        ),
        (
            b"caller,callee,qps,rpctype\norders,pricing,1,rpc\norders,pricing,2,http\n\norders,pricing,3,\n",
            &["calls.csv:5: call `orders` -> `pricing` (rpc) is given twice"],
        ),
        (
            b"caller,callee,qps\norders,pricing,1\norders,pricing\n",
            &["calls.csv:3: this row has 2 fields, the header has 3"],
        ),
        (
            b"caller,callee,qps\n\n\norders,pricing,1,2\n",
            &["calls.csv:4: this row has 4 fields, the header has 3"],
        ),
        (
            b"caller,callee,qps,encoding_cost\n,pricing,1,\ncart,orders,1,1.5\n",
            &[
                "calls.csv:2: column `caller` is empty",
                "calls.csv:3: call `cart` -> `orders`: `encoding_cost` = 1.5 is outside",
            ],
        ),
        (
            b"caller,callee,qps\n\"orders\",pricing,1\n\"cart\",orders,x\n",
            &["calls.csv:3: column `qps`: `x` is not a number"],
        ),
        (
            b"caller,callee,qps\norders,pric\xffing,1\n",
            &["calls.csv:2: column `callee` is not valid UTF-8"],
        ),
        (
            // A lone \r ends a record, as in the csv crate.
            b"caller,callee,qps\norders,pricing,1\rcart,orders,2\n",
            &["edge_count: 2"],
        ),
    ];
    for (calls, want) in cases {
        let got = agree(SERVICES, calls);
        for w in *want {
            assert!(got.contains(w), "want {w:?} in\n{got}");
        }
    }
}

#[test]
fn many_problems_keep_the_first_by_line() {
    let mut calls = String::from("caller,callee,qps\n");
    for i in 0..300 {
        // Repeats, unknown services and bad numbers, interleaved.
        match i % 3 {
            0 => calls.push_str("orders,pricing,1\n"),
            1 => calls.push_str(&format!("ghost{i},pricing,1\n")),
            _ => calls.push_str("cart,orders,-2\n"),
        }
    }
    let got = agree(SERVICES, calls.as_bytes());
    assert!(got.contains("calls.csv:3: caller `ghost1`"), "{got}");
    assert!(
        got.contains("calls.csv:4: call `cart` -> `orders`"),
        "{got}"
    );
    assert!(got.contains("calls.csv:5: call `orders` -> `pricing` (rpc) is given twice"));
    // 300 problems (the first row is fine, the third is the first repeat), 50 shown.
    assert!(got.contains("... and 249 more problems"), "{got}");
}

#[test]
fn services_problems_come_first() {
    let services = "name,cpu_cores\norders,1\norders,2\n\r\nbad,x\npricing,1";
    let got = agree(services, b"caller,callee,qps\norders,nobody,1\n");
    let want = [
        "services.csv:3: service `orders` is declared twice",
        "services.csv:5: column `cpu_cores`: `x` is not a number",
        "calls.csv:2: callee `nobody` is not a declared service",
    ];
    let at: Vec<usize> = want.iter().map(|w| got.find(w).expect(w)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{got}");
}

#[test]
fn a_large_generated_like_file_reads_alike() {
    let mut services = String::from("name,cpu_cores\n");
    for i in 0..300 {
        services.push_str(&format!("svc-{i:04},{}.5\n", i % 7));
    }
    let mut calls = String::from("caller,callee,qps,rpctype,encoding_cost,p50_ms,p99_ms\n");
    for i in 0..3000usize {
        let (a, b) = (i % 300, (i * 7 + 1 + i / 300) % 300);
        if a != b {
            let kind = ["rpc", "mc", "db", ""][i % 4];
            calls.push_str(&format!(
                "svc-{a:04},svc-{b:04},{i}.25,{kind},0.0{},,\n",
                i % 10
            ));
        }
    }
    let got = agree(&services, calls.as_bytes());
    assert!(!got.starts_with("error"), "{got}");
}

#[test]
fn numbers_read_as_parse_reads_them() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut texts: Vec<String> = [
        "0",
        "0.0",
        "1.",
        ".5",
        ".",
        "",
        "-1",
        "+1",
        "1e3",
        "inf",
        "NaN",
        "0.1",
        "0.30000000000000004",
        "9007199254740993",
        "9007199254740992",
        "12345678901234567",
        "1234567890123.4567",
        "00000000000000001",
        "1..2",
        "1.2.3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for _ in 0..200_000 {
        let digits = (next() % 18) as usize + 1;
        let mut t: String = (0..digits)
            .map(|_| char::from(b'0' + (next() % 10) as u8))
            .collect();
        if next() % 4 != 0 {
            let at = (next() as usize) % (digits + 1);
            t.insert(at, '.');
        }
        texts.push(t);
    }
    for t in &texts {
        let want = t.parse::<f64>().ok();
        let got = super::number(t);
        assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{t:?}");
    }
}

#[test]
fn long_names_that_share_a_head_are_told_apart() {
    let head = "a-very-long-service-name"; // longer than the bytes a slot keeps
    let services = format!("name,cpu_cores\n{head}-1,1\n{head}-2,1\n{head},1\nshort,1\n");
    let calls = format!(
        "caller,callee,qps\n{head}-1,{head}-2,5\n{head}-2,{head},6\n{head},short,7\nshort,{head}-1,8\n"
    );
    let got = agree(&services, calls.as_bytes());
    assert!(
        got.contains("edges: (0, 1), (1, 2), (2, 3), (3, 0)"),
        "{got}"
    );
    let calls = format!("caller,callee,qps\n{head}-1,{head}-3,5\n{head}-,short,1\n");
    let got = agree(&services, calls.as_bytes());
    assert!(got.contains(&format!("calls.csv:2: callee `{head}-3` is not a declared")));
    assert!(got.contains(&format!("calls.csv:3: caller `{head}-` is not a declared")));
}
