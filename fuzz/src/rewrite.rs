//! The rewrite's property on one generated file ([`check`]): prost/tonic output that the
//! rewrite takes is rewritten without an error (and a file of messages or services is
//! rewritten), the rewritten text parses, it keeps every public item of the original (modules,
//! types, traits and their methods, functions with their signatures, fields, variants,
//! inherent methods, trait implementations), and the same input gives the same bytes.
//!
//! Needs only merge-rewrite and syn, so inline-macros/rewrite/tests/rewrite.rs includes it and
//! replays the generated files kept under fixtures/fuzz/rewrite_generated/.

use std::collections::BTreeSet;

use quote::ToTokens;
use syn::{ImplItem, Item, TraitItem, Visibility};

/// The property on `generated` (what a codegen wrote for the file `rel`); panics when it does
/// not hold.
pub fn check(rel: &str, generated: &str) {
    let Ok(original) = syn::parse_file(generated) else {
        // Not Rust: nothing the rewrite is asked to take (the codegen's own defect).
        return;
    };
    let first = merge_rewrite::rewrite_text(rel, generated)
        .unwrap_or_else(|e| panic!("the rewrite failed on generated code: {e}\n{generated}"));
    let again = merge_rewrite::rewrite_text(rel, generated);
    assert_eq!(
        again.as_ref().ok(),
        Some(&first),
        "two rewrites of one file differ"
    );
    let Some(text) = first else {
        assert!(
            !has_messages_or_services(&original.items),
            "generated messages or services were left as they were:\n{generated}"
        );
        return;
    };
    let rewritten = syn::parse_file(&text)
        .unwrap_or_else(|e| panic!("the rewritten file does not parse ({e}):\n{text}"));
    let kept = public_items(&rewritten.items);
    let lost: Vec<_> = public_items(&original.items)
        .difference(&kept)
        .cloned()
        .collect();
    assert!(
        lost.is_empty(),
        "the rewrite lost public items {lost:?}\n--- generated\n{generated}\n--- rewritten\n{text}"
    );
}

/// Whether `items` hold a prost message or a tonic client or server module, at any depth.
fn has_messages_or_services(items: &[Item]) -> bool {
    items.iter().any(|item| match item {
        Item::Struct(s) => derives_message(&s.attrs),
        Item::Mod(m) => {
            let name = m.ident.to_string();
            name.ends_with("_server")
                || name.ends_with("_client")
                || m.content
                    .as_ref()
                    .is_some_and(|(_, items)| has_messages_or_services(items))
        }
        _ => false,
    })
}

fn derives_message(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("derive") && a.meta.to_token_stream().to_string().contains("Message")
    })
}

/// Every public item of `items`, by path: `mod a/struct B`, `mod a/struct B/field c`,
/// `impl Trait for Type`, `Type::fn method(..) -> ..`, functions with their signatures.
pub fn public_items(items: &[Item]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect(items, "", &mut out);
    out
}

fn collect(items: &[Item], at: &str, out: &mut BTreeSet<String>) {
    let public = |v: &Visibility| matches!(v, Visibility::Public(_));
    for item in items {
        match item {
            Item::Mod(m) if public(&m.vis) => {
                let path = format!("{at}mod {}/", m.ident);
                out.insert(path.clone());
                if let Some((_, items)) = &m.content {
                    collect(items, &path, out);
                }
            }
            Item::Struct(s) if public(&s.vis) => {
                let path = format!("{at}struct {}", s.ident);
                for f in s.fields.iter().filter(|f| public(&f.vis)) {
                    let name = f.ident.as_ref().map(ToString::to_string);
                    out.insert(format!("{path}/field {}", name.unwrap_or_default()));
                }
                out.insert(path);
            }
            Item::Enum(e) if public(&e.vis) => {
                let path = format!("{at}enum {}", e.ident);
                for v in &e.variants {
                    out.insert(format!("{path}/variant {}", v.ident));
                }
                out.insert(path);
            }
            Item::Trait(t) if public(&t.vis) => {
                let path = format!("{at}trait {}", t.ident);
                for i in &t.items {
                    match i {
                        TraitItem::Fn(f) => out.insert(format!("{path}/{}", signature(&f.sig))),
                        TraitItem::Type(ty) => out.insert(format!("{path}/type {}", ty.ident)),
                        TraitItem::Const(c) => out.insert(format!("{path}/const {}", c.ident)),
                        _ => false,
                    };
                }
                out.insert(path);
            }
            Item::Fn(f) if public(&f.vis) => {
                out.insert(format!("{at}{}", signature(&f.sig)));
            }
            Item::Const(c) if public(&c.vis) => {
                out.insert(format!("{at}const {}", c.ident));
            }
            Item::Static(s) if public(&s.vis) => {
                out.insert(format!("{at}static {}", s.ident));
            }
            Item::Type(t) if public(&t.vis) => {
                out.insert(format!("{at}type {}", t.ident));
            }
            Item::Use(u) if public(&u.vis) => {
                out.insert(format!("{at}use {}", u.tree.to_token_stream()));
            }
            Item::Impl(i) => {
                let ty = i.self_ty.to_token_stream();
                match &i.trait_ {
                    Some((_, trait_path, _)) => {
                        let name = trait_path.segments.last().map(|s| s.ident.to_string());
                        out.insert(format!("{at}impl {} for {ty}", name.unwrap_or_default()));
                    }
                    None => {
                        for i in &i.items {
                            if let ImplItem::Fn(f) = i
                                && public(&f.vis)
                            {
                                out.insert(format!("{at}{ty}::{}", signature(&f.sig)));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// A function's signature without its `where` clause (the rewrite may add bounds there; names,
/// inputs and outputs must not change).
fn signature(sig: &syn::Signature) -> String {
    let mut sig = sig.clone();
    sig.generics.where_clause = None;
    sig.to_token_stream().to_string().replace(" ,)", ")")
}
