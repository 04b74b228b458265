//! The Kubernetes launcher: one `batch/v1` Job per asynchronous step (`objects`), its
//! state read from the Job and its pod (`status`), removed with its pods when the step
//! is collected. The client is `kube`'s, configured as `kubectl` would be: in a pod,
//! its service account (the chart's Role allows Jobs and reading pods); elsewhere, the
//! kubeconfig. Connected on first use, like the Docker runner.

pub mod objects;
pub mod status;

use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::future::BoxFuture;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams, PropagationPolicy};
use tokio::sync::OnceCell;

use super::launcher::{ContainerLauncher, RemoteJob, RemoteState};
pub use objects::JobSettings;

pub struct KubernetesLauncher {
    settings: JobSettings,
    client: OnceCell<kube::Client>,
}

impl KubernetesLauncher {
    pub fn new(settings: JobSettings) -> KubernetesLauncher {
        KubernetesLauncher {
            settings,
            client: OnceCell::new(),
        }
    }

    /// Talking plain HTTP to the API at `url`, unauthenticated (`kubectl proxy`; the
    /// tests' recorded API server).
    pub fn at(settings: JobSettings, url: &str) -> Result<KubernetesLauncher> {
        let mut config = kube::Config::new(url.parse().context("the API's URL")?);
        config.default_namespace = settings.namespace.clone();
        Ok(KubernetesLauncher {
            settings,
            client: OnceCell::from(kube::Client::try_from(config)?),
        })
    }

    async fn client(&self) -> Result<&kube::Client> {
        self.client
            .get_or_try_init(|| async {
                kube::Client::try_default().await.context(
                    "connecting to the Kubernetes API (in-cluster service account or kubeconfig)",
                )
            })
            .await
    }

    async fn jobs(&self) -> Result<Api<Job>> {
        Ok(Api::namespaced(
            self.client().await?.clone(),
            &self.settings.namespace,
        ))
    }

    async fn pods(&self) -> Result<Api<Pod>> {
        Ok(Api::namespaced(
            self.client().await?.clone(),
            &self.settings.namespace,
        ))
    }

    async fn create(&self, job: &RemoteJob, name: &str) -> Result<()> {
        let command = job.command.as_deref().filter(|c| !c.is_empty()).context(
            "the Kubernetes launcher needs the image's command, recorded when the validator \
             is registered: register this version again",
        )?;
        anyhow::ensure!(
            job.image_ref.contains("@sha256:"),
            "the Kubernetes launcher pulls images by digest: register {} as `repository@sha256:…` \
             (it was registered as {:?})",
            job.validator,
            job.image_ref
        );
        let object = objects::job(&self.settings, job, name, command);
        self.jobs()
            .await?
            .create(&PostParams::default(), &object)
            .await
            .with_context(|| format!("creating Job {name}"))?;
        Ok(())
    }

    async fn read(&self, name: &str) -> Result<RemoteState> {
        let Some(job) = self.jobs().await?.get_opt(name).await? else {
            return Ok(RemoteState::Missing);
        };
        let pods = self
            .pods()
            .await?
            .list(&ListParams::default().labels(&format!("job-name={name}")))
            .await
            .with_context(|| format!("listing the pods of Job {name}"))?;
        Ok(status::state_of(Some(&job), &pods.items))
    }

    async fn delete(&self, name: &str, grace: Duration) -> Result<()> {
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            grace_period_seconds: Some(grace.as_secs() as u32),
            ..Default::default()
        };
        match self.jobs().await?.delete(name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e).with_context(|| format!("deleting Job {name}")),
        }
    }
}

impl ContainerLauncher for KubernetesLauncher {
    fn kind(&self) -> &'static str {
        "kubernetes"
    }

    fn execution_name(&self, validator: &str) -> String {
        objects::job_name(validator)
    }

    fn launch<'a>(
        &'a self,
        job: &'a RemoteJob,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>>> {
        Box::pin(async move {
            self.create(job, name).await?;
            Ok(None)
        })
    }

    fn state<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<RemoteState>> {
        Box::pin(self.read(name))
    }

    fn stop_and_remove<'a>(&'a self, name: &'a str, grace: Duration) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.delete(name, grace))
    }
}
