//! Snapshot helpers: a detector's learned state as bytes (postcard) behind a small header,
//! so a snapshot from another plugin or another layout is refused with a clear message
//! instead of being misread.
//!
//! The header is the tag `VGST`, the plugin's own format version (one byte) and then the
//! serde value in postcard. Bump the version whenever the state's layout or meaning changes
//! (field order, feature order, a hash): restoring an old snapshot then fails with a message
//! naming both versions instead of misreading it.
//!
//! ```
//! use vigil_plugin_sdk::state;
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Model { mean: f64, seen: u64 }
//!
//! let bytes = state::encode(1, &Model { mean: 2.5, seen: 10 });
//! let model: Model = state::decode(1, &bytes).unwrap();
//! assert_eq!(model, Model { mean: 2.5, seen: 10 });
//! assert!(state::decode::<Model>(2, &bytes).unwrap_err().to_string().contains("version 1"));
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;

const TAG: &[u8; 4] = b"VGST";
const HEADER: usize = TAG.len() + 1;

/// Why a snapshot could not be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// No bytes at all (a detector that has not learned anything yet snapshots as empty).
    Empty,
    /// The bytes do not start with the SDK's header: not a snapshot made by [`encode`].
    NotASnapshot,
    /// Made by [`encode`] with another format version.
    Version { found: u8, expected: u8 },
    /// The right header, but the body does not decode as the expected type.
    Corrupt(String),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Empty => write!(f, "snapshot is empty"),
            StateError::NotASnapshot => {
                write!(f, "not a vigil-plugin-sdk snapshot (missing the VGST header); was it made by another plugin?")
            }
            StateError::Version { found, expected } => write!(
                f,
                "snapshot format version {found} is not supported: this build of the plugin reads version {expected}"
            ),
            StateError::Corrupt(why) => write!(f, "snapshot is corrupt: {why}"),
        }
    }
}

impl std::error::Error for StateError {}

/// So `state::decode(..)?` works in [`crate::Detector::restore`], which returns `String` errors.
impl From<StateError> for String {
    fn from(e: StateError) -> String {
        e.to_string()
    }
}

/// `value` as snapshot bytes: the header with `version`, then postcard.
pub fn encode<T: Serialize + ?Sized>(version: u8, value: &T) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(256);
    bytes.extend_from_slice(TAG);
    bytes.push(version);
    // Serialising into a Vec only fails for types serde cannot describe to postcard (maps with
    // unknown length from a hand-written Serialize); the SDK's own types never do that.
    postcard::to_extend(value, bytes).expect("state serialises with postcard")
}

/// Read bytes made by [`encode`] with the same `version`; trailing bytes are refused.
pub fn decode<T: DeserializeOwned>(version: u8, bytes: &[u8]) -> Result<T, StateError> {
    let found = peek_version(bytes)?;
    if found != version {
        return Err(StateError::Version { found, expected: version });
    }
    let (value, rest) = postcard::take_from_bytes(&bytes[HEADER..]).map_err(|e| StateError::Corrupt(e.to_string()))?;
    if !rest.is_empty() {
        return Err(StateError::Corrupt(format!("{} unexpected trailing bytes", rest.len())));
    }
    Ok(value)
}

/// The format version of snapshot bytes, for a detector that migrates old versions itself.
pub fn peek_version(bytes: &[u8]) -> Result<u8, StateError> {
    match bytes {
        [] => Err(StateError::Empty),
        [t0, t1, t2, t3, version, ..] if [*t0, *t1, *t2, *t3] == *TAG => Ok(*version),
        _ => Err(StateError::NotASnapshot),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Model {
        centroids: Vec<[f32; 2]>,
        seen: u64,
    }

    fn model() -> Model {
        Model { centroids: vec![[1.0, 2.0], [3.0, 4.0]], seen: 7 }
    }

    #[test]
    fn round_trip() {
        let bytes = encode(3, &model());
        assert_eq!(&bytes[..5], b"VGST\x03");
        assert_eq!(decode::<Model>(3, &bytes), Ok(model()));
        assert_eq!(peek_version(&bytes), Ok(3));
    }

    #[test]
    fn version_mismatch_names_both_versions() {
        let err = decode::<Model>(2, &encode(1, &model())).unwrap_err();
        assert_eq!(err, StateError::Version { found: 1, expected: 2 });
        assert_eq!(
            String::from(err),
            "snapshot format version 1 is not supported: this build of the plugin reads version 2"
        );
    }

    #[test]
    fn empty_foreign_truncated_and_padded_bytes_are_refused() {
        assert_eq!(decode::<Model>(1, &[]), Err(StateError::Empty));
        assert_eq!(decode::<Model>(1, b"VGIF\x01abc"), Err(StateError::NotASnapshot));
        let bytes = encode(1, &model());
        assert!(matches!(decode::<Model>(1, &bytes[..bytes.len() - 3]), Err(StateError::Corrupt(_))));
        let mut padded = bytes.clone();
        padded.push(0);
        assert_eq!(decode::<Model>(1, &padded), Err(StateError::Corrupt("1 unexpected trailing bytes".into())));
    }
}
