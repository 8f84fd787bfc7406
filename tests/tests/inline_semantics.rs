//! The in-process call keeps the semantics of the network call (design.md, "The inline call"),
//! shown on the probe service (tests/proto/probe.proto) with real tonic servers and clients.
//!
//! In-process mode: the server is built (`ProbeServer::new` / `with_interceptor` registers it)
//! AND served on a real loopback listener, and the client is a real tonic client on a lazy
//! channel to that listener, so a call that did not go in-process would go over TCP. Which way
//! a call went is proven three ways: the service's own counts (tonic's server gives a request a
//! remote address, the in-process path does not), the inline counters of runtime-shim, and the
//! remote counters.
//!
//! Isolation of parallel tests: each test runs in a registry scope of its own
//! ([`merge_tests::in_scope`], current-thread runtime) and names its member
//! (`set_current_member`), so its inline counters are its own. The remote counters have no
//! callee label, so the tests that call over the network hold [`NETWORK`] and their remote
//! deltas are exact. Network calls are made from an empty scope, where nothing is registered.

use std::any::TypeId;
use std::sync::Arc;
use std::time::Duration;

use merge_runtime_shim::{Registry, metrics, set_current_member};
use merge_tests::copy::probe_client::ProbeClient as CopyClient;
use merge_tests::probe::probe_client::ProbeClient;
use merge_tests::probe::probe_server::ProbeServer;
use merge_tests::probe::{Msg, SleepRequest};
use merge_tests::{
    CALLER_KEY, Calls, ECHO, ECHO_BIN_KEY, ECHO_KEY, NOWHERE, PANIC, PROBE_BIN_KEY, PROBE_KEY,
    ProbeService, SLEEP, Served, add_x_caller, as_merged, bench_msg, bench_msg_copy, copy,
    in_scope, inline_calls, lazy_channel, remote_calls, require_caller, serve, served_through,
};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::service::InterceptorLayer;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request};

/// Held by the tests that make network calls, so that their remote-counter deltas are exact.
static NETWORK: Mutex<()> = Mutex::const_new(());

/// The binary request metadata value: not valid text, with a zero byte.
const BIN: &[u8] = &[0x00, 0x01, 0xfe, 0xff, b'\n'];

/// A probe server registered in the current registry scope and served on loopback, with a lazy
/// client to it.
async fn registered() -> (Served, Arc<Calls>, ProbeClient<Channel>) {
    let (service, calls) = ProbeService::new();
    let server = ProbeServer::new(service);
    let served = serve(Server::builder().add_service(server))
        .await
        .expect("loopback listener");
    let client = ProbeClient::new(lazy_channel(&served.url));
    (served, calls, client)
}

/// A probe server registered in a registry of its own (so no client of the test's scope can
/// reach it in-process), served on loopback.
async fn network_only() -> (Served, Arc<Calls>) {
    let (service, calls) = ProbeService::new();
    let elsewhere = Arc::new(Registry::default());
    let server = elsewhere.scope(|| ProbeServer::new(service));
    let served = serve(Server::builder().add_service(server))
        .await
        .expect("loopback listener");
    (served, calls)
}

/// `msg` with ascii, binary and caller request metadata.
fn with_metadata<M>(msg: M) -> Request<M> {
    let mut request = Request::new(msg);
    let md = request.metadata_mut();
    md.insert(PROBE_KEY, MetadataValue::from_static("ascii value"));
    md.insert_bin(PROBE_BIN_KEY, MetadataValue::from_bytes(BIN));
    md.insert(CALLER_KEY, MetadataValue::from_static("metadata-test"));
    request
}

/// What Echo sent back as response metadata: (`x-echo`, bytes of `x-echo-bin`).
fn echoed(md: &MetadataMap) -> (Option<String>, Option<Vec<u8>>) {
    (
        md.get(ECHO_KEY)
            .map(|v| v.to_str().expect("ascii").to_owned()),
        md.get_bin(ECHO_BIN_KEY)
            .map(|v| v.to_bytes().expect("base64").to_vec()),
    )
}

/// The note Echo writes for [`with_metadata`]'s request.
const METADATA_NOTE: &str =
    "echo x-probe=ascii value x-caller=metadata-test x-probe-bin=0001feff0a";

