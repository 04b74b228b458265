//! Where `validate` and `check` put their report: stdout, or `--output FILE`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use validibot_services::reports::{self, Format, ReportRun};

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Report format on stdout (or in --output).
    #[arg(long, default_value = "text", value_parser = format_parser())]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

/// `--format`: the report formats' names, listed in `--help` and checked by clap.
fn format_parser() -> impl clap::builder::TypedValueParser<Value = Format> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Format::NAMES)
        .map(|name: String| Format::parse(&name).expect("one of Format::NAMES"))
}

/// Renders the run and writes it; returns the exit code for its result. `document` is
/// the file as the user named it: SARIF points at it (see [`document_uri`]); `server`,
/// when there is one, is where SARIF links the validators' pages.
pub fn emit(
    args: &ReportArgs,
    raw: &Value,
    document: Option<&Path>,
    server: Option<&str>,
) -> Result<i32> {
    let mut run: ReportRun = serde_json::from_value(raw.clone()).context("reading the run")?;
    run.document_uri = document.map(document_uri);
    run.help_base = server.map(|base| format!("{base}/ui/validators"));
    let text = reports::render(args.format, &run, raw);
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("{} — report written to {}", run.result, path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(super::exit::for_result(&run.result))
}

/// The document's URI for code-scanning views: relative to the root of the Git
/// repository it is in (what GitHub code scanning matches alerts to files by), else to the
/// working directory, else an absolute `file://` URI.
pub fn document_uri(path: &Path) -> String {
    let Ok(abs) = std::path::absolute(path) else {
        return encode(&path.to_string_lossy());
    };
    let root = abs
        .ancestors()
        .skip(1)
        .find(|dir| dir.join(".git").exists());
    let relative = root
        .and_then(|root| abs.strip_prefix(root).ok().map(Path::to_path_buf))
        .or_else(|| {
            let cwd = std::env::current_dir().ok()?;
            abs.strip_prefix(cwd).ok().map(Path::to_path_buf)
        });
    match relative {
        Some(rel) => encode(&rel.to_string_lossy()),
        None => format!("file://{}", encode(&abs.to_string_lossy())),
    }
}

/// Percent-encodes what may not stand in a URI path (RFC 3986), keeping `/`.
fn encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn document_uris_are_repository_relative_and_encoded() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(repo.path().join(".git")).unwrap();
        std::fs::create_dir_all(repo.path().join("data dir")).unwrap();
        let file = repo.path().join("data dir/a#1.json");
        assert_eq!(super::document_uri(&file), "data%20dir/a%231.json");
        let outside = std::path::Path::new("/nonexistent-root-for-test/x.json");
        assert_eq!(
            super::document_uri(outside),
            "file:///nonexistent-root-for-test/x.json"
        );
    }
}
