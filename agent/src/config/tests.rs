use super::*;
use std::path::Path;

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(text, "test.toml", Path::new("."))
}

#[test]
fn every_shipped_config_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 1, "no configs found in {}", dir.display());
}

#[test]
fn empty_file_gives_the_documented_defaults() {
    let config = parse("").unwrap();
    assert_eq!(config.api.address.to_string(), "127.0.0.1:8420");
    assert_eq!(config.data_dir, Path::new("./vigil-data"));
    assert_eq!(config.detectors.len(), 1);
    assert_eq!(config.detectors[0].source, PluginSource::Builtin("isolation-forest"));
    assert_eq!(config.detectors[0].threshold, 0.6);
}

#[test]
fn embedded_default_matches_empty_file_defaults() {
    let embedded = Config::embedded_default();
    let empty = parse("").unwrap();
    assert_eq!(embedded.api, empty.api);
    assert_eq!(embedded.detectors[0].source, empty.detectors[0].source);
}

#[test]
fn unknown_field_is_rejected_with_line_and_column() {
    let err = parse("data_dir = \"x\"\n[api]\nadress = \"127.0.0.1:1\"\n").unwrap_err();
    let e = &err.0[0];
    assert_eq!((e.line, e.column), (Some(3), Some(1)));
    assert!(e.message.contains("unknown field `adress`"), "{}", e.message);
    assert!(e.message.contains("address"), "lists the accepted fields: {}", e.message);
}

#[test]
fn toml_syntax_error_points_at_the_line() {
    let err = parse("[api\naddress = 1\n").unwrap_err();
    assert_eq!(err.0[0].line, Some(1));
    assert!(err.to_string().starts_with("test.toml:1:"), "{err}");
}

#[test]
fn threshold_out_of_range_names_field_and_value() {
    let err = parse("[[detectors]]\nplugin = \"builtin:isolation-forest\"\nthreshold = 1.5\n").unwrap_err();
    let e = &err.0[0];
    assert_eq!(e.field, "detectors[0].threshold");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("1.5"), "{}", e.message);
}

#[test]
fn missing_plugin_file_is_reported_with_a_hint() {
    let err = parse("[[detectors]]\nplugin = \"nope/missing.wasm\"\n").unwrap_err();
    let e = &err.0[0];
    assert_eq!(e.field, "detectors[0].plugin");
    assert!(e.message.contains("missing.wasm"));
    assert!(e.hint.as_deref().unwrap().contains(".wasm"));
}

#[test]
fn unknown_builtin_lists_the_known_ones() {
    let err = parse("[[detectors]]\nplugin = \"builtin:isolation-frost\"\n").unwrap_err();
    assert!(err.0[0].hint.as_deref().unwrap().contains("isolation-forest"));
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let err = parse("[api]\naddress = \"nowhere\"\nmax_batch_logs = 0\n").unwrap_err();
    let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["api.address", "api.max_batch_logs"]);
}

#[test]
fn plugin_config_table_is_passed_as_json() {
    let config =
        parse("[[detectors]]\nplugin = \"builtin:isolation-forest\"\n[detectors.config]\ntrees = 50\n").unwrap();
    assert_eq!(config.detectors[0].config_json, r#"{"trees":50}"#);
}

#[test]
fn pipeline_queue_events_out_of_range_is_refused_with_the_default() {
    let err = parse("[pipeline]\nqueue_events = 0\n").unwrap_err().to_string();
    assert!(err.contains("pipeline.queue_events: must be between 1 and 268435456, got 0"), "{err}");
    assert!(err.contains("the default is 32768"), "{err}");
    assert_eq!(parse("[pipeline]\nqueue_events = 100\n").unwrap().pipeline.queue_events, 100);
}

#[test]
fn a_source_setting_out_of_range_is_named_itself() {
    let source = |extra: &str| format!("[[sources]]\ntype = \"file\"\ninclude = [\"/tmp/x.log\"]\n{extra}\n");
    for (extra, field) in
        [("poll_interval_ms = 0", "sources[0].poll_interval_ms"), ("max_line_bytes = 10", "sources[0].max_line_bytes")]
    {
        let errors = parse(&source(extra)).unwrap_err().0;
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), [field], "{errors:?}");
    }
}

