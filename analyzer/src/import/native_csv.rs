//! The native format as a folder holding `services.csv` and `calls.csv`, whose columns are the
//! field names of design.md. Built for large graphs (millions of calls):
//!
//! - plain CSV (no quotes, `\n` or `\r\n` line ends: what exports write) is split by hand
//!   ([`plain`]), with no allocation per row; any other file goes through the `csv` crate,
//!   with the same results;
//! - `calls.csv` is cut at line ends into one stretch per core, each read in cache-sized
//!   chunks and checked on its own thread against an index of the services, and the checked
//!   calls are added to the graph in file order ([`bulk`]);
//! - a repeated (caller, callee, rpctype) is found by bucketing calls by caller, not by
//!   hashing every call.
//!
//! Every problem names the file and the line its row starts on (1-based, counting empty
//! lines; the `csv` crate's own positions are off after `\r\n` and empty lines, so they are
//! corrected).

mod adder;
mod bulk;
mod calls;
mod plain;
#[cfg(test)]
mod tests;
mod warm;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use csv::ByteRecord;

use self::calls::read_calls;
use self::plain::{Stop, plain, records, unequal};
use self::warm::Warm;
use super::native::{NativeBuilder, RawService};
use crate::error::{ImportError, InputError};
use crate::model::Traffic;

pub const SERVICES_FILE: &str = "services.csv";
pub const CALLS_FILE: &str = "calls.csv";

const SERVICE_COLUMNS: &[&str] = &[
    "name",
    "cpu_cores",
    "cpu_util",
    "mem_used_gib",
    "mem_limit_gib",
    "cache_heavy",
    "encoding_cost",
    "manifest",
    "inbound_qps",
];
const CALL_COLUMNS: &[&str] = &[
    "caller",
    "callee",
    "qps",
    "rpctype",
    "encoding_cost",
    "p50_ms",
    "p99_ms",
];

/// Whether `dir` holds the two files of this format (each a file, or a folder of one part as
/// Spark writes it).
pub fn is_native_csv_dir(dir: &Path) -> bool {
    dir.join(SERVICES_FILE).exists() && dir.join(CALLS_FILE).exists()
}

/// `path` itself, or when it is a folder (Spark's and Hive's output: `part-*` files beside
/// `_SUCCESS` and hidden checksums), its one part file.
fn part_file(path: &Path) -> Result<PathBuf, ImportError> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let mut parts: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| ImportError::io(path, e))?
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            !name.starts_with(['.', '_']) && e.path().is_file()
        })
        .map(|e| e.path())
        .collect();
    parts.sort();
    match parts.len() {
        1 => Ok(parts.remove(0)),
        n => Err(ImportError::one(InputError::new(
            path,
            None,
            format!(
                "a folder in place of the file must hold one CSV part file, not {n}: write it with one partition (Spark: COALESCE(1)) or concatenate the parts"
            ),
        ))),
    }
}

/// Reads `dir/services.csv` and `dir/calls.csv`.
pub fn from_dir(dir: &Path) -> Result<Traffic, ImportError> {
    from_dir_split(dir, Split::auto())
}

fn from_dir_split(dir: &Path, split: Split) -> Result<Traffic, ImportError> {
    let services_path = part_file(&dir.join(SERVICES_FILE))?;
    let calls_path = part_file(&dir.join(CALLS_FILE))?;
    std::fs::metadata(&services_path).map_err(|e| ImportError::io(&services_path, e))?;
    let calls_len = std::fs::metadata(&calls_path)
        .map_err(|e| ImportError::io(&calls_path, e))?
        .len();
    let services = std::fs::read(&services_path).map_err(|e| ImportError::io(&services_path, e))?;
    let service_rows = newlines(&services) + 1;
    let call_rows = estimate_rows(&calls_path, calls_len);
    let mut b = NativeBuilder::new(dir, service_rows, 0);
    // The graph's memory is touched on another thread while the services are read.
    let enough = AtomicBool::new(false);
    let (read, mut warm) = std::thread::scope(|s| {
        let warm = s.spawn(|| Warm::start(service_rows, call_rows, &enough));
        let read = read_services(&mut b, &services_path, &services, split);
        enough.store(true, Ordering::Relaxed);
        (read, warm.join().expect("the warming thread panicked"))
    });
    read?;
    drop(services);
    warm.adopt(b.traffic_mut());
    read_calls(&mut b, &calls_path, split, &mut warm)?;
    b.finish()
}

