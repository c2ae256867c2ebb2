use super::*;
use crate::parse::{BuildError, Format, ParseConfig};
use crate::templates::loghub;

fn at(text: &str) -> Timestamp {
    text.parse().expect("a test instant")
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).expect("a zone in the test's database")
}

fn millis(text: &str) -> i64 {
    at(text).as_millisecond()
}

#[test]
fn a_bsd_line_gets_its_host_app_pid_message_and_its_time_in_the_sources_zone() {
    let parser = SyslogParser::new(zone("Europe/Berlin"));
    let line = "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186\n";
    let parsed = parser.parse_at(line, "file:auth", at("2026-12-20T12:00:00Z"));
    assert!(parsed.is_ok(), "{:?}", parsed.error);
    let event = &parsed.event;
    assert_eq!(event.timestamp_ms, millis("2026-12-10T05:55:46Z"), "06:55:46 in Berlin (UTC+1) that December");
    assert_eq!(event.raw, line);
    assert_eq!(event.source, "file:auth");
    assert_eq!(event.fields["host"], "LabSZ");
    assert_eq!(event.fields["app"], "sshd");
    assert_eq!(event.fields["pid"], 24200);
    assert_eq!(event.fields["message"], "Invalid user webmaster from 173.234.31.186");
    assert!(!event.fields.contains_key("severity"), "no <PRI>, no severity");

    let summer = parser.parse_at("Jul  1 09:00:55 mac kernel[0]: wake", "s", at("2026-12-20T12:00:00Z"));
    assert_eq!(summer.event.timestamp_ms, millis("2026-07-01T07:00:55Z"), "Berlin is UTC+2 in July");
    let utc = SyslogParser::new(TimeZone::UTC).parse_at(line, "s", at("2026-12-20T12:00:00Z"));
    assert_eq!(utc.event.timestamp_ms, millis("2026-12-10T06:55:46Z"));
}

#[test]
fn a_bsd_time_more_than_a_day_ahead_is_last_years() {
    let parser = SyslogParser::new(TimeZone::UTC);
    let year_of = |line: &str, now: &str| {
        let ms = parser.parse_at(line, "s", at(now)).event.timestamp_ms;
        Timestamp::from_millisecond(ms).unwrap().to_zoned(TimeZone::UTC).year()
    };
    assert_eq!(year_of("Dec 31 23:59:59 h app: x", "2027-01-01T00:00:05Z"), 2026, "read just after new year");
    assert_eq!(year_of("Mar  3 10:00:00 h app: x", "2026-12-04T21:00:00Z"), 2026);
    assert_eq!(year_of("Dec  5 10:00:00 h app: x", "2026-12-04T21:00:00Z"), 2026, "a day of clock skew");
    assert_eq!(year_of("Dec  6 10:00:00 h app: x", "2026-12-04T21:00:00Z"), 2025, "two days ahead");
    assert_eq!(year_of("Feb 29 10:00:00 h app: x", "2028-03-01T00:00:00Z"), 2028, "a leap day");
}

#[test]
fn a_bsd_time_in_a_daylight_saving_gap_moves_forward() {
    let parser = SyslogParser::new(zone("America/New_York"));
    // 02:30 does not exist on 8 March 2026 in New York: `compatible` reads it as 03:30 EDT.
    let parsed = parser.parse_at("Mar  8 02:30:00 h cron[1]: job", "s", at("2026-03-09T00:00:00Z"));
    assert_eq!(parsed.event.timestamp_ms, millis("2026-03-08T07:30:00Z"));
}

