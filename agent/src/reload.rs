//! Hot reload: the config file (and every plugin file it names) is watched with notify, and
//! SIGHUP asks for a reload too. A new config is validated completely first (TOML, fields,
//! values, plugin files, and every changed plugin instantiated and configured); if anything
//! is wrong it is refused as a whole, the running config stays, and the refusal is logged,
//! kept for `/health` under `config`, and sent on `/ws` as `{"type":"config_error",...}`.
//! A valid config is applied by difference: only changed detectors, summarizers and sources
//! restart (see [`DetectorSet::reconfigure`], [`Summarizers::apply`] and [`SourceSet::apply`]);
//! the API token and batch limits change in place. Settings that this version applies only at
//! start (the listen address, the data dir, the store and Chroma link, the pipeline's queues,
//! `[chat]`, `[telemetry]` and `[embedding]`) are reported under `config.needs_restart` in `/health` and logged.

use crate::config::{ApiSettings, Config, ConfigError, ConfigErrors, plugin_refusal};
use crate::detect::DetectorSet;
use crate::pipeline::{MonitorMessage, Pipeline};
use crate::source::SourceSet;
use crate::store::Store;
use crate::summarize::Summarizers;
use notify::Watcher;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Quiet time after a file event before the file is read: editors write in several steps.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// How the config file is doing, as `/health` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigStatus {
    /// The file the agent runs with (`<embedded ...>` without `--config`).
    pub file: String,
    /// Whether changes to it are picked up.
    pub watching: bool,
    /// Reloads applied since start.
    pub generation: u64,
    /// Reload attempts since start (applied, unchanged or refused).
    pub attempts: u64,
    /// The outcome of the most recent reload attempt.
    pub last_reload: Option<ReloadReport>,
    /// Settings changed in the file that only a restart applies.
    pub needs_restart: Vec<String>,
}

impl ConfigStatus {
    /// Whether the file on disk is refused (the agent runs an older config).
    pub fn refused(&self) -> bool {
        self.last_reload.as_ref().is_some_and(|r| r.outcome == "refused")
    }
}

/// One reload attempt.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadReport {
    /// When, RFC 3339.
    pub at: String,
    /// `file` (a change on disk) or `signal` (SIGHUP).
    pub trigger: &'static str,
    /// `applied`, `unchanged` or `refused`.
    pub outcome: &'static str,
    /// What changed, for `applied`.
    pub changes: Vec<String>,
    /// Every problem, for `refused`: file, line, column, field, message, hint.
    pub errors: Vec<ConfigError>,
    /// From the trigger to the config being applied or refused, milliseconds.
    pub took_ms: f64,
}

/// What a reload can change.
pub struct Reloader {
    path: PathBuf,
    current: tokio::sync::Mutex<Config>,
    detectors: Arc<DetectorSet>,
    summarizers: Arc<Summarizers>,
    sources: Arc<SourceSet>,
    settings: Arc<arc_swap::ArcSwap<ApiSettings>>,
    status: Arc<Mutex<ConfigStatus>>,
    store: Arc<Store>,
    pipeline: Pipeline,
    /// Whether the plugin engine meters fuel: fixed when the agent starts (see
    /// [`Config::meters_fuel`]).
    meters_fuel: bool,
}

