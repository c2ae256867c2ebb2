//! Time windows in questions: "in the last 15 minutes", "recently", "today", "yesterday",
//! "this week", "on 2025-04-01", "since 10:00", "after 9am yesterday", "until noon",
//! "between 9 and 11", "from 09:30 to 10:00 on April 1", "at 20:42" (that minute; "at 1pm"
//! that hour), and through `dates` "on 21/12/2016", "in december 2015", "in 2016",
//! "this month", "last year". Words that look like a date but are not read are refused,
//! never dropped: dropping them would answer for all stored data.
//!
//! Hand-written around the `interim` crate: interim reads one date expression ("yesterday
//! 10:00", "April 1", "2 hours ago") but does not find a window inside a sentence, nor knows
//! that "between 9 and 11" means hours or that "since yesterday" starts at midnight. So this
//! module finds the window's words with regexes and hands each endpoint to interim. Days and
//! times of day are read in `[chat] time_zone` (UTC by default); the window itself is two
//! instants, compared with the stored UTC timestamps. A window is half-open: `from <= t < to`.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan, Zoned};
use regex::Regex;
use std::sync::LazyLock;

/// The window a question asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeRange {
    /// Start (inclusive); `None`: from the oldest stored event.
    pub from: Option<Timestamp>,
    /// End (exclusive); `None`: up to the newest stored event.
    pub to: Option<Timestamp>,
    /// The question's own words for it ("in the last hour"), or "all stored data".
    pub label: String,
}

impl TimeRange {
    /// Every stored event.
    pub fn all() -> TimeRange {
        TimeRange { from: None, to: None, label: "all stored data".to_owned() }
    }

    /// Start in ms since the Unix epoch.
    pub fn from_ms(&self) -> Option<i64> {
        self.from.map(|t| t.as_millisecond())
    }

    /// End in ms since the Unix epoch.
    pub fn to_ms(&self) -> Option<i64> {
        self.to.map(|t| t.as_millisecond())
    }

    /// "in the last hour (2025-04-01T11:30:00Z to 2025-04-01T12:30:00Z)".
    pub fn describe(&self) -> String {
        match (self.from, self.to) {
            (None, None) => "in all stored data".to_owned(),
            (Some(from), Some(to)) => format!("{} ({from} to {to})", self.label),
            (Some(from), None) => format!("{} (from {from})", self.label),
            (None, Some(to)) => format!("{} (before {to})", self.label),
        }
    }

    /// Length in minutes, when both ends are known.
    pub fn minutes(&self) -> Option<f64> {
        Some((self.to_ms()? - self.from_ms()?) as f64 / 60_000.0)
    }
}

/// A window found in a question, and the question with the window's words blanked out (so
/// that "15" in "the last 15 minutes" is not read as a count or a status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The window.
    pub range: TimeRange,
    /// The question without the window's words.
    pub rest: String,
}

const NUMBER: &str =
    r"\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|sixty";
const MONTH: &str = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?";
const WEEKDAY: &str = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)";

fn time() -> String {
    r"(?:\d{1,2}(?::\d{2}){0,2}(?:\s?[ap]\.?m\.?)?z?|noon|midnight)".to_owned()
}

fn date() -> String {
    format!(
        r"(?:\d{{4}}-\d{{2}}-\d{{2}}|{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH}(?:\s+\d{{4}})?|(?:last\s+)?{WEEKDAY})"
    )
}

/// One endpoint: a day with an optional time, a time with an optional day, or "N units ago".
fn endpoint() -> String {
    let (t, d) = (time(), date());
    format!(
        r"(?:(?:today|yesterday)(?:\s+(?:at\s+)?{t})?|{d}(?:(?:\s+at)?\s+{t}|t{t})?|(?:{NUMBER})\s+(?:minutes?|mins?|hours?|hrs?|days?)\s+ago|now|(?:at\s+)?{t})"
    )
}