#[test]
fn rfc_5424_and_rfc_3339_times_keep_their_own_offset() {
    let parser = SyslogParser::new(zone("Asia/Tokyo"));
    let now = at("2026-12-04T21:00:00Z");
    let line = r#"<34>1 2026-12-04T21:24:01.123+01:00 web01 billing 4711 ID47 [exampleSDID@32473 iut="3" eventSource="App\"lication"] 'su root' failed"#;
    let parsed = parser.parse_at(line, "s", now);
    assert!(parsed.is_ok(), "{:?}", parsed.error);
    let event = &parsed.event;
    assert_eq!(event.timestamp_ms, millis("2026-12-04T20:24:01.123Z"));
    assert_eq!(event.fields["host"], "web01");
    assert_eq!(event.fields["app"], "billing");
    assert_eq!(event.fields["pid"], 4711);
    assert_eq!(event.fields["msgid"], "ID47");
    assert_eq!(event.fields["severity"], "crit", "<34> is auth.crit");
    assert_eq!(event.fields["facility"], "auth");
    assert_eq!(event.fields["structured_data"]["exampleSDID@32473"]["iut"], "3");
    assert_eq!(event.fields["structured_data"]["exampleSDID@32473"]["eventSource"], "App\"lication");
    assert_eq!(event.fields["message"], "'su root' failed");

    // rsyslog's high-precision file format: a 3164 header with an RFC 3339 time.
    let precise = parser.parse_at("2026-12-04T21:24:01.500000+00:00 web01 sshd[7]: Accepted key", "s", now);
    assert_eq!(precise.event.timestamp_ms, millis("2026-12-04T21:24:01.500Z"));
    assert_eq!(precise.event.fields["app"], "sshd");
    assert_eq!(precise.event.fields["message"], "Accepted key");

    // A BSD line with <PRI>: its time is still read in the zone.
    let bsd = parser.parse_at("<13>Dec  4 10:00:00 web01 app: hello", "s", now);
    assert_eq!(bsd.event.timestamp_ms, millis("2026-12-04T01:00:00Z"), "10:00 in Tokyo (UTC+9)");
    assert_eq!(bsd.event.fields["severity"], "notice");
    assert_eq!(bsd.event.fields["facility"], "user");
}

#[test]
fn a_line_that_is_not_syslog_is_kept_with_an_error() {
    let parser = SyslogParser::new(TimeZone::UTC);
    for line in ["", "hello world", "127.0.0.1 - - [22/Dec/2016:16:30:52 +0300] \"GET / HTTP/1.1\" 200 1"] {
        let parsed = parser.parse_at(line, "file:x", at("2026-12-04T21:00:00Z"));
        let Some(error) = &parsed.error else { panic!("{line:?} parsed as syslog: {:?}", parsed.event) };
        assert_eq!(error.kind(), "malformed");
        assert!(error.to_string().contains("syslog header"), "{error}");
        assert_eq!((parsed.event.raw.as_str(), parsed.event.source.as_str()), (line, "file:x"));
        assert_eq!(parsed.event.timestamp_ms, 0, "left for the arrival time");
    }
}

/// Every line of loghub's Linux, Mac and OpenSSH samples (real `/var/log` files) parses; its
/// message is the benchmark's `Content`, and its time is the line's own, read in UTC here.
#[test]
fn every_line_of_the_loghub_system_logs_parses_to_its_message_and_time() {
    let Some(root) = loghub::root() else {
        eprintln!("skipped: ../shared/data/loghub is absent");
        return;
    };
    let parser = SyslogParser::new(TimeZone::UTC);
    let now = at("2026-12-31T12:00:00Z");
    // How many messages keep more than loghub's `Content` (see below): 8 `syslogd 1.4.1:` and
    // `--` lines in Linux, 132 lines of macOS's `app[pid] (subsystem): ` shape.
    for (system, longer) in [("Linux", 8), ("Mac", 132), ("OpenSSH", 0)] {
        let sample = loghub::load(&root, system).unwrap();
        let (mut apps, mut pids, mut mismatched) = (0, 0, 0);
        for (n, (raw, content)) in sample.raw.iter().zip(&sample.content).enumerate() {
            let parsed = parser.parse_at(raw, "s", now);
            assert!(parsed.is_ok(), "{system} line {}: {raw:?}: {:?}", n + 1, parsed.error);
            let fields = &parsed.event.fields;
            let message = fields["message"].as_str().map(str::trim);
            if message != Some(content.trim()) {
                // Where loghub reads more of the line as its header (`syslogd 1.4.1: restart.`
                // and `BezelServices 255.10[94]: ...` as a program with a version, the `--` of
                // `combo  -- root[2421]: ROOT LOGIN`, Mac's `sandboxd[129] ([31211]): ...`),
                // this parser keeps that part in the message: it may only add to the front.
                let message = message.unwrap_or_default();
                assert!(message.ends_with(content.trim()), "{system} line {}: {raw}\n  read {message:?}", n + 1);
                mismatched += 1;
            }
            // The time as written (`Jun 14 15:16:01`, `Jul  1 09:00:55`), read back from the event.
            let written: Vec<&str> = raw.split_whitespace().take(3).collect();
            let time = Timestamp::from_millisecond(parsed.event.timestamp_ms).unwrap().to_zoned(TimeZone::UTC);
            assert_eq!(
                time.strftime("%b %-d %H:%M:%S").to_string(),
                format!("{} {} {}", written[0], written[1].trim_start_matches('0'), written[2]),
                "{system} line {}",
                n + 1
            );
            apps += usize::from(fields.contains_key("app"));
            pids += usize::from(fields.contains_key("pid"));
        }
        assert_eq!(mismatched, longer, "{system}: messages longer than loghub's");
        assert!(apps + 1 >= sample.raw.len(), "{system}: {apps} of {} lines name their program", sample.raw.len());
        assert!(pids * 10 >= sample.raw.len() * 9, "{system}: {pids} of {} lines with a pid", sample.raw.len());
    }
}

