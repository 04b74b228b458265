//! The FMU archive: a zip that is checked entry by entry before anything is
//! written (no absolute or `..` paths, no links, bounded size and compression
//! ratio), then unpacked with every entry's real size re-checked, because a
//! header can lie about it.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path};

use crate::findings::Findings;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_unpacked_bytes: u64,
    pub max_compression_ratio: f64,
    pub max_entries: usize,
}

/// Entries smaller than this are not judged by their ratio (tiny files of
/// zeros compress extremely well and are harmless).
const RATIO_FLOOR_BYTES: u64 = 1 << 20;

/// What the archive holds, once it passed.
#[derive(Debug, Default)]
pub struct Contents {
    pub names: Vec<String>,
    pub unpacked_bytes: u64,
}

/// Checks the archive and unpacks it into `dest`. Problems are findings; `None`
/// means nothing (or nothing usable) was unpacked.
pub fn unpack(
    fmu: &Path,
    dest: &Path,
    limits: Limits,
    findings: &mut Findings,
) -> Option<Contents> {
    let file = match File::open(fmu) {
        Ok(f) => f,
        Err(e) => {
            findings.error(
                "fmi.archive.unreadable",
                format!("cannot open the FMU: {e}"),
                None,
            );
            return None;
        }
    };
    let mut zip = match zip::ZipArchive::new(file) {
        Ok(z) => z,
        Err(e) => {
            findings.error(
                "fmi.archive.invalid",
                format!("the FMU is not a readable zip archive: {e}"),
                None,
            );
            return None;
        }
    };
    if zip.len() > limits.max_entries {
        findings.error(
            "fmi.archive.too_many_entries",
            format!(
                "the archive has {} entries; at most {} are accepted",
                zip.len(),
                limits.max_entries
            ),
            None,
        );
        return None;
    }
    let before = findings.0.len();
    let mut total: u64 = 0;
    let mut contents = Contents::default();
    for i in 0..zip.len() {
        let entry = match zip.by_index_raw(i) {
            Ok(e) => e,
            Err(e) => {
                findings.error(
                    "fmi.archive.invalid",
                    format!("entry {i} is unreadable: {e}"),
                    None,
                );
                continue;
            }
        };
        let name = match entry.name() {
            Ok(n) => n.into_owned(),
            Err(e) => {
                findings.error(
                    "fmi.archive.invalid",
                    format!("entry {i} has an unreadable name: {e}"),
                    None,
                );
                continue;
            }
        };
        let loc = Some(name.clone());
        if let Some(problem) = path_problem(&name) {
            findings.error(
                "fmi.archive.unsafe_path",
                format!("{name:?}: {problem}"),
                loc,
            );
            continue;
        }
        if entry.is_symlink() {
            findings.error(
                "fmi.archive.link",
                format!("{name:?} is a symbolic link"),
                loc,
            );
            continue;
        }
        total = total.saturating_add(entry.size());
        if entry.size() >= RATIO_FLOOR_BYTES {
            let ratio = entry.size() as f64 / entry.compressed_size().max(1) as f64;
            if ratio > limits.max_compression_ratio {
                findings.error(
                    "fmi.archive.compression_ratio",
                    format!(
                        "{name:?} expands {ratio:.0}× ({} → {} bytes); at most {}× is accepted",
                        entry.compressed_size(),
                        entry.size(),
                        limits.max_compression_ratio
                    ),
                    loc,
                );
            }
        }
        if !entry.is_dir() {
            contents.names.push(name);
        }
    }
    if total > limits.max_unpacked_bytes {
        findings.error(
            "fmi.archive.too_large",
            format!(
                "the archive unpacks to {total} bytes; at most {} are accepted",
                limits.max_unpacked_bytes
            ),
            None,
        );
    }
    if findings.0.len() > before {
        return None;
    }
    if !contents.names.iter().any(|n| n == "modelDescription.xml") {
        findings.error(
            "fmi.archive.no_model_description",
            "there is no modelDescription.xml at the root of the archive",
            None,
        );
        return None;
    }
    for i in 0..zip.len() {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                findings.error("fmi.archive.invalid", format!("entry {i}: {e}"), None);
                return None;
            }
        };
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let Some(rel) = entry.enclosed_name() else {
            findings.error(
                "fmi.archive.unsafe_path",
                format!("{name:?} escapes the archive"),
                None,
            );
            return None;
        };
        let target = dest.join(rel);
        let written = if entry.is_dir() {
            std::fs::create_dir_all(&target).map(|_| 0)
        } else {
            copy_bounded(
                &mut entry,
                &target,
                limits.max_unpacked_bytes - contents.unpacked_bytes,
            )
        };
        match written {
            Ok(n) if n == entry.size() || entry.is_dir() => contents.unpacked_bytes += n,
            Ok(n) => {
                findings.error(
                    "fmi.archive.size_mismatch",
                    format!(
                        "{name:?} declares {} bytes but holds at least {n}",
                        entry.size()
                    ),
                    Some(name),
                );
                return None;
            }
            Err(e) => {
                findings.error("fmi.archive.invalid", format!("{name:?}: {e}"), Some(name));
                return None;
            }
        }
    }
    Some(contents)
}

