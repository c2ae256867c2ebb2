//! What the agent says about itself: Prometheus metrics for `GET /metrics` ([`metrics`]),
//! OpenTelemetry export of its traces, metrics and anomalies over OTLP/HTTP when
//! `[telemetry] otlp_endpoint` is set ([`otel`], [`anomalies`]), and the detectors' warm-up
//! progress in its log ([`warmup`]). Telemetry only observes: it never blocks, slows or fails
//! the pipeline it measures.

pub mod anomalies;
pub mod config;
pub mod metrics;
pub mod otel;
mod otlp_http;
#[cfg(test)]
mod tests;
pub mod warmup;

pub use anomalies::AnomalyExport;
pub use config::{OtlpSettings, TelemetryConfig, TelemetrySettings};
pub use metrics::Instruments;
pub use otel::{Telemetry, TelemetryError};
pub use warmup::WarmupWatch;
