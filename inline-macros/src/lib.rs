//! merge-inline-macros: the proc-macro face of `merge-rewrite`.
//!
//! `include_proto!` (with the rewrite) arrives with the in-process call issue; the crate is in
//! its final place in the layout so that members and the CLI can depend on it.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use proc_macro::TokenStream;

/// Lists, as a `&[&str]` constant named `SERVER_TRAITS`, the tonic server traits of the
/// generated code given as input; the input items are emitted unchanged. Errors are compile
/// errors, never panics.
#[proc_macro]
pub fn server_traits(input: TokenStream) -> TokenStream {
    let input2 = proc_macro2::TokenStream::from(input);
    match syn::parse2::<syn::File>(input2.clone()) {
        Ok(file) => {
            let names = merge_rewrite::server_traits(&file);
            quote::quote!(
                #input2
                pub const SERVER_TRAITS: &[&str] = &[#(#names),*];
            )
            .into()
        }
        Err(e) => e.to_compile_error().into(),
    }
}
