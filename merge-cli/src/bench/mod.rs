//! `cargo merge bench`: one group measured split against merged, with the same requests at the
//! same members, and every answer compared.
//!
//! Order: the plan, the members and their protos are read and the request file checked (a bad
//! line is an error before anything is built or started); the members' own binaries and the
//! group's merged binary are built in one profile; then each setup runs in turn (split: one
//! process per member; merged: the one binary), warmed up, measured, stopped. The load
//! generator runs in this process; only the service processes' CPU is counted.

mod answer;
mod grpc;
mod http;
mod load;
mod procs;
mod protos;
mod report;
mod requests;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use merge_analyzer::error::InputCode;
use merge_analyzer::members::{self, CargoOptions, Member};

use crate::Failure;
use crate::cli::{BenchArgs, BenchFormat, BuildArgs, MessageFormat};
use crate::diagnostic::Diagnostic;
use crate::status;
use answer::Answer;
use load::{Mode, Route, Target};
use procs::Procs;
use report::SetupResult;
use requests::{Call, NotForGroup, Request};

/// Runs the bench; `Ok(true)` when an answer differed between the setups.
pub fn exec(args: &BenchArgs) -> Result<bool, Failure> {
    let mut plan =
        members::read_plan(&args.plan).map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    if !plan.plan.group.iter().any(|g| g.name == args.group) {
        return Err(Failure::Input(vec![Diagnostic::usage(
            InputCode::UnknownGroup,
            format!(
                "the plan `{}` has no group `{}`",
                args.plan.display(),
                args.group
            ),
            "name a [[group]] of the plan with --group",
        )]));
    }
    let options = CargoOptions {
        offline: false,
        frozen: false,
    };
    let out = std::path::absolute(&args.out).unwrap_or_else(|_| args.out.clone());
    let fetch = merge_analyzer::sources::Fetch::default();
    merge_analyzer::sources::checkout(&mut plan, std::slice::from_ref(&args.group), &out, fetch)
        .map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    let members = members::load_group(&plan, &args.group, &options)
        .map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    let pool = protos::pool(&members).map_err(|e| {
        Failure::Input(vec![Diagnostic::usage(
            InputCode::BadProto,
            format!("the members' .proto files do not compile: {e}"),
            "bench encodes requests with the members' own .proto files; fix the one named",
        )])
    })?;
    let servers = serving(&members);
    let fronts = http_fronts(&members);
    let served = |r: &Request| match &r.call {
        Call::Grpc(g) if !servers.contains_key(g.service_name()) => Err(NotForGroup::NotServed {
            group: args.group.clone(),
            service: g.method.parent_service().full_name().to_owned(),
            server: g.service_name().to_owned(),
        }),
        Call::Http(h) => match &h.member {
            Some(m) if !members.iter().any(|x| &x.name == m) => Err(NotForGroup::NotMember {
                member: m.clone(),
                group: args.group.clone(),
            }),
            None if fronts.is_empty() => Err(NotForGroup::NoHttpFront {
                group: args.group.clone(),
                servers: HTTP_SERVERS.join(", "),
            }),
            _ => Ok(()),
        },
        Call::Grpc(_) => Ok(()),
    };
    let mix = requests::read(&args.requests, &pool, &served).map_err(|bad| {
        Failure::Input(
            bad.into_iter()
                .map(|b| bad_request(&args.requests, b.line, b.error.to_string()))
                .collect(),
        )
    })?;

    // The merged build first: it refuses an output folder inside a member's tree, and what
    // check finds, before anything else is built.
    let merged = merged_binary(args)?;
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    let env = Env::of(&plan.plan.service, &names, &merged.env_fallbacks).map_err(|e| {
        Failure::Input(vec![Diagnostic::usage(
            InputCode::EnvConflict,
            e.to_string(),
            "give the members different keys, or the same value",
        )])
    })?;
    let split = split_binaries(&members, args)?;
    let logs = std::path::absolute(&args.out)
        .unwrap_or_else(|_| args.out.clone())
        .join("bench")
        .join(&args.group);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the load generator's runtime")?;
    let mode = match (args.rate, args.concurrency) {
        (Some(rate), _) => Mode::Open(rate),
        (None, c) => Mode::Closed(c.unwrap_or(8)),
    };
    let run = Run {
        mix: mix.into_iter().map(Arc::new).collect(),
        servers,
        fronts,
        mode,
        warmup: args.warmup,
        duration: args.duration,
        timeout: args.timeout,
        logs,
    };
    let outcome = runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot watch for SIGTERM")?;
        // Interrupted or terminated: the run's future is dropped, and with it the processes.
        tokio::select! {
            r = run.both(&split, &merged.binary, &env, &args.group) => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted: every process it started is stopped")),
            _ = term.recv() => Err(anyhow::anyhow!("terminated: every process it started is stopped")),
        }
    })?;
    print(args, &outcome)?;
    Ok(outcome.mismatches > 0)
}

