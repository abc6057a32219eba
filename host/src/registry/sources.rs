//! Which registries are reached how: kwctl's `sources.yaml`.
//!
//! The file, YAML or JSON, lists `insecure_sources` (hosts that may be
//! reached over plain HTTP or with a certificate that does not verify) and
//! `source_authorities` (for a host, the certificates that sign its TLS
//! certificate, given as a file path or as PEM text). kwctl reads it from
//! `--sources-path`, else from `~/.config/kubewarden/sources.yaml` when
//! that file exists; so does this host.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// Why a sources file was refused.
#[derive(Debug, Error)]
pub enum SourcesError {
    /// The file cannot be read.
    #[error("failed to read sources file {path}: {source}")]
    Read {
        /// The path given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The file is not a sources document.
    #[error("sources file {path} is not valid: {reason}")]
    Parse {
        /// The path given.
        path: String,
        /// What the parser reported, naming the key.
        reason: String,
    },

    /// A certificate authority cannot be read.
    #[error("failed to read the certificate authority {path} for {host}: {source}")]
    Authority {
        /// The registry host it is listed for.
        host: String,
        /// The path listed.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One certificate authority of a host, as `sources.yaml` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Authority {
    /// A PEM or DER file on disk.
    Path {
        /// Where the certificate is.
        path: PathBuf,
    },
    /// The PEM text itself.
    Data {
        /// The certificate, PEM.
        data: String,
    },
}

/// The parsed `sources.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    /// Hosts, with their port when not 443, that may be reached insecurely.
    #[serde(default)]
    pub insecure_sources: Vec<String>,
    /// For a host, the authorities its certificate is checked against.
    #[serde(default)]
    pub source_authorities: BTreeMap<String, Vec<Authority>>,
}

impl Sources {
    /// The sources kwctl would use: `path` when given, else the default
    /// file when it exists, else none.
    ///
    /// # Errors
    ///
    /// [`SourcesError`] when the file cannot be read or parsed.
    pub fn load(path: Option<&Path>) -> Result<Self, SourcesError> {
        match path {
            Some(path) => Self::from_path(path),
            None => match default_path().filter(|p| p.is_file()) {
                Some(path) => Self::from_path(&path),
                None => Ok(Self::default()),
            },
        }
    }

    /// Reads and parses a sources file.
    ///
    /// # Errors
    ///
    /// [`SourcesError`] when the file cannot be read or parsed.
    pub fn from_path(path: &Path) -> Result<Self, SourcesError> {
        let text = std::fs::read_to_string(path).map_err(|source| SourcesError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_text(&text).map_err(|reason| SourcesError::Parse {
            path: path.display().to_string(),
            reason,
        })
    }

    /// Parses a sources document, YAML or JSON; an empty one lists nothing.
    ///
    /// # Errors
    ///
    /// The parser's message when the document is not a sources document.
    pub fn from_text(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }

    /// Whether `host` (with its port, if any) may be reached insecurely.
    #[must_use]
    pub fn is_insecure(&self, host: &str) -> bool {
        self.insecure_sources.iter().any(|h| h == host)
    }

    /// The certificates, PEM or DER bytes, that sign `host`'s certificate;
    /// empty when the system's roots are to be used.
    ///
    /// # Errors
    ///
    /// [`SourcesError::Authority`] when a listed file cannot be read.
    pub fn authorities(&self, host: &str) -> Result<Vec<Vec<u8>>, SourcesError> {
        let Some(listed) = self.source_authorities.get(host) else {
            return Ok(Vec::new());
        };
        listed
            .iter()
            .map(|authority| match authority {
                Authority::Data { data } => Ok(data.clone().into_bytes()),
                Authority::Path { path } => {
                    std::fs::read(path).map_err(|source| SourcesError::Authority {
                        host: host.to_owned(),
                        path: path.display().to_string(),
                        source,
                    })
                }
            })
            .collect()
    }
}

/// `~/.config/kubewarden/sources.yaml`, kwctl's default on Linux.
fn default_path() -> Option<PathBuf> {
    let config = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    Some(config.join("kubewarden").join("sources.yaml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sections_are_read_from_yaml() {
        let sources = Sources::from_text(
            "insecure_sources: [\"127.0.0.1:5000\"]\n\
             source_authorities:\n  \"registry.local:5443\":\n    - type: Data\n      data: PEM\n    \
             - type: Path\n      path: /etc/ca.pem\n",
        )
        .expect("valid sources");
        assert!(sources.is_insecure("127.0.0.1:5000"));
        assert!(!sources.is_insecure("127.0.0.1"));
        assert_eq!(
            sources.source_authorities["registry.local:5443"],
            vec![
                Authority::Data { data: "PEM".into() },
                Authority::Path {
                    path: "/etc/ca.pem".into()
                }
            ]
        );
    }

    #[test]
    fn json_and_empty_documents_are_sources_too() {
        let sources = Sources::from_text(r#"{"insecure_sources": ["localhost:5000"]}"#)
            .expect("valid sources");
        assert!(sources.is_insecure("localhost:5000"));
        assert_eq!(Sources::from_text("\n"), Ok(Sources::default()));
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let error = Sources::from_text("insecure_source: [\"x\"]\n").expect_err("typo");
        assert!(error.contains("unknown field `insecure_source`"), "{error}");
    }

    #[test]
    fn authorities_are_read_from_data_and_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "FROM FILE").expect("write ca");
        let mut sources = Sources::default();
        sources.source_authorities.insert(
            "r:1".into(),
            vec![
                Authority::Data {
                    data: "INLINE".into(),
                },
                Authority::Path { path: ca },
            ],
        );
        let certs = sources.authorities("r:1").expect("readable");
        assert_eq!(certs, vec![b"INLINE".to_vec(), b"FROM FILE".to_vec()]);
        assert!(sources.authorities("other").expect("none").is_empty());

        sources.source_authorities.insert(
            "r:2".into(),
            vec![Authority::Path {
                path: dir.path().join("missing.pem"),
            }],
        );
        let error = sources.authorities("r:2").expect_err("missing file");
        assert!(
            error
                .to_string()
                .starts_with("failed to read the certificate authority "),
            "{error}"
        );
    }
}
