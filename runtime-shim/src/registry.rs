//! The process-wide registry: which gRPC methods are served in this process, by which member.
//!
//! A server registers its methods when it is built and unregisters them when its last clone is
//! dropped (the [`Registration`] it holds), but a registered method is reachable in-process
//! only while a server *serves* it plainly: the member's tonic (patched in a merged workspace)
//! tells the registry when it starts serving, which services it routes (by name and by the
//! Rust type routed) and whether anything wraps them (a server-wide layer, a timeout, a limit,
//! TLS), with [`Registry::serve`]; the [`Serving`] it gets back ends that when serving ends.
//! A method whose server is not served, was wrapped by hand (`InterceptedService::new(..)`,
//! a `ServiceBuilder` stack), or is served behind anything the in-process call cannot run, is
//! not found, so its callers take the network path, which runs every layer.
//!
//! Entries are framework-neutral: a handler is an `Arc<dyn Any + Send + Sync>` whose concrete
//! type only the generated code of the two sides knows. Every change bumps one process-wide
//! generation counter, which is how a [`crate::MethodSlot`] knows its cached lookup is stale
//! (a miss is never cached forever).

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::HashMap;
#[cfg(test)]
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, RwLock, Weak};

use crate::enter::{Callee, Enter};
use crate::exchange::NeutralStacked;
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
    /// The unary method through its server's served stack, for a caller on another tonic.
    pub stacked: Option<NeutralStacked>,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("typed", &self.typed.is_some())
            .field("neutral", &self.neutral.is_some())
            .field("streaming", &self.streaming.is_some())
            .field("stacked", &self.stacked.is_some())
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
    /// The Rust types this server is when routed as it registered (`XServer<T>`, or the
    /// `InterceptedService` its `with_interceptor` made): a served route of another type is
    /// something wrapped around it.
    routes: Arc<[TypeId]>,
    /// Set when the method is reached through its server's served stack (the server is served
    /// with something around it): the stack, typed with the callee's tonic, which the
    /// generated code of a caller on the same tonic downcasts and calls in-process.
    pub stack: Option<Arc<dyn Any + Send + Sync>>,
    /// The callee's member and the runtime its server serves on, as which the call builds and
    /// polls the callee's futures (the runtime set on lookup, from the serving).
    pub callee: Callee,
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

/// A server that started serving, as its tonic reports it to [`Registry::serve`].
#[derive(Clone, Default)]
pub struct Served {
    /// Each routed service: its name (`package.Service`) and the `TypeId` of what was routed
    /// (`XServer<T>`, or whatever wraps it).
    pub routes: Vec<(String, TypeId)>,
    /// Nothing runs around the routed services that the in-process call would skip: no
    /// server-wide layer, timeout, concurrency limit, load shedding, trace function or TLS.
    pub plain: bool,
    /// The stack a network request enters (every layer, tonic's own timeout and limits, the
    /// router), typed with this server's tonic; an in-process call to a service this server
    /// routes enters it unless the service is served plainly.
    pub stack: Option<Arc<dyn Any + Send + Sync>>,
    /// Runs a closure inside the runtime the server serves on.
    pub enter: Option<Enter>,
}

impl Served {
    /// Whether this server routes `service` (`package.Service`).
    fn routes_service(&self, service: &str) -> bool {
        self.routes.iter().any(|(name, _)| name == service)
    }
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("routes", &self.routes)
            .field("plain", &self.plain)
            .field("stack", &self.stack.is_some())
            .field("enter", &self.enter.is_some())
            .finish()
    }
}

/// Registered methods by path. Several servers of one member may register one path (two
/// instances of a service); the newest reachable one is used until it is dropped. A path two
/// members register is reached over the network (only the address names the one meant).
#[derive(Debug, Default)]
pub struct Registry {
    inner: RwLock<Inner>,
    /// Every registered server counts as served plainly (see [`Registry::assume_served`]).
    assume_served: AtomicBool,
}

#[derive(Debug, Default)]
struct Inner {
    methods: HashMap<Arc<str>, Vec<Entry>>,
    served: Vec<(u64, Served)>,
    /// Services (their name, `Relay` of `pkg.Relay`) that more than one member serves, or that
    /// a member serves whose code was not rewritten: only the address a client names tells
    /// which is meant, so calls to them go over the network.
    by_address: Vec<Arc<str>>,
}

