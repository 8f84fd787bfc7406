//! `cargo merge query`: the query that turns spans where they live into the native CSV folder
//! `analyze` reads (`services.csv`: `name`, `inbound_qps`; `calls.csv`: `caller`, `callee`,
//! `qps`, `rpctype`, `p50_ms`, `p99_ms`), for when the spans are too many for one machine.
//!
//! Each engine's text applies the rules of the Rust importer (analyzer/src/import/spans.rs),
//! step by step with the same names: spans flattened, weighted by 1/p per trace, joined to
//! their parent across services (the caller's kind picks whose duration counts), unanswered
//! client spans sent to their peer, rates over the window, nearest-rank percentiles, and every
//! server span counted into its service's inbound total. cargo-merge embeds no engine: it
//! prints the text, the user runs it.

mod clickhouse;
mod promql;
mod spark;
mod time;

use std::io::Write;

use merge_analyzer::error::InputCode;

use crate::Failure;
use crate::cli::{QueryArgs, QueryEngine};

pub use time::{Time, parse_time};

/// What every engine's text is made from.
#[derive(Debug, Clone)]
pub struct Query {
    /// Where the spans are: a path (Spark) or a table (ClickHouse).
    pub table: String,
    /// Spark: the spans' files are Parquet, not JSON lines.
    pub parquet: bool,
    /// Spans that start in `[from, to)`, in nanoseconds since the epoch.
    pub from_ns: Option<i128>,
    pub to_ns: Option<i128>,
    /// Every trace's sampling probability, instead of what spans say.
    pub sample_rate: Option<f64>,
    /// The folder the CSV files go to.
    pub out: String,
}

impl Query {
    /// The window's seconds as a literal when `--from` and `--to` give it.
    fn window_literal(&self) -> Option<String> {
        let (from, to) = (self.from_ns?, self.to_ns?);
        Some(format!("{:.9}", (to - from) as f64 / 1e9))
    }

    /// `AND start_ns >= .. AND start_ns < ..` for the given bounds.
    fn time_filter(&self, column: &str) -> String {
        let mut s = String::new();
        if let Some(from) = self.from_ns {
            s.push_str(&format!(" AND {column} >= {from}"));
        }
        if let Some(to) = self.to_ns {
            s.push_str(&format!(" AND {column} < {to}"));
        }
        s
    }
}

pub fn exec(args: &QueryArgs) -> Result<(), Failure> {
    let (from_ns, to_ns) = (args.from.map(|t| t.0), args.to.map(|t| t.0));
    if let (Some(from), Some(to)) = (from_ns, to_ns) {
        if to <= from {
            return Err(Failure::Input(vec![crate::diagnostic::Diagnostic::usage(
                InputCode::InvalidValue,
                "--to must be after --from".to_string(),
                "give the start and the end of the time the spans cover",
            )]));
        }
    }
    let query = Query {
        table: args.table.clone().unwrap_or_else(|| match args.engine {
            QueryEngine::Spark => "spans.jsonl".to_string(),
            QueryEngine::Clickhouse => "otel_traces".to_string(),
            QueryEngine::Promql => String::new(),
        }),
        parquet: args.parquet,
        from_ns,
        to_ns,
        sample_rate: args.sample_rate,
        out: args.out.clone(),
    };
    let text = match args.engine {
        QueryEngine::Spark => spark::text(&query),
        QueryEngine::Clickhouse => clickhouse::text(&query),
        QueryEngine::Promql => promql::text(&query),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::Other(e.into()))
}
