//! The fixtures through the Kubewarden SDK's own test harness,
//! `kubewarden_policy_sdk::test::Testcase`, the way Kubewarden policies are
//! usually tested: one `Testcase` a case, with its settings as a JSON value.
//!
//! The harness sends the fixture file as the `request` itself, as
//! policy-server does, so each AdmissionReview's `request` is first written
//! to a file of its own under Cargo's temporary directory for tests.

mod common;

use common::{CASES, Expect, parse, request};
use kubewarden_policy_sdk::test::Testcase;
use serde_json::Value;
use std::fs;
use std::path::PathBuf;

/// Writes the bare AdmissionRequest of fixture `name` to a file and returns
/// its path.
fn request_file(name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sdk-requests");
    fs::create_dir_all(&dir).expect("the temporary directory can be created");
    let path = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(&request(name)).expect("a request serialises");
    fs::write(&path, text).expect("the request file can be written");
    path.to_string_lossy().into_owned()
}

/// Every bats case as an SDK `Testcase`: the harness checks the verdict;
/// the mutation and the warnings are checked on the response it returns.
#[test]
fn every_case_as_an_sdk_testcase() {
    let testcases: Vec<(Testcase<Value>, &common::Case)> = CASES
        .iter()
        .map(|case| {
            let testcase = Testcase {
                name: case.name(),
                fixture_file: request_file(case.fixture),
                expected_validation_result: !matches!(case.expect, Expect::Rejected(_)),
                settings: parse("settings", case.settings),
            };
            (testcase, case)
        })
        .collect();

    for (testcase, case) in &testcases {
        let response = testcase
            .eval(spot_balancer::validate)
            .unwrap_or_else(|err| panic!("{}: {err}", testcase.name));
        assert_eq!(
            response.mutated_object.is_some(),
            case.expect == Expect::Mutated,
            "{}: mutated object",
            testcase.name
        );
        let warnings = response.warnings.unwrap_or_default();
        assert_eq!(warnings, case.warnings, "{}: warnings", testcase.name);
        if let Expect::Rejected(message) = case.expect {
            assert_eq!(
                response.message.as_deref(),
                Some(message),
                "{}",
                testcase.name
            );
        }
    }
}

/// The fixture no bats case plays, because a host without arbitrary
/// precision cannot read it, through the harness with default settings.
#[test]
fn native_only_fixtures_as_sdk_testcases() {
    let testcases = [Testcase {
        name: "numbers beyond f64 in unknown fields".to_string(),
        fixture_file: request_file("spark-executor-unknown-fields-huge-numbers"),
        expected_validation_result: true,
        settings: parse("settings", "{}"),
    }];
    for testcase in &testcases {
        let response = testcase.eval(spot_balancer::validate).unwrap();
        assert!(response.mutated_object.is_some(), "{}", testcase.name);
        assert_eq!(response.warnings, None, "{}", testcase.name);
    }
}
