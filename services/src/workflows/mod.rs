//! Workflow definitions as people submit them, checked against the validators this
//! instance has before the store saves a version.

pub mod definition;
