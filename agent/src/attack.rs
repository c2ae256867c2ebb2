//! Requests that look like web attacks, by signature: SQL injection, cross-site scripting, path
//! traversal and file disclosure, command injection (shellshock and log4shell included), and
//! known vulnerability scanners. What `/chat` counts when asked "any SQL injection attempts?".
//!
//! A signature is a pattern over the request's URL (percent-decoded twice, so `%2527` is a
//! quote, and `+` read as a space), its user agent and its referer, ignoring ASCII case.
//! It says a request *looks like* an attack, as a web application firewall's rules do (these
//! are a small, precision-minded subset of the kind of rules in the OWASP Core Rule Set); it
//! does not say the attack worked. Measured on the CSIC 2010 data (see the tests): what they
//! flag in 36,000 normal requests, and what they find in its attacks and in three real
//! scanners' access logs.
//!
//! Hand-written rather than taken from a crate: the engines that run the OWASP Core Rule Set
//! (ModSecurity, Coraza) are not Rust crates and bring a whole rule language and request
//! model, and libinjection's Rust bindings build its C. The patterns are the `regex` crate's,
//! compiled once.

use percent_encoding::percent_decode;
use regex::bytes::{Regex, RegexSet};
use std::sync::LazyLock;

/// A kind of attack a request can look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttackKind {
    /// SQL in a parameter: `' or 1=1`, `union select`, `sleep(5)`, `information_schema`.
    SqlInjection,
    /// Markup or script in a parameter: `<script>`, `onerror=`, `javascript:`.
    CrossSiteScripting,
    /// Paths out of the web root or to system files: `../`, `/etc/passwd`, `php://`.
    PathTraversal,
    /// Shell commands or server-side code: `; cat`, `$(id)`, shellshock's `() {`, log4shell's
    /// `${jndi:`, `<?php`, `eval(`, server-side includes.
    CommandInjection,
    /// A known vulnerability scanner by its user agent or its marker URLs (sqlmap, Nikto,
    /// Acunetix, Netsparker, w3af, Nessus, Nuclei, ...).
    Scanner,
}

impl AttackKind {
    /// Every kind, in the order answers list them.
    pub const ALL: [AttackKind; 5] = [
        AttackKind::SqlInjection,
        AttackKind::CrossSiteScripting,
        AttackKind::PathTraversal,
        AttackKind::CommandInjection,
        AttackKind::Scanner,
    ];

    /// The name reported in facts and filters.
    pub fn name(self) -> &'static str {
        match self {
            AttackKind::SqlInjection => "sql_injection",
            AttackKind::CrossSiteScripting => "xss",
            AttackKind::PathTraversal => "path_traversal",
            AttackKind::CommandInjection => "command_injection",
            AttackKind::Scanner => "scanner",
        }
    }

    /// The kind in a sentence: "SQL injection".
    pub fn describe(self) -> &'static str {
        match self {
            AttackKind::SqlInjection => "SQL injection",
            AttackKind::CrossSiteScripting => "cross-site scripting",
            AttackKind::PathTraversal => "path traversal",
            AttackKind::CommandInjection => "command injection",
            AttackKind::Scanner => "a vulnerability scanner",
        }
    }

    /// The number the SQL function takes for this kind.
    pub fn code(self) -> i64 {
        self as i64
    }

    fn from_code(code: i64) -> Option<AttackKind> {
        AttackKind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// This kind's bit in [`Matcher::mask`].
    pub fn bit(self) -> u8 {
        1 << self as u8
    }

    fn signature(self) -> &'static Regex {
        &SIGNATURES[self as usize]
    }
}

/// The SQL function's code for "any kind".
pub const ANY_CODE: i64 = -1;

/// Shell commands an injection runs first; only counted after a shell separator.
const COMMANDS: &str = r"(?:cat|ls|id|whoami|uname|pwd|wget|curl|nc|ncat|netcat|bash|sh|zsh|ping|nslookup|dig|echo|rm|chmod|python[23]?|perl|ruby|php|sleep|ifconfig|ipconfig|tftp|telnet|powershell|cmd)";

fn joined(patterns: &[&str]) -> String {
    patterns.iter().map(|p| format!("(?:{p})")).collect::<Vec<_>>().join("|")
}

/// Signatures are matched as bytes, ignoring ASCII case, in ASCII mode (`\b`, `\s` and `\w`
/// of ASCII), so a URL that decodes to invalid UTF-8 is matched like any other.
fn compile(pattern: &str) -> Regex {
    Regex::new(&format!("(?i-u){pattern}")).expect("valid attack signature")
}

