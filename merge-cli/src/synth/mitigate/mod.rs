//! What `build` mends in the copies, from `check`'s findings, each reported as a note (the
//! allocators removed as a warning):
//!
//! - a logger or tracing initialisation that two members make (`.init()`, `fmt::init()`,
//!   `env_logger::init()`) becomes `try_init()`: the first wins, the later ones succeed and
//!   say once that they were skipped. The edit is the same for every member, so it is made in
//!   the copy of a local package several members share too;
//! - an environment key two members read (`env::var("PORT")`, clap's `env = "PORT"` and its
//!   bare `env`, which reads the field's name upper-cased) is namespaced per member: the copy
//!   reads `<MEMBER>_PORT`, which the merged binary's main sets from `PORT` when it is not set
//!   itself. Only in a package of that member alone: a shared package's copy is every owner's,
//!   so its reads are left as they are (and not said to be mended);
//! - of several `#[global_allocator]`s one is kept (one in a shared package if there is one,
//!   else the first member's by name), the others' attributes are removed where the copy is
//!   the member's alone; one in another shared package cannot be removed and is not mended.

//!
//! The plan is made here, from the findings and where their files lie (`plan`); the edits of
//! one file of a copy that carry it out are `edits.rs`'s.

mod edits;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use merge_analyzer::check::{Finding, Severity};
use merge_analyzer::codes::CheckCode;

pub use edits::edits;

/// What to mend in one member's copies.
#[derive(Debug, Clone, Default)]
pub struct Member {
    /// Make global logger and tracing initialisations tolerate a second one.
    pub soften_inits: bool,
    /// Environment keys this member reads under `<PREFIX>_<KEY>`.
    pub env_keys: BTreeSet<String>,
    pub prefix: String,
    /// Remove its `#[global_allocator]` attributes.
    pub drop_allocator: bool,
}

/// The mitigations of a group: per member, and the notes that say what was done.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub members: BTreeMap<String, Member>,
    pub notes: Vec<String>,
    /// What was done that build says as a warning: the `#[global_allocator]`s removed.
    pub warnings: Vec<String>,
    /// (`<MEMBER>_<KEY>`, `<KEY>`): the merged main fills the first from the second.
    pub env_fallbacks: Vec<(String, String)>,
    /// Where the findings lie.
    places: Places,
    /// The `#[global_allocator]` kept: its member, and where it is.
    kept_allocator: Option<(String, Place)>,
}

/// Where a finding's file lies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    /// In a local package of its member alone (or in no known package): its copy is that
    /// member's, and can be edited for it.
    Own,
    /// In the local package of this name, which several members have: one copy for all of
    /// them, so only an edit that suits every one of them can be made there.
    Shared(String),
}

/// Which members have each local package: where a finding lies, and whose a copy is.
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// Member -> its package's folder (`Member::root`), normalized.
    roots: BTreeMap<String, PathBuf>,
    /// Local package folder, normalized -> (its package name, the members that have it).
    packages: BTreeMap<PathBuf, (String, BTreeSet<String>)>,
}

impl Places {
    /// Member `member`, whose package's folder is `root`, has the local packages `packages`
    /// (folder, package name).
    pub fn add(
        &mut self,
        member: &str,
        root: &Path,
        packages: impl IntoIterator<Item = (PathBuf, String)>,
    ) {
        self.roots
            .insert(member.to_owned(), super::layout::normalize(root));
        for (dir, name) in packages {
            self.packages
                .entry(super::layout::normalize(&dir))
                .or_insert_with(|| (name, BTreeSet::new()))
                .1
                .insert(member.to_owned());
        }
    }

    /// The members that have the local package in `dir`.
    pub fn owners(&self, dir: &Path) -> BTreeSet<String> {
        self.packages
            .get(&super::layout::normalize(dir))
            .map(|(_, who)| who.clone())
            .unwrap_or_default()
    }

    /// Where finding `f` lies: its file (relative to its member's package folder) in the
    /// innermost local package of that member holding it.
    pub fn of(&self, f: &Finding) -> Place {
        let (Some(root), Some(file)) = (self.roots.get(&f.member), &f.file) else {
            return Place::Own;
        };
        let path = super::layout::normalize(&root.join(file));
        self.packages
            .iter()
            .filter(|(dir, (_, who))| who.contains(&f.member) && path.starts_with(dir))
            .max_by_key(|(dir, _)| dir.components().count())
            .map_or(Place::Own, |(_, (name, who))| {
                if who.len() > 1 {
                    Place::Shared(name.clone())
                } else {
                    Place::Own
                }
            })
    }