/// About how many rows a file of `len` bytes has, from its first 256 KiB (a little more than
/// that, so buffers need not grow); 0 when it cannot be read.
fn estimate_rows(path: &Path, len: u64) -> usize {
    let mut head = Vec::new();
    let read = File::open(path).and_then(|f| f.take(256 << 10).read_to_end(&mut head));
    match read {
        Ok(n) if n > 0 => {
            let per_row = n as f64 / (newlines(&head) + 1) as f64;
            let rows = (len as f64 / per_row * 1.02) as usize + 64;
            // A head of empty lines must not make the estimate absurd.
            rows.min((len / 8) as usize + 64)
        }
        _ => 0,
    }
}

/// How files are split into records.
#[derive(Debug, Clone, Copy)]
struct Split {
    /// Split plain files by hand (else always use the `csv` crate).
    by_hand: bool,
    /// Threads that check calls (this one included).
    threads: usize,
    /// Stretches that `calls.csv` is cut into.
    stretches: usize,
    /// Bytes read at a time.
    chunk: usize,
}

impl Split {
    fn auto() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(16));
        Split {
            by_hand: true,
            threads,
            stretches: 8 * threads,
            chunk: 256 << 10,
        }
    }
}

/// The header of a file: where each known column is, and where the rows start.
struct Header {
    columns: Vec<Option<usize>>,
    fields: usize,
    /// Byte offset of the rows.
    body: u64,
    /// Line that the byte at `body` is on.
    line: usize,
}

/// Reads the header from `data`, which may be the start of the file only.
fn header(path: &Path, data: impl Read, expected: &[&str]) -> Result<Header, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(data);
    let header = reader
        .byte_headers()
        .map_err(|e| csv_error(path, &[], &e))?
        .clone();
    let mut columns = vec![None; expected.len()];
    for (i, name) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(name);
        match expected.iter().position(|&c| c == name) {
            Some(c) if columns[c].is_none() => columns[c] = Some(i),
            Some(_) => {
                return Err(ImportError::one(InputError::at(
                    path,
                    1,
                    format!("column `{name}` appears twice"),
                )));
            }
            None => {
                return Err(ImportError::one(InputError::at(
                    path,
                    1,
                    format!(
                        "unknown column `{name}` (expected some of: {})",
                        expected.join(", ")
                    ),
                )));
            }
        }
    }
    Ok(Header {
        columns,
        fields: header.len(),
        body: reader.position().byte(),
        line: 0,
    })
}

fn require(
    path: &Path,
    columns: &[Option<usize>],
    names: &[&str],
    which: &[usize],
) -> Result<(), ImportError> {
    for &c in which {
        if columns[c].is_none() {
            return Err(ImportError::one(InputError::at(
                path,
                1,
                format!("missing column `{}`", names[c]),
            )));
        }
    }
    Ok(())
}

fn csv_error(path: &Path, data: &[u8], e: &csv::Error) -> ImportError {
    let line = e
        .position()
        .map(|p| LineCursor::default().record_line(data, p.byte() as usize));
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => unequal(*len as usize, *expected_len as usize),
        csv::ErrorKind::Utf8 { .. } => "this row is not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    ImportError::one(InputError::new(path, line, message))
}

fn newlines(data: &[u8]) -> usize {
    data.iter().filter(|&&b| b == b'\n').count()
}

/// Lines of records read by the `csv` crate. Its positions are the end of the previous
/// record (before a `\r\n`'s `\n`, before skipped empty lines), so the record's own line is
/// found by skipping line ends from there.
#[derive(Default)]
struct LineCursor {
    offset: usize,
    line: usize,
}

impl LineCursor {
    fn record_line(&mut self, data: &[u8], byte: usize) -> usize {
        let mut start = byte.clamp(self.offset, data.len());
        while start < data.len() && matches!(data[start], b'\n' | b'\r') {
            start += 1;
        }
        self.line += newlines(&data[self.offset..start]);
        self.offset = start;
        self.line + 1
    }
}

/// Every record after the header, through the `csv` crate.
fn csv_records(
    path: &Path,
    data: &[u8],
    mut f: impl FnMut(usize, &[&[u8]]),
) -> Result<(), ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(data);
    reader
        .byte_headers()
        .map_err(|e| csv_error(path, data, &e))?;
    let mut record = ByteRecord::new();
    let mut cursor = LineCursor::default();
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, data, &e))?
    {
        let byte = record.position().map_or(0, |p| p.byte() as usize);
        let line = cursor.record_line(data, byte);
        let fields: Vec<&[u8]> = record.iter().collect();
        f(line, &fields);
    }
    Ok(())
}

/// A field as split: text already, or bytes to check.
trait Field<'r>: Copy {
    fn text(self) -> Option<&'r str>;
    fn is_empty(self) -> bool;
}

