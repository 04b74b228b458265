//! Webhooks against the real binary on SQLite and PostgreSQL, delivering to a real HTTP
//! receiver on loopback: signatures checked with the Standard Webhooks reference library
//! (`standardwebhooks`, not our own code), retries with backoff and the attempt log,
//! disabling after repeated failure, redirects not followed, redelivery with the same id
//! and body, secret rotation (both secrets sign for a while), a Slack-style body, workflow
//! events, internal addresses refused (SSRF), and who may manage endpoints.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::receiver::{at, start_receiver, verify, wait_for, Received};
use common::*;
use serde_json::{json, Value};

on_both_backends!(webhooks_end_to_end);

fn webhooks_end_to_end(backend: Backend) {
    let inst = Instance::new(backend);
    let admin = inst.user("ada", "admin");
    let author = inst.user("aut", "author");
    let (base, log) = start_receiver();
    let srv = inst.serve_with_env(
        &[],
        &[
            ("VALIDIBOT_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32"),
            ("VALIDIBOT_WEBHOOK_RETRY_SCHEDULE", "200ms,300ms"),
            ("VALIDIBOT_WEBHOOK_POLL_MS", "50"),
            ("VALIDIBOT_WEBHOOK_DISABLE_AFTER", "2"),
            ("VALIDIBOT_PUBLIC_URL", "https://validibot.example.com/"),
        ],
    );
    let hooks = "/api/v1/workspaces/default/webhooks";
    let create = |key: &str, body: Value| json_of(srv.post(key, hooks).json(&body).send().unwrap());

    // Who: admins manage endpoints; an author may not even list them.
    assert_eq!(srv.get(&author, hooks).status(), 403);
    let (status, body) = create(
        &author,
        json!({"url": format!("{base}/ok"), "events": ["run.completed"]}),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("PERMISSION_DENIED")),
        "{body}"
    );

    // SSRF: internal addresses are refused in every spelling, by address and by name;
    // only the operator's allowed network (127.0.0.1/32 here) gets through.
    for url in [
        "http://127.0.0.2/x",
        "http://2130706434/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::1]:8080/",
        "http://[::ffff:192.168.0.1]/",
    ] {
        let (status, body) = create(&admin, json!({"url": url, "events": ["run.completed"]}));
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("WEBHOOK_URL_REFUSED")),
            "{url}: {body}"
        );
    }
    for (body, code) in [
        (
            json!({"url": "ftp://example.com/", "events": ["run.completed"]}),
            "WEBHOOK_URL_INVALID",
        ),
        (
            json!({"url": "https://u:p@example.com/", "events": ["run.completed"]}),
            "WEBHOOK_URL_INVALID",
        ),
        (
            json!({"url": format!("{base}/ok"), "events": ["run.exploded"]}),
            "INVALID_EVENT",
        ),
        (
            json!({"url": format!("{base}/ok"), "events": []}),
            "INVALID_EVENT",
        ),
        (
            json!({"url": format!("{base}/ok"), "events": ["webhook.test"]}),
            "INVALID_EVENT",
        ),
        (
            json!({"url": format!("{base}/ok"), "events": ["run.completed"], "format": "xml"}),
            "INVALID_FORMAT",
        ),
        (
            json!({"url": format!("{base}/ok"), "events": ["run.completed"], "colour": "red"}),
            "INVALID_REQUEST",
        ),
    ] {
        let (status, got) = create(&admin, body.clone());
        assert_eq!(
            (status, got["code"].as_str()),
            (
                if code.starts_with("WEBHOOK") {
                    422
                } else {
                    400
                },
                Some(code)
            ),
            "{body}: {got}"
        );
    }

    // Four endpoints: one that works, one that always fails, one that redirects, Slack.
    let endpoint = |path: &str, events: Value, format: &str| {
        let (status, body) = create(
            &admin,
            json!({"url": format!("{base}/{path}"), "events": events, "format": format, "description": path}),
        );
        assert_eq!(status, 201, "{body}");
        assert!(
            body["secret"].as_str().unwrap().starts_with("whsec_"),
            "{body}"
        );
        assert_eq!(body["enabled"], true);
        (
            body["id"].as_str().unwrap().to_owned(),
            body["secret"].as_str().unwrap().to_owned(),
        )
    };
    let (ok_id, ok_secret) = endpoint(
        "ok",
        json!([
            "run.completed",
            "run.failed",
            "workflow.created",
            "workflow.updated",
            "workflow.archived",
            "workflow.deleted"
        ]),
        "standard",
    );
    let (fail_id, fail_secret) = endpoint("fail", json!(["run.failed"]), "standard");
    let (redirect_id, _) = endpoint("redirect", json!(["run.completed"]), "standard");
    let (_, slack_secret) = endpoint("slack", json!(["run.completed"]), "slack");
    let (_, listed) = json_of(srv.get(&admin, hooks));
    assert_eq!(listed["results"].as_array().unwrap().len(), 4);
    assert!(
        listed["results"][0].get("secret").is_none(),
        "secrets are never listed"
    );
    assert!(listed["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "run.failed"));

    // A workflow and two runs: PASS, then FAIL.
    srv.create_workflow(
        &admin,
        &json!({"slug": "orders", "steps": [{"key": "s", "validator": "json-schema", "config": {"schema": {"type": "object", "required": ["id"]}}}]}),
    );
    let (_, pass) = srv.launch(&admin, "orders", "application/json", r#"{"id": 1}"#);
    assert_eq!(pass["result"], "PASS", "{pass}");
    let (_, fail) = srv.launch(&admin, "orders", "application/json", "{}");
    assert_eq!(fail["result"], "FAIL", "{fail}");

    // The working endpoint hears workflow.created, the PASS run's run.completed and
    // the FAIL run's run.completed and run.failed — each signed, each its own id.
    let got = wait_for("four messages at /ok", Duration::from_secs(20), || {
        let got = at(&log, "ok");
        (got.len() >= 4).then_some(got)
    });
    let mut types: Vec<String> = Vec::new();
    for r in &got {
        verify(&ok_secret, r).unwrap_or_else(|e| panic!("signature of {:?}: {e}", r.json()));
        assert!(
            verify(&fail_secret, r).is_err(),
            "another endpoint's secret must not verify"
        );
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(r.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("Validibot-Webhooks/"));
        types.push(r.json()["type"].as_str().unwrap().to_owned());
    }
    types.sort();
    assert_eq!(
        types,
        [
            "run.completed",
            "run.completed",
            "run.failed",
            "workflow.created"
        ],
        "{got:?}"
    );
    let ids: std::collections::HashSet<String> = got.iter().map(Received::id).collect();
    assert_eq!(ids.len(), 4, "every message has its own id");
    let failed = got
        .iter()
        .map(Received::json)
        .find(|m| m["type"] == "run.failed")
        .unwrap();
    let run = &failed["data"]["run"];
    assert_eq!(failed["data"]["workspace"], "default");
    assert_eq!(run["id"], fail["id"]);
    assert_eq!(run["result"], "FAIL");
    assert_eq!(run["workflow"]["slug"], "orders");
    assert_eq!(run["summary"]["errors"], 1, "{failed}");
    assert!(
        run.get("steps").is_none(),
        "the payload is a summary: {failed}"
    );
    assert_eq!(
        run["url"],
        format!(
            "https://validibot.example.com/api/v1/workspaces/default/runs/{}",
            fail["id"].as_str().unwrap()
        )
    );
    assert_eq!(
        run["web_url"],
        format!(
            "https://validibot.example.com/ui/w/default/runs/{}",
            fail["id"].as_str().unwrap()
        )
    );
    assert!(failed["timestamp"].as_str().unwrap().ends_with('Z'));
    let created = got
        .iter()
        .map(Received::json)
        .find(|m| m["type"] == "workflow.created")
        .unwrap();
    assert_eq!(created["data"]["workflow"]["slug"], "orders");
    assert_eq!(created["data"]["workflow"]["version"], 1);

    // Slack: a chat message with the result and a link, still signed.
    let slack = wait_for("two messages at /slack", Duration::from_secs(20), || {
        let got = at(&log, "slack");
        (got.len() >= 2).then_some(got)
    });
    for r in &slack {
        verify(&slack_secret, r).unwrap();
        let text = r.json()["text"].as_str().unwrap().to_owned();
        assert!(text.contains("*orders* v1"), "{text}");
        assert!(text.contains("|view run>"), "{text}");
    }
    assert!(slack
        .iter()
        .any(|r| r.json()["text"].as_str().unwrap().contains("*PASS*")));

    // The failing endpoint: three attempts (the first and two retries), each logged with
    // its status and the response's start, then failed for good — one failure in a row.
    let deliveries = |id: &str| json_of(srv.get(&admin, &format!("{hooks}/{id}/deliveries"))).1;
    let log_of_fail = wait_for(
        "the failing delivery to end",
        Duration::from_secs(20),
        || {
            let d = deliveries(&fail_id);
            (d["results"][0]["state"] == "failed").then_some(d)
        },
    );
    let delivery = &log_of_fail["results"][0];
    assert_eq!(delivery["event_type"], "run.failed");
    assert_eq!(delivery["attempts"], 3, "{delivery}");
    let attempts = delivery["log"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a["attempt"], i as i64 + 1);
        assert_eq!(
            (a["status_code"].as_i64(), a["response"].as_str()),
            (Some(500), Some("boom"))
        );
    }
    let received_fail = at(&log, "fail");
    assert_eq!(received_fail.len(), 3);
    assert!(
        received_fail
            .iter()
            .all(|r| r.id() == received_fail[0].id() && r.body == received_fail[0].body),
        "retries resend the same message"
    );
    let gaps: Vec<u128> = received_fail
        .windows(2)
        .map(|w| {
            let t = |r: &Received| {
                r.headers["webhook-timestamp"]
                    .to_str()
                    .unwrap()
                    .parse::<u128>()
                    .unwrap()
            };
            t(&w[1]) * 1000 - t(&w[0]) * 1000
        })
        .collect();
    assert!(
        gaps.iter().sum::<u128>() <= 3000,
        "the schedule's short waits: {gaps:?}"
    );
    let (_, ep) = json_of(srv.get(&admin, &format!("{hooks}/{fail_id}")));
    assert_eq!(
        (ep["failed_in_a_row"].as_i64(), ep["enabled"].as_bool()),
        (Some(1), Some(true)),
        "{ep}"
    );

    // Another FAIL run fails every attempt too: two in a row disables the endpoint.
    let (_, fail2) = srv.launch(&admin, "orders", "application/json", "[]");
    assert_eq!(fail2["result"], "FAIL", "{fail2}");
    let ep = wait_for(
        "the failing endpoint to be disabled",
        Duration::from_secs(20),
        || {
            let (_, ep) = json_of(srv.get(&admin, &format!("{hooks}/{fail_id}")));
            (ep["enabled"] == false).then_some(ep)
        },
    );
    assert_eq!(ep["failed_in_a_row"], 2);
    let reason = ep["disabled_reason"].as_str().unwrap();
    assert!(
        reason.contains("2 deliveries in a row") && reason.contains("HTTP 500"),
        "{reason}"
    );
    // Disabled: later events are not queued for it.
    let before = at(&log, "fail").len();
    let (_, fail3) = srv.launch(&admin, "orders", "application/json", "[]");
    assert_eq!(fail3["result"], "FAIL");

    // Redirects are not followed: the 302 is a failed attempt and /elsewhere is never asked.
    let log_of_redirect = wait_for(
        "the redirected delivery to fail",
        Duration::from_secs(20),
        || {
            let d = deliveries(&redirect_id);
            d["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["state"] == "failed")
                .then_some(d)
        },
    );
    let failed_redirect = log_of_redirect["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["state"] == "failed")
        .unwrap();
    assert_eq!(failed_redirect["log"][0]["status_code"], 302);
    assert!(at(&log, "elsewhere").is_empty(), "a redirect was followed");

    // Redelivery: the same id and the same bytes, once more.
    let first = got
        .iter()
        .find(|r| r.json()["type"] == "workflow.created")
        .unwrap()
        .clone();
    let path = format!("{hooks}/{ok_id}/deliveries/{}/redeliver", first.id());
    let (status, body) = json_of(srv.post(&admin, &path).send().unwrap());
    assert_eq!(status, 202, "{body}");
    let again = wait_for("the redelivery", Duration::from_secs(20), || {
        at(&log, "ok")
            .into_iter()
            .filter(|r| r.id() == first.id())
            .nth(1)
    });
    assert_eq!(again.body, first.body);
    verify(&ok_secret, &again).unwrap();
    let (status, body) = json_of(
        srv.post(
            &admin,
            &format!("{hooks}/{ok_id}/deliveries/msg_nope/redeliver"),
        )
        .send()
        .unwrap(),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("DELIVERY_NOT_FOUND"))
    );

    // Rotation: the new secret signs, and the old one too for a while (two signatures).
    let (status, rotated) = json_of(
        srv.post(&admin, &format!("{hooks}/{ok_id}/rotate-secret"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, ok_secret);
    let (status, sent) = json_of(
        srv.post(&admin, &format!("{hooks}/{ok_id}/test"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 202, "{sent}");
    let test = wait_for("the test message", Duration::from_secs(20), || {
        at(&log, "ok")
            .into_iter()
            .find(|r| r.id() == sent["event_id"].as_str().unwrap())
    });
    assert_eq!(test.json()["type"], "webhook.test");
    assert_eq!(
        test.headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    verify(&new_secret, &test).unwrap();
    verify(&ok_secret, &test).unwrap();

    // Workflow events: an edit after runs is version 2; archiving it is announced too.
    let (status, _) = json_of(
        srv.put(&admin, "/api/v1/workspaces/default/workflows/orders")
            .json(&json!({"steps": [{"key": "s", "validator": "json-schema", "config": {"schema": {"type": "object"}}}]}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    let (status, body) = json_of(
        srv.post(
            &admin,
            "/api/v1/workspaces/default/workflows/orders/archive",
        )
        .send()
        .unwrap(),
    );
    assert_eq!(status, 200, "a workflow with two versions archives: {body}");
    srv.create_workflow(
        &admin,
        &json!({"slug": "scratch", "steps": [{"key": "s", "validator": "json-schema", "config": {"schema": {}}}]}),
    );
    assert_eq!(
        srv.delete(&admin, "/api/v1/workspaces/default/workflows/scratch")
            .status(),
        204
    );
    let events = wait_for(
        "workflow.updated, workflow.archived and workflow.deleted",
        Duration::from_secs(20),
        || {
            let by_type: HashMap<String, Value> = at(&log, "ok")
                .iter()
                .map(|r| (r.json()["type"].as_str().unwrap().to_owned(), r.json()))
                .collect();
            ["workflow.updated", "workflow.archived", "workflow.deleted"]
                .iter()
                .all(|t| by_type.contains_key(*t))
                .then_some(by_type)
        },
    );
    assert_eq!(events["workflow.updated"]["data"]["workflow"]["version"], 2);
    assert_eq!(events["workflow.archived"]["data"]["archived"], true);
    assert_eq!(
        events["workflow.archived"]["data"]["workflow"]["url"],
        "https://validibot.example.com/ui/w/default/workflows/orders"
    );
    assert_eq!(
        events["workflow.deleted"]["data"]["workflow"]["slug"],
        "scratch"
    );

    // A disabled endpoint got nothing more; a test message still reaches it (to check a
    // fix before enabling it again), and enabling clears the failure count.
    assert_eq!(
        at(&log, "fail").len(),
        before,
        "a disabled endpoint was sent an event"
    );
    let (status, _) = json_of(
        srv.post(&admin, &format!("{hooks}/{fail_id}/test"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 202);
    wait_for(
        "a test to the disabled endpoint",
        Duration::from_secs(20),
        || (at(&log, "fail").len() > before).then_some(()),
    );
    let (status, ep) = json_of(
        srv.client
            .patch(srv.url(&format!("{hooks}/{fail_id}")))
            .bearer_auth(&admin)
            .json(&json!({"enabled": true, "url": format!("{base}/fixed"), "events": ["run.failed", "run.completed"]}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{ep}");
    assert_eq!(
        (
            ep["enabled"].as_bool(),
            ep["failed_in_a_row"].as_i64(),
            ep["disabled_reason"].is_null()
        ),
        (Some(true), Some(0), true),
        "{ep}"
    );
    assert_eq!(ep["events"], json!(["run.completed", "run.failed"]));

    // Operators see deliveries in /metrics.
    let metrics = srv
        .client
        .get(srv.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "validibot_webhook_attempts_total{outcome=\"delivered\"}",
        "validibot_webhook_attempts_total{outcome=\"retry\"}",
        "validibot_webhook_attempts_total{outcome=\"failed\"}",
        "validibot_webhook_deliveries_pending ",
        "validibot_webhook_oldest_pending_age_seconds ",
    ] {
        assert!(metrics.contains(line), "{line} missing from /metrics");
    }

    // Deleting an endpoint takes its log with it.
    assert_eq!(
        srv.delete(&admin, &format!("{hooks}/{redirect_id}"))
            .status(),
        204
    );
    assert_eq!(
        srv.get(&admin, &format!("{hooks}/{redirect_id}")).status(),
        404
    );
    assert_eq!(
        srv.get(&admin, &format!("{hooks}/{redirect_id}/deliveries"))
            .status(),
        404
    );
    let _ = (fail3, author);
}
