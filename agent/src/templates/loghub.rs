//! Reading the loghub 2k samples (`../shared/data/loghub`, next to the repository) for the
//! accuracy test and the `templates` bench, which includes this file by path.
//!
//! The `_structured.csv` files are plain RFC 4180 (quoted fields, `""` for a quote, one record
//! per line); a 20-line reader here keeps a CSV crate out of the shared lock file for two
//! test-only callers.

use std::path::PathBuf;

/// The 16 systems, in the loghub benchmark's order.
#[allow(dead_code)] // The bench's; the unit tests pick a few.
pub const SYSTEMS: [&str; 16] = [
    "HDFS",
    "Hadoop",
    "Spark",
    "Zookeeper",
    "BGL",
    "HPC",
    "Thunderbird",
    "Windows",
    "Linux",
    "Android",
    "HealthApp",
    "Apache",
    "Proxifier",
    "OpenSSH",
    "OpenStack",
    "Mac",
];

/// One system's sample.
pub struct Sample {
    /// Each line's message (`Content`), the part the loghub benchmark mines.
    pub content: Vec<String>,
    /// Each whole line as written to the log file.
    pub raw: Vec<String>,
    /// Each line's true template id (`EventId`).
    pub truth: Vec<String>,
}

/// The folder holding one folder per system, or `None` when the shared data is absent.
pub fn root() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/loghub");
    dir.is_dir().then_some(dir)
}

/// Loads `system`'s sample from `root`.
pub fn load(root: &std::path::Path, system: &str) -> Result<Sample, String> {
    let folder = root.join(system);
    let csv_path = folder.join(format!("{system}_2k.log_structured.csv"));
    let log_path = folder.join(format!("{system}_2k.log"));
    let csv = std::fs::read_to_string(&csv_path).map_err(|e| format!("{}: {e}", csv_path.display()))?;
    let log = std::fs::read_to_string(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut records = csv.lines().map(fields);
    let header = records.next().ok_or_else(|| format!("{}: empty", csv_path.display()))?;
    let column = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| format!("{}: no {name} column", csv_path.display()))
    };
    let (content_at, truth_at) = (column("Content")?, column("EventId")?);
    let mut sample = Sample { content: Vec::new(), raw: Vec::new(), truth: Vec::new() };
    for (n, record) in records.enumerate() {
        let field = |at: usize| {
            record.get(at).cloned().ok_or_else(|| format!("{}: record {} is short", csv_path.display(), n + 1))
        };
        sample.content.push(field(content_at)?);
        sample.truth.push(field(truth_at)?);
    }
    sample.raw = log.lines().map(str::to_owned).collect();
    if sample.raw.len() != sample.content.len() {
        return Err(format!("{system}: {} log lines but {} labels", sample.raw.len(), sample.content.len()));
    }
    Ok(sample)
}

/// The fields of one CSV record.
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}
