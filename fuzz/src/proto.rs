//! A valid .proto file made from arbitrary bytes ([`file`]): proto2 or proto3, an optional
//! package, top-level and nested enums and messages, fields of every scalar type, enums,
//! messages (recursive ones too), well-known types, `optional`, `repeated`, `required`, maps,
//! oneofs, proto2 groups, services with unary and streaming methods, `deprecated` options and
//! doc comments. Names come from a pool of the awkward ones (Rust keywords, prelude types,
//! names tonic's generated code uses itself) or are random identifiers, unique in their scope.
//!
//! Valid by construction as far as cheaply possible; what protox still rejects (a rare clash
//! of JSON names) is skipped by the target.

use std::collections::HashSet;
use std::fmt::Write;

use arbitrary::{Result, Unstructured};

const SCALARS: &[&str] = &[
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32",
    "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
];
/// Map keys: integral types, bool and string.
const KEYS: &[&str] = &[
    "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32",
    "sfixed64", "bool", "string",
];
/// Well-known types and the files that hold them.
const WELL_KNOWN: &[(&str, &str)] = &[
    (
        "google.protobuf.Timestamp",
        "google/protobuf/timestamp.proto",
    ),
    ("google.protobuf.Duration", "google/protobuf/duration.proto"),
    ("google.protobuf.Empty", "google/protobuf/empty.proto"),
    ("google.protobuf.Any", "google/protobuf/any.proto"),
    ("google.protobuf.Struct", "google/protobuf/struct.proto"),
    (
        "google.protobuf.StringValue",
        "google/protobuf/wrappers.proto",
    ),
];
/// Type names that meet the Rust prelude, tonic's and prost's own names, or keywords.
const TYPE_NAMES: &[&str] = &[
    "Self_",
    "Option",
    "Result",
    "String",
    "Vec",
    "Box",
    "Default",
    "Request",
    "Response",
    "Status",
    "Streaming",
    "Service",
    "Server",
    "Client",
    "Body",
    "Error",
    "Message",
    "Inner",
    "Empty",
    "Type",
    "Match",
    "Echo",
    "Health",
    "Codec",
    "Grpc",
    "Channel",
    "Interceptor",
    "Future",
    "Poll",
    "Arc",
    "Ready",
    "BoxFuture",
    "StdError",
    "Http",
    "Router",
    "Name",
];
/// Field and method-ish names that are keywords or names of generated methods.
const FIELD_NAMES: &[&str] = &[
    "type",
    "match",
    "self",
    "super",
    "crate",
    "async",
    "await",
    "dyn",
    "fn",
    "try",
    "union",
    "static",
    "box",
    "in",
    "ref",
    "loop",
    "move",
    "yield",
    "abstract",
    "final",
    "macro",
    "gen",
    "inner",
    "request",
    "response",
    "status",
    "encode",
    "decode",
    "clear",
    "default",
    "new",
    "into_inner",
    "connect",
    "call",
    "ready",
    "poll_ready",
    "clone",
    "fmt",
    "name",
    "path",
];
/// Method names; tonic snake-cases them into client methods beside its own (`connect`,
/// `with_origin`, `send_compressed`, ...).
const METHOD_NAMES: &[&str] = &[
    "Connect",
    "New",
    "WithOrigin",
    "WithInterceptor",
    "SendCompressed",
    "AcceptCompressed",
    "MaxDecodingMessageSize",
    "MaxEncodingMessageSize",
    "Call",
    "PollReady",
    "Ready",
    "Clone",
    "Into",
    "Get",
    "get",
    "GetFoo",
    "get_foo",
    "Type",
    "Match",
    "Self",
    "Echo",
    "Ping",
    "Watch",
];
const PACKAGES: &[&str] = &[
    "",
    "a",
    "shop.v1",
    "type",
    "self.inner",
    "grpc.health.v1",
    "x_y.z9",
];

/// A skeleton entry: a message or an enum, by its full name (`.pkg.Outer.Inner`).
struct Decl {
    full: String,
    is_enum: bool,
    /// The index of the message it is nested in, if any.
    parent: Option<usize>,
    name: String,
}

