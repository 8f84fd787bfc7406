//! The merged binary's `main` (quote + prettyplease): it hands the members, in start steps
//! (callees first), to `merge_runtime_shim::launch`, which runs each member's own `main` on a
//! thread of its own. Its own command line is `--help` (it prints [`help`], a constant of the
//! generated file, and starts no member), `--version` (the members' versions and commits,
//! [`version`]) and `--member-args NAME="..."`, each member's own (runtime-shim's `args`):
//! members see their program name and what that gives them. The members' versions and commits
//! are also served as `merge_member_info` beside the call counters.

use std::fmt::Write as _;

use quote::{format_ident, quote};

/// One member as the generated main starts it.
#[derive(Debug, Clone)]
pub struct Start {
    pub name: String,
    /// Its program name (its binary's), the first word of its argv.
    pub program: String,
    /// Its package's version.
    pub version: String,
    /// The git commit it was built from (`<sha>-dirty` with changes), empty when unknown.
    pub commit: String,
    /// The entry crate's library name (whose `main` is the member's original one).
    pub lib: String,
    pub serves: bool,
    /// The environment variables it reads, sorted by key (listed by `--help`).
    pub env: Vec<EnvRead>,
}

/// An environment variable a member reads, as its copy reads it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EnvRead {
    /// The key the copy reads: `ALPHA_PORT` when build namespaced `PORT` for `alpha`.
    pub key: String,
    /// The key it was namespaced from, whose value it takes when it is not set itself.
    pub fallback: Option<String>,
}

/// The merged binary's own variables (runtime-shim's launch and metrics), with what they do.
const OWN_VARIABLES: [(&str, &str); 2] = [
    (
        "MERGE_METRICS_ADDR",
        "host:port serving the in-process call counters as Prometheus text (unset: not served)",
    ),
    (
        "MERGE_GRACE_SECS",
        "seconds members get to stop after SIGTERM or SIGINT (default 10)",
    ),
];

