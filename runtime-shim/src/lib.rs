//! merge-runtime-shim: the process-wide registry through which members of one merged binary
//! call each other in-process.
//!
//! This crate depends on no RPC framework and no async runtime: members of one binary may use
//! different tonic, prost or tokio versions, so everything that crosses a member boundary is
//! framework-neutral (a method path as a string, `Any` handlers and messages). The code that
//! knows tonic is generated into each member by `merge-inline-macros`.
//!
//! - [`Registry`]: which methods this process serves, by which member; servers register when
//!   built and unregister when dropped.
//! - [`MethodSlot`]: a generated client method's cached lookup.
//! - [`metrics`]: call counters per method and path taken, as Prometheus text.
//! - [`future`]: runtime-free panic catching and deadlines for the inline call.
//! - [`launch`]: what a merged binary's generated `main` calls to start its members.
//! - [`NeutralMessage`] and [`Convert`]: messages moved field by field between members whose
//!   Rust types for one protobuf message differ.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod args;
mod channel;
pub mod enter;
mod exchange;
pub mod future;
mod hook;
pub mod launch;
pub mod metrics;
mod neutral;
mod registry;
mod slot;
mod value;

pub use channel::{ChannelProbe, Dispatched, channel_plain, register_channel_probe};
pub use enter::{Callee, Enter, Entered, within};
pub use exchange::{
    Crossing, Exchange, NeutralStacked, StackedCall, StackedRequest, StackedResponse,
};
/// The stream trait every tonic's streams implement (tokio-stream and tonic 0.9's codegen
/// re-export it): generated code names it here, whatever its tonic re-exports.
#[doc(hidden)]
pub use futures_core::Stream;
pub use hook::{Hook, as_member, current_member, intern, set_current_member};
pub use merge_inline_macros::include_proto;
pub use neutral::{
    BoxMessageStream, MessageStream, Metadata, NeutralRequest, NeutralResponse, NeutralStatus,
    NeutralStreaming, NeutralStreamingRequest, NeutralStreamingResponse, NeutralUnary, Once,
    grpc_timeout, next_message,
};
pub use registry::{Entry, Handler, Registration, Registry, Served, Serving};
pub use slot::{Found, MethodSlot, Resolved};
pub use value::{
    Codec, Convert, ConvertError, ConvertOneof, FromValue, IntoValue, NeutralMessage, Pick,
    PickFields, Value, entries, message, messages,
};
