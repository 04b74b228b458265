//! Reading files that someone else may have planted (a container's output directory,
//! the blob store): never through a link, never from a FIFO or device, never blocking,
//! never more than a cap.

use std::io::Read;
use std::path::Path;

/// `O_NOFOLLOW` (its value differs between Linux architectures).
const O_NOFOLLOW: i32 = if cfg!(any(target_arch = "aarch64", target_arch = "arm")) {
    0o100000
} else {
    0o400000
};
/// `O_NONBLOCK`: opening a FIFO with no writer returns at once instead of hanging.
const O_NONBLOCK: i32 = 0o4000;

/// Reads `path` if it is a regular file of at most `cap` bytes. The checks are made on
/// the opened file (`fstat`), so nothing can be swapped in between.
pub fn read_regular_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let (file, meta) = open_regular(path)?;
    if meta.len() > cap {
        return Err(format!("{} bytes, over the {cap}-byte cap", meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > cap {
        return Err(format!("grew over the {cap}-byte cap while being read"));
    }
    Ok(bytes)
}

/// Opens `path` for reading if it is a regular file, with the checks made on the
/// opened file.
pub fn open_regular(path: &Path) -> Result<(std::fs::File, std::fs::Metadata), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW | O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot open: {e}"))?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    Ok((file, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_fifos_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(read_regular_capped(&file, 5).unwrap(), b"12345");
        assert!(read_regular_capped(&file, 4).unwrap_err().contains("cap"));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(read_regular_capped(&link, 100)
            .unwrap_err()
            .contains("cannot open"));
        assert!(read_regular_capped(dir.path(), 100)
            .unwrap_err()
            .contains("regular"));
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let started = std::time::Instant::now();
        assert!(read_regular_capped(&fifo, 100)
            .unwrap_err()
            .contains("regular"));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(read_regular_capped(Path::new("/dev/zero"), 100)
            .unwrap_err()
            .contains("regular"));
    }
}
