//! The three ways to submit a document to a launch:
//! - raw body: the document itself, with its own `Content-Type`
//!   (`?filename=` and an `X-Validibot-Metadata` JSON header are optional);
//! - JSON envelope: `Content-Type: application/vnd.validibot.envelope+json`,
//!   `{content, content_type, content_encoding?: "utf-8"|"base64", filename?, metadata?}`;
//! - multipart/form-data: a `file` part (streamed to disk) and an optional `metadata` part.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine as _;
use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::{ApiError, AppState};
use validibot_blobs::StoredBlob;
use validibot_store::workflows::Workflow;
use validibot_types::media_types::{canonical, essence, is_vague, sniff};

pub const ENVELOPE_TYPE: &str = "application/vnd.validibot.envelope+json";

pub struct LaunchInput {
    pub blob: StoredBlob,
    /// The content, when it was read into memory (raw and envelope modes).
    pub bytes: Option<Arc<Vec<u8>>>,
    pub content_type: String,
    pub filename: Option<String>,
    pub metadata: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    content: String,
    content_type: String,
    #[serde(default)]
    content_encoding: Option<String>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

pub async fn read(
    state: &AppState,
    workflow: &Workflow,
    filename: Option<String>,
    request: Request,
) -> Result<LaunchInput, ApiError> {
    let headers = request.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let kind = essence(&content_type);
    if kind == "multipart/form-data" {
        let multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::bad_request("INVALID_MULTIPART", e.body_text()))?;
        return read_multipart(state, workflow, multipart).await;
    }
    if kind == ENVELOPE_TYPE {
        let limit = state.settings.max_inline_bytes * 4 / 3 + (1 << 20);
        let body = read_limited(&headers, request.into_body(), limit).await?;
        let env: Envelope = serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(
                "INVALID_ENVELOPE",
                format!("invalid submission envelope: {e}"),
            )
        })?;
        let bytes = match env.content_encoding.as_deref().unwrap_or("utf-8") {
            "utf-8" | "utf8" => env.content.into_bytes(),
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(env.content.as_bytes())
                .map_err(|e| {
                    ApiError::bad_request(
                        "INVALID_ENVELOPE",
                        format!("content is not valid base64: {e}"),
                    )
                })?,
            other => {
                return Err(ApiError::bad_request(
                    "INVALID_ENVELOPE",
                    format!("unsupported content_encoding {other:?}; use utf-8 or base64"),
                ))
            }
        };
        if bytes.len() as u64 > state.settings.max_inline_bytes {
            return Err(too_large(state.settings.max_inline_bytes));
        }
        let content_type = sniffed(
            workflow,
            canonical(&env.content_type, env.filename.as_deref()),
            &bytes,
        );
        check_type(workflow, &content_type)?;
        let metadata = metadata_object(env.metadata)?;
        let bytes = Arc::new(bytes);
        let blob = keep(state, workflow, bytes.clone()).await?;
        return Ok(LaunchInput {
            blob,
            bytes: Some(bytes),
            content_type,
            filename: env.filename,
            metadata,
        });
    }
    // Raw body.
    if kind.is_empty() {
        return Err(unsupported(workflow, "(none)"));
    }
    let content_type = canonical(&kind, filename.as_deref());
    // A vague label may still be judged by the bytes (below), so only refuse now what
    // no sniffing can rescue.
    if !is_vague(&content_type) {
        check_type(workflow, &content_type)?;
    }
    let metadata = match headers.get("x-validibot-metadata") {
        Some(v) => {
            let text = v.to_str().map_err(|_| {
                ApiError::bad_request("INVALID_METADATA", "X-Validibot-Metadata must be JSON text")
            })?;
            metadata_object(Some(serde_json::from_str(text).map_err(|e| {
                ApiError::bad_request(
                    "INVALID_METADATA",
                    format!("X-Validibot-Metadata is not JSON: {e}"),
                )
            })?))?
        }
        None => serde_json::json!({}),
    };
    let body = read_limited(
        &headers,
        request.into_body(),
        state.settings.max_inline_bytes,
    )
    .await?;
    let content_type = sniffed(workflow, content_type, &body);
    check_type(workflow, &content_type)?;
    let body = Arc::new(body);
    let blob = keep(state, workflow, body.clone()).await?;
    Ok(LaunchInput {
        blob,
        bytes: Some(body),
        content_type,
        filename,
        metadata,
    })
}

/// Stores the bytes, or — for a workflow that does not store submissions — only
/// hashes them (they live in this request until its run ends).
async fn keep(
    state: &AppState,
    workflow: &Workflow,
    bytes: Arc<Vec<u8>>,
) -> Result<StoredBlob, ApiError> {
    if workflow.store_submission {
        return Ok(state.blobs.put_bytes(bytes).await?);
    }
    Ok(StoredBlob {
        sha256: hex::encode(Sha256::digest(bytes.as_slice())),
        size: bytes.len() as i64,
    })
}

