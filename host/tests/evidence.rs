//! Signed evidence manifests end to end: issued for a finished run, keys at the
//! well-known URL, verified offline by `validibot verify`, refused when altered.

mod common;

use common::{example, invoice_workflow, json_of, Backend, Instance};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn evidence_of_finished_runs(backend: Backend) {
    let inst = Instance::new(backend);
    let key = inst.user("alice", "owner");
    let server = inst.serve(&[]);
    server.create_workflow(&key, &invoice_workflow());
    let (status, run) = server.launch_example(&key, "invoice", "invoice-invalid.json");
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("FAIL")),
        "{run}"
    );
    let url = format!("{}/evidence", run["url"].as_str().unwrap());
    let resp = server.get(&key, &url);
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().unwrap().to_vec();
    assert_eq!(
        server.get(&key, &url).bytes().unwrap().to_vec(),
        bytes,
        "the same bytes every time"
    );
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    let m = &doc["manifest"];
    assert_eq!(m["result"], "FAIL");
    assert_eq!(
        m["submission"]["sha256"],
        hex::encode(Sha256::digest(example("invoice-invalid.json")))
    );
    assert_eq!(m["workflow"]["slug"], "invoice");
    assert_eq!(m["workflow"]["digest"], run["workflow"]["digest"]);
    let (_, validators) = json_of(server.get(&key, "/api/v1/validators"));
    let json_schema = validators["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["slug"] == "json-schema")
        .unwrap();
    assert_eq!(
        m["steps"][0]["validator"]["digest"], json_schema["sha256"],
        "{m}"
    );
    assert_eq!(
        m["steps"][0]["finding_count"],
        run["steps"][0]["findings"].as_array().unwrap().len()
    );
    assert_eq!(m["findings_digest"].as_str().unwrap().len(), 64);

    // The public key, without authentication.
    let keys: Value = server
        .client
        .get(server.url("/.well-known/validibot-keys.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(keys["keys"][0]["kid"], doc["signature"]["kid"], "{keys}");
    let dir = inst.data.path();
    let keys_file = dir.join("keys.json");
    std::fs::write(&keys_file, keys.to_string()).unwrap();
    let evidence_file = dir.join("run.evidence.json");
    std::fs::write(&evidence_file, &bytes).unwrap();
    let verify = |file: &std::path::Path, key_arg: &str| {
        inst.command(&["verify", file.to_str().unwrap(), "--key", key_arg])
            .output()
            .unwrap()
    };
    let out = verify(&evidence_file, keys_file.to_str().unwrap());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("→ FAIL"));
    let kid_key = format!(
        "{}:{}",
        keys["keys"][0]["kid"].as_str().unwrap(),
        keys["keys"][0]["public_key"].as_str().unwrap()
    );
    assert!(verify(&evidence_file, &kid_key).status.success());

    // Altered anywhere: refused (every 40th byte, and the result itself).
    let altered = dir.join("altered.json");
    let mut positions: Vec<usize> = (0..bytes.len()).step_by(40).collect();
    positions.push(
        String::from_utf8_lossy(&bytes)
            .find("\"result\":\"FAIL\"")
            .unwrap()
            + 10,
    );
    for i in positions {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        std::fs::write(&altered, &bad).unwrap();
        let out = verify(&altered, &kid_key);
        assert!(!out.status.success(), "byte {i} altered and still verified");
        assert!(String::from_utf8_lossy(&out.stderr).contains("INVALID"));
    }
    // Another instance's key does not verify it.
    let other = Instance::new(Backend::Sqlite);
    let other_server = other.serve(&[]);
    let other_keys: Value = other_server
        .client
        .get(other_server.url("/.well-known/validibot-keys.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let other_key = format!(
        "{}:{}",
        doc["signature"]["kid"].as_str().unwrap(),
        other_keys["keys"][0]["public_key"].as_str().unwrap()
    );
    assert!(!verify(&evidence_file, &other_key).status.success());
    drop(server);

    // A run that has not finished has no evidence yet.
    let server = inst.serve(&["--no-worker", "--launch-wait-ms", "0"]);
    let (status, pending) = server.launch_example(&key, "invoice", "invoice-valid.json");
    assert_eq!(status, 202, "{pending}");
    let location = format!(
        "/api/v1/workspaces/default/runs/{}/evidence",
        pending["id"].as_str().unwrap()
    );
    let (status, body) = json_of(server.get(&key, &location));
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("RUN_NOT_FINISHED")),
        "{body}"
    );
}

on_both_backends!(evidence_of_finished_runs);
