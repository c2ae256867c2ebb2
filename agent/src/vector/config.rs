//! The `[chroma]` section: where the Chroma server is and how the outbox drains into it.

use serde::Deserialize;

/// `[chroma]`: the ChromaDB server used when `[store] kind = "chroma"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChromaConfig {
    /// Base URL of the Chroma server (its HTTP API v2), e.g. `http://127.0.0.1:8000`.
    #[serde(default = "default_url")]
    pub url: String,
    /// Collections are `<prefix>-logs`, `<prefix>-anomalies` and `<prefix>-summaries`.
    #[serde(default = "default_collection_prefix")]
    pub collection_prefix: String,
    /// Chroma database, in the tenant the server names for us (`default_tenant` without auth).
    #[serde(default = "default_database")]
    pub database: String,
    /// Events (each with its anomalies) or summaries sent to Chroma in one upsert.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// First wait after a failed write, in milliseconds; it doubles on each failure in a row.
    #[serde(default = "default_retry_initial_ms")]
    pub retry_initial_ms: u64,
    /// Longest wait between retries, in milliseconds.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
    /// Longest one request to Chroma may take, in milliseconds, before it counts as failed.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Records whose time (an event's own timestamp, a summary's window start) is older than
    /// this many days are deleted from the collections at each retention sweep; 0 keeps them
    /// (Chroma as the archive). `[store] retention_days` is the local store's alone.
    #[serde(default)]
    pub retention_days: u32,
    /// A key sent with every request, for a Chroma that checks one (Chroma Cloud, or a
    /// server behind an authenticating proxy; Chroma 1.x itself checks none).
    #[serde(default)]
    pub token: Option<ChromaToken>,
    /// The header that carries `token`.
    #[serde(default)]
    pub token_header: TokenHeader,
}

/// `[chroma] token`: kept out of `Debug`, so no log or error message can print it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ChromaToken(String);

impl ChromaToken {
    /// The token itself, for the request header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ChromaToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChromaToken(<redacted>)")
    }
}

/// `[chroma] token_header`: how the token is sent, as Chroma's own clients offer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum TokenHeader {
    /// `Authorization: Bearer <token>`, what most proxies check.
    #[default]
    #[serde(rename = "authorization")]
    Authorization,
    /// `X-Chroma-Token: <token>`, what Chroma Cloud reads.
    #[serde(rename = "x-chroma-token")]
    XChromaToken,
}

impl TokenHeader {
    /// The header's name and value for `token`.
    pub fn header(self, token: &ChromaToken) -> (&'static str, String) {
        match self {
            TokenHeader::Authorization => ("authorization", format!("Bearer {}", token.expose())),
            TokenHeader::XChromaToken => ("x-chroma-token", token.expose().to_owned()),
        }
    }
}

impl Default for ChromaConfig {
    fn default() -> Self {
        ChromaConfig {
            url: default_url(),
            collection_prefix: default_collection_prefix(),
            database: default_database(),
            batch_size: default_batch_size(),
            retry_initial_ms: default_retry_initial_ms(),
            retry_max_ms: default_retry_max_ms(),
            timeout_ms: default_timeout_ms(),
            retention_days: 0,
            token: None,
            token_header: TokenHeader::default(),
        }
    }
}

impl ChromaConfig {
    /// Check what serde cannot; each problem as (field, message, hint).
    pub fn problems(&self) -> Vec<(&'static str, String, &'static str)> {
        let mut problems = Vec::new();
        let url = self.url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len() {
            problems.push((
                "url",
                format!("{:?} is not an http(s) URL", self.url),
                "write it like \"http://127.0.0.1:8000\"",
            ));
        }
        // Chroma's rule for collection names: 3-512 characters of [a-zA-Z0-9._-], starting and
        // ending with a letter or digit; the prefix is followed by "-logs" etc.
        let prefix = &self.collection_prefix;
        let allowed = prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if prefix.is_empty()
            || prefix.len() > 400
            || !allowed
            || !prefix.starts_with(|c: char| c.is_ascii_alphanumeric())
        {
            problems.push((
                "collection_prefix",
                format!("{prefix:?} cannot start a Chroma collection name"),
                "use letters, digits, '.', '_' and '-', starting with a letter or digit, like \"vigil\"",
            ));
        }
        if !(1..=5000).contains(&self.batch_size) {
            problems.push((
                "batch_size",
                format!("{} is out of range", self.batch_size),
                "give 1 to 5000; 500 is a good start",
            ));
        }
        if self.retry_initial_ms == 0 || self.retry_max_ms < self.retry_initial_ms || self.retry_max_ms > 3_600_000 {
            problems.push((
                "retry_max_ms",
                format!(
                    "retry_initial_ms {} and retry_max_ms {} are not a range",
                    self.retry_initial_ms, self.retry_max_ms
                ),
                "give 1 <= retry_initial_ms <= retry_max_ms <= 3600000",
            ));
        }
        if !(100..=600_000).contains(&self.timeout_ms) {
            problems.push(("timeout_ms", format!("{} is out of range", self.timeout_ms), "give 100 to 600000"));
        }
        // A header value must be visible ASCII; a space or a newline would also split it.
        if let Some(token) = &self.token
            && (token.expose().is_empty() || !token.expose().bytes().all(|b| b.is_ascii_graphic()))
        {
            problems.push((
                "token",
                "is empty or holds a character a header cannot carry (space, control, non-ASCII)".to_owned(),
                "give the key as issued, letters, digits and punctuation only, or remove token",
            ));
        }
        problems
    }

    /// The Chroma name of `collection`.
    pub fn collection_name(&self, collection: super::Collection) -> String {
        format!("{}-{}", self.collection_prefix, collection.name())
    }

    /// The base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.url.trim_end_matches('/')
    }
}

fn default_url() -> String {
    "http://127.0.0.1:8000".to_owned()
}
fn default_collection_prefix() -> String {
    "vigil".to_owned()
}
fn default_database() -> String {
    "default_database".to_owned()
}
fn default_batch_size() -> usize {
    500
}
fn default_retry_initial_ms() -> u64 {
    250
}
fn default_retry_max_ms() -> u64 {
    30_000
}
fn default_timeout_ms() -> u64 {
    30_000
}
