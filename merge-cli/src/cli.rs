//! The command line: `cargo merge <command>`, parsed with clap.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use merge_analyzer::thresholds::{check_group_size, check_positive, check_share};

/// Cargo runs `cargo-merge merge ARGS` for `cargo merge ARGS`; both spellings parse.
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", styles = clap::builder::Styles::styled())]
pub enum Cargo {
    Merge(MergeArgs),
}

/// Compile chatty tonic microservices into one binary, so that the gRPC calls between them
/// become in-process calls, while every team keeps its own service, repository and tests.
#[derive(Debug, Args)]
#[command(version, about, long_about = None)]
pub struct MergeArgs {
    #[command(subcommand)]
    pub command: Command,

    /// Colour in status and error lines (auto: when stderr is a terminal and NO_COLOR is unset)
    #[arg(long, value_enum, value_name = "WHEN", global = true, default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find which services should be merged, from a call graph with traffic metrics.
    ///
    /// Reads the traffic, judges every call edge (merge when the callee gets most of its
    /// traffic from the caller and (de)serialisation costs enough CPU), joins merged edges into
    /// groups, and prints the groups with their estimated saving and every rejected edge with
    /// its reasons. `--plan-out` writes the plan that `cargo merge build` reads.
    Analyze(AnalyzeArgs),

    /// Build one binary per group of a plan, calls between its members in-process.
    ///
    /// For each group, copies its members (never writing to their trees) into a merged Cargo
    /// workspace under `<out>/<group>/`, rewrites the copies' generated gRPC code so that calls
    /// between members are in-process, keeps each member on its own locked dependency versions,
    /// generates a main that runs every member's own `main` (callees first), and compiles it
    /// with cargo. Writes `merge.lock` beside the plan: what was merged, from which sources.
    Build(BuildArgs),

    /// Report what would break when a plan's members share one process.
    ///
    /// Reads each member's dependency graph (cargo metadata) and sources (syn, every local
    /// package), and reports, per group, global initialisations that collide (tracing,
    /// loggers, allocators), environment variables two members read, exits outside `main`,
    /// native libraries linked twice and versions the isolation policy cannot keep. Exit
    /// status: 0 when clean or only warnings, 1 when errors were found, 2 for bad input.
    Check(CheckArgs),

    /// Measure one group split against merged: the same requests, answers compared.
    ///
    /// Builds each member's own binary and the group's merged binary (same profile), runs the
    /// members as separate processes, then the merged binary, each with the plan's
    /// `[service.NAME.env]`, and drives the requests of `--requests` (JSON lines) at the members
    /// that serve them: closed-loop with `--concurrency` callers, or open-loop at `--rate`
    /// requests per second (latency from the intended send time). Reports requests per second,
    /// latency percentiles, CPU seconds per request of the service processes and peak memory of
    /// both setups side by side, and every request whose answer differs. Exit status: 0 when
    /// every answer matched, 1 when one differed (or something failed), 2 for bad input.
    Bench(BenchArgs),

    /// Say, without compiling, which built groups no longer match their members.
    ///
    /// Reads merge.lock (beside the plan: what each member was built from) and each member as
    /// it is now (a git member fetched and checked out at its pin), and compares: commit,
    /// package version, Cargo.lock, .proto files (a change classified wire-compatible or
    /// breaking) and what the plan says of it. Exit status: 0 when every group is fresh, 1
    /// when one is stale, 2 for bad input.
    Status(StatusArgs),

    /// Move a git member's pin in the plan, and say which groups must be rebuilt.
    ///
    /// Edits the member's `[service.NAME]` table in place (its comments and layout kept): sets
    /// `rev`, `tag` or `branch` and drops the other two.
    Bump(BumpArgs),

    /// Print the Kubernetes objects that run a group as its merged binary.
    ///
    /// From the members' own manifests (`--manifests`): their Deployments become the group's
    /// one Deployment (the merged binary's image; the union of their ports; each member's
    /// environment, namespaced as build namespaces it; their arguments as `--member-args`;
    /// resources summed, or the plan's), their Services select it, every other object passes
    /// unchanged. Without `--group`: the manifests as they are (split again). Never compiles;
    /// only Kubernetes objects go to stdout, and a render that cannot be whole is an error.
    Render(RenderArgs),

