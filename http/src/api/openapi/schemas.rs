//! JSON Schemas (2020-12, as OpenAPI 3.1 uses) of the API's bodies.

use serde_json::{json, Value};
use validibot_types::events::EventType;
use validibot_types::{ErrorCategory, RunStatus, Severity, StepStatus};

fn obj(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

fn list_of(item: &str) -> Value {
    obj(
        &["results"],
        json!({"results": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}}}),
    )
}

const TIME: &str = "date-time";

/// An enum's wire strings, from the type that owns them.
fn wire<T: AsRef<str>>(values: &[T]) -> Value {
    Value::Array(
        values
            .iter()
            .map(|v| Value::String(v.as_ref().into()))
            .collect(),
    )
}

fn nullable(mut values: Value) -> Value {
    if let Value::Array(v) = &mut values {
        v.push(Value::Null);
    }
    values
}

pub fn all() -> Value {
    let mut all = main();
    let map = all.as_object_mut().expect("schemas are an object");
    for more in [two_factor(), audit()] {
        map.extend(more.as_object().expect("schemas are an object").clone());
    }
    all
}

/// The audit log's answers.
fn audit() -> Value {
    let text = json!({"type": ["string", "null"]});
    json!({
        "AuditEvent": obj(&["id", "at", "actor", "via", "client", "action", "workspace", "target", "status", "detail"], json!({
            "id": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
            "actor": text, "via": {"type": "string", "enum": ["session", "sso", "api_key", "cli", "anonymous"]},
            "client": text, "action": {"type": "string"}, "workspace": text, "target": text,
            "status": {"type": ["integer", "null"]}, "detail": {"type": "object"},
        })),
        "AuditEventList": obj(&["results", "next"], json!({
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEvent"}},
            "next": {"type": ["string", "null"], "description": "The next page's URL, if there may be one."},
        })),
    })
}

/// The second factor's bodies (apart: one `json!` of every schema outgrows the macro's
/// recursion limit).
fn two_factor() -> Value {
    let string = json!({"type": "string"});
    json!({
        "TwoFactorStatus": obj(&["enabled", "recovery_codes_left"], json!({"enabled": {"type": "boolean"}, "recovery_codes_left": {"type": "integer", "minimum": 0}})),
        "TwoFactorBegin": {"type": "object", "required": ["password"], "additionalProperties": false, "properties": {"password": string}},
        "TwoFactorSetup": obj(&["secret", "otpauth_uri", "qr_svg"], json!({"secret": string, "otpauth_uri": {"type": "string", "pattern": "^otpauth://totp/"}, "qr_svg": string})),
        "TwoFactorCode": {"type": "object", "required": ["code"], "additionalProperties": false, "properties": {"code": string}},
        "TwoFactorDisable": {"type": "object", "required": ["password", "code"], "additionalProperties": false, "properties": {"password": string, "code": string}},
        "RecoveryCodes": obj(&["recovery_codes"], json!({"recovery_codes": {"type": "array", "minItems": 10, "maxItems": 10, "items": string}})),
    })
}

