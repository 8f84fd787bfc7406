//! The group's Deployment, made from its members' own: one pod running the merged binary with
//! the union of their ports, each member's environment (namespaced where build namespaces it),
//! their arguments as `--member-args`, their volumes, replicas the most any member asked for,
//! and resources summed (or the plan's); and the members' Services pointed at it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::error::RenderError;

/// One member's workload, as its own manifests give it.
#[derive(Debug, Clone)]
pub struct Workload {
    pub member: String,
    /// Its Deployment.
    pub deployment: Value,
}

impl Workload {
    fn pod(&self) -> &Value {
        &self.deployment["spec"]["template"]
    }

    /// The member's own container: the one named as the member, else the first.
    fn container(&self) -> Option<&Value> {
        let containers = self.pod()["spec"]["containers"].as_array()?;
        containers
            .iter()
            .find(|c| c["name"] == self.member.as_str())
            .or_else(|| containers.first())
    }

    /// Its pod's labels.
    pub fn labels(&self) -> BTreeMap<String, String> {
        strings(&self.pod()["metadata"]["labels"])
    }
}

fn strings(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// What the merged Deployment is made with.
#[derive(Debug)]
pub struct Merge<'a> {
    pub group: &'a str,
    pub image: &'a str,
    pub members: &'a [Workload],
    /// Build's namespaced keys: (`<MEMBER>_<KEY>`, `<KEY>`).
    pub fallbacks: &'a [(String, String)],
    /// The plan's `resources` for the group, replacing the sum.
    pub resources: Option<Value>,
}

/// The pod labels of the merged Deployment, which the members' Services select.
pub fn labels(group: &str) -> Value {
    json!({ "app.kubernetes.io/name": group })
}

/// A port renamed or unnamed in the merged pod: (member, old name) -> its number.
pub type Renamed = BTreeMap<(String, String), i64>;

