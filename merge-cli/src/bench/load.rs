//! The load generator: the request mix sent round and round at the members that serve it,
//! closed-loop (N callers, each sending when its last call is answered) or open-loop (at a
//! fixed rate, each call's latency counted from the time it was meant to be sent, so a stall
//! is not hidden by the calls it delayed). Every call reports to one collector, which keeps
//! one histogram and, when asked, every answer by its sequence number.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::transport::Channel;

use super::answer::Answer;
use super::requests::{Call, Request};
use super::{grpc, http};

/// One request of the mix and the way to the member that serves it.
#[derive(Debug, Clone)]
pub struct Target {
    pub route: Route,
    pub request: Arc<Request>,
}

/// Where a request goes.
#[derive(Debug, Clone)]
pub enum Route {
    /// A gRPC channel to the member's server.
    Grpc(Channel),
    /// The member's HTTP front, at this address.
    Http(Arc<http::Client>, std::net::SocketAddr),
}

/// Sends `request` along `route`.
pub async fn send(route: &Route, request: &Request) -> Answer {
    match (route, &request.call) {
        (Route::Grpc(channel), Call::Grpc(g)) => grpc::call(channel.clone(), g).await,
        (Route::Http(client, at), Call::Http(h)) => http::call(client, *at, h).await,
        _ => Answer::Unanswered("bench: a request on the wrong kind of route".to_owned()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Requests per second.
    Open(f64),
    /// Callers.
    Closed(u32),
}

/// What one run gave.
#[derive(Debug)]
pub struct Outcome {
    /// Latencies in microseconds.
    pub latencies: Histogram<u64>,
    pub completed: u64,
    /// Answers that were not Ok.
    pub failed: u64,
    pub elapsed: Duration,
    /// `(k, answer)` of the k-th request sent (request `k % mix.len()` of the mix), by `k`.
    pub answers: Vec<(u64, Answer)>,
}

/// The longest latency recorded (an hour); longer ones count as an hour.
const MAX_US: u64 = 3_600_000_000;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_US)
}

/// One finished call.
type Record = (u64, Duration, Answer);

/// Sends the mix for `duration`, each call given up after `timeout`; with `keep`, every
/// answer is kept.
pub async fn drive(
    mix: Arc<Vec<Target>>,
    mode: Mode,
    duration: Duration,
    timeout: Duration,
    keep: bool,
) -> Outcome {
    let start = Instant::now();
    let end = start + duration;
    let (tx, mut rx) = mpsc::unbounded_channel::<Record>();
    let collector = tokio::spawn(async move {
        let mut latencies =
            Histogram::<u64>::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds");
        let (mut completed, mut failed) = (0u64, 0u64);
        let mut answers = Vec::new();
        while let Some((k, latency, answer)) = rx.recv().await {
            latencies.saturating_record(micros(latency));
            completed += 1;
            failed += u64::from(!answer.ok());
            if keep {
                answers.push((k, answer));
            }
        }
        answers.sort_by_key(|(k, _)| *k);
        (latencies, completed, failed, answers)
    });
    let one = move |mix: &[Target], k: u64| {
        let target = &mix[(k % mix.len() as u64) as usize];
        let (route, request) = (target.route.clone(), target.request.clone());
        async move {
            match tokio::time::timeout(timeout, send(&route, &request)).await {
                Ok(answer) => answer,
                Err(_) => Answer::no_answer(timeout),
            }
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    match mode {
        Mode::Closed(callers) => {
            let next = Arc::new(AtomicU64::new(0));
            for _ in 0..callers {
                let (mix, next, tx) = (mix.clone(), next.clone(), tx.clone());
                tasks.spawn(async move {
                    while Instant::now() < end {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let sent = Instant::now();
                        let answer = one(&mix, k).await;
                        let _ = tx.send((k, sent.elapsed(), answer));
                    }
                });
            }
        }
        Mode::Open(rate) => {
            // A thread of its own sends on time: the runtime's timer wakes on whole
            // milliseconds, which would add up to a millisecond to every latency; an OS sleep
            // is precise to tens of microseconds. Every request whose time has come goes at
            // once, so a late wake-up never lowers the rate (and its lag counts).
            let handle = tokio::runtime::Handle::current();
            let std_start = std::time::Instant::now();
            let at = move |k: u64| Duration::from_secs_f64(k as f64 / rate);
            let (mix, tx) = (mix.clone(), tx.clone());
            let sender = std::thread::spawn(move || {
                let mut tasks = Vec::new();
                let mut k = 0u64;
                while at(k) < duration {
                    let now = std_start.elapsed();
                    while at(k) <= now && at(k) < duration {
                        let (intended, mix, tx) = (start + at(k), mix.clone(), tx.clone());
                        tasks.push(handle.spawn(async move {
                            let answer = one(&mix, k).await;
                            let _ = tx.send((k, intended.elapsed(), answer));
                        }));
                        k += 1;
                    }
                    tasks.retain(|t| !t.is_finished());
                    std::thread::sleep(at(k).saturating_sub(std_start.elapsed()));
                }
                tasks
            });
            let pending = tokio::task::spawn_blocking(move || sender.join().unwrap_or_default())
                .await
                .unwrap_or_default();
            for t in pending {
                let _ = t.await;
            }
        }
    }
    drop(tx);
    while tasks.join_next().await.is_some() {}
    let (latencies, completed, failed, answers) = collector.await.unwrap_or_else(|_| {
        (
            Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds"),
            0,
            0,
            Vec::new(),
        )
    });
    Outcome {
        latencies,
        completed,
        failed,
        elapsed: start.elapsed().max(duration),
        answers,
    }
}
