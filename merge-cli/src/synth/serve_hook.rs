//! The serve hook: the members' tonic, patched in the merged workspace, tells runtime-shim when
//! a server starts and stops serving, which services it routes (by name and by the Rust type
//! routed) and whether anything runs around them. Only a server served plainly (no server-wide
//! layer, timeout, concurrency limit, load shedding, trace function or TLS, and routed as the
//! very `XServer` or `XServer::with_interceptor` that registered) is reachable in-process;
//! every other server is called over the network, which runs every layer. A server that is
//! built but not served, whose `serve` failed to bind, or that stopped serving, is not
//! reachable either.
//!
//! A server served with something around it registers the stack a network request enters
//! (its layers, tonic's own timeout, limits and trace function, the router): an in-process
//! call to it enters that stack, as a network request would, with the typed message riding
//! past the layers (`merge_runtime_shim::Exchange`).
//!
//! The patch is a handful of anchored edits of tonic's `transport/server/mod.rs` (the
//! `Server` builder records what `add_service` routes, `serve_internal` holds a
//! `merge_runtime_shim::Serving` for as long as it serves) plus a dependency on runtime-shim.
//! Each anchor must occur exactly as often as expected, so a tonic whose source moved is
//! refused here rather than patched wrongly. The copies live under
//! `vendor/tonic-<version>-served/` for the tonic the members share (`[patch.crates-io]` points
//! at it) and are applied in place to `exact` isolation's vendored `tonic-ns-<member>` copies.
//!
//! The builder's anchors are the same from tonic 0.9 to 0.14; 0.12 spells the appended code
//! otherwise ([`adapt`]), and 0.9 to 0.11 (hyper 0.14) get serving code of their own
//! ([`TONIC_0_11_SERVING`]) and a channel that only learns whether it is plain.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cargo_metadata::semver::Version;
use merge_analyzer::members::Member;
use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};

use super::error::SynthError;
use super::layout;
use super::manifest::{ToolCrates, slash};
use super::vendor;

/// The files of tonic the hook edits.
const SERVER: &str = "src/transport/server/mod.rs";
const CHANNEL: &str = "src/transport/channel/mod.rs";

/// One anchored edit: `anchor` occurs `count` times and each becomes `with`.
struct Edit {
    anchor: &'static str,
    count: usize,
    with: &'static str,
}

/// The edits for tonic 0.9 to 0.14 (`transport::Server`, `Router`, `serve_internal`; 0.12's
/// spelling through [`adapt`]; 0.9 to 0.11 add [`TONIC_0_11_SVC`]).
const TONIC_0_14: &[Edit] = &[
    Edit {
        anchor: "pub struct Server<L = Identity> {\n",
        count: 1,
        with: "pub struct Server<L = Identity> {\n    \
               __merge_routes: ::std::vec::Vec<(&'static str, ::std::any::TypeId)>,\n    \
               __merge_layered: bool,\n",
    },
    Edit {
        anchor: "            service_builder: Default::default(),\n",
        count: 1,
        with: "            service_builder: Default::default(),\n            \
               __merge_routes: ::std::vec::Vec::new(),\n            \
               __merge_layered: false,\n",
    },
    Edit {
        anchor: "            service_builder: self.service_builder.layer(new_layer),\n",
        count: 1,
        with: "            service_builder: self.service_builder.layer(new_layer),\n            \
               __merge_routes: self.__merge_routes,\n            \
               __merge_layered: true,\n",
    },
    Edit {
        anchor: "        Router::new(self.clone(), Routes::new(svc))\n",
        count: 1,
        with: "        let mut __merge_server = self.clone();\n        \
               __merge_server.__merge_routes.push((S::NAME, ::std::any::TypeId::of::<S>()));\n        \
               Router::new(__merge_server, Routes::new(svc))\n",
    },
    Edit {
        anchor: "        let routes = svc.map(Routes::new).unwrap_or_default();\n        \
                 Router::new(self.clone(), routes)\n",
        count: 1,
        with: "        let mut __merge_server = self.clone();\n        \
               if svc.is_some() {\n            \
               __merge_server.__merge_routes.push((S::NAME, ::std::any::TypeId::of::<S>()));\n        \
               }\n        \
               let routes = svc.map(Routes::new).unwrap_or_default();\n        \
               Router::new(__merge_server, routes)\n",
    },
    Edit {
        anchor: "self.routes = self.routes.add_service(svc);",
        count: 2,
        with: "self.server.__merge_routes.push((S::NAME, ::std::any::TypeId::of::<S>()));\n        \
               self.routes = self.routes.add_service(svc);",
    },
    Edit {
        anchor: "        let svc = self.service_builder.service(svc);\n",
        count: 1,
        with: "        let svc = self.service_builder.service(svc);\n        \
               // cargo-merge: reachable in-process, through this stack, while this serves.\n        \
               let __merge_serving = self.__merge_serving(svc.clone(), __merge_plain_io::<IO>());\n",
    },
];

