//! Where in the file a problem is: every TOML syntax error (not only the first), and the line
//! and column of a field named by its path (`sources[1].include`) for problems found after
//! deserializing, whose values carry no span of their own.

use super::error::{ConfigError, ConfigErrors};
use toml::de::{DeTable, DeValue};

/// Every syntax error in `text` (`toml::from_str` stops at the first, so an operator fixed
/// one error per run of `vigil validate`), up to 20. toml's recovering parser alone makes every
/// line after an unclosed string or array a "missing comma" of its own, so only its first error
/// is taken; that line is then blanked (same length, so places stay true) and the text parsed
/// again, which finds the next mistake that is really there.
pub(super) fn syntax_errors(file: &str, text: &str) -> Option<ConfigErrors> {
    let mut masked = text.to_owned();
    let mut found: Vec<ConfigError> = Vec::new();
    while found.len() < 20 {
        // The parser does not report in the file's order (an unclosed array is reported after
        // the lines it swallowed): the first error is the one that comes first in the text.
        let (_, errors) = DeTable::parse_recoverable(&masked);
        let Some(e) = errors.into_iter().min_by_key(|e| e.span().map_or(usize::MAX, |s| s.start)) else { break };
        let error = ConfigError::from_toml(file, text, &e);
        let span = e.span().filter(|_| !found.iter().any(|f| f.line == error.line));
        found.push(error);
        // No place, or blanking its line changed nothing: nothing more can be told apart.
        let Some(span) = span else { break };
        let at = span.start.min(masked.len());
        let line_start = masked[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = masked[at..].find('\n').map_or(masked.len(), |i| at + i);
        masked.replace_range(line_start..line_end, &" ".repeat(line_end - line_start));
    }
    (!found.is_empty()).then_some(ConfigErrors(found))
}

/// Give each error that names a field but has no place the line and column of that field in
/// `text`, or of its nearest written parent (a missing `include` points at its `[[sources]]`).
pub(super) fn locate_fields(errors: &mut [ConfigError], text: &str) {
    if errors.iter().all(|e| e.line.is_some() || e.field.is_empty()) {
        return;
    }
    let Ok(root) = DeTable::parse(text) else { return };
    let root = DeValue::Table(root.into_inner());
    for error in errors.iter_mut().filter(|e| e.line.is_none() && !e.field.is_empty()) {
        if let Some(start) = field_start(&root, &error.field) {
            let (line, column) = super::error::line_column(text, start);
            (error.line, error.column) = (Some(line), Some(column));
        }
    }
}

/// Byte offset where the deepest written part of `path` starts (`a.b[2].c`: keys and indexes).
fn field_start(root: &DeValue<'_>, path: &str) -> Option<usize> {
    let mut value = root;
    let mut start = None;
    for segment in path.split('.') {
        let (key, indexes) = segment.split_once('[').map_or((segment, ""), |(k, rest)| (k, rest));
        let mut steps: Vec<Step<'_>> = vec![Step::Key(key)];
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            steps.push(Step::Index(index.trim_end_matches(']').parse().ok()?));
        }
        for step in steps {
            let next = match step {
                Step::Key(k) => value.get(k),
                Step::Index(i) => value.get(i),
            };
            match next {
                Some(next) => {
                    start = Some(next.span().start);
                    value = next.get_ref();
                }
                None => return start,
            }
        }
    }
    start
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The dotted path (`api.max_batch_logz`, `sources[1].include[0]`) of the key or value written
/// at byte `offset` of `text`: serde's errors (unknown field, a value of the wrong type or out
/// of its type's range) carry the place but not the field. `None` when `text` does not parse.
pub(super) fn field_at(text: &str, offset: usize) -> Option<String> {
    let root = DeTable::parse(text).ok()?;
    path_in_table(root.get_ref(), offset)
}

fn path_in_table(table: &DeTable<'_>, offset: usize) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        let key_name = key.get_ref().as_ref();
        if key.span().contains(&offset) {
            return Some(key_name.to_owned());
        }
        match path_in_value(value, offset)? {
            rest if rest.is_empty() => Some(key_name.to_owned()),
            rest if rest.starts_with('[') => Some(format!("{key_name}{rest}")),
            rest => Some(format!("{key_name}.{rest}")),
        }
    })
}

/// The path below `value` (empty: `value` itself) of what is written at `offset`. Tables are
/// searched whatever their span: a `[header]` table's span need not cover its keys.
fn path_in_value(value: &toml::Spanned<DeValue<'_>>, offset: usize) -> Option<String> {
    match value.get_ref() {
        DeValue::Table(table) => path_in_table(table, offset),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| match path_in_value(item, offset)? {
            rest if rest.is_empty() || rest.starts_with('[') => Some(format!("[{i}]{rest}")),
            rest => Some(format!("[{i}].{rest}")),
        }),
        _ => None,
    }
    .or_else(|| value.span().contains(&offset).then(String::new))
}

/// Line and column of the field at `path` (`detectors[1].config`), or of its nearest written
/// parent; `None` when `text` does not parse or holds none of it.
pub(super) fn place(text: &str, path: &str) -> Option<(usize, usize)> {
    let root = DeTable::parse(text).ok()?;
    let start = field_start(&DeValue::Table(root.into_inner()), path)?;
    Some(super::error::line_column(text, start))
}
