//! Files attached to a workflow step (contract 1.1): an XSD include, a weather file,
//! a reference table. On the guest they are host `source`s read on demand; in native
//! tests they are plain bytes.

use std::fmt;

use crate::ValidatorError;

/// One file the workflow author attached to the step.
pub struct StepFile {
    /// Plain name, unique within the step (`common.xsd`).
    pub name: String,
    pub media_type: String,
    /// Lower-case hex sha256 of the content.
    pub sha256: String,
    content: Content,
}

enum Content {
    Bytes(Vec<u8>),
    #[cfg(feature = "guest")]
    Source(crate::bindings::validibot::validator::inputs::Source),
}

impl fmt::Debug for StepFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepFile")
            .field("name", &self.name)
            .field("media_type", &self.media_type)
            .field("sha256", &self.sha256)
            .field("size", &self.size())
            .finish()
    }
}

impl StepFile {
    /// A file held in memory (tests, native runs); `sha256` is taken as given.
    pub fn from_bytes(
        name: impl Into<String>,
        media_type: impl Into<String>,
        sha256: impl Into<String>,
        bytes: Vec<u8>,
    ) -> StepFile {
        StepFile {
            name: name.into(),
            media_type: media_type.into(),
            sha256: sha256.into(),
            content: Content::Bytes(bytes),
        }
    }

    #[cfg(feature = "guest")]
    pub(crate) fn from_wit(f: crate::bindings::validibot::validator::inputs::StepFile) -> StepFile {
        StepFile {
            name: f.name,
            media_type: f.media_type,
            sha256: f.sha256,
            content: Content::Source(f.content),
        }
    }

    /// Length in bytes.
    pub fn size(&self) -> u64 {
        match &self.content {
            Content::Bytes(b) => b.len() as u64,
            #[cfg(feature = "guest")]
            Content::Source(s) => s.size(),
        }
    }

    /// The whole content.
    pub fn read_all(&self) -> Result<Vec<u8>, ValidatorError> {
        match &self.content {
            Content::Bytes(b) => Ok(b.clone()),
            #[cfg(feature = "guest")]
            Content::Source(s) => Ok(crate::Document::from_source(s).read_all()?.into_owned()),
        }
    }

    /// The whole content as UTF-8 text; otherwise a `step_file.encoding` error naming the file.
    pub fn read_to_string(&self) -> Result<String, ValidatorError> {
        String::from_utf8(self.read_all()?).map_err(|_| {
            ValidatorError::new(
                "step_file.encoding",
                format!("step file {:?} is not UTF-8 text", self.name),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_files_read_back() {
        let f = StepFile::from_bytes("a.txt", "text/plain", "00", b"hi".to_vec());
        assert_eq!(f.size(), 2);
        assert_eq!(f.read_to_string().unwrap(), "hi");
        let bad = StepFile::from_bytes("b.bin", "application/octet-stream", "00", vec![0xff]);
        assert_eq!(bad.read_to_string().unwrap_err().code, "step_file.encoding");
    }
}
