//! The group's Deployment, made from its members' own: one pod running the merged binary with
//! the union of their ports, each member's environment (namespaced where build namespaces it),
//! their arguments as `--member-args`, their volumes, replicas the most any member asked for,
//! and resources summed (or the plan's); and the members' Services pointed at it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

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
    pub fn deployment(&self) -> Result<(Value, Renamed), String> {
        let first = self.members.first().ok_or("the group has no member")?;
        let namespace = first.deployment["metadata"]["namespace"].clone();
        for w in self.members {
            if w.deployment["metadata"]["namespace"] != namespace {
                return Err(format!(
                    "members `{}` and `{}` are in different namespaces: one Deployment cannot hold both",
                    first.member, w.member
                ));
            }
        }
        let mut containers = Vec::new();
        let mut own = Vec::new();
        for w in self.members {
            let c = w
                .container()
                .ok_or_else(|| format!("the Deployment of `{}` has no container", w.member))?;
            if c.get("command").is_some() {
                return Err(format!(
                    "`{}` sets its container's `command`: the merged binary is the image's entrypoint; give its arguments as `args`",
                    w.member
                ));
            }
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
            None => summed(own.iter().map(|(_, c)| &c["resources"]))?,
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
        let deployment = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata,
            "spec": {
                "replicas": replicas,
                "selector": { "matchLabels": labels(self.group) },
                "template": {
                    "metadata": { "labels": labels(self.group) },
                    "spec": pod_spec,
                },
            },
        });
        Ok((deployment, renamed))
    }

    /// The union of the members' ports: a number two members listen on is an error; a name
    /// two use is dropped (Services that target it get the number).
    fn ports(&self, own: &[(&Workload, &Value)]) -> Result<(Vec<Value>, Renamed), String> {
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
                    .ok_or_else(|| format!("a port of `{}` has no containerPort", w.member))?;
                if let Some(other) = by_number.insert(number, &w.member) {
                    return Err(format!(
                        "members `{other}` and `{}` both listen on port {number}: in one pod they cannot",
                        w.member
                    ));
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

/// Adds `item` to `list` unless one with the same `key` is there: the same one is taken once,
/// a different one is an error.
fn union_by(list: &mut Vec<Value>, item: &Value, key: &str, what: &str) -> Result<(), String> {
    match list.iter().find(|x| x[key] == item[key]) {
        Some(x) if x == item => Ok(()),
        Some(_) => Err(format!(
            "two members have a {what} `{}` that differs: one pod cannot hold both",
            item[key]
        )),
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

/// The members' requests and limits, summed per resource (cpu in millicores, memory in bytes).
fn summed<'a>(each: impl Iterator<Item = &'a Value>) -> Result<Value, String> {
    let mut total: BTreeMap<(&str, String), f64> = BTreeMap::new();
    for r in each {
        for kind in ["requests", "limits"] {
            for (name, q) in r[kind].as_object().into_iter().flatten() {
                let text = match q {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => return Err(format!("resource `{name}`: `{other}` is not a quantity")),
                };
                let v = quantity(&text).ok_or_else(|| {
                    format!("resource `{name}`: `{text}` is not a Kubernetes quantity")
                })?;
                *total.entry((kind, name.clone())).or_default() += v;
            }
        }
    }
    let mut out = json!({});
    for ((kind, name), v) in total {
        let text = if name == "cpu" {
            format!("{}m", (v * 1000.0).round() as i64)
        } else if (v / (1024.0 * 1024.0)).fract() == 0.0 {
            format!("{}Mi", (v / (1024.0 * 1024.0)) as i64)
        } else {
            format!("{}", v.round() as i64)
        };
        out[kind][name] = Value::String(text);
    }
    Ok(out)
}

/// A Kubernetes quantity (`100m`, `0.5`, `64Mi`, `1G`) as a number of units.
fn quantity(text: &str) -> Option<f64> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
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
        let r = summed(
            [
                json!({"requests": {"cpu": "100m", "memory": "32Mi"}, "limits": {"cpu": "1"}}),
                json!({"requests": {"cpu": 0.25, "memory": "32Mi"}}),
            ]
            .iter(),
        )
        .expect("sums");
        assert_eq!(
            r,
            json!({"requests": {"cpu": "350m", "memory": "64Mi"}, "limits": {"cpu": "1000m"}})
        );
        assert_eq!(shell_word("--verbose"), "--verbose");
        assert_eq!(shell_word("a b"), "'a b'");
    }
}
