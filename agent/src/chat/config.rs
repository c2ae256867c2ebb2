//! `[chat]`: the optional LLM that rephrases the answers `/chat` finds in the data.

use jiff::tz::TimeZone;
use serde::Deserialize;
use std::time::Duration;

/// `[chat]` as users write it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    /// Base URL of an OpenAI-compatible API (e.g. `http://127.0.0.1:11434/v1` for Ollama);
    /// `/chat/completions` is appended. When unset, answers are Vigil's own sentences. The
    /// model only rephrases the facts found in the store; on any error the plain answer is sent.
    #[serde(default)]
    pub llm_endpoint: Option<String>,
    /// Model name sent to the endpoint; required with `llm_endpoint` (e.g. `"llama3.2"`).
    #[serde(default)]
    pub model: Option<String>,
    /// Longest wait for the model's reply, in ms; after it the plain answer is sent.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Sent as `Authorization: Bearer <api_key>` when set (remote providers need one).
    #[serde(default)]
    pub api_key: Option<String>,
    /// The time zone questions' days and times of day are read in ("today", "since 10:00",
    /// "between 16:30 and 16:35"): an IANA name such as `"Europe/Istanbul"`, `"UTC"` (the
    /// default), or `"local"` for the machine's own (`TZ`, else `/etc/localtime`).
    #[serde(default)]
    pub time_zone: Option<String>,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig { llm_endpoint: None, model: None, timeout_ms: default_timeout_ms(), api_key: None, time_zone: None }
    }
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// Longest `timeout_ms` accepted.
const MAX_TIMEOUT_MS: u64 = 5 * 60 * 1000;

/// Validated `[chat]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSettings {
    /// The LLM that rephrases answers, when configured.
    pub llm: Option<LlmSettings>,
    /// The zone of questions' days and times of day.
    pub time_zone: TimeZone,
}

impl Default for ChatSettings {
    fn default() -> Self {
        ChatSettings { llm: None, time_zone: TimeZone::UTC }
    }
}

/// Validated LLM settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmSettings {
    /// `{llm_endpoint}/chat/completions`.
    pub completions_url: String,
    /// Model name.
    pub model: String,
    /// Longest wait for a reply.
    pub timeout: Duration,
    /// Bearer key, when set.
    pub api_key: Option<String>,
}

/// One problem in `[chat]`: the field and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatConfigError {
    /// The field, e.g. `chat.model`.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub hint: &'static str,
}

impl ChatConfig {
    /// Check the values and build the settings the running code uses.
    pub fn resolve(&self) -> Result<ChatSettings, Vec<ChatConfigError>> {
        let mut errors = Vec::new();
        if !(100..=MAX_TIMEOUT_MS).contains(&self.timeout_ms) {
            errors.push(ChatConfigError {
                field: "chat.timeout_ms",
                message: format!("must be between 100 and {MAX_TIMEOUT_MS} ms, got {}", self.timeout_ms),
                hint: "10000 (10 s) suits a local model",
            });
        }
        let time_zone = self.time_zone.as_deref().map_or(Ok(TimeZone::UTC), crate::parse::named_time_zone);
        let time_zone = time_zone.unwrap_or_else(|message| {
            errors.push(ChatConfigError {
                field: "chat.time_zone",
                message,
                hint: "an IANA name such as \"Europe/Istanbul\" or \"America/New_York\", \"UTC\", or \"local\"",
            });
            TimeZone::UTC
        });
        let Some(endpoint) = self.llm_endpoint.as_deref() else {
            return if errors.is_empty() { Ok(ChatSettings { llm: None, time_zone }) } else { Err(errors) };
        };
        let endpoint = endpoint.trim_end_matches('/');
        match reqwest::Url::parse(endpoint) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            _ => errors.push(ChatConfigError {
                field: "chat.llm_endpoint",
                message: format!("{endpoint:?} is not an http:// or https:// URL"),
                hint: "write the API's base URL, e.g. \"http://127.0.0.1:11434/v1\"",
            }),
        }
        let model = self.model.as_deref().map(str::trim).unwrap_or("");
        if model.is_empty() {
            errors.push(ChatConfigError {
                field: "chat.model",
                message: "llm_endpoint is set but model is not".to_owned(),
                hint: "name the model the endpoint serves, e.g. model = \"llama3.2\"",
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ChatSettings {
            llm: Some(LlmSettings {
                completions_url: format!("{endpoint}/chat/completions"),
                model: model.to_owned(),
                timeout: Duration::from_millis(self.timeout_ms),
                api_key: self.api_key.clone().filter(|k| !k.is_empty()),
            }),
            time_zone,
        })
    }
}