/// The edits for tonic 0.14's `transport::Channel` (0.12's and 0.13's through [`adapt`]): it
/// keeps its endpoint's timeout and whether it is plain, and a request whose service a server
/// of this process serves enters that server's stack in-process, under the channel's timeout,
/// instead of the network.
const TONIC_0_14_CHANNEL: &[Edit] = &[
    Edit {
        anchor: "pub struct Channel {\n    \
                 svc: Buffer<Request<Body>, BoxFuture<'static, Result<Response<Body>, crate::BoxError>>>,\n}",
        count: 1,
        with: "pub struct Channel {\n    \
               svc: Buffer<Request<Body>, BoxFuture<'static, Result<Response<Body>, crate::BoxError>>>,\n    \
               __merge_timeout: Option<std::time::Duration>,\n    \
               __merge_plain: bool,\n}",
    },
    Edit {
        anchor: "        executor.execute(Box::pin(worker));\n\n        Channel { svc }\n",
        count: 1,
        with: "        executor.execute(Box::pin(worker));\n\n        \
               ::merge_runtime_shim::register_channel_probe(__merge_channel_plain);\n        \
               Channel { svc, __merge_timeout: None, __merge_plain: false }\n",
    },
    Edit {
        anchor: "        let buffer_size = endpoint.buffer_size.unwrap_or(DEFAULT_BUFFER_SIZE);\n",
        count: 2,
        with: "        ::merge_runtime_shim::register_channel_probe(__merge_channel_plain);\n        \
               let __merge_timeout = endpoint.timeout;\n        \
               let __merge_plain = endpoint.timeout.is_none()\n            \
               && endpoint.concurrency_limit.is_none()\n            \
               && endpoint.rate_limit.is_none();\n        \
               let buffer_size = endpoint.buffer_size.unwrap_or(DEFAULT_BUFFER_SIZE);\n",
    },
    Edit {
        anchor: "Channel { svc }",
        count: 2,
        with: "Channel { svc, __merge_timeout, __merge_plain }",
    },
    Edit {
        anchor: "pub struct ResponseFuture {\n    \
                 inner: BufferResponseFuture<BoxFuture<'static, Result<Response<Body>, crate::BoxError>>>,\n}",
        count: 1,
        with: "pub struct ResponseFuture {\n    \
               inner: Option<BufferResponseFuture<BoxFuture<'static, Result<Response<Body>, crate::BoxError>>>>,\n    \
               __merge: Option<BoxFuture<'static, Result<Response<Body>, crate::BoxError>>>,\n}",
    },
    Edit {
        anchor: "        let inner = Service::call(&mut self.svc, request);\n\n        \
                 ResponseFuture { inner }\n",
        count: 1,
        with: "        let request = match __merge_dispatch(request, self.__merge_timeout) {\n            \
               Ok(in_process) => return ResponseFuture { inner: None, __merge: Some(in_process) },\n            \
               Err(request) => request,\n        \
               };\n        \
               let inner = Service::call(&mut self.svc, request);\n\n        \
               ResponseFuture { inner: Some(inner), __merge: None }\n",
    },
    Edit {
        anchor: "        Pin::new(&mut self.inner)\n            \
                 .poll(cx)\n            \
                 .map_err(super::Error::from_source)\n",
        count: 1,
        with: "        let this = &mut *self;\n        \
               match (&mut this.__merge, &mut this.inner) {\n            \
               (Some(in_process), _) => in_process.as_mut().poll(cx).map_err(super::Error::from_source),\n            \
               (None, Some(inner)) => Pin::new(inner).poll(cx).map_err(super::Error::from_source),\n            \
               (None, None) => Poll::Ready(Err(super::Error::from_source(\"polled after completion\"))),\n        \
               }\n",
    },
];

/// Appended to the channel module: the in-process transport under a client's own stack.
const TONIC_0_14_IN_PROCESS: &str = r#"
// cargo-merge's in-process transport, added to this copy of tonic by `cargo merge build`.
type __MergeStack = std::sync::Arc<
    dyn Fn(Request<Body>) -> Pin<Box<dyn Future<Output = Result<Response<Body>, crate::BoxError>> + Send + 'static>>
        + Send
        + Sync,
>;

/// A served stack of this process as a service, under the channel's `grpc-timeout` layer; the
/// callee's layers run as its code (its member, inside the runtime it serves on).
#[derive(Clone)]
struct __MergeStackService(__MergeStack, ::merge_runtime_shim::Callee);

impl Service<Request<Body>> for __MergeStackService {
    type Response = Response<Body>;
    type Error = crate::BoxError;
    type Future = BoxFuture<'static, Result<Response<Body>, crate::BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let answer = self.1.run(|| (self.0)(request));
        Box::pin(self.1.entered(answer))
    }
}

