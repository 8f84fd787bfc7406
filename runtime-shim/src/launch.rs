//! Starting the members of a merged binary: what the `main` that `cargo merge build` generates
//! calls. Std only, like the rest of this crate: each member runs its own original `main` (its
//! own async runtime included) on a thread of its own.
//!
//! - Members start in the order given (callees first); a member that serves gRPC methods is
//!   waited for until its servers have registered, so that its callers' first calls already go
//!   in-process. Members of one start step (a cycle) start together.
//! - [`run`] returns how it ended ([`Outcome`]): a member failed or panicked, the grace of a
//!   stop request ran out, or every member finished well. What happens meanwhile goes to a
//!   callback ([`Event`]). The generated `main` prints both and chooses the exit status: this
//!   library neither prints about the launch nor exits.
//! - `MERGE_METRICS_ADDR`, when set, serves the call counters as Prometheus text.

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock, mpsc};
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
    /// How long a serving member may take to register its servers.
    pub start_timeout: Duration,
    /// Stack size of each member's main thread.
    pub stack_size: usize,
    /// Asked to stop (by the generated main's signal handler): [`run`] gives up waiting when
    /// the grace period it gave ends.
    pub stop: Stop,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            start_timeout: Duration::from_secs(60),
            stack_size: 8 << 20,
            stop: Stop::default(),
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

/// A request to stop, shared by the generated main's signal handler and [`run`]: once made,
/// `run` waits for the members until its deadline, then returns [`Outcome::GraceEnded`].
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<OnceLock<(Option<Instant>, Duration)>>);

impl Stop {
    /// Asks to stop, the members given [`grace`] to finish; the grace given (a second request
    /// keeps the first deadline).
    pub fn request(&self) -> Duration {
        self.request_within(grace())
    }

    /// [`Stop::request`] with the grace given (one too long for a clock to hold never ends).
    pub fn request_within(&self, grace: Duration) -> Duration {
        self.0
            .get_or_init(|| (Instant::now().checked_add(grace), grace))
            .1
    }

    /// When the grace ends, and how long it was, once asked and if it ends.
    fn deadline(&self) -> Option<(Instant, Duration)> {
        match self.0.get() {
            Some(&(Some(end), grace)) => Some((end, grace)),
            _ => None,
        }
    }
}

/// Called by a member's mended initialisation of a process-wide `what` (a logger, a tracing
/// subscriber) when its `try_init` failed, with the error it returned: says so once per
/// `what`. The error may mean the initialisation was refused outright or that it was only
/// partly done (tracing-subscriber installs its subscriber, then fails at its `log` bridge when
/// another member set a `log` logger), so the line says only that it did not complete.
pub fn skipped_because(what: &'static str, why: &dyn fmt::Display) {
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
fn skipped_line(what: &str, why: Option<&dyn fmt::Display>) -> String {
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

/// What happened while members run, for the generated main to say as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The call counters are served at this address (`MERGE_METRICS_ADDR`).
    Metrics(SocketAddr),
    /// A serving member did not register its servers within the start timeout; its callers
    /// start anyway, their calls going over the network until it serves.
    SlowStart {
        member: &'static str,
        timeout: Duration,
    },
    /// A member's `main` returned success.
    Finished(&'static str),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Metrics(bound) => write!(f, "metrics on http://{bound}/metrics"),
            Event::SlowStart { member, timeout } => write!(
                f,
                "member `{member}` did not serve its gRPC servers within {timeout:?}; starting its callers anyway"
            ),
            Event::Finished(member) => write!(f, "member `{member}` finished"),
        }
    }
}

/// How [`run`] ended: the generated main says it and chooses the exit status.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Every member's `main` returned success.
    Finished,
    /// A member's `main` returned a failure (the others were not waited for).
    Failed {
        member: &'static str,
        code: ExitCode,
    },
    /// A member's `main` panicked (the others were not waited for).
    Panicked {
        member: &'static str,
        message: String,
    },
    /// Asked to stop, members were still running when the grace period ended.
    GraceEnded(Duration),
    /// A member's thread could not be started.
    CannotStart { member: &'static str, error: String },
    /// `MERGE_METRICS_ADDR` was set and cannot be served.
    Metrics { addr: String, error: String },
}

impl Outcome {
    /// Whether every member finished well.
    pub fn is_success(&self) -> bool {
        *self == Outcome::Finished
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Finished => write!(f, "every member finished"),
            Outcome::Failed { member, code } => {
                write!(f, "member `{member}` failed ({code:?}); stopping")
            }
            Outcome::Panicked { member, message } => {
                write!(f, "member `{member}` panicked: {message}; stopping")
            }
            Outcome::GraceEnded(grace) => {
                write!(f, "members did not finish within {grace:?}; exiting")
            }
            Outcome::CannotStart { member, error } => {
                write!(f, "cannot start member `{member}`: {error}")
            }
            Outcome::Metrics { addr, error } => {
                write!(
                    f,
                    "cannot serve metrics on MERGE_METRICS_ADDR={addr}: {error}"
                )
            }
        }
    }
}

/// How often waits look at a stop request.
const POLL: Duration = Duration::from_millis(2);

