//! The one hidden module every rewritten file gets (`__merge_inline`): the tonic-aware half of
//! the inline call, generated into the member so that it uses the member's own tonic and prost,
//! and the wire-format fallback of the field-by-field conversions (`__merge_inline::convert`).
//! Every public item the rewrite adds that only the rewritten code uses lives there.

use proc_macro2::TokenStream;
use quote::quote;

use crate::flavor::Flavor;

/// The one hidden module a rewritten file gets: the tonic-aware half of the inline call for a
/// file with tonic services (`flavor`: its tonic's shape), and the conversions' fallback
/// ([`crate::convert::module`]).
pub fn module(flavor: Option<Flavor>) -> TokenStream {
    let tonic = flavor.map(tonic_half);
    let convert = crate::convert::module();
    quote! {
        #[doc(hidden)]
        #[allow(dead_code, clippy::all)]
        pub mod __merge_inline {
            #tonic
            #convert
        }
    }
}

/// The tonic-aware half, for the tonic `flavor` names.
fn tonic_half(flavor: Flavor) -> TokenStream {
    let bodies = match flavor {
        Flavor::Legacy => legacy_bodies(),
        Flavor::Boxed => bodies(quote!(tonic::body::BoxBody), quote!(tonic::body::boxed)),
        Flavor::Body => bodies(quote!(tonic::body::Body), quote!(tonic::body::Body::new)),
    };
    quote! {
            use ::std::future::Future;
            use ::std::pin::Pin;
            use ::std::sync::Arc;
            use ::std::time::Duration;

            use tonic::codegen::http;

            #bodies

            /// A registered server's unary future, before it is guarded.
            pub type BoxReply<'a, Resp> =
                Pin<Box<dyn Future<Output = Result<tonic::Response<Resp>, tonic::Status>> + Send + 'a>>;

            /// A unary method of a registered server, typed with this member's tonic and
            /// message types. The caller downcasts [`Unary`] to its own types: it matches only
            /// when both sides share them. `call` runs the server's interceptor and starts the
            /// handler; the reply borrows the method (the caller keeps the registry entry alive
            /// while it awaits), so a call clones nothing.
            pub trait UnaryMethod<Req, Resp>: Send + Sync {
                fn call(&self, request: tonic::Request<Req>) -> Result<Reply<'_, Resp>, tonic::Status>;
            }

            pub type Unary<Req, Resp> = Arc<dyn UnaryMethod<Req, Resp>>;

            /// An in-process unary reply, ended as the network path would end it: a panic
            /// becomes Internal, a passed `grpc-timeout` Cancelled ("Timeout expired", as
            /// tonic says). Typed: the callee's own future (zero copy). Neutral: the callee's
            /// answer in neutral form, converted here. Either is polled as the callee's code:
            /// as its member, inside the runtime it serves on.
            pub enum Reply<'a, Resp> {
                Typed(
                    ::merge_runtime_shim::future::Guarded<BoxReply<'a, Resp>>,
                    Option<&'a ::merge_runtime_shim::Callee>,
                ),
                Neutral(
                    ::merge_runtime_shim::future::BoxFuture<Result<::merge_runtime_shim::NeutralResponse, ::merge_runtime_shim::NeutralStatus>>,
                    fn(::merge_runtime_shim::NeutralMessage) -> Result<Resp, ::merge_runtime_shim::ConvertError>,
                    &'a ::merge_runtime_shim::Callee,
                ),
            }

            impl<'a, Resp> Reply<'a, Resp> {
                pub fn typed(fut: BoxReply<'a, Resp>, timeout: Option<Duration>) -> Self {
                    Reply::Typed(::merge_runtime_shim::future::Guarded::new(fut, timeout, stopped), None)
                }

                /// The reply, polled as `callee`'s code.
                #[inline]
                pub fn entered(self, callee: &'a ::merge_runtime_shim::Callee) -> Self {
                    match self {
                        Reply::Typed(guarded, _) => Reply::Typed(guarded, Some(callee)),
                        Reply::Neutral(fut, from, _) => Reply::Neutral(fut, from, callee),
                    }
                }
            }

            /// How an in-process call that did not finish ends, as the network path would end
            /// it: a panic becomes Internal, a passed `grpc-timeout` Cancelled ("Timeout
            /// expired", as tonic says).
            pub fn stopped<R>(why: ::merge_runtime_shim::future::Stopped) -> Result<R, tonic::Status> {
                match why {
                    ::merge_runtime_shim::future::Stopped::Elapsed => Err(tonic::Status::cancelled("Timeout expired")),
                    ::merge_runtime_shim::future::Stopped::Panicked(panic) => Err(tonic::Status::internal(
                        format!("the in-process handler panicked: {panic}"),
                    )),
                }
            }

            impl<Resp> Future for Reply<'_, Resp> {
                type Output = Result<tonic::Response<Resp>, tonic::Status>;

                #[inline]
                fn poll(self: Pin<&mut Self>, cx: &mut ::std::task::Context<'_>) -> ::std::task::Poll<Self::Output> {
                    use ::std::task::Poll;
                    match self.get_mut() {
                        Reply::Typed(guarded, None) => Pin::new(guarded).poll(cx),
                        Reply::Typed(guarded, Some(callee)) => callee.poll(guarded, cx),
                        Reply::Neutral(fut, from, callee) => {
                            match callee.poll(fut, cx) {
                                Poll::Pending => Poll::Pending,
                                Poll::Ready(reply) => Poll::Ready(convert_reply(reply, *from)),
                            }
                        }
                    }
                }
            }

            fn convert_reply<Resp>(
                reply: Result<::merge_runtime_shim::NeutralResponse, ::merge_runtime_shim::NeutralStatus>,
                from: fn(::merge_runtime_shim::NeutralMessage) -> Result<Resp, ::merge_runtime_shim::ConvertError>,
            ) -> Result<tonic::Response<Resp>, tonic::Status> {
                let reply = reply.map_err(status_from_neutral)?;
                let message = from(reply.message)
                    .map_err(|e| tonic::Status::internal(format!("in-process response conversion failed: {e}")))?;
                Ok(tonic::Response::from_parts(
                    metadata_from_neutral(reply.metadata),
                    message,
                    tonic::Extensions::default(),
                ))
            }

            /// A client interceptor kept for the in-process path.
            pub type ClientHook = ::merge_runtime_shim::Hook<
                dyn Fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Send + Sync,
            >;

            /// Runs an interceptor on the metadata and extensions of `request`.
            pub fn intercept<M>(
                f: impl FnOnce(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>,
                request: tonic::Request<M>,
            ) -> Result<tonic::Request<M>, tonic::Status> {
                let (metadata, extensions, message) = request.into_parts();
                let head = f(tonic::Request::from_parts(metadata, extensions, ()))?;
                let (metadata, extensions, ()) = head.into_parts();
                Ok(tonic::Request::from_parts(metadata, extensions, message))
            }

            /// [`intercept`], with a panic in the interceptor turned into Internal, as a panic in
            /// the handler is.
            pub fn intercept_caught<M>(
                f: impl FnOnce(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>,
                request: tonic::Request<M>,
            ) -> Result<tonic::Request<M>, tonic::Status> {
                ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| intercept(f, request)))
                    .unwrap_or_else(|panic| {
                        let panic = ::merge_runtime_shim::future::panic_message(&*panic);
                        Err(tonic::Status::internal(format!("the in-process interceptor panicked: {panic}")))
                    })
            }

            pub fn timeout(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
                if metadata.is_empty() {
                    return None;
                }
                metadata
                    .get("grpc-timeout")
                    .and_then(|v| v.to_str().ok())
                    .and_then(::merge_runtime_shim::grpc_timeout)
            }

            /// Awaits a streaming callee's answer as the network path would end it ([`stopped`]).
            pub async fn finish<R, F>(fut: F, timeout: Option<Duration>) -> Result<R, tonic::Status>
            where
                F: Future<Output = Result<R, tonic::Status>>,
            {
                // Pinned on this future's stack: no allocation for the wrapper.
                let fut = ::std::pin::pin!(fut);
                ::merge_runtime_shim::future::Guarded::new(fut, timeout, stopped).await
            }

            pub fn metadata_to_neutral(m: tonic::metadata::MetadataMap) -> ::merge_runtime_shim::Metadata {
                m.into_headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
                    .collect()
            }

            pub fn metadata_from_neutral(v: ::merge_runtime_shim::Metadata) -> tonic::metadata::MetadataMap {
                let mut headers = http::HeaderMap::with_capacity(v.len());
                for (k, v) in v {
                    if let (Ok(k), Ok(v)) = (
                        http::header::HeaderName::from_bytes(k.as_bytes()),
                        http::header::HeaderValue::from_bytes(&v),
                    ) {
                        headers.append(k, v);
                    }
                }
                tonic::metadata::MetadataMap::from_headers(headers)
            }

            pub fn status_to_neutral(s: tonic::Status) -> ::merge_runtime_shim::NeutralStatus {
                ::merge_runtime_shim::NeutralStatus {
                    code: s.code() as i32,
                    message: s.message().to_owned(),
                    details: s.details().to_vec(),
                    metadata: metadata_to_neutral(s.metadata().clone()),
                }
            }

            pub fn status_from_neutral(s: ::merge_runtime_shim::NeutralStatus) -> tonic::Status {
                tonic::Status::with_details_and_metadata(
                    tonic::Code::from_i32(s.code),
                    s.message,
                    s.details.into(),
                    metadata_from_neutral(s.metadata),
                )
            }

            /// The neutral face of a typed unary method: the request's fields moved into this
            /// member's type, the call, the reply's fields moved out.
            pub fn neutral_unary<Req, Resp>(
                typed: Unary<Req, Resp>,
                request: ::merge_runtime_shim::Codec<Req>,
                response: ::merge_runtime_shim::Codec<Resp>,
            ) -> ::merge_runtime_shim::NeutralUnary
            where
                Req: Send + 'static,
                Resp: Send + 'static,
            {
                let (from, into) = (request.from, response.into);
                Arc::new(move |req: ::merge_runtime_shim::NeutralRequest| {
                    let typed = typed.clone();
                    Box::pin(async move {
                        let message = from(req.message).map_err(|e| {
                            status_to_neutral(tonic::Status::internal(format!("in-process request conversion failed: {e}")))
                        })?;
                        let request = tonic::Request::from_parts(
                            metadata_from_neutral(req.metadata),
                            tonic::Extensions::default(),
                            message,
                        );
                        let response = async { typed.call(request)?.await }.await.map_err(status_to_neutral)?;
                        let (metadata, message, _) = response.into_parts();
                        Ok(::merge_runtime_shim::NeutralResponse {
                            metadata: metadata_to_neutral(metadata),
                            message: into(message),
                        })
                    })
                })
            }

            /// Whether a client's service stack is a plain channel (then a call may go straight
            /// to its callee): a merged workspace's tonic knows its channels; elsewhere only a
            /// bare `Channel` counts as plain (an unpatched channel cannot enter a callee).
            pub fn plain_client<T: 'static>(inner: &T) -> bool {
                match ::merge_runtime_shim::channel_plain(inner) {
                    Some(plain) => plain,
                    None => ::std::any::type_name::<T>() == "tonic::transport::channel::Channel",
                }
            }

            // ---- through a callee's served stack: every layer runs, the message rides past ----

            /// A served stack as this member's tonic registers it (the serve hook of a merged
            /// workspace's tonic): a callee on the same tonic is entered through it.
            pub type Stack = Arc<
                dyn Fn(tonic::codegen::http::Request<HttpBody>)
                        -> tonic::codegen::BoxFuture<tonic::codegen::http::Response<HttpBody>, tonic::codegen::StdError>
                    + Send
                    + Sync,
            >;

            /// The stack of `entry`, when its callee is served with something around it on
            /// this member's very tonic.
            #[inline]
            pub fn stack_of(entry: &::merge_runtime_shim::Entry) -> Option<&Stack> {
                entry.stack.as_ref()?.downcast_ref::<Stack>()
            }

            /// Caller: a unary call through the callee's served stack. The request enters it
            /// as a network request would (path, metadata as headers, `grpc-timeout`), the
            /// message riding in an [`::merge_runtime_shim::Exchange`] in its extensions and
            /// encoded only if a layer reads the body; the answer comes back the same way.
            pub async fn call_stacked<Req, Resp>(
                found: &::merge_runtime_shim::Resolved,
                stack: &Stack,
                path: &'static str,
                request: tonic::Request<Req>,
                hook: &ClientHook,
                (into, from): (fn(Req) -> ::merge_runtime_shim::NeutralMessage, fn(::merge_runtime_shim::NeutralMessage) -> Result<Resp, ::merge_runtime_shim::ConvertError>),
            ) -> Result<tonic::Response<Resp>, tonic::Status>
            where
                Req: ::prost::Message + Send + 'static,
                Resp: ::prost::Message + Default + Send + 'static,
            {
                let (headers, extensions, exchange) = outgoing(request, hook, into)?;
                let mut req = http::Request::new(request_body(Messages(exchange.lazy_request()), true));
                *req.method_mut() = http::Method::POST;
                *req.uri_mut() = http::Uri::from_static(path);
                *req.version_mut() = http::Version::HTTP_2;
                *req.headers_mut() = headers;
                *req.extensions_mut() = extensions_to_http(extensions);
                req.extensions_mut().insert(exchange.clone());
                // The callee's layers are built and polled as its code.
                let callee = &found.entry.callee;
                let answer = callee.entered(callee.run(|| stack(req)));
                let answer = stacked_answer(answer, &exchange, from).await;
                counted(found, &exchange);
                answer
            }

            /// Caller: a request about to enter a served stack, after the client's
            /// interceptor: its headers as tonic's client sends them (tonic's reserved headers
            /// are its own, not metadata), its extensions, and the message in an exchange.
            fn outgoing<Req>(
                request: tonic::Request<Req>,
                hook: &ClientHook,
                into: fn(Req) -> ::merge_runtime_shim::NeutralMessage,
            ) -> Result<(http::HeaderMap, tonic::Extensions, ::merge_runtime_shim::Exchange), tonic::Status>
            where
                Req: ::prost::Message + Send + 'static,
            {
                let request = match &hook.0 {
                    Some(hook) => intercept(|r| hook(r), request)?,
                    None => request,
                };
                let (metadata, extensions, message) = request.into_parts();
                let exchange = ::merge_runtime_shim::Exchange::new(::merge_runtime_shim::Crossing::new(
                    message,
                    <Req as ::prost::Message>::encode_to_vec,
                    into,
                ));
                let mut headers = metadata.into_headers();
                for reserved in ["user-agent", "grpc-message", "grpc-message-type", "grpc-status"] {
                    headers.remove(reserved);
                }
                headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/grpc"));
                headers.insert(http::header::TE, http::HeaderValue::from_static("trailers"));
                Ok((headers, extensions, exchange))
            }

            /// Counts a call through a served stack, whatever its answer (a layer's refusal
            /// too), by the path its message took.
            fn counted(found: &::merge_runtime_shim::Resolved, exchange: &::merge_runtime_shim::Exchange) {
                if exchange.encoded() {
                    found.count_encoded();
                } else {
                    found.count();
                }
            }

            /// The answer of a served stack to an in-process request: the callee's typed
            /// response, or its encoded one when a layer read the body, or its status.
            async fn stacked_answer<Resp>(
                answer: impl Future<Output = Result<tonic::codegen::http::Response<HttpBody>, tonic::codegen::StdError>>,
                exchange: &::merge_runtime_shim::Exchange,
                from: fn(::merge_runtime_shim::NeutralMessage) -> Result<Resp, ::merge_runtime_shim::ConvertError>,
            ) -> Result<tonic::Response<Resp>, tonic::Status>
            where
                Resp: ::prost::Message + Default + Send + 'static,
            {
                let response = answer.await.map_err(tonic::Status::from_error)?;
                let (parts, answer) = answered::<Resp>(response, exchange).await?;
                let message = match answer {
                    Ok(message) => message,
                    Err(crossing) => crossing.take::<Resp>(from).map_err(|e| {
                        tonic::Status::internal(format!("in-process response conversion failed: {e}"))
                    })?,
                };
                Ok(tonic::Response::from_parts(
                    tonic::metadata::MetadataMap::from_headers(parts.headers),
                    message,
                    extensions_from_http(parts.extensions),
                ))
            }

            /// A served stack's response to an in-process request, as the network path reads
            /// it: the status in its headers or trailers, its HTTP status, then its message,
            /// still typed in the exchange (`Err`), or decoded from the body when a layer read
            /// it (`Ok`).
            async fn answered<Resp>(
                response: http::Response<HttpBody>,
                exchange: &::merge_runtime_shim::Exchange,
            ) -> Result<(http::response::Parts, Result<Resp, ::merge_runtime_shim::Crossing>), tonic::Status>
            where
                Resp: ::prost::Message + Default + Send + 'static,
            {
                let (parts, body) = response.into_parts();
                failed(&parts.headers)?;
                if parts.status != http::StatusCode::OK {
                    return Err(http_status(parts.status));
                }
                if let Some(crossing) = exchange.take_response() {
                    return Ok((parts, Err(crossing)));
                }
                let mut streaming = answer_stream::<Resp>(body, parts.status);
                let message = streaming.message().await?;
                // Before a missing message is said: a status in the trailers wins. Trailers
                // join the response's metadata, as tonic's unary client merges them.
                let mut parts = parts;
                if let Some(trailers) = streaming.trailers().await? {
                    let trailers = trailers.into_headers();
                    failed(&trailers)?;
                    parts.headers.extend(trailers);
                }
                let message = message.ok_or_else(|| tonic::Status::internal("Missing response message."))?;
                Ok((parts, Ok(message)))
            }

            // ---- through a served stack of another tonic: the same, with neutral headers ----

            /// The call into `entry`'s served stack that the callee offers a caller whose tonic
            /// is not its own (its [`Stack`] type is another): `None` when there is none.
            #[inline]
            pub fn neutral_stacked_call(entry: &::merge_runtime_shim::Entry) -> Option<::merge_runtime_shim::StackedCall> {
                (entry.handler.stacked.as_ref()?)(entry.stack.as_deref()?)
            }

            /// Caller: [`call_stacked`] into a callee on another tonic, through `enter`
            /// ([`neutral_stacked_call`]). Path, headers and `grpc-timeout` cross as a network
            /// request carries them, the message rides in the exchange; extensions stay behind,
            /// as on the network.
            pub async fn call_stacked_neutral<Req, Resp>(
                found: &::merge_runtime_shim::Resolved,
                path: &'static str,
                request: tonic::Request<Req>,
                hook: &ClientHook,
                (into, from): (fn(Req) -> ::merge_runtime_shim::NeutralMessage, fn(::merge_runtime_shim::NeutralMessage) -> Result<Resp, ::merge_runtime_shim::ConvertError>),
                enter: ::merge_runtime_shim::StackedCall,
            ) -> Result<tonic::Response<Resp>, tonic::Status>
            where
                Req: ::prost::Message + Send + 'static,
                Resp: Send + 'static,
            {
                // Extensions stay behind, as on the network.
                let (headers, _, exchange) = outgoing(request, hook, into)?;
                let headers = metadata_to_neutral(tonic::metadata::MetadataMap::from_headers(headers));
                let stacked = ::merge_runtime_shim::StackedRequest {
                    path: path.to_owned(),
                    headers,
                    exchange: exchange.clone(),
                };
                // The callee's layers are built and polled as its code.
                let callee = &found.entry.callee;
                let answer = callee.entered(callee.run(|| enter(stacked))).await.map_err(status_from_neutral);
                counted(found, &exchange);
                let answer = answer?;
                let message = answer.message.take::<Resp>(from).map_err(|e| {
                    tonic::Status::internal(format!("in-process response conversion failed: {e}"))
                })?;
                Ok(tonic::Response::from_parts(
                    metadata_from_neutral(answer.headers),
                    message,
                    tonic::Extensions::default(),
                ))
            }

            /// Callee: a unary method's entrance through this member's served stack for callers
            /// on another tonic (`into`: how its response crosses).
            pub fn stacked_neutral<Resp>(
                into: fn(Resp) -> ::merge_runtime_shim::NeutralMessage,
            ) -> ::merge_runtime_shim::NeutralStacked
            where
                Resp: ::prost::Message + Default + Send + 'static,
            {
                Arc::new(move |stack: &(dyn ::std::any::Any + Send + Sync)| {
                    let stack = stack.downcast_ref::<Stack>()?.clone();
                    let call: ::merge_runtime_shim::StackedCall = Box::new(move |request: ::merge_runtime_shim::StackedRequest| {
                        Box::pin(async move {
                            stacked_answer_neutral::<Resp>(&stack, request, into)
                                .await
                                .map_err(status_to_neutral)
                        })
                    });
                    Some(call)
                })
            }

            async fn stacked_answer_neutral<Resp>(
                stack: &Stack,
                request: ::merge_runtime_shim::StackedRequest,
                into: fn(Resp) -> ::merge_runtime_shim::NeutralMessage,
            ) -> Result<::merge_runtime_shim::StackedResponse, tonic::Status>
            where
                Resp: ::prost::Message + Default + Send + 'static,
            {
                let ::merge_runtime_shim::StackedRequest { path, headers, exchange } = request;
                let mut req = http::Request::new(request_body(Messages(exchange.lazy_request()), true));
                *req.method_mut() = http::Method::POST;
                *req.uri_mut() = http::Uri::try_from(path)
                    .map_err(|e| tonic::Status::internal(format!("in-process request path: {e}")))?;
                *req.version_mut() = http::Version::HTTP_2;
                *req.headers_mut() = metadata_from_neutral(headers).into_headers();
                req.extensions_mut().insert(exchange.clone());
                let response = stack(req).await.map_err(tonic::Status::from_error)?;
                let (parts, answer) = answered::<Resp>(response, &exchange).await?;
                let message = match answer {
                    Ok(message) => ::merge_runtime_shim::Crossing::new(message, <Resp as ::prost::Message>::encode_to_vec, into),
                    Err(crossing) => crossing,
                };
                Ok(::merge_runtime_shim::StackedResponse {
                    headers: metadata_to_neutral(tonic::metadata::MetadataMap::from_headers(parts.headers)),
                    message,
                })
            }

            /// The status in headers or trailers, when it is not Ok.
            fn failed(map: &tonic::codegen::http::HeaderMap) -> Result<(), tonic::Status> {
                match tonic::Status::from_header_map(map) {
                    Some(status) if status.code() != tonic::Code::Ok => Err(status),
                    _ => Ok(()),
                }
            }

            /// The status a non-200 HTTP answer without `grpc-status` means, as tonic's client
            /// reads it (the gRPC HTTP-to-status mapping).
            fn http_status(status: tonic::codegen::http::StatusCode) -> tonic::Status {
                let code = match status.as_u16() {
                    400 => tonic::Code::Internal,
                    401 => tonic::Code::Unauthenticated,
                    403 => tonic::Code::PermissionDenied,
                    404 => tonic::Code::Unimplemented,
                    429 | 502 | 503 | 504 => tonic::Code::Unavailable,
                    _ => tonic::Code::Unknown,
                };
                tonic::Status::new(code, format!("grpc-status header missing, mapped from HTTP status code {}", status.as_u16()))
            }

            /// Callee: whether `req` came in-process with its message still typed.
            #[inline]
            pub fn typed_request<B>(req: &tonic::codegen::http::Request<B>) -> bool {
                req.extensions()
                    .get::<::merge_runtime_shim::Exchange>()
                    .is_some_and(::merge_runtime_shim::Exchange::has_request)
            }

            /// Callee: a unary call that came through this server's stack with its message
            /// typed: the handler gets it moved (or converted into this member's type), and its
            /// answer goes back the same way, behind a body that encodes it only if a layer
            /// reads it. A panicking handler gives Internal.
            pub fn serve_unary<Req, Resp, B, F, Fut>(
                req: tonic::codegen::http::Request<B>,
                handler: F,
                (from, into): (fn(::merge_runtime_shim::NeutralMessage) -> Result<Req, ::merge_runtime_shim::ConvertError>, fn(Resp) -> ::merge_runtime_shim::NeutralMessage),
            ) -> tonic::codegen::BoxFuture<tonic::codegen::http::Response<HttpBody>, ::std::convert::Infallible>
            where
                Req: Send + 'static,
                Resp: ::prost::Message + Send + 'static,
                F: FnOnce(tonic::Request<Req>) -> Fut,
                Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>> + Send + 'static,
            {
                let (parts, _body) = req.into_parts();
                let exchange = parts.extensions.get::<::merge_runtime_shim::Exchange>().cloned();
                let Some((exchange, crossing)) = exchange.and_then(|e| Some((e.clone(), e.take_request()?))) else {
                    let status = tonic::Status::internal("the in-process request was taken");
                    return Box::pin(async move { Ok(status_http(status)) });
                };
                let message = match crossing.take::<Req>(from) {
                    Ok(message) => message,
                    Err(e) => {
                        let status = tonic::Status::internal(format!("in-process request conversion failed: {e}"));
                        return Box::pin(async move { Ok(status_http(status)) });
                    }
                };
                let fut = handler(tonic::Request::from_http(http::Request::from_parts(parts, message)));
                Box::pin(async move {
                    Ok(match finish(fut, None).await {
                        Ok(response) => {
                            let (metadata, message, extensions) = response.into_parts();
                            exchange.put_response(::merge_runtime_shim::Crossing::new(
                                message,
                                <Resp as ::prost::Message>::encode_to_vec,
                                into,
                            ));
                            let mut response = http::Response::new(response_body(Messages(exchange.lazy_response()), true));
                            let mut headers = metadata.into_headers();
                            for reserved in ["te", "grpc-status", "grpc-message", "grpc-status-details-bin"] {
                                headers.remove(reserved);
                            }
                            headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/grpc"));
                            *response.headers_mut() = headers;
                            *response.extensions_mut() = extensions_to_http(extensions);
                            response
                        }
                        Err(status) => status_http(status),
                    })
                })
            }

            // ---- streaming: messages cross encoded one by one, no HTTP/2, no socket ----

            use ::merge_runtime_shim::Stream;

            /// Decodes this member's prost messages from gRPC frames, as its tonic's prost codec
            /// does (written here: the codec crate differs between tonic versions). A stream
            /// framed by this module may hand it the status it ended with ([`Failed`]): given
            /// once, after which nothing more is decoded (tonic decodes the empty frame that
            /// carried it again on the next read), so the stream ends as on the network.
            pub struct MessageDecoder<M> {
                message: ::std::marker::PhantomData<fn() -> M>,
                failed: Option<Failed>,
                ended: bool,
            }

            impl<M> Default for MessageDecoder<M> {
                fn default() -> Self {
                    MessageDecoder::watching(None)
                }
            }

            impl<M> MessageDecoder<M> {
                fn watching(failed: Option<Failed>) -> Self {
                    MessageDecoder { message: ::std::marker::PhantomData, failed, ended: false }
                }
            }

            /// Where a stream of messages framed here leaves the status it ended with, for the
            /// decoder to give back as the stream's error.
            pub type Failed = Arc<::std::sync::Mutex<Option<tonic::Status>>>;

            impl<M: ::prost::Message + Default> tonic::codec::Decoder for MessageDecoder<M> {
                type Item = M;
                type Error = tonic::Status;
                fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<M>, tonic::Status> {
                    if self.ended {
                        return Ok(None);
                    }
                    if let Some(status) = self.failed.as_ref().and_then(|f| f.lock().unwrap_or_else(|p| p.into_inner()).take()) {
                        self.ended = true;
                        return Err(status);
                    }
                    <M as ::prost::Message>::decode(src)
                        .map(Some)
                        .map_err(|e| tonic::Status::internal(e.to_string()))
                }
            }

            /// Neutral messages as a stream tonic can frame.
            pub struct Messages(pub ::merge_runtime_shim::BoxMessageStream);

            impl Stream for Messages {
                type Item = Result<Vec<u8>, tonic::Status>;
                fn poll_next(mut self: Pin<&mut Self>, cx: &mut ::std::task::Context<'_>) -> ::std::task::Poll<Option<Self::Item>> {
                    ::merge_runtime_shim::MessageStream::poll_next(self.0.as_mut(), cx)
                        .map(|m| m.map(|r| r.map_err(status_from_neutral)))
                }
            }

            /// This member's `Result<M, Status>` stream, encoded (a panic while polling ends it with
            /// Internal, as a panicking handler does).
            pub struct EncodeResults<S, M>(pub Pin<Box<S>>, pub ::std::marker::PhantomData<fn() -> M>);

            impl<S, M> ::merge_runtime_shim::MessageStream for EncodeResults<S, M>
            where
                S: Stream<Item = Result<M, tonic::Status>> + Send,
                M: ::prost::Message,
            {
                fn poll_next(mut self: Pin<&mut Self>, cx: &mut ::std::task::Context<'_>) -> ::std::task::Poll<Option<Result<Vec<u8>, ::merge_runtime_shim::NeutralStatus>>> {
                    let inner = self.0.as_mut();
                    match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| inner.poll_next(cx))) {
                        Ok(p) => p.map(|m| m.map(|r| match r {
                            Ok(m) => Ok(::prost::Message::encode_to_vec(&m)),
                            Err(s) => Err(status_to_neutral(s)),
                        })),
                        Err(panic) => {
                            let panic = ::merge_runtime_shim::future::panic_message(&*panic);
                            let status = tonic::Status::internal(format!("the in-process handler panicked: {panic}"));
                            ::std::task::Poll::Ready(Some(Err(status_to_neutral(status))))
                        }
                    }
                }
            }

            /// This member's plain message stream (a client-streaming request), encoded.
            pub struct EncodeItems<S, M>(pub Pin<Box<S>>, pub ::std::marker::PhantomData<fn() -> M>);

            impl<S, M> ::merge_runtime_shim::MessageStream for EncodeItems<S, M>
            where
                S: Stream<Item = M> + Send,
                M: ::prost::Message,
            {
                fn poll_next(mut self: Pin<&mut Self>, cx: &mut ::std::task::Context<'_>) -> ::std::task::Poll<Option<Result<Vec<u8>, ::merge_runtime_shim::NeutralStatus>>> {
                    self.0.as_mut().poll_next(cx).map(|m| m.map(|m| Ok(::prost::Message::encode_to_vec(&m))))
                }
            }

            /// Caller: a one-message request.
            pub fn request_one<Req: ::prost::Message>(request: tonic::Request<Req>) -> ::merge_runtime_shim::NeutralStreamingRequest {
                let (metadata, _, message) = request.into_parts();
                ::merge_runtime_shim::NeutralStreamingRequest {
                    metadata: metadata_to_neutral(metadata),
                    messages: ::merge_runtime_shim::Once::boxed(::prost::Message::encode_to_vec(&message)),
                }
            }

            /// Caller: a streaming request.
            pub fn request_many<Req, S>(request: tonic::Request<S>) -> ::merge_runtime_shim::NeutralStreamingRequest
            where
                Req: ::prost::Message + 'static,
                S: Stream<Item = Req> + Send + 'static,
            {
                let (metadata, _, stream) = request.into_parts();
                ::merge_runtime_shim::NeutralStreamingRequest {
                    metadata: metadata_to_neutral(metadata),
                    messages: Box::pin(EncodeItems(Box::pin(stream), ::std::marker::PhantomData)),
                }
            }

            /// Caller: runs the callee's streaming handler.
            pub async fn call_streaming(
                entry: &::merge_runtime_shim::Entry,
                request: ::merge_runtime_shim::NeutralStreamingRequest,
            ) -> Result<::merge_runtime_shim::NeutralStreamingResponse, tonic::Status> {
                let Some(streaming) = entry.handler.streaming.as_ref() else {
                    return Err(tonic::Status::unimplemented(format!(
                        "{} is served in-process by `{}` in a form this caller cannot use",
                        entry.path, entry.member
                    )));
                };
                let callee = &entry.callee;
                let reply = callee.run(|| streaming(request));
                let mut reply = callee.entered(reply).await.map_err(status_from_neutral)?;
                reply.messages = callee.stream(reply.messages);
                Ok(reply)
            }

            /// Caller: a one-message reply.
            pub async fn response_one<Resp: ::prost::Message + Default>(
                mut reply: ::merge_runtime_shim::NeutralStreamingResponse,
            ) -> Result<tonic::Response<Resp>, tonic::Status> {
                let bytes = match ::merge_runtime_shim::next_message(&mut reply.messages).await {
                    Some(Ok(bytes)) => bytes,
                    Some(Err(status)) => return Err(status_from_neutral(status)),
                    None => return Err(tonic::Status::internal("the in-process handler sent no reply")),
                };
                let message = <Resp as ::prost::Message>::decode(bytes.as_slice())
                    .map_err(|e| tonic::Status::internal(format!("in-process response decoding failed: {e}")))?;
                Ok(tonic::Response::from_parts(metadata_from_neutral(reply.metadata), message, tonic::Extensions::default()))
            }

            /// Caller: a streaming reply, decoded by this member's tonic as a network stream is.
            pub fn response_many<Resp: ::prost::Message + Default + Send + 'static>(
                reply: ::merge_runtime_shim::NeutralStreamingResponse,
            ) -> tonic::Response<tonic::codec::Streaming<Resp>> {
                let streaming = response_stream::<Resp>(Messages(reply.messages));
                tonic::Response::from_parts(metadata_from_neutral(reply.metadata), streaming, tonic::Extensions::default())
            }

            /// Callee: the one request message.
            pub async fn take_one<Req: ::prost::Message + Default>(
                mut request: ::merge_runtime_shim::NeutralStreamingRequest,
            ) -> Result<tonic::Request<Req>, ::merge_runtime_shim::NeutralStatus> {
                let bytes = match ::merge_runtime_shim::next_message(&mut request.messages).await {
                    Some(Ok(bytes)) => bytes,
                    Some(Err(status)) => return Err(status),
                    None => return Err(status_to_neutral(tonic::Status::internal("the in-process caller sent no request"))),
                };
                let message = <Req as ::prost::Message>::decode(bytes.as_slice()).map_err(|e| {
                    status_to_neutral(tonic::Status::internal(format!("in-process request decoding failed: {e}")))
                })?;
                Ok(tonic::Request::from_parts(metadata_from_neutral(request.metadata), tonic::Extensions::default(), message))
            }

            /// Callee: the request stream, decoded by this member's tonic.
            pub fn take_many<Req: ::prost::Message + Default + Send + 'static>(
                request: ::merge_runtime_shim::NeutralStreamingRequest,
            ) -> tonic::Request<tonic::Streaming<Req>> {
                let streaming = request_stream::<Req>(Messages(request.messages));
                tonic::Request::from_parts(metadata_from_neutral(request.metadata), tonic::Extensions::default(), streaming)
            }

            /// Callee: a one-message reply.
            pub fn reply_one<Resp: ::prost::Message>(response: tonic::Response<Resp>) -> ::merge_runtime_shim::NeutralStreamingResponse {
                let (metadata, message, _) = response.into_parts();
                ::merge_runtime_shim::NeutralStreamingResponse {
                    metadata: metadata_to_neutral(metadata),
                    messages: ::merge_runtime_shim::Once::boxed(::prost::Message::encode_to_vec(&message)),
                }
            }

            /// Callee: a streaming reply.
            pub fn reply_many<S, M>(response: tonic::Response<S>) -> ::merge_runtime_shim::NeutralStreamingResponse
            where
                S: Stream<Item = Result<M, tonic::Status>> + Send + 'static,
                M: ::prost::Message + 'static,
            {
                let (metadata, stream, _) = response.into_parts();
                ::merge_runtime_shim::NeutralStreamingResponse {
                    metadata: metadata_to_neutral(metadata),
                    messages: Box::pin(EncodeResults(Box::pin(stream), ::std::marker::PhantomData)),
                }
            }

            /// The caller's half: runs the client's interceptor, then calls zero copy when the
            /// callee's method has our very types, else through the neutral form (`request`
            /// and `response`: how our types cross). Starts the call; the caller awaits the
            /// reply while it holds `entry`.
            #[inline]
            pub fn call_unary<'a, Req, Resp>(
                entry: &'a ::merge_runtime_shim::Entry,
                request: tonic::Request<Req>,
                hook: &ClientHook,
                codecs: (fn(Req) -> ::merge_runtime_shim::NeutralMessage, fn(::merge_runtime_shim::NeutralMessage) -> Result<Resp, ::merge_runtime_shim::ConvertError>),
            ) -> Result<Reply<'a, Resp>, tonic::Status>
            where
                Req: 'static,
                Resp: 'static,
            {
                let request = match &hook.0 {
                    Some(hook) => intercept(|r| hook(r), request)?,
                    None => request,
                };
                match entry.handler.typed.as_ref().and_then(|t| t.downcast_ref::<Unary<Req, Resp>>()) {
                    Some(typed) => typed.call(request).map(|r| r.entered(&entry.callee)),
                    None => call_converted(entry, request, codecs),
                }
            }

            /// [`call_unary`] for a callee with other Rust types: the messages' fields move
            /// across both ways.
            #[inline(never)]
            fn call_converted<'a, Req, Resp>(
                entry: &'a ::merge_runtime_shim::Entry,
                request: tonic::Request<Req>,
                (into, from): (fn(Req) -> ::merge_runtime_shim::NeutralMessage, fn(::merge_runtime_shim::NeutralMessage) -> Result<Resp, ::merge_runtime_shim::ConvertError>),
            ) -> Result<Reply<'a, Resp>, tonic::Status> {
                let Some(neutral) = entry.handler.neutral.as_ref() else {
                    return Err(tonic::Status::unimplemented(format!(
                        "{} is served in-process by `{}` in a form this caller cannot use",
                        entry.path, entry.member
                    )));
                };
                let (metadata, _, message) = request.into_parts();
                let req = ::merge_runtime_shim::NeutralRequest {
                    metadata: metadata_to_neutral(metadata),
                    message: into(message),
                };
                let callee = &entry.callee;
                Ok(Reply::Neutral(callee.run(|| neutral(req)), from, callee))
            }
    }
}

