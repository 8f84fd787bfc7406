//! Pure helpers of the scan: the literal an expression amounts to, listen addresses and the
//! names of listeners, prometheus' registering macros and metric names, file opens by path,
//! and what attributes mark (test code, the global allocator).

use proc_macro2::LineColumn;
use syn::spanned::Spanned;

/// The tokens with `ref` dropped after `static`.
pub(super) fn without_static_ref(tokens: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
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
pub(super) fn literal(e: &syn::Expr) -> Option<syn::LitStr> {
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
pub(super) fn tuple_addr(e: &syn::Expr) -> Option<(String, LineColumn)> {
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
pub(super) fn variable(e: &syn::Expr) -> Option<String> {
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

/// `x: T` as `x`.
pub(super) fn strip_type(p: &syn::Pat) -> &syn::Pat {
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
pub(super) fn names_a_listener(name: &str) -> bool {
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
pub(super) fn names_a_port(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with("port")
}

/// prometheus' `register_int_counter!` and kin, which register in the default registry (the
/// `_with_registry` forms take a registry of their own). Without a path (`#[macro_use]`), only
/// prometheus' own macro names count.
pub(super) fn registers_a_metric(path: &[String]) -> bool {
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
pub(super) fn metric_name(m: &syn::Macro) -> Option<String> {
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
pub(super) fn opens(names: &[&str]) -> bool {
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
pub(super) fn is_relative(path: &str) -> bool {
    !path.is_empty() && std::path::Path::new(path).is_relative()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

/// What a clap field attribute (`#[arg(..)]`, `#[clap(..)]`) says about the environment and
/// the default: check reads it, and build's mitigation edits the same keys.
#[derive(Default)]
pub struct ClapArg {
    /// `env = "KEY"`.
    pub named_env: Vec<syn::LitStr>,
    /// A bare `env` (clap reads the field's name upper-cased): the span of the `env` word.
    pub bare_env: Vec<proc_macro2::Span>,
    /// `default_value = ..` or `default_value_t = ..` when it is a literal.
    pub default: Option<syn::Lit>,
}

impl std::fmt::Debug for ClapArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClapArg")
            .field(
                "named_env",
                &self
                    .named_env
                    .iter()
                    .map(syn::LitStr::value)
                    .collect::<Vec<_>>(),
            )
            .field("bare_env", &self.bare_env.len())
            .field(
                "default",
                &self.default.as_ref().map(|l| match l {
                    syn::Lit::Str(s) => s.value(),
                    syn::Lit::Int(i) => i.base10_digits().to_owned(),
                    _ => "(a literal)".to_owned(),
                }),
            )
            .finish()
    }
}

impl ClapArg {
    /// The attribute's clap keys, or nothing when it is not clap's.
    pub fn of(a: &syn::Attribute) -> Option<ClapArg> {
        if !(a.path().is_ident("arg") || a.path().is_ident("clap")) {
            return None;
        }
        let mut out = ClapArg::default();
        let _ = a.parse_nested_meta(|meta| {
            if meta.path.is_ident("env") && meta.input.peek(syn::Token![=]) {
                out.named_env.push(meta.value()?.parse()?);
            } else if meta.path.is_ident("env") && !meta.input.peek(syn::token::Paren) {
                out.bare_env.push(meta.path.span());
            } else if (meta.path.is_ident("default_value") || meta.path.is_ident("default_value_t"))
                && meta.input.peek(syn::Token![=])
            {
                out.default = Some(meta.value()?.parse()?);
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            } else if meta.input.peek(syn::token::Paren) {
                let _ = meta.parse_nested_meta(|_| Ok(()));
            }
            Ok(())
        });
        Some(out)
    }

    /// Whether the flag can also be set from the environment.
    pub fn has_env(&self) -> bool {
        !self.named_env.is_empty() || !self.bare_env.is_empty()
    }
}

/// The key clap's bare `env` reads for field `name`: `port` -> `PORT`.
pub fn bare_env_key(name: &str) -> String {
    name.trim_start_matches("r#").to_ascii_uppercase()
}
