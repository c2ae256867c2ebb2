//! Hot reload end to end: while lines are written to a tailed file, the config file is
//! changed under the running agent (threshold, a new source, another plugin, an invalid file,
//! SIGHUP); every line is stored exactly once, the invalid config is refused and reported,
//! and the agent never stops. And a plugin's learned state survives a restart.

use crate::agent::{Agent, plugin_path};
use crate::http::request;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The whole config file as `Agent::start` writes it, with `body` after `[api]`.
fn write_config(dir: &Path, body: &str) {
    let text =
        format!("data_dir = {:?}\n[api]\naddress = \"127.0.0.1:0\"\n{body}", dir.join("data").display().to_string());
    // Like an editor: write a temporary file, then rename it over the config.
    let tmp = dir.join(".vigil.toml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join("vigil.toml")).unwrap();
}

fn source(dir: &Path, name: &str, file: &str) -> String {
    format!(
        "[[sources]]\ntype = \"file\"\nname = \"{name}\"\ninclude = [\"{}/logs/{file}\"]\nformat = \"combined\"\nstart_at = \"beginning\"\npoll_interval_ms = 50\n",
        dir.display()
    )
}

fn detector(plugin: &str, threshold: f64, config: &str) -> String {
    format!("[[detectors]]\nplugin = {plugin:?}\nthreshold = {threshold}\n[detectors.config]\n{config}\n")
}

fn line(file: &str, n: usize) -> String {
    static TODAY: std::sync::LazyLock<String> = std::sync::LazyLock::new(crate::agent::clf_today);
    format!(
        "10.2.{}.{} - - [{}:00:00:{:02} +0000] \"GET /{file}/{n} HTTP/1.1\" 200 {} \"-\" \"reload-test\"\n",
        n / 250 % 250,
        n % 250,
        *TODAY,
        n % 60,
        100 + n % 900
    )
}

fn health(agent: &Agent) -> Value {
    let (status, body) = request(agent.addr, "GET", "/health", None);
    assert_eq!(status, 200, "{body}");
    body
}

fn attempts(agent: &Agent) -> u64 {
    health(agent)["config"]["attempts"].as_u64().unwrap()
}

/// Wait until a reload attempt after the `before`th has `outcome` and the generation is
/// `generation`.
fn wait_for_reload(agent: &Agent, before: u64, generation: u64, outcome: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = health(agent);
        let config = &body["config"];
        let newer = config["attempts"].as_u64().unwrap() > before;
        if newer && config["generation"] == generation && config["last_reload"]["outcome"] == outcome {
            return body;
        }
        assert!(Instant::now() < deadline, "no {outcome} reload #{generation} within 20 s: {body:#}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every stored URL with how often it is stored.
fn stored_urls(agent: &Agent) -> BTreeMap<String, usize> {
    let mut urls = BTreeMap::new();
    let mut before = String::new();
    loop {
        let (status, body) = request(agent.addr, "GET", &format!("/api/v1/logs?limit=10000{before}"), None);
        assert_eq!(status, 200, "{body}");
        let page = body["logs"].as_array().unwrap();
        if page.is_empty() {
            return urls;
        }
        for log in page {
            *urls.entry(log["url"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        before = format!("&before_id={}", body["next_before_id"]);
    }
}

#[test]
fn config_changes_apply_while_tailing_and_no_line_is_lost_or_repeated() {
    const LINES: usize = 12_000;
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("second.log"), (0..500).map(|n| line("second", n)).collect::<String>()).unwrap();
    let constant = plugin_path("vigil-fixture-constant-score").display().to_string();
    let web = source(dir.path(), "web", "main.log");
    let agent = Agent::start(dir.path(), &format!("{web}{}", detector("builtin:isolation-forest", 0.6, "")));
    let pid = agent.pid();

    // A /ws monitor, to see the refusal announced.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (mut monitor, _) =
        runtime.block_on(tokio_tungstenite::connect_async(format!("ws://{}/ws", agent.addr))).expect("/ws connects");

    let writer_path = logs.join("main.log");
    let writer = std::thread::spawn(move || {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(writer_path).unwrap();
        for chunk in (0..LINES).collect::<Vec<_>>().chunks(100) {
            let text: String = chunk.iter().map(|&n| line("main", n)).collect();
            file.write_all(text.as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(25));
        }
    });

    // 1. A new threshold: applied, the forest keeps its learned state.
    let before = attempts(&agent);
    write_config(dir.path(), &format!("{web}{}", detector("builtin:isolation-forest", 0.7, "")));
    let body = wait_for_reload(&agent, before, 1, "applied");
    assert_eq!(body["detectors"][0]["threshold"], 0.7);
    let changes = body["config"]["last_reload"]["changes"].to_string();
    assert!(changes.contains("restarted with its learned state"), "{changes}");

    // 2. A second source: it starts; the first keeps running.
    let second = source(dir.path(), "second", "second.log");
    let before = attempts(&agent);
    write_config(dir.path(), &format!("{web}{second}{}", detector("builtin:isolation-forest", 0.7, "")));
    let body = wait_for_reload(&agent, before, 2, "applied");
    assert_eq!(body["config"]["last_reload"]["changes"], json!(["source second started"]));

    // 3. Another plugin: the constant-score fixture replaces the forest.
    let swapped = format!("{web}{second}{}", detector(&constant, 0.5, "score = 0.75"));
    let before = attempts(&agent);
    write_config(dir.path(), &swapped);
    wait_for_reload(&agent, before, 3, "applied");
    let (_, plugins) = request(agent.addr, "GET", "/api/v1/plugins", None);
    assert_eq!(plugins["detectors"][0]["plugin"], "constant-score", "{plugins:#}");

    // 4. An invalid file: refused with its line and field, reported in /health and on /ws;
    //    the running config stays.
    let before = attempts(&agent);
    write_config(dir.path(), &format!("treshold = 3\n{swapped}"));
    let body = wait_for_reload(&agent, before, 3, "refused");
    assert_eq!(body["status"], "degraded");
    let error = &body["config"]["last_reload"]["errors"][0];
    assert_eq!(error["line"], 4, "{error:#}");
    assert!(error["message"].as_str().unwrap().contains("unknown field `treshold`"), "{error:#}");
    assert_eq!(error["field"], "api.treshold", "{error:#}");
    let announced = runtime.block_on(async {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), monitor.next())
                .await
                .expect("a config_error on /ws within 10 s")
                .unwrap()
                .unwrap();
            let message: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
            if message["type"] == "config_error" {
                return message;
            }
        }
    });
    assert!(announced["message"].as_str().unwrap().contains("treshold"), "{announced:#}");
    assert_eq!(announced["errors"][0]["line"], 4);
    // A plugin file that does not exist is refused too.
    let before = attempts(&agent);
    write_config(dir.path(), &format!("{web}{second}{}", detector("missing.wasm", 0.5, "")));
    let body = wait_for_reload(&agent, before, 3, "refused");
    assert!(body["config"]["last_reload"]["errors"][0]["message"].as_str().unwrap().contains("no such plugin file"));
    let (_, plugins) = request(agent.addr, "GET", "/api/v1/plugins", None);
    assert_eq!(plugins["detectors"][0]["plugin"], "constant-score", "the running detector stays");

    // 5. SIGHUP reloads the (fixed) file.
    let before = attempts(&agent);
    std::fs::write(
        dir.path().join("vigil.toml"),
        format!(
            "data_dir = {:?}\n[api]\naddress = \"127.0.0.1:0\"\n{swapped}",
            dir.path().join("data").display().to_string()
        ),
    )
    .unwrap();
    let body = wait_for_reload(&agent, before, 3, "unchanged");
    assert_eq!(body["status"], "healthy", "{body:#}");
    std::process::Command::new("kill").args(["-HUP", &pid.to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while health(&agent)["config"]["last_reload"]["trigger"] != "signal" {
        assert!(Instant::now() < deadline, "SIGHUP did not reload within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }

    // 6. A source removed: stopped, and gone from the stats (its last report once put it
    //    back, for good).
    let (_, stats) = request(agent.addr, "GET", "/api/v1/stats", None);
    assert!(stats["sources"].get("second").is_some(), "{stats:#}");
    let before = attempts(&agent);
    write_config(dir.path(), &format!("{web}{}", detector(&constant, 0.5, "score = 0.75")));
    let body = wait_for_reload(&agent, before, 4, "applied");
    assert_eq!(body["config"]["last_reload"]["changes"], json!(["source second stopped"]));
    std::thread::sleep(Duration::from_millis(500));
    let (_, stats) = request(agent.addr, "GET", "/api/v1/stats", None);
    assert!(stats["sources"].get("second").is_none(), "{stats:#}");

    writer.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let urls = loop {
        let urls = stored_urls(&agent);
        if urls.len() >= LINES + 500 || Instant::now() > deadline {
            break urls;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let expected: Vec<String> =
        (0..LINES).map(|n| format!("/main/{n}")).chain((0..500).map(|n| format!("/second/{n}"))).collect();
    let missing: Vec<&String> = expected.iter().filter(|u| !urls.contains_key(*u)).take(5).collect();
    let repeated: Vec<(&String, &usize)> = urls.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(missing.is_empty() && repeated.is_empty(), "missing {missing:?}, repeated {repeated:?}");
    assert_eq!(urls.len(), expected.len());
    assert!(agent.terminate().success(), "the agent stops cleanly after all that");
}

/// Wait until `count` distinct URLs are stored; returns every stored URL with its count.
fn wait_for_urls(agent: &Agent, count: usize) -> BTreeMap<String, usize> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let urls = stored_urls(agent);
        if urls.len() >= count || Instant::now() > deadline {
            return urls;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn append(path: &Path, file: &str, lines: std::ops::Range<usize>) {
    let mut out = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    out.write_all(lines.map(|n| line(file, n)).collect::<String>().as_bytes()).unwrap();
}

/// Every URL `/app/0` .. `/app/{count - 1}` is stored exactly once.
fn assert_each_once(urls: &BTreeMap<String, usize>, count: usize) {
    let missing: Vec<String> = (0..count).map(|n| format!("/app/{n}")).filter(|u| !urls.contains_key(u)).collect();
    let repeated: Vec<(&String, &usize)> = urls.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(missing.is_empty() && repeated.is_empty(), "missing {missing:?}, repeated {repeated:?}");
    assert_eq!(urls.len(), count);
}

#[test]
fn a_renamed_source_resumes_its_files_instead_of_reading_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let app_log = logs.join("app.log");
    append(&app_log, "app", 0..300);
    let detector = detector("builtin:isolation-forest", 0.6, "");
    let agent = Agent::start(dir.path(), &format!("{}{detector}", source(dir.path(), "web", "app.log")));
    assert_each_once(&wait_for_urls(&agent, 300), 300);

    // Renamed under the running agent (start_at = "beginning"): the file is resumed where
    // "web" left it, not read again from its start.
    let before = attempts(&agent);
    write_config(dir.path(), &format!("{}{detector}", source(dir.path(), "site", "app.log")));
    let body = wait_for_reload(&agent, before, 1, "applied");
    assert_eq!(
        body["config"]["last_reload"]["changes"],
        json!(["source web stopped", "source site started, resuming the files of source web"])
    );
    append(&app_log, "app", 300..400);
    assert_each_once(&wait_for_urls(&agent, 400), 400);
    assert!(agent.terminate().success());

    // Renamed while the agent is stopped, with lines written meanwhile: read once.
    append(&app_log, "app", 400..500);
    write_config(dir.path(), &format!("{}{detector}", source(dir.path(), "www", "app.log")));
    let agent = Agent::start_on_file(&dir.path().join("vigil.toml"));
    append(&app_log, "app", 500..550);
    assert_each_once(&wait_for_urls(&agent, 550), 550);
    let (_, stats) = request(agent.addr, "GET", "/api/v1/stats", None);
    assert!(stats["sources"].get("www").is_some(), "{stats:#}");
    assert!(agent.terminate().success());
}

#[test]
fn a_config_reached_through_symlinks_is_reloaded_when_they_change() {
    // Kubernetes mounts a ConfigMap so: vigil.toml -> ..data/vigil.toml, ..data -> a version
    // directory, and updates it by pointing ..data at a new one.
    let dir = tempfile::tempdir().unwrap();
    let cm = dir.path().join("cm");
    let version = |name: &str, threshold: f64| {
        std::fs::create_dir_all(cm.join(name)).unwrap();
        let text = format!(
            "data_dir = {:?}\n[api]\naddress = \"127.0.0.1:0\"\n{}",
            dir.path().join("data").display().to_string(),
            detector("builtin:isolation-forest", threshold, "")
        );
        std::fs::write(cm.join(name).join("vigil.toml"), text).unwrap();
    };
    version("..v1", 0.6);
    std::os::unix::fs::symlink("..v1", cm.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/vigil.toml", cm.join("vigil.toml")).unwrap();
    let agent = Agent::start_on_file(&cm.join("vigil.toml"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while health(&agent)["config"]["watching"] != true {
        assert!(Instant::now() < deadline, "the config is not watched within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The update: a new version, and ..data swapped to it at once.
    let before = attempts(&agent);
    version("..v2", 0.66);
    std::os::unix::fs::symlink("..v2", cm.join("..data_tmp")).unwrap();
    std::fs::rename(cm.join("..data_tmp"), cm.join("..data")).unwrap();
    let body = wait_for_reload(&agent, before, 1, "applied");
    assert_eq!(body["detectors"][0]["threshold"], 0.66);

    // An edit of the file the links lead to, where it is.
    let before = attempts(&agent);
    let target = cm.join("..v2").join("vigil.toml");
    let text = std::fs::read_to_string(&target).unwrap().replace("0.66", "0.67");
    std::fs::write(&target, text).unwrap();
    let body = wait_for_reload(&agent, before, 2, "applied");
    assert_eq!(body["detectors"][0]["threshold"], 0.67);
}

/// Scores of a fixed probe batch.
fn probe_scores(agent: &Agent) -> Vec<f64> {
    let logs: Vec<Value> = (0..20)
        .map(|i| {
            json!({"ip": format!("203.0.113.{i}"), "timestamp": format!("{}T12:00:00Z", crate::agent::iso_today()), "method": "GET",
                   "url": format!("/shop/item/{}", i * 7), "status_code": if i == 3 { 500 } else { 200 },
                   "bytes_sent": 900 + i * 13, "user_agent": "Mozilla/5.0"})
        })
        .collect();
    let (status, body) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": logs })));
    assert_eq!(status, 200, "{body}");
    // Every detail is an anomaly at threshold 0: one score per log, in order.
    body["anomaly_details"].as_array().unwrap().iter().map(|d| d["anomaly_score"].as_f64().unwrap()).collect()
}

#[test]
fn a_plugins_learned_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = detector("builtin:isolation-forest", 0.0, "warmup = 2000");
    let agent = Agent::start(dir.path(), &config);
    for batch in 0..4 {
        let logs: Vec<Value> = (0..1000)
            .map(|i| {
                json!({"ip": format!("10.9.{}.{}", batch, i % 200), "timestamp": format!("{}T09:00:00Z", crate::agent::iso_today()),
                       "method": if i % 10 == 0 { "POST" } else { "GET" }, "url": format!("/api/v1/items/{}", i % 50),
                       "status_code": 200, "bytes_sent": 400 + i % 300, "user_agent": "curl/8.0"})
            })
            .collect();
        let (status, body) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": logs })));
        assert_eq!(status, 200, "{body}");
    }
    assert!(agent.terminate().success());
    // Two restarts from the same saved state score the probe identically...
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&dir.path().join("data"), &copy.path().join("data"));
    let restarted = Agent::start(dir.path(), &config);
    let (_, plugins) = request(restarted.addr, "GET", "/api/v1/plugins", None);
    assert_eq!(plugins["detectors"][0]["plugin"], "isolation-forest");
    let after_restart = probe_scores(&restarted);
    let again = Agent::start(copy.path(), &config);
    assert_eq!(probe_scores(&again), after_restart);
    // ...and unlike a detector that learned nothing (it trains on the probe itself).
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Agent::start(fresh_dir.path(), &config);
    assert_ne!(probe_scores(&fresh), after_restart, "the restored state decides the scores");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn summarizer(window: &str) -> String {
    format!("[[summarizers]]\nplugin = \"builtin:window-summary\"\nwindow = {window:?}\n")
}

/// Post `n` requests for `url` through `/anomaly_detection` (one commit).
fn post_logs(agent: &Agent, url: &str, n: usize) {
    let logs: Vec<Value> = (0..n)
        .map(|i| {
            json!({"ip": format!("10.7.0.{i}"), "timestamp": format!("{}T12:00:00Z", crate::agent::iso_today()), "method": "GET", "url": url,
                   "status_code": 200, "bytes_sent": 100, "user_agent": "reload-test"})
        })
        .collect();
    let (status, body) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": logs })));
    assert_eq!(status, 200, "{body}");
}

/// Wait until `/api/v1/summaries` has a summary that `wanted` accepts.
fn wait_for_summary(agent: &Agent, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = request(agent.addr, "GET", "/api/v1/summaries", None);
        assert_eq!(status, 200, "{body}");
        if let Some(found) = body["summaries"].as_array().unwrap().iter().find(|s| wanted(s)) {
            return found.clone();
        }
        assert!(Instant::now() < deadline, "no such summary within 20 s: {body:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn window_secs(summary: &Value) -> i64 {
    let time = |field: &str| summary[field].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    (time("window_end") - time("window_start")).get_seconds()
}

#[test]
fn a_summarizer_change_is_applied_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), &summarizer("1h"));
    post_logs(&agent, "/before", 5);

    let before = attempts(&agent);
    write_config(dir.path(), &summarizer("1s"));
    let body = wait_for_reload(&agent, before, 1, "applied");
    assert_eq!(
        body["config"]["last_reload"]["changes"],
        json!(["summarizer window-summary restarted with its state, window 1s"]),
        "{body:#}"
    );
    assert_eq!(body["config"]["needs_restart"], json!([]), "a summarizer change needs no restart");
    assert_eq!((body["summarizers"][0]["window_ms"].as_i64(), body["status"].as_str()), (Some(1000), Some("healthy")));
    // The hour window that was open is stored as it stood, with the events folded into it.
    let partial = wait_for_summary(&agent, |s| s["partial"] == true);
    assert_eq!(partial["events"], 5, "{partial:#}");

    // Later events are summarized per second by the restarted summarizer.
    post_logs(&agent, "/after", 3);
    let next = wait_for_summary(&agent, |s| s["partial"] == false);
    assert_eq!((window_secs(&next), next["events"].as_u64()), (1, Some(3)), "{next:#}");
    let (_, plugins) = request(agent.addr, "GET", "/api/v1/plugins", None);
    assert_eq!(plugins["summarizers"][0]["window_ms"], 1000, "{plugins:#}");
    assert_eq!(plugins["summarizers"][0]["world"], "summarizer");
    assert!(agent.terminate().success());
}

#[test]
fn a_config_written_right_after_start_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), &detector("builtin:isolation-forest", 0.6, ""));
    // No pause: the write may land before the agent's file watch exists.
    write_config(dir.path(), &detector("builtin:isolation-forest", 0.8, ""));
    let body = wait_for_reload(&agent, 0, 1, "applied");
    assert_eq!(body["detectors"][0]["threshold"], 0.8);
    assert!(agent.terminate().success());
}

#[test]
fn a_fuel_budget_added_while_running_waits_for_a_restart_and_the_rest_applies() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), &detector("builtin:isolation-forest", 0.6, ""));
    let with_fuel = "[detectors.limits]\nfuel = 10000000000\n";
    write_config(dir.path(), &format!("{}{with_fuel}", detector("builtin:isolation-forest", 0.8, "")));
    let body = wait_for_reload(&agent, 0, 1, "applied");
    assert_eq!(body["detectors"][0]["threshold"], 0.8, "{body:#}");
    assert_eq!(body["config"]["needs_restart"], json!(["limits.fuel"]), "{body:#}");
    let log = json!({
        "timestamp": "2026-01-01T00:00:00Z", "ip": "10.0.0.1", "method": "GET", "url": "/",
        "status_code": 200, "bytes_sent": 10, "user_agent": "fuel-test"
    });
    let (status, answer) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": [log] })));
    assert_eq!((status, &answer["total_logs"]), (200, &json!(1)), "{answer}");
    assert!(agent.terminate().success());
}

#[test]
fn a_cors_origins_change_is_applied_and_reported() {
    // The new origins were served at once, but /health said "unchanged" and /ws heard nothing.
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), &detector("builtin:isolation-forest", 0.6, ""));
    write_config(
        dir.path(),
        &format!("cors_origins = [\"https://dash.example.com\"]\n{}", detector("builtin:isolation-forest", 0.6, "")),
    );
    let body = wait_for_reload(&agent, 0, 1, "applied");
    assert_eq!(
        body["config"]["last_reload"]["changes"],
        json!(["api.cors_origins is now [\"https://dash.example.com\"]"]),
        "{body:#}"
    );
    assert!(agent.terminate().success());
}
