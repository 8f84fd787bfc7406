//! The native format as a folder holding `services.csv` and `calls.csv`, whose columns are the
//! field names of design.md. Built for large graphs: calls are read without allocating.

use std::path::Path;

use csv::ByteRecord;

use super::native::{CallFields, NativeBuilder, RawService};
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

/// Whether `dir` holds the two files of this format.
pub fn is_native_csv_dir(dir: &Path) -> bool {
    dir.join(SERVICES_FILE).is_file() && dir.join(CALLS_FILE).is_file()
}

/// Reads `dir/services.csv` and `dir/calls.csv`.
pub fn from_dir(dir: &Path) -> Result<Traffic, ImportError> {
    let services_path = dir.join(SERVICES_FILE);
    let calls_path = dir.join(CALLS_FILE);
    let services_len = std::fs::metadata(&services_path)
        .map_err(|e| ImportError::io(&services_path, e))?
        .len();
    let calls_len = std::fs::metadata(&calls_path)
        .map_err(|e| ImportError::io(&calls_path, e))?
        .len();
    // Rough row counts from file sizes, so the graph is allocated once.
    let mut b = NativeBuilder::new(dir, (services_len / 24) as usize, (calls_len / 32) as usize);
    read_services(&mut b, &services_path)?;
    read_calls(&mut b, &calls_path)?;
    b.finish()
}

fn open(
    path: &Path,
    expected: &[&str],
) -> Result<(csv::Reader<std::fs::File>, Vec<Option<usize>>), ImportError> {
    let file = std::fs::File::open(path).map_err(|e| ImportError::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(file);
    let header = reader
        .byte_headers()
        .map_err(|e| csv_error(path, &e))?
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
    Ok((reader, columns))
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

fn csv_error(path: &Path, e: &csv::Error) -> ImportError {
    let line = e.position().map(|p| p.line() as usize);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("this row has {len} fields, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "this row is not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    ImportError::one(InputError::new(path, line, message))
}

/// One row being read: its fields by column, with errors naming the column.
struct Row<'r> {
    record: &'r ByteRecord,
    columns: &'r [Option<usize>],
    names: &'r [&'r str],
}

impl<'r> Row<'r> {
    fn text(&self, c: usize) -> Result<Option<&'r str>, String> {
        let Some(field) = self.columns[c].and_then(|i| self.record.get(i)) else {
            return Ok(None);
        };
        if field.is_empty() {
            return Ok(None);
        }
        std::str::from_utf8(field)
            .map(Some)
            .map_err(|_| format!("column `{}` is not valid UTF-8", self.names[c]))
    }

    fn required_text(&self, c: usize) -> Result<&'r str, String> {
        self.text(c)?
            .ok_or_else(|| format!("column `{}` is empty", self.names[c]))
    }

    fn number(&self, c: usize) -> Result<Option<f64>, String> {
        match self.text(c)? {
            None => Ok(None),
            Some(t) => t
                .parse::<f64>()
                .map(Some)
                .map_err(|_| format!("column `{}`: `{t}` is not a number", self.names[c])),
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

fn read_services(b: &mut NativeBuilder, path: &Path) -> Result<(), ImportError> {
    let (mut reader, columns) = open(path, SERVICE_COLUMNS)?;
    require(path, &columns, SERVICE_COLUMNS, &[0, 1])?;
    let mut record = ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, &e))?
    {
        let line = record.position().map_or(0, |p| p.line() as usize);
        let row = Row {
            record: &record,
            columns: &columns,
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
            })
        })();
        match parsed {
            Ok(raw) => b.service(path, line, raw),
            Err(message) => b.problem(InputError::at(path, line, message)),
        }
    }
    Ok(())
}

fn read_calls(b: &mut NativeBuilder, path: &Path) -> Result<(), ImportError> {
    let (mut reader, columns) = open(path, CALL_COLUMNS)?;
    require(path, &columns, CALL_COLUMNS, &[0, 1, 2])?;
    let mut record = ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(path, &e))?
    {
        let line = record.position().map_or(0, |p| p.line() as usize);
        let row = Row {
            record: &record,
            columns: &columns,
            names: CALL_COLUMNS,
        };
        let parsed = (|| {
            let caller = row.required_text(0)?;
            let callee = row.required_text(1)?;
            let qps = row.number(2)?.ok_or("column `qps` is empty")?;
            let fields = CallFields {
                qps,
                rpctype: row.text(3)?,
                encoding_cost: row.number(4)?,
                p50_ms: row.number(5)?,
                p99_ms: row.number(6)?,
            };
            Ok::<_, String>((caller, callee, fields))
        })();
        match parsed {
            Ok((caller, callee, fields)) => b.call(path, line, caller, callee, fields),
            Err(message) => b.problem(InputError::at(path, line, message)),
        }
    }
    Ok(())
}
