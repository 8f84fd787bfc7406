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
        how: Set,
    },
    /// A call whose result is dropped or turned into an `Option` (`let _ = log::set_logger(..)`,
    /// `set_global_default(..).ok()`): its failure is harmless. At the call's own place.
    Ignored {
        path: Vec<String>,
    },
    /// `try_init()` whose failure stops the member (`.unwrap()`, `.expect(..)`, `?`), on a
    /// receiver chain starting at `root` (`tracing_subscriber::fmt`).
    StrictInit {
        root: Vec<String>,
    },
    /// A literal relative path opened at run time (`File::open("config.toml")`).
    RelativePath {
        path: String,
    },
}

/// How a listen address is given, which says whether two members can be set apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Set {
    /// Written in the code (`bind("0.0.0.0:9100")`, `let addr = "[::1]:50051".parse()?`).
    InCode,
    /// The default of a flag without an environment key: members share the command line.
    FlagDefault,
    /// The default of an environment read (or of a flag with an `env` key): each member's own
    /// `<MEMBER>_<KEY>` can set it.
    EnvDefault,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub event: Event,
    pub line: usize,
    pub column: usize,
}

/// Everything `text` shows.
pub fn scan(text: &str) -> Vec<Found> {
    scan_file(text).found
}

/// What one file shows, with the out-of-line modules it declares as test code.
#[derive(Debug, Clone, Default)]
pub struct Scanned {
    pub found: Vec<Found>,
    /// The out-of-line modules declared under `#[cfg(test)]` (`#[cfg(test)] mod tests;`, or a
    /// `mod x;` inside an inline test module), by their module path from the file's own module
    /// (`["tests"]`, `["net", "tests"]`): their files are test code too.
    pub test_mods: Vec<Vec<String>>,
}

/// Everything `text` shows, and its test modules' files (parsed once).
pub fn scan_file(text: &str) -> Scanned {
    let Ok(file) = syn::parse_file(text) else {
        return Scanned::default();
    };
    let mut v = Scanner {
        uses: Aliases::of(&file),
        out: Vec::new(),
        fn_stack: Vec::new(),
        pending: BTreeMap::new(),
        mod_path: Vec::new(),
        test_mods: Vec::new(),
    };
    v.visit_file(&file);
    Scanned {
        found: v.out,
        test_mods: v.test_mods,
    }
}

/// The `use` aliases of one module: the name a path starts with -> the full path. A module's are
/// the `use` items directly in it and (an approximation of block scopes) those in its functions'
/// bodies, not its child modules' (`use super::*` brings in its parent's). Visitors switch to an
/// inline module's on entering it ([`Aliases::of_mod`]) and back on leaving it. Also used by
/// `build`'s mitigations, which must find what `check` found.
#[derive(Debug, Clone, Default)]
pub struct Aliases(BTreeMap<String, Vec<String>>);

impl Aliases {
    /// The aliases of a file's own module (its top-level items).
    pub fn of(file: &syn::File) -> Aliases {
        Aliases::of_items(&file.items, None)
    }

    /// The aliases of the inline module `m` (`mod m { .. }`) in a module whose are `parent`.
    pub fn of_mod(m: &syn::ItemMod, parent: &Aliases) -> Aliases {
        let items = m
            .content
            .as_ref()
            .map_or(&[][..], |(_, items)| items.as_slice());
        Aliases::of_items(items, Some(parent))
    }

