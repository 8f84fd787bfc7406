//! Plain CSV split by hand: no quotes, `\n` or `\r\n` line ends, valid UTF-8 (what exports
//! write). It gives the records, fields and errors the `csv` crate gives for such text (empty
//! lines skipped, fields trimmed), and says [`Stop::NotPlain`] for anything else. A file can be
//! cut at line ends and read in chunks, one stretch per thread.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use crate::error::InputError;

/// Why the hand splitter stopped.
#[derive(Debug)]
pub(super) enum Stop {
    /// A quote, a lone `\r` or bytes that are not UTF-8: the `csv` crate reads this file.
    NotPlain,
    /// A row whose field count differs from the header's (line as given to [`records`]).
    Fatal(InputError),
    Io(io::Error),
}

pub(super) fn unequal(len: usize, expected: usize) -> String {
    format!("this row has {len} fields, the header has {expected}")
}

/// Calls `f(line, fields)` for every non-empty line of `data`, with trimmed fields; `line`
/// counts from `first_line`. Returns the number of line ends in `data`.
pub(super) fn records<'d>(
    path: &Path,
    data: &'d str,
    first_line: usize,
    expected: usize,
    mut f: impl FnMut(usize, &[&'d str]),
) -> Result<usize, Stop> {
    let bytes = data.as_bytes();
    let mut fields: Vec<&'d str> = Vec::with_capacity(expected.max(1));
    let (mut i, mut line) = (0, first_line);
    while i < bytes.len() {
        fields.clear();
        let mut start = i;
        // The record's end, where the next one starts, and whether a line end is between.
        let (end, next, line_end) = loop {
            i = next_special(bytes, i);
            match bytes.get(i) {
                None => break (i, i, false),
                Some(b',') => {
                    fields.push(data[start..i].trim_ascii());
                    start = i + 1;
                    i += 1;
                }
                Some(b'\n') => break (i, i + 1, true),
                Some(b'\r') => match bytes.get(i + 1) {
                    None => break (i, i + 1, false),
                    Some(b'\n') => break (i, i + 2, true),
                    Some(_) => return Err(Stop::NotPlain),
                },
                Some(_) => return Err(Stop::NotPlain), // a quote
            }
        };
        let this = line;
        if line_end {
            line += 1;
        }
        i = next;
        if end == start && fields.is_empty() {
            continue; // an empty line, skipped as the csv crate does
        }
        fields.push(data[start..end].trim_ascii());
        if fields.len() != expected {
            let message = unequal(fields.len(), expected);
            return Err(Stop::Fatal(InputError::at(path, this, message)));
        }
        f(this, &fields);
    }
    Ok(line - first_line)
}

/// The first `,`, `\n`, `\r` or `"` at or after `i` (or the end), eight bytes at a time.
fn next_special(bytes: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
    // 0x80 in each byte of `w` that equals `c`, exactly (no carries between bytes).
    let equal = |w: u64, c: u8| {
        let v = w ^ (ONES * u64::from(c));
        !(((v & LOW7) + LOW7) | v | LOW7)
    };
    while let Some(chunk) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let hits = equal(w, b',') | equal(w, b'\n') | equal(w, b'\r') | equal(w, b'"');
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && !matches!(bytes[i], b',' | b'\n' | b'\r' | b'"') {
        i += 1;
    }
    i
}

/// `data` as text when [`records`] reads all of it: valid UTF-8, no quotes, and no `\r` but
/// before a `\n` or at the end.
pub(super) fn plain(data: &[u8]) -> Option<&str> {
    let quote_or_lone_cr = data
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'"' || (b == b'\r' && data.get(i + 1).is_some_and(|&n| n != b'\n')));
    if quote_or_lone_cr {
        return None;
    }
    std::str::from_utf8(data).ok()
}

/// `pieces` ranges covering `start..end` of `file`, each ending just after a line end (the
/// last at `end`).
pub(super) fn cut(
    file: &mut File,
    start: u64,
    end: u64,
    pieces: usize,
) -> io::Result<Vec<Range<u64>>> {
    let mut out = Vec::with_capacity(pieces);
    let mut from = start;
    for k in 1..pieces as u64 {
        let target = (start + (end - start) / pieces as u64 * k).max(from);
        file.seek(SeekFrom::Start(target))?;
        let mut window = [0u8; 4096];
        let (mut at, mut until) = (target, end);
        loop {
            let n = file.read(&mut window)?;
            if n == 0 {
                break;
            }
            if let Some(p) = window[..n].iter().position(|&b| b == b'\n') {
                until = (at + p as u64 + 1).min(end);
                break;
            }
            at += n as u64;
        }
        out.push(from..until);
        from = until;
    }
    out.push(from..end);
    Ok(out)
}

/// Reads `range` of the file at `path` in chunks of about `size` bytes that end at line ends,
/// calling `each(text, lines_before)` on each; `each` returns the line ends it read. Returns
/// the line ends of the whole range. The chunk buffer is reused, so it stays in cache.
pub(super) fn chunks(
    path: &Path,
    range: Range<u64>,
    size: usize,
    mut each: impl FnMut(&str, usize) -> Result<usize, Stop>,
) -> Result<usize, Stop> {
    let mut file = File::open(path).map_err(Stop::Io)?;
    file.seek(SeekFrom::Start(range.start)).map_err(Stop::Io)?;
    let mut file = file.take(range.end - range.start);
    let mut buf = vec![0u8; size.max(1)];
    let (mut filled, mut lines) = (0, 0);
    loop {
        let mut eof = false;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Stop::Io(e)),
            }
        }
        let upto = if eof {
            filled
        } else {
            match buf[..filled].iter().rposition(|&b| b == b'\n') {
                Some(p) => p + 1,
                None => {
                    // A line longer than the buffer.
                    buf.resize(buf.len() * 2, 0);
                    continue;
                }
            }
        };
        let text = std::str::from_utf8(&buf[..upto]).map_err(|_| Stop::NotPlain)?;
        lines += each(text, lines)?;
        buf.copy_within(upto..filled, 0);
        filled -= upto;
        if eof {
            return Ok(lines);
        }
    }
}
