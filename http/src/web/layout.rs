//! The page shell: header with navigation, the CSRF token for scripts, one stylesheet
//! and one script, both served by the binary.

use maud::{html, Markup, DOCTYPE};

use super::WebUser;

pub fn page(title: &str, user: Option<&WebUser>, ws: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(u) = user { meta name="csrf-token" content=(u.csrf); }
                title { (title) " · Validibot" }
                link rel="stylesheet" href="/ui/assets/app.css";
                script src="/ui/assets/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/ui" { "Validibot" }
                    @if let (Some(u), Some(ws)) = (user, ws) {
                        nav aria-label="Main" {
                            a href={"/ui/w/" (ws)} { "Dashboard" }
                            a href={"/ui/w/" (ws) "/workflows"} { "Workflows" }
                            a href={"/ui/w/" (ws) "/runs"} { "Runs" }
                            a href={"/ui/w/" (ws) "/settings"} { "Settings" }
                            a href={"/ui/w/" (ws) "/workspaces"} { "Workspaces" }
                            a href={"/ui/w/" (ws) "/teams"} { "Teams" }
                            a href={"/ui/w/" (ws) "/license"} { "License" }
                            a href={"/ui/w/" (ws) "/audit"} { "Audit log" }
                        }
                        // Keeps the page (dashboard, runs, …) when switching workspace.
                        label.visually-hidden for="workspace-switcher" { "Workspace" }
                        select id="workspace-switcher" data-current=(ws) {
                            @for (w, _) in &u.workspaces {
                                option value=(w.slug) selected[w.slug == ws] { (w.name) " (" (w.slug) ")" }
                            }
                        }
                        span.who { (u.user.username) }
                    }
                    @if let Some(u) = user {
                        form.logout method="post" action="/ui/logout" {
                            input type="hidden" name="csrf" value=(u.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// A stored time as `<time>`: the machine-readable instant, and `YYYY-MM-DD hh:mm:ss`
/// (UTC) to read.
pub fn utc_time(us: i64) -> Markup {
    let at = validibot_types::clock::rfc3339(us);
    html! { time datetime=(at) { (at.get(..19).unwrap_or(&at).replace('T', " ")) } }
}

/// A result or status as a coloured badge (colour is never the only signal: the word is there).
pub fn badge(word: &str) -> Markup {
    let class = match word {
        "PASS" | "PASSED" | "SUCCEEDED" | "delivered" | "enabled" | "accepted" => "ok",
        "FAIL" | "FAILED" | "ERROR" | "TIMED_OUT" | "failed" | "disabled" => "bad",
        "WARNING" | "pending" => "warn",
        _ => "neutral",
    };
    html! { span class={"badge " (class)} { (word) } }
}
