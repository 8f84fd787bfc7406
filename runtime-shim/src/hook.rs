//! Small holders that generated code adds to tonic's generated types.

use std::fmt;
use std::sync::Arc;

/// An optional shared function (a client interceptor kept for the in-process path), cloneable
/// and printable whatever it holds, so generated `#[derive(Debug, Clone)]`s still hold.
pub struct Hook<F: ?Sized>(pub Option<Arc<F>>);

impl<F: ?Sized> Default for Hook<F> {
    fn default() -> Self {
        Hook(None)
    }
}

impl<F: ?Sized> Clone for Hook<F> {
    fn clone(&self) -> Self {
        Hook(self.0.clone())
    }
}

impl<F: ?Sized> fmt::Debug for Hook<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Hook(Some(..))"
        } else {
            "Hook(None)"
        })
    }
}

std::thread_local! {
    static MEMBER: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

/// Names the member whose code runs on this thread (the merged binary's generated main sets it
/// on each member's thread), so registrations and counters say which member they belong to.
pub fn set_current_member(name: &'static str) {
    MEMBER.with(|m| m.set(Some(name)));
}

/// The member set on this thread, else `fallback` (the crate that generated the code).
pub fn current_member(fallback: &'static str) -> &'static str {
    MEMBER.with(|m| m.get()).unwrap_or(fallback)
}

/// `f()` with `member` as this thread's member (an in-process callee's code runs as its own
/// member, so the calls it makes are counted as its own); nothing changes for `""`.
#[inline]
pub fn as_member<T>(member: &'static str, f: impl FnOnce() -> T) -> T {
    let _member = MemberGuard::set(member);
    f()
}

/// This thread's member set to another until the guard is dropped (`""`: unchanged).
struct MemberGuard(Option<Option<&'static str>>);

impl MemberGuard {
    #[inline]
    fn set(member: &'static str) -> Self {
        if member.is_empty() {
            return MemberGuard(None);
        }
        MemberGuard(Some(MEMBER.with(|m| m.replace(Some(member)))))
    }
}

impl Drop for MemberGuard {
    #[inline]
    fn drop(&mut self) {
        if let Some(previous) = self.0 {
            MEMBER.with(|m| m.set(previous));
        }
    }
}

/// `name` as a `&'static str`, each distinct name leaked once (member names are few).
pub fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}
