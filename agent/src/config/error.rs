//! Config errors that say where (file:line:column and field path), what was wrong, and what
//! to do about it.

use std::fmt;
use std::ops::Range;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConfigError {
    /// The config file's path as given.
    pub file: String,
    /// 1-based line of the offending value, when known.
    pub line: Option<usize>,
    /// 1-based column of the offending value, when known.
    pub column: Option<usize>,
    /// Dotted field path, e.g. `detectors[0].threshold`; empty for file-level problems.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl ConfigError {
    /// A problem with the file as a whole (unreadable, missing).
    pub fn whole_file(file: String, message: String, hint: &str) -> Self {
        ConfigError { file, line: None, column: None, field: String::new(), message, hint: Some(hint.into()) }
    }

    /// A problem at a span of the source text.
    pub fn at(
        file: &str,
        text: &str,
        span: Option<Range<usize>>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = match span {
            Some(span) => {
                let (l, c) = line_column(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ConfigError { file: file.into(), line, column, field: field.into(), message: message.into(), hint: None }
    }

    /// Attach a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A TOML syntax or shape error (unknown field, wrong type, missing field), named by the
    /// field written at its place when the text parses (a shape error).
    pub fn from_toml(file: &str, text: &str, error: &toml::de::Error) -> Self {
        let message = error.message().trim().to_owned();
        let field = error.span().and_then(|span| super::locate::field_at(text, span.start)).unwrap_or_default();
        if let Some((message, hint)) = whole_number_out_of_type(&message, &field) {
            return ConfigError::at(file, text, error.span(), field, message).hint(hint);
        }
        let hint = if message.starts_with("unknown field") {
            "remove the field or fix its spelling; the accepted fields are listed above and documented in configs/vigil.toml"
        } else if message.starts_with("missing field") {
            "add the field; configs/vigil.toml shows every field with its default"
        } else if message.starts_with("invalid type") {
            "give the value the type shown in configs/vigil.toml"
        } else {
            "see configs/vigil.toml for a valid example"
        };
        ConfigError::at(file, text, error.span(), field, message).hint(hint)
    }
}

/// serde's "invalid value: integer `-1`, expected u64" (a negative number, or one past its
/// type, for a whole-number setting) said as the range of `field`, when it has one.
fn whole_number_out_of_type(message: &str, field: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("invalid value: integer `")?;
    let (got, expected) = rest.split_once("`, expected ")?;
    if !expected.starts_with('u') || field.is_empty() {
        return None;
    }
    Some(match super::range::find(field) {
        Some(range) => (range.message(got), range.hint.to_owned()),
        None if got.starts_with('-') => (
            format!("must be a whole number of 0 or more, got {got}"),
            "configs/vigil.toml shows its default and range".to_owned(),
        ),
        None => (
            format!("{got} is too large for this setting"),
            "configs/vigil.toml shows its default and range".to_owned(),
        ),
    })
}

/// 1-based line and column of a byte offset.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Every problem found in one config file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// Exactly one problem.
    pub fn single(error: ConfigError) -> Self {
        ConfigErrors(vec![error])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}
