//! Each document names an attack on the host; the sandbox must contain every one.

use std::hint::black_box;

use validibot_plugin_api::{
    export_validator, Finding, Input, Metadata, Outcome, Output, Request, Validator,
    ValidatorError,
};

struct Hostile;

/// What the `remember:` attack kept from the previous call on this instance.
static REMEMBERED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

impl Validator for Hostile {
    fn describe() -> Metadata {
        Metadata {
            slug: "hostile".into(),
            version: "0.1.0".into(),
            name: "Hostile".into(),
            description: "Attacks its host, on request.".into(),
            content_types: vec!["*/*".into()],
            config_schema: serde_json::json!({"type": "object"}),
        }
    }

    fn validate_config(_: &serde_json::Value) -> Result<(), Vec<Finding>> {
        Ok(())
    }

    /// `read-slowly <ms>` (config): reads the first half of the document, sleeps (with
    /// the `clock` grant), then reads the rest — a validation whose progress a test
    /// can watch. Anything else reads the document whole.
    fn validate_request(request: Request<'_>) -> Result<Outcome, ValidatorError> {
        let configured: serde_json::Value =
            serde_json::from_str(request.config).unwrap_or_default();
        if let Some(ms) = configured["attack"].as_str().and_then(|a| a.strip_prefix("read-slowly ")) {
            let half = (request.document.size() / 2) as usize;
            let first = request.document.read_at(0, half)?;
            std::thread::sleep(std::time::Duration::from_millis(ms.trim().parse().unwrap_or(0)));
            let rest = request.document.read_at(first.len() as u64, usize::MAX)?;
            return Ok(Outcome {
                findings: vec![],
                outputs: vec![Output::new("read", (first.len() + rest.len()) as u64)],
            });
        }
        let content = request.document.read_all()?;
        Self::validate(request.with_content(&content))
    }

    fn validate(input: Input<'_>) -> Result<Outcome, ValidatorError> {
        // The attack is the step config's `attack`, else the document itself.
        let configured: serde_json::Value = serde_json::from_str(input.config).unwrap_or_default();
        let attack = match configured["attack"].as_str() {
            Some(a) => a,
            None => std::str::from_utf8(input.content).unwrap_or("").trim(),
        };
        // `forge:[[name, value], …]`: outputs of the document's choosing (e.g. one named
        // `artifacts` that points at host files or other tenants' blobs).
        if let Some(list) = attack.strip_prefix("forge:") {
            let pairs: Vec<(String, serde_json::Value)> =
                serde_json::from_str(list).unwrap_or_default();
            return Ok(Outcome {
                findings: vec![],
                outputs: pairs.into_iter().map(|(n, v)| Output::new(n, v)).collect(),
            });
        }
        // `escape <port>`: the sandbox probes, the network one against a listener the
        // test holds open on that port (so "refused" means blocked, not "nobody there").
        if let Some(port) = attack.strip_prefix("escape ") {
            let net = std::net::TcpStream::connect(("127.0.0.1", port.trim().parse().unwrap_or(80)));
            let mut out = escape(net.is_ok());
            if let Err(e) = net {
                out.outputs.push(Output::new("net_error", e.to_string()));
            }
            return Ok(out);
        }
        // `remember:<text>`: keeps the document in guest memory and reports the one it
        // kept before — what a plugin carrying data from one tenant's run to the next does.
        if let Some(text) = attack.strip_prefix("remember:") {
            let mut kept = REMEMBERED.lock().unwrap_or_else(|p| p.into_inner());
            let previous = kept.replace(text.to_owned());
            return Ok(Outcome {
                findings: vec![],
                outputs: vec![Output::new("previous", previous)],
            });
        }
        // `sleep <ms>`: a slow but well-behaved validation (needs the `clock` grant; with
        // the default frozen clock it returns at once).
        if let Some(ms) = attack.strip_prefix("sleep ") {
            std::thread::sleep(std::time::Duration::from_millis(ms.trim().parse().unwrap_or(0)));
            return Ok(Outcome::default());
        }
        match attack {
            "loop" => loop {
                black_box(0u64);
            },
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![7u8; 1 << 20]));
                }
            }
            "recursion" => Ok(Outcome {
                outputs: vec![Output::new("depth", recurse(black_box(1)))],
                findings: vec![],
            }),
            "output" => Ok(Outcome {
                findings: (0..8_000)
                    .map(|i| Finding::warning("hostile.flood", "x".repeat(1000)).at(format!("/{i}")))
                    .collect(),
                outputs: vec![],
            }),
            "trap" => {
                #[cfg(target_arch = "wasm32")]
                core::arch::wasm32::unreachable();
                #[cfg(not(target_arch = "wasm32"))]
                std::process::abort();
            }
            "panic" => panic!("hostile panic number {}", black_box(42)),
            "escape" => Ok(escape(
                std::net::TcpStream::connect("127.0.0.1:80").is_ok(),
            )),
            _ => Ok(Outcome::default()),
        }
    }
}

/// What the guest could reach: files, directories, environment, clock, network.
fn escape(net: bool) -> Outcome {
    Outcome {
        findings: vec![],
        outputs: vec![
            Output::new("file", std::fs::read_to_string("/etc/passwd").is_ok()),
            Output::new("dir", std::fs::read_dir(".").is_ok()),
            Output::new("env", std::env::vars().count() as u64),
            Output::new(
                "clock",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            ),
            Output::new("net", net),
        ],
    }
}

fn recurse(n: u64) -> u64 {
    let pad = black_box([n; 64]);
    if black_box(n) == 0 {
        return pad[0];
    }
    recurse(n + 1) + pad[63]
}

export_validator!(Hostile);
