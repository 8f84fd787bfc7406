//! The process-wide registry: which gRPC methods are served in this process, by which member.
//!
//! A server registers its methods when it is built and unregisters them when its last clone is
//! dropped (the [`Registration`] it holds). Entries are framework-neutral: a handler is an
//! `Arc<dyn Any + Send + Sync>` whose concrete type only the generated code of the two sides
//! knows. Every change bumps one process-wide generation counter, which is how a
//! [`crate::MethodSlot`] knows its cached lookup is stale (a miss is never cached forever).

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, RwLock, Weak};

use crate::neutral::{NeutralStreaming, NeutralUnary};

/// What a server registers for one method.
#[derive(Clone, Default)]
pub struct Handler {
    /// A handler typed with the callee's tonic and message types; a caller with the very same
    /// types downcasts it and passes its request by move (zero copy). Unary methods.
    pub typed: Option<Arc<dyn Any + Send + Sync>>,
    /// The same unary method in neutral form, for every other caller.
    pub neutral: Option<NeutralUnary>,
    /// A streaming method in neutral form (messages encoded one by one).
    pub streaming: Option<NeutralStreaming>,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("typed", &self.typed.is_some())
            .field("neutral", &self.neutral.is_some())
            .field("streaming", &self.streaming.is_some())
            .finish_non_exhaustive()
    }
}

/// One registered method.
#[derive(Clone)]
pub struct Entry {
    /// `/package.Service/Method`.
    pub path: Arc<str>,
    /// The member (crate) that registered the server.
    pub member: Arc<str>,
    pub handler: Handler,
    id: u64,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("path", &self.path)
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

/// Registered methods by path. Several servers may register one path (two instances of a
/// service); the newest is used until it is dropped.
#[derive(Debug, Default)]
pub struct Registry {
    methods: RwLock<HashMap<Arc<str>, Vec<Entry>>>,
}

static GLOBAL: LazyLock<Arc<Registry>> = LazyLock::new(|| Arc::new(Registry::default()));
/// Bumped on every change of any registry.
pub(crate) static GENERATION: AtomicU64 = AtomicU64::new(1);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
/// How many threads have a scoped registry; 0 lets lookups skip the thread-local check.
pub(crate) static SCOPES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SCOPED: RefCell<Vec<Arc<Registry>>> = const { RefCell::new(Vec::new()) };
}

impl Registry {
    /// The process-wide registry.
    pub fn global() -> Arc<Registry> {
        GLOBAL.clone()
    }

    /// The registry that servers built on this thread register in and clients on this thread
    /// look in: the innermost [`Registry::scope`], else the global one.
    pub fn current() -> Arc<Registry> {
        scoped().unwrap_or_else(Registry::global)
    }

    /// Runs `f` with `self` as this thread's current registry, so that tests running in
    /// parallel do not see each other's servers. Servers and clients must be built and called
    /// on this thread (a current-thread async runtime does that).
    pub fn scope<R>(self: &Arc<Self>, f: impl FnOnce() -> R) -> R {
        struct Pop;
        impl Drop for Pop {
            fn drop(&mut self) {
                SCOPED.with(|s| s.borrow_mut().pop());
                SCOPES.fetch_sub(1, Ordering::AcqRel);
            }
        }
        SCOPED.with(|s| s.borrow_mut().push(self.clone()));
        SCOPES.fetch_add(1, Ordering::AcqRel);
        let _pop = Pop;
        f()
    }

    /// Registers `handler` for each of `paths` on behalf of `member`. The methods stay
    /// registered while the returned [`Registration`] (or a clone of it) lives.
    pub fn register(
        self: &Arc<Self>,
        member: &str,
        handlers: Vec<(String, Handler)>,
    ) -> Registration {
        let member: Arc<str> = member.into();
        let mut ids = Vec::with_capacity(handlers.len());
        let mut methods = self.methods.write().unwrap_or_else(|p| p.into_inner());
        for (path, handler) in handlers {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let path: Arc<str> = path.into();
            let entry = Entry {
                path: path.clone(),
                member: member.clone(),
                handler,
                id,
            };
            methods.entry(path.clone()).or_default().push(entry);
            ids.push((path, id));
        }
        drop(methods);
        GENERATION.fetch_add(1, Ordering::AcqRel);
        Registration {
            _inner: Arc::new(RegistrationInner {
                registry: Arc::downgrade(self),
                ids,
            }),
        }
    }

    /// The newest entry for `path`.
    pub fn lookup(&self, path: &str) -> Option<Entry> {
        let methods = self.methods.read().unwrap_or_else(|p| p.into_inner());
        methods.get(path).and_then(|v| v.last()).cloned()
    }

