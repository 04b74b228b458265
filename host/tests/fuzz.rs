//! Property tests of every parser a request reaches (issue 17): random and half-valid
//! inputs into the running binary's launch modes (raw body, envelope, multipart, the
//! metadata header), workflow definitions, API keys and license files, plus the offline
//! parsers (evidence manifests, extension fingerprints). No input may panic a request
//! (a 5xx) or the server. Bounded: `PROPTEST_CASES` cases per property (default 96),
//! so CI spends seconds, not minutes.

mod common;

use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;
use serde_json::{json, Value};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(96)
}

/// One server for every property, with an owner's key and an invoice workflow. Shared
/// through a static so the `proptest!` bodies can reach it; the test that ends last
/// stops it (statics are never dropped).
struct Target {
    _inst: Instance,
    srv: std::sync::Mutex<Option<Server>>,
    base: String,
    client: reqwest::blocking::Client,
    key: String,
    running: std::sync::atomic::AtomicUsize,
}

/// The properties below: the last one to finish stops the server.
const PROPERTIES: usize = 7;

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let inst = Instance::new(Backend::Sqlite);
        let key = inst.user("fuzz", "owner");
        let srv = inst.serve(&[]);
        srv.create_workflow(&key, &invoice_workflow());
        Target {
            _inst: inst,
            base: srv.base.clone(),
            client: srv.client.clone(),
            srv: std::sync::Mutex::new(Some(srv)),
            key,
            running: std::sync::atomic::AtomicUsize::new(PROPERTIES),
        }
    })
}

impl Target {
    fn post(&self, path: &str) -> reqwest::blocking::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }
    fn put(&self, path: &str) -> reqwest::blocking::RequestBuilder {
        self.client
            .put(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }
}

/// Marks one property done; the last checks the server is still up and stops it.
fn done() {
    let t = target();
    if t.running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
        let srv = t.srv.lock().unwrap().take().unwrap();
        assert_eq!(
            srv.get(&t.key, "/healthz").status(),
            200,
            "the server survived"
        );
    }
}

/// Any JSON value, nested a few levels, with the odd big number and control character.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[1-9][0-9]{19,39}".prop_map(|digits| serde_json::from_str(&digits).unwrap()),
        ".{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("steps".to_owned()),
                    Just("key".to_owned()),
                    Just("validator".to_owned()),
                    Just("config".to_owned()),
                    Just("schema".to_owned()),
                    Just("rules".to_owned()),
                    Just("ruleset".to_owned()),
                    Just("content".to_owned()),
                    Just("content_type".to_owned()),
                    "[a-z_$]{1,10}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Runs one property over `cases()` inputs, then marks it done (see [`done`]).
fn check<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            done();
        }
    }
    let _done = Done;
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    if let Err(e) = proptest::test_runner::TestRunner::new(config).run(&strategy, test) {
        panic!("{e}");
    }
}

/// The server answered below 500 and is still up.
fn survived(status: u16, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(status < 500, "{what}: {status}");
    Ok(())
}

fn launch_path() -> &'static str {
    "/api/v1/workspaces/default/workflows/invoice/runs"
}

#[test]
fn raw_bodies_with_any_content_type() {
    check(
        (
            prop::collection::vec(any::<u8>(), 0..2048),
            prop_oneof![
                Just("application/json".to_owned()),
                Just("text/csv".to_owned()),
                Just("application/vnd.validibot.envelope+json".to_owned()),
                Just("multipart/form-data; boundary=xyz".to_owned()),
                "[ -~]{0,40}",
            ],
        ),
        |(body, content_type)| {
            let t = target();
            let resp = t
                .post(launch_path())
                .header("content-type", content_type.as_str())
                .body(body)
                .send()
                .unwrap();
            survived(resp.status().as_u16(), &content_type)?;
            Ok(())
        },
    );
}

#[test]
fn envelopes_of_any_shape() {
    check(
        (
            json_value(),
            ".{0,64}",
            prop_oneof![
                Just(None),
                Just(Some("base64")),
                Just(Some("utf-8")),
                Just(Some("rot13"))
            ],
        ),
        |(value, content, encoding)| {
            let t = target();
            // Half the time a plausible envelope with one odd part, else anything at all.
            let env = if content.len() % 2 == 0 {
                json!({"content": content, "content_type": "application/json", "content_encoding": encoding, "metadata": value})
            } else {
                value
            };
            let resp = t
                .post(launch_path())
                .header("content-type", "application/vnd.validibot.envelope+json")
                .body(env.to_string())
                .send()
                .unwrap();
            survived(resp.status().as_u16(), &env.to_string())?;
            Ok(())
        },
    );
}

