//! Reading types in generated signatures.

use syn::{GenericArgument, PathArguments, Type};

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
    let Type::ImplTrait(imp) = ty else {
        return None;
    };
    imp.bounds.iter().find_map(|b| match b {
        syn::TypeParamBound::Trait(t) => {
            let last = t.path.segments.last()?;
            if last.ident != "IntoRequest" {
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
        _ => None,
    })
}

/// `Req` of `impl tonic::IntoStreamingRequest<Message = Req>`.
pub fn into_streaming_request_arg(ty: &Type) -> Option<Type> {
    let Type::ImplTrait(imp) = ty else {
        return None;
    };
    imp.bounds.iter().find_map(|b| match b {
        syn::TypeParamBound::Trait(t) => {
            let last = t.path.segments.last()?;
            if last.ident != "IntoStreamingRequest" {
                return None;
            }
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            args.args.iter().find_map(|a| match a {
                GenericArgument::AssocType(a) if a.ident == "Message" => Some(a.ty.clone()),
                _ => None,
            })
        }
        _ => None,
    })
}
