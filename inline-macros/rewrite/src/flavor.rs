//! Which tonic the generated code was written for, as far as the emitted code must know: the
//! generated code itself tells (the proc-macro path cannot ask cargo).

use quote::ToTokens;

/// The tonic families whose APIs the emitted code spells differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// tonic 0.9 to 0.11 (hyper 0.14, http-body 0.4): the body is `tonic::body::BoxBody`, and
    /// tonic's framing (`EncodeBody`), `Streaming::new_response` and the extensions'
    /// conversions are private, so the emitted code frames messages itself.
    Legacy,
    /// tonic 0.12: as 0.13, with its body named `tonic::body::BoxBody`.
    Boxed,
    /// tonic 0.13 and 0.14: `tonic::body::Body`.
    Body,
}

impl Flavor {
    /// The flavor of a generated file: tonic-build 0.9 to 0.11 wrap the server's service in
    /// `_Inner<T>` and build the client's not-ready error with `Status::new(Code::Unknown, ..)`
    /// (0.12 on: `Status::unknown`); 0.12 names its body `BoxBody`.
    pub fn of(file: &syn::File) -> Flavor {
        let text = file.to_token_stream().to_string();
        if text.contains("struct _Inner")
            || text.contains("Status :: new (tonic :: Code :: Unknown")
        {
            Flavor::Legacy
        } else if text.contains("body :: BoxBody") {
            Flavor::Boxed
        } else {
            Flavor::Body
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(src: &str) -> Flavor {
        Flavor::of(&syn::parse_file(src).expect("parses"))
    }

    #[test]
    fn each_family_is_told_by_its_generated_code() {
        let legacy_server = "pub mod s { struct _Inner<T>(Arc<T>); }";
        let legacy_client = "pub mod c { fn f() { let e = tonic::Status::new(tonic::Code::Unknown, format!(\"x\")); } \
                             impl<T> C<T> where T: tonic::client::GrpcService<tonic::body::BoxBody> {} }";
        let boxed = "pub mod c { fn f() { tonic::Status::unknown(format!(\"x\")); } \
                     impl<T> C<T> where T: tonic::client::GrpcService<tonic::body::BoxBody> {} }";
        let body =
            "pub mod c { impl<T> C<T> where T: tonic::client::GrpcService<tonic::body::Body> {} }";
        assert_eq!(of(legacy_server), Flavor::Legacy);
        assert_eq!(of(legacy_client), Flavor::Legacy);
        assert_eq!(of(boxed), Flavor::Boxed);
        assert_eq!(of(body), Flavor::Body);
    }
}