    /// Print the query that turns spans where they live into the traffic analyze reads.
    ///
    /// For spans too many for one machine: Spark SQL over OTLP spans in JSON lines or Parquet,
    /// ClickHouse SQL over the OpenTelemetry exporter's `otel_traces` table, each writing the
    /// native CSV folder (services.csv, calls.csv) with the rules of analyze's own OTLP
    /// importer; or PromQL over the service-graph, mesh and CPU series, with the commands that
    /// save Prometheus's answers (which analyze reads as they are). Prints only; runs nothing.
    Query(QueryArgs),

    /// Explain a diagnostic code: what it means, what to do, an example.
    ///
    /// Every code cargo-merge prints is in one catalogue: what `check` finds (and `build`
    /// refuses or mends), why `analyze` rejects an edge, and problems of input files and
    /// plans. Without a code, lists them all with a line each.
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The code, as printed (`global-tracing-init`, `low-affinity`, `stale-lockfile`, ...)
    #[arg(value_name = "CODE")]
    pub code: Option<String>,
}

impl Command {
    pub fn message_format(&self) -> MessageFormat {
        match self {
            Command::Analyze(a) => a.message_format,
            Command::Build(b) => b.message_format,
            Command::Bench(b) => match b.message_format {
                BenchFormat::Json => MessageFormat::Json,
                BenchFormat::Human | BenchFormat::Markdown => MessageFormat::Human,
            },
            Command::Status(s) => s.message_format,
            Command::Bump(b) => b.message_format,
            Command::Render(_) | Command::Query(_) | Command::Explain(_) => MessageFormat::Human,
            // A SARIF run's input problems are text on stderr: no log is written.
            Command::Check(c) => match c.message_format {
                CheckFormat::Json => MessageFormat::Json,
                CheckFormat::Human | CheckFormat::Sarif => MessageFormat::Human,
            },
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The merge plan (merge.toml)
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,

    /// Dependency isolation to judge versions by; overrides the plan's `isolation`
    #[arg(long, value_enum, value_name = "POLICY")]
    pub isolation: Option<IsolationArg>,

    /// Only this group of the plan (repeat for several; default: every group)
    #[arg(long, value_name = "NAME")]
    pub group: Vec<String>,

    /// Passed to cargo metadata: no network (git members are read from their last fetch)
    #[arg(long)]
    pub offline: bool,

    /// Folder where members from git are checked out (as `build --out`)
    #[arg(long, value_name = "DIR", default_value = "target/merge")]
    pub out: PathBuf,

    /// Output format: human (a report), json (JSON lines) or sarif (a SARIF 2.1.0 log for code
    /// scanning)
    #[arg(long, value_enum, value_name = "FMT", default_value_t = CheckFormat::Human)]
    pub message_format: CheckFormat,
}

/// Output of `cargo merge check`: the formats every subcommand has, and SARIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Text for a terminal: each finding with its source line and help, then a count.
    Human,
    /// One `diagnostic` JSON line per finding, then a `check-summary` line, on stdout.
    Json,
    /// One SARIF 2.1.0 log on stdout, for GitHub code scanning (upload it with
    /// github/codeql-action/upload-sarif); file paths are relative to the git work tree's root.
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IsolationArg {
    /// Every member keeps exactly the versions of its own Cargo.lock (the default)
    Exact,
    /// Cargo resolves the merged workspace; versions that change are reported
    Unify,
    /// Refuse to build when a member would run a version it does not lock
    Strict,
}

impl From<IsolationArg> for merge_analyzer::plan::Isolation {
    fn from(i: IsolationArg) -> Self {
        match i {
            IsolationArg::Exact => Self::Exact,
            IsolationArg::Unify => Self::Unify,
            IsolationArg::Strict => Self::Strict,
        }
    }
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The merge plan (merge.toml, as `cargo merge analyze --plan-out` writes it)
    #[arg(long, value_name = "FILE", required_unless_present = "traffic")]
    pub plan: Option<PathBuf>,

    /// Analyze this traffic first (default thresholds, or the file's own `[thresholds]`),
    /// write the plan to `<out>/merge.toml`, and build it: the whole job in one command
    #[arg(long, value_name = "PATH", conflicts_with = "plan")]
    pub traffic: Option<PathBuf>,

    /// Folder of the merged workspaces, one per group
    #[arg(long, value_name = "DIR", default_value = "target/merge")]
    pub out: PathBuf,

    /// Dependency isolation; overrides the plan's `isolation`
    #[arg(long, value_enum, value_name = "POLICY")]
    pub isolation: Option<IsolationArg>,

    /// Build with the release profile
    #[arg(long)]
    pub release: bool,

    /// Only this group of the plan (repeat for several; default: every group)
    #[arg(long, value_name = "NAME")]
    pub group: Vec<String>,

    /// Build despite `cargo merge check` errors of this code that build cannot mend (repeat
    /// for several; `cargo merge explain CODE` says what each is)
    #[arg(long, value_name = "CODE", value_parser = check_code)]
    pub allow: Vec<String>,

    /// Members' lockfiles are always read with cargo's --locked (never changed); this also
    /// holds the merged workspace's Cargo.lock once a build has completed it
    #[arg(long)]
    pub locked: bool,

    /// Passed to cargo: no network
    #[arg(long)]
    pub offline: bool,

    /// --locked and --offline
    #[arg(long)]
    pub frozen: bool,

    /// Passed to cargo: build for this target triple
    #[arg(long, value_name = "TRIPLE")]
    pub target: Option<String>,

    /// Passed to cargo: features of the merged binary's package
    #[arg(long, value_name = "FEATURES")]
    pub features: Vec<String>,

    /// Passed to cargo: parallel jobs
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<u32>,

    /// Also write outputs to `$GITHUB_OUTPUT` and a Markdown summary to
    /// `$GITHUB_STEP_SUMMARY`, for a GitHub Actions step (the repository's action.yml)
    #[arg(long)]
    pub github: bool,

    /// Git members are checked out already (bench did it): no second fetch, so both setups
    /// run one commit
    #[arg(skip)]
    pub checked_out: bool,

    /// Output format (json: one `merged-binary` line per group; cargo's own output goes to
    /// stderr either way)
    #[arg(long, value_enum, value_name = "FMT", default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The merge plan (members, their manifests and `[service.NAME.env]`)
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,

    /// The group to measure
    #[arg(long, value_name = "NAME")]
    pub group: String,

    /// The requests, JSON lines, sent in order, round and round: gRPC `{"method":
    /// "/pkg.Svc/Method", "message": {..}, "metadata": {..}}` (the message in protobuf JSON, a
    /// list of them for a client-streaming method) or HTTP `{"http": {"method": "GET", "path":
    /// "/..", "headers": {..}, "body": .., "member": ".."}}` to a member's HTTP front
    #[arg(long, value_name = "FILE")]
    pub requests: PathBuf,

    /// How long each setup is measured (after its warm-up): `30s`, `500ms`, `2m`
    #[arg(long, value_name = "TIME", default_value = "30s", value_parser = parse_positive_duration)]
    pub duration: std::time::Duration,

    /// A call not answered within this time counts as unanswered (not Ok)
    #[arg(long, value_name = "TIME", default_value = "10s", value_parser = parse_positive_duration)]
    pub timeout: std::time::Duration,

    /// How long each setup runs the load before it is measured
    #[arg(long, value_name = "TIME", default_value = "5s", value_parser = parse_duration)]
    pub warmup: std::time::Duration,

    /// Open loop: requests per second, sent at fixed times whatever the answers do
    #[arg(long, value_name = "R", conflicts_with = "concurrency", value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Closed loop: this many callers, each sending its next request when its last is
    /// answered (the default, with 8 callers, when --rate is not given)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: Option<u32>,

    /// Build and run both setups with the release profile
    #[arg(long)]
    pub release: bool,

    /// Folder of the merged workspace and the run's logs (`<out>/bench/<group>/`)
    #[arg(long, value_name = "DIR", default_value = "target/merge")]
    pub out: PathBuf,

    /// Build despite `cargo merge check` errors of this code (as `build --allow`)
    #[arg(long, value_name = "CODE", value_parser = check_code)]
    pub allow: Vec<String>,

    /// Output: a table, JSON lines (`bench-result` per setup, then `bench-compare`), or
    /// Markdown for a pull-request comment
    #[arg(long, value_enum, value_name = "FMT", default_value_t = BenchFormat::Human)]
    pub message_format: BenchFormat,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The merge plan; merge.lock is read beside it
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,

    /// Only this group of the plan (repeat for several; default: every group)
    #[arg(long, value_name = "NAME")]
    pub group: Vec<String>,

    /// Folder where members from git are checked out (as `build --out`)
    #[arg(long, value_name = "DIR", default_value = "target/merge")]
    pub out: PathBuf,

    /// No network: git members as last fetched, cargo metadata offline
    #[arg(long)]
    pub offline: bool,

    /// Also write outputs to `$GITHUB_OUTPUT` and a Markdown summary to
    /// `$GITHUB_STEP_SUMMARY`, for a GitHub Actions step (the repository's action.yml)
    #[arg(long)]
    pub github: bool,

    /// Output format (json: one `group-status` line per group)
    #[arg(long, value_enum, value_name = "FMT", default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("pin").required(true).args(["rev", "tag", "branch"])))]
pub struct BumpArgs {
    /// The member (its name in the plan)
    pub member: String,

    /// Pin it to this commit (or anything `git rev-parse` reads: a tag name works too)
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,

    /// Pin it to this tag
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Follow this branch
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,

    /// The merge plan
    #[arg(long, value_name = "FILE", default_value = "merge.toml")]
    pub plan: PathBuf,

    /// Also write outputs to `$GITHUB_OUTPUT` and a Markdown summary to
    /// `$GITHUB_STEP_SUMMARY`, for a GitHub Actions step (the repository's action.yml)
    #[arg(long)]
    pub github: bool,

    /// Output format (json: one `bumped` line)
    #[arg(long, value_enum, value_name = "FMT", default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The merge plan
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,

    /// The folder of the members' own Kubernetes manifests (YAML, read recursively)
    #[arg(long, value_name = "DIR")]
    pub manifests: PathBuf,

    /// The group to run merged (without it: the manifests as they are)
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,

    /// The merged binary's container image (with --group)
    #[arg(long, value_name = "REF", requires = "group")]
    pub image: Option<String>,

    /// Folder where members from git are checked out (as `build --out`)
    #[arg(long, value_name = "DIR", default_value = "target/merge")]
    pub out: PathBuf,

    /// No network: git members as last fetched, cargo metadata offline
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Where the query runs
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub engine: QueryEngine,

    /// Where the spans are: Spark, a path of OTLP JSON lines (the collector's file exporter;
    /// globs allowed) or Parquet [default: spans.jsonl]; ClickHouse, the exporter's table
    /// [default: otel_traces]
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,

    /// Spark: the spans are Parquet files with the OTLP records' columns, not JSON lines
    #[arg(long)]
    pub parquet: bool,

    /// Only spans that start at or after this time (RFC 3339 in UTC, or seconds since the
    /// epoch); with --to, the rates are over the time between them
    #[arg(long, value_name = "TIME", value_parser = crate::query::parse_time)]
    pub from: Option<crate::query::Time>,

    /// Only spans that start before this time
    #[arg(long, value_name = "TIME", value_parser = crate::query::parse_time)]
    pub to: Option<crate::query::Time>,

    /// Sampling probability of the traces: every span counts 1/P (else what spans say, as
    /// analyze --sample-rate)
    #[arg(long, value_name = "P", value_parser = probability)]
    pub sample_rate: Option<f64>,

    /// The folder the query's CSV files (or Prometheus answers) are written to
    #[arg(long, value_name = "DIR", default_value = "traffic")]
    pub out: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryEngine {
    /// Spark SQL (spark-sql -f, or spark.sql per statement)
    Spark,
    /// ClickHouse SQL (clickhouse-client --multiquery)
    Clickhouse,
    /// PromQL, with curl commands for Prometheus's HTTP API
    Promql,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchFormat {
    Human,
    Json,
    Markdown,
}

/// A flag's value that does not hold; clap prints it after the flag's name.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum FlagError {
    #[error("`{0}` is not a duration (say 30s, 500ms or 2m)")]
    Duration(String),
    #[error("`{0}`: the unit is ms, s, m or h")]
    Unit(String),
    #[error("`{0}`: a time above zero")]
    ZeroTime(String),
    #[error("`{0}` is not a rate: requests per second, above 0")]
    Rate(String),
    #[error("`{0}` is not a number")]
    Number(String),
    #[error("`{0}` is not a whole number")]
    Whole(String),
    #[error("{0} is not a sampling probability: give a number above 0, at most 1")]
    Probability(f64),
    #[error(transparent)]
    Range(#[from] merge_analyzer::thresholds::RangeError),
    #[error(
        "`{0}` cannot be allowed: a native library cannot be linked twice, and versions are the isolation policy's (`--isolation exact` vendors them)"
    )]
    NotAllowable(String),
    #[error("`{0}` is not a check code; `cargo merge explain` lists them")]
    NotCode(String),
}

/// `30s`, `500ms`, `2m`, `1h`, or plain seconds (`30`, `0.5`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, FlagError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| FlagError::Duration(text.to_owned()))?;
    let seconds = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(FlagError::Unit(text.to_owned())),
    };
    std::time::Duration::try_from_secs_f64(seconds)
        .map_err(|_| FlagError::Duration(text.to_owned()))
}

fn parse_positive_duration(text: &str) -> Result<std::time::Duration, FlagError> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(FlagError::ZeroTime(text.to_owned())),
        d => Ok(d),
    }
}

