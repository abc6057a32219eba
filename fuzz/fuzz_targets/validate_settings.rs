//! `validate_settings` on arbitrary bytes: the answer is a
//! SettingsValidationResponse whose refusals name every unknown key, and
//! settings it accepts place a real executor and a real driver without
//! breaking an invariant.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use spot_balancer_fuzz::invariants;

fuzz_target!(|document: &[u8]| {
    let answer = spot_balancer::validate_settings(document).expect("a guest error");
    let response = invariants::settings_answer(document, &answer);
    if !response.valid {
        return;
    }

    // Accepted settings must work on the request path.
    let settings: Value = serde_json::from_slice(document).unwrap_or_default();
    for labels in [
        json!({"spark-role": "executor", "spark-app-selector": "spark-0001", "spark-exec-id": "4"}),
        json!({"spark-role": "executor", "spark-app-selector": "spark-0001"}),
        json!({"spark-role": "driver", "spark-app-selector": "spark-0001"}),
    ] {
        let payload = json!({
            "request": {
                "uid": "b1c4b3a0-6a1e-4f7e-9a55-6f0e0f7d2c11",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "namespace": "spark",
                "operation": "CREATE",
                "object": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "spark-pi-exec-4", "labels": labels},
                    "spec": {"containers": [{"name": "spark", "image": "apache/spark:3.5.1"}]},
                },
            },
            "settings": settings,
        });
        let payload = serde_json::to_vec(&payload).unwrap_or_default();
        let answer = spot_balancer::validate(&payload).expect("validate returned a guest error");
        let response = invariants::validate_answer(&payload, &answer);
        assert!(
            response.accepted || response.message.is_some(),
            "accepted settings gave an answer without a reason"
        );
    }
});
