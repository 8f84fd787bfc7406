//! `cargo merge bench`: one group measured split against merged, with the same requests at the
//! same members, and every answer compared.
//!
//! Order: the plan, the members and their protos are read and the request file checked (a bad
//! line is an error before anything is built or started); the members' own binaries and the
//! group's merged binary are built in one profile; then each setup runs in turn (split: one
//! process per member; merged: the one binary), warmed up, measured, stopped. The load
//! generator runs in this process; only the service processes' CPU is counted.

mod grpc;
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
use merge_analyzer::members::{self, CargoOptions, Member};

use crate::Failure;
use crate::cli::{BenchArgs, BenchFormat, BuildArgs, MessageFormat};
use crate::diagnostic::Diagnostic;
use crate::status;
use grpc::Answer;
use load::{Mode, Target};
use procs::Procs;
use report::SetupResult;
use requests::Request;

/// Runs the bench; `Ok(true)` when an answer differed between the setups.
pub fn exec(args: &BenchArgs) -> Result<bool, Failure> {
    let plan =
        members::read_plan(&args.plan).map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    if !plan.plan.group.iter().any(|g| g.name == args.group) {
        return Err(Failure::Input(vec![Diagnostic::usage(
            "unknown-group",
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
    let members = members::load_group(&plan, &args.group, &options)
        .map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    let pool = protos::pool(&members).map_err(|e| {
        Failure::Input(vec![Diagnostic::usage(
            "bad-proto",
            format!("the members' .proto files do not compile: {e}"),
            "bench encodes requests with the members' own .proto files; fix the one named",
        )])
    })?;
    let mix = requests::read(&args.requests, &pool).map_err(|bad| {
        Failure::Input(
            bad.into_iter()
                .map(|b| bad_request(&args.requests, b.line, b.message))
                .collect(),
        )
    })?;
    let servers = serving(&members);
    let mut unserved = Vec::new();
    for r in &mix {
        if !servers.contains_key(r.service_name()) {
            unserved.push(bad_request(
                &args.requests,
                r.line,
                format!(
                    "no member of group `{}` serves `{}` (it builds no `{}Server`)",
                    args.group,
                    r.method.parent_service().full_name(),
                    r.service_name()
                ),
            ));
        }
    }
    if !unserved.is_empty() {
        return Err(Failure::Input(unserved));
    }

    // The merged build first: it refuses an output folder inside a member's tree, and what
    // check finds, before anything else is built.
    let merged = merged_binary(args)?;
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    let env = Env::of(&plan.plan.service, &names, &merged.env_fallbacks).map_err(|e| {
        Failure::Input(vec![Diagnostic::usage(
            "env-conflict",
            e,
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
        "bad-request",
        message,
        "one JSON object per line: {\"method\": \"/package.Service/Method\", \"message\": {..}, \"metadata\": {..}}",
    );
    d.file = Some(file.to_path_buf());
    d.line = (line > 0).then_some(line);
    d
}

/// Service short name (`Gateway`) -> the members that build its server.
fn serving(members: &[Member]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
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
            crate::synth::order::scan_dir(&dir, &[], &mut uses);
        }
        for s in uses.serves {
            out.entry(s).or_default().push(m.name.clone());
        }
    }
    out
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
    ) -> Result<Env, String> {
        let namespaced: BTreeSet<&str> = fallbacks.iter().map(|(n, _)| n.as_str()).collect();
        let mut split = BTreeMap::new();
        let mut plain: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut merged = Vec::new();
        for &name in members {
            let env: Vec<(String, String)> = services
                .get(name)
                .map(|s| s.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            for (k, v) in &env {
                let own = format!("{}_{k}", crate::synth::mitigate::prefix(name));
                if namespaced.contains(own.as_str()) {
                    merged.push((own, v.clone()));
                    continue;
                }
                match plain.get(k) {
                    Some((other, value)) if value != v => {
                        return Err(format!(
                            "members `{other}` and `{name}` set `{k}` differently ({value:?}, {v:?}), and the merged binary reads one `{k}` for both (build namespaced it for neither)"
                        ));
                    }
                    Some(_) => {}
                    None => {
                        plain.insert(k.clone(), (name.to_owned(), v.clone()));
                        merged.push((k.clone(), v.clone()));
                    }
                }
            }
            split.insert(name.to_owned(), env);
        }
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
                .map_err(anyhow::Error::msg)?;
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
        let wanted: BTreeSet<SocketAddr> = targets.iter().map(|(a, _)| *a).collect();
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
                    shown.push((r.line, r.path.clone(), say(r, a), say(r, b)));
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

    /// Each request of the mix with the address of the member that serves it: of a member
    /// listening on several ports, the one that does not answer `Unimplemented`.
    async fn targets(
        &self,
        addresses: &BTreeMap<String, Vec<SocketAddr>>,
    ) -> anyhow::Result<Vec<(SocketAddr, Arc<Request>)>> {
        let mut chosen: BTreeMap<String, SocketAddr> = BTreeMap::new();
        let mut out = Vec::new();
        for r in &self.mix {
            let service = r.method.parent_service().full_name().to_owned();
            if let Some(a) = chosen.get(&service) {
                out.push((*a, r.clone()));
                continue;
            }
            let members = self
                .servers
                .get(r.service_name())
                .cloned()
                .unwrap_or_default();
            let candidates: Vec<SocketAddr> = members
                .iter()
                .flat_map(|m| addresses.get(m).cloned().unwrap_or_default())
                .collect();
            let mut pick = None;
            if candidates.len() == 1 {
                pick = candidates.first().copied();
            } else {
                for a in &candidates {
                    let answer = grpc::call(channel(*a)?, r).await;
                    if answer.code != tonic::Code::Unimplemented as i32
                        && answer.code != tonic::Code::Unavailable as i32
                    {
                        pick = Some(*a);
                        break;
                    }
                }
            }
            let Some(a) = pick else {
                anyhow::bail!(
                    "no address of {} answers `{}` (they listen on {:?})",
                    members.join(", "),
                    r.path,
                    candidates
                );
            };
            chosen.insert(service, a);
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
        targets: &[(SocketAddr, Arc<Request>)],
        metrics: Option<SocketAddr>,
    ) -> anyhow::Result<(SetupResult, Vec<(u64, Answer)>)> {
        status::status(
            "Running",
            &format!(
                "{setup}: warm-up {:?}, then {:?}",
                self.warmup, self.duration
            ),
        );
        let mut by_address: BTreeMap<SocketAddr, tonic::transport::Channel> = BTreeMap::new();
        let mut mix = Vec::new();
        for (a, r) in targets {
            let channel = match by_address.get(a) {
                Some(c) => c.clone(),
                None => {
                    let c = channel(*a)?;
                    by_address.insert(*a, c.clone());
                    c
                }
            };
            mix.push(Target {
                channel,
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

/// An answer as the user reads it: status, and the messages as protobuf JSON.
fn say(r: &Request, a: &Answer) -> String {
    let messages = requests::render(&r.method, &a.messages);
    if a.ok() {
        messages
    } else if a.messages.is_empty() {
        format!("{:?}: {}", tonic::Code::from_i32(a.code), a.message)
    } else {
        format!(
            "{messages}, then {:?}: {}",
            tonic::Code::from_i32(a.code),
            a.message
        )
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
        assert!(
            e.contains("`alpha` and `beta-svc` set `PORT` differently"),
            "{e}"
        );
    }
}
