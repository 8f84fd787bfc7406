//! Folded stack profiles: a service's encoding cost measured as its share of CPU samples in
//! (de)serialisation frames.
//!
//! `--profiles DIR` holds one file per service in the folded format of inferno and of
//! `perf script | stackcollapse-perf.pl`: each line is `frame;frame;...;frame COUNT`, outermost
//! frame first. Frames may contain spaces (`<T as prost::message::Message>::encode_raw`), so the
//! count is whatever follows the line's last whitespace; blank lines are skipped. Counts are
//! numbers of samples (fractional counts, as FlameGraph accepts, are allowed).
//!
//! A file's service is its path below `DIR` without the extension, with `/` between folders:
//! `pricing.folded` is `pricing`, `S_123/MS_x.folded` the DGG service `S_123/MS_x`. Files
//! ending in `.folded`, `.collapsed` or `.txt` are profiles; other files (a README.md) and
//! hidden entries are ignored. The service's encoding cost becomes (samples of stacks in which
//! some frame contains some pattern) / (all samples of the file), replacing any value of the
//! traffic file. Nothing is changed unless every profile reads cleanly; all problems are
//! reported together, each with its file and line.
//!
//! # The default patterns
//!
//! [`DEFAULT_PATTERNS`] names crates whose code is all (de)serialisation (`prost::`, `serde::`,
//! `serde_json::`, ...), tonic's codec layer (`tonic::codec`, `tonic_prost::`: gRPC message
//! framing and the calls into prost) and the methods protobuf generators emit per message
//! (`::encode_raw`, `::merge_field`, `::encoded_len`, for other generators and for frames
//! demangled without their trait). Demangled trait paths are the defining ones
//! (`prost::message::Message`, never the re-export `prost::Message`), so crate prefixes are what
//! match; their trailing `::` keeps `serde::` off `serde_yaml::`. Left out on purpose: bare words
//! like `encode` (they match `h2::codec`, HPACK, base64, compression), and `bytes::buf`: a buffer
//! write under an encoder already has a prost or serde frame below it, so that pattern would only
//! add the HTTP/2 and socket I/O of hyper and h2. `--encoding-frame` replaces the list.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use rustc_hash::FxHashMap;
use walkdir::WalkDir;

use crate::error::{ImportError, InputCode, InputError, Problems};
use crate::model::{NodeIndex, Traffic};

/// Frame patterns (substrings) that count as (de)serialisation by default (see the module doc).
#[rustfmt::skip]
pub const DEFAULT_PATTERNS: &[&str] = &[
    // protobuf: prost, the methods generated per message, tonic's codec layer, other runtimes
    "prost::", "::encode_raw", "::merge_field", "::encoded_len", "tonic::codec", "tonic_prost::",
    "protobuf::", "quick_protobuf::",
    // serde and the formats built on it or beside it
    "serde::", "serde_json::", "simd_json::", "sonic_rs::", "bincode::", "rmp_serde::",
    "ciborium::", "postcard::",
];

/// File extensions that hold folded profiles.
const EXTENSIONS: &[&str] = &["folded", "collapsed", "txt"];

