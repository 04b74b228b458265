//! Hostile validators, built here from `tests/plugins/hostile`, against the real
//! wasmtime host: each attack ends within its limit with its typed error, while
//! 100 concurrent validations on the same engine keep succeeding.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use validibot_engines::plugins::{
    CallError, CallInput, Document, Limits, Plugin, PluginRegistry, Runtime,
};

const OTHERS: usize = 100;

fn hostile_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        common::guest::build_guest("host/tests/plugins/hostile", "validibot_test_hostile")
    })
}

fn example(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(name),
    )
    .unwrap()
}

fn call(
    plugin: &Plugin,
    content: &[u8],
    config: &str,
) -> Result<validibot_engines::plugins::ValidationOutcome, CallError> {
    plugin.validate(
        &CallInput {
            document: &Document::from(content.to_vec()),
            content_type: "application/json",
            config,
            ruleset: None,
            files: &[],
            memory_bytes: None,
        },
        Duration::from_secs(60),
    )
}

#[test]
fn every_attack_is_contained_while_other_validations_run() {
    let runtime = Runtime::new(None).unwrap();
    // The deadline is long enough that building the 8 MB flood of the "output" attack
    // never runs into it on a loaded 2-core CI machine (it did once at 500 ms), so each
    // attack meets the limit it is aimed at.
    let limits = Limits {
        timeout: Duration::from_millis(2000),
        memory_bytes: 64 << 20,
        memory_max_bytes: 64 << 20,
        max_output_bytes: 4 << 20,
    };
    let hostile = Plugin::load(&runtime, hostile_wasm(), limits).unwrap();
    let registry = PluginRegistry::builtin(&runtime, Limits::default()).unwrap();
    let json = registry.get("json-schema").unwrap();
    let workflow: Value = serde_json::from_slice(&example("invoice-workflow.json")).unwrap();
    let config = workflow["steps"][0]["config"].to_string();
    let valid = example("invoice-valid.json");

    let attacks: &[(&str, &str, Duration)] = &[
        // The deadline holds in wall time while the other validations load the machine.
        (
            "loop",
            "validator.deadline_exceeded",
            Duration::from_secs(3),
        ),
        (
            "memory",
            "validator.memory_exceeded",
            Duration::from_secs(5),
        ),
        (
            "recursion",
            "validator.stack_overflow",
            Duration::from_secs(5),
        ),
        (
            "output",
            "validator.output_too_large",
            Duration::from_secs(10),
        ),
        ("trap", "validator.trap", Duration::from_secs(2)),
        ("panic", "validator.panic", Duration::from_secs(2)),
    ];
    for &(attack, code, bound) in attacks {
        let done = AtomicBool::new(false);
        let attacking = AtomicBool::new(false);
        // Validations that *finished* while the attack was running: counted only after
        // it started and before its end is published, so neither the warm-up nor work
        // done after it counts.
        let during = AtomicUsize::new(0);
        // Threads that finished a validation: the attack starts when all are running.
        let warm = AtomicUsize::new(0);
        let (err, elapsed) = std::thread::scope(|s| {
            let others: Vec<_> = (0..OTHERS)
                .map(|_| {
                    s.spawn(|| {
                        let mut first = true;
                        loop {
                            let out =
                                call(&json, &valid, &config).expect("a healthy validation failed");
                            assert!(out.findings.is_empty(), "{:?}", out.findings);
                            if first {
                                warm.fetch_add(1, Ordering::SeqCst);
                                first = false;
                            }
                            if done.load(Ordering::SeqCst) {
                                break;
                            }
                            if attacking.load(Ordering::SeqCst) {
                                during.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    })
                })
                .collect();
            while warm.load(Ordering::SeqCst) < OTHERS {
                std::thread::yield_now();
            }
            attacking.store(true, Ordering::SeqCst);
            let started = Instant::now();
            let err = call(&hostile, attack.as_bytes(), "{}").expect_err(attack);
            let elapsed = started.elapsed();
            let completed_during_attack = during.load(Ordering::SeqCst);
            done.store(true, Ordering::SeqCst);
            for o in others {
                o.join().expect("a concurrent validation panicked");
            }
            (err, (elapsed, completed_during_attack))
        });
        let (elapsed, completed_during_attack) = elapsed;
        eprintln!(
            "{attack}: {elapsed:?} to {code}, {completed_during_attack} validations meanwhile"
        );
        assert_eq!(err.code(), code, "{attack}: {err}");
        assert!(
            elapsed < bound,
            "{attack} took {elapsed:?} (bound {bound:?})"
        );
        // The others kept finishing while the attack ran (not only after it ended). An
        // attack contained within a few milliseconds (a trap, a panic) may end before a
        // loaded machine finishes any validation: nothing to hold up then.
        if elapsed >= Duration::from_millis(50) {
            assert!(
                completed_during_attack >= OTHERS,
                "{attack}: only {completed_during_attack} validations finished during the {elapsed:?} attack"
            );
        }
        if attack == "panic" {
            assert!(err.to_string().contains("hostile panic number 42"), "{err}");
        }
        // The plugin stays usable: the damaged instance was thrown away.
        assert!(call(&hostile, b"ok", "{}").is_ok(), "after {attack}");
    }
}

/// A port the test listens on (and accepts on, in the background), so a refused
/// connection from the guest means "blocked", never "nothing listens there".
fn listening_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || for _ in listener.incoming() {});
    // The host itself can connect: the probe target is real.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    port
}

