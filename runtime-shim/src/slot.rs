//! The per-method lookup that generated clients do before every call: one atomic load while
//! nothing was (un)registered since the last call, a registry probe only after a change. What
//! it finds is held through an `arc_swap` guard (a per-thread slot), not a reference count, so
//! that calls from many threads to one callee do not all write one cache line.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::{ArcSwapOption, Guard};

use crate::metrics::{self, CallPath, Counter};
use crate::registry::{self, Entry, GENERATION, Registry};

/// What a slot found: the callee's entry and the counters of in-process calls to it.
///
/// Calls are counted under the calling member: the member set on the calling thread (a merged
/// binary names each member's threads, and an in-process callee's code runs as its member),
/// else the crate that generated the client. The first caller's counter is kept at hand;
/// another member calling through the same client crate (a shared proto crate) finds its own.
#[derive(Debug)]
pub struct Resolved {
    pub entry: Entry,
    /// The client crate, for threads that name no member.
    crate_name: &'static str,
    /// Inline calls, the counter of the caller that resolved this at hand.
    inline: ByCaller,
}

impl Resolved {
    /// Counts one in-process call.
    #[inline]
    pub fn count(&self) {
        let caller = crate::hook::current_member(self.crate_name);
        self.inline
            .add(caller, || self.counter(caller, CallPath::Inline));
    }

    /// Counts one in-process call whose message was encoded on the way (a layer of the
    /// callee's stack read the body, or the call went through the caller's own stack).
    pub fn count_encoded(&self) {
        let caller = crate::hook::current_member(self.crate_name);
        self.counter(caller, CallPath::InlineEncoded).add(1);
    }

    fn counter(&self, caller: &str, path: CallPath) -> Counter {
        metrics::counter(&self.entry.path, path, caller, &self.entry.member)
    }
}

/// A counter kept at hand for the first caller; another caller's is found in the metrics.
#[derive(Debug)]
struct ByCaller {
    caller: &'static str,
    counter: Counter,
}

impl ByCaller {
    /// Counts one call of `caller`, whose counter `other` finds when it is not the first's.
    #[inline]
    fn add(&self, caller: &'static str, other: impl FnOnce() -> Counter) {
        if std::ptr::eq(caller, self.caller) || caller == self.caller {
            self.counter.add(1);
        } else {
            other().add(1);
        }
    }
}

/// One generated client method's view of the registry, usually a `static`.
#[derive(Debug)]
pub struct MethodSlot {
    path: &'static str,
    caller: &'static str,
    /// What the registry said at some generation; empty = never asked.
    cached: ArcSwapOption<Cached>,
    /// Remote calls, the first remote caller's counter at hand.
    remote: std::sync::OnceLock<ByCaller>,
}

/// A lookup and the generation it was made at, swapped in as one value so that a slow lookup
/// of an older generation can never overwrite a newer one.
#[derive(Debug)]
struct Cached {
    generation: u64,
    resolved: Option<Resolved>,
}

/// A registered callee, kept alive (and its server's service with it) while this is held:
/// a generated client holds it until the in-process call has ended.
#[derive(Debug)]
pub struct Found(Held);

#[derive(Debug)]
enum Held {
    /// The slot's cache, `resolved` known to be `Some`.
    Cached(Guard<Option<Arc<Cached>>>),
    /// From a scoped (test) registry, which is not cached (boxed: a `Found` stays small in
    /// the futures that hold it).
    Owned(Box<Resolved>),
}

impl Deref for Found {
    type Target = Resolved;

    fn deref(&self) -> &Resolved {
        match &self.0 {
            Held::Cached(guard) => guard
                .as_ref()
                .and_then(|c| c.resolved.as_ref())
                .expect("a Found is made only from a cache entry that resolved"),
            Held::Owned(resolved) => resolved,
        }
    }
}

impl MethodSlot {
    /// `path` is `/package.Service/Method`; `caller` the crate whose client this is (the
    /// caller label where the calling thread names no member).
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
    #[inline]
    pub fn resolve(&self) -> Option<Found> {
        if let Some(scoped) = registry::scoped() {
            // Scoped registries are for tests: no cache, a probe per call.
            return scoped
                .lookup(self.path)
                .map(|e| Found(Held::Owned(Box::new(self.resolved(e)))));
        }
        let generation = GENERATION.load(Ordering::Acquire);
        let guard = self.cached.load();
        match &*guard {
            Some(cached) if cached.generation == generation => {
                cached.resolved.as_ref()?;
                Some(Found(Held::Cached(guard)))
            }
            _ => {
                drop(guard);
                self.refresh(generation)
            }
        }
    }

    /// Asks the registry and caches the answer for `generation`.
    #[cold]
    fn refresh(&self, generation: u64) -> Option<Found> {
        let found = Registry::global()
            .lookup(self.path)
            .map(|e| self.resolved(e));
        let hit = found.is_some();
        let fresh = Arc::new(Cached {
            generation,
            resolved: found,
        });
        self.cached.rcu(|old| match old {
            Some(newer) if newer.generation > generation => Some(newer.clone()),
            _ => Some(fresh.clone()),
        });
        // What was just cached (or, if a newer generation raced in, that one).
        let guard = self.cached.load();
        let resolved = guard.as_ref().is_some_and(|c| c.resolved.is_some());
        (hit && resolved).then_some(Found(Held::Cached(guard)))
    }

    /// Counts one call that went over the network, under the calling member (see
    /// [`Resolved`]).
    pub fn count_remote(&self) {
        let caller = crate::hook::current_member(self.caller);
        let counter = || metrics::counter(self.path, CallPath::Remote, caller, "");
        self.remote
            .get_or_init(|| ByCaller {
                caller,
                counter: counter(),
            })
            .add(caller, counter);
    }

    fn resolved(&self, entry: Entry) -> Resolved {
        let caller = crate::hook::current_member(self.caller);
        let counter = metrics::counter(self.path, CallPath::Inline, caller, &entry.member);
        Resolved {
            entry,
            crate_name: self.caller,
            inline: ByCaller { caller, counter },
        }
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
        struct Routed;
        let routed = std::any::TypeId::of::<Routed>();
        let registry = Registry::global();
        let reg =
            registry.register_server("late", vec![routed], vec![(SLOT.path().into(), handler)]);
        assert!(SLOT.resolve().is_none(), "built, not served");
        let serving = registry.serve(crate::Served {
            routes: vec![("test.Slot".to_owned(), routed)],
            plain: true,
            stack: None,
            enter: None,
        });
        let found = SLOT.resolve().expect("seen once served");
        assert_eq!(&*found.entry.member, "late");
        let again = SLOT.resolve().expect("cached");
        assert!(std::ptr::eq(&*found, &*again), "cached");
        drop((found, again));
        drop(serving);
        assert!(SLOT.resolve().is_none(), "serving ended");
        let serving = registry.serve(crate::Served {
            routes: vec![("test.Slot".to_owned(), routed)],
            plain: true,
            stack: None,
            enter: None,
        });
        assert!(SLOT.resolve().is_some(), "served again");
        drop(reg);
        assert!(SLOT.resolve().is_none(), "the dropped server is gone");
        drop(serving);
    }
}
