//! What can go wrong with a plugin, worded for the operator.

/// A plugin failed to load or to answer a call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    /// The component could not be read, compiled or cached.
    #[error("plugin {source_name}: cannot load component: {message}")]
    Load { source_name: String, message: String },
    /// The component does not export the world its place in the config needs.
    #[error(
        "plugin {source_name}: does not implement the {world} world of vigil:plugin@{expected}: {message} \
         (hint: rebuild it against vigil-plugin-sdk {expected})"
    )]
    Interface { source_name: String, world: &'static str, expected: &'static str, message: String },
    /// The component exports the other world: a summarizer configured as a detector, or the
    /// other way round.
    #[error(
        "plugin {source_name}: is a {is} (it exports the {is} world), not a {wanted} \
         (hint: configure it under [[{is}s]])"
    )]
    WrongWorld { source_name: String, is: &'static str, wanted: &'static str },
    /// The detector's name is blank, or another detector's.
    #[error("plugin {source_name}: {message}")]
    Name { source_name: String, message: String },
    /// The plugin refused its config.
    #[error("plugin {plugin}: config refused: {message}")]
    Config { plugin: String, message: String },
    /// The plugin trapped, ran out of time or memory, or returned an error.
    #[error("plugin {plugin}: {call} failed: {message}")]
    Call { plugin: String, call: &'static str, message: String },
    /// The plugin answered with something that breaks the contract.
    #[error("plugin {plugin}: {call} returned bad output: {message}")]
    BadOutput { plugin: String, call: &'static str, message: String },
}
