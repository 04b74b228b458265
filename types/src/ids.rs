//! Identifiers: UUIDv7 text, so ids sort by creation time (cursor pagination relies on it).

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Random alphanumeric token (API key parts, secrets).
pub fn random_token(len: usize) -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
