//! The load generator: the request mix sent round and round at the members that serve it,
//! closed-loop (N callers, each sending when its last call is answered) or open-loop (at a
//! fixed rate, each call's latency counted from the time it was meant to be sent, so a stall
//! is not hidden by the calls it delayed).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;
use tonic::transport::Channel;

use super::grpc::{Answer, call};
use super::requests::Request;

/// One request of the mix and the channel to the member that serves it.
#[derive(Debug, Clone)]
pub struct Target {
    pub channel: Channel,
    pub request: Arc<Request>,
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
    pub elapsed: Duration,
    /// `(k, answer)` of the k-th request sent (request `k % mix.len()` of the mix).
    pub answers: Vec<(u64, Answer)>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, 3_600_000_000)
}

/// Sends the mix for `duration`; with `keep`, every answer is kept.
pub async fn drive(mix: Arc<Vec<Target>>, mode: Mode, duration: Duration, keep: bool) -> Outcome {
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    match mode {
        Mode::Closed(callers) => {
            let next = Arc::new(AtomicU64::new(0));
            for _ in 0..callers {
                let (mix, next) = (mix.clone(), next.clone());
                tasks.spawn(async move {
                    let mut part = Part::default();
                    while Instant::now() < end {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let target = &mix[(k % mix.len() as u64) as usize];
                        let sent = Instant::now();
                        let answer = call(target.channel.clone(), &target.request).await;
                        part.add(k, sent.elapsed(), answer, keep);
                    }
                    part
                });
            }
        }
        Mode::Open(rate) => {
            let mut k = 0u64;
            loop {
                let intended = start + Duration::from_secs_f64(k as f64 / rate);
                if intended >= end {
                    break;
                }
                tokio::time::sleep_until(intended).await;
                let mix = mix.clone();
                tasks.spawn(async move {
                    let target = &mix[(k % mix.len() as u64) as usize];
                    let answer = call(target.channel.clone(), &target.request).await;
                    let mut part = Part::default();
                    part.add(k, intended.elapsed(), answer, keep);
                    part
                });
                k += 1;
            }
        }
    }
    let mut total = Part::default();
    while let Some(part) = tasks.join_next().await {
        if let Ok(part) = part {
            total.join(part);
        }
    }
    total.answers.sort_by_key(|(k, _)| *k);
    Outcome {
        latencies: total.latencies,
        completed: total.completed,
        elapsed: start.elapsed().max(duration),
        answers: total.answers,
    }
}

/// What one caller (or one open-loop call) saw.
struct Part {
    latencies: Histogram<u64>,
    completed: u64,
    answers: Vec<(u64, Answer)>,
}

impl Default for Part {
    fn default() -> Self {
        Part {
            latencies: histogram(),
            completed: 0,
            answers: Vec::new(),
        }
    }
}

impl Part {
    fn add(&mut self, k: u64, latency: Duration, answer: Answer, keep: bool) {
        self.latencies.saturating_record(micros(latency));
        self.completed += 1;
        if keep {
            self.answers.push((k, answer));
        }
    }

    fn join(&mut self, other: Part) {
        // Same bounds: adding cannot fail.
        let _ = self.latencies.add(&other.latencies);
        self.completed += other.completed;
        self.answers.extend(other.answers);
    }
}
