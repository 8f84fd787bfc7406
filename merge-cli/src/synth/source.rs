//! Rewrites of a member's Rust sources, in its copy:
//!
//! - `tonic::include_proto!("pkg")` becomes `::merge_runtime_shim::include_proto!("pkg")`, the
//!   in-process rewrite of the generated code (an edit of the macro's path alone: every other
//!   byte of the file, and so every line number, stays);
//! - tonic-generated code committed into `src/` (prost-build's `@generated` header, or tonic's
//!   client and server modules) gets the same rewrite as a library call;
//! - the file of the binary that runs gets a `pub fn main`, so the merged binary can call it,
//!   and its `#[tokio::main]` becomes the runtime tokio's macro builds, with the member's name
//!   given to every thread of it (`on_thread_start`), so that the calls those threads make are
//!   counted under the calling member.

use std::path::Path;

use merge_analyzer::parsed::Source;
use proc_macro2::LineColumn;
use syn::spanned::Spanned;
use syn::visit::Visit;

/// What the rewrite did to one file.
#[derive(Debug, Default)]
pub struct Rewritten {
    /// The new text, when it changed.
    pub text: Option<String>,
    /// The file now uses `merge_runtime_shim` (the package needs it as a dependency).
    pub uses_shim: bool,
    /// The protos the file includes (`include_proto!("pkg")`, tonic's or cargo-merge's).
    pub protos: std::collections::BTreeSet<String>,
    /// The file now uses `merge_protos` (the package needs it as a dependency).
    pub uses_shared: bool,
}

/// What a file's rewrite does besides what every file gets.
#[derive(Debug, Clone, Copy)]
pub struct How {
    /// This file is the root of the binary that runs.
    pub entry: bool,
    /// Its generated code and `include_proto!`s get the in-process rewrite (not on a tonic
    /// the rewrite does not know).
    pub protos: bool,
}

/// Rewrites one source file. `shared`: proto -> module of the protos this package takes from
/// `merge_protos`. A file that does not parse is left as it is (cargo reports it if it is
/// compiled at all).
pub fn rewrite(
    rel: &Path,
    source: &Source,
    how: How,
    shared: &std::collections::BTreeMap<String, String>,
    mend: Option<&super::mitigate::Member>,
) -> Result<Rewritten, merge_rewrite::RewriteError> {
    let (Some(file), text) = (&source.file, source.text.as_str()) else {
        return Ok(Rewritten::default());
    };
    let entry = how.entry;
    if is_generated(file, text) {
        if !how.protos {
            return Ok(Rewritten::default());
        }
        let rel = rel.display().to_string();
        return Ok(
            match merge_rewrite::rewrite_parsed(&rel, file.clone(), text)? {
                Some(text) => Rewritten {
                    text: Some(text),
                    uses_shim: true,
                    ..Rewritten::default()
                },
                None => Rewritten::default(),
            },
        );
    }
    let mut edits = Vec::new();
    let mut finder = IncludeProto {
        bare: imports_include_proto(file),
        ..IncludeProto::default()
    };
    finder.visit_file(file);
    let mut out = Rewritten::default();
    for (m, tonic) in &finder.found {
        let proto = m.parse_body::<syn::LitStr>().ok().map(|l| l.value());
        if let Some(module) = proto.as_ref().and_then(|p| shared.get(p)) {
            // Compiled once in merge_protos: the whole invocation becomes a re-export.
            let end = m.delimiter.span().close().end();
            edits.push((
                m.path.span().start(),
                end,
                format!("pub use ::merge_protos::{module}::*"),
            ));
            out.uses_shared = true;
        } else if *tonic && how.protos {
            let (start, end) = (m.path.span().start(), m.path.span().end());
            edits.push((start, end, "::merge_runtime_shim::include_proto".to_owned()));
            out.uses_shim = true;
        }
        out.protos.extend(proto);
    }
    if entry {
        if let Some(at) = private_main(file) {
            edits.push((at, at, "pub ".to_owned()));
        }
        let named = named_runtime(file);
        out.uses_shim |= !named.is_empty();
        edits.extend(named);
    }
    // Each member reads its own command line.
    let argv = super::argv::edits(file);
    out.uses_shim |= !argv.is_empty();
    edits.extend(argv);
    if let Some(mend) = mend {
        let more = super::mitigate::edits(file, mend);
        out.uses_shim |= more
            .iter()
            .any(|(_, _, t)| t.contains("merge_runtime_shim"));
        edits.extend(more);
    }
    if !edits.is_empty() {
        out.text = Some(apply_edits(text, edits));
    }
    Ok(out)
}

