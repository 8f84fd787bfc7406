//! The probe service shared by the inline-call tests (tests/inline_semantics.rs) and benches
//! (benches/inline_call.rs); the other tests of this package need nothing from here.
//!
//! `proto/probe.proto` is compiled once by build.rs and included twice through
//! `merge_runtime_shim::include_proto!` (the in-process rewrite): [`probe`] and [`copy`] serve and
//! call the same method paths (`/probe.Probe/Echo`, ...) with distinct Rust types, so a client
//! of [`probe`] calling a [`probe`] server takes the zero-copy path, and a client of [`copy`]
//! calling the same server takes the converted one (prost encoding both ways).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use merge_runtime_shim::Registry;
use merge_runtime_shim::metrics::{self, CallPath};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::metadata::MetadataMap;
use tonic::transport::server::{Router, TcpIncoming};
use tonic::{Request, Response, Status};

/// The generated code of `probe.proto` (package `probe`).
pub mod probe {
    merge_runtime_shim::include_proto!("probe");
}

/// A second copy of the same generated code: same method paths and wire format, distinct Rust
/// types.
pub mod copy {
    merge_runtime_shim::include_proto!("probe_copy");
}

/// probe.proto generated with tonic-build's `use_arc_self` and `generate_default_stubs`.
pub mod options {
    merge_runtime_shim::include_proto!("probe_options");
}

/// Every kind of protobuf field (`kinds.proto`), with prost's default Rust types.
pub mod kinds {
    merge_runtime_shim::include_proto!("kinds");
}

/// The same messages with `bytes::Bytes` and `BTreeMap`: what the field-by-field conversion
/// moves between.
pub mod kinds_alt {
    merge_runtime_shim::include_proto!("kinds_alt");
}

use probe::probe_server::Probe;
use probe::{Msg, SleepRequest};

/// `/probe.Probe/Echo`.
pub const ECHO: &str = "/probe.Probe/Echo";
/// `/probe.Probe/Sleep`.
pub const SLEEP: &str = "/probe.Probe/Sleep";
/// `/probe.Probe/Panic`.
pub const PANIC: &str = "/probe.Probe/Panic";

/// The member that generated the probe clients, as the inline counters name the caller.
pub const CALLER: &str = env!("CARGO_PKG_NAME");

/// Request metadata that Echo reports in its reply's `note` and echoes back as response
/// metadata (`<key>` -> `x-echo`, `<key>-bin` -> `x-echo-bin`).
pub const PROBE_KEY: &str = "x-probe";
/// The binary request key Echo reports (hex in the note) and echoes as `x-echo-bin`.
pub const PROBE_BIN_KEY: &str = "x-probe-bin";
/// The caller key of the interceptor tests; Echo reports it in the note.
pub const CALLER_KEY: &str = "x-caller";
/// Response metadata of Echo: the value of `x-probe`.
pub const ECHO_KEY: &str = "x-echo";
/// Response metadata of Echo: the bytes of `x-probe-bin`.
pub const ECHO_BIN_KEY: &str = "x-echo-bin";

/// What one [`ProbeService`] (and its clones) saw; shared with the test that built it, so that
/// parallel tests do not see each other's calls.
#[derive(Debug, Default)]
pub struct Calls {
    /// Requests that came in-process (no remote address).
    pub local: AtomicUsize,
    /// Requests that came over TCP (tonic's server gave them a remote address).
    pub network: AtomicUsize,
    /// Sleep calls that started sleeping.
    pub sleeps_started: AtomicUsize,
    /// Sleep calls that slept their full time and answered.
    pub sleeps_completed: AtomicUsize,
    /// Sleep calls whose future was dropped before the sleep ended (the caller went away).
    pub sleeps_dropped: AtomicUsize,
}

impl Calls {
    pub fn local(&self) -> usize {
        self.local.load(Ordering::SeqCst)
    }

    pub fn network(&self) -> usize {
        self.network.load(Ordering::SeqCst)
    }

    pub fn sleeps_started(&self) -> usize {
        self.sleeps_started.load(Ordering::SeqCst)
    }

    pub fn sleeps_completed(&self) -> usize {
        self.sleeps_completed.load(Ordering::SeqCst)
    }

