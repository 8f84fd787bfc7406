//! Tests of the scan of whole files: the `Scanner`'s events and where they are.

use super::*;

fn events(text: &str) -> Vec<Event> {
    scan(text).into_iter().map(|f| f.event).collect()
}

#[test]
fn aliases_cfg_and_macros_hide_nothing() {
    let text = "use std::process::exit as quit;\nuse std::env;\n\
                #[cfg(feature = \"x\")]\nfn stop() { quit(3); }\n\
                fn f() { println!(\"{}\", env::var(\"PORT\").unwrap()); }\n";
    let found = scan(text);
    let exit = found
        .iter()
        .find(
            |f| matches!(&f.event, Event::Call { path, .. } if path == &["std", "process", "exit"]),
        )
        .expect("the aliased exit");
    assert_eq!((exit.line, exit.column), (4, 13));
    assert!(
        found
            .iter()
            .any(|f| f.event == Event::EnvRead { key: "PORT".into() })
    );
}

#[test]
fn method_chains_know_their_root_and_clap_env_keys_are_reads() {
    let text = "fn main() { tracing_subscriber::fmt().with_target(false).init(); }\n\
                struct A { #[arg(long, env = \"GATEWAY_ADDR\", default_value = \"x\")] addr: String }\n\
                #[global_allocator]\nstatic A: M = M;\nstatic mut N: u8 = 0;\n";
    let ev = events(text);
    assert!(ev.contains(&Event::Method {
        name: "init".into(),
        root: vec!["tracing_subscriber".into(), "fmt".into()],
    }));
    assert!(ev.contains(&Event::EnvRead {
        key: "GATEWAY_ADDR".into()
    }));
    assert!(ev.contains(&Event::GlobalAllocator));
    assert!(ev.contains(&Event::StaticMut { name: "N".into() }));
}

#[test]
fn listeners_metrics_pools_and_paths_are_found_through_macros_and_aliases() {
    let text = "use prometheus::register_int_counter as counter;\n\
                lazy_static::lazy_static! { static ref R: IntCounter = counter!(opts!(\"reqs\", \"h\")).unwrap(); }\n\
                struct A { #[arg(long, default_value = \"0.0.0.0:50051\")] listen: String,\n\
                #[arg(long, default_value = \"127.0.0.1:7\")] peer_url: String,\n\
                #[arg(long, default_value_t = 9000)] metrics_port: u16 }\n\
                fn f() { let p = std::env::var(\"PORT\").ok().unwrap_or_else(|| \"3000\".into());\n\
                let l = TcpListener::bind(\"127.0.0.1:9100\");\n\
                let c = std::fs::read_to_string(\"conf/app.toml\"); let d = std::fs::read(\"/etc/x\");\n\
                rayon::ThreadPoolBuilder::new().build_global().unwrap();\n\
                prometheus::default_registry().register(Box::new(x)); }\n";
    let ev = events(text);
    let listen = |host: &str, port: u16, how: Set| Event::Listen {
        host: host.into(),
        port,
        how,
    };
    assert!(ev.contains(&Event::MetricRegister {
        name: Some("reqs".into())
    }));
    assert!(ev.contains(&Event::MetricRegister { name: None }));
    assert!(ev.contains(&listen("*", 50051, Set::FlagDefault)));
    assert!(ev.contains(&listen("*", 9000, Set::FlagDefault)));
    assert!(ev.contains(&listen("*", 3000, Set::EnvDefault)));
    assert!(ev.contains(&listen("127.0.0.1", 9100, Set::InCode)));
    assert!(
        !ev.iter()
            .any(|e| matches!(e, Event::Listen { port: 7, .. }))
    );
    assert!(ev.contains(&Event::RelativePath {
        path: "conf/app.toml".into()
    }));
    assert!(
        !ev.iter()
            .any(|e| matches!(e, Event::RelativePath { path } if path == "/etc/x"))
    );
    assert!(ev.contains(&Event::Method {
        name: "build_global".into(),
        root: vec!["rayon".into(), "ThreadPoolBuilder".into(), "new".into()],
    }));
}