/// A request whose service a server of this process serves enters that server's stack, under
/// the channel's own timeout; any other request is given back for the network.
fn __merge_dispatch(
    request: Request<Body>,
    timeout: Option<std::time::Duration>,
) -> Result<BoxFuture<'static, Result<Response<Body>, crate::BoxError>>, Request<Body>> {
    // Only a call a generated client sends to a callee registered in this process (it marks
    // it): a library's own client (health checks, reflection) keeps going where it points.
    let Some(dispatched) = request.extensions().get::<::merge_runtime_shim::Dispatched>().cloned() else {
        return Err(request);
    };
    let Some((stack, callee)) = ::merge_runtime_shim::Registry::current().stack_for(request.uri().path()) else {
        return Err(request);
    };
    let Some(stack) = stack.downcast_ref::<__MergeStack>() else {
        return Err(request);
    };
    dispatched.set();
    let mut svc =
        crate::transport::service::GrpcTimeout::new(__MergeStackService(stack.clone(), callee), timeout);
    let answer = Service::call(&mut svc, request);
    Ok(Box::pin(answer))
}

/// Whether `stack` is a plain channel of this tonic (see `merge_runtime_shim::channel_plain`).
fn __merge_channel_plain(stack: &dyn std::any::Any) -> Option<bool> {
    stack.downcast_ref::<Channel>().map(|c| c.__merge_plain)
}
"#;

/// Appended to the server module: what a server tells runtime-shim when it starts serving.
/// The stack is built as `MakeSvc` builds a connection's (tonic's own error recovery, load
/// shedding, concurrency limit and `grpc-timeout`, the trace function) around the layered
/// router, without the connection's address; its type is the one generated clients downcast.
const TONIC_0_14_SERVING: &str = r#"
// cargo-merge's serve hook, added to this copy of tonic by `cargo merge build`.

/// Whether connections of type `IO` are plain TCP or Unix sockets (no handshake of their own
/// that an in-process call would skip).
fn __merge_plain_io<IO: 'static>() -> bool {
    let io = std::any::TypeId::of::<IO>();
    #[cfg(unix)]
    {
        if io == std::any::TypeId::of::<tokio::net::UnixStream>() {
            return true;
        }
    }
    io == std::any::TypeId::of::<tokio::net::TcpStream>()
}

type __MergeStack = Arc<
    dyn Fn(Request<Body>) -> Pin<Box<dyn Future<Output = Result<Response<Body>, crate::BoxError>> + Send + 'static>>
        + Send
        + Sync,
>;

impl<L> Server<L> {
    /// Tells the process's in-process registry which services this server routes, whether
    /// anything runs around them, and the stack a request enters; they are reachable
    /// in-process while the guard lives.
    fn __merge_serving<S, ResBody>(&self, svc: S, plain_io: bool) -> ::merge_runtime_shim::Serving
    where
        S: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send,
        S::Error: Into<crate::BoxError> + Send,
        ResBody: http_body::Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<crate::BoxError>,
    {
        // A server whose connections authenticate (tonic's TLS, or connections that are not
        // plain TCP or Unix sockets: a TLS acceptor of its own) cannot be entered in-process
        // at all: its services stay on the network.
        #[allow(unused_mut)]
        let mut reachable = plain_io;
        #[cfg(feature = "_tls-any")]
        {
            reachable &= self.tls.is_none();
        }
        let routes: Vec<(String, ::std::any::TypeId)> = self
            .__merge_routes
            .iter()
            .map(|(name, ty)| ((*name).to_owned(), *ty))
            .collect();
        if !reachable {
            // Said served (the merged binary's start waits for it), with nothing to enter.
            return ::merge_runtime_shim::Registry::current().serve(::merge_runtime_shim::Served {
                routes,
                ..Default::default()
            });
        }
        let plain = !self.__merge_layered
            && self.timeout.is_none()
            && self.concurrency_limit.is_none()
            && !self.load_shed
            && self.trace_interceptor.is_none();
        let timeout = self.timeout;
        let stack = ServiceBuilder::new()
            .layer(RecoverErrorLayer::new())
            .option_layer(self.load_shed.then_some(LoadShedLayer::new()))
            .option_layer(self.concurrency_limit.map(ConcurrencyLimitLayer::new))
            .layer_fn(|s| GrpcTimeout::new(s, timeout))
            .service(svc);
        let stack: BoxService = BoxCloneService::new(Svc {
            inner: stack,
            trace_interceptor: self.trace_interceptor.clone(),
        });
        // A layered service need not be Sync: each call clones it under a lock (never held
        // while a layer runs) and drives its clone to readiness, as a connection would.
        let stack = ::std::sync::Mutex::new(stack);
        let call: __MergeStack = Arc::new(move |request: Request<Body>| {
            let svc = stack.lock().unwrap_or_else(|p| p.into_inner()).clone();
            Box::pin(ServiceExt::oneshot(svc, request))
        });
        // The runtime this serves on: an in-process call runs the callee's code inside it.
        let enter = tokio::runtime::Handle::try_current().ok().map(|handle| {
            Arc::new(move |f: &mut dyn FnMut()| {
                let _entered = handle.enter();
                f()
            }) as ::merge_runtime_shim::Enter
        });
        ::merge_runtime_shim::Registry::current().serve(::merge_runtime_shim::Served {
            routes,
            plain,
            stack: Some(Arc::new(call)),
            enter,
        })
    }
}
"#;

