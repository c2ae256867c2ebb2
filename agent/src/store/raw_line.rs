//! Access-log lines stored once. A `combined` or `common` line as nginx and Apache write it by
//! default can be written again, byte for byte, from its event's own columns (client, time,
//! request, status, size, referer, user agent) plus a few facts the columns do not hold: the
//! time's UTC offset, the protocol, and which of the formats' variants was used. For such a
//! line the commit stores that [`Layout`] as one small integer (`events.raw_layout`) and an
//! empty `raw`, and every read writes the line again ([`render`]).
//!
//! The event's columns are about half of a stored access-log row and `raw` the other half, so
//! this roughly halves the bytes a commit writes, the WAL carries and the checkpoint copies
//! (measured with `--bench store_insert`: the database ~43% smaller, see docs/benchmarks.md).
//!
//! Never lossy: a layout is kept only after the line it gives was written out and compared with
//! `raw` byte for byte ([`layout_of`]). Anything else (escapes, an `ident` or `user`, a
//! fractional time, an unknown trailing field, a `-` status) fails the comparison and the line
//! is stored as it came, with `raw_layout` NULL.

use jiff::Timestamp;
use jiff::tz::Offset;
use std::fmt::Write;

/// The protocols a layout can name; index in this table is stored.
const PROTOCOLS: [&str; 6] = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/2", "HTTP/3", "HTTP/0.9"];

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Largest UTC offset in minutes an access-log time can carry (`±2359`).
const MAX_OFFSET_MINUTES: i16 = 23 * 60 + 59;

/// What a line holds besides its event's columns:
/// `ip - - [time offset] "method url protocol" status bytes ["referer" "user agent"] [latency]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    /// The time's UTC offset, in minutes.
    offset_minutes: i16,
    /// Index into [`PROTOCOLS`].
    protocol: u8,
    /// `common`: the line ends after the size (no referer and user agent).
    common: bool,
    /// A size of 0 is written `-` (Apache's `%b`), not `0` (nginx's `$body_bytes_sent`).
    bytes_dash: bool,
    /// The line ends with the latency in seconds, three decimals (nginx's `$request_time`).
    latency_seconds: bool,
}

impl Layout {
    /// The stored form: the offset (shifted to be positive) above the protocol and the flags.
    pub(super) fn code(self) -> i64 {
        let flags = i64::from(self.common) | i64::from(self.bytes_dash) << 1 | i64::from(self.latency_seconds) << 2;
        (i64::from(self.offset_minutes) + 1440) << 8 | i64::from(self.protocol) << 4 | flags
    }

    /// The layout stored as `code`; `None` for a code no build wrote.
    pub(super) fn from_code(code: i64) -> Option<Layout> {
        let offset_minutes = i16::try_from((code >> 8) - 1440).ok()?;
        let protocol = u8::try_from((code >> 4) & 15).ok()?;
        let valid = code > 0
            && code >> 8 <= 2880
            && offset_minutes.abs() <= MAX_OFFSET_MINUTES
            && usize::from(protocol) < PROTOCOLS.len()
            && code & 8 == 0;
        valid.then_some(Layout {
            offset_minutes,
            protocol,
            common: code & 1 != 0,
            bytes_dash: code & 2 != 0,
            latency_seconds: code & 4 != 0,
        })
    }
}

/// How each event of a batch stores its line, worked out ahead of the commit (it costs ~5% of
/// a commit's time, and the commit is the pipeline's narrowest stage): one entry per event,
/// in order, with the length of the line it was worked out for. See
/// [`crate::store::CommitBatch::line_layouts`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineLayouts(Vec<(Option<Layout>, usize)>);