/// Why a stored path is unsafe, if it is.
fn path_problem(name: &str) -> Option<&'static str> {
    if name.contains('\0') {
        return Some("contains a NUL byte");
    }
    let unified = name.replace('\\', "/");
    if unified.starts_with('/') || unified.as_bytes().get(1) == Some(&b':') {
        return Some("is an absolute path");
    }
    if Path::new(&unified)
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Some("climbs out of the archive with ..");
    }
    None
}

/// Writes at most `budget` bytes (plus one, to notice more) of `src` to `target`.
fn copy_bounded(src: &mut impl Read, target: &Path, budget: u64) -> std::io::Result<u64> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut out = File::create(target)?;
    let n = std::io::copy(&mut src.take(budget.saturating_add(1)), &mut out)?;
    out.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    const LIMITS: Limits = Limits {
        max_unpacked_bytes: 64 << 20,
        max_compression_ratio: 100.0,
        max_entries: 1000,
    };

    fn fmu(entries: &[(&str, Vec<u8>)]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut w = zip::ZipWriter::new(file.reopen().unwrap());
        let opts =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            w.start_file(*name, opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
        file
    }

    fn run(file: &Path) -> (Option<Contents>, Vec<String>, tempfile::TempDir) {
        let dest = tempfile::tempdir().unwrap();
        let mut f = Findings::default();
        let c = unpack(file, dest.path(), LIMITS, &mut f);
        (c, f.codes().iter().map(|s| s.to_string()).collect(), dest)
    }

    #[test]
    fn a_sound_archive_is_unpacked() {
        let z = fmu(&[
            ("modelDescription.xml", b"<x/>".to_vec()),
            ("binaries/linux64/m.so", vec![1; 10]),
        ]);
        let (c, codes, dest) = run(z.path());
        assert!(codes.is_empty(), "{codes:?}");
        assert_eq!(c.unwrap().unpacked_bytes, 14);
        assert_eq!(
            std::fs::read(dest.path().join("binaries/linux64/m.so")).unwrap(),
            vec![1; 10]
        );
    }

    #[test]
    fn unsafe_archives_are_refused_before_anything_is_written() {
        for bad in ["../evil.so", "/etc/passwd", "a/../../b", "C:\\x", "..\\x"] {
            let z = fmu(&[
                ("modelDescription.xml", b"<x/>".to_vec()),
                (bad, b"x".to_vec()),
            ]);
            let (c, codes, dest) = run(z.path());
            assert!(c.is_none());
            assert_eq!(codes, ["fmi.archive.unsafe_path"], "{bad}");
            assert_eq!(
                std::fs::read_dir(dest.path()).unwrap().count(),
                0,
                "{bad}: nothing written"
            );
        }
    }

    #[test]
    fn bombs_and_junk_are_refused() {
        let z = fmu(&[
            ("modelDescription.xml", b"<x/>".to_vec()),
            ("zeros", vec![0; 8 << 20]),
        ]);
        assert_eq!(run(z.path()).1, ["fmi.archive.compression_ratio"]);
        let junk = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(junk.path(), b"PK\x03\x04 definitely not a zip").unwrap();
        assert_eq!(run(junk.path()).1, ["fmi.archive.invalid"]);
        let z = fmu(&[("other.xml", b"<x/>".to_vec())]);
        assert_eq!(run(z.path()).1, ["fmi.archive.no_model_description"]);
    }

    #[test]
    fn size_cap_counts_the_whole_archive() {
        let noise: Vec<u8> = (0..3u32 << 20)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let z = fmu(&[
            ("modelDescription.xml", b"<x/>".to_vec()),
            ("a", noise.clone()),
            ("b", noise),
        ]);
        let dest = tempfile::tempdir().unwrap();
        let mut f = Findings::default();
        let small = Limits {
            max_unpacked_bytes: 4 << 20,
            ..LIMITS
        };
        assert!(unpack(z.path(), dest.path(), small, &mut f).is_none());
        assert_eq!(f.codes(), ["fmi.archive.too_large"]);
    }
}
