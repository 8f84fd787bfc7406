//! The field-by-field conversion (merge-rewrite's `convert`, runtime-shim's `Value`) on every
//! kind of protobuf field, between two sets of Rust types for `kinds.proto` (`kinds`: prost's
//! defaults; `kinds_alt`: `bytes::Bytes` and `BTreeMap`). The oracle is the network path: what
//! the other side's prost decodes from this side's encoding.

use merge_runtime_shim::{Convert, NeutralMessage, Value};
use merge_tests::{kinds, kinds_alt};
use prost::Message;

fn inner(name: &str) -> kinds::Inner {
    kinds::Inner {
        name: name.to_owned(),
        deltas: vec![-3, 0, 7, i32::MIN, i32::MAX],
    }
}

/// Every field set, to values that are not defaults (negative numbers, non-ASCII text, empty
/// and binary blobs, nested and recursive messages, a well-known type from another crate).
fn all(choice: Option<kinds::all::Choice>) -> kinds::All {
    kinds::All {
        f64: -1.25e300,
        f32: 3.5,
        i32: -7,
        i64: -9_000_000_000,
        u32: 4_000_000_000,
        u64: u64::MAX,
        s32: -100,
        s64: i64::MIN,
        fx32: 12,
        fx64: 1 << 40,
        sfx32: -12,
        sfx64: -(1 << 40),
        flag: true,
        text: "grüße, 世界".to_owned(),
        blob: vec![0, 159, 146, 150, 255],
        color: kinds::Color::Green as i32,
        maybe_i32: Some(0),
        maybe_text: Some(String::new()),
        maybe_blob: Some(vec![]),
        maybe_color: Some(kinds::Color::Red as i32),
        many_f64: vec![0.0, -0.5, f64::MAX],
        many_i64: (0..50).map(|i| i * 1_000_003 - 7).collect(),
        many_flags: vec![true, false, true],
        many_texts: vec!["a".into(), String::new(), "ccc".into()],
        many_blobs: vec![vec![1, 2], vec![], vec![255]],
        many_colors: vec![1, 2, 0, 99],
        inner: Some(inner("inner")),
        inners: vec![inner("x"), kinds::Inner::default(), inner("z")],
        counts: [("a".to_owned(), -1), ("b".to_owned(), 1 << 50)].into(),
        by_id: [(1, inner("one")), (-2, kinds::Inner::default())].into(),
        blobs_by_name: [("k".to_owned(), vec![9, 9]), ("e".to_owned(), vec![])].into(),
        colors_by_name: [("r".to_owned(), 1), ("unknown".to_owned(), 42)].into(),
        choice,
        at: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 123,
        }),
        tree: Some(kinds::Tree {
            label: "root".into(),
            children: vec![
                kinds::Tree {
                    label: "leaf".into(),
                    children: vec![],
                },
                kinds::Tree {
                    label: "branch".into(),
                    children: vec![kinds::Tree::default()],
                },
            ],
        }),
        chain: Some(kinds::Chain {
            label: "1".into(),
            next: Some(Box::new(kinds::Chain {
                label: "2".into(),
                next: None,
                end: Some(kinds::chain::End::Last(Box::new(kinds::Chain {
                    label: "last".into(),
                    next: None,
                    end: Some(kinds::chain::End::Reason("done".into())),
                }))),
            })),
            end: None,
        }),
    }
}

/// Converts field by field and checks the result against the wire.
fn crosses_like_the_wire(message: kinds::All) {
    let wire = kinds_alt::All::decode(message.encode_to_vec().as_slice()).expect("decodes");
    let moved = kinds_alt::All::from_neutral(message.clone().into_neutral()).expect("converts");
    assert_eq!(moved, wire);
    // And back.
    let back = kinds::All::from_neutral(moved.into_neutral()).expect("converts back");
    assert_eq!(back, message);
}

#[test]
fn every_kind_of_field_crosses_as_the_wire_would_carry_it() {
    let choices = [
        None,
        Some(kinds::all::Choice::ChoiceText("chosen".into())),
        Some(kinds::all::Choice::ChoiceInner(inner("chosen"))),
        Some(kinds::all::Choice::ChoiceBlob(vec![1, 0, 1])),
        Some(kinds::all::Choice::ChoiceNumber(-5)),
    ];
    for choice in choices {
        crosses_like_the_wire(all(choice));
    }
    crosses_like_the_wire(kinds::All::default());
}

#[test]
fn fields_are_moved_not_copied() {
    let message = all(None);
    let text_at = message.text.as_ptr();
    let many_at = message.many_i64.as_ptr();
    let moved = kinds_alt::All::from_neutral(message.into_neutral()).expect("converts");
    assert_eq!(moved.text.as_ptr(), text_at, "the string moved");
    assert_eq!(moved.many_i64.as_ptr(), many_at, "the repeated field moved");
}

#[test]
fn a_message_from_another_crate_crosses_encoded_inside_the_fields() {
    let NeutralMessage::Fields(fields) = all(None).into_neutral() else {
        panic!("All is taken apart field by field");
    };
    let at = fields.iter().find(|(tag, _)| *tag == 37).map(|(_, v)| v);
    assert!(
        matches!(at, Some(Value::Msg(NeutralMessage::Encoded(_)))),
        "google.protobuf.Timestamp (prost_types) has no field-by-field conversion: {at:?}"
    );
    let inner = fields.iter().find(|(tag, _)| *tag == 27).map(|(_, v)| v);
    assert!(matches!(inner, Some(Value::Msg(NeutralMessage::Fields(_)))));
}

#[test]
fn unknown_tags_are_dropped_and_missing_ones_keep_their_default() {
    let fields = vec![
        (14, Value::Str("kept".into())),
        (999, Value::Str("a field of a newer .proto".into())),
    ];
    let m = kinds_alt::All::from_neutral(NeutralMessage::Fields(fields)).expect("converts");
    assert_eq!(m.text, "kept");
    assert_eq!(
        m,
        kinds_alt::All {
            text: "kept".into(),
            ..Default::default()
        }
    );
}

#[test]
fn an_encoded_message_is_accepted_and_a_wrong_kind_is_an_error_naming_the_field() {
    let message = all(None);
    let from_bytes = kinds_alt::All::from_neutral(NeutralMessage::Encoded(message.encode_to_vec()))
        .expect("decodes");
    assert_eq!(from_bytes.text, message.text);

    let wrong = NeutralMessage::Fields(vec![(4, Value::Str("not a number".into()))]);
    let err = kinds_alt::All::from_neutral(wrong).expect_err("int64 from a string");
    assert_eq!(err.to_string(), "All field 4: expected int64, got string");
    // A varint-compatible kind converts as a decoder would read it.
    let widened = NeutralMessage::Fields(vec![(4, Value::I32(-7))]);
    assert_eq!(
        kinds_alt::All::from_neutral(widened).expect("widens").i64,
        -7
    );
}
