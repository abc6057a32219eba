//! `validate` on real-looking Spark requests with arbitrary values spliced
//! in at the paths the policy reads, and a host whose capability replies
//! are arbitrary too.
//!
//! Each case is answered twice: through `admission::review` with the
//! scripted host, and through the `validate` entry point, where every host
//! call fails as it does natively. Both answers keep every invariant of
//! `spot_balancer_fuzz::invariants`, and the same case always gets the same
//! answer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use spot_balancer::admission::{self, Outcome};
use spot_balancer_fuzz::host::ScriptedHost;
use spot_balancer_fuzz::input::ExecutorCase;
use spot_balancer_fuzz::invariants;

fuzz_target!(|case: ExecutorCase| {
    let payload = case.payload();

    // With the scripted host: any reply, in any order.
    let review = |payload: &[u8]| -> Outcome {
        admission::review(payload, &ScriptedHost::new(case.replies.clone())).into_outcome()
    };
    let outcome = review(&payload);
    invariants::review_outcome(&payload, &outcome);
    assert_eq!(outcome, review(&payload), "the same case got two answers");
    if let Outcome::Mutated { object, .. } = &outcome {
        invariants::second_admission(&payload, object, review);
    }

    // Through the entry point, as a host would call it.
    let answer = spot_balancer::validate(&payload).expect("validate returned a guest error");
    invariants::validate_answer(&payload, &answer);
});
