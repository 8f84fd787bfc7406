//! The request file: JSON lines, one request each, read and checked against the members'
//! protos before any process starts; a bad line is an error naming the file and the line.

use std::collections::BTreeMap;
use std::path::Path;

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor};
use serde::Deserialize;

/// One request, ready to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// Its 1-based line in the file.
    pub line: usize,
    pub call: Call,
}

/// What a request sends.
#[derive(Debug, Clone)]
pub enum Call {
    Grpc(Grpc),
    Http(Http),
}

/// A gRPC call.
#[derive(Debug, Clone)]
pub struct Grpc {
    /// `/pkg.Service/Method`.
    pub path: String,
    pub method: MethodDescriptor,
    /// The message, protobuf-encoded; for a client-streaming method, each message of the
    /// stream.
    pub bodies: Vec<Vec<u8>>,
    /// Request metadata (ASCII values).
    pub metadata: Vec<(String, String)>,
}

/// An HTTP request to a member's HTTP front.
#[derive(Debug, Clone)]
pub struct Http {
    pub method: http::Method,
    /// Path and query (`/offer/apple?quantity=3`).
    pub path: http::uri::PathAndQuery,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
    /// The member it is for, when the line names one.
    pub member: Option<String>,
}

impl Request {
    /// What the user reads: `/pkg.Service/Method` or `GET /path`.
    pub fn label(&self) -> String {
        match &self.call {
            Call::Grpc(g) => g.path.clone(),
            Call::Http(h) => format!("{} {}", h.method, h.path),
        }
    }
}

impl Grpc {
    /// The service's short name (`Gateway` of `shop.gateway.Gateway`).
    pub fn service_name(&self) -> &str {
        self.method.parent_service().name()
    }

    pub fn server_streaming(&self) -> bool {
        self.method.is_server_streaming()
    }

    pub fn client_streaming(&self) -> bool {
        self.method.is_client_streaming()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    method: Option<String>,
    #[serde(default)]
    message: serde_json::Value,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    http: Option<HttpLine>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpLine {
    #[serde(default = "get")]
    method: String,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// A string is sent as it is; any other JSON value as JSON.
    #[serde(default)]
    body: serde_json::Value,
    member: Option<String>,
}

fn get() -> String {
    "GET".to_owned()
}

/// A bad line: its number and what is wrong.
#[derive(Debug)]
pub struct BadLine {
    pub line: usize,
    pub error: BadRequest,
}

/// What is wrong with a line of the requests file (or with the file).
#[derive(Debug, thiserror::Error)]
pub enum BadRequest {
    #[error("cannot read it: {0}")]
    Unreadable(std::io::Error),
    #[error("it holds no request")]
    Empty,
    #[error("not a request: {0}")]
    NotJson(serde_json::Error),
    #[error("a request is gRPC (`method`, `message`, `metadata`) or HTTP (`http`), not both")]
    Both,
    #[error("no `method` (`/package.Service/Method`) and no `http`")]
    NoMethod,
    #[error("`{0}` is not a gRPC method path (`/package.Service/Method`)")]
    NotMethodPath(String),
    #[error("no service `{0}` in the members' .proto files")]
    NoService(String),
    #[error("service `{service}` has no method `{method}`")]
    NoSuchMethod { service: String, method: String },
    #[error("`{0}` takes one message, not a list (it is not client streaming)")]
    NotStreaming(String),
    #[error("the message is not a `{ty}`: {error}")]
    Message {
        ty: String,
        error: serde_json::Error,
    },
    #[error("metadata key `{0}`: lowercase ASCII letters, digits, `-`, `_` and `.`, not `grpc-`")]
    MetadataKey(String),
    #[error("metadata `{0}`: only printable ASCII values (no `-bin` keys)")]
    MetadataValue(String),
    #[error("`{0}` is not an HTTP method")]
    HttpMethod(String),
    #[error("`{0}` is not a path (`/path?query`, starting with `/`)")]
    HttpPath(String),
    #[error("`{0}` is not an HTTP header name")]
    HeaderName(String),
    #[error("header `{0}`: bench sets it itself (from the address and the body)")]
    OwnHeader(String),
    #[error("header `{name}`: `{value}` is not a valid header value")]
    HeaderValue { name: String, value: String },
    /// Well-formed, but not for this group (bench's [`Check`]).
    #[error("{0}")]
    NotForGroup(#[from] NotForGroup),
}

/// A well-formed request no member of the group can answer.
#[derive(Debug, thiserror::Error)]
pub enum NotForGroup {
    #[error("no member of group `{group}` serves `{service}` (it builds no `{server}Server`)")]
    NotServed {
        group: String,
        service: String,
        server: String,
    },
    #[error("`{member}` is not a member of group `{group}`")]
    NotMember { member: String, group: String },
    #[error(
        "no member of group `{group}` has an HTTP front (a dependency on {servers}); name the member it is for with `\"member\"`"
    )]
    NoHttpFront { group: String, servers: String },
}

/// What a request must also be, beyond well-formed (served by a member of the group): `Err`
/// says why not.
pub type Check<'a> = &'a dyn Fn(&Request) -> Result<(), NotForGroup>;

/// Reads `path`; every bad line is reported, not just the first.
pub fn read(
    path: &Path,
    pool: &DescriptorPool,
    check: Check<'_>,
) -> Result<Vec<Request>, Vec<BadLine>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![BadLine {
            line: 0,
            error: BadRequest::Unreadable(e),
        }]
    })?;
    parse(&text, pool, check)
}

