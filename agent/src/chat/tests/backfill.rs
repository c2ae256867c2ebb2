//! Open answers over logs read long after they were written: loghub's OpenSSH log (one
//! morning) read from the beginning two days later. Summaries are windowed by when batches were
//! committed (see `summarize::window`), so the two the backfill gave sit in today's clock
//! minutes while the logs they fold are from two days ago.

use super::text::stored;
use crate::chat::{Answer, Chat, Clock, VectorRetriever};
use crate::store::NewSummary;
use crate::vector::VectorIndex;
use jiff::Timestamp;
use serde_json::Value;
use std::sync::Arc;

const MINUTE_MS: i64 = 60_000;

fn time(ms: i64) -> String {
    Timestamp::from_millisecond(ms).unwrap().to_string()
}

/// The summary a one-minute window-summary stores for `logs` committed in `[start, start + 1m)`.
fn backfill_summary(start_ms: i64, logs: &[i64]) -> NewSummary {
    let (first, last) = (*logs.iter().min().unwrap(), *logs.iter().max().unwrap());
    NewSummary {
        summarizer: "window-summary".into(),
        window_start_ms: start_ms,
        window_end_ms: start_ms + MINUTE_MS,
        first_event_ms: Some(first),
        last_event_ms: Some(last),
        events: logs.len() as u64,
        anomalies: 0,
        skipped_events: 0,
        partial: false,
        text: format!(
            "From {} to {}: {} events. sshd: Failed password for invalid user, authentication failure.",
            time(start_ms),
            time(start_ms + MINUTE_MS),
            logs.len()
        ),
        data: Default::default(),
    }
}

fn summaries(answer: &Answer) -> Vec<&Value> {
    answer.sources.iter().filter(|s| s["type"] == "summary").collect()
}

/// An open answer cites a summary only for the log times it folded: none for today, which holds
/// no log, both for the morning the logs are from, each named by its logs' times and the
/// minute it was read, none for one hour of that morning; and vector search, which finds them
/// in today's window, cites them no more than the store does.
#[test]
fn open_answers_on_backfilled_logs_cite_summaries_by_log_time() {
    let Some((store, events, _)) = stored("OpenSSH") else { return };
    let logs: Vec<i64> = events.iter().map(|e| e.timestamp_ms).collect();
    let last = *logs.iter().max().unwrap();
    let now = Timestamp::from_millisecond(last + 2 * 86_400_000).unwrap();
    // Read in two batches, in the two minutes before now.
    let read_at = now.as_millisecond() - now.as_millisecond().rem_euclid(MINUTE_MS) - 2 * MINUTE_MS;
    for (i, half) in logs.chunks(1000).enumerate() {
        store.insert_summary(&backfill_summary(read_at + i as i64 * MINUTE_MS, half)).unwrap();
    }
    let chat = Chat::new(&Default::default()).with_clock(Clock::Fixed(now));
    let ask = |chat: &Chat, question: &str| chat.answer_from_data(&store, question).unwrap();

    let today = ask(&chat, "what happened today?");
    assert_eq!(today.facts["requests"], 0, "{}", today.response);
    assert_eq!(summaries(&today), Vec::<&Value>::new(), "today holds no log: {}", today.response);
    assert!(!today.response.contains("Nearest summaries"), "{}", today.response);

    let day = Timestamp::from_millisecond(last).unwrap().to_zoned(jiff::tz::TimeZone::UTC).date();
    let morning = ask(&chat, &format!("what happened on {day}?"));
    assert_eq!(morning.facts["requests"], 2000, "{}", morning.response);
    let cited = summaries(&morning);
    assert_eq!(cited.len(), 2, "{}", morning.response);
    let newest = cited[0]["text"].as_str().unwrap();
    let half = &logs[1000..];
    let from = time(*half.iter().min().unwrap());
    let to = time(*half.iter().max().unwrap());
    let read = format!("read {} to {}", time(read_at + MINUTE_MS), time(read_at + 2 * MINUTE_MS));
    assert!(newest.starts_with(&format!("logs from {from} to {to}, {read}: ")), "{newest}");
    // Each folds hours of that morning: neither speaks of one hour of it, whose own lines are
    // counted instead.
    let hour = ask(&chat, &format!("what happened from 08:00 to 09:00 on {day}?"));
    assert!(hour.facts["requests"].as_u64() > Some(0), "{}", hour.response);
    assert_eq!(summaries(&hour), Vec::<&Value>::new(), "{}", hour.response);

    let vector = chat.with_retriever(Arc::new(VectorRetriever::new(VectorIndex::new(store.clone(), None))));
    let today = ask(&vector, "what is going on with failed passwords today?");
    assert_eq!(summaries(&today), Vec::<&Value>::new(), "{}", today.response);
    let morning = ask(&vector, &format!("what is going on with failed passwords on {day}?"));
    assert_eq!(summaries(&morning).len(), 2, "{}", morning.response);
}
