//! The allow-list of container validators. An operator registers an image; its
//! metadata comes from the image's labels and the row pins the image ID, so a
//! re-tagged or rebuilt image never runs under an old registration.
//!
//! Labels (`org.validibot.validator.*`): `slug`, `version`, `content_types`
//! (comma-separated) are required; `name`, `memory` (`512m`, `2g`), `cpus`,
//! `pids`, `tmpfs` and `timeout` (seconds) are optional, within [`CEILING`];
//! `tmpfs_exec=true` lets the validator map code from `/tmp` (an FMU's library).

use std::collections::HashMap;
use std::time::Duration;
use validibot_types::ids::UserId;

use anyhow::Result;

use crate::licensing::Licensing;
use validibot_engines::containers::docker::ImageFacts;
use validibot_engines::containers::DockerRunner;
use validibot_engines::containers::Limits;
use validibot_engines::extensions::hooks::FeaturesQuery;
use validibot_plugin_api::extension::features;
use validibot_store::containers;
pub use validibot_store::containers::{get, list, unregister, ContainerValidator, StoredLimits};
use validibot_store::db::Db;

pub const LABEL_PREFIX: &str = "org.validibot.validator.";

/// The most an image may ask for.
pub const CEILING: StoredLimits = StoredLimits {
    memory_bytes: 16 << 30,
    cpus: 8.0,
    pids: 4096,
    tmpfs_bytes: 4 << 30,
    tmpfs_exec: true,
    timeout_seconds: 6 * 3600,
};

/// What an image gets when its labels ask for nothing: the runner's defaults.
pub fn default_limits() -> StoredLimits {
    let d = Limits::default();
    StoredLimits {
        memory_bytes: d.memory_bytes,
        cpus: d.cpus,
        pids: d.pids,
        tmpfs_bytes: d.tmpfs_bytes,
        tmpfs_exec: d.tmpfs_exec,
        timeout_seconds: d.timeout.as_secs(),
    }
}

/// Runner limits for one run of `v` with `remaining` time left in the run.
pub fn limits_for_run(v: &StoredLimits, remaining: Duration) -> Limits {
    Limits {
        memory_bytes: v.memory_bytes,
        cpus: v.cpus,
        pids: v.pids,
        tmpfs_bytes: v.tmpfs_bytes,
        tmpfs_exec: v.tmpfs_exec,
        timeout: Duration::from_secs(v.timeout_seconds).min(remaining),
        ..Limits::default()
    }
}