/// The requests of `text` (blank lines skipped).
pub fn parse(
    text: &str,
    pool: &DescriptorPool,
    check: Check<'_>,
) -> Result<Vec<Request>, Vec<BadLine>> {
    let mut requests = Vec::new();
    let mut bad = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        match one(raw, line, pool).and_then(|r| check(&r).map(|()| r).map_err(Into::into)) {
            Ok(r) => requests.push(r),
            Err(error) => bad.push(BadLine { line, error }),
        }
    }
    if requests.is_empty() && bad.is_empty() {
        bad.push(BadLine {
            line: 0,
            error: BadRequest::Empty,
        });
    }
    if bad.is_empty() {
        Ok(requests)
    } else {
        Err(bad)
    }
}

fn one(raw: &str, line: usize, pool: &DescriptorPool) -> Result<Request, BadRequest> {
    let l: Line = serde_json::from_str(raw).map_err(BadRequest::NotJson)?;
    let call = match l.http {
        Some(_) if l.method.is_some() || !l.metadata.is_empty() || !l.message.is_null() => {
            return Err(BadRequest::Both);
        }
        Some(h) => Call::Http(http_call(h)?),
        None => Call::Grpc(grpc_call(l, pool)?),
    };
    Ok(Request { line, call })
}

fn grpc_call(l: Line, pool: &DescriptorPool) -> Result<Grpc, BadRequest> {
    let path = l.method.ok_or(BadRequest::NoMethod)?;
    let (service, name) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .ok_or_else(|| BadRequest::NotMethodPath(path.clone()))?;
    let svc = pool
        .get_service_by_name(service)
        .ok_or_else(|| BadRequest::NoService(service.to_owned()))?;
    let method =
        svc.methods()
            .find(|m| m.name() == name)
            .ok_or_else(|| BadRequest::NoSuchMethod {
                service: service.to_owned(),
                method: name.to_owned(),
            })?;
    // A client-streaming method takes a list of messages (one object: a stream of one).
    let values = match (l.message, method.is_client_streaming()) {
        (serde_json::Value::Null, true) => Vec::new(),
        (serde_json::Value::Null, false) => vec![serde_json::Value::Object(Default::default())],
        (serde_json::Value::Array(items), true) => items,
        (serde_json::Value::Array(_), false) => {
            return Err(BadRequest::NotStreaming(path));
        }
        (value, _) => vec![value],
    };
    let mut bodies = Vec::with_capacity(values.len());
    for value in values {
        let message = DynamicMessage::deserialize(method.input(), value).map_err(|error| {
            BadRequest::Message {
                ty: method.input().full_name().to_owned(),
                error,
            }
        })?;
        bodies.push(message.encode_to_vec());
    }
    let mut metadata = Vec::new();
    for (k, v) in l.metadata {
        let valid_key = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
        if !valid_key || k.starts_with("grpc-") {
            return Err(BadRequest::MetadataKey(k));
        }
        if k.ends_with("-bin") || !v.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(BadRequest::MetadataValue(k));
        }
        metadata.push((k, v));
    }
    Ok(Grpc {
        path,
        method,
        bodies,
        metadata,
    })
}

/// Headers bench sets itself (from the address and the body).
const OWN_HEADERS: [&str; 4] = ["host", "content-length", "transfer-encoding", "connection"];