    fn of_items(items: &[syn::Item], parent: Option<&Aliases>) -> Aliases {
        #[derive(Default)]
        struct Uses {
            names: BTreeMap<String, Vec<String>>,
            glob_super: bool,
        }
        impl<'ast> Visit<'ast> for Uses {
            fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
                tree(&mut Vec::new(), &u.tree, &mut self.names);
                self.glob_super |= globs_super(&u.tree);
            }
            // A child module has a scope of its own.
            fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {}
        }
        let mut u = Uses::default();
        for item in items {
            u.visit_item(item);
        }
        // `use super::*` imports the parent's names, which the module's own shadow.
        let mut names = match parent {
            Some(p) if u.glob_super => p.0.clone(),
            _ => BTreeMap::new(),
        };
        for (name, mut full) in u.names {
            // `use super::init` where the parent imports `init`: the parent's path.
            let outer = match (parent, full.as_slice()) {
                (Some(p), [first, of, ..]) if first == "super" => p.0.get(of),
                _ => None,
            };
            if let Some(outer) = outer {
                full.splice(..2, outer.iter().cloned());
            }
            names.insert(name, full);
        }
        Aliases(names)
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

/// Whether a `use` tree imports everything of the parent module (`use super::*`).
fn globs_super(t: &syn::UseTree) -> bool {
    match t {
        syn::UseTree::Path(p) if p.ident == "super" => match &*p.tree {
            syn::UseTree::Glob(_) => true,
            syn::UseTree::Group(g) => g.items.iter().any(|t| matches!(t, syn::UseTree::Glob(_))),
            _ => false,
        },
        syn::UseTree::Group(g) => g.items.iter().any(globs_super),
        _ => false,
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

/// `("0.0.0.0", 8080)` as `0.0.0.0:8080`, where it starts.
fn tuple_addr(e: &syn::Expr) -> Option<(String, LineColumn)> {
    match e {
        syn::Expr::Reference(r) => tuple_addr(&r.expr),
        syn::Expr::Paren(p) => tuple_addr(&p.expr),
        syn::Expr::Tuple(t) if t.elems.len() == 2 => {
            let host = literal(&t.elems[0])?.value();
            let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(port),
                ..
            }) = &t.elems[1]
            else {
                return None;
            };
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            Some((format!("{host}:{}", port.base10_digits()), t.span().start()))
        }
        _ => None,
    }
}

/// The variable an argument passes: `name`, `&name`, `name.clone()`.
fn variable(e: &syn::Expr) -> Option<String> {
    match e {
        syn::Expr::Path(p) if p.qself.is_none() => p.path.get_ident().map(ToString::to_string),
        syn::Expr::Reference(r) => variable(&r.expr),
        syn::Expr::Paren(p) => variable(&p.expr),
        syn::Expr::MethodCall(m) if m.method == "clone" && m.args.is_empty() => {
            variable(&m.receiver)
        }
        _ => None,
    }
}

/// The out-of-line modules of `m` (itself, or declared within it), by their module paths (`m`'s
/// is `path`).
fn out_of_line(m: &syn::ItemMod, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Some((_, items)) = &m.content else {
        out.push(path.clone());
        return;
    };
    for item in items {
        if let syn::Item::Mod(inner) = item {
            path.push(inner.ident.to_string());
            out_of_line(inner, path, out);
            path.pop();
        }
    }
}

/// `x: T` as `x`.
fn strip_type(p: &syn::Pat) -> &syn::Pat {
    match p {
        syn::Pat::Type(t) => strip_type(&t.pat),
        _ => p,
    }
}

/// Whether attributes mark test code (`#[test]`, `#[tokio::test]`, `#[cfg(test)]`), which the
/// merged binary does not run.
pub fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().segments.last().is_some_and(|s| s.ident == "test")
            || (a.path().is_ident("cfg")
                && a.meta
                    .require_list()
                    .is_ok_and(|l| l.tokens.to_string().trim() == "test"))
    })
}

/// Whether attributes make an item the global allocator, directly or through `cfg_attr`.
pub fn is_global_allocator(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("global_allocator")
            || (a.path().is_ident("cfg_attr")
                && a.meta.require_list().is_ok_and(|l| {
                    l.tokens.clone().into_iter().any(
                    |t| matches!(t, proc_macro2::TokenTree::Ident(i) if i == "global_allocator"),
                )
                }))
    })
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

