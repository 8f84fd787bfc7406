//! A member's reads of the command line, redirected to its own argv: in one process every
//! member would see the merged binary's, so `std::env::args()` and `args_os()`, clap's
//! `X::parse()` / `try_parse()` and `.get_matches()` / `.try_get_matches()`, and structopt's
//! `X::from_args()` read `merge_runtime_shim::args::args_os()` instead, which answers for the
//! member whose code runs (its program name, and what `--member-args` gives it). Edits of the
//! call alone: every other byte and line of the file stays.

use proc_macro2::LineColumn;
use syn::spanned::Spanned;
use syn::visit::Visit;

/// What replaces a read of the process's argv.
const OWN_ARGS: &str = "::merge_runtime_shim::args::args_os()";

/// The edits that make `file` read its member's own argv.
pub fn edits(file: &syn::File) -> Vec<(LineColumn, LineColumn, String)> {
    let mut v = Reads {
        bare: imported_args(file),
        parser: imports_parser(file),
        out: Vec::new(),
    };
    v.visit_file(file);
    v.out
}

struct Reads {
    /// Local names of `std::env::args` / `args_os` imported by `use` (name -> which).
    bare: Vec<(String, &'static str)>,
    /// The file brings clap's `Parser` (or structopt's `StructOpt`) into scope, so a bare
    /// `X::parse()` is that trait's (elsewhere it may be anything's).
    parser: bool,
    out: Vec<(LineColumn, LineColumn, String)>,
}

impl Reads {
    /// `args()` at `call` becomes the member's own.
    fn replace_call(&mut self, call: &syn::ExprCall, which: &str) {
        let with = if which == "args" {
            "::merge_runtime_shim::args::args()"
        } else {
            OWN_ARGS
        };
        self.out
            .push((call.span().start(), call.span().end(), with.to_owned()));
    }

    /// `name()` (its ident at `ident`, its parentheses `paren`) becomes `new(own args)`.
    fn with_own_args(&mut self, ident: &proc_macro2::Ident, new: &str, paren: &syn::token::Paren) {
        self.out
            .push((ident.span().start(), ident.span().end(), new.to_owned()));
        let (open, close) = (paren.span.open().end(), paren.span.close().start());
        self.out.push((open, close, OWN_ARGS.to_owned()));
    }
}

impl<'ast> Visit<'ast> for Reads {
    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        syn::visit::visit_expr_call(self, call);
        let syn::Expr::Path(p) = &*call.func else {
            return;
        };
        let segments = super::source::idents(&p.path);
        let names: Vec<&str> = segments.iter().map(String::as_str).collect();
        if !call.args.is_empty() {
            return;
        }
        // `<Args as Parser>::parse()`: the trait is named.
        let named_trait = p.qself.as_ref().is_some_and(|q| {
            names
                .get(q.position.saturating_sub(1))
                .is_some_and(|t| *t == "Parser" || *t == "StructOpt")
        });
        if p.qself.is_some() && !named_trait {
            return;
        }
        match names.as_slice() {
            [.., "env", which @ ("args" | "args_os")] => {
                self.replace_call(call, if *which == "args" { "args" } else { "args_os" });
            }
            [one] => {
                if let Some((_, which)) = self.bare.iter().find(|(n, _)| n == one) {
                    let which = *which;
                    self.replace_call(call, which);
                }
            }
            [.., ty, method @ ("parse" | "try_parse" | "from_args")]
                if named_trait
                    || (self.parser && ty.starts_with(|c: char| c.is_ascii_uppercase())) =>
            {
                let new = match *method {
                    "parse" => "parse_from",
                    "try_parse" => "try_parse_from",
                    _ => "from_iter",
                };
                if let Some(last) = p.path.segments.last() {
                    self.with_own_args(&last.ident, new, &call.paren_token);
                }
            }
            _ => {}
        }
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        syn::visit::visit_expr_method_call(self, call);
        if !call.args.is_empty() {
            return;
        }
        let new = match call.method.to_string().as_str() {
            "get_matches" => "get_matches_from",
            "try_get_matches" => "try_get_matches_from",
            _ => return,
        };
        self.with_own_args(&call.method, new, &call.paren_token);
    }
}