fn http_call(h: HttpLine) -> Result<Http, BadRequest> {
    let method = http::Method::from_bytes(h.method.as_bytes())
        .map_err(|_| BadRequest::HttpMethod(h.method.clone()))?;
    let path = match http::uri::PathAndQuery::try_from(h.path.as_str()) {
        Ok(p) if h.path.starts_with('/') => p,
        _ => {
            return Err(BadRequest::HttpPath(h.path));
        }
    };
    let mut headers = http::HeaderMap::new();
    for (k, v) in &h.headers {
        let name = http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| BadRequest::HeaderName(k.clone()))?;
        if OWN_HEADERS.contains(&name.as_str()) {
            return Err(BadRequest::OwnHeader(k.clone()));
        }
        let value = http::HeaderValue::from_str(v).map_err(|_| BadRequest::HeaderValue {
            name: k.clone(),
            value: v.clone(),
        })?;
        headers.append(name, value);
    }
    let body = match h.body {
        serde_json::Value::Null => bytes::Bytes::new(),
        serde_json::Value::String(s) => bytes::Bytes::from(s),
        value => {
            if !headers.contains_key(http::header::CONTENT_TYPE) {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
            }
            bytes::Bytes::from(value.to_string())
        }
    };
    Ok(Http {
        method,
        path,
        headers,
        body,
        member: h.member,
    })
}

