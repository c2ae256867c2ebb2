//! Timestamps in the forms logs write them, turned into UTC milliseconds since the Unix epoch.
//!
//! The access-log time (`22/Dec/2016:16:30:52 +0300`) is read by hand: it is on the hot path of
//! every combined/common line and a fixed-width scan is several times cheaper than a general
//! strptime. Everything else (RFC 3339, civil date-times, user strftime formats) goes through
//! `jiff`. This module never guesses a time zone: text without an offset is read as UTC (the `syslog`
//! format reads its BSD times in the source's `time_zone`, see `syslog`).

use jiff::Timestamp;
use jiff::fmt::strtime::{self, BrokenDownTime};
use jiff::tz::{Offset, TimeZone};

/// Reads the access-log time `dd/Mon/yyyy:HH:MM:SS[.fff] [±hhmm]` into UTC milliseconds.
///
/// The offset may also be written `±hh:mm`; a missing offset means UTC. Returns `None` for
/// anything else, including impossible dates (31 Feb) and out-of-range clock fields.
pub(super) fn access_log_millis(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[14] != b':' || b[17] != b':' {
        return None;
    }
    let day = digits(&b[0..2])?;
    let month = month_number(&b[3..6])?;
    let year = digits(&b[7..11])?;
    let hour = digits(&b[12..14])?;
    let minute = digits(&b[15..17])?;
    // A leap second (:60) is read as :59, as jiff does, rather than rejecting the line's time.
    let second = digits(&b[18..20])?.min(59);
    if day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 {
        return None;
    }
    let mut i = 20;
    let mut millis = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            // Only the first three fraction digits matter at millisecond resolution.
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let offset_seconds = if i == b.len() {
        0
    } else {
        let sign = match b[i] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let rest = &b[i + 1..];
        let (hh, mm) = match rest.len() {
            4 => (digits(&rest[0..2])?, digits(&rest[2..4])?),
            5 if rest[2] == b':' => (digits(&rest[0..2])?, digits(&rest[3..5])?),
            _ => return None,
        };
        if hh > 23 || mm > 59 {
            return None;
        }
        sign * (hh * 3600 + mm * 60)
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(seconds * 1000 + millis)
}

/// Reads a timestamp given as text: the configured strftime `format` first (when set), then
/// RFC 3339, an epoch number (see [`epoch_millis`]), a civil date-time read as UTC, and the
/// access-log form. The error says which forms were tried.
pub(super) fn text_millis(text: &str, format: Option<&str>) -> Result<i64, String> {
    let text = text.trim();
    if let Some(format) = format
        && let Ok(ts) = strtime::parse(format, text).and_then(|tm| to_utc(&tm))
    {
        return Ok(ts.as_millisecond());
    }
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    if looks_numeric(text)
        && let Some(ms) = text.parse::<f64>().ok().and_then(epoch_millis)
    {
        return Ok(ms);
    }
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>()
        && let Ok(ts) = Offset::UTC.to_timestamp(dt)
    {
        return Ok(ts.as_millisecond());
    }
    if let Some(ms) = access_log_millis(text) {
        return Ok(ms);
    }
    let tried = "RFC 3339, an epoch number or dd/Mon/yyyy:HH:MM:SS ±hhmm";
    Err(match format {
        Some(format) => format!("does not match timestamp_format `{format}`, nor {tried}"),
        None => format!("expected {tried}; set timestamp_format for other forms"),
    })
}

/// The zone a config names: an IANA name (`"Europe/Istanbul"`), `"UTC"`, or `"local"` for the
/// machine's own (`TZ`, else `/etc/localtime`). The error says what was wrong, not what to write.
pub fn named_time_zone(name: &str) -> Result<TimeZone, String> {
    match name.trim() {
        "UTC" | "utc" => Ok(TimeZone::UTC),
        "local" => TimeZone::try_system().map_err(|e| format!("the machine's own time zone cannot be read: {e}")),
        name => TimeZone::get(name).map_err(|e| format!("{name:?} is not a time zone ({e})")),
    }
}

/// Reads an epoch number, choosing the unit by magnitude: below 1e11 seconds (that reaches the
/// year 5138), below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds.
pub(super) fn epoch_millis(value: f64) -> Option<i64> {
    if !value.is_finite() {
        return None;
    }
    let magnitude = value.abs();
    let millis = if magnitude < 1e11 {
        value * 1e3
    } else if magnitude < 1e14 {
        value
    } else if magnitude < 1e17 {
        value / 1e3
    } else {
        value / 1e6
    };
    // Keep within what jiff (and every store downstream) accepts as a timestamp.
    Timestamp::from_millisecond(millis.round() as i64).ok().map(Timestamp::as_millisecond)
}

/// Checks a configured strftime format: it must have a directive, be one jiff can write and
/// read back, and yield a full date (a time of day is optional and defaults to midnight).
pub(super) fn check_format(format: &str) -> Result<(), String> {
    if !format.contains('%') {
        return Err("has no % directive".into());
    }
    let sample = Timestamp::from_second(1_700_000_000).expect("a fixed in-range second").to_zoned(TimeZone::UTC);
    let written = strtime::format(format, &sample).map_err(|e| format!("cannot be used: {e}"))?;
    let read =
        strtime::parse(format, &written).map_err(|e| format!("cannot read back what it writes (`{written}`): {e}"))?;
    to_utc(&read).map_err(|_| "does not give a full date (it needs a year, month and day, or %s)".to_owned())?;
    Ok(())
}

/// A parsed strftime result as an instant: its own offset when it has one, else UTC.
fn to_utc(tm: &BrokenDownTime) -> Result<Timestamp, jiff::Error> {
    match tm.to_timestamp() {
        Ok(ts) => Ok(ts),
        Err(_) => Offset::UTC.to_timestamp(tm.to_datetime()?),
    }
}

/// True for `123`, `-1.5`, `1700000000.123`: the only texts read as epoch numbers, so that
/// `inf`, `1e5` or `NaN` in a time field are not mistaken for instants.
fn looks_numeric(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    !body.is_empty()
        && body.bytes().all(|c| c.is_ascii_digit() || c == b'.')
        && body.bytes().filter(|&c| c == b'.').count() <= 1
        && body.bytes().any(|c| c.is_ascii_digit())
}

/// ASCII decimal digits to a number; `None` if any byte is not a digit.
fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, &c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0')))
}

fn month_number(name: &[u8]) -> Option<i64> {
    let lower = [name[0].to_ascii_lowercase(), name[1].to_ascii_lowercase(), name[2].to_ascii_lowercase()];
    let month = match &lower {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    };
    Some(month)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}