/// The text `<group> --help` prints: the members in start order, the environment variables
/// each reads, the binary's own, and where other arguments go.
pub fn help(group: &str, steps: &[Vec<Start>]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{group}: the members of group `{group}` in one binary, merged by cargo-merge."
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "Usage: {group} [--member-args NAME=ARGS]...");
    let _ = writeln!(
        out,
        "  --help, -h                print this text; no member starts"
    );
    let _ = writeln!(
        out,
        "  --version, -V             print each member's version and commit; no member starts"
    );
    let _ = writeln!(
        out,
        "  --member-args NAME=ARGS   member NAME's own arguments, split as a shell splits them"
    );
    let _ = writeln!(
        out,
        "                            (repeatable); a member sees its program name and these alone"
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Members, in start order (callees first; members of one step start together):"
    );
    for (i, step) in steps.iter().enumerate() {
        let step: Vec<&str> = step.iter().map(|m| m.name.as_str()).collect();
        let _ = writeln!(out, "  {}. {}", i + 1, step.join(", "));
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Environment variables each member reads (literal keys in its sources):"
    );
    let width = steps
        .iter()
        .flatten()
        .flat_map(|m| m.env.iter().map(|e| e.key.len()))
        .max()
        .unwrap_or(0);
    for m in steps.iter().flatten() {
        let _ = writeln!(out, "  {}:", m.name);
        if m.env.is_empty() {
            let _ = writeln!(out, "    (none found)");
        }
        for e in &m.env {
            match &e.fallback {
                Some(plain) => {
                    let _ = writeln!(out, "    {:width$}  (falls back to {plain})", e.key);
                }
                None => {
                    let _ = writeln!(out, "    {}", e.key);
                }
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Environment variables of the merged binary:");
    let width = OWN_VARIABLES
        .iter()
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0);
    for (key, what) in OWN_VARIABLES {
        let _ = writeln!(out, "  {key:width$}  {what}");
    }
    out
}

/// The text `<group> --version` prints: the group, the cargo-merge that merged it, then each
/// member (in start order) with its version and commit.
pub fn version(group: &str, steps: &[Vec<Start>]) -> String {
    let mut out = format!(
        "{group} (merged by cargo-merge {})\n",
        env!("CARGO_PKG_VERSION")
    );
    let width = steps
        .iter()
        .flatten()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(0);
    for m in steps.iter().flatten() {
        let commit = if m.commit.is_empty() {
            "commit unknown".to_owned()
        } else {
            format!("commit {}", m.commit)
        };
        let _ = writeln!(out, "  {:width$}  {}  {commit}", m.name, m.version);
    }
    out
}

/// `text` as a raw string literal (real newlines, so the generated file reads as the help
/// does), or an escaped one for what a raw string cannot hold (a carriage return).
fn raw_literal(text: &str) -> proc_macro2::Literal {
    let mut hashes = String::from("#");
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    match format!("r{hashes}\"{text}\"{hashes}").parse() {
        Ok(raw) if !text.contains('\r') => raw,
        _ => proc_macro2::Literal::string(text),
    }
}

/// The source of `src/main.rs` for group `group`.
/// `fallbacks`: (`<MEMBER>_<KEY>`, `<KEY>`) pairs of namespaced environment keys;
/// `by_address`: services (`Relay`) whose calls go by the address a client names (several
/// members serve them).
pub fn render(
    group: &str,
    steps: &[Vec<Start>],
    fallbacks: &[(String, String)],
    by_address: &[String],
) -> String {
    let (namespaced, plain): (Vec<&str>, Vec<&str>) = fallbacks
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .unzip();
    let help = raw_literal(&help(group, steps));
    let version = raw_literal(&version(group, steps));
    let info = steps.iter().flatten().map(|m| {
        let (name, version, commit) = (&m.name, &m.version, &m.commit);
        quote!((#name, #version, #commit))
    });
    let programs = steps.iter().flatten().map(|m| {
        let (name, program) = (&m.name, &m.program);
        quote!((#name, #program))
    });
    let steps = steps.iter().map(|step| {
        let members = step.iter().map(|m| {
            let name = &m.name;
            let lib = format_ident!("{}", m.lib);
            let serves = m.serves;
            quote! {
                Member {
                    name: #name,
                    main: || ::std::process::Termination::report(::#lib::main()),
                    serves: #serves,
                }
            }
        });
        quote!(&[#(#members),*])
    });
    let file: syn::File = syn::parse_quote! {
        use ::merge_runtime_shim::launch::{Member, Options};

        /// The merged binary's name, at the start of what it says.
        const BINARY: &str = #group;

        /// What `--help` (or `-h`) prints.
        const HELP: &str = #help;

        /// What `--version` (or `-V`) prints.
        const VERSION: &str = #version;

        fn main() -> ::std::process::ExitCode {
            // Its own command line: `--help` (the members, the variables they read; no member
            // starts), and each member's arguments (a member sees only its own).
            let programs: &[(&str, &str)] = &[#(#programs),*];
            match ::merge_runtime_shim::args::configure(::std::env::args_os(), programs) {
                Ok(::merge_runtime_shim::args::Command::Run) => {}
                Ok(::merge_runtime_shim::args::Command::Help) => {
                    let _ = ::std::io::Write::write_all(&mut ::std::io::stdout(), HELP.as_bytes());
                    return ::std::process::ExitCode::SUCCESS;
                }
                Ok(::merge_runtime_shim::args::Command::Version) => {
                    let _ = ::std::io::Write::write_all(&mut ::std::io::stdout(), VERSION.as_bytes());
                    return ::std::process::ExitCode::SUCCESS;
                }
                Err(e) => {
                    let usage = HELP.lines().find(|l| l.starts_with("Usage: ")).unwrap_or_default();
                    let _ = ::std::io::Write::write_all(
                        &mut ::std::io::stderr(),
                        format!("error: {e}\n{usage}\n(--help lists the members)\n").as_bytes(),
                    );
                    return ::std::process::ExitCode::from(2);
                }
            }
            // Members read their own `<MEMBER>_<KEY>` for keys several of them read; it takes
            // `<KEY>`'s value when it is not set (before any member runs: one thread).
            let fallbacks: &[(&str, &str)] = &[#((#namespaced, #plain)),*];
            for &(namespaced, plain) in fallbacks {
                if ::std::env::var_os(namespaced).is_none() {
                    if let Some(value) = ::std::env::var_os(plain) {
                        ::std::env::set_var(namespaced, value);
                    }
                }
            }
            // SIGTERM/SIGINT reach every member's own listeners; this one only bounds how long
            // they may take (MERGE_GRACE_SECS, 10 s by default); a second signal stops at once.
            let options = Options::default();
            use ::signal_hook::consts::{SIGINT, SIGTERM};
            if let Ok(mut signals) = ::signal_hook::iterator::Signals::new([SIGTERM, SIGINT]) {
                let stop = options.stop.clone();
                ::std::thread::spawn(move || {
                    let mut signals = signals.forever();
                    if signals.next().is_some() {
                        let grace = stop.request();
                        say(format_args!("stopping; members have {grace:?} to finish"));
                    }
                    if signals.next().is_some() {
                        say(format_args!("stopped at once"));
                        ::std::process::exit(130);
                    }
                });
            }
            // Which members at which commits: served beside the call counters.
            ::merge_runtime_shim::metrics::member_info(#group, &[#(#info),*]);
            // Services several members serve: only the address a client names tells which.
            ::merge_runtime_shim::Registry::global().by_address(&[#(#by_address),*]);
            let steps: &[&[Member]] = &[#(#steps),*];
            let outcome = ::merge_runtime_shim::launch::run(steps, &options, |event| say(event));
            if outcome.is_success() {
                ::std::process::ExitCode::SUCCESS
            } else {
                say(&outcome);
                ::std::process::ExitCode::FAILURE
            }
        }

        /// One line on stderr, after the binary's name.
        fn say(what: impl ::std::fmt::Display) {
            let _ = ::std::io::Write::write_all(
                &mut ::std::io::stderr(),
                format!("{BINARY}: {what}\n").as_bytes(),
            );
        }
    };
    format!(
        "//! Generated by cargo merge: the merged binary of group `{group}`, which runs every\n\
         //! member's own `main`, callees first. Do not edit; `cargo merge build` writes it again.\n\n{}",
        prettyplease::unparse(&file)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(name: &str, serves: bool, env: &[(&str, Option<&str>)]) -> Start {
        Start {
            name: name.into(),
            program: format!("{name}-bin"),
            version: "0.1.0".to_owned(),
            commit: if name == "web" {
                String::new()
            } else {
                format!("{name}0c0ffee")
            },
            lib: format!("merge_entry_{name}"),
            serves,
            env: env
                .iter()
                .map(|(key, fallback)| EnvRead {
                    key: (*key).to_owned(),
                    fallback: fallback.map(str::to_owned),
                })
                .collect(),
        }
    }

    fn shop() -> Vec<Vec<Start>> {
        vec![
            vec![start("inventory", true, &[("PORT", None)])],
            vec![
                start("gateway", true, &[]),
                start(
                    "web",
                    false,
                    &[("RUST_LOG", None), ("WEB_PORT", Some("PORT"))],
                ),
            ],
        ]
    }

    #[test]
    fn the_main_starts_steps_in_order() {
        let text = render(
            "shop",
            &shop(),
            &[("WEB_PORT".to_owned(), "PORT".to_owned())],
            &["Health".to_owned()],
        );
        assert!(text.starts_with("//! Generated by cargo merge"));
        assert!(text.contains("by_address(&[\"Health\"])"), "{text}");
        assert!(text.contains("(\"WEB_PORT\", \"PORT\")"), "{text}");
        let inventory = text
            .find("::merge_entry_inventory::main()")
            .expect("inventory");
        let gateway = text.find("::merge_entry_gateway::main()").expect("gateway");
        assert!(inventory < gateway, "{text}");
        assert!(text.contains("const BINARY: &str = \"shop\";"), "{text}");
        syn::parse_file(&text).expect("valid Rust");
    }

    #[test]
    fn the_help_lists_each_members_variables_and_starts_nothing() {
        let steps = shop();
        let text = render("shop", &steps, &[], &[]);
        // The help is a constant of the generated file, as `help` renders it.
        let help = help("shop", &steps);
        assert!(
            text.contains(&format!("const HELP: &str = r#\"{help}\"#;")),
            "{text}"
        );
        // Its command line is read before any member starts.
        let asked = text.find("args::configure").expect("configure");
        assert!(asked < text.find("launch::run").expect("run"), "{text}");
        assert!(
            text.contains("(\"inventory\", \"inventory-bin\")"),
            "{text}"
        );
        assert_eq!(
            help,
            "shop: the members of group `shop` in one binary, merged by cargo-merge.

Usage: shop [--member-args NAME=ARGS]...
  --help, -h                print this text; no member starts
  --version, -V             print each member's version and commit; no member starts
  --member-args NAME=ARGS   member NAME's own arguments, split as a shell splits them
                            (repeatable); a member sees its program name and these alone

Members, in start order (callees first; members of one step start together):
  1. inventory
  2. gateway, web

Environment variables each member reads (literal keys in its sources):
  inventory:
    PORT
  gateway:
    (none found)
  web:
    RUST_LOG
    WEB_PORT  (falls back to PORT)

Environment variables of the merged binary:
  MERGE_METRICS_ADDR  host:port serving the in-process call counters as Prometheus text (unset: not served)
  MERGE_GRACE_SECS    seconds members get to stop after SIGTERM or SIGINT (default 10)
"
        );
        // Deterministic.
        assert_eq!(text, render("shop", &steps, &[], &[]));
    }

    #[test]
    fn the_version_lists_each_member_and_its_commit_and_is_served() {
        let steps = shop();
        let text = render("shop", &steps, &[], &[]);
        let version = version("shop", &steps);
        assert_eq!(
            version,
            format!(
                "shop (merged by cargo-merge {})
  inventory  0.1.0  commit inventory0c0ffee
  gateway    0.1.0  commit gateway0c0ffee
  web        0.1.0  commit unknown
",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert!(
            text.contains(&format!("const VERSION: &str = r#\"{version}\"#;")),
            "{text}"
        );
        assert!(
            text.contains("member_info(\n        \"shop\",")
                || text.contains("member_info(\"shop\","),
            "{text}"
        );
        assert!(text.contains("(\"web\", \"0.1.0\", \"\")"), "{text}");
        let served = text.find("member_info").expect("served");
        assert!(served < text.find("launch::run").expect("run"), "{text}");
        syn::parse_file(&text).expect("valid Rust");
    }
}
