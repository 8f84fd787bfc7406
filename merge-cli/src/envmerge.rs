//! The merged binary's one environment, made from each member's own: a key build namespaced
//! for a member (it reads `<MEMBER>_<KEY>` instead of `<KEY>`) is given namespaced, any other
//! plainly, and two members setting one plain key differently is an error (one process cannot
//! give each its own). `bench` (the plan's `[service.NAME.env]`) and `render` (the members'
//! Kubernetes containers) both make it here.

/// Two members setting one plain key differently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "members `{first}` and `{other}` set `{key}` differently ({first_value}, {other_value}), and the merged binary reads one `{key}` for both (build namespaced it for neither)"
)]
pub struct EnvConflict {
    pub key: String,
    pub first: String,
    pub other: String,
    /// The values, as `{:?}` prints them.
    pub first_value: String,
    pub other_value: String,
}

/// `members`: each member's name and its (key, value) pairs, in order; `fallbacks`: build's
/// (`<MEMBER>_<KEY>`, `<KEY>`) pairs.
pub fn merged<V: Clone + PartialEq + std::fmt::Debug>(
    members: &[(&str, Vec<(String, V)>)],
    fallbacks: &[(String, String)],
) -> Result<Vec<(String, V)>, EnvConflict> {
    let namespaced: std::collections::BTreeSet<&str> =
        fallbacks.iter().map(|(n, _)| n.as_str()).collect();
    let mut plain: std::collections::BTreeMap<&str, (&str, &V)> = Default::default();
    let mut out = Vec::new();
    for (name, env) in members {
        for (k, v) in env {
            let own = format!("{}_{k}", crate::synth::mitigate::prefix(name));
            if namespaced.contains(own.as_str()) {
                out.push((own, v.clone()));
                continue;
            }
            match plain.get(k.as_str()) {
                Some((other, value)) if *value != v => {
                    return Err(EnvConflict {
                        key: k.clone(),
                        first: (*other).to_owned(),
                        other: (*name).to_owned(),
                        first_value: format!("{value:?}"),
                        other_value: format!("{v:?}"),
                    });
                }
                Some(_) => {}
                None => {
                    plain.insert(k, (name, v));
                    out.push((k.clone(), v.clone()));
                }
            }
        }
    }
    Ok(out)
}