impl Inner {
    /// Whether `path` cannot be told apart by its name: its service is one of `by_address`,
    /// or two members registered it.
    fn ambiguous(&self, path: &str) -> bool {
        let Some(service) = service_of(path) else {
            return false;
        };
        let name = service.rsplit('.').next().unwrap_or(service);
        if self.by_address.iter().any(|s| &**s == name) {
            return true;
        }
        let mut members = self
            .methods
            .get(path)
            .into_iter()
            .flatten()
            .map(|e| &*e.member);
        let first = members.next();
        members.any(|m| Some(m) != first)
    }

    /// The live serving that routes `entry`'s service as the very type `entry` registered
    /// (`plain`: and with nothing around it).
    fn serving(&self, entry: &Entry, plain: bool) -> Option<&Served> {
        let service = service_of(&entry.path)?;
        self.served.iter().map(|(_, s)| s).find(|s| {
            (s.plain || !plain)
                && s.routes
                    .iter()
                    .any(|(name, ty)| name == service && entry.routes.contains(ty))
        })
    }

    /// The newest serving that routes `service` with a stack.
    fn stacked(&self, service: &str) -> Option<&Served> {
        self.served
            .iter()
            .rev()
            .map(|(_, s)| s)
            .filter(|s| s.routes_service(service))
            .find(|s| s.stack.is_some())
    }

    /// What a call of `path` through its service's served stack enters: the stack, and the
    /// callee it runs as (the serving's runtime; the member of the newest server registered
    /// for `path`, if any), with that server's entry.
    fn through_stack(
        &self,
        path: &str,
    ) -> Option<(Arc<dyn Any + Send + Sync>, Callee, Option<&Entry>)> {
        let serving = self.stacked(service_of(path)?)?;
        let registered = self.methods.get(path).and_then(|v| v.last());
        let callee = Callee {
            member: registered.map_or("", |e| e.callee.member),
            enter: serving.enter.clone(),
        };
        Some((serving.stack.clone()?, callee, registered))
    }
}