/// Whether a `use` of the file names clap's `Parser` (or structopt's `StructOpt`), or
/// imports all of clap (`use clap::*`).
fn imports_parser(file: &syn::File) -> bool {
    file.items.iter().any(|item| {
        let syn::Item::Use(u) = item else {
            return false;
        };
        let text = quote::ToTokens::to_token_stream(&u.tree).to_string();
        ["Parser", "StructOpt", "clap :: *"]
            .iter()
            .any(|name| text.contains(name))
    })
}

/// `use std::env::args;` (or `args_os`, renamed, in a group, or `std::env::*`): local name ->
/// which.
fn imported_args(file: &syn::File) -> Vec<(String, &'static str)> {
    fn walk(tree: &syn::UseTree, path: &mut Vec<String>, out: &mut Vec<(String, &'static str)>) {
        match tree {
            syn::UseTree::Path(p) => {
                path.push(p.ident.to_string());
                walk(&p.tree, path, out);
                path.pop();
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    walk(t, path, out);
                }
            }
            syn::UseTree::Name(n) => push(path, &n.ident, &n.ident, out),
            syn::UseTree::Rename(r) => push(path, &r.ident, &r.rename, out),
            syn::UseTree::Glob(_) if in_env(path) => {
                out.push(("args".to_owned(), "args"));
                out.push(("args_os".to_owned(), "args_os"));
            }
            syn::UseTree::Glob(_) => {}
        }
    }
    fn in_env(path: &[String]) -> bool {
        path.last().is_some_and(|l| l == "env")
            && path.first().is_some_and(|f| f == "std" || f == "env")
    }
    fn push(
        path: &[String],
        ident: &syn::Ident,
        local: &syn::Ident,
        out: &mut Vec<(String, &'static str)>,
    ) {
        let in_env = in_env(path);
        let which = match ident.to_string().as_str() {
            "args" => "args",
            "args_os" => "args_os",
            _ => return,
        };
        if in_env {
            out.push((local.to_string(), which));
        }
    }
    let mut out = Vec::new();
    for item in &file.items {
        if let syn::Item::Use(u) = item {
            walk(&u.tree, &mut Vec::new(), &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(text: &str) -> String {
        let file = syn::parse_file(text).expect("Rust");
        super::super::source::apply_edits(text, edits(&file))
    }

    #[test]
    fn clap_and_std_reads_take_the_members_own_argv() {
        let text = "use clap::Parser;\nuse std::env::{args as argv, args_os};\n\
                    fn main() {\n    let a = Args::parse();\n    let b = cli::Opts::try_parse()?;\n    \
                    let m = Command::new(\"x\").get_matches();\n    let n: Vec<_> = std::env::args().collect();\n    \
                    let o = argv().nth(1);\n    let p = args_os().count();\n    let q = \"1\".parse::<u8>();\n}\n";
        assert_eq!(
            rewritten(text),
            "use clap::Parser;\nuse std::env::{args as argv, args_os};\n\
             fn main() {\n    let a = Args::parse_from(::merge_runtime_shim::args::args_os());\n    \
             let b = cli::Opts::try_parse_from(::merge_runtime_shim::args::args_os())?;\n    \
             let m = Command::new(\"x\").get_matches_from(::merge_runtime_shim::args::args_os());\n    \
             let n: Vec<_> = ::merge_runtime_shim::args::args().collect();\n    \
             let o = ::merge_runtime_shim::args::args().nth(1);\n    \
             let p = ::merge_runtime_shim::args::args_os().count();\n    let q = \"1\".parse::<u8>();\n}\n"
        );
    }

    #[test]
    fn what_reads_no_argv_is_left_alone() {
        let text = "fn f(s: &str) {\n    let a = Args::parse_from([\"x\"]);\n    let u = Url::parse(s);\n    \
                    let h = matches.get_matches_for(1);\n    let v = args();\n    let c = Config::parse();\n}\n";
        assert_eq!(
            rewritten(text),
            text,
            "no Parser in scope: Config::parse is not clap's"
        );
    }

    #[test]
    fn a_named_trait_and_a_glob_of_env_are_read_too() {
        let text = "use std::env::*;\nfn f() {\n    let a = <Args as clap::Parser>::parse();\n    let n = args().count();\n}\n";
        assert_eq!(
            rewritten(text),
            "use std::env::*;\nfn f() {\n    let a = <Args as clap::Parser>::parse_from(::merge_runtime_shim::args::args_os());\n    \
             let n = ::merge_runtime_shim::args::args().count();\n}\n"
        );
    }
}
