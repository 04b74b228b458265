//! `validibot plugin new | test | bench`, run as an author would: the real binary,
//! real cargo builds to wasm32-wasip2.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::BIN;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn validibot(args: &[&str], cache: &Path) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .env_remove("VALIDIBOT_DATA_DIR")
        .output()
        .unwrap();
    eprintln!(
        "validibot {args:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `validibot plugin test PLUGIN --fixtures DIR`.
fn plugin_test(plugin: &str, fixtures: &Path, cache: &Path) -> Output {
    validibot(
        &[
            "plugin",
            "test",
            plugin,
            "--fixtures",
            fixtures.to_str().unwrap(),
        ],
        cache,
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The worked example under plugins/examples passes its fixtures, and a wrong
/// expectation is reported as a failure naming the difference.
#[test]
fn example_plugin_passes_its_fixtures_and_a_wrong_expectation_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = tmp.path().join("line-length.wasm");
    std::fs::write(
        &wasm,
        common::guest::build_guest(
            "plugins/examples/line-length",
            "validibot_example_line_length",
        ),
    )
    .unwrap();
    let fixtures = repo().join("plugins/examples/line-length/fixtures");
    let wasm_arg = wasm.to_str().unwrap();
    let out = plugin_test(wasm_arg, &fixtures, tmp.path());
    assert!(out.status.success());
    assert!(stdout(&out).contains("all 3 fixture cases passed"));

    let broken = tmp.path().join("fixtures");
    std::fs::create_dir(&broken).unwrap();
    for f in std::fs::read_dir(&fixtures).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, broken.join(f.file_name().unwrap())).unwrap();
    }
    let expected = broken.join("long.expected.json");
    let text = std::fs::read_to_string(&expected)
        .unwrap()
        .replace("\"4:21\"", "\"4:22\"");
    std::fs::write(&expected, text).unwrap();
    let out = plugin_test(wasm_arg, &broken, tmp.path());
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("FAIL  long") && text.contains("missing finding"),
        "{text}"
    );
    assert!(
        text.contains("unexpected finding error line.too_long at \"4:21\""),
        "{text}"
    );
}

