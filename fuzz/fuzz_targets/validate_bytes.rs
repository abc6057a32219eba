//! `validate` on arbitrary bytes: whatever the payload, the policy answers
//! with a ValidationResponse that keeps every invariant of
//! `spot_balancer_fuzz::invariants`, and a pod it mutates, sent again, is
//! left alone.

#![no_main]

use libfuzzer_sys::fuzz_target;
use spot_balancer::admission::{self, Outcome};
use spot_balancer::capabilities::WapcHost;
use spot_balancer_fuzz::invariants;

fuzz_target!(|payload: &[u8]| {
    let answer = spot_balancer::validate(payload).expect("validate returned a guest error");
    let response = invariants::validate_answer(payload, &answer);

    if let Some(mutated) = &response.mutated_object {
        let review =
            |payload: &[u8]| -> Outcome { admission::review(payload, &WapcHost).into_outcome() };
        invariants::second_admission(payload, mutated, review);
    }
});
