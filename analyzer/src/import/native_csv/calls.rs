//! Reading `calls.csv`: cut into stretches that threads check in turn, while this thread adds
//! the checked calls to the graph in file order (see the parent module).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};

use super::adder::Adder;
use super::bulk::{Batch, Buffer, CheckedPart, NameIndex, ParsedCall};
use super::plain::{Stop, chunks, cut, records};
use super::warm::Warm;
use super::{CALL_COLUMNS, Field, Header, Row, Split, csv_records, header, newlines, require};
use crate::error::{ImportError, InputError};
use crate::import::native::{CallFields, NativeBuilder};

pub(super) fn read_calls(
    b: &mut NativeBuilder,
    path: &Path,
    split: Split,
    warm: &mut Warm,
) -> Result<(), ImportError> {
    let io_error = |e| ImportError::io(path, e);
    let mut file = File::open(path).map_err(io_error)?;
    let len = file.metadata().map_err(io_error)?.len();
    let mut h = header(path, &file, CALL_COLUMNS)?;
    require(path, &h.columns, CALL_COLUMNS, &[0, 1, 2])?;
    h.line = 1 + lines_before(&mut file, h.body).map_err(io_error)?;
    let index = NameIndex::new(b);
    let mut adder = Adder::new(b, h.line, warm);
    if split.by_hand {
        match plain_calls(&index, path, &mut file, len, &h, split, &mut adder) {
            Ok(()) => {
                adder.finish(path);
                return Ok(());
            }
            Err(Stop::Fatal(e)) => return Err(ImportError::one(e)),
            Err(Stop::Io(e)) => return Err(io_error(e)),
            Err(Stop::NotPlain) => {}
        }
    }
    // Not plain: the csv crate reads it all again.
    let data = std::fs::read(path).map_err(io_error)?;
    let mut part = CheckedPart::new(Buffer::default());
    csv_records(path, &data, |line, fields| {
        match parse_call(fields, &h.columns) {
            Ok((caller, callee, f)) => {
                let found = (index.get(caller), index.get(callee));
                part.check(path, line, caller, callee, found, f);
            }
            Err(message) => part.problem(InputError::at(path, line, message)),
        }
    })?;
    let mut adder = Adder::new(adder.reset(), 0, &mut Warm::default());
    adder.add(part, 0);
    adder.finish(path);
    Ok(())
}

/// Line ends in the first `n` bytes of `file`.
fn lines_before(file: &mut File, n: u64) -> io::Result<usize> {
    file.seek(SeekFrom::Start(0))?;
    let mut head = Vec::new();
    file.take(n).read_to_end(&mut head)?;
    Ok(newlines(&head))
}

/// Checks the calls after the header, cut into stretches that `split.threads` threads (this
/// one included) take in turn, and adds them to `adder` in file order as they are ready, this
/// thread adding whenever the next stretch is ready and checking stretches otherwise.
fn plain_calls(
    index: &NameIndex,
    path: &Path,
    file: &mut File,
    len: u64,
    h: &Header,
    split: Split,
    adder: &mut Adder<'_>,
) -> Result<(), Stop> {
    let stretches = cut(file, h.body.min(len), len, split.stretches.max(1)).map_err(Stop::Io)?;
    // Buffers of parts already added, for the next ones.
    let spare: Mutex<Vec<Buffer>> = Mutex::default();
    let check = |k: usize| -> Result<(CheckedPart, usize), Stop> {
        let range = stretches[k].clone();
        let room = spare
            .lock()
            .ok()
            .and_then(|mut s| s.pop())
            .unwrap_or_default();
        let mut part = CheckedPart::new(room);
        let lines = chunks(path, range, split.chunk, |text, before| {
            let mut batch = Batch::default();
            let lines = records(path, text, before, h.fields, |line, fields| {
                batch.push(line, parse_call(fields, &h.columns), index, path, &mut part);
            })?;
            batch.check(index, path, &mut part);
            Ok(lines)
        })?;
        Ok((part, lines))
    };
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let take = || {
        let k = next.fetch_add(1, Ordering::Relaxed);
        (k < stretches.len() && !stop.load(Ordering::Relaxed)).then_some(k)
    };
    std::thread::scope(|s| {
        let (done, ready) = mpsc::channel();
        for _ in 1..split.threads.max(1) {
            let done = done.clone();
            s.spawn(move || {
                while let Some(k) = take() {
                    if done.send((k, check(k))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done);
        let mut results: Vec<Option<Result<(CheckedPart, usize), Stop>>> =
            stretches.iter().map(|_| None).collect();
        let mut added = 0;
        let outcome = loop {
            while let Ok((k, r)) = ready.try_recv() {
                results[k] = Some(r);
            }
            if let Some(r) = results.get_mut(added).and_then(Option::take) {
                match r {
                    Ok((part, lines)) => {
                        let room = adder.add(part, lines);
                        if let Ok(mut spare) = spare.lock() {
                            spare.push(room);
                        }
                    }
                    Err(Stop::Fatal(mut e)) => {
                        // Its line counts from the start of its stretch.
                        e.line = e.line.map(|l| l + adder.line());
                        break Err(Stop::Fatal(e));
                    }
                    Err(other) => break Err(other),
                }
                added += 1;
                continue;
            }
            if added == stretches.len() {
                break Ok(());
            }
            match take() {
                Some(k) => results[k] = Some(check(k)),
                None => match ready.recv() {
                    Ok((k, r)) => results[k] = Some(r),
                    Err(_) => unreachable!("a stretch was neither checked nor sent"),
                },
            }
        };
        stop.store(true, Ordering::Relaxed);
        outcome
    })
}

fn parse_call<'d, F: Field<'d>>(fields: &[F], columns: &[Option<usize>]) -> ParsedCall<'d> {
    let row = Row {
        fields,
        columns,
        names: CALL_COLUMNS,
    };
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
    Ok((caller, callee, fields))
}