fn parse_rate(text: &str) -> Result<f64, FlagError> {
    match text.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 1e7 => Ok(r),
        _ => Err(FlagError::Rate(text.to_owned())),
    }
}

/// Output of `analyze` and `build` (`check` has its own, `CheckFormat`, with SARIF too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// Text for a terminal.
    Human,
    /// One JSON object per line on stdout, each with a "reason".
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrafficFormat {
    /// The native format (README: Traffic input): a .toml or .json file, or a folder with
    /// services.csv and calls.csv
    Native,
    /// Alibaba microservice trace: a folder with MSCallGraph (and MSResource) CSV files
    Alibaba,
    /// DGG call-graph patterns: folders S_<id>/graphK.json
    Dgg,
    /// OpenTelemetry OTLP JSON: the collector's file exporter (a request per line) or documents
    Otlp,
    /// Jaeger JSON, as its query API and UI download give it ({"data": [traces]})
    Jaeger,
    /// Zipkin v2 JSON: a list of spans, or of traces
    Zipkin,
    /// Jaeger or Zipkin dependency links: {"parent", "child", "callCount"}
    Links,
    /// Prometheus: text exposition (scrapes) or the HTTP API's query JSON
    Prometheus,
}

impl TrafficFormat {
    pub fn format(self) -> merge_analyzer::import::Format {
        use merge_analyzer::import::Format;
        match self {
            TrafficFormat::Native => Format::Native,
            TrafficFormat::Alibaba => Format::Alibaba,
            TrafficFormat::Dgg => Format::Dgg,
            TrafficFormat::Otlp => Format::Otlp,
            TrafficFormat::Jaeger => Format::Jaeger,
            TrafficFormat::Zipkin => Format::Zipkin,
            TrafficFormat::Links => Format::Links,
            TrafficFormat::Prometheus => Format::Prometheus,
        }
    }
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Traffic to read: a native .toml/.json file or CSV folder, traces (OTLP JSON, Jaeger,
    /// Zipkin, dependency links), Prometheus series, an Alibaba trace or DGG folder; the format is
    /// told from the content. Repeat it to combine inputs: edges from traces, CPU from Prometheus
    #[arg(long, value_name = "PATH", required = true)]
    pub traffic: Vec<PathBuf>,

    /// Format of every --traffic input, when the guess from the content is not wanted
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<TrafficFormat>,

    /// Seconds the traffic covers: divides counts into rates for inputs without timestamps
    /// (dependency links, one scrape of a counter), and overrides the spans' own time span
    #[arg(long, value_name = "SECONDS", value_parser = positive)]
    pub window: Option<f64>,

    /// Sampling probability of the traces (0.01: one trace in a hundred kept): every span counts
    /// 1/P. Without it, spans that say their probability (tracestate, Jaeger's sampler tags)
    /// count by it, others once
    #[arg(long, value_name = "P", value_parser = probability)]
    pub sample_rate: Option<f64>,

    /// Folder of folded stack profiles (perf script | stackcollapse-perf, inferno), one per
    /// service and named after it (`pricing.folded`, `S_1/MS_2.folded`; .collapsed and .txt
    /// too): a service's encoding cost becomes its share of samples in (de)serialisation frames,
    /// replacing the traffic file's
    #[arg(long, value_name = "DIR")]
    pub profiles: Option<PathBuf>,

    /// A frame substring that counts as (de)serialisation in profiles; repeat it to give
    /// several. Replaces the default list (prost::, tonic::codec, serde::, serde_json::, ...)
    #[arg(long = "encoding-frame", value_name = "PATTERN", requires = "profiles")]
    pub encoding_frames: Vec<String>,

    /// Write the merge plan (merge.toml) to this file
    #[arg(long, value_name = "FILE")]
    pub plan_out: Option<PathBuf>,

    /// Write a Graphviz picture of the graph, groups and verdicts to this file
    #[arg(long, value_name = "FILE")]
    pub dot: Option<PathBuf>,

    #[command(flatten)]
    pub thresholds: ThresholdArgs,

    /// Encoding cost used for an edge whose input gives none (traces carry no CPU profile)
    #[arg(long, value_name = "SHARE", default_value_t = 0.05, value_parser = share)]
    pub assume_encoding_cost: f64,

    /// Cores used for a service whose input gives none
    #[arg(long, value_name = "CORES", default_value_t = 1.0, value_parser = positive)]
    pub assume_cores: f64,

    /// How many groups (human report) and rejected edges (both formats) to list, heaviest
    /// first; 0 lists all. JSON always lists every group and merged edge
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,

    /// Output format
    #[arg(long, value_enum, value_name = "FMT", default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
}

/// Selection thresholds; each overrides the traffic file's `[thresholds]` and the default.
#[derive(Debug, Args)]
#[command(next_help_heading = "Thresholds")]
pub struct ThresholdArgs {
    /// Merge an edge only if its affinity (its qps / all qps into the callee) is above this [default: 0.90]
    #[arg(long, value_name = "SHARE", value_parser = share)]
    pub min_affinity: Option<f64>,
    /// Merge an edge only if its encoding cost is above this [default: 0.03]
    #[arg(long, value_name = "SHARE", value_parser = share)]
    pub min_encoding_cost: Option<f64>,
    /// Reject services whose mean CPU utilisation is above this [default: 0.80]
    #[arg(long, value_name = "SHARE", value_parser = share)]
    pub max_cpu_util: Option<f64>,
    /// Reject services using more than this share of their memory limit [default: 0.85]
    #[arg(long, value_name = "SHARE", value_parser = share)]
    pub max_mem_ratio: Option<f64>,
    /// Most services in one group [default: 8]
    #[arg(long, value_name = "N", value_parser = group_size)]
    pub max_group_size: Option<usize>,
    /// Most memory in one group, in GiB of summed mem_used_gib [default: unlimited]
    #[arg(long, value_name = "GIB", value_parser = positive)]
    pub max_group_mem_gib: Option<f64>,
}

impl ThresholdArgs {
    pub fn overrides(&self) -> merge_analyzer::ThresholdOverrides {
        merge_analyzer::ThresholdOverrides {
            min_affinity: self.min_affinity,
            min_encoding_cost: self.min_encoding_cost,
            max_cpu_util: self.max_cpu_util,
            max_mem_ratio: self.max_mem_ratio,
            max_group_size: self.max_group_size,
            max_group_mem_gib: self.max_group_mem_gib,
        }
    }
}

fn number(s: &str) -> Result<f64, FlagError> {
    s.parse::<f64>()
        .map_err(|_| FlagError::Number(s.to_owned()))
}

fn probability(s: &str) -> Result<f64, FlagError> {
    let p = number(s)?;
    if p > 0.0 && p <= 1.0 {
        Ok(p)
    } else {
        Err(FlagError::Probability(p))
    }
}

fn share(s: &str) -> Result<f64, FlagError> {
    Ok(check_share(number(s)?)?)
}

fn positive(s: &str) -> Result<f64, FlagError> {
    Ok(check_positive(number(s)?)?)
}

/// A check code `--allow` may name.
fn check_code(s: &str) -> Result<String, FlagError> {
    match merge_analyzer::codes::CheckCode::from_name(s) {
        Some(code) if code.allowable() => Ok(code.name().to_owned()),
        Some(code) => Err(FlagError::NotAllowable(code.to_string())),
        None => Err(FlagError::NotCode(s.to_owned())),
    }
}

fn group_size(s: &str) -> Result<usize, FlagError> {
    let n = s
        .parse::<usize>()
        .map_err(|_| FlagError::Whole(s.to_owned()))?;
    Ok(check_group_size(n)?)
}

/// The process arguments, with `merge` inserted when the binary is run as `cargo-merge
/// analyze ...` rather than through cargo.
pub fn normalized_args() -> Vec<OsString> {
    normalize(std::env::args_os().collect())
}

fn normalize(mut args: Vec<OsString>) -> Vec<OsString> {
    if args.get(1).is_none_or(|a| a != "merge") {
        args.insert(1, "merge".into());
    }
    args
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_take_a_unit_and_zero_is_refused_where_a_time_is_needed() {
        use std::time::Duration;
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_positive_duration("0s").is_err());
        for bad in ["", "s", "10x", "-1s", "1e3s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_rate("0").is_err() && parse_rate("nan").is_err());
        assert_eq!(parse_rate("250"), Ok(250.0));
    }

    use clap::CommandFactory;

    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cargo::command().debug_assert();
    }

