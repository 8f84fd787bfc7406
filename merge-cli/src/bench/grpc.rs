//! One gRPC call whose messages are bytes already encoded (the request file's), answered with
//! the status and the bytes of every message.

use prost::bytes::{Buf, BufMut};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::answer::Answer;
use super::requests::Grpc;

impl Answer {
    fn failed(status: &Status, messages: Vec<Vec<u8>>) -> Answer {
        Answer::Grpc {
            code: status.code() as i32,
            message: status.message().to_owned(),
            messages,
        }
    }

    /// An Ok answer with its messages.
    fn answered(messages: Vec<Vec<u8>>) -> Answer {
        Answer::Grpc {
            code: Code::Ok as i32,
            message: String::new(),
            messages,
        }
    }
}

/// Sends `request` on `channel`.
pub async fn call(channel: Channel, request: &Grpc) -> Answer {
    let mut grpc = tonic::client::Grpc::new(channel);
    if let Err(e) = grpc.ready().await {
        return Answer::failed(&Status::unavailable(e.to_string()), Vec::new());
    }
    let Ok(path) = http::uri::PathAndQuery::try_from(request.path.as_str()) else {
        return Answer::failed(&Status::internal("not a method path"), Vec::new());
    };
    let single = || request.bodies.first().cloned().unwrap_or_default();
    let stream = || tonic::codegen::tokio_stream::iter(request.bodies.clone());
    match (request.client_streaming(), request.server_streaming()) {
        (false, false) => answer(
            grpc.unary(with_metadata(single(), &request.metadata), path, Raw)
                .await,
        ),
        (true, false) => answer(
            grpc.client_streaming(with_metadata(stream(), &request.metadata), path, Raw)
                .await,
        ),
        (false, true) => {
            collect(
                grpc.server_streaming(with_metadata(single(), &request.metadata), path, Raw)
                    .await,
            )
            .await
        }
        (true, true) => {
            collect(
                grpc.streaming(with_metadata(stream(), &request.metadata), path, Raw)
                    .await,
            )
            .await
        }
    }
}

/// `message` with the request's metadata.
fn with_metadata<T>(message: T, metadata: &[(String, String)]) -> tonic::Request<T> {
    let mut message = tonic::Request::new(message);
    for (k, v) in metadata {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(k.as_bytes()),
            tonic::metadata::MetadataValue::try_from(v.as_str()),
        ) {
            message.metadata_mut().insert(k, v);
        }
    }
    message
}

/// A one-message answer.
fn answer(result: Result<tonic::Response<Vec<u8>>, Status>) -> Answer {
    match result {
        Ok(response) => Answer::answered(vec![response.into_inner()]),
        Err(status) => Answer::failed(&status, Vec::new()),
    }
}

/// A streamed answer: every message, then its end.
async fn collect(result: Result<tonic::Response<tonic::Streaming<Vec<u8>>>, Status>) -> Answer {
    let mut stream = match result {
        Ok(response) => response.into_inner(),
        Err(status) => return Answer::failed(&status, Vec::new()),
    };
    let mut messages = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(m)) => messages.push(m),
            Ok(None) => {
                return Answer::answered(messages);
            }
            Err(status) => return Answer::failed(&status, messages),
        }
    }
}

/// Messages as they are: bytes in, bytes out.
#[derive(Debug, Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}