fn main() -> Value {
    let string = json!({"type": "string"});
    let nullable_string = json!({"type": ["string", "null"]});
    let nullable_time = json!({"type": ["string", "null"], "format": TIME});
    let subscribable: Vec<EventType> = EventType::ALL
        .iter()
        .copied()
        .filter(|e| e.subscribable())
        .collect();
    let role =
        json!({"type": "string", "enum": ["owner", "admin", "author", "executor", "viewer"]});
    json!({
        "Error": {
            "type": "object", "required": ["detail", "code"],
            "properties": {"detail": string, "code": {"type": "string", "pattern": "^[A-Z0-9_]+$"}},
            "additionalProperties": true,
            "description": "Every error: a sentence for people and a stable code for programs (some add fields, e.g. `feature`)."
        },
        "ApiKey": obj(&["public_id", "name", "created_at"], json!({
            "public_id": string, "name": string, "created_at": {"type": "string", "format": TIME},
            "expires_at": nullable_time, "last_used_at": nullable_time, "revoked_at": nullable_time,
        })),
        "ApiKeyList": list_of("ApiKey"),
        "ApiKeyRequest": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650, "description": "At most 3650; a request authenticated by an expiring key may not create a key that outlives it."},
        }},
        "NewApiKey": obj(&["public_id", "name", "token"], json!({
            "public_id": string, "name": string, "token": {"type": "string", "description": "Shown once."},
            "expires_at": nullable_time,
        })),
        "Webhook": obj(&["id", "url", "description", "format", "enabled", "events", "failed_in_a_row", "created_at", "updated_at"], json!({
            "id": string, "url": {"type": "string", "format": "uri"}, "description": string,
            "format": {"type": "string", "enum": ["standard", "slack"]},
            "enabled": {"type": "boolean"}, "disabled_reason": nullable_string,
            "events": {"type": "array", "items": {"type": "string", "enum": wire(&subscribable)}},
            "failed_in_a_row": {"type": "integer", "minimum": 0},
            "created_at": {"type": "string", "format": TIME}, "updated_at": {"type": "string", "format": TIME},
            "previous_secret_until": nullable_time,
        })),
        "WebhookList": obj(&["results", "events"], json!({
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Webhook"}},
            "events": {"type": "array", "items": obj(&["type", "summary"], json!({"type": {"type": "string", "enum": wire(&subscribable)}, "summary": string}))},
        })),
        "WebhookRequest": {"type": "object", "required": ["url", "events"], "additionalProperties": false, "properties": {
            "url": {"type": "string", "description": "http(s); internal addresses are refused unless the operator allows the network"},
            "events": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": wire(&subscribable)}},
            "description": {"type": "string", "maxLength": 200},
            "format": {"type": "string", "enum": ["standard", "slack"], "default": "standard"},
        }},
        "WebhookChange": {"type": "object", "additionalProperties": false, "properties": {
            "url": string,
            "events": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": wire(&subscribable)}},
            "description": {"type": "string", "maxLength": 200},
            "format": {"type": "string", "enum": ["standard", "slack"]},
            "enabled": {"type": "boolean"},
        }},
        "NewWebhook": {"allOf": [{"$ref": "#/components/schemas/Webhook"}, obj(&["secret"], json!({"secret": {"type": "string", "pattern": "^whsec_", "description": "Shown here and at rotation only."}}))]},
        "WebhookSecret": obj(&["secret", "previous_secret_until"], json!({"secret": {"type": "string", "pattern": "^whsec_"}, "previous_secret_until": {"type": "string", "format": TIME}})),
        "WebhookEventRef": obj(&["event_id"], json!({"event_id": {"type": "string", "pattern": "^msg_"}})),
        "WebhookDeliveryList": obj(&["results"], json!({"results": {"type": "array", "items": obj(
            &["event_id", "event_type", "state", "attempts", "created_at", "log"],
            json!({
                "event_id": string, "event_type": {"type": "string", "enum": wire(EventType::ALL)},
                "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
                "attempts": {"type": "integer", "minimum": 0},
                "next_attempt_at": nullable_time, "created_at": {"type": "string", "format": TIME}, "finished_at": nullable_time,
                "payload": nullable_string,
                "log": {"type": "array", "items": obj(&["attempt", "started_at", "duration_ms"], json!({
                    "attempt": {"type": "integer", "minimum": 1}, "started_at": {"type": "string", "format": TIME},
                    "duration_ms": {"type": "integer", "minimum": 0}, "status_code": {"type": ["integer", "null"]},
                    "response": nullable_string, "error": nullable_string,
                }))},
            }),
        )}})),
        "Invitation": obj(&["id", "email", "role", "state", "created_at", "expires_at"], json!({
            "id": string, "email": {"type": "string", "format": "email"},
            "role": {"enum": ["owner", "admin", "author", "executor", "viewer"]},
            "state": {"enum": ["pending", "accepted", "revoked", "expired"]},
            "invited_by": nullable_string,
            "created_at": {"type": "string", "format": TIME}, "expires_at": {"type": "string", "format": TIME},
            "accepted_at": nullable_time,
        })),
        "InvitationList": list_of("Invitation"),
        "InvitationRequest": {"type": "object", "required": ["email", "role"], "additionalProperties": false, "properties": {
            "email": {"type": "string", "format": "email"},
            "role": {"enum": ["owner", "admin", "author", "executor", "viewer"]},
        }},
        "InvitationPreview": obj(&["workspace", "email", "role", "state", "expires_at"], json!({
            "workspace": obj(&["slug", "name"], json!({"slug": string, "name": string})),
            "email": string, "role": {"enum": ["owner", "admin", "author", "executor", "viewer"]},
            "state": {"enum": ["pending", "accepted", "revoked", "expired"]},
            "invited_by": nullable_string, "expires_at": {"type": "string", "format": TIME},
        })),
        "Signup": {"type": "object", "required": ["username", "password"], "additionalProperties": false, "properties": {
            "username": {"type": "string", "pattern": "^[A-Za-z0-9._@-]{1,150}$"},
            "password": {"type": "string", "minLength": 10, "maxLength": 1024},
        }},
        "Accepted": obj(&["username", "workspace", "role"], json!({
            "username": string,
            "workspace": obj(&["slug", "name"], json!({"slug": string, "name": string})),
            "role": {"enum": ["owner", "admin", "author", "executor", "viewer"]},
        })),
        "PasswordResetRequest": {"type": "object", "required": ["account"], "additionalProperties": false, "properties": {
            "account": {"type": "string", "description": "a username or an email address"},
        }},
        "NewPassword": {"type": "object", "required": ["new_password"], "additionalProperties": false, "properties": {
            "new_password": {"type": "string", "minLength": 10, "maxLength": 1024},
        }},
        "PasswordResetDone": obj(&["username"], json!({"username": string})),
        "Detail": obj(&["detail"], json!({"detail": string})),
        "PasswordChange": {"type": "object", "required": ["current_password", "new_password"], "additionalProperties": false, "properties": {
            "current_password": string,
            "new_password": {"type": "string", "minLength": 10, "maxLength": 1024},
        }},
        "Health": obj(&["status"], json!({"status": {"const": "ok"}, "version": {"type": "string"}})),
        "Readiness": obj(&["status", "checks"], json!({
            "status": {"enum": ["ready", "unavailable"]},
            "checks": {"type": "object", "additionalProperties": obj(&["status"], json!({
                "status": {"enum": ["ok", "failed"]},
                "latency_us": {"type": "integer"},
                "error": {"type": "string"},
            }))},
        })),
        "PublishedKeys": obj(&["keys"], json!({"keys": {"type": "array", "items": obj(&["kid", "alg", "public_key"], json!({"kid": string, "alg": string, "public_key": string}))}})),
        "Workspace": obj(&["slug", "name"], json!({"slug": string, "name": string, "is_default": {"type": "boolean"}, "require_mfa": {"type": "boolean"}, "role": role})),
        "WorkspacePatch": {"type": "object", "additionalProperties": false, "properties": {"require_mfa": {"type": "boolean"}}},
        "WorkspaceList": list_of("Workspace"),
        "NewWorkspace": {"type": "object", "required": ["slug"], "additionalProperties": false,
                          "properties": {"slug": string, "name": string}},
        "CallbackReport": {"type": "object", "additionalProperties": true, "properties": {
            "exit_code": {"type": ["integer", "null"]},
            "output": {"type": "boolean"},
            "agent_error": nullable_string,
        }},
        "CallbackReceipt": obj(&["callback_id", "replay"], json!({"callback_id": string, "replay": {"type": "boolean"}})),
        "RoleBody": {"type": "object", "required": ["role"], "additionalProperties": false, "properties": {"role": role}},
        "MemberList": obj(&["results"], json!({"results": {"type": "array", "items": obj(&["username", "role", "mfa"], json!({"username": string, "role": role, "mfa": {"type": "boolean"}}))}})),
        "License": obj(&["edition", "state", "features"], json!({
            "edition": {"type": "string", "enum": ["community", "pro"]},
            "state": string,
            "features": {"type": "object", "additionalProperties": {"type": "boolean"}},
            "limits": {"type": "object"}, "usage": {"type": "object"}, "message": nullable_string,
            "online": {"type": ["object", "null"], "description": "Online licenses: server, activated, checked_at, next_check_at, offline_until (Unix seconds), revoked, instances_used/max, last_error."},
        })),
        "LicenseBody": {"type": "object", "required": ["license"], "properties": {"license": string}},
        "Team": obj(&["slug", "name"], json!({"slug": string, "name": string, "members": {"type": "array"}, "grants": {"type": "array"}})),
        "TeamList": list_of("Team"),
        "Validator": obj(&["slug", "version", "name"], json!({
            "slug": string, "version": string, "name": string, "description": string,
            "content_types": {"type": "array", "items": string}, "config_schema": {},
            "sha256": string, "wit_version": string, "builtin": {"type": "boolean"},
            "enabled": {"type": "boolean"}, "workspaces": {"type": ["array", "null"], "items": string},
        })),
        "ValidatorDetail": obj(&["slug", "version", "name", "builtin", "versions"], json!({
            "slug": string, "version": string, "name": string, "description": string,
            "content_types": {"type": "array", "items": string}, "config_schema": {},
            "sha256": string, "wit_version": string, "builtin": {"type": "boolean"},
            "versions": {"type": "array", "items": obj(&["version", "sha256", "installed_at", "latest"], json!({
                "slug": string, "version": string, "sha256": string, "size": {"type": "integer"},
                "wit_version": string, "name": string, "grants": {"type": "object"},
                "signed_by": {"type": ["string", "null"]}, "installed_by": {"type": ["string", "null"]},
                "installed_at": string, "latest": {"type": "boolean"},
            }))},
        })),
        "ValidatorAvailability": obj(&["slug", "enabled", "workspaces"], json!({
            "slug": string, "enabled": {"type": "boolean"},
            "workspaces": {"type": ["array", "null"], "items": string, "description": "null: every workspace"},
        })),
        "ValidatorAvailabilityChange": {"type": "object", "additionalProperties": false, "properties": {
            "enabled": {"type": "boolean"},
            "workspaces": {"type": ["array", "null"], "items": string},
        }},
        "ContainerValidator": obj(&["slug", "version"], json!({"slug": string, "version": string, "image": string, "image_id": string, "feature": string, "command": {"type": "array", "items": string, "description": "The image's entrypoint and command, read at registration."}})),
        "ValidatorList": obj(&["results", "advanced"], json!({
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Validator"}},
            "advanced": {"type": "array", "items": {"type": "object"}},
        })),
        "RegisterImage": {"type": "object", "required": ["image"], "properties": {"image": string,
            "image_config": {"description": "The image's config (`docker image inspect` output, its Config, or an OCI image config) instead of the engine's: for an image only a cluster pulls, `image` pinned by digest (repository@sha256:...)."}}},
        "StepDefinition": {"type": "object", "required": ["key", "validator"], "additionalProperties": false, "properties": {
            "key": string, "name": string, "validator": string,
            "config": {"type": "object", "description": "Checked by the validator's own config check before saving."},
            "ruleset": {"description": "More rules for the rules validator (refused on any other step: use assertions)."},
            "assertions": {"type": "array", "maxItems": 100, "items": {"$ref": "#/components/schemas/Assertion"}},
            "depends_on": {"type": "array", "items": string, "description": "Keys of earlier steps this one waits for (default: the previous step; [] starts at once). Steps whose dependencies are done run in parallel."},
            "on_failure": {"type": "string", "enum": ["stop", "continue"], "description": "stop (default): the steps that depend on this one are SKIPPED when it fails; continue: they run anyway."},
            "when": {"type": "string", "description": "CEL over doc, steps, meta and consts: the step runs only when it holds, else it is SKIPPED with the reason."},
            "files": {"type": "array", "maxItems": 20, "items": {"$ref": "#/components/schemas/StepFileRef"}, "description": "Files handed to the validator with the document (WASM validators built for contract 1.1, container validators)."},
        }},
        "StepFileRef": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$", "description": "The name the validator sees (e.g. an xs:include schemaLocation)."},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "A file uploaded to the workspace (POST …/files)."},
            "path": {"type": "string", "description": "CLI only: a local file, uploaded by validibot workflows push/import and read by check."},
            "media_type": string,
        }},
        "StepFile": obj(&["name", "sha256", "size", "media_type"], json!({
            "name": string, "sha256": string, "size": {"type": "integer"}, "media_type": string,
        })),
        "WorkspaceFile": obj(&["sha256", "name", "media_type", "size", "created_at"], json!({
            "sha256": string, "name": string, "media_type": string, "size": {"type": "integer"},
            "created_at": {"type": "string", "format": TIME},
            "used_by": {"type": "array", "items": string, "description": "Workflows with a step (any version) that names the file."},
        })),
        "WorkspaceFileList": list_of("WorkspaceFile"),
        "Assertion": {"type": "object", "required": ["expr"], "additionalProperties": false, "properties": {
            "expr": {"type": "string", "maxLength": 4096, "description": "CEL that must be true, over doc, outputs, steps.<key>.outputs / .status, meta and consts; compiled and its names checked when the workflow is saved."},
            "code": {"type": "string", "description": "The finding's code when it fails (default assertion.failed)."},
            "message": {"type": "string", "description": "The finding's message; {{ <CEL> }} placeholders are evaluated."},
            "severity": {"type": "string", "enum": ["ERROR", "WARNING", "INFO"]},
            "when": {"type": "string", "description": "CEL guard: the assertion is checked only when it is true."},
        }},
        "WorkflowDefinition": {"type": "object", "required": ["steps"], "additionalProperties": false, "properties": {
            "slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"},
            "name": string, "description": string,
            "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 86400},
            "content_types": {"type": "array", "items": string},
            "constants": {"type": "object", "description": "Values assertions read as consts.<name> and configs bind as ${consts.<name>}."},
            "retention_days": {"type": "integer", "minimum": 1, "maximum": 36500, "description": "Days this workflow's runs are kept after they finish (instead of the instance's run retention)."},
            "validator_memory_mib": {"type": "integer", "minimum": 16, "description": "The base memory cap of this workflow's WASM validator calls, in MiB, instead of the instance's VALIDIBOT_VALIDATOR_MEMORY_MIB; a call on a large document still gets 8× its size, and no call more than the instance's VALIDIBOT_VALIDATOR_MEMORY_MAX_MIB (a larger value is refused)."},
            "store_submission": {"type": "boolean", "description": "false: runs keep the document's sha256 and findings, never its bytes (the receiving server's worker runs it; 503 NO_LOCAL_WORKER when it has none)."},
            "steps": {"type": "array", "minItems": 1, "maxItems": 50, "items": {"$ref": "#/components/schemas/StepDefinition"}},
        }},
        "Step": obj(&["position", "key", "name", "validator", "validator_version", "config"], json!({
            "position": {"type": "integer"}, "key": string, "name": string, "validator": string,
            "validator_version": string, "config": {"type": "object"}, "ruleset": {},
            "assertions": {"type": "array", "items": {"$ref": "#/components/schemas/Assertion"}},
            "depends_on": {"type": "array", "items": string},
            "on_failure": {"type": "string", "enum": ["stop", "continue"]},
            "when": string,
            "files": {"type": "array", "items": {"$ref": "#/components/schemas/StepFile"}},
        })),
        "Workflow": obj(&["slug", "version", "name", "digest", "steps"], json!({
            "slug": string, "version": {"type": "integer"}, "name": string, "description": string,
            "timeout_seconds": {"type": "integer"}, "content_types": {"type": "array", "items": string},
            "digest": string, "constants": {"type": "object"},
            "retention_days": {"type": "integer"}, "archived_at": {"type": "string", "format": TIME},
            "validator_memory_mib": {"type": "integer"},
            "store_submission": {"type": "boolean"},
            "steps": {"type": "array", "items": {"$ref": "#/components/schemas/Step"}},
            "created_at": {"type": "string", "format": TIME}, "updated_at": {"type": "string", "format": TIME},
            "unchanged": {"type": "boolean", "description": "On an edit's answer only: the definition equalled the latest version, so nothing was saved."},
        })),
        "WorkflowList": list_of("Workflow"),
        "WorkflowBundle": {"type": "object", "required": ["format", "source", "definition", "validators"], "additionalProperties": false, "properties": {
            "format": {"const": "validibot.workflow-bundle.v1"},
            "source": obj(&["slug", "version", "digest"], json!({"slug": string, "version": {"type": "integer"}, "digest": string})),
            "definition": {"$ref": "#/components/schemas/WorkflowDefinition"},
            "validators": {"type": "array", "items": obj(&["step", "slug", "version"], json!({
                "step": string, "slug": string, "version": string,
                "digest": {"type": ["string", "null"], "description": "sha256 of the WASM component, or the image ID"},
            }))},
            "files": {"type": "array", "items": obj(&["sha256", "name", "media_type", "content_base64"], json!({
                "sha256": string, "name": string, "media_type": string, "content_base64": string,
            }))},
        }},
        "Finding": obj(&["severity", "code", "message", "path"], json!({
            "severity": {"type": "string", "enum": wire(Severity::ALL)},
            "code": string, "message": string,
            "path": {"type": "string", "description": "Where in the document (JSON pointer-like, XPath, row/column, file:line)."},
            "meta": {},
        })),
        "Output": obj(&["name", "value"], json!({"name": string, "value": {}, "unit": string})),
        "RunStep": obj(&["key", "name", "validator", "validator_version", "status", "findings"], json!({
            "key": string, "name": string, "validator": string, "validator_version": string,
            "validator_digest": string,
            "status": {"type": "string", "enum": wire(StepStatus::ALL)},
            "started_at": nullable_time, "finished_at": nullable_time,
            "duration_ms": {"type": ["number", "null"]},
            "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/Output"}},
            "error": string,
            "findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}},
            "read_bytes": {"type": "integer", "description": "While the step runs on a document of 1 MiB or more: bytes of it its validator has read (of submission.size), as the worker last reported (about once a second)."},
            "artifacts": {"type": "array", "description": "Files the host collected from a container validator's output; each is served by GET …/runs/{id}/artifacts/{step}/{name}.",
                "items": obj(&["name", "mime_type", "size", "sha256"], json!({"name": string, "mime_type": string, "size": {"type": "integer"}, "sha256": string}))},
        })),
        "Run": obj(&["id", "url", "workspace", "workflow", "status", "state", "result", "submission", "created_at", "summary"], json!({
            "id": string, "url": string, "workspace": string,
            "workflow": obj(&["slug", "version", "digest"], json!({"slug": string, "version": {"type": "integer"}, "digest": string})),
            "status": {"type": "string", "enum": wire(RunStatus::ALL)},
            "state": {"type": "string", "enum": ["PENDING", "RUNNING", "COMPLETED"]},
            "result": {"type": "string", "enum": ["PASS", "FAIL", "ERROR", "TIMED_OUT", "CANCELED", "UNKNOWN"]},
            "error_category": {"type": ["string", "null"], "enum": nullable(wire(ErrorCategory::ALL))},
            "error_detail": nullable_string,
            "submission": obj(&["id", "content_type", "size", "sha256"], json!({
                "id": string, "filename": nullable_string, "content_type": string,
                "size": {"type": "integer"}, "sha256": string, "metadata": {"type": "object"},
            })),
            "created_by": nullable_string,
            "created_at": {"type": "string", "format": TIME},
            "started_at": nullable_time, "finished_at": nullable_time,
            "duration_ms": {"type": ["number", "null"]},
            "summary": obj(&["errors", "warnings", "infos"], json!({"errors": {"type": "integer"}, "warnings": {"type": "integer"}, "infos": {"type": "integer"}})),
            "steps": {"type": "array", "items": {"$ref": "#/components/schemas/RunStep"}, "description": "Absent in lists."},
        })),
        "RunList": obj(&["results", "next"], json!({
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}},
            "next": {"type": ["string", "null"], "description": "The next page's URL, if there may be one."},
        })),
        "Evidence": obj(&["manifest", "signature"], json!({"manifest": {"type": "object"}, "signature": {"type": "object"}})),
        "Envelope": {"type": "object", "required": ["content", "content_type"], "additionalProperties": false, "properties": {
            "content": string, "content_type": string,
            "content_encoding": {"type": "string", "enum": ["base64"]},
            "filename": string, "metadata": {"type": "object"},
        }},
        "MultipartSubmission": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "contentMediaType": "application/octet-stream"},
            "metadata": {"type": "string", "description": "A JSON object, kept with the submission."},
        }},
    })
}
