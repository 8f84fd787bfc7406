//! Member sources, read and parsed once per run. check's source scan, build's start order and
//! build's rewrite of the copies all read the same files: they share one [`Parsed`], so that a
//! build parses each member source once.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// One source file: its text, and its syntax tree when it parses.
pub struct Source {
    pub text: String,
    /// `None` when the text is not Rust that syn parses (cargo reports it if it is compiled).
    pub file: Option<syn::File>,
}

impl Source {
    /// `text`, parsed.
    pub fn new(text: String) -> Source {
        Source {
            file: syn::parse_file(&text).ok(),
            text,
        }
    }
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("bytes", &self.text.len())
            .field("parses", &self.file.is_some())
            .finish()
    }
}

/// The sources read so far, by path.
#[derive(Debug, Default)]
pub struct Parsed {
    files: RefCell<BTreeMap<PathBuf, Option<Rc<Source>>>>,
    parses: Cell<usize>,
}

impl Parsed {
    /// The source at `path`, read and parsed the first time it is asked for; `None` when it
    /// cannot be read as UTF-8 text.
    pub fn get(&self, path: &Path) -> Option<Rc<Source>> {
        // One file, however its path is spelt (`a/./b.rs`, `a/x/../b.rs`).
        let path = &crate::paths::normalize(path);
        if let Some(known) = self.files.borrow().get(path) {
            return known.clone();
        }
        let source = std::fs::read_to_string(path).ok().map(|text| {
            self.parses.set(self.parses.get() + 1);
            Rc::new(Source::new(text))
        });
        self.files
            .borrow_mut()
            .insert(path.to_path_buf(), source.clone());
        source
    }

    /// How many files were parsed: one per file asked for, however often it was asked.
    pub fn parses(&self) -> usize {
        self.parses.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_and_parsed_once_however_often_it_is_asked_for() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.rs");
        let bad = dir.path().join("bad.rs");
        std::fs::write(&good, "fn main() {}\n").expect("write");
        std::fs::write(&bad, "fn (\n").expect("write");
        let parsed = Parsed::default();
        let first = parsed.get(&good).expect("read");
        assert!(first.file.is_some());
        let again = parsed.get(&good).expect("read");
        assert!(Rc::ptr_eq(&first, &again), "parsed twice");
        let spelt = dir.path().join("sub").join("..").join(".").join("good.rs");
        let again = parsed.get(&spelt).expect("read");
        assert!(
            Rc::ptr_eq(&first, &again),
            "parsed again under another spelling"
        );
        let broken = parsed.get(&bad).expect("read");
        assert!(broken.file.is_none());
        assert_eq!(broken.text, "fn (\n");
        assert!(parsed.get(&dir.path().join("missing.rs")).is_none());
        assert_eq!(parsed.parses(), 2);
    }
}