impl<'r> Field<'r> for &'r str {
    fn text(self) -> Option<&'r str> {
        Some(self)
    }

    fn is_empty(self) -> bool {
        str::is_empty(self)
    }
}

impl<'r> Field<'r> for &'r [u8] {
    fn text(self) -> Option<&'r str> {
        std::str::from_utf8(self).ok()
    }

    fn is_empty(self) -> bool {
        <[u8]>::is_empty(self)
    }
}

/// One row being read: its fields by column, with errors naming the column.
struct Row<'a, F> {
    fields: &'a [F],
    columns: &'a [Option<usize>],
    names: &'a [&'a str],
}

impl<'d, F: Field<'d>> Row<'_, F> {
    fn text(&self, c: usize) -> Result<Option<&'d str>, String> {
        let Some(&field) = self.columns[c].and_then(|i| self.fields.get(i)) else {
            return Ok(None);
        };
        if field.is_empty() {
            return Ok(None);
        }
        field
            .text()
            .map(Some)
            .ok_or_else(|| format!("column `{}` is not valid UTF-8", self.names[c]))
    }

    fn required_text(&self, c: usize) -> Result<&'d str, String> {
        self.text(c)?
            .ok_or_else(|| format!("column `{}` is empty", self.names[c]))
    }

    fn number(&self, c: usize) -> Result<Option<f64>, String> {
        match self.text(c)? {
            None => Ok(None),
            Some(t) => number(t)
                .map(Some)
                .ok_or_else(|| format!("column `{}`: `{t}` is not a number", self.names[c])),
        }
    }

    fn flag(&self, c: usize) -> Result<Option<bool>, String> {
        match self.text(c)? {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(t) => Err(format!(
                "column `{}`: `{t}` is not true or false",
                self.names[c]
            )),
        }
    }
}

/// `t` as a number, as `str::parse::<f64>` reads it. Plain decimals of up to 17 characters
/// whose digits make an integer of at most 2^53 are read exactly with one division (both
/// operands are exact, so the quotient is correctly rounded, like `parse`); anything else goes
/// to `parse`.
fn number(t: &str) -> Option<f64> {
    const POW10: [f64; 18] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17,
    ];
    let b = t.as_bytes();
    if b.len() <= 17 {
        let (mut m, mut digits, mut point) = (0u64, 0, None);
        for (i, &c) in b.iter().enumerate() {
            match c {
                b'0'..=b'9' => {
                    m = m * 10 + u64::from(c - b'0');
                    digits += 1;
                }
                b'.' if point.is_none() => point = Some(i),
                _ => return t.parse().ok(),
            }
        }
        if digits > 0 && m <= 1 << 53 {
            let decimals = point.map_or(0, |p| b.len() - p - 1);
            return Some(m as f64 / POW10[decimals]);
        }
    }
    t.parse().ok()
}

fn read_services(
    b: &mut NativeBuilder,
    path: &Path,
    data: &[u8],
    split: Split,
) -> Result<(), ImportError> {
    let mut h = header(path, data, SERVICE_COLUMNS)?;
    require(path, &h.columns, SERVICE_COLUMNS, &[0])?;
    let body = (h.body as usize).min(data.len());
    h.line = 1 + newlines(&data[..body]);
    let Some(text) = plain(&data[body..]).filter(|_| split.by_hand) else {
        return csv_records(path, data, |line, fields| {
            service_row(b, path, line, fields, &h.columns);
        });
    };
    let rows = records(path, text, h.line, h.fields, |line, fields| {
        service_row(b, path, line, fields, &h.columns);
    });
    match rows {
        Ok(_) => Ok(()),
        Err(Stop::Fatal(e)) => Err(ImportError::one(e)),
        Err(Stop::NotPlain | Stop::Io(_)) => unreachable!("checked by `plain`, in memory"),
    }
}

fn service_row<'d, F: Field<'d>>(
    b: &mut NativeBuilder,
    path: &Path,
    line: usize,
    fields: &[F],
    columns: &[Option<usize>],
) {
    let row = Row {
        fields,
        columns,
        names: SERVICE_COLUMNS,
    };
    let parsed = (|| {
        Ok::<_, String>(RawService {
            name: row.required_text(0)?.to_string(),
            cpu_cores: row.number(1)?,
            cpu_util: row.number(2)?,
            mem_used_gib: row.number(3)?,
            mem_limit_gib: row.number(4)?,
            cache_heavy: row.flag(5)?,
            encoding_cost: row.number(6)?,
            manifest: row.text(7)?.map(str::to_string),
            inbound_qps: row.number(8)?,
        })
    })();
    match parsed {
        Ok(raw) => b.service(path, line, raw),
        Err(message) => b.problem(InputError::at(path, line, message)),
    }
}