/// Reads a validator's metadata from image labels; `Err` names every problem.
pub fn from_labels(
    image_id: &str,
    image_ref: &str,
    labels: &HashMap<String, String>,
) -> Result<ContainerValidator, String> {
    let mut problems = Vec::new();
    let label = |k: &str| labels.get(&format!("{LABEL_PREFIX}{k}")).map(|s| s.trim());
    let mut required = |k: &str| match label(k) {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => {
            problems.push(format!("label {LABEL_PREFIX}{k} is missing"));
            String::new()
        }
    };
    let slug = required("slug");
    let version = required("version");
    let types = required("content_types");
    if !slug.is_empty() {
        if let Err(e) = validibot_types::ValidatorSlug::parse(&slug) {
            problems.push(format!("label {LABEL_PREFIX}slug is not a valid slug: {e}"));
        }
    }
    let content_types: Vec<String> = types
        .split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    let mut limits = default_limits();
    let mut number = |k: &str, parse: fn(&str) -> Option<f64>, max: f64| -> Option<f64> {
        let v = label(k)?;
        match parse(v) {
            Some(n) if n > 0.0 && n <= max => Some(n),
            _ => {
                problems.push(format!(
                    "label {LABEL_PREFIX}{k}={v:?} must be a positive size up to {max}"
                ));
                None
            }
        }
    };
    let plain = |v: &str| v.parse::<f64>().ok();
    if let Some(n) = number("memory", parse_size, CEILING.memory_bytes as f64) {
        limits.memory_bytes = n as i64;
    }
    if let Some(n) = number("cpus", plain, CEILING.cpus) {
        limits.cpus = n;
    }
    if let Some(n) = number("pids", plain, CEILING.pids as f64) {
        limits.pids = n as i64;
    }
    if let Some(n) = number("tmpfs", parse_size, CEILING.tmpfs_bytes as f64) {
        limits.tmpfs_bytes = n as u64;
    }
    if let Some(n) = number("timeout", plain, CEILING.timeout_seconds as f64) {
        limits.timeout_seconds = n as u64;
    }
    match label("tmpfs_exec") {
        None | Some("false") => {}
        Some("true") => limits.tmpfs_exec = true,
        Some(v) => problems.push(format!(
            "label {LABEL_PREFIX}tmpfs_exec={v:?} must be true or false"
        )),
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(ContainerValidator {
        name: label("name")
            .map(str::to_owned)
            .unwrap_or_else(|| slug.clone()),
        slug,
        version,
        image_id: image_id.to_owned(),
        image_ref: image_ref.to_owned(),
        content_types,
        limits,
        feature: String::new(),
        registered_at: validibot_types::clock::now_us(),
        env: Default::default(),
        command: None,
    })
}

/// Names the runner sets itself: an operator's settings cannot replace them.
const RESERVED_ENV: &[&str] = &[
    validibot_plugin_api::container::ENV_INPUT_URI,
    validibot_plugin_api::container::ENV_OUTPUT_URI,
    validibot_plugin_api::container::ENV_RUN_ID,
];

/// Parses `NAME=VALUE` settings: upper-case names (`[A-Z_][A-Z0-9_]*`), not the
/// runner's own, values up to 4 KiB, at most 32.
pub fn parse_env(pairs: &[String]) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut env = std::collections::BTreeMap::new();
    if pairs.len() > 32 {
        return Err("at most 32 settings".into());
    }
    for pair in pairs {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?}: write NAME=VALUE"))?;
        let plain = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !plain {
            return Err(format!(
                "{name:?}: names are A-Z, 0-9 and _, not starting with a digit"
            ));
        }
        if RESERVED_ENV.contains(&name) {
            return Err(format!("{name} is set by the runner"));
        }
        if value.len() > 4096 || value.contains('\0') {
            return Err(format!(
                "{name}: values are at most 4096 bytes, without NUL"
            ));
        }
        env.insert(name.to_owned(), value.to_owned());
    }
    Ok(env)
}