struct Gen<'u, 'd> {
    u: &'u mut Unstructured<'d>,
    proto3: bool,
    decls: Vec<Decl>,
    imports: HashSet<&'static str>,
    out: String,
}

/// A .proto file's text made from `u` (named `gen.proto` by the target).
pub fn file(u: &mut Unstructured<'_>) -> Result<String> {
    let proto3 = !u.ratio(1, 4)?;
    let package = *u.choose(PACKAGES)?;
    let mut g = Gen {
        u,
        proto3,
        decls: Vec::new(),
        imports: HashSet::new(),
        out: String::new(),
    };
    g.skeleton(package)?;
    g.messages_and_enums(None, 0)?;
    g.services()?;
    let mut head = format!(
        "syntax = \"{}\";\n",
        if proto3 { "proto3" } else { "proto2" }
    );
    if !package.is_empty() {
        let _ = writeln!(head, "package {package};");
    }
    let mut imports: Vec<_> = g.imports.into_iter().collect();
    imports.sort();
    for i in imports {
        let _ = writeln!(head, "import \"{i}\";");
    }
    Ok(head + &g.out)
}

impl Gen<'_, '_> {
    /// Declares every message and enum first, so that fields may name any of them.
    fn skeleton(&mut self, package: &str) -> Result<()> {
        let root = if package.is_empty() {
            String::new()
        } else {
            format!(".{package}")
        };
        let mut top = HashSet::new();
        for _ in 0..self.u.int_in_range(0..=2)? {
            let name = self.type_name(&mut top)?;
            self.decls.push(Decl {
                full: format!("{root}.{name}"),
                is_enum: true,
                parent: None,
                name,
            });
        }
        for _ in 0..self.u.int_in_range(1..=4)? {
            let name = self.type_name(&mut top)?;
            let ix = self.decls.len();
            self.decls.push(Decl {
                full: format!("{root}.{name}"),
                is_enum: false,
                parent: None,
                name,
            });
            self.nested(ix, 1)?;
        }
        Ok(())
    }

    fn nested(&mut self, parent: usize, depth: usize) -> Result<()> {
        if depth > 2 {
            return Ok(());
        }
        let mut scope = HashSet::new();
        for _ in 0..self.u.int_in_range(0..=2)? {
            let is_enum = self.u.ratio(1, 3)?;
            let name = self.type_name(&mut scope)?;
            let ix = self.decls.len();
            let full = format!("{}.{name}", self.decls[parent].full);
            self.decls.push(Decl {
                full,
                is_enum,
                parent: Some(parent),
                name,
            });
            if !is_enum {
                self.nested(ix, depth + 1)?;
            }
        }
        Ok(())
    }

    /// Writes the declarations nested in `parent` (top level: `None`).
    fn messages_and_enums(&mut self, parent: Option<usize>, depth: usize) -> Result<()> {
        let children: Vec<usize> = (0..self.decls.len())
            .filter(|&i| self.decls[i].parent == parent)
            .collect();
        let indent = "  ".repeat(depth);
        // Enum value names share the enclosing scope (C++ rules): one set for all of them.
        let mut values = HashSet::new();
        for ix in children {
            self.comment(&indent)?;
            let name = self.decls[ix].name.clone();
            if self.decls[ix].is_enum {
                self.enumeration(&name, &indent, &mut values)?;
            } else {
                let _ = writeln!(self.out, "{indent}message {name} {{");
                self.fields(ix, depth + 1)?;
                self.messages_and_enums(Some(ix), depth + 1)?;
                let _ = writeln!(self.out, "{indent}}}");
            }
        }
        Ok(())
    }