impl Merge<'_> {
    /// The Deployment, and the named ports that lost their name (two members used it).
    pub fn deployment(&self) -> Result<(Value, Renamed), RenderError> {
        let first = self.members.first().ok_or(RenderError::NoMember)?;
        let namespace = first.deployment["metadata"]["namespace"].clone();
        for w in self.members {
            if w.deployment["metadata"]["namespace"] != namespace {
                return Err(RenderError::Namespaces {
                    first: first.member.clone(),
                    other: w.member.clone(),
                });
            }
        }
        let mut containers = Vec::new();
        let mut own = Vec::new();
        for w in self.members {
            let c = w
                .container()
                .ok_or_else(|| RenderError::NoContainer(w.member.clone()))?;
            if c.get("command").is_some() {
                return Err(RenderError::Command(w.member.clone()));
            }
            known(&w.member, "container", c, &[CONTAINER_KEYS, CONTAINER_SAME])?;
            known(&w.member, "pod", &w.pod()["spec"], &[POD_KEYS, POD_SAME])?;
            own.push((w, c));
            // Its other containers (sidecars): once each, identical where members share one.
            for other in w.pod()["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if std::ptr::eq(other, c) {
                    continue;
                }
                union_by(&mut containers, other, "name", "sidecar container")?;
            }
        }
        let (ports, renamed) = self.ports(&own)?;
        let mut env = Vec::new();
        let each: Vec<(&str, Vec<(String, Value)>)> = own
            .iter()
            .map(|(w, c)| {
                let pairs = c["env"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| {
                        let name = e["name"].as_str()?.to_owned();
                        let mut rest = e.clone();
                        rest.as_object_mut()?.remove("name");
                        Some((name, rest))
                    })
                    .collect();
                (w.member.as_str(), pairs)
            })
            .collect();
        for (name, mut rest) in crate::envmerge::merged(&each, self.fallbacks)? {
            if let Some(m) = rest.as_object_mut() {
                m.insert("name".to_owned(), Value::String(name));
            }
            env.push(rest);
        }
        let mut args = Vec::new();
        for (w, c) in &own {
            let words: Vec<String> = c["args"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(shell_word))
                .collect();
            if !words.is_empty() {
                args.push(Value::String(format!(
                    "--member-args={}={}",
                    w.member,
                    words.join(" ")
                )));
            }
        }
        let mut mounts = Vec::new();
        let mut volumes = Vec::new();
        for (w, c) in &own {
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                union_by(&mut mounts, m, "mountPath", "volume mount")?;
            }
            for v in w.pod()["spec"]["volumes"].as_array().into_iter().flatten() {
                union_by(&mut volumes, v, "name", "volume")?;
            }
        }
        let resources = match &self.resources {
            Some(r) => r.clone(),
            None => summed(&own.iter().map(|(_, c)| &c["resources"]).collect::<Vec<_>>())?,
        };
        let mut main = json!({
            "name": self.group,
            "image": self.image,
            "ports": ports,
            "env": env,
            "resources": resources,
        });
        if !args.is_empty() {
            main["args"] = Value::Array(args);
        }
        if !mounts.is_empty() {
            main["volumeMounts"] = Value::Array(mounts);
        }
        // A container's other settings: lists joined, the rest the same in every member that
        // sets it.
        let containers_of: Vec<&Value> = own.iter().map(|(_, c)| *c).collect();
        let mut env_from = Vec::new();
        for c in &containers_of {
            for e in c["envFrom"].as_array().into_iter().flatten() {
                if !env_from.contains(e) {
                    env_from.push(e.clone());
                }
            }
        }
        if !env_from.is_empty() {
            main["envFrom"] = Value::Array(env_from);
        }
        for key in CONTAINER_SAME {
            if let Some(v) = same(&own, key, |(_, c)| &c[key])? {
                main[key] = v;
            }
        }
        containers.insert(0, main);
        let replicas = self
            .members
            .iter()
            .filter_map(|w| w.deployment["spec"]["replicas"].as_i64())
            .max()
            .unwrap_or(1);
        let names: Vec<&str> = self.members.iter().map(|w| w.member.as_str()).collect();
        let mut metadata = json!({
            "name": self.group,
            "labels": labels(self.group),
            "annotations": { "cargo-merge.io/members": names.join(",") },
        });
        if !namespace.is_null() {
            metadata["namespace"] = namespace;
        }
        let mut pod_spec = json!({ "containers": containers });
        if !volumes.is_empty() {
            pod_spec["volumes"] = Value::Array(volumes);
        }
        for key in POD_SAME {
            if let Some(v) = same(&own, key, |(w, _)| &w.pod()["spec"][key])? {
                pod_spec[key] = v;
            }
        }
        for key in ["initContainers", "imagePullSecrets"] {
            let mut list = Vec::new();
            for (w, _) in &own {
                for item in w.pod()["spec"][key].as_array().into_iter().flatten() {
                    union_by(&mut list, item, "name", key)?;
                }
            }
            if !list.is_empty() {
                pod_spec[key] = Value::Array(list);
            }
        }
        if let Some(grace) = own
            .iter()
            .filter_map(|(w, _)| w.pod()["spec"]["terminationGracePeriodSeconds"].as_i64())
            .max()
        {
            pod_spec["terminationGracePeriodSeconds"] = Value::from(grace);
        }
        let mut annotations = serde_json::Map::new();
        for (w, _) in &own {
            for (k, v) in w.pod()["metadata"]["annotations"]
                .as_object()
                .into_iter()
                .flatten()
            {
                match annotations.get(k) {
                    Some(x) if x != v => {
                        return Err(RenderError::Annotation {
                            key: k.clone(),
                            member: w.member.clone(),
                            value: v.to_string(),
                        });
                    }
                    _ => {
                        annotations.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        let deployment = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata,
            "spec": {
                "replicas": replicas,
                "selector": { "matchLabels": labels(self.group) },
                "template": {
                    "metadata": template_metadata(self.group, annotations),
                    "spec": pod_spec,
                },
            },
        });
        Ok((deployment, renamed))
    }

    /// The union of the members' ports: a number two members listen on is an error; a name
    /// two use is dropped (Services that target it get the number).
    fn ports(&self, own: &[(&Workload, &Value)]) -> Result<(Vec<Value>, Renamed), RenderError> {
        let mut by_number: BTreeMap<i64, &str> = BTreeMap::new();
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for (_, c) in own {
            for p in c["ports"].as_array().into_iter().flatten() {
                if let Some(n) = p["name"].as_str() {
                    *names.entry(n.to_owned()).or_default() += 1;
                }
            }
        }
        let mut ports = Vec::new();
        let mut renamed = Renamed::new();
        for (w, c) in own {
            for p in c["ports"].as_array().into_iter().flatten() {
                let number = p["containerPort"]
                    .as_i64()
                    .ok_or_else(|| RenderError::NoContainerPort(w.member.clone()))?;
                if let Some(other) = by_number.insert(number, &w.member) {
                    return Err(RenderError::Port {
                        first: other.to_owned(),
                        other: w.member.clone(),
                        port: number,
                    });
                }
                let mut p = p.clone();
                if let Some(n) = p["name"].as_str().map(str::to_owned)
                    && names.get(&n).copied().unwrap_or(0) > 1
                {
                    renamed.insert((w.member.clone(), n), number);
                    if let Some(m) = p.as_object_mut() {
                        m.remove("name");
                    }
                }
                ports.push(p);
            }
        }
        Ok((ports, renamed))
    }
}

