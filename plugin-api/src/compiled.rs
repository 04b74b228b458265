//! A per-instance cache of whatever a validator compiles from its config.
//!
//! The host reuses an instance for many calls, so compiling a schema or
//! ruleset once per instance (not once per call) is what makes WASM validation
//! cheap. Keys are the raw config text; the cache is bounded and simply cleared
//! when full, so a workflow cycling through many configs cannot grow it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::{Finding, StepFile, ValidatorError};

/// A cache key for a config compiled together with the step's files: the config text,
/// then each file's name and digest (a file changed under the same name is a new key).
pub fn key_with_files(config: &str, files: &[StepFile]) -> String {
    let mut key = config.to_owned();
    for f in files {
        key.push('\0');
        key.push_str(&f.name);
        key.push(':');
        key.push_str(&f.sha256);
    }
    key
}

/// Use inside `thread_local!`: `static CACHE: CompiledCache<T> = CompiledCache::new(64);`
pub struct CompiledCache<T> {
    entries: RefCell<HashMap<String, Rc<T>>>,
    /// The last hit: a workflow step calls with the same config again and again,
    /// and comparing the text is cheaper than hashing it.
    last: RefCell<Option<(String, Rc<T>)>>,
    capacity: usize,
}

impl<T> CompiledCache<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RefCell::new(HashMap::new()),
            last: RefCell::new(None),
            capacity: capacity.max(1),
        }
    }

    /// The cached value for `key`, building (and caching) it on a miss. Errors are not cached.
    pub fn get_or_try_build<E>(
        &self,
        key: &str,
        build: impl FnOnce() -> Result<T, E>,
    ) -> Result<Rc<T>, E> {
        if let Some((last_key, value)) = &*self.last.borrow() {
            if last_key == key {
                return Ok(value.clone());
            }
        }
        let hit = self.entries.borrow().get(key).cloned();
        let value = match hit {
            Some(hit) => hit,
            None => self.insert(key, Rc::new(build()?)),
        };
        *self.last.borrow_mut() = Some((key.to_owned(), value.clone()));
        Ok(value)
    }

    fn insert(&self, key: &str, built: Rc<T>) -> Rc<T> {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key.to_owned(), built.clone());
        built
    }

    /// The value compiled from the step config text, parsing it as JSON on a miss.
    /// A config that does not compile becomes a `ValidatorError` with the finding's code.
    pub fn for_config(
        &self,
        config: &str,
        compile: impl FnOnce(&serde_json::Value) -> Result<T, Finding>,
    ) -> Result<Rc<T>, ValidatorError> {
        self.get_or_try_build(config, || {
            let value = crate::parse_config(config)?;
            compile(&value).map_err(|f| ValidatorError::new(f.code, f.message))
        })
    }

    /// [`Self::for_config`] for a config compiled with the step's files: keyed by the
    /// config text and each file's name and digest ([`key_with_files`]).
    pub fn for_config_with_files(
        &self,
        config: &str,
        files: &[StepFile],
        compile: impl FnOnce(&serde_json::Value, &[StepFile]) -> Result<T, Finding>,
    ) -> Result<Rc<T>, ValidatorError> {
        if files.is_empty() {
            return self.for_config(config, |value| compile(value, files));
        }
        self.get_or_try_build(&key_with_files(config, files), || {
            let value = crate::parse_config(config)?;
            compile(&value, files).map_err(|f| ValidatorError::new(f.code, f.message))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_once_and_clears_when_full() {
        let cache = CompiledCache::new(2);
        let mut builds = 0;
        for key in ["a", "a", "b", "a"] {
            let v: Rc<String> = cache
                .get_or_try_build::<()>(key, || {
                    builds += 1;
                    Ok(key.to_uppercase())
                })
                .unwrap();
            assert_eq!(*v, key.to_uppercase());
        }
        assert_eq!(builds, 2);
        cache
            .get_or_try_build::<()>("c", || Ok("C".into()))
            .unwrap();
        assert_eq!(cache.entries.borrow().len(), 1, "cleared when full");
        assert!(cache.get_or_try_build::<&str>("d", || Err("bad")).is_err());
        assert!(
            !cache.entries.borrow().contains_key("d"),
            "errors are not cached"
        );
    }
}