static LAST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"\b(?:(?:in|during|over|within|for)\s+)?(?:the\s+)?(?:last|past|previous)\s+(?:({NUMBER})\s*)?(seconds?|secs?|minutes?|mins?|months?|hours?|hrs?|days?|weeks?|years?|yrs?|[smhdw])\b"
    ))
    .expect("valid regex")
});
/// "of the logs", "of data" after "the last hour": counted back from the newest event.
static OF_THE_LOGS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s+of\s+(?:the\s+)?(?:stored\s+)?(?:logs?|data|events|records|file|entries|lines)\b")
        .expect("valid regex")
});
/// A day without a time of day, as an endpoint of "between".
static DATE_ONLY: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^{}$", date())).expect("valid regex"));
static RECENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\brecent(?:ly)?\b").expect("valid regex"));
static BETWEEN: LazyLock<Regex> = LazyLock::new(|| {
    let e = endpoint();
    Regex::new(&format!(r"\b(?:between\s+({e})\s+and\s+({e})|from\s+({e})\s+(?:to|until|till)\s+({e}))\b"))
        .expect("valid regex")
});
static SINCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"\b(?:since|after|starting)\s+({})\b", endpoint())).expect("valid regex"));
static UNTIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"\b(?:until|till|before|up to)\s+({})\b", endpoint())).expect("valid regex"));
static AT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"\b(?:at|around)\s+({})", time())).expect("valid regex"));
static DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"\b(?:(so far today|today|yesterday|this morning|this afternoon|this week)|on\s+({d})|({iso}))\b",
        d = date(),
        iso = r"\d{4}-\d{2}-\d{2}"
    ))
    .expect("valid regex")
});

/// Find the time window in `question` (any case) relative to `now`. `Ok(None)`: the question
/// names no window. `Err`: it names one that cannot be read, said in words for the user; so
/// does a question with words that look like a date or time left unread (see `dates`), rather
/// than be answered for a wider window than it asks about.
pub fn find(question: &str, now: Timestamp, tz: &TimeZone) -> Result<Option<Found>, String> {
    let (text, notes) = super::dates::numeric_days(&question.to_lowercase())?;
    let mut found = window(&text, now, tz)?;
    let rest = found.as_ref().map_or(text.as_str(), |f| f.rest.as_str());
    if let Some(unread) = super::dates::unread(rest) {
        return Err(super::dates::unreadable(&unread, ""));
    }
    if let Some(found) = &mut found
        && !notes.is_empty()
    {
        found.range.label = format!("{} ({})", found.range.label, notes.join("; "));
    }
    Ok(found)
}

