//! What a merged workspace's tonic `Channel` tells the generated clients: whether a client's
//! service stack is a bare channel (then a call may go straight to its callee), and whether a
//! call that went through the client's own stack was entered in-process by the channel.
//!
//! The patched tonic registers a probe per tonic copy ([`register_channel_probe`]); a client
//! asks [`channel_plain`] with its stack as `&dyn Any`. The generated code marks a request it
//! sends through its own stack with [`Dispatched`]; the channel sets it when it enters the
//! callee's served stack instead of the network.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// Recognises one tonic copy's `Channel`: `Some(plain)` for one of its channels (plain: no
/// timeout, concurrency or rate limit, not balanced), `None` for anything else.
pub type ChannelProbe = fn(&dyn Any) -> Option<bool>;

static PROBES: RwLock<Vec<ChannelProbe>> = RwLock::new(Vec::new());

/// Registers `probe` once (a patched tonic calls this whenever it makes a channel).
pub fn register_channel_probe(probe: ChannelProbe) {
    let known = PROBES
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .any(|p| std::ptr::fn_addr_eq(*p, probe));
    if !known {
        let mut probes = PROBES.write().unwrap_or_else(|p| p.into_inner());
        if !probes.iter().any(|p| std::ptr::fn_addr_eq(*p, probe)) {
            probes.push(probe);
        }
    }
}

/// Whether `stack` is a plain channel of a patched tonic (`None`: not a channel any probe
/// knows).
pub fn channel_plain(stack: &dyn Any) -> Option<bool> {
    PROBES
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find_map(|probe| probe(stack))
}

/// Set by a merged workspace's channel when it entered the callee's served stack in-process;
/// the generated client puts one in the request's extensions and reads it after the call.
#[derive(Debug, Clone, Default)]
pub struct Dispatched(Arc<AtomicBool>);

impl Dispatched {
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Channel {
        timeout: Option<u64>,
    }

    fn probe(any: &dyn Any) -> Option<bool> {
        any.downcast_ref::<Channel>().map(|c| c.timeout.is_none())
    }

    #[test]
    fn a_probe_tells_its_channels_and_nothing_else() {
        register_channel_probe(probe);
        register_channel_probe(probe);
        assert_eq!(channel_plain(&Channel { timeout: None }), Some(true));
        assert_eq!(channel_plain(&Channel { timeout: Some(50) }), Some(false));
        assert_eq!(channel_plain(&7u8), None);
        let count = PROBES
            .read()
            .expect("probes")
            .iter()
            .filter(|p| std::ptr::fn_addr_eq(**p, probe as ChannelProbe))
            .count();
        assert_eq!(count, 1, "registered once");
    }

    #[test]
    fn a_dispatch_mark_is_shared_by_its_clones() {
        let mark = Dispatched::default();
        let riding = mark.clone();
        assert!(!mark.get());
        riding.set();
        assert!(mark.get());
    }
}
