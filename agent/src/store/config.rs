//! The `[store]` section as users write it, and the checks that run before the store opens.

use super::error::StoreError;
use crate::config::Range;
use serde::Deserialize;

/// `[store]`: where events, anomalies and file checkpoints are kept, and for how long.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Which store keeps the data. `embedded` (the default) is one SQLite file, `vigil.db`,
    /// in `data_dir`; it needs no server.
    #[serde(default)]
    pub kind: StoreKind,
    /// Events older than this many days are deleted, with their anomalies. 0 keeps them
    /// until `max_size_mib` is reached.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// Largest size of the data in `vigil.db`, in MiB; past it the oldest events are deleted.
    /// 0 means no size limit.
    #[serde(default = "default_max_size_mib")]
    pub max_size_mib: u64,
    /// Read connections kept open for queries (1 to 64); queries beyond this many at once
    /// open a connection of their own for the time of the query.
    #[serde(default = "default_read_connections")]
    pub read_connections: usize,
    /// Page cache of the writer connection, in MiB. Commits append to the table and to the
    /// right-hand edge of the indexes, so a small cache holds what they touch: 16 MiB commits
    /// as fast as 64 MiB did, and the cache is resident memory once filled.
    #[serde(default = "default_cache_mib")]
    pub cache_mib: u64,
    /// How long a statement waits for a lock held by another connection before it fails,
    /// in milliseconds.
    #[serde(default = "default_busy_timeout_ms")]
    pub busy_timeout_ms: u64,
    /// Events deleted per retention transaction; smaller chunks block commits for less time.
    #[serde(default = "default_retention_chunk")]
    pub retention_chunk: usize,
    /// How often retention runs, in seconds (1 to 86400); the first run is one interval after start.
    #[serde(default = "default_retention_interval_secs")]
    pub retention_interval_secs: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            kind: StoreKind::default(),
            retention_days: default_retention_days(),
            max_size_mib: default_max_size_mib(),
            read_connections: default_read_connections(),
            cache_mib: default_cache_mib(),
            busy_timeout_ms: default_busy_timeout_ms(),
            retention_chunk: default_retention_chunk(),
            retention_interval_secs: default_retention_interval_secs(),
        }
    }
}

/// The range of each bounded `[store]` field (by its name in `[store]`).
pub(crate) const RANGES: &[Range] = &[
    Range {
        field: "read_connections",
        min: 1,
        max: 64,
        unit: "",
        hint: "the default is 4; queries beyond them at once open a connection of their own",
    },
    Range {
        field: "cache_mib",
        min: 1,
        max: 65_536,
        unit: "MiB",
        hint: "the default is 16; the cache is resident memory once filled",
    },
    Range {
        field: "busy_timeout_ms",
        min: 0,
        max: 600_000,
        unit: "ms",
        hint: "the default is 5000; 600000 is 10 minutes",
    },
    Range {
        field: "retention_chunk",
        min: 100,
        max: 1_000_000,
        unit: "events",
        hint: "the default is 10000; smaller chunks block commits for less time",
    },
    Range {
        field: "retention_interval_secs",
        min: 1,
        max: 86_400,
        unit: "s",
        hint: "the default is 60; 86400 is a day",
    },
    Range {
        field: "retention_days",
        min: 0,
        max: 36_500,
        unit: "days",
        hint: "0 keeps events until max_size_mib; 36500 is 100 years",
    },
];

impl StoreConfig {
    /// Check the values serde cannot; [`Store::open`](super::Store::open) calls this first.
    pub fn validate(&self) -> Result<(), StoreError> {
        match self.problems().into_iter().next() {
            Some((range, value)) => {
                let unit = if range.unit.is_empty() { String::new() } else { format!(" ({})", range.unit) };
                let message = format!("{value} is out of range; give {} to {}{unit}", range.min, range.max);
                Err(StoreError::Config { field: range.field, message })
            }
            None => Ok(()),
        }
    }

    /// Every field out of its range, with its value.
    pub(crate) fn problems(&self) -> Vec<(&'static Range, u64)> {
        let value = |field: &str| match field {
            "read_connections" => self.read_connections as u64,
            "cache_mib" => self.cache_mib,
            "busy_timeout_ms" => self.busy_timeout_ms,
            "retention_chunk" => self.retention_chunk as u64,
            "retention_interval_secs" => self.retention_interval_secs,
            "retention_days" => u64::from(self.retention_days),
            other => unreachable!("no [store] field {other}"),
        };
        RANGES.iter().map(|r| (r, value(r.field))).filter(|(r, v)| !r.contains(*v)).collect()
    }

    /// The size limit in bytes, if any.
    pub fn max_size_bytes(&self) -> Option<u64> {
        (self.max_size_mib > 0).then(|| self.max_size_mib.saturating_mul(1024 * 1024))
    }
}

/// The store backends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum StoreKind {
    /// SQLite in the data directory.
    #[default]
    Embedded,
    /// SQLite in the data directory (the source of truth and the outbox) plus a ChromaDB
    /// server (`[chroma]`) that receives logs, anomalies and summaries with their vectors.
    Chroma,
}

impl TryFrom<String> for StoreKind {
    type Error = String;

    fn try_from(kind: String) -> Result<Self, Self::Error> {
        match kind.as_str() {
            "embedded" => Ok(StoreKind::Embedded),
            "chroma" => Ok(StoreKind::Chroma),
            other => Err(format!("unknown store kind {other:?}; the kinds are \"embedded\" and \"chroma\"")),
        }
    }
}

fn default_retention_days() -> u32 {
    7
}
fn default_max_size_mib() -> u64 {
    1024
}
fn default_read_connections() -> usize {
    4
}
fn default_cache_mib() -> u64 {
    16
}
fn default_busy_timeout_ms() -> u64 {
    5_000
}
fn default_retention_chunk() -> usize {
    10_000
}
fn default_retention_interval_secs() -> u64 {
    60
}
