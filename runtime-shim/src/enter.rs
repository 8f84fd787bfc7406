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

/// A callee's future, polled inside its runtime.
#[derive(Debug)]
pub struct Entered<F> {
    fut: F,
    enter: Option<EnterDebug>,
}

/// [`Enter`] with a `Debug` impl.
#[derive(Clone)]
struct EnterDebug(Enter);

impl std::fmt::Debug for EnterDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enter")
    }
}

impl<F> Entered<F> {
    pub fn new(fut: F, enter: Option<Enter>) -> Self {
        Entered {
            fut,
            enter: enter.map(EnterDebug),
        }
    }
}

impl<F: Future + Unpin> Future for Entered<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let fut = &mut this.fut;
        within(this.enter.as_ref().map(|e| &e.0), || Pin::new(fut).poll(cx))
    }
}

/// A callee's message stream, polled inside its runtime.
pub fn entered_stream(stream: BoxMessageStream, enter: Option<Enter>) -> BoxMessageStream {
    match enter {
        None => stream,
        Some(enter) => Box::pin(EnteredStream { stream, enter }),
    }
}

struct EnteredStream {
    stream: BoxMessageStream,
    enter: Enter,
}

impl MessageStream for EnteredStream {
    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, NeutralStatus>>> {
        let this = self.get_mut();
        let stream = &mut this.stream;
        within(Some(&this.enter), || stream.as_mut().poll_next(cx))
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
        let mut fut = Entered::new(
            std::future::poll_fn(|_| Poll::Ready(INSIDE.with(Cell::get))),
            Some(enter),
        );
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert_eq!(Pin::new(&mut fut).poll(&mut cx), Poll::Ready(true));
    }

    #[test]
    fn an_enter_that_does_not_run_the_closure_still_gets_it_run() {
        let lazy: Enter = Arc::new(|_f: &mut dyn FnMut()| {});
        assert_eq!(within(Some(&lazy), || 7), 7);
    }
}