/// `package.Service` of `/package.Service/Method`.
fn service_of(path: &str) -> Option<&str> {
    path.strip_prefix('/')?.rsplit_once('/').map(|(s, _)| s)
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

    /// Takes every registered server as served plainly, in this registry: for tests and for
    /// processes assembled by hand whose tonic has no serve hook. A merged binary never does
    /// this; there the member's tonic reports what it serves ([`Registry::serve`]).
    pub fn assume_served(&self) {
        self.assume_served.store(true, Ordering::Release);
        GENERATION.fetch_add(1, Ordering::AcqRel);
    }

    /// Registers `handler` for each of `paths` on behalf of `member`, with no route type:
    /// reachable only where [`Registry::assume_served`] holds. See [`Registry::register_server`].
    pub fn register(
        self: &Arc<Self>,
        member: &str,
        handlers: Vec<(String, Handler)>,
    ) -> Registration {
        self.register_server(member, Vec::new(), handlers)
    }

    /// Registers `handler` for each of `paths` on behalf of `member`, a server that is each of
    /// `routes` when routed. The methods stay registered while the returned [`Registration`]
    /// (or a clone of it) lives, and are reachable while a [`Registry::serve`] routes them
    /// plainly as one of those types.
    pub fn register_server(
        self: &Arc<Self>,
        member: &str,
        routes: Vec<TypeId>,
        handlers: Vec<(String, Handler)>,
    ) -> Registration {
        let name = crate::hook::intern(member);
        let member: Arc<str> = member.into();
        let routes: Arc<[TypeId]> = routes.into();
        let mut ids = Vec::with_capacity(handlers.len());
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        for (path, handler) in handlers {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let path: Arc<str> = path.into();
            let entry = Entry {
                path: path.clone(),
                member: member.clone(),
                handler,
                routes: routes.clone(),
                stack: None,
                callee: Callee {
                    member: name,
                    enter: None,
                },
                id,
            };
            inner.methods.entry(path.clone()).or_default().push(entry);
            ids.push((path, id));
        }
        drop(inner);
        GENERATION.fetch_add(1, Ordering::AcqRel);
        Registration {
            _inner: Arc::new(RegistrationInner {
                registry: Arc::downgrade(self),
                ids,
            }),
        }
    }

    /// Services (by name: `Relay` of `pkg.Relay`) that calls reach over the network whatever
    /// is registered: several members of the merged binary serve one, and only the address a
    /// client names tells which it means (the merged binary's main sets them from what build
    /// read off the members).
    pub fn by_address(&self, services: &[&str]) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        inner
            .by_address
            .extend(services.iter().map(|s| Arc::from(*s)));
        drop(inner);
        GENERATION.fetch_add(1, Ordering::AcqRel);
    }

    /// A server starts serving: its plainly routed services become reachable in-process
    /// until the returned [`Serving`] is dropped (when serving ends).
    pub fn serve(self: &Arc<Self>, served: Served) -> Serving {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        inner.served.push((id, served));
        drop(inner);
        GENERATION.fetch_add(1, Ordering::AcqRel);
        Serving {
            registry: Arc::downgrade(self),
            id,
        }
    }

    /// How `path` is reachable in-process: the newest entry registered and served plainly
    /// (or [`Registry::assume_served`]), called directly; else, when a serving routes its
    /// service with a stack (a layered server, a service wrapped by hand), an entry with that
    /// stack ([`Entry::stack`]), whose member is the newest server registered for `path`, if
    /// any. `None`: the call goes over the network.
    pub fn lookup(&self, path: &str) -> Option<Entry> {
        let assumed = self.assume_served.load(Ordering::Acquire);
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        if inner.ambiguous(path) {
            return None;
        }
        let entries = inner.methods.get(path);
        // Assumed served only where no serving reports on the service: a real report (a
        // layered server) is never overridden.
        let reported =
            service_of(path).is_some_and(|s| inner.served.iter().any(|(_, d)| d.routes_service(s)));
        let assumed = assumed && !reported;
        for e in entries.into_iter().flatten().rev() {
            let serving = inner.serving(e, true);
            if assumed || serving.is_some() {
                let mut found = e.clone();
                found.callee.enter = serving.and_then(|s| s.enter.clone());
                return Some(found);
            }
        }
        let (stack, callee, registered) = inner.through_stack(path)?;
        Some(Entry {
            path: path.into(),
            member: registered.map_or_else(|| Arc::from(""), |e| e.member.clone()),
            // Only the way in through the stack: a direct call would skip its layers.
            handler: Handler {
                stacked: registered.and_then(|e| e.handler.stacked.clone()),
                ..Handler::default()
            },
            routes: Arc::from([]),
            stack: Some(stack),
            callee,
            id: 0,
        })
    }

    /// The served stack of `path`'s service, whether it is served plainly or not: what a
    /// merged workspace's tonic `Channel` enters in-process, under the client's own stack.
    pub fn stack_for(&self, path: &str) -> Option<(Arc<dyn Any + Send + Sync>, Callee)> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        if inner.ambiguous(path) {
            return None;
        }
        let (stack, callee, _) = inner.through_stack(path)?;
        Some((stack, callee))
    }

    /// The newest entry registered for `path`, served or not (what [`Registry::lookup`] would
    /// find if its server were served plainly).
    pub fn registered(&self, path: &str) -> Option<Entry> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        inner.methods.get(path).and_then(|v| v.last()).cloned()
    }

    /// Whether a server `member` registered is being served (plainly or not, as the very type
    /// it registered or wrapped).
    pub fn serves(&self, member: &str) -> bool {
        let assumed = self.assume_served.load(Ordering::Acquire);
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        inner.methods.values().flatten().any(|e| {
            &*e.member == member
                && (assumed
                    || inner.serving(e, false).is_some()
                    || service_of(&e.path).is_some_and(|s| inner.stacked(s).is_some()))
        })
    }

    /// Every path reachable in-process, sorted.
    pub fn paths(&self) -> Vec<String> {
        let mut out: Vec<String> = {
            let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
            inner.methods.keys().map(|k| k.to_string()).collect()
        };
        out.retain(|p| self.lookup(p).is_some());
        out.sort();
        out
    }

    fn unserve(&self, id: u64) {
        // The serving's stack may hold the last reference to a server, whose registration
        // removes itself from this registry: it is dropped after the lock is released.
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let all = std::mem::take(&mut inner.served);
        let (ended, kept): (Vec<_>, Vec<_>) = all.into_iter().partition(|(i, _)| *i == id);
        inner.served = kept;
        drop(inner);
        GENERATION.fetch_add(1, Ordering::AcqRel);
        drop(ended);
    }

    fn remove(&self, ids: &[(Arc<str>, u64)]) {
        // The removed entries may hold the last reference to a service, whose `Drop` may touch
        // the registry: they are dropped after the lock is released.
        let mut removed = Vec::with_capacity(ids.len());
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        for (path, id) in ids {
            if let Some(v) = inner.methods.get_mut(path) {
                if let Some(at) = v.iter().position(|e| e.id == *id) {
                    removed.push(v.remove(at));
                }
                if v.is_empty() {
                    inner.methods.remove(path);
                }
            }
        }
        drop(inner);
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

/// A server being served: its plainly routed services are reachable in-process until this is
/// dropped (its tonic holds it for as long as it serves).
#[derive(Debug)]
pub struct Serving {
    registry: Weak<Registry>,
    id: u64,
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.unserve(self.id);
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

    /// A registry where every registered server counts as served.
    fn assuming() -> Arc<Registry> {
        let r = Arc::new(Registry::default());
        r.assume_served();
        r
    }

    /// Stand-ins for the Rust types a server is when routed.
    struct Bare;
    struct Wrapped;

    /// A registry and `member`'s server of `path`, registered as routed type `Bare`.
    fn with_bare(member: &str, path: &str) -> (Arc<Registry>, Registration) {
        let r = Arc::new(Registry::default());
        let reg = r.register_server(
            member,
            vec![TypeId::of::<Bare>()],
            vec![(path.into(), handler(1))],
        );
        (r, reg)
    }

    fn served(routes: &[(&str, TypeId)], plain: bool) -> Served {
        Served {
            routes: routes.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect(),
            plain,
            stack: None,
            enter: None,
        }
    }

    #[test]
    fn registrations_live_as_long_as_their_last_clone() {
        let r = assuming();
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
    fn a_registered_server_is_reachable_only_while_it_is_served_plainly() {
        let (r, _reg) = with_bare("pricing", "/shop.Pricing/Quote");
        let bare = TypeId::of::<Bare>();
        assert!(
            r.lookup("/shop.Pricing/Quote").is_none(),
            "built, not served"
        );
        assert!(r.registered("/shop.Pricing/Quote").is_some());
        assert!(!r.serves("pricing"));

        let serving = r.serve(served(&[("shop.Pricing", bare)], true));
        assert_eq!(value(&r.lookup("/shop.Pricing/Quote").expect("served")), 1);
        assert!(r.serves("pricing"));
        assert_eq!(r.paths(), ["/shop.Pricing/Quote"]);

        drop(serving);
        assert!(r.lookup("/shop.Pricing/Quote").is_none(), "serving ended");
        assert!(!r.serves("pricing"));
    }

    #[test]
    fn a_server_behind_a_layer_or_wrapped_by_hand_is_not_reachable() {
        let (r, _reg) = with_bare("vault", "/bank.Vault/Open");
        let bare = TypeId::of::<Bare>();
        // `Server::builder().layer(auth)`: served, not plainly.
        let layered = r.serve(served(&[("bank.Vault", bare)], false));
        assert!(r.lookup("/bank.Vault/Open").is_none());
        assert!(r.serves("vault"), "served all the same (a member's start)");
        drop(layered);
        // `InterceptedService::new(VaultServer::new(..), auth)`: another type is routed.
        let wrapped = r.serve(served(&[("bank.Vault", TypeId::of::<Wrapped>())], true));
        assert!(r.lookup("/bank.Vault/Open").is_none());
        assert!(!r.serves("vault"));
        drop(wrapped);
        // Another service of the same type name routed plainly does not count.
        let other = r.serve(served(&[("bank.Teller", bare)], true));
        assert!(r.lookup("/bank.Vault/Open").is_none());
        drop(other);
    }

    #[test]
    fn a_layered_server_with_a_stack_is_reached_through_it() {
        let (r, _reg) = with_bare("vault", "/bank.Vault/Open");
        let stack: Arc<dyn Any + Send + Sync> = Arc::new(42u8);
        let layered = r.serve(Served {
            stack: Some(stack),
            ..served(&[("bank.Vault", TypeId::of::<Wrapped>())], false)
        });
        let e = r.lookup("/bank.Vault/Open").expect("through the stack");
        assert_eq!(&*e.member, "vault");
        assert!(e.handler.typed.is_none(), "never the bare service");
        let stack = e.stack.as_ref().and_then(|s| s.downcast_ref::<u8>());
        assert_eq!(stack, Some(&42));
        // A method of the same service nobody registered is routed by the stack too (the
        // network would reach it: say, a hand-written service).
        let other = r.lookup("/bank.Vault/Close").expect("routed by the stack");
        assert_eq!(&*other.member, "");
        assert!(r.serves("vault"));
        drop(layered);
        assert!(r.lookup("/bank.Vault/Open").is_none());
    }

    #[test]
    fn through_a_stack_a_caller_on_another_tonic_keeps_the_way_in_not_the_handler() {
        let r = Arc::new(Registry::default());
        let entrance: NeutralStacked = Arc::new(|_| None);
        let _reg = r.register_server(
            "vault",
            vec![TypeId::of::<Bare>()],
            vec![(
                "/bank.Vault/Open".into(),
                Handler {
                    stacked: Some(entrance),
                    ..handler(1)
                },
            )],
        );
        let _layered = r.serve(Served {
            stack: Some(Arc::new(1u8)),
            ..served(&[("bank.Vault", TypeId::of::<Wrapped>())], false)
        });
        let e = r.lookup("/bank.Vault/Open").expect("through the stack");
        assert!(e.handler.typed.is_none() && e.handler.neutral.is_none());
        assert!(
            e.handler.stacked.is_some(),
            "the callee's entrance to its stack"
        );
    }

    #[test]
    fn a_stack_whose_drop_unregisters_its_server_does_not_deadlock() {
        let r = Arc::new(Registry::default());
        let bare = TypeId::of::<Bare>();
        // The served stack holds the server, so the server's registration ends with it.
        let registration = r.register_server(
            "vault",
            vec![bare],
            vec![("/bank.Vault/Open".into(), handler(1))],
        );
        let serving = r.serve(Served {
            stack: Some(Arc::new(Mutex::new(registration))),
            ..served(&[("bank.Vault", bare)], false)
        });
        drop(serving);
        assert!(r.registered("/bank.Vault/Open").is_none());
    }

    #[test]
    fn a_handler_whose_drop_uses_the_registry_does_not_deadlock() {
        struct Touch(Arc<Registry>);
        impl Drop for Touch {
            fn drop(&mut self) {
                let _ = self.0.lookup("/p.S/Other");
            }
        }
        let r = assuming();
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
        let r = assuming();
        let first = r.register("a", vec![("/p.S/M".into(), handler(1))]);
        let second = r.register("a", vec![("/p.S/M".into(), handler(2))]);
        assert_eq!(value(&r.lookup("/p.S/M").expect("entry")), 2);
        drop(second);
        assert_eq!(value(&r.lookup("/p.S/M").expect("entry")), 1);
        drop(first);
    }

    #[test]
    fn a_service_two_members_serve_is_reached_over_the_network() {
        let r = assuming();
        let a = r.register("a", vec![("/p.S/M".into(), handler(1))]);
        let _other = r.register("a", vec![("/p.T/M".into(), handler(3))]);
        let b = r.register("b", vec![("/p.S/M".into(), handler(2))]);
        assert!(r.lookup("/p.S/M").is_none(), "which member is meant?");
        assert!(r.stack_for("/p.S/M").is_none());
        drop(b);
        assert_eq!(value(&r.lookup("/p.S/M").expect("entry")), 1);
        // A member whose code was not rewritten serves `T` too: build says so.
        r.by_address(&["T"]);
        assert!(r.lookup("/p.T/M").is_none());
        assert!(r.lookup("/p.S/M").is_some());
        drop(a);
    }

    #[test]
    fn assuming_servers_served_never_overrides_a_layered_servings_report() {
        let r = assuming();
        let bare = TypeId::of::<Bare>();
        let _reg = r.register_server(
            "vault",
            vec![bare],
            vec![("/bank.Vault/Open".into(), handler(1))],
        );
        assert!(r.lookup("/bank.Vault/Open").is_some(), "assumed");
        let stack: Arc<dyn Any + Send + Sync> = Arc::new(1u8);
        let _layered = r.serve(Served {
            stack: Some(stack),
            ..served(&[("bank.Vault", bare)], false)
        });
        let e = r.lookup("/bank.Vault/Open").expect("through the stack");
        assert!(
            e.stack.is_some() && e.handler.typed.is_none(),
            "not the bare service"
        );
    }

    #[test]
    fn the_newest_served_server_answers_not_a_newer_unserved_one() {
        let r = Arc::new(Registry::default());
        let bare = TypeId::of::<Bare>();
        let _first = r.register_server("a", vec![bare], vec![("/p.S/M".into(), handler(1))]);
        let _serving = r.serve(served(&[("p.S", bare)], true));
        let _second = r.register_server(
            "a",
            vec![TypeId::of::<Wrapped>()],
            vec![("/p.S/M".into(), handler(2))],
        );
        assert_eq!(value(&r.lookup("/p.S/M").expect("entry")), 1);
    }

    #[test]
    fn scoped_registries_do_not_see_each_other() {
        let a = assuming();
        let b = assuming();
        let _reg =
            a.scope(|| Registry::current().register("x", vec![("/p.S/M".into(), handler(7))]));
        assert!(a.lookup("/p.S/M").is_some());
        assert!(b.scope(|| Registry::current().lookup("/p.S/M")).is_none());
        assert!(Registry::global().lookup("/p.S/M").is_none());
    }
}
