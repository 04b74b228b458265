//! Settings: the user's API keys, password and second factor; the workspace's members,
//! roles, invitations and two-factor requirement; the license with each Pro feature (off
//! in Community, with why).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use validibot_engines::extensions::LicenseStatus;

use super::layout::{self, badge};
use super::{error_page, workspace_for, WebUser};
use crate::AppState;
use validibot_plugin_api::extension::features;
use validibot_store::accounts::{directory, invitations, mfa, Permission, Role};

/// Each Pro feature, on or off with what it needs (settings and the license page).
pub(super) fn feature_list(status: &LicenseStatus) -> Markup {
    html! {
        ul.features {
            @for f in features::ALL {
                li class=(if status.has(f) { "on" } else { "off" }) {
                    (feature_label(f)) " — "
                    @if status.has(f) { "on" } @else {
                        span.muted { "off: needs Validibot Pro with " code { (f) } " (license state: " (status.state) ")" }
                    }
                }
            }
        }
    }
}

fn feature_label(f: &str) -> &'static str {
    match f {
        features::ADVANCED_VALIDATORS => "Advanced validators in containers (EnergyPlus, FMI)",
        features::USER_IMAGES => "Your own validator images",
        features::MULTIPLE_WORKSPACES => "More than one workspace",
        features::TEAMS => "Teams",
        _ => "Other",
    }
}

