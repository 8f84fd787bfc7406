//! The catalogue of diagnostic codes: one enum per family, each code with its kebab-case
//! name, its default level and the rule that sets a finding's own, a one-line summary, a
//! longer explanation, what to do, and an example. check, build's refusals, SARIF's rules, the
//! JSON lines and `cargo merge explain CODE` all read it; README's code tables are tested
//! against it (merge-cli/tests/explain.rs).
//!
//! - [`CheckCode`]: what `cargo merge check` finds (and `build` refuses, mends or notes).
//! - [`Reason`]: why `cargo merge analyze` rejects a call edge.
//! - [`crate::error::InputCode`]: problems of the input files and the plan.

use std::fmt;

use crate::check::Severity;

/// What the catalogue says of one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub family: Family,
    pub name: &'static str,
    /// The level a finding of this code has by default (under isolation `exact`), and what
    /// SARIF's rule says.
    pub level: Severity,
    /// The rule that sets a finding's own level, in words (README's "severity" column).
    pub severity: &'static str,
    pub summary: &'static str,
    pub explanation: &'static str,
    pub help: &'static str,
    pub example: &'static str,
}

/// Which command's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// `cargo merge check` (and `build`).
    Check,
    /// `cargo merge analyze`'s rejection reasons.
    Analyze,
    /// Input files and the plan, every command.
    Input,
}

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Family::Check => "check",
            Family::Analyze => "analyze",
            Family::Input => "input",
        }
    }
}

