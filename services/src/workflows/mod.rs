//! Workflow definitions as people submit them, checked against the validators this
//! instance has before the store saves a version; and what a step's expressions read
//! when it runs (assertions, config bindings, the run's context).

pub mod assertions;
pub mod bindings;
pub mod bundle;
pub mod context;
pub mod definition;
pub mod graph;
pub mod step_files;
