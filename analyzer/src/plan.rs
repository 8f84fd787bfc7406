//! The merge plan (`merge.toml`): groups of services to build as one binary, and where each
//! service's manifest is. Written by `analyze`, editable by hand, read by `check` and `build`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Analysis;
use crate::model::Traffic;

/// How dependency versions are kept when members are merged (design.md, Dependency isolation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Every member keeps exactly the versions of its own Cargo.lock.
    #[default]
    Exact,
    /// Cargo resolves the merged workspace; drift is reported.
    Unify,
    /// Refuse to build if any member would run a different version.
    Strict,
}

/// Which version of a git member a group takes: the downstream team's default version of
/// its upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Track {
    /// The plan's `rev`, `tag` or `branch` (`cargo merge bump` moves it).
    #[default]
    Pinned,
    /// The newest version tag of the repository.
    LatestTag,
}

impl Track {
    pub fn is_pinned(&self) -> bool {
        *self == Track::Pinned
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanGroup {
    pub name: String,
    pub members: Vec<String>,
    /// The merged Deployment's resources (`cargo merge render`), Kubernetes' shape:
    /// `requests = { cpu = "500m", memory = "256Mi" }`, `limits = { .. }`; the members' own
    /// summed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<BTreeMap<String, BTreeMap<String, String>>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanService {
    /// Relative to the plan file's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// The binary to run, when the package has several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bin: Option<String>,
    /// A git repository (a URL, or a folder relative to the plan's) the member is checked out
    /// from, under the output folder; `manifest` is then a path in the repository (default
    /// `Cargo.toml`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git: Option<String>,
    /// With `git`: the commit to build (a hash, or anything `git rev-parse` reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    /// With `git`: the tag to build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// With `git`: the branch whose tip to build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// With `git`: which version the group takes, the pin (`pinned`, the default) or the
    /// newest version tag (`latest-tag`).
    #[serde(default, skip_serializing_if = "Track::is_pinned")]
    pub track: Track,
    /// The member's environment when `cargo merge bench` runs it (split: its process; merged:
    /// the merged binary, each key also as `<MEMBER>_<KEY>`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    #[serde(default)]
    pub isolation: Isolation,
    #[serde(default)]
    pub group: Vec<PlanGroup>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service: BTreeMap<String, PlanService>,
}

const HEADER: &str = "# Merge plan written by `cargo merge analyze`; edit it freely.\n\
# Each [[group]] becomes one binary (`cargo merge build`); paths are relative to this file.\n\n";

impl Plan {
    /// The plan for `analysis`, with manifest paths made relative to `plan_dir`.
    pub fn from_analysis(analysis: &Analysis, traffic: &Traffic, plan_dir: &Path) -> Plan {
        let mut plan = Plan::default();
        for g in &analysis.groups {
            plan.group.push(PlanGroup {
                name: g.name.clone(),
                members: g.members.clone(),
                resources: None,
            });
            for m in &g.members {
                let manifest = traffic
                    .find(m)
                    .and_then(|ix| traffic.service(ix).manifest.as_deref())
                    .map(|p| crate::paths::relative_to(p, plan_dir));
                if let Some(manifest) = manifest {
                    plan.service.insert(
                        m.clone(),
                        PlanService {
                            manifest: Some(manifest),
                            ..PlanService::default()
                        },
                    );
                }
            }
        }
        plan
    }

    /// The plan as TOML, with a header comment; the same plan always gives the same bytes.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        Ok(format!("{HEADER}{}", toml::to_string(self)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_round_trips_through_toml() {
        let mut plan = Plan::default();
        plan.group.push(PlanGroup {
            name: "checkout".into(),
            members: vec!["orders".into(), "pricing".into()],
            resources: None,
        });
        plan.service.insert(
            "orders".into(),
            PlanService {
                manifest: Some("services/orders/Cargo.toml".into()),
                bin: Some("orders".into()),
                ..PlanService::default()
            },
        );
        let text = plan.to_toml().expect("serialises");
        assert!(text.starts_with("# Merge plan written by"));
        let back: Plan = toml::from_str(&text).expect("parses");
        assert_eq!(back, plan);
        assert_eq!(back.to_toml().expect("serialises"), text, "deterministic");
    }
}
