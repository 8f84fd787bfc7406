//! The gate between `check` and `build`: the error-level findings build neither mends nor
//! leaves to the isolation policy refuse the build, unless `--allow CODE` lets them through.

use std::collections::BTreeSet;

use merge_analyzer::check::{Finding, Severity};
use merge_analyzer::error::{InputCode, InputError};
use merge_analyzer::members::Member;

use super::{layout, mitigate};

/// The error-level findings that build neither mends (`mitigations`) nor leaves to the isolation
/// policy and that `allow` does not let through: each refuses the build, under the finding's own
/// code, at the finding's file (in the member's original folder) and line.
pub(super) fn refusals(
    findings: &[Finding],
    members: &[Member],
    mitigations: &mitigate::Plan,
    allow: &BTreeSet<String>,
) -> Vec<InputError> {
    findings
        .iter()
        .filter(|f| {
            f.severity == Severity::Error
                && !mitigations.mends(f)
                // Refused by the isolation step, with their own message.
                && f.code.allowable()
                && !allow.contains(f.code.name())
        })
        .map(|f| {
            let file = f
                .file
                .as_ref()
                .map(|p| {
                    layout::normalize(
                        &members
                            .iter()
                            .find(|m| m.name == f.member)
                            .map(|m| m.root.join(p))
                            .unwrap_or_default(),
                    )
                })
                .unwrap_or_default();
            InputError::new(
                &file,
                f.line,
                format!(
                    "{} (cargo merge check: {}; pass --allow {} to build anyway)",
                    f.message, f.code, f.code
                ),
            )
            .code(InputCode::Check(f.code))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use merge_analyzer::codes::CheckCode;

    use super::*;

    fn finding(code: &'static str, severity: Severity) -> Finding {
        Finding {
            code: CheckCode::from_name(code).expect("a check code"),
            severity,
            group: "g".to_owned(),
            member: "alpha".to_owned(),
            file: None,
            line: None,
            column: None,
            message: format!("`alpha` does {code}"),
            help: String::new(),
            source: None,
            subject: None,
        }
    }

    #[test]
    fn a_refusal_carries_the_findings_own_code() {
        let findings = [
            finding("process-exit", Severity::Error),
            finding("global-allocator", Severity::Error),
            finding("version-drift", Severity::Error),
            finding("env-set-var", Severity::Warning),
            finding("signal-handler", Severity::Error),
        ];
        let plan = mitigate::plan(&findings, mitigate::Places::default());
        let refused = refusals(&findings, &[], &plan, &BTreeSet::new());
        let codes: Vec<&str> = refused.iter().map(|e| e.code.code()).collect();
        assert_eq!(codes, ["process-exit", "signal-handler"]);
        assert_eq!(refused[0].code, InputCode::Check(CheckCode::ProcessExit));
        assert!(
            refused[0].message.ends_with(
                "(cargo merge check: process-exit; pass --allow process-exit to build anyway)"
            ),
            "{}",
            refused[0].message
        );
        let allowed = refusals(
            &findings,
            &[],
            &plan,
            &BTreeSet::from(["process-exit".to_owned()]),
        );
        let codes: Vec<&str> = allowed.iter().map(|e| e.code.code()).collect();
        assert_eq!(codes, ["signal-handler"]);
    }

    #[test]
    fn only_initialisations_a_copy_can_soften_are_mended() {
        let init = |code, callee: &str| Finding {
            subject: Some(callee.to_owned()),
            ..finding(code, Severity::Error)
        };
        let findings = [
            init("global-tracing-init", "tracing_subscriber::fmt::init"),
            init("global-logger-init", "env_logger::Builder::new::init"),
            init("global-logger-init", "log::set_logger"),
            init(
                "global-tracing-init",
                "tracing::subscriber::set_global_default",
            ),
        ];
        let plan = mitigate::plan(&findings, mitigate::Places::default());
        let refused = refusals(&findings, &[], &plan, &BTreeSet::new());
        let codes: Vec<&str> = refused.iter().map(|e| e.code.code()).collect();
        assert_eq!(codes, ["global-logger-init", "global-tracing-init"]);
    }

    #[test]
    fn what_a_shared_copy_cannot_get_is_not_mended() {
        // alpha and beta share `common`; gamma and delta share `util`.
        let mut places = mitigate::Places::default();
        for (m, shared) in [
            ("alpha", "common"),
            ("beta", "common"),
            ("gamma", "util"),
            ("delta", "util"),
        ] {
            let dir = |d: &str| PathBuf::from(format!("/w/{d}"));
            places.add(
                m,
                &dir(m),
                [(dir(m), m.to_owned()), (dir(shared), shared.to_owned())],
            );
        }
        let at = |code, severity, member: &str, file: &str, subject: Option<&str>| Finding {
            member: member.to_owned(),
            file: Some(PathBuf::from(file)),
            subject: subject.map(str::to_owned),
            ..finding(code, severity)
        };
        let init = Some("tracing_subscriber::fmt::init");
        let findings = [
            // Softened in the shared copy: mended.
            at(
                "global-tracing-init",
                Severity::Error,
                "alpha",
                "../common/src/lib.rs",
                init,
            ),
            at(
                "global-tracing-init",
                Severity::Error,
                "beta",
                "../common/src/lib.rs",
                init,
            ),
            // A key read in a shared package: a warning, not namespaced, not refused.
            at(
                "env-var-collision",
                Severity::Warning,
                "alpha",
                "../common/src/lib.rs",
                Some("PORT"),
            ),
            at(
                "env-var-collision",
                Severity::Warning,
                "gamma",
                "src/main.rs",
                Some("PORT"),
            ),
            // Two allocators in two shared packages: one is kept, the other cannot go.
            at(
                "global-allocator",
                Severity::Error,
                "alpha",
                "../common/src/lib.rs",
                None,
            ),
            at(
                "global-allocator",
                Severity::Error,
                "beta",
                "../common/src/lib.rs",
                None,
            ),
            at(
                "global-allocator",
                Severity::Error,
                "gamma",
                "../util/src/lib.rs",
                None,
            ),
            at(
                "global-allocator",
                Severity::Error,
                "delta",
                "../util/src/lib.rs",
                None,
            ),
        ];
        let plan = mitigate::plan(&findings, places);
        let refused = refusals(&findings, &[], &plan, &BTreeSet::new());
        // util's allocator (gamma's and delta's finding): common's is the one kept.
        let codes: Vec<&str> = refused.iter().map(|e| e.code.code()).collect();
        assert_eq!(codes, ["global-allocator", "global-allocator"]);
        let mended: Vec<bool> = findings.iter().map(|f| plan.mends(f)).collect();
        assert_eq!(mended, [true, true, false, true, true, true, false, false]);
        assert!(
            plan.for_copy(Path::new("/w/common"))
                .is_some_and(|m| m.soften_inits && m.env_keys.is_empty())
        );
        assert!(
            plan.notes
                .iter()
                .any(|n| n.contains("`gamma` reads `GAMMA_PORT`"))
                && !plan.notes.iter().any(|n| n.contains("ALPHA_PORT")),
            "{:?}",
            plan.notes
        );
    }
}