#[test]
fn metadata_headers() {
    check(("[ -~]{0,200}", json_value()), |(header, value)| {
        let t = target();
        for text in [header.clone(), value.to_string()] {
            let Ok(h) = reqwest::header::HeaderValue::from_str(&text) else {
                continue;
            };
            let resp = t
                .post(launch_path())
                .header("content-type", "application/json")
                .header("x-validibot-metadata", h)
                .body(example("invoice-valid.json"))
                .send()
                .unwrap();
            survived(resp.status().as_u16(), &text)?;
        }
        Ok(())
    });
}

#[test]
fn multipart_bodies() {
    check(
        (
            prop::collection::vec(
                (
                    prop_oneof![Just("file"), Just("metadata"), Just("other")],
                    ".{0,12}",
                    prop::collection::vec(any::<u8>(), 0..256),
                ),
                0..4,
            ),
            prop::collection::vec(any::<u8>(), 0..128),
        ),
        |(parts, garbage)| {
            let t = target();
            let mut body = Vec::new();
            for (name, filename, bytes) in &parts {
                body.extend_from_slice(format!("--b0und\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/json\r\n\r\n").as_bytes());
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(&garbage);
            if !parts.is_empty() {
                body.extend_from_slice(b"--b0und--\r\n");
            }
            let resp = t
                .post(launch_path())
                .header("content-type", "multipart/form-data; boundary=b0und")
                .body(body)
                .send()
                .unwrap();
            survived(resp.status().as_u16(), "multipart")?;
            Ok(())
        },
    );
}

#[test]
fn workflow_definitions() {
    check(
        (
            json_value(),
            prop_oneof![
                Just("json-schema"),
                Just("rules"),
                Just("csv"),
                Just("xml-schema"),
                Just("shacl"),
                Just("schematron"),
                Just("nope")
            ],
            json_value(),
            json_value(),
        ),
        |(value, validator, config, ruleset)| {
            let t = target();
            // A fresh slug per case, so a definition that is accepted does not turn the next
            // case into a 409.
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let slug = format!(
                "fuzzed-{}",
                N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            for def in [
                value.clone(),
                json!({"slug": slug, "steps": [{"key": "s", "validator": validator, "config": config, "ruleset": ruleset}]}),
                json!({"slug": slug, "steps": [{"key": "s", "validator": validator, "config": config}]}),
            ] {
                let resp = t
                    .post("/api/v1/workspaces/default/workflows")
                    .json(&def)
                    .send()
                    .unwrap();
                survived(resp.status().as_u16(), &def.to_string())?;
            }
            Ok(())
        },
    );
}

#[test]
fn license_files_and_api_key_requests() {
    check((".{0,400}", json_value()), |(text, value)| {
        let t = target();
        let armored =
            format!("-----BEGIN VALIDIBOT LICENSE-----\n{text}\n-----END VALIDIBOT LICENSE-----\n");
        for body in [text.clone(), armored, value.to_string()] {
            let resp = t
                .put("/api/v1/license")
                .header("content-type", "text/plain")
                .body(body.clone())
                .send()
                .unwrap();
            survived(resp.status().as_u16(), &body)?;
        }
        let resp = t.post("/api/v1/api-keys").json(&value).send().unwrap();
        survived(resp.status().as_u16(), &value.to_string())?;
        Ok(())
    });
}

#[test]
fn evidence_manifests_and_fingerprints() {
    check(
        (
            prop::collection::vec(any::<u8>(), 0..512),
            json_value(),
            ".{0,80}",
        ),
        |(bytes, value, text)| {
            let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
            let keys = [("k1".to_owned(), key)];
            let _ = validibot_services::evidence::manifest::verify(&bytes, &keys);
            let _ =
                validibot_services::evidence::manifest::verify(value.to_string().as_bytes(), &keys);
            let signed = json!({"manifest": value, "signature": {"kid": "k1", "alg": "ed25519", "sig": text}});
            prop_assert!(validibot_services::evidence::manifest::verify(
                signed.to_string().as_bytes(),
                &keys
            )
            .is_err());
            let _ = validibot_plugin_api::extension::Compat::parse(&text);
            Ok(())
        },
    );
}
