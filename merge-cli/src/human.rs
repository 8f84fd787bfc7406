//! The human report of `analyze`: groups with their members and saving, then rejected edges,
//! heaviest first, each with the reasons and the figures behind them.

use std::io::{self, Write};

use merge_analyzer::format::qps;
use merge_analyzer::model::NodeIndex;
use merge_analyzer::{Analysis, EdgeVerdict, Reason, Traffic};

pub fn report(
    out: &mut impl Write,
    traffic: &Traffic,
    analysis: &Analysis,
    limit: usize,
) -> io::Result<()> {
    let shown = if limit == 0 { usize::MAX } else { limit };
    let name = |ix: NodeIndex| short(&traffic.service(ix).name);
    let from = traffic
        .sources
        .iter()
        .map(|(path, kind)| format!("{} ({})", path.display(), kind.describe()))
        .collect::<Vec<_>>()
        .join(", ");
    writeln!(
        out,
        "Analyzed {} services and {} calls from {from}",
        traffic.service_count(),
        traffic.call_count(),
    )?;

    let saved = analysis
        .groups
        .iter()
        .fold(0.0, |sum, g| sum + g.est_cores_saved);
    writeln!(out)?;
    writeln!(
        out,
        "Merge groups: {} (est. {} cores saved)",
        analysis.groups.len(),
        cores(saved)
    )?;
    for g in analysis.groups.iter().take(shown) {
        writeln!(
            out,
            "  {}  [{}]  est. {} cores saved",
            short(&g.name),
            g.members
                .iter()
                .map(|m| short(m))
                .collect::<Vec<_>>()
                .join(", "),
            cores(g.est_cores_saved)
        )?;
        for &i in &g.edges {
            let v = &analysis.edges[i];
            writeln!(
                out,
                "    {} -> {}  {} qps  affinity {:.2}  encoding {:.3}{}  saves {} cores{}",
                name(v.caller),
                name(v.callee),
                qps(v.qps),
                v.affinity,
                v.encoding_cost,
                if v.encoding_assumed { " (assumed)" } else { "" },
                cores(v.est_cores_saved),
                if v.joined {
                    "  (joined: both ends are in the group)"
                } else {
                    ""
                },
            )?;
        }
    }
    more(out, analysis.groups.len(), shown, "groups")?;

    let (rejected, total_rejected) = analysis.heaviest_rejected(traffic, limit);
    writeln!(out)?;
    writeln!(out, "Rejected edges: {total_rejected}, heaviest first")?;
    for v in rejected {
        let why: Vec<String> = v
            .reasons
            .iter()
            .map(|r| explain(traffic, analysis, v, r))
            .collect();
        writeln!(
            out,
            "  {} -> {}  {} qps  {}",
            name(v.caller),
            name(v.callee),
            qps(v.qps),
            why.join("; ")
        )?;
    }
    more(out, total_rejected, shown, "rejected edges")?;

    let hashed = traffic
        .graph
        .node_weights()
        .any(|s| short(&s.name) != s.name);
    if hashed {
        writeln!(out)?;
        writeln!(
            out,
            "Hash-like names are shortened to {SHORT} characters; --message-format json has them in full."
        )?;
    }
    if !analysis.assumptions.is_empty() {
        writeln!(out)?;
        writeln!(out, "Assumed (the input does not say):")?;
        for a in &analysis.assumptions {
            writeln!(out, "  {a}")?;
        }
    }
    Ok(())
}

fn more(out: &mut impl Write, total: usize, limit: usize, what: &str) -> io::Result<()> {
    if total > limit {
        writeln!(
            out,
            "  ... {} more {what} (--limit 0 lists all)",
            total - limit
        )?;
    }
    Ok(())
}

/// One reason with the figure behind it.
fn explain(traffic: &Traffic, analysis: &Analysis, v: &EdgeVerdict, r: Reason) -> String {
    let th = &analysis.thresholds;
    let sides = [v.caller, v.callee];
    let which = |f: &dyn Fn(NodeIndex) -> Option<String>| -> String {
        sides
            .iter()
            .filter_map(|&ix| f(ix))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let code = r.name();
    match r {
        Reason::NonRpc => {
            let call = &traffic.graph[v.edge];
            format!("{code} ({})", call.rpctype)
        }
        Reason::LowAffinity => {
            format!("{code} ({:.2} <= {:.2})", v.affinity, th.min_affinity)
        }
        Reason::LowEncodingCost => {
            format!(
                "{code} ({:.3} <= {:.3})",
                v.encoding_cost, th.min_encoding_cost
            )
        }
        Reason::CacheHeavy => format!(
            "{code} ({})",
            which(&|ix| analysis.flags[ix.index()]
                .cache_heavy
                .then(|| short(&traffic.service(ix).name).into_owned()))
        ),
        Reason::HighLoad => format!(
            "{code} ({})",
            which(&|ix| {
                let s = traffic.service(ix);
                let cpu = s.cpu_util.unwrap_or(f64::NAN);
                let limit = th.max_cpu_util;
                (analysis.flags[ix.index()].high_load)
                    .then(|| format!("{} cpu {cpu:.2} > {limit:.2}", short(&s.name)))
            })
        ),
        Reason::MemoryConstrained => format!(
            "{code} ({})",
            which(&|ix| {
                let s = traffic.service(ix);
                let mem = s.mem_util.unwrap_or(f64::NAN);
                let limit = th.max_mem_ratio;
                (analysis.flags[ix.index()].memory_constrained)
                    .then(|| format!("{} memory {mem:.2} > {limit:.2}", short(&s.name)))
            })
        ),
        Reason::GroupLimit => {
            let mem = th
                .max_group_mem_gib
                .map(|m| format!(" or {m} GiB"))
                .unwrap_or_default();
            format!(
                "{code} (joining would exceed {} services{mem})",
                th.max_group_size
            )
        }
    }
}

/// How many characters of a hash-like name (an anonymised trace id) the report shows.
const SHORT: usize = 12;

/// Anonymised traces name services by 64-digit hashes; like git, show their first digits.
/// The qualifier of a DGG name (`S_<id>/`) is kept.
fn short(name: &str) -> std::borrow::Cow<'_, str> {
    let (prefix, last) = name.rsplit_once('/').map_or(("", name), |(p, l)| (p, l));
    if last.len() >= 32 && last.bytes().all(|b| b.is_ascii_hexdigit()) {
        let sep = if prefix.is_empty() { "" } else { "/" };
        format!("{prefix}{sep}{}", &last[..SHORT]).into()
    } else {
        name.into()
    }
}

fn cores(c: f64) -> String {
    format!("{c:.2}")
}
