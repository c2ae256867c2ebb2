//! A `[[detectors]]` or `[[summarizers]]` entry whose plugin did not start, as a config error:
//! placed at what is at fault (its `config` table, its `name`, or its `plugin`), named by the
//! entry (`detectors[1] (web)`), and with a hint that fits (a refused value is fixed in the
//! config, a component that cannot load is fixed or rebuilt). `vigil validate` and a reload
//! both report them this way.

use super::error::ConfigError;
use super::{Config, PluginSource};
use crate::detect::PluginError;

/// What a plugin's refusal to start is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PluginProblem {
    /// The plugin refused a value of its `config` table.
    ConfigValue,
    /// The entry's name is blank, or another entry's.
    Name,
    /// The component cannot be loaded, is of the wrong kind, or failed while starting.
    Component,
}

impl PluginProblem {
    /// What `error` is about.
    fn of(error: &PluginError) -> PluginProblem {
        match error {
            PluginError::Config { .. } => PluginProblem::ConfigValue,
            PluginError::Name { .. } => PluginProblem::Name,
            _ => PluginProblem::Component,
        }
    }

    /// `error` worded for [`plugin_refusal`], which names the entry itself: a name's problem
    /// without the `plugin ...:` it is otherwise given (it names the entry too).
    fn message(error: &PluginError) -> String {
        match error {
            PluginError::Name { message, .. } => message.clone(),
            _ => error.to_string(),
        }
    }
}

/// Entry `index` of `kind` (`detectors` or `summarizers`) of `config` (read from `text` of
/// `file`), whose plugin refused to start with `error`: placed at what is at fault, named by
/// the entry (its configured name, else its plugin) and hinted to fit. Without an index (or
/// one `config` does not have), the section as a whole. `reload` says so in the hint: the
/// running entries stay.
pub fn plugin_refusal(
    file: &str,
    text: &str,
    config: &Config,
    kind: &str,
    index: Option<usize>,
    error: &PluginError,
    reload: bool,
) -> ConfigError {
    let label = |name: &Option<String>, source: &PluginSource| name.clone().unwrap_or_else(|| source.to_string());
    let entry = index.and_then(|at| match kind {
        "summarizers" => config.summarizers.get(at).map(|s| (at, label(&s.name, &s.source))),
        _ => config.detectors.get(at).map(|d| (at, label(&d.name, &d.source))),
    });
    let Some((index, label)) = entry else {
        return ConfigError::at(file, text, None, kind, error.to_string()).hint(format!(
            "fix the {kind} entry or its plugin (vigil validate FILE checks it); the running {kind} stay"
        ));
    };
    let (part, hint) = match PluginProblem::of(error) {
        PluginProblem::ConfigValue => {
            ("config", format!("fix the value in [{kind}.config] (the plugin's README lists its settings)"))
        }
        PluginProblem::Name => (
            "name",
            format!(
                "give each of the {kind} its own name with a visible character (name = \"...\" in its [[{kind}]] \
                 table)"
            ),
        ),
        PluginProblem::Component => ("plugin", "fix or rebuild the plugin".to_owned()),
    };
    // `vigil validate` is what prints the others: only a reload points at it.
    let hint = if reload { format!("{hint}; `vigil validate FILE` checks it; the running {kind} stay") } else { hint };
    let message = PluginProblem::message(error);
    let mut error = ConfigError::at(file, text, None, format!("{kind}[{index}] ({label})"), message).hint(hint);
    if let Some((line, column)) = super::locate::place(text, &format!("{kind}[{index}].{part}")) {
        (error.line, error.column) = (Some(line), Some(column));
    }
    error
}
