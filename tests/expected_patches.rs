//! The bats suite's expectations, checked natively: for every case it plays,
//! the policy's answer here has the same verdict and warnings, and the
//! expected patch applied to the request's pod gives exactly the pod the
//! policy returns.
//!
//! So the patches in `e2e-tests/expected/` are known to describe the policy
//! before any host runs it, and a failing bats case points at the host.

mod common;

use common::{CASES, Expect, apply_patch, evaluate_fixture, expected_dir, object, review};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;

/// Every bats case, run natively, answers as its table line says.
#[test]
fn every_case_answers_as_the_bats_suite_expects() {
    for case in CASES {
        let name = case.name();
        let answer = evaluate_fixture(case.fixture, case.settings);

        assert_eq!(answer.warnings, case.warnings, "{name}: warnings");
        match case.expect {
            Expect::Rejected(message) => {
                assert!(!answer.accepted, "{name}: accepted");
                assert_eq!(answer.message.as_deref(), Some(message), "{name}: message");
                assert_eq!(answer.mutated, None, "{name}: a refusal mutates nothing");
            }
            Expect::Unchanged => {
                assert!(answer.accepted, "{name}: refused: {:?}", answer.message);
                assert_eq!(answer.mutated, None, "{name}: mutated");
            }
            Expect::Mutated => {
                assert!(answer.accepted, "{name}: refused: {:?}", answer.message);
                let mutated = answer
                    .mutated
                    .unwrap_or_else(|| panic!("{name}: not mutated"));
                let mut patched = object(case.fixture);
                apply_patch(&mut patched, &case.expected_patch())
                    .unwrap_or_else(|err| panic!("{name}: expected patch does not apply: {err}"));
                assert_eq!(patched, mutated, "{name}: expected patch gives another pod");
            }
        }
    }
}

/// Each expected patch belongs to a case that mutates, so none is stale.
#[test]
fn every_expected_patch_has_its_case() {
    let wanted: BTreeSet<String> = CASES
        .iter()
        .filter(|case| case.expect == Expect::Mutated)
        .map(|case| format!("{}.patch.json", case.name()))
        .collect();
    let present: BTreeSet<String> = fs::read_dir(expected_dir())
        .expect("the expected directory is readable")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(present, wanted);
}

/// Every expected patch is a list of `add` operations sorted by path, the
/// form the bats suite compares against.
#[test]
fn expected_patches_only_add_and_are_sorted() {
    for case in CASES.iter().filter(|case| case.expect == Expect::Mutated) {
        let patch = case.expected_patch();
        let operations = patch.as_array().expect("a patch is a list");
        let paths: Vec<&str> = operations
            .iter()
            .map(|op| op["path"].as_str().unwrap())
            .collect();
        let mut sorted = paths.clone();
        sorted.sort_unstable();
        assert_eq!(
            paths,
            sorted,
            "{}: operations not sorted by path",
            case.name()
        );
        for op in operations {
            assert_eq!(op["op"], "add", "{}: {op}", case.name());
        }
    }
}

/// Every fixture the bats suite plays can be read by kwctl, which parses
/// requests without arbitrary precision: each number is a finite `f64`.
#[test]
fn bats_fixtures_hold_only_numbers_kwctl_reads() {
    /// The numbers in `value` that do not fit a finite `f64`.
    fn unreadable(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Number(number) if !number.as_f64().is_some_and(f64::is_finite) => {
                found.push(number.to_string());
            }
            Value::Array(items) => items.iter().for_each(|item| unreadable(item, found)),
            Value::Object(map) => map.values().for_each(|item| unreadable(item, found)),
            _ => {}
        }
    }

    for case in CASES {
        let mut found = Vec::new();
        unreadable(&review(case.fixture), &mut found);
        assert!(
            found.is_empty(),
            "{}: kwctl cannot read {found:?}",
            case.fixture
        );
    }
}