    /// Whether `member` has registered at least one method.
    pub fn serves(&self, member: &str) -> bool {
        let methods = self.methods.read().unwrap_or_else(|p| p.into_inner());
        methods.values().flatten().any(|e| &*e.member == member)
    }

    /// Every registered path, sorted.
    pub fn paths(&self) -> Vec<String> {
        let methods = self.methods.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<String> = methods.keys().map(|k| k.to_string()).collect();
        out.sort();
        out
    }

    fn remove(&self, ids: &[(Arc<str>, u64)]) {
        // The removed entries may hold the last reference to a service, whose `Drop` may touch
        // the registry: they are dropped after the lock is released.
        let mut removed = Vec::with_capacity(ids.len());
        let mut methods = self.methods.write().unwrap_or_else(|p| p.into_inner());
        for (path, id) in ids {
            if let Some(v) = methods.get_mut(path) {
                if let Some(at) = v.iter().position(|e| e.id == *id) {
                    removed.push(v.remove(at));
                }
                if v.is_empty() {
                    methods.remove(path);
                }
            }
        }
        drop(methods);
        GENERATION.fetch_add(1, Ordering::AcqRel);
        drop(removed);
    }
}

pub(crate) fn scoped() -> Option<Arc<Registry>> {
    if SCOPES.load(Ordering::Acquire) == 0 {
        return None;
    }
    SCOPED.with(|s| s.borrow().last().cloned())
}

/// Keeps methods registered; cloned with the server that holds it, and the methods are removed
/// when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Registration {
    _inner: Arc<RegistrationInner>,
}

#[derive(Debug)]
struct RegistrationInner {
    registry: Weak<Registry>,
    ids: Vec<(Arc<str>, u64)>,
}

impl Drop for RegistrationInner {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.remove(&self.ids);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(n: u32) -> Handler {
        Handler {
            typed: Some(Arc::new(n)),
            ..Handler::default()
        }
    }

    fn value(e: &Entry) -> u32 {
        let typed = e.handler.typed.as_ref().expect("typed");
        *typed.downcast_ref::<u32>().expect("a u32 handler")
    }

    #[test]
    fn registrations_live_as_long_as_their_last_clone() {
        let r = Arc::new(Registry::default());
        let reg = r.register("pricing", vec![("/shop.Pricing/Quote".into(), handler(1))]);
        let clone = reg.clone();
        let e = r.lookup("/shop.Pricing/Quote").expect("registered");
        assert_eq!((&*e.member, value(&e)), ("pricing", 1));
        drop(reg);
        assert!(
            r.lookup("/shop.Pricing/Quote").is_some(),
            "a clone still lives"
        );
        drop(clone);
        assert!(r.lookup("/shop.Pricing/Quote").is_none());
        assert!(r.paths().is_empty());
    }

    #[test]
    fn a_handler_whose_drop_uses_the_registry_does_not_deadlock() {
        struct Touch(Arc<Registry>);
        impl Drop for Touch {
            fn drop(&mut self) {
                let _ = self.0.lookup("/p.S/Other");
            }
        }
        let r = Arc::new(Registry::default());
        let handler = Handler {
            typed: Some(Arc::new(Touch(r.clone()))),
            ..Handler::default()
        };
        let reg = r.register("x", vec![("/p.S/M".into(), handler)]);
        drop(reg); // the entry's drop runs after the write lock is released
        assert!(r.lookup("/p.S/M").is_none());
    }

    #[test]
    fn the_newest_of_two_servers_answers_until_it_is_dropped() {
        let r = Arc::new(Registry::default());
        let first = r.register("a", vec![("/p.S/M".into(), handler(1))]);
        let second = r.register("b", vec![("/p.S/M".into(), handler(2))]);
        assert_eq!(value(&r.lookup("/p.S/M").expect("entry")), 2);
        drop(second);
        assert_eq!(value(&r.lookup("/p.S/M").expect("entry")), 1);
        drop(first);
    }

    #[test]
    fn scoped_registries_do_not_see_each_other() {
        let a = Arc::new(Registry::default());
        let b = Arc::new(Registry::default());
        let _reg =
            a.scope(|| Registry::current().register("x", vec![("/p.S/M".into(), handler(7))]));
        assert!(a.lookup("/p.S/M").is_some());
        assert!(b.scope(|| Registry::current().lookup("/p.S/M")).is_none());
        assert!(Registry::global().lookup("/p.S/M").is_none());
    }
}