/// An answer's messages as protobuf JSON of the method's output type (bytes it cannot decode
/// are shown as such).
pub fn render(method: &MethodDescriptor, messages: &[Vec<u8>]) -> String {
    let rendered: Vec<String> = messages
        .iter()
        .map(
            |bytes| match DynamicMessage::decode(method.output(), bytes.as_slice()) {
                Ok(m) => serde_json::to_string(&m).unwrap_or_else(|e| format!("<{e}>")),
                Err(e) => format!(
                    "<{} bytes that are not a `{}`: {e}>",
                    bytes.len(),
                    method.output().full_name()
                ),
            },
        )
        .collect();
    match rendered.len() {
        1 => rendered.into_iter().next().unwrap_or_default(),
        _ => format!("[{}]", rendered.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> DescriptorPool {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("echo.proto"),
            "syntax = \"proto3\";\npackage demo;\nservice Echo {\n  rpc Say(Msg) returns (Msg);\n  rpc Many(Msg) returns (stream Msg);\n  rpc Up(stream Msg) returns (Msg);\n}\nmessage Msg { string text = 1; uint32 n = 2; }\n",
        )
        .expect("write");
        let mut c = protox::Compiler::new([dir.path()]).expect("compiler");
        c.open_file("echo.proto").expect("compiles");
        DescriptorPool::from_file_descriptor_set(c.file_descriptor_set()).expect("pool")
    }

    fn grpc(r: &Request) -> &Grpc {
        match &r.call {
            Call::Grpc(g) => g,
            Call::Http(h) => panic!("an HTTP request: {h:?}"),
        }
    }

    #[test]
    fn good_lines_become_encoded_requests() {
        let text = "{\"method\": \"/demo.Echo/Say\", \"message\": {\"text\": \"hi\", \"n\": 2}, \"metadata\": {\"x-caller\": \"bench\"}}\n\n{\"method\": \"/demo.Echo/Many\"}\n";
        let requests = parse(text, &pool(), &|_| Ok(())).expect("valid");
        assert_eq!(requests.len(), 2);
        assert_eq!((requests[0].line, requests[1].line), (1, 3));
        let (say, many) = (grpc(&requests[0]), grpc(&requests[1]));
        assert_eq!(say.bodies, vec![vec![0x0a, 2, b'h', b'i', 0x10, 2]]);
        assert_eq!(
            say.metadata,
            vec![("x-caller".to_owned(), "bench".to_owned())]
        );
        assert_eq!(say.service_name(), "Echo");
        assert_eq!(requests[0].label(), "/demo.Echo/Say");
        assert!(many.server_streaming() && many.bodies == vec![Vec::<u8>::new()]);
        // A client stream: a list of messages, or none.
        let up = parse(
            "{\"method\": \"/demo.Echo/Up\", \"message\": [{\"n\": 1}, {\"n\": 2}]}\n{\"method\": \"/demo.Echo/Up\"}\n",
            &pool(),
            &|_| Ok(()),
        )
        .expect("client streams");
        assert_eq!(grpc(&up[0]).bodies, vec![vec![0x10, 1], vec![0x10, 2]]);
        assert!(grpc(&up[0]).client_streaming() && grpc(&up[1]).bodies.is_empty());
        assert_eq!(
            render(&say.method, &say.bodies),
            "{\"text\":\"hi\",\"n\":2}"
        );
    }

    #[test]
    fn http_lines_become_http_requests() {
        let text = "{\"http\": {\"path\": \"/offer/apple?quantity=3\"}}\n{\"http\": {\"method\": \"POST\", \"path\": \"/checkout\", \"body\": {\"lines\": []}, \"member\": \"web\"}}\n{\"http\": {\"method\": \"PUT\", \"path\": \"/note\", \"headers\": {\"Content-Type\": \"text/plain\"}, \"body\": \"hi\"}}\n";
        let requests = parse(text, &pool(), &|_| Ok(())).expect("valid");
        let http: Vec<&Http> = requests
            .iter()
            .map(|r| match &r.call {
                Call::Http(h) => h,
                Call::Grpc(g) => panic!("a gRPC request: {g:?}"),
            })
            .collect();
        assert_eq!(requests[0].label(), "GET /offer/apple?quantity=3");
        assert!(http[0].body.is_empty() && http[0].headers.is_empty() && http[0].member.is_none());
        // A JSON body is sent as JSON, and says so; a string is sent as it is.
        assert_eq!(http[1].method, http::Method::POST);
        assert_eq!(&http[1].body[..], b"{\"lines\":[]}");
        assert_eq!(http[1].headers["content-type"], "application/json");
        assert_eq!(http[1].member.as_deref(), Some("web"));
        assert_eq!(&http[2].body[..], b"hi");
        assert_eq!(http[2].headers["content-type"], "text/plain");
    }

    #[test]
    fn every_bad_line_is_named() {
        let text = "{\"method\": \"/demo.Echo/Say\"}\nnot json\n{\"method\": \"/demo.Nope/Say\"}\n{\"method\": \"/demo.Echo/Say\", \"message\": {\"text\": 3}}\n{\"method\": \"/demo.Echo/Up\", \"message\": [{\"n\": \"x\"}]}\n{\"http\": {\"method\": \"GET\", \"path\": \"nope\"}}\n{\"method\": \"demo.Echo/Say\"}\n{\"method\": \"/demo.Echo/Say\", \"metadata\": {\"Grpc-Timeout\": \"1S\"}}\n{\"http\": {\"method\": \"G ET\", \"path\": \"/\"}}\n{\"http\": {\"path\": \"/\", \"headers\": {\"content-length\": \"3\"}}}\n{\"http\": {\"path\": \"/\"}, \"method\": \"/demo.Echo/Say\"}\n{\"http\": {\"path\": \"/\", \"verb\": \"GET\"}}\n";
        let bad = parse(text, &pool(), &|_| Ok(())).expect_err("bad lines");
        let lines: Vec<usize> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, (2..=12).collect::<Vec<_>>(), "{bad:?}");
        assert!(
            matches!(&bad[1].error, BadRequest::NoService(s) if s == "demo.Nope"),
            "{bad:?}"
        );
        assert!(
            matches!(&bad[2].error, BadRequest::Message { ty, .. } if ty == "demo.Msg"),
            "{bad:?}"
        );
        assert!(
            matches!(bad[3].error, BadRequest::Message { .. }),
            "{bad:?}"
        );
        assert!(
            matches!(&bad[4].error, BadRequest::HttpPath(p) if p == "nope"),
            "{bad:?}"
        );
        assert!(
            matches!(bad[5].error, BadRequest::NotMethodPath(_)),
            "{bad:?}"
        );
        assert!(
            matches!(bad[6].error, BadRequest::MetadataKey(_)),
            "{bad:?}"
        );
        assert!(matches!(bad[7].error, BadRequest::HttpMethod(_)), "{bad:?}");
        assert!(matches!(bad[8].error, BadRequest::OwnHeader(_)), "{bad:?}");
        assert!(matches!(bad[9].error, BadRequest::Both), "{bad:?}");
        assert!(
            bad[10].error.to_string().contains("unknown field `verb`"),
            "{bad:?}"
        );
        assert!(
            bad[4].error.to_string().contains("`nope` is not a path"),
            "{bad:?}"
        );
        assert!(
            parse("\n\n", &pool(), &|_| Ok(())).is_err(),
            "an empty file"
        );
    }
}
