//! Turning an access-log event into a point for the forest.
//!
//! Owns the feature catalogue (order, names, how a value reads in a reason) and the bounded
//! state features need: rarity sketches for methods and User-Agents, the per-IP sliding
//! windows, and per-path statistics (how often each path, each path's statuses, each of its
//! parameters and each kind of value of a parameter were seen) in one count-min sketch.
//! Extraction never allocates and hashes the raw bytes. Per-path statistics are only looked
//! up when extracting; the model calls [`FeatureExtractor::learn`] for the events it judges
//! normal, so an attack repeated a thousand times stays as new as the first time.

mod hash;
mod ip_window;
mod key_counter;
pub mod message;
mod rarity;
pub mod request;
mod url;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::Event;

use crate::forest::{POINT_WIDTH, Point};
use hash::{combine, hash_bytes};
use ip_window::IpWindowTable;
use key_counter::{KeyCounter, rarity, rarity_ratio};
use message::{MESSAGES_KEY, PatternFacts};
use rarity::RarityCounter;

/// One feature of the catalogue, in point order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    PathRarity,
    StatusRarity,
    ParamRarity,
    ValueShapeRarity,
    NewValueClasses,
    DangerousChars,
    UrlLength,
    QueryParams,
    SpecialShare,
    Bytes,
    MethodRarity,
    UserAgentRarity,
    IpRate,
    IpErrorRate,
    IpNovelShare,
    UrlDepth,
}

/// How many features a point carries.
pub const FEATURE_COUNT: usize = 16;

/// Every feature, in point order.
pub const FEATURES: [Feature; FEATURE_COUNT] = [
    Feature::PathRarity,
    Feature::StatusRarity,
    Feature::ParamRarity,
    Feature::ValueShapeRarity,
    Feature::NewValueClasses,
    Feature::DangerousChars,
    Feature::UrlLength,
    Feature::QueryParams,
    Feature::SpecialShare,
    Feature::Bytes,
    Feature::MethodRarity,
    Feature::UserAgentRarity,
    Feature::IpRate,
    Feature::IpErrorRate,
    Feature::IpNovelShare,
    Feature::UrlDepth,
];

const _: () = assert!(FEATURE_COUNT <= POINT_WIDTH);

impl Feature {
    /// The name used in reasons and the README.
    pub fn name(self) -> &'static str {
        match self {
            Feature::PathRarity => "path_rarity",
            Feature::StatusRarity => "status_rarity",
            Feature::ParamRarity => "param_rarity",
            Feature::ValueShapeRarity => "value_shape_rarity",
            Feature::NewValueClasses => "new_value_classes",
            Feature::DangerousChars => "dangerous_chars",
            Feature::UrlLength => "url_length",
            Feature::QueryParams => "query_params",
            Feature::SpecialShare => "url_special_share",
            Feature::Bytes => "bytes",
            Feature::MethodRarity => "method_rarity",
            Feature::UserAgentRarity => "user_agent_rarity",
            Feature::IpRate => "ip_rate_per_s",
            Feature::IpErrorRate => "ip_error_rate",
            Feature::IpNovelShare => "ip_novel_share",
            Feature::UrlDepth => "url_depth",
        }
    }

    /// The value as a person reads it (bytes undo their log scale), and its decimals.
    pub fn readable(self, value: f32) -> (f64, usize) {
        let value = f64::from(value);
        match self {
            Feature::Bytes => (value.exp_m1().round(), 0),
            Feature::UrlLength
            | Feature::QueryParams
            | Feature::UrlDepth
            | Feature::DangerousChars
            | Feature::NewValueClasses => (value, 0),
            _ => (value, 2),
        }
    }
}

/// Sketch sizes: methods are few, User-Agents many (4 × 4096 counters, 64 KiB), per-path
/// keys more (3 × 32768 counters, 384 KiB).
const METHOD_SKETCH: (u32, u32) = (2, 6);
const USER_AGENT_SKETCH: (u32, u32) = (4, 12);
const KEY_SKETCH: (u32, u32) = (3, 15);

/// A parameter must have been seen this often before a new kind of value in it is news.
pub const MIN_PARAM_SEEN: u32 = 10;
/// A path must have been seen this often before an unknown parameter on it is news.
pub const MIN_PATH_SEEN: u32 = 20;
/// Events learned before an unknown path is news.
pub const MIN_EVENTS_LEARNED: u32 = 500;

