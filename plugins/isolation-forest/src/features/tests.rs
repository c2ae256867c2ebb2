use super::*;

const T0: i64 = 1_700_000_000_000;

fn event<'a>(ip: &'a str, method: &'a str, url: &'a str, status: u16, bytes: u64, ua: &'a str, ts: i64) -> Event<'a> {
    Event { timestamp_ms: ts, ip, method, url, status_code: status, bytes_sent: bytes, user_agent: ua, raw: "" }
}

fn get(extractor: &mut FeatureExtractor, e: &Event, f: Feature) -> f32 {
    extractor.extract(e).0[f as usize]
}

fn point(extractor: &mut FeatureExtractor, e: &Event) -> Point {
    extractor.extract(e).0
}

#[test]
fn request_line_features() {
    let mut x = FeatureExtractor::new(1024, 60);
    let point = point(&mut x, &event("1.2.3.4", "GET", "/a/b?x=1&y=2", 404, 1023, "curl", T0));
    assert!((point[Feature::Bytes as usize] - 1024f32.ln()).abs() < 1e-5);
    assert_eq!(point[Feature::UrlLength as usize], 12.0);
    assert_eq!(point[Feature::UrlDepth as usize], 2.0);
    assert_eq!(point[Feature::QueryParams as usize], 2.0);
    assert!((point[Feature::SpecialShare as usize] - 4.0 / 12.0).abs() < 1e-6);
}

#[test]
fn unknown_paths_parameters_and_new_kinds_of_value_are_news_after_learning() {
    let mut x = FeatureExtractor::new(1024, 60);
    for i in 0..600 {
        let url = format!("/shop/add?id={}&qty={}", i % 7, i % 5 + 1);
        let e = event("10.0.0.1", "GET", &url, 200, 10, "Mozilla/5.0", T0 + i);
        x.learn(&e);
    }
    let (usual, nothing_new) = x.extract(&event("10.0.0.2", "GET", "/shop/add?id=3&qty=2", 200, 10, "M", T0 + 700));
    assert_eq!(nothing_new, Novelty::default());
    assert!(usual[Feature::PathRarity as usize] < 0.01);
    let (odd, injected) = x.extract(&event("10.0.0.3", "GET", "/shop/add?id=3';--&qty=2", 200, 10, "M", T0 + 701));
    assert_eq!(injected.new_classes, 2, "single quote and ';' are new; '-' is new but harmless");
    assert_eq!(odd[Feature::NewValueClasses as usize], 3.0);
    assert_eq!(odd[Feature::DangerousChars as usize], 2.0);
    let (_, tampered) = x.extract(&event("10.0.0.3", "GET", "/shop/add?id=3&qtyx=2", 200, 10, "M", T0 + 702));
    assert_eq!(tampered.unknown_params, 1);
    let (probe, scanned) = x.extract(&event("10.0.0.3", "GET", "/.git/config", 404, 10, "M", T0 + 703));
    assert!(scanned.unseen_path && probe[Feature::PathRarity as usize] > 6.0);
    assert!(probe[Feature::IpNovelShare as usize] > 0.5, "three of this IP's requests were news");
}

#[test]
fn a_rare_status_on_a_path_stands_out() {
    let mut x = FeatureExtractor::new(1024, 60);
    for i in 0..200 {
        x.learn(&event("10.0.0.1", "GET", "/cart", if i == 0 { 500 } else { 200 }, 10, "M", T0 + i));
    }
    let ok = get(&mut x, &event("10.0.0.1", "GET", "/cart", 200, 10, "M", T0 + 300), Feature::StatusRarity);
    let failed = get(&mut x, &event("10.0.0.1", "GET", "/cart", 500, 10, "M", T0 + 301), Feature::StatusRarity);
    assert!(ok < 0.01 && failed > 4.0, "ok {ok}, failed {failed}");
    let facts = x.path_facts(&event("10.0.0.1", "GET", "/cart", 500, 10, "M", T0));
    assert_eq!((facts.seen, facts.with_status, facts.usual_status, facts.usual_count), (200, 1, 200, 199));
}