#[test]
fn the_source_config_reads_time_zone_for_syslog_only() {
    let config = |format, time_zone: Option<&str>| ParseConfig {
        format,
        time_zone: time_zone.map(str::to_owned),
        ..ParseConfig::default()
    };
    let parser = config(Format::Syslog, Some("Asia/Tokyo")).build().expect("a valid syslog source");
    assert_eq!(parser.format(), Format::Syslog);
    let parsed = parser.parse("2026-12-04T10:00:00Z h app: x", "s");
    assert_eq!(parsed.event.timestamp_ms, millis("2026-12-04T10:00:00Z"));
    config(Format::Syslog, None).build().expect("the machine's own zone by default");

    let unused = config(Format::Combined, Some("UTC")).build().unwrap_err();
    assert!(matches!(unused, BuildError::UnusedOption { option: "time_zone", .. }), "{unused:?}");
    let unknown = config(Format::Syslog, Some("Mars/Olympus_Mons")).build().unwrap_err();
    let message = unknown.to_string();
    assert!(message.starts_with("time_zone: \"Mars/Olympus_Mons\" is not a time zone"), "{message}");
    assert!(message.contains("\"Europe/Berlin\"") && message.contains("\"local\""), "{message}");
}

#[test]
fn a_bsd_message_keeps_its_leading_dash_and_brackets() {
    let parser = SyslogParser::new(TimeZone::UTC);
    let now = at("2026-12-04T21:00:00Z");
    let message = |line: &str| parser.parse_at(line, "s", now).event.fields["message"].clone();
    assert_eq!(
        message("Jul  1 10:08:20 mac Dock[307]: -[UABestAppSuggestionManager notify] x"),
        "-[UABestAppSuggestionManager notify] x"
    );
    assert_eq!(message("Dec 10 06:55:46 host app: - dash"), "- dash");
    assert_eq!(
        message("Dec 10 06:55:46 host kernel: [    0.000000] Linux version 5.10"),
        "[    0.000000] Linux version 5.10"
    );
    // RFC 5424's `-` is its empty structured data, not part of the message.
    assert_eq!(message("<13>1 2026-12-04T10:00:00Z h app - - - msg with - dash"), "msg with - dash");
}

/// Lines per second through the `syslog` parser, over loghub's Linux, Mac and OpenSSH samples.
/// Run: `cargo test --release -p vigil --lib syslog_parse_throughput -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not a check"]
fn syslog_parse_throughput() {
    let Some(root) = loghub::root() else { return };
    let lines: Vec<String> =
        ["Linux", "Mac", "OpenSSH"].iter().flat_map(|system| loghub::load(&root, system).unwrap().raw).collect();
    let parser = SyslogParser::new(zone("Europe/Berlin"));
    let start = std::time::Instant::now();
    let rounds = 50;
    for _ in 0..rounds {
        for line in &lines {
            std::hint::black_box(parser.parse(std::hint::black_box(line), "s"));
        }
    }
    let per_line = start.elapsed().as_secs_f64() / (rounds * lines.len()) as f64;
    println!("syslog: {:.0} lines/s, {:.2} µs a line", 1.0 / per_line, per_line * 1e6);
}
