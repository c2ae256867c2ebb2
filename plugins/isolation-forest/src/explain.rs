//! The reason given for an anomalous event: the facts that made it stand out, with what is
//! typical beside what happened. What was new comes first, in the site's own terms
//! ("parameter `id` of /cart holds single quotes and ';', never seen in its 1,240 values
//! (usually digits)"), then the forest's features furthest outside their typical range.
//! Built only for events at or above the threshold.

use std::fmt::Write;

use vigil_plugin_sdk::Event;

use crate::features::message::PatternFacts;
use crate::features::request::{CLASS_NAMES, DANGEROUS_CLASSES};
use crate::features::{Feature, FeatureExtractor, MIN_PARAM_SEEN, MIN_PATH_SEEN, Novelty};
use crate::forest::Point;
use crate::typical::TypicalRanges;

/// Facts named at most in one reason: beyond three, a reason stops being read.
const MAX_PARTS: usize = 3;
/// Longest path or parameter name quoted, in characters.
const MAX_QUOTE: usize = 60;

/// The reason for `event`, not an access log, whose message pattern is rare.
pub fn message_reason(facts: &PatternFacts, rare_share: f32, event: &Event) -> String {
    let message = quote(&crate::features::message::masked(event.raw));
    let share = facts.share() * 100.0;
    if facts.seen == 0 {
        format!("message pattern never seen in {} messages learned: {message}", facts.learned)
    } else {
        format!(
            "message pattern seen in {share:.2}% of {} messages learned (rare below {}%): {message}",
            facts.learned,
            rare_share * 100.0
        )
    }
}

/// The reason for `event`, scored from `point` with `novelty`.
pub fn reason(
    extractor: &FeatureExtractor,
    typical: &TypicalRanges,
    event: &Event,
    point: &Point,
    novelty: &Novelty,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    let path = quote(event.url.split(['?', '#']).next().unwrap_or(""));
    let facts = extractor.path_facts(event);
    if novelty.new_classes > 0 || novelty.unknown_params > 0 {
        for param in extractor.param_facts(event) {
            let name = quote(&String::from_utf8_lossy(param.name));
            if param.seen >= MIN_PARAM_SEEN && param.new_classes & DANGEROUS_CLASSES != 0 {
                parts.push(format!(
                    "parameter `{name}` of {path} holds {} never seen in its {} values (usually {})",
                    class_list(param.new_classes),
                    param.seen,
                    class_list(param.usual_classes)
                ));
            } else if param.seen == 0 && facts.seen >= MIN_PATH_SEEN {
                parts.push(format!("parameter `{name}` never seen on {path} in {} requests", facts.seen));
            }
        }
    }
    if novelty.unseen_path {
        parts.push(format!("path {path} never requested before ({} requests learned)", facts.learned));
    }
    for feature in typical.ranked_outside(point) {
        if parts.len() >= MAX_PARTS {
            break;
        }
        // For these, only high values are unusual: a low one explains nothing.
        let only_high = matches!(
            feature,
            Feature::PathRarity
                | Feature::StatusRarity
                | Feature::ParamRarity
                | Feature::ValueShapeRarity
                | Feature::NewValueClasses
                | Feature::DangerousChars
                | Feature::MethodRarity
                | Feature::UserAgentRarity
                | Feature::IpNovelShare
                | Feature::IpErrorRate
        );
        if only_high && typical.is_below(feature, point[feature as usize]) {
            continue;
        }
        let mut part = String::new();
        match feature {
            Feature::NewValueClasses | Feature::ParamRarity if novelty.any() => continue,
            Feature::NewValueClasses | Feature::ValueShapeRarity | Feature::ParamRarity => {
                // The parameter behind it: the one with new classes, else the least seen.
                let params = extractor.param_facts(event);
                let Some(param) = params.min_by_key(|p| (p.new_classes == 0, p.seen)) else { continue };
                let name = quote(&String::from_utf8_lossy(param.name));
                if param.new_classes != 0 {
                    let _ = write!(
                        part,
                        "parameter `{name}` of {path} holds {} never seen in its {} values (usually {})",
                        class_list(param.new_classes),
                        param.seen,
                        class_list(param.usual_classes)
                    );
                } else if feature == Feature::ParamRarity {
                    let _ = write!(
                        part,
                        "parameter `{name}` seen {} times in {} requests to {path}",
                        param.seen, facts.seen
                    );
                } else {
                    let _ =
                        write!(part, "value of parameter `{name}` of {path} has a rare length or mix of characters");
                }
                if parts.contains(&part) {
                    continue;
                }
            }
            Feature::PathRarity if novelty.unseen_path => continue,
            // Not an access log: there is no path or status to speak of.
            Feature::PathRarity | Feature::StatusRarity | Feature::UrlLength | Feature::UrlDepth
                if event.url.is_empty() =>
            {
                continue;
            }
            Feature::PathRarity => {
                let _ = write!(part, "path {path} seen {} times in {} requests", facts.seen, facts.learned);
            }
            Feature::StatusRarity
                if facts.seen > 0 && facts.usual_count > 0 && event.status_code != facts.usual_status =>
            {
                let share = |n: u32| 100.0 * f64::from(n) / f64::from(facts.seen.max(1));
                let _ = write!(
                    part,
                    "status {} while {:.0}% of {path}'s {} responses are {} (this status: {:.1}%)",
                    event.status_code,
                    share(facts.usual_count),
                    facts.seen,
                    facts.usual_status,
                    share(facts.with_status)
                );
            }
            other => typical.describe(&mut part, other, point[other as usize]),
        }
        parts.push(part);
    }
    parts.truncate(MAX_PARTS);
    if parts.is_empty() {
        return "unusual combination of features, each within its typical range".to_owned();
    }
    parts.join("; ")
}

