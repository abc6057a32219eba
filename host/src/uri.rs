//! Where a policy module lives: a plain path or a `file://` URI.
//!
//! `kwctl run` accepts a local module either way; so does this host. Other
//! schemes are refused here with an error that names the scheme; `run`
//! pulls `registry://` references before it gets here (see
//! [`crate::registry`]), and `https://` downloads are not supported.

use std::path::PathBuf;

use thiserror::Error;
use url::Url;

/// Why a module location could not be turned into a local path.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum UriError {
    /// The `file://` URI does not parse.
    #[error("failed to parse module uri {uri}: {reason}")]
    Parse {
        /// The location as given.
        uri: String,
        /// What the URL parser reported.
        reason: String,
    },

    /// The URI names a scheme this host cannot read from.
    #[error(
        "unsupported scheme {scheme} in module uri {uri}: only paths and file:// name a local \
         module"
    )]
    UnsupportedScheme {
        /// The location as given.
        uri: String,
        /// The scheme it names.
        scheme: String,
    },

    /// The `file://` URI names a host or is not absolute.
    #[error("module uri {uri} does not name a local file")]
    NotLocal {
        /// The location as given.
        uri: String,
    },

    /// The location is empty.
    #[error("module uri is empty")]
    Empty,
}

/// Resolves a module location to a local path.
///
/// A location without `://` is a path, relative to the working directory
/// like any command-line path. A `file://` URI is decoded (percent escapes
/// included) to its absolute path.
///
/// # Errors
///
/// [`UriError`] when the location is empty, malformed, remote, or a
/// `file://` URI with a host part.
pub fn module_path(location: &str) -> Result<PathBuf, UriError> {
    if location.is_empty() {
        return Err(UriError::Empty);
    }

    // Only something that looks like `scheme://` is a URI; everything else,
    // including Windows-looking `c:\x`, is taken as a path.
    let Some((scheme, _)) = location.split_once("://") else {
        return Ok(PathBuf::from(location));
    };
    if scheme != "file" {
        return Err(UriError::UnsupportedScheme {
            uri: location.to_owned(),
            scheme: scheme.to_owned(),
        });
    }

    let url = Url::parse(location).map_err(|e| UriError::Parse {
        uri: location.to_owned(),
        reason: e.to_string(),
    })?;
    url.to_file_path().map_err(|()| UriError::NotLocal {
        uri: location.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::relative_path("policy.wasm", "policy.wasm")]
    #[case::absolute_path("/tmp/policy.wasm", "/tmp/policy.wasm")]
    #[case::file_uri("file:///tmp/policy.wasm", "/tmp/policy.wasm")]
    #[case::file_uri_escaped("file:///tmp/my%20policy.wasm", "/tmp/my policy.wasm")]
    fn resolves_local_locations(#[case] location: &str, #[case] expected: &str) {
        assert_eq!(module_path(location), Ok(PathBuf::from(expected)));
    }

    #[rstest]
    #[case::empty("", "module uri is empty")]
    #[case::registry(
        "registry://ghcr.io/x/policy:v1",
        "unsupported scheme registry in module uri registry://ghcr.io/x/policy:v1: \
         only paths and file:// name a local module"
    )]
    #[case::https(
        "https://example.com/p.wasm",
        "unsupported scheme https in module uri https://example.com/p.wasm: \
         only paths and file:// name a local module"
    )]
    #[case::remote_file(
        "file://server/share/p.wasm",
        "module uri file://server/share/p.wasm does not name a local file"
    )]
    fn refuses_other_locations(#[case] location: &str, #[case] message: &str) {
        let error = module_path(location).unwrap_err();
        assert_eq!(error.to_string(), message);
    }
}