/// Nothing is granted by default: no files, no directory listing, no environment,
/// no network, and a clock frozen at the epoch.
#[test]
fn a_validator_gets_no_capabilities_by_default() {
    let runtime = Runtime::new(None).unwrap();
    let hostile = Plugin::load(&runtime, hostile_wasm(), Limits::default()).unwrap();
    std::env::set_var("VALIDIBOT_SECRET_SHOULD_NOT_LEAK", "1");
    let probe = format!("escape {}", listening_port());
    let out = call(&hostile, probe.as_bytes(), "{}").unwrap();
    let got: Vec<(String, Value)> = out.outputs.into_iter().map(|o| (o.name, o.value)).collect();
    assert_eq!(
        got,
        [
            ("file".to_string(), Value::Bool(false)),
            ("dir".into(), Value::Bool(false)),
            ("env".into(), Value::from(0)),
            ("clock".into(), Value::from(0)),
            ("net".into(), Value::Bool(false)),
            // Refused by the sandbox, while the test's listener was there to answer.
            (
                "net_error".into(),
                Value::from("Permission denied (os error 2)")
            ),
        ]
    );
}

/// Components name the contract version they were built for; another major is
/// refused before linking, with both versions in the message.
#[test]
fn contract_versions_are_checked_at_load() {
    let runtime = Runtime::new(None).unwrap();
    let hostile = Plugin::load(&runtime, hostile_wasm(), Limits::default()).unwrap();
    assert_eq!(hostile.meta.slug, "hostile");

    let v2 = wat::parse_str(r#"(component (import "validibot:validator/log@2.0.0" (instance)))"#)
        .unwrap();
    let err = Plugin::load(&runtime, &v2, Limits::default())
        .err()
        .expect("a 2.x component must be refused")
        .to_string();
    assert!(
        err.contains("validibot:validator@2.0.0") && err.contains("validibot:validator@1.x"),
        "{err}"
    );

    let foreign = wat::parse_str(r#"(component)"#).unwrap();
    let err = Plugin::load(&runtime, &foreign, Limits::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not a Validibot validator"), "{err}");
}

/// Grants open exactly what they name: here a clock, one environment variable and a
/// read-only directory — but still no network.
#[test]
fn granted_capabilities_open_exactly_what_was_granted() {
    let runtime = Runtime::new(None).unwrap();
    std::env::set_var("VALIDIBOT_TEST_GRANTED", "yes");
    let grants = validibot_engines::plugins::grants::Grants::parse(&[
        "clock".into(),
        "env:VALIDIBOT_TEST_GRANTED".into(),
        "fs-read:/etc".into(),
    ])
    .unwrap();
    let hostile = Plugin::load_with(&runtime, hostile_wasm(), Limits::default(), grants).unwrap();
    let probe = format!("escape {}", listening_port());
    let out = call(&hostile, probe.as_bytes(), "{}").unwrap();
    let get = |name: &str| {
        out.outputs
            .iter()
            .find(|o| o.name == name)
            .unwrap()
            .value
            .clone()
    };
    assert_eq!(get("file"), Value::Bool(true));
    assert_eq!(get("env"), Value::from(1));
    assert!(get("clock").as_u64().unwrap() > 1_700_000_000);
    assert_eq!(get("net"), Value::Bool(false));
}

/// The positive case of the network check: with the `network` grant the same probe
/// connects, so the "no network" answers above are the sandbox, not the test setup.
#[test]
fn the_network_grant_opens_the_network() {
    let runtime = Runtime::new(None).unwrap();
    let grants = validibot_engines::plugins::grants::Grants::parse(&["network".into()]).unwrap();
    let hostile = Plugin::load_with(&runtime, hostile_wasm(), Limits::default(), grants).unwrap();
    let probe = format!("escape {}", listening_port());
    let out = call(&hostile, probe.as_bytes(), "{}").unwrap();
    let net = out.outputs.iter().find(|o| o.name == "net").unwrap();
    assert_eq!(net.value, Value::Bool(true), "{:?}", out.outputs);
}

/// A plugin that keeps each document in guest memory reports the previous one on a
/// warm, pooled instance (so the attack works) and nothing on an isolated plugin, which
/// is how installed plugins run: no document crosses calls, runs or workspaces.
#[test]
fn an_isolated_plugin_keeps_nothing_between_calls() {
    let runtime = Runtime::new(None).unwrap();
    let previous = |plugin: &Plugin, doc: &str| {
        let out = call(plugin, doc.as_bytes(), "{}").unwrap();
        let kept = out.outputs.iter().find(|o| o.name == "previous").unwrap();
        kept.value.clone()
    };
    let pooled = Plugin::load(&runtime, hostile_wasm(), Limits::default()).unwrap();
    assert!(!pooled.is_isolated());
    assert_eq!(previous(&pooled, "remember:tenant-a secret"), Value::Null);
    assert_eq!(
        previous(&pooled, "remember:tenant-b"),
        Value::from("tenant-a secret")
    );
    let isolated = Plugin::load(&runtime, hostile_wasm(), Limits::default())
        .unwrap()
        .isolated();
    assert!(isolated.is_isolated());
    for doc in [
        "remember:tenant-a secret",
        "remember:tenant-b",
        "remember:c",
    ] {
        assert_eq!(previous(&isolated, doc), Value::Null, "{doc}");
    }
}

/// A cancelled call stops at its next epoch check, long before its deadline; the
/// instance's pool is fine afterwards and the deadline still holds for other calls.
#[test]
fn a_cancelled_call_is_interrupted() {
    use std::sync::Arc;
    let runtime = Runtime::new(None).unwrap();
    let limits = Limits {
        timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let hostile = Plugin::load(&runtime, hostile_wasm(), limits).unwrap();
    let input = CallInput {
        document: &Document::from(b"loop".to_vec()),
        content_type: "text/plain",
        config: "{}",
        ruleset: None,
        files: &[],
        memory_bytes: None,
    };
    let flag = Arc::new(AtomicBool::new(false));
    let raise = {
        let flag = flag.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            flag.store(true, Ordering::SeqCst);
        })
    };
    let started = Instant::now();
    let err = hostile
        .validate_cancellable(&input, Duration::from_secs(60), flag)
        .unwrap_err();
    raise.join().unwrap();
    assert!(matches!(err, CallError::Cancelled), "{err}");
    assert_eq!(err.code(), "validator.cancelled");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "cancelled after {took:?}");
    // Not cancelled: the deadline (sliced for the flag checks) still ends the loop.
    let started = Instant::now();
    let err = hostile
        .validate_cancellable(
            &input,
            Duration::from_millis(200),
            Arc::new(AtomicBool::new(false)),
        )
        .unwrap_err();
    assert!(matches!(err, CallError::DeadlineExceeded(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The plain path on a (possibly reused) instance keeps its own deadline.
    let err = hostile
        .validate(&input, Duration::from_millis(200))
        .unwrap_err();
    assert!(matches!(err, CallError::DeadlineExceeded(_)), "{err}");
    assert!(hostile
        .validate(
            &CallInput {
                document: &Document::from(b"ok".to_vec()),
                ..input
            },
            Duration::from_secs(5)
        )
        .is_ok());
}

/// Contract 1.1: a document larger than the SDK's 4 MiB read size arrives whole through
/// several `inputs.source` reads (every row counted), and a step file is read on demand.
#[test]
fn large_documents_and_step_files_arrive_through_sources() {
    let runtime = Runtime::new(None).unwrap();
    let registry = PluginRegistry::builtin(&runtime, Limits::default()).unwrap();
    let csv = registry.get("csv").unwrap();
    let rows = 500_000;
    let mut doc = String::from("id,name\n");
    for i in 0..rows {
        doc.push_str(&format!("{i},name-{i:08}\n"));
    }
    assert!(doc.len() > 9 << 20, "{} bytes", doc.len());
    let out = csv
        .validate(
            &CallInput {
                document: &Document::from(doc.clone().into_bytes()),
                content_type: "text/csv",
                config: r#"{"schema": {"fields": [{"name": "id", "type": "integer"}, {"name": "name", "type": "string"}]}}"#,
                ruleset: None,
                files: &[],
                memory_bytes: None,
            },
            Duration::from_secs(60),
        )
        .unwrap();
    let counted = out.outputs.iter().find(|o| o.name == "rows").unwrap();
    assert_eq!(counted.value, serde_json::json!(rows), "{:?}", out.outputs);

    let xml = registry.get("xml-schema").unwrap();
    let xsd = br#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="a" type="xs:int"/></xs:schema>"#;
    let files = [validibot_engines::plugins::CallFile {
        name: "a.xsd".into(),
        media_type: "application/xml".into(),
        sha256: "0".repeat(64),
        content: std::sync::Arc::new(xsd.to_vec()),
    }];
    let check = |doc: &str| {
        xml.validate(
            &CallInput {
                document: &Document::from(doc.as_bytes().to_vec()),
                content_type: "application/xml",
                config: r#"{"schema_file": "a.xsd"}"#,
                ruleset: None,
                files: &files,
                memory_bytes: None,
            },
            Duration::from_secs(10),
        )
        .unwrap()
        .findings
    };
    assert!(check("<a>1</a>").is_empty());
    assert_eq!(check("<a>x</a>")[0].code, "xml.schema.invalid");
}
