use super::*;

const T0: i64 = 1_700_000_000_000;

fn event<'a>(ip: &'a str, method: &'a str, url: &'a str, status: u16, bytes: u64, ua: &'a str, ts: i64) -> Event<'a> {
    Event { timestamp_ms: ts, ip, method, url, status_code: status, bytes_sent: bytes, user_agent: ua, raw: "" }
}

fn get(extractor: &mut FeatureExtractor, e: &Event, f: Feature) -> f32 {
    extractor.extract(e)[f as usize]
}

#[test]
fn request_line_features() {
    let mut x = FeatureExtractor::new(1024, 60);
    let point = x.extract(&event("1.2.3.4", "GET", "/a/b?x=1&y=2", 404, 1023, "curl", T0));
    assert_eq!(point[Feature::StatusClass as usize], 4.0);
    assert!((point[Feature::Bytes as usize] - 1024f32.ln()).abs() < 1e-5);
    assert_eq!(point[Feature::UrlLength as usize], 12.0);
    assert_eq!(point[Feature::UrlDepth as usize], 2.0);
    assert_eq!(point[Feature::QueryParams as usize], 2.0);
    assert!((point[Feature::SpecialShare as usize] - 4.0 / 12.0).abs() < 1e-6);
    assert!(point[FEATURE_COUNT..].iter().all(|&v| v == 0.0), "padding stays zero");
}

#[test]
fn hour_of_day_is_utc() {
    let mut x = FeatureExtractor::new(1024, 60);
    // 2023-11-14T22:13:20Z
    assert_eq!(get(&mut x, &event("", "GET", "/", 200, 0, "", T0), Feature::HourOfDay), 22.0);
    // One hour before the epoch is 23:00 on 1969-12-31.
    assert_eq!(get(&mut x, &event("", "GET", "/", 200, 0, "", -3_600_000), Feature::HourOfDay), 23.0);
}

#[test]
fn rare_method_and_user_agent_stand_out() {
    let mut x = FeatureExtractor::new(1024, 60);
    for i in 0..500 {
        x.extract(&event("10.0.0.1", "GET", "/", 200, 10, "Mozilla/5.0", T0 + i));
    }
    let usual = x.extract(&event("10.0.0.2", "GET", "/", 200, 10, "Mozilla/5.0", T0 + 600));
    let odd = x.extract(&event("10.0.0.3", "PROPFIND", "/", 200, 10, "sqlmap/1.7", T0 + 601));
    for f in [Feature::MethodRarity, Feature::UserAgentRarity] {
        assert!(usual[f as usize] < 0.01 && odd[f as usize] > 5.0, "{f:?}");
    }
}

#[test]
fn ip_rate_and_error_rate_follow_each_ip() {
    let mut x = FeatureExtractor::new(1024, 60);
    let mut flood = [0.0; POINT_WIDTH];
    for i in 0..100 {
        flood = x.extract(&event("198.51.100.7", "GET", "/login", 401, 10, "bot", T0 + i * 10));
    }
    let single = x.extract(&event("192.0.2.1", "GET", "/", 200, 10, "Mozilla/5.0", T0 + 1500));
    assert!(flood[Feature::IpRate as usize] > 50.0 * single[Feature::IpRate as usize]);
    assert_eq!(flood[Feature::IpErrorRate as usize], 1.0);
    assert_eq!(single[Feature::IpErrorRate as usize], 0.0);
}

#[test]
fn memory_stays_flat_with_many_distinct_keys() {
    let mut x = FeatureExtractor::new(1024, 60);
    let cells = |x: &FeatureExtractor| (x.methods.cells(), x.user_agents.cells(), x.ips.slot_count());
    let start = cells(&x);
    for i in 0..50_000 {
        let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
        x.extract(&event(&ip, "GET", "/", 200, 1, &format!("agent-{i}"), T0 + i));
    }
    assert_eq!(cells(&x), start);
    assert_eq!(start, (2 * 64, 4 * 4096, 1024));
    x.validate(1024, 60).unwrap();
}
