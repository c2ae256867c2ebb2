//! Masking: a line's variable parts become `<*>` before it is clustered, so two lines of the
//! same event differ only where Drain has to look.
//!
//! One pass over the bytes, no regex: the miner runs on every non-access line of the pipeline,
//! and a regex set per token would cost more than the clustering itself. The rules, in order:
//! - a whitespace token holding `://` (a URL), or starting with `/`, `~/`, `./` or `X:\` after
//!   its leading punctuation with a second separator inside (a path), is one `<*>`;
//! - otherwise the token is cut into words (runs of letters and digits) and the punctuation
//!   between them; a word with a digit in it is a variable (numbers, hex ids, block ids such
//!   as `blk_-123`, IPs, times, versions, `node-246`);
//! - variables joined only by `.:-_/,+@` (an IP and port, a date and time, a MAC address) are
//!   one `<*>`, and a `-` sign before a number is part of it.

/// What stands for a variable part, in masked text and in templates.
pub const WILDCARD: &str = "<*>";

/// Writes the masked form of `line` into `out` (cleared first): its tokens, masked, joined by
/// one space. Returns the number of tokens.
pub fn mask_line(line: &str, out: &mut String) -> usize {
    out.clear();
    let mut tokens = 0;
    // Where the last token starts in `out`.
    let mut last = 0;
    for token in line.split_ascii_whitespace() {
        let after_number = tokens > 0 && out.ends_with(WILDCARD);
        let in_parens = after_number && &out[last..] == "(<*>";
        let joined = if after_number { unit(token).filter(|(unit, _)| in_parens || unit.joins_number()) } else { None };
        match joined {
            // `5 ms`, `<1 sec`, `(1.2 KB)`: the unit joins its number.
            Some((_, rest)) => out.push_str(rest),
            None => {
                if tokens > 0 {
                    out.push(' ');
                }
                last = out.len();
                mask_token(token, out);
                tokens += 1;
            }
        }
        if &out[last..] == "(<*>)" {
            // A bare parenthesised quantity restates the one before it (`1190 bytes (1.16 KB)`).
            out.truncate(last.saturating_sub(1));
            tokens -= 1;
            last = out.rfind(' ').map_or(0, |space| space + 1);
        }
    }
    tokens
}

/// A unit after a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// An abbreviated unit of time (`ms`, `sec`): joins its number, as `<1 sec` and `00:01`
    /// are the same variable.
    Time,
    /// A unit of size (`KB`): joins its number only inside parentheses, since outside they
    /// tell events apart (`Total disk: 15 GB` and `Total memory: 512 MB`).
    Size,
}

impl Unit {
    fn joins_number(self) -> bool {
        self == Unit::Time
    }
}

/// The unit `token` starts with and the punctuation after it (`ms`, `sec)`, `KB,`), or `None`.
/// Whole words (`seconds`, `bytes`) are not units here: they stay words of the template.
fn unit(token: &str) -> Option<(Unit, &str)> {
    let word = token.bytes().take_while(u8::is_ascii_alphabetic).count();
    let rest = &token[word..];
    if word == 0 || word > 4 || !rest.bytes().all(|b| b.is_ascii_punctuation()) {
        return None;
    }
    const TIME: [&str; 11] = ["ns", "us", "ms", "s", "sec", "secs", "min", "mins", "h", "hr", "hrs"];
    const SIZE: [&str; 9] = ["b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib"];
    let name = &token[..word];
    if TIME.iter().any(|u| u.eq_ignore_ascii_case(name)) {
        Some((Unit::Time, rest))
    } else if SIZE.iter().any(|u| u.eq_ignore_ascii_case(name)) {
        Some((Unit::Size, rest))
    } else {
        None
    }
}

fn mask_token(token: &str, out: &mut String) {
    let bytes = token.as_bytes();
    let Some(at) = path_start(bytes) else {
        mask_words(token, out);
        return;
    };
    mask_words(&token[..at], out);
    let trail = bytes[at..].iter().rev().take_while(|b| is_close_punct(**b)).count();
    out.push_str(WILDCARD);
    out.push_str(&token[token.len() - trail..]);
}