/// tonic 0.9 to 0.11 (hyper 0.14): besides [`TONIC_0_14`]'s edits, a connection's `Svc` must
/// be cloneable for the registered stack to be one.
const TONIC_0_11_SVC: Edit = Edit {
    anchor: "struct Svc<S> {\n",
    count: 1,
    with: "#[derive(Clone)]\nstruct Svc<S> {\n",
};

/// Appended to tonic 0.9 to 0.11's server module: [`TONIC_0_14_SERVING`] for hyper 0.14. A
/// connection hands the stack hyper's `Body` and gets http-body 0.4 bodies back; the registered
/// stack speaks tonic's `BoxBody` both ways, as the generated code of these versions does.
const TONIC_0_11_SERVING: &str = r#"
// cargo-merge's serve hook, added to this copy of tonic by `cargo merge build`.

/// Whether connections of type `IO` are plain TCP or Unix sockets (no handshake of their own
/// that an in-process call would skip); `serve` accepts hyper's `AddrStream`.
fn __merge_plain_io<IO: 'static>() -> bool {
    let io = std::any::TypeId::of::<IO>();
    #[cfg(unix)]
    {
        if io == std::any::TypeId::of::<tokio::net::UnixStream>() {
            return true;
        }
    }
    io == std::any::TypeId::of::<tokio::net::TcpStream>()
        || io == std::any::TypeId::of::<hyper::server::conn::AddrStream>()
}

type __MergeStack = Arc<
    dyn Fn(Request<BoxBody>) -> Pin<Box<dyn Future<Output = Result<Response<BoxBody>, crate::Error>> + Send + 'static>>
        + Send
        + Sync,
>;

/// An in-process request's body as the data stream hyper's `Body` wraps.
struct __MergeData(BoxBody);

impl tokio_stream::Stream for __MergeData {
    type Item = Result<Bytes, crate::Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0).poll_data(cx)
    }
}

impl<L> Server<L> {
    /// Tells the process's in-process registry which services this server routes, whether
    /// anything runs around them, and the stack a request enters; they are reachable
    /// in-process while the guard lives.
    fn __merge_serving<S, ResBody>(&self, svc: S, plain_io: bool) -> ::merge_runtime_shim::Serving
    where
        S: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<crate::Error> + Send,
        ResBody: http_body::Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<crate::Error>,
    {
        // A server whose connections authenticate (tonic's TLS, or connections that are not
        // plain TCP or Unix sockets) cannot be entered in-process at all.
        #[allow(unused_mut)]
        let mut reachable = plain_io;
        #[cfg(feature = "tls")]
        {
            reachable &= self.tls.is_none();
        }
        let routes: Vec<(String, ::std::any::TypeId)> = self
            .__merge_routes
            .iter()
            .map(|(name, ty)| ((*name).to_owned(), *ty))
            .collect();
        if !reachable {
            return ::merge_runtime_shim::Registry::current().serve(::merge_runtime_shim::Served {
                routes,
                ..Default::default()
            });
        }
        let plain = !self.__merge_layered
            && self.timeout.is_none()
            && self.concurrency_limit.is_none()
            && self.trace_interceptor.is_none();
        let timeout = self.timeout;
        // As `MakeSvc` builds a connection's stack.
        let stack = ServiceBuilder::new()
            .layer_fn(RecoverError::new)
            .option_layer(self.concurrency_limit.map(ConcurrencyLimitLayer::new))
            .layer_fn(|s| GrpcTimeout::new(s, timeout))
            .service(svc);
        let stack: tower::util::BoxCloneService<Request<Body>, Response<BoxHttpBody>, crate::Error> =
            tower::util::BoxCloneService::new(Svc {
                inner: stack,
                trace_interceptor: self.trace_interceptor.clone(),
            });
        let stack = ::std::sync::Mutex::new(stack);
        let call: __MergeStack = Arc::new(move |request: Request<BoxBody>| {
            let svc = stack.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let request = request.map(|body| Body::wrap_stream(__MergeData(body)));
            Box::pin(async move {
                let response = tower::ServiceExt::oneshot(svc, request).await?;
                Ok(response.map(|body| body.map_err(crate::Status::from_error).boxed_unsync()))
            })
        });
        let enter = tokio::runtime::Handle::try_current().ok().map(|handle| {
            Arc::new(move |f: &mut dyn FnMut()| {
                let _entered = handle.enter();
                f()
            }) as ::merge_runtime_shim::Enter
        });
        ::merge_runtime_shim::Registry::current().serve(::merge_runtime_shim::Served {
            routes,
            plain,
            stack: Some(Arc::new(call)),
            enter,
        })
    }
}
"#;

