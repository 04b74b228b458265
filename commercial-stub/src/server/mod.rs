//! The vendor's license server (`validibot-license serve`): activates instances of
//! online licenses, counts them against the license's `online.instances`, revokes,
//! and signs every answer with the vendor key so an instance can keep the last one
//! and trust it offline. Synchronous (tiny_http, one request at a time): the load is
//! one request per instance per day, and a single writer keeps the ledger simple.
//!
//! Instance API: `POST /v1/activations`, `POST /v1/activations/release` (body:
//! [`ActivationRequest`]). Vendor API (`Authorization: Bearer <admin token>`):
//! `GET /v1/admin/licenses/{id}`, `POST /v1/admin/licenses/{id}/revoke`,
//! `POST /v1/admin/licenses/{id}/reinstate`,
//! `DELETE /v1/admin/licenses/{id}/activations/{instance_id}`.

pub mod ledger;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::{json, Value};
use validibot_types::license_server::{codes, ActivationRequest, ACTIVATE_PATH, RELEASE_PATH};

use crate::keys;
use crate::license::{self, lease};
use ledger::Ledger;

/// Requests larger than this are refused (a license file is a few kilobytes).
const MAX_BODY: u64 = 64 * 1024;

pub struct Server {
    kid: String,
    key: SigningKey,
    admin_token: String,
    ledger_path: PathBuf,
    ledger: Ledger,
}

/// An answer: status, JSON body.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body: body.to_string(),
    }
}

fn refusal(status: u16, code: &str, detail: impl Into<String>) -> Answer {
    answer(status, json!({"detail": detail.into(), "code": code}))
}

