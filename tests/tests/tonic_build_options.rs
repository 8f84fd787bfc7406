//! Generated code written with tonic-build's options goes in-process too: `use_arc_self` (the
//! service trait takes `self: Arc<Self>`) and `generate_default_stubs` (methods left out answer
//! `Unimplemented`; a server-streaming method returns `BoxStream<R>`, no associated type).

use std::sync::Arc;

use merge_runtime_shim::set_current_member;
use merge_tests::options::Msg;
use merge_tests::options::probe_client::ProbeClient;
use merge_tests::options::probe_server::{Probe, ProbeServer};
use merge_tests::{ECHO, NOWHERE, in_scope, inline_calls, lazy_channel};
use tonic::{Code, Request, Response, Status};

/// Implements Echo alone, on `self: Arc<Self>`; Sleep, Panic and Stream keep their stubs.
struct ArcSelf;

#[tonic::async_trait]
impl Probe for ArcSelf {
    async fn echo(self: Arc<Self>, request: Request<Msg>) -> Result<Response<Msg>, Status> {
        let mut msg = request.into_inner();
        msg.note = format!("arc-self: {}", msg.note);
        Ok(Response::new(msg))
    }
}

#[tokio::test]
async fn an_arc_self_service_with_default_stubs_answers_in_process() {
    const MEMBER: &str = "options-arc-self";
    in_scope(Arc::default(), async {
        set_current_member(MEMBER);
        let _server = ProbeServer::new(ArcSelf);
        // Nothing listens at NOWHERE: an answer came in-process.
        let mut client = ProbeClient::new(lazy_channel(NOWHERE));
        let msg = Msg {
            note: "hi".to_owned(),
            ..Msg::default()
        };
        let echoed = client.echo(msg).await.expect("in-process").into_inner();
        assert_eq!(echoed.note, "arc-self: hi");
        assert_eq!(inline_calls(ECHO, MEMBER), 1);
        // A stub (server streaming, `BoxStream`) answers as tonic's default body says.
        let stub = client
            .stream(Msg::default())
            .await
            .expect_err("a default stub");
        assert_eq!(stub.code(), Code::Unimplemented, "{stub:?}");
        assert_eq!(stub.message(), "Not yet implemented");
    })
    .await;
}
