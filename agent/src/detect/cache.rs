//! The compiled-component cache: a component compiled once is kept as a precompiled artifact
//! in the data dir, so a restart deserializes it (~0.1 ms) instead of compiling it (~40 ms).

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use wasmtime::Engine;
use wasmtime::component::Component;

/// The program that compiles components for the cache in a child process, when set (see
/// [`compile_in_child_processes`]).
static CHILD_COMPILER: OnceLock<ChildCompiler> = OnceLock::new();

/// How to run the child: `program [args...] --cache DIR [--fuel] WASM`.
#[derive(Debug)]
struct ChildCompiler {
    program: PathBuf,
    args: Vec<String>,
}

/// From now on, compile components missing from a cache in a child process that runs
/// `program args... --cache DIR [--fuel] FILE` (the `vigil` binary's hidden `compile-plugin`
/// command, which calls [`super::PluginEngine::compile_into_cache`]), then load them from the
/// cache. Cranelift's code and allocations then never enter this process: a first start
/// idles at ~30 MiB resident instead of ~42 (docs/benchmarks.md, memory). If the child
/// fails, the component is compiled here as before.
pub fn compile_in_child_processes(program: PathBuf, args: Vec<String>) {
    let _ = CHILD_COMPILER.set(ChildCompiler { program, args });
}

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
    /// `fuel` is the engine's fuel setting, for a child compiler to build the same engine.
    pub fn load_or_compile(&self, engine: &Engine, bytes: &[u8], fuel: bool) -> wasmtime::Result<Component> {
        let path = self.path_for(engine, bytes);
        if path.is_file() {
            // SAFETY: the file is one this cache wrote from `Component::serialize` for an engine
            // with the same compatibility hash (part of the name); wasmtime also checks its header.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "discarding unusable cached component"),
            }
        }
        if let Some(compiler) = CHILD_COMPILER.get() {
            match self.compile_in_child(compiler, bytes, fuel, &path) {
                // SAFETY: as above; the child wrote it for an engine of the same settings.
                Ok(()) => match unsafe { Component::deserialize_file(engine, &path) } {
                    Ok(component) => return Ok(component),
                    Err(e) => tracing::warn!(error = %e, "the child's compiled component is unusable; compiling here"),
                },
                Err(e) => tracing::warn!(error = %e, "compiling in a child process failed; compiling here"),
            }
        }
        self.compile_into(engine, bytes, &path)
    }

    /// Compile `bytes` here and write the artifact to `path`.
    fn compile_into(&self, engine: &Engine, bytes: &[u8], path: &Path) -> wasmtime::Result<Component> {
        let component = Component::new(engine, bytes)?;
        if let Err(e) = component.serialize().map_err(io::Error::other).and_then(|art| write_atomic(path, &art)) {
            tracing::warn!(path = %path.display(), error = %e, "cannot cache compiled component");
        }
        Ok(component)
    }

    /// Compile `bytes` into the cache (at `path`) with the child compiler.
    fn compile_in_child(&self, compiler: &ChildCompiler, bytes: &[u8], fuel: bool, path: &Path) -> io::Result<()> {
        let input = path.with_extension(format!("wasm.tmp{}", std::process::id()));
        std::fs::write(&input, bytes)?;
        let mut command = std::process::Command::new(&compiler.program);
        command.args(&compiler.args).arg("--cache").arg(&self.dir);
        if fuel {
            command.arg("--fuel");
        }
        let output = command.arg(&input).stdin(std::process::Stdio::null()).output();
        let _ = std::fs::remove_file(&input);
        let output = output?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(io::Error::other(format!("{}: {}", output.status, stderr.trim())));
        }
        if !path.is_file() {
            return Err(io::Error::other("the child exited without writing the compiled component"));
        }
        tracing::info!(path = %path.display(), "compiled in a child process (once; later starts load it)");
        Ok(())
    }

    /// Compile `bytes` here into the cache unless it holds them already (the child's side).
    pub fn compile_only(&self, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<()> {
        let path = self.path_for(engine, bytes);
        if !path.is_file() {
            self.compile_into(engine, bytes, &path)?;
        }
        Ok(())
    }
}

/// Write through a temporary file and rename, so a crash never leaves a torn artifact.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
