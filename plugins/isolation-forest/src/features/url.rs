//! The shape of a request target: length, path depth, query parameter count and the share of
//! special characters. The SDK measures it (`vigil_plugin_sdk::features::url_shape`, one pass,
//! no allocation); this module only names it the way the forest's features use it.

pub use vigil_plugin_sdk::features::url_shape as measure;

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::features::UrlShape;

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
