//! The rewrite on real tonic-prost-build output (tests/generated holds files generated from the
//! shop fixture's .proto files): every public name and signature stays, servers register their
//! unary methods, clients look them up, and the result is stable (snapshots).

use std::collections::BTreeSet;

use quote::ToTokens;

fn generated(name: &str) -> syn::File {
    let path = format!("{}/tests/generated/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("generated file");
    syn::parse_file(&text).expect("parses")
}

/// `module::item` of every public item and public method, with its signature.
fn public_api(file: &syn::File) -> BTreeSet<String> {
    fn walk(prefix: &str, items: &[syn::Item], out: &mut BTreeSet<String>) {
        for item in items {
            match item {
                syn::Item::Mod(m) if matches!(m.vis, syn::Visibility::Public(_)) => {
                    if let Some((_, inner)) = &m.content {
                        walk(&format!("{prefix}{}::", m.ident), inner, out);
                    }
                }
                syn::Item::Struct(s) if matches!(s.vis, syn::Visibility::Public(_)) => {
                    out.insert(format!("{prefix}struct {}", s.ident));
                }
                syn::Item::Trait(t) if matches!(t.vis, syn::Visibility::Public(_)) => {
                    out.insert(format!("{prefix}trait {}", t.ident));
                }
                syn::Item::Impl(imp) => {
                    let ty = imp.self_ty.to_token_stream().to_string();
                    for ii in &imp.items {
                        if let syn::ImplItem::Fn(f) = ii {
                            if matches!(f.vis, syn::Visibility::Public(_)) {
                                let mut sig = f.sig.clone();
                                // Bounds may be added; names, inputs and outputs must not change.
                                sig.generics.where_clause = None;
                                let sig = sig.to_token_stream().to_string().replace(" ,)", ")");
                                out.insert(format!("{prefix}{ty}::{sig}"));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = BTreeSet::new();
    walk("", &file.items, &mut out);
    out
}

#[test]
fn public_names_and_signatures_are_kept() {
    for name in ["shop.pricing.rs", "shop.inventory.rs"] {
        let before = generated(name);
        let after = merge_rewrite::rewrite(before.clone()).expect("rewrites");
        let (a, b) = (public_api(&before), public_api(&after));
        let lost: Vec<_> = a.difference(&b).collect();
        assert!(lost.is_empty(), "{name}: lost or changed {lost:#?}");
        let added: Vec<_> = b
            .difference(&a)
            .filter(|s| !s.starts_with("__merge_inline::") && !s.starts_with("__merge_convert::"))
            .collect();
        assert!(added.is_empty(), "{name}: new public API {added:#?}");
    }
}

#[test]
fn pricing_rewrite_snapshot() {
    let after = merge_rewrite::rewrite(generated("shop.pricing.rs")).expect("rewrites");
    let tokens = after.to_token_stream().to_string();
    assert!(tokens.contains("fn __merge_register < T , F >"));
    assert!(tokens.contains("MethodSlot :: new (\"/shop.pricing.Pricing/Quote\""));
    assert!(tokens.contains("__merge_hook"));
    assert!(tokens.contains("impl :: merge_runtime_shim :: Convert for QuoteRequest"));
    insta::assert_snapshot!(prettyplease::unparse(&after));
}

#[test]
fn streaming_methods_are_registered_and_looked_up() {
    let after = merge_rewrite::rewrite(generated("shop.inventory.rs")).expect("rewrites");
    let text = after.to_token_stream().to_string();
    for method in ["GetStock", "WatchStock", "ReportSales"] {
        let slot = format!("MethodSlot :: new (\"/shop.inventory.Inventory/{method}\"");
        assert!(text.contains(&slot), "{method} is not looked up");
    }
    // One typed + neutral handler for the unary method, a neutral streaming one for the others.
    assert_eq!(text.matches("typed : Some (Arc :: new (typed))").count(), 1);
    assert_eq!(text.matches("streaming : Some (streaming)").count(), 2);
    assert!(
        text.contains("take_many :: < super :: Sale >"),
        "client streaming request"
    );
    assert!(
        text.contains("reply_many (response)"),
        "server streaming reply"
    );
}

#[test]
fn files_without_services_are_unchanged() {
    // Prost messages whose names end like tonic's modules and types are not services.
    let file: syn::File = syn::parse_str(
        "pub struct Msg { pub a: u32 }
         pub struct GameServer { pub name: String }
         pub mod game_server { pub enum State { Up } }
         pub struct FooClient { pub bar: Option<foo_client::BarClient> }
         pub mod foo_client { pub struct BarClient { pub id: u32 } }",
    )
    .expect("parses");
    let after = merge_rewrite::rewrite(file.clone()).expect("rewrites");
    assert_eq!(
        after.to_token_stream().to_string(),
        file.to_token_stream().to_string()
    );
}