/// Key domains, so a path and a parameter name with the same bytes never share a key.
const STATUS_DOMAIN: u64 = 1;
const NAME_DOMAIN: u64 = 2;
const SHAPE_DOMAIN: u64 = 3;
const CLASS_DOMAIN: u64 = 4;
/// Requests to a path never learned that were flagged for it alone (see
/// [`FeatureExtractor::learn_news`]); message patterns are domain 5.
const FLAGGED_DOMAIN: u64 = 6;
/// The most a client's share of news may be for its request to a new path to count.
const MAX_NOVEL_SHARE: f32 = 0.5;
/// Such requests after which a path is no longer news, by default (`new_path_alerts`).
pub const DEFAULT_NEW_PATH_ALERTS: u32 = 20;

/// What was new about an event: the evidence behind the model's novelty score and the
/// first things its reason says.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Novelty {
    /// Most classes of dangerous characters ([`request::DANGEROUS_CLASSES`]) never seen
    /// before in one known parameter.
    pub new_classes: u32,
    /// Parameters never seen before on a well-known path.
    pub unknown_params: u32,
    /// The path was never seen before, after enough traffic.
    pub unseen_path: bool,
}

impl Novelty {
    /// Whether anything at all was new.
    pub fn any(&self) -> bool {
        self.new_classes > 0 || self.unknown_params > 0 || self.unseen_path
    }
}

/// The stateful feature extractor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureExtractor {
    methods: RarityCounter,
    user_agents: RarityCounter,
    ips: IpWindowTable,
    keys: KeyCounter,
}

impl FeatureExtractor {
    /// A fresh extractor with `ip_slots` (a power of two) windows of `window_secs`.
    pub fn new(ip_slots: usize, window_secs: u32) -> Self {
        Self {
            methods: RarityCounter::new(METHOD_SKETCH.0, METHOD_SKETCH.1),
            user_agents: RarityCounter::new(USER_AGENT_SKETCH.0, USER_AGENT_SKETCH.1),
            ips: IpWindowTable::new(ip_slots, window_secs),
            keys: KeyCounter::new(KEY_SKETCH.0, KEY_SKETCH.1),
        }
    }

    /// [`FeatureExtractor::extract_keyed`] with the key worked out here and the default
    /// `new_path_alerts`.
    #[cfg(test)]
    pub fn extract(&mut self, event: &Event) -> (Point, Novelty) {
        self.extract_keyed(event, request::path_key(event.url), DEFAULT_NEW_PATH_ALERTS)
    }

    /// The point for `event` and what was new about it, updating the rarity and window
    /// state with it (per-path statistics wait for [`FeatureExtractor::learn_keyed`]).
    /// `path_key` is `request::path_key(event.url)`, which the model works out once per
    /// event for this and the learning after; a path never learned stops being news after
    /// `new_path_alerts` ordinary requests flagged for it (see [`FeatureExtractor::learn_news`]).
    pub fn extract_keyed(&mut self, event: &Event, path_key: u64, new_path_alerts: u32) -> (Point, Novelty) {
        let shape = url::measure(event.url);
        let learned = self.keys.events();
        let path_seen = self.keys.count(path_key);
        let status_seen = self.keys.count(combine(path_key, STATUS_DOMAIN << 16 | u64::from(event.status_code)));

        // A path never learned may have been flagged before: then it is not news again.
        let unseen_path = path_seen == 0
            && learned >= MIN_EVENTS_LEARNED
            && self.keys.count(combine(path_key, FLAGGED_DOMAIN)) < new_path_alerts;
        let mut novelty = Novelty { unseen_path, ..Novelty::default() };
        // The rarest parameter and value shape are found by their rarity's ratio and the
        // logarithm taken once (`ln` is increasing; in wasm each is a call to libm).
        let (mut rarest_param_seen, mut shape_ratio, mut new_classes) = (None::<u32>, 1f32, 0u32);
        for (name, value) in request::params(event.url) {
            let name_key = combine(path_key, combine(NAME_DOMAIN, hash_bytes(name)));
            let name_seen = self.keys.count(name_key);
            rarest_param_seen = Some(rarest_param_seen.map_or(name_seen, |seen| seen.min(name_seen)));
            if name_seen == 0 && path_seen >= MIN_PATH_SEEN {
                novelty.unknown_params += 1;
            }
            let value_shape = request::value_shape(value);
            let ratio = rarity_ratio(
                self.keys.count(combine(name_key, SHAPE_DOMAIN << 32 | u64::from(value_shape))),
                name_seen,
            );
            if ratio > shape_ratio {
                shape_ratio = ratio;
            }
            if name_seen >= MIN_PARAM_SEEN {
                let new = self.new_classes(name_key, value_shape);
                new_classes = new_classes.max(new.count_ones());
                novelty.new_classes = novelty.new_classes.max((new & request::DANGEROUS_CLASSES).count_ones());
            }
        }
        let dangerous = event.url.bytes().filter(|&b| request::is_dangerous(b)).count();

        let is_error = (400..600).contains(&event.status_code);
        let ip = self.ips.record(hash_bytes(event.ip.as_bytes()), event.timestamp_ms, is_error, novelty.any());

        let mut point = [0.0; POINT_WIDTH];
        point[Feature::PathRarity as usize] = rarity(path_seen, learned);
        point[Feature::StatusRarity as usize] = rarity(status_seen, path_seen);
        point[Feature::ParamRarity as usize] = rarest_param_seen.map_or(0.0, |seen| rarity(seen, path_seen));
        point[Feature::ValueShapeRarity as usize] = if shape_ratio > 1.0 { shape_ratio.ln() } else { 0.0 };
        point[Feature::NewValueClasses as usize] = new_classes as f32;
        point[Feature::DangerousChars as usize] = dangerous as f32;
        point[Feature::UrlLength as usize] = shape.length as f32;
        point[Feature::QueryParams as usize] = shape.query_params as f32;
        point[Feature::SpecialShare as usize] = shape.special_share;
        point[Feature::Bytes as usize] = vigil_plugin_sdk::features::log_bytes(event.bytes_sent);
        point[Feature::MethodRarity as usize] = self.methods.observe(hash_bytes(event.method.as_bytes()));
        point[Feature::UserAgentRarity as usize] = self.user_agents.observe(hash_bytes(event.user_agent.as_bytes()));
        point[Feature::IpRate as usize] = ip.rate;
        point[Feature::IpErrorRate as usize] = ip.error_rate;
        point[Feature::IpNovelShare as usize] = ip.novel_share;
        point[Feature::UrlDepth as usize] = shape.depth as f32;
        (point, novelty)
    }