impl LineLayouts {
    /// The layouts of `events`' lines, in order.
    pub fn of<'a>(events: impl IntoIterator<Item = &'a crate::event::Event>) -> LineLayouts {
        let mut scratch = String::new();
        let layouts = events.into_iter().map(|e| (layout_of(&LineFields::of(e), &e.raw, &mut scratch), e.raw.len()));
        LineLayouts(layouts.collect())
    }

    /// Append the layouts of events that follow.
    pub fn extend(&mut self, next: LineLayouts) {
        self.0.extend(next.0);
    }

    /// The layout of event `index` of a batch of `count` events, with `columns` and line
    /// `raw`: the one worked out ahead when this list covers the batch and its entry was made
    /// for a line of this length, otherwise worked out now (a list made for other events
    /// could store a line under another's layout, and lose it). `scratch` is reused.
    pub(super) fn layout(
        &self,
        (index, count): (usize, usize),
        columns: &LineFields<'_>,
        raw: &str,
        scratch: &mut String,
    ) -> Option<Layout> {
        let ahead = self.0.get(index).filter(|(_, len)| self.0.len() == count && *len == raw.len());
        match ahead {
            Some((layout, _)) => *layout,
            None => layout_of(columns, raw, scratch),
        }
    }
}

/// The columns of a stored event that a line is written from, as stored.
#[derive(Debug, Clone, Copy)]
pub(super) struct LineFields<'a> {
    pub timestamp_ms: i64,
    pub ip: &'a str,
    pub method: &'a str,
    pub url: &'a str,
    pub status_code: i64,
    pub bytes_sent: i64,
    pub referer: Option<&'a str>,
    pub user_agent: &'a str,
    pub latency_ms: Option<f64>,
}

