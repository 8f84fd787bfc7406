//! Why the members' Kubernetes manifests cannot be merged into one Deployment, or read.

use std::path::PathBuf;

use crate::envmerge::EnvConflict;

/// What stops a merged Deployment: something one pod cannot hold for every member, or a
/// key render does not merge (a render leaving it out would not be whole).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the group has no member")]
    NoMember,
    #[error(
        "members `{first}` and `{other}` are in different namespaces: one Deployment cannot hold both"
    )]
    Namespaces { first: String, other: String },
    #[error("the Deployment of `{0}` has no container")]
    NoContainer(String),
    #[error(
        "`{0}` sets its container's `command`: the merged binary is the image's entrypoint; give its arguments as `args`"
    )]
    Command(String),
    /// Keys of a member's container or pod render does not merge yet.
    #[error(
        "`{member}`'s {what} sets {keys}, which render does not merge yet: a render leaving it out would not be whole"
    )]
    Unmerged {
        member: String,
        what: &'static str,
        /// The keys, each in backticks.
        keys: String,
    },
    /// A value every member must share, set differently.
    #[error("members set `{key}` differently ({first} and {other}): one pod cannot hold both")]
    Differ {
        key: String,
        first: String,
        other: String,
    },
    #[error(
        "members set the pod annotation `{key}` differently (`{member}` wants {value}): one pod cannot hold both"
    )]
    Annotation {
        key: String,
        member: String,
        value: String,
    },
    /// Two members' sidecars, volumes or mounts of one name that differ.
    #[error("two members have a {what} `{name}` that differs: one pod cannot hold both")]
    Union { what: String, name: String },
    #[error("a port of `{0}` has no containerPort")]
    NoContainerPort(String),
    #[error("members `{first}` and `{other}` both listen on port {port}: in one pod they cannot")]
    Port {
        first: String,
        other: String,
        port: i64,
    },
    /// A resource value that is neither a string nor a number.
    #[error("resource `{name}`: `{value}` is not a quantity")]
    NotQuantity { name: String, value: String },
    #[error("resource `{name}`: `{value}` is not a Kubernetes quantity")]
    Quantity { name: String, value: String },
    #[error(transparent)]
    Env(#[from] EnvConflict),
}

/// A manifests folder that cannot be read as Kubernetes YAML.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}`: {source}", path.display())]
    Syntax {
        path: PathBuf,
        #[source]
        source: yaml_rust2::ScanError,
    },
    #[error("`{}`: {source}", path.display())]
    NotJson {
        path: PathBuf,
        #[source]
        source: NotJson,
    },
}

/// YAML that JSON (and so Kubernetes' API) cannot hold.
#[derive(Debug, thiserror::Error)]
pub enum NotJson {
    #[error("`{0}` is not a number JSON can hold")]
    Number(String),
    #[error("a key that is not a string: {0}")]
    Key(String),
    #[error("an alias or a bad value")]
    Alias,
}
