//! Reading types in generated signatures, and the codec a message type is picked.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{GenericArgument, PathArguments, Type};

/// The `merge_runtime_shim::Codec` of the message type `ty`, as an expression for code inside
/// a generated `*_client` or `*_server` module: picked where the type is written (field by
/// field when it implements `Convert`, else the file's encoded fallback).
pub fn codec(ty: &Type) -> TokenStream {
    quote! {{
        #[allow(unused_imports)]
        use ::merge_runtime_shim::PickFields as _;
        #[allow(unused_imports)]
        use super::__merge_inline::convert::PickEncoded as _;
        (&::merge_runtime_shim::Pick::<#ty>::new()).codec()
    }}
}

/// `T` of `...::Name<T, ..>` (the first type argument), when `ty`'s last segment is `name`.
pub fn generic_arg(ty: &Type, name: &str) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    })
}

/// `Req` of `impl tonic::IntoRequest<Req>`.
pub fn into_request_arg(ty: &Type) -> Option<Type> {
    impl_trait_args(ty, "IntoRequest")?
        .iter()
        .find_map(|a| match a {
            GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        })
}

/// `Req` of `impl tonic::IntoStreamingRequest<Message = Req>`.
pub fn into_streaming_request_arg(ty: &Type) -> Option<Type> {
    impl_trait_args(ty, "IntoStreamingRequest")?
        .iter()
        .find_map(|a| match a {
            GenericArgument::AssocType(a) if a.ident == "Message" => Some(a.ty.clone()),
            _ => None,
        })
}

/// The `<..>` arguments of the bound named `name` in `impl ...::Name<..>`.
fn impl_trait_args<'t>(
    ty: &'t Type,
    name: &str,
) -> Option<&'t syn::punctuated::Punctuated<GenericArgument, syn::Token![,]>> {
    let Type::ImplTrait(imp) = ty else {
        return None;
    };
    imp.bounds.iter().find_map(|b| {
        let syn::TypeParamBound::Trait(t) = b else {
            return None;
        };
        let last = t.path.segments.last()?;
        match &last.arguments {
            PathArguments::AngleBracketed(args) if last.ident == name => Some(&args.args),
            _ => None,
        }
    })
}
