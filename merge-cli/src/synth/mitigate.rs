//! What `build` mends in the copies, from `check`'s findings, each reported as a note:
//!
//! - a logger or tracing initialisation that two members make (`.init()`, `fmt::init()`,
//!   `env_logger::init()`) becomes `try_init()`: the first wins, the later ones succeed and
//!   say once that they were skipped;
//! - an environment key two members read (`env::var("PORT")`, clap's `env = "PORT"`) is
//!   namespaced per member: the copy reads `<MEMBER>_PORT`, which the merged binary's main
//!   sets from `PORT` when it is not set itself;
//! - of several `#[global_allocator]`s the first member's (by name) is kept, the others'
//!   attributes are removed.

use std::collections::{BTreeMap, BTreeSet};

use merge_analyzer::check::scan::{Aliases, visit_macro_body};
use merge_analyzer::check::{Finding, Severity};
use proc_macro2::LineColumn;
use syn::spanned::Spanned;
use syn::visit::Visit;

/// What to mend in one member's copies.
#[derive(Debug, Clone, Default)]
pub struct Member {
    /// Make global logger and tracing initialisations tolerate a second one.
    pub soften_inits: bool,
    /// Environment keys this member reads under `<PREFIX>_<KEY>`.
    pub env_keys: BTreeSet<String>,
    pub prefix: String,
    /// Remove its `#[global_allocator]` attributes.
    pub drop_allocator: bool,
}

/// The mitigations of a group: per member, and the notes that say what was done.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub members: BTreeMap<String, Member>,
    pub notes: Vec<String>,
    /// (`<MEMBER>_<KEY>`, `<KEY>`): the merged main fills the first from the second.
    pub env_fallbacks: Vec<(String, String)>,
}

impl Member {
    /// The key this member's copies read instead of `key`: `ALPHA_PORT` for `PORT`.
    pub fn namespaced(&self, key: &str) -> String {
        format!("{}_{key}", self.prefix)
    }
}

impl Plan {
    /// The environment variables member `member` reads (`keys`: the literal keys of its
    /// sources, `merge_analyzer::check::env_keys`), as its copies read them: a key namespaced
    /// for it under its `<MEMBER>_<KEY>`, which falls back to the key.
    pub fn reads(&self, member: &str, keys: BTreeSet<String>) -> Vec<super::main_rs::EnvRead> {
        let mended = self.members.get(member);
        let mut out: Vec<super::main_rs::EnvRead> = keys
            .into_iter()
            .map(|key| match mended.filter(|m| m.env_keys.contains(&key)) {
                Some(m) => super::main_rs::EnvRead {
                    key: m.namespaced(&key),
                    fallback: Some(key),
                },
                None => super::main_rs::EnvRead {
                    key,
                    fallback: None,
                },
            })
            .collect();
        out.sort();
        out
    }
}

/// Whether `build` mends finding `f`: every global allocator and environment key; an
/// initialisation only where the copy can call `try_init` instead (`tracing_subscriber`'s and
/// `env_logger`'s `init`), not `log::set_logger` or `set_global_default`, whose error the
/// member's own code handles (or unwraps).
pub fn mends(f: &Finding) -> bool {
    match f.code {
        "global-allocator" | "env-var-collision" => true,
        "global-tracing-init" | "global-logger-init" => f.subject.as_deref().is_some_and(|c| {
            let path: Vec<&str> = c.split("::").collect();
            matches!(
                path.as_slice(),
                ["tracing_subscriber" | "env_logger", .., "init"]
            )
        }),
        _ => false,
    }
}