fn quote(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTE {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(MAX_QUOTE).collect();
        short.push('…');
        short
    }
}

/// "single quotes, ';' and spaces or '+'" for a set of class bits; "nothing" when empty.
fn class_list(mut classes: u32) -> String {
    let mut names = Vec::new();
    while classes != 0 {
        names.push(CLASS_NAMES[classes.trailing_zeros() as usize]);
        classes &= classes - 1;
    }
    match names.as_slice() {
        [] => "nothing".to_owned(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_the_parameter_the_new_characters_and_the_usual_ones() {
        let mut x = FeatureExtractor::new(256, 60);
        fn event(url: &str) -> Event<'_> {
            Event { timestamp_ms: 0, ip: "10.0.0.1", method: "GET", url, status_code: 200, ..Event::default() }
        }
        let mut points = Vec::new();
        for i in 0..100 {
            let url = format!("/cart?qty={}", i % 9 + 1);
            let e = event(&url);
            x.learn(&e);
            points.push(x.extract(&e).0);
        }
        let typical = TypicalRanges::from_points(&points);
        let attack = event("/cart?qty=1'%20or%201=1");
        let (point, novelty) = x.extract(&attack);
        let reason = reason(&x, &typical, &attack, &point, &novelty);
        assert_eq!(
            reason,
            "parameter `qty` of /cart holds lowercase letters, '%', single quotes and '=' never seen in its 100 \
             values (usually digits); dangerous_chars 1 (typical 0-0); url_length 23 (typical 11-11)"
        );
    }

    #[test]
    fn status_reason_gives_the_path_usual_status_and_share() {
        let mut x = FeatureExtractor::new(256, 60);
        let event = |status| Event {
            timestamp_ms: 0,
            ip: "10.0.0.1",
            method: "GET",
            url: "/cart",
            status_code: status,
            ..Event::default()
        };
        let mut points = Vec::new();
        for i in 0..200 {
            let e = event(if i % 50 == 0 { 500 } else { 200 });
            x.learn(&e);
            points.push(x.extract(&e).0);
        }
        let typical = TypicalRanges::from_points(&points);
        let failed = event(500);
        let (mut point, novelty) = x.extract(&failed);
        point[Feature::StatusRarity as usize] = 10.0;
        let reason = reason(&x, &typical, &failed, &point, &novelty);
        assert!(
            reason.starts_with("status 500 while 98% of /cart's 200 responses are 200 (this status: 2.0%)"),
            "{reason}"
        );
    }

    #[test]
    fn class_lists_read_as_prose() {
        assert_eq!(class_list(0), "nothing");
        assert_eq!(class_list(1 << 2), "digits");
        assert_eq!(class_list(1 << 9 | 1 << 12 | 1 << 3), "spaces or '+', single quotes and ';'");
    }
}