    pub fn sleeps_dropped(&self) -> usize {
        self.sleeps_dropped.load(Ordering::SeqCst)
    }

    fn arrived<M>(&self, request: &Request<M>) {
        let which = if request.remote_addr().is_some() {
            &self.network
        } else {
            &self.local
        };
        which.fetch_add(1, Ordering::SeqCst);
    }
}

/// The `Probe` implementation: Echo answers with the request and what it saw, Sleep sleeps
/// (tokio's timer) and Panic panics.
#[derive(Debug, Default, Clone)]
pub struct ProbeService {
    pub calls: Arc<Calls>,
}

impl ProbeService {
    /// A service and the counters of what it sees.
    pub fn new() -> (ProbeService, Arc<Calls>) {
        let service = ProbeService::default();
        let calls = service.calls.clone();
        (service, calls)
    }
}

/// Echo's note: `echo`, then `key=value` for each probe key present in the request metadata
/// (binary values in hex).
pub fn echo_note(metadata: &MetadataMap) -> String {
    let mut note = String::from("echo");
    for key in [PROBE_KEY, CALLER_KEY] {
        if let Some(v) = metadata.get(key) {
            note.push_str(&format!(" {key}={}", String::from_utf8_lossy(v.as_bytes())));
        }
    }
    if let Some(bytes) = metadata
        .get_bin(PROBE_BIN_KEY)
        .and_then(|v| v.to_bytes().ok())
    {
        note.push_str(&format!(" {PROBE_BIN_KEY}={}", hex(&bytes)));
    }
    note
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Echo's work on a message: the reply (with its note) and the response metadata, given the
/// request metadata.
fn echo_parts(metadata: &MetadataMap, mut msg: Msg) -> (Msg, MetadataMap) {
    msg.note = echo_note(metadata);
    let mut reply_metadata = MetadataMap::new();
    if let Some(v) = metadata.get(PROBE_KEY) {
        reply_metadata.insert(ECHO_KEY, v.clone());
    }
    if let Some(v) = metadata.get_bin(PROBE_BIN_KEY) {
        reply_metadata.insert_bin(ECHO_BIN_KEY, v.clone());
    }
    (msg, reply_metadata)
}

/// Echo's reply and response metadata for `request`.
fn echo(request: Request<Msg>) -> Response<Msg> {
    let (metadata, _, msg) = request.into_parts();
    let (msg, reply_metadata) = echo_parts(&metadata, msg);
    Response::from_parts(reply_metadata, msg, tonic::Extensions::default())
}

/// Echo's work as a plain async function, on a message without metadata (the benchmarks'
/// baseline: what the call costs when it is not an RPC at all).
pub async fn direct_echo(msg: Msg) -> Msg {
    echo_parts(&MetadataMap::new(), msg).0
}

/// Counts a Sleep call whose future is dropped before it finishes.
struct SleepGuard<'a> {
    calls: &'a Calls,
    done: bool,
}

impl Drop for SleepGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.calls.sleeps_dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The stream of Stream replies.
pub type MsgStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<Msg, Status>> + Send>>;

#[tonic::async_trait]
impl Probe for ProbeService {
    async fn echo(&self, request: Request<Msg>) -> Result<Response<Msg>, Status> {
        self.calls.arrived(&request);
        Ok(echo(request))
    }

    async fn sleep(&self, request: Request<SleepRequest>) -> Result<Response<Msg>, Status> {
        self.calls.arrived(&request);
        let millis = request.into_inner().millis;
        self.calls.sleeps_started.fetch_add(1, Ordering::SeqCst);
        let mut guard = SleepGuard {
            calls: &self.calls,
            done: false,
        };
        tokio::time::sleep(Duration::from_millis(millis)).await;
        guard.done = true;
        self.calls.sleeps_completed.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(Msg {
            note: format!("slept {millis} ms"),
            ..Msg::default()
        }))
    }

    async fn panic(&self, request: Request<Msg>) -> Result<Response<Msg>, Status> {
        self.calls.arrived(&request);
        panic!("probe: Panic panics, as asked");
    }

    type StreamStream = MsgStream;

    async fn stream(&self, request: Request<Msg>) -> Result<Response<MsgStream>, Status> {
        self.calls.arrived(&request);
        let (metadata, msg, extensions) = echo(request).into_parts();
        let stream: MsgStream = Box::pin(tokio_stream::once(Ok(msg)));
        Ok(Response::from_parts(metadata, stream, extensions))
    }
}

