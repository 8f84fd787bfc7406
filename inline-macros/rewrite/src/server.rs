//! The server half: constructing `XServer` registers its methods in the process-wide registry
//! (with the server's interceptor, when built by `with_interceptor`), with the Rust type it is
//! when routed (`XServer<T>`, or `with_interceptor`'s `InterceptedService<XServer<T>, F>`),
//! and the last clone of the server being dropped unregisters them. A registered server is
//! reachable in-process only while its tonic serves that very type with nothing around it
//! (`merge_runtime_shim::Registry::serve`).

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{FnArg, Ident, ImplItem, Item, ItemImpl, ItemMod, Type};

use crate::types::{codec, generic_arg};

/// A method of a service trait.
struct Method {
    method: Ident,
    /// The request message (inside `Streaming<..>` for client streaming).
    request: Type,
    /// The response message, or the trait's stream type (`T::XStream`) for server streaming.
    response: Type,
    client_streaming: bool,
    server_streaming: bool,
    /// The trait method takes `self: Arc<Self>` (tonic-build's `use_arc_self`).
    arc_self: bool,
}

impl Method {
    fn unary(&self) -> bool {
        !self.client_streaming && !self.server_streaming
    }

    /// The call of this method on the service `inner` (an `Arc<T>`).
    fn call_on(&self, service: &Ident, inner: TokenStream) -> TokenStream {
        let method = &self.method;
        if self.arc_self {
            quote!(<T as #service>::#method(::std::sync::Arc::clone(&#inner), request))
        } else {
            quote!(<T as #service>::#method(&#inner, request))
        }
    }
}

/// Rewrites one generated `*_server` module in place. Modules that are not the shape tonic
/// generates are left as they are (they stay on the network path).
/// Returns whether the module was a tonic server module (and was rewritten).
pub fn rewrite(module: &mut ItemMod) -> bool {
    let Some((_, items)) = module.content.as_mut() else {
        return false;
    };
    let Some(service) = items.iter().find_map(|i| match i {
        Item::Trait(t) => Some(t.ident.clone()),
        _ => None,
    }) else {
        return false;
    };
    let server = format_ident!("{service}Server");
    // tonic's shape: the trait, `XServer<T>` and its `NamedService` impl.
    let named = items
        .iter()
        .any(|i| matches!(i, Item::Impl(imp) if implements(imp, &server, "NamedService")));
    if !named
        || !items
            .iter()
            .any(|i| matches!(i, Item::Struct(s) if s.ident == server))
    {
        return false;
    }

    // tonic-build 0.9 to 0.11 wrap the service in a private `_Inner<T>(Arc<T>)`.
    let wrapped = items.iter().any(|i| matches!(i, Item::Struct(s) if s.ident == server && s.fields.iter().any(|f| {
        f.ident.as_ref().is_some_and(|n| n == "inner")
            && matches!(&f.ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "_Inner"))
    })));
    let arc = if wrapped {
        quote!(inner.0)
    } else {
        quote!(inner)
    };
    let methods = trait_methods(items, &service);
    let paths = method_paths(items, &service);
    let registered: Vec<(String, &Method)> = methods
        .iter()
        .filter_map(|u| paths.get(&u.method.to_string()).map(|p| (p.clone(), u)))
        .collect();

    for item in items.iter_mut() {
        match item {
            Item::Struct(s) if s.ident == server => {
                if let syn::Fields::Named(fields) = &mut s.fields {
                    fields.named.push(syn::parse_quote! {
                        __merge_registration: ::core::option::Option<::merge_runtime_shim::Registration>
                    });
                }
            }
            Item::Impl(imp) if implements(imp, &server, "Clone") => {
                AddField {
                    value: quote!(self.__merge_registration.clone()),
                }
                .visit_item_impl_mut(imp);
            }
            Item::Impl(imp) if implements(imp, &server, "Service") => {
                enter_stacked(imp, &arc);
            }
            Item::Impl(imp) if is_inherent(imp, &server) => {
                AddField {
                    value: quote!(::core::option::Option::None),
                }
                .visit_item_impl_mut(imp);
                split_constructors(imp);
            }
            _ => {}
        }
    }

    let handlers = registered.iter().map(|(path, u)| {
        if u.unary() {
            unary_handler(path, u, &service)
        } else {
            streaming_handler(path, u, &service)
        }
    });
    let register: Item = syn::parse_quote! {
        #[doc(hidden)]
        fn __merge_register<T, F>(
            inner: &Arc<T>,
            interceptor: ::core::option::Option<F>,
            routed: ::std::any::TypeId,
        ) -> ::merge_runtime_shim::Registration
        where
            T: #service,
            F: tonic::service::Interceptor + Clone + Send + Sync + 'static,
        {
            #[allow(unused_mut)]
            let mut handlers: Vec<(String, ::merge_runtime_shim::Handler)> = Vec::new();
            #(#handlers)*
            let member = ::merge_runtime_shim::current_member(env!("CARGO_PKG_NAME"));
            ::merge_runtime_shim::Registry::current().register_server(member, vec![routed], handlers)
        }
    };
    let registering: Item = syn::parse_quote! {
        impl<T: #service> #server<T> {
            pub fn new(inner: T) -> Self {
                Self::from_arc(Arc::new(inner))
            }
            pub fn from_arc(inner: Arc<T>) -> Self {
                let mut server = Self::__merge_unregistered(inner);
                server.__merge_registration = Some(__merge_register(
                    &server.#arc,
                    None::<fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>>,
                    ::std::any::TypeId::of::<Self>(),
                ));
                server
            }
            pub fn with_interceptor<F>(inner: T, interceptor: F) -> InterceptedService<Self, F>
            where
                F: tonic::service::Interceptor + Clone + Send + Sync + 'static,
            {
                let mut server = Self::__merge_unregistered(Arc::new(inner));
                server.__merge_registration = Some(__merge_register(
                    &server.#arc,
                    Some(interceptor.clone()),
                    ::std::any::TypeId::of::<InterceptedService<Self, F>>(),
                ));
                InterceptedService::new(server, interceptor)
            }
        }
    };
    let arms = registered
        .iter()
        .filter(|(_, u)| u.unary())
        .map(|(path, u)| stacked_arm(path, u, &service));
    let stacked: Item = syn::parse_quote! {
        /// A unary call that came in-process through this server's served stack with its
        /// message typed (`Err`: any other request, served as tonic serves it).
        #[doc(hidden)]
        #[allow(clippy::type_complexity)]
        fn __merge_serve_stacked<T: #service, B>(
            inner: &Arc<T>,
            req: http::Request<B>,
        ) -> ::core::result::Result<
            BoxFuture<http::Response<super::__merge_inline::HttpBody>, ::std::convert::Infallible>,
            http::Request<B>,
        > {
            if !super::__merge_inline::typed_request(&req) {
                return Err(req);
            }
            match req.uri().path() {
                #(#arms)*
                _ => Err(req),
            }
        }
    };
    items.push(register);
    items.push(registering);
    items.push(stacked);
    true
}

