//! The running file sources, changed as a whole by a new config: a source whose settings are
//! unchanged keeps running; a removed one stops; a changed one stops and starts again; a new
//! one starts. A stopped source's last lines are committed before its successor reads on from
//! the committed checkpoints, so a reload neither loses nor repeats a line.

use super::file::{FileSource, Position, checkpoint_key};
use super::{SourceRegistry, SourceSpec};
use crate::pipeline::{Pipeline, Submission};
use crate::store::Store;
use std::sync::Arc;
use tokio::sync::Mutex;

/// The file sources of the running config.
pub struct SourceSet {
    running: Mutex<Vec<(SourceSpec, FileSource)>>,
    pipeline: Pipeline,
    registry: SourceRegistry,
    store: Arc<Store>,
}

impl SourceSet {
    /// Start every source of `specs`, each from its committed checkpoints.
    pub fn start(
        specs: &[SourceSpec],
        pipeline: Pipeline,
        registry: SourceRegistry,
        store: Arc<Store>,
    ) -> Result<SourceSet, (String, String)> {
        let set = SourceSet { running: Mutex::new(Vec::new()), pipeline, registry, store };
        let mut running = Vec::with_capacity(specs.len());
        for spec in specs {
            running.push((spec.clone(), set.start_one(spec)?));
        }
        *set.running.try_lock().expect("a new set is not shared yet") = running;
        Ok(set)
    }

    fn start_one(&self, spec: &SourceSpec) -> Result<FileSource, (String, String)> {
        let failed = |message: String| (spec.name.clone(), message);
        let prefix = checkpoint_key(&spec.name, "");
        let positions = self
            .store
            .checkpoints()
            .map_err(|e| failed(e.to_string()))?
            .into_iter()
            .filter_map(|s| {
                let key = s.checkpoint.key.strip_prefix(&prefix)?;
                Some(Position {
                    key: key.to_owned(),
                    fingerprint: s.checkpoint.fingerprint,
                    offset: s.checkpoint.offset,
                })
            })
            .collect();
        FileSource::start(spec.clone(), positions, self.pipeline.clone(), self.registry.clone())
            .map_err(|e| failed(e.to_string()))
    }

    /// Move to `specs`; returns what changed, worded for the operator.
    pub async fn apply(&self, specs: &[SourceSpec]) -> Result<Vec<String>, (String, String)> {
        let mut running = self.running.lock().await;
        let mut changes = Vec::new();
        let (keep, stop): (Vec<_>, Vec<_>) =
            std::mem::take(&mut *running).into_iter().partition(|(old, _)| specs.contains(old));
        if !stop.is_empty() {
            let mut removed = Vec::new();
            for (spec, _) in &stop {
                let changed = specs.iter().any(|s| s.name == spec.name);
                changes.push(format!("source {} {}", spec.name, if changed { "restarted" } else { "stopped" }));
                if !changed {
                    removed.push(spec.name.clone());
                }
            }
            let sources: Vec<FileSource> = stop.into_iter().map(|(_, source)| source).collect();
            tokio::task::spawn_blocking(move || sources.into_iter().for_each(FileSource::stop))
                .await
                .expect("stopping sources");
            // Forgotten once stopped: a source reports its stats until its thread ends, and an
            // entry removed before that came back and stayed.
            for name in &removed {
                self.registry.remove(name);
            }
            // The pipeline is first in, first out: once this empty submission is committed,
            // so is everything the stopped sources read, with its checkpoints.
            let (barrier, committed) = Submission::events(Vec::new()).with_reply();
            if self.pipeline.submit(barrier).await.is_ok() {
                let _ = committed.await;
            }
        }
        *running = keep;
        for spec in specs {
            if running.iter().any(|(s, _)| s == spec) {
                continue;
            }
            if !changes.iter().any(|c| c.starts_with(&format!("source {} ", spec.name))) {
                changes.push(format!("source {} started", spec.name));
            }
            let source = self.start_one(spec)?;
            running.push((spec.clone(), source));
        }
        // Keep config order, for status pages.
        running.sort_by_key(|(s, _)| specs.iter().position(|o| o.name == s.name));
        Ok(changes)
    }

    /// Stop every source; what they read so far is submitted first.
    pub async fn stop_all(&self) {
        let sources: Vec<FileSource> =
            std::mem::take(&mut *self.running.lock().await).into_iter().map(|(_, s)| s).collect();
        tokio::task::spawn_blocking(move || sources.into_iter().for_each(FileSource::stop))
            .await
            .expect("stopping sources");
    }
}
