//! Starting the members of a merged binary: what the `main` that `cargo merge build` generates
//! calls. Std only, like the rest of this crate: each member runs its own original `main` (its
//! own async runtime included) on a thread of its own.
//!
//! - Members start in the order given (callees first); a member that serves gRPC methods is
//!   waited for until its servers have registered, so that its callers' first calls already go
//!   in-process. Members of one start step (a cycle) start together.
//! - When a member's `main` fails or panics, the process says which and exits non-zero; when
//!   every member has finished well, it exits 0.
//! - `MERGE_METRICS_ADDR`, when set, serves the call counters as Prometheus text.

use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::registry::Registry;

/// One member of a merged binary.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    /// Its name in the plan.
    pub name: &'static str,
    /// Its original `main`, its result reported as a binary would report it.
    pub main: fn() -> ExitCode,
    /// Whether it serves gRPC methods (then its start is awaited).
    pub serves: bool,
}

/// How members are started.
#[derive(Debug, Clone)]
pub struct Options {
    /// The merged binary's name, for messages.
    pub binary: &'static str,
    /// How long a serving member may take to register its servers.
    pub start_timeout: Duration,
    /// Stack size of each member's main thread.
    pub stack_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            binary: "merged binary",
            start_timeout: Duration::from_secs(60),
            stack_size: 8 << 20,
        }
    }
}

/// How long members get to stop after SIGTERM or SIGINT: `MERGE_GRACE_SECS`, else 10 s.
pub fn grace() -> Duration {
    std::env::var("MERGE_GRACE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_secs)
}

/// Called by the generated main on the first SIGTERM or SIGINT (every member's own listener
/// is notified too): the process exits when the grace period ends, if the members have not
/// finished by then.
pub fn stopping(binary: &'static str) {
    let grace = grace();
    let _ = writeln!(
        std::io::stderr().lock(),
        "{binary}: stopping; members have {grace:?} to finish"
    );
    let _ = std::thread::Builder::new()
        .name("merge-grace".into())
        .spawn(move || {
            std::thread::sleep(grace);
            let _ = writeln!(
                std::io::stderr().lock(),
                "{binary}: members did not finish within {grace:?}; exiting"
            );
            std::process::exit(1);
        });
}

/// Called by the generated main on a second SIGTERM or SIGINT: exit at once.
pub fn stop_now(binary: &'static str) -> ! {
    let _ = writeln!(std::io::stderr().lock(), "{binary}: stopped at once");
    std::process::exit(130)
}

/// Called by a member's mended initialisation of a process-wide `what` (a logger, a tracing
/// subscriber) when its `try_init` failed, with the error it returned: says so once per
/// `what`. The error may mean the initialisation was refused outright or that it was only
/// partly done (tracing-subscriber installs its subscriber, then fails at its `log` bridge when
/// another member set a `log` logger), so the line says only that it did not complete.
pub fn skipped_because(what: &'static str, why: &dyn std::fmt::Display) {
    if first_time(what) {
        let _ = writeln!(
            std::io::stderr().lock(),
            "{}",
            skipped_line(what, Some(why))
        );
    }
}

/// [`skipped_because`] without the error, for copies generated before it existed.
pub fn skipped(what: &'static str) {
    if first_time(what) {
        let _ = writeln!(std::io::stderr().lock(), "{}", skipped_line(what, None));
    }
}

/// Whether `what` is said for the first time in this process.
fn first_time(what: &'static str) -> bool {
    static SAID: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|p| p.into_inner());
    if said.contains(&what) {
        false
    } else {
        said.push(what);
        true
    }
}

/// The line [`skipped_because`] prints.
fn skipped_line(what: &str, why: Option<&dyn std::fmt::Display>) -> String {
    let why = why.map(|why| format!(" ({why})")).unwrap_or_default();
    format!(
        "merged binary: a second {what} initialisation did not complete{why}; what was set up first stays"
    )
}