pub use merge_rewrite::is_generated;

/// A proto build script that may write generated code into its package's folder (it calls
/// tonic's or prost's builder with `out_dir`), wrapped so that what it writes is rewritten
/// before the crate compiles (`merge_rewrite::build_script`): its `main` renamed, and a `main`
/// added at the end (lines kept) that runs it between a snapshot and the rewrite. `None` for
/// any other build script, or one without a plain top-level `fn main`.
pub fn wrap_build_script(text: &str) -> Option<String> {
    let builds_protos = ["tonic_build", "tonic_prost_build", "prost_build"]
        .iter()
        .any(|c| text.contains(c));
    if !builds_protos || !text.contains("out_dir") {
        return None;
    }
    let file = syn::parse_file(text).ok()?;
    let main = file.items.iter().find_map(|i| match i {
        syn::Item::Fn(f) if f.sig.ident == "main" && f.sig.inputs.is_empty() => Some(f),
        _ => None,
    })?;
    let output = quote::ToTokens::to_token_stream(&main.sig.output).to_string();
    let ident = main.sig.ident.span();
    let mut out = apply_edits(
        text,
        vec![(ident.start(), ident.end(), "__merge_build_main".to_owned())],
    );
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "\n/// Added by cargo merge: what the build script writes into the package is rewritten\n\
         /// for the in-process call (in the merged workspace's copy only).\n\
         fn main() {output} {{\n    \
             let before = ::merge_rewrite::build_script::snapshot();\n    \
             let result = __merge_build_main();\n    \
             ::merge_rewrite::build_script::rewrite_changed(&before);\n    \
             result\n\
         }}\n"
    ));
    Some(out)
}

/// The identifiers of `path`'s segments: `["tonic", "include_proto"]`.
pub(super) fn idents(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
}

/// `include_proto!` invocations: tonic's (`true`; and a bare one when the file imports
/// tonic's) and cargo-merge's (`false`).
#[derive(Default)]
struct IncludeProto {
    found: Vec<(syn::Macro, bool)>,
    bare: bool,
}

impl<'ast> Visit<'ast> for IncludeProto {
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        let segments = idents(&m.path);
        let names: Vec<&str> = segments.iter().map(String::as_str).collect();
        match names.as_slice() {
            ["tonic", "include_proto"] => self.found.push((m.clone(), true)),
            ["include_proto"] if self.bare => self.found.push((m.clone(), true)),
            [
                "merge_runtime_shim" | "merge_inline_macros",
                "include_proto",
            ] => {
                self.found.push((m.clone(), false));
            }
            _ => {}
        }
        syn::visit::visit_macro(self, m);
    }
}

/// Whether the file has `use tonic::include_proto;` at its top level.
fn imports_include_proto(file: &syn::File) -> bool {
    file.items.iter().any(|i| {
        matches!(i, syn::Item::Use(u) if quote::ToTokens::to_token_stream(&u.tree)
            .to_string()
            .replace(' ', "")
            == "tonic::include_proto")
    })
}

/// Where to insert `pub ` to make a top-level private `fn main` public.
fn private_main(file: &syn::File) -> Option<LineColumn> {
    file.items.iter().find_map(|i| match i {
        syn::Item::Fn(f)
            if f.sig.ident == "main" && matches!(f.vis, syn::Visibility::Inherited) =>
        {
            let s = &f.sig;
            [
                s.constness.map(|t| t.span.start()),
                s.asyncness.map(|t| t.span.start()),
                s.unsafety.map(|t| t.span.start()),
                s.abi.as_ref().map(|a| a.extern_token.span.start()),
                Some(s.fn_token.span.start()),
            ]
            .into_iter()
            .flatten()
            .min_by_key(|lc| (lc.line, lc.column))
        }
        _ => None,
    })
}