/// The edits for tonic 0.9 to 0.11's `transport::Channel`: it keeps whether its endpoint is
/// plain (no timeout, concurrency or rate limit), so that a generated client on it calls a
/// callee of this process directly only then. There is no in-process transport under a
/// client's own stack for these versions: a client with layers of its own, or on a channel
/// that is not plain, calls over the network, which runs them all.
const TONIC_0_11_CHANNEL: &[Edit] = &[
    Edit {
        anchor: "pub struct Channel {\n    svc: Buffer<Svc, Request<BoxBody>>,\n}",
        count: 1,
        with: "pub struct Channel {\n    svc: Buffer<Svc, Request<BoxBody>>,\n    \
               __merge_plain: bool,\n}",
    },
    Edit {
        anchor: "        let buffer_size = endpoint.buffer_size.unwrap_or(DEFAULT_BUFFER_SIZE);\n",
        count: 2,
        with: "        ::merge_runtime_shim::register_channel_probe(__merge_channel_plain);\n        \
               let __merge_plain = endpoint.timeout.is_none()\n            \
               && endpoint.concurrency_limit.is_none()\n            \
               && endpoint.rate_limit.is_none();\n        \
               let buffer_size = endpoint.buffer_size.unwrap_or(DEFAULT_BUFFER_SIZE);\n",
    },
    Edit {
        anchor: "        let svc = Balance::new(discover);\n",
        count: 1,
        with: "        ::merge_runtime_shim::register_channel_probe(__merge_channel_plain);\n        \
               let __merge_plain = false;\n        \
               let svc = Balance::new(discover);\n",
    },
    Edit {
        anchor: "Channel { svc }",
        count: 3,
        with: "Channel { svc, __merge_plain }",
    },
];

/// Appended to tonic 0.9 to 0.11's channel module.
const TONIC_0_11_PROBE: &str = r#"
// cargo-merge's channel probe, added to this copy of tonic by `cargo merge build`.

/// Whether `stack` is a plain channel of this tonic (see `merge_runtime_shim::channel_plain`).
fn __merge_channel_plain(stack: &dyn std::any::Any) -> Option<bool> {
    stack.downcast_ref::<Channel>().map(|c| c.__merge_plain)
}
"#;

/// tonic 0.9 to 0.11: hyper 0.14, its own serving code ([`TONIC_0_11_SERVING`]).
fn hyper_0_14(version: &Version) -> bool {
    version.major == 0 && version.minor <= 11
}

/// Whether the hook knows how to patch this tonic: the versions the rewrite knows
/// (`merge_rewrite::KNOWN_TONIC`), for which [`adapt`] spells 0.14's edits.
pub fn supports(version: &Version) -> bool {
    merge_rewrite::knows_tonic(version.major, version.minor)
}

/// What the server module gets appended: tonic 0.12 and 0.13 have no load shedding.
fn serving(version: &Version) -> String {
    if version.minor < 14 {
        TONIC_0_14_SERVING
            .replace("\n            && !self.load_shed", "")
            .replace(
                "\n            .option_layer(self.load_shed.then_some(LoadShedLayer::new()))",
                "",
            )
    } else {
        TONIC_0_14_SERVING.to_owned()
    }
}

/// 0.14's text (an anchor, an edit, appended code) as `version` spells it. tonic 0.12 names
/// its HTTP body `BoxBody` and its boxed error `crate::Error`, builds error recovery with
/// `RecoverError::new`, gates TLS on feature `tls`, and types its channel's buffer by its
/// service; 0.13 is spelled as 0.14.
fn adapt(version: &Version, text: &str) -> String {
    if version.minor != 12 {
        return text.to_owned();
    }
    const FUTURE_0_14: &str =
        "BufferResponseFuture<BoxFuture<'static, Result<Response<Body>, crate::BoxError>>>";
    const FUTURE_0_12: &str =
        "buffer::future::ResponseFuture<<Svc as Service<Request<BoxBody>>>::Future>";
    text.replace(
        "svc: Buffer<Request<Body>, BoxFuture<'static, Result<Response<Body>, crate::BoxError>>>,",
        "svc: Buffer<Svc, Request<BoxBody>>,",
    )
    .replace(FUTURE_0_14, FUTURE_0_12)
    .replace("Request<Body>", "Request<BoxBody>")
    .replace("Response<Body>", "Response<BoxBody>")
    .replace("crate::BoxError", "crate::Error")
    .replace(
        ".layer(RecoverErrorLayer::new())",
        ".layer_fn(RecoverError::new)",
    )
    .replace("feature = \"_tls-any\"", "feature = \"tls\"")
}

/// The folder of the patched copy of the tonic the members share.
pub fn shared_dir(version: &Version) -> PathBuf {
    Path::new("vendor").join(format!("tonic-{version}-served"))
}

/// Applies the hook to tonic's server module.
pub fn patch_server(version: &Version, source: &str) -> Result<String, SynthError> {
    if hyper_0_14(version) {
        let edits: Vec<&Edit> = TONIC_0_14.iter().chain([&TONIC_0_11_SVC]).collect();
        return apply(version, SERVER, source, &edits, TONIC_0_11_SERVING);
    }
    let edits: Vec<&Edit> = TONIC_0_14.iter().collect();
    apply(version, SERVER, source, &edits, &serving(version))
}

