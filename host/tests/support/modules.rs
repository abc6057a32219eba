//! Builds or finds the wasm module of a workspace policy package.
//!
//! Integration tests run real modules. [`policy_module`] returns the path
//! of a package's `wasm-release` build for `wasm32-wasip1`, building it
//! first with
//!
//! ```console
//! cargo build --target wasm32-wasip1 --profile wasm-release -p <package>
//! ```
//!
//! when the `.wasm` is missing or older than any file of the package's
//! `src/` or its `Cargo.toml`. Any package of the workspace with a `cdylib`
//! target works: `baseline-policy` now, `spot-balancer` for the tests of the
//! real policy. Within one test binary each package is checked once, and
//! concurrent tests wait for that check instead of racing it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use serde_json::Value;

/// The wasm target policies are built for.
const TARGET: &str = "wasm32-wasip1";

/// The profile policies are built with.
const PROFILE: &str = "wasm-release";

/// Modules already checked in this test binary, by package.
static CHECKED: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();

/// The path of `package`'s module, built if missing or stale.
///
/// Panics with the reason when the package is unknown or the build fails:
/// a test cannot go on without its module.
pub fn policy_module(package: &str) -> PathBuf {
    let checked = CHECKED.get_or_init(|| Mutex::new(BTreeMap::new()));
    // Holding the lock during the build makes concurrent callers wait.
    let mut checked = checked.lock().unwrap_or_else(|poison| poison.into_inner());
    if let Some(path) = checked.get(package) {
        return path.clone();
    }

    let located = locate(package);
    if is_stale(&located.wasm, &located.package_dir) {
        build(package);
    }
    assert!(
        located.wasm.is_file(),
        "cargo built {package} but {} is missing",
        located.wasm.display()
    );

    checked.insert(package.to_owned(), located.wasm.clone());
    located.wasm
}

/// Where a package's sources and module are.
struct Located {
    /// Directory holding the package's `Cargo.toml`.
    package_dir: PathBuf,
    /// Path the module is built to.
    wasm: PathBuf,
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The cargo that runs the tests, so the same toolchain builds the module.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// Finds `package` and its cdylib target with `cargo metadata`.
fn locate(package: &str) -> Located {
    let output = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .expect("cannot run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata is JSON");

    let target_dir = metadata["target_directory"]
        .as_str()
        .expect("target_directory");
    let packages = metadata["packages"].as_array().expect("packages");
    let found = packages
        .iter()
        .find(|p| p["name"] == package)
        .unwrap_or_else(|| panic!("package {package} is not in the workspace"));
    let manifest = found["manifest_path"].as_str().expect("manifest_path");
    let target = found["targets"]
        .as_array()
        .and_then(|targets| {
            targets.iter().find(|t| {
                t["crate_types"]
                    .as_array()
                    .is_some_and(|types| types.iter().any(|ty| ty == "cdylib"))
            })
        })
        .and_then(|t| t["name"].as_str())
        .unwrap_or_else(|| panic!("package {package} has no cdylib target"));

    Located {
        package_dir: Path::new(manifest)
            .parent()
            .expect("manifest has a directory")
            .to_path_buf(),
        wasm: Path::new(target_dir)
            .join(TARGET)
            .join(PROFILE)
            .join(format!("{}.wasm", target.replace('-', "_"))),
    }
}

/// Whether `wasm` is missing or older than the package's sources.
fn is_stale(wasm: &Path, package_dir: &Path) -> bool {
    let Some(built) = modified(wasm) else {
        return true;
    };
    let mut newest = modified(&package_dir.join("Cargo.toml"));
    newest_in(&package_dir.join("src"), &mut newest);
    newest.is_some_and(|source| source > built)
}

/// Raises `newest` to the latest modification time under `dir`.
fn newest_in(dir: &Path, newest: &mut Option<SystemTime>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            newest_in(&path, newest);
        } else if let Some(time) = modified(&path) {
            if newest.is_none_or(|n| time > n) {
                *newest = Some(time);
            }
        }
    }
}

/// A file's modification time, if it exists.
fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Builds `package` for the wasm target, panicking with cargo's output on
/// failure.
fn build(package: &str) {
    let output = cargo()
        .args([
            "build",
            "--target",
            TARGET,
            "--profile",
            PROFILE,
            "-p",
            package,
        ])
        .output()
        .expect("cannot run cargo build");
    assert!(
        output.status.success(),
        "cargo build of {package} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
