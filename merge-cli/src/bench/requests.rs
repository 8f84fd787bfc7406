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
    /// `/pkg.Service/Method`.
    pub path: String,
    pub method: MethodDescriptor,
    /// The message, protobuf-encoded; for a client-streaming method, each message of the
    /// stream.
    pub bodies: Vec<Vec<u8>>,
    /// Request metadata (ASCII values).
    pub metadata: Vec<(String, String)>,
}

impl Request {
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
    http: Option<serde_json::Value>,
}

/// A bad line: its number and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub message: String,
}

/// Reads `path`; every bad line is reported, not just the first.
pub fn read(path: &Path, pool: &DescriptorPool) -> Result<Vec<Request>, Vec<BadLine>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![BadLine {
            line: 0,
            message: format!("cannot read it: {e}"),
        }]
    })?;
    parse(&text, pool)
}

/// The requests of `text` (blank lines skipped).
pub fn parse(text: &str, pool: &DescriptorPool) -> Result<Vec<Request>, Vec<BadLine>> {
    let mut requests = Vec::new();
    let mut bad = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        match one(raw, line, pool) {
            Ok(r) => requests.push(r),
            Err(message) => bad.push(BadLine { line, message }),
        }
    }
    if requests.is_empty() && bad.is_empty() {
        bad.push(BadLine {
            line: 0,
            message: "it holds no request".to_owned(),
        });
    }
    if bad.is_empty() {
        Ok(requests)
    } else {
        Err(bad)
    }
}

fn one(raw: &str, line: usize, pool: &DescriptorPool) -> Result<Request, String> {
    let l: Line = serde_json::from_str(raw).map_err(|e| format!("not a request: {e}"))?;
    if l.http.is_some() {
        return Err(
            "HTTP requests are not supported by this version of bench (gRPC only)".to_owned(),
        );
    }
    let path = l.method.ok_or("no `method` (`/package.Service/Method`)")?;
    let (service, name) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .ok_or_else(|| format!("`{path}` is not a gRPC method path (`/package.Service/Method`)"))?;
    let svc = pool
        .get_service_by_name(service)
        .ok_or_else(|| format!("no service `{service}` in the members' .proto files"))?;
    let method = svc
        .methods()
        .find(|m| m.name() == name)
        .ok_or_else(|| format!("service `{service}` has no method `{name}`"))?;
    // A client-streaming method takes a list of messages (one object: a stream of one).
    let values = match (l.message, method.is_client_streaming()) {
        (serde_json::Value::Null, true) => Vec::new(),
        (serde_json::Value::Null, false) => vec![serde_json::Value::Object(Default::default())],
        (serde_json::Value::Array(items), true) => items,
        (serde_json::Value::Array(_), false) => {
            return Err(format!(
                "`{path}` takes one message, not a list (it is not client streaming)"
            ));
        }
        (value, _) => vec![value],
    };
    let mut bodies = Vec::with_capacity(values.len());
    for value in values {
        let message = DynamicMessage::deserialize(method.input(), value)
            .map_err(|e| format!("the message is not a `{}`: {e}", method.input().full_name()))?;
        bodies.push(message.encode_to_vec());
    }
    let mut metadata = Vec::new();
    for (k, v) in l.metadata {
        let valid_key = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
        if !valid_key || k.starts_with("grpc-") {
            return Err(format!(
                "metadata key `{k}`: lowercase ASCII letters, digits, `-`, `_` and `.`, not `grpc-`"
            ));
        }
        if k.ends_with("-bin") || !v.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(format!(
                "metadata `{k}`: only printable ASCII values (no `-bin` keys)"
            ));
        }
        metadata.push((k, v));
    }
    Ok(Request {
        line,
        path: path.clone(),
        method,
        bodies,
        metadata,
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

    #[test]
    fn good_lines_become_encoded_requests() {
        let text = "{\"method\": \"/demo.Echo/Say\", \"message\": {\"text\": \"hi\", \"n\": 2}, \"metadata\": {\"x-caller\": \"bench\"}}\n\n{\"method\": \"/demo.Echo/Many\"}\n";
        let requests = parse(text, &pool()).expect("valid");
        assert_eq!(requests.len(), 2);
        assert_eq!((requests[0].line, requests[1].line), (1, 3));
        assert_eq!(requests[0].bodies, vec![vec![0x0a, 2, b'h', b'i', 0x10, 2]]);
        assert_eq!(
            requests[0].metadata,
            vec![("x-caller".to_owned(), "bench".to_owned())]
        );
        assert_eq!(requests[0].service_name(), "Echo");
        assert!(requests[1].server_streaming() && requests[1].bodies == vec![Vec::<u8>::new()]);
        // A client stream: a list of messages, or none.
        let up = parse(
            "{\"method\": \"/demo.Echo/Up\", \"message\": [{\"n\": 1}, {\"n\": 2}]}\n{\"method\": \"/demo.Echo/Up\"}\n",
            &pool(),
        )
        .expect("client streams");
        assert_eq!(up[0].bodies, vec![vec![0x10, 1], vec![0x10, 2]]);
        assert!(up[0].client_streaming() && up[1].bodies.is_empty());
        assert_eq!(
            render(&requests[0].method, &requests[0].bodies),
            "{\"text\":\"hi\",\"n\":2}"
        );
    }

    #[test]
    fn every_bad_line_is_named() {
        let text = "{\"method\": \"/demo.Echo/Say\"}\nnot json\n{\"method\": \"/demo.Nope/Say\"}\n{\"method\": \"/demo.Echo/Say\", \"message\": {\"text\": 3}}\n{\"method\": \"/demo.Echo/Up\", \"message\": [{\"n\": \"x\"}]}\n{\"http\": {\"method\": \"GET\", \"path\": \"/\"}}\n{\"method\": \"demo.Echo/Say\"}\n{\"method\": \"/demo.Echo/Say\", \"metadata\": {\"Grpc-Timeout\": \"1S\"}}\n";
        let bad = parse(text, &pool()).expect_err("bad lines");
        let lines: Vec<usize> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7, 8], "{bad:?}");
        assert!(bad[1].message.contains("no service `demo.Nope`"), "{bad:?}");
        assert!(bad[2].message.contains("not a `demo.Msg`"), "{bad:?}");
        assert!(bad[3].message.contains("not a `demo.Msg`"), "{bad:?}");
        assert!(bad[4].message.contains("HTTP requests"), "{bad:?}");
        assert!(parse("\n\n", &pool()).is_err(), "an empty file");
    }
}