#[test]
fn a_websocket_source_as_design_md_writes_it_is_accepted_and_takes_no_file_settings() {
    // DESIGN.md's config: `type = "file"  # file | websocket`; it was refused as an unknown
    // variant, so a config written from the design did not start.
    let text = "[[sources]]\ntype = \"websocket\"\n\n[[sources]]\ntype = \"file\"\ninclude = [\"/var/log/a.log\"]\n";
    let config = parse(text).unwrap();
    assert_eq!(config.sources.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["file1"]);

    let err = parse("[[sources]]\ntype = \"websocket\"\ninclude = [\"/var/log/a.log\"]\n").unwrap_err();
    let e = &err.0[0];
    assert_eq!(e.field, "sources[0].include");
    assert!(e.message.contains("always on at /ws/application"), "{}", e.message);
    // A file source still needs its files.
    let err = parse("[[sources]]\ntype = \"file\"\n").unwrap_err();
    assert!(err.0[0].message.contains("no files to follow"), "{}", err.0[0].message);
}

#[test]
fn a_config_file_that_is_not_utf8_is_told_so_not_sent_to_check_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigil.toml");
    std::fs::write(&path, b"data_dir = \"caf\xe9\"\n").unwrap();
    let message = Config::load(&path).unwrap_err().to_string();
    assert!(message.contains("not UTF-8") && message.contains("save it as UTF-8"), "{message}");
    let message = Config::load(&dir.path().join("absent.toml")).unwrap_err().to_string();
    assert!(message.contains("cannot read the config file") && message.contains("check the path"), "{message}");
}

#[test]
fn a_config_file_with_no_settings_is_refused() {
    // What a reload sees when an editor or a config map has truncated the file and not yet
    // written it: applied, it stopped every source and detector.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigil.toml");
    for text in ["", "\n  \n", "# only a comment\n\n# and another\n"] {
        std::fs::write(&path, text).unwrap();
        let message = Config::load(&path).unwrap_err().to_string();
        assert!(message.contains("holds no settings") && message.contains("without --config"), "{text:?}: {message}");
    }
    std::fs::write(&path, "[api]\n").unwrap();
    assert!(Config::load(&path).is_ok(), "an empty table is a setting: the defaults, on purpose");
}

#[test]
fn cors_origins_must_be_origins_as_browsers_send_them() {
    let config =
        parse("[api]\ncors_origins = [\"https://dash.example.com\", \"http://localhost:3000\", \"*\"]\n").unwrap();
    assert_eq!(config.api.cors_origins, ["https://dash.example.com", "http://localhost:3000", "*"]);
    for bad in ["https://dash.example.com/", "dash.example.com", "https://x.example/app", "ftp://x.example", "https://"]
    {
        let err = parse(&format!("[api]\ncors_origins = [{bad:?}]\n")).unwrap_err();
        let e = &err.0[0];
        assert_eq!((e.field.as_str(), e.line), ("api.cors_origins", Some(2)), "{bad}: {e}");
        assert!(e.message.contains("is not a web origin"), "{bad}: {e}");
    }
}

#[test]
fn every_toml_syntax_error_is_reported_not_just_the_first() {
    let text = "[api\naddress = \"127.0.0.1:1\"\n\n[store]\nbackend = embedded\n\n[pipeline\n";
    let err = parse(text).unwrap_err();
    let lines: Vec<_> = err.0.iter().map(|e| e.line).collect();
    assert_eq!(lines, [Some(1), Some(5), Some(7)], "{err}");
    assert!(err.0.iter().all(|e| e.column.is_some() && !e.message.is_empty()), "{err}");
}

#[test]
fn problems_found_after_parsing_point_at_their_field_or_its_table() {
    let text = "[[sources]]\ntype = \"file\"\ninclude = [\"/tmp/a.log\"]\n\n[[sources]]\ntype = \"file\"\n\
                poll_interval_ms = 0\n\n[pipeline]\nqueue_events = 0\n";
    let errors = parse(text).unwrap_err().0;
    let place = |field: &str| {
        let e = errors.iter().find(|e| e.field == field).unwrap_or_else(|| panic!("{field} in {errors:?}"));
        (e.line, e.column)
    };
    assert_eq!(place("sources[1].poll_interval_ms"), (Some(7), Some(20)));
    // `include` is not written at all: the error points at the source it belongs to.
    assert_eq!(place("sources[1].include").0, Some(5));
    assert_eq!(place("pipeline.queue_events"), (Some(10), Some(16)));
}

#[test]
fn a_plugin_setting_json_cannot_hold_is_refused_by_its_key_and_line() {
    let err =
        parse("[[detectors]]\nplugin = \"builtin:isolation-forest\"\n[detectors.config]\nwarmup = 10\nrare = nan\n")
            .unwrap_err();
    let e = &err.0[0];
    assert_eq!((e.field.as_str(), e.line), ("detectors[0].config.rare", Some(5)), "{err}");
    assert!(e.message.starts_with("NaN has no JSON form"), "{err}");
}