/// One unary method of [`rewrite`]'s `__merge_serve_stacked`.
fn stacked_arm(path: &str, u: &Method, service: &Ident) -> TokenStream {
    let call = u.call_on(service, quote!(inner));
    let (req, resp) = (&u.request, &u.response);
    let (req_codec, resp_codec) = (codec(req), codec(resp));
    quote! {
        #path => {
            let inner = inner.clone();
            Ok(super::__merge_inline::serve_unary::<#req, #resp, B, _, _>(
                req,
                move |request| async move { #call.await },
                (#req_codec.from, #resp_codec.into),
            ))
        }
    }
}

/// `XServer`'s `Service::call` first hands a typed in-process request to
/// `__merge_serve_stacked`; `arc` is where the server keeps its `Arc<T>`.
fn enter_stacked(imp: &mut ItemImpl, arc: &TokenStream) {
    for item in imp.items.iter_mut() {
        let ImplItem::Fn(f) = item else { continue };
        if f.sig.ident != "call" {
            continue;
        }
        let Some(FnArg::Typed(arg)) = f.sig.inputs.iter().nth(1) else {
            continue;
        };
        let syn::Pat::Ident(req) = &*arg.pat else {
            continue;
        };
        let req = &req.ident;
        f.block.stmts.insert(
            0,
            syn::parse_quote! {
                let #req = match __merge_serve_stacked(&self.#arc, #req) {
                    Ok(served) => return served,
                    Err(#req) => #req,
                };
            },
        );
    }
}