/// One pattern per kind, in `AttackKind` order.
static PATTERNS: LazyLock<[String; 5]> = LazyLock::new(|| {
    let command_after_separator = format!(r"(?:[;|`\n]|\$\()\s*{COMMANDS}(?:\s|$|[;|&`)<>])");
    // After `&` only when a space follows: `&id=5` is a query parameter, `& ping -c 5` is not.
    let command_after_ampersand = format!(r"&\s*{COMMANDS}\s");
    [
        joined(&[
            r"\bunion\b[\s(/*+]+(?:(?:all|distinct)\b[\s(/*+]+)?select\b",
            r"\bselect[\s(/*]+[^&]*?[\s)/*`]from\b",
            r"\b(?:sleep|benchmark|pg_sleep)\s*\(",
            r"\bwaitfor\s+(?:delay|time)\b",
            r"\binformation_schema\b|\bsysobjects\b|\bsqlite_master\b|\bpg_catalog\b|\bmysql\.user\b",
            r#"\b(?:and|or)\s+['"(]*\d+['")]*\s*(?:=|<|>)\s*['"(]*\d+"#,
            r"'\s*(?:and|or)\s+'[^']*'\s*=\s*'",
            r"'\s*(?:and|or)\s+[\d(]",
            r#"\d\s+(?:and|or)\s+['"]?\w+['"]?\s*="#,
            r"'\s*(?:;|--|#)|'\s*\)\s*(?:and|or|;|--|#)",
            r";\s*(?:drop|insert|update|delete|select|shutdown|exec|declare|truncate|alter|create)\s",
            r"\b(?:extractvalue|updatexml|load_file|group_concat|concat_ws|make_set)\s*\(",
            r"\bchar\s*\(\s*\d+\s*(?:,\s*\d+\s*)*\)|\bchr\s*\(\s*\d+",
            r"@@(?:version|datadir|hostname)\b",
            r"/\*!?\d*\s*(?:union|select|and|or)\b|\b(?:union|select)/\*",
            r"\bcast\s*\([^)&]*?\bas\s+(?:int|char|varchar|signed)\b",
        ]),
        joined(&[
            r"<\s*/?\s*(?:script|iframe|frame|frameset|svg|img|image|body|object|embed|applet|style|link|meta|input|form|details|marquee|video|audio|base|isindex|math|xss)\b",
            r"\b(?:java|vb|live)script\s*:",
            r"\bon(?:error|load|unload|mouse[a-z]+|focus|blur|click|dblclick|change|submit|toggle|key[a-z]+|animation[a-z]+|pointer[a-z]+|begin|end|start)\s*=",
            r"\b(?:alert|prompt|confirm)\s*(?:\(|`)",
            r"\bdocument\s*\.\s*(?:cookie|location|write|domain)\b|\bwindow\s*\.\s*location\b",
            r"\bsrcdoc\s*=|\bexpre(?:/\*.*?\*/)?ssion\s*\(|\bfromcharcode\b",
            r"\\u003c\s*/?\s*script\b|\\x3c\s*/?\s*script\b",
        ]),
        joined(&[
            r"(?:^|[/\\=])\.\.(?:[/\\]|\xc0\xaf|\xc1\x9c|$)",
            r"\betc/(?:passwd|shadow|group|hosts|issue|motd)\b",
            r"\b(?:boot|win|system)\.ini\b",
            r"\b[a-z]:[\\/](?:windows|winnt|inetpub)\b",
            r"/proc/self/|/proc/\d+/",
            r"\.(?:htaccess|htpasswd)\b|\bweb-inf/web\.xml\b",
            r"\x00",
            r"\b(?:file|php|phar|expect)://",
        ]),
        joined(&[
            r"\(\s*\)\s*\{",
            &command_after_separator,
            &command_after_ampersand,
            r"<!--\s*#\s*(?:exec|include)\b",
            r"<\?(?:php\b|=|\s)|\$\{\s*@|\bresponse\.write\s*\(|\bprint\s*\(\s*(?:md5\s*\(|\(?int\b)",
            r"\b(?:eval|system|passthru|shell_exec|proc_open|popen|assert)\s*\(",
            r"/bin/(?:ba|z|da|c|tc|k)?sh\b|\bcmd(?:\.exe)?\s*/c\b|\bpowershell(?:\.exe)?\s",
            r"\$\{(?:jndi|env|sys|java|lower|upper|::-)",
            r"\$\{ifs\}",
        ]),
        joined(&[
            r"\b(?:sqlmap|nikto|nmap|masscan|zgrab|acunetix|netsparker|w3af|nessus|openvas|dirbuster|gobuster|wpscan|nuclei|arachni|skipfish|wfuzz|ffuf|havij|whatweb|paros|zaproxy|owasp[ _-]?zap|burpsuite|burpcollaborator|jaeles|feroxbuster|commix|xsser|joomscan|appscan|webinspect)\b",
            r"\binteract\.sh\b|\.oast\.(?:pro|live|site|online|fun|me)\b",
        ]),
    ]
});

/// Each kind's signature, in `AttackKind` order.
static SIGNATURES: LazyLock<[Regex; 5]> = LazyLock::new(|| PATTERNS.each_ref().map(|p| compile(p)));

/// Every kind's signature, matched together in one pass: which kinds, or whether any.
static SET: LazyLock<RegexSet> =
    LazyLock::new(|| RegexSet::new(PATTERNS.iter().map(|p| format!("(?i-u){p}"))).expect("valid attack signatures"));

