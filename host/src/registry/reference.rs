//! Where a module lives in an OCI registry: `registry://host/repo:tag`.
//!
//! The grammar is the one Docker and kwctl accept: a first path component
//! that holds a `.` or a `:`, or is `localhost`, names the registry; any
//! other reference lives on Docker Hub, under `library/` when it has one
//! component. A reference without tag or digest means the tag `latest`.

use std::fmt;

use thiserror::Error;

/// The scheme kwctl writes in front of registry references.
pub const REGISTRY_SCHEME: &str = "registry://";

/// Docker Hub, where references without a registry live.
const DOCKER_HUB: &str = "docker.io";

/// Why a reference was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// Nothing names a repository.
    #[error("registry reference {reference} names no repository")]
    NoRepository {
        /// The reference as given.
        reference: String,
    },

    /// A character outside the distribution grammar.
    #[error(
        "registry reference {reference} is not valid: repository components are lowercase \
         letters, digits and . _ - separators"
    )]
    Repository {
        /// The reference as given.
        reference: String,
    },

    /// The tag is empty, too long, or holds a character tags cannot.
    #[error(
        "registry reference {reference} has an invalid tag: up to 128 letters, digits and . _ -, \
         not starting with . or -"
    )]
    Tag {
        /// The reference as given.
        reference: String,
    },

    /// The digest is not `sha256:` and 64 lowercase hex digits.
    #[error("registry reference {reference} has an invalid digest: sha256: and 64 hex digits")]
    Digest {
        /// The reference as given.
        reference: String,
    },
}

