//! Members at revisions. A plan member may name a git repository instead of a folder
//! (`git = "URL or path"`, with `rev`, `tag` or `branch`, and `manifest` a path in the
//! repository). It is fetched into a cache under the output folder and checked out there at
//! the commit its pin names, or at the newest version tag with `track = "latest-tag"`; the
//! plan file then knows its manifest in the checkout (`PlanFile::checkouts`), so everything
//! after reads it as a local folder. Nothing is written outside the output folder.
//!
//! The `git` program does the fetching (a member's repository may need the user's
//! credentials and configuration, which git already has).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{ImportError, InputCode, InputError, Problems};
use crate::git::{GitError, run as git};
use crate::members::PlanFile;
use crate::plan::{PlanService, Track};

/// Which commit of its repository a git member is built at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    Rev(String),
    Tag(String),
    Branch(String),
    /// The repository's default branch (no pin given).
    Head,
    /// The newest version tag (`track = "latest-tag"`).
    LatestTag,
}

impl Pin {
    /// The pin a plan service gives, or why it gives none that holds.
    pub fn of(s: &PlanService) -> Result<Pin, PinError> {
        let given: Vec<(&str, &String)> = [("rev", &s.rev), ("tag", &s.tag), ("branch", &s.branch)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
            .collect();
        if let Some((k, v)) = given
            .iter()
            .find(|(_, v)| v.is_empty() || v.starts_with('-'))
        {
            return Err(PinError::NotPin {
                key: k,
                value: (*v).clone(),
            });
        }
        match (given.as_slice(), s.track) {
            ([], Track::Pinned) => Ok(Pin::Head),
            ([], Track::LatestTag) => Ok(Pin::LatestTag),
            ([(k, _)], Track::LatestTag) => Err(PinError::PinWithLatestTag(k)),
            ([("rev", v)], _) => Ok(Pin::Rev((*v).clone())),
            ([("tag", v)], _) => Ok(Pin::Tag((*v).clone())),
            ([(_, v)], _) => Ok(Pin::Branch((*v).clone())),
            _ => Err(PinError::Several),
        }
    }

    /// How merge.lock and status say it: `rev = ..`, `tag = ..`, `branch = ..`, `HEAD`,
    /// `latest-tag`.
    pub fn describe(&self) -> String {
        match self {
            Pin::Rev(r) => format!("rev {r}"),
            Pin::Tag(t) => format!("tag {t}"),
            Pin::Branch(b) => format!("branch {b}"),
            Pin::Head => "HEAD".to_owned(),
            Pin::LatestTag => "latest-tag".to_owned(),
        }
    }
}

/// Why a plan service's pin does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error(
        "`{key} = {value:?}` is not a pin: a commit, tag or branch name, not empty and not starting with `-`"
    )]
    NotPin { key: &'static str, value: String },
    #[error("`track = \"latest-tag\"` follows the newest tag: give no `{0}` with it")]
    PinWithLatestTag(&'static str),
    #[error("give one of `rev`, `tag` and `branch`, not several")]
    Several,
}

/// Why a git member could not be fetched or checked out.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("`{0}` was never fetched, and --offline forbids it now")]
    Offline(String),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("its submodules: {0}")]
    Submodules(#[source] GitError),
    #[error("no {kind} `{name}` in the repository")]
    Missing { kind: &'static str, name: String },
    #[error("the repository has no commit at HEAD")]
    NoHead,
    #[error(
        "`track = \"latest-tag\"`, but the repository has no version tag (`v1.2.3` or `1.2.3`)"
    )]
    NoVersionTag,
    /// A file operation on the cache or a checkout; `doing` says which ("create `dir`").
    #[error("cannot {doing}: {source}")]
    Io {
        doing: String,
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    fn io(doing: String, source: std::io::Error) -> Self {
        FetchError::Io { doing, source }
    }

    fn missing(kind: &'static str, name: &str) -> Self {
        FetchError::Missing {
            kind,
            name: name.to_owned(),
        }
    }
}

