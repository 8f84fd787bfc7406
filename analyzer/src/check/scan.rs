//! What one source file does that matters when services share a process, read with syn: calls
//! (with `use` aliases resolved, so `use std::process::exit as quit; quit(1)` is an exit),
//! environment reads by literal key (`env::var("PORT")` and clap's `env = "PORT"`),
//! `#[global_allocator]` and `static mut` items. Code under `#[cfg(..)]` is read like any other,
//! and the bodies of macro invocations are read when they parse as expressions or statements.

use std::collections::BTreeMap;

use proc_macro2::LineColumn;
use syn::spanned::Spanned;
use syn::visit::Visit;

/// One thing found, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A call of a path (`std::process::exit`), resolved through `use`.
    Call {
        path: Vec<String>,
        in_main: bool,
    },
    /// A method call `.name()` whose receiver chain starts at `root` (resolved).
    Method {
        name: String,
        root: Vec<String>,
    },
    /// An environment variable read by its literal key.
    EnvRead {
        key: String,
    },
    GlobalAllocator,
    StaticMut {
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub event: Event,
    pub line: usize,
    pub column: usize,
}

/// Everything `text` shows.
pub fn scan(text: &str) -> Vec<Found> {
    let Ok(file) = syn::parse_file(text) else {
        return Vec::new();
    };
    let mut v = Scanner {
        uses: Aliases::of(&file),
        out: Vec::new(),
        fn_stack: Vec::new(),
    };
    v.visit_file(&file);
    v.out
}

/// The `use` aliases of a file (any depth): the name a path starts with -> the full path. Also
/// used by `build`'s mitigations, which must find what `check` found.
#[derive(Debug, Clone, Default)]
pub struct Aliases(BTreeMap<String, Vec<String>>);

impl Aliases {
    pub fn of(file: &syn::File) -> Aliases {
        struct Uses(BTreeMap<String, Vec<String>>);
        impl<'ast> Visit<'ast> for Uses {
            fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
                tree(&mut Vec::new(), &u.tree, &mut self.0);
            }
        }
        let mut u = Uses(BTreeMap::new());
        u.visit_file(file);
        Aliases(u.0)
    }

    /// `p` with its first segment resolved through the `use` items.
    pub fn resolve(&self, p: &syn::Path) -> Vec<String> {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        match segments.split_first() {
            Some((first, rest)) if p.leading_colon.is_none() => match self.0.get(first) {
                Some(full) => full.iter().cloned().chain(rest.iter().cloned()).collect(),
                None => segments,
            },
            _ => segments,
        }
    }

    /// The path a method chain starts from: `tracing_subscriber::fmt().with_x().init()`.
    pub fn root(&self, mut e: &syn::Expr) -> Vec<String> {
        loop {
            match e {
                syn::Expr::MethodCall(m) => e = &m.receiver,
                syn::Expr::Call(c) => e = &c.func,
                syn::Expr::Path(p) => return self.resolve(&p.path),
                syn::Expr::Paren(p) => e = &p.expr,
                _ => return Vec::new(),
            }
        }
    }
}

fn tree(prefix: &mut Vec<String>, t: &syn::UseTree, out: &mut BTreeMap<String, Vec<String>>) {
    match t {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            tree(prefix, &p.tree, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut full = prefix.clone();
            full.push(n.ident.to_string());
            out.insert(n.ident.to_string(), full);
        }
        syn::UseTree::Rename(r) => {
            let mut full = prefix.clone();
            full.push(r.ident.to_string());
            out.insert(r.rename.to_string(), full);
        }
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| tree(prefix, t, out)),
        syn::UseTree::Glob(_) => {}
    }
}

/// Visits the body of a macro invocation when it parses as statements or as expressions, so
/// that a macro does not hide what its arguments do.
pub fn visit_macro_body<V: for<'a> Visit<'a> + ?Sized>(v: &mut V, m: &syn::Macro) {
    type Exprs = syn::punctuated::Punctuated<syn::Expr, syn::Token![,]>;
    if let Ok(block) = m.parse_body_with(syn::Block::parse_within) {
        for stmt in &block {
            v.visit_stmt(stmt);
        }
    } else if let Ok(exprs) = m.parse_body_with(Exprs::parse_terminated) {
        for e in &exprs {
            v.visit_expr(e);
        }
    }
}

struct Scanner {
    uses: Aliases,
    out: Vec<Found>,
    /// Names of the enclosing functions.
    fn_stack: Vec<String>,
}

impl Scanner {
    fn push(&mut self, event: Event, at: LineColumn) {
        self.out.push(Found {
            event,
            line: at.line,
            column: at.column + 1,
        });
    }

    fn resolve(&self, p: &syn::Path) -> Vec<String> {
        self.uses.resolve(p)
    }