/// Replaces the operator's settings of a registered version; false when it is not
/// registered. Runs started afterwards get them.
pub async fn set_env(
    db: &Db,
    slug: &str,
    version: &str,
    env: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<bool> {
    containers::set_env(db, slug, version, env).await
}

/// `512m`, `2g`, `65536`, `64k` → bytes (binary units).
fn parse_size(s: &str) -> Option<f64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (num, unit) = match s.char_indices().last()? {
        (i, 'k') => (&s[..i], 1u64 << 10),
        (i, 'm') => (&s[..i], 1 << 20),
        (i, 'g') => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    Some(num.trim().parse::<f64>().ok()? * unit as f64)
}

/// What registering did.
#[derive(Debug)]
pub enum Registered {
    Created(ContainerValidator),
    /// Already on the list with this image ID.
    Unchanged(ContainerValidator),
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("{0}")]
    Invalid(String),
    #[error("{detail}")]
    ProRequired {
        feature: String,
        license_state: String,
        detail: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The Pro feature a validator needs: the extension's catalog validators need
/// `validators.advanced`, any other image `validators.user_images`.
pub async fn feature_for(licensing: &Licensing, slug: &str) -> Result<&'static str> {
    let status = licensing.status().await?;
    let catalog = licensing
        .registry()
        .hooks
        .validators_catalog
        .call(&FeaturesQuery {
            features: status.features.clone(),
        });
    let in_catalog = catalog
        .validators
        .iter()
        .any(|v| v["slug"].as_str() == Some(slug));
    Ok(if in_catalog {
        features::ADVANCED_VALIDATORS
    } else {
        features::USER_IMAGES
    })
}

/// Where a registration reads the image's metadata from.
pub enum ImageSource<'a> {
    /// Inspected on the engine (pinned by its image ID).
    Engine(&'a DockerRunner),
    /// The image's config as given — `docker image inspect`'s output, its `Config`, or
    /// an OCI image config — for a cluster no engine here can see: the reference must
    /// be pinned by digest, which becomes the pin.
    Config(&'a serde_json::Value),
}

/// Reads an image's metadata and puts it on the allow-list, if the license has the
/// feature it needs.
pub async fn register_image(
    db: &Db,
    source: ImageSource<'_>,
    licensing: &Licensing,
    image_ref: &str,
    by: Option<&UserId>,
) -> Result<Registered, RegisterError> {
    let image = match source {
        ImageSource::Engine(runner) => runner
            .inspect_image(image_ref)
            .await
            .map_err(|e| RegisterError::Invalid(format!("{e:#}")))?,
        ImageSource::Config(config) => {
            facts_from_config(image_ref, config).map_err(RegisterError::Invalid)?
        }
    };
    let mut v = from_labels(&image.id, image_ref, &image.labels).map_err(RegisterError::Invalid)?;
    v.command = (!image.command.is_empty()).then_some(image.command);
    let feature = feature_for(licensing, &v.slug).await?;
    if let Err((license_state, detail)) = licensing.require(feature).await? {
        return Err(RegisterError::ProRequired {
            feature: feature.to_owned(),
            license_state,
            detail,
        });
    }
    register(db, v, feature, by).await
}

/// An image's labels and command from its config (see [`ImageSource::Config`]), pinned
/// by the digest of `reference` (`repository@sha256:<64 hex>`).
pub fn facts_from_config(
    reference: &str,
    config: &serde_json::Value,
) -> Result<ImageFacts, String> {
    let digest = reference
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| {
            d.strip_prefix("sha256:")
                .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .ok_or_else(|| {
            format!("{reference:?}: an image registered by its config is pinned by digest: write repository@sha256:<digest>")
        })?;
    let inspected = match config {
        serde_json::Value::Array(items) => items.first().unwrap_or(&serde_json::Value::Null),
        other => other,
    };
    let c = inspected
        .get("Config")
        .or_else(|| inspected.get("config"))
        .unwrap_or(inspected);
    if !c.is_object() {
        return Err("the image config is not a JSON object".into());
    }
    let strings = |key: &str| -> Result<Vec<String>, String> {
        match c.get(key) {
            None | Some(serde_json::Value::Null) => Ok(vec![]),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|_| format!("{key} must be a list of strings")),
        }
    };
    let labels = match c.get("Labels") {
        None | Some(serde_json::Value::Null) => HashMap::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| "Labels must map names to strings".to_owned())?,
    };
    Ok(ImageFacts {
        id: digest.to_owned(),
        labels,
        command: strings("Entrypoint")?
            .into_iter()
            .chain(strings("Cmd")?)
            .collect(),
    })
}

/// Puts a validator read from an image on the allow-list.
pub async fn register(
    db: &Db,
    mut v: ContainerValidator,
    feature: &str,
    by: Option<&UserId>,
) -> Result<Registered, RegisterError> {
    v.feature = feature.to_owned();
    if let Some(existing) = containers::get(db, &v.slug, Some(&v.version)).await? {
        return if existing.image_id == v.image_id {
            Ok(Registered::Unchanged(existing))
        } else {
            Err(RegisterError::Conflict(format!(
                "{} {} is registered with image {}; a different image needs a new version label",
                v.slug, v.version, existing.image_id
            )))
        };
    }
    containers::insert(db, &v, by).await?;
    Ok(Registered::Created(v))
}

/// The input file's name: validators find their model by its usual extension.
pub fn input_name(content_type: &str) -> String {
    let ext = match validibot_types::media_types::essence(content_type).as_str() {
        "application/vnd.energyplus.idf" => "idf",
        "application/vnd.energyplus.epjson+json" => "epJSON",
        "application/vnd.fmi.fmu" | "application/zip" => "fmu",
        "application/json" => "json",
        "application/xml" | "text/xml" => "xml",
        "text/csv" => "csv",
        _ => "bin",
    };
    format!("document.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_config_registers_by_digest() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let reference = format!("registry.example.org/energyplus@{digest}");
        let config = serde_json::json!([{"Id": "sha256:local", "Config": {
            "Entrypoint": ["/usr/local/bin/validate"], "Cmd": ["--fast"],
            "Labels": {"org.validibot.validator.slug": "energyplus"}}}]);
        let facts = facts_from_config(&reference, &config).unwrap();
        assert_eq!(facts.id, digest);
        assert_eq!(facts.command, ["/usr/local/bin/validate", "--fast"]);
        assert_eq!(facts.labels["org.validibot.validator.slug"], "energyplus");
        // An OCI image config, and its bare `config`.
        let oci = serde_json::json!({"architecture": "amd64", "config": {"Cmd": ["run"]}});
        assert_eq!(
            facts_from_config(&reference, &oci).unwrap().command,
            ["run"]
        );
        assert_eq!(
            facts_from_config(&reference, &oci["config"])
                .unwrap()
                .command,
            ["run"]
        );
        // A tag is not a pin; a malformed config is refused.
        assert!(
            facts_from_config("registry.example.org/energyplus:25.2", &oci)
                .unwrap_err()
                .contains("pinned by digest")
        );
        let bad = serde_json::json!({"Config": {"Cmd": "run"}});
        assert!(facts_from_config(&reference, &bad).is_err());
    }

    #[test]
    fn operator_settings_are_plain_names_not_the_runners() {
        let env = parse_env(&["POLICY=a,b".into(), "X_2=".into()]).unwrap();
        assert_eq!(env["POLICY"], "a,b");
        assert_eq!(env["X_2"], "");
        for bad in [
            "lower=1",
            "1X=1",
            "NOEQUALS",
            "VALIDIBOT_INPUT_URI=file:///etc/passwd",
        ] {
            assert!(parse_env(&[bad.into()]).is_err(), "{bad}");
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (format!("{LABEL_PREFIX}{k}"), v.to_string()))
            .collect()
    }

    #[test]
    fn labels_give_metadata_and_limits() {
        let v = from_labels(
            "sha256:abc",
            "x:1",
            &labels(&[
                ("slug", "energyplus"),
                ("version", "25.2"),
                ("content_types", "application/a, application/b"),
                ("memory", "2g"),
                ("cpus", "1.5"),
                ("timeout", "900"),
            ]),
        )
        .unwrap();
        assert_eq!(v.content_types, ["application/a", "application/b"]);
        assert_eq!(v.limits.memory_bytes, 2 << 30);
        assert_eq!(v.limits.cpus, 1.5);
        assert_eq!(v.limits.timeout_seconds, 900);
        assert_eq!(v.limits.pids, default_limits().pids);
        assert!(!v.limits.tmpfs_exec, "/tmp is noexec unless the image asks");
        assert_eq!(v.name, "energyplus");
    }

    #[test]
    fn tmpfs_exec_is_opt_in_and_old_rows_read_as_noexec() {
        let base = [
            ("slug", "fmi"),
            ("version", "1"),
            ("content_types", "application/vnd.fmi.fmu"),
        ];
        let with = |v: &str| {
            let mut l = base.to_vec();
            l.push(("tmpfs_exec", v));
            from_labels("sha256:abc", "x:1", &labels(&l))
        };
        assert!(with("true").unwrap().limits.tmpfs_exec);
        assert!(!with("false").unwrap().limits.tmpfs_exec);
        assert!(with("yes").unwrap_err().contains("tmpfs_exec"));
        let old = r#"{"memory_bytes":1,"cpus":1.0,"pids":1,"tmpfs_bytes":1,"timeout_seconds":1}"#;
        assert!(
            !serde_json::from_str::<StoredLimits>(old)
                .unwrap()
                .tmpfs_exec
        );
    }

    #[test]
    fn every_label_problem_is_named() {
        let e = from_labels(
            "sha256:abc",
            "x:1",
            &labels(&[("slug", "Bad Slug"), ("memory", "64t"), ("cpus", "0")]),
        )
        .unwrap_err();
        for part in [
            "version is missing",
            "content_types is missing",
            "not a valid slug",
            "memory",
            "cpus",
        ] {
            assert!(e.contains(part), "{part}: {e}");
        }
        let e = from_labels(
            "i",
            "r",
            &labels(&[
                ("slug", "a"),
                ("version", "1"),
                ("content_types", "x/y"),
                ("memory", "64g"),
            ]),
        )
        .unwrap_err();
        assert!(e.contains("up to"), "{e}");
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("512m"), Some(512.0 * 1048576.0));
        assert_eq!(parse_size("1G"), Some(1073741824.0));
        assert_eq!(parse_size("64kb"), Some(65536.0));
        assert_eq!(parse_size("100"), Some(100.0));
        assert_eq!(parse_size("lots"), None);
    }
}