/// A git member, checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub member: String,
    /// The repository as the plan names it.
    pub git: String,
    pub pin: Pin,
    /// The tag the newest-tag policy chose, or the tag pinned.
    pub tag: Option<String>,
    pub commit: String,
    /// The checkout's folder.
    pub checkout: PathBuf,
    /// Version tags newer than the one it is at (by version order), newest first.
    pub newer_tags: Vec<String>,
}

/// Fetching rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fetch {
    /// Use the cache as it is: no network.
    pub offline: bool,
}

/// Checks out every git member of `groups` under `out/.sources/`, and records its manifest
/// in the checkout in `plan.checkouts`. Members given as folders are left as they are.
pub fn checkout(
    plan: &mut PlanFile,
    groups: &[String],
    out: &Path,
    fetch: Fetch,
) -> Result<Vec<Source>, ImportError> {
    let mut problems = Problems::default();
    let mut sources = Vec::new();
    let wanted: Vec<String> = plan
        .plan
        .group
        .iter()
        .filter(|g| groups.contains(&g.name))
        .flat_map(|g| g.members.iter().cloned())
        .collect();
    // One fetch per repository, however many members it holds.
    let mut fetched: BTreeMap<PathBuf, ()> = BTreeMap::new();
    for name in wanted {
        let Some(service) = plan.plan.service.get(&name).cloned() else {
            continue;
        };
        let Some(git) = service.git.clone() else {
            continue;
        };
        let line = plan.service_line(&name);
        let fail = |message: String, code: InputCode| {
            InputError::new(&plan.path, line, format!("member `{name}`: {message}")).code(code)
        };
        let pin = match Pin::of(&service) {
            Ok(p) => p,
            Err(e) => {
                problems.push(fail(e.to_string(), InputCode::InvalidValue));
                continue;
            }
        };
        let url = location(&plan.dir, &git);
        let cache = out.join(".sources").join("cache").join(cache_name(&url));
        let made = if fetched.contains_key(&cache) {
            Ok(())
        } else {
            update(&cache, &url, fetch)
        };
        if let Err(e) = made {
            problems.push(fail(e.to_string(), InputCode::Unreadable));
            continue;
        }
        fetched.insert(cache.clone(), ());
        let resolved = resolve(&cache, &pin);
        let (commit, tag) = match resolved {
            Ok(r) => r,
            Err(e) => {
                problems.push(fail(e.to_string(), InputCode::InvalidValue));
                continue;
            }
        };
        let checkout = out.join(".sources").join(&name).join(&commit);
        if let Err(e) = check_out(&cache, &commit, &checkout) {
            problems.push(fail(e.to_string(), InputCode::Unreadable));
            continue;
        }
        let in_repo = service
            .manifest
            .clone()
            .unwrap_or_else(|| "Cargo.toml".to_owned());
        plan.checkouts.insert(name.clone(), checkout.join(&in_repo));
        let newer_tags = newer_tags(&cache, tag.as_deref(), &commit);
        sources.push(Source {
            member: name.clone(),
            git,
            pin,
            tag,
            commit,
            checkout,
            newer_tags,
        });
    }
    problems.finish(sources)
}

/// A repository the plan names: a folder relative to the plan's (made absolute), else a URL.
fn location(plan_dir: &Path, git: &str) -> String {
    let local = plan_dir.join(git);
    if !git.contains("://") && !git.contains('@') && local.is_dir() {
        crate::paths::normalize(&local).display().to_string()
    } else {
        git.to_owned()
    }
}

/// The cache folder of a repository: its last path segment and a hash of its location.
fn cache_name(url: &str) -> String {
    let last = url
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .trim_end_matches(".git");
    let slug: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // FNV-1a: stable across runs and versions (a std hasher is not).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in url.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{slug}-{h:016x}.git")
}