/// A request's text as the signatures read it: percent-decoded twice, `+` read as a space.
/// Borrowed as it is when there is nothing to decode (most user agents and many URLs).
fn normalise<'a>(text: &'a str, out: &'a mut Vec<u8>, scratch: &mut Vec<u8>) -> &'a [u8] {
    if memchr::memchr2(b'%', b'+', text.as_bytes()).is_none() {
        return text.as_bytes();
    }
    out.clear();
    out.extend(percent_decode(text.as_bytes()));
    if memchr::memchr(b'%', out).is_some() {
        scratch.clear();
        scratch.extend(percent_decode(out));
        std::mem::swap(out, scratch);
    }
    for byte in out.iter_mut().filter(|b| **b == b'+') {
        *byte = b' ';
    }
    out
}

/// Most user agents and referers a matcher remembers the kinds of: a log has few distinct
/// ones, and they are the longer part of a request's text.
const REMEMBERED: usize = 4096;

/// Longest user agent or referer remembered, so the memory stays under 4096 x 512 bytes.
const REMEMBERED_BYTES: usize = 512;

/// Matches requests against the signatures, with buffers reused from one request to the next
/// and the kinds of recent user agents and referers remembered.
#[derive(Default)]
pub struct Matcher {
    text: Vec<u8>,
    scratch: Vec<u8>,
    remembered: rustc_hash::FxHashMap<String, u8>,
}

impl Matcher {
    /// The kinds `url`, `user_agent` and `referer` look like, in [`AttackKind::ALL`] order.
    pub fn kinds(&mut self, url: &str, user_agent: &str, referer: &str) -> Vec<AttackKind> {
        let mask = self.mask(url, user_agent, referer);
        AttackKind::ALL.into_iter().filter(|kind| mask & kind.bit() != 0).collect()
    }

    /// The kinds the request looks like as bits ([`AttackKind::bit`]); 0 for none.
    pub fn mask(&mut self, url: &str, user_agent: &str, referer: &str) -> u8 {
        self.text_mask(url) | self.remembered_mask(user_agent) | self.remembered_mask(referer)
    }

    /// Whether the request looks like `kind` (`None`: like any kind).
    pub fn looks_like(&mut self, kind: Option<AttackKind>, url: &str, user_agent: &str, referer: &str) -> bool {
        let bits = kind.map_or(u8::MAX, AttackKind::bit);
        let url_matches = |text: &[u8]| match kind {
            Some(kind) => kind.signature().is_match(text),
            None => SET.is_match(text),
        };
        (!url.is_empty() && url_matches(normalise(url, &mut self.text, &mut self.scratch)))
            || self.remembered_mask(user_agent) & bits != 0
            || self.remembered_mask(referer) & bits != 0
    }

    fn text_mask(&mut self, part: &str) -> u8 {
        if part.is_empty() || part == "-" {
            return 0;
        }
        let text = normalise(part, &mut self.text, &mut self.scratch);
        SET.matches(text).iter().fold(0, |mask, index| mask | 1 << index)
    }

    fn remembered_mask(&mut self, part: &str) -> u8 {
        if let Some(mask) = self.remembered.get(part) {
            return *mask;
        }
        let mask = self.text_mask(part);
        if part.len() > REMEMBERED_BYTES {
            return mask;
        }
        if self.remembered.len() >= REMEMBERED {
            self.remembered.clear();
        }
        self.remembered.insert(part.to_owned(), mask);
        mask
    }
}

/// Registers two SQL functions on a read connection: `vigil_attack(code, url, user_agent,
/// referer)`, 1 when the request looks like the attack kind `code` ([`AttackKind::code`], or
/// [`ANY_CODE`]); and `vigil_attack_kinds(url, user_agent, referer)`, the kinds it looks like
/// as [`Matcher::mask`] bits, so one scan counts every kind.
pub(crate) fn register_sql_function(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::{Context, FunctionFlags};
    use std::cell::RefCell;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS;
    // These run for every row a question's window holds: the text is borrowed, not copied.
    fn text<'a>(ctx: &'a Context<'_>, i: usize) -> rusqlite::Result<&'a str> {
        Ok(crate::store::text_arg(ctx, i)?.unwrap_or_default())
    }
    // A matcher per function and connection (a connection is used by one thread at a time).
    let for_kind = RefCell::new(Matcher::default());
    let for_kinds = RefCell::new(Matcher::default());
    conn.create_scalar_function("vigil_attack", 4, flags, move |ctx| {
        let code: i64 = ctx.get(0)?;
        let kind = match code {
            ANY_CODE => None,
            code => Some(AttackKind::from_code(code).ok_or_else(|| {
                rusqlite::Error::UserFunctionError(format!("vigil_attack: no attack kind {code}").into())
            })?),
        };
        Ok(for_kind.borrow_mut().looks_like(kind, text(ctx, 1)?, text(ctx, 2)?, text(ctx, 3)?))
    })?;
    conn.create_scalar_function("vigil_attack_kinds", 3, flags, move |ctx| {
        Ok(i64::from(for_kinds.borrow_mut().mask(text(ctx, 0)?, text(ctx, 1)?, text(ctx, 2)?)))
    })
}

#[cfg(test)]
mod tests;