    /// The members that have the local package named `package`.
    fn owners_of_package(&self, package: &str) -> BTreeSet<String> {
        self.packages
            .values()
            .filter(|(name, _)| name == package)
            .flat_map(|(_, who)| who.iter().cloned())
            .collect()
    }
}

impl Member {
    /// The key this member's copies read instead of `key`: `ALPHA_PORT` for `PORT`.
    pub fn namespaced(&self, key: &str) -> String {
        format!("{}_{key}", self.prefix)
    }
}

impl Plan {
    /// The environment variables member `member` reads (`keys`: the literal keys of its
    /// sources, `merge_analyzer::check::Checked::env_keys`), as its copies read them: a key
    /// namespaced for it under its `<MEMBER>_<KEY>`, which falls back to the key.
    pub fn reads(&self, member: &str, keys: BTreeSet<String>) -> Vec<super::main_rs::EnvRead> {
        let mended = self.members.get(member);
        let mut out: Vec<super::main_rs::EnvRead> = keys
            .into_iter()
            .map(|key| match mended.filter(|m| m.env_keys.contains(&key)) {
                Some(m) => super::main_rs::EnvRead {
                    key: m.namespaced(&key),
                    fallback: Some(key),
                },
                None => super::main_rs::EnvRead {
                    key,
                    fallback: None,
                },
            })
            .collect();
        out.sort();
        out
    }

    /// Whether `build` mends finding `f` (see [`mends`]), given where it lies.
    pub fn mends(&self, f: &Finding) -> bool {
        mends(
            f,
            &self.places.of(f),
            self.kept_allocator.as_ref().map(|(_, p)| p),
        )
    }

    /// What to mend in the copy of the local package in `dir`: its one owner's mitigations,
    /// or, for a package several members share, only what is the same edit for every one of
    /// them: its initialisations softened when any of its owners needs it (namespaced keys
    /// and removed allocators are one member's, and its copy is everyone's).
    pub fn for_copy(&self, dir: &Path) -> Option<Member> {
        let owners = self.places.owners(dir);
        let mut who = owners.iter();
        let first = who.next()?;
        if who.next().is_none() {
            return self.members.get(first).cloned();
        }
        owners
            .iter()
            .any(|o| self.members.get(o).is_some_and(|m| m.soften_inits))
            .then(|| Member {
                soften_inits: true,
                ..Member::default()
            })
    }
}

/// Whether `build` mends finding `f`, which lies at `place`, when the `#[global_allocator]`
/// kept is at `kept`: an initialisation where the copy can call `try_init` instead
/// (`tracing_subscriber`'s and `env_logger`'s `init`, in a member's own package or a shared
/// one), not `log::set_logger` or `set_global_default`, whose error the member's own code
/// handles (or unwraps); an environment key read in a package of the member alone; an
/// allocator in a package of the member alone (kept or removed) or the one kept.
pub fn mends(f: &Finding, place: &Place, kept: Option<&Place>) -> bool {
    match f.code {
        CheckCode::GlobalAllocator => *place == Place::Own || kept == Some(place),
        CheckCode::EnvVarCollision => *place == Place::Own,
        CheckCode::GlobalTracingInit | CheckCode::GlobalLoggerInit => softens(f),
        _ => false,
    }
}

/// Whether the initialisation of finding `f` is one a copy can make `try_init`.
fn softens(f: &Finding) -> bool {
    f.subject
        .as_deref()
        .is_some_and(merge_analyzer::check::softenable)
}

