//! Files attached to workflow steps: uploaded to a workspace (a blob by sha256 and the
//! workspace's claim on it), named by a step, handed to its validator when it runs —
//! to a WASM component as `inputs.source`s (contract 1.1), to a container in its input
//! envelope — and listed with their digests in the run's evidence.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use serde::Deserialize;

use validibot_blobs::BlobStore;
use validibot_engines::plugins::CallFile;
use validibot_store::db::Db;
use validibot_store::workflows::files::{self, WorkspaceFile};
use validibot_store::workflows::StepFile;
use validibot_types::ids::{UserId, WorkspaceId};

/// At most this many files on one step.
pub const MAX_FILES_PER_STEP: usize = 20;
const MAX_NAME: usize = 128;

/// A step's file as a definition names it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    /// The name the validator sees (an `xs:include`'s `schemaLocation`, `weather.epw`).
    pub name: String,
    /// An uploaded file (`POST …/files`).
    pub sha256: Option<String>,
    /// A local file, relative to the workflow file: read by the CLI (`check`,
    /// `workflows push|import`), which uploads it; the API refuses it.
    pub path: Option<String>,
    /// Default: the media type it was uploaded with.
    pub media_type: Option<String>,
}

/// What is known of the files a definition may name: sha256 → (size, media type).
pub type Catalog = HashMap<String, (i64, String)>;

/// A name a validator can use as a plain file name, inside the sandbox or a container.
pub fn check_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !plain {
        return Err(format!(
            "file name {:?}: 1 to {MAX_NAME} letters, digits, '.', '-' or '_', not starting with '.'",
            name.chars().take(MAX_NAME + 8).collect::<String>()
        ));
    }
    if name == validibot_engines::containers::envelope::ENVELOPE_NAME {
        return Err(format!(
            "file name {name:?} is the container input envelope's"
        ));
    }
    Ok(())
}

/// A step's files resolved against the catalog; an error names the first bad one.
pub fn resolve(refs: &[FileRef], catalog: &Catalog) -> Result<Vec<StepFile>, String> {
    if refs.len() > MAX_FILES_PER_STEP {
        return Err(format!("a step may have {MAX_FILES_PER_STEP} files"));
    }
    let mut out: Vec<StepFile> = Vec::with_capacity(refs.len());
    for (i, r) in refs.iter().enumerate() {
        let at = format!("files[{i}]");
        check_name(&r.name).map_err(|e| format!("{at}: {e}"))?;
        if out.iter().any(|f| f.name == r.name) {
            return Err(format!("{at}: two files are named {:?}", r.name));
        }
        let sha256 = match (&r.sha256, &r.path) {
            (Some(sha), None) => sha,
            (_, Some(path)) => {
                return Err(format!(
                    "{at}: \"path\" {path:?} is read by the CLI (validibot workflows push, check), which uploads the file; the API takes the \"sha256\" of a file uploaded with POST …/files"
                ))
            }
            (None, None) => return Err(format!("{at}: give the \"sha256\" of an uploaded file")),
        };
        let Some((size, media_type)) = catalog.get(sha256) else {
            return Err(format!(
                "{at} ({:?}): no file with sha256 {sha256} was uploaded to this workspace (POST …/files)",
                r.name
            ));
        };
        out.push(StepFile {
            name: r.name.clone(),
            sha256: sha256.clone(),
            size: *size,
            media_type: r.media_type.clone().unwrap_or_else(|| media_type.clone()),
        });
    }
    Ok(out)
}

/// The workspace's uploads among the sha256s a definition names.
pub async fn catalog<'a>(
    db: &Db,
    workspace: &WorkspaceId,
    named: impl Iterator<Item = &'a str>,
) -> Result<Catalog> {
    let mut catalog = Catalog::new();
    for sha in named {
        if catalog.contains_key(sha) || validibot_blobs::BlobId::parse(sha).is_err() {
            continue;
        }
        if let Some(f) = files::get(db, workspace, sha).await? {
            catalog.insert(f.sha256, (f.size, f.media_type));
        }
    }
    Ok(catalog)
}

/// Stores an upload's bytes and records the workspace's claim on them.
pub async fn upload(
    db: &Db,
    blobs: &BlobStore,
    workspace: &WorkspaceId,
    name: &str,
    media_type: &str,
    bytes: Vec<u8>,
    by: Option<&UserId>,
) -> Result<WorkspaceFile> {
    let stored = blobs.put_bytes(Arc::new(bytes)).await?;
    let file = WorkspaceFile {
        sha256: stored.sha256,
        name: name.to_owned(),
        media_type: media_type.to_owned(),
        size: stored.size,
        created_at: 0,
    };
    files::insert(db, workspace, &file, by).await
}

/// A step's files read for a call (checked against their sha256 by the blob store).
pub async fn load(blobs: &BlobStore, step: &[StepFile]) -> Result<Vec<CallFile>> {
    let mut out = Vec::with_capacity(step.len());
    for f in step {
        let bytes = blobs
            .read(&f.sha256)
            .await
            .map_err(|e| anyhow::anyhow!("step file {:?}: {e:#}", f.name))?;
        out.push(CallFile {
            name: f.name.clone(),
            media_type: f.media_type.clone(),
            sha256: f.sha256.clone(),
            content: Arc::new(bytes),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, sha: &str) -> FileRef {
        FileRef {
            name: name.into(),
            sha256: Some(sha.into()),
            path: None,
            media_type: None,
        }
    }

    #[test]
    fn names_are_plain_and_unique_and_files_uploaded() {
        let sha = "a".repeat(64);
        let catalog = Catalog::from([(sha.clone(), (3, "text/plain".to_owned()))]);
        let ok = resolve(&[r("common.xsd", &sha)], &catalog).unwrap();
        assert_eq!((ok[0].size, ok[0].media_type.as_str()), (3, "text/plain"));
        for bad in ["", "../x", "a/b", ".hidden", "input.json", "a b"] {
            assert!(resolve(&[r(bad, &sha)], &catalog).is_err(), "{bad:?}");
        }
        let twice = resolve(&[r("a.txt", &sha), r("a.txt", &sha)], &catalog).unwrap_err();
        assert!(twice.contains("two files"), "{twice}");
        let unknown = resolve(&[r("a.txt", &"b".repeat(64))], &catalog).unwrap_err();
        assert!(unknown.contains("no file with sha256"), "{unknown}");
        let local = FileRef {
            path: Some("x.xsd".into()),
            sha256: None,
            ..r("x.xsd", "")
        };
        assert!(resolve(&[local], &catalog).unwrap_err().contains("CLI"));
    }
}
