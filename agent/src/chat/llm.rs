//! The optional LLM of `[chat] llm_endpoint`: an OpenAI-compatible `POST /chat/completions`
//! that rephrases an answer already found in the data. It never adds facts: the prompt gives
//! it only the facts, and a reply that drops one of the answer's key values (a number, an IP,
//! a URL) or adds a number, IP or time the answer does not hold is refused, as is any error or
//! timeout; the plain answer is sent then.

use super::answer::Answer;
use super::config::LlmSettings;
use serde_json::{Value, json};

/// A number, an IPv4 address or a time of day in a reply.
static NUMBER: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"\d+(?:[.:]\d+)*").expect("valid regex"));

/// Longest reply accepted from the model, in bytes.
const MAX_REPLY_BYTES: usize = 8 * 1024;

const SYSTEM_PROMPT: &str = "You rephrase answers about a web server's logs for an operator. Use only the facts \
     given. Keep every number, IP address, URL path and time exactly as written. Add no facts, causes, advice or \
     speculation. Answer in at most four short sentences, or a short list.";

/// A client for the configured endpoint.
pub struct Llm {
    client: reqwest::Client,
    settings: LlmSettings,
}

impl Llm {
    /// A client with the configured timeout.
    pub fn new(settings: LlmSettings) -> Result<Llm, String> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client for chat.llm_endpoint: {e}"))?;
        Ok(Llm { client, settings })
    }

    /// The model's wording of `answer`, or why there is none.
    pub async fn rephrase(&self, question: &str, answer: &Answer) -> Result<String, String> {
        let sources: Vec<&Value> = answer.sources.iter().collect();
        let user = format!(
            "Question: {question}\nTime range: {} (from {} to {}, UTC)\nFacts (JSON): {}\nSources: {}\n\
             Answer to rephrase: {}",
            answer.range.label,
            answer.range.from.as_deref().unwrap_or("the oldest stored event"),
            answer.range.to.as_deref().unwrap_or("the newest"),
            answer.facts,
            serde_json::to_string(&sources).unwrap_or_default(),
            answer.response,
        );
        let body = json!({
            "model": self.settings.model,
            "temperature": 0,
            "stream": false,
            "messages": [
                { "role": "system", "content": SYSTEM_PROMPT },
                { "role": "user", "content": user },
            ],
        });
        let mut request = self.client.post(&self.settings.completions_url).json(&body);
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key);
        }
        let timeout_ms = self.settings.timeout.as_millis();
        let describe = |e: reqwest::Error| {
            if e.is_timeout() {
                format!("no reply from chat.llm_endpoint within {timeout_ms} ms")
            } else {
                format!("chat.llm_endpoint failed: {e}")
            }
        };
        let response = request.send().await.map_err(describe)?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("chat.llm_endpoint answered HTTP {status}"));
        }
        let reply: Value = response.json().await.map_err(|e| format!("chat.llm_endpoint sent no JSON reply: {e}"))?;
        let text = reply["choices"][0]["message"]["content"]
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or("chat.llm_endpoint's reply has no choices[0].message.content")?;
        if text.len() > MAX_REPLY_BYTES {
            return Err(format!("chat.llm_endpoint's reply is over {MAX_REPLY_BYTES} bytes"));
        }
        if let Some(missing) = answer.key_values.iter().find(|v| !text.contains(v.as_str())) {
            return Err(format!("the model's reply left out {missing:?}, a fact of the answer"));
        }
        // Nor may it add one: every number, IP or time it writes must be in what it was given.
        let given = format!(
            "{} {question} {} {} {} {}",
            answer.response,
            answer.range.label,
            answer.range.from.as_deref().unwrap_or(""),
            answer.range.to.as_deref().unwrap_or(""),
            answer.facts
        );
        if let Some(added) = NUMBER.find_iter(text).map(|m| m.as_str()).find(|n| !given.contains(n)) {
            return Err(format!("the model's reply added {added:?}, which is not in the answer"));
        }
        Ok(text.to_owned())
    }
}
