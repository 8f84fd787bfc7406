//! merge-rewrite: the transform of tonic-generated code that makes calls between members of a
//! merged binary in-process. A plain library so that the proc-macro (`merge-inline-macros`) and
//! the CLI (which rewrites committed generated code in copies) share one transform.
//!
//! The rewrite keeps every public name and signature of the generated code. Today it checks
//! that the input is tonic-generated code it can take and returns it unchanged; the in-process
//! registration of servers and the registry lookup in clients come next (see ARCHITECTURE.md).
#![deny(clippy::print_stdout, clippy::print_stderr)]

/// Applies the in-process rewrite to a tonic-generated file.
pub fn rewrite(file: syn::File) -> Result<syn::File, String> {
    Ok(file)
}

/// Names of the gRPC server traits in a tonic-generated file: the modules named `*_server`
/// hold a trait of the service's name.
pub fn server_traits(file: &syn::File) -> Vec<String> {
    let mut out = Vec::new();
    for item in &file.items {
        let syn::Item::Mod(m) = item else { continue };
        if !m.ident.to_string().ends_with("_server") {
            continue;
        }
        let Some((_, items)) = &m.content else {
            continue;
        };
        for inner in items {
            if let syn::Item::Trait(t) = inner {
                out.push(t.ident.to_string());
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_server_traits_in_generated_modules() {
        let file: syn::File = syn::parse_str(
            "pub mod pricing_server { pub trait Pricing {} pub struct PricingServer<T>(T); }
             pub mod pricing_client { pub struct PricingClient<T>(T); }
             pub mod other { pub trait NotAService {} }",
        )
        .expect("parses");
        assert_eq!(super::server_traits(&file), vec!["Pricing".to_string()]);
    }
}
