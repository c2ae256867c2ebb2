//! What every plugin reports, whatever its world: call latency (a small histogram) and the
//! sandbox limits it runs under. Detectors and summarizers share these so `/api/v1/plugins`
//! shows both kinds with the same fields.

use crate::config::PluginLimits;
use serde::Serialize;
use std::time::Duration;

/// Upper bounds of the call-latency histogram buckets, microseconds (the last is +inf).
pub const LATENCY_BUCKETS_US: [u64; 14] =
    [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, u64::MAX];

/// Call latencies of one plugin.
#[derive(Default)]
pub(crate) struct Latency {
    buckets: [u64; LATENCY_BUCKETS_US.len()],
    count: u64,
    total_us: u64,
    max_us: u64,
}

impl Latency {
    /// Count one call that took `elapsed`.
    pub(crate) fn record(&mut self, elapsed: Duration) {
        let us = elapsed.as_micros().min(u128::from(u64::MAX - 1)) as u64;
        let bucket = LATENCY_BUCKETS_US.iter().position(|&b| us <= b).unwrap_or(LATENCY_BUCKETS_US.len() - 1);
        self.buckets[bucket] += 1;
        self.count += 1;
        self.total_us += us;
        self.max_us = self.max_us.max(us);
    }

    /// The bucket bound under which `q` of the calls fall (an upper estimate), in ms.
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        let rank = (self.count as f64 * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let bound = LATENCY_BUCKETS_US[i];
                return Some(if bound == u64::MAX { self.max_us } else { bound.min(self.max_us) } as f64 / 1000.0);
            }
        }
        None
    }

    /// As reported.
    pub(crate) fn status(&self) -> LatencyStatus {
        let ms = |us: u64| us as f64 / 1000.0;
        LatencyStatus {
            mean: (self.count > 0).then(|| ms(self.total_us) / self.count as f64),
            p50: self.quantile_ms(0.5),
            p99: self.quantile_ms(0.99),
            max: (self.count > 0).then(|| ms(self.max_us)),
            buckets: self.buckets.to_vec(),
            total_us: self.total_us,
        }
    }
}

/// Call latency of one plugin, milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyStatus {
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    /// Calls per histogram bucket, bounds in [`LATENCY_BUCKETS_US`] (for `/metrics`).
    #[serde(skip)]
    pub buckets: Vec<u64>,
    #[serde(skip)]
    pub total_us: u64,
}

/// Sandbox limits as reported.
#[derive(Debug, Clone, Serialize)]
pub struct LimitsStatus {
    pub max_memory_mib: u64,
    pub call_timeout_ms: u64,
    pub fuel: Option<u64>,
}

impl From<PluginLimits> for LimitsStatus {
    fn from(limits: PluginLimits) -> Self {
        LimitsStatus {
            max_memory_mib: (limits.max_memory_bytes / (1024 * 1024)) as u64,
            call_timeout_ms: limits.call_timeout.as_millis() as u64,
            fuel: limits.fuel,
        }
    }
}