/// Compares without an early exit, so the token cannot be guessed byte by byte.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Server {
    /// `admin_token` guards the vendor API; the ledger file is created if missing.
    pub fn new(
        kid: String,
        key: SigningKey,
        admin_token: String,
        ledger_path: PathBuf,
    ) -> Result<Server, String> {
        if admin_token.trim().len() < 16 {
            return Err("the admin token must be at least 16 characters".into());
        }
        let ledger = Ledger::load(&ledger_path)?;
        Ok(Server {
            kid,
            key,
            admin_token: admin_token.trim().to_owned(),
            ledger_path,
            ledger,
        })
    }

    /// Licenses are trusted if signed by a key this build embeds or by the key this
    /// server signs with.
    fn trusted(&self) -> impl Fn(&str) -> Option<VerifyingKey> + '_ {
        move |kid: &str| {
            if kid == self.kid {
                Some(self.key.verifying_key())
            } else {
                keys::embedded(kid)
            }
        }
    }

    /// Answers one request at `now` (Unix seconds).
    pub fn handle(
        &mut self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Answer {
        let path = path.split('?').next().unwrap_or_default();
        match (method, path) {
            ("GET", "/healthz") => answer(200, json!({"ok": true})),
            ("POST", ACTIVATE_PATH) => self.activate(body, now),
            ("POST", RELEASE_PATH) => self.release(body, now),
            (_, p) if p.starts_with("/v1/admin/") => {
                if !bearer.is_some_and(|t| same_secret(t, &self.admin_token)) {
                    return refusal(401, "UNAUTHORIZED", "the vendor API needs the admin token");
                }
                let rest: Vec<&str> = p["/v1/admin/".len()..].split('/').collect();
                self.admin(method, &rest, now)
            }
            _ => refusal(404, "NOT_FOUND", format!("no route {method} {path}")),
        }
    }

    fn request(
        &self,
        body: &[u8],
        now: i64,
    ) -> Result<(ActivationRequest, license::Payload), Answer> {
        let req: ActivationRequest = serde_json::from_slice(body)
            .map_err(|e| refusal(400, codes::BAD_REQUEST, format!("body: {e}")))?;
        let payload = license::verify_with(&req.license, &BTreeMap::new(), now, &self.trusted())
            .map_err(|e| refusal(422, codes::LICENSE_INVALID, e.to_string()))?;
        Ok((req, payload))
    }

    fn activate(&mut self, body: &[u8], now: i64) -> Answer {
        let (req, payload) = match self.request(body, now) {
            Ok(r) => r,
            Err(a) => return a,
        };
        match self.ledger.activate(&payload, &req, now) {
            Ok(lease) => {
                if let Err(e) = self.ledger.save(&self.ledger_path) {
                    return refusal(503, "LEDGER_UNWRITABLE", e);
                }
                Answer {
                    status: 200,
                    body: lease::sign(&lease, &self.kid, &self.key),
                }
            }
            Err(r) => {
                let status = if r.code == codes::INSTANCES_EXHAUSTED {
                    409
                } else {
                    422
                };
                refusal(status, &r.code, r.detail)
            }
        }
    }

    fn release(&mut self, body: &[u8], now: i64) -> Answer {
        let (req, payload) = match self.request(body, now) {
            Ok(r) => r,
            Err(a) => return a,
        };
        self.free(&payload.license_id, &req.instance_id)
    }

    fn free(&mut self, license_id: &str, instance_id: &str) -> Answer {
        if !self.ledger.release(license_id, instance_id) {
            return refusal(
                404,
                "NOT_ACTIVATED",
                format!("instance {instance_id} holds no activation of {license_id}"),
            );
        }
        match self.ledger.save(&self.ledger_path) {
            Ok(()) => answer(200, json!({"released": instance_id})),
            Err(e) => refusal(503, "LEDGER_UNWRITABLE", e),
        }
    }

    fn admin(&mut self, method: &str, rest: &[&str], now: i64) -> Answer {
        match (method, rest) {
            ("GET", ["licenses", id]) => {
                let record = self.ledger.licenses.get(*id).cloned().unwrap_or_default();
                answer(200, json!({"license_id": id, "record": record}))
            }
            ("POST", ["licenses", id, action @ ("revoke" | "reinstate")]) => {
                let at = (*action == "revoke").then_some(now);
                let record = self.ledger.set_revoked(id, at).clone();
                match self.ledger.save(&self.ledger_path) {
                    Ok(()) => answer(200, json!({"license_id": id, "record": record})),
                    Err(e) => refusal(503, "LEDGER_UNWRITABLE", e),
                }
            }
            ("DELETE", ["licenses", id, "activations", instance]) => {
                let (id, instance) = (id.to_string(), instance.to_string());
                self.free(&id, &instance)
            }
            _ => refusal(
                404,
                "NOT_FOUND",
                format!("no vendor route {method} /{}", rest.join("/")),
            ),
        }
    }

    /// Serves on `listen` until the process ends, printing the bound address first
    /// (port 0 picks a free one).
    pub fn run(mut self, listen: &str) -> Result<(), String> {
        let http =
            tiny_http::Server::http(listen).map_err(|e| format!("listening on {listen}: {e}"))?;
        let addr = http
            .server_addr()
            .to_ip()
            .map_or_else(|| listen.to_owned(), |a| a.to_string());
        println!("license server listening on http://{addr}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        for mut request in http.incoming_requests() {
            let method = request.method().as_str().to_owned();
            let path = request.url().to_owned();
            let bearer = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Authorization"))
                .and_then(|h| h.value.as_str().strip_prefix("Bearer ").map(str::to_owned));
            let mut body = Vec::new();
            let read = request
                .as_reader()
                .take(MAX_BODY + 1)
                .read_to_end(&mut body);
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let answer = match read {
                Err(e) => refusal(400, codes::BAD_REQUEST, format!("reading the body: {e}")),
                Ok(_) if body.len() as u64 > MAX_BODY => {
                    refusal(413, codes::BAD_REQUEST, "the body is larger than 64 KiB")
                }
                Ok(_) => self.handle(&method, &path, bearer.as_deref(), &body, now),
            };
            eprintln!("{method} {path} -> {}", answer.status);
            let response = tiny_http::Response::from_string(answer.body)
                .with_status_code(answer.status)
                .with_header(
                    tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
                        .expect("a valid header"),
                );
            let _ = request.respond(response);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
