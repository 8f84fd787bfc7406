//! The edits that carry out a member's mitigations (`super::Member`) in one file of its copy:
//! initialisations made `try_init` (by their resolved path, the `use`s only they needed allowed
//! to be unused), environment keys namespaced (`env::var`, clap's `env = ".."` and bare `env`),
//! `#[global_allocator]` attributes removed.

use std::collections::BTreeSet;

use merge_analyzer::check::scan::{Aliases, ClapArg, bare_env_key, visit_macro_body};
use proc_macro2::LineColumn;
use syn::spanned::Spanned;
use syn::visit::Visit;

use super::Member;

/// The edits (start, end, replacement) that mend one file of a member.
pub fn edits(file: &syn::File, m: &Member) -> Vec<(LineColumn, LineColumn, String)> {
    let mut v = Edits {
        m,
        uses: Aliases::of(file),
        out: Vec::new(),
        bypassed: BTreeSet::new(),
    };
    v.visit_file(file);
    // A `use` that only served a rewritten call is unused now: allowed, so that a member's
    // `#![deny(warnings)]` still builds.
    let mut uses = Binds {
        names: &v.bypassed,
        at: BTreeSet::new(),
    };
    uses.visit_file(file);
    v.out.extend(uses.at.into_iter().map(|(line, column)| {
        let at = LineColumn { line, column };
        (at, at, "#[allow(unused_imports)] ".to_owned())
    }));
    v.out
}

/// Where the `use` items binding any of `names` start, as (line, column).
struct Binds<'a> {
    names: &'a BTreeSet<String>,
    at: BTreeSet<(usize, usize)>,
}

impl<'ast> Visit<'ast> for Binds<'_> {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        fn binds(t: &syn::UseTree, names: &BTreeSet<String>) -> bool {
            match t {
                syn::UseTree::Path(p) => binds(&p.tree, names),
                syn::UseTree::Name(n) => names.contains(&n.ident.to_string()),
                syn::UseTree::Rename(r) => names.contains(&r.rename.to_string()),
                syn::UseTree::Group(g) => g.items.iter().any(|t| binds(t, names)),
                syn::UseTree::Glob(_) => false,
            }
        }
        if binds(&u.tree, self.names) {
            let s = u.span().start();
            self.at.insert((s.line, s.column));
        }
        syn::visit::visit_item_use(self, u);
    }
}

/// What follows a mended `try_init()`: its error, said once (a tracing subscriber's may have
/// been installed and only its `log` bridge refused, so the error is passed on to be shown).
const SKIPPED_TRACING: &str = ".map_or_else(|e| ::merge_runtime_shim::launch::skipped_because(\"tracing subscriber\", &e), |_| ())";
const SKIPPED_LOGGER: &str =
    ".map_or_else(|e| ::merge_runtime_shim::launch::skipped_because(\"logger\", &e), |_| ())";

struct Edits<'a> {
    m: &'a Member,
    uses: Aliases,
    out: Vec<(LineColumn, LineColumn, String)>,
    /// The `use` names rewritten calls went through (the first segment of their path).
    bypassed: BTreeSet<String>,
}

impl Edits<'_> {
    fn resolve(&self, p: &syn::Path) -> Vec<String> {
        self.uses.resolve(p)
    }

    fn root(&self, e: &syn::Expr) -> Vec<String> {
        self.uses.root(e)
    }

    fn rename_key(&mut self, lit: &syn::LitStr) {
        if self.m.env_keys.contains(&lit.value()) {
            let s = lit.span();
            self.out.push((
                s.start(),
                s.end(),
                format!("\"{}\"", self.m.namespaced(&lit.value())),
            ));
        }
    }
}

