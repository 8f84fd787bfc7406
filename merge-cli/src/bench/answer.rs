//! An answer, as split and merged answers are compared: what the caller could see of it.

use std::time::Duration;

use super::requests::{Call, Request, render};

/// What a request got back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Answer {
    /// A gRPC answer: the status code (0 for Ok) and message, and the messages received (one
    /// for a unary call; those before the error for a stream that failed).
    Grpc {
        code: i32,
        message: String,
        messages: Vec<Vec<u8>>,
    },
    /// An HTTP answer: status, content type and body (not the other headers: a `date` differs
    /// from run to run).
    Http {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
    /// No answer: the connection failed, or nothing came within the timeout.
    Unanswered(String),
}

/// The longest body shown in a mismatch.
const SHOWN_BODY: usize = 2000;

impl Answer {
    /// A gRPC Ok, a 1xx to 3xx HTTP status.
    pub fn ok(&self) -> bool {
        match self {
            Answer::Grpc { code, .. } => *code == tonic::Code::Ok as i32,
            Answer::Http { status, .. } => *status < 400,
            Answer::Unanswered(_) => false,
        }
    }

    /// A call bench gave up on after `timeout`.
    pub fn no_answer(timeout: Duration) -> Answer {
        Answer::Unanswered(format!("bench: no answer within {timeout:?}"))
    }

    /// The answer as the user reads it: the status and the messages as protobuf JSON, or the
    /// HTTP status, content type and body.
    pub fn say(&self, r: &Request) -> String {
        match (self, &r.call) {
            (
                Answer::Grpc {
                    code,
                    message,
                    messages,
                },
                Call::Grpc(g),
            ) => {
                let rendered = render(&g.method, messages);
                let code = tonic::Code::from_i32(*code);
                if self.ok() {
                    rendered
                } else if messages.is_empty() {
                    format!("{code:?}: {message}")
                } else {
                    format!("{rendered}, then {code:?}: {message}")
                }
            }
            (
                Answer::Http {
                    status,
                    content_type,
                    body,
                },
                _,
            ) => {
                let text = String::from_utf8_lossy(body);
                let shown: String = text.chars().take(SHOWN_BODY).collect();
                let more = if shown.len() < text.len() { " .." } else { "" };
                match content_type.as_str() {
                    "" => format!("HTTP {status}: {shown}{more}"),
                    t => format!("HTTP {status} ({t}): {shown}{more}"),
                }
            }
            (Answer::Unanswered(why), _) => format!("no answer: {why}"),
            (Answer::Grpc { code, message, .. }, Call::Http(_)) => {
                format!("{:?}: {message}", tonic::Code::from_i32(*code))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http_request() -> Request {
        let pool = prost_reflect::DescriptorPool::new();
        let text = "{\"http\": {\"path\": \"/offer/plum\"}}";
        super::super::requests::parse(text, &pool, &|_| Ok(()))
            .expect("an HTTP request")
            .remove(0)
    }

    #[test]
    fn http_answers_show_status_type_and_body_and_fail_from_400() {
        let r = http_request();
        let found = Answer::Http {
            status: 404,
            content_type: "application/json".to_owned(),
            body: b"{\"error\":\"catalog: unknown sku `plum`\"}".to_vec(),
        };
        assert!(!found.ok());
        assert_eq!(
            found.say(&r),
            "HTTP 404 (application/json): {\"error\":\"catalog: unknown sku `plum`\"}"
        );
        let long = Answer::Http {
            status: 200,
            content_type: String::new(),
            body: vec![b'x'; SHOWN_BODY + 1],
        };
        assert!(long.ok());
        assert!(long.say(&r).ends_with("x .."), "{}", long.say(&r));
        assert_eq!(long.say(&r).len(), "HTTP 200: ".len() + SHOWN_BODY + 3);
        // Only status, content type and body count: another body is another answer.
        let other = Answer::Http {
            status: 200,
            content_type: String::new(),
            body: vec![b'y'; SHOWN_BODY + 1],
        };
        assert_ne!(long, other);
        let none = Answer::no_answer(Duration::from_secs(2));
        assert!(!none.ok() && none.say(&r) == "no answer: bench: no answer within 2s");
    }
}
