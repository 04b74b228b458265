//! What the license server remembers: per license, the instances holding an
//! activation and whether the vendor revoked it. Kept in one JSON file, rewritten
//! atomically (temporary file, fsync, rename) after every change, so a crash never
//! leaves half a ledger. Every decision takes `now` so tests can move time.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use validibot_types::license_server::{codes, ActivationRequest, Refusal};

use crate::license::lease::{Lease, LeaseStatus, OFFLINE_SECONDS};
use crate::license::Payload;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    #[serde(default)]
    pub licenses: BTreeMap<String, LicenseRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    #[serde(default)]
    pub activations: BTreeMap<String, Activation>,
}

/// One instance's activation (times are Unix seconds, the server's clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    pub instance_name: String,
    pub activated_at: i64,
    pub last_seen_at: i64,
    pub seats_in_use: u64,
    pub workspaces_in_use: u64,
    pub version: String,
}

impl Ledger {
    pub fn load(path: &Path) -> Result<Ledger, String> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{} is not a license ledger: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledger::default()),
            Err(e) => Err(format!("reading {}: {e}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let mut tmp = PathBuf::from(path);
        tmp.as_mut_os_string().push(".tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&serde_json::to_vec_pretty(self).expect("ledger serializes"))?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// Activates or revalidates `req`'s instance for the verified `license`. A revoked
    /// license still gets a signed answer (saying so), so the instance turns Pro off at
    /// its next check instead of carrying on offline. Activations unseen for longer
    /// than the offline allowance no longer hold a slot (those instances are off).
    pub fn activate(
        &mut self,
        license: &Payload,
        req: &ActivationRequest,
        now: i64,
    ) -> Result<Lease, Refusal> {
        let Some(online) = &license.online else {
            return Err(Refusal {
                detail: format!(
                    "license {} is an offline license: it needs no activation",
                    license.license_id
                ),
                code: codes::LICENSE_INVALID.into(),
            });
        };
        if req.instance_id.trim().is_empty() || req.instance_id.len() > 200 {
            return Err(Refusal {
                detail: "instance_id must be 1 to 200 characters".into(),
                code: codes::BAD_REQUEST.into(),
            });
        }
        let record = self.licenses.entry(license.license_id.clone()).or_default();
        record
            .activations
            .retain(|id, a| id == &req.instance_id || now - a.last_seen_at < OFFLINE_SECONDS);
        let lease = |record: &LicenseRecord, status| Lease {
            license_id: license.license_id.clone(),
            serial: license.serial,
            instance_id: req.instance_id.clone(),
            status,
            checked_at: now,
            instances_used: record.activations.len() as u64,
            instances_max: online.instances,
            revoked_at: record.revoked_at,
        };
        if record.revoked_at.is_some() {
            return Ok(lease(record, LeaseStatus::Revoked));
        }
        let known = record.activations.contains_key(&req.instance_id);
        if !known && record.activations.len() as u64 >= online.instances {
            return Err(Refusal {
                detail: format!(
                    "license {} allows {} instance(s) and all are activated; release one (`validibot license release` on it) or ask for more",
                    license.license_id, online.instances
                ),
                code: codes::INSTANCES_EXHAUSTED.into(),
            });
        }
        let activated_at = record
            .activations
            .get(&req.instance_id)
            .map_or(now, |a| a.activated_at);
        record.activations.insert(
            req.instance_id.clone(),
            Activation {
                instance_name: req.instance_name.chars().take(200).collect(),
                activated_at,
                last_seen_at: now,
                seats_in_use: req.seats_in_use,
                workspaces_in_use: req.workspaces_in_use,
                version: req.version.chars().take(50).collect(),
            },
        );
        Ok(lease(record, LeaseStatus::Active))
    }

    /// Frees `instance_id`'s slot; whether it held one.
    pub fn release(&mut self, license_id: &str, instance_id: &str) -> bool {
        self.licenses
            .get_mut(license_id)
            .is_some_and(|r| r.activations.remove(instance_id).is_some())
    }

    /// Revokes (`Some(now)`) or reinstates (`None`) a license.
    pub fn set_revoked(&mut self, license_id: &str, revoked_at: Option<i64>) -> &LicenseRecord {
        let record = self.licenses.entry(license_id.to_owned()).or_default();
        record.revoked_at = revoked_at;
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::Online;

    fn license(instances: u64) -> Payload {
        let t = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        Payload {
            license_id: "lic-1".into(),
            serial: 3,
            customer: "C".into(),
            edition: "pro".into(),
            features: vec![],
            limits: Default::default(),
            issued_at: t,
            not_before: t,
            expires_at: t + time::Duration::days(365),
            grace_days: 0,
            online: Some(Online {
                server: "http://127.0.0.1:1".into(),
                instances,
            }),
        }
    }

    fn req(instance: &str) -> ActivationRequest {
        ActivationRequest {
            license: String::new(),
            instance_id: instance.into(),
            instance_name: "host".into(),
            seats_in_use: 2,
            workspaces_in_use: 1,
            version: "1".into(),
        }
    }

    #[test]
    fn slots_are_counted_per_instance_and_freed_by_release_or_silence() {
        let (lic, mut ledger, now) = (license(2), Ledger::default(), 1_800_000_000);
        let a = ledger.activate(&lic, &req("a"), now).unwrap();
        assert_eq!(
            (a.status, a.instances_used, a.checked_at),
            (LeaseStatus::Active, 1, now)
        );
        ledger.activate(&lic, &req("b"), now).unwrap();
        // Revalidating an activation never needs a free slot.
        assert_eq!(
            ledger
                .activate(&lic, &req("a"), now + 10)
                .unwrap()
                .instances_used,
            2
        );
        let refused = ledger.activate(&lic, &req("c"), now).unwrap_err();
        assert_eq!(refused.code, codes::INSTANCES_EXHAUSTED);
        assert!(ledger.release("lic-1", "b"));
        assert!(!ledger.release("lic-1", "b"));
        ledger.activate(&lic, &req("c"), now).unwrap();
        // "a" stays silent past the offline allowance: its slot goes to "d".
        let later = now + 10 + OFFLINE_SECONDS;
        ledger.activate(&lic, &req("c"), later - 1).unwrap();
        let d = ledger.activate(&lic, &req("d"), later).unwrap();
        assert_eq!(d.instances_used, 2);
        assert!(!ledger.licenses["lic-1"].activations.contains_key("a"));
    }

    #[test]
    fn a_revoked_license_gets_a_signed_revocation_not_a_refusal() {
        let (lic, mut ledger, now) = (license(1), Ledger::default(), 1_800_000_000);
        ledger.activate(&lic, &req("a"), now).unwrap();
        ledger.set_revoked("lic-1", Some(now + 5));
        let lease = ledger.activate(&lic, &req("a"), now + 6).unwrap();
        assert_eq!(
            (lease.status, lease.revoked_at),
            (LeaseStatus::Revoked, Some(now + 5))
        );
        ledger.set_revoked("lic-1", None);
        assert_eq!(
            ledger.activate(&lic, &req("a"), now + 7).unwrap().status,
            LeaseStatus::Active
        );
    }

    #[test]
    fn offline_licenses_and_bad_ids_are_refused() {
        let mut lic = license(1);
        let mut ledger = Ledger::default();
        assert_eq!(
            ledger.activate(&lic, &req(" "), 1).unwrap_err().code,
            codes::BAD_REQUEST
        );
        lic.online = None;
        assert_eq!(
            ledger.activate(&lic, &req("a"), 1).unwrap_err().code,
            codes::LICENSE_INVALID
        );
    }

    #[test]
    fn the_ledger_survives_a_save_and_load() {
        let dir = std::env::temp_dir().join(format!("ledger-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ledger.json");
        let mut ledger = Ledger::load(&path).unwrap();
        ledger.activate(&license(1), &req("a"), 5).unwrap();
        ledger.save(&path).unwrap();
        assert_eq!(Ledger::load(&path).unwrap(), ledger);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
