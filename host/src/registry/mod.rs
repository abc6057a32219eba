//! Policy modules in OCI registries, as kwctl pushes and pulls them.
//!
//! A Kubewarden policy is an OCI artifact: a manifest whose config is the
//! empty JSON object (`application/vnd.wasm.config.v1+json`) and whose one
//! layer is the module (`application/vnd.wasm.content.layer.v1+wasm`), with
//! the module's single-line metadata annotations on the manifest. [`push`]
//! uploads the two blobs and the manifest and returns the manifest's
//! digest; [`pull`] fetches the module back, checking every digest.

mod connection;
pub mod credentials;
mod reference;
mod sources;

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest as _, Sha256};
use thiserror::Error;

use self::connection::{Connection, Reply, Request};
pub use self::credentials::{Credentials, CredentialsError};
pub use self::reference::{REGISTRY_SCHEME, Reference, ReferenceError, is_sha256_digest};
pub use self::sources::{Authority, Sources, SourcesError};

/// The media type of an OCI image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The media type of a wasm artifact's config blob.
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v1+json";
/// The media type of the layer that holds the module.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";

/// The annotation kwctl copies into the OCI source annotation.
const POLICY_SOURCE_ANNOTATION: &str = "io.kubewarden.policy.source";
/// The OCI annotation naming where an artifact's source lives.
const OCI_SOURCE_ANNOTATION: &str = "org.opencontainers.image.source";

/// Why a push or a pull failed.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// The reference does not parse.
    #[error(transparent)]
    Reference(#[from] ReferenceError),

    /// The sources file is refused.
    #[error(transparent)]
    Sources(#[from] SourcesError),

    /// The Docker configuration is refused.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),

    /// A certificate authority is not a certificate.
    #[error("the certificate authority for {host} is not valid: {reason}")]
    Authority {
        /// The registry host.
        host: String,
        /// What the PEM parser reported.
        reason: String,
    },

    /// Nothing answered, or the connection broke.
    #[error("failed to reach {url}: {reason}")]
    Unreachable {
        /// What was asked for.
        url: String,
        /// The transport's error.
        reason: String,
    },

    /// The registry answered with a status the step does not accept.
    #[error("{action} failed: {url} answered {status}: {explanation}")]
    Status {
        /// The step, as `uploading the layer`.
        action: &'static str,
        /// What was asked for.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The registry's messages.
        explanation: String,
    },

    /// A challenge this host cannot answer.
    #[error("{registry} asks for authentication this host does not speak: {challenge}")]
    Challenge {
        /// The registry's base URL.
        registry: String,
        /// The `WWW-Authenticate` header.
        challenge: String,
    },

    /// Basic authentication is asked for and no credentials are known.
    #[error(
        "{registry} asks for credentials and the docker config has none for it; \
         log in with docker login or pass --docker-config-json-path"
    )]
    NoCredentials {
        /// The registry's base URL.
        registry: String,
    },

    /// The credentials or token were refused.
    #[error("{url} refused the credentials: {explanation}")]
    Unauthorized {
        /// What was asked for.
        url: String,
        /// The registry's messages.
        explanation: String,
    },

    /// The token service did not give a token.
    #[error("failed to get a token from {realm}: {reason}")]
    Token {
        /// The token service.
        realm: String,
        /// What went wrong.
        reason: String,
    },

    /// The manifest is not a Kubewarden policy's.
    #[error("{reference} is not a policy module: {reason}")]
    NotAPolicy {
        /// The reference pulled.
        reference: String,
        /// What the manifest lacks.
        reason: String,
    },

    /// Content does not hash to the digest it was asked for by.
    #[error("{what} of {reference} does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The manifest or the layer.
        what: &'static str,
        /// The reference pulled.
        reference: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what came back.
        actual: String,
    },
}

/// Where the registry's settings come from: kwctl's `--sources-path` and
/// `--docker-config-json-path`.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// How each registry is reached.
    pub sources: Sources,
    /// The folder holding Docker's `config.json`; `None` for Docker's own
    /// lookup.
    pub docker_config: Option<std::path::PathBuf>,
}

impl RegistryOptions {
    /// The options from kwctl's two flags, the sources file read now.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Sources`] when the sources file is refused.
    pub fn from_flags(
        sources_path: Option<&Path>,
        docker_config: Option<&Path>,
    ) -> Result<Self, RegistryError> {
        Ok(Self {
            sources: Sources::load(sources_path)?,
            docker_config: docker_config.map(Path::to_path_buf),
        })
    }

    /// A connection to `reference`'s registry for `actions`.
    fn connect(&self, reference: &Reference, actions: &str) -> Result<Connection, RegistryError> {
        let credentials =
            credentials::for_host(self.docker_config.as_deref(), &reference.registry)?;
        Connection::open(
            &reference.registry,
            &self.sources,
            credentials,
            format!("repository:{}:{actions}", reference.repository),
        )
    }
}

