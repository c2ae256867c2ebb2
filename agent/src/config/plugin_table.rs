//! A plugin's own config table (`[detectors.config]`, `[summarizers.config]`) as the JSON the
//! plugin receives. serde_json writes what JSON cannot hold without a word: `nan` and `inf`
//! became `null` (the plugin then said "invalid type: null, expected f64" of a value written
//! as a float) and a TOML date became a map with a private key. Here a non-finite float is
//! refused by its key, and a date or time is handed over as its RFC 3339 text.

use serde_json::Value;

/// The table as JSON text, or the dotted key of a value JSON cannot hold and why.
pub(crate) fn to_json(table: &toml::Table) -> Result<String, (String, String)> {
    let value = convert(&toml::Value::Table(table.clone()), "")?;
    Ok(value.to_string())
}

fn convert(value: &toml::Value, key: &str) -> Result<Value, (String, String)> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => Value::Number(n),
            None => return Err((key.to_owned(), format!("{f} has no JSON form, and plugins get their table as JSON"))),
        },
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(
            items.iter().enumerate().map(|(i, v)| convert(v, &format!("{key}[{i}]"))).collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| {
                    let path = if key.is_empty() { k.clone() } else { format!("{key}.{k}") };
                    Ok((k.clone(), convert(v, &path)?))
                })
                .collect::<Result<_, (String, String)>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::to_json;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_table_becomes_the_same_json_and_dates_their_text() {
        let json = to_json(&table("a = 1\nb = [0.5, \"x\"]\n[c]\nd = true\nwhen = 2026-12-05T10:00:00Z\n")).unwrap();
        assert_eq!(json, r#"{"a":1,"b":[0.5,"x"],"c":{"d":true,"when":"2026-12-05T10:00:00Z"}}"#);
    }

    #[test]
    fn a_float_json_cannot_hold_is_refused_by_its_key() {
        assert_eq!(to_json(&table("ratio = nan")).unwrap_err().0, "ratio");
        let (key, why) = to_json(&table("[inner]\nlimits = [1.0, inf]")).unwrap_err();
        assert_eq!(key, "inner.limits[1]");
        assert!(why.starts_with("inf has no JSON form"), "{why}");
    }
}
