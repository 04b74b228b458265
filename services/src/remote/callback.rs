//! `POST /api/v1/callbacks/{callback_id}`: an asynchronous step's container reporting.
//! The token is checked first (before anything about the execution is revealed), then
//! the output envelope is read from the bucket — never from the request —, checked
//! and recorded with the delivery, which wakes the run's job. Recorded once: a repeat
//! is answered as a replay, a report for an execution already ruled on (timed out,
//! lost) or for a run that ended is refused.

use anyhow::Result;
use serde::Deserialize;

use super::token::{self, Refused};
use crate::Services;
use validibot_engines::containers::envelope;
use validibot_engines::containers::Limits;
use validibot_store::remote::{self as store, Delivery, Report};

/// What the agent posts.
#[derive(Debug, Clone, Deserialize)]
pub struct Body {
    /// The validator's exit code (`null`: killed by a signal, or never started).
    pub exit_code: Option<i64>,
    /// Whether it uploaded an output envelope.
    #[serde(default)]
    pub output: bool,
    /// Why the agent could not run the validator.
    #[serde(default)]
    pub agent_error: Option<String>,
}

/// The answer to a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    Replay,
    Late(String),
    Unknown,
    Refused(Refused),
    /// This instance does not run asynchronous steps.
    NotConfigured,
}

pub async fn receive(
    svc: &Services,
    callback_id: &str,
    bearer: Option<&str>,
    body: Body,
) -> Result<Answer> {
    let Some(remote) = &svc.remote else {
        return Ok(Answer::NotConfigured);
    };
    let plain = callback_id.len() == 32 && callback_id.bytes().all(|b| b.is_ascii_hexdigit());
    if !plain {
        return Ok(Answer::Unknown);
    }
    let key = remote.key(&svc.db).await?;
    let now = validibot_types::clock::now_us() / 1_000_000;
    let audience = remote.callback_url(callback_id);
    if let Err(refused) = token::verify(key, bearer.unwrap_or(""), callback_id, &audience, now) {
        return Ok(Answer::Refused(refused));
    }
    let Some(execution) = store::get(&svc.db, callback_id).await? else {
        return Ok(Answer::Unknown);
    };
    if execution.state == "delivered" {
        return Ok(Answer::Replay);
    }
    let (output, problem) = if body.output {
        read_output(svc, callback_id).await
    } else {
        (None, None)
    };
    let detail = body.agent_error.as_deref().or(problem.as_deref());
    let report = Report {
        exit_code: body.exit_code,
        output: output.as_deref(),
        detail,
    };
    Ok(match store::deliver(&svc.db, callback_id, &report).await? {
        Delivery::Accepted => Answer::Accepted,
        Delivery::Replay => Answer::Replay,
        Delivery::Late(why) => Answer::Late(why),
        Delivery::Unknown => Answer::Unknown,
    })
}

/// The output envelope from the bucket: at most the runner's cap, a valid v1 envelope;
/// else why not (recorded as the delivery's detail, so the step fails with it).
async fn read_output(svc: &Services, callback_id: &str) -> (Option<String>, Option<String>) {
    let cap = Limits::default().output_bytes;
    let read = match svc.blobs.exchange() {
        Ok(x) => x.read(&super::output_name(callback_id), cap).await,
        Err(e) => Err(e),
    };
    match read {
        Ok(Some(bytes)) => match envelope::parse_output(&bytes) {
            Ok(_) => (String::from_utf8(bytes).ok(), None),
            Err(e) => (None, Some(e)),
        },
        Ok(None) => (
            None,
            Some("the callback said an output envelope was uploaded, but there is none".into()),
        ),
        Err(e) => (None, Some(format!("reading the output envelope: {e:#}"))),
    }
}