#[tokio::test]
async fn the_callees_interceptor_runs_in_process_and_a_client_interceptor_applies() {
    const MEMBER: &str = "semantics-interceptor";
    in_scope(Arc::default(), async {
        set_current_member(MEMBER);
        let (service, calls) = ProbeService::new();
        let served = serve(
            Server::builder().add_service(ProbeServer::with_interceptor(service, require_caller)),
        )
        .await
        .expect("loopback listener");
        let mut client = ProbeClient::new(lazy_channel(&served.url));

        let denied = client
            .echo(bench_msg())
            .await
            .expect_err("no x-caller: the callee's interceptor rejects the call");
        assert_eq!(denied.code(), Code::Unauthenticated, "{denied:?}");
        assert_eq!(denied.message(), "probe: missing x-caller metadata");
        assert_eq!(calls.local() + calls.network(), 0, "the handler never ran");
        assert_eq!(
            inline_calls(ECHO, MEMBER),
            1,
            "the rejection came in-process"
        );

        let mut request = Request::new(bench_msg());
        request
            .metadata_mut()
            .insert(CALLER_KEY, MetadataValue::from_static("by-hand"));
        let reply = client.echo(request).await.expect("x-caller: let through");
        assert_eq!(reply.into_inner().note, "echo x-caller=by-hand");

        let mut tagged = ProbeClient::with_interceptor(lazy_channel(&served.url), add_x_caller);
        let reply = tagged
            .echo(bench_msg())
            .await
            .expect("the client interceptor's x-caller reaches the callee in-process");
        assert_eq!(reply.into_inner().note, "echo x-caller=tagged-client");

        // The converted path (distinct types) goes through the same interceptor.
        let mut converted = CopyClient::new(lazy_channel(&served.url));
        let denied = converted
            .echo(bench_msg_copy())
            .await
            .expect_err("no x-caller on the converted path either");
        assert_eq!(denied.code(), Code::Unauthenticated, "{denied:?}");
        assert_eq!(denied.message(), "probe: missing x-caller metadata");
        let mut converted = CopyClient::with_interceptor(lazy_channel(&served.url), add_x_caller);
        let reply = converted
            .echo(bench_msg_copy())
            .await
            .expect("x-caller through the converted path");
        assert_eq!(reply.into_inner().note, "echo x-caller=tagged-client");

        assert_eq!(inline_calls(ECHO, MEMBER), 5);
        assert_eq!(
            (calls.local(), calls.network()),
            (3, 0),
            "the three accepted calls in-process"
        );
    })
    .await;
}

