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
    /// A registration in prometheus' default registry (`register_int_counter!("name", ..)`,
    /// `prometheus::register(..)`), with the metric's name when it is a literal.
    MetricRegister {
        name: Option<String>,
    },
    /// A literal address or port a listener binds: hard-coded in a `bind` call, or the default
    /// of a listen flag or environment key (`default_value = "0.0.0.0:8080"`,
    /// `env::var("PORT").unwrap_or("8080")`).
    Listen {
        /// A normalised IP, or `*` for every interface (`0.0.0.0`, `::`, a bare port).
        host: String,
        port: u16,
        default: bool,
    },
    /// A literal relative path opened at run time (`File::open("config.toml")`).
    RelativePath {
        path: String,
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
    } else if let Ok(file) = syn::parse2::<syn::File>(without_static_ref(m.tokens.clone())) {
        // `lazy_static! { static ref X: T = expr; }`: items once `ref` is dropped.
        for item in &file.items {
            v.visit_item(item);
        }
    }
}

/// The tokens with `ref` dropped after `static`.
fn without_static_ref(tokens: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let mut out = Vec::new();
    let mut after_static = false;
    for t in tokens {
        let is_ident = |name: &str| matches!(&t, proc_macro2::TokenTree::Ident(i) if i == name);
        if after_static && is_ident("ref") {
            after_static = false;
            continue;
        }
        after_static = is_ident("static");
        out.push(t);
    }
    out.into_iter().collect()
}

/// The string literal an expression amounts to: `"x"`, `&"x"`, `"x".to_owned()` (or
/// `.into()`, `.to_string()`, `.parse()`…), `String::from("x")`, a closure returning one.
fn literal(e: &syn::Expr) -> Option<syn::LitStr> {
    match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.clone()),
        syn::Expr::Reference(r) => literal(&r.expr),
        syn::Expr::Paren(p) => literal(&p.expr),
        syn::Expr::Try(t) => literal(&t.expr),
        syn::Expr::Closure(c) => literal(&c.body),
        syn::Expr::Block(b) => match b.block.stmts.as_slice() {
            [syn::Stmt::Expr(e, None)] => literal(e),
            _ => None,
        },
        syn::Expr::MethodCall(m)
            if matches!(
                m.method.to_string().as_str(),
                "to_owned" | "to_string" | "into" | "parse" | "unwrap" | "expect"
            ) =>
        {
            literal(&m.receiver)
        }
        syn::Expr::Call(c) if c.args.len() == 1 => match &*c.func {
            syn::Expr::Path(p)
                if p.path.segments.last().is_some_and(|s| {
                    s.ident == "from" || s.ident == "new" || s.ident == "Some"
                }) =>
            {
                literal(&c.args[0])
            }
            _ => None,
        },
        _ => None,
    }
}

/// `host:port` or a bare port (`port_alone`) as a listen address: the host normalised (`*`
/// for every interface), never a URL (a peer's address has a scheme).
pub fn listen_addr(text: &str, port_alone: bool) -> Option<(String, u16)> {
    if text.contains("://") {
        return None;
    }
    if let Ok(port) = text.parse::<u16>() {
        return port_alone.then(|| ("*".to_owned(), port));
    }
    if let Ok(a) = text.parse::<std::net::SocketAddr>() {
        let host = if a.ip().is_unspecified() {
            "*".to_owned()
        } else {
            a.ip().to_string()
        };
        return Some((host, a.port()));
    }
    let (host, port) = text.rsplit_once(':')?;
    let port = port.parse::<u16>().ok()?;
    match host {
        "" | "*" => Some(("*".to_owned(), port)),
        "localhost" => Some(("127.0.0.1".to_owned(), port)),
        _ => None,
    }
}

