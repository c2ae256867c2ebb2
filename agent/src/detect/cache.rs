//! The compiled-component cache: a component compiled once is kept as a precompiled artifact
//! in the data dir, so a restart deserializes it (~0.1 ms) instead of compiling it (~40 ms).

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of precompiled components, keyed by content and engine settings.
#[derive(Clone, Debug)]
pub struct ComponentCache {
    dir: PathBuf,
}

/// Feeds `Hash` output into SHA-256, so the engine's compatibility hash becomes part of a
/// key that is stable across runs (std's `DefaultHasher` promises no such thing).
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        unreachable!("only used through finalize")
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl ComponentCache {
    /// Use (and create) `dir`.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(ComponentCache { dir: dir.to_path_buf() })
    }

    fn path_for(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let mut hasher = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        hasher.0.update(bytes);
        let digest = hasher.0.finalize();
        let name: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{name}.cwasm"))
    }

    /// The component for `bytes`: from the cache when present and valid, else compiled and
    /// written to the cache (a failed write only costs the next start a compile).
    pub fn load_or_compile(&self, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
        let path = self.path_for(engine, bytes);
        if path.is_file() {
            // SAFETY: the file is one this cache wrote from `Component::serialize` for an engine
            // with the same compatibility hash (part of the name); wasmtime also checks its header.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "discarding unusable cached component"),
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = component.serialize().map_err(io::Error::other).and_then(|art| write_atomic(&path, &art)) {
            tracing::warn!(path = %path.display(), error = %e, "cannot cache compiled component");
        }
        Ok(component)
    }
}

/// Write through a temporary file and rename, so a crash never leaves a torn artifact.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
