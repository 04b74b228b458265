//! Guest-side SDK for Validibot WASM validators.
//!
//! A validator implements [`Validator`] with plain Rust types and calls
//! [`export_validator!`]; the SDK converts to and from the WIT contract in
//! `wit/1.1.0` so authors never touch generated bindings.
//!
//! ```ignore
//! struct Mine;
//! impl validibot_plugin_api::Validator for Mine { /* … */ }
//! validibot_plugin_api::export_validator!(Mine);
//! ```

#[cfg(feature = "guest")]
pub mod adapter;
#[cfg(any(
    test,
    all(
        feature = "guest-runtime",
        target_family = "wasm",
        not(target_feature = "atomics")
    )
))]
mod bytes;
pub mod compiled;
pub mod container;
pub mod document;
#[cfg(not(target_family = "wasm"))]
pub mod extension;
pub mod finding;
#[cfg(all(
    feature = "guest-runtime",
    target_family = "wasm",
    not(target_feature = "atomics")
))]
pub mod guest_runtime;
#[cfg(feature = "guest")]
pub mod log;
pub mod position;
pub mod records;
pub mod signature;
#[cfg(any(
    test,
    all(
        feature = "guest-runtime",
        target_family = "wasm",
        not(target_feature = "atomics")
    )
))]
mod small_first;
pub mod step_file;
#[cfg(feature = "xml")]
pub mod xml;

#[cfg(feature = "guest")]
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/1.1.0",
        world: "validator",
        pub_export_macro: true,
        export_macro_name: "__export_validator_world",
        default_bindings_module: "validibot_plugin_api::bindings",
    });
}

pub use document::{Document, Reader};
pub use finding::{Finding, Outcome, Output, Severity};
pub use step_file::StepFile;

/// The WIT contract version this SDK builds against.
pub const WIT_VERSION: &str = "1.1.0";

/// What `describe` reports.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub slug: String,
    pub version: String,
    pub name: String,
    pub description: String,
    /// Media types accepted; `*/*` for any, `application/*+json` style suffix patterns allowed.
    pub content_types: Vec<String>,
    /// JSON Schema for the step config.
    pub config_schema: serde_json::Value,
}

/// One document to validate, borrowed from the host's call. Tests build one with
/// `Input { content, config, ..Input::default() }`, so new fields do not break them.
#[derive(Debug, Default)]
pub struct Input<'a> {
    pub content: &'a [u8],
    pub content_type: &'a str,
    /// The step config as JSON text (kept raw so validators can cache by it).
    pub config: &'a str,
    pub ruleset: Option<&'a str>,
    /// Files the workflow author attached to the step (contract 1.1; empty on a 1.0
    /// host). Read on demand: an unread file is never copied into the sandbox.
    pub files: &'a [StepFile],
}

impl Input<'_> {
    /// The step config parsed as JSON.
    pub fn config_json(&self) -> Result<serde_json::Value, ValidatorError> {
        parse_config(self.config)
    }

    /// The step file with this name.
    pub fn file(&self, name: &str) -> Option<&StepFile> {
        self.files.iter().find(|f| f.name == name)
    }
}

/// One document to validate as the 1.1 contract hands it over: read on demand, so a
/// validator that streams never holds it whole. See [`Validator::validate_request`].
#[derive(Debug)]
pub struct Request<'a> {
    pub document: Document<'a>,
    pub content_type: &'a str,
    /// The step config as JSON text.
    pub config: &'a str,
    pub ruleset: Option<&'a str>,
    /// Files the workflow author attached to the step.
    pub files: &'a [StepFile],
}

impl<'a> Request<'a> {
    /// The step config parsed as JSON.
    pub fn config_json(&self) -> Result<serde_json::Value, ValidatorError> {
        parse_config(self.config)
    }

    /// The [`Input`] of the whole-document call, over `content` (the document read whole).
    pub fn with_content<'b>(&self, content: &'b [u8]) -> Input<'b>
    where
        'a: 'b,
    {
        Input {
            content,
            content_type: self.content_type,
            config: self.config,
            ruleset: self.ruleset,
            files: self.files,
        }
    }
}

impl<'a> From<Input<'a>> for Request<'a> {
    fn from(input: Input<'a>) -> Request<'a> {
        Request {
            document: Document::from_bytes(input.content),
            content_type: input.content_type,
            config: input.config,
            ruleset: input.ruleset,
            files: input.files,
        }
    }
}

/// Step config text as JSON; not JSON is a `config.parse` error.
pub fn parse_config(config: &str) -> Result<serde_json::Value, ValidatorError> {
    serde_json::from_str(config)
        .map_err(|e| ValidatorError::new("config.parse", format!("step config is not JSON: {e}")))
}

/// The validator could not do its job; the host records it as a runtime error.
#[derive(Debug, Clone)]
pub struct ValidatorError {
    pub code: String,
    pub message: String,
}

impl ValidatorError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Implement this to write a validator.
pub trait Validator {
    fn describe() -> Metadata;
    /// Check a step config before it is saved.
    fn validate_config(config: &serde_json::Value) -> Result<(), Vec<Finding>>;
    fn validate(input: Input<'_>) -> Result<Outcome, ValidatorError>;

    /// The contract 1.1 call. The default reads the document whole and calls
    /// [`Validator::validate`]; a validator that can work a piece at a time overrides
    /// it and reads `request.document.reader()`, so its memory stays flat however large
    /// the document (then `validate` should call this with `Request::from(input)`).
    fn validate_request(request: Request<'_>) -> Result<Outcome, ValidatorError> {
        let content = request.document.read_all()?;
        Self::validate(request.with_content(&content))
    }
}

/// Export a [`Validator`] implementation as the component's `validator` world. Only a
/// WASM build exports it: natively (tests, benches, a host that links several validator
/// crates) the component's export symbols would collide.
#[macro_export]
macro_rules! export_validator {
    ($ty:ty) => {
        #[cfg(target_family = "wasm")]
        const _: () = {
            struct __ValidibotExport;
            impl $crate::bindings::Guest for __ValidibotExport {
                fn describe() -> $crate::bindings::validibot::validator::types::Metadata {
                    $crate::adapter::describe::<$ty>()
                }
                fn validate_config(
                    config: ::std::string::String,
                ) -> ::std::result::Result<(), ::std::vec::Vec<$crate::bindings::validibot::validator::types::Finding>>
                {
                    $crate::adapter::validate_config::<$ty>(&config)
                }
                fn validate(
                    input: $crate::bindings::validibot::validator::types::Input,
                ) -> ::std::result::Result<
                    $crate::bindings::validibot::validator::types::Outcome,
                    $crate::bindings::validibot::validator::types::ValidatorError,
                > {
                    $crate::adapter::validate::<$ty>(input)
                }
                fn validate_request(
                    request: $crate::bindings::validibot::validator::inputs::Request,
                ) -> ::std::result::Result<
                    $crate::bindings::validibot::validator::types::Outcome,
                    $crate::bindings::validibot::validator::types::ValidatorError,
                > {
                    $crate::adapter::validate_request::<$ty>(request)
                }
            }
            $crate::bindings::__export_validator_world!(__ValidibotExport with_types_in $crate::bindings);
        };
    };
}
