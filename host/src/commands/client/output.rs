//! Where `validate` and `check` put their report: stdout, or `--output FILE`.

use std::io::Write;
use std::path::PathBuf;

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

/// Renders the run and writes it; returns the exit code for its result.
pub fn emit(args: &ReportArgs, raw: &Value) -> Result<i32> {
    let run: ReportRun = serde_json::from_value(raw.clone()).context("reading the run")?;
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
