//! `cargo merge render`: the Kubernetes objects of a deployment in which a group runs as its
//! merged binary, from the members' own manifests, for a GitOps tool (the Argo CD config
//! management plugin, plugin.yaml) to apply. It never compiles: members are read as check
//! reads them, to know which environment keys build namespaces.
//!
//! The members' Deployments are replaced by the group's (deployment.rs); their Services are
//! pointed at it, so callers keep their addresses; every other object passes unchanged.
//! Without `--group` it prints the manifests as they are: splitting again is one step. A member
//! without a Deployment, two listening on one port, and the like are errors: Argo CD prunes what
//! a render leaves out, so a render is whole or nothing.

mod deployment;
mod error;
mod yaml;

use std::collections::BTreeMap;
use std::io::Write as _;

use anyhow::Context as _;
use merge_analyzer::error::InputCode;
use merge_analyzer::members::{self, CargoOptions};
use serde_json::Value;

use crate::Failure;
use crate::cli::RenderArgs;
use crate::diagnostic::Diagnostic;
use deployment::{Merge, Workload};

pub fn exec(args: &RenderArgs) -> Result<(), Failure> {
    let bad = |message: String, help: &'static str| {
        Failure::Input(vec![Diagnostic::usage(
            InputCode::InvalidValue,
            message,
            help,
        )])
    };
    let yaml::Manifests { docs, texts } = yaml::read_dir(&args.manifests).map_err(|e| {
        bad(
            e.to_string(),
            "--manifests names the folder of the members' own Kubernetes manifests (YAML)",
        )
    })?;
    if docs.is_empty() {
        return Err(bad(
            format!(
                "no Kubernetes object under `{}`: a render of nothing would delete everything",
                args.manifests.display()
            ),
            "--manifests names the folder of the members' own Kubernetes manifests (YAML)",
        ));
    }
    let mut stdout = std::io::stdout().lock();
    let Some(group) = &args.group else {
        // Split: the members' own objects, unchanged.
        for (_, text) in &texts {
            if !text.trim_start().starts_with("---") {
                writeln!(stdout, "---").context("failed to write to stdout")?;
            }
            write!(stdout, "{text}").context("failed to write to stdout")?;
            if !text.ends_with('\n') {
                writeln!(stdout).context("failed to write to stdout")?;
            }
        }
        return Ok(());
    };
    // What is written back goes through JSON: refuse what YAML 1.1 (Kubernetes) and YAML 1.2
    // (this reader) read differently, rather than change it silently.
    let ambiguous: Vec<Diagnostic> = texts
        .iter()
        .flat_map(|(file, text)| yaml::ambiguous(file, text))
        .collect();
    if !ambiguous.is_empty() {
        return Err(Failure::Input(ambiguous));
    }
    let Some(image) = &args.image else {
        return Err(bad(
            format!("--group {group} needs --image: the merged binary's image"),
            "give --image REF, the image `cargo merge build` output was packaged into",
        ));
    };
    let mut plan =
        members::read_plan(&args.plan).map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    let Some(plan_group) = plan.plan.group.iter().find(|g| &g.name == group).cloned() else {
        return Err(bad(
            format!("the plan `{}` has no group `{group}`", args.plan.display()),
            "name a [[group]] of the plan with --group",
        ));
    };
    let out = std::path::absolute(&args.out).unwrap_or_else(|_| args.out.clone());
    let fetch = merge_analyzer::sources::Fetch {
        offline: args.offline,
    };
    merge_analyzer::sources::checkout(&mut plan, std::slice::from_ref(group), &out, fetch)
        .map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    let options = CargoOptions {
        offline: args.offline,
        frozen: false,
    };
    let loaded = members::load_group(&plan, group, &options)
        .map_err(|e| Failure::Input(Diagnostic::from_import(e)))?;
    let fallbacks = crate::synth::env_fallbacks(group, &loaded, plan.plan.isolation);

    // Each member's Deployment: named as the member, or labelled with its name.
    let mut workloads = Vec::new();
    let mut missing = Vec::new();
    for m in &plan_group.members {
        let found: Vec<&yaml::Doc> = docs
            .iter()
            .filter(|d| {
                d.value["kind"] == "Deployment"
                    && (d.value["metadata"]["name"] == m.as_str()
                        || d.value["metadata"]["labels"]["app.kubernetes.io/name"] == m.as_str())
            })
            .collect();
        match found.as_slice() {
            [one] => workloads.push(Workload {
                member: m.clone(),
                deployment: one.value.clone(),
            }),
            [] => missing.push(format!(
                "member `{m}` has no Deployment under `{}` (named `{m}` or labelled app.kubernetes.io/name={m})",
                args.manifests.display()
            )),
            several => missing.push(format!(
                "member `{m}` has {} Deployments ({}); keep one",
                several.len(),
                several
                    .iter()
                    .map(|d| d.file.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    if !missing.is_empty() {
        return Err(Failure::Input(
            missing
                .into_iter()
                .map(|m| {
                    Diagnostic::usage(
                        InputCode::InvalidValue,
                        m,
                        "a render is whole or nothing: every member needs its Deployment",
                    )
                })
                .collect(),
        ));
    }
    let resources = plan_group
        .resources
        .as_ref()
        .map(|r| serde_json::to_value(r).unwrap_or_default());
    let merge = Merge {
        group,
        image,
        members: &workloads,
        fallbacks: &fallbacks,
        resources,
    };
    let (merged, renamed) = merge.deployment().map_err(|e| {
        bad(
            e.to_string(),
            "fix the members' manifests, or leave the member out of the group",
        )
    })?;
    for w in &workloads {
        let c = &w.deployment["spec"]["template"]["spec"]["containers"];
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            let set = c
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c.get(probe).is_some());
            if set {
                crate::status::warning(&format!(
                    "`{}`'s {probe} is not carried into the merged pod (one pod, one probe of each kind)",
                    w.member
                ));
            }
        }
    }
    let pods: Vec<(String, BTreeMap<String, String>)> = workloads
        .iter()
        .map(|w| (w.member.clone(), w.labels()))
        .collect();
    let mut objects = Vec::new();
    let mut placed = false;
    for d in &docs {
        let is_member = workloads.iter().any(|w| w.deployment == d.value);
        if is_member {
            if !placed {
                objects.push(merged.clone());
                placed = true;
            }
            continue;
        }
        if d.value["kind"] == "Service" {
            objects.push(repointed(&d.value, group, &pods, &renamed));
        } else {
            objects.push(d.value.clone());
        }
    }
    write!(stdout, "{}", yaml::stream(&objects)).context("failed to write to stdout")?;
    Ok(())
}

/// A Service that selects a member's pods, pointed at the group's (a port the merged pod no
/// longer names, targeted by its number); any other Service as it is.
fn repointed(
    service: &Value,
    group: &str,
    pods: &[(String, BTreeMap<String, String>)],
    renamed: &deployment::Renamed,
) -> Value {
    let selector: BTreeMap<String, String> = service["spec"]["selector"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let Some((member, _)) = pods.iter().find(|(_, labels)| {
        !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    }) else {
        return service.clone();
    };
    let mut s = service.clone();
    s["spec"]["selector"] = deployment::labels(group);
    if let Some(ports) = s["spec"]["ports"].as_array_mut() {
        for p in ports {
            let target = p["targetPort"].as_str().map(str::to_owned);
            if let Some(number) = target.and_then(|t| renamed.get(&(member.clone(), t)).copied()) {
                p["targetPort"] = Value::from(number);
            }
        }
    }
    s
}
