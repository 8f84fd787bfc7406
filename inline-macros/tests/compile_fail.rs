//! `include_proto!` mistakes are compile errors with a span and a message that says what to
//! do, never a panic (trybuild compiles each file in tests/ui and compares the errors).

#[test]
fn include_proto_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
