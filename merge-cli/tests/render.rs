//! `cargo merge render` on the shop (its members' own manifests, fixtures/shop/k8s): the group's
//! Deployment replaces the members' (a snapshot), every document parses as a Kubernetes object
//! (apiVersion, kind, metadata, selectors that match their pods' labels, ports unique), the
//! members' Services select the merged pods; without the group the manifests come back as
//! they are; a member without a Deployment is an error and nothing is printed. The Argo CD
//! plugin file parses and calls render.

mod support;

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};

use support::*;
use yaml_rust2::{Yaml, YamlLoader};

fn render(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-merge"))
        .args(["merge", "render"])
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("cargo-merge runs")
}

fn docs(text: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(text)
        .expect("a YAML stream")
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn labels(y: &Yaml) -> BTreeSet<(String, String)> {
    y.as_hash()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.as_str().expect("a label key").to_owned(),
                v.as_str().expect("a label value").to_owned(),
            )
        })
        .collect()
}

const PLAN: &str = "fixtures/shop/bench/merge.toml";
const MANIFESTS: &str = "fixtures/shop/k8s";

#[test]
fn the_shop_renders_as_one_deployment_its_services_pointed_at_it() {
    let out = render(&[
        "--plan",
        PLAN,
        "--manifests",
        MANIFESTS,
        "--group",
        "shop-bench",
        "--image",
        "registry.example.com/shop/shop-bench:1.0.0",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    insta::assert_snapshot!("shop_render", stdout);
    let objects = docs(&stdout);
    let deployments: Vec<&Yaml> = objects
        .iter()
        .filter(|o| o["kind"].as_str() == Some("Deployment"))
        .collect();
    assert_eq!(deployments.len(), 1, "the members' five became one");
    let d = deployments[0];
    let pod_labels = labels(&d["spec"]["template"]["metadata"]["labels"]);
    assert!(
        labels(&d["spec"]["selector"]["matchLabels"]).is_subset(&pod_labels),
        "the selector matches its pods"
    );
    let container = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["image"].as_str(),
        Some("registry.example.com/shop/shop-bench:1.0.0")
    );
    let ports = container["ports"].as_vec().expect("ports");
    let numbers: BTreeSet<i64> = ports
        .iter()
        .map(|p| p["containerPort"].as_i64().expect("a number"))
        .collect();
    assert_eq!(numbers, BTreeSet::from([8080, 50051, 50052, 50053, 50054]));
    assert_eq!(numbers.len(), ports.len(), "no port twice");
    let names: Vec<&str> = ports.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(
        names.len(),
        names.iter().collect::<BTreeSet<_>>().len(),
        "no port name twice"
    );
    for o in &objects {
        for key in ["apiVersion", "kind"] {
            assert!(o[key].as_str().is_some(), "{key} in {o:?}");
        }
        assert!(o["metadata"]["name"].as_str().is_some(), "{o:?}");
        if o["kind"].as_str() == Some("Service") {
            // Every Service of a member selects the merged pods, on a port they have.
            assert!(
                labels(&o["spec"]["selector"]).is_subset(&pod_labels),
                "{o:?}"
            );
            for p in o["spec"]["ports"].as_vec().expect("ports") {
                let target = &p["targetPort"];
                let found = match target {
                    Yaml::Integer(n) => numbers.contains(n),
                    Yaml::String(name) => names.contains(&name.as_str()),
                    _ => false,
                };
                assert!(found, "targetPort {target:?} is not a port of the pod");
            }
        }
    }
    let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "Service").count(), 5);
    assert!(
        kinds.contains(&"ConfigMap"),
        "other objects pass: {kinds:?}"
    );
}

#[test]
fn without_the_group_the_members_own_objects_come_back_unchanged() {
    let out = render(&["--plan", PLAN, "--manifests", MANIFESTS]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut own = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(root().join(MANIFESTS))
        .expect("manifests")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for f in files {
        own.extend(docs(&std::fs::read_to_string(f).expect("read")));
    }
    assert_eq!(docs(&text(&out.stdout)), own);
}

#[test]
fn a_member_without_a_deployment_is_an_error_and_nothing_is_printed() {
    let work = tempfile::tempdir().expect("tempdir");
    for f in ["catalog", "gateway", "inventory", "pricing"] {
        std::fs::copy(
            root().join(MANIFESTS).join(format!("{f}.yaml")),
            work.path().join(format!("{f}.yaml")),
        )
        .expect("copy");
    }
    let dir = work.path().to_str().expect("utf-8");
    let out = render(&[
        "--plan",
        PLAN,
        "--manifests",
        dir,
        "--group",
        "shop-bench",
        "--image",
        "x:1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("member `web` has no Deployment"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "a partial render was printed");
    // An empty folder renders nothing: an error too.
    let empty = tempfile::tempdir().expect("tempdir");
    let out = render(&[
        "--plan",
        PLAN,
        "--manifests",
        empty.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn the_argo_cd_plugin_parses_and_calls_render() {
    let text = std::fs::read_to_string(root().join("ci/argocd/plugin.yaml")).expect("plugin");
    let plugin = docs(&text);
    assert_eq!(plugin.len(), 1);
    let p = &plugin[0];
    assert_eq!(p["kind"].as_str(), Some("ConfigManagementPlugin"));
    assert_eq!(p["apiVersion"].as_str(), Some("argoproj.io/v1alpha1"));
    let args = p["spec"]["generate"]["args"][0].as_str().expect("a script");
    assert!(args.contains("cargo merge render"), "{args}");
    assert_eq!(
        p["spec"]["discover"]["fileName"].as_str(),
        Some("merge.toml")
    );
}
