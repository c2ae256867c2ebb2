//! "When was the first request?", "what time range do the logs cover?": the times of the
//! first and last event in the window, with how many there are between them.

use super::{Answer, events_source, plural, there_were, what};
use crate::chat::intent::Reading;
use crate::chat::queries::{Queries, Scope};
use crate::chat::timerange::TimeRange;
use crate::store::StoreError;
use serde_json::json;

/// The first and last event times of the question's window and filters.
pub fn span(q: &Queries<'_>, reading: &Reading, range: &TimeRange) -> Result<Answer, StoreError> {
    let scope = Scope { range, filters: &reading.filters };
    let when = range.describe();
    let noun = super::noun(q, reading, scope)?;
    let Some(span) = q.span(scope)? else {
        let text = format!("There were no {} {when}, so there is no first or last.", what(noun.1, &reading.filters));
        return Ok(Answer::new(reading, range, text, json!({ "count": 0 })));
    };
    let time = |ms: i64| jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default();
    let (first, last) = (time(span.first_ms), time(span.last_ms));
    let counted = what(&plural(span.count, noun.0, noun.1), &reading.filters);
    let text = if span.count == 1 {
        format!("{} {counted} {when}, at {first}.", there_were(1))
    } else {
        format!("The {counted} {when} run from {first} (the first) to {last} (the last).")
    };
    let mut answer = Answer::new(reading, range, text, json!({ "count": span.count, "first": first, "last": last }));
    answer.sources.push(events_source(q, scope, span.count)?);
    answer.key_values = vec![first, last];
    Ok(answer)
}