/// Sets the encoding cost of every service that has a profile under `dir`; returns notes for
/// the report (a traffic-file value replaced, a profile with no encoding frame at all).
pub fn apply(
    traffic: &mut Traffic,
    dir: &Path,
    patterns: &[String],
) -> Result<Vec<String>, ImportError> {
    let meta = std::fs::metadata(dir).map_err(|e| ImportError::io(dir, e))?;
    if !meta.is_dir() {
        let message = "is not a folder: profiles are a folder of folded stacks, one per service";
        return Err(ImportError::one(InputError::new(dir, None, message)));
    }
    let mut problems = Problems::default();
    for p in patterns {
        let message = if p.is_empty() {
            "an empty encoding-frame pattern would count every frame".to_string()
        } else if p.contains(';') {
            format!("encoding-frame pattern `{p}` contains `;`, which separates frames")
        } else {
            continue;
        };
        problems.push(InputError::new(dir, None, message).code(InputCode::InvalidValue));
    }

    let mut profiles = Vec::new();
    let mut claimed: FxHashMap<NodeIndex, String> = FxHashMap::default();
    let walk = WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            ImportError::io(&path, e.into())
        })?;
        let path = entry.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !entry.file_type().is_file() || !EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(ext)) {
            continue;
        }
        let rel = path.strip_prefix(dir).unwrap_or(path);
        let Some(name) = service_name(rel) else {
            let message = "the file name is not UTF-8, so it names no service";
            problems.push(InputError::new(path, None, message));
            continue;
        };
        let shown = format!("{name}.{ext}");
        let Some(service) = traffic.find(&name) else {
            let message = unknown(traffic, &shown, &name, ext);
            problems.push(InputError::new(path, None, message).code(InputCode::UnknownService));
            continue;
        };
        if let Some(first) = claimed.get(&service) {
            let message = format!("profiles `{first}` and `{shown}` both give service `{name}`");
            problems.push(InputError::new(path, None, message).code(InputCode::DuplicateEntry));
            continue;
        }
        claimed.insert(service, shown.clone());
        if let Some((total, encoding)) = count(path, patterns, &mut problems)? {
            profiles.push((service, shown, total, encoding));
        }
    }
    let profiles = problems.finish(profiles)?;
    if profiles.is_empty() {
        let shown = dir.display();
        return Ok(vec![format!(
            "no .folded, .collapsed or .txt profiles in `{shown}`"
        )]);
    }

    let mut notes = Vec::new();
    for (ix, shown, total, encoding) in profiles {
        let share = encoding / total;
        let service = traffic.service_mut(ix);
        let name = &service.name;
        if let Some(old) = service.encoding_cost.replace(share) {
            let (old, new) = (fmt_share(old), fmt_share(share));
            notes.push(format!(
                "profile of `{name}` replaces its encoding_cost {old} with {new} ({encoding} of \
                 {total} samples in encoding frames)"
            ));
        }
        if encoding == 0.0 {
            notes.push(format!(
                "no frame of profile `{shown}` matches an encoding-frame pattern, so `{name}` \
                 gets encoding cost 0"
            ));
        }
    }
    Ok(notes)
}

/// `S_1/MS_x.folded` -> `S_1/MS_x`; `None` when a part is not UTF-8.
fn service_name(rel: &Path) -> Option<String> {
    let dirs = rel.parent()?.iter().map(|c| c.to_str());
    let mut parts = dirs.collect::<Option<Vec<_>>>()?;
    parts.push(rel.file_stem()?.to_str()?);
    Some(parts.join("/"))
}

/// The message for a profile whose name is not a service, with a hint at the right name.
fn unknown(traffic: &Traffic, shown: &str, name: &str, ext: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    let names = || traffic.graph.node_weights().map(|s| s.name.as_str());
    let near = names().find(|n| n.eq_ignore_ascii_case(name) || n.rsplit('/').next() == Some(base));
    let hint = match near {
        Some(n) => format!("did you mean `{n}` (file `{n}.{ext}`)?"),
        None => {
            let some: Vec<String> = names().take(3).map(|n| format!("`{n}`")).collect();
            format!("services are named like {}", some.join(", "))
        }
    };
    format!("profile `{shown}` names no service in the traffic (no service is `{name}`); {hint}")
}

/// Reads one profile: `Some((all samples, encoding samples))`, or `None` after recording its
/// problems.
fn count(
    path: &Path,
    patterns: &[String],
    problems: &mut Problems,
) -> Result<Option<(f64, f64)>, ImportError> {
    let file = File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let (mut total, mut encoding, mut line, mut bad) = (0.0, 0.0, 0, false);
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf);
        if read.map_err(|e| ImportError::io(path, e))? == 0 {
            break;
        }
        line += 1;
        match parse_line(&String::from_utf8_lossy(&buf), patterns) {
            Ok(None) => {}
            Ok(Some((n, is_encoding))) => {
                total += n;
                encoding += if is_encoding { n } else { 0.0 };
            }
            Err(e) => {
                bad = true;
                problems.push(InputError::at(path, line, e.to_string()));
            }
        }
    }
    if !f64::is_finite(total) {
        let message = "the sample counts add up to more than a number can hold";
        problems.push(InputError::new(path, None, message));
        bad = true;
    }
    if total == 0.0 && !bad {
        let message = "the profile has no samples (it is empty or every count is 0)";
        problems.push(InputError::new(path, None, message));
    }
    Ok((total > 0.0 && !bad).then_some((total, encoding)))
}

/// A folded profile line that is not `frame;frame;... COUNT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum BadLine {
    #[error("expected `frame;frame;... COUNT`, found no count after the stack")]
    NoCount,
    #[error("expected `frame;frame;... COUNT`: `{0}` is not a number of samples")]
    NotCount(String),
}

