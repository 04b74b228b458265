//! The route table: each operation's documentation beside the handler serving it.

use std::sync::{Arc, OnceLock};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::Method;
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::Json;
use serde_json::Value;

use super::super::{
    account, api_keys, audit, availability, callbacks, files, invitations, license, runs, teams,
    two_factor, validators, webhooks, workflows, workspaces, AppState,
};
use super::document::{document, Body, Op};
use crate::probes;

type Handler = MethodRouter<Arc<AppState>>;

const JSON: &str = "application/json";
const NO_QUERY: &[(&str, &str, &str)] = &[];
const AUDIT_QUERY: &[(&str, &str, &str)] = &[
    ("actor", "string", "Only this user's events"),
    ("action", "string", "Only this action (an operation id such as createWorkflow, or signIn …); a trailing * matches a prefix"),
    ("workspace", "string", "Only events in this workspace"),
    ("since", "string", "RFC 3339 time: events at or after it"),
    ("until", "string", "RFC 3339 time: events before it"),
    ("limit", "integer", "1-1000 (default 100; not for the export)"),
    ("cursor", "string", "From the previous page's `next`"),
];

#[allow(clippy::too_many_arguments)]
fn op(
    method: Method,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    ok: (u16, &'static str, &'static str),
    other: &'static [u16],
    handler: Handler,
) -> (Op, Handler) {
    let auth = !path.starts_with("/.well-known")
        && !matches!(
            path,
            "/healthz"
                | "/readyz"
                | "/metrics"
                | "/api/v1/openapi.json"
                // A link's token is its credential; a reset is asked for signed out.
                | "/api/v1/invitations/{token}"
                | "/api/v1/invitations/{token}/signup"
                | "/api/v1/password-reset"
                | "/api/v1/password-reset/{token}"
                // Its signed, short-lived token is its credential.
                | "/api/v1/callbacks/{callback_id}"
        );
    (
        Op {
            method,
            path,
            id,
            tag,
            summary,
            auth,
            query: NO_QUERY,
            body: None,
            ok,
            other,
        },
        handler,
    )
}

fn with_body(
    mut entry: (Op, Handler),
    content: &'static [(&'static str, &'static str)],
) -> (Op, Handler) {
    entry.0.body = Some(Body {
        content,
        required: true,
    });
    entry
}

fn with_query(
    mut entry: (Op, Handler),
    query: &'static [(&'static str, &'static str, &'static str)],
) -> (Op, Handler) {
    entry.0.query = query;
    entry
}

/// The served document, built once from the table.
fn openapi_json() -> Json<Value> {
    static DOC: OnceLock<Value> = OnceLock::new();
    Json(
        DOC.get_or_init(|| {
            let table = ops();
            document(&table.iter().collect::<Vec<_>>())
        })
        .clone(),
    )
}

