//! Tests only; see tests/tests.
