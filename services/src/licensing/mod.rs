//! The instance's license: stored in the database, verified and turned into a
//! state by the extension's hooks (Community defaults without one), computed at
//! use and cached briefly. Pro checks (`require`, `workspace_decision`) go here;
//! `online` keeps an online license's answer from the license server current.

pub mod online;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use validibot_types::ids::UserId;

use anyhow::Result;
use validibot_store::licensing as licenses;

use validibot_engines::extensions::hooks::{
    Decision, LicenseQuery, RoleQuery, VerifyAnswer, WorkspaceQuery,
};
use validibot_engines::extensions::{ExtensionRegistry, LicenseStatus};
use validibot_store::accounts::{directory, Role};
use validibot_store::db::Db;
use validibot_types::clock::now_us;

/// How long a computed status is reused; also how soon a license installed by
/// another process is seen.
const STATUS_TTL: Duration = Duration::from_secs(5);

pub struct Licensing {
    db: Db,
    registry: Arc<ExtensionRegistry>,
    cache: Mutex<Option<(Instant, Arc<LicenseStatus>)>>,
    /// This instance's id, read (or created) once: it never changes.
    instance_id: tokio::sync::OnceCell<String>,
    /// The last state logged, so problems are logged once per change.
    logged: Mutex<Option<String>>,
}

impl Licensing {
    pub fn new(db: Db, registry: Arc<ExtensionRegistry>) -> Licensing {
        Licensing {
            db,
            registry,
            cache: Mutex::new(None),
            instance_id: tokio::sync::OnceCell::new(),
            logged: Mutex::new(None),
        }
    }

    pub fn registry(&self) -> &ExtensionRegistry {
        &self.registry
    }

    /// The status now (cached for a few seconds).
    pub async fn status(&self) -> Result<Arc<LicenseStatus>> {
        if let Some((at, status)) = &*self.cache.lock().unwrap() {
            if at.elapsed() < STATUS_TTL {
                return Ok(status.clone());
            }
        }
        self.refresh().await
    }

    /// Recomputes the status from the database.
    pub async fn refresh(&self) -> Result<Arc<LicenseStatus>> {
        let began = Instant::now();
        let status = Arc::new(self.compute(None).await?);
        self.log_change(&status);
        // A refresh that read the database earlier (and finished later) must not replace
        // a newer answer, such as the one computed right after a license was installed.
        let mut cache = self.cache.lock().unwrap();
        if cache.as_ref().is_none_or(|(at, _)| *at <= began) {
            *cache = Some((began, status.clone()));
        }
        Ok(status)
    }

    /// This instance's id towards the license server.
    pub async fn instance_id(&self) -> Result<&str> {
        let id = self
            .instance_id
            .get_or_try_init(|| licenses::instance_id(&self.db))
            .await?;
        Ok(id)
    }

    /// The status from the database, with `lease` in place of the stored
    /// license-server answer when given (to try an answer before keeping it).
    async fn compute(&self, lease: Option<String>) -> Result<LicenseStatus> {
        let stored = licenses::load(&self.db).await?;
        let query = LicenseQuery {
            text: stored.text,
            highest_serials: stored.highest_serials,
            now: now_us() / 1_000_000,
            usage: licenses::usage(&self.db).await?,
            lease: lease.or(stored.lease),
            instance_id: Some(self.instance_id().await?.to_owned()),
        };
        let mut status = self.registry.hooks.license_status.call(&query);
        if let (Some(online), Some((at, error))) = (&mut status.online, stored.online_error) {
            online.last_error = Some(format!("{}: {error}", validibot_types::clock::rfc3339(at)));
        }
        Ok(status)
    }

    /// Checks a license file without installing it.
    pub async fn verify(&self, text: &str) -> Result<VerifyAnswer> {
        let stored = licenses::load(&self.db).await?;
        let query = LicenseQuery {
            text: Some(text.to_owned()),
            highest_serials: stored.highest_serials,
            now: now_us() / 1_000_000,
            usage: licenses::usage(&self.db).await?,
            // A file being checked has no answer from the license server yet.
            lease: None,
            instance_id: None,
        };
        Ok(self.registry.hooks.license_verify.call(&query))
    }

