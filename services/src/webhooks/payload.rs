//! The body a delivery sends: the event as JSON (`standard`: `{type, timestamp, data}`,
//! the Standard Webhooks shape) or a Slack-compatible message (`slack`: `{"text"}`, for
//! Slack's and Mattermost's incoming webhooks). Built once, at the first attempt; every
//! later attempt and redelivery sends the same bytes.

use anyhow::Result;
use serde_json::{json, Value};
use validibot_store::db::Db;
use validibot_store::runs::view::{self, RunView};
use validibot_store::webhooks::deliveries::Due;
use validibot_types::clock::rfc3339;
use validibot_types::events::EventType;
use validibot_types::ids::RunId;

/// The body for `due`: the stored one when an earlier attempt made it.
pub async fn body(db: &Db, due: &Due, public_url: Option<&str>) -> Result<String> {
    if let Some(sent) = &due.payload {
        return Ok(sent.clone());
    }
    let data: Value = serde_json::from_str(&due.data)?;
    let event = EventType::parse(&due.event_type);
    let run = match data.get("run_id").and_then(Value::as_str) {
        Some(id) => view::summary(db, &RunId::from(id)).await?,
        None => None,
    };
    let links = Links::new(public_url, &due.workspace_slug);
    let mut data = match &run {
        Some(run) => json!({"run": run_json(run, &links)}),
        None => data,
    };
    data["workspace"] = json!(due.workspace_slug);
    if let Some(slug) = data.pointer("/workflow/slug").and_then(Value::as_str) {
        let url = links.ui(&format!("workflows/{slug}"));
        data["workflow"]["url"] = json!(url);
    }
    let event_json = json!({
        "type": due.event_type,
        "timestamp": rfc3339(due.created_at),
        "data": data,
    });
    Ok(match due.format.as_str() {
        "slack" => json!({"text": slack_text(event, &event_json, run.as_ref())}).to_string(),
        _ => event_json.to_string(),
    })
}

/// Where a payload points: absolute when the instance knows its public URL.
struct Links<'a> {
    base: &'a str,
    workspace: &'a str,
}

impl<'a> Links<'a> {
    fn new(public_url: Option<&'a str>, workspace: &'a str) -> Self {
        Links {
            base: public_url.unwrap_or("").trim_end_matches('/'),
            workspace,
        }
    }

    fn ui(&self, rest: &str) -> String {
        format!("{}/ui/w/{}/{rest}", self.base, self.workspace)
    }
}

fn run_json(run: &RunView, links: &Links<'_>) -> Value {
    let mut v = serde_json::to_value(run).unwrap_or_default();
    v["url"] = json!(format!("{}{}", links.base, run.url));
    v["web_url"] = json!(links.ui(&format!("runs/{}", run.id)));
    v
}

/// One line for a chat channel, with a link to the run or workflow.
fn slack_text(event: Option<EventType>, event_json: &Value, run: Option<&RunView>) -> String {
    let data = &event_json["data"];
    let ws = data["workspace"].as_str().unwrap_or_default();
    if let Some(run) = run {
        let mark = match run.result {
            "PASS" => ":white_check_mark:",
            "FAIL" => ":x:",
            "CANCELED" => ":no_entry_sign:",
            _ => ":warning:",
        };
        let file = run
            .submission
            .filename
            .as_deref()
            .map(|f| format!(" on `{}`", escape(f)))
            .unwrap_or_default();
        let s = &run.summary;
        return format!(
            "{mark} *{}* v{}{file}: *{}* ({} errors, {} warnings) in {ws} — <{}|view run>",
            escape(&run.workflow.slug),
            run.workflow.version,
            run.result,
            s.errors,
            s.warnings,
            data["run"]["web_url"].as_str().unwrap_or_default(),
        );
    }
    let what = event.map(EventType::summary).unwrap_or("an event");
    match data.pointer("/workflow/slug").and_then(Value::as_str) {
        Some(slug) => format!(
            "Validibot: {what} — *{}* in {ws} <{}|open>",
            escape(slug),
            data["workflow"]["url"].as_str().unwrap_or_default()
        ),
        None => format!("Validibot: {what} ({ws})"),
    }
}

/// Slack's three control characters in message text.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
