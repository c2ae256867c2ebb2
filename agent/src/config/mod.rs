//! The agent's TOML configuration: the raw serde form users write (`raw`), its validation
//! into the form the running code uses (`resolve`), and the errors that point at the exact
//! line, column and field (`error`). Running code only ever sees a resolved [`Config`].

mod error;
mod locate;
mod plugin_refusal;
mod plugin_table;
mod range;
mod raw;
mod resolve;
#[cfg(test)]
mod tests;

pub use error::{ConfigError, ConfigErrors};
pub use plugin_refusal::plugin_refusal;
pub use range::Range;
pub use raw::{ApiConfig, DetectorConfig, LimitsConfig, RawConfig};
pub use resolve::{ApiSettings, Config, DetectorSpec, Fallback, PluginLimits, PluginSource};

use std::path::Path;

/// The shipped default config (`configs/vigil.toml`), used when no `--config` is given.
pub const DEFAULT_CONFIG: &str = include_str!("../../../configs/vigil.toml");

/// The name the default config reports in messages.
pub const DEFAULT_CONFIG_NAME: &str = "<embedded configs/vigil.toml>";

impl Config {
    /// Read, parse and validate a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let (message, hint) = if e.kind() == std::io::ErrorKind::InvalidData {
                ("the file is not UTF-8 text".to_owned(), "save it as UTF-8 (TOML is UTF-8 only)")
            } else {
                (format!("cannot read the config file: {e}"), "check the path of the config file")
            };
            ConfigErrors::single(ConfigError::whole_file(path.display().to_string(), message, hint))
        })?;
        // Nothing but blanks and comments: most likely caught mid-write (an editor or a config
        // map that truncates first), and applied it would stop every source and detector.
        if toml::from_str::<toml::Table>(&text).is_ok_and(|table| table.is_empty()) {
            let message = "the config file holds no settings (empty, or only comments)".to_owned();
            let hint = "write the settings (see configs/vigil.toml), or run `vigil` without --config for the \
                        embedded defaults; a running agent keeps its config until then";
            return Err(ConfigErrors::single(ConfigError::whole_file(path.display().to_string(), message, hint)));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, &path.display().to_string(), base)
    }

    /// The embedded default config. Relative plugin paths resolve against the current directory.
    pub fn embedded_default() -> Config {
        Config::parse(DEFAULT_CONFIG, DEFAULT_CONFIG_NAME, Path::new("."))
            .expect("the shipped configs/vigil.toml is valid (checked by config::tests)")
    }

    /// Whether plugin calls must be metered with fuel: some detector or summarizer sets
    /// `limits.fuel`. The engine is built once, at start, with or without metering.
    pub fn meters_fuel(&self) -> bool {
        self.detectors.iter().any(|d| d.limits.fuel.is_some())
            || self.summarizers.iter().any(|s| s.limits.fuel.is_some())
    }

    /// Parse and validate config text; `file` names it in errors, `base` resolves relative paths.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Config, ConfigErrors> {
        // A file that parses is parsed once; only a failing one is searched for every syntax
        // error (none found: the failure is one of shape, such as an unknown field).
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            locate::syntax_errors(file, text)
                .unwrap_or_else(|| ConfigErrors::single(ConfigError::from_toml(file, text, &e)))
        })?;
        resolve::resolve(raw, file, text, base).map_err(|mut errors| {
            locate::locate_fields(&mut errors.0, text);
            errors
        })
    }
}