/// The benchmark message's text: 100 bytes.
pub const BENCH_TEXT: &str = "the probe message of the inline-call benchmark: one hundred bytes of text, fifty integers, a note!!!";

const _: () = assert!(BENCH_TEXT.len() == 100);

/// The benchmark message: a 100-byte string and 50 integers.
pub fn bench_msg() -> Msg {
    Msg {
        text: BENCH_TEXT.to_owned(),
        values: bench_values(),
        note: String::new(),
    }
}

/// The benchmark message with [`copy`]'s types.
pub fn bench_msg_copy() -> copy::Msg {
    copy::Msg {
        text: BENCH_TEXT.to_owned(),
        values: bench_values(),
        note: String::new(),
    }
}

fn bench_values() -> Vec<i64> {
    (0..50).map(|i| i * 1_000_003 - 7).collect()
}

/// Inline calls of `method` to servers registered by `member`, from a thread that names that
/// member (each test names its own) or none (counted under the probe clients' crate).
pub fn inline_calls(method: &str, member: &str) -> u64 {
    let named = metrics::value(method, CallPath::Inline, member, member);
    if member == CALLER {
        named
    } else {
        named + metrics::value(method, CallPath::Inline, CALLER, member)
    }
}

/// Calls of `method` that went over the network, whoever made them (the tests that call over
/// the network hold one lock, so their deltas are exact).
pub fn remote_calls(method: &str) -> u64 {
    metrics::total(method, CallPath::Remote)
}

/// What the serve hook of a merged workspace's tonic reports to `registry` for
/// `Server::builder().add_service(ProbeServer::new(..))`: the probe service routed plainly as
/// `ProbeServer<ProbeService>`, served on the current runtime, reachable in-process while the
/// returned guard lives. (This workspace's tonic is crates.io's, without the hook.)
pub fn served_plainly(registry: &Arc<Registry>) -> merge_runtime_shim::Serving {
    registry.serve(merge_runtime_shim::Served {
        routes: vec![(
            "probe.Probe".to_owned(),
            std::any::TypeId::of::<probe::probe_server::ProbeServer<ProbeService>>(),
        )],
        plain: true,
        stack: None,
        enter: serving_runtime(),
    })
}

/// The runtime the caller of this function runs on, entered as the serve hook enters the
/// runtime a server serves on (none outside a runtime).
pub fn serving_runtime() -> Option<merge_runtime_shim::Enter> {
    let handle = tokio::runtime::Handle::try_current().ok()?;
    Some(Arc::new(move |f: &mut dyn FnMut()| {
        let _entered = handle.enter();
        f()
    }))
}

/// Server interceptor: rejects a request that does not name its caller.
pub fn require_caller(request: Request<()>) -> Result<Request<()>, Status> {
    match request.metadata().get(CALLER_KEY) {
        Some(_) => Ok(request),
        None => Err(Status::unauthenticated("probe: missing x-caller metadata")),
    }
}

/// Client interceptor: names the caller (`tagged-client`).
pub fn add_x_caller(mut request: Request<()>) -> Result<Request<()>, Status> {
    request.metadata_mut().insert(
        CALLER_KEY,
        tonic::metadata::MetadataValue::from_static("tagged-client"),
    );
    Ok(request)
}

/// A served stack as the serve hook registers it (the generated code's `__merge_inline::Stack`).
pub type Stack = Arc<
    dyn Fn(
            tonic::codegen::http::Request<tonic::body::Body>,
        ) -> tonic::codegen::BoxFuture<
            tonic::codegen::http::Response<tonic::body::Body>,
            tonic::codegen::StdError,
        > + Send
        + Sync,
>;