/// [`find`] over `text`, the question in lower case with its numeric days written ISO.
fn window(text: &str, now: Timestamp, tz: &TimeZone) -> Result<Option<Found>, String> {
    let text = text.to_owned();
    let mut rest = text.clone();

    if let Some(caps) = LAST.captures(&text)
        && !calendar(caps.get(0).expect("match").as_str(), caps.get(1).is_some())
    {
        let whole = caps.get(0).expect("match");
        if let Some(of) = OF_THE_LOGS.find(&text[whole.end()..]) {
            return Err(format!(
                "I cannot count back from the newest stored event yet ({:?}), and \"the last hour\" alone is the \
                 hour before now; name the times instead (\"between 20:00 and 21:00 on 2016-12-22\")",
                format!("{}{}", whole.as_str().trim(), of.as_str().trim_end())
            ));
        }
        let count = caps.get(1).map_or(Some(1), |n| number(n.as_str())).filter(|n| *n > 0);
        let Some(count) = count else { return Err(format!("{:?} is not a window I can count", whole.as_str())) };
        let too_far = || format!("{:?} reaches too far back", whole.as_str());
        let from = match &caps[2] {
            // Months and years are calendar ones: "the last month" from March 31 is from
            // February 28 (or 29), not 30 days back.
            unit if unit.starts_with("mo") || unit.starts_with('y') => {
                let months = if unit.starts_with('y') { count.saturating_mul(12) } else { count };
                let span = jiff::Span::new().try_months(months).map_err(|_| too_far())?;
                now.to_zoned(tz.clone()).checked_sub(span).map_err(|_| too_far())?.timestamp()
            }
            unit => {
                let span = SignedDuration::from_secs(count.saturating_mul(unit_seconds(unit)));
                now.checked_sub(span).map_err(|_| too_far())?
            }
        };
        blank(&mut rest, whole.range());
        let label = whole.as_str().trim().to_owned();
        let label =
            if label.starts_with("last") || label.starts_with("past") { format!("in the {label}") } else { label };
        return Ok(Some(Found { range: TimeRange { from: Some(from), to: Some(now), label }, rest }));
    }
    if let Some(m) = RECENT.find(&text) {
        blank(&mut rest, m.range());
        let from = now - SignedDuration::from_hours(1);
        let range = TimeRange { from: Some(from), to: Some(now), label: "recently (the last hour)".to_owned() };
        return Ok(Some(Found { range, rest }));
    }

    let between = valid_match(&BETWEEN, &text);
    let since = if between.is_none() { valid_match(&SINCE, &text) } else { None };
    let until = if between.is_none() { valid_match(&UNTIL, &text) } else { None };
    let mut label = Vec::new();
    for caps in [&between, &since, &until].into_iter().flatten() {
        let whole = caps.get(0).expect("match");
        blank(&mut rest, whole.range());
        label.push((whole.start(), whole.as_str().trim().to_owned()));
    }
    // "at 20:42": a moment, when no endpoint is named.
    let at = if between.is_none() && since.is_none() && until.is_none() {
        let copy = rest.clone();
        valid_match(&AT, &copy).map(|caps| {
            let whole = caps.get(0).expect("match");
            blank(&mut rest, whole.range());
            label.push((whole.start(), whole.as_str().trim().to_owned()));
            caps[1].to_owned()
        })
    } else {
        None
    };
    // The day qualifier is looked for only outside the endpoints ("since yesterday" is one).
    let day = match DAY.captures(&rest) {
        Some(caps) => {
            let whole = caps.get(0).expect("match");
            label.push((whole.start(), whole.as_str().trim().to_owned()));
            let day = day_of(&caps, now, tz)?;
            let range = whole.range();
            blank(&mut rest, range);
            Some(day)
        }
        None => match super::dates::period(&rest, now, tz)? {
            Some((range, day)) => {
                label.push((range.start, rest[range.clone()].trim().to_owned()));
                blank(&mut rest, range);
                Some(day)
            }
            None => None,
        },
    };
    if between.is_none() && since.is_none() && until.is_none() && at.is_none() && day.is_none() {
        return Ok(None);
    }
    label.sort();
    let mut label = label.into_iter().map(|(_, l)| l).collect::<Vec<_>>().join(" ");

    let range = if let Some(caps) = between {
        let (a, b) = match (caps.get(1), caps.get(2)) {
            (Some(a), Some(b)) => (a.as_str(), b.as_str()),
            _ => (&caps[3], &caps[4]),
        };
        let (mut from, a_time_only) = point(a, day.map(|d| d.date), now, tz)?;
        let (mut to, b_time_only) = point(b, day.map(|d| d.date), now, tz)?;
        if a_time_only && b_time_only && day.is_none() && from > now {
            // "between 9 and 11" asked at 08:00 means yesterday's.
            from -= SignedDuration::from_hours(24);
            to -= SignedDuration::from_hours(24);
        }
        if to <= from && b_time_only {
            to += SignedDuration::from_hours(24);
        }
        // "between 2026-07-01 and 2026-07-10" runs through the 10th, as it is meant.
        if DATE_ONLY.is_match(b.trim()) {
            let day = to.to_zoned(tz.clone()).date();
            to = day.tomorrow().map_err(|_| super::dates::out_of_range(day)).and_then(|next| midnight(next, tz))?;
            label = format!("{label}, through the end of {}", b.trim());
        }
        if to <= from {
            return Err(format!("the window {label:?} ends ({to}) no later than it starts ({from})"));
        }
        TimeRange { from: Some(from), to: Some(to), label }
    } else if let Some(time) = at {
        let (mut from, time_only) = point(&time, day.map(|d| d.date), now, tz)?;
        if time_only && day.is_none() && from > now {
            from -= SignedDuration::from_hours(24);
        }
        // As precise as written: "at 20:42" is that minute, "at 1pm" that hour.
        let (span, unit) = match time.matches(':').count() {
            0 => (SignedDuration::from_hours(1), "hour"),
            1 => (SignedDuration::from_mins(1), "minute"),
            _ => (SignedDuration::from_secs(1), "second"),
        };
        label = format!("{label}, the whole {unit}");
        let to = (from + span).min(now);
        if to <= from {
            return Err(format!("the window {label:?} starts ({from}) after now ({now}); nothing to count yet"));
        }
        TimeRange { from: Some(from), to: Some(to), label }
    } else {
        let from = match &since {
            Some(caps) => {
                let (mut from, time_only) = point(&caps[1], day.map(|d| d.date), now, tz)?;
                if time_only && day.is_none() && from > now {
                    from -= SignedDuration::from_hours(24);
                }
                Some(from)
            }
            None => day.map(|d| d.start),
        };
        let to = match &until {
            Some(caps) => Some(point(&caps[1], day.map(|d| d.date), now, tz)?.0),
            // "on 2026-07-10 after 12:00": to the end of that day, not to now.
            None if since.is_some() => Some(day.filter(|d| d.dated).map_or(now, |d| d.end.min(now))),
            None => day.map(|d| d.end.min(now)),
        };
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            return Err(format!("the window {label:?} ends ({to}) before it starts ({from}); nothing to count yet"));
        }
        TimeRange { from, to, label }
    };
    Ok(Some(Found { range, rest }))
}