fn mask_words(token: &str, out: &mut String) {
    let bytes = token.as_bytes();
    let mut i = 0;
    // Where the last variable written ends in `out`, to join the next one to it.
    let mut last_var_end: Option<usize> = None;
    while i < bytes.len() {
        if is_word_byte(bytes[i]) {
            let start = i;
            let mut digit = false;
            while i < bytes.len() && is_word_byte(bytes[i]) {
                digit |= bytes[i].is_ascii_digit();
                i += 1;
            }
            // Day and month names are parts of a date, hence variables.
            digit |= is_calendar_name(&bytes[start..i]);
            let joined = last_var_end.filter(|end| out[*end..].bytes().all(is_joiner));
            if !digit {
                // Hex letters joined to a variable continue it (`1d4a-bdcc-...` in a UUID).
                let hex = i - start >= 4 && bytes[start..i].iter().all(u8::is_ascii_hexdigit);
                if let (Some(end), true) = (joined, hex) {
                    out.truncate(end);
                } else {
                    out.push_str(&token[start..i]);
                    last_var_end = None;
                }
                continue;
            }
            match joined {
                // Only joiners since the last variable: extend it.
                Some(end) => out.truncate(end),
                None => {
                    // A sign or comparison right before a number belongs to it (`-1`, `<1`).
                    let o = out.as_bytes();
                    if matches!(o.last(), Some(b'-' | b'<' | b'>' | b'~'))
                        && (o.len() == 1 || !is_word_byte(o[o.len() - 2]))
                    {
                        out.pop();
                    }
                    out.push_str(WILDCARD);
                }
            }
            last_var_end = Some(out.len());
        } else {
            // Punctuation (and any non-ASCII character, which is copied whole).
            let start = i;
            i += 1;
            while i < bytes.len() && !is_word_byte(bytes[i]) {
                i += 1;
            }
            out.push_str(&token[start..i]);
        }
    }
}

/// Letters and digits; bytes of non-ASCII characters count as letters, so a word in any
/// script stays one word.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

fn is_joiner(b: u8) -> bool {
    matches!(b, b'.' | b':' | b'-' | b'_' | b'/' | b',' | b'+' | b'@')
}

fn is_open_punct(b: u8) -> bool {
    matches!(b, b'"' | b'\'' | b'(' | b'[' | b'{' | b'<' | b'=')
}

fn is_close_punct(b: u8) -> bool {
    matches!(b, b'"' | b'\'' | b')' | b']' | b'}' | b'>' | b',' | b';' | b'.' | b':')
}

/// Where a URL or a path starts in a token: at its start or after `=`, `:` or opening
/// punctuation (`path=/var/log/x`, `"/a/b"`, `source:/a/b`).
fn path_start(token: &[u8]) -> Option<usize> {
    if token.len() < 3 {
        return None;
    }
    if let Some(at) = memchr::memmem::find(token, b"://") {
        let scheme = token[..at].iter().rev().take_while(|b| b.is_ascii_alphabetic()).count();
        if scheme > 0 {
            return Some(at - scheme);
        }
    }
    (0..token.len()).find(|&p| {
        if p > 0 && !matches!(token[p - 1], b'=' | b':' | b',') && !is_open_punct(token[p - 1]) {
            return false;
        }
        let (body, separator) = match &token[p..] {
            [b'/', body @ ..] => (body, b'/'),
            [b'~' | b'.', b'/', body @ ..] => (body, b'/'),
            [drive, b':', b'\\', body @ ..] if drive.is_ascii_alphabetic() => (body, b'\\'),
            _ => return false,
        };
        // A second separator inside: `/a/b`, not a lone `/` or `/tmp`.
        body.iter().position(|b| *b == separator).is_some_and(|at| at > 0)
    })
}

/// `Mon`..`Sun` and `Jan`..`Dec`, as dates write them.
fn is_calendar_name(word: &[u8]) -> bool {
    const NAMES: [&[u8; 3]; 19] = [
        b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun", b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul",
        b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
    ];
    word.len() == 3 && NAMES.iter().any(|name| name.as_slice() == word)
}