/// What the serve hook of a merged workspace's tonic reports to `registry` for a server
/// served with something around the probe service: the routes, not plain, and `layered` (the
/// router inside the server-wide layers) as the stack a request enters. (The hook also puts
/// tonic's crate-private `grpc-timeout` layer, error recovery and trace span around it; with
/// no server timeout, no error and no trace function they change nothing a call sees.)
pub fn served_through<S, B>(
    registry: &Arc<Registry>,
    routed: std::any::TypeId,
    layered: S,
) -> merge_runtime_shim::Serving
where
    S: tower::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
            Response = tonic::codegen::http::Response<B>,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<tonic::codegen::StdError>,
    B: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    use tower::ServiceExt;
    // As the serve hook does: a layered service need not be Sync, each call clones it under a
    // lock and drives its clone to readiness.
    let stack = std::sync::Mutex::new(tower::util::BoxCloneService::new(
        layered
            .map_response(|r| r.map(tonic::body::Body::new))
            .map_err(Into::into),
    ));
    let call: Stack = Arc::new(move |request| {
        let svc = stack.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Box::pin(svc.oneshot(request))
    });
    registry.serve(merge_runtime_shim::Served {
        routes: vec![("probe.Probe".to_owned(), routed)],
        plain: false,
        stack: Some(Arc::new(call)),
        enter: serving_runtime(),
    })
}

/// Runs `fut` with `registry` as the current registry of every poll (so servers built and
/// clients called in it use `registry`). Tasks it spawns are not in the scope.
///
/// The registry takes every server built in it as served plainly
/// ([`Registry::assume_served`]): this workspace's tonic is the one from crates.io, without
/// the serve hook `cargo merge build` patches into a merged workspace's tonic, so these tests
/// show what the generated code does once a server is reachable. That a server is reachable
/// only while served, and never behind a layer, is shown on real merged binaries
/// (merge-cli/tests/build_guarded.rs) and in runtime-shim's registry tests.
pub fn in_scope<F: Future>(registry: Arc<Registry>, fut: F) -> impl Future<Output = F::Output> {
    registry.assume_served();
    as_merged(registry, fut)
}

/// [`in_scope`] without taking servers as served: as in a merged binary, a server is
/// reachable only once its serving is reported ([`served_plainly`], [`served_through`]).
pub fn as_merged<F: Future>(registry: Arc<Registry>, fut: F) -> impl Future<Output = F::Output> {
    let mut fut = Box::pin(fut);
    std::future::poll_fn(move |cx| registry.scope(|| fut.as_mut().poll(cx)))
}

/// A tonic server on a loopback port, served by a task of the current runtime; dropping it
/// stops the task (and so drops the services it holds).
#[derive(Debug)]
pub struct Served {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    task: JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on a fresh loopback port, with TCP_NODELAY on accepted connections as
/// `Server::serve(addr)` sets it (`TcpIncoming::from(listener)` leaves Nagle's algorithm on, which
/// holds each small reply back about 40 ms, waiting for the client's delayed ACK).
pub async fn serve<L, B>(router: Router<L>) -> std::io::Result<Served>
where
    L: tower::Layer<tonic::service::Routes> + Send + 'static,
    L::Service: tower::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
            Response = tonic::codegen::http::Response<B>,
        > + Clone
        + Send
        + 'static,
    <L::Service as tower::Service<tonic::codegen::http::Request<tonic::body::Body>>>::Future: Send,
    <L::Service as tower::Service<tonic::codegen::http::Request<tonic::body::Body>>>::Error:
        Into<tonic::codegen::StdError> + Send,
    B: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        if let Err(e) = router
            .serve_with_incoming(TcpIncoming::from(listener).with_nodelay(Some(true)))
            .await
        {
            panic!("the probe server stopped: {e}");
        }
    });
    Ok(Served { url, task })
}

/// A URL where nothing can listen (port 0): a call that goes there over the network fails at
/// once with `Unavailable`, so a call that succeeds through it was made in-process.
pub const NOWHERE: &str = "http://127.0.0.1:0";

/// A client channel to `url` that connects on first use (so a call that is not made in-process
/// goes over TCP, and one that is never connects).
pub fn lazy_channel(url: &str) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(url.to_owned())
        .expect("a valid URL")
        .connect_lazy()
}
