//! What an in-process call through a callee's served stack carries past the layers: the
//! caller's typed request and, on the way back, the callee's typed response, in an
//! [`Exchange`] that rides in the HTTP request's extensions while the body stays unread.
//!
//! A layer that reads only headers, extensions and status lets both pass untouched (no
//! serialization). A layer that reads the body polls a body the generated code made lazily:
//! that poll takes the message out of the exchange and encodes it with the sender's prost, so
//! the receiver finds the exchange empty and decodes the bytes as tonic does (the call is
//! then counted `inline-encoded`). Both sides are framework-neutral here: a message is a
//! `Box<dyn Any + Send>` with the sender's functions to encode it and to take it apart into a
//! [`NeutralMessage`] for a receiver whose Rust type differs.

use std::any::Any;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use crate::future::BoxFuture;
use crate::neutral::{BoxMessageStream, MessageStream, Metadata, NeutralStatus};
use crate::value::{ConvertError, NeutralMessage};

/// A message on its way across, with what its sender knows of it.
pub struct Crossing(Box<dyn Carried>);

/// A message and its sender's functions, behind a trait object so that the receiver needs
/// neither its type nor its crate.
trait Carried: Send {
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
    fn encode(&self) -> Vec<u8>;
    fn into_neutral(self: Box<Self>) -> NeutralMessage;
}

struct Carry<M> {
    message: M,
    encode: fn(&M) -> Vec<u8>,
    neutral: fn(M) -> NeutralMessage,
}

impl<M: Send + 'static> Carried for Carry<M> {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }

    fn encode(&self) -> Vec<u8> {
        (self.encode)(&self.message)
    }

    fn into_neutral(self: Box<Self>) -> NeutralMessage {
        (self.neutral)(self.message)
    }
}

impl std::fmt::Debug for Crossing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crossing").finish_non_exhaustive()
    }
}

impl Crossing {
    /// `encode` gives the message's protobuf bytes (the sender's prost), `neutral` its fields.
    pub fn new<M: Send + 'static>(
        message: M,
        encode: fn(&M) -> Vec<u8>,
        neutral: fn(M) -> NeutralMessage,
    ) -> Self {
        Crossing(Box::new(Carry {
            message,
            encode,
            neutral,
        }))
    }

    /// The message as `T`: moved when the sender's type is `T`, else converted field by field
    /// with the receiver's `from`.
    pub fn take<T: 'static>(
        self,
        from: fn(NeutralMessage) -> Result<T, ConvertError>,
    ) -> Result<T, ConvertError> {
        if self.0.as_any().is::<Carry<T>>() {
            if let Ok(same) = self.0.into_any().downcast::<Carry<T>>() {
                return Ok(same.message);
            }
            return Err(ConvertError::new("the in-process message changed type"));
        }
        from(self.0.into_neutral())
    }

    /// The message's protobuf encoding (by the sender's prost).
    pub fn encode(&self) -> Vec<u8> {
        self.0.encode()
    }
}

/// The two messages of one in-process unary call through a served stack; cloned into the
/// request's extensions (a clone shares the messages).
#[derive(Debug, Clone, Default)]
pub struct Exchange(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    request: Mutex<Option<Crossing>>,
    response: Mutex<Option<Crossing>>,
    encoded: AtomicBool,
}

impl Exchange {
    pub fn new(request: Crossing) -> Self {
        let exchange = Exchange::default();
        *lock(&exchange.0.request) = Some(request);
        exchange
    }

    /// Whether the request is still typed (no layer read the body).
    pub fn has_request(&self) -> bool {
        lock(&self.0.request).is_some()
    }

    pub fn take_request(&self) -> Option<Crossing> {
        lock(&self.0.request).take()
    }

    pub fn put_response(&self, response: Crossing) {
        *lock(&self.0.response) = Some(response);
    }

    pub fn take_response(&self) -> Option<Crossing> {
        lock(&self.0.response).take()
    }

    /// Says that a layer read a body, so one of the two messages crossed encoded.
    pub fn mark_encoded(&self) {
        self.0.encoded.store(true, Ordering::Relaxed);
    }

    pub fn encoded(&self) -> bool {
        self.0.encoded.load(Ordering::Relaxed)
    }
}

impl Exchange {
    /// The request as a one-message stream for the request body: encoded only if a layer
    /// reads the body (which takes it out of the exchange).
    pub fn lazy_request(&self) -> BoxMessageStream {
        Box::pin(Lazy {
            exchange: self.clone(),
            response: false,
            done: false,
        })
    }