/// Applies the in-process transport to tonic's channel module (0.9 to 0.11: the plain-channel
/// probe alone).
pub fn patch_channel(version: &Version, source: &str) -> Result<String, SynthError> {
    let (edits, appended) = if hyper_0_14(version) {
        (TONIC_0_11_CHANNEL, TONIC_0_11_PROBE)
    } else {
        (TONIC_0_14_CHANNEL, TONIC_0_14_IN_PROCESS)
    };
    let edits: Vec<&Edit> = edits.iter().collect();
    apply(version, CHANNEL, source, &edits, appended)
}

/// `edits` applied to `source` (tonic's `file`), then `appended`.
fn apply(
    version: &Version,
    file: &'static str,
    source: &str,
    edits: &[&Edit],
    appended: &str,
) -> Result<String, SynthError> {
    if !supports(version) {
        return Err(unknown(version));
    }
    let mut out = source.to_owned();
    for edit in edits {
        let (anchor, with) = (adapt(version, edit.anchor), adapt(version, edit.with));
        let found = out.matches(&anchor).count();
        if found != edit.count {
            return Err(SynthError::HookMismatch {
                version: version.to_string(),
                file,
                anchor: anchor.trim().to_owned(),
                found,
                expected: edit.count,
            });
        }
        out = out.replace(&anchor, &with);
    }
    out.push_str(&adapt(version, appended));
    Ok(out)
}

/// Adds the dependency on runtime-shim to a tonic copy's manifest.
pub fn patch_manifest(text: &str, tools: &ToolCrates) -> Result<String, SynthError> {
    let mut doc: DocumentMut = text.parse()?;
    let deps = doc
        .entry("dependencies")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_like_mut()
        .ok_or_else(|| SynthError::not_table("[dependencies]"))?;
    let mut shim = InlineTable::new();
    shim.insert("path", slash(&tools.runtime_shim).into());
    deps.insert("merge-runtime-shim", Item::Value(Value::InlineTable(shim)));
    // The hook captures the runtime a server serves on (`tokio::runtime::Handle`).
    if let Some(tokio) = deps.get_mut("tokio").and_then(Item::as_table_like_mut) {
        let features = tokio
            .entry("features")
            .or_insert(toml_edit::value(toml_edit::Array::new()));
        if let Some(list) = features.as_array_mut() {
            if !list.iter().any(|f| f.as_str() == Some("rt")) {
                list.push("rt");
            }
        }
    }
    Ok(doc.to_string())
}

/// Patches `exact` isolation's vendored tonic copies (already in `files`) in place.
pub fn patch_vendored(
    vendoring: &vendor::Plan,
    tools: &ToolCrates,
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
    warnings: &mut Vec<String>,
) {
    for v in vendoring.vendored.iter().filter(|v| v.name == "tonic") {
        if let Err(e) = patch_copy(&v.dir, &v.version, tools, files) {
            warnings.push(unreachable_warning(&v.member, &e.to_string()));
        }
    }
}

/// Copies the tonic the members share (one per version no member vendors) under
/// [`shared_dir`], patched, and points `[patch.crates-io]` of the merged workspace at it.
/// A tonic the hook does not know is left as it is, with a warning: its servers stay on the
/// network path.
pub fn patch_shared(
    members: &[Member],
    vendoring: &vendor::Plan,
    tools: &ToolCrates,
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
    patch: &mut Table,
    warnings: &mut Vec<String>,
) {
    // One copy per compatibility bucket, its highest version: what the merged workspace
    // resolves when the members' versions unify (`unify`, `strict`); under `exact` the others
    // are vendored per member and patched there.
    let mut by_bucket: BTreeMap<(u64, u64, u64), Shared> = BTreeMap::new();
    for m in members {
        for p in m
            .linked_packages()
            .into_iter()
            .filter(|p| p.name == "tonic" && p.source.is_some())
        {
            let vendored = vendoring
                .vendored
                .iter()
                .any(|v| v.member == m.name && v.name == "tonic" && v.version == p.version);
            let Some(dir) = p.manifest_path.parent().filter(|_| !vendored) else {
                continue;
            };
            let shared = by_bucket
                .entry(merge_analyzer::versions::bucket(&p.version))
                .or_insert_with(|| Shared {
                    version: p.version.clone(),
                    source: dir.as_std_path().to_path_buf(),
                    users: BTreeSet::new(),
                });
            if p.version > shared.version {
                shared.version = p.version.clone();
                shared.source = dir.as_std_path().to_path_buf();
            }
            shared.users.insert(m.name.clone());
        }
    }
    let crates_io = patch
        .entry("crates-io")
        .or_insert_with(|| Item::Table(Table::new()));
    let Some(crates_io) = crates_io.as_table_like_mut() else {
        warnings.push(
            "[patch.crates-io] of a member is not a table: no server is reachable in-process"
                .to_owned(),
        );
        return;
    };
    let patched_by_member = crates_io.contains_key("tonic");
    for Shared {
        version,
        source,
        users,
    } in by_bucket.into_values()
    {
        let users: Vec<String> = users.into_iter().collect();
        let users = users.join(", ");
        if !supports(&version) {
            warnings.push(unreachable_warning(&users, &unknown(&version).to_string()));
            continue;
        }
        if patched_by_member {
            warnings.push(unreachable_warning(
                &users,
                "a member patches tonic itself ([patch.crates-io])",
            ));
            continue;
        }
        let dir = shared_dir(&version);
        match copy_patched(&source, &dir, &version, tools, files) {
            Ok(()) => {
                // One entry per tonic the members link (0.13 and 0.14 side by side, say): the
                // second one under another key, naming its package.
                let mut entry = InlineTable::new();
                entry.insert("path", slash(&dir).into());
                let key = if crates_io.contains_key("tonic") {
                    entry.insert("package", "tonic".into());
                    format!("tonic-{}-{}", version.major, version.minor)
                } else {
                    "tonic".to_owned()
                };
                crates_io.insert(&key, Item::Value(Value::InlineTable(entry)));
            }
            Err(e) => warnings.push(unreachable_warning(&users, &e.to_string())),
        }
    }
}

