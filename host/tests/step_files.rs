//! Files attached to workflow steps, end to end on SQLite and PostgreSQL: uploaded to a
//! workspace, named by a step (an XSD and its include for the built-in `xml-schema`
//! validator, read through contract 1.1's `inputs.source`), listed in the evidence,
//! guarded against deletion while used, kept by the retention sweep, carried by export
//! and import into another instance, and read from local paths by `check` and
//! `workflows create`.

mod common;

use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

on_both_backends!(step_files_end_to_end);

const MAIN_XSD: &str = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:include schemaLocation="common.xsd"/>
  <xs:element name="order"><xs:complexType><xs:sequence>
    <xs:element name="code" type="code" maxOccurs="unbounded"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>"#;

const COMMON_XSD: &str = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:simpleType name="code"><xs:restriction base="xs:string"><xs:pattern value="[A-Z]{3}"/></xs:restriction></xs:simpleType>
</xs:schema>"#;

const GOOD: &str = "<order><code>ABC</code></order>";
const BAD: &str = "<order><code>ABC</code><code>abcd</code></order>";

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn workflow(slug: &str, main: &str, common: &str) -> Value {
    json!({"slug": slug, "steps": [{"key": "xsd", "validator": "xml-schema",
        "config": {"schema_file": "order.xsd"},
        "files": [{"name": "order.xsd", "sha256": main}, {"name": "common.xsd", "sha256": common}]}]})
}

