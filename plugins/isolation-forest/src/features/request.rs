//! The parts of a request target that per-path statistics are keyed on: the path, and each
//! query parameter's name and the shape of its value (which classes of characters it holds,
//! and roughly how long it is). Nothing here allocates.

/// Character classes a parameter value can hold, one bit each.
pub const CLASS_NAMES: [&str; 24] = [
    "lowercase letters",
    "uppercase letters",
    "digits",
    "spaces or '+'",
    "'-'",
    "'_'",
    "'.'",
    "'@'",
    "'%'",
    "single quotes",
    "double quotes",
    "'<' or '>'",
    "';'",
    "parentheses",
    "'='",
    "'/'",
    "backslashes",
    "'*'",
    "'|' or '&'",
    "',' or ':'",
    "non-ASCII bytes",
    "control characters",
    "'#', '$', '!' or '~'",
    "other punctuation",
];

const fn class_of(b: u8) -> u32 {
    match b {
        b'a'..=b'z' => 0,
        b'A'..=b'Z' => 1,
        b'0'..=b'9' => 2,
        b' ' | b'+' => 3,
        b'-' => 4,
        b'_' => 5,
        b'.' => 6,
        b'@' => 7,
        b'%' => 8,
        b'\'' => 9,
        b'"' => 10,
        b'<' | b'>' => 11,
        b';' => 12,
        b'(' | b')' => 13,
        b'=' => 14,
        b'/' => 15,
        b'\\' => 16,
        b'*' => 17,
        b'|' | b'&' => 18,
        b',' | b':' => 19,
        128..=255 => 20,
        0..=31 | 127 => 21,
        b'#' | b'$' | b'!' | b'~' => 22,
        _ => 23,
    }
}

const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = class_of(b as u8) as u8;
        b += 1;
    }
    table
};

/// Classes whose first appearance in a parameter is evidence on its own: quotes, angle
/// brackets, `;`, parentheses, `%`, `=`, `/`, backslashes, `*`, `|`/`&` and control characters
/// carry injections, traversals and encodings. The others (letters, digits, spaces, `.`,
/// `@`, non-ASCII...) turn up in honest values too, so they only feed the forest.
pub const DANGEROUS_CLASSES: u32 =
    1 << 8 | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 13 | 1 << 14 | 1 << 15 | 1 << 16 | 1 << 17 | 1 << 18 | 1 << 21;

/// Bytes that carry injections (quotes, angle brackets, `;`, parentheses, backslashes,
/// backticks, `|`, `{}`, NUL and line breaks).
pub fn is_dangerous(b: u8) -> bool {
    matches!(b, b'\'' | b'"' | b'<' | b'>' | b';' | b'(' | b')' | b'\\' | b'`' | b'|' | b'{' | b'}' | 0 | b'\r' | b'\n')
}

/// The set of character classes in `value`, plus a length bucket in bits 24-25 (up to 16,
/// 64, 256 bytes, longer).
pub fn value_shape(value: &[u8]) -> u32 {
    let mut mask = 0u32;
    for &b in value {
        mask |= 1 << CLASS[b as usize];
    }
    let bucket = match value.len() {
        0..=16 => 0,
        17..=64 => 1,
        65..=256 => 2,
        _ => 3,
    };
    mask | (bucket << 24)
}

/// The classes of a shape, without its length bucket.
pub fn classes(shape: u32) -> u32 {
    shape & 0x00FF_FFFF
}

/// The path of a request target: everything before `?` or `#`.
pub fn path(url: &str) -> &[u8] {
    let bytes = url.as_bytes();
    let end = bytes.iter().position(|&b| b == b'?' || b == b'#').unwrap_or(bytes.len());
    &bytes[..end]
}

/// The key of a request's path in the per-path statistics: its pattern's, the path with each
/// segment that names one resource among many (a number, an id, a token) taken as its class
/// (`vigil_plugin_sdk::features::path_segment_class`). `/shop/item/1000` is keyed as
/// `/shop/item/7` is, so a product first visited after the warm-up is a known page, not a
/// path never requested before. A path without such segments is keyed by its own hash.
pub fn path_key(url: &str) -> u64 {
    use super::hash::{combine, hash_bytes};
    use vigil_plugin_sdk::features::path_segment_class;
    let path = path(url);
    let segments = || path.split(|&b| b == b'/');
    if segments().all(|segment| path_segment_class(segment).is_none()) {
        return hash_bytes(path);
    }
    // Segment by segment, not by writing the pattern out and hashing that: in wasm a copy of
    // variable length is a call into the host (`plugin_ab` against the plugin before: 0.939
    // written out, 0.953 this way, each then working the key out twice per event).
    segments().fold(PATTERN_SEED, |key, segment| {
        combine(key, hash_bytes(path_segment_class(segment).map_or(segment, str::as_bytes)))
    })
}

/// Where a path pattern's key starts, apart from every other key.
const PATTERN_SEED: u64 = 0x7061_7474_6572_6e73;

/// The `name=value` parameters of the query (between `?` and `#`), empty ones skipped.
pub fn params(url: &str) -> impl Iterator<Item = (&[u8], &[u8])> {
    let bytes = url.as_bytes();
    let query = match bytes.iter().position(|&b| b == b'?') {
        Some(q) => {
            let rest = &bytes[q + 1..];
            &rest[..rest.iter().position(|&b| b == b'#').unwrap_or(rest.len())]
        }
        None => &[][..],
    };
    query.split(|&b| b == b'&').filter(|p| !p.is_empty()).map(|p| match p.iter().position(|&b| b == b'=') {
        Some(eq) => (&p[..eq], &p[eq + 1..]),
        None => (p, &[][..]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_differ_only_in_ids_share_a_key() {
        use vigil_plugin_sdk::features::hash_bytes;
        let key = path_key("/shop/item/1000");
        assert_eq!(path_key("/shop/item/7?colour=red"), key);
        assert_ne!(path_key("/shop/items/7"), key);
        assert_ne!(path_key("/shop/item/7/reviews"), key);
        assert_ne!(path_key("/shop/item/"), key);
        assert_eq!(
            path_key("/users/42/orders/123e4567-e89b-12d3-a456-426614174000"),
            path_key("/users/9/orders/0a1b2c3d4e5f")
        );
        assert_ne!(path_key("/users/42/orders/0a1b2c3d4e5f"), path_key("/users/42/orders/7"), "{{id}} is not {{n}}");
        // A path without ids is keyed by its own hash, as before ids had a class.
        assert_eq!(path_key("/static/app.js?v=3"), hash_bytes(b"/static/app.js"));
    }

    #[test]
    fn parameters_and_path_are_split() {
        let url = "/shop/add.jsp?id=3&name=vino+rioja&flag&=x#frag";
        assert_eq!(path(url), b"/shop/add.jsp");
        let p: Vec<_> = params(url).collect();
        assert_eq!(p, vec![(&b"id"[..], &b"3"[..]), (b"name", b"vino+rioja"), (b"flag", b""), (b"", b"x")]);
        assert_eq!(params("/plain").count(), 0);
    }

    #[test]
    fn injection_has_classes_a_number_lacks() {
        let number = classes(value_shape(b"55"));
        let injection = classes(value_shape(b"';+drop+table+usuarios;"));
        assert_eq!(number, 1 << 2);
        assert!(injection & (1 << 9) != 0 && injection & (1 << 12) != 0);
        assert_eq!(value_shape(&[b'a'; 300]) >> 24, 3);
    }
}
