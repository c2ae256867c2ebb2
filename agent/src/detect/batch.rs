//! Events encoded in the columnar form the WIT boundary takes (`batch` in vigil.wit): a few
//! flat lists and one string buffer per batch, built once and lent to every detector.

use super::bindings;
use super::error::PluginError;
use crate::event::Event;

/// A batch of events in columns.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EncodedBatch {
    timestamps: Vec<i64>,
    statuses: Vec<u16>,
    sizes: Vec<u64>,
    text: String,
    ends: Vec<u32>,
}

impl EncodedBatch {
    /// Encode `events`. Fails only for a batch whose strings exceed 4 GiB, which the
    /// boundary's 32-bit offsets cannot address.
    pub fn encode<E: AsRef<Event>>(events: &[E]) -> Result<Self, PluginError> {
        let text_len: usize = events
            .iter()
            .map(|e| {
                let e = e.as_ref();
                e.ip.len() + e.method.len() + e.url.len() + e.user_agent.len() + e.raw.len()
            })
            .sum();
        if u32::try_from(text_len).is_err() {
            return Err(PluginError::Call {
                plugin: "<all>".into(),
                call: "score",
                message: format!(
                    "a batch of {} events holds {text_len} bytes of text, over the 4 GiB a call can carry; send smaller batches",
                    events.len()
                ),
            });
        }
        let mut batch = EncodedBatch {
            timestamps: Vec::with_capacity(events.len()),
            statuses: Vec::with_capacity(events.len()),
            sizes: Vec::with_capacity(events.len()),
            text: String::with_capacity(text_len),
            ends: Vec::with_capacity(events.len() * 5),
        };
        for e in events {
            let e = e.as_ref();
            batch.timestamps.push(e.timestamp_ms);
            batch.statuses.push(e.status_code);
            batch.sizes.push(e.bytes_sent);
            for s in [&e.ip, &e.method, &e.url, &e.user_agent, &e.raw] {
                batch.text.push_str(s);
                batch.ends.push(batch.text.len() as u32);
            }
        }
        Ok(batch)
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// Lend the batch to a plugin call.
    pub(crate) fn as_wit(&self) -> bindings::vigil::plugin::types::Batch<'_> {
        bindings::vigil::plugin::types::Batch {
            timestamp_ms: &self.timestamps,
            status_code: &self.statuses,
            bytes_sent: &self.sizes,
            text: &self.text,
            text_ends: &self.ends,
        }
    }
}