/// The keys of a member's container render merges on their own terms (the others of
/// [`CONTAINER_SAME`] must match); any other key is an error (a render is whole).
const CONTAINER_KEYS: &[&str] = &[
    "name",
    "image",
    "ports",
    "env",
    "envFrom",
    "resources",
    "args",
    "volumeMounts",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
];

/// Container settings every member that sets one must set alike.
const CONTAINER_SAME: &[&str] = &["imagePullPolicy", "securityContext", "workingDir"];

/// The keys of a member's pod spec render merges on their own terms (the others of
/// [`POD_SAME`] must match).
const POD_KEYS: &[&str] = &[
    "containers",
    "volumes",
    "initContainers",
    "imagePullSecrets",
    "terminationGracePeriodSeconds",
];

/// Pod settings every member that sets one must set alike.
const POD_SAME: &[&str] = &[
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "securityContext",
    "nodeSelector",
    "tolerations",
    "affinity",
    "topologySpreadConstraints",
    "priorityClassName",
    "dnsPolicy",
    "dnsConfig",
    "runtimeClassName",
    "schedulerName",
    "enableServiceLinks",
];

/// An error naming a key of `what` (of `member`) that render does not merge: in none of
/// `lists`.
fn known(
    member: &str,
    what: &'static str,
    v: &Value,
    lists: &[&[&str]],
) -> Result<(), RenderError> {
    let unknown: Vec<&str> = v
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .filter(|k| !lists.iter().any(|l| l.contains(k)))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(RenderError::Unmerged {
            member: member.to_owned(),
            what,
            keys: unknown
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// The one value of `key` the members that set it agree on.
fn same<'a, T>(
    own: &'a [T],
    key: &str,
    get: impl Fn(&'a T) -> &'a Value,
) -> Result<Option<Value>, RenderError> {
    let mut found: Option<&Value> = None;
    for item in own {
        let v = get(item);
        if v.is_null() {
            continue;
        }
        match found {
            Some(x) if x != v => {
                return Err(RenderError::Differ {
                    key: key.to_owned(),
                    first: x.to_string(),
                    other: v.to_string(),
                });
            }
            _ => found = Some(v),
        }
    }
    Ok(found.cloned())
}

fn template_metadata(group: &str, annotations: serde_json::Map<String, Value>) -> Value {
    let mut m = json!({ "labels": labels(group) });
    if !annotations.is_empty() {
        m["annotations"] = Value::Object(annotations);
    }
    m
}

/// Adds `item` to `list` unless one with the same `key` is there: the same one is taken once,
/// a different one is an error.
fn union_by(list: &mut Vec<Value>, item: &Value, key: &str, what: &str) -> Result<(), RenderError> {
    match list.iter().find(|x| x[key] == item[key]) {
        Some(x) if x == item => Ok(()),
        Some(_) => Err(RenderError::Union {
            what: what.to_owned(),
            name: item[key].to_string(),
        }),
        None => {
            list.push(item.clone());
            Ok(())
        }
    }
}

/// A word for `--member-args`, quoted as a shell would need it.
fn shell_word(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
    {
        w.to_owned()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// The members' requests and limits, summed per resource (cpu in millicores, memory in
/// bytes, rounded up). A member that sets a limit but no request is requested its limit, as
/// Kubernetes does; a limit only holds when every member sets one (a member without a limit
/// must not be capped by the others').
fn summed(each: &[&Value]) -> Result<Value, RenderError> {
    let parse = |name: &str, q: &Value| -> Result<f64, RenderError> {
        let text = match q {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(RenderError::NotQuantity {
                    name: name.to_owned(),
                    value: other.to_string(),
                });
            }
        };
        quantity(&text).ok_or_else(|| RenderError::Quantity {
            name: name.to_owned(),
            value: text,
        })
    };
    let mut names = std::collections::BTreeSet::new();
    for r in each {
        for kind in ["requests", "limits"] {
            for (name, _) in r[kind].as_object().into_iter().flatten() {
                names.insert(name.clone());
            }
        }
    }
    let mut out = json!({});
    for name in names {
        let (mut requested, mut limited, mut all_limited) = (0.0, 0.0, true);
        for r in each {
            let limit = r["limits"]
                .get(&name)
                .map(|q| parse(&name, q))
                .transpose()?;
            let request = r["requests"]
                .get(&name)
                .map(|q| parse(&name, q))
                .transpose()?;
            requested += request.or(limit).unwrap_or(0.0);
            match limit {
                Some(l) => limited += l,
                None => all_limited = false,
            }
        }
        let text = |v: f64| {
            if name == "cpu" {
                format!("{}m", (v * 1000.0).ceil() as i64)
            } else if (v / (1024.0 * 1024.0)).fract() == 0.0 {
                format!("{}Mi", (v / (1024.0 * 1024.0)) as i64)
            } else {
                format!("{}", v.ceil() as i64)
            }
        };
        if requested > 0.0 {
            out["requests"][&name] = Value::String(text(requested));
        }
        if all_limited {
            out["limits"][&name] = Value::String(text(limited));
        }
    }
    Ok(out)
}

/// A Kubernetes quantity (`100m`, `0.5`, `64Mi`, `1G`) as a number of units.
fn quantity(text: &str) -> Option<f64> {
    // `129e6` and `1E3`: a decimal exponent.
    if let Some((m, e)) = text.split_once(['e', 'E'])
        && !m.is_empty()
        && e.parse::<i32>().is_ok()
    {
        return Some(m.parse::<f64>().ok()? * 10f64.powi(e.parse().ok()?));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "P" => 1e15,
        "E" => 1e18,
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_sum_as_kubernetes_reads_them() {
        assert_eq!(quantity("100m"), Some(0.1));
        assert_eq!(quantity("64Mi"), Some(67_108_864.0));
        assert_eq!(quantity("1"), Some(1.0));
        assert_eq!(quantity("lots"), None);
        assert_eq!(quantity("129e6"), Some(129e6));
        assert_eq!(quantity("1Pi"), Some(1024f64.powi(5)));
        let (a, b) = (
            json!({"requests": {"cpu": "100m", "memory": "32Mi"}, "limits": {"cpu": "1"}}),
            json!({"requests": {"cpu": 0.25, "memory": "32Mi"}}),
        );
        // b has no cpu limit: the merged pod gets none.
        assert_eq!(
            summed(&[&a, &b]).expect("sums"),
            json!({"requests": {"cpu": "350m", "memory": "64Mi"}})
        );
        // A limit without a request is the request too.
        let c = json!({"limits": {"cpu": "500m"}});
        assert_eq!(
            summed(&[&a, &c]).expect("sums"),
            json!({"requests": {"cpu": "600m", "memory": "32Mi"}, "limits": {"cpu": "1500m"}})
        );
        assert_eq!(shell_word("--verbose"), "--verbose");
        assert_eq!(shell_word("a b"), "'a b'");
    }
}