/// The edits that turn a top-level `#[tokio::main] async fn main` into the runtime tokio's
/// macro would build, whose threads say which member they run (the member the merged binary
/// set on the thread calling `main`). Each edit keeps the lines where they are. Arguments the
/// edit does not know (`unhandled_panic`, or any it cannot read) leave `main` as it is.
fn named_runtime(file: &syn::File) -> Vec<(LineColumn, LineColumn, String)> {
    let Some(f) = file.items.iter().find_map(|i| match i {
        syn::Item::Fn(f) if f.sig.ident == "main" && f.sig.asyncness.is_some() => Some(f),
        _ => None,
    }) else {
        return Vec::new();
    };
    let Some(attr) = f.attrs.iter().find(|a| {
        let path = a.path();
        path.segments.len() == 2
            && path.segments[0].ident == "tokio"
            && path.segments[1].ident == "main"
    }) else {
        return Vec::new();
    };
    // An inner attribute of the body (`#![allow(..)]`) cannot move into an `async` block.
    if f.attrs
        .iter()
        .any(|a| matches!(a.style, syn::AttrStyle::Inner(_)))
    {
        return Vec::new();
    }
    let Some(builder) = runtime_builder(attr) else {
        return Vec::new();
    };
    let (Some(asyncness), Some(open), Some(close)) = (
        f.sig.asyncness,
        Some(f.block.brace_token.span.open().end()),
        Some(f.block.brace_token.span.close().start()),
    ) else {
        return Vec::new();
    };
    let attr_span = attr.span();
    // `async ` up to `fn`, when nothing stands between them.
    let async_end = if f.sig.unsafety.is_none() && f.sig.abi.is_none() {
        f.sig.fn_token.span.start()
    } else {
        asyncness.span.end()
    };
    vec![
        (attr_span.start(), attr_span.end(), String::new()),
        (asyncness.span.start(), async_end, String::new()),
        (
            open,
            open,
            format!(
                " let __merge_member = ::merge_runtime_shim::current_member(\"\"); \
                 {builder}.on_thread_start(move || if !__merge_member.is_empty() {{ \
                 ::merge_runtime_shim::set_current_member(__merge_member) }}).build()\
                 .expect(\"Failed building the Runtime\").block_on(async {{"
            ),
        ),
        (close, close, "})".to_owned()),
    ]
}

/// The runtime builder `#[tokio::main(..)]`'s arguments ask for (flavor, worker_threads,
/// start_paused, crate), or `None` for arguments this does not know.
fn runtime_builder(attr: &syn::Attribute) -> Option<String> {
    let mut krate = "::tokio".to_owned();
    let mut current_thread = false;
    let mut more = String::new();
    if !matches!(attr.meta, syn::Meta::Path(_)) {
        let args = attr
            .parse_args_with(
                syn::punctuated::Punctuated::<syn::MetaNameValue, syn::Token![,]>::parse_terminated,
            )
            .ok()?;
        for arg in args {
            let name = arg.path.get_ident()?.to_string();
            let syn::Expr::Lit(syn::ExprLit { lit, .. }) = &arg.value else {
                return None;
            };
            match (name.as_str(), lit) {
                ("flavor", syn::Lit::Str(s)) if s.value() == "current_thread" => {
                    current_thread = true;
                }
                ("flavor", syn::Lit::Str(s)) if s.value() == "multi_thread" => {}
                ("worker_threads", syn::Lit::Int(n)) => {
                    more.push_str(&format!(".worker_threads({})", n.base10_digits()));
                }
                ("start_paused", syn::Lit::Bool(b)) => {
                    more.push_str(&format!(".start_paused({})", b.value));
                }
                ("crate", syn::Lit::Str(s)) => krate = s.value(),
                _ => return None,
            }
        }
    }
    let new = if current_thread {
        "new_current_thread"
    } else {
        "new_multi_thread"
    };
    Some(format!(
        "{krate}::runtime::Builder::{new}().enable_all(){more}"
    ))
}

