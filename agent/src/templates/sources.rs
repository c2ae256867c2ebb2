//! One miner per source, as the pipeline uses them: which events get a template, which text
//! of theirs is mined, and what a batch adds to the `templates` table.
//!
//! One miner per source rather than one for all: each source's lines have their own formats,
//! a source's templates then never absorb another's lines, and a flood of new shapes from one
//! source evicts only that source's templates. Ids come from one counter, so they are unique
//! across sources and survive restarts (the counter resumes above the highest stored id).

use super::config::MinerConfig;
use super::miner::Miner;
use crate::event::Event;
use crate::store::{Store, StoredTemplate, TemplateUpdate};
use rustc_hash::FxHashMap;

/// Most sources with a miner of their own; lines of further sources share one more miner.
/// Sources come from config (file sources) plus `api` and `ws`, so this is a safety bound.
pub const MAX_SOURCES: usize = 256;

/// The key of the miner shared by sources past [`MAX_SOURCES`].
const SHARED: &str = "";

/// Keys of `fields` read as the message of a structured line, in this order.
const MESSAGE_FIELDS: [&str; 3] = ["message", "msg", "log"];

/// The miners of every source, with the id counter they share.
#[derive(Debug)]
pub struct SourceMiners {
    config: MinerConfig,
    miners: FxHashMap<String, Miner>,
    next_id: i64,
}

/// True for events that are not access logs: no HTTP method or no status.
pub fn wants_template(event: &Event) -> bool {
    event.method.is_empty() || event.status_code == 0
}

/// The text mined for an event: its message field (`message`, `msg` or `log`, from JSON keys
/// or regex groups), else its raw line without its header ([`strip_header`]); `None` when it
/// has neither.
pub fn template_text(event: &Event) -> Option<&str> {
    let message = MESSAGE_FIELDS.iter().find_map(|key| event.fields.get(*key)?.as_str());
    let text = message.unwrap_or_else(|| strip_header(&event.raw)).trim_end_matches(['\n', '\r']);
    (!text.trim().is_empty()).then_some(text)
}

/// A raw line's message: what follows its header, when it has one in the syslog or log4j
/// shape (a time, then a program or logger name ending in `:` within the first 8 tokens:
/// `Jun 14 15:16:01 combo sshd(pam_unix)[19939]: message`); else the whole line. The header
/// takes the leading tokens, where the tree routes, and its constant words would make every
/// pair of lines look alike.
pub fn strip_header(line: &str) -> &str {
    let mut seen_digit = false;
    for token in line.split_ascii_whitespace().take(8) {
        if seen_digit && token.len() > 1 && token.ends_with(':') {
            let end = token.as_ptr() as usize - line.as_ptr() as usize + token.len();
            let rest = &line[end..];
            return if rest.trim().is_empty() { line } else { rest.trim_start() };
        }
        seen_digit |= token.bytes().any(|b| b.is_ascii_digit());
    }
    line
}

impl SourceMiners {
    /// Miners holding `saved` (most recently seen first, as [`Store::recent_templates`] gives
    /// them), with new ids above `max_id`.
    ///
    /// [`Store::recent_templates`]: crate::store::Store::recent_templates
    pub fn restore(config: MinerConfig, saved: &[StoredTemplate], max_id: i64) -> SourceMiners {
        let mut miners = SourceMiners { config, miners: FxHashMap::default(), next_id: max_id.max(0) + 1 };
        for template in saved {
            let miner = miner_for(&mut miners.miners, &miners.config, miners.next_id, &template.source);
            miner.restore(template.id, &template.template, template.count);
        }
        miners
    }

    /// Miners holding the templates `store` saved (the `max_clusters` most recent of each
    /// source). If they cannot be read, the miners start empty with ids above any the clock
    /// could have handed out before (ms since the epoch × 1000), so no stored id is reused.
    pub fn load(store: &Store, config: MinerConfig) -> SourceMiners {
        match store.recent_templates(config.max_clusters) {
            Ok((saved, max_id)) => SourceMiners::restore(config, &saved, max_id),
            Err(e) => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                let floor = i64::try_from(now.as_millis()).unwrap_or(i64::MAX / 1000).saturating_mul(1000);
                tracing::error!(error = %e, first_id = floor, "saved templates unreadable; mining from scratch");
                SourceMiners::restore(config, &[], floor)
            }
        }
    }

    /// Empty miners; ids start at 1.
    pub fn new(config: MinerConfig) -> SourceMiners {
        SourceMiners::restore(config, &[], 0)
    }

    /// Templates held, over all sources.
    pub fn len(&self) -> usize {
        self.miners.values().map(Miner::len).sum()
    }

    /// True when no template is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets `template_id` on each event that wants one, and returns what the events add to
    /// their templates' rows (one update per template).
    pub fn mine<'a>(&mut self, events: impl IntoIterator<Item = &'a mut Event>) -> Vec<TemplateUpdate> {
        let mut updates: Vec<TemplateUpdate> = Vec::new();
        let mut index: FxHashMap<i64, usize> = FxHashMap::default();
        for event in events {
            if !wants_template(event) {
                continue;
            }
            let Some(text) = template_text(event) else { continue };
            let next_id = self.next_id;
            let miner = miner_for(&mut self.miners, &self.config, next_id, &event.source);
            miner.set_next_id(next_id);
            let Some(mined) = miner.add(text) else { continue };
            self.next_id = miner.next_id();
            event.template_id = Some(mined.id);
            let at = event.timestamp_ms;
            match index.get(&mined.id) {
                Some(&n) => {
                    let update = &mut updates[n];
                    update.count += 1;
                    update.first_seen_ms = update.first_seen_ms.min(at);
                    update.last_seen_ms = update.last_seen_ms.max(at);
                    if mined.changed {
                        update.template = miner.template(mined.slot).unwrap_or_default();
                    }
                }
                None => {
                    index.insert(mined.id, updates.len());
                    updates.push(TemplateUpdate {
                        id: mined.id,
                        source: event.source.clone(),
                        template: miner.template(mined.slot).unwrap_or_default(),
                        count: 1,
                        first_seen_ms: at,
                        last_seen_ms: at,
                    });
                }
            }
        }
        updates
    }
}

/// The miner of `source` (made on first use), or the shared one past [`MAX_SOURCES`].
fn miner_for<'a>(
    miners: &'a mut FxHashMap<String, Miner>,
    config: &MinerConfig,
    next_id: i64,
    source: &str,
) -> &'a mut Miner {
    let key = if miners.contains_key(source) || miners.len() < MAX_SOURCES { source } else { SHARED };
    if !miners.contains_key(key) {
        miners.insert(key.to_owned(), Miner::starting_at(config.clone(), next_id));
    }
    miners.get_mut(key).expect("inserted above")
}