/// A streaming method's neutral handler: messages arrive and leave encoded, one by one; the
/// interceptor, the deadline and panic catching apply as for unary methods.
fn streaming_handler(path: &str, u: &Method, service: &Ident) -> TokenStream {
    let call = u.call_on(service, quote!(inner));
    let (req, resp) = (&u.request, &u.response);
    let take = if u.client_streaming {
        quote!(super::__merge_inline::take_many::<#req>(req))
    } else {
        quote!(super::__merge_inline::take_one::<#req>(req).await?)
    };
    let reply = if u.server_streaming {
        quote!(super::__merge_inline::reply_many(response))
    } else {
        quote!(super::__merge_inline::reply_one(response))
    };
    quote! {
        {
            let inner = inner.clone();
            let interceptor = interceptor.clone();
            let streaming: ::merge_runtime_shim::NeutralStreaming = Arc::new(move |req: ::merge_runtime_shim::NeutralStreamingRequest| {
                let inner = inner.clone();
                let interceptor = interceptor.clone();
                Box::pin(async move {
                    let request = #take;
                    let timeout = super::__merge_inline::timeout(request.metadata());
                    // The interceptor runs under the same panic catching as the handler.
                    let fut = async move {
                        let request = match interceptor {
                            Some(mut f) => super::__merge_inline::intercept(|r| tonic::service::Interceptor::call(&mut f, r), request)?,
                            None => request,
                        };
                        #call.await
                    };
                    let response = super::__merge_inline::finish::<tonic::Response<#resp>, _>(fut, timeout)
                        .await
                        .map_err(super::__merge_inline::status_to_neutral)?;
                    Ok::<_, ::merge_runtime_shim::NeutralStatus>(#reply)
                })
            });
            handlers.push((
                #path.to_owned(),
                ::merge_runtime_shim::Handler {
                    streaming: Some(streaming),
                    ..::core::default::Default::default()
                },
            ));
        }
    }
}

/// A unary method's typed handler (zero copy for callers with the same types) and its neutral
/// face (prost-encoded, for the others).
fn unary_handler(path: &str, u: &Method, service: &Ident) -> TokenStream {
    let call = u.call_on(service, quote!(self.inner));
    let (req, resp) = (&u.request, &u.response);
    let (req_codec, resp_codec) = (codec(req), codec(resp));
    quote! {
        {
            /// The method as the registry holds it: no clone and no allocation per call
            /// beyond the handler's own future.
            struct Method<T, F> {
                inner: Arc<T>,
                interceptor: ::core::option::Option<F>,
            }
            impl<T, F> super::__merge_inline::UnaryMethod<#req, #resp> for Method<T, F>
            where
                T: #service,
                F: tonic::service::Interceptor + Clone + Send + Sync + 'static,
            {
                fn call(
                    &self,
                    request: tonic::Request<#req>,
                ) -> Result<super::__merge_inline::Reply<'_, #resp>, tonic::Status> {
                    let timeout = super::__merge_inline::timeout(request.metadata());
                    let request = match &self.interceptor {
                        Some(f) => super::__merge_inline::intercept_caught(
                            |r| tonic::service::Interceptor::call(&mut f.clone(), r),
                            request,
                        )?,
                        None => request,
                    };
                    // async_trait's boxed future, guarded where it is: no nested state to copy.
                    Ok(super::__merge_inline::Reply::typed(
                        #call,
                        timeout,
                    ))
                }
            }
            let typed: super::__merge_inline::Unary<#req, #resp> = Arc::new(Method {
                inner: inner.clone(),
                interceptor: interceptor.clone(),
            });
            handlers.push((
                #path.to_owned(),
                ::merge_runtime_shim::Handler {
                    neutral: Some(super::__merge_inline::neutral_unary(
                        typed.clone(),
                        #req_codec,
                        #resp_codec,
                    )),
                    typed: Some(Arc::new(typed)),
                    streaming: None,
                    stacked: Some(super::__merge_inline::stacked_neutral::<#resp>(#resp_codec.into)),
                },
            ));
        }
    }
}

/// The methods of the service trait: `tonic::Request<M>` or `tonic::Request<Streaming<M>>` in,
/// `tonic::Response<R>` or `tonic::Response<Self::XStream>` out.
fn trait_methods(items: &[Item], service: &Ident) -> Vec<Method> {
    let mut out = Vec::new();
    for item in items {
        let Item::Trait(t) = item else { continue };
        if &t.ident != service {
            continue;
        }
        for ti in &t.items {
            let syn::TraitItem::Fn(f) = ti else { continue };
            let Some(FnArg::Typed(arg)) = f.sig.inputs.iter().nth(1) else {
                continue;
            };
            let Some(request) = generic_arg(&arg.ty, "Request") else {
                continue;
            };
            let (request, client_streaming) = match generic_arg(&request, "Streaming") {
                Some(inner) => (inner, true),
                None => (request, false),
            };
            let syn::ReturnType::Type(_, ret) = &f.sig.output else {
                continue;
            };
            let Some(response) =
                generic_arg(ret, "Result").and_then(|ok| generic_arg(&ok, "Response"))
            else {
                continue;
            };
            // `Self::XStream`: server streaming; named `T::XStream` in the registering code.
            // `BoxStream<R>`: server streaming with tonic-build's `generate_default_stubs`.
            let (response, server_streaming) = match &response {
                Type::Path(p)
                    if p.path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "BoxStream") =>
                {
                    (response.clone(), true)
                }
                Type::Path(p)
                    if p.qself.is_none()
                        && p.path.segments.first().is_some_and(|s| s.ident == "Self") =>
                {
                    let mut p = p.clone();
                    if let Some(first) = p.path.segments.first_mut() {
                        first.ident = format_ident!("T");
                    }
                    (Type::Path(p), true)
                }
                _ => (response, false),
            };
            let arc_self = matches!(f.sig.inputs.first(), Some(FnArg::Receiver(r))
                if r.colon_token.is_some()
                    && matches!(&*r.ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Arc")));
            out.push(Method {
                method: f.sig.ident.clone(),
                request,
                response,
                client_streaming,
                server_streaming,
                arc_self,
            });
        }
    }
    out
}

/// Method name -> `/pkg.Service/Method`, from the arms of the server's `call` match: the arm's
/// literal and the `<T as Service>::method` it calls (tonic-build 0.9: `(*inner).method(..)`).
fn method_paths(items: &[Item], service: &Ident) -> BTreeMap<String, String> {
    struct Arms<'a> {
        service: &'a Ident,
        out: BTreeMap<String, String>,
    }
    impl<'ast> Visit<'ast> for Arms<'_> {
        fn visit_arm(&mut self, arm: &'ast syn::Arm) {
            if let syn::Pat::Lit(syn::PatLit {
                lit: syn::Lit::Str(path),
                ..
            }) = &arm.pat
            {
                let mut calls = Calls {
                    service: self.service,
                    found: None,
                };
                calls.visit_expr(&arm.body);
                if let Some(method) = calls.found {
                    self.out.insert(method, path.value());
                }
            }
            syn::visit::visit_arm(self, arm);
        }
    }
    struct Calls<'a> {
        service: &'a Ident,
        found: Option<String>,
    }
    impl<'ast> Visit<'ast> for Calls<'_> {
        fn visit_expr_path(&mut self, e: &'ast syn::ExprPath) {
            if let Some(q) = &e.qself {
                let trait_ident = e.path.segments.iter().nth(q.position.saturating_sub(1));
                if trait_ident.is_some_and(|s| &s.ident == self.service) {
                    if let Some(last) = e.path.segments.last() {
                        self.found = Some(last.ident.to_string());
                    }
                }
            }
            syn::visit::visit_expr_path(self, e);
        }
        fn visit_expr_method_call(&mut self, e: &'ast syn::ExprMethodCall) {
            let deref_inner = |r: &syn::Expr| match r {
                syn::Expr::Paren(p) => matches!(&*p.expr, syn::Expr::Unary(u)
                    if matches!(u.op, syn::UnOp::Deref(_))
                        && matches!(&*u.expr, syn::Expr::Path(p) if p.path.is_ident("inner"))),
                _ => false,
            };
            if deref_inner(&e.receiver) {
                self.found = Some(e.method.to_string());
            }
            syn::visit::visit_expr_method_call(self, e);
        }
    }
    let mut arms = Arms {
        service,
        out: BTreeMap::new(),
    };
    for item in items {
        if let Item::Impl(imp) = item {
            arms.visit_item_impl(imp);
        }
    }
    arms.out
}

