//! Small pieces the JSON trace readers share: scalars of any JSON type read as text, and the
//! line of a borrowed slice of a file.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::Lines;

/// A number written as a JSON number or a string (64-bit integers, enum names).
pub enum Scalar<'a> {
    Number(u64),
    Text(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Borrowed(if v {
                    "true"
                } else {
                    "false"
                })))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Scalar<'_> {
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Scalar::Number(n) => Cow::Owned(n.to_string()),
            Scalar::Text(t) => Cow::Borrowed(t),
        }
    }

    pub fn number(&self) -> Option<u64> {
        match self {
            Scalar::Number(n) => Some(*n),
            Scalar::Text(t) => t.parse().ok(),
        }
    }
}

/// The 1-based line where `raw`, a slice of `text`, starts.
pub fn line_of(lines: &Lines, text: &str, raw: &RawValue) -> usize {
    let offset = (raw.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    lines.line(offset.min(text.len()))
}

/// `text` without a leading byte-order mark (editors on Windows write one).
pub fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}