fn step_files_end_to_end(backend: Backend) {
    let inst = Instance::new(backend);
    let author = inst.user("alice", "author");
    let viewer = inst.user("victor", "viewer");
    let srv = inst.serve(&[]);

    // Uploads: by sha256, the same bytes once; names are plain; viewers cannot.
    let main = srv.upload_file(&author, "order.xsd", "application/xml", MAIN_XSD.as_bytes());
    assert_eq!(main, sha(MAIN_XSD));
    assert_eq!(
        srv.upload_file(&author, "again.xsd", "application/xml", MAIN_XSD.as_bytes()),
        main
    );
    let common = srv.upload_file(
        &author,
        "common.xsd",
        "application/xml",
        COMMON_XSD.as_bytes(),
    );
    for (key, name, status, code) in [
        (&viewer, "x.xsd", 403, "PERMISSION_DENIED"),
        (&author, "..%2Fx", 400, "INVALID_FILE"),
        (&author, "input.json", 400, "INVALID_FILE"),
    ] {
        let (s, body) = json_of(
            srv.post(
                key,
                &format!("/api/v1/workspaces/default/files?name={name}"),
            )
            .body("x")
            .send()
            .unwrap(),
        );
        assert_eq!((s, body["code"].as_str()), (status, Some(code)), "{body}");
    }

    // A step names them; the built-in xml-schema validator reads both.
    srv.create_workflow(&author, &workflow("orders", &main, &common));
    let (status, run) = srv.launch(&author, "orders", "application/xml", GOOD);
    assert_eq!(
        (status, run["result"].as_str()),
        (201, Some("PASS")),
        "{run}"
    );
    let (_, run) = srv.launch(&author, "orders", "application/xml", BAD);
    assert_eq!(run["result"], "FAIL", "{run}");
    assert_eq!(finding_codes(&run), ["xml.schema.invalid"], "{run}");
    let (_, wf) = json_of(srv.get(&author, "/api/v1/workspaces/default/workflows/orders"));
    assert_eq!(
        wf["steps"][0]["files"][1],
        json!({"name": "common.xsd", "sha256": common, "size": COMMON_XSD.len(), "media_type": "application/xml"}),
        "{wf}"
    );

    // The evidence lists each step's files with their digests.
    let (_, evidence) = json_of(srv.get(
        &author,
        &format!("{}/evidence", run["url"].as_str().unwrap()),
    ));
    let files = &evidence["manifest"]["steps"][0]["files"];
    assert_eq!(files[0]["name"], "order.xsd", "{evidence}");
    assert_eq!(files[0]["sha256"], main.as_str(), "{evidence}");
    assert_eq!(files[1]["sha256"], common.as_str(), "{evidence}");

    // Refused definitions: a file never uploaded here, a local path, a bad name.
    let mut unknown = workflow("unknown", &main, &"0".repeat(64));
    let body = srv.refused_workflow(&author, &unknown);
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("no file with sha256"),
        "{body}"
    );
    unknown["steps"][0]["files"][1] = json!({"name": "common.xsd", "path": "common.xsd"});
    let body = srv.refused_workflow(&author, &unknown);
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("CLI"),
        "{body}"
    );
    unknown["steps"][0]["files"][1] = json!({"name": "a/b.xsd", "sha256": common});
    srv.refused_workflow(&author, &unknown);

    // Listed with their users; one in use cannot be deleted; the bytes come back.
    let (_, list) = json_of(srv.get(&viewer, "/api/v1/workspaces/default/files"));
    let listed: Vec<(&str, &Value)> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["sha256"].as_str().unwrap(), &f["used_by"]))
        .collect();
    assert!(
        listed.contains(&(main.as_str(), &json!(["orders"]))),
        "{list}"
    );
    let file_url = format!("/api/v1/workspaces/default/files/{common}");
    let resp = srv.delete(&author, &file_url);
    assert_eq!(resp.status(), 409);
    let body: Value = resp.json().unwrap();
    assert_eq!(body["code"], "FILE_IN_USE", "{body}");
    assert_eq!(srv.get(&viewer, &file_url).text().unwrap(), COMMON_XSD);
    let spare = srv.upload_file(&author, "spare.txt", "text/plain", b"spare");
    let spare_url = format!("/api/v1/workspaces/default/files/{spare}");
    assert_eq!(srv.delete(&author, &spare_url).status(), 204);
    assert_eq!(srv.get(&author, &spare_url).status(), 404);

    // The retention sweep keeps what steps name, even past its grace.
    inst.age_blobs();
    let purge: Value =
        serde_json::from_str(&inst.cli(&["purge", "--submission-retention-days", "0"])).unwrap();
    assert!(purge["blobs_deleted"].as_u64().unwrap() >= 1, "{purge}");
    let (_, run) = srv.launch(&author, "orders", "application/xml", BAD);
    assert_eq!(finding_codes(&run), ["xml.schema.invalid"], "{run}");

    // Export carries the files; another instance recreates workflow and files.
    let bundle: Value = srv
        .get(
            &author,
            "/api/v1/workspaces/default/workflows/orders/export",
        )
        .json()
        .unwrap();
    assert_eq!(bundle["files"].as_array().unwrap().len(), 2, "{bundle}");
    let there = Instance::new(backend);
    let key2 = there.user("bob", "author");
    let srv2 = there.serve(&[]);
    let mut tampered = bundle.clone();
    tampered["files"][0]["content_base64"] = json!("AAAA");
    let (status, body) = json_of(
        srv2.post(&key2, "/api/v1/workspaces/default/workflows/import")
            .json(&tampered)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_BUNDLE")),
        "{body}"
    );
    let (status, imported) = json_of(
        srv2.post(&key2, "/api/v1/workspaces/default/workflows/import")
            .json(&bundle)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{imported}");
    assert_eq!(imported["digest"], wf["digest"], "{imported}");
    let (_, run) = srv2.launch(&key2, "orders", "application/xml", BAD);
    assert_eq!(finding_codes(&run), ["xml.schema.invalid"], "{run}");
    assert_eq!(srv2.get(&key2, &file_url).text().unwrap(), COMMON_XSD);

    // The CLI reads local paths: `check` offline, `workflows create` uploads them.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("xsd")).unwrap();
    std::fs::write(dir.path().join("xsd/order.xsd"), MAIN_XSD).unwrap();
    std::fs::write(dir.path().join("xsd/common.xsd"), COMMON_XSD).unwrap();
    let local = json!({"slug": "local-orders", "steps": [{"key": "xsd", "validator": "xml-schema",
        "config": {"schema_file": "order.xsd"},
        "files": [{"name": "order.xsd", "path": "xsd/order.xsd"}, {"name": "common.xsd", "path": "xsd/common.xsd"}]}]});
    let wf_file = dir.path().join("local-orders.json");
    std::fs::write(&wf_file, local.to_string()).unwrap();
    let doc = dir.path().join("order.xml");
    for (text, code) in [(GOOD, 0), (BAD, 1)] {
        std::fs::write(&doc, text).unwrap();
        let out = inst
            .command(&[
                "check",
                doc.to_str().unwrap(),
                "-w",
                wf_file.to_str().unwrap(),
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let server_args = ["--server", &srv2.url(""), "--api-key", &key2];
    let mut args = vec!["workflows", "create", "-f", wf_file.to_str().unwrap()];
    args.extend_from_slice(&server_args);
    let out = there.cli(&args);
    assert!(out.starts_with("created local-orders v1"), "{out}");
    let (_, run) = srv2.launch(&key2, "local-orders", "application/xml", GOOD);
    assert_eq!(run["result"], "PASS", "{run}");
}
