//! Finds, checks and loads extension libraries at startup. Order of checks:
//! detached signature (unless unsigned ones are explicitly allowed) → a private
//! copy of the verified bytes is what gets loaded (no swap between check and
//! load) → entry symbol → ABI prefix → compatibility fingerprint (ABI and hook schema, not the compiler). Nothing of the
//! extension is called before all of them pass.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use validibot_plugin_api::extension::{
    Compat, Descriptor, EntryFn, ABI_MAJOR, ABI_MINOR, ENTRY_SYMBOL, FINGERPRINT,
};

use super::native::NativeExtension;
use crate::trust::TrustedKeys;

#[derive(Debug, Clone)]
pub struct LoadSettings {
    /// Where operators drop extension libraries.
    pub dir: PathBuf,
    /// Where verified copies are kept and loaded from.
    pub cache_dir: PathBuf,
    pub trusted: TrustedKeys,
    pub allow_unsigned: bool,
}

/// What happened to one file in the extensions directory (shown to admins).
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub file: String,
    pub loaded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Loads every library in the directory; refusals are reported, not fatal.
pub fn load_dir(settings: &LoadSettings) -> (Vec<NativeExtension>, Vec<LoadReport>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&settings.dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| {
        p.extension()
            .is_some_and(|e| e == std::env::consts::DLL_EXTENSION)
    });
    files.sort();
    let mut loaded = Vec::new();
    let mut reports = Vec::new();
    for path in files {
        let file = path.display().to_string();
        match load_one(&path, settings) {
            Ok((ext, signed_by)) => {
                tracing::info!(
                    file,
                    name = ext.name,
                    version = ext.version,
                    signed_by,
                    "extension loaded"
                );
                reports.push(LoadReport {
                    file,
                    loaded: true,
                    name: Some(ext.name.clone()),
                    version: Some(ext.version.clone()),
                    signed_by,
                    error: None,
                });
                loaded.push(ext);
            }
            Err(error) => {
                tracing::error!(file, "extension refused: {error}");
                reports.push(LoadReport {
                    file,
                    loaded: false,
                    name: None,
                    version: None,
                    signed_by: None,
                    error: Some(error),
                });
            }
        }
    }
    (loaded, reports)
}

fn load_one(
    path: &Path,
    settings: &LoadSettings,
) -> Result<(NativeExtension, Option<String>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut sig_path = path.as_os_str().to_owned();
    sig_path.push(".sig");
    let signed_by = match std::fs::read_to_string(&sig_path) {
        Ok(sig) => Some(settings.trusted.verify(&validibot_plugin_api::signature::EXTENSION, &bytes, &sig).map_err(|e| {
            format!("signature check failed: {e}")
        })?),
        Err(_) if settings.allow_unsigned => None,
        Err(_) => {
            return Err(format!(
                "unsigned: no {} beside it. Sign it (validibot-license sign-extension) and list the key in VALIDIBOT_EXTENSION_TRUSTED_KEYS, or set VALIDIBOT_ALLOW_UNSIGNED_EXTENSIONS=true",
                Path::new(&sig_path).display()
            ))
        }
    };
    let copy = private_copy(&bytes, &settings.cache_dir)?;
    // SAFETY: loading runs the library's initialisers; it was signature-checked (or the
    // operator allowed unsigned code). RTLD_NOW: unresolved symbols fail here, not later.
    let library = unsafe {
        libloading::os::unix::Library::open(
            Some(&copy),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
        )
    }
    .map_err(|e| format!("cannot load: {e}"))?;
    // SAFETY: the symbol's type is fixed by the seam's ABI major 1.
    let entry: EntryFn = unsafe { library.get::<EntryFn>(ENTRY_SYMBOL) }
        .map(|s| *s)
        .map_err(|_| "not a Validibot extension: no validibot_extension_v1 symbol".to_string())?;
    // SAFETY: calling the entry symbol only returns a pointer to static data.
    let descriptor = unsafe { entry() };
    if descriptor.is_null() {
        return Err("the entry symbol returned no descriptor".into());
    }
    // SAFETY: every ABI-1 descriptor starts with abi_major, abi_minor, struct_size, fingerprint.
    let d: &'static Descriptor = unsafe { &*descriptor };
    if d.abi_major != ABI_MAJOR {
        return Err(format!(
            "extension ABI {}.{}, this host speaks {ABI_MAJOR}.{ABI_MINOR}",
            d.abi_major, d.abi_minor
        ));
    }
    if (d.struct_size as usize) < std::mem::size_of::<Descriptor>() {
        return Err(format!(
            "descriptor is {} bytes, ABI {ABI_MAJOR}.{ABI_MINOR} needs {}",
            d.struct_size,
            std::mem::size_of::<Descriptor>()
        ));
    }
    // SAFETY: a static string of the extension.
    let fingerprint = String::from_utf8_lossy(unsafe { d.fingerprint.as_slice() }).into_owned();
    let compatible = match Compat::parse(&fingerprint) {
        Some(theirs) => Compat::OURS.accepts(theirs),
        None => Err("its fingerprint predates the ABI-based scheme".into()),
    };
    if let Err(why) = compatible {
        return Err(format!(
            "fingerprint mismatch: {why} (extension [{fingerprint}], host [{FINGERPRINT}]); \
             rebuild the extension against a validibot-plugin-api with the host's ABI and hook schema"
        ));
    }
    // Never unloaded: the descriptor and its functions stay valid for the process.
    std::mem::forget(library);
    // SAFETY: checked above; the library is leaked.
    let ext = unsafe { NativeExtension::new(d, path.display().to_string()) };
    Ok((ext, signed_by))
}

/// Writes the verified bytes to a content-addressed file only this process's user can
/// write, so what is loaded is exactly what was checked.
fn private_copy(bytes: &[u8], cache_dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(cache_dir)
        .map_err(|e| format!("creating {}: {e}", cache_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(cache_dir, std::fs::Permissions::from_mode(0o700));
    }
    let name = format!(
        "{}.{}",
        hex::encode(Sha256::digest(bytes)),
        std::env::consts::DLL_EXTENSION
    );
    let dest = cache_dir.join(name);
    let mut tmp = tempfile::NamedTempFile::new_in(cache_dir).map_err(|e| e.to_string())?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| e.to_string())?;
    tmp.persist(&dest).map_err(|e| e.to_string())?;
    Ok(dest)
}
