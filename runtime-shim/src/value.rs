//! Messages moved field by field between members whose Rust types for one protobuf message
//! differ (each compiled its own copy of the .proto): the sender's generated code moves each
//! field into a [`Value`] by tag, the receiver's moves them out into its own struct. Strings,
//! byte strings and repeated fields move as they are (no copy, no encoding); a message the
//! generated code cannot take apart crosses in protobuf wire format instead.
//!
//! Conversions follow what the wire would do: fields are matched by tag, an unknown tag is
//! dropped, a missing one keeps its default, and integer types that share the varint encoding
//! (int32, int64, uint32, uint64, bool, enums) convert as a decoder reading the other's bytes
//! would.

use std::fmt;

/// A message in neutral form.
#[derive(Debug, Clone, PartialEq)]
pub enum NeutralMessage {
    /// Its fields by tag, in the sender's field order.
    Fields(Vec<(u32, Value)>),
    /// Protobuf wire format (for a message the generated code does not take apart).
    Encoded(Vec<u8>),
}

/// One field's value. A non-repeated integer field that shares the varint encoding may arrive
/// as any of the varint-compatible variants.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    I32(i32),
    I64(i64),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
    Str(String),
    Bytes(Vec<u8>),
    Msg(NeutralMessage),
    RepBool(Vec<bool>),
    RepI32(Vec<i32>),
    RepI64(Vec<i64>),
    RepU32(Vec<u32>),
    RepU64(Vec<u64>),
    RepF32(Vec<f32>),
    RepF64(Vec<f64>),
    RepStr(Vec<String>),
    RepBytes(Vec<Vec<u8>>),
    RepMsg(Vec<NeutralMessage>),
    /// A map field's entries.
    Map(Vec<(Value, Value)>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::I32(_) => "int32",
            Value::I64(_) => "int64",
            Value::U32(_) => "uint32",
            Value::U64(_) => "uint64",
            Value::F32(_) => "float",
            Value::F64(_) => "double",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Msg(_) => "message",
            Value::RepBool(_) => "repeated bool",
            Value::RepI32(_) => "repeated int32",
            Value::RepI64(_) => "repeated int64",
            Value::RepU32(_) => "repeated uint32",
            Value::RepU64(_) => "repeated uint64",
            Value::RepF32(_) => "repeated float",
            Value::RepF64(_) => "repeated double",
            Value::RepStr(_) => "repeated string",
            Value::RepBytes(_) => "repeated bytes",
            Value::RepMsg(_) => "repeated message",
            Value::Map(_) => "map",
        }
    }

    /// The value a varint decoder would read, for the varint-compatible kinds.
    fn varint(&self) -> Option<u64> {
        Some(match *self {
            Value::Bool(b) => u64::from(b),
            Value::I32(v) => i64::from(v) as u64,
            Value::I64(v) => v as u64,
            Value::U32(v) => u64::from(v),
            Value::U64(v) => v,
            _ => return None,
        })
    }
}

/// A field that did not convert: the receiving message and tag, and what arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError {
    message: String,
}

impl ConvertError {
    pub fn new(message: impl Into<String>) -> Self {
        ConvertError {
            message: message.into(),
        }
    }

    /// The error, placed at field `tag` of message `message`.
    pub fn at(self, message: &str, tag: u32) -> Self {
        ConvertError::new(format!("{message} field {tag}: {}", self.message))
    }

    fn expected(what: &str, got: &Value) -> Self {
        ConvertError::new(format!("expected {what}, got {}", got.kind()))
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConvertError {}

/// A prost message that generated code can take apart field by field.
pub trait Convert: Sized {
    fn into_neutral(self) -> NeutralMessage;
    fn from_neutral(message: NeutralMessage) -> Result<Self, ConvertError>;
}

/// A prost oneof enum: its set variant as a (tag, value) field, and back.
pub trait ConvertOneof: Sized {
    fn into_field(self) -> (u32, Value);
    fn from_field(tag: u32, value: Value) -> Result<Self, ConvertError>;
}

/// A std type a field holds (scalars, strings, byte strings, and vectors of them).
pub trait IntoValue {
    fn into_value(self) -> Value;
}

/// The way back from a [`Value`].
pub trait FromValue: Sized {
    fn from_value(value: Value) -> Result<Self, ConvertError>;
}

/// How a message of type `T` crosses: moved field by field, or encoded.
#[derive(Debug)]
pub struct Codec<T> {
    pub into: fn(T) -> NeutralMessage,
    pub from: fn(NeutralMessage) -> Result<T, ConvertError>,
}

/// Picks a [`Codec`] for a concrete type: `(&Pick::<T>::new()).codec()` finds
/// [`PickFields::codec`] when `T: Convert`; otherwise method lookup goes on to the generated
/// code's encoded fallback, implemented for `&Pick<T>` (the usual auto-ref specialisation,
/// which works because `T` is a concrete type where it is written).
#[derive(Debug)]
pub struct Pick<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Pick<T> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Pick(std::marker::PhantomData)
    }
}