/// A day (or week, half-day, month or year) named by the question.
#[derive(Debug, Clone, Copy)]
pub(super) struct Day {
    /// The (first) day: the one a bare time of day refers to.
    pub(super) date: Date,
    /// Its first instant.
    pub(super) start: Timestamp,
    /// The first instant after it.
    pub(super) end: Timestamp,
    /// Whether it is named by its date (a day, month or year), so "after 12:00" on it ends
    /// with it; "since 10:00 yesterday" runs to now.
    pub(super) dated: bool,
}

fn day_of(caps: &regex::Captures<'_>, now: Timestamp, tz: &TimeZone) -> Result<Day, String> {
    let today = now.to_zoned(tz.clone()).date();
    // Days from midnight to midnight, not 24 hours: a day of a daylight-saving change is 23
    // or 25 hours long. A day whose end cannot be counted is refused by its own name.
    let whole_day = |date: Date| -> Result<Day, String> {
        let end = date.tomorrow().ok().and_then(|next| midnight(next, tz).ok());
        Ok(Day {
            date,
            start: midnight(date, tz)?,
            end: end.ok_or_else(|| super::dates::out_of_range(date))?,
            dated: false,
        })
    };
    let noon = |date: Date| -> Result<Timestamp, String> {
        date.at(12, 0, 0, 0).to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|e| e.to_string())
    };
    if let Some(word) = caps.get(1) {
        return match word.as_str() {
            "yesterday" => whole_day(today.yesterday().map_err(|e| e.to_string())?),
            "this morning" => Ok(Day { end: noon(today)?, ..whole_day(today)? }),
            "this afternoon" => Ok(Day { start: noon(today)?, ..whole_day(today)? }),
            "this week" => {
                let monday = today
                    .checked_sub((today.weekday().to_monday_zero_offset() as i64).days())
                    .map_err(|e| e.to_string())?;
                let next_monday = monday.checked_add(7.days()).map_err(|e| e.to_string())?;
                Ok(Day { date: monday, start: midnight(monday, tz)?, end: midnight(next_monday, tz)?, dated: false })
            }
            _ => whole_day(today),
        };
    }
    let text = caps.get(2).or_else(|| caps.get(3)).expect("one alternative matched").as_str();
    let (at, _) = point(text, None, now, tz)?;
    Ok(Day { dated: true, ..whole_day(at.to_zoned(tz.clone()).date())? })
}

/// One endpoint as an instant, and whether it was a time of day alone. `day` is the day a
/// bare time refers to (today when `None`).
fn point(text: &str, day: Option<Date>, now: Timestamp, tz: &TimeZone) -> Result<(Timestamp, bool), String> {
    let original = text.trim();
    let mut text = original.trim_start_matches("at ").trim().replace("noon", "12:00").replace("midnight", "00:00");
    text = text.replace(['.'], "").replace(" am", "am").replace(" pm", "pm");
    if let Some(stripped) = text.strip_suffix('z') {
        text = stripped.to_owned();
    }
    if TIME_T.is_match(&text) {
        text = text.replacen('t', " ", 1);
    }
    // "dec 10 2025" (as syslog and US English write a day) → "10 dec 2025": interim reads the
    // day first.
    if let Some(caps) = MONTH_FIRST.captures(&text) {
        text = format!("{} {}{}", &caps[2], &caps[1], &caps[3]);
    }
    if text == "now" {
        return Ok((now, false));
    }
    if text == "today" || text == "yesterday" {
        let today = now.to_zoned(tz.clone()).date();
        let date = if text == "today" { today } else { today.yesterday().map_err(|e| e.to_string())? };
        return Ok((midnight(date, tz)?, false));
    }
    // "yesterday at 9" → "yesterday 9:00": interim wants minutes on a time after a day.
    if let Some((day_word, time)) = text.split_once(' ')
        && (day_word == "today" || day_word == "yesterday")
    {
        let time = time.trim_start_matches("at ").trim();
        text = if HOUR.is_match(time) { format!("{day_word} {time}:00") } else { format!("{day_word} {time}") };
    }
    if HOUR.is_match(&text) {
        text.push_str(":00");
    }
    check_clock(&text, original)?;
    // A day alone, as ISO writes it (what `dates` makes of numeric days): read here, so a day
    // past what a timestamp holds is said as such, not as a time interim cannot parse.
    if let Ok(date) = text.parse::<Date>()
        && ISO_DATE_ONLY.is_match(&text)
    {
        return Ok((midnight(date, tz)?, false));
    }
    let time_only = TIME_ONLY.is_match(&text);
    let base = match (time_only, day) {
        (true, Some(day)) => day.to_zoned(tz.clone()).map_err(|e| e.to_string())?,
        _ => now.to_zoned(tz.clone()),
    };
    super::dates::check_named_day(&text, original, base.year())?;
    let parsed: Zoned = interim::parse_date_string(&text, base, interim::Dialect::Uk).map_err(|e| match time_only {
        true => format!("I could not read the time {original:?} ({e}); try \"10:00\" or \"2025-04-01 09:30\""),
        false => super::dates::unreadable(original, &e.to_string()),
    })?;
    let mut at = parsed.timestamp();
    // A bare weekday ("since monday") means the last one, not the next.
    if WEEKDAY_ONLY.is_match(&text) && at > now {
        at -= SignedDuration::from_hours(24 * 7);
    }
    Ok((at, time_only))
}