/// `plugin new` gives a crate whose unit tests pass natively, which builds to a
/// component with plain cargo, and whose fixtures pass under `plugin test` — from a copy
/// of the release binary alone, run in an empty directory far from any checkout.
#[test]
fn scaffolded_plugin_builds_tests_and_passes_its_fixtures() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin/validibot");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(BIN, &bin).unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let out = Command::new(&bin)
        .args(["plugin", "new", "demo-check"])
        .current_dir(&work)
        .env("XDG_CACHE_HOME", tmp.path())
        .env_remove("VALIDIBOT_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let krate = work.join("demo-check");
    // The SDK comes from the binary, not from this checkout.
    let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(r#"path = "vendor/validibot-sdk/plugin-api""#)
            && !manifest.contains(repo().to_str().unwrap()),
        "{manifest}"
    );
    let vendored = krate.join("vendor/validibot-sdk");
    assert!(vendored.join("wit/1.0.0/validator.wit").is_file());
    let sdk_manifest = std::fs::read_to_string(vendored.join("plugin-api/Cargo.toml")).unwrap();
    assert!(!sdk_manifest.contains("workspace"), "{sdk_manifest}");
    // The author gets the SDK's permissive licenses with the template.
    assert!(
        manifest.contains("license = \"Apache-2.0 OR MIT\""),
        "{manifest}"
    );
    let mit = std::fs::read_to_string(krate.join("LICENSE-MIT")).unwrap();
    assert!(mit.starts_with("MIT License"), "{mit}");
    let apache = std::fs::read_to_string(krate.join("LICENSE-APACHE")).unwrap();
    assert!(apache.contains("Apache License"), "{apache}");
    // Same dependency versions as this repository, without a registry round trip.
    std::fs::copy(repo().join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let test = Command::new(&cargo)
        .args(["test", "--target-dir"])
        .arg(common::target_root().join("test-plugins"))
        .current_dir(&krate)
        .env_remove("RUSTFLAGS")
        .status()
        .unwrap();
    assert!(test.success(), "the scaffold's own tests must pass");
    let wasm = tmp.path().join("demo.wasm");
    std::fs::write(
        &wasm,
        common::guest::build_guest(krate.to_str().unwrap(), "demo_check"),
    )
    .unwrap();
    let wasm_arg = wasm.to_str().unwrap();
    let fixtures = krate.join("fixtures");
    let out = plugin_test(wasm_arg, &fixtures, tmp.path());
    assert!(out.status.success());
    assert!(stdout(&out).contains("demo-check 0.1.0 (2 cases)"));

    let out = validibot(
        &[
            "plugin",
            "bench",
            wasm_arg,
            "--document",
            fixtures.join("small.txt").to_str().unwrap(),
            "--config",
            fixtures.join("config.json").to_str().unwrap(),
            "--iterations",
            "200",
        ],
        tmp.path(),
    );
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("| warm instance (how built-ins run) |") && text.contains("fresh / warm"),
        "{text}"
    );

    // Names that can't be slugs are refused.
    let out = validibot(
        &[
            "plugin",
            "new",
            "Bad_Name",
            "--dir",
            tmp.path().to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert!(!out.status.success());
}

/// Built-in validators carry fixture suites too, run by slug.
#[test]
fn builtin_validators_pass_their_fixtures() {
    let tmp = tempfile::tempdir().unwrap();
    for (slug, dir, cases) in [
        ("csv", "csv", 3),
        ("rules", "rules", 2),
        ("xml-schema", "xml", 5),
        ("shacl", "shacl", 8),
        ("schematron", "schematron", 7),
    ] {
        let fixtures = repo().join("plugins").join(dir).join("fixtures");
        let out = plugin_test(slug, &fixtures, tmp.path());
        assert!(out.status.success(), "{slug}: {}", stdout(&out));
        assert!(stdout(&out).contains(&format!("all {cases} fixture cases passed")));
    }
}

/// The contract is language-neutral: the same validator written in Python
/// (componentize-py) and in JavaScript (componentize-js) builds from its example
/// directory, passes the Rust example's fixtures under `plugin test`, and installs and
/// runs through the API like any component.
#[test]
fn python_and_javascript_examples_pass_the_fixtures_and_run_through_the_api() {
    use serde_json::json;
    let tmp = tempfile::tempdir().unwrap();
    let inst = common::Instance::new(common::Backend::Sqlite);
    let key = inst.user("ann", "admin");
    let srv = inst.serve(&[]);
    let fixtures = repo().join("plugins/examples/line-length/fixtures");
    for slug in ["line-length-py", "line-length-js"] {
        let wasm = tmp.path().join(format!("{slug}.wasm"));
        let built = Command::new("bash")
            .arg(repo().join("plugins/examples").join(slug).join("build.sh"))
            .arg(&wasm)
            .status()
            .unwrap();
        assert!(built.success(), "building {slug}");
        let out = plugin_test(wasm.to_str().unwrap(), &fixtures, tmp.path());
        assert!(out.status.success(), "{slug}");
        assert!(
            stdout(&out).contains(&format!("{slug} 0.1.0 (3 cases)")),
            "{}",
            stdout(&out)
        );
        let (status, meta) = common::json_of(
            srv.post(&key, "/api/v1/validators")
                .header("content-type", "application/wasm")
                .body(std::fs::read(&wasm).unwrap())
                .send()
                .unwrap(),
        );
        assert_eq!(status, 201, "{meta}");
        assert_eq!(meta["slug"], slug);
        // Built against contract 1.0 (`wit/1.0.0`): it loads and runs on this 1.1 host,
        // and a step that would hand it files (a 1.1 addition) is refused.
        assert_eq!(meta["wit_version"], "1.0.0", "{meta}");
        let sha = srv.upload_file(&key, "words.txt", "text/plain", b"words");
        let body = srv.refused_workflow(
            &key,
            &json!({"slug": format!("{slug}-files"), "steps": [{"key": "lines", "validator": slug,
                "config": {"max": 20}, "files": [{"name": "words.txt", "sha256": sha}]}]}),
        );
        let detail = body["errors"][0]["detail"].as_str().unwrap();
        assert!(
            detail.contains("validibot:validator@1.0.0") && detail.contains("1.1"),
            "{detail}"
        );
        srv.create_workflow(
            &key,
            &json!({"slug": slug, "steps": [{"key": "lines", "validator": slug, "config": {"max": 20}}]}),
        );
        let (status, run) = srv.launch(
            &key,
            slug,
            "text/plain",
            "ok\nthis line is definitely too long\n",
        );
        assert_eq!(
            (status, run["result"].as_str()),
            (201, Some("FAIL")),
            "{run}"
        );
        let step = &run["steps"][0];
        assert_eq!(step["findings"][0]["code"], "line.too_long", "{run}");
        assert_eq!(step["findings"][0]["path"], "2:21", "{run}");
        assert_eq!(
            step["outputs"][0],
            json!({"name": "lines", "value": 2}),
            "{run}"
        );
    }
}
