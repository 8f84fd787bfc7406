//! The order members start in: callees first, so that a caller's first calls already find its
//! callees registered. Read off the members' own sources (syn): a member that builds
//! `XServer::new(..)` (or `with_interceptor`, `from_arc`) serves `X`; one that names `XClient`
//! calls it. Generated code is not read (it names every client and server of its protos).
//! Members that call each other (a cycle) start together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use merge_analyzer::parsed::{Parsed, Source};
use petgraph::graphmap::DiGraphMap;
use syn::visit::Visit;

/// What one member's sources show.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Uses {
    pub serves: BTreeSet<String>,
    pub calls: BTreeSet<String>,
}

impl Uses {
    /// Adds what one source file shows.
    pub fn scan(&mut self, source: &Source) {
        let Some(file) = &source.file else {
            return;
        };
        if super::source::is_generated(file, &source.text) {
            return;
        }
        self.visit_file(file);
    }
}

impl<'ast> Visit<'ast> for Uses {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        // Test code builds servers the binary never runs.
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        let test_only = attrs.iter().any(|a| {
            a.path().is_ident("test")
                || (a.path().is_ident("cfg")
                    && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test"))
        });
        if !test_only {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let idents: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        for (i, ident) in idents.iter().enumerate() {
            if let Some(service) = ident.strip_suffix("Client").filter(|s| !s.is_empty()) {
                self.calls.insert(service.to_owned());
            }
            if let Some(service) = ident.strip_suffix("Server").filter(|s| !s.is_empty()) {
                let built = idents
                    .get(i + 1)
                    .is_some_and(|n| matches!(n.as_str(), "new" | "with_interceptor" | "from_arc"));
                if built {
                    self.serves.insert(service.to_owned());
                }
            }
        }
        syn::visit::visit_path(self, p);
    }
}

/// Reads every `.rs` file under `dir/src` (what the library and binaries compile; not tests,
/// examples or benches).
pub fn scan_dir(dir: &Path, skip: &[PathBuf], parsed: &Parsed, uses: &mut Uses) {
    let dir = dir.join("src");
    for rel in super::layout::files(&dir).unwrap_or_default() {
        if skip.iter().any(|s| dir.join(&rel).starts_with(s)) {
            continue;
        }
        if rel.extension().is_some_and(|e| e == "rs") {
            if let Some(source) = parsed.get(&dir.join(&rel)) {
                uses.scan(&source);
            }
        }
    }
}

/// Start steps, callees first; each step's members start together (sorted by name).
pub fn steps(uses: &BTreeMap<String, Uses>) -> Vec<Vec<String>> {
    let mut graph: DiGraphMap<&str, ()> = DiGraphMap::new();
    for name in uses.keys() {
        graph.add_node(name);
    }
    for (caller, u) in uses {
        for (callee, v) in uses {
            if caller != callee && u.calls.iter().any(|s| v.serves.contains(s)) {
                graph.add_edge(caller, callee, ());
            }
        }
    }
    // Tarjan gives strongly connected components callees first (reverse topological order
    // of caller -> callee edges).
    petgraph::algo::tarjan_scc(&graph)
        .into_iter()
        .map(|mut scc| {
            scc.sort_unstable();
            scc.into_iter().map(str::to_owned).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_and_clients_are_read_off_the_code() {
        let mut u = Uses::default();
        u.scan(&Source::new(
            "fn f() { let s = pb::pricing_server::PricingServer::with_interceptor(x, check); \
             let c = CatalogClient::new(ch); let t: Option<InventoryClient<Channel>> = None; }\n\
             #[cfg(test)] mod tests { fn t() { let m = MockServer::new(x); } }"
                .to_owned(),
        ));
        assert_eq!(u.serves, BTreeSet::from(["Pricing".to_owned()]));
        assert_eq!(
            u.calls,
            BTreeSet::from(["Catalog".to_owned(), "Inventory".to_owned()])
        );
    }

    #[test]
    fn callees_start_first_and_cycles_together() {
        let member = |serves: &[&str], calls: &[&str]| Uses {
            serves: serves.iter().map(|s| s.to_string()).collect(),
            calls: calls.iter().map(|s| s.to_string()).collect(),
        };
        let uses = BTreeMap::from([
            (
                "gateway".to_owned(),
                member(&["Gateway"], &["Catalog", "Pricing"]),
            ),
            ("catalog".to_owned(), member(&["Catalog"], &["Inventory"])),
            ("inventory".to_owned(), member(&["Inventory"], &["Pricing"])),
            ("pricing".to_owned(), member(&["Pricing"], &["Inventory"])),
        ]);
        let steps = steps(&uses);
        assert_eq!(
            steps,
            vec![
                vec!["inventory".to_owned(), "pricing".to_owned()],
                vec!["catalog".to_owned()],
                vec!["gateway".to_owned()],
            ]
        );
    }
}