fn bad_request(file: &Path, line: usize, message: String) -> Diagnostic {
    let mut d = Diagnostic::usage(
        InputCode::BadRequest,
        message,
        "one JSON object per line: {\"method\": \"/package.Service/Method\", \"message\": {..}, \"metadata\": {..}} or {\"http\": {\"method\": \"GET\", \"path\": \"/..\", \"headers\": {..}, \"body\": ..}}",
    );
    d.file = Some(file.to_path_buf());
    d.line = (line > 0).then_some(line);
    d
}

/// Service short name (`Gateway`) -> the members that build its server.
fn serving(members: &[Member]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let parsed = merge_analyzer::parsed::Parsed::default();
    for m in members {
        let mut uses = crate::synth::order::Uses::default();
        let dirs: BTreeSet<PathBuf> = m
            .local_packages()
            .filter_map(|p| {
                p.manifest_path
                    .parent()
                    .map(|d| d.as_std_path().to_path_buf())
            })
            .collect();
        for dir in dirs {
            crate::synth::order::scan_dir(&dir, &[], &parsed, &mut uses);
        }
        for s in uses.serves {
            out.entry(s).or_default().push(m.name.clone());
        }
    }
    out
}

/// The crates whose direct use makes a package an HTTP server (hyper and hyper-util only with
/// their server features).
const HTTP_SERVERS: [&str; 10] = [
    "axum",
    "actix-web",
    "warp",
    "poem",
    "rocket",
    "salvo",
    "tide",
    "ntex",
    "hyper (server)",
    "hyper-util (server)",
];

/// The members with an HTTP front: one of their own packages depends on an HTTP server crate.
fn http_fronts(members: &[Member]) -> Vec<String> {
    let serves_http = |d: &cargo_metadata::Dependency| {
        let server = |f: &String| f == "server" || f == "full" || f.starts_with("server-");
        match d.name.as_str() {
            "hyper" | "hyper-util" => d.features.iter().any(server),
            name => HTTP_SERVERS.contains(&name),
        }
    };
    members
        .iter()
        .filter(|m| {
            m.local_packages().any(|p| {
                p.dependencies
                    .iter()
                    .any(|d| d.kind == cargo_metadata::DependencyKind::Normal && serves_http(d))
            })
        })
        .map(|m| m.name.clone())
        .collect()
}

/// Each member's own binary, built by cargo in the bench's profile, into `CARGO_TARGET_DIR`
/// when set, else `<out>/bench/target` (never a member's own `target/`: nothing is written into
/// its tree).
fn split_binaries(members: &[Member], args: &BenchArgs) -> Result<Vec<(String, PathBuf)>, Failure> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::path::absolute(&args.out)
                .unwrap_or_else(|_| args.out.clone())
                .join("bench")
                .join("target")
        });
    let mut out = Vec::new();
    for m in members {
        status::status("Building", &format!("`{}` on its own", m.name));
        let mut cargo =
            std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cargo
            .env("CARGO_TARGET_DIR", &target)
            .arg("build")
            .arg("--manifest-path")
            .arg(&m.manifest)
            // --locked: a member's lockfile is never written.
            .args([
                "--locked",
                "--bin",
                &m.bin.name,
                "--message-format",
                "json-render-diagnostics",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        if args.release {
            cargo.arg("--release");
        }
        let output = cargo.output().context("cannot run cargo")?;
        if !output.status.success() {
            return Err(Failure::Other(anyhow::anyhow!(
                "cargo could not build member `{}` on its own",
                m.name
            )));
        }
        // As build reads cargo's messages.
        let binary = cargo_metadata::Message::parse_stream(output.stdout.as_slice())
            .filter_map(Result::ok)
            .find_map(|message| match message {
                cargo_metadata::Message::CompilerArtifact(a) if a.target.name == m.bin.name => {
                    a.executable.map(|p| p.into_std_path_buf())
                }
                _ => None,
            })
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "cargo built `{}` but named no binary `{}`",
                    m.name,
                    m.bin.name
                )
            })?;
        out.push((m.name.clone(), binary));
    }
    Ok(out)
}

