//! The platform this machine builds for (`rustc -vV` and `rustc --print cfg`), to tell which
//! target-specific dependencies (`[target.'cfg(windows)'.dependencies]`) a build here links.

use std::process::Command;
use std::sync::OnceLock;

use cargo_platform::{Cfg, Platform};

/// The host's target triple and `cfg` values.
#[derive(Debug, Clone)]
pub struct Host {
    triple: String,
    cfgs: Vec<Cfg>,
    /// `rustc -V`'s line (empty when not asked of rustc).
    version: String,
}

impl Host {
    /// The host, asked of `$RUSTC` (or `rustc`) once per process; nothing when rustc cannot be
    /// run or answers in a way this does not read.
    pub fn get() -> Option<&'static Host> {
        static HOST: OnceLock<Option<Host>> = OnceLock::new();
        HOST.get_or_init(Host::detect).as_ref()
    }

    fn detect() -> Option<Host> {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let run = |args: &[&str]| -> Option<String> {
            let out = Command::new(&rustc).args(args).output().ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let version = run(&["-vV"])?;
        let triple = version
            .lines()
            .find_map(|l| l.strip_prefix("host: "))?
            .trim()
            .to_owned();
        let mut host = Host::new(triple, &run(&["--print", "cfg"])?)?;
        host.version = version.lines().next().unwrap_or_default().trim().to_owned();
        Some(host)
    }

    /// A host from its triple and `rustc --print cfg`'s lines.
    pub fn new(triple: String, cfg_lines: &str) -> Option<Host> {
        let cfgs = cfg_lines
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.parse::<Cfg>().ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Host {
            triple,
            cfgs,
            version: String::new(),
        })
    }

    /// Its target triple (`x86_64-unknown-linux-gnu`).
    pub fn triple(&self) -> &str {
        &self.triple
    }

    /// The compiler's version line (`rustc 1.95.0 (59807616e 2026-04-14)`), when known.
    pub fn version(&self) -> Option<&str> {
        (!self.version.is_empty()).then_some(self.version.as_str())
    }

    /// Whether a dependency for `platform` (none: every platform) is built here.
    pub fn builds(&self, platform: Option<&Platform>) -> bool {
        platform.is_none_or(|p| p.matches(&self.triple, &self.cfgs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_dependencies_are_matched_against_the_host() {
        let host = Host::new(
            "x86_64-unknown-linux-gnu".to_owned(),
            "target_os=\"linux\"\nunix\ntarget_pointer_width=\"64\"\n",
        )
        .expect("a host");
        let platform = |s: &str| s.parse::<Platform>().expect("a platform");
        assert!(host.builds(None));
        assert!(host.builds(Some(&platform("cfg(unix)"))));
        assert!(!host.builds(Some(&platform("cfg(windows)"))));
        assert!(!host.builds(Some(&platform("cfg(target_os = \"macos\")"))));
        assert!(host.builds(Some(&platform("x86_64-unknown-linux-gnu"))));
        assert!(!host.builds(Some(&platform("aarch64-apple-darwin"))));
    }
}