    fn root(&self, e: &syn::Expr) -> Vec<String> {
        self.uses.root(e)
    }

    fn env_key(&mut self, args: &syn::punctuated::Punctuated<syn::Expr, syn::Token![,]>) {
        if let Some(syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        })) = args.first()
        {
            self.push(Event::EnvRead { key: s.value() }, s.span().start());
        }
    }
}

impl<'ast> Visit<'ast> for Scanner {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if f.attrs
            .iter()
            .any(|a| a.path().is_ident("global_allocator"))
        {
            self.push(Event::GlobalAllocator, f.sig.ident.span().start());
        }
        self.fn_stack.push(f.sig.ident.to_string());
        syn::visit::visit_item_fn(self, f);
        self.fn_stack.pop();
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.fn_stack.push(f.sig.ident.to_string());
        syn::visit::visit_impl_item_fn(self, f);
        self.fn_stack.pop();
    }

    fn visit_item_static(&mut self, s: &'ast syn::ItemStatic) {
        if s.attrs
            .iter()
            .any(|a| a.path().is_ident("global_allocator"))
        {
            self.push(Event::GlobalAllocator, s.ident.span().start());
        }
        if matches!(s.mutability, syn::StaticMutability::Mut(_)) {
            self.push(
                Event::StaticMut {
                    name: s.ident.to_string(),
                },
                s.ident.span().start(),
            );
        }
        syn::visit::visit_item_static(self, s);
    }

    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        if let syn::Expr::Path(p) = &*c.func {
            let path = self.resolve(&p.path);
            let names: Vec<&str> = path.iter().map(String::as_str).collect();
            if matches!(names.as_slice(), [.., "env", "var" | "var_os"]) {
                self.env_key(&c.args);
            }
            let in_main = self.fn_stack.first().is_some_and(|f| f == "main");
            self.push(Event::Call { path, in_main }, p.span().start());
        }
        syn::visit::visit_expr_call(self, c);
    }

    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        let root = self.root(&m.receiver);
        self.push(
            Event::Method {
                name: m.method.to_string(),
                root,
            },
            m.method.span().start(),
        );
        syn::visit::visit_expr_method_call(self, m);
    }

    fn visit_field(&mut self, f: &'ast syn::Field) {
        // clap: `#[arg(long, env = "PORT")]`.
        for a in &f.attrs {
            if a.path().is_ident("arg") || a.path().is_ident("clap") {
                let _ = a.parse_nested_meta(|meta| {
                    if meta.path.is_ident("env") && meta.input.peek(syn::Token![=]) {
                        let lit: syn::LitStr = meta.value()?.parse()?;
                        self.push(Event::EnvRead { key: lit.value() }, lit.span().start());
                    } else if meta.input.peek(syn::Token![=]) {
                        let _: syn::Expr = meta.value()?.parse()?;
                    } else if meta.input.peek(syn::token::Paren) {
                        let _ = meta.parse_nested_meta(|_| Ok(()));
                    }
                    Ok(())
                });
            }
        }
        syn::visit::visit_field(self, f);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        visit_macro_body(self, m);
        syn::visit::visit_macro(self, m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str) -> Vec<Event> {
        scan(text).into_iter().map(|f| f.event).collect()
    }

    #[test]
    fn aliases_cfg_and_macros_hide_nothing() {
        let text = "use std::process::exit as quit;\nuse std::env;\n\
                    #[cfg(feature = \"x\")]\nfn stop() { quit(3); }\n\
                    fn f() { println!(\"{}\", env::var(\"PORT\").unwrap()); }\n";
        let found = scan(text);
        let exit = found
            .iter()
            .find(|f| matches!(&f.event, Event::Call { path, .. } if path == &["std", "process", "exit"]))
            .expect("the aliased exit");
        assert_eq!((exit.line, exit.column), (4, 13));
        assert!(
            found
                .iter()
                .any(|f| f.event == Event::EnvRead { key: "PORT".into() })
        );
    }

    #[test]
    fn method_chains_know_their_root_and_clap_env_keys_are_reads() {
        let text = "fn main() { tracing_subscriber::fmt().with_target(false).init(); }\n\
                    struct A { #[arg(long, env = \"GATEWAY_ADDR\", default_value = \"x\")] addr: String }\n\
                    #[global_allocator]\nstatic A: M = M;\nstatic mut N: u8 = 0;\n";
        let ev = events(text);
        assert!(ev.contains(&Event::Method {
            name: "init".into(),
            root: vec!["tracing_subscriber".into(), "fmt".into()],
        }));
        assert!(ev.contains(&Event::EnvRead {
            key: "GATEWAY_ADDR".into()
        }));
        assert!(ev.contains(&Event::GlobalAllocator));
        assert!(ev.contains(&Event::StaticMut { name: "N".into() }));
    }
}