    /// The classes of characters in `shape` never seen in the parameter `name_key`, as bits.
    fn new_classes(&self, name_key: u64, shape: u32) -> u32 {
        let mut classes = request::classes(shape);
        let mut new = 0;
        while classes != 0 {
            let class = classes.trailing_zeros();
            classes &= classes - 1;
            if self.keys.count(combine(name_key, CLASS_DOMAIN << 8 | u64::from(class))) == 0 {
                new |= 1 << class;
            }
        }
        new
    }

    /// [`FeatureExtractor::learn_keyed`] with the key worked out here.
    #[cfg(test)]
    pub fn learn(&mut self, event: &Event) {
        self.learn_keyed(event, request::path_key(event.url));
    }

    /// Count `event` into the per-path statistics: its path (`path_key`, as for
    /// [`FeatureExtractor::extract_keyed`]), its status on that path, its parameters and the
    /// shapes and classes of their values.
    pub fn learn_keyed(&mut self, event: &Event, path_key: u64) {
        self.learn_request(event, path_key);
        self.learn_pattern(event);
        self.keys.end_event();
    }

    /// [`FeatureExtractor::learn_keyed`] for a message event whose pattern
    /// [`FeatureExtractor::learn_pattern`] counted already, when it was scored.
    pub fn learn_keyed_but_pattern(&mut self, event: &Event, path_key: u64) {
        self.learn_request(event, path_key);
        self.keys.end_event();
    }

    /// The request part of [`FeatureExtractor::learn_keyed`].
    fn learn_request(&mut self, event: &Event, path_key: u64) {
        self.keys.add(path_key);
        self.keys.add(combine(path_key, STATUS_DOMAIN << 16 | u64::from(event.status_code)));
        for (name, value) in request::params(event.url) {
            let name_key = combine(path_key, combine(NAME_DOMAIN, hash_bytes(name)));
            self.keys.add(name_key);
            let value_shape = request::value_shape(value);
            self.keys.add(combine(name_key, SHAPE_DOMAIN << 32 | u64::from(value_shape)));
            let mut classes = request::classes(value_shape);
            while classes != 0 {
                let class = classes.trailing_zeros();
                classes &= classes - 1;
                self.keys.add(combine(name_key, CLASS_DOMAIN << 8 | u64::from(class)));
            }
        }
    }

    /// Count `event`'s message pattern, if it is not an access log.
    pub fn learn_pattern(&mut self, event: &Event) {
        if message::is_message(event.status_code) {
            self.keys.add(message::pattern(event.raw));
            self.keys.add(MESSAGES_KEY);
        }
    }

