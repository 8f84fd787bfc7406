//! The rewrite on real tonic-prost-build output (tests/generated holds files generated from the
//! shop fixture's .proto files): every public name and signature stays, servers register their
//! unary methods, clients look them up, and the result is stable (snapshots).

use quote::ToTokens;

/// The fuzz target's property on a generated file, and its list of public items.
#[path = "../../../fuzz/src/rewrite.rs"]
mod property;

fn generated(name: &str) -> syn::File {
    let path = format!("{}/tests/generated/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("generated file");
    syn::parse_file(&text).expect("parses")
}

#[test]
fn public_names_and_signatures_are_kept() {
    for name in ["shop.pricing.rs", "shop.inventory.rs"] {
        let before = generated(name);
        let after = merge_rewrite::rewrite(before.clone()).expect("rewrites");
        let (a, b) = (
            property::public_items(&before.items),
            property::public_items(&after.items),
        );
        let lost: Vec<_> = a.difference(&b).collect();
        assert!(lost.is_empty(), "{name}: lost or changed {lost:#?}");
        let added: Vec<_> = b
            .difference(&a)
            .filter(|s| !s.contains("mod __merge_inline/"))
            // The field-by-field conversion of each message.
            .filter(|s| !s.contains("impl Convert for") && !s.contains("impl ConvertOneof for"))
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

/// The fuzz target's property (fuzz/src/rewrite.rs) on real generated files (tonic-prost-build
/// 0.14's of the shop, tonic-build 0.9's committed in the version matrix), and on every
/// generated file a fuzz run failed on once (fixtures/fuzz/rewrite_generated/*.rs, kept with
/// its fix).
#[test]
fn generated_files_hold_the_fuzz_property() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = vec![
        root.join("inline-macros/rewrite/tests/generated/shop.pricing.rs"),
        root.join("inline-macros/rewrite/tests/generated/shop.inventory.rs"),
        root.join("fixtures/versions/relay-v09/src/relay.rs"),
    ];
    let kept = root.join("fixtures/fuzz/rewrite_generated");
    if let Ok(dir) = std::fs::read_dir(&kept) {
        let generated = dir.flatten().map(|e| e.path());
        files.extend(generated.filter(|p| p.extension().is_some_and(|e| e == "rs")));
    }
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a generated file");
        let rel = path.file_name().expect("a name").to_string_lossy();
        property::check(&rel, &text);
    }
}