    /// The response as a one-message stream for the response body, likewise.
    pub fn lazy_response(&self) -> BoxMessageStream {
        Box::pin(Lazy {
            exchange: self.clone(),
            response: true,
            done: false,
        })
    }
}

/// One side of an exchange as a body's message stream: when polled, the message leaves the
/// exchange encoded; when the receiver already took it, the stream is empty.
struct Lazy {
    exchange: Exchange,
    response: bool,
    done: bool,
}

impl MessageStream for Lazy {
    fn poll_next(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, NeutralStatus>>> {
        let this = self.get_mut();
        if std::mem::replace(&mut this.done, true) {
            return Poll::Ready(None);
        }
        let taken = if this.response {
            this.exchange.take_response()
        } else {
            this.exchange.take_request()
        };
        Poll::Ready(taken.map(|c| {
            this.exchange.mark_encoded();
            Ok(c.encode())
        }))
    }
}

/// A unary request entering a served stack of another tonic than the caller's: what the
/// caller's HTTP request would carry (path and headers), with the message riding in the
/// exchange. Extensions stay behind, as on the network.
#[derive(Debug)]
pub struct StackedRequest {
    /// `/package.Service/Method`.
    pub path: String,
    /// The request headers: the caller's metadata and `grpc-timeout`.
    pub headers: Metadata,
    pub exchange: Exchange,
}

/// The callee's answer through its stack: its response headers and message (the callee's
/// type, converted by the caller), or the status a layer, the handler or the trailers gave.
#[derive(Debug)]
pub struct StackedResponse {
    pub headers: Metadata,
    pub message: Crossing,
}

/// A unary method entered through its server's served stack, by a caller on another tonic:
/// given the stack as [`crate::Entry::stack`] holds it, the callee's generated code gives the
/// call ([`StackedCall`]) when the stack is one of its tonic, `None` otherwise (the caller then
/// goes over the network).
pub type NeutralStacked =
    Arc<dyn Fn(&(dyn Any + Send + Sync)) -> Option<StackedCall> + Send + Sync>;

/// One call through a served stack: the callee builds its tonic's HTTP request from the
/// [`StackedRequest`] and calls the stack.
pub type StackedCall =
    Box<dyn FnOnce(StackedRequest) -> BoxFuture<Result<StackedResponse, NeutralStatus>> + Send>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn encode_u32(n: &u32) -> Vec<u8> {
        n.to_le_bytes().to_vec()
    }

    fn neutral_u32(n: u32) -> NeutralMessage {
        NeutralMessage::Fields(vec![(1, Value::U64(u64::from(n)))])
    }

    fn from_neutral(m: NeutralMessage) -> Result<u64, ConvertError> {
        match m {
            NeutralMessage::Fields(fields) => Ok(fields
                .into_iter()
                .find_map(|(tag, v)| match (tag, v) {
                    (1, Value::U64(n)) => Some(n),
                    _ => None,
                })
                .unwrap_or_default()),
            NeutralMessage::Encoded(_) => Err(ConvertError::new("not fields")),
        }
    }

    fn never<T>(_: NeutralMessage) -> Result<T, ConvertError> {
        Err(ConvertError::new("moved, not converted"))
    }

    fn poll(stream: &mut BoxMessageStream) -> Option<Result<Vec<u8>, NeutralStatus>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(item) => item,
            Poll::Pending => panic!("a lazy message is always ready"),
        }
    }

    #[test]
    fn a_message_of_the_same_type_is_moved_and_another_is_converted() {
        let same = Crossing::new(7u32, encode_u32, neutral_u32);
        assert_eq!(same.take::<u32>(never).expect("moved"), 7);
        let other = Crossing::new(9u32, encode_u32, neutral_u32);
        assert_eq!(other.take::<u64>(from_neutral).expect("converted"), 9);
    }

    #[test]
    fn a_body_that_is_read_takes_the_typed_message_away_encoded() {
        let exchange = Exchange::new(Crossing::new(5u32, encode_u32, neutral_u32));
        let riding = exchange.clone();
        assert!(riding.has_request() && !riding.encoded());
        let mut body = exchange.lazy_request();
        assert_eq!(poll(&mut body), Some(Ok(5u32.to_le_bytes().to_vec())));
        assert_eq!(poll(&mut body), None);
        assert!(!riding.has_request() && riding.encoded());

        riding.put_response(Crossing::new(6u32, encode_u32, neutral_u32));
        let back = exchange.take_response().expect("the response");
        assert_eq!(back.take::<u32>(never).expect("moved"), 6);
        // Taken typed: the response body has nothing left to encode.
        assert_eq!(poll(&mut exchange.lazy_response()), None);
    }
}
