//! The members' .proto files, compiled in process (protox, no protoc) into one descriptor pool:
//! what turns a request's protobuf JSON into bytes and an answer's bytes into JSON.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use merge_analyzer::members::Member;
use prost_reflect::DescriptorPool;

/// A member's .proto files that do not compile, or do not join the others'.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("member `{member}`: {source}")]
    Compile {
        member: String,
        #[source]
        source: Box<protox::Error>,
    },
    #[error("member `{member}`: {source}")]
    Pool {
        member: String,
        #[source]
        source: Box<prost_reflect::DescriptorError>,
    },
}

/// Every .proto file of the members' own packages (not `target/`, not hidden folders),
/// compiled member by member and joined: a file another member already gave (its own copy of
/// the same .proto) is taken once, the first member's.
pub fn pool(members: &[Member]) -> Result<DescriptorPool, ProtoError> {
    let mut pool = DescriptorPool::new();
    for m in members {
        let roots: BTreeSet<PathBuf> = m
            .local_packages()
            .filter_map(|p| {
                p.manifest_path
                    .parent()
                    .map(|d| d.as_std_path().to_path_buf())
            })
            .collect();
        let files: Vec<PathBuf> = roots.iter().flat_map(|r| proto_files(r)).collect();
        if files.is_empty() {
            continue;
        }
        // Imports resolve against each file's folder and the package roots.
        let mut includes: Vec<PathBuf> = files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        includes.extend(roots.iter().cloned());
        let member = || m.name.clone();
        let compiled = |source| ProtoError::Compile {
            member: member(),
            source: Box::new(source),
        };
        let mut compiler = protox::Compiler::new(&includes).map_err(compiled)?;
        compiler.include_imports(true);
        for f in &files {
            compiler.open_file(f).map_err(compiled)?;
        }
        for file in compiler.file_descriptor_set().file {
            if pool.get_file_by_name(file.name()).is_none() {
                pool.add_file_descriptor_proto(file)
                    .map_err(|source| ProtoError::Pool {
                        member: member(),
                        source: Box::new(source),
                    })?;
            }
        }
    }
    Ok(pool)
}

/// The .proto files of the package folder `root`, sorted: its files as a copy takes them
/// (`synth::layout::files`: no build output, no version control).
fn proto_files(root: &Path) -> Vec<PathBuf> {
    crate::synth::layout::files(root)
        .unwrap_or_default()
        .into_iter()
        .filter(|rel| rel.extension().is_some_and(|x| x == "proto"))
        .map(|rel| root.join(rel))
        .collect()
}
