//! Field-by-field conversion of prost messages: for each message struct (and oneof enum) of a
//! generated file, an implementation of `merge_runtime_shim::Convert` (`ConvertOneof`) read off
//! its `#[prost(..)]` attributes, placed in the message's own module so that the types it names
//! are the ones prost wrote. A caller and a callee with distinct Rust types for one protobuf
//! message then exchange it by moving its fields (a few pointer copies), not by encoding it.
//!
//! A message whose fields are not all understood here (a proto2 group, an attribute form not
//! known) gets no implementation; wherever its type is used, the `Pick` specialisation falls
//! back to the protobuf wire format (`__merge_inline::convert::PickEncoded`), as it does for types
//! from other crates (`::prost_types::Timestamp`).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Fields, Ident, Item, LitInt, Type};

use crate::types::generic_arg;

/// Adds the conversions to every message of `file`. Returns whether it has messages (the
/// conversions then need [`module`], in the file's `__merge_inline`).
pub fn rewrite(file: &mut syn::File) -> bool {
    let mut oneofs = Vec::new();
    collect_oneofs(&file.items, &mut Vec::new(), &mut oneofs);
    add_impls(&mut file.items, &mut Vec::new(), &oneofs)
}

/// `__merge_inline::convert`: the wire-format fallback of the field-by-field conversion.
pub fn module() -> TokenStream {
    quote! {
        /// The wire-format fallback of the field-by-field conversion (cargo merge).
        pub mod convert {
            use ::merge_runtime_shim::{Codec, ConvertError, NeutralMessage, Pick};

            /// Found by method lookup only when `T` has no field-by-field conversion.
            pub trait PickEncoded<T> {
                fn codec(&self) -> Codec<T>;
            }

            impl<T: ::prost::Message + Default> PickEncoded<T> for &Pick<T> {
                fn codec(&self) -> Codec<T> {
                    Codec { into: encode::<T>, from: decode::<T> }
                }
            }

            pub fn encode<T: ::prost::Message>(message: T) -> NeutralMessage {
                NeutralMessage::Encoded(::prost::Message::encode_to_vec(&message))
            }

            pub fn decode<T: ::prost::Message + Default>(message: NeutralMessage) -> Result<T, ConvertError> {
                match message {
                    NeutralMessage::Encoded(bytes) => <T as ::prost::Message>::decode(bytes.as_slice())
                        .map_err(|e| ConvertError::new(e.to_string())),
                    NeutralMessage::Fields(_) => Err(ConvertError::new(format!(
                        "`{}` arrived field by field, but this side has no field-by-field conversion for it \
                         (its .proto differs from the sender's in a way the conversion cannot take apart)",
                        ::core::any::type_name::<T>()
                    ))),
                }
            }
        }
    }
}

/// A oneof enum that can be converted: its module path and name, and its variants.
struct Oneof {
    path: Vec<String>,
    variants: Vec<(Ident, u32, Kind, Type)>,
}

/// What a `#[prost(..)]` attribute says of a field.
#[derive(Debug, Clone)]
enum Kind {
    /// A number, bool, string or enumeration: a std type with `IntoValue`.
    Scalar,
    /// `bytes`: `Vec<u8>` or `bytes::Bytes` (the attribute does not always say which), moved
    /// through `Vec<u8>` by `From`.
    Bytes,
    Message,
    /// `map = "K, V"`: whether the value is a message, or `bytes`.
    Map {
        value_message: bool,
        value_bytes: bool,
    },
    Oneof,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Label {
    Plain,
    Optional,
    Repeated,
}

struct Field {
    name: Ident,
    ty: Type,
    kind: Kind,
    label: Label,
    tags: Vec<u32>,
}

const SCALARS: &[&str] = &[
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32",
    "fixed64", "sfixed32", "sfixed64", "bool", "string",
];

/// Reads one `#[prost(..)]` attribute; `None` for what this conversion does not handle.
fn parse_prost(attrs: &[syn::Attribute]) -> Option<(Kind, Label, Vec<u32>)> {
    let attr = attrs.iter().find(|a| a.path().is_ident("prost"))?;
    let mut kind = None;
    let mut label = Label::Plain;
    let mut tags = Vec::new();
    let mut bad = false;
    attr.parse_nested_meta(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(Ident::to_string)
            .unwrap_or_default();
        let value = if meta.input.peek(syn::Token![=]) {
            let lit: syn::LitStr = meta.value()?.parse()?;
            Some(lit.value())
        } else {
            None
        };
        match (key.as_str(), value) {
            (k, None) if SCALARS.contains(&k) => kind = Some(Kind::Scalar),
            ("bytes", None) => kind = Some(Kind::Bytes),
            ("bytes", Some(v)) if v == "vec" || v == "bytes" => kind = Some(Kind::Bytes),
            ("enumeration", Some(_)) => kind = Some(Kind::Scalar),
            ("message", None) => kind = Some(Kind::Message),
            ("map" | "btree_map", Some(v)) => {
                let value = v.split(',').nth(1).map(str::trim).unwrap_or_default();
                let scalar = SCALARS.contains(&value) || value.starts_with("enumeration");
                if value == "message" || value == "bytes" || scalar {
                    kind = Some(Kind::Map {
                        value_message: value == "message",
                        value_bytes: value == "bytes",
                    });
                } else {
                    bad = true;
                }
            }
            ("oneof", Some(_)) => kind = Some(Kind::Oneof),
            ("optional", None) => label = Label::Optional,
            ("repeated", None) => label = Label::Repeated,
            ("required", None) | ("boxed", None) | ("packed" | "default" | "json_name", _) => {}
            ("tag", Some(v)) => tags.extend(v.trim().parse::<u32>().ok()),
            ("tags", Some(v)) => {
                tags.extend(v.split(',').filter_map(|t| t.trim().parse::<u32>().ok()))
            }
            _ => bad = true,
        }
        Ok(())
    })
    .ok()?;
    if bad || tags.is_empty() {
        return None;
    }
    Some((kind?, label, tags))
}

