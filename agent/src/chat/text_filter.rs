//! Which text a question asks the lines to contain: a quoted phrase (`how many "Failed
//! password"`), or the words after "containing", "mentioning", "matching" or "with the text"
//! up to the next word of the question's frame (`how many lines mention invalid user today`).
//! The events are then those whose URL, user agent or line holds the text, ignoring ASCII
//! case: the store's `q` search (`/api/v1/logs?q=`), so `/chat` and the log search agree.

use regex::Regex;
use std::sync::LazyLock;

/// The longest text a question may ask for, in bytes.
const MAX_TEXT: usize = 200;

static QUOTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""([^"]+)"|“([^”]+)”|(?:^|\s)'([^']+)'(?:\s|[?!.,]|$)"#).expect("valid regex"));
static INTRODUCED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:containing|contains?|mentioning|mentions?|matching|match|saying|says|with the (?:text|word|words|phrase|string))\s+(.+)",
    )
    .expect("valid regex")
});

/// Words that end an unquoted text: the rest of the question's frame (its window, grouping,
/// source), and the words that begin one.
const ENDS_TEXT: &[&str] = &[
    "in",
    "on",
    "at",
    "from",
    "since",
    "between",
    "during",
    "before",
    "after",
    "today",
    "yesterday",
    "this",
    "last",
    "past",
    "per",
    "by",
    "and",
    "or",
    "for",
    "over",
    "within",
    "until",
    "till",
];

/// Most words an unquoted text takes.
const MAX_WORDS: usize = 6;

/// Phrases of system logs read as the text they name when a question does not quote them
/// ("how many failed password lines?", "how many invalid users?"): the count of lines holding
/// them is exact, while "failed" read as an HTTP error status counted nothing on system logs
/// (or the access log's 4xx/5xx on mixed data).
static LOG_PHRASES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"\bfailed passwords?\b", "failed password"),
        (r"\bauthentication failures?\b|\bauth failures?\b", "authentication failure"),
        (r"\binvalid users?\b", "invalid user"),
        (r"\bpossible break-?in attempts?\b|\bbreak-?in attempts?\b|\bbreak-?ins?\b", "break-in attempt"),
        (r"\baccepted passwords?\b", "accepted password"),
    ]
    .into_iter()
    .map(|(pattern, text)| (Regex::new(pattern).expect("valid regex"), text))
    .collect()
});

/// The text a question asks for, in ASCII lower case, and the question with it blanked out
/// (so its words are not read as statuses, methods or intents: "failed" is not an error
/// status in `how many "Failed password"`). `None` when the question asks for no text.
pub fn read(text: &str) -> Option<(String, String)> {
    if let Some(caps) = QUOTED.captures(text) {
        let found = caps.get(1).or_else(|| caps.get(2)).or_else(|| caps.get(3))?;
        let wanted = found.as_str().trim();
        let whole = caps.get(0).expect("the whole match");
        return accept(wanted).map(|wanted| (wanted, blanked(text, whole.range())));
    }
    let Some(caps) = INTRODUCED.captures(text) else {
        return LOG_PHRASES.iter().find_map(|(pattern, wanted)| {
            pattern.find(text).map(|m| ((*wanted).to_owned(), blanked(text, m.range())))
        });
    };
    let after = caps.get(1).expect("a text after the cue");
    let mut end = after.start();
    let mut words = 0;
    for word in after.as_str().split_inclusive(char::is_whitespace) {
        if word.trim().is_empty() {
            end += word.len(); // a second space
            continue;
        }
        let bare = word.trim().trim_end_matches(['?', '!', '.', ',', ';']);
        if bare.is_empty() || ENDS_TEXT.contains(&bare) || words == MAX_WORDS {
            break;
        }
        words += 1;
        end += word.len();
        if bare.len() != word.trim().len() {
            break; // "mention timeout?" ends at its punctuation
        }
    }
    let wanted = text[after.start()..end].trim().trim_end_matches(['?', '!', '.', ',', ';']);
    let wanted = wanted.split_whitespace().collect::<Vec<_>>().join(" ");
    let cue = caps.get(0).expect("the whole match").start();
    accept(&wanted).map(|wanted| (wanted, blanked(text, cue..end)))
}

fn accept(wanted: &str) -> Option<String> {
    let wanted = wanted.trim();
    (!wanted.is_empty() && wanted.len() <= MAX_TEXT).then(|| wanted.to_ascii_lowercase())
}

/// `text` with `range` blanked, as `timerange` blanks the window's words.
fn blanked(text: &str, range: std::ops::Range<usize>) -> String {
    let mut rest = text.to_owned();
    super::timerange::blank(&mut rest, range);
    rest
}

/// "containing \"failed password\"".
pub fn describe(wanted: &str) -> String {
    format!("containing \"{wanted}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(question: &str) -> Option<String> {
        read(question).map(|(wanted, _)| wanted)
    }

    #[test]
    fn quoted_and_introduced_texts_are_read_and_blanked() {
        assert_eq!(wanted(r#" how many "failed password" attempts today? "#).as_deref(), Some("failed password"));
        assert_eq!(wanted(" how many ‘x’ or “connection reset” lines? ").as_deref(), Some("connection reset"));
        assert_eq!(wanted(" how many lines mention 'invalid user' since 10:00? ").as_deref(), Some("invalid user"));
        assert_eq!(wanted(" how many events mention invalid user? ").as_deref(), Some("invalid user"));
        assert_eq!(wanted(" events mentioning invalid  user   since 10:00 ").as_deref(), Some("invalid user"));
        assert_eq!(
            wanted(" which ip sent the most lines containing wp-login in the last hour ").as_deref(),
            Some("wp-login")
        );
        assert_eq!(wanted(" requests matching /admin by status ").as_deref(), Some("/admin"));
        assert_eq!(wanted(" how many logs with the text out of memory ").as_deref(), Some("out of memory"));
        assert_eq!(wanted(" how many failed password lines? ").as_deref(), Some("failed password"));
        assert_eq!(wanted(" how many authentication failures? ").as_deref(), Some("authentication failure"));
        assert_eq!(wanted(" how many break-in attempts? ").as_deref(), Some("break-in attempt"));
        let (_, rest) = read(" which ip had the most failed passwords? ").unwrap();
        assert!(!rest.contains("fail"), "the phrase is blanked: {rest}");
        let (_, rest) = read(r#" how many "failed password" attempts? "#).unwrap();
        assert!(!rest.contains("fail"), "the text is blanked: {rest}");
        assert!(rest.contains("how many") && rest.contains("attempts"), "{rest}");
    }

    #[test]
    fn questions_without_a_text_have_none() {
        for question in
            [" how many 500s today? ", " which ip sent the most requests ", " what's the error rate? ", " don't "]
        {
            assert_eq!(wanted(question), None, "{question}");
        }
        assert_eq!(wanted(r#" how many "" lines "#), None, "an empty quote");
        assert_eq!(wanted(&format!(" \"{}\" ", "x".repeat(MAX_TEXT + 1))), None, "too long");
    }
}
