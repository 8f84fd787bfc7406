//! Whether a changed .proto file still talks to its old self: each file parsed on its own
//! (protox-parse, no imports resolved) and compared by full names and field numbers, as the
//! wire sees them. Breaking: a message, field, enum value, service or method removed; a field
//! renumbered, or its type or cardinality changed; a method's types or streaming changed.
//! Wire-compatible: anything else (fields, messages, values and methods added, names of
//! fields changed, comments, options).

use std::collections::BTreeMap;

use prost_types::{
    DescriptorProto, EnumDescriptorProto, FileDescriptorProto, field_descriptor_proto,
};

/// What a change does to the wire.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub breaking: Vec<String>,
    pub compatible: Vec<String>,
}

impl Verdict {
    pub fn is_breaking(&self) -> bool {
        !self.breaking.is_empty()
    }

    /// `wire-compatible` or `breaking`.
    pub fn class(&self) -> &'static str {
        if self.is_breaking() {
            "breaking"
        } else {
            "wire-compatible"
        }
    }
}

/// A side of a comparison that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{name} ({which}) does not parse: {source}")]
pub struct Unparsed {
    name: String,
    /// `locked` or `now`.
    which: &'static str,
    #[source]
    source: Box<protox_parse::ParseError>,
}

/// Compares `old` with `new` (the texts of one .proto file, `name` for errors).
pub fn compare(name: &str, old: &str, new: &str) -> Result<Verdict, Unparsed> {
    let parse = |which: &'static str, text: &str| {
        protox_parse::parse(name, text).map_err(|source| Unparsed {
            name: name.to_owned(),
            which,
            source: Box::new(source),
        })
    };
    let (old, new) = (parse("locked", old)?, parse("now", new)?);
    let mut v = Verdict {
        breaking: Vec::new(),
        compatible: Vec::new(),
    };
    let (a, b) = (messages(&old), messages(&new));
    for (full, m) in &a {
        match b.get(full) {
            None => v.breaking.push(format!("message `{full}` removed")),
            Some(n) => fields(full, m, n, &mut v),
        }
    }
    for full in b.keys().filter(|k| !a.contains_key(*k)) {
        v.compatible.push(format!("message `{full}` added"));
    }
    let (a, b) = (enums(&old), enums(&new));
    for (full, e) in &a {
        let Some(n) = b.get(full) else {
            v.breaking.push(format!("enum `{full}` removed"));
            continue;
        };
        let numbers = |e: &EnumDescriptorProto| -> BTreeMap<i32, String> {
            e.value
                .iter()
                .map(|x| (x.number(), x.name().to_owned()))
                .collect()
        };
        let (x, y) = (numbers(e), numbers(n));
        for (num, name) in &x {
            if !y.contains_key(num) {
                v.breaking
                    .push(format!("value `{full}.{name}` = {num} removed"));
            }
        }
        for (num, name) in y.iter().filter(|(k, _)| !x.contains_key(*k)) {
            v.compatible
                .push(format!("value `{full}.{name}` = {num} added"));
        }
    }
    let package = |f: &FileDescriptorProto| f.package().to_owned();
    let services = |f: &FileDescriptorProto| -> BTreeMap<String, Methods> {
        let pkg = package(f);
        f.service
            .iter()
            .map(|s| {
                let methods = s
                    .method
                    .iter()
                    .map(|m| {
                        (
                            m.name().to_owned(),
                            (
                                m.input_type().trim_start_matches('.').to_owned(),
                                m.output_type().trim_start_matches('.').to_owned(),
                                m.client_streaming(),
                                m.server_streaming(),
                            ),
                        )
                    })
                    .collect();
                (qualified(&pkg, s.name()), methods)
            })
            .collect()
    };
    let (a, b) = (services(&old), services(&new));
    for (full, methods) in &a {
        let Some(now) = b.get(full) else {
            v.breaking.push(format!("service `{full}` removed"));
            continue;
        };
        for (m, shape) in methods {
            match now.get(m) {
                None => v.breaking.push(format!("method `{full}/{m}` removed")),
                Some(s) if s != shape => v.breaking.push(format!(
                    "method `{full}/{m}` changed its types or streaming"
                )),
                Some(_) => {}
            }
        }
        for m in now.keys().filter(|m| !methods.contains_key(*m)) {
            v.compatible.push(format!("method `{full}/{m}` added"));
        }
    }
    for full in b.keys().filter(|k| !a.contains_key(*k)) {
        v.compatible.push(format!("service `{full}` added"));
    }
    Ok(v)
}

/// A service's methods by name: input and output type, client and server streaming.
type Methods = BTreeMap<String, (String, String, bool, bool)>;

fn qualified(package: &str, name: &str) -> String {
    if package.is_empty() {
        name.to_owned()
    } else {
        format!("{package}.{name}")
    }
}

