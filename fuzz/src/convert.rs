//! The converted path, differentially: bytes that prost decodes into one member's copy of a
//! message, moved field by field into the other member's copy (merge-rewrite's `Convert`
//! implementations, runtime-shim's `Value`), must give what prost decodes from the same bytes
//! into that copy, as the network path would. Both ways between tests/'s two copies of
//! `kinds.proto` (every kind of field: scalars, enums, optional, repeated, nested and recursive
//! messages, maps, oneofs, a well-known type): `kinds` with prost's defaults (`Vec<u8>`,
//! `HashMap`), `kinds_alt` with `bytes::Bytes` and `BTreeMap`. Unknown fields and enum values
//! out of range come with the arbitrary bytes.
//!
//! Needs only merge-tests, prost and runtime-shim, so tests/tests/fuzz_regressions.rs includes
//! it and replays kept crash inputs.

use merge_runtime_shim::Convert;
use merge_tests::{kinds, kinds_alt};
use prost::Message;

/// The property on `data`; panics when it does not hold.
pub fn run(data: &[u8]) {
    let (this, other) = (kinds::All::decode(data), kinds_alt::All::decode(data));
    assert_eq!(
        this.is_ok(),
        other.is_ok(),
        "one copy decodes the bytes and the other does not: {this:?} / {other:?}"
    );
    let (Ok(this), Ok(other)) = (this, other) else {
        return;
    };
    let moved = kinds_alt::All::from_neutral(this.clone().into_neutral())
        .expect("a message prost decoded converts");
    same(&moved, &other, "kinds -> kinds_alt");
    let back = kinds::All::from_neutral(other.into_neutral())
        .expect("a message prost decoded converts back");
    same(&back, &this, "kinds_alt -> kinds");
}

/// `moved` equals `decoded`, bit for bit: their encodings in `kinds_alt` (sorted maps, so one
/// byte string per message) agree. Not `==`, which takes -0.0 for 0.0 and no NaN for itself.
fn same<M: Message + std::fmt::Debug>(moved: &M, decoded: &M, way: &str) {
    let canonical = |m: &M| {
        kinds_alt::All::decode(m.encode_to_vec().as_slice())
            .expect("re-decodes")
            .encode_to_vec()
    };
    assert_eq!(
        canonical(moved),
        canonical(decoded),
        "{way}: converted field by field\n{moved:?}\nbut prost decodes\n{decoded:?}"
    );
}
