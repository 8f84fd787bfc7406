//! gRPC method paths.

use std::fmt;

/// A gRPC method path, `/package.Service/Method`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MethodPath(String);

impl MethodPath {
    /// Checks the `/package.Service/Method` shape.
    pub fn parse(path: &str) -> Option<MethodPath> {
        let rest = path.strip_prefix('/')?;
        let (service, method) = rest.split_once('/')?;
        let ok = |s: &str| !s.is_empty() && !s.contains('/');
        (ok(service) && ok(method)).then(|| MethodPath(path.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `package.Service`.
    pub fn service(&self) -> &str {
        self.0[1..].split_once('/').map_or("", |(s, _)| s)
    }

    /// `Method`.
    pub fn method(&self) -> &str {
        self.0[1..].split_once('/').map_or("", |(_, m)| m)
    }
}

impl fmt::Display for MethodPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::MethodPath;

    #[test]
    fn method_paths_split_into_service_and_method() {
        let p = MethodPath::parse("/shop.Pricing/Quote").expect("valid path");
        assert_eq!(p.service(), "shop.Pricing");
        assert_eq!(p.method(), "Quote");
        for bad in [
            "",
            "/",
            "shop.Pricing/Quote",
            "/shop.Pricing/",
            "//Quote",
            "/a/b/c",
        ] {
            assert_eq!(MethodPath::parse(bad), None, "{bad:?}");
        }
    }
}