/// Asks the reloader to reload; cheap to clone (SIGHUP holds one).
#[derive(Clone)]
pub struct ReloadHandle(mpsc::Sender<(&'static str, Instant)>);

impl ReloadHandle {
    /// Ask for a reload because of `trigger` (`signal`, `file`).
    pub fn request(&self, trigger: &'static str) {
        let _ = self.0.try_send((trigger, Instant::now()));
    }
}

impl Reloader {
    /// A reloader of `path`, whose running config is `config`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        path: PathBuf,
        config: Config,
        detectors: Arc<DetectorSet>,
        summarizers: Arc<Summarizers>,
        sources: Arc<SourceSet>,
        settings: Arc<arc_swap::ArcSwap<ApiSettings>>,
        status: Arc<Mutex<ConfigStatus>>,
        store: Arc<Store>,
        pipeline: Pipeline,
    ) -> Reloader {
        Reloader {
            path,
            meters_fuel: config.meters_fuel(),
            current: tokio::sync::Mutex::new(config),
            detectors,
            summarizers,
            sources,
            settings,
            status,
            store,
            pipeline,
        }
    }

    /// Watch the config and plugin files and reload on changes and on [`ReloadHandle`]
    /// requests, until the returned task is aborted.
    pub fn spawn(self) -> (ReloadHandle, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(16);
        let handle = ReloadHandle(tx);
        let task = tokio::spawn(self.run(handle.clone(), rx));
        (handle, task)
    }

    async fn run(self, handle: ReloadHandle, mut requests: mpsc::Receiver<(&'static str, Instant)>) {
        let mut watch = FileWatch::new(handle.clone());
        watch.follow(&self.watched_files(&*self.current.lock().await));
        self.lock_status().watching = watch.watcher.is_some();
        // The file was read at start, before this watch existed: a change written in between
        // (a deploy script that starts the agent, then edits its config) would never be seen.
        // Catch up once by comparing what is on disk now with what runs.
        let path = self.path.clone();
        let on_disk = tokio::task::spawn_blocking(move || Config::load(&path)).await;
        let running = self.current.lock().await.clone();
        if !matches!(on_disk, Ok(Ok(config)) if config == running) {
            handle.request("file");
        }
        while let Some((mut trigger, mut since)) = requests.recv().await {
            // Debounce: wait until the files are quiet, then reload once.
            while let Ok(Ok((t, s))) = tokio::time::timeout(DEBOUNCE, requests.recv()).await.map(|r| r.ok_or(())) {
                if trigger == "file" {
                    trigger = t;
                }
                since = since.min(s);
            }
            let report = self.reload(trigger, since).await;
            watch.follow(&self.watched_files(&*self.current.lock().await));
            let mut status = self.lock_status();
            if report.outcome == "applied" {
                status.generation += 1;
            }
            status.attempts += 1;
            status.last_reload = Some(report);
        }
    }

    fn lock_status(&self) -> std::sync::MutexGuard<'_, ConfigStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The config file and the component files of its detectors and summarizers.
    fn watched_files(&self, config: &Config) -> Vec<PathBuf> {
        let mut files = vec![self.path.clone()];
        let plugins = config.detectors.iter().map(|d| &d.source).chain(config.summarizers.iter().map(|s| &s.source));
        files.extend(plugins.filter_map(|source| match source {
            crate::config::PluginSource::File(path) => Some(path.clone()),
            crate::config::PluginSource::Builtin(_) => None,
        }));
        files
    }

    /// Read, check and apply the config file once.
    pub async fn reload(&self, trigger: &'static str, since: Instant) -> ReloadReport {
        let file = self.path.display().to_string();
        let report = |outcome, changes, errors| ReloadReport {
            at: jiff::Timestamp::now().to_string(),
            trigger,
            outcome,
            changes,
            errors,
            took_ms: since.elapsed().as_secs_f64() * 1000.0,
        };
        let path = self.path.clone();
        let loaded = tokio::task::spawn_blocking(move || Config::load(&path)).await.expect("loading the config");
        let new = match loaded {
            Ok(config) => config,
            Err(errors) => return self.refuse(report("refused", Vec::new(), errors.0), &file),
        };
        match self.apply(new).await {
            Ok(changes) if changes.is_empty() => report("unchanged", changes, Vec::new()),
            Ok(changes) => {
                tracing::info!(file = %file, changes = ?changes, "config reloaded");
                self.pipeline.monitor().publish(&MonitorMessage::ConfigApplied { file, changes: changes.clone() });
                report("applied", changes, Vec::new())
            }
            Err(error) => self.refuse(report("refused", Vec::new(), vec![error]), &file),
        }
    }

    /// A plugin of `kind` (`detectors` or `summarizers`) that failed to start, as the entry
    /// `index` of the file (see [`plugin_refusal`]).
    fn plugin_error(
        &self,
        config: &Config,
        kind: &str,
        index: Option<usize>,
        error: &crate::detect::PluginError,
    ) -> ConfigError {
        let file = self.path.display().to_string();
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        plugin_refusal(&file, &text, config, kind, index, error, true)
    }

    fn refuse(&self, report: ReloadReport, file: &str) -> ReloadReport {
        let message = ConfigErrors(report.errors.clone()).to_string();
        tracing::error!(file = %file, "config refused; the running config stays:\n{message}");
        self.pipeline.monitor().publish(&MonitorMessage::ConfigError {
            file: file.to_owned(),
            message,
            errors: report.errors.clone(),
        });
        report
    }

    /// Apply a valid config by difference; on error nothing has changed.
    async fn apply(&self, mut new: Config) -> Result<Vec<String>, ConfigError> {
        let mut current = self.current.lock().await;
        let file = self.path.display().to_string();
        let error = |field: &str, message: String, hint: &str| {
            ConfigError::at(&file, "", None, field.to_owned(), message).hint(hint.to_owned())
        };

        // What only a restart can change stays as it runs; say so.
        let mut needs_restart = Vec::new();
        if new.data_dir != current.data_dir {
            needs_restart.push("data_dir".to_owned());
        }
        if new.api.address != current.api.address {
            needs_restart.push("api.address".to_owned());
        }
        if new.api.max_body_bytes != current.api.max_body_bytes {
            needs_restart.push("api.max_body_bytes".to_owned());
        }
        if new.store != current.store {
            needs_restart.push("store".to_owned());
        }
        if new.pipeline != current.pipeline {
            needs_restart.push("pipeline".to_owned());
        }
        if new.chroma != current.chroma {
            needs_restart.push("chroma".to_owned());
        }
        if new.chat != current.chat {
            needs_restart.push("chat".to_owned());
        }
        if new.telemetry != current.telemetry {
            needs_restart.push("telemetry".to_owned());
        }
        if new.embedding != current.embedding {
            needs_restart.push("embedding".to_owned());
        }
        // Fuel is metered by the engine or not at all: a budget added to an agent started
        // without one waits for a restart like the settings above, and the rest applies. It
        // used to refuse the whole reload as a plugin that "cannot load".
        if new.meters_fuel() && !self.meters_fuel {
            needs_restart.push("limits.fuel".to_owned());
            new.detectors.iter_mut().for_each(|d| d.limits.fuel = None);
            new.summarizers.iter_mut().for_each(|s| s.limits.fuel = None);
        }
        if !needs_restart.is_empty() {
            tracing::warn!(fields = ?needs_restart, "these settings changed but apply only after a restart");
        }
        new.data_dir = current.data_dir.clone();
        new.api.address = current.api.address;
        new.api.max_body_bytes = current.api.max_body_bytes;
        new.store = current.store.clone();
        new.pipeline = current.pipeline.clone();
        new.chroma = current.chroma.clone();
        new.chat = current.chat.clone();
        new.telemetry = current.telemetry.clone();
        new.embedding = current.embedding;
        let restart_changed = self.lock_status().needs_restart != needs_restart;
        self.lock_status().needs_restart = needs_restart;

        // New and changed summarizers are started before anything changes: one that fails
        // refuses the whole config.
        let summarizer_plan = if self.summarizers.differs_from(&new.summarizers) {
            let (summarizers, specs) = (self.summarizers.clone(), new.summarizers.clone());
            let plan =
                tokio::task::spawn_blocking(move || summarizers.prepare(&specs)).await.expect("starting summarizers");
            Some(plan.map_err(|(at, e)| self.plugin_error(&new, "summarizers", Some(at), &e))?)
        } else {
            None
        };

        let mut changes = Vec::new();
        if self.detectors.differs_from(&new.detectors) {
            // Persist the learned state first: a crash during the swap must not lose it.
            let detectors = self.detectors.clone();
            let store = self.store.clone();
            let specs = new.detectors.clone();
            let swapped = tokio::task::spawn_blocking(move || {
                let snapshots = detectors.snapshots(false);
                if let Err(e) = store.save_snapshots(&snapshots) {
                    tracing::warn!(error = %e, "cannot save plugin snapshots before the reload");
                }
                detectors.reconfigure(&specs)
            })
            .await
            .expect("reconfiguring detectors");
            changes.extend(swapped.map_err(|(at, e)| self.plugin_error(&new, "detectors", Some(at), &e))?);
        }
        if let Some(plan) = summarizer_plan {
            let summarizers = self.summarizers.clone();
            changes.extend(
                tokio::task::spawn_blocking(move || summarizers.apply(plan)).await.expect("swapping summarizers"),
            );
        }
        if new.sources != current.sources {
            let applied = self.sources.apply(&new.sources).await.map_err(|(name, message)| {
                error(&format!("sources.{name}"), message, "the other changes were applied; fix this source")
            })?;
            changes.extend(applied);
        }
        if new.api != current.api {
            self.settings.store(Arc::new(new.api.clone()));
            if new.api.token != current.api.token {
                changes.push("api.token changed".to_owned());
            }
            if new.api.max_batch_logs != current.api.max_batch_logs {
                changes.push(format!("api.max_batch_logs is now {}", new.api.max_batch_logs));
            }
            // Applied with the rest of [api]; it went unreported ("unchanged", no generation,
            // no config_applied on /ws) although the new origins were served at once.
            if new.api.cors_origins != current.api.cors_origins {
                changes.push(format!("api.cors_origins is now {:?}", new.api.cors_origins));
            }
        }
        if changes.is_empty() && restart_changed {
            changes.push("settings that need a restart changed (see config.needs_restart in /health)".to_owned());
        }
        *current = new;
        Ok(changes)
    }
}

/// The notify watcher: it watches the directories of the files (editors and `mv` replace a
/// file rather than write it) and reports events that touch one of the files.
struct FileWatch {
    watcher: Option<notify::RecommendedWatcher>,
    files: Arc<Mutex<BTreeSet<PathBuf>>>,
    dirs: BTreeSet<PathBuf>,
}

impl FileWatch {
    fn new(handle: ReloadHandle) -> FileWatch {
        let files: Arc<Mutex<BTreeSet<PathBuf>>> = Arc::default();
        let watched = files.clone();
        let wake = handle.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if matches!(event.kind, notify::EventKind::Access(_)) {
                return;
            }
            let files = watched.lock().unwrap_or_else(|p| p.into_inner());
            if event.paths.iter().any(|p| files.contains(&normalize(p))) {
                wake.request("file");
            }
        })
        .inspect_err(|e| tracing::warn!(error = %e, "cannot watch the config; reload with SIGHUP"))
        .ok();
        FileWatch { watcher, files, dirs: BTreeSet::new() }
    }

    /// Watch exactly `files` (and their directories) from now on, each with the symlinks it
    /// is reached through and the file they lead to (see [`link_chain`]).
    fn follow(&mut self, files: &[PathBuf]) {
        let files: BTreeSet<PathBuf> = files.iter().flat_map(|f| link_chain(f)).collect();
        let dirs: BTreeSet<PathBuf> = files.iter().filter_map(|f| f.parent().map(Path::to_path_buf)).collect();
        if let Some(watcher) = &mut self.watcher {
            for gone in self.dirs.difference(&dirs) {
                let _ = watcher.unwatch(gone);
            }
            for dir in dirs.difference(&self.dirs) {
                if let Err(e) = watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot watch; reload with SIGHUP");
                }
            }
        }
        self.dirs = dirs;
        *self.files.lock().unwrap_or_else(|p| p.into_inner()) = files;
    }
}

