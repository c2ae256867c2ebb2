//! A `[[detectors]]` or `[[summarizers]]` entry whose plugin did not start, as a config error:
//! placed at what is at fault (its `config` table, its `name`, or its `plugin`), named by the
//! entry (`detectors[1] (web)`), and with a hint that fits (a refused value is fixed in the
//! config, a component that cannot load is fixed or rebuilt). `vigil validate` and a reload
//! both report them this way.

use super::error::ConfigError;
use crate::detect::PluginError;

/// What a plugin's refusal to start is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginProblem {
    /// The plugin refused a value of its `config` table.
    ConfigValue,
    /// The entry's name is blank, or another entry's.
    Name,
    /// The component cannot be loaded, is of the wrong kind, or failed while starting.
    Component,
}

impl PluginProblem {
    /// What `error` is about.
    pub fn of(error: &PluginError) -> PluginProblem {
        match error {
            PluginError::Config { .. } => PluginProblem::ConfigValue,
            PluginError::Name { .. } => PluginProblem::Name,
            _ => PluginProblem::Component,
        }
    }

    /// `error` worded for [`plugin_refusal`], which names the entry itself: a name's problem
    /// without the `plugin ...:` it is otherwise given (it names the entry too).
    pub fn message(error: &PluginError) -> String {
        match error {
            PluginError::Name { message, .. } => message.clone(),
            _ => error.to_string(),
        }
    }
}

/// Entry `index` of `kind` (`detectors` or `summarizers`), named `label` (its configured name,
/// else its plugin), refused for `problem` with `message`, as an error of `file` whose text is
/// `text`. `reload` says so in the hint: the running entries stay.
pub fn plugin_refusal(
    file: &str,
    text: &str,
    kind: &str,
    (index, label): (usize, &str),
    problem: PluginProblem,
    message: impl Into<String>,
    reload: bool,
) -> ConfigError {
    let (part, hint) = match problem {
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
    let mut error = ConfigError::at(file, text, None, format!("{kind}[{index}] ({label})"), message).hint(hint);
    if let Some((line, column)) = super::locate::place(text, &format!("{kind}[{index}].{part}")) {
        (error.line, error.column) = (Some(line), Some(column));
    }
    error
}
