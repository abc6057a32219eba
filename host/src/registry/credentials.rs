//! Registry credentials, from Docker's `config.json` as `docker login`
//! writes it.
//!
//! kwctl reads `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`
//! (`--docker-config-json-path` sets the folder); each entry of `auths`
//! holds `auth`, the base64 of `user:password`, for one registry host.
//! Credential helpers (`credsStore`, `credHelpers`) are not run: a registry
//! they serve is reached anonymously, with a warning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use thiserror::Error;

/// Why the Docker configuration was refused.
#[derive(Debug, Error)]
pub enum CredentialsError {
    /// The file exists but cannot be read.
    #[error("failed to read docker config {path}: {source}")]
    Read {
        /// Where the file is.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The file is not Docker configuration JSON.
    #[error("docker config {path} is not valid: {reason}")]
    Parse {
        /// Where the file is.
        path: String,
        /// What the parser reported.
        reason: String,
    },

    /// An `auth` entry is not the base64 of `user:password`.
    #[error("docker config {path}: auths.{host}.auth is not the base64 of user:password")]
    Auth {
        /// Where the file is.
        path: String,
        /// The registry host the entry is for.
        host: String,
    },
}

/// A user name and its password or token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    /// Leaves the password out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The value of an `Authorization: Basic` header.
    #[must_use]
    pub fn basic(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// The parts of Docker's `config.json` read here.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

/// One entry of `auths`.
#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
}

/// The credentials for `host` from the Docker configuration in `folder`
/// (else `$DOCKER_CONFIG`, else `~/.docker`); `None` to go anonymous.
///
/// # Errors
///
/// [`CredentialsError`] when the file exists but cannot be read or parsed,
/// or the entry for `host` is malformed.
pub fn for_host(
    folder: Option<&Path>,
    host: &str,
) -> Result<Option<Credentials>, CredentialsError> {
    let Some(path) = config_path(folder) else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CredentialsError::Read {
                path: path.display().to_string(),
                source,
            });
        }
    };
    from_config(&text, &path.display().to_string(), host)
}

/// The credentials for `host` in the configuration `text` read from `path`.
fn from_config(
    text: &str,
    path: &str,
    host: &str,
) -> Result<Option<Credentials>, CredentialsError> {
    let config: DockerConfig = serde_json::from_str(text).map_err(|e| CredentialsError::Parse {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;

    // `docker login` writes Docker Hub's entry under its v1 URL.
    let keys = [
        host.to_owned(),
        format!("https://{host}"),
        format!("http://{host}"),
    ];
    let entry = keys.iter().find_map(|key| config.auths.get(key));
    if let Some(encoded) = entry.and_then(|e| e.auth.as_deref()) {
        let malformed = || CredentialsError::Auth {
            path: path.to_owned(),
            host: host.to_owned(),
        };
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
        let (username, password) = decoded.split_once(':').ok_or_else(malformed)?;
        return Ok(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }));
    }

    if let Some(helper) = config
        .cred_helpers
        .get(host)
        .or(config.creds_store.as_ref())
    {
        tracing::warn!(
            host,
            helper,
            config = path,
            "docker credential helpers are not run by this host; going anonymous"
        );
    }
    Ok(None)
}

/// Where the Docker configuration file is looked for.
fn config_path(folder: Option<&Path>) -> Option<PathBuf> {
    if let Some(folder) = folder {
        return Some(folder.join("config.json"));
    }
    if let Some(folder) = std::env::var_os("DOCKER_CONFIG").filter(|f| !f.is_empty()) {
        return Some(PathBuf::from(folder).join("config.json"));
    }
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(".docker").join("config.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `alice:s3cret`, base64.
    const ALICE: &str = "YWxpY2U6czNjcmV0";

    fn alice() -> Credentials {
        Credentials {
            username: "alice".into(),
            password: "s3cret".into(),
        }
    }

    #[test]
    fn an_auth_entry_gives_basic_credentials() {
        let text = format!(r#"{{"auths": {{"127.0.0.1:5000": {{"auth": "{ALICE}"}}}}}}"#);
        let found = from_config(&text, "config.json", "127.0.0.1:5000").expect("valid");
        assert_eq!(found, Some(alice()));
        assert_eq!(alice().basic(), format!("Basic {ALICE}"));
    }

    #[test]
    fn entries_under_a_url_count_for_their_host() {
        let text = format!(r#"{{"auths": {{"https://ghcr.io": {{"auth": "{ALICE}"}}}}}}"#);
        assert_eq!(
            from_config(&text, "config.json", "ghcr.io").expect("valid"),
            Some(alice())
        );
    }

    #[test]
    fn other_hosts_and_helpers_go_anonymous() {
        let text =
            format!(r#"{{"auths": {{"a.io": {{"auth": "{ALICE}"}}}}, "credsStore": "desktop"}}"#);
        assert_eq!(
            from_config(&text, "config.json", "b.io").expect("valid"),
            None
        );
    }

    #[test]
    fn a_malformed_entry_is_refused_by_host() {
        let text = r#"{"auths": {"a.io": {"auth": "bm8tY29sb24="}}}"#;
        let error = from_config(text, "config.json", "a.io").expect_err("no colon");
        assert_eq!(
            error.to_string(),
            "docker config config.json: auths.a.io.auth is not the base64 of user:password"
        );
    }

    #[test]
    fn a_missing_file_means_anonymous() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(for_host(Some(dir.path()), "a.io").expect("no file"), None);
    }
}