/// How tonic 0.12 to 0.14 frame and unframe messages: their own `EncodeBody` and `Streaming`,
/// the body named `body` and boxed by `new_body`.
fn bodies(body: TokenStream, new_body: TokenStream) -> TokenStream {
    quote! {
        /// This member's tonic's HTTP body.
        pub type HttpBody = #body;

        /// Messages framed as a request body (`lazy`: no buffer until a layer reads it).
        pub fn request_body(messages: Messages, lazy: bool) -> HttpBody {
            #new_body(tonic::codec::EncodeBody::new_client(RawEncoder::sized(lazy), messages, None, None))
        }

        /// Messages framed as a response body, ended by `grpc-status` trailers.
        pub fn response_body(messages: Messages, lazy: bool) -> HttpBody {
            #new_body(tonic::codec::EncodeBody::new_server(RawEncoder::sized(lazy), messages, None, Default::default(), None))
        }

        /// Messages decoded by this member's tonic as a network response stream is.
        pub fn response_stream<M: ::prost::Message + Default + Send + 'static>(messages: Messages) -> tonic::codec::Streaming<M> {
            let body = tonic::codec::EncodeBody::new_server(RawEncoder::STREAM, messages, None, Default::default(), None);
            tonic::codec::Streaming::new_response(MessageDecoder::<M>::default(), body, http::StatusCode::OK, None, None)
        }

        /// Messages decoded by this member's tonic as a network request stream is.
        pub fn request_stream<M: ::prost::Message + Default + Send + 'static>(messages: Messages) -> tonic::Streaming<M> {
            let body = tonic::codec::EncodeBody::new_client(RawEncoder::STREAM, messages, None, None);
            tonic::Streaming::new_request(MessageDecoder::<M>::default(), body, None, None)
        }

        /// A served stack's answer body, decoded.
        fn answer_stream<M: ::prost::Message + Default + Send + 'static>(body: HttpBody, status: http::StatusCode) -> tonic::codec::Streaming<M> {
            tonic::codec::Streaming::new_response(MessageDecoder::<M>::default(), body, status, None, None)
        }

        fn status_http(status: tonic::Status) -> http::Response<HttpBody> {
            status.into_http()
        }

        fn extensions_to_http(extensions: tonic::Extensions) -> http::Extensions {
            extensions
        }

        fn extensions_from_http(extensions: http::Extensions) -> tonic::Extensions {
            extensions
        }

        /// Frames already-encoded messages as gRPC frames (the caller's decoder reads them),
        /// from a buffer of the given starting size.
        pub struct RawEncoder(usize);

        impl RawEncoder {
            /// For streams of messages: tonic's own starting buffer (8 KiB).
            pub const STREAM: RawEncoder = RawEncoder(8 * 1024);
            /// For a body that is usually never read (a message riding past a served
            /// stack): no buffer until a layer reads it.
            pub const LAZY: RawEncoder = RawEncoder(0);

            fn sized(lazy: bool) -> RawEncoder {
                if lazy { RawEncoder::LAZY } else { RawEncoder::STREAM }
            }
        }

        impl tonic::codec::Encoder for RawEncoder {
            type Item = Vec<u8>;
            type Error = tonic::Status;
            fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
                ::prost::bytes::BufMut::put_slice(dst, &item);
                Ok(())
            }
            fn buffer_settings(&self) -> tonic::codec::BufferSettings {
                tonic::codec::BufferSettings::new(self.0, 32 * 1024)
            }
        }
    }
}