/// A tonic the members share: its highest version in one compatibility bucket, where its
/// source is, and the members that link it.
struct Shared {
    version: Version,
    source: PathBuf,
    users: BTreeSet<String>,
}

fn unknown(version: &Version) -> SynthError {
    SynthError::UnknownTonic {
        version: version.to_string(),
        known: merge_rewrite::known_tonic(),
    }
}

fn unreachable_warning(members: &str, why: &str) -> String {
    format!(
        "the servers of {members} are not reachable in-process, calls to them go over the \
         network: {why}"
    )
}

/// Copies tonic from `source` to `dir` (in `files`), a plain package without dev-dependencies,
/// and patches it.
fn copy_patched(
    source: &Path,
    dir: &Path,
    version: &Version,
    tools: &ToolCrates,
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
) -> Result<(), SynthError> {
    let read_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SynthError::Read { path, source }
    };
    let list = layout::files(source).map_err(read_error(source))?;
    let mut copied = BTreeMap::new();
    for rel in list {
        let path = source.join(&rel);
        let bytes = std::fs::read(&path).map_err(read_error(&path))?;
        let bytes = if rel == Path::new("Cargo.toml") {
            plain_manifest(&String::from_utf8_lossy(&bytes))?.into_bytes()
        } else {
            bytes
        };
        copied.insert(dir.join(rel), bytes);
    }
    patch_copy(dir, version, tools, &mut copied)?;
    files.extend(copied);
    Ok(())
}

/// A registry crate's manifest as a path package of the merged workspace: not published, no
/// dev-dependencies (they would be resolved for a package inside the workspace).
fn plain_manifest(text: &str) -> Result<String, SynthError> {
    let mut doc: DocumentMut = text.parse()?;
    for key in [
        "dev-dependencies",
        "workspace",
        "bench",
        "test",
        "example",
        "profile",
    ] {
        doc.remove(key);
    }
    if let Some(p) = doc.get_mut("package").and_then(Item::as_table_like_mut) {
        p.insert("publish", toml_edit::value(false));
        p.remove("workspace");
    }
    super::manifest::quiet_registry_copy(&mut doc);
    Ok(doc.to_string())
}

