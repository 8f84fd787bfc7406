//! Runtime-free future helpers for the inline call: a panic in the callee becomes an error the
//! caller can turn into `Status::internal`, and a deadline needs no async runtime (members of
//! one binary may run different tokio versions, or none).

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, LazyLock, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A boxed, sendable future: what a registered handler returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Why a [`Guarded`] future ended without its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// A poll panicked; the message of the panic.
    Panicked(String),
    /// The deadline passed first.
    Elapsed,
}

/// `inner`, with a panic during a poll turned into `stopped(Stopped::Panicked(..))` and, when
/// a timeout is given, `stopped(Stopped::Elapsed)` once it has passed. Either way the inner
/// future is dropped at once, which cancels the callee's work as a dropped network stream
/// would, and is never polled again.
///
/// Small (the future, usually a box, a boxed timer only when there is a timeout, and a function
/// pointer) and with the inner future's own output, so that awaiting it adds few copies of a
/// large reply.
pub struct Guarded<F: Future> {
    inner: Option<F>,
    sleep: Option<Box<Sleep>>,
    stopped: fn(Stopped) -> F::Output,
}

impl<F: Future> std::fmt::Debug for Guarded<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("done", &self.inner.is_none())
            .field("sleep", &self.sleep)
            .finish()
    }
}

impl<F: Future + Unpin> Guarded<F> {
    pub fn new(inner: F, timeout: Option<Duration>, stopped: fn(Stopped) -> F::Output) -> Self {
        Guarded {
            inner: Some(inner),
            sleep: timeout.map(|t| Box::new(Sleep::until(Instant::now() + t))),
            stopped,
        }
    }

    fn end(&mut self) {
        self.inner = None;
        self.sleep = None;
    }
}

impl<F: Future + Unpin> Future for Guarded<F> {
    type Output = F::Output;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            // Polled again after it ended: it ended by a panic or the deadline.
            return Poll::Pending;
        };
        // The output is written where it is returned from, not carried through the result of
        // `catch_unwind`.
        let mut out = None;
        let caught = catch_unwind(AssertUnwindSafe(|| {
            if let Poll::Ready(v) = Pin::new(inner).poll(cx) {
                out = Some(v);
            }
        }));
        if let Err(payload) = caught {
            this.end();
            return Poll::Ready((this.stopped)(Stopped::Panicked(panic_message(&*payload))));
        }
        if let Some(v) = out {
            this.end();
            return Poll::Ready(v);
        }
        match this.sleep.as_mut().map(|s| Pin::new(&mut **s).poll(cx)) {
            Some(Poll::Ready(())) => {
                this.end();
                Poll::Ready((this.stopped)(Stopped::Elapsed))
            }
            _ => Poll::Pending,
        }
    }
}

/// The message of a panic payload (`panic!("...")` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "the handler panicked".to_string()
    }
}

/// Completes at an instant; woken by one timer thread shared by the process.
#[derive(Debug)]
pub struct Sleep {
    deadline: Instant,
    key: Option<(Instant, u64)>,
}

impl Sleep {
    pub fn until(deadline: Instant) -> Self {
        Sleep {
            deadline,
            key: None,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            if let Some(key) = self.key.take() {
                TIMER.cancel(key);
            }
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let key = *self.key.get_or_insert_with(|| TIMER.key(deadline));
        TIMER.arm(key, cx.waker());
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            TIMER.cancel(key);
        }
    }
}

/// Wakers by deadline, and the thread that wakes them.
struct Timer {
    wakers: Mutex<BTreeMap<(Instant, u64), Waker>>,
    changed: Condvar,
    next: AtomicU64,
}

static TIMER: LazyLock<&'static Timer> = LazyLock::new(|| {
    let timer: &'static Timer = Box::leak(Box::new(Timer {
        wakers: Mutex::new(BTreeMap::new()),
        changed: Condvar::new(),
        next: AtomicU64::new(0),
    }));
    // Without the thread (it could not be spawned) a Sleep still completes when polled after
    // its deadline, which any other wake-up of the caller's task does.
    let _ = std::thread::Builder::new()
        .name("merge-timer".into())
        .spawn(move || timer.run());
    timer
});

impl Timer {
    fn key(&self, deadline: Instant) -> (Instant, u64) {
        (deadline, self.next.fetch_add(1, Ordering::Relaxed))
    }

    fn arm(&self, key: (Instant, u64), waker: &Waker) {
        let mut wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
        let earliest = wakers.keys().next().is_none_or(|first| key < *first);
        if wakers.get(&key).is_some_and(|w| w.will_wake(waker)) {
            return;
        }
        // A replaced waker is dropped after unlocking: its task may own a Sleep, whose drop
        // takes this lock.
        let old = wakers.insert(key, waker.clone());
        drop(wakers);
        drop(old);
        if earliest {
            self.changed.notify_one();
        }
    }

    fn cancel(&self, key: (Instant, u64)) {
        let mut wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
        let removed = wakers.remove(&key);
        drop(wakers);
        drop(removed);
    }

    fn run(&self) {
        let mut wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            let mut due = Vec::new();
            while let Some(entry) = wakers.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
            if !due.is_empty() {
                drop(wakers);
                due.into_iter().for_each(Waker::wake);
                wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
                continue;
            }
            wakers = match wakers.keys().next().map(|k| k.0) {
                Some(at) => {
                    let wait = at.saturating_duration_since(now);
                    self.changed
                        .wait_timeout(wakers, wait)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0)
                }
                None => self.changed.wait(wakers).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::task::Wake;
    use std::thread::Thread;

    use super::*;

    fn stopped<T>(why: Stopped) -> Result<T, Stopped> {
        Err(why)
    }

    /// A minimal executor: park the thread until woken.
    fn block_on<F: Future>(f: F) -> F::Output {
        struct Unpark(Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }

    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        let f: BoxFuture<Result<u32, Stopped>> = Box::pin(async { panic!("boom in the callee") });
        let r = block_on(Guarded::new(f, None, stopped));
        assert_eq!(r, Err(Stopped::Panicked("boom in the callee".to_string())));
        let f: BoxFuture<Result<u32, Stopped>> = Box::pin(async { Ok(7) });
        assert_eq!(block_on(Guarded::new(f, None, stopped)), Ok(7));
    }

    #[test]
    fn a_deadline_ends_a_future_that_never_finishes_and_drops_it() {
        struct Dropped(Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let guard = Dropped(dropped.clone());
        let never: BoxFuture<Result<(), Stopped>> = Box::pin(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
            Ok(())
        });
        let start = Instant::now();
        let mut guarded = Guarded::new(never, Some(Duration::from_millis(30)), stopped);
        let r = block_on(&mut guarded);
        assert_eq!(r, Err(Stopped::Elapsed));
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(
            dropped.load(Ordering::SeqCst),
            "the callee's future was dropped when the deadline passed, before the guard was"
        );
        drop(guarded);
        let quick: BoxFuture<Result<u8, Stopped>> = Box::pin(async { Ok(1) });
        assert_eq!(
            block_on(Guarded::new(quick, Some(Duration::from_secs(5)), stopped)),
            Ok(1)
        );
    }
}