#[test]
fn pipeline_batch_wait_ms_over_a_second_is_refused_with_its_range() {
    // 999999999 was accepted, and a lone POST /anomaly_detection then waited for it (11 days).
    let err = parse("[pipeline]\nbatch_wait_ms = 999999999\n").unwrap_err();
    let e = &err.0[0];
    assert_eq!((e.field.as_str(), e.line, e.column), ("pipeline.batch_wait_ms", Some(2), Some(17)), "{err}");
    assert_eq!(e.message, "must be between 0 and 1000 ms, got 999999999");
    assert!(e.hint.as_deref().unwrap().contains("POST /anomaly_detection"), "{err}");
    assert_eq!(parse("[pipeline]\nbatch_wait_ms = 1000\n").unwrap().pipeline.batch_wait_ms, 1000);
}

#[test]
fn an_absurdly_large_whole_number_is_refused_in_every_section_by_its_field() {
    let source = "[[sources]]\ntype = \"file\"\ninclude = [\"/tmp/x.log\"]\n";
    let detector = "[[detectors]]\nplugin = \"builtin:isolation-forest\"\n";
    let huge = i64::MAX;
    for (text, field) in [
        (format!("[pipeline]\nbatch_events = {huge}\n"), "pipeline.batch_events"),
        (format!("[pipeline]\nqueue = {huge}\n"), "pipeline.queue"),
        (format!("{detector}snapshot_interval_secs = {huge}\n"), "detectors[0].snapshot_interval_secs"),
        (format!("{source}max_line_bytes = {huge}\n"), "sources[0].max_line_bytes"),
        (format!("{source}partial_line_timeout_ms = {huge}\n"), "sources[0].partial_line_timeout_ms"),
        (format!("{source}poll_interval_ms = {huge}\n"), "sources[0].poll_interval_ms"),
        ("[chroma]\nretention_days = 4000000000\n".to_owned(), "chroma.retention_days"),
    ] {
        let errors = parse(&text).unwrap_err().0;
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), [field], "{errors:?}");
        let e = &errors[0];
        assert!(e.message.starts_with("must be between ") && e.hint.is_some(), "{e}");
        assert_eq!(e.line, Some(text.lines().count()), "points at the value: {e}");
    }
}

#[test]
fn a_blank_source_name_is_refused_at_its_line_saying_what_to_do() {
    // It was accepted, and the events were stored as source "file:".
    for name in ["", "  "] {
        let text = format!("[[sources]]\ntype = \"file\"\ninclude = [\"/tmp/x.log\"]\nname = {name:?}\n");
        let err = parse(&text).unwrap_err();
        let e = &err.0[0];
        assert_eq!((e.field.as_str(), e.line, e.column), ("sources[0].name", Some(4), Some(8)), "{err}");
        assert!(e.message.starts_with(&format!("source name = {name:?} is blank")), "{err}");
        assert!(e.hint.as_deref().unwrap().contains("leave name out to use the default (\"file0\")"), "{err}");
    }
    assert_eq!(parse("[[sources]]\ntype = \"file\"\ninclude = [\"/tmp/x.log\"]\n").unwrap().sources[0].name, "file0");
}

#[test]
fn an_unknown_field_is_named_by_its_path() {
    // The field was "" (in /health's config.last_reload.errors too): only the message named it.
    let detector = "[[detectors]]\nplugin = \"builtin:isolation-forest\"\n";
    for (text, field, line) in [
        ("[api]\nmax_batch_logz = 5\n".to_owned(), "api.max_batch_logz", 2),
        ("data_dir = \"x\"\n[store]\nbogus = 1\n".to_owned(), "store.bogus", 3),
        (format!("{detector}{detector}[detectors.limits]\nfule = 5\n"), "detectors[1].limits.fule", 6),
        ("[[sources]]\ntype = \"file\"\ninclude = [\"/tmp/x.log\"]\nnam = \"web\"\n".to_owned(), "sources[0].nam", 4),
    ] {
        let err = parse(&text).unwrap_err();
        let e = &err.0[0];
        assert_eq!((e.field.as_str(), e.line, e.column), (field, Some(line), Some(1)), "{err}");
        assert!(e.message.starts_with("unknown field"), "{err}");
    }
}

