// The package must be a string literal, as with tonic::include_proto!.
mod pricing {
    merge_inline_macros::include_proto!(shop.pricing);
}

fn main() {}