    /// What the model counts of a request it judged anomalous (`path_key` and `point` as
    /// extracted, `ordinary` when the forest alone scored it under the threshold). (A message
    /// event's pattern is counted whatever its verdict, as it is scored, so a new log pattern
    /// is news the first times, not for as long as it keeps coming: see `Model::score`.)
    /// Counted is a request to a path never learned, when it was ordinary apart from that:
    /// the forest found nothing odd, the status is below 400 and the client asked mostly for
    /// known paths. A page deployed after the warm-up is then news for its first
    /// `new_path_alerts` such requests, not for good (it was never learned before, every
    /// request to it being flagged). A scanner's probes are not counted: they fail, or come
    /// from a client whose requests are mostly news. The rest of [`FeatureExtractor::learn_keyed`]
    /// stays out, so an attack on a known page keeps looking like one, and the flagged requests
    /// are counted apart from the learned ones, over which the per-path ratios (a status's
    /// share, a parameter's) are taken.
    pub fn learn_news(&mut self, event: &Event, path_key: u64, point: &Point, ordinary: bool) {
        if ordinary
            && event.status_code < 400
            && point[Feature::IpNovelShare as usize] <= MAX_NOVEL_SHARE
            && self.keys.count(path_key) == 0
        {
            self.keys.add(combine(path_key, FLAGGED_DOMAIN));
        }
    }

    /// How often `event`'s message pattern was learned, among the messages learned (events
    /// that are not access logs; see [`message`]).
    pub fn pattern_facts(&self, event: &Event) -> PatternFacts {
        PatternFacts { seen: self.keys.count(message::pattern(event.raw)), learned: self.keys.count(MESSAGES_KEY) }
    }

    /// Facts about `event`'s path for a reason: times the path was learned, times with this
    /// status, the path's most common status and its count, and events learned in all.
    pub fn path_facts(&self, event: &Event) -> PathFacts {
        let path_key = request::path_key(event.url);
        let status = |s: u16| self.keys.count(combine(path_key, STATUS_DOMAIN << 16 | u64::from(s)));
        let usual = COMMON_STATUSES.iter().map(|&s| (s, status(s))).max_by_key(|&(_, n)| n).unwrap_or((200, 0));
        PathFacts {
            seen: self.keys.count(path_key),
            with_status: status(event.status_code),
            usual_status: usual.0,
            usual_count: usual.1,
            learned: self.keys.events(),
        }
    }

    /// For each parameter of `event` on its path: (name, times seen, classes of its value
    /// never seen there, classes seen in at least half of its values).
    pub fn param_facts<'e>(&self, event: &Event<'e>) -> impl Iterator<Item = ParamFacts<'e>> + use<'_, 'e> {
        let path_key = request::path_key(event.url);
        request::params(event.url).map(move |(name, value)| {
            let name_key = combine(path_key, combine(NAME_DOMAIN, hash_bytes(name)));
            let seen = self.keys.count(name_key);
            let (mut new, mut usual) = (0u32, 0u32);
            for class in 0..request::CLASS_NAMES.len() as u32 {
                let n = self.keys.count(combine(name_key, CLASS_DOMAIN << 8 | u64::from(class)));
                if n == 0 && request::classes(request::value_shape(value)) & (1 << class) != 0 {
                    new |= 1 << class;
                }
                if seen > 0 && n * 2 >= seen {
                    usual |= 1 << class;
                }
            }
            ParamFacts { name, seen, new_classes: new, usual_classes: usual }
        })
    }

    /// Check an extractor decoded from a snapshot against the sizes the config asks for.
    pub fn validate(&self, ip_slots: usize, window_secs: u32) -> Result<(), String> {
        self.methods.validate(METHOD_SKETCH.0, METHOD_SKETCH.1)?;
        self.user_agents.validate(USER_AGENT_SKETCH.0, USER_AGENT_SKETCH.1)?;
        self.keys.validate(KEY_SKETCH.0, KEY_SKETCH.1)?;
        self.ips.validate(ip_slots, window_secs)
    }
}

/// Statuses looked at for a path's usual one.
const COMMON_STATUSES: [u16; 12] = [200, 301, 302, 304, 400, 401, 403, 404, 500, 201, 204, 303];

/// What the per-path statistics say about an event's path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathFacts {
    pub seen: u32,
    pub with_status: u32,
    pub usual_status: u16,
    pub usual_count: u32,
    pub learned: u32,
}

/// What the per-path statistics say about one parameter of an event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamFacts<'e> {
    pub name: &'e [u8],
    pub seen: u32,
    pub new_classes: u32,
    pub usual_classes: u32,
}