/// The cache of `url` at `cache` (a mirror), made or brought up to date.
fn update(cache: &Path, url: &str, fetch: Fetch) -> Result<(), FetchError> {
    if cache.join("HEAD").is_file() {
        if !fetch.offline {
            git(
                Some(cache),
                &["fetch", "--quiet", "--prune", "--tags", "origin"],
            )?;
        }
        return Ok(());
    }
    if fetch.offline {
        return Err(FetchError::Offline(url.to_owned()));
    }
    // Into a temporary folder first: a failed clone leaves no half-made cache.
    let tmp = temporary_beside(cache, ".fetching-")?;
    let into = tmp.path().join("repo.git");
    let into_text = into.display().to_string();
    git(
        None,
        &["clone", "--quiet", "--mirror", "--", url, &into_text],
    )?;
    match std::fs::rename(&into, cache) {
        Ok(()) => Ok(()),
        // Another run sharing the output folder made it meanwhile.
        Err(_) if cache.join("HEAD").is_file() => Ok(()),
        Err(e) => Err(FetchError::io(
            format!("move the fetched `{url}` into place"),
            e,
        )),
    }
}

/// The commit `pin` names in `cache`, with the tag it came from.
fn resolve(cache: &Path, pin: &Pin) -> Result<(String, Option<String>), FetchError> {
    let commit = |spec: &str| {
        git(
            Some(cache),
            &["rev-parse", "--verify", "-q", &format!("{spec}^{{commit}}")],
        )
    };
    match pin {
        Pin::Rev(r) => commit(r)
            .map(|c| (c, None))
            .map_err(|_| FetchError::missing("commit", r)),
        Pin::Tag(t) => commit(&format!("refs/tags/{t}"))
            .map(|c| (c, Some(t.clone())))
            .map_err(|_| FetchError::missing("tag", t)),
        Pin::Branch(b) => commit(&format!("refs/heads/{b}"))
            .map(|c| (c, None))
            .map_err(|_| FetchError::missing("branch", b)),
        Pin::Head => commit("HEAD")
            .map(|c| (c, None))
            .map_err(|_| FetchError::NoHead),
        Pin::LatestTag => {
            let newest = version_tags(cache)
                .into_iter()
                .next()
                .ok_or(FetchError::NoVersionTag)?;
            Ok((commit(&format!("refs/tags/{newest}"))?, Some(newest)))
        }
    }
}

/// The repository's release tags (`1.2.3`, `v1.2.3`; pre-releases left out), newest first by
/// version.
fn version_tags(cache: &Path) -> Vec<String> {
    let listed = git(Some(cache), &["tag", "--list"]).unwrap_or_default();
    let mut tags: Vec<(cargo_metadata::semver::Version, String)> = listed
        .lines()
        .filter_map(|t| {
            let v =
                cargo_metadata::semver::Version::parse(t.strip_prefix('v').unwrap_or(t)).ok()?;
            // A pre-release (`v2.0.0-rc.1`) is not a release to follow.
            v.pre.is_empty().then(|| (v, t.to_owned()))
        })
        .collect();
    tags.sort();
    tags.into_iter().rev().map(|(_, t)| t).collect()
}

/// Version tags newer than `tag` (or than the newest tag reaching `commit` when it has none).
fn newer_tags(cache: &Path, tag: Option<&str>, commit: &str) -> Vec<String> {
    let all = version_tags(cache);
    let current = match tag {
        Some(t) if all.iter().any(|v| v == t) => Some(t.to_owned()),
        _ => all
            .iter()
            .find(|t| {
                git(
                    Some(cache),
                    &[
                        "merge-base",
                        "--is-ancestor",
                        &format!("refs/tags/{t}"),
                        commit,
                    ],
                )
                .is_ok()
            })
            .cloned(),
    };
    match current {
        Some(c) => all.into_iter().take_while(|t| *t != c).collect(),
        None => all,
    }
}

