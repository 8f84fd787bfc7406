//! `merge-manifest.json`, written by `build` beside each group's merged workspace: what a
//! release platform reads to ship the merged binary and to build it again. A versioned schema
//! (`format_version`), in the spirit of cargo-dist's `dist-manifest.json`: the binary (path,
//! sha256, target), each member as merge.lock records it (package version, commit, Cargo.lock
//! and .proto hashes, isolation decisions), check's summary, the plan's hash, cargo-merge's
//! version and the command that builds it again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use merge_analyzer::check::Severity;
use serde::Serialize;

use crate::synth::protos::sha256;
use merge_analyzer::lock::Record;

/// The file's name, in `<out>/<group>/`.
pub const FILE: &str = "merge-manifest.json";

/// This schema's version: a reader refuses a larger one.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Manifest {
    /// Always `cargo-merge-manifest`.
    pub format: &'static str,
    pub format_version: u32,
    pub cargo_merge_version: &'static str,
    pub group: String,
    pub binary: Binary,
    pub plan: Hashed,
    pub build: Settings,
    pub members: Vec<Record>,
    pub check: Summary,
}

#[derive(Debug, Serialize)]
pub struct Binary {
    pub path: PathBuf,
    pub sha256: String,
    /// The target triple it runs on.
    pub target: String,
}

/// A file and the sha256 of its bytes.
#[derive(Debug, Serialize)]
pub struct Hashed {
    pub path: PathBuf,
    pub sha256: String,
}

/// How it was built: enough, with the members' commits, to build it again.
#[derive(Debug, Serialize)]
pub struct Settings {
    /// `debug` or `release`.
    pub profile: &'static str,
    pub isolation: &'static str,
    pub features: Vec<String>,
    /// Check codes let through (`--allow`).
    pub allow: Vec<String>,
    /// `rustc -V`, when it answers.
    pub rustc: Option<String>,
    /// The command that builds it again, from the plan's folder.
    pub command: Vec<String>,
}

/// What check found in the group, by severity and by code.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
    pub codes: BTreeMap<String, usize>,
}

impl Summary {
    pub fn of(findings: &[(&'static str, Severity)]) -> Summary {
        let mut s = Summary::default();
        for (code, severity) in findings {
            match severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Note => s.notes += 1,
            }
            *s.codes.entry((*code).to_owned()).or_default() += 1;
        }
        s
    }
}

/// What a build knows of how it built.
#[derive(Debug)]
pub struct Build<'a> {
    pub plan: &'a Path,
    pub release: bool,
    pub target: Option<&'a str>,
    pub isolation: &'static str,
    pub features: &'a [String],
    pub allow: &'a BTreeSet<String>,
}

impl Build<'_> {
    /// The manifest of `group`, built into `binary`.
    pub fn manifest(
        &self,
        group: &str,
        binary: &Path,
        members: Vec<Record>,
        findings: &[(&'static str, Severity)],
    ) -> anyhow::Result<Manifest> {
        let bytes = std::fs::read(binary)
            .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", binary.display()))?;
        let plan = std::fs::read(self.plan)
            .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", self.plan.display()))?;
        // rustc is asked once per process (what check reads of the host, too).
        let host = merge_analyzer::host::Host::get();
        let rustc_version = host.and_then(|h| h.version()).map(str::to_owned);
        let target = match self.target {
            Some(t) => t.to_owned(),
            None => host.map(|h| h.triple().to_owned()).unwrap_or_default(),
        };
        let plan_name = self
            .plan
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "merge.toml".to_owned());
        let mut command: Vec<String> = [
            "cargo", "merge", "build", "--plan", &plan_name, "--group", group,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        command.extend(["--isolation".to_owned(), self.isolation.to_owned()]);
        if self.release {
            command.push("--release".to_owned());
        }
        if let Some(t) = self.target {
            command.extend(["--target".to_owned(), t.to_owned()]);
        }
        for f in self.features {
            command.extend(["--features".to_owned(), f.clone()]);
        }
        for a in self.allow {
            command.extend(["--allow".to_owned(), a.clone()]);
        }
        Ok(Manifest {
            format: "cargo-merge-manifest",
            format_version: FORMAT_VERSION,
            cargo_merge_version: env!("CARGO_PKG_VERSION"),
            group: group.to_owned(),
            binary: Binary {
                path: binary.to_path_buf(),
                sha256: sha256(&bytes),
                target,
            },
            plan: Hashed {
                path: self.plan.to_path_buf(),
                sha256: sha256(&plan),
            },
            build: Settings {
                profile: if self.release { "release" } else { "debug" },
                isolation: self.isolation,
                features: self.features.to_vec(),
                allow: self.allow.iter().cloned().collect(),
                rustc: rustc_version,
                command,
            },
            members,
            check: Summary::of(findings),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_by_severity_and_code() {
        let s = Summary::of(&[
            ("global-tracing-init", Severity::Warning),
            ("global-tracing-init", Severity::Warning),
            ("unsupported-tonic", Severity::Error),
            ("serve-layer", Severity::Note),
        ]);
        assert_eq!((s.errors, s.warnings, s.notes), (1, 2, 1));
        assert_eq!(s.codes["global-tracing-init"], 2);
        assert_eq!(Summary::of(&[]), Summary::default());
    }

    #[test]
    fn the_manifest_hashes_the_binary_and_plan_and_says_how_to_build_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let binary = dir.path().join("shop");
        let plan = dir.path().join("merge.toml");
        std::fs::write(&binary, b"abc").expect("binary");
        std::fs::write(&plan, b"").expect("plan");
        let allow = BTreeSet::from(["unsupported-tonic".to_owned()]);
        let build = Build {
            plan: &plan,
            release: true,
            target: Some("aarch64-unknown-linux-gnu"),
            isolation: "exact",
            features: &[],
            allow: &allow,
        };
        let m = build
            .manifest("shop", &binary, Vec::new(), &[])
            .expect("manifest");
        assert_eq!(
            m.binary.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(m.binary.target, "aarch64-unknown-linux-gnu");
        assert_eq!(
            m.plan.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            m.build.command.join(" "),
            "cargo merge build --plan merge.toml --group shop --isolation exact --release --target aarch64-unknown-linux-gnu --allow unsupported-tonic"
        );
        let json = serde_json::to_value(&m).expect("JSON");
        assert_eq!(json["format"], "cargo-merge-manifest");
        assert_eq!(json["format_version"], FORMAT_VERSION);
        assert_eq!(json["build"]["profile"], "release");
        // A binary that is not there is an error, not a manifest.
        assert!(
            build
                .manifest("shop", &dir.path().join("nope"), Vec::new(), &[])
                .is_err()
        );
    }
}
