//! `spot-balancer-host run` as a script sees it: arguments, stdout, stderr
//! and exit status, against the baseline module.

mod support;

use std::process::{Command, Output};

use rstest::rstest;
use serde_json::Value;
use support::{fixture, modules::policy_module};

/// Runs the host binary with `args`.
fn host(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spot-balancer-host"))
        .args(args)
        .output()
        .expect("the host binary runs")
}

/// The baseline module's path, as text.
fn baseline() -> String {
    policy_module("baseline-policy").display().to_string()
}

/// A fixture's path, as text.
fn fixture_arg(name: &str) -> String {
    fixture(name).display().to_string()
}

/// The standard output of a successful run, as text.
fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "status {:?}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[rstest]
#[case::path_and_review(false, "executor-pod-create-review.json")]
#[case::file_uri_and_bare_request(true, "executor-pod-create-request.json")]
fn prints_the_response_as_one_json_line_like_kwctl(#[case] as_uri: bool, #[case] request: &str) {
    // An executor pod is evaluated from a path or a file:// URI, from a
    // review or a bare request; stdout is exactly kwctl's line.
    let module = if as_uri {
        format!("file://{}", baseline())
    } else {
        baseline()
    };

    let output = host(&["run", "--request-path", &fixture_arg(request), &module]);

    assert_eq!(
        stdout_of(&output),
        "{\"uid\":\"3d5b0f4e-7c1a-4c55-9d8e-2f0a3b6c1e01\",\"allowed\":true,\
         \"auditAnnotations\":null,\"warnings\":null}\n"
    );
}

#[rstest]
#[case::settings_json(&["--settings-json", r#"{"spotRatio": 0.5}"#])]
#[case::settings_path_yaml(&["--settings-path", "settings.yml"])]
fn invalid_settings_exit_1_with_kwctl_message_and_no_output(#[case] settings: &[&str]) {
    // The baseline refuses any settings key. As kwctl does, the host prints
    // nothing on stdout, exits with 1 and quotes the policy's message on
    // stderr with Rust's Debug escaping.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("settings.yml"), "spotRatio: 0.5\n").unwrap();
    let settings: Vec<String> = settings
        .iter()
        .map(|arg| {
            if *arg == "settings.yml" {
                dir.path().join(arg).display().to_string()
            } else {
                (*arg).to_owned()
            }
        })
        .collect();
    let mut args = vec![
        "run".to_owned(),
        "-r".into(),
        fixture_arg("executor-pod-create-request.json"),
    ];
    args.extend(settings);
    args.push(baseline());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let output = host(&args);

    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Error: Provided settings are not valid: \""),
        "{stderr}"
    );
    assert!(last.contains("unknown field `spotRatio`"), "{stderr}");
    assert!(last.ends_with('"'), "{stderr}");
}

#[test]
fn the_request_can_come_from_stdin() {
    // `-r -` reads the request from standard input, as in kwctl.
    let review = std::fs::read(fixture("executor-pod-create-review.json")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spot-balancer-host"))
        .args(["run", "-r", "-", &baseline()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &review).unwrap();

    let output = child.wait_with_output().unwrap();

    let response: Value = serde_json::from_str(&stdout_of(&output)).unwrap();
    assert_eq!(response["allowed"], true);
}

#[rstest]
#[case::missing_module(&["run", "-r", "REQUEST", "/nonexistent/policy.wasm"], "Error: failed to read policy module /nonexistent/policy.wasm: ")]
#[case::https_module(
    &["run", "-r", "REQUEST", "https://example.com/p.wasm"],
    "Error: unsupported scheme https in module uri https://example.com/p.wasm"
)]
#[case::bad_registry_reference(
    &["run", "-r", "REQUEST", "registry://ghcr.io/Upper/p:v1"],
    "Error: registry reference ghcr.io/Upper/p:v1 is not valid: "
)]
#[case::missing_request(&["run", "-r", "/nonexistent/request.json", "MODULE"], "Error: failed to read request file /nonexistent/request.json: ")]
#[case::bad_settings_json(
    &["run", "-r", "REQUEST", "--settings-json", "[1]", "MODULE"],
    "Error: settings must be an object or null, found an array"
)]
#[case::missing_session(
    &["run", "-r", "REQUEST", "--replay-host-capabilities-interactions", "/nonexistent/s.yml", "MODULE"],
    "Error: failed to read replay session /nonexistent/s.yml: "
)]
fn unusable_inputs_exit_1_naming_the_input(#[case] args: &[&str], #[case] message: &str) {
    // Each input is unusable in turn; the host says which and exits with 1
    // before evaluating anything.
    let request = fixture_arg("executor-pod-create-request.json");
    let module = baseline();
    let args: Vec<&str> = args
        .iter()
        .map(|a| match *a {
            "REQUEST" => request.as_str(),
            "MODULE" => module.as_str(),
            other => other,
        })
        .collect();

    let output = host(&args);

    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.lines().any(|l| l.starts_with(message)), "{stderr}");
}

#[test]
fn settings_path_and_settings_json_are_exclusive() {
    // Like kwctl, the two ways of giving settings cannot be combined; clap
    // reports a usage error with status 2.
    let output = host(&[
        "run",
        "-r",
        "x.json",
        "--settings-json",
        "{}",
        "--settings-path",
        "s.yml",
        "p.wasm",
    ]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_replay_session_left_unused_is_reported() {
    // The baseline makes no host call, so none of the session's two
    // exchanges is replayed; as kwctl does, the host still answers and
    // warns on stderr that exchanges were left.
    let output = host(&[
        "run",
        "-r",
        &fixture_arg("executor-pod-create-request.json"),
        "--allow-context-aware",
        "--replay-host-capabilities-interactions",
        &fixture_arg("spark-namespace-pods-session.yml"),
        &baseline(),
    ]);

    let response: Value = serde_json::from_str(&stdout_of(&output)).unwrap();
    assert_eq!(response["allowed"], true);
    let stderr = String::from_utf8(output.stderr).unwrap();
    let warning = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|event| {
            event["fields"]["message"] == "some recorded exchanges have not been replayed"
        })
        .unwrap_or_else(|| panic!("no warning in {stderr}"));
    assert_eq!(
        (
            warning["fields"]["replayed"].as_u64(),
            warning["fields"]["total"].as_u64()
        ),
        (Some(0), Some(2))
    );
}

#[test]
fn a_malformed_replay_session_is_refused() {
    // A session file that is not a list of exchanges stops the run before
    // the policy is evaluated.
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("session.yml");
    std::fs::write(&session, "type: Exchange\n").unwrap();

    let output = host(&[
        "run",
        "-r",
        &fixture_arg("executor-pod-create-request.json"),
        "--replay-host-capabilities-interactions",
        &session.display().to_string(),
        &baseline(),
    ]);

    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("Error: failed to parse replay session: invalid type: map"),
        "{stderr}"
    );
}
