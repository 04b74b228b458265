//! Files a container validator leaves for the user (EnergyPlus's `eplusout.sql`,
//! say): listed in the output envelope's `artifacts[]`, read — from the per-attempt
//! output directory without following links, or, for an asynchronous step, from the
//! exchange slot the agent uploaded the n-th listed file to — within caps, and stored
//! as blobs.
//! The host alone records them (`step_artifacts`, written with the step's row): a
//! validator's outputs can never name a blob or a path. The API serves them by name.

use std::path::Path;
use std::sync::Arc;

use validibot_types::StoredArtifact;

use super::envelope::Artifact;
use validibot_blobs::{read_regular_capped, BlobStore, Exchange};

/// Where the listed files are.
pub enum Source<'a> {
    /// A synchronous step's output directory.
    Dir(&'a Path),
    /// An asynchronous step's exchange: the n-th listed artifact at [`slot`]`(prefix, n)`.
    Exchange(&'a Exchange<'a>, &'a str),
}

/// The exchange object the agent uploads the `n`-th listed artifact to.
pub fn slot(prefix: &str, n: usize) -> String {
    format!("{prefix}/artifacts/{n}")
}

/// Most artifacts kept per step, and most bytes in all.
pub const MAX_ARTIFACTS: usize = 16;
pub const MAX_TOTAL_BYTES: u64 = 256 << 20;

/// Stores what it can; each refused artifact is a reason in the second list.
pub async fn collect(
    source: Source<'_>,
    listed: &[Artifact],
    blobs: &BlobStore,
) -> (Vec<StoredArtifact>, Vec<String>) {
    let (mut kept, mut refused) = (Vec::new(), Vec::new());
    let mut total = 0u64;
    for (n, a) in listed.iter().enumerate() {
        if kept.len() == MAX_ARTIFACTS {
            refused.push(format!("{:?}: more than {MAX_ARTIFACTS} artifacts", a.name));
            continue;
        }
        if !plain_name(&a.name)
            || !plain_name(&a.path)
            || kept.iter().any(|k: &StoredArtifact| k.name == a.name)
        {
            refused.push(format!(
                "{:?} ({:?}): artifact names and paths are plain, unique file names",
                a.name, a.path
            ));
            continue;
        }
        let budget = MAX_TOTAL_BYTES - total;
        let bytes = match read(&source, n, &a.path, budget).await {
            Ok(b) => b,
            Err(e) => {
                refused.push(format!("{:?}: {e}", a.name));
                continue;
            }
        };
        total += bytes.len() as u64;
        match blobs.put_bytes(Arc::new(bytes)).await {
            Ok(blob) => kept.push(StoredArtifact {
                name: a.name.clone(),
                mime_type: a
                    .mime_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".into()),
                size: blob.size as u64,
                sha256: blob.sha256,
            }),
            Err(e) => refused.push(format!("{:?}: storing failed: {e}", a.name)),
        }
    }
    (kept, refused)
}

/// The `n`-th listed file, at most `budget` bytes.
async fn read(source: &Source<'_>, n: usize, path: &str, budget: u64) -> Result<Vec<u8>, String> {
    match source {
        Source::Dir(dir) => {
            let path = dir.join(path);
            tokio::task::spawn_blocking(move || read_regular_capped(&path, budget))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        }
        Source::Exchange(exchange, prefix) => exchange
            .read(&slot(prefix, n), budget)
            .await
            .map_err(|e| format!("{e:#}"))?
            .ok_or_else(|| "the agent did not upload it".to_owned()),
    }
}

fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(name: &str, path: &str) -> Artifact {
        Artifact {
            name: name.into(),
            mime_type: Some("text/plain".into()),
            path: path.into(),
        }
    }

    #[tokio::test]
    async fn artifacts_are_stored_and_hostile_ones_refused() {
        let out = tempfile::tempdir().unwrap();
        let store = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(store.path()).unwrap();
        std::fs::write(out.path().join("eplusout.err"), b"** Warning ** x").unwrap();
        let secret = out.path().join("..").join("secret-artifact-test");
        std::fs::write(&secret, b"secret").unwrap();
        std::os::unix::fs::symlink(&secret, out.path().join("link")).unwrap();
        std::fs::create_dir(out.path().join("dir")).unwrap();
        let (kept, refused) = collect(
            Source::Dir(out.path()),
            &[
                listed("eplusout.err", "eplusout.err"),
                listed("up", "../secret-artifact-test"),
                listed("link", "link"),
                listed("dir", "dir"),
                listed("missing", "missing"),
                listed("eplusout.err", "eplusout.err"),
            ],
            &blobs,
        )
        .await;
        std::fs::remove_file(secret).unwrap();
        assert_eq!(kept.len(), 1, "{refused:?}");
        assert_eq!(kept[0].size, 15);
        assert_eq!(
            blobs.read(&kept[0].sha256).await.unwrap(),
            b"** Warning ** x"
        );
        assert_eq!(refused.len(), 5, "{refused:?}");
        assert!(
            refused[1].contains("cannot open"),
            "a link is not followed: {refused:?}"
        );
        assert!(refused[2].contains("regular"), "{refused:?}");
    }
}
