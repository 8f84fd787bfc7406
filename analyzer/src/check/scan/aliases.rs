//! The `use` aliases of a module, by the use-tree walk: what a path's first segment stands for.

use std::collections::BTreeMap;

use syn::visit::Visit;

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
                // `Channel::from_shared(url)?.timeout(..)`: the chain goes on through `?`.
                syn::Expr::Try(t) => e = &t.expr,
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

#[cfg(test)]
mod tests {
    use crate::check::scan::{Event, scan};

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
}