/// Runs `steps` (each a set of members started together, callees first) until they end, a
/// member fails, or the grace of a stop request ends; `report` is told what happens meanwhile.
pub fn run(steps: &[&[Member]], options: &Options, mut report: impl FnMut(Event)) -> Outcome {
    if let Some(addr) = std::env::var_os("MERGE_METRICS_ADDR") {
        let addr = addr.to_string_lossy().into_owned();
        match crate::metrics::serve(&addr) {
            Ok(bound) => report(Event::Metrics(bound)),
            Err(e) => {
                return Outcome::Metrics {
                    addr,
                    error: e.to_string(),
                };
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
                return Outcome::CannotStart {
                    member: member.name,
                    error: e.to_string(),
                };
            }
            running += 1;
        }
        // Wait until every serving member of this step serves (its tonic reported it), or one
        // ended.
        let deadline = Instant::now() + options.start_timeout;
        let registry = Registry::global();
        for member in step.iter().filter(|m| m.serves) {
            while !registry.serves(member.name) {
                if let Some(end) = grace_ended(&options.stop) {
                    return end;
                }
                if let Ok((name, how)) = ended.try_recv() {
                    running -= 1;
                    if let Some(end) = judge(name, how, &mut report) {
                        return end;
                    }
                    continue;
                }
                if Instant::now() >= deadline {
                    // A server built on another thread registers under its crate's name,
                    // which this wait does not see.
                    report(Event::SlowStart {
                        member: member.name,
                        timeout: options.start_timeout,
                    });
                    break;
                }
                std::thread::sleep(POLL);
            }
        }
    }
    drop(done);
    while running > 0 {
        if let Some(end) = grace_ended(&options.stop) {
            return end;
        }
        let wait = match options.stop.deadline() {
            Some((end, _)) => end.saturating_duration_since(Instant::now()),
            // Looks again for a stop request now and then.
            None => POLL * 50,
        };
        match ended.recv_timeout(wait) {
            Ok((name, how)) => {
                running -= 1;
                if let Some(end) = judge(name, how, &mut report) {
                    return end;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    Outcome::Finished
}

/// [`Outcome::GraceEnded`] once a stop was asked and its grace is over.
fn grace_ended(stop: &Stop) -> Option<Outcome> {
    let (end, grace) = stop.deadline()?;
    (Instant::now() >= end).then_some(Outcome::GraceEnded(grace))
}

/// What a member's end means for the process: `Some(outcome)` to stop now.
fn judge(name: &'static str, how: Ended, report: &mut impl FnMut(Event)) -> Option<Outcome> {
    match how {
        Ended::Returned(code) if code == ExitCode::SUCCESS => {
            report(Event::Finished(name));
            None
        }
        Ended::Returned(code) => Some(Outcome::Failed { member: name, code }),
        Ended::Panicked(message) => Some(Outcome::Panicked {
            member: name,
            message,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::Handler;

    fn options() -> Options {
        Options {
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
        let mut events = Vec::new();
        let outcome = run(&[&[callee], &[caller]], &options(), |e| events.push(e));
        assert_eq!(outcome, Outcome::Finished);
        assert!(outcome.is_success());
        events.sort_by_key(ToString::to_string);
        assert_eq!(
            events,
            [
                Event::Finished("launch-callee"),
                Event::Finished("launch-caller")
            ]
        );
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
        let outcome = run(steps, &options(), |_| {});
        assert_eq!(
            outcome,
            Outcome::Panicked {
                member: "launch-panics",
                message: "a member's bug".to_owned()
            }
        );
        assert_eq!(
            outcome.to_string(),
            "member `launch-panics` panicked: a member's bug; stopping"
        );
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
        let mut events = Vec::new();
        assert_eq!(
            run(steps, &options, |e| events.push(e)),
            Outcome::Failed {
                member: "launch-silent-caller",
                code: ExitCode::from(4)
            },
            "the caller's failure"
        );
        assert_eq!(
            events,
            [Event::SlowStart {
                member: "launch-silent",
                timeout: Duration::from_millis(100)
            }]
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
        assert_eq!(
            run(steps, &options(), |_| {}),
            Outcome::Failed {
                member: "launch-fails",
                code: ExitCode::from(3)
            }
        );
        assert!(started.elapsed() < Duration::from_secs(4));
    }

    fn lingers() -> ExitCode {
        std::thread::sleep(Duration::from_secs(30));
        ExitCode::SUCCESS
    }

    #[test]
    fn a_stop_request_ends_the_run_when_its_grace_ends() {
        let options = options();
        let stop = options.stop.clone();
        let asker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            stop.request_within(Duration::from_millis(100))
        });
        let started = Instant::now();
        let steps: &[&[Member]] = &[&[Member {
            name: "launch-lingers",
            main: lingers,
            serves: false,
        }]];
        let outcome = run(steps, &options, |_| {});
        assert_eq!(outcome, Outcome::GraceEnded(Duration::from_millis(100)));
        assert!(!outcome.is_success());
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "waited for the member"
        );
        assert_eq!(asker.join().expect("asked"), Duration::from_millis(100));
        // A second request keeps the first deadline.
        assert_eq!(
            options.stop.request_within(Duration::from_secs(9)),
            Duration::from_millis(100)
        );
        // A grace too long for the clock never ends (and does not panic the signal thread).
        let forever = Stop::default();
        assert_eq!(forever.request_within(Duration::MAX), Duration::MAX);
        assert!(grace_ended(&forever).is_none());
    }
}