#[test]
fn rare_method_and_user_agent_stand_out() {
    let mut x = FeatureExtractor::new(1024, 60);
    for i in 0..500 {
        x.extract(&event("10.0.0.1", "GET", "/", 200, 10, "Mozilla/5.0", T0 + i));
    }
    let usual = point(&mut x, &event("10.0.0.2", "GET", "/", 200, 10, "Mozilla/5.0", T0 + 600));
    let odd = point(&mut x, &event("10.0.0.3", "PROPFIND", "/", 200, 10, "sqlmap/1.7", T0 + 601));
    for f in [Feature::MethodRarity, Feature::UserAgentRarity] {
        assert!(usual[f as usize] < 0.01 && odd[f as usize] > 5.0, "{f:?}");
    }
}

#[test]
fn ip_rate_and_error_rate_follow_each_ip() {
    let mut x = FeatureExtractor::new(1024, 60);
    let mut flood = [0.0; POINT_WIDTH];
    for i in 0..100 {
        flood = point(&mut x, &event("198.51.100.7", "GET", "/login", 401, 10, "bot", T0 + i * 10));
    }
    let single = point(&mut x, &event("192.0.2.1", "GET", "/", 200, 10, "Mozilla/5.0", T0 + 1500));
    assert!(flood[Feature::IpRate as usize] > 50.0 * single[Feature::IpRate as usize]);
    assert_eq!(flood[Feature::IpErrorRate as usize], 1.0);
    assert_eq!(single[Feature::IpErrorRate as usize], 0.0);
}

#[test]
fn memory_stays_flat_with_many_distinct_keys() {
    let mut x = FeatureExtractor::new(1024, 60);
    let cells = |x: &FeatureExtractor| (x.methods.cells(), x.user_agents.cells(), x.ips.slot_count(), x.keys.cells());
    let start = cells(&x);
    for i in 0..50_000 {
        let ip = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
        let url = format!("/item/{i}?q{i}=v");
        let agent = format!("agent-{i}");
        let e = event(&ip, "GET", &url, 200, 1, &agent, T0 + i);
        x.extract(&e);
        x.learn(&e);
    }
    assert_eq!(cells(&x), start);
    assert_eq!(start, (2 * 64, 4 * 4096, 1024, 3 << 15));
    x.validate(1024, 60).unwrap();
}

#[test]
fn parameter_and_value_rarity_are_those_of_the_rarest_parameter() {
    let mut x = FeatureExtractor::new(1024, 60);
    // `page` on every request to /list, `sort` on one in ten, always with a word; `q` twice.
    for i in 0..200 {
        let url = match i % 100 {
            0 => format!("/list?page={i}&q=shoes"),
            n if n % 10 == 0 => format!("/list?page={i}&sort=price"),
            _ => format!("/list?page={i}"),
        };
        x.learn(&event("10.0.0.1", "GET", &url, 200, 10, "M", T0 + i));
    }
    let all = point(&mut x, &event("10.0.0.2", "GET", "/list?sort=price&page=3&q=boots", 200, 10, "M", T0 + 300));
    // `q` (seen twice) is the rarest name, whatever the order the parameters come in.
    assert_eq!(all[Feature::ParamRarity as usize], rarity(2, 200));
    // Every value has the shape its parameter always had: no shape is rarer than the others.
    assert!(all[Feature::ValueShapeRarity as usize] < 0.7, "{}", all[Feature::ValueShapeRarity as usize]);
    let digits_in_sort = point(&mut x, &event("10.0.0.2", "GET", "/list?sort=123&page=3", 200, 10, "M", T0 + 301));
    assert_eq!(digits_in_sort[Feature::ParamRarity as usize], rarity(18, 200));
    assert_eq!(digits_in_sort[Feature::ValueShapeRarity as usize], rarity(0, 18), "digits never seen in `sort`");
    let none = point(&mut x, &event("10.0.0.2", "GET", "/list", 200, 10, "M", T0 + 302));
    assert_eq!((none[Feature::ParamRarity as usize], none[Feature::ValueShapeRarity as usize]), (0.0, 0.0));
}
