//! The findings read from the members' dependency graphs (each member's own resolve, read by
//! `cargo metadata --locked`, so its own Cargo.lock) and manifests, one file per kind:
//!
//! - `links-conflict` (error, locks.rs): packages of different identity declare one `links`
//!   value, a native library one binary cannot link twice.
//! - `exact-pin-conflict`, `version-drift` (locks.rs): members lock different semver-compatible
//!   versions of a crate (pinned with `=x.y.z`, or not): a note under isolation `exact` (build
//!   vendors the other version), an error for a pin and a warning otherwise under `unify`, an
//!   error under `strict`.
//! - `feature-drift` (note, features.rs): a crate the merged build holds once for several
//!   members (one name, source and version under `exact` and `strict`; one compatibility bucket
//!   under `unify`) is compiled with the union of their features, so a member whose own resolve
//!   enables fewer gets the rest. One note per (member, crate) its own packages depend on
//!   directly, at the manifest line naming the crate, and one per member for the crates it
//!   links indirectly, at its `[dependencies]` line. Local packages and cargo-merge's own
//!   crates are left out.
//! - `profile-conflict` (profiles.rs): `panic`, `opt-level` and `lto` of `[profile.dev]`,
//!   `[profile.release]` and the custom profiles (a member that does not set a key has cargo's
//!   default or what its profile inherits). One binary has one panic strategy, so a different
//!   `panic` is an error; a different `opt-level` or `lto` is a warning that names the value the
//!   merged build takes (build keeps, key by key, the first member's value in folder order).
//!   Reported at the line of every member that sets the key in that profile.
//! - `patch-conflict` (patches.rs): `[patch.<registry>]` entries. Members patching one crate of one
//!   registry with different sources (paths compared as absolute folders; git URL and rev, tag or
//!   branch as written) is an error at each member's patch line, since one workspace holds one
//!   patch per crate (build keeps the first member's in folder order). A patch of a crate another
//!   member links unpatched from that registry (in a version the patch can replace) is a warning at
//!   the patch's line: merged, the patch applies to that member too.
//!
//! Cargo honours `[profile]` and `[patch]` only in a workspace's root manifest, so they are read
//! from each member's `metadata.workspace_root/Cargo.toml`. Known gap: build lifts them from
//! every copied package's own manifest instead (ARCHITECTURE.md lists it), so for a member
//! inside a bigger workspace the two can differ; folder order is approximated here by the
//! order of the members' workspace root folders. Not read: `[profile.<name>.package.<spec>]`
//! and `build-override` tables, the `test` and `bench` profiles (the merged binary is not a
//! test), profiles and patches in `.cargo/config.toml` or `CARGO_PROFILE_*` variables, and
//! patches keyed by a registry's name other than crates-io (its index URL is in cargo's
//! configuration). The features are those `cargo metadata` reports, which include what the
//! member's dev-dependencies enable; a crate linked on one platform only counts everywhere (as
//! in crate::versions); and under `exact` a crate build vendors per member because one of its
//! dependencies is vendored is still counted as shared.
//!
//! manifest.rs reads a manifest with the spans of its keys and finds the line a dependency is
//! written on, for every kind's place. This file runs the kinds for a group, reading each
//! member's workspace root manifest once (and the folder order) for profiles.rs and
//! patches.rs.

mod features;
mod locks;
mod manifest;
mod patches;
mod profiles;
mod tonic;

use super::Finding;
use crate::members::Member;
use crate::plan::Isolation;
use manifest::Manifest;

/// Every finding of this module for one group.
pub(super) fn dependency_findings(
    group: &str,
    members: &[Member],
    isolation: Isolation,
    out: &mut Vec<Finding>,
) {
    tonic::unsupported(group, members, out);
    locks::version_findings(group, members, isolation, out);
    features::feature_drift(group, members, isolation, out);
    let roots: Vec<Option<Manifest>> = members
        .iter()
        .map(|m| {
            Manifest::read(
                &m.metadata
                    .workspace_root
                    .join("Cargo.toml")
                    .into_std_path_buf(),
            )
        })
        .collect();
    // Build merges the members' tables in the order of their folders.
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by_key(|&i| {
        let dir = roots[i].as_ref().map(|r| r.dir().to_path_buf());
        (dir, members[i].name.clone())
    });
    profiles::profile_conflicts(group, members, &roots, &order, out);
    patches::patch_conflicts(group, members, &roots, &order, out);
}

/// `` `beta` `` or `` `beta`, `gamma` ``.
fn ticked<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