/// `commit` of `cache`, checked out at `dir` (made once; a checkout is never changed).
fn check_out(cache: &Path, commit: &str, dir: &Path) -> Result<(), FetchError> {
    if git(Some(dir), &["rev-parse", "HEAD"]).is_ok_and(|h| h == commit) {
        return Ok(());
    }
    let tmp = temporary_beside(dir, ".checking-out-")?;
    let into = tmp.path().join("tree");
    let into_text = into.display().to_string();
    let cache_text = cache.display().to_string();
    git(
        None,
        &["clone", "--quiet", "--no-checkout", &cache_text, &into_text],
    )?;
    git(
        Some(&into),
        &[
            "-c",
            "advice.detachedHead=false",
            "checkout",
            "--quiet",
            "--detach",
            commit,
        ],
    )?;
    // Protos are often kept in a submodule: a checkout without them would fail in build.rs.
    if into.join(".gitmodules").is_file() {
        git(
            Some(&into),
            &["submodule", "update", "--quiet", "--init", "--recursive"],
        )
        .map_err(FetchError::Submodules)?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| FetchError::io(format!("replace `{}`", dir.display()), e))?;
    }
    match std::fs::rename(&into, dir) {
        Ok(()) => Ok(()),
        // Another run sharing the output folder checked it out meanwhile.
        Err(_) if git(Some(dir), &["rev-parse", "HEAD"]).is_ok_and(|h| h == commit) => Ok(()),
        Err(e) => Err(FetchError::io("move the checkout into place".to_owned(), e)),
    }
}

/// A temporary folder beside `path` (made with its parent), so that a rename puts what it
/// holds in place at once.
fn temporary_beside(path: &Path, prefix: &str) -> Result<tempfile::TempDir, FetchError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| FetchError::io(format!("create `{}`", parent.display()), e))?;
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .map_err(|e| FetchError::io(format!("create a folder in `{}`", parent.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(
        rev: Option<&str>,
        tag: Option<&str>,
        branch: Option<&str>,
        track: Track,
    ) -> PlanService {
        PlanService {
            git: Some("x".into()),
            rev: rev.map(Into::into),
            tag: tag.map(Into::into),
            branch: branch.map(Into::into),
            track,
            ..PlanService::default()
        }
    }

    #[test]
    fn a_pin_is_one_of_rev_tag_branch_or_the_newest_tag() {
        assert_eq!(
            Pin::of(&service(None, None, None, Track::Pinned)),
            Ok(Pin::Head)
        );
        assert_eq!(
            Pin::of(&service(Some("abc"), None, None, Track::Pinned)),
            Ok(Pin::Rev("abc".into()))
        );
        assert_eq!(
            Pin::of(&service(None, Some("v1"), None, Track::Pinned)),
            Ok(Pin::Tag("v1".into()))
        );
        assert_eq!(
            Pin::of(&service(None, None, Some("main"), Track::Pinned)),
            Ok(Pin::Branch("main".into()))
        );
        assert_eq!(
            Pin::of(&service(None, None, None, Track::LatestTag)),
            Ok(Pin::LatestTag)
        );
        assert!(Pin::of(&service(Some("a"), Some("b"), None, Track::Pinned)).is_err());
        assert!(Pin::of(&service(None, Some("v1"), None, Track::LatestTag)).is_err());
        assert!(Pin::of(&service(Some(""), None, None, Track::Pinned)).is_err());
        assert!(Pin::of(&service(Some("--upload-pack=x"), None, None, Track::Pinned)).is_err());
    }

    #[test]
    fn cache_names_are_stable_and_readable() {
        let a = cache_name("https://example.com/team/pricing.git");
        assert!(a.starts_with("pricing-") && a.ends_with(".git"), "{a}");
        assert_eq!(a, cache_name("https://example.com/team/pricing.git"));
        assert_ne!(a, cache_name("https://example.com/other/pricing.git"));
        assert!(cache_name("git@host:team/a b").starts_with("a_b-"));
    }
}