/// Every operation the server answers, with its handler.
pub fn routes() -> Vec<(Op, Handler)> {
    use Method as M;
    vec![
        op(M::GET, "/healthz", "health", "operations", "Liveness: the process answers.", (200, JSON, "Health"), &[], get(probes::healthz)),
        op(M::GET, "/readyz", "ready", "operations", "Readiness: the database answers, storage takes a write, the Docker engine answers (when configured). 503 lists what failed.", (200, JSON, "Readiness"), &[503], get(|State(s): State<Arc<AppState>>| async move { probes::readyz(&s.dependencies()).await })),
        op(M::GET, "/metrics", "metrics", "operations", "Prometheus metrics (text exposition format 0.0.4).", (200, "text/plain", ""), &[503], get(|State(s): State<Arc<AppState>>| async move { probes::metrics(&s.db, &s.licensing).await })),
        op(M::GET, "/api/v1/openapi.json", "openapi", "meta", "This document (OpenAPI 3.1).", (200, JSON, ""), &[], get(|| async { openapi_json() })),
        op(M::GET, "/.well-known/validibot-keys.json", "publishedKeys", "evidence", "The instance's evidence-signing public keys.", (200, JSON, "PublishedKeys"), &[], get(runs::published_keys)),
        op(M::GET, "/api/v1/workspaces", "listWorkspaces", "workspaces", "Workspaces the caller belongs to, with their role.", (200, JSON, "WorkspaceList"), &[], get(workspaces::list)),
        with_body(op(M::POST, "/api/v1/workspaces", "createWorkspace", "workspaces", "Create a workspace (more than one needs Pro).", (201, JSON, "Workspace"), &[400, 402, 409], post(workspaces::create)), &[(JSON, "NewWorkspace")]),
        with_body(op(M::PATCH, "/api/v1/workspaces/{ws}", "updateWorkspace", "workspaces", "Change a workspace's settings (owners): `require_mfa` makes members who sign in with a password use a second factor (the owner's own must be on).", (200, JSON, "Workspace"), &[400, 403, 404, 409], patch(workspaces::update)), &[(JSON, "WorkspacePatch")]),
        op(M::GET, "/api/v1/workspaces/{ws}/members", "listMembers", "workspaces", "Direct members and their roles.", (200, JSON, "MemberList"), &[404], get(workspaces::members)),
        with_body(op(M::PUT, "/api/v1/workspaces/{ws}/members/{username}", "setMember", "workspaces", "Add a member or change their role (admins).", (204, "", ""), &[400, 403, 404], put(workspaces::set_member)), &[(JSON, "RoleBody")]),
        op(M::DELETE, "/api/v1/workspaces/{ws}/members/{username}", "removeMember", "workspaces", "Remove a member (admins; not above their own role, never the last owner).", (204, "", ""), &[403, 404, 409], delete(workspaces::remove_member)),
        op(M::GET, "/api/v1/workspaces/{ws}/invitations", "listInvitations", "workspaces", "The workspace's invitations, newest first, with their state (admins).", (200, JSON, "InvitationList"), &[403, 404], get(invitations::list)),
        with_body(op(M::POST, "/api/v1/workspaces/{ws}/invitations", "createInvitation", "workspaces", "Invite an email address with a role (admins, up to their own role); the single-use link is mailed, never answered. Inviting the address again replaces its pending invitation. 503 without SMTP, 502 when the mail server refused (nobody is invited then).", (201, JSON, "Invitation"), &[400, 402, 403, 404, 409, 502, 503], post(invitations::create)), &[(JSON, "InvitationRequest")]),
        op(M::DELETE, "/api/v1/workspaces/{ws}/invitations/{id}", "revokeInvitation", "workspaces", "Revoke a pending invitation: its link stops working.", (204, "", ""), &[403, 404], delete(invitations::revoke)),
        op(M::POST, "/api/v1/workspaces/{ws}/invitations/{id}/resend", "resendInvitation", "workspaces", "Mail a new link for a pending or expired invitation (the old link stops working).", (201, JSON, "Invitation"), &[402, 403, 404, 502, 503], post(invitations::resend)),
        op(M::GET, "/api/v1/invitations/{token}", "showInvitation", "accounts", "What an invitation link offers: workspace, role, inviter, state (no sign-in: the token is the credential).", (200, JSON, "InvitationPreview"), &[404], get(invitations::show)),
        with_body(op(M::POST, "/api/v1/invitations/{token}/signup", "signUpWithInvitation", "accounts", "Accept an invitation with a new account (the invited address is its email).", (201, JSON, "Accepted"), &[400, 402, 409, 410], post(invitations::signup)), &[(JSON, "Signup")]),
        op(M::POST, "/api/v1/invitations/{token}/accept", "acceptInvitation", "accounts", "Accept an invitation as the signed-in caller (a higher role they hold stays).", (200, JSON, "Accepted"), &[402, 410], post(invitations::accept)),
        with_body(op(M::POST, "/api/v1/password-reset", "requestPasswordReset", "accounts", "Mail a reset link to the account with that username or address. Answered 202 whether or not one exists; throttled per account and client (429).", (202, JSON, "Detail"), &[400, 429, 503], post(account::request_reset)), &[(JSON, "PasswordResetRequest")]),
        with_body(op(M::POST, "/api/v1/callbacks/{callback_id}", "receiveCallback", "runs", "An asynchronous container step's agent reports that its container is done (`Authorization: Bearer <callback token>`, signed for this execution and URL). The output envelope is read from storage, not from the request. 202 recorded (the run resumes), 200 a replay of a recorded callback, 409 too late (the step was ruled on without it, or the run ended).", (202, JSON, "CallbackReceipt"), &[200, 400, 401, 404, 409], post(callbacks::receive)), &[(JSON, "CallbackReport")]),
        with_body(op(M::POST, "/api/v1/password-reset/{token}", "resetPassword", "accounts", "Set a new password with a reset link (single use); every session of the account ends.", (200, JSON, "PasswordResetDone"), &[400, 410], post(account::reset)), &[(JSON, "NewPassword")]),
        op(M::GET, "/api/v1/api-keys", "listApiKeys", "accounts", "The caller's API keys (never their secrets).", (200, JSON, "ApiKeyList"), &[], get(api_keys::list)),
        with_body(op(M::POST, "/api/v1/api-keys", "createApiKey", "accounts", "Create an API key for the caller; the token is in this answer only.", (201, JSON, "NewApiKey"), &[400], post(api_keys::create)), &[(JSON, "ApiKeyRequest")]),
        op(M::DELETE, "/api/v1/api-keys/{public_id}", "revokeApiKey", "accounts", "Revoke one of the caller's API keys.", (204, "", ""), &[404], delete(api_keys::revoke)),
        with_body(op(M::POST, "/api/v1/account/password", "changePassword", "accounts", "Change the caller's own password (the current one is asked for; wrong answers are throttled like sign-ins). Every other web session of the user ends.", (204, "", ""), &[400, 403, 429], post(account::change_password)), &[(JSON, "PasswordChange")]),
        op(M::GET, "/api/v1/account/two-factor", "showTwoFactor", "accounts", "Whether the caller's password sign-ins ask for a second factor (TOTP), and how many recovery codes are left.", (200, JSON, "TwoFactorStatus"), &[], get(two_factor::status)),
        with_body(op(M::POST, "/api/v1/account/two-factor", "beginTwoFactor", "accounts", "Start turning on two-factor authentication (the password is asked for): a new secret, its otpauth:// URI and QR code (SVG). Nothing changes until a code from it is confirmed.", (200, JSON, "TwoFactorSetup"), &[400, 403, 409, 429], post(two_factor::begin)), &[(JSON, "TwoFactorBegin")]),
        with_body(op(M::POST, "/api/v1/account/two-factor/confirm", "confirmTwoFactor", "accounts", "Turn two-factor authentication on with a code from the new secret; the ten recovery codes are in this answer only.", (200, JSON, "RecoveryCodes"), &[400, 403, 409, 429], post(two_factor::confirm)), &[(JSON, "TwoFactorCode")]),
        with_body(op(M::POST, "/api/v1/account/two-factor/recovery-codes", "regenerateRecoveryCodes", "accounts", "New recovery codes for a current code; the old ones stop working.", (200, JSON, "RecoveryCodes"), &[400, 403, 409, 429], post(two_factor::recovery_codes)), &[(JSON, "TwoFactorCode")]),
        with_body(op(M::POST, "/api/v1/account/two-factor/disable", "disableTwoFactor", "accounts", "Turn two-factor authentication off (the password and a code or recovery code are asked for).", (204, "", ""), &[400, 403, 409, 429], post(two_factor::disable)), &[(JSON, "TwoFactorDisable")]),
        op(M::GET, "/api/v1/license", "showLicense", "license", "Edition, license state, features and limits.", (200, JSON, "License"), &[], get(license::show)),
        with_body(op(M::PUT, "/api/v1/license", "installLicense", "license", "Install a license file (instance admins).", (200, JSON, "License"), &[400, 403], put(license::install)), &[("text/plain", ""), (JSON, "LicenseBody")]),
        op(M::POST, "/api/v1/license/check", "checkLicense", "license", "Ask an online license's server now (instance admins).", (200, JSON, "License"), &[403, 409], post(license::check)),
        with_query(op(M::GET, "/api/v1/audit", "listAuditEvents", "audit", "The audit log, newest first (Pro: audit.log; instance admins): sign-ins, keys, members, roles, workflows, validators, licenses, settings — who, when, from where.", (200, JSON, "AuditEventList"), &[400, 402, 403], get(audit::list)), AUDIT_QUERY),
        with_query(op(M::GET, "/api/v1/audit/export", "exportAuditEvents", "audit", "Every event the filter matches as JSON lines, newest first (Pro: audit.log; instance admins).", (200, "application/x-ndjson", ""), &[400, 402, 403], get(audit::export)), AUDIT_QUERY),
        op(M::GET, "/api/v1/teams", "listTeams", "teams", "Teams with members and grants (Pro: teams).", (200, JSON, "TeamList"), &[402, 403], get(teams::list)),
        with_body(op(M::POST, "/api/v1/teams", "createTeam", "teams", "Create a team (Pro: teams).", (201, JSON, "Team"), &[400, 402, 403, 409], post(teams::create)), &[(JSON, "NewWorkspace")]),
        op(M::DELETE, "/api/v1/teams/{team}", "deleteTeam", "teams", "Delete a team with its memberships and grants (members keep their own roles).", (204, "", ""), &[402, 403, 404], delete(teams::delete)),
        op(M::PUT, "/api/v1/teams/{team}/members/{username}", "addTeamMember", "teams", "Add a user to a team.", (204, "", ""), &[402, 403, 404], put(teams::add_member)),
        op(M::DELETE, "/api/v1/teams/{team}/members/{username}", "removeTeamMember", "teams", "Remove a user from a team.", (204, "", ""), &[402, 403, 404], delete(teams::remove_member)),
        with_body(op(M::PUT, "/api/v1/workspaces/{ws}/teams/{team}", "grantTeam", "teams", "Give a team a role in a workspace.", (204, "", ""), &[400, 402, 403, 404], put(teams::grant)), &[(JSON, "RoleBody")]),
        op(M::DELETE, "/api/v1/workspaces/{ws}/teams/{team}", "revokeTeam", "teams", "Take a team's role in a workspace away.", (204, "", ""), &[402, 403, 404], delete(teams::revoke)),
        op(M::GET, "/api/v1/validators", "listValidators", "validators", "Installed WASM validators and container validators (with whether each can run).", (200, JSON, "ValidatorList"), &[], get(validators::list)),
        with_body(op(M::POST, "/api/v1/validators", "installValidator", "validators", "Install a WASM validator component.", (201, JSON, "Validator"), &[400, 403, 409, 413, 422], post(validators::install).layer(DefaultBodyLimit::disable())), &[("application/wasm", "")]),
        op(M::GET, "/api/v1/validators/{slug}", "getValidator", "validators", "A validator with its installed versions (signer, installer, grants).", (200, JSON, "ValidatorDetail"), &[404], get(validators::show)),
        with_body(op(M::PATCH, "/api/v1/validators/{slug}", "changeValidatorAvailability", "validators", "Disable or enable an installed validator, or (Pro) make it available in chosen workspaces only.", (200, JSON, "ValidatorAvailability"), &[400, 402, 403, 404, 409], patch(availability::change)), &[(JSON, "ValidatorAvailabilityChange")]),
        op(M::DELETE, "/api/v1/validators/{slug}", "uninstallValidator", "validators", "Uninstall every version of a validator (refused while a workflow needs it).", (204, "", ""), &[403, 404, 409], delete(validators::uninstall)),
        op(M::DELETE, "/api/v1/validators/{slug}/versions/{version}", "uninstallValidatorVersion", "validators", "Uninstall one version of a validator (refused while a workflow needs it).", (204, "", ""), &[403, 404, 409], delete(validators::uninstall_version)),
        with_body(op(M::POST, "/api/v1/validators/containers", "registerContainerValidator", "validators", "Put a container image on the allow-list (Pro).", (201, JSON, "ContainerValidator"), &[400, 402, 403, 404, 409], post(validators::register_container)), &[(JSON, "RegisterImage")]),
        with_query(with_body(op(M::POST, "/api/v1/workspaces/{ws}/files", "uploadFile", "files", "Upload a file for workflow steps (raw body; Content-Type is its media type). A step names it by sha256 in its files.", (201, JSON, "WorkspaceFile"), &[400, 403, 404, 413], post(files::upload).layer(DefaultBodyLimit::disable())), &[("*/*", "")]), &[("name", "string", "The file's name")]),
        op(M::GET, "/api/v1/workspaces/{ws}/files", "listFiles", "files", "The workspace's uploaded files, newest first, with the workflows that use each.", (200, JSON, "WorkspaceFileList"), &[404], get(files::list)),
        op(M::GET, "/api/v1/workspaces/{ws}/files/{sha256}", "downloadFile", "files", "An uploaded file's bytes.", (200, "*/*", ""), &[404], get(files::download)),
        op(M::DELETE, "/api/v1/workspaces/{ws}/files/{sha256}", "deleteFile", "files", "Forget an uploaded file; 409 FILE_IN_USE while a workflow step names it.", (204, "", ""), &[403, 404, 409], delete(files::delete)),
        with_query(op(M::GET, "/api/v1/workspaces/{ws}/workflows", "listWorkflows", "workflows", "Workflows (latest versions; archived ones with archived=true).", (200, JSON, "WorkflowList"), &[404], get(workflows::list)), &[("archived", "boolean", "Include archived workflows")]),
        with_query(with_body(op(M::POST, "/api/v1/workspaces/{ws}/workflows", "createWorkflow", "workflows", "Create a workflow; each step's config is checked by its validator first. With dry_run=true: checked the same way, nothing saved, 200 {valid, slug, digest, steps}.", (201, JSON, "Workflow"), &[200, 400, 402, 403, 404, 409, 422], post(workflows::create)), &[(JSON, "WorkflowDefinition")]), &[("dry_run", "boolean", "Check only; save nothing")]),
        with_query(with_body(op(M::POST, "/api/v1/workspaces/{ws}/workflows/import", "importWorkflow", "workflows", "Recreate an exported workflow here (a new workflow). 409 VALIDATOR_MISMATCH lists steps that would run other validator versions or digests than the bundle pinned.", (201, JSON, "Workflow"), &[400, 402, 403, 404, 409, 422], post(workflows::import)), &[(JSON, "WorkflowBundle")]), &[("slug", "string", "Save under this slug instead of the bundle's"), ("accept_validators", "boolean", "Import even where this instance would run other validator versions")]),
        op(M::POST, "/api/v1/workspaces/{ws}/workflows/{slug}/archive", "archiveWorkflow", "workflows", "Archive a workflow: no new runs or edits; its runs and versions stay.", (200, JSON, "Workflow"), &[403, 404], post(workflows::archive)),
        op(M::POST, "/api/v1/workspaces/{ws}/workflows/{slug}/unarchive", "unarchiveWorkflow", "workflows", "Make an archived workflow usable again.", (200, JSON, "Workflow"), &[403, 404], post(workflows::unarchive)),
        op(M::DELETE, "/api/v1/workspaces/{ws}/workflows/{slug}", "deleteWorkflow", "workflows", "Delete a workflow (every version) that has no runs; 409 WORKFLOW_HAS_RUNS otherwise (archive it instead).", (204, "", ""), &[403, 404, 409], delete(workflows::delete)),
        with_query(op(M::GET, "/api/v1/workspaces/{ws}/workflows/{slug}/export", "exportWorkflow", "workflows", "The workflow (latest or a given version) as one bundle: its definition, the validators its steps pin and its steps' files.", (200, JSON, "WorkflowBundle"), &[404], get(workflows::export)), &[("version", "integer", "A specific version")]),
        with_query(op(M::GET, "/api/v1/workspaces/{ws}/workflows/{slug}", "getWorkflow", "workflows", "A workflow (latest or a given version).", (200, JSON, "Workflow"), &[404], get(workflows::get)), &[("version", "integer", "A specific version")]),
        with_body(op(M::PUT, "/api/v1/workspaces/{ws}/workflows/{slug}", "updateWorkflow", "workflows", "Edit a workflow (a version with runs stays; the edit becomes the next version).", (200, JSON, "Workflow"), &[400, 402, 403, 404, 422], put(workflows::update)), &[(JSON, "WorkflowDefinition")]),
        with_query(with_body(op(M::POST, "/api/v1/workspaces/{ws}/workflows/{slug}/runs", "launchRun", "runs", "Submit a document: raw body, multipart `file`, or a JSON envelope. Answers 201 when finished within the wait budget, else 202.", (201, JSON, "Run"), &[202, 400, 403, 404, 409, 413, 415, 503], post(runs::launch).layer(DefaultBodyLimit::disable())), &[("*/*", ""), ("multipart/form-data", "MultipartSubmission"), ("application/vnd.validibot.envelope+json", "Envelope")]), &[("wait", "number", "Seconds to wait for the result (0-60)"), ("filename", "string", "The document's name"), ("version", "integer", "Launch this workflow version")]),
        with_query(op(M::GET, "/api/v1/workspaces/{ws}/runs", "listRuns", "runs", "Runs, newest first (executors see their own).", (200, JSON, "RunList"), &[400, 404], get(runs::list)), &[("limit", "integer", "1-200 (default 50)"), ("cursor", "string", "From the previous page's `next`"), ("workflow", "string", "Only this workflow"), ("status", "string", "PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED or TIMED_OUT")]),
        op(M::GET, "/api/v1/workspaces/{ws}/runs/{id}", "getRun", "runs", "A run with its steps and findings.", (200, JSON, "Run"), &[404], get(runs::get)),
        op(M::POST, "/api/v1/workspaces/{ws}/runs/{id}/cancel", "cancelRun", "runs", "Cancels a queued or running run (executors: their own; authors and above: any). It ends CANCELED at once; a running step is interrupted.", (200, JSON, "Run"), &[403, 404, 409], post(runs::cancel)),
        op(M::GET, "/api/v1/workspaces/{ws}/runs/{id}/evidence", "getEvidence", "evidence", "The finished run's signed evidence manifest.", (200, JSON, "Evidence"), &[404, 409], get(runs::evidence)),
        with_query(op(M::GET, "/api/v1/workspaces/{ws}/runs/{id}/report", "getReport", "runs", "The run as text, JSON, SARIF 2.1.0 or JUnit XML.", (200, "application/sarif+json", ""), &[400, 404], get(runs::report)), &[("format", "string", "text, json (default), sarif or junit")]),
        op(M::GET, "/api/v1/workspaces/{ws}/webhooks", "listWebhooks", "webhooks", "The workspace's webhook endpoints (admins), and the events they may subscribe to.", (200, JSON, "WebhookList"), &[403, 404], get(webhooks::list)),
        with_body(op(M::POST, "/api/v1/workspaces/{ws}/webhooks", "createWebhook", "webhooks", "Add a webhook endpoint; the signing secret is in this answer (and a rotation's) only. 422 when the URL reaches an internal address.", (201, JSON, "NewWebhook"), &[400, 403, 404, 409, 422], post(webhooks::create)), &[(JSON, "WebhookRequest")]),
        op(M::GET, "/api/v1/workspaces/{ws}/webhooks/{id}", "getWebhook", "webhooks", "A webhook endpoint.", (200, JSON, "Webhook"), &[403, 404], get(webhooks::get)),
        with_body(op(M::PATCH, "/api/v1/workspaces/{ws}/webhooks/{id}", "updateWebhook", "webhooks", "Change an endpoint's URL, events, description or format, or disable or enable it (enabling clears its failure count).", (200, JSON, "Webhook"), &[400, 403, 404, 422], patch(webhooks::update)), &[(JSON, "WebhookChange")]),
        op(M::DELETE, "/api/v1/workspaces/{ws}/webhooks/{id}", "deleteWebhook", "webhooks", "Delete an endpoint with its queue and log.", (204, "", ""), &[403, 404], delete(webhooks::delete)),
        op(M::POST, "/api/v1/workspaces/{ws}/webhooks/{id}/rotate-secret", "rotateWebhookSecret", "webhooks", "A new signing secret; the previous one also signs (a second signature) for 24 hours.", (200, JSON, "WebhookSecret"), &[403, 404], post(webhooks::rotate_secret)),
        op(M::POST, "/api/v1/workspaces/{ws}/webhooks/{id}/test", "testWebhook", "webhooks", "Queue a webhook.test message to the endpoint (even a disabled one).", (202, JSON, "WebhookEventRef"), &[403, 404], post(webhooks::test)),
        with_query(op(M::GET, "/api/v1/workspaces/{ws}/webhooks/{id}/deliveries", "listWebhookDeliveries", "webhooks", "The endpoint's newest deliveries with every attempt (status, response start, error, time).", (200, JSON, "WebhookDeliveryList"), &[403, 404], get(webhooks::log)), &[("limit", "integer", "1-200 (default 50)")]),
        op(M::POST, "/api/v1/workspaces/{ws}/webhooks/{id}/deliveries/{event_id}/redeliver", "redeliverWebhook", "webhooks", "Send a finished delivery again (same id and body, one more attempt); 409 while it is still being tried.", (202, JSON, "WebhookEventRef"), &[403, 404, 409], post(webhooks::redeliver)),
        op(M::GET, "/api/v1/workspaces/{ws}/runs/{id}/artifacts/{step}/{name}", "getArtifact", "runs", "A file a container validator left (listed in the step's `artifacts` output).", (200, "application/octet-stream", ""), &[404], get(runs::artifact)),
    ]
}

/// The documentation half of [`routes`].
pub fn ops() -> Vec<Op> {
    routes().into_iter().map(|(op, _)| op).collect()
}
