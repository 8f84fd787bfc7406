//! One HTTP request of the request file, sent over HTTP/1.1 with hyper's pooled client to a
//! member's HTTP front, answered with its status, content type and body.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client as Pooled;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::answer::Answer;
use super::requests::Http;

/// The client every HTTP request of a setup goes through (it keeps connections open).
pub type Client = Pooled<HttpConnector, Full<Bytes>>;

pub fn client() -> Client {
    Pooled::builder(TokioExecutor::new()).build_http()
}

/// Sends `request` to `at`.
pub async fn call(client: &Client, at: SocketAddr, request: &Http) -> Answer {
    let uri = format!("http://{at}{}", request.path);
    let mut builder = http::Request::builder()
        .method(request.method.clone())
        .uri(uri);
    if let Some(headers) = builder.headers_mut() {
        headers.extend(request.headers.clone());
    }
    let sent = match builder.body(Full::new(request.body.clone())) {
        Ok(r) => r,
        Err(e) => return Answer::Unanswered(format!("bench: cannot make the request: {e}")),
    };
    let response = match client.request(sent).await {
        Ok(r) => r,
        Err(e) => return Answer::Unanswered(describe(&e)),
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    match response.into_body().collect().await {
        Ok(body) => Answer::Http {
            status,
            content_type,
            body: body.to_bytes().to_vec(),
        },
        Err(e) => Answer::Unanswered(format!("the body broke off: {e}")),
    }
}

/// An error with its causes (hyper's own message is a bare "client error").
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
