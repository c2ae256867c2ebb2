//! Each source's live counters, as `/api/v1/stats` shows them under `sources`.

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Counters by source name; sources update their own entry.
#[derive(Clone, Default)]
pub struct SourceRegistry(Arc<Mutex<BTreeMap<String, Value>>>);

impl SourceRegistry {
    /// Replace the counters of `source`.
    pub fn set(&self, source: &str, counters: Value) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(source.to_owned(), counters);
    }

    /// Forget a source that was removed from the config.
    pub fn remove(&self, source: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(source);
    }

    /// Every source's counters.
    pub fn snapshot(&self) -> Value {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Value::Object(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}
