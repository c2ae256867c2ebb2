//! The agent's own metrics in the Prometheus text format (`GET /metrics`).
//!
//! Two kinds of numbers: [`Instruments`] are recorded where the work happens (latency
//! histograms, events in per source, the Chroma outbox depth), and [`Readings`] are the
//! counters the agent already keeps for `/api/v1/stats` (pipeline, sources, rejected input,
//! plugins), read at scrape time so there is one source of truth for each number. A scrape
//! builds a fresh registry of both and encodes it with `prometheus-client`. When OTLP export
//! is set up, [`Instruments`] also record into its OpenTelemetry instruments.

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use std::time::Duration;

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// One label, e.g. `[("source", "nginx")]`.
type Label = [(&'static str, String); 1];
type HistogramFamily = Family<Label, Histogram, fn() -> Histogram>;

/// Store commits: 0.25 ms to ~4 s.
fn commit_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

/// Plugin calls on a batch: 25 µs to ~1.6 s.
fn plugin_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_025, 2.0, 17))
}

/// Measurements recorded at the call sites; cheap to clone (the metrics are shared).
#[derive(Clone, Debug)]
pub struct Instruments {
    store_commit: Histogram,
    plugin_call: HistogramFamily,
    events_in: Family<Label, Counter>,
    outbox_depth: Gauge,
    /// The same measurements for OTLP export, when it is set up.
    otlp: Option<super::otel::OtlpInstruments>,
}

impl Default for Instruments {
    fn default() -> Self {
        Instruments {
            store_commit: commit_histogram(),
            plugin_call: Family::new_with_constructor(plugin_histogram),
            events_in: Family::default(),
            outbox_depth: Gauge::default(),
            otlp: super::otel::OtlpInstruments::installed(),
        }
    }
}

impl Instruments {
    /// One store commit (one transaction) took `elapsed`.
    pub fn observe_commit(&self, elapsed: Duration) {
        self.store_commit.observe(elapsed.as_secs_f64());
        if let Some(otlp) = &self.otlp {
            otlp.store_commit(elapsed);
        }
    }

    /// One call of `plugin` on a batch took `elapsed`.
    pub fn observe_plugin_call(&self, plugin: &str, elapsed: Duration) {
        self.plugin_call.get_or_create(&[("plugin", plugin.to_owned())]).observe(elapsed.as_secs_f64());
        if let Some(otlp) = &self.otlp {
            otlp.plugin_call(plugin, elapsed);
        }
    }

    /// One call of the whole detector set took `elapsed`. The label names the set's plugins
    /// (`a+b` with several): the set scores them back to back inside one call, so timing each
    /// needs the set's own cooperation. Read at each call: a reload changes the set in place
    /// (computed once, calls of a reloaded set were counted under the old plugin's name).
    pub fn observe_scoring(&self, detectors: &crate::detect::DetectorSet, elapsed: Duration) {
        self.observe_plugin_call(&detectors.label(), elapsed);
    }

    /// Count committed events by their source. Runs of one source (a submission) are counted
    /// with one label lookup.
    pub fn count_events<'a>(&self, sources: impl IntoIterator<Item = &'a str>) {
        let mut run: Option<(&str, u64)> = None;
        for source in sources {
            match &mut run {
                Some((current, n)) if *current == source => *n += 1,
                _ => {
                    if let Some((current, n)) = run.replace((source, 1)) {
                        self.add_events(current, n);
                    }
                }
            }
        }
        if let Some((current, n)) = run {
            self.add_events(current, n);
        }
    }

    fn add_events(&self, source: &str, n: u64) {
        self.events_in.get_or_create(&[("source", source.to_owned())]).inc_by(n);
        if let Some(otlp) = &self.otlp {
            otlp.events_in(source, n);
        }
    }

    /// Count committed anomalies (Prometheus reads its own counter at scrape time; this is
    /// for OTLP export).
    pub fn count_anomalies(&self, n: u64) {
        if let Some(otlp) = self.otlp.as_ref().filter(|_| n > 0) {
            otlp.anomalies(n);
        }
    }

    /// The hook for the Chroma outbox: rows waiting to be written to Chroma.
    pub fn set_outbox_depth(&self, rows: u64) {
        self.outbox_depth.set(i64::try_from(rows).unwrap_or(i64::MAX));
    }

    /// Events counted so far for `source` (for tests and `/api/v1/stats`-like views).
    pub fn events_in(&self, source: &str) -> u64 {
        self.events_in.get(&[("source", source.to_owned())]).map_or(0, |c| c.get())
    }
}