/// Refuse a time of day past the clock ("25:00", "33" for an hour, "13pm"): interim would
/// roll it over into the next day and answer for a window nobody asked about.
fn check_clock(text: &str, original: &str) -> Result<(), String> {
    for caps in CLOCK.captures_iter(text).chain(HOUR_AM_PM.captures_iter(text)) {
        let hour: u32 = caps[1].parse().unwrap_or(u32::MAX);
        let am_pm = caps.get(2).map_or("", |m| m.as_str());
        if hour > if am_pm.is_empty() { 23 } else { 12 } {
            return Err(format!(
                "I could not read the time {original:?}: there is no hour {hour}{am_pm}; try \"10:00\" or \"2025-04-01 09:30\""
            ));
        }
    }
    Ok(())
}

/// A time of day with minutes, its hour and am/pm; an hour with am/pm alone.
static CLOCK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\s)(\d{1,2})(?::\d{2}){1,2}(?:\s*([ap]m))?\b").expect("valid regex"));
static HOUR_AM_PM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\s)(\d{1,2})\s*([ap]m)\b").expect("valid regex"));
static MONTH_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"^({MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?(\s+\d{{4}}\b.*|\s+.*|$)")).expect("valid regex")
});
static HOUR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d{1,2}$").expect("valid regex"));
static TIME_ONLY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{1,2}(?::\d{2}){0,2}(?:[ap]m)?$").expect("valid regex"));
static ISO_DATE_ONLY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d{4}-\d{2}-\d{2}$").expect("valid regex"));
static TIME_T: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\d{4}-\d{2}-\d{2}t\d").expect("valid regex"));
static WEEKDAY_ONLY: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^{WEEKDAY}$")).expect("valid regex"));

/// The first instant of `date` in `tz`; `Err` (said to the user) for a day outside the
/// instants a timestamp holds.
pub(super) fn midnight(date: Date, tz: &TimeZone) -> Result<Timestamp, String> {
    date.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(|_| super::dates::out_of_range(date))
}

/// The first match not followed by more of a token: "from 10.0.0.1" is an address and
/// "since 10/04" a date this module does not read, while "from 10" is an hour.
fn valid_match<'t>(re: &Regex, text: &'t str) -> Option<regex::Captures<'t>> {
    re.captures_iter(text).find(|caps| {
        let mut after = text[caps.get(0).expect("match").end()..].chars();
        match (after.next(), after.next()) {
            (Some('.'), Some(next)) => !next.is_ascii_digit(),
            (Some(next), _) => !(next == ':' || next == '/' || next.is_ascii_alphanumeric()),
            (None, _) => true,
        }
    })
}

/// Whether a match of `LAST` is a calendar month or year ("last month": the one before this),
/// not a window back from now ("the last month", "the past year", "the last 2 months").
fn calendar(words: &str, counted: bool) -> bool {
    let words = words.trim();
    !counted
        && (words.ends_with(" month") || words.ends_with(" year"))
        && !words.contains("the ")
        && !words.contains("past")
}

fn number(word: &str) -> Option<i64> {
    Some(match word {
        "a" | "an" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "fifteen" => 15,
        "twenty" => 20,
        "thirty" => 30,
        "sixty" => 60,
        digits => digits.parse().ok().filter(|n| *n <= 100_000)?,
    })
}

fn unit_seconds(unit: &str) -> i64 {
    match unit.as_bytes()[0] {
        b's' => 1,
        b'm' => 60,
        b'h' => 3600,
        b'd' => 86_400,
        _ => 7 * 86_400,
    }
}

/// Replace a range of `text` with spaces (same length, so other offsets stay valid).
pub(super) fn blank(text: &mut String, range: std::ops::Range<usize>) {
    let spaces = " ".repeat(range.len());
    text.replace_range(range, &spaces);
}
