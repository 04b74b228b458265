//! Advanced validators as OCI containers, run through the Docker Engine API
//! (bollard; Podman's Docker-compatible socket too). `docker` is the runner,
//! `hardening` the fixed security settings and the check that the engine applied
//! them, `envelope` the input/output files, `outcome` the typed result, `logs` the
//! bounded log capture, `instance` and `sweeper` the orphan clean-up, `service` what
//! workers share, `remote` the asynchronous steps' containers (detached, the agent first), `artifacts` the files a validator leaves for the user.

pub mod artifacts;
pub mod docker;
pub mod envelope;
pub mod hardening;
pub mod instance;
pub mod logs;
pub mod outcome;
pub mod remote;
pub mod service;
pub mod sweeper;

pub use docker::{DockerRunner, Job, Report};
pub use hardening::Limits;
pub use outcome::Outcome;