pub async fn page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(ws): Path<String>,
) -> Result<Response, Response> {
    let (workspace, role) = workspace_for(&state, &user, &ws, Permission::WorkflowView).await?;
    let fail = |e: anyhow::Error| error_page(&user, e.into());
    let keys = directory::api_keys_of(&state.db, &user.user.id)
        .await
        .map_err(fail)?;
    let members = directory::members_of(&state.db, &workspace.id)
        .await
        .map_err(fail)?;
    let license = state.licensing.status().await.map_err(fail)?;
    let mfa_status = mfa::status(&state.db, &user.user.id).await.map_err(fail)?;
    let identities = validibot_store::accounts::sso::identities_of(&state.db, &user.user.id)
        .await
        .map_err(fail)?;
    let manage = role.allows(Permission::WorkspaceManage);
    let invited = if manage {
        invitations::of_workspace(&state.db, &workspace.id)
            .await
            .map_err(fail)?
    } else {
        Vec::new()
    };
    let invitations_url = format!("/api/v1/workspaces/{ws}/invitations");
    let members_url = format!("/api/v1/workspaces/{ws}/members/");
    let body = html! {
        h1 { "Settings" }
        section.card id="api-keys" {
            h2 { "Your API keys" }
            p.muted { "For the CLI (" code { "validibot login" } ") and CI. A key is shown once, when it is created." }
            form id="key-form" {
                label for="key-name" { "Name" }
                input id="key-name" name="name" required maxlength="100" placeholder="ci-pipeline";
                label for="key-days" { "Expires after (days, empty: never)" }
                input id="key-days" name="expires_in_days" type="number" min="1";
                button.primary type="submit" { "Create key" }
            }
            div id="new-key" role="status" aria-live="polite" {}
            table.keys {
                thead { tr { th { "Name" } th { "Id" } th { "Created" } th { "Last used" } th { "State" } th {} } }
                tbody {
                    @for k in &keys {
                        tr {
                            td { (k.name) } td { code { (k.public_id) } }
                            td { (validibot_types::clock::rfc3339(k.created_at)[..10]) }
                            td { (k.last_used_at.map(|t| validibot_types::clock::rfc3339(t)[..10].to_owned()).unwrap_or_else(|| "never".into())) }
                            td { @if k.revoked_at.is_some() { "revoked" } @else { "active" } }
                            td { @if k.revoked_at.is_none() { button.revoke-key type="button" data-id=(k.public_id) { "Revoke" } } }
                        }
                    }
                }
            }
        }
        section.card id="password" {
            h2 { "Your password" }
            form id="password-form" {
                label for="current-password" { "Current password" }
                input id="current-password" name="current" type="password" required autocomplete="current-password";
                label for="new-password" { "New password (at least " (validibot_store::accounts::passwords::MIN_LENGTH) " characters)" }
                input id="new-password" name="new" type="password" required autocomplete="new-password" minlength=(validibot_store::accounts::passwords::MIN_LENGTH);
                label for="repeat-password" { "New password again" }
                input id="repeat-password" name="repeat" type="password" required autocomplete="new-password";
                button type="submit" { "Change password" }
            }
            p id="password-status" role="status" {}
        }
        section.card id="two-factor" {
            h2 { "Two-factor authentication" }
            p {
                "Your password sign-ins "
                @if mfa_status.enabled { strong { "ask for a code" } " from your authenticator app (" (mfa_status.recovery_codes_left) " recovery codes left)." }
                @else { strong { "do not ask for a second factor" } "." }
                " " a href="/ui/account/two-factor" id="manage-two-factor" { "Manage" }
            }
            @if role == Role::Owner {
                label {
                    input type="checkbox" id="require-mfa" data-url={"/api/v1/workspaces/" (ws)} checked[workspace.require_mfa];
                    " Require two-factor authentication for every member of " (workspace.name) " who signs in with a password"
                }
                p id="require-mfa-status" role="status" {}
            } @else if workspace.require_mfa {
                p.muted { "This workspace requires it." }
            }
        }
        @if !identities.is_empty() {
            section.card id="sso-identities" {
                h2 { "Single sign-on" }
                p.muted { "Providers you sign in through. Your roles may follow your groups there." }
                table {
                    thead { tr { th { "Provider" } th { "Address it gave" } th { "Last sign-in" } } }
                    tbody {
                        @for (provider, email, last) in &identities {
                            tr {
                                td { (provider) }
                                td { (email.as_deref().unwrap_or("—")) }
                                td { (validibot_types::clock::rfc3339(*last)) }
                            }
                        }
                    }
                }
            }
        }
        section.card id="members" {
            h2 { "Members of " (workspace.name) }
            table {
                thead { tr { th { "User" } th { "Role" } th { "Two-factor" } @if manage { th { span.visually-hidden { "Actions" } } } } }
                tbody {
                    @for m in &members {
                        @let (name, r) = (&m.username, &m.role);
                        tr {
                            td { (name) }
                            td {
                                @if manage && name != &user.user.username {
                                    select.member-role aria-label={"Role of " (name)} data-url={(members_url) (name)} {
                                        @for opt in Role::ALL {
                                            option value=(opt.as_str()) title=(opt.summary()) selected[opt == *r] { (opt.as_str()) }
                                        }
                                    }
                                } @else { (r.as_str()) }
                            }
                            td { @if m.mfa { "on" } @else { span.muted { "off" } } }
                            @if manage {
                                td {
                                    @if name != &user.user.username {
                                        button.remove-member type="button" data-url={(members_url) (name)} aria-label={"Remove " (name)} { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if manage {
                form id="member-form" data-url=(members_url) {
                    label for="member-name" { "Add a member (username)" }
                    input id="member-name" required;
                    label for="member-role" { "Role" }
                    select id="member-role" aria-describedby="role-help" { @for r in Role::ALL { @if r != Role::Owner { option value=(r.as_str()) title=(r.summary()) { (r.as_str()) } } } }
                    button type="submit" { "Add" }
                }
                p.hint { "Add someone who has an account here by username; invite anyone else by email below." }
            }
            dl id="role-help" class="role-help" {
                @for r in Role::ALL { dt { (r.as_str()) } dd { (r.summary()) } }
            }
            p id="member-status" role="status" {}
        }
        @if manage {
            section.card id="invitations" {
                h2 { "Invitations" }
                @if state.mailer.is_some() {
                    form id="invite-form" data-url=(invitations_url) {
                        label for="invite-email" { "Email address" }
                        input id="invite-email" name="email" type="email" required maxlength="254" placeholder="ada@example.com";
                        label for="invite-role" { "Role" }
                        select id="invite-role" name="role" aria-describedby="role-help" {
                            @for r in Role::ALL { @if r <= role { option value=(r.as_str()) selected[r == Role::Author] { (r.as_str()) } } }
                        }
                        button.primary type="submit" { "Send invitation" }
                    }
                    p.hint { "The link is good once, for " (state.settings.link_lifetimes.invitation.as_secs() / 86_400) " days. Inviting an address again sends a new link and voids the old one." }
                } @else {
                    p.hint id="invite-off" { "This instance sends no mail (no SMTP server is set), so invitations cannot be mailed. An operator can invite with " code { "validibot admin invite --email … --role … --workspace " (ws) } ", which prints the link to pass on." }
                }
                p id="invite-status" role="status" {}
                @if !invited.is_empty() {
                    table.invitations {
                        thead { tr { th { "Email" } th { "Role" } th { "State" } th { "Invited by" } th { "Expires" } th { span.visually-hidden { "Actions" } } } }
                        tbody {
                            @for i in &invited {
                                tr {
                                    td { (i.email) } td { (i.role.as_str()) }
                                    td { (badge(match i.state { invitations::State::Pending => "pending", invitations::State::Accepted => "accepted", invitations::State::Revoked => "revoked", invitations::State::Expired => "expired" })) }
                                    td { (i.invited_by.as_deref().unwrap_or("an operator")) }
                                    td { (validibot_types::clock::rfc3339(i.expires_at)[..10]) }
                                    td {
                                        @if state.mailer.is_some() && matches!(i.state, invitations::State::Pending | invitations::State::Expired) {
                                            button.resend-invitation type="button" data-url={(invitations_url) "/" (i.id) "/resend"} { "Resend" } " "
                                        }
                                        @if i.state == invitations::State::Pending {
                                            button.revoke-invitation type="button" data-url={(invitations_url) "/" (i.id)} aria-label={"Revoke the invitation of " (i.email)} { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if manage {
            section.card id="webhooks" {
                h2 { "Webhooks" }
                p { "Tell CI, chat channels and your own services when runs finish or workflows change. "
                    a href={"/ui/w/" (ws) "/webhooks"} { "Manage webhooks" } }
            }
        }
        section.card id="license" {
            h2 { "License" }
            p { "Edition " strong { (license.edition) } " · state " (badge(&license.state)) }
            @if !license.message.is_empty() { p.muted { (license.message) } }
            (feature_list(&license))
        }
    };
    Ok(Html(layout::page("Settings", Some(&user), Some(&ws), body).into_string()).into_response())
}
