//! The framework-neutral form of a call, for callers whose message or tonic types are not the
//! callee's (each member compiled the .proto itself, or they use different tonic versions).
//! Only std types cross: metadata as header name and raw value bytes, a unary message as its
//! fields moved by tag ([`NeutralMessage`]), a streamed message encoded with the protobuf wire
//! format, the status as code, message, details and metadata.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::future::BoxFuture;
use crate::value::NeutralMessage;

/// Header name and raw value (binary `-bin` values stay base64, as on the wire).
pub type Metadata = Vec<(String, Vec<u8>)>;

#[derive(Debug, Clone, PartialEq)]
pub struct NeutralRequest {
    pub metadata: Metadata,
    pub message: NeutralMessage,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NeutralResponse {
    pub metadata: Metadata,
    pub message: NeutralMessage,
}

/// A gRPC status: `code` is the numeric gRPC code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeutralStatus {
    pub code: i32,
    pub message: String,
    pub details: Vec<u8>,
    pub metadata: Metadata,
}

/// A stream of encoded messages; an `Err` ends it with that status, `None` ends it well.
pub trait MessageStream: Send {
    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, NeutralStatus>>>;
}

pub type BoxMessageStream = Pin<Box<dyn MessageStream>>;

/// A stream of exactly one message (the request or reply of a non-streaming side).
#[derive(Debug)]
pub struct Once(Option<Vec<u8>>);

impl Once {
    pub fn boxed(message: Vec<u8>) -> BoxMessageStream {
        Box::pin(Once(Some(message)))
    }
}

impl MessageStream for Once {
    fn poll_next(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, NeutralStatus>>> {
        Poll::Ready(self.0.take().map(Ok))
    }
}

/// The next message of a stream.
pub async fn next_message(stream: &mut BoxMessageStream) -> Option<Result<Vec<u8>, NeutralStatus>> {
    std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await
}

/// A call of any kind in neutral form: streams of encoded messages both ways (a non-streaming
/// side carries one message).
pub struct NeutralStreamingRequest {
    pub metadata: Metadata,
    pub messages: BoxMessageStream,
}

pub struct NeutralStreamingResponse {
    pub metadata: Metadata,
    pub messages: BoxMessageStream,
}

impl std::fmt::Debug for NeutralStreamingRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeutralStreamingRequest")
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for NeutralStreamingResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeutralStreamingResponse")
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

/// A streaming method (client, server or both) in neutral form.
pub type NeutralStreaming = Arc<
    dyn Fn(NeutralStreamingRequest) -> BoxFuture<Result<NeutralStreamingResponse, NeutralStatus>>
        + Send
        + Sync,
>;

/// A unary method in neutral form.
pub type NeutralUnary =
    Arc<dyn Fn(NeutralRequest) -> BoxFuture<Result<NeutralResponse, NeutralStatus>> + Send + Sync>;

/// The value of a `grpc-timeout` header: up to 8 digits and a unit (H, M, S, m, u, n).
pub fn grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_like_the_wire_format() {
        assert_eq!(grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(grpc_timeout("5000u"), Some(Duration::from_micros(5000)));
        for bad in ["", "m", "10", "123456789S", "1x", "-1S"] {
            assert_eq!(grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn once_yields_its_message_then_ends() {
        let mut s = Once::boxed(b"abc".to_vec());
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert_eq!(
            s.as_mut().poll_next(&mut cx),
            Poll::Ready(Some(Ok(b"abc".to_vec())))
        );
        assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(None));
    }
}
