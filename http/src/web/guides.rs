//! Validator guides in the product: `/ui/validators/{slug}`. A built-in validator's page
//! is its guide from `docs/validators/` (compiled in, so the docs a user reads are the
//! ones the tests check against the validator's config schema); any other validator's
//! page is made from what it publishes — description, content types, config keys.
//! SARIF reports link each rule here (`helpUri`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, PreEscaped};

use super::{layout, WebUser};
use crate::AppState;

/// The guides of the built-in validators, by slug.
const GUIDES: [(&str, &str); 6] = [
    ("csv", include_str!("../../../docs/validators/csv.md")),
    (
        "json-schema",
        include_str!("../../../docs/validators/json-schema.md"),
    ),
    ("rules", include_str!("../../../docs/validators/rules.md")),
    (
        "schematron",
        include_str!("../../../docs/validators/schematron.md"),
    ),
    ("shacl", include_str!("../../../docs/validators/shacl.md")),
    (
        "xml-schema",
        include_str!("../../../docs/validators/xml-schema.md"),
    ),
];

/// Markdown to HTML. The guides are this repository's own files, so their HTML is
/// trusted. Links between guides go to the pages here; links to other files of the
/// repository (`../workflows.md`) have no page in the product, so they become text.
fn render(markdown: &str) -> String {
    use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};
    let mut kept_links: Vec<bool> = Vec::new();
    let events =
        Parser::new_ext(markdown, Options::ENABLE_TABLES).filter_map(|event| match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let local = !dest_url.contains("://") && !dest_url.starts_with('#');
                let guide = dest_url
                    .strip_suffix(".md")
                    .filter(|stem| GUIDES.iter().any(|(slug, _)| slug == stem));
                let target = match (local, guide) {
                    (_, Some(stem)) => Some(CowStr::from(format!("/ui/validators/{stem}"))),
                    (true, None) => None,
                    (false, None) => Some(dest_url),
                };
                kept_links.push(target.is_some());
                target.map(|dest_url| {
                    Event::Start(Tag::Link {
                        link_type,
                        dest_url,
                        title,
                        id,
                    })
                })
            }
            Event::End(TagEnd::Link) => kept_links
                .pop()
                .unwrap_or(true)
                .then_some(Event::End(TagEnd::Link)),
            other => Some(other),
        });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

/// The config keys a validator publishes, with their descriptions (top level).
fn config_keys(schema: &serde_json::Value) -> Markup {
    let props = schema["properties"].as_object();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    html! {
        @match props {
            Some(props) if !props.is_empty() => {
                table {
                    thead { tr { th { "Key" } th { "Type" } th { "Meaning" } } }
                    tbody {
                        @for (key, p) in props {
                            tr {
                                td { code { (key) } @if required.contains(&key.as_str()) { " (required)" } }
                                td { (p["type"].as_str().map(str::to_owned).or_else(|| p["enum"].as_array().map(|e| e.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" | "))).unwrap_or_default()) }
                                td { (p["description"].as_str().unwrap_or("")) @if let Some(d) = p.get("default") { " (default " code { (d) } ")" } }
                            }
                        }
                    }
                }
            }
            _ => p.muted { "This validator takes no configuration." }
        }
    }
}

/// `/ui/validators`: every validator here, each with its page.
pub async fn index(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    let mut all: Vec<_> = state.plugins.all().iter().map(|p| p.meta.clone()).collect();
    all.sort_by(|a, b| a.slug.cmp(&b.slug));
    let body = html! {
        h1 { "Validators" }
        p.muted { "What each validator checks, its step config and its finding codes." }
        ul {
            @for m in &all {
                li { a href={"/ui/validators/" (m.slug)} { (m.name) } " " span.muted { (m.slug) " " (m.version) " · " (m.description) } }
            }
        }
    };
    Html(layout::page("Validators", Some(&user), None, body).into_string()).into_response()
}

pub async fn page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(slug): Path<String>,
) -> Response {
    let guide = GUIDES.iter().find(|(s, _)| *s == slug).map(|(_, md)| *md);
    let meta = state.plugins.get(&slug).map(|p| p.meta.clone());
    let body = match (&meta, guide) {
        (_, Some(markdown)) => html! {
            article.guide { (PreEscaped(render(markdown))) }
        },
        (Some(meta), None) => html! {
            h1 { (meta.name) " " span.muted { (meta.slug) " " (meta.version) } }
            p { (meta.description) }
            p { "Accepts " (meta.content_types.join(", ")) "." }
            h2 { "Step config" }
            (config_keys(&meta.config_schema))
            p.muted { "Its findings' codes and meanings are its author's; this page is made from what the validator publishes." }
        },
        (None, None) => {
            let body = html! {
                h1 { "No such validator" }
                p { "No validator " code { (slug) } " is installed here." }
            };
            return (
                axum::http::StatusCode::NOT_FOUND,
                Html(layout::page("Validator not found", Some(&user), None, body).into_string()),
            )
                .into_response();
        }
    };
    let title = meta.map(|m| m.name).unwrap_or_else(|| slug.clone());
    Html(layout::page(&title, Some(&user), None, body).into_string()).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn guides_render_with_tables_and_links_between_them() {
        let html = super::render(super::GUIDES[0].1);
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("href=\"/ui/validators/rules\""), "{html}");
        let rules = super::render(super::GUIDES[2].1);
        assert!(
            !rules.contains("workflows.md\""),
            "a link to a file with no page here"
        );
        assert!(rules.contains("../workflows.md"), "kept as text");
        for (slug, md) in super::GUIDES {
            assert!(
                md.starts_with(&format!("# `{slug}`")),
                "{slug}'s guide title"
            );
        }
    }
}