#[test]
fn backends_peers_and_tests_are_not_findings_and_tonic_listeners_are() {
    let text = r#"
struct Args {
    #[arg(long, default_value = "127.0.0.1:6379")] redis: String,
    #[arg(long, default_value = "localhost:5432")] database: String,
    #[arg(long, default_value_t = 5432)] db_port: u16,
    #[arg(long, default_value = "127.0.0.1:50052")] pricing_addr: String,
    #[arg(long, env, default_value_t = 8080)] port: u16,
}
#[cfg_attr(not(target_env = "msvc"), global_allocator)]
static A: Jemalloc = Jemalloc;
async fn main() {
    let d = std::env::var("DATABASE_PORT").unwrap_or("5432".into());
    let r = std::env::var("REDIS_ADDR").unwrap_or("127.0.0.1:6379".into());
    let addr = "[::1]:50051".parse().unwrap();
    Server::builder().add_service(s).serve(addr).await?;
    let l = TcpListener::bind(("0.0.0.0", 8081)).await?;
    register_routes!(router);
    let c = register_int_counter!(Opts::new("requests_total", "h").subsystem("api").namespace("svc_a")).unwrap();
}
#[cfg(test)]
mod tests { fn t() { std::env::set_var("X", "1"); } }
#[test]
fn t2() { std::process::exit(1); }
"#;
    let ev = events(text);
    let ports: Vec<(u16, Set)> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Listen { port, how, .. } => Some((*port, *how)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ports,
        [
            (8080, Set::EnvDefault),
            (50051, Set::InCode),
            (8081, Set::InCode)
        ]
    );
    assert!(ev.contains(&Event::EnvRead { key: "PORT".into() }));
    assert!(ev.contains(&Event::GlobalAllocator));
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::MetricRegister { .. }))
            .collect::<Vec<_>>(),
        [&Event::MetricRegister {
            name: Some("svc_a_api_requests_total".into())
        }]
    );
    assert!(!ev.iter().any(|e| matches!(e, Event::Call { path, .. }
        if path.last().is_some_and(|l| l == "set_var" || l == "exit"))));
}

#[test]
fn ignored_results_are_seen_where_the_call_is() {
    let text = "use log::set_logger;\nfn main() {\n    let _ = set_logger(&L);\n    \
                tracing::subscriber::set_global_default(s).ok();\n    log::set_boxed_logger(b).unwrap();\n}\n";
    let found = scan(text);
    let at = |want: &Event| {
        found
            .iter()
            .filter(|f| &f.event == want)
            .map(|f| (f.line, f.column))
            .collect::<Vec<_>>()
    };
    let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let set_logger = path(&["log", "set_logger"]);
    assert_eq!(
        at(&Event::Ignored {
            path: set_logger.clone()
        }),
        at(&Event::Call {
            path: set_logger,
            in_main: true
        })
    );
    assert_eq!(
        at(&Event::Ignored {
            path: path(&["tracing", "subscriber", "set_global_default"])
        }),
        [(4, 5)]
    );
    assert!(!found.iter().any(|f| f.event
        == Event::Ignored {
            path: path(&["log", "set_boxed_logger"])
        }));
}

#[test]
fn handled_set_logger_is_ignored_and_an_unwrapped_try_init_is_strict() {
    let text = "fn main() {\n    let _ = log::set_logger(&L).map(|()| log::set_max_level(F));\n    \
                if let Err(e) = log::set_boxed_logger(b) { eprintln!(\"{e}\"); }\n    \
                tracing_subscriber::fmt().try_init().expect(\"one\");\n    \
                env_logger::try_init()?;\n    let _ = tracing_subscriber::fmt().try_init();\n}\n";
    let ev = events(text);
    let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    for ignored in [&["log", "set_logger"][..], &["log", "set_boxed_logger"]] {
        assert!(ev.contains(&Event::Ignored {
            path: path(ignored)
        }));
    }
    let strict: Vec<&Event> = ev
        .iter()
        .filter(|e| matches!(e, Event::StrictInit { .. }))
        .collect();
    assert_eq!(
        strict,
        [
            &Event::StrictInit {
                root: path(&["tracing_subscriber", "fmt"])
            },
            &Event::StrictInit {
                root: path(&["env_logger"])
            }
        ]
    );
}

#[test]
fn test_modules_declared_out_of_line_are_listed() {
    let text = "#[cfg(test)]\nmod tests;\nmod net { #[cfg(test)] mod tests; mod wire; }\n\
                #[cfg(test)]\nmod t { mod u; mod v { mod w; } fn x() { std::process::exit(1) } }\n";
    let s = scan_file(text);
    let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        s.test_mods,
        [
            path(&["tests"]),
            path(&["net", "tests"]),
            path(&["t", "u"]),
            path(&["t", "v", "w"])
        ]
    );
    assert!(s.found.is_empty(), "{:?}", s.found);
}

#[test]
fn a_literal_address_in_a_variable_listens_only_once_bound() {
    let text = r#"fn client() {
    let addr = "127.0.0.1:6379";
    let c = TcpStream::connect(addr);
}
fn unused() { let listen_addr = "0.0.0.0:7000"; }
fn elsewhere() { let l = TcpListener::bind(listen_addr); }
fn server() {
    let addr: SocketAddr = "0.0.0.0:8080".parse().unwrap();
    fn inner() {}
    let l = TcpListener::bind(&addr);
    let bind_addr = ("0.0.0.0", 8081);
    axum::Server::bind(bind_addr.clone());
    let addr = "0.0.0.0:8082";
    let addr = format!("{addr}");
    Server::builder().serve(addr);
}
"#;
    let found: Vec<(u16, usize, usize)> = scan(text)
        .into_iter()
        .filter_map(|f| match f.event {
            Event::Listen { port, .. } => Some((port, f.line, f.column)),
            _ => None,
        })
        .collect();
    // Where the literals are.
    assert_eq!(found, [(8080, 8, 28), (8081, 11, 21)]);
}
