//! Close misspellings of the words that set a filter ("erors", "forbiden", "sql injecton"):
//! read as the word, and said in the answer. Without this, a misspelt filter word was dropped
//! and the answer counted every event, as if the question had no filter.
//!
//! Only this small vocabulary is corrected, a word only to one that starts with the same
//! letter and is one edit away (two for words of nine letters or more), so that ordinary words
//! of a question are never rewritten into filters.

/// The words corrected to: the filter words of `status_filter` and `attack_filter`.
const VOCABULARY: &[&str] = &[
    "error",
    "errors",
    "failed",
    "failure",
    "failures",
    "forbidden",
    "unauthorized",
    "unauthorised",
    "redirect",
    "redirects",
    "success",
    "successful",
    "attack",
    "attacks",
    "injection",
    "injections",
    "traversal",
    "scanner",
    "scanners",
    "malicious",
];

/// Words one edit from a vocabulary word that are words of their own.
const WORDS: &[&str] = &["attach", "scanned", "scanning", "injected", "erred", "fails", "failing"];

/// `text` with each close misspelling replaced by its word, and the replacements made
/// (as written, as read).
pub fn correct(text: &str) -> (String, Vec<(String, &'static str)>) {
    let mut out = String::with_capacity(text.len());
    let mut corrected = Vec::new();
    let mut last = 0;
    for (at, word) in words(text) {
        if let Some(right) = closest(word) {
            out.push_str(&text[last..at]);
            out.push_str(right);
            last = at + word.len();
            corrected.push((word.to_owned(), right));
        }
    }
    out.push_str(&text[last..]);
    (out, corrected)
}

/// The words of `text` (ASCII letters) with their offsets.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .scan(0, |offset, word| {
            let at = *offset;
            *offset += word.len() + 1;
            Some((at, word))
        })
        .filter(|(_, word)| !word.is_empty())
}

fn closest(word: &str) -> Option<&'static str> {
    if word.len() < 4 || VOCABULARY.contains(&word) || WORDS.contains(&word) {
        return None;
    }
    let allowed = if word.len() >= 9 { 2 } else { 1 };
    VOCABULARY
        .iter()
        .filter(|right| right.as_bytes()[0] == word.as_bytes()[0] && !word.starts_with(*right))
        .map(|right| (strsim::damerau_levenshtein(word, right), *right))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, right)| right)
}

#[cfg(test)]
mod tests {
    use super::correct;

    #[test]
    fn close_misspellings_of_filter_words_are_corrected_and_others_left() {
        let (text, corrected) = correct(" how many erors and forbiden requests? ");
        assert_eq!(text, " how many errors and forbidden requests? ");
        assert_eq!(corrected, [("erors".to_owned(), "errors"), ("forbiden".to_owned(), "forbidden")]);
        assert_eq!(correct(" sql injecton from scaners ").0, " sql injection from scanners ");
        for question in [" how many requests today? ", " which ip had the most errors ", " failed logins ", " terror "]
        {
            assert_eq!(correct(question), (question.to_owned(), vec![]), "{question}");
        }
    }
}