/// `ALPHA` for member `alpha`, `ORDER_SVC` for `order-svc`.
pub fn prefix(member: &str) -> String {
    member
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

pub fn plan(findings: &[Finding]) -> Plan {
    let mut out = Plan::default();
    let mut allocators = BTreeSet::new();
    for f in findings {
        match (f.code, f.severity) {
            ("global-tracing-init" | "global-logger-init", Severity::Error) => {
                out.members
                    .entry(f.member.clone())
                    .or_default()
                    .soften_inits = true;
            }
            ("global-allocator", _) => {
                allocators.insert(f.member.clone());
            }
            ("env-var-collision", _) => {
                if let Some(key) = &f.subject {
                    let m = out.members.entry(f.member.clone()).or_default();
                    m.env_keys.insert(key.clone());
                }
            }
            _ => {}
        }
    }
    if let Some(kept) = allocators.iter().next().cloned() {
        for m in allocators.iter().skip(1) {
            out.members.entry(m.clone()).or_default().drop_allocator = true;
            out.notes.push(format!(
                "global-allocator: kept `{kept}`'s #[global_allocator], removed `{m}`'s"
            ));
        }
    }
    for (name, m) in out.members.iter_mut() {
        m.prefix = prefix(name);
        if m.soften_inits {
            out.notes.push(format!(
                "global logger/tracing initialisation of `{name}` tolerates another one (the first wins)"
            ));
        }
        for key in &m.env_keys {
            let namespaced = m.namespaced(key);
            out.notes.push(format!(
                "env-var-collision: `{name}` reads `{namespaced}` (set from `{key}` when unset)"
            ));
            out.env_fallbacks.push((namespaced, key.clone()));
        }
    }
    out.env_fallbacks.sort();
    out
}

/// The edits (start, end, replacement) that mend one file of a member.
pub fn edits(file: &syn::File, m: &Member) -> Vec<(LineColumn, LineColumn, String)> {
    let mut v = Edits {
        m,
        uses: Aliases::of(file),
        out: Vec::new(),
    };
    v.visit_file(file);
    v.out
}

const SKIPPED_TRACING: &str =
    ".map_or_else(|_| ::merge_runtime_shim::launch::skipped(\"tracing subscriber\"), |_| ())";
const SKIPPED_LOGGER: &str =
    ".map_or_else(|_| ::merge_runtime_shim::launch::skipped(\"logger\"), |_| ())";

struct Edits<'a> {
    m: &'a Member,
    uses: Aliases,
    out: Vec<(LineColumn, LineColumn, String)>,
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
            if self.m.soften_inits {
                let skipped = match names.as_slice() {
                    ["tracing_subscriber", .., "init"] => Some(SKIPPED_TRACING),
                    ["env_logger", "init"] => Some(SKIPPED_LOGGER),
                    _ => None,
                };
                if let (Some(skipped), Some(last)) = (skipped, p.path.segments.last()) {
                    let at = last.ident.span();
                    self.out.push((at.start(), at.end(), "try_init".to_owned()));
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
        for a in &f.attrs {
            if a.path().is_ident("arg") || a.path().is_ident("clap") {
                let mut keys = Vec::new();
                let _ = a.parse_nested_meta(|meta| {
                    if meta.path.is_ident("env") && meta.input.peek(syn::Token![=]) {
                        keys.push(meta.value()?.parse::<syn::LitStr>()?);
                    } else if meta.input.peek(syn::Token![=]) {
                        let _: syn::Expr = meta.value()?.parse()?;
                    } else if meta.input.peek(syn::token::Paren) {
                        let _ = meta.parse_nested_meta(|_| Ok(()));
                    }
                    Ok(())
                });
                for k in keys {
                    self.rename_key(&k);
                }
            }
        }
        syn::visit::visit_field(self, f);
    }

    fn visit_attribute(&mut self, a: &'ast syn::Attribute) {
        if self.m.drop_allocator && a.path().is_ident("global_allocator") {
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
}

#[cfg(test)]
mod tests {
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
        let out = super::super::source::apply_edits(text, edits(&file, &m));
        assert!(
            out.contains("tracing_subscriber::fmt().try_init().map_or_else("),
            "{out}"
        );
        assert!(
            out.contains("tracing_subscriber::fmt::try_init().map_or_else("),
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
}