/// How tonic 0.9 to 0.11 frame and unframe messages. Their framing body and
/// `Streaming::new_response` are private, so messages are framed here (`Framed`, an
/// http-body 0.4 body) and every stream is decoded with the public `Streaming::new_request`.
/// That one ignores trailers and takes a `Cancelled` body error for the end of the stream, so
/// a stream framed here hands the status it ends with to its decoder (`Failed`) instead.
fn legacy_bodies() -> TokenStream {
    quote! {
        /// This member's tonic's HTTP body.
        pub type HttpBody = tonic::body::BoxBody;

        /// Messages framed as a request body. `Framed` frames a message only when the body is
        /// read, with no buffer of its own: every body here is lazy.
        pub fn request_body(messages: Messages, _lazy: bool) -> HttpBody {
            tonic::codegen::Body::boxed_unsync(Framed::new(messages, false, None))
        }

        /// Messages framed as a response body, ended by `grpc-status` trailers.
        pub fn response_body(messages: Messages, _lazy: bool) -> HttpBody {
            tonic::codegen::Body::boxed_unsync(Framed::new(messages, true, None))
        }

        /// Messages decoded by this member's tonic as a network response stream is: the
        /// status they end with kept, `Cancelled` included (the public `new_request` reads
        /// trailers never and takes a `Cancelled` body error for the end).
        pub fn response_stream<M: ::prost::Message + Default + Send + 'static>(messages: Messages) -> tonic::codec::Streaming<M> {
            let failed = Failed::default();
            let body = Framed::new(messages, false, Some(failed.clone()));
            tonic::Streaming::new_request(MessageDecoder::<M>::watching(Some(failed)), body, None, None)
        }

        /// Messages decoded by this member's tonic as a network request stream is (a
        /// `Cancelled` caller ends it, as tonic says).
        pub fn request_stream<M: ::prost::Message + Default + Send + 'static>(messages: Messages) -> tonic::Streaming<M> {
            tonic::Streaming::new_request(MessageDecoder::<M>::default(), Framed::new(messages, false, None), None, None)
        }

        /// A served stack's answer body, decoded (its trailers read by the caller).
        fn answer_stream<M: ::prost::Message + Default + Send + 'static>(body: HttpBody, _status: http::StatusCode) -> tonic::codec::Streaming<M> {
            tonic::Streaming::new_request(MessageDecoder::<M>::default(), body, None, None)
        }

        fn status_http(status: tonic::Status) -> http::Response<HttpBody> {
            status.to_http()
        }

        fn extensions_to_http(extensions: tonic::Extensions) -> http::Extensions {
            extensions.into_http()
        }

        fn extensions_from_http(extensions: http::Extensions) -> tonic::Extensions {
            // `Extensions::from_http` is private to tonic 0.9 to 0.11; `Request::from_http` is not.
            let mut carrier = http::Request::new(());
            *carrier.extensions_mut() = extensions;
            tonic::Request::from_http(carrier).into_parts().1
        }

        /// Already-encoded messages as gRPC frames (one frame per chunk), read only when the
        /// body is. A request body ends with an error of the stream; a response body with
        /// `grpc-status` trailers; a body whose decoder watches [`Failed`] with an empty frame
        /// after which the decoder gives the status back.
        pub struct Framed {
            messages: Messages,
            response: bool,
            failed: Option<Failed>,
            ended: bool,
            status: Option<tonic::Status>,
            trailed: bool,
        }

        impl Framed {
            fn new(messages: Messages, response: bool, failed: Option<Failed>) -> Framed {
                Framed { messages, response, failed, ended: false, status: None, trailed: false }
            }
        }

        fn frame(message: &[u8]) -> tonic::codegen::Bytes {
            let mut frame = Vec::with_capacity(5 + message.len());
            frame.push(0);
            frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
            frame.extend_from_slice(message);
            tonic::codegen::Bytes::from(frame)
        }

        impl tonic::codegen::Body for Framed {
            type Data = tonic::codegen::Bytes;
            type Error = tonic::Status;

            fn poll_data(self: Pin<&mut Self>, cx: &mut ::std::task::Context<'_>) -> ::std::task::Poll<Option<Result<tonic::codegen::Bytes, tonic::Status>>> {
                use ::std::task::Poll;
                let this = self.get_mut();
                if this.ended {
                    return Poll::Ready(None);
                }
                match ::merge_runtime_shim::MessageStream::poll_next(this.messages.0.as_mut(), cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Some(Ok(message))) => Poll::Ready(Some(Ok(frame(&message)))),
                    Poll::Ready(Some(Err(status))) => {
                        this.ended = true;
                        let status = status_from_neutral(status);
                        if let Some(failed) = &this.failed {
                            *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
                            Poll::Ready(Some(Ok(frame(&[]))))
                        } else if this.response {
                            this.status = Some(status);
                            Poll::Ready(None)
                        } else {
                            Poll::Ready(Some(Err(status)))
                        }
                    }
                    Poll::Ready(None) => {
                        this.ended = true;
                        Poll::Ready(None)
                    }
                }
            }

            fn poll_trailers(self: Pin<&mut Self>, _cx: &mut ::std::task::Context<'_>) -> ::std::task::Poll<Result<Option<http::HeaderMap>, tonic::Status>> {
                let this = self.get_mut();
                if !this.response || ::std::mem::replace(&mut this.trailed, true) {
                    return ::std::task::Poll::Ready(Ok(None));
                }
                let mut trailers = http::HeaderMap::new();
                match this.status.take() {
                    Some(status) => {
                        if let Err(status) = status.add_header(&mut trailers) {
                            return ::std::task::Poll::Ready(Err(status));
                        }
                    }
                    None => {
                        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                    }
                }
                ::std::task::Poll::Ready(Ok(Some(trailers)))
            }
        }
    }
}
