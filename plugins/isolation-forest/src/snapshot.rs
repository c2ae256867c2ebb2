//! The snapshot format: a five-byte header, then the [`Model`] in postcard.
//!
//! The header is the tag `VGIF` and a format version byte. The version changes whenever the
//! model's serialised layout or the meaning of its contents (the hash, the random stream,
//! the feature order) changes, so an old snapshot is refused with a clear message instead of
//! being misread.

use crate::config::Params;
use crate::model::Model;

const TAG: &[u8; 4] = b"VGIF";
/// 3: the IP table remembers when it started (`IpWindowTable::started_ms`).
/// 4: a path with ids is counted under its pattern's key (`request::path_key`).
const FORMAT_VERSION: u8 = 4;

/// The model as snapshot bytes.
pub fn encode(model: &Model) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 << 16);
    bytes.extend_from_slice(TAG);
    bytes.push(FORMAT_VERSION);
    postcard::to_extend(model, bytes).expect("a model always serialises into a Vec")
}

/// Decode and validate snapshot bytes for a detector running with `current`.
pub fn decode(bytes: &[u8], current: Params) -> Result<Model, String> {
    let body = match bytes {
        [t0, t1, t2, t3, version, body @ ..] if [*t0, *t1, *t2, *t3] == *TAG => {
            if *version != FORMAT_VERSION {
                return Err(format!(
                    "snapshot format version {version} is not supported (this build reads {FORMAT_VERSION})"
                ));
            }
            body
        }
        _ => return Err("not an isolation-forest snapshot (missing the VGIF header)".to_owned()),
    };
    let (model, rest): (Model, _) = postcard::take_from_bytes(body).map_err(|e| format!("snapshot is corrupt: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("snapshot is corrupt: {} unexpected trailing bytes", rest.len()));
    }
    model.adopt(current)
}
