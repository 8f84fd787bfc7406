//! What one source file does that matters when services share a process, read with syn: calls
//! (with `use` aliases resolved, so `use std::process::exit as quit; quit(1)` is an exit),
//! environment reads by literal key (`env::var("PORT")` and clap's `env = "PORT"`),
//! `#[global_allocator]` and `static mut` items. Code under `#[cfg(..)]` is read like any other,
//! and the bodies of macro invocations are read when they parse as expressions or statements.

use std::collections::BTreeMap;

use proc_macro2::LineColumn;
use syn::spanned::Spanned;
use syn::visit::Visit;

mod aliases;
mod literals;
#[cfg(test)]
mod tests;

pub use aliases::Aliases;
pub use literals::{ClapArg, bare_env_key, is_global_allocator, is_test, listen_addr};
use literals::{
    is_relative, literal, metric_name, names_a_listener, names_a_port, opens, registers_a_metric,
    strip_type, tuple_addr, variable, without_static_ref,
};

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
    /// The default of a flag without an environment key (each member's own: `--member-args`).
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

/// Everything `text` shows, and its test modules' files (parsed once). prost/tonic output
/// (generated code committed or written into `src/`) shows nothing: its interceptors and
/// clients are the framework's, not the member's.
pub fn scan_file(text: &str) -> Scanned {
    match syn::parse_file(text) {
        Ok(file) => scan_parsed(&file, text),
        Err(_) => Scanned::default(),
    }
}

/// [`scan_file`] of a file already parsed (`file` is `text`'s).
pub fn scan_parsed(file: &syn::File, text: &str) -> Scanned {
    if is_generated(file, text) {
        return Scanned::default();
    }
    let mut v = Scanner {
        uses: Aliases::of(file),
        out: Vec::new(),
        fn_stack: Vec::new(),
        pending: BTreeMap::new(),
        mod_path: Vec::new(),
        test_mods: Vec::new(),
    };
    v.visit_file(file);
    Scanned {
        found: v.out,
        test_mods: v.test_mods,
    }
}

pub use merge_rewrite::is_generated;

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
        for arg in f.attrs.iter().filter_map(ClapArg::of) {
            for lit in &arg.named_env {
                self.push(Event::EnvRead { key: lit.value() }, lit.span().start());
            }
            if !name.is_empty() {
                for at in &arg.bare_env {
                    let key = bare_env_key(&name);
                    self.push(Event::EnvRead { key }, at.start());
                }
            }
            // The default of a listen flag: `#[arg(default_value = "0.0.0.0:8080")] addr`.
            if names_a_listener(&name) {
                let port_alone = names_a_port(&name);
                let how = if arg.has_env() {
                    Set::EnvDefault
                } else {
                    Set::FlagDefault
                };
                match &arg.default {
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