/// `Ok(None)` for a blank line, else the line's count and whether it is an encoding stack.
fn parse_line(line: &str, patterns: &[String]) -> Result<Option<(f64, bool)>, BadLine> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let Some((stack, count)) = line.rsplit_once(|c: char| c.is_ascii_whitespace()) else {
        return Err(BadLine::NoCount);
    };
    let n = count
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| BadLine::NotCount(count.to_owned()))?;
    let is_encoding = stack
        .split(';')
        .any(|frame| patterns.iter().any(|p| frame.contains(p.as_str())));
    Ok(Some((n, is_encoding)))
}

/// A share for a message: at most four decimals, no trailing zeros.
fn fmt_share(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::model::{Service, SourceKind};

    const H2: &str =
        "<hyper::proto::h2::server::H2Stream<F,B> as core::future::future::Future>::poll";

    /// Services from `"a=0.08 b"`: names, each with its encoding cost if one is given.
    fn traffic(services: &str) -> Traffic {
        let mut t = Traffic::new(SourceKind::Native);
        for item in services.split_whitespace() {
            let (name, cost) = item.split_once('=').unwrap_or((item, ""));
            let mut s = Service::named(name);
            s.encoding_cost = cost.parse().ok();
            t.add_service(s).expect("distinct names");
        }
        t
    }

    fn defaults() -> Vec<String> {
        DEFAULT_PATTERNS.iter().map(|s| s.to_string()).collect()
    }

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (rel, text) in files {
            let path = dir.join(rel);
            fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
            fs::write(path, text).expect("write");
        }
    }

    fn cost(t: &Traffic, name: &str) -> Option<f64> {
        t.service(t.find(name).expect("service")).encoding_cost
    }

    /// The input errors of `r`, one a line, with `dir/` left out of their paths.
    fn errors(r: Result<Vec<String>, ImportError>, dir: &Path) -> String {
        let prefix = format!("{}{}", dir.display(), std::path::MAIN_SEPARATOR);
        match r {
            Err(e @ ImportError::Input { .. }) => e.to_string().replace(&prefix, ""),
            other => panic!("expected input errors, got {other:?}"),
        }
    }

    #[test]
    fn counts_that_overflow_are_an_error_not_nan() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("a.folded"), "x;prost::enc 1e308\ny 1e308\n").expect("write");
        let mut t = Traffic::new(SourceKind::Native);
        let _ = t.add_service(Service::named("a"));
        let e = apply(&mut t, dir.path(), &[String::from("prost::")]).expect_err("overflow");
        assert!(e.to_string().contains("add up to more than"), "{e}");
    }

    #[test]
    fn worked_example_with_spaces_in_frames() {
        let dir = tempfile::tempdir().expect("tempdir");
        let w = format!("tokio-runtime-w;tokio::runtime::task::raw::poll;{H2}");
        let profile = format!(
            "{w};<shop::Quote as prost::message::Message>::encode_raw;prost::encoding::encode_varint 7\n\n\
             {w};<tonic_prost::codec::ProstDecoder<U> as tonic::codec::Decoder>::decode 5\r\n\
             {w};pricing::engine::quote;alloc::raw_vec::RawVec<T,A>::grow_one 60\n\
             {w};h2::codec::framed_write::FramedWrite<T,B>::flush;<bytes::bytes_mut::BytesMut as \
             bytes::buf::buf_mut::BufMut>::put_slice 20\n\
             tokio-runtime-w;mio::poll::Poll::poll;epoll_wait 8\n"
        );
        write(
            dir.path(),
            &[("pricing.folded", &profile), ("README.md", "1\n")],
        );
        let mut t = traffic("pricing=0.08 catalog");
        let notes = apply(&mut t, dir.path(), &defaults()).expect("reads");
        assert_eq!(cost(&t, "pricing"), Some(0.12));
        assert_eq!(cost(&t, "catalog"), None);
        let note = "profile of `pricing` replaces its encoding_cost 0.08 with 0.12 (12 of 100 \
                    samples in encoding frames)";
        assert_eq!(notes, [note]);
    }

    #[test]
    fn custom_patterns_replace_the_defaults_and_nested_names_are_qualified() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = [
            (
                "S_1/MS_a.collapsed",
                "main;my_codec::x;prost::y 3\nmain;prost::x 1\n",
            ),
            ("S_2/deeper/MS_b.TXT", "main;serde::ser 2\nmain;work 6\n"),
            (".hidden/x.folded", "garbage"),
        ];
        write(dir.path(), &files);
        let mut t = traffic("S_1/MS_a S_2/deeper/MS_b");
        let notes = apply(&mut t, dir.path(), &["my_codec::".into()]).expect("reads");
        assert_eq!(cost(&t, "S_1/MS_a"), Some(0.75));
        assert_eq!(cost(&t, "S_2/deeper/MS_b"), Some(0.0));
        let note = "no frame of profile `S_2/deeper/MS_b.TXT` matches an encoding-frame pattern, \
                    so `S_2/deeper/MS_b` gets encoding cost 0";
        assert_eq!(notes, [note]);
    }

    #[test]
    fn bad_profiles_are_reported_together_with_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = "a;b 3\n<a as b>::c;d\na;b 1.5x\n\na;b -2\nmain;x\n";
        let files = [
            ("pricing.folded", bad),
            ("catalog.txt", "\n"),
            ("inventory.folded", "a;b 0\n"),
            ("S_9/pricing.folded", "a 1\n"),
            ("nosuch.folded", "a 1\n"),
            ("search.collapsed", "a 1\n"),
            ("search.folded", "a 1\n"),
        ];
        write(dir.path(), &files);
        let mut t = traffic("pricing=0.5 catalog inventory search");
        let expect = "\
S_9/pricing.folded: profile `S_9/pricing.folded` names no service in the traffic (no service is `S_9/pricing`); did you mean `pricing` (file `pricing.folded`)?
catalog.txt: the profile has no samples (it is empty or every count is 0)
inventory.folded: the profile has no samples (it is empty or every count is 0)
nosuch.folded: profile `nosuch.folded` names no service in the traffic (no service is `nosuch`); services are named like `pricing`, `catalog`, `inventory`
pricing.folded:2: expected `frame;frame;... COUNT`: `b>::c;d` is not a number of samples
pricing.folded:3: expected `frame;frame;... COUNT`: `1.5x` is not a number of samples
pricing.folded:5: expected `frame;frame;... COUNT`: `-2` is not a number of samples
pricing.folded:6: expected `frame;frame;... COUNT`, found no count after the stack
search.folded: profiles `search.collapsed` and `search.folded` both give service `search`";
        let got = errors(apply(&mut t, dir.path(), &defaults()), dir.path());
        assert_eq!(got, expect);
        assert_eq!(cost(&t, "pricing"), Some(0.5), "nothing changes on error");
    }

    #[test]
    fn bad_patterns_and_missing_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut t = traffic("pricing");
        let patterns = ["".to_string(), "a;b".to_string()];
        let e = apply(&mut t, dir.path(), &patterns).expect_err("bad patterns");
        let e = e.to_string();
        assert!(e.contains(": an empty encoding-frame pattern would count every frame\n"));
        assert!(e.ends_with(": encoding-frame pattern `a;b` contains `;`, which separates frames"));
        let notes = apply(&mut t, dir.path(), &defaults()).expect("empty is fine");
        assert!(notes[0].starts_with("no .folded, .collapsed or .txt profiles in"));
        let missing = dir.path().join("missing");
        let e = apply(&mut t, &missing, &defaults()).expect_err("missing");
        assert!(matches!(e, ImportError::Io { ref path, .. } if *path == missing));
        write(dir.path(), &[("file.folded", "a 1\n")]);
        let e = apply(&mut t, &dir.path().join("file.folded"), &defaults()).expect_err("file");
        let message = "is not a folder: profiles are a folder of folded stacks, one per service";
        assert!(e.to_string().ends_with(message), "{e}");
    }

    #[test]
    fn default_patterns_skip_http2_framing_and_socket_io() {
        let p = defaults();
        let h2 = "h2::codec::framed_read::FramedRead<T>::poll_next";
        let buf = "<bytes::bytes_mut::BytesMut as bytes::buf::buf_mut::BufMut>::put_slice";
        for frame in [h2, buf, "base64::engine::Engine::decode", H2] {
            let line = format!("main;{frame} 1");
            assert_eq!(parse_line(&line, &p), Ok(Some((1.0, false))), "{frame}");
        }
        let line = "main;<shop::Item as prost::message::Message>::merge_field 2";
        assert_eq!(parse_line(line, &p), Ok(Some((2.0, true))));
        assert_eq!(fmt_share(0.112_000_000_000_1), "0.112");
    }
}
