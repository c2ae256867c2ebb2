//! Builds the plugins embedded in the `vigil` binary (the default Isolation Forest detector)
//! for wasm32-wasip2 with a nested cargo, so a plain `cargo build` / `cargo run` yields a
//! complete agent. The nested build has its own target dir (`target/wasm-plugins`, shared by
//! every profile): building into the outer one would deadlock on cargo's lock.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (package, output file name in OUT_DIR)
const EMBEDDED: &[(&str, &str)] = &[
    ("vigil-isolation-forest", "isolation_forest.wasm"),
    ("vigil-window-summary", "window_summary.wasm"),
    ("vigil-kmeans", "kmeans.wasm"),
];

/// Fixture plugins the tests load by path (tiny; built alongside, never embedded).
const FIXTURES: &[&str] = &[
    "vigil-fixture-constant-score",
    "vigil-fixture-misbehave",
    "vigil-fixture-misbehave-summarizer",
    "vigil-fixture-wrong-version",
    "vigil-example-threshold",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let target_dir = workspace.join("target").join("wasm-plugins");

    for path in ["plugin-sdk/src", "plugin-sdk/wit", "plugin-sdk/Cargo.toml", "plugins", "Cargo.toml", "Cargo.lock"] {
        println!("cargo::rerun-if-changed={}", workspace.join(path).display());
    }

    let packages: Vec<&str> = EMBEDDED.iter().map(|(p, _)| *p).chain(FIXTURES.iter().copied()).collect();
    build_plugins(&workspace, &target_dir, &packages);
    let built_dir = target_dir.join("wasm32-wasip2/plugin");
    println!("cargo::rustc-env=VIGIL_TEST_PLUGIN_DIR={}", built_dir.display());
    for (package, file) in EMBEDDED {
        let built = built_dir.join(format!("{}.wasm", package.replace('-', "_")));
        std::fs::copy(&built, out_dir.join(file))
            .unwrap_or_else(|e| panic!("copying {} to OUT_DIR: {e}", built.display()));
    }
}

fn build_plugins(workspace: &Path, target_dir: &Path, packages: &[&str]) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace).args(["build", "--locked", "--target", "wasm32-wasip2", "--profile", "plugin"]);
    for package in packages {
        cmd.args(["--package", package]);
    }
    cmd.arg("--target-dir").arg(target_dir);
    // The outer build's settings must not leak into the guest build (they describe the host
    // target and profile, and would invalidate the nested build's cache on every change).
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let leaks = [
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTFLAGS",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
            "TARGET",
            "HOST",
            "PROFILE",
            "OPT_LEVEL",
            "DEBUG",
            "CARGO_MAKEFLAGS",
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
        ]
        .contains(&key)
            || ["CARGO_PROFILE_", "CARGO_CFG_", "CARGO_FEATURE_"].iter().any(|p| key.starts_with(p));
        if leaks {
            cmd.env_remove(key);
        }
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("running cargo for the plugins: {e}"));
    if !status.success() {
        panic!(
            "building the plugins {packages:?} for wasm32-wasip2 failed (see above). \
             If the target is missing, run `rustup target add wasm32-wasip2` \
             (rust-toolchain.toml names it, but rustup does not install it automatically here)."
        );
    }
}
