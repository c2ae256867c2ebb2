//! `/chat`: questions about the stored logs, answered from the data with exact numbers.
//!
//! A question is read by rules ([`timerange`] finds its window, [`intent`] what it asks and
//! about which events); aggregate questions are answered by SQL on the store's read
//! connections ([`queries`]); open questions and summaries by the same numbers plus the
//! nearest summaries and anomalies, found by vector search ([`nearest`]) and by words
//! ([`retrieve`]). The answer names its window, its facts
//! and the ids it rests on. An optional LLM ([`llm`]) only rephrases that answer.
//!
//! This module never writes to the store and never invents a number.

pub mod answer;
mod attack_filter;
mod clock;
mod config;
mod dates;
pub mod intent;
mod llm;
mod names;
pub mod nearest;
mod not_asked;
pub mod queries;
mod question;
pub mod retrieve;
mod spelling;
mod status_filter;
#[cfg(test)]
mod tests;
mod text_filter;
pub mod timerange;

pub use answer::Answer;
pub use clock::Clock;
pub use config::{ChatConfig, ChatConfigError, ChatSettings, LlmSettings};
pub use nearest::VectorRetriever;
pub use retrieve::{Passage, Retrieved, Retriever};

use crate::store::{Store, StoreError};
use intent::{Dimension, Intent, Named, Reading};
use queries::{Queries, Scope};
use std::sync::Arc;

/// Why a question got no answer at all (as opposed to a reply saying what can be asked).
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The query task was interrupted (the agent is shutting down).
    #[error("the question was interrupted: {0}")]
    Interrupted(String),
}

/// Answers questions; shared by every `/chat` request.
pub struct Chat {
    clock: Clock,
    time_zone: jiff::tz::TimeZone,
    llm: Option<llm::Llm>,
    retriever: Option<Arc<dyn Retriever>>,
}

/// Settle what the reading leaves to the data: a name the lines are counted by ("lines from
/// sshd": a program or a host, as stored), and "host" (an IP for requests, a host name for
/// system log lines). `Some`: why the question cannot be answered as asked.
fn resolve(q: &Queries<'_>, reading: &mut Reading, range: &timerange::TimeRange) -> Result<Option<String>, StoreError> {
    if let Some((name, kind)) = reading.named.clone() {
        if kind != Named::Host && q.names(Dimension::Program, &name)? {
            reading.filters.program = Some(name);
        } else if kind != Named::Program && q.names(Dimension::Host, &name)? {
            reading.filters.host = Some(name);
        } else {
            let what = match kind {
                Named::Program => "program",
                Named::Host => "host",
                Named::Either => "program or host",
            };
            return Ok(Some(format!(
                "No stored line was written by a {what} named {name:?}, so I did not count every line instead; ask \
                 \"which programs wrote the most lines?\" or \"lines by host name\" for the names stored, or quote \
                 the words the lines hold (how many \"{name}\" lines?)"
            )));
        }
    }
    if reading.host_word {
        let scope = Scope { range, filters: &reading.filters };
        if q.count_valued(scope, Dimension::Host)? > 0 {
            reading.intent = match reading.intent {
                Intent::Top(_) => Intent::Top(Dimension::Host),
                Intent::Breakdown(_) => Intent::Breakdown(Dimension::Host),
                Intent::Unique(_) => Intent::Unique(Dimension::Host),
                other => other,
            };
            reading
                .notes
                .push("I read \"host\" as the host name of the system log lines; ask \"which IP\" for clients".into());
        }
    }
    Ok(None)
}

impl Chat {
    /// A chat over the settings of `[chat]`. An LLM client that cannot be built is logged
    /// and left out: answers are then plain sentences.
    pub fn new(settings: &ChatSettings) -> Chat {
        let llm = settings.llm.clone().and_then(|s| {
            llm::Llm::new(s).inspect_err(|e| tracing::warn!(error = %e, "chat answers will not be rephrased")).ok()
        });
        Chat { clock: Clock::System, time_zone: settings.time_zone.clone(), llm, retriever: None }
    }