/// Applies non-overlapping edits (start, end, replacement) given as line/column positions.
pub fn apply_edits(text: &str, mut edits: Vec<(LineColumn, LineColumn, String)>) -> String {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let offset = |lc: LineColumn| -> usize {
        let line_start = starts
            .get(lc.line.saturating_sub(1))
            .copied()
            .unwrap_or(text.len());
        let line = &text[line_start..];
        line_start
            + line
                .char_indices()
                .nth(lc.column)
                .map_or(line.len(), |(i, _)| i)
    };
    edits.sort_by_key(|(s, _, _)| (s.line, s.column));
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for (start, end, replacement) in edits {
        let (s, e) = (offset(start), offset(end));
        out.push_str(&text[at..s]);
        out.push_str(&replacement);
        at = e;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn none() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// [`rewrite`] of a text.
    fn rewrite_text(
        rel: &Path,
        text: &str,
        how: How,
        shared: &BTreeMap<String, String>,
        mend: Option<&super::super::mitigate::Member>,
    ) -> Result<Rewritten, merge_rewrite::RewriteError> {
        rewrite(rel, &Source::new(text.to_owned()), how, shared, mend)
    }

    fn how(entry: bool) -> How {
        How {
            entry,
            protos: true,
        }
    }

    #[test]
    fn a_member_on_an_unknown_tonic_keeps_its_generated_code() {
        let text = "pub mod a {\n    tonic::include_proto!(\"x.a\");\n}\n";
        let left = How {
            entry: false,
            protos: false,
        };
        let r = rewrite_text(Path::new("src/lib.rs"), text, left, &none(), None).expect("rewrites");
        assert_eq!(r.text, None);
        assert!(!r.uses_shim);
        let generated =
            include_str!("../../../inline-macros/rewrite/tests/generated/shop.pricing.rs");
        let r =
            rewrite_text(Path::new("src/g.rs"), generated, left, &none(), None).expect("rewrites");
        assert_eq!(r.text, None);
    }

    #[test]
    fn a_shared_proto_becomes_a_reexport() {
        let text = "pub mod catalog {\n    merge_runtime_shim::include_proto!(\"shop.catalog\");\n}\n\
                    pub mod pricing {\n    merge_runtime_shim::include_proto!(\"shop.pricing\");\n}\n";
        let shared = BTreeMap::from([("shop.catalog".to_owned(), "shop_catalog".to_owned())]);
        let r = rewrite_text(Path::new("src/lib.rs"), text, how(false), &shared, None)
            .expect("rewrites");
        assert_eq!(
            r.text.as_deref(),
            Some(
                "pub mod catalog {\n    pub use ::merge_protos::shop_catalog::*;\n}\n\
                  pub mod pricing {\n    merge_runtime_shim::include_proto!(\"shop.pricing\");\n}\n"
            )
        );
        assert!(r.uses_shared && !r.uses_shim);
        assert_eq!(r.protos.len(), 2);
    }

    #[test]
    fn include_proto_is_redirected_and_nothing_else_moves() {
        let text = "pub mod a {\n    tonic::include_proto!(\"x.a\");\n}\n// é\nfn other() {}\n";
        let r = rewrite_text(Path::new("src/lib.rs"), text, how(false), &none(), None)
            .expect("rewrites");
        assert_eq!(
            r.text.as_deref(),
            Some(
                "pub mod a {\n    ::merge_runtime_shim::include_proto!(\"x.a\");\n}\n// é\nfn other() {}\n"
            )
        );
        assert!(r.uses_shim);
    }

    #[test]
    fn an_imported_include_proto_is_redirected_too() {
        let text = "use tonic::include_proto;\n// é\nmod a { include_proto!(\"x\"); }\n";
        let r = rewrite_text(Path::new("src/lib.rs"), text, how(false), &none(), None)
            .expect("rewrites");
        assert_eq!(
            r.text.as_deref(),
            Some(
                "use tonic::include_proto;\n// é\nmod a { ::merge_runtime_shim::include_proto!(\"x\"); }\n"
            )
        );
        let other = "mod a { include_proto!(\"x\"); }\n";
        assert!(
            rewrite_text(Path::new("src/lib.rs"), other, how(false), &none(), None)
                .expect("ok")
                .text
                .is_none()
        );
    }

    #[test]
    fn tokio_main_becomes_a_runtime_whose_threads_name_the_member() {
        let text = "#[tokio::main(flavor = \"multi_thread\", worker_threads = 2)]\n\
                    async fn main() -> Result<(), E> {\n    run().await\n}\n";
        let out =
            rewrite_text(Path::new("main.rs"), text, how(true), &none(), None).expect("rewritten");
        let out = out.text.expect("changed");
        assert_eq!(
            out.lines().count(),
            text.lines().count(),
            "lines stay:\n{out}"
        );
        assert!(
            out.contains(
                "::tokio::runtime::Builder::new_multi_thread().enable_all().worker_threads(2)"
            ),
            "{out}"
        );
        assert!(out.contains(".on_thread_start(move ||"), "{out}");
        assert!(
            out.starts_with("\npub fn main() -> Result<(), E> {"),
            "{out}"
        );
        assert!(out.contains("run().await\n})}"), "{out}");
        syn::parse_file(&out).expect("parses");
        // An inner attribute of the body leaves main as it is (but public).
        let inner = "#[tokio::main]\nasync fn main() {\n    #![allow(unused)]\n}\n";
        let out =
            rewrite_text(Path::new("main.rs"), inner, how(true), &none(), None).expect("rewritten");
        assert_eq!(
            out.text.as_deref(),
            Some("#[tokio::main]\npub async fn main() {\n    #![allow(unused)]\n}\n")
        );
        // An argument the rewrite does not know leaves main as it is (but public).
        let unknown =
            "#[tokio::main(unhandled_panic = \"shutdown_runtime\")]\nasync fn main() {}\n";
        let out = rewrite_text(Path::new("main.rs"), unknown, how(true), &none(), None)
            .expect("rewritten");
        assert_eq!(
            out.text.as_deref(),
            Some(
                "#[tokio::main(unhandled_panic = \"shutdown_runtime\")]\npub async fn main() {}\n"
            )
        );
    }

    #[test]
    fn a_build_script_writing_protos_is_wrapped_and_others_are_not() {
        let text = "fn main() -> Result<(), Box<dyn std::error::Error>> {\n    \
                    tonic_prost_build::configure().out_dir(\"src\").compile_fds(f())?;\n    Ok(())\n}\n";
        let out = wrap_build_script(text).expect("wrapped");
        assert!(
            out.starts_with(
                "fn __merge_build_main() -> Result<(), Box<dyn std::error::Error>> {\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("fn main() -> Result < () , Box < dyn std :: error :: Error > > {\n    let before = ::merge_rewrite::build_script::snapshot();"),
            "{out}"
        );
        syn::parse_file(&out).expect("still Rust");
        let into_out_dir =
            "fn main() { tonic_prost_build::compile_protos(\"a.proto\").unwrap(); }\n";
        assert_eq!(wrap_build_script(into_out_dir), None);
        assert_eq!(
            wrap_build_script("fn main() { cc::Build::new().out_dir(\"x\"); }"),
            None
        );
    }

    #[test]
    fn the_entry_main_becomes_public() {
        let text =
            "use x::y;\n\n#[actix_web::main]\nasync fn main() -> Result<(), E> {\n    Ok(())\n}\n";
        let r = rewrite_text(Path::new("src/main.rs"), text, how(true), &none(), None)
            .expect("rewrites");
        assert_eq!(
            r.text.as_deref(),
            Some(
                "use x::y;\n\n#[actix_web::main]\npub async fn main() -> Result<(), E> {\n    Ok(())\n}\n"
            )
        );
        assert!(!r.uses_shim);
        let public = "pub fn main() {}\n";
        assert!(
            rewrite_text(Path::new("m.rs"), public, how(true), &none(), None)
                .expect("ok")
                .text
                .is_none()
        );
        assert!(
            rewrite_text(
                Path::new("m.rs"),
                "fn main() {}\n",
                how(false),
                &none(),
                None
            )
            .expect("ok")
            .text
            .is_none()
        );
    }
}
