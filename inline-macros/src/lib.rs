//! merge-inline-macros: `include_proto!`, the one-line opt-in of a member service.
//!
//! `merge_inline_macros::include_proto!("pkg")` stands where `tonic::include_proto!("pkg")`
//! stood: it includes the file that tonic-prost-build wrote to `$OUT_DIR/pkg.rs`, passing it
//! through the shared transform of `merge-rewrite` (which is where the in-process call is
//! added). Pipeline as in thiserror: parse the input, read and parse the generated file,
//! expand; every failure is a compile error with a span, never a panic.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::LitStr;

/// Includes the tonic-generated code of one protobuf package from `$OUT_DIR/<package>.rs`.
///
/// ```ignore
/// pub mod pricing {
///     merge_inline_macros::include_proto!("shop.pricing");
/// }
/// ```
#[proc_macro]
pub fn include_proto(input: TokenStream) -> TokenStream {
    match expand(input.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(input: proc_macro2::TokenStream) -> syn::Result<proc_macro2::TokenStream> {
    let package: LitStr = syn::parse2(input)?;
    let path = generated_file(&package)?;
    let text = std::fs::read_to_string(&path).map_err(|e| {
        syn::Error::new(
            package.span(),
            format!("cannot read `{}`: {e}", path.display()),
        )
    })?;
    let file = syn::parse_file(&text).map_err(|e| {
        syn::Error::new(
            package.span(),
            format!("`{}` is not valid Rust: {e}", path.display()),
        )
    })?;
    let file =
        merge_rewrite::rewrite(file).map_err(|e| syn::Error::new(package.span(), e.to_string()))?;
    let tracked = path.display().to_string();
    Ok(quote! {
        #file
        // Rebuild when the generated file changes.
        const _: &str = ::core::include_str!(#tracked);
    })
}

/// `$OUT_DIR/<package>.rs`, as tonic::include_proto! finds it.
fn generated_file(package: &LitStr) -> syn::Result<PathBuf> {
    let name = package.value();
    if name.is_empty() || name.contains(['/', '\\']) {
        return Err(syn::Error::new(
            package.span(),
            "expected a protobuf package name such as \"shop.pricing\"",
        ));
    }
    let out_dir = std::env::var_os("OUT_DIR").ok_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "OUT_DIR is not set: include_proto! reads the code that a build script \
             (tonic-prost-build) writes into OUT_DIR",
        )
    })?;
    Ok(PathBuf::from(out_dir).join(format!("{name}.rs")))
}