async fn read_multipart(
    state: &AppState,
    workflow: &Workflow,
    mut multipart: Multipart,
) -> Result<LaunchInput, ApiError> {
    let mut file: Option<(StoredBlob, String, Option<String>)> = None;
    let mut in_memory: Option<Arc<Vec<u8>>> = None;
    let mut metadata = serde_json::json!({});
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request("INVALID_MULTIPART", e.body_text()))?
    {
        match field.name().unwrap_or("") {
            "file" => {
                if file.is_some() {
                    return Err(ApiError::bad_request(
                        "INVALID_MULTIPART",
                        "send exactly one file part",
                    ));
                }
                let filename = field.file_name().map(str::to_owned);
                let content_type = canonical(
                    &essence(field.content_type().unwrap_or("application/octet-stream")),
                    filename.as_deref(),
                );
                check_type(workflow, &content_type)?;
                if !workflow.store_submission {
                    // Never written: held in memory (so within the inline limit) until the run ends.
                    let limit = state.settings.max_inline_bytes;
                    let mut bytes = Vec::new();
                    while let Some(chunk) = field
                        .chunk()
                        .await
                        .map_err(|e| ApiError::bad_request("INVALID_MULTIPART", e.body_text()))?
                    {
                        if (bytes.len() + chunk.len()) as u64 > limit {
                            return Err(too_large(limit));
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    let bytes = Arc::new(bytes);
                    file = Some((
                        keep(state, workflow, bytes.clone()).await?,
                        content_type,
                        filename,
                    ));
                    in_memory = Some(bytes);
                    continue;
                }
                let tmp = tempfile::NamedTempFile::new_in(state.blobs.tmp_dir())
                    .map_err(anyhow::Error::from)?;
                let (std_file, tmp_path) = tmp.into_parts();
                let mut out = tokio::fs::File::from_std(std_file);
                let mut hasher = Sha256::new();
                let mut size: u64 = 0;
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| ApiError::bad_request("INVALID_MULTIPART", e.body_text()))?
                {
                    size += chunk.len() as u64;
                    if size > state.settings.max_file_bytes {
                        return Err(too_large(state.settings.max_file_bytes));
                    }
                    hasher.update(&chunk);
                    out.write_all(&chunk).await.map_err(anyhow::Error::from)?;
                }
                out.flush().await.map_err(anyhow::Error::from)?;
                drop(out);
                let sha256 = hex::encode(hasher.finalize());
                state.blobs.adopt(&tmp_path, &sha256).await?;
                file = Some((
                    StoredBlob {
                        sha256,
                        size: size as i64,
                    },
                    content_type,
                    filename,
                ));
            }
            "metadata" => {
                // Read chunk by chunk and stop at the limit: the launch route lifts the
                // body limit for files, so this part must bound itself.
                let mut text = Vec::new();
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| ApiError::bad_request("INVALID_MULTIPART", e.body_text()))?
                {
                    if text.len() + chunk.len() > MAX_METADATA_BYTES {
                        return Err(metadata_too_large());
                    }
                    text.extend_from_slice(&chunk);
                }
                metadata = metadata_object(Some(serde_json::from_slice(&text).map_err(|e| {
                    ApiError::bad_request("INVALID_METADATA", format!("metadata is not JSON: {e}"))
                })?))?;
            }
            other => {
                return Err(ApiError::bad_request(
                    "INVALID_MULTIPART",
                    format!("unexpected form field {other:?}; send `file` and optional `metadata`"),
                ))
            }
        }
    }
    let (blob, content_type, filename) =
        file.ok_or_else(|| ApiError::bad_request("INVALID_MULTIPART", "missing the `file` part"))?;
    Ok(LaunchInput {
        blob,
        bytes: in_memory,
        content_type,
        filename,
        metadata,
    })
}

/// Reads a body, refusing (413) anything over `limit` without buffering past it.
pub(super) async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
) -> Result<Vec<u8>, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let mut out = Vec::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("INVALID_BODY", format!("reading the body failed: {e}"))
        })?;
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(too_large(limit));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A vague label the workflow does not accept, replaced by what the bytes show when
/// the workflow accepts that (`text/plain` JSON to a JSON workflow).
fn sniffed(workflow: &Workflow, content_type: String, bytes: &[u8]) -> String {
    if is_vague(&content_type) && !workflow.accepts(&content_type) {
        if let Some(seen) = sniff(bytes).filter(|t| workflow.accepts(t)) {
            return seen.to_owned();
        }
    }
    content_type
}

fn check_type(workflow: &Workflow, content_type: &str) -> Result<(), ApiError> {
    if workflow.accepts(content_type) {
        Ok(())
    } else {
        Err(unsupported(workflow, content_type))
    }
}

fn unsupported(workflow: &Workflow, content_type: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        format!(
            "workflow {:?} does not accept {content_type}; it accepts {}",
            workflow.slug,
            workflow.content_types.join(", ")
        ),
    )
    .with_extra(serde_json::json!({"accepted": workflow.content_types}))
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!("submission exceeds the limit of {limit} bytes"),
    )
    .with_extra(serde_json::json!({"limit": limit}))
}

/// Largest submission metadata, as JSON text.
const MAX_METADATA_BYTES: usize = 64 * 1024;

fn metadata_too_large() -> ApiError {
    ApiError::bad_request("INVALID_METADATA", "metadata is limited to 64 KiB")
}

fn metadata_object(value: Option<serde_json::Value>) -> Result<serde_json::Value, ApiError> {
    match value {
        None => Ok(serde_json::json!({})),
        Some(v @ serde_json::Value::Object(_)) if v.to_string().len() <= MAX_METADATA_BYTES => {
            Ok(v)
        }
        Some(serde_json::Value::Object(_)) => Err(metadata_too_large()),
        Some(_) => Err(ApiError::bad_request(
            "INVALID_METADATA",
            "metadata must be a JSON object",
        )),
    }
}