/// How a member's main thread ended.
enum Ended {
    Returned(ExitCode),
    Panicked(String),
}

/// Runs `steps` (each a set of members started together, callees first) until they end.
pub fn run(steps: &[&[Member]], options: &Options) -> ExitCode {
    let say = |line: String| {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}: {line}", options.binary);
    };
    if let Some(addr) = std::env::var_os("MERGE_METRICS_ADDR") {
        match crate::metrics::serve(&addr.to_string_lossy()) {
            Ok(bound) => say(format!("metrics on http://{bound}/metrics")),
            Err(e) => {
                say(format!(
                    "cannot serve metrics on MERGE_METRICS_ADDR={}: {e}",
                    addr.to_string_lossy()
                ));
                return ExitCode::FAILURE;
            }
        }
    }
    let (done, ended) = mpsc::channel::<(&'static str, Ended)>();
    let mut running = 0usize;
    for step in steps {
        for member in step.iter() {
            let done = done.clone();
            let member = *member;
            let spawned = std::thread::Builder::new()
                .name(member.name.to_owned())
                .stack_size(options.stack_size)
                .spawn(move || {
                    crate::set_current_member(member.name);
                    let outcome = std::panic::catch_unwind(member.main);
                    let ended = match outcome {
                        Ok(code) => Ended::Returned(code),
                        Err(panic) => Ended::Panicked(crate::future::panic_message(&*panic)),
                    };
                    let _ = done.send((member.name, ended));
                });
            if let Err(e) = spawned {
                say(format!("cannot start member `{}`: {e}", member.name));
                return ExitCode::FAILURE;
            }
            running += 1;
        }
        // Wait until every serving member of this step serves (its tonic reported it), or one
        // ended.
        let deadline = Instant::now() + options.start_timeout;
        let registry = Registry::global();
        for member in step.iter().filter(|m| m.serves) {
            while !registry.serves(member.name) {
                if let Ok((name, how)) = ended.try_recv() {
                    running -= 1;
                    if let Some(code) = judge(name, how, &say) {
                        return code;
                    }
                    continue;
                }
                if Instant::now() >= deadline {
                    // Its callers start anyway; their calls go over the network until it
                    // serves (a server built on another thread registers under its crate's
                    // name, which this wait does not see).
                    say(format!(
                        "member `{}` did not serve its gRPC servers within {:?}; starting its callers anyway",
                        member.name, options.start_timeout
                    ));
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    drop(done);
    while running > 0 {
        let Ok((name, how)) = ended.recv() else { break };
        running -= 1;
        if let Some(code) = judge(name, how, &say) {
            return code;
        }
    }
    ExitCode::SUCCESS
}

/// What a member's end means for the process: `Some(code)` to exit now.
fn judge(name: &str, how: Ended, say: &impl Fn(String)) -> Option<ExitCode> {
    match how {
        Ended::Returned(code) if code == ExitCode::SUCCESS => {
            say(format!("member `{name}` finished"));
            None
        }
        Ended::Returned(code) => {
            say(format!("member `{name}` failed ({code:?}); stopping"));
            Some(ExitCode::FAILURE)
        }
        Ended::Panicked(message) => {
            say(format!("member `{name}` panicked: {message}; stopping"));
            Some(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::Handler;

    fn options() -> Options {
        Options {
            binary: "launch-test",
            start_timeout: Duration::from_secs(5),
            ..Options::default()
        }
    }

    static CALLEE_REGISTERED: AtomicBool = AtomicBool::new(false);

    fn callee() -> ExitCode {
        struct Routed;
        let routed = std::any::TypeId::of::<Routed>();
        let registry = Registry::global();
        let registration = registry.register_server(
            "launch-callee",
            vec![routed],
            vec![("/launch.Test/Call".to_owned(), Handler::default())],
        );
        // Built, not yet served: the caller must still be waiting.
        std::thread::sleep(Duration::from_millis(20));
        // What the member's tonic reports when it starts serving.
        let serving = registry.serve(crate::Served {
            routes: vec![("launch.Test".to_owned(), routed)],
            plain: true,
            stack: None,
            enter: None,
        });
        CALLEE_REGISTERED.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        drop((serving, registration));
        ExitCode::SUCCESS
    }

    fn caller() -> ExitCode {
        if CALLEE_REGISTERED.load(Ordering::SeqCst) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    #[test]
    fn a_caller_starts_once_its_callee_has_registered() {
        let callee = Member {
            name: "launch-callee",
            main: callee,
            serves: true,
        };
        let caller = Member {
            name: "launch-caller",
            main: caller,
            serves: false,
        };
        assert_eq!(run(&[&[callee], &[caller]], &options()), ExitCode::SUCCESS);
    }

    fn panics() -> ExitCode {
        panic!("a member's bug")
    }

    fn waits() -> ExitCode {
        std::thread::sleep(Duration::from_secs(30));
        ExitCode::SUCCESS
    }

    #[test]
    fn a_panicking_member_stops_the_binary_with_a_failure() {
        let started = Instant::now();
        let steps: &[&[Member]] = &[&[
            Member {
                name: "launch-panics",
                main: panics,
                serves: false,
            },
            Member {
                name: "launch-waits",
                main: waits,
                serves: false,
            },
        ]];
        assert_eq!(run(steps, &options()), ExitCode::FAILURE);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "did not wait for the others"
        );
    }

    fn never_registers() -> ExitCode {
        std::thread::sleep(Duration::from_secs(30));
        ExitCode::SUCCESS
    }

    static SILENT_CALLER_RAN: AtomicBool = AtomicBool::new(false);

    fn silent_caller() -> ExitCode {
        SILENT_CALLER_RAN.store(true, Ordering::SeqCst);
        ExitCode::from(4)
    }

    #[test]
    fn callers_start_after_a_silent_servers_timeout() {
        let steps: &[&[Member]] = &[
            &[Member {
                name: "launch-silent",
                main: never_registers,
                serves: true,
            }],
            &[Member {
                name: "launch-silent-caller",
                main: silent_caller,
                serves: false,
            }],
        ];
        let options = Options {
            start_timeout: Duration::from_millis(100),
            ..options()
        };
        assert_eq!(
            run(steps, &options),
            ExitCode::FAILURE,
            "the caller's failure"
        );
        assert!(SILENT_CALLER_RAN.load(Ordering::SeqCst));
    }

    fn fails() -> ExitCode {
        ExitCode::from(3)
    }

    #[test]
    fn a_failed_initialisation_is_said_once_per_what_with_its_error() {
        assert!(first_time("launch-test logger"));
        assert!(!first_time("launch-test logger"), "said twice");
        assert!(
            first_time("launch-test subscriber"),
            "another `what` is said too"
        );
        let why = "attempted to set a logger after the logging system was already initialized";
        assert_eq!(
            skipped_line("tracing subscriber", Some(&why)),
            "merged binary: a second tracing subscriber initialisation did not complete \
             (attempted to set a logger after the logging system was already initialized); \
             what was set up first stays"
        );
        assert_eq!(
            skipped_line("logger", None),
            "merged binary: a second logger initialisation did not complete; what was set up first stays"
        );
        // Printing goes through the same once-per-`what` guard.
        skipped_because("launch-test printed", &why);
        assert!(!first_time("launch-test printed"));
    }

    #[test]
    fn a_failing_serving_member_is_reported_before_its_timeout() {
        let started = Instant::now();
        let steps: &[&[Member]] = &[&[Member {
            name: "launch-fails",
            main: fails,
            serves: true,
        }]];
        assert_eq!(run(steps, &options()), ExitCode::FAILURE);
        assert!(started.elapsed() < Duration::from_secs(4));
    }
}