/// The group's merged binary, built as `cargo merge build` builds it.
fn merged_binary(args: &BenchArgs) -> Result<crate::build::Built, Failure> {
    let build = BuildArgs {
        plan: Some(args.plan.clone()),
        traffic: None,
        out: args.out.clone(),
        isolation: None,
        release: args.release,
        group: vec![args.group.clone()],
        allow: args.allow.clone(),
        locked: false,
        offline: false,
        frozen: false,
        target: None,
        features: Vec::new(),
        jobs: None,
        github: false,
        checked_out: true,
        message_format: MessageFormat::Human,
    };
    let built = crate::build::run(&build, false)?;
    built
        .into_iter()
        .find(|b| b.group == args.group)
        .ok_or_else(|| Failure::Other(anyhow::anyhow!("group `{}` was not built", args.group)))
}

/// The environment of each setup, from the plan's `[service.NAME.env]`.
#[derive(Debug)]
struct Env {
    split: BTreeMap<String, Vec<(String, String)>>,
    merged: Vec<(String, String)>,
}

impl Env {
    /// Split, each member its own; merged, one environment: a key build namespaced for a
    /// member (`fallbacks`: `<MEMBER>_<KEY>` it reads instead of `<KEY>`) is given namespaced,
    /// any other plainly, and two members setting one plain key differently is an error (the
    /// merged binary cannot give each its own).
    fn of(
        services: &BTreeMap<String, merge_analyzer::plan::PlanService>,
        members: &[&str],
        fallbacks: &[(String, String)],
    ) -> Result<Env, crate::envmerge::EnvConflict> {
        let split: BTreeMap<String, Vec<(String, String)>> = members
            .iter()
            .map(|&name| {
                let env = services
                    .get(name)
                    .map(|s| s.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                (name.to_owned(), env)
            })
            .collect();
        let each: Vec<(&str, Vec<(String, String)>)> = members
            .iter()
            .map(|&name| (name, split[name].clone()))
            .collect();
        let merged = crate::envmerge::merged(&each, fallbacks)?;
        Ok(Env { split, merged })
    }
}

/// What both setups gave.
struct Outcome {
    split: SetupResult,
    merged: SetupResult,
    mismatches: u64,
    /// The first mismatches: (request line, method, split answer, merged answer), rendered.
    shown: Vec<(usize, String, String, String)>,
}

struct Run {
    mix: Vec<Arc<Request>>,
    servers: BTreeMap<String, Vec<String>>,
    /// Members with an HTTP front, where an HTTP request naming no member goes.
    fronts: Vec<String>,
    mode: Mode,
    warmup: Duration,
    duration: Duration,
    timeout: Duration,
    logs: PathBuf,
}

const SHOWN: usize = 10;

impl Run {
    async fn both(
        &self,
        split: &[(String, PathBuf)],
        merged: &Path,
        env: &Env,
        group: &str,
    ) -> anyhow::Result<Outcome> {
        // Split: every member its own process; where each listens tells where requests go.
        let mut procs = Procs::default();
        for (name, binary) in split {
            let env = env.split.get(name).cloned().unwrap_or_default();
            procs
                .start(
                    name,
                    binary,
                    &env,
                    &self.logs.join("split").join(format!("{name}.log")),
                )
                .map_err(anyhow::Error::new)?;
        }
        let addresses = self.listening(&mut procs).await?;
        let targets = self.targets(&addresses).await?;
        let (split_result, split_answers) =
            self.measure("split", &mut procs, &targets, None).await?;
        procs.stop(Duration::from_secs(5));

        // Merged: the one binary, at the same addresses, counters on.
        let metrics = free_port()?;
        let mut merged_env = env.merged.clone();
        merged_env.push(("MERGE_METRICS_ADDR".to_owned(), metrics.to_string()));
        let mut procs = Procs::default();
        procs
            .start(group, merged, &merged_env, &self.logs.join("merged.log"))
            .map_err(anyhow::Error::msg)?;
        let wanted: BTreeSet<SocketAddr> = targets.iter().map(|(a, _)| a.address()).collect();
        self.ready(&mut procs, &wanted).await?;
        let (merged_result, merged_answers) = self
            .measure("merged", &mut procs, &targets, Some(metrics))
            .await?;
        procs.stop(Duration::from_secs(5));

        // The k-th request is the same request in both setups (`k % mix.len()`).
        let merged_by_k: BTreeMap<u64, &Answer> =
            merged_answers.iter().map(|(k, a)| (*k, a)).collect();
        let mut mismatches = 0;
        let mut shown = Vec::new();
        for (k, a) in &split_answers {
            let Some(b) = merged_by_k.get(k) else {
                continue;
            };
            if a != *b {
                mismatches += 1;
                if shown.len() < SHOWN {
                    let r = &self.mix[(*k % self.mix.len() as u64) as usize];
                    shown.push((r.line, r.label(), a.say(r), b.say(r)));
                }
            }
        }
        Ok(Outcome {
            split: split_result,
            merged: merged_result,
            mismatches,
            shown,
        })
    }

