//! Dates that `timerange`'s window rules do not spell out: days written with numbers
//! ("21/12/2016", "12/22/2016", "2016/12/22"), whole months and years ("december 2015",
//! "in march", "in 2016", "this month", "last year"), and what is left of a question that
//! looks like a date or a time but was not read.
//!
//! That last part is what keeps a window from being widened: a date dropped unread would have
//! the question answered for all stored data, so `timerange` refuses the question instead and
//! says which words it could not read and which forms work ([`FORMS`]).

use super::timerange::{Day, midnight};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use regex::Regex;
use std::sync::LazyLock;

/// The forms of a day, month and year that are read, for the reply to one that is not.
pub const FORMS: &str = "write a day as 2016-12-22, 22/12/2016, 12/22/2016 (either way round when it is \
                         unambiguous; day first when both are), \"22 dec 2016\" or \"dec 22 2016\", a month as \
                         \"december 2016\" or \"in december\", a year as \"in 2016\", or say \"today\", \
                         \"yesterday\", \"this week\", \"this month\", \"last month\", \"this year\" or \"last year\", \
                         and a span back from now as \"in the last 90 minutes\" or \"in the past 2 hours\"";

const MONTH: &str = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";

/// A day in numbers: `a/b/yyyy`, `a.b.yyyy`, `a-b-yyyy` or `yyyy/m/d`.
static NUMERIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:(\d{1,2})([/.-])(\d{1,2})([/.-])(\d{4})|(\d{4})([/.])(\d{1,2})([/.])(\d{1,2}))\b")
        .expect("valid regex")
});
/// A month of a year, a year, a month alone, or this / last month or year.
static PERIOD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"\b(?:(?:in|during|for|on|throughout)\s+(?:the\s+month\s+of\s+)?)?({MONTH})\.?,?\s+(\d{{4}})\b|\b(?:(?:in|during|for|over|throughout)\s+)?(this|last|previous)\s+(month|year)\b|\b(?:in|during|for|throughout)\s+(?:the\s+year\s+)?((?:19|20)\d{{2}})\b|\b(?:in|during|throughout)\s+(?:the\s+month\s+of\s+)?({MONTH})\b"
    ))
    .expect("valid regex")
});
/// What looks like a date or a time: numbers with slashes, dots or dashes, an ISO instant, a
/// clock time, a month or weekday name, "N units ago", "tomorrow", "next week".
static DATE_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b\d{4}-\d{2}-\d{2}t[\d:.]+z?\b|\b\d{1,4}(?:/\d{1,2}(?:/\d{1,4})?|\.\d{1,2}\.\d{1,4}|-\d{1,2}-\d{1,4})\b|\b\d{1,2}:\d{2}(?::\d{2})?\b|\b(?:january|february|march|april|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\b|\bmay\s+\d{1,2}\b|\b\d{1,2}(?:st|nd|rd|th)?\s+may\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|(?:\b\w+\s+){0,2}\bago\b|\b(?:tomorrow|tonight|weekend|fortnight)\b|\bnext\s+(?:\d+\s+)?(?:minutes?|hours?|days?|weeks?|months?|years?)\b|\b(?:last|past|previous|this)\s+(?:quarter|decade|season)\b|\b(?:last|past|previous)\s+(?:[\w.+-]+\s+){0,3}?(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|night|evening|morning|afternoon)\b|\bhalf\s+(?:an?\s+)?(?:hour|minute|day)\b|\band\s+a\s+half\b|\b(?:morning|afternoon|evening|night|overnight)\b|\bq[1-4]\b|\bquarter\b|\b(?:in|during|since|for|of|summari[sz]e)\s+\d{4,}\b",
    )
    .expect("valid regex")
});
/// A day of a month, day first: "30 feb", "30th feb 2016".
static NAMED_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"^(\d{{1,2}})(?:st|nd|rd|th)?\s+({MONTH})\.?(?:,?\s+(\d{{4}}))?\b")).expect("valid regex")
});
/// A month's name anywhere.
static MONTH_WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"\b{MONTH}\b")).expect("valid regex"));
/// A day as ISO writes it, with a time ("2016-02-30t10:00") or without.
static ISO_DAY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{4})-(\d{2})-(\d{2})(?:t\d|\b)").expect("valid regex"));
static QUOTED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""[^"]*"|“[^”]*”"#).expect("valid regex"));

/// `text` with each day written in numbers rewritten as `yyyy-mm-dd`, and a note for each one
/// read day first because both readings were dates. `Err`: one that is no date.
pub fn numeric_days(text: &str) -> Result<(String, Vec<String>), String> {
    // Days already written ISO are kept, once they are days at all: "2016-02-30" is said as
    // no such day, not left for interim to call an unreadable time.
    for caps in ISO_DAY.captures_iter(text) {
        let whole = caps.get(0).expect("match");
        let before = text[..whole.start()].chars().next_back();
        if before
            .is_some_and(|c| c.is_alphanumeric() || matches!(c, '/' | '_' | '=' | '&' | '*' | '.' | '-' | ':' | '?'))
        {
            continue; // a path ("/2016-02-30/") or a longer token
        }
        let n = |i: usize| caps[i].parse::<i8>().unwrap_or(0);
        let year = caps[1].parse::<i16>().unwrap_or(0);
        if Date::new(year, n(2), n(3)).is_err() {
            let written = &text[whole.start()..caps.get(3).expect("day").end()];
            return Err(unreadable(written, "there is no such day"));
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut notes = Vec::new();
    let mut last = 0;
    for caps in NUMERIC.captures_iter(text) {
        let whole = caps.get(0).expect("match");
        if inside_token(text, whole.range()) {
            continue; // a path ("/2016/12/22/") or an address, not a day
        }
        let n = |i: usize| caps.get(i).map(|m| m.as_str().parse::<i16>().unwrap_or(0));
        let written = whole.as_str();
        let (year, month, day) = match (n(5), n(6)) {
            (Some(year), _) if caps[2] == caps[4] => {
                let (a, b) = (n(1).unwrap_or(0), n(3).unwrap_or(0));
                match (a, b) {
                    (a, b) if a > 12 && b <= 12 => (year, b, a),
                    (a, b) if b > 12 && a <= 12 => (year, a, b),
                    (a, b) if a <= 12 && b <= 12 => {
                        if a != b {
                            notes.push(format!(
                                "{written} read day first as {year:04}-{b:02}-{a:02}; write {year:04}-{a:02}-{b:02} \
                                 for the other reading"
                            ));
                        }
                        (year, b, a)
                    }
                    _ => return Err(unreadable(written, "neither number is a month")),
                }
            }
            (None, Some(year)) if caps[7] == caps[9] => (year, n(8).unwrap_or(0), n(10).unwrap_or(0)),
            _ => continue,
        };
        let date = Date::new(year, month as i8, day as i8).map_err(|_| unreadable(written, "there is no such day"))?;
        out.push_str(&text[last..whole.start()]);
        out.push_str(&date.to_string());
        last = whole.end();
    }
    out.push_str(&text[last..]);
    Ok((out, notes))
}

/// A whole month or year named in `text`: where its words are, and its days (the day a bare
/// time refers to is its first).
pub fn period(text: &str, now: Timestamp, tz: &TimeZone) -> Result<Option<(std::ops::Range<usize>, Day)>, String> {
    let Some(caps) = PERIOD.captures(text) else { return Ok(None) };
    let whole = caps.get(0).expect("match");
    let today = now.to_zoned(tz.clone()).date();
    let err = |e: jiff::Error| e.to_string();
    let (first, months) = if let (Some(month), Some(year)) = (caps.get(1), caps.get(2)) {
        let year = year.as_str().parse().map_err(|_| unreadable(whole.as_str(), "the year"))?;
        (Date::new(year, month_number(month.as_str()), 1).map_err(err)?, 1)
    } else if let (Some(which), Some(unit)) = (caps.get(3), caps.get(4)) {
        let this = match unit.as_str() {
            "month" => today.first_of_month(),
            _ => Date::new(today.year(), 1, 1).map_err(err)?,
        };
        let months = if unit.as_str() == "month" { 1 } else { 12 };
        match which.as_str() {
            "this" => (this, months),
            _ => (this.checked_sub(months.months()).map_err(err)?, months),
        }
    } else if let Some(year) = caps.get(5) {
        let year = year.as_str().parse().map_err(|_| unreadable(whole.as_str(), "the year"))?;
        (Date::new(year, 1, 1).map_err(err)?, 12)
    } else {
        // A month alone: the last one that has begun.
        let month = month_number(caps.get(6).expect("one alternative matched").as_str());
        let this_year = Date::new(today.year(), month, 1).map_err(err)?;
        let first = if this_year > today { this_year.checked_sub(1.year()).map_err(err)? } else { this_year };
        (first, 1)
    };
    let after = first.checked_add(months.months()).map_err(|_| match months {
        1 => out_of_range(format!("{:04}-{:02}", first.year(), first.month())),
        _ => out_of_range(first.year()),
    })?;
    let day = Day { date: first, start: midnight(first, tz)?, end: midnight(after, tz)?, dated: true };
    Ok(Some((whole.range(), day)))
}

/// The first words of `rest` (a question with the window's words blanked) that look like a
/// date or a time, when there are any: what was not read. Paths, addresses and quoted texts
/// are not dates.
pub fn unread(rest: &str) -> Option<String> {
    let mut rest = rest.to_owned();
    for range in QUOTED.find_iter(&rest.clone()).map(|m| m.range()).collect::<Vec<_>>() {
        super::timerange::blank(&mut rest, range);
    }
    DATE_LIKE.find_iter(&rest).find(|m| !inside_token(&rest, m.range())).map(|m| m.as_str().trim().to_owned())
}

/// The reply to a date that cannot be read.
pub fn unreadable(written: &str, why: &str) -> String {
    let dated = written.contains(['-', '/']) || MONTH_WORD.is_match(written);
    let kind = if written.contains(':') && !dated { "time" } else { "date" };
    let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
    format!("I could not read the {kind} {written:?}{why}, so I did not answer for all stored data instead; {FORMS}")
}

/// The reply to a day (or month, year) that reaches outside the instants a timestamp holds.
pub fn out_of_range(written: impl std::fmt::Display) -> String {
    format!(
        "I cannot count on {written}: it reaches outside the times I can handle ({} to {}), so I did not answer for \
         all stored data instead",
        Timestamp::MIN,
        // Whole seconds: the last instant's nanoseconds say nothing to a reader.
        Timestamp::from_second(Timestamp::MAX.as_second()).unwrap_or(Timestamp::MAX)
    )
}

/// Refuse a day named with its month ("30 feb 2016", as `timerange` writes "feb 30 2016")
/// that no calendar has: interim would only say it cannot parse it. Without a year it is a
/// day of `year` (the one interim reads it in), so "29 feb" is refused in 2025.
pub fn check_named_day(text: &str, original: &str, year: i16) -> Result<(), String> {
    let Some(caps) = NAMED_DAY.captures(text) else { return Ok(()) };
    let day = caps[1].parse().unwrap_or(0);
    let named_year = caps.get(3).map(|y| y.as_str().parse().unwrap_or(0));
    let month = month_number(&caps[2]);
    match Date::new(named_year.unwrap_or(year), month, day) {
        Ok(_) => Ok(()),
        // 29 feb: a day of leap years (2000 is one).
        Err(_) if named_year.is_none() && Date::new(2000, month, day).is_ok() => {
            Err(unreadable(original, &format!("there is no such day in {year}")))
        }
        Err(_) => Err(unreadable(original, "there is no such day")),
    }
}

/// Whether `range` of `text` is part of a longer token: a path, an address, a version.
fn inside_token(text: &str, range: std::ops::Range<usize>) -> bool {
    let before = text[..range.start].chars().next_back();
    let mut after = text[range.end..].chars();
    let joined = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || matches!(c, '/' | '_' | '=' | '&' | '*'));
    joined(before)
        || matches!(before, Some('.' | '-' | ':' | '?'))
        || match (after.next(), after.next()) {
            (Some('.' | '-' | ':' | '/'), next) => joined(next),
            (next, _) => joined(next),
        }
}

fn month_number(name: &str) -> i8 {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    MONTHS.iter().position(|m| name.starts_with(m)).map_or(1, |i| i as i8 + 1)
}
