//! The helper module that every rewritten file gets (`__merge_inline`): the tonic-aware half of
//! the inline call, generated into the member so that it uses the member's own tonic and prost.

use proc_macro2::TokenStream;
use quote::quote;

pub fn module() -> TokenStream {
    quote! {
        #[doc(hidden)]
        #[allow(dead_code, clippy::all)]
        pub mod __merge_inline {
            use ::std::future::Future;
            use ::std::pin::Pin;
            use ::std::sync::Arc;
            use ::std::time::Duration;

            /// A unary handler typed with this member's tonic and message types. The caller
            /// downcasts to this exact type: it matches only when both sides share them.
            pub type Unary<Req, Resp> = Arc<
                dyn Fn(tonic::Request<Req>) -> Pin<Box<dyn Future<Output = Result<tonic::Response<Resp>, tonic::Status>> + Send>>
                    + Send
                    + Sync,
            >;

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

            pub fn timeout(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
                metadata
                    .get("grpc-timeout")
                    .and_then(|v| v.to_str().ok())
                    .and_then(::merge_runtime_shim::grpc_timeout)
            }

            /// Awaits the callee as the network path would end it: a panic becomes Internal,
            /// a passed `grpc-timeout` Cancelled ("Timeout expired", as tonic says).
            pub async fn finish<R>(
                fut: ::merge_runtime_shim::future::BoxFuture<Result<R, tonic::Status>>,
                timeout: Option<Duration>,
            ) -> Result<R, tonic::Status> {
                let caught = ::merge_runtime_shim::future::CatchUnwind::new(fut);
                let outcome = match timeout {
                    Some(t) => match ::merge_runtime_shim::future::Deadline::new(caught, t).await {
                        Ok(outcome) => outcome,
                        Err(_) => return Err(tonic::Status::cancelled("Timeout expired")),
                    },
                    None => caught.await,
                };
                outcome.unwrap_or_else(|panic| {
                    Err(tonic::Status::internal(format!("the in-process handler panicked: {panic}")))
                })
            }

            pub fn metadata_to_neutral(m: tonic::metadata::MetadataMap) -> ::merge_runtime_shim::Metadata {
                m.into_headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
                    .collect()
            }

            pub fn metadata_from_neutral(v: ::merge_runtime_shim::Metadata) -> tonic::metadata::MetadataMap {
                use tonic::codegen::http;
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

            /// The neutral face of a typed unary handler: decode with this member's prost, call,
            /// encode the reply.
            pub fn neutral_unary<Req, Resp>(typed: Unary<Req, Resp>) -> ::merge_runtime_shim::NeutralUnary
            where
                Req: ::prost::Message + Default + Send + 'static,
                Resp: ::prost::Message + Send + 'static,
            {
                Arc::new(move |req: ::merge_runtime_shim::NeutralRequest| {
                    let typed = typed.clone();
                    Box::pin(async move {
                        let message = <Req as ::prost::Message>::decode(req.message.as_slice())
                            .map_err(|e| status_to_neutral(tonic::Status::internal(format!("in-process request decoding failed: {e}"))))?;
                        let request = tonic::Request::from_parts(
                            metadata_from_neutral(req.metadata),
                            tonic::Extensions::default(),
                            message,
                        );
                        let response = typed(request).await.map_err(status_to_neutral)?;
                        let (metadata, message, _) = response.into_parts();
                        Ok(::merge_runtime_shim::NeutralResponse {
                            metadata: metadata_to_neutral(metadata),
                            message: ::prost::Message::encode_to_vec(&message),
                        })
                    })
                })
            }

            /// The caller's half: zero copy when the callee's handler has our very types,
            /// else through the neutral form.
            pub async fn call_unary<Req, Resp>(
                entry: &::merge_runtime_shim::Entry,
                request: tonic::Request<Req>,
            ) -> Result<tonic::Response<Resp>, tonic::Status>
            where
                Req: ::prost::Message + Send + 'static,
                Resp: ::prost::Message + Default + Send + 'static,
            {
                if let Some(typed) = entry.handler.typed.downcast_ref::<Unary<Req, Resp>>() {
                    return typed(request).await;
                }
                let Some(neutral) = entry.handler.neutral.as_ref() else {
                    return Err(tonic::Status::unimplemented(format!(
                        "{} is served in-process by `{}` in a form this caller cannot use",
                        entry.path, entry.member
                    )));
                };
                let (metadata, _, message) = request.into_parts();
                let req = ::merge_runtime_shim::NeutralRequest {
                    metadata: metadata_to_neutral(metadata),
                    message: ::prost::Message::encode_to_vec(&message),
                };
                let reply = neutral(req).await.map_err(status_from_neutral)?;
                let message = <Resp as ::prost::Message>::decode(reply.message.as_slice())
                    .map_err(|e| tonic::Status::internal(format!("in-process response decoding failed: {e}")))?;
                Ok(tonic::Response::from_parts(
                    metadata_from_neutral(reply.metadata),
                    message,
                    tonic::Extensions::default(),
                ))
            }
        }
    }
}
