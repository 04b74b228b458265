//! The delivery loop every worker process runs: claim due deliveries (a lease, so two
//! processes never send the same attempt), send each with its signature headers, and
//! record the attempt and what follows — delivered, tried again after the schedule's
//! next wait, or failed for good (counting toward disabling the endpoint).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::{watch, Semaphore};
use validibot_store::db::Db;
use validibot_store::webhooks::deliveries::{self, Attempt, Due, Outcome};
use validibot_types::clock::now_us;

use super::{payload, signature, Settings};

/// Deliveries in flight at once in one process. A slot is claimed only when it is free,
/// so a slow receiver holds its own slots, not a whole batch.
const IN_FLIGHT: usize = 32;
/// Bytes of a response body the log keeps.
const RESPONSE_KEPT: usize = 2048;
/// How often finished deliveries past the log's days are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Runs the loop until `stop` turns true.
pub fn spawn(
    db: Db,
    settings: Settings,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = match client(&settings) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("webhook deliveries are off: {e:#}");
                return;
            }
        };
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let lease = (settings.timeout + Duration::from_secs(30)).as_micros() as i64;
        let mut pruned = Instant::now() - PRUNE_EVERY;
        loop {
            let free = slots.available_permits();
            let mut claimed = 0;
            if free > 0 {
                match deliveries::claim_due(&db, free as i64, lease).await {
                    Ok(due) => {
                        claimed = due.len();
                        for d in due {
                            let Ok(slot) = slots.clone().try_acquire_owned() else {
                                break;
                            };
                            let (db, client, settings) =
                                (db.clone(), client.clone(), settings.clone());
                            tokio::spawn(async move {
                                if let Err(e) = deliver(&db, &client, &settings, &d).await {
                                    tracing::warn!(event = %d.event_id, endpoint = %d.endpoint_id, "webhook delivery: {e:#}");
                                }
                                drop(slot);
                            });
                        }
                    }
                    Err(e) => tracing::warn!("webhook deliveries: {e:#}"),
                }
            }
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = Instant::now();
                let cutoff = now_us() - i64::from(settings.log_days) * 86_400_000_000;
                if let Err(e) = deliveries::prune(&db, cutoff).await {
                    tracing::warn!("pruning the webhook log: {e:#}");
                }
            }
            // Every free slot found work (or none was free): more may be due, so go on as
            // soon as a slot is free — at once if one already is. Else wait for the poll.
            let busy = claimed == free;
            tokio::select! {
                Ok(_) = slots.clone().acquire_owned(), if busy => {}
                _ = tokio::time::sleep(settings.poll), if !busy => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    })
}

/// The HTTP client: no redirects (a 3xx is a failed attempt, so a receiver cannot
/// bounce a delivery to an internal address), no proxy from the environment, the
/// resolver that drops internal addresses, the attempt's time limit.
fn client(settings: &Settings) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
        .dns_resolver(settings.policy.resolver())
        .user_agent(concat!("Validibot-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Sends one attempt and records it.
async fn deliver(db: &Db, client: &reqwest::Client, settings: &Settings, due: &Due) -> Result<()> {
    let body = payload::body(db, due, settings.public_url.as_deref()).await?;
    let started_at = now_us();
    let clock = Instant::now();
    let sent = send(client, settings, due, &body).await;
    let mut attempt = Attempt {
        event_id: due.event_id.clone(),
        attempt: due.attempts,
        started_at,
        duration_ms: clock.elapsed().as_millis() as i64,
        status_code: None,
        response: None,
        error: None,
    };
    let ok = match sent {
        Ok((status, text)) => {
            attempt.status_code = Some(i64::from(status));
            attempt.response = Some(text);
            (200..300).contains(&status)
        }
        Err(e) => {
            attempt.error = Some(e);
            false
        }
    };
    let outcome = if ok {
        Outcome::Delivered
    } else {
        let last = due
            .final_attempt
            .unwrap_or(settings.retry_schedule.len() as i64 + 1);
        let failure = match (attempt.status_code, &attempt.error) {
            (Some(code), _) => format!("HTTP {code}"),
            (None, Some(e)) => e.clone(),
            (None, None) => "no answer".into(),
        };
        if due.attempts >= last {
            Outcome::Failed {
                disable_after: settings.disable_after,
                reason: format!(
                    "disabled after {} deliveries in a row failed every attempt (the last: {failure})",
                    settings.disable_after
                ),
            }
        } else {
            let wait = settings.retry_schedule
                [(due.attempts as usize - 1).min(settings.retry_schedule.len() - 1)];
            Outcome::RetryAt(now_us() + wait.as_micros() as i64)
        }
    };
    crate::observability::metrics::metrics().webhook_attempt(match outcome {
        Outcome::Delivered => "delivered",
        Outcome::RetryAt(_) => "retry",
        Outcome::Failed { .. } => "failed",
    });
    if !deliveries::record(db, due, &body, &attempt, &outcome).await? {
        tracing::warn!(event = %due.event_id, "a webhook attempt's claim was lost before it was recorded");
    }
    Ok(())
}

/// One HTTP attempt: the status and the start of the body, or why there was none.
async fn send(
    client: &reqwest::Client,
    settings: &Settings,
    due: &Due,
    body: &str,
) -> Result<(u16, String), String> {
    // The same checks as at save, again: a literal address is never resolved, so the
    // resolver's filter would not see it.
    let url = settings.policy.check_form(&due.url).map_err(|r| r.detail)?;
    let now = now_us();
    let timestamp = now / 1_000_000;
    let mut secrets = vec![due.secret.as_str()];
    if let (Some(old), Some(until)) = (&due.previous_secret, due.previous_secret_until) {
        if until > now {
            secrets.push(old);
        }
    }
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &due.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signature::header(&secrets, &due.event_id, timestamp, body),
        )
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = resp.status().as_u16();
    let mut kept = Vec::new();
    let mut resp = resp;
    while kept.len() < RESPONSE_KEPT {
        match resp.chunk().await {
            Ok(Some(bytes)) => {
                kept.extend_from_slice(&bytes[..bytes.len().min(RESPONSE_KEPT - kept.len())])
            }
            _ => break,
        }
    }
    Ok((status, String::from_utf8_lossy(&kept).into_owned()))
}

/// A request error in a line, with its causes (reqwest's own message is terse).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