    fn enumeration(
        &mut self,
        name: &str,
        indent: &str,
        values: &mut HashSet<String>,
    ) -> Result<()> {
        let _ = writeln!(self.out, "{indent}enum {name} {{");
        let prefix = screaming(name);
        let mut numbers = HashSet::new();
        for i in 0..self.u.int_in_range(1..=4)? {
            let mut value = if self.u.ratio(2, 3)? {
                format!("{prefix}_{}", self.raw_ident(true)?)
            } else {
                self.raw_ident(true)?
            };
            while !values.insert(value.clone()) {
                value.push('X');
            }
            let mut number = if i == 0 && self.proto3 {
                0
            } else {
                self.u.int_in_range(-3..=40)?
            };
            while !numbers.insert(number) {
                number += 1;
            }
            let _ = writeln!(self.out, "{indent}  {value} = {number};");
        }
        let _ = writeln!(self.out, "{indent}}}");
        Ok(())
    }

    /// The fields (and oneofs, and proto2 groups) of message `ix`.
    fn fields(&mut self, ix: usize, depth: usize) -> Result<()> {
        let indent = "  ".repeat(depth);
        // Fields share their message's scope with its nested types.
        let mut scope: HashSet<String> = self
            .decls
            .iter()
            .filter(|d| d.parent == Some(ix))
            .map(|d| d.name.to_lowercase())
            .collect();
        let mut number = 0u32;
        for _ in 0..self.u.int_in_range(0..=8)? {
            number = self.next_number(number)?;
            let name = self.field_name(&mut scope)?;
            self.comment(&indent)?;
            match self.u.int_in_range(0..=9)? {
                0 => {
                    let key = *self.u.choose(KEYS)?;
                    let value = self.value_type()?;
                    let _ = writeln!(self.out, "{indent}map<{key}, {value}> {name} = {number};");
                }
                1 => {
                    let _ = writeln!(self.out, "{indent}oneof {name} {{");
                    for _ in 0..self.u.int_in_range(1..=3)? {
                        number = self.next_number(number)?;
                        let field = self.field_name(&mut scope)?;
                        let ty = self.value_type()?;
                        let _ = writeln!(self.out, "{indent}  {ty} {field} = {number};");
                    }
                    let _ = writeln!(self.out, "{indent}}}");
                }
                2 if !self.proto3 => {
                    // A group: its type's name is the field's, capitalised.
                    let mut group = format!("G{name}");
                    while !scope.insert(group.to_lowercase()) {
                        group.push('x');
                    }
                    let label = *self.u.choose(&["optional", "repeated"])?;
                    let _ = writeln!(self.out, "{indent}{label} group {group} = {number} {{");
                    let inner = self.next_number(0)?;
                    let ty = self.value_type()?;
                    let _ = writeln!(self.out, "{indent}  optional {ty} value = {inner};");
                    let _ = writeln!(self.out, "{indent}}}");
                }
                _ => {
                    let ty = self.value_type()?;
                    let label = if self.proto3 {
                        *self.u.choose(&["", "", "optional ", "repeated "])?
                    } else {
                        *self
                            .u
                            .choose(&["optional ", "optional ", "repeated ", "required "])?
                    };
                    let deprecated = if self.u.ratio(1, 8)? {
                        " [deprecated = true]"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        self.out,
                        "{indent}{label}{ty} {name} = {number}{deprecated};"
                    );
                }
            }
        }
        Ok(())
    }

    /// A field number above `after`: usually the next, sometimes a jump (past the reserved
    /// 19000-19999, or near the largest allowed, 536870911).
    fn next_number(&mut self, after: u32) -> Result<u32> {
        let n = match self.u.int_in_range(0..=9)? {
            0 if after < 100_000_000 => after + self.u.int_in_range(2..=5000)?,
            1 if after < 536_870_000 => 536_870_000,
            _ => after + 1,
        };
        Ok(if (19_000..=19_999).contains(&n) {
            20_000
        } else {
            n
        })
    }

    /// A scalar, an enum, a message or a well-known type.
    fn value_type(&mut self) -> Result<String> {
        Ok(match self.u.int_in_range(0..=5)? {
            0..=2 => (*self.u.choose(SCALARS)?).to_owned(),
            3 => {
                let (name, file) = *self.u.choose(WELL_KNOWN)?;
                self.imports.insert(file);
                format!(".{name}")
            }
            _ => {
                // proto3 messages may not use proto2 enums and vice versa; one file has one
                // syntax, so any declaration will do.
                let ix = self.u.choose_index(self.decls.len())?;
                self.decls[ix].full.clone()
            }
        })
    }