    #[test]
    fn both_spellings_parse() {
        for args in [
            vec!["cargo-merge", "merge", "analyze", "--traffic", "t.toml"],
            vec!["cargo-merge", "analyze", "--traffic", "t.toml"],
        ] {
            let args = normalize(args.into_iter().map(OsString::from).collect());
            let Cargo::Merge(m) = Cargo::try_parse_from(args).expect("parses");
            let Command::Analyze(a) = m.command else {
                panic!("analyze parses as analyze");
            };
            assert_eq!(a.traffic, [PathBuf::from("t.toml")]);
        }
        let args = [
            "cargo",
            "merge",
            "build",
            "--plan",
            "p.toml",
            "--isolation",
            "strict",
        ];
        let Cargo::Merge(m) = Cargo::try_parse_from(args).expect("parses");
        let Command::Build(b) = m.command else {
            panic!("build parses as build");
        };
        assert_eq!(b.isolation, Some(IsolationArg::Strict));
        assert_eq!(b.out, PathBuf::from("target/merge"));
    }

    #[test]
    fn only_check_writes_sarif() {
        let parse = |args: &[&str]| Cargo::try_parse_from(args).map(|_| ());
        let check = [
            "cargo",
            "merge",
            "check",
            "--plan",
            "p.toml",
            "--message-format",
            "sarif",
        ];
        let Cargo::Merge(m) = Cargo::try_parse_from(check).expect("parses");
        let Command::Check(c) = &m.command else {
            panic!("check parses as check");
        };
        assert_eq!(c.message_format, CheckFormat::Sarif);
        assert_eq!(m.command.message_format(), MessageFormat::Human);
        for command in [
            ["analyze", "--traffic", "t.toml"],
            ["build", "--plan", "p.toml"],
        ] {
            let mut args = vec!["cargo", "merge"];
            args.extend(command);
            args.extend(["--message-format", "sarif"]);
            let e = parse(&args).expect_err("sarif is check's alone");
            assert!(
                e.to_string().contains("possible values: human, json"),
                "{e}"
            );
        }
    }

    #[test]
    fn thresholds_outside_their_range_are_refused() {
        let parse = |flag: &str, v: &str| {
            let args = ["cargo", "merge", "analyze", "--traffic", "t.toml", flag, v];
            Cargo::try_parse_from(args).map(|_| ())
        };
        assert!(parse("--min-affinity", "0.95").is_ok());
        let e = parse("--min-affinity", "1.5").expect_err("out of range");
        assert!(e.to_string().contains("outside the range 0..=1"), "{e}");
        assert!(parse("--max-group-size", "1").is_err());
        assert!(parse("--max-group-mem-gib", "-3").is_err());
        assert!(parse("--min-encoding-cost", "abc").is_err());
    }
}
