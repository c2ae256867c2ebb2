//! Access-log lines wrapped whole in double quotes, as the scanner logs of
//! ../shared/data/apache_scan_logs have them: read inside the quotes, as a tailer meets them.

use super::*;

#[test]
fn a_line_wrapped_in_quotes_gives_the_event_of_the_line_inside() {
    let inner = r#"192.168.4.163 - - [22/Dec/2016:16:20:20 +0300] "GET / HTTP/1.1" 200 3279 "-" "w3af.org""#;
    let wrapped = format!("\"{inner}\"");
    let e = ok(&Parser::combined(), &wrapped);
    // Was "\"192.168.4.163" and "w3af.org\"": not an address, and not found by `?ip=`.
    assert_eq!((e.ip.as_str(), e.user_agent.as_str(), e.status_code), ("192.168.4.163", "w3af.org", 200));
    assert_eq!(e, Event { raw: wrapped.clone(), ..ok(&Parser::combined(), inner) });
    // A quote opened before the client address and never closed is not an address.
    let parsed = combined(&format!("\"{inner}"));
    assert!(parsed.error.is_some(), "{:?}", parsed.event);
}

#[test]
fn every_scan_log_line_as_written_parses_like_its_unwrapped_self() {
    let (Some(written), Some(unwrapped)) = (crate::testing::scan_logs_as_written(), scan_logs()) else { return };
    let parser = Parser::combined();
    let mut wrapped = 0;
    for ((name, lines), (_, inner)) in written.iter().zip(&unwrapped) {
        for (number, (line, inner)) in lines.iter().zip(inner).enumerate() {
            let parsed = parser.parse(line, name);
            assert_eq!(parsed.error, None, "{name}:{}: {line}", number + 1);
            assert_eq!(
                parsed.event,
                Event { raw: line.clone(), ..parser.parse(inner, name).event },
                "{name}:{}",
                number + 1
            );
            wrapped += usize::from(line != inner);
        }
    }
    // 62 lines of w3af.txt were recorded without the quotes.
    assert_eq!(wrapped, 17_849 - 62);
}
