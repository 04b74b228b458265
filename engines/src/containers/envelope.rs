//! The files a container validator reads and writes: `validibot.input.v1`
//! (written by the host, mounted read-only) and `validibot.output.v1` (written by
//! the container into an empty per-attempt directory; the host reads it without
//! following links, and refuses one larger than the cap). Results come only from
//! this file, never from logs.

use std::path::Path;

use sha2::{Digest, Sha256};
use validibot_types::{Finding, Output, Severity};

use validibot_blobs::read_regular_capped;

pub use validibot_plugin_api::container::{
    Artifact, InputEnvelope, InputFile, Message, Metric, OutputEnvelope, OutputStatus,
    ENVELOPE_NAME, INPUT_DIR, INPUT_SCHEMA, OUTPUT_DIR, OUTPUT_SCHEMA, STEP_FILES_DIR,
};

/// `(name, mime type, bytes)` of one input file.
pub type NamedBytes = (String, String, std::sync::Arc<Vec<u8>>);

/// Writes the input files, the step's files (under `step-files/`) and `input.json`
/// into `dir` (which is mounted read-only).
pub fn write_inputs(
    dir: &Path,
    run_id: &str,
    validator: &str,
    files: &[NamedBytes],
    step_files: &[NamedBytes],
    config: &serde_json::Value,
) -> std::io::Result<InputEnvelope> {
    let listed = write_files(dir, "", files)?;
    let attached = if step_files.is_empty() {
        vec![]
    } else {
        let sub = dir.join(STEP_FILES_DIR);
        std::fs::create_dir(&sub)?;
        write_files(&sub, &format!("{STEP_FILES_DIR}/"), step_files)?
    };
    let envelope = InputEnvelope {
        schema_version: INPUT_SCHEMA.into(),
        run_id: run_id.into(),
        validator: validator.into(),
        files: listed,
        config: config.clone(),
        step_files: attached,
    };
    std::fs::write(
        dir.join(ENVELOPE_NAME),
        serde_json::to_vec_pretty(&envelope)?,
    )?;
    Ok(envelope)
}

/// Writes plain-named files into `dir`; `prefix` is their directory under [`INPUT_DIR`].
fn write_files(dir: &Path, prefix: &str, files: &[NamedBytes]) -> std::io::Result<Vec<InputFile>> {
    let mut listed = Vec::new();
    for (name, mime_type, bytes) in files {
        // Plain names only, and never the envelope's own.
        if name == ENVELOPE_NAME
            || name.starts_with('.')
            || name.contains(['/', '\\', '\0'])
            || listed.iter().any(|f: &InputFile| &f.name == name)
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("input file name {name:?} is not allowed"),
            ));
        }
        std::fs::write(dir.join(name), bytes.as_slice())?;
        listed.push(InputFile {
            name: name.clone(),
            mime_type: mime_type.clone(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes.as_slice())),
            uri: format!("file://{INPUT_DIR}/{prefix}{name}"),
        });
    }
    Ok(listed)
}

/// The findings and outputs an output envelope carries (results never come from logs).
pub fn results(out: OutputEnvelope) -> (Vec<Output>, Vec<Finding>) {
    let findings = out
        .messages
        .into_iter()
        .map(|m| Finding {
            severity: Severity::parse(&m.severity.to_ascii_uppercase()).unwrap_or(Severity::Info),
            code: if m.code.is_empty() {
                "container.message".into()
            } else {
                m.code
            },
            message: m.text,
            path: m.location.unwrap_or_default(),
            meta: None,
        })
        .collect();
    let outputs = out
        .metrics
        .into_iter()
        .map(|m| Output {
            name: m.name,
            value: m.value,
            unit: m.unit,
        })
        .collect();
    (outputs, findings)
}

/// Reads `output.json` from the per-attempt output directory: a regular file (a
/// link planted by the container is not followed), at most `cap` bytes, the v1 schema.
pub fn read_output(dir: &Path, cap: u64) -> Result<OutputEnvelope, String> {
    let bytes = read_regular_capped(&dir.join("output.json"), cap)
        .map_err(|e| format!("output envelope {OUTPUT_DIR}/output.json: {e}"))?;
    parse_output(&bytes)
}

/// An output envelope's bytes (from the directory, or uploaded by an asynchronous step).
pub fn parse_output(bytes: &[u8]) -> Result<OutputEnvelope, String> {
    let envelope: OutputEnvelope = serde_json::from_slice(bytes)
        .map_err(|e| format!("output.json is not a valid envelope: {e}"))?;
    if envelope.schema_version != OUTPUT_SCHEMA {
        return Err(format!(
            "output.json schema_version is {:?}, expected {OUTPUT_SCHEMA:?}",
            envelope.schema_version
        ));
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_read_without_following_links_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let good = r#"{"schema_version":"validibot.output.v1","status":"failed_validation","messages":[{"severity":"ERROR","code":"x.y","text":"bad"}]}"#;
        std::fs::write(dir.path().join("output.json"), good).unwrap();
        let out = read_output(dir.path(), 1 << 20).unwrap();
        assert_eq!(out.status, OutputStatus::FailedValidation);
        assert!(read_output(dir.path(), 10).unwrap_err().contains("cap"));
        std::fs::remove_file(dir.path().join("output.json")).unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, good).unwrap();
        std::os::unix::fs::symlink(&secret, dir.path().join("output.json")).unwrap();
        assert!(
            read_output(dir.path(), 1 << 20).is_err(),
            "a symlink is not followed"
        );
    }

    #[test]
    fn input_names_cannot_clash_or_escape() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = serde_json::json!({});
        for bad in ["input.json", "../x", "a/b", ".hidden"] {
            let files = vec![(
                bad.to_string(),
                "text/plain".to_string(),
                std::sync::Arc::new(b"x".to_vec()),
            )];
            assert!(
                write_inputs(dir.path(), "r", "v", &files, &[], &cfg).is_err(),
                "{bad}"
            );
        }
        let twice = vec![
            (
                "a.txt".to_string(),
                "text/plain".to_string(),
                std::sync::Arc::new(b"1".to_vec()),
            ),
            (
                "a.txt".to_string(),
                "text/plain".to_string(),
                std::sync::Arc::new(b"2".to_vec()),
            ),
        ];
        assert!(write_inputs(dir.path(), "r", "v", &twice, &[], &cfg).is_err());
        let one = vec![(
            "model.idf".to_string(),
            "text/plain".to_string(),
            std::sync::Arc::new(b"abc".to_vec()),
        )];
        let env = write_inputs(dir.path(), "r", "v", &one, &one, &cfg).unwrap();
        assert_eq!(env.files[0].size, 3);
        assert_eq!(
            env.files[0].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // A step file may share the submission's name: it lives in its own directory.
        assert_eq!(
            env.step_files[0].uri,
            "file:///validibot/input/step-files/model.idf"
        );
        assert_eq!(
            std::fs::read(dir.path().join("step-files/model.idf")).unwrap(),
            b"abc"
        );
    }
}
