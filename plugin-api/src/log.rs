//! Logging to the host (the only capability a validator has by default).

use crate::bindings::validibot::validator::log::{log, Level};

pub fn debug(message: &str) {
    log(Level::Debug, message);
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn warn(message: &str) {
    log(Level::Warn, message);
}