fn is_prost_derived(attrs: &[syn::Attribute], what: &str) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("derive")
            && a.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            )
            .is_ok_and(|paths| {
                paths.iter().any(|p| {
                    p.segments.len() >= 2
                        && p.segments.first().is_some_and(|s| s.ident == "prost")
                        && p.segments.last().is_some_and(|s| s.ident == what)
                })
            })
    })
}

fn collect_oneofs(items: &[Item], path: &mut Vec<String>, out: &mut Vec<Oneof>) {
    for item in items {
        match item {
            Item::Enum(e) if is_prost_derived(&e.attrs, "Oneof") => {
                let variants: Option<Vec<_>> = e
                    .variants
                    .iter()
                    .map(|v| {
                        let (kind, _, tags) = parse_prost(&v.attrs)?;
                        let Fields::Unnamed(f) = &v.fields else {
                            return None;
                        };
                        let ty = f.unnamed.first()?.ty.clone();
                        match kind {
                            Kind::Scalar | Kind::Bytes | Kind::Message => {
                                Some((v.ident.clone(), *tags.first()?, kind, ty))
                            }
                            _ => None,
                        }
                    })
                    .collect();
                if let Some(variants) = variants {
                    let mut p = path.clone();
                    p.push(e.ident.to_string());
                    out.push(Oneof { path: p, variants });
                }
            }
            Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    path.push(m.ident.to_string());
                    collect_oneofs(inner, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

/// Adds the impls to the messages of `items` (module `path`) and its submodules.
fn add_impls(items: &mut Vec<Item>, path: &mut Vec<String>, oneofs: &[Oneof]) -> bool {
    let mut any = false;
    let mut added = Vec::new();
    for item in items.iter_mut() {
        match item {
            Item::Struct(s) if is_prost_derived(&s.attrs, "Message") => {
                any = true;
                if let Some(imp) = message_impl(s, path, oneofs) {
                    added.push(imp);
                }
            }
            Item::Enum(e) if is_prost_derived(&e.attrs, "Oneof") => {
                let mut p = path.clone();
                p.push(e.ident.to_string());
                if let Some(o) = oneofs.iter().find(|o| o.path == p) {
                    added.push(oneof_impl(&e.ident, o, path.len()));
                }
            }
            Item::Mod(m) => {
                if let Some((_, inner)) = m.content.as_mut() {
                    path.push(m.ident.to_string());
                    any |= add_impls(inner, path, oneofs);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    for imp in added {
        items.push(syn::parse2(imp).expect("generated conversion impls parse"));
    }
    any
}

/// `super::super::__merge_inline::convert` from a module `depth` below the file's root.
fn convert_module(depth: usize) -> TokenStream {
    if depth == 0 {
        return quote!(self::__merge_inline::convert);
    }
    let supers = (0..depth).map(|_| quote!(super::));
    quote!(#(#supers)* __merge_inline::convert)
}

/// The codec of message type `ty`: field by field when it converts, else encoded.
fn codec(ty: &Type) -> TokenStream {
    quote!((&::merge_runtime_shim::Pick::<#ty>::new()).codec())
}

/// `T` of `Option<T>`, `Option<Box<T>>`, `Vec<T>`, `Box<T>` or `T`.
fn message_type(ty: &Type) -> Type {
    let inner = generic_arg(ty, "Option")
        .or_else(|| generic_arg(ty, "Vec"))
        .unwrap_or_else(|| ty.clone());
    generic_arg(&inner, "Box").unwrap_or(inner)
}

fn is_boxed(ty: &Type) -> bool {
    let inner = generic_arg(ty, "Option").unwrap_or_else(|| ty.clone());
    generic_arg(&inner, "Box").is_some()
}

/// `K` and `V` of a map field's `HashMap<K, V>` or `BTreeMap<K, V>`.
fn map_types(ty: &Type) -> Option<(Type, Type)> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    Some((types.next()?, types.next()?))
}

fn message_impl(s: &syn::ItemStruct, path: &[String], oneofs: &[Oneof]) -> Option<TokenStream> {
    let Fields::Named(named) = &s.fields else {
        return None;
    };
    let mut fields = Vec::new();
    for f in &named.named {
        let (kind, label, tags) = parse_prost(&f.attrs)?;
        if let Kind::Oneof = kind {
            // The enum, named relative to this module: `msg::Kind`.
            let ty = message_type(&f.ty);
            let Type::Path(tp) = &ty else { return None };
            let mut p = path.to_vec();
            p.extend(tp.path.segments.iter().map(|s| s.ident.to_string()));
            oneofs.iter().find(|o| o.path == p)?;
        }
        fields.push(Field {
            name: f.ident.clone()?,
            ty: f.ty.clone(),
            kind,
            label,
            tags,
        });
    }
    let name = &s.ident;
    let message = name.to_string();
    let convert = convert_module(path.len());
    let into = fields.iter().map(into_field);
    let from = fields.iter().map(|f| from_field(f, &message));
    let n = fields.len();
    Some(quote! {
        impl ::merge_runtime_shim::Convert for #name {
            fn into_neutral(self) -> ::merge_runtime_shim::NeutralMessage {
                #[allow(unused_imports)]
                use ::merge_runtime_shim::{IntoValue as _, PickFields as _};
                #[allow(unused_imports)]
                use #convert::PickEncoded as _;
                #[allow(unused_mut)]
                let mut fields: ::std::vec::Vec<(u32, ::merge_runtime_shim::Value)> =
                    ::std::vec::Vec::with_capacity(#n);
                #(#into)*
                ::merge_runtime_shim::NeutralMessage::Fields(fields)
            }

            fn from_neutral(
                message: ::merge_runtime_shim::NeutralMessage,
            ) -> ::core::result::Result<Self, ::merge_runtime_shim::ConvertError> {
                #[allow(unused_imports)]
                use ::merge_runtime_shim::{FromValue as _, PickFields as _};
                #[allow(unused_imports)]
                use #convert::PickEncoded as _;
                let fields = match message {
                    ::merge_runtime_shim::NeutralMessage::Fields(fields) => fields,
                    ::merge_runtime_shim::NeutralMessage::Encoded(bytes) => {
                        return <Self as ::prost::Message>::decode(bytes.as_slice())
                            .map_err(|e| ::merge_runtime_shim::ConvertError::new(e.to_string()));
                    }
                };
                #[allow(unused_mut)]
                let mut out = <Self as ::core::default::Default>::default();
                for (tag, value) in fields {
                    match tag {
                        #(#from)*
                        // A field this side's .proto does not have: dropped, as a decoder
                        // drops an unknown field.
                        _ => {}
                    }
                }
                ::core::result::Result::Ok(out)
            }
        }
    })
}

fn lit(tag: u32) -> LitInt {
    LitInt::new(&tag.to_string(), Span::call_site())
}

/// The statement that moves field `f` of `self` into `fields`.
fn into_field(f: &Field) -> TokenStream {
    let name = &f.name;
    let tag = lit(f.tags.first().copied().unwrap_or_default());
    let value = |v: TokenStream| -> TokenStream { into_value(f, v) };
    match (&f.kind, f.label) {
        (Kind::Oneof, _) => quote! {
            if let ::core::option::Option::Some(v) = self.#name {
                fields.push(::merge_runtime_shim::ConvertOneof::into_field(v));
            }
        },
        (Kind::Message, Label::Repeated) => {
            let codec = codec(&message_type(&f.ty));
            quote! {
                let into = #codec.into;
                fields.push((#tag, ::merge_runtime_shim::Value::RepMsg(
                    self.#name.into_iter().map(into).collect(),
                )));
            }
        }
        (Kind::Message, _) if generic_arg(&f.ty, "Option").is_some() => {
            let v = value(quote!(v));
            quote! {
                if let ::core::option::Option::Some(v) = self.#name {
                    fields.push((#tag, #v));
                }
            }
        }
        (_, Label::Optional) => {
            let v = value(quote!(v));
            quote! {
                if let ::core::option::Option::Some(v) = self.#name {
                    fields.push((#tag, #v));
                }
            }
        }
        _ => {
            let v = value(quote!(self.#name));
            quote!(fields.push((#tag, #v));)
        }
    }
}

/// The `Value` of one (non-optional) value `v` of field `f`.
fn into_value(f: &Field, v: TokenStream) -> TokenStream {
    match &f.kind {
        Kind::Scalar => quote!(::merge_runtime_shim::IntoValue::into_value(#v)),
        Kind::Bytes if f.label == Label::Repeated => quote! {
            ::merge_runtime_shim::Value::RepBytes(
                #v.into_iter().map(::std::vec::Vec::<u8>::from).collect(),
            )
        },
        Kind::Bytes => {
            quote!(::merge_runtime_shim::IntoValue::into_value(::std::vec::Vec::<u8>::from(#v)))
        }
        Kind::Message => {
            let codec = codec(&message_type(&f.ty));
            let v = if is_boxed(&f.ty) { quote!(*#v) } else { v };
            quote!(::merge_runtime_shim::Value::Msg((#codec.into)(#v)))
        }
        Kind::Map {
            value_message,
            value_bytes,
        } => {
            let (_, vt) = map_types(&f.ty).unwrap_or((f.ty.clone(), f.ty.clone()));
            let value = if *value_message {
                let codec = codec(&vt);
                quote!(::merge_runtime_shim::Value::Msg((#codec.into)(v)))
            } else if *value_bytes {
                quote!(::merge_runtime_shim::IntoValue::into_value(
                    ::std::vec::Vec::<u8>::from(v)
                ))
            } else {
                quote!(::merge_runtime_shim::IntoValue::into_value(v))
            };
            quote! {
                ::merge_runtime_shim::Value::Map(
                    #v.into_iter()
                        .map(|(k, v)| (::merge_runtime_shim::IntoValue::into_value(k), #value))
                        .collect(),
                )
            }
        }
        Kind::Oneof => quote!(compile_error!("a oneof is not a single value")),
    }
}

/// The match arm that moves a `value` of tag(s) `f.tags` into field `f` of `out`.
fn from_field(f: &Field, message: &str) -> TokenStream {
    let name = &f.name;
    let tags = f.tags.iter().map(|t| lit(*t));
    let at = quote!(.map_err(|e| e.at(#message, tag))?);
    let body = match (&f.kind, f.label) {
        (Kind::Oneof, _) => {
            let ty = message_type(&f.ty);
            quote! {
                out.#name = ::core::option::Option::Some(
                    <#ty as ::merge_runtime_shim::ConvertOneof>::from_field(tag, value)#at,
                );
            }
        }
        (Kind::Message, Label::Repeated) => {
            let codec = codec(&message_type(&f.ty));
            quote! {
                let from = #codec.from;
                out.#name = ::merge_runtime_shim::messages(value)
                    .and_then(|m| m.into_iter().map(from).collect::<::core::result::Result<_, _>>())
                    #at;
            }
        }
        (Kind::Message, _) => {
            let codec = codec(&message_type(&f.ty));
            let mut v = quote!(::merge_runtime_shim::message(value).and_then(#codec.from)#at);
            if is_boxed(&f.ty) {
                v = quote!(::std::boxed::Box::new(#v));
            }
            if generic_arg(&f.ty, "Option").is_some() {
                v = quote!(::core::option::Option::Some(#v));
            }
            quote!(out.#name = #v;)
        }
        (
            Kind::Map {
                value_message,
                value_bytes,
            },
            _,
        ) => {
            let Some((kt, vt)) = map_types(&f.ty) else {
                return quote!(compile_error!("a map field that is not a map type"););
            };
            let value = if *value_message {
                let codec = codec(&vt);
                quote!(::merge_runtime_shim::message(v).and_then(#codec.from)?)
            } else if *value_bytes {
                quote!(<#vt as ::core::convert::From<::std::vec::Vec<u8>>>::from(
                    <::std::vec::Vec<u8> as ::merge_runtime_shim::FromValue>::from_value(v)?
                ))
            } else {
                quote!(<#vt as ::merge_runtime_shim::FromValue>::from_value(v)?)
            };
            quote! {
                out.#name = ::merge_runtime_shim::entries(value)
                    .and_then(|entries| {
                        entries
                            .into_iter()
                            .map(|(k, v)| {
                                ::core::result::Result::Ok::<_, ::merge_runtime_shim::ConvertError>((
                                    <#kt as ::merge_runtime_shim::FromValue>::from_value(k)?,
                                    #value,
                                ))
                            })
                            .collect::<::core::result::Result<_, _>>()
                    })
                    #at;
            }
        }
        (Kind::Bytes, Label::Repeated) => quote! {
            out.#name = <::std::vec::Vec<::std::vec::Vec<u8>> as ::merge_runtime_shim::FromValue>::from_value(value)
                #at
                .into_iter()
                .map(::core::convert::Into::into)
                .collect();
        },
        (Kind::Bytes, label) => {
            let v = quote! {
                ::core::convert::Into::into(
                    <::std::vec::Vec<u8> as ::merge_runtime_shim::FromValue>::from_value(value)#at,
                )
            };
            if label == Label::Optional {
                quote!(out.#name = ::core::option::Option::Some(#v);)
            } else {
                quote!(out.#name = #v;)
            }
        }
        (Kind::Scalar, Label::Optional) => quote! {
            out.#name = ::core::option::Option::Some(
                ::merge_runtime_shim::FromValue::from_value(value)#at,
            );
        },
        (Kind::Scalar, _) => quote! {
            out.#name = ::merge_runtime_shim::FromValue::from_value(value)#at;
        },
    };
    quote!(#(#tags)|* => { #body })
}

/// `impl ConvertOneof` for a oneof enum, in its own module (`depth` below the root).
fn oneof_impl(name: &Ident, o: &Oneof, depth: usize) -> TokenStream {
    let convert = convert_module(depth);
    let message = o.path.join("::");
    let into = o.variants.iter().map(|(v, tag, kind, ty)| {
        let tag = lit(*tag);
        let value = match kind {
            Kind::Message => {
                let codec = codec(&message_type(ty));
                let x = if is_boxed(ty) { quote!(*x) } else { quote!(x) };
                quote!(::merge_runtime_shim::Value::Msg((#codec.into)(#x)))
            }
            Kind::Bytes => {
                quote!(::merge_runtime_shim::IntoValue::into_value(
                    ::std::vec::Vec::<u8>::from(x)
                ))
            }
            _ => quote!(::merge_runtime_shim::IntoValue::into_value(x)),
        };
        quote!(Self::#v(x) => (#tag, #value),)
    });
    let from = o.variants.iter().map(|(v, tag, kind, ty)| {
        let tag = lit(*tag);
        let value = match kind {
            Kind::Message => {
                let codec = codec(&message_type(ty));
                let x = quote!(::merge_runtime_shim::message(value).and_then(#codec.from)?);
                if is_boxed(ty) {
                    quote!(::std::boxed::Box::new(#x))
                } else {
                    x
                }
            }
            Kind::Bytes => quote! {
                ::core::convert::Into::into(
                    <::std::vec::Vec<u8> as ::merge_runtime_shim::FromValue>::from_value(value)?,
                )
            },
            _ => quote!(::merge_runtime_shim::FromValue::from_value(value)?),
        };
        quote!(#tag => ::core::result::Result::Ok(Self::#v(#value)),)
    });
    quote! {
        impl ::merge_runtime_shim::ConvertOneof for #name {
            fn into_field(self) -> (u32, ::merge_runtime_shim::Value) {
                #[allow(unused_imports)]
                use ::merge_runtime_shim::PickFields as _;
                #[allow(unused_imports)]
                use #convert::PickEncoded as _;
                match self {
                    #(#into)*
                }
            }

            fn from_field(
                tag: u32,
                value: ::merge_runtime_shim::Value,
            ) -> ::core::result::Result<Self, ::merge_runtime_shim::ConvertError> {
                #[allow(unused_imports)]
                use ::merge_runtime_shim::PickFields as _;
                #[allow(unused_imports)]
                use #convert::PickEncoded as _;
                match tag {
                    #(#from)*
                    other => ::core::result::Result::Err(::merge_runtime_shim::ConvertError::new(
                        format!("{other} is not a tag of oneof {}", #message),
                    )),
                }
            }
        }
    }
}
