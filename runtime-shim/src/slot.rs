//! The per-method lookup that generated clients do before every call: one atomic load while
//! nothing was (un)registered since the last call, a registry probe only after a change.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::ArcSwapOption;

use crate::metrics::{self, CallPath, Counter};
use crate::registry::{self, Entry, GENERATION, Registry};

/// What a slot found: the callee's entry and the counter of inline calls to it.
#[derive(Debug)]
pub struct Resolved {
    pub entry: Entry,
    inline: Counter,
}

impl Resolved {
    /// Counts one in-process call.
    pub fn count(&self) {
        self.inline.add(1);
    }
}

/// One generated client method's view of the registry, usually a `static`.
#[derive(Debug)]
pub struct MethodSlot {
    path: &'static str,
    caller: &'static str,
    /// What the registry said at some generation; empty = never asked.
    cached: ArcSwapOption<Cached>,
    remote: std::sync::OnceLock<Counter>,
}

/// A lookup and the generation it was made at, swapped in as one value so that a slow lookup
/// of an older generation can never overwrite a newer one.
#[derive(Debug)]
struct Cached {
    generation: u64,
    resolved: Option<Arc<Resolved>>,
}

impl MethodSlot {
    /// `path` is `/package.Service/Method`; `caller` the member whose client this is.
    pub const fn new(path: &'static str, caller: &'static str) -> Self {
        MethodSlot {
            path,
            caller,
            cached: ArcSwapOption::const_empty(),
            remote: std::sync::OnceLock::new(),
        }
    }

    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The in-process callee of this method, if one is registered.
    pub fn resolve(&self) -> Option<Arc<Resolved>> {
        if let Some(scoped) = registry::scoped() {
            // Scoped registries are for tests: no cache, a probe per call.
            return scoped.lookup(self.path).map(|e| Arc::new(self.resolved(e)));
        }
        let generation = GENERATION.load(Ordering::Acquire);
        if let Some(cached) = &*self.cached.load() {
            if cached.generation == generation {
                return cached.resolved.clone();
            }
        }
        let found = Registry::global()
            .lookup(self.path)
            .map(|e| Arc::new(self.resolved(e)));
        let fresh = Arc::new(Cached {
            generation,
            resolved: found.clone(),
        });
        self.cached.rcu(|old| match old {
            Some(newer) if newer.generation > generation => Some(newer.clone()),
            _ => Some(fresh.clone()),
        });
        found
    }

    /// Counts one call that went over the network.
    pub fn count_remote(&self) {
        self.remote
            .get_or_init(|| metrics::counter(self.path, CallPath::Remote, self.caller, ""))
            .add(1);
    }

    fn resolved(&self, entry: Entry) -> Resolved {
        let inline = metrics::counter(self.path, CallPath::Inline, self.caller, &entry.member);
        Resolved { entry, inline }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::MethodSlot;
    use crate::Registry;

    static SLOT: MethodSlot = MethodSlot::new("/test.Slot/Late", "caller-crate");

    #[test]
    fn a_miss_is_not_cached_forever_and_a_drop_is_seen() {
        assert!(SLOT.resolve().is_none());
        let handler = crate::Handler {
            typed: Some(Arc::new(5u8)),
            ..crate::Handler::default()
        };
        let reg = Registry::global().register("late", vec![(SLOT.path().into(), handler)]);
        let found = SLOT.resolve().expect("seen after registration");
        assert_eq!(&*found.entry.member, "late");
        assert!(
            Arc::ptr_eq(&found, &SLOT.resolve().expect("cached")),
            "cached"
        );
        drop(reg);
        assert!(SLOT.resolve().is_none(), "the dropped server is gone");
    }
}
