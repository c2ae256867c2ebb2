//! The shape of a request target, measured in one pass over its bytes without allocating:
//! length, path depth, query parameter count and the share of special characters.

/// Bytes that are ordinary in a URL: letters, digits and `/ . - _`. Everything else
/// (percent signs, quotes, `<`, `;`, `=`, `&`, non-ASCII bytes) counts as special.
const ORDINARY: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'/' | b'.' | b'-' | b'_');
        b += 1;
    }
    table
};

/// What [`measure`] finds in a URL.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UrlShape {
    /// Length in bytes.
    pub length: u32,
    /// Non-empty `/`-separated segments of the path (before `?` and `#`).
    pub depth: u32,
    /// Non-empty `&`-separated parameters of the query (between `?` and `#`).
    pub query_params: u32,
    /// Bytes outside letters, digits and `/ . - _`, as a share of the length (0 when empty).
    pub special_share: f32,
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Path,
    Query,
    Fragment,
}

/// Measure `url` in a single pass.
pub fn measure(url: &str) -> UrlShape {
    let bytes = url.as_bytes();
    let (mut depth, mut params, mut special) = (0u32, 0u32, 0u32);
    let mut part = Part::Path;
    // Whether the current segment or parameter has already been counted.
    let mut in_item = false;
    for &b in bytes {
        special += u32::from(!ORDINARY[b as usize]);
        match (part, b) {
            (Part::Fragment, _) => {}
            (_, b'#') => part = Part::Fragment,
            (Part::Path, b'?') => (part, in_item) = (Part::Query, false),
            (Part::Path, b'/') | (Part::Query, b'&') => in_item = false,
            (Part::Path, _) if !in_item => (depth, in_item) = (depth + 1, true),
            (Part::Query, _) if !in_item => (params, in_item) = (params + 1, true),
            _ => {}
        }
    }
    let length = bytes.len() as u32;
    let special_share = if length == 0 { 0.0 } else { special as f32 / length as f32 };
    UrlShape { length, depth, query_params: params, special_share }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_query_are_counted() {
        let shape = measure("/a/b?x=1&y=2");
        assert_eq!((shape.length, shape.depth, shape.query_params), (12, 2, 2));
        // '?', two '=' and one '&' are special: 4 of 12 bytes.
        assert!((shape.special_share - 4.0 / 12.0).abs() < 1e-6);
    }

    #[test]
    fn empty_segments_and_parameters_do_not_count() {
        let shape = measure("//a///b/?&&x&#frag/c?d=1&e");
        assert_eq!((shape.depth, shape.query_params), (2, 1));
    }

    #[test]
    fn root_and_empty_urls() {
        assert_eq!(measure("/"), UrlShape { length: 1, depth: 0, query_params: 0, special_share: 0.0 });
        assert_eq!(measure(""), UrlShape::default());
    }

    #[test]
    fn injection_looks_special() {
        let plain = measure("/static/app-1.2_min.js");
        let attack = measure("/search?q=%27%20OR%201=1--%3Cscript%3E");
        assert_eq!(plain.special_share, 0.0);
        assert!(attack.special_share > 0.2, "{}", attack.special_share);
    }
}