    /// Installs a license file if it verifies; the previous one stays otherwise.
    /// `Err(reason)` inside is a refusal to show the operator.
    pub async fn install(&self, text: &str) -> Result<Result<Arc<LicenseStatus>, String>> {
        let answer = self.verify(text).await?;
        let (true, Some(id), Some(serial)) = (answer.ok, &answer.license_id, answer.serial) else {
            return Ok(Err(answer
                .reason
                .unwrap_or_else(|| "the license was refused".into())));
        };
        licenses::save(&self.db, text, id, serial).await?;
        tracing::info!(license_id = id, serial, "license installed");
        // An online license activates at once (a no-op for an offline file).
        Ok(Ok(self.check_online(online::Check::Now).await?))
    }

    /// Installs `text` unless it is already the stored license: for a license file
    /// mounted from a Secret (`VALIDIBOT_LICENSE_FILE`) and read at every start. `Ok(true)`
    /// when installed now, `Ok(false)` when it already was; `Err(reason)` inside is a
    /// refusal (the stored license stays).
    pub async fn install_if_changed(&self, text: &str) -> Result<Result<bool, String>> {
        if licenses::load(&self.db).await?.text.as_deref() == Some(text) {
            return Ok(Ok(false));
        }
        Ok(self.install(text).await?.map(|_| true))
    }

    /// Whether `action` (`create` a workspace, or `write` in one) is allowed now.
    pub async fn workspace_decision(
        &self,
        action: &'static str,
        is_default: bool,
    ) -> Result<Decision> {
        if action == "write" && is_default && !self.registry.hooks.workspaces_policy.is_extended() {
            // The Community answer needs no status: the default workspace is always writable.
            return Ok(Decision::allow());
        }
        // Creating checks limits against the current usage, so it never uses a cached count.
        let status = if action == "create" {
            self.refresh().await?
        } else {
            self.status().await?
        };
        Ok(self.registry.hooks.workspaces_policy.call(&WorkspaceQuery {
            action: action.into(),
            is_default,
            state: status.state.clone(),
            features: status.features.clone(),
            limits: status.limits.clone(),
            usage: status.usage,
        }))
    }

    /// Whether a user may become a member somewhere: a user who holds no membership
    /// yet (or `None`, one not created yet) takes a seat, and the license's
    /// `limits.seats` caps the seats in use. `Err` carries the license state and why;
    /// members already in are never affected.
    pub async fn admit_member(
        &self,
        user_id: Option<&UserId>,
    ) -> Result<Result<(), (String, String)>> {
        // The limit may come from the cached status (it changes only with the license);
        // the seats in use are counted fresh below, so a burst of additions cannot pass it.
        let status = self.status().await?;
        let Some(limit) = status.limits.seats else {
            return Ok(Ok(()));
        };
        if let Some(id) = user_id {
            if !directory::workspaces_of(&self.db, id).await?.is_empty() {
                return Ok(Ok(()));
            }
        }
        let usage = licenses::usage(&self.db).await?;
        if usage.seats < limit {
            return Ok(Ok(()));
        }
        Ok(Err((
            status.state.clone(),
            format!(
                "the license allows {limit} seats and {} are in use: adding a new member needs a seat (nobody already in is removed); free one or upgrade the license",
                usage.seats
            ),
        )))
    }

    /// A user's role in a workspace from their direct membership and their teams'
    /// grants, as the `roles.effective` hook combines them under `status`.
    pub fn effective_role(
        &self,
        direct: Option<Role>,
        teams: &[Role],
        status: &LicenseStatus,
    ) -> Option<Role> {
        let answer = self.registry.hooks.roles_effective.call(&RoleQuery {
            direct: direct.map(|r| r.as_str().to_owned()),
            teams: teams.iter().map(|r| r.as_str().to_owned()).collect(),
            features: status.features.clone(),
        });
        answer.role.as_deref().and_then(Role::parse)
    }

    /// `Ok` when `feature` is on now; otherwise the 402 answer's parts
    /// (license state, detail).
    pub async fn require(&self, feature: &str) -> Result<Result<(), (String, String)>> {
        let status = self.status().await?;
        if status.has(feature) {
            return Ok(Ok(()));
        }
        Ok(Err((
            status.state.clone(),
            format!("{feature} needs Validibot Pro ({})", status.message),
        )))
    }

    fn log_change(&self, status: &LicenseStatus) {
        let mut logged = self.logged.lock().unwrap();
        if logged.as_deref() == Some(status.state.as_str()) {
            return;
        }
        match status.state.as_str() {
            "community" | "valid" => {
                tracing::info!(state = status.state, "license: {}", status.message)
            }
            _ => tracing::warn!(state = status.state, "license: {}", status.message),
        }
        *logged = Some(status.state.clone());
    }
}
