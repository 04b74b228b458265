//! The vendor tool: makes key pairs, issues signed license files, signs extension
//! builds, and runs the license server for online licenses. Private keys stay wherever `--out` puts them (never in the repository).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ed25519_dalek::Signer;
use validibot_commercial::keys::{self, KeyFile};
use validibot_commercial::license::{self, Payload, Status, Usage};

#[derive(Parser)]
#[command(
    name = "validibot-license",
    about = "Validibot Pro vendor tool: keys, license files, extension signatures, the license server."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a key pair: DIR/KID.key (private, mode 0600) and DIR/KID.pub (`kid:base64`).
    Keygen {
        #[arg(long)]
        kid: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a payload (JSON: license_id, serial, customer, edition, features, limits,
    /// issued_at, not_before, expires_at, grace_days) into an armored license file.
    Issue {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        payload: PathBuf,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a license file against this build's embedded keys and print it.
    Inspect { file: PathBuf },
    /// Write FILE.sig: a detached signature the host checks before loading FILE.
    SignExtension {
        #[arg(long)]
        key: PathBuf,
        file: PathBuf,
    },
    /// Run the license server for online licenses: activations per instance,
    /// revocation, answers signed with --key. Put it behind a TLS-terminating proxy.
    Serve {
        /// Address to listen on (port 0 picks a free port; the bound one is printed).
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: String,
        /// The vendor key that signs answers (licenses it issued are trusted too).
        #[arg(long)]
        key: PathBuf,
        /// The ledger of activations and revocations (created if missing).
        #[arg(long)]
        ledger: PathBuf,
        /// A file holding the bearer token of the vendor API (`/v1/admin/...`).
        #[arg(long)]
        admin_token_file: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

fn load_key(path: &PathBuf) -> Result<(String, ed25519_dalek::SigningKey), String> {
    let file: KeyFile = serde_json::from_str(&read(path)?)
        .map_err(|e| format!("{} is not a key file: {e}", path.display()))?;
    Ok((file.kid.clone(), file.signing_key()?))
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Keygen { kid, out } => {
            if kid.is_empty()
                || !kid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err("kid must be letters, digits, '-', '_' or '.'".into());
            }
            std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
            let file = KeyFile::generate(&kid)?;
            let public = keys::public_line(&kid, &file.signing_key()?.verifying_key());
            let key_path = out.join(format!("{kid}.key"));
            write_private(&key_path, &serde_json::to_string_pretty(&file).unwrap())?;
            let pub_path = out.join(format!("{kid}.pub"));
            std::fs::write(&pub_path, format!("{public}\n")).map_err(|e| e.to_string())?;
            println!("{}\n{}", key_path.display(), pub_path.display());
            Ok(())
        }
        Command::Issue { key, payload, out } => {
            let (kid, key) = load_key(&key)?;
            let payload: Payload =
                serde_json::from_str(&read(&payload)?).map_err(|e| format!("payload: {e}"))?;
            payload.check()?;
            let unknown = payload.unknown_features();
            if !unknown.is_empty() {
                return Err(format!(
                    "unknown features {unknown:?}; known: {:?}",
                    validibot_commercial::features::ALL
                ));
            }
            let text = license::issue(&payload, &kid, &key);
            match out {
                Some(path) => std::fs::write(&path, text).map_err(|e| e.to_string()),
                None => {
                    print!("{text}");
                    Ok(())
                }
            }
        }
        Command::Inspect { file } => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let payload =
                license::verify(&read(&file)?, &BTreeMap::new(), now).map_err(|e| e.to_string())?;
            let status = Status::of(&payload, now, Usage::default());
            println!("{}", serde_json::to_string_pretty(&status).unwrap());
            Ok(())
        }
        Command::SignExtension { key, file } => {
            let (kid, key) = load_key(&key)?;
            let bytes =
                std::fs::read(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
            let mut message = validibot_plugin_api::extension::SIGNATURE_DOMAIN.to_vec();
            message.extend_from_slice(&bytes);
            let sig = key.sign(&message);
            let line = validibot_plugin_api::extension::signature_line(&kid, &sig.to_bytes());
            let mut sig_path = file.clone().into_os_string();
            sig_path.push(".sig");
            std::fs::write(&sig_path, line).map_err(|e| e.to_string())?;
            println!("{}", PathBuf::from(sig_path).display());
            Ok(())
        }
        Command::Serve {
            listen,
            key,
            ledger,
            admin_token_file,
        } => {
            let (kid, key) = load_key(&key)?;
            let token = read(&admin_token_file)?;
            validibot_commercial::server::Server::new(kid, key, token, ledger)?.run(&listen)
        }
    }
}

fn write_private(path: &PathBuf, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .map_err(|e| format!("creating {} (it must not exist yet): {e}", path.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| e.to_string())
}