/// A parsed registry reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The registry's host, with its port when one was given.
    pub registry: String,
    /// The repository path inside the registry.
    pub repository: String,
    /// The tag; `latest` when neither tag nor digest was given.
    pub tag: Option<String>,
    /// The manifest's digest, `sha256:...`, when the reference pins one.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `registry://host/repo:tag`, with or without the scheme.
    ///
    /// # Errors
    ///
    /// [`ReferenceError`] naming what is wrong with the reference.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let reference = input.strip_prefix(REGISTRY_SCHEME).unwrap_or(input);
        let refused = || reference.to_owned();

        let (name, digest) = match reference.split_once('@') {
            Some((name, digest)) => {
                if !is_sha256_digest(digest) {
                    return Err(ReferenceError::Digest {
                        reference: refused(),
                    });
                }
                (name, Some(digest.to_owned()))
            }
            None => (reference, None),
        };

        // A tag follows the last `:` after the last `/`; a `:` before it is
        // the registry's port.
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match name[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &name[last_slash + i + 1..];
                if !is_tag(tag) {
                    return Err(ReferenceError::Tag {
                        reference: refused(),
                    });
                }
                (&name[..last_slash + i], Some(tag.to_owned()))
            }
            None => (name, None),
        };

        let (registry, repository) = match path.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), rest.to_owned())
            }
            _ if path.contains('/') => (DOCKER_HUB.to_owned(), path.to_owned()),
            _ => (DOCKER_HUB.to_owned(), format!("library/{path}")),
        };
        if registry.is_empty() || repository.is_empty() || path.is_empty() {
            return Err(ReferenceError::NoRepository {
                reference: refused(),
            });
        }
        if !repository.split('/').all(is_path_component) {
            return Err(ReferenceError::Repository {
                reference: refused(),
            });
        }

        let tag = match (&tag, &digest) {
            (None, None) => Some("latest".to_owned()),
            _ => tag,
        };
        Ok(Self {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// What the manifest endpoint is asked for: the digest when pinned,
    /// else the tag.
    #[must_use]
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The reference pinned to `digest`, as kwctl prints it after a push:
    /// `host/repo@sha256:...`.
    #[must_use]
    pub fn pinned(&self, digest: &str) -> String {
        format!("{}/{}@{digest}", self.registry, self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Whether `digest` is `sha256:` and 64 lowercase hex digits.
#[must_use]
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A tag as the distribution spec allows: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
fn is_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    first_ok
        && tag.len() <= 128
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A repository path component: lowercase alphanumerics joined by `.`,
/// `_`, `__` or runs of `-`.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    alnum(first)
        && alnum(last)
        && bytes
            .iter()
            .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        && !component.contains("..")
        && !component.contains("___")
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[rstest]
    #[case::scheme_and_port(
        "registry://127.0.0.1:5000/policies/spot-balancer:v0.1.0",
        "127.0.0.1:5000",
        "policies/spot-balancer",
        Some("v0.1.0"),
        None
    )]
    #[case::no_scheme("ghcr.io/org/policy:v1", "ghcr.io", "org/policy", Some("v1"), None)]
    #[case::latest_by_default(
        "localhost:5000/policy",
        "localhost:5000",
        "policy",
        Some("latest"),
        None
    )]
    #[case::localhost_without_port("localhost/policy", "localhost", "policy", Some("latest"), None)]
    #[case::docker_hub_library("busybox", "docker.io", "library/busybox", Some("latest"), None)]
    #[case::docker_hub_user("opensuse/leap:15.3", "docker.io", "opensuse/leap", Some("15.3"), None)]
    #[case::digest_only(
        "registry://ghcr.io/org/policy@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "ghcr.io",
        "org/policy",
        None,
        Some(DIGEST)
    )]
    #[case::tag_and_digest(
        "ghcr.io/org/policy:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "ghcr.io",
        "org/policy",
        Some("v1"),
        Some(DIGEST)
    )]
    fn references_parse(
        #[case] input: &str,
        #[case] registry: &str,
        #[case] repository: &str,
        #[case] tag: Option<&str>,
        #[case] digest: Option<&str>,
    ) {
        let reference = Reference::parse(input).expect("valid reference");
        assert_eq!(reference.registry, registry);
        assert_eq!(reference.repository, repository);
        assert_eq!(reference.tag.as_deref(), tag);
        assert_eq!(reference.digest.as_deref(), digest);
    }

    #[rstest]
    #[case::empty("registry://", "registry reference  names no repository")]
    #[case::registry_only("ghcr.io/", "registry reference ghcr.io/ names no repository")]
    #[case::empty_component(
        "ghcr.io/org//policy",
        "registry reference ghcr.io/org//policy is not valid: repository components are \
         lowercase letters, digits and . _ - separators"
    )]
    #[case::uppercase(
        "ghcr.io/Org/policy",
        "registry reference ghcr.io/Org/policy is not valid: repository components are lowercase \
         letters, digits and . _ - separators"
    )]
    #[case::empty_tag(
        "ghcr.io/org/policy:",
        "registry reference ghcr.io/org/policy: has an invalid tag: up to 128 letters, digits and \
         . _ -, not starting with . or -"
    )]
    #[case::short_digest(
        "ghcr.io/org/policy@sha256:0123",
        "registry reference ghcr.io/org/policy@sha256:0123 has an invalid digest: sha256: and 64 \
         hex digits"
    )]
    fn bad_references_are_refused_with_the_reason(#[case] input: &str, #[case] message: &str) {
        let error = Reference::parse(input).expect_err("invalid reference");
        assert_eq!(error.to_string(), message);
    }

    #[test]
    fn the_manifest_is_asked_for_by_digest_when_one_is_pinned() {
        let tagged = Reference::parse("ghcr.io/org/policy:v1").expect("valid");
        assert_eq!(tagged.manifest_reference(), "v1");
        let pinned = Reference::parse(&format!("ghcr.io/org/policy:v1@{DIGEST}")).expect("valid");
        assert_eq!(pinned.manifest_reference(), DIGEST);
        assert_eq!(
            tagged.pinned(DIGEST),
            format!("ghcr.io/org/policy@{DIGEST}")
        );
        assert_eq!(
            pinned.to_string(),
            format!("ghcr.io/org/policy:v1@{DIGEST}")
        );
    }
}