/// Whether a flag, key or variable names where the service itself listens, by its words
/// (split on `_` and `-`): a bare `port`, `addr`, `address`, `listen` or `bind`, or such a word
/// after one saying what is served (`grpc_port`, `metrics_addr`, `listen_addr`). A word for a
/// backend or a peer (`db_port`, `redis_addr`, `pricing_addr`, `peer_url`) is not a listener.
fn names_a_listener(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let words: Vec<&str> = lower.split(['_', '-']).filter(|w| !w.is_empty()).collect();
    let Some((last, rest)) = words.split_last() else {
        return false;
    };
    if words.iter().any(|w| matches!(*w, "listen" | "bind")) {
        return true;
    }
    matches!(*last, "port" | "addr" | "address" | "socket")
        && rest.iter().all(|w| {
            matches!(
                *w,
                "listen"
                    | "bind"
                    | "grpc"
                    | "http"
                    | "https"
                    | "server"
                    | "serve"
                    | "metrics"
                    | "admin"
                    | "health"
                    | "debug"
                    | "public"
                    | "internal"
                    | "local"
                    | "app"
                    | "service"
                    | "api"
                    | "web"
                    | "tcp"
                    | "udp"
                    | "host"
            )
        })
}

/// Whether a listener's name is a port alone (`PORT`, `metrics_port`).
fn names_a_port(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with("port")
}

/// prometheus' `register_int_counter!` and kin, which register in the default registry (the
/// `_with_registry` forms take a registry of their own). Without a path (`#[macro_use]`), only
/// prometheus' own macro names count.
fn registers_a_metric(path: &[String]) -> bool {
    const MACROS: [&str; 10] = [
        "register_counter",
        "register_counter_vec",
        "register_gauge",
        "register_gauge_vec",
        "register_histogram",
        "register_histogram_vec",
        "register_int_counter",
        "register_int_counter_vec",
        "register_int_gauge",
        "register_int_gauge_vec",
    ];
    match path {
        [name] => MACROS.contains(&name.as_str()),
        [first, .., last] => {
            first == "prometheus"
                && last.starts_with("register_")
                && !last.ends_with("_with_registry")
        }
        [] => false,
    }
}

