//! Call counters per (method, path taken, caller, callee), rendered as Prometheus text, so an
//! operator can see that a merged binary really calls in-process.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

/// How a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallPath {
    /// In-process, through the registry, the message passed or moved (not encoded).
    Inline,
    /// In-process through the callee's served stack, where a layer read the body bytes: the
    /// message was encoded, still without a socket or HTTP/2.
    InlineEncoded,
    /// Over the network, through the original client.
    Remote,
}

impl CallPath {
    pub fn label(self) -> &'static str {
        match self {
            CallPath::Inline => "inline",
            CallPath::InlineEncoded => "inline-encoded",
            CallPath::Remote => "remote",
        }
    }
}

type Key = (String, CallPath, String, String);

static COUNTERS: LazyLock<Mutex<BTreeMap<Key, Counter>>> = LazyLock::new(Default::default);

/// Members as the generated main lists them: `(name, version, commit)`.
pub type MemberInfo = &'static [(&'static str, &'static str, &'static str)];

/// The merged binary's group and its members, once set.
static MEMBERS: std::sync::OnceLock<(&'static str, MemberInfo)> = std::sync::OnceLock::new();

/// Says which members, at which version and commit, this binary holds: [`render`] then gives
/// `merge_member_info{group,member,version,commit} 1` for each, so a dashboard can tell what
/// runs. The first call counts.
pub fn member_info(group: &'static str, members: MemberInfo) {
    let _ = MEMBERS.set((group, members));
}

/// A shared counter; adding is one relaxed atomic operation.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The counter of `method` calls taking `path` from `caller` to `callee` (either may be empty
/// when unknown), created at zero on first use.
pub fn counter(method: &str, path: CallPath, caller: &str, callee: &str) -> Counter {
    let key = (
        method.to_string(),
        path,
        caller.to_string(),
        callee.to_string(),
    );
    let mut map = COUNTERS.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(key).or_default().clone()
}

/// Current value of one counter (0 if it never counted).
pub fn value(method: &str, path: CallPath, caller: &str, callee: &str) -> u64 {
    let key = (
        method.to_string(),
        path,
        caller.to_string(),
        callee.to_string(),
    );
    let map = COUNTERS.lock().unwrap_or_else(|p| p.into_inner());
    map.get(&key).map_or(0, Counter::get)
}

/// The calls of `method` that took `path`, from every caller to every callee.
pub fn total(method: &str, path: CallPath) -> u64 {
    let map = COUNTERS.lock().unwrap_or_else(|p| p.into_inner());
    map.iter()
        .filter(|((m, p, _, _), _)| m == method && *p == path)
        .map(|(_, c)| c.get())
        .sum()
}

/// Every counter in the Prometheus text exposition format, sorted by labels.
pub fn render() -> String {
    let map = COUNTERS.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = String::from(
        "# HELP merge_calls_total Calls between services, by the path they took.\n\
         # TYPE merge_calls_total counter\n",
    );
    for ((method, path, caller, callee), counter) in map.iter() {
        let _ = write!(
            out,
            "merge_calls_total{{method=\"{}\",path=\"{}\"",
            escape(method),
            path.label()
        );
        for (label, v) in [("caller", caller), ("callee", callee)] {
            if !v.is_empty() {
                let _ = write!(out, ",{label}=\"{}\"", escape(v));
            }
        }
        let _ = writeln!(out, "}} {}", counter.get());
    }
    if let Some((group, members)) = MEMBERS.get() {
        out.push_str(
            "# HELP merge_member_info The members of this merged binary, with version and commit.\n\
             # TYPE merge_member_info gauge\n",
        );
        for (member, version, commit) in members.iter() {
            let _ = writeln!(
                out,
                "merge_member_info{{group=\"{}\",member=\"{}\",version=\"{}\",commit=\"{}\"}} 1",
                escape(group),
                escape(member),
                escape(version),
                escape(commit)
            );
        }
    }
    out
}

/// Serves [`render`] over HTTP at `addr` (`host:port`; port 0 picks one) on a thread of its
/// own, for any GET path; returns the bound address. Std only: the merged binary's members may
/// run any async runtime, or none.
pub fn serve(addr: &str) -> std::io::Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("merge-metrics".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                // One thread a connection: a slow client holds up no one else.
                let _ = std::thread::Builder::new()
                    .name("merge-metrics-conn".into())
                    .spawn(move || answer(stream));
            }
        })?;
    Ok(bound)
}

/// Reads a request head (for at most 5 s in all) and answers with the counters.
fn answer(mut stream: std::net::TcpStream) {
    use std::io::{Read, Write as _};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let _ = stream.set_write_timeout(Some(std::time::Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() <= 64 << 10 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let body = render();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_prometheus_text() {
        counter("/m.S/A", CallPath::Inline, "gw", "pricing").add(3);
        counter("/m.S/A", CallPath::Remote, "gw", "").add(1);
        counter("/m.S/A", CallPath::Inline, "gw", "pricing").add(1);
        assert_eq!(value("/m.S/A", CallPath::Inline, "gw", "pricing"), 4);
        let text = render();
        assert!(text.starts_with("# HELP merge_calls_total"));
        assert!(
            text.contains(
                "merge_calls_total{method=\"/m.S/A\",path=\"inline\",caller=\"gw\",callee=\"pricing\"} 4\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("merge_calls_total{method=\"/m.S/A\",path=\"remote\",caller=\"gw\"} 1\n"),
            "{text}"
        );
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }

    #[test]
    fn the_members_are_rendered_with_version_and_commit() {
        member_info(
            "shop",
            &[("catalog", "0.1.0", "0a1b"), ("web", "2.0.0", "")],
        );
        // The first call counts.
        member_info("other", &[]);
        let text = render();
        assert!(
            text.contains("# TYPE merge_member_info gauge\n")
                && text.contains(
                    "merge_member_info{group=\"shop\",member=\"catalog\",version=\"0.1.0\",commit=\"0a1b\"} 1\n"
                )
                && text.contains(
                    "merge_member_info{group=\"shop\",member=\"web\",version=\"2.0.0\",commit=\"\"} 1\n"
                ),
            "{text}"
        );
    }

    #[test]
    fn counters_are_served_over_http() {
        use std::io::{Read, Write as _};
        counter("/m.S/Served", CallPath::Inline, "a", "b").add(2);
        let addr = serve("127.0.0.1:0").expect("binds");
        let mut s = std::net::TcpStream::connect(addr).expect("connects");
        s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
            .expect("writes");
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("reads");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(
            answer.contains("merge_calls_total{method=\"/m.S/Served\",path=\"inline\",caller=\"a\",callee=\"b\"} 2\n"),
            "{answer}"
        );
    }
}
