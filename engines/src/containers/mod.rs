//! Advanced validators as OCI containers, run through the Docker Engine API
//! (bollard; Podman's Docker-compatible socket too). `docker` is the runner,
//! `hardening` the fixed security settings and the check that the engine applied
//! them, `envelope` the input/output files, `outcome` the typed result, `logs` the
//! bounded log capture, `instance` and `sweeper` the orphan clean-up, `service` what
//! workers share, `artifacts` the files a validator leaves for the user. Asynchronous
//! steps go through a `launcher`: `detached` (the Docker engine) or `kubernetes` (one
//! Job per step); `services::remote::cloud_run` is the Cloud Run Jobs one.

pub mod artifacts;
pub mod detached;
pub mod docker;
pub mod envelope;
pub mod hardening;
pub mod instance;
pub mod kubernetes;
pub mod launcher;
pub mod logs;
pub mod outcome;
pub mod service;
pub mod sweeper;

pub use docker::{DockerRunner, Job, Report};
pub use hardening::Limits;
pub use outcome::Outcome;