pub trait PickFields<T> {
    fn codec(&self) -> Codec<T>;
}

impl<T: Convert> PickFields<T> for Pick<T> {
    fn codec(&self) -> Codec<T> {
        Codec {
            into: T::into_neutral,
            from: T::from_neutral,
        }
    }
}

macro_rules! varint_scalar {
    ($($t:ty => $variant:ident, $name:literal;)*) => {$(
        impl IntoValue for $t {
            #[inline]
            fn into_value(self) -> Value {
                Value::$variant(self)
            }
        }

        impl FromValue for $t {
            #[inline]
            fn from_value(value: Value) -> Result<Self, ConvertError> {
                match value {
                    Value::$variant(v) => Ok(v),
                    other => match other.varint() {
                        // As a varint decoder reads it: truncated to the receiving width.
                        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
                        Some(wire) => Ok(varint_as::<$t>(wire)),
                        None => Err(ConvertError::expected($name, &other)),
                    },
                }
            }
        }
    )*};
}

/// A varint's value read as a field of type `T`.
trait FromVarint {
    fn from_varint(wire: u64) -> Self;
}

impl FromVarint for bool {
    fn from_varint(wire: u64) -> Self {
        wire != 0
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
impl FromVarint for i32 {
    fn from_varint(wire: u64) -> Self {
        wire as i32
    }
}

#[allow(clippy::cast_possible_wrap)]
impl FromVarint for i64 {
    fn from_varint(wire: u64) -> Self {
        wire as i64
    }
}

#[allow(clippy::cast_possible_truncation)]
impl FromVarint for u32 {
    fn from_varint(wire: u64) -> Self {
        wire as u32
    }
}

impl FromVarint for u64 {
    fn from_varint(wire: u64) -> Self {
        wire
    }
}

fn varint_as<T: FromVarint>(wire: u64) -> T {
    T::from_varint(wire)
}

varint_scalar! {
    bool => Bool, "bool";
    i32 => I32, "int32";
    i64 => I64, "int64";
    u32 => U32, "uint32";
    u64 => U64, "uint64";
}

macro_rules! exact {
    ($($t:ty => $variant:ident, $name:literal;)*) => {$(
        impl IntoValue for $t {
            #[inline]
            fn into_value(self) -> Value {
                Value::$variant(self)
            }
        }

        impl FromValue for $t {
            #[inline]
            fn from_value(value: Value) -> Result<Self, ConvertError> {
                match value {
                    Value::$variant(v) => Ok(v),
                    other => Err(ConvertError::expected($name, &other)),
                }
            }
        }
    )*};
}

exact! {
    f32 => F32, "float";
    f64 => F64, "double";
    Vec<f32> => RepF32, "repeated float";
    Vec<f64> => RepF64, "repeated double";
    Vec<Vec<u8>> => RepBytes, "repeated bytes";
}

macro_rules! repeated_varint {
    ($($t:ty => $variant:ident, $name:literal;)*) => {$(
        impl IntoValue for Vec<$t> {
            #[inline]
            fn into_value(self) -> Value {
                Value::$variant(self)
            }
        }

        impl FromValue for Vec<$t> {
            #[inline]
            fn from_value(value: Value) -> Result<Self, ConvertError> {
                fn each<S: Into<Value>>(v: Vec<S>) -> Result<Vec<$t>, ConvertError> {
                    v.into_iter().map(|s| <$t>::from_value(s.into())).collect()
                }
                // The arm of this type's own variant comes first; its repeat below is dead.
                #[allow(unreachable_patterns)]
                match value {
                    Value::$variant(v) => Ok(v),
                    Value::RepBool(v) => each(v),
                    Value::RepI32(v) => each(v),
                    Value::RepI64(v) => each(v),
                    Value::RepU32(v) => each(v),
                    Value::RepU64(v) => each(v),
                    other => Err(ConvertError::expected($name, &other)),
                }
            }
        }
    )*};
}

repeated_varint! {
    bool => RepBool, "repeated bool";
    i32 => RepI32, "repeated int32";
    i64 => RepI64, "repeated int64";
    u32 => RepU32, "repeated uint32";
    u64 => RepU64, "repeated uint64";
}

macro_rules! into_value_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                v.into_value()
            }
        }
    )*};
}