/// The paths whose change is a change of `file`: itself, every symlink on the way to the file
/// it names (the file's own, or a directory's), and that file. A config reached through
/// symlinks is changed without an event on its own path: Kubernetes mounts a ConfigMap as
/// `vigil.toml -> ..data/vigil.toml` with `..data -> ..2026_12_05_...`, and updates it by
/// pointing `..data` elsewhere; an edit of a linked file's target happens in the target's
/// directory. Read again after every reload, so a new target is followed.
fn link_chain(file: &Path) -> Vec<PathBuf> {
    let mut chain = vec![normalize(file)];
    let mut path = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    // A bound on the links followed, as the OS has (a loop of links resolves to nothing).
    'resolve: for _ in 0..40 {
        for link in path.ancestors() {
            if !link.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
                continue;
            }
            let (Ok(target), Ok(rest)) = (std::fs::read_link(link), path.strip_prefix(link)) else { break 'resolve };
            chain.push(normalize(link));
            let resolved = link.parent().unwrap_or(Path::new("/")).join(target);
            path = if rest.as_os_str().is_empty() { resolved } else { resolved.join(rest) };
            continue 'resolve;
        }
        break;
    }
    if let Ok(target) = file.canonicalize() {
        chain.push(target);
    }
    chain
}

/// An absolute path with `.` and `..` resolved through the directory (the file itself may
/// not exist at the moment of an event), so watcher paths and config paths compare equal.
fn normalize(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent().and_then(|d| d.canonicalize().ok()), absolute.file_name()) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => absolute,
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::config::plugin_refusal;
    use crate::detect::DetectorSet;
    use crate::pipeline::Monitor;
    use crate::summarize::Summarizers;
    use std::path::Path;

    #[test]
    fn a_reload_whose_plugin_refuses_a_config_value_names_the_entry_and_the_value_to_fix() {
        // Two detectors of one plugin, the second's [detectors.config] refused: /health showed
        // field "detectors" without an index or a place, and "fix or rebuild the plugin".
        let forest = "[[detectors]]\nplugin = \"builtin:isolation-forest\"\n";
        let running = Config::parse(&format!("{forest}{forest}"), "vigil.toml", Path::new(".")).unwrap();
        let text = format!("{forest}{forest}[detectors.config]\nwarmup = \"x\"\n");
        let new = Config::parse(&text, "vigil.toml", Path::new(".")).unwrap();
        let set = DetectorSet::start(crate::testing::engine(), &running.detectors).unwrap();
        let (at, error) = set.reconfigure(&new.detectors).unwrap_err();
        let e = plugin_refusal("vigil.toml", &text, &new, "detectors", Some(at), &error, true);
        assert_eq!((e.field.as_str(), e.line, e.column), ("detectors[1] (builtin:isolation-forest)", Some(5), Some(1)));
        let hint = e.hint.as_deref().unwrap();
        assert!(hint.starts_with("fix the value in [detectors.config]"), "{e}");
        assert!(hint.ends_with("the running detectors stay") && !hint.contains("rebuild"), "{e}");
    }

    #[test]
    fn a_summarizer_refused_on_reload_is_placed_at_its_entry() {
        let summarizer = "[[summarizers]]\nplugin = \"builtin:window-summary\"\n";
        let running = Config::parse(summarizer, "vigil.toml", Path::new(".")).unwrap();
        let store = crate::testing::store();
        let (set, _feed) =
            Summarizers::start(crate::testing::engine(), &running.summarizers, store, Monitor::default()).unwrap();
        // The second takes the first's name: placed at the second entry, hinted to rename it.
        let text = format!("{summarizer}{summarizer}");
        let config = Config::parse(&text, "vigil.toml", Path::new(".")).unwrap();
        let (at, taken) = set.prepare(&config.summarizers).err().expect("a name taken twice is refused");
        let e = plugin_refusal("vigil.toml", &text, &config, "summarizers", Some(at), &taken, true);
        assert_eq!((e.field.as_str(), e.line), ("summarizers[1] (builtin:window-summary)", Some(3)), "{e}");
        assert!(e.message.starts_with("summarizers[0] has the same name \"window-summary\""), "{e}");
        assert!(e.hint.as_deref().unwrap().starts_with("give each of the summarizers its own name"), "{e}");
        // A value the second's plugin refuses: placed at its config table.
        let text = format!("{summarizer}{summarizer}name = \"second\"\n[summarizers.config]\ntop_n = \"x\"\n");
        let config = Config::parse(&text, "vigil.toml", Path::new(".")).unwrap();
        let (at, refused) = set.prepare(&config.summarizers).err().expect("top_n = \"x\" is refused");
        let e = plugin_refusal("vigil.toml", &text, &config, "summarizers", Some(at), &refused, true);
        assert_eq!((e.field.as_str(), e.line), ("summarizers[1] (second)", Some(6)), "{e}");
        assert!(e.hint.as_deref().unwrap().starts_with("fix the value in [summarizers.config]"), "{e}");
        set.stop();
    }
}
