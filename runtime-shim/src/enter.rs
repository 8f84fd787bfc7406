//! Running a callee's code in the callee's own runtime context. A member's tonic (patched in a
//! merged workspace) captures the runtime a server serves on as an [`Enter`] function, which
//! runs a closure with that runtime entered; the in-process call builds and polls the callee's
//! futures and streams inside it, so the callee's `tokio::spawn`, timers and I/O work even when
//! the callee links a tokio of its own, or the caller runs on no runtime at all.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::neutral::{BoxMessageStream, MessageStream, NeutralStatus};

/// Runs the closure it is given inside a callee's runtime context.
pub type Enter = Arc<dyn Fn(&mut dyn FnMut()) + Send + Sync>;

/// `f()`, run inside `enter`'s runtime when there is one.
#[inline]
pub fn within<T>(enter: Option<&Enter>, f: impl FnOnce() -> T) -> T {
    let Some(enter) = enter else {
        return f();
    };
    let mut f = Some(f);
    let mut out = None;
    enter(&mut || {
        if let Some(f) = f.take() {
            out = Some(f());
        }
    });
    match (out, f) {
        (Some(out), _) => out,
        // An `Enter` that did not run the closure: run it here.
        (None, Some(f)) => f(),
        (None, None) => unreachable!("the closure ran and gave its output"),
    }
}

/// Who an in-process call runs: the callee's member (its name while its code runs, so the
/// calls it makes are counted as its own) and the runtime its server serves on.
#[derive(Clone, Default)]
pub struct Callee {
    pub member: &'static str,
    pub enter: Option<Enter>,
}

impl std::fmt::Debug for Callee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callee")
            .field("member", &self.member)
            .field("enter", &self.enter.is_some())
            .finish()
    }
}

impl Callee {
    /// `f()`, as the callee's code: as its member, inside its runtime.
    #[inline]
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        crate::hook::as_member(self.member, || within(self.enter.as_ref(), f))
    }

    /// Polls `fut` as the callee's code.
    #[inline]
    pub fn poll<F: Future + Unpin>(&self, fut: &mut F, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.run(|| Pin::new(fut).poll(cx))
    }

    /// `fut`, polled as the callee's code.
    pub fn entered<F>(&self, fut: F) -> Entered<F> {
        Entered {
            fut,
            callee: self.clone(),
        }
    }

    /// `stream`, polled as the callee's code.
    pub fn stream(&self, stream: BoxMessageStream) -> BoxMessageStream {
        if self.member.is_empty() && self.enter.is_none() {
            return stream;
        }
        Box::pin(EnteredStream {
            stream,
            callee: self.clone(),
        })
    }
}

/// A callee's future, polled as the callee's code ([`Callee::run`]).
#[derive(Debug)]
pub struct Entered<F> {
    fut: F,
    callee: Callee,
}

impl<F: Future + Unpin> Future for Entered<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.callee.poll(&mut this.fut, cx)
    }
}

struct EnteredStream {
    stream: BoxMessageStream,
    callee: Callee,
}

impl MessageStream for EnteredStream {
    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, NeutralStatus>>> {
        let this = self.get_mut();
        let stream = &mut this.stream;
        this.callee.run(|| stream.as_mut().poll_next(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        static INSIDE: Cell<bool> = const { Cell::new(false) };
    }

    fn marking() -> Enter {
        Arc::new(|f: &mut dyn FnMut()| {
            INSIDE.with(|i| i.set(true));
            f();
            INSIDE.with(|i| i.set(false));
        })
    }

    #[test]
    fn a_closure_and_a_future_run_inside_the_callees_runtime() {
        let enter = marking();
        assert!(within(Some(&enter), || INSIDE.with(Cell::get)));
        assert!(!within(None, || INSIDE.with(Cell::get)));
        let callee = Callee {
            member: "callee",
            enter: Some(enter),
        };
        let mut fut = callee.entered(std::future::poll_fn(|_| {
            Poll::Ready((INSIDE.with(Cell::get), crate::current_member("none")))
        }));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert_eq!(
            Pin::new(&mut fut).poll(&mut cx),
            Poll::Ready((true, "callee"))
        );
        assert_eq!(crate::current_member("none"), "none", "restored");
    }

    #[test]
    fn an_enter_that_does_not_run_the_closure_still_gets_it_run() {
        let lazy: Enter = Arc::new(|_f: &mut dyn FnMut()| {});
        assert_eq!(within(Some(&lazy), || 7), 7);
    }
}