into_value_from!(bool, i32, i64, u32, u64);

/// string and bytes share the wire's length-delimited encoding: a decoder accepts either for
/// the other, checking UTF-8 for a string.
impl IntoValue for String {
    #[inline]
    fn into_value(self) -> Value {
        Value::Str(self)
    }
}

impl FromValue for String {
    #[inline]
    fn from_value(value: Value) -> Result<Self, ConvertError> {
        match value {
            Value::Str(s) => Ok(s),
            Value::Bytes(b) => String::from_utf8(b)
                .map_err(|_| ConvertError::new("invalid string value: data is not UTF-8 encoded")),
            other => Err(ConvertError::expected("string", &other)),
        }
    }
}

impl IntoValue for Vec<u8> {
    #[inline]
    fn into_value(self) -> Value {
        Value::Bytes(self)
    }
}

impl FromValue for Vec<u8> {
    #[inline]
    fn from_value(value: Value) -> Result<Self, ConvertError> {
        match value {
            Value::Bytes(b) => Ok(b),
            Value::Str(s) => Ok(s.into_bytes()),
            other => Err(ConvertError::expected("bytes", &other)),
        }
    }
}

impl IntoValue for Vec<String> {
    #[inline]
    fn into_value(self) -> Value {
        Value::RepStr(self)
    }
}

impl FromValue for Vec<String> {
    #[inline]
    fn from_value(value: Value) -> Result<Self, ConvertError> {
        match value {
            Value::RepStr(v) => Ok(v),
            Value::RepBytes(v) => v
                .into_iter()
                .map(|b| String::from_value(Value::Bytes(b)))
                .collect(),
            other => Err(ConvertError::expected("repeated string", &other)),
        }
    }
}

/// The message inside a `Msg` value.
pub fn message(value: Value) -> Result<NeutralMessage, ConvertError> {
    match value {
        Value::Msg(m) => Ok(m),
        other => Err(ConvertError::expected("message", &other)),
    }
}

/// The messages inside a `RepMsg` value.
pub fn messages(value: Value) -> Result<Vec<NeutralMessage>, ConvertError> {
    match value {
        Value::RepMsg(m) => Ok(m),
        other => Err(ConvertError::expected("repeated message", &other)),
    }
}

/// The entries of a `Map` value.
pub fn entries(value: Value) -> Result<Vec<(Value, Value)>, ConvertError> {
    match value {
        Value::Map(m) => Ok(m),
        other => Err(ConvertError::expected("map", &other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_kinds_convert_as_a_decoder_reads_them() {
        assert_eq!(i64::from_value(Value::I32(-7)), Ok(-7));
        assert_eq!(u32::from_value(Value::I32(-1)), Ok(u32::MAX));
        assert_eq!(i32::from_value(Value::I64(1 << 32 | 5)), Ok(5));
        assert_eq!(bool::from_value(Value::U64(2)), Ok(true));
        assert_eq!(
            Vec::<i64>::from_value(Value::RepI32(vec![1, -2])),
            Ok(vec![1, -2])
        );
        let err = i64::from_value(Value::Str("x".into())).unwrap_err();
        assert_eq!(
            err.at("pkg.M", 3).to_string(),
            "pkg.M field 3: expected int64, got string"
        );
    }

    #[test]
    fn strings_and_bytes_share_their_encoding() {
        assert_eq!(
            String::from_value(Value::Bytes(b"ok".to_vec())),
            Ok("ok".into())
        );
        assert!(String::from_value(Value::Bytes(vec![0xff])).is_err());
        assert_eq!(
            Vec::<u8>::from_value(Value::Str("ab".into())),
            Ok(b"ab".to_vec())
        );
        assert_eq!(f32::from_value(Value::F32(1.5)), Ok(1.5));
        assert!(f64::from_value(Value::F32(1.5)).is_err());
    }

    #[test]
    fn moving_a_string_does_not_copy_it() {
        let s = String::from("a string that lives on the heap");
        let at = s.as_ptr();
        let back = String::from_value(s.into_value()).expect("a string");
        assert_eq!(back.as_ptr(), at);
    }
}