/// Defines a family's enum from its entries.
macro_rules! catalogue {
    (
        $(#[$meta:meta])*
        enum $ty:ident in $family:ident {
            $(
                $variant:ident = $name:literal, $level:ident,
                severity: $severity:expr,
                summary: $summary:expr,
                explanation: $explanation:expr,
                help: $help:expr,
                example: $example:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $ty {
            $($variant,)*
        }

        impl $ty {
            /// Every code of the family, in the catalogue's order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant,)*];

            /// The stable kebab-case name.
            pub fn name(self) -> &'static str {
                self.entry().name
            }

            pub fn entry(self) -> &'static Entry {
                match self {
                    $($ty::$variant => &Entry {
                        family: Family::$family,
                        name: $name,
                        level: Severity::$level,
                        severity: $severity,
                        summary: $summary,
                        explanation: $explanation,
                        help: $help,
                        example: $example,
                    },)*
                }
            }

            /// The code named `name`.
            pub fn from_name(name: &str) -> Option<$ty> {
                Self::ALL.iter().copied().find(|c| c.name() == name)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

catalogue! {
    /// What `cargo merge check` finds when a group's members share one process.
    enum CheckCode in Check {
    LinksConflict = "links-conflict", Error,
        severity: "error",
        summary: "two members link one native library",
        explanation: "Two members reach, through different packages or versions, crates that declare the same `links` native library; one binary cannot link it twice.",
        help: "Align the members on one version of the crate that links the library.",
        example: "`alpha` depends on `libz-sys 1.1` and `beta` on `libz-sys 1.0`, both `links = \"z\"`.";
    UnsupportedTonic = "unsupported-tonic", Error,
        severity: "error",
        summary: "a member uses a tonic the in-process rewrite does not know",
        explanation: "A member's binary links a tonic version whose generated code the in-process rewrite does not emit code for; rewritten, it would not compile.",
        help: "Move the member to a known tonic, or build with `--allow unsupported-tonic`: its generated code is left as it is and its calls stay on the network.",
        example: "A member on tonic 0.8 (`tonic = \"0.8\"` in its Cargo.toml).";
    VersionConflict = "version-conflict", Note,
        severity: "note",
        summary: "a shared package needs a vendored version for one member",
        explanation: "Under isolation `exact`, a local package several members share depends on a crate that one of them locks at a version vendored for it alone; build gives that member a copy of the package of its own.",
        help: "Nothing to do; align the members' Cargo.lock files on the crate to share one copy.",
        example: "Under `exact`, members `alpha` and `beta` both use the local package `common`, which needs `serde 1.0.190` for one and `1.0.210` for the other.";
    ExactPinConflict = "exact-pin-conflict", Note,
        severity: "by policy",
        summary: "members pin different versions of a crate",
        explanation: "Members require different exact versions (`=x.y.z`) of one crate. Isolation `exact` vendors the other version per member (a note); under `unify` the pin holds where one version satisfies every member (a warning) and is an error where none does; under `strict` it is an error.",
        help: "Use isolation `exact`, or align the pins.",
        example: "`alpha` pins `prost = \"=0.12.3\"` and `beta` locks `prost 0.12.6`.";
    VersionDrift = "version-drift", Note,
        severity: "by policy",
        summary: "members lock different versions of a crate",
        explanation: "Members lock different semver-compatible versions of one crate. Isolation `exact` vendors the other versions (a note); `unify` runs one version for all (a warning); `strict` refuses (an error).",
        help: "Test the member with the unified version, align the members' Cargo.lock files, or use isolation `exact`.",
        example: "`alpha`'s Cargo.lock has `tokio 1.38.0`, `beta`'s `tokio 1.40.0`.";
    FeatureDrift = "feature-drift", Note,
        severity: "note",
        summary: "members enable different features of a shared crate",
        explanation: "Members build one shared crate with different features; in one binary Cargo unifies them, so a member runs the crate with features it did not ask for.",
        help: "Check that every member works with the union of the features, or enable the same features everywhere.",
        example: "`alpha` uses `tokio` with `rt`, `beta` with `rt-multi-thread`: the merged build compiles one `tokio` with both.";
    ProfileConflict = "profile-conflict", Warning,
        severity: "error for `panic`, warning for `opt-level`, `lto`",
        summary: "members set a build profile key differently",
        explanation: "Members' `[profile]` sections give one key different values (for example `panic` or `opt-level`); the merged workspace has one profile, so one of them wins.",
        help: "Agree on one value for the key, or accept the merged workspace's.",
        example: "`alpha` sets `[profile.release] panic = \"abort\"`, `beta` keeps `panic = \"unwind\"`.";
    PatchConflict = "patch-conflict", Error,
        severity: "error for two patches of one crate, warning for a patch that reaches another member",
        summary: "members patch one crate differently",
        explanation: "Members' `[patch]` sections replace one crate with different sources; the merged workspace can hold one patch per crate.",
        help: "Patch the crate with the same source in every member, or drop the patch where it is not needed.",
        example: "`alpha` has `[patch.crates-io] h2 = { git = \"https://github.com/a/h2\" }`, `beta` `h2 = { path = \"../h2\" }`.";
    GlobalAllocator = "global-allocator", Error,
        severity: "warning (build keeps one), an error when two sit in crates several members share",
        summary: "more than one #[global_allocator]",
        explanation: "More than one member defines a `#[global_allocator]`; one binary can have only one.",
        help: "Keep one allocator for the merged binary and remove the others from the members that can do without.",
        example: "`#[global_allocator] static A: Jemalloc = Jemalloc;` in two members.";
    GlobalLoggerInit = "global-logger-init", Error,
        severity: "when two members do it: a warning where build mends it (`env_logger`'s `init`), else an error (`log::set_logger`)",
        summary: "process-wide logger set by several members",
        explanation: "Members set the process-wide `log` logger (`env_logger::init`, `log::set_logger`, ...); in one process only the first succeeds and the others fail or panic.",
        help: "Let every initialisation but one fail quietly (`try_init()`, or ignore `set_logger`'s error): the first one wins.",
        example: "`env_logger::init();` in the `main` of two members.";
    GlobalTracingInit = "global-tracing-init", Error,
        severity: "when two members do it: a warning where build mends it (`tracing_subscriber`'s `init`), else an error (`set_global_default`)",
        summary: "process-wide tracing subscriber set by several members",
        explanation: "Members set the process-wide tracing subscriber (`tracing_subscriber::..init()`, `set_global_default`); in one process the second initialisation panics or fails.",
        help: "Let every initialisation but one fail quietly (`try_init()`): the first one wins.",
        example: "`tracing_subscriber::fmt().init();` in the `main` of two members.";
    MetricsDefaultRegistry = "metrics-default-registry", Warning,
        severity: "error for a name two members register, else a warning (a note for one member)",
        summary: "metrics registered in the process-wide default registry",
        explanation: "Members register metrics in prometheus' process-wide default registry; in one process they share one registry and one /metrics page, and a metric name two members register fails the second time (an error).",
        help: "Register the member's metrics in a `prometheus::Registry` of its own (`Registry::new_custom` with a prefix), or give them names no other member uses.",
        example: "`prometheus::register_int_counter!(\"requests_total\", \"..\")` in two members.";
    EnvVarCollision = "env-var-collision", Warning,
        severity: "warning",
        summary: "members read the same environment variable",
        explanation: "Members read the same literal environment key (`env::var(\"PORT\")`, clap's `env = \"PORT\"`); in one process they get one value.",
        help: "Give each member its own key (`<MEMBER>_<KEY>`), or make sure one value suits all of them.",
        example: "`std::env::var(\"PORT\")` in two members.";
    ListenAddrCollision = "listen-addr-collision", Error,
        severity: "an error when neither side can be set apart (written in the code, or an environment default read in a crate the members share), a warning when an environment key or a flag (`--member-args`) can",
        summary: "members listen on the same address",
        explanation: "Members bind the same port on overlapping interfaces; in one process the second bind fails. Both hard-coded: an error; a default of a flag or environment key, which can be set apart: a warning.",
        help: "Make the address configurable, or set each member's own address when the merged binary runs.",
        example: "`Server::builder().serve(\"0.0.0.0:50051\".parse()?)` in two members.";
    ProcessExit = "process-exit", Warning,
        severity: "warning",
        summary: "process exit outside main",
        explanation: "A member calls `process::exit` or `process::abort` outside `main`; in one process it ends every member.",
        help: "Return an error to `main` instead, so the merged binary can say which member failed.",
        example: "`std::process::exit(1)` in a request handler.";
    EnvSetVar = "env-set-var", Warning,
        severity: "warning",
        summary: "environment changed at run time",
        explanation: "A member calls `env::set_var` or `env::remove_var`; the environment is shared by every member of the process.",
        help: "Pass the value explicitly instead of through the process environment.",
        example: "`unsafe { std::env::set_var(\"RUST_LOG\", \"debug\") }` in a member's `main`.";
    StaticMut = "static-mut", Note,
        severity: "note",
        summary: "a static mut",
        explanation: "A member has a `static mut`: there is one per process, shared with the other members' code only when they link the same crate.",
        help: "Prefer an atomic, a `OnceLock` or state owned by the service.",
        example: "`static mut COUNTER: u64 = 0;`";
    ServedStack = "served-stack", Note,
        severity: "note",
        summary: "a server served with something around it",
        explanation: "A member serves a tonic server with a layer, a timeout, a concurrency limit, load shedding, a trace function or TLS; in-process calls to its services enter the stack it serves, so it runs for them as over the network.",
        help: "Nothing to do; the in-process call never goes around it.",
        example: "`Server::builder().timeout(Duration::from_secs(1)).layer(auth).add_service(svc)`";
    ServiceStack = "service-stack", Note,
        severity: "note",
        summary: "a service or channel wrapped by hand",
        explanation: "A member wraps a service or channel in `InterceptedService` or a `ServiceBuilder` stack; in-process calls run it too (a server's through the stack it serves, a client's through the client's own stack, the message encoded).",
        help: "Nothing to do; the in-process call never goes around it.",
        example: "`InterceptedService::new(PricingServer::new(svc), check_token)` added to the router by hand.";
    ClientStack = "client-stack", Note,
        severity: "note",
        summary: "a client channel with a stack of its own",
        explanation: "A member makes a client channel with an endpoint timeout or limit, or a balanced one; in-process calls through it go through the client's own stack, the message encoded, so it applies as over the network.",
        help: "Nothing to do; a plain channel lets in-process calls go straight to the callee.",
        example: "`Endpoint::from_static(\"http://pricing:50051\").timeout(Duration::from_millis(200))`";
    UnroutedService = "unrouted-service", Warning,
        severity: "warning",
        summary: "services the in-process registry cannot name",
        explanation: "A member adds services to a tonic server with `add_routes`; their names are not known to the in-process registry, so calls to them from other members stay on the network.",
        help: "Add each service with `add_service` to have it called in-process.",
        example: "`Server::builder().add_routes(routes)` with routes built elsewhere.";
    GlobalThreadPool = "global-thread-pool", Error,
        severity: "error when two members do it, else a note",
        summary: "process-wide thread pool configured",
        explanation: "A member configures rayon's global thread pool (`build_global`); when two members do, the second fails (an error); when one does, every member's rayon work runs on the pool it sized (a note).",
        help: "Build a `rayon::ThreadPool` of the member's own and `install` its work there.",
        example: "`rayon::ThreadPoolBuilder::new().num_threads(8).build_global()` in two members.";
    SignalHandler = "signal-handler", Warning,
        severity: "warning for a handler that replaces the previous one (`libc::signal`, `ctrlc`), a note for one that chains (`signal_hook`, `tokio::signal`)",
        summary: "process-wide signal handler",
        explanation: "A member installs a signal handler. One that replaces the handler before it stops the other members' handlers and the merged binary's own stop (a warning); one that chains still sees SIGTERM and SIGINT with every other member (a note).",
        help: "Use a handler that chains (`signal_hook`, `tokio::signal`), and make sure the member stops cleanly on SIGTERM.",
        example: "`ctrlc::set_handler(|| std::process::exit(0))` in a member.";
    CurrentDir = "current-dir", Note,
        severity: "note",
        summary: "working directory shared by every member",
        explanation: "A member changes the working directory (`env::set_current_dir`) or opens a path relative to it; the working directory is one per process, so in one binary every member's relative paths follow the merged binary's.",
        help: "Open files by absolute paths (from a flag or the environment), or run the merged binary where each member's relative files are found.",
        example: "`std::fs::read_to_string(\"config.toml\")` (relative to the working directory).";
    }
}

catalogue! {
    /// Why `cargo merge analyze` does not merge a call edge. The order is the order reasons
    /// are listed in.
    enum Reason in Analyze {
    NonRpc = "non-rpc", Note,
        severity: "rejects the edge",
        summary: "the call is not gRPC (`http`, `mc`, `db`, `mq`, ...)",
        explanation: "Only gRPC calls between services become in-process calls; HTTP, cache, database and queue calls stay on the network, so the edge saves nothing.",
        help: "Nothing to do; if the input mislabels a gRPC call, fix its `rpctype`.",
        example: "`web -> gateway` with `rpctype = \"http\"`.";
    LowAffinity = "low-affinity", Note,
        severity: "rejects the edge",
        summary: "the callee gets too little of its traffic from this caller",
        explanation: "Affinity is the edge's qps over all qps into the callee. Below `min_affinity` (0.90) the callee mostly serves others, which would keep calling it over the network, so it must keep running on its own anyway.",
        help: "Lower `--min-affinity` (or `[thresholds] min_affinity`) to merge callees shared by several callers.",
        example: "`web -> pricing` at 300 qps while pricing takes 9,700 qps in all: affinity 0.03.";
    LowEncodingCost = "low-encoding-cost", Note,
        severity: "rejects the edge",
        summary: "(de)serialisation is too small a share of CPU to be worth it",
        explanation: "The saving of an in-process call is the encoding and the network stack it skips. Below `min_encoding_cost` (0.03 of the CPU) that is too little to pay for a merged binary.",
        help: "Measure the share with `--profiles` (folded stacks) if the assumed 0.05 is wrong, or lower `--min-encoding-cost`.",
        example: "A callee whose profile spends 1% of its samples in `prost::` frames.";
    CacheHeavy = "cache-heavy", Note,
        severity: "rejects the edge",
        summary: "a side is cache-heavy (flagged, or in traces: most outgoing calls are `mc`)",
        explanation: "A service that lives on its cache suffers when another service's working set shares its process and CPU caches; merging it costs more than it saves.",
        help: "Clear the service's `cache_heavy` flag in the traffic input if it is not.",
        example: "`gateway` with most of its outgoing calls to `session-cache` (`rpctype = \"mc\"`).";
    HighLoad = "high-load", Note,
        severity: "rejects the edge",
        summary: "a side's mean CPU utilisation is above `max_cpu_util` (0.80)",
        explanation: "A service already near its CPU limit has no headroom for a second service's load in the same process.",
        help: "Give the service more cores first, or raise `--max-cpu-util`.",
        example: "`search` with `cpu_util = 0.92`.";
    MemoryConstrained = "memory-constrained", Note,
        severity: "rejects the edge",
        summary: "a side uses more than `max_mem_ratio` (0.85) of its memory limit",
        explanation: "A service close to its memory limit would be pushed over it by another service's heap in the same process.",
        help: "Raise the service's memory limit first, or `--max-mem-ratio`.",
        example: "`session-cache` using 30 GiB of a 32 GiB limit.";
    GroupLimit = "group-limit", Note,
        severity: "rejects the edge",
        summary: "joining would exceed `max_group_size` (8) or `max_group_mem_gib`",
        explanation: "Groups are joined greedily, best saving first; an edge whose two groups together would have more members or memory than the limits allow stays apart.",
        help: "Raise `--max-group-size` or `--max-group-mem-gib` if a larger binary is acceptable.",
        example: "A ninth service calling into a group of eight.";
    }
}

impl CheckCode {
    /// Whether `build --allow` can let a build through despite errors of this code: not for
    /// a native library linked twice, nor for versions the isolation policy decides
    /// (`--isolation exact` vendors them).
    pub fn allowable(self) -> bool {
        !matches!(
            self,
            CheckCode::LinksConflict | CheckCode::ExactPinConflict | CheckCode::VersionDrift
        )
    }
}

/// The entry of the code named `name`, in any family.
pub fn lookup(name: &str) -> Option<&'static Entry> {
    all().find(|e| e.name == name)
}

/// Every entry: check's codes, analyze's reasons, then the input codes.
pub fn all() -> impl Iterator<Item = &'static Entry> {
    let check = CheckCode::ALL.iter().map(|c| c.entry());
    let analyze = Reason::ALL.iter().map(|r| r.entry());
    let input = crate::error::InputCode::ALL.iter().map(|c| c.entry());
    check.chain(analyze).chain(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_found_again() {
        let mut seen = std::collections::BTreeSet::new();
        for e in all() {
            assert!(seen.insert(e.name), "`{}` twice", e.name);
            assert!(
                e.name.split('-').all(|w| !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
                "`{}` is not kebab-case",
                e.name
            );
            assert_eq!(lookup(e.name), Some(e));
            for text in [e.summary, e.explanation, e.help, e.example, e.severity] {
                assert!(!text.trim().is_empty(), "`{}` has an empty text", e.name);
            }
        }
        assert_eq!(
            CheckCode::from_name("static-mut"),
            Some(CheckCode::StaticMut)
        );
        assert_eq!(Reason::from_name("group-limit"), Some(Reason::GroupLimit));
        assert_eq!(lookup("no-such-code"), None);
    }

    /// The reasons' texts name the default thresholds; they must follow a change of those.
    #[test]
    fn the_reasons_name_the_default_thresholds() {
        let t = crate::Thresholds::default();
        let says = |r: Reason, what: String| {
            let e = r.entry();
            assert!(
                e.summary.contains(&what) || e.explanation.contains(&what),
                "`{r}` does not say {what}"
            );
        };
        says(Reason::LowAffinity, format!("({:.2})", t.min_affinity));
        says(
            Reason::LowEncodingCost,
            format!("({:.2}", t.min_encoding_cost),
        );
        says(Reason::HighLoad, format!("({:.2})", t.max_cpu_util));
        says(
            Reason::MemoryConstrained,
            format!("({:.2})", t.max_mem_ratio),
        );
        says(Reason::GroupLimit, format!("({})", t.max_group_size));
    }
}