#[tokio::test]
async fn a_caller_timeout_cancels_the_callee_with_the_network_status_code() {
    const MEMBER: &str = "semantics-timeout";
    let _network = NETWORK.lock().await;
    in_scope(Arc::default(), async {
        set_current_member(MEMBER);
        let (served, calls, mut client) = registered().await;
        let sleepy = || {
            let mut request = Request::new(SleepRequest { millis: 2_000 });
            request.set_timeout(Duration::from_millis(50));
            request
        };

        let start = Instant::now();
        let status = client
            .sleep(sleepy())
            .await
            .expect_err("the callee sleeps past the timeout");
        let took = start.elapsed();
        assert_eq!(status.code(), Code::Cancelled, "{status:?}");
        assert_eq!(status.message(), "Timeout expired");
        assert!(
            took < Duration::from_millis(1_500),
            "the timeout ended the call, not the callee's 2 s sleep: {took:?}"
        );
        assert_eq!(inline_calls(SLEEP, MEMBER), 1);
        assert_eq!(calls.sleeps_started(), 1, "the callee ran");
        assert_eq!(
            calls.sleeps_dropped(),
            1,
            "the callee's future was dropped at the deadline"
        );
        assert_eq!(calls.sleeps_completed(), 0, "the callee did not finish");

        // The converted path (distinct types) keeps the deadline.
        let mut converted = CopyClient::new(lazy_channel(&served.url));
        let mut request = Request::new(copy::SleepRequest { millis: 2_000 });
        request.set_timeout(Duration::from_millis(50));
        let status = converted
            .sleep(request)
            .await
            .expect_err("the callee sleeps past the timeout");
        assert_eq!(status.code(), Code::Cancelled, "{status:?}");
        assert_eq!(status.message(), "Timeout expired");
        assert_eq!(inline_calls(SLEEP, MEMBER), 2);
        assert_eq!((calls.sleeps_dropped(), calls.sleeps_completed()), (2, 0));

        // The same request over the network: the same code.
        let (net, net_calls) = network_only().await;
        let mut remote = ProbeClient::new(lazy_channel(&net.url));
        let remote_before = remote_calls(SLEEP);
        let over_tcp = in_scope(Arc::default(), remote.sleep(sleepy()))
            .await
            .expect_err("the server's deadline ends the call");
        assert_eq!(over_tcp.code(), status.code(), "{over_tcp:?}");
        assert_eq!(net_calls.network(), 1);
        assert_eq!(remote_calls(SLEEP) - remote_before, 1);
        assert_eq!(calls.sleeps_completed() + net_calls.sleeps_completed(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_panicking_callee_gives_internal_and_the_process_lives_on() {
    const MEMBER: &str = "semantics-panic";
    in_scope(Arc::default(), async {
        set_current_member(MEMBER);
        let (served, calls, mut client) = registered().await;

        let status = client
            .panic(bench_msg())
            .await
            .expect_err("the callee panics");
        assert_eq!(status.code(), Code::Internal, "{status:?}");
        assert!(
            status.message().contains("probe: Panic panics, as asked"),
            "the panic's message is kept: {status:?}"
        );
        assert_eq!(inline_calls(PANIC, MEMBER), 1);

        let reply = client.echo(bench_msg()).await.expect("the next call works");
        assert_eq!(
            reply.into_inner(),
            Msg {
                note: "echo".into(),
                ..bench_msg()
            }
        );
        // The converted path (distinct types) too.
        let mut converted = CopyClient::new(lazy_channel(&served.url));
        let again = converted
            .panic(bench_msg_copy())
            .await
            .expect_err("panics again");
        assert_eq!(again.code(), Code::Internal, "{again:?}");
        let reply = converted
            .echo(bench_msg_copy())
            .await
            .expect("and the next call works");
        assert_eq!(reply.into_inner().note, "echo");
        assert_eq!(inline_calls(PANIC, MEMBER), 2);
        assert_eq!(inline_calls(ECHO, MEMBER), 2);
        assert_eq!((calls.local(), calls.network()), (4, 0));
    })
    .await;
}

#[tokio::test]
async fn a_caller_dropping_its_future_stops_the_callee() {
    const MEMBER: &str = "semantics-drop";
    const SLEEP_MS: u64 = 300;
    in_scope(Arc::default(), async {
        set_current_member(MEMBER);
        let (_served, calls, mut client) = registered().await;

        let start = Instant::now();
        let call = client.sleep(SleepRequest { millis: SLEEP_MS });
        let gave_up = tokio::time::timeout(Duration::from_millis(50), call).await;
        assert!(
            gave_up.is_err(),
            "the call still ran after 50 ms, and was dropped"
        );
        assert_eq!(inline_calls(SLEEP, MEMBER), 1);
        assert_eq!(calls.sleeps_started(), 1, "the callee had started");
        assert_eq!(
            calls.sleeps_dropped(),
            1,
            "dropping the caller's future dropped the callee's"
        );

        tokio::time::sleep_until(start + Duration::from_millis(SLEEP_MS + 200)).await;
        assert_eq!(
            calls.sleeps_completed(),
            0,
            "past the callee's sleep, it never finished"
        );
        assert_eq!(calls.network(), 0);
    })
    .await;
}

#[tokio::test]
async fn metadata_goes_both_ways_on_the_zero_copy_and_the_converted_path() {
    const MEMBER: &str = "semantics-metadata";
    in_scope(Arc::default(), async {
        set_current_member(MEMBER);
        let (served, calls, mut client) = registered().await;

        // Same Rust types on both sides: the request moves to the callee.
        let msg = bench_msg();
        let (text, values) = (msg.text.as_ptr(), msg.values.as_ptr());
        let reply = client.echo(with_metadata(msg)).await.expect("echo");
        assert_eq!(
            echoed(reply.metadata()),
            (Some("ascii value".to_owned()), Some(BIN.to_vec())),
            "response metadata reaches the caller"
        );
        let reply = reply.into_inner();
        assert_eq!(reply.note, METADATA_NOTE, "request metadata reaches the callee");
        assert_eq!(
            (reply.text.as_ptr(), reply.values.as_ptr()),
            (text, values),
            "zero copy: the callee answered with the caller's very buffers"
        );
        assert_eq!(inline_calls(ECHO, MEMBER), 1);

        // Distinct Rust types for the same method: converted in memory.
        assert_ne!(TypeId::of::<copy::Msg>(), TypeId::of::<Msg>());
        let mut converted = CopyClient::new(lazy_channel(&served.url));
        let reply = converted
            .echo(with_metadata(bench_msg_copy()))
            .await
            .expect("echo through the converted path");
        assert_eq!(
            echoed(reply.metadata()),
            (Some("ascii value".to_owned()), Some(BIN.to_vec())),
            "response metadata reaches the caller"
        );
        assert_eq!(
            reply.into_inner(),
            copy::Msg {
                note: METADATA_NOTE.into(),
                ..bench_msg_copy()
            },
            "request metadata reaches the callee, the message survives the conversion"
        );
        assert_eq!(inline_calls(ECHO, MEMBER), 2);
        assert_eq!(
            (calls.local(), calls.network()),
            (2, 0),
            "both calls in-process"
        );
        // Counted under the calling member (this thread's), not the client's crate.
        let exported = format!(
            "merge_calls_total{{method=\"{ECHO}\",path=\"inline\",caller=\"{MEMBER}\",callee=\"{MEMBER}\"}} 2\n"
        );
        assert!(
            metrics::render().contains(&exported),
            "{}",
            metrics::render()
        );
    })
    .await;
}

#[tokio::test]
async fn an_unregistered_callee_is_called_over_the_network() {
    const MEMBER: &str = "semantics-fallback";
    let _network = NETWORK.lock().await;
    in_scope(Arc::default(), async {
        set_current_member(MEMBER);
        // Served over TCP, registered only in a registry of its own.
        let (net, net_calls) = network_only().await;
        let mut client = ProbeClient::new(lazy_channel(&net.url));
        let remote_before = remote_calls(ECHO);

        // Nothing registered here yet: over TCP.
        assert!(Registry::current().lookup(ECHO).is_none());
        let first = client.echo(bench_msg()).await.expect("over TCP");
        assert_eq!(
            (net_calls.network(), remote_calls(ECHO) - remote_before),
            (1, 1)
        );

        // A server registered here (not served at all) takes the calls in-process...
        let (service, local_calls) = ProbeService::new();
        let local = ProbeServer::new(service);
        let second = client.echo(bench_msg()).await.expect("in-process");
        assert_eq!(local_calls.local(), 1);
        assert_eq!(inline_calls(ECHO, MEMBER), 1);

        // ...until it is dropped, which unregisters it: over TCP again.
        drop(local);
        assert!(
            Registry::current().lookup(ECHO).is_none(),
            "dropping the server unregistered it"
        );
        let third = client.echo(bench_msg()).await.expect("over TCP again");
        assert_eq!(net_calls.network(), 2);
        assert_eq!(
            remote_calls(ECHO) - remote_before,
            2,
            "the remote counter moved"
        );
        assert_eq!(inline_calls(ECHO, MEMBER), 1, "the inline counter did not");
        assert_eq!(local_calls.local(), 1);

        assert_eq!(first.into_inner(), second.into_inner());
        assert_eq!(third.into_inner().note, "echo");
    })
    .await;
}

#[tokio::test]
async fn echo_answers_the_same_in_process_and_over_the_network() {
    const MEMBER: &str = "semantics-same-answers";
    let _network = NETWORK.lock().await;
    in_scope(Arc::default(), async {
        set_current_member(MEMBER);
        let (served, local_calls, mut client) = registered().await;
        let (net, net_calls) = network_only().await;
        let remote_before = remote_calls(ECHO);

        // Same types.
        let inline = client
            .echo(with_metadata(bench_msg()))
            .await
            .expect("in-process");
        let mut remote = ProbeClient::new(lazy_channel(&net.url));
        let over_tcp = in_scope(Arc::default(), remote.echo(with_metadata(bench_msg())))
            .await
            .expect("over TCP");
        assert_eq!(echoed(inline.metadata()), echoed(over_tcp.metadata()));
        assert_eq!(inline.into_inner(), over_tcp.into_inner());

        // Distinct types (the converted path in-process).
        let mut converted = CopyClient::new(lazy_channel(&served.url));
        let inline = converted
            .echo(with_metadata(bench_msg_copy()))
            .await
            .expect("in-process, converted");
        let mut remote = CopyClient::new(lazy_channel(&net.url));
        let over_tcp = in_scope(Arc::default(), remote.echo(with_metadata(bench_msg_copy())))
            .await
            .expect("over TCP");
        assert_eq!(echoed(inline.metadata()), echoed(over_tcp.metadata()));
        assert_eq!(inline.into_inner(), over_tcp.into_inner());

        assert_eq!(inline_calls(ECHO, MEMBER), 2);
        assert_eq!(remote_calls(ECHO) - remote_before, 2);
        assert_eq!((local_calls.local(), local_calls.network()), (2, 0));
        assert_eq!((net_calls.local(), net_calls.network()), (0, 2));
    })
    .await;
}

/// Outside any scope, as a merged binary runs: the global registry and the slots' cached
/// lookups (scoped lookups bypass that cache). The other tests of this file register only in
/// their own scopes, so nothing of theirs is in the global registry.
#[tokio::test]
async fn the_global_registry_sees_a_later_server_and_its_drop() {
    const MEMBER: &str = "semantics-global";
    let _network = NETWORK.lock().await;
    set_current_member(MEMBER);
    // A call that goes over the network fails: nothing can listen there.
    let (service, calls) = ProbeService::new();
    let mut client = ProbeClient::new(lazy_channel(NOWHERE));

    let remote_before = remote_calls(ECHO);
    let before = client.echo(bench_msg()).await;
    assert_eq!(
        before
            .expect_err("nothing registered, nothing listening")
            .code(),
        Code::Unavailable
    );

    let server = ProbeServer::new(service);
    let built = client.echo(bench_msg()).await;
    assert_eq!(
        built.expect_err("built, not yet served").code(),
        Code::Unavailable
    );
    let serving = merge_tests::served_plainly(&Registry::global());
    for _ in 0..2 {
        let reply = client
            .echo(bench_msg())
            .await
            .expect("a miss was not cached");
        assert_eq!(reply.into_inner().note, "echo");
    }
    assert_eq!(inline_calls(ECHO, MEMBER), 2);
    assert_eq!(calls.local(), 2);

    drop(server);
    let after = client.echo(bench_msg()).await;
    assert_eq!(
        after.expect_err("the dropped server is gone").code(),
        Code::Unavailable
    );
    assert_eq!(inline_calls(ECHO, MEMBER), 2);
    assert_eq!(calls.local(), 2);
    assert_eq!(
        remote_calls(ECHO) - remote_before,
        3,
        "the unregistered, the unserved and the dropped server's calls"
    );
    drop(serving);
}

/// A server served behind a server-wide auth layer (`Server::builder().layer(..)`) is entered
/// through its served stack, registered as a merged binary's serve hook registers it: a caller
/// without credentials is refused in-process with the status the network gives, a caller with
/// them is answered as over the network, its message typed. Never the bare service.
#[tokio::test]
async fn a_server_wide_auth_layer_refuses_in_process_as_over_the_network() {
    const MEMBER: &str = "semantics-layered";
    let _network = NETWORK.lock().await;
    let guarded = || tower::ServiceBuilder::new().layer(InterceptorLayer::new(require_caller));

    // Over the network: the same layer around the same service, on a real server.
    let (service, net_calls) = ProbeService::new();
    let elsewhere = Arc::new(Registry::default());
    let net_server = elsewhere.scope(|| ProbeServer::new(service));
    let router = Server::builder()
        .layer(InterceptorLayer::new(require_caller))
        .add_service(net_server);
    let served = serve(router).await.expect("loopback listener");
    let url = served.url.clone();
    let over_tcp = in_scope(Arc::default(), async {
        let refused = ProbeClient::new(lazy_channel(&url)).echo(bench_msg()).await;
        let answered = ProbeClient::with_interceptor(lazy_channel(&url), add_x_caller)
            .echo(bench_msg())
            .await;
        (refused, answered)
    })
    .await;
    assert_eq!(net_calls.network(), 1, "the layer stopped the first call");

    let in_process = as_merged(Arc::default(), async {
        set_current_member(MEMBER);
        let (service, calls) = ProbeService::new();
        let server = ProbeServer::new(service);
        let routes = tonic::service::Routes::new(server).prepare();
        let _serving = served_through(
            &Registry::current(),
            TypeId::of::<tonic::service::Routes>(),
            guarded().service(routes),
        );
        let refused = ProbeClient::new(lazy_channel(NOWHERE))
            .echo(bench_msg())
            .await;
        let answered = ProbeClient::with_interceptor(lazy_channel(NOWHERE), add_x_caller)
            .echo(bench_msg())
            .await;
        // A caller with its own Rust types: moved field by field past the layers.
        let converted = CopyClient::with_interceptor(lazy_channel(NOWHERE), add_x_caller)
            .echo(bench_msg_copy())
            .await
            .expect("answered, converted");
        assert_eq!(converted.get_ref().note, "echo x-caller=tagged-client");
        assert_eq!(inline_calls(ECHO, MEMBER), 3, "all in-process");
        assert_eq!((calls.local(), calls.network()), (2, 0));
        (refused, answered)
    })
    .await;
    drop(served);

    let status = |r: &Result<tonic::Response<Msg>, tonic::Status>| {
        r.as_ref()
            .map(|m| m.get_ref().note.clone())
            .map_err(|s| (s.code(), s.message().to_owned()))
    };
    assert_eq!(
        status(&in_process.0),
        Err((
            Code::Unauthenticated,
            "probe: missing x-caller metadata".to_owned()
        ))
    );
    assert_eq!(status(&in_process.0), status(&over_tcp.0));
    assert_eq!(
        status(&in_process.1),
        Ok("echo x-caller=tagged-client".to_owned())
    );
    assert_eq!(status(&in_process.1), status(&over_tcp.1));
}

/// A client built on a stack the generated code cannot see (here a hand-made
/// `XClient::new(InterceptedService::new(..))`) is never called around it: the call goes
/// through the stack, so the interceptor's metadata reaches the callee. This workspace's
/// tonic is crates.io's, whose channel under the stack can only go over the network; in a
/// merged binary the patched channel enters the callee in-process instead, which
/// merge-cli/tests/build_guarded.rs shows for a hand-made `InterceptedService` (clerk), a tower
/// layer around the channel (notary) and an `Endpoint::timeout` (sloth: Cancelled, as over the
/// network).
#[tokio::test]
async fn a_client_stack_the_generated_code_cannot_see_is_called_through_never_skipped() {
    const MEMBER: &str = "semantics-client-stack";
    let _network = NETWORK.lock().await;
    in_scope(Arc::default(), async {
        set_current_member(MEMBER);
        let (service, calls) = ProbeService::new();
        let served = serve(
            Server::builder().add_service(ProbeServer::with_interceptor(service, require_caller)),
        )
        .await
        .expect("loopback listener");
        let remote_before = remote_calls(ECHO);
        let stack = InterceptedService::new(lazy_channel(&served.url), add_x_caller);
        let mut client = ProbeClient::new(stack);
        let reply = client
            .echo(bench_msg())
            .await
            .expect("the stack's x-caller reaches the callee");
        assert_eq!(reply.into_inner().note, "echo x-caller=tagged-client");
        assert_eq!(inline_calls(ECHO, MEMBER), 0, "not around the stack");
        assert_eq!((calls.local(), calls.network()), (0, 1));
        assert_eq!(remote_calls(ECHO) - remote_before, 1);
    })
    .await;
}

/// The callee's future runs in the callee's runtime context (design: "register its runtime
/// handle with the server and enter it"), so its timers work even when the caller is not on
/// the callee's tokio (a member linking another tokio copy, or none): the server reports the
/// runtime it serves on as a merged binary's serve hook does, and the call builds and polls
/// the callee's future inside it.
#[test]
fn the_callee_runs_in_its_own_runtime_when_the_caller_has_none() {
    const MEMBER: &str = "semantics-callee-runtime";
    let registry = Arc::new(Registry::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let (service, calls) = ProbeService::new();
    let (server, serving, mut client) = rt.block_on(async {
        registry.scope(|| {
            set_current_member(MEMBER);
            let server = ProbeServer::new(service);
            let serving = merge_tests::served_plainly(&Registry::current());
            // Nothing listens there: the call can only succeed in-process.
            let client = ProbeClient::new(lazy_channel(NOWHERE));
            (server, serving, client)
        })
    });
    // A caller thread without any tokio context, with a std-only executor.
    let caller = std::thread::spawn({
        let registry = registry.clone();
        move || {
            registry.scope(|| {
                block_on(client.sleep(SleepRequest { millis: 10 }))
                    .map(|r| r.into_inner().note)
                    .map_err(|s| (s.code(), s.message().to_owned()))
            })
        }
    });
    let reply = caller.join().expect("the caller thread");
    assert_eq!(reply, Ok("slept 10 ms".to_owned()));
    assert_eq!(calls.sleeps_completed(), 1);
    assert_eq!(inline_calls(SLEEP, MEMBER), 1);
    drop((serving, server));
}

/// Polls `f` to completion on this thread, parking between wake-ups (no async runtime).
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