/// One source's counters as the source keeps them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceReading {
    /// Source name.
    pub name: String,
    /// Lines read.
    pub lines: u64,
    /// Lines that did not parse (kept as raw events).
    pub parse_errors: u64,
    /// Read errors (retried).
    pub read_errors: u64,
    /// Files currently followed.
    pub files: u64,
    /// Paths under the globs not followed now (unreadable, or not regular files).
    pub skipped_files: u64,
}

/// One plugin's counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginReading {
    /// Plugin (detector) name.
    pub name: String,
    /// Calls made.
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Whether its most recent call failed.
    pub failing: bool,
    /// Linear memory its instance holds, bytes.
    pub memory_bytes: u64,
}

/// The Chroma link at scrape time (with `[store] kind = "chroma"`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChromaReading {
    /// Whether its last call succeeded.
    pub up: bool,
    /// Records Chroma accepted since start.
    pub records_sent: u64,
    /// Failed calls since start.
    pub failures: u64,
    /// Events (with their anomalies) waiting in the outbox.
    pub outbox_events: u64,
    /// Single records (summaries) waiting in the outbox.
    pub outbox_records: u64,
}

/// The agent's counters at scrape time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Readings {
    /// The Chroma link, when there is one.
    pub chroma: Option<ChromaReading>,
    /// Events handed to the pipeline.
    pub events_submitted: u64,
    /// Events committed to the store.
    pub events_committed: u64,
    /// Anomalies committed.
    pub anomalies: u64,
    /// Batches committed.
    pub batches: u64,
    /// Batches whose scoring failed.
    pub score_failures: u64,
    /// Failed commit attempts (retried).
    pub commit_failures: u64,
    /// Requests and frames refused as bad input.
    pub rejected: u64,
    /// Submissions waiting in each queue, by queue name.
    pub queues: Vec<(String, u64)>,
    /// Each source.
    pub sources: Vec<SourceReading>,
    /// Each plugin.
    pub plugins: Vec<PluginReading>,
    /// Seconds since start.
    pub uptime_seconds: u64,
}

fn counter(value: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(value);
    c
}

fn gauge(value: u64) -> Gauge {
    let g = Gauge::default();
    g.set(i64::try_from(value).unwrap_or(i64::MAX));
    g
}

fn counters_by<T>(label: &'static str, items: &[T], read: impl Fn(&T) -> (String, u64)) -> Family<Label, Counter> {
    let family = Family::<Label, Counter>::default();
    for item in items {
        let (name, value) = read(item);
        family.get_or_create(&[(label, name)]).inc_by(value);
    }
    family
}

fn gauges_by<T>(label: &'static str, items: &[T], read: impl Fn(&T) -> (String, u64)) -> Family<Label, Gauge> {
    let family = Family::<Label, Gauge>::default();
    for item in items {
        let (name, value) = read(item);
        family.get_or_create(&[(label, name)]).set(i64::try_from(value).unwrap_or(i64::MAX));
    }
    family
}

