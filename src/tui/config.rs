// PROVISIONAL stand-in so the tree builds until the full module lands; replace this whole file.
use std::path::{Path, PathBuf};
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub server: Option<String>,
    pub name: Option<String>,
    pub token: Option<String>,
    pub theme: Option<String>,
    pub keys: std::collections::BTreeMap<String, Vec<String>>,
}
pub const DEFAULT_CONFIG: &str = "# stub\n";
pub fn default_path() -> Option<PathBuf> {
    None
}
pub fn load(_p: Option<&Path>) -> (Config, Vec<String>) {
    (Config::default(), vec![])
}
