//! Decoding a plugin's config table, which the agent hands over as JSON (from the plugin's
//! `[detectors.config]` or `[summarizers.config]` table in the agent's TOML).

use serde::de::DeserializeOwned;

/// `json` as the plugin's config type. A bad value's error names its key (`warmup: invalid
/// type: string "x", expected u64`) instead of a position in JSON the operator never wrote
/// (serde_json's own message said "at line 1 column 22").
pub fn decode<C: DeserializeOwned>(json: &str) -> Result<C, String> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        // The position is the agent's JSON's, not the operator's file's.
        let message = match message.rsplit_once(" at line ") {
            Some((message, _)) if inner.line() > 0 => message.to_owned(),
            _ => message,
        };
        if path == "." { message } else { format!("{path}: {message}") }
    })
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // read by the derive only
    struct Config {
        #[serde(default)]
        warmup: u64,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        share: f32,
    }

    #[test]
    fn a_bad_value_is_named_by_its_key_without_a_json_position() {
        let e = decode::<Config>(r#"{"warmup": "x"}"#).unwrap_err();
        assert_eq!(e, r#"warmup: invalid type: string "x", expected u64"#);
        let e = decode::<Config>(r#"{"inner": {"share": true}}"#).unwrap_err();
        assert_eq!(e, "inner.share: invalid type: boolean `true`, expected f32");
        let e = decode::<Config>(r#"{"warmpu": 3}"#).unwrap_err();
        assert!(e.contains("unknown field `warmpu`, expected `warmup` or `inner`"), "{e}");
        assert!(!e.contains("line"), "{e}");
        assert!(decode::<Config>(r#"{"warmup": 3}"#).is_ok());
    }
}