/// Every message of the file, nested ones too, by full name.
fn messages(f: &FileDescriptorProto) -> BTreeMap<String, DescriptorProto> {
    fn walk(prefix: &str, list: &[DescriptorProto], out: &mut BTreeMap<String, DescriptorProto>) {
        for m in list {
            let full = qualified(prefix, m.name());
            walk(&full, &m.nested_type, out);
            // A map field's hidden entry message is said as the field's type, not on its own.
            if !is_map_entry(m) {
                out.insert(full, m.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(f.package(), &f.message_type, &mut out);
    out
}

/// Every enum of the file, nested ones too, by full name.
fn enums(f: &FileDescriptorProto) -> BTreeMap<String, EnumDescriptorProto> {
    fn walk(
        prefix: &str,
        list: &[DescriptorProto],
        out: &mut BTreeMap<String, EnumDescriptorProto>,
    ) {
        for m in list {
            let full = qualified(prefix, m.name());
            for e in &m.enum_type {
                out.insert(qualified(&full, e.name()), e.clone());
            }
            walk(&full, &m.nested_type, out);
        }
    }
    let mut out = BTreeMap::new();
    for e in &f.enum_type {
        out.insert(qualified(f.package(), e.name()), e.clone());
    }
    walk(f.package(), &f.message_type, &mut out);
    out
}

/// What the wire sees of a field: its type (a message or enum by the name written), and
/// whether it repeats.
fn is_map_entry(m: &DescriptorProto) -> bool {
    m.options.as_ref().is_some_and(|o| o.map_entry())
}

/// What the wire sees of a field: its type (a message or enum by the name written; a map by
/// its key and value types), whether it repeats, and the oneof it is in (not the one proto3's
/// `optional` makes).
fn shape(
    m: &DescriptorProto,
    f: &prost_types::FieldDescriptorProto,
) -> (String, bool, Option<String>) {
    use field_descriptor_proto::Type;
    let named = || f.type_name().trim_start_matches('.').to_owned();
    let plain = |f: &prost_types::FieldDescriptorProto| match f.r#type {
        // Not resolved (imports are not read): a message or enum, by the name written.
        None => f.type_name().trim_start_matches('.').to_owned(),
        Some(_) => match f.r#type() {
            Type::Message | Type::Enum | Type::Group => {
                f.type_name().trim_start_matches('.').to_owned()
            }
            t => t.as_str_name().to_owned(),
        },
    };
    let last = named();
    let last = last.rsplit('.').next().unwrap_or_default();
    let entry = m
        .nested_type
        .iter()
        .find(|n| is_map_entry(n) && n.name() == last);
    let ty = match entry {
        Some(e) => {
            let kv: Vec<String> = e.field.iter().map(plain).collect();
            format!("map<{}>", kv.join(", "))
        }
        None => plain(f),
    };
    let oneof = f
        .oneof_index
        .filter(|_| !f.proto3_optional())
        .and_then(|i| m.oneof_decl.get(usize::try_from(i).ok()?))
        .map(|o| o.name().to_owned());
    let repeated = entry.is_none() && f.label() == field_descriptor_proto::Label::Repeated;
    (ty, repeated, oneof)
}

/// Whether two type names name the same type: as written, or by their last segment when one
/// of them is written unqualified (`Money` and `.shop.Money`).
fn same_type(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_start_matches('.'), b.trim_start_matches('.'));
    a == b
        || ((!a.contains('.') || !b.contains('.')) && a.rsplit('.').next() == b.rsplit('.').next())
}

fn fields(full: &str, old: &DescriptorProto, new: &DescriptorProto, v: &mut Verdict) {
    let by_number = |m: &DescriptorProto| -> BTreeMap<i32, prost_types::FieldDescriptorProto> {
        m.field.iter().map(|f| (f.number(), f.clone())).collect()
    };
    let (a, b) = (by_number(old), by_number(new));
    for (n, f) in &a {
        let Some(g) = b.get(n) else {
            match new.field.iter().find(|g| g.name() == f.name()) {
                Some(g) => v.breaking.push(format!(
                    "field `{full}.{}` renumbered {n} -> {}",
                    f.name(),
                    g.number()
                )),
                None => v
                    .breaking
                    .push(format!("field `{full}.{}` = {n} removed", f.name())),
            }
            continue;
        };
        let (was, is) = (shape(old, f), shape(new, g));
        if !same_type(&was.0, &is.0) {
            v.breaking.push(format!(
                "field `{full}.{}` = {n} changed type {} -> {}",
                f.name(),
                was.0,
                is.0
            ));
        } else if was.1 != is.1 {
            v.breaking.push(format!(
                "field `{full}.{}` = {n} changed between single and repeated",
                f.name()
            ));
        }
        if was.2 != is.2 {
            let said = |o: &Option<String>| {
                o.as_ref()
                    .map_or("no oneof".to_owned(), |o| format!("oneof `{o}`"))
            };
            v.breaking.push(format!(
                "field `{full}.{}` = {n} moved from {} to {}",
                f.name(),
                said(&was.2),
                said(&is.2)
            ));
        }
        if f.name() != g.name() {
            v.compatible.push(format!(
                "field {n} of `{full}` renamed `{}` -> `{}` (JSON names change)",
                f.name(),
                g.name()
            ));
        }
    }
    for (n, g) in b.iter().filter(|(n, _)| !a.contains_key(*n)) {
        if a.values().any(|f| f.name() == g.name()) {
            continue; // said as a renumbering
        }
        v.compatible
            .push(format!("field `{full}.{}` = {n} added", g.name()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "syntax = \"proto3\";\npackage shop.pricing;\n\
        service Pricing { rpc Quote(QuoteRequest) returns (QuoteReply); }\n\
        message QuoteRequest { string sku = 1; uint32 quantity = 2; }\n\
        message QuoteReply { uint64 unit = 1; uint64 total = 2; Currency currency = 3; }\n\
        enum Currency { EUR = 0; USD = 1; }\n";

    #[test]
    fn additions_comments_and_renames_are_wire_compatible() {
        let new = OLD
            .replace(
                "uint32 quantity = 2;",
                "uint32 quantity = 2; string note = 3;",
            )
            .replace("USD = 1;", "USD = 1; GBP = 2;")
            .replace("uint64 total = 2;", "// the total\n uint64 sum = 2;")
            .replace(
                "returns (QuoteReply); }",
                "returns (QuoteReply); rpc Ping(QuoteRequest) returns (QuoteReply); }",
            );
        let v = compare("pricing.proto", OLD, &new).expect("parses");
        assert_eq!(v.class(), "wire-compatible", "{v:?}");
        assert!(
            v.compatible
                .contains(&"field `shop.pricing.QuoteRequest.note` = 3 added".to_owned()),
            "{v:?}"
        );
        assert!(
            v.compatible
                .iter()
                .any(|c| c.contains("renamed `total` -> `sum`")),
            "{v:?}"
        );
        assert!(v.compatible.iter().any(|c| c.contains("GBP")), "{v:?}");
        assert!(
            v.compatible.iter().any(|c| c.contains("Pricing/Ping")),
            "{v:?}"
        );
        let same = compare("pricing.proto", OLD, &format!("// a comment\n{OLD}")).expect("parses");
        assert!(
            same.breaking.is_empty() && same.compatible.is_empty(),
            "{same:?}"
        );
    }

    #[test]
    fn removals_renumberings_and_type_changes_break() {
        let cases = [
            (
                OLD.replace(" uint32 quantity = 2;", ""),
                "`shop.pricing.QuoteRequest.quantity` = 2 removed",
            ),
            (
                OLD.replace("quantity = 2;", "quantity = 4;"),
                "renumbered 2 -> 4",
            ),
            (
                OLD.replace("uint32 quantity", "string quantity"),
                "changed type TYPE_UINT32 -> TYPE_STRING",
            ),
            (
                OLD.replace("uint32 quantity", "repeated uint32 quantity"),
                "between single and repeated",
            ),
            (
                OLD.replace(" USD = 1;", ""),
                "`shop.pricing.Currency.USD` = 1 removed",
            ),
            (
                OLD.replace("returns (QuoteReply)", "returns (stream QuoteReply)"),
                "Pricing/Quote` changed",
            ),
            (
                OLD.replace("Currency currency = 3;", "string currency = 3;"),
                "changed type Currency -> TYPE_STRING",
            ),
        ];
        for (new, said) in cases {
            let v = compare("pricing.proto", OLD, &new).expect("parses");
            assert_eq!(v.class(), "breaking", "{said}: {v:?}");
            assert!(v.breaking.iter().any(|b| b.contains(said)), "{said}: {v:?}");
        }
        assert!(compare("p.proto", OLD, "message {").is_err());
        // Into a oneof: breaking.
        let v = compare(
            "p.proto",
            OLD,
            &OLD.replace(
                "string sku = 1; uint32 quantity = 2;",
                "oneof what { string sku = 1; } uint32 quantity = 2;",
            ),
        )
        .expect("parses");
        assert!(
            v.breaking
                .iter()
                .any(|b| b.contains("moved from no oneof to oneof `what`")),
            "{v:?}"
        );
    }

    #[test]
    fn maps_renames_and_qualified_names_are_not_breaking() {
        let old = "syntax = \"proto3\";\npackage p;\nmessage M { map<string, uint64> prices = 1; Money m = 2; optional string note = 3; }\nmessage Money { uint64 cents = 1; }\n";
        let new = old
            .replace("prices = 1", "price_list = 1")
            .replace("Money m = 2", ".p.Money m = 2")
            .replace("optional string note", "string note");
        let v = compare("p.proto", old, &new).expect("parses");
        assert_eq!(v.class(), "wire-compatible", "{v:?}");
        let v = compare(
            "p.proto",
            old,
            &old.replace("map<string, uint64>", "map<string, string>"),
        )
        .expect("parses");
        assert!(
            v.breaking
                .iter()
                .any(|b| b
                    .contains("map<TYPE_STRING, TYPE_UINT64> -> map<TYPE_STRING, TYPE_STRING>")),
            "{v:?}"
        );
    }
}