/// The metric name of `register_x!("name", ..)`, `register_x!(opts!("name", ..))` or
/// `register_x!(Opts::new("name", ..).namespace("ns"), ..)`, as prometheus makes it
/// (`namespace_subsystem_name`); nothing when a part is not a literal.
fn metric_name(m: &syn::Macro) -> Option<String> {
    type Exprs = syn::punctuated::Punctuated<syn::Expr, syn::Token![,]>;
    fn name(e: &syn::Expr) -> Option<String> {
        if let Some(lit) = literal(e) {
            return Some(lit.value());
        }
        match e {
            syn::Expr::Macro(inner) => inner
                .mac
                .parse_body_with(Exprs::parse_terminated)
                .ok()?
                .first()
                .and_then(name),
            syn::Expr::Call(c) => c.args.first().and_then(name),
            syn::Expr::MethodCall(_) => {
                // `.namespace("ns")` and `.subsystem("s")` in any order: `ns_s_name`.
                let (mut namespace, mut subsystem) = (None, None);
                let mut at = e;
                while let syn::Expr::MethodCall(c) = at {
                    let part = || c.args.first().and_then(literal).map(|l| l.value());
                    match c.method.to_string().as_str() {
                        "namespace" => namespace = namespace.or(Some(part()?)),
                        "subsystem" => subsystem = subsystem.or(Some(part()?)),
                        _ => {}
                    }
                    at = &c.receiver;
                }
                let base = name(at)?;
                let parts: Vec<String> = [namespace, subsystem, Some(base)]
                    .into_iter()
                    .flatten()
                    .filter(|p| !p.is_empty())
                    .collect();
                Some(parts.join("_"))
            }
            _ => None,
        }
    }
    let args = m.parse_body_with(Exprs::parse_terminated).ok()?;
    args.first().and_then(name)
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

struct Scanner {
    uses: Aliases,
    out: Vec<Found>,
    /// Names of the enclosing functions.
    fn_stack: Vec<String>,
    /// The enclosing function's `let <listener name> = <literal address>`, by the variable's
    /// name: its address text and where the literal is. A listener once the variable reaches a
    /// `bind`/`serve` argument.
    pending: BTreeMap<String, (String, LineColumn)>,
    /// The inline modules the visit is in, from the file's own.
    mod_path: Vec<String>,
    /// See [`Scanned::test_mods`].
    test_mods: Vec<Vec<String>>,
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

    fn listen(&mut self, text: &str, at: LineColumn, port_alone: bool, how: Set) {
        if let Some((host, port)) = listen_addr(text, port_alone) {
            if port != 0 {
                self.push(Event::Listen { host, port, how }, at);
            }
        }
    }

    /// Records that the result of call `e` (a path call) is ignored.
    /// The call is the start of a method chain (`set_logger(&L).map(|()| ..)`), whose result
    /// the member drops or inspects itself.
    fn ignored(&mut self, mut e: &syn::Expr) {
        loop {
            match e {
                syn::Expr::MethodCall(m) => e = &m.receiver,
                syn::Expr::Paren(p) => e = &p.expr,
                syn::Expr::Call(c) => {
                    if let syn::Expr::Path(p) = &*c.func {
                        let path = self.resolve(&p.path);
                        self.push(Event::Ignored { path }, p.span().start());
                    }
                    return;
                }
                _ => return,
            }
        }
    }

    /// `x.try_init()` whose failure stops the member (`.unwrap()`, `.expect(..)`, `?`): an
    /// initialisation build cannot soften.
    fn strict_try_init(&mut self, e: &syn::Expr) {
        match e {
            syn::Expr::MethodCall(m) if m.method == "try_init" => {
                let root = self.root(&m.receiver);
                self.push(Event::StrictInit { root }, m.method.span().start());
            }
            syn::Expr::Call(c) => {
                if let syn::Expr::Path(p) = &*c.func {
                    let mut root = self.resolve(&p.path);
                    if root.last().is_some_and(|l| l == "try_init") {
                        root.pop();
                        self.push(Event::StrictInit { root }, p.span().start());
                    }
                }
            }
            _ => {}
        }
    }

    /// The address argument of a `bind`/`serve` call, when it is written in the code: a
    /// literal (`"0.0.0.0:9100"`, `"..".parse()?`), a tuple (`("0.0.0.0", 8080)`) or a variable
    /// the function set to one (`let addr = "[::1]:50051".parse()?; .. .serve(addr)`).
    fn bind_arg(&mut self, arg: Option<&syn::Expr>) {
        let Some(arg) = arg else {
            return;
        };
        if let Some(lit) = literal(arg) {
            self.listen(&lit.value(), lit.span().start(), false, Set::InCode);
        } else if let Some((text, at)) = tuple_addr(arg) {
            self.listen(&text, at, false, Set::InCode);
        } else if let Some((text, at)) = variable(arg).and_then(|v| self.pending.remove(&v)) {
            self.listen(&text, at, false, Set::InCode);
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
        if is_test(&f.attrs) {
            return;
        }
        self.fn_stack.push(f.sig.ident.to_string());
        let outer = std::mem::take(&mut self.pending);
        syn::visit::visit_item_fn(self, f);
        self.pending = outer;
        self.fn_stack.pop();
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if is_test(&f.attrs) {
            return;
        }
        self.fn_stack.push(f.sig.ident.to_string());
        let outer = std::mem::take(&mut self.pending);
        syn::visit::visit_impl_item_fn(self, f);
        self.pending = outer;
        self.fn_stack.pop();
    }

    fn visit_item_static(&mut self, s: &'ast syn::ItemStatic) {
        if is_global_allocator(&s.attrs) {
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
                ([.., "bind"], _) => self.bind_arg(c.args.first()),
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
        if matches!(
            method.as_str(),
            "ok" | "unwrap_or_default" | "unwrap_or" | "unwrap_or_else" | "is_err" | "is_ok"
        ) {
            self.ignored(&m.receiver);
        }
        if matches!(method.as_str(), "unwrap" | "expect") {
            self.strict_try_init(&m.receiver);
        }
        match (method.as_str(), &first) {
            ("bind" | "serve" | "serve_with_shutdown" | "listen", _) => {
                self.bind_arg(m.args.first());
            }
            ("unwrap_or" | "unwrap_or_else", Some(lit)) => {
                // The default of an environment read: `env::var("PORT").unwrap_or("8080")`.
                if let Some(key) = self.env_read_key(&m.receiver) {
                    if names_a_listener(&key) {
                        let port_alone = names_a_port(&key);
                        self.listen(
                            &lit.value(),
                            lit.span().start(),
                            port_alone,
                            Set::EnvDefault,
                        );
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
        // clap: `#[arg(long, env = "PORT")]`, or `#[arg(long, env)] port` for `PORT`.
        let name = f
            .ident
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        for a in &f.attrs {
            if a.path().is_ident("arg") || a.path().is_ident("clap") {
                let mut default = None;
                let mut env = false;
                let _ = a.parse_nested_meta(|meta| {
                    if meta.path.is_ident("env") {
                        env = true;
                        if meta.input.peek(syn::Token![=]) {
                            let lit: syn::LitStr = meta.value()?.parse()?;
                            self.push(Event::EnvRead { key: lit.value() }, lit.span().start());
                        } else if !name.is_empty() {
                            let key = name.trim_start_matches("r#").to_ascii_uppercase();
                            self.push(Event::EnvRead { key }, meta.path.span().start());
                        }
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
                if names_a_listener(&name) {
                    let port_alone = names_a_port(&name);
                    let how = if env {
                        Set::EnvDefault
                    } else {
                        Set::FlagDefault
                    };
                    match &default {
                        Some(syn::Lit::Str(lit)) => {
                            self.listen(&lit.value(), lit.span().start(), port_alone, how);
                        }
                        Some(syn::Lit::Int(lit)) => {
                            self.listen(&lit.to_string(), lit.span().start(), port_alone, how);
                        }
                        _ => {}
                    }
                }
            }
        }
        syn::visit::visit_field(self, f);
    }

    /// `let addr = "[::1]:50051".parse()?;`: a listen address written in the code, by the
    /// variable's name, once `addr` reaches a `bind`/`serve` argument (a client's
    /// `let addr = "127.0.0.1:6379"; TcpStream::connect(addr)` is not a listener).
    /// `let _ = f(..);`: `f`'s result ignored.
    fn visit_local(&mut self, l: &'ast syn::Local) {
        if let (syn::Pat::Wild(_), Some(init)) = (&l.pat, &l.init) {
            self.ignored(&init.expr);
        }
        // The initialiser still sees an earlier variable of the same name.
        syn::visit::visit_local(self, l);
        if let syn::Pat::Ident(p) = strip_type(&l.pat) {
            let name = p.ident.to_string();
            let addr = l
                .init
                .as_ref()
                .filter(|_| names_a_listener(&name))
                .and_then(|init| {
                    literal(&init.expr)
                        .map(|lit| (lit.value(), lit.span().start()))
                        .or_else(|| tuple_addr(&init.expr))
                });
            match addr {
                Some(addr) => self.pending.insert(name, addr),
                None => self.pending.remove(&name),
            };
        }
    }

    fn visit_expr_try(&mut self, t: &'ast syn::ExprTry) {
        self.strict_try_init(&t.expr);
        syn::visit::visit_expr_try(self, t);
    }

    /// `if let Err(e) = set_logger(..)`: the member handles the failure.
    fn visit_expr_let(&mut self, l: &'ast syn::ExprLet) {
        self.ignored(&l.expr);
        syn::visit::visit_expr_let(self, l);
    }

    /// `match set_logger(..) { .. }`: the member handles the failure.
    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        self.ignored(&m.expr);
        syn::visit::visit_expr_match(self, m);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        self.mod_path.push(m.ident.to_string());
        if is_test(&m.attrs) {
            // Test code does not run in the merged binary, nor do its modules' files.
            out_of_line(m, &mut self.mod_path, &mut self.test_mods);
        } else {
            // An inline module sees its own `use`s, not its parent's.
            let inner = Aliases::of_mod(m, &self.uses);
            let outer = std::mem::replace(&mut self.uses, inner);
            syn::visit::visit_item_mod(self, m);
            self.uses = outer;
        }
        self.mod_path.pop();
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
        let listen = |host: &str, port: u16, how: Set| Event::Listen {
            host: host.into(),
            port,
            how,
        };
        assert!(ev.contains(&Event::MetricRegister {
            name: Some("reqs".into())
        }));
        assert!(ev.contains(&Event::MetricRegister { name: None }));
        assert!(ev.contains(&listen("*", 50051, Set::FlagDefault)));
        assert!(ev.contains(&listen("*", 9000, Set::FlagDefault)));
        assert!(ev.contains(&listen("*", 3000, Set::EnvDefault)));
        assert!(ev.contains(&listen("127.0.0.1", 9100, Set::InCode)));
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

    #[test]
    fn backends_peers_and_tests_are_not_findings_and_tonic_listeners_are() {
        let text = r#"
struct Args {
    #[arg(long, default_value = "127.0.0.1:6379")] redis: String,
    #[arg(long, default_value = "localhost:5432")] database: String,
    #[arg(long, default_value_t = 5432)] db_port: u16,
    #[arg(long, default_value = "127.0.0.1:50052")] pricing_addr: String,
    #[arg(long, env, default_value_t = 8080)] port: u16,
}
#[cfg_attr(not(target_env = "msvc"), global_allocator)]
static A: Jemalloc = Jemalloc;
async fn main() {
    let d = std::env::var("DATABASE_PORT").unwrap_or("5432".into());
    let r = std::env::var("REDIS_ADDR").unwrap_or("127.0.0.1:6379".into());
    let addr = "[::1]:50051".parse().unwrap();
    Server::builder().add_service(s).serve(addr).await?;
    let l = TcpListener::bind(("0.0.0.0", 8081)).await?;
    register_routes!(router);
    let c = register_int_counter!(Opts::new("requests_total", "h").subsystem("api").namespace("svc_a")).unwrap();
}
#[cfg(test)]
mod tests { fn t() { std::env::set_var("X", "1"); } }
#[test]
fn t2() { std::process::exit(1); }
"#;
        let ev = events(text);
        let ports: Vec<(u16, Set)> = ev
            .iter()
            .filter_map(|e| match e {
                Event::Listen { port, how, .. } => Some((*port, *how)),
                _ => None,
            })
            .collect();
        assert_eq!(
            ports,
            [
                (8080, Set::EnvDefault),
                (50051, Set::InCode),
                (8081, Set::InCode)
            ]
        );
        assert!(ev.contains(&Event::EnvRead { key: "PORT".into() }));
        assert!(ev.contains(&Event::GlobalAllocator));
        assert_eq!(
            ev.iter()
                .filter(|e| matches!(e, Event::MetricRegister { .. }))
                .collect::<Vec<_>>(),
            [&Event::MetricRegister {
                name: Some("svc_a_api_requests_total".into())
            }]
        );
        assert!(!ev.iter().any(|e| matches!(e, Event::Call { path, .. }
            if path.last().is_some_and(|l| l == "set_var" || l == "exit"))));
    }

    #[test]
    fn ignored_results_are_seen_where_the_call_is() {
        let text = "use log::set_logger;\nfn main() {\n    let _ = set_logger(&L);\n    \
                    tracing::subscriber::set_global_default(s).ok();\n    log::set_boxed_logger(b).unwrap();\n}\n";
        let found = scan(text);
        let at = |want: &Event| {
            found
                .iter()
                .filter(|f| &f.event == want)
                .map(|f| (f.line, f.column))
                .collect::<Vec<_>>()
        };
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let set_logger = path(&["log", "set_logger"]);
        assert_eq!(
            at(&Event::Ignored {
                path: set_logger.clone()
            }),
            at(&Event::Call {
                path: set_logger,
                in_main: true
            })
        );
        assert_eq!(
            at(&Event::Ignored {
                path: path(&["tracing", "subscriber", "set_global_default"])
            }),
            [(4, 5)]
        );
        assert!(!found.iter().any(|f| f.event
            == Event::Ignored {
                path: path(&["log", "set_boxed_logger"])
            }));
    }

    #[test]
    fn handled_set_logger_is_ignored_and_an_unwrapped_try_init_is_strict() {
        let text = "fn main() {\n    let _ = log::set_logger(&L).map(|()| log::set_max_level(F));\n    \
                    if let Err(e) = log::set_boxed_logger(b) { eprintln!(\"{e}\"); }\n    \
                    tracing_subscriber::fmt().try_init().expect(\"one\");\n    \
                    env_logger::try_init()?;\n    let _ = tracing_subscriber::fmt().try_init();\n}\n";
        let ev = events(text);
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        for ignored in [&["log", "set_logger"][..], &["log", "set_boxed_logger"]] {
            assert!(ev.contains(&Event::Ignored {
                path: path(ignored)
            }));
        }
        let strict: Vec<&Event> = ev
            .iter()
            .filter(|e| matches!(e, Event::StrictInit { .. }))
            .collect();
        assert_eq!(
            strict,
            [
                &Event::StrictInit {
                    root: path(&["tracing_subscriber", "fmt"])
                },
                &Event::StrictInit {
                    root: path(&["env_logger"])
                }
            ]
        );
    }

    /// The paths called, with their lines.
    fn calls(text: &str) -> Vec<(String, usize)> {
        scan(text)
            .into_iter()
            .filter_map(|f| match f.event {
                Event::Call { path, .. } => Some((path.join("::"), f.line)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn use_aliases_belong_to_their_module() {
        let text = "mod telemetry {\n    use tracing_subscriber::fmt::init;\n    \
                    pub fn setup() { init() }\n}\nfn init() {}\n\
                    fn main() { init(); telemetry::setup(); }\n";
        assert_eq!(
            calls(text),
            [
                ("tracing_subscriber::fmt::init".to_owned(), 3),
                // The member's own `init`, not tracing's.
                ("init".to_owned(), 6),
                ("telemetry::setup".to_owned(), 6)
            ]
        );
        // `use super::*` and `use super::name` see the parent's; a block's `use` is its
        // function's module's.
        let text = "use std::process::exit as quit;\n\
                    mod a { use super::*; fn f() { quit(1) } }\n\
                    mod b { use super::quit; fn f() { quit(1) } }\n\
                    mod c { fn f() { quit(1) } }\n\
                    mod d { fn f() { use tracing_subscriber::fmt::init; init() } }\n\
                    fn g() { init() }\n";
        let exit = "std::process::exit".to_owned();
        assert_eq!(
            calls(text),
            [
                (exit.clone(), 2),
                (exit, 3),
                ("quit".to_owned(), 4),
                ("tracing_subscriber::fmt::init".to_owned(), 5),
                ("init".to_owned(), 6)
            ]
        );
    }

    #[test]
    fn test_modules_declared_out_of_line_are_listed() {
        let text = "#[cfg(test)]\nmod tests;\nmod net { #[cfg(test)] mod tests; mod wire; }\n\
                    #[cfg(test)]\nmod t { mod u; mod v { mod w; } fn x() { std::process::exit(1) } }\n";
        let s = scan_file(text);
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            s.test_mods,
            [
                path(&["tests"]),
                path(&["net", "tests"]),
                path(&["t", "u"]),
                path(&["t", "v", "w"])
            ]
        );
        assert!(s.found.is_empty(), "{:?}", s.found);
    }

    #[test]
    fn a_literal_address_in_a_variable_listens_only_once_bound() {
        let text = r#"fn client() {
    let addr = "127.0.0.1:6379";
    let c = TcpStream::connect(addr);
}
fn unused() { let listen_addr = "0.0.0.0:7000"; }
fn elsewhere() { let l = TcpListener::bind(listen_addr); }
fn server() {
    let addr: SocketAddr = "0.0.0.0:8080".parse().unwrap();
    fn inner() {}
    let l = TcpListener::bind(&addr);
    let bind_addr = ("0.0.0.0", 8081);
    axum::Server::bind(bind_addr.clone());
    let addr = "0.0.0.0:8082";
    let addr = format!("{addr}");
    Server::builder().serve(addr);
}
"#;
        let found: Vec<(u16, usize, usize)> = scan(text)
            .into_iter()
            .filter_map(|f| match f.event {
                Event::Listen { port, .. } => Some((port, f.line, f.column)),
                _ => None,
            })
            .collect();
        // Where the literals are.
        assert_eq!(found, [(8080, 8, 28), (8081, 11, 21)]);
    }
}
