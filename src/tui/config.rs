//! The console's config file. Defaults are embedded; the user's file is layered over them,
//! then the environment, then flags. The file is never written by warroom:
//! `warroom --print-default-config` prints a commented one to start from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The commented default config, printed by `--print-default-config`.
pub const DEFAULT_CONFIG: &str = include_str!("../../assets/config.toml");

/// What the config file can set.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The feed's address, or its replicas (a list, or one string separated by commas):
    /// kept as that string, the way `--server` takes it.
    #[serde(default, deserialize_with = "servers")]
    pub server: Option<String>,
    pub name: Option<String>,
    pub token: Option<String>,
    pub theme: Option<String>,
    /// Ring the terminal's bell for a new SEV1 or SEV2 and a page to you (default: on).
    pub bell: Option<bool>,
    /// Action name → keys; validated by the keymap.
    #[serde(default, deserialize_with = "keys")]
    pub keys: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn servers<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<OneOrMany>::deserialize(d).map_err(|_| {
        serde::de::Error::custom(
            "server must be the feed's address (\"host:port\", \"wss://host\") or a list of \
             its replicas ([\"a:7654\", \"b:7654\"])",
        )
    })?;
    Ok(match v {
        None => None,
        Some(OneOrMany::One(s)) => Some(s),
        Some(OneOrMany::Many(v)) => Some(v.join(",")),
    })
}

fn keys<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    let raw = BTreeMap::<String, OneOrMany>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| match v {
            OneOrMany::One(s) => (k, vec![s]),
            OneOrMany::Many(v) => (k, v),
        })
        .collect())
}

/// `WARROOM_CONFIG`, else `config.toml` in the platform config directory.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WARROOM_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    directories::ProjectDirs::from("", "", "warroom").map(|d| d.config_dir().join("config.toml"))
}

/// A TOML error as one line: `line 3: unknown field ...`.
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {}", e.message().trim())
        }
        None => e.message().trim().to_string(),
    }
}

/// Parses config text; the error says what is wrong and on which line.
pub fn parse(text: &str) -> Result<Config, String> {
    toml::from_str(text).map_err(|e| toml_error(text, &e))
}

/// Loads the file at `path`. A missing file means defaults; a broken one a warning naming
/// the file and the problem, and defaults.
pub fn load(path: Option<&Path>) -> (Config, Vec<String>) {
    let Some(path) = path else {
        return (Config::default(), Vec::new());
    };
    match std::fs::read_to_string(path) {
        Ok(text) => match parse(&text) {
            Ok(c) => (c, Vec::new()),
            Err(e) => (
                Config::default(),
                vec![format!(
                    "config {}: {e}; starting with defaults",
                    path.display()
                )],
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Config::default(), Vec::new()),
        Err(e) => (
            Config::default(),
            vec![format!(
                "config {}: cannot be read ({e}); starting with defaults",
                path.display()
            )],
        ),
    }
}