impl<'a> LineFields<'a> {
    /// The columns of `e` as the commit stores them.
    pub(super) fn of(e: &'a crate::event::Event) -> LineFields<'a> {
        LineFields {
            timestamp_ms: e.timestamp_ms,
            ip: &e.ip,
            method: &e.method,
            url: &e.url,
            status_code: i64::from(e.status_code),
            bytes_sent: i64::try_from(e.bytes_sent).unwrap_or(i64::MAX),
            referer: e.referer.as_deref(),
            user_agent: &e.user_agent,
            latency_ms: e.latency_ms,
        }
    }
}

/// The line of an event read from the store: `raw` as stored, or written again from the
/// event's columns when the row has a layout. A code no build wrote leaves `raw` as it is.
pub(super) fn read_back(e: &mut crate::event::Event, layout: Option<i64>) {
    if let Some(layout) = layout.and_then(Layout::from_code) {
        let mut line = String::with_capacity(e.raw.len().max(160));
        render(&LineFields::of(e), layout, &mut line);
        e.raw = line;
    }
}

/// Append the line `fields` give in `layout` to `out`. Pieces are pushed rather than
/// formatted with `write!`: this runs for every row a `q` search scans (~2x faster).
pub(super) fn render(fields: &LineFields<'_>, layout: Layout, out: &mut String) {
    let f = fields;
    let mut numbers = itoa::Buffer::new();
    out.push_str(f.ip);
    out.push_str(" - - [");
    write_time(f.timestamp_ms, layout.offset_minutes, out);
    out.push_str("] \"");
    out.push_str(f.method);
    out.push(' ');
    out.push_str(f.url);
    out.push(' ');
    out.push_str(PROTOCOLS[usize::from(layout.protocol)]);
    out.push_str("\" ");
    out.push_str(numbers.format(f.status_code));
    out.push(' ');
    if layout.bytes_dash && f.bytes_sent == 0 {
        out.push('-');
    } else {
        out.push_str(numbers.format(f.bytes_sent));
    }
    if !layout.common {
        out.push_str(" \"");
        out.push_str(f.referer.unwrap_or("-"));
        out.push_str("\" \"");
        out.push_str(if f.user_agent.is_empty() { "-" } else { f.user_agent });
        out.push('"');
    }
    if let (true, Some(ms)) = (layout.latency_seconds, f.latency_ms) {
        // `write!` to a String cannot fail.
        let _ = write!(out, " {:.3}", ms / 1000.0);
    }
}

/// `dd/Mon/yyyy:HH:MM:SS ±hhmm`, the access-log time.
fn write_time(timestamp_ms: i64, offset_minutes: i16, out: &mut String) {
    let offset = Offset::from_seconds(i32::from(offset_minutes) * 60).unwrap_or(Offset::UTC);
    let Ok(at) = Timestamp::from_second(timestamp_ms.div_euclid(1000)) else { return };
    let t = offset.to_datetime(at);
    let two = |out: &mut String, n: i8| {
        out.push(char::from(b'0' + (n / 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    };
    two(out, t.day());
    out.push('/');
    out.push_str(MONTHS[t.month() as usize - 1]);
    out.push('/');
    if (1000..=9999).contains(&t.year()) {
        out.push_str(itoa::Buffer::new().format(t.year()));
    } else {
        // Not in any real log; whatever is written here, a line that differs keeps its raw text.
        let _ = write!(out, "{:04}", t.year());
    }
    for (separator, n) in [(':', t.hour()), (':', t.minute()), (':', t.second())] {
        out.push(separator);
        two(out, n);
    }
    out.push_str(if offset_minutes < 0 { " -" } else { " +" });
    let minutes = offset_minutes.unsigned_abs();
    two(out, (minutes / 60) as i8);
    two(out, (minutes % 60) as i8);
}

/// The layout that writes `raw` again from `fields`, if there is one. The offset and protocol
/// are read from `raw`, the variant is tried, and the line so written must equal `raw`.
/// `scratch` is a buffer reused between calls.
pub(super) fn layout_of(fields: &LineFields<'_>, raw: &str, scratch: &mut String) -> Option<Layout> {
    // Cheap refusals first: structured input has no raw line, a fraction of a second is not
    // written by this layout, and the line must at least start with the client.
    if raw.is_empty() || fields.timestamp_ms % 1000 != 0 || !raw.starts_with(fields.ip) || fields.method.is_empty() {
        return None;
    }
    let (offset_minutes, protocol) = offset_and_protocol(raw, fields)?;
    let mut layout = Layout {
        offset_minutes,
        protocol,
        common: false,
        bytes_dash: false,
        latency_seconds: fields.latency_ms.is_some(),
    };
    let mut candidates = [Some(layout), None, None, None];
    if fields.bytes_sent == 0 {
        layout.bytes_dash = true;
        candidates[1] = Some(layout);
    }
    if fields.referer.is_none() && fields.user_agent.is_empty() {
        candidates[2] = Some(Layout { common: true, ..candidates[0]? });
        candidates[3] = candidates[1].map(|l| Layout { common: true, ..l });
    }
    candidates.into_iter().flatten().find(|&candidate| {
        scratch.clear();
        render(fields, candidate, scratch);
        scratch == raw
    })
}

/// The UTC offset (in minutes) of the line's `[... ±hhmm]` time, and the index in
/// [`PROTOCOLS`] of the protocol that ends its request (`"method url protocol"`).
fn offset_and_protocol(raw: &str, fields: &LineFields<'_>) -> Option<(i16, u8)> {
    let b = raw.as_bytes();
    let open = memchr::memchr(b'[', b)?;
    let close = open + memchr::memchr(b']', &b[open..])?;
    let zone = b.get(close.checked_sub(5)?..close)?;
    let sign = match zone[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digit = |i: usize| zone[i].is_ascii_digit().then(|| i16::from(zone[i] - b'0'));
    let minutes = (digit(1)? * 10 + digit(2)?) * 60 + digit(3)? * 10 + digit(4)?;
    if minutes > MAX_OFFSET_MINUTES {
        return None;
    }
    let request = raw[close..].strip_prefix("] \"")?;
    let rest = request.strip_prefix(fields.method)?.strip_prefix(' ')?.strip_prefix(fields.url)?.strip_prefix(' ')?;
    let protocol = &rest[..memchr::memchr(b'"', rest.as_bytes())?];
    let index = PROTOCOLS.iter().position(|p| *p == protocol)?;
    Some((sign * minutes, index as u8))
}

/// The SQL function of `/api/v1/logs?q=`: `vigil_q_match(url, user_agent, raw, raw_layout,
/// timestamp_ms, ip, method, referer, status_code, bytes_sent, latency_ms, needle)` is 1 when
/// `needle` is in the URL, the user agent or the line as it was read, ignoring case: what
/// `LIKE '%q%'` on each of them was, for every letter, not only ASCII ones (`école` finds
/// `ÉCOLE`, `über` finds `/ÜBER`). Case is ignored letter by letter, as `char::to_lowercase`
/// maps them: `ß` and `SS` stay different. A needle that is ASCII once lower-cased (nearly
/// every search) takes the fast path: the text is lower-cased in place, ASCII letters only, as
/// only they can match it; a needle with other letters is looked for only in text that has
/// some, lower-cased whole. A line stored once is written again into a buffer the function
/// keeps, so the scan allocates nothing per row: with `LIKE` over a rebuilt line, a search that
/// matches nothing took 2.4x as long on 1 M events. Registered on every read connection (the
/// writer runs no searches).
pub(super) fn register_sql_function(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS;
    // The buffers, and the searcher of the last needle: a query passes the same needle for
    // every row it scans, so the searcher is built once per query, not once per row.
    let state = std::cell::RefCell::new(QSearch {
        line: String::new(),
        lower: String::new(),
        needle: String::new(),
        finder: memchr::memmem::Finder::new(b"").into_owned(),
        beyond_ascii: false,
    });
    conn.create_scalar_function("vigil_q_match", 12, flags, move |ctx| {
        let text = |i: usize| text_arg(ctx, i);
        let needle = text(11)?.unwrap_or_default();
        let search = &mut *state.borrow_mut();
        if search.needle != needle {
            search.set_needle(needle);
        }
        let mut found_in = |write: &dyn Fn(&mut String)| {
            search.line.clear();
            write(&mut search.line);
            search.found()
        };
        let (url, user_agent) = (text(0)?.unwrap_or_default(), text(1)?.unwrap_or_default());
        if found_in(&|out| out.push_str(url)) || found_in(&|out| out.push_str(user_agent)) {
            return Ok(true);
        }
        let raw = text(2)?.unwrap_or_default();
        let Some(layout) = ctx.get::<Option<i64>>(3)?.and_then(Layout::from_code) else {
            return Ok(found_in(&|out| out.push_str(raw)));
        };
        let fields = LineFields {
            timestamp_ms: ctx.get(4)?,
            ip: text(5)?.unwrap_or_default(),
            method: text(6)?.unwrap_or_default(),
            url,
            status_code: ctx.get(8)?,
            bytes_sent: ctx.get(9)?,
            referer: text(7)?,
            user_agent,
            latency_ms: ctx.get(10)?,
        };
        Ok(found_in(&|out| render(&fields, layout, out)))
    })
}

/// One connection's `q` search: the needle as given, its searcher (of the needle lower-cased)
/// and the text buffers reused for every row.
struct QSearch {
    /// The text to search, written by the caller.
    line: String,
    /// `line` lower-cased, when the needle has letters beyond ASCII.
    lower: String,
    /// The needle as the query gave it.
    needle: String,
    finder: memchr::memmem::Finder<'static>,
    /// Whether the lower-cased needle has non-ASCII characters.
    beyond_ascii: bool,
}

impl QSearch {
    fn set_needle(&mut self, needle: &str) {
        needle.clone_into(&mut self.needle);
        let lower: String = needle.chars().flat_map(char::to_lowercase).collect();
        self.beyond_ascii = !lower.is_ascii();
        self.finder = memchr::memmem::Finder::new(lower.as_bytes()).into_owned();
    }

    /// Whether `line` holds the needle, ignoring case.
    fn found(&mut self) -> bool {
        if !self.beyond_ascii {
            self.line.make_ascii_lowercase();
            return self.finder.find(self.line.as_bytes()).is_some();
        }
        // Non-ASCII characters lower-cased are non-ASCII: ASCII text cannot hold them.
        if self.line.is_ascii() {
            return false;
        }
        self.lower.clear();
        self.lower.extend(self.line.chars().flat_map(char::to_lowercase));
        self.finder.find(self.lower.as_bytes()).is_some()
    }
}

/// Argument `i` of a SQL function as text, borrowed, not copied (the store's functions run
/// for every row a query scans); `None` for NULL.
pub(crate) fn text_arg<'a>(ctx: &'a rusqlite::functions::Context<'_>, i: usize) -> rusqlite::Result<Option<&'a str>> {
    match ctx.get_raw(i) {
        rusqlite::types::ValueRef::Null => Ok(None),
        value => value
            .as_str()
            .map(Some)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, value.data_type(), e.into())),
    }
}

/// The `WHERE` clause of a `q` search over events aliased `e`; its one parameter is `q`, in any
/// case (callers lower-case its ASCII letters; the function lower-cases the rest). `/chat` uses
/// it for the text a question asks for.
pub const Q_MATCH_SQL: &str = "vigil_q_match(e.url, e.user_agent, e.raw, e.raw_layout, e.timestamp_ms, \
     e.ip, e.method, e.referer, e.status_code, e.bytes_sent, e.latency_ms, ?)";

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout the combined parser's reading of `raw` stores `raw` with, if any.
    fn layout_of_line(raw: &str) -> Option<Layout> {
        let parsed = crate::parse::Parser::combined().parse(raw, "test").event;
        let f = LineFields {
            timestamp_ms: parsed.timestamp_ms,
            ip: &parsed.ip,
            method: &parsed.method,
            url: &parsed.url,
            status_code: i64::from(parsed.status_code),
            bytes_sent: parsed.bytes_sent as i64,
            referer: parsed.referer.as_deref(),
            user_agent: &parsed.user_agent,
            latency_ms: parsed.latency_ms,
        };
        let layout = layout_of(&f, raw, &mut String::new())?;
        let mut again = String::new();
        render(&f, Layout::from_code(layout.code()).expect("a code read back"), &mut again);
        assert_eq!(again, raw, "a layout is only kept when it writes the line again");
        Some(layout)
    }

    #[test]
    fn default_nginx_and_apache_lines_are_written_again_byte_for_byte() {
        let lines = [
            // nginx `combined`
            r#"203.0.113.9 - - [22/Dec/2016:16:30:52 +0300] "GET /index.html HTTP/1.1" 200 5120 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64)""#,
            // no referer, no user agent, a 304 with 0 bytes
            r#"203.0.113.9 - - [01/Jan/2024:00:00:00 +0000] "GET /a?b=c HTTP/2.0" 304 0 "-" "-""#,
            // Apache `%b`: no body is `-`
            r#"2001:db8::1 - - [31/Mar/2025:23:59:59 -0700] "HEAD / HTTP/1.0" 204 - "-" "curl/8.5.0""#,
            // `common`
            r#"10.0.0.1 - - [15/Jun/2020:12:00:00 +0530] "POST /login HTTP/1.1" 401 17"#,
            // nginx with `$request_time` appended
            r#"10.0.0.2 - - [15/Jun/2020:12:00:01 +0000] "GET /api HTTP/1.1" 200 99 "-" "Go-http-client/1.1" 0.123"#,
            // negative offset with minutes, HTTP/2 and HTTP/3
            r#"10.0.0.3 - - [29/Feb/2024:08:15:00 -0930] "GET / HTTP/2" 200 1 "-" "x""#,
            r#"10.0.0.3 - - [29/Feb/2024:08:15:00 +1245] "GET / HTTP/3" 200 1 "-" "x""#,
        ];
        for line in lines {
            assert!(layout_of_line(line).is_some(), "stored once: {line}");
        }
    }

    #[test]
    fn lines_the_columns_cannot_write_again_keep_their_raw_text() {
        let lines = [
            // an escaped quote and a `\x` escape: the columns hold them unescaped
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] "GET /a HTTP/1.1" 200 1 "-" "say \"hi\"""#,
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] "GET /\x41 HTTP/1.1" 200 1 "-" "x""#,
            // ident and user
            r#"10.0.0.1 - bob [22/Dec/2016:16:30:52 +0300] "GET /a HTTP/1.1" 200 1 "-" "x""#,
            r#"10.0.0.1 ident - [22/Dec/2016:16:30:52 +0300] "GET /a HTTP/1.1" 200 1 "-" "x""#,
            // a fractional time, an offset written with a colon, no offset
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52.250 +0300] "GET /a HTTP/1.1" 200 1 "-" "x""#,
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +03:00] "GET /a HTTP/1.1" 200 1 "-" "x""#,
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52] "GET /a HTTP/1.1" 200 1 "-" "x""#,
            // status `-` and `000`, an empty request, a request without a method
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] "GET /a HTTP/1.1" - 1 "-" "x""#,
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] "GET /a HTTP/1.1" 000 1 "-" "x""#,
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] "-" 400 0 "-" "-""#,
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] "() { :; }; echo" 400 0 "-" "-""#,
            // an empty referer, an unknown protocol, two spaces, a trailing unknown field
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] "GET /a HTTP/1.1" 200 1 "" "x""#,
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] "GET /a SPDY/3" 200 1 "-" "x""#,
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] "GET  /a HTTP/1.1" 200 1 "-" "x""#,
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] "GET /a HTTP/1.1" 200 1 "-" "x" host.example"#,
            // Apache `%D` (microseconds), a latency not written with three decimals
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] "GET /a HTTP/1.1" 200 1 "-" "x" 1234"#,
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] "GET /a HTTP/1.1" 200 1 "-" "x" 0.5"#,
            // a size with a leading zero, a trailing newline
            r#"10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] "GET /a HTTP/1.1" 200 01 "-" "x""#,
            "10.0.0.1 - - [22/Dec/2016:16:30:52 +0300] \"GET /a HTTP/1.1\" 200 1 \"-\" \"x\"\n",
        ];
        for line in lines {
            assert_eq!(layout_of_line(line), None, "kept as written: {line}");
        }
    }

    #[test]
    fn codes_read_back_and_codes_no_build_wrote_are_refused() {
        for offset_minutes in [-MAX_OFFSET_MINUTES, -570, 0, 330, MAX_OFFSET_MINUTES] {
            for protocol in 0..PROTOCOLS.len() as u8 {
                for flags in 0..8u8 {
                    let layout = Layout {
                        offset_minutes,
                        protocol,
                        common: flags & 1 != 0,
                        bytes_dash: flags & 2 != 0,
                        latency_seconds: flags & 4 != 0,
                    };
                    assert!(layout.code() > 0);
                    assert_eq!(Layout::from_code(layout.code()), Some(layout));
                }
            }
        }
        for code in [0, -1, 8, 1 << 4 | 8, (PROTOCOLS.len() as i64) << 4, 2881 << 8, i64::MAX, i64::MIN] {
            assert_eq!(Layout::from_code(code), None, "{code}");
        }
    }

    #[test]
    fn the_sql_function_finds_text_in_the_url_the_user_agent_or_the_line_ignoring_case() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        register_sql_function(&conn).unwrap();
        let line = r#"203.0.113.9 - - [22/Dec/2016:16:30:52 +0300] "GET /Index.html HTTP/1.1" 200 5120 "-" "curl/8""#;
        let code = layout_of_line(line).unwrap().code();
        let q_match = |raw: &str, layout: Option<i64>, needle: &str| -> bool {
            let sql = "SELECT vigil_q_match('/Index.html', 'curl/8', ?1, ?2, 1482413452000, '203.0.113.9', 'GET', NULL, \
                       200, 5120, NULL, ?3)";
            conn.query_row(sql, (raw, layout, needle), |r| r.get(0)).unwrap()
        };
        // In the line written again: the time, across fields, the protocol; in the URL.
        for needle in ["22/dec/2016:16:30:52 +0300", "html http/1.1\" 200", "203.0.113.9 - -", "/index"] {
            assert!(q_match("", Some(code), needle), "{needle}");
        }
        assert!(!q_match("", Some(code), "http/2"));
        // Without a layout the stored raw text is searched, and the columns are not a line.
        assert!(q_match("kept AS it came", None, "as it"));
        assert!(!q_match("kept as it came", None, "22/dec"));
        // Letters beyond ASCII too, either way round; letter by letter: ß is not SS.
        for (raw, needle) in
            [("ÉCOLE-Browser", "école"), ("/ÜBER/straße", "über"), ("Grüße", "GRÜẞE"), ("ΟΔΟΣ", "οδοσ")]
        {
            assert!(q_match(raw, None, needle), "{needle} in {raw}");
        }
        // An ASCII needle in text with other letters, and a needle with them in ASCII text.
        assert!(q_match("ÉCOLE-BROWSER", None, "browser") && !q_match("ecole", None, "école"));
        assert!(!q_match("GRÜSSE", None, "grüße"));
        // The URL and user agent columns, for a needle beyond ASCII as for an ASCII one.
        let sql = "SELECT vigil_q_match('/ÜBER', 'ÉCOLE-Browser', '', NULL, 0, '', 'GET', NULL, 200, 0, NULL, ?1)";
        for needle in ["über", "école", "zzzé"] {
            let found: bool = conn.query_row(sql, [needle], |r| r.get(0)).unwrap();
            assert_eq!(found, needle != "zzzé", "{needle}");
        }
    }
}