/// `sha256:` and the hex digest of `bytes`.
#[must_use]
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The annotations kwctl puts on a policy's manifest: the module's own,
/// less those spanning several lines (OCI annotations are single-line),
/// and the OCI source annotation taken from the policy's source.
#[must_use]
pub fn manifest_annotations(policy: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut annotations: BTreeMap<String, String> = policy
        .iter()
        .filter(|(_, value)| value.lines().count() <= 1)
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if let Some(source) = policy.get(POLICY_SOURCE_ANNOTATION) {
        annotations
            .entry(OCI_SOURCE_ANNOTATION.to_owned())
            .or_insert_with(|| source.clone());
    }
    annotations
}

/// The manifest of a policy artifact, as the bytes that are pushed.
#[must_use]
pub fn policy_manifest(
    config: &[u8],
    module: &[u8],
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let descriptor = |media_type: &str, blob: &[u8]| {
        serde_json::json!({
            "mediaType": media_type,
            "digest": sha256_digest(blob),
            "size": blob.len(),
        })
    };
    let mut manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": descriptor(WASM_CONFIG_MEDIA_TYPE, config),
        "layers": [descriptor(WASM_LAYER_MEDIA_TYPE, module)],
    });
    if !annotations.is_empty() {
        manifest["annotations"] = serde_json::json!(annotations);
    }
    // A tree of strings and numbers always serialises.
    serde_json::to_vec(&manifest).unwrap_or_default()
}

/// Pushes `module` to `reference` with the manifest `annotations`; returns
/// the manifest's digest.
///
/// # Errors
///
/// [`RegistryError`] for the first step the registry refuses.
pub fn push(
    module: &[u8],
    annotations: &BTreeMap<String, String>,
    reference: &Reference,
    options: &RegistryOptions,
) -> Result<String, RegistryError> {
    let mut connection = options.connect(reference, "pull,push")?;
    let config = b"{}";
    upload_blob(&mut connection, reference, config, "uploading the config")?;
    upload_blob(&mut connection, reference, module, "uploading the module")?;

    let manifest = policy_manifest(config, module, annotations);
    let url = manifest_url(&connection, reference);
    let reply = connection.send(Request {
        method: "PUT",
        url: &url,
        accept: None,
        body: Some((MANIFEST_MEDIA_TYPE, &manifest)),
    })?;
    expect(&reply, &[201], "uploading the manifest", &url)?;
    Ok(sha256_digest(&manifest))
}

/// Uploads one blob unless the registry has it already.
fn upload_blob(
    connection: &mut Connection,
    reference: &Reference,
    blob: &[u8],
    action: &'static str,
) -> Result<(), RegistryError> {
    let digest = sha256_digest(blob);
    let blob_url = endpoint(connection, reference, "blobs", &digest);
    let head = connection.send(Request {
        method: "HEAD",
        url: &blob_url,
        accept: None,
        body: None,
    })?;
    if head.status == 200 {
        return Ok(());
    }

    let start_url = endpoint(connection, reference, "blobs/uploads", "");
    let started = connection.send(Request {
        method: "POST",
        url: &start_url,
        accept: None,
        body: None,
    })?;
    expect(&started, &[202], action, &start_url)?;
    let location = started.location.ok_or_else(|| RegistryError::Status {
        action,
        url: start_url.clone(),
        status: started.status,
        explanation: "the upload's Location header is missing".to_owned(),
    })?;
    let mut upload_url = url::Url::parse(&location).map_err(|e| RegistryError::Status {
        action,
        url: start_url.clone(),
        status: started.status,
        explanation: format!("the upload's Location {location} is not a URL: {e}"),
    })?;
    upload_url.query_pairs_mut().append_pair("digest", &digest);

    let url = upload_url.to_string();
    let reply = connection.send(Request {
        method: "PUT",
        url: &url,
        accept: None,
        body: Some(("application/octet-stream", blob)),
    })?;
    expect(&reply, &[201], action, &url)
}

