//! The converted path's fuzz property (fuzz/src/convert.rs, included here) on inputs kept under
//! fixtures/fuzz/convert_differential/ (each once a failure, kept with its fix) and on
//! hand-made encodings: unknown fields, an enum value out of range, a packed and an unpacked
//! repeated field, a map entry, a oneof set twice, a NaN.

#[allow(dead_code)]
#[path = "../../fuzz/src/convert.rs"]
mod property;

use std::path::Path;

use prost::Message;

/// A field's key: its tag and wire type.
fn key(tag: u32, wire: u32) -> Vec<u8> {
    varint(u64::from(tag << 3 | wire))
}

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// A length-delimited field.
fn bytes_field(tag: u32, body: &[u8]) -> Vec<u8> {
    [key(tag, 2), varint(body.len() as u64), body.to_vec()].concat()
}

#[test]
fn hand_made_and_kept_encodings_cross_as_prost_decodes_them() {
    let inner = bytes_field(1, b"n");
    let inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        merge_tests::kinds::All::default().encode_to_vec(),
        // An unknown field (999) and an enum value no variant has (color = 77).
        [bytes_field(999, b"future"), key(16, 0), varint(77)].concat(),
        // many_i64 packed, then unpacked: prost appends both.
        [bytes_field(22, &[1, 2, 3]), key(22, 0), varint(4)].concat(),
        // counts["k"] = 5, then = 6: the last entry wins on both sides.
        [
            bytes_field(29, &[bytes_field(1, b"k"), key(2, 0), varint(5)].concat()),
            bytes_field(29, &[bytes_field(1, b"k"), key(2, 0), varint(6)].concat()),
        ]
        .concat(),
        // The oneof set as text, then as a message: the last one wins.
        [bytes_field(33, b"text"), bytes_field(34, &inner)].concat(),
        // f64 = NaN: unequal to itself, so compared by encoding.
        [key(1, 1), f64::NAN.to_le_bytes().to_vec()].concat(),
    ];
    for data in &inputs {
        property::run(data);
    }
    // And every input the target once failed on, kept with its fix (none yet).
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/fuzz/convert_differential");
    for entry in std::fs::read_dir(&kept).into_iter().flatten().flatten() {
        property::run(&std::fs::read(entry.path()).expect("a kept input"));
    }
}
