//! Kubernetes manifests as data: YAML documents read (yaml-rust2) into JSON values, and
//! objects written back as a YAML stream (each document JSON, which YAML reads as it is: no
//! quoting rule can turn `"0.1.0"` or `"true"` into another type on the way out).

use std::path::{Path, PathBuf};

use merge_analyzer::error::InputCode;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use super::error::{NotJson, YamlError};

/// One document of a manifest file.
#[derive(Debug, Clone)]
pub struct Doc {
    pub file: PathBuf,
    pub value: Value,
}

/// The manifests of a folder: every document, and each file's text as it is.
#[derive(Debug, Default)]
pub struct Manifests {
    pub docs: Vec<Doc>,
    pub texts: Vec<(PathBuf, String)>,
}

/// Every document of every `.yaml`, `.yml` and `.json` file under `dir` (sorted by path; empty
/// documents skipped), and the files' texts as they are.
pub fn read_dir(dir: &Path) -> Result<Manifests, YamlError> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    files.sort();
    let mut docs = Vec::new();
    let mut texts = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| YamlError::Read {
            path: file.clone(),
            source,
        })?;
        let parsed = YamlLoader::load_from_str(&text).map_err(|source| YamlError::Syntax {
            path: file.clone(),
            source,
        })?;
        for y in parsed {
            let value = json(&y).map_err(|source| YamlError::NotJson {
                path: file.clone(),
                source,
            })?;
            if !value.is_null() {
                docs.push(Doc {
                    file: file.clone(),
                    value,
                });
            }
        }
        texts.push((file, text));
    }
    Ok(Manifests { docs, texts })
}

/// Plain scalars that Kubernetes (YAML 1.1) and this reader (YAML 1.2) read differently:
/// `0644` (octal to one, decimal to the other) and `<<` merge keys. Each is an error naming
/// the file and line.
pub fn ambiguous(file: &Path, text: &str) -> Vec<crate::diagnostic::Diagnostic> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split(" #").next().unwrap_or_default();
        let value = code
            .rsplit_once(": ")
            .map(|(_, v)| v)
            .or_else(|| code.trim_start().strip_prefix("- "))
            .unwrap_or_default()
            .trim();
        let octal =
            value.len() > 1 && value.starts_with('0') && value.bytes().all(|b| b.is_ascii_digit());
        let merge_key = code.trim_start().starts_with("<<:");
        if octal || merge_key {
            let what = if octal {
                format!(
                    "`{value}` is octal to Kubernetes and decimal to cargo-merge; write it in decimal"
                )
            } else {
                "a `<<` merge key is read differently by Kubernetes and cargo-merge; write the keys out".to_owned()
            };
            let mut d = crate::diagnostic::Diagnostic::usage(
                InputCode::InvalidValue,
                what,
                "render writes the objects back: it will not change what a value means",
            );
            d.file = Some(file.to_path_buf());
            d.line = Some(i + 1);
            out.push(d);
        }
    }
    out
}

/// A YAML value as JSON.
fn json(y: &Yaml) -> Result<Value, NotJson> {
    Ok(match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| NotJson::Number(r.clone()))?,
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(a) => Value::Array(a.iter().map(json).collect::<Result<_, _>>()?),
        Yaml::Hash(h) => {
            let mut map = serde_json::Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => return Err(NotJson::Key(format!("{other:?}"))),
                };
                map.insert(key, json(v)?);
            }
            Value::Object(map)
        }
        Yaml::Alias(_) | Yaml::BadValue => return Err(NotJson::Alias),
    })
}

/// `objects` as a YAML stream: each a document of its own.
pub fn stream(objects: &[Value]) -> String {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_json::to_string_pretty(o).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_yaml_versions_read_differently_are_refused_with_their_line() {
        let text = "mode: 0644\nport: 8080\nname: \"0644\"\n<<: *base\nlist:\n  - 0755\n";
        let found = ambiguous(Path::new("k8s/a.yaml"), text);
        let lines: Vec<Option<usize>> = found.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![Some(1), Some(4), Some(6)]);
    }

    #[test]
    fn yaml_documents_become_json_and_come_back() {
        let docs = YamlLoader::load_from_str(
            "a: 1\nb: \"0.1.0\"\nc: [true, 1.5, null]\n---\nkind: Service\n",
        )
        .expect("YAML");
        let values: Vec<Value> = docs.iter().map(|d| json(d).expect("JSON")).collect();
        assert_eq!(
            values[0],
            serde_json::json!({"a": 1, "b": "0.1.0", "c": [true, 1.5, null]})
        );
        let text = stream(&values);
        let back: Vec<Value> = YamlLoader::load_from_str(&text)
            .expect("YAML again")
            .iter()
            .map(|d| json(d).expect("JSON"))
            .collect();
        assert_eq!(back, values);
    }
}
