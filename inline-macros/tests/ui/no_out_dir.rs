// Without a build script there is no OUT_DIR to read generated code from.
mod pricing {
    merge_inline_macros::include_proto!("shop.pricing");
}

fn main() {}
