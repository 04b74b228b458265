//! One component instance's exports, by the contract minor it was built for: the
//! host calls `validate` on a 1.0 component and `validate-request` on a 1.1 one.

use std::sync::Arc;

use wasmtime::component::InstancePre;
use wasmtime::Store;

use super::bindings::{v1_0, v1_1, wit};
use super::document::Document;
use super::host_state::HostState;
use super::input::CallInput;
use super::source::Source;

/// A component ready to instantiate, by the contract minor it was built for.
pub enum Pre {
    V1_0(v1_0::ValidatorPre<HostState>),
    V1_1(v1_1::ValidatorPre<HostState>),
}

/// One instance's exports, by contract minor.
pub enum Bindings {
    V1_0(v1_0::Validator),
    V1_1(v1_1::Validator),
}

type Validated = Result<wit::Outcome, wit::ValidatorError>;

impl Pre {
    pub fn new(pre: InstancePre<HostState>, minor: u64) -> wasmtime::Result<Pre> {
        Ok(match minor {
            0 => Pre::V1_0(v1_0::ValidatorPre::new(pre)?),
            _ => Pre::V1_1(v1_1::ValidatorPre::new(pre)?),
        })
    }

    pub fn engine(&self) -> &wasmtime::Engine {
        match self {
            Pre::V1_0(p) => p.engine(),
            Pre::V1_1(p) => p.engine(),
        }
    }

    pub fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Bindings> {
        Ok(match self {
            Pre::V1_0(p) => Bindings::V1_0(p.instantiate(&mut *store)?),
            Pre::V1_1(p) => Bindings::V1_1(p.instantiate(&mut *store)?),
        })
    }
}

impl Bindings {
    pub fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<wit::Metadata> {
        match self {
            Bindings::V1_0(b) => b.call_describe(store),
            Bindings::V1_1(b) => b.call_describe(store),
        }
    }

    pub fn validate_config(
        &self,
        store: &mut Store<HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), Vec<wit::Finding>>> {
        match self {
            Bindings::V1_0(b) => b.call_validate_config(store, config),
            Bindings::V1_1(b) => b.call_validate_config(store, config),
        }
    }

    /// A 1.0 component gets the document as one list (and no step files: a step with
    /// files on such a validator is refused when the workflow is saved); a 1.1 one
    /// gets `source` handles it reads on demand.
    pub fn validate(
        &self,
        store: &mut Store<HostState>,
        input: &CallInput<'_>,
    ) -> wasmtime::Result<Validated> {
        match self {
            Bindings::V1_0(b) => b.call_validate(
                store,
                &wit::Input {
                    content: input.document.load()?.to_vec(),
                    content_type: input.content_type.to_owned(),
                    config: input.config.to_owned(),
                    ruleset: input.ruleset.map(str::to_owned),
                },
            ),
            Bindings::V1_1(b) => {
                use v1_1::validibot::validator::inputs;
                let table = store.data_mut().table();
                let document = table.push(Source::new(input.document.clone()))?;
                let mut files = Vec::with_capacity(input.files.len());
                for f in input.files {
                    files.push(inputs::StepFile {
                        name: f.name.clone(),
                        media_type: f.media_type.clone(),
                        sha256: f.sha256.clone(),
                        content: table.push(Source::new(Document::from(Arc::clone(&f.content))))?,
                    });
                }
                let request = inputs::Request {
                    document,
                    content_type: input.content_type.to_owned(),
                    config: input.config.to_owned(),
                    ruleset: input.ruleset.map(str::to_owned),
                    files,
                };
                b.call_validate_request(store, &request)
            }
        }
    }
}
