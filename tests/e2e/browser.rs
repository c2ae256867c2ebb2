//! The dashboard in a real headless Chromium: `tests/browser/ui.test.mjs` (Playwright over
//! Debian's `chromium`) starts this build's `vigil`, loads `/ui/`, sends traffic and an
//! outlier, and checks the live feed, the chart, search, chat and the token prompt.

use std::path::Path;
use std::process::Command;

/// Where the browser tests live, from the agent crate's manifest dir.
fn browser_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser")
}

#[test]
fn dashboard_works_in_headless_chromium() {
    let dir = browser_dir();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "the browser tests need their npm packages: run `npm ci` in {} (.ci/run does)",
        dir.display()
    );
    assert!(
        Path::new(&chromium).exists(),
        "the browser tests need Chromium at {chromium}: `apt-get install -y chromium` (.ci/run does), \
         or set CHROMIUM to its path"
    );
    let output = Command::new("node")
        .arg(dir.join("ui.test.mjs"))
        .arg(crate::agent::binary())
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}): the browser tests need Node.js 20 or newer on PATH"));
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the browser tests failed ({}):\n{printed}", output.status);
    // Shown with --nocapture: where the screenshot went.
    println!("{printed}");
}