    /// Use `clock` for "now".
    pub fn with_clock(mut self, clock: Clock) -> Chat {
        self.clock = clock;
        self
    }

    /// Answer open questions with `retriever`'s vector search.
    pub fn with_retriever(mut self, retriever: Arc<dyn Retriever>) -> Chat {
        self.retriever = Some(retriever);
        self
    }

    /// Answer `question` from the data, in plain sentences. Blocks on SQLite.
    pub fn answer_from_data(&self, store: &Store, question: &str) -> Result<Answer, StoreError> {
        let now = self.clock.now();
        let found = match timerange::find(question, now, &self.time_zone) {
            Ok(found) => found,
            Err(message) => return Ok(Answer::about_asking("unknown", answer::help(&format!("{message}.")))),
        };
        let (range, rest) = match found {
            Some(found) => (found.range, found.rest),
            None => (timerange::TimeRange::all(), question.to_lowercase()),
        };
        let mut reading = intent::read(&rest, question);
        if let Some(message) = &reading.unreadable {
            return Ok(Answer::about_asking("unknown", answer::help(&format!("{message}."))));
        }
        if let Some(message) = Queries::with(store, |q| resolve(q, &mut reading, &range))? {
            return Ok(Answer::about_asking("unknown", answer::help(&format!("{message}."))));
        }
        let mut answer = match reading.intent {
            Intent::Help => Ok(Answer::about_asking("help", answer::help("Hello."))),
            Intent::Unknown => Ok(Answer::about_asking(
                "unknown",
                answer::help("I could not tell what you are asking about the logs."),
            )),
            Intent::Open | Intent::Summary => Queries::with(store, |q| {
                let stored = retrieve::from_store(q, &reading, &range)?;
                let retrieved = match &self.retriever {
                    // The index may miss what the store holds (a sub-path, a summary far from
                    // the question's words): its picks fill up after the nearest.
                    Some(retriever) => match retriever.nearest(&reading, &range, retrieve::NEAREST) {
                        Ok(found) => retrieve::merge(retrieve::in_window(q, &range, found)?, stored, retrieve::NEAREST),
                        Err(e) => {
                            tracing::warn!(error = %e, "vector search failed; citing what the store matched by words");
                            Retrieved {
                                note: Some(format!("vector search failed ({e}); sources matched by words")),
                                ..stored
                            }
                        }
                    },
                    None => stored,
                };
                answer::open(q, &reading, &range, &retrieved)
            }),
            Intent::Span => Queries::with(store, |q| answer::span(q, &reading, &range)),
            _ => Queries::with(store, |q| answer::aggregate(q, &reading, &range)),
        }?;
        if !reading.corrected.is_empty() && !matches!(answer.intent, "help" | "unknown") {
            let read_as: Vec<String> =
                reading.corrected.iter().map(|(written, word)| format!("\"{written}\" as \"{word}\"")).collect();
            answer.response.push_str(&format!(" (I read {}.)", read_as.join(", ")));
        }
        if !matches!(answer.intent, "help" | "unknown") {
            for note in &reading.notes {
                answer.response.push_str(&format!(" ({note}.)"));
            }
        }
        Ok(answer)
    }

    /// Answer `question`: from the data on the blocking pool, then rephrased by the LLM when
    /// one is configured (the plain answer stays when it fails).
    pub async fn answer(self: &Arc<Self>, store: Arc<Store>, question: String) -> Result<Answer, ChatError> {
        let chat = self.clone();
        let asked = question.clone();
        let mut answer = tokio::task::spawn_blocking(move || chat.answer_from_data(&store, &asked))
            .await
            .map_err(|e| ChatError::Interrupted(e.to_string()))??;
        if let Some(llm) = &self.llm
            && !matches!(answer.intent, "help" | "unknown")
        {
            match llm.rephrase(&question, &answer).await {
                Ok(text) => {
                    answer.response = text;
                    answer.phrased_by = "llm";
                }
                Err(e) => {
                    tracing::warn!(error = %e, "LLM rephrasing failed; sending the plain answer");
                    answer.llm_error = Some(e);
                }
            }
        }
        Ok(answer)
    }
}
