//! merge-rewrite: the transform of tonic-generated code that makes calls between members of a
//! merged binary in-process. A plain library so that the proc-macro (`merge-inline-macros`) and
//! the CLI (which rewrites generated code committed in copies of members) share one transform.
//!
//! The rewrite keeps every public name and signature of the generated code (it adds bounds:
//! `T: Service` on the server's constructors, `F: Clone + Send + Sync + 'static` on
//! `with_interceptor`) and adds:
//! - a `__merge_inline` module with the tonic-aware half of the inline call ([`support`]);
//! - in each `*_server` module, registration of the server's methods ([`server`]);
//! - in each `*_client` module, the in-process path of each method ([`client`]).
//!
//! Unary methods pass the request by move when both sides share the message and tonic types,
//! and otherwise move it field by field into the other side's types ([`convert`], one
//! `merge_runtime_shim::Convert` implementation per prost message); streaming methods exchange
//! encoded messages one by one (no HTTP/2, no socket), decoded by each side's own tonic.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod client;
mod convert;
mod server;
mod support;
mod types;

use syn::Item;

/// Applies the in-process rewrite to a tonic-generated file. Files without tonic services
/// (plain prost messages) only gain the field-by-field conversions of their messages.
pub fn rewrite(mut file: syn::File) -> Result<syn::File, String> {
    convert::rewrite(&mut file);
    let mut touched = false;
    for item in file.items.iter_mut() {
        let Item::Mod(m) = item else { continue };
        let name = m.ident.to_string();
        if name.ends_with("_server") {
            touched |= server::rewrite(m)?;
        } else if name.ends_with("_client") {
            touched |= client::rewrite(m)?;
        }
    }
    if touched {
        file.items
            .push(syn::parse2(support::module()).map_err(|e| e.to_string())?);
    }
    Ok(file)
}
