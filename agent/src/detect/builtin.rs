//! Plugins embedded in the binary, selected with `plugin = "builtin:<name>"`. The build script
//! compiles them for wasm32-wasip2 and places them in `OUT_DIR`.

const ISOLATION_FOREST: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/isolation_forest.wasm"));
const WINDOW_SUMMARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/window_summary.wasm"));
const KMEANS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kmeans.wasm"));

const BUILTINS: &[(&str, &[u8])] =
    &[("isolation-forest", ISOLATION_FOREST), ("window-summary", WINDOW_SUMMARY), ("kmeans", KMEANS)];

/// The embedded component named `name`, with its name as a static string.
pub fn lookup(name: &str) -> Option<(&'static str, &'static [u8])> {
    BUILTINS.iter().find(|(n, _)| *n == name).copied()
}

/// Names of every embedded plugin.
pub fn names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(n, _)| *n).collect()
}
