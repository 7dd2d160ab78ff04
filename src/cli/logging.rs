//! Where warroom's own log lines go, and the operator's flags for the feed's logs and
//! metrics. `warroom serve` logs to stderr, text for people or JSON for log shippers; the
//! console owns the terminal, so it logs to a file in the platform state directory, rotated
//! by size; scripts log warnings to stderr. `docs/operations.md` lists the fields.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::server::MetricsConfig;

/// How `warroom serve` writes its log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line of text per event, for people.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, message and the event's fields).
    Json,
}

/// The feed's operator flags: its logs and its metrics.
#[derive(Debug, Clone, Default, Args)]
pub struct OpsArgs {
    /// Log lines as text for people, or as JSON objects for log shippers.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "WARROOM_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Which lines to log: error, warn, info, debug, trace, or a filter such as
    /// `warroom=debug,info` [default: RUST_LOG, else info].
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// A token (16+ characters) a scraper presents as `Authorization: Bearer …` to read
    /// /metrics from beyond loopback (loopback needs none).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "WARROOM_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// Also serve /metrics (only) on this address, to whoever can reach it (with
    /// --metrics-token, to those who present it).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Shortest `--metrics-token` taken.
const MIN_TOKEN_CHARS: usize = 16;

impl OpsArgs {
    /// The server's metrics settings, or why the flags cannot be used.
    pub fn metrics(&self) -> anyhow::Result<MetricsConfig> {
        let token = self
            .metrics_token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        if let Some(t) = token
            && t.chars().count() < MIN_TOKEN_CHARS
        {
            anyhow::bail!(
                "--metrics-token must be at least {MIN_TOKEN_CHARS} characters (e.g. from \
                 `openssl rand -hex 16`); it has {}",
                t.chars().count()
            );
        }
        Ok(MetricsConfig {
            disabled: false,
            token: token.map(str::to_string),
            listen: self.metrics_listen,
        })
    }
}

/// What the console and `warroom demo` take about their log file.
#[derive(Debug, Clone, Default, Args)]
pub struct ConsoleLogArgs {
    /// The console's log file [default: console.log in the platform state directory,
    /// e.g. ~/.local/state/warroom]. It is rotated by size (three old files kept).
    #[arg(long, value_name = "FILE", env = "WARROOM_LOG_FILE")]
    pub log_file: Option<PathBuf>,
}

/// The console's log file as the flags and the platform say.
pub fn console_log_path(args: &ConsoleLogArgs) -> Option<PathBuf> {
    if let Some(f) = &args.log_file {
        return Some(f.clone());
    }
    if let Some(d) = std::env::var_os("WARROOM_STATE_DIR") {
        return Some(PathBuf::from(d).join("console.log"));
    }
    let dirs = directories::ProjectDirs::from("", "", "warroom")?;
    let dir = dirs
        .state_dir()
        .unwrap_or_else(|| dirs.data_local_dir())
        .to_path_buf();
    Some(dir.join("console.log"))
}

/// The filter: `--log-level`, else `RUST_LOG`, else `WARROOM_LOG`, else `default`. A bad
/// filter is said on stderr and the default used.
fn filter(flag: Option<&str>, default: &str) -> tracing_subscriber::EnvFilter {
    use tracing_subscriber::EnvFilter;
    let wanted = flag.map(str::to_string).or_else(|| {
        ["RUST_LOG", "WARROOM_LOG"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
    });
    match wanted {
        Some(w) => EnvFilter::try_new(&w).unwrap_or_else(|e| {
            eprintln!("warroom: the log level {w:?} is not a filter ({e}); logging {default}");
            EnvFilter::new(default)
        }),
        None => EnvFilter::new(default),
    }
}

/// How this run of the binary logs.
pub enum LogSetup<'a> {
    /// `warroom serve`.
    Serve(&'a OpsArgs),
    /// The console or the demo: to a file, never the terminal.
    Console(&'a ConsoleLogArgs),
    /// A command for scripts: warnings to stderr.
    Script,
}

/// Installs the process's log subscriber.
pub fn init_logging(setup: LogSetup<'_>) {
    match setup {
        LogSetup::Serve(ops) => {
            let filter = filter(ops.log_level.as_deref(), "info");
            let builder = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr);
            match ops.log_format {
                LogFormat::Json => builder
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .init(),
                LogFormat::Text => builder
                    .with_target(false)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .init(),
            }
        }
        LogSetup::Console(args) => {
            let filter = filter(None, "warn,rustls_platform_verifier=off");
            let Some(file) = console_log_path(args).and_then(|p| RotatingFile::open(&p).ok())
            else {
                return;
            };
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .init();
        }
        LogSetup::Script => {
            // The client says why a certificate was refused; the verifier's own log line
            // would say it twice.
            tracing_subscriber::fmt()
                .with_env_filter(filter(None, "warn,rustls_platform_verifier=off"))
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .init();
        }
    }
}

/// A log file that moves aside when it grows past a size: `console.log` becomes
/// `console.log.1` (and `.1` `.2`, up to [`RotatingFile::KEEP`]), and a new one is begun.
pub struct RotatingFile {
    path: PathBuf,
    file: std::fs::File,
    size: u64,
    max_bytes: u64,
}

impl RotatingFile {
    /// Bytes a log file grows to before it is rotated.
    pub const MAX_BYTES: u64 = 5 * 1024 * 1024;
    /// Old files kept.
    pub const KEEP: usize = 3;

    /// Opens (creating it and its directory) the log at `path`, appending.
    pub fn open(path: &Path) -> std::io::Result<RotatingFile> {
        Self::with_limit(path, Self::MAX_BYTES)
    }

    /// As [`open`](Self::open), rotating past `max_bytes`.
    pub fn with_limit(path: &Path, max_bytes: u64) -> std::io::Result<RotatingFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = Self::append(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            file,
            size,
            max_bytes,
        })
    }

    fn append(path: &Path) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        for n in (1..Self::KEEP).rev() {
            let from = self.numbered(n);
            if from.exists() {
                std::fs::rename(&from, self.numbered(n + 1))?;
            }
        }
        std::fs::rename(&self.path, self.numbered(1))?;
        self.file = Self::append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.size > 0 && self.size + buf.len() as u64 > self.max_bytes {
            // A failed rotation keeps writing where it was rather than losing the line.
            let _ = self.rotate();
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_file_rotates_past_its_size_and_keeps_three() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs").join("console.log");
        let mut f = RotatingFile::with_limit(&path, 100).unwrap();
        for i in 0..10 {
            f.write_all(format!("{i}{}\n", "x".repeat(58)).as_bytes())
                .unwrap();
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        assert!(read(path.clone()).starts_with('9'));
        assert!(read(f.numbered(1)).starts_with('8'));
        assert!(read(f.numbered(3)).starts_with('6'));
        assert!(!f.numbered(4).exists(), "only three old files are kept");
    }

    #[test]
    fn a_short_metrics_token_is_refused_by_name() {
        let ops = OpsArgs {
            metrics_token: Some("short".into()),
            ..Default::default()
        };
        let err = ops.metrics().unwrap_err().to_string();
        assert!(err.contains("--metrics-token"), "{err}");
    }

    #[test]
    fn the_log_file_flag_moves_the_console_log() {
        let args = ConsoleLogArgs {
            log_file: Some("/tmp/elsewhere.log".into()),
        };
        assert_eq!(
            console_log_path(&args),
            Some(PathBuf::from("/tmp/elsewhere.log"))
        );
    }
}
