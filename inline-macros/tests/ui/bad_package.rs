// A path is not a protobuf package name.
mod pricing {
    merge_inline_macros::include_proto!("../shop/pricing");
}

fn main() {}
