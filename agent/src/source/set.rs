//! The running file sources, changed as a whole by a new config: a source whose settings are
//! unchanged keeps running; a removed one stops; a changed one stops and starts again; a new
//! one starts. A stopped source's last lines are committed before its successor reads on from
//! the committed checkpoints, so a reload neither loses nor repeats a line.

use super::file::{FileSource, Position, Tailer, checkpoint_key};
use super::{SourceRegistry, SourceSpec};
use crate::pipeline::{Pipeline, Submission};
use crate::store::{SavedCheckpoint, Store};
use std::collections::HashSet;
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
        let configured: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        let mut running = Vec::with_capacity(specs.len());
        for spec in specs {
            running.push((spec.clone(), set.start_one(spec, &configured)?.0));
        }
        *set.running.try_lock().expect("a new set is not shared yet") = running;
        Ok(set)
    }

    /// Start `spec` from its committed positions. When `configured` (the names of the sources
    /// of the config being applied) no longer holds a source that committed positions, the
    /// positions of its files that `spec` reads now are moved to `spec`: a renamed source
    /// resumes its files instead of reading them again from `start_at`. Returns the source
    /// with the names whose files it took over.
    fn start_one(&self, spec: &SourceSpec, configured: &[&str]) -> Result<(FileSource, Vec<String>), (String, String)> {
        let failed = |message: String| (spec.name.clone(), message);
        let saved = self.store.checkpoints().map_err(|e| failed(e.to_string()))?;
        let position = |s: &SavedCheckpoint, key: &str| Position {
            key: key.to_owned(),
            fingerprint: s.checkpoint.fingerprint.clone(),
            offset: s.checkpoint.offset,
            tail: s.checkpoint.tail.clone(),
        };
        let mut positions = Vec::new();
        let mut unowned = Vec::new();
        for s in &saved {
            let Some((source, file_key)) = s.checkpoint.key.rsplit_once('/') else { continue };
            if source == spec.name {
                positions.push(position(s, file_key));
            } else if !configured.contains(&source) {
                unowned.push((s, source, file_key));
            }
        }
        // The newest position of a file first, so it is the one taken over when several
        // former sources read the file; none that would clash with one of the source's own.
        unowned.sort_by_key(|(s, ..)| std::cmp::Reverse(s.updated_ms));
        let mut keys: HashSet<&str> = positions.iter().map(|p| p.key.as_str()).collect();
        unowned.retain(|(_, _, file_key)| keys.insert(file_key));
        let mut taken_over = Vec::new();
        if !unowned.is_empty() {
            let tailer = Tailer::new(spec.file.clone(), Vec::new()).map_err(|e| failed(e.to_string()))?;
            let offered = unowned.iter().map(|(s, _, file_key)| position(s, file_key)).collect();
            let mut moves = Vec::new();
            for claimed in tailer.claim(offered) {
                let (s, source, file_key) = unowned.iter().find(|(_, _, k)| *k == claimed.key).expect("offered");
                moves.push((s.checkpoint.key.clone(), checkpoint_key(&spec.name, file_key)));
                if !taken_over.iter().any(|n| n == source) {
                    taken_over.push((*source).to_owned());
                }
                positions.push(claimed);
            }
            self.store.move_checkpoints(&moves).map_err(|e| failed(e.to_string()))?;
            if !moves.is_empty() {
                tracing::info!(
                    source = %spec.name,
                    files = moves.len(),
                    from = %taken_over.join(", "),
                    "resuming files last read by sources no longer configured (a renamed source), \
                     instead of reading them again from `start_at`"
                );
            }
        }
        let source = FileSource::start(spec.clone(), positions, self.pipeline.clone(), self.registry.clone())
            .map_err(|e| failed(e.to_string()))?;
        Ok((source, taken_over))
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
        let configured: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        for spec in specs {
            if running.iter().any(|(s, _)| s == spec) {
                continue;
            }
            let (source, taken_over) = self.start_one(spec, &configured)?;
            if !changes.iter().any(|c| c.starts_with(&format!("source {} ", spec.name))) {
                changes.push(if taken_over.is_empty() {
                    format!("source {} started", spec.name)
                } else {
                    format!("source {} started, resuming the files of source {}", spec.name, taken_over.join(", "))
                });
            }
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