    fn services(&mut self) -> Result<()> {
        let messages: Vec<String> = self
            .decls
            .iter()
            .filter(|d| !d.is_enum)
            .map(|d| d.full.clone())
            .collect();
        let mut scope: HashSet<String> = self
            .decls
            .iter()
            .filter(|d| d.parent.is_none())
            .map(|d| d.name.to_lowercase())
            .collect();
        for _ in 0..self.u.int_in_range(0..=3)? {
            let name = self.type_name(&mut scope)?;
            self.comment("")?;
            let _ = writeln!(self.out, "service {name} {{");
            let mut methods = HashSet::new();
            for _ in 0..self.u.int_in_range(0..=4)? {
                let mut method = if self.u.ratio(1, 2)? {
                    (*self.u.choose(METHOD_NAMES)?).to_owned()
                } else {
                    capitalised(&self.raw_ident(false)?)
                };
                while !methods.insert(method.clone()) {
                    method.push('2');
                }
                let mut side = || -> Result<String> {
                    let stream = if self.u.ratio(1, 3)? { "stream " } else { "" };
                    let ty = if self.u.ratio(1, 5)? {
                        self.imports.insert("google/protobuf/empty.proto");
                        ".google.protobuf.Empty".to_owned()
                    } else {
                        self.u.choose(&messages)?.clone()
                    };
                    Ok(format!("{stream}{ty}"))
                };
                let (input, output) = (side()?, side()?);
                self.comment("  ")?;
                if self.u.ratio(1, 6)? {
                    let _ = writeln!(
                        self.out,
                        "  rpc {method}({input}) returns ({output}) {{ option deprecated = true; }}"
                    );
                } else {
                    let _ = writeln!(self.out, "  rpc {method}({input}) returns ({output});");
                }
            }
            let _ = writeln!(self.out, "}}");
        }
        Ok(())
    }

    /// Sometimes a leading comment, which prost and tonic turn into doc attributes.
    fn comment(&mut self, indent: &str) -> Result<()> {
        if !self.u.ratio(1, 4)? {
            return Ok(());
        }
        let len = self.u.int_in_range(0..=40)?;
        let mut text = String::new();
        for _ in 0..len {
            let c = match self.u.int_in_range(0..=9)? {
                0 => *self
                    .u
                    .choose(&['`', '"', '\\', '*', '/', '[', ']', '<', '>', '#'])?,
                _ => char::from(self.u.int_in_range(0x20u8..=0x7e)?),
            };
            text.push(c);
        }
        let _ = writeln!(self.out, "{indent}// {text}");
        Ok(())
    }

    fn type_name(&mut self, scope: &mut HashSet<String>) -> Result<String> {
        let mut name = if self.u.ratio(1, 2)? {
            (*self.u.choose(TYPE_NAMES)?).to_owned()
        } else {
            capitalised(&self.raw_ident(false)?)
        };
        while !scope.insert(name.to_lowercase()) {
            name.push('X');
        }
        Ok(name)
    }

    fn field_name(&mut self, scope: &mut HashSet<String>) -> Result<String> {
        let mut name = if self.u.ratio(1, 3)? {
            (*self.u.choose(FIELD_NAMES)?).to_owned()
        } else {
            self.raw_ident(false)?.to_lowercase()
        };
        while !scope.insert(name.to_lowercase()) {
            name.push('x');
        }
        Ok(name)
    }

    /// A random identifier: a letter, then letters, digits and underscores.
    fn raw_ident(&mut self, upper: bool) -> Result<String> {
        const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
        let mut s = String::new();
        s.push(char::from(*self.u.choose(FIRST)?));
        for _ in 0..self.u.int_in_range(0..=7)? {
            s.push(char::from(*self.u.choose(REST)?));
        }
        Ok(if upper { s.to_uppercase() } else { s })
    }
}

/// `FooBar` -> `FOO_BAR`.
fn screaming(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}
