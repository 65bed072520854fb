//! Closed-loop load: a fixed number of clients, each sending its next request as soon as the
//! previous one answered, and the latency percentiles of all requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

/// One kind of request: a path and a body per request number.
pub struct Request {
    /// The path under the server URL.
    pub path: String,
    /// The JSON body of the `n`-th request.
    pub body: Box<dyn Fn(usize) -> Value + Send + Sync>,
}

/// Percentiles of a run, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    /// The median.
    pub p50: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// Requests per second over the whole run.
    pub throughput: f64,
}

/// Sends `total` requests with `clients` concurrent clients and measures each one.
pub async fn measure(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    request: Request,
    clients: usize,
    total: usize,
) -> anyhow::Result<Percentiles> {
    let request = Arc::new(request);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, request, next) = (http.clone(), request.clone(), next.clone());
        let url = format!("{base}{}", request.path);
        let token = token.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= total {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let body = (request.body)(n);
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await?;
                let status = response.status();
                let bytes = response.bytes().await?;
                latencies.push(sent.elapsed());
                if !status.is_success() {
                    bail!(
                        "{url} answered {status}: {}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
            }
        }));
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(total);
    for task in tasks {
        latencies.extend(task.await.context("a client panicked")??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Ok(Percentiles {
        p50: percentile(&latencies, 50.0),
        p99: percentile(&latencies, 99.0),
        throughput: total as f64 / elapsed.as_secs_f64(),
    })
}

/// The nearest-rank percentile of sorted latencies, in milliseconds.
fn percentile(sorted: &[Duration], pct: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 50.0), 50.0);
        assert_eq!(percentile(&sorted, 99.0), 99.0);
        assert_eq!(percentile(&sorted[..1], 99.0), 1.0);
    }
}
