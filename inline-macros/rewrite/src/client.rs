//! The client half: each unary method first asks the registry (a cached lookup) whether its
//! callee is served in this process; if so the call is made in-process, else the original
//! tonic code runs. A client built with `with_interceptor` keeps the interceptor for the
//! in-process path too, so that the metadata it adds (say `x-caller`) reaches the callee.

use proc_macro2::TokenStream;
use quote::quote;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{FnArg, ImplItem, Item, ItemMod, Type};

use crate::types::{codec, generic_arg, into_request_arg, into_streaming_request_arg};

/// Returns whether the module was a tonic client module (and was rewritten).
pub fn rewrite(module: &mut ItemMod) -> bool {
    let Some((_, items)) = module.content.as_mut() else {
        return false;
    };
    // tonic's shape: `struct XClient<T> { inner: tonic::client::Grpc<T> }`; a prost message
    // that merely ends in `Client` has no such field.
    let Some(client) = items.iter().find_map(|i| match i {
        Item::Struct(s) if s.ident.to_string().ends_with("Client") && has_grpc_inner(s) => {
            Some(s.ident.clone())
        }
        _ => None,
    }) else {
        return false;
    };
    for item in items.iter_mut() {
        match item {
            Item::Struct(s) if s.ident == client => {
                if let syn::Fields::Named(fields) = &mut s.fields {
                    fields.named.push(syn::parse_quote! {
                        __merge_hook: super::__merge_inline::ClientHook
                    });
                    fields.named.push(syn::parse_quote! {
                        __merge_plain: bool
                    });
                }
            }
            Item::Impl(imp) if imp.trait_.is_none() => {
                for ii in imp.items.iter_mut() {
                    if let ImplItem::Fn(f) = ii {
                        if f.sig.ident == "with_interceptor" {
                            keep_interceptor(f);
                        } else if f.sig.ident == "new" || f.sig.ident == "with_origin" {
                            judge_stack(f);
                        } else {
                            AddHook {
                                plain: quote!(false),
                            }
                            .visit_impl_item_fn_mut(f);
                            inline_call(f);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    true
}

/// `Self { inner }` literals also set the hook (empty) and whether the client's service
/// stack is a plain channel.
struct AddHook {
    plain: TokenStream,
}

impl VisitMut for AddHook {
    fn visit_expr_struct_mut(&mut self, e: &mut syn::ExprStruct) {
        if e.path.is_ident("Self") && e.rest.is_none() {
            e.fields.push(syn::parse_quote!(
                __merge_hook: ::core::default::Default::default()
            ));
            let plain = &self.plain;
            e.fields.push(syn::parse_quote!(__merge_plain: #plain));
        }
        syn::visit_mut::visit_expr_struct_mut(self, e);
    }
}

/// `new(inner)` and `with_origin(inner, ..)` judge the service stack they are given: a plain
/// channel lets a call go straight to its callee; anything else (an interceptor, a tower
/// layer, an endpoint timeout or limit, a balanced channel) is called through, its channel
/// entering the callee in-process. Judging needs `T: 'static`.
fn judge_stack(f: &mut syn::ImplItemFn) {
    let takes_inner = f.sig.inputs.iter().any(
        |a| matches!(a, FnArg::Typed(t) if matches!(&*t.pat, syn::Pat::Ident(p) if p.ident == "inner")),
    );
    if !takes_inner {
        AddHook {
            plain: quote!(false),
        }
        .visit_impl_item_fn_mut(f);
        return;
    }
    AddHook {
        plain: quote!(__merge_plain),
    }
    .visit_impl_item_fn_mut(f);
    f.block.stmts.insert(
        0,
        syn::parse_quote!(let __merge_plain = super::__merge_inline::plain_client(&inner);),
    );
    f.sig
        .generics
        .make_where_clause()
        .predicates
        .push(syn::parse_quote!(T: 'static));
}

/// `with_interceptor(inner, interceptor)`: the same client, remembering a clone of the
/// interceptor for in-process calls.
fn keep_interceptor(f: &mut syn::ImplItemFn) {
    let body = &f.block;
    f.block = syn::parse_quote!({
        let kept = interceptor.clone();
        // The interceptor is kept here: the stack under it is what is judged.
        let __merge_plain = super::__merge_inline::plain_client(&inner);
        let mut client = #body;
        client.__merge_plain = __merge_plain;
        client.__merge_hook = ::merge_runtime_shim::Hook(Some(::std::sync::Arc::new(
            move |request: tonic::Request<()>| {
                tonic::service::Interceptor::call(&mut kept.clone(), request)
            },
        )));
        client
    });
    f.sig
        .generics
        .make_where_clause()
        .predicates
        .push(syn::parse_quote!(T: 'static));
    if let Some(wc) = f.sig.generics.where_clause.as_mut() {
        for p in wc.predicates.iter_mut() {
            if let syn::WherePredicate::Type(t) = p {
                if matches!(&t.bounded_ty, Type::Path(tp) if tp.path.is_ident("F")) {
                    t.bounds.push(syn::parse_quote!(Clone));
                    t.bounds.push(syn::parse_quote!(Send));
                    t.bounds.push(syn::parse_quote!(Sync));
                    t.bounds.push(syn::parse_quote!('static));
                }
            }
        }
    }
}

/// Prepends the in-process path to a generated call method (one whose body calls
/// `self.inner.unary`, `server_streaming`, `client_streaming` or `streaming`).
fn inline_call(f: &mut syn::ImplItemFn) {
    let mut scan = Scan::default();
    scan.visit_block(&f.block);
    let (Some(path), Some(kind)) = (scan.path, scan.kind) else {
        return;
    };
    let Some(FnArg::Typed(arg)) = f.sig.inputs.iter().nth(1) else {
        return;
    };
    let request = match &*arg.pat {
        syn::Pat::Ident(p) => p.ident.clone(),
        _ => return,
    };
    let client_streaming = matches!(kind.as_str(), "client_streaming" | "streaming");
    let server_streaming = matches!(kind.as_str(), "server_streaming" | "streaming");
    let req = if client_streaming {
        into_streaming_request_arg(&arg.ty)
    } else {
        into_request_arg(&arg.ty)
    };
    let Some(req) = req else { return };
    let syn::ReturnType::Type(_, ret) = &f.sig.output else {
        return;
    };
    let Some(resp) = generic_arg(ret, "Result").and_then(|ok| generic_arg(&ok, "Response")) else {
        return;
    };
    let resp = if server_streaming {
        match generic_arg(&resp, "Streaming") {
            Some(inner) => inner,
            None => return,
        }
    } else {
        resp
    };
    let into = if client_streaming {
        quote!(tonic::IntoStreamingRequest::into_streaming_request(#request))
    } else {
        quote!(tonic::IntoRequest::into_request(#request))
    };
    let mut original = f.block.clone();
    // The request is made before the lookup; the network path takes it as it is.
    AlreadyRequest(request.clone()).visit_block_mut(&mut original);
    let (req_codec, resp_codec) = (codec(&req), codec(&resp));
    let direct = if !client_streaming && !server_streaming {
        // Unary: a plainly served callee is called directly, everything before the await in
        // one plain call (the method's future keeps only the lookup and the reply across it);
        // a callee served with something around it is entered through that stack.
        quote! {
            let codecs = (#req_codec.into, #resp_codec.from);
            if found.entry.stack.is_none() {
                found.count();
                return super::__merge_inline::call_unary::<#req, #resp>(
                    &found.entry,
                    request,
                    &self.__merge_hook,
                    codecs,
                )?
                .await;
            }
            if let Some(stack) = super::__merge_inline::stack_of(&found.entry) {
                return super::__merge_inline::call_stacked::<#req, #resp>(
                    &found,
                    stack,
                    #path,
                    request,
                    &self.__merge_hook,
                    codecs,
                )
                .await;
            }
            // A callee served through a stack of another tonic than this client's.
            if let Some(enter) = super::__merge_inline::neutral_stacked_call(&found.entry) {
                return super::__merge_inline::call_stacked_neutral::<#req, #resp>(
                    &found,
                    #path,
                    request,
                    &self.__merge_hook,
                    codecs,
                    enter,
                )
                .await;
            }
        }
    } else {
        let neutral = if client_streaming {
            quote!(super::__merge_inline::request_many::<#req, _>(request))
        } else {
            quote!(super::__merge_inline::request_one(request))
        };
        let reply = if server_streaming {
            quote!(Ok(super::__merge_inline::response_many::<#resp>(reply)))
        } else {
            quote!(super::__merge_inline::response_one::<#resp>(reply).await)
        };
        // Streaming goes straight only to a plainly served callee.
        quote! {
            if found.entry.stack.is_none() {
                found.count();
                let mut request = request;
                if let Some(hook) = &self.__merge_hook.0 {
                    request = super::__merge_inline::intercept(|r| hook(r), request)?;
                }
                let reply = super::__merge_inline::call_streaming(&found.entry, #neutral).await?;
                return #reply;
            }
        }
    };
    f.block = syn::parse_quote!({
        static __MERGE_SLOT: ::merge_runtime_shim::MethodSlot =
            ::merge_runtime_shim::MethodSlot::new(#path, env!("CARGO_PKG_NAME"));
        #[allow(unused_mut)]
        let mut request = #into;
        let mut through = None;
        if let Some(found) = __MERGE_SLOT.resolve() {
            if self.__merge_plain {
                #direct
            }
            // Through this client's own service stack (interceptors, layers, the endpoint's
            // timeout): a merged workspace's channel enters the callee's served stack
            // in-process, the message encoded.
            let dispatched = ::merge_runtime_shim::Dispatched::default();
            request.extensions_mut().insert(dispatched.clone());
            through = Some((found, dispatched));
        }
        // The network path's future is large; boxed, it does not make every in-process call
        // move it around.
        let answer = ::std::boxed::Box::pin(async move #original).await;
        match through {
            Some((found, dispatched)) if dispatched.get() => found.count_encoded(),
            _ => __MERGE_SLOT.count_remote(),
        }
        answer
    });
}

/// `request.into_request()` (`into_streaming_request()`) becomes `request`, already a
/// `tonic::Request`.
struct AlreadyRequest(syn::Ident);

impl VisitMut for AlreadyRequest {
    fn visit_expr_mut(&mut self, e: &mut syn::Expr) {
        if let syn::Expr::MethodCall(call) = e {
            let on_request =
                matches!(&*call.receiver, syn::Expr::Path(p) if p.path.is_ident(&self.0));
            let into = call.method == "into_request" || call.method == "into_streaming_request";
            if on_request && into && call.args.is_empty() {
                *e = (*call.receiver).clone();
                return;
            }
        }
        syn::visit_mut::visit_expr_mut(self, e);
    }
}

/// Finds `PathAndQuery::from_static("...")` and the `self.inner.<kind>(..)` call in a method
/// body.
#[derive(Default)]
struct Scan {
    path: Option<syn::LitStr>,
    kind: Option<String>,
}

impl<'ast> Visit<'ast> for Scan {
    fn visit_expr_call(&mut self, e: &'ast syn::ExprCall) {
        if let syn::Expr::Path(p) = &*e.func {
            if p.path
                .segments
                .last()
                .is_some_and(|s| s.ident == "from_static")
            {
                if let Some(syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                })) = e.args.first()
                {
                    self.path = Some(s.clone());
                }
            }
        }
        syn::visit::visit_expr_call(self, e);
    }

    fn visit_expr_method_call(&mut self, e: &'ast syn::ExprMethodCall) {
        let name = e.method.to_string();
        if matches!(
            name.as_str(),
            "unary" | "server_streaming" | "client_streaming" | "streaming"
        ) {
            self.kind = Some(name);
        }
        syn::visit::visit_expr_method_call(self, e);
    }
}

fn has_grpc_inner(s: &syn::ItemStruct) -> bool {
    s.fields.iter().any(|f| {
        f.ident.as_ref().is_some_and(|i| i == "inner")
            && matches!(&f.ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Grpc"))
    })
}
