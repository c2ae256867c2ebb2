//! Where "now" comes from. Every time window of a question ("in the last hour", "today") is
//! relative to it, so tests fix it and the agent reads the system clock.

use jiff::Timestamp;

/// The source of "now" for time windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// Always this instant (tests, replays of old logs).
    Fixed(Timestamp),
}

impl Clock {
    /// The current instant, to the millisecond (the store's resolution).
    pub fn now(&self) -> Timestamp {
        let now = match self {
            Clock::System => Timestamp::now(),
            Clock::Fixed(at) => *at,
        };
        Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now)
    }
}