/// Pulls the module `reference` names, checking the manifest's digest when
/// the reference pins one and the module's against the manifest.
///
/// # Errors
///
/// [`RegistryError`] when the registry refuses a step, the manifest is not
/// a policy's, or a digest does not match.
pub fn pull(reference: &Reference, options: &RegistryOptions) -> Result<Vec<u8>, RegistryError> {
    let mut connection = options.connect(reference, "pull")?;
    let url = manifest_url(&connection, reference);
    let reply = connection.send(Request {
        method: "GET",
        url: &url,
        accept: Some(MANIFEST_MEDIA_TYPE),
        body: None,
    })?;
    expect(&reply, &[200], "fetching the manifest", &url)?;
    if let Some(expected) = &reference.digest {
        check_digest("the manifest", reference, expected, &reply.body)?;
    }

    let not_a_policy = |reason: &str| RegistryError::NotAPolicy {
        reference: reference.to_string(),
        reason: reason.to_owned(),
    };
    let manifest: serde_json::Value = serde_json::from_slice(&reply.body)
        .map_err(|e| not_a_policy(&format!("the manifest is not JSON: {e}")))?;
    let layer_digest = manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|layer| layer["mediaType"] == WASM_LAYER_MEDIA_TYPE)
        .and_then(|layer| layer["digest"].as_str())
        .ok_or_else(|| not_a_policy(&format!("no layer of type {WASM_LAYER_MEDIA_TYPE}")))?
        .to_owned();
    if !is_sha256_digest(&layer_digest) {
        return Err(not_a_policy(&format!(
            "the layer's digest {layer_digest} is not a sha256 digest"
        )));
    }

    let url = endpoint(&connection, reference, "blobs", &layer_digest);
    let reply = connection.send(Request {
        method: "GET",
        url: &url,
        accept: None,
        body: None,
    })?;
    expect(&reply, &[200], "fetching the module", &url)?;
    check_digest("the module", reference, &layer_digest, &reply.body)?;
    Ok(reply.body)
}

/// The URL of `/v2/<repository>/<kind>/<name>` on the connection's
/// registry, as `manifests/v1` or `blobs/sha256:...`.
fn endpoint(connection: &Connection, reference: &Reference, kind: &str, name: &str) -> String {
    connection.url(&format!("/v2/{}/{kind}/{name}", reference.repository))
}

/// The URL of the manifest `reference` names, by digest or by tag.
fn manifest_url(connection: &Connection, reference: &Reference) -> String {
    let name = reference.manifest_reference();
    endpoint(connection, reference, "manifests", name)
}

/// Fails unless `reply` has one of the `accepted` statuses.
fn expect(
    reply: &Reply,
    accepted: &[u16],
    action: &'static str,
    url: &str,
) -> Result<(), RegistryError> {
    if accepted.contains(&reply.status) {
        return Ok(());
    }
    Err(RegistryError::Status {
        action,
        url: url.to_owned(),
        status: reply.status,
        explanation: reply.explanation(),
    })
}

/// Fails unless `bytes` hash to `expected`.
fn check_digest(
    what: &'static str,
    reference: &Reference,
    expected: &str,
    bytes: &[u8],
) -> Result<(), RegistryError> {
    let actual = sha256_digest(bytes);
    if actual == expected {
        return Ok(());
    }
    Err(RegistryError::DigestMismatch {
        what,
        reference: reference.to_string(),
        expected: expected.to_owned(),
        actual,
    })
}

#[cfg(test)]
mod token_registry_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha256_in_lowercase_hex() {
        assert_eq!(
            sha256_digest(b"{}"),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn multi_line_annotations_stay_off_the_manifest_and_the_source_is_copied() {
        let policy = BTreeMap::from([
            (
                "io.kubewarden.policy.usage".to_owned(),
                "line one\nline two".to_owned(),
            ),
            (
                "io.kubewarden.policy.title".to_owned(),
                "spot-balancer".to_owned(),
            ),
            (
                POLICY_SOURCE_ANNOTATION.to_owned(),
                "https://example.com/src".to_owned(),
            ),
        ]);
        let annotations = manifest_annotations(&policy);
        assert_eq!(
            annotations,
            BTreeMap::from([
                (
                    "io.kubewarden.policy.title".to_owned(),
                    "spot-balancer".to_owned()
                ),
                (
                    POLICY_SOURCE_ANNOTATION.to_owned(),
                    "https://example.com/src".to_owned()
                ),
                (
                    OCI_SOURCE_ANNOTATION.to_owned(),
                    "https://example.com/src".to_owned()
                ),
            ])
        );
    }

    #[test]
    fn the_manifest_describes_both_blobs() {
        let annotations = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
        let manifest: serde_json::Value =
            serde_json::from_slice(&policy_manifest(b"{}", b"\0asm", &annotations))
                .expect("manifest is JSON");
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(manifest["config"]["mediaType"], WASM_CONFIG_MEDIA_TYPE);
        assert_eq!(manifest["config"]["digest"], sha256_digest(b"{}"));
        assert_eq!(manifest["config"]["size"], 2);
        assert_eq!(manifest["layers"][0]["mediaType"], WASM_LAYER_MEDIA_TYPE);
        assert_eq!(manifest["layers"][0]["digest"], sha256_digest(b"\0asm"));
        assert_eq!(manifest["layers"][0]["size"], 4);
        assert_eq!(manifest["annotations"]["k"], "v");
    }
}