/// `ALPHA` for member `alpha`, `ORDER_SVC` for `order-svc`.
pub fn prefix(member: &str) -> String {
    member
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// What build mends of `findings`, whose files lie where `places` says.
pub fn plan(findings: &[Finding], places: Places) -> Plan {
    let mut out = Plan::default();
    // (member, where) of each #[global_allocator].
    let mut allocators: BTreeSet<(String, Place)> = BTreeSet::new();
    for f in findings {
        match (f.code, f.severity) {
            // A note: only one member initialises, nothing to mend.
            (
                CheckCode::GlobalTracingInit | CheckCode::GlobalLoggerInit,
                Severity::Error | Severity::Warning,
            ) if softens(f) => {
                out.members
                    .entry(f.member.clone())
                    .or_default()
                    .soften_inits = true;
            }
            // Only reported when several members define one.
            (CheckCode::GlobalAllocator, _) => {
                allocators.insert((f.member.clone(), places.of(f)));
            }
            (CheckCode::EnvVarCollision, _) if places.of(f) == Place::Own => {
                if let Some(key) = &f.subject {
                    let m = out.members.entry(f.member.clone()).or_default();
                    m.env_keys.insert(key.clone());
                }
            }
            _ => {}
        }
    }
    // One in a shared package cannot be removed: keep it (the first member's, by name, when
    // none is shared).
    let kept = allocators
        .iter()
        .find(|(_, p)| *p != Place::Own)
        .or_else(|| allocators.iter().next())
        .cloned();
    if let Some((member, place)) = &kept {
        let what = match place {
            Place::Own => format!("`{member}`'s"),
            Place::Shared(package) => {
                let who: Vec<String> = places
                    .owners_of_package(package)
                    .iter()
                    .map(|o| format!("`{o}`"))
                    .collect();
                format!("the one of `{package}` (shared by {})", who.join(", "))
            }
        };
        for (m, _) in allocators
            .iter()
            .filter(|a| a.1 == Place::Own && Some(*a) != kept.as_ref())
        {
            out.members.entry(m.clone()).or_default().drop_allocator = true;
            out.warnings.push(format!(
                "{}: one binary has one #[global_allocator]: kept {what}, removed `{m}`'s",
                CheckCode::GlobalAllocator
            ));
        }
    }
    out.kept_allocator = kept;
    for (name, m) in out.members.iter_mut() {
        m.prefix = prefix(name);
        if m.soften_inits {
            out.notes.push(format!(
                "global logger/tracing initialisation of `{name}` tolerates another one (the first wins)"
            ));
        }
        for key in &m.env_keys {
            let namespaced = m.namespaced(key);
            out.notes.push(format!(
                "{}: `{name}` reads `{namespaced}` (set from `{key}` when unset)",
                CheckCode::EnvVarCollision
            ));
            out.env_fallbacks.push((namespaced, key.clone()));
        }
    }
    out.env_fallbacks.sort();
    out.places = places;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(code: &'static str, severity: Severity, member: &str, file: &str) -> Finding {
        Finding {
            code: CheckCode::from_name(code).expect("a check code"),
            severity,
            group: "g".to_owned(),
            member: member.to_owned(),
            file: Some(PathBuf::from(file)),
            line: Some(1),
            column: Some(1),
            message: String::new(),
            help: String::new(),
            source: None,
            subject: None,
        }
    }

    fn about(f: Finding, subject: &str) -> Finding {
        Finding {
            subject: Some(subject.to_owned()),
            ..f
        }
    }

    /// alpha (/w/alpha) and beta (/w/beta) share `common` (/w/common); gamma (/w/gamma) and
    /// delta (/w/delta) share `util` (/w/util).
    fn places() -> Places {
        let mut p = Places::default();
        let w = |d: &str| PathBuf::from(format!("/w/{d}"));
        for (m, shared) in [
            ("alpha", "common"),
            ("beta", "common"),
            ("gamma", "util"),
            ("delta", "util"),
        ] {
            p.add(
                m,
                &w(m),
                [(w(m), m.to_owned()), (w(shared), shared.to_owned())],
            );
        }
        p
    }

    pub(super) fn apply(text: &str, m: &Member) -> String {
        let file = syn::parse_file(text).expect("parses");
        let out = super::super::source::apply_edits(text, edits(&file, m));
        syn::parse_file(&out).expect("still Rust");
        out
    }

    #[test]
    fn a_shared_packages_copy_softens_inits_and_keeps_its_keys() {
        let init = |m| {
            about(
                finding(
                    "global-tracing-init",
                    Severity::Error,
                    m,
                    "../common/src/lib.rs",
                ),
                "tracing_subscriber::fmt::init",
            )
        };
        let read = |m, file| {
            about(
                finding("env-var-collision", Severity::Warning, m, file),
                "PORT",
            )
        };
        let findings = [
            init("alpha"),
            init("beta"),
            read("alpha", "src/main.rs"),
            read("beta", "../common/src/lib.rs"),
        ];
        let plan = plan(&findings, places());
        // The shared copy: the init softened for both, its key left as it is.
        let common = plan.for_copy(Path::new("/w/common")).expect("softened");
        assert!(common.soften_inits && common.env_keys.is_empty() && !common.drop_allocator);
        let out = apply(
            "pub fn init() { tracing_subscriber::fmt().init(); let _ = std::env::var(\"PORT\"); }\n",
            &common,
        );
        assert!(out.contains("fmt().try_init().map_or_else("), "{out}");
        assert!(out.contains("var(\"PORT\")"), "{out}");
        // Each member's own copy: alpha's key namespaced, beta's read (shared) not.
        let alpha = plan.for_copy(Path::new("/w/alpha")).expect("alpha's");
        assert_eq!(alpha.env_keys, BTreeSet::from(["PORT".to_owned()]));
        let beta = plan.for_copy(Path::new("/w/beta")).expect("beta's");
        assert!(beta.soften_inits && beta.env_keys.is_empty());
        // A package nobody's findings touch gets nothing.
        assert!(plan.for_copy(Path::new("/w/util")).is_none());
        assert!(plan.for_copy(Path::new("/w/elsewhere")).is_none());
        // What is mended, and said to be.
        let mended: Vec<bool> = findings.iter().map(|f| plan.mends(f)).collect();
        assert_eq!(mended, [true, true, true, false]);
        assert!(
            plan.notes
                .iter()
                .any(|n| n.contains("`alpha` reads `ALPHA_PORT`"))
                && !plan.notes.iter().any(|n| n.contains("BETA_PORT")),
            "{:?}",
            plan.notes
        );
        assert_eq!(
            plan.env_fallbacks,
            [("ALPHA_PORT".to_owned(), "PORT".to_owned())]
        );
        assert_eq!(
            places().of(&finding(
                "static-mut",
                Severity::Note,
                "beta",
                "src/../../common/x.rs"
            )),
            Place::Shared("common".to_owned())
        );
    }

    #[test]
    fn warned_inits_are_softened_and_noted_ones_are_not() {
        let init = |severity, m: &str, callee: &str| {
            about(
                finding("global-tracing-init", severity, m, "src/main.rs"),
                callee,
            )
        };
        let findings = [
            init(Severity::Warning, "alpha", "tracing_subscriber::fmt::init"),
            about(
                finding(
                    "global-logger-init",
                    Severity::Warning,
                    "beta",
                    "src/main.rs",
                ),
                "env_logger::Builder::new::init",
            ),
            init(Severity::Note, "gamma", "tracing_subscriber::fmt::init"),
            init(
                Severity::Error,
                "delta",
                "tracing::subscriber::set_global_default",
            ),
        ];
        let plan = plan(&findings, places());
        let softened: Vec<&str> = plan
            .members
            .iter()
            .filter(|(_, m)| m.soften_inits)
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(softened, ["alpha", "beta"]);
        assert_eq!(plan.notes.len(), 2, "{:?}", plan.notes);
        let mended: Vec<bool> = findings.iter().map(|f| plan.mends(f)).collect();
        assert_eq!(mended, [true, true, true, false]);
    }

    #[test]
    fn removed_allocators_are_warnings_naming_the_one_kept() {
        let alloc = |severity, m, file| finding("global-allocator", severity, m, file);
        // Two members' own allocators, of any severity: the first by name is kept.
        let findings = [
            alloc(Severity::Warning, "beta", "src/main.rs"),
            alloc(Severity::Error, "alpha", "src/main.rs"),
        ];
        let p = plan(&findings, places());
        assert_eq!(
            p.warnings,
            [
                "global-allocator: one binary has one #[global_allocator]: kept `alpha`'s, removed `beta`'s"
            ]
        );
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        assert!(p.members["beta"].drop_allocator && !p.members.contains_key("alpha"));
        assert!(findings.iter().all(|f| p.mends(f)));
        // One in a shared package is the one kept: it cannot be removed.
        let findings = [
            alloc(Severity::Error, "alpha", "src/main.rs"),
            alloc(Severity::Error, "gamma", "../util/src/lib.rs"),
            alloc(Severity::Error, "delta", "../util/src/lib.rs"),
        ];
        let p = plan(&findings, places());
        assert_eq!(
            p.warnings,
            [
                "global-allocator: one binary has one #[global_allocator]: kept the one of `util` \
              (shared by `delta`, `gamma`), removed `alpha`'s"
            ]
        );
        assert!(p.members["alpha"].drop_allocator);
        assert!(p.for_copy(Path::new("/w/util")).is_none());
        assert!(findings.iter().all(|f| p.mends(f)));
        // A second shared one cannot go either: not mended.
        let findings = [
            alloc(Severity::Error, "alpha", "../common/src/lib.rs"),
            alloc(Severity::Error, "beta", "../common/src/lib.rs"),
            alloc(Severity::Error, "gamma", "../util/src/lib.rs"),
        ];
        let p = plan(&findings, places());
        let mended: Vec<bool> = findings.iter().map(|f| p.mends(f)).collect();
        assert_eq!(mended, [true, true, false]);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }
}
