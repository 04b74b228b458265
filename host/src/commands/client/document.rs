//! The document a client command validates: its name and media type.

use std::path::Path;

/// The file's name (sent as `filename`) and media type: `--content-type`, else a guess
/// from the extension, else `application/octet-stream`.
pub fn name_and_type(path: &Path, content_type: Option<&str>) -> (String, String) {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("document")
        .to_owned();
    let media = content_type
        .map(str::to_owned)
        .or_else(|| validibot_types::media_types::guess_from_filename(&name).map(str::to_owned))
        .unwrap_or_else(|| "application/octet-stream".into());
    (name, media)
}
