//! What wraps the members' servers and clients, so that a reviewer sees what runs in-process:
//! `served-stack` (a server built with `.layer(..)`, a timeout, a limit, load shedding, a trace
//! function or TLS: in-process calls enter the stack it serves), `service-stack` (a service
//! or channel wrapped in `InterceptedService` or a `ServiceBuilder` stack by hand: it runs
//! in-process too),
//! `client-stack` (a channel with an endpoint timeout or limit, or balanced: in-process calls
//! go through the client's own stack, the message encoded), all notes; and
//! `unrouted-service`, a warning: services added with `add_routes` are not named to the
//! in-process registry, so calls to them stay on the network.

use super::{Finder, Site, once_per_place};
use crate::check::scan::Event;
use crate::check::{Finding, Severity};
use crate::codes::CheckCode;

/// A tonic server builder's settings that put something around the services it serves.
const SERVER_WRAPS: [&str; 6] = [
    "layer",
    "timeout",
    "concurrency_limit_per_connection",
    "load_shed",
    "trace_fn",
    "tls_config",
];

/// An endpoint's settings that a client's own stack applies.
const ENDPOINT_WRAPS: [&str; 3] = ["timeout", "concurrency_limit", "rate_limit"];

fn ends_with(path: &[String], tail: &[&str]) -> bool {
    path.len() >= tail.len()
        && path[path.len() - tail.len()..]
            .iter()
            .zip(tail)
            .all(|(a, b)| a == b)
}

fn is_endpoint(root: &[String]) -> bool {
    root.len() >= 2
        && matches!(root[root.len() - 2].as_str(), "Channel" | "Endpoint")
        && matches!(
            root[root.len() - 1].as_str(),
            "from_static" | "from_shared" | "new" | "try_from"
        )
}

pub(super) fn stacks(sites: &[Site], finding: &Finder<'_>, out: &mut Vec<Finding>) {
    for s in once_per_place(sites) {
        match &s.event {
            Event::Method { name, root }
                if ends_with(root, &["Server", "builder"])
                    && SERVER_WRAPS.contains(&name.as_str()) =>
            {
                out.push(finding(
                    CheckCode::ServedStack,
                    Severity::Note,
                    s,
                    format!(
                        "`{}` serves a tonic server with `.{name}(..)`: in-process calls to its services enter the stack it serves, so this runs for them as over the network",
                        s.member
                    ),
                    "nothing to do; the in-process call never goes around it",
                ));
            }
            Event::Method { name, root }
                if name == "add_routes" && ends_with(root, &["Server", "builder"]) =>
            {
                out.push(finding(
                    CheckCode::UnroutedService,
                    Severity::Warning,
                    s,
                    format!(
                        "`{}` adds services with `add_routes`: their names are not known to the in-process registry, so calls to them from other members stay on the network",
                        s.member
                    ),
                    "add each service with `add_service` to have it called in-process",
                ));
            }
            Event::Method { name, root }
                if is_endpoint(root) && ENDPOINT_WRAPS.contains(&name.as_str()) =>
            {
                out.push(client_stack(
                    finding,
                    s,
                    &format!("an endpoint `.{name}(..)`"),
                ));
            }
            Event::Call { path, .. }
                if ends_with(path, &["Channel", "balance_list"])
                    || ends_with(path, &["Channel", "balance_channel"]) =>
            {
                out.push(client_stack(finding, s, "balance"));
            }
            Event::Method { name, root }
                if name == "service" && ends_with(root, &["ServiceBuilder", "new"]) =>
            {
                out.push(finding(
                    CheckCode::ServiceStack,
                    Severity::Note,
                    s,
                    format!(
                        "`{}` wraps a service or channel in a tower stack by hand: for a gRPC service or channel, its layers run for in-process calls too (a server's through the stack it serves, a client's through the client's own stack, the message encoded)",
                        s.member
                    ),
                    "nothing to do; the in-process call never goes around it",
                ));
            }
            Event::Call { path, .. } if ends_with(path, &["InterceptedService", "new"]) => {
                out.push(finding(
                    CheckCode::ServiceStack,
                    Severity::Note,
                    s,
                    format!(
                        "`{}` wraps a service or channel in `InterceptedService` by hand: its interceptor runs for in-process calls too (a server's through the stack it serves, a client's through the client's own stack, the message encoded)",
                        s.member
                    ),
                    "nothing to do; the in-process call never goes around it",
                ));
            }
            _ => {}
        }
    }
}

fn client_stack(finding: &Finder<'_>, s: &Site, what: &str) -> Finding {
    let (made, applies) = match what {
        "timeout" => (
            "an endpoint `.timeout(..)`".to_owned(),
            "the timeout applies to them as over the network",
        ),
        "balance" => (
            "a balanced channel".to_owned(),
            "the channel's own timeout applies; each endpoint's does not",
        ),
        limit => (
            format!("an endpoint `.{limit}(..)`"),
            "the limit does not apply to them (the client's interceptors and layers do)",
        ),
    };
    finding(
        CheckCode::ClientStack,
        Severity::Note,
        s,
        format!(
            "`{}` makes a client channel with {made}: in-process calls through it go through the client's own stack (the message encoded); {applies}",
            s.member
        ),
        "nothing to do; a plain channel lets in-process calls go straight to the callee",
    )
}
