//! URL patterns (a path with its variable parts replaced: `/users/{n}/orders/{id}`) and the
//! bounded memory of the patterns seen before, which tells which ones are new.

use foldhash::HashSet;
use serde::{Deserialize, Serialize};
// What a path segment becomes in a pattern: the SDK's rule, shared with the detectors.
use vigil_plugin_sdk::features::path_segment_class;

/// Path segments kept in a pattern; deeper paths end in `/…`.
const MAX_SEGMENTS: usize = 12;

/// The path of a request target: without query string or fragment.
pub fn path_of(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

/// The pattern of a request target, e.g. `/api/items/42?x=1` → `/api/items/{n}`.
pub fn pattern_of(url: &str) -> String {
    let path = path_of(url);
    let mut out = String::with_capacity(path.len().min(256));
    for (i, segment) in path.split('/').enumerate() {
        if i > MAX_SEGMENTS {
            out.push_str("/…");
            break;
        }
        if i > 0 {
            out.push('/');
        }
        out.push_str(path_segment_class(segment.as_bytes()).unwrap_or(segment));
    }
    out
}

/// FNV-1a over the pattern of `url`, computed without building the pattern: only new
/// patterns are ever spelled out. Must agree with [`pattern_of`] (a test checks it).
pub fn pattern_hash(url: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut hash = OFFSET;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    for (i, segment) in path_of(url).split('/').enumerate() {
        if i > MAX_SEGMENTS {
            feed("/…".as_bytes());
            break;
        }
        if i > 0 {
            feed(b"/");
        }
        feed(path_segment_class(segment.as_bytes()).unwrap_or(segment).as_bytes());
    }
    hash
}

/// The patterns seen recently, as hashes, in two generations: when the current one is full
/// it becomes the previous one (the older is forgotten), and a pattern found in the previous
/// generation moves to the current. Memory stays under `capacity` hashes, and a pattern in
/// steady use is never forgotten: an approximate LRU at the cost of two set lookups.
#[derive(Clone, Debug, Default)]
pub struct SeenPatterns {
    generation: usize,
    current: HashSet<u64>,
    previous: HashSet<u64>,
}

/// The persisted form of [`SeenPatterns`].
#[derive(Serialize, Deserialize)]
pub struct SeenState {
    pub current: Vec<u64>,
    pub previous: Vec<u64>,
}

impl SeenPatterns {
    /// Remember at most `capacity` patterns.
    pub fn new(capacity: usize) -> Self {
        SeenPatterns { generation: (capacity / 2).max(1), ..Default::default() }
    }

    /// Note `hash`; true when it was not seen before (or has been forgotten).
    pub fn is_new(&mut self, hash: u64) -> bool {
        if self.current.contains(&hash) {
            return false;
        }
        let known = self.previous.remove(&hash);
        if self.current.len() >= self.generation {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(hash);
        !known
    }

    /// Patterns remembered.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// The state to persist.
    pub fn state(&self) -> SeenState {
        SeenState { current: self.current.iter().copied().collect(), previous: self.previous.iter().copied().collect() }
    }

    /// Load a persisted state, keeping within this set's capacity.
    pub fn load(&mut self, state: SeenState) {
        let keep = self.generation;
        self.current = state.current.into_iter().take(keep).collect();
        self.previous = state.previous.into_iter().take(keep).collect();
    }
}
