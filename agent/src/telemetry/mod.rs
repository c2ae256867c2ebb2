//! What the agent says about itself: Prometheus metrics for `GET /metrics` ([`metrics`]).
//! Telemetry only observes: it never blocks, slows or fails the pipeline it measures.

pub mod metrics;

pub use metrics::Instruments;