#[test]
fn a_negative_or_too_large_whole_number_names_its_field_and_range() {
    // "invalid value: integer `-1`, expected u64", with no field and no range.
    let err = parse("[api]\naddress = \"127.0.0.1:1\"\nmax_body_bytes = -1\n").unwrap_err();
    let e = &err.0[0];
    assert_eq!((e.field.as_str(), e.line, e.column), ("api.max_body_bytes", Some(3), Some(18)), "{err}");
    assert_eq!(e.message, "must be between 1024 and 1073741824 bytes, got -1");
    assert!(e.hint.as_deref().unwrap().contains("the default is 16777216"), "{err}");
    for (value, got) in [("-1", "-1"), ("99999999999", "99999999999")] {
        let err = parse(&format!("[store]\nretention_days = {value}\n")).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "test.toml:2:18: store.retention_days: must be between 0 and 36500 days, got {got} \
                 (hint: 0 keeps events until max_size_mib; 36500 is 100 years)"
            )
        );
    }
    // A setting without a listed range still says what it takes.
    let err = parse("[chroma]\nbatch_size = -5\n").unwrap_err();
    let e = &err.0[0];
    assert_eq!(
        (e.field.as_str(), e.message.as_str()),
        ("chroma.batch_size", "must be a whole number of 0 or more, got -5")
    );
}

#[test]
fn a_store_value_out_of_range_points_at_its_line_with_the_range_and_a_hint() {
    // It pointed at the [store] header, as field "store", without a hint.
    for (setting, field, message) in [
        ("retention_chunk = 50", "store.retention_chunk", "must be between 100 and 1000000 events, got 50"),
        ("read_connections = 0", "store.read_connections", "must be between 1 and 64, got 0"),
        ("cache_mib = 0", "store.cache_mib", "must be between 1 and 65536 MiB, got 0"),
        ("retention_interval_secs = 0", "store.retention_interval_secs", "must be between 1 and 86400 s, got 0"),
    ] {
        let err = parse(&format!("data_dir = \"x\"\n[store]\n{setting}\n")).unwrap_err();
        let e = &err.0[0];
        assert_eq!((e.field.as_str(), e.line, e.message.as_str()), (field, Some(3), message), "{err}");
        assert_eq!(e.column, Some(setting.find('=').unwrap() + 3), "{err}");
        assert!(e.hint.as_deref().is_some_and(|h| h.contains("the default is")), "{err}");
    }
}

#[test]
fn a_parser_option_the_format_does_not_use_points_at_that_option() {
    // It pointed at the [[sources]] header, as sources[0].format.
    let text =
        "data_dir = \"x\"\n[[sources]]\ntype = \"file\"\ninclude = [\"/tmp/x.log\"]\ntimestamp_format = \"%Q\"\n";
    let err = parse(text).unwrap_err();
    let e = &err.0[0];
    assert_eq!((e.field.as_str(), e.line, e.column), ("sources[0].timestamp_format", Some(5), Some(20)), "{err}");
    assert!(e.message.starts_with("only used with format = "), "{err}");
}

/// What `vigil validate` reports of the detectors of `text` that do not start.
fn detector_refusals(text: &str) -> Vec<ConfigError> {
    let config = parse(text).unwrap();
    let (_, refused) = crate::detect::refusals(crate::testing::engine(), &config.detectors);
    refused
        .into_iter()
        .map(|(at, error)| plugin_refusal("test.toml", text, &config, "detectors", Some(at), &error, false))
        .collect()
}

#[test]
fn a_config_value_a_plugin_refuses_is_placed_at_its_entrys_config_table_with_a_hint_to_fix_the_value() {
    // It had no line:column, and on reload the field "detectors" (no index) and the hint
    // "fix or rebuild the plugin" although the fix is a value.
    let forest = "[[detectors]]\nplugin = \"builtin:isolation-forest\"\n";
    let text = format!("data_dir = \"x\"\n{forest}{forest}[detectors.config]\nwarmup = \"x\"\n");
    let errors = detector_refusals(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!((e.field.as_str(), e.line), ("detectors[1] (builtin:isolation-forest)", Some(6)), "{e}");
    assert!(e.message.contains("config refused") && e.message.contains("warmup"), "{e}");
    let hint = e.hint.as_deref().unwrap();
    assert!(hint.starts_with("fix the value in [detectors.config]") && !hint.contains("rebuild"), "{e}");
}

#[test]
fn a_blank_or_taken_detector_name_is_placed_at_its_name() {
    let entry = |name: &str| format!("[[detectors]]\nplugin = \"builtin:isolation-forest\"\nname = {name:?}\n");
    let errors = detector_refusals(&format!("{}{}", entry(" "), entry("web")));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].field.as_str(), errors[0].line, errors[0].column), ("detectors[0] ( )", Some(3), Some(8)));
    assert!(errors[0].message.contains("is blank") && errors[0].hint.as_deref().unwrap().contains("its own name"));
    let errors = detector_refusals(&format!("{}{}", entry("web"), entry("web")));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].field.as_str(), errors[0].line), ("detectors[1] (web)", Some(6)), "{}", errors[0]);
    assert!(errors[0].message.contains("also another detector's"), "{}", errors[0]);
}
