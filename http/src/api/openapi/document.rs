//! The OpenAPI 3.1 document: what an operation is ([`Op`]) and the document built from a
//! table of them.

use axum::http::Method;
use serde_json::{json, Map, Value};

use super::schemas;

/// A request body an operation accepts.
#[derive(Debug, Clone, Copy)]
pub struct Body {
    /// `(media type, schema)`; the schema is a component name or `""` for any.
    pub content: &'static [(&'static str, &'static str)],
    pub required: bool,
}

/// One documented operation.
#[derive(Debug, Clone)]
pub struct Op {
    pub method: Method,
    pub path: &'static str,
    pub id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    /// Needs `Authorization: Bearer vbk_…`.
    pub auth: bool,
    /// `(name, JSON type, description)` query parameters.
    pub query: &'static [(&'static str, &'static str, &'static str)],
    pub body: Option<Body>,
    /// Success status, its media type and schema component (`""`: no body).
    pub ok: (u16, &'static str, &'static str),
    /// Other documented statuses: below 400 they carry the success body, from 400 up
    /// the `Error` schema.
    pub other: &'static [u16],
}

fn schema_ref(name: &str) -> Value {
    if name.is_empty() {
        json!({})
    } else {
        json!({"$ref": format!("#/components/schemas/{name}")})
    }
}

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted: still running; poll the run's URL",
        204 => "No content",
        400 => "Invalid request",
        401 => "Missing, invalid, expired or revoked API key",
        402 => "Needs Validibot Pro (or a license limit was reached)",
        403 => "The caller's role does not allow this",
        404 => "Not found (or not visible to the caller)",
        409 => "Conflicts with the current state",
        413 => "Body too large",
        415 => "Unsupported media type",
        422 => "Well-formed but refused (e.g. invalid workflow steps)",
        429 => "Over a rate limit (RATE_LIMITED); retry after `Retry-After` seconds",
        _ => "Error",
    }
}

fn operation(op: &Op) -> Value {
    let mut parameters = path_params(op.path);
    parameters.extend(op.query.iter().map(|(name, ty, description)| {
        json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": ty}})
    }));
    let mut responses = Map::new();
    let (status, media, schema) = op.ok;
    let mut ok = json!({"description": reason(status)});
    if !media.is_empty() {
        ok["content"] = json!({ media: {"schema": schema_ref(schema)} });
    }
    responses.insert(status.to_string(), ok);
    // Every API call spends the caller's rate-limit budgets (crate::rate_limit).
    let limited = op.path.starts_with("/api/") && !op.other.contains(&429);
    for status in op
        .other
        .iter()
        .chain(op.auth.then_some(&401))
        .chain(limited.then_some(&429))
    {
        let (media, schema) = if *status < 400 {
            (media, schema)
        } else {
            ("application/json", "Error")
        };
        let mut response = json!({"description": reason(*status), "content": {media: {"schema": schema_ref(schema)}}});
        if *status == 429 {
            response["headers"] = json!({"Retry-After": {
                "description": "Seconds until the budget allows the request",
                "schema": {"type": "integer", "minimum": 1}}});
        }
        responses.insert(status.to_string(), response);
    }
    let mut v = json!({
        "operationId": op.id,
        "tags": [op.tag],
        "summary": op.summary,
        "responses": responses,
    });
    if !parameters.is_empty() {
        v["parameters"] = json!(parameters);
    }
    if let Some(body) = op.body {
        let content: Map<String, Value> = body
            .content
            .iter()
            .map(|(media, schema)| (media.to_string(), json!({"schema": schema_ref(schema)})))
            .collect();
        v["requestBody"] = json!({"required": body.required, "content": content});
    }
    v["security"] = if op.auth {
        json!([{"apiKey": []}])
    } else {
        json!([])
    };
    v
}

/// The OpenAPI 3.1 document for `ops`.
pub fn document(ops: &[&Op]) -> Value {
    let mut paths = Map::new();
    for op in ops {
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method.as_str().to_lowercase()] = operation(op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Validibot API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Upload a document to a workflow; its steps (validators) run and return findings and a PASS / FAIL / ERROR result. Errors are `{\"detail\", \"code\"}`.",
            "license": {"name": "AGPL-3.0-only", "identifier": "AGPL-3.0-only"},
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas::all(),
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "vbk_<id>_<secret>",
                           "description": "An API key from `validibot admin create-api-key` or the web UI."}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_unique_and_references_known_schemas() {
        let table = super::super::routes::ops();
        let ops: Vec<&Op> = table.iter().collect();
        let mut seen = std::collections::HashSet::new();
        for op in &ops {
            assert!(
                seen.insert((op.method.clone(), op.path)),
                "{} {} twice",
                op.method,
                op.path
            );
        }
        let ids: std::collections::HashSet<_> = ops.iter().map(|o| o.id).collect();
        assert_eq!(ids.len(), ops.len(), "operationIds must be unique");
        let doc = document(&ops);
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for r in text.split("#/components/schemas/").skip(1) {
            let name: String = r.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "undefined schema {name}");
        }
        assert_eq!(doc["openapi"], "3.1.0");
        let run = &doc["paths"]["/api/v1/workspaces/{ws}/runs/{id}"]["get"];
        assert_eq!(run["parameters"][0]["name"], "ws");
        assert_eq!(run["parameters"][1]["name"], "id");
        assert_eq!(
            run["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Run"
        );
        assert!(run["responses"]["401"].is_object());
        assert!(run["responses"]["429"]["headers"]["Retry-After"].is_object());
    }
}
