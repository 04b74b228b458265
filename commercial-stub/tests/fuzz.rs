//! Every hook the host may call, and the license file parser, with random and
//! half-valid requests: an answer or an error, never a panic (a panic would be caught
//! at the seam, but it would turn Pro off for the whole instance).

use proptest::prelude::*;
use serde_json::{json, Value};
use validibot_commercial::hooks;

/// Every hook the crate takes, and one it does not.
fn hook_names() -> Vec<&'static str> {
    let mut names = hooks::HOOKS.to_vec();
    names.push("no.such.hook");
    names
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("text".to_owned()),
                    Just("now".to_owned()),
                    Just("usage".to_owned()),
                    Just("highest_serials".to_owned()),
                    Just("license".to_owned()),
                    Just("workspaces".to_owned()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hooks_answer_any_request(hook in prop::sample::select(hook_names()), request in json_value(), bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = hooks::dispatch(hook, request.to_string().as_bytes());
        let _ = hooks::dispatch(hook, &bytes);
    }

    #[test]
    fn license_files_of_any_shape(body in ".{0,300}", value in json_value(), now in any::<i64>()) {
        for text in [
            body.clone(),
            format!("-----BEGIN VALIDIBOT LICENSE-----\n{body}\n-----END VALIDIBOT LICENSE-----\n"),
            validibot_commercial::license::armor::encode(value.to_string().as_bytes()),
            validibot_commercial::license::armor::encode(
                json!({"v": 1, "alg": "ed25519", "kid": body, "payload": "", "sig": ""}).to_string().as_bytes(),
            ),
        ] {
            prop_assert!(validibot_commercial::license::verify(&text, &Default::default(), now).is_err());
        }
    }
}
