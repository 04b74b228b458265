//! Where `validibot login` keeps the server URL and API key: a JSON file readable by its
//! owner only (0600, in a 0700 directory), like other CLIs keep tokens.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub server: String,
    pub api_key: String,
    pub workspace: String,
}

/// `VALIDIBOT_CREDENTIALS`, else `$XDG_CONFIG_HOME/validibot/credentials.json`,
/// else `~/.config/validibot/credentials.json`.
pub fn path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("VALIDIBOT_CREDENTIALS") {
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".config"),
    };
    Ok(base.join("validibot").join("credentials.json"))
}

pub fn load() -> Result<Option<Credentials>> {
    let path = path()?;
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(
            serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes atomically (temp file + rename) with mode 0600 from the start, so the key is
/// never readable by others, not even briefly.
pub fn save(creds: &Credentials) -> Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let path = path()?;
    let dir = path.parent().context("credentials path has no directory")?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension("json.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(&serde_json::to_vec_pretty(creds)?)?;
    file.sync_all()?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn saved_file_is_owner_only_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub").join("credentials.json");
        // The only test in this binary that touches the variable.
        std::env::set_var("VALIDIBOT_CREDENTIALS", &file);
        let creds = Credentials {
            server: "http://x".into(),
            api_key: "vbk_a_b".into(),
            workspace: "default".into(),
        };
        save(&creds).unwrap();
        save(&creds).unwrap(); // overwriting works too
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(file.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        assert_eq!(load().unwrap().unwrap().api_key, "vbk_a_b");
        std::env::remove_var("VALIDIBOT_CREDENTIALS");
    }
}