impl<'ast> Visit<'ast> for Edits<'_> {
    fn visit_expr_method_call(&mut self, mc: &'ast syn::ExprMethodCall) {
        if self.m.soften_inits && mc.method == "init" && mc.args.is_empty() {
            let root = self.root(&mc.receiver);
            let skipped = match root.first().map(String::as_str) {
                Some("tracing_subscriber") => Some(SKIPPED_TRACING),
                Some("env_logger") => Some(SKIPPED_LOGGER),
                _ => None,
            };
            if let Some(skipped) = skipped {
                let end = mc.paren_token.span.close().end();
                self.out.push((
                    mc.method.span().start(),
                    end,
                    format!("try_init(){skipped}"),
                ));
            }
        }
        syn::visit::visit_expr_method_call(self, mc);
    }

    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        if let syn::Expr::Path(p) = &*c.func {
            let path = self.resolve(&p.path);
            let names: Vec<&str> = path.iter().map(String::as_str).collect();
            if self.m.soften_inits && p.qself.is_none() {
                let skipped = match names.as_slice() {
                    ["tracing_subscriber", .., "init"] => Some(SKIPPED_TRACING),
                    ["env_logger", .., "init"] => Some(SKIPPED_LOGGER),
                    _ => None,
                };
                if let Some((skipped, (_, within))) = skipped.zip(names.split_last()) {
                    // The whole callee becomes the resolved path, from the crate root: an alias
                    // (`use tracing_subscriber::fmt::init as setup`) or an imported `init` has
                    // no `try_init` in scope.
                    let full = format!("::{}::try_init", within.join("::"));
                    let s = p.path.span();
                    self.out.push((s.start(), s.end(), full));
                    if let Some(first) = p.path.segments.first() {
                        if p.path.leading_colon.is_none() {
                            self.bypassed.insert(first.ident.to_string());
                        }
                    }
                    let end = c.paren_token.span.close().end();
                    self.out.push((end, end, skipped.to_owned()));
                }
            }
            if matches!(names.as_slice(), [.., "env", "var" | "var_os"]) {
                if let Some(syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                })) = c.args.first()
                {
                    self.rename_key(s);
                }
            }
        }
        syn::visit::visit_expr_call(self, c);
    }

    fn visit_field(&mut self, f: &'ast syn::Field) {
        // clap's bare `env` reads the field's name upper-cased (`port` -> `PORT`), as check's
        // scan reads it.
        let implicit = f.ident.as_ref().map(|i| bare_env_key(&i.to_string()));
        for arg in f.attrs.iter().filter_map(ClapArg::of) {
            for k in &arg.named_env {
                self.rename_key(k);
            }
            if let Some(key) = implicit.as_ref().filter(|k| self.m.env_keys.contains(*k)) {
                for at in &arg.bare_env {
                    let end = at.end();
                    self.out
                        .push((end, end, format!(" = \"{}\"", self.m.namespaced(key))));
                }
            }
        }
        syn::visit::visit_field(self, f);
    }

    fn visit_attribute(&mut self, a: &'ast syn::Attribute) {
        let allocator = merge_analyzer::check::scan::is_global_allocator(std::slice::from_ref(a));
        if self.m.drop_allocator && allocator {
            let s = a.span();
            self.out.push((
                s.start(),
                s.end(),
                "#[allow(dead_code)] /* #[global_allocator]: removed by cargo merge, one allocator per binary */"
                    .to_owned(),
            ));
        }
        syn::visit::visit_attribute(self, a);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        visit_macro_body(self, mac);
        syn::visit::visit_macro(self, mac);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        // An inline module sees its own `use`s, not its parent's: as check's scan reads it.
        let inner = Aliases::of_mod(m, &self.uses);
        let outer = std::mem::replace(&mut self.uses, inner);
        syn::visit::visit_item_mod(self, m);
        self.uses = outer;
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::apply;
    use super::*;

    #[test]
    fn inits_keys_and_allocators_are_mended() {
        let m = Member {
            soften_inits: true,
            env_keys: BTreeSet::from(["PORT".to_owned()]),
            prefix: "ALPHA".to_owned(),
            drop_allocator: true,
        };
        let text = "use std::env;\n#[global_allocator]\nstatic A: S = S;\n\
                    fn main() { tracing_subscriber::fmt().init(); tracing_subscriber::fmt::init(); \
                    let p = env::var(\"PORT\"); let q = env::var(\"OTHER\"); }\n\
                    struct Args { #[arg(long, env = \"PORT\")] port: u16 }\n";
        let file = syn::parse_file(text).expect("parses");
        let out = crate::synth::source::apply_edits(text, edits(&file, &m));
        assert!(
            out.contains("tracing_subscriber::fmt().try_init().map_or_else("),
            "{out}"
        );
        assert!(
            out.contains("tracing_subscriber::fmt::try_init().map_or_else("),
            "{out}"
        );
        // The error goes to the runtime, which says what did not complete.
        assert_eq!(
            out.matches(".map_or_else(|e| ::merge_runtime_shim::launch::skipped_because(\"tracing subscriber\", &e), |_| ())")
                .count(),
            2,
            "{out}"
        );
        assert!(
            out.contains("env::var(\"ALPHA_PORT\")") && out.contains("env::var(\"OTHER\")"),
            "{out}"
        );
        assert!(out.contains("env = \"ALPHA_PORT\""), "{out}");
        assert!(out.contains("/* #[global_allocator]: removed"), "{out}");
        syn::parse_file(&out).expect("still Rust");
    }

    #[test]
    fn an_allocator_behind_cfg_attr_is_removed_too() {
        let m = Member {
            drop_allocator: true,
            ..Member::default()
        };
        let text = "#[cfg_attr(not(target_env = \"msvc\"), global_allocator)]\nstatic A: S = S;\n";
        let file = syn::parse_file(text).expect("parses");
        let out = crate::synth::source::apply_edits(text, edits(&file, &m));
        assert!(!out.contains("cfg_attr"), "{out}");
        assert!(out.contains("/* #[global_allocator]: removed"), "{out}");
        syn::parse_file(&out).expect("still Rust");
    }

    #[test]
    fn an_aliased_or_imported_init_calls_try_init_by_its_full_path() {
        let m = Member {
            soften_inits: true,
            prefix: "ALPHA".to_owned(),
            ..Member::default()
        };
        let text = "use tracing_subscriber::fmt::init as setup;\n\
                    mod l { use env_logger::init; pub fn f() { init(); } }\n\
                    use tracing_subscriber::fmt;\n\
                    fn main() { setup(); fmt::init(); ::env_logger::init(); \
                    tracing_subscriber::fmt::init(); tracing::info!(\"x\"); }\n";
        let out = apply(text, &m);
        let tracing = "::tracing_subscriber::fmt::try_init().map_or_else(";
        assert_eq!(out.matches(tracing).count(), 3, "{out}");
        assert_eq!(
            out.matches("::env_logger::try_init().map_or_else(|e| ::merge_runtime_shim::launch::skipped_because(\"logger\", &e), |_| ())").count(),
            2,
            "{out}"
        );
        assert!(
            !out.contains("setup()") && !out.contains(" init()") && !out.contains("::init()"),
            "{out}"
        );
        // The imports only those calls used are allowed to be unused now.
        assert!(
            out.contains("#[allow(unused_imports)] use tracing_subscriber::fmt::init as setup;")
                && out.contains("#[allow(unused_imports)] use env_logger::init;")
                && out.contains("#[allow(unused_imports)] use tracing_subscriber::fmt;"),
            "{out}"
        );
        // Nothing to soften: nothing changes.
        assert!(edits(&syn::parse_file(text).expect("parses"), &Member::default()).is_empty());
    }

    #[test]
    fn a_use_in_a_module_does_not_reach_its_parent() {
        let m = Member {
            soften_inits: true,
            ..Member::default()
        };
        let text = "mod telemetry {\n    use tracing_subscriber::fmt::init;\n    \
                    pub fn setup() { init() }\n}\nfn init() {}\n\
                    fn main() { init(); telemetry::setup(); }\n";
        let out = apply(text, &m);
        assert!(
            out.contains("pub fn setup() { ::tracing_subscriber::fmt::try_init().map_or_else(")
                && out.contains("#[allow(unused_imports)] use tracing_subscriber::fmt::init;"),
            "{out}"
        );
        // The member's own set-up still runs.
        assert!(
            out.contains("fn init() {}\nfn main() { init(); telemetry::setup(); }\n"),
            "{out}"
        );
    }

    #[test]
    fn clap_s_bare_env_is_namespaced_under_the_fields_name() {
        let m = Member {
            env_keys: BTreeSet::from(["PORT".to_owned(), "TYPE".to_owned()]),
            prefix: "ALPHA".to_owned(),
            ..Member::default()
        };
        let text = "struct Args {\n    #[arg(long, env)]\n    port: u16,\n    \
                    #[arg(env, long)]\n    other: u8,\n    #[clap(env, long)]\n    r#type: String,\n    \
                    #[arg(long, env = \"PORT\", default_value_t = 1)]\n    again: u16,\n}\n";
        let out = apply(text, &m);
        assert_eq!(
            out,
            "struct Args {\n    #[arg(long, env = \"ALPHA_PORT\")]\n    port: u16,\n    \
             #[arg(env, long)]\n    other: u8,\n    #[clap(env = \"ALPHA_TYPE\", long)]\n    r#type: String,\n    \
             #[arg(long, env = \"ALPHA_PORT\", default_value_t = 1)]\n    again: u16,\n}\n"
        );
    }
}