fn self_ty_is(imp: &ItemImpl, server: &Ident) -> bool {
    matches!(&*imp.self_ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| &s.ident == server))
}

/// Whether `imp` implements the trait named `name` (its last path segment) for `server`.
fn implements(imp: &ItemImpl, server: &Ident, name: &str) -> bool {
    self_ty_is(imp, server)
        && imp
            .trait_
            .as_ref()
            .is_some_and(|(_, p, _)| p.segments.last().is_some_and(|s| s.ident == name))
}

fn is_inherent(imp: &ItemImpl, server: &Ident) -> bool {
    self_ty_is(imp, server) && imp.trait_.is_none()
}

/// Removes `new`, `with_interceptor` and `from_arc` from the unbounded impl (they come back,
/// registering, in an impl bounded by the service trait) and keeps `from_arc`'s body as
/// `__merge_unregistered`.
fn split_constructors(imp: &mut ItemImpl) {
    let mut kept = Vec::new();
    for item in imp.items.drain(..) {
        match item {
            ImplItem::Fn(mut f) if f.sig.ident == "from_arc" => {
                f.sig.ident = format_ident!("__merge_unregistered");
                f.vis = syn::Visibility::Inherited;
                f.attrs.push(syn::parse_quote!(#[doc(hidden)]));
                kept.push(ImplItem::Fn(f));
            }
            ImplItem::Fn(f) if f.sig.ident == "new" || f.sig.ident == "with_interceptor" => {}
            other => kept.push(other),
        }
    }
    imp.items = kept;
}

/// Adds `__merge_registration: VALUE` to every `Self { .. }` literal.
struct AddField {
    value: TokenStream,
}

impl VisitMut for AddField {
    fn visit_expr_struct_mut(&mut self, e: &mut syn::ExprStruct) {
        if e.path.is_ident("Self") && e.rest.is_none() {
            let value = &self.value;
            e.fields
                .push(syn::parse_quote!(__merge_registration: #value));
        }
        syn::visit_mut::visit_expr_struct_mut(self, e);
    }
}
