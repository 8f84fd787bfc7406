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

/// Polls `inner`, turning a panic during a poll into `Err(message)`. The panicked future is
/// not polled again (it is dropped with this wrapper).
#[derive(Debug)]
pub struct CatchUnwind<F> {
    inner: F,
}

impl<F: Future + Unpin> CatchUnwind<F> {
    pub fn new(inner: F) -> Self {
        CatchUnwind { inner }
    }
}

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.inner;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(&*payload))),
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

/// The deadline passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// `inner`, or [`Elapsed`] once `timeout` has passed; the inner future is dropped then, which
/// cancels the callee's work as a dropped network stream would.
#[derive(Debug)]
pub struct Deadline<F> {
    inner: F,
    sleep: Sleep,
}

impl<F: Future + Unpin> Deadline<F> {
    pub fn new(inner: F, timeout: Duration) -> Self {
        Deadline {
            inner,
            sleep: Sleep::until(Instant::now() + timeout),
        }
    }
}

impl<F: Future + Unpin> Future for Deadline<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(v) = Pin::new(&mut self.inner).poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(&mut self.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
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
        let f: BoxFuture<u32> = Box::pin(async { panic!("boom in the callee") });
        let r = block_on(CatchUnwind::new(f));
        assert_eq!(r, Err("boom in the callee".to_string()));
        let f: BoxFuture<u32> = Box::pin(async { 7 });
        assert_eq!(block_on(CatchUnwind::new(f)), Ok(7));
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
        let never: BoxFuture<()> = Box::pin(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        let start = Instant::now();
        let r = block_on(Deadline::new(never, Duration::from_millis(30)));
        assert_eq!(r, Err(Elapsed));
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(
            dropped.load(Ordering::SeqCst),
            "the callee's future was dropped"
        );
        let quick: BoxFuture<u8> = Box::pin(async { 1 });
        assert_eq!(
            block_on(Deadline::new(quick, Duration::from_secs(5))),
            Ok(1)
        );
    }
}