/// Patches the tonic copy in `dir` (its files already in `files`).
fn patch_copy(
    dir: &Path,
    version: &Version,
    tools: &ToolCrates,
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
) -> Result<(), SynthError> {
    let read = |rel: &str| {
        files
            .get(&dir.join(rel))
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .ok_or_else(|| SynthError::TonicFile {
                version: version.to_string(),
                file: rel.to_owned(),
            })
    };
    let server = patch_server(version, &read(SERVER)?)?;
    let channel = patch_channel(version, &read(CHANNEL)?)?;
    let manifest = patch_manifest(&read("Cargo.toml")?, tools)?;
    files.insert(dir.join(SERVER), server.into_bytes());
    files.insert(dir.join(CHANNEL), channel.into_bytes());
    files.insert(dir.join("Cargo.toml"), manifest.into_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tonic 0.14's server module, as far as the hook reads it.
    const SHAPE: &str = "pub struct Server<L = Identity> {
    max_connection_age_grace: Option<Duration>,
}
impl Default for Server<Identity> {
    fn default() -> Self {
        Self {
            service_builder: Default::default(),
            max_connection_age_grace: None,
        }
    }
}
    pub fn add_service<S>(&mut self, svc: S) -> Router<L> {
        Router::new(self.clone(), Routes::new(svc))
    }
    pub fn add_optional_service<S>(&mut self, svc: Option<S>) -> Router<L> {
        let routes = svc.map(Routes::new).unwrap_or_default();
        Router::new(self.clone(), routes)
    }
    pub fn layer<NewLayer>(self, new_layer: NewLayer) -> Server<Stack<NewLayer, L>> {
        Server {
            service_builder: self.service_builder.layer(new_layer),
            max_connection_age_grace: self.max_connection_age_grace,
        }
    }
    async fn serve_internal(self) {
        let svc = self.service_builder.service(svc);
    }
    pub fn add_service<S>(mut self, svc: S) -> Self {
        self.routes = self.routes.add_service(svc);
        self
    }
    pub fn add_optional_service<S>(mut self, svc: Option<S>) -> Self {
        if let Some(svc) = svc {
            self.routes = self.routes.add_service(svc);
        }
        self
    }
";

    fn v(s: &str) -> Version {
        s.parse().expect("a version")
    }

    #[test]
    fn every_edit_lands_once_and_the_serving_guard_is_held_while_serving() {
        let out = patch_server(&v("0.14.9"), SHAPE).expect("the 0.14 shape");
        assert_eq!(out.matches("__merge_routes.push").count(), 4);
        assert!(out.contains(
            "let svc = self.service_builder.service(svc);\n        \
             // cargo-merge: reachable in-process, through this stack, while this serves.\n        \
             let __merge_serving = self.__merge_serving(svc.clone(), __merge_plain_io::<IO>());"
        ));
        assert!(
            out.contains("__merge_layered: true"),
            "a layer marks the server"
        );
        assert!(out.contains("fn __merge_serving<S, ResBody>(&self, svc: S, plain_io: bool)"));
        assert!(out.contains("LoadShedLayer"));
        // tonic 0.13: the same edits, and no load shedding to read.
        let older = patch_server(&v("0.13.1"), SHAPE).expect("the 0.13 shape");
        assert_eq!(older.matches("__merge_routes.push").count(), 4);
        assert!(
            !older.contains("load_shed") && !older.contains("LoadShedLayer"),
            "{older}"
        );
    }

    #[test]
    fn tonic_0_9_to_0_11_get_a_cloneable_svc_and_a_stack_over_hyper_body() {
        let shape = format!("{SHAPE}struct Svc<S> {{\n    inner: S,\n}}\n");
        // Without `Svc` to make cloneable, the shape is not theirs.
        let e = patch_server(&v("0.11.0"), SHAPE).expect_err("no Svc");
        assert!(
            matches!(&e, SynthError::HookMismatch { found: 0, anchor, .. } if anchor == "struct Svc<S> {"),
            "{e}"
        );
        assert!(
            e.to_string().contains("`struct Svc<S> {` found 0 times"),
            "{e}"
        );
        let out = patch_server(&v("0.10.2"), &shape).expect("the 0.10 shape");
        assert_eq!(out.matches("__merge_routes.push").count(), 4);
        assert!(out.contains("#[derive(Clone)]\nstruct Svc<S> {"), "{out}");
        assert!(
            out.contains("Body::wrap_stream(__MergeData(body))"),
            "{out}"
        );
        assert!(out.contains("hyper::server::conn::AddrStream"), "{out}");
        assert!(!out.contains("load_shed"), "{out}");
        let channel = "pub struct Channel {\n    svc: Buffer<Svc, Request<BoxBody>>,\n}
        let buffer_size = endpoint.buffer_size.unwrap_or(DEFAULT_BUFFER_SIZE);
        Channel { svc }
        let buffer_size = endpoint.buffer_size.unwrap_or(DEFAULT_BUFFER_SIZE);
        Ok(Channel { svc })
        let svc = Balance::new(discover);
        Channel { svc }
";
        let out = patch_channel(&v("0.9.2"), channel).expect("the 0.9 channel");
        assert_eq!(out.matches("Channel { svc, __merge_plain }").count(), 3);
        assert!(
            out.contains("let __merge_plain = false;"),
            "a balanced channel is not plain"
        );
        assert!(
            !out.contains("__merge_dispatch"),
            "no in-process transport: {out}"
        );
    }

    #[test]
    fn a_tonic_of_another_shape_or_version_is_refused_not_patched() {
        let moved = SHAPE.replace("let svc = self.service_builder.service(svc);", "");
        let e = patch_server(&v("0.14.10"), &moved).expect_err("an anchor is gone");
        assert!(
            matches!(e, SynthError::HookMismatch { found: 0, .. }),
            "{e}"
        );
        let e = patch_server(&v("0.8.3"), SHAPE).expect_err("not 0.9 to 0.14");
        assert!(e.to_string().contains("does not know tonic 0.8.3"), "{e}");
    }

    #[test]
    fn the_copy_depends_on_the_tool_runtime_shim_and_has_no_dev_dependencies() {
        let tools = ToolCrates {
            runtime_shim: PathBuf::from("/tool/runtime-shim"),
        };
        let text = "[package]\nname = \"tonic\"\nversion = \"0.14.9\"\n\n[dependencies.http]\nversion = \"1\"\n\n[dev-dependencies.quickcheck]\nversion = \"1\"\n\n[[bench]]\nname = \"decode\"\n";
        let out = patch_manifest(&plain_manifest(text).expect("plain"), &tools).expect("patched");
        assert!(
            out.contains("merge-runtime-shim = { path = \"/tool/runtime-shim\" }"),
            "{out}"
        );
        assert!(
            !out.contains("quickcheck") && !out.contains("[[bench]]"),
            "{out}"
        );
        assert!(out.contains("publish = false"), "{out}");
        assert!(out.contains("[lints.rust]\nwarnings = \"allow\""), "{out}");
    }
}