/// Encode the readings and instruments as Prometheus text (format 0.0.4).
pub fn render(readings: &Readings, instruments: &Instruments) -> String {
    let mut r = Registry::with_prefix("vigil");
    r.register("build", "The agent's version", Info::new([("version", env!("CARGO_PKG_VERSION"))]));
    r.register_with_unit("uptime", "Time since the agent started", Unit::Seconds, gauge(readings.uptime_seconds));
    r.register(
        "events_in",
        "Events received from each source, counted when committed to the store",
        instruments.events_in.clone(),
    );
    r.register("events_submitted", "Events handed to the pipeline", counter(readings.events_submitted));
    r.register("events_committed", "Events committed to the store", counter(readings.events_committed));
    r.register("anomalies", "Anomalies committed to the store", counter(readings.anomalies));
    r.register("batches", "Batches committed to the store", counter(readings.batches));
    r.register("score_failures", "Batches whose scoring failed (stored unscored)", counter(readings.score_failures));
    r.register("commit_failures", "Store commits that failed and were retried", counter(readings.commit_failures));
    r.register("rejected", "HTTP requests and WebSocket frames refused as bad input", counter(readings.rejected));
    r.register(
        "parse_errors",
        "Lines of each source that did not parse (kept as raw events)",
        counters_by("source", &readings.sources, |s| (s.name.clone(), s.parse_errors)),
    );
    r.register(
        "source_lines",
        "Lines read by each file source",
        counters_by("source", &readings.sources, |s| (s.name.clone(), s.lines)),
    );
    r.register(
        "source_read_errors",
        "Read errors of each file source (retried)",
        counters_by("source", &readings.sources, |s| (s.name.clone(), s.read_errors)),
    );
    r.register(
        "source_files",
        "Files each file source follows",
        gauges_by("source", &readings.sources, |s| (s.name.clone(), s.files)),
    );
    r.register(
        "source_skipped_files",
        "Paths under each file source's globs not followed now: unreadable, or not regular files",
        gauges_by("source", &readings.sources, |s| (s.name.clone(), s.skipped_files)),
    );
    r.register(
        "queue_depth",
        "Submissions waiting in each queue",
        gauges_by("queue", &readings.queues, |(q, n)| (q.clone(), *n)),
    );
    r.register(
        "plugin_calls",
        "Calls made to each plugin",
        counters_by("plugin", &readings.plugins, |p| (p.name.clone(), p.calls)),
    );
    r.register(
        "plugin_failures",
        "Calls to each plugin that failed",
        counters_by("plugin", &readings.plugins, |p| (p.name.clone(), p.failures)),
    );
    r.register(
        "plugin_failing",
        "1 while a plugin's most recent call failed",
        gauges_by("plugin", &readings.plugins, |p| (p.name.clone(), u64::from(p.failing))),
    );
    r.register_with_unit(
        "plugin_memory",
        "Linear memory each plugin's instance holds (grown, never given back while it lives)",
        Unit::Bytes,
        gauges_by("plugin", &readings.plugins, |p| (p.name.clone(), p.memory_bytes)),
    );
    r.register_with_unit(
        "plugin_call",
        "Time the detectors take to score one batch: several plugin calls for a batch over 1,024 events, and a retry's, so its count is batches where plugin_calls_total counts calls",
        Unit::Seconds,
        instruments.plugin_call.clone(),
    );
    r.register_with_unit(
        "store_commit",
        "Time one store commit (one transaction) takes",
        Unit::Seconds,
        instruments.store_commit.clone(),
    );
    r.register(
        "chroma_outbox_depth",
        "Rows waiting in the outbox to be written to Chroma",
        instruments.outbox_depth.clone(),
    );
    // What an alert on "Chroma down" or "writes piling up" needs, without reading /health.
    if let Some(c) = &readings.chroma {
        r.register("chroma_up", "Whether the last call to Chroma succeeded (1) or failed (0)", gauge(u64::from(c.up)));
        r.register("chroma_records_sent", "Records Chroma accepted since start", counter(c.records_sent));
        r.register("chroma_failures", "Calls to Chroma that failed since start", counter(c.failures));
        r.register(
            "chroma_outbox_events",
            "Events (each with its anomalies) waiting in the outbox for Chroma",
            gauge(c.outbox_events),
        );
        r.register("chroma_outbox_records", "Summaries waiting in the outbox for Chroma", gauge(c.outbox_records));
    }
    let mut text = String::new();
    prometheus_text::encode(&mut text, &r).expect("writing to a String does not fail");
    text
}