/// Whether a flag or key names where the service itself listens (not a peer it calls).
fn names_a_listener(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ![
        "url", "peer", "upstream", "remote", "endpoint", "connect", "target", "backend",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// prometheus' `register_int_counter!` and kin, which register in the default registry (the
/// `_with_registry` forms take a registry of their own).
fn registers_a_metric(path: &[String]) -> bool {
    let Some(last) = path.last() else {
        return false;
    };
    last.starts_with("register_")
        && !last.ends_with("_with_registry")
        && (path.len() == 1 || path[0] == "prometheus")
}

/// The literal metric name of `register_x!("name", ..)`, `register_x!(opts!("name", ..))` or
/// `register_x!(Opts::new("name", ..), ..)`.
fn metric_name(m: &syn::Macro) -> Option<String> {
    type Exprs = syn::punctuated::Punctuated<syn::Expr, syn::Token![,]>;
    fn first(e: &syn::Expr) -> Option<String> {
        if let Some(lit) = literal(e) {
            return Some(lit.value());
        }
        match e {
            syn::Expr::Macro(inner) => inner
                .mac
                .parse_body_with(Exprs::parse_terminated)
                .ok()?
                .first()
                .and_then(first),
            syn::Expr::Call(c) => c.args.first().and_then(first),
            syn::Expr::MethodCall(c) => first(&c.receiver),
            _ => None,
        }
    }
    let args = m.parse_body_with(Exprs::parse_terminated).ok()?;
    args.first().and_then(first)
}

/// Whether a key or flag is about an address (`PORT`, `LISTEN_ADDR`, `bind`).
fn names_an_address(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["port", "addr", "listen", "bind"]
        .iter()
        .any(|w| n.contains(w))
}

/// Whether a resolved path (`std::fs::read`, `tokio::fs::File::open`) opens or reads a file by
/// its path argument.
fn opens(names: &[&str]) -> bool {
    names.contains(&"fs")
        && matches!(
            names.last(),
            Some(
                &("open"
                    | "create"
                    | "read"
                    | "read_to_string"
                    | "write"
                    | "read_dir"
                    | "create_dir"
                    | "create_dir_all"
                    | "remove_file"
                    | "metadata"
                    | "canonicalize")
            )
        )
}

/// A path that resolves against the working directory.
fn is_relative(path: &str) -> bool {
    !path.is_empty() && std::path::Path::new(path).is_relative()
}

/// Whether a key or flag is a port alone (`PORT`, `metrics_port`).
fn names_a_port(name: &str) -> bool {
    name.to_ascii_lowercase().contains("port")
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

    fn listen(&mut self, text: &str, at: LineColumn, port_alone: bool, default: bool) {
        if let Some((host, port)) = listen_addr(text, port_alone) {
            if port != 0 {
                self.push(
                    Event::Listen {
                        host,
                        port,
                        default,
                    },
                    at,
                );
            }
        }
    }

    /// The literal key of the environment read a method chain starts from
    /// (`env::var("PORT").ok()` -> `PORT`).
    fn env_read_key(&self, mut e: &syn::Expr) -> Option<String> {
        loop {
            match e {
                syn::Expr::MethodCall(m) => e = &m.receiver,
                syn::Expr::Paren(p) => e = &p.expr,
                syn::Expr::Call(c) => {
                    let syn::Expr::Path(p) = &*c.func else {
                        return None;
                    };
                    let path = self.resolve(&p.path);
                    let names: Vec<&str> = path.iter().map(String::as_str).collect();
                    if !matches!(names.as_slice(), [.., "env", "var" | "var_os"]) {
                        return None;
                    }
                    return c.args.first().and_then(literal).map(|l| l.value());
                }
                _ => return None,
            }
        }
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
            let first = c.args.first().and_then(literal);
            match (names.as_slice(), &first) {
                ([.., "bind"], Some(lit)) => {
                    self.listen(&lit.value(), lit.span().start(), false, false)
                }
                (["prometheus", "register"], _) => {
                    self.push(Event::MetricRegister { name: None }, p.span().start());
                }
                (_, Some(lit)) if opens(&names) && is_relative(&lit.value()) => {
                    self.push(
                        Event::RelativePath { path: lit.value() },
                        lit.span().start(),
                    );
                }
                _ => {}
            }
            let in_main = self.fn_stack.first().is_some_and(|f| f == "main");
            self.push(Event::Call { path, in_main }, p.span().start());
        }
        syn::visit::visit_expr_call(self, c);
    }

    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        let root = self.root(&m.receiver);
        let method = m.method.to_string();
        let first = m.args.first().and_then(literal);
        match (method.as_str(), &first) {
            ("bind" | "serve" | "serve_with_shutdown" | "listen", Some(lit)) => {
                self.listen(&lit.value(), lit.span().start(), false, false);
            }
            ("unwrap_or" | "unwrap_or_else", Some(lit)) => {
                // The default of an environment read: `env::var("PORT").unwrap_or("8080")`.
                if let Some(key) = self.env_read_key(&m.receiver) {
                    if names_a_listener(&key) && names_an_address(&key) {
                        self.listen(&lit.value(), lit.span().start(), names_a_port(&key), true);
                    }
                }
            }
            ("register", _) if root == ["prometheus", "default_registry"] => {
                self.push(
                    Event::MetricRegister { name: None },
                    m.method.span().start(),
                );
            }
            _ => {}
        }
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
                let mut default = None;
                let _ = a.parse_nested_meta(|meta| {
                    if meta.path.is_ident("env") && meta.input.peek(syn::Token![=]) {
                        let lit: syn::LitStr = meta.value()?.parse()?;
                        self.push(Event::EnvRead { key: lit.value() }, lit.span().start());
                    } else if (meta.path.is_ident("default_value")
                        || meta.path.is_ident("default_value_t"))
                        && meta.input.peek(syn::Token![=])
                    {
                        default = Some(meta.value()?.parse::<syn::Lit>()?);
                    } else if meta.input.peek(syn::Token![=]) {
                        let _: syn::Expr = meta.value()?.parse()?;
                    } else if meta.input.peek(syn::token::Paren) {
                        let _ = meta.parse_nested_meta(|_| Ok(()));
                    }
                    Ok(())
                });
                // The default of a listen flag: `#[arg(default_value = "0.0.0.0:8080")] addr`.
                let name = f
                    .ident
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                if names_a_listener(&name) {
                    let port_alone = names_a_port(&name);
                    match &default {
                        Some(syn::Lit::Str(lit)) => {
                            self.listen(&lit.value(), lit.span().start(), port_alone, true);
                        }
                        Some(syn::Lit::Int(lit)) => {
                            self.listen(&lit.to_string(), lit.span().start(), port_alone, true);
                        }
                        _ => {}
                    }
                }
            }
        }
        syn::visit::visit_field(self, f);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        let path = self.resolve(&m.path);
        if registers_a_metric(&path) {
            self.push(
                Event::MetricRegister {
                    name: metric_name(m),
                },
                m.path.span().start(),
            );
        }
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

    #[test]
    fn listen_addresses_are_told_from_peers() {
        assert_eq!(listen_addr("0.0.0.0:8080", false), Some(("*".into(), 8080)));
        assert_eq!(listen_addr("[::]:1", false), Some(("*".into(), 1)));
        assert_eq!(
            listen_addr("localhost:9", false),
            Some(("127.0.0.1".into(), 9))
        );
        assert_eq!(
            listen_addr("127.0.0.1:50051", false),
            Some(("127.0.0.1".into(), 50051))
        );
        assert_eq!(listen_addr("http://127.0.0.1:50051", false), None);
        assert_eq!(listen_addr("8080", false), None);
        assert_eq!(listen_addr("8080", true), Some(("*".into(), 8080)));
        assert_eq!(listen_addr("db.internal:5432", false), None);
    }

    #[test]
    fn listeners_metrics_pools_and_paths_are_found_through_macros_and_aliases() {
        let text = "use prometheus::register_int_counter as counter;\n\
                    lazy_static::lazy_static! { static ref R: IntCounter = counter!(opts!(\"reqs\", \"h\")).unwrap(); }\n\
                    struct A { #[arg(long, default_value = \"0.0.0.0:50051\")] listen: String,\n\
                    #[arg(long, default_value = \"127.0.0.1:7\")] peer_url: String,\n\
                    #[arg(long, default_value_t = 9000)] metrics_port: u16 }\n\
                    fn f() { let p = std::env::var(\"PORT\").ok().unwrap_or_else(|| \"3000\".into());\n\
                    let l = TcpListener::bind(\"127.0.0.1:9100\");\n\
                    let c = std::fs::read_to_string(\"conf/app.toml\"); let d = std::fs::read(\"/etc/x\");\n\
                    rayon::ThreadPoolBuilder::new().build_global().unwrap();\n\
                    prometheus::default_registry().register(Box::new(x)); }\n";
        let ev = events(text);
        let listen = |host: &str, port: u16, default: bool| Event::Listen {
            host: host.into(),
            port,
            default,
        };
        assert!(ev.contains(&Event::MetricRegister {
            name: Some("reqs".into())
        }));
        assert!(ev.contains(&Event::MetricRegister { name: None }));
        assert!(ev.contains(&listen("*", 50051, true)));
        assert!(ev.contains(&listen("*", 9000, true)));
        assert!(ev.contains(&listen("*", 3000, true)));
        assert!(ev.contains(&listen("127.0.0.1", 9100, false)));
        assert!(
            !ev.iter()
                .any(|e| matches!(e, Event::Listen { port: 7, .. }))
        );
        assert!(ev.contains(&Event::RelativePath {
            path: "conf/app.toml".into()
        }));
        assert!(
            !ev.iter()
                .any(|e| matches!(e, Event::RelativePath { path } if path == "/etc/x"))
        );
        assert!(ev.contains(&Event::Method {
            name: "build_global".into(),
            root: vec!["rayon".into(), "ThreadPoolBuilder".into(), "new".into()],
        }));
    }
}