    /// Where each member listens, once it does (its process's listening sockets).
    async fn listening(
        &self,
        procs: &mut Procs,
    ) -> anyhow::Result<BTreeMap<String, Vec<SocketAddr>>> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut out = BTreeMap::new();
        for p in procs.0.iter_mut() {
            loop {
                if let Some(why) = p.exited() {
                    anyhow::bail!(why);
                }
                // Listening, and on the same ports a moment later (a member may open one port
                // before the other).
                let found = procs::listening(p.pid());
                if !found.is_empty() {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    if procs::listening(p.pid()) == found {
                        out.insert(p.name.clone(), found);
                        break;
                    }
                    continue;
                }
                if tokio::time::Instant::now() > deadline {
                    anyhow::bail!(
                        "`{}` listened on no TCP port within 60 s (log: `{}`)",
                        p.name,
                        p.log.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(out)
    }

    /// Each request of the mix with the address of the member that serves it. Of several
    /// addresses, a gRPC request goes to the first that does not answer `Unimplemented`; an
    /// HTTP request to the first that answers it over HTTP/1.1, one that does not answer 404
    /// first (each probe sends the request once).
    async fn targets(
        &self,
        addresses: &BTreeMap<String, Vec<SocketAddr>>,
    ) -> anyhow::Result<Vec<(Address, Arc<Request>)>> {
        let mut chosen: BTreeMap<String, Address> = BTreeMap::new();
        let mut out = Vec::new();
        let client = Arc::new(http::client());
        for r in &self.mix {
            let (key, members) = match &r.call {
                Call::Grpc(g) => (
                    g.method.parent_service().full_name().to_owned(),
                    self.servers
                        .get(g.service_name())
                        .cloned()
                        .unwrap_or_default(),
                ),
                Call::Http(h) => {
                    let members = h.member.clone().map_or(self.fronts.clone(), |m| vec![m]);
                    (format!("http {}", members.join(" ")), members)
                }
            };
            if let Some(a) = chosen.get(&key) {
                out.push((*a, r.clone()));
                continue;
            }
            let candidates: Vec<SocketAddr> = members
                .iter()
                .flat_map(|m| addresses.get(m).cloned().unwrap_or_default())
                .collect();
            let probe = |a: SocketAddr| {
                let route = match r.call {
                    Call::Grpc(_) => channel(a).map(Route::Grpc),
                    Call::Http(_) => Ok(Route::Http(client.clone(), a)),
                };
                async move {
                    match route {
                        Ok(route) => tokio::time::timeout(self.timeout, load::send(&route, r))
                            .await
                            .unwrap_or_else(|_| Answer::no_answer(self.timeout)),
                        Err(e) => Answer::Unanswered(e.to_string()),
                    }
                }
            };
            let pick = match &r.call {
                Call::Grpc(_) if candidates.len() == 1 => candidates.first().copied(),
                Call::Grpc(_) => {
                    let mut pick = None;
                    for a in &candidates {
                        if let Answer::Grpc { code, .. } = probe(*a).await
                            && code != tonic::Code::Unimplemented as i32
                            && code != tonic::Code::Unavailable as i32
                        {
                            pick = Some(*a);
                            break;
                        }
                    }
                    pick
                }
                Call::Http(_) => {
                    let (mut found, mut not_found) = (None, None);
                    for a in &candidates {
                        match probe(*a).await {
                            Answer::Http { status: 404, .. } => {
                                not_found = not_found.or(Some(*a));
                            }
                            Answer::Http { .. } => {
                                found = Some(*a);
                                break;
                            }
                            _ => {}
                        }
                    }
                    found.or(not_found)
                }
            };
            let Some(a) = pick else {
                anyhow::bail!(
                    "no address of {} answers `{}` (they listen on {:?})",
                    members.join(", "),
                    r.label(),
                    candidates
                );
            };
            let a = match r.call {
                Call::Grpc(_) => Address::Grpc(a),
                Call::Http(_) => Address::Http(a),
            };
            chosen.insert(key, a);
            out.push((a, r.clone()));
        }
        Ok(out)
    }

    /// Waits until the merged binary listens on every address the split members did.
    async fn ready(&self, procs: &mut Procs, wanted: &BTreeSet<SocketAddr>) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let p = &mut procs.0[0];
            if let Some(why) = p.exited() {
                anyhow::bail!(why);
            }
            let found: BTreeSet<SocketAddr> = procs::listening(p.pid()).into_iter().collect();
            if wanted.is_subset(&found) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                let missing: Vec<String> =
                    wanted.difference(&found).map(ToString::to_string).collect();
                anyhow::bail!(
                    "the merged binary does not listen on {} within 60 s, where the split members did: give each member a fixed address in the plan's [service.NAME.env] (log: `{}`)",
                    missing.join(", "),
                    p.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Warms up, then measures one setup: load, CPU of its processes, peak memory, counters.
    async fn measure(
        &self,
        setup: &'static str,
        procs: &mut Procs,
        targets: &[(Address, Arc<Request>)],
        metrics: Option<SocketAddr>,
    ) -> anyhow::Result<(SetupResult, Vec<(u64, Answer)>)> {
        status::status(
            "Running",
            &format!(
                "{setup}: warm-up {:?}, then {:?}",
                self.warmup, self.duration
            ),
        );
        // One channel per gRPC address, one pooled client for every HTTP request.
        let mut channels: BTreeMap<SocketAddr, tonic::transport::Channel> = BTreeMap::new();
        let client = Arc::new(http::client());
        let mut mix = Vec::new();
        for (a, r) in targets {
            let route = match *a {
                Address::Http(at) => Route::Http(client.clone(), at),
                Address::Grpc(at) => match channels.get(&at) {
                    Some(c) => Route::Grpc(c.clone()),
                    None => {
                        let c = channel(at)?;
                        channels.insert(at, c.clone());
                        Route::Grpc(c)
                    }
                },
            };
            mix.push(Target {
                route,
                request: r.clone(),
            });
        }
        let mix = Arc::new(mix);
        if !self.warmup.is_zero() {
            load::drive(mix.clone(), self.mode, self.warmup, self.timeout, false).await;
        }
        still_running(procs)?;
        let cpu_before = procs.cpu_seconds();
        let calls_before = match metrics {
            Some(a) => counters(a).await,
            None => BTreeMap::new(),
        };
        let out = load::drive(mix, self.mode, self.duration, self.timeout, true).await;
        let cpu = procs.cpu_seconds() - cpu_before;
        let mut calls = match metrics {
            Some(a) => counters(a).await,
            None => BTreeMap::new(),
        };
        // Only the measured calls: the warm-up's are taken off.
        for (path, n) in &mut calls {
            *n = n.saturating_sub(calls_before.get(path).copied().unwrap_or(0));
        }
        let peak = procs.peak_rss();
        still_running(procs)?;
        if out.failed > 0 {
            status::warning(&format!(
                "{setup}: {} of {} answers were not Ok (see the `non-Ok answers` row)",
                out.failed, out.completed
            ));
        }
        let h = &out.latencies;
        let result = SetupResult {
            reason: "bench-result",
            setup,
            requests: out.completed,
            rps: out.completed as f64 / out.elapsed.as_secs_f64(),
            p50_us: h.value_at_quantile(0.5),
            p90_us: h.value_at_quantile(0.9),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
            cpu_s_per_request: if out.completed > 0 {
                cpu / out.completed as f64
            } else {
                0.0
            },
            peak_rss_mib: peak as f64 / (1024.0 * 1024.0),
            failed: out.failed,
            calls,
        };
        Ok((result, out.answers))
    }
}

/// An error naming the first process of `procs` that exited, with the end of its log.
fn still_running(procs: &mut Procs) -> anyhow::Result<()> {
    for p in procs.0.iter_mut() {
        if let Some(why) = p.exited() {
            anyhow::bail!(why);
        }
    }
    Ok(())
}

/// Where a request of the mix goes.
#[derive(Debug, Clone, Copy)]
enum Address {
    Grpc(SocketAddr),
    Http(SocketAddr),
}

impl Address {
    fn address(self) -> SocketAddr {
        match self {
            Address::Grpc(a) | Address::Http(a) => a,
        }
    }
}

fn channel(a: SocketAddr) -> anyhow::Result<tonic::transport::Channel> {
    Ok(tonic::transport::Endpoint::from_shared(format!("http://{a}"))?.connect_lazy())
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("no free loopback port")?;
    Ok(l.local_addr()?)
}

/// The merged binary's `merge_calls_total`, summed per path.
async fn counters(a: SocketAddr) -> BTreeMap<String, u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut out = BTreeMap::new();
    let Ok(mut s) = tokio::net::TcpStream::connect(a).await else {
        return out;
    };
    let _ = s
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
        .await;
    let mut text = String::new();
    let _ = s.read_to_string(&mut text).await;
    for line in text.lines().filter(|l| l.starts_with("merge_calls_total{")) {
        let path = line
            .split("path=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("?");
        let n: u64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        *out.entry(path.to_owned()).or_default() += n;
    }
    out
}

fn print(args: &BenchArgs, o: &Outcome) -> anyhow::Result<()> {
    let cmp = report::compare(&o.split, &o.merged, o.mismatches);
    let mut stdout = std::io::stdout().lock();
    for (line, path, split, merged) in &o.shown {
        status::error(&format!(
            "answers differ: request `{path}` ({}:{line})\n  split:  {split}\n  merged: {merged}",
            args.requests.display()
        ));
    }
    if o.mismatches as usize > o.shown.len() {
        status::error(&format!(
            "{} more answers differ",
            o.mismatches as usize - o.shown.len()
        ));
    }
    match args.message_format {
        BenchFormat::Human => write!(stdout, "{}", report::table(&o.split, &o.merged, &cmp))?,
        BenchFormat::Markdown => write!(
            stdout,
            "{}",
            report::markdown(&args.group, &o.split, &o.merged, &cmp)
        )?,
        BenchFormat::Json => {
            for r in [&o.split, &o.merged] {
                serde_json::to_writer(&mut stdout, r)?;
                writeln!(stdout)?;
            }
            serde_json::to_writer(&mut stdout, &cmp)?;
            writeln!(stdout)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use merge_analyzer::plan::PlanService;

    fn services(envs: &[(&str, &[(&str, &str)])]) -> BTreeMap<String, PlanService> {
        envs.iter()
            .map(|(name, env)| {
                let env = env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                (
                    name.to_string(),
                    PlanService {
                        env,
                        ..PlanService::default()
                    },
                )
            })
            .collect()
    }

    #[test]
    fn the_merged_environment_gives_namespaced_keys_to_their_member_and_refuses_a_clash() {
        let plan = services(&[
            ("alpha", &[("PORT", "1"), ("ALPHA_ADDR", "a")]),
            ("beta-svc", &[("PORT", "2"), ("LOG", "info")]),
            ("gamma", &[("LOG", "info")]),
        ]);
        // Build namespaced PORT for alpha and beta-svc.
        let fallbacks = vec![
            ("ALPHA_PORT".to_owned(), "PORT".to_owned()),
            ("BETA_SVC_PORT".to_owned(), "PORT".to_owned()),
        ];
        let env = Env::of(&plan, &["alpha", "beta-svc", "gamma"], &fallbacks).expect("no clash");
        let merged: BTreeMap<&str, &str> = env
            .merged
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            merged,
            BTreeMap::from([
                ("ALPHA_ADDR", "a"),
                ("ALPHA_PORT", "1"),
                ("BETA_SVC_PORT", "2"),
                ("LOG", "info")
            ])
        );
        assert_eq!(
            env.split["alpha"],
            vec![
                ("ALPHA_ADDR".to_owned(), "a".to_owned()),
                ("PORT".to_owned(), "1".to_owned())
            ]
        );
        // Without build's namespacing, two values of PORT cannot both hold.
        let e = Env::of(&plan, &["alpha", "beta-svc", "gamma"], &[]).expect_err("a clash");
        assert_eq!(
            (e.key.as_str(), e.first.as_str(), e.other.as_str()),
            ("PORT", "alpha", "beta-svc")
        );
        assert!(
            e.to_string()
                .contains("`alpha` and `beta-svc` set `PORT` differently"),
            "{e}"
        );
    }
}
